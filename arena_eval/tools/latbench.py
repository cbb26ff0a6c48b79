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
The latency benchmark, `bench --latency SECONDS`: message sent -> the result reflecting it.

For each input rate (200 Hz and 1 kHz) and each subject of `SUBJECTS` in turn, alone on the
run's ROS domain: the subject is started, then `latprobe.c` (compiled for the run with the C
floor, `cfloor.build`) publishes `sensor_msgs/Imu` on /imu with its send time (CLOCK_MONOTONIC)
in the header stamp and receives /arena_eval/results, in C on rcl so the endpoints cost as little
as they can. Every subject evaluates the imu part of the default batch plus an output that
carries the stamp back (`sent = stamp(imu)` for the node and the naive peer; the C program's
`stamp` output); the first result with a new stamp is that message's result. Printed per
subject: p50 / p99 / max of send -> receive (us) over SECONDS after a warm-up, the share of the
messages sent in the window whose result arrived ("reflected"), and the CPU % of one core of the
subject and of the probe (publisher + subscriber) over the same window, read by the probe.

The subjects: the node periodic at 1 kHz, the node triggered (`trigger: 'imu'`: one evaluation
per message, the loop blocked in `rcl_wait`), the C program periodic, triggered by
`rcl_wait` and triggered by rcl's new-message callback (`cfloor.c --trigger imu --wake ...`), and
the naive rclpy node evaluating in its subscription callback (`naive_node.py --trigger imu`).
"""

import math
import os
import re
import tempfile

import numpy as np

from .bench import default_statements, load_average
from .procbench import _sayer, Child, ros_environment, STARTUP_TIMEOUT

RATES = (200.0, 1000.0)
# A first start may compile the kernel (cached afterwards), on a loaded machine slowly.
FIRST_RESULT_TIMEOUT = 3 * STARTUP_TIMEOUT
TRIGGER_TARGET = 1.15  # node triggered p50 <= 1.15x the triggered C program's
PROBE_LINE = re.compile(
    r'latprobe: window ([\d.]+) s, sent (\d+), timed (\d+), results (\d+), subject CPU '
    r'([-\d.naN]+)%, probe CPU ([-\d.naN]+)%')

NODE_PERIODIC = 'node, periodic 1 kHz'
NODE_TRIGGERED = 'node, triggered (trigger: imu)'
C_PERIODIC = 'C program, periodic 1 kHz'
C_WAIT = 'C program, triggered (rcl_wait)'
C_CALLBACK = 'C program, triggered (callback)'
NAIVE = 'naive rclpy node, per message'

# (label, how to start it, the output that carries the stamp). `how` names a module run with
# this Python, or 'cfloor' (the built C program); its arguments use {params} (the periodic
# params file), {triggered} (the same with `trigger: 'imu'`).
SUBJECTS = (
    (NODE_PERIODIC, 'arena_eval.ros.node', ['--ros-args', '--params-file', '{params}'],
     'sent'),
    (NODE_TRIGGERED, 'arena_eval.ros.node', ['--ros-args', '--params-file', '{triggered}'],
     'sent'),
    (C_PERIODIC, 'cfloor', ['1000'], 'stamp'),
    (C_WAIT, 'cfloor', ['--trigger', 'imu', '--wake', 'wait'], 'stamp'),
    (C_CALLBACK, 'cfloor', ['--trigger', 'imu', '--wake', 'callback'], 'stamp'),
    (NAIVE, 'arena_eval.tools.naive_node', ['{params}', '--trigger', 'imu'], 'sent'),
)


def latency_statements():
    """Return the imu part of the default batch, and `sent = stamp(imu)` carrying the stamp."""
    return [s for s in default_statements() if 'joints.' not in s] + ['sent = stamp(imu)']


def write_params(path, trigger=None):
    """Write the benchmark's params file (imu only, 1 kHz; `trigger: 'imu'` when asked)."""
    lines = ['/**:', '  ros__parameters:', '    rate_hz: 1000.0', "    stale_policy: 'nan'",
             '    inputs:',
             '      imu: {topic: /imu, type: sensor_msgs/msg/Imu, timeout: 0.05, '
             'qos: sensor_data, depth: 5}']
    if trigger:
        lines.append("    trigger: '%s'" % trigger)
    lines.append('    expressions:')
    lines += ['      - "%s"' % s for s in latency_statements()]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def _percentiles(lat):
    if not len(lat):
        return math.nan, math.nan, math.nan
    p50, p99 = np.percentile(lat, [50, 99])
    return float(p50), float(p99), float(lat.max())


