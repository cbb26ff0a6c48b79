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
Loop statistics and timing settings of the compiled tick loop (`rt/compiled_tick.py`).

`LoopStats` keeps the loop's counters and rings in preallocated numpy arrays, which the
compiled loop writes by address; `snapshot()` turns them into a `LoopSnapshot` for the
diagnostics. The loop's timing rules (absolute deadlines, an overrun realigns the next deadline
to now + period, never a burst of catch-up ticks) are the compiled loop's; `set_timer_slack`
sets its thread's timer slack.
"""

import ctypes
from dataclasses import dataclass
import sys
import time

import numpy as np

# prctl(2) option: the thread's timer slack in ns. The default 50 us slack lets the kernel delay a
# 1 ms sleep's wake-up to batch timers; measured here: p50 wake-up 115-130 us late with the
# default, 60-70 us with 1 us (docs/design.md).
PR_SET_TIMERSLACK = 29
DEFAULT_TIMER_SLACK_NS = 1000
DEFAULT_HISTORY = 4096

# Counter slots in `LoopStats.counters` (one preallocated int64 array).
TICKS = 0
OVERRUNS = 1
LOOP_MAX_EVER_NS = 2
LAST_TICK_NS = 3
SWAPS = 4
_N_COUNTERS = 5


def set_timer_slack(slack_ns):
    """Set the calling thread's timer slack (Linux); return False where that is unavailable."""
    if not sys.platform.startswith('linux'):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_TIMERSLACK, ctypes.c_ulong(int(slack_ns)), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


@dataclass(frozen=True)
class LoopSnapshot:
    """
    Loop statistics at one moment, over the window of the last `samples` ticks (times in us).

    `burst_max` is the longest run of consecutive ticks that started less than half a period
    after the previous one: a catch-up burst. Absolute deadlines allow one short period after a
    late wake-up; the overrun policy (realign, never catch up) makes two in a row impossible, so
    it stays <= 1.
    """

    target_hz: float
    ticks: int
    overruns: int
    swaps: int
    samples: int
    loop_mean_us: float
    loop_p99_us: float
    loop_max_us: float
    loop_max_ever_us: float
    period_mean_us: float
    jitter_p99_us: float
    actual_hz: float
    wake_p50_us: float
    wake_p99_us: float
    burst_max: int
    last_tick_ns: int
    stamp_ns: int


def _longest_run(flags):
    """Return the length of the longest run of True in a boolean array."""
    if not flags.any():
        return 0
    # Positions where runs start and end, from the edges of the 0/1 signal padded with zeros.
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


class LoopStats:
    """
    Loop statistics in preallocated arrays: written by the tick side, read by `snapshot()`.

    `record()` runs on every tick and only stores integers into existing numpy arrays. Readers
    copy the arrays under the GIL; a snapshot may be one tick inconsistent between fields, which
    is fine for statistics read once a second.
    """

    def __init__(self, history=DEFAULT_HISTORY):
        self.history = int(history)
        if self.history < 2:
            raise ValueError('history must be at least 2')
        # Ring buffers indexed by tick count % history. Written only by the tick side.
        self.loop_ns = np.zeros(self.history, np.int64)
        self.period_ns = np.zeros(self.history, np.int64)
        self.wake_ns = np.zeros(self.history, np.int64)
        self.target_ns = np.zeros(self.history, np.int64)
        self.counters = np.zeros(_N_COUNTERS, np.int64)
        # The tick side stores through memoryviews of the same memory: an item store costs
        # about half of numpy's.
        self._loop = memoryview(self.loop_ns)
        self._period = memoryview(self.period_ns)
        self._wake = memoryview(self.wake_ns)
        self._target = memoryview(self.target_ns)
        self._counters = memoryview(self.counters)

    def record(self, start_ns, end_ns, period_ns, wake_late_ns, target_ns):
        """Store one tick (tick side only; allocation-free apart from transient ints)."""
        c = self._counters
        i = c[TICKS] % self.history
        loop = end_ns - start_ns
        self._loop[i] = loop
        self._period[i] = period_ns
        self._wake[i] = wake_late_ns
        self._target[i] = target_ns
        if loop > c[LOOP_MAX_EVER_NS]:
            c[LOOP_MAX_EVER_NS] = loop
        c[LAST_TICK_NS] = end_ns
        c[TICKS] += 1

    def count_overrun(self):
        self._counters[OVERRUNS] += 1

    def count_swap(self):
        self._counters[SWAPS] += 1

    def snapshot(self, target_hz, since_ticks=None):
        """
        Summarize the last ticks (all in the ring, or those after tick count `since_ticks`).

        Allocates; meant for the diagnostics side at ~1 Hz, never for the tick.
        """
        counters = self.counters.copy()
        loop = self.loop_ns.copy()
        period = self.period_ns.copy()
        wake = self.wake_ns.copy()
        target = self.target_ns.copy()
        ticks = int(counters[TICKS])
        n = min(ticks, self.history)
        if since_ticks is not None:
            n = max(0, min(n, ticks - int(since_ticks)))
        idx = (np.arange(ticks - n, ticks) % self.history) if n else np.zeros(0, np.int64)
        nan = float('nan')
        if n:
            lw, pw, ww, tw = loop[idx], period[idx], wake[idx], target[idx]
            loop_mean = float(lw.mean()) / 1e3
            loop_p99 = float(np.percentile(lw, 99)) / 1e3
            loop_max = float(lw.max()) / 1e3
            period_mean = float(pw.mean()) / 1e3
            jitter_p99 = float(np.percentile(np.abs(pw - tw), 99)) / 1e3
            total = float(pw.sum())
            actual_hz = n * 1e9 / total if total > 0 else nan
            wake_p50, wake_p99 = (float(v) / 1e3 for v in np.percentile(ww, [50, 99]))
            burst = _longest_run(pw * 2 < tw)
        else:
            loop_mean = loop_p99 = loop_max = period_mean = jitter_p99 = nan
            wake_p50 = wake_p99 = nan
            actual_hz = 0.0
            burst = 0
        return LoopSnapshot(
            target_hz=float(target_hz), ticks=ticks, overruns=int(counters[OVERRUNS]),
            swaps=int(counters[SWAPS]), samples=n, loop_mean_us=loop_mean, loop_p99_us=loop_p99,
            loop_max_us=loop_max, loop_max_ever_us=float(counters[LOOP_MAX_EVER_NS]) / 1e3,
            period_mean_us=period_mean, jitter_p99_us=jitter_p99, actual_hz=actual_hz,
            wake_p50_us=wake_p50, wake_p99_us=wake_p99, burst_max=burst,
            last_tick_ns=int(counters[LAST_TICK_NS]), stamp_ns=time.monotonic_ns())
