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

"""Tests of the diagnostics report: names, keys, values and levels from known statistics."""

from arena_eval.ros.diagnostics import (
    as_level,
    DiagnosticsReport,
    ERROR,
    LOOP_KEYS,
    OK,
    STALE,
    values,
    WARN,
)
from arena_eval.rt.loop import LoopStats
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
import pytest


def ticks(stats, n, *, period_ns=1_000_000, loop_ns=20_000, target_ns=1_000_000):
    base = int(stats.counters[0]) * period_ns
    for i in range(n):
        start = base + i * period_ns
        stats.record(start, start + loop_ns, period_ns, 5_000, target_ns)


def test_loop_status_has_every_key_and_ok_when_on_rate():
    stats = LoopStats(2048)
    ticks(stats, 1000)
    report = DiagnosticsReport('arena_eval')
    status = report.loop_status(stats.snapshot(1000.0), kernel_allocations=0,
                                heap_blocks_delta=3, expressions=7, program_ops=31)
    assert status.name == 'arena_eval: loop'
    assert status.hardware_id == 'arena_eval'
    assert status.level == DiagnosticStatus.OK
    kv = values(status)
    assert set(LOOP_KEYS) <= set(kv)
    assert kv['Target frequency (Hz)'] == '1000.0'
    assert kv['Actual frequency (Hz)'] == '1000.0'
    assert kv['Loop time mean (us)'] == '20.0'
    assert kv['Loop time p99 (us)'] == '20.0'
    assert kv['Loop time max (us)'] == '20.0'
    assert kv['Period jitter p99 (us)'] == '0.0'
    assert kv['Overruns'] == '0'
    assert kv['Kernel allocations'] == '0'
    assert kv['Heap blocks delta'] == '3'
    assert kv['Expressions'] == '7'
    assert kv['Program ops'] == '31'


def test_loop_warns_below_ninety_percent_of_target():
    stats = LoopStats(2048)
    ticks(stats, 100, period_ns=1_200_000)
    status = DiagnosticsReport('n').loop_status(stats.snapshot(1000.0))
    assert status.level == WARN
    assert '833.3 Hz' in status.message
    stats = LoopStats(2048)
    ticks(stats, 100, period_ns=1_100_000)
    assert DiagnosticsReport('n').loop_status(stats.snapshot(1000.0)).level == OK


def test_loop_warns_when_over_1_percent_of_the_period_overran():
    stats = LoopStats(2048)
    report = DiagnosticsReport('n')
    ticks(stats, 100)
    stats.count_overrun()
    stats.count_overrun()
    assert report.loop_status(stats.snapshot(1000.0)).level == WARN
    ticks(stats, 100)
    status = report.loop_status(stats.snapshot(1000.0, since_ticks=report.since_ticks))
    assert status.level == OK
    assert values(status)['Overruns'] == '2'
    ticks(stats, 200)
    stats.count_overrun()
    status = report.loop_status(stats.snapshot(1000.0, since_ticks=report.since_ticks))
    assert status.level == OK and status.message.endswith('(1 overrun)')
    ticks(stats, 100)
    stats.count_overrun()
    stats.count_overrun()
    status = report.loop_status(stats.snapshot(1000.0, since_ticks=report.since_ticks))
    assert status.level == WARN and status.message == '2 overruns in the last period'


def test_loop_error_when_no_tick_ran_in_the_period():
    stats = LoopStats(2048)
    report = DiagnosticsReport('n')
    status = report.loop_status(stats.snapshot(1000.0))
    assert status.level == ERROR
    ticks(stats, 10)
    assert report.loop_status(stats.snapshot(1000.0, since_ticks=report.since_ticks)).level == OK
    status = report.loop_status(stats.snapshot(1000.0, since_ticks=report.since_ticks))
    assert status.level == ERROR and 'no tick' in status.message
    assert values(status)['Actual frequency (Hz)'] == '0.0'


def test_an_idle_loop_is_ok_and_says_so():
    stats = LoopStats(2048)
    report = DiagnosticsReport('n')
    status = report.loop_status(stats.snapshot(1000.0), idle=True)
    assert status.level == OK and status.message.startswith('idle (inactive)')


def test_lifecycle_status_names_the_state():
    report = DiagnosticsReport('/robot1/n')
    for state in ('unconfigured', 'inactive', 'active', 'finalized'):
        status = report.lifecycle_status(state)
        assert (status.name, status.level, status.message) == ('/robot1/n: lifecycle', OK, state)
        assert values(status) == {'State': state,
                                  'Publishing': 'true' if state == 'active' else 'false'}
    failed = report.lifecycle_status('unconfigured', 'a.yaml:3:9: error: unknown function')
    assert failed.level == ERROR
    assert failed.message == 'unconfigured: configure failed: a.yaml:3:9: error: unknown function'
    # A failure is forgotten once the node is configured.
    assert report.lifecycle_status('inactive', 'a.yaml:3:9: error: x').level == OK


def test_window_since_previous_report_excludes_older_ticks():
    stats = LoopStats(4096)
    report = DiagnosticsReport('n')
    ticks(stats, 500, loop_ns=900_000)
    report.loop_status(stats.snapshot(1000.0))
    ticks(stats, 500, loop_ns=10_000)
    status = report.loop_status(stats.snapshot(1000.0, since_ticks=report.since_ticks))
    assert values(status)['Loop time max (us)'] == '10.0'
    assert values(status)['Loop time max since start (us)'] == '900.0'


def test_missing_allocation_counts_show_as_not_available():
    stats = LoopStats(16)
    ticks(stats, 5)
    kv = values(DiagnosticsReport('n').loop_status(stats.snapshot(1000.0)))
    assert kv['Kernel allocations'] == 'n/a' and kv['Heap blocks delta'] == 'n/a'


def test_input_status_name_level_and_values():
    report = DiagnosticsReport('arena_eval')
    status = report.input_status('imu', STALE, 'no message yet',
                                 {'Messages received': 0, 'Age (ms)': float('nan')})
    assert status.name == 'arena_eval: input imu'
    assert status.level == DiagnosticStatus.STALE
    assert values(status) == {'Messages received': '0', 'Age (ms)': 'nan'}
    assert report.input_status('imu', 'warn', 'stale', {}).level == DiagnosticStatus.WARN


def test_array_carries_stamp_and_statuses():
    report = DiagnosticsReport('n', hardware_id='')
    st = report.input_status('a', OK, 'ok', {})
    msg = report.array(Time(sec=3, nanosec=4), [st])
    assert isinstance(msg, DiagnosticArray)
    assert msg.header.stamp.sec == 3 and msg.header.stamp.nanosec == 4
    assert [s.name for s in msg.status] == ['n: input a']
    assert msg.status[0].hardware_id == ''


@pytest.mark.parametrize('given,expected', [
    (0, b'\x00'), (1, b'\x01'), (b'\x02', b'\x02'), ('stale', b'\x03'), (ERROR, b'\x02')])
def test_levels_normalize_to_message_bytes(given, expected):
    assert as_level(given) == expected
