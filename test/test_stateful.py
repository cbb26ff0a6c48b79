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
Stateful functions over sequences of steps, against values computed by hand.

Each case feeds a sequence of `x` values (and `dt`s) through one function and checks every step,
first tick included; then window wrap-around, nan entering and leaving a window, the nan rules
of the filters, `reset()`, and that identical calls sharing a state block stay identical.
"""

import math

from arena_eval.engine.arena import compile_batch
import pytest

NAN = math.nan
INF = math.inf


def run(expr, xs, dts=None, cond=None):
    """Step `y = expr` over inputs x.a = xs (and x.c = cond); return the outputs."""
    statements = [f'y = {expr}', 'keep = x.a + x.c']
    batch = compile_batch(statements)
    out = []
    for i, x in enumerate(xs):
        dt = dts[i] if dts else 0.5
        out.append(batch.evaluate({'x.a': x, 'x.c': cond[i] if cond else 0.0}, dt=dt)['y'])
    return out


def assert_steps(got, want):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, rel=1e-14, abs=0), (
            f'step {i}: {got} != {want}')


def test_prev():
    assert_steps(run('prev(x.a)', [3, 5, 7, 7]), [3, 3, 5, 7])


def test_delta():
    assert_steps(run('delta(x.a)', [3, 5, 4, 4]), [0, 2, -1, 0])


def test_ddt():
    assert_steps(run('ddt(x.a)', [3, 5, 4, 4], dts=[0.5, 0.5, 0.25, 0.0]), [0, 4, -4, 0])


def test_ddt_is_zero_when_dt_is_not_positive():
    assert_steps(run('ddt(x.a)', [1, 2, 5], dts=[0.1, -0.1, 0.0]), [0, 0, 0])


def test_integral_is_trapezoidal():
    # (1+3)/2*0.5 = 1; (3+5)/2*0.5 = 2 -> 3; (5+5)/2*1 = 5 -> 8
    assert_steps(run('integral(x.a)', [1, 3, 5, 5], dts=[0.5, 0.5, 0.5, 1.0]), [0, 1, 3, 8])


def test_integral_skips_a_nan_sample():
    # the nan step is skipped: the next step integrates from the last good sample
    assert_steps(run('integral(x.a)', [2, NAN, 4], dts=[1, 1, 1]), [0, NAN, 3])


def test_lowpass():
    a = -math.expm1(-0.5 / 2.0)  # dt / tau = 0.25
    y1 = 4 + a * (8 - 4)
    y2 = y1 + a * (0 - y1)
    assert_steps(run('lowpass(x.a, 2)', [4, 8, 0]), [4, y1, y2])


def test_lowpass_with_zero_tau_passes_x():
    assert_steps(run('lowpass(x.a, 0)', [4, 8, -1]), [4, 8, -1])


def test_lowpass_skips_nan_and_restarts_after_infinity():
    a = -math.expm1(-0.25)
    assert_steps(run('lowpass(x.a, 2)', [NAN, 4, NAN, 8]), [NAN, 4, NAN, 4 + a * 4])
    # inf - inf: nan, then a restart from the next x
    assert_steps(run('lowpass(x.a, 2)', [INF, 1, 5, 6]), [INF, NAN, 5, 5 + a * 1])


def test_ema_and_its_alpha_clamp():
    assert_steps(run('ema(x.a, 0.25)', [4, 8, 0]), [4, 5, 3.75])
    assert_steps(run('ema(x.a, 7)', [4, 8, 0]), [4, 8, 0])
    assert_steps(run('ema(x.a, -1)', [4, 8, 0]), [4, 4, 4])


def test_ema_with_a_nan_alpha_outputs_nan_and_keeps_state():
    assert_steps(run('ema(x.a, x.c)', [4, 8, 0], cond=[0.5, NAN, 0.5]), [4, NAN, 2])


def test_rate_limit():
    # max 2 per second, dt 0.5: at most 1 per step
    assert_steps(run('rate_limit(x.a, 2)', [0, 5, 5, 2.5, 2.5, 10]), [0, 1, 2, 2.5, 2.5, 3.5])
    assert_steps(run('rate_limit(x.a, -3)', [1, 5, -5]), [1, 1, 1])


def test_mean_over_a_window_that_fills_then_wraps():
    xs = [1, 2, 3, 4, 5, 6, 7]
    want = [1, 1.5, 2, 3, 4, 5, 6]
    assert_steps(run('mean(x.a, 3)', xs), want)


def test_nan_leaves_the_mean_window_after_n_steps():
    xs = [1, NAN, 3, 4, 5, 6, 7, 8]
    want = [1, NAN, NAN, NAN, 4, 5, 6, 7]
    assert_steps(run('mean(x.a, 3)', xs), want)


def test_infinity_leaves_the_mean_window():
    assert_steps(run('mean(x.a, 2)', [1, INF, 3, 5, -INF, INF, 2, 4]),
                 [1, INF, INF, 4, -INF, NAN, INF, 3])


def test_mean_of_one():
    assert_steps(run('mean(x.a, 1)', [3, NAN, 5]), [3, NAN, 5])


def test_minimum_and_maximum_windows():
    xs = [5, 3, 9, 1, 8, 8, 7, 6]
    assert_steps(run('minimum(x.a, 3)', xs), [5, 3, 3, 1, 1, 1, 7, 6])
    assert_steps(run('maximum(x.a, 3)', xs), [5, 5, 9, 9, 9, 8, 8, 8])
    assert_steps(run('maximum(x.a, 2)', [1, NAN, 3, 2]), [1, NAN, NAN, 3])


def test_hold():
    cond = [0, 1, 0, 0, 1, NAN]
    assert_steps(run('hold(x.a, x.c)', [5, 6, 7, 8, 9, 10], cond=cond), [5, 6, 6, 6, 9, 10])


def test_reset_returns_to_the_first_tick():
    batch = compile_batch(['p = prev(x.a)', 'm = mean(x.a, 4)', 'i = integral(x.a)', 'time = t'])
    for x in (1.0, 2.0, 3.0):
        batch.evaluate({'x.a': x}, dt=1.0)
    assert batch.t == 3.0
    batch.reset()
    assert math.isnan(batch.output_buffer[0]) and batch.t == 0.0
    assert batch.evaluate({'x.a': 10.0}, dt=1.0) == {'p': 10.0, 'm': 10.0, 'i': 0.0, 'time': 1.0}


def test_shared_state_block_gives_identical_outputs():
    batch = compile_batch(['a = lowpass(x.a, 0.1)', 'b = lowpass(x.a, 0.1)', 'c = mean(x.a, 5)',
                           'd = mean(x.a, 5) + 0'])
    for x in (1.0, 5.0, -2.0, 7.0):
        out = batch.evaluate({'x.a': x}, dt=0.01)
        assert out['a'] == out['b'] and out['c'] == out['d']


def test_stateful_calls_in_an_untaken_branch_still_step():
    # both branches run every step: prev() sees every x even while the other branch is chosen
    assert_steps(run('prev(x.a) if x.c else -1', [1, 2, 3, 4], cond=[0, 0, 0, 1]), [-1, -1, -1, 3])


def test_large_window_wraps_many_times():
    n = 100
    xs = [float(i % 37) for i in range(1000)]
    got = run(f'mean(x.a, {n})', xs, dts=[0.001] * len(xs))
    for i in (0, 50, 99, 100, 517, 999):
        window = xs[max(0, i - n + 1):i + 1]
        assert got[i] == pytest.approx(sum(window) / len(window), rel=1e-12)
