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
A fleet of bags: one task per bag, in local worker processes or on a Dask distributed cluster.

    tasks = [Task(bag, key, params, out='runs.parquet') for ...]
    for row in run_tasks(tasks, jobs=4):                    # local processes
    for row in run_tasks(tasks, scheduler='tcp://127.0.0.1:8786'):   # an existing Dask cluster

`replay_bag(task)` is the one task: it loads the params file, compiles the batch (numba's cache
in each worker: the kernel and plans are not recompiled), replays the bag, streams the rows
into the bag's partition of the Parquet dataset (`sinks.ParquetSink`) and returns the bag's
summary row (`Stats`: duration, ticks, per output min/mean/max, nan share, seconds true and first
time true for boolean outputs). It never raises for a bad bag: the row carries the one-line
error and the other bags go on. The row is also saved beside the partition
(`bag=<key>/_summary.json`; pyarrow skips `_` files), so a rerun with the same output skips
the bags already done.
"""

from dataclasses import asdict, dataclass, field
import json
import math
import os

import numpy as np

SUMMARY_FILE = '_summary.json'


@dataclass(frozen=True)
class Task:
    """One bag to replay: where it is, its name in the dataset, the params and the output."""

    bag: str
    key: str                 # the bag's name in the dataset and the summary
    params: str              # the params file
    out: str | None = None   # the Parquet dataset (None: summary only)
    force: bool = False
    rate_hz: float | None = None
    start: float | None = None
    duration: float | None = None
    remap: tuple = ()        # ((input, topic), ...)


@dataclass
class Stats:
    """Running per-output statistics over result blocks (constant memory)."""

    names: tuple
    period_s: float
    start_ns: int
    count: np.ndarray = None
    nan: np.ndarray = None
    low: np.ndarray = None
    high: np.ndarray = None
    total: np.ndarray = None
    boolean: np.ndarray = None
    true_ticks: np.ndarray = None
    first_true: np.ndarray = None
    ticks: int = 0
    n_inputs: int = 0        # inputs whose stale ticks are counted (from the blocks' fresh)
    stale: np.ndarray = None

    def __post_init__(self):
        k = len(self.names)
        self.count, self.nan, self.true_ticks = (np.zeros(k, np.int64) for _ in range(3))
        self.low, self.high = np.full(k, np.inf), np.full(k, -np.inf)
        self.total = np.zeros(k)
        self.boolean = np.ones(k, bool)
        self.first_true = np.full(k, np.nan)
        self.stale = np.zeros(self.n_inputs, np.int64)

    def write(self, block):
        """Take a block's rows (its first len(names) output columns)."""
        n, k = block.count, len(self.names)
        values = block.values[:n, :k]
        finite = ~np.isnan(values)
        self.nan += n - finite.sum(axis=0)
        self.count += finite.sum(axis=0)
        with np.errstate(invalid='ignore'):
            low = np.where(finite, values, np.inf).min(axis=0, initial=np.inf)
            high = np.where(finite, values, -np.inf).max(axis=0, initial=-np.inf)
            self.low, self.high = np.fmin(self.low, low), np.fmax(self.high, high)
        self.total += np.where(finite, values, 0.0).sum(axis=0)
        self.boolean &= ((values == 0.0) | (values == 1.0) | ~finite).all(axis=0)
        true = values == 1.0
        self.true_ticks += true.sum(axis=0)
        for j in np.flatnonzero(np.isnan(self.first_true) & true.any(axis=0)):
            r = int(np.argmax(true[:, j]))
            self.first_true[j] = (int(block.times_ns[r]) - self.start_ns) / 1e9
        if self.n_inputs:
            self.stale += n - block.fresh[:n].sum(axis=0, dtype=np.int64)
        self.ticks += n

    def row(self):
        """{output: {min, mean, max, nan_share, true_s, first_true_s}} (None where undefined)."""
        out = {}
        for j, name in enumerate(self.names):
            seen = self.count[j] > 0
            is_bool = bool(self.boolean[j] and seen)
            out[name] = {
                'min': float(self.low[j]) if seen else None,
                'mean': float(self.total[j] / self.count[j]) if seen else None,
                'max': float(self.high[j]) if seen else None,
                'nan_share': float(self.nan[j] / self.ticks) if self.ticks else None,
                'true_s': float(self.true_ticks[j] * self.period_s) if is_bool else None,
                'first_true_s': (None if not is_bool or math.isnan(self.first_true[j])
                                 else float(self.first_true[j]))}
        return out


