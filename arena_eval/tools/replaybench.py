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

1. a plain rosbags read of the same inputs' raw messages (the reading floor);
2. the streamed replay (`Replay.blocks`, as the CLI runs it: read, convert ROS 1 messages to
   CDR, decode each chunk in one compiled call, tick), median of rounds, end to end, and the
   time inside it spent in the compiled tick loop (`replay.core._replay_ticks`, kernel only):
   ticks per second and real-time factors (bag seconds per wall second);
3. the same tick semantics as a plain Python loop over the same decoded values (cursors,
   staleness, slot stores, `Batch.step`) over the first `BASELINE_TICKS` ticks, as a baseline
   measured in the same run; its outputs must be bit-identical to the compiled loop's (exit 1
   otherwise). test/test_replay.py checks replay against the node's own tick path;
4. one bag end to end as a fleet task runs it (open, read, tick, Parquet sink);
5. the same bag over MCAP (`over_mcap`; the target is stated over MCAP): a ROS 1 bag is copied
   once into a temporary rosbag2 MCAP folder of ROS 2 CDR (`mcap_copy`, replay's own
   conversion); a plain rosbags read of it, the native read (`replay.mcap` through
   `Bag.chunks`, with the open apart), the streamed replay end to end and kernel only, and the
   rows, which must be bit-identical to the bag's own (exit 1 otherwise);
6. `fleet()`: copies of the bag on 1 and 2 local workers (bags/s, messages/s, real-time factor
   per core); `memory(hours)` (`bench --replay-memory HOURS`): the peak RSS of a whole replay
   of a synthetic bag at 1 kHz, end to end, against `MEMORY_BOUND_MB`.

The target (>= 1000x real time at 1 kHz, end to end, over MCAP) is reported, never enforced.
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
TARGET_RTF = 1000.0
_HERE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BAG = os.path.join(_HERE, 'test', 'data', 'husky_imu_odom_gps.bag')
DEFAULT_PARAMS = os.path.join(_HERE, 'test', 'data', 'husky.yaml')


