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
Constant folding by the kernel itself: `fold(op, *args)` runs ONE row through the compiled step.

A folded constant must have the bits the row would give at run time, on any machine: the same
libm calls, the same signed zeros, the same nan signs. Any second implementation (numpy, Python's
`math`) differs in the last place somewhere (numpy's `acosh`, `sinh`, `cbrt` here), so nothing
is re-implemented: the compiler hands the row it would emit to the kernel's own `run` over a
packed one-row program whose operands are constants, and takes the value it wrote.

>>> from arena_eval.language.functions import ACOSH, ADD
>>> fold(ADD, 1.0, 2.0), fold(ACOSH, 2.0) == fold(ACOSH, 2.0)
(3.0, True)
"""

import functools
import threading

import numpy as np

from . import kernel
from . import program as pg
from ..language.functions import ADD, COPY, OUTPUT

# One block per process, reused: the compiler may run in several threads (the node compiles
# updates in its executor thread), so a fold holds the lock while the row and arena are its own.
_LOCK = threading.Lock()


@functools.cache
def _one_row():
    """Pack a program of one row `[op, register, const 0, const 1, const 2]`; return its parts."""
    layout = pg.Layout(n_inputs=0, n_outputs=0, n_constants=3, n_registers=1, n_state=0)
    base = layout.const_base
    code = np.array([[ADD, layout.reg_base, base, base + 1, base + 2]], dtype=np.int64)
    program = pg.Program(
        code=code, where=np.zeros((1, 2), dtype=np.int64), deps=np.zeros(0, dtype=np.int64),
        layout=layout, inputs=(), outputs=(), statements=('fold',),
        constants=tuple((base + k, 0.0) for k in range(3)), output_inputs=())
    block, mem = pg.pack(program)
    row = block[block[pg.H_CODE]:block[pg.H_CODE] + pg.ROW]
    return block, row, mem[base:base + 3], mem[layout.reg_base:layout.reg_base + 1]


def fold(op, *args):
    """Return the value stateless opcode `op` gives for constant `args` (1 to 3) in the kernel."""
    if op in pg.STATEFUL or op in pg.WINDOWED or op in (COPY, OUTPUT):
        raise ValueError(f'opcode {op} has no constant value to fold')
    block, row, operands, result = _one_row()
    with _LOCK:
        row[pg.F_OP] = op
        operands[:] = 0.0
        operands[:len(args)] = args
        kernel.run_holding_gil(block.ctypes.data, 0.0)
        return float(result[0])
