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
Whether numba's cache holds the compiled loop, so the node can say it is compiling before it does.

Importing `compiled_tick` compiles the loop (and the kernel inlined into it) when numba's cache
has no fresh copy: on a first start, seconds of silence. `loop_cached()` asks numba's own cache
locators (the first that applies is the one numba uses: `NUMBA_CACHE_DIR`, the package's
`__pycache__`, the user-wide cache) whether the loop's index is there and newer than the sources
compiled into it. It reads files only: it never imports numba's compiled code.
"""

import pathlib
from types import SimpleNamespace

_HERE = pathlib.Path(__file__).resolve().parent
_LOOP = _HERE / 'compiled_tick.py'
# The sources compiled into the loop (its fingerprint's, the kernel's): newer ones recompile it.
_SOURCES = (_LOOP, *(_HERE.parent / 'engine' / f'{name}.py'
                     for name in ('kernel', 'native', 'pointers', 'program')),
            *(_HERE.parent / 'msgtypes' / f'{name}.py' for name in ('plans', 'templates')),
            _HERE.parent / 'language' / 'functions.py')


def loop_cached():
    """Say whether the compiled loop will load from numba's cache (a guess from file times)."""
    try:
        from numba.core import caching
        # The locators read only the function's first line number, which the index name
        # carries after the function's name: any line will do for finding the directory.
        stub = SimpleNamespace(__code__=SimpleNamespace(co_firstlineno=0))
        impl = getattr(caching, 'CacheImpl', None) or caching._CacheImpl  # renamed in 0.61
        for locator_class in impl._locator_classes:
            locator = locator_class.from_function(stub, str(_LOOP))
            if locator is None:
                continue
            newest = max(path.stat().st_mtime for path in _SOURCES)
            indexes = pathlib.Path(locator.get_cache_path()).glob('compiled_tick.tick_loop-*.nbi')
            return any(index.stat().st_mtime >= newest for index in indexes)
    except Exception:  # noqa: B902 - numba's internals moved: say nothing rather than fail
        return True
    return False
