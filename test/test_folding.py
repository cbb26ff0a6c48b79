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
One answer per expression: a folded constant has exactly the bits the kernel computes at run time.

For every stateless function and operator of the table (iterated, so a new one is covered without
touching this file), `y = f(<literals>)` is compiled, checked to have folded (no row but the
OUTPUT row), and its constant compared bit for bit with what `y = f(x.a0, ...)` gives when stepped
with the same values as inputs: signed zeros and the sign of nan included. Values are random
doubles and the edge values of each function (zeros, subnormals, infinities, nan, huge arguments
of the trigonometric functions, the ends of every domain).
"""

import math
import os
import struct

from arena_eval.engine import program as pg
from arena_eval.engine.arena import compile_batch
from arena_eval.engine.compile import compile_program
from arena_eval.engine.disassemble import disassemble
from arena_eval.language.functions import CALLABLE, TABLE
from hypothesis import given, HealthCheck, settings
from hypothesis import strategies as st
import pytest

INF = math.inf
NAN = math.nan
TINY = 5e-324  # smallest subnormal
PURE = sorted(name for name, f in TABLE.items() if not f.stateful and not f.macro)


def _below(x):
    return math.nextafter(x, -INF)


def _above(x):
    return math.nextafter(x, INF)


EDGES = [0.0, -0.0, TINY, -TINY, 2.2250738585072014e-308, -2.2250738585072009e-308, 1.0, -1.0,
         0.5, -0.5, 2.0, 3.0, -2.5, 1e22, -1e22, 1e300, -1e300, 1.7976931348623157e308,
         -1.7976931348623157e308, INF, -INF, NAN, -NAN]
# The ends of each function's domain and where its result changes regime.
SPECIFIC = {
    'sin': [1e22, math.pi, 2 ** 53, 1e308], 'cos': [1e22, math.pi / 2, 2 ** 53, 1e308],
    'tan': [1e22, math.pi / 2, 2 ** 53, 1e308],
    'asin': [_below(1.0), _above(-1.0), _above(1.0), _below(-1.0)],
    'acos': [_below(1.0), _above(-1.0), _above(1.0), _below(-1.0)],
    'acosh': [_above(1.0), _below(1.0), 2.0, 1e308],
    'atanh': [_below(1.0), _above(-1.0), _above(1.0), _below(-1.0), 1e-300],
    'log': [_below(1.0), _above(1.0), -1e-300], 'log2': [_below(1.0), _above(1.0), 1024.0],
    'log10': [_below(1.0), _above(1.0), 1000.0, 1e-300], 'log1p': [-1.0, _above(-1.0), -2.0],
    'sqrt': [-1e-300, _below(0.0), 4.0], 'cbrt': [-27.0, 27.0, -8.0, 1e-310],
    'exp': [709.782712893384, 709.79, -745.1332191019411, -745.2],
    'expm1': [709.782712893384, 709.79, -40.0, 1e-300],
    'sinh': [710.4758600739439, 710.48, -710.48], 'cosh': [710.4758600739439, 710.48],
    'pow': [1e308, 1e-308, 0.5, -1.0, 1e-320, 1e10, -1e10, 1023.9, -1074.5, 134217727.0],
    'round': [0.49999999999999994, -0.49999999999999994, -0.5, 4503599627370497.0, -0.3],
    'hypot': [1e308, 1e-320], 'div': [1e-320, 1e308], 'mul': [1e-160, 1e160],
}
# No dedicated edges: operators, rounding, comparisons, selection; random values and EDGES.
SETTINGS = settings(max_examples=int(os.environ.get('ARENA_EVAL_FOLDING_EXAMPLES', '60')),
                    deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bits(x):
    """Return the 64 bits of a double; any nan is just nan of its sign (no payloads in text)."""
    if math.isnan(x):
        return 'nan' if math.copysign(1.0, x) > 0 else '-nan'
    return struct.unpack('<q', struct.pack('<d', x))[0]


def literal(x):
    """`x` as language text that parses to exactly `x`: repr, or the constants nan and inf."""
    if math.isnan(x):
        return 'nan' if math.copysign(1.0, x) > 0 else '(-nan)'
    if math.isinf(x):
        return 'inf' if x > 0 else '(-inf)'
    return f'({x!r})'


def call(name, args):
    """`name` applied to argument texts: operators with their syntax, functions as calls."""
    if name in CALLABLE:
        return f'{name}({", ".join(args)})'
    symbol = TABLE[name].symbol
    if len(args) == 1:
        return f'{symbol} {args[0]}'
    return f' {symbol} '.join(args)


def arities(name):
    entry = TABLE[name]
    return range(entry.min_args, (entry.max_args or entry.min_args + 2) + 1)


_RUNTIME = {}


def runtime(name, n):
    """Return the batch applying `name` to n inputs at run time, compiled once per arity."""
    if (name, n) not in _RUNTIME:
        paths = [f'x.a{i}' for i in range(n)]
        batch = compile_batch([f'y = {call(name, paths)}'])
        assert batch.program.n_exec >= 1, 'the runtime path must run a row'
        _RUNTIME[name, n] = batch
    return _RUNTIME[name, n]


def folded(name, values):
    """Return the constant `y = name(literals)` compiles to, asserting that it really folded."""
    program = compile_program([f'y = {call(name, [literal(v) for v in values])}'])
    assert program.n_exec == 0, disassemble(program)
    assert all(line.split()[1] == 'output' for line in disassemble(program).splitlines()[1:])
    return dict(program.constants)[int(program.code[0, pg.F_A])]


def check(name, values):
    batch = runtime(name, len(values))
    got = batch.evaluate({f'x.a{i}': v for i, v in enumerate(values)})['y']
    want = folded(name, values)
    assert bits(want) == bits(got), f'{name}{tuple(values)}: folded {want!r}, kernel {got!r}'


def test_every_literal_is_read_back_exactly():
    for x in EDGES + [v for vs in SPECIFIC.values() for v in vs] + [0.1, 1 / 3, -1e-5]:
        assert bits(folded('add', [x, -0.0])) == bits(x), x  # x + -0.0 is x, -0.0 included


def test_the_issue_cases():
    for name, x, want in (('cbrt', -27.0, None), ('acosh', 2.0, None), ('acosh', 1.0, 0.0),
                          ('atanh', 1.0, INF), ('log', 0.0, -INF), ('sqrt', -0.0, -0.0)):
        check(name, [x])
        if want is not None:
            assert bits(folded(name, [x])) == bits(want)
    # and through the CLI's way of writing it: a constant expression vs --set
    for text in ('cbrt(-27.0)', 'acosh(2.0)', '(-0.0) * 1', 'round(-0.3)', '-nan + 1'):
        fold = compile_program([f'y = {text}'])
        assert fold.n_exec == 0


def test_every_function_is_covered():
    assert set(PURE) == {name for name, f in TABLE.items() if not f.stateful and not f.macro}
    assert {'add', 'neg', 'not', 'where', 'pow', 'min', 'clamp', 'acosh', 'cbrt'} <= set(PURE)


@pytest.mark.parametrize('name', PURE)
def test_edge_values_fold_to_the_kernel_bits(name):
    edges = EDGES + SPECIFIC.get(name, [])
    n = TABLE[name].min_args
    if n == 1:
        cases = [[x] for x in edges]
    elif n == 2:
        cases = [[x, y] for x in edges for y in edges]
    else:  # three arguments: every edge in every position, beside two plain values
        cases = [[x, 0.5, 2.0] for x in edges] + [[1.0, x, 2.0] for x in edges] + [
            [1.0, -1.0, x] for x in edges] + [[x, x, -x] for x in edges]
    for values in cases:
        check(name, values)


def _values(name):
    edges = EDGES + SPECIFIC.get(name, [])
    return st.one_of(st.sampled_from(edges), st.floats(width=64, allow_nan=False),
                     st.floats(min_value=-20.0, max_value=20.0),
                     st.sampled_from(edges).map(_above), st.sampled_from(edges).map(_below))


@pytest.mark.parametrize('name', PURE)
@SETTINGS
@given(data=st.data())
def test_random_values_fold_to_the_kernel_bits(name, data):
    n = data.draw(st.sampled_from(list(arities(name))), label='arity')
    values = [data.draw(_values(name), label=f'arg{i}') for i in range(n)]
    check(name, values)
