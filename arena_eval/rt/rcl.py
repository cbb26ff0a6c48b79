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
Take and publish CDR bytes by calling rcl through ctypes, into and from reused buffers.

rclpy's `take_message(raw=True)` builds a `bytes` object and a message-info dict per message,
and `publish(bytes)` copies the bytes into a new serialized message per call. Here each
subscription owns ONE `rcl_serialized_message_t` whose buffer is a Python `bytearray` (grown,
rarely, through an allocator whose functions are Python callbacks, so no buffer is ever freed
while a `memoryview` of it is alive), and each publisher publishes straight from the caller's
`bytearray` (the pre-serialized template whose doubles the tick rewrites).

The library is loaded with `ctypes.PyDLL`: the calls keep the GIL, as rclpy's do, so the tick
is not handed to another thread in the middle of a take. Anything missing at setup (library,
symbol, an invalid entity) raises `Unavailable`; the caller then uses rclpy instead.

Only the entities' `handle.pointer` is used (rclpy of Jazzy and Kilted both have it). The
caller keeps the rclpy subscription or publisher alive while a `Taker` / `RawPublisher` uses
it, and never uses one after its entity is destroyed.

>>> lib = load()                                            # doctest: +SKIP
>>> taker = Taker(lib, node.create_subscription(Imu, '/imu', cb, 10, raw=True))  # +SKIP
>>> raw = taker.take()   # a memoryview of the buffer (valid until the next take), or None
"""

import ctypes

RCL_RET_OK = 0
RCL_RET_SUBSCRIPTION_TAKE_FAILED = 401
LIBRARY = 'librcl.so'
RCUTILS_LIBRARY = 'librcutils.so'
# Bytes a new take buffer starts with: an Imu is 336, a 6-joint JointState about 250.
INITIAL_CAPACITY = 4096
# rmw_message_info_t is under 100 bytes in Jazzy and Kilted (the layouts differ); never read.
MESSAGE_INFO_SIZE = 1024

_ALLOCATE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p)
_DEALLOCATE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_REALLOCATE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                               ctypes.c_void_p)
_ZERO_ALLOCATE = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                  ctypes.c_void_p)


class Allocator(ctypes.Structure):
    """`rcutils_allocator_t`."""

    _fields_ = [('allocate', _ALLOCATE), ('deallocate', _DEALLOCATE),
                ('reallocate', _REALLOCATE), ('zero_allocate', _ZERO_ALLOCATE),
                ('state', ctypes.c_void_p)]


class SerializedMessage(ctypes.Structure):
    """`rcl_serialized_message_t` (`rcutils_uint8_array_t`)."""

    _fields_ = [('buffer', ctypes.c_void_p), ('buffer_length', ctypes.c_size_t),
                ('buffer_capacity', ctypes.c_size_t), ('allocator', Allocator)]


class _ErrorString(ctypes.Structure):
    _fields_ = [('str', ctypes.c_char * 1024)]


class Unavailable(RuntimeError):
    """The direct path cannot be set up here (the reason is the message); use rclpy."""


class RclError(RuntimeError):
    """An rcl call failed at run time (a bug or a shut-down context, as in rclpy)."""


class Library:
    """librcl's functions used here, with their exact signatures."""

    def __init__(self, name=LIBRARY, rcutils_name=RCUTILS_LIBRARY):
        try:
            rcl = ctypes.PyDLL(name)
            rcutils = ctypes.PyDLL(rcutils_name)
            self.take = rcl.rcl_take_serialized_message
            self.publish = rcl.rcl_publish_serialized_message
            self.subscription_is_valid = rcl.rcl_subscription_is_valid
            self.publisher_is_valid = rcl.rcl_publisher_is_valid
            self._error_string = rcutils.rcutils_get_error_string
            self._reset_error = rcutils.rcutils_reset_error
        except (OSError, AttributeError) as exc:
            raise Unavailable(str(exc)) from None
        message = ctypes.POINTER(SerializedMessage)
        self.take.argtypes = [ctypes.c_void_p, message, ctypes.c_void_p, ctypes.c_void_p]
        self.take.restype = ctypes.c_int32
        self.publish.argtypes = [ctypes.c_void_p, message, ctypes.c_void_p]
        self.publish.restype = ctypes.c_int32
        self.subscription_is_valid.argtypes = [ctypes.c_void_p]
        self.subscription_is_valid.restype = ctypes.c_bool
        self.publisher_is_valid.argtypes = [ctypes.c_void_p]
        self.publisher_is_valid.restype = ctypes.c_bool
        self._error_string.argtypes = []
        self._error_string.restype = _ErrorString
        self._reset_error.argtypes = []
        self._reset_error.restype = None
        self.name = name

    def error(self, what, code):
        """Return an RclError for `code` with rcl's error text, and clear rcl's error state."""
        text = self._error_string().str.decode(errors='replace')
        self._reset_error()
        return RclError(f'{what} failed with rcl code {code}: {text}')


