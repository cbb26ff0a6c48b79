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
Typed outputs: `outputs.<name>` sections of a params file, checked, and their place in the batch.

A typed output publishes one message type on its own topic. Its `fields` are
`"field.path = expression"` items: the expression is of the batch language (inputs and the
batch's named outputs), or a quoted string constant for a string field:

    outputs:
      tilt:
        topic: /tilt
        type: geometry_msgs/msg/Vector3Stamped
        stamp: imu          # header.stamp: the newest imu message's stamp ('now': the clock)
        frame_id: base_link
        every: 10           # publish on every 10th tick
        fields: ["vector.x = roll", "vector.y = pitch", "vector.z = atan2(imu.a.x, imu.a.z)"]

While an input its fields' values depend on is stale or missing (a sequence too short for an
index counts too), `on_stale` decides what a due tick does: 'skip' (the default) publishes
nothing, so a consumer's own timeout fires; 'stale_fields' publishes the message with the
constants of `stale_fields` (`["data = true"]` for an e-stop), every other number zero, strings
and stamp as usual; 'publish' publishes what the expressions give under the stale policy (for
expressions that handle staleness themselves with `fresh()`, which then is no dependency).

Each expression that is not just a batch output's name becomes a hidden statement of the batch
(`__<output>_<k>`, a name users cannot write), compiled with the rest, so typed outputs cost
no second kernel call. `ros/templates.py` turns the result into pre-serialized bytes.
"""

from dataclasses import dataclass, field
import re

import numpy as np

from .description import has_header, SCALARS, type_name
from .inputs import InputError, parse_path, resolve_path
from ..language.errors import ExpressionError, Pos, Source
from ..language.parse import parse_expression
from ..language.tree import Ref, Statement

_NAME = r'[A-Za-z_][A-Za-z0-9_]*'
_LHS = re.compile(rf'\s*({_NAME}(?:\s*(?:\.\s*{_NAME}|\[\s*\d+\s*\]))*)\s*=(?!=)')
_STRING = re.compile(r"""\s*(?:'([^'\\]*)'|"([^"\\]*)")\s*\Z""")
NOW = 'now'
ON_STALE = ('skip', 'stale_fields', 'publish')
_TRUE_FALSE = {'true': True, 'false': False}


@dataclass(frozen=True)
class FieldAssign:
    """One `field.path = expression` item: the field's steps and the expression or constant."""

    path: str
    steps: tuple
    text: str              # the expression's text ('' for a constant)
    source: Source = field(compare=False)       # where `text` starts
    at: object = field(compare=False, default=None)  # `Pos` of the field path
    constant: str | None = None


@dataclass(frozen=True)
class OutputConfig:
    """One checked typed output."""

    name: str
    topic: str
    type_name: str
    msg_type: type = field(repr=False)
    fields: tuple = ()
    stamp: str = ''
    frame_id: str | None = None
    every: int = 1
    on_stale: str = 'skip'
    stale_fields: tuple = ()   # `FieldAssign`s of constants, for on_stale 'stale_fields'

    stamp_at: object = field(compare=False, default=None)  # `Pos` of the stamp value

    def statements(self):
        """
        Return (hidden `Statement`s to compile with the batch, {steps: target}).

        A target is `('output', name)` (a hidden output of the batch) or `('input', path)` (an
        input slot: the stamp's fields, which no stale policy touches). A field set to a plain
        output name costs one copy row; that keeps this mapping simple.
        """
        hidden, targets = [], {}
        for k, item in enumerate(self.fields):
            if item.constant is not None:
                continue
            tree = parse_expression(item.text, item.source, name=self.where(k))
            name = f'__{self.name}_{k}'
            hidden.append(Statement(name, tree, tree.pos, item.source))
            targets[item.steps] = ('output', name)
        if self.stamp and self.stamp != NOW:
            for part in ('sec', 'nanosec'):
                path = f'{self.stamp}.header.stamp.{part}'
                # Referenced so the batch reads the path; the template reads the input slot.
                at = self.stamp_at or Pos(None, 1, 1)
                source = Source(self.stamp, at.file, at.line, at.col)
                hidden.append(Statement(f'__{self.name}_stamp_{part}', Ref(path, at), at,
                                        source))
                targets[('header', 'stamp', part)] = ('input', path)
        return hidden, targets

    def label(self, item):
        """Name a field by its path, for columns: `tilt.vector.x`."""
        return f'{self.name}.{item.path}'

    def where(self, k):
        """Name field item `k` in errors as the user wrote it: `outputs.tilt.fields[2]`."""
        return f'outputs.{self.name}.fields[{k}]'

    def hidden_labels(self):
        """Return {hidden statement name: label} to rename compiler errors."""
        labels = {f'__{self.name}_{k}': self.where(k) for k in range(len(self.fields))}
        labels.update({f'__{self.name}_stamp_{part}': f'outputs.{self.name}.stamp'
                       for part in ('sec', 'nanosec')})
        return labels

    def stale_values(self):
        """Return {steps: value} of `stale_fields`, typed for rclpy (bool, int or float)."""
        return {item.steps: stale_constant(field_kind(self.msg_type, item.steps), item.text)
                for item in self.stale_fields}

    def strings(self):
        """Return {steps: constant} of the string fields, frame_id included."""
        result = {item.steps: item.constant for item in self.fields if item.constant is not None}
        if self.frame_id is not None:
            result[('header', 'frame_id')] = self.frame_id
        return result


