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
Offline replay (`python -m arena_eval replay`): semantics, storages, outputs and user errors.

Small rosbag2 bags (sqlite3 and MCAP) are written here with rosbags' writer from messages
serialized by rclpy, so every edge case is known exactly; the real ROS 1 recording in
`test/data` covers conversion and scale. Expected outputs are computed independently (numpy
over the message list) or by the node's own `Tick`, run in-process (`tick_outputs`).
"""

import csv
import math
import os
import subprocess
import sys

from arena_eval.__main__ import main
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HUSKY_BAG = os.path.join(ROOT, 'test', 'data', 'husky_imu_odom_gps.bag')
HUSKY_PARAMS = os.path.join(ROOT, 'test', 'data', 'husky.yaml')
T0 = 1_700_000_000_000_000_000  # bag start of the written bags (ns)
MS = 1_000_000

PARAMS = """\
arena_eval:
  ros__parameters:
    rate_hz: {rate}
    stale_policy: '{policy}'
    inputs:
      imu: {{topic: /imu, type: sensor_msgs/msg/Imu, timeout: {timeout}}}
      joints: {{topic: /joints, type: sensor_msgs/msg/JointState, timeout: 0.0}}
    expressions:
      - "ax = imu.linear_acceleration.x"
      - "norm = hypot(imu.linear_acceleration.x, imu.linear_acceleration.y)"
      - "smooth = lowpass(imu.linear_acceleration.x, 0.01)"
      - "q2 = joints.position[2]"
      - "both = ax + q2"
