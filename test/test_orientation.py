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
`roll_of`, `pitch_of`, `yaw_of` of a quaternion field: round trips, normalisation, gimbal lock.

Quaternions are built from ZYX Euler angles by the textbook formula (as tf2's setRPY), scaled,
and the angles read back through the compiled kernel; the zero quaternion gives nan.
"""

import math

from arena_eval.engine.arena import compile_batch
from arena_eval.language.errors import ExpressionError
from arena_eval.language.parse import parse_expression
from arena_eval.params.config import load_params_text
from hypothesis import given, strategies as st
import pytest

BATCH = ['r = roll_of(imu.orientation)', 'p = pitch_of(imu.orientation)',
         'y = yaw_of(imu.orientation)']


def quaternion(roll, pitch, yaw, scale=1.0):
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return {'imu.orientation.x': scale * (sr * cp * cy - cr * sp * sy),
            'imu.orientation.y': scale * (cr * sp * cy + sr * cp * sy),
            'imu.orientation.z': scale * (cr * cp * sy - sr * sp * cy),
            'imu.orientation.w': scale * (cr * cp * cy + sr * sp * sy)}


@given(roll=st.floats(-3.1, 3.1), pitch=st.floats(-1.5, 1.5), yaw=st.floats(-3.1, 3.1),
       scale=st.sampled_from([1.0, 1e-3, 7.5, -1.0]))
def test_angles_round_trip_for_any_scale(roll, pitch, yaw, scale):
    out = compile_batch(BATCH).evaluate(quaternion(roll, pitch, yaw, scale))
    assert out['r'] == pytest.approx(roll, abs=1e-9)
    assert out['p'] == pytest.approx(pitch, abs=1e-9)
    assert out['y'] == pytest.approx(yaw, abs=1e-9)


def test_identity_zero_and_gimbal_lock():
    batch = compile_batch(BATCH)
    assert batch.evaluate(quaternion(0, 0, 0)) == {'r': 0.0, 'p': 0.0, 'y': 0.0}
    out = batch.evaluate(dict.fromkeys(quaternion(0, 0, 0), 0.0))
    assert all(math.isnan(v) for v in out.values())  # orientation unknown
    # at pitch +-90 deg (gimbal lock) roll and yaw are atan2 of rounding noise: finite but
    # meaningless, as documented; pitch is clamped into range instead of becoming nan
    for roll, pitch, yaw in ((0.3, math.pi / 2, 0.5), (1.0, -math.pi / 2, -0.2)):
        for scale in (1.0, 3.0):
            out = batch.evaluate(quaternion(roll, pitch, yaw, scale))
            assert out['p'] == pytest.approx(pitch, abs=1e-7)
            assert math.isfinite(out['r']) and math.isfinite(out['y'])
    # a milliradian away from it they are right again (roll and yaw to 1e-6 rad)
    out = batch.evaluate(quaternion(0.3, math.pi / 2 - 1e-3, 0.5))
    assert out['p'] == pytest.approx(math.pi / 2 - 1e-3, abs=1e-9)
    assert out['r'] == pytest.approx(0.3, abs=1e-6) and out['y'] == pytest.approx(0.5, abs=1e-6)


def test_expansion_and_errors():
    tree = parse_expression('yaw_of(imu.orientation)')
    assert tree.func == 'atan2'
    for text in ('roll_of(x)', 'roll_of(1)', 'roll_of(imu.orientation.x + 1)'):
        with pytest.raises(ExpressionError) as info:
            parse_expression(text)
        assert 'roll_of() takes a quaternion field of an input' in info.value.one_line()


def test_params_file_checks_the_quaternion_fields():
    text = ('arena_eval:\n  ros__parameters:\n'
            '    expressions: ["tilt = pitch_of(imu.orientation)", "bad = yaw_of(imu.header)"]\n'
            '    inputs:\n      imu: {topic: /imu, type: sensor_msgs/msg/Imu}\n')
    config, errors, _ = load_params_text(text, 'q.yaml')
    assert config is None and len(errors) >= 1
    assert all('bad' in str(e) for e in errors) and "has no field 'header" in errors[0].message
