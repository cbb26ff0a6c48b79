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
Decode plans (`arena_eval.msgtypes.plans`) against rclpy's own deserialization, in-process.

For every message type of std_msgs, sensor_msgs, geometry_msgs and nav_msgs, random messages
(random values of every numeric field type, strings of random lengths, sequences of random
sizes, nan and inf included) are serialized by rclpy; the plan walker reads every numeric path
(every array index, sequence indices 0..4 whatever the sequence's size) and must give exactly
what rclpy's deserialized message holds, or "out of range" with the sequence's length. Plans
are also built for random subsets of the paths (so a walk that stops after its last field is
exercised), and the walker refuses truncated bytes and other encodings instead of reading
past the end. Paths go through arrays and sequences of messages (`poses[3].pose.position.x`)
and index sequences by element name (`position['j1']`, names drawn from the message's own
`name[]` and missing ones), with rclpy's message as the oracle for both.
"""

import importlib
import inspect
import math
import random

from arena_eval.msgtypes import plans
from arena_eval.msgtypes.inputs import ByName
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message

PACKAGES = ('std_msgs', 'sensor_msgs', 'geometry_msgs', 'nav_msgs')
MAX_SEQUENCE = 5
INDICES = range(MAX_SEQUENCE)
_INTS = {'int8': (-128, 127), 'uint8': (0, 255), 'int16': (-2**15, 2**15 - 1),
         'uint16': (0, 2**16 - 1), 'int32': (-2**31, 2**31 - 1), 'uint32': (0, 2**32 - 1),
         'int64': (-2**63, 2**63 - 1), 'uint64': (0, 2**64 - 1), 'char': (0, 255)}
_TEXT = 'abcxyz_/0189 éß中'


def message_types():
    found = []
    for package in PACKAGES:
        module = importlib.import_module(f'{package}.msg')
        for name in sorted(dir(module)):
            cls = getattr(module, name)
            if inspect.isclass(cls) and hasattr(cls, 'SLOT_TYPES'):
                found.append(cls)
    return found


TYPES = message_types()


def _kind(slot):
    return type(slot).__name__


def _class(slot):
    return getattr(importlib.import_module('.'.join(slot.namespaces)), slot.name)


def _number(typename, rng):
    if typename in ('double', 'float'):
        special = rng.random()
        if special < 0.05:
            return rng.choice([math.nan, math.inf, -math.inf])
        value = rng.uniform(-1e6, 1e6) * rng.choice([1.0, 1e-9, 1.0])
        return float(np.float32(value)) if typename == 'float' else value
    if typename == 'boolean':
        return rng.random() < 0.5
    if typename == 'octet':
        return bytes([rng.randrange(256)])
    low, high = _INTS[typename]
    return rng.choice([low, high, 0, rng.randint(low, high)])


def _value(slot, rng):
    kind = _kind(slot)
    if kind == 'BasicType':
        return _number(slot.typename, rng)
    if kind == 'NamespacedType':
        return random_message(_class(slot), rng)
    if kind in ('UnboundedString', 'BoundedString'):
        n = rng.randrange(0, 24)
        if kind == 'BoundedString':
            n = min(n, slot.maximum_size)
        return ''.join(rng.choice('abcxyz_/0189') for _ in range(n)) if rng.random() < 0.7 else (
            ''.join(rng.choice(_TEXT) for _ in range(n // 3)))
    if kind == 'Array':
        return [_value(slot.value_type, rng) for _ in range(slot.size)]
    n = rng.randrange(0, MAX_SEQUENCE + 1)
    if kind == 'BoundedSequence':
        n = min(n, slot.maximum_size)
    return [_value(slot.value_type, rng) for _ in range(n)]


def random_message(cls, rng):
    msg = cls()
    fields = cls.get_fields_and_field_types().items()
    for (name, _), slot in zip(fields, cls.SLOT_TYPES, strict=True):
        value = _value(slot, rng)
        if name == 'name' and _kind(slot) in ('UnboundedSequence', 'BoundedSequence'):
            value = [rng.choice(NAMES[:3] + ('x', 'j10', '')) for _ in value]
        if _kind(slot) != 'BasicType' and _kind(slot) != 'NamespacedType' and value and (
                isinstance(value[0], bytes)):
            value = [bytes(v) for v in value]
        setattr(msg, name, value)
    return msg


NAMES = ('j0', 'j1', 'j2', 'nope')  # element names drawn for `name[]` lists and looked up


def numeric_paths(cls, prefix=(), depth=0):
    """Every path to a number the plans must read, through arrays of messages two deep."""
    fields = cls.get_fields_and_field_types().items()
    names = dict(zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES, strict=True)).get('name')
    by_name = names is not None and 'Sequence' in _kind(names) and 'String' in _kind(
        names.value_type)
    for (name, _), slot in zip(fields, cls.SLOT_TYPES, strict=True):
        kind = _kind(slot)
        here = prefix + (name,)
        if kind == 'BasicType':
            yield here
        elif kind == 'NamespacedType':
            yield from numeric_paths(_class(slot), here, depth)
        elif kind in ('Array', 'UnboundedSequence', 'BoundedSequence'):
            value = slot.value_type
            n = slot.size if kind == 'Array' else MAX_SEQUENCE
            if kind == 'BoundedSequence':
                n = min(n, slot.maximum_size)
            if _kind(value) == 'NamespacedType':
                if depth < 2:
                    for i in range(min(n, 3)):
                        yield from numeric_paths(_class(value), here + (i,), depth + 1)
                continue
            if _kind(value) != 'BasicType':
                continue
            for i in range(n):
                yield here + (i,)
            if by_name and kind != 'Array':
                for element in NAMES:
                    yield here + (ByName(element),)


def expected(msg, steps):
    """Return what rclpy's message holds at `steps`: (value, None) or (None, sequence length)."""
    value, holder = msg, msg
    for step in steps:
        if isinstance(step, ByName):
            names = list(holder.name)
            if step not in names:
                return math.nan, 'missing'
            step = names.index(step)
        if isinstance(step, int):
            if step >= len(value):
                return None, len(value)
            value = value[step]
        else:
            holder = value
            value = getattr(value, step)
    if isinstance(value, bytes):
        value = value[0]
    return float(value), None


def run_plan(plan, raw, n):
    buf = np.frombuffer(raw, np.uint8) if len(raw) else np.zeros(1, np.uint8)
    values = np.full(n, -7.0)
    ok = np.full(n, -1.0)
    lengths = np.full(n, -2, np.int64)
    status = plans.walk(plan.ctypes.data, buf.ctypes.data, len(raw), values.ctypes.data,
                        ok.ctypes.data, lengths.ctypes.data)
    return status, values, ok, lengths


def check_walk(cls, paths, msg, plan=None):
    """Walk `plan` (or a new one) over `msg`'s bytes against rclpy; return the plan."""
    raw = serialize_message(msg)
    truth = deserialize_message(raw, cls)
    if plan is None:
        plan = plans.build_plan(cls, list(enumerate(paths)))
    status, values, ok, lengths = run_plan(plan, raw, len(paths))
    assert status == 0, plans.describe_plan(plan)
    for slot, steps in enumerate(paths):
        value, length = expected(truth, steps)
        where = f'{cls.__name__}.{steps}'
        if length == 'missing':
            assert ok[slot] == 1.0 and lengths[slot] == plans.MISSING_NAME, where
            assert math.isnan(values[slot]), where
        elif length is not None:
            assert ok[slot] == 0.0 and lengths[slot] == length, where
        else:
            assert ok[slot] == 1.0, where
            assert values[slot] == value or (math.isnan(value) and math.isnan(values[slot])), (
                where, values[slot], value)
    return plan


@pytest.mark.parametrize('cls', TYPES, ids=lambda c: f'{c.__module__.split(".")[0]}/{c.__name__}')
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_plan_reads_what_rclpy_deserializes(cls, seed):
    rng = random.Random(seed)
    paths = list(numeric_paths(cls))
    if not paths:
        pytest.skip(f'{cls.__name__} has no numeric path')
    msg = random_message(cls, rng)
    plan = check_walk(cls, paths, msg)
    # The same plan (its name caches warm) on a message with other values, then another one.
    check_walk(cls, paths, random_message(cls, rng), plan)
    check_walk(cls, paths, msg, plan)
    subset = rng.sample(paths, rng.randint(1, len(paths)))
    check_walk(cls, subset, msg)


@pytest.mark.parametrize('cls', TYPES, ids=lambda c: f'{c.__module__.split(".")[0]}/{c.__name__}')
def test_plans_refuse_truncated_bytes(cls):
    paths = list(numeric_paths(cls))
    if not paths:
        pytest.skip(f'{cls.__name__} has no numeric path')
    rng = random.Random(7)
    msg = random_message(cls, rng)
    raw = serialize_message(msg)
    plan = plans.build_plan(cls, list(enumerate(paths)))
    assert run_plan(plan, raw, len(paths))[0] == 0
    for cut in sorted({0, 1, 3, 4, len(raw) // 2, len(raw) - 9, len(raw) - 1}):
        if 0 <= cut < len(raw):
            status = run_plan(plan, raw[:cut], len(paths))[0]
            # Short bytes are refused, unless every field read lies before the cut.
            if status == 0:
                full = run_plan(plan, raw, len(paths))
                assert np.array_equal(run_plan(plan, raw[:cut], len(paths))[1], full[1],
                                      equal_nan=True)


def test_other_encodings_are_refused():
    from sensor_msgs.msg import Imu
    raw = bytearray(serialize_message(Imu()))
    plan = plans.build_plan(Imu, [(0, ('linear_acceleration', 'z'))])
    assert run_plan(plan, bytes(raw), 1)[0] == 0
    raw[1] = 0  # big endian
    assert run_plan(plan, bytes(raw), 1)[0] == -1


def test_sequences_of_messages_are_skipped_by_repeat():
    from nav_msgs.msg import Path
    from geometry_msgs.msg import PoseStamped
    msg = Path(poses=[PoseStamped() for _ in range(3)])
    msg.header.frame_id = 'map'
    for i, pose in enumerate(msg.poses):
        pose.header.frame_id = 'f' * i
    plan = plans.build_plan(Path, [(0, ('header', 'stamp', 'sec'))])
    assert 'OP_REPEAT' not in plans.describe_plan(plan)  # the walk stops after its last field


def test_paths_that_are_not_numbers_are_refused():
    from sensor_msgs.msg import Imu, JointState
    for cls, steps in [(Imu, ('header', 'frame_id')), (JointState, ('name', 0)),
                       (Imu, ('linear_acceleration',)), (Imu, ('no_such_field',)),
                       (Imu, ('orientation_covariance',)), (Imu, ('header', ByName('a'))),
                       (JointState, ('name', ByName('a')))]:
        with pytest.raises(plans.Unsupported):
            plans.build_plan(cls, [(0, steps)])


def test_walk_loads_from_the_cache_in_a_new_process():
    import subprocess
    import sys
    script = ('from arena_eval.engine import native; from arena_eval.msgtypes import plans; '
              'import numpy as np; '
              'from sensor_msgs.msg import Imu; from rclpy.serialization import serialize_message;'
              'p = plans.build_plan(Imu, [(0, ("linear_acceleration", "z"))]);'
              'b = np.frombuffer(serialize_message(Imu()), np.uint8); v = np.zeros(3);'
              'plans.walk(p.ctypes.data, b.ctypes.data, b.size, v.ctypes.data, v.ctypes.data + 8,'
              ' v.ctypes.data + 16);'
              'print(sum(plans.walk.stats.cache_hits.values()), '
              'sum(plans.walk.stats.cache_misses.values()))')
    subprocess.run([sys.executable, '-c', script], check=True, timeout=300)
    out = subprocess.run([sys.executable, '-c', script], check=True, capture_output=True,
                         text=True, timeout=300).stdout
    assert out.split() == ['1', '0']
