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
The decode plans as the bindings read them (`plans.Reader`) against rclpy, on random messages.

Messages come from hypothesis strategies built from each type's definition (shrinkable, other
than `test_plans`' generator). For every numeric path of a message (through nested messages,
into arrays and sequences of numbers and of messages, one index past each sequence's end), the
reader gives the value of the message rclpy deserializes from the same bytes, or "beyond the
sequence" with its length where rclpy raises IndexError.
"""

import importlib
import math

from arena_eval.msgtypes import plans
from hypothesis import given, HealthCheck, settings, strategies as st
import pytest
from rclpy.serialization import deserialize_message, serialize_message

TYPES = [
    'sensor_msgs/msg/Imu', 'sensor_msgs/msg/JointState', 'sensor_msgs/msg/PointCloud2',
    'sensor_msgs/msg/CameraInfo', 'sensor_msgs/msg/LaserScan', 'sensor_msgs/msg/BatteryState',
    'sensor_msgs/msg/NavSatFix', 'std_msgs/msg/Float64MultiArray',
    'diagnostic_msgs/msg/DiagnosticStatus', 'sensor_msgs/msg/MultiDOFJointState',
    'std_msgs/msg/ByteMultiArray', 'geometry_msgs/msg/PoseArray',
]
INTS = {'int8': (-128, 127), 'uint8': (0, 255), 'int16': (-2**15, 2**15 - 1),
        'uint16': (0, 2**16 - 1), 'int32': (-2**31, 2**31 - 1), 'uint32': (0, 2**32 - 1),
        'int64': (-2**63, 2**63 - 1), 'uint64': (0, 2**64 - 1)}


def message_class(name):
    package, _, type_ = name.split('/')
    return getattr(importlib.import_module(f'{package}.msg'), type_)


def _class_of(namespaced):
    return getattr(importlib.import_module('.'.join(namespaced.namespaces)), namespaced.name)


def value_strategy(slot):
    kind = type(slot).__name__
    if kind == 'BasicType':
        t = slot.typename
        if t in INTS:
            return st.integers(*INTS[t])
        if t == 'boolean':
            return st.booleans()
        if t in ('octet', 'char'):
            return st.binary(min_size=1, max_size=1) if t == 'octet' else st.integers(0, 255)
        if t == 'float':
            return st.floats(width=32, allow_nan=True)
        return st.floats(allow_nan=True, allow_infinity=True)
    if kind == 'NamespacedType':
        return message_strategy(_class_of(slot))
    if kind in ('UnboundedString', 'BoundedString'):
        return st.text(alphabet='abcxyz_', max_size=9)
    if kind == 'Array':
        return st.lists(value_strategy(slot.value_type), min_size=slot.size, max_size=slot.size)
    return st.lists(value_strategy(slot.value_type), max_size=4)


def message_strategy(cls):
    fields = list(zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES, strict=True))
    if not fields:
        return st.builds(cls)
    return st.fixed_dictionaries({n: value_strategy(s) for n, s in fields}).map(
        lambda kw: cls(**kw))


def numeric_paths(msg, prefix=()):
    """Every path to a number in `msg`, and one index past the end of each sequence."""
    cls = type(msg)
    for name, slot in zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES, strict=True):
        kind = type(slot).__name__
        value = getattr(msg, name)
        if kind == 'BasicType':
            yield prefix + (name,)
        elif kind == 'NamespacedType':
            yield from numeric_paths(value, prefix + (name,))
        elif kind in ('Array', 'UnboundedSequence', 'BoundedSequence'):
            element = type(slot.value_type).__name__
            past = 0 if kind == 'Array' else 1
            if element == 'BasicType':
                for i in range(len(value) + past):
                    yield prefix + (name, i)
            elif element == 'NamespacedType':
                for i, item in enumerate(value):
                    yield from numeric_paths(item, prefix + (name, i))
                if past and value:
                    yield from (p[:len(prefix) + 1] + (len(value),) + p[len(prefix) + 2:]
                                for p in numeric_paths(value[0], prefix + (name, 0)))


def expected(msg, steps):
    """(value, None) at `steps` of rclpy's message, or (None, length) past a sequence's end."""
    value = msg
    for step in steps:
        if isinstance(step, int):
            if step >= len(value):
                return None, len(value)
            value = value[step]
        else:
            value = getattr(value, step)
    return float(value[0] if isinstance(value, bytes) else value), None


def same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def check(cls, msg, reader=None, paths=None):
    raw = serialize_message(msg)
    typed = deserialize_message(raw, cls)
    paths = paths or list(numeric_paths(typed))
    if not paths:
        return
    reader = reader or plans.Reader(cls, list(enumerate(paths)))
    assert reader.read(raw)
    values, ok, lengths = reader.latest
    for k, steps in enumerate(paths):
        value, length = expected(typed, steps)
        if length is not None:
            assert ok[k] == 0.0 and lengths[k] == length, steps
        else:
            assert ok[k] == 1.0 and same(values[k], value), (steps, values[k], value)


@pytest.mark.parametrize('name', TYPES)
def test_random_messages_decode_like_rclpy(name):
    cls = message_class(name)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(message_strategy(cls))
    def run(msg):
        check(cls, msg)
    run()


@given(st.lists(st.text(alphabet='ab', max_size=7), max_size=3),
       st.lists(st.floats(allow_nan=False), max_size=4),
       st.sampled_from([('position', 0), ('velocity', 1), ('effort', 3),
                        ('header', 'stamp', 'nanosec')]))
@settings(max_examples=100, deadline=None)
def test_one_path_at_a_time(names, values, steps):
    from sensor_msgs.msg import JointState
    msg = JointState(name=names, position=values, velocity=values[::-1], effort=values)
    msg.header.frame_id = ''.join(names)
    check(JointState, msg, paths=[steps])


def test_the_reader_is_reused_and_holds_the_latest():
    from sensor_msgs.msg import Imu
    paths = [('linear_acceleration', 'x'), ('angular_velocity', 'z')]
    reader = plans.Reader(Imu, list(enumerate(paths)))
    first = Imu()
    first.linear_acceleration.x = 1.0
    second = Imu()
    second.linear_acceleration.x = 2.0
    second.header.frame_id = 'a much longer frame id than before'
    second.angular_velocity.z = -3.0
    check(Imu, first, reader, paths)
    check(Imu, second, reader, paths)
    assert reader.latest[0][:2].tolist() == [2.0, -3.0]


@pytest.mark.parametrize('paths', [
    [('header', 'frame_id')],            # a string
    [('header',)],                       # a message, not a number
    [('poses',)],                        # a sequence, not indexed
    [('poses', 0, 'position')],          # a message inside a sequence
])
def test_paths_that_are_not_numbers_are_refused_at_build_time(paths):
    from geometry_msgs.msg import PoseArray
    with pytest.raises(plans.Unsupported):
        plans.Reader(PoseArray, list(enumerate(paths)))


def test_other_encodings_and_short_bytes_are_refused():
    from sensor_msgs.msg import Imu
    reader = plans.Reader(Imu, [(0, ('linear_acceleration', 'z'))])
    raw = serialize_message(Imu())
    assert reader.read(raw)
    assert not reader.read(b'\x00\x00' + raw[2:])   # big endian
    assert not reader.read(raw[:40])
