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
arena_eval: evaluate a batch of math expressions over ROS 2 sensor fields at 1 kHz.

The public Python API is the expression engine; the ROS node lives in `arena_eval.ros.node`.

>>> from arena_eval import compile_batch
>>> batch = compile_batch(['a = x.y * 2', 'b = a + 1'])
>>> batch.evaluate({'x.y': 3.0})
{'a': 6.0, 'b': 7.0}

Names are imported lazily so that light modules (the simulator, the CLI's argument parsing) do not
pay for importing numba.
"""

__all__ = ['compile_batch', 'ExpressionError', 'Batch']


def __getattr__(name):
    if name == 'compile_batch':
        from .engine.arena import compile_batch
        return compile_batch
    if name == 'Batch':
        from .engine.arena import Batch
        return Batch
    if name == 'ExpressionError':
        from .language.errors import ExpressionError
        return ExpressionError
    raise AttributeError(name)
