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
One description per message type: one table of scalar kinds, one alignment rule, one walk.

The scalar kinds and the CDR alignment rule are written once (`msgtypes/description.py`); a
grep over the package fails when a second copy appears. The path checks the language makes
(`inputs.resolve_path`) and the paths the decode plans read agree on every candidate path of
every message type of std_msgs, sensor_msgs, geometry_msgs and nav_msgs: a path is accepted by
both or refused by both.
"""

import pathlib
import re

from arena_eval.msgtypes import plans
from arena_eval.msgtypes.description import ByName, fields, members, SCALARS
from arena_eval.msgtypes.inputs import InputError, resolve_path
import pytest
from test_plans import TYPES

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / 'arena_eval'
HOME = PACKAGE / 'msgtypes' / 'description.py'


def _sources():
    return sorted(PACKAGE.rglob('*.py'))


def test_one_table_of_scalar_kinds():
    # A table of scalar kinds names the rosidl types: 'uint16' and 'int16' are in every one.
    found = [path for path in _sources() if re.search(r"""['"]u?int16['"]""", path.read_text())]
    assert found == [HOME]
    assert set(SCALARS) >= {'boolean', 'octet', 'char', 'float', 'double', 'uint64'}


def test_one_alignment_rule():
    rule = re.compile(r'&\s*-\s*[A-Za-z_(]|-\s*1\)\s*&\s*~')
    found = [path for path in _sources() if rule.search(path.read_text())]
    assert found == [HOME]


def _candidates(cls, prefix=(), depth=0):
    """Paths worth asking about: every field, indexed or not, by number and by name."""
    for f in members(cls):
        here = prefix + (f.name,)
        yield here
        steps = [here]
        if f.shape != 'one':
            steps = [here + (0,), here + (ByName('a'),)]
            if f.size is not None:
                steps.append(here + (f.size,))
            yield from steps
        if f.message is not None and depth < 2:
            for base in steps:
                if not isinstance(base[-1], ByName):
                    yield from _candidates(f.message, base, depth + 1)


def _accepted(check, *args):
    try:
        check(*args)
    except (InputError, plans.Unsupported):
        return False
    return True


@pytest.mark.parametrize('cls', TYPES, ids=lambda c: f'{c.__module__.split(".")[0]}/{c.__name__}')
def test_the_plans_read_exactly_the_paths_the_checks_accept(cls):
    for steps in _candidates(cls):
        checked = _accepted(resolve_path, cls, 'x', steps)
        planned = _accepted(plans.build_plan, cls, [(0, steps)])
        assert checked == planned, (cls.__name__, steps, checked, planned)


def test_fields_describe_shapes_and_bounds():
    from sensor_msgs.msg import Imu, JointState
    imu = fields(Imu)
    assert (imu['orientation_covariance'].shape, imu['orientation_covariance'].size) == (
        'array', 9)
    assert imu['header'].message.__name__ == 'Header'
    assert fields(JointState)['name'].text == 'sequence<string>'
