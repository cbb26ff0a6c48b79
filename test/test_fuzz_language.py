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
Hypothesis fuzzing of the language: whatever the text, a valid tree or one `ExpressionError`.

The property, for every generated text, through `parse_expression`, `parse_statement` and (for
statements) `compile_batch`: the result is a well-formed checked tree, or an `ExpressionError`
whose position is a real line and column of the text and whose message is one line. Nothing else
may escape (no RecursionError, MemoryError, IndexError, ...) and no case may hang.

Generators: token soup over the language's tokens plus junk; arbitrary unicode; snippets that
contain every `ast` node class (checked by `test_snippets_cover_every_ast_node_class`) combined by
templates; deep nesting and texts near the size limits; random mutations of the default batch; and
random valid trees rendered to text, which must parse back to the same tree with positions that
point at the right characters.

`CASES` counts the examples run and texts checked; the last test asserts that the examples add up
to `MIN_CASES` (20,000 by default). `make test` draws the same derandomized cases every run;
`make fuzz` draws fresh ones and multiplies every example budget (`ARENA_EVAL_FUZZ_SCALE`).
"""

import ast
import collections
import math
import os
import re
import time

from arena_eval.language.errors import ExpressionError, Pos
from arena_eval.language.functions import CALLABLE, CONSTANTS, RESERVED, TABLE
from arena_eval.language.parse import MAX_DEPTH, MAX_NODES, MAX_TEXT
from arena_eval.language.parse import parse_expression, parse_statement
from arena_eval.language.tree import Call, Num, Ref, Statement
from hypothesis import given, HealthCheck, settings, strategies as st
import pytest
import reference

SCALE = float(os.environ.get('ARENA_EVAL_FUZZ_SCALE', '1'))
# Per-test example budgets; their sum is the number of cases a default run checks.
BUDGET = {
    'token_soup': 6000, 'unicode_text': 3000, 'snippets': 3000, 'statement_snippets': 1500,
    'deep_and_huge': 200, 'mutations': 2300, 'round_trip': 4000,
}
MIN_CASES = int(sum(BUDGET.values()) * SCALE)
CASES = collections.Counter()
# A hang check, not a speed test: the slowest valid input parses in well under 0.2 s.
HANG_SECONDS = 10.0
PATH = re.compile(r'[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\]'
                  r"|\['[ -!#-&(-Z^-~]+'\])*"
                  r'(?:\.@(?:fresh|age|updated|stamp|mdt))?\Z')  # meta inputs: imu.@fresh


def fuzz(budget):
    # Randomness comes from the profile conftest.py loads: fixed cases in `make test`, fresh in
    # `make fuzz`.
    return settings(max_examples=max(1, int(BUDGET[budget] * SCALE)), deadline=None,
                    suppress_health_check=list(HealthCheck))


# ----- the property ----------------------------------------------------------------------------

def check_error(e, text):
    assert type(e) is ExpressionError, repr(e)
    assert isinstance(e.pos, Pos)
    assert e.pos.line >= 1 and e.pos.col >= 1
    if isinstance(text, str):
        lines = text.replace('\r\n', '\n').split('\n')
        assert e.pos.line <= len(lines)
        assert e.source_line == lines[e.pos.line - 1]
        assert 1 <= e.caret_col <= len(e.source_line) + 1
    line = e.one_line()
    assert '\n' not in line and '\r' not in line, line
    assert e.caret()


def check_tree(root, text):
    seen = set()
    stack = [(root, 1)]
    lines = text.replace('\r\n', '\n').split('\n')
    while stack:
        node, depth = stack.pop()
        assert depth <= MAX_DEPTH
        assert isinstance(node.pos, Pos) and 1 <= node.pos.line <= len(lines)
        assert 1 <= node.pos.col <= len(lines[node.pos.line - 1])
        assert node.span >= 1
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, Num):
            assert type(node.value) is float
        elif isinstance(node, Ref):
            assert PATH.match(node.name), node.name
            assert not any(part.startswith('__') for part in re.split(r'[.\[]', node.name))
            assert node.name not in CALLABLE and node.name not in CONSTANTS
        else:
            assert isinstance(node, Call), node
            fn = TABLE[node.func]
            # ddt_msg(x) gains its input's message time as a second argument.
            n = len(node.args) - (node.func == 'ddt_msg')
            assert n >= fn.min_args
            assert fn.max_args is None or n <= fn.max_args
            stack.extend((arg, depth + 1) for arg in node.args)
    assert len(seen) <= MAX_NODES


def timed(function, *args):
    start = time.monotonic()
    try:
        return function(*args)
    finally:
        assert time.monotonic() - start < HANG_SECONDS, f'{function.__name__} hung on {args!r}'


def check_expression(text):
    CASES['texts'] += 1
    try:
        tree = timed(parse_expression, text)
    except ExpressionError as e:
        check_error(e, text)
        return None
    check_tree(tree, text)
    return tree


def check_statement(text, compile_too=True):
    CASES['texts'] += 1
    try:
        statement = timed(parse_statement, text)
    except ExpressionError as e:
        check_error(e, text)
        return None
    assert isinstance(statement, Statement)
    assert statement.name.isidentifier() and statement.name.isascii()
    assert statement.name not in RESERVED and not statement.name.startswith('__')
    check_tree(statement.expr, text)
    if compile_too:
        check_compile([text])
    return statement


def check_compile(statements):
    """Send valid statements on through the engine: compile errors are fine, nothing else is."""
    from arena_eval import compile_batch  # the engine imports numba: only when needed
    try:
        batch = timed(compile_batch, statements)
    except ExpressionError as e:
        assert e.pos is None or (e.pos.line >= 1 and e.pos.col >= 1)
        assert e.one_line()
        return
    # And it runs: a few steps over inputs fresh, then stale, must not crash the kernel.
    CASES['steps'] += 1
    batch.input_buffer[:] = 1.5
    batch.step(0.001)
    batch.input_valid[:] = 0.0
    batch.step(0.001)
    assert len(batch.output_buffer) == len(batch.outputs)


def check_both(text):
    check_expression(text)
    if '=' in text:  # without one, a bare text is never a statement: nothing new to learn
        check_statement(text, compile_too=False)
    check_statement('fuzz = ' + text)


# ----- generators: hypothesis bytes decoded into texts ------------------------------------------

class Choices:
    """
    Decode a hypothesis byte string into choices.

    One `st.binary()` draw per example keeps hypothesis' per-example cost low enough for 20,000
    cases in a test run, and shrinking still works: fewer and smaller bytes decode to shorter
    texts made of the first (simplest) entries of each list. Past the end every choice is 0.
    """

    def __init__(self, data):
        self.data = data
        self.at = 0

    @property
    def exhausted(self):
        return self.at >= len(self.data)

    def below(self, n):
        value = 0
        for _ in range(1 if n <= 256 else 2):
            value = value << 8 | (self.data[self.at] if self.at < len(self.data) else 0)
            self.at += 1
        return value % n

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)


def entropy(size):
    return st.binary(max_size=size)


# ----- token soup ------------------------------------------------------------------------------

LANGUAGE_TOKENS = [
    '0', '1', '2.5', '1e3', '1e999', '0x1f', '.5', '1_000', '7', 'x', 'y', 'dt', 't', 'pi', 'e',
    'inf', 'nan', 'a1', '_z', 'imu.linear_acceleration.x', 'joints.position[2]', 'a.b[1].c',
    '+', '-', '*', '/', '%', '**', '^', '<', '<=', '>', '>=', '==', '!=', 'and', 'or', 'not',
    'if', 'else', '(', ')', ',', '[', ']', '.', '=', *sorted(CALLABLE),
]
JUNK_TOKENS = [
    '\u00e9', '\u03c0', '\u2212', '\u00d7', '\u2028', '\uff3f', '\U0001d465', '\u200b',
    '\ufeff', '\0', '\r', '\t', '\n', '\\', "'", '"', "'''", 'f"', "b'", '{', '}', ':', ':=', ';',
    '@', '~', '&', '|', '<<', '>>', '//', '...', '*', 'lambda', 'for', 'in', 'is', 'yield',
    'await', 'import', 'True', 'False', 'None', 'def', 'class', 'async', 'match', 'case', '_',
    '__import__', '__class__', '#', '$', '?', '!', '`', ' ', '\x1b', '0777', '1__0', '1j', 'rb"',
    '\\\n', '\u00b2', '\u0660', '-' * 40, '(' * 30, ')' * 30, 'sqrt(' * 20,
]
SEPARATORS = ['', ' ', ' ', '  ', '\t', '\n']


@fuzz('token_soup')
@given(entropy(64))
def test_token_soup(data):
    CASES['test_token_soup'] += 1
    choices = Choices(data)
    vocabulary = LANGUAGE_TOKENS if choices.below(2) else LANGUAGE_TOKENS + JUNK_TOKENS
    parts = []
    while not choices.exhausted:
        parts.append(choices.pick(vocabulary) + choices.pick(SEPARATORS))
    check_both(''.join(parts))


@fuzz('unicode_text')
@given(st.text(max_size=60))
def test_unicode_text(text):
    CASES['test_unicode_text'] += 1
    check_both(text)


# ----- every ast node class ----------------------------------------------------------------------

EXPRESSION_SNIPPETS = [
    # Whitelisted.
    '1', '2.5', 'x', 'imu.linear_acceleration.x', 'joints.position[2]', 'a.b[1][2]', 'pi',
    'x + y', 'x - 1', 'x * y', 'x / y', 'x % 3', 'x ** 2', 'x ^ 2', '-x', '+x', 'not x',
    'x and y', 'x or y', 'x < y', 'x <= y', 'x > y', 'x >= y', 'x == y', 'x != y', 'x < y < 3',
    'x if y else 1', 'sqrt(x)', 'atan2(y, x)', 'max(x, y, 1)', 'lowpass(x, 0.02)',
    'where(x, 1, 2)',
    # Rejected.
    'x // y', 'x & y', 'x | y', 'x ^^ y', 'x << 1', 'x >> 1', 'x @ y', '~x', 'x is y',
    'x is not y', 'x in y', 'x not in y', 'lambda: 0', '[x for x in y]', '{x for x in y}',
    '{x: 1 for x in y}', '(x for x in y)', '(y := 1)', "f'{x}'", "f'{x!r:>{y}}'", "'s'", "b's'",
    'True', 'None', '...', '1j', '[1, 2]', '(1, 2)', '{1}', '{1: 2}', '*x', 'await x', '(yield)',
    '(yield from x)', 'x[1:2]', 'x[::2]', 'x[1, 2]', 'sqrt(x).real', '(x + y)[0]', 'x.__class__',
    '__import__', 'x.y()', 'f(x)', 'sqrt(x=1)', 'sqrt(**x)', 'max(*x)', 'x[-1]', 'x[y]',
    "x['a']", 'x[1.5]',
]
STATEMENT_SNIPPETS = [
    'a = 1', 'a = b = 1', 'a, b = 1, 2', 'a += 1', 'a ^= 1', 'a: int = 1', 'a.b = 1', 'a[0] = 1',
    '*a, = x',
    'def f(): return 1', 'async def f(): await x', 'class A: pass', 'del x', 'for i in x: pass',
    'async def f():\n    async for i in x: pass\n    async with x: pass', 'while x: break',
    'while x: continue', 'if x: pass', 'with x as y: pass', 'raise x', 'assert x',
    'try:\n    pass\nexcept E:\n    pass', 'try:\n    pass\nexcept* E:\n    pass', 'import os',
    'from os import path', 'global x', 'def f():\n    nonlocal x', 'x', 'pass',
    'match x:\n    case 1: pass\n    case None: pass\n    case [a, *b]: pass\n'
    '    case {1: c, **d}: pass\n    case P(x=0): pass\n    case 1 | 2: pass\n'
    '    case y as z: pass\n    case _: pass',
]
if hasattr(ast, 'TypeAlias'):
    STATEMENT_SNIPPETS.append('type T = int')
TEMPLATES = [
    '{a} + {b}', '{a} - {b}', '{a} * {b}', '{a} ^ {b}', '{a} ** -{b}', '-{a}', 'not {a}',
    '({a})', 'sqrt({a})', 'max({a}, {b}, {c})', 'atan2({a}, {b})', '{a} if {b} else {c}',
    '{a} < {b} <= {c}', '{a} and {b} or {c}', 'clamp({a}, {b}, {c})', '{a}[{b}]', '({a}).x',
    '[{a}, {b}]', 'lambda: {a}', '{a}({b})', 'mean({a}, {b})', '{a} // {b}', '{a}, {b}',
    '{{{a}: {b}}}', "f'{{{a}}}'", '({a} := {b})', '{a}\n{b}', '{a}; {b}',
]


def snippet_tree(choices, depth=0):
    if depth >= 3 or choices.below(3) == 0:
        return choices.pick(EXPRESSION_SNIPPETS)
    template = choices.pick(TEMPLATES)
    a, b, c = (snippet_tree(choices, depth + 1) for _ in range(3))
    return template.format(a=a, b=b, c=c)


def _node_classes(texts, mode):
    found = set()
    for text in texts:
        try:
            tree = ast.parse(text, mode=mode)
        except SyntaxError:
            continue
        found.update(type(node) for node in ast.walk(tree))
    return found


def test_snippets_cover_every_ast_node_class():
    found = (_node_classes(EXPRESSION_SNIPPETS, 'eval')
             | _node_classes(STATEMENT_SNIPPETS, 'exec'))
    families = [ast.expr, ast.stmt, ast.operator, ast.unaryop, ast.cmpop, ast.boolop,
                ast.pattern]
    wanted = {cls for family in families for cls in family.__subclasses__()}
    missing = {cls.__name__ for cls in wanted - found}
    assert not missing, f'no snippet contains: {sorted(missing)}'


@fuzz('snippets')
@given(entropy(48))
def test_snippet_combinations(data):
    CASES['test_snippet_combinations'] += 1
    check_both(snippet_tree(Choices(data)))


@fuzz('statement_snippets')
@given(entropy(6))
def test_statement_snippets(data):
    CASES['test_statement_snippets'] += 1
    choices = Choices(data)
    joiner = choices.pick(['\n', '; ', ' ', '\n    '])
    snippets = STATEMENT_SNIPPETS + EXPRESSION_SNIPPETS
    text = joiner.join(choices.pick(snippets) for _ in range(choices.between(1, 3)))
    check_statement(text)
    check_expression(text)


# ----- deep, huge, and mutated texts -----------------------------------------------------------

WRAPPERS = [('(', ')'), ('-', ''), ('sqrt(', ')'), ('not ', ''), ('+', ''), ('abs(', ')'),
            ('x if 1 else ', ''), ('max(1, ', ')'), ('2 ^ ', ''), ('a.b[', ']'), ('[', ']'),
            ('lambda: ', ''), ('(', ''), ('', ')')]


def deep_or_huge(choices):
    if choices.below(2):
        layers = [choices.pick(WRAPPERS) for _ in range(choices.between(1, 4))]
        depth = choices.between(1, 3000)
        opening = ''.join(layers[i % len(layers)][0] for i in range(depth))
        closing = ''.join(layers[i % len(layers)][1] for i in reversed(range(depth)))
        return opening + choices.pick(['x', '1', 'x.y[0]', '']) + closing
    term = choices.pick(['x', '1', 'a.b', 'sqrt(x)', '(x)', 'x < y', '-x'])
    op = choices.pick([' + ', '^', ' and ', ', ', ' < ', '*', '.', ' if 1 else '])
    count = choices.between(1, (MAX_TEXT + 200) // (len(term) + len(op)))
    text = op.join([term] * count)
    return choices.pick(['{}', 'max({})', 'f({})', '({})', '{} +']).format(text)


@fuzz('deep_and_huge')
@given(entropy(16))
def test_deep_and_huge(data):
    CASES['test_deep_and_huge'] += 1
    text = deep_or_huge(Choices(data))
    check_expression(text)
    check_statement('a = ' + text, compile_too=False)


DEFAULT_BATCH = reference.DEFAULT_BATCH + [
    'spike = maximum(abs(delta(imu.angular_velocity.x)), 50) > 2 ^ 3 and not t < 1',
    'held = hold(mean(joints.position[0], 10), joints.velocity[0] != 0)',
]


def mutated(choices, text):
    for _ in range(choices.between(1, 4)):
        at = choices.below(len(text) + 1)
        end = min(len(text), at + choices.between(1, 8))
        piece = choices.pick(LANGUAGE_TOKENS + JUNK_TOKENS)
        kind = choices.below(4)
        if kind == 0:
            text = text[:at] + piece + text[at:]
        elif kind == 1:
            text = text[:at] + text[end:]
        elif kind == 2:
            text = text[:at] + piece + text[end:]
        else:
            text = text[:end] + text[at:]
    return text


@fuzz('mutations')
@given(entropy(24))
def test_mutated_default_batch(data):
    CASES['test_mutated_default_batch'] += 1
    choices = Choices(data)
    index = choices.below(len(DEFAULT_BATCH))
    text = mutated(choices, DEFAULT_BATCH[index])
    check_expression(text)
    if check_statement(text, compile_too=False) is not None:
        batch = list(DEFAULT_BATCH)
        batch[index] = text
        check_compile(batch)


# ----- round trip: valid trees rendered to text parse back to themselves -----------------------

SYMBOLS = {name: TABLE[name].symbol for name in (
    'add', 'sub', 'mul', 'div', 'mod', 'lt', 'le', 'gt', 'ge', 'eq', 'ne', 'and', 'or')}
FUNCTIONS = sorted(name for name, f in CALLABLE.items()  # these expand
                   if not f.macro and name != 'ddt_msg')
REF_NAMES = ['x', 'y_1', '_q', 'imu.angular_velocity.z', 'joints.position[3]', 'a.b[1].c',
             'a.b[1][2]', 'dt', 't', 'accel_norm']
NUMBERS = [0.0, 1.0, 2.0, 0.5, 1e-3, 12345.678, 1e300, math.inf, math.nan, math.pi]
SPACES = ['', ' ', '  ', '\t']


def leaf(choices):
    if choices.below(2) == 0:
        name = choices.pick(REF_NAMES)
        return ('ref', name), name.replace('.', choices.pick(['.', ' .', '. ']))
    value = choices.pick(NUMBERS)
    if value != value:
        return ('num', value), 'nan'
    return ('num', value), {math.inf: 'inf', math.pi: 'pi'}.get(value, repr(value))


def rendered_tree(choices, depth=0):
    """Return (expected shape, text) of a random valid tree, parenthesized, randomly spaced."""
    if depth >= 5 or choices.below(4) == 0:
        return leaf(choices)
    sp = choices.pick(SPACES)
    kind = choices.pick(['binary', 'pow', 'neg', 'not', 'if', 'call'])
    a, ta = rendered_tree(choices, depth + 1)
    b, tb = rendered_tree(choices, depth + 1)
    if kind == 'binary':
        func = choices.pick(sorted(SYMBOLS))
        before = ' ' if func in ('and', 'or') else sp
        return (func, (a, b)), f'({sp}{ta}{before}{SYMBOLS[func]} {tb}{sp})'
    if kind == 'pow':
        op = choices.pick(['**', '^'])
        return ('pow', (a, b)), f'({ta}{sp}{op}{sp}{tb})'
    if kind == 'neg':
        if a[0] == 'num' and math.isfinite(a[1]) and ta == repr(a[1]):
            return ('num', -a[1]), f'(-{sp}{ta})'  # a negative literal is a number
        return ('neg', (a,)), f'(-{sp}{ta})'
    if kind == 'not':
        return ('not', (a,)), f'(not {ta})'
    if kind == 'if':
        c, tc = rendered_tree(choices, depth + 1)
        return ('where', (c, a, b)), f'({ta} if {tc} else{sp} {tb})'
    func = choices.pick(FUNCTIONS)
    fn = CALLABLE[func]
    count = fn.min_args if fn.max_args is not None else choices.between(fn.min_args, 4)
    args, texts = [a, b], [ta, tb]
    while len(args) < count:
        extra, text = rendered_tree(choices, depth + 1)
        args.append(extra)
        texts.append(text)
    return (func, tuple(args[:count])), f'{func}{sp}(' + f',{sp}'.join(texts[:count]) + ')'


def shape(node):
    if isinstance(node, Num):
        return ('num', 'nan' if node.value != node.value else node.value)
    if isinstance(node, Ref):
        return ('ref', node.name)
    return (node.func, tuple(shape(arg) for arg in node.args))


def expected_shape(spec):
    if spec[0] == 'num':
        return ('num', 'nan' if spec[1] != spec[1] else spec[1])
    if spec[0] == 'ref':
        return spec
    return (spec[0], tuple(expected_shape(arg) for arg in spec[1]))


@fuzz('round_trip')
@given(entropy(96))
def test_valid_trees_round_trip_with_positions(data):
    CASES['test_valid_trees_round_trip_with_positions'] += 1
    choices = Choices(data)
    indent = choices.pick(SPACES)
    expected, text = rendered_tree(choices)
    text = indent + text
    tree = check_expression(text)
    assert tree is not None, text
    assert shape(tree) == expected_shape(expected), text
    # Every reference and named call points at its own first character in the text.
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Ref):
            assert text[node.pos.col - 1:].startswith(re.split(r'[.\[]', node.name)[0]), text
        elif isinstance(node, Call):
            if node.func in CALLABLE and text[node.pos.col - 1:].startswith(node.func):
                assert text[node.pos.col - 1 + len(node.func):].lstrip().startswith('(')
            stack.extend(node.args)
    assert check_statement('fuzz = ' + text, compile_too=False) is not None


# ----- the count -------------------------------------------------------------------------------

def test_zz_case_count():
    fuzz_tests = [name for name in globals()
                  if name.startswith('test_') and hasattr(globals()[name], 'hypothesis')]
    assert len(fuzz_tests) == len(BUDGET)
    if set(fuzz_tests) - set(CASES):
        pytest.skip('run with all the fuzz tests above to count their cases')
    examples = sum(CASES[name] for name in fuzz_tests)
    assert examples >= MIN_CASES, CASES
    print(f'fuzz: {examples} examples, {CASES["texts"]} texts checked')