"""


def imu_cdr(x, y=0.0):
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Imu
    msg = Imu()
    msg.header.frame_id = 'imu_link'
    msg.linear_acceleration.x = float(x)
    msg.linear_acceleration.y = float(y)
    return serialize_message(msg)


def joints_cdr(positions):
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import JointState
    return serialize_message(JointState(name=[f'j{i}' for i in range(len(positions))],
                                        position=[float(p) for p in positions]))


def write_bag(path, messages, storage='sqlite3'):
    """Write `(topic, type, log time ns, CDR)` in the order given (not sorted) to a rosbag2 bag."""
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores

    store = get_typestore(Stores.ROS2_KILTED)
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    conns = {}
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        for topic, msgtype, t, data in messages:
            if (topic, msgtype) not in conns:
                conns[topic, msgtype] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(conns[topic, msgtype], t, data)
    return str(path)


def params_file(tmp_path, rate=100.0, policy='nan', timeout=0.05, name='params.yaml'):
    path = tmp_path / name
    path.write_text(PARAMS.format(rate=rate, policy=policy, timeout=timeout))
    return str(path)


def run_cli(capsys, *args):
    code = main(['replay', *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path):
    with open(path, newline='') as f:
        rows = list(csv.reader(f))
    return rows[0], np.array([[float(v) for v in row] for row in rows[1:]])


# A stream with every edge case: a gap longer than the timeout (30.7..330 ms), messages written
# out of log-time order, joint sequences too short for index 2, two messages at the same time,
# log times between ticks (the node's receive time is the tick that takes the message).
IMU_TIMES_MS = [0, 5.5, 10, 20.2, 30.7, 330, 340.1, 345, 347.3, 360, 400, 400, 500]
IMU_X = [1.0, 2.0, 3.5, -1.25, 4.0, 7.0, 8.5, 1e300, math.inf, 0.1, 2.0, 3.0, 6.0]
JOINT_TIMES_MS = [2, 150, 340, 420]
JOINT_POS = [[0.0, 1.0, 2.5], [0.5, 1.5], [3.0, 2.0, 1.0, 0.5], [9.0, 8.0, 7.0]]


def edge_messages():
    imu = [('/imu', 'sensor_msgs/msg/Imu', T0 + round(t * MS), imu_cdr(x))
           for t, x in zip(IMU_TIMES_MS, IMU_X, strict=True)]
    joints = [('/joints', 'sensor_msgs/msg/JointState', T0 + t * MS, joints_cdr(p))
              for t, p in zip(JOINT_TIMES_MS, JOINT_POS, strict=True)]
    messages = imu + joints
    # Out of log-time order in the file: swap neighbours and move one message to the end.
    messages[2], messages[3] = messages[3], messages[2]
    messages.append(messages.pop(6))
    return messages


def expected_outputs(rate_hz, timeout_s, n_ticks, t0_ms=0.0):
    """`ax`, `q2` for each tick, computed from the message lists above (sorted by log time)."""
    period = round(1e9 / rate_hz)
    ticks = T0 + round(t0_ms * MS) + np.arange(n_ticks) * period
    ax, q2 = np.full(n_ticks, np.nan), np.full(n_ticks, np.nan)
    imu_t = T0 + np.round(np.array(IMU_TIMES_MS) * MS).astype(np.int64)
    joint_t = T0 + np.array(JOINT_TIMES_MS) * MS
    tick0 = ticks[0]
    for k, now in enumerate(ticks):
        i = np.searchsorted(imu_t, now, side='right') - 1
        if i >= 0:
            received = tick0 + -((tick0 - imu_t[i]) // period) * period
            if timeout_s == 0 or now - received <= round(timeout_s * 1e9):
                ax[k] = IMU_X[i]
        j = np.searchsorted(joint_t, now, side='right') - 1
        if j >= 0 and len(JOINT_POS[j]) > 2:
            q2[k] = JOINT_POS[j][2]
    return ax, q2


@pytest.fixture(scope='module')
def edge_bags(tmp_path_factory):
    base = tmp_path_factory.mktemp('bags')
    messages = edge_messages()
    return {storage: write_bag(base / storage, messages, storage)
            for storage in ('sqlite3', 'mcap')}


@pytest.mark.parametrize('storage', ['sqlite3', 'mcap'])
def test_csv_matches_an_independent_computation(capsys, tmp_path, edge_bags, storage):
    out = tmp_path / 'results.csv'
    code, _, err = run_cli(capsys, edge_bags[storage], '--params', params_file(tmp_path),
                           '--out', out)
    assert code == 0, err
    header, table = read_csv(out)
    assert header == ['time', 'ax', 'norm', 'smooth', 'q2', 'both']
    period = 0.01
    n = 500 // 10 + 1  # ticks at 0, 10, ..., 500 ms: the bag's last message is at 500 ms
    assert table.shape == (n, 6)
    np.testing.assert_array_equal(table[:, 0], np.round(np.arange(n) * period, 9))
    ax, q2 = expected_outputs(100.0, 0.05, n)
    np.testing.assert_array_equal(table[:, 1], ax)
    np.testing.assert_array_equal(table[:, 4], q2)
    both = np.where(np.isnan(ax) | np.isnan(q2), np.nan, ax + q2)
    np.testing.assert_array_equal(table[:, 5], both)
    # The gap (30.7 ms .. 330 ms) is longer than the 50 ms timeout. The 30.7 ms message is taken
    # (received) by the 40 ms tick, so it is fresh up to the 90 ms tick and stale from 100 ms.
    assert table[9, 1] == 4.0 and math.isnan(table[10, 1]) and math.isnan(table[32, 1])
    assert table[33, 1] == 7.0 and table[35, 1] == math.inf


def test_both_storages_and_the_tick_rate(capsys, tmp_path, edge_bags):
    tables = []
    for storage in ('sqlite3', 'mcap'):
        out = tmp_path / f'{storage}.csv'
        code, _, err = run_cli(capsys, edge_bags[storage], '--params', params_file(tmp_path),
                               '--out', out, '--rate', 1000)
        assert code == 0, err
        tables.append(read_csv(out)[1])
    np.testing.assert_array_equal(tables[0], tables[1])
    assert tables[0].shape[0] == 501
    ax, _ = expected_outputs(1000.0, 0.05, 501)
    np.testing.assert_array_equal(tables[0][:, 1], ax)


def test_start_and_duration(capsys, tmp_path, edge_bags):
    out = tmp_path / 'part.csv'
    code, _, err = run_cli(capsys, edge_bags['sqlite3'], '--params', params_file(tmp_path),
                           '--out', out, '--start', 0.335, '--duration', 0.1)
    assert code == 0, err
    _, table = read_csv(out)
    np.testing.assert_array_equal(table[:, 0], np.round(0.335 + np.arange(11) * 0.01, 9))
    ax, q2 = expected_outputs(100.0, 0.05, 11, t0_ms=335)
    np.testing.assert_array_equal(table[:, 1], ax)
    np.testing.assert_array_equal(table[:, 4], q2)
    # The first tick sees the newest message before the range (340 ms is after 335 ms).
    assert table[0, 1] == 7.0


def test_hold_policy_keeps_the_last_values_through_the_gap(capsys, tmp_path, edge_bags):
    out = tmp_path / 'hold.csv'
    code, _, err = run_cli(capsys, edge_bags['sqlite3'], '--params',
                           params_file(tmp_path, policy='hold'), '--out', out)
    assert code == 0, err
    _, table = read_csv(out)
    gap = table[9:33, 1]
    assert (gap == 4.0).all()


def test_summary_counts_messages_and_stale_time(capsys, tmp_path, edge_bags):
    code, out, err = run_cli(capsys, edge_bags['mcap'], '--params', params_file(tmp_path))
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows['imu'][1:3] == ['/imu', str(len(IMU_TIMES_MS))]
    assert rows['joints'][1:3] == ['/joints', str(len(JOINT_TIMES_MS))]
    ax, _ = expected_outputs(100.0, 0.05, 51)
    # Ticks where imu is stale: those where ax is nan (its value is always finite or inf).
    assert float(rows['imu'][3]) == pytest.approx(np.isnan(ax).sum() * 0.01)
    assert rows['ax'][4] == str(int(np.isnan(ax).sum()))
    assert err == ''  # stderr is not a terminal here: no progress bar


def test_a_topic_with_two_types_reads_only_the_configured_type(capsys, tmp_path):
    messages = edge_messages() + [('/imu', 'sensor_msgs/msg/JointState', T0 + 25 * MS,
                                   joints_cdr([5.0, 5.0, 5.0]))]
    bag = write_bag(tmp_path / 'two', messages)
    out = tmp_path / 'two.csv'
    code, _, err = run_cli(capsys, bag, '--params', params_file(tmp_path), '--out', out)
    assert code == 0, err
    assert "warning: topic '/imu' also has messages of type sensor_msgs/msg/JointState" in err
    ax, _ = expected_outputs(100.0, 0.05, 51)
    np.testing.assert_array_equal(read_csv(out)[1][:, 1], ax)


def test_remap_reads_another_topic(capsys, tmp_path):
    messages = [('/imu/raw', 'sensor_msgs/msg/Imu', T0 + t * MS, imu_cdr(t))
                for t in (0, 10, 20)] + [('/joints', 'sensor_msgs/msg/JointState', T0,
                                          joints_cdr([0, 0, 1]))]
    bag = write_bag(tmp_path / 'remap', messages)
    out = tmp_path / 'remap.csv'
    code, _, err = run_cli(capsys, bag, '--params', params_file(tmp_path), '--out', out,
                           '--remap', 'imu=/imu/raw')
    assert code == 0, err
    np.testing.assert_array_equal(read_csv(out)[1][:, 1], [0.0, 10.0, 20.0])


@pytest.mark.parametrize('name,extra', [('results.mcap', []), ('results/', []),
                                        ('results.bag2', ['--format', 'rosbag2'])])
def test_bag_output_reads_back(capsys, tmp_path, edge_bags, name, extra):
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import get_typestore, Stores
    from pathlib import Path

    out = tmp_path / name
    code, _, err = run_cli(capsys, edge_bags['sqlite3'], '--params', params_file(tmp_path),
                           '--out', f'{tmp_path}/{name}', *extra)
    assert code == 0, err
    csv_out = tmp_path / 'same.csv'
    assert run_cli(capsys, edge_bags['sqlite3'], '--params', params_file(tmp_path),
                   '--out', csv_out)[0] == 0
    table = read_csv(csv_out)[1]
    store = get_typestore(Stores.ROS2_KILTED)
    with AnyReader([Path(out)], default_typestore=store) as reader:
        assert [(c.topic, c.msgtype) for c in reader.connections] == [
            ('/arena_eval/results', 'std_msgs/msg/Float64MultiArray')]
        rows = [(t, reader.deserialize(raw, c.msgtype)) for c, t, raw in reader.messages()]
    assert len(rows) == len(table)
    assert [t for t, _ in rows] == [T0 + k * 10 * MS for k in range(len(table))]
    assert rows[0][1].layout.dim[0].label == 'ax,norm,smooth,q2,both'
    np.testing.assert_array_equal(np.array([m.data for _, m in rows]), table[:, 1:])
    if name.endswith('.mcap'):
        assert out.is_file()
    else:
        assert (out / 'metadata.yaml').is_file()


def test_plot(capsys, tmp_path, edge_bags):
    png = tmp_path / 'plot.png'
    code, _, err = run_cli(capsys, edge_bags['sqlite3'], '--params', params_file(tmp_path),
                           '--plot', png, '--plot-group', 'ax,smooth')
    assert code == 0, err
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    code, _, err = run_cli(capsys, edge_bags['sqlite3'], '--params', params_file(tmp_path),
                           '--plot', png, '--plot-group', 'ax,smoth')
    assert code == 2
    assert err == "error: --plot-group: no output 'smoth' (did you mean 'smooth'?)\n"


def one_error_line(code, err):
    assert code == 2
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    assert 'Traceback' not in err
    return lines[0]


def test_user_errors_are_one_line(capsys, tmp_path, edge_bags):
    params = params_file(tmp_path)
    bag = edge_bags['sqlite3']
    line = one_error_line(*run_cli(capsys, tmp_path / 'nothing.bag', '--params', params)[::2])
    assert 'no such bag' in line
    garbage = tmp_path / 'garbage.bag'
    garbage.write_bytes(b'not a bag at all')
    line = one_error_line(*run_cli(capsys, garbage, '--params', params)[::2])
    assert 'cannot read this bag' in line
    line = one_error_line(*run_cli(capsys, bag, '--params', params, '--remap',
                                   'imu=/imu_data')[::2])
    assert line == ("error: input 'imu': the bag has no topic '/imu_data' "
                    "(did you mean '/imu'? the bag has: /imu, /joints)")
    line = one_error_line(*run_cli(capsys, bag, '--params', params, '--remap',
                                   'imu=/joints')[::2])
    assert line == ("error: input 'imu': topic '/joints' has type sensor_msgs/msg/JointState "
                    'in the bag, the params file says sensor_msgs/msg/Imu')
    line = one_error_line(*run_cli(capsys, bag, '--params', params, '--start', 3)[::2])
    assert line.startswith('error: empty time range: --start 3 s is after the bag ends')
    line = one_error_line(*run_cli(capsys, bag, '--params', params, '--remap', 'im=/x')[::2])
    assert line == "error: --remap im: no such input (did you mean 'imu'?)"
    line = one_error_line(*run_cli(capsys, bag, '--params', params, '--rate', 0)[::2])
    assert '--rate' in line
    empty = write_bag(tmp_path / 'empty', [])
    line = one_error_line(*run_cli(capsys, empty, '--params', params)[::2])
    assert line == 'error: the bag has no messages'
    existing = tmp_path / 'exists.csv'
    existing.write_text('')
    line = one_error_line(*run_cli(capsys, bag, '--params', params, '--out', existing)[::2])
    assert 'exists already' in line


def test_params_file_errors_are_positioned(capsys, tmp_path, edge_bags):
    bad = tmp_path / 'bad.yaml'
    bad.write_text(PARAMS.format(rate=100, policy='nan', timeout=0.05).replace(
        'imu.linear_acceleration.x"', 'imu.linear_acceleraton.x"', 1))
    code, _, err = run_cli(capsys, edge_bags['sqlite3'], '--params', bad)
    assert code == 2
    assert err.startswith(f'{bad}:') and ': error: ' in err and 'Traceback' not in err


def test_command_line_process(tmp_path, edge_bags):
    """`python -m arena_eval replay` as a user runs it: exit codes and stderr."""
    env = dict(os.environ)
    result = subprocess.run(
        [sys.executable, '-m', 'arena_eval', 'replay', str(tmp_path / 'missing'), '--params',
         params_file(tmp_path)], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert result.returncode == 2
    assert result.stderr.startswith('error: ') and result.stderr.count('\n') == 1
    result = subprocess.run(
        [sys.executable, '-m', 'arena_eval', 'replay', edge_bags['mcap'], '--params',
         params_file(tmp_path), '--out', str(tmp_path / 'p.csv')], capture_output=True,
        text=True, timeout=120, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ''


# ----- equivalence with the node's tick --------------------------------------------------------

def tick_outputs(config, bag, rate_hz, n_ticks, convert=None, raw=False, typed=None):
    """
    Run the node's compiled tick in-process over a bag's messages; return what it published.

    Each message's CDR bytes are queued for its input before the first tick at or after its
    log time (in log-time order); the tick (`offline_tick.OfflineTick`, the node's compiled
    tick without rcl) takes the newest, walks its plan, copies, steps; `~/results` is its
    outputs (as the pre-serialized results message's bytes with `raw`). With `typed` (a
    dict), each typed output's published bytes are put in it by name; their 'now' stamps read
    the tick's bag time (a /clock message per tick).
    """
    from offline_tick import OfflineTick
    from rclpy.serialization import serialize_message
    from rosgraph_msgs.msg import Clock

    from arena_eval.msgtypes.templates import results_template
    from arena_eval.replay.source import open_bag, topic_name

    tick = OfflineTick(config, clock=True)
    topics = {topic_name(cfg.topic): name for name, cfg in config.inputs.items()}
    reader = open_bag(bag).reader
    start = reader.start_time
    period = round(1e9 / rate_hz)
    queue = []
    for order, (conn, t, data) in enumerate(reader.messages(stop=start + n_ticks * period)):
        name = topics.get(conn.topic)
        if name is None or conn.msgtype != config.inputs[name].type_name:
            continue
        queue.append((t, order, name, bytes(convert(data, conn.msgtype) if convert else data)))
    reader.close()
    queue.sort()
    at = 0
    rows = []
    clock = Clock()
    for k in range(n_ticks):
        now = start + k * period
        while at < len(queue) and queue[at][0] <= now:
            tick.push(queue[at][2], queue[at][3])
            at += 1
        clock.clock.sec, clock.clock.nanosec = divmod(now, 1_000_000_000)
        tick.push('clock', serialize_message(clock))
        tick(now, period / 1e9)
        rows.append(list(tick.outputs().values()))
    if typed is not None:
        typed.update(tick.sent)
    if raw:
        template, view = results_template(tuple(tick.outputs()))
        sent = []
        for row in rows:
            view[:] = row
            sent.append(bytes(template))
        return sent
    return np.array(rows)


def bits(a):
    return np.ascontiguousarray(a).view(np.int64)


@pytest.mark.parametrize('policy', ['nan', 'hold'])
def test_replay_equals_the_node_tick(tmp_path, edge_bags, policy):
    from arena_eval.params import config as cfg
    from arena_eval.replay.core import Replay

    config, errors, _ = cfg.load_params_file(params_file(tmp_path, rate=1000.0, policy=policy,
                                                         timeout=0.0043))
    assert not errors
    replay = Replay(config, edge_bags['mcap'])
    result = replay.run()
    replay.close()
    expected = tick_outputs(config, edge_bags['mcap'], 1000.0, replay.n_ticks)
    assert np.array_equal(bits(result.values), bits(expected))


def test_replay_equals_the_node_tick_on_the_ros1_recording():
    from arena_eval.params import config as cfg
    from arena_eval.replay.core import Replay
    from arena_eval.replay.source import _ros1_converter, open_bag

    config, errors, _ = cfg.load_params_file(HUSKY_PARAMS)
    assert not errors
    replay = Replay(config, HUSKY_BAG, duration=20.0)
    result = replay.run()
    convert = _ros1_converter(replay.reader)
    replay.close()
    assert result.values.shape == (20_001, 7)
    expected = tick_outputs(config, HUSKY_BAG, 1000.0, replay.n_ticks, convert)
    assert np.array_equal(bits(result.values), bits(expected))
    assert not np.isnan(result.values[1000:]).any()
    # Converted independently: rosbags' own ROS 1 deserialization gives the same first value.
    reader = open_bag(HUSKY_BAG).reader
    conn = next(c for c in reader.connections if c.topic == '/imu/data')
    _, _, raw = next(reader.messages([conn]))
    first = reader.deserialize(raw, conn.msgtype)
    reader.close()
    ax = first.linear_acceleration
    assert result.values[0, 0] == math.sqrt(ax.x ** 2 + ax.y ** 2 + ax.z ** 2)


def test_ros1_conversion_matches_rosbags_migration():
    from rosbags.convert.converter import migrate_bytes
    from rosbags.typesys import get_typestore, Stores

    from arena_eval.replay.source import _ros1_converter, open_bag

    reader = open_bag(HUSKY_BAG).reader
    convert = _ros1_converter(reader)
    store = get_typestore(Stores.ROS2_KILTED)
    seen = {}
    for conn, _, raw in reader.messages():
        if seen.get(conn.topic, 0) >= 3:
            continue
        seen[conn.topic] = seen.get(conn.topic, 0) + 1
        for _ in range(2):  # the first call checks the fast path, the second uses it
            assert bytes(convert(raw, conn.msgtype)) == bytes(migrate_bytes(
                reader.typestore, store, conn.msgtype, conn.msgtype, {}, raw,
                src_is2=False, dst_is2=True))
    reader.close()
    assert len(seen) == 3
    # All three types took the byte-to-byte path once checked.
    assert convert.direct == dict.fromkeys(
        ('sensor_msgs/msg/Imu', 'nav_msgs/msg/Odometry', 'sensor_msgs/msg/NavSatFix'), True)


def test_husky_summary(capsys):
    code, out, err = run_cli(capsys, HUSKY_BAG, '--params', HUSKY_PARAMS, '--quiet')
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows['imu'][1:3] == ['/imu/data', '11865']
    assert rows['odom'][1:3] == ['/husky_velocity_controller/odom', '3952']
    assert rows['fix'][1:3] == ['/fix', '989']
    assert 9.0 < float(rows['accel_norm'][2]) < 10.5  # the mean: about g
    assert 'ticks at 1000 Hz' in out


def test_progress_bar_only_on_a_terminal(tmp_path):
    """A bar on stderr when it is a terminal (a pty here), none with --quiet."""
    import fcntl
    import pty
    import struct
    import termios

    def stderr_of(*extra):
        master, slave = pty.openpty()
        # A new pty is 0 columns wide, where tqdm draws nothing: give it a terminal's size.
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 100, 0, 0))
        try:
            result = subprocess.run(
                [sys.executable, '-m', 'arena_eval', 'replay', HUSKY_BAG, '--params',
                 HUSKY_PARAMS, '--duration', '10', *extra], stdout=subprocess.DEVNULL,
                stderr=slave, timeout=120, cwd=ROOT)
            os.close(slave)
            slave = None
            chunks = []
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the other side is closed and drained
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        assert result.returncode == 0
        return b''.join(chunks).decode(errors='replace')

    shown = stderr_of()
    assert 'ticking' in shown and 'tick/s' in shown
    assert stderr_of('--quiet') == ''


def test_paths_through_sequences_of_messages_are_read_by_the_plan(tmp_path):
    """A path through a sequence of messages: the decode plan reads it, as in the node."""
    from geometry_msgs.msg import PoseStamped
    from nav_msgs.msg import Path as PathMsg
    from rclpy.serialization import serialize_message

    from arena_eval.params import config as cfg
    from arena_eval.replay.core import Replay

    def path_cdr(xs):
        msg = PathMsg()
        msg.poses = [PoseStamped() for _ in xs]
        for pose, x in zip(msg.poses, xs, strict=True):
            pose.pose.position.x = float(x)
        return serialize_message(msg)

    bag = write_bag(tmp_path / 'path', [
        ('/plan', 'nav_msgs/msg/Path', T0 + t * MS, path_cdr(xs))
        for t, xs in ((0, [1.0, 2.0]), (20, [3.0]), (40, [5.0, 6.0, 7.0]))])
    params = tmp_path / 'path.yaml'
    params.write_text("""\
