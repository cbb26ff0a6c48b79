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
Several robots from one params file, over DDS: names, namespaces, remaps, sim time, QoS, updates.

Two nodes run side by side from one file: `/robot1/arena_eval` (its own section, its `/imu`
remapped to `/robot1/imu`, `use_sim_time` with no `/clock` anywhere) and a renamed
`/robot2/tip_monitor` (its own section). A third section, `/robot3/arena_eval`, has an error:
a node started there exits 2 with that error, and the other two never notice.
"""

import re

from diagnostic_msgs.msg import DiagnosticStatus
from node_harness import DEFAULT_EXPRESSIONS, NodeProcess, Probe
import pytest
import yaml

pytestmark = pytest.mark.ros

OK = DiagnosticStatus.OK[0]
ERROR = DiagnosticStatus.ERROR[0]
STALE = DiagnosticStatus.STALE[0]


def robots_file(path):
    sections = {
        '/**': {'diagnostics_period': 0.5, 'expressions': list(DEFAULT_EXPRESSIONS), 'inputs': {
            'imu': {'topic': '/imu', 'type': 'sensor_msgs/msg/Imu', 'timeout': 0.5},
            # The probe publishes best effort: this input can never hear it.
            'joints': {'topic': '/joint_states', 'type': 'sensor_msgs/msg/JointState',
                       'timeout': 0.5, 'qos': 'reliable'}}},
        '/robot1/arena_eval': {'rate_hz': 500.0},
        '/robot2/tip_monitor': {'rate_hz': 250.0},
        '/robot3/arena_eval': {'rate_hz': 'fast'},
    }
    path.write_text(yaml.safe_dump({key: {'ros__parameters': params}
                                    for key, params in sections.items()}, sort_keys=False))
    return path


def test_two_robots_from_one_params_file(tmp_path):
    import subprocess

    from arena_eval.tools import procs
    from sensor_msgs.msg import Imu

    params = robots_file(tmp_path / 'robots.yaml')
    (tmp_path / 'a').mkdir()
    (tmp_path / 'b').mkdir()
    robot1 = robot2 = probe1 = probe2 = None
    try:
        robot1 = NodeProcess(tmp_path / 'a', params, ['-r', '__ns:=/robot1',
                                                      '-r', '/imu:=/robot1/imu',
                                                      '-p', 'use_sim_time:=true'])
        robot2 = NodeProcess(tmp_path / 'b', params, ['-r', '__node:=tip_monitor',
                                                      '-r', '__ns:=/robot2'])
        # The third robot's section is wrong: it stops before rclpy, with that line only.
        bad = procs.start('arena_eval.ros.node', ['--ros-args', '--params-file', params,
                                                  '-r', '__ns:=/robot3'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = bad.communicate(timeout=60)
        assert bad.returncode == 2, out + err
        assert err.splitlines() == [
            f'{params}:32:14: error: rate_hz must be a double, got the string fast'], err

        probe1 = Probe('/robot1/arena_eval')
        probe2 = Probe('/robot2/tip_monitor')
        robot1_imu = probe1.node.create_publisher(Imu, '/robot1/imu', 10)
        probe1.stream('robot1_imu', lambda: robot1_imu.publish(probe1.imu), 100.0)
        probe1.stream_inputs(100.0)

        # Each node has its own section, its own fully qualified status names; robot1's
        # diagnostics publish under use_sim_time although no /clock exists.
        loop1 = probe1.wait_for(lambda: probe1.status('loop'), 30.0,
                                'robot1 diagnostics: ' + robot1.output())
        loop2 = probe2.wait_for(lambda: probe2.status('loop'), 30.0,
                                'robot2 diagnostics: ' + robot2.output())
        assert loop1[2]['Target frequency (Hz)'] == '500.0'
        assert loop2[2]['Target frequency (Hz)'] == '250.0'

        # The remap shows in robot1's status; the reliable input names the best-effort
        # publisher and its QoS.
        imu = probe1.wait_status('input imu', OK)
        assert imu[2]['Topic'] == '/robot1/imu'
        joints = probe1.wait_status('input joints', ERROR, message_part='best_effort')
        assert re.search(r'/probe_\d+_\d+ offers reliability best_effort, durability volatile: '
                         'incompatible with qos: reliable', joints[1]), joints[1]
        assert joints[2]['Topic'] == '/joint_states' and joints[2]['QoS'] == 'reliable'
        assert probe2.status('input imu')[2]['Topic'] == '/imu'

        # Parameter updates: an integer for a double; a new input; a wrong type.
        [result] = probe1.set_parameters({'rate_hz': 400})
        assert result.successful, result.reason
        probe1.wait_for(lambda: probe1.status('loop')[2]['Target frequency (Hz)'] == '400.0',
                        5.0, 'rate 400')
        assert probe1.get_parameters(['rate_hz']) == [400.0]
        [result] = probe1.set_parameters({'inputs.cam.topic': '/cam'})
        assert not result.successful
        assert result.reason == (
            "parameter inputs.cam.topic:1:1: error: input 'cam' is not in the running "
            'configuration: adding an input needs a restart (add it to the params file and '
            'restart the node)')
        [result] = probe1.set_parameters({'rate_hz': 'fast'})
        assert not result.successful
        assert result.reason == ('parameter rate_hz:1:1: error: rate_hz must be a double, got '
                                 "the string 'fast'")
        assert probe1.status('loop')[2]['Target frequency (Hz)'] == '400.0'
        assert robot1.alive() and robot2.alive()
    finally:
        for probe in (probe1, probe2):
            if probe is not None:
                probe.close()
        outputs = []
        for node in (robot1, robot2):
            if node is not None:
                code, _ = node.signal_and_wait()
                outputs.append((code, node.output()))
                node.close()
    (code1, log1), (code2, log2) = outputs
    assert (code1, code2) == (0, 0), log1 + log2
    # The logs: the program at startup, the QoS problem once, refusals as warnings.
    assert re.search(r'\[robot1\.arena_eval\]: running: 7 expressions \(accel_norm, .*\), '
                     r'.*imu <- /robot1/imu', log1), log1
    assert '[robot2.tip_monitor]: running: 7 expressions' in log2, log2
    # The graph watch logs the QoS problem once; the input's status line may also log it, when
    # the first report came before the graph check (a status change, logged as such).
    assert log1.count('no message from it will arrive') == 1, log1
    assert re.search(r"input 'joints' on /joint_states: /probe_\d+_\d+ offers reliability "
                     r'best_effort, durability volatile: incompatible with qos: reliable '
                     r'\(.*\): no message from it will arrive', log1), log1
    assert 'use_sim_time: /diagnostics stamps follow /clock' in log1
    assert log1.count('parameter update refused') == 2, log1
    assert 'rate_hz: 500 -> 400 Hz' in log1
