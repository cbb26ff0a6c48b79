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
`Batch`: its buffers, the stale policy, `reset()`, `evaluate()`, and zero allocations per step.

Allocations are counted, never timed: numba's NRT counters (`NUMBA_NRT_STATS=1`, in a fresh
interpreter so the flag is set before numba loads) over 100,000 steps, and `tracemalloc` over the
Python side of `step()`. Each count is checked against a control that does allocate, so a
counter that is off cannot pass the test.
"""

import gc
import itertools
import json
import math
import os
import subprocess
import sys
import tracemalloc
import types

from arena_eval.engine import fastcall
from arena_eval.engine import program as pg
from arena_eval.engine.arena import compile_batch, state_plan
import numpy as np
import pytest
from reference import DEFAULT_BATCH

NAN = math.nan


def stale_batch(policy):
    return compile_batch(['a = x.a * 2', 'b = y.b + 1', 'c = a + y.b', 'k = 5',
                          's = prev(x.a)'], stale_policy=policy)


def test_buffers_are_views_into_one_block():
    batch = compile_batch(['n = hypot(v.x, v.y)', 'm = n * 2'])
    assert batch.inputs == ('v.x', 'v.y') and batch.outputs == ('n', 'm')
    for view in (batch.input_buffer, batch.input_valid, batch.output_buffer):
        assert view.dtype == np.float64 and np.shares_memory(view, batch._block)
    assert np.isnan(batch.input_buffer).all() and (batch.input_valid == 1.0).all()
    assert np.isnan(batch.output_buffer).all()
    batch.input_buffer[:] = (3.0, 4.0)
    batch.step(0.001)
    assert batch.output_buffer.tolist() == [5.0, 10.0]
    assert batch.output_inputs == {'n': ('v.x', 'v.y'), 'm': ('v.x', 'v.y')}
    assert batch.n_ops == batch.program.n_ops == 4
    assert 'hypot' in batch.disassemble()


def test_stale_policy_nan():
    batch = stale_batch('nan')
    batch.input_buffer[:] = (1.0, 10.0)
    batch.step(0.1)
    assert batch.output_buffer.tolist() == [2.0, 11.0, 12.0, 5.0, 1.0]
    batch.input_buffer[:] = (3.0, 20.0)
    batch.input_valid[batch.inputs.index('x.a')] = 0.0
    batch.step(0.1)
    out = dict(zip(batch.outputs, batch.output_buffer.tolist(), strict=True))
    assert math.isnan(out['a']) and math.isnan(out['c']) and math.isnan(out['s'])
    assert out['b'] == 21.0 and out['k'] == 5.0


def test_stale_policy_hold_and_switching_policy():
    batch = stale_batch('hold')
    assert batch.stale_policy == 'hold'
    batch.input_buffer[:] = (1.0, 10.0)
    batch.step(0.1)
    batch.input_buffer[:] = (3.0, 20.0)
    batch.input_valid[0] = 0.0
    batch.step(0.1)
    assert batch.output_buffer.tolist() == [2.0, 21.0, 12.0, 5.0, 1.0]
    batch.stale_policy = 'nan'
    assert batch._block[pg.H_POLICY] == pg.POLICY_NAN
    batch.step(0.1)
    assert np.isnan(batch.output_buffer[0])
    batch.input_valid[0] = 1.0
    batch.step(0.1)
    # prev(x.a) held its state while x.a was stale: it is the x.a of the last fresh step
    assert batch.output_buffer.tolist() == [6.0, 21.0, 26.0, 5.0, 1.0]
    with pytest.raises(ValueError):
        batch.stale_policy = 'last'


def test_any_nonzero_valid_flag_is_fresh():
    batch = compile_batch(['a = x.a + 1'])
    batch.input_buffer[0] = 1.0
    for flag, fresh in ((1.0, True), (0.5, True), (NAN, True), (-0.0, False), (0.0, False)):
        batch.input_valid[0] = flag
        batch.step(0.1)
        assert bool(batch.output_buffer[0] == 2.0) is fresh, flag


def test_reset():
    batch = compile_batch(['d = delta(x.a)', 'time = t'])
    batch.evaluate({'x.a': 1.0})
    assert batch.evaluate({'x.a': 4.0}, dt=0.5) == {'d': 3.0, 'time': 0.501}
    batch.reset()
    assert np.isnan(batch.output_buffer).all() and batch.t == 0.0
    assert batch.evaluate({'x.a': 9.0}, dt=0.5) == {'d': 0.0, 'time': 0.5}


def test_evaluate_names_missing_and_unknown_inputs():
    batch = compile_batch(['a = x.a + x.b + x.c'])
    with pytest.raises(ValueError) as info:
        batch.evaluate({'x.b': 1.0, 'x.z': 2.0})
    assert str(info.value) == 'missing input values: x.a, x.c; unknown inputs: x.z'
    assert compile_batch(['k = 2 ^ 10']).evaluate({}) == {'k': 1024.0}


def test_evaluate_marks_every_input_fresh():
    batch = compile_batch(['a = x.a + 1'])
    batch.input_valid[0] = 0.0
    assert batch.evaluate({'x.a': 1.0}) == {'a': 2.0}


def test_a_step_kept_after_its_batch_is_gone_stays_valid():
    batch = compile_batch(['a = x.a * 3'])
    batch.input_buffer[0] = 2.0
    out = batch.output_buffer
    step = batch.step
    assert step.__self__.block is batch._block  # the fast entry's binding holds the block
    del batch
    gc.collect()
    np.zeros(10000).sum()  # reuse freed memory, if the block had been freed
    step(0.001)
    assert out[0] == 6.0


def test_the_address_binding_keeps_its_block_alive_too():
    block, _ = pg.pack(compile_batch(['a = x.a * 3']).program)
    step = fastcall._bind_address(fastcall.entry_point(0), block)
    key = id(step)
    assert fastcall._BLOCKS[key] is block
    del block
    gc.collect()
    step(0.001)
    del step
    gc.collect()
    assert key not in fastcall._BLOCKS


def test_fast_entry_is_used_and_agrees_with_numba_wrapper():
    assert fastcall.fastcall_supported()
    fast = compile_batch(DEFAULT_BATCH)
    slow = compile_batch(DEFAULT_BATCH)
    slow.step = fastcall._bind_address(fastcall.entry_point(0), slow._block)
    assert type(fast.step).__name__ == 'builtin_function_or_method'
    assert fast.step.__self__.block is fast._block and isinstance(slow.step, types.MethodType)
    words = fast.step.__self__
    assert words[fastcall.W_BLOCK] == fast._block.ctypes.data
    assert words[fastcall.W_FINGERPRINT] == fastcall.FINGERPRINT
    rng = np.random.default_rng(7)
    for k in range(200):
        values = rng.normal(size=len(fast.inputs))
        for batch in (fast, slow):
            batch.input_buffer[:] = values
            batch.input_valid[:] = k % 7 != 3
            batch.step(0.001 * (1 + k % 3))
        assert np.array_equal(fast.output_buffer, slow.output_buffer, equal_nan=True)


def test_fast_entry_arguments_and_reference_counts():
    batch = compile_batch(['time = t'])
    assert batch.step(0.5) is None
    batch.step(1)  # an int
    batch.step(np.float64(0.25))  # a float subclass
    batch.step(True)  # anything with __float__
    assert batch.t == 2.75
    with pytest.raises(TypeError, match=r'step\(\) takes exactly one argument \(dt\)'):
        batch.step()
    with pytest.raises(TypeError, match='exactly one argument'):
        batch.step(0.1, 0.2)
    with pytest.raises(TypeError, match='must be real number, not str'):
        batch.step('0.1')
    assert batch.t == 2.75
    block = batch._block
    nones, blocks = sys.getrefcount(None), sys.getrefcount(block)
    for _ in range(10_000):
        batch.step(0.001)
    nones, blocks = sys.getrefcount(None) - nones, sys.getrefcount(block) - blocks
    # a missing or extra reference per call would show as 10,000; None is shared, so a few
    # references come and go elsewhere meanwhile
    assert abs(nones) < 100 and blocks == 0


def test_a_fast_entry_with_other_constants_falls_back(monkeypatch):
    """The entry writes the fingerprint frozen into it: a stale one is never used."""
    refreshed = []
    monkeypatch.setattr(fastcall, 'FINGERPRINT', fastcall.FINGERPRINT + 1)
    monkeypatch.setattr(fastcall, 'refresh_entry', lambda: refreshed.append(1))
    batch = compile_batch(['a = x.a + 1'])
    assert refreshed == [1]
    assert isinstance(batch.step, types.MethodType)
    assert batch.evaluate({'x.a': 1.0}) == {'a': 2.0}


def test_nothing_grows_after_compiling():
    batch = compile_batch(DEFAULT_BATCH)
    size = batch._block.nbytes
    address = batch._block.ctypes.data
    for _ in range(1000):
        batch.step(0.001)
    batch.reset()
    batch.stale_policy = 'hold'
    assert batch._block.nbytes == size and batch._block.ctypes.data == address


def test_python_side_of_step_allocates_nothing():
    batch = compile_batch(DEFAULT_BATCH)
    batch.input_buffer[:] = np.linspace(0.1, 1.0, len(batch.inputs))
    dt = 0.001
    batch.step(dt)
    tracemalloc.start()
    try:
        def traced_peak(call, n=10000):
            call()
            tracemalloc.reset_peak()
            start = tracemalloc.get_traced_memory()[0]
            for _ in itertools.repeat(None, n):
                call()
            current, peak = tracemalloc.get_traced_memory()
            return current - start, peak - start
        # Measuring costs a few bytes of its own (the numbers it reads): a call that does
        # nothing shows them, and a step must show exactly as much, over 10x more calls too.
        nothing = traced_peak(lambda: None)
        assert traced_peak(lambda: batch.step(dt)) == nothing
        assert traced_peak(lambda: batch.step(dt), 100_000) == nothing
        # control: a call that allocates (a dict) shows up
        assert traced_peak(lambda: batch.evaluate(dict.fromkeys(batch.inputs, 1.0)))[1] > (
            nothing[1])
    finally:
        tracemalloc.stop()


NRT_SCRIPT = """
import json
import sys
sys.path.insert(0, {test_dir!r})
import numpy as np
from numba import njit
from numba.core.runtime import rtsys
from arena_eval.engine import kernel
from arena_eval.engine.arena import compile_batch
from reference import DEFAULT_BATCH


