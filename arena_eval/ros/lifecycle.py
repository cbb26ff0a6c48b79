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
The managed node: `ArenaEvalNode` as an `rclpy.lifecycle` node (parameter `lifecycle: true`).

    ros2 run arena_eval arena_eval_node --ros-args -p lifecycle:=true --params-file my.yaml
    ros2 lifecycle set /arena_eval configure
    ros2 lifecycle set /arena_eval activate

A thin layer: each transition calls one of the node's steps (`ArenaEvalNode.configure`,
`activate`, `deactivate`, `cleanup`), the same ones the plain node takes at start. configure
reads and compiles the parameters and creates the subscriptions, publishers and loop; a bad
configuration fails the transition with its one-line errors in the log and the node stays
unconfigured (a later configure reads the parameters again). activate starts ticking and
publishing; deactivate stops the loop (nothing is published; the program, its state and the
subscriptions stay, so activate goes on where it stopped); cleanup drops the program and its
entities; shutdown, from any state, cleans up. The lifecycle services, `/diagnostics` (with a
`<node>: lifecycle` status naming the state) and the parameter services run in every state.
"""

import traceback

from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn

from .node import ArenaEvalNode, StartupError

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
ERROR = TransitionCallbackReturn.ERROR


class ArenaEvalLifecycleNode(ArenaEvalNode, LifecycleNode):
    """
    The node as a managed node: it starts unconfigured; transitions call its steps.

    `stopper` (a `process.Stopper`) makes a signal interrupt a configure at once, as it does
    the plain node's start (compiling can take seconds).
    """

    MANAGED = True

    def __init__(self, *, stopper=None, **options):
        self._stopper = stopper
        # The first line of the last configure's errors while it left the node unconfigured.
        self._configure_failure = None
        super().__init__(**options)
        self._log.info(f'lifecycle: unconfigured; configure through '
                       f'{self.get_fully_qualified_name()}/change_state')

    @property
    def lifecycle_state(self):
        """Return the primary state's label: unconfigured, inactive, active or finalized."""
        # rclpy 7.1 and 9.1 have no public getter; both keep (id, label) here.
        return self._state_machine.current_state[1]

    def _lifecycle_statuses(self):
        return [self._report.lifecycle_status(self.lifecycle_state, self._configure_failure)]

    def _step(self, name, step, goal):
        """Run one step for a transition; log what went wrong and say how it ended."""
        try:
            step()
        except StartupError as exc:
            for line in exc.lines:
                self._log.error(line)
            self._configure_failure = exc.lines[0] if exc.lines else 'error'
            self._log.error(f'lifecycle: {name} failed; unconfigured')
            return FAILURE
        except Exception:  # noqa: B902 - a bug: rclpy would swallow it without a word
            self._log.error(f'lifecycle: {name} raised:\n{traceback.format_exc()}')
            return ERROR
        self._log.info(f'lifecycle: {goal}')
        return SUCCESS

    def on_configure(self, state):
        stopper = self._stopper
        if stopper is not None:
            stopper.configuring = True  # a signal now interrupts the compile at once
        try:
            result = self._step('configure', lambda: self.configure('configured'), 'inactive')
        finally:
            if stopper is not None:
                stopper.configuring = False
        if result == SUCCESS:
            self._configure_failure = None
        return result

    def on_activate(self, state):
        return self._step('activate', self.activate, 'active: ticking and publishing')

    def on_deactivate(self, state):
        return self._step('deactivate', self.deactivate,
                          'inactive: not ticking; the program and its state are kept')

    def on_cleanup(self, state):
        return self._step('cleanup', self.cleanup, 'unconfigured: the program is dropped')

    def on_shutdown(self, state):
        return self._step('shutdown', self.cleanup, 'finalized')

    def on_error(self, state):
        # After a step raised: drop whatever it left, back to unconfigured.
        return self._step('error processing', self.cleanup, 'unconfigured after an error')
