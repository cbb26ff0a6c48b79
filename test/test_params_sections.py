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
Params-file sections are matched and merged as rcl and rclpy do, and only this node's are checked.

The reference is rclpy itself: the same files and command line are given to a real rclpy node
(in its own context, created with the remapped name), and the parameters it gets are compared
with what `load_node_params` merged.
"""

from arena_eval.__main__ import main as cli
from arena_eval.params import ros_args
from arena_eval.params.config import load_node_params, load_params_text
from arena_eval.params.params_yaml import node_key_matches
import pytest

BODY = ('  ros__parameters:\n'
        '    inputs:\n'
        '      imu: {topic: /imu, type: sensor_msgs/msg/Imu}\n'
        '    expressions: ["a = imu.linear_acceleration.x"]\n')


@pytest.mark.parametrize('key, node, applies', [
    ('arena_eval', '/arena_eval', True),
    ('arena_eval', '/robot1/arena_eval', False),       # a plain name is in the root namespace
    ('/arena_eval', '/arena_eval', True),
    ('/**', '/arena_eval', True),
    ('/**', '/a/b/c/tip', True),
    ('/*', '/arena_eval', True),
    ('/*', '/robot1/arena_eval', False),               # one token only
    ('/**/arena_eval', '/arena_eval', True),           # zero or more namespace tokens
    ('/**/arena_eval', '/a/b/arena_eval', True),
    ('/**/arena_eval', '/robot1/tip_monitor', False),
    ('/*/arena_eval', '/robot1/arena_eval', True),
    ('/*/arena_eval', '/arena_eval', False),
    ('/robot1/*', '/robot1/tip', True),
    ('/robot1/*', '/robot2/tip', False),
    ('robot1/arena_eval', '/robot1/arena_eval', True),  # nested keys, joined by rcl
    ('/robot1/arena_eval', '/robot1/arena_eval', True),
    ('/robot2/arena_eval', '/robot1/arena_eval', False),
])
def test_node_key_matching(key, node, applies):
    assert node_key_matches(key, node) is applies


def test_plain_name_section_does_not_apply_in_a_namespace():
    config, errors, _ = load_params_text('arena_eval:\n' + BODY, 'f.yaml',
                                         node_name='/robot1/arena_eval')
    assert config is None
    assert [e.one_line() for e in errors] == [
        "f.yaml:1:1: error: no parameters for node '/robot1/arena_eval' ('arena_eval' is for "
        '/arena_eval, not for a node in /robot1; use /**/arena_eval: (any namespace) or /**: '
        '(any node))']
    for key in ('/**', '/**/arena_eval', '/robot1/arena_eval', '/*/arena_eval'):
        config, errors, _ = load_params_text(f'{key}:\n' + BODY, 'f.yaml',
                                             node_name='/robot1/arena_eval')
        assert errors == [] and config.expressions, key


def test_nested_node_keys_are_joined():
    nested = ''.join('  ' + line + '\n' for line in BODY.splitlines())
    text = 'robot1:\n  arena_eval:\n' + nested
    config, errors, _ = load_params_text(text, 'f.yaml', node_name='/robot1/arena_eval')
    assert errors == [] and config.expressions == ('a = imu.linear_acceleration.x',)


def test_another_nodes_section_is_not_checked():
    text = ('/robot1/arena_eval:\n' + BODY
            + '/robot2/arena_eval:\n  ros__parameters:\n    rate_hz: fast\n'
              '    expressions: ["b = sqrt(("]\n')
    config, errors, _ = load_params_text(text, 'f.yaml', node_name='/robot1/arena_eval')
    assert errors == [] and config is not None
    _, errors, _ = load_params_text(text, 'f.yaml', node_name='/robot2/arena_eval')
    assert {e.pos.line for e in errors} == {8, 9}
    assert 'rate_hz must be a double' in errors[0].message


def test_invalid_node_name_stops_every_node():
    text = '/**:\n' + BODY + 'robot-2/arena_eval:\n  ros__parameters:\n    rate_hz: 5.0\n'
    _, errors, _ = load_params_text(text, 'f.yaml', node_name='/robot1/arena_eval')
    assert [e.one_line() for e in errors] == [
        "f.yaml:7:3: error: rcl refuses this file: invalid node name 'robot-2/arena_eval': "
        "namespace must not contain characters other than alphanumerics, '_', or '/' (rcl "
        'stops at the first problem and refuses the file for every node)']


# ----- against rclpy ----------------------------------------------------------------------------

FILE_A = """\
/robot1/arena_eval:
  ros__parameters:
    rate_hz: 500.0
    diagnostics_period: 2.0
