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
`check` and the node refuse exactly the params files rcl refuses, where rcl does, and why.

The truth is real rcl: every case file is given to `rclpy.init(args=['--ros-args',
'--params-file', path])` in one subprocess (init failing is rcl refusing). Each rule of rcl's
YAML parser is tried in this node's section and in a section for another node (which
arena_eval's own rules never look at), beside files rcl accepts that look odd. For each file,
`check --node` (this node, another node) must refuse it exactly when rcl does, with a
`file:line:col: error: rcl refuses this file: <rcl's reason>` on the line rcl names.
A few real node starts show the node refusing before `rclpy.init` the same way, and the
fallback after an `rclpy.init` failure naming the params files.
"""

import json
import re
import subprocess
import sys

from arena_eval.__main__ import main as cli
from arena_eval.params.params_yaml import rcl_keeps_node_name
from arena_eval.tools import procs
from node_harness import NodeProcess
import pytest

OWN = ('arena_eval:\n  ros__parameters:\n'
       '    inputs:\n      imu: {topic: /imu, type: sensor_msgs/msg/Imu}\n'
       '    expressions: ["a = imu.linear_acceleration.x"]\n')
OTHER = '/robot2/arena_eval:\n  ros__parameters:\n    rate_hz: 5.0\n'
OTHER_NODE = '/robot2/arena_eval'

# rcl's refusals among parameters: (rule, lines at parameter level, rcl's reason).
PARAM_RULES = [
    ('mixed sequence', ['x: ["a", 2]'], 'Sequence should be of same type'),
    ('mixed bool and integer', ['x: [true, 1]'], 'Sequence should be of same type'),
    ('sequence of mappings', ['x: [{a: 1, b: 2}]'], 'Sequence should be of same type'),
    ('sequence of sequences', ['x: [[1], [2]]'], 'Sequences cannot be key'),
    ('key with no value', ['x:'], 'No value'),
    ('empty block scalar', ['x: |', 'y: 1'], 'No value'),
    ('alias', ['x: &v 1', 'y: *v'], 'Will not support aliasing'),
    ('empty mapping then more', ['x: {}', 'y: 1'], 'Cannot have a value before'),
    ('empty key', ['"": 1'], 'No key'),
    ('sequence as key', ['? [1]', ': 2'], 'Sequences cannot be key'),
    ('implicit key over 1024 chars', ['k' * 1030 + ': 1'], 'YAML syntax error'),
    ('tab indentation', ['\tx: 1'], 'YAML syntax error'),
]
# rcl's refusals among node names: (rule, lines at node level, rcl's reason).
NODE_RULES = [
    ('value before ros__parameters', ['robot3:', '  rate_hz: 5.0'], 'Cannot have a value'),
    ('namespace with a null value', ['robot3:', 'robot4:', '  ros__parameters: {x: 1}'],
     'Cannot have a value'),
    ('empty ros__parameters', ['robot3:', '  ros__parameters:'], 'Cannot have a value'),
    ('sequence among node names', ['robot3: [1, 2]'], 'Sequences can only be values'),
    ('ros__parameters with no node', ['ros__parameters: {x: 1}'], 'There are no node names'),
    ('invalid node name', ['robot-3:', '  ros__parameters: {x: 1}'], 'node name must not'),
    ('repeated slash', ['ns//a:', '  ros__parameters: {x: 1}'], 'repeated forward slash'),
    ('partial wildcard', ['/foo*:', '  ros__parameters: {x: 1}'], 'node name must not'),
    ('token starting with a digit', ['/1ns/a:', '  ros__parameters: {x: 1}'],
     'must not have a token that starts with a number'),
    ('node name over 255 chars', ['n' * 256 + ':', '  ros__parameters: {x: 1}'],
     "should not exceed '255'"),
    ('namespace token over 245 chars', ['/' + 'n' * 245 + '/a:', '  ros__parameters: {x: 1}'],
     '(245 characters)'),
]
# Files rcl accepts that look odd: (case, whole file). The first three hold no section for this
# node, so only "no rcl refusal" is expected of them.
ACCEPTED = [
    ('empty file', ''),
    ('only a comment', '# nothing\n'),
    ('root scalar', 'hello\n'),
    ('empty section', OWN + 'robot3:\n  ros__parameters: {}\n'),
    ('empty node mapping', OWN + 'robot3: {}\n'),
    ('/** with other parameters', '/**:\n  ros__parameters:\n    use_sim_time: false\n' + OWN),
    ('flow mappings', '{arena_eval: {ros__parameters: {inputs: {imu: {topic: /imu, '
                      'type: sensor_msgs/msg/Imu}}, '
                      'expressions: ["a = imu.linear_acceleration.x"]}}}\n'),
    ('two documents', OWN + '---\n' + OTHER),
    ('anchor without alias', OWN + 'robot3:\n  ros__parameters:\n    x: &v 1\n'),
    ('one-key mappings in a sequence', OWN + 'robot3:\n  ros__parameters:\n    x: [{a: 1}]\n'),
    ('nested sequence', OWN + 'robot3:\n  ros__parameters:\n    x: [[1, 2]]\n'),
    ('null-looking strings', OWN + 'robot3:\n  ros__parameters:\n    x: ~\n    y: null\n'),
    ('a 100k-character string',
     OWN + 'robot3:\n  ros__parameters:\n    x: "%s"\n' % ('a' * 100000)),
    ('namespace token of 244 chars', OWN + '/' + 'n' * 244 + '/a:\n  ros__parameters: {x: 1}\n'),
    ('node name of 255 chars', OWN + 'n' * 255 + ':\n  ros__parameters: {x: 1}\n'),
    ('wildcards', OWN + '/**/robot3:\n  ros__parameters: {x: 1}\n/*/*:\n  ros__parameters: {}\n'),
    ('out-of-range numbers', OWN + 'robot3:\n  ros__parameters:\n    x: [1e400, 1e-310, abc]\n'),
]

# Files Kilted's rcl accepts and Jazzy's refuses (params_yaml.rcl_keeps_node_name): (case, whole
# file, Jazzy's reason). The suite runs on both, so each generation's rule meets its own rcl.
GENERATIONS = [
    ('a sibling of ros__parameters', OWN + 'robot3:\n  ros__parameters: {x: 1}\n'
                                           '  sub:\n    ros__parameters: {y: 1}\n',
     'Internal error creating param namespace'),
    ('two ros__parameters for one node', OWN + '  ros__parameters: {rate_hz: 5.0}\n',
     'There are no node names before'),
]


def _indent(lines, spaces):
    return ''.join(' ' * spaces + line + '\n' for line in lines)


def _cases():
    cases = []
    for rule, lines, reason in PARAM_RULES:
        cases.append((f'{rule} (this node)', OWN + _indent(lines, 4), reason))
        cases.append((f'{rule} (other node)', OWN + OTHER + _indent(lines, 4), reason))
    for rule, lines, reason in NODE_RULES:
        if not lines[0].startswith('ros__parameters'):  # under a node name it is a section
            cases.append((f'{rule} (inside this node)', 'arena_eval:\n' + _indent(lines, 2)
                          + OWN.split('\n', 1)[1], reason))
        cases.append((f'{rule} (other node)', OWN + _indent(lines, 0), reason))
    cases.append(('root sequence', '- a\n', 'Sequences cannot be key'))
    cases.extend((case, text, None) for case, text in ACCEPTED)
    keeps = rcl_keeps_node_name()
    cases.extend((case, text, None if keeps else reason) for case, text, reason in GENERATIONS)
    return cases


CASES = _cases()

_ORACLE = r"""
import json, sys
import rclpy
from rclpy.context import Context
verdicts = []
for path in sys.argv[1:]:
    context = Context()
    try:
        rclpy.init(args=['--ros-args', '--params-file', path], context=context)
    except Exception as exc:  # RCLError: rcl refused the file
        verdicts.append([False, str(exc)])
        continue
    rclpy.shutdown(context=context)
    verdicts.append([True, ''])
