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
Hypothesis properties: the compiled kernel agrees with the reference evaluator of `reference.py`.

Random expression trees over every stateless function and operator are rendered to text,
compiled as a batch (with references between statements), run on random inputs (nan, infinities,
signed zeros, huge and tiny values among them) and compared with the reference evaluating the
same parsed statements: equal to 1e-12 relative, nan to nan, infinities and comparisons exactly.
Stateful functions are checked the same way over random sequences of steps, `reset()` included.
`ARENA_EVAL_PROPERTY_EXAMPLES` sets the examples per test (300 by default).
"""

import math
import os

from arena_eval.engine.arena import compile_batch
from arena_eval.language.functions import OPERATOR_KEYS, TABLE
from arena_eval.language.parse import parse_statement
from hypothesis import given, HealthCheck, settings, strategies as st
from reference import Reference

INPUTS = ['x.a', 'x.b', 'x.c', 'y.d[1]']
LEAF_NAMES = INPUTS + ['dt', 't']
SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 2.0, 3.0, 1e-300, -1e300, 1e300, math.pi,
           math.inf, -math.inf, math.nan]
INFIX = {'add': '+', 'sub': '-', 'mul': '*', 'div': '/', 'pow': '**', 'mod': '%', 'lt': '<',
         'le': '<=', 'gt': '>', 'ge': '>=', 'eq': '==', 'ne': '!=', 'and': 'and', 'or': 'or'}
STATELESS = sorted(name for name, f in TABLE.items() if not f.stateful and not f.macro)
# ddt_msg needs the input layer's message time (test_tick.py, test_replay.py test it).
STATEFUL = sorted(name for name, f in TABLE.items() if f.stateful and name != 'ddt_msg')
# ARENA_EVAL_PROPERTY_EXAMPLES=5000 for a longer hunt.
SETTINGS = settings(max_examples=int(os.environ.get('ARENA_EVAL_PROPERTY_EXAMPLES', '300')),
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

values = st.one_of(st.sampled_from(SPECIAL),
                   st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.floats(min_value=-10.0, max_value=10.0))
steps = st.one_of(st.sampled_from([0.001, 0.01, 0.5, 0.0]), st.floats(0.0, 2.0))


def render(tree):
    """Text of a generated tree: ('num', v) | ('ref', name) | ('call', func, args, syntax)."""
    if tree[0] == 'num':
        return _number(tree[1])
    if tree[0] == 'ref':
        return tree[1]
    _, func, args, syntax = tree
    args = [render(arg) for arg in args]
    if func in INFIX and syntax:
        return f'({args[0]} {INFIX[func]} {args[1]})'
    if func == 'neg':
        return f'(-{args[0]})'
    if func == 'not':
        return f'(not {args[0]})'
    if func == 'where' and syntax:
        return f'({args[1]} if {args[0]} else {args[2]})'
    return f'{func}({", ".join(args)})'


def _number(v):
    if math.isnan(v):
        return 'nan'
    if math.isinf(v):
        return 'inf' if v > 0 else '(-inf)'
    return f'({v!r})' if math.copysign(1.0, v) < 0 else repr(v)


def _arity(draw, name):
    f = TABLE[name]
    if f.max_args is None:
        return draw(st.integers(f.min_args, f.min_args + 2))
    return f.min_args


@st.composite
def trees(draw, names, depth=4):
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        if draw(st.booleans()):
            return ('num', draw(st.sampled_from(SPECIAL)))
        return ('ref', draw(st.sampled_from(names)))
    name = draw(st.sampled_from(STATELESS))
    if name in OPERATOR_KEYS and name not in INFIX and name not in ('neg', 'not'):
        name = 'add'
    args = [draw(trees(names, depth - 1)) for _ in range(_arity(draw, name))]
    # pow and where have two spellings (a ** b, a if c else b); operators only their symbol
    syntax = name in OPERATOR_KEYS or draw(st.booleans())
    return ('call', name, args, syntax)


@st.composite
def batches(draw):
    """Two to four statements; each may use the names of the ones before it."""
    names = list(LEAF_NAMES)
    texts = []
    for i in range(draw(st.integers(1, 4))):
        texts.append(f'e{i} = {render(draw(trees(names)))}')
        names.append(f'e{i}')
    return texts


def agree(got, want, scale=0.0):
    """Agree to 1e-12 of `want`, or of `scale` when larger; nan and infinities exactly."""
    if math.isnan(want) or math.isnan(got):
        return math.isnan(want) and math.isnan(got)
    if math.isinf(want) or math.isinf(got):
        return got == want
    return abs(got - want) <= 1e-12 * max(abs(want), scale)


# The kernel's mean keeps a compensated running sum, re-summed when the ring wraps: its error is
# a few ULPs of the largest value seen in the last 2 n steps, not of the mean itself.
MEAN_MEMORY = 2 * 8


def check(texts, input_steps, dts, reset_at=None, mean_of=None, fresh=None,
          stale_state='hold'):
    """
    Step the batch and the reference side by side; `mean_of`: {output: mean input paths}.

    `fresh`: per step `{path: bool}`, the inputs' valid flags; outputs that depend on a stale
    input are then not compared (the stale policy has tests of its own), but the state behind
    every later output is.
    """
    batch = compile_batch(texts, stale_state=stale_state)
    reference = Reference([parse_statement(text) for text in texts])
    for k, (inputs, dt) in enumerate(zip(input_steps, dts, strict=True)):
        if k == reset_at:
            batch.reset()
            reference.reset()
        valid = fresh[k] if fresh else dict.fromkeys(INPUTS, True)
        for i, path in enumerate(batch.inputs):
            batch.input_buffer[i] = inputs[path]
            batch.input_valid[i] = 1.0 if valid[path] else 0.0
        batch.step(dt)
        got = dict(zip(batch.outputs, batch.output_buffer.tolist(), strict=True))
        want = reference.step(inputs, dt, valid, restart=stale_state == 'restart')
        recent = input_steps[max(0, k + 1 - MEAN_MEMORY):k + 1]
        for name in batch.outputs:
            if not all(valid[path] for path in batch.output_inputs[name]):
                continue
            scale = max((abs(step[path]) for step in recent
                         for path in (mean_of or {}).get(name, ())
                         if math.isfinite(step[path])), default=0.0)
            assert agree(got[name], want[name], scale), (
                f'step {k}, {name}: kernel {got[name]!r}, reference {want[name]!r}\n'
                f'{texts}\ninputs {inputs}, dt {dt}\n{batch.disassemble()}')


@SETTINGS
@given(texts=batches(), inputs=st.fixed_dictionaries(dict.fromkeys(INPUTS, values)),
       dt=steps)
def test_stateless_batches_agree_with_the_reference(texts, inputs, dt):
    check(texts, [inputs], [dt])


@st.composite
def stateful_batches(draw):
    """Statements with stateful calls over stateless subtrees; each may add the one before."""
    texts, mean_of = [], {}
    for i in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(STATEFUL))
        inner = render(draw(trees(INPUTS + ['t'], depth=2)))
        means = set()
        if name == 'mean':  # of an input, so its error bound is known (see MEAN_MEMORY)
            inner = draw(st.sampled_from(INPUTS))
            means.add(inner)
        if TABLE[name].window_arg is not None:
            call = f'{name}({inner}, {draw(st.integers(1, 8))})'
        elif TABLE[name].seconds_arg is not None:
            call = f'{name}({inner}, {draw(st.sampled_from([0.001, 0.01, 0.3, 1.0, 5.0]))})'
        elif name == 'prev':
            if draw(st.booleans()):  # a unit delay of this statement or one before it
                j = draw(st.integers(0, i))
                inner = f'e{j}'
                means |= mean_of.get(inner, set())
                if draw(st.booleans()):
                    inner = f'{inner} * {render(draw(trees(INPUTS, depth=1)))}'
            init = draw(st.one_of(st.none(), trees(INPUTS + ['t'], depth=1)))
            call = f'prev({inner})' if init is None else f'prev({inner}, {render(init)})'
            if draw(st.booleans()):  # the delayed value feeding this statement's maths
                call = f'{call} + {render(draw(trees(INPUTS + ["t"], depth=2)))}'
        elif TABLE[name].max_args == 2:
            param = render(draw(trees(INPUTS + ['dt'], depth=1)))
            call = f'{name}({inner}, {param})'
        else:
            call = f'{name}({inner})'
        if i and draw(st.booleans()):
            call = f'{call} + e{i - 1}'
            means |= mean_of[f'e{i - 1}']
        texts.append(f'e{i} = {call}')
        mean_of[f'e{i}'] = means
    return texts, mean_of


@SETTINGS
@given(batch=stateful_batches(),
       input_steps=st.lists(st.fixed_dictionaries(dict.fromkeys(INPUTS, values)),
                            min_size=1, max_size=20),
       data=st.data())
def test_stateful_batches_agree_over_steps(batch, input_steps, data):
    texts, mean_of = batch
    dts = data.draw(st.lists(steps, min_size=len(input_steps), max_size=len(input_steps)))
    reset_at = data.draw(st.one_of(st.none(), st.integers(1, len(input_steps))))
    check(texts, input_steps, dts, reset_at, mean_of)


@SETTINGS
@given(batch=stateful_batches(),
       input_steps=st.lists(st.fixed_dictionaries(dict.fromkeys(INPUTS, values)),
                            min_size=1, max_size=20),
       stale_state=st.sampled_from(['hold', 'restart']), data=st.data())
def test_stateful_batches_agree_over_stale_steps(batch, input_steps, stale_state, data):
    """State holds (or restarts) exactly while a call's inputs are stale, delays included."""
    texts, mean_of = batch
    n = len(input_steps)
    dts = data.draw(st.lists(steps, min_size=n, max_size=n))
    fresh = data.draw(st.lists(st.fixed_dictionaries(
        dict.fromkeys(INPUTS, st.sampled_from([True, True, False]))), min_size=n, max_size=n))
    check(texts, input_steps, dts, None, mean_of, fresh, stale_state)