def _measure(label, command, field, rate, probe, work, env, warmup, seconds, stop_event, say):
    """Run one subject beside the probe at `rate`; return its row (a dict)."""
    row = {'label': label, 'rate': rate}
    module, args = command
    child = Child(label, module, args, env)
    out = os.path.join(work, 'latencies.bin')
    if os.path.exists(out):
        os.remove(out)
    prober = Child('latprobe', None, [probe, '%g' % rate, '%g' % warmup, '%g' % seconds, out,
                                      '--field', field, '--cpu-of', child.pid,
                                      '--timeout', '%g' % FIRST_RESULT_TIMEOUT], env)
    try:
        while prober.alive() and child.alive():
            if stop_event.wait(0.1):
                return dict(row, failed='interrupted')
        if not child.alive():
            say('%s exited during the run; its output:\n%s' % (label, child.tail()))
            return dict(row, failed='exited')
        code = prober.stop()
        match = PROBE_LINE.search(prober.tail(50))
        if code != 0 or not match:
            say('%s at %g Hz: the probe failed (code %s); its output:\n%s\n%s output:\n%s'
                % (label, rate, code, prober.tail(), label, child.tail()))
            return dict(row, failed='probe')
        lat = np.fromfile(out, dtype=np.float64)
        sent, timed = int(match.group(2)), int(match.group(3))
        row.update(zip(('p50', 'p99', 'max'), _percentiles(lat), strict=True))
        row.update(sent=sent, timed=timed, reflected=100.0 * timed / max(sent, 1),
                   cpu=float(match.group(5)), probe_cpu=float(match.group(6)))
        return row
    finally:
        rc = child.stop(stop_event.is_set())
        if rc not in (0, None) and not row.get('failed') and not stop_event.is_set():
            say('%s exited with code %s on SIGINT; its output:\n%s' % (label, rc, child.tail()))
        child.close()
        prober.close()


def _fmt(value, spec):
    return '-' if value is None or math.isnan(value) else spec % value


def _table(rows, say):
    head = '%-34s %7s %8s %8s %9s %11s %6s %9s' % (
        'subject', 'rate Hz', 'p50 us', 'p99 us', 'max us', 'reflected %', 'CPU %',
        'probe CPU')
    say(head)
    say('-' * len(head))
    for r in rows:
        if 'unavailable' in r:
            say('%-34s %7g  not available: %s' % (r['label'], r['rate'], r['unavailable']))
        elif r.get('failed'):
            say('%-34s %7g  FAILED (%s)' % (r['label'], r['rate'], r['failed']))
        else:
            say('%-34s %7g %8s %8s %9s %11s %6s %9s' % (
                r['label'], r['rate'], _fmt(r['p50'], '%.0f'), _fmt(r['p99'], '%.0f'),
                _fmt(r['max'], '%.0f'), '%.1f' % r['reflected'], '%.1f' % r['cpu'],
                '%.1f' % r['probe_cpu']))
    say()
    done = {(r['label'], r['rate']): r for r in rows if 'p50' in r}
    for rate in RATES:
        base = done.get((C_WAIT, rate))
        if base is None:
            continue
        for label in (NODE_PERIODIC, NODE_TRIGGERED, C_PERIODIC, C_CALLBACK, NAIVE):
            r = done.get((label, rate))
            if r is not None:
                say('%g Hz: %s: p50 %.2fx, CPU %.2fx the C program triggered (rcl_wait)'
                    % (rate, label, r['p50'] / max(base['p50'], 1e-9),
                       r['cpu'] / max(base['cpu'], 1e-9)))
        node = done.get((NODE_TRIGGERED, rate))
        if node is not None:
            ratio = node['p50'] / max(base['p50'], 1e-9)
            say('target: %g Hz node triggered p50 <= %.2fx the triggered C program: %.2fx %s'
                % (rate, TRIGGER_TARGET, ratio, 'PASS' if ratio <= TRIGGER_TARGET else 'MISS'))


