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
Record `test/golden/tick.npz`: the Python tick's outputs on the corpus of `golden_corpus.py`.

    .venv/bin/python test/record_golden.py

Never run by the tests. It needs the Python tick (`arena_eval/ros/tick.py`,
`InputBindings.on_message/copy_latest`), which the one-tick change retired: to re-record, run
it on the commit that recorded the file (`git log -- test/golden/tick.json`). Per program and
stream it stores the batch's outputs per tick (`<program>/<seed>/out`, float64) and input
valid flags (`.../valid`, uint8), and as JSON (`.../json`) per tick the typed outputs'
published bytes (hex) and, every 10 ticks, the diagnostics' input facts.
"""

import json
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from golden_corpus import (  # noqa: E402
    clock_ns, facts_record, params, PROGRAMS, stream, STREAMS)
import numpy as np  # noqa: E402

GOLDEN = Path(__file__).parent / 'golden' / 'tick.npz'


class Sink:
    def __init__(self):
        self.sent = []

    def publish(self, data):
        self.sent.append(bytes(data))


def _tick(program, pollers, clock):
    from arena_eval.msgtypes.inputs import InputBindings
    from arena_eval.params.config import build_batch, config_from_parameters
    from arena_eval.ros.tick import Tick
    config, errors, _ = config_from_parameters(params(program))
    assert not errors, [e.one_line() for e in errors]
    batch = build_batch(config)
    sinks = {name: Sink() for name in config.outputs}
    tick = Tick(batch, InputBindings(config, batch), pollers, Sink(),
                n_results=len(config.expressions),
                typed=[(o, sinks[name]) for name, o in config.outputs.items()],
                now=lambda: clock[0])
    return config, tick, sinks


def run_python(program, swap, seed):
    """Run the Python tick on stream `seed`; return the record of every tick."""
    from arena_eval.params.config import config_from_parameters
    from arena_eval.ros.tick import BytesTaker, Poller
    config, _, _ = config_from_parameters(params(program))
    takers = {name: BytesTaker() for name in config.inputs}
    pollers = [Poller(c, takers[name]) for name, c in config.inputs.items()]
    clock = [0]
    config, tick, sinks = _tick(program, pollers, clock)
    out, valid, ticks = [], [], []
    for k, (now, dt, waiting) in enumerate(stream(seed, program['inputs'], program['sim_time'])):
        if swap is not None and k == swap[0]:
            old = tick.batch
            config, tick, sinks = _tick(swap[1], pollers, clock)
            tick.carry_state_from_non_rt(old)
        for name, raws in waiting.items():
            if name == 'clock':
                clock[0] = clock_ns(raws[-1])
                continue
            for raw in raws:
                takers[name].push(raw)
        sent = {name: len(sink.sent) for name, sink in sinks.items()}
        tick(now, dt)
        out.append(tick.batch.output_buffer.copy())
        valid.append(tick.batch.input_valid.copy())
        record = {'typed': {name: sink.sent[-1].hex() for name, sink in sinks.items()
                            if len(sink.sent) > sent[name]}}
        if k % 10 == 9:
            record['facts'] = facts_record(tick.bindings.facts(now))
        ticks.append(record)
    return _stack(out, np.nan), _stack(valid, 0.0).astype(np.uint8), ticks


def _stack(rows, pad):
    # A swap changes the width: pad the narrower program's rows.
    width = max(len(r) for r in rows)
    return np.array([np.concatenate([r, np.full(width - len(r), pad)]) for r in rows])


def main():
    golden = {}
    for name, (program, swap) in PROGRAMS.items():
        for seed in STREAMS:
            out, valid, ticks = run_python(program, swap, seed)
            golden[f'{name}/{seed}/out'] = out
            golden[f'{name}/{seed}/valid'] = valid
            golden[f'{name}/{seed}/json'] = np.array(json.dumps(ticks, separators=(',', ':')))
        print(name, 'recorded')
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, **golden)
    print(f'{GOLDEN}: {GOLDEN.stat().st_size} bytes')


if __name__ == '__main__':
    main()
