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
The package as installed: the console scripts, the editable install, numba's warm cache.

- colcon build installs the four console scripts into `<prefix>/lib/arena_eval/`, and they run
  (checked where the tests import the package from a colcon install, as `make test` does);
- `make setup` installs the package into the venv editable, so `python -m arena_eval` and the
  venv's `arena_eval_replay` run this source from any folder;
- the install (setup.py's install step, or `make setup`) has filled numba's cache beside the
  package before this test session started, and `warm()` covers what a batch step, constant
  folding and a replay compile.
"""

import importlib.metadata
import json
import os
from pathlib import Path
import site
import subprocess
import sys

import arena_eval
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(arena_eval.__file__).resolve().parent
INSTALLED = ROOT not in PACKAGE.parents  # imported from a colcon install, not this source
CONFIG = ROOT / 'config' / 'default.yaml'
HUSKY_BAG = ROOT / 'test' / 'data' / 'husky_imu_odom_gps.bag'
HUSKY_PARAMS = ROOT / 'test' / 'data' / 'husky.yaml'
SCRIPTS = ('arena_eval', 'arena_eval_node', 'arena_eval_sim', 'arena_eval_replay')
# What the node and replay load at start: (folder, module, cached function).
CACHED = [('engine', 'fastcall', '_fastcall'), ('engine', 'kernel', 'run'),
          ('engine', 'kernel', 'run_holding_gil'), ('rt', 'compiled_tick', 'tick_loop'),
          ('replay', 'core', '_replay_ticks')]


def _editable():
    """Whether this interpreter's environment has the package installed editable."""
    # Only the venv's site-packages: the source folder may hold an egg-info of its own.
    for dist in importlib.metadata.distributions(name='arena_eval', path=site.getsitepackages()):
        text = dist.read_text('direct_url.json')
        return bool(text) and json.loads(text).get('dir_info', {}).get('editable', False)
    return False


def run(args, cwd, env=None, timeout=300):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.skipif(not INSTALLED, reason='the package is imported from the source tree')
def test_colcon_install_has_working_console_scripts(tmp_path):
    from ament_index_python.packages import get_package_prefix

    lib = Path(get_package_prefix('arena_eval')) / 'lib' / 'arena_eval'
    for name in SCRIPTS:
        assert os.access(lib / name, os.X_OK), f'{lib / name} is missing or not executable'
    done = run([lib / 'arena_eval', 'check', CONFIG], tmp_path)
    assert done.returncode == 0, done.stderr
    assert 'ok for /arena_eval' in done.stdout
    done = run([lib / 'arena_eval_replay', HUSKY_BAG, '--params', HUSKY_PARAMS, '--quiet',
                '--duration', '1', '--out', tmp_path / 'out.csv'], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / 'out.csv').read_text().startswith('time')
    # The node's and the simulator's scripts start their module's main (a bad argument: exit 2).
    for name in ('arena_eval_node', 'arena_eval_sim'):
        head = (lib / name).read_text().splitlines()[0]
        assert head.startswith('#!') and 'python' in head


@pytest.mark.skipif(not _editable(), reason='no editable install in this environment '
                    '(make setup makes one)')
def test_editable_install_runs_from_any_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}  # the venv alone
    done = run([sys.executable, '-c', 'import arena_eval; print(arena_eval.__file__)'],
               tmp_path, env)
    assert Path(done.stdout.strip()) == ROOT / 'arena_eval' / '__init__.py', done.stderr
    done = run([sys.executable, '-m', 'arena_eval', 'check', CONFIG], tmp_path, env)
    assert done.returncode == 0, done.stderr
    replay = Path(sys.executable).parent / 'arena_eval_replay'
    done = run([replay, HUSKY_BAG, '--params', HUSKY_PARAMS, '--quiet', '--duration', '1',
                '--out', tmp_path / 'out.csv'], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / 'out.csv').read_text().startswith('time')


@pytest.mark.skipif('NUMBA_CACHE_DIR' in os.environ,
                    reason="NUMBA_CACHE_DIR moves numba's cache away from the package")
def test_the_install_left_a_warm_cache_beside_the_package():
    # Written before this session started: by the install, not by a test compiling it.
    session_start = psutil.Process().create_time()
    for folder, module, function in CACHED:
        found = sorted((PACKAGE / folder / '__pycache__').glob(f'{module}.{function}-*.nbi'))
        assert found, f'no numba cache of {module}.{function} beside {PACKAGE / folder}'
        assert min(p.stat().st_mtime for p in found) < session_start, (
            f'{found[0]} was written during this test session: the install did not warm it')


def test_warm_covers_what_a_run_compiles(tmp_path):
    script = f"""
import io, numba
from arena_eval.tools import warm
warm.run(out=io.StringIO())
def cached():
    import importlib
    for name in warm.cached_modules():
        for obj in vars(importlib.import_module(name)).values():
            if (isinstance(obj, numba.core.dispatcher.Dispatcher)
                    and type(obj._cache).__name__ != 'NullCache'):
                yield obj
before = {{id(d): len(d.signatures) for d in cached()}}
from arena_eval.__main__ import main
assert main(['replay', {str(HUSKY_BAG)!r}, '--params', {str(HUSKY_PARAMS)!r}, '--quiet',
             '--duration', '1', '--out', {str(tmp_path / 'out.csv')!r}]) == 0
assert main(['eval', '--set', 'a.x=2', 'clamp(a.x, -1, 1) + 2 * 3']) == 0  # folds constants
new = [d.py_func.__qualname__ for d in cached() if len(d.signatures) > before[id(d)]]
print('compiled after warm:', new)
"""
    done = run([sys.executable, '-c', script], tmp_path, timeout=900)
    assert done.returncode == 0, done.stderr
    assert 'compiled after warm: []' in done.stdout, done.stdout
