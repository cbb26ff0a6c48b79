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

Installs the signal handlers first, then checks the params files (one `file:line:col: error:`
line per problem, exit code 2), then runs the node (`arena_eval.ros.node.run_node`) inside the
rclpy context (`arena_eval.ros.process.run`). SIGINT/SIGTERM stop it cleanly with code 0 (a
watchdog ends it with code 1 if the clean path ever takes longer than 0.8 s); the tick raising
ends it with its traceback and code 1.

Only light modules are imported here at the top: everything else is imported after `main` has
installed its handlers, so a Ctrl-C during the first few tenths of a second (numpy, yaml,
rclpy, message types) ends the process cleanly instead of with a KeyboardInterrupt traceback.
"""

import os
import sys

from .process import exit_now, STOP_DEADLINE_S, Stopper


def params_files(argv):
    """Return the `--params-file` arguments of a command line, in order."""
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == '--params-file']


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
    if fast_exit:
        exit_now(code)
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
            lines.extend(cfg.one_lines(errors))
            warnings.extend(w.one_line() for w in file_warn)
        if lines:
            for line in lines:
                print(line, file=sys.stderr)
            return 2
        if len(files) == 1:
            file_warnings = warnings
    if stopper.requested:
        return 0
    from .node import run_node
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
