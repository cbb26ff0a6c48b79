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
Input bindings: from message types and field paths to the numbers in a batch's input slots.

An input path is `<input name>.<field>...` with `[i]` indices, like `imu.linear_acceleration.x`
or `joints.position[2]`. This module owns everything between a subscribed message and the
batch's `input_buffer`: resolving `pkg/msg/Type` names to classes, checking paths against the
types' descriptions (`description.py`) when a batch is compiled, decoding each message with
its input's plan (`plans.Reader`), and on every tick copying the latest fields into the arena
with staleness, index, name and finiteness bookkeeping.

>>> cls = resolve_type('sensor_msgs/Imu')
>>> type_name(cls)
'sensor_msgs/msg/Imu'
>>> message, hint = check_path({'imu': cls}, 'imu.linear_acceleraton.x')
>>> print(message, '/', hint)
imu (sensor_msgs/msg/Imu) has no field 'linear_acceleraton' / did you mean 'linear_acceleration'?
>>> check_path({'imu': cls}, 'imu.angular_velocity.z') is None
True

Semantics docs/topics.md and docs/language.md document:
- An input slot is valid (`input_valid[i] == 1.0`) when its input has a message, the message
  is not older than the input's `timeout` (receive time, not header stamp; 0 = never stale),
  and every index of the path is inside the current message's sequences.
- Counters count messages, not ticks: a message whose field is out of range or non-finite
  counts once however many ticks it stays the latest.
- `bool`, integer, `octet` and `char` fields are read as float64 (True is 1.0).
- Meta inputs (`imu.@fresh`, `@age`, `@updated`, `@stamp`, `@mdt`: what `fresh(imu)`, ...,
  `ddt_msg(x)` read, see `functions.META_FUNCTIONS`) are written on every tick and always
  valid: `fresh` is whether the input is not stale, `age` the seconds since the newest message
  was received (inf before the first), `updated` 1 on the tick that took a new message,
  `stamp` its header stamp in seconds (nan before the first message or without a header),
  `mdt` on that tick the stamp difference to the previous message (the receive-time
  difference when stamps do not increase; inf at the first message), 0 on other ticks.
  A new program's first sight of an input's latest message counts as a new message.
