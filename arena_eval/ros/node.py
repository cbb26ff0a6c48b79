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
The `arena_eval` ROS 2 node: parameters, subscriptions, publishers, reconfiguration, wiring.

    python -m arena_eval.ros.node --ros-args --params-file config/default.yaml
    ros2 run arena_eval arena_eval_node --ros-args --params-file config/default.yaml

Every tick (a dedicated thread with absolute deadlines, `arena_eval.ros.loop`): take the messages
that arrived on each input as CDR bytes (the tick polls its subscriptions itself; no executor
runs them; through rcl directly, `arena_eval.ros.rcl`, into one reused buffer per input, or
through rclpy when that cannot be set up or `ARENA_EVAL_RCL_DIRECT=0`) and decode only the
fields the batch reads (`arena_eval.ros.cdr`; rclpy deserializes what that cannot), copy the latest
fields into the arena (`InputBindings.copy_latest`; a message's receive time is the tick that
took it), ONE kernel call (`batch.step(dt)`, dt = the measured time since the previous tick),
publish `~/results` (`std_msgs/msg/Float64MultiArray`, pre-serialized once and published as CDR
bytes with only the doubles rewritten, straight from that template on the direct path) and,
with `publish_individual`, `~/out/<name>` (`std_msgs/msg/Float64`).
`/diagnostics` is published every `diagnostics_period` seconds from the executor thread, which
also serves the parameter services.

`ros2 param set` on `expressions`, `stale_policy`, `rate_hz`, `publish_individual`,
`diagnostics_period` and an input's `topic`/`type`/`timeout`/`qos`/`depth` is validated and
compiled in the parameter callback, off the tick; a bad update is refused with the one-line
errors as reason and the running program goes on; a good one is swapped in between two ticks.
A new program starts from its first tick (stateful functions restart); rate, diagnostics and
`publish_individual` changes keep the running program. Only subscriptions whose input's topic,
type or QoS changed are re-created. Inputs cannot be added or removed at run time.

