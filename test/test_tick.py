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
The tick in-process, on serialized messages: take -> decode -> copy -> kernel -> results bytes.

Real `sensor_msgs` messages serialized by rclpy go in through `BytesTaker`s; what the tick
publishes is deserialized by rclpy and checked value by value. Covers staleness under both
stale policies, an index beyond a sequence, bytes nothing can decode, priming a new program from
the last message, `depth: 1`, the per-output topics, a shut-down context, and the timing hook.
No DDS: the publishers are plain sinks of the bytes the tick hands them.
"""

import math

from arena_eval.msgtypes.inputs import InputBindings
from arena_eval.params.config import build_batch, config_from_parameters
from arena_eval.ros.diagnostics import ERROR, input_levels, OK
from arena_eval.ros.tick import BytesTaker, PhaseTimes, Poller, Tick
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64, Float64MultiArray

MS = 1_000_000  # nanoseconds
DT = 0.001
EXPRESSIONS = [
    'ax = imu.linear_acceleration.x',
    'norm = sqrt(imu.linear_acceleration.x**2 + imu.linear_acceleration.z**2)',
    'cov = imu.orientation_covariance[4]',
    'q2 = joints.position[2]',
    'power = joints.velocity[0] * joints.effort[0]',
]


class Sink:
    """A publisher's stand-in: keeps the bytes it is given (the tick copies them per publish)."""

    def __init__(self):
        self.sent = []

    def publish(self, data):
        assert isinstance(data, bytes)
        self.sent.append(data)

    def last(self, msg_type=Float64MultiArray):
        return deserialize_message(self.sent[-1], msg_type)


def make_config(stale_policy='nan', imu_timeout=0.05, joints_depth=5, individual=False):
    params = {
        'inputs.imu.topic': '/imu', 'inputs.imu.type': 'sensor_msgs/msg/Imu',
        'inputs.imu.timeout': imu_timeout,
        'inputs.joints.topic': '/joint_states', 'inputs.joints.type': 'sensor_msgs/msg/JointState',
        'inputs.joints.timeout': 0.0, 'inputs.joints.depth': joints_depth,
        'stale_policy': stale_policy, 'publish_individual': individual,
        'expressions': EXPRESSIONS,
    }
    config, errors, _ = config_from_parameters(params)
    assert errors == []
    return config


def imu_bytes(x=3.0, z=4.0, cov=0.25):
    msg = Imu()
    msg.header.frame_id = 'imu_link'
    msg.linear_acceleration.x = x
    msg.linear_acceleration.z = z
    msg.orientation_covariance[4] = cov
    return serialize_message(msg)


def joints_bytes(n=3, scale=1.0):
    msg = JointState()
    msg.name = [f'joint_{i}' for i in range(n)]
    msg.position = [scale * 0.1 * (i + 1) for i in range(n)]
    msg.velocity = [scale * (1.0 + i) for i in range(n)]
    msg.effort = [2.0 + i for i in range(n)]
    return serialize_message(msg)


class Rig:
    """A tick over byte takers for each input, publishing into sinks."""

    def __init__(self, config=None, pollers=None, ok=None, phases=None):
        self.config = config or make_config()
        self.batch = build_batch(self.config)
        self.bindings = InputBindings(self.config, self.batch)
        self.takers = {name: BytesTaker() for name in self.config.inputs}
        self.pollers = pollers or [Poller(c, self.takers[name])
                                   for name, c in self.config.inputs.items()]
        self.results = Sink()
        names = self.batch.outputs if self.config.publish_individual else ()
        self.individual = {name: Sink() for name in names}
        self.tick = Tick(self.batch, self.bindings, self.pollers, self.results,
                         [self.individual[n] for n in names], ok=ok, phases=phases)

    def push(self, name, raw):
        self.takers[name].push(raw)

    def outputs(self):
        return dict(zip(self.batch.outputs, self.results.last().data, strict=True))


def test_bytes_in_results_bytes_out():
    rig = Rig()
    rig.push('imu', imu_bytes(x=3.0, z=4.0, cov=0.25))
    rig.push('joints', joints_bytes())
    rig.tick(10 * MS, DT)
    assert len(rig.results.sent) == 1
    result = rig.results.last()
    assert [(d.label, d.size, d.stride) for d in result.layout.dim] == [
        (','.join(rig.batch.outputs), 5, 5)]
    assert rig.outputs() == pytest.approx(
        {'ax': 3.0, 'norm': 5.0, 'cov': 0.25, 'q2': 0.3, 'power': 2.0})
    assert all(p.received == 1 and p.undecodable == 0 for p in rig.pollers)


