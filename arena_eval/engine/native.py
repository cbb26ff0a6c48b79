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
C entry points as run-time data for compiled (numba) code: rcl and libc called by address.

numba can call a ctypes function in nopython mode, but it freezes the function's address into
the machine code, and code holding a process-specific address cannot be cached: every start
would compile again (~1.7 s measured for the tick loop). Here compiled code receives addresses
as plain int64 values and calls them through small intrinsics (`call_*`) that cast the integer
to a function pointer of a fixed C signature, so the cached code is the same in every process.
The same goes for memory: `load_*` / `store_*` read and write a typed value at an address (any
alignment: CDR doubles sit 4 bytes off an 8-byte boundary in a malloc'ed buffer).

`Symbols` looks up, once per process, the addresses of the few functions the compiled tick
calls; anything missing raises `Unavailable` and the node keeps its Python tick.
`SerializedBuffer` is an `rcl_serialized_message_t` grown by rcutils' default allocator (plain
malloc: compiled code calls rcl_take without the GIL, so the allocator must not be Python).

>>> symbols = Symbols()                                 # doctest: +SKIP
>>> now = monotonic_ns(symbols.clock_gettime, timespec.ctypes.data)   # doctest: +SKIP
"""

import ctypes
import ctypes.util

from llvmlite import ir
import numba
from numba import njit, types
from numba.extending import intrinsic
import numpy as np

from .pointers import f64_ptr as _f64_pointer, i64_ptr as _i64_pointer

CLOCK_REALTIME = 0
CLOCK_MONOTONIC = 1
TIMER_ABSTIME = 1
EINTR = 4
RCL_RET_OK = 0
RCL_RET_SUBSCRIPTION_TAKE_FAILED = 401
RCL_RET_TIMEOUT = 2
# rcl_wait_set_t: six (pointer array, size) pairs (subscriptions, guard conditions, timers,
# clients, services, events), then the impl pointer; zero-filled it is a zero-initialized one.
WAIT_SET_SIZE = 104
WAIT_SET_SUBSCRIPTIONS_AT = 0
# rcutils_uint8_array_t: buffer, buffer_length, buffer_capacity, then a 5-pointer allocator.
SERIALIZED_SIZE = 64
BUFFER_AT = 0
LENGTH_AT = 8
CAPACITY_AT = 16
# rmw_message_info_t is under 100 bytes in Jazzy and Kilted; the tick never reads it.
MESSAGE_INFO_SIZE = 1024
INITIAL_CAPACITY = 4096


class Unavailable(RuntimeError):
    """A library or symbol the compiled tick needs is missing (the message says which)."""


# ----- calls by address ---------------------------------------------------------------------
_I8 = ir.IntType(8)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)
_PTR = _I8.as_pointer()


def _emit_call(builder, address, c_args, c_ret, values):
    """Call the function at int64 `address` with C types `c_args`; return an int64 result."""
    fnty = ir.FunctionType(c_ret, c_args)
    function = builder.inttoptr(address, fnty.as_pointer())
    converted = []
    for c_type, value in zip(c_args, values, strict=True):
        if c_type is _PTR:
            converted.append(builder.inttoptr(value, _PTR))
        elif c_type is _I64:
            converted.append(value)
        else:
            converted.append(builder.trunc(value, c_type))
    result = builder.call(function, converted)
    if c_ret is _I8:  # C bool: 0 or 1
        return builder.zext(result, _I64)
    return builder.sext(result, _I64)


def _call(c_args, c_ret):
    """(signature, codegen) of an intrinsic calling a C function of type `c_ret f(c_args)`."""
    def codegen(context, builder, signature, values):
        return _emit_call(builder, values[0], c_args, c_ret, values[1:])
    return types.int64(types.int64, *([types.int64] * len(c_args))), codegen


@intrinsic
def call_i32_pppp(typingctx, address, a, b, c, d):
    """Call `int32 f(void *, void *, void *, void *)`: rcl_take_serialized_message."""
    return _call((_PTR, _PTR, _PTR, _PTR), _I32)


@intrinsic
def call_i32_ppp(typingctx, address, a, b, c):
    """Call `int32 f(void *, void *, void *)`: rcl_publish_serialized_message."""
    return _call((_PTR, _PTR, _PTR), _I32)


@intrinsic
def call_i32_p(typingctx, address, a):
    """Call `int32 f(void *)`: rcl_wait_set_clear."""
    return _call((_PTR,), _I32)


@intrinsic
def call_i32_pl(typingctx, address, a, b):
    """Call `int32 f(void *, int64)`: rcl_wait."""
    return _call((_PTR, _I64), _I32)


@intrinsic
def call_bool_p(typingctx, address, a):
    """Call `bool f(void *)`: rcl_context_is_valid."""
    return _call((_PTR,), _I8)


@intrinsic
def call_i32_iipp(typingctx, address, a, b, c, d):
    """Call `int32 f(int32, int32, void *, void *)`: clock_nanosleep."""
    return _call((_I32, _I32, _PTR, _PTR), _I32)


@intrinsic
def call_i32_ip(typingctx, address, a, b):
    """Call `int32 f(int32, void *)`: clock_gettime."""
    return _call((_I32, _PTR), _I32)


# ----- memory by address --------------------------------------------------------------------
def _loader(nbtype):
    @intrinsic
    def load(typingctx, address):
        def codegen(context, builder, signature, args):
            pointer = builder.inttoptr(args[0], context.get_value_type(nbtype).as_pointer())
            return builder.load(pointer, align=1)
        return nbtype(types.int64), codegen
    return load


def _storer(nbtype):
    @intrinsic
    def store(typingctx, address, value):
        def codegen(context, builder, signature, args):
            pointer = builder.inttoptr(args[0], context.get_value_type(nbtype).as_pointer())
            builder.store(args[1], pointer, align=1)
            return context.get_dummy_value()
        return types.none(types.int64, nbtype), codegen
    return store


load_u8 = _loader(types.uint8)
load_i8 = _loader(types.int8)
load_u16 = _loader(types.uint16)
load_i16 = _loader(types.int16)
load_u32 = _loader(types.uint32)
load_i32 = _loader(types.int32)
load_u64 = _loader(types.uint64)
load_i64 = _loader(types.int64)
load_f32 = _loader(types.float32)
load_f64 = _loader(types.float64)
store_f64 = _storer(types.float64)
store_f32 = _storer(types.float32)
store_i64 = _storer(types.int64)
store_u64 = _storer(types.uint64)
store_i32 = _storer(types.int32)
store_u32 = _storer(types.uint32)
store_u16 = _storer(types.uint16)
store_u8 = _storer(types.uint8)


@njit(inline='always')
def i64_view(address, n):
    """Return an int64 array of `n` items at `address` (no NRT object: nothing is allocated)."""
    return numba.carray(_i64_pointer(address), (n,))


@njit(inline='always')
def f64_view(address, n):
    """Return a float64 array of `n` items at `address` (no NRT object: nothing is allocated)."""
    return numba.carray(_f64_pointer(address), (n,))


@njit('int64(int64, int64)', cache=True, nogil=True)
def monotonic_ns(clock_gettime, timespec):
    """CLOCK_MONOTONIC in ns through `clock_gettime` at its address; `timespec`: 16 bytes."""
    call_i32_ip(clock_gettime, CLOCK_MONOTONIC, timespec)
    return load_i64(timespec) * 1_000_000_000 + load_i64(timespec + 8)


# ----- looking the entry points up ------------------------------------------------------------
def _address(function):
    return ctypes.cast(function, ctypes.c_void_p).value


class _Allocator(ctypes.Structure):
    _fields_ = [('allocate', ctypes.c_void_p), ('deallocate', ctypes.c_void_p),
                ('reallocate', ctypes.c_void_p), ('zero_allocate', ctypes.c_void_p),
                ('state', ctypes.c_void_p)]


class Symbols:
    """Addresses (ints) of the C functions the compiled tick calls, looked up in this process."""

    NAMES = {
        'take': ('rcl', 'rcl_take_serialized_message'),
        'publish': ('rcl', 'rcl_publish_serialized_message'),
        'context_is_valid': ('rcl', 'rcl_context_is_valid'),
        'clock_nanosleep': ('c', 'clock_nanosleep'),
        'clock_gettime': ('c', 'clock_gettime'),
        'wait_set_clear': ('rcl', 'rcl_wait_set_clear'),
        'wait_set_add_subscription': ('rcl', 'rcl_wait_set_add_subscription'),
        'wait': ('rcl', 'rcl_wait'),
    }

    def __init__(self, rcl_name='librcl.so', rcutils_name='librcutils.so'):
        try:
            libraries = {'rcl': ctypes.CDLL(rcl_name), 'c': ctypes.CDLL(None)}
            rcutils = ctypes.CDLL(rcutils_name)
        except OSError as exc:
            raise Unavailable(str(exc)) from None
        for attribute, (library, name) in self.NAMES.items():
            try:
                setattr(self, attribute, _address(getattr(libraries[library], name)))
            except AttributeError:
                raise Unavailable(f'symbol {name} not found') from None
        try:
            self._default_allocator = rcutils.rcutils_get_default_allocator
            self._array_init = rcutils.rcutils_uint8_array_init
            self._array_fini = rcutils.rcutils_uint8_array_fini
        except AttributeError as exc:
            raise Unavailable(str(exc)) from None
        self._default_allocator.restype = _Allocator
        self._default_allocator.argtypes = []
        self._array_init.restype = ctypes.c_int32
        self._array_init.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        self._array_fini.restype = ctypes.c_int32
        self._array_fini.argtypes = [ctypes.c_void_p]
        rcl = libraries['rcl']
        self._wait_set_init = rcl.rcl_wait_set_init
        self._wait_set_init.restype = ctypes.c_int32
        self._wait_set_init.argtypes = [ctypes.c_void_p] + [ctypes.c_size_t] * 6 + [
            ctypes.c_void_p, _Allocator]
        self._wait_set_fini = rcl.rcl_wait_set_fini
        self._wait_set_fini.restype = ctypes.c_int32
        self._wait_set_fini.argtypes = [ctypes.c_void_p]

    def serialized_buffer(self, capacity=INITIAL_CAPACITY):
        """Return a new `SerializedBuffer` (malloc'ed, grown by rcl as needed)."""
        return SerializedBuffer(self, capacity)

    def wait_set(self, context_pointer, n_subscriptions):
        """Return a new `WaitSet` for `n_subscriptions` (off the tick: rcl allocates)."""
        return WaitSet(self, context_pointer, n_subscriptions)


_SYMBOLS = None


def symbols():
    """Return the process's `Symbols` (looked up once); raises `Unavailable`."""
    global _SYMBOLS
    if _SYMBOLS is None:
        _SYMBOLS = Symbols()
    return _SYMBOLS


class SerializedBuffer:
    """
    One `rcl_serialized_message_t` with rcutils' default allocator, for takes without the GIL.

    `address` is the struct's (what rcl_take wants); the bytes are at the struct's `buffer`
    pointer, which rcl may move when it grows the buffer: compiled code reads it after each take.
    """

    def __init__(self, symbols_, capacity=INITIAL_CAPACITY):
        self._symbols = symbols_
        self.struct = np.zeros(SERIALIZED_SIZE // 8, np.int64)
        self.address = self.struct.ctypes.data
        allocator = symbols_._default_allocator()
        if symbols_._array_init(self.address, capacity, ctypes.byref(allocator)) != RCL_RET_OK:
            raise Unavailable('rcutils_uint8_array_init failed')
        self._live = True

    def copy(self):
        """Return a copy of the bytes of the last take (for tests and diagnostics)."""
        length = int(self.struct[LENGTH_AT // 8])
        return ctypes.string_at(int(self.struct[BUFFER_AT // 8]), length)

    @property
    def capacity(self):
        return int(self.struct[2])

    def close(self):
        if self._live:
            self._live = False
            self._symbols._array_fini(self.address)

    def __del__(self):
        self.close()


class WaitSet:
    """
    One `rcl_wait_set_t` with room for `n` subscriptions, initialised here, off the tick.

    Compiled code clears it, adds the trigger subscriptions and calls `rcl_wait` by address
    (`address`); `close()` finalises it once no loop uses it (before the context shuts down).
    """

    def __init__(self, symbols_, context_pointer, n):
        self._symbols = symbols_
        self.struct = np.zeros(WAIT_SET_SIZE // 8, np.int64)
        self.address = self.struct.ctypes.data
        code = symbols_._wait_set_init(self.address, n, 0, 0, 0, 0, 0, context_pointer,
                                       symbols_._default_allocator())
        if code != RCL_RET_OK:
            raise Unavailable(f'rcl_wait_set_init failed with rcl code {code}')
        self._live = True

    def close(self):
        if self._live:
            self._live = False
            self._symbols._wait_set_fini(self.address)

    def __del__(self):
        self.close()
