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
The one table of the language's operators and functions: name, arity, opcode, state, docs.

Everything that knows about an operation reads it from `TABLE`: the parser (names, arity, hints),
the compiler (opcodes, constant folding through `fold`, state layout), the kernel (opcode numbers),
the disassembler and the README's language reference. Opcode numbers are plain ints so the numba
kernel can compare against them as compile-time constants.

>>> TABLE['hypot'].opcode == HYPOT
True
>>> TABLE['add'].fold(1.0, 2.0)
3.0
"""

from dataclasses import dataclass
import math

import numpy as np

# Every opcode of the language is defined here, once; the engine derives its row shapes from
# `TABLE` and numbers its own fused rows above these (see engine/program.py). The numbers only
# group operations by kind: the kernel's dispatch order is its own (most frequent first).
# Kernel-only opcodes (no name in the language).
COPY = 0          # dst = a
OUTPUT = 1        # output slot dst = register a, honouring the stale policy (see kernel)

# Arithmetic.
ADD = 2
SUB = 3
MUL = 4
DIV = 5
NEG = 6
POW = 7
MOD = 8
# Comparisons and logic: 1.0 / 0.0; any nonzero value (nan included) is true.
LT = 10
LE = 11
GT = 12
GE = 13
EQ = 14
NE = 15
AND = 16
OR = 17
NOT = 18
WHERE = 19
# Functions of one argument.
SIN = 20
COS = 21
TAN = 22
ASIN = 23
ACOS = 24
ATAN = 25
SINH = 26
COSH = 27
TANH = 28
ASINH = 29
ACOSH = 30
ATANH = 31
EXP = 32
EXPM1 = 33
LOG = 34
LOG1P = 35
LOG2 = 36
LOG10 = 37
SQRT = 38
CBRT = 39
ABS = 40
SIGN = 41
FLOOR = 42
CEIL = 43
ROUND = 44
TRUNC = 45
DEG = 46
RAD = 47
# Functions of two or three arguments.
ATAN2 = 50
HYPOT = 51
MIN = 52
MAX = 53
CLAMP = 54
# Stateful functions: state lives in the arena, one block per call site.
PREV = 60
DELTA = 61
DDT = 62
INTEGRAL = 63
LOWPASS = 64
EMA = 65
RATE_LIMIT = 66
MEAN = 67
MINIMUM = 68
MAXIMUM = 69
HOLD = 70

# Largest `n` accepted by the windowed functions `mean`, `minimum`, `maximum`.
MAX_WINDOW = 10000

CONSTANTS = {'pi': math.pi, 'e': math.e, 'inf': math.inf, 'nan': math.nan}
BUILTINS = {
    'dt': 'seconds since the previous step (the value passed to `step(dt)`)',
    't': 'seconds since the first step: the sum of all `dt` so far',
}


def _np(ufunc):
    """IEEE fold of a numpy ufunc: never raises, never warns, returns a Python float."""
    def fold(*args):
        with np.errstate(all='ignore'):
            return float(ufunc(*(np.float64(a) for a in args)))
    return fold


def _truth(x):
    return x != 0.0  # nan != 0.0 is True: nan counts as true, as in Python


def round_half_away(x):
    """Round half away from zero, exact for every double (no `floor(x + 0.5)` rounding bug)."""
    t = math.trunc(x) if math.isfinite(x) else x
    if math.isfinite(x) and abs(x - t) >= 0.5:
        t += math.copysign(1.0, x)
    return float(t)


def _pow(a, b):
    """C `pow` (what the kernel runs): numpy's power differs at -0.0 ** 0.5 and -inf ** 0.5."""
    try:
        return math.pow(a, b)
    except OverflowError:
        return -math.inf if a < 0 and _odd_integer(b) else math.inf
    except ValueError:
        if a == 0.0:  # 0 ** negative: a pole
            return math.copysign(math.inf, a) if _odd_integer(b) else math.inf
        return math.nan


def _odd_integer(x):
    return math.isfinite(x) and x == math.floor(x) and math.fmod(x, 2.0) != 0.0


def _sign(x):
    if x != x:
        return x
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _minmax(pick):
    def fold(*args):
        if any(a != a for a in args):
            return math.nan
        return float(pick(args))
    return fold


def _clamp(x, lo, hi):
    return _minmax(min)(_minmax(max)(x, lo), hi)


@dataclass(frozen=True)
class Function:
    """
    One operation of the language.

    `max_args` None means n-ary (compiled as a chain of the binary opcode). `const_args` are
    argument positions that must fold to a compile-time constant (window sizes). `state_slots`
    is the per-call-site state size in float64 slots; windowed functions add `n` more.
    """

    name: str
    opcode: int
    min_args: int
    max_args: int | None
    doc: str
    fold: object = None
    symbol: str | None = None
    stateful: bool = False
    const_args: tuple = ()
    state_slots: int = 0
    window_arg: int | None = None
    first_tick: str = ''


