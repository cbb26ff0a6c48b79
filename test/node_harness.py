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
The harness of the node's DDS tests: a params file, the node as a process, and a probe node.

The probe is a real rclpy node in its own context (spun by its own thread) that publishes known
`sensor_msgs/Imu` and `JointState` messages and records `/arena_eval/results` and
`/diagnostics`; nothing of rclpy is mocked. The node runs as a process (`arena_eval.tools.procs`)
with stdout/stderr in files, stopped with SIGINT then SIGKILL.
"""

import glob
import itertools
import math
import os
import signal
import threading
import time

from arena_eval.tools import procs
import pytest
import reference
import yaml

NODE = 'arena_eval'
RESULTS = '/arena_eval/results'
STARTUP_TIMEOUT = 30.0
RESEND_AFTER = 2.0

DEFAULT_EXPRESSIONS = reference.DEFAULT_BATCH
DEFAULT_INPUTS = {
    'imu': {'topic': '/imu', 'type': 'sensor_msgs/msg/Imu', 'timeout': 0.1},
    'joints': {'topic': '/joint_states', 'type': 'sensor_msgs/msg/JointState', 'timeout': 0.1},
}
# The probe's known inputs and what the default batch makes of them, computed by hand.
ACCEL = (1.0, 2.0, 2.0)
YAW_RATE = 0.5
POSITION = [0.1, 0.2, 0.3]
VELOCITY = [1.0, 2.0, 3.0]
EFFORT = [4.0, 5.0, 6.0]
EXPECTED = {
    'accel_norm': 3.0,
    'roll': math.pi / 4,
    'pitch': math.atan2(-1.0, 2.0 * math.sqrt(2.0)),
    'tilt_deg': math.degrees(math.acos(2.0 / 3.0)),
    'yaw_rate_f': YAW_RATE,
    'q2_rate': 0.0,
    'joint_power': 1.0 * 4.0 + 2.0 * 5.0 + 3.0 * 6.0,
}


class _QuotingDumper(yaml.SafeDumper):
    """Quote every string, so 'nan' stays a string for rcl's params parser too."""


_QuotingDumper.add_representer(
    str, lambda dumper, s: dumper.represent_scalar('tag:yaml.org,2002:str', s, style="'"))


def write_params(path, expressions=None, inputs=None, **top):
    """Write a params file for the node; `top` adds top-level parameters (rate_hz=...)."""
    params = {'rate_hz': 1000.0, 'stale_policy': 'nan', 'diagnostics_period': 0.5}
    params.update(top)
    params['inputs'] = DEFAULT_INPUTS if inputs is None else inputs
    params['expressions'] = DEFAULT_EXPRESSIONS if expressions is None else expressions
    path.write_text(yaml.dump({NODE: {'ros__parameters': params}}, Dumper=_QuotingDumper,
                              sort_keys=False, width=1000))
    return path


def shm_files():
    """Fast DDS shared-memory files (their names differ between Fast DDS versions)."""
    return set(glob.glob('/dev/shm/fastrtps_*') + glob.glob('/dev/shm/fastdds_*')
               + glob.glob('/dev/shm/*fast_datasharing*'))


class NodeProcess:
    """The node as a process, its output in files under `tmp_path`."""

    def __init__(self, tmp_path, params_file, extra_args=(), env=None):
        self.out_path = tmp_path / 'node.out'
        self.err_path = tmp_path / 'node.err'
        self._out = open(self.out_path, 'w')
        self._err = open(self.err_path, 'w')
        args = ['--ros-args', '--params-file', str(params_file), *extra_args]
        self.proc = procs.start('arena_eval.ros.node', args, env or procs.ros_env(),
                                stdout=self._out, stderr=self._err)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stderr(self):
        self._err.flush()
        return self.err_path.read_text()

    def output(self):
        self._out.flush()
        return self.out_path.read_text() + self.stderr()

    def signal_and_wait(self, signum=signal.SIGINT, timeout=5.0):
        """Send `signum`; return (exit code, seconds to exit). SIGKILL after `timeout`."""
        start = time.monotonic()
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout)
        except Exception:  # noqa: B902 - subprocess.TimeoutExpired: kill, then report
            procs.stop(self.proc, 0.1)
            code = None
        return code, time.monotonic() - start

    def wait(self, timeout):
        return self.proc.wait(timeout)

    def close(self):
        procs.stop(self.proc)
        self._out.close()
        self._err.close()


