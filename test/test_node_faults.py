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
Faults in the inputs: the tick goes on, outputs follow the stale policy, statuses say why.

An index beyond the sequence a message has, nan/inf in a field, a publisher of another type on
an input's topic, an input whose publisher dies, an input that never arrives.
"""

import math
import os
import signal

from arena_eval.tools import procs
from diagnostic_msgs.msg import DiagnosticStatus
from node_harness import NodeProcess, Probe, write_params
import pytest

pytestmark = pytest.mark.ros

OK = DiagnosticStatus.OK[0]
WARN = DiagnosticStatus.WARN[0]
ERROR = DiagnosticStatus.ERROR[0]
STALE = DiagnosticStatus.STALE[0]


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


def ticks(probe):
    return int(probe.status('loop')[2]['Ticks'])


def test_index_out_of_range_and_non_finite_values(tmp_path, probe):
    expressions = ['p5 = joints.position[5]', 'p2 = joints.position[2]',
                   'ax = imu.linear_acceleration.x', 'ay = imu.linear_acceleration.y']
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml', expressions))
    try:
        probe.imu.linear_acceleration.x = float('nan')
        probe.stream_inputs(200.0)
        probe.wait_results(5, node=node)
        # Three positions arrive; position[5] does not exist: that output is nan (policy nan),
        # the other one from the same message is fine, and the input's status says why.
        joints = probe.wait_status('input joints', ERROR)
        assert 'joints.position[5] out of range (3 elements)' in joints[1]
        assert int(joints[2]['Index out of range']) > 0
        outputs = probe.wait_for(lambda: probe.latest_outputs()
                                 if probe.latest_outputs()['p2'] == 0.3 else None, 5.0, 'p2')
        assert math.isnan(outputs['p5'])
        # A nan in a field is a value: it flows through, and the status warns.
        assert math.isnan(outputs['ax']) and outputs['ay'] == 2.0
        imu = probe.wait_status('input imu', WARN)
        assert 'non-finite value in imu.linear_acceleration.x' in imu[1]
        probe.imu.linear_acceleration.x = float('inf')
        probe.wait_for(lambda: probe.latest_outputs()['ax'] == math.inf, 5.0, 'inf')
        # Once six positions arrive, the index is fine again.
        probe.joints.position = [0.0, 0.1, 0.3, 0.0, 0.0, 0.5]
        probe.wait_for(lambda: probe.latest_outputs()['p5'] == 0.5, 5.0, 'p5')
        probe.wait_status('input joints', OK)
        # The tick never stopped.
        before = ticks(probe)
        probe.wait_for(lambda: ticks(probe) > before + 100, 5.0, 'ticks going on')
        assert probe.status('loop')[0] in (OK, WARN)
    finally:
        node.close()


def test_other_type_on_topic_and_input_that_never_arrives(tmp_path, probe):
    import rclpy
    from rclpy.context import Context
    from std_msgs.msg import String

    # Another participant: DDS refuses two types on one topic inside one participant, and the
    # probe has an Imu publisher on /imu.
    context = Context()
    rclpy.init(context=context)
    other = rclpy.create_node(f'wrong_type_{os.getpid()}', context=context)
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml'))
    try:
        # Nobody publishes joints; /imu has a String publisher (it can never match the Imu
        # subscription, so no message arrives there either).
        wrong = other.create_publisher(String, '/imu', 10)
        probe.stream('wrong', lambda: wrong.publish(String(data='not an imu')), 50.0)
        probe.wait_results(5, node=node)
        imu = probe.wait_status('input imu', ERROR)
        assert 'publisher of type std_msgs/msg/String on /imu' in imu[1]
        assert 'expected sensor_msgs/msg/Imu' in imu[1]
        joints = probe.wait_status('input joints', STALE)
        assert joints[1] == 'no message yet'
        assert all(math.isnan(v) for v in probe.latest_result())
        before = ticks(probe)
        probe.wait_for(lambda: ticks(probe) > before + 100, 5.0, 'ticks going on')
        # The wrong publisher goes away: the error clears (no Imu message yet: STALE).
        probe.stop_stream('wrong')
        other.destroy_publisher(wrong)
        probe.wait_status('input imu', STALE, timeout=15.0)
    finally:
        node.close()
        other.destroy_node()
        context.try_shutdown()


def test_input_whose_publisher_dies(tmp_path, probe):
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml'))
    sim = procs.start('arena_eval.ros.sim', [], procs.ros_env())
    try:
        probe.wait_results(5, node=node)
        probe.wait_status('input imu', OK, timeout=30.0)
        probe.wait_status('input joints', OK)
        probe.wait_for(lambda: not math.isnan(probe.latest_outputs()['accel_norm']), 5.0,
                       'outputs from the simulator')
        # The simulator dies without a goodbye.
        os.kill(sim.pid, signal.SIGKILL)
        sim.wait()
        imu = probe.wait_status('input imu', WARN, message_part='stale')
        assert 'timeout 100 ms' in imu[1]
        probe.wait_status('input joints', WARN, message_part='stale')
        probe.wait_for(lambda: all(math.isnan(v) for v in probe.latest_result()), 5.0,
                       'all outputs nan')
        before = ticks(probe)
        probe.wait_for(lambda: ticks(probe) > before + 100, 5.0, 'ticks going on')
        code, seconds = node.signal_and_wait(signal.SIGINT)
        assert code == 0 and seconds < 1.0, node.output()
    finally:
        procs.stop(sim)
        node.close()
