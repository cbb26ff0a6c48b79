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
One description of each message type: its fields, the one table of scalar kinds, CDR alignment.

Everything that walks a message type walks this: the decode plans (`plans.py`), the input path
checks (`inputs.resolve_path`), typed-output field kinds (`outputs.py`) and template leaves
(`templates.py`). It is built once per class from rosidl's Python introspection
(`get_fields_and_field_types`, `SLOT_TYPES`), as rosidl's `MessageMembers` tables describe a
type to Fast DDS's generic serializer: per field its name, element kind, shape (one, array of
`size`, sequence bounded by `size` or not) and, for a message element, its class. No rclpy
context is needed.

>>> from sensor_msgs.msg import JointState
>>> [(f.name, f.text) for f in members(JointState)]
[('header', 'std_msgs/msg/Header'), ('name', 'sequence<string>'), \
('position', 'sequence<double>'), ('velocity', 'sequence<double>'), \
('effort', 'sequence<double>')]
>>> SCALARS['uint16'].kind == K_U16, SIZES[K_U16], align(5, 4)
(True, 2, 8)
"""

from dataclasses import dataclass
from functools import cache
import importlib

from numba.extending import register_jitable
import numpy as np

ORIGIN = 4  # CDR alignment counts from the end of the 4-byte encapsulation header
CDR_LE = b'\x00\x01'  # XCDR1 little endian: the one encapsulation read

# Element kinds: the scalar kinds first (what the plans read and the templates patch), then the
# elements that are not numbers.
K_BOOL, K_U8, K_I8, K_U16, K_I16, K_U32, K_I32, K_U64, K_I64, K_F32, K_F64 = range(1, 12)
K_STRING = 12       # string and wstring: skipped, or set as constants in templates
K_MESSAGE = 13
K_OTHER = 14        # long double, wchar: no reader


@dataclass(frozen=True)
class Scalar:
    """One scalar kind: its number, size in bytes, numpy dtype and name as `check --dump`."""

    kind: int
    size: int
    dtype: str
    label: str


# The one table of scalar kinds: rosidl basic type name -> its kind. Octet and char are bytes.
SCALARS = {
    'boolean': Scalar(K_BOOL, 1, '<u1', 'bool'), 'octet': Scalar(K_U8, 1, '<u1', 'uint8'),
    'char': Scalar(K_U8, 1, '<u1', 'uint8'), 'uint8': Scalar(K_U8, 1, '<u1', 'uint8'),
    'int8': Scalar(K_I8, 1, '<i1', 'int8'), 'uint16': Scalar(K_U16, 2, '<u2', 'uint16'),
    'int16': Scalar(K_I16, 2, '<i2', 'int16'), 'uint32': Scalar(K_U32, 4, '<u4', 'uint32'),
    'int32': Scalar(K_I32, 4, '<i4', 'int32'), 'uint64': Scalar(K_U64, 8, '<u8', 'uint64'),
    'int64': Scalar(K_I64, 8, '<i8', 'int64'), 'float': Scalar(K_F32, 4, '<f4', 'float32'),
    'double': Scalar(K_F64, 8, '<f8', 'float64'),
}
BY_KIND = {s.kind: s for s in SCALARS.values()}
# Sizes indexed by kind, for compiled code (0 for the kinds that are not scalars).
SIZES = np.array([BY_KIND[k].size if k in BY_KIND else 0 for k in range(K_OTHER + 1)],
                 np.int64)


@register_jitable(inline='always')
def align(pos, a):
    """Return `pos` moved up to a multiple of `a` counted from the CDR origin (the one rule)."""
    return ORIGIN + ((pos - ORIGIN + a - 1) & -a)


@dataclass(frozen=True)
class Field:
    """
    One field of a message type: `shape` is 'one', 'array' or 'sequence'.

    `size` is the array's length or the sequence's bound (None: unbounded); `element` the
    rosidl basic type name, 'string' or the message's `pkg/msg/Type`; `message` its class.
    """

    name: str
    kind: int
    shape: str
    size: int | None
    element: str
    message: type | None = None

    @property
    def scalar(self):
        """Return the `Scalar` of a number element, else None."""
        return SCALARS.get(self.element) if self.kind < K_STRING else None

    @property
    def text(self):
        """Return the field's type as users write it: double, double[9], sequence<double, 5>."""
        if self.shape == 'array':
            return f'{self.element}[{self.size}]'
        if self.shape == 'sequence':
            bound = '' if self.size is None else f', {self.size}'
            return f'sequence<{self.element}{bound}>'
        return self.element


class ByName(str):
    """A path step naming an element by the message's `name[]` list: `position['elbow']`."""

    __slots__ = ()


def message_class(namespaced):
    """Import the class a rosidl `NamespacedType` names."""
    return getattr(importlib.import_module('.'.join(namespaced.namespaces)), namespaced.name)


def type_name(cls):
    """Return `sensor_msgs/msg/Imu` for the class `sensor_msgs.msg.Imu`."""
    return f"{cls.__module__.split('.')[0]}/msg/{cls.__name__}"


def _element(slot):
    kind = type(slot).__name__
    if kind == 'BasicType':
        scalar = SCALARS.get(slot.typename)
        return (scalar.kind if scalar else K_OTHER), slot.typename, None
    if kind == 'NamespacedType':
        cls = message_class(slot)
        return K_MESSAGE, type_name(cls), cls
    if kind in ('UnboundedString', 'BoundedString', 'UnboundedWString', 'BoundedWString'):
        return K_STRING, 'string' if 'WString' not in kind else 'wstring', None
    return K_OTHER, kind, None


def _field(name, slot):
    kind = type(slot).__name__
    if kind == 'Array':
        shape, size, slot = 'array', slot.size, slot.value_type
    elif kind == 'BoundedSequence':
        shape, size, slot = 'sequence', slot.maximum_size, slot.value_type
    elif kind == 'UnboundedSequence':
        shape, size, slot = 'sequence', None, slot.value_type
    else:
        shape, size = 'one', None
    element_kind, element, cls = _element(slot)
    return Field(name, element_kind, shape, size, element, cls)


@cache
def members(cls):
    """Return the fields of the message class `cls`, in CDR order (a tuple of `Field`)."""
    return tuple(_field(name, slot) for name, slot in zip(
        cls.get_fields_and_field_types(), cls.SLOT_TYPES, strict=True))


@cache
def fields(cls):
    """Return {name: `Field`} of `cls`."""
    return {f.name: f for f in members(cls)}


def has_header(cls):
    """Say whether `cls` has a `std_msgs/Header header` field."""
    header = fields(cls).get('header')
    return header is not None and header.shape == 'one' and header.element == (
        'std_msgs/msg/Header')


def has_name_list(cls):
    """Say whether `cls` has a `name` sequence or array of strings (for indices by name)."""
    names = fields(cls).get('name')
    return names is not None and names.shape != 'one' and names.element == 'string'