User errors at startup (a bad params file, a bad expression) print one `file:line:col: error:`
line each on stderr and exit with code 2; SIGINT/SIGTERM stop the node cleanly with code 0
(a watchdog ends it with code 1 if the clean path ever takes longer than 0.8 s). The tick
raising (a bug, not a user error) ends the node with its traceback and code 1.
"""

import faulthandler
import gc
import os
import signal
import sys
import threading
import time

# Allocation counters must be on before numba is first imported (by the engine, on the first
# compile). Everything else is imported where it is used, after `main` has installed its
# signal handlers: a Ctrl-C during the first 0.2 s (numpy, yaml, message types) then ends the
# process cleanly instead of with a KeyboardInterrupt traceback.
os.environ.setdefault('NUMBA_NRT_STATS', '1')

NODE_NAME = 'arena_eval'
# The executor wakes at least this often to notice a stop request and retire old entities.
SPIN_TIMEOUT_S = 0.05
# Heap blocks are compared with a baseline read this long after a program is installed.
WARMUP_S = 5.0
# While a parameter update compiles in the executor thread, the tick thread needs the GIL every
# period; the default 5 ms switch interval would make it wait for up to 5 ticks.
SWITCH_INTERVAL_S = 0.0002
# Set to 0 to take and publish through rclpy instead of calling rcl directly (for comparison).
DIRECT_ENV = 'ARENA_EVAL_RCL_DIRECT'


class StartupError(Exception):
    """User errors that stop the node from starting: their one-line messages."""

    def __init__(self, lines):
        super().__init__('\n'.join(lines))
        self.lines = list(lines)


def params_files(argv):
    """Return the `--params-file` arguments of a command line, in order."""
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == '--params-file']


def _one_lines(errors):
    lines = []
    for error in errors:
        lines.extend(error.one_line().splitlines())
    return lines


# ----- the tick ----------------------------------------------------------------------------------

def _polled_group():
    """Build a callback group no executor will run: the tick polls these subscriptions."""
    from rclpy.callback_groups import CallbackGroup

    class PolledGroup(CallbackGroup):
        """Entities the tick thread takes from itself; executors leave them out of their waits."""

        def can_execute(self, entity):
            return False

        def beginning_execution(self, entity):
            return False

        def ending_execution(self, entity):
            pass

    return PolledGroup()


def _qos_profile(input_config):
    from .inputs import qos_profile
    return qos_profile(input_config)


class Poller:
    """
    One input subscription, polled by the tick: takes every waiting message as CDR bytes.

    Shared by successive programs while the input is unchanged; `latest` lets a new program's
    bindings start from the last message instead of waiting for the next one. Messages are
    taken raw: building a Python message costs 20-90 us, decoding the few fields a batch reads
    from the bytes 2-4 us (`arena_eval.ros.cdr`). With `direct` (an `rcl.Library`) they are
    taken through rcl into one reused buffer (`path` says which way, for the diagnostics).
    """

    def __init__(self, node, input_config, group, direct=None):
        self.name = input_config.name
        self.input_config = input_config
        self.msg_type = input_config.msg_type
        self.subscription = node.create_subscription(
            input_config.msg_type, input_config.topic, self._unexpected,
            _qos_profile(input_config), callback_group=group, raw=True)
        self._take = self._rclpy_taker(self.subscription.handle.take_message, self.msg_type)
        # With a history of one message, one take gets the newest: no second, empty take.
        self._single = input_config.depth == 1
        # (CDR bytes, receive ns) of the last message taken. Written by the tick side only,
        # read when a new program primes its bindings (also on the tick side).
        self.latest = None
        # Messages taken over the subscription's life, and those no decoder could read (tick
        # side writes, diagnostics read).
        self.received = 0
        self.undecodable = 0
        # Taking through rcl directly (`arena_eval.ros.rcl`) when it could be set up.
        self._taker = None
        self.path = getattr(node, 'io_path', 'rclpy')
        if direct is not None:
            from .rcl import RclError, Taker, Unavailable
            try:
                taker = Taker(direct, self.subscription)
                # A probe: a new subscription has nothing yet (TAKE_FAILED) or a first message.
                first = taker.take()
            except (Unavailable, RclError) as exc:
                self.path = f'rclpy ({exc})'
            else:
                self._taker = taker
                self._take = taker.take
                self.path = 'rcl (ctypes)'
                if first is not None:
                    self.received += 1
                    self.latest = (first, time.monotonic_ns())

    @staticmethod
    def _rclpy_taker(take_message, msg_type):
        """Return `take() -> CDR bytes or None` through rclpy, shaped like `Taker.take`."""
        def take():
            got = take_message(msg_type, True)
            return None if got is None else got[0]
        return take

    def _unexpected(self, msg):  # pragma: no cover - PolledGroup never lets an executor call it
        raise RuntimeError('a polled subscription was executed by an executor')

    def same_subscription(self, input_config):
        """Whether this subscription serves `input_config` as is (timeout changes don't count)."""
        a, b = self.input_config, input_config
        return (a.topic, a.type_name, a.qos, a.depth) == (b.topic, b.type_name, b.qos, b.depth)

    @property
    def buffer_grown(self):
        """How often the direct take buffer grew for a larger message (None: rclpy takes)."""
        return self._taker.grown if self._taker is not None else None

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


def load_direct(library=None):
    """Return (the `rcl.Library` or None, a description of the path for diagnostics)."""
    from . import rcl
    if os.environ.get(DIRECT_ENV, '1') == '0':
        return None, f'rclpy ({DIRECT_ENV}=0)'
    try:
        return rcl.load(library or rcl.LIBRARY), 'rcl (ctypes)'
    except rcl.Unavailable as exc:
        return None, f'rclpy ({exc})'


def make_decoder(msg_type, paths):
    """
    Return `decode(raw) -> message-like or None` for the paths (steps) a batch reads.

    A CDR view when `arena_eval.ros.cdr` handles the type and paths, else rclpy's deserialization;
    a message the view cannot read (another encoding) is deserialized too, and one nothing can
    read gives None. With no paths the bytes themselves stand for the message: the bindings
    only need to know that it arrived.
    """
    from rclpy.serialization import deserialize_message

    from .cdr import Decoder, Unsupported

    if not paths:
        return lambda raw: raw

    def typed(raw):
        try:
            # Direct takes give a memoryview of a reused buffer; rclpy wants bytes.
            return deserialize_message(raw if isinstance(raw, bytes) else bytes(raw), msg_type)
        except Exception:  # noqa: B902 - bytes rclpy cannot read: the message is dropped
            return None

    try:
        fast = Decoder(msg_type, paths).decode
    except Unsupported:
        return typed

    def decode(raw):
        try:
            return fast(raw)
        except Exception:  # noqa: B902 - another encoding, or short bytes
            return typed(raw)
    decode.cdr_view = True
    return decode


def _raw_template(msg, n_doubles):
    """Serialize `msg` once; return (bytearray, float64 view of its trailing `n_doubles`)."""
    import numpy as np
    from rclpy.serialization import serialize_message
    raw = bytearray(serialize_message(msg))
    view = np.frombuffer(raw, np.float64, n_doubles, len(raw) - 8 * n_doubles)
    return raw, view


def results_template(outputs):
    """Return the `~/results` message as CDR bytes and the view of its `data` doubles."""
    from std_msgs.msg import Float64MultiArray, MultiArrayDimension
    n = len(outputs)
    msg = Float64MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=','.join(outputs), size=n, stride=n)]
    msg.layout.data_offset = 0
    msg.data = [0.0] * n
    # `data` is the message's last field, so its doubles are the CDR's last 8 * n bytes.
    return _raw_template(msg, n)