def python_ticks(replay, n_ticks):
    """
    Run the first `n_ticks` as a Python loop over the messages replay decodes for them.

    One window (`core.Reading.take`) covering the ticks; return the outputs per tick.
    """
    from ..params.config import build_batch

    batch = build_batch(replay.config)
    batch.input_valid[:] = 0.0
    reading = replay.reading()
    last = replay.t0_ns + (n_ticks - 1) * replay.period_ns
    while (horizon := reading.read()) is not None and horizon <= last:
        pass
    a = reading.take(last)
    # Plain lists: a Python loop indexing numpy arrays would time numpy's scalar boxing.
    times, msg_off, values, ok, val_off = (a[key].tolist() for key in (
        'times', 'msg_off', 'values', 'ok', 'val_off'))
    cursors = a['cursor'].tolist()
    out = np.empty((n_ticks, len(batch.outputs)))
    buffer, valid = batch.input_buffer, batch.input_valid
    dt = replay.period_ns / 1e9
    for k in range(n_ticks):
        now = replay.t0_ns + k * replay.period_ns
        for i, track in enumerate(reading.tracks):
            c = cursors[i]
            while c + 1 < msg_off[i + 1] and times[c + 1] <= now:
                c += 1
            cursors[i] = c
            # Received at the first tick at or after the log time (see replay.core).
            recv = replay.t0_ns - ((replay.t0_ns - times[c]) // replay.period_ns) * (
                replay.period_ns)
            fresh = c >= msg_off[i] and (track.timeout_ns == 0 or now - recv <= track.timeout_ns)
            at = val_off[i] + (c - msg_off[i]) * len(track.slots)
            for j, slot in enumerate(track.slots):
                if fresh and ok[at + j]:
                    buffer[slot] = values[at + j]
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
        replay = Replay(config, bag)
        replay.run()  # compiles on a cold cache, warms it otherwise
    except ReplayError as exc:
        say(f'error: {exc}')
        return 2
    bag_s = (replay.t_end_ns - replay.t0_ns) / 1e9
    n_msgs = sum(t.messages for t in replay.tracks)
    say(f'replay benchmark: {os.path.relpath(bag)} ({bag_s:.1f} s, {n_msgs} input messages), '
        f'{os.path.relpath(params_file)} ({len(replay.batch.outputs)} outputs, '
        f'{replay.batch.n_ops} ops), {replay.rate_hz:g} Hz: {replay.n_ticks} ticks')
    say(f'python {platform.python_version()}, numba {version("numba")}, '
        f'rosbags {version("rosbags")}, {platform.machine()}, {os.cpu_count()} CPUs, '
        f'{load_average()}')
    plain_s = plain_read(bag, replay)
    total_s, loop_s, best_s = streamed(replay)
    gc.disable()
    try:
        result = replay.run()
        n_base = min(BASELINE_TICKS, replay.n_ticks)
        start = time.perf_counter()
        baseline = python_ticks(replay, n_base)
        base_s = time.perf_counter() - start
    finally:
        gc.enable()
    read_s = total_s - loop_s
    compiled_rate = replay.n_ticks / loop_s
    python_rate = n_base / base_s
    rtf_loop = bag_s / loop_s
    rtf_total = bag_s / total_s
    say(f'  a plain rosbags read of the same messages (raw bytes, nothing else): {plain_s:.2f} s '
        f'({n_msgs / plain_s:,.0f} messages/s)')
    say(f'  reading + converting + decoding once (streamed): {read_s:.2f} s '
        f'({n_msgs / read_s:,.0f} messages/s); {plain_s / read_s:.2f}x the plain read')
    say(f'  compiled tick loop (kernel only): {loop_s * 1e3:.1f} ms median of {ROUNDS}: '
        f'{compiled_rate:,.0f} ticks/s, {rtf_loop:,.0f}x real time')
    say(f'  the same ticks as a Python loop ({n_base} ticks): {python_rate:,.0f} ticks/s, '
        f'{python_rate * replay.period_ns / 1e9:,.1f}x real time; compiled is '
        f'{compiled_rate / python_rate:,.1f}x faster')
    say(f'  end to end (reading + ticking, streamed): {total_s:.2f} s median of {ROUNDS} '
        f'(best {best_s:.2f}), {rtf_total:,.0f}x real time '
        f'(target >= {TARGET_RTF:g}x: {"met" if rtf_total >= TARGET_RTF else "MISSED"})')
    whole_s = end_to_end(params_file, bag)
    say(f'  end to end with the Parquet sink (open, read, tick, write; one core): '
        f'{whole_s:.2f} s, {bag_s / whole_s:,.0f}x real time; kernel-only loop '
        f'{rtf_loop:,.0f}x')
    n_results = result.values.shape[1]
    same = np.array_equal(baseline[:, :n_results].view(np.int64),
                          result.values[:n_base].view(np.int64))
    say(f'  compiled vs Python outputs over {n_base} ticks: '
        f'{"bit-identical" if same else "DIFFERENT"}')
    replay.close()
    as_mcap = over_mcap(config, bag, result, say)
    return 0 if same and as_mcap else 1


def streamed(replay):
    """Return (end to end, kernel only) seconds of a streamed replay: medians of `ROUNDS`."""
    times, ticks = [], []
    gc.disable()
    try:
        for _ in range(ROUNDS):
            start = time.perf_counter()
            for _ in replay.blocks():  # streamed, as the CLI runs it, rows dropped
                pass
            times.append(time.perf_counter() - start)
            ticks.append(replay.tick_s)
    finally:
        gc.enable()
    return statistics.median(times), statistics.median(ticks), min(times)