def _commands(exe, params, triggered):
    """{label: (module, args) or the reason it cannot run} for every subject."""
    commands = {}
    for label, how, args, _ in SUBJECTS:
        args = [a.format(params=params, triggered=triggered) for a in args]
        if how == 'cfloor':
            commands[label] = (None, [exe['cfloor']] + args) if exe.get('cfloor') else (
                exe['why'])
        else:
            commands[label] = (how, args)
    return commands


def _median_row(rows):
    """Return the round with the median p50 (a failure or an unavailable subject wins)."""
    bad = [r for r in rows if 'p50' not in r]
    if bad:
        return bad[0]
    return sorted(rows, key=lambda r: r['p50'])[(len(rows) - 1) // 2]


def _latency_bench(env, seconds, rounds, stop_event, say):
    from . import cfloor

    warmup = min(3.0, max(0.5, seconds / 3))
    say('latency benchmark: Imu at %s Hz -> the result reflecting each message, %g s per '
        'subject after %.1f s of warm-up, %d interleaved round%s; ROS_DOMAIN_ID %s, %d CPUs, %s '
        'at the start' % (' and '.join('%g' % r for r in RATES), seconds, warmup, rounds,
                          's' if rounds > 1 else '', env['ROS_DOMAIN_ID'], os.cpu_count() or 0,
                          load_average()))
    with tempfile.TemporaryDirectory(prefix='arena_eval_latency_') as work:
        try:
            probe = cfloor.build(work, cfloor.PROBE_SOURCE)
        except cfloor.Unavailable as exc:
            say('not measured: the probe (latprobe.c) is needed: %s' % exc)
            return 1
        exe = {}
        try:
            exe['cfloor'] = cfloor.build(work)
        except cfloor.Unavailable as exc:
            exe['why'] = str(exc)
        params = write_params(os.path.join(work, 'latency.yaml'))
        triggered = write_params(os.path.join(work, 'latency_triggered.yaml'), trigger='imu')
        commands = _commands(exe, params, triggered)
        say('endpoints: latprobe.c (C on rcl: a publisher thread, a subscriber blocked in '
            'rcl_wait); its CPU is the "probe CPU" column')
        say()
        measured = {}
        for _ in range(rounds):
            for rate in RATES:
                for label, _, _, field in SUBJECTS:
                    if stop_event.is_set():
                        break
                    command = commands[label]
                    if isinstance(command, str):
                        row = {'label': label, 'rate': rate, 'unavailable': command}
                    else:
                        row = _measure(label, command, field, rate, probe, work, env, warmup,
                                       seconds, stop_event, say)
                    measured.setdefault((label, rate), []).append(row)
    rows = [_median_row(r) for r in measured.values()]
    _table(rows, say)
    if rounds > 1:
        say('p50 us / CPU % of every round (the table shows the round of median p50):')
        for (label, rate), got in measured.items():
            if all('p50' in r for r in got):
                say('  %-34s %5g Hz  %s' % (label, rate, '  '.join(
                    '%.0f/%.1f' % (r['p50'], r['cpu']) for r in got)))
    say('reflected %: messages sent in the window whose result came back (a periodic subject '
        'skips a message superseded before its tick)')
    say('load average at the end: %s' % load_average())
    if stop_event.is_set():
        return 130
    return 1 if any(r.get('failed') for r in rows) else 0


def latency_bench(seconds, out=None, rounds=1):
    """Run `bench --latency SECONDS [--rounds N]`; return the exit code."""
    from ..ros.process import run

    say = _sayer(out)
    if not seconds > 0 or rounds < 1:
        say('error: --latency SECONDS must be positive and --rounds at least 1')
        return 2
    env = ros_environment()
    return run(lambda args, stop: _latency_bench(env, seconds, rounds, stop, say), ['arena_eval'])
