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
CDR views: the fields a batch reads, straight from a message's serialized bytes.

Building a Python message from a taken message costs 80-90 us for a `sensor_msgs/Imu` here;
taking the raw CDR bytes costs a fifth of that. A `Decoder` compiled for a message type and the
paths a batch reads walks the bytes (strings and sequences before a field move it, so this is a
walk, not fixed offsets) and fills a small, reused view object that looks like the message for
those paths only: attributes for fields, a float for a number, a zero-copy `memoryview` for an
indexed array or sequence (so `len()` and `IndexError` behave as on the message).

The view is reused: each `decode()` overwrites it, so it is the latest message, not a copy.
Supported: XCDR1 little endian (what rmw_fastrtps sends here), numbers, strings, nested
messages, arrays and sequences of numbers, skipping sequences of strings or messages. Paths
through an array or sequence of messages, wide strings and `long double` are not: `compile`
raises `Unsupported` and the caller takes typed messages for that input instead. A message
with another encapsulation (big endian, XCDR2) makes `decode` raise `Unsupported` too.

>>> from rclpy.serialization import serialize_message
>>> from sensor_msgs.msg import JointState
>>> decoder = Decoder(JointState, [('position', 1), ('header', 'stamp', 'sec')])
>>> raw = serialize_message(JointState(name=['a', 'b'], position=[0.5, 1.5]))
>>> view = decoder.decode(raw)
>>> view.position[1], len(view.position), view.header.stamp.sec
(1.5, 2, 0)
"""

import importlib
from operator import attrgetter
import struct

_ORIGIN = 4  # CDR alignment counts from the end of the 4-byte encapsulation header
_CDR_LE = b'\x00\x01'
_U32 = struct.Struct('<I')

# rosidl basic type -> (size in bytes, struct / memoryview format)
_PRIMITIVES = {
    'boolean': (1, '?'), 'octet': (1, 'B'), 'char': (1, 'B'), 'uint8': (1, 'B'),
    'int8': (1, 'b'), 'int16': (2, 'h'), 'uint16': (2, 'H'), 'int32': (4, 'i'),
    'uint32': (4, 'I'), 'float': (4, 'f'), 'int64': (8, 'q'), 'uint64': (8, 'Q'),
    'double': (8, 'd'),
}


class Unsupported(ValueError):
    """A type, path or encoding this module does not decode (the caller falls back)."""


def _align(pos, a):
    return _ORIGIN + ((pos - _ORIGIN + a - 1) & -a)


def _message_class(namespaced):
    module = importlib.import_module('.'.join(namespaced.namespaces))
    return getattr(module, namespaced.name)


def _kind(slot):
    return type(slot).__name__


def _fields(cls):
    return list(zip(cls.get_fields_and_field_types(), cls.SLOT_TYPES, strict=True))


def _need_tree(paths):
    """Merge paths into {field: subtree}; a subtree of None means 'this field itself'."""
    tree = {}
    for steps in paths:
        node = tree
        for i, step in enumerate(steps):
            if isinstance(step, int):
                raise Unsupported('an index must follow a field')
            rest = steps[i + 1:]
            if not rest or isinstance(rest[0], int):
                if len(rest) > 1:
                    raise Unsupported('paths through arrays of messages are not decoded')
                node[step] = None
                break
            child = node.get(step, {})
            if child is None:
                raise Unsupported(f"'{step}' is used both as a value and as a message")
            node[step] = child
            node = child
    return tree


class _PlanBuilder:
    """
    Turns (message class, needed fields) into a list of ops `op(raw, pos) -> pos`.

    `pending` bytes of fixed-size fields are folded at compile time into the offsets of the
    next op; `base` is the alignment the runtime `pos` is known to have (relative to the
    origin), so most alignments fold away too. Variable-length parts (strings, sequences)
    materialize `pos` at run time.
    """

    def __init__(self):
        self.ops = []
        self.pending = 0
        self.base = 8

    def align(self, a):
        if a <= 1:
            return
        if self.base >= a:
            self.pending = (self.pending + a - 1) & -a
            return
        pending = self.pending
        self.ops.append(lambda raw, pos: _align(pos + pending, a))
        self.pending = 0
        self.base = a

    def materialize(self):
        pending = self.pending
        if pending:
            self.ops.append(lambda raw, pos: pos + pending)
        self.pending = 0

    def message(self, cls, need, view, top=False):
        """
        Walk the fields of `cls`; `need` says which to read into `view` (None: skip all).

        Only the top-level message may stop after its last needed field: a nested one must be
        walked to its end, since the fields after it start there.
        """
        fields = _fields(cls)
        if not fields:
            self.pending += 1  # rosidl gives an empty message one hidden uint8
            return
        remaining = set(need) if need else set()
        for name, slot in fields:
            if top and not remaining:
                return
            wanted = need is not None and name in need
            remaining.discard(name)
            self.field(slot, need.get(name) if wanted else None, wanted, view, name)

    def field(self, slot, sub, wanted, view, name):
        kind = _kind(slot)
        if kind == 'BasicType':
            if slot.typename not in _PRIMITIVES:
                raise Unsupported(f'{slot.typename} fields are not decoded')
            size, fmt = _PRIMITIVES[slot.typename]
            self.align(size)
            if wanted:
                self.read(fmt, size, view, name)
            self.pending += size
        elif kind == 'NamespacedType':
            cls = _message_class(slot)
            if wanted:
                if sub is None:
                    raise Unsupported(f"'{name}' is a message, not a number")
                child = _view_for(cls, sub)
                setattr(view, '_' + name, child)
                self.message(cls, sub, child)
            else:
                self.message(cls, None, None)
        elif kind in ('UnboundedString', 'BoundedString'):
            if wanted:
                raise Unsupported(f"'{name}' is a string")
            self.string()
        elif kind == 'Array':
            self.array(slot, wanted, view, name)
        elif kind in ('UnboundedSequence', 'BoundedSequence'):
            self.sequence(slot, wanted, view, name)
        else:
            raise Unsupported(f'{kind} fields are not decoded')

    def read(self, fmt, size, view, name):
        unpack = struct.Struct('<' + fmt).unpack_from
        offset = self.pending
        name = '_' + name

        def op(raw, pos):
            setattr(view, name, unpack(raw, pos + offset)[0])
            return pos
        self.ops.append(op)

    def string(self):
        self.align(4)
        self.materialize()

        def op(raw, pos):
            return pos + 4 + _U32.unpack_from(raw, pos)[0]
        self.ops.append(op)
        self.base = 1

    def array(self, slot, wanted, view, name):
        value = slot.value_type
        n = slot.size
        if _kind(value) == 'BasicType' and value.typename in _PRIMITIVES:
            size, fmt = _PRIMITIVES[value.typename]
            self.align(size)
            if wanted:
                offset, length = self.pending, n * size
                name = '_' + name

                def op(raw, pos):
                    start = pos + offset
                    setattr(view, name, raw[start:start + length].cast(fmt))
                    return pos
                self.ops.append(op)
            self.pending += n * size
            return
        if wanted:
            raise Unsupported(f"'{name}' is an array of {_kind(value)}: not decoded")
        for _ in range(n):
            self.field(value, None, False, None, name)

    def sequence(self, slot, wanted, view, name):
        value = slot.value_type
        self.align(4)
        self.materialize()
        if _kind(value) == 'BasicType' and value.typename in _PRIMITIVES:
            size, fmt = _PRIMITIVES[value.typename]
            count = _U32.unpack_from

            if wanted:
                name = '_' + name

                def op(raw, pos):
                    n = count(raw, pos)[0]
                    pos += 4
                    if n:
                        pos = _align(pos, size)
                    end = pos + n * size
                    setattr(view, name, raw[pos:end].cast(fmt))
                    return end
            else:
                def op(raw, pos):
                    n = count(raw, pos)[0]
                    pos += 4
                    if n:
                        pos = _align(pos, size) + n * size
                    return pos
            self.ops.append(op)
            self.base = 1
            return
        if wanted:
            raise Unsupported(f"'{name}' is a sequence of {_kind(value)}: not decoded")
        if _kind(value) in ('UnboundedString', 'BoundedString'):
            # Common (JointState.name): one op for the whole sequence.
            count = _U32.unpack_from

            def op(raw, pos):
                n = count(raw, pos)[0]
                pos += 4
                for _ in range(n):
                    pos = _align(pos, 4)
                    pos += 4 + count(raw, pos)[0]
                return pos
            self.ops.append(op)
            self.base = 1
            return
        element = _PlanBuilder()
        element.base = 1
        element.field(value, None, False, None, name)
        element.materialize()
        ops = tuple(element.ops)

        def op(raw, pos):
            n = _U32.unpack_from(raw, pos)[0]
            pos += 4
            for _ in range(n):
                for step in ops:
                    pos = step(raw, pos)
            return pos
        self.ops.append(op)
        self.base = 1


def _view_for(cls, need):
    """
    Make a view object with the needed fields of `cls`, laid out as rosidl lays out messages.

    Like a generated message class, each field is a slot `_name` behind a read-only property
    `name`, so getters that read slots directly (as the input bindings do) and getters that
    use the field names both work.
    """
    namespace = {'__slots__': tuple(f'_{name}' for name in need)}
    for name in need:
        namespace[name] = property(attrgetter(f'_{name}'))
    return type(f'{cls.__name__}View', (), namespace)()


class Decoder:
    """
    Decode the fields at `paths` (steps after the input's root) of `msg_type` messages.

    `decode(raw)` returns the reused view; it raises `Unsupported` for another encoding and
    `struct.error` / `ValueError` for bytes too short for what they claim.
    """

    def __init__(self, msg_type, paths):
        self.msg_type = msg_type
        paths = [tuple(p) for p in paths]
        if not paths or any(not p for p in paths):
            raise Unsupported('nothing to decode')
        need = _need_tree(paths)
        self._check_fields(msg_type, need)
        self.view = _view_for(msg_type, need)
        compiler = _PlanBuilder()
        compiler.message(msg_type, need, self.view, top=True)
        self._ops = tuple(compiler.ops)

    @staticmethod
    def _check_fields(cls, need):
        names = dict(_fields(cls))
        for name, sub in need.items():
            if name not in names:
                raise Unsupported(f"{cls.__name__} has no field '{name}'")
            if sub:
                Decoder._check_fields(_message_class(names[name]), sub)

    def decode(self, raw):
        if raw[:2] != _CDR_LE:
            raise Unsupported('not XCDR1 little endian')
        # One memoryview per message: the array views slice it without copying, and they
        # keep the bytes alive for as long as the view shows this message.
        raw = memoryview(raw)
        pos = _ORIGIN
        for op in self._ops:
            pos = op(raw, pos)
        return self.view