def test_only_the_newest_waiting_message_counts():
    rig = Rig()
    for x in (1.0, 2.0, 6.0):
        rig.push('imu', imu_bytes(x=x, z=8.0))
    rig.push('joints', joints_bytes())
    rig.tick(10 * MS, DT)
    assert rig.outputs()['ax'] == 6.0 and rig.outputs()['norm'] == 10.0
    assert rig.pollers[0].received == 3


def test_a_message_is_taken_once_and_kept_until_stale_nan_policy():
    rig = Rig(make_config(stale_policy='nan', imu_timeout=0.05))
    rig.push('imu', imu_bytes(x=3.0))
    rig.push('joints', joints_bytes())
    rig.tick(0, DT)
    rig.tick(50 * MS, DT)            # exactly the timeout: still fresh
    assert rig.outputs()['ax'] == 3.0
    rig.tick(50 * MS + 1, DT)        # one ns later: stale
    out = rig.outputs()
    assert math.isnan(out['ax']) and math.isnan(out['norm']) and math.isnan(out['cov'])
    assert out['q2'] == pytest.approx(0.3)  # joints: timeout 0, never stale
    assert rig.pollers[0].received == 1
    rig.push('imu', imu_bytes(x=-1.0))
    rig.tick(200 * MS, DT)
    assert rig.outputs()['ax'] == -1.0


def test_stale_hold_policy_keeps_the_last_values():
    rig = Rig(make_config(stale_policy='hold', imu_timeout=0.05))
    rig.push('imu', imu_bytes(x=3.0, z=4.0))
    rig.push('joints', joints_bytes())
    rig.tick(0, DT)
    rig.tick(100 * MS, DT)
    assert rig.outputs() == pytest.approx(
        {'ax': 3.0, 'norm': 5.0, 'cov': 0.25, 'q2': 0.3, 'power': 2.0})
    assert rig.batch.input_valid[list(rig.batch.inputs).index('imu.linear_acceleration.x')] == 0


def test_no_message_yet_gives_nan():
    rig = Rig()
    rig.tick(0, DT)
    assert all(math.isnan(v) for v in rig.results.last().data)


def test_an_index_beyond_the_sequence():
    rig = Rig()
    rig.push('imu', imu_bytes())
    rig.push('joints', joints_bytes(n=2))
    rig.tick(0, DT)
    rig.tick(1 * MS, DT)
    out = rig.outputs()
    assert math.isnan(out['q2']) and out['power'] == 2.0
    q2 = list(rig.batch.inputs).index('joints.position[2]')
    assert rig.bindings.out_of_range[q2] == 1  # counted once per message, not per tick
    name, level, text, _ = input_levels(rig.bindings, 1 * MS)[1]
    assert (name, level, text) == ('joints', ERROR, 'joints.position[2] out of range (2 elements)')
    rig.push('joints', joints_bytes(n=3))
    rig.tick(2 * MS, DT)
    assert rig.outputs()['q2'] == pytest.approx(0.3)
    assert input_levels(rig.bindings, 2 * MS)[1][1:3] == (OK, 'ok')


def test_undecodable_bytes_are_counted_and_dropped():
    rig = Rig()
    rig.push('imu', imu_bytes(x=3.0))
    rig.push('joints', joints_bytes())
    rig.tick(0, DT)
    rig.push('imu', b'\x00\x01')  # a CDR header and nothing else
    rig.tick(1 * MS, DT)
    assert rig.pollers[0].undecodable == 1 and rig.pollers[0].received == 2
    assert rig.outputs()['ax'] == 3.0  # the previous message is still the latest


def test_a_new_program_starts_from_the_last_message():
    first = Rig()
    first.push('imu', imu_bytes(x=3.0, z=4.0))
    first.push('joints', joints_bytes())
    first.tick(0, DT)
    # A new program on the same subscriptions (pollers), before any new message arrives.
    second = Rig(first.config, pollers=first.pollers)
    second.tick(1 * MS, DT)
    assert second.outputs() == pytest.approx(
        {'ax': 3.0, 'norm': 5.0, 'cov': 0.25, 'q2': 0.3, 'power': 2.0})
    # The message keeps the time it was received: it goes stale on the first program's clock.
    second.tick(51 * MS, DT)
    assert math.isnan(second.outputs()['ax'])


