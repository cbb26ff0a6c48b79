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
Process benchmarks: the node's CPU and timing next to a naive rclpy node, and the soak test.

`bench --node SECONDS` runs the simulator, then one subject at a time for SECONDS after a warm-up:
the node (its loop thread), `naive_node` (executor timer + Python `eval`), and the C floor
(`cfloor.c`: only the transport work of a tick, in C on the installed rcl, compiled for the run
into a temporary directory; left out with a note where it cannot be built). For each it
measures, in the same run:

- CPU % of one core: psutil `cpu_times()` (user + system) delta over the window / wall time;
- results/s and the gaps between results messages as the benchmark's own subscriber receives
  them (p50/p99/max, so delivery jitter included), counted on a raw subscription;
- from the subject's `/diagnostics`: loop time mean/p99, period jitter p99, overrun growth.

`bench --soak MINUTES` runs simulator + node, samples the node's RSS and diagnostics every few
seconds, prints a table as it goes and a verdict: no kernel allocation and less than 1 MiB RSS
growth after the warm-up (the first 20% of the run or 30 s, whichever is shorter), the node
ticking throughout. Exit code 1 when the verdict fails.

`Watcher` (the harness's own rclpy node) and `Child` (a process with its output in a temporary
log) are shared with `demo`. Every process started here is stopped (SIGINT, wait, SIGKILL) even
on Ctrl-C.
"""

import math
import os
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import yaml

from . import procs
from .bench import load_average
from ..params.config import default_params_file, NODE_NAME

RESULTS_TOPIC = '/arena_eval/results'
DIAGNOSTICS_TOPIC = '/diagnostics'
STARTUP_TIMEOUT = 60.0  # a first run may compile the kernel (cached afterwards)
TARGET_CPU = 5.0
TARGET_FLOOR_RATIO = 1.2
SEED_CPU = 10.2
RSS_LIMIT = 1 << 20
_ARRIVALS = 1 << 17  # results arrival ring: 131 s at 1 kHz


def _float(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


class Child:
    """
    A module run as a process with stdout and stderr in an anonymous temporary file.

    With `module` None, `args` is the whole command (an executable and its arguments).
    """

    def __init__(self, label, module, args, env):
        self.label = label
        self._log = tempfile.TemporaryFile()
        if module is None:
            self.proc = subprocess.Popen([str(a) for a in args], env=env, stdout=self._log,
                                         stderr=subprocess.STDOUT)
        else:
            self.proc = procs.start(module, args, env, stdout=self._log,
                                    stderr=subprocess.STDOUT)
        self.returncode = None

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self, interrupted=False):
        """
        Stop the process (SIGINT, wait, SIGKILL) and return its exit code.

        With `interrupted` (a Ctrl-C reached the whole process group, so the child has its own
        SIGINT already) wait for it to exit first: a second SIGINT during its shutdown is noise.
        """
        if self.returncode is None:
            if interrupted:
                try:
                    self.proc.wait(timeout=3.0)
                except subprocess.TimeoutExpired:
                    pass
            self.returncode = procs.stop(self.proc, timeout=5.0)
        return self.returncode

    def tail(self, lines=15):
        """Return the last lines the process printed."""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode(errors='replace').rstrip().splitlines()
        return '\n'.join('    ' + line for line in text[-lines:])

    def close(self):
        self.stop()
        self._log.close()


class Watcher:
    """
    The harness's own rclpy node, spun in a background thread.

    Counts results messages (raw, so no message is built, unless `values` is set) with their
    arrival times, and keeps the latest `/diagnostics` status of every name as a dict.
    """

    def __init__(self, node_name, results_topic=RESULTS_TOPIC, values=False):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
        from std_msgs.msg import Float64MultiArray

        self.node = rclpy.create_node(node_name)
        # Everything below is written by the spin thread and read by the caller under _lock.
        self._lock = threading.Lock()
        self.count = 0
        self._arrivals = np.zeros(_ARRIVALS, np.int64)
        self.values = None
        self.labels = ()
        # Per output, the lowest and highest value since the last `take_ranges()`.
        self._low = self._high = None
        self.statuses = {}
        # Best effort matches reliable and best-effort publishers alike.
        self.node.create_subscription(Float64MultiArray, results_topic, self._on_result,
                                      qos_profile_sensor_data, raw=not values)
        self.node.create_subscription(DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diagnostics,
                                      QoSProfile(depth=20,
                                                 reliability=ReliabilityPolicy.BEST_EFFORT))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name='watcher', daemon=True)
        self._thread.start()

    def _spin(self):
        import rclpy
        try:
            # Measured here: ~5% of a core for a 1 kHz raw subscription, against ~25% for the
            # SingleThreadedExecutor. Its spin() without a timeout ignores signals: never use it.
            from rclpy.experimental import EventsExecutor
            executor = EventsExecutor()
            never = rclpy.task.Future()

            def spin_some():
                executor.spin_until_future_complete(never, timeout_sec=0.1)
        except ImportError:
            from rclpy.executors import SingleThreadedExecutor
            executor = SingleThreadedExecutor()

            def spin_some():
                executor.spin_once(timeout_sec=0.1)
        executor.add_node(self.node)
        try:
            while not self._stop.is_set() and self.node.context.ok():
                spin_some()
        except Exception:  # noqa: BLE001 - shutdown races end the thread, never the harness
            pass
        finally:
            executor.shutdown(timeout_sec=0.5)

    def _on_result(self, msg):
        now = time.monotonic_ns()
        with self._lock:
            self._arrivals[self.count % _ARRIVALS] = now
            self.count += 1
            if not isinstance(msg, bytes):
                self.values = tuple(msg.data)
                data = np.asarray(msg.data, dtype=np.float64)
                if self._low is None or len(self._low) != len(data):
                    self._low, self._high = data.copy(), data.copy()
                else:
                    np.fmin(self._low, data, out=self._low)
                    np.fmax(self._high, data, out=self._high)
                if not self.labels and msg.layout.dim:
                    # The node labels its one dimension with the comma-joined output names.
                    labels = tuple(msg.layout.dim[0].label.split(','))
                    if len(labels) == len(msg.data):
                        self.labels = labels

    def _on_diagnostics(self, msg):
        now = time.monotonic()
        with self._lock:
            for status in msg.status:
                self.statuses[status.name] = {
                    'received': now, 'level': status.level[0] if status.level else 0,
                    'message': status.message, **{kv.key: kv.value for kv in status.values}}

    def take_ranges(self):
        """Return (lowest, highest) of each output since the last call (or None), and reset."""
        with self._lock:
            ranges = (None if self._low is None
                      else (tuple(self._low.tolist()), tuple(self._high.tolist())))
            self._low = self._high = None
        return ranges

    def status(self, name):
        """Return the latest status called `name` as a dict (values as text), or None."""
        with self._lock:
            return dict(self.statuses[name]) if name in self.statuses else None

    def statuses_named(self, prefix):
        """Return {name: values dict} of the latest statuses whose name starts with `prefix`."""
        with self._lock:
            return {n: dict(v) for n, v in self.statuses.items() if n.startswith(prefix)}

    def wait_results(self, count, timeout, stop_event, children=()):
        """Wait until `count` results arrived; False on timeout, stop or a child's exit."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stop_event.is_set():
            if self.count >= count:
                return True
            if any(not c.alive() for c in children):
                return False
            stop_event.wait(0.05)
        return self.count >= count

    def gaps_us(self, since_count):
        """Return the gaps (us) between the results received after result `since_count`."""
        with self._lock:
            end = self.count
        start = max(since_count, end - _ARRIVALS)
        if end - start < 2:
            return np.zeros(0)
        idx = np.arange(start, end) % _ARRIVALS
        return np.diff(self._arrivals[idx]) / 1e3

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.node.destroy_node()


