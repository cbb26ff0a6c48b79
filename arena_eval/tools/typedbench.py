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
What typed outputs cost per tick: `python -m arena_eval bench --typed [--rounds N]`.

In one process with real rclpy publishers (and a subscriber on every topic, so DDS delivers),
times the `~/results` publish the node does every tick (`Float64MultiArray` through rcl) against
three typed outputs (`Vector3Stamped` stamped from an input, `Bool`, a two-joint `JointState`
with names) patched and published through rcl as the Python tick does, rounds interleaved. Also
times the patching alone and counts numba's NRT allocations over the timed calls.
"""

import gc
import statistics
import time

from .bench import load_average
from ..params.config import config_from_parameters, default_params_file, load_params_file

CALLS = 2000
TYPED = {
    'outputs.tilt.topic': '/bench_typed/tilt',
    'outputs.tilt.type': 'geometry_msgs/msg/Vector3Stamped',
    'outputs.tilt.stamp': 'imu', 'outputs.tilt.frame_id': 'base_link',
    'outputs.tilt.fields': ['vector.x = roll', 'vector.y = pitch', 'vector.z = tilt_deg'],
    'outputs.tip.topic': '/bench_typed/tip', 'outputs.tip.type': 'std_msgs/msg/Bool',
    'outputs.tip.fields': ['data = tilt_deg > 30'],
    'outputs.arm.topic': '/bench_typed/arm', 'outputs.arm.type': 'sensor_msgs/msg/JointState',
    'outputs.arm.fields': ["name[0] = 'q2'", "name[1] = 'power'", 'position[0] = q2_rate',
                           'position[1] = joint_power'],
}


def _config(params_file):
    base, errors, _ = load_params_file(params_file)
    if errors:
        raise SystemExit('\n'.join(e.one_line() for e in errors))
    params = {'expressions': list(base.expressions), **TYPED}
    for name, cfg in base.inputs.items():
        params.update({f'inputs.{name}.topic': cfg.topic, f'inputs.{name}.type': cfg.type_name})
    config, errors, _ = config_from_parameters(params)
    if errors:
        raise SystemExit('\n'.join(e.one_line() for e in errors))
    return config


def _time(fn, calls):
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls / 1000.0


def run(rounds=5, params_file=None, out=print):
    """Print the per-tick costs; return the exit code."""
    import rclpy
    from rclpy.context import Context
    from rclpy.qos import qos_profile_sensor_data
    from std_msgs.msg import Float64MultiArray

    from ..msgtypes.templates import TypedOutput
    from ..msgtypes.templates import results_template
    from ..params.config import build_batch
    from ..rt import rcl

    config = _config(params_file or default_params_file())
    batch = build_batch(config)
    batch.evaluate(dict.fromkeys(batch.inputs, 1.0))
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node('arena_eval_typed_bench', context=context)
    try:
        library = rcl.load()
        n = len(config.expressions)
        raw, view = results_template(batch.outputs[:n])
        outputs = batch.output_buffer[:n]
        results = rcl.RawPublisher(
            library, node.create_publisher(Float64MultiArray, '/bench_typed/results', 10),
            raw).publish
        node.create_subscription(Float64MultiArray, '/bench_typed/results', lambda m: None,
                                 qos_profile_sensor_data, raw=True)

        def publish_results():
            view[:] = outputs
            results()

        typed = []
        for output in config.outputs.values():
            pub = node.create_publisher(output.msg_type, output.topic, 10)
            node.create_subscription(output.msg_type, output.topic, lambda m: None,
                                     qos_profile_sensor_data, raw=True)
            typed.append(TypedOutput(
                output, batch, lambda raw, pub=pub: rcl.RawPublisher(library, pub, raw).publish))
        ticks = [t.tick for t in typed]
        patches = [t.template.patch for t in typed]

        def publish_typed():
            for tick in ticks:
                tick()

        def patch_typed():
            for patch in patches:
                patch()

        from numba.core.runtime import rtsys
        for fn in (publish_results, publish_typed, patch_typed):
            _time(fn, 200)  # warm: first publishes set up the writers' buffers
        samples = {'results': [], 'typed': [], 'patch': []}
        allocs = rtsys.get_allocation_stats().alloc
        gc.disable()
        try:
            for _ in range(rounds):
                samples['results'].append(_time(publish_results, CALLS))
                samples['typed'].append(_time(publish_typed, CALLS))
                samples['patch'].append(_time(patch_typed, CALLS))
        finally:
            gc.enable()
        allocs = rtsys.get_allocation_stats().alloc - allocs
        med = {k: statistics.median(v) for k, v in samples.items()}
        out(f'typed outputs per tick ({rounds} interleaved rounds of {CALLS} calls, median; '
            f'{load_average()})')
        out(f'  ~/results Float64MultiArray publish (rcl):      {med["results"]:7.2f} us')
        out(f'  3 typed outputs, every tick: patch + publish:  {med["typed"]:7.2f} us  '
            f'({med["typed"] / med["results"]:.2f}x one results publish)')
        out(f'  3 typed outputs, every: 10 (per tick):         {med["typed"] / 10:7.2f} us  '
            f'({med["typed"] / 10 / med["results"]:.2f}x)')
        out(f'  patching alone (3 templates):                   {med["patch"]:7.2f} us')
        met = med['typed'] < med['results']
        out(f'  target: 3 typed outputs cost less than one results publish: '
            f'{"met" if met else "MISSED"} at every: 1; '
            f'{"met" if med["typed"] / 10 < med["results"] else "MISSED"} at every: 10')
        out(f'  numba NRT allocations over the timed calls: {allocs}')
        return 0 if allocs == 0 else 1
    finally:
        node.destroy_node()
        context.try_shutdown()
