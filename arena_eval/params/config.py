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
The node's parameters: the one table of them, params files, validation, and `NodeConfig`.

Two doors lead to one `NodeConfig`, with the same checks behind both: a params file
(`load_params_file`, errors at `file:line:col`, pointing into expression strings) and the
flattened ROS parameters a running node has (`config_from_parameters`, errors at
`parameter <name>:1:<col>`). Every error of the input is reported at once; unknown keys are
warnings with a "did you mean". `PARAMETERS` is the table the node declares its parameters
from, so `ros2 param describe` and this module never disagree.

>>> config, errors, warnings = config_from_parameters(
...     {'rate_hz': 0.0, 'expressions': ['a = 1'], 'rate': 5.0}, check_expressions=False)
>>> for problem in errors + warnings:
...     print(problem.one_line())
parameter rate_hz:1:1: error: rate_hz must be between 1 and 10000, got 0
parameter rate:1:1: warning: unknown parameter 'rate' (ignored) (did you mean 'rate_hz'?)

Params file values are typed as ROS types them (rcl's YAML rules, not PyYAML's): unquoted
`nan`, `inf`, `yes`, `on`, `1e3` are not strings; `[]` and `~` have no type. An integer is
accepted for a double parameter (`rate_hz: 1000` is 1000.0), as the node accepts it.
"""

from dataclasses import dataclass, field
import difflib
import keyword
import math
import os
import re

from .params_yaml import (
    ConfigWarning,
    merge_sections,
    missing_section_hint,
    parameter_text_value,
    ParamsFileError,
    python_value,
    RclTable,
    Section,
    YamlReader,
)
from .ros_args import fully_qualified
from ..language.errors import BatchErrors, ExpressionError, Pos, Source
from ..language.functions import BUILTINS, CALLABLE, CONSTANTS, RESERVED
from ..language.parse import parse_expression, statement_name
from ..msgtypes.inputs import check_path, InputError, resolve_type, type_name
from ..msgtypes.outputs import (check_fields, check_stale_fields, ON_STALE, OutputConfig,
                                parse_field)

__all__ = ['GROUPS', 'PARAMETERS', 'ConfigDiff', 'ConfigWarning', 'InputConfig', 'NodeConfig',
           'OutputConfig', 'ParamSpec', 'LoadedParams', 'ParamsFileError',
           'build_batch', 'check_file', 'config_from_parameters', 'declared_value',
           'entry_parameter_names',
           'input_parameter_names', 'load_node_params',
           'load_params_file', 'load_params_text', 'one_lines', 'parameter_descriptor',
           'spec_for']

NODE_NAME = 'arena_eval'
QOS_NAMES = ('sensor_data', 'reliable', 'system_default')
STALE_POLICIES = ('nan', 'hold')
STALE_STATES = ('hold', 'restart')


@dataclass(frozen=True)
class ParamSpec:
    """
    One node parameter: name, ROS type, default, description, range, allowed values.

    `ros_type` is one of 'double', 'integer', 'string', 'bool', 'string_array';
    `value_range` is an inclusive (low, high). Per-input parameters are named
    `inputs.<name>.<field>`.
    """

    name: str
    ros_type: str
    default: object
    description: str
    value_range: tuple | None = None
    choices: tuple = ()
    read_only: bool = False
    required: bool = False


PARAMETERS = (
    ParamSpec('rate_hz', 'double', 1000.0,
              'Ticks per second: each tick copies the latest input fields and evaluates the '
              'whole batch once.', value_range=(1.0, 10000.0)),
    ParamSpec('trigger', 'string', '',
              "'' evaluates periodically at rate_hz; an input's name (or several, separated "
              "by commas: 'imu, joints') evaluates the batch once for each new message on "
              'those inputs, every other input at its newest value.'),
    ParamSpec('max_period', 'double', 0.1,
              'With a trigger: seconds without a trigger message after which the batch is '
              'evaluated anyway (stale inputs then act: fresh() is 0 past their timeout).',
              value_range=(0.001, 3600.0)),
    ParamSpec('expressions', 'string_array', (),
              "The batch: one 'name = expression' per element; each name is an output.",
              required=True),
    ParamSpec('stale_policy', 'string', 'nan',
              "Outputs depending on a stale or missing input: 'nan' makes them nan, 'hold' "
              'keeps their last value.', choices=STALE_POLICIES),
    ParamSpec('stale_state', 'string', 'hold',
              'Stateful calls (integral, lowpass, mean, prev, ...) whose arguments depend on a '
              "stale input: 'hold' keeps their state while it is stale (no time passes for "
              "them; the first fresh step after a gap is one tick), 'restart' also restarts "
              'them as on a first tick.', choices=STALE_STATES),
    ParamSpec('publish_individual', 'bool', False,
              'Also publish every output on its own std_msgs/Float64 topic.'),
    ParamSpec('diagnostics_period', 'double', 1.0,
              'Seconds between two diagnostics messages.', value_range=(0.01, 3600.0)),
    ParamSpec('lifecycle', 'bool', False,
              'Run as a managed (lifecycle) node: start unconfigured and follow the '
              'configure, activate, deactivate, cleanup and shutdown transitions.',
              read_only=True),
    ParamSpec('inputs.<name>.topic', 'string', None,
              'Topic the input subscribes to.', required=True),
    ParamSpec('inputs.<name>.type', 'string', None,
              'Message type of the topic, pkg/msg/Type (e.g. sensor_msgs/msg/Imu).',
              required=True),
    ParamSpec('inputs.<name>.timeout', 'double', 0.05,
              'Seconds after its last message at which the input counts as stale '
              '(0.0: never stale).', value_range=(0.0, 3600.0)),
    ParamSpec('inputs.<name>.qos', 'string', 'sensor_data',
              "Subscription QoS: 'sensor_data' (best effort), 'reliable' or 'system_default'.",
              choices=QOS_NAMES),
    ParamSpec('inputs.<name>.depth', 'integer', 5,
              'Subscription queue depth (only the latest message is used).',
              value_range=(1, 1000)),
    ParamSpec('outputs.<name>.topic', 'string', None,
              'Topic a typed output publishes on.', required=True),
    ParamSpec('outputs.<name>.type', 'string', None,
              'Message type of a typed output, pkg/msg/Type (e.g. std_msgs/msg/Bool).',
              required=True),
    ParamSpec('outputs.<name>.fields', 'string_array', (),
              "The fields it sets: 'field.path = expression' per element (inputs and the "
              "batch's outputs may be used); a string field takes a quoted constant.",
              required=True),
    ParamSpec('outputs.<name>.stamp', 'string', '',
              "header.stamp: an input's name (its newest message's header stamp), 'now' (the "
              "node's clock) or '' (left zero)."),
    ParamSpec('outputs.<name>.frame_id', 'string', '',
              "header.frame_id ('' leaves it empty)."),
    ParamSpec('outputs.<name>.every', 'integer', 1,
              'Publish on every Nth tick (1: every tick).', value_range=(1, 1000000)),
    ParamSpec('outputs.<name>.on_stale', 'string', 'skip',
              "A due tick while an input the fields' values depend on is stale or missing: "
              "'skip' publishes nothing (a consumer's timeout fires), 'stale_fields' publishes "
              "stale_fields' constants (other numbers zero), 'publish' what the expressions "
              'give.', choices=ON_STALE),
    ParamSpec('outputs.<name>.stale_fields', 'string_array', (),
              "With on_stale 'stale_fields': 'field.path = constant' per element (a number, "
              'true or false), published while an input is stale.'),
)

GROUPS = ('inputs', 'outputs')
_TOP = {p.name: p for p in PARAMETERS if p.name.split('.')[0] not in GROUPS}
_GROUP_FIELDS = {group: {p.name.rsplit('.', 1)[1]: p for p in PARAMETERS
                         if p.name.startswith(group + '.')} for group in GROUPS}
_INPUT_FIELDS = _GROUP_FIELDS['inputs']
_OUTPUT_FIELDS = _GROUP_FIELDS['outputs']
# Parameters every rclpy node has, or that rclpy owns: never warned about.
_ROS_OWNED = ('use_sim_time', 'start_type_description_service')
_ROS_OWNED_PREFIXES = ('qos_overrides.',)
_IDENTIFIER = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
_TOPIC_TOKEN = r'(?:[A-Za-z_][A-Za-z0-9_]*|\{[a-z_]+\})'
_TOPIC = re.compile(rf'^(?:~/|/)?{_TOPIC_TOKEN}(?:/{_TOPIC_TOKEN})*$|^~$')


def spec_for(name):
    """Return the `ParamSpec` of a concrete parameter name (`inputs.imu.topic` too), or None."""
    if name in _TOP:
        return _TOP[name]
    parts = name.split('.')
    if len(parts) == 3 and parts[0] in GROUPS:
        return _GROUP_FIELDS[parts[0]].get(parts[2])
    return None


def entry_parameter_names(group, entry_name):
    """Return the concrete parameter names of one input or typed output (`group.name.*`)."""
    return tuple(f'{group}.{entry_name}.{field_}' for field_ in _GROUP_FIELDS[group])


def input_parameter_names(input_name):
    """Return the concrete parameter names of one input: `inputs.<name>.topic`, ..."""
    return tuple(f'inputs.{input_name}.{field_}' for field_ in _INPUT_FIELDS)


def declared_value(spec, value):
    """
    Return `value` (as rcl typed it) as the parameter `spec` declares it; else unchanged.

    The one retyping rule, for params files, the node's declared values and `ros2 param set`:
    an integer for a double is that double (rcl types `1000` as an integer); a nan or infinite
    double for a string is its word ('nan', 'inf', '-inf'), since `ros2 param dump` writes the
    string 'nan' unquoted (PyYAML does not read `nan` as a number) and rcl reads it back as a
    double, so a dump loads back as the same program.
    """
    if spec is None or isinstance(value, bool):
        return value
    if spec.ros_type == 'double' and isinstance(value, int):
        return float(value)
    if spec.ros_type == 'string' and isinstance(value, float) and not math.isfinite(value):
        return 'nan' if math.isnan(value) else 'inf' if value > 0 else '-inf'
    return value


def parameter_descriptor(spec, name=None):
    """Build the rcl_interfaces `ParameterDescriptor` of a parameter (for `declare_parameter`)."""
    from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                    ParameterType)
    types = {'double': ParameterType.PARAMETER_DOUBLE,
             'integer': ParameterType.PARAMETER_INTEGER,
             'string': ParameterType.PARAMETER_STRING,
             'bool': ParameterType.PARAMETER_BOOL,
             'string_array': ParameterType.PARAMETER_STRING_ARRAY}
    descriptor = ParameterDescriptor(name=name or spec.name, type=types[spec.ros_type],
                                     description=spec.description, read_only=spec.read_only)
    if spec.value_range is not None and spec.ros_type == 'double':
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=float(spec.value_range[0]), to_value=float(spec.value_range[1]), step=0.0)]
    elif spec.value_range is not None and spec.ros_type == 'integer':
        descriptor.integer_range = [IntegerRange(
            from_value=int(spec.value_range[0]), to_value=int(spec.value_range[1]), step=0)]
    if spec.choices:
        descriptor.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    return descriptor


@dataclass(frozen=True)
class InputConfig:
    """One input: the root name of its paths, its topic, message type, staleness and QoS."""

    name: str
    topic: str
    type_name: str
    msg_type: type = field(repr=False)
    timeout: float = 0.05
    qos: str = 'sensor_data'
    depth: int = 5


@dataclass(frozen=True)
class ConfigDiff:
    """What changed between two `NodeConfig`s, for a node that applies only the difference."""

    batch: bool
    rate: bool
    inputs_added: tuple
    inputs_removed: tuple
    inputs_changed: tuple
    other: tuple

    @property
    def changed(self):
        return bool(self.batch or self.rate or self.inputs_added or self.inputs_removed
                    or self.inputs_changed or self.other)


@dataclass(frozen=True)
class NodeConfig:
    """
    A complete, checked node configuration. Compare two with `==` or `diff`.

    `sources` (where each expression came from, for error positions) is not compared: the
    same expressions from a file and from parameters are the same configuration. `inputs` is
    in the order the inputs were written; treat it as read-only.
    """

    rate_hz: float
    inputs: dict
    expressions: tuple
    sources: tuple = field(compare=False, repr=False)
    stale_policy: str = 'nan'
    stale_state: str = 'hold'
    publish_individual: bool = False
    diagnostics_period: float = 1.0
    outputs: dict = field(default_factory=dict)
    trigger: tuple = ()
    max_period: float = 0.1

    def diff(self, old):
        """Return what changed from `old` (None: everything is new) to this config."""
        old_inputs = {} if old is None else old.inputs
        added = tuple(n for n in self.inputs if n not in old_inputs)
        removed = tuple(n for n in old_inputs if n not in self.inputs)
        changed = tuple(n for n in self.inputs if n in old_inputs
                        and old_inputs[n] != self.inputs[n])
        if old is None:
            return ConfigDiff(True, True, added, removed, changed, _OTHER)
        other = tuple(n for n in _OTHER if getattr(self, n) != getattr(old, n))
        batch = (self.expressions != old.expressions or self.stale_policy != old.stale_policy
                 or self.stale_state != old.stale_state or self.outputs != old.outputs
                 or added or removed or changed)
        return ConfigDiff(bool(batch), self.rate_hz != old.rate_hz, added, removed, changed,
                          other)


_OTHER = ('publish_individual', 'diagnostics_period', 'trigger', 'max_period')


def trigger_names(text):
    """Split a `trigger` value into input names: 'imu, joints' -> ('imu', 'joints')."""
    return tuple(name for name in re.split(r'[\s,]+', text) if name)


# ----- the public doors --------------------------------------------------------------------------

# The source tree's top (config/ lives beside the package), for running from a checkout.
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def default_params_file():
    """`config/default.yaml`: from the source tree, else from the installed share directory."""
    here = os.path.join(_PACKAGE_ROOT, 'config', 'default.yaml')
    if os.path.isfile(here):
        return here
    try:
        from ament_index_python.packages import get_package_share_directory

        share = get_package_share_directory('arena_eval')
    except Exception:  # noqa: BLE001 - not installed: the caller reports the missing file
        return here
    return os.path.join(share, 'config', 'default.yaml')


def load_params_file(path, node_name=NODE_NAME, *, check_expressions=True):
    """
    Read and check a ROS params file; return `(NodeConfig | None, errors, warnings)`.

    Only the sections that apply to the node `node_name` (`arena_eval` is `/arena_eval`;
    `/robot1/arena_eval`) are checked and merged, as rcl and rclpy match them (see
    `load_node_params`). Errors and warnings are `ExpressionError`s positioned at
    `file:line:col` (1-based), sorted by position; the config is None when there is any error.
    With `check_expressions` the batch is compiled too, so every expression error is in the list.
    """
    loaded = load_node_params([('file', str(path))], node_name,
                              check_expressions=check_expressions)
    return loaded.config, loaded.errors, loaded.warnings


def load_params_text(text, file='<params>', node_name=NODE_NAME, *, check_expressions=True):
    """Do what `load_params_file` does, for params-file text named `file` in messages."""
    loaded = load_node_params([('text', file, text)], node_name,
                              check_expressions=check_expressions)
    return loaded.config, loaded.errors, loaded.warnings


@dataclass(frozen=True)
class LoadedParams:
    """What `load_node_params` found: the config (or None), problems, and the sections used."""

    config: object
    errors: list
    warnings: list
    applied: tuple   # params_yaml.Section, in the order they were merged
    node: str        # the fully qualified node name they were matched against
    values: dict = field(default_factory=dict)  # merged {parameter name: params_yaml.Value}

    def applied_text(self):
        """`'/**' (config/a.yaml:1), '/robot1/arena_eval' (config/a.yaml:9)` for messages."""
        return ', '.join(f"'{s.name}' ({s.key_pos.file}:{s.key_pos.line})"
                         if s.key_pos.file and not s.key_pos.file.startswith('parameter ')
                         else f'-p {next(iter(s.values))}' for s in self.applied)


def load_node_params(sources, node=NODE_NAME, *, check_expressions=True):
    """
    Check what the node `node` gets from parameter sources in command-line order.

    `sources` are `('file', path)`, `('text', file name, text)` or `('param', node key, name,
    value text)` (a `-p`; see `ros_args.parse`). rcl reads them all into one table of node
    names in order of first appearance; the sections whose name matches the node (`/**`,
    `/*`, `/**/arena_eval`, `arena_eval` for `/arena_eval` only, `/robot1/arena_eval`) are
    merged in that order, a later value replacing an earlier one. Sections of other nodes are
    not checked. Return a `LoadedParams`.
    """
    node = node if node.startswith('/') else fully_qualified(node)
    sections, errors, warnings, key_positions, names = [], [], [], {}, []
    table = RclTable()  # rcl reads every file of a command line into one table
    for source in sources:
        if source[0] == 'param':
            _, key, name, text = source
            sections.append(Section(key, {name: parameter_text_value(name, text)},
                                    Pos(f'parameter {name}', 1, 1),
                                    Pos(f'parameter {name}', 1, 1)))
            continue
        if source[0] == 'file':
            file, text = source[1], _read_text(source[1], errors)
            if text is None:
                continue
        else:
            file, text = source[1], source[2]
        reader = YamlReader(text, file, node, table)
        found = reader.sections()
        errors.extend(reader.errors)
        warnings.extend(reader.warnings)
        key_positions.update(reader.key_positions)
        names.extend(reader.names)
        sections.extend(found or ())
    if errors:
        return LoadedParams(None, _sorted(errors), _sorted(warnings), (), node)
    values, applied = merge_sections(sections, node)
    if not applied:
        files = [s[1] for s in sources if s[0] != 'param']
        errors.append(ExpressionError(f"no parameters for node '{node}'",
                                      Pos(files[0] if files else None, 1, 1),
                                      hint=missing_section_hint(node, names)))
        return LoadedParams(None, errors, _sorted(warnings), (), node)
    anchors = [s.anchor for s in applied if not s.anchor.file.startswith('parameter ')]
    checker = _Checker(values, anchors[0] if anchors else applied[0].anchor,
                       key_positions=key_positions)
    checker.warnings[:0] = warnings
    config, errors, warnings = checker.run(check_expressions)
    return LoadedParams(config, errors, warnings, tuple(applied), node, values)


def wants_lifecycle(loaded):
    """Whether a `LoadedParams`' merged values ask for the managed node (`lifecycle: true`)."""
    value = loaded.values.get('lifecycle')
    return value is not None and value.kind == 'bool' and value.value is True