def float64_template():
    from std_msgs.msg import Float64
    return _raw_template(Float64(data=0.0), 1)


class Tick:
    """
    One configuration's work per tick, called by the loop as `tick(now_ns, dt)`.

    Built in the parameter callback (non-real-time), handed to the loop by reference, then only
    ever used from the tick side; nothing in it is shared with the executor thread except
    `bindings`, whose status the diagnostics read (see `InputBindings`).
    """

    def __init__(self, node, config, batch, bindings, pollers, results_pub, individual_pubs,
                 direct=None):
        from .inputs import parse_path

        self.config = config
        self.batch = batch
        self.bindings = bindings
        self.pollers = tuple(pollers)
        paths = {poller.name: [] for poller in self.pollers}
        for path in batch.inputs:
            root, steps = parse_path(path)
            paths[root].append(steps)
        self.decoders = {p.name: make_decoder(p.msg_type, paths[p.name]) for p in self.pollers}
        self._inputs = tuple((p, p.name, self.decoders[p.name]) for p in self.pollers)
        self._step = batch.step
        self._outputs = batch.output_buffer
        # The rcl context's own ok(): rclpy's Context.ok() adds a lock and a handle guard
        # (1.2 us against 0.17 us here), and the handle outlives every tick.
        self._ok = node.context.handle.ok
        self._results_raw, self._results_view = results_template(batch.outputs)
        self.publish_path = getattr(node, 'io_path', 'rclpy') if direct is None else 'rcl (ctypes)'
        self._publish_results = self._publisher(direct, results_pub, self._results_raw)
        self._individual = []
        for i, pub in enumerate(individual_pubs):
            raw, view = float64_template()
            self._individual.append((i, view, self._publisher(direct, pub, raw)))
        self._individual = tuple(self._individual)
        self._primed = False
        # Read by the diagnostics side; set in the node's parameter callback before the handover.
        self.nrt_baseline = None

    def _publisher(self, direct, publisher, raw):
        """Return `publish()` sending the current bytes of `raw` (rewritten in place)."""
        if direct is not None:
            from .rcl import RawPublisher, Unavailable
            try:
                return RawPublisher(direct, publisher, raw).publish
            except Unavailable as exc:
                self.publish_path = f'rclpy ({exc})'
        publish = publisher.publish

        def publish_copy():
            publish(bytes(raw))
        return publish_copy

    def _prime(self, bindings):
        for poller, name, decode in self._inputs:
            if poller.latest is not None:
                raw, received_ns = poller.latest
                msg = decode(raw)
                if msg is not None:
                    bindings.on_message(name, msg, received_ns)
        self._primed = True

    def __call__(self, now_ns, dt):
        # The phases are methods so `tools.tickprof` can time each without a copy of them.
        self.take_inputs(now_ns)
        self.bindings.copy_latest(now_ns)
        self._step(dt)
        self.publish()

    def take_inputs(self, now_ns):
        """Take each input's waiting messages and hand the newest, decoded, to the bindings."""
        bindings = self.bindings
        if not self._primed:
            self._prime(bindings)
        for poller, name, decode in self._inputs:
            raw = poller.poll(now_ns)
            if raw is not None:
                msg = decode(raw)
                if msg is not None:
                    bindings.on_message(name, msg, now_ns)
                else:
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


