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
The `arena_eval` ROS 2 node: the node class and its wiring.

    python -m arena_eval.ros.node --ros-args --params-file config/default.yaml
    ros2 run arena_eval arena_eval_node --ros-args --params-file config/default.yaml

Every tick (one compiled nogil loop in a dedicated thread with absolute deadlines,
`arena_eval.rt.compiled_tick`) runs the current program: take the messages that arrived on
each input as CDR bytes through rcl, walk their decode plans to the fields the batch reads,
copy the latest fields into the arena with message time, ONE kernel step (dt = the measured
time since the previous tick), publish `~/results` (`std_msgs/msg/Float64MultiArray`), with
`publish_individual` `~/out/<name>` (`std_msgs/msg/Float64`), and the typed outputs. The loop
takes its subscriptions itself (no executor runs them; `arena_eval.ros.entities`). Where the
compiled loop cannot run (rcl symbols missing) the node does not start: one line says why.
`/diagnostics` is published every `diagnostics_period` seconds from the executor thread
(`arena_eval.ros.diagnostics`), which also serves the parameter services.

With `trigger` (an input's name, or several) the loop evaluates once per message on those
inputs instead of every tick, and `max_period` after the previous evaluation without one.

`ros2 param set` on `expressions`, `stale_policy`, `stale_state`, `rate_hz`, `trigger`,
`max_period`, `publish_individual`, `diagnostics_period` and an input's
`topic`/`type`/`timeout`/`qos`/`depth` is validated and compiled in the parameter callback
(`arena_eval.ros.params_bridge`), off the tick; a bad update is refused with the one-line errors as
reason and the running program goes on; a good one is swapped in between two ticks. A new program
takes over the state of every stateful call whose meaning did not change
(`CompiledTick.carry_state_from_non_rt`: copied by the loop before its first step); new or changed
calls start from their first tick; rate, diagnostics, `publish_individual`, `trigger` and
`max_period` changes keep the running program and its state. The `~/reset` service
(`std_srvs/srv/Trigger`) swaps in the same program without its state: every stateful call and `t`
restart. Only subscriptions whose input's topic, type or QoS changed are re-created. Inputs cannot
be added or removed at run time.

With the read-only parameter `lifecycle` the node is a managed one
(`arena_eval.ros.lifecycle`): the same steps (`configure`, `activate`, `deactivate`, `cleanup`)
are taken on its lifecycle transitions instead of at start.

The process around it (`arena_eval.ros.main`): user errors at startup print one
`file:line:col: error:` line each on stderr and exit with code 2; SIGINT/SIGTERM stop the node
cleanly with code 0; the tick raising (a bug, not a user error) ends the node with its
traceback and code 1.
"""

if __name__ == '__main__':
    # `python -m arena_eval.ros.node` would run this file's imports below (rclpy, numpy, message
    # types: a few tenths of a second) before any signal handler is installed: run the
    # command module instead (`python -m arena_eval.ros.main`), which installs them first and
    # then imports this module by its name.
    import runpy
    runpy.run_module('arena_eval.ros.main', run_name='__main__', alter_sys=True)
    raise SystemExit(0)

import gc
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.clock import Clock, ClockType
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from std_msgs.msg import Float64MultiArray
from std_srvs.srv import Trigger

from .diagnostics import DiagnosticsReport, TransitionLog
from .entities import EntityPool
from .graph import GraphWatch
from .params_bridge import ParameterBridge
from .process import Stopper
from ..engine import native
from ..language.errors import BatchErrors, ExpressionError
from ..msgtypes import plans
from ..params import config as cfg
from ..rt.compiled_tick import Compiler, TickRunner

# The executor wakes at least this often to notice a stop request and retire old entities.
# Each wake-up costs CPU (DESIGN.md: ~1 point of a core at 0.05 s, ~0.35 at 0.5 s); services and
# timers wake it at once anyway, so only a stop waits for the timeout (well inside the 1 s).
SPIN_TIMEOUT_S = 0.25
# Heap blocks are compared with a baseline read this long after a program is installed.
WARMUP_S = 5.0
# Changes made by a new TickConfig over the running batch (its state goes on as it is).
_NEW_TICK = {'publish_individual', 'trigger', 'max_period'}
# While a parameter update compiles in the executor thread, the tick thread needs the GIL every
# period; the default 5 ms switch interval would make it wait for up to 5 ticks.
SWITCH_INTERVAL_S = 0.0002


class StartupError(Exception):
    """User errors that stop the node from starting: their one-line messages."""

    def __init__(self, lines):
        super().__init__('\n'.join(lines))
        self.lines = list(lines)


def _nrt_allocations():
    """Numba NRT allocations so far (process-wide), or None when counting is off."""
    try:
        from numba.core.runtime import rtsys
        return int(rtsys.get_allocation_stats().alloc)
    except Exception:  # noqa: B902 - numba raises RuntimeError, or isn't loaded the same way
        return None


class ArenaEvalNode(Node):
    """
    The node; construct it inside an rclpy context, then `start()`; `shutdown()` last.

    Its life is four steps, which the plain node takes at once (`__init__` configures, `start`
    activates) and the managed node (`arena_eval.ros.lifecycle`) on its transitions:
    `configure` (read and compile the params, create the subscriptions and publishers),
    `activate` (start ticking), `deactivate` (stop ticking; the program and its state stay) and
    `cleanup` (drop the program and its entities). `rcl_library` names the rcl library the
    compiled loop takes and publishes through. `file_errors` are the params files' one-line
    errors (the managed node starts with them and logs them when it is asked to configure).
    """

    # The managed node configures on its configure transition instead of in `__init__`.
    MANAGED = False

    def __init__(self, *, file_warnings=None, file_errors=None, context=None, rcl_library=None):
        super().__init__(cfg.NODE_NAME, context=context,
                         automatically_declare_parameters_from_overrides=True)
        try:
            self._setup(file_warnings, file_errors, rcl_library)
        except BaseException:
            # A signal (KeyboardInterrupt) or a startup error half-way: `run_node` never gets
            # this node to destroy, and on Jazzy its DDS participant's shared memory outlives
            # the process unless the node is destroyed here.
            self.destroy_node()
            raise

    def _setup(self, file_warnings, file_errors, rcl_library):
        self._log = self.get_logger()
        try:
            self._compiler = Compiler(self, rcl_library)
        except native.Unavailable as exc:
            raise StartupError([f'arena_eval: the compiled tick cannot run here: {exc}']) from None
        self._file_warnings = file_warnings
        self._file_errors = list(file_errors or ())
        self._params = ParameterBridge(self, self._apply)
        # The values the params files gave: while they stand, the files' errors are theirs.
        self._file_values = dict(self._params.values)
        self._diagnostics_pub = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        # Fully qualified: two robots' nodes of the same name must not collide on /diagnostics.
        self._report = DiagnosticsReport(self.get_fully_qualified_name())
        self._transitions = TransitionLog(self.get_logger())
        self._graph = GraphWatch(self)
        # The diagnostics timer runs on the steady clock: a ROS-time timer never fires under
        # use_sim_time until /clock is published, and /diagnostics must not depend on it.
        self._steady = Clock(clock_type=ClockType.STEADY_TIME)
        self._heap_baseline = None
        self._heap_baseline_due = None
        # What `configure` makes and `cleanup` drops; all None while unconfigured.
        self._config = None
        self._results_pub = None
        self._entities = None
        self._latest_tick = None
        self.loop = None
        self._diag_timer = None
        self._diag_period = None
        # Whether the loop should be ticking (start .. deactivate); executor thread only.
        self._active = False
        self._params.install()
        self._reset_service = self.create_service(Trigger, '~/reset', self._on_reset)
        if self.get_parameter('use_sim_time').value:
            self._log.info('use_sim_time: /diagnostics stamps follow /clock; the tick, dt, '
                           'staleness and the diagnostics period stay on the steady clock')
        if self.MANAGED:
            self._set_diagnostics_period(cfg.spec_for('diagnostics_period').default)
        else:
            self.configure()

    # ----- the four steps -----------------------------------------------------------------------
    def configure(self, what='running'):
        """Read and compile the params, create the entities and the loop; raise StartupError."""
        config, errors, warnings = self._params.read()
        file_lines = self._file_values == self._params.values
        for line in (self._file_warnings if file_lines and self._file_warnings is not None
                     else [w.one_line() for w in warnings]):
            self._log.warning(line)
        try:
            if errors:
                raise BatchErrors(errors)
            batch = cfg.build_batch(config)
        except ExpressionError as exc:
            # While the files' values stand, their errors say where: file:line:col.
            raise StartupError(self._file_errors if file_lines and self._file_errors
                               else exc.one_line().splitlines()) from None
        self._results_pub = self.create_publisher(Float64MultiArray, '~/results', 10)
        self._entities = EntityPool(self, self._compiler.symbols)
        tick, _ = self._make_tick(config, config.diff(None), batch)
        self.loop = TickRunner(tick, config.rate_hz, self._compiler.symbols)
        self._log.info('tick: compiled')
        self._config = config
        self._set_diagnostics_period(config.diagnostics_period)
        self._log_program(what, config, tick)

    def activate(self):
        """Start ticking and publishing (the loop thread)."""
        self.start()

    def deactivate(self):
        """Stop ticking: nothing is published; the program, its state and entities stay."""
        self._active = False
        if self.loop is not None:
            if not self.loop.stop(timeout=1.0):
                # Its entities must outlive it: destroy nothing (the transition fails).
                raise RuntimeError('the tick loop did not stop within 1 s')
            # Nothing runs an older program now: what only those used can go.
            self._entities.destroy_retired(lambda ticket: True)

    def cleanup(self):
        """Drop the program, the loop and every subscription and publisher it used."""
        self.deactivate()
        if self._entities is not None:
            if self.loop is not None:
                self.loop.close()
            self._entities.destroy_all()
        if self._results_pub is not None:
            self.destroy_publisher(self._results_pub)
        self._config = self._results_pub = self._entities = self._latest_tick = None
        self.loop = None

    def _set_diagnostics_period(self, period):
        if self._diag_timer is not None and period == self._diag_period:
            return
        if self._diag_timer is not None:
            self.destroy_timer(self._diag_timer)
        self._diag_period = period
        self._diag_timer = self.create_timer(period, self._publish_diagnostics,
                                             clock=self._steady)

    def _log_program(self, what, config, tick):
        """Log the program summary: outputs, inputs with their resolved topics, rate."""
        batch = tick.batch
        inputs = ', '.join(
            f'{p.name} <- {p.subscription.topic_name if p.subscription else p.input_config.topic}'
            f' ({p.input_config.type_name}, {p.input_config.qos})' for p in tick.pollers)
        typed = ', '.join(f'{t.name} -> {t.topic} ({t.type_name}, every {t.every})'
                          for t in tick.typed)
        self._log.info(
            f'{what}: {len(tick.results)} expression{"" if len(tick.results) == 1 else "s"} '
            f'({", ".join(tick.results)}), '
            f'{batch.n_ops} ops, {_when(config)}; inputs: {inputs or "none"}; '
            f'results on {self._results_pub.topic_name}'
            + (' and ~/out/<name>' if config.publish_individual else '')
            + (f'; typed outputs: {typed}' if typed else ''))

    # ----- programs -----------------------------------------------------------------------------
    def _apply(self, config):
        """Make `config` the running one (parameter callback, executor thread)."""
        old = self._config
        if old is None:
            return  # unconfigured: the next configure reads the parameters
        diff = config.diff(old)
        if not diff.changed:
            return
        if diff.batch or set(diff.other) & _NEW_TICK:
            tick, retired = self._make_tick(config, diff)
            running = self.loop.current_tick.batch
            if tick.batch is not running:
                kept = tick.carry_state_from_non_rt(running)
                self._log.debug(f'new program: {kept} state blocks carried over')
            ticket = self.loop.swap_tick_from_non_rt(tick)
            self._entities.retire(ticket, retired)
            self._heap_baseline_due = time.monotonic() + WARMUP_S
            self._log_program('new program' if diff.batch else 'new outputs', config, tick)
        if diff.rate:
            self.loop.set_rate_from_non_rt(config.rate_hz)
            self._log.info(f'rate_hz: {old.rate_hz:g} -> {config.rate_hz:g} Hz')
        if 'diagnostics_period' in diff.other:
            self._set_diagnostics_period(config.diagnostics_period)
        self._config = config

    def _make_tick(self, config, diff, batch=None):
        """
        Build the tick for `config`; return it and the entities only older ticks use.

        Reuses the newest tick's batch when neither expressions nor inputs changed (a
        `publish_individual` toggle), so the program keeps its state.
        """
        latest = self._latest_tick
        if batch is None and not diff.batch and latest is not None:
            batch = latest.batch
        else:
            batch = batch if batch is not None else cfg.build_batch(config)
        n_results = len(config.expressions)
        outputs = batch.outputs[:n_results] if config.publish_individual else ()
        inputs, pubs, typed, retired = self._entities.update(config, outputs)
        try:
            tick = self._compiler.build(config, batch, inputs, self._results_pub, pubs, typed,
                                        clock=self._entities.clock)
        except (plans.Unsupported, native.Unavailable) as exc:
            # The params checks accept only what the plans read: a bug if it gets here.
            raise RuntimeError(f'the compiled tick cannot run this program: {exc}') from exc
        tick.nrt_baseline = _nrt_allocations()
        self._latest_tick = tick
        return tick, retired

    def _on_reset(self, request, response):
        """`~/reset`: swap in the running config's program afresh (executor thread)."""
        config = self._config
        if config is None:
            response.success, response.message = False, 'not configured: no program to reset'
            return response
        try:
            batch = cfg.build_batch(config)
        except ExpressionError as exc:  # compiled before: only a bug can get here
            response.success, response.message = False, exc.one_line()
            return response
        tick, retired = self._make_tick(config, config.diff(config), batch)
        ticket = self.loop.swap_tick_from_non_rt(tick)
        self._entities.retire(ticket, retired)
        self._heap_baseline_due = time.monotonic() + WARMUP_S
        n = len(batch.program.state_keys)
        response.success = True
        response.message = (f'state reset: {n} stateful call{"" if n == 1 else "s"} and t '
                            'restart from their first tick')
        return response

    def housekeeping(self):
        """Destroy entities retired by programs the loop no longer runs (executor thread)."""
        if self.loop is not None:
            self._entities.destroy_retired(self.loop.swap_done)

    # ----- running ------------------------------------------------------------------------------
    def start(self):
        """Start ticking: the loop thread."""
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._heap_baseline_due = time.monotonic() + WARMUP_S
        # Everything built so far lives as long as the node: move it out of the cyclic
        # collector's sight, so the collections the tick's garbage triggers stay small
        # (measured: about 1% of a core less at 1 kHz).
        gc.collect()
        gc.freeze()
        self._active = True
        self.loop.start()

    def shutdown(self):
        """Stop ticking (before the node's entities are destroyed); True when stopped."""
        if self.loop is None:
            return True
        stopped = self.loop.stop(timeout=1.0)
        if stopped:
            self.loop.close()  # its wait sets, while the context is still up
        self._log.info(f'shutting down: stopped after {self.loop.snapshot().ticks} ticks'
                       if stopped else 'shutting down: the tick did not stop within 1 s')
        return stopped

    @property
    def failed(self):
        return self.loop is not None and self.loop.failed.is_set()

    # ----- diagnostics --------------------------------------------------------------------------
    def _lifecycle_statuses(self):
        """Statuses the managed node adds (its state); none for the plain node."""
        return []

    def _publish_diagnostics(self):
        statuses = self._lifecycle_statuses()
        if self.loop is not None:
            statuses.extend(self._tick_statuses())
        if self.context.ok():
            self._diagnostics_pub.publish(
                self._report.array(self.get_clock().now().to_msg(), statuses))
        self._transitions.see(statuses)

    def _tick_statuses(self):
        tick = self.loop.current_tick
        self._graph.check(tick)
        snap = self.loop.snapshot(since_ticks=self._report.since_ticks)
        now = time.monotonic()
        heap = sys.getallocatedblocks()
        if self._heap_baseline_due is not None and now >= self._heap_baseline_due:
            self._heap_baseline = heap
            self._heap_baseline_due = None
        allocations = _nrt_allocations()
        kernel = (allocations - tick.nrt_baseline
                  if allocations is not None and tick.nrt_baseline is not None else None)
        return self._report.tick_statuses(
            tick, snap, time.monotonic_ns(), kernel_allocations=kernel,
            heap_blocks_delta=(heap - self._heap_baseline
                               if self._heap_baseline is not None else None),
            idle=not self._active)