def count(call, n=100_000):
    call()
    before = rtsys.get_allocation_stats()
    for _ in range(n):
        call()
    after = rtsys.get_allocation_stats()
    return after.alloc - before.alloc, after.free - before.free


small = compile_batch(DEFAULT_BATCH)
small.input_buffer[:] = np.linspace(0.1, 1.0, len(small.inputs))
big = compile_batch(['s0 = x.a + 1'] + ['s%d = sin(s%d)' % (i, i - 1) for i in range(1, 2100)])
assert type(big.step) is not type(small.step)  # numba's nogil wrapper / the fast entry
address = small._block.ctypes.data
array = np.zeros(3)
takes_array = njit(lambda a: a[0])
# every stateful construct, one input stale so guards skip (and restart)
state = compile_batch(['timer = (prev(timer, 1) + dt) * (x.a > 0)', 'm = mean_s(x.b, 0.1)',
                       'h = held(x.a > 0, 0.05)', 'w = minimum_s(x.a, 0.2) + mean(x.b, 9)',
                       'i = integral(x.a) + lowpass(x.b, 0.1)'], stale_state='restart')
state.input_buffer[:] = 1.0
state.input_valid[0] = 0.0
print(json.dumps([count(lambda: small.step(0.001)), count(lambda: big.step(0.001), 10_000),
                  count(lambda: kernel.run_holding_gil(address, 0.001)),
                  count(lambda: takes_array(array)), count(lambda: state.step(0.001))]))
