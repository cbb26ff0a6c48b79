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
The reading side of replay (`replay/source.py`): every bag a ROS user has, as raw CDR chunks.

Humble-format bags are written as Humble's rosbag2 writes them (`humble_bags.py`: sqlite3
schema 3, metadata v5, no message definitions), plus a Dashing metadata v2 bag, a split bag and
both zstd compressions; each must replay to exactly the rows of the same messages in a bag
written by rosbags (which stores definitions).
"""

import os
import sqlite3

from humble_bags import write_humble_bag
import numpy as np
import pytest
from test_replay import edge_messages, HUSKY_BAG, imu_cdr, params_file, read_csv, run_cli, T0
from test_replay import write_bag


@pytest.fixture(scope='module')
def reference_rows(tmp_path_factory):
    """Return the CSV rows of the edge messages replayed from a rosbags-written bag."""
    base = tmp_path_factory.mktemp('ref')
    bag = write_bag(base / 'rosbags', edge_messages())
    out = base / 'ref.csv'
    from arena_eval.__main__ import main
    assert main(['replay', bag, '--params', params_file(base), '--out', str(out)]) == 0
    return read_csv(out)


def replay_rows(capsys, tmp_path, bag):
    out = tmp_path / 'rows.csv'
    code, _, err = run_cli(capsys, bag, '--params', params_file(tmp_path), '--out', out)
    assert code == 0, err
    return read_csv(out), err


@pytest.mark.parametrize('kind', ['humble', 'dashing_v2', 'split', 'zstd_file', 'zstd_message'])
def test_humble_format_bags_replay_like_rosbags_written_ones(capsys, tmp_path, reference_rows,
                                                             kind):
    from rosbags.highlevel import AnyReader

    options = {'humble': {}, 'dashing_v2': {'version': 2}, 'split': {'split': 3},
               'zstd_file': {'compression': 'file'},
               'zstd_message': {'compression': 'message', 'split': 2}}[kind]
    bag = write_humble_bag(tmp_path / kind, edge_messages(), **options)
    # What the issue met: rosbags alone cannot open a bag that stores no definitions.
    with pytest.raises(Exception, match='no type definitions'):
        AnyReader([tmp_path / kind]).open()
    (header, rows), _ = replay_rows(capsys, tmp_path, bag)
    assert header == reference_rows[0]
    np.testing.assert_array_equal(rows.view(np.int64), reference_rows[1].view(np.int64))


def test_the_humble_writer_writes_schema_3_without_definitions(tmp_path):
    bag = write_humble_bag(tmp_path / 'h', edge_messages())
    db = sqlite3.connect(os.path.join(bag, 'h_0.db3'))
    assert db.execute('SELECT schema_version, ros_distro FROM schema').fetchall() == [
        (3, 'humble')]
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {'schema', 'metadata', 'topics', 'messages'}
    db.close()
    text = open(os.path.join(bag, 'metadata.yaml')).read()
    assert '  version: 5\n' in text and 'message_definition' not in text


def test_a_topic_of_a_type_not_installed_is_skipped_with_a_line(capsys, tmp_path,
                                                                reference_rows):
    messages = edge_messages() + [('/acme', 'acme_msgs/msg/Widget', T0 + 5, b'\0\1\0\0')]
    bag = write_humble_bag(tmp_path / 'custom', messages)
    (_, rows), err = replay_rows(capsys, tmp_path, bag)
    assert err.splitlines() == [
        f"warning: {bag}: topic '/acme' skipped: its type acme_msgs/msg/Widget is not installed"]
    np.testing.assert_array_equal(rows.view(np.int64), reference_rows[1].view(np.int64))


def test_definitions_come_from_the_installed_msg_files():
    from arena_eval.replay.source import installed_definitions

    types = installed_definitions('sensor_msgs/msg/Imu')
    assert {'sensor_msgs/msg/Imu', 'std_msgs/msg/Header', 'builtin_interfaces/msg/Time',
            'geometry_msgs/msg/Quaternion', 'geometry_msgs/msg/Vector3'} <= set(types)
    assert [name for name, _ in types['sensor_msgs/msg/Imu'][1]][:2] == ['header', 'orientation']
    assert installed_definitions('acme_msgs/msg/Widget') == {}


def test_chunks_hold_the_storage_bytes_aligned_in_log_time_order(tmp_path):
    from arena_eval.params import config as cfg
    from arena_eval.replay.source import ALIGN, open_bag

    messages = edge_messages()
    bag_path = write_bag(tmp_path / 'b', messages, 'mcap')
    config, errors, _ = cfg.load_params_file(params_file(tmp_path))
    assert not errors
    with open_bag(bag_path) as bag:
        conns = bag.select(config)
        assert [s.name for s in conns] == ['imu', 'joints']
        assert [s.messages for s in conns] == [13, 4]
        chunks = list(bag.chunks(conns, max_bytes=1024))
    assert len(chunks) > 2  # small chunks: several
    got = [(int(c.log_ns[k]), int(c.input[k]), bytes(c.message(k)))
           for c in chunks for k in range(len(c.log_ns))]
    for c in chunks:
        assert c.data.dtype == np.uint8 and (c.offsets % ALIGN == 0).all()
        assert c.offsets[-1] == c.data.size
    want = sorted(((t, 0 if topic == '/imu' else 1, bytes(data))
                   for topic, _, t, data in messages), key=lambda m: m[0])
    assert [g[0] for g in got] == [w[0] for w in want]
    assert sorted(got) == sorted(want)
    with open_bag(bag_path) as bag:  # a time range, both ends included
        window = [int(t) for c in bag.chunks(bag.select(config), T0 + 10 * 10**6,
                                             T0 + 340 * 10**6) for t in c.log_ns]
    assert window == [w[0] for w in want if T0 + 10 * 10**6 <= w[0] <= T0 + 340 * 10**6]


def test_ros1_chunks_are_ros2_cdr():
    from arena_eval.params import config as cfg
    from arena_eval.replay.source import open_bag
    from test_replay import HUSKY_PARAMS

    config, errors, _ = cfg.load_params_file(HUSKY_PARAMS)
    assert not errors
    with open_bag(HUSKY_BAG) as bag:
        conns = bag.select(config)
        chunk = next(bag.chunks(conns, end_ns=bag.start_ns + 10**8))
        convert = bag.converter()
        first = next(bag.reader.messages([conns[0].connections[0]]))
    assert bytes(chunk.message(0))[:4] == b'\0\1\0\0'  # CDR, little endian
    k = int(np.flatnonzero(chunk.input == 0)[0])
    assert bytes(chunk.message(k)) == bytes(convert(first[2], 'sensor_msgs/msg/Imu'))


def test_what_is_not_a_bag_says_what_a_bag_is(capsys, tmp_path):
    plain = tmp_path / 'plain'
    plain.mkdir()
    (plain / 'notes.txt').write_text('hello')
    code, _, err = run_cli(capsys, plain, '--params', params_file(tmp_path))
    assert code == 2
    assert err == (f'error: {plain}: not a bag (no metadata.yaml in this folder; a bag is a '
                   'ROS 1 .bag file, a rosbag2 folder (metadata.yaml beside its .db3 or .mcap '
                   'files), or a single .db3 or .mcap file); no bags under it either\n')


def test_bags_are_found_in_folders_and_lists(tmp_path):
    from arena_eval.replay.source import find_bags, ReplayError

    imu = [('/imu', 'sensor_msgs/msg/Imu', T0, imu_cdr(1.0))]
    one = write_bag(tmp_path / 'fleet' / 'robot1' / 'run1', imu)
    two = write_humble_bag(tmp_path / 'fleet' / 'robot2' / 'run2',
                           [('/imu', 'sensor_msgs/msg/Imu', T0, imu_cdr(1.0))])
    (tmp_path / 'fleet' / 'robot2' / 'x.mcap').write_bytes(b'')
    found = find_bags([tmp_path / 'fleet'])
    assert [str(p) for p in found] == [one, str(tmp_path / 'fleet/robot2/run2'),
                                       str(tmp_path / 'fleet/robot2/x.mcap')]
    listing = tmp_path / 'bags.txt'
    listing.write_text('# my bags\nfleet/robot1/run1\n\nfleet/robot2/run2  # humble\n')
    assert [str(p) for p in find_bags([listing])] == [one, two]
    assert [str(p) for p in find_bags([one, listing])] == [one, two]
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ReplayError, match='no bags under it'):
        find_bags([tmp_path / 'empty'])


@pytest.mark.slow
def test_reading_holds_one_chunk_at_a_time(tmp_path):
    """Python memory while reading stays near one chunk, whatever the bag's length."""
    import tracemalloc

    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores

    from arena_eval.replay.source import open_bag, Selection

    n = 200_000
    store = get_typestore(Stores.ROS2_KILTED)
    raw = imu_cdr(1.0)
    with Writer(tmp_path / 'long', version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection('/imu', 'sensor_msgs/msg/Imu', typestore=store)
        for k in range(n):
            writer.write(conn, T0 + k * 1_000_000, raw)
    total = n * (len(raw) + -len(raw) % 8)
    with open_bag(tmp_path / 'long') as bag:
        sel = Selection('imu', '/imu', 'sensor_msgs/msg/Imu', tuple(bag.connections))
        # The native MCAP reader's compiled code loads on first use: not the reading's memory.
        assert len(list(bag.chunks([sel], end_ns=bag.start_ns))) == 1
        tracemalloc.start()
        count = 0
        for chunk in bag.chunks([sel], max_bytes=1 << 20):
            count += len(chunk.log_ns)
            del chunk
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert count == n
    assert total > 60 << 20 and peak < 16 << 20, (total, peak)
