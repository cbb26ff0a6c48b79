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
State across parameter updates and the `~/reset` service, with the node as a real process.

`energy` integrates a constant 4 W of joint power (the probe's inputs); it grows by 4 per
second. Changing another expression keeps it (and `t`) going; a new or changed integral starts
at 0; `~/reset` (`std_srvs/srv/Trigger`) sets every state and `t` back to their first tick.
"""


from node_harness import NodeProcess, Probe, write_params
import pytest

pytestmark = pytest.mark.ros

BATCH = ['energy = integral(joints.velocity[0] * joints.effort[0])',
         'alarm = energy > 100', 'clock = t']


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


def call_reset(probe, timeout=10.0):
    from std_srvs.srv import Trigger
    client = probe.node.create_client(Trigger, '/' + probe.node_name.lstrip('/') + '/reset')
    assert client.wait_for_service(timeout_sec=timeout), 'no ~/reset service'
    return probe.call(client, Trigger.Request(), '~/reset', timeout)


def test_state_survives_updates_and_resets_on_request(tmp_path, probe):
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml', expressions=BATCH))
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(5, node=node)
        probe.wait_for(lambda: probe.latest_outputs()['energy'] > 4.0, 10.0, 'energy > 4 J')

        # Change another expression: energy and t go on from where they were.
        before = probe.latest_outputs()
        [result] = probe.set_parameters({'expressions': [
            BATCH[0], 'alarm = energy > 120', 'clock = t',
            'energy2 = integral(joints.velocity[0] * joints.effort[0] * 2)']})
        assert result.successful, result.reason
        probe.wait_for(lambda: probe.label == 'energy,alarm,clock,energy2', 5.0, 'new program')
        after = probe.latest_outputs()
        assert after['energy'] >= before['energy'] and after['clock'] >= before['clock']
        # the new call started at its first tick: twice the power, but far less energy
        assert after['energy2'] < after['energy']

        # ~/reset: everything from its first tick, the same program goes on.
        probe.wait_for(lambda: probe.latest_outputs()['energy2'] > 1.0, 5.0, 'energy2 > 1 J')
        before = probe.latest_outputs()
        response = call_reset(probe)
        assert response.success and 'state reset: 2 stateful calls' in response.message
        probe.wait_for(lambda: probe.latest_outputs()['clock'] < before['clock'], 5.0,
                       'clock restarted')
        after = probe.latest_outputs()
        assert after['energy'] < before['energy'] and after['energy2'] < before['energy2']
        assert probe.label == 'energy,alarm,clock,energy2'
        probe.wait_results(50, timeout=5.0, node=node)
        assert node.alive()
    finally:
        node.close()
