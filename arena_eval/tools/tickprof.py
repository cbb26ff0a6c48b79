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
Where a tick's time goes: `python -m arena_eval bench --tick-phases SECONDS`.

Runs the simulator as a process and the node in this process, and times each phase of every
tick (taking the messages, decoding them, copying fields into the arena, the kernel call,
publishing) by wrapping the phase methods of `node.Tick` and `node.Poller`, so the timed code
is the node's own. Prints mean, median and p99 per phase after a warm-up. The wrapping adds a
few `perf_counter_ns` calls per tick, so the total is a little above the node's own loop time.
"""

import sys
import threading
import time

import numpy as np

PHASES = ('take', 'decode + hand-over', 'copy into arena', 'kernel step', 'publish', 'total')
WARMUP_S = 2.0


def _instrument(node_module, samples, count):
    """Wrap Tick.__call__ and Poller.poll to record per-tick phase times into `samples`."""
    tick_class, poller_class = node_module.Tick, node_module.Poller
    original_poll = poller_class.poll
    clock = time.perf_counter_ns
    take_ns = [0]

    def timed_poll(self, now_ns):
        start = clock()
        raw = original_poll(self, now_ns)
        take_ns[0] += clock() - start
        return raw

    def timed_tick(self, now_ns, dt):
        take_ns[0] = 0
        t0 = clock()
        self.take_inputs(now_ns)
        t1 = clock()
        self.bindings.copy_latest(now_ns)
        t2 = clock()
        self._step(dt)
        t3 = clock()
        self.publish()
        t4 = clock()
        i = count[0]
        if i < len(samples):
            samples[i] = (take_ns[0], t1 - t0 - take_ns[0], t2 - t1, t3 - t2, t4 - t3, t4 - t0)
            count[0] = i + 1

    poller_class.poll = timed_poll
    tick_class.__call__ = timed_tick


def run(seconds, params_file=None, out=sys.stdout):
    """Profile the node's tick for `seconds` beside the simulator; return an exit code."""
    import rclpy

    from ..ros import node as node_module
    from . import procs
    from ..ros.config import default_params_file

    params_file = params_file or default_params_file()
    env = procs.ros_env()
    samples = np.zeros((int((seconds + 1) * 20000), len(PHASES)), np.int64)
    count = [0]
    _instrument(node_module, samples, count)
    stop = threading.Event()
    marks = {}
    timer = threading.Timer(seconds, stop.set)
    warm = threading.Timer(WARMUP_S, lambda: marks.setdefault('warm', count[0]))
    sim = procs.start('arena_eval.ros.sim', [], env)
    try:
        rclpy.init(args=['arena_eval_tickprof', '--ros-args', '--params-file', params_file])
        timer.start()
        warm.start()
        code = node_module.run_node([], stop)
    finally:
        timer.cancel()
        warm.cancel()
        rclpy.try_shutdown()
        procs.stop(sim)
    rows = samples[marks.get('warm', 0):count[0]] / 1000.0
    print(f'tick phases: node in-process beside the simulator, {params_file}, '
          f'{len(rows)} ticks after {WARMUP_S:g} s of warm-up (ROS_DOMAIN_ID '
          f"{env['ROS_DOMAIN_ID']})", file=out)
    print(f"{'phase':22s} {'mean us':>9s} {'p50 us':>9s} {'p99 us':>9s}", file=out)
    for i, name in enumerate(PHASES):
        column = rows[:, i] if len(rows) else np.zeros(1)
        print(f'{name:22s} {column.mean():9.1f} {np.median(column):9.1f} '
              f'{np.percentile(column, 99):9.1f}', file=out)
    return code if len(rows) else 1
