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
kernel bound to that block (`bind_step`), so a step passes no array and allocates nothing.
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

import ctypes
import functools
import math
import sys
import sysconfig
import types
import weakref

import numpy as np

from . import kernel
from . import program as pg
from .compile import compile_program


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
    _policy_code(stale_policy)
    _stale_state_code(stale_state)
    program = compile_program(statements, sources=sources, check_input=check_input)
    return Batch(program, stale_policy, stale_state)


def _policy_code(policy):
    try:
        return pg.POLICIES[policy]
    except (KeyError, TypeError):
        raise ValueError(f"stale_policy must be 'nan' or 'hold', not {policy!r}") from None


def _stale_state_code(stale_state):
    try:
        return pg.STALE_STATES[stale_state]
    except (KeyError, TypeError):
        raise ValueError(
            f"stale_state must be 'hold' or 'restart', not {stale_state!r}") from None


def pack(program, policy='nan', stale_state='hold'):
    """Lay `program` out in one int64 block: header, rows, dependency lists, float64 arena."""
    layout = program.layout
    code_at = pg.HEADER_WORDS
    deps_at = code_at + program.code.size
    mem_at = deps_at + program.deps.size
    block = np.zeros(mem_at + layout.n_slots, dtype=np.int64)
    head = block[:pg.HEADER_WORDS]
    head[pg.H_NOPS] = program.n_ops
    head[pg.H_NEXEC] = program.n_exec
    head[pg.H_NCOPY] = program.n_copy
    head[pg.H_OUTPUTS] = layout.output_base
    head[pg.H_NOUTPUTS] = layout.n_outputs
    head[pg.H_SHADOW] = layout.shadow_base
    head[pg.H_CODE] = code_at
    head[pg.H_DEPS] = deps_at
    head[pg.H_NDEPS] = program.deps.size
    head[pg.H_MEM] = mem_at
    head[pg.H_NMEM] = layout.n_slots
    head[pg.H_NINPUTS] = layout.n_inputs
    head[pg.H_VALID] = layout.valid_base
    head[pg.H_POLICY] = _policy_code(policy)
    head[pg.H_STALE_STATE] = _stale_state_code(stale_state)
    head[pg.H_STATE] = layout.state_base
    head[pg.H_NSTATE] = layout.n_state
    block[code_at:deps_at] = program.code.ravel()
    block[deps_at:mem_at] = program.deps
    mem = block[mem_at:].view(np.float64)
    mem[layout.input_base:layout.valid_base] = math.nan
    mem[layout.valid_base:layout.output_base] = 1.0
    mem[layout.output_base:layout.const_base] = math.nan  # outputs and their shadow
    for slot, value in program.constants:
        mem[slot] = value
    return block, mem


# Blocks kept alive by the `step` methods bound to their address (the numba-wrapper path): a
# `step` taken from a Batch stays valid after the Batch is gone. Guarded by the GIL.
_BLOCKS = {}


def _bind_address(entry, block):
    """Bind `entry(address, dt)` to `block`'s address; the block lives as long as the method."""
    step = types.MethodType(entry, block.ctypes.data)
    _BLOCKS[id(step)] = block
    weakref.finalize(step, _BLOCKS.pop, id(step), None)
    return step


class _MethodDef(ctypes.Structure):
    _fields_ = [('ml_name', ctypes.c_char_p), ('ml_meth', ctypes.c_void_p),
                ('ml_flags', ctypes.c_int), ('ml_doc', ctypes.c_char_p)]


_METH_FASTCALL = 0x0080
_new_builtin = ctypes.pythonapi.PyCFunction_NewEx
_new_builtin.restype = ctypes.py_object
_new_builtin.argtypes = [ctypes.POINTER(_MethodDef), ctypes.py_object, ctypes.py_object]
_MESSAGE = ctypes.create_string_buffer(b'step() takes exactly one argument (dt)')
_METHOD_DEFS = {}  # kernel entry address -> its PyMethodDef: must outlive every method made


