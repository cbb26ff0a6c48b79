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
The managed node over real DDS: every transition through its lifecycle services.

The node runs as a process with `-p lifecycle:=true`; a probe node calls
`/arena_eval/change_state` and `/arena_eval/get_state` (lifecycle_msgs) and records what the
node publishes in each state: nothing on `~/results` (and no such publisher) until configured,
nothing while inactive, results while active, the program's state kept across deactivate and
activate and dropped by cleanup, and a `<node>: lifecycle` diagnostics status naming the state.
"""

import math
import signal
import time

from diagnostic_msgs.msg import DiagnosticStatus
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from node_harness import (assert_outputs_close, DEFAULT_EXPRESSIONS, EXPECTED, NodeProcess,
                          Probe, RESULTS, STARTUP_TIMEOUT, write_params)
import pytest

pytestmark = pytest.mark.ros

OK = DiagnosticStatus.OK[0]
ERROR = DiagnosticStatus.ERROR[0]
LIFECYCLE = ('-p', 'lifecycle:=true')
# `elapsed` integrates 1 over the ticks' dt: it grows while active, stays while inactive and
# restarts after a cleanup.
EXPRESSIONS = [*DEFAULT_EXPRESSIONS, 'elapsed = integral(1.0)']


class Lifecycle:
    """The probe's clients of the node's lifecycle services."""

    def __init__(self, probe):
        self.probe = probe
        node = probe.node
        self._change = node.create_client(ChangeState, f'{probe.node_name}/change_state')
        self._get = node.create_client(GetState, f'{probe.node_name}/get_state')
        for client in (self._change, self._get):
            if not client.wait_for_service(timeout_sec=STARTUP_TIMEOUT):
                pytest.fail(f'service {client.srv_name} not available')

    def change(self, transition_id):
        """Ask for a transition; return whether it succeeded."""
        request = ChangeState.Request(transition=Transition(id=transition_id))
        return self.probe.call(self._change, request, f'change_state {transition_id}',
                               STARTUP_TIMEOUT).success

    def state(self):
        return self.probe.call(self._get, GetState.Request(), 'get_state', STARTUP_TIMEOUT,
                               resend=True).current_state.label


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


def diagnostics_after(probe, count, which='lifecycle'):
    """Wait for `count` more diagnostics messages with a `which` status; return the last."""
    since = time.monotonic()
    probe.wait_for(lambda: len(probe.statuses_since(since, which)) >= count, 10.0,
                   f'{count} diagnostics messages')
    return probe.statuses_since(since, which)[-1]


def wait_state(probe, state, level=OK):
    """Wait for a lifecycle status in `state` at `level`; return it."""
    def seen():
        status = probe.status('lifecycle')
        return status if status and status[2]['State'] == state and status[0] == level else None
    return probe.wait_for(seen, 10.0, f'lifecycle status {state}; last: '
                          f"{probe.status('lifecycle')}")


def assert_silent_while(probe, state):
    """Nothing is published on ~/results while two diagnostics periods say `state`."""
    before = probe.result_count()
    status = diagnostics_after(probe, 2)
    assert status[1] == state and status[2]['Publishing'] == 'false'
    assert probe.result_count() == before


def result(probe, index, name):
    """Output `name` of the probe's `index`th result."""
    with probe.lock:
        return dict(zip(probe.label.split(','), probe.results[index][1], strict=True))[name]


def output(probe, name):
    outputs = probe.latest_outputs()
    return outputs[name] if outputs else None


