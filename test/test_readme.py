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
The README and `docs/` stay short, true to the code's tables, and inside the repository.

The language reference (docs/language.md) and the parameter table (docs/parameters.md) name
every function, constant and parameter of the code's tables; the README is a newcomer's two
screens whose first one holds exactly the two commands; every link, anchor and file path in
README.md and docs/*.md resolves in this repository, and no doc names an issue number.
"""

from pathlib import Path
import re

from arena_eval.language.functions import CALLABLE, CONSTANTS
from arena_eval.params.config import load_params_text, PARAMETERS
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / 'README.md'
DOCS = sorted((ROOT / 'docs').glob('*.md'))
LANGUAGE = (ROOT / 'docs' / 'language.md').read_text()
PARAMETER_DOC = (ROOT / 'docs' / 'parameters.md').read_text()
FIRST_SCREEN = 40
MAX_LINES = 200
SHELL = ('', 'bash', 'sh', 'shell', 'console')
# Backquoted paths that start here are paths from the repository's root; those that start with
# one of the package's folders are paths inside `arena_eval/`.
ROOT_DIRS = ('arena_eval', 'config', 'test', 'launch', 'docs', 'resource', '.ci', '.github')
PACKAGE_DIRS = ('language', 'engine', 'msgtypes', 'params', 'rt', 'ros', 'replay', 'tools')
FILE_SUFFIXES = ('.py', '.c', '.yaml', '.yml', '.md', '.bag', '.txt', '.xml', '.toml', '.cfg')
FENCE = re.compile(r'^[ \t]*```.*?^[ \t]*```', re.MULTILINE | re.DOTALL)
LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')
CODE = re.compile(r'`([^`\n]+)`')
ISSUE = re.compile(r'\bissues?\s+#?\d+|(?<![\w&/])#\d+\b', re.IGNORECASE)
MD_NAME = re.compile(r'[\w./-]*\b[\w-]+\.md\b')


def doc_files():
    return [README, *DOCS]


def ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def prose(text):
    """Drop fenced code blocks: commands and printed output, not references."""
    return FENCE.sub('', text)


def slug(heading):
    """Return GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r'<[^>]+>', '', heading).strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path):
    """Return a markdown file's anchors: its headings' slugs (numbered when repeated), ids."""
    text = path.read_text()
    found, seen = set(), {}
    for line in prose(text).splitlines():
        match = re.match(r'#{1,6}\s+(.*)', line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f'{base}-{count}')
    found.update(re.findall(r'<a\s+(?:id|name)="([^"]+)"', text))
    return found


def test_every_function_is_documented():
    missing = [name for name in CALLABLE if f'`{name}' not in LANGUAGE]
    assert not missing, f'functions missing from docs/language.md: {missing}'


def test_every_constant_is_documented():
    missing = [name for name in CONSTANTS if f'`{name}`' not in LANGUAGE]
    assert not missing, f'constants missing from docs/language.md: {missing}'


def test_every_parameter_is_documented():
    missing = [spec.name for spec in PARAMETERS if f'`{spec.name}`' not in PARAMETER_DOC]
    assert not missing, f'parameters missing from docs/parameters.md: {missing}'


def test_readme_is_short():
    lines = README.read_text().splitlines()
    assert len(lines) < MAX_LINES, f'README.md has {len(lines)} lines; the reference is in docs/'


def test_first_screen_holds_exactly_the_two_commands():
    screen = '\n'.join(README.read_text().splitlines()[:FIRST_SCREEN])
    shell = [block for block in FENCE.findall(screen)
             if block.strip().splitlines()[0].strip('`').strip() in SHELL]
    commands = [line.split('#')[0].strip()
                for block in shell for line in block.splitlines()[1:-1]
                if line.split('#')[0].strip()]
    assert commands == ['make demo', 'make test']
    makefile = (ROOT / 'Makefile').read_text()
    assert all(re.search(rf'^{target}:', makefile, re.MULTILINE) for target in ('demo', 'test'))


def test_readme_links_every_doc():
    text = README.read_text()
    missing = [p.name for p in DOCS if f'](docs/{p.name}' not in text]
    assert not missing, f'README.md does not link {missing}'


def test_readme_params_file_is_valid():
    block = re.search(r'```yaml\n(.*?)```', README.read_text(), re.DOTALL).group(1)
    config, errors, _ = load_params_text(block, 'README.md')
    assert not errors and config is not None


def link_problems(path):
    problems = []
    for target in LINK.findall(prose(path.read_text())):
        if re.match(r'[a-z]+:', target):
            continue   # https:, mailto:
        file, _, anchor = target.partition('#')
        dest = (path.parent / file).resolve() if file else path
        if not dest.is_relative_to(ROOT) or not dest.exists():
            problems.append(f'{target}: no such file in the repository')
        elif anchor and dest.suffix == '.md' and anchor not in anchors(dest):
            problems.append(f'{target}: no such anchor in {dest.relative_to(ROOT)}')
    return problems


@pytest.mark.parametrize('path', doc_files(), ids=ids(doc_files()))
def test_links_resolve(path):
    problems = link_problems(path)
    assert not problems, f'{path.relative_to(ROOT)}: ' + '; '.join(problems)


def path_problem(span):
    """Say why a backquoted repository path does not resolve; None if it does or is no path."""
    span = span.strip().split('::')[0].rstrip(',:;.')
    if ' ' in span or not re.fullmatch(r'[\w.\-/*]+', span) or '*' in span:
        return None
    first = span.split('/')[0]
    if span.startswith(('../', '/work', '~')):
        return f'`{span}` is outside the repository'
    if '/' in span and first in ROOT_DIRS:
        where = ROOT / span
    elif '/' in span and first in PACKAGE_DIRS and span.endswith(FILE_SUFFIXES + ('/',)):
        where = ROOT / 'arena_eval' / span
    elif '/' not in span and span.endswith(('.py', '.c')) and not span.startswith('.'):
        found = [*(ROOT / 'arena_eval').rglob(span), *(ROOT / 'test').glob(span)]
        return None if found else f'`{span}`: no such file in arena_eval/ or test/'
    else:
        return None
    return None if where.exists() else f'`{span}`: no such path'


@pytest.mark.parametrize('path', doc_files(), ids=ids(doc_files()))
def test_paths_resolve(path):
    problems = [p for span in CODE.findall(path.read_text()) if (p := path_problem(span))]
    assert not problems, f'{path.relative_to(ROOT)}: ' + '; '.join(problems)


@pytest.mark.parametrize('path', doc_files(), ids=ids(doc_files()))
def test_no_issue_numbers_or_outside_files(path):
    text = path.read_text()
    issues = ISSUE.findall(text)
    assert not issues, f'{path.relative_to(ROOT)} names issues: {issues}'
    markdown = {m for m in MD_NAME.findall(text)
                if not (path.parent / m).exists() and not (ROOT / m).exists()
                and not list(ROOT.glob(f'*/{m}')) and not list(ROOT.glob(f'*/*/{m}'))}
    assert not markdown, f'{path.relative_to(ROOT)} names files not in the repository: {markdown}'


def test_the_checks_can_fail():
    assert path_problem('arena_eval/sim.py') and path_problem('ros/cdr.py')
    assert path_problem('../shared/DESIGN.md') and path_problem('nosuch_module.py')
    assert not path_problem('arena_eval/ros/sim.py') and not path_problem('msgtypes/plans.py')
    assert slug('Startup: `python -m arena_eval bench --startup 5`') == \
        'startup-python--m-arena_eval-bench---startup-5'
    assert ISSUE.search('the Python tick of issue 13') and not ISSUE.search('[a](#b)')
    assert 'parameters' in anchors(ROOT / 'docs' / 'parameters.md')
