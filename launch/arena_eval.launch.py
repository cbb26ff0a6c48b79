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
Launch the arena_eval node with a params file, under any name and in any namespace.

    ros2 launch arena_eval arena_eval.launch.py
    ros2 launch arena_eval arena_eval.launch.py params_file:=/path/to/my.yaml
    ros2 launch arena_eval arena_eval.launch.py namespace:=robot1 node_name:=tip_monitor
    ros2 launch arena_eval arena_eval.launch.py use_sim_time:=true log_level:=debug
    ros2 launch arena_eval arena_eval.launch.py remappings:='/imu:=/robot1/imu;/joint_states:=js'
    ros2 launch arena_eval arena_eval.launch.py lifecycle:=true
    ros2 launch arena_eval arena_eval.launch.py lifecycle:=true autostart:=false

`params_file` defaults to the installed `config/default.yaml`, whose `/**:` section applies to
the node whatever its name and namespace. `use_sim_time` and `rate_hz`, when given, win over the
params file: they are passed as parameters after it. `remappings` is `from:=to` rules separated
by `;`. With `lifecycle:=true` the node is the managed one, started as a launch_ros
`LifecycleNode`; `autostart` (default true) configures and activates it: through launch_ros's
own `autostart` where the distribution has it, else with the classic pair of `ChangeState`
events (configure, then activate once it is inactive). `autostart:=false` leaves it
unconfigured for a lifecycle manager. Only the standard launch and launch_ros API is used.
"""

import inspect
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

ARGUMENTS = (
    ('params_file', None, 'Params file: inputs, expressions, rate_hz, ...'),
    ('node_name', 'arena_eval', 'Name of the node'),
    ('namespace', '', 'Namespace of the node and its relative topics (e.g. robot1)'),
    ('use_sim_time', '', "'true' or 'false'; empty: the params file decides (default false)"),
    ('rate_hz', '', 'Ticks per second; empty: the params file decides'),
    ('log_level', 'info', 'Log level of the node: debug, info, warn, error or fatal'),
    ('remappings', '', "Topic remappings 'from:=to;from:=to' (e.g. '/imu:=/robot1/imu')"),
    ('lifecycle', 'false', "'true': the managed (lifecycle) node; 'false': the plain node"),
    ('autostart', 'true', "With lifecycle: 'true' configures and activates it at launch"),
)


def parse_remappings(text):
    """Turn 'from:=to;from:=to' into [(from, to), ...]; raise ValueError on a bad rule."""
    rules = []
    for rule in filter(None, (part.strip() for part in text.split(';'))):
        source, sep, target = rule.partition(':=')
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"remappings: '{rule}' is not a 'from:=to' rule")
        rules.append((source.strip(), target.strip()))
    return rules


def overrides(use_sim_time, rate_hz):
    """Return the parameters given as launch arguments (empty ones: the params file decides)."""
    params = {}
    if use_sim_time.strip():
        params['use_sim_time'] = flag('use_sim_time', use_sim_time)
    if rate_hz.strip():
        try:
            params['rate_hz'] = float(rate_hz)
        except ValueError:
            raise ValueError(f"rate_hz must be a number, got '{rate_hz}'") from None
    return params


def flag(name, text):
    """Return a 'true'/'false' launch argument as a bool; raise ValueError otherwise."""
    value = text.strip().lower()
    if value not in ('true', 'false'):
        raise ValueError(f"{name} must be 'true' or 'false', got '{text}'")
    return value == 'true'


def has_autostart():
    """Whether this launch_ros starts lifecycle nodes itself (`Node(autostart=...)`)."""
    return 'autostart' in inspect.signature(Node.__init__).parameters


def autostart_events(node):
    """Configure `node` at launch, then activate it once (for launch_ros without autostart)."""
    from launch_ros.event_handlers import OnStateTransition
    from launch_ros.events.lifecycle import ChangeState
    from lifecycle_msgs.msg import Transition

    def change(transition_id):
        return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                           transition_id=transition_id))
    return [
        RegisterEventHandler(OnStateTransition(
            target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
            entities=[change(Transition.TRANSITION_ACTIVATE)], handle_once=True)),
        change(Transition.TRANSITION_CONFIGURE),
    ]


def node_action(context, package='arena_eval', executable='arena_eval_node'):
    """Build the node from the launch arguments (an OpaqueFunction, after substitution)."""
    def arg(name):
        return LaunchConfiguration(name).perform(context)
    parameters = [arg('params_file')]
    extra = overrides(arg('use_sim_time'), arg('rate_hz'))
    managed = flag('lifecycle', arg('lifecycle'))
    autostart = flag('autostart', arg('autostart'))
    if managed:
        extra['lifecycle'] = True
    if extra:
        # After the file: rcl reads parameter sources in order and the last value wins.
        parameters.append(extra)
    options = {'package': package, 'executable': executable, 'name': arg('node_name'),
               'namespace': arg('namespace'), 'output': 'screen', 'parameters': parameters,
               'remappings': parse_remappings(arg('remappings')),
               'ros_arguments': ['--log-level', arg('log_level')]}
    if not managed:
        return [Node(**options)]
    if has_autostart():
        return [LifecycleNode(autostart=autostart, **options)]
    node = LifecycleNode(**options)
    return [node, *(autostart_events(node) if autostart else ())]


def generate_launch_description():
    default_params = os.path.join(get_package_share_directory('arena_eval'), 'config',
                                  'default.yaml')
    return LaunchDescription([
        *(DeclareLaunchArgument(name, default_value=default_params if default is None
                                else default, description=description)
          for name, default, description in ARGUMENTS),
        OpaqueFunction(function=node_action),
    ])
