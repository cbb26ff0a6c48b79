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
A native MCAP reader for replay: an MCAP file's Chunk records straight into message arrays.

    refs = chunk_refs(f)            # [ChunkRef] from the summary's Chunk Index records, or a
                                    # linear scan of the data section; None: messages outside
                                    # chunks (not for this reader)
    for part in read_messages(files, slot_inputs, start_ns, stop_ns, max_bytes):
        part.data, part.offsets, part.input, part.log_ns, part.sizes   # as `source.Chunk`

It owns the MCAP format (https://mcap.dev/spec: magic, records of opcode u8 + length u64;
Chunk 0x06, Message 0x05, Chunk Index 0x08, Footer 0x02, Data End 0x0F) and nothing of ours:
which channels are wanted and by which inputs comes from `source.Bag.chunks`, which opened the
bag through rosbags (the channels, their topics and types) and wraps each part into a
`source.Chunk`. Per Chunk record, Python reads its bytes and decompresses them ('' / 'zstd' /
'lz4', with the modules rosbags itself uses), then one compiled call (`_scan`) finds the wanted
channels' Message records logged in [start, stop) and one (`_fill`) copies them, each once per
input reading its channel, 8-aligned, into the output arrays: no Python object per message.

Messages come as rosbags' MCAP reader yields them: in log-time order, ties in the order of the
chunks' file offsets, then of the records within a chunk. Chunks may overlap in time: they are
read in order of their start times, and a message is handed on only once no unread chunk can
hold an earlier one (its log time is before the next chunk's start); the messages still held
are compacted before the next chunk joins them, so memory stays near one chunk plus the overlap.
Split bags are read file after file, as rosbags reads them. Malformed input raises `McapError`
with one line; the caller adds the path.
"""

from dataclasses import dataclass
import struct
import sys
import zlib

from numba import njit
import numpy as np

MAGIC = b'\x89MCAP0\r\n'
OP_FOOTER, OP_MESSAGE, OP_CHUNK, OP_CHUNK_INDEX, OP_DATA_END = 0x02, 0x05, 0x06, 0x08, 0x0F
_FOOTER_LEN = 9 + 20 + len(MAGIC)
# Message record: channel_id u16, sequence u32, log_time u64, publish_time u64, then the data.
_MESSAGE_HEAD = 22
ALIGN = 8                            # as source.ALIGN: each message starts 8-aligned
_u32 = struct.Struct('<I')
_u64 = struct.Struct('<Q')
_CHUNK_HEAD = struct.Struct('<QQQI')  # start, end, uncompressed size, uncompressed crc


class McapError(Exception):
    """A malformed or unsupported MCAP file (one line, without the path)."""


@dataclass(frozen=True)
class ChunkRef:
    """Where one Chunk record is, and what the index says of it."""

    start_ns: int
    end_ns: int
    offset: int             # of the record's opcode in the file
    length: int             # of the whole record (opcode and length field included)
    channels: frozenset = None  # channel ids with messages in it (None: not known)


@dataclass
class Part:
    """Messages back to back, as `source.Chunk` holds them."""

    data: np.ndarray
    offsets: np.ndarray
    input: np.ndarray  # noqa: A003 - source.Chunk's name
    log_ns: np.ndarray
    sizes: np.ndarray


def _decompressor(name):
    if name == '':
        return None
    if name == 'zstd':
        if sys.version_info >= (3, 14):
            from compression import zstd
        else:
            from backports import zstd
        return zstd.decompress
    if name == 'lz4':
        from lz4.frame import decompress
        return decompress
    raise McapError(f'unsupported chunk compression {name!r}')


# ----- the file's layout -------------------------------------------------------------------------

def _read(f, offset, size, what):
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise McapError(f'truncated {what} at offset {offset}')
    return data


def chunk_refs(f):
    """
    Return the file's chunks (`ChunkRef`, file order), or None when messages lie outside chunks.

    The Chunk Index records of the summary give them; a file without a summary, or whose summary
    indexes no chunk, is scanned record by record (chunk headers only, their bytes skipped).
    """
    f.seek(0, 2)
    size = f.tell()
    head = _read(f, 0, len(MAGIC) + 9, 'header')
    if head[:len(MAGIC)] != MAGIC or head[len(MAGIC)] != 0x01:
        raise McapError('not an MCAP file (no magic and header at its start)')
    data_start = len(MAGIC) + 9 + _u64.unpack_from(head, len(MAGIC) + 1)[0]
    footer_at = size - _FOOTER_LEN
    if footer_at < data_start:
        raise McapError('truncated file (no footer)')
    footer = _read(f, footer_at, _FOOTER_LEN, 'footer')
    if footer[0] != OP_FOOTER or footer[-len(MAGIC):] != MAGIC:
        raise McapError('truncated file (no footer and end magic)')
    summary_start = _u64.unpack_from(footer, 9)[0]
    if summary_start:
        if not data_start <= summary_start <= footer_at:
            raise McapError(f'summary offset {summary_start} outside the file')
        refs = _indexed(_read(f, summary_start, footer_at - summary_start, 'summary'))
        if refs:
            return refs
    return _scanned(f, data_start, footer_at)


def _indexed(summary):
    """Return the Chunk Index records of a summary section's bytes as `ChunkRef`s."""
    refs, at = [], 0
    try:
        while at + 9 <= len(summary):
            op, length = summary[at], _u64.unpack_from(summary, at + 1)[0]
            body = at + 9
            if body + length > len(summary):
                raise McapError(f'summary record at {at} runs past the summary')
            if op == OP_CHUNK_INDEX:
                start, end, offset, chunk_len = struct.unpack_from('<QQQQ', summary, body)
                n = _u32.unpack_from(summary, body + 32)[0]
                ids = frozenset(cid for cid, _ in struct.iter_unpack(
                    '<HQ', summary[body + 36:body + 36 + n]))
                refs.append(ChunkRef(start, end, offset, chunk_len, ids or None))
            at = body + length
    except struct.error:
        raise McapError('malformed chunk index in the summary') from None
    return refs


def _scanned(f, at, end):
    """Return the chunks found walking the data section (None: a Message outside chunks)."""
    refs = []
    while at + 9 <= end:
        f.seek(at)
        head = f.read(9 + _CHUNK_HEAD.size)
        if len(head) < 9:
            raise McapError(f'truncated record at offset {at}')
        op, length = head[0], _u64.unpack_from(head, 1)[0]
        if op in (OP_DATA_END, OP_FOOTER):
            break
        if op == OP_MESSAGE:
            return None
        if op == OP_CHUNK:
            if len(head) < 9 + _CHUNK_HEAD.size:
                raise McapError(f'truncated chunk at offset {at}')
            start, stop, _, _ = _CHUNK_HEAD.unpack_from(head, 9)
            refs.append(ChunkRef(start, stop, at, 9 + length))
        at += 9 + length
    return refs


def chunk_records(f, ref):
    """Return the chunk's records, decompressed and checked (uint8 array)."""
    raw = _read(f, ref.offset, ref.length, f'chunk at offset {ref.offset}')
    if raw[0] != OP_CHUNK or 9 + _u64.unpack_from(raw, 1)[0] != ref.length:
        raise McapError(f'no chunk record at offset {ref.offset} (the index says one is there)')
    try:
        _, _, usize, crc = _CHUNK_HEAD.unpack_from(raw, 9)
        at = 9 + _CHUNK_HEAD.size
        n = _u32.unpack_from(raw, at)[0]
        compression = raw[at + 4:at + 4 + n].decode()
        at += 4 + n
        csize = _u64.unpack_from(raw, at)[0]
        at += 8
    except (struct.error, UnicodeDecodeError):
        raise McapError(f'malformed chunk header at offset {ref.offset}') from None
    if at + csize > len(raw):
        raise McapError(f'chunk at offset {ref.offset}: its records run past the record')
    decompress = _decompressor(compression)
    if decompress is None:
        records = memoryview(raw)[at:at + csize]
    else:
        try:
            records = decompress(memoryview(raw)[at:at + csize])
        except Exception as exc:  # noqa: B902 - zstd and lz4 raise their own kinds
            raise McapError(f'chunk at offset {ref.offset}: cannot decompress ({compression}: '
                            f'{str(exc).splitlines()[0] if str(exc) else type(exc).__name__})'
                            ) from None
    if len(records) != usize:
        raise McapError(f'chunk at offset {ref.offset}: {len(records)} bytes of records, '
                        f'the header says {usize}')
    if crc and zlib.crc32(records) != crc:
        raise McapError(f'chunk at offset {ref.offset}: checksum mismatch')
    return np.frombuffer(records, np.uint8)


# ----- compiled: records to messages -------------------------------------------------------------

@njit(cache=True)
def _u64_at(buf, at):
    value = np.uint64(0)
    for k in range(8):
        value |= np.uint64(buf[at + k]) << np.uint64(8 * k)
    return value


@njit(cache=True)
def _scan(buf, slot_of, start, stop, off, size, time, slot):
    """
    Find the wanted Message records of one chunk's records: return (count, sorted) or (-1, at).

    `slot_of[channel id]` is the channel's slot (-1: not wanted); a message is taken when its
    log time is in [start, stop). Per message found: its data's offset in `buf`, its size, its
    log time, its slot (arrays sized for the most records the chunk can hold). `sorted` is 1
    when the found messages' log times never decrease. (-1, at): the record at `at` runs past
    the chunk's end.
    """
    n, at, end = 0, 0, buf.size
    ordered, last = 1, np.int64(-(2**62))
    while at < end:
        if at + 9 > end:
            return -1, at
        length = _u64_at(buf, at + 1)
        if length > np.uint64(end - at - 9):
            return -1, at
        body = at + 9
        if buf[at] == OP_MESSAGE:
            if length < np.uint64(_MESSAGE_HEAD):
                return -1, at
            channel = np.int64(buf[body]) | (np.int64(buf[body + 1]) << 8)
            t = np.int64(_u64_at(buf, body + 6))
            s = slot_of[channel]
            if s >= 0 and start <= t < stop:
                off[n] = body + _MESSAGE_HEAD
                size[n] = np.int64(length) - _MESSAGE_HEAD
                time[n] = t
                slot[n] = s
                if t < last:
                    ordered = 0
                last = t
                n += 1
        at = body + np.int64(length)
    return n, ordered


@njit(cache=True)
def _fill(buf, off, size, time, slot, order, k, first, inputs, data, filled, m,
          out_off, out_size, out_input, out_time, max_bytes):
    """
    Copy messages `order[k:]` into the output arrays, each once per input of its slot.

    Inputs of slot s: `inputs[first[s]:first[s + 1]]`. Return (k, filled, m, why): why 0 when
    all are copied, 1 when the output has no room for the next message (grow it and call
    again), 2 when `filled` reached `max_bytes` after a message (hand the output on).
    """
    n = order.size
    while k < n:
        j = order[k]
        s, length = slot[j], size[j]
        padded = length + (ALIGN - length % ALIGN) % ALIGN
        count = first[s + 1] - first[s]
        if filled + padded * count > data.size or m + count > out_size.size:
            return k, filled, m, 1
        src = off[j]
        for q in range(first[s], first[s + 1]):
            for b in range(length):
                data[filled + b] = buf[src + b]
            for b in range(length, padded):
                data[filled + b] = 0
            out_off[m] = filled
            out_size[m] = length
            out_input[m] = inputs[q]
            out_time[m] = time[j]
            filled += padded
            m += 1
        k += 1
        if filled >= max_bytes:
            return k, filled, m, 2
    return k, filled, m, 0


@njit(cache=True)
def _compact(buf, off, size, out):
    """Copy messages (`off`, `size` in `buf`) back to back into `out`; rewrite `off`."""
    at = 0
    for j in range(off.size):
        src, length = off[j], size[j]
        for b in range(length):
            out[at + b] = buf[src + b]
        off[j] = at
        at += length
    return at


# ----- merging chunks into parts -----------------------------------------------------------------

class _Held:
    """Messages found but not handed on yet: their bytes (`buf`) and per message arrays."""

    def __init__(self):
        self.buf = np.empty(0, np.uint8)
        empty = np.empty(0, np.int64)
        self.off = self.size = self.time = self.slot = self.rank = self.pos = empty
        self.ordered = True     # one chunk's messages in log-time order, nothing else held

    def add(self, buf, found, rank, ordered):
        """Hold a chunk's messages (`found`: off, size, time, slot); `rank`: its file offset."""
        off, size, time, slot = found
        n = off.size
        if not self.off.size:
            self.buf, self.ordered = buf, ordered
            self.off, self.size, self.time, self.slot = off, size, time, slot
            self.rank, self.pos = np.full(n, rank, np.int64), np.arange(n, dtype=np.int64)
            return
        # Messages still held: copied back to back before the chunk's bytes (the rest is freed).
        kept = np.empty(int(self.size.sum()) + buf.size, np.uint8)
        at = _compact(self.buf, self.off, self.size, kept)
        kept[at:] = buf
        self.buf, self.ordered = kept, False
        self.off = np.concatenate([self.off, off + at])
        self.size = np.concatenate([self.size, size])
        self.time = np.concatenate([self.time, time])
        self.slot = np.concatenate([self.slot, slot])
        self.rank = np.concatenate([self.rank, np.full(n, rank, np.int64)])
        self.pos = np.concatenate([self.pos, np.arange(n, dtype=np.int64)])

    def take(self, before=None):
        """Return (buf, off, size, time, slot, order) of the messages logged before `before`."""
        arrays = (self.buf, self.off, self.size, self.time, self.slot)
        if before is None or not self.time.size or self.time.max() < before:
            if self.ordered:
                order = np.arange(self.off.size, dtype=np.int64)
            else:
                order = np.lexsort((self.pos, self.rank, self.time))
            self.__init__()
            return (*arrays, order)
        early = self.time < before
        picked = np.flatnonzero(early)
        order = picked[np.lexsort((self.pos[picked], self.rank[picked], self.time[picked]))]
        late = ~early
        self.off, self.size, self.time = self.off[late], self.size[late], self.time[late]
        self.slot, self.rank, self.pos = self.slot[late], self.rank[late], self.pos[late]
        self.ordered = False
        return (*arrays, order)


class _Out:
    """The part being filled: bytes and per message arrays, handed on at `max_bytes`."""

    def __init__(self, slot_inputs, max_bytes):
        counts = [len(inputs) for inputs in slot_inputs]
        self.first = np.zeros(len(counts) + 1, np.int64)
        self.first[1:] = np.cumsum(counts)
        self.inputs = np.array([i for inputs in slot_inputs for i in inputs] or [0], np.int64)
        self.max_bytes = max(int(max_bytes), 1)
        self.capacity = 1024
        self._new()

    def _new(self):
        self.data = np.empty(self.max_bytes + (64 << 10), np.uint8)
        self.off = np.empty(self.capacity + 1, np.int64)
        self.size = np.empty(self.capacity, np.int64)
        self.input = np.empty(self.capacity, np.int64)
        self.time = np.empty(self.capacity, np.int64)
        self.filled = self.m = 0

    def _grow(self, size, order, k):
        """Make room for message `order[k]` (once per input at most)."""
        copies = len(self.inputs)
        if self.m + copies > self.size.size:
            self.capacity = 2 * self.size.size + copies
            self.off = _grown(self.off, self.capacity + 1)
            self.size, self.input, self.time = (
                _grown(a, self.capacity) for a in (self.size, self.input, self.time))
        else:
            self.data = _grown(self.data, 2 * self.data.size + (int(size[order[k]]) + 8) * copies)

    def put(self, buf, off, size, time, slot, order):
        """Copy the messages `order` into parts; yield each part that reached `max_bytes`."""
        k = 0
        while k < order.size:
            k, self.filled, self.m, why = _fill(
                buf, off, size, time, slot, order, k, self.first, self.inputs, self.data,
                self.filled, self.m, self.off, self.size, self.input, self.time, self.max_bytes)
            if why == 1:
                self._grow(size, order, k)
            elif why == 2:
                yield self.part()

    def part(self):
        """Hand on what is filled (a `Part`) and start a new one."""
        m = self.m
        self.off[m] = self.filled
        part = Part(data=self.data[:self.filled], offsets=self.off[:m + 1],
                    input=self.input[:m], log_ns=self.time[:m], sizes=self.size[:m])
        self.capacity = max(self.capacity, m)
        self._new()
        return part


def _grown(array, size):
    bigger = np.empty(size, array.dtype)
    bigger[:array.size] = array
    return bigger


def read_messages(files, slot_inputs, start_ns, stop_ns, max_bytes):
    """
    Yield `Part`s of the wanted messages logged in [start_ns, stop_ns), file after file.

    `files`: (open binary file, its `chunk_refs`, slot_of: int64[65536], channel id -> slot or
    -1); `slot_inputs[s]`: the inputs reading slot s, each getting its own copy.
    """
    out = _Out(slot_inputs, max_bytes)
    for f, refs, slot_of in files:
        wanted = frozenset(np.flatnonzero(slot_of >= 0).tolist())
        refs = sorted((r for r in refs if r.end_ns >= start_ns and r.start_ns < stop_ns
                       and (r.channels is None or r.channels & wanted)),
                      key=lambda r: (r.start_ns, r.offset))
        held = _Held()
        for k, ref in enumerate(refs):
            buf = chunk_records(f, ref)
            most = buf.size // (9 + _MESSAGE_HEAD) + 1
            found = [np.empty(most, np.int64) for _ in range(4)]
            n, ordered = _scan(buf, slot_of, start_ns, stop_ns, *found)
            if n < 0:
                raise McapError(f'chunk at offset {ref.offset}: the record at {ordered} of its '
                                f'records runs past their end')
            held.add(buf, [a[:n] for a in found], ref.offset, bool(ordered))
            before = refs[k + 1].start_ns if k + 1 < len(refs) else None
            yield from out.put(*held.take(before))
    if out.m:
        yield out.part()
