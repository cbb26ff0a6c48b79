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


def test_prev_first_tick_and_initial_value():
    assert_steps(run('prev(x.a, 7)', [3, 5, 6]), [7, 3, 5])
    assert_steps(run('prev(x.a, x.c)', [3, 5, 6], cond=[-1, -2, -3]), [-1, 3, 5])


def test_unit_delay_timer():
    """The usual timer: counts time while x.a > 20, back to 0 when not; first tick 0 + dt."""
    got = run('(prev(y) + dt) * (x.a > 20)', [25, 25, 25, 10, 25, 25], dts=[0.25] * 6)
    assert_steps(got, [0.25, 0.5, 0.75, 0, 0.25, 0.5])


def test_unit_delay_initial_value_and_latch():
    # a latch: set by x.a > 5, reset by x.c; starts set (init 1)
    got = run('where(x.c, 0, max(prev(y, 1), x.a > 5))', [0, 0, 9, 0, 0, 0],
              cond=[0, 1, 0, 0, 1, 0])
    assert_steps(got, [1, 0, 1, 1, 0, 0])


def test_unit_delays_between_statements():
    batch = compile_batch(['a = prev(b) + 1', 'b = prev(a) * 2', 'c = prev(prev(a))'])
    got = [batch.evaluate({}) for _ in range(4)]
    # a: 1, 1, 3, 3+... ; b: 0, 2, 2, 6
    assert [(o['a'], o['b'], o['c']) for o in got] == [
        (1.0, 0.0, 0.0), (1.0, 2.0, 0.0), (3.0, 2.0, 1.0), (3.0, 6.0, 1.0)]


def test_delayed_name_is_read_before_it_is_computed():
    # `early` is emitted before `late` in either order; prev(late) is late's previous value
    for texts in (['early = prev(late)', 'late = x.a * 2'],
                  ['late = x.a * 2', 'early = prev(late)']):
        batch = compile_batch(texts)
        outs = [batch.evaluate({'x.a': v})['early'] for v in (1.0, 2.0, 3.0)]
        assert outs == [0.0, 2.0, 4.0], texts


def test_time_window_with_one_bucket_per_step():
    # dt = 1/64 s and a 1 s window: one bucket per step, the last 64 samples exactly
    xs = [float((i * 7) % 23) for i in range(200)]
    for name, pick in (('mean_s', lambda w: sum(w) / len(w)), ('minimum_s', min),
                       ('maximum_s', max)):
        got = run(f'{name}(x.a, 1)', xs, dts=[1 / 64] * len(xs))
        want = [pick(xs[max(0, i - 63):i + 1]) for i in range(len(xs))]
        assert_steps(got, want)


def test_time_window_keeps_its_length_when_the_rate_changes():
    """0.5 s of samples at 100 Hz and at 1 kHz: the same time span, not the same count."""
    for hz in (128, 1024):
        xs = [1.0] * hz + [0.0] * (hz // 4)      # 1 s of ones, then 0.25 s of zeros
        got = run('mean_s(x.a, 0.5)', xs, dts=[1.0 / hz] * len(xs))
        assert got[-1] == pytest.approx(0.5, abs=1 / 64 + 1e-12), hz
        assert run('minimum_s(x.a, 0.5)', xs, dts=[1.0 / hz] * len(xs))[-1] == 0.0


def test_time_window_forgets_everything_after_a_long_step():
    assert_steps(run('maximum_s(x.a, 1)', [9, 1, 2], dts=[0.1, 5.0, 0.1]), [9, 1, 2])
    assert_steps(run('mean_s(x.a, 1)', [3, 5, 7], dts=[0.1, 0.0, -1.0]), [3, 4, 5])


def test_nan_leaves_a_time_window():
    # 0.25 s at 16 Hz: the current step and the 3 before it
    got = run('minimum_s(x.a, 0.25)', [1, NAN, 3, 4, 5, 6, 7], dts=[1 / 16] * 7)
    assert_steps(got, [1, NAN, NAN, NAN, NAN, 3, 4])


def test_held_debounces():
    """held(cond, 0.2): 1 once cond has been true for 0.2 s, also right after the start."""
    xs = [25, 25, 25, 25, 25, 10, 25, 25, 25, 25, 25]
    got = run('held(x.a > 20, 0.2)', xs, dts=[0.0625] * len(xs))
    # true since step 0: 0.1875 s at step 3, 0.25 at step 4; reset at 5; again from step 6
    assert_steps(got, [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
    assert_steps(run('held(x.a, 0)', [1, 0, NAN], dts=[0.1] * 3), [1, 0, 1])
    assert_steps(run('held(x.a, x.c)', [1, 1, 1], cond=[1, NAN, 0]), [0, 0, 1])


def test_minimum_at_start_is_over_the_steps_seen():
    """Documented: no debounce from minimum() at start; held() is the idiom for that."""
    assert run('minimum(x.a > 20, 200)', [25, 25, 10]) == [1.0, 1.0, 0.0]