"""

from dataclasses import dataclass
import difflib
import importlib
import math
import re

from .description import (ByName, fields, has_name_list, K_MESSAGE, K_STRING, members, type_name)
from .plans import MISSING_NAME, Reader
from ..language.functions import split_meta

STAMP_STEPS = (('header', 'stamp', 'sec'), ('header', 'stamp', 'nanosec'))
_TYPE_NAME = re.compile(r'^([A-Za-z][A-Za-z0-9_]*)/(?:(msg)/)?([A-Za-z][A-Za-z0-9_]*)$')
_PATH_TOKEN = re.compile(
    r"\s*(?:\.\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(-?\d+)\s*\]|\[\s*'([^'\]]*)'\s*\])")
_ROOT = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)')


# Position of each meta kind in an input's meta slots, and the values before its first message.
META_ORDER = {'fresh': 0, 'age': 1, 'updated': 2, 'stamp': 3, 'mdt': 4}
META_BEFORE = (0.0, math.inf, 0.0, math.nan, 0.0)


class InputError(ValueError):
    """
    An input the node cannot bind: a message type name or a field path; user-facing.

    `message` and `hint` go into the one-line error at the parameter's position.
    """

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.message = message
        self.hint = hint


def resolve_type(name):
    """
    Import the message class named `pkg/msg/Type` (or `pkg/Type`).

    Raise `InputError` with a hint for malformed names, missing packages and missing types.
    """
    if not isinstance(name, str):
        raise InputError(f'a message type must be a string, not {type(name).__name__}',
                         'write it as pkg/msg/Type, e.g. sensor_msgs/msg/Imu')
    match = _TYPE_NAME.match(name.strip())
    if match is None:
        hint = 'write it as pkg/msg/Type, e.g. sensor_msgs/msg/Imu'
        parts = name.strip().replace('.', '/').split('/')
        if len(parts) == 3 and parts[1] in ('srv', 'action'):
            raise InputError(f"'{name}' is not a message type",
                             f'{parts[1]} types cannot be subscribed to')
        raise InputError(f"malformed message type '{name}'", hint)
    package, _, type_ = match.groups()
    try:
        module = importlib.import_module(f'{package}.msg')
    except ImportError:
        raise InputError(f"unknown message package '{package}'",
                         _package_hint(package)) from None
    cls = getattr(module, type_, None)
    if not _is_message_class(cls):
        names = sorted(n for n in dir(module) if _is_message_class(getattr(module, n, None)))
        # Case first: difflib finds 'Imu' too far from 'IMU' (one letter of three in common).
        close = ([n for n in names if n.lower() == type_.lower()]
                 or difflib.get_close_matches(type_, names, n=1))
        if close:
            hint = f"did you mean '{package}/msg/{close[0]}'?"
        else:
            hint = f'{package} has {len(names)} message types'
        raise InputError(f"package '{package}' has no message type '{type_}'", hint)
    return cls


def _is_message_class(obj):
    return isinstance(obj, type) and hasattr(obj, 'get_fields_and_field_types') and hasattr(
        obj, 'SLOT_TYPES')


def _package_hint(package):
    import pkgutil
    candidates = difflib.get_close_matches(
        package, [m.name for m in pkgutil.iter_modules() if m.ispkg], n=3)
    for candidate in candidates:
        try:
            importlib.import_module(f'{candidate}.msg')
        except ImportError:
            continue
        return f"did you mean '{candidate}'?"
    return 'is its Python package installed and the ROS environment sourced?'


def parse_path(path):
    """
    Split `joints.position[2]` into its root and steps: `('joints', ('position', 2))`.

    Steps are field names (str), indices (int) and element names (`ByName`, from
    `joints.position['elbow']`). Raise `ValueError` for a malformed path.
    """
    root = _ROOT.match(path)
    if root is None:
        raise ValueError(f"malformed input path '{path}'")
    steps = []
    at = root.end()
    while at < len(path.rstrip()):
        token = _PATH_TOKEN.match(path, at)
        if token is None:
            raise ValueError(f"malformed input path '{path}'")
        field, index, name = token.groups()
        steps.append(field if field is not None else (
            int(index) if index is not None else ByName(name)))
        at = token.end()
    return root.group(1), tuple(steps)


def _field_list(cls):
    return ', '.join(f.name for f in members(cls))


def resolve_path(msg_type, root, steps, strings=False):
    """
    Walk `steps` through `msg_type`; return the leaf's basic type name (e.g. 'double').

    Raise `InputError` when the path does not lead to a number the decode plans read (with
    `strings`, a string leaf gives 'string'). Fixed-size arrays and bounded sequences are
    bounds-checked here; unbounded sequences at run time.
    """
    cls, f, walked = msg_type, None, root
    indexed = False  # whether `f`'s array or sequence is indexed: the value is its element
    for i, step in enumerate(steps):
        if isinstance(step, int):
            _check_index(f, indexed, cls, walked, f'[{step}]')
            if step < 0:
                raise InputError(f'negative index in {walked}[{step}]', 'indices count from 0')
            if f.size is not None and step >= f.size:
                raise InputError(f"index {step} out of range: '{walked}' has {f.size} elements",
                                 f'use 0..{f.size - 1}')
            indexed, walked = True, walked + f'[{step}]'
        elif isinstance(step, ByName):
            _check_index(f, indexed, cls, walked, f"['{step}']")
            if not has_name_list(cls) or f.name == 'name':
                raise InputError(f"'{walked}' cannot be indexed by name: {type_name(cls)} has "
                                 'no name[] list of strings beside it', 'index it by number')
            if f.shape != 'sequence' or f.scalar is None:
                raise InputError(f"'{walked}' cannot be indexed by name: it is a {f.text}",
                                 'index it by number; names index sequences of numbers')
            indexed, walked = True, walked + f"['{step}']"
        else:
            if f is not None:
                if f.shape != 'one' and not indexed:
                    noun = 'an array' if f.shape == 'array' else 'a sequence'
                    raise InputError(f"'{walked}' is {noun}: index it before '.{step}'",
                                     f'e.g. {walked}[0].{step}')
                if f.kind != K_MESSAGE:
                    raise InputError(f"'{walked}' is a {f.element}, not a message",
                                     f"remove '.{step}'")
                cls = f.message
            table = fields(cls)
            if step not in table:
                close = difflib.get_close_matches(step, list(table), n=1)
                hint = (f"did you mean '{close[0]}'?" if close
                        else f'{type_name(cls)} has: {_field_list(cls)}')
                field_path = (walked[len(root) + 1:] + '.' if i else '') + step
                raise InputError(f"{root} ({type_name(msg_type)}) has no field '{field_path}'",
                                 hint)
            f, indexed, walked = table[step], False, walked + f'.{step}'
    return _leaf(f, indexed, cls, walked, strings)


def _check_index(f, indexed, cls, walked, step):
    if f is None or f.shape == 'one' or indexed:
        what = (f.element if indexed else f.text) if f is not None else type_name(cls)
        raise InputError(f"'{walked}' is a {what}, not an array", f'remove {step}')


def _leaf(f, indexed, cls, walked, strings):
    if f is None:
        raise InputError(f"'{walked}' is a {type_name(cls)} message, not a number",
                         f'pick a field: {_field_list(cls)}')
    if f.shape != 'one' and not indexed:
        noun = 'an array' if f.shape == 'array' else 'a sequence'
        raise InputError(f"'{walked}' is {noun}: index it, e.g. {walked}[0]")
    if f.scalar is not None:
        return f.element
    if f.kind == K_MESSAGE:
        first = members(f.message)[0].name if members(f.message) else 'a field'
        raise InputError(f"'{walked}' is a {f.element} message, not a number",
                         f'pick a field, e.g. {walked}.{first}')
    if f.kind == K_STRING:
        if strings:
            return 'string'
        raise InputError(f"'{walked}' is a string, not a number")
    raise InputError(f"'{walked}' is a {f.element}: not read (no CDR reader for it)")


def check_path(inputs, path):
    """
    Check an input path against the configured inputs; None when fine, else (message, hint).

    `inputs` maps input names to an `InputConfig` (its `msg_type`), a message class, or None
    (an input whose type could not be resolved: its paths are not checked, to avoid piling
    errors on the one that matters).
    """
    meta = split_meta(path)
    if meta is not None:
        # ddt_msg's `@mdt` follows the paths of its argument, which report an unknown input.
        if meta[0] in inputs or meta[1] == 'mdt':
            return None
        fn = meta[1]
        return (f"{fn}(): '{meta[0]}' is not a configured input",
                _inputs_hint(meta[0], inputs))
    try:
        root, steps = parse_path(path)
    except ValueError as exc:
        return str(exc), None
    if root not in inputs:
        close = difflib.get_close_matches(root, list(inputs), n=1)
        if close:
            hint = f"did you mean '{close[0]}'?"
        elif inputs:
            hint = 'configured inputs: ' + ', '.join(inputs)
        else:
            hint = 'no inputs are configured'
        what = 'input' if steps else 'name'
        return f"unknown {what} '{root}'", hint
    msg_type = inputs[root]
    msg_type = getattr(msg_type, 'msg_type', msg_type)
    if msg_type is None:
        return None
    try:
        resolve_path(msg_type, root, steps)
    except InputError as exc:
        return exc.message, exc.hint
    return None


def _inputs_hint(root, inputs):
    close = difflib.get_close_matches(root, list(inputs), n=1)
    if close:
        return f"did you mean '{close[0]}'?"
    return 'configured inputs: ' + ', '.join(inputs) if inputs else 'no inputs are configured'


def has_stamp(msg_type):
    """Say whether messages of `msg_type` have a `header.stamp`."""
    try:
        resolve_path(msg_type, '', STAMP_STEPS[0])
    except (InputError, AttributeError):
        return False
    return True


def qos_profile(input_config):
    """Return the rclpy `QoSProfile` for an input: its `qos` name with its `depth`."""
    from rclpy.qos import (QoSDurabilityPolicy, QoSHistoryPolicy, QoSProfile,
                           QoSReliabilityPolicy, qos_profile_sensor_data,
                           qos_profile_system_default)
    depth = input_config.depth
    if input_config.qos == 'reliable':
        return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=depth,
                          reliability=QoSReliabilityPolicy.RELIABLE,
                          durability=QoSDurabilityPolicy.VOLATILE)
    base = qos_profile_system_default if input_config.qos == 'system_default' else (
        qos_profile_sensor_data)
    return QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=base.reliability, durability=base.durability)


class InputBindings:
    """
    The latest message of every input and the copy of its fields into a batch's input slots.

    The node's tick is compiled (`rt/compiled_tick.py`, the same rules in its tables); these
    bindings are what replay still decodes each message through (`replay/core.py`):
    `on_message` (stores the latest message) then `copy_latest` (copies its fields).
    `facts` and `set_type_mismatch`/`set_qos_mismatch` are the diagnostics' side.

    >>> from arena_eval.params.config import config_from_parameters  # doctest: +SKIP
    >>> bindings = InputBindings(config, batch)                 # doctest: +SKIP
    >>> bindings.on_message('imu', msg, time.monotonic_ns())    # doctest: +SKIP
    >>> bindings.copy_latest(time.monotonic_ns()); batch.step(0.001)  # doctest: +SKIP
    """

    def __init__(self, config, batch):
        self.config = config
        names = tuple(config.inputs)
        self.names = names
        self._index = {name: i for i, name in enumerate(names)}
        n = len(names)
        # Written by on_message only (tick side; see the class docstring).
        self._msgs = [None] * n
        self._recv_ns = [0] * n
        self._received = [0] * n
        # Written by copy_latest only.
        self._copied = [0] * n        # value of _received when last copied
        self._fresh = [False] * n
        # Written by set_type_mismatch / set_qos_mismatch (executor thread), read by facts.
        self._mismatch = [None] * n
        self._qos_mismatch = [None] * n
        self._timeout_ns = [int(round(config.inputs[name].timeout * 1e9)) for name in names]

        self.paths = tuple(batch.inputs)
        reads = [[] for _ in names]
        self._slot_input = []
        meta = [[None] * 5 for _ in names]  # per input, the slot of each META_KINDS or None
        for slot, path in enumerate(self.paths):
            kind = split_meta(path)
            if kind is not None:
                i = self._index[kind[0]]
                meta[i][META_ORDER[kind[1]]] = slot
                self._slot_input.append(i)
                continue
            root, steps = parse_path(path)
            if root not in self._index:
                raise ValueError(f"input path '{path}' has no configured input '{root}'")
            reads[self._index[root]].append((slot, steps))
            self._slot_input.append(self._index[root])
        stamped = [(m[3] is not None or m[4] is not None)
                   and has_stamp(config.inputs[name].msg_type)
                   for name, m in zip(names, meta, strict=True)]
        self._readers = [Reader(config.inputs[name].msg_type, reads[i], stamped[i])
                         for i, name in enumerate(names)]
        self._reads = tuple((i, tuple(slot for slot, _ in reads[i]), self._readers[i])
                            for i in range(n) if reads[i])
        self._meta = tuple((i, *meta[i], stamped[i])
                           for i in range(n) if any(s is not None for s in meta[i]))
        # Written by copy_latest only: per input, `_received` when meta last saw a message,
        # and that message's stamp and receive time (for `@mdt`).
        self._meta_seen = [0] * n
        self._meta_last = [None] * n
        m = len(self.paths)
        # Per slot, written by copy_latest only.
        self.out_of_range = [0] * m   # messages whose sequence was too short for the index
        self.non_finite = [0] * m     # messages with a nan/inf value in this field
        self.missing_name = [0] * m   # messages whose name[] list lacked the element's name
        self._missing_now = [False] * m
        self._oor_len = [-1] * m      # sequence length of the latest message when too short
        self._nonfinite_now = [False] * m
        self._buffer = _fast_view(batch.input_buffer)
        self._valid = _fast_view(batch.input_valid)
        for slot in range(m):
            self._valid[slot] = 0.0
        for _i, *slots, _stamp in self._meta:
            for slot in slots:
                if slot is not None:
                    self._buffer[slot] = META_BEFORE[slots.index(slot)]
                    self._valid[slot] = 1.0

    # ----- tick side ------------------------------------------------------------------------
    def on_message(self, input_name, msg, now_ns):
        """
        Decode `msg` as the latest of `input_name`, received at `now_ns` (monotonic ns).

        `msg` is CDR bytes (a typed message is serialized first). Returns False, changing
        nothing, for bytes the input's plan cannot read (the caller counts it undecodable).
        """
        i = self._index[input_name]
        if not self._readers[i].read(msg):
            return False
        self._msgs[i] = True
        self._recv_ns[i] = now_ns
        self._received[i] += 1
        return True

    def reader(self, input_name):
        """Return the input's `plans.Reader` (its plan; for replay's decode of whole chunks)."""
        return self._readers[self._index[input_name]]

    def stamp(self, input_name):
        """Return the latest message's header stamp in seconds (nan without message time)."""
        return self._readers[self._index[input_name]].stamp()

    def copy_latest(self, now_ns):
        """Copy the latest fields into the batch's inputs and mark each slot valid or not."""
        buffer, valid, fresh = self._buffer, self._valid, self._fresh
        for i, slots, reader in self._reads:
            received = self._received[i]
            timeout = self._timeout_ns[i]
            ok = self._msgs[i] is not None and (
                timeout == 0 or now_ns - self._recv_ns[i] <= timeout)
            fresh[i] = ok
            if not ok:
                for slot in slots:
                    valid[slot] = 0.0
                continue
            new = received != self._copied[i]
            self._copied[i] = received
            values, oks, lengths = reader.latest
            for k, slot in enumerate(slots):
                if oks[k] == 0.0:
                    valid[slot] = 0.0
                    if new:
                        self.out_of_range[slot] += 1
                        self._oor_len[slot] = int(lengths[k])
                    continue
                value = float(values[k])
                buffer[slot] = value
                valid[slot] = 1.0
                if not new:
                    continue
                self._oor_len[slot] = -1
                missing = lengths[k] == MISSING_NAME
                self._missing_now[slot] = missing
                if missing:
                    self.missing_name[slot] += 1
                    self._nonfinite_now[slot] = False
                    continue
                # x - x is 0.0 for every finite x and nan for nan and +-inf.
                bad = value - value != 0.0
                self._nonfinite_now[slot] = bad
                if bad:
                    self.non_finite[slot] += 1

        if self._meta:
            self._copy_meta(now_ns)

    def _copy_meta(self, now_ns):
        """Write the meta inputs (see the module docstring); they are always valid."""
        buffer, msgs = self._buffer, self._msgs
        for i, fresh_at, age_at, updated_at, stamp_at, mdt_at, stamped in self._meta:
            msg = msgs[i]
            if msg is None:
                continue  # the values set in __init__ hold
            recv = self._recv_ns[i]
            received = self._received[i]
            new = received != self._meta_seen[i]
            if new:
                self._meta_seen[i] = received
                stamp = self._readers[i].stamp() if stamped else math.nan
                last = self._meta_last[i]
                mdt = math.inf
                if last is not None:
                    mdt = stamp - last[0]
                    if not mdt > 0.0:  # nan (no stamps) too
                        mdt = (recv - last[1]) / 1e9
                self._meta_last[i] = (stamp, recv)
                if stamp_at is not None:
                    buffer[stamp_at] = stamp
            if fresh_at is not None:
                timeout = self._timeout_ns[i]
                buffer[fresh_at] = 1.0 if timeout == 0 or now_ns - recv <= timeout else 0.0
            if age_at is not None:
                buffer[age_at] = (now_ns - recv) / 1e9
            if updated_at is not None:
                buffer[updated_at] = 1.0 if new else 0.0
            if mdt_at is not None:
                buffer[mdt_at] = mdt if new else 0.0

    # ----- diagnostics side (executor thread, once per diagnostics period) ------------------
    def set_type_mismatch(self, input_name, other_type):
        """Report (or clear, with None) a publisher of another type on the input's topic."""
        self._mismatch[self._index[input_name]] = other_type

    def set_qos_mismatch(self, input_name, problem):
        """Report (or clear, with None) publishers whose QoS cannot feed the input."""
        self._qos_mismatch[self._index[input_name]] = problem

    def facts(self, now_ns):
        """
        Per input, what `arena_eval.ros.diagnostics` turns into its status: an `InputFacts`.

        Reads fields the tick side writes, without a lock: a report may be one tick behind.
        """
        result = []
        for i, name in enumerate(self.names):
            has_message = self._msgs[i] is not None
            slots = [s for s, owner in enumerate(self._slot_input) if owner == i]
            result.append(InputFacts(
                name=name, config=self.config.inputs[name], has_message=has_message,
                age_ms=(now_ns - self._recv_ns[i]) / 1e6 if has_message else None,
                received=self._received[i], other_type=self._mismatch[i],
                qos_problem=self._qos_mismatch[i],
                out_of_range_now=tuple((self.paths[s], self._oor_len[s]) for s in slots
                                       if self._oor_len[s] >= 0),
                non_finite_now=tuple(self.paths[s] for s in slots
                                     if has_message and self._nonfinite_now[s]),
                out_of_range=sum(self.out_of_range[s] for s in slots),
                non_finite=sum(self.non_finite[s] for s in slots),
                missing_now=tuple(self.paths[s] for s in slots
                                  if has_message and self._missing_now[s]),
                missing_name=sum(self.missing_name[s] for s in slots)))
        return result


@dataclass(frozen=True)
class InputFacts:
    """
    One input at one moment, for its diagnostics status.

    `out_of_range_now` holds (path, sequence length) of the latest message's too-short
    sequences, `non_finite_now` the paths whose latest value is nan or inf; `out_of_range`
    and `non_finite` count messages over the bindings' life.
    """

    name: str
    config: object
    has_message: bool
    age_ms: float | None
    received: int
    other_type: str | None
    out_of_range_now: tuple
    non_finite_now: tuple
    out_of_range: int
    non_finite: int
    missing_now: tuple = ()
    missing_name: int = 0
    qos_problem: str | None = None


def _fast_view(array):
    """Item stores through a memoryview cost half of numpy's; fall back to the array."""
    try:
        view = memoryview(array)
    except (TypeError, ValueError):
        return array
    return view if view.format == 'd' and view.ndim == 1 else array