@dataclass
class Row:
    """A bag's line of the fleet summary."""

    bag: str
    duration_s: float | None = None
    ticks: int = 0
    messages: int = 0
    outputs: dict = field(default_factory=dict)
    error: str = ''
    skipped: bool = False    # done by an earlier run with the same output
    pid: int = 0             # the process that replayed it


def done_row(task):
    """Return the saved row of a bag an earlier run with the same output finished, or None."""
    if task.out is None or task.force:
        return None
    from .sinks import partition_dir
    path = os.path.join(partition_dir(task.out, task.key), SUMMARY_FILE)
    try:
        with open(path) as f:
            row = Row(**json.load(f))
    except (OSError, ValueError, TypeError):
        return None
    row.skipped = True
    return row


def replay_bag(task):
    """Replay one bag into its partition; return its `Row` (the error in it, never raised)."""
    from .sinks import SinkError
    from .source import ReplayError

    row = Row(task.key, pid=os.getpid())
    try:
        _replay_into(task, row)
    except (ReplayError, SinkError) as exc:
        row.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    except Exception as exc:  # noqa: B902 - one broken bag must not stop the fleet
        detail = str(exc).splitlines()[0] if str(exc) else ''
        row.error = f'{task.bag}: {type(exc).__name__}: {detail}'.rstrip(': ')
    return row


def _replay_into(task, row):
    from .core import Replay
    from .sinks import open_sink, partition_dir
    from .source import ReplayError
    from ..params import config as cfg

    config, errors, _ = cfg.load_params_file(task.params)
    if errors:
        raise ReplayError(errors[0].one_line())
    batch = cfg.build_batch(config)
    replay = Replay(config, task.bag, rate_hz=task.rate_hz, start=task.start,
                    duration=task.duration, remap=dict(task.remap), batch=batch)
    n_results = len(config.expressions)
    stats = Stats(tuple(batch.outputs[:n_results]), replay.period_ns / 1e9, replay.bag_start_ns)
    sink = None
    try:
        if task.out is not None:
            force = task.force or os.path.lexists(partition_dir(task.out, task.key))
            sink = open_sink(task.out, 'parquet', outputs=batch.outputs, typed=config.outputs,
                             force=force, bag=task.key, batch=batch,
                             bag_start_ns=replay.bag_start_ns, n_results=n_results)
        for block in replay.blocks():  # rows written as they are computed
            stats.write(block)
            if sink is not None:
                sink.write(block)
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    finally:
        replay.close()
    row.duration_s = (replay.bag_end_ns - replay.bag_start_ns) / 1e9
    row.ticks = stats.ticks
    row.messages = int(sum(t.messages for t in replay.tracks))
    row.outputs = stats.row()
    if sink is not None:
        sink.close()
        _save_row(os.path.join(partition_dir(task.out, task.key), SUMMARY_FILE), row)


def _save_row(path, row):
    temporary = path + '.partial'
    with open(temporary, 'w') as f:
        json.dump(asdict(row), f)
    os.replace(temporary, path)


# ----- running many ------------------------------------------------------------------------------

def run_tasks(tasks, jobs=None, scheduler=None):
    """
    Yield each task's `Row` as it completes, the ones done before first.

    The others run in this process (`jobs=1`), in local worker processes (`jobs` of them,
    default the cores) or on a Dask cluster (`scheduler`).
    """
    todo = []
    for task in tasks:
        row = done_row(task)
        if row is not None:
            yield row
        else:
            todo.append(task)
    if not todo:
        return
    if scheduler is not None:
        yield from _on_dask(todo, scheduler)
        return
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(todo) == 1:
        for task in todo:
            yield replay_bag(task)
        return
    import concurrent.futures as cf
    import multiprocessing

    # fork: the workers start with the batch's modules imported and numba's cache loaded, and
    # no resource-tracker process outlives the pool (spawn leaves one). Nothing here holds a
    # lock across the fork: the progress bar runs without tqdm's monitor thread.
    context = multiprocessing.get_context('fork')
    with cf.ProcessPoolExecutor(max_workers=min(jobs, len(todo)), mp_context=context) as pool:
        futures = {pool.submit(replay_bag, task): task for task in todo}
        for future in cf.as_completed(futures):
            yield _row_of(future, futures[future])


