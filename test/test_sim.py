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
The simulator as a process over real DDS: topics, documented signals, clean stop.

The expected values are the module docstring's formulas written out again here, so a change
to either the formulas or the code shows up.
"""

import math
import signal
import statistics
import subprocess
import sys
import time

from arena_eval.tools import procs
import pytest

pytestmark = pytest.mark.ros

TWO_PI = 2.0 * math.pi


def expected_imu(t):
    return (0.5 * math.sin(TWO_PI * 0.5 * t), 0.5 * math.cos(TWO_PI * 0.5 * t),
            9.81 + 0.1 * math.sin(TWO_PI * 2.0 * t), 0.3 * math.sin(TWO_PI * t))


def expected_joint(t, i):
    a, w = 0.5 + 0.25 * i, TWO_PI * 0.2 * (i + 1)
    return a * math.sin(w * t), a * w * math.cos(w * t), (i + 1) * math.cos(w * t)


class Listener:
    """A subscriber to /imu and /joint_states in its own rclpy context."""

    def __init__(self):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from rclpy.signals import SignalHandlerOptions
        from sensor_msgs.msg import Imu, JointState

        self.rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node('test_sim_listener', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.imu, self.joints = [], []
        # Best effort, as the node subscribes by default: it must match the reliable sim.
        self.node.create_subscription(Imu, '/imu', self.imu.append, qos_profile_sensor_data)
        self.node.create_subscription(JointState, '/joint_states', self.joints.append,
                                      qos_profile_sensor_data)

    def wait_for(self, count, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.have(count):
            self.executor.spin_once(timeout_sec=0.05)
        return self.have(count)

    def have(self, count):
        return len(self.imu) >= count and len(self.joints) >= count

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        self.rclpy.try_shutdown(context=self.context)


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.close()


def start_sim(*params):
    args = ['--ros-args']
    for param in params:
        args += ['-p', param]
    return procs.start('arena_eval.ros.sim', args, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)


def stamp_ns(msg):
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def stop_with(proc, signum):
    """Send `signum`; return (exit code, seconds to exit)."""
    start = time.monotonic()
    proc.send_signal(signum)
    try:
        code = proc.wait(timeout=5.0)
    finally:
        procs.stop(proc)
    return code, time.monotonic() - start


def test_sim_publishes_documented_signals_and_stops_on_sigint(listener):
    start = int(time.time()) - 3  # whole seconds: t is exact from the stamps
    proc = start_sim(f'start_time:={start}.0', 'joint_count:=4', 'rate_hz:=200.0')
    try:
        assert listener.wait_for(40), proc.stderr.read1().decode() if proc.poll() else 'no msgs'
        for msg in listener.imu:
            t = (stamp_ns(msg) - start * 1_000_000_000) * 1e-9
            ax, ay, az, wz = expected_imu(t)
            acc = msg.linear_acceleration
            assert (acc.x, acc.y, acc.z) == pytest.approx((ax, ay, az), abs=1e-9)
            assert msg.angular_velocity.z == pytest.approx(wz, abs=1e-9)
            assert (msg.angular_velocity.x, msg.angular_velocity.y) == (0.0, 0.0)
            o = msg.orientation
            assert (o.x, o.y, o.z, o.w) == (0.0, 0.0, 0.0, 1.0)
            assert msg.header.frame_id == 'imu_link'
        for msg in listener.joints:
            t = (stamp_ns(msg) - start * 1_000_000_000) * 1e-9
            assert list(msg.name) == ['j0', 'j1', 'j2', 'j3']
            assert len(msg.position) == len(msg.velocity) == len(msg.effort) == 4
            for i in range(4):
                got = (msg.position[i], msg.velocity[i], msg.effort[i])
                assert got == pytest.approx(expected_joint(t, i), abs=1e-9)
            assert msg.header.frame_id == 'base_link'
        stamps = [stamp_ns(m) for m in listener.imu]
        assert stamps == sorted(stamps)
        # rate_hz:=200: samples 5 ms apart (loosely: this checks the parameter, not speed).
        period = statistics.median(b - a for a, b in zip(stamps, stamps[1:], strict=False))
        assert 2.5e6 < period < 10e6
        code, seconds = stop_with(proc, signal.SIGINT)
    finally:
        procs.stop(proc)
    assert code == 0
    assert seconds < 1.0


def test_sim_default_joints_and_sigterm(listener):
    proc = start_sim()
    try:
        assert listener.wait_for(5)
        assert list(listener.joints[-1].name) == ['j0', 'j1', 'j2']
        code, seconds = stop_with(proc, signal.SIGTERM)
    finally:
        procs.stop(proc)
    assert code == 0
    assert seconds < 1.0


def test_sim_rejects_a_bad_parameter_cleanly():
    proc = start_sim('rate_hz:=fast')
    try:
        code = proc.wait(timeout=15.0)
        err = proc.stderr.read().decode()
    finally:
        procs.stop(proc)
    assert code == 2
    assert "arena_eval_sim: error: rate_hz must be a number, got 'fast'" in err
    assert 'Traceback' not in err


def test_sim_imports_neither_numba_nor_the_evaluator():
    code = ('import sys, arena_eval.ros.sim; '
            "bad = [m for m in ('numba', 'arena_eval.engine.arena', 'arena_eval.engine.kernel') "
            'if m in sys.modules]; print(bad)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == '[]'
