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
The tick: one configuration's work per period, take -> decode -> copy -> kernel -> publish.

A `Tick` is a plain object called by the loop as `tick(now_ns, dt)`. It knows its inputs as
`Poller`s over a taker (anything with `take() -> CDR bytes or None`: rcl's `Taker`, the rclpy
fallback of `arena_eval.ros.entities`, or `BytesTaker`, a list of serialized messages) and its
outputs as publishers (anything with `publish(bytes)`, or rcl's `RawPublisher` on the direct
path), so it can be built and run in-process on serialized messages, without DDS:

>>> from rclpy.serialization import serialize_message          # doctest: +SKIP
>>> taker = BytesTaker([serialize_message(imu)])                # doctest: +SKIP
>>> tick = Tick(batch, InputBindings(config, batch), [Poller(config.inputs['imu'], taker)],
...             results_publisher)                              # doctest: +SKIP
>>> tick(time.monotonic_ns(), 0.001)   # results_publisher.publish(<Float64MultiArray CDR>)

Messages are taken raw: building a Python message costs 20-90 us; the bindings walk the
input's decode plan (`arena_eval.msgtypes.plans`) over the bytes instead, the one CDR reader.
A message's receive time is the tick that took it. `~/results` is pre-serialized once and
published as CDR bytes with only the doubles rewritten.

