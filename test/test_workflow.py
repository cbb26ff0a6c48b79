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
The GitHub Actions recipe for users (.github/workflows/ci.yml) is valid and complete.

It cannot run here (no CI service is reachable), so this checks its structure: a Jazzy and Kilted
matrix on Ubuntu Noble, ros-tooling's setup-ros then action-ros-ci with inputs those actions
define, for this package.
"""

from pathlib import Path
import xml.etree.ElementTree as ET

from test_dependencies import package_xml
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / '.github' / 'workflows' / 'ci.yml'
# The inputs each action declares in its action.yml (setup-ros v0.7, action-ros-ci v0.4).
INPUTS = {
    'ros-tooling/setup-ros': {'use-ros2-testing', 'install-connext',
                              'required-ros-distributions'},
    'ros-tooling/action-ros-ci': {
        'colcon-defaults', 'colcon-mixin-repository', 'coverage-result',
        'coverage-ignore-pattern', 'extra-cmake-args', 'colcon-extra-args', 'import-token',
        'package-name', 'target-ros1-distro', 'target-ros2-distro', 'vcs-repo-file-url',
        'skip-tests', 'skip-rosdep-install', 'no-symlink-install', 'rosdep-check',
        'rosdep-skip-keys', 'ref', 'git-ssh-port', 'ros-workspace-directory-name'},
}


def load():
    # PyYAML reads a bare `on:` key as the boolean True (YAML 1.1).
    return yaml.safe_load(WORKFLOW.read_text(encoding='utf-8'))


def steps_using(job, action):
    return [s for s in job['steps'] if s.get('uses', '').split('@')[0] == action]


def test_workflow_runs_on_pushes_and_pull_requests():
    workflow = load()
    triggers = workflow.get('on', workflow.get(True))
    assert {'push', 'pull_request'} <= set(triggers)


def test_matrix_is_jazzy_and_kilted_on_ubuntu_noble():
    (job,) = load()['jobs'].values()
    assert job['runs-on'] == 'ubuntu-24.04'
    assert job['container']['image'] == 'ubuntu:noble'
    assert sorted(job['strategy']['matrix']['ros_distribution']) == ['jazzy', 'kilted']


def test_setup_ros_then_action_ros_ci_for_this_package():
    (job,) = load()['jobs'].values()
    (setup,) = steps_using(job, 'ros-tooling/setup-ros')
    (ci,) = steps_using(job, 'ros-tooling/action-ros-ci')
    assert job['steps'].index(setup) < job['steps'].index(ci)
    distro = '${{ matrix.ros_distribution }}'
    assert setup['with']['required-ros-distributions'] == distro
    assert ci['with']['target-ros2-distro'] == distro
    name = ET.parse(ROOT / 'package.xml').getroot().findtext('name')
    assert ci['with']['package-name'] == name == 'arena_eval'
    for step in (setup, ci):
        action, version = step['uses'].split('@')
        assert version.startswith('v')
        unknown = set(step.get('with', {})) - INPUTS[action]
        assert not unknown, f'{action} has no input {unknown}'


def test_keyless_dependencies_are_installed_before_the_build():
    (job,) = load()['jobs'].values()
    (ci,) = steps_using(job, 'ros-tooling/action-ros-ci')
    before = ' '.join(s.get('run', '') for s in job['steps'][:job['steps'].index(ci)])
    _, _, keyless = package_xml()
    assert keyless and keyless <= set(before.split())