def _values(status):
    return {kv.key: kv.value for kv in status.values}


class Probe:
    """A test node in its own rclpy context: publishes known inputs, records what the node says."""

    _counter = itertools.count()

    def __init__(self, node_name=NODE):
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data

        from diagnostic_msgs.msg import DiagnosticArray
        from sensor_msgs.msg import Imu, JointState
        from std_msgs.msg import Float64MultiArray

        # Fully qualified, as in the node's status names and service names.
        self.node_name = node_name if node_name.startswith('/') else '/' + node_name
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(f'probe_{os.getpid()}_{next(self._counter)}',
                                      context=self.context)
        self.lock = threading.Lock()
        self.results = []        # (monotonic s, tuple of data)
        self.label = None
        self.diagnostics = []    # (monotonic s, {status name: (level int, message, values)})
        self.imu_pub = self.node.create_publisher(Imu, '/imu', qos_profile_sensor_data)
        self.joints_pub = self.node.create_publisher(JointState, '/joint_states',
                                                     qos_profile_sensor_data)
        self.node.create_subscription(Float64MultiArray, RESULTS, self._on_results, 100)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics, 50)
        self.imu = Imu()
        self.imu.linear_acceleration.x, self.imu.linear_acceleration.y, \
            self.imu.linear_acceleration.z = ACCEL
        self.imu.angular_velocity.z = YAW_RATE
        self.joints = JointState(name=['j0', 'j1', 'j2'], position=list(POSITION),
                                 velocity=list(VELOCITY), effort=list(EFFORT))
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._spinner = threading.Thread(target=self._spin, daemon=True)
        self._spinner.start()
        self._streams = {}

    # ----- recording ------------------------------------------------------------------------
    def _spin(self):
        while not self._stop.is_set():
            self._executor.spin_once(timeout_sec=0.05)

    def _on_results(self, msg):
        with self.lock:
            self.results.append((time.monotonic(), tuple(msg.data)))
            self.label = msg.layout.dim[0].label if msg.layout.dim else None
            self.layout = msg.layout

    def _on_diagnostics(self, msg):
        statuses = {s.name: (s.level[0] if isinstance(s.level, bytes) else int(s.level),
                             s.message, _values(s)) for s in msg.status}
        if not any(name.startswith(self.node_name + ':') for name in statuses):
            return
        with self.lock:
            self.diagnostics.append((time.monotonic(), statuses))

    def result_count(self):
        with self.lock:
            return len(self.results)

    def latest_result(self):
        with self.lock:
            return self.results[-1][1] if self.results else None

    def latest_outputs(self):
        """Return the latest results as {output name: value}."""
        with self.lock:
            if not self.results:
                return None
            return dict(zip(self.label.split(','), self.results[-1][1], strict=True))

    def status(self, which):
        """Latest (level, message, values) of `<node>: <which>`, or None."""
        name = f'{self.node_name}: {which}'
        with self.lock:
            for _, statuses in reversed(self.diagnostics):
                if name in statuses:
                    return statuses[name]
        return None

    def statuses_since(self, since, which):
        name = f'{self.node_name}: {which}'
        with self.lock:
            return [s[name] for t, s in self.diagnostics if t >= since and name in s]

    def wait_for(self, predicate, timeout, what='condition'):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        pytest.fail(f'timed out after {timeout} s waiting for {what}')

    def wait_results(self, count=1, timeout=STARTUP_TIMEOUT, node=None):
        start = self.result_count()

        def enough():
            if node is not None and not node.alive():
                pytest.fail('node exited:\n' + node.output())
            return self.result_count() >= start + count
        return self.wait_for(enough, timeout, f'{count} results')

    def wait_status(self, which, level, timeout=10.0, message_part=''):
        """Wait for a diagnostics status of `which` at `level` (an int) containing a text."""
        def seen():
            st = self.status(which)
            return st if st and st[0] == level and message_part in st[1] else None
        return self.wait_for(seen, timeout, f'{which} at level {level} {message_part!r}; '
                             f'last: {self.status(which)}')

    # ----- publishing -----------------------------------------------------------------------
    def stream(self, name, publish, rate_hz=200.0):
        """Publish by calling `publish` at `rate_hz` from a thread, until `stop_stream`."""
        stop = threading.Event()

        def run():
            period = 1.0 / rate_hz
            deadline = time.monotonic()
            while not stop.is_set() and self.context.ok():
                publish()
                deadline += period
                stop.wait(max(0.0, deadline - time.monotonic()))

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self._streams[name] = (stop, thread)

    def stop_stream(self, name):
        stop, thread = self._streams.pop(name)
        stop.set()
        thread.join(2.0)

    def stream_inputs(self, rate_hz=200.0):
        self.stream('imu', lambda: self.imu_pub.publish(self.imu), rate_hz)
        self.stream('joints', lambda: self.joints_pub.publish(self.joints), rate_hz)

    # ----- parameters -----------------------------------------------------------------------
    def set_parameters(self, values, timeout=10.0):
        """Call the node's SetParameters service; return the list of SetParametersResult."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        client = self._parameter_client(SetParameters, 'set_parameters')
        request = SetParameters.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        return self.call(client, request, f'set_parameters {values}', timeout).results

    def get_parameters(self, names, timeout=20.0):
        from rcl_interfaces.srv import GetParameters
        from rclpy.parameter import parameter_value_to_python
        client = self._parameter_client(GetParameters, 'get_parameters')
        answer = self.call(client, GetParameters.Request(names=list(names)),
                           f'get_parameters {names}', timeout, resend=True)
        return [parameter_value_to_python(v) for v in answer.values]

    def describe_parameters(self, names, timeout=20.0):
        from rcl_interfaces.srv import DescribeParameters
        client = self._parameter_client(DescribeParameters, 'describe_parameters')
        answer = self.call(client, DescribeParameters.Request(names=list(names)),
                           f'describe_parameters {names}', timeout, resend=True)
        return {d.name: d for d in answer.descriptors}

    def call(self, client, request, what, timeout=10.0, resend=False):
        """
        Call a service and wait for its answer, which the probe's spinner delivers.

        A first request can be lost while discovery is still matching the server's reply
        writer to this client (the service looks available one way before the other), so a
        query that is safe to repeat (`resend`) is sent again every RESEND_AFTER seconds.
        A request that changes the node is sent once and waited for.
        """
        end = time.monotonic() + timeout
        while True:
            future = client.call_async(request)
            retry_at = time.monotonic() + RESEND_AFTER if resend else end
            while not future.done():
                now = time.monotonic()
                if now > end:
                    client.remove_pending_request(future)
                    pytest.fail(f'no answer to {what} within {timeout} s')
                if now > retry_at:
                    client.remove_pending_request(future)
                    break
                time.sleep(0.002)
            else:
                return future.result()

    def _parameter_client(self, srv_type, name):
        key = f'_client_{name}'
        client = getattr(self, key, None)
        if client is None:
            client = self.node.create_client(srv_type, f'{self.node_name}/{name}')
            setattr(self, key, client)
        if not client.wait_for_service(timeout_sec=STARTUP_TIMEOUT):
            pytest.fail(f'service {self.node_name}/{name} not available')
        return client

    def close(self):
        for name in list(self._streams):
            self.stop_stream(name)
        self._stop.set()
        self._spinner.join(2.0)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self.context.try_shutdown()


def assert_outputs_close(outputs, expected, names=None, rel=1e-9):
    for name in names or expected:
        assert outputs[name] == pytest.approx(expected[name], rel=rel, abs=1e-9), name