def _read_text(path, errors):
    try:
        with open(path, encoding='utf-8') as f:
            return f.read()
    except OSError as exc:
        errors.append(ParamsFileError(f'cannot read params file: {exc.strerror}',
                                      Pos(path, 1, 1)))
    except UnicodeDecodeError as exc:
        errors.append(ParamsFileError(f'params file is not UTF-8 text ({exc.reason} at byte '
                                      f'{exc.start})', Pos(path, 1, 1)))
    return None


def config_from_parameters(params, *, check_expressions=True):
    """
    Check flattened ROS parameter values; return `(NodeConfig | None, errors, warnings)`.

    `params` maps names (`rate_hz`, `inputs.imu.topic`, ...) to Python values or rclpy
    `Parameter`s. Positions read `parameter <name>:1:<col>`.
    """
    values = {}
    for name, value in params.items():
        value = getattr(value, 'value', value)
        values[name] = python_value(name, value)
    checker = _Checker(values, Pos('parameter expressions', 1, 1))
    return checker.run(check_expressions)


def build_batch(config):
    """
    Compile a config's batch; raise `ExpressionError` (`BatchErrors` for several).

    The typed outputs' hidden statements come after the expressions, so the batch's first
    `len(config.expressions)` outputs are the user's, in order.
    """
    return _compile(config.expressions, config.sources, config.outputs.values(),
                    _input_checker(config.inputs), config.stale_policy, config.stale_state)


