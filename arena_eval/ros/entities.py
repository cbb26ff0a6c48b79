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
The node's entity pool: subscriptions, publishers, their retirement after a program swap.

Each input subscription becomes a `compiled_tick.CompiledInput` (its rcl pointer and its one
take buffer), which the compiled loop takes from; per-output publishers are kept by name.

Subscriptions sit in a callback group no executor runs: the loop takes their CDR bytes through
rcl itself. A new configuration keeps the subscriptions whose topic, type and QoS are
unchanged; those it replaces, and the per-output publishers it no longer needs, are destroyed
only once the loop has taken a tick that no longer uses them (all on the executor thread).
"""

from rclpy.callback_groups import CallbackGroup
from std_msgs.msg import Float64

from ..msgtypes.inputs import qos_profile
from ..rt.compiled_tick import CompiledInput


class PolledGroup(CallbackGroup):
    """Entities the tick thread takes from itself; executors leave them out of their waits."""

    def can_execute(self, entity):
        return False

    def beginning_execution(self, entity):
        return False

    def ending_execution(self, entity):
        pass


def _unexpected(msg):  # pragma: no cover - PolledGroup never lets an executor call it
    raise RuntimeError('a polled subscription was executed by an executor')


def make_input(node, input_config, group, symbols):
    """Subscribe to an input in `group`; return its `CompiledInput` (raises native.Unavailable)."""
    subscription = node.create_subscription(
        input_config.msg_type, input_config.topic, _unexpected, qos_profile(input_config),
        callback_group=group, raw=True)
    return CompiledInput(symbols, subscription, input_config.depth, input_config.name,
                         input_config)


class EntityPool:
    """
    The subscriptions and publishers the running and the next program use, by key.

    Executor thread only. `update` returns what a new configuration needs and what it leaves
    behind; `retire` parks the latter with the loop's swap ticket; `destroy_retired` destroys
    them once the loop has taken the swap.
    """

    def __init__(self, node, symbols):
        self._node = node
        self._symbols = symbols
        self._group = PolledGroup()
        self.pollers = {}
        self.individual = {}
        # Typed outputs' publishers: name -> ((topic, type name), publisher).
        self.typed = {}
        # (swap ticket, entity) of entities only older ticks use.
        self._retired = []
        self._clock = None

    def clock(self):
        """Return the polled `/clock` subscription (made once) the loop takes ROS time from."""
        if self._clock is None:
            from rclpy.qos import QoSProfile, ReliabilityPolicy
            from rosgraph_msgs.msg import Clock
            # rclpy's time source subscribes with this profile.
            self._clock = self._node.create_subscription(
                Clock, '/clock', _unexpected,
                QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT),
                callback_group=self._group, raw=True)
        return self._clock

    def update(self, config, outputs):
        """
        Return (inputs, per-output publishers, typed outputs, retired entities) for `config`.

        `outputs` are the names to publish one `~/out/<name>` topic for (empty without
        `publish_individual`). Typed outputs come as (`OutputConfig`, publisher) pairs; a
        publisher is kept while its output's topic and type stay the same.
        """
        node, retired, pollers = self._node, [], []
        for name, input_config in config.inputs.items():
            poller = self.pollers.get(name)
            if poller is None or not poller.same_subscription(input_config):
                if poller is not None:
                    retired.append(poller.subscription)
                poller = make_input(node, input_config, self._group, self._symbols)
                self.pollers[name] = poller
            else:
                poller.input_config = input_config
            pollers.append(poller)
        for name in [n for n in self.pollers if n not in config.inputs]:
            retired.append(self.pollers.pop(name).subscription)
        for name in [n for n in self.individual if n not in outputs]:
            retired.append(self.individual.pop(name))
        pubs = []
        for name in outputs:
            if name not in self.individual:
                self.individual[name] = node.create_publisher(Float64, f'~/out/{name}', 10)
            pubs.append(self.individual[name])
        typed = []
        for name, output in config.outputs.items():
            key = (output.topic, output.type_name)
            kept = self.typed.get(name)
            if kept is None or kept[0] != key:
                if kept is not None:
                    retired.append(kept[1])
                kept = (key, node.create_publisher(output.msg_type, output.topic, 10))
                self.typed[name] = kept
            typed.append((output, kept[1]))
        for name in [n for n in self.typed if n not in config.outputs]:
            retired.append(self.typed.pop(name)[1])
        return pollers, pubs, typed, retired

    def retire(self, ticket, entities):
        """Destroy `entities` once the swap with `ticket` has happened."""
        self._retired.extend((ticket, entity) for entity in entities)

    def destroy_retired(self, swap_done):
        """Destroy the entities whose swap `swap_done(ticket)` says has happened."""
        if not self._retired:
            return
        node, keep = self._node, []
        for ticket, entity in self._retired:
            if not swap_done(ticket):
                keep.append((ticket, entity))
            elif entity in node.subscriptions:
                node.destroy_subscription(entity)
            else:
                node.destroy_publisher(entity)
        self._retired = keep

    def destroy_all(self):
        """Destroy every subscription and publisher of the pool (the loop has stopped)."""
        node = self._node
        for poller in self.pollers.values():
            if poller.subscription is not None:
                node.destroy_subscription(poller.subscription)
        for publisher in [*self.individual.values(), *(kept[1] for kept in self.typed.values())]:
            node.destroy_publisher(publisher)
        if self._clock is not None:
            node.destroy_subscription(self._clock)
        self.destroy_retired(lambda ticket: True)
        self.pollers, self.individual, self.typed, self._clock = {}, {}, {}, None
