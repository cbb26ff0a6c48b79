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
The parameter bridge: the node's ROS parameters <-> `NodeConfig`.

Declares every parameter from the one table (`arena_eval.params.config.PARAMETERS`) with its
descriptor, so `ros2 param describe` shows ranges and choices; reads the declared values into a
checked `NodeConfig`; and, on `ros2 param set`, validates the merged values and hands a good
config to the node's `apply`, answering with `SetParametersResult(successful, reason)` whose
reason is the one-line errors of a refused update (`parameter rate_hz:1:1: error: ...`).

rclpy refuses some updates itself, before any on-set callback, with its own words: a value of
another type than the descriptor's (`rate_hz:=500`, an integer for a double), a name never
declared (a new input), an unset parameter (a removed input), a value outside the
descriptor's range. So a pre-set callback (rclpy >= Iron) sees every update first: it turns an
integer for a double parameter into that double, and when the update cannot be applied it
keeps the reason and hands rclpy a harmless stand-in (the current `rate_hz`), which the on-set
callback then refuses with that reason. Values are retyped by the config's one rule
(`config.declared_value`: an integer for a double, nan for a string), as files are. Refusals
are logged as warnings, applied updates at info level.
"""

import difflib

from rcl_interfaces.msg import SetParametersResult
from rclpy.parameter import Parameter

from ..language.errors import ExpressionError, Pos
from ..params import config as cfg

# rclpy's own parameters, which the config does not check.
_ROS_OWNED = ('use_sim_time', 'start_type_description_service')

_UNINITIALIZED = {'double': Parameter.Type.DOUBLE, 'integer': Parameter.Type.INTEGER,
                  'string': Parameter.Type.STRING, 'bool': Parameter.Type.BOOL,
                  'string_array': Parameter.Type.STRING_ARRAY}


def declare_parameters(node):
    """Describe every overridden parameter from the table; declare the missing ones."""
    declared = node.get_parameters_by_prefix('')
    entries = {group: [] for group in cfg.GROUPS}
    for name in declared:
        parts = name.split('.')
        if len(parts) == 3 and parts[0] in entries and parts[1] not in entries[parts[0]]:
            entries[parts[0]].append(parts[1])
    names = [p.name for p in cfg.PARAMETERS if p.name.split('.')[0] not in cfg.GROUPS]
    for group, entry_names in entries.items():
        for entry_name in entry_names:
            names.extend(cfg.entry_parameter_names(group, entry_name))
    for name in names:
        spec = cfg.spec_for(name)
        descriptor = cfg.parameter_descriptor(spec, name)
        if node.has_parameter(name):
            _describe(node, name, spec, descriptor)
        elif spec.default == () and not spec.required:
            # Left undeclared: a parameter declared without a value (NOT_SET) is dumped by
            # `ros2 param dump` as `null`, which does not load back.
            continue
        elif spec.default is None or spec.default == ():
            node.declare_parameter(name, _UNINITIALIZED[spec.ros_type], descriptor)
        else:
            node.declare_parameter(name, spec.default, descriptor)


def _describe(node, name, spec, descriptor):
    value = node.get_parameter(name).value
    retyped = cfg.declared_value(spec, value)
    alternative = None
    if retyped is not value:
        alternative = Parameter(name, value=retyped).get_parameter_value()
    try:
        node.set_descriptor(name, descriptor, alternative)
    except Exception:  # noqa: B902 - a wrong type: config_from_parameters says which
        pass


def _set_values(values):
    """Select what config_from_parameters checks: the values that are set."""
    return {name: value for name, value in values.items() if value is not None}


class ParameterBridge:
    """
    The node's parameters as a checked config, and its on-set callback.

    `values` is every declared parameter's value (executor thread only). `apply(config)` makes
    a config the running one; it may raise `ExpressionError` to refuse it.
    """

    def __init__(self, node, apply):
        self._node = node
        self._apply = apply
        # The reason the pre-set callback refused the update being set (executor thread).
        self._refusal = None
        # (merged values, config, errors, warnings) the pre-set callback checked (executor).
        self._checked = None
        declare_parameters(node)
        self.values = {name: param.value
                       for name, param in node.get_parameters_by_prefix('').items()}

    def read(self):
        """Return `(NodeConfig | None, errors, warnings)` of the declared values."""
        return cfg.config_from_parameters(_set_values(self.values), check_expressions=False)

    def install(self):
        """Add the pre-set and on-set callbacks to the node (after its setup is done)."""
        self._node.add_pre_set_parameters_callback(self.before_set_parameters)
        self._node.add_on_set_parameters_callback(self.on_set_parameters)

    def before_set_parameters(self, params):
        """
        Retype integers for doubles and catch what rclpy would refuse (the pre-set callback).

        Return the list rclpy goes on with; when the update is refused, a stand-in that the
        on-set callback refuses with the kept reason.
        """
        params = [_as_declared_type(p) for p in params]
        problems = self._refusals(params)
        if not problems:
            self._refusal = None
            return params
        self._refusal = '\n'.join(cfg.one_lines(problems))
        return [Parameter('rate_hz', Parameter.Type.DOUBLE, float(self.values['rate_hz']))]

    def _refusals(self, params):
        """Return the errors of an update that cannot be applied, in the config's words."""
        errors = []
        inputs = {name.split('.')[1] for name in self.values if name.startswith('inputs.')}
        for param in params:
            name = param.name
            parts = name.split('.')
            pos = Pos(f'parameter {name}', 1, 1)
            if name in _ROS_OWNED or name.startswith('qos_overrides.'):
                continue
            if name not in self.values:
                if len(parts) == 3 and parts[0] == 'inputs' and parts[1] not in inputs:
                    errors.append(ExpressionError(
                        f"input '{parts[1]}' is not in the running configuration: adding an "
                        'input needs a restart', pos,
                        hint='add it to the params file and restart the node'))
                else:
                    known = [n for n in self.values if n not in _ROS_OWNED]
                    close = difflib.get_close_matches(name, known, n=1)
                    errors.append(ExpressionError(
                        f"unknown parameter '{name}'", pos,
                        hint=f"did you mean '{close[0]}'?" if close else None))
            elif param.type_ == Parameter.Type.NOT_SET:
                if parts[0] == 'inputs' and len(parts) == 3:
                    errors.append(ExpressionError(
                        f"removing input '{parts[1]}' needs a restart", pos,
                        hint='remove it from the params file and restart the node'))
                else:
                    errors.append(ExpressionError(f'{name} cannot be unset', pos))
        if errors:
            return errors
        values = dict(self.values)
        values.update({p.name: p.value for p in params})
        config, errors, warnings = cfg.config_from_parameters(_set_values(values),
                                                              check_expressions=False)
        # The on-set callback that follows gets these parameters: it applies this verdict.
        self._checked = (values, config, errors, warnings)
        return errors

    def on_set_parameters(self, params):
        """Validate, apply and answer an update (the node's on-set-parameters callback)."""
        log = self._node.get_logger()
        refusal, self._refusal = self._refusal, None
        if refusal is not None:
            return self._refuse(refusal)
        values = dict(self.values)
        values.update({p.name: p.value for p in params})
        checked, self._checked = self._checked, None
        if checked is not None and checked[0] == values:  # validated once, by the pre-set
            config, errors, warnings = checked[1:]
        else:
            config, errors, warnings = cfg.config_from_parameters(
                _set_values(values), check_expressions=False)
        if errors:
            return self._refuse('\n'.join(cfg.one_lines(errors)))
        try:
            self._apply(config)
        except ExpressionError as exc:
            return self._refuse('\n'.join(cfg.one_lines([exc])))
        for warning in warnings:
            if any(warning.pos and p.name in str(warning.pos) for p in params):
                log.warning(warning.one_line())
        self.values = values
        log.debug('parameters set: ' + ', '.join(p.name for p in params))
        return SetParametersResult(successful=True)

    def _refuse(self, reason):
        self._node.get_logger().warning(f'parameter update refused:\n{reason}')
        return SetParametersResult(successful=False, reason=reason)


def _as_declared_type(param):
    """Retype a value as its parameter is declared (`config.declared_value`, as files are)."""
    retyped = cfg.declared_value(cfg.spec_for(param.name), param.value)
    return param if retyped is param.value else Parameter(param.name, value=retyped)