def parse_field(text, source):
    """Split one `fields` item into a `FieldAssign`; raise `ExpressionError` at its position."""
    match = _LHS.match(text)
    if match is None:
        raise ExpressionError("a field item is 'field.path = expression'", source.pos(1, 1),
                              hint="e.g. 'vector.x = roll' or \"header.frame_id = 'map'\"")
    lhs = re.sub(r'\s+', '', match.group(1))
    root, rest = parse_path(lhs)
    steps = (root,) + rest
    rhs_at = match.end()
    rhs_at += len(text[rhs_at:]) - len(text[rhs_at:].lstrip(' \t'))
    rhs = text[rhs_at:]
    rhs_source = Source(rhs, source.file, source.line, source.col + rhs_at)
    at = source.pos(1, match.start(1) + 1)
    constant = _STRING.match(rhs)
    if constant is not None:
        value = constant.group(1) if constant.group(1) is not None else constant.group(2)
        return FieldAssign(lhs, steps, '', rhs_source, at, value)
    if not rhs.strip():
        raise ExpressionError(f"nothing after '=' for field '{lhs}'",
                              source.pos(1, rhs_at + 1), hint='write an expression')
    return FieldAssign(lhs, steps, rhs, rhs_source, at)


def field_kind(msg_type, steps):
    """
    Return the field's basic type name ('double', 'uint8', ...) or 'string'.

    Raise `InputError` for a field the type lacks, an index on a non-array, a message or an
    array left without a field or index.
    """
    try:
        return resolve_path(msg_type, _ROOT, steps, strings=True)
    except InputError as exc:
        raise InputError(_unrooted(exc.message, msg_type), _unrooted(exc.hint, msg_type)) from None


# `resolve_path` names paths from an input's root; a field path has none, so a marker stands in
# for it and is cut out of the messages.
_ROOT = '\x00'


def _unrooted(text, msg_type):
    if text is None:
        return None
    name = type_name(msg_type)
    return (text.replace(f'{_ROOT} ({name}) has', f'{name} has')
            .replace(f"'{_ROOT}.", "'").replace(f'{_ROOT}.', ''))


