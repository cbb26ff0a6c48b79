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
CDR decode plans: the walk to the fields a batch reads, as an int64 array, and its walker.

`build_plan(msg_type, reads)` turns a message type and the `(slot, steps)` a batch reads from
it into a plan: a small program over the serialized bytes (align, skip, skip a string, skip a
sequence of strings, enter a sequence, read a scalar at an offset or at an element index,
repeat a body per element of a sequence of messages). It is built at configure time, like the
batch's `Program`, so compiled code that walks it never needs the JIT again. `walk` (numba,
nogil, no allocation) runs a plan over bytes at an address and writes float64 values into
slots at another, with a per-slot ok flag (0 for an index beyond the current sequence, whose
length it records). It returns 0, or -1 for bytes it cannot read (another encoding, too short
for what they claim).

What it describes is what `cdr.Decoder` decodes (the same type introspection; it folds fixed
offsets and known alignments the same way): XCDR1 little endian, numbers, strings, nested
messages, arrays and sequences of numbers, skipping strings and messages in sequences and
arrays. Reading through an array or sequence of messages, wide strings and `long double` raise
`Unsupported`; the caller then keeps the Python tick for that input.

>>> from sensor_msgs.msg import JointState
>>> from rclpy.serialization import serialize_message
>>> plan = build_plan(JointState, [(0, ('position', 1)), (1, ('effort', 0))])
>>> raw = np.frombuffer(serialize_message(JointState(name=['a', 'b'], position=[0.5, 1.5])),
...                     np.uint8)
>>> values, ok, lengths = np.zeros(2), np.zeros(2), np.zeros(2, np.int64)
>>> walk(plan.ctypes.data, raw.ctypes.data, raw.size, values.ctypes.data, ok.ctypes.data,
...      lengths.ctypes.data)
0
>>> float(values[0]), ok.tolist(), int(lengths[1])
(1.5, [1.0, 0.0], 0)
"""

from numba import njit
import numpy as np

from .cdr import _fields, _kind, _message_class, _PRIMITIVES, Unsupported
from ..engine import native

# Opcodes, each followed by its operands (words).
OP_ALIGN = 1    # a: pos = align(pos, a)
OP_SKIP = 2     # n: pos += n
OP_STRING = 3   # skip one string (pos aligned to 4)
OP_STRINGS = 4  # skip a sequence<string>
OP_SEQ = 5      # size: enter a sequence of numbers of `size` bytes; pos moves past it
OP_READ = 6     # kind, offset, slot: value at pos + offset
OP_ELEM = 7     # kind, index, slot: element `index` of the sequence entered last
OP_REPEAT = 8   # body_len: the next body_len words once per element of a sequence of messages
OPERANDS = {OP_ALIGN: 1, OP_SKIP: 1, OP_STRING: 0, OP_STRINGS: 0, OP_SEQ: 1, OP_READ: 3,
            OP_ELEM: 3, OP_REPEAT: 1}

# Scalar kinds and their sizes.
K_BOOL, K_U8, K_I8, K_U16, K_I16, K_U32, K_I32, K_U64, K_I64, K_F32, K_F64 = range(1, 12)
KINDS = {
    'boolean': K_BOOL, 'octet': K_U8, 'char': K_U8, 'uint8': K_U8, 'int8': K_I8,
    'uint16': K_U16, 'int16': K_I16, 'uint32': K_U32, 'int32': K_I32, 'uint64': K_U64,
    'int64': K_I64, 'float': K_F32, 'double': K_F64,
}
SIZES = np.array([0, 1, 1, 1, 2, 2, 4, 4, 8, 8, 4, 8], np.int64)

# Plan header words.
P_CODE = 0      # offset of the first op
P_NCODE = 1     # words of code
P_STACK = 2     # offset of the repeat stack (3 words per level)
P_DEPTH = 3     # levels of the stack
HEADER_WORDS = 4
_ORIGIN = 4     # CDR alignment counts from the end of the 4-byte encapsulation header


def _leaf_tree(reads):
    """{field: subtree} with leaves as lists of (slot, index or None)."""
    tree = {}
    for slot, steps in reads:
        steps = tuple(steps)
        if not steps or isinstance(steps[0], int):
            raise Unsupported('a path must start with a field')
        node = tree
        for i, step in enumerate(steps):
            if not isinstance(step, int) and type(step) is not str:
                raise Unsupported(f"'{step}' is an index by name: not decoded by a plan")
            rest = steps[i + 1:]
            if isinstance(step, int):
                raise Unsupported('paths through arrays of messages are not decoded')
            if not rest or isinstance(rest[0], int):
                if len(rest) > 1:
                    raise Unsupported('paths through arrays of messages are not decoded')
                leaf = node.setdefault(step, [])
                if not isinstance(leaf, list):
                    raise Unsupported(f"'{step}' is used both as a value and as a message")
                leaf.append((slot, rest[0] if rest else None))
                break
            child = node.setdefault(step, {})
            if isinstance(child, list):
                raise Unsupported(f"'{step}' is used both as a value and as a message")
            node = child
    return tree


class _Builder:
    """`cdr._Compiler`'s walk, emitting words: `pending` bytes and a known `base` alignment."""

    def __init__(self, base=8):
        self.code = []
        self.pending = 0
        self.base = base
        self.depth = 0

    def align(self, a):
        if a <= 1:
            return
        if self.base >= a:
            self.pending = (self.pending + a - 1) & -a
            return
        self.materialize()
        self.code += [OP_ALIGN, a]
        self.base = a

    def materialize(self):
        if self.pending:
            self.code += [OP_SKIP, self.pending]
        self.pending = 0

    def message(self, cls, need, top=False):
        fields = _fields(cls)
        if not fields:
            self.pending += 1  # rosidl gives an empty message one hidden uint8
            return
        remaining = set(need) if need else set()
        for name, slot in fields:
            if top and not remaining:
                return
            sub = need.get(name) if need else None
            remaining.discard(name)
            self.field(slot, sub, name)

    def field(self, slot, sub, name):
        kind = _kind(slot)
        if kind == 'BasicType':
            if slot.typename not in KINDS:
                raise Unsupported(f'{slot.typename} fields are not decoded')
            size = _PRIMITIVES[slot.typename][0]
            self.align(size)
            for target, index in (sub or ()):
                if index is not None:
                    raise Unsupported(f"'{name}' is a number, not an array")
                self.code += [OP_READ, KINDS[slot.typename], self.pending, target]
            self.pending += size
        elif kind == 'NamespacedType':
            if isinstance(sub, list):
                raise Unsupported(f"'{name}' is a message, not a number")
            self.message(_message_class(slot), sub)
        elif kind in ('UnboundedString', 'BoundedString'):
            if sub:
                raise Unsupported(f"'{name}' is a string")
            self.align(4)
            self.materialize()
            self.code.append(OP_STRING)
            self.base = 1
        elif kind == 'Array':
            self.array(slot, sub, name)
        elif kind in ('UnboundedSequence', 'BoundedSequence'):
            self.sequence(slot, sub, name)
        else:
            raise Unsupported(f'{kind} fields are not decoded')

    def _number_reads(self, sub, name):
        if isinstance(sub, dict):
            raise Unsupported(f"'{name}' holds numbers, not messages")
        for _, index in (sub or ()):
            if index is None:
                raise Unsupported(f"'{name}' is an array: index it")
        return sub or ()

    def array(self, slot, sub, name):
        value = slot.value_type
        n = slot.size
        if _kind(value) == 'BasicType' and value.typename in KINDS:
            size = _PRIMITIVES[value.typename][0]
            self.align(size)
            for target, index in self._number_reads(sub, name):
                if not 0 <= index < n:
                    raise Unsupported(f"index {index} out of range: '{name}' has {n} elements")
                self.code += [OP_READ, KINDS[value.typename], self.pending + index * size,
                              target]
            self.pending += n * size
            return
        if sub:
            raise Unsupported(f"'{name}' is an array of {_kind(value)}: not decoded")
        for _ in range(n):
            self.field(value, None, name)

    def sequence(self, slot, sub, name):
        value = slot.value_type
        self.align(4)
        self.materialize()
        self.base = 1
        if _kind(value) == 'BasicType' and value.typename in KINDS:
            kind = KINDS[value.typename]
            reads = self._number_reads(sub, name)
            self.code += [OP_SEQ, _PRIMITIVES[value.typename][0]]
            for target, index in reads:
                if index < 0:
                    raise Unsupported(f"negative index in '{name}'")
                self.code += [OP_ELEM, kind, index, target]
            return
        if sub:
            raise Unsupported(f"'{name}' is a sequence of {_kind(value)}: not decoded")
        if _kind(value) in ('UnboundedString', 'BoundedString'):
            self.code.append(OP_STRINGS)
            return
        body = _Builder(base=1)
        body.field(value, None, name)
        body.materialize()
        self.code += [OP_REPEAT, len(body.code)] + body.code
        self.depth = max(self.depth, body.depth + 1)


