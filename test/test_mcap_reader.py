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
The native MCAP reader (`replay/mcap.py`): the same chunks as rosbags' reader, or one line.

MCAP bags are written by rosbags' writer (uncompressed, zstd per chunk, zstd per file, zstd per
message, which rosbags reads instead; a split bag is two written files under one metadata.yaml).
A bulky topic makes several MCAP chunks of a small bag, and writing messages out of log-time
order makes the chunks overlap in time, with ties at equal log times across chunks. Each bag is
read twice, natively and through rosbags (`Bag._mcap_files` patched to say "not MCAP"), and the
chunks must be identical: bytes, offsets, sizes, inputs, log times, and where they are cut.
"""

import io
import random
import shutil
import struct

import numpy as np
import pytest
from test_replay import imu_cdr, joints_cdr, params_file, read_csv, run_cli, T0

MS = 1_000_000
BLOB = 'std_msgs/msg/UInt8MultiArray'


def _messages():
    """Imu at 1 kHz for 1.5 s, joints at 50 Hz, 100 kB blobs at 20 Hz, out of order in places."""
    imu = [('/imu', 'sensor_msgs/msg/Imu', T0 + k * MS, imu_cdr(k * 0.01, k)) for k in range(1500)]
    joints = [('/joints', 'sensor_msgs/msg/JointState', T0 + k * 20 * MS, joints_cdr([k, 1, k]))
              for k in range(75)]
    blob = bytes(8) + bytes(range(256)) * 400
    blobs = [('/blob', BLOB, T0 + k * 50 * MS, blob) for k in range(30)]
    messages = sorted(imu + joints + blobs, key=lambda m: m[2])
    rng = random.Random(19)
    for k in range(0, len(messages) - 40, 40):  # shuffled in blocks: chunks overlap in time
        block = messages[k:k + 40]
        rng.shuffle(block)
        messages[k:k + 40] = block
    # Ties across chunks: an Imu at the same log time as one of the first chunk, written last.
    messages.append(('/imu', 'sensor_msgs/msg/Imu', T0 + 100 * MS, imu_cdr(-1.0)))
    return messages


@pytest.fixture(scope='module')
def messages():
    return _messages()


def write_mcap(folder, messages, compression=''):
    """Write a rosbag2 MCAP bag with rosbags' writer; `compression`: '', storage, file, message."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.rosbag2.enums import CompressionFormat, CompressionMode
    from rosbags.typesys import get_typestore, Stores

    store = get_typestore(Stores.ROS2_KILTED)
    writer = Writer(folder, version=9, storage_plugin=StoragePlugin.MCAP)
    if compression:
        writer.set_compression(CompressionMode[compression.upper()], CompressionFormat.ZSTD)
    conns = {}
    with writer:
        for topic, msgtype, t, data in messages:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(conns[topic], t, data)
    return folder


def write_split(folder, messages):
    """Write a bag split into two MCAP files (topics in another order in the second)."""
    import yaml

    cut = len(messages) // 2
    first = write_mcap(folder, messages[:cut])
    second = write_mcap(folder.parent / (folder.name + '_2'),
                        sorted(messages[cut:], key=lambda m: m[0]))
    meta = [yaml.safe_load((f / 'metadata.yaml').read_text()) for f in (first, second)]
    shutil.move(second / f'{second.name}.mcap', first / f'{second.name}.mcap')
    shutil.rmtree(second)
    info, other = (m['rosbag2_bagfile_information'] for m in meta)
    counts = {t['topic_metadata']['name']: t['message_count']
              for t in other['topics_with_message_count']}
    for topic in info['topics_with_message_count']:
        topic['message_count'] += counts.get(topic['topic_metadata']['name'], 0)
    start = min(m['starting_time']['nanoseconds_since_epoch'] for m in (info, other))
    end = max(m['starting_time']['nanoseconds_since_epoch'] + m['duration']['nanoseconds']
              for m in (info, other))
    info['relative_file_paths'] += other['relative_file_paths']
    info['files'] += other['files']
    info['message_count'] += other['message_count']
    info['starting_time']['nanoseconds_since_epoch'] = start
    info['duration']['nanoseconds'] = end - start
    (first / 'metadata.yaml').write_text(yaml.safe_dump(meta[0]))
    return first


def selections(bag):
    """Imu twice (one channel, two inputs), the blobs, the joints: inputs 0 to 3."""
    from arena_eval.replay.source import Selection

    def sel(name, topic):
        conns = tuple(c for c in bag.connections if c.topic == topic)
        return Selection(name, topic, conns[0].msgtype, conns)
    return [sel('imu', '/imu'), sel('blob', '/blob'), sel('imu_again', '/imu'),
            sel('joints', '/joints')]