arena_eval:
  ros__parameters:
    rate_hz: 100.0
    inputs:
      plan: {topic: plan, type: nav_msgs/msg/Path, timeout: 0.0}
    expressions:
      - "x1 = plan.poses[1].pose.position.x"
""")
    config, errors, _ = cfg.load_params_file(str(params))
    assert not errors
    replay = Replay(config, bag)
    result = replay.run()
    replay.close()
    np.testing.assert_array_equal(result.values[:, 0], [2.0, 2.0, np.nan, np.nan, 6.0])
    expected = tick_outputs(config, bag, 100.0, replay.n_ticks)
    assert np.array_equal(bits(result.values), bits(expected))


def test_an_input_without_messages_in_the_range_stays_stale(capsys, tmp_path):
    messages = [('/imu', 'sensor_msgs/msg/Imu', T0 + t * MS, imu_cdr(1.0))
                for t in range(0, 100, 10)]
    messages.append(('/joints', 'sensor_msgs/msg/JointState', T0 + 90 * MS,
                     joints_cdr([1, 2, 3])))
    bag = write_bag(tmp_path / 'late', messages)
    code, out, err = run_cli(capsys, bag, '--params', params_file(tmp_path), '--duration', 0.05)
    assert code == 0, err
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows['joints'][2:5] == ['0', '0.060', '100.00']
    assert rows['q2'][1:] == ['-', '-', '-', '6']
    assert rows['ax'][1:] == ['1', '1', '1', '0']


def test_console_script_entry_and_bench(tmp_path, edge_bags):
    """`arena_eval_replay` (tools.replay.main) and `bench --replay` on a small bag."""
    import io

    from arena_eval.tools import replaybench
    from arena_eval.tools.replay import main as replay_main

    assert replay_main([str(tmp_path / 'missing'), '--params', params_file(tmp_path)]) == 2
    out = tmp_path / 'script.csv'
    assert replay_main([edge_bags['sqlite3'], '--params', params_file(tmp_path), '--out',
                        str(out)]) == 0
    assert read_csv(out)[1].shape == (51, 6)
    text = io.StringIO()
    assert replaybench.run(params_file=params_file(tmp_path, rate=1000.0),
                           bag=edge_bags['mcap'], out=text) == 0
    report = text.getvalue()
    assert '501 ticks' in report and 'ticks/s' in report and 'x real time' in report
    assert 'bit-identical' in report


def test_publish_individual_writes_the_per_output_topics(capsys, tmp_path, edge_bags):
    """With `publish_individual` the bag also has `/arena_eval/out/<name>`, as the node has."""
    from pathlib import Path

    from rosbags.highlevel import AnyReader
    from rosbags.typesys import get_typestore, Stores

    params = tmp_path / 'individual.yaml'
    params.write_text(PARAMS.format(rate=100.0, policy='nan', timeout=0.05).replace(
        "    stale_policy: 'nan'\n", "    stale_policy: 'nan'\n    publish_individual: true\n"))
    out = tmp_path / 'individual.mcap'
    code, _, err = run_cli(capsys, edge_bags['sqlite3'], '--params', params, '--out', out)
    assert code == 0, err
    ax, _ = expected_outputs(100.0, 0.05, 51)
    with AnyReader([Path(out)], default_typestore=get_typestore(Stores.ROS2_KILTED)) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        conn = next(c for c in reader.connections if c.topic == '/arena_eval/out/ax')
        values = [reader.deserialize(raw, c.msgtype).data
                  for c, _, raw in reader.messages([conn])]
    assert topics == {'/arena_eval/results': 'std_msgs/msg/Float64MultiArray',
                      **{f'/arena_eval/out/{name}': 'std_msgs/msg/Float64'
                         for name in ('ax', 'norm', 'smooth', 'q2', 'both')}}
    np.testing.assert_array_equal(values, ax)


def test_the_output_bag_holds_the_bytes_the_tick_publishes(capsys, tmp_path, edge_bags):
    from pathlib import Path

    from rosbags.highlevel import AnyReader

    from arena_eval.params import config as cfg

    params = params_file(tmp_path, rate=1000.0, policy='hold', timeout=0.0043)
    out = tmp_path / 'tick.mcap'
    code, _, err = run_cli(capsys, edge_bags['sqlite3'], '--params', params, '--out', out)
    assert code == 0, err
    with AnyReader([Path(out)]) as reader:
        written = [bytes(data) for _, _, data in reader.messages()]
    config, _, _ = cfg.load_params_file(params)
    assert written == tick_outputs(config, edge_bags['sqlite3'], 1000.0, len(written), raw=True)


TYPED = """\
    outputs:
      tilt:
        topic: ~/tilt
        type: geometry_msgs/msg/Vector3Stamped
        stamp: imu
        frame_id: base_link
        every: 4
        fields: ["vector.x = smooth", "vector.y = imu.linear_acceleration.y * 2"]
      level:
        topic: /level
        type: std_msgs/msg/Int8
        fields: ["data = q2 * 100"]
        on_stale: stale_fields
        stale_fields: ["data = -1"]
      clock:
        topic: /clocked
        type: geometry_msgs/msg/PointStamped
        stamp: now
        every: 3
        fields: ["point.z = both"]
        on_stale: publish