def _row_of(future, task):
    try:
        return future.result()
    except Exception as exc:  # noqa: B902 - a worker that died (killed, out of memory)
        return Row(task.key, error=f'{task.bag}: worker failed: {type(exc).__name__}: {exc}')


def _on_dask(tasks, scheduler):
    from .source import ReplayError
    try:
        from distributed import as_completed, Client
    except ImportError:
        raise ReplayError('--scheduler needs the Python package distributed: '
                          'pip install distributed') from None
    try:
        client = Client(scheduler, timeout=10)
    except Exception as exc:  # noqa: B902 - no cluster there
        raise ReplayError(f'--scheduler {scheduler}: cannot connect: {exc}') from None
    try:
        futures = client.map(replay_bag, tasks, pure=False)
        by_future = dict(zip(futures, tasks, strict=True))
        for future in as_completed(futures):
            yield _row_of(future, by_future[future])
    finally:
        client.close()


# ----- the summary table -------------------------------------------------------------------------

COLUMNS = ('min', 'mean', 'max', 'nan_share', 'true_s', 'first_true_s')


def summary_header(names):
    return ['bag', 'duration_s', 'ticks', 'messages', 'error'] + [
        f'{name}.{column}' for name in names for column in COLUMNS]


def summary_cells(row, names):
    def cell(value):
        return '' if value is None else f'{value:.17g}' if isinstance(value, float) else str(value)
    cells = [row.bag, cell(row.duration_s), str(row.ticks), str(row.messages), row.error]
    for name in names:
        stats = row.outputs.get(name, {})
        cells += [cell(stats.get(column)) for column in COLUMNS]
    return cells


def write_summary(path, rows, names):
    """Write the fleet summary as CSV: one line per bag, output statistics as `<name>.<column>`."""
    import csv
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(summary_header(names))
        for row in rows:
            writer.writerow(summary_cells(row, names))


def format_summary(rows, names):
    """Return the printed fleet summary: a line per bag, then each bag's output statistics."""
    def num(value, fmt='12.6g'):
        return f'{"-":>12}' if value is None else f'{value:{fmt}}'
    width = max([len('bag')] + [len(r.bag) for r in rows])
    lines = [f"{'bag':<{width}}  {'duration s':>10}  {'ticks':>9}  {'messages':>9}  status"]
    for row in rows:
        status = (f'error: {row.error}' if row.error
                  else 'done before' if row.skipped else 'ok')
        duration = '-' if row.duration_s is None else f'{row.duration_s:.3f}'
        lines.append(f'{row.bag:<{width}}  {duration:>10}  {row.ticks:>9}  {row.messages:>9}  '
                     f'{status}')
    good = [r for r in rows if not r.error]
    if good and names:
        owidth = max(len('output'), *(len(n) for n in names))
        lines += ['', f"{'bag':<{width}}  {'output':<{owidth}}  {'min':>12}  {'mean':>12}  "
                  f"{'max':>12}  {'nan %':>7}  {'true s':>10}  {'first true s':>12}"]
        for row in good:
            for name in names:
                s = row.outputs.get(name, {})
                share = s.get('nan_share')
                lines.append(
                    f"{row.bag:<{width}}  {name:<{owidth}}  {num(s.get('min'))}  "
                    f"{num(s.get('mean'))}  {num(s.get('max'))}  "
                    f"{'-' if share is None else f'{100 * share:.2f}':>7}  "
                    f"{num(s.get('true_s'), '10.3f')[-10:]:>10}  "
                    f"{num(s.get('first_true_s'), '12.3f')}")
    return '\n'.join(lines)


def bag_keys(bags):
    """Names of the bags in the dataset: their paths relative to the folder all share."""
    absolute = [os.path.abspath(str(b)).rstrip('/') for b in bags]
    if len(absolute) == 1:
        return [os.path.basename(absolute[0])]
    common = os.path.commonpath(absolute)
    if common in absolute:
        common = os.path.dirname(common)
    return [os.path.relpath(a, common) for a in absolute]
