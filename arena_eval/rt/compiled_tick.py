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
The whole tick as one compiled loop: one `@njit(nogil=True, cache=True)` call runs every tick.

`tick_loop(control)` sleeps to absolute deadlines (`clock_nanosleep`), takes the newest
serialized message of each input (`rcl_take_serialized_message` until empty), walks its decode
plan (`plans.py`), marks staleness, copies into the arena, runs the kernel step inline (the same
`kernel._step` as `Batch.step`), writes the outputs into the pre-serialized result messages,
publishes them (`rcl_publish_serialized_message`), patches and publishes the typed outputs
(`templates.patch_rows`, every N ticks; 'now' stamps from the system clock, or from `/clock`
under use_sim_time, taken as one more input) and records loop statistics into the
`loop.LoopStats` arrays the diagnostics read. It is the node's only tick. It never
holds the GIL and allocates nothing: every array is reached by address (`native.i64_view`), and
every C function through an address in the control block, so the compiled code is the same in
every process and loads from numba's cache.

A config with trigger inputs (`trigger`) runs triggered instead: the loop blocks in `rcl_wait` on
its wait set of the trigger subscriptions (made off the tick), takes the other inputs to their
newest when it wakes, then the trigger inputs one message at a time, one evaluation each; after
`max_period` without one, one evaluation with the inputs as they are (stale). `dt` is the time
since the previous evaluation either way, and the statistics count evaluations.

Everything that varies is data. A `TickConfig` (one per program: kernel block, plans, result
templates, per-input and per-slot state) is an int64 block; the executor thread builds the next
one off the tick and posts its address in the control block (`C_POST`); the loop switches
between two ticks, carries the old program's state over, primes the new program from the
latest bytes of each input and acknowledges (`C_ACK`): only then may the old config be
released. `C_STOP` stops the loop within one sleep slice (at most `SLEEP_SLICE_NS`). An rcl
error ends the loop with the failing call and code in the control block; `CompiledLoop`
turns it into `rcl.RclError`.