"""


def test_typed_outputs_in_the_bag_are_what_the_tick_publishes(capsys, tmp_path, edge_bags):
    """Each typed output's messages, on its topic at the ticks the node publishes it."""
    from pathlib import Path

    from rclpy.serialization import deserialize_message
    from rosbags.highlevel import AnyReader

    from arena_eval.params import config as cfg

    params = tmp_path / 'typed.yaml'
    params.write_text(PARAMS.format(rate=1000.0, policy='nan', timeout=0.0043) + TYPED)
    out = tmp_path / 'typed.mcap'
    code, _, err = run_cli(capsys, edge_bags['mcap'], '--params', params, '--out', out)
    assert code == 0, err
    with AnyReader([Path(out)]) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        written = {topic: [(t, bytes(data)) for c, t, data in reader.messages()
                           if c.topic == topic] for topic in topics}
    assert topics == {'/arena_eval/results': 'std_msgs/msg/Float64MultiArray',
                      '/arena_eval/tilt': 'geometry_msgs/msg/Vector3Stamped',
                      '/level': 'std_msgs/msg/Int8', '/clocked': 'geometry_msgs/msg/PointStamped'}
    n_ticks = len(written['/arena_eval/results'])
    config, _, _ = cfg.load_params_file(params)
    typed = {}
    tick_outputs(config, edge_bags['mcap'], 1000.0, n_ticks, typed=typed)
    # Compared as messages (their reprs, so nan equals nan): the serializer leaves the
    # alignment padding bytes undefined.
    for name, topic in (('tilt', '/arena_eval/tilt'), ('level', '/level'),
                        ('clock', '/clocked')):
        msg_type = config.outputs[name].msg_type
        assert [repr(deserialize_message(data, msg_type)) for _, data in written[topic]] == [
            repr(deserialize_message(data, msg_type)) for data in typed[name]], name
    # The same rule as the node's (`templates.decide`): tilt (on_stale skip, the default)
    # leaves out the due ticks its imu was stale on, level publishes its stale_fields then,
    # clock (on_stale publish) publishes what the expressions give.
    results_times = [t for t, _ in written['/arena_eval/results']]
    tilt_times = [t for t, _ in written['/arena_eval/tilt']]
    assert set(tilt_times) < set(results_times[::4]) and len(tilt_times) > 10
    assert [t for t, _ in written['/clocked']] == results_times[::3]
    levels = [deserialize_message(data, config.outputs['level'].msg_type).data
              for _, data in written['/level']]
    assert len(levels) == n_ticks and {-1, 127} <= set(levels)  # 2.5 * 100 saturates


