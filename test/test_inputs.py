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
Input bindings with real message objects: type resolution, path checks, copying, staleness.

No ROS graph is needed: messages are built in-process and handed to `on_message`, as the node's
subscription callbacks do.
"""

import math
import tracemalloc

from arena_eval.msgtypes.inputs import (
    ByName,
    check_path,
    InputBindings,
    InputError,
    parse_path,
    qos_profile,
    resolve_type,
)
from arena_eval.params.config import build_batch, config_from_parameters
from arena_eval.ros.diagnostics import ERROR, input_levels, OK, STALE, WARN
import pytest
from sensor_msgs.msg import Imu, JointState, PointCloud
from std_msgs.msg import Bool, Byte, Char

MS = 1_000_000  # nanoseconds


# ----- resolve_type ---------------------------------------------------------------------------

def test_resolve_type_accepts_both_spellings():
    assert resolve_type('sensor_msgs/msg/Imu') is Imu
    assert resolve_type('sensor_msgs/Imu') is Imu
    assert resolve_type(' geometry_msgs/msg/Vector3 ').__name__ == 'Vector3'


@pytest.mark.parametrize('name, message, hint', [
    ('Imu', "malformed message type 'Imu'", 'write it as pkg/msg/Type, e.g. sensor_msgs/msg/Imu'),
    ('sensor_msgs/msg/Imu/x', "malformed message type 'sensor_msgs/msg/Imu/x'",
     'write it as pkg/msg/Type, e.g. sensor_msgs/msg/Imu'),
    ('', "malformed message type ''", 'write it as pkg/msg/Type, e.g. sensor_msgs/msg/Imu'),
    ('std_srvs/srv/Empty', "'std_srvs/srv/Empty' is not a message type",
     'srv types cannot be subscribed to'),
    ('sensr_msgs/msg/Imu', "unknown message package 'sensr_msgs'",
     "did you mean 'sensor_msgs'?"),
    ('sensor_msgs/msg/Imuu', "package 'sensor_msgs' has no message type 'Imuu'",
     "did you mean 'sensor_msgs/msg/Imu'?"),
    ('sensor_msgs/msg/IMU', "package 'sensor_msgs' has no message type 'IMU'",
     "did you mean 'sensor_msgs/msg/Imu'?"),
    ('sensor_msgs/msg/Bogus', "package 'sensor_msgs' has no message type 'Bogus'", None),
    (7, 'a message type must be a string, not int',
     'write it as pkg/msg/Type, e.g. sensor_msgs/msg/Imu'),
])
def test_resolve_type_errors(name, message, hint):
    with pytest.raises(InputError) as info:
        resolve_type(name)
    assert info.value.message == message
    if hint is not None:
        assert info.value.hint == hint
    else:
        assert info.value.hint.startswith('sensor_msgs has ')


# ----- check_path ------------------------------------------------------------------------------

INPUTS = {'imu': Imu, 'joints': JointState, 'cloud': PointCloud, 'broken': None}


@pytest.mark.parametrize('path', [
    'imu.linear_acceleration.x', 'imu.angular_velocity.z', 'imu.orientation.w',
    'imu.orientation_covariance[8]', 'imu.header.stamp.sec', 'joints.position[0]',
    'joints.effort[100]', 'cloud.points[3].y', 'cloud.channels[0].values[2]',
    'broken.anything.at_all', "joints.position['elbow']", "joints.effort['arm/joint 2']",
])
def test_check_path_accepts(path):
    assert check_path(INPUTS, path) is None


@pytest.mark.parametrize('path, message, hint', [
    ('imu.linear_acceleration.w',
     "imu (sensor_msgs/msg/Imu) has no field 'linear_acceleration.w'",
     'geometry_msgs/msg/Vector3 has: x, y, z'),
    ('imu.angular_velocty.z', "imu (sensor_msgs/msg/Imu) has no field 'angular_velocty'",
     "did you mean 'angular_velocity'?"),
    ('joints.positions[0]', "joints (sensor_msgs/msg/JointState) has no field 'positions'",
     "did you mean 'position'?"),
    ('joints.position', "'joints.position' is a sequence: index it, e.g. joints.position[0]",
     None),
    ('imu.orientation_covariance', "'imu.orientation_covariance' is an array: index it, e.g. "
     'imu.orientation_covariance[0]', None),
    ('imu.orientation_covariance[9]',
     "index 9 out of range: 'imu.orientation_covariance' has 9 elements", 'use 0..8'),
    ('imu.header.frame_id', "'imu.header.frame_id' is a string, not a number", None),
    ('joints.name[1]', "'joints.name[1]' is a string, not a number", None),
    ('imu.linear_acceleration', "'imu.linear_acceleration' is a geometry_msgs/msg/Vector3 "
     'message, not a number', 'pick a field, e.g. imu.linear_acceleration.x'),
    ('imu', "'imu' is a sensor_msgs/msg/Imu message, not a number",
     'pick a field: header, orientation, orientation_covariance, angular_velocity, '
     'angular_velocity_covariance, linear_acceleration, linear_acceleration_covariance'),
    ('imu.linear_acceleration.x[0]', "'imu.linear_acceleration.x' is a double, not an array",
     'remove [0]'),
    ('imu.header[0]', "'imu.header' is a std_msgs/msg/Header, not an array", 'remove [0]'),
    ('imu.linear_acceleration.x.y', "'imu.linear_acceleration.x' is a double, not a message",
     "remove '.y'"),
    ('cloud.points.x', "'cloud.points' is a sequence: index it before '.x'",
     'e.g. cloud.points[0].x'),
    ('imu2.linear_acceleration.x', "unknown input 'imu2'", "did you mean 'imu'?"),
    ('odom.x', "unknown input 'odom'", 'configured inputs: imu, joints, cloud, broken'),
    # The parser never produces a negative index; the walker refuses one on its own.
    ('joints.position[-1]', 'negative index in joints.position[-1]', 'indices count from 0'),
    # By name: only a sequence beside a name[] list of strings.
    ("imu.orientation_covariance['x']", "'imu.orientation_covariance' cannot be indexed by "
     'name: sensor_msgs/msg/Imu has no name[] list of strings beside it', 'index it by number'),
    ("joints.header['x']", "'joints.header' is a std_msgs/msg/Header, not an array",
     "remove ['x']"),
    ("joints.name['x']", "'joints.name' cannot be indexed by name: sensor_msgs/msg/JointState "
     'has no name[] list of strings beside it', 'index it by number'),
])
def test_check_path_rejects_with_hint(path, message, hint):
    assert check_path(INPUTS, path) == (message, hint)


def test_parse_path():
    assert parse_path('joints.position[2]') == ('joints', ('position', 2))
    assert parse_path('cloud.points[3].y') == ('cloud', ('points', 3, 'y'))
    root, steps = parse_path("joints.position['elbow']")
    assert (root, steps) == ('joints', ('position', 'elbow')) and type(steps[1]) is ByName
    with pytest.raises(ValueError):
        parse_path('a..b')


# ----- bindings --------------------------------------------------------------------------------

def make_config(imu_timeout=0.05, joints_timeout=0.05, expressions=None):
    params = {
        'inputs.imu.topic': '/imu', 'inputs.imu.type': 'sensor_msgs/msg/Imu',
        'inputs.imu.timeout': imu_timeout,
        'inputs.joints.topic': '/joint_states', 'inputs.joints.type': 'sensor_msgs/msg/JointState',
        'inputs.joints.timeout': joints_timeout,
        'expressions': expressions or [
            'ax = imu.linear_acceleration.x',
            'az2 = imu.linear_acceleration.z * 2',
            'cov = imu.orientation_covariance[4]',
            'q2 = joints.position[2]',
            'power = joints.velocity[0] * joints.effort[0]',
        ],
    }
    config, errors, _ = config_from_parameters(params)
    assert errors == []
    return config


def make_imu(x=1.0, z=9.81):
    msg = Imu()
    msg.linear_acceleration.x = x
    msg.linear_acceleration.z = z
    msg.orientation_covariance[4] = 0.25
    return msg


def make_joints(n=3):
    msg = JointState()
    msg.name = [f'j{i}' for i in range(n)]
    msg.position = [0.1 * (i + 1) for i in range(n)]
    msg.velocity = [1.0 + i for i in range(n)]
    msg.effort = [2.0 + i for i in range(n)]
    return msg


def bound(config=None):
    config = config or make_config()
    batch = build_batch(config)
    return batch, InputBindings(config, batch)


def slot(batch, path):
    return list(batch.inputs).index(path)


def outputs(batch):
    return dict(zip(batch.outputs, batch.output_buffer.tolist(), strict=True))


def test_fields_are_copied_and_the_batch_evaluates():
    batch, bindings = bound()
    bindings.on_message('imu', make_imu(), 1000 * MS)
    bindings.on_message('joints', make_joints(), 1000 * MS)
    bindings.copy_latest(1001 * MS)
    assert batch.input_buffer[slot(batch, 'imu.linear_acceleration.x')] == 1.0
    assert batch.input_buffer[slot(batch, 'joints.position[2]')] == pytest.approx(0.3)
    assert batch.input_valid.tolist() == [1.0] * len(batch.inputs)
    batch.step(0.001)
    assert outputs(batch) == pytest.approx(
        {'ax': 1.0, 'az2': 19.62, 'cov': 0.25, 'q2': 0.3, 'power': 2.0})


def test_no_message_yet_is_invalid_and_stale():
    batch, bindings = bound()
    batch.input_valid[:] = 1.0
    bindings.copy_latest(5 * MS)
    assert batch.input_valid.tolist() == [0.0] * len(batch.inputs)
    batch.step(0.001)
    assert all(math.isnan(v) for v in batch.output_buffer)
    status = {name: (level, text) for name, level, text, _ in input_levels(bindings, 5 * MS)}
    assert status == {'imu': (STALE, 'no message yet'), 'joints': (STALE, 'no message yet')}


def test_staleness_follows_each_inputs_timeout():
    batch, bindings = bound(make_config(imu_timeout=0.05, joints_timeout=0.0))
    bindings.on_message('imu', make_imu(), 0)
    bindings.on_message('joints', make_joints(), 0)
    bindings.copy_latest(50 * MS)            # exactly the timeout: still fresh
    assert batch.input_valid[slot(batch, 'imu.linear_acceleration.x')] == 1.0
    bindings.copy_latest(50 * MS + 1)
    assert batch.input_valid[slot(batch, 'imu.linear_acceleration.x')] == 0.0
    assert batch.input_valid[slot(batch, 'joints.position[2]')] == 1.0  # timeout 0: never stale
    name, level, text, values = input_levels(bindings, 120 * MS)[0]
    assert (name, level, text) == ('imu', WARN, 'stale: 120 ms old (timeout 50 ms)')
    assert values['Age (ms)'] == '120.0' and values['Timeout (ms)'] == '50'
    assert input_levels(bindings, 120 * MS)[1][1:3] == (OK, 'ok')
    assert input_levels(bindings, 120 * MS)[1][3]['Timeout (ms)'] == 'never'
    bindings.on_message('imu', make_imu(x=3.0), 200 * MS)
    bindings.copy_latest(201 * MS)
    assert batch.input_valid[slot(batch, 'imu.linear_acceleration.x')] == 1.0
    assert batch.input_buffer[slot(batch, 'imu.linear_acceleration.x')] == 3.0


def test_index_beyond_the_sequence_is_invalid_and_counted_once_per_message():
    batch, bindings = bound()
    bindings.on_message('imu', make_imu(), 0)
    bindings.on_message('joints', make_joints(n=2), 0)
    for tick in range(5):
        bindings.copy_latest(tick * MS)
    q2 = slot(batch, 'joints.position[2]')
    assert batch.input_valid[q2] == 0.0
    assert batch.input_valid[slot(batch, 'joints.velocity[0]')] == 1.0
    assert bindings.out_of_range[q2] == 1
    batch.step(0.001)
    out = outputs(batch)
    assert math.isnan(out['q2']) and out['power'] == 2.0
    name, level, text, values = input_levels(bindings, 5 * MS)[1]
    assert (name, level) == ('joints', ERROR)
    assert text == 'joints.position[2] out of range (2 elements)'
    assert values['Index out of range'] == '1'
    bindings.on_message('joints', make_joints(n=2), 6 * MS)
    bindings.copy_latest(6 * MS)
    assert bindings.out_of_range[q2] == 2
    bindings.on_message('joints', make_joints(n=3), 7 * MS)
    bindings.copy_latest(7 * MS)
    assert batch.input_valid[q2] == 1.0
    assert input_levels(bindings, 7 * MS)[1][1:3] == (OK, 'ok')


def test_non_finite_values_are_copied_and_counted_per_message():
    batch, bindings = bound()
    bindings.on_message('imu', make_imu(x=math.nan, z=math.inf), 0)
    bindings.on_message('joints', make_joints(), 0)
    bindings.copy_latest(1 * MS)
    bindings.copy_latest(2 * MS)
    ax = slot(batch, 'imu.linear_acceleration.x')
    az = slot(batch, 'imu.linear_acceleration.z')
    assert math.isnan(batch.input_buffer[ax]) and batch.input_buffer[az] == math.inf
    assert batch.input_valid[ax] == 1.0  # fresh, just not finite: nan flows through
    assert (bindings.non_finite[ax], bindings.non_finite[az]) == (1, 1)
    name, level, text, values = input_levels(bindings, 2 * MS)[0]
    assert level == WARN
    assert text == ('non-finite value in imu.linear_acceleration.x; '
                    'non-finite value in imu.linear_acceleration.z')
    assert values['Non-finite values'] == '2'
    bindings.on_message('imu', make_imu(), 3 * MS)
    bindings.copy_latest(3 * MS)
    assert input_levels(bindings, 3 * MS)[0][1:3] == (OK, 'ok')
    assert bindings.non_finite[ax] == 1


def test_type_mismatch_is_an_error_until_cleared():
    _, bindings = bound()
    bindings.set_type_mismatch('imu', 'std_msgs/msg/String')
    name, level, text, values = input_levels(bindings, 0)[0]
    assert level == ERROR
    assert text == 'publisher of type std_msgs/msg/String on /imu (expected sensor_msgs/msg/Imu)'
    assert values['Topic'] == '/imu' and values['Type'] == 'sensor_msgs/msg/Imu'
    assert values['Messages received'] == '0' and values['Age (ms)'] == '-'
    bindings.set_type_mismatch('imu', None)
    assert input_levels(bindings, 0)[0][1] == STALE


def test_messages_received_counts():
    _, bindings = bound()
    for i in range(4):
        bindings.on_message('joints', make_joints(), i)
    assert input_levels(bindings, 10)[1][3]['Messages received'] == '4'


def test_octet_bool_and_small_integer_fields_read_as_floats():
    params = {
        'inputs.b.topic': '/b', 'inputs.b.type': 'std_msgs/msg/Byte',
        'inputs.f.topic': '/f', 'inputs.f.type': 'std_msgs/msg/Bool',
        'inputs.c.topic': '/c', 'inputs.c.type': 'std_msgs/msg/Char',
        'inputs.p.topic': '/p', 'inputs.p.type': 'sensor_msgs/msg/PointCloud',
        'expressions': ['s = b.data + f.data + c.data + p.points[1].y + p.header.stamp.sec'],
    }
    config, errors, _ = config_from_parameters(params)
    assert errors == []
    batch, bindings = bound(config)
    cloud = PointCloud()
    cloud.points = [_point(0.0), _point(2.5)]
    cloud.header.stamp.sec = 100
    for name, msg in (('b', Byte(data=b'\x07')), ('f', Bool(data=True)), ('c', Char(data=65)),
                      ('p', cloud)):
        bindings.on_message(name, msg, 0)
    bindings.copy_latest(0)
    batch.step(0.001)
    assert outputs(batch)['s'] == 7 + 1 + 65 + 2.5 + 100


def _point(y):
    from geometry_msgs.msg import Point32
    return Point32(x=0.0, y=y, z=0.0)


def test_copy_latest_does_not_grow_memory():
    from rclpy.serialization import serialize_message
    batch, bindings = bound()
    # As the node hands them over: CDR bytes (rclpy's serializer itself retains memory).
    imu, joints = serialize_message(make_imu()), serialize_message(make_joints())
    for tick in range(200):
        bindings.on_message('imu', imu, tick * MS)
        bindings.on_message('joints', joints, tick * MS)
        bindings.copy_latest(tick * MS)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for tick in range(200, 5200):
            bindings.on_message('imu', imu, tick * MS)
            bindings.on_message('joints', joints, tick * MS)
            bindings.copy_latest(tick * MS)
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1024, f'{grown} bytes retained over 5000 ticks'


def test_bindings_reject_a_batch_with_unconfigured_inputs():
    config = make_config()
    other = make_config(expressions=['a = imu.linear_acceleration.x'])
    batch = build_batch(other)
    InputBindings(config, batch)  # a subset of the configured inputs is fine
    from arena_eval import compile_batch
    with pytest.raises(ValueError, match="no configured input 'odom'"):
        InputBindings(config, compile_batch(['a = odom.x']))


def test_qos_profiles():
    from rclpy.qos import QoSReliabilityPolicy
    config = make_config()
    imu = config.inputs['imu']
    sensor = qos_profile(imu)
    assert sensor.reliability == QoSReliabilityPolicy.BEST_EFFORT and sensor.depth == 5
    reliable = qos_profile(imu.__class__(**{**imu.__dict__, 'qos': 'reliable', 'depth': 2}))
    assert reliable.reliability == QoSReliabilityPolicy.RELIABLE and reliable.depth == 2
    system = qos_profile(imu.__class__(**{**imu.__dict__, 'qos': 'system_default'}))
    assert system.depth == 5