def _c_api(name):
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value


@functools.cache
def fastcall_supported():
    """
    Say whether this interpreter lays objects out as `kernel.fastcall` reads them.

    Checked, not assumed: 64-bit CPython with the GIL, the double of a float 16 bytes in, a numpy
    array's data pointer 16 bytes in, the reference count first. Elsewhere `Batch.step` goes
    through numba's own wrapper (~0.1 us slower per call).
    """
    if (sys.implementation.name != 'cpython' or ctypes.sizeof(ctypes.c_void_p) != 8
            or sysconfig.get_config_var('Py_GIL_DISABLED')):
        return False
    value = float('1.25')  # a float object of its own
    probe = np.zeros(1)
    return (ctypes.c_double.from_address(id(value) + kernel._OB_FVAL).value == 1.25
            and ctypes.c_void_p.from_address(id(value) + kernel._OB_TYPE).value == id(float)
            and ctypes.c_void_p.from_address(id(probe) + kernel._ARRAY_DATA).value
            == probe.ctypes.data
            and ctypes.c_ssize_t.from_address(id(probe)).value == sys.getrefcount(probe) - 1)


def _bind_fastcall(block):
    """`block`'s step as a builtin method of the block itself (METH_FASTCALL), or None."""
    head = block[:pg.HEADER_WORDS]
    head[pg.H_PY_NONE] = id(None)
    head[pg.H_PY_FLOAT] = id(float)
    head[pg.H_PY_AS_DOUBLE] = _c_api('PyFloat_AsDouble')
    head[pg.H_PY_ERR_OCCURRED] = _c_api('PyErr_Occurred')
    head[pg.H_PY_ERR_SET] = _c_api('PyErr_SetString')
    head[pg.H_PY_TYPE_ERROR] = id(TypeError)
    head[pg.H_PY_MESSAGE] = ctypes.addressof(_MESSAGE)
    for attempt in range(2):
        address = kernel.fastcall.address
        if address not in _METHOD_DEFS:
            _METHOD_DEFS[address] = _MethodDef(b'step', address, _METH_FASTCALL,
                                               b'step(dt): run one step of the batch')
        step = _new_builtin(ctypes.byref(_METHOD_DEFS[address]), block, None)
        head[pg.H_FINGERPRINT] = 0
        try:
            step()  # no argument: the entry only writes its fingerprint and raises TypeError
        except TypeError:
            pass
        if head[pg.H_FINGERPRINT] == kernel.FINGERPRINT:
            return step
        if attempt == 0:
            kernel.refresh_fastcall()  # a cache compiled against other constants
    return None


def bind_step(block, n_rows):
    """
    Return the fastest `step(dt)` for a packed block of `n_rows` rows.

    Small programs get `kernel.fastcall` as a builtin method of the block (~20 ns of call
    overhead, GIL held); from `kernel.NOGIL_MIN_ROWS` rows on, or where the fast entry is not
    supported, numba's wrapper of `kernel.run` / `run_holding_gil` bound to the block's address.
    """
    if n_rows < kernel.NOGIL_MIN_ROWS and fastcall_supported():
        step = _bind_fastcall(block)
        if step is not None:
            return step
    return _bind_address(kernel.entry_point(n_rows), block)


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
        self._block, self._mem = pack(program, stale_policy, stale_state)
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
    def n_ops(self):
        return self.program.n_ops

    @property
    def stale_policy(self):
        return {v: k for k, v in pg.POLICIES.items()}[int(self._block[pg.H_POLICY])]

    @stale_policy.setter
    def stale_policy(self, policy):
        self._block[pg.H_POLICY] = _policy_code(policy)

    @property
    def stale_state(self):
        return {v: k for k, v in pg.STALE_STATES.items()}[int(self._block[pg.H_STALE_STATE])]

    @stale_state.setter
    def stale_state(self, stale_state):
        self._block[pg.H_STALE_STATE] = _stale_state_code(stale_state)

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
