# Copyright 2026 The arena_eval Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
The reading side of replay: any bag a ROS user has, as raw CDR in chunks.

    bag = open_bag('run_humble/')              # ReplayError('<path>: <one line>') when it cannot
    conns = bag.select(config, remap)          # one Selection per config input, config order
    for chunk in bag.chunks(conns, start_ns, end_ns):
        chunk.data, chunk.offsets, chunk.input, chunk.log_ns

What opens (through rosbags' readers): ROS 1 `.bag` files; rosbag2 folders (`metadata.yaml`
beside the storage files) with sqlite3 or MCAP storage, metadata versions 1 to 9 (Foxy/Humble
on), split into several files, zstd-compressed per file or per message; a single `.db3` or
`.mcap` file. Bags that store no message definitions (everything rosbag2 wrote before Iron) get
them from the installed message packages (the `.msg` files under the environment's `share/`),
then from rosbags' Humble type store; a topic whose type is in neither is listed in
`bag.notes` and skipped (a params file using it fails when it is loaded, with its own line).

A ROS 1 message is converted to the CDR of the ROS 2 type of the same name (`_ros1_converter`),
so the tick only ever sees ROS 2 CDR. Chunks are filled from the storage's bytes: no Python
message object is built per message. MCAP storage (rosbag2 folders of `.mcap` files, split or
zstd-compressed per file, and single `.mcap` files) is read by `replay.mcap`, chunk by chunk in
compiled code, to the same chunks rosbags' reader gives; bags compressed per message, and MCAP
files with messages outside chunks, are read through rosbags (a Python step per message).
"""

from dataclasses import dataclass
import difflib
import functools
from pathlib import Path
import sys

import numpy as np


# Suffixes of the files a bag can be: a ROS 1 bag, or one rosbag2 storage file.
BAG_FILE_SUFFIXES = ('.bag', '.db3', '.mcap')
WHAT_A_BAG_IS = ('a bag is a ROS 1 .bag file, a rosbag2 folder (metadata.yaml beside its '
                 '.db3 or .mcap files), or a single .db3 or .mcap file')
# Alignment of each message in a chunk: the CDR walk aligns relative to the message's start.
ALIGN = 8
_PAD = bytes(ALIGN)


class ReplayError(Exception):
    """A user error (bag, topic, type, time range): printed as one `error:` line."""


@dataclass
class Selection:
    """One config input's connections in the bag (its topic, of its type)."""

    name: str               # the input's name
    topic: str
    type_name: str          # normalized: pkg/msg/Name
    connections: tuple      # rosbags connections
    other: str = ''         # other types on the topic ('' when none): never read
    messages: int = 0       # messages of the type on the topic in the whole bag


@dataclass
class Chunk:
    """Messages back to back: message k is `data[offsets[k]:offsets[k + 1]]` (ROS 2 CDR)."""

    data: np.ndarray        # uint8, each message starting ALIGN-aligned
    offsets: np.ndarray     # int64[n + 1] (the padding belongs to the message before it)
    # int64[n]: index into the selections (config.inputs order); the seam's name
    input: np.ndarray  # noqa: A003
    log_ns: np.ndarray      # int64[n]: log time, non-decreasing within and across chunks
    sizes: np.ndarray = None  # int64[n]: each message's own length (without the padding)

    def message(self, k):
        """Return message k's bytes (a view, without padding)."""
        start = self.offsets[k]
        return self.data[start:start + self.sizes[k]]


def topic_name(topic):
    """Resolve `topic` as a node named `arena_eval` in the namespace `/` would."""
    if topic.startswith('~/'):
        return '/arena_eval/' + topic[2:]
    return topic if topic.startswith('/') else '/' + topic


def normalize_type(name):
    """`pkg/Name` (ROS 1) or `pkg/msg/Name` -> `pkg/msg/Name`."""
    parts = name.split('/')
    return f'{parts[0]}/msg/{parts[-1]}' if len(parts) == 2 else name


# ----- opening -----------------------------------------------------------------------------------

def is_bag(path):
    """Whether `path` is a bag itself (not a folder of bags)."""
    path = Path(path)
    if path.is_dir():
        return (path / 'metadata.yaml').is_file()
    return path.suffix.lower() in BAG_FILE_SUFFIXES


def _explain_missing(path):
    if not path.exists():
        return 'no such bag (file or folder)'
    if path.is_dir():
        return f'not a bag (no metadata.yaml in this folder; {WHAT_A_BAG_IS})'
    return f'not a bag ({WHAT_A_BAG_IS})'


def open_bag(path):
    """Open the bag at `path`; raise `ReplayError('<path>: <one line>')` when it cannot."""
    path = Path(path)
    if not path.exists() or (path.is_dir() and not (path / 'metadata.yaml').is_file()):
        raise ReplayError(f'{path}: {_explain_missing(path)}')
    try:
        reader = _open_reader(path)
    except ReplayError:
        raise
    except Exception as exc:  # noqa: B902 - rosbags raises many kinds for an unreadable bag
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReplayError(f'{path}: cannot read this bag: {detail}') from None
    return Bag(path, reader)


def _open_reader(path):
    from rosbags.highlevel import AnyReader
    from rosbags.highlevel.anyreader import AnyReaderError

    try:
        reader = AnyReader([path])
        reader.open()
        return reader
    except AnyReaderError as exc:
        if 'no type definitions' not in str(exc):
            raise
    # rosbag2 before Iron stores no definitions: the installed packages' give the types.
    reader = AnyReader([path], default_typestore=_definitions_for(path))
    reader.open()
    return reader


def _definitions_for(path):
    """Return a typestore of every type the bag names: installed ones, then Humble's store."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import get_typestore, Stores

    humble = get_typestore(Stores.ROS2_HUMBLE)
    # The topics' types, read from the bag's metadata alone (the first open failed after it).
    probe = AnyReader([path], default_typestore=humble)
    probe.open()
    wanted = {normalize_type(c.msgtype) for c in probe.connections}
    probe.close()
    types = dict(humble.fielddefs)
    for name in sorted(wanted):
        types.update(installed_definitions(name))
    store = get_typestore(Stores.EMPTY)
    store.register(types)
    return store


def _share_dirs():
    """Folders holding installed ROS packages' `share/<pkg>/msg/*.msg` (the environment first)."""
    import os
    dirs = [Path(sys.prefix) / 'share']
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep):
        if prefix:
            dirs.append(Path(prefix) / 'share')
    return [d for d in dirs if d.is_dir()]


