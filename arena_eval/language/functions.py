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
the compiler (opcodes, state layout), the kernel (opcode numbers), the disassembler and
docs/language.md. Opcode numbers are plain ints so the numba kernel can compare against
them as compile-time constants. What an operation computes is the kernel's alone (its C math
library defines every result): the engine folds constants by running the kernel's own code, so
nothing here evaluates anything and the docs only describe it.

>>> TABLE['hypot'].opcode == HYPOT
True
>>> TABLE['atan2'].min_args, TABLE['min'].max_args
(2, None)
"""

from dataclasses import dataclass
import math

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
MEAN_S = 71
MINIMUM_S = 72
MAXIMUM_S = 73
HELD = 74
DDT_MSG = 75

# Functions the parser expands into others (no opcode of their own).
MACRO = -1

# Message time: `fresh(imu)` reads the meta input `imu.@fresh`, a path users cannot write (`@`
# is no character of a name), which the input layer writes on every tick, always valid, so no
# stale policy turns it to nan. `@mdt` is the time between the input's last two messages on the
# tick the newer arrived (0 on other ticks); ddt_msg() reads it.
META_FUNCTIONS = ('stamp', 'age', 'fresh', 'updated')
META_KINDS = ('fresh', 'age', 'updated', 'stamp', 'mdt')


def meta_path(root, kind):
    """Name the meta input of kind `kind` of input `root`: `imu.@fresh`."""
    return f'{root}.@{kind}'


def split_meta(path):
    """Return `(root, kind)` for a meta input path (`imu.@age`), else None."""
    root, sep, kind = path.partition('.@')
    if not sep or kind not in META_KINDS:
        return None
    return root, kind


# Largest `n` accepted by the windowed functions `mean`, `minimum`, `maximum`.
MAX_WINDOW = 10000
# Windows in seconds (`mean_s`, `minimum_s`, `maximum_s`): a ring of TIME_BUCKETS buckets of
# `seconds / TIME_BUCKETS` each, so the state size is fixed whatever the rate; the longest window.
TIME_BUCKETS = 64
MAX_WINDOW_S = 86400.0

CONSTANTS = {'pi': math.pi, 'e': math.e, 'inf': math.inf, 'nan': math.nan}
BUILTINS = {
    'dt': 'seconds since the previous step (the value passed to `step(dt)`)',
    't': 'seconds since the first step: the sum of all `dt` so far',
}


@dataclass(frozen=True)
class Function:
    """
    One operation of the language.

    `max_args` None means n-ary (compiled as a chain of the binary opcode). `const_args` are
    argument positions that must fold to a compile-time constant (window sizes). `state_slots`
    is the per-call-site state size in float64 slots; windowed functions add `n` more. A
    `macro` never reaches the compiler: the parser rewrites it into calls of other functions.
    """

    name: str
    opcode: int
    min_args: int
    max_args: int | None
    doc: str
    symbol: str | None = None
    stateful: bool = False
    const_args: tuple = ()
    state_slots: int = 0
    window_arg: int | None = None
    first_tick: str = ''
    seconds_arg: int | None = None
    restart_slots: int | None = None
    macro: bool = False  # expanded by the parser into other calls; no opcode of its own

    @property
    def fixed_slots(self):
        """Leading state slots that hold the first-tick flags: zeroing them restarts the call."""
        return self.state_slots if self.restart_slots is None else self.restart_slots


def _f(name, opcode, nargs, doc, **kw):
    lo, hi = (nargs, nargs) if isinstance(nargs, int) else nargs
    return Function(name, opcode, lo, hi, doc, **kw)


_ENTRIES = [
    # Operators: the parser maps syntax to these keys.
    _f('add', ADD, 2, 'a + b', symbol='+'),
    _f('sub', SUB, 2, 'a - b', symbol='-'),
    _f('mul', MUL, 2, 'a * b', symbol='*'),
    _f('div', DIV, 2, 'a / b; 1/0 is inf, 0/0 is nan', symbol='/'),
    _f('neg', NEG, 1, '-a', symbol='-'),
    _f('pow', POW, 2, 'a ** b (also a ^ b): C pow, right-associative', symbol='**'),
    _f('mod', MOD, 2, 'a % b: C fmod, result has the sign of a; x % 0 is nan', symbol='%'),
    _f('lt', LT, 2, 'a < b: 1.0 or 0.0', symbol='<'),
    _f('le', LE, 2, 'a <= b', symbol='<='),
    _f('gt', GT, 2, 'a > b', symbol='>'),
    _f('ge', GE, 2, 'a >= b', symbol='>='),
    _f('eq', EQ, 2, 'a == b', symbol='=='),
    _f('ne', NE, 2, 'a != b (nan != nan is 1.0)', symbol='!='),
    _f('and', AND, 2, 'a and b: 1.0 if both are nonzero (nan counts as nonzero)', symbol='and'),
    _f('or', OR, 2, 'a or b: 1.0 if either is nonzero', symbol='or'),
    _f('not', NOT, 1, 'not a: 1.0 if a is zero', symbol='not'),
    _f('where', WHERE, 3, 'where(c, a, b) and `a if c else b`: a if c is nonzero, else b'),
    # Functions of one argument.
    _f('sin', SIN, 1, 'sine (radians)'),
    _f('cos', COS, 1, 'cosine (radians)'),
    _f('tan', TAN, 1, 'tangent (radians)'),
    _f('asin', ASIN, 1, 'arc sine; nan outside [-1, 1]'),
    _f('acos', ACOS, 1, 'arc cosine; nan outside [-1, 1]'),
    _f('atan', ATAN, 1, 'arc tangent'),
    _f('sinh', SINH, 1, 'hyperbolic sine'),
    _f('cosh', COSH, 1, 'hyperbolic cosine'),
    _f('tanh', TANH, 1, 'hyperbolic tangent'),
    _f('asinh', ASINH, 1, 'inverse hyperbolic sine'),
    _f('acosh', ACOSH, 1, 'inverse hyperbolic cosine; nan below 1'),
    _f('atanh', ATANH, 1, 'inverse hyperbolic tangent; +-inf at +-1'),
    _f('exp', EXP, 1, 'e ** x'),
    _f('expm1', EXPM1, 1, 'e ** x - 1, exact near 0'),
    _f('log', LOG, 1, 'natural logarithm; -inf at 0, nan below'),
    _f('log1p', LOG1P, 1, 'log(1 + x), exact near 0'),
    _f('log2', LOG2, 1, 'base-2 logarithm'),
    _f('log10', LOG10, 1, 'base-10 logarithm'),
    _f('sqrt', SQRT, 1, 'square root; nan below 0'),
    _f('cbrt', CBRT, 1, 'cube root (negative for negative x)'),
    _f('abs', ABS, 1, 'absolute value'),
    _f('sign', SIGN, 1, '-1.0, 0.0 or 1.0 (nan for nan)'),
    _f('floor', FLOOR, 1, 'largest integer <= x'),
    _f('ceil', CEIL, 1, 'smallest integer >= x'),
    _f('round', ROUND, 1, 'nearest integer, halves away from zero (round(2.5) is 3)'),
    _f('trunc', TRUNC, 1, 'integer part, toward zero'),
    _f('deg', DEG, 1, 'radians to degrees: x * (180 / pi)'),
    _f('rad', RAD, 1, 'degrees to radians: x * (pi / 180)'),
    # Functions of two or more arguments.
    _f('atan2', ATAN2, 2, 'atan2(y, x): angle of (x, y) in (-pi, pi]'),
    _f('hypot', HYPOT, 2, 'hypot(x, y): sqrt(x*x + y*y) without overflow'),
    _f('min', MIN, (2, None), 'smallest argument; nan if any argument is nan'),
    _f('max', MAX, (2, None), 'largest argument; nan if any argument is nan'),
    _f('clamp', CLAMP, 3, 'clamp(x, lo, hi) = min(max(x, lo), hi)'),
    _f('fmod', MOD, 2, 'fmod(a, b): same as a % b'),
    # Stateful functions. `dt` is the step's dt; "first tick" is the first step after
    # compiling or `reset()`.
    _f('prev', PREV, (1, 2), 'x at the previous step; prev(x, init) gives init on the first '
       'step. prev of an expression of the batch (prev(name), the name itself included) is a '
       'unit delay: it breaks cycles', stateful=True, state_slots=2,
       first_tick='init if given; else x, or 0 when x names expressions of the batch'),
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
    _f('mean_s', MEAN_S, 2, 'mean of x over the last `seconds` (a constant) of steps; the window '
       'moves in buckets of seconds/%d' % TIME_BUCKETS, stateful=True, const_args=(1,),
       state_slots=4 + 2 * TIME_BUCKETS, seconds_arg=1, restart_slots=4, first_tick='x'),
    _f('minimum_s', MINIMUM_S, 2, 'smallest x over the last `seconds` of steps (nan if any is '
       'nan)', stateful=True, const_args=(1,), state_slots=4 + 2 * TIME_BUCKETS, seconds_arg=1,
       restart_slots=4, first_tick='x'),
    _f('maximum_s', MAXIMUM_S, 2, 'largest x over the last `seconds` of steps (nan if any is '
       'nan)', stateful=True, const_args=(1,), state_slots=4 + 2 * TIME_BUCKETS, seconds_arg=1,
       restart_slots=4, first_tick='x'),
    _f('held', HELD, 2, 'held(cond, seconds): 1 once cond has been nonzero on every step for '
       'at least `seconds` (the time since the first step of the current run), else 0',
       stateful=True, state_slots=2, first_tick='0 (1 if seconds <= 0 and cond is nonzero)'),
    # Message time (see META_FUNCTIONS); the argument is an input's name.
    _f('stamp', MACRO, 1, "stamp(input): the header stamp of the input's newest message, in "
       'seconds; nan before the first message or when its type has no header', macro=True),
    _f('age', MACRO, 1, "age(input): seconds since the input's newest message was received (by "
       'the tick that took it); inf before the first message', macro=True),
    _f('fresh', MACRO, 1, 'fresh(input): 1 while the input has a message not older than its '
       'timeout, else 0', macro=True),
    _f('updated', MACRO, 1, 'updated(input): 1 on the tick that took a new message of the input, '
       'else 0', macro=True),
    _f('ddt_msg', DDT_MSG, 1, "derivative over message time: (x - x at the input's previous "
       'message) / (stamp difference; the receive-time difference when stamps do not increase), '
       'computed when a message arrives and held until the next; x reads one input',
       stateful=True, state_slots=3, first_tick='0 (and 0 at the first message)'),
    # Orientation of a quaternion field (x, y, z, w), expanded by the parser (see parse.py).
    _f('roll_of', MACRO, 1, 'roll (rotation about x, radians, (-pi, pi]) of a quaternion field '
       'such as imu.orientation: ZYX (yaw, pitch, roll) Euler angles, as tf2 getRPY',
       macro=True),
    _f('pitch_of', MACRO, 1, 'pitch (rotation about y, radians, [-pi/2, pi/2]) of a quaternion '
       'field', macro=True),
    _f('yaw_of', MACRO, 1, 'yaw (rotation about z, radians, (-pi, pi]) of a quaternion field',
       macro=True),
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
    if not _fn.macro:
        OPCODE_NAMES.setdefault(_fn.opcode, _fn.name)
OPCODE_NAMES[COPY] = 'copy'
OPCODE_NAMES[OUTPUT] = 'output'
