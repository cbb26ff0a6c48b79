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
`disassemble(program)`: a `Program` as text, one line per row, for tests and `check --dump`.

Each line shows the row number, the opcode's name, the destination and operand slots with what
they hold (input path, constant value, the expression whose value a register is), and where the
row came from (`expression:column`). One helper per operand shape, as in clox's `debug.c`.

>>> from arena_eval.engine.compile import compile_program
>>> print(disassemble(compile_program(['y = 2 * x.a + 1'])))  # doctest: +NORMALIZE_WHITESPACE
; 1 input, 1 output, 2 constants, 0 registers, 0 state slots; 2 rows
0000  muladd    @4 y = @6 2.0, @2 x.a, @7 1.0                      ; y:5
0001  output    @4 y in place  if fresh(x.a)                       ; y:1
"""

from . import program as pg
from ..language import functions as fn
from ..language.functions import TABLE


def disassemble(program):
    """Return `program` as text: a summary line, then one line per row."""
    layout = program.layout
    lines = [f'; {_count(layout.n_inputs, "input")}, {_count(layout.n_outputs, "output")}, '
             f'{_count(layout.n_constants, "constant")}, '
             f'{_count(layout.n_registers, "register")}, {layout.n_state} state slots; '
             f'{_count(program.n_ops, "row")}']
    for k in range(program.n_ops):
        lines.append(disassemble_row(program, k))
    return '\n'.join(lines)


def disassemble_row(program, k):
    """Return row `k` of `program` as one line (see the module docstring)."""
    op, dst, a, b, c = (int(v) for v in program.code[k])
    shape = pg.row_shape(op)
    text = _SHAPES[shape](program, op, dst, a, b, c)
    stmt, col = (int(v) for v in program.where[k])
    return f'{k:04d}  {pg.op_name(op):<9} {text:<50} ; {program.statements[stmt]}:{col}'


def _count(n, noun):
    return f'{n} {noun}' + ('' if n == 1 else 's')


def _slot(program, slot):
    name = program.slot_names.get(slot)
    return f'@{slot} {name}' if name else f'@{slot}'


def _copy(program, op, dst, a, b, c):
    return f'{_slot(program, dst)} = {_slot(program, a)}'


def _output(program, op, dst, a, b, c):
    deps = [program.inputs[int(i)] for i in program.deps[b:b + c]]
    fresh = f'  if fresh({", ".join(deps)})' if deps else ''
    if a == dst:  # computed in place: the row only acts on a stale input
        return f'{_slot(program, dst)} in place{fresh}'
    return f'{_slot(program, dst)} = {_slot(program, a)}{fresh}'


def _operands(program, op, dst, *slots):
    return f'{_slot(program, dst)} = ' + ', '.join(_slot(program, s) for s in slots)


def _unary(program, op, dst, a, b, c):
    return _operands(program, op, dst, a)


def _binary(program, op, dst, a, b, c):
    return _operands(program, op, dst, a, b)


def _ternary(program, op, dst, a, b, c):
    return _operands(program, op, dst, a, b, c)


def _state(program, op, size, c):
    return f'  state @{c}..{c + size - 1}'


def _stateful(program, op, dst, a, b, c):
    name = pg.op_name(op)
    # ddt_msg's second operand is its input's message time (`imu.@mdt`), added by the parser.
    if TABLE[name].min_args == 1 and (op != fn.PREV or a == b) and op != fn.DDT_MSG:
        text = _operands(program, op, dst, a)
    else:
        text = _operands(program, op, dst, a, b)
    return text + _state(program, op, pg.state_size(name), c)


def _windowed(program, op, dst, a, b, c):
    name = pg.op_name(op)
    return (f'{_operands(program, op, dst, a)}, n={b}'
            + _state(program, op, pg.state_size(name, b), c))


def _guard(program, op, dst, a, b, c):
    deps = ', '.join(program.inputs[int(i)] for i in program.deps[a:a + b])
    return f'skip next unless fresh({deps}); restart zeroes @{dst}..{dst + c - 1}'


def _delay(program, op, dst, a, b, c):
    return f'{_slot(program, dst)} = last or {_slot(program, b)}  state @{c}..{c + 1}'


def _store(program, op, dst, a, b, c):
    return f'last = {_slot(program, a)}  state @{c}..{c + 1}'


_SHAPES = {'copy': _copy, 'output': _output, 'unary': _unary, 'binary': _binary,
           'ternary': _ternary, 'stateful': _stateful, 'windowed': _windowed, 'guard': _guard,
           'delay': _delay, 'store': _store}