def over_mcap(config, bag, rows, say):
    """
    Replay the bag as rosbag2 MCAP (the target's terms): plain, native, end to end, kernel only.

    A ROS 1 bag is first copied, once, into a temporary rosbag2 MCAP folder of ROS 2 CDR
    (`mcap_copy`); an MCAP bag is used as it is. The copy's rows must be the bag's `rows`.
    Return whether they are.
    """
    import tempfile

    from ..replay.core import Replay

    with tempfile.TemporaryDirectory(prefix='arena_eval_mcap_') as scratch:
        if _is_mcap(bag):
            path, how = bag, 'as it is'
        else:
            path = mcap_copy(bag, os.path.join(scratch, 'bag'))
            how = 'copied to a rosbag2 MCAP folder of ROS 2 CDR (uncompressed)'
        replay = Replay(config, path)
        result = replay.run()  # warms the native reader's compiled code too
        bag_s = (replay.t_end_ns - replay.t0_ns) / 1e9
        n_msgs = sum(t.messages for t in replay.tracks)
        say(f'over MCAP ({how}): {bag_s:.1f} s, {n_msgs} input messages, '
            f'{replay.n_ticks} ticks')
        plain_s = plain_read(path, replay)
        native_s, chunks_s = native_read(path, replay)
        total_s, loop_s, best_s = streamed(replay)
        replay.close()
    say(f'  a plain rosbags read of the same messages (raw bytes, nothing else): {plain_s:.3f} s '
        f'({n_msgs / plain_s:,.0f} messages/s)')
    say(f'  the native MCAP read (replay.mcap: chunks as replay reads them): {native_s:.3f} s '
        f'({n_msgs / native_s:,.0f} messages/s), {plain_s / native_s:,.1f}x the plain read; '
        f'of it opening the bag (rosbags: metadata, types) {native_s - chunks_s:.3f} s, the '
        f'chunks {chunks_s:.3f} s ({n_msgs / chunks_s:,.0f} messages/s)')
    say(f'  compiled tick loop (kernel only): {loop_s * 1e3:.1f} ms median of {ROUNDS}: '
        f'{bag_s / loop_s:,.0f}x real time')
    rtf = bag_s / total_s
    say(f'  end to end (reading + decoding + ticking, streamed): {total_s:.3f} s median of '
        f'{ROUNDS} (best {best_s:.3f}), {rtf:,.0f}x real time '
        f'(target >= {TARGET_RTF:g}x over MCAP: {"MET" if rtf >= TARGET_RTF else "MISSED"})')
    same = (result.values.shape == rows.values.shape
            and np.array_equal(result.values.view(np.int64), rows.values.view(np.int64)))
    say(f'  rows over MCAP vs the bag\'s own: {"bit-identical" if same else "DIFFERENT"}')
    return same


def _is_mcap(bag):
    from pathlib import Path

    bag = Path(bag)
    return bag.suffix.lower() == '.mcap' or (bag.is_dir() and any(bag.glob('*.mcap')))


def mcap_copy(bag, folder):
    """
    Write every topic of `bag` into a rosbag2 MCAP folder, as the ROS 2 CDR replay reads.

    The messages are replay's own (`Bag.chunks`: ROS 1 converted by `source._ros1_converter`),
    written by rosbags' writer in log-time order; return the folder.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer

    from ..replay.source import normalize_type, open_bag, Selection

    with open_bag(bag) as opened:
        by_topic = {}
        for conn in opened.connections:
            by_topic.setdefault((conn.topic, normalize_type(conn.msgtype)), []).append(conn)
        sels = [Selection(topic, topic, name, tuple(conns))
                for (topic, name), conns in by_topic.items()]
        convert = opened.converter()
        store = convert.destination if convert is not None else opened.reader.typestore
        with Writer(folder, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            conns = [writer.add_connection(s.topic, s.type_name, typestore=store) for s in sels]
            for chunk in opened.chunks(sels):
                for k in range(len(chunk.log_ns)):
                    writer.write(conns[chunk.input[k]], int(chunk.log_ns[k]),
                                 chunk.message(k).tobytes())
    return folder


def native_read(bag, replay):
    """Return (seconds with the open, seconds of `Bag.chunks` alone) for the inputs' messages."""
    from ..replay.core import CHUNK_BYTES
    from ..replay.source import open_bag

    start = time.perf_counter()
    with open_bag(bag) as opened:
        selections = opened.select(replay.config, replay.remap)
        opened_at = time.perf_counter()
        for _ in opened.chunks(selections, end_ns=replay.t_end_ns, max_bytes=CHUNK_BYTES):
            pass
        read_s = time.perf_counter() - opened_at
    return time.perf_counter() - start, read_s


