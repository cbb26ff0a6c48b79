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
Typed output templates: any message type as pre-serialized CDR bytes with numbers patched in.

A typed output sets some numeric fields of a message from arena slots and some string fields to
constants. Once those are known the message's serialized layout is fixed (a sequence's length is
fixed by the highest index set, strings are constants), so it is serialized once at configure
time with rclpy's own serializer and every tick only overwrites the numeric fields' bytes.

Offsets come from rclpy, not from a CDR walker of ours: each numeric field is serialized a second
time with a value whose lowest byte differs, and the first byte that changed is the field's
first byte (little-endian CDR). So the template follows whatever the installed rmw serializes.

Conversions from the arena's float64, per field type (`patch`):
- float64: as is; float32: rounded to nearest, overflow gives +-inf.
- integers: rounded half away from zero, saturated to the type's range (counted); nan gives 0
  (counted).
- bool: nonzero is true; nan gives false (counted).

>>> from std_msgs.msg import Int8
>>> t = Template.build(Int8, {('data',): 0})
>>> import numpy as np
>>> counts = t.patch_values(np.array([300.0]))
>>> from rclpy.serialization import deserialize_message
>>> deserialize_message(bytes(t.raw), Int8).data, counts
(127, (0, 1))
"""

import math
import struct

from numba import njit
import numpy as np

from .description import (BY_KIND, fields, K_BOOL, K_F32, K_F64, K_I64, K_MESSAGE, K_STRING, K_U64,
                          members, SCALARS, SIZES)
from .inputs import resolve_path
from ..engine import native

# Integer ranges indexed by kind (description.py's); the 64-bit tops are handled apart (their
# floats round up).
_LOW = tuple(float(np.iinfo(BY_KIND[k].dtype).min) if k in BY_KIND and k not in (
    K_BOOL, K_F32, K_F64) else 0.0 for k in range(len(SIZES)))
_HIGH = tuple(float(np.iinfo(BY_KIND[k].dtype).max) if k in BY_KIND and k not in (
    K_BOOL, K_F32, K_F64, K_I64, K_U64) else 0.0 for k in range(len(SIZES)))
_TWO_63 = 9223372036854775808.0
_TWO_64 = 18446744073709551616.0
# A patch row: [byte offset, kind, arena slot].
ROW = 3


@njit('void(int64, int64, int64, int64, int64, int64)', cache=True, nogil=True,
      boundscheck=False, error_model='numpy')
def patch_rows(rows_addr, n_rows, values_addr, n_values, raw_addr, work_addr):
    """
    Write `values[slot]` at each row's byte offset of `raw`, converted to the row's kind.

    Everything is reached by address (an array argument would cost an NRT allocation per
    call) and stored unaligned, as CDR places fields. `work` is 4 int64 words: [0] and [1]
    count nan conversions and saturations.
    """
    rows = native.i64_view(rows_addr, n_rows * ROW)
    work = native.i64_view(work_addr, 4)
    for r in range(n_rows):
        at = raw_addr + rows[r * ROW]
        kind = rows[r * ROW + 1]
        x = native.load_f64(values_addr + 8 * rows[r * ROW + 2])
        if kind == K_F64:
            native.store_f64(at, x)
            continue
        if kind == K_F32:
            native.store_f32(at, np.float32(x))
            continue
        if x != x:
            work[0] += 1
            x = 0.0
        if kind == K_BOOL:
            native.store_u8(at, np.uint8(1) if x != 0.0 else np.uint8(0))
            continue
        t = np.trunc(x)
        if abs(x - t) >= 0.5:
            t += math.copysign(1.0, x)
        if kind == K_I64:
            if t < _LOW[K_I64] or t >= _TWO_63:
                work[1] += 1
                bits = np.uint64(0x8000000000000000) if t < 0.0 else np.uint64(
                    0x7FFFFFFFFFFFFFFF)
            else:
                bits = np.uint64(np.int64(t))
            native.store_u64(at, bits)
            continue
        if kind == K_U64:
            if t < 0.0 or t >= _TWO_64:
                work[1] += 1
                bits = np.uint64(0) if t < 0.0 else np.uint64(0xFFFFFFFFFFFFFFFF)
            else:
                bits = np.uint64(t)
            native.store_u64(at, bits)
            continue
        if t < _LOW[kind]:
            work[1] += 1
            t = _LOW[kind]
        elif t > _HIGH[kind]:
            work[1] += 1
            t = _HIGH[kind]
        bits = np.uint64(np.int64(t))
        size = SIZES[kind]
        if size == 1:
            native.store_u8(at, np.uint8(bits & np.uint64(0xFF)))
        elif size == 2:
            native.store_u16(at, np.uint16(bits & np.uint64(0xFFFF)))
        else:
            native.store_u32(at, np.uint32(bits & np.uint64(0xFFFFFFFF)))


class Template:
    """One typed output's serialized message and where its numbers go."""

    def __init__(self, msg_type, raw, rows, offsets=None, fields=()):
        self.msg_type = msg_type
        self.fields = tuple(fields)  # the steps of each row, for `describe`
        self.offsets = offsets or {}  # {steps: byte offset} of the fields asked for by `probe`
        self.raw = raw          # bytearray: the message as published, patched in place
        self.rows = rows        # int64 [n, ROW]: offset, kind, slot
        self._raw_view = np.frombuffer(raw, np.uint8)
        self.work = np.zeros(4, np.int64)  # nan into int/bool, saturated (2 spare)
        self._values = None
        self._args = None

    @classmethod
    def build(cls, msg_type, numeric, strings=None, probe=()):
        """
        Serialize `msg_type` with `numeric` {steps: arena slot} and `strings` {steps: str} set.

        Steps are field names and indices, as `inputs.parse_path` gives them. Every path must
        already be checked against the type (`outputs.check_fields`). A sequence is made long
        enough for the highest index set; the elements not set stay zero. The byte offsets of
        the `probe` fields (set by the caller, e.g. a 'now' stamp) go into `offsets`.
        """
        from rclpy.serialization import serialize_message

        msg = msg_type()
        for steps, value in (strings or {}).items():
            _assign(msg, steps, value)
        for steps in numeric:
            _assign(msg, steps, None)  # grow sequences; the value itself is set below
        raw = bytearray(serialize_message(msg))

        def offset_of(steps):
            kind = SCALARS[resolve_path(msg_type, '', steps)].kind
            original = _get(msg, steps)
            found = None
            # The field is where both sentinels' bytes appear, alternating, in four
            # serializations: the serializer leaves alignment padding undefined, so a byte that
            # merely changed between two serializations may be padding.
            for value, encoded in _sentinels(kind, original) * 2:
                _set(msg, steps, value)
                data = serialize_message(msg)
                if len(data) != len(raw):
                    raise AssertionError(f'{steps}: the probe changed the message length')
                n = len(encoded)
                here = {i for i in range(len(data) - n + 1) if data[i:i + n] == encoded}
                found = here if found is None else found & here
            _set(msg, steps, original)
            if len(found) != 1:
                raise AssertionError(f'{steps}: {len(found)} places hold the probe')
            return kind, found.pop()

        rows = []
        for steps, slot in numeric.items():
            kind, offset = offset_of(steps)
            rows.append((offset, kind, slot))
        rows = np.array(rows, np.int64).reshape(-1, ROW)
        return cls(msg_type, raw, rows, {steps: offset_of(steps)[1] for steps in probe},
                   list(numeric))

    @property
    def counts(self):
        """(nan conversions, saturations) so far."""
        return int(self.work[0]), int(self.work[1])

    def bind(self, values):
        """Read from the float64 array `values` (e.g. the arena) from now on; keep it alive."""
        self._values = values
        self._args = (self.rows.ctypes.data, len(self.rows), values.ctypes.data, len(values),
                      self._raw_view.ctypes.data, self.work.ctypes.data)

    def patch(self):
        """Write the bound values into the bytes: the tick's call, no allocation."""
        patch_rows(*self._args)

    def patch_values(self, values):
        """Patch from `values` and return (nan conversions, saturations) this call added."""
        before = self.counts
        self.bind(np.ascontiguousarray(values, np.float64))
        self.patch()
        return tuple(c - b for c, b in zip(self.counts, before, strict=True))