def read_both(monkeypatch, path, **window):
    """Return (native chunks, rosbags chunks) of `selections`; fail if not read natively."""
    from arena_eval.replay import mcap
    from arena_eval.replay.source import Bag, open_bag

    calls = []
    native_read = mcap.read_messages

    def counted(*args):
        calls.append(1)
        yield from native_read(*args)
    with monkeypatch.context() as patch, open_bag(path) as bag:
        patch.setattr(mcap, 'read_messages', counted)
        native = list(bag.chunks(selections(bag), **window))
        assert calls, 'not read natively'
        patch.setattr(Bag, '_mcap_files', lambda self, wanted: None)
        through_rosbags = list(bag.chunks(selections(bag), **window))
    assert len(calls) == 1
    return native, through_rosbags


def assert_same(native, through_rosbags):
    assert [len(c.log_ns) for c in native] == [len(c.log_ns) for c in through_rosbags]
    for a, b in zip(native, through_rosbags, strict=True):
        for field in ('data', 'offsets', 'sizes', 'input', 'log_ns'):
            x, y = getattr(a, field), getattr(b, field)
            assert x.dtype == y.dtype and np.array_equal(x, y), field


def chunk_refs(path):
    from arena_eval.replay import mcap

    with open(next(path.glob('*.mcap')), 'rb') as f:
        return mcap.chunk_refs(f)


def test_the_test_bag_has_overlapping_chunks(tmp_path, messages):
    refs = chunk_refs(write_mcap(tmp_path / 'b', messages))
    assert len(refs) >= 4
    assert all(r.channels for r in refs)
    overlaps = sum(b.start_ns <= a.end_ns for a, b in zip(refs[:-1], refs[1:], strict=True))
    assert overlaps >= 2 and refs[-1].start_ns <= T0 + 100 * MS  # the message written last


@pytest.mark.parametrize('compression', ['', 'storage', 'file'])
@pytest.mark.parametrize('max_bytes', [1 << 30, 300_000, 1])
def test_native_chunks_are_rosbags_chunks(monkeypatch, tmp_path, messages, compression,
                                          max_bytes):
    path = write_mcap(tmp_path / 'b', messages, compression)
    native, through_rosbags = read_both(monkeypatch, path, max_bytes=max_bytes)
    assert_same(native, through_rosbags)
    assert sum(len(c.log_ns) for c in native) == len(messages) + 1501  # imu read twice
    times = np.concatenate([c.log_ns for c in native])
    assert (np.diff(times) >= 0).all()
    if max_bytes == 1:
        assert all(len(np.unique(c.log_ns)) == 1 for c in native)  # one message a chunk


@pytest.mark.parametrize('window', [(T0 + 120 * MS, T0 + 777 * MS), (T0 + 100 * MS, None),
                                    (None, T0 + 100 * MS), (T0 + 5000 * MS, None)])
def test_a_time_range_cutting_chunks_gives_rosbags_chunks(monkeypatch, tmp_path, messages,
                                                          window):
    path = write_mcap(tmp_path / 'b', messages, 'storage')
    start, end = window
    native, through_rosbags = read_both(monkeypatch, path, start_ns=start, end_ns=end,
                                        max_bytes=200_000)
    assert_same(native, through_rosbags)
    times = np.concatenate([c.log_ns for c in native] or [np.empty(0, np.int64)])
    assert (start is None or times.min(initial=start) >= start)
    assert end is None or times.max(initial=end) <= end
    if window[1] == T0 + 100 * MS:  # both Imu at 100 ms (one written last), twice; joints, blob
        assert (times == end).sum() == 2 * 2 + 2


def test_split_bags_read_file_after_file_as_rosbags(monkeypatch, tmp_path, messages):
    path = write_split(tmp_path / 'split', messages)
    assert len(list(path.glob('*.mcap'))) == 2
    native, through_rosbags = read_both(monkeypatch, path, max_bytes=100_000)
    assert_same(native, through_rosbags)
    assert sum(len(c.log_ns) for c in native) == len(messages) + 1501


def test_a_single_mcap_file_and_one_without_summary(monkeypatch, tmp_path, messages):
    ordered = sorted(messages, key=lambda m: m[2])  # rosbags needs order without an index
    path = next(write_mcap(tmp_path / 'b', ordered).glob('*.mcap'))
    assert_same(*read_both(monkeypatch, path, max_bytes=250_000))
    raw = bytearray(path.read_bytes())
    raw[-37 + 9:-37 + 17] = bytes(8)  # the footer's summary start: 0, no summary
    bare = tmp_path / 'bare.mcap'
    bare.write_bytes(raw)
    from arena_eval.replay import mcap

    with open(bare, 'rb') as f:
        refs = mcap.chunk_refs(f)
    assert len(refs) >= 4 and all(r.channels is None for r in refs)  # found by a scan
    native, through_rosbags = read_both(monkeypatch, bare, max_bytes=250_000)
    assert_same(native, through_rosbags)
    assert sum(len(c.log_ns) for c in native) == len(messages) + 1501


