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
Taking and publishing CDR bytes through rcl directly (`arena_eval.rt.rcl`), over real DDS.

What the direct take returns deserializes (by rclpy) to the message rclpy published, and decodes
(by the node's CDR view) to the same field values; what the direct publisher sends is what an
rclpy subscription receives; a message larger than the take buffer grows it once (and an older
view of the buffer still shows its message); an empty subscription gives None; and when the
library or a symbol is missing the node takes and publishes through rclpy instead, with the
same results, and says so in its diagnostics.
"""

import math
import os
import time

from arena_eval.msgtypes.plans import Reader
from arena_eval.msgtypes.templates import results_template
from arena_eval.ros.entities import load_rcl
from arena_eval.ros.node import ArenaEvalNode
from arena_eval.rt import rcl
from node_harness import assert_outputs_close, EXPECTED, Probe, write_params
import pytest
import rclpy
from rclpy.context import Context
from rclpy.qos import QoSProfile
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Imu
from std_msgs.msg import Float64MultiArray

MISSING_LIBRARY = 'libarena_eval_no_such_rcl.so'
DELIVERY_TIMEOUT_S = 10.0


@pytest.fixture
def ros():
    """Yield a node in its own context; destroy both after the test."""
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node(f'rcl_direct_test_{os.getpid()}', context=context)
    yield node
    node.destroy_node()
    context.try_shutdown()


def _until(get, what):
    """Call `get` until it returns something other than None (a delivery deadline, not speed)."""
    end = time.monotonic() + DELIVERY_TIMEOUT_S
    while time.monotonic() < end:
        value = get()
        if value is not None:
            return value
        time.sleep(0.01)
    pytest.fail(f'timed out waiting for {what}')


def _pair(node, msg_type, topic, depth=10):
    qos = QoSProfile(depth=depth)
    pub = node.create_publisher(msg_type, topic, qos)
    sub = node.create_subscription(msg_type, topic, lambda msg: None, qos, raw=True)
    return pub, sub


def _imu(i):
    msg = Imu()
    msg.header.frame_id = 'imu_link' * i
    msg.linear_acceleration.x, msg.linear_acceleration.y = 0.5 + i, -1.25 * i
    msg.linear_acceleration.z = 9.81
    msg.angular_velocity.z = math.pi / (i + 1)
    msg.orientation_covariance[4] = 7.0 + i
    return msg


def test_direct_take_gives_what_rclpy_published(ros):
    pub, sub = _pair(ros, Imu, f'/rcl_direct_imu_{os.getpid()}')
    taker = rcl.Taker(rcl.load(), sub)
    paths = [('linear_acceleration', 'x'), ('linear_acceleration', 'y'),
             ('linear_acceleration', 'z'), ('angular_velocity', 'z'),
             ('orientation_covariance', 4)]
    reader = Reader(Imu, list(enumerate(paths)))
    _until(lambda: pub.get_subscription_count() or None, 'discovery')
    for i in range(1, 4):
        sent = _imu(i)
        pub.publish(sent)
        raw = _until(taker.take, f'message {i}')
        assert isinstance(raw, memoryview)
        assert deserialize_message(bytes(raw), Imu) == sent
        assert reader.read(raw)
        assert reader.latest[0][:5].tolist() == [
            sent.linear_acceleration.x, sent.linear_acceleration.y, sent.linear_acceleration.z,
            sent.angular_velocity.z, sent.orientation_covariance[4]]
    assert taker.grown == 0


def test_direct_publish_is_what_rclpy_receives(ros):
    topic = f'/rcl_direct_results_{os.getpid()}'
    pub, sub = _pair(ros, Float64MultiArray, topic)
    raw, doubles = results_template(['a', 'b', 'c'])
    publisher = rcl.RawPublisher(rcl.load(), pub, raw)
    take = sub.handle.take_message
    _until(lambda: pub.get_subscription_count() or None, 'discovery')
    for values in ([1.0, -2.5, math.pi], [float('nan'), 0.0, 1e300]):
        doubles[:] = values
        publisher.publish()
        got = _until(lambda: take(Float64MultiArray, False), 'the published message')[0]
        assert got.layout.dim[0].label == 'a,b,c'
        assert list(got.data) == pytest.approx(values, nan_ok=True)


def test_a_message_larger_than_the_buffer_grows_it_once(ros):
    pub, sub = _pair(ros, Float64MultiArray, f'/rcl_direct_big_{os.getpid()}')
    taker = rcl.Taker(rcl.load(), sub, capacity=64)
    _until(lambda: pub.get_subscription_count() or None, 'discovery')
    small = Float64MultiArray(data=[1.0, 2.0])
    pub.publish(small)
    first = _until(taker.take, 'the small message')
    assert taker.grown == 0 and taker.capacity == 64
    big = Float64MultiArray(data=[float(i) for i in range(20000)])
    pub.publish(big)
    raw = _until(taker.take, 'the big message')
    assert taker.grown == 1
    assert taker.capacity >= len(serialize_message(big))
    assert deserialize_message(bytes(raw), Float64MultiArray) == big
    # The view taken before the growth still shows its message (its buffer is kept alive).
    assert deserialize_message(bytes(first), Float64MultiArray) == small
    pub.publish(small)
    raw = _until(taker.take, 'a small message after the big one')
    assert deserialize_message(bytes(raw), Float64MultiArray) == small
    assert taker.grown == 1


def test_nothing_to_take_gives_none(ros):
    _, sub = _pair(ros, Imu, f'/rcl_direct_empty_{os.getpid()}')
    taker = rcl.Taker(rcl.load(), sub)
    assert [taker.take() for _ in range(100)] == [None] * 100
    assert taker.grown == 0


def test_a_missing_library_or_symbol_is_unavailable():
    with pytest.raises(rcl.Unavailable, match=MISSING_LIBRARY):
        rcl.load(MISSING_LIBRARY)
    # A library that exists but has no rcl symbols.
    with pytest.raises(rcl.Unavailable, match='rcl_take_serialized_message'):
        rcl.Library('libc.so.6')
    library, path = load_rcl(MISSING_LIBRARY)
    assert library is None
    assert path.startswith('rclpy (') and MISSING_LIBRARY in path


def test_a_destroyed_entity_is_unavailable(ros):
    pub, sub = _pair(ros, Imu, f'/rcl_direct_gone_{os.getpid()}')
    ros.destroy_subscription(sub)
    ros.destroy_publisher(pub)
    with pytest.raises(rcl.Unavailable):
        rcl.Taker(rcl.load(), sub)
    with pytest.raises(rcl.Unavailable):
        rcl.RawPublisher(rcl.load(), pub, bytearray(8))


@pytest.mark.parametrize('library', [None, MISSING_LIBRARY], ids=['direct', 'fallback'])
def test_node_ticks_give_the_same_results_either_way(tmp_path, library):
    """The node's tick, run by hand: inputs in, results out, on the direct or the rclpy path."""
    params = write_params(tmp_path / 'params.yaml')
    context = Context()
    rclpy.init(args=['test', '--ros-args', '--params-file', str(params)], context=context)
    probe = Probe()
    node = None
    try:
        node = ArenaEvalNode(context=context, rcl_library=library)
        # The Python tick, run by hand (the compiled one wraps it where it can run).
        tick = getattr(node.loop.current_tick, 'python', node.loop.current_tick)
        want = 'rcl (ctypes)' if library is None else 'rclpy ('
        assert tick.publish_transport.startswith(want)
        assert all(p.transport.startswith(want) for p in tick.pollers)
        for _ in range(2000):
            if all(p.latest is not None for p in tick.pollers) and probe.result_count():
                break
            probe.imu_pub.publish(probe.imu)
            probe.joints_pub.publish(probe.joints)
            time.sleep(0.005)
            tick(time.monotonic_ns(), 0.001)
        assert all(p.received > 0 and p.undecodable == 0 for p in tick.pollers)
        start = probe.result_count()
        probe.wait_for(lambda: probe.result_count() > start or tick(time.monotonic_ns(), 0.001),
                       DELIVERY_TIMEOUT_S, 'results')
        assert_outputs_close(probe.latest_outputs(), EXPECTED)
        if library is None:
            assert all(p.buffer_grown == 0 for p in tick.pollers)
        else:
            assert all(p.buffer_grown is None for p in tick.pollers)
    finally:
        if node is not None:
            node.shutdown()
            node.destroy_node()
        probe.close()
        context.try_shutdown()