def _sentinels(kind, original):
    """
    Return [(value to set, its serialized bytes)]: two probes whose bytes differ in every byte.

    Each is the kind's value of a repeated byte (0x5a, 0xc3); bool is True and False.
    """
    result = []
    dtype = BY_KIND[kind].dtype
    for byte in (0x5A, 0xC3):
        encoded = (bytes([byte == 0x5A]) if kind == K_BOOL
                   else bytes([byte]) * BY_KIND[kind].size)
        value = np.frombuffer(encoded, dtype)[0].item()
        if kind == K_BOOL:
            value = bool(value)
        if isinstance(original, bytes):  # octet fields are one-byte bytes in rclpy
            value = encoded
        result.append((value, encoded))
    return result


def _get(msg, steps):
    for step in steps:
        msg = msg[step] if isinstance(step, int) else getattr(msg, step)
    return msg.item() if isinstance(msg, np.generic) else msg


def _assign(msg, steps, value):
    """Set the field at `steps` to `value` (None: only make the path exist), growing sequences."""
    holder = msg
    for i, step in enumerate(steps[:-1]):
        nxt = steps[i + 1]
        if isinstance(nxt, int):
            _grow(holder, step, nxt)
            if i + 1 == len(steps) - 1:
                if value is not None:
                    seq = getattr(holder, step)
                    seq[nxt] = value
                return
        holder = getattr(holder, step) if isinstance(step, str) else holder[step]
    last = steps[-1]
    if value is not None:
        setattr(holder, last, value)


