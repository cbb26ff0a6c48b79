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
package.xml's rosdep keys and the package's imports agree, both ways.

Every import of `arena_eval/` and `launch/` (at module level or inside functions, found with
`ast`) maps to a key through the table below, and package.xml's exec_depend keys are exactly
those, plus the packages of the message types config/*.yaml uses; a module with no rosdep key is
named in package.xml's "No rosdep key" comment instead. The tests' own imports are covered by the
exec_depend and test_depend keys, and every test_depend is imported by a test.
"""

import ast
from pathlib import Path
import re
import sys
import xml.etree.ElementTree as ET

import yaml

ROOT = Path(__file__).resolve().parents[1]

# Top-level module -> rosdep key (rosdistro: a ROS package's name, or rosdep/python.yaml's key);
# None: rosdep has no key for it (then package.xml's "No rosdep key" comment names it).
KEYS = {
    'ament_copyright': 'ament_copyright',
    'ament_flake8': 'ament_flake8',
    'ament_index_python': 'ament_index_python',
    'ament_pep257': 'ament_pep257',
    'builtin_interfaces': 'builtin_interfaces',
    'diagnostic_msgs': 'diagnostic_msgs',
    'geometry_msgs': 'geometry_msgs',
    'launch': 'launch',
    'launch_ros': 'launch_ros',
    'lifecycle_msgs': 'lifecycle_msgs',
    'nav_msgs': 'nav_msgs',
    'rcl_interfaces': 'rcl_interfaces',
    'rclpy': 'rclpy',
    'rosgraph_msgs': 'rosgraph_msgs',
    'sensor_msgs': 'sensor_msgs',
    'std_msgs': 'std_msgs',
    'std_srvs': 'std_srvs',
    'hypothesis': 'python3-hypothesis',
    'llvmlite': 'python3-numba',  # a dependency of numba in every distribution
    'matplotlib': 'python3-matplotlib',
    'numba': 'python3-numba',
    'numpy': 'python3-numpy',
    'psutil': 'python3-psutil',
    'pytest': 'python3-pytest',
    'rosbags': 'python3-rosbags-pip',  # a pip key: no distribution packages rosbags
    'backports': 'python3-rosbags-pip',  # backports.zstd: rosbags' own zstd before Python 3.14
    'lz4': 'python3-rosbags-pip',  # lz4.frame: rosbags' own decompression of lz4 MCAP chunks
    'tqdm': 'python3-tqdm',
    'yaml': 'python3-yaml',
    'cexprtk': None,
    'dask': None,
    'distributed': None,
    'pyarrow': None,
}
# Named in package.xml though nothing imports it: the `dask scheduler`/`dask worker` commands a
# fleet run on a cluster needs (distributed, which replay imports, depends on it).
COMMANDS = {'dask'}
# The tests' helper modules (test/*.py), imported by name.
LOCAL = {path.stem for path in (ROOT / 'test').glob('*.py')}


def _imported_name(node):
    """Return the modules a node imports: `import x`, `from x import y`, `importorskip('x')`."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module] if node.level == 0 else []
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ('importorskip', 'import_module') and node.args
            and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
        return [node.args[0].value]
    return []


def imports(*folders):
    """Map each third-party top-level module imported under `folders` to its first `file:line`."""
    found = {}
    for folder in folders:
        for path in sorted((ROOT / folder).rglob('*.py')):
            tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
            for node in ast.walk(tree):
                for name in _imported_name(node):
                    top = name.split('.')[0]
                    if top in sys.stdlib_module_names or top in ('arena_eval', '__future__',
                                                                 'compression'):
                        continue
                    if folder == 'test' and top in LOCAL:
                        continue
                    found.setdefault(top, f'{path.relative_to(ROOT)}:{node.lineno}')
    return found


def package_xml():
    """Return (exec keys, test keys, the modules named in the "No rosdep key" comment)."""
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.parse(ROOT / 'package.xml', parser).getroot()
    depends = {tag: {e.text.strip() for e in root.iter(tag)}
               for tag in ('exec_depend', 'test_depend', 'depend')}
    keyless = set()
    for comment in root.iter(ET.Comment):
        if 'No rosdep key' in comment.text:
            for line in comment.text.splitlines()[1:]:
                named = re.match(r'\s*([\w-]+(?:, [\w-]+)*): ', line)
                if named:
                    keyless.update(named.group(1).split(', '))
    assert not depends['depend'], 'use exec_depend / test_depend: the test reads those'
    return depends['exec_depend'], depends['test_depend'], keyless


def config_message_packages():
    """Return the ROS packages of every message type config/*.yaml names (`type: pkg/msg/Name`)."""
    found = set()

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                if key == 'type' and isinstance(item, str) and '/msg/' in item:
                    found.add(item.split('/')[0])
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for path in sorted((ROOT / 'config').glob('*.yaml')):
        walk(yaml.safe_load(path.read_text(encoding='utf-8')))
    return found


def test_every_import_has_a_key_in_the_table():
    unknown = {m: where for m, where in imports('arena_eval', 'launch', 'test').items()
               if m not in KEYS}
    assert not unknown, (f'imports with no rosdep key in test_dependencies.KEYS: {unknown}; '
                         'add the key there and to package.xml')


def test_exec_depends_are_the_run_time_imports():
    run_time = imports('arena_eval', 'launch')
    wanted = {KEYS[m] for m in run_time if KEYS.get(m)} | config_message_packages()
    exec_keys, _, _ = package_xml()
    missing = {m: where for m, where in run_time.items() if KEYS.get(m) not in exec_keys
               and KEYS.get(m)}
    assert not missing, f'imported at run time, not an exec_depend in package.xml: {missing}'
    assert config_message_packages() <= exec_keys
    unused = exec_keys - wanted
    assert not unused, f'exec_depend keys nothing imports (or uses in config/): {unused}'


def test_keyless_modules_are_named_in_package_xml():
    run_time = imports('arena_eval', 'launch')
    _, _, keyless = package_xml()
    wanted = {m for m in run_time if m in KEYS and KEYS[m] is None} | COMMANDS
    assert keyless == wanted, ('package.xml\'s "No rosdep key" comment should name exactly '
                               f'{sorted(wanted)}, names {sorted(keyless)}')
    assert all(KEYS[m] is None for m in keyless)


def test_test_depends_cover_the_tests_imports():
    exec_keys, test_keys, _ = package_xml()
    tests = imports('test')
    missing = {m: where for m, where in tests.items()
               if KEYS.get(m) and KEYS[m] not in exec_keys | test_keys}
    assert not missing, f'imported by tests, in no exec_depend or test_depend: {missing}'
    unused = test_keys - {KEYS[m] for m in tests if KEYS.get(m)}
    assert not unused, f'test_depend keys no test imports: {unused}'
    assert not exec_keys & test_keys, 'a key is both exec_depend and test_depend'


def test_the_scan_sees_imports_inside_functions():
    # tools/replay.py imports matplotlib inside a function only.
    assert 'matplotlib' in imports('arena_eval')
    source = (ROOT / 'arena_eval' / 'tools' / 'replay.py').read_text(encoding='utf-8')
    assert not re.search(r'^(import|from) matplotlib', source, re.M)


def _pins(name):
    """Return {package: version} of a requirements file's `name==version` lines."""
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        if line and not line.startswith('#'):
            package, version = line.split('==')
            pins[package] = version
    return pins


def test_jazzy_pins_the_same_python_packages_as_kilted():
    # The suite runs on both: a package only Kilted's venv has fails the Jazzy run alone.
    kilted = {p: v for p, v in _pins('requirements.txt').items() if not p.startswith('ros-')}
    jazzy = {p: v for p, v in _pins('requirements-jazzy.txt').items()
             if not p.startswith('ros-')}
    assert jazzy == kilted
