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
What the node logs, read from a real node process over DDS.

The first start's compile is announced and timed; an input going stale, coming back, or read
out of range is logged once per change (WARN, then INFO); a typed output that stops publishing
says so; a program swap is counted in the loop status; stopping logs a shutdown line.
"""

import signal

from arena_eval.tools import procs
from node_harness import DEFAULT_INPUTS, NodeProcess, Probe, write_params
import pytest

pytestmark = [pytest.mark.ros]


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


def test_a_first_start_says_it_compiles_and_how_long_it_took(tmp_path, probe):
    env = procs.ros_env()
    env['NUMBA_CACHE_DIR'] = str(tmp_path / 'empty_cache')  # nothing cached: a first start
    node = NodeProcess(tmp_path, write_params(tmp_path / 'p.yaml'), env=env)
    try:
        probe.wait_results(1, timeout=600.0, node=node)
        log = node.output()
        assert 'compiling the kernel (first start; cached after)' in log, log
        assert 'kernel compiled in ' in log, log
        assert log.index('compiling the kernel') < log.index('running: ')
    finally:
        node.close()
    # The second start loads it from the cache, silently.
    again = tmp_path / 'again'
    again.mkdir()
    node = NodeProcess(again, write_params(again / 'p.yaml'), env=env)
    try:
        probe.wait_results(1, node=node)
        assert 'compiling the kernel' not in node.output()
    finally:
        node.close()


def test_transitions_are_logged_once_each_and_a_shutdown_line(tmp_path, probe):
    from sensor_msgs.msg import JointState
    inputs = {name: dict(spec, timeout=0.3) for name, spec in DEFAULT_INPUTS.items()}
    outputs = {'estop': {'topic': '/log_estop', 'type': 'std_msgs/msg/Bool',
                         'fields': ['data = a > 100']}}
    params = write_params(tmp_path / 'p.yaml', inputs=inputs, outputs=outputs,
                          expressions=['a = imu.linear_acceleration.x + joints.position[2]'])
    node = NodeProcess(tmp_path, params)

    def lines(part):
        return [line for line in node.output().splitlines() if part in line]

    try:
        probe.stream_inputs()
        probe.wait_results(20, node=node)
        probe.wait_status('input imu', 0)
        probe.wait_status('input joints', 0)
        assert lines('running: 1 expression (a), ')
        # The IMU stops: one warning for the input and one for the output, then back.
        probe.stop_stream('imu')
        probe.wait_for(lambda: lines('input imu: stale'), 20.0, 'the stale warning')
        probe.wait_for(lambda: lines('output estop: an input it depends on is stale'), 20.0,
                       'the output warning')
        since = len(probe.diagnostics)
        probe.wait_for(lambda: len(probe.diagnostics) > since + 3, 20.0, 'more reports')
        assert len(lines('input imu: stale')) == 1, lines('input imu')
        assert all('[WARN]' in line for line in lines('input imu: stale'))
        probe.stream('imu', lambda: probe.imu_pub.publish(probe.imu))
        probe.wait_for(lambda: lines('input imu: ok again'), 20.0, 'imu ok again')
        assert all('[INFO]' in line for line in lines('input imu: ok again'))
        # A joint state too short for joints.position[2].
        probe.stop_stream('joints')
        short = JointState(name=['j0', 'j1'], position=[0.1, 0.2])
        probe.stream('joints', lambda: probe.joints_pub.publish(short))
        probe.wait_for(lambda: lines('input joints: joints.position[2] out of range'), 20.0,
                       'the out-of-range warning')
        # A program swap is counted.
        [result] = probe.set_parameters({'expressions': ['a = imu.linear_acceleration.x']})
        assert result.successful, result.reason
        probe.wait_for(lambda: probe.status('loop') and int(
            probe.status('loop')[2]['Program swaps']) >= 1, 20.0, 'a counted swap')
        assert lines('new program: 1 expression (a), ')
        code, _ = node.signal_and_wait(signal.SIGINT)
        assert code == 0
        assert lines('shutting down: stopped after '), node.output()[-2000:]
    finally:
        node.close()
