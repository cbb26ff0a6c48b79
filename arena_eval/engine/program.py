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
The `Program`: the one contract between the compiler, the kernel and the disassembler.

Like clox's `Chunk`, a program is plain data: rows of five int64 fields `[op, dst, a, b, c]`,
a source map parallel to them (statement index, column), the slot layout of the float64 arena
the rows address, and the constants to write into it once. `compile.py` fills it, `pack()`
lays it out in one raw block (header words below), `kernel.py` runs that block, `arena.py` wraps
it as a `Batch`, `disassemble.py` prints it.

Operand fields per opcode shape (registers, constants, inputs, `dt`/`t` and outputs are all
float64 slots of one arena, addressed by index):

=================  =====================  ==========  ==========  ===========================
shape              op                     a           b           c
=================  =====================  ==========  ==========  ===========================
copy               COPY                   source      --          --
output             OUTPUT                 register    deps start  deps count
ternary (fused)    MULADD                 x           y           z: x * y + z
unary              NEG, NOT, SIN, ...     x           --          --
binary             ADD, ..., ATAN2, MIN   x           y           --
ternary            WHERE                  cond        then        else
ternary            CLAMP                  x           lo          hi
stateful           PREV, DELTA, DDT,      x           --          state start
                   INTEGRAL
stateful           LOWPASS, EMA,          x           parameter   state start
                   RATE_LIMIT, HOLD       (tau, alpha, max_rate, cond)
windowed           MEAN, MINIMUM,         x           window n    state start
                   MAXIMUM                            (integer)
stateful           MEAN_S, MINIMUM_S,     x           seconds     state start
                   MAXIMUM_S, HELD        (cond)
                   DDT_MSG                x           mdt         state start
guard              GUARD                  deps start  deps count  slots to zero on restart
delay              DELAY                  --          init        state start
store              STORE                  x           --          state start
=================  =====================  ==========  ==========  ===========================

Unused fields are 0. `dst` is the slot written (for OUTPUT: the output slot; for GUARD and
STORE: the state start of the call they serve).

Stale inputs and state (`H_STALE_STATE`): a stateful row whose arguments depend on inputs comes
right after a GUARD row naming those inputs (`deps[a:a + b]`). On a step where one of them is
stale the row is skipped, so its state holds and no time passes for it; with 'restart' the
guard also zeroes the call's first `c` state slots, so it restarts as on a first tick.