MSGTIME_PARAMS = """\
arena_eval:
  ros__parameters:
    rate_hz: 1000.0
    stale_policy: '{policy}'
    inputs:
      imu: {{topic: /imu, type: sensor_msgs/msg/Imu, timeout: 0.0043}}
      level: {{topic: /level, type: std_msgs/msg/Float64, timeout: 0.0}}
    expressions:
      - "v = ddt_msg(imu.linear_acceleration.x)"
      - "w = ddt(imu.linear_acceleration.x)"
      - "f = fresh(imu)"
      - "estop = not fresh(imu)"
      - "a = age(imu)"
      - "u = updated(imu)"
      - "s = stamp(imu)"
      - "ls = stamp(level)"
      - "lv = ddt_msg(level.data * 2)"
      - "la = age(level) + updated(level)"
"""


def stamped_imu_cdr(stamp_ns, x):
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import Imu
    msg = Imu()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.linear_acceleration.x = float(x)
    return serialize_message(msg)


@pytest.mark.parametrize('policy', ['nan', 'hold'])
def test_replay_equals_the_node_tick_on_message_time(tmp_path, policy):
    """
    Every message-time function, replayed and ticked: bit-identical.

    Imu at ~1 kHz with jittered log times (0, 1 or 2 messages per tick), a gap longer than the
    timeout, a stamp that repeats and one that goes back (receive-time fall-back); Float64 has
    no header.
    """
    from rclpy.serialization import serialize_message
    from std_msgs.msg import Float64

    from arena_eval.params import config as cfg
    from arena_eval.replay.core import Replay

    imu_ms = [0.2, 1.1, 2.9, 3.0, 3.95, 5.5, 6.1, 7.0, 15.0, 16.0, 17.2, 18.0, 19.0, 20.5]
    stamps = [round(5e9 + t * MS) for t in imu_ms]
    stamps[10] = stamps[9]        # a repeated stamp
    stamps[12] = stamps[11] - MS  # a stamp going back
    messages = [('/imu', 'sensor_msgs/msg/Imu', T0 + round(t * MS),
                 stamped_imu_cdr(stamp, 2.0 * stamp / 1e9))
                for t, stamp in zip(imu_ms, stamps, strict=True)]
    messages += [('/level', 'std_msgs/msg/Float64', T0 + t * MS, serialize_message(
        Float64(data=float(t) ** 2))) for t in (1, 4, 9, 10, 21)]
    bag = write_bag(tmp_path / 'bag', messages, 'mcap')
    path = tmp_path / 'msgtime.yaml'
    path.write_text(MSGTIME_PARAMS.format(policy=policy))
    config, errors, _ = cfg.load_params_file(str(path))
    assert not errors
    replay = Replay(config, bag)
    result = replay.run()
    replay.close()
    expected = tick_outputs(config, bag, 1000.0, replay.n_ticks)
    assert np.array_equal(bits(result.values), bits(expected))
    out = dict(zip(result.outputs, result.values.T, strict=True))
    # Not vacuous: stale ticks read fresh 0 (never nan), ddt_msg is the stamps' slope 2.
    assert {0.0, 1.0} <= set(out['f']) and not np.isnan(out['f']).any()
    assert (out['estop'] == 1.0 - out['f']).all()
    assert out['v'][3] == 2.0 and math.isnan(out['ls'][5])
    assert out['u'].sum() > 5 and np.isfinite(out['lv'][1:]).all() and out['lv'][-1] != 0.0


