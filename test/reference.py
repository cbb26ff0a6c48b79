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
A plain reference evaluator for checked trees: recursion over `tree.py` nodes with `math`.

Written apart from the engine on purpose: no numba, no program, no arena (except where noted). Each
function is spelled out from its documented meaning, with C/IEEE results where Python's `math`
raises (1/0, log(0), overflow). The property tests compare the kernel with it; when they disagree,
one of the two has a bug.

Constant subexpressions are the one place the reference defers to the engine: the compiler folds
them by running their rows in the kernel (libm), whose last bit may differ from Python's `math`
for a few functions, so the reference folds exactly what the compiler folds, by compiling them.

Stateful functions keep their state in a `Reference` object, one entry per call site, keyed
by statement and by the call's place in the tree, and follow the documented rules:

- prev(x): first tick x, then the previous step's x; delta(x): first 0, then x - prev;
  ddt(x): first 0, then (x - prev) / dt, 0 when dt <= 0.
- integral(x): first 0, then += (x + prev) / 2 * dt.
- lowpass(x, tau), ema(x, alpha), rate_limit(x, max_rate): first tick x; then the filter's
  update.
- for these four, a step whose new value is nan outputs nan and keeps no nan: if x or the
  parameter is nan the sample is skipped (state kept), otherwise (infinities cancelled) the
  function restarts at the next step as on its first tick.
- mean/minimum/maximum(x, n): over the last min(count, n) values; nan if the window holds a nan.
- hold(x, cond): first tick x; then x while cond is nonzero, else the held value.
- mean_s/minimum_s/maximum_s(x, seconds): the call's clock advances by each step's dt (0 when
  not positive); every seconds/64 of it a new bucket starts; the window is the samples of the
  current bucket and the 63 before it; the mean is the sum of per-bucket sums over the count.
- held(cond, seconds): 1 when cond has been nonzero on every step since a step at least
  `seconds` (summed dt) ago, else 0.
- prev(E[, init]) where E names expressions of the batch: a unit delay, E's value at the end of
  the previous step, init (default 0) at first; other prev(x[, init]): first tick init (x).