def ros_environment():
    """
    Pick the run's ROS environment and apply it to this process too (for its own node).

    Call it before `rclpy.init`: the context reads ROS_DOMAIN_ID when it is created.
    """
    env = procs.ros_env()
    os.environ['ROS_DOMAIN_ID'] = env['ROS_DOMAIN_ID']
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = env['ROS_AUTOMATIC_DISCOVERY_RANGE']
    return env


def cpu_seconds(pid):
    """User + system CPU seconds of a process, or nan once it is gone."""
    import psutil

    try:
        t = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return math.nan
    return t.user + t.system


def _percentiles(gaps):
    if not len(gaps):
        return math.nan, math.nan, math.nan
    p50, p99 = np.percentile(gaps, [50, 99])
    return float(p50), float(p99), float(gaps.max())


def _fmt(value, spec='%.1f'):
    return '-' if value is None or (isinstance(value, float) and math.isnan(value)) else (
        spec % value)


# --- bench --node ------------------------------------------------------------------------------

CFLOOR_LABEL = 'C floor (cfloor.c on rcl)'
NODE_LABEL = 'arena_eval node'
RATES = (2000.0, 5000.0, 10000.0)
# `bench --node --program NAME`: the params file plus these expressions (the one-tick issue's
# programs: message time, the safety idiom, joints by name).
PROGRAMS = {
    'default': (),
    'msgtime': ('imu_ok = fresh(imu)', 'imu_age_ms = 1000 * age(imu)',
                'q2_msg_rate = ddt_msg(joints.position[2])'),
    'estop': ('unsafe = tilt_deg > 30 or not fresh(imu)',),
    'names': ("p_j1 = joints.effort['j1'] * joints.velocity['j1']",),
}