def joint_cdr_at(stamp_ns, position, velocity):
    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import JointState
    msg = JointState(name=['j0', 'j1', 'j2'], position=[0.0, 0.0, position],
                     velocity=[0.0, 0.0, velocity], effort=[0.0, 0.0, 0.0])
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return serialize_message(msg)


def test_the_shipped_q2_rate_follows_the_velocity_where_tick_to_tick_ddt_aliases(
        capsys, tmp_path):
    """config/default.yaml's q2_rate on a 1 kHz /joint_states whose arrivals jitter by < 1 ms."""
    from arena_eval.params.config import default_params_file

    n, w = 2000, 2 * math.pi * 0.5  # 2 s of a 0.5 Hz swing: velocity up to pi rad/s
    messages = []
    for k in range(n):
        stamp = T0 + k * MS
        # Received 0.5 to 1.5 ms late, varying (derandomized): some ticks take none, some two.
        late = 500_000 + (k * 7919) % 1000 * 1000
        messages.append(('/joint_states', 'sensor_msgs/msg/JointState', stamp + late,
                         joint_cdr_at(stamp, math.sin(w * k / 1e3), w * math.cos(w * k / 1e3))))
        if k % 10 == 0:  # the shipped config reads an IMU too
            messages.append(('/imu', 'sensor_msgs/msg/Imu', stamp, imu_cdr(0.0)))
    bag = write_bag(tmp_path / 'joints', messages)
    shipped = open(default_params_file()).read()
    line = '      - "q2_rate = ddt_msg(joints.position[2])"\n'
    assert line in shipped
    # The shipped config, and the old form, each with the velocity the messages carry beside.
    with_v2 = line + '      - "v2 = joints.velocity[2]"\n'
    for name, text in (('shipped', shipped.replace(line, with_v2)),
                       ('old', shipped.replace(line, with_v2.replace('ddt_msg', 'ddt')))):
        (tmp_path / f'{name}.yaml').write_text(text)
        code, _, err = run_cli(capsys, bag, '--params', tmp_path / f'{name}.yaml',
                               '--out', tmp_path / f'{name}.csv')
        assert code == 0, err
    off = {}
    for name in ('shipped', 'old'):
        header, rows = read_csv(tmp_path / f'{name}.csv')
        q2_rate, v2 = rows[:, header.index('q2_rate')], rows[:, header.index('v2')]
        steady = slice(10, len(rows) - 10)  # past the first messages
        off[name] = np.abs(q2_rate[steady] - v2[steady])
        assert np.isfinite(off[name]).all(), name
    # A secant over the last two messages taken (<= 3 ms apart) is within w^2 * 3 ms / 2 =
    # 0.015 of the newer one's velocity; tick-to-tick ddt is 0 on a tick without a message and
    # about doubled after it: more than half off on many ticks.
    assert off['shipped'].max() < 0.03, off['shipped'].max()
    assert (off['old'] > 0.5 * np.abs(v2[steady]) + 0.03).mean() > 0.02, \
        np.sort(off['old'])[-10:]


