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

// The C floor of `bench --node`: the transport work of the node's tick and nothing else.
//
// A 1 kHz (argv[1] Hz) clock_nanosleep(TIMER_ABSTIME) loop on the installed rcl:
// rcl_take_serialized_message on /imu and /joint_states until each is empty, 7 doubles read
// from the newest CDR of each (Imu linear_acceleration x y z and angular_velocity z, walked past
// the header's frame_id; JointState position[2], velocity[0], effort[0], walked past the string
// sequence `name`), copied into a pre-serialized std_msgs/Float64MultiArray that is published
// with rcl_publish_serialized_message on /arena_eval/results. SIGINT/SIGTERM stop it; it prints
// its tick and overrun counts on exit. tools/cfloor.py compiles it at bench time.

#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

#define N_OUT 7
#define ORIGIN 4  // CDR alignment counts from the end of the encapsulation header

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int signum)
{
  (void)signum;
  stop_requested = 1;
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

// Header: stamp (int32 sec, uint32 nanosec), frame_id.
static size_t skip_header(const uint8_t * buf, size_t pos)
{
  return skip_string(buf, pos + 8);
}

// Imu: header, orientation (4), covariance (9), angular_velocity (3), covariance (9),
// linear_acceleration (3), covariance (9). out[0..2] = linear_acceleration, out[3] = ang. vel. z
static int read_imu(const uint8_t * buf, size_t len, double * out)
{
  size_t pos = align(skip_header(buf, ORIGIN), 8);
  size_t angular = pos + 8 * (4 + 9);
  size_t linear = angular + 8 * (3 + 9);
  if (linear + 24 > len) {
    return -1;
  }
  out[0] = f64_at(buf, linear);
  out[1] = f64_at(buf, linear + 8);
  out[2] = f64_at(buf, linear + 16);
  out[3] = f64_at(buf, angular + 16);
  return 0;
}

// A sequence<double>: its element `index` into *value (nan when too short); returns the end.
static size_t read_doubles(const uint8_t * buf, size_t len, size_t pos, uint32_t index,
  double * value)
{
  pos = align(pos, 4);
  if (pos + 4 > len) {
    return len + 1;
  }
  uint32_t n = u32_at(buf, pos);
  pos += 4;
  if (n) {
    pos = align(pos, 8);
  }
  *value = (index < n && pos + 8 * (size_t)n <= len) ? f64_at(buf, pos + 8 * index) : NAN;
  return pos + 8 * (size_t)n;
}

// JointState: header, name (sequence<string>), position, velocity, effort.
static int read_joints(const uint8_t * buf, size_t len, double * out)
{
  size_t pos = align(skip_header(buf, ORIGIN), 4);
  uint32_t names = u32_at(buf, pos);
  pos += 4;
  for (uint32_t i = 0; i < names && pos < len; ++i) {
    pos = skip_string(buf, pos);
  }
  pos = read_doubles(buf, len, pos, 2, &out[0]);
  pos = read_doubles(buf, len, pos, 0, &out[1]);
  pos = read_doubles(buf, len, pos, 0, &out[2]);
  return pos <= len ? 0 : -1;
}

// Float64MultiArray with one dimension labelled "c0,...,c6": returns the size, and the offset
// of the first of the N_OUT doubles in *data_at.
static size_t results_template(uint8_t * buf, size_t * data_at)
{
  static const char label[] = "c0,c1,c2,c3,c4,c5,c6";
  size_t pos = 0;
  const uint8_t head[4] = {0, 1, 0, 0};
  memcpy(buf, head, 4);
  pos = 4;
  uint32_t v = 1;  // layout.dim: one MultiArrayDimension
  memcpy(buf + pos, &v, 4);
  pos += 4;
  v = sizeof(label);
  memcpy(buf + pos, &v, 4);
  pos += 4;
  memcpy(buf + pos, label, sizeof(label));
  pos = align(pos + sizeof(label), 4);
  v = N_OUT;
  memcpy(buf + pos, &v, 4);  // size
  memcpy(buf + pos + 4, &v, 4);  // stride
  v = 0;
  memcpy(buf + pos + 8, &v, 4);  // layout.data_offset
  pos += 12;
  v = N_OUT;
  memcpy(buf + pos, &v, 4);  // data: sequence<double>
  pos = align(pos + 4, 8);
  memset(buf + pos, 0, 8 * N_OUT);
  *data_at = pos;
  return pos + 8 * N_OUT;
}

static int check(rcl_ret_t ret, const char * what)
{
  if (ret != RCL_RET_OK) {
    fprintf(stderr, "cfloor: %s failed: %s\n", what, rcutils_get_error_string().str);
    return 1;
  }
  return 0;
}

// Take every waiting message; return 1 when at least one arrived (the newest is in msg).
static int take_all(rcl_subscription_t * sub, rcl_serialized_message_t * msg,
  rmw_message_info_t * info, long * taken)
{
  int got = 0;
  while (rcl_take_serialized_message(sub, msg, info, NULL) == RCL_RET_OK) {
    got = 1;
    ++*taken;
  }
  rcutils_reset_error();
  return got;
}

int main(int argc, char ** argv)
{
  double rate_hz = argc > 1 ? atof(argv[1]) : 1000.0;
  if (!(rate_hz > 0.0)) {
    fprintf(stderr, "usage: cfloor [RATE_HZ]\n");
    return 2;
  }
  struct sigaction action;
  memset(&action, 0, sizeof(action));
  action.sa_handler = on_signal;
  sigaction(SIGINT, &action, NULL);
  sigaction(SIGTERM, &action, NULL);
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // as the node's tick thread

  rcl_allocator_t allocator = rcl_get_default_allocator();
  rcl_init_options_t init_options = rcl_get_zero_initialized_init_options();
  rcl_context_t context = rcl_get_zero_initialized_context();
  rcl_node_t node = rcl_get_zero_initialized_node();
  rcl_node_options_t node_options = rcl_node_get_default_options();
  if (check(rcl_init_options_init(&init_options, allocator), "rcl_init_options_init") ||
    check(rcl_init(0, NULL, &init_options, &context), "rcl_init") ||
    check(rcl_node_init(&node, "arena_eval_cfloor", "", &context, &node_options),
    "rcl_node_init"))
  {
    return 1;
  }
  rcl_subscription_t imu = rcl_get_zero_initialized_subscription();
  rcl_subscription_t joints = rcl_get_zero_initialized_subscription();
  rcl_publisher_t results = rcl_get_zero_initialized_publisher();
  rcl_subscription_options_t sub_options = rcl_subscription_get_default_options();
  sub_options.qos = rmw_qos_profile_sensor_data;  // as the node's inputs: best effort, depth 5
  rcl_publisher_options_t pub_options = rcl_publisher_get_default_options();
  if (check(rcl_subscription_init(&imu, &node,
    rosidl_typesupport_c__get_message_type_support_handle__sensor_msgs__msg__Imu(),
    "/imu", &sub_options), "subscription /imu") ||
    check(rcl_subscription_init(&joints, &node,
    rosidl_typesupport_c__get_message_type_support_handle__sensor_msgs__msg__JointState(),
    "/joint_states", &sub_options), "subscription /joint_states") ||
    check(rcl_publisher_init(&results, &node,
    rosidl_typesupport_c__get_message_type_support_handle__std_msgs__msg__Float64MultiArray(),
    "/arena_eval/results", &pub_options), "publisher /arena_eval/results"))
  {
    return 1;
  }

  rcl_serialized_message_t imu_msg = rmw_get_zero_initialized_serialized_message();
  rcl_serialized_message_t joints_msg = rmw_get_zero_initialized_serialized_message();
  rcutils_allocator_t byte_allocator = rcutils_get_default_allocator();
  if (check(rmw_serialized_message_init(&imu_msg, 4096, &byte_allocator), "buffer") ||
    check(rmw_serialized_message_init(&joints_msg, 4096, &byte_allocator), "buffer"))
  {
    return 1;
  }
  rmw_message_info_t info = rmw_get_zero_initialized_message_info();
  uint8_t out_bytes[256];
  size_t data_at = 0;
  rcl_serialized_message_t out = rmw_get_zero_initialized_serialized_message();
  out.buffer = out_bytes;
  out.buffer_length = results_template(out_bytes, &data_at);
  out.buffer_capacity = sizeof(out_bytes);
  out.allocator = byte_allocator;

  double values[N_OUT];
  for (int i = 0; i < N_OUT; ++i) {
    values[i] = NAN;
  }
  const long period = (long)(1e9 / rate_hz + 0.5);
  long ticks = 0, overruns = 0, taken = 0;
  struct timespec deadline, now;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  int status = 0;
  while (!stop_requested) {
    deadline.tv_nsec += period;
    while (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_nsec -= 1000000000L;
      ++deadline.tv_sec;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR) {
      if (stop_requested) {
        break;
      }
    }
    if (stop_requested) {
      break;
    }
    if (take_all(&imu, &imu_msg, &info, &taken)) {
      read_imu(imu_msg.buffer, imu_msg.buffer_length, values);
    }
    if (take_all(&joints, &joints_msg, &info, &taken)) {
      read_joints(joints_msg.buffer, joints_msg.buffer_length, values + 4);
    }
    memcpy(out_bytes + data_at, values, sizeof(values));
    if (!rcl_context_is_valid(&context) ||
      check(rcl_publish_serialized_message(&results, &out, NULL), "publish"))
    {
      status = 1;
      break;
    }
    ++ticks;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long late = (now.tv_sec - deadline.tv_sec) * 1000000000L + (now.tv_nsec - deadline.tv_nsec);
    if (late > period) {  // overrun: realign, never a burst of catch-up ticks
      ++overruns;
      deadline = now;
    }
  }
  printf("cfloor: %ld ticks, %ld overruns, %ld messages taken\n", ticks, overruns, taken);
  // Errors while finishing change nothing: the process ends here.
  (void)!rmw_serialized_message_fini(&imu_msg);
  (void)!rmw_serialized_message_fini(&joints_msg);
  (void)!rcl_publisher_fini(&results, &node);
  (void)!rcl_subscription_fini(&imu, &node);
  (void)!rcl_subscription_fini(&joints, &node);
  (void)!rcl_node_fini(&node);
  (void)!rcl_shutdown(&context);
  (void)!rcl_context_fini(&context);
  (void)!rcl_init_options_fini(&init_options);
  return status;
}
