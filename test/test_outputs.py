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
Typed outputs in params files: checked at load time with exact positions, compiled into the batch.

Every load-time error the issue names is provoked once and its `file:line:col` asserted; a valid
file compiles into one batch whose first outputs are the user's expressions, in order.
"""

from arena_eval.params.config import build_batch, config_from_parameters, load_params_text
import pytest

HEAD = """/**:
  ros__parameters:
    inputs:
      imu: {topic: /imu, type: sensor_msgs/msg/Imu}
      joints: {topic: /joint_states, type: sensor_msgs/msg/JointState}
      level: {topic: /level, type: std_msgs/msg/Float64}
    expressions:
      - "roll = atan2(imu.linear_acceleration.y, imu.linear_acceleration.z)"
    outputs:
"""


def load(outputs_yaml):
    return load_params_text(HEAD + outputs_yaml, 'p.yaml')


def one_error(outputs_yaml):
    config, errors, _ = load(outputs_yaml)
    assert config is None
    assert len(errors) == 1, [e.one_line() for e in errors]
    return errors[0].one_line()


def test_a_valid_file_compiles_hidden_statements_after_the_batch():
    config, errors, warnings = load("""\
      tilt:
        topic: /tilt
        type: geometry_msgs/msg/Vector3Stamped
        stamp: imu
        frame_id: base_link
        every: 10
        fields: ["vector.x = roll", "vector.z = imu.linear_acceleration.x * 2"]
      names:
        topic: /names
        type: sensor_msgs/msg/JointState
        fields: ["name[0] = 'elbow'", "position[0] = joints.position[1]"]
""")
    assert not errors and not warnings
    tilt = config.outputs['tilt']
    assert (tilt.topic, tilt.stamp, tilt.frame_id, tilt.every) == ('/tilt', 'imu', 'base_link', 10)
    assert config.outputs['names'].strings() == {('name', 0): 'elbow'}
    batch = build_batch(config)
    assert batch.outputs[0] == 'roll'
    assert set(batch.outputs[1:]) == {'__tilt_0', '__tilt_1', '__tilt_stamp_sec',
                                      '__tilt_stamp_nanosec', '__names_1'}
    assert 'imu.header.stamp.sec' in batch.inputs


def at(outputs_yaml, needle, nth=1):
    """Return 'p.yaml:line:col' of the `nth` `needle` in the outputs section."""
    start = -1
    for _ in range(nth):
        start = outputs_yaml.index(needle, start + 1)
    line = HEAD.count('\n') + outputs_yaml.count('\n', 0, start) + 1
    col = start - (outputs_yaml.rfind('\n', 0, start) + 1) + 1
    return f'p.yaml:{line}:{col}'


FLOAT = '      o: {topic: /o, type: std_msgs/msg/Float64, '


@pytest.mark.parametrize('outputs_yaml, needle, nth, message', [
    ('      o: {topic: /o, type: std_msgs/msg/Bol, fields: ["data = 1"]}\n', 'std_msgs', 1,
     "error: package 'std_msgs' has no message type 'Bol' (did you mean 'std_msgs/msg/Bool'?)"),
    ('      o: {topic: /o, type: std_msgs/msg/Bool, fields: ["dta = 1"]}\n', 'dta', 1,
     "error: std_msgs/msg/Bool has no field 'dta' [o] (did you mean 'data'?)"),
    ('      o: {topic: /o, type: std_msgs/msg/Bool, fields: ["data[0] = 1"]}\n', 'data', 1,
     "error: 'data' is a boolean, not an array [o] (remove [0])"),
    ('      o: {topic: /o, type: std_msgs/msg/Header, fields: ["frame_id = 1"]}\n', '1', 1,
     "error: field 'frame_id' is a string: set it to a quoted constant [o] "
     "(e.g. frame_id = 'text')"),
    (FLOAT + 'fields: ["data = \'x\'"]}\n', "'x'", 1,
     "error: field 'data' is a double: set it to an expression, not a string [o]"),
    ('      o: {topic: /o, type: geometry_msgs/msg/Twist, fields: ["linear = 1"]}\n', 'linear',
     1, "error: 'linear' is a geometry_msgs/msg/Vector3 message, not a number [o] "
     '(pick a field, e.g. linear.x)'),
    (FLOAT + 'fields: ["data = 1", "data = 2"]}\n', 'data', 2,
     "error: field 'data' is set twice (also by 'data') [o] (set each field once)"),
    ('      o: {topic: /o, type: geometry_msgs/msg/PointStamped, frame_id: map,\n'
     '          fields: ["header.frame_id = \'x\'"]}\n', 'header', 1,
     "error: field 'header.frame_id' is set twice (also by frame_id) [o] (set each field "
     'once)'),
    ('      o: {topic: /o, type: geometry_msgs/msg/PointStamped, stamp: level,\n'
     '          fields: ["point.x = 1"]}\n', 'level', 1,
     "error: stamp 'level': its messages have no header (stamp with 'now', or with an input "
     'that has a header)'),
    (FLOAT + 'stamp: imu, fields: ["data = 1"]}\n', 'imu', 1,
     "error: output 'o' has stamp but its type has no header (remove stamp)"),
    ('      o: {topic: /o, type: geometry_msgs/msg/PointStamped, stamp: gps,\n'
     '          fields: ["point.x = 1"]}\n', 'gps', 1,
     "error: stamp 'gps' is not an input (name an input, or 'now' for the node's clock)"),
    (FLOAT + 'fields: ["data = 1"]}\n      p: {topic: /o, type: std_msgs/msg/Float64, '
     'fields: ["data = 2"]}\n', '/o', 2,
     "error: topic '/o' is used by outputs 'o' and 'p' (give each output its topic)"),
    (FLOAT + 'fields: ["data = rol + 1"]}\n', 'rol', 1,
     "error: unknown name 'rol' [o.data] (did you mean 'roll'?)"),
    (FLOAT + 'every: 0, fields: ["data = 1"]}\n', '0', 1,
     'error: outputs.o.every must be between 1 and 1e+06, got 0'),
    ('      o: {topic: /o, type: std_msgs/msg/Float64}\n', 'o', 1,
     "error: output 'o' has no fields (add outputs.o.fields)"),
])
def test_load_time_errors_have_exact_positions(outputs_yaml, needle, nth, message):
    assert one_error(outputs_yaml) == f'{at(outputs_yaml, needle, nth)}: {message}'


def test_a_syntax_error_in_a_field_is_positioned_inside_it():
    line = one_error(FLOAT + 'fields: ["data = (1 +"]}\n')
    assert line.startswith('p.yaml:10:') and line.endswith('[o.data]'), line
    assert int(line.split(':')[2]) > len(FLOAT + 'fields: ["data = '), line


def test_the_parameter_door_checks_the_same_way():
    params = {'inputs.imu.topic': '/imu', 'inputs.imu.type': 'sensor_msgs/msg/Imu',
              'expressions': ['a = imu.linear_acceleration.x'],
              'outputs.o.topic': '/o', 'outputs.o.type': 'std_msgs/msg/Float32',
              'outputs.o.fields': ['data = a * 2', 'dat = a']}
    config, errors, _ = config_from_parameters(params)
    assert config is None
    assert [e.one_line() for e in errors] == [
        "parameter outputs.o.fields[1]:1:1: error: std_msgs/msg/Float32 has no field 'dat' [o] "
        "(did you mean 'data'?)"]
    del params['outputs.o.fields']
    params['outputs.o.fields'] = ['data = a * 2']
    config, errors, _ = config_from_parameters(params)
    assert not errors and config.outputs['o'].fields[0].path == 'data'
