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
The compiled tick (`arena_eval.rt.compiled_tick`) against the Python tick, and over real DDS.

In-process, the same serialized messages go to the compiled tick (walked by its plans) and to
the Python tick's own parts (rclpy's deserialization, `InputBindings`, `Batch.step`): random
values with nan and inf, joint sequences of random sizes (indices out of range), gaps longer
than the timeout (staleness). Outputs must be identical bit for bit, and the per-slot counters
and per-input counts the diagnostics read must agree. Over DDS, the loop takes a probe's
messages, publishes the default batch's expected outputs, swaps to another program between two
ticks, stops within a second, and allocates nothing while it runs; a new process loads it from
numba's cache.
"""

import math
import random
import subprocess
import sys
import time

from arena_eval.engine import native
from arena_eval.engine.arena import compile_batch
from arena_eval.msgtypes.inputs import InputBindings, qos_profile
from arena_eval.params.config import build_batch, default_params_file, load_params_file
from arena_eval.rt import compiled_tick as ct
from hypothesis import given, settings, strategies as st
from node_harness import EXPECTED, Probe
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu, JointState


def default_config():
    config, errors, _ = load_params_file(default_params_file())
    assert not errors
    return config


class Detached:
    """A `CompiledInput` fed by `compiled_tick.feed` instead of an rcl subscription."""

    def __init__(self, symbols, name):
        self.name = name
        self.pointer = 0
        self.buffer = symbols.serialized_buffer()
        self.info = np.zeros(native.MESSAGE_INFO_SIZE // 8, np.int64)
        self.poll = np.zeros(ct.PS_WORDS, np.int64)
        self.poll[ct.PS_CAPACITY] = self.buffer.capacity
        self.single = 0


def compiled_side(config):
    symbols = native.symbols()
    batch = build_batch(config)
    inputs = [(Detached(symbols, name), config.inputs[name].timeout, config.inputs[name].msg_type)
              for name in config.inputs]
    slots = ct.slot_reads(list(config.inputs), batch.inputs)
    tick = ct.TickConfig(symbols, 0, batch, inputs, slots, [])
    return tick, batch


def random_imu(rng):
    msg = Imu()
    msg.header.frame_id = 'x' * rng.randrange(0, 12)
    values = [rng.choice([rng.uniform(-20, 20), 0.0, math.nan, math.inf, 9.81])
              if rng.random() < 0.1 else rng.uniform(-20, 20) for _ in range(4)]
    (msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z,
     msg.angular_velocity.z) = values
    return msg


def random_joints(rng):
    n = rng.choice([0, 1, 2, 3, 3, 3, 4])
    msg = JointState(name=['j%d' % i * rng.randrange(1, 4) for i in range(n)])
    msg.position = [rng.uniform(-3, 3) for _ in range(n)]
    msg.velocity = [rng.uniform(-3, 3) for _ in range(rng.choice([n, n, 0]))]
    msg.effort = [rng.choice([rng.uniform(-9, 9), math.nan]) for _ in range(n)]
    return msg


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_compiled_tick_equals_python_tick(seed):
    rng = random.Random(seed)
    config = default_config()
    tick, batch = compiled_side(config)
    reference = build_batch(config)
    bindings = InputBindings(config, reference)
    names = list(config.inputs)
    types = {'imu': Imu, 'joints': JointState}
    now = 1_000_000_000
    packed = np.zeros(3, np.int64)
    for _ in range(120):
        for i, name in enumerate(names):
            if rng.random() < 0.6:
                msg = random_imu(rng) if name == 'imu' else random_joints(rng)
                raw = np.frombuffer(serialize_message(msg), np.uint8)
                packed[:] = (raw.ctypes.data, raw.size, now)
                assert ct.feed(tick.address, i, packed.ctypes.data) == 1
                bindings.on_message(name, deserialize_message(raw.tobytes(), types[name]), now)
        dt = rng.choice([0.001, 0.001, 0.002, 0.03, 0.07])
        now += int(dt * 1e9)
        ct.copy_and_step(tick.address, now, dt)
        bindings.copy_latest(now)
        reference.step(dt)
        assert np.array_equal(batch.output_buffer, reference.output_buffer, equal_nan=True), (
            batch.output_buffer, reference.output_buffer)
        assert np.array_equal(batch.input_valid, reference.input_valid)
        # What the diagnostics read: counts, ages, the paths out of range (with the
        # sequence's length) and non-finite now.
        assert ct.CompiledBindings(config, batch, tick).facts(now) == bindings.facts(now)


def test_bytes_the_plan_cannot_read_are_not_handed_over():
    config = default_config()
    tick, _ = compiled_side(config)
    raw = bytearray(serialize_message(Imu()))
    raw[1] = 0  # big endian: not what the plans read
    data = np.frombuffer(bytes(raw), np.uint8)
    packed = np.array([data.ctypes.data, data.size, 5], np.int64)
    assert ct.feed(tick.address, 0, packed.ctypes.data) == 0
    assert tick.received(0) == 0 and tick.received_ns(0) is None


# ----- over DDS ---------------------------------------------------------------------------------
class Rig:
    """The compiled loop on a real rclpy node (its own context, never spun) beside a probe."""

    def __init__(self):
        import rclpy
        from rclpy.context import Context
        from std_msgs.msg import Float64MultiArray

        from arena_eval.msgtypes.templates import results_template

        self.results_template = results_template
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('arena_eval', context=self.context)
        self.symbols = native.symbols()
        self.config = default_config()
        self.subscriptions = []
        self.inputs = []
        for name, cfg in self.config.inputs.items():
            sub = self.node.create_subscription(cfg.msg_type, cfg.topic, lambda m: None,
                                                qos_profile(cfg), raw=True)
            self.subscriptions.append(sub)
            self.inputs.append((ct.CompiledInput(self.symbols, sub, cfg.depth, name),
                                cfg.timeout, cfg.msg_type))
        self.results = self.node.create_publisher(Float64MultiArray, '~/results', 10)
        self.loop = ct.CompiledLoop(self.symbols, 1000.0)

    def tick_config(self, batch):
        raw, view = self.results_template(batch.outputs)
        data_at = len(raw) - 8 * len(batch.outputs)
        slots = ct.slot_reads(list(self.config.inputs), batch.inputs)
        return ct.TickConfig(self.symbols, self.context.handle.pointer, batch, self.inputs,
                             slots, [(-1, self.results, raw, data_at)])

    def close(self):
        self.loop.stop()
        self.node.destroy_node()
        self.context.try_shutdown()


@pytest.mark.ros
def test_compiled_loop_over_dds_publishes_swaps_and_stops():
    from numba.core.runtime import rtsys

    probe = Probe()
    rig = Rig()
    try:
        probe.stream_inputs()
        rig.loop.start(rig.tick_config(build_batch(rig.config)))
        probe.wait_for(lambda: probe.latest_outputs() and all(
            math.isclose(probe.latest_outputs()[k], v, rel_tol=1e-9, abs_tol=1e-9)
            for k, v in EXPECTED.items()), 30.0, 'the expected outputs')
        allocations = rtsys.get_allocation_stats().alloc
        ticks = rig.loop.snapshot().ticks
        time.sleep(0.5)
        assert rtsys.get_allocation_stats().alloc == allocations
        snap = rig.loop.snapshot()
        assert snap.ticks > ticks + 100 and snap.loop_mean_us > 0
        assert rig.inputs[0][0].received > 0 and rig.inputs[1][0].received > 0
        other = compile_batch(['twice_z = 2 * imu.linear_acceleration.z',
                               'n = joints.position[1] + 1'])
        assert rig.loop.swap_from_non_rt(rig.tick_config(other))
        assert rig.loop.snapshot().swaps == 1
        probe.wait_for(lambda: probe.label == 'twice_z,n', 10.0, 'the swapped program')
        time.sleep(0.1)
        assert probe.latest_result() == (4.0, 1.2)
        start = time.monotonic()
        assert rig.loop.stop(timeout=1.0)
        assert time.monotonic() - start < 1.0
        assert not rig.loop.failed.is_set()
    finally:
        rig.close()
        probe.close()


def test_a_new_process_loads_the_loop_from_the_cache():
    script = ('from arena_eval.rt import compiled_tick as ct; '
              'print(sum(ct.tick_loop.stats.cache_hits.values()), '
              'sum(ct.tick_loop.stats.cache_misses.values()), ct.RECOMPILED)')
    subprocess.run([sys.executable, '-c', script], check=True, timeout=600)
    out = subprocess.run([sys.executable, '-c', script], check=True, capture_output=True,
                         text=True, timeout=600).stdout
    assert out.split() == ['1', '0', 'False']


# ----- in the node ------------------------------------------------------------------------------
PATH_INPUT = {'topic': '/path', 'type': 'nav_msgs/msg/Path', 'timeout': 0.0}


def _loop_value(probe, key):
    status = probe.status('loop')
    return status[2].get(key) if status else None


def _wait_tick(probe, prefix):
    return probe.wait_for(lambda: (_loop_value(probe, 'Tick') or '').startswith(prefix) and
                          _loop_value(probe, 'Tick'), 20.0, f'Tick: {prefix}...')


@pytest.mark.ros
def test_node_runs_the_compiled_tick_and_stops_on_sigint(tmp_path):
    from node_harness import assert_outputs_close, NodeProcess, write_params
    probe = Probe()
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml'))
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(5, node=node)
        assert _wait_tick(probe, 'compiled') == 'compiled'
        probe.wait_for(lambda: not math.isnan(probe.latest_outputs()['joint_power']), 10.0,
                       'fresh outputs')
        time.sleep(0.5)  # the low-pass converges
        assert_outputs_close(probe.latest_outputs(), EXPECTED, rel=1e-6)
        imu = probe.wait_for(lambda: (probe.status('input imu') or (0, '', {}))[2].get(
            'Messages received', '0') != '0' and probe.status('input imu'), 10.0, 'imu status')
        assert imu[2]['Taking'] == ct.TRANSPORT and imu[2]['Decoding'] == 'CDR view'
        assert int(_loop_value(probe, 'Kernel allocations')) == 0
        code, seconds = node.signal_and_wait()
        assert code == 0 and seconds < 1.0, node.output()
    finally:
        node.close()
        probe.close()


@pytest.mark.ros
def test_names_and_arrays_of_messages_stay_on_the_compiled_tick_across_a_swap(tmp_path):
    from node_harness import DEFAULT_INPUTS, NodeProcess, write_params
    inputs = dict(DEFAULT_INPUTS, path=PATH_INPUT)
    probe = Probe()
    node = NodeProcess(tmp_path, write_params(
        tmp_path / 'params.yaml', ['z2 = 2 * imu.linear_acceleration.z',
                                   's = path.header.stamp.sec'], inputs))
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(5, node=node)
        assert _wait_tick(probe, 'compiled') == 'compiled'
        results = probe.set_parameters({'expressions': [
            'z3 = 3 * imu.linear_acceleration.z', "pj = joints.position['j1']",
            'wx = path.poses[0].pose.position.x']})
        assert results[0].successful, results[0].reason
        probe.wait_for(lambda: probe.label == 'z3,pj,wx' and probe.latest_result()[0] == 6.0
                       and probe.latest_result()[1] == 0.2, 10.0, 'new results')
        assert _loop_value(probe, 'Tick') == 'compiled'
        code, seconds = node.signal_and_wait()
        assert code == 0 and seconds < 1.0, node.output()
    finally:
        node.close()
        probe.close()


@pytest.mark.ros
def test_node_publishes_typed_outputs_from_the_compiled_tick(tmp_path):
    from arena_eval.params.config import default_params_file
    from node_harness import NodeProcess
    probe = Probe()
    node = NodeProcess(tmp_path, default_params_file())
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(5, node=node)
        assert _wait_tick(probe, 'compiled') == 'compiled'
        tilt = probe.wait_for(lambda: (probe.status('output tilt') or (0, '', {}))[2].get(
            'Messages published', '0') not in ('0', None) and probe.status('output tilt'),
            10.0, 'typed output tilt')
        assert tilt[2]['Topic'] == '/arena_eval/tilt'
        code, seconds = node.signal_and_wait()
        assert code == 0 and seconds < 1.0, node.output()
    finally:
        node.close()
        probe.close()


@pytest.mark.ros
def test_message_time_runs_on_the_compiled_tick(tmp_path):
    from node_harness import NodeProcess, write_params
    probe = Probe()
    node = NodeProcess(tmp_path, write_params(
        tmp_path / 'params.yaml', ['z2 = 2 * imu.linear_acceleration.z', 'f = fresh(imu)']))
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(5, node=node)
        assert _wait_tick(probe, 'compiled') == 'compiled'
        probe.wait_for(lambda: probe.latest_result() and probe.latest_result()[1] == 1.0, 10.0,
                       'fresh(imu) = 1')
    finally:
        node.close()
        probe.close()


@pytest.mark.ros
def test_now_stamps_follow_clock_under_use_sim_time_in_the_compiled_tick(tmp_path):
    from geometry_msgs.msg import Vector3Stamped
    from node_harness import NodeProcess, write_params
    from rosgraph_msgs.msg import Clock
    params = write_params(tmp_path / 'params.yaml', ['z2 = 2 * imu.linear_acceleration.z'],
                          outputs={'v': {'topic': '/sim_v', 'stamp': 'now',
                                         'type': 'geometry_msgs/msg/Vector3Stamped',
                                         'fields': ['vector.z = z2']}})
    probe = Probe()
    stamps = []
    probe.node.create_subscription(
        Vector3Stamped, '/sim_v',
        lambda m: stamps.append((m.header.stamp.sec, m.header.stamp.nanosec)), 100)
    clock = probe.node.create_publisher(Clock, '/clock', 10)
    clock_msg = Clock()
    clock_msg.clock.sec, clock_msg.clock.nanosec = 4242, 123_456_789
    node = NodeProcess(tmp_path, params, ['-p', 'use_sim_time:=true'])
    try:
        probe.stream_inputs(200.0)
        probe.stream('clock', lambda: clock.publish(clock_msg), 50.0)
        probe.wait_results(5, node=node)
        assert _wait_tick(probe, 'compiled') == 'compiled'
        # ROS time is /clock's: the loop takes it, as an input, for the 'now' stamps.
        probe.wait_for(lambda: (4242, 123_456_789) in stamps, 10.0, '/clock stamps')
        assert all(s in ((0, 0), (4242, 123_456_789)) for s in stamps), set(stamps)
        code, seconds = node.signal_and_wait()
        assert code == 0 and seconds < 1.0, node.output()
    finally:
        node.close()
        probe.close()
