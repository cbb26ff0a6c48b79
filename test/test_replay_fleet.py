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
Replay's outputs and fleets: the output rules, Parquet, many bags locally and on Dask.

The fleet's Parquet rows are checked against single-bag replays of the same bags (CSV, whose
values are exact), the summary against numpy over those rows.
"""

import csv
import os
import shutil
import signal
import subprocess
import sys

from humble_bags import write_humble_bag
import numpy as np
import pytest
from test_replay import edge_messages, imu_cdr, PARAMS, read_csv, ROOT, run_cli, T0, write_bag

# A boolean output (seconds true, first time true) beside the test file's five.
FLEET_PARAMS = PARAMS.format(rate=100.0, policy='nan', timeout=0.05).replace(
    '      - "both = ax + q2"\n', '      - "both = ax + q2"\n      - "big = ax > 3"\n')
TYPED = """\
    outputs:
      level:
        topic: /level
        type: std_msgs/msg/Float64
        fields: ["data = q2 * 100"]
"""


def write_params(tmp_path, typed=False):
    path = tmp_path / 'fleet.yaml'
    path.write_text(FLEET_PARAMS + (TYPED if typed else ''))
    return str(path)


def shifted(messages, dt_ms, scale):
    """Return the edge messages later and scaled: another robot's run."""
    out = []
    for topic, msgtype, t, data in messages:
        if topic == '/imu':
            from rclpy.serialization import deserialize_message
            from sensor_msgs.msg import Imu
            x = deserialize_message(data, Imu).linear_acceleration.x
            data = imu_cdr(x * scale)
        out.append((topic, msgtype, t + dt_ms * 1_000_000, data))
    return out


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    """Bags of a fleet: rosbags sqlite3 and MCAP, Humble, a corrupt one, one missing /joints."""
    base = tmp_path_factory.mktemp('fleet')
    bags = {
        'robot1/run1': write_bag(base / 'robot1' / 'run1', edge_messages()),
        'robot1/run2.mcap': None,
        'robot2/humble': write_humble_bag(base / 'robot2' / 'humble',
                                          shifted(edge_messages(), 7, 2.0)),
        'robot2/no_joints': write_bag(base / 'robot2' / 'no_joints',
                                      [m for m in edge_messages() if m[0] == '/imu']),
    }
    write_bag(base / 'robot1' / 'tmp_mcap', shifted(edge_messages(), 3, -1.0), 'mcap')
    os.replace(base / 'robot1' / 'tmp_mcap' / 'tmp_mcap.mcap', base / 'robot1' / 'run2.mcap')
    shutil.rmtree(base / 'robot1' / 'tmp_mcap')
    bags['robot1/run2.mcap'] = str(base / 'robot1' / 'run2.mcap')
    corrupt = base / 'robot3' / 'corrupt.mcap'
    corrupt.parent.mkdir()
    corrupt.write_bytes(open(bags['robot1/run2.mcap'], 'rb').read()[:300] + b'\0' * 64)
    bags['robot3/corrupt.mcap'] = str(corrupt)
    return base, bags


def single_rows(capsys, tmp_path, bag, params):
    out = tmp_path / f'single_{abs(hash(bag))}.csv'
    code, _, err = run_cli(capsys, bag, '--params', params, '--out', out, '--force')
    assert code == 0, err
    return read_csv(out)


def read_dataset(path):
    import pyarrow.dataset as ds
    table = ds.dataset(path, format='parquet', partitioning='hive').to_table()
    return {bag: table.filter(ds.field('bag') == bag).sort_by('stamp_ns')
            for bag in set(table.column('bag').to_pylist())}


def read_summary(path):
    with open(path, newline='') as f:
        return {row['bag']: row for row in csv.DictReader(f)}