@functools.cache
def installed_definitions(type_name):
    """Return rosbags field definitions of `type_name` and the types it uses, from `.msg` files."""
    from rosbags.typesys import get_types_from_msg

    found, todo = {}, [normalize_type(type_name)]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        pkg, _, leaf = name.split('/')
        text = next((p.read_text() for d in _share_dirs()
                     if (p := d / pkg / 'msg' / f'{leaf}.msg').is_file()), None)
        if text is None:
            continue
        types = get_types_from_msg(text, name)
        found.update(types)
        for _, desc in types[name][1]:
            leaf_type = _leaf_name(desc)
            if isinstance(leaf_type, tuple):
                leaf_type = leaf_type[0]
            if isinstance(leaf_type, str) and '/' in leaf_type:
                todo.append(leaf_type)
    return found


def _leaf_name(desc):
    """Return the type a rosbags field description names: a base type tuple or a message name."""
    kind, rest = desc
    if kind.name in ('SEQUENCE', 'ARRAY'):
        return (_leaf_name(rest[0]), rest[1])
    return rest


# ----- the bag -----------------------------------------------------------------------------------

class Bag:
    """An open bag: its time span, its topics, and its messages as raw CDR chunks."""

    def __init__(self, path, reader):
        self.path = Path(path)
        self.reader = reader                     # rosbags' AnyReader, open
        self.message_count = int(reader.message_count)
        self.start_ns = int(reader.start_time) if self.message_count else 0
        # rosbags' end_time is one past the newest message; the span is the messages' own.
        self.end_ns = int(reader.end_time) - 1 if self.message_count else 0
        self.is2 = getattr(reader, 'is2', True)
        self.connections = list(reader.connections)
        self.notes = self._unknown_types()
        self._convert = None

    def _unknown_types(self):
        """Lines naming the topics whose type no definition covers (they are never read)."""
        known = self.reader.typestore.fielddefs
        return [f"{self.path}: topic '{c.topic}' skipped: its type {c.msgtype} is not installed"
                for c in self.connections if normalize_type(c.msgtype) not in known
                and c.msgtype not in known]

    def close(self):
        self.reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()
        return False

    def topics_hint(self, topic):
        topics = sorted({c.topic for c in self.connections})
        close = difflib.get_close_matches(topic, topics, n=1)
        listing = ', '.join(topics) or 'none'
        return (f"did you mean '{close[0]}'? " if close else '') + f'the bag has: {listing}'

    def select(self, config, remap=None):
        """
        Return one `Selection` per config input (config order): its topic's conns of its type.

        Raise `ReplayError` for an unknown `--remap` input, a topic the bag lacks, or one with no
        connection of the input's type. Other types on the topic are never read, as a node's
        subscription of one type never receives another's.
        """
        remap = dict(remap or {})
        unknown = [name for name in remap if name not in config.inputs]
        if unknown:
            close = difflib.get_close_matches(unknown[0], list(config.inputs), n=1)
            hint = (f"did you mean '{close[0]}'?" if close
                    else 'inputs: ' + ', '.join(config.inputs))
            raise ReplayError(f'--remap {unknown[0]}: no such input ({hint})')
        selected = []
        for name, cfg in config.inputs.items():
            topic = topic_name(remap.get(name, cfg.topic))
            conns = [c for c in self.connections if c.topic == topic]
            if not conns:
                raise ReplayError(f"input '{name}': the bag has no topic '{topic}' "
                                  f'({self.topics_hint(topic)})')
            wanted = normalize_type(cfg.type_name)
            matching = [c for c in conns if normalize_type(c.msgtype) == wanted]
            others = sorted({normalize_type(c.msgtype) for c in conns} - {wanted})
            if not matching:
                raise ReplayError(f"input '{name}': topic '{topic}' has type "
                                  f"{', '.join(others)} in the bag, the params file says {wanted}")
            selected.append(Selection(name, topic, wanted, tuple(matching), ', '.join(others),
                                      sum(c.msgcount for c in matching)))
        return selected

    def converter(self):
        """`convert(raw, msgtype) -> CDR` for a ROS 1 bag (built once), None for rosbag2."""
        if self._convert is None and not self.is2:
            self._convert = _ros1_converter(self.reader)
        return self._convert

    def chunks(self, conns, start_ns=None, end_ns=None, max_bytes=8 << 20):
        """
        Yield `Chunk`s of the selections' messages logged in [start_ns, end_ns] (None: open).

        A connection selected by several inputs yields its message once per input. A chunk is
        handed on once its bytes reach `max_bytes`. MCAP storage is read natively
        (`replay.mcap`), everything else through rosbags; both give the same chunks.
        """
        by_conn = {}
        for i, sel in enumerate(conns):
            for conn in sel.connections:
                by_conn.setdefault(id(conn), []).append(i)
        wanted = [c for sel in conns for c in sel.connections]
        wanted = list({id(c): c for c in wanted}.values())
        if not wanted:
            return
        try:
            files = self._mcap_files(wanted)
            if files is None:
                parts = self._rosbags_chunks(wanted, by_conn, start_ns, end_ns, max_bytes)
            else:
                parts = self._mcap_chunks(files, wanted, by_conn, start_ns, end_ns, max_bytes)
            yield from parts
        except ReplayError:
            raise
        except Exception as exc:  # noqa: B902 - a storage that breaks while being read
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ReplayError(f'{self.path}: cannot read this bag: {detail}') from None

    def _rosbags_chunks(self, wanted, by_conn, start_ns, end_ns, max_bytes):
        convert = self.converter()
        stop = None if end_ns is None else end_ns + 1
        parts, inputs, times, sizes = [], [], [], []
        filled = 0
        for conn, t, raw in self.reader.messages(connections=wanted, start=start_ns, stop=stop):
            if convert is not None:
                raw = convert(raw, normalize_type(conn.msgtype))
            n = len(raw)
            pad = -n % ALIGN
            for i in by_conn[id(conn)]:
                parts.append(raw)
                if pad:
                    parts.append(_PAD[:pad])
                inputs.append(i)
                times.append(t)
                sizes.append(n)
                filled += n + pad
            if filled >= max_bytes:
                yield _chunk(parts, inputs, times, sizes)
                parts, inputs, times, sizes = [], [], [], []
                filled = 0
        if inputs:
            yield _chunk(parts, inputs, times, sizes)

    def _mcap_files(self, wanted):
        """
        Return [(path, {channel id: wanted index})] per MCAP storage file, or None (rosbags).

        None for anything but one rosbag2 bag of MCAP files whose messages are not compressed
        one by one. A folder's connections are matched to each file's channels as rosbags'
        `DirectoryReader.messages` matches them (topic, type, serialization, digest).
        """
        from rosbags.rosbag2.storage_mcap import McapReader

        readers = getattr(self.reader, 'readers', ())
        if not self.is2 or len(readers) != 1:
            return None
        storage = getattr(readers[0], 'storage', None)
        if isinstance(storage, McapReader):
            index = {id(c): k for k, c in enumerate(wanted)}
            return [(storage.path, {c.id: index[id(c)] for c in storage.connections
                                    if id(c) in index})]
        storages = getattr(storage, 'storages', None)
        if (not storages or not all(isinstance(s, McapReader) for s in storages)
                or storage.metadata.compression_mode == 'message'):
            return None
        files = []
        for part in storages:
            channels = {}
            for x in part.connections:
                k = next((k for k, y in enumerate(wanted)
                          if y.topic == x.topic and y.msgtype == x.msgtype and y.ext == x.ext
                          and (not x.digest or not y.digest or y.digest == x.digest)), None)
                if k is not None:
                    channels[x.id] = k
            files.append((part.path, channels))
        return files

    def _mcap_chunks(self, files, wanted, by_conn, start_ns, end_ns, max_bytes):
        from contextlib import ExitStack

        from . import mcap

        slot_inputs = [by_conn[id(c)] for c in wanted]
        start = -(2**63) if start_ns is None else int(start_ns)
        stop = 2**63 - 1 if end_ns is None else int(end_ns) + 1
        with ExitStack() as stack:
            opened = []
            for path, channels in files:
                f = stack.enter_context(open(path, 'rb'))
                refs = mcap.chunk_refs(f)
                if refs is None:  # messages outside chunks: rosbags reads those
                    yield from self._rosbags_chunks(wanted, by_conn, start_ns, end_ns,
                                                    max_bytes)
                    return
                slot_of = np.full(1 << 16, -1, np.int64)
                for channel, slot in channels.items():
                    slot_of[channel] = slot
                opened.append((f, refs, slot_of))
            for part in mcap.read_messages(opened, slot_inputs, start, stop, max_bytes):
                yield Chunk(data=part.data, offsets=part.offsets, input=part.input,
                            log_ns=part.log_ns, sizes=part.sizes)