_LIBRARY = None


def load(name=LIBRARY):
    """Return the `Library` (loaded once per process for the default name)."""
    global _LIBRARY
    if name != LIBRARY:
        return Library(name)
    if _LIBRARY is None:
        _LIBRARY = Library(name)
    return _LIBRARY


def _pointer(entity, what):
    try:
        pointer = entity.handle.pointer
    except Exception as exc:  # noqa: B902 - another rclpy, or a destroyed entity
        raise Unavailable(f'{what}.handle.pointer: {exc}') from None
    if not isinstance(pointer, int) or not pointer:
        raise Unavailable(f'{what}.handle.pointer is {pointer!r}')
    return pointer


class _Buffers:
    """
    The Python side of the allocator rmw uses to grow a take buffer.

    Every block is a `bytearray` kept here by address until rmw frees it; a `memoryview` of
    it handed out earlier keeps it alive after that, so no view ever reads freed memory.
    """

    def __init__(self):
        self.blocks = {}
        self.current = None
        self.grown = 0

    def _new(self, size):
        block = bytearray(max(int(size), 1))
        address = ctypes.addressof((ctypes.c_char * len(block)).from_buffer(block))
        self.blocks[address] = block
        self.current = memoryview(block)
        return address

    def allocate(self, size, state):
        return self._new(size)

    def zero_allocate(self, count, size, state):
        return self._new(count * size)

    def reallocate(self, pointer, size, state):
        old = self.blocks.pop(pointer, None) if pointer else None
        address = self._new(size)
        if old is not None:
            n = min(len(old), int(size))
            self.blocks[address][:n] = old[:n]
        self.grown += 1
        return address

    def deallocate(self, pointer, state):
        if pointer:
            self.blocks.pop(pointer, None)

    def allocator(self):
        return Allocator(_ALLOCATE(self.allocate), _DEALLOCATE(self.deallocate),
                         _REALLOCATE(self.reallocate), _ZERO_ALLOCATE(self.zero_allocate),
                         None)


class Taker:
    """
    Take a subscription's messages as CDR bytes into one reused buffer.

    `take()` returns a `memoryview` of the message in the buffer, or None when nothing waits.
    The view shows the bytes of the latest take: the next take overwrites them (or moves to a
    bigger buffer, counted in `grown`; the old one stays alive while a view of it does).
    """

    def __init__(self, library, subscription, capacity=INITIAL_CAPACITY):
        self.subscription = subscription  # kept alive while its pointer is used
        pointer = _pointer(subscription, 'subscription')
        if not library.subscription_is_valid(pointer):
            library._reset_error()
            raise Unavailable('rcl_subscription_is_valid() is false')
        self._library = library
        self._buffers = _Buffers()
        self._message = SerializedMessage()
        self._message.allocator = self._buffers.allocator()
        self._message.buffer = self._buffers.allocate(capacity, None)
        self._message.buffer_length = 0
        self._message.buffer_capacity = capacity
        self._info = (ctypes.c_uint8 * MESSAGE_INFO_SIZE)()
        self._take = library.take
        self._args = (pointer, ctypes.byref(self._message), ctypes.byref(self._info), None)

    @property
    def grown(self):
        """How many times rmw had to grow the buffer for a larger message."""
        return self._buffers.grown

    @property
    def capacity(self):
        return self._message.buffer_capacity

    def take(self):
        code = self._take(*self._args)
        if code == RCL_RET_OK:
            return self._buffers.current[:self._message.buffer_length]
        if code == RCL_RET_SUBSCRIPTION_TAKE_FAILED:
            return None
        raise self._library.error('rcl_take_serialized_message', code)


class RawPublisher:
    """
    Publish the CDR bytes in `raw` (a bytearray the caller rewrites in place) without copies.

    `raw` must keep its size: the serialized message points at its memory.
    """

    def __init__(self, library, publisher, raw):
        self.publisher = publisher  # kept alive while its pointer is used
        pointer = _pointer(publisher, 'publisher')
        if not library.publisher_is_valid(pointer):
            library._reset_error()
            raise Unavailable('rcl_publisher_is_valid() is false')
        self._library = library
        self.raw = raw
        self._array = (ctypes.c_char * len(raw)).from_buffer(raw)
        # rmw never resizes a message it publishes; the allocator is there to be valid.
        self._buffers = _Buffers()
        self._message = SerializedMessage()
        self._message.allocator = self._buffers.allocator()
        self._message.buffer = ctypes.addressof(self._array)
        self._message.buffer_length = len(raw)
        self._message.buffer_capacity = len(raw)
        self._publish = library.publish
        self._args = (pointer, ctypes.byref(self._message), None)

    def publish(self):
        code = self._publish(*self._args)
        if code != RCL_RET_OK:
            raise self._library.error('rcl_publish_serialized_message', code)
