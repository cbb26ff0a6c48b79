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
The naive peer of the node for `bench --node`: the same job done the plain rclpy way.

A 1 kHz executor timer, one subscription callback per input keeping the latest message, and each
expression compiled once to a Python code object and `eval`-ed over the message objects
themselves (`imu.linear_acceleration.x` is attribute access on the latest `Imu`; stateful
functions are closures, as in `baselines.PyEval`; `stamp(imu)` is the latest message's header
stamp in seconds, `ddt_msg` divides by the stamps' difference). With `--trigger INPUT` there is
no timer: the batch is evaluated and published in that input's subscription callback, once per
message (the per-message peer of `bench
--latency`). It publishes the same `Float64MultiArray` (its dimension labelled with the output
names, as the node labels it) on the same results topic and its loop statistics on
`/diagnostics` through the node's own `loop.LoopStats` and `diagnostics.DiagnosticsReport`, so
the benchmarks read both the same way. It reads the same params file as the node and is never
used outside benchmarks.

    python -m arena_eval.tools.naive_node config/default.yaml [--results-topic /arena_eval/results]
    python -m arena_eval.tools.naive_node config/default.yaml --trigger imu

An expression whose input has no message yet, or that raises (1/0), gives nan for that tick.
A tick counts as an overrun when the timer fired more than one period late (a missed tick).
"""

import argparse
import math
import sys
import time

NODE_NAME = 'arena_eval_naive'
DEFAULT_RESULTS_TOPIC = '/arena_eval/results'


class NaiveEvaluator:
    """Expressions as code objects `eval`-ed over the latest messages, by input name."""

    def __init__(self, statements, input_names):
        from .baselines import ParsedBatch, PY_STATEFUL, python_namespace, python_source

        front = ParsedBatch(statements)
        self.outputs = front.outputs
        roots = set(input_names)
        for path in front.inputs:
            root = path.split('.', 1)[0].split('[', 1)[0]
            if root not in roots:
                raise ValueError("input path '%s' has no configured input '%s'" % (path, root))
        names = {out: '_o%d' % k for k, out in enumerate(front.outputs)}
        ns = python_namespace()
        ns.update(dict.fromkeys(roots))
        ns.update(dict.fromkeys(names.values(), float('nan')))
        ns.update(dt=0.0, t=0.0, _stamp=_stamp)
        # ddt_msg's message dt per input: [stamp as of the last step, newest stamp, new since].
        self._times = {root: [None, None, False] for root in roots}
        ns['_mdt'] = self._mdt

        def ref(name):
            root, _, meta = name.partition('.@')
            if meta == 'stamp':
                return '_stamp(%s)' % root
            if meta == 'mdt':
                return "_mdt('%s')" % root
            if meta:
                raise ValueError('the naive node does not implement %s(%s)' % (meta, root))
            # Input paths are valid Python as they are: attribute access and indexing.
            return names.get(name, name)

        def stateful(call):
            site = '_s%d' % len(self._sites)
            self._sites.append(site)
            ns[site] = PY_STATEFUL[call.func]()
            return site

        self._sites = []
        self._codes = [(names[s.name], compile(python_source(s.expr, ref, stateful), s.name,
                                               'eval')) for s in front.statements]
        self._order = [names[out] for out in front.outputs]
        self._ns = ns

    def set_message(self, input_name, msg):
        self._ns[input_name] = msg
        times = self._times[input_name]
        times[1] = _stamp(msg) if hasattr(msg, 'header') else math.nan
        times[2] = True

    def _mdt(self, root):
        """Return 0 on a step without a new message of `root`, else its stamp difference."""
        last, newest, new = self._times[root]
        if not new:
            return 0.0
        return math.inf if last is None else newest - last

    def step(self, dt):
        """Evaluate every expression once; return the outputs as a list in output order."""
        ns = self._ns
        ns['dt'] = dt
        ns['t'] += dt
        for name, code in self._codes:
            try:
                ns[name] = float(eval(code, ns))  # noqa: S307 - our own generated source
            except Exception:  # noqa: BLE001 - no message yet, 1/0, ...: nan, like a stale input
                ns[name] = float('nan')
        for times in self._times.values():
            if times[2]:
                times[0], times[2] = times[1], False
        return [ns[name] for name in self._order]


def _stamp(msg):
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


def _build_node(config, results_topic, trigger=None):
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.node import Node
    from std_msgs.msg import Float64MultiArray, MultiArrayDimension

    from ..msgtypes.inputs import qos_profile
    from ..ros.diagnostics import DiagnosticsReport
    from ..rt.loop import LoopStats

    evaluator = NaiveEvaluator(list(config.expressions), list(config.inputs))
    if trigger is not None and trigger not in config.inputs:
        raise ValueError('--trigger %s: no such input (inputs: %s)'
                         % (trigger, ', '.join(config.inputs)))
    node = Node(NODE_NAME)
    results = node.create_publisher(Float64MultiArray, results_topic, 10)
    diag = node.create_publisher(DiagnosticArray, '/diagnostics', 10)
    period_ns = int(round(1e9 / config.rate_hz))
    stats = LoopStats()
    report = DiagnosticsReport(NODE_NAME)
    last = [0]
    msg = Float64MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=','.join(evaluator.outputs),
                                          size=len(evaluator.outputs),
                                          stride=len(evaluator.outputs))]

    def tick():
        start = time.monotonic_ns()
        gap = start - last[0] if last[0] else period_ns
        last[0] = start
        msg.data = evaluator.step(gap / 1e9)
        results.publish(msg)
        end = time.monotonic_ns()
        if gap > 2 * period_ns:
            stats.count_overrun()
        stats.record(start, end, gap, max(0, gap - period_ns), period_ns)

    def on_message(name, message):
        evaluator.set_message(name, message)
        if name == trigger:
            tick()

    for name, spec in config.inputs.items():
        node.create_subscription(spec.msg_type, spec.topic,
                                 lambda message, name=name: on_message(name, message),
                                 qos_profile(spec))

    def publish_diagnostics():
        snap = stats.snapshot(config.rate_hz, since_ticks=report.since_ticks)
        status = report.loop_status(snap, expressions=len(evaluator.outputs))
        diag.publish(report.array(node.get_clock().now().to_msg(), [status]))

    if trigger is None:
        node.create_timer(period_ns / 1e9, tick)
    node.create_timer(float(getattr(config, 'diagnostics_period', 1.0)), publish_diagnostics)
    return node


def _main(args, stop_event):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from ..params.config import load_params_file

    parser = argparse.ArgumentParser(prog='arena_eval.tools.naive_node')
    parser.add_argument('params_file')
    parser.add_argument('--results-topic', default=DEFAULT_RESULTS_TOPIC)
    parser.add_argument('--trigger', metavar='INPUT',
                        help='evaluate once per message of this input instead of on a timer')
    opts = parser.parse_args(args[1:])
    config, errors, _ = load_params_file(opts.params_file)
    if errors or config is None:
        for e in errors:
            print(e.one_line(), file=sys.stderr)
        return 2
    try:
        node = _build_node(config, opts.results_topic, opts.trigger)
    except ValueError as e:
        print('%s: %s' % (opts.params_file, e), file=sys.stderr)
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop_event.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.remove_node(node)
        node.destroy_node()
    return 0


def main(argv=None):
    from ..ros.process import run

    return run(_main, argv)


if __name__ == '__main__':
    sys.exit(main())
