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
Pointer casts for compiled code: an int64 address as a typed pointer, no allocation, no check.

Compiled code here reaches arrays by address (passing a numpy array into an njit call costs an
NRT allocation per call) and wraps the pointer with `numba.carray`. These intrinsics inline into
their callers, whose numba caches do not track this file: `kernel.FINGERPRINT` covers its source
so a change here recompiles them all.
"""

from numba import types
from numba.extending import intrinsic


def pointer_to(item):
    """Return an intrinsic turning an int64 address into a pointer to `item` (a numba type)."""
    @intrinsic
    def pointer(typingctx, address):
        def codegen(context, builder, signature, args):
            return builder.inttoptr(args[0], context.get_value_type(types.CPointer(item)))
        return types.CPointer(item)(types.int64), codegen
    return pointer


f64_ptr = pointer_to(types.float64)
i64_ptr = pointer_to(types.int64)
u64_ptr = pointer_to(types.uint64)