Stale inputs (`step(..., valid=...)`): a stateful call whose arguments use a stale input (after
folding, through names and delays) is skipped: its state holds; with `restart` it is also
cleared. A delay's store is skipped the same way when E uses a stale input.
"""

import math

from arena_eval.engine import program as pg
from arena_eval.engine.compile import compile_program
from arena_eval.language.functions import CONSTANTS, TABLE, TIME_BUCKETS
from arena_eval.language.tree import Call, Num, Statement
import numpy as np

INF = math.inf
NAN = math.nan

DEFAULT_BATCH = [
    'accel_norm = sqrt(imu.linear_acceleration.x**2 + imu.linear_acceleration.y**2 + '
    'imu.linear_acceleration.z**2)',
    'roll = atan2(imu.linear_acceleration.y, imu.linear_acceleration.z)',
    'pitch = atan2(-imu.linear_acceleration.x, hypot(imu.linear_acceleration.y, '
    'imu.linear_acceleration.z))',
    'tilt_deg = deg(acos(clamp(imu.linear_acceleration.z / accel_norm, -1, 1)))',
    'yaw_rate_f = lowpass(imu.angular_velocity.z, 0.02)',
    'q2_rate = ddt_msg(joints.position[2])',
    'joint_power = joints.velocity[0] * joints.effort[0] + joints.velocity[1] * '
    'joints.effort[1] + joints.velocity[2] * joints.effort[2]',
]


def truth(x):
    return x != 0.0  # nan is true


def _odd_integer(y):
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def _div(a, b):
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return NAN
        return math.copysign(INF, a) * math.copysign(1.0, b)
    return a / b


def _pow(x, y):
    try:
        return math.pow(x, y)
    except OverflowError:
        return -INF if x < 0 and _odd_integer(y) else INF
    except ValueError:
        if x == 0.0:  # 0 ** negative: a pole
            return math.copysign(INF, x) if _odd_integer(y) else INF
        return NAN


def _mod(a, b):
    try:
        return math.fmod(a, b)
    except ValueError:
        return NAN


def _domain(f, pole=None):
    """Apply `f`; outside its domain give nan, at its poles -inf/+inf, on overflow inf."""
    def apply(x):
        try:
            return f(x)
        except OverflowError:
            return math.copysign(INF, x) if f in (math.sinh, math.expm1) and x < 0 else INF
        except ValueError:
            if pole is not None:
                return pole(x)
            return NAN
    return apply


def _log_pole(at):
    return lambda x: -INF if x == at else NAN


def _atanh_pole(x):
    return math.copysign(INF, x) if abs(x) == 1.0 else NAN


def _integral_valued(f):
    """Floor, ceil, trunc as floats: non-finite pass, a zero result keeps the sign of x."""
    def apply(x):
        if not math.isfinite(x):
            return x
        r = float(f(x))
        return math.copysign(0.0, x) if r == 0.0 else r
    return apply


def _round(x):
    if not math.isfinite(x):
        return x
    whole = math.floor(abs(x))
    r = whole + 1.0 if abs(x) - whole >= 0.5 else whole  # both exact: no x + 0.5 rounding
    return math.copysign(r, x) if r != 0.0 else 0.0


def _sign(x):
    if math.isnan(x):
        return x
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _min(*args):
    if any(math.isnan(a) for a in args):
        return NAN
    best = args[0]
    for a in args[1:]:
        if a < best:
            best = a
    return best


def _max(*args):
    if any(math.isnan(a) for a in args):
        return NAN
    best = args[0]
    for a in args[1:]:
        if a > best:
            best = a
    return best


STATELESS = {
    'add': lambda a, b: a + b,
    'sub': lambda a, b: a - b,
    'mul': lambda a, b: a * b,
    'div': _div,
    'neg': lambda a: -a,
    'pow': _pow,
    'mod': _mod,
    'fmod': _mod,
    'lt': lambda a, b: float(a < b),
    'le': lambda a, b: float(a <= b),
    'gt': lambda a, b: float(a > b),
    'ge': lambda a, b: float(a >= b),
    'eq': lambda a, b: float(a == b),
    'ne': lambda a, b: float(a != b),
    'and': lambda a, b: float(truth(a) and truth(b)),
    'or': lambda a, b: float(truth(a) or truth(b)),
    'not': lambda a: float(not truth(a)),
    'where': lambda c, a, b: a if truth(c) else b,
    'sin': _domain(math.sin),
    'cos': _domain(math.cos),
    'tan': _domain(math.tan),
    'asin': _domain(math.asin),
    'acos': _domain(math.acos),
    'atan': math.atan,
    'sinh': _domain(math.sinh),
    'cosh': _domain(math.cosh),
    'tanh': math.tanh,
    'asinh': math.asinh,
    'acosh': _domain(math.acosh),
    'atanh': _domain(math.atanh, _atanh_pole),
    'exp': _domain(math.exp),
    'expm1': _domain(math.expm1),
    'log': _domain(math.log, _log_pole(0.0)),
    'log1p': _domain(math.log1p, _log_pole(-1.0)),
    'log2': _domain(math.log2, _log_pole(0.0)),
    'log10': _domain(math.log10, _log_pole(0.0)),
    'sqrt': _domain(math.sqrt),
    'cbrt': math.cbrt,
    'abs': abs,
    'sign': _sign,
    'floor': _integral_valued(math.floor),
    'ceil': _integral_valued(math.ceil),
    'round': _round,
    'trunc': _integral_valued(math.trunc),
    'deg': lambda x: x * (180.0 / math.pi),
    'rad': lambda x: x * (math.pi / 180.0),
    'atan2': math.atan2,
    # Python's math.hypot is its own algorithm since 3.10; the kernel calls libm, as numpy does.
    'hypot': lambda a, b: float(np.hypot(a, b)),
    'min': _min,
    'max': _max,
    'clamp': lambda x, lo, hi: _min(_max(x, lo), hi),
}


def compiled_constant(func, values, pos):
    """Return the constant the compiler makes of `func(*values)`: compiled, not computed."""
    call = Call(func, tuple(Num(v, pos) for v in values), pos)
    program = compile_program([Statement('k', call, pos, None)])
    assert program.n_exec == 0, 'a call of constants must fold'
    return dict(program.constants)[int(program.code[0, pg.F_A])]


class Reference:
    """Evaluate checked statements step by step, keeping each stateful call site's state."""

    def __init__(self, statements):
        self.statements = list(statements)
        self.by_name = {s.name: s for s in self.statements}
        self.state = {}
        self.t = 0.0
        self.folded = {}  # id(node) -> constant value, or None when not constant
        self.deps = dict.fromkeys(self.by_name, frozenset())
        changed = True
        while changed:  # delays make references cyclic: iterate to the fixed point
            changed = False
            for stmt in self.statements:
                new = self.uses(stmt.expr)
                if new != self.deps[stmt.name]:
                    self.deps[stmt.name] = new
                    changed = True

    def is_delay(self, node):
        """Say whether a prev() call is a unit delay: its argument names an expression."""
        if type(node).__name__ != 'Call' or node.func != 'prev':
            return False
        stack = [node.args[0]]
        while stack:
            n = stack.pop()
            if type(n).__name__ == 'Ref' and n.name in self.by_name:
                return True
            if type(n).__name__ == 'Call':
                stack.extend(n.args)
        return False

    def uses(self, node):
        """Input paths `node` depends on once folded (the stale guard's inputs)."""
        kind = type(node).__name__
        if kind == 'Num' or self.constant(node) is not None:
            return frozenset()
        if kind == 'Ref':
            if node.name in self.by_name:
                return self.deps[node.name]
            return frozenset([node.name]) if '.' in node.name else frozenset()
        if node.func == 'where' and self.constant(node.args[0]) is not None:
            return self.uses(node.args[1] if truth(self.constant(node.args[0])[0])
                             else node.args[2])
        return frozenset().union(*(self.uses(arg) for arg in node.args))

    def constant(self, node):
        """Return the value the compiler folds `node` to, or None if it is not constant."""
        key = id(node)
        if key not in self.folded:
            self.folded[key] = self._fold(node)
        return self.folded[key]

    def _fold(self, node):
        kind = type(node).__name__
        if kind == 'Num':
            return (node.value,)
        if kind == 'Ref':
            if node.name in self.by_name:
                return self.constant(self.by_name[node.name].expr)
            return (CONSTANTS[node.name],) if node.name in CONSTANTS else None
        if TABLE[node.func].stateful:
            return None
        args = [self.constant(arg) for arg in node.args]
        if any(arg is None for arg in args):
            return None
        return (compiled_constant(node.func, [arg[0] for arg in args], node.pos),)

    def reset(self):
        self.state.clear()
        self.t = 0.0

    def step(self, inputs, dt, valid=None, restart=False):
        """
        Return `{name: value}` for one step with input values `{path: value}`.

        `valid`: `{path: bool}`, every input fresh when None; `restart`: stale_state 'restart'.
        """
        self.t += dt
        self.dt = dt
        self.inputs = inputs
        self.valid = valid or {}
        self.restart = restart
        self.values = {}
        self.pending = []
        for stmt in self.statements:
            self._statement(stmt)
        stores, seen, k = [], set(), 0
        while k < len(self.pending):  # E of a delay may hold delays of its own
            where, node = self.pending[k]
            k += 1
            if where not in seen:
                seen.add(where)
                stores.append((where, node, self._eval(node.args[0], where + (0,))))
        for where, node, value in stores:
            s = self.state.setdefault(where, {})
            if self._fresh(node.args[0]):
                s['last'] = value
            elif restart:
                s.clear()
        return dict(self.values)

    def _fresh(self, *nodes):
        return all(self.valid.get(path, True) for node in nodes for path in self.uses(node))

    def _statement(self, stmt):
        if stmt.name not in self.values:
            self.values[stmt.name] = self._eval(stmt.expr, (stmt.name,))
        return self.values[stmt.name]

    def _eval(self, node, where):
        kind = type(node).__name__
        if kind == 'Num':
            return node.value
        folded = self.constant(node)
        if folded is not None:
            return folded[0]
        if kind == 'Ref':
            if node.name in self.by_name:
                return self._statement(self.by_name[node.name])
            if node.name == 'dt':
                return self.dt
            if node.name == 't':
                return self.t
            return self.inputs[node.name]
        if self.is_delay(node):
            s = self.state.setdefault(where, {})
            init = self._eval(node.args[1], where + (1,)) if len(node.args) > 1 else 0.0
            self.pending.append((where, node))
            return s.get('last', init)
        args = [self._eval(arg, where + (k,)) for k, arg in enumerate(node.args)]
        if node.func in STATELESS:
            return STATELESS[node.func](*args)
        s = self.state.setdefault(where, {})
        if not self._fresh(*node.args):
            if self.restart:
                s.clear()
            return NAN  # never seen: every output using it depends on the stale input too
        return getattr(self, '_' + node.func)(s, *args)

    # ----- stateful functions, state in `s`, empty on the first tick ------------------------
    def _prev(self, s, x, init=None):
        out = s.get('last', x if init is None else init)
        s['last'] = x
        return out

    def _delta(self, s, x):
        out = x - s['last'] if 'last' in s else 0.0
        s['last'] = x
        return out

    def _ddt(self, s, x):
        out = (x - s['last']) / self.dt if 'last' in s and self.dt > 0 else 0.0
        s['last'] = x
        return out

    def _integral(self, s, x):
        if 'sum' not in s:
            total = 0.0 if not math.isnan(x) else NAN
        else:
            total = s['sum'] + (x + s['last']) * 0.5 * self.dt
        return self._filter(s, total, x, self.dt, sum=total, last=x)

    def _filter(self, s, new, x, param, **state):
        """Keep `new` unless nan: then skip a nan sample or parameter, else restart."""
        if not math.isnan(new):
            s.update(state or {'y': new})
        elif not math.isnan(x) and not math.isnan(param):
            s.clear()
        return new

    def _lowpass(self, s, x, tau):
        if 'y' not in s or tau <= 0:
            new = x
        else:
            y = s['y']
            new = y + -math.expm1(-self.dt / tau) * (x - y) if not math.isnan(tau) else NAN
        return self._filter(s, new, x, tau)

    def _ema(self, s, x, alpha):
        if 'y' not in s:
            new = x
        else:
            a = min(max(alpha, 0.0), 1.0) if not math.isnan(alpha) else NAN
            new = a * x + (1.0 - a) * s['y']
        return self._filter(s, new, x, alpha)

    def _rate_limit(self, s, x, max_rate):
        step = max_rate * self.dt
        if 'y' not in s:
            new = x
        elif math.isnan(step):
            new = NAN
        else:
            y, step = s['y'], max(step, 0.0)
            new = y + step if x - y > step else (y - step if x - y < -step else x)
        return self._filter(s, new, x, step)

    def _window(self, s, x, n):
        values = s.setdefault('window', [])
        values.append(x)
        del values[:-int(n)]
        return values

    def _mean(self, s, x, n):
        values = self._window(s, x, n)
        try:
            return math.fsum(values) / len(values)
        except (OverflowError, ValueError):  # fsum refuses inf - inf and overflow
            return sum(values) / len(values)

    def _minimum(self, s, x, n):
        return _min(*self._window(s, x, n))

    def _maximum(self, s, x, n):
        return _max(*self._window(s, x, n))

    def _hold(self, s, x, cond):
        if 'held' not in s or truth(cond):
            s['held'] = x
        return s['held']

    def _time_window(self, s, x, seconds):
        """Return the `(bucket, x)` samples of the current bucket and the 63 before it."""
        buckets = TIME_BUCKETS
        if 'samples' not in s:
            s.update(samples=[], bucket=0, elapsed=0.0)
        else:
            width = seconds / buckets
            elapsed = s['elapsed'] + (self.dt if self.dt > 0 else 0.0)
            moved = 0
            while elapsed >= width and moved < buckets:
                elapsed -= width
                moved += 1
            if elapsed >= width:
                elapsed = math.fmod(elapsed, width)
            s['elapsed'] = 0.0 if math.isnan(elapsed) else elapsed
            s['bucket'] += moved
        s['samples'].append((s['bucket'], x))
        s['samples'] = [(k, v) for k, v in s['samples'] if k > s['bucket'] - buckets]
        return s['samples'], buckets

    def _mean_s(self, s, x, seconds):
        samples, buckets = self._time_window(s, x, seconds)
        sums = {}
        for k, v in samples:  # a sum of per-bucket sums, buckets in ring order
            sums[k % buckets] = sums[k % buckets] + v if k % buckets in sums else v
        total = 0.0
        for k in sorted(sums):
            total += sums[k]
        return total / len(samples)

    def _minimum_s(self, s, x, seconds):
        return _min(*(v for _, v in self._time_window(s, x, seconds)[0]))

    def _maximum_s(self, s, x, seconds):
        return _max(*(v for _, v in self._time_window(s, x, seconds)[0]))

    def _held(self, s, cond, seconds):
        if truth(cond):
            if 'since' in s:
                s['since'] += self.dt if self.dt > 0 else 0.0
            else:
                s['since'] = 0.0
        else:
            s.pop('since', None)
        return 1.0 if 'since' in s and s['since'] >= seconds else 0.0
