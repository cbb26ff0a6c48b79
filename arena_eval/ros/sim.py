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
The sensor simulator `arena_eval_sim`: an IMU and joint states with known signals at 1 kHz.

    python -m arena_eval.ros.sim
    python -m arena_eval.ros.sim --ros-args -p rate_hz:=500.0 -p joint_count:=6
    ros2 run arena_eval arena_eval_sim

Publishes `sensor_msgs/msg/Imu` on `imu` and `sensor_msgs/msg/JointState` on `joint_states`
(relative names: `/imu` and `/joint_states` in the root namespace), both every tick, with
reliable, keep-last-10 QoS (so best-effort `sensor_data` subscribers match too).

Signals, with t = stamp - start_time in seconds, where the stamp (`header.stamp`, both
messages of a tick share it) is the system clock when the sample is taken:

    Imu, frame_id 'imu_link':
      linear_acceleration.x = 0.5 sin(2 pi 0.5 t)            m/s^2
      linear_acceleration.y = 0.5 cos(2 pi 0.5 t)            m/s^2
      linear_acceleration.z = 9.81 + 0.1 sin(2 pi 2 t)       m/s^2
      angular_velocity      = (0, 0, 0.3 sin(2 pi 1 t))      rad/s
      orientation           = (0, 0, 0, 1), the identity; all covariances 0
    JointState, frame_id 'base_link', joints i = 0 .. joint_count - 1 named 'j0', 'j1', ...:
      a_i = 0.5 + 0.25 i rad,  f_i = 0.2 (i + 1) Hz,  w_i = 2 pi f_i
      position_i = a_i sin(w_i t)                             rad
      velocity_i = a_i w_i cos(w_i t)   (the derivative of position_i)   rad/s
      effort_i   = (i + 1) cos(w_i t)                         N m

So with the default batch: accel_norm ~ 9.82, tilt_deg <= 3 degrees, q2_rate follows
velocity_2 = 3.770 cos(3.770 t), and joint_power = sum of a_i w_i (i + 1) cos^2(w_i t) >= 0.
(`test/test_sim_doc.py` checks these formulas against `imu_values` and `joint_values`.)