def build_plan(msg_type, reads):
    """
    Return the plan (an int64 array) reading `reads` = [(slot, steps)] from `msg_type`.

    `steps` are the path's steps after the input's root, as `inputs.parse_path` gives them:
    `('linear_acceleration', 'x')`, `('position', 2)`. Raises `Unsupported`.
    """
    reads = list(reads)
    if not reads:
        raise Unsupported('nothing to decode')
    need = _leaf_tree(reads)
    names = dict(_fields(msg_type))
    for name in need:
        if name not in names:
            raise Unsupported(f"{msg_type.__name__} has no field '{name}'")
    builder = _Builder()
    builder.message(msg_type, need, top=True)
    code = builder.code
    depth = builder.depth
    plan = np.zeros(HEADER_WORDS + len(code) + 3 * depth, np.int64)
    plan[P_CODE] = HEADER_WORDS
    plan[P_NCODE] = len(code)
    plan[P_STACK] = HEADER_WORDS + len(code)
    plan[P_DEPTH] = depth
    plan[HEADER_WORDS:HEADER_WORDS + len(code)] = code
    return plan


def describe(plan):
    """Return the plan as text, one op a line (for tests and `check --dump`-style debugging)."""
    names = {v: k for k, v in globals().items() if k.startswith('OP_')}
    lines, ip = [], int(plan[P_CODE])
    end = ip + int(plan[P_NCODE])
    while ip < end:
        op = int(plan[ip])
        n = OPERANDS[op]
        lines.append(' '.join([names[op]] + [str(int(v)) for v in plan[ip + 1:ip + 1 + n]]))
        ip += 1 + n
    return '\n'.join(lines)


