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
A parameter update is validated once: the pre-set callback's verdict is the one applied.

A real rclpy node (its own context) with the node's `ParameterBridge`; `ros2 param set` is
`node.set_parameters`, which runs rclpy's pre-set and on-set callbacks in turn. The config
builder is counted, not replaced.
"""

import os

from arena_eval.params import config as cfg
from arena_eval.ros.params_bridge import ParameterBridge
import pytest
from rclpy.parameter import Parameter


@pytest.fixture
def bridge():
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context)
    overrides = [Parameter('inputs.imu.topic', value='/imu'),
                 Parameter('inputs.imu.type', value='sensor_msgs/msg/Imu'),
                 Parameter('expressions', value=['a = imu.linear_acceleration.x'])]
    node = rclpy.create_node(f'bridge_{os.getpid()}', context=context,
                             parameter_overrides=overrides,
                             automatically_declare_parameters_from_overrides=False)
    applied = []
    try:
        the_bridge = ParameterBridge(node, applied.append)
        the_bridge.install()
        yield node, the_bridge, applied
    finally:
        node.destroy_node()
        rclpy.shutdown(context=context)


def _counting(monkeypatch):
    calls = []
    real = cfg.config_from_parameters

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(cfg, 'config_from_parameters', counted)
    return calls


def test_a_good_update_is_validated_once_and_applied(bridge, monkeypatch):
    node, _, applied = bridge
    calls = _counting(monkeypatch)
    update = Parameter('expressions', value=['b = 2 * imu.angular_velocity.z'])
    result = node.set_parameters([update])
    assert [r.successful for r in result] == [True], result
    assert len(calls) == 1
    assert len(applied) == 1 and list(applied[0].expressions) == update.value


def test_a_bad_update_is_refused_after_one_validation(bridge, monkeypatch):
    node, bridge_, applied = bridge
    calls = _counting(monkeypatch)
    result = node.set_parameters([Parameter('stale_policy', value='sometimes')])
    assert not result[0].successful and 'stale_policy' in result[0].reason
    assert len(calls) == 1 and applied == []
    assert bridge_.values['stale_policy'] != 'sometimes'  # the running values are kept