def program_params_file(params_file, program, directory):
    """Write `params_file` plus the expressions of `program` (PROGRAMS) under `directory`."""
    extra = PROGRAMS[program]
    if not extra:
        return params_file
    with open(params_file) as f:
        document = yaml.safe_load(f)
    for section in document.values():
        params = section.get('ros__parameters', {})
        if 'expressions' in params:
            params['expressions'] = list(params['expressions']) + list(extra)
    path = os.path.join(directory, f'{program}.yaml')
    with open(path, 'w') as f:
        yaml.dump(document, f, Dumper=_QuotedStrings, sort_keys=False, width=1000)
    return path


def _quoted(dumper, text):
    # Strings stay strings ('nan' is a stale policy, not a double) as rcl reads the file.
    return dumper.represent_scalar('tag:yaml.org,2002:str', text, style="'")


class _QuotedStrings(yaml.SafeDumper):
    pass


_QuotedStrings.add_representer(str, _quoted)


def subjects(params_file, cfloor=None):
    """
    (label, module, args, diagnostics status name, extra environment) of every subject.

    `cfloor`: the path of the built C floor, measured first when given (it has no diagnostics).
    """
    node_args = ['--ros-args', '--params-file', params_file]
    first = [(CFLOOR_LABEL, None, [cfloor, '1000'], None, {})] if cfloor else []
    return first + [
        (NODE_LABEL, 'arena_eval.ros.node', node_args, '/' + NODE_NAME + ': loop', {}),
        ('naive rclpy node (timer + eval)', 'arena_eval.tools.naive_node', [params_file],
         'arena_eval_naive: loop', {}),
    ]


