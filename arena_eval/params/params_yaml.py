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
Params-file values with their positions, read the way rcl types them.

Each value keeps the `file:line:col` of its key and value, and expression strings are mapped
character by character into the file (quoted, escaped, folded and block scalars).

`config.py` validates what this reads; this module only reads, as rcl reads: one pass over the
YAML events gives rcl's verdict on the whole file (`RclRules`: rcl refuses a file for every node
at the first event its parser does not allow, in any section) and composes the tree the
sections are read from. Values are typed as rcl types them (`rcl_value`, not PyYAML's rules):
unquoted `nan`, `yes`, `on`, `1e3` are not strings, `~` is, and numbers follow C's `strtoll`
(base 0: `0x10` is 16, `010` is 8) and `strtod`.
"""

import bisect
from dataclasses import dataclass
import difflib
import math
import re

import yaml

from ..language.errors import ExpressionError, Pos, Source


class ConfigWarning(ExpressionError):
    """A problem that does not stop the config from loading (an unknown key, say)."""

    severity = 'warning'


class ParamsFileError(ExpressionError):
    """A params file that cannot be read at all (missing, unreadable, not UTF-8), at `file:1:1`."""


@dataclass
class Value:
    """One flattened parameter value with where it came from."""

    name: str
    kind: str        # double, integer, string, bool, array, empty, none, mapping, other
    value: object
    pos: Pos         # of the value
    key_pos: Pos     # of its key (where "unknown parameter" warnings point)
    raw: str = ''    # as written, for hints
    items: tuple = ()  # for arrays: one Value per element
    source: Source | None = None  # for strings: maps columns into the file


def python_value(name, value, element=None):
    label = f'parameter {name}' if element is None else f'parameter {name}[{element}]'
    pos = Pos(label, 1, 1)
    if isinstance(value, bool):
        kind = 'bool'
    elif isinstance(value, int):
        kind = 'integer'
    elif isinstance(value, float):
        kind = 'double'
    elif isinstance(value, str):
        return Value(name, 'string', value, pos, pos, repr(value), source=Source(value, label))
    elif isinstance(value, (list, tuple)) or type(value).__name__ in ('array', 'ndarray'):
        items = tuple(python_value(name, v.item() if hasattr(v, 'item') else v, i)
                      for i, v in enumerate(value))
        return Value(name, 'array' if items else 'empty', list(value), pos, pos, items=items)
    elif value is None:
        kind = 'none'
    else:
        kind = 'other'
    return Value(name, kind, value, pos, pos, repr(value))


# rcl's params parser: these plain scalars are booleans (quoted ones are strings).
_TRUE = frozenset('Y y yes Yes YES true True TRUE on On ON'.split())
_FALSE = frozenset('N n no No NO false False FALSE off Off OFF'.split())
# The only spellings rcl reads as YAML's special floats; others go to C's strtod as they are.
_SPECIAL = frozenset('.nan .NaN .NAN .inf .Inf .INF +.inf +.Inf +.INF -.inf -.Inf -.INF'.split())
_STR_TAG = 'tag:yaml.org,2002:str'
_C_SPACE = ' \t\n\v\f\r'
_INT64 = 1 << 63
_TINY = 2.2250738585072014e-308  # below it strtod reports a range error (subnormal)
_STRTOLL = re.compile(r'[-+]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)')
_STRTOD = re.compile(r'[-+]?(?:(?:inf(?:inity)?|nan(?:\([0-9A-Za-z_]*\))?)'
                     r'|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][-+]?[0-9]+)?'
                     r'|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)', re.IGNORECASE)

PARAMS_KEY = 'ros__parameters'


@dataclass
class Section:
    """One `name: ros__parameters:` block of a params file (or one `-p` on a command line)."""

    name: str          # as rcl keeps it: nested keys joined by '/', no leading '/' added
    values: dict       # flattened {parameter name: Value}
    anchor: Pos        # of its ros__parameters key (where "missing parameter" errors point)
    key_pos: Pos       # of its (first) key


def node_key_matches(key, node):
    """
    Whether the params-file node name `key` applies to the node `/ns/name`, as rclpy decides.

    A key without a leading '/' gets one; then each `/*` becomes one `/token` and `/**` any
    number of them (zero included), and the whole fully qualified name must match.
    """
    key = key if key.startswith('/') else '/' + key
    pattern = key.replace('/*', r'(/[A-Za-z0-9_]+)')
    try:
        return re.fullmatch(pattern, node) is not None
    except re.error:
        return False


def missing_section_hint(node, names):
    """Say which key would have applied to `node` (the hint of "no parameters for node")."""
    name = node.rsplit('/', 1)[-1]
    namespace = node[:-len(name) - 1] or '/'
    same = [n for n in names if n.rstrip('/').rsplit('/', 1)[-1] == name]
    if same:
        where = same[0] if same[0].startswith('/') else '/' + same[0]
        return (f"'{same[0]}' is for {where}, not for a node in {namespace}; use /**/{name}: "
                f'(any namespace) or /**: (any node)')
    keys = [n.rstrip('/').rsplit('/', 1)[-1] for n in names]
    close = difflib.get_close_matches(name, keys, n=1)
    if close:
        return f"is '{names[keys.index(close[0])]}' a typo of '{name}'?"
    if names:
        return f"the file has {', '.join(names)}; use {node}: or /**:"
    return f'use {node}: or /**:'


def merge_sections(sections, node):
    """
    Merge the sections that apply to `node` in rcl's order; return (values, applied).

    rcl keeps one table per node name in order of first appearance (across every file and
    `-p` of a command line); rclpy walks it in that order, and a later value of a parameter
    replaces an earlier one. `applied` lists the sections used, in that order.
    """
    order = {}
    for section in sections:
        order.setdefault(section.name, []).append(section)
    values, applied = {}, []
    for name, group in order.items():
        if not node_key_matches(name, node):
            continue
        # rcl's table keeps one slot per type for each parameter and frees only the slot of
        # the type being written, and rclpy reads the first slot set in a fixed type order:
        # a value of another type written later under the same node name does not replace
        # the first one (`-p rate_hz:=500` then a file's `rate_hz: 1000.0` gives 500).
        slots = {}
        for section in group:
            for param, value in section.values.items():
                slots.setdefault(param, {})[_rcl_slot(value)] = value
            applied.append(section)
        for param, by_type in slots.items():
            values[param] = next((by_type[t] for t in _RCL_SLOTS if t in by_type),
                                 next(reversed(by_type.values())))
    return values, applied


# The order in which rclpy reads the slots of an rcl parameter value.
_RCL_SLOTS = ('bool', 'integer', 'double', 'string', 'bool[]', 'integer[]', 'double[]',
              'string[]')


def _rcl_slot(value):
    if value.kind == 'array' and value.items:
        return value.items[0].kind + '[]'
    return value.kind


class RclTable:
    """
    The node names and parameter names rcl has read so far.

    rcl reads every `--params-file` of a command line into one table, and some of its rules
    look at what earlier files put there.
    """

    def __init__(self):
        self.nodes = {}   # node name -> [parameter name, ...] (rcl renames them in place)

    def find_node(self, name):
        self.nodes.setdefault(name, [])
        return name

    def find_parameter(self, node, name):
        names = self.nodes[node]
        if name not in names:
            names.append(name)
        return names.index(name)


class RclRefusal(Exception):
    """rcl's parser stopped at an event: `message` is its reason, `mark` where."""

    def __init__(self, message, mark):
        super().__init__(message)
        self.mark = mark


class RclRules:
    """
    rcl_yaml_param_parser's verdict on a params file, event by event (its `parse_file_events`).

    rcl does not build a tree: it walks libyaml's events with a few counters (key or value,
    node-name level or parameter level, mapping depth, the node and parameter namespaces), and
    refuses the whole file, for every node, at the first event its state does not allow. Those
    states, not YAML's structure, are the rules, quirks included: a mapping inside a sequence
    names parameters (`x: [{a: 1}]` is `x.a: [1]`), an empty mapping among parameters ends
    them (a value after it is "before ros__parameters"), a key merely starting with
    `ros__parameters` counts as it. `feed` raises `RclRefusal` with rcl's reason.

    Two generations of the parser are in use (`rcl_keeps_node_name`): Kilted's keeps the node
    name in the namespace until the node's mapping ends, so a key beside ros__parameters is a
    node under it (`robot: {ros__parameters: ..., arm: {ros__parameters: ...}}` is
    `robot/arm`); Jazzy's (and Humble's) drops the node name at ros__parameters, so such a key
    is a sibling node and a second ros__parameters under one node has "no node names before"
    it. `node_names` maps each ros__parameters key's (line, column) to the node name rcl gives
    its section.
    """

    def __init__(self, table, keeps_node_name=None):
        self.table = table
        self.keeps_node_name = (rcl_keeps_node_name() if keeps_node_name is None
                                else keeps_node_name)
        self.node_names = {}
        self.is_key, self.is_seq, self.seq_type = True, False, None
        self.params_level = False   # rcl's map level: node names (False) or parameters (True)
        self.depth = 0
        self.new_map = False
        self.node_ns, self.node_count = None, 0
        self.param_ns, self.param_count = None, 0
        self.node = next(iter(table.nodes), None)  # rcl's node and parameter index start at 0
        self.param_index = 0

    def feed(self, event):
        kind = type(event).__name__
        if kind == 'ScalarEvent':
            if self.is_key:
                self._key(event)
                self.is_key = False
            else:
                self._value(event)
        elif kind == 'SequenceStartEvent':
            if self.is_key:
                raise RclRefusal('Sequences cannot be key', event.start_mark)
            if not self.params_level:
                raise RclRefusal('Sequences can only be values and not keys in params',
                                 event.start_mark)
            self.is_seq, self.seq_type = True, None
        elif kind == 'SequenceEndEvent':
            self.is_seq, self.is_key = False, True
        elif kind == 'MappingStartEvent':
            self.depth += 1
            self.is_key = True
            # The mapping under ros__parameters itself opens no parameter namespace.
            node_levels = self.node_count + (0 if self.keeps_node_name else 1)
            self.new_map = not (self.params_level and self.depth - node_levels == 2)
        elif kind == 'MappingEndEvent':
            if self.params_level:
                if self.param_count:
                    self.param_ns, self.param_count = _pop_name(self.param_ns, self.param_count,
                                                                '.')
                else:
                    self.params_level = False
            elif self.depth == self.node_count + 1:
                self.node_ns, self.node_count = _pop_name(self.node_ns, self.node_count, '/')
            self.depth -= 1
        elif kind == 'AliasEvent':
            raise RclRefusal('Will not support aliasing', event.start_mark)

    def _key(self, event):
        name = event.value
        if not name:
            raise RclRefusal('No key', event.start_mark)
        if not self.params_level:
            if not name.startswith(PARAMS_KEY):
                if not self.node_count:
                    self.node_ns = name
                else:
                    self.node_ns += ('' if self.node_ns.endswith('/') else '/') + name
                self.node_count += 1
                return
            if not self.node_count:
                raise RclRefusal(f'There are no node names before {PARAMS_KEY}',
                                 event.start_mark)
            problem = rcl_name_problem(self.node_ns)
            if problem:
                raise RclRefusal(f"invalid node name '{self.node_ns}': {problem}",
                                 event.start_mark)
            self.node = self.table.find_node(self.node_ns)
            mark = event.start_mark
            self.node_names[(mark.line, mark.column)] = self.node_ns
            if not self.keeps_node_name:
                self.node_ns, self.node_count = _pop_name(self.node_ns, self.node_count, '/')
            self.params_level = True
            return
        names = self.table.nodes[self.node]
        if self.new_map:
            # The key before this mapping names its parameter namespace.
            if self.param_index >= len(names):
                raise RclRefusal('Internal error creating param namespace', event.start_mark)
            self.param_ns, self.param_count = names[self.param_index], self.param_count + 1
            self.new_map = False
        if self.param_ns is None:
            self.param_index = self.table.find_parameter(self.node, name)
        else:
            self.param_index = self.table.find_parameter(self.node, self.param_ns)
            names[self.param_index] = self.param_ns + '.' + name

    def _value(self, event):
        if not self.params_level or self.node is None or not self.table.nodes[self.node]:
            raise RclRefusal(f'Cannot have a value before {PARAMS_KEY}', event.start_mark)
        if not event.value and event.style not in ("'", '"'):
            raise RclRefusal('No value', event.start_mark)
        if self.is_seq:
            kind = rcl_value(event.value, event.style, event.tag)[0]
            if self.seq_type is None:
                self.seq_type = kind
            elif kind != self.seq_type:
                raise RclRefusal(
                    f"Sequence should be of same type. Value type '{kind}' do not belong "
                    f'(the sequence holds {self.seq_type} values)', event.start_mark)
        else:
            self.is_key = True


def rcl_keeps_node_name():
    """
    Whether this machine's rcl keeps a node's name in the namespace after ros__parameters.

    rcl 10 (Kilted and later) does; rcl 9 (Jazzy) and before do not. `ROS_DISTRO` (set by a
    ROS setup script) says which; without it, rclpy's version as pip installed it (rclpy 9 is
    Kilted's); failing both, the newer rule.
    """
    import os
    distro = os.environ.get('ROS_DISTRO', '').strip().lower()
    if distro:
        return distro not in _DROPS_NODE_NAME
    from importlib import metadata
    for dist in ('ros-rclpy', 'rclpy'):
        try:
            return int(metadata.version(dist).split('.')[0]) >= 9
        except (metadata.PackageNotFoundError, ValueError):
            continue
    return True


# The distributions whose rcl drops the node name at ros__parameters (rcl 9 and before).
_DROPS_NODE_NAME = {'foxy', 'galactic', 'humble', 'iron', 'jazzy'}


def _pop_name(ns, count, sep):
    """Drop what follows the last `sep` (all of it at count 1), as rcl's `rem_name_from_ns`."""
    if count == 0:
        return ns, 0
    if count == 1:
        return None, 0
    cut = ns.rfind(sep)
    return (ns[:cut] if cut >= 0 else ns), count - 1


_NS_MAX = 245     # rmw: a namespace of at most 255 - 8 - 2 characters
_NODE_MAX = 255   # rmw: a node name of at most 255 characters


def rcl_name_problem(name):
    """
    Why rcl refuses the node name `name` of a params file (rmw's wording), or None.

    rcl cuts the namespace (up to and with the last '/', made absolute) at each '/', checks
    each `/token` on its own (so only a token, not the whole namespace, has rmw's length
    limit), skips `/*` and `/**`, and then checks the node name unless it is `*` or `**`.
    """
    if name in ('/**', '/*'):
        return None
    cut = name.rfind('/')
    node = name[cut + 1:]
    if cut >= 0:
        namespace = name[:cut + 1]
        namespace = namespace if namespace.startswith('/') else '/' + namespace
        start, end = 0, namespace.find('/', 1)
        while end >= 0:
            token = namespace[start + 1:end]
            if not token:
                return f'{namespace} contains repeated forward slash'
            problem = None if token in ('*', '**') else _token_problem(token)
            if problem:
                return problem
            start, end = end, namespace.find('/', end + 1)
    if node in ('*', '**'):
        return None
    if not node:
        return 'node name must not be empty'
    if not all(c.isascii() and (c.isalnum() or c == '_') for c in node):
        return "node name must not contain characters other than alphanumerics or '_'"
    if node[0].isdigit():
        return 'node name must not start with a number'
    if len(node) > _NODE_MAX:
        return f"node name length should not exceed '{_NODE_MAX}'"
    return None


def _token_problem(token):
    """Say why rmw refuses the namespace `/token`, or return None."""
    if not all(c.isascii() and (c.isalnum() or c == '_') for c in token):
        return "namespace must not contain characters other than alphanumerics, '_', or '/'"
    if token[0].isdigit():
        return 'namespace must not have a token that starts with a number'
    if len(token) + 1 > _NS_MAX:
        # rmw's words (its macro is printed by name), and the figure.
        return ("namespace should not exceed 'RMW_NAMESPACE_MAX_NAME_LENGTH' "
                f'({_NS_MAX} characters)')
    return None


def rcl_value(text, style, tag=None):
    """
    Type a scalar as rcl does: return (kind, value), kind one of bool, integer, double, string.

    Quoted scalars and `!!str` are strings; then YAML's booleans; then what C's `strtoll`
    (base 0: `0x10` is 16, `010` is 8) and then `strtod` read whole, without a range error
    (`1e400` and `1e-310` are strings, `1e20` is a double); block scalars are typed too.
    """
    if tag == _STR_TAG:
        return 'string', text
    if style in ("'", '"'):
        return 'string', text
    if text in _TRUE or text in _FALSE:
        return 'bool', text in _TRUE
    body = text.lstrip(_C_SPACE)
    if body and _STRTOLL.fullmatch(body):
        sign = -1 if body[0] == '-' else 1
        digits = body.lstrip('+-')
        base = 16 if digits[:2] in ('0x', '0X') else 8 if len(digits) > 1 and digits[0] == '0' \
            else 10
        value = sign * int(digits, base)
        if -_INT64 <= value < _INT64:
            return 'integer', value
    if text in _SPECIAL:
        return 'double', float(text.replace('.', ''))
    if body and _STRTOD.fullmatch(body):
        value = _c_double(body)
        if value is not None:
            return 'double', value
    return 'string', text


def _c_double(body):
    digits = body.lstrip('+-')
    sign = -1.0 if body[0] == '-' else 1.0
    low = digits.lower()
    if low.startswith('inf'):
        return sign * math.inf
    if low.startswith('nan'):
        return math.nan
    if low.startswith('0x'):
        value = float.fromhex(digits)
    else:
        try:
            value = float(digits)
        except ValueError:
            return None
    if math.isinf(value) or 0 < value < _TINY:
        return None  # ERANGE: rcl reads it as a string
    if value == 0 and any(c in '123456789abcdef' for c in low.split('p')[0].split('e')[0]
                          .replace('0x', '')):
        return None
    return sign * value


def _key_text(node):
    return node.value if isinstance(node, yaml.ScalarNode) else ''


def _compose_events(events, rules):
    """
    Build the documents' nodes from YAML events without recursion, feeding `rules` each one.

    Like PyYAML's composer, but iterative (rcl reads any depth of nesting) and with aliases
    left to `rules` (rcl refuses them).
    """
    roots, stack = [], []   # stack: [node, pending key or None] of open collections
    for event in events:
        rules.feed(event)
        kind = type(event).__name__
        node = None
        if kind == 'ScalarEvent':
            node = yaml.ScalarNode(event.tag, event.value, event.start_mark, event.end_mark,
                                   style=event.style)
        elif kind in ('SequenceStartEvent', 'MappingStartEvent'):
            cls = yaml.SequenceNode if kind == 'SequenceStartEvent' else yaml.MappingNode
            stack.append([cls(event.tag, [], event.start_mark, None,
                              flow_style=event.flow_style), None])
            continue
        elif kind in ('SequenceEndEvent', 'MappingEndEvent'):
            node = stack.pop()[0]
            node.end_mark = event.end_mark
        else:
            continue
        if not stack:
            roots.append(node)
        elif isinstance(stack[-1][0], yaml.SequenceNode):
            stack[-1][0].value.append(node)
        elif stack[-1][1] is None:
            stack[-1][1] = node
        else:
            stack[-1][0].value.append((stack[-1][1], node))
            stack[-1][1] = None
    return roots


class YamlReader:
    """A params file's YAML, composed with positions and flattened to `Value`s."""

    def __init__(self, text, file, node, table=None):
        self.text = text
        self.file = file
        self.node = node if node.startswith('/') else '/' + node
        self.node_name = self.node.rsplit('/', 1)[-1]
        self.table = RclTable() if table is None else table
        self.errors = []
        self.warnings = []
        self.key_positions = {}  # flattened name of a mapping -> position of its key
        self.names = []          # every node name of the file, in order (for hints)
        self.node_names = {}     # rcl's name for each ros__parameters key (RclRules)
        self._line_starts = None

    def pos(self, mark, shift=0):
        return Pos(self.file, mark.line + 1, mark.column + 1 + shift)

    def error(self, message, pos, hint=None):
        self.errors.append(ExpressionError(message, pos, hint=hint))

    def sections(self):
        """Return every section of the file in order (flattened if it applies), or None."""
        roots = self._compose()
        if roots is None:
            return None
        sections = []
        try:
            for root in roots:
                if isinstance(root, yaml.MappingNode):
                    self._walk(root, '', None, sections)
        except RecursionError:
            self.error('the params file is nested too deeply for arena_eval',
                       Pos(self.file, 1, 1))
            return None
        return sections

    def _compose(self):
        """
        Compose the file's documents from one pass over its YAML events.

        rcl's rules see each event as it goes by: rcl's first refusal, or a YAML syntax
        error, is the file's error.
        """
        rules = RclRules(self.table)
        try:
            roots = _compose_events(yaml.parse(self.text, Loader=yaml.SafeLoader), rules)
            self.node_names = rules.node_names
        except RclRefusal as exc:
            self.error(f'rcl refuses this file: {exc}', self.pos(exc.mark),
                       'rcl stops at the first problem and refuses the file for every node')
            return None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or 'invalid YAML'
            hint = None
            if exc.context and exc.problem:
                hint = exc.context
                if exc.context_mark is not None and exc.context_mark is not mark:
                    hint += f' that starts at line {exc.context_mark.line + 1}, column ' \
                            f'{exc.context_mark.column + 1}'
            self.error(f'YAML syntax error: {problem}',
                       self.pos(mark) if mark else Pos(self.file, 1, 1), hint)
            return None
        except yaml.YAMLError as exc:
            # A ReaderError (a control character, say) has a character index, not a mark.
            index = getattr(exc, 'position', None)
            pos = Pos(self.file, 1, 1)
            if isinstance(index, int):
                line = self.text.count('\n', 0, index)
                pos = Pos(self.file, line + 1, index - (self.text.rfind('\n', 0, index) + 1) + 1)
            reason = getattr(exc, 'reason', None) or str(exc).splitlines()[0]
            self.error(f'invalid YAML: {reason}', pos)
            return None
        return roots

    def _walk(self, mapping, prefix, key_node, sections):
        """
        Walk one level of node names: rcl joins nested keys with '/' until ros__parameters.

        rcl's rules have passed (`RclRules`), so every key here is a node name, a
        ros__parameters or a mapping; only the sections that apply to this node are
        flattened, and only their odd keys are warned about.
        """
        params = [k for k, _ in mapping.value if _key_text(k).startswith(PARAMS_KEY)]
        applies = bool(prefix) and node_key_matches(prefix, self.node)
        found = len(sections)
        for key, value in mapping.value:
            sub = _key_text(key)
            if sub.startswith(PARAMS_KEY):
                name = self.node_names.get((key.start_mark.line, key.start_mark.column),
                                           prefix)
                self.names.append(name)
                if bool(name) and node_key_matches(name, self.node):
                    sections.append(self._section(name, key_node, key, value))
                else:
                    sections.append(Section(name, {}, self.pos(key.start_mark),
                                            self.pos(key_node.start_mark)))
                continue
            close = difflib.get_close_matches(sub, [PARAMS_KEY], n=1)
            if applies and params and close:
                self.warnings.append(ConfigWarning(
                    f"unknown key '{sub}' under '{prefix}' (ignored)", self.pos(key.start_mark),
                    hint=f"did you mean '{close[0]}'?"))
                continue
            if isinstance(value, yaml.MappingNode) and sub:
                name = (prefix + ('' if prefix.endswith('/') else '/') + sub) if prefix else sub
                self._walk(value, name, key, sections)
        if applies and not params and len(sections) == found:
            self.warnings.append(ConfigWarning(
                f"'{prefix}' has no ros__parameters (ignored)", self.pos(key_node.start_mark),
                hint=f'write the parameters under {prefix}: ros__parameters:'))

    def _section(self, name, key, params_key, params_node):
        anchor = self.pos(params_key.start_mark)
        values = {}
        section = Section(name, values, anchor, self.pos(key.start_mark))
        # rcl has refused any other value unless its node already had parameters, and then
        # writes it to a parameter of its own choosing: nothing this node can use.
        if isinstance(params_node, yaml.MappingNode):
            self._flatten(params_node, '', values, {})
        return section

    def _flatten(self, node, prefix, out, seen):
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or not key.value:
                self.error('a parameter name must be a non-empty string',
                           self.pos(key.start_mark))
                continue
            name = prefix + key.value
            key_pos = self.pos(key.start_mark)
            if name in seen:
                self.error(f"parameter '{name}' is set twice (first at line {seen[name].line})",
                           key_pos, 'remove one of them')
                continue
            seen[name] = key_pos
            if isinstance(value, yaml.MappingNode):
                self.key_positions[name] = key_pos
                if value.value:
                    self._flatten(value, name + '.', out, seen)
                else:
                    out[name] = Value(name, 'mapping', {}, self.pos(value.start_mark), key_pos)
            elif isinstance(value, yaml.SequenceNode):
                out[name] = self.sequence(name, value, key_pos)
            else:
                out[name] = self._scalar(name, value, key_pos)

    def sequence(self, name, value, key_pos):
        items = []
        for i, item in enumerate(value.value):
            if isinstance(item, yaml.ScalarNode):
                items.append(self._scalar(f'{name}[{i}]', item, key_pos))
            else:
                kind = 'mapping' if isinstance(item, yaml.MappingNode) else 'array'
                items.append(Value(f'{name}[{i}]', kind, None,
                                   self.pos(item.start_mark), key_pos))
        return Value(name, 'array' if items else 'empty', [v.value for v in items],
                     self.pos(value.start_mark), key_pos, items=tuple(items))

    def _scalar(self, name, node, key_pos):
        raw = node.value
        quoted = node.style in ('"', "'")
        kind, value = rcl_value(raw, node.style, node.tag)
        pos = self.pos(node.start_mark, 1 if quoted else 0)
        source = self._source(node, value) if kind == 'string' else None
        if source is not None:
            pos = source.pos(1, 1)
        return Value(name, kind, value, pos, key_pos, raw if not quoted else repr(raw),
                     source=source)

    def _source(self, node, text):
        """Build a `Source` whose positions land on the characters of `text` in the file."""
        if self._line_starts is None:
            self._line_starts = [0] + [i + 1 for i, c in enumerate(self.text) if c == '\n']
        start, end = node.start_mark.index, node.end_mark.index
        raw = self.text
        offsets = []
        at = start + (1 if node.style in ('"', "'") else 0)
        # After a line break in the file, skip the indentation YAML strips: a block scalar's
        # own indent (more is content), all of it for folded quoted and plain scalars.
        indent = len(raw)
        if node.style in ('|', '>'):
            body = raw.find('\n', start, end) + 1
            while body and body < end and raw[body] == '\n':
                body += 1
            indent = len(raw[body:end]) - len(raw[body:end].lstrip(' ')) if body else 0
        for i, char in enumerate(text):
            if at > start and raw[at - 1] == '\n':
                skip = indent
                while skip and at < end and raw[at] == ' ':
                    at += 1
                    skip -= 1
            # Escapes, folded lines and block indentation make the file text differ from the
            # value: match each character at or shortly after the previous one.
            limit = end if i == 0 else min(end, at + 64)
            found = raw.find(char, at, limit)
            if found < 0:
                offsets.append(at)
                at += 1
                continue
            # An escape (\" or \t) starts at its backslash; '' in single quotes is one '.
            escaped = found > at and raw[found - 1] == '\\'
            offsets.append(found - 1 if escaped else found)
            at = found + 1
            if node.style == "'" and char == "'" and raw.startswith("'", at):
                at += 1
        offsets.append(min(at, max(end, at)))
        points = tuple(self._line_col(i) for i in offsets)
        line, col = points[0]
        return FileSource(text, self.file, line, col, points)

    def _line_col(self, index):
        line = bisect.bisect_right(self._line_starts, index) - 1
        return line + 1, index - self._line_starts[line] + 1


@dataclass(frozen=True)
class FileSource(Source):
    """A `Source` that knows the file position of each character (quoted, folded, blocks)."""

    points: tuple = ()

    def pos(self, line_in_text, col_in_text):
        if not self.points:
            return super().pos(line_in_text, col_in_text)
        lines = self.text.split('\n')
        index = sum(len(text) + 1 for text in lines[:max(line_in_text, 1) - 1])
        index = min(max(index + col_in_text - 1, 0), len(self.points) - 1)
        line, col = self.points[index]
        return Pos(self.file, line, col)


def parameter_text_value(name, text):
    """Type the value of a command-line `-p name:=text` as rcl does (YAML rules, one value)."""
    label = f'parameter {name}'
    pos = Pos(label, 1, 1)
    reader = YamlReader(text, label, '/**')
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return Value(name, 'other', text, pos, pos, text)
    if node is None:
        return Value(name, 'none', None, pos, pos, text)
    if isinstance(node, yaml.SequenceNode):
        typed = reader.sequence(name, node, pos)
    elif isinstance(node, yaml.ScalarNode):
        typed = reader._scalar(name, node, pos)
    else:
        return Value(name, 'mapping', None, pos, pos, text)
    if any(item.kind in ('mapping', 'array') for item in typed.items):
        return typed
    # Typed by rcl's rules, positioned like the running node's parameters
    # (`parameter expressions[0]:1:5`), so both doors report an error the same way.
    return python_value(name, typed.value)