def test_every_transition_over_the_lifecycle_services(tmp_path, probe):
    params = write_params(tmp_path / 'params.yaml', EXPRESSIONS, rate_hz=200.0,
                          diagnostics_period=0.2)
    node = NodeProcess(tmp_path, params, LIFECYCLE)
    try:
        life = Lifecycle(probe)
        assert life.state() == 'unconfigured'
        # Unconfigured: no program, no results publisher, only the lifecycle status.
        assert wait_state(probe, 'unconfigured')[1] == 'unconfigured'
        assert probe.status('loop') is None
        assert probe.node.count_publishers(RESULTS) == 0
        assert probe.result_count() == 0
        # lifecycle is read-only: the running node cannot be switched.
        assert not probe.set_parameters({'lifecycle': False})[0].successful

        # configure: the publishers and subscriptions exist, the loop idles.
        assert life.change(Transition.TRANSITION_CONFIGURE)
        assert life.state() == 'inactive'
        probe.wait_for(lambda: probe.node.count_publishers(RESULTS) == 1, 10.0,
                       'the results publisher')
        probe.wait_for(lambda: probe.node.count_subscribers('/imu') == 1, 10.0,
                       'the imu subscription')
        loop = probe.wait_status('loop', OK, message_part='idle')
        assert loop[2]['Target frequency (Hz)'] == '200.0'
        assert_silent_while(probe, 'inactive')

        # activate: results, computed from the inputs.
        probe.stream_inputs(200.0)
        assert life.change(Transition.TRANSITION_ACTIVATE)
        assert life.state() == 'active'
        probe.wait_results(5, node=node)
        probe.wait_for(lambda: not math.isnan(probe.latest_outputs()['joint_power']), 10.0,
                       'results from both inputs')
        assert_outputs_close(probe.latest_outputs(), EXPECTED, ['accel_norm', 'joint_power'])
        assert wait_state(probe, 'active')[2]['Publishing'] == 'true'
        probe.wait_for(lambda: output(probe, 'elapsed') > 0.3, 20.0, 'elapsed > 0.3 s')

        # deactivate: silent, and activate goes on from the state it stopped with.
        assert life.change(Transition.TRANSITION_DEACTIVATE)
        stopped = time.monotonic()
        assert life.state() == 'inactive'
        assert_silent_while(probe, 'inactive')
        before = output(probe, 'elapsed')
        count = probe.result_count()
        gap = time.monotonic() - stopped
        assert life.change(Transition.TRANSITION_ACTIVATE)
        probe.wait_results(1, node=node)
        resumed = result(probe, count, 'elapsed')
        # Kept, not restarted; and the inactive time is no tick's dt.
        assert before <= resumed < before + gap, (before, resumed, gap)

        # cleanup (from inactive): the program and its entities are gone.
        assert life.change(Transition.TRANSITION_DEACTIVATE)
        last = output(probe, 'elapsed')
        assert life.change(Transition.TRANSITION_CLEANUP)
        assert life.state() == 'unconfigured'
        probe.wait_for(lambda: probe.node.count_publishers(RESULTS) == 0, 10.0,
                       'no results publisher')
        wait_state(probe, 'unconfigured')
        # ... and configure + activate start the program afresh.
        assert life.change(Transition.TRANSITION_CONFIGURE)
        count = probe.result_count()
        assert life.change(Transition.TRANSITION_ACTIVATE)
        probe.wait_results(1, node=node)
        fresh = result(probe, count, 'elapsed')
        assert fresh < last

        # shutdown from active: finalized, silent; the process ends on SIGINT as always.
        assert life.change(Transition.TRANSITION_ACTIVE_SHUTDOWN)
        assert life.state() == 'finalized'
        assert_silent_while(probe, 'finalized')
        assert node.alive()
        code, _ = node.signal_and_wait(signal.SIGINT)
        assert code == 0, node.output()
        assert 'Traceback' not in node.output()
    finally:
        node.close()


def test_a_bad_params_file_fails_configure_and_stays_unconfigured(tmp_path, probe):
    params = write_params(tmp_path / 'params.yaml', [*DEFAULT_EXPRESSIONS, 'bad = sqrt(imu.nope)'])
    node = NodeProcess(tmp_path, params, LIFECYCLE)
    try:
        life = Lifecycle(probe)
        assert life.state() == 'unconfigured'
        assert not life.change(Transition.TRANSITION_CONFIGURE)
        assert life.state() == 'unconfigured'
        status = wait_state(probe, 'unconfigured', ERROR)
        assert status[1].startswith(f'unconfigured: configure failed: {params}:'), status
        probe.wait_for(lambda: 'configure failed' in node.stderr(), 10.0, 'the log')
        errors = [line for line in node.stderr().splitlines() if ': error: ' in line]
        assert errors and all(f'{params}:' in line for line in errors), node.stderr()
        assert 'Traceback' not in node.output()
        # It asks again, fails again; shutdown works from unconfigured.
        assert not life.change(Transition.TRANSITION_CONFIGURE)
        assert probe.node.count_publishers(RESULTS) == 0
        assert life.change(Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        assert life.state() == 'finalized'
        code, _ = node.signal_and_wait(signal.SIGINT)
        assert code == 0, node.output()
    finally:
        node.close()


def test_parameters_set_while_unconfigured_or_inactive_apply(tmp_path, probe):
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml', diagnostics_period=0.2),
                       LIFECYCLE)
    try:
        life = Lifecycle(probe)
        # Unconfigured: checked (a bad value is refused), kept for configure.
        assert not probe.set_parameters({'rate_hz': -5.0})[0].successful
        assert probe.set_parameters({'rate_hz': 50.0})[0].successful
        assert life.change(Transition.TRANSITION_CONFIGURE)
        loop = probe.wait_status('loop', OK, message_part='idle')
        assert loop[2]['Target frequency (Hz)'] == '50.0'
        # Inactive: a new program is swapped in, and runs once active.
        # (A generous timeout: the first swap after a change to the tick compiles for a while.)
        assert probe.set_parameters({'expressions': ['one = 1.0', 'two = one + 1']},
                                    timeout=120.0)[0].successful
        assert probe.result_count() == 0
        assert life.change(Transition.TRANSITION_ACTIVATE)
        probe.wait_results(1, node=node)
        assert probe.latest_outputs() == {'one': 1.0, 'two': 2.0}
        # shutdown from inactive.
        assert life.change(Transition.TRANSITION_DEACTIVATE)
        assert life.change(Transition.TRANSITION_INACTIVE_SHUTDOWN)
        assert life.state() == 'finalized'
        probe.wait_for(lambda: probe.node.count_publishers(RESULTS) == 0, 10.0,
                       'no results publisher')
        code, _ = node.signal_and_wait(signal.SIGINT)
        assert code == 0, node.output()
    finally:
        node.close()


def test_the_plain_node_has_no_lifecycle_services(tmp_path, probe):
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml'))
    try:
        probe.wait_results(1, node=node)
        services = dict(probe.node.get_service_names_and_types())
        assert f'{probe.node_name}/get_parameters' in services
        assert f'{probe.node_name}/change_state' not in services
        assert probe.status('lifecycle') is None
    finally:
        node.close()
