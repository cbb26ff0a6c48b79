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
The replay front end: a params file over a recorded bag, written as CSV, a bag, a plot, a summary.

    python -m arena_eval replay run.bag --params config/robot.yaml            # summary table
    python -m arena_eval replay run_mcap/ --params robot.yaml --out results.csv
    python -m arena_eval replay run.db3 --params robot.yaml --out results.mcap --plot out.png
    arena_eval_replay run.bag --params robot.yaml --start 10 --duration 30 --remap imu=/imu/raw

The replay itself (bag reading, decoding, the compiled tick loop) is `arena_eval.replay.core`.
Outputs: `.csv` (time in seconds from the bag's start, then one column per output in batch
order, values printed exactly: `%.17g`); `.mcap` (one MCAP file) or any other path (a rosbag2
folder, sqlite3 storage) holding `/arena_eval/results` (`std_msgs/msg/Float64MultiArray`, the
node's `~/results` bytes) and, with `publish_individual`, `/arena_eval/out/<name>`, stamped with
the bag's log time. Without `--out`, a summary.
User errors (bag, topic, type, time range, arguments, params file) print one `error:` line (or
the params file's `file:line:col: error:` lines) and exit with code 2.
"""

import argparse
import difflib
import os
import shutil
import sys
import tempfile

EXIT_OK = 0
EXIT_USAGE = 2
RESULTS_TOPIC = '/arena_eval/results'
RESULTS_TYPE = 'std_msgs/msg/Float64MultiArray'
OUT_PREFIX = '/arena_eval/out/'
# Bag time covered before a progress bar is worth showing.
PROGRESS_MIN_S = 5.0


class UsageError(Exception):
    """A command-line mistake found after parsing: one `error:` line, exit code 2."""


def add_arguments(parser):
    """Add replay's arguments to `parser` (`python -m arena_eval replay` and the script)."""
    parser.add_argument('bag', help='ROS 1 .bag, rosbag2 folder, or a .db3 / .mcap file')
    parser.add_argument('--params', required=True, metavar='FILE',
                        help='the params file the node would run with')
    parser.add_argument('--out', metavar='OUT',
                        help='results.csv, results.mcap, or a rosbag2 folder to create '
                             '(sqlite3); without it, print a summary')
    parser.add_argument('--plot', metavar='PNG', help='plot every output over time into PNG')
    parser.add_argument('--plot-group', action='append', default=[], metavar='A,B,...',
                        help='outputs sharing one panel of the plot (repeatable)')
    parser.add_argument('--rate', type=float, metavar='HZ',
                        help="ticks per second (default: the params file's rate_hz)")
    parser.add_argument('--start', type=float, default=None, metavar='S',
                        help="seconds from the bag's start to the first tick (default 0)")
    parser.add_argument('--duration', type=float, default=None, metavar='S',
                        help='seconds to replay (default: to the end of the bag)')
    parser.add_argument('--remap', action='append', default=[], metavar='INPUT=TOPIC',
                        help="read INPUT from TOPIC instead of the params file's topic")
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    return parser


def _remaps(pairs):
    remap = {}
    for pair in pairs:
        name, sep, topic = pair.partition('=')
        if not sep or not name.strip() or not topic.strip():
            raise UsageError(f'--remap {pair}: expected INPUT=TOPIC')
        remap[name.strip()] = topic.strip()
    return remap


def _groups(specs, outputs):
    """Panels of the plot: the groups given, then one panel per output in no group."""
    panels, used = [], set()
    for spec in specs:
        names = [n.strip() for n in spec.split(',') if n.strip()]
        for name in names:
            if name not in outputs:
                close = difflib.get_close_matches(name, outputs, n=1)
                hint = f"did you mean '{close[0]}'?" if close else 'outputs: ' + ', '.join(
                    outputs)
                raise UsageError(f"--plot-group: no output '{name}' ({hint})")
        if names:
            panels.append(names)
            used.update(names)
    panels.extend([name] for name in outputs if name not in used)
    return panels


class _Progress:
    """A tqdm bar on stderr, or nothing (quiet, or stderr not a terminal)."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.bar = None

    def start(self, total, desc, unit):
        self.close()
        if self.enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # a nicety: replay works without it
                self.enabled = False
                return self.update
            self.bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, file=sys.stderr,
                            leave=False, dynamic_ncols=True)
        return self.update

    def update(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args):
    """Run the `replay` command from parsed `args`; return the exit code."""
    from ..params import config as cfg
    from ..replay.core import Replay, ReplayError

    try:
        _require('rosbags', 'reading bags')
        if args.plot:
            _require('matplotlib', '--plot')
        remap = _remaps(args.remap)
        config, errors, warnings = cfg.load_params_file(args.params)
        if errors:
            for error in errors:
                print(error.one_line(), file=sys.stderr)
            return EXIT_USAGE
        for warning in warnings:
            print(warning.one_line(), file=sys.stderr)
        batch = cfg.build_batch(config)
        panels = (_groups(args.plot_group, list(batch.outputs[:len(config.expressions)]))
                  if args.plot else None)
        out_kind = output_kind(args.out) if args.out else None
        if args.out and os.path.exists(args.out):
            raise UsageError(f'--out {args.out}: exists already; not overwriting')
        replay = Replay(config, args.bag, rate_hz=args.rate, start=args.start,
                        duration=args.duration, remap=remap, batch=batch)
    except (ReplayError, UsageError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return EXIT_USAGE
    try:
        span_s = (replay.t_end_ns - replay.t0_ns) / 1e9
        progress = _Progress(not args.quiet and sys.stderr.isatty() and span_s >= PROGRESS_MIN_S)
        try:
            n_messages = sum(c.msgcount for c in replay.reader.connections
                             if c.topic in {replay_topic(replay, n) for n in config.inputs})
            replay.load(progress.start(n_messages, 'reading', 'msg'))
            result = replay.run(progress.start(replay.n_ticks, 'ticking', 'tick'))
        except ReplayError as exc:
            print(f'error: {exc}', file=sys.stderr)
            return EXIT_USAGE
        finally:
            progress.close()
        for track in result.tracks:
            if track.ignored:
                print(f"warning: topic '{track.topic}' also has messages of type {track.ignored}"
                      f'; input {track.name} reads only {track.type_name}', file=sys.stderr)
        if out_kind == 'csv':
            write_csv(args.out, result)
        elif out_kind is not None:
            for line in write_bag(args.out, result, storage=out_kind,
                                  individual=config.publish_individual, typed=config.outputs,
                                  batch=batch):
                print(line, file=sys.stderr)
        if args.plot:
            plot(args.plot, result, panels, batch)
        if not args.out:
            print(summary(result, replay, args.bag))
    finally:
        replay.close()
    return EXIT_OK


def _require(module, what):
    import importlib.util
    if importlib.util.find_spec(module) is None:
        raise UsageError(f'{what} needs the Python package {module}: pip install {module}')


def replay_topic(replay, name):
    from ..replay.core import topic_name
    return topic_name((replay.remap or {}).get(name, replay.config.inputs[name].topic))


def output_kind(path):
    """'csv', 'mcap' (one MCAP file) or 'sqlite3' (a rosbag2 folder) for an `--out` path."""
    lower = path.lower()
    if lower.endswith('.csv'):
        return 'csv'
    if lower.endswith('.mcap'):
        return 'mcap'
    if lower.endswith('.db3'):
        raise UsageError(f'--out {path}: give a folder name for a rosbag2 sqlite3 bag '
                         '(or a .mcap file)')
    return 'sqlite3'


# ----- outputs -----------------------------------------------------------------------------------

def write_csv(path, result):
    """Time (s from the bag's start), then the outputs; exact values (`%.17g`), `nan` as is."""
    import numpy as np

    header = ','.join(('time',) + result.outputs)
    table = np.empty((len(result.times_ns), 1 + len(result.outputs)))
    table[:, 0] = result.times_ns / 1e9
    table[:, 1:] = result.values
    fmt = ['%.9f'] + ['%.17g'] * len(result.outputs)
    np.savetxt(path, table, fmt=fmt, delimiter=',', header=header, comments='')


def write_bag(path, result, storage='sqlite3', individual=False, typed=None, batch=None):
    """
    Write what the node publishes, at every tick's bag time: a rosbag2 folder or one MCAP file.

    `/arena_eval/results` always; with `individual` (the config's `publish_individual`) also
    `/arena_eval/out/<name>` (`std_msgs/msg/Float64`) per output; each of `typed` (the config's
    typed outputs, over `batch`) on its topic, on the ticks the node would publish it. The bytes
    come from the node's own templates (`ros.tick`, `ros.templates`), patched as the node does.
    Return warning lines (a typed output whose type rosbags cannot store).
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores

    from ..msgtypes.templates import float64_template, results_template

    typestore = get_typestore(Stores.ROS2_KILTED)
    raw, view = results_template(result.outputs)
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    # A single .mcap is written as a one-file rosbag2 folder, then moved out of it.
    folder = (tempfile.mkdtemp(prefix='arena_eval_replay_', dir=os.path.dirname(
        os.path.abspath(path))) + '/bag') if storage == 'mcap' else path
    stamps = (result.times_ns + result.bag_start_ns).tolist()
    with Writer(folder, version=9, storage_plugin=plugin) as writer:
        conn = writer.add_connection(RESULTS_TOPIC, RESULTS_TYPE, typestore=typestore)
        singles = []
        if individual:
            for j, name in enumerate(result.outputs):
                one_raw, one_view = float64_template()
                singles.append((j, one_raw, one_view, writer.add_connection(
                    f'{OUT_PREFIX}{name}', 'std_msgs/msg/Float64', typestore=typestore)))
        outputs, arena, warnings = _typed_writers(writer, typestore, typed or {}, batch)
        values = result.values
        for k, stamp in enumerate(stamps):
            row = values[k]
            view[:] = row
            writer.write(conn, stamp, bytes(raw))
            for j, one_raw, one_view, one_conn in singles:
                one_view[0] = row[j]
                writer.write(one_conn, stamp, bytes(one_raw))
            if outputs:
                arena[result.record_slots] = result.recorded[k]
                for output, clock in outputs:
                    clock[0] = stamp
                    output.tick()
    if storage == 'mcap':
        shutil.move(os.path.join(folder, 'bag.mcap'), path)
        shutil.rmtree(os.path.dirname(folder))
    return warnings


def _typed_writers(writer, typestore, typed, batch):
    """
    Return ([(TypedOutput writing to the bag, its clock cell)], arena, warnings) for `typed`.

    The templates read `arena`, an arena-sized scratch array the caller fills per tick from
    the replay's recorded slots.
    """
    import numpy as np

    from ..msgtypes.templates import TypedOutput
    from ..params.config import NODE_NAME

    outputs, warnings = [], []
    arena = np.zeros(len(batch.arena)) if typed else None
    for config in typed.values():
        topic = config.topic
        if topic.startswith('~'):
            topic = f'/{NODE_NAME}' + topic[1:]
        elif not topic.startswith('/'):
            topic = '/' + topic
        try:
            conn = writer.add_connection(topic, config.type_name, typestore=typestore)
        except Exception as exc:  # noqa: B902 - rosbags has no definition of this type
            warnings.append(f'warning: typed output {config.name} ({config.type_name}) is not '
                            f'written: {exc}')
            continue
        clock = [0]  # the tick's bag time, for the write and for a stamp of 'now'

        def publisher_for(raw, conn=conn, clock=clock):
            return lambda: writer.write(conn, clock[0], bytes(raw))

        output = TypedOutput(config, batch, publisher_for, now=lambda c=clock: c[0], topic=topic)
        output.template.bind(arena)
        outputs.append((output, clock))
    return outputs, arena, warnings


def summary(result, replay, bag):
    """Return the table printed without `--out` (outputs: min/mean/max/nan; inputs: stale)."""
    import numpy as np

    ticks = len(result.times_ns)
    period_s = result.period_ns / 1e9
    lines = [f'{bag}: {ticks} ticks at {1e9 / result.period_ns:g} Hz, '
             f'{result.times_ns[0] / 1e9:.3f} .. {result.times_ns[-1] / 1e9:.3f} s from the '
             f'bag start']
    width = max([len('output')] + [len(n) for n in result.outputs])
    lines.append('')
    lines.append(f"{'output':<{width}}  {'min':>12}  {'mean':>12}  {'max':>12}  {'nan':>9}")
    for j, name in enumerate(result.outputs):
        column = result.values[:, j]
        finite = column[~np.isnan(column)]
        nan = ticks - finite.size
        if finite.size:
            low, mean, high = (f'{v:12.6g}' for v in (finite.min(), finite.mean(), finite.max()))
        else:
            low = mean = high = f"{'-':>12}"
        lines.append(f'{name:<{width}}  {low}  {mean}  {high}  {nan:>9}')
    width = max([len('input')] + [len(t.name) for t in result.tracks])
    lines.append('')
    lines.append(f"{'input':<{width}}  {'topic':<32}  {'messages':>8}  {'stale s':>9}  "
                 f"{'stale %':>7}")
    for i, track in enumerate(result.tracks):
        stale = ticks - int(result.fresh[:, i].sum())
        note = f'  ({track.undecodable} undecodable)' if track.undecodable else ''
        lines.append(f'{track.name:<{width}}  {track.topic:<32}  {track.messages:>8}  '
                     f'{stale * period_s:>9.3f}  {100.0 * stale / ticks:>7.2f}{note}')
    return '\n'.join(lines)


def _stale_mask(result, batch, names):
    """Ticks on which an input of any output in `names` was stale (or had no message yet)."""
    import numpy as np

    roots = set()
    for name in names:
        roots.update(path.split('.')[0].split('[')[0] for path in batch.output_inputs[name])
    columns = [i for i, name in enumerate(result.inputs) if name in roots]
    if not columns:
        return np.zeros(len(result.times_ns), bool), ()
    return (result.fresh[:, columns] == 0).any(axis=1), tuple(result.inputs[i] for i in columns)


def plot(path, result, panels, batch):
    """Plot one panel per group of outputs over time, shading spans where an input was stale."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    t = result.times_ns / 1e9
    index = {name: j for j, name in enumerate(result.outputs)}
    fig, axes = plt.subplots(len(panels), 1, sharex=True, squeeze=False,
                             figsize=(11, 1.9 * len(panels) + 1.0))
    for ax, names in zip(axes[:, 0], panels, strict=True):
        for name in names:
            ax.plot(t, result.values[:, index[name]], linewidth=0.8, label=name)
        stale, inputs = _stale_mask(result, batch, names)
        if stale.any():
            ax.fill_between(t, 0, 1, where=stale, step='post', color='tab:red', alpha=0.15,
                            linewidth=0, transform=ax.get_xaxis_transform(),
                            label='stale: ' + ', '.join(inputs))
        ax.set_title(', '.join(names), fontsize=10, loc='left')
        ax.grid(True, linewidth=0.3)
        if len(names) > 1 or stale.any():
            ax.legend(loc='upper right', fontsize=8)
    axes[-1, 0].set_xlabel("time from the bag's start (s)")
    period = result.period_ns / 1e9
    fig.suptitle(f'arena_eval replay: {len(t)} ticks at {1 / period:g} Hz', fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    """Entry point of the `arena_eval_replay` console script."""
    parser = add_arguments(argparse.ArgumentParser(
        prog='arena_eval_replay',
        description='Evaluate a params file over a recorded bag, as the node would.'))
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
