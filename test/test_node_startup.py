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
Startup with bad configuration: exit code 2, one `file:line:col: error:` line each, no traceback.

These processes stop before (or right after) joining the ROS graph, so they are quick.
"""

import subprocess

from arena_eval.tools import procs
from node_harness import write_params
import pytest

pytestmark = pytest.mark.ros

GOOD_HEAD = """\
arena_eval:
  ros__parameters:
    rate_hz: 1000.0
    inputs:
      imu: {topic: /imu, type: sensor_msgs/msg/Imu}
    expressions:
"""


def run_node(args, timeout=60.0):
    proc = procs.start('arena_eval.ros.node', args, procs.ros_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        procs.stop(proc)
    return proc.returncode, out, err


def params_args(path, *extra):
    return ['--ros-args', '--params-file', str(path), *extra]


def test_unknown_field_in_expression_points_into_the_file(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text(GOOD_HEAD + '      - "norm = sqrt(imu.linear_acceleration.w ** 2)"\n')
    code, out, err = run_node(params_args(path))
    assert code == 2
    lines = err.strip().splitlines()
    # Line 7; the string starts at column 9 (its quote at 9), `imu` at column 22.
    assert len(lines) == 1, err
    assert lines[0].startswith(f'{path}:7:22: error: imu (sensor_msgs/msg/Imu) has no field '
                               "'linear_acceleration.w' [norm]"), err
    assert 'Traceback' not in err + out


def test_several_errors_are_all_reported(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text(GOOD_HEAD.replace('rate_hz: 1000.0', 'rate_hz: fast')
                    + '      - "a = sqrtt(imu.angular_velocity.z)"\n'
                    + '      - "b = a +"\n')
    code, out, err = run_node(params_args(path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 3, err
    assert lines[0].startswith(f'{path}:3:14: error: rate_hz must be')
    assert lines[1].startswith(f'{path}:7:') and 'sqrtt' in lines[1]
    assert lines[2].startswith(f'{path}:8:') and ': error: ' in lines[2]
    assert 'Traceback' not in err + out


def test_yaml_syntax_error(tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text(GOOD_HEAD + '      - "a = 1.0\n    rate_hz: [\n')
    code, out, err = run_node(params_args(path))
    assert code == 2
    assert err.startswith(f'{path}:') and 'YAML syntax error' in err, err
    assert 'Traceback' not in err + out


def test_missing_params_file(tmp_path):
    path = tmp_path / 'missing.yaml'
    code, out, err = run_node(params_args(path))
    assert code == 2
    assert err.startswith(f'{path}:1:1: error: cannot read params file'), err
    assert 'Traceback' not in err + out


def test_bad_override_is_reported_as_a_parameter(tmp_path):
    path = write_params(tmp_path / 'good.yaml')
    code, out, err = run_node(params_args(path, '-p', 'expressions:=["x = imu.bogus"]'))
    assert code == 2
    assert err.strip().startswith('parameter expressions[0]:1:5: error: '), err
    assert 'bogus' in err and 'Traceback' not in err + out


def test_bad_choice_override(tmp_path):
    path = write_params(tmp_path / 'good.yaml')
    code, out, err = run_node(params_args(path, '-p', 'stale_policy:=fast'))
    assert code == 2
    assert 'stale_policy' in err and ': error: ' in err, err
    assert 'Traceback' not in err + out


def test_no_parameters_at_all():
    code, out, err = run_node(['--ros-args'])
    assert code == 2
    assert 'expressions' in err and ': error: ' in err, err
    assert 'Traceback' not in err + out


def test_unknown_keys_are_warnings_with_positions(tmp_path):
    import signal
    import time

    path = tmp_path / 'params.yaml'
    path.write_text(GOOD_HEAD.replace('rate_hz: 1000.0', 'rate_hz: 1000.0\n    rate: 5.0')
                    + '      - "a = imu.angular_velocity.z"\n')
    proc = procs.start('arena_eval.ros.node', params_args(path), procs.ros_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        end = time.monotonic() + 60.0
        while time.monotonic() < end:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if 'warning:' in line:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=5.0)
    finally:
        procs.stop(proc)
    assert proc.returncode == 0, ''.join(lines) + rest
    warning = next(line for line in lines if 'warning:' in line)
    assert f"{path}:4:5: warning: unknown parameter 'rate' (ignored)" in warning
    assert "did you mean 'rate_hz'?" in warning