def check_fields(name, msg_type, items, stamp, frame_id, stamp_pos, frame_pos, input_types):
    """
    Check one output's `FieldAssign`s against its type; return a list of `ExpressionError`s.

    Catches: unknown fields, indices on non-arrays, messages or arrays without a field, a
    constant for a number or an expression for a string, a field set twice (`stamp` and
    `frame_id` set header fields too), `stamp`/`frame_id` on a type without a header, a
    `stamp` naming an input that is not there or has no header.
    """
    errors = []
    seen = {}
    header = has_header(msg_type)
    if stamp:
        if not header:
            errors.append(ExpressionError(f"output '{name}' has stamp but its type has no header",
                                          stamp_pos, hint='remove stamp'))
        else:
            seen[('header', 'stamp')] = 'stamp'
        if stamp != NOW:
            if stamp not in input_types:
                errors.append(ExpressionError(
                    f"stamp '{stamp}' is not an input", stamp_pos,
                    hint="name an input, or 'now' for the node's clock"))
            elif input_types[stamp] is not None and not has_header(input_types[stamp]):
                errors.append(ExpressionError(
                    f"stamp '{stamp}': its messages have no header", stamp_pos,
                    hint="stamp with 'now', or with an input that has a header"))
    if frame_id is not None:
        if not header:
            errors.append(ExpressionError(
                f"output '{name}' has frame_id but its type has no header", frame_pos,
                hint='remove frame_id'))
        else:
            seen[('header', 'frame_id')] = 'frame_id'
    for item in items:
        pos = item.source.pos(1, 1)
        lhs_pos = item.at
        try:
            kind = field_kind(msg_type, item.steps)
        except InputError as exc:
            errors.append(ExpressionError(exc.message, lhs_pos, name=name, hint=exc.hint))
            continue
        clash = _clash(seen, item.steps)
        if clash is not None:
            errors.append(ExpressionError(f"field '{item.path}' is set twice (also by {clash})",
                                          lhs_pos, name=name, hint='set each field once'))
            continue
        seen[item.steps] = f"'{item.path}'"
        if kind == 'string' and item.constant is None:
            errors.append(ExpressionError(
                f"field '{item.path}' is a string: set it to a quoted constant", pos, name=name,
                hint=f"e.g. {item.path} = 'text'"))
        elif kind != 'string' and item.constant is not None:
            errors.append(ExpressionError(
                f"field '{item.path}' is a {kind}: set it to an expression, not a string",
                pos, name=name))
    return errors


def stale_constant(kind, text):
    """
    Return the value of a `stale_fields` constant for a field of `kind`; raise ValueError.

    A number (`0`, `-1.5`, `nan`) or `true` / `false`; integers must be whole and in range.
    """
    word = text.strip()
    if word.lower() in _TRUE_FALSE:
        value = float(_TRUE_FALSE[word.lower()])
    else:
        try:
            value = float(word)
        except ValueError:
            raise ValueError(f"'{word}' is not a number or true/false") from None
    if kind == 'boolean':
        return value != 0.0
    if kind in ('double', 'float'):
        return value
    scalar = SCALARS.get(kind)
    if scalar is None or np.dtype(scalar.dtype).kind not in 'iu':
        raise ValueError(f"'{word}' is no {kind} value")
    info = np.iinfo(scalar.dtype)
    if not value.is_integer() or not info.min <= value <= info.max:
        raise ValueError(f"'{word}' is no {kind} value")
    return int(value)


def check_stale_fields(name, msg_type, on_stale, items, on_stale_pos, anchor):
    """
    Check `on_stale` against `stale_fields` and each item against the type; return errors.

    `anchor` positions an error about the whole list (its `stale_fields` value, or the output).
    """
    errors = []
    if on_stale == 'stale_fields' and not items:
        errors.append(ExpressionError(
            "on_stale is 'stale_fields' but stale_fields is empty", on_stale_pos or anchor,
            name=name, hint="e.g. stale_fields: ['data = true']"))
    elif on_stale != 'stale_fields' and items:
        errors.append(ExpressionError(
            f"stale_fields is set but on_stale is '{on_stale}'", anchor, name=name,
            hint='set on_stale: stale_fields to publish them while an input is stale'))
    seen = set()
    for item in items:
        pos = item.source.pos(1, 1)
        try:
            kind = field_kind(msg_type, item.steps)
        except InputError as exc:
            errors.append(ExpressionError(exc.message, item.at, name=name, hint=exc.hint))
            continue
        if item.steps in seen:
            errors.append(ExpressionError(f"stale field '{item.path}' is set twice", item.at,
                                          name=name, hint='set each field once'))
        seen.add(item.steps)
        if kind == 'string' or item.constant is not None:
            errors.append(ExpressionError(
                f"stale field '{item.path}' must be a number field set to a number or "
                'true/false', pos, name=name))
            continue
        try:
            stale_constant(kind, item.text)
        except ValueError as exc:
            errors.append(ExpressionError(f"stale field '{item.path}': {exc}", pos, name=name,
                                          hint='a constant: a number, true or false'))
    return errors


def _clash(seen, steps):
    """Return what already set `steps`, a prefix of it, or a field under it; else None."""
    for other, by in seen.items():
        short = min(len(other), len(steps))
        if other[:short] == steps[:short]:
            return by
    return None
