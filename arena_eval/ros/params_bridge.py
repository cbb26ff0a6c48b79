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

Declares every parameter from the one table (`arena_eval.ros.config.PARAMETERS`) with its
descriptor, so `ros2 param describe` shows ranges and choices; reads the declared values into a
checked `NodeConfig`; and, on `ros2 param set`, validates the merged values and hands a good
config to the node's `apply`, answering with `SetParametersResult(successful, reason)` whose
reason is the one-line errors of a refused update.
"""

from rcl_interfaces.msg import ParameterType, ParameterValue, SetParametersResult
from rclpy.parameter import Parameter

from . import config as cfg
from ..language.errors import ExpressionError

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
        elif spec.default is None or spec.default == ():
            node.declare_parameter(name, _UNINITIALIZED[spec.ros_type], descriptor)
        else:
            node.declare_parameter(name, spec.default, descriptor)


def _describe(node, name, spec, descriptor):
    value = node.get_parameter(name).value
    alternative = None
    if spec is not None and spec.ros_type == 'double' and isinstance(value, int) \
            and not isinstance(value, bool):
        alternative = ParameterValue(type=ParameterType.PARAMETER_DOUBLE,
                                     double_value=float(value))
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
        declare_parameters(node)
        self.values = {name: param.value
                       for name, param in node.get_parameters_by_prefix('').items()}

    def read(self):
        """Return `(NodeConfig | None, errors, warnings)` of the declared values."""
        return cfg.config_from_parameters(_set_values(self.values), check_expressions=False)

    def on_set_parameters(self, params):
        """Validate, apply and answer an update (the node's on-set-parameters callback)."""
        values = dict(self.values)
        values.update({p.name: p.value for p in params})
        config, errors, warnings = cfg.config_from_parameters(
            _set_values(values), check_expressions=False)
        if errors:
            return SetParametersResult(successful=False, reason='\n'.join(cfg.one_lines(errors)))
        try:
            self._apply(config)
        except ExpressionError as exc:
            return SetParametersResult(successful=False, reason=exc.one_line())
        log = self._node.get_logger()
        for warning in warnings:
            if any(warning.pos and p.name in str(warning.pos) for p in params):
                log.warning(warning.one_line())
        self.values = values
        return SetParametersResult(successful=True)