def plain_read(bag, replay):
    """Seconds for rosbags alone to hand over the inputs' raw messages (the reading floor)."""
    from ..replay.source import open_bag

    start = time.perf_counter()
    with open_bag(bag) as opened:
        conns = [c for sel in opened.select(replay.config, replay.remap)
                 for c in sel.connections]
        for _ in opened.reader.messages(connections=conns):
            pass
    return time.perf_counter() - start


def end_to_end(params_file, bag):
    """Seconds for one bag from opening to its Parquet partition closed (`fleet.replay_bag`)."""
    import tempfile

    from ..replay.fleet import replay_bag, Task

    with tempfile.TemporaryDirectory(prefix='arena_eval_bench_') as scratch:
        start = time.perf_counter()
        row = replay_bag(Task(str(bag), 'bench', os.path.abspath(params_file),
                              os.path.join(scratch, 'out.parquet')))
        elapsed = time.perf_counter() - start
    if row.error:
        raise RuntimeError(row.error)
    return elapsed


FLEET_COPIES = 4


def fleet(params_file=None, bag=None, copies=FLEET_COPIES, out=None):
    """
    Replay `copies` of the bag on 1 worker, then 2 (local processes): bags/s, messages/s.

    The real-time factor per core is bag seconds per wall second per worker.
    """
    import tempfile

    from ..replay.fleet import run_tasks, Task

    def say(text=''):
        print(text, file=out, flush=True)

    params_file = os.path.abspath(params_file or DEFAULT_PARAMS)
    bag = os.path.abspath(bag or DEFAULT_BAG)
    say(f'fleet benchmark: {copies} copies of {os.path.relpath(bag)}, one task per bag '
        f'(Parquet out), {load_average()}')
    with tempfile.TemporaryDirectory(prefix='arena_eval_fleet_') as scratch:
        paths = []
        for k in range(copies):
            path = os.path.join(scratch, f'bag{k}' + os.path.splitext(bag)[1])
            os.symlink(bag, path)
            paths.append(path)
        for workers in (1, 2):
            dataset = os.path.join(scratch, f'w{workers}.parquet')
            tasks = [Task(p, os.path.basename(p), params_file, dataset) for p in paths]
            start = time.perf_counter()
            rows = list(run_tasks(tasks, jobs=workers))
            wall = time.perf_counter() - start
            failed = [r for r in rows if r.error]
            if failed:
                say(f'  error: {failed[0].error}')
                return 1
            bag_s = sum(r.duration_s for r in rows)
            messages = sum(r.messages for r in rows)
            say(f'  {workers} worker{"s" if workers > 1 else " "}: {wall:6.2f} s, '
                f'{len(rows) / wall:5.2f} bags/s, {messages / wall:9,.0f} messages/s, '
                f'{bag_s / wall:7,.0f}x real time ({bag_s / wall / workers:,.0f}x per core)')
    say('  (figures are provisional on a loaded machine)')
    return 0


