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
Tests of the compiled tick loop's timing and of its statistics: deadlines, stopping, rates.

The loop (`rt/compiled_tick.CompiledLoop`) runs an empty program (no inputs, nothing
published). No assertion here is about speed: they check behaviour that holds on any machine
(a sleep never returns early, counters count, a stop is seen within a sleep slice).
"""


import ctypes
import sys
import threading
import time
import tracemalloc

from arena_eval.engine import native
from arena_eval.engine.arena import compile_batch
from arena_eval.rt import compiled_tick as ct
from arena_eval.rt.loop import LoopStats, set_timer_slack
import pytest


def empty_loop(rate_hz):
    batch = compile_batch(['c = 1 + t'])
    config = ct.TickConfig(None, 0, batch, [], [], [])
    return ct.CompiledLoop(native.symbols(), rate_hz), config, batch


def test_ticks_run_at_absolute_deadlines_and_statistics_count_them():
    loop, config, batch = empty_loop(500.0)
    before = time.monotonic_ns()
    loop.start(config)
    time.sleep(0.2)
    assert loop.stop(timeout=2.0)
    snap = loop.snapshot()
    assert 20 < snap.ticks <= (time.monotonic_ns() - before) // 2_000_000
    assert snap.samples == snap.ticks and snap.target_hz == pytest.approx(500.0)
    # t is the sum of the measured dts: the kernel ran once per tick.
    assert batch.output_buffer[0] > 1.0 and not loop.failed.is_set()
    # A sleep never returns early: no tick starts before its deadline.
    assert (loop.stats.wake_ns[:snap.ticks] >= 0).all()


def test_stop_before_start_and_twice_is_harmless_and_a_slow_rate_stops_at_once():
    loop, config, _ = empty_loop(1.0)
    assert loop.stop()
    loop.start(config)
    time.sleep(0.05)
    start = time.monotonic()
    assert loop.stop(timeout=2.0) and loop.stop()
    assert time.monotonic() - start < 2.0


def test_bad_rate_is_rejected():
    for rate in (0.0, -1.0, float('nan')):
        with pytest.raises(ValueError):
            empty_loop(rate)


def test_loop_thread_sets_its_timer_slack():
    loop, config, _ = empty_loop(1000.0)
    loop.start(config)
    time.sleep(0.02)
    assert loop.stop(timeout=2.0)
    assert loop.timer_slack_set is sys.platform.startswith('linux')


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