# ----- the node ----------------------------------------------------------------------------------

def _nrt_allocations():
    """Numba NRT allocations so far (process-wide), or None when counting is off."""
    try:
        from numba.core.runtime import rtsys
        return int(rtsys.get_allocation_stats().alloc)
    except Exception:  # noqa: B902 - numba raises RuntimeError, or isn't loaded the same way
        return None


def _make_node_class():
    from diagnostic_msgs.msg import DiagnosticArray
    from rcl_interfaces.msg import ParameterType, ParameterValue, SetParametersResult
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from std_msgs.msg import Float64, Float64MultiArray

    from . import config as cfg
    from .diagnostics import DiagnosticsReport
    from .inputs import InputBindings
    from ..language.errors import ExpressionError
    from .loop import TickLoop

    uninitialized = {'double': Parameter.Type.DOUBLE, 'integer': Parameter.Type.INTEGER,
                     'string': Parameter.Type.STRING, 'bool': Parameter.Type.BOOL,
                     'string_array': Parameter.Type.STRING_ARRAY}

    class ArenaEvalNode(Node):
        """The node; construct it inside an rclpy context, then `start()`; `shutdown()` last."""

        def __init__(self, *, file_warnings=None, context=None, rcl_library=None):
            super().__init__(NODE_NAME, context=context,
                             automatically_declare_parameters_from_overrides=True)
            self._log = self.get_logger()
            self._direct, self.io_path = load_direct(rcl_library)
            self._log.debug(f'taking and publishing CDR bytes through {self.io_path}')
            self._polled = _polled_group()
            self._declare_parameters()
            # Every declared parameter's value (the executor thread only).
            self._values = self._parameter_values()
            config, errors, warnings = cfg.config_from_parameters(
                self._config_parameters(self._values), check_expressions=False)
            for line in (file_warnings if file_warnings is not None
                         else [w.one_line() for w in warnings]):
                self._log.warning(line)
            if errors:
                raise StartupError(_one_lines(errors))
            self.loop_mode = config.loop_mode
            try:
                batch = cfg.build_batch(config)
            except ExpressionError as exc:
                raise StartupError(exc.one_line().splitlines()) from None

            self._results_pub = self.create_publisher(Float64MultiArray, '~/results', 10)
            self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
            # Entities the running program may use, by key; replaced ones wait in _retired
            # until the loop has taken a program that no longer uses them (executor thread).
            self._pollers = {}
            self._individual = {}
            self._retired = []
            self._config = None
            self._report = DiagnosticsReport(self.get_name())
            self._heap_baseline = None
            self._heap_baseline_due = None
            self._latest_tick = None
            self.loop = None
            self._timer = None
            self._diag_timer = None
            tick, _ = self._make_tick(config, config.diff(None), batch)
            self.loop = TickLoop(tick, config.rate_hz)
            self._config = config
            self._diag_timer = self.create_timer(config.diagnostics_period,
                                                 self._publish_diagnostics)
            self.add_on_set_parameters_callback(self._on_set_parameters)

        # ----- parameters -------------------------------------------------------------------
        def _declare_parameters(self):
            """Describe every overridden parameter from the table; declare the missing ones."""
            declared = self.get_parameters_by_prefix('')
            input_names = []
            for name in declared:
                parts = name.split('.')
                if len(parts) == 3 and parts[0] == 'inputs' and parts[1] not in input_names:
                    input_names.append(parts[1])
            names = [p.name for p in cfg.PARAMETERS if not p.name.startswith('inputs.')]
            for input_name in input_names:
                names.extend(cfg.input_parameter_names(input_name))
            for name in names:
                spec = cfg.spec_for(name)
                descriptor = cfg.parameter_descriptor(spec, name)
                if self.has_parameter(name):
                    self._describe(name, spec, descriptor)
                elif spec.default is None or spec.default == ():
                    self.declare_parameter(name, uninitialized[spec.ros_type], descriptor)
                else:
                    self.declare_parameter(name, spec.default, descriptor)

        def _describe(self, name, spec, descriptor):
            value = self.get_parameter(name).value
            alternative = None
            if spec is not None and spec.ros_type == 'double' and isinstance(value, int) \
                    and not isinstance(value, bool):
                alternative = ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                             double_value=float(value))
            try:
                self.set_descriptor(name, descriptor, alternative)
            except Exception:  # noqa: B902 - a wrong type: config_from_parameters says which
                pass

        def _parameter_values(self):
            return {name: param.value
                    for name, param in self.get_parameters_by_prefix('').items()}

        @staticmethod
        def _config_parameters(values):
            """Select what config_from_parameters checks: the values that are set."""
            return {name: value for name, value in values.items() if value is not None}

        def _on_set_parameters(self, params):
            values = dict(self._values)
            values.update({p.name: p.value for p in params})
            config, errors, warnings = cfg.config_from_parameters(
                self._config_parameters(values), check_expressions=False)
            if errors:
                return SetParametersResult(successful=False,
                                           reason='\n'.join(_one_lines(errors)))
            try:
                self._apply(config)
            except ExpressionError as exc:
                return SetParametersResult(successful=False, reason=exc.one_line())
            for warning in warnings:
                if any(warning.pos and p.name in str(warning.pos) for p in params):
                    self._log.warning(warning.one_line())
            self._values = values
            return SetParametersResult(successful=True)

        # ----- programs and entities ---------------------------------------------------------
        def _apply(self, config):
            """Make `config` the running one (parameter callback, executor thread)."""
            old = self._config
            diff = config.diff(old)
            if not diff.changed:
                return
            if diff.batch or 'publish_individual' in diff.other:
                tick, retired = self._make_tick(config, diff)
                ticket = self.loop.swap_tick_from_non_rt(tick)
                self._retired.extend((ticket, entity) for entity in retired)
                self._heap_baseline_due = time.monotonic() + WARMUP_S
            if diff.rate:
                self.loop.set_rate_from_non_rt(config.rate_hz)
                if self._timer is not None:
                    self.destroy_timer(self._timer)
                    self._timer = self.create_timer(1.0 / config.rate_hz,
                                                    self.loop.tick_from_timer)
            if 'diagnostics_period' in diff.other:
                self.destroy_timer(self._diag_timer)
                self._diag_timer = self.create_timer(config.diagnostics_period,
                                                     self._publish_diagnostics)
            self._config = config

        def _make_tick(self, config, diff, batch=None):
            """
            Build the tick for `config`; return it and the entities only older ticks use.

            Reuses the newest tick's batch and bindings when neither expressions nor inputs
            changed (a `publish_individual` toggle), so the program keeps its state.
            """
            latest = self._latest_tick
            if batch is None and not diff.batch and latest is not None:
                batch, bindings = latest.batch, latest.bindings
            else:
                batch = batch if batch is not None else cfg.build_batch(config)
                bindings = InputBindings(config, batch)
            retired = []
            pollers = []
            for name, input_config in config.inputs.items():
                poller = self._pollers.get(name)
                if poller is None or not poller.same_subscription(input_config):
                    if poller is not None:
                        retired.append(poller.subscription)
                    poller = Poller(self, input_config, self._polled, self._direct)
                    self._log.debug(f"input '{name}': taking through {poller.path}")
                    self._pollers[name] = poller
                else:
                    poller.input_config = input_config
                pollers.append(poller)
            for name in [n for n in self._pollers if n not in config.inputs]:
                retired.append(self._pollers.pop(name).subscription)
            wanted = batch.outputs if config.publish_individual else ()
            for name in [n for n in self._individual if n not in wanted]:
                retired.append(self._individual.pop(name))
            pubs = []
            for name in wanted:
                if name not in self._individual:
                    self._individual[name] = self.create_publisher(Float64, f'~/out/{name}', 10)
                pubs.append(self._individual[name])
            tick = Tick(self, config, batch, bindings, pollers, self._results_pub, pubs,
                        self._direct)
            tick.nrt_baseline = _nrt_allocations()
            self._latest_tick = tick
            return tick, retired

        def housekeeping(self):
            """Destroy entities retired by programs the loop no longer runs (executor thread)."""
            if not self._retired:
                return
            keep = []
            for ticket, entity in self._retired:
                if not self.loop.swap_done(ticket):
                    keep.append((ticket, entity))
                elif entity in self.subscriptions:
                    self.destroy_subscription(entity)
                else:
                    self.destroy_publisher(entity)
            self._retired = keep

        # ----- running ----------------------------------------------------------------------
        def start(self):
            """Start ticking: the loop thread, or in timer mode an executor timer."""
            sys.setswitchinterval(SWITCH_INTERVAL_S)
            self._heap_baseline_due = time.monotonic() + WARMUP_S
            # Everything built so far lives as long as the node: move it out of the cyclic
            # collector's sight, so the collections the tick's garbage triggers stay small
            # (measured: about 1% of a core less at 1 kHz).
            gc.collect()
            gc.freeze()
            if self.loop_mode == 'timer':
                self._timer = self.create_timer(1.0 / self._config.rate_hz,
                                                self.loop.tick_from_timer)
            else:
                self.loop.start()

        def shutdown(self):
            """Stop ticking (before the node's entities are destroyed); True when stopped."""
            if self._timer is not None:
                self.destroy_timer(self._timer)
                self._timer = None
            return self.loop.stop(timeout=1.0) if self.loop is not None else True

        @property
        def failed(self):
            return self.loop is not None and self.loop.failed.is_set()

        # ----- diagnostics ------------------------------------------------------------------
        def _check_publisher_types(self, tick):
            for poller in tick.pollers:
                expected = poller.input_config.type_name
                try:
                    infos = self.get_publishers_info_by_topic(poller.subscription.topic_name)
                except Exception:  # noqa: B902 - graph queries fail during shutdown
                    return
                others = sorted({i.topic_type for i in infos if i.topic_type != expected})
                tick.bindings.set_type_mismatch(poller.name, ', '.join(others) or None)

        def _publish_diagnostics(self):
            tick = self.loop.current_tick
            self._check_publisher_types(tick)
            snap = self.loop.snapshot(since_ticks=self._report.since_ticks)
            now = time.monotonic()
            heap = sys.getallocatedblocks()
            if self._heap_baseline_due is not None and now >= self._heap_baseline_due:
                self._heap_baseline = heap
                self._heap_baseline_due = None
            allocations = _nrt_allocations()
            kernel = (allocations - tick.nrt_baseline
                      if allocations is not None and tick.nrt_baseline is not None else None)
            loop_status = self._report.loop_status(
                snap, kernel_allocations=kernel,
                heap_blocks_delta=(heap - self._heap_baseline
                                   if self._heap_baseline is not None else None),
                expressions=len(tick.batch.outputs), program_ops=tick.batch.n_ops,
                extra=[('Loop mode', self.loop_mode),
                       ('Stale policy', tick.batch.stale_policy),
                       ('Publishing', tick.publish_path)])
            statuses = [loop_status]
            pollers = {poller.name: poller for poller in tick.pollers}
            for name, level, message, pairs in tick.bindings.status(time.monotonic_ns()):
                poller = pollers.get(name)
                if poller is not None:
                    # Counted by the subscription, so a new program on it keeps counting.
                    pairs = dict(pairs)
                    pairs['Messages received'] = str(poller.received)
                    pairs['Undecodable messages'] = str(poller.undecodable)
                    pairs['Decoding'] = ('CDR view' if getattr(tick.decoders[name], 'cdr_view',
                                                               False) else 'rclpy')
                    pairs['Taking'] = poller.path
                    if poller.buffer_grown is not None:
                        pairs['Take buffer grown'] = str(poller.buffer_grown)
                statuses.append(self._report.input_status(name, level, message, pairs))
            if self.context.ok():
                self._diagnostics_pub.publish(
                    self._report.array(self.get_clock().now().to_msg(), statuses))

    return ArenaEvalNode


