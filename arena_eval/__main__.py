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
The command line: `python -m arena_eval {check,eval,bench,demo,replay}`.

Installed as the console script `arena_eval` (replay also as `arena_eval_replay`).

    python -m arena_eval check config/default.yaml [--dump] [--node /robot1/arena_eval]
    python -m arena_eval eval --set imu.angular_velocity.z=3 'hypot(imu.angular_velocity.z, 4)'
    python -m arena_eval bench [--quick]        # engine: arena vs tree walker, Python eval, ExprTk
    python -m arena_eval bench --node 10        # node CPU vs the C floor and a naive rclpy node
    python -m arena_eval bench --rates 10       # the node at 2, 5 and 10 kHz
    python -m arena_eval bench --startup 3      # start to first result, cold and cached
    python -m arena_eval bench --soak 5         # memory and allocations over minutes
    python -m arena_eval demo [--seconds 10]    # simulator + node, live figures, summary
    python -m arena_eval replay run.bag --params robot.yaml [--out results.csv] [--plot out.png]
    python -m arena_eval bench --replay         # replay ticks/s and real-time factor

Exit codes: 0 success, 1 a benchmark verdict or a process failed, 2 a user error (bad file,
bad expression, bad argument), printed as one line (and a caret under expressions), never as a
traceback. Heavy modules (numba, rclpy) are imported only by the command that needs them.
"""

import argparse
import os
import sys

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class UserError(Exception):
    """A mistake in the command line; printed as `error: message` with exit code 2."""


def _parser():
    parser = argparse.ArgumentParser(
        prog='arena_eval',
        description='Evaluate math expressions over ROS 2 sensor fields at 1 kHz.')
    sub = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')

    check = sub.add_parser('check', help='check a params file; exit 2 on errors')
    check.add_argument('params_file', nargs='+',
                       help='params file(s); several are merged in order, as rcl does')
    check.add_argument('--dump', action='store_true',
                       help='also print the compiled program (disassembly)')
    who = check.add_mutually_exclusive_group()
    who.add_argument('--node', metavar='/NS/NAME',
                     help='check what this node gets (default /arena_eval)')
    who.add_argument('--name', help='node name (with --namespace; default arena_eval)')
    check.add_argument('--namespace', help='node namespace (default /)')

    ev = sub.add_parser('eval', help='evaluate one expression once and print the result')
    ev.add_argument('--set', action='append', default=[], metavar='NAME=VALUE',
                    help='value of an input path, e.g. imu.linear_acceleration.x=1.5')
    ev.add_argument('--dt', type=float, default=0.001,
                    help='seconds of the step (default 0.001)')
    ev.add_argument('expression', help="an expression, or 'name = expression'")

    bench = sub.add_parser('bench', help='benchmarks (engine by default)')
    mode = bench.add_mutually_exclusive_group()
    mode.add_argument('--quick', action='store_true', help='fewer rounds: for CI')
    mode.add_argument('--node', type=float, metavar='SECONDS',
                      help='node CPU and period vs the C floor and a naive rclpy node, '
                           'SECONDS per subject')
    mode.add_argument('--rates', type=float, metavar='SECONDS',
                      help='the node at rate_hz 2000, 5000, 10000 beside the simulator')
    mode.add_argument('--startup', type=int, metavar='ROUNDS',
                      help='start to first result: empty numba cache, then ROUNDS cached')
    mode.add_argument('--soak', type=float, metavar='MINUTES',
                      help='simulator + node for MINUTES: RSS and allocations over time')
    mode.add_argument('--replay', action='store_true',
                      help='replay ticks per second and real-time factor on the test bag; '
                           'a fleet of copies on 1 and 2 workers')
    mode.add_argument('--replay-memory', type=float, metavar='HOURS',
                      help="replay's reading side and sinks over a synthetic HOURS-long bag "
                           'at 1 kHz: peak RSS')
    bench.add_argument('--rounds', type=int, default=1,
                       help='--node: interleaved rounds (the table shows the median)')
    bench.add_argument('--params-file', default=None,
                       help='params file for --node/--soak (default: config/default.yaml)')
    bench.add_argument('--program', default='default',
                       choices=('default', 'msgtime', 'estop', 'names'),
                       help='--node: the params file plus the message-time, e-stop or '
                            'joints-by-name expressions')
    bench.add_argument('--bag', default=None,
                       help='bag for --replay (default: test/data/husky_imu_odom_gps.bag)')

    demo = sub.add_parser('demo', help='simulator + node with live figures, then a summary')
    demo.add_argument('--seconds', type=float, default=10.0)
    demo.add_argument('--params-file', default=None,
                      help='params file (default: config/default.yaml)')

    from .tools.replay import add_arguments
    add_arguments(sub.add_parser(
        'replay', help='evaluate a params file over a recorded bag (CSV, bag, plot, summary)'))
    return parser


def cmd_check(args):
    from .params import config
    from .params.ros_args import fully_qualified, NODE_NAME

    if args.node is not None:
        node = args.node if args.node.startswith('/') else '/' + args.node
    else:
        node = fully_qualified(args.name or NODE_NAME, args.namespace or '/')
    loaded = config.load_node_params([('file', path) for path in args.params_file], node)
    for error in sorted(loaded.errors + loaded.warnings, key=_position):
        print(error.one_line())
    if loaded.errors:
        return EXIT_USAGE
    if args.dump:
        cfg = loaded.config
        batch = config.build_batch(cfg)
        print(batch.disassemble())
        if cfg.outputs:
            from .msgtypes.templates import describe
            for output in cfg.outputs.values():
                print('\n'.join(describe(output, batch)))
    else:
        print('%s: ok for %s (sections %s)' % (', '.join(args.params_file), node,
                                               loaded.applied_text()))
    return EXIT_OK


def _position(error):
    pos = error.pos
    return (pos.file or '', pos.line, pos.col) if pos is not None else ('', 0, 0)


def _parse_sets(pairs):
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition('=')
        name = name.strip()
        if not sep or not name:
            raise UserError('--set %s: expected NAME=VALUE' % pair)
        try:
            values[name] = float(text)
        except ValueError:
            raise UserError('--set %s: %r is not a number' % (pair, text.strip())) from None
    return values


def cmd_eval(args):
    from .engine.arena import compile_batch
    from .language.errors import Source
    from .language.parse import statement_name

    values = _parse_sets(args.set)
    text = args.expression
    if statement_name(text):  # `name = expr` (not `a == b`): keep the user's name
        statement, source = text, None
    else:
        # Columns in errors count from the user's text, not from the `result = ` we add.
        prefix = 'result = '
        statement = prefix + text
        source = Source(statement, None, 1, 1 - len(prefix))
    batch = compile_batch([statement], sources=None if source is None else [source])
    missing = [name for name in batch.inputs if name not in values]
    if missing:
        raise UserError('no value for input %s (give it with --set %s=VALUE)'
                        % (', '.join(map(repr, missing)), missing[0]))
    unused = [name for name in values if name not in batch.inputs]
    if unused:
        raise UserError('--set %s: the expression does not use this input' % unused[0])
    results = batch.evaluate(values, dt=args.dt)
    print(repr(float(results[batch.outputs[-1]])))
    return EXIT_OK


def cmd_bench(args):
    if args.node is not None:
        from .tools import procbench
        return procbench.node_bench(args.node, params_file=args.params_file,
                                    rounds=args.rounds, program=args.program)
    if args.rates is not None:
        from .tools import procbench
        return procbench.rates_bench(args.rates, params_file=args.params_file)
    if args.startup is not None:
        from .tools import procbench
        return procbench.startup_bench(args.startup, params_file=args.params_file)
    if args.soak is not None:
        from .tools import procbench
        return procbench.soak(args.soak, params_file=args.params_file)
    if args.replay:
        from .tools import replaybench
        code = replaybench.run(params_file=args.params_file, bag=args.bag)
        return code or replaybench.fleet(params_file=args.params_file, bag=args.bag)
    if args.replay_memory is not None:
        from .tools import replaybench
        return replaybench.memory(args.replay_memory)
    # Counting kernel allocations needs NRT statistics, switched on before numba loads.
    os.environ.setdefault('NUMBA_NRT_STATS', '1')
    from .tools import bench
    return bench.run(quick=args.quick)


def cmd_demo(args):
    from .tools import demo
    return demo.run(args.seconds, params_file=args.params_file)


def cmd_replay(args):
    from .tools import replay
    return replay.run(args)


COMMANDS = {'check': cmd_check, 'eval': cmd_eval, 'bench': cmd_bench, 'demo': cmd_demo,
            'replay': cmd_replay}


def main(argv=None):
    """Run the command line; return the exit code (the console script exits with it)."""
    args = _parser().parse_args(argv)
    from .language.errors import ExpressionError

    try:
        return COMMANDS[args.command](args)
    except ExpressionError as e:
        print(e.caret(), file=sys.stderr)
        return EXIT_USAGE
    except UserError as e:
        print('error: %s' % e, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours; keep the exit quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == '__main__':
    sys.exit(main())