"""


def test_zero_nrt_allocations_per_step():
    env = dict(os.environ, NUMBA_NRT_STATS='1')
    script = NRT_SCRIPT.format(test_dir=os.path.dirname(__file__))
    result = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    small, big, dispatcher, control, state = json.loads(result.stdout)
    assert small == [0, 0] and big == [0, 0] and dispatcher == [0, 0] and state == [0, 0]
    # control: numba boxes each array argument as one NRT allocation per call
    assert control[0] >= 100_000


def test_state_carries_over_where_the_meaning_did_not_change():
    old = compile_batch(['p = x.a * x.b', 'en = integral(p)', 'alarm = en > 100',
                         'f = lowpass(x.a, 0.5)', 'timer = (prev(timer) + dt) * (x.a > 1)'])
    for _ in range(10):
        old.evaluate({'x.a': 2.0, 'x.b': 3.0}, dt=0.5)
    new = compile_batch(['alarm = en > 120', 'p = x.a * x.b', 'en = integral(p)',
                         'f = lowpass(x.a, 0.25)', 'timer = (prev(timer) + dt) * (x.a > 1)',
                         'g = lowpass(x.a, 0.5)'])
    plan = state_plan(old.program, new.program)
    assert new.adopt_state(old, plan) == len(plan) == 3  # en, timer, g (f's tau changed)
    out = new.evaluate({'x.a': 4.0, 'x.b': 3.0}, dt=0.5)
    assert out['en'] == 27.0 + (12.0 + 6.0) / 2 * 0.5   # kept: 9 steps of 6 * 0.5, then one
    assert out['timer'] == 5.5 and new.t == 5.5
    assert out['f'] == 4.0                              # changed: a first tick
    assert out['g'] == pytest.approx(2.0 + -math.expm1(-1.0) * 2.0)  # kept f's old state


def test_unrelated_state_is_not_adopted():
    old = compile_batch(['en = integral(x.a)'])
    new = compile_batch(['other = integral(x.b)'])
    assert new.adopt_state(old) == 0
