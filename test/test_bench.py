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
The engine benchmark: peers agree with the arena, counters see allocations, every row prints.

Nothing here asserts on speed.
"""

import os
import re
import subprocess
import sys

from arena_eval.language.errors import ExpressionError
from arena_eval.tools import baselines, bench, cfloor
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every function the peers implement, with references between statements and stateful calls
# nested in pure ones: the peers and the arena must agree on all of them, step after step.
WIDE_BATCH = [
    'o_a = x.p * 2 - x.q / 3 + x.r ** 2 - (x.p % 0.7)',
    'o_b = where(x.p > x.q, sin(x.p), cos(x.q)) + (x.r if x.p <= 0 else -x.r)',
    'o_c = tan(x.p / 4) + atan(x.q) + asin(clamp(x.p, -1, 1)) + acos(clamp(x.q, -1, 1))',
    'o_d = sinh(x.p) + cosh(x.q / 2) + tanh(x.r) + asinh(x.p) + acosh(1 + abs(x.q)) + '
    'atanh(clamp(x.r, -0.9, 0.9))',
    'o_e = exp(x.p) + expm1(x.q) + log(1 + abs(x.r)) + log1p(abs(x.p)) + log2(2 + x.q ** 2) + '
    'log10(3 + abs(x.r))',
    'o_f = sqrt(abs(x.p)) + cbrt(x.q) + sign(x.r) + floor(x.p * 3) + ceil(x.q * 3) + '
    'round(x.r * 3) + trunc(x.p * 3)',
    'o_g = deg(x.p) + rad(x.q) + atan2(x.p, x.q) + hypot(x.q, x.r) + min(x.p, x.q, x.r) + '
    'max(x.p, x.q) + fmod(x.r, 0.3)',
    'o_h = (x.p < x.q) + (x.p >= x.r) + (x.q == x.q) + (x.p != x.q) + (x.p > 0 and x.q > 0) + '
    '(x.p > 0 or x.q > 0) + (not x.p > 0) + (0 < x.q < 0.5)',
    'o_i = prev(x.p) + delta(x.q) + ddt(x.r) + integral(x.p) + lowpass(x.q, 0.01)',
    'o_j = ema(x.r, 0.3) + rate_limit(x.p, 50) + hold(x.q, x.r > 0) + lowpass(o_a, 0) + t + dt',
    'o_k = 2 * o_a + ddt(o_b) + integral(sin(t))',
]


@pytest.fixture(scope='module')
def quick_report():
    env = dict(os.environ, NUMBA_NRT_STATS='1')
    done = subprocess.run([sys.executable, '-m', 'arena_eval', 'bench', '--quick'],
                          capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    return done


def _row(report, name):
    match = re.search(r'^%s\s+([\d.]+)\s+([\d.]+)\s+(.*)$' % re.escape(name), report, re.M)
    assert match, 'no row %r in:\n%s' % (name, report)
    return match


def test_quick_bench_prints_every_row(quick_report):
    assert quick_report.returncode == 0, quick_report.stdout + quick_report.stderr
    out = quick_report.stdout
    assert re.search(r'^check: arena, tree-walk, python eval, exprtk agree to 1e-09 on \d+ steps '
                     r'x 7 outputs', out, re.M), out
    assert _row(out, 'arena').group(3).strip() == '--'
    for peer in ('tree-walk', 'python eval', 'exprtk'):
        assert re.fullmatch(r'[\d.]+x faster', _row(out, peer).group(3).strip()), out
    _row(out, 'python call floor')
    assert re.search(r'^target: arena <= 0.35 us/batch: [\d.]+ us (PASS|MISS)$', out, re.M)
    assert re.search(r'^target: arena >= 1.4x faster than exprtk: [\d.]+x (PASS|MISS)$', out,
                     re.M)
    assert re.search(r'seed Rust evaluator took 102.49 us/batch', out)


def test_quick_bench_scaling_rows(quick_report):
    out = quick_report.stdout
    rows = re.findall(r'^(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$', out, re.M)
    assert [int(r[0]) for r in rows] == [7, 700, 10000], out
    ops = [int(r[1]) for r in rows]
    # Every generated block has the same shape, so the program grows linearly with it.
    assert ops[1] == 100 * ops[0] and ops[2] >= 1400 * ops[0]


def test_quick_bench_counts_zero_allocations(quick_report):
    out = quick_report.stdout
    assert re.search(r'^allocations over 100000 step\(\) calls$', out, re.M), out
    assert re.search(r'^numba NRT allocations: 0 \(frees: 0\)$', out, re.M), out
    assert re.search(r'^tracemalloc net blocks: 0 \(net bytes: 0\)$', out, re.M), out
    assert re.search(r'^verdict: zero allocations per step$', out, re.M), out


def _peers(statements):
    return [bench.ArenaPeer(statements)] + [peer(statements) for peer in baselines.PEERS]


def test_peers_agree_with_the_arena_on_every_function_they_implement():
    steps, worst, problem = bench.check_agreement(_peers(WIDE_BATCH), steps=200)
    assert problem is None, problem
    assert steps == 200 and worst <= bench.TOLERANCE


def test_the_agreement_check_reports_a_disagreement():
    evaluators = _peers(['y = x.p + x.q'])
    evaluators.append(baselines.PyEval(['y = x.p + x.q * 1.000001']))
    steps, _, problem = bench.check_agreement(evaluators, steps=10)
    assert problem is not None and steps == 1
    assert 'python eval' in problem and 'y' in problem


def test_peers_read_the_same_inputs_in_the_same_order():
    evaluators = _peers(bench.default_statements())
    for ev in evaluators[1:]:
        assert set(ev.inputs) == set(evaluators[0].inputs)
        assert ev.outputs == evaluators[0].outputs


def test_peers_reject_what_they_do_not_implement():
    for peer in baselines.PEERS:
        with pytest.raises(ExpressionError, match='mean'):
            peer(['y = mean(x.p, 4)'])


def test_exprtk_program_keeps_state_in_variables():
    peer = baselines.ExprTk(['y = lowpass(x.a, 0.5)', 'z = ddt(x.a)'])
    assert ':=' in peer.source and 'exp(-dt / 0.5)' in peer.source
    peer.set_inputs({'x.a': 2.0})
    peer.step(0.1)
    assert peer.results() == {'y': 2.0, 'z': 0.0}
    peer.set_inputs({'x.a': 3.0})
    peer.step(0.1)
    result = peer.results()
    assert result['z'] == pytest.approx(10.0)
    assert result['y'] == pytest.approx(2.0 + (1 - np.exp(-0.2)) * 1.0)


def test_scaled_statements_compile_to_distinct_blocks():
    from arena_eval import compile_batch

    seven, seventy = compile_batch(bench.scaled_statements(7)), compile_batch(
        bench.scaled_statements(70))
    assert len(bench.scaled_statements(10)) == 10
    assert len(seventy.outputs) == 70
    assert seventy.n_ops == 10 * seven.n_ops


def test_allocation_counters_see_allocations():
    import numba

    @numba.njit
    def allocating(dt):
        return np.empty(3).sum() * dt

    allocating(0.1)
    nrt = bench.nrt_allocations(allocating, calls=1000)
    assert nrt is not None and nrt[0] >= 1000
    kept = []
    blocks, size = bench.tracemalloc_net(lambda dt: kept.append([dt]), calls=1000)
    assert blocks >= 1000 and size > 0


def test_arena_step_allocates_nothing():
    step = bench.ArenaPeer(bench.default_statements()).batch.step
    assert bench.nrt_allocations(step, calls=20_000) == (0, 0)
    assert bench.tracemalloc_net(step, calls=20_000) == (0, 0)


def test_time_calls_returns_median_and_best():
    median, best = bench.time_calls(bench._noop, 0.001, rounds=3, round_ns=1_000_000)
    assert 0 < best <= median


@pytest.mark.slow
@pytest.mark.ros
def test_node_bench_measures_every_subject_side_by_side():
    done = subprocess.run([sys.executable, '-m', 'arena_eval', 'bench', '--node', '1.5',
                           '--rounds', '2'],
                          capture_output=True, text=True, timeout=480, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for subject, tick in (('arena_eval node', 'compiled'),
                          ('naive rclpy node (timer + eval)', '-')):
        row = re.search(r'^%s\s+([\d.]+)\s+([\d.]+)\s+(\d+)/(\d+)/(\d+)\s.*  (\S.*)$'
                        % re.escape(subject), out, re.M)
        assert row, out
        cpu, rate = float(row.group(1)), float(row.group(2))
        # Every subject really ran and published: some CPU, results arriving (no speed claim).
        assert cpu > 0 and rate > 0 and row.group(6) == tick, out
    assert re.search(r'naive rclpy node \(timer \+ eval\) uses [\d.]+x the CPU of the node$',
                     out, re.M), out
    assert re.search(r'^  arena_eval node\s+[\d.]+ / [\d.]+$', out, re.M), out  # both rounds
    assert re.search(r'^target: node <= 5% of one core at 1 kHz: [\d.]+% (PASS|MISS)', out,
                     re.M), out
    if cfloor.compiler() is not None:
        assert re.search(r'^C floor \(cfloor.c on rcl\)\s+[\d.]+\s+[\d.]+\s', out, re.M), out
        assert re.search(r'^arena_eval node uses [\d.]+x the CPU of the C floor$', out, re.M), out
        assert re.search(r'^target: node <= 1.2x the C floor at 1 kHz: [\d.]+x (PASS|MISS)$',
                         out, re.M), out
    else:
        assert 'C floor: not measured: no C compiler found' in out, out


@pytest.mark.slow
@pytest.mark.ros
def test_rates_bench_runs_the_node_at_every_rate():
    done = subprocess.run([sys.executable, '-m', 'arena_eval', 'bench', '--rates', '1.5'],
                          capture_output=True, text=True, timeout=480, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for rate in ('2000', '5000', '10000'):
        row = re.search(r'^node at %s Hz\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s'
                        % rate, out, re.M)
        assert row and float(row.group(2)) > 0 and float(row.group(3)) > 0, out


@pytest.mark.slow
@pytest.mark.ros
def test_latency_bench_prints_every_subject_at_both_rates():
    if cfloor.compiler() is None:
        pytest.skip('no C compiler here: the latency probe is C')
    done = subprocess.run([sys.executable, '-m', 'arena_eval', 'bench', '--latency', '0.5'],
                          capture_output=True, text=True, timeout=900, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    for rate in ('200', '1000'):
        for subject in ('node, periodic 1 kHz', 'node, triggered (trigger: imu)',
                        'C program, periodic 1 kHz',
                        'C program, triggered (rcl_wait)', 'C program, triggered (callback)',
                        'naive rclpy node, per message'):
            row = re.search(r'^%s\s+%s\s+(\d+)\s+(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$'
                            % (re.escape(subject), rate), out, re.M)
            assert row, (subject, rate, out)
            # Every subject evaluated messages and sent results back (no speed claim).
            assert 0 < float(row.group(1)) <= float(row.group(3)) and float(row.group(4)) > 0
    assert re.search(r'^target: 200 Hz node triggered p50 <= 1.15x the triggered C program: '
                     r'[\d.]+x (PASS|MISS)$', out, re.M), out
    assert re.search(r'^1000 Hz: C program, triggered \(callback\): p50 [\d.]+x, CPU [\d.]+x '
                     r'the C program triggered \(rcl_wait\)$', out, re.M), out


def test_naive_evaluator_reads_the_stamp_and_rejects_other_message_time():
    from arena_eval.tools.naive_node import NaiveEvaluator
    from sensor_msgs.msg import Imu

    evaluator = NaiveEvaluator(['sent = stamp(imu)', 'z = imu.linear_acceleration.z'], ['imu'])
    msg = Imu()
    msg.header.stamp.sec, msg.header.stamp.nanosec = 12, 500_000_000
    msg.linear_acceleration.z = 9.81
    evaluator.set_message('imu', msg)
    assert evaluator.step(0.001) == [12.5, 9.81]
    with pytest.raises(ValueError, match='does not implement fresh'):
        NaiveEvaluator(['f = fresh(imu)'], ['imu'])
