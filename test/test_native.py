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
C entry points passed to compiled code at run time (`arena_eval.engine.native`).

A cached `@njit(nogil=True)` function calls libc's clock_gettime through an address it receives
as an argument, and a new process loads it from numba's cache (an address frozen into the code
would make that impossible); missing libraries or symbols raise `Unavailable`; a serialized
buffer is rcutils-allocated and freed.
"""

import subprocess
import sys
import time

from arena_eval.engine import native
import numpy as np
import pytest


def test_compiled_code_calls_clock_gettime_by_address():
    symbols = native.symbols()
    timespec = np.zeros(2, np.int64)
    before = time.monotonic_ns()
    now = native.monotonic_ns(symbols.clock_gettime, timespec.ctypes.data)
    after = time.monotonic_ns()
    assert before <= now <= after


def test_a_new_process_loads_the_call_by_address_from_the_cache():
    script = ('import numpy as np; from arena_eval.engine import native; '
              't = np.zeros(2, np.int64); '
              'native.monotonic_ns(native.symbols().clock_gettime, t.ctypes.data); '
              's = native.monotonic_ns.stats; '
              'print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))')
    subprocess.run([sys.executable, '-c', script], check=True, timeout=300)
    out = subprocess.run([sys.executable, '-c', script], check=True, capture_output=True,
                         text=True, timeout=300).stdout
    assert out.split() == ['1', '0']


def test_missing_library_or_symbol_is_unavailable(monkeypatch):
    with pytest.raises(native.Unavailable):
        native.Symbols(rcl_name='libno_such_rcl.so')
    monkeypatch.setitem(native.Symbols.NAMES, 'take', ('rcl', 'rcl_no_such_function'))
    with pytest.raises(native.Unavailable, match='rcl_no_such_function'):
        native.Symbols()


def test_serialized_buffer_is_allocated_by_rcutils():
    buffer = native.symbols().serialized_buffer(128)
    assert buffer.capacity == 128 and buffer.struct[native.BUFFER_AT // 8] != 0
    assert buffer.copy() == b''
    buffer.close()
    buffer.close()  # idempotent