def check_fleet_outputs(capsys, tmp_path, base, bags, dataset, summary, params):
    tables = read_dataset(dataset)
    good = ['robot1/run1', 'robot1/run2.mcap', 'robot2/humble']
    assert sorted(tables) == good
    rows = read_summary(summary)
    assert sorted(rows) == sorted(bags)
    assert rows['robot3/corrupt.mcap']['error'].startswith(f"{bags['robot3/corrupt.mcap']}: ")
    assert rows['robot2/no_joints']['error'] == (
        "input 'joints': the bag has no topic '/joints' (the bag has: /imu)")
    for key in good:
        header, expected = single_rows(capsys, tmp_path, bags[key], params)
        table = tables[key]
        got = np.column_stack([table.column(name).to_numpy() for name in header])
        # CSV's '%.17g' is exact but writes both nans as 'nan': compared as floats, nan == nan.
        np.testing.assert_array_equal(got[:, 1:], expected[:, 1:])
        np.testing.assert_allclose(got[:, 0], expected[:, 0], atol=1e-9)
        row = rows[key]
        assert row['error'] == '' and int(row['ticks']) == len(expected)
        big = expected[:, header.index('big')]
        assert float(row['big.true_s']) == pytest.approx((big == 1).sum() * 0.01)
        if (big == 1).any():
            assert float(row['big.first_true_s']) == pytest.approx(
                expected[np.argmax(big == 1), 0])
        else:
            assert row['big.first_true_s'] == ''
        ax = expected[:, header.index('ax')]
        assert float(row['ax.max']) == np.nanmax(ax) and float(row['ax.min']) == np.nanmin(ax)
        assert float(row['ax.nan_share']) == pytest.approx(np.isnan(ax).mean())
        assert row['ax.true_s'] == ''  # not a boolean output


def test_an_unknown_out_extension_is_an_error_listing_the_known_ones(capsys, tmp_path,
                                                                     fleet):
    _, bags = fleet
    code, _, err = run_cli(capsys, bags['robot1/run1'], '--params', write_params(tmp_path),
                           '--out', tmp_path / 'results.cvs')
    assert code == 2
    assert err == (f"error: --out {tmp_path}/results.cvs: unknown output (extension '.cvs'); "
                   "known: .csv, .mcap, .parquet, or a rosbag2 folder ('--format rosbag2', or "
                   'a path ending in /)\n')
    assert not (tmp_path / 'results.cvs').exists()
    code, _, err = run_cli(capsys, bags['robot1/run1'], '--params', write_params(tmp_path),
                           '--out', tmp_path / 'results')
    assert code == 2 and 'unknown output (no extension)' in err


@pytest.mark.parametrize('option', ['--out', '--plot', '--summary'])
def test_every_existing_output_is_refused_unless_force(capsys, tmp_path, fleet, option):
    _, bags = fleet
    target = tmp_path / ('x.csv' if option != '--plot' else 'x.png')
    target.write_text('keep me')
    args = [bags['robot1/run1'], '--params', write_params(tmp_path), option, target]
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    assert err == (f'error: {option} {target}: exists already; not overwriting '
                   '(--force to replace)\n')
    assert target.read_text() == 'keep me'
    code, _, err = run_cli(capsys, *args, '--force')
    assert code == 0, err
    assert target.read_bytes() != b'keep me'


def test_a_failed_write_leaves_no_file_under_the_name(tmp_path):
    from arena_eval.replay.sinks import Block, open_sink

    out = tmp_path / 'half.csv'
    sink = open_sink(out, 'csv', outputs=('a',), bag_start_ns=0)
    sink.write(Block(np.arange(3, dtype=np.int64), np.ones((3, 1)), 3))
    assert not out.exists()
    sink.abort()
    assert not out.exists() and os.listdir(tmp_path) == []
    sink = open_sink(out, 'csv', outputs=('a',), bag_start_ns=0)
    sink.write(Block(np.arange(3, dtype=np.int64), np.ones((3, 1)), 2))
    sink.close()
    assert out.read_text() == 'time,a\n0.000000000,1\n0.000000001,1\n'
    assert os.listdir(tmp_path) == ['half.csv']


def test_one_bag_into_parquet_with_typed_fields(capsys, tmp_path, fleet):
    _, bags = fleet
    params = write_params(tmp_path, typed=True)
    dataset = tmp_path / 'one.parquet'
    code, out, err = run_cli(capsys, bags['robot1/run1'], '--params', params, '--out', dataset)
    assert code == 0, err
    table = read_dataset(dataset)['run1']
    header, expected = single_rows(capsys, tmp_path, bags['robot1/run1'], params)
    assert table.column_names == ['time', 'stamp_ns', *header[1:], 'level.data', 'bag']
    np.testing.assert_array_equal(table.column('level.data').to_numpy(),
                                  expected[:, header.index('q2')] * 100)
    assert table.column('stamp_ns').to_pylist()[:2] == [T0, T0 + 10_000_000]
    assert 'run1' in out and ' ok' in out


def run_fleet(capsys, tmp_path, base, *extra):
    dataset, summary = tmp_path / 'fleet.parquet', tmp_path / 'fleet.csv'
    code, out, err = run_cli(capsys, base, '--params', write_params(tmp_path), '--out', dataset,
                             '--summary', summary, '--force', *extra)
    return code, out, err, dataset, summary


