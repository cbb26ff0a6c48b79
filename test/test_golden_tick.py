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
The compiled tick reproduces the retired Python tick's golden outputs bit for bit.

`golden/tick.npz` holds what the Python tick (`ros/tick.py` with `inputs.InputBindings`)
computed on the corpus of `golden_corpus.py` (every function of the language, both stale
policies and stale states, message time, names, arrays of messages, typed outputs with their
bytes, swaps with state carried), recorded by `record_golden.py`. Here the compiled tick
(`rt/compiled_tick.py`, offline: `begin`, `offer`, `tick_offline`) runs in-process on the same
serialized messages: every tick's outputs and valid flags (nan equal to any nan), every typed
publication's bytes and the diagnostics' facts every 10 ticks must be the same.
"""

import json
from pathlib import Path

from arena_eval.msgtypes import plans
from arena_eval.msgtypes.templates import TypedOutput
from arena_eval.params.config import build_batch, config_from_parameters
from arena_eval.rt import compiled_tick as ct
from golden_corpus import canonical, facts_record, params, PROGRAMS, same_bits, stream, STREAMS
import numpy as np
import pytest

GOLDEN = np.load(Path(__file__).parent / 'golden' / 'tick.npz')
# Programs the compiled tick cannot run yet (building them raises plans.Unsupported).
EXPECTED_UNSUPPORTED = set()


class Compiled:
    """One program's `TickConfig`, offline, over inputs shared by successive programs."""

    def __init__(self, program, inputs, clock):
        config, errors, _ = config_from_parameters(params(program))
        assert not errors
        self.config = config
        self.batch = build_batch(config)
        names = list(config.inputs)
        self.typed = [TypedOutput(o, self.batch, lambda raw: None, now=lambda: 0)
                      for o in config.outputs.values()]
        self.tick = ct.TickConfig(
            None, 0, self.batch,
            [(inputs[name], config.inputs[name].timeout, config.inputs[name].msg_type)
             for name in names],
            ct.slot_reads(names, self.batch.inputs), [], n_results=len(config.expressions),
            typed=[(t, None) for t in self.typed], clock=clock if program['sim_time'] else None)
        self.names = names

    def published(self):
        return [self.tick.published(t) for t in range(len(self.typed))]


def run_compiled(program, swap, seed):
    """Run the compiled tick on stream `seed`; return what `record_golden.run_python` does."""
    inputs = {name: ct.OfflineInput(name) for name in program['inputs']}
    clock = ct.OfflineInput('clock')
    current = Compiled(program, inputs, clock)
    ct.begin(current.tick.address)
    packed = np.zeros(5, np.int64)
    alive = []  # the bytes each input's struct points at stay alive
    out, valid, ticks = [], [], []
    for k, (now, dt, waiting) in enumerate(stream(seed, program['inputs'], program['sim_time'])):
        if swap is not None and k == swap[0]:
            old = current
            current = Compiled(swap[1], inputs, clock)
            current.tick.carry_state_from(old.batch)
            ct.begin(current.tick.address)
        rows = {name: i for i, name in enumerate(current.names)}
        if program['sim_time']:
            rows['clock'] = len(current.names)
        for name, raws in waiting.items():
            data = np.frombuffer(raws[-1], np.uint8)
            alive.append(data)
            packed[:] = (rows[name], data.ctypes.data, data.size, now, len(raws))
            ct.offer(current.tick.address, packed.ctypes.data)
        before = current.published()
        assert ct.tick_offline(current.tick.address, now, dt) == 0
        out.append(current.batch.output_buffer.copy())
        valid.append(current.batch.input_valid.copy())
        after = current.published()
        record = {'typed': {o.name: bytes(o.template.raw).hex()
                            for o, b, a in zip(current.typed, before, after, strict=True)
                            if a > b}}
        if k % 10 == 9:
            bindings = ct.CompiledBindings(current.config, current.batch, current.tick)
            record['facts'] = facts_record(bindings.facts(now))
        ticks.append(record)
    return out, valid, ticks


CASES = [(name, seed) for name in PROGRAMS for seed in STREAMS]


@pytest.mark.parametrize('name, seed', CASES, ids=[f'{n}-{s}' for n, s in CASES])
def test_compiled_tick_reproduces_the_golden_outputs(name, seed):
    program, swap = PROGRAMS[name]
    if name in EXPECTED_UNSUPPORTED:
        with pytest.raises(plans.Unsupported):
            run_compiled(program, swap, seed)
        return
    out, valid, ticks = run_compiled(program, swap, seed)
    golden_out = GOLDEN[f'{name}/{seed}/out']
    golden_valid = GOLDEN[f'{name}/{seed}/valid']
    golden_ticks = json.loads(str(GOLDEN[f'{name}/{seed}/json']))
    assert len(out) == len(golden_out)
    first = _output_types(program)
    later = _output_types(swap[1]) if swap is not None else None
    for k, (row, valid_row, record) in enumerate(zip(out, valid, ticks, strict=True)):
        width = len(row)
        assert same_bits(row, golden_out[k][:width]), (k, row, golden_out[k][:width])
        assert np.array_equal(valid_row, golden_valid[k][:len(valid_row)]), k
        golden = golden_ticks[k]
        assert record.get('facts') == golden.get('facts'), k
        types = later if swap is not None and k >= swap[0] else first
        assert set(record['typed']) == set(golden['typed']), k
        for name, raw in record['typed'].items():
            assert canonical(bytes.fromhex(raw), types[name]) == canonical(
                bytes.fromhex(golden['typed'][name]), types[name]), (k, name)


def _output_types(program):
    config, _, _ = config_from_parameters(params(program))
    return {o.name: o.msg_type for o in config.outputs.values()}
