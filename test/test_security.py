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
Nothing in an expression is ever executed: every escape attempt is an `ExpressionError`.

Each payload is parsed under a CPython audit hook (PEP 578) that records every auditable action
the parser takes: `exec`, `import`, `open`, `os.system`, `subprocess.Popen`, ... The only events
allowed are `compile` (which is how `ast.parse` runs the parser) and the read-only `open` CPython
attempts on the fixed pseudo file name when it formats a SyntaxError. A payload that writes a
marker file is checked for the file too. The same payloads go through `compile_batch`, the door
the node and the CLI use.
"""

import ast
from contextlib import contextmanager
from pathlib import Path
import sys
import threading

from arena_eval.language import parse
from arena_eval.language.errors import ExpressionError
from arena_eval.language.parse import parse_expression, parse_statement
import pytest

_recording = threading.local()
_events = []


def _hook(event, args):
    if getattr(_recording, 'on', False):
        _events.append((event, args))


sys.addaudithook(_hook)  # hooks cannot be removed; it records only inside `audited()`


@contextmanager
def audited():
    """Record the audit events raised by this thread inside the block."""
    _events.clear()
    _recording.on = True
    try:
        yield _events
    finally:
        _recording.on = False


def _allowed(event, args):
    if event == 'compile':
        return True
    return event == 'open' and args[0] == parse.AST_FILENAME and args[1] == 'rb'


MARKER = '/tmp/arena_eval_security_marker'

EXPRESSIONS = [
    f"__import__('os').system('touch {MARKER}')",
    '__import__(os).system(x)',
    '().__class__',
    '().__class__.__bases__[0].__subclasses__()',
    '[c for c in ().__class__.__base__.__subclasses__()]',
    '{}.__class__', '[].__class__', '(1).__class__', 'x.__class__.__mro__[1]',
    'lambda: 0', '(lambda: 0)()', '[x for x in y]', '(y := 1)', "f'{x}'",
    f"f'{{__import__(\"os\").system(\"touch {MARKER}\")}}'",
    'sqrt(x).real', 'imu.__class__', 'imu.__dict__', 'sqrt.__globals__', 'sqrt.__call__(x)',
    'x.__ne__(y)', 'x.y.__class__', 'x[__import__]', 'x if __import__ else y',
    f"open('{MARKER}', 'w')", 'open(x)', "eval('1')", 'eval(x)', "exec('1')", 'exec(x)',
    'compile(x, y, z)', 'getattr(x, y)', 'setattr(x, y, z)', 'delattr(x, y)', 'globals()',
    'locals()', 'vars()', 'dir()', 'breakpoint()', 'input()', 'help()', 'exit()', 'quit()',
    'print(x)', 'type(x)', 'object()', '__builtins__', '__builtins__.open(x)', '__class__',
    'x.y()', 'os.system(x)', 'sys.exit(1)',
    '\uff3f\uff3fimport\uff3f\uff3f(os)',  # fullwidth low lines: NFKC makes them '__'
    '\uff45\uff56\uff41\uff4c(x)',  # fullwidth 'eval'
    '__import__\t(os)', 'sqrt(__import__)', '(yield x)', 'await x', '*x', 'x.__getattribute__',
    "b'\\x00'", 'x\0__import__', "'\\u005f\\u005fimport\\u005f\\u005f'",
]

STATEMENTS = [
    'import os', 'from os import system', "a = __import__('os')", 'a = __import__(os)',
    'a = 1; import os', 'a = 1\nimport os', 'a = 1\n__import__(os)', 'def f(): pass',
    'class A: pass', '@dec\ndef f(): pass', 'for x in y: pass', 'with open(x) as f: pass',
    'del x', 'global x', 'a = (lambda: 0)()', 'a, b = b, a', '__builtins__ = 1',
    'a.__class__ = b', 'x = os.system(y)', 'a = 1 if __import__ else 2', 'exec(x)',
    'try:\n    a = 1\nexcept Exception:\n    pass', 'assert x', 'raise SystemExit',
    'async def f(): pass', 'while 1: pass',
]


@pytest.fixture(autouse=True)
def no_marker():
    Path(MARKER).unlink(missing_ok=True)
    yield
    assert not Path(MARKER).exists(), 'an expression was executed'


@pytest.mark.parametrize('text', EXPRESSIONS)
def test_expression_payload_is_rejected_without_side_effects(text):
    with audited() as events:
        with pytest.raises(ExpressionError) as info:
            parse_expression(text)
        with pytest.raises(ExpressionError):
            parse_statement('a = ' + text)
    unexpected = [e for e in events if not _allowed(*e)]
    assert not unexpected, unexpected
    assert info.value.pos.line >= 1 and info.value.pos.col >= 1


@pytest.mark.parametrize('text', STATEMENTS)
def test_statement_payload_is_rejected_without_side_effects(text):
    with audited() as events:
        with pytest.raises(ExpressionError):
            parse_statement(text)
    unexpected = [e for e in events if not _allowed(*e)]
    assert not unexpected, unexpected


def test_payloads_are_rejected_by_compile_batch_too():
    from arena_eval import compile_batch
    compile_batch(['warm = 1'])  # imports happen here, outside the audited block
    for statement in ['a = ' + text for text in EXPRESSIONS] + STATEMENTS:
        with audited() as events:
            with pytest.raises(ExpressionError):
                compile_batch(['ok = 1', statement])
        # The compiler's own id() calls are audited too; they touch nothing outside.
        unexpected = [e for e in events if not _allowed(*e) and e[0] != 'builtins.id']
        assert not unexpected, (statement, unexpected)


def test_the_audit_hook_sees_execution():
    # The property above is only as good as the hook: show it records what it must.
    with audited() as events:
        exec(compile('1', '<probe>', 'eval'))
    assert {'compile', 'exec'} <= {event for event, _ in events}


def test_a_valid_expression_compiles_nothing_either():
    with audited() as events:
        parse_statement('a = sqrt(imu.linear_acceleration.x ^ 2) if t > 1 else dt')
    assert [event for event, _ in events] == ['compile']


def test_the_parser_never_calls_an_evaluator():
    # `ast.parse` is the only door to CPython's compiler the parser may use.
    source = Path(parse.__file__).read_text()
    names = {'eval', 'exec', 'compile', '__import__', 'getattr', 'globals', 'locals', 'vars',
             'open', 'setattr', 'breakpoint'}
    attributes = {'literal_eval', 'import_module', 'system', 'popen', 'run', 'exec_module'}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                assert func.id not in names, f'parse.py:{node.lineno} calls {func.id}'
            elif isinstance(func, ast.Attribute):
                assert func.attr not in attributes, f'parse.py:{node.lineno} calls {func.attr}'


@pytest.mark.parametrize('text', ['sys.modules', 'os.environ', 'imu.real', 'x.mro'])
def test_harmless_looking_paths_are_only_names(text):
    # A dotted path is a string key for an input slot; nothing is looked up in Python.
    with audited() as events:
        assert parse_expression(text).name == text
    assert [event for event, _ in events] == ['compile']