_NODE_CLASS = None


def node_class():
    """Return the node class (built on first use, so importing this module needs no rclpy)."""
    global _NODE_CLASS
    if _NODE_CLASS is None:
        _NODE_CLASS = _make_node_class()
    return _NODE_CLASS


# ----- the process -------------------------------------------------------------------------------

class Stopper:
    """
    What SIGINT/SIGTERM do to the node process: ask it to stop, and make sure it does.

    While configuring (importing numba, compiling) a signal raises KeyboardInterrupt so startup
    ends at once; once running it only sets the stop event, and the main loop returns. With a
    `deadline_s`, the first signal also arms a watchdog that ends the process with exit code 1
    if the clean path has not finished by then, so no state can keep it alive.
    """

    def __init__(self, deadline_s=None):
        self.deadline_s = deadline_s
        # Written by the main thread (set_running, bind); read by the handler, which runs on
        # the main thread too, between two bytecodes.
        self.configuring = True
        self.stop_event = None
        # Set by the first signal and never cleared: a KeyboardInterrupt can be swallowed (a
        # Python callback called from C, like llvmlite's object cache, ignores exceptions), so
        # startup also checks this flag between its phases.
        self.requested = False
        self._armed = False

    def install(self):
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self)

    def __call__(self, signum, frame):
        self.requested = True
        if self.deadline_s is not None and not self._armed:
            self._armed = True
            threading.Thread(target=self._watchdog, name='arena_eval_stop_deadline',
                             daemon=True).start()
        if self.stop_event is not None:
            self.stop_event.set()
        if self.configuring:
            raise KeyboardInterrupt

    def _watchdog(self):
        time.sleep(self.deadline_s)
        os.write(2, b'arena_eval: clean shutdown took too long; exiting anyway. Stuck in:\n')
        faulthandler.dump_traceback(all_threads=True)
        os._exit(1)