# ----- the walker --------------------------------------------------------------------------
_OPTIONS = {'error_model': 'numpy', 'boundscheck': False}


@njit(inline='always', **_OPTIONS)
def _align(pos, a):
    return _ORIGIN + ((pos - _ORIGIN + a - 1) & -a)


@njit(inline='always', **_OPTIONS)
def load_scalar(kind, address):
    """Load the scalar of `kind` at `address`, as float64 (bool: 1.0 for any nonzero byte)."""
    if kind == K_F64:
        return native.load_f64(address)
    if kind == K_F32:
        return np.float64(native.load_f32(address))
    if kind == K_I32:
        return np.float64(native.load_i32(address))
    if kind == K_U32:
        return np.float64(native.load_u32(address))
    if kind == K_I64:
        return np.float64(native.load_i64(address))
    if kind == K_U64:
        return np.float64(native.load_u64(address))
    if kind == K_U8:
        return np.float64(native.load_u8(address))
    if kind == K_I8:
        return np.float64(native.load_i8(address))
    if kind == K_U16:
        return np.float64(native.load_u16(address))
    if kind == K_I16:
        return np.float64(native.load_i16(address))
    return 1.0 if native.load_u8(address) != 0 else 0.0


@njit(inline='always', **_OPTIONS)
def _u32(buf, pos):
    return np.int64(native.load_u32(buf + pos))


