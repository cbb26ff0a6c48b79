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
Starting and stopping arena_eval's own processes (node, simulator) for tests, demo and benchmarks.

One place for the stop sequence the project promises everywhere: SIGINT, wait, then SIGKILL by pid,
so no caller leaves a process behind.

>>> env = ros_env(domain_id=42)
>>> with running('arena_eval.ros.sim', [], env) as sim:  # doctest: +SKIP
...     pass  # the simulator publishes /imu and /joint_states until the block ends
"""

from contextlib import contextmanager
import os
import random
import signal
import subprocess
import sys


def ros_env(domain_id=None, base=None):
    """
    Return a copy of the environment with DDS kept on loopback and the given ROS_DOMAIN_ID.

    Without `domain_id`, keep the caller's ROS_DOMAIN_ID, or pick a random one in 1..100 so
    concurrent runs on one machine do not hear each other.
    """
    env = dict(os.environ if base is None else base)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if domain_id is not None:
        env['ROS_DOMAIN_ID'] = str(domain_id)
    else:
        env.setdefault('ROS_DOMAIN_ID', str(random.randint(1, 100)))
    env.setdefault('PYTHONUNBUFFERED', '1')
    return env


def start(module, args=(), env=None, **popen_kw):
    """Start `python -m module args` with this interpreter (the venv's, when run from it)."""
    return subprocess.Popen([sys.executable, '-m', module, *map(str, args)],
                            env=env if env is not None else ros_env(), **popen_kw)


def stop(proc, timeout=2.0):
    """Stop `proc`: SIGINT, wait up to `timeout` s, then SIGKILL by pid. Return its exit code."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    return proc.returncode


@contextmanager
def running(module, args=(), env=None, timeout=2.0, **popen_kw):
    """Run a module as a process for the duration of a `with` block, then `stop` it."""
    proc = start(module, args, env, **popen_kw)
    try:
        yield proc
    finally:
        stop(proc, timeout)