def _compile(texts, sources, outputs, check_input, stale_policy, stale_state='hold'):
    """
    Compile the expressions and the typed outputs' hidden statements into one batch.

    Errors are named after what the user wrote: an error in a hidden statement names its
    typed output's field (`outputs.tilt.fields[2]`), never the statement's own name.
    """
    from ..engine.arena import compile_batch
    statements, sources, labels = _with_hidden(texts, sources, outputs)
    try:
        return compile_batch(statements, sources=sources, check_input=check_input,
                             stale_policy=stale_policy, stale_state=stale_state)
    except ExpressionError as exc:
        for error in exc.errors if isinstance(exc, BatchErrors) else [exc]:
            error.name = labels.get(error.name, error.name)
        if not isinstance(exc, BatchErrors):
            exc.name = labels.get(exc.name, exc.name)
        raise


def one_lines(errors):
    """Return the one-line messages of `errors` (a `BatchErrors` may hold several lines)."""
    lines = []
    for error in errors:
        lines.extend(error.one_line().splitlines())
    return lines


def check_file(path, node_name=NODE_NAME, *, caret=False):
    """
    Check a params file for `python -m arena_eval check`: return `(lines, ok)`.

    `lines` are `file:line:col: error: ...` and `file:line:col: warning: ...` in file order
    (with the source line and a caret under each when `caret`); `ok` is True without errors.
    `path` may be a list of files, merged in order as rcl merges several `--params-file`s.
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    loaded = load_node_params([('file', str(p)) for p in paths], node_name)
    lines = [(e.caret() if caret else e.one_line())
             for e in _sorted(loaded.errors + loaded.warnings)]
    return lines, not loaded.errors


# ----- the checks --------------------------------------------------------------------------------

_KIND_NAMES = {'double': 'a double', 'integer': 'an integer', 'string': 'a string',
               'bool': 'a bool', 'string_array': 'a list of strings'}


def _describe(value):
    if value.kind in ('double', 'integer', 'bool'):
        noun = {'double': 'the double', 'integer': 'the integer', 'bool': 'the bool'}[value.kind]
        return f'{noun} {value.raw or value.value}'
    if value.kind == 'string':
        return f'the string {value.raw or repr(value.value)}'
    return {'array': 'a list', 'empty': 'an empty list (which has no type in ROS)',
            'none': 'no value', 'mapping': 'a mapping'}.get(value.kind, 'an unsupported value')


class _Checker:
    """The validation behind both doors: flattened `Value`s in, `NodeConfig` out."""

    def __init__(self, values, anchor, *, key_positions=None):
        self.values = values
        self.anchor = anchor
        self.key_positions = key_positions or {}
        self.errors = []
        self.warnings = []

    def error(self, message, pos, hint=None, name=None):
        self.errors.append(ExpressionError(message, pos, name=name, hint=hint))

    def warn(self, message, pos, hint=None):
        self.warnings.append(ConfigWarning(message, pos, hint=hint))

    def run(self, check_expressions):
        top, groups = {}, {group: {} for group in GROUPS}
        for name, value in self.values.items():
            group = name.split('.')[0]
            if name in _TOP:
                top[name] = value
            elif group in GROUPS:
                self._entry_value(group, name, value, groups[group])
            elif name in _ROS_OWNED or name.startswith(_ROS_OWNED_PREFIXES):
                continue
            else:
                close = difflib.get_close_matches(name, list(_TOP), n=1)
                self.warn(f"unknown parameter '{name}' (ignored)", value.key_pos,
                          f"did you mean '{close[0]}'?" if close else None)
        settings = {}
        for spec in _TOP.values():
            if spec.name == 'expressions':
                continue
            if spec.name in top:
                settings[spec.name] = self._coerce(spec, top[spec.name], spec.name)
            else:
                settings[spec.name] = spec.default
        input_configs, input_types = self._inputs(groups['inputs'])
        output_configs = self._outputs(groups['outputs'], input_types)
        clashes = []
        texts, sources = self._expressions(top.get('expressions'), input_types, clashes)
        policy = settings['stale_policy'] if settings['stale_policy'] in STALE_POLICIES else 'nan'
        if texts and check_expressions:
            self._compile(texts, sources, input_types, policy, output_configs)
        # The compiler reports an output named like an input the batch reads; this adds
        # the inputs it does not read, without saying the same thing twice.
        reported = {error.pos for error in self.errors}
        self.errors.extend(error for error in clashes if error.pos not in reported)
        trigger = self._trigger(settings['trigger'], input_types)
        errors, warnings = _sorted(self.errors), _sorted(self.warnings)
        if errors:
            return None, errors, warnings
        config = NodeConfig(
            rate_hz=float(settings['rate_hz']),
            inputs=dict(input_configs),
            expressions=tuple(texts), sources=tuple(sources), stale_policy=policy,
            stale_state=settings['stale_state'],
            outputs=dict(output_configs),
            publish_individual=bool(settings['publish_individual']),
            diagnostics_period=float(settings['diagnostics_period']),
            trigger=trigger, max_period=float(settings['max_period']))
        return config, errors, warnings

    def _trigger(self, value, input_types):
        """Return the trigger's input names, noting an error for a name that is no input."""
        if not isinstance(value, str):
            return ()
        names = trigger_names(value)
        pos = self.values['trigger'].pos if 'trigger' in self.values else self.anchor
        for name in names:
            if name not in input_types:
                close = difflib.get_close_matches(name, list(input_types), n=1)
                self.error(f"trigger names no input '{name}' (inputs: "
                           f"{', '.join(input_types) or 'none'})", pos,
                           f"did you mean '{close[0]}'?" if close else None)
        return tuple(dict.fromkeys(names))

    # ----- single values ----------------------------------------------------------------------
    _MISSING = object()

    def _coerce(self, spec, value, label):
        """Return the value of `value` as `spec` says, or _MISSING after recording an error."""
        kind = value.kind
        want = spec.ros_type
        given = value.value
        if kind in ('integer', 'double'):
            # The node re-describes such a parameter with the retyped value, so it is one here.
            given = declared_value(spec, value.value)
            kind = {float: 'double', str: 'string'}.get(type(given), kind)
        if want == 'string_array':
            ok = kind == 'array' and all(item.kind == 'string' for item in value.items)
        else:
            ok = kind == want
        if not ok:
            hint = None
            if want == 'string' and kind in ('double', 'integer', 'bool'):
                hint = f"quote it: '{value.raw}'"
            elif want == 'string' and kind == 'array' and spec.name == 'trigger':
                hint = "write the names in one string: 'imu, joints'"
            elif want == 'integer' and kind == 'double' and float(value.value).is_integer():
                hint = f'write {int(value.value)}'
            self.error(f'{label} must be {_KIND_NAMES[want]}, got {_describe(value)}',
                       value.pos, hint)
            return self._MISSING
        result = float(given) if want == 'double' else given
        low, high = spec.value_range or (None, None)
        if low is not None and not low <= result <= high:
            self.error(f'{label} must be between {low:g} and {high:g}, got {result:g}',
                       value.pos)
            return self._MISSING
        if spec.choices and result not in spec.choices:
            close = difflib.get_close_matches(str(result), spec.choices, n=1)
            self.error(f"{label} must be one of {', '.join(map(repr, spec.choices))}, got "
                       f'{result!r}', value.pos,
                       f"did you mean '{close[0]}'?" if close else None)
            return self._MISSING
        return result

    # ----- inputs -----------------------------------------------------------------------------
    def _entry_value(self, group, name, value, entries):
        """File one flattened `inputs.*` / `outputs.*` value under its entry."""
        noun = group[:-1]
        known = _GROUP_FIELDS[group]
        parts = name.split('.')
        if len(parts) == 1:
            if value.kind != 'mapping':
                self.error(f'{group} must be a mapping of {noun} names to '
                           '{topic: ..., type: ...}', value.pos)
            return
        entry_name = parts[1]
        entry = entries.setdefault(entry_name, {
            'key_pos': self.key_positions.get(f'{group}.{entry_name}', value.key_pos),
            'fields': {}})
        if len(parts) == 2:
            self.error(f"{noun} '{entry_name}' must be a mapping with topic and type",
                       value.pos, f'{entry_name}: {{topic: /{entry_name}, type: pkg/msg/Type}}')
            entry['bad'] = True
            return
        if len(parts) == 3 and parts[2] in known:
            entry['fields'][parts[2]] = value
            return
        close = difflib.get_close_matches(parts[2], list(known), n=1)
        self.warn(f"unknown parameter '{name}' (ignored)", value.key_pos,
                  f"did you mean '{group}.{entry_name}.{close[0]}'?" if close and len(parts) == 3
                  else f'an {noun} has ' + ', '.join(known))

    def _entry_settings(self, group, name, entry):
        """Coerce an entry's fields; return (settings, message class or None)."""
        fields = entry['fields']
        settings = {}
        for field_name, spec in _GROUP_FIELDS[group].items():
            label = f'{group}.{name}.{field_name}'
            if field_name in fields:
                settings[field_name] = self._coerce(spec, fields[field_name], label)
            elif spec.required:
                example = {'topic': ': /' + name, 'type': ': pkg/msg/Type'}.get(field_name, '')
                self.error(f"{group[:-1]} '{name}' has no {field_name}", entry['key_pos'],
                           f'add {label}{example}')
                settings[field_name] = self._MISSING
            else:
                settings[field_name] = spec.default
        topic = settings['topic']
        if isinstance(topic, str) and not _TOPIC.match(topic):
            self.error(f"invalid topic name '{topic}'", fields['topic'].pos,
                       'a topic is /-separated names of letters, digits and _, '
                       'not starting with a digit')
            settings['topic'] = self._MISSING
        msg_type = None
        if isinstance(settings['type'], str):
            try:
                msg_type = resolve_type(settings['type'])
            except InputError as exc:
                self.error(exc.message, fields['type'].pos, exc.hint)
        return settings, msg_type

    def _inputs(self, inputs):
        """
        Check every input; return ({name: InputConfig}, {name: message class or None}).

        The second, for checking paths, has every input whose type resolves, even if another
        of its parameters is wrong: an error there should not hide the batch's errors.
        """
        result, types = {}, {}
        for name, entry in inputs.items():
            pos = entry['key_pos']
            types[name] = None
            if not self._input_name_ok(name, pos) or entry.get('bad'):
                continue
            settings, msg_type = self._entry_settings('inputs', name, entry)
            types[name] = msg_type
            if msg_type is None or any(v is self._MISSING for v in settings.values()):
                continue
            result[name] = InputConfig(name, settings['topic'], type_name(msg_type), msg_type,
                                       float(settings['timeout']), settings['qos'],
                                       int(settings['depth']))
        return result, types

    def _outputs(self, outputs, input_types):
        """Check every typed output; return {name: OutputConfig}."""
        result = {}
        topics = {}
        for name, entry in outputs.items():
            if not self._input_name_ok(name, entry['key_pos'], 'output') or entry.get('bad'):
                continue
            settings, msg_type = self._entry_settings('outputs', name, entry)
            fields = entry['fields']
            items = self._field_items(name, settings, fields, 'fields', parse=True)
            stale_items = self._field_items(name, settings, fields, 'stale_fields')
            if isinstance(settings['fields'], tuple | list):
                if not fields['fields'].items:
                    self.error(f"output '{name}' sets no fields", fields['fields'].pos,
                               "fields: ['data = ...']")
            topic = settings['topic']
            if isinstance(topic, str):
                if topic in topics:
                    self.error(f"topic '{topic}' is used by outputs '{topics[topic]}' and "
                               f"'{name}'", fields['topic'].pos, 'give each output its topic')
                topics[topic] = name
            if msg_type is None or any(v is self._MISSING for v in settings.values()):
                continue
            stamp_at = fields['stamp'].pos if 'stamp' in fields else None
            frame_at = fields['frame_id'].pos if 'frame_id' in fields else None
            stamp, frame_id = settings['stamp'], settings['frame_id'] or None
            found = check_fields(name, msg_type, items, stamp, frame_id, stamp_at, frame_at,
                                 input_types)
            self.errors.extend(found)
            on_stale = settings['on_stale']
            self.errors.extend(check_stale_fields(
                name, msg_type, on_stale, stale_items,
                fields['on_stale'].pos if 'on_stale' in fields else None,
                fields['stale_fields'].pos if 'stale_fields' in fields else entry['key_pos']))
            if any(error.pos == stamp_at for error in found):
                stamp = ''  # reported once here, not again by the compiler
            # Kept even with errors, so the batch's own errors are found too.
            result[name] = OutputConfig(name, topic, type_name(msg_type), msg_type,
                                        tuple(items), stamp, frame_id,
                                        int(settings['every']), on_stale,
                                        tuple(stale_items), stamp_at)
        return result

    def _field_items(self, name, settings, fields, key, parse=False):
        """Split the `key` list ('fields', 'stale_fields') into `FieldAssign`s, noting errors."""
        items = []
        if not isinstance(settings[key], tuple | list) or key not in fields:
            return items
        for k, item in enumerate(fields[key].items):
            source = item.source or Source(item.value, item.pos.file, item.pos.line,
                                           item.pos.col)
            try:
                assign = parse_field(item.value, source)
                if parse and assign.constant is None:
                    parse_expression(assign.text, assign.source,
                                     f'outputs.{name}.{key}[{k}]')
                items.append(assign)
            except ExpressionError as exc:
                exc.name = exc.name or name
                self.errors.append(exc)
        return items

    def _input_name_ok(self, name, pos, noun='input'):
        problem = None
        if not _IDENTIFIER.match(name):
            problem = ('is not a valid name',
                       'use letters, digits and _, not starting with a digit')
        elif keyword.iskeyword(name) or keyword.issoftkeyword(name):
            problem = ('is a Python keyword', 'choose another name')
        elif name.startswith('__'):
            problem = ("starts with '__'", 'choose another name')
        elif name in RESERVED:
            what = ('a function' if name in CALLABLE else 'a constant' if name in CONSTANTS
                    else 'a built-in value' if name in BUILTINS else 'a keyword')
            problem = (f'clashes with {what} of the expression language', 'choose another name')
        if problem is None:
            return True
        self.error(f"{noun} name '{name}' {problem[0]}", pos, problem[1])
        return False

    # ----- expressions ------------------------------------------------------------------------
    def _expressions(self, value, inputs, clashes):
        hint = 'write expressions: ["name = expression", ...]'
        if value is None:
            self.error('no expressions: the batch is empty', self.anchor, hint)
            return [], []
        if value.kind == 'empty':
            self.error('expressions is empty: the batch needs at least one expression',
                       value.pos, hint)
            return [], []
        if value.kind != 'array':
            self.error(f'expressions must be a list of strings, got {_describe(value)}',
                       value.pos, hint)
            return [], []
        texts, sources = [], []
        for i, item in enumerate(value.items):
            if item.kind != 'string':
                quoted = f"quote it: '{item.raw}'" if item.raw else hint
                self.error(f"expressions[{i}] must be a string 'name = expression', got "
                           f'{_describe(item)}', item.pos, quoted)
                continue
            source = item.source or Source(item.value, item.pos.file, item.pos.line,
                                           item.pos.col)
            texts.append(item.value)
            sources.append(source)
            ahead = statement_name(item.value)
            if ahead and ahead[0] in inputs:
                name, offset = ahead
                clashes.append(ExpressionError(
                    f"output '{name}' has the same name as an input",
                    source.pos(1, offset + 1), name=name,
                    hint='rename the expression or the input'))
        return texts, sources

    def _compile(self, texts, sources, inputs, policy, outputs):
        try:
            _compile(texts, sources, outputs.values(), _input_checker(inputs), policy)
        except ExpressionError as exc:
            self.errors.extend(exc.errors if isinstance(exc, BatchErrors) else [exc])


def _with_hidden(texts, sources, outputs):
    """Return the batch's statements and sources with the typed outputs' hidden ones after."""
    statements, sources, labels = list(texts), list(sources), {}
    for output in outputs:
        hidden, _ = output.statements()
        statements.extend(hidden)
        sources.extend(statement.source for statement in hidden)
        labels.update(output.hidden_labels())
    return statements, sources, labels


def _input_checker(inputs):
    def check_input(path):
        return check_path(inputs, path)
    return check_input


def _sorted(errors):
    def key(error):
        pos = error.pos
        return (pos.file or '', pos.line, pos.col) if pos is not None else ('', 0, 0)
    return sorted(errors, key=key)
