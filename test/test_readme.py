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

"""The README's (and docs') language reference and parameter tables stay in step with the code."""

from pathlib import Path

from arena_eval.language.functions import CALLABLE, CONSTANTS
from arena_eval.params.config import PARAMETERS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / 'README.md').read_text()
# The reference is moving from the README into docs/: a name documented in either counts.
DOCS = README + ''.join(path.read_text() for path in sorted((ROOT / 'docs').glob('*.md')))


def test_every_function_is_documented():
    missing = [name for name in CALLABLE if f'`{name}' not in README]
    assert not missing, f'functions missing from README.md: {missing}'


def test_every_constant_is_documented():
    assert all(f'`{name}`' in README for name in CONSTANTS)


def test_every_parameter_is_documented():
    missing = [spec.name for spec in PARAMETERS if f'`{spec.name}`' not in DOCS]
    assert not missing, f'parameters missing from README.md and docs/: {missing}'
