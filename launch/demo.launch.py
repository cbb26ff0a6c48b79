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
    ros2 topic echo /arena_eval/results

The node runs `config/default.yaml` unless `params_file` says otherwise.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory('arena_eval'), 'config',
                                  'default.yaml')
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='Params file of the arena_eval node'),
        DeclareLaunchArgument('sim_rate_hz', default_value='1000.0',
                              description='Messages per second on /imu and /joint_states'),
        Node(package='arena_eval', executable='arena_eval_sim', name='arena_eval_sim',
             output='screen', parameters=[{'rate_hz': LaunchConfiguration('sim_rate_hz')}]),
        Node(package='arena_eval', executable='arena_eval_node', name='arena_eval',
             output='screen', parameters=[LaunchConfiguration('params_file')]),
    ])
