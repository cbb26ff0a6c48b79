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
Fill numba's cache at install time, so the first start after an install does not compile.

`python -m arena_eval warm` imports every module of the package whose source caches compiled code
(`cache=True`): importing compiles (or loads) what has a signature; then it calls the module's
`warm()`, if it has one, for what is compiled on first use. numba keeps the cache in the
`__pycache__` folder beside each module (or in `NUMBA_CACHE_DIR`, if set), so run from an
installed copy it warms that copy: `setup.py`'s install step runs it on what it installed (colcon
build), `make setup` on the source (the editable install in the venv).
"""

import importlib
from pathlib import Path
import sys
import time

PACKAGE = Path(__file__).resolve().parents[1]


def cached_modules():
    """Return the dotted names of the package's modules whose source says `cache=True`."""
    names = []
    me = Path(__file__).resolve()
    for path in sorted(PACKAGE.rglob('*.py')):
        if path != me and 'cache=True' in path.read_text(encoding='utf-8'):
            parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
            names.append('.'.join(parts))
    return names


def run(out=None):
    """Warm every cached module; print one line each; return the exit code."""
    out = out or sys.stdout
    start = time.monotonic()
    for name in cached_modules():
        began = time.monotonic()
        module = importlib.import_module(name)
        warm = getattr(module, 'warm', None)
        if warm is not None:
            warm()
        print('warm: %s %.1f s' % (name, time.monotonic() - began), file=out, flush=True)
    print('warm: numba cache filled for %s in %.1f s'
          % (PACKAGE, time.monotonic() - start), file=out, flush=True)
    return 0