def _grow(holder, field, index):
    """Make the sequence `holder.field` at least `index + 1` long, padding with zeros."""
    seq = getattr(holder, field)
    if len(seq) > index:
        return
    if isinstance(seq, np.ndarray):
        grown = np.zeros(index + 1, seq.dtype)
        grown[:len(seq)] = seq
        setattr(holder, field, grown)
        return
    element = fields(type(holder))[field]
    if element.kind == K_MESSAGE:
        padding = [element.message() for _ in range(index + 1 - len(seq))]
    elif element.kind >= K_STRING:
        padding = [''] * (index + 1 - len(seq))
    else:
        padding = [False if element.kind == K_BOOL else 0] * (index + 1 - len(seq))
    setattr(holder, field, list(seq) + padding)


def _set(msg, steps, value):
    holder = msg
    for step in steps[:-1]:
        holder = holder[step] if isinstance(step, int) else getattr(holder, step)
    last = steps[-1]
    if isinstance(last, int):
        holder[last] = value
    else:
        setattr(holder, last, value)


def numeric_leaves(msg_type, prefix=(), sequence_length=2):
    """Yield (steps, basic type name) of every numeric field; sequences `sequence_length` long."""
    for f in members(msg_type):
        here = prefix + (f.name,)
        if f.kind == K_MESSAGE and f.shape == 'one':
            yield from numeric_leaves(f.message, here, sequence_length)
        elif f.scalar is None:
            continue
        elif f.shape == 'one':
            yield here, f.element
        else:
            size = f.size if f.shape == 'array' else min(sequence_length,
                                                         f.size or sequence_length)
            for i in range(size):
                yield here + (i,), f.element


def _path_text(steps):
    return ''.join(f'[{s}]' if isinstance(s, int) else f'.{s}' for s in steps).lstrip('.')