Parameters (read at startup): `rate_hz` (double, 1000.0), `joint_count` (integer, 3),
`start_time` (double, seconds of the system clock; 0.0, the default, means "when the simulator
starts"; give a whole number of seconds to compute t exactly from the stamps).

The publishing loop sleeps to absolute deadlines (no executor timer: a 1 ms rclpy timer costs
a fifth of a core here); when it falls more than a period behind it skips ahead instead of
bursting. SIGINT and SIGTERM stop it cleanly (exit code 0). This module imports neither numba
nor the evaluator, and the node never imports it.
"""

from array import array
import math
import sys
import time

IMU_TOPIC = 'imu'
JOINT_TOPIC = 'joint_states'
TWO_PI = 2.0 * math.pi


def imu_values(t):
    """Return the documented (ax, ay, az, wz) of the IMU at time t."""
    return (0.5 * math.sin(TWO_PI * 0.5 * t), 0.5 * math.cos(TWO_PI * 0.5 * t),
            9.81 + 0.1 * math.sin(TWO_PI * 2.0 * t), 0.3 * math.sin(TWO_PI * 1.0 * t))


def joint_values(t, i):
    """Return the documented (position, velocity, effort) of joint i at time t."""
    a = 0.5 + 0.25 * i
    w = TWO_PI * 0.2 * (i + 1)
    return a * math.sin(w * t), a * w * math.cos(w * t), (i + 1) * math.cos(w * t)


class Simulator:
    """The `arena_eval_sim` node (`node`): message objects made once, refilled every tick."""

    def __init__(self):
        # rclpy is imported here, not at module level: the process installs its signal
        # handlers before rclpy loads (process.py).
        from rcl_interfaces.msg import ParameterDescriptor
        from rclpy.node import Node
        from rclpy.qos import QoSProfile, QoSReliabilityPolicy
        from sensor_msgs.msg import Imu, JointState

        node = self.node = Node('arena_eval_sim')
        # Dynamic typing: `-p rate_hz:=500` (an integer) is as welcome as 500.0.
        fixed = ParameterDescriptor(read_only=True, dynamic_typing=True)
        try:
            self.rate_hz = _number('rate_hz', node.declare_parameter('rate_hz', 1000.0, fixed))
            self.joint_count = int(_number('joint_count',
                                           node.declare_parameter('joint_count', 3, fixed)))
            start = _number('start_time', node.declare_parameter('start_time', 0.0, fixed))
            if not 1.0 <= self.rate_hz <= 100000.0:
                raise ValueError(f'rate_hz must be between 1 and 100000, got {self.rate_hz}')
            if not 0 <= self.joint_count <= 1000:
                raise ValueError(f'joint_count must be between 0 and 1000, got '
                                 f'{self.joint_count}')
        except ValueError:
            node.destroy_node()
            raise
        self.start_ns = int(round(start * 1e9)) if start > 0.0 else time.time_ns()
        qos = QoSProfile(depth=10, reliability=QoSReliabilityPolicy.RELIABLE)
        self.imu_pub = node.create_publisher(Imu, IMU_TOPIC, qos)
        self.joint_pub = node.create_publisher(JointState, JOINT_TOPIC, qos)
        self.imu = Imu()
        self.imu.header.frame_id = 'imu_link'
        self.imu.orientation.w = 1.0
        self.joints = JointState()
        self.joints.header.frame_id = 'base_link'
        n = self.joint_count
        self.joints.name = [f'j{i}' for i in range(n)]
        self.joints.position = array('d', [0.0] * n)
        self.joints.velocity = array('d', [0.0] * n)
        self.joints.effort = array('d', [0.0] * n)

    def publish_sample(self, now_ns):
        """Fill both messages for the system-clock time `now_ns` and publish them."""
        t = (now_ns - self.start_ns) * 1e-9
        sec, nanosec = divmod(now_ns, 1_000_000_000)
        imu, joints = self.imu, self.joints
        imu.header.stamp.sec = sec
        imu.header.stamp.nanosec = nanosec
        ax, ay, az, wz = imu_values(t)
        acc = imu.linear_acceleration
        acc.x, acc.y, acc.z = ax, ay, az
        imu.angular_velocity.z = wz
        joints.header.stamp.sec = sec
        joints.header.stamp.nanosec = nanosec
        position, velocity, effort = joints.position, joints.velocity, joints.effort
        for i in range(self.joint_count):
            position[i], velocity[i], effort[i] = joint_values(t, i)
        self.imu_pub.publish(imu)
        self.joint_pub.publish(joints)

    def run(self, stop_event):
        """Publish every period until `stop_event` is set (absolute deadlines)."""
        period = 1.0 / self.rate_hz
        deadline = time.monotonic()
        while not stop_event.is_set():
            if not self.node.context.ok():
                break
            self.publish_sample(time.time_ns())
            deadline += period
            delay = deadline - time.monotonic()
            if delay > 0.0:
                time.sleep(delay)
            elif delay < -period:
                deadline = time.monotonic()  # fell behind: skip ahead, never burst


def _number(name, parameter):
    value = parameter.value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f'{name} must be a number, got {value!r}')
    return float(value)


def _main(args, stop_event):
    try:
        sim = Simulator()
    except ValueError as exc:
        print(f'arena_eval_sim: error: {exc}', file=sys.stderr)
        return 2
    try:
        sim.node.get_logger().info(
            f'publishing {sim.imu_pub.topic_name} and {sim.joint_pub.topic_name} at '
            f'{sim.rate_hz:g} Hz '
            f'({sim.joint_count} joints)')
        sim.run(stop_event)
    finally:
        sim.node.destroy_node()
    return 0


def main(argv=None):
    """Entry point of `arena_eval_sim` and `python -m arena_eval.ros.sim`."""
    from .process import run
    return run(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
