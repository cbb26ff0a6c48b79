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
The C program of the benchmarks (`tools/cfloor.c`): it builds here, does its transport work, stops.

Built into the test's temporary directory with the system compiler against the wheels' rcl, it
takes the probe's Imu and JointState over DDS, publishes the 7 doubles it reads from their CDR
(walked past the header's frame_id and the names) with the Imu stamp and `updated`, and exits 0
on SIGINT. Triggered (`--trigger imu`, both wakes), it evaluates once per Imu message, none lost
and none twice at 1 kHz, and its fallback period publishes stale results while imu is silent.
"""

import os
import re
import signal
import subprocess
import threading
import time

from arena_eval.tools import cfloor, procs
from node_harness import ACCEL, EFFORT, POSITION, Probe, VELOCITY, YAW_RATE
import pytest


def test_compiler_lookup_names_an_executable_or_none():
    cc = cfloor.compiler()
    assert cc is None or cc.startswith('/')


def test_missing_compiler_is_one_line_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(cfloor, 'compiler', lambda: None)
    with pytest.raises(cfloor.Unavailable, match='no C compiler found'):
        cfloor.build(tmp_path)


@pytest.mark.ros
def test_c_floor_reads_the_fields_and_stops_on_sigint(tmp_path):
    if cfloor.compiler() is None:
        pytest.skip('no C compiler here')
    exe = cfloor.build(tmp_path)
    probe = Probe()
    # Longer than the default strings, so the walk past them is exercised.
    probe.imu.header.frame_id = 'imu_link_with_a_long_name'
    probe.joints.name = ['shoulder_pan', 'j', 'elbow_flex_joint']
    proc = subprocess.Popen([exe, '1000'], env=procs.ros_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        probe.stream_inputs()
        expected = (*ACCEL, YAW_RATE, POSITION[2], VELOCITY[0], EFFORT[0], 0.0)  # stamp 0
        probe.wait_for(lambda: (probe.latest_result() or ())[:8] == expected, 30.0,
                       'the C floor to publish the fields of the probe')
        assert probe.label == 'c0,c1,c2,c3,c4,c5,c6,stamp,updated'
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        assert proc.wait(timeout=5.0) == 0
        assert time.monotonic() - start < 1.0
        assert b'ticks' in proc.stdout.read()
    finally:
        procs.stop(proc)
        proc.stdout.close()
        probe.close()


def _built(tmp_path_factory):
    if cfloor.compiler() is None:
        pytest.skip('no C compiler here')
    return cfloor.build(tmp_path_factory.mktemp('cfloor'))


@pytest.fixture(scope='module')
def cfloor_exe(tmp_path_factory):
    return _built(tmp_path_factory)


class Endpoint:
    """
    A reliable Imu publisher and results subscriber in their own rclpy context.

    Reliable with deep queues on both sides (and the C program started with `--reliable`), so a
    loaded machine delays messages but never drops them: the counts below are exact.
    """

    def __init__(self, depth=5000):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Imu
        from std_msgs.msg import Float64MultiArray

        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('cfloor_endpoint_%d' % os.getpid(), context=self.context)
        qos = QoSProfile(depth=depth, reliability=ReliabilityPolicy.RELIABLE)
        self.imu = Imu()
        self.imu.linear_acceleration.x, self.imu.linear_acceleration.y, \
            self.imu.linear_acceleration.z = ACCEL
        self.pub = self.node.create_publisher(Imu, '/imu', qos)
        self.lock = threading.Lock()
        self.results = []  # (stamp, updated) of every result, in arrival order
        self.sub = self.node.create_subscription(Float64MultiArray, '/arena_eval/results',
                                                 self._on_result, qos)
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self):
        while not self._stop.is_set():
            self._executor.spin_once(timeout_sec=0.05)

    def _on_result(self, msg):
        with self.lock:
            self.results.append((msg.data[7], msg.data[8]))

    def taken(self):
        with self.lock:
            return list(self.results)

    def wait_for(self, predicate, what, timeout=60.0):
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, 'timed out waiting for ' + what
            time.sleep(0.02)

    def send(self, k):
        """Publish message k, stamped k + 1 milliseconds."""
        self.imu.header.stamp.sec, ms = divmod(k + 1, 1000)
        self.imu.header.stamp.nanosec = ms * 1_000_000
        self.pub.publish(self.imu)

    def stream(self, count, rate_hz=1000.0):
        period = 1.0 / rate_hz
        next_at = time.monotonic()
        for k in range(count):
            self.send(k)
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))

    def close(self):
        import rclpy

        self._stop.set()
        self._thread.join(timeout=2.0)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _message_index(stamp):
    return round(stamp * 1000) - 1


def _start(exe, *args):
    return subprocess.Popen([exe, *args], env=procs.ros_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def _finish(proc):
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=5.0) == 0
    return proc.stdout.read().decode()


@pytest.mark.ros
@pytest.mark.parametrize('wake', ['wait', 'callback'])
def test_triggered_c_program_evaluates_once_per_message_at_1khz(cfloor_exe, wake):
    count = 3000
    end = Endpoint()
    proc = _start(cfloor_exe, '--trigger', 'imu', '--wake', wake, '--max-period', '0.5',
                  '--reliable', '--depth', '5000')
    try:
        end.wait_for(lambda: end.pub.get_subscription_count() >= 1
                     and end.sub.get_publisher_count() >= 1, 'the C program to match')
        # Its fallback evaluations show the way back works before a message is sent.
        end.wait_for(lambda: len(end.taken()) >= 1, 'a first (fallback) result')
        end.stream(count)
        end.wait_for(lambda: sum(u == 1.0 for _, u in end.taken()) >= count,
                     'a result for every message')
        time.sleep(0.3)  # a duplicate would come now
        results = end.taken()
        summary = _finish(proc)
    finally:
        procs.stop(proc)
        proc.stdout.close()
        end.close()
    on_message = [_message_index(stamp) for stamp, updated in results if updated == 1.0]
    # Every message evaluated exactly once, in the order sent.
    assert on_message == list(range(count))
    # Fallbacks (updated 0) carry a message already evaluated, or nothing (nan) before the first.
    assert all(stamp != stamp or _message_index(stamp) in range(count)
               for stamp, updated in results if updated == 0.0)
    match = re.search(r'(\d+) evaluations \((\d+) on trigger messages, (\d+) fallback\), '
                      r'(\d+) messages taken, wake (\w+)', summary)
    assert match, summary
    assert int(match.group(2)) == count and int(match.group(4)) == count
    assert match.group(5) == wake


@pytest.mark.ros
@pytest.mark.parametrize('wake', ['wait', 'callback'])
def test_fallback_period_publishes_stale_results_on_a_silent_trigger(cfloor_exe, wake):
    end = Endpoint()
    proc = _start(cfloor_exe, '--trigger', 'imu', '--wake', wake, '--max-period', '0.1',
                  '--reliable', '--depth', '100')
    try:
        end.wait_for(lambda: len(end.taken()) >= 3, 'fallback results while imu is silent')
        assert all(updated == 0.0 and stamp != stamp for stamp, updated in end.taken())
        end.wait_for(lambda: end.pub.get_subscription_count() >= 1, 'the C program to match')
        end.send(41)
        end.wait_for(lambda: any(u == 1.0 for _, u in end.taken()), 'the result of the message')
        seen = len(end.taken())
        # Silent again: the stale values keep coming, the last message's stamp with them.
        end.wait_for(lambda: len(end.taken()) >= seen + 3, 'fallback results after it')
        results = end.taken()
        summary = _finish(proc)
    finally:
        procs.stop(proc)
        proc.stdout.close()
        end.close()
    after = results[[u for _, u in results].index(1.0):]
    assert [_message_index(s) for s, _ in after] == [41] * len(after)
    assert [u for _, u in after] == [1.0] + [0.0] * (len(after) - 1)
    match = re.search(r'\((\d+) on trigger messages, (\d+) fallback\)', summary)
    assert match and int(match.group(1)) == 1 and int(match.group(2)) >= 6, summary


def test_triggered_mode_rejects_an_unknown_trigger(cfloor_exe):
    done = subprocess.run([cfloor_exe, '--trigger', 'gps'], capture_output=True, text=True,
                          env=procs.ros_env(), timeout=30)
    assert done.returncode == 2 and 'usage: cfloor' in done.stderr
