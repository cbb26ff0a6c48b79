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
The launch files build with the standard launch_ros API, and the demo one runs.

Skipped where `launch_ros` is not installed (it is not on PyPI). The package is looked up
through a real ament index: a temporary install prefix holding the resource marker, the
default config and the two executables, as `colcon build` would install them.
"""

import asyncio
import importlib.util
import math
import os
from pathlib import Path
import shutil
import sys
import threading
import time

import pytest
import yaml

launch = pytest.importorskip('launch')
launch_ros = pytest.importorskip('launch_ros')

PACKAGE = Path(__file__).resolve().parent.parent
LAUNCH_DIR = PACKAGE / 'launch'
EXECUTABLES = {'arena_eval_node': 'arena_eval.ros.main', 'arena_eval_sim': 'arena_eval.ros.sim'}


@pytest.fixture
def prefix(tmp_path, monkeypatch):
    """Make an install prefix with arena_eval in its ament index, first on AMENT_PREFIX_PATH."""
    root = tmp_path / 'install'
    index = root / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True)
    (index / 'arena_eval').write_text('')
    share = root / 'share' / 'arena_eval'
    shutil.copytree(PACKAGE / 'config', share / 'config')
    lib = root / 'lib' / 'arena_eval'
    lib.mkdir(parents=True)
    for name, module in EXECUTABLES.items():
        script = lib / name
        script.write_text(f'#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(PACKAGE)!r})\n'
                          f'from {module} import main\nsys.exit(main())\n')
        script.chmod(0o755)
    monkeypatch.setenv('AMENT_PREFIX_PATH', os.pathsep.join(
        [str(root)] + [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
                       if p]))
    return root


def launch_module(name):
    spec = importlib.util.spec_from_file_location(name.replace('.', '_'), LAUNCH_DIR / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name):
    return launch_module(name).generate_launch_description()


def arguments(description, context):
    from launch.actions import DeclareLaunchArgument
    from launch.utilities import perform_substitutions
    return {a.name: perform_substitutions(context, a.default_value)
            for a in description.entities if isinstance(a, DeclareLaunchArgument)}


def nodes(description, **given):
    """Return the Node actions `description` makes for the launch arguments `given`."""
    from launch_ros.actions import Node
    return [n for n in entities(description, **given) if isinstance(n, Node)]


def entities(description, **given):
    """Return the actions `description` makes for the launch arguments `given`."""
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument, OpaqueFunction
    from launch_ros.actions import Node
    context = LaunchContext()
    context.launch_configurations.update(given)
    found = []
    for entity in description.entities:
        if isinstance(entity, DeclareLaunchArgument):
            entity.execute(context)  # sets the default of an argument not given
        elif isinstance(entity, OpaqueFunction):
            found.extend(entity.execute(context) or ())
        elif isinstance(entity, Node):
            found.append(entity)
    for node in found:
        if isinstance(node, Node):
            node._perform_substitutions(context)
    return found


def parameter_files(node):
    """Read back the node's params files in command-line order (launch_ros writes dicts)."""
    return [Path(path).read_text() for path, is_file in node._Node__expanded_parameter_arguments
            if is_file]


def test_node_launch_file_builds(prefix):
    from launch import LaunchContext
    from launch_ros.actions import LifecycleNode
    description = load('arena_eval.launch.py')
    args = arguments(description, LaunchContext())
    default = str(prefix / 'share' / 'arena_eval' / 'config' / 'default.yaml')
    assert args == {'params_file': default, 'node_name': 'arena_eval', 'namespace': '',
                    'use_sim_time': '', 'rate_hz': '', 'log_level': 'info', 'remappings': '',
                    'lifecycle': 'false', 'autostart': 'true'}
    [node] = nodes(description)
    assert not isinstance(node, LifecycleNode)  # the plain node is the default
    assert (node.node_package, node.node_executable) == ('arena_eval', 'arena_eval_node')
    assert node.node_name == '/arena_eval'
    assert len(parameter_files(node)) == 1  # nothing given: the file alone decides


def test_node_launch_arguments_reach_the_node(prefix):
    description = load('arena_eval.launch.py')
    [node] = nodes(description, namespace='robot1', node_name='tip_monitor',
                   use_sim_time='true', rate_hz='500', log_level='debug',
                   remappings='/imu:=/robot1/imu; /joint_states:=js')
    assert node.node_name == '/robot1/tip_monitor'
    assert node.expanded_remapping_rules == [('/imu', '/robot1/imu'),
                                             ('/joint_states', 'js')]
    # The given parameters come after the file, under the node's name: they win.
    default, given = parameter_files(node)
    assert default.startswith('#') and '/**:' in default
    assert yaml.safe_load(given) == {'/robot1/tip_monitor': {'ros__parameters': {
        'use_sim_time': True, 'rate_hz': 500.0}}}
    texts = [part.text for sub in node.cmd for part in sub if hasattr(part, 'text')]
    assert texts[:4] == ['--ros-args', '--log-level', 'debug', '--ros-args'], texts


