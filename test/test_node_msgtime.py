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
Message time over real DDS: the node as a process, a probe publishing Imu with known stamps.

The stamps advance 1 ms per message and x is 2 * stamp, so ddt_msg must read exactly 2 whatever
the timing of DDS and the tick; when the stream stops, fresh goes to 0 (not nan) and the
safety idiom `not fresh(imu)` to 1, while the field itself follows the stale policy.
"""

import math

from node_harness import NodeProcess, Probe, write_params
import pytest

pytestmark = [pytest.mark.ros]

EXPRESSIONS = [
    'x = imu.linear_acceleration.x',
    'v = ddt_msg(imu.linear_acceleration.x)',
    'f = fresh(imu)',
    'estop = not fresh(imu)',
    'a = age(imu)',
    'u = updated(imu)',
    's = stamp(imu)',
]


def test_message_time_on_a_publisher_with_known_stamps(tmp_path):
    probe = Probe()
    node = None
    try:
        params = write_params(tmp_path / 'p.yaml', expressions=EXPRESSIONS, inputs={
            'imu': {'topic': '/imu', 'type': 'sensor_msgs/msg/Imu', 'timeout': 0.1}})
        node = NodeProcess(tmp_path, params)
        sent = [0]

        def publish():
            k = sent[0]
            sent[0] += 1
            stamp_ns = 1_700_000_000_000_000_000 // 1000 + k * 1_000_000  # a 1 ms stamp grid
            probe.imu.header.stamp.sec, probe.imu.header.stamp.nanosec = divmod(
                stamp_ns, 1_000_000_000)
            probe.imu.linear_acceleration.x = 2.0 * (stamp_ns // 1_000_000_000 + (
                stamp_ns % 1_000_000_000) / 1e9)
            probe.imu_pub.publish(probe.imu)

        probe.stream('imu', publish, rate_hz=500.0)
        probe.wait_results(50, node=node)
        start = sent[0]
        probe.wait_for(lambda: sent[0] > start + 500, 20.0, '500 more messages')
        with probe.lock:
            rows = [dict(zip(probe.label.split(','), data, strict=True))
                    for _, data in probe.results]
        # From the node's second message on (the first has nothing to differentiate against).
        first = min(row['s'] for row in rows if row['f'] == 1.0)
        rows = [row for row in rows if row['s'] > first]
        assert len(rows) > 300
        assert all(row['f'] == 1.0 and row['estop'] == 0.0 for row in rows)
        assert all(row['v'] == 2.0 for row in rows), [row['v'] for row in rows]
        assert {row['u'] for row in rows} <= {0.0, 1.0} and any(row['u'] == 1.0 for row in rows)
        assert all(0.0 <= row['a'] < 0.1 for row in rows)
        assert all(row['s'] * 2.0 == pytest.approx(row['x'], rel=1e-15) for row in rows)
        probe.stop_stream('imu')
        probe.wait_for(lambda: probe.latest_outputs()['f'] == 0.0, 5.0, 'imu stale')
        out = probe.latest_outputs()
        assert out['estop'] == 1.0 and out['u'] == 0.0 and out['a'] > 0.1
        assert math.isnan(out['x']) and not math.isnan(out['s'])
    finally:
        if node is not None:
            node.close()
        probe.close()
