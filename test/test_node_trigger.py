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
The triggered node over DDS (`trigger`, `max_period`): one evaluation per trigger message.

Counting, not timing: `n = prev(n) + 1` counts evaluations and `k` echoes the message's index,
so every result a message produced has the same `n - k` exactly when no message was skipped
and none evaluated twice (results the probe itself misses do not change that).
"""

import math
import statistics
import time

from node_harness import NodeProcess, Probe, write_params
import pytest

TOPIC = '/trigger_imu'
INPUTS = {'imu': {'topic': TOPIC, 'type': 'sensor_msgs/msg/Imu', 'timeout': 0.05,
                  'qos': 'reliable', 'depth': 1000}}
COUNT = ['n = prev(n) + 1', 'k = imu.linear_acceleration.x', 'f = fresh(imu)']


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


class _Publisher:
    """A reliable Imu publisher on TOPIC whose messages carry their index in accel x."""

    def __init__(self, probe):
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Imu
        self.probe = probe
        self.pub = probe.node.create_publisher(
            Imu, TOPIC, QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))
        self.msg = Imu()

    def wait_matched(self):
        self.probe.wait_for(lambda: self.pub.get_subscription_count() >= 1, 30.0,
                            'the node subscribing to ' + TOPIC)

    def send(self, count, rate_hz, start=0):
        """Publish `count` messages at `rate_hz` (absolute deadlines), x = index."""
        period = 1.0 / rate_hz
        deadline = time.monotonic()
        for i in range(start, start + count):
            self.msg.linear_acceleration.x = float(i)
            self.pub.publish(self.msg)
            deadline += period
            time.sleep(max(0.0, deadline - time.monotonic()))


def _outputs(probe, since=0):
    """Results after the first `since` as dicts {name: value}."""
    with probe.lock:
        names = probe.label.split(',') if probe.label else []
        return [dict(zip(names, data, strict=True)) for _, data in probe.results[since:]]


def _start(tmp_path, probe, **top):
    params = write_params(tmp_path / 'params.yaml', top.pop('expressions', COUNT),
                          top.pop('inputs', INPUTS), **top)
    node = NodeProcess(tmp_path, params)
    probe.wait_results(1, node=node)  # the fallback evaluates while the trigger is silent
    return node


def test_each_message_evaluated_once_at_1khz(tmp_path, probe):
    node = _start(tmp_path, probe, trigger='imu', max_period=1.0)
    try:
        publisher = _Publisher(probe)
        publisher.wait_matched()
        time.sleep(0.5)
        before = probe.result_count()
        publisher.send(2000, 1000.0)
        probe.wait_for(lambda: any(o['k'] == 1999.0 for o in _outputs(probe, before)), 30.0,
                       'the result of the last message')
        time.sleep(0.3)
        results = [o for o in _outputs(probe, before) if not math.isnan(o['k'])]
        offsets = {o['n'] - o['k'] for o in results}
        assert len(offsets) == 1, f'messages skipped or evaluated twice: offsets {offsets}'
        # Whatever the probe received, nothing was evaluated after the last message.
        assert max(o['k'] for o in results) == 1999.0
        assert len(results) >= 1000, len(results)  # the probe's own losses are bounded
        loop = probe.wait_status('loop', 0, timeout=10.0)
        assert loop[2]['Kernel allocations'] == '0'
        assert loop[2]['Target frequency (Hz)'] == '0.0'
        imu = probe.wait_status('input imu', 1, timeout=10.0)  # WARN: stale again
        assert imu[2]['Messages received'] == '2000'
    finally:
        node.close()


def test_silent_trigger_falls_back_to_max_period(tmp_path, probe):
    node = _start(tmp_path, probe, trigger='imu', max_period=0.1)
    try:
        before = probe.result_count()
        time.sleep(3.0)
        silent = _outputs(probe, before)
        # 10 evaluations a second expected; generous bounds for a loaded machine.
        assert 10 <= len(silent) <= 40, len(silent)
        assert all(o['f'] == 0.0 for o in silent)
        steps = {b['n'] - a['n'] for a, b in zip(silent, silent[1:], strict=False)}
        assert steps == {1.0}
        publisher = _Publisher(probe)
        publisher.wait_matched()
        seen = probe.result_count()
        publisher.send(20, 50.0)
        probe.wait_for(lambda: any(o['f'] == 1.0 for o in _outputs(probe, seen)), 10.0,
                       'a fresh evaluation')
        time.sleep(0.5)
        after = _outputs(probe, seen)
        assert after[-1]['f'] == 0.0  # the e-stop idiom `not fresh(imu)` fires again
    finally:
        node.close()


def test_ddt_uses_the_message_spacing(tmp_path, probe):
    node = _start(tmp_path, probe, trigger='imu', max_period=1.0,
                  expressions=['v = ddt(imu.linear_acceleration.x)', 'd = dt'],
                  inputs={'imu': dict(INPUTS['imu'], timeout=0.5)})
    try:
        publisher = _Publisher(probe)
        publisher.wait_matched()
        before = probe.result_count()
        publisher.send(100, 50.0)  # x grows by 1 every 20 ms: 50 per second
        time.sleep(0.3)
        results = _outputs(probe, before)[2:]
        assert len(results) >= 80, len(results)
        # Periodic at 1 kHz, dt would be 1 ms and ddt 0 on most ticks: here both follow the
        # messages (medians: single values carry the publisher's jitter).
        assert statistics.median(o['d'] for o in results) == pytest.approx(0.02, rel=0.25)
        assert statistics.median(o['v'] for o in results) == pytest.approx(50.0, rel=0.25)
    finally:
        node.close()


def test_switch_periodic_triggered_periodic_keeps_state(tmp_path, probe):
    node = _start(tmp_path, probe, rate_hz=100.0)
    try:
        publisher = _Publisher(probe)
        publisher.wait_matched()
        probe.stream('imu', lambda: publisher.pub.publish(publisher.msg), 200.0)
        probe.wait_results(20, node=node)
        for trigger, target in (('imu', '0.0'), ('', '100.0'), ('imu', '0.0'), ('', '100.0')):
            results = probe.set_parameters({'trigger': trigger})
            assert results[0].successful, results[0].reason
            probe.wait_for(lambda want=target: (probe.status('loop') or (0, '', {}))[2].get(
                'Target frequency (Hz)') == want, 10.0, f'trigger {trigger!r} running')
            probe.wait_results(30, node=node)
            assert probe.status('loop')[2]['Kernel allocations'] == '0'
        probe.stop_stream('imu')
        ns = [o['n'] for o in _outputs(probe)]
        # One counter through every switch: never restarted, never repeated.
        assert all(b > a for a, b in zip(ns, ns[1:], strict=False)), 'n restarted or repeated'
        assert ns[-1] >= len(ns)
        assert node.alive()
    finally:
        node.close()


def test_unknown_trigger_input_is_one_line(tmp_path, probe):
    params = write_params(tmp_path / 'bad.yaml', COUNT, INPUTS, trigger='imu, joints')
    bad = NodeProcess(tmp_path, params)
    try:
        assert bad.wait(30.0) == 2
        lines = bad.stderr().strip().splitlines()
        assert len(lines) == 1, lines
        assert "trigger names no input 'joints'" in lines[0] and 'bad.yaml:' in lines[0]
        assert 'Traceback' not in bad.output()
    finally:
        bad.close()
    node = _start(tmp_path, probe, trigger='imu', max_period=0.1)
    try:
        results = probe.set_parameters({'trigger': 'imux'})
        assert not results[0].successful
        reason = results[0].reason.splitlines()
        assert len(reason) == 1 and reason[0].startswith('parameter trigger:1:1: error:'), reason
        assert "did you mean 'imu'" in reason[0]
        mark = probe.result_count()
        probe.wait_results(5, node=node)  # the running program goes on, still triggered
        assert probe.get_parameters(['trigger']) == ['imu']
        assert len(_outputs(probe, mark)) >= 5
    finally:
        node.close()
