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
The simulator's docstring formulas are what it publishes.

Each formula is read from `arena_eval.ros.sim.__doc__`, written in the expression language
(juxtaposition is a product: `0.5 sin(2 pi 0.5 t)`), compiled with the project's own compiler
and compared with `imu_values` and `joint_values`, which `publish_sample` fills messages from.
"""

import re

from arena_eval.engine.arena import compile_batch
from arena_eval.ros import sim
import pytest

DOC = sim.__doc__
UNITS = (' m/s^2', ' rad/s', ' rad', ' Hz', ' N m')
TIMES = (0.0, 0.123, 0.5, 1.37, 2.25, 7.9)


def formula(name):
    """Return the right-hand side of `name = ...` in the docstring, without unit or comment."""
    match = re.search(rf'(?:^|,)\s*{re.escape(name)}\s*=\s*(.+?)(?:\s{{2,}}|,\s|$)', DOC,
                      re.MULTILINE)
    assert match, f'{name} is not in the docstring'
    text = match.group(1).strip()
    for unit in UNITS:
        text = text.removesuffix(unit)
    return text


def expression(text):
    """`0.5 sin(2 pi 0.5 t)` -> `0.5*sin(2*pi*0.5*s.t)`, joints' a_i, w_i, f_i substituted."""
    for name in ('w_i', 'f_i', 'a_i'):
        text = re.sub(rf'\b{name}\b', f'({formula(name)})', text)
    text = re.sub(r'(?<=[\w.)])\s+(?=[\w(])', '*', text)
    return re.sub(r'\b([ti])\b', r's.\1', text)


def evaluate(text, t, i=0):
    batch = compile_batch([f'x = {expression(text)}'])
    values = {'s.t': t, 's.i': float(i)}
    return float(batch.evaluate({k: v for k, v in values.items() if k in batch.inputs})['x'])


@pytest.mark.parametrize('t', TIMES)
def test_imu_formulas(t):
    ax, ay, az, wz = sim.imu_values(t)
    assert evaluate(formula('linear_acceleration.x'), t) == pytest.approx(ax, abs=1e-12)
    assert evaluate(formula('linear_acceleration.y'), t) == pytest.approx(ay, abs=1e-12)
    assert evaluate(formula('linear_acceleration.z'), t) == pytest.approx(az, abs=1e-12)
    z = re.search(r'angular_velocity\s*=\s*\(0, 0, (.+?)\)\s{2,}', DOC).group(1)
    assert evaluate(z, t) == pytest.approx(wz, abs=1e-12)


@pytest.mark.parametrize('i', range(4))
@pytest.mark.parametrize('t', TIMES)
def test_joint_formulas(t, i):
    position, velocity, effort = sim.joint_values(t, i)
    assert evaluate(formula('position_i'), t, i) == pytest.approx(position, abs=1e-12)
    assert evaluate(formula('velocity_i'), t, i) == pytest.approx(velocity, abs=1e-12)
    assert evaluate(formula('effort_i'), t, i) == pytest.approx(effort, abs=1e-12)


@pytest.mark.parametrize('t', TIMES)
def test_summary_of_the_default_batch(t):
    # Rounded to three decimals in the docstring.
    assert evaluate(formula('velocity_2'), t) == pytest.approx(sim.joint_values(t, 2)[1],
                                                               abs=2e-3 * (1 + t))
    power = sum(v * e for _, v, e in (sim.joint_values(t, i) for i in range(3)))
    assert power >= 0.0
    ax, ay, az, _ = sim.imu_values(t)
    assert (ax * ax + ay * ay + az * az) ** 0.5 == pytest.approx(9.82, abs=0.11)