def test_lifecycle_launches_a_managed_node(prefix):
    from launch.actions import EmitEvent, RegisterEventHandler
    from launch_ros.actions import LifecycleNode
    description = load('arena_eval.launch.py')
    node_launch = launch_module('arena_eval.launch.py')
    found = entities(description, lifecycle='true')
    [node] = [n for n in found if isinstance(n, LifecycleNode)]
    assert node.node_name == '/arena_eval'
    # lifecycle reaches the node as the read-only parameter, after the file.
    _, given = parameter_files(node)
    assert yaml.safe_load(given) == {'/arena_eval': {'ros__parameters': {'lifecycle': True}}}
    if node_launch.has_autostart():
        assert node.node_autostart and len(found) == 1
    else:
        # configure at launch, then activate once it is inactive.
        assert [type(e) for e in found[1:]] == [RegisterEventHandler, EmitEvent]
    plain = entities(description, lifecycle='true', autostart='false')
    assert len(plain) == 1 and not getattr(plain[0], 'node_autostart', False)


def test_node_launch_refuses_a_bad_flag(prefix):
    with pytest.raises(ValueError, match="lifecycle must be 'true' or 'false', got 'yes'"):
        nodes(load('arena_eval.launch.py'), lifecycle='yes')


def test_node_launch_refuses_a_bad_remapping(prefix):
    with pytest.raises(ValueError, match="remappings: 'imu' is not a 'from:=to' rule"):
        nodes(load('arena_eval.launch.py'), remappings='imu')


def test_demo_launch_file_builds(prefix):
    from launch import LaunchContext
    description = load('demo.launch.py')
    args = arguments(description, LaunchContext())
    assert Path(args['params_file']).is_file()
    assert float(args['sim_rate_hz']) == 1000.0
    executables = sorted(n.node_executable for n in nodes(description))
    assert executables == ['arena_eval_node', 'arena_eval_sim']


def test_demo_launch_in_a_namespace(prefix):
    sim, node = nodes(load('demo.launch.py'), namespace='robot1')
    assert sim.node_name == '/robot1/arena_eval_sim'
    assert node.node_name == '/robot1/arena_eval'
    assert node.expanded_remapping_rules == [('/imu', '/robot1/imu'),
                                             ('/joint_states', '/robot1/joint_states')]


@pytest.mark.slow
@pytest.mark.ros
@pytest.mark.parametrize('lifecycle', ['false', 'true'])
def test_demo_launch_runs_and_stops(prefix, lifecycle):
    """The demo runs; as a managed node, autostart configures and activates it."""
    from launch.actions import SetLaunchConfiguration
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import Float64MultiArray

    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f'launch_probe_{os.getpid()}', context=context)
    received = []
    node.create_subscription(Float64MultiArray, '/arena_eval/results',
                             lambda m: received.append(m), 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.05)

    def fresh():
        return any(not math.isnan(m.data[0]) for m in received[-5:])

    async def run_until_results(service):
        task = asyncio.ensure_future(service.run_async())
        end = time.monotonic() + 60.0
        while time.monotonic() < end and not fresh() and not task.done():
            await asyncio.sleep(0.1)
        # Judged before the shutdown: once the simulator stops, the inputs go stale (nan).
        seen = fresh()
        await service.shutdown()
        return await task, seen

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    service = launch.LaunchService(argv=[])
    # Set before the description: its DeclareLaunchArgument keeps a value already given.
    service.include_launch_description(launch.LaunchDescription([
        SetLaunchConfiguration('lifecycle', lifecycle), load('demo.launch.py')]))
    loop = asyncio.new_event_loop()
    try:
        # LaunchService runs only in the main thread; the probe spins in its own.
        code, seen = loop.run_until_complete(run_until_results(service))
    finally:
        loop.close()
        stop.set()
        spinner.join(2.0)
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
    assert seen, 'no results from the launched node'
    last = next(m for m in reversed(received) if not math.isnan(m.data[0]))
    assert last.layout.dim[0].label.startswith('accel_norm,')
    assert last.data[0] == pytest.approx(9.81, abs=0.2)
    assert code == 0
