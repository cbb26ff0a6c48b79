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


def load(name):
    spec = importlib.util.spec_from_file_location(name.replace('.', '_'), LAUNCH_DIR / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


def arguments(description, context):
    from launch.actions import DeclareLaunchArgument
    from launch.utilities import perform_substitutions
    return {a.name: perform_substitutions(context, a.default_value)
            for a in description.entities if isinstance(a, DeclareLaunchArgument)}


def nodes(description):
    from launch_ros.actions import Node
    return [e for e in description.entities if isinstance(e, Node)]


def test_node_launch_file_builds(prefix):
    from launch import LaunchContext
    description = load('arena_eval.launch.py')
    args = arguments(description, LaunchContext())
    assert args['params_file'] == str(prefix / 'share' / 'arena_eval' / 'config' /
                                      'default.yaml')
    assert 'loop_mode' not in args
    assert args['namespace'] == ''
    [node] = nodes(description)
    assert (node.node_package, node.node_executable) == ('arena_eval', 'arena_eval_node')


def test_demo_launch_file_builds(prefix):
    from launch import LaunchContext
    description = load('demo.launch.py')
    args = arguments(description, LaunchContext())
    assert Path(args['params_file']).is_file()
    assert float(args['sim_rate_hz']) == 1000.0
    executables = sorted(n.node_executable for n in nodes(description))
    assert executables == ['arena_eval_node', 'arena_eval_sim']


@pytest.mark.slow
@pytest.mark.ros
def test_demo_launch_runs_and_stops(prefix):
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
        await service.shutdown()
        return await task

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    service = launch.LaunchService(argv=[])
    service.include_launch_description(load('demo.launch.py'))
    loop = asyncio.new_event_loop()
    try:
        # LaunchService runs only in the main thread; the probe spins in its own.
        code = loop.run_until_complete(run_until_results(service))
    finally:
        loop.close()
        stop.set()
        spinner.join(2.0)
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()
    assert fresh(), 'no results from the launched node'
    assert received[-1].layout.dim[0].label.startswith('accel_norm,')
    assert received[-1].data[0] == pytest.approx(9.81, abs=0.2)
    assert code == 0
