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

rclpy's stock SIGINT/SIGTERM handling occasionally crashes on shutdown on this platform (see the
README's design notes), so rclpy gets no signal handlers: ours only set a stop event, the caller's
loop returns, and shutdown happens once in `finally`. Used by the node and the simulator.
"""

import signal
import sys
import threading


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
