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

from node_harness import (DEFAULT_EXPRESSIONS, DEFAULT_INPUTS, EXPECTED, NodeProcess, Probe,
                          write_params)
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
        # Due on the first tick and every 10th after it: one per 10 ticks, published or
        # skipped while the IMU was not there yet (its publications are counted just after
        # the loop's ticks, so a few more may be in).
        loop = probe.statuses_since(0.0, 'loop')
        tilt = probe.statuses_since(0.0, 'output tilt')[-1][2]
        ticks = int(loop[-1][2]['Ticks'])
        due = int(tilt['Messages published']) + int(tilt['Stale ticks'])
        assert -2 <= due - math.ceil(ticks / 10) <= 5, (ticks, due)
        assert int(probe.status('output count')[2]['Saturated']) > 0
    finally:
        node.close()


STALE_OUTPUTS = {
    # The obvious form: nan > 60 is false, so without on_stale it said "all clear" while the
    # IMU was dead. The probe's IMU gives a tilt of 48 degrees: False while fresh.
    'estop': {'topic': '/typed_estop', 'type': 'std_msgs/msg/Bool', 'every': 2,
              'fields': ['data = tilt_deg > 60']},
    'estop_latched': {'topic': '/typed_estop_latched', 'type': 'std_msgs/msg/Bool',
                      'fields': ['data = tilt_deg > 60'], 'on_stale': 'stale_fields',
                      'stale_fields': ['data = true']},
    # Needs only the joints, which keep streaming: never stale.
    'count': {'topic': '/typed_count', 'type': 'std_msgs/msg/Int16',
              'fields': ['data = joint_power']},
}


def test_an_estop_whose_imu_stops_goes_silent_or_publishes_its_stale_value(tmp_path, probe):
    from std_msgs.msg import Bool, Int16
    seen = {name: [] for name in STALE_OUTPUTS}
    lock = threading.Lock()

    def recorder(name):
        def record(msg):
            with lock:
                seen[name].append(msg.data)
        return record

    for name, msg_type in (('estop', Bool), ('estop_latched', Bool), ('count', Int16)):
        probe.node.create_subscription(msg_type, STALE_OUTPUTS[name]['topic'], recorder(name),
                                       1000)

    def last_is(name, value):
        with lock:
            return bool(seen[name]) and seen[name][-1] is value

    # A longer timeout than the harness's, so a loaded machine's late message is no gap.
    inputs = {name: dict(spec, timeout=0.5) for name, spec in DEFAULT_INPUTS.items()}
    # Without the message-time q2_rate, so the compiled loop runs (it has no message time yet).
    expressions = [e for e in DEFAULT_EXPRESSIONS if not e.startswith('q2_rate')]
    node = NodeProcess(tmp_path, write_params(tmp_path / 'p.yaml', expressions, inputs,
                                              outputs=STALE_OUTPUTS))
    try:
        probe.stream_inputs()
        probe.wait_results(50, node=node)
        probe.wait_for(lambda: all(len(v) >= 5 for v in seen.values()), 20.0,
                       'messages on every typed topic')
        probe.wait_status('output estop', 0)
        assert probe.status('loop')[2]['Tick'] == 'compiled'
        probe.wait_for(lambda: last_is('estop', False) and last_is('estop_latched', False),
                       10.0, 'False on both estops while the IMU streams')
        probe.stop_stream('imu')
        _, message, _ = probe.wait_status('output estop', 1)
        assert 'stale' in message and 'not publishing' in message
        probe.wait_status('output estop_latched', 1, message_part='stale_fields')
        assert probe.status('output count')[0] == 0
        with lock:
            silent_from = len(seen['estop'])
            latched_from = len(seen['estop_latched'])
            counted_from = len(seen['count'])
        # The joints still stream: the count output goes on while the estop stays silent.
        probe.wait_for(lambda: len(seen['count']) > counted_from + 300, 20.0, 'count messages')
        with lock:
            # A few may have been in flight when the status said stale.
            assert len(seen['estop']) - silent_from <= 3, seen['estop'][silent_from:]
            latched = seen['estop_latched'][latched_from:]
        assert len(latched) > 100 and all(latched), latched[-10:]
        status = probe.status('output estop')
        assert status[0] == 1 and int(status[2]['Stale ticks']) > 0
        # The IMU back: the estop publishes its value again and is OK.
        probe.stream('imu', lambda: probe.imu_pub.publish(probe.imu))
        probe.wait_status('output estop', 0)
        with lock:
            back = len(seen['estop'])
        probe.wait_for(lambda: len(seen['estop']) > back + 5, 20.0, 'estop messages again')
        probe.wait_for(lambda: last_is('estop', False) and last_is('estop_latched', False),
                       10.0, 'False on both estops again')
    finally:
        node.close()