# Seconds from a stop signal to the watchdog's forced exit (the promise is: gone within 1 s).
STOP_DEADLINE_S = 0.8


def run_node(args, stop_event, file_warnings=None, stopper=None):
    """`rosmain.run` body: configure, tick until `stop_event`, stop cleanly. Return exit code."""
    from rclpy.executors import SingleThreadedExecutor

    # rosmain's handlers only set stop_event; ours also interrupt configuring at once.
    stopper = stopper or Stopper()
    stopper.stop_event = stop_event
    stopper.configuring = True
    stopper.install()
    node = None
    executor = None
    try:
        if stop_event.is_set() or stopper.requested:
            return 0
        try:
            node = node_class()(file_warnings=file_warnings)
        except StartupError as exc:
            for line in exc.lines:
                print(line, file=sys.stderr)
            return 2
        if stopper.requested:
            return 0
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        node.start()
        stopper.configuring = False
        while not stop_event.is_set():
            executor.spin_once(timeout_sec=SPIN_TIMEOUT_S)
            node.housekeeping()
            if node.failed:
                print(f'arena_eval: the tick failed:\n{node.loop.error_text}', file=sys.stderr)
                return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        # Cleanup must not be interrupted half-way: from here a signal only sets the event.
        stopper.configuring = False
        if node is not None:
            node.shutdown()
        if executor is not None:
            executor.shutdown(timeout_sec=0.1)
        if node is not None:
            node.destroy_node()