def test_message_compressed_bags_are_read_through_rosbags(tmp_path, messages):
    from arena_eval.replay.source import open_bag

    path = write_mcap(tmp_path / 'b', messages[:50], 'message')
    with open_bag(path) as bag:
        sels = selections(bag)
        assert bag._mcap_files([c for s in sels for c in s.connections]) is None
        chunks = list(bag.chunks(sels))
    by_time = sorted((t, d) for topic, _, t, d in messages[:50] if topic == '/blob')
    got = [(int(c.log_ns[k]), bytes(c.message(k))) for c in chunks
           for k in range(len(c.log_ns)) if c.input[k] == 1]
    assert got == by_time


def test_replay_over_mcap_gives_the_rows_of_the_rosbags_read(monkeypatch, capsys, tmp_path,
                                                             messages):
    from arena_eval.replay.source import Bag

    path = write_mcap(tmp_path / 'b', messages, 'storage')
    params = params_file(tmp_path, rate=1000.0)
    rows = []
    for native in (True, False):
        out = tmp_path / f'{native}.csv'
        with monkeypatch.context() as patch:
            if not native:
                patch.setattr(Bag, '_mcap_files', lambda self, wanted: None)
            code, _, err = run_cli(capsys, path, '--params', params, '--out', out)
        assert code == 0, err
        rows.append(read_csv(out))
    (header, values), (header2, values2) = rows
    assert header == header2 and values.shape == (1500, len(header))
    assert np.isfinite(values[:, 1]).sum() > 1400
    assert np.array_equal(values.view(np.int64), values2.view(np.int64))


def _first_message_length_at(path):
    """Return the file offset of the first Message record's length in the first chunk."""
    from arena_eval.replay import mcap

    with open(path, 'rb') as f:
        ref = mcap.chunk_refs(f)[0]
        records = mcap.chunk_records(f, ref)
    at = 0
    while records[at] != mcap.OP_MESSAGE:
        at += 9 + int(records[at + 1:at + 9].view(np.uint64)[0])
    raw = path.read_bytes()
    header = 9 + 28
    name = struct.unpack_from('<I', raw, ref.offset + header)[0]
    return ref.offset + header + 4 + name + 8 + at + 1, ref


@pytest.mark.parametrize('damage', ['truncated', 'record_length', 'checksum', 'zstd_bytes'])
def test_a_damaged_mcap_is_one_line(capsys, tmp_path, damage):
    from test_replay import edge_messages

    path = write_mcap(tmp_path / 'b', edge_messages(), 'storage' if damage == 'zstd_bytes' else '')
    file = next(path.glob('*.mcap'))
    raw = bytearray(file.read_bytes())
    if damage == 'truncated':
        raw = raw[:len(raw) // 2]
    elif damage == 'record_length':
        at, _ = _first_message_length_at(file)
        raw[at:at + 8] = struct.pack('<Q', 1 << 40)
    else:
        from arena_eval.replay import mcap
        with open(file, 'rb') as f:
            ref = mcap.chunk_refs(f)[0]
        if damage == 'checksum':
            raw[ref.offset + 9 + 24:ref.offset + 9 + 28] = struct.pack('<I', 12345)
        else:  # zero the middle of the compressed records
            middle = ref.offset + ref.length // 2
            raw[middle:middle + 64] = bytes(64)
    file.write_bytes(raw)
    code, out, err = run_cli(capsys, path, '--params', params_file(tmp_path))
    assert code == 2, (out, err)
    assert err.startswith(f'error: {path}: cannot read this bag: ') and err.count('\n') == 1, err
    assert 'Traceback' not in err
    if damage == 'record_length':
        assert 'runs past' in err
    if damage == 'checksum':
        assert 'checksum mismatch' in err


def test_lz4_chunks_and_unknown_compressions():
    import lz4.frame

    from arena_eval.replay import mcap

    message = struct.pack('<HIQQ', 3, 0, T0, T0) + b'\x00\x01\x00\x00abcd'
    records = b'\x05' + struct.pack('<Q', len(message)) + message
    for name, body in (('lz4', lz4.frame.compress(records)), ('bz2', records)):
        fields = struct.pack('<QQQI', T0, T0, len(records), 0) + struct.pack('<I', len(name))
        fields += name.encode() + struct.pack('<Q', len(body)) + body
        chunk = b'\x06' + struct.pack('<Q', len(fields)) + fields
        ref = mcap.ChunkRef(T0, T0, 0, len(chunk))
        if name == 'lz4':
            assert bytes(mcap.chunk_records(io.BytesIO(chunk), ref)) == records
        else:
            with pytest.raises(mcap.McapError, match="unsupported chunk compression 'bz2'"):
                mcap.chunk_records(io.BytesIO(chunk), ref)
