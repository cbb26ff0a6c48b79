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

Runs the simulator as a process and the node in this process with the tick's timing hook
(`arena_eval.ros.tick.PhaseTimes`): every tick records how long each phase took (taking the
messages, decoding them, copying fields into the arena, the kernel call, publishing), running
the node's own phase methods. Prints mean, median and p99 per phase after a warm-up. The clock
reads add a few `perf_counter_ns` calls per tick, so the total is a little above the node's
own loop time.
"""

import sys
import threading

import numpy as np

WARMUP_S = 2.0


def run(seconds, params_file=None, out=sys.stdout):
    """Profile the node's tick for `seconds` beside the simulator; return an exit code."""
    import rclpy

    from . import procs
    from ..params.config import default_params_file
    from ..ros.node import run_node
    from ..ros.tick import PhaseTimes

    params_file = params_file or default_params_file()
    env = procs.ros_env()
    phases = PhaseTimes(int((seconds + 1) * 20000))
    stop = threading.Event()
    marks = {}
    timer = threading.Timer(seconds, stop.set)
    warm = threading.Timer(WARMUP_S, lambda: marks.setdefault('warm', phases.count))
    sim = procs.start('arena_eval.ros.sim', [], env)
    try:
        rclpy.init(args=['arena_eval_tickprof', '--ros-args', '--params-file', params_file])
        timer.start()
        warm.start()
        code = run_node([], stop, phases=phases)
    finally:
        timer.cancel()
        warm.cancel()
        rclpy.try_shutdown()
        procs.stop(sim)
    rows = phases.samples[marks.get('warm', 0):phases.count] / 1000.0
    print(f'tick phases: node in-process beside the simulator, {params_file}, '
          f'{len(rows)} ticks after {WARMUP_S:g} s of warm-up (ROS_DOMAIN_ID '
          f"{env['ROS_DOMAIN_ID']})", file=out)
    print(f"{'phase':22s} {'mean us':>9s} {'p50 us':>9s} {'p99 us':>9s}", file=out)
    for i, name in enumerate(PhaseTimes.NAMES):
        column = rows[:, i] if len(rows) else np.zeros(1)
        print(f'{name:22s} {column.mean():9.1f} {np.median(column):9.1f} '
              f'{np.percentile(column, 99):9.1f}', file=out)
    return code if len(rows) else 1