# ----- streaming over bag time -------------------------------------------------------------------

STREAM_PARAMS = MSGTIME_PARAMS + """\
      - "smooth = lowpass(imu.linear_acceleration.x, 0.01)"
      - "tilt_x = smooth * 2"
    outputs:
      tilt:
        topic: ~/tilt
        type: geometry_msgs/msg/Vector3Stamped
        stamp: imu
        every: 2
        fields: ["vector.x = tilt_x", "vector.y = v", "vector.z = imu.linear_acceleration.y"]
"""


def stream_bag(tmp_path):
    """Stamped Imu with jitter, ties and a gap longer than its timeout; Float64 without header."""
    from rclpy.serialization import serialize_message
    from std_msgs.msg import Float64

    imu_ms = [0.2, 1.1, 2.9, 3.0, 3.0, 3.95, 5.5, 6.1, 7.0, 15.0, 16.0, 17.2, 18.0, 19.0, 20.5,
              23.0, 23.4, 31.0, 31.5, 40.0]
    stamps = [round(5e9 + t * MS) for t in imu_ms]
    stamps[11] = stamps[10]        # a repeated stamp
    stamps[13] = stamps[12] - MS   # a stamp going back
    messages = [('/imu', 'sensor_msgs/msg/Imu', T0 + round(t * MS),
                 stamped_imu_cdr(stamp, 2.0 * stamp / 1e9 + k))
                for k, (t, stamp) in enumerate(zip(imu_ms, stamps, strict=True))]
    messages += [('/level', 'std_msgs/msg/Float64', T0 + t * MS, serialize_message(
        Float64(data=float(t) ** 2))) for t in (1, 4, 9, 10, 21, 30, 38)]
    return write_bag(tmp_path / 'stream', messages, 'mcap')