The semantics are the retired Python tick's (held to its recorded outputs by
`test/test_golden_tick.py`): the message's receive time is the tick that took it; an input is
stale past its timeout (the one stale test, in `copy_latest`); an index beyond the current
sequence invalidates the slot and counts once per message; a name missing from `name[]` gives
nan and counts once per message; nan/inf values are counted once per message; message time
(`fresh`, `age`, `updated`, `stamp`, `mdt`) is written every tick and always valid; bytes the
plan cannot read count as undecodable. `begin`, `offer` and `tick_offline` run the same tick
without rcl, on bytes handed in (tests; replay's seam).

numba's cache only tracks this file, so `FINGERPRINT` hashes the sources compiled into the loop
(`kernel.py`, `plans.py`, `description.py`, `native.py`, `templates.py`) and the kernel's
constants; a cache compiled from other
sources is recompiled at import, as `kernel.py` does for its own.
"""

import ctypes
import dataclasses
import pathlib
import threading
import time
import zlib

from numba import njit
import numpy as np

from . import loop as loop_
from .rcl import RclError
from ..engine import kernel, native, program as pg
from ..msgtypes import description, plans, templates

# ----- the control block (one per loop; int64) --------------------------------------------
C_STOP = 0          # nonzero: leave the loop (executor side writes)
C_POST = 1          # address of the next TickConfig, 0 when none (executor writes, loop clears)
C_ACK = 2           # address of the TickConfig in use (loop writes)
C_PERIOD_NS = 3     # the period, read once per tick (executor writes)
C_STATUS = 4        # STATUS_* (loop writes)
C_ERROR_CODE = 5    # the rcl return code that ended the loop
C_COUNTERS = 6      # address of LoopStats.counters
C_LOOP_RING = 7     # addresses of LoopStats' rings
C_PERIOD_RING = 8
C_WAKE_RING = 9
C_TARGET_RING = 10
C_HISTORY = 11
C_NANOSLEEP = 12    # function addresses
C_GETTIME = 13
C_TIMESPEC = 14     # 32 bytes of scratch for two timespecs
C_CONFIG = 15       # address of the TickConfig the loop starts with
CONTROL_WORDS = 16

STATUS_IDLE = 0
STATUS_RUNNING = 1
STATUS_STOPPED = 2
STATUS_TAKE_FAILED = 3
STATUS_PUBLISH_FAILED = 4
STATUS_NO_CONFIG = 5
STATUS_WAIT_FAILED = 6

# What a triggered wait ended on (`_wait_trigger`).
WAKE_DEADLINE = 0   # the max_period fallback is due
WAKE_MESSAGE = 1    # a trigger subscription has a message
WAKE_POSTED = 2     # a new config was posted: the loop takes it first
WAKE_STOP = 3
WAKE_FAILED = 4

# A long sleep is cut into slices so a stop request is seen within one slice.
SLEEP_SLICE_NS = 50_000_000
# How long a parameter update waits for the loop to take its program before returning.
SWAP_WAIT_S = 0.05

# ----- a TickConfig block (one per program; int64) ----------------------------------------
T_KERNEL = 0        # address of the Batch's packed block
T_NINPUTS = 1
T_INPUTS = 2        # address of the inputs table (T_NINPUTS rows of IN_WORDS)
T_NSLOTS = 3
T_SLOTS = 4         # address of the slots table (T_NSLOTS rows of SL_WORDS)
T_IN_VALUES = 5     # the batch's input_buffer
T_IN_VALID = 6      # the batch's input_valid
T_OUTPUTS = 7       # the batch's output_buffer
T_NOUTPUTS = 8
T_SCRATCH = 9       # float64 [3, nslots]: the walker's values, ok flags, lengths (int64)
T_LATEST = 10       # float64 [3, nslots]: the same for the latest decoded message
T_NPUBS = 11
T_PUBS = 12         # address of the publishers table (T_NPUBS rows of PB_WORDS)
T_CONTEXT = 13      # rcl_context_t *
T_TAKE = 14         # function addresses
T_PUBLISH = 15
T_CONTEXT_VALID = 16
T_NTYPED = 17       # typed outputs (`templates.TypedOutput`)
T_TYPED = 18        # address of their table (T_NTYPED rows of TY_WORDS)
T_ARENA = 19        # the batch's whole float64 arena, which typed templates read slots of
T_NARENA = 20
T_GETTIME = 21      # clock_gettime, for typed outputs stamped 'now'
T_TIMESPEC = 22     # 16 bytes of scratch
T_NCARRY = 23       # state copies to make when the loop takes this config
T_CARRY = 24        # address of int64 [n, 3]: source address, destination address, words
T_NSCRATCH = 25     # rows of the slots table: the batch's slots, then hidden ones (stamps)
T_CLOCK_SLOT = 26   # hidden slot of the ROS clock's sec (nanosec next), -1: the system clock
T_CLOCK_INPUT = 27  # the input row taking /clock (use_sim_time), -1 when none
T_NTRIGGER = 28     # trigger inputs (IN_TRIGGER set); 0: periodic at the control's period
T_WAIT_SET = 29     # rcl_wait_set_t * holding room for the trigger subscriptions
T_MAX_PERIOD_NS = 30  # triggered: evaluate anyway this long after the previous evaluation
T_WAIT_CLEAR = 31   # function addresses: rcl_wait_set_clear, rcl_wait_set_add_subscription,
T_WAIT_ADD = 32     # rcl_wait
T_WAIT = 33
CONFIG_WORDS = 34

# inputs table row
IN_SUB = 0          # rcl_subscription_t *
IN_MSG = 1          # rcl_serialized_message_t * (the input's take buffer)
IN_INFO = 2         # rmw_message_info_t scratch
IN_PLAN = 3         # address of the decode plan, 0 when the batch reads nothing from it
IN_TIMEOUT_NS = 4   # 0: never stale
IN_SINGLE = 5       # depth 1: one take gets the newest
IN_POLL = 6         # address of the input's poll state (shared by successive configs)
IN_RECEIVED = 7     # messages handed to this program (decoded), as InputBindings counts
IN_RECV_NS = 8
IN_COPIED = 9
IN_HAS_MSG = 10
IN_FRESH = 11
IN_NEW = 12
IN_STAMP_SLOT = 13  # hidden slot of header.stamp.sec (nanosec next), -1 when not read
IN_META_SEEN = 14   # IN_RECEIVED when message time last saw a message
IN_HAS_LAST = 15    # message time has seen a message (its stamp and receive time below)
IN_LAST_STAMP = 16  # float64 bits: that message's stamp (s)
IN_LAST_RECV = 17
IN_META = 18        # 5 words: the batch slots of fresh, age, updated, stamp, mdt (-1 none)
IN_TRIGGER = 23     # 1: each of its messages is one evaluation (triggered mode)
IN_WORDS = 24

# poll state (per input subscription, shared by configs)
PS_TAKEN = 0        # messages taken
PS_UNDECODABLE = 1
PS_HAS_LATEST = 2   # the take buffer holds a message
PS_LATEST_NS = 3    # the tick that took it
PS_CAPACITY = 4     # the take buffer's capacity after the last take
PS_GROWN = 5        # how often rcl grew it
PS_WORDS = 6

# slots table row
SL_INPUT = 0        # the input it belongs to
SL_OUT_OF_RANGE = 1  # messages whose sequence was too short for the index
SL_NON_FINITE = 2   # messages with nan/inf in this field
SL_OOR_LEN = 3      # sequence length of the latest message when too short, else -1
SL_NON_FINITE_NOW = 4
SL_META = 5         # META_* for a message-time slot (written by `_copy_meta`), else -1
SL_MISSING = 6      # messages whose name[] lacked the element's name (index by name)
SL_MISSING_NOW = 7
SL_WORDS = 8

# Message-time kinds: the order of `inputs.META_ORDER` (fresh, age, updated, stamp, mdt).
META_FRESH, META_AGE, META_UPDATED, META_STAMP, META_MDT = range(5)
META_HIDDEN = 5     # a hidden slot (a stamp's sec or nanosec), never copied into the batch

# publishers table row: output index (-1: the whole results message), publisher, message, data
PB_OUTPUT = 0
PB_PUBLISHER = 1
PB_MSG = 2
PB_DATA = 3
PB_WORDS = 4

# typed outputs table row: the template's patch rows, bytes and counters, its rate divider
TY_ROWS = 0         # address of the int64 [n, templates.ROW] patch rows
TY_NROWS = 1
TY_RAW = 2          # address of the template's bytes
TY_WORK = 3         # address of the template's counters (nan conversions, saturations)
TY_EVERY = 4
TY_COUNT = 5        # ticks since the last publication
TY_PUBLISHER = 6
TY_MSG = 7
TY_PUBLISHED = 8
TY_NOW_AT = 9       # byte offset of header.stamp for a 'now' stamp, else -1
# The message published while stale (on_stale 'stale_fields'): ROWS .. NOW_AT again from here.
TY_STALE_SET = 10
TY_DEPS = 20        # address of the int64 arena slots of the valid flags the values depend on
TY_NDEPS = 21
TY_ON_STALE = 22    # templates.ON_STALE_CODES
TY_STATE = 23       # address of the TypedOutput's state words (templates.STATE_WORDS)
TY_WORDS = 24

_OPTIONS = {'error_model': 'numpy', 'boundscheck': False}


def _fingerprint_of_sources():
    """CRC of the other sources compiled into the loop and of the kernel's constants."""
    sources = (pathlib.Path(module.__file__)
               for module in (kernel, plans, native, templates, description))
    text = b''.join(path.read_bytes() for path in sources)
    return zlib.crc32(text + str(kernel.FINGERPRINT).encode())


FINGERPRINT = _fingerprint_of_sources()


@njit('int64()', cache=True)
def _fingerprint():
    return FINGERPRINT


# ----- the compiled side --------------------------------------------------------------------
@njit(inline='always', **_OPTIONS)
def _now(control):
    return native.monotonic_ns(control[C_GETTIME], control[C_TIMESPEC])


@njit(**_OPTIONS)
def _sleep_until(control, deadline):
    """Sleep to the absolute `deadline` (ns), in slices; False when a stop was requested."""
    ts = control[C_TIMESPEC] + 16
    while True:
        if control[C_STOP] != 0:
            return False
        now = _now(control)
        if now >= deadline:
            return True
        target = deadline if deadline - now <= SLEEP_SLICE_NS else now + SLEEP_SLICE_NS
        native.store_i64(ts, target // 1_000_000_000)
        native.store_i64(ts + 8, target % 1_000_000_000)
        native.call_i32_iipp(control[C_NANOSLEEP], native.CLOCK_MONOTONIC,
                             native.TIMER_ABSTIME, ts, 0)


@njit(**_OPTIONS)
def _commit(config, i):
    """Make the walker's values for input `i` its latest message's (the walk succeeded)."""
    n = config[T_NSCRATCH]
    slots = native.i64_view(config[T_SLOTS], n * SL_WORDS)
    scratch = native.f64_view(config[T_SCRATCH], 3 * n)
    latest = native.f64_view(config[T_LATEST], 3 * n)
    for s in range(n):
        if slots[s * SL_WORDS + SL_INPUT] == i:
            latest[s] = scratch[s]
            latest[n + s] = scratch[n + s]
            latest[2 * n + s] = scratch[2 * n + s]


@njit(**_OPTIONS)
def on_bytes(config, i, buf, length, now):
    """
    Hand the message of `length` bytes at `buf` to input `i` as taken at `now`; True if read.

    What `InputBindings.on_message` does with a decoded message (the decode is the plan's walk).
    """
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    row = i * IN_WORDS
    plan = inputs[row + IN_PLAN]
    if plan != 0:
        n = config[T_NSCRATCH]
        scratch = config[T_SCRATCH]
        if plans.walk_into(plan, buf, length, scratch, scratch + 8 * n,
                           scratch + 16 * n) != 0:
            return False
        _commit(config, i)
    inputs[row + IN_RECV_NS] = now
    inputs[row + IN_RECEIVED] += 1
    inputs[row + IN_HAS_MSG] = 1
    return True


@njit(**_OPTIONS)
def _took(config, i, now):
    """Input `i`'s message struct holds the newest message, taken at `now`: hand it over."""
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    row = i * IN_WORDS
    poll = native.i64_view(inputs[row + IN_POLL], PS_WORDS)
    msg = inputs[row + IN_MSG]
    poll[PS_HAS_LATEST] = 1
    poll[PS_LATEST_NS] = now
    if not on_bytes(config, i, native.load_i64(msg + native.BUFFER_AT),
                    native.load_i64(msg + native.LENGTH_AT), now):
        poll[PS_UNDECODABLE] += 1


@njit(**_OPTIONS)
def _take_raw(config, i):
    """One rcl take into input `i`'s buffer: the rcl code (TAKE_FAILED: nothing waiting)."""
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    row = i * IN_WORDS
    code = native.call_i32_pppp(config[T_TAKE], inputs[row + IN_SUB], inputs[row + IN_MSG],
                                inputs[row + IN_INFO], 0)
    if code == native.RCL_RET_OK:
        native.i64_view(inputs[row + IN_POLL], PS_WORDS)[PS_TAKEN] += 1
    return code


@njit(**_OPTIONS)
def _after_take(config, i, now):
    """Note a grown take buffer, then hand input `i`'s newest taken message over."""
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    row = i * IN_WORDS
    poll = native.i64_view(inputs[row + IN_POLL], PS_WORDS)
    capacity = native.load_i64(inputs[row + IN_MSG] + native.CAPACITY_AT)
    if capacity != poll[PS_CAPACITY]:
        poll[PS_GROWN] += 1
        poll[PS_CAPACITY] = capacity
    _took(config, i, now)


@njit(**_OPTIONS)
def _take(config, i, now):
    """Take input `i`'s waiting messages; 0, or the rcl code of a failed take."""
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    got = False
    while True:
        code = _take_raw(config, i)
        if code == native.RCL_RET_SUBSCRIPTION_TAKE_FAILED:
            break
        if code != native.RCL_RET_OK:
            return code
        got = True
        if inputs[i * IN_WORDS + IN_SINGLE] != 0:
            break
    if got:
        _after_take(config, i, now)
    return 0


@njit(**_OPTIONS)
def _take_one(config, i, now):
    """Take one message of input `i`: (taken, 0) or (False, the rcl code of a failed take)."""
    code = _take_raw(config, i)
    if code == native.RCL_RET_SUBSCRIPTION_TAKE_FAILED:
        return False, 0
    if code != native.RCL_RET_OK:
        return False, code
    _after_take(config, i, now)
    return True, 0


@njit(**_OPTIONS)
def _carry(config):
    """Copy the old program's state where meanings match (the old one has stopped)."""
    n = config[T_NCARRY]
    if n == 0:
        return
    rows = native.i64_view(config[T_CARRY], 3 * n)
    for r in range(n):
        src = rows[3 * r]
        dst = rows[3 * r + 1]
        for k in range(rows[3 * r + 2]):
            native.store_i64(dst + 8 * k, native.load_i64(src + 8 * k))
    config[T_NCARRY] = 0


@njit(**_OPTIONS)
def prime(config):
    """Start a new program from each input's latest taken message (as `Tick._prime`)."""
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    for i in range(config[T_NINPUTS]):
        row = i * IN_WORDS
        poll = native.i64_view(inputs[row + IN_POLL], PS_WORDS)
        if poll[PS_HAS_LATEST] != 0:
            msg = inputs[row + IN_MSG]
            on_bytes(config, i, native.load_i64(msg + native.BUFFER_AT),
                     native.load_i64(msg + native.LENGTH_AT), poll[PS_LATEST_NS])


@njit(**_OPTIONS)
def _begin(config):
    """Take over a config as the loop does: carry the old state over, then prime."""
    _carry(config)
    prime(config)


@njit(**_OPTIONS)
def copy_latest(config, now):
    """Copy the latest fields into the arena with validity and counters (`copy_latest`)."""
    ninputs = config[T_NINPUTS]
    nslots = config[T_NSLOTS]
    n = config[T_NSCRATCH]
    inputs = native.i64_view(config[T_INPUTS], ninputs * IN_WORDS)
    slots = native.i64_view(config[T_SLOTS], n * SL_WORDS)
    latest = native.f64_view(config[T_LATEST], 3 * n)
    values = native.f64_view(config[T_IN_VALUES], nslots)
    valid = native.f64_view(config[T_IN_VALID], nslots)
    for i in range(ninputs):
        row = i * IN_WORDS
        # The one stale test: fields, fresh(), the diagnostics and replay all read IN_FRESH.
        timeout = inputs[row + IN_TIMEOUT_NS]
        fresh = inputs[row + IN_HAS_MSG] != 0 and (
            timeout == 0 or now - inputs[row + IN_RECV_NS] <= timeout)
        inputs[row + IN_FRESH] = 1 if fresh else 0
        new = fresh and inputs[row + IN_RECEIVED] != inputs[row + IN_COPIED]
        inputs[row + IN_NEW] = 1 if new else 0
        if fresh:
            inputs[row + IN_COPIED] = inputs[row + IN_RECEIVED]
    for s in range(nslots):
        srow = s * SL_WORDS
        if slots[srow + SL_META] >= 0:
            continue
        row = slots[srow + SL_INPUT] * IN_WORDS
        if inputs[row + IN_FRESH] == 0:
            valid[s] = 0.0
            continue
        new = inputs[row + IN_NEW] != 0
        if latest[n + s] == 0.0:
            valid[s] = 0.0
            if new:
                slots[srow + SL_OUT_OF_RANGE] += 1
                # The walker stored the length as an int64 in the float64 array.
                slots[srow + SL_OOR_LEN] = native.load_i64(
                    config[T_LATEST] + 8 * (2 * n + s))
            continue
        value = latest[s]
        values[s] = value
        valid[s] = 1.0
        if native.load_i64(config[T_LATEST] + 8 * (2 * n + s)) == plans.MISSING_NAME:
            # A name missing from the message's name[]: nan, a value (the slot stays valid).
            if new:
                slots[srow + SL_MISSING] += 1
                slots[srow + SL_MISSING_NOW] = 1
            continue
        if new:
            slots[srow + SL_MISSING_NOW] = 0
            slots[srow + SL_OOR_LEN] = -1
            bad = value - value != 0.0
            slots[srow + SL_NON_FINITE_NOW] = 1 if bad else 0
            if bad:
                slots[srow + SL_NON_FINITE] += 1
    _copy_meta(config, inputs, latest, values, now)


@njit(**_OPTIONS)
def _copy_meta(config, inputs, latest, values, now):
    """
    Write the message-time slots (`inputs.InputBindings._copy_meta`); they are always valid.

    On the tick that first sees a message: its stamp, and `mdt` the stamp difference to the
    previous one (the receive-time difference when stamps do not increase, inf at the first).
    """
    for i in range(config[T_NINPUTS]):
        row = i * IN_WORDS
        if inputs[row + IN_HAS_MSG] == 0:
            continue  # the values before the first message hold
        m = row + IN_META
        if (inputs[m] < 0 and inputs[m + 1] < 0 and inputs[m + 2] < 0 and inputs[m + 3] < 0
                and inputs[m + 4] < 0):
            continue
        recv = inputs[row + IN_RECV_NS]
        received = inputs[row + IN_RECEIVED]
        new = received != inputs[row + IN_META_SEEN]
        mdt = 0.0
        if new:
            inputs[row + IN_META_SEEN] = received
            at = inputs[row + IN_STAMP_SLOT]
            stamp = np.nan if at < 0 else latest[at] + latest[at + 1] / 1e9
            last_at = config[T_INPUTS] + 8 * (row + IN_LAST_STAMP)
            mdt = np.inf
            if inputs[row + IN_HAS_LAST] != 0:
                mdt = stamp - native.load_f64(last_at)
                if not mdt > 0.0:  # nan (no stamps) too
                    mdt = (recv - inputs[row + IN_LAST_RECV]) / 1e9
            native.store_f64(last_at, stamp)
            inputs[row + IN_LAST_RECV] = recv
            inputs[row + IN_HAS_LAST] = 1
            if inputs[m + META_STAMP] >= 0:
                values[inputs[m + META_STAMP]] = stamp
        if inputs[m + META_FRESH] >= 0:
            values[inputs[m + META_FRESH]] = 1.0 if inputs[row + IN_FRESH] != 0 else 0.0
        if inputs[m + META_AGE] >= 0:
            values[inputs[m + META_AGE]] = (now - recv) / 1e9
        if inputs[m + META_UPDATED] >= 0:
            values[inputs[m + META_UPDATED]] = 1.0 if new else 0.0
        if inputs[m + META_MDT] >= 0:
            values[inputs[m + META_MDT]] = mdt


@njit(**_OPTIONS)
def _send(config, publisher, message):
    """Publish a serialized message through rcl: 0 or the rcl code; offline (tests, replay), 0."""
    if config[T_PUBLISH] == 0:
        return 0
    return native.call_i32_ppp(config[T_PUBLISH], publisher, message, 0)


@njit(**_OPTIONS)
def _stamp_now(config, at):
    """Write the time now into the header.stamp at `at`: ROS time (/clock) or the system's."""
    clock = config[T_CLOCK_SLOT]
    if clock >= 0:
        sec, nanosec = 0, 0  # ROS time before the first /clock message
        inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
        if inputs[config[T_CLOCK_INPUT] * IN_WORDS + IN_HAS_MSG] != 0:
            latest = native.f64_view(config[T_LATEST], config[T_NSCRATCH])
            sec, nanosec = int(latest[clock]), int(latest[clock + 1])
        native.store_i32(at, np.int32(sec))
        native.store_u32(at + 4, np.uint32(nanosec))
        return
    ts = config[T_TIMESPEC]
    if config[T_GETTIME] == 0:  # offline without /clock: no time at all
        native.store_i64(ts, 0)
        native.store_i64(ts + 8, 0)
    else:
        native.call_i32_ip(config[T_GETTIME], native.CLOCK_REALTIME, ts)
    native.store_i32(at, np.int32(native.load_i64(ts)))
    native.store_u32(at + 4, np.uint32(native.load_i64(ts + 8)))


@njit(**_OPTIONS)
def publish(config):
    """Patch the outputs into the result templates and publish them; 0 or the rcl code."""
    if config[T_PUBLISH] != 0 and native.call_bool_p(config[T_CONTEXT_VALID],
                                                     config[T_CONTEXT]) == 0:
        return 0
    outputs = native.f64_view(config[T_OUTPUTS], config[T_NOUTPUTS])
    pubs = native.i64_view(config[T_PUBS], config[T_NPUBS] * PB_WORDS)
    for p in range(config[T_NPUBS]):
        row = p * PB_WORDS
        data = pubs[row + PB_DATA]
        which = pubs[row + PB_OUTPUT]
        if which < 0:
            for k in range(config[T_NOUTPUTS]):
                native.store_f64(data + 8 * k, outputs[k])
        else:
            native.store_f64(data, outputs[which])
        code = _send(config, pubs[row + PB_PUBLISHER], pubs[row + PB_MSG])
        if code != native.RCL_RET_OK:
            return code
    typed = native.i64_view(config[T_TYPED], config[T_NTYPED] * TY_WORDS)
    for t in range(config[T_NTYPED]):
        row = t * TY_WORDS
        typed[row + TY_COUNT] += 1
        if typed[row + TY_COUNT] < typed[row + TY_EVERY]:
            continue
        typed[row + TY_COUNT] = 0
        action = templates.decide(typed[row + TY_DEPS], typed[row + TY_NDEPS], config[T_ARENA],
                                  typed[row + TY_ON_STALE], typed[row + TY_STATE])
        if action == templates.SKIP:
            continue
        s = row + TY_STALE_SET if action == templates.SEND_STALE else row
        raw = typed[s + TY_RAW]
        if typed[s + TY_NOW_AT] >= 0:
            _stamp_now(config, raw + typed[s + TY_NOW_AT])
        templates.patch_rows(typed[s + TY_ROWS], typed[s + TY_NROWS], config[T_ARENA],
                             config[T_NARENA], raw, typed[s + TY_WORK])
        code = _send(config, typed[row + TY_PUBLISHER], typed[s + TY_MSG])
        if code != native.RCL_RET_OK:
            return code
        typed[row + TY_PUBLISHED] += 1
    return 0


@njit(**_OPTIONS)
def step(config, dt):
    """Run the kernel on the arena, as `Batch.step` does."""
    kernel._step(config[T_KERNEL], dt)


@njit(**_OPTIONS)
def _evaluate(config, now, dt):
    """Copy the latest fields, step, publish: 0 or STATUS_PUBLISH_FAILED, and the rcl code."""
    copy_latest(config, now)
    step(config, dt)
    code = publish(config)
    if code != 0:
        return STATUS_PUBLISH_FAILED, code
    return 0, 0


@njit(**_OPTIONS)
def _take_all(config, now, triggers):
    """Take every input's newest message (the trigger inputs' too only if `triggers`)."""
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    for i in range(config[T_NINPUTS]):
        if triggers or inputs[i * IN_WORDS + IN_TRIGGER] == 0:
            code = _take(config, i, now)
            if code != 0:
                return code
    return 0


@njit(**_OPTIONS)
def _tick(config, now, dt):
    """One tick after the sleep: take, decode, copy, step, publish. 0 or a STATUS_*."""
    code = _take_all(config, now, True)
    if code != 0:
        return STATUS_TAKE_FAILED, code
    return _evaluate(config, now, dt)


@njit(**_OPTIONS)
def _record(control, start, end, period, wake, target):
    """Store one evaluation's statistics into the `loop.LoopStats` arrays."""
    counters = native.i64_view(control[C_COUNTERS], 5)
    history = control[C_HISTORY]
    k = counters[loop_.TICKS] % history
    native.i64_view(control[C_LOOP_RING], history)[k] = end - start
    native.i64_view(control[C_PERIOD_RING], history)[k] = period
    native.i64_view(control[C_WAKE_RING], history)[k] = wake
    native.i64_view(control[C_TARGET_RING], history)[k] = target
    if end - start > counters[loop_.LOOP_MAX_EVER_NS]:
        counters[loop_.LOOP_MAX_EVER_NS] = end - start
    counters[loop_.LAST_TICK_NS] = end
    counters[loop_.TICKS] += 1


@njit(**_OPTIONS)
def _wait_trigger(control, config, deadline):
    """
    Block in `rcl_wait` on the trigger subscriptions until one has a message or `deadline`.

    Returns (WAKE_*, rcl code). The wait is cut into slices so a stop or a posted config is
    seen within `SLEEP_SLICE_NS` (rcl_wait is not interrupted by signals).
    """
    ws = config[T_WAIT_SET]
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    while True:
        if control[C_STOP] != 0:
            return WAKE_STOP, 0
        if control[C_POST] != 0:
            return WAKE_POSTED, 0
        now = _now(control)
        if now >= deadline:
            return WAKE_DEADLINE, 0
        code = native.call_i32_p(config[T_WAIT_CLEAR], ws)
        for i in range(config[T_NINPUTS]):
            if code == 0 and inputs[i * IN_WORDS + IN_TRIGGER] != 0:
                code = native.call_i32_ppp(config[T_WAIT_ADD], ws, inputs[i * IN_WORDS + IN_SUB],
                                           0)
        if code != 0:
            return WAKE_FAILED, code
        left = deadline - now
        code = native.call_i32_pl(config[T_WAIT], ws,
                                  left if left < SLEEP_SLICE_NS else SLEEP_SLICE_NS)
        if code == native.RCL_RET_OK:
            return WAKE_MESSAGE, 0
        if code != native.RCL_RET_TIMEOUT:
            return WAKE_FAILED, code


@njit(**_OPTIONS)
def _triggered(control, config, prev_start):
    """
    Wait for trigger messages and evaluate once per message taken (or once at the fallback).

    Returns (STATUS_* or 0, rcl code, start of the last evaluation). Every other input is taken
    to its newest message once per wake-up; the trigger inputs one message per evaluation, so
    none is skipped and none evaluated twice.
    """
    deadline = prev_start + config[T_MAX_PERIOD_NS]
    state, code = _wait_trigger(control, config, deadline)
    if state == WAKE_STOP:
        return STATUS_STOPPED, 0, prev_start
    if state == WAKE_FAILED:
        return STATUS_WAIT_FAILED, code, prev_start
    if state == WAKE_POSTED:
        return 0, 0, prev_start
    woke = _now(control)
    code = _take_all(config, woke, False)
    if code != 0:
        return STATUS_TAKE_FAILED, code, prev_start
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    evaluated = 0
    for i in range(config[T_NINPUTS]):
        while inputs[i * IN_WORDS + IN_TRIGGER] != 0:
            start = _now(control)
            got, code = _take_one(config, i, start)
            if code != 0:
                return STATUS_TAKE_FAILED, code, prev_start
            if not got:
                break
            status, code = _evaluate(config, start, (start - prev_start) / 1e9)
            if status != 0:
                return status, code, prev_start
            # Triggered: the period is the message spacing, the wake-up the time to evaluate.
            _record(control, start, _now(control), start - prev_start, start - woke,
                    start - prev_start)
            prev_start = start
            evaluated += 1
    if evaluated == 0 and state == WAKE_DEADLINE:
        start = _now(control)
        status, code = _evaluate(config, start, (start - prev_start) / 1e9)
        if status != 0:
            return status, code, prev_start
        _record(control, start, _now(control), start - prev_start, start - deadline,
                config[T_MAX_PERIOD_NS])
        prev_start = start
    return 0, 0, prev_start


@njit(cache=True, nogil=True, **_OPTIONS)  # compiled on first use (tests)
def tick_once(config_address, now, dt):
    """Run one tick of the config at `config_address` now (tests): 0 or a STATUS_* code."""
    config = native.i64_view(config_address, CONFIG_WORDS)
    status, _ = _tick(config, now, dt)
    return status


@njit(cache=True, nogil=True, **_OPTIONS)  # compiled on first use (tests)
def feed(config_address, i, packed):
    """Hand input `i` the bytes described at `packed`: [buf, length, now] (tests)."""
    config = native.i64_view(config_address, CONFIG_WORDS)
    args = native.i64_view(packed, 3)
    return 1 if on_bytes(config, i, args[0], args[1], args[2]) else 0


@njit(cache=True, nogil=True, **_OPTIONS)  # compiled on first use (tests)
def copy_and_step(config_address, now, dt):
    """Run the tick without takes or publishing: copy into the arena, step (tests)."""
    config = native.i64_view(config_address, CONFIG_WORDS)
    copy_latest(config, now)
    step(config, dt)
    return 0


# ----- offline: the same tick fed with bytes instead of rcl takes (tests, replay) ----------
@njit(cache=True, nogil=True, **_OPTIONS)
def begin(config_address):
    """Start running the config at `config_address`, as the loop does when it takes it."""
    _begin(native.i64_view(config_address, CONFIG_WORDS))
    return 0


@njit(cache=True, nogil=True, **_OPTIONS)
def offer(config_address, packed):
    """
    Hand input `packed[0]` the newest of `packed[4]` messages taken at `packed[3]`.

    Its `packed[2]` bytes are at `packed[1]`, and stay alive while the config may prime
    from them.
    """
    config = native.i64_view(config_address, CONFIG_WORDS)
    args = native.i64_view(packed, 5)
    i = args[0]
    inputs = native.i64_view(config[T_INPUTS], config[T_NINPUTS] * IN_WORDS)
    row = i * IN_WORDS
    msg = inputs[row + IN_MSG]
    native.store_i64(msg + native.BUFFER_AT, args[1])
    native.store_i64(msg + native.LENGTH_AT, args[2])
    poll = native.i64_view(inputs[row + IN_POLL], PS_WORDS)
    poll[PS_TAKEN] += args[4]
    _took(config, i, args[3])
    return 0


@njit(cache=True, nogil=True, **_OPTIONS)
def tick_offline(config_address, now, dt):
    """Run the tick after its takes: copy, step, publish (offline: typed outputs only patched)."""
    config = native.i64_view(config_address, CONFIG_WORDS)
    copy_latest(config, now)
    step(config, dt)
    return publish(config)


@njit('int64(int64)', cache=True, nogil=True, **_OPTIONS)
def tick_loop(control_address):
    """Run ticks until `C_STOP` or an rcl error; return the final STATUS_*."""
    control = native.i64_view(control_address, CONTROL_WORDS)
    counters = native.i64_view(control[C_COUNTERS], 5)
    config_address = control[C_CONFIG]
    if config_address == 0:
        control[C_STATUS] = STATUS_NO_CONFIG
        return STATUS_NO_CONFIG
    config = native.i64_view(config_address, CONFIG_WORDS)
    control[C_ACK] = config_address
    control[C_STATUS] = STATUS_RUNNING
    _begin(config)
    prev_start = _now(control)
    deadline = prev_start + control[C_PERIOD_NS]
    while True:
        if config[T_NTRIGGER] == 0 and not _sleep_until(control, deadline):
            break
        posted = control[C_POST]
        if posted != 0:
            config_address = posted
            config = native.i64_view(config_address, CONFIG_WORDS)
            control[C_POST] = 0
            _begin(config)
            control[C_ACK] = config_address
            counters[loop_.SWAPS] += 1
        if config[T_NTRIGGER] != 0:
            status, code, prev_start = _triggered(control, config, prev_start)
            if status == STATUS_STOPPED:
                break
            if status != 0:
                control[C_ERROR_CODE] = code
                control[C_STATUS] = status
                return status
            # A switch to periodic ticks one period after the last evaluation.
            deadline = prev_start + control[C_PERIOD_NS]
            continue
        start = _now(control)
        status, code = _tick(config, start, (start - prev_start) / 1e9)
        if status != 0:
            control[C_ERROR_CODE] = code
            control[C_STATUS] = status
            return status
        end = _now(control)
        period = control[C_PERIOD_NS]
        _record(control, start, end, start - prev_start, start - deadline, period)
        prev_start = start
        deadline += period
        if end > deadline:
            counters[loop_.OVERRUNS] += 1
            deadline = end + period
    control[C_STATUS] = STATUS_STOPPED
    return STATUS_STOPPED


def _ensure_fresh(expected=FINGERPRINT):
    """Recompile what is cached here if it was compiled from other sources; say so."""
    if _fingerprint() == expected:
        return False
    for dispatcher in (_fingerprint, tick_loop, tick_once, feed, copy_and_step, begin, offer,
                       tick_offline):
        dispatcher.recompile()
    return True


RECOMPILED = _ensure_fresh()


def warm():
    """
    Install-time warm-up of what the node compiles here: `tick_loop`, compiled at import.

    `tick_once`, `feed` and `copy_and_step` serve the tests and stay compiled on first use.
    """
    return tick_loop


# ----- the Python side ----------------------------------------------------------------------
class CompiledInput:
    """
    One input subscription as the compiled loop takes it: its rcl pointer and take buffer.

    Shared by successive configs while the subscription is unchanged; `poll` holds what
    survives a program swap (the latest message is the take buffer's bytes). The caller keeps
    the rclpy subscription alive while a loop uses it. The diagnostics read its counters.
    """

    transport = 'rcl (compiled)'

    def __init__(self, symbols, subscription, depth=5, name='', input_config=None):
        from .rcl import entity_pointer, Unavailable as RclUnavailable
        try:
            self.pointer = entity_pointer(subscription, 'subscription')
        except RclUnavailable as exc:
            raise native.Unavailable(str(exc)) from None
        self.name = name
        self.input_config = input_config
        self.subscription = subscription
        self.buffer = symbols.serialized_buffer()
        self.info = np.zeros(native.MESSAGE_INFO_SIZE // 8, np.int64)
        self.poll = np.zeros(PS_WORDS, np.int64)
        self.poll[PS_CAPACITY] = self.buffer.capacity
        self.single = 1 if depth == 1 else 0

    def same_subscription(self, input_config):
        """Whether this subscription serves `input_config` as is (timeout changes don't count)."""
        a, b = self.input_config, input_config
        return (a.topic, a.type_name, a.qos, a.depth) == (b.topic, b.type_name, b.qos, b.depth)

    @property
    def received(self):
        """Messages taken over the subscription's life."""
        return int(self.poll[PS_TAKEN])

    @property
    def undecodable(self):
        return int(self.poll[PS_UNDECODABLE])

    @property
    def buffer_grown(self):
        return int(self.poll[PS_GROWN])

    def close(self):
        self.buffer.close()


class OfflineInput:
    """
    An input fed by `offer` instead of rcl takes (tests, replay).

    It has no subscription, and a serialized-message struct that points at the caller's bytes.
    """

    pointer = 0
    single = 0

    def __init__(self, name=''):
        self.name = name
        self.message = np.zeros(native.SERIALIZED_SIZE // 8, np.int64)
        self.address = self.message.ctypes.data
        self.buffer = self  # the config reads `buffer.address`, as of a `SerializedBuffer`
        self.info = np.zeros(1, np.int64)
        self.poll = np.zeros(PS_WORDS, np.int64)


def slot_reads(names, paths):
    """
    Per batch input path, what the loop reads into its slot: `(input index, steps)`.

    `steps` are the path's steps after the input's name, or a META_* kind for a message-time
    path (`imu.@fresh`, ...). Raises `plans.Unsupported` for a path naming no input.
    """
    from ..language.functions import split_meta
    from ..msgtypes.inputs import META_ORDER, parse_path
    result = []
    for path in paths:
        meta = split_meta(path)
        root, steps = (meta[0], META_ORDER[meta[1]]) if meta is not None else parse_path(path)
        if root not in names:
            raise plans.Unsupported(f"input path '{path}' has no input '{root}'")
        result.append((names.index(root), steps))
    return result


_STAMP_STEPS = (('header', 'stamp', 'sec'), ('header', 'stamp', 'nanosec'))
_CLOCK_STEPS = (('clock', 'sec'), ('clock', 'nanosec'))


class TickConfig:
    """
    One program's data for the compiled loop: the int64 block whose address the loop runs.

    - `batch`: the compiled `Batch` (its packed block is stepped in place).
    - `inputs`: `[(CompiledInput, timeout_s, msg_type)]` in the order of `slot_inputs`' indices.
    - `slot_inputs`: per batch input slot, `(input index, steps after the root)`, steps being
      a META_* kind for message time (`slot_reads` makes them).
    - `publishers`: `[(output index or -1 for the first `n_results`, rclpy publisher,
      template bytearray, byte offset of its first double)]`.
    - `typed`: `[(templates.TypedOutput, rclpy publisher or None)]`, patched and published by
      the loop from the TypedOutput's own template (its counts stay the diagnostics').
    - `clock`: a `CompiledInput` on `/clock` (`rosgraph_msgs/Clock`) under use_sim_time: typed
      outputs stamped 'now' take its time; None: the system clock.
    - `trigger`: indices into `inputs` of the trigger inputs (empty: periodic); the loop then
      evaluates once per message taken from them, and `max_period` (s) after the previous
      evaluation without one. Its wait set is made here, off the tick (`close()` finalises it).
    With `symbols` None the config runs offline (tests, replay): nothing is taken or published
    through rcl, typed outputs are patched and counted, and it is periodic. Raises
    `plans.Unsupported` when an input's paths have no plan, `native.Unavailable` when an entity
    has no rcl pointer.
    """

    def __init__(self, symbols, context_pointer, batch, inputs, slot_inputs, publishers,
                 n_results=None, typed=(), clock=None, trigger=(), max_period=0.1):
        from ..msgtypes.inputs import has_stamp, META_BEFORE
        self.batch = batch
        self.inputs = tuple(inputs)
        nslots = len(slot_inputs)
        rows = [(i, steps) for i, steps in slot_inputs]
        stamp_slot = {}
        for i, (_, _, msg_type) in enumerate(self.inputs):
            kinds = {steps for owner, steps in slot_inputs
                     if owner == i and isinstance(steps, int)}
            if kinds & {META_STAMP, META_MDT} and has_stamp(msg_type):
                stamp_slot[i] = len(rows)
                rows.extend((i, steps) for steps in _STAMP_STEPS)
        all_inputs = list(self.inputs)
        clock_slot = clock_input = -1
        if clock is not None:
            from rosgraph_msgs.msg import Clock
            clock_input, clock_slot = len(all_inputs), len(rows)
            all_inputs.append((clock, 0.0, Clock))
            rows.extend((clock_input, steps) for steps in _CLOCK_STEPS)
        self.clock = clock
        n = len(rows)
        self.slots = np.zeros(max(n, 1) * SL_WORDS, np.int64)
        self.scratch = np.zeros(3 * max(n, 1), np.float64)
        self.latest = np.zeros(3 * max(n, 1), np.float64)
        self.table = np.zeros(max(len(all_inputs), 1) * IN_WORDS, np.int64)
        self.plans = []
        for s, (i, steps) in enumerate(rows):
            row = s * SL_WORDS
            self.slots[row + SL_INPUT] = i
            self.slots[row + SL_OOR_LEN] = -1
            self.slots[row + SL_META] = (
                steps if isinstance(steps, int) else META_HIDDEN if s >= nslots else -1)
        for i, (compiled, timeout, msg_type) in enumerate(all_inputs):
            reads = [(s, steps) for s, (owner, steps) in enumerate(rows)
                     if owner == i and not isinstance(steps, int)]
            try:
                plan = plans.build_plan(msg_type, reads) if reads else None
            except plans.Unsupported as exc:
                raise plans.Unsupported(f"input '{compiled.name}': {exc}") from None
            self.plans.append(plan)
            row = i * IN_WORDS
            self.table[row + IN_SUB] = compiled.pointer
            self.table[row + IN_MSG] = compiled.buffer.address
            self.table[row + IN_INFO] = compiled.info.ctypes.data
            self.table[row + IN_PLAN] = plan.ctypes.data if plan is not None else 0
            self.table[row + IN_TIMEOUT_NS] = int(round(timeout * 1e9))
            self.table[row + IN_SINGLE] = compiled.single
            self.table[row + IN_POLL] = compiled.poll.ctypes.data
            self.table[row + IN_STAMP_SLOT] = stamp_slot.get(i, -1)
            self.table[row + IN_META:row + IN_META + 5] = -1
        for s, (i, steps) in enumerate(slot_inputs):
            if isinstance(steps, int):
                self.table[i * IN_WORDS + IN_META + steps] = s
        # Publishing: each template stays alive (and the same size) while the config lives.
        self.publishers = []
        self.pubs = np.zeros(max(len(publishers), 1) * PB_WORDS, np.int64)
        for p, (which, publisher, raw, data_at) in enumerate(publishers):
            pointer, array, message = self._message(publisher, raw)
            row = p * PB_WORDS
            self.pubs[row + PB_OUTPUT] = which
            self.pubs[row + PB_PUBLISHER] = pointer
            self.pubs[row + PB_MSG] = message.ctypes.data
            self.pubs[row + PB_DATA] = ctypes.addressof(array) + data_at
        self.typed = tuple(typed)
        self.typed_table = np.zeros(max(len(self.typed), 1) * TY_WORDS, np.int64)
        for t, (output, publisher) in enumerate(self.typed):
            row = t * TY_WORDS
            pointer = self._typed_set(row, publisher, output.template,
                                      output._now_at if output._now is not None else None)
            if output.stale_template is not None:
                self._typed_set(row + TY_STALE_SET, publisher, output.stale_template,
                                output._stale_now_at if output._now is not None else None)
            self.typed_table[row + TY_EVERY] = output.every
            self.typed_table[row + TY_COUNT] = output.every - 1  # the first tick publishes
            self.typed_table[row + TY_PUBLISHER] = pointer
            self.typed_table[row + TY_DEPS] = output.deps.ctypes.data
            self.typed_table[row + TY_NDEPS] = len(output.deps)
            self.typed_table[row + TY_ON_STALE] = output.on_stale
            self.typed_table[row + TY_STATE] = output.state.ctypes.data
        self._timespec = np.zeros(2, np.int64)
        self._captured = None
        self.carry = np.zeros(3, np.int64)
        self.carried_from = None
        block = batch._block
        layout = batch.program.layout
        mem = _mem_address(batch)
        self.block = np.zeros(CONFIG_WORDS, np.int64)
        b = self.block
        b[T_KERNEL] = block.ctypes.data
        b[T_NINPUTS] = len(all_inputs)
        b[T_INPUTS] = self.table.ctypes.data
        b[T_NSLOTS] = nslots
        b[T_NSCRATCH] = n
        b[T_SLOTS] = self.slots.ctypes.data
        b[T_IN_VALUES] = mem + 8 * layout.input_base
        b[T_IN_VALID] = mem + 8 * layout.valid_base
        b[T_OUTPUTS] = mem + 8 * layout.output_base
        b[T_NOUTPUTS] = layout.n_outputs if n_results is None else n_results
        b[T_SCRATCH] = self.scratch.ctypes.data
        b[T_LATEST] = self.latest.ctypes.data
        b[T_NPUBS] = len(publishers)
        b[T_PUBS] = self.pubs.ctypes.data
        b[T_CONTEXT] = context_pointer
        if symbols is not None:
            b[T_TAKE] = symbols.take
            b[T_PUBLISH] = symbols.publish
            b[T_CONTEXT_VALID] = symbols.context_is_valid
            b[T_GETTIME] = symbols.clock_gettime
        b[T_NTYPED] = len(self.typed)
        b[T_TYPED] = self.typed_table.ctypes.data
        b[T_ARENA] = mem
        b[T_NARENA] = layout.n_slots
        b[T_TIMESPEC] = self._timespec.ctypes.data
        b[T_NCARRY] = 0
        b[T_CARRY] = self.carry.ctypes.data
        b[T_CLOCK_SLOT] = clock_slot
        b[T_CLOCK_INPUT] = clock_input
        self.trigger = tuple(trigger) if symbols is not None else ()
        self.wait_set = None
        if self.trigger:
            self.wait_set = symbols.wait_set(context_pointer, len(self.trigger))
            for i in self.trigger:
                self.table[i * IN_WORDS + IN_TRIGGER] = 1
            b[T_NTRIGGER] = len(self.trigger)
            b[T_WAIT_SET] = self.wait_set.address
            b[T_MAX_PERIOD_NS] = max(1, int(round(max_period * 1e9)))
            b[T_WAIT_CLEAR] = symbols.wait_set_clear
            b[T_WAIT_ADD] = symbols.wait_set_add_subscription
            b[T_WAIT] = symbols.wait
        for s, (_, steps) in enumerate(slot_inputs):
            # Message time before the first message; always valid (as the bindings set it).
            meta = isinstance(steps, int)
            batch.input_valid[s] = 1.0 if meta else 0.0
            if meta:
                batch.input_buffer[s] = META_BEFORE[steps]

    @property
    def triggered(self):
        return bool(self.trigger)

    def close(self):
        """Finalise the wait set (no loop runs this config any more)."""
        if self.wait_set is not None:
            self.wait_set.close()

    def carry_state_from(self, old_batch):
        """
        Have the loop take over `old_batch`'s state where meanings match, when it swaps to this.

        As `Tick.carry_state_from_non_rt`: planned here (`arena.state_plan`), copied by the loop
        between the old program's last tick and this one's first. Returns the blocks planned.
        """
        from ..engine.arena import state_plan
        plan = state_plan(old_batch.program, self.batch.program)
        old_mem, new_mem = _mem_address(old_batch), _mem_address(self.batch)
        old_state = old_mem + 8 * old_batch.program.layout.state_base
        new_state = new_mem + 8 * self.batch.program.layout.state_base
        rows = [(old_state + 8 * src, new_state + 8 * dst, size) for src, dst, size in plan]
        rows.append((old_mem + 8 * pg.T_SLOT, new_mem + 8 * pg.T_SLOT, 1))  # t goes on
        self.carry = np.array(rows, np.int64).ravel()
        self.carried_from = old_batch  # alive until the loop has copied
        self.block[T_CARRY] = self.carry.ctypes.data
        self.block[T_NCARRY] = len(rows)
        return len(plan)

    def _typed_set(self, at, publisher, template, now_at):
        """Fill one message's words (TY_ROWS .. TY_NOW_AT) at `at`; return the publisher."""
        pointer, array, message = self._message(publisher, template.raw)
        self.typed_table[at + TY_ROWS] = template.rows.ctypes.data
        self.typed_table[at + TY_NROWS] = len(template.rows)
        self.typed_table[at + TY_RAW] = ctypes.addressof(array)
        self.typed_table[at + TY_WORK] = template.work.ctypes.data
        self.typed_table[at + TY_MSG] = message.ctypes.data
        self.typed_table[at + TY_NOW_AT] = -1 if now_at is None else now_at
        return pointer

    def _message(self, publisher, raw):
        """(rcl publisher pointer, ctypes view of `raw`, serialized message pointing at it)."""
        from .rcl import entity_pointer, Unavailable as RclUnavailable
        try:
            pointer = 0 if publisher is None else entity_pointer(publisher, 'publisher')
        except RclUnavailable as exc:
            raise native.Unavailable(str(exc)) from None
        array = (ctypes.c_char * len(raw)).from_buffer(raw)
        message = np.zeros(native.SERIALIZED_SIZE // 8, np.int64)
        message[0] = ctypes.addressof(array)
        message[1] = message[2] = len(raw)
        # rmw never resizes a message it publishes; a zero allocator is never called.
        self.publishers.append((publisher, raw, array, message))
        return pointer, array, message

    def published(self, t, captured=False):
        """Return the publications of typed output `t` (as of `capture()`, if `captured`)."""
        table = self._captured if captured and self._captured is not None else self.typed_table
        return int(table[t * TY_WORDS + TY_PUBLISHED])

    def capture(self):
        """Freeze the counters the diagnostics read beside a loop snapshot (executor side)."""
        self._captured = self.typed_table.copy()

    @property
    def address(self):
        return self.block.ctypes.data

    # ----- reading (executor side: statistics for the diagnostics) --------------------------
    def received(self, i):
        return int(self.table[i * IN_WORDS + IN_RECEIVED])

    def received_ns(self, i):
        """Receive time (monotonic ns) of input `i`'s latest message, or None."""
        row = i * IN_WORDS
        return int(self.table[row + IN_RECV_NS]) if self.table[row + IN_HAS_MSG] else None

    def slot_counters(self, s):
        """
        Return slot `s`'s counters for the diagnostics.

        (out of range, non-finite, length when out of range or -1, non-finite now, names
        missing, name missing now).
        """
        row = s * SL_WORDS
        return (int(self.slots[row + SL_OUT_OF_RANGE]), int(self.slots[row + SL_NON_FINITE]),
                int(self.slots[row + SL_OOR_LEN]), bool(self.slots[row + SL_NON_FINITE_NOW]),
                int(self.slots[row + SL_MISSING]), bool(self.slots[row + SL_MISSING_NOW]))


def _mem_address(batch):
    """Address of the float64 arena inside `batch`'s packed block."""
    return batch._block.ctypes.data + 8 * int(batch._block[pg.H_MEM])


class CompiledLoop:
    """
    The compiled tick loop in a thread of its own, with `TickLoop`'s non-real-time API.

    `start(config)`, `swap_from_non_rt(config)` (returns when the loop acknowledged, so the old
    config may be dropped), `set_rate_from_non_rt`, `stop`, `snapshot` (the same `LoopSnapshot`
    as the Python loop). `failed` is set, with `error`, when the loop ended on an rcl error.
    """

    def __init__(self, symbols, rate_hz, *, history=loop_.DEFAULT_HISTORY,
                 timer_slack_ns=loop_.DEFAULT_TIMER_SLACK_NS, name='arena_eval_tick'):
        self.stats = loop_.LoopStats(history)
        self.control = np.zeros(CONTROL_WORDS, np.int64)
        self._timespec = np.zeros(4, np.int64)
        c = self.control
        c[C_COUNTERS] = self.stats.counters.ctypes.data
        c[C_LOOP_RING] = self.stats.loop_ns.ctypes.data
        c[C_PERIOD_RING] = self.stats.period_ns.ctypes.data
        c[C_WAKE_RING] = self.stats.wake_ns.ctypes.data
        c[C_TARGET_RING] = self.stats.target_ns.ctypes.data
        c[C_HISTORY] = self.stats.history
        c[C_NANOSLEEP] = symbols.clock_nanosleep
        c[C_GETTIME] = symbols.clock_gettime
        c[C_TIMESPEC] = self._timespec.ctypes.data
        self.set_rate_from_non_rt(rate_hz)
        self.timer_slack_ns = timer_slack_ns
        self.timer_slack_set = False
        self.config = None
        self._retired = []
        self.error = None
        self.error_text = None
        self.failed = threading.Event()
        self._name = name
        self._thread = None
        # Serializes swaps from the executor side (the loop side never takes it).
        self._swap_lock = threading.Lock()

    @property
    def rate_hz(self):
        return 1e9 / int(self.control[C_PERIOD_NS])

    @property
    def period_ns(self):
        return int(self.control[C_PERIOD_NS])

    def set_rate_from_non_rt(self, rate_hz):
        rate_hz = float(rate_hz)
        if not rate_hz > 0.0:
            raise ValueError(f'rate_hz must be positive, got {rate_hz}')
        self.control[C_PERIOD_NS] = max(1, round(1e9 / rate_hz))

    def snapshot(self, since_ticks=None):
        return self.stats.snapshot(self.rate_hz, since_ticks)

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self, config):
        # A stopped loop may start again (a managed node's activate after a deactivate).
        if self.running:
            raise RuntimeError('CompiledLoop already running')
        self.config = config
        self.control[C_CONFIG] = config.address
        self.control[C_STOP] = 0
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _run(self):
        if self.timer_slack_ns is not None:
            self.timer_slack_set = loop_.set_timer_slack(self.timer_slack_ns)
        status = tick_loop(self.control.ctypes.data)  # returns only on stop or an rcl error
        if status in (STATUS_TAKE_FAILED, STATUS_PUBLISH_FAILED, STATUS_WAIT_FAILED):
            what = {STATUS_TAKE_FAILED: 'rcl_take_serialized_message',
                    STATUS_PUBLISH_FAILED: 'rcl_publish_serialized_message',
                    STATUS_WAIT_FAILED: 'rcl_wait'}[status]
            self.error = RclError(f'{what} failed with rcl code {int(self.control[C_ERROR_CODE])}')
            self.error_text = str(self.error)
            self.failed.set()

    def swap_from_non_rt(self, config, timeout=1.0):
        """
        Post `config` and wait until the loop uses it; True then, and the old one is released.

        On a timeout (False) both stay referenced: the loop may still take the posted one, so
        neither may be freed (`swap_done` says when it did).
        """
        with self._swap_lock:
            if not self.running:
                self.control[C_CONFIG] = config.address
                self.config = config
                return True
            self._retired.append(self.config)
            self.config = config
            self.control[C_POST] = config.address
            wait = threading.Event()
            end = time.monotonic() + timeout
            while self.control[C_ACK] != config.address:
                if time.monotonic() >= end or not self.running:
                    return False
                wait.wait(0.0002)
            self._retired.clear()  # the loop reads only the acknowledged config now
            return True

    def swap_done(self):
        """Whether the loop runs the latest posted config (then older ones are released)."""
        done = self.config is not None and self.control[C_ACK] == self.config.address
        if done and self._retired:
            with self._swap_lock:
                if self.control[C_ACK] == self.config.address:
                    self._retired.clear()
        return done

    def close(self):
        """Finalise the wait sets of the configs this loop ran (after it has stopped)."""
        if self.running:
            return False
        for config in [*self._retired, self.config]:
            if config is not None:
                config.close()
        return True

    def stop(self, timeout=1.0):
        """Ask the loop to stop and join it; True when it has ended."""
        self.control[C_STOP] = 1
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


# ----- the node's side: a program for the compiled loop, as the diagnostics read it ----------
COMPILED = 'compiled'
TRANSPORT = CompiledInput.transport


class CompiledBindings:
    """`InputBindings.facts`, `set_type_mismatch` and `set_qos_mismatch` over a `TickConfig`."""

    def __init__(self, config, batch, tick_config):
        from ..engine.compile import path_root
        self.config = config
        self.names = tuple(config.inputs)
        self.paths = tuple(batch.inputs)
        self._tick_config = tick_config
        self._slot_input = [self.names.index(path_root(p)) for p in self.paths]
        # Written by the executor thread only (graph checks), read by `facts`.
        self._mismatch = [None] * len(self.names)
        self._qos_mismatch = [None] * len(self.names)

    def set_type_mismatch(self, input_name, other_type):
        self._mismatch[self.names.index(input_name)] = other_type

    def set_qos_mismatch(self, input_name, problem):
        self._qos_mismatch[self.names.index(input_name)] = problem

    def facts(self, now_ns):
        """Per input, an `inputs.InputFacts` (read without a lock: may be one tick behind)."""
        from ..msgtypes.inputs import InputFacts
        tc = self._tick_config
        result = []
        for i, name in enumerate(self.names):
            received_ns = tc.received_ns(i)
            has_message = received_ns is not None
            counters = [(s, tc.slot_counters(s)) for s, owner in enumerate(self._slot_input)
                        if owner == i]
            result.append(InputFacts(
                name=name, config=self.config.inputs[name], has_message=has_message,
                age_ms=(now_ns - received_ns) / 1e6 if has_message else None,
                received=tc.received(i), other_type=self._mismatch[i],
                qos_problem=self._qos_mismatch[i],
                out_of_range_now=tuple((self.paths[s], c[2]) for s, c in counters if c[2] >= 0),
                non_finite_now=tuple(self.paths[s] for s, c in counters
                                     if has_message and c[3]),
                out_of_range=sum(c[0] for _, c in counters),
                non_finite=sum(c[1] for _, c in counters),
                missing_now=tuple(self.paths[s] for s, c in counters if has_message and c[5]),
                missing_name=sum(c[4] for _, c in counters)))
        return result


class CompiledTyped:
    """A typed output as the diagnostics read it, its publications counted by the loop."""

    def __init__(self, output, tick_config, index):
        self.template = output.template
        self.name = output.name
        self.topic = output.topic
        self.type_name = output.type_name
        self.every = output.every
        self.on_stale = output.on_stale
        self._output = output
        self._tick_config = tick_config
        self._index = index

    @property
    def stale(self):
        """Say whether an input its values depend on was stale on its last due tick."""
        return self._output.stale

    @property
    def stale_ticks(self):
        return self._output.stale_ticks

    @property
    def published(self):
        """Publications as of the last loop snapshot (the loop runs on meanwhile)."""
        return self._tick_config.published(self._index, captured=True)


class _PlanDecoder:
    cdr_view = True  # decoded from the CDR bytes (by a plan), as the diagnostics report it


def _no_clock():  # pragma: no cover - the loop writes 'now' stamps itself
    raise RuntimeError("the compiled loop stamps 'now' itself")


class CompiledTick:
    """
    One program for the compiled loop: its `TickConfig` and what the diagnostics read.

    `batch`, `bindings`, `pollers` (the `CompiledInput`s), `decoders`, `publish_transport`,
    `nrt_baseline`, `results`, `typed`, and `kind` ('compiled').
    """

    kind = COMPILED

    def __init__(self, config, batch, tick_config, inputs, results):
        self.carried = None
        self.config = tick_config
        self.batch = batch
        self.bindings = CompiledBindings(config, batch, tick_config)
        self.pollers = tuple(inputs)
        self.decoders = {p.name: _PlanDecoder() for p in self.pollers}
        self.publish_transport = TRANSPORT
        # Read by the diagnostics side; set in the node's parameter callback before the swap.
        self.nrt_baseline = None
        self.results = results
        self.typed = tuple(CompiledTyped(output, tick_config, t)
                           for t, (output, _) in enumerate(tick_config.typed))

    def carry_state_from_non_rt(self, old_batch):
        """Plan taking over `old_batch`'s state on this program's first tick."""
        self.carried = self.config.carry_state_from(old_batch)
        return self.carried


class Compiler:
    """
    Build `CompiledTick`s for a node: its rcl entry points and context.

    `Compiler(node, rcl_library)` raises `native.Unavailable` (with the reason) where the
    compiled loop cannot run (a missing library or symbol): the node cannot start then.
    """

    def __init__(self, node, rcl_library=None):
        from . import rcl
        self.symbols = native.Symbols(rcl_name=rcl_library or rcl.LIBRARY)
        self.context_pointer = node.context.handle.pointer
        self._node = node
        self._clock = None

    def _clock_input(self, subscription):
        """Return the loop's own take of `/clock` (use_sim_time: ROS time), made once."""
        if self._clock is None:
            self._clock = CompiledInput(self.symbols, subscription, 1, 'clock')
        return self._clock

    def build(self, config, batch, inputs, results_publisher, individual_publishers, typed=(),
              clock=None):
        """
        Return the `CompiledTick` running `batch` over `inputs` (`CompiledInput`s).

        `typed` pairs each `outputs.OutputConfig` with its publisher; `clock()` returns the
        node's polled `/clock` subscription, taken by the loop for typed outputs stamped 'now'
        under use_sim_time.
        """
        from ..msgtypes.templates import float64_template, results_template, TypedOutput
        names = [i.name for i in inputs]
        slots = slot_reads(names, batch.inputs)
        typed_outputs = [
            (TypedOutput(output, batch, _no_publisher, _no_clock,
                         topic=getattr(pub, 'topic_name', output.topic)), pub)
            for output, pub in typed]
        clock_input = None
        if any(output._now is not None for output, _ in typed_outputs) and (
                self._node.get_parameter('use_sim_time').value):
            clock_input = self._clock_input(clock())
        results = tuple(batch.outputs[:len(config.expressions)])
        raw, _ = results_template(results)
        publishers = [(-1, results_publisher, raw, len(raw) - 8 * len(results))]
        for i, publisher in enumerate(individual_publishers):
            raw, _ = float64_template()
            publishers.append((i, publisher, raw, len(raw) - 8))
        tick_config = TickConfig(
            self.symbols, self.context_pointer, batch,
            [(c, config.inputs[c.name].timeout, c.input_config.msg_type) for c in inputs],
            slots, publishers, n_results=len(results), typed=typed_outputs, clock=clock_input,
            trigger=[names.index(name) for name in config.trigger],
            max_period=config.max_period)
        return CompiledTick(config, batch, tick_config, inputs, results)


def _no_publisher(raw):
    return None  # the loop publishes typed outputs itself


class TickRunner:
    """
    The node's loop: the compiled loop, with program swaps counted by ticket.

    `kind` says which tick runs ('compiled'); `swap_done(ticket)` whether a swap happened.
    """

    kind = COMPILED

    def __init__(self, tick, rate_hz, symbols):
        """Run `tick` (a `CompiledTick`) through `symbols`' rcl entry points."""
        # Swap tickets: (ticket, config address) posted to the loop and not yet seen
        # acknowledged; `_acked` is the newest acknowledged ticket (executor thread only).
        self._tickets = 0
        self._pending = []
        self._acked = 0
        self.current_tick = tick
        self._loop = CompiledLoop(symbols, rate_hz)

    @property
    def stats(self):
        return self._loop.stats

    @property
    def failed(self):
        return self._loop.failed

    @property
    def error_text(self):
        return self._loop.error_text

    @property
    def rate_hz(self):
        return self._loop.rate_hz

    def start(self):
        self._loop.start(self.current_tick.config)

    def stop(self, timeout=1.0):
        return self._loop.stop(timeout)

    def snapshot(self, since_ticks=None):
        snap = self._loop.snapshot(since_ticks)
        # The loop runs on while the diagnostics are assembled: their counts are this moment's.
        self.current_tick.config.capture()
        if self.current_tick.config.triggered:
            # Evaluations follow the messages: no target rate to fall short of.
            snap = dataclasses.replace(snap, target_hz=0.0)
        return snap

    def close(self):
        """Finalise the loop's wait sets once it has stopped (before the context goes)."""
        return self._loop.close()

    def set_rate_from_non_rt(self, rate_hz):
        self._loop.set_rate_from_non_rt(rate_hz)

    def swap_tick_from_non_rt(self, tick):
        """Run `tick` from the next tick on; return a ticket for `swap_done`."""
        self._tickets += 1
        ticket = self._tickets
        self._pending.append((ticket, tick.config.address))
        self.current_tick = tick
        # At 1 kHz the loop acknowledges within a tick or two; at slow rates `swap_done`
        # sees the acknowledgement later (both configs stay referenced until then).
        self._loop.swap_from_non_rt(tick.config, timeout=SWAP_WAIT_S)
        self._see_acks()
        return ticket

    def _see_acks(self):
        self._loop.swap_done()
        acked = int(self._loop.control[C_ACK])
        for k, (ticket, address) in enumerate(self._pending):
            if address == acked:
                self._acked = max(self._acked, ticket)
                del self._pending[:k + 1]
                return

    def swap_done(self, ticket):
        """Whether the swap with `ticket` has happened (older programs are no longer run)."""
        self._see_acks()
        return ticket <= self._acked
