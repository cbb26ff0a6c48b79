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
The preallocated arena and `Batch`: a compiled batch, its buffers, and the one-call `step()`.

`compile_batch()` compiles statements into a `Program` and packs it into ONE int64 numpy block:
a header, the instruction rows, the OUTPUT dependency lists, then the float64 arena (dt, t,
inputs, valid flags, outputs and their shadow, constants, registers, state). `Batch.step` is the
kernel bound to that block (`fastcall.bind_step`), so a step passes no array and allocates
nothing.
Nothing here grows after `compile_batch()` returns: inputs are written into `input_buffer`,
outputs read from `output_buffer`, both numpy views into the block.

>>> batch = compile_batch(['norm = hypot(v.x, v.y)', 'slow = lowpass(norm, 0.1)'])
>>> batch.inputs, batch.outputs
(('v.x', 'v.y'), ('norm', 'slow'))
>>> batch.input_buffer[:] = (3.0, 4.0)
>>> batch.step(0.001)
>>> batch.output_buffer.tolist()
[5.0, 5.0]
>>> batch.evaluate({'v.x': 0.0, 'v.y': 0.0}, dt=0.1)['slow'] < 5.0
True
"""

import math


from . import kernel
from . import program as pg
from .compile import compile_program
from .fastcall import bind_step


def compile_batch(statements, *, sources=None, check_input=None, stale_policy='nan',
                  stale_state='hold'):
    """
    Compile `'name = expr'` statements into a ready-to-step `Batch`.

    `sources`: optional list of `Source`, parallel to `statements`, so errors point into a params
    file. `check_input(path)`: returns None to accept an input path, or a message (or
    `(message, hint)`) to reject it. `stale_policy`: 'nan' or 'hold'; `stale_state`: 'hold' or
    'restart' (see `Batch`). Raises `ExpressionError` (`BatchErrors` when there are several
    errors).
    """
    pg.policy_code(stale_policy)
    pg.stale_state_code(stale_state)
    program = compile_program(statements, sources=sources, check_input=check_input)
    return Batch(program, stale_policy, stale_state)


def state_plan(old, new):
    """
    Which state blocks of program `old` carry over to program `new`: `[(src, dst, size)]`.

    A block carries over when one of its call sites' meanings (see compile.py) is also one of a
    block's in `new` and both have the same size; offsets are into the state regions.
    """
    where = {}
    for keys, start, size in old.state_keys:
        for key in keys:
            where.setdefault(key, (start, size))
    plan = []
    for keys, start, size in new.state_keys:
        for key in keys:
            if key in where and where[key][1] == size:
                plan.append((where[key][0], start, size))
                break
    return plan


class Batch:
    """
    A compiled batch ready to step: the block, its numpy views, and the one-call `step(dt)`.

    - `inputs`: input paths in slot order; `input_buffer[i]` holds `inputs[i]`.
    - `outputs`: output names in statement order; `output_buffer[i]` holds `outputs[i]`.
    - `input_buffer`, `input_valid`, `output_buffer`: float64 views into the arena. Write
      inputs and their valid flags (nonzero: fresh; 0.0: stale or missing) before `step()`,
      read outputs after it. Inputs start as nan and valid (1.0); outputs start as nan.
    - `output_inputs`: `{output: (input paths it depends on, transitively)}`.
    - `stale_policy`: 'nan' (an output that depends on an input whose valid flag is 0.0
      becomes nan) or 'hold' (it keeps its last value). Settable between steps.
    - `stale_state`: what a stateful call whose arguments depend on a stale input does on that
      step: 'hold' (skipped: its state holds and no time passes for it, so the first fresh step
      after a gap is one step, not the gap) or 'restart' (also set back to its first tick).
      Settable between steps.
    - `program`: the `Program`; `n_ops`: its number of rows.

    `step(dt)` is bound in `__init__` straight to the kernel's compiled code (see `bind_step`),
    so calling it is one C call: no Python frame, no allocation. It keeps the block alive: a
    `step` taken from a Batch stays valid after the Batch is gone.
    """

    def __init__(self, program, stale_policy='nan', stale_state='hold'):
        self.program = program
        self._block, self._mem = pg.pack(program, stale_policy, stale_state)
        layout = program.layout
        self.inputs = program.inputs
        self.outputs = program.outputs
        self.output_inputs = dict(zip(program.outputs, program.output_inputs, strict=True))
        self.input_buffer = self._mem[layout.input_base:layout.valid_base]
        self.input_valid = self._mem[layout.valid_base:layout.output_base]
        self.output_buffer = self._mem[layout.output_base:layout.shadow_base]
        self._state = self._mem[layout.state_base:layout.n_slots]
        self.step = bind_step(self._block, program.n_ops)

    def step(self, dt):  # documents the API; __init__ shadows it with the bound fast path
        """Run one step with this `dt` (seconds): ONE kernel call, no allocation."""
        kernel.run(self._block.ctypes.data, dt)

    @property
    def arena(self):
        """Return a view of all float64 slots: inputs, flags, outputs, registers, state."""
        return self._mem

    def output_slot(self, name):
        """Return the arena slot of the output `name`."""
        return self.program.layout.output_base + self.outputs.index(name)

    def input_slot(self, path):
        """Return the arena slot of the input `path` (the newest value, whatever its age)."""
        return self.program.layout.input_base + self.inputs.index(path)

    @property
    def n_ops(self):
        return self.program.n_ops

    @property
    def stale_policy(self):
        return {v: k for k, v in pg.POLICIES.items()}[int(self._block[pg.H_POLICY])]

    @stale_policy.setter
    def stale_policy(self, policy):
        self._block[pg.H_POLICY] = pg.policy_code(policy)

    @property
    def stale_state(self):
        return {v: k for k, v in pg.STALE_STATES.items()}[int(self._block[pg.H_STALE_STATE])]

    @stale_state.setter
    def stale_state(self, stale_state):
        self._block[pg.H_STALE_STATE] = pg.stale_state_code(stale_state)

    @property
    def t(self):
        """Return the seconds stepped since compiling or the last reset: the language's `t`."""
        return float(self._mem[pg.T_SLOT])

    def reset(self):
        """Put stateful functions back to their first tick, `t` to 0 and outputs to nan."""
        self._state[:] = 0.0
        self._mem[pg.DT_SLOT] = 0.0
        self._mem[pg.T_SLOT] = 0.0
        self.output_buffer[:] = math.nan

    def adopt_state(self, old, plan=None):
        """
        Take over `old`'s state where the meaning did not change; return the blocks kept.

        Copies `t` and every state block of `old` whose call has a meaning (`Program.state_keys`)
        that a block of this batch has, with the same size; the others keep their first tick.
        `plan` is `state_plan(old.program, self.program)`, computed beforehand so the node can
        do only the copies between two ticks. Allocates a little: call it before stepping, not
        on a hot path.
        """
        if plan is None:
            plan = state_plan(old.program, self.program)
        for src, dst, size in plan:
            self._state[dst:dst + size] = old._state[src:src + size]
        self._mem[pg.T_SLOT] = old._mem[pg.T_SLOT]
        return len(plan)

    def evaluate(self, values, dt=0.001):
        """
        Set every input from `{path: value}` (all marked fresh), step once, return the outputs.

        Convenience for tools and tests; it allocates. Every input must be given: a missing or
        unknown path raises ValueError naming them all.
        """
        missing = [name for name in self.inputs if name not in values]
        unknown = [name for name in values if name not in self.inputs]
        problems = []
        if missing:
            problems.append('missing input values: ' + ', '.join(missing))
        if unknown:
            problems.append('unknown inputs: ' + ', '.join(map(str, unknown)))
        if problems:
            raise ValueError('; '.join(problems))
        for i, name in enumerate(self.inputs):
            self.input_buffer[i] = float(values[name])
        self.input_valid[:] = 1.0
        self.step(dt)
        return dict(zip(self.outputs, self.output_buffer.tolist(), strict=True))

    def disassemble(self):
        """Return the program as text, one line per instruction (see `disassemble`)."""
        from .disassemble import disassemble
        return disassemble(self.program)