`PhaseTimes` is the timing hook: given one, a tick records how long each phase took
(`python -m arena_eval bench --tick-phases`), running the same phase methods as without it.
"""

from collections import deque
import time

import numpy as np

from ..engine.arena import state_plan
from ..msgtypes.templates import float64_template, results_template, TypedOutput
from ..rt.rcl import RawPublisher, Unavailable


class BytesTaker:
    """A taker over a queue of serialized messages: `push` them, the tick takes them in order."""

    # Only rcl's take buffer grows; diagnostics leave the key out for other takers.
    grown = None

    def __init__(self, messages=()):
        self.queue = deque(messages)

    def push(self, raw):
        self.queue.append(raw)

    def take(self):
        return self.queue.popleft() if self.queue else None


class Poller:
    """
    One input as the tick sees it: takes every waiting message (CDR bytes) from its taker.

    Shared by successive programs while the input's subscription is unchanged; `latest` lets a
    new program's bindings start from the last message instead of waiting for the next one.
    `transport` says how messages are taken (for the diagnostics); `subscription` is the rclpy
    entity behind the taker, if any (the entity pool owns and retires it).
    """

    def __init__(self, input_config, taker, transport='rclpy', subscription=None):
        self.name = input_config.name
        self.input_config = input_config
        self.msg_type = input_config.msg_type
        self.taker = taker
        self.transport = transport
        self.subscription = subscription
        self._take = taker.take
        # With a history of one message, one take gets the newest: no second, empty take.
        self._single = input_config.depth == 1
        # (CDR bytes, receive ns) of the last message taken. Written by the tick side only,
        # read when a new program primes its bindings (also on the tick side).
        self.latest = None
        # Messages taken over the subscription's life, and those no decoder could read (tick
        # side writes, diagnostics read).
        self.received = 0
        self.undecodable = 0

    def same_subscription(self, input_config):
        """Whether this subscription serves `input_config` as is (timeout changes don't count)."""
        a, b = self.input_config, input_config
        return (a.topic, a.type_name, a.qos, a.depth) == (b.topic, b.type_name, b.qos, b.depth)

    @property
    def buffer_grown(self):
        """How often the direct take buffer grew for a larger message (None: other takers)."""
        return getattr(self.taker, 'grown', None)

    def taken(self, raw, now_ns):
        """Count `raw`, taken outside `poll` (a probe take), as the latest message."""
        self.received += 1
        self.latest = (raw, now_ns)

    def poll(self, now_ns):
        """
        Take every waiting message; return the bytes of the last one, or None.

        Taken directly, the bytes are a memoryview of the subscription's one buffer: the next
        take overwrites them, so they are decoded on the tick that took them.
        """
        take, last = self._take, None
        while True:
            got = take()
            if got is None:
                break
            last = got
            self.received += 1
            if self._single:
                break
        if last is not None:
            self.latest = (last, now_ns)
        return last


class PhaseTimes:
    """
    The tick's timing hook: per tick, the ns each phase took, into a preallocated array.

    Columns are `NAMES`: taking the messages, decoding them and handing them to the bindings,
    copying fields into the arena, the kernel call, publishing, and the whole tick. Rows past
    `capacity` are dropped. The clock reads add a little to the total.
    """

    NAMES = ('take', 'decode + hand-over', 'copy into arena', 'kernel step', 'publish', 'total')

    def __init__(self, capacity, clock=time.perf_counter_ns):
        self.samples = np.zeros((int(capacity), len(self.NAMES)), np.int64)
        self.count = 0
        self.clock = clock
        # ns spent in `Poller.poll` during the current tick's take phase.
        self.take_ns = 0

    def record(self, take, decode, copy, kernel, publish, total):
        i = self.count
        if i < len(self.samples):
            self.samples[i] = (take, decode, copy, kernel, publish, total)
            self.count = i + 1


class Tick:
    """
    One configuration's work per tick, called by the loop as `tick(now_ns, dt)`.

    Built in the parameter callback (non-real-time), handed to the loop by reference, then only
    ever used from the tick side; nothing in it is shared with the executor thread except
    `bindings` and the pollers' counters, which the diagnostics read (see `InputBindings`).

    `rcl` (an `rcl.Library`) publishes straight from the templates through rcl; without it, or
    when that cannot be set up, `publisher.publish(bytes)` is called. `ok()` says whether
    publishing is still allowed (the node passes its context's; default always). `transport`
    names how the node publishes, for the diagnostics.
    """

    def __init__(self, batch, bindings, pollers, results_publisher, individual_publishers=(),
                 *, rcl=None, transport='rclpy', ok=None, phases=None, n_results=None,
                 typed=(), now=None):
        self.batch = batch
        self.bindings = bindings
        self.pollers = tuple(pollers)
        self.phases = phases
        self._inputs = tuple((p, p.name) for p in self.pollers)
        self._step = batch.step
        # The batch's first `n_results` outputs are the user's expressions; typed outputs'
        # hidden statements come after them and are published only through their templates.
        n_results = len(batch.outputs) if n_results is None else n_results
        self.results = batch.outputs[:n_results]
        self._outputs = batch.output_buffer[:n_results]
        self._ok = ok if ok is not None else (lambda: True)
        self._results_raw, self._results_view = results_template(self.results)
        self.publish_transport = 'rcl (ctypes)' if rcl is not None else transport
        self._publish_results = self._publisher(rcl, results_publisher, self._results_raw)
        self._individual = []
        for i, pub in enumerate(individual_publishers):
            raw, view = float64_template()
            self._individual.append((i, view, self._publisher(rcl, pub, raw)))
        self._individual = tuple(self._individual)
        # `typed` pairs an `outputs.OutputConfig` with its publisher.
        self.typed = tuple(
            TypedOutput(config, batch, lambda raw, pub=pub: self._publisher(rcl, pub, raw), now,
                        topic=getattr(pub, 'topic_name', config.topic))
            for config, pub in typed)
        self._primed = False
        # State to take over on the first tick, `(old batch, plan)`: set before the handover,
        # used and cleared by the tick side (see `carry_state_from_non_rt`).
        self._carry = None
        self.carried = None
        # Read by the diagnostics side; set in the node's parameter callback before the handover.
        self.nrt_baseline = None

    def carry_state_from_non_rt(self, old_batch):
        """
        Have this tick take over `old_batch`'s state, where meanings match, on its first tick.

        Call before handing the tick over. The plan is made here; the copy happens in the tick
        thread right before this tick's first step, after the old program's last one, so no
        step of either program sees a half-copied state. Returns the number of blocks planned.
        """
        plan = state_plan(old_batch.program, self.batch.program)
        self._carry = (old_batch, plan)
        return len(plan)

    def _publisher(self, rcl, publisher, raw):
        """Return `publish()` sending the current bytes of `raw` (rewritten in place)."""
        if rcl is not None:
            try:
                return RawPublisher(rcl, publisher, raw).publish
            except Unavailable as exc:
                self.publish_transport = f'rclpy ({exc})'
        publish = publisher.publish

        def publish_copy():
            publish(bytes(raw))
        return publish_copy

    def _prime(self, bindings):
        if self._carry is not None:  # the first tick of this program: the old one has stopped
            old_batch, plan = self._carry
            self.carried = self.batch.adopt_state(old_batch, plan)
            self._carry = None
        for poller, name in self._inputs:
            if poller.latest is not None:
                raw, received_ns = poller.latest
                bindings.on_message(name, raw, received_ns)
        self._primed = True

    def __call__(self, now_ns, dt):
        if self.phases is not None:
            return self._timed(now_ns, dt, self.phases)
        self.take_inputs(now_ns)
        self.bindings.copy_latest(now_ns)
        self._step(dt)
        self.publish()

    def _timed(self, now_ns, dt, phases):
        """Run the phases of `__call__`, reading the clock between them."""
        clock = phases.clock
        phases.take_ns = 0
        t0 = clock()
        self.take_inputs(now_ns, phases)
        t1 = clock()
        self.bindings.copy_latest(now_ns)
        t2 = clock()
        self._step(dt)
        t3 = clock()
        self.publish()
        t4 = clock()
        phases.record(phases.take_ns, t1 - t0 - phases.take_ns, t2 - t1, t3 - t2, t4 - t3,
                      t4 - t0)

    def take_inputs(self, now_ns, phases=None):
        """Take each input's waiting messages and hand the newest, decoded, to the bindings."""
        bindings = self.bindings
        if not self._primed:
            self._prime(bindings)
        for poller, name in self._inputs:
            if phases is None:
                raw = poller.poll(now_ns)
            else:
                start = phases.clock()
                raw = poller.poll(now_ns)
                phases.take_ns += phases.clock() - start
            if raw is not None and not bindings.on_message(name, raw, now_ns):
                poller.undecodable += 1

    def publish(self):
        """Publish the outputs (skipped once the context is shutting down)."""
        if not self._ok():
            return
        view = self._results_view
        view[:] = self._outputs
        self._publish_results()
        if self._individual:
            outputs = self._outputs
            for i, one, publish in self._individual:
                one[0] = outputs[i]
                publish()
        for typed in self.typed:
            typed.tick()