@njit(**_OPTIONS)
def walk_into(plan_address, buf, length, values, ok, lengths):
    """
    Walk the plan at `plan_address` over `length` bytes at `buf`; see `walk`.

    `values`, `ok`, `lengths`: addresses of per-slot float64, float64 and int64 arrays.
    """
    code = plan_address + 8 * native.load_i64(plan_address + 8 * P_CODE)
    end = native.load_i64(plan_address + 8 * P_NCODE)
    stack = plan_address + 8 * native.load_i64(plan_address + 8 * P_STACK)
    if length < _ORIGIN or native.load_u8(buf) != 0 or native.load_u8(buf + 1) != 1:
        return -1
    pos = np.int64(_ORIGIN)
    seq_base = np.int64(0)
    seq_n = np.int64(0)
    depth = 0
    ip = np.int64(0)
    while True:
        if pos > length:
            return -1
        if depth > 0:
            frame = stack + 24 * (depth - 1)
            body_end = native.load_i64(frame + 8)
            if ip == body_end:
                left = native.load_i64(frame + 16) - 1
                if left > 0:
                    native.store_i64(frame + 16, left)
                    ip = native.load_i64(frame)
                    continue
                depth -= 1
                continue
        if ip >= end:
            return 0
        op = native.load_i64(code + 8 * ip)
        a = native.load_i64(code + 8 * ip + 8)
        if op == OP_READ:
            kind = a
            at = pos + native.load_i64(code + 8 * ip + 16)
            slot = native.load_i64(code + 8 * ip + 24)
            if at + SIZES[kind] > length:
                return -1
            native.store_f64(values + 8 * slot, load_scalar(kind, buf + at))
            native.store_f64(ok + 8 * slot, 1.0)
            ip += 4
        elif op == OP_ELEM:
            kind = a
            index = native.load_i64(code + 8 * ip + 16)
            slot = native.load_i64(code + 8 * ip + 24)
            if index < seq_n:
                native.store_f64(values + 8 * slot,
                                 load_scalar(kind, buf + seq_base + index * SIZES[kind]))
                native.store_f64(ok + 8 * slot, 1.0)
                native.store_i64(lengths + 8 * slot, -1)
            else:
                native.store_f64(ok + 8 * slot, 0.0)
                native.store_i64(lengths + 8 * slot, seq_n)
            ip += 4
        elif op == OP_SKIP:
            pos += a
            ip += 2
        elif op == OP_ALIGN:
            pos = _align(pos, a)
            ip += 2
        elif op == OP_STRING:
            if pos + 4 > length:
                return -1
            pos += 4 + _u32(buf, pos)
            ip += 1
        elif op == OP_SEQ:
            if pos + 4 > length:
                return -1
            seq_n = _u32(buf, pos)
            pos += 4
            if seq_n:
                pos = _align(pos, a)
            seq_base = pos
            pos += seq_n * a
            if pos > length:
                return -1
            ip += 2
        elif op == OP_STRINGS:
            if pos + 4 > length:
                return -1
            n = _u32(buf, pos)
            pos += 4
            for _ in range(n):
                pos = _align(pos, 4)
                if pos + 4 > length:
                    return -1
                pos += 4 + _u32(buf, pos)
            ip += 1
        elif op == OP_REPEAT:
            if pos + 4 > length:
                return -1
            n = _u32(buf, pos)
            pos += 4
            ip += 2
            if n == 0 or a == 0:
                ip += a
            else:
                frame = stack + 24 * depth
                native.store_i64(frame, ip)
                native.store_i64(frame + 8, ip + a)
                native.store_i64(frame + 16, n)
                depth += 1
        else:
            return -1


@njit(cache=True, nogil=True, **_OPTIONS)
def walk(plan_address, buf, length, values, ok, lengths):
    """
    Walk a plan over CDR bytes: 0, or -1 for bytes it cannot read.

    All arguments are addresses (and `length` a byte count): the plan, the bytes, and per-slot
    float64 `values`, float64 `ok` flags (1.0 read, 0.0 index beyond the sequence) and int64
    `lengths` (the sequence's length when the index was beyond it, else -1).
    """
    return walk_into(plan_address, buf, length, values, ok, lengths)
