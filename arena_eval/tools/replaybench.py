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
The replay benchmark (`python -m arena_eval bench --replay`): ticks per second over a real bag.

On the test bag (`test/data/husky_imu_odom_gps.bag`, 395 s, ROS 1) with `test/data/husky.yaml`
(seven expressions over three inputs, shaped like `config/default.yaml`) at its rate_hz (1 kHz):

1. reading: the bag read, ROS 1 messages converted to CDR, each decoded once (seconds);
2. the compiled tick loop (`ros.replay._replay_ticks`): median of rounds over the whole bag,
   ticks per second and the real-time factor (bag seconds per wall second);
3. the same tick semantics as a plain Python loop over the same decoded values (cursors,
   staleness, slot stores, `Batch.step`) over the first `BASELINE_TICKS` ticks, as a baseline
   measured in the same run; its outputs must be bit-identical to the compiled loop's (exit 1
   otherwise). test/test_replay.py checks replay against the node's own tick path.

The target (>= 100x real time at 1 kHz, end to end) is reported, never enforced.
"""

import gc
from importlib.metadata import version
import os
import platform
import statistics
import time

import numpy as np

from .bench import load_average

BASELINE_TICKS = 20_000
ROUNDS = 5
TARGET_RTF = 100.0
_HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BAG = os.path.join(_HERE, 'test', 'data', 'husky_imu_odom_gps.bag')
DEFAULT_PARAMS = os.path.join(_HERE, 'test', 'data', 'husky.yaml')


def python_ticks(replay, n_ticks):
    """Run the first `n_ticks` as a Python loop over the decoded tracks; return the outputs."""
    from ..params.config import build_batch

    batch = build_batch(replay.config)
    batch.input_valid[:] = 0.0
    tracks = replay.load()
    cursors = [-1] * len(tracks)
    out = np.empty((n_ticks, len(batch.outputs)))
    buffer, valid = batch.input_buffer, batch.input_valid
    dt = replay.period_ns / 1e9
    for k in range(n_ticks):
        now = replay.t0_ns + k * replay.period_ns
        for i, track in enumerate(tracks):
            c = cursors[i]
            while c + 1 < len(track.times) and track.times[c + 1] <= now:
                c += 1
            cursors[i] = c
            # Received at the first tick at or after the log time (see ros.replay).
            recv = replay.t0_ns - ((replay.t0_ns - int(track.times[c])) // replay.period_ns) * (
                replay.period_ns)
            fresh = c >= 0 and (track.timeout_ns == 0 or now - recv <= track.timeout_ns)
            for j, slot in enumerate(track.slots):
                if fresh and track.ok[c, j]:
                    buffer[slot] = track.values[c, j]
                    valid[slot] = 1.0
                else:
                    valid[slot] = 0.0
        batch.step(dt)
        out[k] = batch.output_buffer
    return out


def run(params_file=None, bag=None, out=None):
    """Print the benchmark; return 0, or 1 when the compiled and Python ticks disagree."""
    from ..params import config as cfg
    from ..replay.core import Replay, ReplayError

    def say(text=''):
        print(text, file=out, flush=True)

    params_file = params_file or DEFAULT_PARAMS
    bag = bag or DEFAULT_BAG
    config, errors, _ = cfg.load_params_file(params_file)
    if errors:
        for error in errors:
            say(error.one_line())
        return 2
    try:
        start = time.perf_counter()
        replay = Replay(config, bag)
        replay.load()
        read_s = time.perf_counter() - start
    except ReplayError as exc:
        say(f'error: {exc}')
        return 2
    bag_s = (replay.t_end_ns - replay.t0_ns) / 1e9
    n_msgs = sum(len(t.times) for t in replay.tracks)
    say(f'replay benchmark: {os.path.relpath(bag)} ({bag_s:.1f} s, {n_msgs} input messages), '
        f'{os.path.relpath(params_file)} ({len(replay.batch.outputs)} outputs, '
        f'{replay.batch.n_ops} ops), {replay.rate_hz:g} Hz: {replay.n_ticks} ticks')
    say(f'python {platform.python_version()}, numba {version("numba")}, '
        f'rosbags {version("rosbags")}, {platform.machine()}, {os.cpu_count()} CPUs, '
        f'{load_average()}')
    say(f'  reading + converting + decoding once: {read_s:.2f} s '
        f'({n_msgs / read_s:,.0f} messages/s)')
    replay.run()  # compiles on a cold cache, warms it otherwise
    gc.disable()
    try:
        times = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            result = replay.run()
            times.append(time.perf_counter() - start)
        n_base = min(BASELINE_TICKS, replay.n_ticks)
        start = time.perf_counter()
        baseline = python_ticks(replay, n_base)
        base_s = time.perf_counter() - start
    finally:
        gc.enable()
    loop_s = statistics.median(times)
    compiled_rate = replay.n_ticks / loop_s
    python_rate = n_base / base_s
    rtf_loop = bag_s / loop_s
    rtf_total = bag_s / (read_s + loop_s)
    say(f'  compiled tick loop: {loop_s * 1e3:.1f} ms median of {ROUNDS} '
        f'(best {min(times) * 1e3:.1f}): {compiled_rate:,.0f} ticks/s, '
        f'{rtf_loop:,.0f}x real time')
    say(f'  the same ticks as a Python loop ({n_base} ticks): {python_rate:,.0f} ticks/s, '
        f'{python_rate * replay.period_ns / 1e9:,.1f}x real time; compiled is '
        f'{compiled_rate / python_rate:,.1f}x faster')
    say(f'  end to end (reading + ticking): {read_s + loop_s:.2f} s, {rtf_total:,.0f}x real time '
        f'(target >= {TARGET_RTF:g}x: {"met" if rtf_total >= TARGET_RTF else "MISSED"})')
    n_results = result.values.shape[1]
    same = np.array_equal(baseline[:, :n_results].view(np.int64),
                          result.values[:n_base].view(np.int64))
    say(f'  compiled vs Python outputs over {n_base} ticks: '
        f'{"bit-identical" if same else "DIFFERENT"}')
    replay.close()
    return 0 if same else 1