def main(argv=None, *, fast_exit=None):
    """
    Entry point of `arena_eval_node`: validate params files, run the node, return exit code.

    With `fast_exit` (the default when run as a program) the process ends with `os._exit`
    right after the clean shutdown: the node is destroyed, rclpy shut down and the output
    flushed by then, and what remains is interpreter finalization of rclpy, numba and
    llvmlite objects, measured at 150-420 ms here, which would break the promise to stop
    within 1 s of SIGINT/SIGTERM on a loaded machine.
    """
    if fast_exit is None:
        fast_exit = argv is None
    # From here on a signal interrupts startup at once (and, as a program, arms the deadline).
    stopper = Stopper(STOP_DEADLINE_S if fast_exit else None)
    stopper.install()
    try:
        code = _main(argv, stopper)
    except KeyboardInterrupt:
        code = 0
    if fast_exit:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _main(argv, stopper):
    from . import config as cfg
    from .process import run

    argv = list(sys.argv if argv is None else argv)
    files = params_files(argv)
    file_warnings = None
    if files:
        lines = []
        warnings = []
        for path in files:
            _, errors, file_warn = cfg.load_params_file(path)
            if len(files) > 1:
                # Each of several files may hold part of the parameters: only what is wrong in
                # the file itself counts here; the merged values are checked after startup.
                errors = [e for e in errors if e.message.startswith('YAML syntax error')]
            lines.extend(_one_lines(errors))
            warnings.extend(w.one_line() for w in file_warn)
        if lines:
            for line in lines:
                print(line, file=sys.stderr)
            return 2
        if len(files) == 1:
            file_warnings = warnings
    if stopper.requested:
        return 0
    try:
        return run(lambda args, stop_event: run_node(args, stop_event, file_warnings, stopper),
                   argv)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: B902 - rclpy.init refusing the arguments: one line
        if type(exc).__name__ != 'RCLError':
            raise
        print(f'error: {str(exc).splitlines()[0]}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
