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
    for block in replay.blocks():  # sinks.Block: a window's rows, streamed (CLI, fleet)
        sink.write(block)
    result = replay.run()          # or collected: result.values, one row per tick (small bags)

Bags are read by `replay.source` (every bag a ROS user has, as raw ROS 2 CDR in chunks; ROS 1
messages converted there). Replay streams over bag time in bounded memory (`Reading`,
`Replay.blocks`): it holds one chunk of the bag and one window of ticks at a time. Each chunk's
messages are decoded once, in one compiled call (`_decode`), through the node's own decode plans
(`plans.py`, the input's plan from `InputBindings`; bytes it cannot read count as undecodable):
per message its log time, the values of the input's slots, their validity (0: index out of
range) and its header stamp. After each chunk the ticks logged before its newest message run (no
later message can reach them), in windows of at most `WINDOW_TICKS`, each over the messages
logged up to its last tick plus, per input, the message the cursor is on, carried from the
window before; each window's rows are yielded as a `sinks.Block`. Of the messages before the
first tick only the newest of each input is decoded (what the first tick sees).

The tick loop runs in compiled code (`_replay_ticks`, one numba call per window): tick k is at
`t0 + k * period` in the bag's log time; for each input it advances a cursor to the newest
message logged at or before the tick and applies the input's `timeout` exactly as
`copy_latest` does (stale: the input's slots are marked invalid and keep their last values),
with the node's receive time: the time of the tick that takes the message, i.e. the first tick
at or after its log time (on the same grid before `t0`, as if the node had been ticking). Then
it runs the kernel's own `_step` on the batch's packed block with `dt` = the period, and copies
the recorded slots into the window's rows. Message time (`fresh(imu)`, `ddt_msg(x)`, ...: the
meta inputs of `inputs.InputBindings`) is computed in the loop as the bindings compute it, from
the cursor, the receive times and each message's header stamp. The kernel's state lives in the
arena, so it carries across windows by itself; the carried message gives the staleness, the
receive time and `ddt_msg`'s message before, so windows of any size give the same bits.
"""

from dataclasses import dataclass
import math
from pathlib import Path
import time
import zlib

from numba import njit
import numpy as np

from .sinks import Block
from .source import normalize_type, open_bag, ReplayError, topic_name  # noqa: F401 - re-exported
from ..engine import kernel
from ..msgtypes import plans
from ..msgtypes.inputs import META_BEFORE

# Ticks per window: one compiled call, one block of rows for the sinks, progress between.
WINDOW_TICKS = 65_536
# CDR bytes per chunk read from the bag: with a window's rows, what replay holds at a time
# (building a chunk costs several times its bytes in Python objects for small messages).
CHUNK_BYTES = 1 << 20


@dataclass
class Track:
    """One input as replay reads it: its topic and slots, and its message counts."""

    name: str
    topic: str
    type_name: str
    timeout_ns: int
    slots: tuple            # batch input slots this input fills, in order
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
    """CRC of the kernel's and the plans' sources: the compiled code here inlines both."""
    text = Path(kernel.__file__).read_bytes() + Path(plans.__file__).read_bytes()
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


@njit(cache=True, nogil=True, error_model='numpy', boundscheck=False)
def _decode(plan, data, starts, sizes, width, stamped, scratch, values, ok, stamps, kept):
    """
    Walk one input's plan over messages `data[starts[m]:starts[m] + sizes[m]]` (a chunk).

    The decodable ones go to rows 0, 1, ... of `values`/`ok` (width each) and `stamps`, and
    their message index to `kept`; returns how many. What `InputBindings.on_message`,
    `copy_latest` and `stamp` would keep of each, without a Python call per message.
    """
    n_all = scratch.size // 3
    v, f, lengths = scratch[:n_all], scratch[n_all:2 * n_all], scratch[2 * n_all:].view(np.int64)
    base = data.ctypes.data
    n = 0
    for m in range(starts.size):
        if plan != 0:
            if sizes[m] == 0 or plans.walk_into(plan, base + starts[m], sizes[m], v.ctypes.data,
                                                f.ctypes.data, lengths.ctypes.data) != 0:
                continue
        for j in range(width):
            values[n, j] = v[j]
            ok[n, j] = 1 if f[j] != 0.0 else 0
        stamps[n] = v[width] + v[width + 1] / 1e9 if stamped else np.nan
        kept[n] = m
        n += 1
    return n


def _ensure_fresh():
    """Recompile the cached code when what it inlined has changed since it was cached."""
    if _loop_fingerprint() == FINGERPRINT:
        return False
    for dispatcher in (_loop_fingerprint, _replay_ticks, _decode):
        dispatcher.recompile()
    return True


RECOMPILED = _ensure_fresh()


def warm():
    """
    Compile (or load from the cache) `_replay_ticks` for the argument types `Replay.run` passes.

    No tick runs (k0 == k1), so the empty arrays and the null block are never read.
    """
    i64, f64, u8 = (np.zeros(0, t) for t in (np.int64, np.float64, np.uint8))
    _replay_ticks(0, f64, 0, 0, 0, 1, 0.001, i64, i64, i64, i64, i64, i64, i64, f64, u8, i64,
                  0, 0, i64, np.zeros((0, 1)), np.zeros((0, 1), np.uint8), f64, i64)
    _decode(0, np.zeros(0, np.uint8), i64, i64, 0, False, np.zeros(3), np.zeros((0, 1)),
            np.zeros((0, 1), np.uint8), f64, i64)


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


class Reading:
    """
    The inputs' messages of a bag, read chunk by chunk and decoded window by window.

    Holds only what the next window of ticks needs: the raw CDR read but not yet ticked over
    (at most a chunk, `source.Bag.chunks`), the newest message before the first tick (what the
    first tick sees; older ones are never decoded), and per input the message the tick's cursor
    is on, carried from one window to the next so that staleness, receive times and message time
    (`ddt_msg` reads the message before) continue across the boundary as in one run.
    """

    def __init__(self, bag, config, batch, t0_ns, t_end_ns, period_ns, remap=None,
                 chunk_bytes=CHUNK_BYTES):
        from ..engine.compile import path_root
        from ..language.functions import split_meta
        from ..msgtypes.inputs import InputBindings, META_ORDER

        selections = bag.select(config, remap)
        convert = bag.converter()
        # The node's own bindings, for each input's plan (the node's decode of its bytes).
        self._bindings = InputBindings(config, type(batch)(batch.program, batch.stale_policy))
        self.names = names = tuple(config.inputs)
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
        self.tracks = tuple(
            Track(name=name, topic=sel.topic, type_name=normalize_type(cfg.type_name),
                  timeout_ns=int(round(cfg.timeout * 1e9)), slots=tuple(slots[name]),
                  meta=tuple(meta[name]), ignored=sel.other)
            for name, sel, cfg in zip(names, selections, config.inputs.values(), strict=True))
        self._index = [np.array(t.slots, np.int64) for t in self.tracks]
        self.t0_ns, self.period_ns = t0_ns, period_ns
        # The same for every window: what _replay_ticks reads besides the messages.
        self.timeout = np.array([t.timeout_ns for t in self.tracks], np.int64)
        self.slot_off = np.zeros(len(names) + 1, np.int64)
        self.slot_off[1:] = np.cumsum([len(t.slots) for t in self.tracks])
        self.slots = np.array([s for t in self.tracks for s in t.slots], np.int64)
        self.meta = np.array([s for t in self.tracks for s in t.meta] or [0], np.int64)
        self._chunks = bag.chunks(selections, end_ns=t_end_ns, max_bytes=chunk_bytes)
        # Per input, what `_decode` needs: the plan (and the Reader keeping it), whether it
        # reads the header stamp, scratch for the walk (values, ok flags, lengths).
        self._plans = []
        for name, track in zip(names, self.tracks, strict=True):
            reader = self._bindings.reader(name)
            width = len(track.slots) + (2 if reader.stamped else 0)
            plan = reader.plan.ctypes.data if reader.plan is not None else 0
            self._plans.append((plan, reader.stamped, np.zeros(3 * max(width, 1))))
        # Decoded, not ticked over yet: per input, [(times, values, ok, stamps)] in log order.
        self._pending = [[] for _ in names]
        # The newest message before t0 (what the first tick sees): None, or decoded as one
        # pending entry, or False when its bytes were unreadable.
        self._before = [None] * len(names)
        self._first = True
        # (log ns, values row, ok row, stamp) of the message each input's cursor is on
        self._carry = [None] * len(names)

    def read(self):
        """Read and decode one chunk; return a log time no later message is before (None: all)."""
        chunk = next(self._chunks, None)
        if chunk is None:
            return None
        for i, track in enumerate(self.tracks):
            rows = np.flatnonzero(chunk.input == i)
            if not rows.size:
                continue
            times = chunk.log_ns[rows]
            cut = int(np.searchsorted(times, self.t0_ns))  # before t0: only the newest counts
            if cut:
                decoded = self._decode(i, chunk, rows[cut - 1:cut], times[cut - 1:cut])
                self._before[i] = decoded if len(decoded[0]) else False
            if cut < rows.size:
                decoded = self._decode(i, chunk, rows[cut:], times[cut:])
                track.messages += rows.size - cut
                track.undecodable += rows.size - cut - len(decoded[0])
                self._pending[i].append(decoded)
        return int(chunk.log_ns[-1])

    def _decode(self, i, chunk, rows, times):
        """Decode input i's messages `rows` of `chunk`; return (times, values, ok, stamps)."""
        plan, stamped, scratch = self._plans[i]
        width = len(self.tracks[i].slots)
        values = np.empty((rows.size, width))
        ok = np.empty((rows.size, width), np.uint8)
        stamps = np.empty(rows.size)
        kept = np.empty(rows.size, np.int64)
        n = _decode(plan, chunk.data, chunk.offsets[rows], chunk.sizes[rows], width, stamped,
                    scratch, values, ok, stamps, kept)
        return times[kept[:n]], values[:n], ok[:n], stamps[:n]

    def take(self, until_ns):
        """
        Hand over the messages logged up to `until_ns` (all read) as `_replay_ticks`' arrays.

        Per input: the carried message first (where its cursor starts), then the new ones.
        """
        parts = []
        for i, track in enumerate(self.tracks):
            pending = self._pending[i]
            if self._first and self._before[i] is not None:
                if self._before[i] is False:
                    track.undecodable += 1
                else:
                    pending.insert(0, self._before[i])
                self._before[i] = None
            carry = self._carry[i]
            if carry is not None:
                pending.insert(0, tuple(x[None] for x in carry))
            width = len(track.slots)
            times, values, ok, stamps = (
                np.concatenate([p[k] for p in pending] + [empty])
                for k, empty in enumerate((np.zeros(0, np.int64), np.zeros((0, width)),
                                           np.zeros((0, width), np.uint8), np.zeros(0))))
            n = int(np.searchsorted(times, until_ns, side='right'))
            self._pending[i] = [(times[n:], values[n:], ok[n:], stamps[n:])] if n < len(
                times) else []
            if n:
                self._carry[i] = (times[n - 1], values[n - 1], ok[n - 1], stamps[n - 1])
            parts.append((times[:n], stamps[:n], values[:n], ok[:n], carry is not None))
        self._first = False
        return self._pack(parts)

    def _pack(self, parts):
        """Concatenate the inputs' window messages into the flat arrays and the cursors."""
        counts = [len(p[0]) for p in parts]
        msg_off = np.zeros(len(parts) + 1, np.int64)
        msg_off[1:] = np.cumsum(counts)
        val_off = np.zeros(len(parts), np.int64)
        if len(parts) > 1:
            val_off[1:] = np.cumsum([p[2].size for p in parts])[:-1]
        cat = np.concatenate
        times = cat([p[0] for p in parts] + [np.zeros(0, np.int64)])
        # The node stamps a message with the tick that takes it: the first tick at or after its
        # log time, on the grid t0 + k * period (k < 0 for messages before the first tick).
        period = self.period_ns
        recv = self.t0_ns - ((self.t0_ns - times) // period) * period
        # A carried message is where the cursor is; without one, before the input's first.
        cursor = msg_off[:-1] - np.array([0 if p[4] else 1 for p in parts], np.int64)
        return {'times': times, 'recv': recv, 'msg_off': msg_off, 'cursor': cursor,
                'values': cat([p[2].ravel() for p in parts] + [np.zeros(0)]),
                'ok': cat([p[3].ravel() for p in parts] + [np.zeros(0, np.uint8)]),
                'val_off': val_off,
                'stamps': cat([p[1] for p in parts] + [np.zeros(0)])}


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
        self.tracks = None      # the inputs' Tracks, once a run has started
        self.tick_s = 0.0       # seconds in the compiled loop during the last run

    def reading(self, chunk_bytes=CHUNK_BYTES):
        """Return a new `Reading` of this replay's inputs over its time range."""
        return Reading(self.reader, self.config, self.batch, self.t0_ns, self.t_end_ns,
                       self.period_ns, self.remap, chunk_bytes)

    def record_slots(self):
        """
        Return the arena slots recorded per tick: what a `Block`'s columns are.

        The expressions' outputs first (the results), then the typed outputs' hidden ones, the
        inputs, which their templates may read (stamps), and the inputs' valid flags, which
        decide whether a typed output is stale (`templates.decide`).
        """
        batch = self.batch
        valid = batch.program.layout.valid_base
        return np.array([batch.output_slot(n) for n in batch.outputs]
                        + [batch.input_slot(p) for p in batch.inputs]
                        + [valid + i for i in range(len(batch.inputs))], np.int64)

    def blocks(self, progress=None, *, window_ticks=WINDOW_TICKS, chunk_bytes=CHUNK_BYTES):
        """
        Yield the rows as `sinks.Block`s, one per window of at most `window_ticks` ticks.

        The bag is read a chunk (`chunk_bytes` of CDR) at a time; after each, the ticks logged
        before its newest message run (no later message can reach them), in windows, each over
        only the messages it needs. A block's arrays are reused by the next: write or copy it
        before asking for the next. `progress(ticks)` is called after each window; the time
        spent in the compiled loop accumulates in `self.tick_s`.
        """
        reading = self.reading(chunk_bytes)
        self.tracks = reading.tracks
        batch = self.batch
        # As a node's new program starts: stateful functions at their first tick, t = 0, and
        # inputs nan and invalid until a message arrives (stale ticks compute with these).
        batch.reset()
        batch.input_buffer[:] = math.nan
        batch.input_valid[:] = 0.0
        for track in self.tracks:  # message time before the first message; always valid
            for slot, before in zip(track.meta, META_BEFORE, strict=True):
                if slot >= 0:
                    batch.input_buffer[slot] = before
                    batch.input_valid[slot] = 1.0
        layout = batch.program.layout
        block, mem = batch._block, batch._mem
        record = self.record_slots()
        n_out = len(batch.outputs)
        out = np.empty((window_ticks, len(record)))
        fresh = np.empty((window_ticks, len(self.tracks)), np.uint8)
        stamps = np.empty(window_ticks, np.int64)
        t0, period, dt = self.t0_ns, self.period_ns, self.period_ns / 1e9
        self.tick_s = 0.0
        k = 0
        while True:
            horizon = reading.read()
            # Ticks before the newest message read: every message they can see is read.
            stop = self.n_ticks if horizon is None else min(self.n_ticks,
                                                            -((t0 - horizon) // period))
            while k < stop:
                k1 = min(stop, k + window_ticks)
                n = k1 - k
                a = reading.take(t0 + (k1 - 1) * period)
                start = time.perf_counter()
                _replay_ticks(block.ctypes.data, mem, k, k1, t0, period, dt,
                              a['times'], a['recv'], a['msg_off'], a['cursor'], reading.timeout,
                              reading.slot_off, reading.slots, a['values'], a['ok'],
                              a['val_off'], layout.input_base, layout.valid_base, record,
                              out[:n], fresh[:n], a['stamps'], reading.meta)
                self.tick_s += time.perf_counter() - start
                stamps[:n] = t0 + np.arange(k, k1, dtype=np.int64) * period
                yield Block(times_ns=stamps[:n], values=out[:n, :n_out], count=n,
                            inputs=out[:n, n_out:], fresh=fresh[:n])
                if progress is not None:
                    progress(n)
                k = k1
            if horizon is None:
                return

    def run(self, progress=None, **window):
        """Tick over the range, collecting every row; return the `ReplayResult` (small bags)."""
        record = self.record_slots()
        out = np.empty((self.n_ticks, len(record)))
        fresh = np.empty((self.n_ticks, len(self.config.inputs)), np.uint8)
        row = 0
        for piece in self.blocks(progress, **window):
            out[row:row + piece.count] = np.concatenate([piece.values, piece.inputs], axis=1)
            fresh[row:row + piece.count] = piece.fresh
            row += piece.count
        n_results = len(self.config.expressions)
        times = self.t0_ns - self.bag_start_ns + np.arange(self.n_ticks, dtype=np.int64) * (
            self.period_ns)
        return ReplayResult(outputs=tuple(self.batch.outputs[:n_results]),
                            inputs=tuple(t.name for t in self.tracks), times_ns=times,
                            values=out[:, :n_results], fresh=fresh, period_ns=self.period_ns,
                            bag_start_ns=self.bag_start_ns, tracks=self.tracks,
                            recorded=out, record_slots=record)

    def close(self):
        self.reader.close()
