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
Typed outputs over real DDS: the node as a process, a probe subscribing to each typed topic.

The probe publishes an Imu with a known header stamp; the typed subscribers must see the values
the default batch gives for it, the Imu's stamp, the frame, `every`'s rate (counted against the
loop's ticks in the same diagnostics message) and the per-output diagnostics.
"""

import math
import threading

from node_harness import EXPECTED, NodeProcess, Probe, write_params
import pytest

pytestmark = [pytest.mark.ros]

OUTPUTS = {
    'tilt': {'topic': '/typed_tilt', 'type': 'geometry_msgs/msg/Vector3Stamped',
             'stamp': 'imu', 'frame_id': 'base_link', 'every': 10,
             'fields': ['vector.x = roll', 'vector.y = pitch',
                        'vector.z = imu.linear_acceleration.z * 2']},
    'estop': {'topic': '/typed_estop', 'type': 'std_msgs/msg/Bool',
              'fields': ['data = tilt_deg > 30']},
    'count': {'topic': '/typed_count', 'type': 'std_msgs/msg/Int16',
              'fields': ['data = joint_power * 2000']},
}


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


def test_typed_topics_carry_values_stamps_frames_and_rates(tmp_path, probe):
    from geometry_msgs.msg import Vector3Stamped
    from std_msgs.msg import Bool, Int16
    seen = {name: [] for name in OUTPUTS}
    lock = threading.Lock()

    def recorder(name):
        def record(msg):
            with lock:
                seen[name].append(msg)
        return record

    for name, msg_type in (('tilt', Vector3Stamped), ('estop', Bool), ('count', Int16)):
        probe.node.create_subscription(msg_type, OUTPUTS[name]['topic'], recorder(name), 100)
    probe.imu.header.stamp.sec, probe.imu.header.stamp.nanosec = 1234, 567
    params = write_params(tmp_path / 'p.yaml', outputs=OUTPUTS)
    node = NodeProcess(tmp_path, params)
    try:
        probe.stream_inputs()
        probe.wait_results(50, node=node)
        probe.wait_for(lambda: all(len(v) >= 5 for v in seen.values()), 20.0,
                       'messages on every typed topic')
        with lock:
            tilt, estop, count = seen['tilt'][-1], seen['estop'][-1], seen['count'][-1]
        assert tilt.header.frame_id == 'base_link'
        assert (tilt.header.stamp.sec, tilt.header.stamp.nanosec) == (1234, 567)
        assert tilt.vector.x == pytest.approx(EXPECTED['roll'], rel=1e-12)
        assert tilt.vector.y == pytest.approx(EXPECTED['pitch'], rel=1e-12)
        assert tilt.vector.z == 4.0
        assert estop.data is (EXPECTED['tilt_deg'] > 30)
        # 32 W * 2000 = 64000 does not fit an int16: saturated, and counted.
        assert EXPECTED['joint_power'] * 2000 > 32767 and count.data == 32767
        level, _, values = probe.wait_status('output tilt', 0)
        assert values['Topic'] == '/typed_tilt' and values['Every'] == '10'
        # Published on the first tick and every 10th after it: one per 10 ticks.
        loop = probe.statuses_since(0.0, 'loop')
        tilt_statuses = probe.statuses_since(0.0, 'output tilt')
        ticks, published = int(loop[-1][2]['Ticks']), int(tilt_statuses[-1][2][
            'Messages published'])
        assert abs(published - math.ceil(ticks / 10)) <= 2, (ticks, published)
        assert int(probe.status('output count')[2]['Saturated']) > 0
    finally:
        node.close()
