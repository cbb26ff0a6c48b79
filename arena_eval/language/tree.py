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
The checked expression tree: the one contract between `parse` and `compile`.

Only three node kinds survive parsing: numbers, references and calls. Every operator is a call of
its entry in `functions.TABLE` (`a + b` is `Call('add', (a, b))`, `a if c else b` is
`Call('where', (c, a, b))`, `a < b < c` is `Call('and', (lt(a, b), lt(b, c)))`), so the compiler
has one case per node kind and the function table is the only list of operations.
"""

from dataclasses import dataclass

from .errors import Pos


@dataclass(frozen=True)
class Num:
    """A numeric literal or named constant (`pi`, `inf`), already a float."""

    value: float
    pos: Pos
    span: int = 1


@dataclass(frozen=True)
class Ref:
    """
    A name: an input path, another expression's name, or a built-in (`dt`, `t`).

    Input paths are dotted with optional indices (`imu.angular_velocity.z`, `joints.position[2]`);
    which kind a name is gets decided by the compiler, which knows the batch.
    """

    name: str
    pos: Pos
    span: int = 1


@dataclass(frozen=True)
class Call:
    """An operator or function application; `func` is a key of `functions.TABLE`."""

    func: str
    args: tuple
    pos: Pos
    span: int = 1


@dataclass(frozen=True)
class Statement:
    """One `name = expression` line of a batch, with its source for error messages."""

    name: str
    expr: object
    pos: Pos
    source: object
