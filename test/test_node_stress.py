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
The node under stress: CPU starvation, a storm of parameter updates, a signal mid-update.

No assertion is about speed: starvation must be counted (overruns) and never answered with a
burst of catch-up ticks; every update must be answered while ticks go on.
"""

import os
import signal
import subprocess
import sys
import threading
import time

from diagnostic_msgs.msg import DiagnosticStatus
from node_harness import NodeProcess, Probe, write_params
import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

ERROR = DiagnosticStatus.ERROR[0]
BUSY = 'while True:\n    pass\n'


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


def loop_values(probe):
    return probe.status('loop')[2]


def test_cpu_starvation_counts_overruns_without_bursts_and_recovers(tmp_path, probe):
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml'))
    busy = []
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(50, node=node)
        probe.wait_for(lambda: probe.status('loop'), 5.0, 'loop status')
        overruns_before = int(loop_values(probe)['Overruns'])
        start = time.monotonic()
        # Three busy processes per core, each at the node's priority.
        busy = [subprocess.Popen([sys.executable, '-c', BUSY])
                for _ in range(3 * (os.cpu_count() or 2))]
        time.sleep(3.0)
        for proc in busy:
            proc.kill()
        for proc in busy:
            proc.wait()
        starved_until = time.monotonic()
        reports = probe.statuses_since(start, 'loop')
        assert reports, 'no diagnostics during starvation'
        assert node.alive()
        overruns = max(int(values['Overruns']) for _, _, values in reports)
        assert overruns > overruns_before, 'starvation was not counted as overruns'
        # Never a burst of catch-up ticks: at most one short period in a row.
        for _, _, values in reports:
            assert int(values['Burst ticks max']) <= 1, values

        # Recovers: a report after the busy processes left shows the loop near its rate.
        def recovered():
            later = probe.statuses_since(starved_until + 0.6, 'loop')
            return any(float(v['Actual frequency (Hz)']) > 700.0 for _, _, v in later)
        probe.wait_for(recovered, 10.0, 'the loop back near 1000 Hz')
        for _, _, values in probe.statuses_since(start, 'loop'):
            assert int(values['Burst ticks max']) <= 1, values
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
        node.close()


def test_parameter_storm_is_answered_while_ticks_go_on(tmp_path, probe):
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml'))
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(50, node=node)
        probe.wait_for(lambda: probe.status('loop'), 5.0, 'loop status')
        ticks_before = int(loop_values(probe)['Ticks'])
        results_before = probe.result_count()
        sent = answered = refused = 0
        # As fast as the service answers, for 3 s: each update a new program (stale policy),
        # every fifth one refused (a bad expression).
        end = time.monotonic() + 3.0
        good = ['nan', 'hold']
        while time.monotonic() < end:
            if sent % 5 == 4:
                update = {'expressions': ['a = imu.linear_acceleration.x +']}
            else:
                update = {'stale_policy': good[sent % 2]}
            sent += 1
            [result] = probe.set_parameters(update, timeout=5.0)
            answered += 1
            if not result.successful:
                refused += 1
                assert result.reason.startswith('parameter expressions[0]:1:')
        assert answered == sent and sent > 20
        assert refused == sent // 5
        probe.wait_for(lambda: int(loop_values(probe)['Ticks']) > ticks_before + 1500, 5.0,
                       'ticks during the storm')
        assert probe.result_count() > results_before + 500
        swaps = int(loop_values(probe)['Program swaps'])
        assert 1 <= swaps <= sent - refused
        assert probe.status('loop')[0] != ERROR
        # Installing programs allocates nothing the kernel counts.
        assert loop_values(probe)['Kernel allocations'] == '0'

        # A signal in the middle of updates: still a clean, prompt exit.
        stop = threading.Event()

        def storm():
            i = 0
            while not stop.is_set():
                try:
                    probe.set_parameters({'stale_policy': good[i % 2]}, timeout=0.5)
                except BaseException:  # noqa: B902 - pytest.fail once the node is gone
                    return
                i += 1

        thread = threading.Thread(target=storm, daemon=True)
        thread.start()
        time.sleep(0.5)
        code, seconds = node.signal_and_wait(signal.SIGINT)
        stop.set()
        thread.join(5.0)
        assert code == 0 and seconds < 1.0, node.output()
        assert 'Traceback' not in node.stderr()
    finally:
        node.close()