def _measure(subject, sim, watcher, env, seconds, warmup, stop_event, say):
    label, module, args, status_name, extra_env = subject
    row = {'label': label}
    child = Child(label, module, args, dict(env, **extra_env))
    try:
        start_count = watcher.count
        if not watcher.wait_results(start_count + 100, STARTUP_TIMEOUT, stop_event,
                                    (child, sim)):
            if not stop_event.is_set():
                say('%s: no results within %.0f s; its output:\n%s'
                    % (label, STARTUP_TIMEOUT, child.tail()))
            row['failed'] = True
            return row
        stop_event.wait(warmup)
        diag0 = watcher.status(status_name) or {}
        count0 = watcher.count
        cpu0, sim0, t0 = cpu_seconds(child.pid), cpu_seconds(sim.pid), time.monotonic()
        stop_event.wait(seconds)
        cpu1, sim1, t1 = cpu_seconds(child.pid), cpu_seconds(sim.pid), time.monotonic()
        count1 = watcher.count
        if not child.alive() or stop_event.is_set():
            row['failed'] = True
            if not stop_event.is_set():
                say('%s exited during the run; its output:\n%s' % (label, child.tail()))
            return row
        # Let the diagnostics report that covers the end of the window arrive.
        stop_event.wait(1.2)
        diag1 = watcher.status(status_name) or {}
        wall = t1 - t0
        row.update(
            cpu=100.0 * (cpu1 - cpu0) / wall, sim_cpu=100.0 * (sim1 - sim0) / wall,
            rate=(count1 - count0) / wall, gaps=_percentiles(watcher.gaps_us(count0)),
            loop_mean=_float(diag1.get('Loop time mean (us)')),
            loop_p99=_float(diag1.get('Loop time p99 (us)')),
            jitter_p99=_float(diag1.get('Period jitter p99 (us)')),
            actual_hz=_float(diag1.get('Actual frequency (Hz)')),
            overruns=_float(diag1.get('Overruns')) - _float(diag0.get('Overruns')),
            allocations=(_float(diag1.get('Kernel allocations'))
                         - _float(diag0.get('Kernel allocations'))),
            ticks=_float(diag1.get('Ticks')) - _float(diag0.get('Ticks')),
            tick=diag1.get('Tick'), **_tick_counts(diag0, diag1))
        return row
    finally:
        rc = child.stop(stop_event.is_set())
        if rc not in (0, None) and not row.get('failed') and not stop_event.is_set():
            say('%s exited with code %s on SIGINT; its output:\n%s' % (label, rc, child.tail()))
            row['failed'] = True
        child.close()


def _tick_counts(diag0, diag1):
    """Ticks per second and % of ticks missed between two loop statuses (nan without)."""
    span = _float(diag1.get('received')) - _float(diag0.get('received'))
    ticks = _float(diag1.get('Ticks')) - _float(diag0.get('Ticks'))
    target = _float(diag1.get('Target frequency (Hz)'))
    if not span > 0 or math.isnan(ticks):
        return {'ticks_per_s': math.nan, 'missed': math.nan}
    per_s = ticks / span
    return {'ticks_per_s': per_s, 'missed': max(0.0, 100.0 * (1.0 - per_s / target))}


def _node_bench(env, seconds, params_file, stop_event, say, rounds=1, program='default'):
    params_file = os.path.abspath(params_file or default_params_file())
    build_dir = tempfile.TemporaryDirectory(prefix='arena_eval_cfloor_')
    params_file = program_params_file(params_file, program, build_dir.name)
    warmup = min(3.0, max(1.0, seconds / 4))
    say('node benchmark: %g s per subject after %g s of warm-up, %d interleaved round%s, '
        'params %s, program %s %s, ROS_DOMAIN_ID %s'
        % (seconds, warmup, rounds, 's' if rounds > 1 else '', os.path.relpath(params_file),
           program, list(PROGRAMS[program]), env['ROS_DOMAIN_ID']))
    say('each subject runs alone beside the simulator; CPU is %% of one core (user + system); '
        '%d CPUs, %s at the start' % (os.cpu_count() or 0, load_average()))
    cfloor_exe = _build_cfloor(build_dir.name, say)
    say()
    todo = subjects(params_file, cfloor_exe)
    runs = _run_subjects(env, todo, rounds, seconds, warmup, stop_event, say)
    build_dir.cleanup()
    if runs is None:
        return 1
    measured, sim_rc = runs
    rows = [_median_row(measured[s[0]]) for s in todo if measured[s[0]]]
    _node_table(rows, say)
    say('load average at the end: %s' % load_average())
    if stop_event.is_set():
        say('interrupted: the table shows the subjects measured before it')
        return 130
    ok = (all(len(measured[s[0]]) == rounds for s in todo)
          and not any(r.get('failed') for r in rows) and sim_rc == 0)
    return 0 if ok else 1


def _run_subjects(env, todo, rounds, seconds, warmup, stop_event, say):
    """Measure every subject `rounds` times, interleaved; return ({label: rows}, sim code)."""
    watcher = Watcher('arena_eval_bench_%d' % os.getpid())
    sim = Child('simulator', 'arena_eval.ros.sim', [], env)
    measured = {s[0]: [] for s in todo}
    try:
        for _ in range(rounds):
            for subject in todo:
                if stop_event.is_set():
                    break
                if not sim.alive():
                    say('the simulator exited; its output:\n%s' % sim.tail())
                    return None
                row = _measure(subject, sim, watcher, env, seconds, warmup, stop_event, say)
                if stop_event.is_set():
                    break  # an interrupted measurement is no measurement
                measured[subject[0]].append(row)
                stop_event.wait(0.5)
    finally:
        sim_rc = sim.stop(stop_event.is_set())
        sim.close()
        watcher.close()
    return measured, sim_rc


