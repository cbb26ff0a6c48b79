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
The binding of a packed block to Python: `bind_step(block, n_rows)` returns its `step(dt)`.

Two ways in, fastest first:

- `entry`: a C function with CPython's METH_FASTCALL signature, `PyObject *f(PyObject *self,
  PyObject *const *args, Py_ssize_t nargs)`, turned into a builtin method: `step(dt)` is then one C
  call of ~20 ns (numba's own wrapper costs ~0.1 us: argument tuple, unboxing). Its `self` is a
  small int64 array of this module's own words (`W_*`): the block's address, this process's
  addresses of None, float and the C API functions it calls, and the fingerprint it was compiled
  with. So the machine code holds no process-specific address and can be cached, and the
  `Program` and its packed header stay plain data: no CPython address is ever written there.
- the numba wrapper of `kernel.run` (GIL released, from `NOGIL_MIN_ROWS` rows on) or
  `kernel.run_holding_gil`, bound to the block's address: where the interpreter does not lay
  objects out as `entry` reads them (`fastcall_supported()`), for big programs, and whenever
  `entry` is stale.

numba's cache tracks only the source of the file a function is defined in, but `entry` runs
`kernel.step` compiled into it: `FINGERPRINT` covers kernel.py's source and the constants its
code freezes. `entry` writes the value frozen into it on every call, and a binding whose entry
wrote another is recompiled once (`refresh_entry`), or falls back to the wrapper.

>>> entry.address > 0
True
"""

import ctypes
import functools
from pathlib import Path
import sys
import sysconfig
import types
import weakref
import zlib

from llvmlite import ir
import numba
from numba import cfunc, types as nb
from numba.extending import intrinsic
import numpy as np

from . import kernel
from .pointers import f64_ptr as _f64_ptr, i64_ptr as _i64_ptr

# Releasing and retaking the GIL costs ~40 ns per call here (a sixth of a small batch's step)
# and lets another thread take the GIL in the middle of the caller's tick. It pays only when the
# kernel runs long enough for another thread to do real work meanwhile.
NOGIL_MIN_ROWS = 2000

FINGERPRINT = zlib.crc32(Path(kernel.__file__).read_bytes(), kernel.FINGERPRINT)

# The words of a binding (int64, the `self` of its builtin method), written by `_bind_fastcall`.
W_BLOCK = 0           # address of the packed block `kernel.step` runs
W_NONE = 1            # id(None)
W_FLOAT = 2           # id(float)
W_AS_DOUBLE = 3       # PyFloat_AsDouble
W_ERR_OCCURRED = 4    # PyErr_Occurred
W_ERR_SET = 5         # PyErr_SetString
W_TYPE_ERROR = 6      # id(TypeError)
W_MESSAGE = 7         # the TypeError's message, a C string
W_FINGERPRINT = 8     # written by `entry` on every call: the FINGERPRINT compiled into it
WORDS = 9

# Object layout `entry` relies on, checked by `fastcall_supported()`.
_OB_TYPE = 8        # offset of ob_type in every object
_OB_FVAL = 16       # offset of the double in a float
_ARRAY_DATA = 16    # offset of the data pointer in a numpy array
# CPython 3.12+ marks immortal objects (None among them) with bit 31 of the reference count set
# and never changes their count; up to 3.11 the bit is never set for None.
_IMMORTAL_BIT = 1 << 31

_HELPER = {'error_model': 'numpy', 'boundscheck': False}


@intrinsic
def _address(typingctx, pointer):
    """Convert a pointer to an int64."""
    def codegen(context, builder, signature, args):
        return builder.ptrtoint(args[0], context.get_value_type(nb.int64))
    return nb.int64(nb.voidptr), codegen


@intrinsic
def _pointer(typingctx, address):
    """Convert an int64 to a pointer."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(nb.voidptr))
    return nb.voidptr(nb.int64), codegen


def _c_call(builder, context, restype, address, args):
    """Call the C function at int64 `address` with int64 `args` passed as pointers."""
    pointer = ir.IntType(8).as_pointer()
    ret = ir.VoidType() if restype is None else context.get_value_type(restype)
    fnty = ir.FunctionType(ret, [pointer] * len(args))
    fn = builder.inttoptr(address, fnty.as_pointer())
    return builder.call(fn, [builder.inttoptr(a, pointer) for a in args])


@intrinsic
def _call_as_double(typingctx, address, obj):
    """PyFloat_AsDouble(obj), through its address."""
    def codegen(context, builder, signature, args):
        return _c_call(builder, context, nb.float64, args[0], args[1:])
    return nb.float64(nb.int64, nb.int64), codegen


@intrinsic
def _call_err_occurred(typingctx, address):
    """PyErr_Occurred() != NULL, through its address."""
    def codegen(context, builder, signature, args):
        result = _c_call(builder, context, nb.voidptr, args[0], [])
        return builder.ptrtoint(result, context.get_value_type(nb.int64))
    return nb.int64(nb.int64), codegen


@intrinsic
def _call_err_set(typingctx, address, exception, message):
    """PyErr_SetString(exception, message), through its address."""
    def codegen(context, builder, signature, args):
        _c_call(builder, context, None, args[0], args[1:])
        return context.get_dummy_value()
    return nb.none(nb.int64, nb.int64, nb.int64), codegen


@numba.njit(inline='always', **_HELPER)
def _load(address):
    return numba.carray(_i64_ptr(address), (1,))[0]


def _fastcall(self_, args, nargs):
    """`step(dt)` as a METH_FASTCALL method of a binding's words: run one step, return None."""
    words = numba.carray(_i64_ptr(_load(_address(self_) + _ARRAY_DATA)), (WORDS,))
    words[W_FINGERPRINT] = FINGERPRINT
    if nargs != 1:
        _call_err_set(words[W_ERR_SET], words[W_TYPE_ERROR], words[W_MESSAGE])
        return _pointer(0)
    arg = _load(_address(args))
    if _load(arg + _OB_TYPE) == words[W_FLOAT]:
        dt = numba.carray(_f64_ptr(arg + _OB_FVAL), (1,))[0]
    else:  # int, numpy float, anything with __float__: the C API converts or raises
        dt = _call_as_double(words[W_AS_DOUBLE], arg)
        if dt == -1.0 and _call_err_occurred(words[W_ERR_OCCURRED]) != 0:
            return _pointer(0)
    kernel.step(words[W_BLOCK], dt)
    none = words[W_NONE]
    count = numba.carray(_i64_ptr(none), (1,))
    if not count[0] & _IMMORTAL_BIT:
        count[0] += 1  # the new reference to None that we return
    return _pointer(none)


_FASTCALL_SIGNATURE = nb.voidptr(nb.voidptr, nb.voidptr, nb.intp)


def _compile_entry(flush=False):
    """Compile (or load from the cache) `_fastcall`; with `flush`, ignore the cache first."""
    compiled = cfunc(_FASTCALL_SIGNATURE, cache=True, **_HELPER)(_fastcall)
    if flush:
        compiled._cache.flush()  # numba has no public recompile() for a cfunc
        compiled.compile()
    return compiled


entry = _compile_entry(flush=kernel.RECOMPILED)


def warm():
    """
    Install-time warm-up: `entry` is compiled (or loaded from the cache) at import.

    Binding checks that the cached entry froze this kernel's fingerprint and recompiles it if not
    (a cache left by another kernel.py, which numba's own check of fastcall.py cannot see), so
    the cache a warm-up leaves is one the node can use.
    """
    if fastcall_supported():
        _bind_fastcall(np.zeros(1, dtype=np.int64))  # the fingerprint call never reads the block
    return entry


def refresh_entry():
    """Recompile `entry` from source, for a cache that froze another fingerprint; return it."""
    global entry
    entry = _compile_entry(flush=True)
    return entry


@functools.cache
def fastcall_supported():
    """
    Say whether this interpreter lays objects out as `entry` reads them.

    Checked, not assumed: 64-bit CPython with the GIL, the double of a float 16 bytes in, a numpy
    array's data pointer 16 bytes in (a subclass's too), the reference count first. Elsewhere
    `bind_step` binds numba's own wrapper (~0.1 us slower per call).
    """
    if (sys.implementation.name != 'cpython' or ctypes.sizeof(ctypes.c_void_p) != 8
            or sysconfig.get_config_var('Py_GIL_DISABLED')):
        return False
    value = float('1.25')  # a float object of its own
    probe = np.zeros(1, dtype=np.int64).view(_Words)
    return (ctypes.c_double.from_address(id(value) + _OB_FVAL).value == 1.25
            and ctypes.c_void_p.from_address(id(value) + _OB_TYPE).value == id(float)
            and ctypes.c_void_p.from_address(id(probe) + _ARRAY_DATA).value
            == probe.ctypes.data
            and ctypes.c_ssize_t.from_address(id(probe)).value == sys.getrefcount(probe) - 1)


class _Words(np.ndarray):
    """A binding's words (`W_*`), and the block they point at, kept alive as `block`."""


class _MethodDef(ctypes.Structure):
    _fields_ = [('ml_name', ctypes.c_char_p), ('ml_meth', ctypes.c_void_p),
                ('ml_flags', ctypes.c_int), ('ml_doc', ctypes.c_char_p)]


_METH_FASTCALL = 0x0080
_new_builtin = ctypes.pythonapi.PyCFunction_NewEx
_new_builtin.restype = ctypes.py_object
_new_builtin.argtypes = [ctypes.POINTER(_MethodDef), ctypes.py_object, ctypes.py_object]
_MESSAGE = ctypes.create_string_buffer(b'step() takes exactly one argument (dt)')
_METHOD_DEFS = {}  # entry address -> its PyMethodDef: must outlive every method made


def _c_api(name):
    return ctypes.cast(getattr(ctypes.pythonapi, name), ctypes.c_void_p).value


def _bind_fastcall(block):
    """`block`'s step as a builtin method of a new binding (METH_FASTCALL), or None."""
    words = np.zeros(WORDS, dtype=np.int64).view(_Words)
    words.block = block
    words[W_BLOCK] = block.ctypes.data
    words[W_NONE] = id(None)
    words[W_FLOAT] = id(float)
    words[W_AS_DOUBLE] = _c_api('PyFloat_AsDouble')
    words[W_ERR_OCCURRED] = _c_api('PyErr_Occurred')
    words[W_ERR_SET] = _c_api('PyErr_SetString')
    words[W_TYPE_ERROR] = id(TypeError)
    words[W_MESSAGE] = ctypes.addressof(_MESSAGE)
    for attempt in range(2):
        address = entry.address
        if address not in _METHOD_DEFS:
            _METHOD_DEFS[address] = _MethodDef(b'step', address, _METH_FASTCALL,
                                               b'step(dt): run one step of the batch')
        step = _new_builtin(ctypes.byref(_METHOD_DEFS[address]), words, None)
        words[W_FINGERPRINT] = 0
        try:
            step()  # no argument: the entry only writes its fingerprint and raises TypeError
        except TypeError:
            pass
        if words[W_FINGERPRINT] == FINGERPRINT:
            return step
        if attempt == 0:
            refresh_entry()  # a cache compiled against another kernel
    return None


# Blocks kept alive by the `step` methods bound to their address (the numba-wrapper path): a
# `step` taken from a Batch stays valid after the Batch is gone. Guarded by the GIL.
_BLOCKS = {}


def _bind_address(wrapper, block):
    """Bind `wrapper(address, dt)` to `block`'s address; the block lives as long as the method."""
    step = types.MethodType(wrapper, block.ctypes.data)
    _BLOCKS[id(step)] = block
    weakref.finalize(step, _BLOCKS.pop, id(step), None)
    return step


def entry_point(n_rows=0):
    """
    Return a numba-compiled callable `f(base, dt)` for a program of `n_rows` rows.

    That is the compiled function's C wrapper, which skips the dispatcher's type resolution
    (~0.1 us of the ~0.24 us a dispatcher call costs here); `kernel.run` (GIL released) from
    `NOGIL_MIN_ROWS` rows on, `kernel.run_holding_gil` below. Only `(int, float)` are ever
    passed, which the wrapper converts exactly as the dispatcher would; if a numba version lacks
    the attribute, the dispatcher itself is returned.
    """
    dispatcher = kernel.run if n_rows >= NOGIL_MIN_ROWS else kernel.run_holding_gil
    if not dispatcher.signatures:
        dispatcher.compile(kernel.SIGNATURE)
    overload = dispatcher.overloads.get(dispatcher.signatures[0])
    return getattr(overload, 'entry_point', None) or dispatcher


def bind_step(block, n_rows):
    """
    Return the fastest `step(dt)` for a packed block of `n_rows` rows.

    Small programs get `entry` as a builtin method (~20 ns of call overhead, GIL held); from
    `NOGIL_MIN_ROWS` rows on, or where the fast entry is not supported or stale, numba's wrapper
    of `kernel.run` / `run_holding_gil` bound to the block's address. Either keeps the block
    alive as long as the `step` lives.
    """
    if n_rows < NOGIL_MIN_ROWS and fastcall_supported():
        step = _bind_fastcall(block)
        if step is not None:
            return step
    return _bind_address(entry_point(n_rows), block)
