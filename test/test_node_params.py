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
Runtime reconfiguration through the real `rcl_interfaces/srv/SetParameters` service.

A good update is swapped in between ticks; a bad one is refused with the one-line compile errors
as reason while the running program goes on publishing.
"""

import math
import signal
import time

from diagnostic_msgs.msg import DiagnosticStatus
from node_harness import EXPECTED, NodeProcess, Probe, write_params
import pytest

pytestmark = pytest.mark.ros

OK = DiagnosticStatus.OK[0]
WARN = DiagnosticStatus.WARN[0]
STALE = DiagnosticStatus.STALE[0]

SMALL = ['norm = sqrt(imu.linear_acceleration.x**2 + imu.linear_acceleration.y**2 '
         '+ imu.linear_acceleration.z**2)',
         'power = joints.velocity[0] * joints.effort[0]']


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


def test_parameters_are_described(tmp_path, probe):
    from rcl_interfaces.msg import ParameterType
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml', expressions=SMALL))
    try:
        names = ['rate_hz', 'expressions', 'stale_policy', 'publish_individual',
                 'diagnostics_period', 'inputs.imu.topic', 'inputs.imu.type',
                 'inputs.imu.timeout', 'inputs.imu.qos', 'inputs.imu.depth']
        described = probe.describe_parameters(names)
        assert set(described) == set(names)
        assert all(d.description for d in described.values())
        rate = described['rate_hz']
        assert rate.type == ParameterType.PARAMETER_DOUBLE
        assert (rate.floating_point_range[0].from_value,
                rate.floating_point_range[0].to_value) == (1.0, 10000.0)
        assert 'nan' in described['stale_policy'].additional_constraints
        assert 'sensor_data' in described['inputs.imu.qos'].additional_constraints
        assert described['inputs.imu.depth'].integer_range[0].from_value == 1
        assert described['expressions'].type == ParameterType.PARAMETER_STRING_ARRAY
        # Declared with defaults where the file says nothing.
        assert probe.get_parameters(['inputs.imu.qos', 'publish_individual']) == [
            'sensor_data', False]
    finally:
        node.close()


def test_good_and_bad_updates(tmp_path, probe):
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml', expressions=SMALL))
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(5, node=node)
        probe.wait_for(lambda: probe.latest_outputs()['power'] == 4.0, 10.0, 'power')
        assert probe.label == 'norm,power'

        # A good update: a new batch, swapped in between ticks.
        new = SMALL + ['twice = 2 * norm', 'roll = atan2(imu.linear_acceleration.y, '
                       'imu.linear_acceleration.z)']
        [result] = probe.set_parameters({'expressions': new})
        assert result.successful, result.reason
        probe.wait_for(lambda: probe.label == 'norm,power,twice,roll', 5.0, 'new layout')
        probe.wait_for(lambda: probe.latest_outputs()['twice'] == 6.0, 5.0, 'twice')
        assert probe.latest_outputs()['roll'] == pytest.approx(EXPECTED['roll'])
        assert probe.get_parameters(['expressions']) == [new]

        # A bad update: refused with the compile error, positioned in the parameter.
        bad = new + ['oops = sqrtt(imu.linear_acceleration.x)']
        count = probe.result_count()
        [result] = probe.set_parameters({'expressions': bad})
        assert not result.successful
        assert result.reason.startswith('parameter expressions[4]:1:8: error: ')
        assert 'sqrtt' in result.reason and "did you mean 'sqrt'" in result.reason
        assert 'Traceback' not in result.reason
        # ... and the old program keeps publishing, unchanged.
        probe.wait_results(50, timeout=5.0, node=node)
        assert probe.result_count() > count
        assert probe.label == 'norm,power,twice,roll'
        assert probe.get_parameters(['expressions']) == [new]

        # An unknown field, several errors at once: one line each.
        [result] = probe.set_parameters({'expressions': [
            'a = imu.linear_acceleration.w', 'b = joints.positon[0]']})
        assert not result.successful
        lines = result.reason.splitlines()
        assert len(lines) == 2 and all(': error: ' in line for line in lines)
        assert lines[0].startswith('parameter expressions[0]:1:')
        assert 'positon' in lines[1]

        # Values the table refuses: a bad choice, out of range; loop_mode is no parameter.
        [result] = probe.set_parameters({'stale_policy': 'hld'})
        assert not result.successful and 'stale_policy' in result.reason
        [result] = probe.set_parameters({'rate_hz': 0.5})
        assert not result.successful
        [result] = probe.set_parameters({'loop_mode': 'timer'})
        assert not result.successful

        # Rate: the loop retargets without a new program.
        [result] = probe.set_parameters({'rate_hz': 250.0})
        assert result.successful, result.reason
        probe.wait_for(lambda: probe.status('loop'), 5.0, 'loop status: ' + node.output())
        probe.wait_for(lambda: probe.status('loop')[2]['Target frequency (Hz)'] == '250.0',
                       5.0, 'target 250 Hz')
        swaps = int(probe.status('loop')[2]['Program swaps'])
        assert swaps == 1
        n0, t0 = probe.result_count(), time.monotonic()
        time.sleep(1.0)
        rate = (probe.result_count() - n0) / (time.monotonic() - t0)
        # A sleep never returns early, so a 250 Hz loop cannot publish much faster than that.
        assert 50.0 < rate < 300.0

        # Individual topics on and off: the same program (no swap of state), publishers
        # created, then destroyed once the loop no longer uses them.
        from std_msgs.msg import Float64
        seen = []
        probe.node.create_subscription(Float64, '/arena_eval/out/twice',
                                       lambda m: seen.append(m.data), 10)
        [result] = probe.set_parameters({'publish_individual': True})
        assert result.successful, result.reason
        probe.wait_for(lambda: 6.0 in seen, 5.0, '/arena_eval/out/twice')
        [result] = probe.set_parameters({'publish_individual': False})
        assert result.successful, result.reason
        probe.wait_for(lambda: probe.node.count_publishers('/arena_eval/out/twice') == 0, 5.0,
                       'individual publisher gone')

        # Diagnostics every 0.1 s instead of 0.5 s.
        [result] = probe.set_parameters({'diagnostics_period': 0.1})
        assert result.successful, result.reason
        time.sleep(0.3)
        since = time.monotonic()
        time.sleep(1.0)
        assert len(probe.statuses_since(since, 'loop')) >= 5

        # Stale policy flips to hold: the IMU outputs keep their values when it stops.
        [result] = probe.set_parameters({'stale_policy': 'hold'})
        assert result.successful, result.reason
        probe.wait_for(lambda: probe.status('loop')[2]['Stale policy'] == 'hold', 5.0, 'hold')
        probe.stop_stream('imu')
        probe.wait_status('input imu', WARN, message_part='stale')
        assert probe.latest_outputs()['norm'] == 3.0

        code, seconds = node.signal_and_wait(signal.SIGINT)
        assert code == 0 and seconds < 1.0, node.output()
    finally:
        node.close()


def test_input_topic_change_resubscribes_only_that_input(tmp_path, probe):
    from sensor_msgs.msg import Imu
    from rclpy.qos import qos_profile_sensor_data

    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml', expressions=SMALL))
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(5, node=node)
        probe.wait_status('input imu', OK)
        joints_before = int(probe.wait_status('input joints', OK)[2]['Messages received'])

        [result] = probe.set_parameters({'inputs.imu.topic': '/imu_b'})
        assert result.successful, result.reason
        # Nobody publishes /imu_b: the new subscription starts with no message at all.
        imu = probe.wait_status('input imu', STALE)
        assert imu[2]['Topic'] == '/imu_b' and imu[2]['Messages received'] == '0'
        assert math.isnan(probe.latest_outputs()['norm'])
        # The joints subscription was kept, and so its count of messages goes on.
        joints = probe.wait_status('input joints', OK)
        assert int(joints[2]['Messages received']) > joints_before
        assert probe.latest_outputs()['power'] == 4.0

        other = probe.node.create_publisher(Imu, '/imu_b', qos_profile_sensor_data)
        probe.stream('imu_b', lambda: other.publish(probe.imu), 200.0)
        probe.wait_status('input imu', OK)
        probe.wait_for(lambda: probe.latest_outputs()['norm'] == 3.0, 5.0, 'norm from /imu_b')

        # A bad type is refused and the subscription stays as it was.
        [result] = probe.set_parameters({'inputs.imu.type': 'sensor_msgs/msg/Imuu'})
        assert not result.successful
        assert 'Imuu' in result.reason and "did you mean 'sensor_msgs/msg/Imu'" in result.reason
        time.sleep(0.3)
        assert probe.latest_outputs()['norm'] == 3.0
    finally:
        node.close()


def test_an_old_loop_mode_override_changes_nothing(tmp_path, probe):
    # `loop_mode:=timer` was a parameter once: now it is an unknown one, and the node ticks in
    # its thread.
    params = write_params(tmp_path / 'params.yaml', expressions=SMALL)
    node = NodeProcess(tmp_path, params, ['-p', 'loop_mode:=timer'])
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(20, node=node)
        probe.wait_for(lambda: probe.latest_outputs()['norm'] == 3.0, 10.0, 'norm')
        loop = probe.wait_for(lambda: probe.status('loop'), 5.0, 'loop status')
        assert loop[2]['Loop mode'] == 'thread'
        # The swap is taken by the loop thread between two ticks.
        [result] = probe.set_parameters({'expressions': SMALL + ['twice = 2 * norm']})
        assert result.successful, result.reason
        probe.wait_for(lambda: probe.latest_outputs().get('twice') == 6.0, 5.0, 'twice')
        code, seconds = node.signal_and_wait(signal.SIGTERM)
        assert code == 0 and seconds < 1.0, node.output()
    finally:
        node.close()


def test_a_refused_update_names_the_typed_output_field_not_a_hidden_name(tmp_path, probe):
    from node_harness import DEFAULT_EXPRESSIONS
    outputs = {'estop': {'topic': '/hidden_estop', 'type': 'std_msgs/msg/Bool',
                         'fields': ['data = tilt_deg > 30']}}
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml', outputs=outputs))
    try:
        probe.wait_results(1, node=node)
        without = [e for e in DEFAULT_EXPRESSIONS if not e.startswith('tilt_deg')]
        [result] = probe.set_parameters({'expressions': without})
        assert not result.successful
        assert "unknown name 'tilt_deg' [outputs.estop.fields[0]]" in result.reason, \
            result.reason
        assert '__' not in result.reason, result.reason
    finally:
        node.close()
