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
The numba kernel, opcode by opcode, against the reference evaluator, plus IEEE corner cases.

Every stateless function of the table runs in the kernel over a grid of special values (zeros of
both signs, halves, subnormals, huge values, infinities, nan) and must give the reference's result
(`reference.STATELESS`, Python's `math` with C/IEEE results where it raises), sign of zero
included. The IEEE table states the expected values by hand, independently of both. The last tests
check the two ways into the kernel (GIL held / released) and that a stale numba cache, compiled
against other opcode numbers, is detected and recompiled.
"""

import itertools
import math
import os
from pathlib import Path
import shutil
import subprocess
import sys

from arena_eval.engine import fastcall
from arena_eval.engine import kernel
from arena_eval.engine.arena import compile_batch
from arena_eval.language.functions import TABLE
import pytest
from reference import STATELESS as REFERENCE

INF = math.inf
NAN = math.nan
GRID = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994, 2.0, -3.0, 0.1,
        math.pi, 1e-310, -1e-310, 1e300, -1e300, 1.7e308, 710.0, -746.0, 1e16 + 2.0, INF, -INF,
        NAN]
SMALL_GRID = [0.0, -0.0, 1.0, -1.0, 0.5, 2.5, -3.0, 1e-310, 1e300, INF, -INF, NAN]
TERNARY_GRID = [0.0, -0.0, 1.0, -2.0, 0.5, INF, -INF, NAN]
STATELESS = sorted(name for name, f in TABLE.items() if not f.stateful and not f.macro)
OPERATORS = {'add': '+', 'sub': '-', 'mul': '*', 'div': '/', 'mod': '%', 'lt': '<',
             'le': '<=', 'gt': '>', 'ge': '>=', 'eq': '==', 'ne': '!=', 'and': 'and',
             'or': 'or'}


# Correctly rounded or exact everywhere: the kernel must give the reference's bits. The other
# functions are libm's in the kernel and mostly in the reference too, but not all (Python's own
# hypot), so they may differ by ULPS; their special values (nan, infinities, zeros) must still
# match exactly.
EXACT = {'add', 'sub', 'mul', 'div', 'neg', 'mod', 'fmod', 'sqrt', 'abs', 'sign', 'floor',
         'ceil', 'round', 'trunc', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or', 'not',
         'where', 'min', 'max', 'clamp', 'deg', 'rad'}
ULPS = 2


def same(got, want, ulps=0):
    """Equal as IEEE values (nan equal to nan, zeros of the same sign), or within `ulps`."""
    if math.isnan(want):
        return math.isnan(got)
    if ulps and math.isfinite(want) and want != 0.0 and math.isfinite(got):
        return abs(got - want) <= ulps * math.ulp(want)
    return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def call_text(name, args):
    if name in OPERATORS:
        return f' {OPERATORS[name]} '.join(args)
    if name == 'neg':
        return f'-{args[0]}'
    if name == 'not':
        return f'not {args[0]}'
    return f'{name}({", ".join(args)})'


def arity(name):
    f = TABLE[name]
    return f.min_args


def run_grid(name, grid):
    n = arity(name)
    paths = [f'x.a{i}' for i in range(n)]
    batch = compile_batch([f'y = {call_text(name, paths)}'])
    assert batch.n_ops >= 2, 'the call must reach the kernel, not be folded'
    wrong = []
    ulps = 0 if name in EXACT else ULPS
    for values in itertools.product(grid, repeat=n):
        got = batch.evaluate(dict(zip(paths, values, strict=True)))['y']
        want = REFERENCE[name](*values)
        if not same(got, want, ulps):
            wrong.append(f'{name}{values}: kernel {got!r}, reference {want!r}')
    return wrong


def test_every_stateless_function_has_a_grid():
    assert {arity(name) for name in STATELESS} == {1, 2, 3}
    assert len(STATELESS) >= 50


# Cases where the reference may knowingly differ from the kernel; none. The test compares this
# exactly, so a new difference must be listed here to pass.
KNOWN_DIFFERENCES = {}


@pytest.mark.parametrize('name', STATELESS)
def test_kernel_matches_reference(name):
    grid = {1: GRID, 2: SMALL_GRID, 3: TERNARY_GRID}[arity(name)]
    assert run_grid(name, grid) == KNOWN_DIFFERENCES.get(name, [])


@pytest.mark.parametrize('name', ['min', 'max'])
def test_nary_min_max_matches_reference(name):
    batch = compile_batch([f'y = {name}(x.a, x.b, x.c, x.d)'])
    for values in itertools.product([0.0, -0.0, 1.0, -INF, NAN], repeat=4):
        got = batch.evaluate(dict(zip(('x.a', 'x.b', 'x.c', 'x.d'), values, strict=True)))['y']
        assert same(got, REFERENCE[name](*values)), values


# (expression over x.a / x.b, x.a, x.b, expected): stated by hand, not through the reference.
IEEE = [
    ('x.a / x.b', 1.0, 0.0, INF),
    ('x.a / x.b', -1.0, 0.0, -INF),
    ('x.a / x.b', 1.0, -0.0, -INF),
    ('x.a / x.b', 0.0, 0.0, NAN),
    ('x.a % x.b', 5.0, 0.0, NAN),
    ('x.a % x.b', -7.0, 3.0, -1.0),
    ('x.a % x.b', INF, 3.0, NAN),
    ('x.a % x.b', 2.0, INF, 2.0),
    ('x.a ** x.b', 0.0, -1.0, INF),
    ('x.a ** x.b', -8.0, 1.0 / 3.0, NAN),
    ('x.a ** x.b', NAN, 0.0, 1.0),
    ('x.a ** x.b', 1.0, NAN, 1.0),
    ('x.a ** x.b', 10.0, 400.0, INF),
    ('x.a ** 2', -3.0, 0.0, 9.0),
    ('x.a ** 0.5', -0.0, 0.0, 0.0),
    ('x.a ** 0.5', -INF, 0.0, INF),
    ('log(x.a)', 0.0, 0.0, -INF),
    ('log(x.a)', -1.0, 0.0, NAN),
    ('sqrt(x.a)', -1.0, 0.0, NAN),
    ('sqrt(x.a)', -0.0, 0.0, -0.0),
    ('exp(x.a)', 1000.0, 0.0, INF),
    ('acos(x.a)', 1.5, 0.0, NAN),
    ('atanh(x.a)', 1.0, 0.0, INF),
    ('round(x.a)', 2.5, 0.0, 3.0),
    ('round(x.a)', -2.5, 0.0, -3.0),
    ('round(x.a)', 0.49999999999999994, 0.0, 0.0),
    ('round(x.a)', 4503599627370497.0, 0.0, 4503599627370497.0),
    ('floor(x.a)', -0.5, 0.0, -1.0),
    ('trunc(x.a)', -1.5, 0.0, -1.0),
    ('sign(x.a)', NAN, 0.0, NAN),
    ('sign(x.a)', -5.0, 0.0, -1.0),
    ('min(x.a, x.b)', NAN, 1.0, NAN),
    ('max(x.a, x.b)', 1.0, NAN, NAN),
    ('clamp(x.a, 0, 1)', NAN, 0.0, NAN),
    ('clamp(x.a, 0, 1)', 7.0, 0.0, 1.0),
    ('x.a < x.b', NAN, 1.0, 0.0),
    ('x.a != x.b', NAN, NAN, 1.0),
    ('x.a == x.b', 0.0, -0.0, 1.0),
    ('not x.a', NAN, 0.0, 0.0),
    ('x.a and x.b', NAN, 2.0, 1.0),
    ('x.a or x.b', 0.0, -0.0, 0.0),
    ('x.b if x.a else 7', NAN, 3.0, 3.0),
    ('x.b if x.a else 7', 0.0, 3.0, 7.0),
    ('deg(x.a)', math.pi, 0.0, 180.0),
    ('hypot(x.a, x.b)', INF, NAN, INF),
    ('atan2(x.a, x.b)', 0.0, -1.0, math.pi),
    ('cbrt(x.a)', -8.0, 0.0, -2.0),
    ('x.a - x.b', INF, INF, NAN),
]


@pytest.mark.parametrize(('expr', 'a', 'b', 'want'), IEEE)
def test_ieee_cases(expr, a, b, want):
    batch = compile_batch([f'y = {expr}', 'z = x.b'])
    got = batch.evaluate({'x.a': a, 'x.b': b})['y']
    assert same(got, want), f'{expr} with x.a={a}, x.b={b}: {got!r}, expected {want!r}'


def test_dt_and_t_slots():
    batch = compile_batch(['step = dt', 'time = t', 'twice = 2 * t'])
    for dt in (0.5, 0.25, 0.25):
        batch.step(dt)
    assert batch.output_buffer.tolist() == [0.25, 1.0, 2.0]
    batch.reset()
    batch.step(0.125)
    assert batch.output_buffer.tolist() == [0.125, 0.125, 0.25]


def test_large_batch_uses_the_nogil_kernel_and_agrees():
    n = fastcall.NOGIL_MIN_ROWS // 2 + 10
    statements = ['s0 = sin(x.a) + x.b'] + [f's{i} = sin(s{i - 1}) + x.b' for i in range(1, n)]
    batch = compile_batch(statements)
    assert batch.program.n_ops >= fastcall.NOGIL_MIN_ROWS
    assert batch.step.__func__ is fastcall.entry_point(batch.program.n_ops)
    assert batch.step.__func__ is not fastcall.entry_point(0)
    out = batch.evaluate({'x.a': 0.3, 'x.b': 0.1})
    want = math.sin(0.3) + 0.1
    for _ in range(1, n):
        want = math.sin(want) + 0.1
    assert out[f's{n - 1}'] == want


def test_a_new_process_loads_the_kernel_from_the_cache():
    script = ('from arena_eval.engine import fastcall, kernel; '
              'print(fastcall.entry.cache_hits, '
              'sum(kernel._fingerprint.stats.cache_hits.values()), '
              'sum(kernel._fingerprint.stats.cache_misses.values()), kernel.RECOMPILED)')
    package = Path(kernel.__file__).parents[2]  # the directory holding arena_eval/
    subprocess.run([sys.executable, '-c', 'import arena_eval.engine.fastcall'], env=_env(package),
                   check=True, timeout=300)  # fills the cache if it is cold
    result = subprocess.run([sys.executable, '-c', script], env=_env(package),
                            capture_output=True, text=True, check=True, timeout=300)
    assert result.stdout.split() == ['1', '1', '0', 'False']


STALE_CACHE_SCRIPT = """
from arena_eval.engine import fastcall
from arena_eval.engine import kernel
from arena_eval.engine.arena import compile_batch
batch = compile_batch(['s = x.a + x.b', 'd = x.a - x.b'])
print(kernel.RECOMPILED, batch.evaluate({'x.a': 5.0, 'x.b': 3.0}))
"""


@pytest.mark.slow
def test_stale_cache_with_other_opcodes_is_recompiled(tmp_path):
    """A cache compiled against other opcode numbers must not run: it would swap + and -."""
    package = Path(kernel.__file__).parents[1]  # arena_eval/
    import_cache = subprocess.run([sys.executable, '-c', 'import arena_eval.engine.kernel'],
                                  cwd=tmp_path, env=_env(package.parent), check=True)
    assert import_cache.returncode == 0
    copy = tmp_path / 'arena_eval'
    shutil.copytree(package, copy)  # copy2 keeps kernel.py's mtime: the cache stays valid
    functions = copy / 'language' / 'functions.py'
    text = functions.read_text()
    assert 'ADD = 2\nSUB = 3\n' in text
    functions.write_text(text.replace('ADD = 2\nSUB = 3\n', 'ADD = 3\nSUB = 2\n'))
    result = subprocess.run([sys.executable, '-c', STALE_CACHE_SCRIPT], cwd=tmp_path,
                            env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True {'s': 8.0, 'd': 2.0}"


STALE_ENTRY_SCRIPT = """
from arena_eval.engine import fastcall
from arena_eval.engine.arena import compile_batch
batch = compile_batch(['s = x.a + x.b'])
print(type(batch.step).__name__, batch.evaluate({'x.a': 5.0, 'x.b': 3.0}))
"""


@pytest.mark.slow
def test_a_cached_fast_entry_over_a_changed_kernel_is_recompiled(tmp_path):
    """The entry's cache is keyed on fastcall.py alone: its fingerprint covers kernel.py."""
    package = Path(kernel.__file__).parents[1]  # arena_eval/
    subprocess.run([sys.executable, '-c', 'import arena_eval.engine.fastcall'],
                   cwd=tmp_path, env=_env(package.parent), check=True)
    copy = tmp_path / 'arena_eval'
    shutil.copytree(package, copy)  # copy2 keeps fastcall.py's mtime: its cache stays valid
    source = copy / 'engine' / 'kernel.py'
    text = source.read_text()
    assert text.count('m[d] = m[a] + m[b]') == 1
    source.write_text(text.replace('m[d] = m[a] + m[b]', 'm[d] = m[a] - m[b]'))
    result = subprocess.run([sys.executable, '-c', STALE_ENTRY_SCRIPT], cwd=tmp_path,
                            env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # the changed kernel runs (5 - 3), through the fast entry, recompiled
    assert result.stdout.strip() == "builtin_function_or_method {'s': 2.0}"


def _env(root):
    env = dict(os.environ)
    env['PYTHONPATH'] = str(root)
    env.pop('NUMBA_CACHE_DIR', None)
    env.pop('NUMBA_DISABLE_JIT', None)
    return env