print(json.dumps(verdicts))
"""


@pytest.fixture(scope='module')
def verdicts(tmp_path_factory):
    """Return rcl's verdict on every case, {case: (path, accepted, message)}, from one rclpy."""
    folder = tmp_path_factory.mktemp('rcl_cases')
    paths = []
    for i, (_, text, _) in enumerate(CASES):
        path = folder / f'case{i:02d}.yaml'
        path.write_text(text)
        paths.append(str(path))
    out = subprocess.run([sys.executable, '-c', _ORACLE, *paths], env=procs.ros_env(),
                         capture_output=True, text=True, timeout=120, check=True)
    results = json.loads(out.stdout.strip().splitlines()[-1])
    return {case: (path, ok, message)
            for (case, _, _), path, (ok, message) in zip(CASES, paths, results, strict=True)}


def _check(capsys, path, node):
    code = cli(['check', path, '--node', node])
    lines = capsys.readouterr().out.splitlines()
    return code, [line for line in lines if ': error: ' in line]


@pytest.mark.parametrize('case, text, reason', CASES, ids=[c[0] for c in CASES])
def test_check_refuses_what_rcl_refuses(verdicts, capsys, case, text, reason):
    path, rcl_ok, rcl_message = verdicts[case]
    assert rcl_ok == (reason is None), f'rcl: {rcl_message}'
    for node in ('/arena_eval', OTHER_NODE):
        code, errors = _check(capsys, path, node)
        refusals = [e for e in errors if 'rcl refuses this file' in e or 'YAML' in e]
        if rcl_ok:
            assert refusals == [], (node, errors)
            continue
        assert code == 2 and len(refusals) == 1, (node, errors)
        where, message = refusals[0].split(': error: ', 1)
        file, line, col = where.rsplit(':', 2)
        assert file == path and int(col) >= 1
        if 'inside this node' not in case:  # there, nesting changes which name rule fires
            assert reason in message, message
        if 'Error parsing a event' in rcl_message:  # libyaml's syntax error: no reason given
            assert 'YAML syntax error' in message
            continue
        # rcl's own words, and the line it names for its rules (names get none).
        said = re.split(r'(?:\. Error)? at line|, at /', rcl_message.split('Error: ', 1)[1])[0]
        assert said in message, (message, rcl_message)
        named = re.search(r'at line(?:_num)? (\d+)', rcl_message)
        if named:
            assert int(line) == int(named.group(1)), (refusals[0], rcl_message)
    if rcl_ok and text.startswith(OWN[:12]) or 'flow' in case:
        code, errors = _check(capsys, path, '/arena_eval')
        assert (code, errors) == (0, []), errors


