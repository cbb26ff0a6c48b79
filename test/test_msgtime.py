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
Message time in the language, in-process on serialized messages with known header stamps.

`stamp(imu)`, `age(imu)`, `fresh(imu)`, `updated(imu)` and `ddt_msg(x)` through the node's
compiled tick, offline (`offline_tick.py`: take, plan walk, message time, kernel): values
before the first message, while fresh, while stale (never turned to nan by the stale
policy), the 1 kHz message / 1 kHz tick case where `ddt` aliases and `ddt_msg` is exact,
the fall-back to receive times, and the load-time errors with their positions.
"""

import math

from arena_eval.engine.compile import compile_program
from arena_eval.engine.disassemble import disassemble
from arena_eval.language.errors import ExpressionError
from arena_eval.params.config import build_batch, config_from_parameters
from offline_tick import OfflineTick
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu
from std_msgs.msg import Float64

MS = 1_000_000
DT = 0.001
EXPRESSIONS = [
    'x = imu.linear_acceleration.x',
    'v = ddt_msg(imu.linear_acceleration.x)',
    'w = ddt(imu.linear_acceleration.x)',
    'f = fresh(imu)',
    'estop = not fresh(imu)',
    'a = age(imu)',
    'u = updated(imu)',
    's = stamp(imu)',
    'ps = stamp(plain)',
    'pv = ddt_msg(plain.data)',
]


def make_config(stale_policy='nan', timeout=0.05, expressions=EXPRESSIONS):
    params = {
        'inputs.imu.topic': '/imu', 'inputs.imu.type': 'sensor_msgs/msg/Imu',
        'inputs.imu.timeout': timeout,
        'inputs.plain.topic': '/plain', 'inputs.plain.type': 'std_msgs/msg/Float64',
        'inputs.plain.timeout': 0.0,
        'stale_policy': stale_policy, 'expressions': expressions,
    }
    config, errors, _ = config_from_parameters(params)
    assert errors == []
    return config


def imu_bytes(stamp_ns, x):
    msg = Imu()
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    msg.linear_acceleration.x = x
    return serialize_message(msg)


class Rig:
    def __init__(self, config):
        self.tick = OfflineTick(config)
        self.batch = self.tick.batch

    def step(self, now_ns, **messages):
        for name, raws in messages.items():
            for raw in raws:
                self.tick.push(name, raw)
        self.tick(now_ns, DT)
        return self.tick.outputs()


def test_before_the_first_message():
    out = Rig(make_config()).step(0)
    assert out['f'] == 0.0 and out['estop'] == 1.0 and out['u'] == 0.0
    assert out['a'] == math.inf and math.isnan(out['s']) and math.isnan(out['x'])


def test_fresh_age_updated_stamp_and_stale():
    rig = Rig(make_config(timeout=0.05))
    out = rig.step(100 * MS, imu=[imu_bytes(7_250_000_000, 1.0)])
    assert (out['f'], out['estop'], out['u'], out['a'], out['s']) == (1.0, 0.0, 1.0, 0.0, 7.25)
    out = rig.step(130 * MS)
    assert (out['f'], out['u'], out['s']) == (1.0, 0.0, 7.25)
    assert out['a'] == 0.03
    out = rig.step(150 * MS + 1)  # one ns past the timeout: stale
    # The stale policy turns the field to nan, never the message time.
    assert math.isnan(out['x']) and math.isnan(out['v'])
    assert (out['f'], out['estop'], out['u'], out['s']) == (0.0, 1.0, 0.0, 7.25)
    assert out['a'] == (50 * MS + 1) / 1e9
    out = rig.step(200 * MS, imu=[imu_bytes(7_350_000_000, 2.0)])
    assert (out['f'], out['estop'], out['u'], out['a'], out['s']) == (1.0, 0.0, 1.0, 0.0, 7.35)


@pytest.mark.parametrize('policy', ['nan', 'hold'])
def test_meta_functions_stay_valid_under_either_policy(policy):
    rig = Rig(make_config(stale_policy=policy, timeout=0.01))
    rig.step(0, imu=[imu_bytes(1_000_000_000, 1.0)])
    out = rig.step(20 * MS)
    assert out['f'] == 0.0 and out['estop'] == 1.0 and out['a'] == 0.02


def test_1khz_messages_at_a_1khz_tick_ddt_msg_is_exact_and_ddt_aliases():
    """Messages every 1 ms, taken 0, 1 or 2 per tick by a jittery tick: x = 2 * stamp."""
    rig = Rig(make_config(timeout=0.0))
    per_tick = [1, 0, 2, 1, 1, 0, 2, 1, 0, 0, 3, 1, 1, 1]
    k, ddt_msg, ddt = 0, [], []
    for tick, count in enumerate(per_tick):
        raws = []
        for _ in range(count):
            stamp = 5_000_000_000 + k * MS
            raws.append(imu_bytes(stamp, 2.0 * (stamp // 1_000_000_000 + stamp % 1_000_000_000
                                                / 1e9)))
            k += 1
        out = rig.step(tick * MS, imu=raws)
        ddt_msg.append(out['v'])
        ddt.append(out['w'])
    # 0 at the first message (nothing to differentiate against), held through tick 1.
    assert ddt_msg[:2] == [0.0, 0.0]
    assert ddt_msg[2:] == [2.0] * (len(per_tick) - 2)  # exact, and held between messages
    # ddt sees a zero difference on ticks without a message and a double step after them.
    assert ddt[1] == 0.0 and ddt[2] == pytest.approx(4.0) and ddt[10] == pytest.approx(6.0)
    assert max(abs(d - 2.0) for d in ddt[1:]) > 1.0


def test_ddt_msg_falls_back_to_receive_times():
    """Float64 has no header: stamp() is nan and ddt_msg divides by receive-time differences."""
    rig = Rig(make_config(timeout=0.0))
    outs = [rig.step(k * 4 * MS, plain=[serialize_message(Float64(data=0.5 * k))])
            for k in range(4)]
    assert all(math.isnan(out['ps']) for out in outs)
    assert [out['pv'] for out in outs] == [0.0] + [pytest.approx(0.5 / 0.004)] * 3
    rig2 = Rig(make_config(timeout=0.0))  # equal stamps on an Imu: receive times too
    rig2.step(0, imu=[imu_bytes(10, 0.0)])
    out = rig2.step(2 * MS, imu=[imu_bytes(10, 1.0)])
    assert out['v'] == pytest.approx(500.0)
    out = rig2.step(3 * MS)
    assert out['v'] == pytest.approx(500.0) and out['u'] == 0.0


def test_dump_shows_the_meta_inputs():
    program = compile_program(['f = fresh(imu)', 'v = ddt_msg(imu.angular_velocity.z)'])
    assert program.inputs == ('imu.@fresh', 'imu.angular_velocity.z', 'imu.@mdt')
    text = disassemble(program)
    assert 'imu.@fresh' in text
    assert 'ddt_msg' in text and 'imu.@mdt' in text


@pytest.mark.parametrize('text, col, message', [
    ('a = fresh(imo)', 11, "fresh(): 'imo' is not a configured input"),
    ('a = 1 + age(imu.linear_acceleration)', 13, "age() takes an input's name"),
    ('a = ddt_msg(1 + t)', 13, 'ddt_msg() must read exactly one input; it reads no input'),
    ('a = ddt_msg(imu.linear_acceleration.x - plain.data)', 13,
     'ddt_msg() must read exactly one input; it reads imu, plain'),
    ('a = updated(2)', 13, "updated() takes an input's name"),
])
def test_load_time_errors_have_positions(text, col, message):
    params = {'inputs.imu.topic': '/imu', 'inputs.imu.type': 'sensor_msgs/msg/Imu',
              'inputs.plain.topic': '/plain', 'inputs.plain.type': 'std_msgs/msg/Float64',
              'expressions': [text]}
    _, errors, _ = config_from_parameters(params)
    assert len(errors) == 1
    assert str(errors[0]).startswith(f'parameter expressions[0]:1:{col}: error: ')
    assert message in str(errors[0])


def test_meta_paths_cannot_be_written_by_users():
    with pytest.raises(ExpressionError):
        compile_program(['a = imu.@fresh'])


def test_the_safety_idiom_in_a_typed_output():
    """`x > 5 or not fresh(imu)` into a std_msgs/Bool: true before messages and while stale."""
    from std_msgs.msg import Bool

    params = {'inputs.imu.topic': '/imu', 'inputs.imu.type': 'sensor_msgs/msg/Imu',
              'inputs.imu.timeout': 0.01, 'expressions': ['x = imu.linear_acceleration.x'],
              'outputs.estop.topic': '/estop', 'outputs.estop.type': 'std_msgs/msg/Bool',
              'outputs.estop.fields': ['data = x > 5 or not fresh(imu)']}
    config, errors, _ = config_from_parameters(params)
    assert errors == []
    tick = OfflineTick(config)
    tick(0, DT)
    tick.push('imu', imu_bytes(0, 1.0))
    tick(5 * MS, DT)
    tick.push('imu', imu_bytes(0, 9.0))
    tick(6 * MS, DT)
    tick(17 * MS, DT)  # stale
    assert [deserialize_message(raw, Bool).data for raw in tick.sent['estop']] == [
        True, False, True, True]


def test_eval_takes_meta_inputs_with_set(capsys):
    from arena_eval.__main__ import main

    code = main(['eval', '--set', 'imu.@fresh=0', '--set', 'imu.x=2',
                 'where(fresh(imu), imu.x, -1)'])
    assert code == 0 and capsys.readouterr().out.strip() == '-1.0'


@pytest.mark.parametrize('policy', ['nan', 'hold'])
def test_message_time_decides_without_the_stale_fields(policy):
    """While imu is stale these are decided by fresh(imu) alone: no stale policy applies."""
    config = make_config(stale_policy=policy, timeout=0.01, expressions=[
        'tilt = imu.linear_acceleration.x * 10',
        'stop = tilt > 30 or not fresh(imu)',
        'go = fresh(imu) and tilt < 30',
        'pick = where(fresh(imu), tilt, -1)',
        'both = where(fresh(imu), tilt, plain.data)',
        'raw = tilt > 30 or fresh(imu)',
    ])
    program = build_batch(config).program
    deps = dict(zip(program.outputs, program.output_inputs, strict=True))
    assert deps['stop'] == deps['go'] == deps['pick'] == ('imu.@fresh',)
    assert deps['both'] == ('imu.@fresh', 'plain.data')
    assert deps['raw'] == ('imu.linear_acceleration.x', 'imu.@fresh')
    rig = Rig(config)
    out = rig.step(0, imu=[imu_bytes(0, 1.0)], plain=[serialize_message(Float64(data=7.0))])
    assert (out['stop'], out['go'], out['pick'], out['both'], out['raw']) == (0, 1, 10, 10, 1)
    out = rig.step(20 * MS)  # stale
    assert (out['stop'], out['go'], out['pick'], out['both']) == (1, 0, -1, 7)
    assert math.isnan(out['raw']) if policy == 'nan' else out['raw'] == 1.0