@pytest.mark.parametrize('window_ticks,chunk_bytes', [(1, 1), (3, 1), (7, 300), (5, 1 << 20)])
@pytest.mark.parametrize('start', [None, 0.0035])
def test_small_windows_give_the_rows_of_one_window(tmp_path, window_ticks, chunk_bytes, start):
    """
    Ticked in windows of a few ticks over chunks of one message: the same bits as one window.

    Every recorded column (outputs, typed outputs' hidden ones, inputs, valid flags) and the
    freshness, across windows that split the imu gap (its timeout expires inside a later
    window), message ties, the stateful lowpass and ddt, and a range starting after messages.
    """
    from arena_eval.params import config as cfg
    from arena_eval.replay.core import Replay

    bag = stream_bag(tmp_path)
    path = tmp_path / 'stream.yaml'
    path.write_text(STREAM_PARAMS.format(policy='hold'))
    config, errors, _ = cfg.load_params_file(str(path))
    assert not errors, errors

    def replayed(**window):
        replay = Replay(config, bag, start=start)
        blocks = sum(1 for _ in replay.blocks(**window))
        result = replay.run(**window)
        replay.close()
        return result, blocks

    whole, one = replayed()
    small, many = replayed(window_ticks=window_ticks, chunk_bytes=chunk_bytes)
    assert one == 1 and many >= whole.recorded.shape[0] // window_ticks
    assert np.array_equal(bits(small.recorded), bits(whole.recorded))
    assert np.array_equal(small.fresh, whole.fresh)
    assert [t.messages for t in small.tracks] == [t.messages for t in whole.tracks]
    out = dict(zip(whole.outputs, whole.values.T, strict=True))
    # Not vacuous: the imu goes stale in the gap and comes back, message time moves.
    assert {0.0, 1.0} <= set(out['f']) and out['u'].sum() > 5
    assert np.isfinite(out['smooth']).all() and len(set(out['v'])) > 3
    if start is None:
        expected = tick_outputs(config, bag, 1000.0, len(whole.times_ns))
        assert np.array_equal(bits(small.values), bits(expected))


def test_memory_does_not_grow_with_the_bag(tmp_path):
    """
    Streamed: the peak of what replay allocates (tracemalloc) is the same for a bag 4x longer.

    Whole-bag replay held every decoded message and every row: 4x the bag, ~4x the peak.
    """
    import tracemalloc

    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores

    from arena_eval.params import config as cfg
    from arena_eval.replay.core import Replay
    from arena_eval.tools.replaybench import MEMORY_PARAMS

    store = get_typestore(Stores.ROS2_KILTED)
    types = store.types
    raw = store.serialize_cdr(types['geometry_msgs/msg/Vector3Stamped'](
        types['std_msgs/msg/Header'](types['builtin_interfaces/msg/Time'](0, 0), 'imu'),
        types['geometry_msgs/msg/Vector3'](1.0, 2.0, 3.0)), 'geometry_msgs/msg/Vector3Stamped')
    path = tmp_path / 'memory.yaml'
    path.write_text(MEMORY_PARAMS.format(rate=1000.0))
    config, errors, _ = cfg.load_params_file(str(path))
    assert not errors, errors

    def peak_of(n):
        folder = tmp_path / f'bag{n}'
        with Writer(folder, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
            conn = writer.add_connection('/v', 'geometry_msgs/msg/Vector3Stamped',
                                         typestore=store)
            for k in range(n):
                writer.write(conn, T0 + k * MS, raw)
        replay = Replay(config, folder)
        tracemalloc.start()
        try:
            rows = sum(b.count for b in replay.blocks(window_ticks=2000, chunk_bytes=64 << 10))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            replay.close()
        assert rows == n
        return peak

    short, long = peak_of(20_000), peak_of(80_000)
    # What the longer bag's rows alone would take in memory (8 bytes a column a tick).
    rows_bytes = 80_000 * 8 * len(Replay(config, tmp_path / 'bag20000').record_slots())
    assert long < 1.25 * short + (1 << 20) and long < rows_bytes, (short, long, rows_bytes)