@SETTINGS
@given(input_steps=st.lists(st.fixed_dictionaries(
    {name: st.floats(-1e6, 1e6) for name in INPUTS}), min_size=5, max_size=40),
    n=st.integers(1, 8), dt=st.floats(1e-4, 0.1))
def test_windows_and_filters_on_finite_signals(input_steps, n, dt):
    texts = [f'm = mean(x.a, {n})', f'lo = minimum(x.a, {n})', f'hi = maximum(x.b, {n})',
             'f = lowpass(x.a, 0.05)', 'i = integral(x.b)', 'r = rate_limit(x.c, 100)',
             'em = ema(x.a, 0.3)', 'h = hold(x.a, x.b > 0)', 'g = ddt(y.d[1])']
    check(texts, input_steps, [dt] * len(input_steps), mean_of={'m': ('x.a',)})


def test_render_round_trip_example():
    tree = ('call', 'where', [('ref', 'x.a'), ('num', -0.0), ('call', 'max', [
        ('num', math.inf), ('ref', 'x.b'), ('num', math.nan)], False)], True)
    text = render(tree)
    assert text == '((-0.0) if x.a else max(inf, x.b, nan))'
    check([f'y = {text}'], [dict.fromkeys(INPUTS, 1.0)], [0.001])


def _inputs_used(statements):
    """{name: input paths it uses, transitively}, from the trees (not from the compiler)."""
    by_name = {s.name: s for s in statements}
    direct = {name: (set(), set()) for name in by_name}  # (input paths, names)
    for name, stmt in by_name.items():
        stack = [stmt.expr]
        while stack:
            node = stack.pop()
            if type(node).__name__ == 'Call':
                stack.extend(node.args)
            elif type(node).__name__ == 'Ref':
                if node.name in by_name:
                    direct[name][1].add(node.name)
                elif node.name in INPUTS:
                    direct[name][0].add(node.name)
    used = {name: set(paths) for name, (paths, _) in direct.items()}
    changed = True
    while changed:  # unit delays (prev of a name) make references cyclic
        changed = False
        for name, (_, names) in direct.items():
            for other in names:
                if not used[other] <= used[name]:
                    used[name] |= used[other]
                    changed = True
    return used


