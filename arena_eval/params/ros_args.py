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
The ROS part of a command line, read as rcl reads it, without rclpy: who the node will be.

Before `rclpy.init` the node checks its params files, and for that it needs the fully qualified
name rcl will give it and the parameter sources in rcl's order. rcl's rules, followed here:

- ROS arguments sit between `--ros-args` and `--` (or the end); there may be several sections.
- `-r`/`--remap` `[node:]__node:=name` (or `__name`) renames the node: the first rule that
  applies wins; a `node:` prefix applies when it is the node's name in the code.
- `-r [node:]__ns:=/ns` moves it: the first rule that applies wins; a prefix is compared with
  the name after the `__node` remap.
- `--params-file FILE` and `-p`/`--param` `[node:]name:=value` are parameter sources, read in
  command-line order into one table (a `-p` without a prefix belongs to `/**`).

>>> args = parse(['prog', '--ros-args', '-r', '__ns:=/robot1', '-r', 'arena_eval:__node:=tip',
...               '--params-file', 'a.yaml', '-p', 'rate_hz:=500'])
>>> args.fully_qualified_name
'/robot1/tip'
>>> args.sources
(('file', 'a.yaml'), ('param', '/**', 'rate_hz', '500'))
"""

from dataclasses import dataclass
import re

NODE_NAME = 'arena_eval'

_PREFIX = re.compile(r'^([A-Za-z_][A-Za-z0-9_]*):(?!=)(.*)$', re.DOTALL)
# Flags that take a value (skipped with it); the rest of the ROS flags take none.
_VALUED = frozenset(('-r', '--remap', '-p', '--param', '--params-file', '-e', '--enclave',
                     '--log-level', '--log-config-file', '--log-file-name'))


@dataclass(frozen=True)
class RosArgs:
    """The node's name and namespace after remapping, and its parameter sources in order."""

    name: str
    namespace: str
    # ('file', path) or ('param', node key, parameter name, value text), in command-line order.
    sources: tuple
    # Topic remaps (node prefix or None, from, to), for messages; rcl applies them itself.
    remaps: tuple = ()

    @property
    def fully_qualified_name(self):
        return fully_qualified(self.name, self.namespace)

    @property
    def params_files(self):
        return tuple(source[1] for source in self.sources if source[0] == 'file')


def fully_qualified(name, namespace='/'):
    """Return `/ns/name` for a node name and namespace (`namespace` '' or '/' is the root)."""
    namespace = '/' + namespace.strip('/') if namespace.strip('/') else ''
    return f'{namespace}/{name}'


def split_fully_qualified(node):
    """Split `/robot1/arena_eval` (or a plain `arena_eval`) into (name, namespace)."""
    node = node.strip()
    namespace, _, name = node.rpartition('/')
    return name, (namespace if namespace.startswith('/') else '/' + namespace) or '/'


def ros_sections(argv):
    """Yield the arguments inside `--ros-args ... [--]` sections, in order."""
    inside = False
    for arg in argv:
        if arg == '--ros-args':
            inside = True
        elif arg == '--' and inside:
            inside = False
        elif inside:
            yield arg


def parse(argv, name=NODE_NAME, namespace='/'):
    """Read `argv` (with the program name) as rcl would for a node created as `name`."""
    args = list(ros_sections(argv))
    node_rules, ns_rules, remaps, sources = [], [], [], []
    i = 0
    while i < len(args):
        flag = args[i]
        value = args[i + 1] if i + 1 < len(args) else None
        i += 2 if flag in _VALUED else 1
        if value is None and flag in _VALUED:
            break
        if flag in ('-r', '--remap'):
            prefix, rule = _split_prefix(value)
            target, sep, replacement = rule.partition(':=')
            if not sep:
                continue
            if target in ('__node', '__name'):
                node_rules.append((prefix, replacement))
            elif target == '__ns':
                ns_rules.append((prefix, replacement))
            else:
                remaps.append((prefix, target, replacement))
        elif flag in ('-p', '--param'):
            prefix, rule = _split_prefix(value)
            param, sep, text = rule.partition(':=')
            if sep:
                sources.append(('param', prefix or '/**', param, text))
        elif flag == '--params-file':
            sources.append(('file', value))
    final_name = _first(node_rules, name, name)
    final_namespace = _first(ns_rules, final_name, namespace or '/')
    return RosArgs(final_name, final_namespace, tuple(sources), tuple(remaps))


def _split_prefix(rule):
    match = _PREFIX.match(rule)
    return (match.group(1), match.group(2)) if match else (None, rule)


def _first(rules, node_name, default):
    for prefix, replacement in rules:
        if prefix is None or prefix == node_name:
            return replacement
    return default
