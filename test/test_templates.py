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
Typed output templates against rclpy's own deserialization: every numeric field of real types.

Each template sets every numeric leaf of a message type from its own arena slot, is patched with
values in and out of each field's range, and is read back with `deserialize_message`; the
expected value of each field follows the documented conversion rules, computed here in Python.
"""

from fractions import Fraction
import math

from arena_eval.msgtypes.templates import numeric_leaves, Template
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Twist, Vector3Stamped
import numpy as np
import pytest
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import BatteryState, Imu, JointState, NavSatFix
from std_msgs.msg import Bool, Int8, UInt64

TYPES = [Bool, Int8, UInt64, Time, Twist, Vector3Stamped, Imu, JointState, NavSatFix,
         BatteryState]
RANGES = {
    'int8': (-2 ** 7, 2 ** 7 - 1), 'uint8': (0, 2 ** 8 - 1), 'octet': (0, 255),
    'char': (0, 255), 'int16': (-2 ** 15, 2 ** 15 - 1), 'uint16': (0, 2 ** 16 - 1),
    'int32': (-2 ** 31, 2 ** 31 - 1), 'uint32': (0, 2 ** 32 - 1),
    'int64': (-2 ** 63, 2 ** 63 - 1), 'uint64': (0, 2 ** 64 - 1),
}


def expected(typename, x):
    """Return the documented conversion, written independently of the kernel's."""
    if typename == 'double':
        return x
    if typename == 'float':
        return float(np.float32(x))
    if typename == 'boolean':
        return False if math.isnan(x) else x != 0.0
    if math.isnan(x):
        return 0
    lo, hi = RANGES[typename]
    if math.isinf(x):
        return hi if x > 0 else lo
    exact = Fraction(x)  # exact: no rounding in the test's own arithmetic
    r = math.floor(abs(exact) + Fraction(1, 2)) * (1 if x >= 0 else -1)
    return max(lo, min(hi, r))


def read(msg, steps):
    for step in steps:
        msg = msg[step] if isinstance(step, int) else getattr(msg, step)
    return msg


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(b)(a) == b if not isinstance(b, float) else float(a) == b


EDGES = [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, 0.49999999999999994, 127.5, -128.5, 255.5,
         -1.0, 300.0, 65535.4, 2.0 ** 31, -2.0 ** 31 - 1, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64,
         1.8e19, 1e300, -1e300, math.inf, -math.inf, math.nan, 3.4e38, 1e-45]


@pytest.mark.parametrize('msg_type', TYPES, ids=lambda t: t.__name__)
def test_every_numeric_field_round_trips_through_rclpy(msg_type):
    leaves = list(numeric_leaves(msg_type))
    assert leaves
    template = Template.build(msg_type, {steps: i for i, (steps, _) in enumerate(leaves)})
    rng = np.random.default_rng(len(leaves))  # fixed: the same cases every run
    for round_ in range(len(EDGES) + 3):
        if round_ < len(EDGES):
            values = np.roll(np.array(EDGES * (len(leaves) // len(EDGES) + 1)), round_)
            values = values[:len(leaves)].copy()
        else:
            values = rng.uniform(-300.0, 300.0, len(leaves))
        template.patch_values(values)
        msg = deserialize_message(bytes(template.raw), msg_type)
        for (steps, typename), x in zip(leaves, values, strict=True):
            got = read(msg, steps)
            want = expected(typename, float(x))
            assert same(got, want), (steps, typename, x, got, want)


def test_conversion_counts_nan_and_saturation():
    template = Template.build(Int8, {('data',): 0})
    cases = [(math.nan, 0, (1, 0)), (127.5, 127, (0, 1)), (-128.5, -128, (0, 1)),
             (-128.4, -128, (0, 0)), (0.5, 1, (0, 0)), (-0.5, -1, (0, 0)),
             (math.inf, 127, (0, 1)), (-math.inf, -128, (0, 1))]
    for x, want, counts in cases:
        assert template.patch_values(np.array([x])) == counts, x
        assert deserialize_message(bytes(template.raw), Int8).data == want, x
    assert template.counts == (1, 4)


def test_64_bit_edges():
    template = Template.build(UInt64, {('data',): 0})
    assert template.patch_values(np.array([2.0 ** 64])) == (0, 1)
    assert deserialize_message(bytes(template.raw), UInt64).data == 2 ** 64 - 1
    assert template.patch_values(np.array([1.8e19])) == (0, 0)
    assert deserialize_message(bytes(template.raw), UInt64).data == int(1.8e19)
    assert template.patch_values(np.array([-1.0])) == (0, 1)
    assert deserialize_message(bytes(template.raw), UInt64).data == 0


def test_strings_and_sequence_lengths_are_fixed_at_build_time():
    template = Template.build(
        JointState, {('position', 2): 0, ('velocity', 0): 1},
        {('name', 0): 'shoulder', ('name', 1): 'elbow', ('header', 'frame_id'): 'base_link'})
    template.patch_values(np.array([1.25, -3.5]))
    msg = deserialize_message(bytes(template.raw), JointState)
    assert list(msg.name) == ['shoulder', 'elbow'] and msg.header.frame_id == 'base_link'
    assert list(msg.position) == [0.0, 0.0, 1.25] and list(msg.velocity) == [-3.5]
    assert list(msg.effort) == []


def test_patching_allocates_nothing():
    from numba.core.runtime import rtsys
    leaves = list(numeric_leaves(Imu))
    template = Template.build(Imu, {steps: i for i, (steps, _) in enumerate(leaves)})
    values = np.linspace(-1.0, 1.0, len(leaves))
    template.bind(values)
    template.patch()
    before = rtsys.get_allocation_stats()
    for _ in range(1000):
        template.patch()
    after = rtsys.get_allocation_stats()
    assert after.alloc == before.alloc and after.free == before.free