def _f(name, opcode, nargs, doc, fold=None, **kw):
    lo, hi = (nargs, nargs) if isinstance(nargs, int) else nargs
    return Function(name, opcode, lo, hi, doc, fold, **kw)


_ENTRIES = [
    # Operators: the parser maps syntax to these keys.
    _f('add', ADD, 2, 'a + b', _np(np.add), symbol='+'),
    _f('sub', SUB, 2, 'a - b', _np(np.subtract), symbol='-'),
    _f('mul', MUL, 2, 'a * b', _np(np.multiply), symbol='*'),
    _f('div', DIV, 2, 'a / b; 1/0 is inf, 0/0 is nan', _np(np.divide), symbol='/'),
    _f('neg', NEG, 1, '-a', _np(np.negative), symbol='-'),
    _f('pow', POW, 2, 'a ** b (also a ^ b): C pow, right-associative', _pow,
       symbol='**'),
    _f('mod', MOD, 2, 'a % b: C fmod, result has the sign of a; x % 0 is nan', _np(np.fmod),
       symbol='%'),
    _f('lt', LT, 2, 'a < b: 1.0 or 0.0', lambda a, b: float(a < b), symbol='<'),
    _f('le', LE, 2, 'a <= b', lambda a, b: float(a <= b), symbol='<='),
    _f('gt', GT, 2, 'a > b', lambda a, b: float(a > b), symbol='>'),
    _f('ge', GE, 2, 'a >= b', lambda a, b: float(a >= b), symbol='>='),
    _f('eq', EQ, 2, 'a == b', lambda a, b: float(a == b), symbol='=='),
    _f('ne', NE, 2, 'a != b (nan != nan is 1.0)', lambda a, b: float(a != b), symbol='!='),
    _f('and', AND, 2, 'a and b: 1.0 if both are nonzero (nan counts as nonzero)',
       lambda a, b: float(_truth(a) and _truth(b)), symbol='and'),
    _f('or', OR, 2, 'a or b: 1.0 if either is nonzero',
       lambda a, b: float(_truth(a) or _truth(b)), symbol='or'),
    _f('not', NOT, 1, 'not a: 1.0 if a is zero', lambda a: float(not _truth(a)), symbol='not'),
    _f('where', WHERE, 3, 'where(c, a, b) and `a if c else b`: a if c is nonzero, else b',
       lambda c, a, b: a if _truth(c) else b),
    # Functions of one argument.
    _f('sin', SIN, 1, 'sine (radians)', _np(np.sin)),
    _f('cos', COS, 1, 'cosine (radians)', _np(np.cos)),
    _f('tan', TAN, 1, 'tangent (radians)', _np(np.tan)),
    _f('asin', ASIN, 1, 'arc sine; nan outside [-1, 1]', _np(np.arcsin)),
    _f('acos', ACOS, 1, 'arc cosine; nan outside [-1, 1]', _np(np.arccos)),
    _f('atan', ATAN, 1, 'arc tangent', _np(np.arctan)),
    _f('sinh', SINH, 1, 'hyperbolic sine', _np(np.sinh)),
    _f('cosh', COSH, 1, 'hyperbolic cosine', _np(np.cosh)),
    _f('tanh', TANH, 1, 'hyperbolic tangent', _np(np.tanh)),
    _f('asinh', ASINH, 1, 'inverse hyperbolic sine', _np(np.arcsinh)),
    _f('acosh', ACOSH, 1, 'inverse hyperbolic cosine; nan below 1', _np(np.arccosh)),
    _f('atanh', ATANH, 1, 'inverse hyperbolic tangent; +-inf at +-1', _np(np.arctanh)),
    _f('exp', EXP, 1, 'e ** x', _np(np.exp)),
    _f('expm1', EXPM1, 1, 'e ** x - 1, exact near 0', _np(np.expm1)),
    _f('log', LOG, 1, 'natural logarithm; -inf at 0, nan below', _np(np.log)),
    _f('log1p', LOG1P, 1, 'log(1 + x), exact near 0', _np(np.log1p)),
    _f('log2', LOG2, 1, 'base-2 logarithm', _np(np.log2)),
    _f('log10', LOG10, 1, 'base-10 logarithm', _np(np.log10)),
    _f('sqrt', SQRT, 1, 'square root; nan below 0', _np(np.sqrt)),
    _f('cbrt', CBRT, 1, 'cube root (negative for negative x)', _np(np.cbrt)),
    _f('abs', ABS, 1, 'absolute value', _np(np.abs)),
    _f('sign', SIGN, 1, '-1.0, 0.0 or 1.0 (nan for nan)', _sign),
    _f('floor', FLOOR, 1, 'largest integer <= x', _np(np.floor)),
    _f('ceil', CEIL, 1, 'smallest integer >= x', _np(np.ceil)),
    _f('round', ROUND, 1, 'nearest integer, halves away from zero (round(2.5) is 3)',
       round_half_away),
    _f('trunc', TRUNC, 1, 'integer part, toward zero', _np(np.trunc)),
    _f('deg', DEG, 1, 'radians to degrees: x * (180 / pi)', lambda x: x * (180.0 / math.pi)),
    _f('rad', RAD, 1, 'degrees to radians: x * (pi / 180)', lambda x: x * (math.pi / 180.0)),
    # Functions of two or more arguments.
    _f('atan2', ATAN2, 2, 'atan2(y, x): angle of (x, y) in (-pi, pi]', _np(np.arctan2)),
    _f('hypot', HYPOT, 2, 'hypot(x, y): sqrt(x*x + y*y) without overflow', _np(np.hypot)),
    _f('min', MIN, (2, None), 'smallest argument; nan if any argument is nan', _minmax(min)),
    _f('max', MAX, (2, None), 'largest argument; nan if any argument is nan', _minmax(max)),
    _f('clamp', CLAMP, 3, 'clamp(x, lo, hi) = min(max(x, lo), hi)', _clamp),
    _f('fmod', MOD, 2, 'fmod(a, b): same as a % b', _np(np.fmod)),
    # Stateful functions. `dt` is the step's dt; "first tick" is the first step after
    # compiling or `reset()`.
    _f('prev', PREV, 1, 'x at the previous step', stateful=True, state_slots=2,
       first_tick='x'),
    _f('delta', DELTA, 1, 'x - prev(x)', stateful=True, state_slots=2, first_tick='0'),
    _f('ddt', DDT, 1, '(x - prev(x)) / dt; 0 when dt <= 0', stateful=True, state_slots=2,
       first_tick='0'),
    _f('integral', INTEGRAL, 1, 'trapezoidal integral of x over time: sum of (x + prev) / 2 * dt',
       stateful=True, state_slots=3, first_tick='0'),
    _f('lowpass', LOWPASS, 2,
       'first-order low-pass, time constant tau seconds: y += (1 - exp(-dt / tau)) * (x - y); '
       'tau <= 0 passes x through', stateful=True, state_slots=2, first_tick='x'),
    _f('ema', EMA, 2, 'exponential moving average: y = alpha * x + (1 - alpha) * y, alpha '
       'clamped to [0, 1]', stateful=True, state_slots=2, first_tick='x'),
    _f('rate_limit', RATE_LIMIT, 2, 'follows x, moving at most max_rate * dt per step',
       stateful=True, state_slots=2, first_tick='x'),
    _f('mean', MEAN, 2, 'mean of the last n values of x (n a constant, 1..%d); fewer while '
       'fewer have been seen' % MAX_WINDOW, stateful=True, const_args=(1,), state_slots=4,
       window_arg=1, first_tick='x'),
    _f('minimum', MINIMUM, 2, 'smallest of the last n values of x (nan if any is nan)',
       stateful=True, const_args=(1,), state_slots=4, window_arg=1, first_tick='x'),
    _f('maximum', MAXIMUM, 2, 'largest of the last n values of x (nan if any is nan)',
       stateful=True, const_args=(1,), state_slots=4, window_arg=1, first_tick='x'),
    _f('hold', HOLD, 2, 'x while cond is nonzero; otherwise the value held from the last step '
       'where cond was nonzero', stateful=True, state_slots=2, first_tick='x (whatever cond is)'),
]

TABLE = {fn.name: fn for fn in _ENTRIES}

# Operators are reached through syntax only; these are the names users may call.
OPERATOR_KEYS = frozenset(fn.name for fn in _ENTRIES if fn.symbol is not None)
CALLABLE = {name: fn for name, fn in TABLE.items() if name not in OPERATOR_KEYS or name == 'pow'}

# Names a batch may not use for its outputs: they would shadow the language.
RESERVED = frozenset(CALLABLE) | frozenset(CONSTANTS) | frozenset(BUILTINS) | {
    'and', 'or', 'not', 'if', 'else'}

OPCODE_NAMES = {}
for _fn in _ENTRIES:
    OPCODE_NAMES.setdefault(_fn.opcode, _fn.name)
OPCODE_NAMES[COPY] = 'copy'
OPCODE_NAMES[OUTPUT] = 'output'
