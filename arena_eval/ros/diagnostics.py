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
Statistics and input statuses -> `diagnostic_msgs/msg/DiagnosticArray`, diagnostic_updater style.

It measures nothing itself: the node hands it loop snapshots (`arena_eval.rt.loop.LoopSnapshot`),
allocation counts it read, and the running tick, whose bindings (`InputBindings.facts`) and
pollers say how each input is doing. One status named `<node>: loop` and one
`<node>: input <name>` per input, hardware_id the node name; the levels are DiagnosticStatus's.
The node gives its fully qualified name (`/robot1/arena_eval: loop`), so the statuses of nodes
of the same name in different namespaces do not collide on `/diagnostics`; topics are shown as
rcl resolved them (namespace and remaps applied).

Input level: ERROR when a publisher of another type is on the topic, a publisher's QoS cannot
feed the subscription (`arena_eval.ros.graph`), or an index is beyond the latest message's
sequence, STALE before the first message, WARN when the message is older than
the input's timeout or a value read from it is not finite, else OK.

Loop level: ERROR when no tick ran since the previous report, WARN when the actual frequency is
below 90% of the target or more than 1% of the period's ticks overran, else OK (an occasional
overrun is normal on a non-real-time kernel; its count is still in the message and the keys).

>>> from arena_eval.rt.loop import LoopStats
>>> stats = LoopStats(16)
>>> for i in range(10):
...     stats.record(i * 1_000_000, i * 1_000_000 + 5_000, 1_000_000, 0, 1_000_000)
>>> builder = DiagnosticsReport('arena_eval')
>>> status = builder.loop_status(stats.snapshot(1000.0), expressions=7, program_ops=30)
>>> status.name, status.level == OK, values(status)['Actual frequency (Hz)']
('arena_eval: loop', True, '1000.0')
"""

import math
import time

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue

from ..msgtypes.templates import SEND, SEND_STALE, SKIP

OK = DiagnosticStatus.OK
WARN = DiagnosticStatus.WARN
ERROR = DiagnosticStatus.ERROR
STALE = DiagnosticStatus.STALE
LEVEL_NAMES = {OK: 'OK', WARN: 'WARN', ERROR: 'ERROR', STALE: 'STALE'}

# The loop is WARN below this fraction of its target frequency.
MIN_FREQUENCY_FRACTION = 0.9
# ... or when more than this fraction of the period's ticks overran.
MAX_OVERRUN_FRACTION = 0.01

LOOP_KEYS = (
    'Target frequency (Hz)', 'Actual frequency (Hz)', 'Loop time mean (us)', 'Loop time p99 (us)',
    'Loop time max (us)', 'Period jitter p99 (us)', 'Overruns', 'Kernel allocations',
    'Heap blocks delta', 'Expressions', 'Program ops',
)


# What a typed output does while stale, by `templates.ON_STALE_CODES` value.
_STALE_DOES = {SEND: 'publishing what the expressions give', SEND_STALE:
               'publishing stale_fields', SKIP: 'not publishing'}


def input_level(facts, topic=None):
    """
    Return (level, message, {key: text}) of one input's status from its `InputFacts`.

    `topic` is the subscription's topic as rcl resolved it (namespace, remaps); without it the
    configured name is shown.
    """
    cfg = facts.config
    topic = topic or cfg.topic
    errors, warnings = [], []
    if facts.other_type is not None:
        errors.append(f'publisher of type {facts.other_type} on {topic} '
                      f'(expected {cfg.type_name})')
    if facts.qos_problem is not None:
        errors.append(facts.qos_problem)
    for path, length in facts.out_of_range_now:
        errors.append(f'{path} out of range ({length} elements)')
    if facts.has_message and cfg.timeout > 0 and facts.age_ms > cfg.timeout * 1e3:
        warnings.append(f'stale: {facts.age_ms:.0f} ms old (timeout {cfg.timeout * 1e3:.0f} ms)')
    for path in facts.non_finite_now:
        warnings.append(f'non-finite value in {path}')
    for path in facts.missing_now:
        warnings.append(f'no such name in {path} (nan)')
    if errors:
        level, text = ERROR, '; '.join(errors + warnings)
    elif not facts.has_message:
        level, text = STALE, 'no message yet'
    elif warnings:
        level, text = WARN, '; '.join(warnings)
    else:
        level, text = OK, 'ok'
    values = {
        'Topic': topic,
        'Type': cfg.type_name,
        'QoS': cfg.qos,
        'Timeout (ms)': f'{cfg.timeout * 1e3:g}' if cfg.timeout > 0 else 'never',
        'Messages received': str(facts.received),
        'Age (ms)': f'{facts.age_ms:.1f}' if facts.age_ms is not None else '-',
        'Index out of range': str(facts.out_of_range),
        'Non-finite values': str(facts.non_finite),
        'Missing names': str(facts.missing_name),
    }
    return level, text, values


def input_levels(bindings, now_ns, topics=None):
    """Per input of `bindings`: (name, level, message, {key: text}) at `now_ns`."""
    topics = topics or {}
    return [(facts.name, *input_level(facts, topics.get(facts.name)))
            for facts in bindings.facts(now_ns)]


def as_level(level):
    """Normalize a level given as int, bytes or a name ('WARN') to DiagnosticStatus bytes."""
    if isinstance(level, bytes):
        return level
    if isinstance(level, str):
        return {name: lv for lv, name in LEVEL_NAMES.items()}[level.upper()]
    return bytes([int(level)])


def values(status):
    """Return the key/value pairs of a DiagnosticStatus as a dict (tests and tools)."""
    return {kv.key: kv.value for kv in status.values}


def _fmt(value):
    if value is None:
        return 'n/a'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else f'{value:.1f}'
    return str(value)


def make_status(name, level, message, pairs, hardware_id=''):
    """Build a DiagnosticStatus; `pairs` is an iterable of (key, value) or a dict."""
    items = pairs.items() if isinstance(pairs, dict) else pairs
    return DiagnosticStatus(level=as_level(level), name=name, message=message,
                            hardware_id=hardware_id,
                            values=[KeyValue(key=str(k), value=_fmt(v)) for k, v in items])


class DiagnosticsReport:
    """
    Turns successive loop snapshots and input statuses into DiagnosticArrays.

    Keeps the previous loop snapshot so levels can depend on what happened since the last report
    (ticks ran, overruns grew). Used from one thread (the node's diagnostics timer).
    """

    def __init__(self, node_name, hardware_id=None):
        self.node_name = node_name
        self.hardware_id = node_name if hardware_id is None else hardware_id
        self._previous = None

    @property
    def since_ticks(self):
        """Tick count at the previous report: pass it to `TickLoop.snapshot(since_ticks=)`."""
        return None if self._previous is None else self._previous.ticks

    def loop_status(self, snap, *, kernel_allocations=None, heap_blocks_delta=None,
                    expressions=0, program_ops=0, extra=(), idle=False):
        """
        Build the `<node>: loop` status for `snap`; remember `snap` as the previous one.

        `idle`: the loop is stopped on purpose (a managed node while inactive), so no tick is
        no fault.
        """
        prev = self._previous
        self._previous = snap
        new_ticks = snap.ticks - (prev.ticks if prev is not None else 0)
        ticked = new_ticks > 0
        new_overruns = snap.overruns - (prev.overruns if prev is not None else 0)
        if idle:
            level, message = OK, 'idle (inactive): not ticking, nothing is published'
        elif not ticked:
            level, message = ERROR, 'no tick ran in the last period'
        elif snap.actual_hz < MIN_FREQUENCY_FRACTION * snap.target_hz:
            level = WARN
            message = (f'running at {snap.actual_hz:.1f} Hz, below '
                       f'{MIN_FREQUENCY_FRACTION:.0%} of {snap.target_hz:g} Hz')
        elif new_overruns > MAX_OVERRUN_FRACTION * new_ticks:
            level, message = WARN, f'{new_overruns} overruns in the last period'
        else:
            level, message = OK, f'running at {snap.actual_hz:.1f} Hz'
            if new_overruns:
                message += f" ({new_overruns} overrun{'s' if new_overruns > 1 else ''})"
        pairs = [
            ('Target frequency (Hz)', snap.target_hz),
            ('Actual frequency (Hz)', snap.actual_hz),
            ('Loop time mean (us)', snap.loop_mean_us),
            ('Loop time p99 (us)', snap.loop_p99_us),
            ('Loop time max (us)', snap.loop_max_us),
            ('Period jitter p99 (us)', snap.jitter_p99_us),
            ('Overruns', snap.overruns),
            ('Kernel allocations', kernel_allocations),
            ('Heap blocks delta', heap_blocks_delta),
            ('Expressions', expressions),
            ('Program ops', program_ops),
            ('Ticks', snap.ticks),
            ('Loop time max since start (us)', snap.loop_max_ever_us),
            ('Wake-up latency p99 (us)', snap.wake_p99_us),
            ('Burst ticks max', snap.burst_max),
            ('Program swaps', snap.swaps),
        ]
        pairs.extend(extra)
        return make_status(f'{self.node_name}: loop', level, message, pairs, self.hardware_id)

    def input_status(self, name, level, message, pairs):
        """Build the `<node>: input <name>` status (level and text come from the bindings)."""
        return make_status(f'{self.node_name}: input {name}', level, message, pairs,
                           self.hardware_id)

    def tick_statuses(self, tick, snap, now_ns, *, kernel_allocations=None,
                      heap_blocks_delta=None, idle=False):
        """
        Build the loop status and one status per input of the running `tick`.

        Input keys beyond the bindings' come from the tick's pollers, which are counted by
        the subscription, so a new program on the same subscription keeps counting. The loop's
        'Loop mode' key is always 'thread' (its 'timer' alternative is gone; the key stays for
        the readers of earlier reports).
        """
        batch = tick.batch
        statuses = [self.loop_status(
            snap, kernel_allocations=kernel_allocations, heap_blocks_delta=heap_blocks_delta,
            expressions=len(tick.results), program_ops=batch.n_ops, idle=idle,
            extra=[('Loop mode', 'thread'),
                   ('Stale policy', batch.stale_policy),
                   ('Publishing', tick.publish_transport),
                   ('Tick', getattr(tick, 'kind', 'python'))])]
        pollers = {poller.name: poller for poller in tick.pollers}
        topics = {poller.name: poller.subscription.topic_name for poller in tick.pollers
                  if poller.subscription is not None}
        for name, level, message, pairs in input_levels(tick.bindings, now_ns, topics):
            poller = pollers.get(name)
            if poller is not None:
                pairs['Messages received'] = str(poller.received)
                pairs['Undecodable messages'] = str(poller.undecodable)
                pairs['Decoding'] = 'CDR view'  # the input's decode plan, the one reader
                pairs['Taking'] = poller.transport
                if poller.buffer_grown is not None:
                    pairs['Take buffer grown'] = str(poller.buffer_grown)
            statuses.append(self.input_status(name, level, message, pairs))
        for typed in tick.typed:
            nans, saturated = typed.template.counts
            level, message = OK, f'{typed.published} published on {typed.topic}'
            if typed.stale:
                level = WARN
                message = (f'an input it depends on is stale: {_STALE_DOES[typed.on_stale]} '
                           f'({typed.published} published on {typed.topic})')
            statuses.append(make_status(
                f'{self.node_name}: output {typed.name}', level, message,
                [('Topic', typed.topic), ('Type', typed.type_name), ('Every', typed.every),
                 ('Messages published', typed.published),
                 ('Stale ticks', typed.stale_ticks),
                 ('NaN into integer or bool', nans), ('Saturated', saturated)],
                self.hardware_id))
        return statuses

    def lifecycle_status(self, state, failure=None):
        """
        Build the `<node>: lifecycle` status of a managed node in primary state `state`.

        `failure` is the first line of the last configure's errors while that left the node
        unconfigured (ERROR then); every other state is OK, its message naming it.
        """
        if failure is not None and state == 'unconfigured':
            level, message = ERROR, f'unconfigured: configure failed: {failure}'
        else:
            level, message = OK, state
        return make_status(f'{self.node_name}: lifecycle', level, message,
                           [('State', state), ('Publishing', state == 'active')],
                           self.hardware_id)

    def array(self, stamp, statuses):
        """Wrap `statuses` in a DiagnosticArray stamped `stamp` (a builtin_interfaces Time)."""
        msg = DiagnosticArray(status=list(statuses))
        msg.header.stamp = stamp
        return msg


class TransitionLog:
    """
    Log each input's and typed output's status changes from the reports, once per change.

    A status leaving OK (stale, an index out of range, a typed output not publishing) is a
    warning with its message; back to OK is an info line. Rate-limited per status: at most one
    line every `min_interval_s`; a change within it is logged when the interval is over if the
    status still differs from what was last logged (so a flapping input logs once, not every
    report). A status first seen is taken as it is, silently.
    """

    def __init__(self, log, min_interval_s=5.0, clock=time.monotonic):
        self._log = log
        self._min_interval_s = min_interval_s
        self._clock = clock
        self._logged = {}  # status name: (level, monotonic s when logged)

    def see(self, statuses):
        """Log what changed in `statuses` (the `tick_statuses` of one report)."""
        now = self._clock()
        for status in statuses:
            if ': input ' not in status.name and ': output ' not in status.name:
                continue
            level = as_level(status.level)
            last = self._logged.get(status.name)
            if last is None:
                self._logged[status.name] = (level, -math.inf)
                continue
            if level == last[0] or now - last[1] < self._min_interval_s:
                continue
            self._logged[status.name] = (level, now)
            name = status.name.split(': ', 1)[1]
            if level == OK:
                self._log.info(f'{name}: ok again')
            else:
                self._log.warning(f'{name}: {status.message}')
