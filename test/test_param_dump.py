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
`ros2 param dump` of a running node loads back as the same program.

The dump is made as ros2cli's `ros2param` dump verb makes it: list the node's parameters and
get their values over the real services, nest the dotted names (`insert_dict`) and write them
with PyYAML's `yaml.dump(..., default_flow_style=False)`. That writer leaves the string 'nan'
unquoted, which rcl reads as a double. The dump must pass `check` as the same `NodeConfig`
and start a node whose own dump is the same again.
"""

import os

from arena_eval.params import config as cfg
from node_harness import NodeProcess, Probe
import pytest
import yaml

pytestmark = [pytest.mark.ros]

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EVERY_OPTION = """\
/**:
  ros__parameters:
    rate_hz: 500
    stale_policy: 'hold'
    stale_state: restart
    publish_individual: true
    diagnostics_period: 0.5
    inputs:
      imu: {topic: /imu, type: sensor_msgs/msg/Imu, timeout: 0.2, qos: reliable, depth: 3}
      joints: {topic: /joint_states, type: sensor_msgs/msg/JointState, timeout: 0,
               qos: system_default}
    expressions:
      - "tilt = deg(acos(clamp(imu.linear_acceleration.z / 9.81, -1, 1)))"
      - "q2_rate = ddt_msg(joints.position[2])"
      - "on = 1"
    outputs:
      tilt_out:
        topic: ~/tilt
        type: geometry_msgs/msg/Vector3Stamped
        stamp: imu
        frame_id: 'nan'
        every: 5
        fields: ["vector.z = tilt", "vector.x = on"]
        on_stale: publish
      estop:
        topic: /dump_estop
        type: std_msgs/msg/Bool
        stamp: ''
        fields: ["data = tilt > 30"]
        on_stale: stale_fields
        stale_fields: ["data = true"]
      clocked:
        topic: clocked
        type: geometry_msgs/msg/PointStamped
        stamp: now
        fields: ["point.x = q2_rate", "header.frame_id = 'map'"]
"""


def _insert_dict(dictionary, key, value):
    """ros2param's DumpVerb.insert_dict: nest a dotted name."""
    split = key.split('.', 1)
    if len(split) > 1:
        if split[0] not in dictionary:
            dictionary[split[0]] = {}
        _insert_dict(dictionary[split[0]], split[1], value)
    else:
        dictionary[key] = value


def dump(probe):
    """Return what `ros2 param dump /arena_eval` prints, from the real parameter services."""
    from rcl_interfaces.srv import ListParameters
    client = probe._parameter_client(ListParameters, 'list_parameters')
    answer = probe.call(client, ListParameters.Request(), 'list_parameters', 20.0, resend=True)
    names = sorted(answer.result.names)
    values = probe.get_parameters(names)
    output = {'/arena_eval': {'ros__parameters': {}}}
    for name, value in zip(names, values):  # noqa: B905 - as ros2param zips them
        _insert_dict(output['/arena_eval']['ros__parameters'], name, value)
    return yaml.dump(output, default_flow_style=False)


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


@pytest.mark.parametrize('source', ['default', 'every_option'])
def test_a_dump_loads_back_as_the_same_program(tmp_path, probe, source):
    if source == 'default':
        params = os.path.join(ROOT, 'config', 'default.yaml')
    else:
        params = tmp_path / 'every.yaml'
        params.write_text(EVERY_OPTION)
    original, errors, _ = cfg.load_params_file(params)
    assert errors == [], [e.one_line() for e in errors]
    node = NodeProcess(tmp_path, params)
    try:
        probe.wait_results(1, node=node)
        dumped = dump(probe)
    finally:
        node.close()
    if source == 'default':
        assert 'stale_policy: nan\n' in dumped  # unquoted: rcl reads a double
    path = tmp_path / 'dump.yaml'
    path.write_text(dumped)
    lines, ok = cfg.check_file(path)
    assert ok and not lines, lines
    loaded, _, _ = cfg.load_params_file(path)
    assert loaded == original
    # The dump as a node's params file: the node starts, and its own dump is the same.
    again = tmp_path / 'again'
    again.mkdir()
    node = NodeProcess(again, path)
    try:
        probe.wait_results(1, node=node)
        assert dump(probe) == dumped
    finally:
        node.close()