def _median_row(rows):
    """Return the round with the median CPU, every round's CPU in `cpus` (a failure wins)."""
    failed = [r for r in rows if r.get('failed')]
    if failed:
        return failed[0]
    ordered = sorted(rows, key=lambda r: r['cpu'])
    row = dict(ordered[(len(ordered) - 1) // 2])
    row['cpus'] = [r['cpu'] for r in rows]
    return row


def _build_cfloor(directory, say):
    """Build the C floor into `directory`; return its path, or None with a note said."""
    from . import cfloor

    try:
        exe = cfloor.build(directory)
    except cfloor.Unavailable as exc:
        say('C floor: not measured: %s' % exc)
        return None
    say('C floor: %s compiled with %s' % (os.path.basename(str(cfloor.SOURCE)),
                                          os.path.basename(cfloor.compiler())))
    return exe


def _node_table(rows, say):
    head = ('%-36s %6s %9s %23s %17s %10s %8s  %s'
            % ('subject', 'CPU %', 'results/s', 'rx gap p50/p99/max us', 'loop mean/p99 us',
               'jitter p99', 'overruns', 'tick'))
    say(head)
    say('-' * len(head))
    for r in rows:
        if r.get('failed'):
            say('%-36s %s' % (r['label'], 'FAILED'))
            continue
        gaps = '%s/%s/%s' % tuple(_fmt(g, '%.0f') for g in r['gaps'])
        loop = '%s/%s' % (_fmt(r['loop_mean']), _fmt(r['loop_p99']))
        say('%-36s %6.1f %9.1f %23s %17s %10s %8s  %s'
            % (r['label'], r['cpu'], r['rate'], gaps, loop, _fmt(r['jitter_p99'], '%.0f'),
               _fmt(r['overruns'], '%.0f'), r.get('tick') or '-'))
    done = [r for r in rows if not r.get('failed')]
    if done:
        say('%-36s %s' % ('simulator (during each run)',
                          ' / '.join('%.1f' % r['sim_cpu'] for r in done)))
        if len(done[0].get('cpus', ())) > 1:
            say('CPU % of every round (the table shows the median round):')
            for r in done:
                say('  %-34s %s' % (r['label'], ' / '.join('%.1f' % c for c in r['cpus'])))
    say()
    by_label = {r['label']: r for r in done}
    node = by_label.get(NODE_LABEL)
    if node is None:
        return
    floor = by_label.get(CFLOOR_LABEL)
    if floor is not None:
        for r in done:
            if r is not floor:
                say('%s uses %.2fx the CPU of the C floor'
                    % (r['label'], r['cpu'] / max(floor['cpu'], 1e-9)))
        ratio = node['cpu'] / max(floor['cpu'], 1e-9)
        say('target: node <= %.1fx the C floor at 1 kHz: %.2fx %s'
            % (TARGET_FLOOR_RATIO, ratio, 'PASS' if ratio <= TARGET_FLOOR_RATIO else 'MISS'))
    for r in done:
        if r is not node and r is not floor:
            say('%s uses %.1fx the CPU of the node'
                % (r['label'], r['cpu'] / max(node['cpu'], 1e-9)))
    say('target: node <= %.0f%% of one core at 1 kHz: %.1f%% %s (seed design: %.1f%%)'
        % (TARGET_CPU, node['cpu'], 'PASS' if node['cpu'] <= TARGET_CPU else 'MISS',
           SEED_CPU))
    allocations = node.get('allocations', math.nan)
    say('target: 0 kernel (NRT) allocations per tick: %s over %s ticks %s'
        % (_fmt(allocations, '%.0f'), _fmt(node.get('ticks', math.nan), '%.0f'),
           'PASS' if allocations == 0 else 'MISS'))


def node_bench(seconds, params_file=None, out=None, rounds=1, program='default'):
    """Run `bench --node SECONDS [--rounds N] [--program NAME]`; return the exit code."""
    from ..ros.process import run

    say = _sayer(out)
    if not seconds > 0 or rounds < 1:
        say('error: --node SECONDS must be positive and --rounds at least 1')
        return 2
    if program not in PROGRAMS:
        say(f"error: --program {program}: not one of {', '.join(PROGRAMS)}")
        return 2
    env = ros_environment()  # before rclpy.init: the context reads ROS_DOMAIN_ID once
    return run(lambda args, stop: _node_bench(env, seconds, params_file, stop, say, rounds,
                                              program), ['arena_eval'])


# --- bench --rates -----------------------------------------------------------------------------

def rate_subjects(params_file, cfloor=None, rates=RATES):
    """Return the node (and C floor) subjects at each of `rates`, beside the simulator."""
    node_args = ['--ros-args', '--params-file', params_file]
    todo = []
    for rate in rates:
        if cfloor:
            todo.append(('C floor at %g Hz' % rate, None, [cfloor, '%g' % rate], None, {}))
        todo.append(('node at %g Hz' % rate, 'arena_eval.ros.node',
                     node_args + ['-p', 'rate_hz:=%r' % float(rate)],
                     '/' + NODE_NAME + ': loop', {}))
    return todo


def _rates_bench(env, seconds, params_file, stop_event, say):
    params_file = os.path.abspath(params_file or default_params_file())
    warmup = min(3.0, max(1.0, seconds / 4))
    say('rate benchmark: the node asked for %s Hz beside the 1 kHz simulator, %g s each after '
        '%g s of warm-up; %d CPUs, %s at the start'
        % (', '.join('%g' % r for r in RATES), seconds, warmup, os.cpu_count() or 0,
           load_average()))
    build_dir = tempfile.TemporaryDirectory(prefix='arena_eval_cfloor_')
    cfloor_exe = _build_cfloor(build_dir.name, say)
    say()
    todo = rate_subjects(params_file, cfloor_exe)
    runs = _run_subjects(env, todo, 1, seconds, warmup, stop_event, say)
    build_dir.cleanup()
    if runs is None:
        return 1
    measured, sim_rc = runs
    head = '%-22s %6s %10s %9s %9s %9s  %s' % ('subject', 'CPU %', 'results/s', 'ticks/s',
                                               'missed %', 'overruns', 'tick')
    say(head)
    say('-' * len(head))
    failed = False
    for label, *_ in todo:
        rows = measured[label]
        if not rows or rows[0].get('failed'):
            say('%-22s FAILED' % label)
            failed = True
            continue
        r = rows[0]
        say('%-22s %6.1f %10.1f %9s %9s %9s  %s'
            % (label, r['cpu'], r['rate'], _fmt(r['ticks_per_s'], '%.1f'),
               _fmt(r['missed'], '%.2f'), _fmt(r['overruns'], '%.0f'), r.get('tick') or '-'))
    say()
    say('missed %: ticks the node did not run, from its own tick count over the window; '
        'results/s: what the subscriber of the benchmark received')
    say('load average at the end: %s' % load_average())
    if stop_event.is_set():
        return 130
    return 0 if not failed and sim_rc == 0 else 1


def rates_bench(seconds, params_file=None, out=None):
    """Run `bench --rates SECONDS`; return the exit code."""
    from ..ros.process import run

    say = _sayer(out)
    if not seconds > 0:
        say('error: --rates SECONDS must be positive')
        return 2
    env = ros_environment()
    return run(lambda args, stop: _rates_bench(env, seconds, params_file, stop, say),
               ['arena_eval'])


# --- bench --startup ---------------------------------------------------------------------------

def _first_result_s(env, params_file, watcher, stop_event, say):
    """Start the node; return (seconds from start to its first result, its tick), or None."""
    child = Child('node', 'arena_eval.ros.node', ['--ros-args', '--params-file', params_file],
                  env)
    try:
        count, start = watcher.count, time.monotonic()
        while watcher.count == count:
            if stop_event.wait(0.002) or not child.alive() or (
                    time.monotonic() - start > STARTUP_TIMEOUT * 3):
                say('no result from the node; its output:\n%s' % child.tail())
                return None
        elapsed = time.monotonic() - start
        status = None
        end = time.monotonic() + 5.0
        while status is None and time.monotonic() < end and not stop_event.wait(0.05):
            status = (watcher.status('/' + NODE_NAME + ': loop') or {}).get('Tick')
        return elapsed, status
    finally:
        child.stop(stop_event.is_set())
        child.close()


def _startup_bench(env, rounds, params_file, stop_event, say):
    params_file = os.path.abspath(params_file or default_params_file())
    say('startup: process start to the first result on ~/results, params %s; %d CPUs, %s'
        % (os.path.relpath(params_file), os.cpu_count() or 0, load_average()))
    watcher = Watcher('arena_eval_startup_%d' % os.getpid())
    cache = tempfile.TemporaryDirectory(prefix='arena_eval_numba_cache_')
    try:
        # An empty numba cache: everything compiles (kernel, fastcall entry, compiled tick).
        cold = _first_result_s(dict(env, NUMBA_CACHE_DIR=cache.name), params_file, watcher,
                               stop_event, say)
        warm = []
        for _ in range(rounds):
            if stop_event.is_set():
                break
            got = _first_result_s(dict(env, NUMBA_CACHE_DIR=cache.name), params_file,
                                  watcher, stop_event, say)
            if got is not None:
                warm.append(got)
    finally:
        cache.cleanup()
        watcher.close()
    if stop_event.is_set():
        return 130
    if cold is None or len(warm) < rounds:
        return 1
    say('first start, empty numba cache: %.2f s (tick: %s)' % cold)
    say('cached starts: %s s, median %.2f s (tick: %s)'
        % (' / '.join('%.2f' % w[0] for w in warm), float(np.median([w[0] for w in warm])),
           warm[-1][1]))
    return 0


def startup_bench(rounds=3, params_file=None, out=None):
    """Run `bench --startup ROUNDS`; return the exit code."""
    from ..ros.process import run

    say = _sayer(out)
    if rounds < 1:
        say('error: --startup ROUNDS must be at least 1')
        return 2
    env = ros_environment()
    return run(lambda args, stop: _startup_bench(env, rounds, params_file, stop, say),
               ['arena_eval'])


def _sayer(out):
    def say(text=''):
        print(text, file=out or sys.stdout, flush=True)
    return say


# --- bench --soak ------------------------------------------------------------------------------

def _soak(env, minutes, params_file, stop_event, say):
    import psutil

    env['NUMBA_NRT_STATS'] = '1'  # the node counts kernel allocations only with NRT statistics
    params_file = os.path.abspath(params_file or default_params_file())
    total = minutes * 60.0
    warmup = min(0.2 * total, 30.0)
    interval = min(30.0, max(2.0, total / 20))
    say('soak: simulator + node for %g s (warm-up %g s), a sample every %g s, ROS_DOMAIN_ID %s'
        % (total, warmup, interval, env['ROS_DOMAIN_ID']))
    watcher = Watcher('arena_eval_soak_%d' % os.getpid())
    sim = Child('simulator', 'arena_eval.ros.sim', [], env)
    node = Child('node', 'arena_eval.ros.node', ['--ros-args', '--params-file', params_file], env)
    samples = []
    problems = []
    try:
        if not watcher.wait_results(10, STARTUP_TIMEOUT, stop_event, (sim, node)):
            if not stop_event.is_set():
                say('no results within %.0f s; node output:\n%s\nsimulator output:\n%s'
                    % (STARTUP_TIMEOUT, node.tail(), sim.tail()))
            return 130 if stop_event.is_set() else 1
        proc = psutil.Process(node.pid)
        head = ('%8s %9s %10s %8s %8s %10s %10s %12s' % (
            't s', 'RSS MiB', 'ticks', 'missed', 'overruns', 'kern alloc', 'heap blks',
            'loop p99 us'))
        say(head)
        say('-' * len(head))
        t0 = time.monotonic()
        next_at = t0
        first = None
        while True:
            now = time.monotonic()
            if now - t0 > total + 1e-6 or stop_event.is_set():
                break
            stop_event.wait(max(0.0, next_at - now))
            if stop_event.is_set() or not node.alive():
                break
            next_at += interval
            diag = watcher.status('/' + NODE_NAME + ': loop') or {}
            sample = {
                't': time.monotonic() - t0, 'rss': proc.memory_info().rss,
                'ticks': _float(diag.get('Ticks')),
                'hz': _float(diag.get('Target frequency (Hz)')),
                'stamp': diag.get('received', math.nan),
                'overruns': _float(diag.get('Overruns')),
                'kernel': _float(diag.get('Kernel allocations')),
                'heap': _float(diag.get('Heap blocks delta')),
                'p99': _float(diag.get('Loop time p99 (us)'))}
            if first is None and not math.isnan(sample['ticks']):
                first = sample
            missed = math.nan
            if first is not None:
                expected = (sample['stamp'] - first['stamp']) * sample['hz']
                missed = max(0.0, round(expected - (sample['ticks'] - first['ticks'])))
            sample['missed'] = missed
            samples.append(sample)
            say('%8.0f %9.2f %10s %8s %8s %10s %10s %12s'
                % (sample['t'], sample['rss'] / 2**20, _fmt(sample['ticks'], '%.0f'),
                   _fmt(missed, '%.0f'), _fmt(sample['overruns'], '%.0f'),
                   _fmt(sample['kernel'], '%.0f'), _fmt(sample['heap'], '%.0f'),
                   _fmt(sample['p99'])))
        if not node.alive():
            problems.append('the node exited during the soak:\n%s' % node.tail())
    finally:
        node_rc = node.stop(stop_event.is_set())
        sim.stop(stop_event.is_set())
        node.close()
        sim.close()
        watcher.close()
    if stop_event.is_set():
        say('interrupted')
        return 130
    return _soak_verdict(samples, warmup, node_rc, problems, say)


def _soak_verdict(samples, warmup, node_rc, problems, say):
    after = [s for s in samples if s['t'] >= warmup - 1e-6]
    say('')
    if len(after) < 2:
        problems.append('too few samples after the warm-up')
    else:
        base = after[0]
        growth = max(s['rss'] for s in after) - base['rss']
        say('RSS after warm-up: %.2f MiB -> %.2f MiB (largest growth %+.3f MiB, limit 1 MiB)'
            % (base['rss'] / 2**20, after[-1]['rss'] / 2**20, growth / 2**20))
        if growth >= RSS_LIMIT:
            problems.append('RSS grew by %.3f MiB after the warm-up' % (growth / 2**20))
        kernel = [s['kernel'] for s in after]
        if any(math.isnan(k) for k in kernel):
            problems.append('the node did not report its kernel allocations')
        else:
            say('kernel allocations: %.0f at the end of the warm-up, %.0f at the end'
                % (kernel[0], kernel[-1]))
            if kernel[-1] != 0 or kernel[0] != 0:
                problems.append('the kernel allocated (%.0f allocations)' % kernel[-1])
        ticks = [s['ticks'] for s in after]
        if any(math.isnan(t) for t in ticks) or ticks[-1] <= ticks[0]:
            problems.append('the node stopped ticking')
        else:
            say('ticks after warm-up: %.0f, missed about %s, overruns %s'
                % (ticks[-1] - ticks[0], _fmt(after[-1]['missed'] - after[0]['missed'], '%.0f'),
                   _fmt(after[-1]['overruns'] - after[0]['overruns'], '%.0f')))
    if node_rc not in (0, None):
        problems.append('the node exited with code %s on SIGINT' % node_rc)
    for p in problems:
        say('problem: %s' % p)
    say('verdict: %s' % ('PASS' if not problems else 'FAIL'))
    return 0 if not problems else 1


def soak(minutes, params_file=None, out=None):
    """Run `bench --soak MINUTES`; return the exit code."""
    from ..ros.process import run

    say = _sayer(out)
    if not minutes > 0:
        say('error: --soak MINUTES must be positive')
        return 2
    env = ros_environment()  # before rclpy.init: the context reads ROS_DOMAIN_ID once
    return run(lambda args, stop: _soak(env, minutes, params_file, stop, say), ['arena_eval'])