def _chunk(parts, inputs, times, sizes):
    data = np.frombuffer(bytearray(b''.join(parts)), np.uint8)
    sizes = np.array(sizes, np.int64)
    padded = sizes + (-sizes % ALIGN)
    offsets = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(padded, out=offsets[1:])
    return Chunk(data=data, offsets=offsets, input=np.array(inputs, np.int64),
                 log_ns=np.array(times, np.int64), sizes=sizes)


# ----- ROS 1 -------------------------------------------------------------------------------------

def _same_definition(source, destination, typename, seen=None):
    """Whether `typename` has the same fields in both typestores (ROS 1's Header.seq aside)."""
    seen = set() if seen is None else seen
    if typename in seen or typename == 'std_msgs/msg/Header':
        return True
    seen.add(typename)
    if typename not in source.fielddefs or typename not in destination.fielddefs:
        return False
    ours, theirs = source.fielddefs[typename][1], destination.fielddefs[typename][1]
    if [(n, t[0], _leaf_name(t)) for n, t in ours] != [
            (n, t[0], _leaf_name(t)) for n, t in theirs]:
        return False
    return all(_same_definition(source, destination, _leaf_name(t), seen)
               for _, t in ours if isinstance(_leaf_name(t), str) and '/' in _leaf_name(t))