def test_the_node_refuses_before_rclpy_init_with_the_position(verdicts, tmp_path):
    for case in ('mixed sequence (other node)', 'value before ros__parameters (inside this node)'):
        path = verdicts[case][0]
        node = NodeProcess(tmp_path, path)
        try:
            assert node.wait(60) == 2
            err = node.stderr()
        finally:
            node.close()
        first = err.strip().splitlines()[0]
        assert first.startswith(path + ':') and ': error: rcl refuses this file: ' in first, err
        assert 'failed to initialize rcl' not in err


def test_the_rclpy_init_fallback_names_the_params_files(verdicts, tmp_path):
    # A file every check accepts, and an argument only rcl refuses: the fallback's message.
    path = verdicts['empty section'][0]
    node = NodeProcess(tmp_path, path, extra_args=['--log-level', 'bogus'])
    try:
        assert node.wait(60) == 2
        err = node.stderr()
    finally:
        node.close()
    line = next(line for line in err.splitlines() if line.startswith('error: '))
    assert 'failed to initialize rcl' in line and line.endswith(f'(params files: {path})'), err


# ----- many generated files, against rcl's parser library itself --------------------------------

_NAMES = ['a', 'b', 'arena_eval', '/**', '/*', '**', '*', 'ns/a', '/ns/b', 'ns//a', '1bad', 'a-b',
          '/**/a', 'x' * 300, '/' + 'y' * 250 + '/a', 'ros__parametersX', '"quoted"', '/foo*',
          'ns/', '/']
_SCALARS = ['1', '1.5', 'true', '"s"', "'q'", 'abc', '', '~', 'null', '0x10', '08', '1e400',
            '1e-310', '.nan', '-.nan', '!!str 3', '&an 5', '*an', '|\n        text',
            '>-\n        42', '""']


def _random_value(rnd, depth):
    r = rnd.random()
    if depth > 2 or r < 0.5:
        return rnd.choice(_SCALARS)
    if r < 0.7:
        items = _SCALARS[:6] + ['[1]', '{a: 1}', '{}', '[]']
        return '[' + ', '.join(rnd.choice(items) for _ in range(rnd.randint(0, 3))) + ']'
    if r < 0.85:
        items = _SCALARS[:6] + ['{}', '[1, 2]']
        return '{' + ', '.join(f"{rnd.choice('pqr')}: {rnd.choice(items)}"
                               for _ in range(rnd.randint(0, 2))) + '}'
    return '{}'


def _random_params(rnd, indent, depth=0):
    lines = []
    for _ in range(rnd.randint(0, 3)):
        key = rnd.choice(['x', 'y', 'z', 'x.y', ''])
        if rnd.random() < 0.2 and depth < 2:
            lines.append(' ' * indent + key + ':')
            lines += _random_params(rnd, indent + 2, depth + 1)
        else:
            lines.append(' ' * indent + f'{key}: {_random_value(rnd, depth)}')
    return lines


def _random_node(rnd, indent, depth=0):
    lines = [' ' * indent + rnd.choice(_NAMES) + ':']
    r = rnd.random()
    if r < 0.6:
        key = rnd.choice(['ros__parameters', 'ros__parameters', 'ros_parameters'])
        lines.append(' ' * (indent + 2) + key + ':')
        lines += _random_params(rnd, indent + 4)
        if rnd.random() < 0.2:
            lines += _random_node(rnd, indent + 2, depth + 1)
    elif r < 0.8 and depth < 3:
        lines += _random_node(rnd, indent + 2, depth + 1)
    elif r < 0.9:
        lines[-1] += ' ' + rnd.choice(['1', '{}', '[1]', ''])
    else:
        lines.append(' ' * (indent + rnd.choice([0, 1, 2])) + 'ros__parameters: {x: 1}')
    return lines


