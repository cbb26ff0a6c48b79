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
The package's layout: imports flow one way, with no cycles; functions stay short.

tools -> replay -> ros -> rt -> params -> msgtypes -> engine -> language; nothing outside `ros/`
and `tools/` imports rclpy at module level (replay and `check` run without a ROS context).

Every module's imports are read from its source (`ast`, imports inside functions included), so a
late import cannot hide an upward dependency.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / 'arena_eval'
# Lower layers first; a module may import its own layer and the layers below it.
LAYERS = ('language', 'engine', 'msgtypes', 'params', 'rt', 'ros', 'replay', 'tools')
# The CLI sits above everything.
TOP = ('__main__',)


def modules():
    for path in sorted(PACKAGE.rglob('*.py')):
        parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
        if parts[-1] == '__init__':
            parts = parts[:-1]
        yield '.'.join(parts), path


def imported(module, path):
    """Yield every module name `module` imports, absolute, `arena_eval.` ones resolved."""
    package = module.split('.') if path.name == '__init__.py' else module.split('.')[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                target = '.'.join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            yield target
            # `from . import kernel` names a module, not an attribute.
            for alias in node.names:
                yield f'{target}.{alias.name}'


def layer(module):
    parts = module.split('.')
    if parts[0] != 'arena_eval' or len(parts) == 1:
        return None
    return parts[1] if parts[1] in LAYERS or parts[1] in TOP else None


def rank(name):
    return len(LAYERS) if name in TOP else LAYERS.index(name)


ALL = dict(modules())
EDGES = {m: sorted({i for i in imported(m, p) if i in ALL and i != m}) for m, p in ALL.items()}


def test_the_layers_exist():
    assert {layer(m) for m in ALL} >= set(LAYERS)


@pytest.mark.parametrize('module', sorted(m for m in ALL if layer(m)))
def test_imports_flow_one_way(module):
    mine = rank(layer(module))
    upward = [i for i in EDGES[module] if layer(i) and rank(layer(i)) > mine]
    assert not upward, f'{module} imports a higher layer: {upward}'


@pytest.mark.parametrize('module', sorted(m for m in ALL if layer(m) in ('language', 'engine')))
def test_language_and_engine_never_import_ros(module):
    foreign = [i for i in imported(module, ALL[module])
               if i.split('.')[0] in ('rclpy', 'rosbags', 'std_msgs', 'sensor_msgs')]
    assert not foreign, f'{module} imports {foreign}'


def module_level_imports(path):
    """Yield the top-level names a module imports at module level (not inside functions)."""
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.Import):
            yield from (alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.module.split('.')[0]


@pytest.mark.parametrize('module', sorted(m for m in ALL if layer(m) not in ('ros', 'tools')))
def test_only_the_node_room_imports_rclpy_at_module_level(module):
    assert 'rclpy' not in set(module_level_imports(ALL[module])), module


def test_the_rclpy_check_sees_a_module_level_import(tmp_path):
    path = tmp_path / 'm.py'
    path.write_text('import os\nfrom rclpy.node import Node\n\ndef f():\n    import std_msgs\n')
    assert set(module_level_imports(path)) == {'os', 'rclpy'}


def test_no_import_cycles():
    state = {}

    def visit(module, trail):
        if state.get(module) == 'done':
            return
        assert state.get(module) != 'open', 'import cycle: ' + ' -> '.join(trail + [module])
        state[module] = 'open'
        for other in EDGES[module]:
            if other.startswith(module + '.'):
                continue  # a package importing its own submodule is not a cycle
            visit(other, trail + [module])
        state[module] = 'done'

    for module in ALL:
        visit(module, [])


def test_the_checker_sees_an_upward_import(tmp_path):
    # The test must be able to fail: an engine module importing ros is caught.
    path = tmp_path / 'kernel.py'
    path.write_text('from ..ros import node\nfrom . import program\n')
    found = set(imported('arena_eval.engine.kernel', path))
    assert 'arena_eval.ros.node' in found and 'arena_eval.engine.program' in found
    assert rank(layer('arena_eval.ros.node')) > rank(layer('arena_eval.engine.kernel'))


MAX_FUNCTION_LINES = 150


def shape_problems(path):
    """Yield each function longer than MAX_FUNCTION_LINES and each class defined in a function."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        lines = node.end_lineno - node.lineno + 1
        if lines > MAX_FUNCTION_LINES:
            yield f'{path.name}:{node.lineno}: {node.name} is {lines} lines'
        for inner in ast.walk(node):
            if isinstance(inner, ast.ClassDef):
                yield f'{path.name}:{inner.lineno}: class {inner.name} inside {node.name}'


@pytest.mark.parametrize('module', sorted(ALL))
def test_functions_are_short_and_classes_at_module_level(module):
    # A class inside a function is a new class on every call (and unpicklable); a function
    # over 150 lines is several jobs in one.
    problems = list(shape_problems(ALL[module]))
    assert not problems, problems


def test_the_shape_check_can_fail(tmp_path):
    path = tmp_path / 'm.py'
    body = ''.join('    x = %d\n' % i for i in range(MAX_FUNCTION_LINES))
    path.write_text('def long():\n' + body + '\n\ndef f():\n    class Inner:\n        pass\n')
    problems = list(shape_problems(path))
    assert len(problems) == 2 and 'long is 151 lines' in problems[0] and 'Inner' in problems[1]