def _ros1_converter(reader):
    """
    Return `convert(raw, msgtype) -> CDR bytes` for ROS 1 bytes, or None for rosbag2.

    rosbags' `migrate_bytes` builds a ROS 2 message field by field (about 150 us per Imu here).
    When a type's ROS 1 and ROS 2 definitions have the same fields (ROS 1's `Header.seq` aside,
    which rosbags' ROS 1 code skips), its byte-to-byte `ros1_to_cdr` with the ROS 2 definition
    does the same in a sixth of the time; it is used for a type only after giving the same bytes
    as `migrate_bytes` on that type's first message. `reader` is a `Bag` or an AnyReader.
    """
    reader = getattr(reader, 'reader', reader)
    if getattr(reader, 'is2', True):
        return None
    from rosbags.convert.converter import migrate_bytes
    from rosbags.typesys import get_typestore, Stores

    source, destination = reader.typestore, get_typestore(Stores.ROS2_KILTED)
    cache, direct = {}, {}

    def convert(raw, msgtype):
        if direct.get(msgtype):
            return destination.ros1_to_cdr(raw, msgtype)
        cdr = migrate_bytes(source, destination, msgtype, msgtype, cache, raw,
                            src_is2=False, dst_is2=True)
        if msgtype not in direct:
            direct[msgtype] = False
            if _same_definition(source, destination, msgtype):
                try:
                    direct[msgtype] = bytes(destination.ros1_to_cdr(raw, msgtype)) == bytes(cdr)
                except Exception:  # noqa: B902 - rosbags cannot convert it byte to byte
                    pass
        return cdr
    convert.destination = destination
    convert.direct = direct
    return convert


