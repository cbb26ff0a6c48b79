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
Offline replay: a node configuration over a recorded bag, tick by tick, as the node would run it.

Owns the part of replay that knows bags, message types and CDR; the front end (CSV, bag, plot,
progress, summary) is `arena_eval.tools.replay`.

    replay = Replay(config, 'run.mcap', rate_hz=1000.0)
    result = replay.run()          # result.outputs: one row per tick, one column per output

Bags are read by `replay.source` (every bag a ROS user has, as raw ROS 2 CDR in chunks; ROS 1
messages converted there). Every message is then decoded ONCE through the node's own path (the
input's decode plan, `plans.py`, in `InputBindings.on_message`; bytes it cannot read count as
undecodable) and copied by the node's own `InputBindings.copy_latest` into a scratch batch,
whose input slots and
valid flags are read back into one matrix per input (messages x the input's slots).

The tick loop then runs in compiled code (`_replay_ticks`, one numba call per chunk of ticks):
tick k is at `t0 + k * period` in the bag's log time; for each input it advances a cursor to
the newest message logged at or before the tick and applies the input's `timeout` exactly as
`copy_latest` does (stale: the input's slots are marked invalid and keep their last values),
with the node's receive time: the time of the tick that takes the message, i.e. the first tick
at or after its log time (on the same grid before `t0`, as if the node had been ticking). Then
it runs the kernel's own `_step` on the batch's packed block with `dt` = the period, and copies
the outputs into a preallocated matrix. Message time (`fresh(imu)`, `ddt_msg(x)`, ...: the meta
inputs of `inputs.InputBindings`) is computed in the loop as the bindings compute it, from the
cursor, the receive times and each message's header stamp (`InputBindings.stamp`).
"""

from dataclasses import dataclass
import math
from pathlib import Path
import zlib

from numba import njit
import numpy as np

from .source import normalize_type, open_bag, ReplayError, topic_name  # noqa: F401 - re-exported
from ..engine import kernel
from ..msgtypes.inputs import META_BEFORE

# Ticks per compiled call: progress is reported between calls.
CHUNK_TICKS = 200_000


@dataclass
class Track:
    """One input's messages, decoded: log times, the values of its slots, their validity."""

    name: str
    topic: str
    type_name: str
    timeout_ns: int
    slots: tuple            # batch input slots this input fills, in order
    times: np.ndarray       # int64 log times (ns), sorted (stable: file order for ties)
    values: np.ndarray      # float64 (messages x len(slots))
    ok: np.ndarray          # uint8 (messages x len(slots)): 0 = index out of range
    stamps: np.ndarray = None  # float64 header stamps (s) for message time; nan: none needed
    meta: tuple = (-1,) * 5  # batch input slots of its meta inputs (inputs.META_ORDER), -1 none
    messages: int = 0       # messages of the input's type on the topic, in the time range
    undecodable: int = 0    # messages no decoder could read (dropped, as the node drops them)
    ignored: str = ''       # other types on the topic, '' when none


@dataclass
class ReplayResult:
    """What a replay produced: tick times, outputs, and per input whether each tick was fresh."""

    outputs: tuple          # the expressions' names, batch order (what ~/results carries)
    inputs: tuple           # input names, config order
    times_ns: np.ndarray    # int64 tick times, ns from the bag's start
    values: np.ndarray      # float64 (ticks x outputs)
    fresh: np.ndarray       # uint8 (ticks x inputs): 1 = the input was fresh on that tick
    period_ns: int
    bag_start_ns: int       # the bag's start (log time, ns since the epoch)
    tracks: tuple
    # Every output slot (typed outputs' hidden ones too) and input slot, per tick, for the
    # typed outputs' templates: `recorded[:, j]` is arena slot `record_slots[j]`.
    recorded: np.ndarray = None
    record_slots: np.ndarray = None


def _fingerprint_of_sources():
    """CRC of the kernel's source and constants: the compiled loop inlines the kernel's step."""
    text = Path(kernel.__file__).read_bytes()
    return zlib.crc32(text + str(kernel.FINGERPRINT).encode())


FINGERPRINT = _fingerprint_of_sources()
# The kernel's step for compiled callers, inlined into the loop below.
_kernel_step = kernel.step


@njit(cache=True)
def _loop_fingerprint():
    return FINGERPRINT


@njit(cache=True, nogil=True, error_model='numpy', boundscheck=False)
def _replay_ticks(base, mem, k0, k1, t0, period, dt, times, recv, msg_off, cursor, timeout,
                  slot_off, slots, values, ok, val_off, input_base, valid_base,
                  record, out, fresh, stamps, meta):
    """Run ticks k0..k1-1; rows of `out`/`fresh` are relative to k0. Returns nothing."""
    n_in = msg_off.size - 1
    for k in range(k0, k1):
        now = t0 + k * period
        row = k - k0
        for i in range(n_in):
            c = cursor[i]
            last = c
            end = msg_off[i + 1]
            while c + 1 < end and times[c + 1] <= now:
                c += 1
            cursor[i] = c
            first = slot_off[i]
            n = slot_off[i + 1] - first
            ok_now = c >= msg_off[i] and (timeout[i] == 0 or now - recv[c] <= timeout[i])
            fresh[row, i] = 1 if ok_now else 0
            if c >= msg_off[i]:  # message time, as InputBindings._copy_meta writes it
                new = c != last
                m = meta[5 * i:5 * i + 5]
                if m[0] >= 0:
                    mem[input_base + m[0]] = 1.0 if ok_now else 0.0
                if m[1] >= 0:
                    mem[input_base + m[1]] = (now - recv[c]) / 1e9
                if m[2] >= 0:
                    mem[input_base + m[2]] = 1.0 if new else 0.0
                if m[3] >= 0:
                    mem[input_base + m[3]] = stamps[c]
                if m[4] >= 0:
                    mdt = 0.0
                    if new:
                        mdt = np.inf
                        if last >= msg_off[i]:
                            mdt = stamps[c] - stamps[last]
                            if not mdt > 0.0:
                                mdt = (recv[c] - recv[last]) / 1e9
                    mem[input_base + m[4]] = mdt
            if ok_now:
                at = val_off[i] + (c - msg_off[i]) * n
                for j in range(n):
                    s = slots[first + j]
                    if ok[at + j]:
                        mem[input_base + s] = values[at + j]
                        mem[valid_base + s] = 1.0
                    else:
                        mem[valid_base + s] = 0.0
            else:
                for j in range(n):
                    mem[valid_base + slots[first + j]] = 0.0
        _kernel_step(base, dt)
        for o in range(record.size):
            out[row, o] = mem[record[o]]


def _ensure_fresh():
    """Recompile the cached loop when the kernel it inlined has changed since it was cached."""
    if _loop_fingerprint() == FINGERPRINT:
        return False
    for dispatcher in (_loop_fingerprint, _replay_ticks):
        dispatcher.recompile()
    return True


RECOMPILED = _ensure_fresh()


# ----- reading the bag: arena_eval.replay.source ----------------------------------------------

def _check_layout(convert, msgtype, msg_class):
    """Check that rosbags' ROS 2 type, which ROS 1 messages become, is laid out as the class."""
    destination = convert.destination
    if msgtype not in destination.fielddefs:
        raise ReplayError(f'{msgtype}: a ROS 1 type with no ROS 2 counterpart in rosbags')
    ours = list(msg_class.get_fields_and_field_types())
    theirs = [name for name, _ in destination.fielddefs[msgtype][1]]
    if ours != theirs:
        raise ReplayError(f'{msgtype}: the installed type has fields {ours}, rosbags has '
                          f'{theirs}; cannot convert ROS 1 messages')


def load_tracks(bag, config, batch, t_end_ns, t_start_ns=None, remap=None, progress=None):
    """
    Read and decode every input's messages logged up to `t_end_ns`; return the `Track`s.

    `bag` is a `source.Bag`. Messages before `t_start_ns` only matter through the newest of
    each input (what the first tick sees), so only that one is decoded. `progress(n)` is
    called with message counts.
    """
    from ..engine.compile import path_root
    from ..language.functions import split_meta
    from ..msgtypes.inputs import InputBindings, META_ORDER

    selections = bag.select(config, remap)
    selected = {s.name: (s.topic, s.connections, s.other) for s in selections}
    convert = bag.converter()
    scratch = type(batch)(batch.program, batch.stale_policy)
    bindings = InputBindings(config, scratch)
    names = tuple(config.inputs)
    slots = {name: [] for name in names}
    meta = {name: [-1] * 5 for name in names}
    for slot, path in enumerate(batch.inputs):
        root = path_root(path)
        kind = split_meta(path)
        if kind is not None:
            meta[root][META_ORDER[kind[1]]] = slot
        else:
            slots[root].append(slot)
    if convert is not None:
        for name in names:
            _check_layout(convert, normalize_type(config.inputs[name].type_name),
                          config.inputs[name].msg_type)

    raw = {name: [] for name in names}       # (log time, CDR) in log-time order
    before = dict.fromkeys(names)  # newest before t_start: (time, CDR)
    for chunk in bag.chunks(selections, end_ns=t_end_ns):
        log_ns = chunk.log_ns.tolist()
        for k, i in enumerate(chunk.input.tolist()):
            name = names[i]
            entry = (log_ns[k], bytes(chunk.message(k)))
            if t_start_ns is not None and log_ns[k] < t_start_ns:
                before[name] = entry
            else:
                raw[name].append(entry)
        if progress is not None:
            progress(len(log_ns))

    tracks = []
    input_buffer, input_valid = scratch.input_buffer, scratch.input_valid
    for name in names:
        cfg = config.inputs[name]
        entries = raw[name]
        if before[name] is not None:
            entries.insert(0, before[name])
        index = np.array(slots[name], dtype=np.int64)
        times, values, ok, stamps = [], [], [], []
        undecodable = 0
        for t, cdr in entries:
            if not bindings.on_message(name, cdr, t):
                undecodable += 1
                continue
            times.append(t)
            stamps.append(bindings.stamp(name))
            if len(index):
                bindings.copy_latest(t)
                values.append(input_buffer[index])
                ok.append(input_valid[index] != 0.0)
        n = len(times)
        width = len(index)
        tracks.append(Track(
            name=name, topic=selected[name][0], type_name=normalize_type(cfg.type_name),
            timeout_ns=int(round(cfg.timeout * 1e9)), slots=tuple(slots[name]),
            times=np.array(times, dtype=np.int64),
            values=(np.array(values, dtype=np.float64).reshape(n, width) if width
                    else np.zeros((n, 0))),
            ok=(np.array(ok, dtype=np.uint8).reshape(n, width) if width
                else np.zeros((n, 0), np.uint8)),
            messages=len(entries) - (before[name] is not None), undecodable=undecodable,
            ignored=selected[name][2], stamps=np.array(stamps, dtype=np.float64),
            meta=tuple(meta[name])))
    return tuple(tracks)


# ----- the replay --------------------------------------------------------------------------------

class Replay:
    """
    A configuration over a bag: `run()` ticks over the chosen time range and returns the outputs.

    `start` and `duration` are seconds from the bag's start (None: the whole bag). The batch
    is compiled from the config here and stepped with `dt` = the period, from its first tick.
    """

    def __init__(self, config, bag, *, rate_hz=None, start=None, duration=None, remap=None,
                 batch=None):
        from ..params import config as cfg

        self.config = config
        self.rate_hz = float(rate_hz if rate_hz is not None else config.rate_hz)
        if not (self.rate_hz > 0.0 and math.isfinite(self.rate_hz)):
            raise ReplayError(f'--rate must be a positive number of Hz, not {self.rate_hz:g}')
        self.period_ns = max(1, round(1e9 / self.rate_hz))
        self.batch = batch if batch is not None else cfg.build_batch(config)
        self.reader = bag if not isinstance(bag, (str, Path)) else open_bag(bag)
        self.bag_start_ns = self.reader.start_ns
        self.bag_end_ns = self.reader.end_ns
        if self.reader.message_count == 0:
            raise ReplayError('the bag has no messages')
        start_s = 0.0 if start is None else float(start)
        length_s = (self.bag_end_ns - self.bag_start_ns) / 1e9
        if start_s < 0 or not math.isfinite(start_s):
            raise ReplayError(f'--start {start_s:g}: must be 0 or more seconds')
        if duration is not None and not (float(duration) > 0):
            raise ReplayError(f'--duration {float(duration):g}: must be more than 0 seconds')
        self.t0_ns = self.bag_start_ns + round(start_s * 1e9)
        end = self.bag_end_ns
        if duration is not None:
            end = min(end, self.t0_ns + round(float(duration) * 1e9))
        if self.t0_ns > end:
            raise ReplayError(f'empty time range: --start {start_s:g} s is after the bag ends '
                              f'({length_s:.3f} s)')
        self.t_end_ns = end
        self.n_ticks = (end - self.t0_ns) // self.period_ns + 1
        self.remap = remap
        self.tracks = None

    def load(self, progress=None):
        """Read and decode the inputs' messages (done by `run` if not done before)."""
        if self.tracks is None:
            self.tracks = load_tracks(self.reader, self.config, self.batch, self.t_end_ns,
                                      self.t0_ns, self.remap, progress)
        return self.tracks

    def arrays(self):
        """Pack the tracks into the flat arrays `_replay_ticks` reads."""
        tracks = self.load()
        counts = [len(t.times) for t in tracks]
        msg_off = np.zeros(len(tracks) + 1, np.int64)
        msg_off[1:] = np.cumsum(counts)
        slot_off = np.zeros(len(tracks) + 1, np.int64)
        slot_off[1:] = np.cumsum([len(t.slots) for t in tracks])
        val_off = np.zeros(len(tracks), np.int64)
        sizes = [t.values.size for t in tracks]
        val_off[1:] = np.cumsum(sizes)[:-1] if len(tracks) > 1 else []
        cat = np.concatenate
        times = cat([t.times for t in tracks] + [np.zeros(0, np.int64)])
        # The node stamps a message with the tick that takes it: the first tick at or after its
        # log time, on the grid t0 + k * period (k < 0 for messages before the first tick).
        period = self.period_ns
        recv = self.t0_ns - ((self.t0_ns - times) // period) * period
        return {
            'times': times,
            'recv': recv,
            'msg_off': msg_off,
            'timeout': np.array([t.timeout_ns for t in tracks], np.int64),
            'slot_off': slot_off,
            'slots': np.array([s for t in tracks for s in t.slots], np.int64),
            'values': cat([t.values.ravel() for t in tracks] + [np.zeros(0)]),
            'ok': cat([t.ok.ravel() for t in tracks] + [np.zeros(0, np.uint8)]),
            'val_off': val_off,
            'stamps': cat([t.stamps for t in tracks] + [np.zeros(0)]),
            'meta': np.array([s for t in tracks for s in t.meta] or [0], np.int64)}

    def run(self, progress=None):
        """Tick over the range; `progress(ticks)` is called after each chunk. Return the result."""
        batch = self.batch
        # As a node's new program starts: stateful functions at their first tick, t = 0, and
        # inputs nan and invalid until a message arrives (stale ticks compute with these).
        batch.reset()
        batch.input_buffer[:] = math.nan
        batch.input_valid[:] = 0.0
        a = self.arrays()
        for track in self.tracks:  # message time before the first message; always valid
            for slot, before in zip(track.meta, META_BEFORE, strict=True):
                if slot >= 0:
                    batch.input_buffer[slot] = before
                    batch.input_valid[slot] = 1.0
        layout = batch.program.layout
        block = batch._block
        mem = batch._mem
        n_results = len(self.config.expressions)
        # The expressions' outputs first (the results), then the typed outputs' hidden ones
        # and the inputs, which their templates may read (stamps).
        record = np.array([batch.output_slot(n) for n in batch.outputs]
                          + [batch.input_slot(p) for p in batch.inputs], np.int64)
        out = np.empty((self.n_ticks, len(record)))
        fresh = np.empty((self.n_ticks, len(self.tracks)), np.uint8)
        cursor = a['msg_off'][:-1] - 1
        dt = self.period_ns / 1e9
        for k0 in range(0, self.n_ticks, CHUNK_TICKS):
            k1 = min(self.n_ticks, k0 + CHUNK_TICKS)
            _replay_ticks(block.ctypes.data, mem, k0, k1, self.t0_ns, self.period_ns, dt,
                          a['times'], a['recv'], a['msg_off'], cursor, a['timeout'],
                          a['slot_off'], a['slots'], a['values'], a['ok'], a['val_off'],
                          layout.input_base, layout.valid_base, record,
                          out[k0:k1], fresh[k0:k1], a['stamps'], a['meta'])
            if progress is not None:
                progress(k1 - k0)
        times = self.t0_ns - self.bag_start_ns + np.arange(self.n_ticks, dtype=np.int64) * (
            self.period_ns)
        return ReplayResult(outputs=tuple(batch.outputs[:n_results]),
                            inputs=tuple(t.name for t in self.tracks), times_ns=times,
                            values=out[:, :n_results], fresh=fresh, period_ns=self.period_ns,
                            bag_start_ns=self.bag_start_ns, tracks=self.tracks,
                            recorded=out, record_slots=record)

    def close(self):
        self.reader.close()
