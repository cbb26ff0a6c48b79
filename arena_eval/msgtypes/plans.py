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

The plan is the one CDR reader of the package. `build_plan(msg_type, reads)` turns a message
type's description (`description.py`) and the `(slot, steps)` a batch reads from it into a
small program over the serialized bytes (align, skip, skip a string or a sequence of strings,
enter a sequence of numbers, read a scalar at an offset or an element index, repeat a body per
element of a sequence of messages, guard reads by the element being walked, look element names
up in a `name[]` list). It is built at configure time, like the batch's `Program`, so compiled
code that walks it never needs the JIT again. `walk` (numba, nogil, no allocation) runs a plan
over bytes at an address and writes float64 values into slots at another, with per-slot ok
flags and lengths. It returns 0, or -1 for bytes it cannot read (another encoding, too short
for what they claim).

Every path `inputs.resolve_path` accepts has a plan: numbers in nested messages, arrays and
sequences of numbers, paths through arrays and sequences of messages (`poses[3].pose.x`: an
element beyond the current sequence gives ok 0 and the sequence's length), and indices by name
(`position['elbow']`: the index is looked up in the same message's `name[]`, cached while
those bytes do not change; a missing name gives nan, ok 1 and the length `MISSING_NAME`).
Wide strings and `long double` raise `Unsupported`. The plan holds its own scratch (the
repeat stack, name caches), so a plan is walked by one thread at a time.

>>> from sensor_msgs.msg import JointState
>>> from rclpy.serialization import serialize_message
>>> plan = build_plan(JointState, [(0, ('position', 1)), (1, ('effort', 0)),
...                                (2, ('position', ByName('b')))])
>>> raw = np.frombuffer(serialize_message(JointState(name=['a', 'b'], position=[0.5, 1.5])),
...                     np.uint8)
>>> values, ok, lengths = np.zeros(3), np.zeros(3), np.zeros(3, np.int64)
>>> walk(plan.ctypes.data, raw.ctypes.data, raw.size, values.ctypes.data, ok.ctypes.data,
...      lengths.ctypes.data)
0
>>> values.tolist(), ok.tolist(), lengths.tolist()
([1.5, 0.0, 1.5], [1.0, 0.0, 1.0], [-1, 0, -1])
"""

from collections import namedtuple
import ctypes
import math

from numba import njit
import numpy as np

from .description import (align, ByName, fields, has_name_list, K_F32, K_F64, K_I16, K_I32, K_I64,
                          K_I8, K_MESSAGE, K_OTHER, K_STRING, K_U16, K_U32, K_U64, K_U8, members,
                          ORIGIN, SIZES)
from ..engine import native


class Unsupported(ValueError):
    """A type, path or encoding the plans do not read (the input's messages are undecodable)."""


# Opcodes, each followed by its operands (words).
OP_ALIGN = 1    # a: pos = align(pos, a)
OP_SKIP = 2     # n: pos += n
OP_STRING = 3   # skip one string (pos aligned to 4)
OP_STRINGS = 4  # skip a sequence<string>
OP_SEQ = 5      # size: enter a sequence of numbers of `size` bytes; pos moves past it
OP_READ = 6     # kind, offset, slot: value at pos + offset
OP_ELEM = 7     # kind, index, slot: element `index` of the sequence entered last
OP_REPEAT = 8   # body_len: the next body_len words once per element of a sequence of messages
OP_GUARD = 9    # level, index, n: skip the next n words unless repeat `level` is at `index`
OP_COUNT = 10   # index, slot: ok 0 and the length when the sequence at pos is that short
OP_LOOKUP = 11  # table: look the table's names up in the sequence<string> at pos
OP_MARK = 12    # mark: remember the sequence entered last (base, length)
OP_NAMED = 13   # kind, table, k, mark, slot: element named by the table's k-th name
OPERANDS = {OP_ALIGN: 1, OP_SKIP: 1, OP_STRING: 0, OP_STRINGS: 0, OP_SEQ: 1, OP_READ: 3,
            OP_ELEM: 3, OP_REPEAT: 1, OP_GUARD: 3, OP_COUNT: 2, OP_LOOKUP: 1, OP_MARK: 1,
            OP_NAMED: 5}

# Plan header words.
P_CODE = 0      # offset of the first op
P_NCODE = 1     # words of code
P_STACK = 2     # offset of the repeat stack (FRAME words per level)
P_DEPTH = 3     # levels of the stack
P_DATA = 4      # offset of the data: name tables and marks (their words are relative to it)
HEADER_WORDS = 5
FRAME = 4       # a repeat frame: body start, body end, elements left, elements in all

# A name table: T_N names, the cache's capacity in bytes, the cached bytes' length (-1: none),
# then per name its index (-1: missing) and the offset of its bytes ([length, packed words]),
# then the cache: a copy of the name list's bytes the indices were found in.
T_N, T_CAP, T_CACHED, T_NAMES = 0, 1, 2, 3
NAME_CACHE_BYTES = 1024

# `lengths` of a slot whose element name is missing from the message's `name[]` list.
MISSING_NAME = -2


_Named = namedtuple('_Named', 'table field k mark kind slot guards')


class _Need:
    """What a path tree needs at one value: slots to fill, fields, elements by index or name."""

    def __init__(self):
        self.slots = []
        self.sub = {}
        self.index = {}
        self.names = {}

    def all_slots(self):
        found = list(self.slots)
        for child in (*self.sub.values(), *self.index.values(), *self.names.values()):
            found += child.all_slots()
        return found


def _need_tree(reads):
    root = _Need()
    for slot, steps in reads:
        steps = tuple(steps)
        if not steps or not isinstance(steps[0], str) or isinstance(steps[0], ByName):
            raise Unsupported('a path must start with a field')
        node = root
        for step in steps:
            if isinstance(step, ByName):
                node = node.names.setdefault(str(step), _Need())
            elif isinstance(step, int):
                node = node.index.setdefault(step, _Need())
            else:
                node = node.sub.setdefault(step, _Need())
        node.slots.append(slot)
    return root


class _Data:
    """The plan's data words (name tables, marks), shared by a builder and its bodies."""

    def __init__(self):
        self.words = []

    def table(self, names):
        t = len(self.words)
        n = len(names)
        self.words += [n, NAME_CACHE_BYTES, -1] + [-1] * n + [0] * n
        self.words += [0] * (NAME_CACHE_BYTES // 8)
        for k, name in enumerate(names):
            encoded = name.encode()
            self.words[t + T_NAMES + n + k] = len(self.words)
            packed = np.zeros((len(encoded) + 7) // 8 * 8, np.uint8)
            packed[:len(encoded)] = np.frombuffer(encoded, np.uint8)
            self.words += [len(encoded)] + packed.view(np.int64).tolist()
        return t

    def mark(self):
        self.words += [0, 0]
        return len(self.words) - 2


class _Builder:
    """
    The one walk from a description to plan words, folding what is known at build time.

    `pending` bytes of fixed-size fields fold into the next op's offsets; `base` is the
    alignment the runtime `pos` is known to have, so most alignments fold away. Reads are
    emitted for a list of alternatives `(need, guards)`: inside a sequence of messages each
    element index read is one alternative, its reads guarded by the element being walked.
    """

    def __init__(self, data, base=8, level=0):
        self.code = []
        self.pending = 0
        self.base = base
        self.level = level   # repeats around this code
        self.depth = level   # the deepest repeat inside it
        self.data = data

    def align(self, a):
        if a <= 1:
            return
        if self.base >= a:
            self.pending = align(ORIGIN + self.pending, a) - ORIGIN
            return
        self.materialize()
        self.code += [OP_ALIGN, a]
        self.base = a

    def materialize(self):
        if self.pending:
            self.code += [OP_SKIP, self.pending]
        self.pending = 0

    def guarded(self, guards, words):
        for level, index in reversed(guards):
            words = [OP_GUARD, level, index, len(words)] + words
        self.code += words

    def message(self, cls, alts, top=False):
        """Walk `cls`; only the top-level message may stop after its last needed field."""
        own = members(cls)
        order = {f.name: i for i, f in enumerate(own)}
        for need, _ in alts:
            if need.slots or need.index or need.names:
                raise Unsupported(f'{cls.__name__} is a message, not a number or an array')
            for name in need.sub:
                if name not in order:
                    raise Unsupported(f"{cls.__name__} has no field '{name}'")
        if not own:
            self.pending += 1  # rosidl gives an empty message one hidden uint8
            return
        named = self._named_reads(cls, alts)
        last_named = max((max(order['name'], order[r.field]) for r in named), default=-1)
        remaining = {name for need, _ in alts for name in need.sub}
        for i, f in enumerate(own):
            if top and not remaining and i > last_named:
                return
            remaining.discard(f.name)
            here = [(need.sub[f.name], guards) for need, guards in alts if f.name in need.sub]
            self.field(f, here, named)
            for r in [r for r in named if max(order['name'], order[r.field]) == i]:
                self.guarded(r.guards, [OP_NAMED, r.kind, r.table, r.k, r.mark, r.slot])

    def _named_reads(self, cls, alts):
        """One name table per alternative that reads elements by name: a list of `_Named`."""
        reads = []
        by_name = fields(cls)
        for need, guards in alts:
            wanted = [(field_name, name, child) for field_name, sub in need.sub.items()
                      for name, child in sub.names.items()]
            if not wanted:
                continue
            if not has_name_list(cls):
                raise Unsupported(f'{cls.__name__} has no name[] list to index by name')
            names = sorted({name for _, name, _ in wanted})
            table = self.data.table(names)
            marks = {}
            for field_name, name, child in wanted:
                f = by_name[field_name]
                if f.shape != 'sequence' or f.kind >= K_STRING:
                    raise Unsupported(f"'{field_name}': indices by name are read from "
                                      'sequences of numbers')
                self._leaf_only(f, [(child, guards)])
                mark = marks.setdefault(field_name, self.data.mark())
                reads += [_Named(table, field_name, names.index(name), mark, f.kind, slot,
                                 guards) for slot in child.slots]
        return reads

    def field(self, f, alts, named=()):
        if f.kind == K_OTHER:
            raise Unsupported(f'{f.element} fields are not decoded')
        if f.shape == 'one':
            self.one(f, alts)
        elif f.shape == 'array':
            self.array(f, alts)
        else:
            self.sequence(f, alts, named)

    def one(self, f, alts):
        if f.kind == K_MESSAGE:
            self.message(f.message, alts)
            return
        self._leaf_only(f, alts)
        if f.kind == K_STRING:
            if alts:
                raise Unsupported(f"'{f.name}' is a string")
            self.string()
            return
        size = SIZES[f.kind]
        self.align(size)
        for need, guards in alts:
            for slot in need.slots:
                self.guarded(guards, [OP_READ, f.kind, self.pending, slot])
        self.pending += size

    @staticmethod
    def _leaf_only(f, alts):
        for need, _ in alts:
            if need.sub or need.index or need.names:
                raise Unsupported(f"'{f.name}' is a {f.text}, not a message or an array")

    def string(self):
        self.align(4)
        self.materialize()
        self.code.append(OP_STRING)
        self.base = 1

    def _elements(self, f, alts):
        """Per alternative, {index: need}; refuse a value read without an index."""
        for need, _ in alts:
            if need.slots or need.sub:
                raise Unsupported(f"'{f.name}' is a {f.text}: index it")
        return [(need.index, guards) for need, guards in alts]

    def array(self, f, alts):
        by_index = self._elements(f, alts)
        if any(need.names for need, _ in alts):
            raise Unsupported(f"'{f.name}': indices by name are read from sequences")
        for indices, _ in by_index:
            for index in indices:
                if not 0 <= index < f.size:
                    raise Unsupported(
                        f"index {index} out of range: '{f.name}' has {f.size} elements")
        if f.kind == K_MESSAGE:
            for i in range(f.size):
                self.message(f.message, [(indices[i], guards) for indices, guards in by_index
                                         if i in indices])
            return
        if f.kind == K_STRING:
            if any(indices for indices, _ in by_index):
                raise Unsupported(f"'{f.name}' holds strings, not numbers")
            for _ in range(f.size):
                self.string()
            return
        size = SIZES[f.kind]
        self.align(size)
        for indices, guards in by_index:
            for index, need in indices.items():
                self._leaf_only(f, [(need, guards)])
                for slot in need.slots:
                    self.guarded(guards, [OP_READ, f.kind, self.pending + index * size, slot])
        self.pending += f.size * size

    def sequence(self, f, alts, named):
        by_index = self._elements(f, alts)
        self.align(4)
        self.materialize()
        self.base = 1
        if f.kind == K_STRING:
            if any(indices for indices, _ in by_index):
                raise Unsupported(f"'{f.name}' holds strings, not numbers")
            if f.name == 'name':
                for table, guards in sorted({(r.table, r.guards) for r in named}):
                    self.guarded(guards, [OP_LOOKUP, table])
            self.code.append(OP_STRINGS)
            return
        if f.kind == K_MESSAGE:
            self.repeat(f, by_index, alts)
            return
        self.code += [OP_SEQ, SIZES[f.kind]]
        for need, guards in alts:
            if need.names:
                mark = next(r.mark for r in named if r.field == f.name and r.guards == guards)
                self.guarded(guards, [OP_MARK, mark])
        for indices, guards in by_index:
            for index, need in indices.items():
                self._leaf_only(f, [(need, guards)])
                for slot in need.slots:
                    self.guarded(guards, [OP_ELEM, f.kind, index, slot])

    def repeat(self, f, by_index, alts):
        if any(need.names for need, _ in alts):
            raise Unsupported(f"'{f.name}': indices by name are read from sequences of numbers")
        body_alts = []
        for indices, guards in by_index:
            for index, need in indices.items():
                for slot in need.all_slots():
                    self.guarded(guards, [OP_COUNT, index, slot])
                body_alts.append((need, guards + ((self.level, index),)))
        body = _Builder(self.data, base=1, level=self.level + 1)
        body.message(f.message, body_alts)
        body.materialize()
        self.code += [OP_REPEAT, len(body.code)] + body.code
        self.depth = max(self.depth, body.depth, self.level + 1)


def build_plan(msg_type, reads):
    """
    Return the plan (an int64 array) reading `reads` = [(slot, steps)] from `msg_type`.

    `steps` are the path's steps after the input's root, as `inputs.parse_path` gives them:
    `('linear_acceleration', 'x')`, `('position', 2)`, `('poses', 3, 'pose', 'position', 'x')`,
    `('effort', ByName('elbow'))`. Raises `Unsupported`.
    """
    reads = list(reads)
    if not reads:
        raise Unsupported('nothing to decode')
    data = _Data()
    builder = _Builder(data)
    builder.message(msg_type, [(_need_tree(reads), ())], top=True)
    code, depth = builder.code, builder.depth
    stack = HEADER_WORDS + len(code)
    at = stack + FRAME * depth
    plan = np.zeros(at + len(data.words), np.int64)
    plan[:HEADER_WORDS] = (HEADER_WORDS, len(code), stack, depth, at)
    plan[HEADER_WORDS:stack] = code
    plan[at:] = data.words
    return plan


def describe_plan(plan):
    """Return the plan's code as text, one op a line (for tests and debugging)."""
    names = {v: k for k, v in globals().items() if k.startswith('OP_')}
    lines, ip = [], int(plan[P_CODE])
    end = ip + int(plan[P_NCODE])
    while ip < end:
        op = int(plan[ip])
        n = OPERANDS[op]
        lines.append(' '.join([names[op]] + [str(int(v)) for v in plan[ip + 1:ip + 1 + n]]))
        ip += 1 + n
    return '\n'.join(lines)


def address_of(raw):
    """Return the address of a bytes-like object's first byte (kept alive by the caller)."""
    if isinstance(raw, bytes):
        return ctypes.cast(ctypes.c_char_p(raw), ctypes.c_void_p).value
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(raw))  # writable buffers, cheaply
    except (TypeError, ValueError):
        return np.frombuffer(raw, np.uint8).ctypes.data


def read(plan, raw, values, ok, lengths):
    """Walk `plan` over `raw` (bytes-like) into the arrays; 0, or -1 for unreadable bytes."""
    if not len(raw):
        return -1
    return walk(plan.ctypes.data, address_of(raw), len(raw), values.ctypes.data,
                ok.ctypes.data, lengths.ctypes.data)


class Reader:
    """
    One input's plan on the Python side: `read(raw)` walks it, `latest` holds the last read.

    `latest` is (values, ok, lengths) for the `reads`' slots in order, then the header stamp's
    sec and nanosec when `stamped`. A typed message given to `read` is serialized first. Two
    sets of arrays take turns: the walk fills the other one, which becomes `latest` only when
    the bytes were readable, so nothing is copied.
    """

    def __init__(self, msg_type, reads, stamped=False):
        steps = [steps for _, steps in reads]
        if stamped:
            steps += [('header', 'stamp', 'sec'), ('header', 'stamp', 'nanosec')]
        self.stamped = stamped
        self.plan = build_plan(msg_type, enumerate(steps)) if steps else None
        n = max(len(steps), 1)
        self._sets = [(np.zeros(n), np.zeros(n), np.full(n, -1, np.int64)) for _ in range(2)]
        self._addresses = [tuple(a.ctypes.data for a in arrays) for arrays in self._sets]
        self._plan_at = self.plan.ctypes.data if self.plan is not None else 0
        self._latest = 0
        self.latest = self._sets[0]

    def read(self, raw):
        """Read `raw` into `latest`; False (and `latest` unchanged) for unreadable bytes."""
        if self.plan is None:
            return True
        if not isinstance(raw, (bytes, bytearray, memoryview, np.ndarray)):
            from rclpy.serialization import serialize_message
            raw = serialize_message(raw)
        other = 1 - self._latest
        if not len(raw) or walk(self._plan_at, address_of(raw), len(raw),
                                *self._addresses[other]) != 0:
            return False
        self._latest = other
        self.latest = self._sets[other]
        return True

    def stamp(self):
        """Return the last message's header stamp in seconds, nan when not `stamped`."""
        if not self.stamped:
            return math.nan
        values = self.latest[0]
        return float(values[-2]) + float(values[-1]) / 1e9


# ----- the walker --------------------------------------------------------------------------
_OPTIONS = {'error_model': 'numpy', 'boundscheck': False}


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


@njit(inline='always', **_OPTIONS)
def _put(values, ok, lengths, slot, value, flag, length):
    native.store_f64(values + 8 * slot, value)
    native.store_f64(ok + 8 * slot, flag)
    native.store_i64(lengths + 8 * slot, length)


@njit(inline='always', **_OPTIONS)
def _equal(a, b, n):
    """Whether the `n` bytes at addresses `a` and `b` are equal."""
    k = 0
    while k + 8 <= n:
        if native.load_i64(a + k) != native.load_i64(b + k):
            return False
        k += 8
    while k < n:
        if native.load_u8(a + k) != native.load_u8(b + k):
            return False
        k += 1
    return True


@njit(**_OPTIONS)
def _strings_end(buf, pos, length):
    """Return the end of the sequence<string> at `pos`, or -1 past the bytes."""
    if pos + 4 > length:
        return -1
    n = _u32(buf, pos)
    pos += 4
    for _ in range(n):
        pos = align(pos, 4)
        if pos + 4 > length:
            return -1
        pos += 4 + _u32(buf, pos)
        if pos > length:
            return -1
    return pos


@njit(**_OPTIONS)
def _lookup(table, buf, pos, end):
    """Find the table's names in the sequence<string> at [pos, end), unless it is cached."""
    n = native.load_i64(table + 8 * T_N)
    cap = native.load_i64(table + 8 * T_CAP)
    size = end - pos
    cache = table + 8 * (T_NAMES + 2 * n)
    if native.load_i64(table + 8 * T_CACHED) == size and _equal(cache, buf + pos, size):
        return
    count = _u32(buf, pos)
    for k in range(n):
        name = table + 8 * native.load_i64(table + 8 * (T_NAMES + n + k))
        want = native.load_i64(name)
        found = -1
        at = pos + 4
        for i in range(count):
            at = align(at, 4)
            got = _u32(buf, at)
            if got == want + 1 and _equal(buf + at + 4, name + 8, want):
                found = i
                break
            at += 4 + got
        native.store_i64(table + 8 * (T_NAMES + k), found)
    if size <= cap:
        for k in range(size):
            native.store_u8(cache + k, native.load_u8(buf + pos + k))
        native.store_i64(table + 8 * T_CACHED, size)
    else:
        native.store_i64(table + 8 * T_CACHED, -1)


@njit(**_OPTIONS)
def walk_into(plan_address, buf, length, values, ok, lengths):
    """
    Walk the plan at `plan_address` over `length` bytes at `buf`; see `walk`.

    `values`, `ok`, `lengths`: addresses of per-slot float64, float64 and int64 arrays.
    """
    code = plan_address + 8 * native.load_i64(plan_address + 8 * P_CODE)
    end = native.load_i64(plan_address + 8 * P_NCODE)
    stack = plan_address + 8 * native.load_i64(plan_address + 8 * P_STACK)
    data = plan_address + 8 * native.load_i64(plan_address + 8 * P_DATA)
    if length < ORIGIN or native.load_u8(buf) != 0 or native.load_u8(buf + 1) != 1:
        return -1
    pos = np.int64(ORIGIN)
    seq_base = np.int64(0)
    seq_n = np.int64(0)
    depth = 0
    ip = np.int64(0)
    while True:
        if pos > length:
            return -1
        if depth > 0:
            frame = stack + 8 * FRAME * (depth - 1)
            if ip == native.load_i64(frame + 8):
                left = native.load_i64(frame + 16) - 1
                if left > 0:
                    native.store_i64(frame + 16, left)
                    ip = native.load_i64(frame)
                    continue
                depth -= 1
                continue
        if ip >= end:
            return 0
        at = code + 8 * ip
        op = native.load_i64(at)
        a = native.load_i64(at + 8)
        if op == OP_READ:
            where = pos + native.load_i64(at + 16)
            if where + SIZES[a] > length:
                return -1
            _put(values, ok, lengths, native.load_i64(at + 24), load_scalar(a, buf + where),
                 1.0, -1)
            ip += 4
        elif op == OP_ELEM:
            index = native.load_i64(at + 16)
            slot = native.load_i64(at + 24)
            if index < seq_n:
                _put(values, ok, lengths, slot,
                     load_scalar(a, buf + seq_base + index * SIZES[a]), 1.0, -1)
            else:
                native.store_f64(ok + 8 * slot, 0.0)
                native.store_i64(lengths + 8 * slot, seq_n)
            ip += 4
        elif op == OP_SKIP:
            pos += a
            ip += 2
        elif op == OP_ALIGN:
            pos = align(pos, a)
            ip += 2
        elif op == OP_GUARD:
            frame = stack + 8 * FRAME * a
            element = native.load_i64(frame + 24) - native.load_i64(frame + 16)
            ip += 4
            if element != native.load_i64(at + 16):
                ip += native.load_i64(at + 24)
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
                pos = align(pos, a)
            seq_base = pos
            pos += seq_n * a
            ip += 2
        elif op == OP_STRINGS:
            pos = _strings_end(buf, pos, length)
            if pos < 0:
                return -1
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
                frame = stack + 8 * FRAME * depth
                native.store_i64(frame, ip)
                native.store_i64(frame + 8, ip + a)
                native.store_i64(frame + 16, n)
                native.store_i64(frame + 24, n)
                depth += 1
        elif op == OP_COUNT:
            if pos + 4 > length:
                return -1
            n = _u32(buf, pos)
            if a >= n:
                slot = native.load_i64(at + 16)
                native.store_f64(ok + 8 * slot, 0.0)
                native.store_i64(lengths + 8 * slot, n)
            ip += 3
        elif op == OP_LOOKUP:
            stop = _strings_end(buf, pos, length)
            if stop < 0:
                return -1
            _lookup(data + 8 * a, buf, pos, stop)
            ip += 2
        elif op == OP_MARK:
            native.store_i64(data + 8 * a, seq_base)
            native.store_i64(data + 8 * a + 8, seq_n)
            ip += 2
        elif op == OP_NAMED:
            table = data + 8 * native.load_i64(at + 16)
            index = native.load_i64(table + 8 * (T_NAMES + native.load_i64(at + 24)))
            mark = data + 8 * native.load_i64(at + 32)
            slot = native.load_i64(at + 40)
            n = native.load_i64(mark + 8)
            if index < 0:
                _put(values, ok, lengths, slot, np.nan, 1.0, MISSING_NAME)
            elif index < n:
                _put(values, ok, lengths, slot,
                     load_scalar(a, buf + native.load_i64(mark) + index * SIZES[a]), 1.0, -1)
            else:
                native.store_f64(ok + 8 * slot, 0.0)
                native.store_i64(lengths + 8 * slot, n)
            ip += 6
        else:
            return -1


@njit(cache=True, nogil=True, **_OPTIONS)
def walk(plan_address, buf, length, values, ok, lengths):
    """
    Walk a plan over CDR bytes: 0, or -1 for bytes it cannot read.

    All arguments are addresses (and `length` a byte count): the plan, the bytes, and per-slot
    float64 `values`, float64 `ok` flags (1.0 read, 0.0 index beyond the sequence) and int64
    `lengths` (the sequence's length when the index was beyond it, `MISSING_NAME` for an
    element name not in the message's `name[]`, else -1).
    """
    return walk_into(plan_address, buf, length, values, ok, lengths)
