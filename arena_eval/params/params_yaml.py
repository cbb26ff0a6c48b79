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

`config.py` validates what this reads; this module only reads. Values are typed as ROS types
them (rcl's YAML rules, not PyYAML's): unquoted `nan`, `yes`, `on`, `1e3` are not strings, and
integers follow C's `strtol` with base 0 (`0x10` is 16, `010` is 8).
"""

import bisect
from dataclasses import dataclass
import difflib
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


# rcl's params parser: these plain scalars are booleans, integers or doubles, not strings.
_TRUE = frozenset('Y y yes Yes YES true True TRUE on On ON'.split())
_FALSE = frozenset('N n no No NO false False FALSE off Off OFF'.split())
_INT = re.compile(r'^[-+]?(?:0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$')
_FLOAT = re.compile(r'^[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)$')
_SPECIAL_FLOAT = re.compile(r'^[-+]?\.?(?:nan|inf|infinity)$', re.IGNORECASE)
_NULL = frozenset(('', '~', 'null', 'Null', 'NULL'))


PARAMS_KEY = 'ros__parameters'
MAX_PARAMS = 10_000
MAX_PARAM_DEPTH = 32


class TooBig(Exception):
    def __init__(self, message, pos):
        super().__init__(message)
        self.pos = pos


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


_TOKEN = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')


def node_key_problem(key):
    """Why rcl refuses `key` as a node name in a params file (for every node), or None."""
    if key in ('/**', '/*'):
        return None
    namespace, _, name = key.rpartition('/')
    if name not in ('*', '**') and not _TOKEN.match(name):
        return f"'{name}' is not a valid node name"
    tokens = namespace.lstrip('/').split('/') if namespace.strip('/') else []
    if namespace.startswith('//') or '' in tokens:
        return 'it has repeated slashes'
    for token in tokens:
        if token not in ('*', '**') and not _TOKEN.match(token):
            return f"'{token}' is not a valid namespace name"
    return None


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


class YamlReader:
    """A params file's YAML, composed with positions and flattened to `Value`s."""

    def __init__(self, text, file, node):
        self.text = text
        self.file = file
        self.node = node if node.startswith('/') else '/' + node
        self.node_name = self.node.rsplit('/', 1)[-1]
        self.errors = []
        self.warnings = []
        self.key_positions = {}  # flattened name of a mapping -> position of its key
        self.names = []          # every node name of the file, in order (for hints)
        self._walked = 0         # mapping entries flattened so far (see _flatten)
        self._line_starts = None

    def pos(self, mark, shift=0):
        return Pos(self.file, mark.line + 1, mark.column + 1 + shift)

    def error(self, message, pos, hint=None):
        self.errors.append(ExpressionError(message, pos, hint=hint))

    def sections(self):
        """Return every section of the file in order (flattened if it applies), or None."""
        root = self._compose()
        if root is None:
            return None
        if not isinstance(root, yaml.MappingNode):
            self.error('a params file is a mapping of node names to {ros__parameters: ...}',
                       self.pos(root.start_mark))
            return None
        sections = []
        try:
            self._walk(root, '', None, sections)
        except TooBig as exc:
            self.error(str(exc), exc.pos)
            return None
        return sections

    def _compose(self):
        try:
            root = yaml.compose(self.text, Loader=yaml.SafeLoader)
        except RecursionError:
            self.error('the params file is nested too deeply', Pos(self.file, 1, 1))
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
        if root is None:
            self.error('the params file is empty', Pos(self.file, 1, 1),
                       'start it with /**: ros__parameters:')
        return root

    def _walk(self, mapping, prefix, key_node, sections):
        """
        Walk one level of node names: rcl joins nested keys with '/' until ros__parameters.

        Problems are reported only for names that apply to this node (and for names rcl
        refuses, which stop every node): another node's typo is not this node's business.
        """
        # Aliases can make node names an exponential walk too (see _flatten).
        self._walked += len(mapping.value)
        if prefix.count('/') > MAX_PARAM_DEPTH or self._walked > MAX_PARAMS:
            raise TooBig(f'too many or too deeply nested parameters (more than {MAX_PARAMS} '
                         f'or {MAX_PARAM_DEPTH} levels)', self.pos(mapping.start_mark))
        params = [(k, v) for k, v in mapping.value
                  if isinstance(k, yaml.ScalarNode) and k.value == PARAMS_KEY]
        applies = bool(prefix) and node_key_matches(prefix, self.node)
        found = len(sections)
        for key, value in mapping.value:
            sub = key.value if isinstance(key, yaml.ScalarNode) else None
            if sub == PARAMS_KEY:
                if not prefix:
                    self.error('ros__parameters needs a node name above it',
                               self.pos(key.start_mark), 'write /**: and indent it under that')
                    continue
                problem = node_key_problem(prefix)
                if problem is not None:
                    self.error(f"invalid node name '{prefix}': {problem}",
                               self.pos(key_node.start_mark),
                               'rcl refuses the whole file for every node')
                    continue
                self.names.append(prefix)
                if applies:
                    section = self._section(prefix, key_node, key, value)
                    if section is not None:
                        sections.append(section)
                else:
                    sections.append(Section(prefix, {}, self.pos(key.start_mark),
                                            self.pos(key_node.start_mark)))
                continue
            close = difflib.get_close_matches(str(sub), [PARAMS_KEY], n=1)
            if isinstance(value, yaml.MappingNode) and sub and not (params and close):
                name = (prefix + ('' if prefix.endswith('/') else '/') + sub) if prefix else sub
                self._walk(value, name, key, sections)
            elif applies and params:
                self.warnings.append(ConfigWarning(
                    f"unknown key '{sub}' under '{prefix}' (ignored)", self.pos(key.start_mark),
                    hint=f"did you mean '{close[0]}'?" if close else
                    'parameters go under ros__parameters:'))
            elif not prefix and sub is not None and node_key_matches(sub, self.node):
                self.error(f"'{sub}' must hold a mapping with ros__parameters",
                           self.pos(value.start_mark))
        if applies and not params and len(sections) == found:
            self.error(f"'{prefix}' has no ros__parameters", self.pos(key_node.start_mark),
                       f'write the parameters under {prefix}: ros__parameters:')

    def _section(self, name, key, params_key, params_node):
        anchor = self.pos(params_key.start_mark)
        values = {}
        section = Section(name, values, anchor, self.pos(key.start_mark))
        if isinstance(params_node, yaml.ScalarNode) and params_node.value in _NULL:
            return section
        if not isinstance(params_node, yaml.MappingNode):
            self.error('ros__parameters must be a mapping of parameter names to values',
                       self.pos(params_node.start_mark))
            return None
        try:
            self._flatten(params_node, '', values, {})
        except TooBig as exc:
            self.error(str(exc), exc.pos)
            return None
        return section

    def _flatten(self, node, prefix, out, seen, depth=0):
        # Aliases are not copies in the composed tree, but walking them is: a few nested
        # aliases of aliases would be billions of parameters. No real params file comes close.
        self._walked += len(node.value)
        if depth > MAX_PARAM_DEPTH or self._walked > MAX_PARAMS:
            raise TooBig(f'too many or too deeply nested parameters (more than {MAX_PARAMS} '
                         f'or {MAX_PARAM_DEPTH} levels)', self.pos(node.start_mark))
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
                    self._flatten(value, name + '.', out, seen, depth + 1)
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
        if node.style:
            kind, value = 'string', raw
        elif raw in _NULL:
            kind, value = 'none', None
        elif raw in _TRUE or raw in _FALSE:
            kind, value = 'bool', raw in _TRUE
        elif _INT.match(raw):
            kind, value = 'integer', c_int(raw)
        elif _FLOAT.match(raw) or _SPECIAL_FLOAT.match(raw):
            kind, value = 'double', float(raw.replace('.nan', 'nan').replace('.NaN', 'nan')
                                          .replace('.NAN', 'nan').replace('.inf', 'inf')
                                          .replace('.Inf', 'inf').replace('.INF', 'inf'))
        else:
            kind, value = 'string', raw
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


def c_int(raw):
    """Parse an integer like C's strtol with base 0 (rcl does): 0x10 is 16, 010 is 8."""
    sign = -1 if raw.startswith('-') else 1
    digits = raw.lstrip('+-')
    if digits[:2] in ('0x', '0X'):
        return sign * int(digits, 16)
    if len(digits) > 1 and digits.startswith('0'):
        return sign * int(digits, 8)
    return sign * int(digits)