MEMORY_PARAMS = """\
arena_eval:
  ros__parameters:
    rate_hz: {rate}
    inputs:
      v: {{topic: /v, type: geometry_msgs/msg/Vector3Stamped, timeout: 0.01}}
    expressions:
      - "a = v.vector.x"
      - "b = hypot(v.vector.x, v.vector.y)"
      - "c = lowpass(v.vector.z, 0.05)"
      - "d = ddt_msg(v.vector.x)"
      - "stale = not fresh(v)"
"""


def memory(hours=2.0, rate_hz=1000.0, out=None):
    """
    Peak RSS of a whole replay, end to end, over a synthetic bag of `hours` at `rate_hz`.

    Writes an MCAP bag of `geometry_msgs/msg/Vector3Stamped` (a ramp, stamped) at `rate_hz`,
    then replays it as a fleet task does (`fleet.replay_bag`: open, read, decode, tick, the
    summary statistics, 5 outputs streamed into a Parquet dataset) at the same rate; prints the
    peak RSS (ru_maxrss, which includes writing the bag) against `MEMORY_BOUND_MB`.
    """
    import resource
    import tempfile

    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores

    from ..replay.fleet import replay_bag, Task

    def say(text=''):
        print(text, file=out, flush=True)

    def rss_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    n = int(hours * 3600 * rate_hz)
    period = round(1e9 / rate_hz)
    t0 = 1_700_000_000_000_000_000
    store = get_typestore(Stores.ROS2_KILTED)
    Vector3Stamped = store.types['geometry_msgs/msg/Vector3Stamped']
    Header = store.types['std_msgs/msg/Header']
    Time = store.types['builtin_interfaces/msg/Time']
    Vector3 = store.types['geometry_msgs/msg/Vector3']
    template = np.frombuffer(bytearray(store.serialize_cdr(
        Vector3Stamped(Header(Time(0, 0), 'imu'), Vector3(1.0, 2.0, 3.0)),
        'geometry_msgs/msg/Vector3Stamped')), np.uint8).copy()
    # The stamp (sec, nanosec) at bytes 4..12 after the CDR header, vector.x 8 bytes from the
    # end minus 16: patched per message rather than serialized (the writing is not measured).
    stamp = template[4:12].view(np.uint32)
    x = template[-24:-16].view(np.float64)
    with tempfile.TemporaryDirectory(prefix='arena_eval_mem_') as scratch:
        folder = os.path.join(scratch, 'long')
        start = time.perf_counter()
        with Writer(folder, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            conn = writer.add_connection('/v', 'geometry_msgs/msg/Vector3Stamped',
                                         typestore=store)
            for k in range(n):
                stamp[0], stamp[1] = divmod(k * period, 1_000_000_000)
                x[0] = k * 1e-3
                writer.write(conn, t0 + k * period, template.tobytes())
        write_s = time.perf_counter() - start
        size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
        say(f'replay memory: synthetic {hours:g} h bag at {rate_hz:g} Hz: {n:,} messages, '
            f'{size / 1e6:,.0f} MB MCAP (written in {write_s:.0f} s); '
            f'peak RSS so far {rss_mb():.0f} MB')
        params = os.path.join(scratch, 'memory.yaml')
        with open(params, 'w') as f:
            f.write(MEMORY_PARAMS.format(rate=rate_hz))
        start = time.perf_counter()
        row = replay_bag(Task(folder, 'long', params, os.path.join(scratch, 'rows.parquet')))
        replay_s = time.perf_counter() - start
        if row.error:
            say(f'  error: {row.error}')
            return 1
        peak = rss_mb()
        say(f'  replay end to end (open, read, decode, {row.ticks:,} ticks, 5 outputs into '
            f'Parquet, summary): {replay_s:.1f} s, {hours * 3600 / replay_s:,.0f}x real time; '
            f'peak RSS {peak:.0f} MB (bound {MEMORY_BOUND_MB} MB: '
            f'{"within" if peak <= MEMORY_BOUND_MB else "EXCEEDED"})')
    return 0 if peak <= MEMORY_BOUND_MB else 1


MEMORY_BOUND_MB = 300
