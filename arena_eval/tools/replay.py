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
The replay front end: a params file over recorded bags, written as CSV, a bag, Parquet, a plot.

    python -m arena_eval replay run.bag --params config/robot.yaml            # summary table
    python -m arena_eval replay run_mcap/ --params robot.yaml --out results.csv
    python -m arena_eval replay run.db3 --params robot.yaml --out results.mcap --plot out.png
    python -m arena_eval replay run.db3 --params robot.yaml --out results/     # rosbag2 folder
    arena_eval_replay run.bag --params robot.yaml --start 10 --duration 30 --remap imu=/imu/raw
    python -m arena_eval replay fleet/ more.txt --params robot.yaml --out runs.parquet \
        --summary runs.csv --jobs 4                   # or --scheduler tcp://127.0.0.1:8786

The reading side is `replay.source` (which bags open), the tick `replay.core`, the writers
`replay.sinks` (the output kinds and their one rule: an existing output is refused unless
`--force`), many bags `replay.fleet` (local worker processes or a Dask cluster; one Parquet
dataset, a summary table, bags already done skipped). Without `--out`, a summary.
User errors (bag, topic, type, time range, arguments, params file) print one `error:` line (or
the params file's `file:line:col: error:` lines) and exit with code 2; a fleet run in which some
bags failed exits with 1 after reporting each in the summary.
"""

import argparse
import difflib
import sys

EXIT_OK = 0
EXIT_FAILED_BAGS = 1
EXIT_USAGE = 2
# Bag time covered before a progress bar is worth showing.
PROGRESS_MIN_S = 5.0


class UsageError(Exception):
    """A command-line mistake found after parsing: one `error:` line, exit code 2."""


def add_arguments(parser):
    """Add replay's arguments to `parser` (`python -m arena_eval replay` and the script)."""
    parser.add_argument('bag', nargs='+', metavar='BAG',
                        help='ROS 1 .bag, rosbag2 folder, or a .db3 / .mcap file; several, a '
                             'folder of bags (searched recursively) or a .txt listing them')
    parser.add_argument('--params', required=True, metavar='FILE',
                        help='the params file the node would run with')
    parser.add_argument('--out', metavar='OUT',
                        help='results.csv, results.mcap, results.parquet (a dataset folder, '
                             'one partition per bag) or a rosbag2 folder (sqlite3: a path '
                             'ending in / or --format rosbag2); without it, print a summary')
    parser.add_argument('--format', choices=('csv', 'mcap', 'rosbag2', 'parquet'),
                        help="the kind of --out, whatever its name's extension")
    parser.add_argument('--force', action='store_true',
                        help='replace existing outputs (--out, --plot, --summary) and redo '
                             'bags a dataset has already')
    parser.add_argument('--summary', metavar='CSV',
                        help='write the per-bag summary table (duration, per output min/mean/'
                             'max, nan share, seconds true, first time true, error) here')
    parser.add_argument('--jobs', type=int, metavar='N',
                        help='bags replayed at once in local worker processes '
                             '(default: the cores)')
    parser.add_argument('--scheduler', metavar='tcp://HOST:PORT',
                        help='run one task per bag on this Dask distributed scheduler')
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
            tqdm.monitor_interval = 0  # no monitor thread: fleet workers are forked
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
    from ..replay.sinks import check_writable, output_kind, SinkError
    from ..replay.source import find_bags, ReplayError

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
        names = list(batch.outputs[:len(config.expressions)])
        panels = _groups(args.plot_group, names) if args.plot else None
        kind = output_kind(args.out, args.format) if args.out else None
        if args.format and not args.out:
            raise UsageError('--format: give --out too')
        if kind == 'parquet':
            _require('pyarrow', 'Parquet output')
        if args.jobs is not None and args.jobs < 1:
            raise UsageError(f'--jobs {args.jobs}: must be 1 or more')
        bags = find_bags(args.bag)
        # --jobs only spreads many bags; one bag to CSV or a bag runs here whatever it says.
        fleet = kind == 'parquet' or len(bags) > 1 or args.scheduler
        if fleet and kind not in (None, 'parquet'):
            raise UsageError(f'--out {args.out}: many bags go into one Parquet dataset: '
                             '--out NAME.parquet')
        if fleet and args.plot:
            raise UsageError('--plot: one bag at a time')
        if kind not in (None, 'parquet'):
            check_writable(args.out, args.force)
        for what, path in (('--plot', args.plot), ('--summary', args.summary)):
            if path:
                check_writable(path, args.force, what)
        if fleet:
            return _fleet(args, bags, names, remap)
        return _single(args, config, batch, bags[0], kind, panels, remap)
    except (ReplayError, UsageError, SinkError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return EXIT_USAGE


def _single(args, config, batch, bag, kind, panels, remap):
    """One bag in this process: its rows streamed into one output, the summary; a plot."""
    from ..replay.core import Replay, ReplayError
    from ..replay.fleet import bag_keys, Row, Stats, write_summary
    from ..replay.sinks import open_sink

    replay = Replay(config, bag, rate_hz=args.rate, start=args.start,
                    duration=args.duration, remap=remap, batch=batch)
    for note in replay.reader.notes:
        print(f'warning: {note}', file=sys.stderr)
    try:
        n_results = len(config.expressions)
        names = tuple(batch.outputs[:n_results])
        sinks = []
        if kind is not None:
            sinks.append(open_sink(args.out, kind, outputs=batch.outputs, typed=config.outputs,
                                   force=args.force, bag=bag_keys([bag])[0], batch=batch,
                                   bag_start_ns=replay.bag_start_ns, n_results=n_results,
                                   individual=config.publish_individual))
        stats = Stats(names, replay.period_ns / 1e9, replay.bag_start_ns,
                      n_inputs=len(config.inputs))
        kept = [] if args.plot else None  # the plot needs every tick of its outputs
        span_s = (replay.t_end_ns - replay.t0_ns) / 1e9
        progress = _Progress(not args.quiet and sys.stderr.isatty() and span_s >= PROGRESS_MIN_S)
        try:
            for block in replay.blocks(progress.start(replay.n_ticks, 'ticking', 'tick')):
                for sink in sinks:
                    sink.write(block)
                stats.write(block)
                if kept is not None:
                    kept.append((block.values[:, :n_results].copy(), block.fresh.copy()))
        except ReplayError as exc:
            for sink in sinks:
                sink.abort()
            print(f'error: {exc}', file=sys.stderr)
            return EXIT_USAGE
        except BaseException:
            for sink in sinks:
                sink.abort()
            raise
        finally:
            progress.close()
        for track in replay.tracks:
            if track.ignored:
                print(f"warning: topic '{track.topic}' also has messages of type {track.ignored}"
                      f'; input {track.name} reads only {track.type_name}', file=sys.stderr)
        for sink in sinks:
            sink.close()
            for line in getattr(sink, 'warnings', ()):
                print(line, file=sys.stderr)
        if args.plot:
            plot(args.plot, _kept_result(replay, kept), panels, batch)
        if args.summary:
            row = Row(bag_keys([bag])[0], (replay.bag_end_ns - replay.bag_start_ns) / 1e9,
                      stats.ticks, sum(t.messages for t in replay.tracks), stats.row())
            write_summary(args.summary, [row], names)
        if not args.out:
            print(summary(stats, replay, bag))
    finally:
        replay.close()
    return EXIT_OK


def _kept_result(replay, kept):
    """Return the rows kept for the plot as a `ReplayResult` (outputs and freshness only)."""
    import numpy as np

    from ..replay.core import ReplayResult

    times = replay.t0_ns - replay.bag_start_ns + np.arange(replay.n_ticks, dtype=np.int64) * (
        replay.period_ns)
    return ReplayResult(outputs=tuple(replay.batch.outputs[:len(replay.config.expressions)]),
                        inputs=tuple(t.name for t in replay.tracks), times_ns=times,
                        values=np.concatenate([v for v, _ in kept]),
                        fresh=np.concatenate([f for _, f in kept]), period_ns=replay.period_ns,
                        bag_start_ns=replay.bag_start_ns, tracks=replay.tracks)


def _fleet(args, bags, names, remap):
    """Many bags (or a dataset): one task per bag, locally or on Dask; the fleet summary."""
    from ..replay.fleet import bag_keys, format_summary, run_tasks, Task, write_summary

    out = args.out.rstrip('/') if args.out else None
    tasks = [Task(str(bag), key, args.params, out, args.force, args.rate, args.start,
                  args.duration, tuple(remap.items()))
             for bag, key in zip(bags, bag_keys(bags), strict=True)]
    progress = _Progress(not args.quiet and sys.stderr.isatty())
    bars = progress.start(len(tasks), 'bags', 'bag')
    rows = {}
    try:
        for row in run_tasks(tasks, jobs=args.jobs, scheduler=args.scheduler):
            rows[row.bag] = row
            bars(1)
            if progress.bar is not None:
                total = sum(r.messages for r in rows.values())
                progress.bar.set_postfix_str(f'{total:,} messages', refresh=False)
    finally:
        progress.close()
    ordered = [rows[task.key] for task in tasks]
    print(format_summary(ordered, names))
    if args.summary:
        write_summary(args.summary, ordered, names)
    return EXIT_FAILED_BAGS if any(row.error for row in ordered) else EXIT_OK


def _require(module, what):
    import importlib.util
    if importlib.util.find_spec(module) is None:
        raise UsageError(f'{what} needs the Python package {module}: pip install {module}')


def summary(stats, replay, bag):
    """Return the table printed without `--out` (outputs: min/mean/max/nan; inputs: stale)."""
    ticks = stats.ticks
    period_s = replay.period_ns / 1e9
    first_ns = replay.t0_ns - replay.bag_start_ns
    last_ns = first_ns + (ticks - 1) * replay.period_ns
    lines = [f'{bag}: {ticks} ticks at {1e9 / replay.period_ns:g} Hz, '
             f'{first_ns / 1e9:.3f} .. {last_ns / 1e9:.3f} s from the bag start']
    width = max([len('output')] + [len(n) for n in stats.names])
    lines.append('')
    lines.append(f"{'output':<{width}}  {'min':>12}  {'mean':>12}  {'max':>12}  {'nan':>9}")
    for name, cell in stats.row().items():
        if cell['min'] is not None:
            low, mean, high = (f'{cell[v]:12.6g}' for v in ('min', 'mean', 'max'))
        else:
            low = mean = high = f"{'-':>12}"
        nan = int(stats.nan[stats.names.index(name)])
        lines.append(f'{name:<{width}}  {low}  {mean}  {high}  {nan:>9}')
    width = max([len('input')] + [len(t.name) for t in replay.tracks])
    lines.append('')
    lines.append(f"{'input':<{width}}  {'topic':<32}  {'messages':>8}  {'stale s':>9}  "
                 f"{'stale %':>7}")
    for i, track in enumerate(replay.tracks):
        stale = int(stats.stale[i])
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
