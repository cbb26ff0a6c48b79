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
The node's command: `arena_eval_node` and `python -m arena_eval.ros.node`.

Installs the signal handlers first, then checks what the params files give this node (one
`file:line:col: error:` line per problem, exit code 2): the sections rcl applies to the node's
fully qualified name after `-r __node:=`/`-r __ns:=` remaps, merged with the `-p` values in
command-line order (`arena_eval.params.ros_args`, `config.load_node_params`); then runs the node
(`arena_eval.ros.node.run_node`) inside the rclpy context (`arena_eval.ros.process.run`).
With `lifecycle: true` in those sources the managed node runs (`arena_eval.ros.lifecycle`),
and the params files' errors do not end the process: its configure transition logs them.
SIGINT/SIGTERM stop it cleanly with code 0 (a watchdog ends it with code 1 if the clean path
ever takes longer than 0.8 s); the tick raising ends it with its traceback and code 1.

Only light modules are imported here at the top: everything else is imported after `main` has
installed its handlers, so a Ctrl-C during the first few tenths of a second (numpy, yaml,
rclpy, message types) ends the process cleanly instead of with a KeyboardInterrupt traceback.
"""

import os
import sys

from .process import exit_now, STOP_DEADLINE_S, Stopper


def main(argv=None, *, fast_exit=None):
    """
    Entry point of `arena_eval_node`: validate params files, run the node, return exit code.

    With `fast_exit` (the default when run as a program) the process ends with
    `process.exit_now` right after the clean shutdown.
    """
    if fast_exit is None:
        fast_exit = argv is None
    # From here on a signal interrupts startup at once (and, as a program, arms the deadline).
    stopper = Stopper(STOP_DEADLINE_S if fast_exit else None)
    stopper.install()
    # The node counts kernel allocations with numba's NRT statistics, which must be on before
    # numba is first imported (by the engine, on the first compile).
    os.environ.setdefault('NUMBA_NRT_STATS', '1')
    try:
        code = _main(argv, stopper)
    except KeyboardInterrupt:
        code = 0
    except Exception:  # noqa: B902 - see below
        # A signal inside a C extension's initialization (rclpy's pybind11 module) comes back
        # as that import's failure ("ImportError: initialization failed"), not as the
        # KeyboardInterrupt: a stop asked for while starting, not an error.
        if not stopper.requested:
            raise
        code = 0
    if fast_exit:
        exit_now(code)
    return code


def _main(argv, stopper):
    from .process import run
    from ..params import config as cfg
    from ..params import ros_args

    argv = list(sys.argv if argv is None else argv)
    # What rcl will give the node: its sections of every params file and the -p values, in
    # command-line order, for the name and namespace the remaps give it.
    args = ros_args.parse(argv, cfg.NODE_NAME)
    file_warnings = file_errors = None
    lifecycle = False
    if args.sources:
        # Without a params file only `lifecycle` is read here; the node checks the rest.
        loaded = cfg.load_node_params(args.sources, args.fully_qualified_name,
                                      check_expressions=bool(args.params_files))
        lifecycle = cfg.wants_lifecycle(loaded)
        if args.params_files:
            file_warnings = [w.one_line() for w in loaded.warnings]
            file_errors = cfg.one_lines(loaded.errors)
            # The managed node starts anyway: its configure transition fails with these.
            if file_errors and not lifecycle:
                for line in file_errors:
                    print(line, file=sys.stderr)
                return 2
    if stopper.requested:
        return 0
    _import_node(args.fully_qualified_name)
    from .node import run_node
    options = {}
    if lifecycle:
        from .lifecycle import ArenaEvalLifecycleNode
        options = {'node_class': ArenaEvalLifecycleNode, 'file_errors': file_errors}
    try:
        return run(lambda args, stop_event: run_node(
            args, stop_event, file_warnings, stopper, **options), argv)
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: B902 - rclpy.init refusing the arguments: one line
        if type(exc).__name__ != 'RCLError':
            raise
        # Our checks read the params files as rcl does; should rcl still refuse one, keep its
        # words and say which files it was given, since its message may name none.
        given = f" (params files: {', '.join(args.params_files)})" if args.params_files else ''
        print(f'error: {str(exc).splitlines()[0]}{given}', file=sys.stderr)
        return 2


def _import_node(node_name):
    """Import the node, saying so when that compiles the loop (a first start: seconds)."""
    import time

    from ..rt.cache import loop_cached
    if loop_cached():
        return
    from rclpy.logging import get_logger
    log = get_logger(node_name.lstrip('/').replace('/', '.'))
    log.info('compiling the kernel (first start; cached after)')
    started = time.monotonic()
    from . import node  # noqa: F401 - the import compiles
    log.info(f'kernel compiled in {time.monotonic() - started:.1f} s')


if __name__ == '__main__':
    sys.exit(main())
