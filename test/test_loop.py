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
Tests of the tick loop: deadlines, the overrun policy, handover, statistics, stopping.

No assertion here is about speed: they check behaviour that holds on any machine (a sleep never
returns early, counters count, a swap is seen from the next tick on).
"""

import ctypes
import sys
import threading
import time
import tracemalloc

from arena_eval.rt.loop import Handover, LoopStats, set_timer_slack, TickLoop
import pytest

PERIOD_NS = 1_000_000


class Recorder:
    """A tick that records (start, end, dt) of every call and can be made slow once."""

    def __init__(self, slow_at=(), slow_s=0.0):
        self.starts = []
        self.ends = []
        self.dts = []
        self.slow_at = set(slow_at)
        self.slow_s = slow_s

    def __call__(self, now_ns, dt):
        self.starts.append(now_ns)
        self.dts.append(dt)
        if len(self.starts) in self.slow_at:
            time.sleep(self.slow_s)
        self.ends.append(time.monotonic_ns())


def run_for(loop, seconds):
    loop.start()
    try:
        time.sleep(seconds)
    finally:
        assert loop.stop(timeout=2.0)


def test_ticks_run_and_statistics_count_them():
    rec = Recorder()
    loop = TickLoop(rec, rate_hz=1000.0)
    run_for(loop, 0.2)
    snap = loop.snapshot()
    assert snap.ticks == len(rec.starts) > 20
    assert snap.samples == snap.ticks
    assert snap.target_hz == pytest.approx(1000.0)
    assert rec.dts[0] > 0.0
    # dt is the time since the previous tick start, exactly.
    for i in range(1, len(rec.starts)):
        assert rec.dts[i] == pytest.approx((rec.starts[i] - rec.starts[i - 1]) / 1e9, abs=1e-12)
    assert not loop.failed.is_set()


def test_deadlines_are_absolute_so_ticks_never_outrun_the_grid():
    rec = Recorder()
    loop = TickLoop(rec, rate_hz=500.0)
    before = time.monotonic_ns()
    run_for(loop, 0.2)
    # Deadline k is at least start + (k + 1) periods (overruns only push deadlines later) and a
    # sleep never returns early, so tick k cannot start before it.
    for k, start in enumerate(rec.starts):
        assert start >= before + (k + 1) * 2_000_000


def test_overrun_is_counted_and_followed_by_no_burst():
    rec = Recorder(slow_at={20}, slow_s=0.012)
    loop = TickLoop(rec, rate_hz=1000.0)
    run_for(loop, 0.15)
    snap = loop.snapshot()
    assert snap.overruns >= 1
    slow_end = rec.ends[19]
    # The next deadline is realigned to end + period: a sleep never returns early, so the next
    # tick cannot start sooner. A catch-up policy would start ~12 ticks right away instead.
    assert rec.starts[20] - slow_end >= PERIOD_NS
    starts_soon_after = [s for s in rec.starts if slow_end < s < slow_end + 3 * PERIOD_NS]
    assert len(starts_soon_after) <= 3
    assert snap.burst_max <= 1


def test_burst_metric_counts_consecutive_short_periods():
    stats = LoopStats(history=64)
    periods = [1000, 1000, 100, 1000, 50, 40, 30, 1000, 200]
    for i, period in enumerate(periods):
        stats.record(i, i + 1, period, 0, 1000)
    assert stats.snapshot(1e6).burst_max == 3
    assert stats.snapshot(1e6, since_ticks=7).burst_max == 1
    stats = LoopStats(history=64)
    stats.record(0, 1, 1000, 0, 1000)
    assert stats.snapshot(1e6).burst_max == 0


def test_swap_takes_effect_between_ticks_and_old_tick_is_not_called_after():
    old_calls = []
    new_calls = []
    loop = TickLoop(lambda now, dt: old_calls.append(now), rate_hz=1000.0)
    loop.start()
    try:
        time.sleep(0.03)
        ticket = loop.swap_tick_from_non_rt(lambda now, dt: new_calls.append(now))
        deadline = time.monotonic() + 1.0
        while not loop.swap_done(ticket) and time.monotonic() < deadline:
            time.sleep(0.0002)
        assert loop.swap_done(ticket)
        n_old = len(old_calls)
        time.sleep(0.03)
        assert len(old_calls) == n_old
        assert new_calls and min(new_calls) > max(old_calls)
    finally:
        assert loop.stop()
    assert loop.snapshot().swaps == 1


def test_rate_change_applies_from_next_deadline():
    rec = Recorder()
    loop = TickLoop(rec, rate_hz=1000.0)
    loop.start()
    try:
        time.sleep(0.05)
        loop.set_rate_from_non_rt(100.0)
        n = len(rec.starts)
        time.sleep(0.1)
        # A 10 ms period: a sleep never returns early, so at most ~11 more ticks fit in 100 ms.
        assert len(rec.starts) - n <= 12
        assert loop.snapshot().target_hz == pytest.approx(100.0)
    finally:
        assert loop.stop()


def test_stop_wakes_a_long_wait_at_once():
    loop = TickLoop(lambda now, dt: None, rate_hz=1.0)
    loop.start()
    time.sleep(0.05)
    t = time.monotonic()
    assert loop.stop(timeout=2.0)
    # A 1 Hz loop is asleep for ~1 s here; the stop lock wakes it instead.
    assert time.monotonic() - t < 0.5
    assert loop.snapshot().ticks == 0


def test_stop_before_start_and_twice_is_harmless():
    loop = TickLoop(lambda now, dt: None, rate_hz=1000.0)
    assert loop.stop()
    loop = TickLoop(lambda now, dt: None, rate_hz=1000.0)
    loop.start()
    assert loop.stop()
    assert loop.stop()
    assert not loop.running


def test_tick_exception_is_reported_and_thread_ends():
    def bad(now, dt):
        raise ZeroDivisionError('boom')

    loop = TickLoop(bad, rate_hz=1000.0)
    loop.start()
    assert loop.failed.wait(2.0)
    assert isinstance(loop.error, ZeroDivisionError)
    assert 'boom' in loop.error_text
    assert loop.stop()


def test_bad_rate_is_rejected():
    for rate in (0.0, -1.0, float('nan')):
        with pytest.raises(ValueError):
            TickLoop(lambda now, dt: None, rate_hz=rate)
    loop = TickLoop(lambda now, dt: None, rate_hz=10.0)
    with pytest.raises(ValueError):
        loop.set_rate_from_non_rt(0.0)
    assert loop.rate_hz == pytest.approx(10.0)


def test_stats_from_known_samples():
    stats = LoopStats(history=8)
    for i in range(100):
        start = i * 1_000_000
        stats.record(start, start + (i + 1) * 1000, 1_000_000 + (i % 2) * 1000, 10_000,
                     1_000_000)
    stats.count_overrun()
    snap = stats.snapshot(1000.0)
    assert snap.ticks == 100 and snap.samples == 8 and snap.overruns == 1
    # The ring holds the last 8 ticks: loop times 93..100 us.
    assert snap.loop_mean_us == pytest.approx(96.5)
    assert snap.loop_max_us == pytest.approx(100.0)
    assert snap.loop_max_ever_us == pytest.approx(100.0)
    assert snap.period_mean_us == pytest.approx(1000.5)
    assert snap.jitter_p99_us == pytest.approx(1.0)
    assert snap.actual_hz == pytest.approx(1e9 / 1_000_500)
    assert snap.wake_p50_us == pytest.approx(10.0)
    window = stats.snapshot(1000.0, since_ticks=97)
    assert window.samples == 3
    assert window.loop_mean_us == pytest.approx(99.0)
    empty = stats.snapshot(1000.0, since_ticks=100)
    assert empty.samples == 0 and empty.actual_hz == 0.0


def test_stats_record_allocates_nothing_that_stays():
    stats = LoopStats(history=64)
    stats.record(0, 1, 1, 1, 1)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        for i in range(10_000):
            stats.record(i, i + 5, 1_000_000, 3, 1_000_000)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, 'filename')
                if 'loop.py' in str(s.traceback))
    # A leak per record would be at least 10,000 objects; a few bytes of one-off caching are not.
    assert grown < 1024


def test_handover_latest_value_wins_and_tickets_track_it():
    h = Handover()
    assert h.try_take_from_rt() is None
    t1 = h.set_from_non_rt('a')
    t2 = h.set_from_non_rt('b')
    assert t2 > t1 and not h.taken(t1)
    assert h.try_take_from_rt() == 'b'
    assert h.taken(t1) and h.taken(t2)
    assert h.try_take_from_rt() is None
    with pytest.raises(ValueError):
        h.set_from_non_rt(None)


def test_handover_real_time_side_never_waits_for_a_busy_lock():
    h = Handover()
    ticket = h.set_from_non_rt('x')
    h._lock.acquire()  # a non-RT writer in the middle of set_from_non_rt
    try:
        t = time.monotonic()
        assert h.try_take_from_rt() is None
        assert time.monotonic() - t < 0.5
        assert not h.taken(ticket)
    finally:
        h._lock.release()
    assert h.try_take_from_rt() == 'x'
    assert h.taken(ticket)
    assert not h.taken(ticket + 1)


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='prctl is Linux only')
def test_timer_slack_is_set_for_the_calling_thread():
    pr_get_timerslack = 30
    seen = {}

    def body():
        seen['ok'] = set_timer_slack(2000)
        libc = ctypes.CDLL(None, use_errno=True)
        seen['slack'] = libc.prctl(pr_get_timerslack, 0, 0, 0, 0)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert seen == {'ok': True, 'slack': 2000}


def test_loop_thread_sets_its_timer_slack():
    loop = TickLoop(lambda now, dt: None, rate_hz=1000.0, timer_slack_ns=1000)
    run_for(loop, 0.02)
    assert loop.timer_slack_set is sys.platform.startswith('linux')