/**:
  ros__parameters:
    rate_hz: 250.0
    stale_policy: hold
robot1:
  tip:
    ros__parameters:
      rate_hz: 50.0
/*/arena_eval:
  ros__parameters:
    publish_individual: true
arena_eval:
  ros__parameters:
    diagnostics_period: 3.0
/**/tip:
  ros__parameters:
    stale_policy: 'nan'
/robot1/*:
  ros__parameters:
    diagnostics_period: 4.0
"""
FILE_B = """\
/**:
  ros__parameters:
    inputs:
      imu: {topic: /imu, type: sensor_msgs/msg/Imu}
    expressions: ["a = imu.linear_acceleration.x"]
/robot1/arena_eval:
  ros__parameters:
    diagnostics_period: 5.0
"""

COMMAND_LINES = [
    ['--params-file', '{a}'],
    ['--params-file', '{a}', '-r', '__ns:=/robot1'],
    ['--params-file', '{a}', '--params-file', '{b}', '-r', '__ns:=/robot1'],
    ['--params-file', '{b}', '--params-file', '{a}', '-r', '__ns:=/robot1'],
    ['--params-file', '{a}', '-p', 'rate_hz:=99.0', '-r', '__ns:=/robot1'],
    ['-p', 'rate_hz:=99', '--params-file', '{a}', '-r', '__ns:=/robot2'],
    ['--params-file', '{a}', '-r', '__node:=tip', '-r', '__ns:=/robot1'],
    ['--params-file', '{a}', '-r', 'arena_eval:__node:=tip', '-r', 'tip:__ns:=/robot1'],
    ['--params-file', '{a}', '-r', 'other:__node:=tip', '-r', '__ns:=/x/y'],
    ['--params-file', '{a}', '-p', 'arena_eval:stale_policy:=hold'],
]


def rclpy_parameters(argv):
    """Return what a real rclpy node created as `arena_eval` gets from `argv`."""
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    context = Context()
    rclpy.init(args=argv, context=context)
    try:
        node = Node('arena_eval', context=context,
                    automatically_declare_parameters_from_overrides=True)
        try:
            return node.get_fully_qualified_name(), {
                name: p.value for name, p in node.get_parameters_by_prefix('').items()
                if name not in ('use_sim_time', 'start_type_description_service')}
        finally:
            node.destroy_node()
    finally:
        context.try_shutdown()


@pytest.mark.parametrize('line', COMMAND_LINES, ids=lambda line: ' '.join(line))
def test_merged_sections_are_what_rclpy_gives(tmp_path, line):
    (tmp_path / 'a.yaml').write_text(FILE_A)
    (tmp_path / 'b.yaml').write_text(FILE_B)
    argv = ['arena_eval_node', '--ros-args'] + [
        arg.format(a=tmp_path / 'a.yaml', b=tmp_path / 'b.yaml') for arg in line]
    node, expected = rclpy_parameters(argv)
    args = ros_args.parse(argv)
    assert args.fully_qualified_name == node
    loaded = load_node_params(args.sources, node, check_expressions=False)
    assert {name: value.value for name, value in loaded.values.items()} == expected


def test_check_names_the_node_and_the_sections(tmp_path, capsys):
    path = tmp_path / 'robots.yaml'
    path.write_text('/**:\n' + BODY + '/robot1/arena_eval:\n  ros__parameters:\n'
                    '    rate_hz: 500.0\n/robot2/arena_eval:\n  ros__parameters:\n'
                    '    rate_hz: fast\n')
    assert cli(['check', str(path), '--node', '/robot1/arena_eval']) == 0
    out = capsys.readouterr().out
    assert out == (f"{path}: ok for /robot1/arena_eval (sections '/**' ({path}:1), "
                   f"'/robot1/arena_eval' ({path}:6))\n")
    assert cli(['check', str(path), '--name', 'arena_eval', '--namespace', 'robot2']) == 2
    out = capsys.readouterr().out
    assert out == f'{path}:11:14: error: rate_hz must be a double, got the string fast\n'
    assert cli(['check', str(path), '--node', '/robot3/tip']) == 0
