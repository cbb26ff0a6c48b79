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
The golden corpus: programs x message streams whose tick outputs `test/golden/tick.json` holds.

Recorded once from the Python tick (`ros/tick.py` with `inputs.InputBindings`) before it was
retired, by `test/record_golden.py`; `test/test_golden_tick.py` runs the compiled tick on the
same streams and compares bit for bit. Everything here is deterministic: programs are params,
streams come from `random.Random(seed)` and rclpy's serialization of real message types.

A stream is a list of ticks `(now_ns, dt, {input: [CDR bytes, ...]})`: the messages waiting
for that tick (the tick takes them all and keeps the newest); `clock` carries
`rosgraph_msgs/Clock` messages for programs under `use_sim_time` (the ROS time a typed output
stamped 'now' takes).
"""

import math
import random

MS = 1_000_000
TICKS = 40

INPUTS = {
    'imu': {'topic': '/imu', 'type': 'sensor_msgs/msg/Imu', 'timeout': 0.012},
    'joints': {'topic': '/joint_states', 'type': 'sensor_msgs/msg/JointState',
               'timeout': 0.0},
    'plain': {'topic': '/plain', 'type': 'std_msgs/msg/Float64', 'timeout': 0.008},
    'poses': {'topic': '/poses', 'type': 'geometry_msgs/msg/PoseArray', 'timeout': 0.0},
    'diag': {'topic': '/diag', 'type': 'diagnostic_msgs/msg/DiagnosticArray', 'timeout': 0.0},
}

X = 'imu.linear_acceleration.x'
Y = 'imu.linear_acceleration.y'
Z = 'imu.linear_acceleration.z'
P = 'plain.data'

ARITH = [
    f'add = {X} + {Y}', f'sub = {X} - {Y}', f'mul = {X} * {Y}', f'div = {X} / {Y}',
    f'neg = -{X}', f'pw = {X} ** 2 + {Y} ** 0.5', f'md = {X} % 3', f'lt = {X} < {Y}',
    f'le = {X} <= {Y}', f'gt = {X} > {Y}', f'ge = {X} >= {Y}', f'eq = {X} == {P}',
    f'ne = {X} != {P}', f'an = {X} > 0 and {P} > 0', f'orr = {X} > 0 or {P} > 0',
    f'nt = not {X} > 0', f'wh = where({X} > 0, {Y}, {P})',
    'cov = imu.orientation_covariance[4]', 'q2 = joints.position[2]',
    'pw0 = joints.velocity[0] * joints.effort[0]',
]
UNARY = ('sin', 'cos', 'tan', 'asin', 'acos', 'atan', 'sinh', 'cosh', 'tanh', 'asinh', 'acosh',
         'atanh', 'exp', 'expm1', 'log', 'log1p', 'log2', 'log10', 'sqrt', 'cbrt', 'abs', 'sign',
         'floor', 'ceil', 'round', 'trunc', 'deg', 'rad')
MATH1 = [f'{fn}_ = {fn}({X} / 7)' for fn in UNARY]
MATH2 = [
    f'at2 = atan2({Y}, {X})', f'hy = hypot({X}, {Y})', f'mn = min({X}, {Y}, {P})',
    f'mx = max({X}, {Y})', f'cl = clamp({X}, -2, 2)', f'fm = fmod({X}, 1.5)',
    'ro = roll_of(imu.orientation)', 'pi_ = pitch_of(imu.orientation)',
    'ya = yaw_of(imu.orientation)',
]
STATEFUL = [
    f'pr = prev({X})', f'pr2 = prev({X}, -1)', f'de = delta({X})', f'dd = ddt({X})',
    f'ig = integral({X})', f'lp = lowpass({X}, 0.01)', f'em = ema({X}, 0.3)',
    f'rl = rate_limit({X}, 100)', f'me = mean({X}, 4)', f'mi = minimum({X}, 3)',
    f'ma = maximum({X}, 3)', f'ho = hold({X}, {P} > 0)', f'ms = mean_s({X}, 0.01)',
    f'mis = minimum_s({X}, 0.01)', f'mas = maximum_s({X}, 0.01)', f'he = held({P} > 0, 0.004)',
    'cnt = prev(cnt, 0) + 1', 'tt = t',
]
MSGTIME = [
    f'x = {X}', f'v = ddt_msg({X})', f'w = ddt({X})', 'f = fresh(imu)', 'estop = not fresh(imu)',
    'a = age(imu)', 'u = updated(imu)', 's = stamp(imu)', 'ps = stamp(plain)',
    f'pv = ddt_msg({P})', 'jf = fresh(joints)', 'ja = age(joints)',
    f'unsafe = {X} > 5 or not fresh(imu)', f'gate = where(fresh(imu), {X}, -1)',
    'q = 1000 * age(imu) + ddt_msg(joints.position[2])',
]
NAMES = [
    "p_j1 = joints.effort['j1'] * joints.velocity['j1']", "pos_j0 = joints.position['j0']",
    "missing = joints.position['nope']", 'q1 = joints.position[1]',
]
ARRAYS = [
    'px1 = poses.poses[1].position.x', 'oz0 = poses.poses[0].orientation.z',
    'lv0 = diag.status[0].level', 'lv1 = diag.status[1].level',
]
TYPED = {
    'tilt': {'topic': '/tilt', 'type': 'geometry_msgs/msg/Vector3Stamped', 'stamp': 'imu',
             'frame_id': 'base_link', 'every': 3,
             'fields': ['vector.x = roll', f'vector.z = {X} * 2']},
    'clock_v': {'topic': '/v', 'type': 'geometry_msgs/msg/Vector3Stamped', 'stamp': 'now',
                'fields': ['vector.x = roll', 'vector.y = fresh(imu)']},
    'i8': {'topic': '/i8', 'type': 'std_msgs/msg/Int8', 'fields': [f'data = {X} * 20']},
    'b': {'topic': '/b', 'type': 'std_msgs/msg/Bool', 'fields': [f'data = {X}']},
    'u16': {'topic': '/u16', 'type': 'std_msgs/msg/UInt16', 'every': 2,
            'fields': [f'data = {P} * 1000']},
}
# The golden files were recorded when a typed output published on every tick whatever its
# inputs' state: that is `on_stale: publish` now (the default, `skip`, is tested in
# test_typed_outputs.py).
for _output in TYPED.values():
    _output['on_stale'] = 'publish'


def _program(expressions, inputs=('imu', 'joints', 'plain'), stale_policy='nan',
             stale_state='hold', outputs=None, sim_time=False):
    return {'expressions': list(expressions), 'inputs': list(inputs),
            'stale_policy': stale_policy, 'stale_state': stale_state,
            'outputs': outputs or {}, 'sim_time': sim_time}


# name -> (program, swap: None or (tick, program)) ; every program runs on every stream
PROGRAMS = {
    'arith_nan': (_program(ARITH), None),
    'arith_hold': (_program(ARITH, stale_policy='hold'), None),
    'math1': (_program(MATH1), None),
    'math2': (_program(MATH2, stale_policy='hold'), None),
    'stateful_nan_hold': (_program(STATEFUL), None),
    'stateful_hold_restart': (_program(STATEFUL, stale_policy='hold', stale_state='restart'),
                              None),
    'stateful_nan_restart': (_program(STATEFUL, stale_state='restart'), None),
    'msgtime_nan': (_program(MSGTIME), None),
    'msgtime_hold': (_program(MSGTIME, stale_policy='hold'), None),
    'names': (_program(NAMES), None),
    'arrays': (_program(ARRAYS, inputs=('imu', 'poses', 'diag')), None),
    'typed': (_program([f'roll = atan2({Y}, {Z})', f'pp = {P}'], outputs=TYPED,
                       sim_time=True), None),
    'swap_carry': (_program(STATEFUL[:8]),
                   (18, _program(STATEFUL[:4] + ['extra = integral(plain.data)']
                                 + STATEFUL[5:12]))),
    'swap_msgtime': (_program(ARITH[:4]), (20, _program(MSGTIME))),
}


def params(program):
    """Return the node parameters of a program (as a params file would give them)."""
    result = {'expressions': program['expressions'], 'stale_policy': program['stale_policy'],
              'stale_state': program['stale_state']}
    for name in program['inputs']:
        for key, value in INPUTS[name].items():
            result[f'inputs.{name}.{key}'] = value
    for name, fields in program['outputs'].items():
        result.update({f'outputs.{name}.{key}': value for key, value in fields.items()})
    return result


def _value(rng, low=-10.0, high=10.0):
    r = rng.random()
    if r < 0.04:
        return math.nan
    if r < 0.07:
        return rng.choice([math.inf, -math.inf])
    if r < 0.12:
        return 0.0
    return rng.uniform(low, high)


def _stamp(msg, rng, state):
    # Mostly increasing header stamps, sometimes repeated or going back (ddt_msg's fall-back).
    r = rng.random()
    if r < 0.1:
        state[0] -= rng.randrange(1, 3 * MS)
    elif r > 0.2:
        state[0] += rng.randrange(1, 4 * MS)
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(max(state[0], 0), 1_000_000_000)


def _imu(rng, stamp):
    from sensor_msgs.msg import Imu
    msg = Imu()
    msg.header.frame_id = 'imu' * rng.randrange(0, 4)
    _stamp(msg, rng, stamp)
    msg.linear_acceleration.x = _value(rng)
    msg.linear_acceleration.y = _value(rng)
    msg.linear_acceleration.z = _value(rng, 5.0, 12.0)
    q = [rng.uniform(-1, 1) for _ in range(4)]
    n = math.sqrt(sum(v * v for v in q)) or 1.0
    (msg.orientation.x, msg.orientation.y, msg.orientation.z, msg.orientation.w) = (
        v / n for v in q)
    msg.orientation_covariance[4] = _value(rng)
    return msg


def _joints(rng, stamp):
    from sensor_msgs.msg import JointState
    n = rng.choice([0, 1, 2, 3, 3, 3, 4])
    names = [f'j{i}' for i in range(n)]
    if rng.random() < 0.3:
        rng.shuffle(names)
    msg = JointState(name=names)
    _stamp(msg, rng, stamp)
    msg.position = [_value(rng, -3, 3) for _ in range(n)]
    msg.velocity = [_value(rng, -3, 3) for _ in range(rng.choice([n, n, 0]))]
    msg.effort = [_value(rng, -9, 9) for _ in range(n)]
    return msg


def _plain(rng, stamp):
    from std_msgs.msg import Float64
    return Float64(data=_value(rng))


def _poses(rng, stamp):
    from geometry_msgs.msg import Pose, PoseArray
    msg = PoseArray()
    msg.header.frame_id = 'map' * rng.randrange(0, 3)
    _stamp(msg, rng, stamp)
    for _ in range(rng.choice([0, 1, 2, 2, 3])):
        pose = Pose()
        pose.position.x, pose.orientation.z = _value(rng), _value(rng, -1, 1)
        msg.poses.append(pose)
    return msg


def _diag(rng, stamp):
    from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
    msg = DiagnosticArray()
    _stamp(msg, rng, stamp)
    for k in range(rng.choice([0, 1, 2, 2, 3])):
        status = DiagnosticStatus(level=bytes([rng.randrange(0, 4)]), name='s' * rng.randrange(5),
                                  message='m' * rng.randrange(9), hardware_id=f'hw{k}')
        status.values = [KeyValue(key='k' * rng.randrange(3), value='v')
                         for _ in range(rng.randrange(3))]
        msg.status.append(status)
    return msg


MAKERS = {'imu': _imu, 'joints': _joints, 'plain': _plain, 'poses': _poses, 'diag': _diag}
# Chance of a message per tick: imu often, with gaps longer than its timeout.
RATES = {'imu': 0.7, 'joints': 0.5, 'plain': 0.4, 'poses': 0.5, 'diag': 0.5}
STREAMS = (11, 22)


def stream(seed, inputs, sim_time=False, ticks=TICKS):
    """Return the message stream `seed` for `inputs`: [(now_ns, dt, {input: [CDR]})]."""
    from rclpy.serialization import serialize_message
    rng = random.Random(seed)
    now = 1_000_000_000
    stamps = {name: [1_700_000_000 * 1_000_000_000 + seed * MS] for name in inputs}
    clock = 1_800_000_000 * 1_000_000_000
    result = []
    for k in range(ticks):
        dt = rng.choice([0.001, 0.001, 0.002, 0.003, 0.02])
        now += int(dt * 1e9)
        waiting = {}
        gap = 10 <= k % 30 < 16  # a burst of silence: timeouts pass
        for name in inputs:
            if gap and name in ('imu', 'plain'):
                continue
            n = 0
            if rng.random() < RATES[name]:
                n = rng.choice([1, 1, 1, 2, 3])
            if n:
                waiting[name] = [serialize_message(MAKERS[name](rng, stamps[name]))
                                 for _ in range(n)]
        if sim_time and rng.random() < 0.5:
            from rosgraph_msgs.msg import Clock
            clock += rng.randrange(1, 5 * MS)
            msg = Clock()
            msg.clock.sec, msg.clock.nanosec = divmod(clock, 1_000_000_000)
            waiting['clock'] = [serialize_message(msg)]
        result.append((now, dt, waiting))
    return result


def clock_ns(raw):
    """Return the ROS time a `rosgraph_msgs/Clock` message sets (as rclpy's time source)."""
    from rclpy.serialization import deserialize_message
    from rosgraph_msgs.msg import Clock
    msg = deserialize_message(raw, Clock)
    return msg.clock.sec * 1_000_000_000 + msg.clock.nanosec


def facts_record(facts):
    """Return the diagnostics' input facts as JSON values (both ticks must report them)."""
    return [[f.name, f.has_message, f.age_ms, f.received, [list(p) for p in f.out_of_range_now],
             list(f.non_finite_now), f.out_of_range, f.non_finite, list(f.missing_now),
             f.missing_name] for f in facts]


def same_bits(a, b):
    """Whether two float64 arrays are equal bit for bit, any nan equal to any nan."""
    import numpy as np
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False
    nan = np.isnan(a) & np.isnan(b)
    return bool(np.all(nan | (a.view(np.uint64) == b.view(np.uint64))))


def canonical(raw, msg_type):
    """
    Return a typed output's CDR bytes as nested values (floats as bits, any nan as 'nan').

    Typed outputs are compared by value: the serializer leaves alignment padding undefined,
    so two templates of one type may differ in bytes no reader looks at.
    """
    import struct
    from rclpy.serialization import deserialize_message

    def walk(value):
        if hasattr(value, 'get_fields_and_field_types'):
            return [walk(getattr(value, name)) for name in value.get_fields_and_field_types()]
        if isinstance(value, float):
            return 'nan' if math.isnan(value) else struct.pack('<d', value).hex()
        if isinstance(value, (list, tuple)) or type(value).__name__ in ('ndarray', 'array'):
            return [walk(v) for v in value]
        return value if not isinstance(value, bytes) else value.hex()
    return walk(deserialize_message(raw, msg_type))
