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
The one rcl layer: rclpy entities' rcl pointers for the compiled loop, and what is missing.

A destroyed entity has no pointer (`rcl.Unavailable`); rcl symbols the compiled loop needs
that cannot be found make the node refuse to start with one line saying why (no slower mode).
"""

import os

from arena_eval.engine import native
from arena_eval.ros.node import ArenaEvalNode, StartupError
from arena_eval.rt import rcl
from node_harness import write_params
import pytest
import rclpy
from rclpy.context import Context
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Imu

MISSING_LIBRARY = 'libarena_eval_no_such_rcl.so'


@pytest.fixture
def ros():
    """Yield a node in its own context; destroy both after the test."""
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f'rcl_direct_test_{os.getpid()}', context=context)
    yield node
    node.destroy_node()
    context.try_shutdown()


def test_live_entities_have_pointers_and_destroyed_ones_are_unavailable(ros):
    topic = f'/rcl_direct_gone_{os.getpid()}'
    pub = ros.create_publisher(Imu, topic, QoSProfile(depth=10))
    sub = ros.create_subscription(Imu, topic, lambda msg: None, QoSProfile(depth=10), raw=True)
    assert rcl.entity_pointer(sub, 'subscription') and rcl.entity_pointer(pub, 'publisher')
    ros.destroy_subscription(sub)
    ros.destroy_publisher(pub)
    with pytest.raises(rcl.Unavailable):
        rcl.entity_pointer(sub, 'subscription')
    with pytest.raises(rcl.Unavailable):
        rcl.entity_pointer(pub, 'publisher')


def test_missing_rcl_symbols_are_unavailable():
    with pytest.raises(native.Unavailable, match=MISSING_LIBRARY):
        native.Symbols(rcl_name=MISSING_LIBRARY)
    with pytest.raises(native.Unavailable, match='rcl_take_serialized_message'):
        native.Symbols(rcl_name='libc.so.6')


def test_a_node_without_rcl_symbols_does_not_start_and_says_why(tmp_path):
    params = write_params(tmp_path / 'params.yaml')
    context = Context()
    rclpy.init(args=['test', '--ros-args', '--params-file', str(params)], context=context)
    try:
        with pytest.raises(StartupError) as info:
            ArenaEvalNode(context=context, rcl_library=MISSING_LIBRARY)
        [line] = info.value.lines
        assert line.startswith('arena_eval: the compiled tick cannot run here: ')
        assert MISSING_LIBRARY in line
    finally:
        context.try_shutdown()