def test_a_local_fleet_matches_single_bag_replays_and_reruns_skip_done_bags(
        capsys, tmp_path, fleet):
    base, bags = fleet
    code, out, err, dataset, summary = run_fleet(capsys, tmp_path, base, '--jobs', '2')
    assert code == 1, err  # some bags failed: reported, the others done
    lines = out.splitlines()
    assert any(line.startswith('robot3/corrupt.mcap') and 'error: ' in line for line in lines)
    assert sum(line.endswith('  ok') for line in lines) == 3
    check_fleet_outputs(capsys, tmp_path, base, bags, dataset, summary, write_params(tmp_path))
    part = dataset / 'bag=robot1%2Frun1' / 'part-0.parquet'
    assert part.is_file()
    before = part.stat().st_mtime_ns
    os.remove(summary)
    code, out, err = run_cli(capsys, base, '--params', write_params(tmp_path), '--out', dataset,
                             '--summary', summary, '--jobs', '1')
    assert code == 1, err
    assert sum(line.endswith('done before') for line in out.splitlines()) == 3
    assert part.stat().st_mtime_ns == before
    check_fleet_outputs(capsys, tmp_path, base, bags, dataset, summary, write_params(tmp_path))


def test_bags_from_a_list_file_and_many_bags_need_parquet(capsys, tmp_path, fleet):
    base, bags = fleet
    listing = base / 'two.txt'
    listing.write_text('robot1/run1\nrobot2/humble\n')
    code, out, err = run_cli(capsys, listing, '--params', write_params(tmp_path), '--jobs', '1')
    assert code == 0, err
    assert [line.split()[0] for line in out.splitlines()[1:3]] == ['robot1/run1',
                                                                   'robot2/humble']
    code, _, err = run_cli(capsys, listing, '--params', write_params(tmp_path), '--out',
                           tmp_path / 'all.csv')
    assert code == 2
    assert err == (f'error: --out {tmp_path}/all.csv: many bags go into one Parquet dataset: '
                   '--out NAME.parquet\n')


def _stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _address(proc, log, marker):
    """Wait for the line of `log` with `marker`; return the tcp:// address in it."""
    import re
    import time
    for _ in range(600):  # a bound on a broken start (60 s), not a timed assertion
        found = [re.search(r'tcp://127\.0\.0\.1:\d+', line)
                 for line in log.read_text().splitlines() if marker in line]
        if found and found[0]:
            return found[0].group(0)
        assert proc.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f'no {marker!r} line from {proc.args}: {log.read_text()}')


def _start(tmp_path, name, *args):
    bindir = os.path.dirname(sys.executable)
    env = dict(os.environ, PYTHONPATH=ROOT)
    log = tmp_path / f'{name}.log'
    with open(log, 'w') as f:
        proc = subprocess.Popen([os.path.join(bindir, 'dask'), *args], stdout=f, stderr=f,
                                env=env, cwd=tmp_path)
    return proc, log


@pytest.mark.slow
def test_a_fleet_on_a_dask_cluster_on_the_loopback(capsys, tmp_path, fleet):
    """A scheduler and two workers, every address on 127.0.0.1; one task per bag."""
    base, bags = fleet
    procs = []
    try:
        scheduler, log = _start(tmp_path, 'scheduler', 'scheduler', '--host', '127.0.0.1',
                                '--port', '0', '--no-dashboard')
        procs.append(scheduler)
        address = _address(scheduler, log, 'Scheduler at')
        for k in range(2):
            worker, log = _start(tmp_path, f'worker{k}', 'worker', address, '--host',
                                 '127.0.0.1', '--nthreads', '1', '--no-nanny',
                                 '--no-dashboard')
            procs.append(worker)
            _address(worker, log, 'Start worker at')
        code, out, err, dataset, summary = run_fleet(capsys, tmp_path, base, '--scheduler',
                                                     address)
        assert code == 1, err
        check_fleet_outputs(capsys, tmp_path, base, bags, dataset, summary,
                            write_params(tmp_path))
        # Every bag ran in one of the two workers, not here; both took some.
        import json
        pids = {json.load(open(p))['pid']
                for p in dataset.glob('bag=*/_summary.json')}
        assert pids <= {procs[1].pid, procs[2].pid} and len(pids) == 2
    finally:
        for proc in reversed(procs):
            _stop(proc)