# ----- many bags ---------------------------------------------------------------------------------

def find_bags(paths):
    """
    Expand command-line paths into bags: a bag as it is, a folder searched recursively, a `.txt`.

    A `.txt` file lists bags (or folders), one a line, relative to the file's folder; `#`
    starts a comment. Raise `ReplayError` for a path that is none of these or holds no bag.
    """
    found = []
    for given in paths:
        path = Path(given)
        if path.suffix.lower() == '.txt' and path.is_file():
            lines = [line.split('#', 1)[0].strip() for line in path.read_text().splitlines()]
            listed = [str(path.parent / line) if not Path(line).is_absolute() else line
                      for line in lines if line]
            if not listed:
                raise ReplayError(f'{path}: lists no bags')
            found.extend(find_bags(listed))
        elif is_bag(path) or not path.exists():
            found.append(path)
        elif path.is_dir():
            under = sorted(_bags_under(path))
            if not under:
                raise ReplayError(f'{path}: {_explain_missing(path)}; no bags under it either')
            found.extend(under)
        else:
            raise ReplayError(f'{path}: {_explain_missing(path)}')
    unique = list(dict.fromkeys(Path(p) for p in found))
    return unique


def _bags_under(folder):
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            if (entry / 'metadata.yaml').is_file():
                yield entry
            else:
                yield from _bags_under(entry)
        elif entry.suffix.lower() in BAG_FILE_SUFFIXES:
            yield entry
