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
The tick loop: a dedicated thread that calls one function at absolute deadlines.

It owns timing only: deadlines (`deadline += period`, never `sleep(period)`, so the rate does not
drift), the overrun policy (an overrun is counted and the next deadline realigned to now + period:
never a burst of catch-up ticks), and loop statistics kept in preallocated numpy arrays. It knows
no message types and no programs: the tick is a callable `tick(now_ns, dt)` with `now_ns` from
`time.monotonic_ns()` and `dt` the seconds since the previous tick (the first tick gets the
nominal period).

The tick thread never waits for anyone. A new tick callable (a new program, new bindings) is handed
over through a `Handover` slot that the loop reads between ticks, swapping by reference.

>>> import time
>>> seen = []
>>> loop = TickLoop(lambda now_ns, dt: seen.append(dt), rate_hz=1000.0)
>>> loop.start()
>>> time.sleep(0.05)
>>> loop.stop()
True
>>> len(seen) > 10, loop.snapshot().ticks == len(seen)
(True, True)
"""

import ctypes
from dataclasses import dataclass
import sys
import threading
import time
import traceback

import numpy as np

# prctl(2) option: the thread's timer slack in ns. The default 50 us slack lets the kernel delay a
# 1 ms sleep's wake-up to batch timers; measured here: p50 wake-up 115-130 us late with the
# default, 60-70 us with 1 us (docs/design.md).
PR_SET_TIMERSLACK = 29
DEFAULT_TIMER_SLACK_NS = 1000
DEFAULT_HISTORY = 4096
# Above this much time to the deadline the thread waits on the stop lock (wakes at once on stop);
# the last stretch is a plain sleep, whose wake-up is more precise.
_LONG_WAIT_NS = 1_000_000
_SLEEP_TAIL_NS = 500_000

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


class Handover:
    """
    One value handed from non-real-time threads to the tick thread; the tick side never waits.

    realtime_tools' RealtimeBox in Python: the non-real-time side may block briefly on the lock;
    the real-time side only ever *tries* the lock and, when it is busy, leaves the value for the
    next tick. Values are handed over by reference: nothing is copied on the tick.
    """

    def __init__(self):
        # Protects _pending, _posted and _taken against each other (writers from several non-RT
        # threads, the single RT reader).
        self._lock = threading.Lock()
        self._pending = None
        self._posted = 0
        self._taken = 0

    def set_from_non_rt(self, value):
        """Post `value` (replacing one not yet taken); return a ticket to wait on."""
        if value is None:
            raise ValueError('cannot hand over None')
        with self._lock:
            self._pending = value
            self._posted += 1
            return self._posted

    def try_take_from_rt(self):
        """Return the posted value and clear the slot, or None (nothing posted, or lock busy)."""
        # Unlocked peek: a reference read is atomic under the GIL; a stale None only delays the
        # handover by one tick, and the locked section below re-reads the slot.
        if self._pending is None:
            return None
        if not self._lock.acquire(blocking=False):
            return None
        try:
            value = self._pending
            self._pending = None
            self._taken = self._posted
        finally:
            self._lock.release()
        return value

    def taken(self, ticket):
        """Whether the value posted with `ticket` (or a later one) has been taken."""
        return self._taken >= ticket


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


class TickLoop:
    """
    Call `tick(now_ns, dt)` at `rate_hz` from a dedicated thread with absolute deadlines.

    Thread-side only: `_run`. Non-real-time side: `start`, `stop`, `set_rate_from_non_rt`,
    `swap_tick_from_non_rt`, `swap_done`, `snapshot`.
    """

    def __init__(self, tick, rate_hz, *, history=DEFAULT_HISTORY,
                 timer_slack_ns=DEFAULT_TIMER_SLACK_NS, name='arena_eval_tick'):
        # The current tick callable: read and replaced only by the tick side (swaps arrive via
        # _handover), so it needs no lock.
        self._tick = tick
        self._handover = Handover()
        # Written only by set_rate_from_non_rt; read by the tick side once per tick. An int
        # attribute rebinding is atomic under the GIL, so no lock.
        self._period_ns = self._period_for(rate_hz)
        self.stats = LoopStats(history)
        self.timer_slack_ns = timer_slack_ns
        self.timer_slack_set = False
        # Held while the loop runs; `stop` releases it, which wakes a long wait at once.
        self._stop_lock = threading.Lock()
        # Set by stop(); read by the tick side between ticks.
        self._stop_requested = False
        # Written once by the tick thread when the tick raises; read after `failed` is set.
        self.error = None
        self.error_text = None
        self.failed = threading.Event()
        self._name = name
        self._thread = None

    @staticmethod
    def _period_for(rate_hz):
        rate_hz = float(rate_hz)
        if not rate_hz > 0.0:
            raise ValueError(f'rate_hz must be positive, got {rate_hz}')
        return max(1, round(1e9 / rate_hz))

    @property
    def rate_hz(self):
        return 1e9 / self._period_ns

    @property
    def period_ns(self):
        return self._period_ns

    def set_rate_from_non_rt(self, rate_hz):
        """Change the rate; the next deadline is the previous one plus the new period."""
        self._period_ns = self._period_for(rate_hz)

    def swap_tick_from_non_rt(self, tick):
        """Hand a new tick callable to the loop; it is used from the next tick. Return a ticket."""
        return self._handover.set_from_non_rt(tick)

    def swap_done(self, ticket):
        """Whether the swap with `ticket` has happened (the old callable is no longer in use)."""
        return self._handover.taken(ticket)

    @property
    def current_tick(self):
        """Return the tick callable in use (from the non-RT side: informational only)."""
        return self._tick

    def snapshot(self, since_ticks=None):
        return self.stats.snapshot(self.rate_hz, since_ticks)

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        # A stopped loop may start again (a managed node's activate after a deactivate).
        if self.running:
            raise RuntimeError('TickLoop already running')
        self._stop_lock.acquire()
        self._stop_requested = False
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout=1.0):
        """Ask the thread to stop after the current tick and join it; True when it has ended."""
        self._stop_requested = True
        if self._stop_lock.locked():
            self._stop_lock.release()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _take_swap(self):
        new = self._handover.try_take_from_rt()
        if new is not None:
            self._tick = new
            self.stats.count_swap()

    def _fail(self, exc):
        self.error = exc
        self.error_text = ''.join(traceback.format_exception(exc))
        self.failed.set()

    def _run(self):
        if self.timer_slack_ns is not None:
            self.timer_slack_set = set_timer_slack(self.timer_slack_ns)
        clock = time.monotonic_ns
        sleep = time.sleep
        stats = self.stats
        stop_lock = self._stop_lock
        period = self._period_ns
        # The first tick's dt is the time since the loop started: about one period.
        prev_start = clock()
        deadline = prev_start + period
        try:
            while not self._stop_requested:
                now = clock()
                remaining = deadline - now
                if remaining > _LONG_WAIT_NS:
                    # Sleeps through slow rates stay interruptible: stop() releases the lock.
                    if stop_lock.acquire(timeout=(remaining - _SLEEP_TAIL_NS) / 1e9):
                        break
                    remaining = deadline - clock()
                if remaining > 0:
                    sleep(remaining / 1e9)
                if self._stop_requested:
                    break
                if self._handover._pending is not None:
                    self._take_swap()
                start = clock()
                self._tick(start, (start - prev_start) / 1e9)
                end = clock()
                # Read once per tick: a rate change applies from the next deadline on.
                period = self._period_ns
                stats.record(start, end, start - prev_start, start - deadline, period)
                prev_start = start
                deadline += period
                if end > deadline:
                    # Overrun: count it and start afresh one period from now, so a late tick is
                    # never followed by a burst of catch-up ticks.
                    stats.count_overrun()
                    deadline = end + period
        except BaseException as exc:  # noqa: B036 - the thread must report, not vanish
            self._fail(exc)
