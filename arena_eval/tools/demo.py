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
The demo (`python -m arena_eval demo [--seconds N]`, `make demo`): simulator + node, live figures.

Starts the simulator and the node (default config) as two processes, listens to
`/arena_eval/results` and `/diagnostics` with its own rclpy node, and shows the actual frequency,
loop time mean/p99, overruns and a few results by name, each as its range (min..max) since the
previous refresh, on one refreshing line (a line per second when stdout is not a terminal).
After N seconds, or on Ctrl-C, it stops both processes (SIGINT, wait, SIGKILL) and prints a
summary table. It uses a random ROS_DOMAIN_ID unless one is set.
Exit code 0 when results arrived and both processes stopped cleanly, else 1.
"""

import math
import os
import sys
import time

from .procbench import Child, ros_environment, STARTUP_TIMEOUT
from .procbench import Watcher
from ..params.config import default_params_file, NODE_NAME

# Results shown on the live line, when the batch has them (else its first outputs).
SHOWN = ('accel_norm', 'tilt_deg', 'yaw_rate_f')
# Status names carry the node's fully qualified name.
STATUS = '/' + NODE_NAME + ': loop'
TYPED_STATUS = '/' + NODE_NAME + ': output '


def output_names(params_file):
    """Return the output names of a params file's batch, in statement order."""
    from ..params.config import load_params_file

    config, errors, _ = load_params_file(params_file)
    if errors or config is None:
        return ()
    return tuple(text.split('=', 1)[0].strip() for text in config.expressions)


def _value(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _int(text):
    x = _value(text)
    return '-' if math.isnan(x) else '%.0f' % x


def _num(x):
    return '%.4g' % x if isinstance(x, float) else str(x)


class _Live:
    """Figures since the last refresh, formatted as one line."""

    def __init__(self, watcher, names):
        self.watcher = watcher
        self.names = names
        self.last_count = watcher.count
        self.last_t = time.monotonic()

    def line(self, elapsed):
        now, count = time.monotonic(), self.watcher.count
        hz = (count - self.last_count) / max(now - self.last_t, 1e-9)
        self.last_count, self.last_t = count, now
        diag = self.watcher.status(STATUS) or {}
        values = self.watcher.values or ()
        ranges = self.watcher.take_ranges()
        names = self.watcher.labels or self.names
        shown = [n for n in SHOWN if n in names] or list(names[:3])
        # A 1 kHz signal sampled once a refresh looks frozen: show its range since then.
        if ranges is not None:
            low, high = ranges
            pairs = ['%s %s..%s' % (n, _num(low[names.index(n)]), _num(high[names.index(n)]))
                     for n in shown if names.index(n) < len(low)]
        else:
            pairs = ['%s %s' % (n, _num(values[names.index(n)]))
                     for n in shown if names.index(n) < len(values)]
        return ('%4.1fs | %6.1f Hz | loop %s/%s us | overruns %s | %s'
                % (elapsed, hz, _int(diag.get('Loop time mean (us)')),
                   _int(diag.get('Loop time p99 (us)')), diag.get('Overruns', '-'),
                   '  '.join(pairs)))


def _demo(env, seconds, params_file, stop_event, out):
    tty = out.isatty()

    def say(text=''):
        print(text, file=out, flush=True)

    params_file = os.path.abspath(params_file or default_params_file())
    names = output_names(params_file)
    say('arena_eval demo: simulator + node (%s), ROS_DOMAIN_ID %s, %g s; Ctrl-C stops'
        % (os.path.relpath(params_file), env['ROS_DOMAIN_ID'], seconds))
    watcher = Watcher('arena_eval_demo_%d' % os.getpid(), values=True)
    sim = Child('simulator', 'arena_eval.ros.sim', [], env)
    node = Child('node', 'arena_eval.ros.node', ['--ros-args', '--params-file', params_file], env)
    started = ran = None
    count0 = 0
    try:
        if not watcher.wait_results(1, STARTUP_TIMEOUT, stop_event, (sim, node)):
            if stop_event.is_set():
                say('interrupted before the first results')
                return 130
            say('no results within %.0f s.\nnode output:\n%s\nsimulator output:\n%s'
                % (STARTUP_TIMEOUT, node.tail(), sim.tail()))
            return 1
        live = _Live(watcher, names)
        count0 = watcher.count
        started = time.monotonic()
        refresh = 0.25 if tty else 1.0
        width = 0
        while not stop_event.is_set():
            elapsed = time.monotonic() - started
            if elapsed >= seconds or not node.alive() or not sim.alive():
                break
            stop_event.wait(min(refresh, max(0.0, seconds - elapsed)))
            line = live.line(time.monotonic() - started)
            if tty:
                out.write('\r' + line.ljust(width))
                out.flush()
                width = len(line)
            else:
                say(line)
        if tty:
            out.write('\n')
        ran = time.monotonic() - started
    finally:
        node_rc = node.stop(stop_event.is_set())
        sim_rc = sim.stop(stop_event.is_set())
        received = watcher.count - count0
        diag = watcher.status(STATUS) or {}
        typed = watcher.statuses_named(TYPED_STATUS)
        values, labels = watcher.values, watcher.labels or names
        watcher.close()
        crashed = [c for c, rc in ((node, node_rc), (sim, sim_rc)) if rc not in (0, None)]
        for child in crashed:
            say('%s exited with code %s; its output:\n%s'
                % (child.label, child.returncode, child.tail()))
        node.close()
        sim.close()
    if ran is None:
        return 1
    _summary(ran, received, diag, values, labels, node_rc, sim_rc, say, typed)
    return 0 if received > 0 and not crashed else 1


def _summary(ran, received, diag, values, labels, node_rc, sim_rc, say, typed=None):
    rows = [
        ('ran', '%.1f s' % ran),
        ('results received', '%d (%.1f per second)' % (received, received / max(ran, 1e-9))),
        ('actual frequency', '%s Hz (node diagnostics)' % diag.get('Actual frequency (Hz)', '-')),
        ('loop time mean / p99 / max', '%s / %s / %s us' % (
            diag.get('Loop time mean (us)', '-'), diag.get('Loop time p99 (us)', '-'),
            diag.get('Loop time max (us)', '-'))),
        ('overruns', diag.get('Overruns', '-')),
        ('kernel allocations', diag.get('Kernel allocations', '-')),
        ('program', '%s expressions, %s ops'
         % (diag.get('Expressions', '-'), diag.get('Program ops', '-'))),
        ('processes', 'node exit %s, simulator exit %s' % (node_rc, sim_rc)),
    ]
    for name, output in sorted((typed or {}).items()):
        rows.append(('typed output ' + name[len(TYPED_STATUS):], '%s published on %s (%s)' % (
            output.get('Messages published', '-'), output.get('Topic', '-'),
            output.get('Type', '-'))))
    say()
    say('summary')
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        say('  %-*s  %s' % (width, key, value))
    if values:
        say('  last results:')
        width = max(len(n) for n in labels) if labels else 0
        for name, value in zip(labels, values, strict=False):
            say('    %-*s  %s' % (width, name, repr(value)))


def run(seconds=10.0, params_file=None, out=None):
    """Run the demo for `seconds`; return the exit code."""
    from ..ros.process import run as ros_run

    out = out or sys.stdout
    if not seconds > 0:
        print('error: --seconds must be positive', file=sys.stderr)
        return 2
    env = ros_environment()  # before rclpy.init: the context reads ROS_DOMAIN_ID once
    return ros_run(lambda args, stop: _demo(env, seconds, params_file, stop, out),
                   ['arena_eval'])