def test_depth_one_takes_one_message_per_tick():
    rig = Rig(make_config(joints_depth=1))
    rig.push('imu', imu_bytes())
    for scale in (1.0, 2.0):
        rig.push('joints', joints_bytes(scale=scale))
    rig.tick(0, DT)
    assert rig.outputs()['q2'] == pytest.approx(0.3) and rig.pollers[1].received == 1
    rig.tick(1 * MS, DT)
    assert rig.outputs()['q2'] == pytest.approx(0.6) and rig.pollers[1].received == 2


def test_individual_outputs_are_published_as_float64():
    rig = Rig(make_config(individual=True))
    rig.push('imu', imu_bytes(x=3.0, z=4.0))
    rig.push('joints', joints_bytes())
    rig.tick(0, DT)
    got = {name: sink.last(Float64).data for name, sink in rig.individual.items()}
    assert got == pytest.approx(rig.outputs())
    assert got['norm'] == 5.0


def test_nothing_is_published_once_the_context_is_down():
    ok = [True]
    rig = Rig(ok=lambda: ok[0])
    rig.tick(0, DT)
    ok[0] = False
    rig.tick(1 * MS, DT)
    assert len(rig.results.sent) == 1


def test_the_timing_hook_records_every_phase_of_the_same_ticks():
    clock = iter(range(0, 10**9, 7))
    phases = PhaseTimes(3, clock=lambda: next(clock))
    timed, plain = Rig(phases=phases), Rig()
    for rig in (timed, plain):
        for k in range(5):
            rig.push('imu', imu_bytes(x=float(k)))
            rig.push('joints', joints_bytes(scale=k + 1.0))
            rig.tick(k * MS, DT)
    # (Compared as values: serialize_message leaves its alignment padding uninitialized.)
    assert ([deserialize_message(b, Float64MultiArray).data.tolist() for b in timed.results.sent]
            == [deserialize_message(b, Float64MultiArray).data.tolist()
                for b in plain.results.sent])
    assert phases.count == 3  # rows beyond the capacity are dropped
    rows = phases.samples
    assert (rows > 0).all()
    # The phases add up to the whole tick (take and decode split the first stretch).
    assert (rows[:, :5].sum(axis=1) == rows[:, 5]).all()
    assert list(PhaseTimes.NAMES) == ['take', 'decode + hand-over', 'copy into arena',
                                      'kernel step', 'publish', 'total']


def test_joints_by_name_follow_the_name_not_the_order():
    params = {'inputs.joints.topic': '/joint_states',
              'inputs.joints.type': 'sensor_msgs/msg/JointState',
              'expressions': ["elbow = joints.position['elbow']",
                              "elbow_power = joints.velocity['elbow'] * joints.effort['elbow']",
                              "wrist = joints.position['wrist']", 'first = joints.position[0]']}
    config, errors, _ = config_from_parameters(params)
    assert errors == []
    rig = Rig(config)

    def joints(names, positions):
        return serialize_message(JointState(
            name=names, position=positions, velocity=[2.0 * p for p in positions],
            effort=[10.0] * len(positions)))

    rig.push('joints', joints(['shoulder', 'elbow'], [0.5, 1.5]))
    rig.tick(0, DT)
    out = rig.outputs()
    assert out['elbow'] == 1.5 and out['elbow_power'] == 30.0 and out['first'] == 0.5
    assert math.isnan(out['wrist'])  # missing: nan, and counted once per message
    wrist = list(rig.batch.inputs).index("joints.position['wrist']")
    rig.tick(1 * MS, DT)
    assert rig.bindings.missing_name[wrist] == 1
    name, level, text, values = input_levels(rig.bindings, 1 * MS)[0]
    assert text == "no such name in joints.position['wrist'] (nan)"
    assert values['Missing names'] == '1'
    # the driver reorders its joints: the names still lead to the right values
    rig.push('joints', joints(['elbow', 'wrist', 'shoulder'], [2.5, 3.5, 0.25]))
    rig.tick(2 * MS, DT)
    out = rig.outputs()
    assert (out['elbow'], out['wrist'], out['first']) == (2.5, 3.5, 2.5)
    assert input_levels(rig.bindings, 2 * MS)[0][2] == 'ok'
    # a name[] list longer than the values: that slot is out of range, not a wrong value
    rig.push('joints', joints(['shoulder', 'elbow', 'wrist'], [1.0, 2.0]))
    rig.tick(3 * MS, DT)
    out = rig.outputs()
    assert out['elbow'] == 2.0 and math.isnan(out['wrist'])
    assert rig.bindings.out_of_range[wrist] == 1
