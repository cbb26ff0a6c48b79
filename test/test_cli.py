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

"""The command line: `eval`, `check` and `demo` outputs, exit codes, and no tracebacks."""

import os
import re
import subprocess
import sys

from arena_eval.__main__ import main
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PARAMS = os.path.join(ROOT, 'config', 'default.yaml')

GOOD_PARAMS = """\
arena_eval:
  ros__parameters:
    rate_hz: 500.0
    inputs:
      imu: {topic: /imu, type: sensor_msgs/msg/Imu}
    expressions:
      - "norm = hypot(imu.linear_acceleration.x, imu.linear_acceleration.y)"
      - "twice = 2 * norm"
"""

BAD_PARAMS = """\
arena_eval:
  ros__parameters:
    inputs:
      imu: {topic: /imu, type: sensor_msgs/msg/Imu}
    expressions:
      - "a = sqrtt(imu.linear_acceleration.x)"
      - "b = imu.linear_acceleration.w + 1"
"""


def cli(*args, timeout=120):
    """Run `python -m arena_eval ARGS` as the user would; return the completed process."""
    return subprocess.run([sys.executable, '-m', 'arena_eval', *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def run_main(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize('args, printed', [
    (['0.1 + 0.2'], '0.30000000000000004'),
    (['--set', 'imu.linear_acceleration.x=3', '--set', 'imu.linear_acceleration.y=4',
      'hypot(imu.linear_acceleration.x, imu.linear_acceleration.y)'], '5.0'),
    (['y = 2 ** 10'], '1024.0'),
    (['1 / 0'], 'inf'),
    (['--set', 'joints.position[2]=-1e-3', 'abs(joints.position[2]) * 1e3'], '1.0'),
    (['deg(pi)'], '180.0'),
    (['lowpass(7.5, 0.02)'], '7.5'),  # the first tick passes x through
    (['ddt(7.5)'], '0.0'),           # and a derivative starts at 0
])
def test_eval_prints_the_float_repr(capsys, args, printed):
    code, out, err = run_main(capsys, 'eval', *args)
    assert (code, out, err) == (0, printed + '\n', '')


def test_eval_bad_expression_shows_a_caret_and_exits_2(capsys):
    code, out, err = run_main(capsys, 'eval', '1 + sqrtt(2)')
    assert code == 2 and out == ''
    lines = err.splitlines()
    assert 'error:' in lines[0] and 'sqrtt' in lines[0] and "did you mean 'sqrt'" in lines[0]
    # The caret sits under the unknown name in the echoed source line.
    source, caret = lines[-2], lines[-1]
    assert caret.strip() == '^^^^^'
    assert source[caret.index('^'):].startswith('sqrtt')


def test_eval_error_columns_count_from_the_users_text(capsys):
    code, _, err = run_main(capsys, 'eval', '2 * sqrtt(2)')
    assert code == 2
    assert re.match(r'1:5: error: ', err), err


@pytest.mark.parametrize('args, message', [
    (['imu.angular_velocity.z * 2'], "no value for input 'imu.angular_velocity.z'"),
    (['--set', 'x.a=abc', 'x.a'], "'abc' is not a number"),
    (['--set', 'x.a', 'x.a'], 'expected NAME=VALUE'),
    (['--set', 'x.b=1', '1 + 1'], 'does not use this input'),
    (['a = b'], 'error'),
    (['1 +'], 'error'),
])
def test_eval_user_errors_exit_2_with_one_error_line(capsys, args, message):
    code, out, err = run_main(capsys, 'eval', *args)
    assert code == 2 and out == ''
    assert message in err
    assert 'Traceback' not in err


def test_the_real_command_line_has_no_traceback_for_user_errors():
    bad = cli('eval', '__import__("os").system("true")')
    assert bad.returncode == 2
    assert 'error:' in bad.stderr and '^' in bad.stderr
    assert 'Traceback' not in bad.stderr and bad.stdout == ''
    good = cli('eval', '--set', 'imu.angular_velocity.z=0.5', 'atan2(imu.angular_velocity.z, 0.5)')
    assert (good.returncode, good.stdout, good.stderr) == (0, '0.7853981633974483\n', '')
    usage = cli('frobnicate')
    assert usage.returncode == 2 and 'Traceback' not in usage.stderr


def test_check_accepts_the_default_config(capsys):
    code, out, err = run_main(capsys, 'check', DEFAULT_PARAMS)
    assert code == 0, out + err
    assert ': error: ' not in out


def test_check_good_file_and_dump(capsys, tmp_path):
    path = tmp_path / 'good.yaml'
    path.write_text(GOOD_PARAMS)
    code, out, _ = run_main(capsys, 'check', str(path))
    assert (code, out) == (0, "%s: ok for /arena_eval (sections 'arena_eval' (%s:1))\n"
                           % (path, path))
    code, out, _ = run_main(capsys, 'check', str(path), '--dump')
    assert code == 0
    assert 'hypot' in out and 'norm' in out and 'twice' in out


def test_check_bad_file_lists_every_error_with_its_position(capsys, tmp_path):
    path = tmp_path / 'bad.yaml'
    path.write_text(BAD_PARAMS)
    code, out, err = run_main(capsys, 'check', str(path), '--dump')
    assert code == 2
    errors = [line for line in out.splitlines() if ': error: ' in line]
    assert len(errors) == 2, out
    # Columns point inside the quoted expressions: at `sqrtt`, and at the input path.
    assert errors[0].startswith('%s:6:14: error: ' % path) and 'sqrtt' in errors[0]
    assert errors[1].startswith('%s:7:14: error: ' % path) and 'no field' in errors[1]
    assert 'Traceback' not in out + err


def test_check_missing_file_exits_2(capsys, tmp_path):
    code, out, err = run_main(capsys, 'check', str(tmp_path / 'nope.yaml'))
    assert code == 2
    assert 'error:' in out + err and 'Traceback' not in out + err


@pytest.mark.slow
@pytest.mark.ros
def test_demo_runs_shows_a_summary_and_leaves_no_process():
    done = cli('demo', '--seconds', '3', timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert 'summary' in out
    received = re.search(r'results received\s+(\d+) \(([\d.]+) per second\)', out)
    assert received, out
    assert int(received.group(1)) > 0, out  # results flowed (how fast is the benchmarks' job)
    assert re.search(r'node exit 0, simulator exit 0', out), out
    # Not a terminal: a line per second, each with the frequency and a result by name.
    live = [line for line in out.splitlines() if ' Hz | loop ' in line]
    assert len(live) >= 2, out
    assert all('accel_norm' in line for line in live), out
    # Each shown output is its range since the previous line: a live signal moves in it.
    ranges = [re.search(r'yaw_rate_f (\S+)\.\.(\S+)', line) for line in live]
    assert any(r and float(r.group(1)) < float(r.group(2)) for r in ranges), out
    assert 'Traceback' not in done.stderr


def test_errors_name_what_the_user_wrote_and_never_suggest_a_hidden_name(tmp_path):
    """The shipped config without its tilt_deg line: the typed outputs' fields are named."""
    lines = open(DEFAULT_PARAMS).read().splitlines(keepends=True)
    [tilt] = [k for k, line in enumerate(lines) if '"tilt_deg = ' in line]
    path = tmp_path / 'no_tilt.yaml'
    path.write_text(''.join(lines[:tilt] + lines[tilt + 1:]))
    result = cli('check', str(path))
    assert result.returncode == 2
    errors = result.stdout.splitlines() + result.stderr.splitlines()
    errors = [line for line in errors if ': error: ' in line]
    assert len(errors) == 2, errors
    assert "unknown name 'tilt_deg' [outputs.tilt.fields[2]]" in errors[0], errors
    assert "unknown name 'tilt_deg' [outputs.tipping.fields[0]]" in errors[1], errors
    assert not any('__' in line for line in errors), errors
