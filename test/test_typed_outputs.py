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
Typed outputs through the node's compiled tick, in-process: messages in, typed bytes out.

The tick runs offline (`offline_tick.py`); each typed output's published bytes are
deserialized by rclpy and checked. Covers the stamps (an input's, and 'now' from /clock),
frame_id and other string constants, `every`, the conversions at the edges with their counts,
and that `~/results` still carries only the batch's own expressions.
"""

import math

from arena_eval.params.config import config_from_parameters
from geometry_msgs.msg import Vector3Stamped
from offline_tick import OfflineTick
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool, Float64MultiArray, Int8, UInt16

MS = 1_000_000


class Sent:
    """A typed output's publications (or the results), as messages."""

    def __init__(self, tick, name):
        self.tick = tick
        self.name = name

    def messages(self, msg_type):
        if self.name is None:  # ~/results, from the outputs after the last tick
            from std_msgs.msg import MultiArrayDimension, MultiArrayLayout
            outputs = self.tick.outputs()
            n = len(outputs)
            layout = MultiArrayLayout(
                dim=[MultiArrayDimension(label=','.join(outputs), size=n, stride=n)])
            return [Float64MultiArray(data=list(outputs.values()), layout=layout)]
        return [deserialize_message(raw, msg_type) for raw in self.tick.sent[self.name]]


class Taker:
    def __init__(self, tick):
        self.push = lambda raw: tick.push('imu', raw)


def rig(outputs, expressions=('roll = atan2(imu.linear_acceleration.y, '
                              'imu.linear_acceleration.z)',), now=None):
    params = {'inputs.imu.topic': '/imu', 'inputs.imu.type': 'sensor_msgs/msg/Imu',
              'inputs.imu.timeout': 0.0, 'expressions': list(expressions)}
    for name, fields in outputs.items():
        params.update({f'outputs.{name}.{key}': value for key, value in fields.items()})
    config, errors, _ = config_from_parameters(params)
    assert errors == [], [e.one_line() for e in errors]
    tick = OfflineTick(config, clock=now is not None)
    if now is not None:  # ROS time: a /clock message the loop takes
        from rosgraph_msgs.msg import Clock
        clock = Clock()
        clock.clock.sec, clock.clock.nanosec = divmod(now(), 1_000_000_000)
        tick.push('clock', serialize_message(clock))
    taker = Taker(tick)
    sinks = {name: Sent(tick, name) for name in config.outputs}
    results = Sent(tick, None)
    return tick, taker, sinks, results


def imu(y=0.0, z=1.0, x=0.0, sec=0, nanosec=0):
    msg = Imu()
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, nanosec
    msg.linear_acceleration.x, msg.linear_acceleration.y = x, y
    msg.linear_acceleration.z = z
    return serialize_message(msg)


def test_vector3stamped_with_the_input_stamp_and_a_frame_every_third_tick():
    tick, taker, sinks, results = rig({'tilt': {
        'topic': '/tilt', 'type': 'geometry_msgs/msg/Vector3Stamped', 'stamp': 'imu',
        'frame_id': 'base_link', 'every': 3,
        'fields': ['vector.x = roll', 'vector.z = imu.linear_acceleration.x * 2']}})
    for k in range(7):
        taker.push(imu(y=1.0, z=1.0, x=0.5 * k, sec=100 + k, nanosec=1000 * k))
        tick((k + 1) * MS, 0.001)
    sent = sinks['tilt'].messages(Vector3Stamped)
    assert len(sent) == 3  # ticks 1, 4 and 7
    for msg, k in zip(sent, (0, 3, 6), strict=True):
        assert msg.header.frame_id == 'base_link'
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (100 + k, 1000 * k)
        assert msg.vector.x == math.atan2(1.0, 1.0)
        assert msg.vector.y == 0.0 and msg.vector.z == 0.5 * k * 2
    # ~/results carries the user's expressions only: the hidden statements stay inside.
    result = results.messages(Float64MultiArray)[-1]
    assert list(result.data) == [math.atan2(1.0, 1.0)]
    assert result.layout.dim[0].label == 'roll'
    assert tick.typed[0].published == 3


def test_a_stamp_of_now_comes_from_the_clock():
    tick, taker, sinks, _ = rig({'v': {
        'topic': '/v', 'type': 'geometry_msgs/msg/Vector3Stamped', 'stamp': 'now',
        'fields': ['vector.x = roll']}}, now=lambda: 1_700_000_123_456_789_012)
    taker.push(imu())
    tick(MS, 0.001)
    msg = sinks['v'].messages(Vector3Stamped)[0]
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (1_700_000_123, 456_789_012)


@pytest.mark.parametrize('value, expected, counts', [
    (0.5, 1, (0, 0)), (-0.5, -1, (0, 0)), (1.49, 1, (0, 0)), (127.5, 127, (0, 1)),
    (-1e9, -128, (0, 1)), (math.inf, 127, (0, 1)), (math.nan, 0, (1, 0)),
])
def test_integer_conversions_and_their_counts(value, expected, counts):
    tick, taker, sinks, _ = rig({'i': {'topic': '/i', 'type': 'std_msgs/msg/Int8',
                                       'fields': ['data = imu.linear_acceleration.x']}})
    taker.push(imu(x=value))
    tick(MS, 0.001)
    assert sinks['i'].messages(Int8)[0].data == expected
    assert tick.typed[0].template.counts == counts


def test_bool_is_nonzero_and_nan_is_false():
    tick, taker, sinks, _ = rig({'b': {'topic': '/b', 'type': 'std_msgs/msg/Bool',
                                       'fields': ['data = imu.linear_acceleration.x']}})
    for k, x in enumerate((0.0, -0.0, 0.1, -3.0, math.nan, math.inf)):
        taker.push(imu(x=x))
        tick((k + 1) * MS, 0.001)
    sent = [m.data for m in sinks['b'].messages(Bool)]
    assert sent == [False, False, True, True, False, True]
    assert tick.typed[0].template.counts == (1, 0)


def test_a_sequence_sized_by_its_highest_index_with_names_set_to_constants():
    tick, taker, sinks, _ = rig({'j': {
        'topic': '/j', 'type': 'sensor_msgs/msg/JointState', 'stamp': 'imu',
        'fields': ["name[0] = 'hip'", "name[1] = 'knee'", 'position[1] = roll * 2',
                   'velocity[0] = imu.linear_acceleration.z']}})
    taker.push(imu(y=0.0, z=2.0, sec=7))
    tick(MS, 0.001)
    msg = sinks['j'].messages(JointState)[0]
    assert list(msg.name) == ['hip', 'knee'] and list(msg.position) == [0.0, 0.0]
    assert list(msg.velocity) == [2.0] and msg.header.stamp.sec == 7


def test_a_stale_input_makes_nan_which_integer_fields_count():
    params = {'topic': '/u', 'type': 'std_msgs/msg/UInt16',
              'fields': ['data = imu.linear_acceleration.x + 1']}
    tick, taker, sinks, _ = rig({'u': params})
    tick(MS, 0.001)
    assert sinks['u'].messages(UInt16)[0].data == 0
    assert tick.typed[0].template.counts == (1, 0)
