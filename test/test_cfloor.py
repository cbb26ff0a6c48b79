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
The C floor of `bench --node` (`tools/cfloor.c`): it builds here, does its transport work, stops.

Built into the test's temporary directory with the system compiler against the wheels' rcl, it
takes the probe's Imu and JointState over DDS, publishes the 7 doubles it reads from their CDR
(walked past the header's frame_id and the names), and exits 0 on SIGINT.
"""

import signal
import subprocess
import time

from arena_eval.tools import cfloor, procs
from node_harness import ACCEL, EFFORT, POSITION, Probe, VELOCITY, YAW_RATE
import pytest


def test_compiler_lookup_names_an_executable_or_none():
    cc = cfloor.compiler()
    assert cc is None or cc.startswith('/')


def test_missing_compiler_is_one_line_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(cfloor, 'compiler', lambda: None)
    with pytest.raises(cfloor.Unavailable, match='no C compiler found'):
        cfloor.build(tmp_path)


@pytest.mark.ros
def test_c_floor_reads_the_fields_and_stops_on_sigint(tmp_path):
    if cfloor.compiler() is None:
        pytest.skip('no C compiler here')
    exe = cfloor.build(tmp_path)
    probe = Probe()
    # Longer than the default strings, so the walk past them is exercised.
    probe.imu.header.frame_id = 'imu_link_with_a_long_name'
    probe.joints.name = ['shoulder_pan', 'j', 'elbow_flex_joint']
    proc = subprocess.Popen([exe, '1000'], env=procs.ros_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        probe.stream_inputs()
        expected = (*ACCEL, YAW_RATE, POSITION[2], VELOCITY[0], EFFORT[0])
        probe.wait_for(lambda: probe.latest_result() == expected, 30.0,
                       'the C floor to publish the fields of the probe')
        assert probe.label == 'c0,c1,c2,c3,c4,c5,c6'
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        assert proc.wait(timeout=5.0) == 0
        assert time.monotonic() - start < 1.0
        assert b'ticks' in proc.stdout.read()
    finally:
        procs.stop(proc)
        proc.stdout.close()
        probe.close()