@SETTINGS
@given(texts=batches(), policy=st.sampled_from(['nan', 'hold']),
       steps_=st.lists(st.tuples(st.fixed_dictionaries(dict.fromkeys(INPUTS, values)),
                                 st.fixed_dictionaries(dict.fromkeys(INPUTS, st.booleans()))),
                       min_size=1, max_size=6))
def test_stale_policy_over_random_valid_flags(texts, policy, steps_):
    batch = compile_batch(texts, stale_policy=policy)
    statements = [parse_statement(text) for text in texts]
    reference = Reference(statements)
    uses = _inputs_used(statements)
    assert {name: set(paths) for name, paths in batch.output_inputs.items()} == uses
    shown = dict.fromkeys(batch.outputs, math.nan)
    for k, (inputs, fresh) in enumerate(steps_):
        for i, path in enumerate(batch.inputs):
            batch.input_buffer[i] = inputs[path]
            batch.input_valid[i] = 1.0 if fresh[path] else 0.0
        batch.step(0.01)
        want = reference.step(inputs, 0.01)
        for name in batch.outputs:
            if all(fresh[path] for path in uses[name]):
                shown[name] = want[name]
            elif policy == 'nan':
                shown[name] = math.nan
        got = dict(zip(batch.outputs, batch.output_buffer.tolist(), strict=True))
        for name in batch.outputs:
            assert agree(got[name], shown[name]), (
                f'step {k}, {name}: kernel {got[name]!r}, expected {shown[name]!r}\n{texts}\n'
                f'{policy} {inputs} {fresh}\n{batch.disassemble()}')
