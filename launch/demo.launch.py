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
Launch the sensor simulator and the arena_eval node on its topics: the demo.

    ros2 launch arena_eval demo.launch.py
    ros2 launch arena_eval demo.launch.py sim_rate_hz:=500.0
    ros2 launch arena_eval demo.launch.py namespace:=robot1 node_name:=tip_monitor
    ros2 topic echo /arena_eval/results

The node runs `config/default.yaml` unless `params_file` says otherwise. With a `namespace`
both the simulator and the node move into it; the default config's inputs are absolute
(`/imu`), so the node is remapped to the simulator's namespaced topics. The node's arguments
(`node_name`, `use_sim_time`, `rate_hz`, `log_level`, `remappings`) are those of
`arena_eval.launch.py`.
"""

import importlib.util
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _node_launch():
    """Load the node launch file beside this one: its arguments and node builder are shared."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'arena_eval.launch.py')
    spec = importlib.util.spec_from_file_location('arena_eval_node_launch', here)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _actions(context, node_launch):
    namespace = LaunchConfiguration('namespace').perform(context).strip('/')
    sim = Node(package='arena_eval', executable='arena_eval_sim', name='arena_eval_sim',
               namespace=namespace, output='screen',
               parameters=[{'rate_hz': float(LaunchConfiguration('sim_rate_hz')
                                             .perform(context))}])
    if namespace:
        # The simulator publishes relative names (/robot1/imu); the default inputs are /imu.
        # rcl applies the first rule that matches, so the user's own rules go first.
        given = LaunchConfiguration('remappings').perform(context)
        ours = f'/imu:=/{namespace}/imu;/joint_states:=/{namespace}/joint_states'
        context.launch_configurations['remappings'] = ';'.join(filter(None, (given, ours)))
    return [sim, *node_launch.node_action(context)]


def generate_launch_description():
    node_launch = _node_launch()
    default_params = os.path.join(get_package_share_directory('arena_eval'), 'config',
                                  'default.yaml')
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default_params if default is None
                                else default, description=description)
          for name, default, description in node_launch.ARGUMENTS),
        DeclareLaunchArgument('sim_rate_hz', default_value='1000.0',
                              description='Messages per second on imu and joint_states'),
        OpaqueFunction(function=_actions, args=[node_launch]),
    ])
