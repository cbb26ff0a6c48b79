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
The node over real DDS: results against hand-computed values, layout, diagnostics, staleness.

Each test starts the node as a process with a params file and talks to it with a probe node.
"""

import math
import signal
import threading
import time

from diagnostic_msgs.msg import DiagnosticStatus
from node_harness import assert_outputs_close, EXPECTED, NodeProcess, Probe, write_params
import pytest

pytestmark = pytest.mark.ros

OK = DiagnosticStatus.OK[0]
WARN = DiagnosticStatus.WARN[0]
STALE = DiagnosticStatus.STALE[0]
IMU_OUTPUTS = ('accel_norm', 'roll', 'pitch', 'tilt_deg', 'yaw_rate_f')
JOINT_OUTPUTS = ('q2_rate', 'joint_power')
LOOP_KEYS = ('Target frequency (Hz)', 'Actual frequency (Hz)', 'Loop time mean (us)',
             'Loop time p99 (us)', 'Loop time max (us)', 'Period jitter p99 (us)', 'Overruns',
             'Kernel allocations', 'Heap blocks delta', 'Expressions', 'Program ops')


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


def test_results_diagnostics_and_staleness(tmp_path, probe):
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml'))
    try:
        probe.wait_results(5, node=node)
        # Before the first message: inputs STALE, every output nan (policy nan).
        imu = probe.wait_status('input imu', STALE)
        assert imu[1] == 'no message yet'
        assert probe.status('input joints')[0] == STALE
        assert all(math.isnan(v) for v in probe.latest_result())

        probe.stream_inputs(200.0)
        probe.wait_for(lambda: not math.isnan(probe.latest_outputs()['joint_power']), 10.0,
                       'fresh outputs')
        # The low-pass converges to its input; 0.5 s at tau = 20 ms leaves e^-25 of the step.
        time.sleep(0.5)
        outputs = probe.latest_outputs()
        assert_outputs_close(outputs, EXPECTED, set(EXPECTED) - {'yaw_rate_f'})
        assert outputs['yaw_rate_f'] == pytest.approx(EXPECTED['yaw_rate_f'], rel=1e-6)
        assert probe.label == ','.join(EXPECTED)
        dim = probe.layout.dim[0]
        assert (dim.size, dim.stride) == (7, 7) and len(probe.layout.dim) == 1

        # Rate: a loose sanity bound only (the machine is shared).
        n0, t0 = probe.result_count(), time.monotonic()
        time.sleep(1.0)
        rate = (probe.result_count() - n0) / (time.monotonic() - t0)
        assert rate > 100.0, f'{rate:.0f} results/s'

        loop = probe.wait_for(lambda: probe.status('loop'), 5.0, 'loop status')
        level, message, values = loop
        assert set(LOOP_KEYS) <= set(values)
        assert level in (OK, WARN), message
        assert values['Target frequency (Hz)'] == '1000.0'
        assert values['Expressions'] == '7' and int(values['Program ops']) > 0
        assert values['Kernel allocations'] == '0'
        assert float(values['Actual frequency (Hz)']) > 100.0
        imu = probe.wait_status('input imu', OK)
        assert int(imu[2]['Messages received']) > 0
        assert float(imu[2]['Age (ms)']) < 100.0
        assert probe.wait_status('input joints', OK)

        # The IMU stops: after its 100 ms timeout its outputs are nan, the joints' are not.
        probe.stop_stream('imu')
        probe.wait_for(lambda: math.isnan(probe.latest_outputs()['accel_norm']), 5.0,
                       'imu outputs nan')
        outputs = probe.latest_outputs()
        assert all(math.isnan(outputs[name]) for name in IMU_OUTPUTS)
        assert_outputs_close(outputs, EXPECTED, JOINT_OUTPUTS)
        imu = probe.wait_status('input imu', WARN, message_part='stale')
        assert 'timeout 100 ms' in imu[1]

        code, seconds = node.signal_and_wait(signal.SIGINT)
        assert code == 0, node.output()
        assert seconds < 1.0
        assert 'Traceback' not in node.stderr()
    finally:
        node.close()


def test_hold_policy_and_individual_topics(tmp_path, probe):
    from std_msgs.msg import Float64
    received = {}
    lock = threading.Lock()

    def keep(name):
        def on_msg(msg):
            with lock:
                received[name] = msg.data
        return on_msg

    for name in ('accel_norm', 'joint_power'):
        probe.node.create_subscription(Float64, f'/arena_eval/out/{name}', keep(name), 10)
    params = write_params(tmp_path / 'params.yaml', stale_policy='hold',
                          publish_individual=True)
    node = NodeProcess(tmp_path, params)
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(5, node=node)
        probe.wait_for(lambda: probe.latest_outputs()['accel_norm'] == 3.0, 10.0, 'accel_norm')

        def individual():
            with lock:
                return received.get('accel_norm') == 3.0 and received.get('joint_power') == 32.0
        probe.wait_for(individual, 10.0, 'individual topics')

        probe.stop_stream('imu')
        probe.wait_status('input imu', WARN, message_part='stale')
        # Hold: the IMU outputs keep their last values while their input is stale.
        outputs = probe.latest_outputs()
        assert_outputs_close(outputs, EXPECTED, ('accel_norm', 'roll', 'pitch', 'tilt_deg'))
        assert outputs['joint_power'] == 32.0
        with lock:
            assert received['accel_norm'] == 3.0

        code, seconds = node.signal_and_wait(signal.SIGTERM)
        assert code == 0, node.output()
        assert seconds < 1.0
    finally:
        node.close()