def describe(config, batch):
    """Return the patch list of one typed output as text lines, for `check --dump`."""
    output = TypedOutput(config, batch, lambda raw: None)
    template = output.template
    slots = {}
    for name in batch.outputs:
        slots[batch.output_slot(name)] = name
    for path in batch.inputs:
        slots[batch.input_slot(path)] = path
    stamp = f', stamp {config.stamp}' if config.stamp else ''
    lines = [f'typed output {config.name} -> {config.topic} ({config.type_name}), every '
             f'{config.every}{stamp}: {len(template.raw)} bytes, {len(template.rows)} patches']
    for (offset, kind, slot), steps in zip(template.rows.tolist(), template.fields, strict=True):
        lines.append(f'  +{offset:<5d} {BY_KIND[kind].label:<8s} {_path_text(steps):<24s} <- '
                     f'@{slot} {slots.get(slot, "?")}')
    if config.stamp == 'now':
        lines.append(f"  +{template.offsets[_NOW_FIELDS[0]]:<5d} {'time':<8s} "
                     f"{'header.stamp':<24s} <- the node's clock")
    for steps, value in config.strings().items():
        lines.append(f'  {"":6s} {"string":<8s} {_path_text(steps):<24s} = {value!r}')
    return lines


_STAMP = struct.Struct('<iI')
_NOW_FIELDS = (('header', 'stamp', 'sec'), ('header', 'stamp', 'nanosec'))


class TypedOutput:
    """
    One typed output on the tick side: its template, rate divider, publisher and counters.

    Built off the tick (configure time); `tick()` is the tick's call. It publishes on the
    first tick and then on every `every`-th. `published` and the template's counts are read by
    the diagnostics (plain int reads).
    """

    def __init__(self, config, batch, publisher_for, now=None, topic=None):
        """
        Build the template of `config` (an `outputs.OutputConfig`) over `batch`'s arena.

        `publisher_for(raw)` returns the `publish()` that sends the bytes of `raw`; `now()`
        returns the node clock's time in ns, for a stamp of 'now'. `topic` is the resolved
        topic name, for the diagnostics.
        """
        from .outputs import NOW
        _, targets = config.statements()
        numeric = {steps: (batch.output_slot(name) if where == 'output'
                           else batch.input_slot(name))
                   for steps, (where, name) in targets.items()}
        probe = _NOW_FIELDS if config.stamp == NOW else ()
        self.template = Template.build(config.msg_type, numeric, config.strings(), probe)
        self.template.bind(batch.arena)
        self.name = config.name
        self.topic = topic or config.topic
        self.type_name = config.type_name
        self.every = config.every
        self.published = 0
        self._count = config.every - 1
        self._publish = publisher_for(self.template.raw)
        self._now = now if probe else None
        self._now_at = self.template.offsets.get(_NOW_FIELDS[0])

    def tick(self):
        """Patch and publish when this tick is one of every `every`."""
        self._count += 1
        if self._count < self.every:
            return
        self._count = 0
        if self._now is not None:
            _STAMP.pack_into(self.template.raw, self._now_at, *divmod(self._now(), 1_000_000_000))
        self.template.patch()
        self._publish()
        self.published += 1


def _raw_template(msg, n_doubles):
    """Serialize `msg` once; return (bytearray, float64 view of its trailing `n_doubles`)."""
    from rclpy.serialization import serialize_message
    raw = bytearray(serialize_message(msg))
    view = np.frombuffer(raw, np.float64, n_doubles, len(raw) - 8 * n_doubles)
    return raw, view


def results_template(outputs):
    """Return the `~/results` message as CDR bytes and the view of its `data` doubles."""
    n = len(outputs)
    from std_msgs.msg import Float64MultiArray, MultiArrayDimension
    msg = Float64MultiArray()
    msg.layout.dim = [MultiArrayDimension(label=','.join(outputs), size=n, stride=n)]
    msg.layout.data_offset = 0
    msg.data = [0.0] * n
    # `data` is the message's last field, so its doubles are the CDR's last 8 * n bytes.
    return _raw_template(msg, n)


def float64_template():
    """Return a `std_msgs/msg/Float64` as CDR bytes and the view of its one double."""
    from std_msgs.msg import Float64
    return _raw_template(Float64(data=0.0), 1)