Unit delays: `prev(E)` where `E` names expressions of the batch is a DELAY row (the value E had
at the previous step, or `init` on the first) and a STORE row after every statement has run
(E's value into the state). Every DELAY runs before every STORE, so a delay never breaks the
dependency order and `timer = (prev(timer) + dt) * c` is no cycle.

OUTPUT's dependency list is `deps[b:b + c]`: the input indices (0-based, into the input region) the
output depends on, for the stale policy. OUTPUT rows come last, one per statement, and the
kernel runs them in loops of their own after the dispatch loop. Most statements compute their
value straight into their output slot (the compiler gives the output slot to the register that
holds it), and their OUTPUT row is *direct* (`a == dst`): it only matters when an input is
stale. The *copy* rows (`a != dst`: the value is an input, a constant, `dt`/`t`, or a register
another output already owns) come first, in statement order, then the direct ones.

Fused opcodes have no name in the language: the compiler makes them from rows it emitted
(`add(mul(x, y), z)` -> `muladd(x, y, z)`), and they round exactly like the rows they replace
(two roundings, no hardware FMA), so fusing never changes a result; it saves a dispatch.

The arena (float64 slots) is laid out in this order, so inputs, their valid flags and the outputs
are each contiguous and exposed as numpy views:

    [dt, t | inputs | input valid flags | outputs | shadow | constants | registers | state]

The shadow holds a copy of the outputs, taken before a step that has a stale input under the
'hold' policy, so direct outputs can be put back.

>>> from arena_eval.language.functions import ADD
>>> row_shape(ADD)
'binary'
"""

from dataclasses import dataclass, field
import math

import numpy as np

from ..language import functions as fn

# Instruction rows: five int64 fields.
ROW = 5
F_OP, F_DST, F_A, F_B, F_C = range(ROW)

# Fixed arena slots; inputs start right after them.
DT_SLOT = 0
T_SLOT = 1
INPUT_BASE = 2

# The packed block (see arena.py) starts with a header of int64 words that tell the kernel where
# everything is. Offsets are in 8-byte words from the block's start; slots index the arena.
H_NOPS = 0        # number of instruction rows
H_CODE = 1        # word offset of the rows
H_DEPS = 2        # word offset of the OUTPUT dependency lists
H_MEM = 3         # word offset of the float64 arena
H_NMEM = 4        # arena length in slots
H_NINPUTS = 5     # number of inputs
H_VALID = 6       # arena slot of the first input valid flag
H_POLICY = 7      # stale policy, POLICY_NAN or POLICY_HOLD
H_STATE = 8       # arena slot where stateful functions' state starts
H_NSTATE = 9      # state length in slots
H_NDEPS = 10      # length of the dependency lists
H_NEXEC = 11      # rows before the first OUTPUT row (the dispatch loop's length)
H_NCOPY = 12      # OUTPUT rows that copy (the rest are direct: see below)
H_OUTPUTS = 13    # arena slot of the first output
H_NOUTPUTS = 14   # number of outputs
H_SHADOW = 15     # arena slot of the outputs' shadow copy (stale policy 'hold')
H_STALE_STATE = 16  # what a stale input does to state, STATE_HOLD or STATE_RESTART
HEADER_WORDS = 17

# Fused opcodes: rows the compiler makes from rows it emitted, which the language never names,
# so they are the engine's and defined here rather than in the language's table; numbered clear
# of the table's opcodes (checked below).
MULADD = 100
FUSED_NAMES = {MULADD: 'muladd'}
# Kernel-only opcodes of stateful calls: a staleness guard, the two halves of a unit delay.
GUARD = 110
DELAY = 111
STORE = 112
KERNEL_NAMES = {GUARD: 'guard', DELAY: 'delay', STORE: 'store'}

STATE_HOLD = 0
STATE_RESTART = 1
STALE_STATES = {'hold': STATE_HOLD, 'restart': STATE_RESTART}

POLICY_NAN = 0
POLICY_HOLD = 1
POLICIES = {'nan': POLICY_NAN, 'hold': POLICY_HOLD}

# Limits, checked while emitting: a batch over them is an error, never a crash or a huge block.
MAX_OPS = 1_000_000
MAX_SLOTS = 4_000_000
MAX_STATE = 4_000_000

# Row shapes, derived from the table (arity, state, window), so a new function needs no entry
# here. n-ary functions (min, max) are compiled as chains of their binary row.
_PURE = [f for f in fn.TABLE.values() if not f.stateful and not f.macro]
UNARY = frozenset(f.opcode for f in _PURE if f.max_args == 1)
BINARY = frozenset(f.opcode for f in _PURE if f.min_args == 2 and f.max_args in (2, None))
TERNARY = frozenset(f.opcode for f in _PURE if f.max_args == 3) | {MULADD}
STATEFUL = frozenset(f.opcode for f in fn.TABLE.values() if f.stateful and f.window_arg is None)
WINDOWED = frozenset(f.opcode for f in fn.TABLE.values() if f.window_arg is not None)
if (set(FUSED_NAMES) | set(KERNEL_NAMES)) & set(fn.OPCODE_NAMES):
    raise ImportError('a fused or kernel-only opcode collides with an opcode of functions.py')
# Operations whose operands may be swapped without changing any result bit that matters
# (IEEE + and * are commutative), so `a + b` and `b + a` share one register.
COMMUTATIVE = frozenset({fn.ADD, fn.MUL, fn.EQ, fn.NE, fn.AND, fn.OR})


def row_shape(op):
    """Name the operand shape of opcode `op` (see the table in this module's docstring)."""
    if op == fn.COPY:
        return 'copy'
    if op == fn.OUTPUT:
        return 'output'
    if op in KERNEL_NAMES:
        return KERNEL_NAMES[op]
    for shape, ops in (('unary', UNARY), ('binary', BINARY), ('ternary', TERNARY),
                       ('stateful', STATEFUL), ('windowed', WINDOWED)):
        if op in ops:
            return shape
    raise ValueError(f'unknown opcode {op}')


def op_name(op):
    """Name opcode `op` as the disassembler shows it."""
    return FUSED_NAMES.get(op) or KERNEL_NAMES.get(op) or fn.OPCODE_NAMES[op]


def state_size(name, window=0):
    """Slots of state one call site of stateful function `name` needs (`window`: its n)."""
    entry = fn.TABLE[name]
    return entry.state_slots + (window if entry.window_arg is not None else 0)


@dataclass(frozen=True)
class Layout:
    """Where each region of the arena starts and how long it is (in float64 slots)."""

    n_inputs: int
    n_outputs: int
    n_constants: int
    n_registers: int
    n_state: int

    @property
    def input_base(self):
        return INPUT_BASE

    @property
    def valid_base(self):
        return INPUT_BASE + self.n_inputs

    @property
    def output_base(self):
        return self.valid_base + self.n_inputs

    @property
    def shadow_base(self):
        return self.output_base + self.n_outputs

    @property
    def const_base(self):
        return self.shadow_base + self.n_outputs

    @property
    def reg_base(self):
        return self.const_base + self.n_constants

    @property
    def state_base(self):
        return self.reg_base + self.n_registers

    @property
    def n_slots(self):
        return self.state_base + self.n_state


@dataclass(frozen=True)
class Program:
    """
    A compiled batch: instruction rows, source map, arena layout, and what every slot holds.

    `code` is int64 `(n_ops, ROW)`; `where` is int64 `(n_ops, 2)`: for each row the index of the
    statement (into `statements`) that emitted it and the column of the source node, so every
    instruction maps back to an expression name and column. `constants` are `(slot, value)` pairs
    written into the arena once. `output_inputs[i]` names the inputs output `i` depends on,
    transitively through references; `deps` holds the same as input indices for the kernel.
    """

    code: np.ndarray
    where: np.ndarray
    deps: np.ndarray
    layout: Layout
    inputs: tuple
    outputs: tuple
    statements: tuple
    constants: tuple
    output_inputs: tuple
    # Human-readable description of every slot the rows use (disassembler only).
    slot_names: dict = field(default_factory=dict, compare=False)
    # One `(keys, start, size)` per state block, start relative to the state region: `keys` are
    # the meanings of the call sites sharing it (see compile.py), so a new program can take over
    # the state of the calls whose meaning did not change (`arena.state_plan`).
    state_keys: tuple = ()

    @property
    def n_ops(self):
        return len(self.code)

    @property
    def n_exec(self):
        """Rows before the OUTPUT rows: what the kernel's dispatch loop runs."""
        return self.n_ops - self.layout.n_outputs

    @property
    def n_copy(self):
        """OUTPUT rows that copy a value into their output slot (they come first)."""
        outputs = self.code[self.n_exec:]
        return int((outputs[:, F_A] != outputs[:, F_DST]).sum())


def policy_code(policy):
    """Return the header code of stale policy 'nan' or 'hold'; raise ValueError otherwise."""
    try:
        return POLICIES[policy]
    except (KeyError, TypeError):
        raise ValueError(f"stale_policy must be 'nan' or 'hold', not {policy!r}") from None


def stale_state_code(stale_state):
    """Return the header code of stale_state 'hold' or 'restart'; raise ValueError otherwise."""
    try:
        return STALE_STATES[stale_state]
    except (KeyError, TypeError):
        raise ValueError(
            f"stale_state must be 'hold' or 'restart', not {stale_state!r}") from None


def pack(program, policy='nan', stale_state='hold'):
    """
    Lay `program` out in one int64 block (header, rows, dependency lists, float64 arena).

    Return the block and its arena as a float64 view.
    """
    layout = program.layout
    code_at = HEADER_WORDS
    deps_at = code_at + program.code.size
    mem_at = deps_at + program.deps.size
    block = np.zeros(mem_at + layout.n_slots, dtype=np.int64)
    head = block[:HEADER_WORDS]
    head[H_NOPS] = program.n_ops
    head[H_NEXEC] = program.n_exec
    head[H_NCOPY] = program.n_copy
    head[H_OUTPUTS] = layout.output_base
    head[H_NOUTPUTS] = layout.n_outputs
    head[H_SHADOW] = layout.shadow_base
    head[H_CODE] = code_at
    head[H_DEPS] = deps_at
    head[H_NDEPS] = program.deps.size
    head[H_MEM] = mem_at
    head[H_NMEM] = layout.n_slots
    head[H_NINPUTS] = layout.n_inputs
    head[H_VALID] = layout.valid_base
    head[H_POLICY] = policy_code(policy)
    head[H_STALE_STATE] = stale_state_code(stale_state)
    head[H_STATE] = layout.state_base
    head[H_NSTATE] = layout.n_state
    block[code_at:deps_at] = program.code.ravel()
    block[deps_at:mem_at] = program.deps
    mem = block[mem_at:].view(np.float64)
    mem[layout.input_base:layout.valid_base] = math.nan
    mem[layout.valid_base:layout.output_base] = 1.0
    mem[layout.output_base:layout.const_base] = math.nan  # outputs and their shadow
    for slot, value in program.constants:
        mem[slot] = value
    return block, mem
