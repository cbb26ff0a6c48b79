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
The engine benchmark (`python -m arena_eval bench [--quick]`): the arena against its peers.

Everything is measured in the same run on the same machine, and reported as ratios:

1. agreement: the arena, a tree walker, compiled Python `eval` and ExprTk (`baselines.py`) are
   fed the same changing inputs for a few hundred steps and must agree to 1e-9 on every output
   (nothing is timed unless they do);
2. speed: median microseconds per evaluation of the whole 7-expression default batch
   (`config/default.yaml`), inputs already in place, and how many times faster the arena is;
3. scaling: generated batches of 7, 700 and 10,000 expressions shaped like the default ones,
   in nanoseconds per operation (`batch.n_ops`): flat means linear;
4. allocations over 100,000 `step()` calls: numba NRT allocations (needs `NUMBA_NRT_STATS=1`
   before numba is imported; `__main__` sets it) and `tracemalloc` net blocks and bytes. Both must
   be 0.

Timing: warm-up, then rounds of many back-to-back calls timed with `time.perf_counter_ns`, the
garbage collector off, the evaluators' rounds interleaved (round k of each runs back to back);
the median of the rounds is reported (two noisy shared cores), the best round beside it.
Exit code 1 if the evaluators disagree or anything allocates; speed targets are reported, never
enforced.
"""

import gc
import itertools
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc

from .baselines import PEERS
from ..params.config import default_params_file

DT = 0.001
TOLERANCE = 1e-9
CHECK_STEPS = 300
ALLOC_STEPS = 100_000
SCALING_SIZES = (7, 700, 10_000)
TARGET_US = 0.35
TARGET_VS_EXPRTK = 1.4
SEED_RUST_US = 102.49  # the seed project's Rust evaluator: a historical figure, not measured here

# The default batch's shape, one block per generated group `{k}` (see `scaled_statements`).
_BLOCK = (
    'accel_norm{k} = sqrt(imu{k}.linear_acceleration.x**2 + imu{k}.linear_acceleration.y**2 + '
    'imu{k}.linear_acceleration.z**2)',
    'roll{k} = atan2(imu{k}.linear_acceleration.y, imu{k}.linear_acceleration.z)',
    'pitch{k} = atan2(-imu{k}.linear_acceleration.x, hypot(imu{k}.linear_acceleration.y, '
    'imu{k}.linear_acceleration.z))',
    'tilt_deg{k} = deg(acos(clamp(imu{k}.linear_acceleration.z / accel_norm{k}, -1, 1)))',
    'yaw_rate_f{k} = lowpass(imu{k}.angular_velocity.z, 0.02)',
    'q2_rate{k} = ddt(joints{k}.position[2])',
    'joint_power{k} = joints{k}.velocity[0] * joints{k}.effort[0] + joints{k}.velocity[1] * '
    'joints{k}.effort[1] + joints{k}.velocity[2] * joints{k}.effort[2]',
)


def default_statements(params_file=None):
    """Return the `name = expression` strings of the default params file, in file order."""
    from ..params.config import load_params_file

    path = params_file or default_params_file()
    cfg, errors, _ = load_params_file(path)
    if errors or cfg is None:
        raise errors[0] if errors else RuntimeError('%s: no configuration' % path)
    return list(cfg.expressions)


def scaled_statements(n):
    """
    Return `n` statements shaped like the default batch.

    Block k is the default batch over inputs `imuK` and `jointsK`, so no two blocks share a
    subexpression the compiler could merge.
    """
    blocks = (n + len(_BLOCK) - 1) // len(_BLOCK)
    return [line.format(k=k) for k in range(blocks) for line in _BLOCK][:n]


class ArenaPeer:
    """The arena behind the same small interface as the peers, using its hot path (`step`)."""

    name = 'arena'

    def __init__(self, statements):
        from ..engine.arena import compile_batch

        self.batch = compile_batch(statements)
        self.inputs = self.batch.inputs
        self.outputs = self.batch.outputs
        self._slot = {name: i for i, name in enumerate(self.inputs)}
        self.batch.input_valid[:] = 1.0

    def set_inputs(self, values):
        buf, slot = self.batch.input_buffer, self._slot
        for name, value in values.items():
            buf[slot[name]] = value

    def step(self, dt):
        self.batch.step(dt)

    def results(self):
        out = self.batch.output_buffer
        return {name: float(out[i]) for i, name in enumerate(self.outputs)}


def sample_inputs(names, k):
    """
    Smooth, distinct test signals for step `k`: a z-like input near 9.8, the rest near 0.

    A message dt (`joints.@mdt`, ddt_msg's second operand) is 0 on one step of three (no new
    message) and about 1 ms on the others.
    """
    values = {}
    for i, name in enumerate(names):
        if name.endswith('.@mdt'):  # message dt: a message on two steps of three, ~1 ms apart
            values[name] = 0.0 if k % 3 == 2 else 0.001 * (1.0 + 0.2 * math.sin(k + i))
            continue
        base = 9.8 if name.endswith('.z') and 'linear' in name else 0.0
        values[name] = base + math.sin(0.013 * k * (i + 1) + i) + 0.1 * math.cos(0.07 * k + i)
    return values


def _close(a, b):
    if a != a or b != b:
        return a != a and b != b
    return abs(a - b) <= TOLERANCE * max(1.0, abs(a), abs(b))


def check_agreement(evaluators, steps=CHECK_STEPS):
    """
    Step every evaluator on the same inputs and compare every output.

    Return (steps compared, largest relative difference, first disagreement as text or None).
    """
    names = evaluators[0].inputs
    worst = 0.0
    for k in range(steps):
        values = sample_inputs(names, k)
        dt = DT * (1.0 + 0.25 * math.sin(k))  # a varying dt exercises ddt and lowpass
        results = []
        for ev in evaluators:
            ev.set_inputs(values)
            ev.step(dt)
            results.append(ev.results())
        ref = results[0]
        for ev, res in zip(evaluators[1:], results[1:], strict=True):
            for name in evaluators[0].outputs:
                a, b = ref[name], res[name]
                if not _close(a, b):
                    return k + 1, worst, ('step %d, %s: %s gives %r, %s gives %r'
                                          % (k, name, evaluators[0].name, a, ev.name, b))
                if a == a and b == b:
                    worst = max(worst, abs(a - b) / max(1.0, abs(a)))
    return steps, worst, None


def _one_round(fn, arg, calls):
    loop = itertools.repeat(None, calls)
    t0 = time.perf_counter_ns()
    for _ in loop:
        fn(arg)
    return (time.perf_counter_ns() - t0) / calls


def _calls_per_round(fn, arg, round_ns):
    for _ in range(3):
        fn(arg)
    calls = 100
    while True:  # enough calls that one round lasts about round_ns
        per_call = _one_round(fn, arg, calls)
        if per_call * calls >= round_ns / 10 or calls >= 10_000_000:
            break
        calls *= 10
    return max(10, int(round_ns / max(per_call, 1.0)))


def time_interleaved(fns, arg, rounds, round_ns):
    """
    Time several functions in interleaved rounds; return `{name: (median, best)}` ns per call.

    Round k of every function runs back to back, so a burst of load from elsewhere on the
    machine hits all of them alike instead of whichever happened to be running.
    """
    calls = {name: _calls_per_round(fn, arg, round_ns) for name, fn in fns.items()}
    samples = {name: [] for name in fns}
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                samples[name].append(_one_round(fn, arg, calls[name]))
    finally:
        if enabled:
            gc.enable()
    return {name: (statistics.median(s), min(s)) for name, s in samples.items()}


def time_calls(fn, arg, rounds, round_ns):
    """Median and best ns per `fn(arg)` over `rounds` rounds of about `round_ns` each."""
    return time_interleaved({'fn': fn}, arg, rounds, round_ns)['fn']


def _noop(dt):
    pass


def nrt_allocations(step, calls=ALLOC_STEPS):
    """(allocations, frees) numba's runtime counted over `calls` steps; None when stats are off."""
    try:
        from numba.core.runtime import rtsys

        before = rtsys.get_allocation_stats()
    except (ImportError, RuntimeError):
        return None
    for _ in itertools.repeat(None, calls):
        step(DT)
    after = rtsys.get_allocation_stats()
    return after.alloc - before.alloc, after.free - before.free


