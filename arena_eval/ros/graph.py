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
Publishers that can never feed an input: another message type, or an incompatible QoS.

No executor runs the node's subscriptions (the tick polls them), so rclpy's usual
"incompatible QoS" event callback never fires. Instead the executor thread asks the ROS graph
(`get_publishers_info_by_topic`) about every input's topic once per diagnostics period and
compares each publisher with the subscription: its type, and its QoS with rclpy's own
`qos_check_compatible` (a best-effort publisher can never feed a reliable subscription, a
volatile one a transient-local subscription). Each kind of problem is logged once per input, as
a warning, and shown in the input's status with every offending publisher and its QoS until
they are gone.
"""

from rclpy.qos import qos_check_compatible, QoSCompatibility

from ..msgtypes.inputs import qos_profile


def describe_qos(qos):
    """Return `reliability best_effort, durability volatile` for a publisher's profile."""
    def name(policy):
        return getattr(policy, 'name', str(policy)).lower()
    # The graph reports no history or depth for remote endpoints: only these two matter.
    return f'reliability {name(qos.reliability)}, durability {name(qos.durability)}'


def _publisher_name(info):
    if not info.node_name or info.node_name.startswith('_NODE_NAME_UNKNOWN'):
        return 'a publisher'  # discovery has not told its node yet
    namespace = info.node_namespace.rstrip('/')
    return f'{namespace}/{info.node_name}'


class GraphWatch:
    """Per input, the publishers on its topic that cannot feed it (executor thread only)."""

    def __init__(self, node):
        self._node = node
        self._logged = set()

    def check(self, tick):
        """Ask the graph about every input of `tick`; record problems in its bindings."""
        for poller in tick.pollers:
            subscription = poller.subscription
            if subscription is None:
                continue
            topic = subscription.topic_name
            try:
                infos = self._node.get_publishers_info_by_topic(topic)
            except Exception:  # noqa: B902 - graph queries fail during shutdown
                return
            config = poller.input_config
            wanted = qos_profile(config)
            other_types, qos_problems = set(), []
            for info in infos:
                who = _publisher_name(info)
                if info.topic_type != config.type_name:
                    other_types.add(info.topic_type)
                    self._log_once((config.name, topic, 'type', info.topic_type),
                                   f"input '{config.name}': {who} publishes {topic} as "
                                   f'{info.topic_type}, not {config.type_name}; its messages '
                                   'are not taken')
                    continue
                compatible, reason = qos_check_compatible(info.qos_profile, wanted)
                if compatible == QoSCompatibility.ERROR:
                    problem = (f'{who} offers {describe_qos(info.qos_profile)}: incompatible '
                               f"with qos: {config.qos} ({reason.strip().rstrip(';')})")
                    qos_problems.append(problem)
                    self._log_once((config.name, topic, 'qos', config.qos),
                                   f"input '{config.name}' on {topic}: {problem}: no message "
                                   'from it will arrive')
            tick.bindings.set_type_mismatch(poller.name, ', '.join(sorted(other_types)) or None)
            tick.bindings.set_qos_mismatch(poller.name, '; '.join(qos_problems) or None)

    def _log_once(self, key, text):
        if key not in self._logged:
            self._logged.add(key)
            self._node.get_logger().warning(text)
