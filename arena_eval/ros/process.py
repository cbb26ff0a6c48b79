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
The one entry-point pattern for arena_eval's ROS processes: init, run until a signal, shut down.

rclpy's stock SIGINT/SIGTERM handling occasionally crashes on shutdown on this platform (see
docs/design.md, "Signals"), so rclpy gets no signal handlers: ours only set a stop event, the
caller's loop returns, and shutdown happens once in `finally`. Used by the node and the simulator.

The node's process also has a `Stopper` (signals while starting interrupt at once; a watchdog
ends a shutdown that hangs) and `exit_now` (skip interpreter finalization). This module imports
rclpy only inside `run`: the node's entry point installs its signal handlers from here before
the heavy imports, so a Ctrl-C during them ends the process cleanly.
"""

import faulthandler
import os
import signal
import sys
import threading
import time

# Seconds from a stop signal to the watchdog's forced exit (the promise is: gone within 1 s).
STOP_DEADLINE_S = 0.8


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
        sys.unraisablehook = self._unraisable

    def _unraisable(self, unraisable, default=sys.unraisablehook):
        # The KeyboardInterrupt a signal raised inside such a callback: the stop is already
        # `requested`, so Python's "Exception ignored ... Traceback" on stderr says nothing true.
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and self.requested:
            return
        default(unraisable)

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


def exit_now(code):
    """
    Flush the output and end the process with `code`, skipping interpreter finalization.

    Called after the clean shutdown (node destroyed, rclpy shut down): what remains is
    finalization of rclpy, numba and llvmlite objects, measured at 150-420 ms here, which
    would break the promise to stop within 1 s of SIGINT/SIGTERM on a loaded machine.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(main_fn, argv=None):
    """
    Run `main_fn(args, stop_event) -> exit code` inside an rclpy context; return its code.

    `args` are the command-line arguments without ROS arguments (`--ros-args ...`); the full
    list goes to `rclpy.init` so `--params-file` and remappings work.
    """
    import rclpy
    from rclpy.signals import SignalHandlerOptions
    from rclpy.utilities import remove_ros_args

    argv = list(sys.argv if argv is None else argv)
    stop_event = threading.Event()

    def request_stop(signum, frame):
        stop_event.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    rclpy.init(args=argv, signal_handler_options=SignalHandlerOptions.NO)
    try:
        return main_fn(remove_ros_args(argv), stop_event) or 0
    except KeyboardInterrupt:
        return 0
    finally:
        rclpy.try_shutdown()
