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
Params files and ROS parameters to `NodeConfig`: every error class, at its exact position.

Each file in `bad_configs/` holds one class of mistake (one holds several); the expected lines
are the exact `file:line:col: error: ...` output of `python -m arena_eval check`.
"""

import dataclasses
import math
from pathlib import Path

from arena_eval.params.config import (
    build_batch,
    check_file,
    config_from_parameters,
    input_parameter_names,
    load_params_file,
    load_params_text,
    parameter_descriptor,
    PARAMETERS,
    spec_for,
)
import pytest

HERE = Path(__file__).resolve().parent
BAD = HERE / 'bad_configs'
DEFAULT = HERE.parent / 'config' / 'default.yaml'

DEFAULT_NAMES = ('accel_norm', 'roll', 'pitch', 'tilt_deg', 'yaw_rate_f', 'q2_rate',
                 'joint_power')

EXPECTED = {
    'yaml_syntax.yaml': [
        "6:16: error: YAML syntax error: expected ',' or '}', but got ':' (while parsing a "
        'flow mapping that starts at line 5, column 12)',
    ],
    'wrong_type.yaml': [
        '3:14: error: rate_hz must be a double, got the string fast',
        '4:25: error: publish_individual must be a bool, got the integer 1',
        '6:60: error: inputs.imu.depth must be an integer, got the double 5.0 (write 5)',
    ],
    'unknown_type.yaml': [
        "4:32: error: package 'sensor_msgs' has no message type 'Imuu' (did you mean "
        "'sensor_msgs/msg/Imu'?)",
        "5:44: error: unknown message package 'sensr_msgs' (did you mean 'sensor_msgs'?)",
        "6:34: error: malformed message type 'Odometry' (write it as pkg/msg/Type, e.g. "
        'sensor_msgs/msg/Imu)',
    ],
    'unknown_field.yaml': [
        # Columns point at the path inside the quoted string: `"a = sqrt(` is 9 characters
        # after the opening quote in column 9.
        "6:19: error: imu (sensor_msgs/msg/Imu) has no field 'linear_acceleration.w' [a] "
        '(geometry_msgs/msg/Vector3 has: x, y, z)',
        "7:14: error: imu (sensor_msgs/msg/Imu) has no field 'angular_velocty' [b] "
        "(did you mean 'angular_velocity'?)",
        "8:13: error: unknown input 'imu2' [c] (did you mean 'imu'?)",
    ],
    'index_non_array.yaml': [
        "7:14: error: 'imu.linear_acceleration.x' is a double, not an array [a] (remove [0])",
        "8:18: error: 'joints.position' is a sequence: index it, e.g. joints.position[0] [b]",
        "9:14: error: index 9 out of range: 'imu.orientation_covariance' has 9 elements [c] "
        '(use 0..8)',
    ],
    'string_field.yaml': [
        "7:14: error: 'imu.header.frame_id' is a string, not a number [a]",
        "8:14: error: 'joints.name[0]' is a string, not a number [b]",
        "8:31: error: 'imu.linear_acceleration' is a geometry_msgs/msg/Vector3 message, not a "
        'number [b] (pick a field, e.g. imu.linear_acceleration.x)',
    ],
    'duplicate_output.yaml': [
        "7:10: error: duplicate expression name 'a' [a] (first defined at {dir}/"
        'duplicate_output.yaml:6:10)',
    ],
    'name_clash.yaml': [
        "6:7: error: input name 'sqrt' clashes with a function of the expression language "
        '(choose another name)',
        "8:10: error: 'sin' is reserved (a function of the language) [sin] (choose another name)",
        "9:10: error: 'imu' names both an expression and an input (imu.linear_acceleration.y) "
        '[imu] (rename the expression)',
        "10:10: error: output 'joints' has the same name as an input [joints] (rename the "
        'expression or the input)',
    ],
    'cycle.yaml': [
        '6:14: error: cycle: a -> b -> a [a] (an expression cannot depend on itself; '
        'prev(name) is its value at the previous step)',
    ],
    'empty_batch.yaml': [
        '5:18: error: expressions is empty: the batch needs at least one expression (write '
        'expressions: ["name = expression", ...])',
    ],
    'rate_out_of_range.yaml': [
        '3:14: error: rate_hz must be between 1 and 10000, got 20000',
        '4:25: error: diagnostics_period must be between 0.01 and 3600, got 0',
        '6:62: error: inputs.imu.timeout must be between 0 and 3600, got -1',
    ],
    'bad_qos.yaml': [
        "3:19: error: stale_policy must be one of 'nan', 'hold', got 'hod' (did you mean "
        "'hold'?)",
        "5:58: error: inputs.imu.qos must be one of 'sensor_data', 'reliable', "
        "'system_default', got 'best_effort'",
        '5:78: error: inputs.imu.depth must be between 1 and 1000, got 0',
    ],
    'unquoted_on.yaml': [
        "3:19: error: stale_policy must be a string, got the bool on (quote it: 'on')",
    ],
    'no_node.yaml': [
        "1:1: error: no parameters for node '/arena_eval' (is 'arena_evl' a typo of "
        "'arena_eval'?)",
    ],
    'bad_inputs.yaml': [
        "4:7: error: input 'imu' has no topic (add inputs.imu.topic: /imu)",
        "5:7: error: input 'joints' has no type (add inputs.joints.type: pkg/msg/Type)",
        "5:23: error: invalid topic name '/joint states' (a topic is /-separated names of "
        'letters, digits and _, not starting with a digit)',
        "6:12: error: input 'cam' must be a mapping with topic and type (cam: {topic: /cam, "
        'type: pkg/msg/Type})',
    ],
    'syntax_in_expression.yaml': [
        "6:14: error: unknown function 'sqrtt' [a] (did you mean 'sqrt'?)",
        "7:14: error: syntax error: '(' was never closed [b]",
        # Inside a block scalar: line 2 of the text, after the block's 8-column indent.
        '10:10: error: syntax error: unexpected indent [c] (continue a long expression inside '
        'parentheses)',
        # After a \t escape (2 characters in the file, 1 in the text).
        '11:43: error: syntax error: invalid syntax [d]',
    ],
    'several_errors.yaml': [
        '4:14: error: rate_hz must be between 1 and 10000, got 0',
        "5:19: error: stale_policy must be one of 'nan', 'hold', got 'never'",
        '6:25: error: publish_individual must be a bool, got the string maybe',
        "8:58: error: inputs.imu.qos must be one of 'sensor_data', 'reliable', "
        "'system_default', got 'fast'",
        "9:44: error: package 'sensor_msgs' has no message type 'JointStates' (did you mean "
        "'sensor_msgs/msg/JointState'?)",
        "11:54: error: imu (sensor_msgs/msg/Imu) has no field 'linear_acceleration.yy' [accel] "
        "(did you mean 'y'?)",
        '13:22: error: cycle: p -> r -> p [p] (an expression cannot depend on itself; '
        'prev(name) is its value at the previous step)',
        '15:17: error: syntax error: invalid syntax [s]',
    ],
}


def relative(lines):
    return [line.replace(str(BAD) + '/', '', 1) for line in lines]


def test_every_bad_config_has_expected_lines():
    assert sorted([*EXPECTED, 'unknown_keys.yaml']) == sorted(p.name for p in BAD.glob('*.yaml'))


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_bad_config_gives_exact_lines(name):
    lines, ok = check_file(BAD / name)
    expected = [f'{name}:' + line.replace('{dir}', str(BAD)) for line in EXPECTED[name]]
    assert relative(lines) == expected
    assert not ok
    config, errors, _ = load_params_file(BAD / name)
    assert config is None and len(errors) == len(expected)


def test_unknown_keys_are_warnings_and_the_config_loads():
    lines, ok = check_file(BAD / 'unknown_keys.yaml')
    assert ok
    assert relative(lines) == [
        "unknown_keys.yaml:3:5: warning: unknown parameter 'rate' (ignored) (did you mean "
        "'rate_hz'?)",
        "unknown_keys.yaml:6:53: warning: unknown parameter 'inputs.imu.timout' (ignored) "
        "(did you mean 'inputs.imu.timeout'?)",
    ]
    config, errors, warnings = load_params_file(BAD / 'unknown_keys.yaml')
    assert errors == [] and len(warnings) == 2
    assert config.rate_hz == 1000.0 and config.inputs['imu'].timeout == 0.05


def test_caret_output_shows_the_expression_and_a_caret():
    lines, ok = check_file(BAD / 'unknown_field.yaml', caret=True)
    first = lines[0].splitlines()
    assert first[1] == '    a = sqrt(imu.linear_acceleration.w ** 2 + 1)'
    assert first[2] == '    ' + ' ' * len('a = sqrt(') + '^' * len('imu.linear_acceleration.w')


def test_missing_file_is_one_error_line(tmp_path):
    lines, ok = check_file(tmp_path / 'nope.yaml')
    assert lines == [f'{tmp_path}/nope.yaml:1:1: error: cannot read params file: No such file '
                     'or directory']
    assert not ok


# ----- the good file --------------------------------------------------------------------------

def test_default_config_passes_check():
    assert check_file(DEFAULT) == ([], True)


def test_default_config_values():
    config, errors, warnings = load_params_file(DEFAULT)
    assert errors == [] and warnings == []
    assert config.rate_hz == 1000.0
    assert config.stale_policy == 'nan'
    assert config.publish_individual is False
    assert config.diagnostics_period == 1.0
    imu, joints = config.inputs['imu'], config.inputs['joints']
    assert list(config.inputs) == ['imu', 'joints']
    assert (imu.topic, imu.type_name, imu.timeout, imu.qos, imu.depth) == (
        '/imu', 'sensor_msgs/msg/Imu', 0.05, 'sensor_data', 5)
    assert imu.msg_type.__name__ == 'Imu'
    assert (joints.topic, joints.type_name) == ('/joint_states', 'sensor_msgs/msg/JointState')
    assert tuple(e.split(' = ')[0] for e in config.expressions) == DEFAULT_NAMES
    # Each source points at the first character after the opening quote.
    text = DEFAULT.read_text().splitlines()
    for expression, source in zip(config.expressions, config.sources, strict=True):
        line = text[source.line - 1]
        assert line[source.col - 1:].startswith(expression)
        assert line[source.col - 2] == '"'


def test_default_batch_compiles_and_evaluates():
    config, _, _ = load_params_file(DEFAULT)
    batch = build_batch(config)
    # The user's outputs first, in order; the typed outputs' hidden statements after them.
    n = len(config.expressions)
    assert tuple(batch.outputs[:n]) == DEFAULT_NAMES
    assert all(name.startswith('__') for name in batch.outputs[n:])
    assert set(config.outputs) == {'tilt', 'tipping'}
    assert 'imu.linear_acceleration.z' in batch.inputs
    assert 'joints.position[2]' in batch.inputs
    values = dict.fromkeys(batch.inputs, 0.0)
    values['imu.linear_acceleration.z'] = 9.81
    out = batch.evaluate(values)
    assert out['accel_norm'] == pytest.approx(9.81)
    assert out['tilt_deg'] == pytest.approx(0.0)


def test_node_key_forms_and_merging():
    body = ('  ros__parameters:\n'
            '    inputs:\n'
            '      imu: {topic: /imu, type: sensor_msgs/msg/Imu}\n'
            '    expressions: ["a = imu.linear_acceleration.x"]\n')
    for key in ('arena_eval', '/arena_eval', '/**', '/**/arena_eval', '/*'):
        config, errors, _ = load_params_text(f'{key}:\n' + body, 'f.yaml')
        assert errors == [], key
        assert config.expressions == ('a = imu.linear_acceleration.x',)
    # Another namespace is another node (see test_params_sections.py for the rules).
    config, errors, _ = load_params_text('/ns/arena_eval:\n' + body, 'f.yaml')
    assert config is None and 'no parameters' in errors[0].message
    # Later sections override earlier ones; other nodes' sections are ignored.
    text = ('/**:\n' + body + '    rate_hz: 250.0\n'
            'arena_eval_sim:\n  ros__parameters:\n    rate_hz: 7.0\n'
            'arena_eval:\n  ros__parameters:\n    rate_hz: 500.0\n')
    config, errors, warnings = load_params_text(text, 'f.yaml')
    assert errors == [] and warnings == []
    assert config.rate_hz == 500.0
    config, _, _ = load_params_text(text, 'f.yaml', node_name='arena_eval_sim')
    assert config.rate_hz == 7.0 and config.expressions  # /** applies to every node


def test_nested_blocks_and_dotted_keys_are_the_same_config():
    flow, _, _ = load_params_file(DEFAULT)
    text = ('arena_eval:\n  ros__parameters:\n'
            '    inputs.imu.topic: /imu\n'
            '    inputs.imu.type: sensor_msgs/msg/Imu\n'
            '    inputs:\n'
            '      joints:\n'
            '        topic: /joint_states\n'
            '        type: sensor_msgs/msg/JointState\n'
            '    expressions:\n' + ''.join(f'      - "{e}"\n' for e in flow.expressions))
    block, errors, warnings = load_params_text(text, 'b.yaml')
    assert errors == [] and warnings == []
    assert block == dataclasses.replace(flow, outputs={})  # this text has no typed outputs


def test_params_file_scalar_rules_follow_rcl():
    def load(value, param='stale_policy'):
        text = ('arena_eval:\n  ros__parameters:\n'
                f'    {param}: {value}\n'
                '    expressions: ["a = 1.0"]\n')
        return load_params_text(text, 'f.yaml')

    for value in ('hold', "'hold'", '"hold"'):
        config, errors, _ = load(value)
        assert errors == [] and config.stale_policy == 'hold'
    for value in ('yes', 'On', 'Y', '1.5', '010', '0x1f'):
        config, errors, _ = load(value)
        assert config is None
        assert 'stale_policy must be a string' in errors[0].message, value
    # rcl reads an unquoted nan or inf as a double; a string parameter takes it as its word
    # (`ros2 param dump` writes the string 'nan' unquoted), as the node does.
    config, errors, _ = load('NaN')
    assert errors == [] and config.stale_policy == 'nan'
    config, errors, _ = load('.inf')
    assert errors[0].message == "stale_policy must be one of 'nan', 'hold', got 'inf'"
    for value, expected in (('1e3', 1000.0), ('1.', 1.0), ('+50.0', 50.0)):
        config, errors, _ = load(value, 'rate_hz')
        assert errors == [] and config.rate_hz == expected, value
    for value in ('~', 'null', '[]'):  # rcl has no null: '~' is the string '~'
        config, errors, _ = load(value, 'rate_hz')
        assert config is None and errors[0].message.startswith('rate_hz must be a double'), value
    # An empty value, and an empty mapping before more parameters, are rcl's refusals.
    for value in ('', '{}'):
        config, errors, _ = load(value, 'rate_hz')
        assert config is None and errors[0].message.startswith('rcl refuses this file'), value
    config, errors, _ = load('1_000', 'rate_hz')
    assert errors[0].message == 'rate_hz must be a double, got the string 1_000'


def test_integers_are_accepted_for_doubles():
    text = ('arena_eval:\n  ros__parameters:\n'
            '    rate_hz: 1000\n'
            '    inputs: {imu: {topic: /imu, type: sensor_msgs/msg/Imu, timeout: 0}}\n'
            '    expressions: ["a = imu.linear_acceleration.x"]\n')
    config, errors, warnings = load_params_text(text, 'i.yaml')
    assert errors == [] and warnings == []
    assert config.rate_hz == 1000.0 and isinstance(config.rate_hz, float)
    assert config.inputs['imu'].timeout == 0.0 and isinstance(config.inputs['imu'].timeout, float)


def test_loop_mode_is_gone_and_choices_are_checked():
    # The tick is always the loop thread: an old params file's loop_mode is only a warning.
    assert spec_for('loop_mode') is None
    text = ('arena_eval:\n  ros__parameters:\n'
            '    loop_mode: timer\n'
            '    stale_policy: {}\n'
            '    expressions: ["a = 1.0"]\n')
    config, errors, warnings = load_params_text(text.format('hold'), 'l.yaml')
    assert errors == [] and config.stale_policy == 'hold'
    assert [w.one_line() for w in warnings] == [
        "l.yaml:3:5: warning: unknown parameter 'loop_mode' (ignored)"]
    _, errors, _ = load_params_text(text.format('hodl'), 'l.yaml')
    assert [e.one_line() for e in errors] == [
        "l.yaml:4:19: error: stale_policy must be one of 'nan', 'hold', got 'hodl' "
        "(did you mean 'hold'?)"]


def test_duplicate_keys_are_errors():
    text = ('arena_eval:\n  ros__parameters:\n'
            '    rate_hz: 100.0\n'
            '    expressions: ["a = 1.0"]\n'
            '    rate_hz: 200.0\n')
    config, errors, _ = load_params_text(text, 'd.yaml')
    assert [e.one_line() for e in errors] == [
        "d.yaml:5:5: error: parameter 'rate_hz' is set twice (first at line 3) "
        '(remove one of them)']


@pytest.mark.parametrize('text, expected', [
    ('', "f.yaml:1:1: error: no parameters for node '/arena_eval' (use /arena_eval: or /**:)"),
    ('- a\n', 'f.yaml:1:1: error: rcl refuses this file: Sequences cannot be key (rcl stops '
              'at the first problem and refuses the file for every node)'),
    ('arena_eval:\n  rate_hz: 5.0\n',
     'f.yaml:2:12: error: rcl refuses this file: Cannot have a value before ros__parameters '
     '(rcl stops at the first problem and refuses the file for every node)'),
    ('arena_eval:\n  ros__parameters:\n    rate_hz: 5.0\n',
     'f.yaml:2:3: error: no expressions: the batch is empty (write expressions: '
     '["name = expression", ...])'),
    ('arena_eval:\n  ros__parameters:\n    expressions: "a = 1.0"\n',
     "f.yaml:3:19: error: expressions must be a list of strings, got the string 'a = 1.0' "
     '(write expressions: ["name = expression", ...])'),
    ('arena_eval:\n  ros__parameters:\n    expressions: ["a = 1.0", 2.0]\n',
     'f.yaml:3:30: error: rcl refuses this file: Sequence should be of same type. Value type '
     "'double' do not belong (the sequence holds string values) (rcl stops at the first "
     'problem and refuses the file for every node)'),
    ('arena_eval:\n  ros__parameters:\n    expressions:\n      - a: 1.0\n',
     "f.yaml:4:9: error: expressions[0] must be a string 'name = expression', got a mapping "
     '(write expressions: ["name = expression", ...])'),
    ('arena_eval:\n  ros__parameters:\n    inputs: /imu\n    expressions: ["a = 1.0"]\n',
     'f.yaml:3:13: error: inputs must be a mapping of input names to {topic: ..., type: ...}'),
    ('arena_eval:\n\tros__parameters: {}\n',
     "f.yaml:2:1: error: YAML syntax error: found character '\\t' that cannot start any "
     'token (while scanning for the next token)'),
])
def test_structural_errors(text, expected):
    config, errors, _ = load_params_text(text, 'f.yaml')
    assert config is None
    assert [e.one_line() for e in errors] == [expected]


def test_alias_bombs_and_deep_nesting_are_one_error():
    lines = ['a0: &a0 {x: 1.0, y: 1.0}']
    lines += [f'a{i}: &a{i} {{x: *a{i - 1}, y: *a{i - 1}}}' for i in range(1, 40)]
    text = ('arena_eval:\n  ros__parameters:\n' + ''.join(f'    {line}\n' for line in lines)
            + '    bomb: *a39\n    expressions: ["a = 1.0"]\n')
    config, errors, _ = load_params_text(text, 'bomb.yaml')
    # rcl refuses the first alias; nothing is expanded.
    assert [e.message for e in errors] == ['rcl refuses this file: Will not support aliasing']
    assert (errors[0].pos.line, errors[0].pos.col) == (4, 17)
    # rcl reads any depth of nesting (its parser keeps no stack); so do we, without recursion.
    deep = 'arena_eval:\n  ros__parameters:\n    x: ' + '[' * 1000 + ']' * 1000 + '\n'
    config, errors, _ = load_params_text(deep, 'deep.yaml')
    assert not any('rcl' in e.message or 'YAML' in e.message for e in errors)


def test_expression_positions_in_flow_sequences_and_escapes():
    text = ('arena_eval:\n  ros__parameters:\n'
            '    inputs: {imu: {topic: /imu, type: sensor_msgs/msg/Imu}}\n'
            '    expressions: ["a = 1.0", \'b = imu.x + \'\'\'\' \', "c = \\"q\\" + imu.y"]\n')
    config, errors, _ = load_params_text(text, 'f.yaml')
    lines = [e.one_line() for e in errors]
    line = text.splitlines()[3]
    # Errors point at the start of an escape: '' in single quotes, \" in double quotes.
    assert lines[0].startswith('f.yaml:4:%d: error: strings are not allowed' % (
        line.index("''''") + 1))
    assert lines[1].startswith('f.yaml:4:%d: error: strings are not allowed' % (
        line.index('\\"q') + 1))


# ----- ROS parameters ---------------------------------------------------------------------------

def default_parameters():
    """Return the default config and the flattened ROS parameters a node would have for it."""
    config, _, _ = load_params_file(DEFAULT)
    params = {'rate_hz': config.rate_hz, 'expressions': list(config.expressions),
              'stale_policy': config.stale_policy,
              'publish_individual': config.publish_individual,
              'diagnostics_period': config.diagnostics_period}
    for name, cfg in config.inputs.items():
        params.update({f'inputs.{name}.topic': cfg.topic, f'inputs.{name}.type': cfg.type_name,
                       f'inputs.{name}.timeout': cfg.timeout, f'inputs.{name}.qos': cfg.qos,
                       f'inputs.{name}.depth': cfg.depth})
    for name, out in config.outputs.items():
        params.update({f'outputs.{name}.topic': out.topic, f'outputs.{name}.type': out.type_name,
                       f'outputs.{name}.stamp': out.stamp,
                       f'outputs.{name}.frame_id': out.frame_id or '',
                       f'outputs.{name}.every': out.every,
                       f'outputs.{name}.fields': [f'{f.path} = {f.text}' for f in out.fields]})
    return config, params


def test_parameters_round_trip_to_the_same_config():
    config, params = default_parameters()
    again, errors, warnings = config_from_parameters(params)
    assert errors == [] and warnings == []
    assert again == config
    assert again.sources[2].file == 'parameter expressions[2]'


def test_parameters_accept_rclpy_parameters_and_integers_for_doubles():
    from rclpy.parameter import Parameter
    _, params = default_parameters()
    params = {name: Parameter(name, value=value) for name, value in params.items()}
    params['rate_hz'] = 500
    params['use_sim_time'] = Parameter('use_sim_time', value=False)
    params['qos_overrides./imu.subscription.depth'] = 3
    config, errors, warnings = config_from_parameters(params)
    assert errors == [] and warnings == []
    assert config.rate_hz == 500.0 and isinstance(config.rate_hz, float)


def test_parameter_errors_name_the_parameter_and_column():
    _, params = default_parameters()
    params['expressions'][2] = 'pitch = atan2(-imu.linear_acceleration.x, hypot(imu.foo, 1))'
    params['rate_hz'] = 0.0
    params['inputs.joints.qos'] = 'best'
    params['inputs.imu.depth'] = 2.5
    params['rate'] = 1.0
    config, errors, warnings = config_from_parameters(params)
    assert config is None
    assert [e.one_line() for e in errors] == [
        "parameter expressions[2]:1:49: error: imu (sensor_msgs/msg/Imu) has no field 'foo' "
        '[pitch] (sensor_msgs/msg/Imu has: header, orientation, orientation_covariance, '
        'angular_velocity, angular_velocity_covariance, linear_acceleration, '
        'linear_acceleration_covariance)',
        'parameter inputs.imu.depth:1:1: error: inputs.imu.depth must be an integer, got the '
        'double 2.5',
        'parameter inputs.joints.qos:1:1: error: inputs.joints.qos must be one of '
        "'sensor_data', 'reliable', 'system_default', got 'best'",
        'parameter rate_hz:1:1: error: rate_hz must be between 1 and 10000, got 0',
    ]
    assert [w.one_line() for w in warnings] == [
        "parameter rate:1:1: warning: unknown parameter 'rate' (ignored) (did you mean "
        "'rate_hz'?)"]


def test_parameters_with_a_new_input_and_nan_rate():
    _, params = default_parameters()
    params.update({'inputs.odom.topic': '/odom', 'inputs.odom.type': 'std_msgs/msg/Float64',
                   'inputs.odom.timeout': 0.0})
    params['expressions'] = params['expressions'] + ['o = odom.data * 2']
    config, errors, _ = config_from_parameters(params)
    assert errors == []
    assert config.inputs['odom'].timeout == 0.0 and config.inputs['odom'].qos == 'sensor_data'
    params['rate_hz'] = math.nan
    config, errors, _ = config_from_parameters(params)
    assert [e.message for e in errors] == ['rate_hz must be between 1 and 10000, got nan']


def test_diff_tells_what_changed():
    config, params = default_parameters()
    assert not config.diff(config).changed
    first = config.diff(None)
    assert first.batch and first.rate and first.inputs_added == ('imu', 'joints')
    params['inputs.imu.timeout'] = 0.1
    params['diagnostics_period'] = 2.0
    changed, _, _ = config_from_parameters(params)
    diff = changed.diff(config)
    assert diff.inputs_changed == ('imu',) and diff.other == ('diagnostics_period',)
    assert config.diff(None).other == ('publish_individual', 'diagnostics_period', 'trigger',
                                       'max_period')
    assert diff.batch and not diff.rate and not diff.inputs_added
    params['trigger'] = 'imu'
    triggered, _, _ = config_from_parameters(params)
    assert triggered.diff(changed).other == ('trigger',) and not triggered.diff(changed).batch
    params['trigger'] = ''
    params['expressions'] = params['expressions'][:1]
    for name in [n for n in params if n.startswith('outputs.')]:
        del params[name]  # the typed outputs read the expressions cut here
    del params['inputs.joints.topic'], params['inputs.joints.type']
    for name in input_parameter_names('joints'):
        params.pop(name, None)
    smaller, errors, _ = config_from_parameters(params)
    assert errors == []
    assert smaller.diff(changed).inputs_removed == ('joints',)


def test_trigger_names_inputs():
    config, params = default_parameters()
    assert config.trigger == () and config.max_period == 0.1
    params.update(trigger='imu, joints,imu', max_period=0.5)
    config, errors, _ = config_from_parameters(params)
    assert not errors and config.trigger == ('imu', 'joints') and config.max_period == 0.5
    params['trigger'] = 'imu jonts'
    _, errors, _ = config_from_parameters(params)
    assert [e.one_line() for e in errors] == [
        "parameter trigger:1:1: error: trigger names no input 'jonts' (inputs: imu, joints) "
        "(did you mean 'joints'?)"]


def test_trigger_list_in_a_file_is_one_line_with_a_hint(tmp_path):
    text = ('/**:\n  ros__parameters:\n    trigger: [imu, joints]\n'
            '    inputs:\n      imu: {topic: /imu, type: sensor_msgs/msg/Imu}\n'
            "    expressions: ['a = imu.linear_acceleration.x']\n")
    _, errors, _ = load_params_text(text, 'p.yaml')
    assert [e.one_line() for e in errors] == [
        'p.yaml:3:14: error: trigger must be a string, got a list (write the names in one '
        "string: 'imu, joints')"]


def test_parameter_table_and_descriptors():
    names = [spec.name for spec in PARAMETERS]
    for name in ('rate_hz', 'expressions', 'stale_policy', 'publish_individual',
                 'diagnostics_period', 'inputs.<name>.topic', 'inputs.<name>.type',
                 'inputs.<name>.timeout', 'inputs.<name>.qos', 'inputs.<name>.depth'):
        assert name in names
    assert 'loop_mode' not in names
    assert spec_for('inputs.imu.qos').choices == ('sensor_data', 'reliable', 'system_default')
    assert spec_for('inputs.imu') is None and spec_for('nope') is None
    rate = parameter_descriptor(spec_for('rate_hz'))
    assert rate.floating_point_range[0].from_value == 1.0
    assert rate.floating_point_range[0].to_value == 10000.0
    depth = parameter_descriptor(spec_for('inputs.imu.depth'), 'inputs.imu.depth')
    assert depth.name == 'inputs.imu.depth' and depth.integer_range[0].to_value == 1000
    assert 'hold' in parameter_descriptor(spec_for('stale_policy')).additional_constraints


def test_the_node_harness_params_round_trip_through_the_config_checker(tmp_path):
    from node_harness import write_params
    path = write_params(tmp_path / 'p.yaml')
    config, errors, warnings = load_params_file(path)
    assert not errors and not warnings
    assert config.rate_hz == 1000.0 and len(config.expressions) == 7


def test_stale_state_parameter():
    def load(value):
        text = ('arena_eval:\n  ros__parameters:\n'
                f'    stale_state: {value}\n'
                '    expressions: ["a = integral(imu.angular_velocity.z)"]\n'
                '    inputs:\n      imu: {topic: /imu, type: sensor_msgs/msg/Imu}\n')
        return load_params_text(text, 's.yaml')

    config, errors, _ = load("'restart'")
    assert errors == [] and config.stale_state == 'restart'
    assert build_batch(config).stale_state == 'restart'
    config, errors, _ = load("'forget'")
    assert config is None
    assert "stale_state must be one of 'hold', 'restart', got 'forget'" in errors[0].message
    held, _, _ = load("'hold'")
    restart, _, _ = load("'restart'")
    assert restart.diff(held).batch and not held.diff(held).batch
    assert 'restart' in parameter_descriptor(spec_for('stale_state')).additional_constraints


@pytest.mark.parametrize('sources, wanted', [
    ([], False),
    ([('param', '/**', 'lifecycle', 'true')], True),
    ([('param', '/**', 'lifecycle', 'false')], False),
    ([('param', '/**', 'lifecycle', '1')], False),  # not a bool: the node reports it
    ([('file', str(DEFAULT)), ('param', '/**', 'lifecycle', 'true')], True),
    ([('param', '/**', 'lifecycle', 'true'), ('param', '/**', 'lifecycle', 'false')], False),
    ([('text', 'a.yaml', '/other:\n  ros__parameters:\n    lifecycle: true\n')], False),
])
def test_lifecycle_is_read_from_the_sources_in_order(sources, wanted):
    from arena_eval.params.config import load_node_params, wants_lifecycle
    assert wants_lifecycle(load_node_params(sources, check_expressions=False)) is wanted


def test_lifecycle_is_a_read_only_bool():
    spec = spec_for('lifecycle')
    assert (spec.ros_type, spec.default, spec.read_only) == ('bool', False, True)
    assert parameter_descriptor(spec).read_only
    _, errors, _ = load_params_text('/**:\n  ros__parameters:\n    lifecycle: 1\n'
                                    '    expressions: ["a = 1.0"]\n')
    assert [e.one_line() for e in errors] == [
        '<params>:3:16: error: lifecycle must be a bool, got the integer 1']