def _when(config):
    """When the batch is evaluated: 'at 1000 Hz', 'on each message of imu (...)'."""
    if not config.trigger:
        return f'at {config.rate_hz:g} Hz'
    return (f'on each message of {", ".join(config.trigger)} (else every '
            f'{config.max_period:g} s)')


def run_node(args, stop_event, file_warnings=None, stopper=None, *, node_class=None,
             **node_options):
    """
    `process.run` body: configure, tick until `stop_event`, stop cleanly. Return exit code.

    `node_options` go to the node. `node_class` is `ArenaEvalNode` by default; a managed one
    (`arena_eval.ros.lifecycle`) is not started here: it starts unconfigured and its
    transitions come through the lifecycle services.
    """
    node_class = node_class or ArenaEvalNode
    # process.run's handlers only set stop_event; ours also interrupt configuring at once.
    stopper = stopper or Stopper()
    if node_class.MANAGED:
        node_options['stopper'] = stopper  # a signal interrupts its configure too
    stopper.stop_event = stop_event
    stopper.configuring = True
    stopper.install()
    node = None
    executor = None
    try:
        if stop_event.is_set() or stopper.requested:
            return 0
        try:
            node = node_class(file_warnings=file_warnings, **node_options)
        except StartupError as exc:
            for line in exc.lines:
                print(line, file=sys.stderr)
            return 2
        if stopper.requested:
            return 0
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        if not node.MANAGED:
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
