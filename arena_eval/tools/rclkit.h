// Copyright 2026 The arena_eval Authors
//
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
//     http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.

// What the benchmarks' C programs share (cfloor.c, latprobe.c): reading CDR at offsets, the
// Float64MultiArray results message, the rcl session (context + node) and a stop flag set by
// SIGINT/SIGTERM. Header-only (static functions): each program is one translation unit that
// tools/cfloor.py compiles at bench time.

#ifndef ARENA_EVAL__RCLKIT_H_
#define ARENA_EVAL__RCLKIT_H_

#define _GNU_SOURCE
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rcl/rcl.h>
#include <rcutils/allocator.h>
#include <rmw/qos_profiles.h>

const rosidl_message_type_support_t *
rosidl_typesupport_c__get_message_type_support_handle__sensor_msgs__msg__Imu(void);
const rosidl_message_type_support_t *
rosidl_typesupport_c__get_message_type_support_handle__sensor_msgs__msg__JointState(void);
const rosidl_message_type_support_t *
rosidl_typesupport_c__get_message_type_support_handle__std_msgs__msg__Float64MultiArray(void);

#define ORIGIN 4  // CDR alignment counts from the end of the encapsulation header
#define RESULTS_TOPIC "/arena_eval/results"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int signum)
{
  (void)signum;
  stop_requested = 1;
}

static void install_stop_handlers(void)
{
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = on_signal;
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGTERM, &action, NULL);
}

static int64_t now_ns(void)
{
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec;
}

static struct timespec to_timespec(int64_t ns)
{
  struct timespec t = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
  return t;
}

static size_t align(size_t pos, size_t a)
{
  return ORIGIN + ((pos - ORIGIN + a - 1) & ~(a - 1));
}

static uint32_t u32_at(const uint8_t * buf, size_t pos)
{
  uint32_t v;
  memcpy(&v, buf + pos, 4);
  return v;
}

static double f64_at(const uint8_t * buf, size_t pos)
{
  double v;
  memcpy(&v, buf + pos, 8);
  return v;
}

static size_t skip_string(const uint8_t * buf, size_t pos)
{
  pos = align(pos, 4);
  return pos + 4 + u32_at(buf, pos);
}

// A header's stamp (int32 sec, uint32 nanosec at the start of the message) in seconds.
static double header_stamp(const uint8_t * buf, size_t len)
{
  if (len < ORIGIN + 8) {
    return NAN;
  }
  int32_t sec;
  memcpy(&sec, buf + ORIGIN, 4);
  return (double)sec + 1e-9 * (double)u32_at(buf, ORIGIN + 4);
}

// A Float64MultiArray whose first dimension's label is the comma-joined output names (as the
// node publishes ~/results): the value of output `name`, nan when absent or short.
static double results_value(const uint8_t * buf, size_t len, const char * name)
{
  size_t want = strlen(name);
  if (len < ORIGIN + 8 || u32_at(buf, ORIGIN) == 0) {
    return NAN;
  }
  size_t pos = ORIGIN + 4;
  uint32_t label_len = u32_at(buf, pos);
  const char * label = (const char *)buf + pos + 4;
  if (pos + 4 + label_len > len || label_len == 0) {
    return NAN;
  }
  long index = -1, k = 0;
  for (const char * at = label; at < label + label_len - 1; ++k) {
    const char * comma = memchr(at, ',', (size_t)(label + label_len - 1 - at));
    size_t n = comma ? (size_t)(comma - at) : (size_t)(label + label_len - 1 - at);
    if (n == want && memcmp(at, name, n) == 0) {
      index = k;
      break;
    }
    if (!comma) {
      break;
    }
    at = comma + 1;
  }
  if (index < 0) {
    return NAN;
  }
  uint32_t dims = u32_at(buf, ORIGIN);
  for (uint32_t i = 0; i < dims && pos < len; ++i) {
    pos = align(skip_string(buf, pos), 4) + 8;  // label, size, stride
  }
  pos = align(pos, 4) + 4;  // data_offset
  if (pos + 4 > len) {
    return NAN;
  }
  uint32_t n = u32_at(buf, pos);
  pos = align(pos + 4, 8);
  return ((uint32_t)index < n && pos + 8 * (size_t)n <= len) ? f64_at(buf, pos + 8 * index) :
         NAN;
}

// Float64MultiArray with one dimension labelled `label` and `count` doubles: returns the size,
// and the offset of the first double in *data_at. `buf` must hold 64 + strlen(label) + 8 * count.
static size_t results_template(uint8_t * buf, const char * label, uint32_t count,
  size_t * data_at)
{
  const uint8_t head[4] = {0, 1, 0, 0};
  memcpy(buf, head, 4);
  size_t pos = 4;
  uint32_t v = 1;  // layout.dim: one MultiArrayDimension
  memcpy(buf + pos, &v, 4);
  pos += 4;
  v = (uint32_t)strlen(label) + 1;
  memcpy(buf + pos, &v, 4);
  memcpy(buf + pos + 4, label, v);
  pos = align(pos + 4 + v, 4);
  memcpy(buf + pos, &count, 4);  // size
  memcpy(buf + pos + 4, &count, 4);  // stride
  v = 0;
  memcpy(buf + pos + 8, &v, 4);  // layout.data_offset
  pos += 12;
  memcpy(buf + pos, &count, 4);  // data: sequence<double>
  pos = align(pos + 4, 8);
  memset(buf + pos, 0, 8 * (size_t)count);
  *data_at = pos;
  return pos + 8 * (size_t)count;
}

static int check(rcl_ret_t ret, const char * what)
{
  if (ret != RCL_RET_OK) {
    fprintf(stderr, "%s failed: %s\n", what, rcutils_get_error_string().str);
    return 1;
  }
  return 0;
}

typedef struct
{
  rcl_init_options_t init_options;
  rcl_context_t context;
  rcl_node_t node;
} session_t;

static int session_init(session_t * s, const char * node_name)
{
  rcl_allocator_t allocator = rcl_get_default_allocator();
  s->init_options = rcl_get_zero_initialized_init_options();
  s->context = rcl_get_zero_initialized_context();
  s->node = rcl_get_zero_initialized_node();
  rcl_node_options_t node_options = rcl_node_get_default_options();
  return check(rcl_init_options_init(&s->init_options, allocator), "rcl_init_options_init") ||
         check(rcl_init(0, NULL, &s->init_options, &s->context), "rcl_init") ||
         check(rcl_node_init(&s->node, node_name, "", &s->context, &node_options),
         "rcl_node_init");
}

// Errors while finishing change nothing: the process ends after this.
static void session_fini(session_t * s)
{
  (void)!rcl_node_fini(&s->node);
  (void)!rcl_shutdown(&s->context);
  (void)!rcl_context_fini(&s->context);
  (void)!rcl_init_options_fini(&s->init_options);
}

// A serialized-message buffer of `capacity` bytes; 0 on success.
static int byte_buffer(rcl_serialized_message_t * msg, size_t capacity)
{
  rcutils_allocator_t allocator = rcutils_get_default_allocator();
  *msg = rmw_get_zero_initialized_serialized_message();
  return check(rmw_serialized_message_init(msg, capacity, &allocator), "buffer");
}

#endif  // ARENA_EVAL__RCLKIT_H_