def _random_file(rnd):
    lines = []
    for _ in range(rnd.randint(0, 3)):
        lines += _random_node(rnd, 0)
    if rnd.random() < 0.1:
        lines.insert(rnd.randint(0, len(lines)), '---')
    return '\n'.join(lines) + '\n'


class _RclParser:
    """`rcl_parse_yaml_file` of the installed rcl_yaml_param_parser, through ctypes."""

    def __init__(self):
        import ctypes

        class Allocator(ctypes.Structure):
            _fields_ = [('fields', ctypes.c_void_p * 5)]

        self.lib = ctypes.CDLL('librcl_yaml_param_parser.so')
        self.rcutils = ctypes.CDLL('librcutils.so')
        self.rcutils.rcutils_get_default_allocator.restype = Allocator
        self.lib.rcl_yaml_node_struct_init.restype = ctypes.c_void_p
        self.lib.rcl_yaml_node_struct_init.argtypes = [Allocator]
        self.lib.rcl_parse_yaml_file.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
        self.lib.rcl_yaml_node_struct_fini.argtypes = [ctypes.c_void_p]

    def accepts(self, path):
        table = self.lib.rcl_yaml_node_struct_init(self.rcutils.rcutils_get_default_allocator())
        try:
            return bool(self.lib.rcl_parse_yaml_file(str(path).encode(), table))
        finally:
            self.rcutils.rcutils_reset_error()
            self.lib.rcl_yaml_node_struct_fini(table)


def test_generated_files_get_rcl_s_verdict(tmp_path):
    """2,000 files from a fixed seed: refused by us exactly when rcl's parser refuses them."""
    import random

    from arena_eval.params.config import load_params_text

    rcl = _RclParser()
    rnd = random.Random(21)
    path = tmp_path / 'f.yaml'
    disagree = []
    refused = 0
    for _ in range(2000):
        text = _random_file(rnd)
        path.write_text(text)
        rcl_ok = rcl.accepts(path)
        _, errors, _ = load_params_text(text, 'f.yaml', node_name='/zz/never')
        ours_ok = not any('rcl refuses' in e.message or 'YAML' in e.message for e in errors)
        refused += not rcl_ok
        if rcl_ok != ours_ok:
            disagree.append((text, rcl_ok, [e.one_line() for e in errors]))
    assert disagree == []
    assert 400 < refused < 1600  # both verdicts are well represented


def test_values_are_typed_as_rclpy_gets_them(tmp_path):
    """Odd scalars of an accepted file: our values are what a real rclpy node gets."""
    from arena_eval.params import ros_args
    from arena_eval.params.config import load_node_params
    from test_params_sections import rclpy_parameters

    scalars = {'a': '0x1p3', 'b': '08', 'c': '~', 'd': 'null', 'e': '99999999999999999999',
               'f': '>-\n      42', 'g': '!!str 12', 'h': '.Nan', 'i': 'infinity', 'j': '1e400',
               'k': '1e-310', 'l': '0x10', 'm': '010', 'n': '-0x10', 'o': '+5', 'p': '1_000',
               'q': '[1e400, abc]', 'r': '[0x10, 010]', 's': '-.inf', 't': '.INF', 'u': 'Off',
               'v': '"yes"', 'w': '|\n      7', 'x': '1.', 'y': '.5e1', 'z': '0x'}
    path = tmp_path / 'typed.yaml'
    path.write_text('/**:\n  ros__parameters:\n'
                    + ''.join(f'    {name}: {text}\n' for name, text in scalars.items()))
    argv = ['arena_eval_node', '--ros-args', '--params-file', str(path)]
    node, expected = rclpy_parameters(argv)
    loaded = load_node_params(ros_args.parse(argv).sources, node, check_expressions=False)
    ours = {name: value.value for name, value in loaded.values.items()}
    assert {n: (type(v), v) for n, v in ours.items()} == \
        {n: (type(v), v) for n, v in expected.items()}


def test_the_rule_generation_follows_the_distribution(monkeypatch):
    from importlib import metadata
    monkeypatch.setenv('ROS_DISTRO', 'jazzy')
    assert rcl_keeps_node_name() is False
    monkeypatch.setenv('ROS_DISTRO', 'kilted')
    assert rcl_keeps_node_name() is True
    monkeypatch.delenv('ROS_DISTRO')
    # This venv's rclpy: 7.x on Jazzy, 9.x on Kilted.
    assert rcl_keeps_node_name() == (int(metadata.version('ros-rclpy').split('.')[0]) >= 9)
