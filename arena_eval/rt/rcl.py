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
The rclpy entities' rcl pointers, for the compiled loop, and the loop's rcl errors.

The compiled loop (`compiled_tick.py`) calls rcl by address (`engine/native.py` holds the rcl
constants, the serialized-message struct layout and the entry points: the one rcl layer). What
it needs from rclpy is each entity's `rcl_subscription_t *` / `rcl_publisher_t *`: only the
entities' `handle.pointer` is used (rclpy of Jazzy and Kilted both have it). The caller keeps
the rclpy entity alive while a loop uses its pointer.
"""

LIBRARY = 'librcl.so'


class Unavailable(RuntimeError):
    """An entity has no rcl pointer here (the reason is the message)."""


class RclError(RuntimeError):
    """An rcl call failed at run time (a bug or a shut-down context, as in rclpy)."""


def entity_pointer(entity, what):
    """Return the rcl pointer behind an rclpy `entity` (`what` names it in the error)."""
    try:
        pointer = entity.handle.pointer
    except Exception as exc:  # noqa: B902 - another rclpy, or a destroyed entity
        raise Unavailable(f'{what}.handle.pointer: {exc}') from None
    if not isinstance(pointer, int) or not pointer:
        raise Unavailable(f'{what}.handle.pointer is {pointer!r}')
    return pointer
