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
The numba interpreter: runs a packed `Program` block over its arena, one call per step.

`run(base, dt)` takes the integer address of the block that `arena.py` packed (header, rows,
dependency lists, float64 arena) and the step's `dt`. It views the parts with `numba.carray` on
pointers made from that address, so the call passes no array: numba allocates one NRT object
per array argument per call, and each argument costs call time. `step(base, dt)` is the same
step for compiled callers, which inline it: `fastcall.py` puts it behind CPython's own calling
convention and binds it to a block as `Batch.step`.

The kernel never allocates, never raises and never looks anything up by name: it is an `if/elif`
chain over opcodes (frozen at compile time from `functions.py`), each case a few lines, the
frequent ones first; LLVM turns it into a jump table. IEEE arithmetic throughout
(`error_model='numpy'`): 1/0 is inf, 0/0 is nan.

numba's cache only tracks this file's source, so a change of opcode numbers or of the block
layout in `functions.py` / `program.py` would silently run stale machine code. `FINGERPRINT`
hashes those constants; `_fingerprint()` returns the value frozen into the cached code, and if
they differ at import everything here is recompiled (and its cache rewritten), and `RECOMPILED`
says so.

>>> run_holding_gil.__name__
'run_holding_gil'
"""

import math
from pathlib import Path
import zlib

import numba
from numba import njit
import numpy as np

from . import program as pg
from .pointers import f64_ptr as _f64_ptr, i64_ptr as _i64_ptr, u64_ptr as _u64_ptr
from ..language import functions as fn


def _fingerprint_of(*modules):
    """
    CRC of every upper-case int constant of `modules`: what the compiled kernel freezes.

    The source of `pointers.py` counts too: its intrinsics are inlined into the kernel, and
    numba's cache only tracks this file.
    """
    items = []
    for module in modules:
        items += sorted((module.__name__, k, v) for k, v in vars(module).items()
                        if k.isupper() and isinstance(v, int) and not isinstance(v, bool))
    pointers = Path(__file__).with_name('pointers.py').read_bytes()
    return zlib.crc32(repr(items).encode() + pointers)


FINGERPRINT = _fingerprint_of(fn, pg)

_NAN = math.nan
_DEG = 180.0 / math.pi  # the same expressions as functions.TABLE['deg'/'rad'].fold
_RAD = math.pi / 180.0


@njit('int64()', cache=True)
def _fingerprint():
    return FINGERPRINT


# Helpers are not cached on their own: they are compiled into `run` and cached with it. They
# must not raise either: IEEE division everywhere, no bounds checks.
_HELPER = {'error_model': 'numpy', 'boundscheck': False}


@njit(inline='always', **_HELPER)
def _round(x):
    # Same steps as functions.round_half_away; trunc of a value in (-1, 0] gives +0.0 there.
    t = np.trunc(x)
    if abs(x - t) >= 0.5:
        t += math.copysign(1.0, x)
    if t == 0.0:
        t = 0.0
    return t


@njit(inline='always', **_HELPER)
def _sign(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    if x == 0.0:
        return 0.0
    return x


@njit(inline='always', **_HELPER)
def _min(x, y):
    if x != x or y != y:
        return _NAN
    return y if y < x else x


@njit(inline='always', **_HELPER)
def _max(x, y):
    if x != x or y != y:
        return _NAN
    return y if y > x else x


@njit(**_HELPER)
def _commit(m, d, s, y, x, param):
    """
    Store a filter's new value `y` from input `x` and parameter `param`, and output it.

    A nan `y` is output but not stored: if `x` or `param` is nan the sample is skipped (the
    state stays), otherwise infinities cancelled and the filter restarts at the next step.
    """
    if y == y:
        m[s] = 1.0
        m[s + 1] = y
    elif x == x and param == param:
        m[s] = 0.0
    m[d] = y


@njit(**_HELPER)
def _lowpass(m, d, x, tau, s, dt):
    if m[s] == 0.0 or tau <= 0.0:
        y = x
    else:
        y = m[s + 1]
        y += -math.expm1(-dt / tau) * (x - y)  # nan when tau is nan
    _commit(m, d, s, y, x, tau)


@njit(**_HELPER)
def _ema(m, d, x, alpha, s):
    if m[s] == 0.0:
        y = x
    else:
        a = 0.0 if alpha < 0.0 else (1.0 if alpha > 1.0 else alpha)
        y = a * x + (1.0 - a) * m[s + 1]
    _commit(m, d, s, y, x, alpha)


@njit(**_HELPER)
def _rate_limit(m, d, x, max_rate, s, dt):
    step = max_rate * dt
    if m[s] == 0.0:
        y = x
    elif step != step:
        y = _NAN
    else:
        y = m[s + 1]
        if step < 0.0:
            step = 0.0
        diff = x - y
        if diff > step:
            y += step
        elif diff < -step:
            y -= step
        else:
            y = x
    _commit(m, d, s, y, x, step)


@njit(**_HELPER)
def _integral(m, d, x, s, dt):
    """State [initialized, last x, sum]; same nan rules as `_commit`."""
    if m[s] == 0.0:
        total = 0.0 if x == x else _NAN
    else:
        total = m[s + 2] + (x + m[s + 1]) * 0.5 * dt
    if total == total:
        m[s] = 1.0
        m[s + 1] = x
        m[s + 2] = total
    elif x == x and dt == dt:
        m[s] = 0.0
    m[d] = total


@njit(**_HELPER)
def _prev_like(m, op, d, x, init, s, dt):
    """PREV, DELTA, DDT: state [initialized, last x]; PREV gives `init` on its first tick."""
    first = m[s] == 0.0
    last = m[s + 1]
    if op == fn.PREV:
        m[d] = init if first else last
    elif op == fn.DELTA:
        m[d] = 0.0 if first else x - last
    else:
        m[d] = (x - last) / dt if not first and dt > 0.0 else 0.0
    m[s] = 1.0
    m[s + 1] = x


@njit(inline='always', **_HELPER)
def _add_compensated(m, s, v):
    """Add `v` to the sum in m[s + 3] with its rounding error kept in m[s] (Neumaier)."""
    total = m[s + 3]
    t = total + v
    if abs(total) >= abs(v):
        m[s] += (total - t) + v
    else:
        m[s] += (v - t) + total
    m[s + 3] = t


@njit(**_HELPER)
def _window(m, op, d, x, n, s):
    """
    MEAN, MINIMUM, MAXIMUM over the last min(count, n) values of x.

    State [compensation, count, position, sum, ring[n]]; the count doubles as the initialized
    flag. The mean keeps a compensated running sum (what leaves the window is subtracted without
    a trace of rounding) and re-sums the ring when it wraps and while the sum is not finite, so
    a nan or inf leaves the mean exactly when it leaves the window.
    """
    ring = s + 4
    count = int(m[s + 1])
    pos = int(m[s + 2])
    if op == fn.MEAN and count == n:
        _add_compensated(m, s, -m[ring + pos])
    m[ring + pos] = x
    pos += 1
    wrapped = pos == n
    if wrapped:
        pos = 0
    if count < n:
        count += 1
    m[s + 1] = count
    m[s + 2] = pos
    if op == fn.MEAN:
        _add_compensated(m, s, x)
        if wrapped or not math.isfinite(m[s + 3]):
            m[s] = 0.0
            m[s + 3] = 0.0
            for i in range(count):
                _add_compensated(m, s, m[ring + i])
        total = m[s + 3]
        # An infinite sum makes the compensation nan: it means nothing then.
        m[d] = ((total + m[s]) if math.isfinite(total) else total) / count
        return
    best = m[ring]
    for i in range(count):
        v = m[ring + i]
        if v != v:
            best = v
            break
        if (v < best) if op == fn.MINIMUM else (v > best):
            best = v
    m[d] = best


@njit(**_HELPER)
def _time_window(m, op, d, x, seconds, s, dt):
    """
    MEAN_S, MINIMUM_S, MAXIMUM_S over the last `seconds` of this call's steps.

    State [initialized, bucket, time into it, unused, ring of TIME_BUCKETS (value, count)]. The
    time is the sum of the dts this call ran (a non-positive or nan dt counts 0); every
    `seconds / TIME_BUCKETS` of it the ring moves on one bucket and forgets the oldest, so the
    window holds the current bucket and the TIME_BUCKETS - 1 before it: between
    `seconds * (1 - 1/TIME_BUCKETS)` and `seconds` of steps.
    """
    n = fn.TIME_BUCKETS
    ring = s + 4
    if m[s] == 0.0:
        for k in range(2 * n):
            m[ring + k] = 0.0
        m[s] = 1.0
        m[s + 1] = 0.0
        m[s + 2] = 0.0
    else:
        width = seconds / n
        elapsed = m[s + 2] + (dt if dt > 0.0 else 0.0)
        pos = int(m[s + 1])
        moved = 0
        while elapsed >= width and moved < n:
            elapsed -= width
            moved += 1
            pos = pos + 1 if pos + 1 < n else 0
            m[ring + 2 * pos] = 0.0
            m[ring + 2 * pos + 1] = 0.0
        if elapsed >= width:  # a gap longer than the window: it is empty now
            elapsed = np.fmod(elapsed, width)
        if not elapsed == elapsed:
            elapsed = 0.0
        m[s + 1] = pos
        m[s + 2] = elapsed
    at = ring + 2 * int(m[s + 1])
    if m[at + 1] == 0.0 or op == fn.MEAN_S:
        m[at] = x if m[at + 1] == 0.0 else m[at] + x
    elif op == fn.MINIMUM_S:
        m[at] = _min(m[at], x)
    else:
        m[at] = _max(m[at], x)
    m[at + 1] += 1.0
    total = 0.0
    count = 0.0
    best = x
    for k in range(n):
        c = m[ring + 2 * k + 1]
        if c == 0.0:
            continue
        v = m[ring + 2 * k]
        if op == fn.MEAN_S:
            total += v
            count += c
        elif op == fn.MINIMUM_S:
            best = _min(best, v)
        else:
            best = _max(best, v)
    m[d] = total / count if op == fn.MEAN_S else best


@njit(**_HELPER)
def _ddt_msg(m, d, x, mdt, s):
    """
    DDT_MSG: state [initialized, x at the last message, the held derivative].

    `mdt` is 0 on a tick without a new message of the input, else the seconds since its
    previous message (inf at its first): the derivative changes only when a message arrives.
    """
    if m[s] == 0.0:
        m[s] = 1.0
        m[s + 1] = x
        m[s + 2] = 0.0
    elif mdt != 0.0:
        m[s + 2] = (x - m[s + 1]) / mdt if mdt > 0.0 and mdt < np.inf else 0.0
        m[s + 1] = x
    m[d] = m[s + 2]


@njit(**_HELPER)
def _held(m, d, cond, seconds, s, dt):
    """HELD: state [in a run of nonzero cond, seconds since the run's first step]."""
    if cond != 0.0:
        if m[s] != 0.0:
            m[s + 1] += dt if dt > 0.0 else 0.0
        else:
            m[s] = 1.0
            m[s + 1] = 0.0
    else:
        m[s] = 0.0
        m[s + 1] = 0.0
    m[d] = 1.0 if m[s] != 0.0 and m[s + 1] >= seconds else 0.0


@njit(**_HELPER)
def _hold(m, d, x, cond, s):
    if m[s] == 0.0 or cond != 0.0:
        m[s] = 1.0
        m[s + 1] = x
    m[d] = m[s + 1]


@njit(inline='always', **_HELPER)
def _row(code, i):
    """Row `i` as unsigned fields: indexing the arena with them needs no negative-index fixup."""
    return numba.carray(_u64_ptr(code + 8 * pg.ROW * i), (pg.ROW,))


@njit(inline='always', **_HELPER)
def _deps_valid(m, deps, valid, row):
    return _all_valid(m, deps, valid, np.int64(row[3]), np.int64(row[4]))


@njit(inline='always', **_HELPER)
def _all_valid(m, deps, valid, start, count):
    for i in range(start, start + count):
        if m[valid + deps[i]] == 0.0:
            return False
    return True


# A GUARD row whose inputs are not all fresh sets `skip`, and the stateful row after it (the only
# kind a guard precedes) is then skipped: its state holds.
@njit(inline='always', **_HELPER)
def _execute(m, code, n_exec, dt, deps, valid, fresh, restart):
    """Run the rows before the OUTPUT rows, one dispatch per row (GUARD: see above)."""
    skip = False
    for i in range(n_exec):
        row = _row(code, i)
        op = np.int64(row[0])
        d = row[1]
        a = row[2]
        b = row[3]
        if op == fn.MUL:
            m[d] = m[a] * m[b]
        elif op == fn.ADD:
            m[d] = m[a] + m[b]
        elif op == pg.MULADD:
            m[d] = m[a] * m[b] + m[row[4]]
        elif op == fn.SUB:
            m[d] = m[a] - m[b]
        elif op == fn.DIV:
            m[d] = m[a] / m[b]
        elif op == fn.NEG:
            m[d] = -m[a]
        elif op == fn.COPY:
            m[d] = m[a]
        elif op == fn.POW:
            m[d] = m[a] ** m[b]
        elif op == fn.MOD:
            m[d] = np.fmod(m[a], m[b])
        elif op == fn.LT:
            m[d] = 1.0 if m[a] < m[b] else 0.0
        elif op == fn.LE:
            m[d] = 1.0 if m[a] <= m[b] else 0.0
        elif op == fn.GT:
            m[d] = 1.0 if m[a] > m[b] else 0.0
        elif op == fn.GE:
            m[d] = 1.0 if m[a] >= m[b] else 0.0
        elif op == fn.EQ:
            m[d] = 1.0 if m[a] == m[b] else 0.0
        elif op == fn.NE:
            m[d] = 1.0 if m[a] != m[b] else 0.0
        elif op == fn.AND:
            m[d] = 1.0 if m[a] != 0.0 and m[b] != 0.0 else 0.0
        elif op == fn.OR:
            m[d] = 1.0 if m[a] != 0.0 or m[b] != 0.0 else 0.0
        elif op == fn.NOT:
            m[d] = 1.0 if m[a] == 0.0 else 0.0
        elif op == fn.WHERE:
            m[d] = m[b] if m[a] != 0.0 else m[row[4]]
        elif op == fn.SQRT:
            m[d] = math.sqrt(m[a])
        elif op == fn.ATAN2:
            m[d] = math.atan2(m[a], m[b])
        elif op == fn.HYPOT:
            m[d] = math.hypot(m[a], m[b])
        elif op == fn.MIN:
            m[d] = _min(m[a], m[b])
        elif op == fn.MAX:
            m[d] = _max(m[a], m[b])
        elif op == fn.CLAMP:
            m[d] = _min(_max(m[a], m[b]), m[row[4]])
        elif op == fn.ABS:
            m[d] = abs(m[a])
        elif op == fn.SIN:
            m[d] = math.sin(m[a])
        elif op == fn.COS:
            m[d] = math.cos(m[a])
        elif op == fn.TAN:
            m[d] = math.tan(m[a])
        elif op == fn.ASIN:
            m[d] = math.asin(m[a])
        elif op == fn.ACOS:
            m[d] = math.acos(m[a])
        elif op == fn.ATAN:
            m[d] = math.atan(m[a])
        elif op == fn.SINH:
            m[d] = math.sinh(m[a])
        elif op == fn.COSH:
            m[d] = math.cosh(m[a])
        elif op == fn.TANH:
            m[d] = math.tanh(m[a])
        elif op == fn.ASINH:
            m[d] = math.asinh(m[a])
        elif op == fn.ACOSH:
            m[d] = math.acosh(m[a])
        elif op == fn.ATANH:
            m[d] = math.atanh(m[a])
        elif op == fn.EXP:
            m[d] = math.exp(m[a])
        elif op == fn.EXPM1:
            m[d] = math.expm1(m[a])
        elif op == fn.LOG:
            m[d] = math.log(m[a])
        elif op == fn.LOG1P:
            m[d] = math.log1p(m[a])
        elif op == fn.LOG2:
            m[d] = np.log2(m[a])  # math.log2 needs numba >= 0.60 (Ubuntu 24.04 has 0.59)
        elif op == fn.LOG10:
            m[d] = math.log10(m[a])
        elif op == fn.CBRT:
            m[d] = np.cbrt(m[a])
        elif op == fn.SIGN:
            m[d] = _sign(m[a])
        elif op == fn.FLOOR:
            m[d] = np.floor(m[a])
        elif op == fn.CEIL:
            m[d] = np.ceil(m[a])
        elif op == fn.ROUND:
            m[d] = _round(m[a])
        elif op == fn.TRUNC:
            m[d] = np.trunc(m[a])
        elif op == fn.DEG:
            m[d] = m[a] * _DEG
        elif op == fn.RAD:
            m[d] = m[a] * _RAD
        elif op == pg.GUARD:
            if not fresh and not _all_valid(m, deps, valid, np.int64(a), np.int64(b)):
                skip = True
                if restart:
                    for k in range(np.int64(row[4])):
                        m[d + k] = 0.0
        elif skip:
            skip = False
        elif op == pg.DELAY:
            s = np.int64(row[4])
            m[d] = m[s + 1] if m[s] != 0.0 else m[b]
        elif op == pg.STORE:
            s = np.int64(row[4])
            m[s] = 1.0
            m[s + 1] = m[a]
        elif op == fn.LOWPASS:
            _lowpass(m, d, m[a], m[b], np.int64(row[4]), dt)
        elif op == fn.PREV or op == fn.DELTA or op == fn.DDT:
            _prev_like(m, op, d, m[a], m[b], np.int64(row[4]), dt)
        elif op == fn.INTEGRAL:
            _integral(m, d, m[a], np.int64(row[4]), dt)
        elif op == fn.EMA:
            _ema(m, d, m[a], m[b], np.int64(row[4]))
        elif op == fn.RATE_LIMIT:
            _rate_limit(m, d, m[a], m[b], np.int64(row[4]), dt)
        elif op == fn.MEAN or op == fn.MINIMUM or op == fn.MAXIMUM:
            _window(m, op, d, m[a], np.int64(b), np.int64(row[4]))
        elif op == fn.HOLD:
            _hold(m, d, m[a], m[b], np.int64(row[4]))
        elif op == fn.MEAN_S or op == fn.MINIMUM_S or op == fn.MAXIMUM_S:
            _time_window(m, op, d, m[a], m[b], np.int64(row[4]), dt)
        elif op == fn.HELD:
            _held(m, d, m[a], m[b], np.int64(row[4]), dt)
        elif op == fn.DDT_MSG:
            _ddt_msg(m, d, m[a], m[b], np.int64(row[4]))


@njit(**_HELPER)
def _step(base, dt):
    """Run one step of the block at address `base`: set dt and t, execute every row."""
    head = numba.carray(_i64_ptr(base), (pg.HEADER_WORDS,))
    code = base + 8 * head[pg.H_CODE]
    deps = numba.carray(_i64_ptr(base + 8 * head[pg.H_DEPS]), (head[pg.H_NDEPS],))
    m = numba.carray(_f64_ptr(base + 8 * head[pg.H_MEM]), (head[pg.H_NMEM],))
    m[pg.DT_SLOT] = dt
    m[pg.T_SLOT] += dt
    valid = head[pg.H_VALID]
    fresh = True
    for i in range(head[pg.H_NINPUTS]):
        if m[valid + i] == 0.0:
            fresh = False
    hold = head[pg.H_POLICY] == pg.POLICY_HOLD
    outputs = head[pg.H_OUTPUTS]
    shadow = head[pg.H_SHADOW]
    if hold and not fresh:
        for i in range(head[pg.H_NOUTPUTS]):
            m[shadow + i] = m[outputs + i]
    n_exec = head[pg.H_NEXEC]
    _execute(m, code, n_exec, dt, deps, valid, fresh, head[pg.H_STALE_STATE] == pg.STATE_RESTART)
    # Copy rows: outputs whose value lives elsewhere (an input, a constant, a shared register).
    n_copy = n_exec + head[pg.H_NCOPY]
    for i in range(n_exec, n_copy):
        row = _row(code, i)
        if fresh or _deps_valid(m, deps, valid, row):
            m[row[1]] = m[row[2]]
        elif not hold:
            m[row[1]] = _NAN
    if fresh:
        return
    # Direct rows: the value was computed into the output slot; undo it if an input is stale.
    for i in range(n_copy, head[pg.H_NOPS]):
        row = _row(code, i)
        if not _deps_valid(m, deps, valid, row):
            d = np.int64(row[1])
            m[d] = m[shadow + d - outputs] if hold else _NAN


# The step for compiled callers (the fast-call entry, a compiled tick), which inline it.
step = _step
# What `run`/`run_holding_gil` are compiled for: the argument types alone, as a call from Python
# looks them up in numba's cache ('void(int64, float64)' would be another cache entry, and the
# first call of each process would compile again).
SIGNATURE = (numba.types.int64, numba.types.float64)


# Both compiled (or loaded from the cache) on first use; fastcall.py binds them to a block.
@njit(cache=True, nogil=True, **_HELPER)
def run(base, dt):
    """Run one step of the block at address `base`, releasing the GIL while it runs."""
    _step(base, dt)


@njit(cache=True, **_HELPER)
def run_holding_gil(base, dt):
    """Run one step of the block at address `base`, keeping the GIL (cheaper to call)."""
    _step(base, dt)


def _ensure_fresh(expected=FINGERPRINT):
    """Recompile everything cached here if the cached code froze other constants; say so."""
    if _fingerprint() == expected:
        return False
    for dispatcher in (_fingerprint, run, run_holding_gil):
        dispatcher.recompile()  # flushes the caches of those not compiled yet
    return True


RECOMPILED = _ensure_fresh()


def warm():
    """Compile (or load from the cache) what is compiled here on first use (install time)."""
    for dispatcher in (run, run_holding_gil):
        dispatcher.compile(SIGNATURE)