def tracemalloc_net(step, calls=ALLOC_STEPS):
    """(blocks, bytes) still allocated by Python after `calls` steps, per `tracemalloc`."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    step(DT)
    loop = itertools.repeat(None, calls)  # no int objects, unlike range()
    before = tracemalloc.take_snapshot()
    for _ in loop:
        step(DT)
    after = tracemalloc.take_snapshot()
    if not was_tracing:
        tracemalloc.stop()
    skip = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(skip).compare_to(before.filter_traces(skip), 'filename')
    return sum(d.count_diff for d in diff), sum(d.size_diff for d in diff)


def _versions():
    import numba
    import numpy

    try:
        from importlib.metadata import version

        cexprtk = version('cexprtk')
    except Exception:  # noqa: BLE001 - only a label in the header
        cexprtk = '?'
    return ('python %s, numba %s, numpy %s, cexprtk %s, %s, %d CPUs, %s'
            % (platform.python_version(), numba.__version__, numpy.__version__, cexprtk,
               platform.machine(), os.cpu_count() or 0, load_average()))


def load_average():
    """Describe the 1-minute load average: figures are noisy when it nears the CPU count."""
    try:
        return 'load average %.2f' % os.getloadavg()[0]
    except OSError:
        return 'load average n/a'


def _fmt_us(ns):
    us = ns / 1000.0
    return '%.3f' % us if us < 10 else '%.1f' % us


def run(quick=False, out=None, params_file=None):
    """Run the engine benchmark, print the report; return 0, or 1 on disagreement/allocations."""
    out = out or sys.stdout

    def say(text=''):
        print(text, file=out, flush=True)

    # Many short rounds: on shared cores a short round is more often undisturbed.
    rounds, round_ns = (11, 3_000_000) if quick else (41, 5_000_000)
    statements = default_statements(params_file)
    say('arena_eval engine benchmark%s: the %d-expression default batch, median of %d rounds'
        % (' (quick)' if quick else '', len(statements), rounds))
    say(_versions())
    say()

    arena = ArenaPeer(statements)
    evaluators = [arena] + [peer(statements) for peer in PEERS]
    steps, worst, problem = check_agreement(evaluators)
    names = ', '.join(ev.name for ev in evaluators)
    if problem:
        say('check: FAILED after %d steps: %s' % (steps, problem))
        return 1
    say('check: %s agree to %g on %d steps x %d outputs (largest relative difference %.1e)'
        % (names, TOLERANCE, steps, len(arena.outputs), worst))
    say()

    # Timed with constant inputs in place, a fresh state, and a constant dt.
    evaluators = [ArenaPeer(statements)] + [peer(statements) for peer in PEERS]
    steps = {}
    for ev in evaluators:
        ev.set_inputs(sample_inputs(ev.inputs, 0))
        steps[ev.name] = ev.batch.step if isinstance(ev, ArenaPeer) else ev.step
    steps['python call floor'] = _noop
    timings = time_interleaved(steps, DT, rounds, round_ns)
    floor = timings.pop('python call floor')
    arena_ns = timings['arena'][0]
    say('%-22s %12s %10s   %s' % ('evaluator', 'us/batch', 'best', 'arena is'))
    for name, (median, best) in timings.items():
        ratio = '--' if name == 'arena' else '%.2fx faster' % (median / arena_ns)
        say('%-22s %12s %10s   %s' % (name, _fmt_us(median), _fmt_us(best), ratio))
    say('%-22s %12s %10s   %s' % ('python call floor', _fmt_us(floor[0]), _fmt_us(floor[1]),
                                  '(an empty Python function called the same way)'))
    say()
    vs_exprtk = timings['exprtk'][0] / arena_ns
    say('target: arena <= %.2f us/batch: %.3f us %s' % (
        TARGET_US, arena_ns / 1000, 'PASS' if arena_ns / 1000 <= TARGET_US else 'MISS'))
    say('target: arena >= %.1fx faster than exprtk: %.2fx %s' % (
        TARGET_VS_EXPRTK, vs_exprtk, 'PASS' if vs_exprtk >= TARGET_VS_EXPRTK else 'MISS'))
    say('historical: the seed Rust evaluator took %.2f us/batch (quoted, not measured here): '
        '%.0fx the arena' % (SEED_RUST_US, SEED_RUST_US * 1000 / arena_ns))
    say()

    from ..engine.arena import compile_batch

    say('scaling: generated batches shaped like the default one')
    say('%-12s %9s %12s %12s %9s' % ('expressions', 'ops', 'compile s', 'us/batch', 'ns/op'))
    for n in SCALING_SIZES:
        t0 = time.perf_counter()
        batch = compile_batch(scaled_statements(n))
        compile_s = time.perf_counter() - t0
        batch.input_valid[:] = 1.0
        batch.input_buffer[:] = 1.0
        median, _ = time_calls(batch.step, DT, rounds, round_ns)
        per_op = median / max(batch.n_ops, 1)
        say('%-12d %9d %12.2f %12s %9.2f' % (n, batch.n_ops, compile_s, _fmt_us(median), per_op))
        del batch
    say('(the fixed cost of the call into the kernel dominates small batches; a flat ns/op '
        'from 700 up means linear scaling)')
    say()

    step = arena.batch.step
    nrt = nrt_allocations(step)
    blocks, size = tracemalloc_net(step)
    say('allocations over %d step() calls' % ALLOC_STEPS)
    if nrt is None:
        say('numba NRT allocations: n/a (set NUMBA_NRT_STATS=1 before numba is imported)')
    else:
        say('numba NRT allocations: %d (frees: %d)' % nrt)
    say('tracemalloc net blocks: %d (net bytes: %d)' % (blocks, size))
    clean = (nrt is None or nrt == (0, 0)) and blocks == 0 and size == 0
    say('verdict: %s' % ('zero allocations per step' if clean else 'ALLOCATES'))
    return 0 if clean and nrt is not None else 1
