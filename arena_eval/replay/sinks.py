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
The writing side of replay: result rows, block by block, into CSV, MCAP, rosbag2 or Parquet.

    sink = open_sink('run.parquet', 'parquet', outputs=names, typed=config.outputs, batch=batch,
                     bag='robot1/run3.mcap', bag_start_ns=bag.start_ns, force=False)
    for block in blocks:           # Block: times_ns, values (batch.outputs order), inputs, count
        sink.write(block)          # nothing of the block is kept: memory stays constant
    sink.close()                   # the file appears under its name only now

Kinds (`output_kind`): `.csv`; `.mcap` (one MCAP file); `.parquet` (a dataset folder,
partitioned by bag: `NAME.parquet/bag=<bag>/part-0.parquet`); `rosbag2` (a sqlite3 rosbag2
folder, asked for by `--format rosbag2` or a path ending in `/`). Any other suffix is an error
that lists these. One rule for every output: an existing one is refused unless `force`.
Every sink writes to a temporary name beside the target and renames at `close()`, so an error
leaves no half-written file under the name asked for (`abort()` removes the temporary).

The bags hold what the node publishes, at each tick's bag time: `/arena_eval/results`
(`std_msgs/msg/Float64MultiArray`), `/arena_eval/out/<name>` with `publish_individual`, and each
typed output on its topic, its bytes patched by the node's own templates
(`msgtypes.templates.TypedOutput`). CSV holds `time` (s from the bag's start) and the outputs;
Parquet also `stamp_ns` (the tick's log time) and the typed outputs' expression fields
flattened (`tilt.vector.x`).
"""

from dataclasses import dataclass
import os
import shutil
import tempfile
from urllib.parse import quote

import numpy as np

KINDS = {'.csv': 'csv', '.mcap': 'mcap', '.parquet': 'parquet'}
FORMATS = ('csv', 'mcap', 'rosbag2', 'parquet')
RESULTS_TOPIC = '/arena_eval/results'
RESULTS_TYPE = 'std_msgs/msg/Float64MultiArray'
OUT_PREFIX = '/arena_eval/out/'


class SinkError(Exception):
    """An output the user asked for that cannot be written: one `error:` line."""


@dataclass
class Block:
    """Result rows from the tick: row r is `times_ns[r]`, `values[r]`, `inputs[r]`, r < count."""

    times_ns: np.ndarray    # int64[capacity]: the tick's bag log time (ns since the epoch)
    values: np.ndarray      # float64[capacity, k]: one column per output (batch.outputs order)
    count: int
    # float64[capacity, 2m]: input slots (batch.inputs order), for typed outputs' templates
    # (stamps), then their valid flags (whether a typed output is stale); None when none
    # needs them
    inputs: np.ndarray = None
    fresh: np.ndarray = None  # uint8[capacity, inputs]: 1 = the input was fresh on the tick


def output_kind(path, fmt=None):
    """Return the kind of `--out path` ('csv', 'mcap', 'parquet', 'rosbag2') or raise SinkError."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise SinkError(f'--format {fmt}: unknown; known: {", ".join(FORMATS)}')
        return fmt
    if str(path).endswith(('/', os.sep)):
        return 'rosbag2'
    suffix = os.path.splitext(str(path))[1].lower()
    if suffix in KINDS:
        return KINDS[suffix]
    known = ', '.join(KINDS) + ", or a rosbag2 folder ('--format rosbag2', or a path ending in /)"
    what = f"extension '{suffix}'" if suffix else 'no extension'
    raise SinkError(f'--out {path}: unknown output ({what}); known: {known}')


def check_writable(path, force, what='--out'):
    """Apply the one rule for every output: refuse an existing one unless `force`."""
    path = str(path).rstrip('/') or str(path)
    if os.path.lexists(path) and not force:
        raise SinkError(f'{what} {path}: exists already; not overwriting (--force to replace)')


def _replace(temporary, path):
    """Move `temporary` to `path`, replacing what is there (checked by `check_writable`)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    os.replace(temporary, path)


def _scratch_beside(path):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    return tempfile.mkdtemp(prefix='.arena_eval_partial_', dir=parent)


def flat_columns(outputs, typed):
    """Return [(column name, index into batch.outputs)]: the outputs, then typed fields."""
    columns = [(name, j) for j, name in enumerate(outputs) if not name.startswith('__')]
    index = {name: j for j, name in enumerate(outputs)}
    for config in (typed or {}).values():
        for k, item in enumerate(config.fields):
            hidden = f'__{config.name}_{k}'
            if item.constant is None and hidden in index:
                columns.append((config.label(item), index[hidden]))
    return columns


def open_sink(path, kind, outputs, typed=None, force=False, bag=None, *, batch=None,
              bag_start_ns=0, n_results=None, individual=False):
    """
    Open the sink of `kind` at `path` (see the module docstring); raise SinkError when refused.

    `outputs`: batch.outputs (results first, then typed outputs' hidden ones); `n_results`:
    how many are results (default: those not starting with '__'). `bag` names the partition of
    a Parquet dataset (a dataset takes many bags: it is the partition that must not exist).
    """
    outputs = tuple(outputs)
    if n_results is None:
        n_results = sum(1 for name in outputs if not name.startswith('__'))
    if kind == 'parquet':
        return ParquetSink(path, outputs, typed, force, bag, bag_start_ns)
    check_writable(path, force)
    if kind == 'csv':  # the outputs only, as ~/results carries them
        return CsvSink(path, outputs[:n_results], None, bag_start_ns)
    if kind in ('mcap', 'rosbag2'):
        return BagSink(path, kind, outputs, n_results, typed or {}, batch, individual)
    raise SinkError(f'unknown output kind {kind!r}; known: {", ".join(FORMATS)}')


class _Sink:
    """Shared by the sinks: the temporary and the final name, close and abort."""

    def __init__(self, path, temporary, scratch):
        self.path = str(path).rstrip('/') or str(path)
        self.temporary = temporary
        self.scratch = scratch     # folder to remove after close/abort
        self.rows = 0

    def _finish(self):
        pass

    def close(self):
        """Flush and put the output under its name."""
        self._finish()
        _replace(self.temporary, self.path)
        shutil.rmtree(self.scratch, ignore_errors=True)

    def abort(self):
        """Drop what was written: no file is left under the asked name."""
        try:
            self._finish()
        except Exception:  # noqa: B902 - whatever broke the write may break the flush
            pass
        shutil.rmtree(self.scratch, ignore_errors=True)


class CsvSink(_Sink):
    """Time (s from the bag's start), outputs, typed fields; exact values (`%.17g`)."""

    def __init__(self, path, outputs, typed, bag_start_ns):
        scratch = _scratch_beside(path)
        super().__init__(path, os.path.join(scratch, 'out.csv'), scratch)
        self.columns = flat_columns(outputs, typed)
        self.index = np.array([j for _, j in self.columns], np.int64)
        self.start = bag_start_ns
        self.file = open(self.temporary, 'w')
        self.file.write(','.join(['time'] + [name for name, _ in self.columns]) + '\n')
        self.fmt = ['%.9f'] + ['%.17g'] * len(self.columns)

    def write(self, block):
        n = block.count
        table = np.empty((n, 1 + len(self.index)))
        table[:, 0] = (block.times_ns[:n] - self.start) / 1e9
        table[:, 1:] = block.values[:n][:, self.index]
        np.savetxt(self.file, table, fmt=self.fmt, delimiter=',')
        self.rows += n

    def _finish(self):
        if not self.file.closed:
            self.file.close()


class ParquetSink(_Sink):
    """One bag's partition of a Parquet dataset: `time`, `stamp_ns`, outputs, typed fields."""

    def __init__(self, path, outputs, typed, force, bag, bag_start_ns):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.partition = partition_dir(path, bag)
        if os.path.lexists(self.partition) and not force:
            raise SinkError(f'--out {path}: bag {bag} is in it already; not overwriting '
                            '(--force to replace)')
        if os.path.isfile(path):
            raise SinkError(f'--out {path}: a file, not a Parquet dataset folder')
        os.makedirs(path, exist_ok=True)
        scratch = tempfile.mkdtemp(prefix='.arena_eval_partial_', dir=path)
        super().__init__(self.partition, os.path.join(scratch, 'part'), scratch)
        os.makedirs(self.temporary)
        self.columns = flat_columns(outputs, typed)
        self.index = np.array([j for _, j in self.columns], np.int64)
        self.start = bag_start_ns
        self.schema = pa.schema([('time', pa.float64()), ('stamp_ns', pa.int64())]
                                + [(name, pa.float64()) for name, _ in self.columns])
        self.writer = pq.ParquetWriter(os.path.join(self.temporary, 'part-0.parquet'),
                                       self.schema, compression='zstd')

    def write(self, block):
        import pyarrow as pa

        n = block.count
        stamps = block.times_ns[:n]
        arrays = [pa.array((stamps - self.start) / 1e9), pa.array(stamps)]
        values = block.values[:n]
        arrays += [pa.array(values[:, j]) for j in self.index]
        self.writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.rows += n

    def _finish(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def partition_dir(dataset, bag):
    """Return the folder of `bag`'s rows in a dataset (hive style, the bag's name URI-encoded)."""
    return os.path.join(str(dataset), 'bag=' + quote(str(bag), safe=''))


class BagSink(_Sink):
    """What the node publishes, tick by tick, into a rosbag2 folder (sqlite3) or one MCAP file."""

    def __init__(self, path, kind, outputs, n_results, typed, batch, individual):
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.typesys import get_typestore, Stores

        from ..msgtypes.templates import float64_template, results_template

        scratch = _scratch_beside(str(path).rstrip('/'))
        folder = os.path.join(scratch, 'bag')
        super().__init__(path, os.path.join(folder, 'bag.mcap') if kind == 'mcap' else folder,
                         scratch)
        self.kind = kind
        self.typestore = typestore = get_typestore(Stores.ROS2_KILTED)
        plugin = StoragePlugin.MCAP if kind == 'mcap' else StoragePlugin.SQLITE3
        self.writer = Writer(folder, version=9, storage_plugin=plugin)
        self.writer.open()
        self.n_results = n_results
        self.raw, self.view = results_template(outputs[:n_results])
        self.conn = self.writer.add_connection(RESULTS_TOPIC, RESULTS_TYPE, typestore=typestore)
        self.singles = []
        if individual:
            for j, name in enumerate(outputs[:n_results]):
                one_raw, one_view = float64_template()
                self.singles.append((j, one_raw, one_view, self.writer.add_connection(
                    f'{OUT_PREFIX}{name}', 'std_msgs/msg/Float64', typestore=typestore)))
        self.typed, self.arena, self.warnings = _typed_writers(self.writer, typestore, typed,
                                                               batch)
        if self.typed:
            valid = batch.program.layout.valid_base
            self.slots = np.array([batch.output_slot(n) for n in batch.outputs]
                                  + [batch.input_slot(p) for p in batch.inputs]
                                  + [valid + i for i in range(len(batch.inputs))], np.int64)
            self.n_out = len(batch.outputs)

    def write(self, block):
        writer, raw, view, conn = self.writer, self.raw, self.view, self.conn
        values = block.values
        stamps = block.times_ns[:block.count].tolist()
        for r, stamp in enumerate(stamps):
            row = values[r]
            view[:] = row[:self.n_results]
            writer.write(conn, stamp, bytes(raw))
            for j, one_raw, one_view, one_conn in self.singles:
                one_view[0] = row[j]
                writer.write(one_conn, stamp, bytes(one_raw))
            if self.typed:
                self.arena[self.slots[:self.n_out]] = row
                if block.inputs is not None:
                    self.arena[self.slots[self.n_out:]] = block.inputs[r]
                for output, clock in self.typed:
                    clock[0] = stamp
                    output.tick()
        self.rows += len(stamps)

    def _finish(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _typed_writers(writer, typestore, typed, batch):
    """
    Return ([(TypedOutput writing to the bag, its clock cell)], arena, warnings) for `typed`.

    The templates read `arena`, an arena-sized scratch array the sink fills per row from the
    block's outputs and inputs.
    """
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
        output = TypedOutput(config, batch, _publisher_for(writer, conn, clock),
                             now=_clock_reader(clock), topic=topic)
        output.bind(arena)  # its values and the valid flags `templates.decide` reads
        outputs.append((output, clock))
    return outputs, arena, warnings


def _publisher_for(writer, conn, clock):
    def publisher_for(raw):
        return lambda: writer.write(conn, clock[0], bytes(raw))
    return publisher_for


def _clock_reader(clock):
    return lambda: clock[0]
