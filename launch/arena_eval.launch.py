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
Launch the arena_eval node with a params file.

    ros2 launch arena_eval arena_eval.launch.py
    ros2 launch arena_eval arena_eval.launch.py params_file:=/path/to/my.yaml
    ros2 launch arena_eval arena_eval.launch.py namespace:=robot1

`params_file` defaults to the installed `config/default.yaml` (the simulator's topics).
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
                              description='Params file: inputs, expressions, rate_hz, ...'),
        DeclareLaunchArgument('namespace', default_value='',
                              description='Namespace of the node and its topics'),
        # One params file, so the node reports its errors at the file's lines and columns.
        Node(package='arena_eval', executable='arena_eval_node', name='arena_eval',
             namespace=LaunchConfiguration('namespace'), output='screen',
             parameters=[LaunchConfiguration('params_file')]),
    ])
