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

// The C floor of `bench --node` and `bench --latency`: the transport work of the node's tick and
// nothing else, on the installed rcl.
//
//   cfloor [RATE_HZ]                      periodic (default 1000 Hz)
//   cfloor --trigger imu [--wake wait|callback] [--max-period SECONDS]
//   options of both: --reliable (inputs reliable instead of best effort), --depth N (the inputs'
//   queue, default 5; the results publisher keeps at least as many)
//
// An evaluation takes from /imu and /joint_states, reads 7 doubles from the newest CDR of each
// (Imu linear_acceleration x y z and angular_velocity z, walked past the header's frame_id;
// JointState position[2], velocity[0], effort[0], walked past the string sequence `name`), plus
// the Imu's header stamp (seconds) and `updated` (1 when the evaluation took a new message of
// the trigger input, /imu when periodic), copies them into a pre-serialized
// std_msgs/Float64MultiArray labelled "c0,...,c6,stamp,updated" and publishes it with
// rcl_publish_serialized_message on /arena_eval/results.
//
// Periodic: a clock_nanosleep(TIMER_ABSTIME) loop, taking every input until empty each tick.
// Triggered: one evaluation per message taken from the trigger input, the other input at its
// newest message; when the trigger input is silent for --max-period (default 0.1 s), a fallback
// evaluation publishes the stale values (updated 0) so a consumer still sees results. The wake
// comes from (--wake):
//   wait      the main thread blocks in rcl_wait on a wait set of the trigger subscription,
//             with the fallback deadline as timeout (the default: see docs/benchmarks.md);
//   callback  rcl_subscription_set_on_new_message_callback: the evaluation runs in the rmw's
//             receive thread, which must never block, so the main thread's fallback and the
//             callback share the evaluation through a try-lock that hands work over instead of
//             waiting (serve()).
// SIGINT/SIGTERM stop it; it prints its counts on exit. tools/cfloor.py compiles it.

#include "rclkit.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/prctl.h>

#define N_OUT 9
#define STAMP 7
#define UPDATED 8
#define IMU 0
#define JOINTS 1
#define WAIT_SLICE_NS 50000000LL  // rcl_wait is not interrupted by signals: wake to check stop

// Imu: header, orientation (4), covariance (9), angular_velocity (3), covariance (9),
// linear_acceleration (3), covariance (9). out[0..2] = linear_acceleration, out[3] = ang. vel. z
static int read_imu(const uint8_t * buf, size_t len, double * out)
{
  size_t pos = align(skip_string(buf, ORIGIN + 8), 8);
  size_t angular = pos + 8 * (4 + 9);
  size_t linear = angular + 8 * (3 + 9);
  if (linear + 24 > len) {
    return -1;
  }
  out[0] = f64_at(buf, linear);
  out[1] = f64_at(buf, linear + 8);
  out[2] = f64_at(buf, linear + 16);
  out[3] = f64_at(buf, angular + 16);
  out[STAMP] = header_stamp(buf, len);
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

// JointState: header, name (sequence<string>), position, velocity, effort. Into out[4..6].
static int read_joints(const uint8_t * buf, size_t len, double * out)
{
  size_t pos = align(skip_string(buf, ORIGIN + 8), 4);
  uint32_t names = u32_at(buf, pos);
  pos += 4;
  for (uint32_t i = 0; i < names && pos < len; ++i) {
    pos = skip_string(buf, pos);
  }
  pos = read_doubles(buf, len, pos, 2, &out[4]);
  pos = read_doubles(buf, len, pos, 0, &out[5]);
  pos = read_doubles(buf, len, pos, 0, &out[6]);
  return pos <= len ? 0 : -1;
}

typedef struct
{
  rcl_subscription_t subs[2];  // IMU, JOINTS
  rcl_serialized_message_t msgs[2];
  rcl_publisher_t results;
  rcl_context_t * context;
  uint8_t out_bytes[256];
  size_t data_at;
  rcl_serialized_message_t out;
  double values[N_OUT];
  int trigger;  // IMU or JOINTS; -1 periodic
  int64_t max_period_ns;
  // Written only by whoever evaluates (the loop thread, or the holder of `busy`).
  long evaluations, on_message, fallbacks, overruns, taken, publish_errors;
  // Callback mode: read by the fallback thread outside `busy`.
  _Atomic int64_t last_eval_ns;
  atomic_flag busy;  // held by the thread evaluating now
  atomic_long requests;  // work asked for while `busy` was held: its holder does it
  atomic_int fallback_wanted;
} floor_t;

static void read_input(floor_t * f, int which)
{
  rcl_serialized_message_t * m = &f->msgs[which];
  if (which == IMU) {
    read_imu(m->buffer, m->buffer_length, f->values);
  } else {
    read_joints(m->buffer, m->buffer_length, f->values);
  }
}

// Take every waiting message of an input; read the newest. Returns 1 when one arrived.
static int take_newest(floor_t * f, int which)
{
  rmw_message_info_t info = rmw_get_zero_initialized_message_info();
  int got = 0;
  while (rcl_take_serialized_message(&f->subs[which], &f->msgs[which], &info, NULL) ==
    RCL_RET_OK)
  {
    got = 1;
    ++f->taken;
  }
  rcutils_reset_error();
  if (got) {
    read_input(f, which);
  }
  return got;
}

static void publish(floor_t * f, int updated)
{
  f->values[UPDATED] = updated;
  memcpy(f->out_bytes + f->data_at, f->values, sizeof(f->values));
  if (!rcl_context_is_valid(f->context) ||
    rcl_publish_serialized_message(&f->results, &f->out, NULL) != RCL_RET_OK)
  {
    ++f->publish_errors;
    rcutils_reset_error();
  }
  ++f->evaluations;
  atomic_store(&f->last_eval_ns, now_ns());
}

// Triggered: one evaluation per message taken from the trigger input; returns how many.
static long evaluate_trigger_messages(floor_t * f)
{
  rmw_message_info_t info = rmw_get_zero_initialized_message_info();
  int other = f->trigger == IMU ? JOINTS : IMU;
  long n = 0;
  while (rcl_take_serialized_message(&f->subs[f->trigger], &f->msgs[f->trigger], &info,
    NULL) == RCL_RET_OK)
  {
    ++f->taken;
    read_input(f, f->trigger);
    take_newest(f, other);
    publish(f, 1);
    ++f->on_message;
    ++n;
  }
  rcutils_reset_error();
  return n;
}

static void evaluate_fallback(floor_t * f)
{
  take_newest(f, f->trigger == IMU ? JOINTS : IMU);
  publish(f, 0);
  ++f->fallbacks;
}

static void run_periodic(floor_t * f, double rate_hz)
{
  const int64_t period = (int64_t)(1e9 / rate_hz + 0.5);
  int64_t deadline = now_ns();
  while (!stop_requested) {
    deadline += period;
    struct timespec at = to_timespec(deadline);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
      if (stop_requested) {
        return;
      }
    }
    int updated = take_newest(f, IMU);
    take_newest(f, JOINTS);
    publish(f, updated);
    int64_t now = now_ns();
    if (now - deadline > period) {  // overrun: realign, never a burst of catch-up ticks
      ++f->overruns;
      deadline = now;
    }
  }
}

// --wake wait: block in rcl_wait on the trigger subscription until the fallback deadline.
static int run_wait(floor_t * f)
{
  rcl_wait_set_t ws = rcl_get_zero_initialized_wait_set();
  if (check(rcl_wait_set_init(&ws, 1, 0, 0, 0, 0, 0, f->context, rcl_get_default_allocator()),
    "rcl_wait_set_init"))
  {
    return 1;
  }
  atomic_store(&f->last_eval_ns, now_ns());
  int status = 0;
  while (!stop_requested) {
    int64_t left = atomic_load(&f->last_eval_ns) + f->max_period_ns - now_ns();
    if (left <= 0) {
      evaluate_fallback(f);
      continue;
    }
    if (check(rcl_wait_set_clear(&ws), "rcl_wait_set_clear") ||
      check(rcl_wait_set_add_subscription(&ws, &f->subs[f->trigger], NULL), "wait set add"))
    {
      status = 1;
      break;
    }
    rcl_ret_t ret = rcl_wait(&ws, left < WAIT_SLICE_NS ? left : WAIT_SLICE_NS);
    if (ret == RCL_RET_TIMEOUT) {
      rcutils_reset_error();
      continue;  // the deadline is checked at the top
    }
    if (check(ret, "rcl_wait")) {
      status = 1;
      break;
    }
    if (ws.subscriptions[0]) {
      evaluate_trigger_messages(f);
    }
  }
  (void)!rcl_wait_set_fini(&ws);
  return status;
}

// Callback mode: whoever gets `busy` evaluates what was asked; whoever does not leaves its
// request in `requests` for the holder, who looks again after letting go. Never waits.
static void serve(floor_t * f)
{
  atomic_fetch_add(&f->requests, 1);
  while (!atomic_flag_test_and_set(&f->busy)) {
    atomic_store(&f->requests, 0);
    long n = evaluate_trigger_messages(f);
    if (atomic_exchange(&f->fallback_wanted, 0) && n == 0 &&
      now_ns() - atomic_load(&f->last_eval_ns) >= f->max_period_ns)
    {
      evaluate_fallback(f);
    }
    atomic_flag_clear(&f->busy);
    if (atomic_load(&f->requests) == 0) {
      break;
    }
  }
}

// Runs in the rmw's receive thread.
static void on_new_message(const void * user_data, size_t number_of_events)
{
  (void)number_of_events;  // every waiting message is taken, however many
  serve((floor_t *)user_data);
}

// --wake callback: evaluations in the callback; this thread sleeps to the fallback deadline.
static int run_callback(floor_t * f)
{
  atomic_store(&f->last_eval_ns, now_ns());
  if (check(rcl_subscription_set_on_new_message_callback(&f->subs[f->trigger], on_new_message,
    f), "rcl_subscription_set_on_new_message_callback"))
  {
    return 1;
  }
  while (!stop_requested) {
    int64_t deadline = atomic_load(&f->last_eval_ns) + f->max_period_ns;
    int64_t now = now_ns();
    if (deadline <= now) {
      atomic_store(&f->fallback_wanted, 1);
      serve(f);
      // Busy elsewhere: that evaluation moved the deadline, or the holder does the fallback.
      continue;
    }
    struct timespec at = to_timespec(deadline - now < WAIT_SLICE_NS ? deadline :
        now + WAIT_SLICE_NS);
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
  }
  // No callback may run once the subscription is finished.
  (void)!rcl_subscription_set_on_new_message_callback(&f->subs[f->trigger], NULL, NULL);
  while (atomic_flag_test_and_set(&f->busy)) {
    struct timespec pause = {0, 100000};
    nanosleep(&pause, NULL);
  }
  return 0;
}

typedef struct
{
  double rate_hz, max_period;
  int trigger, callback, reliable, depth;
} options_t;

static int parse_options(int argc, char ** argv, options_t * o)
{
  *o = (options_t){1000.0, 0.1, -1, 0, 0, 5};
  for (int i = 1; i < argc; ++i) {
    const char * a = argv[i];
    const char * v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--trigger") && v) {
      o->trigger = !strcmp(v, "imu") ? IMU : !strcmp(v, "joints") ? JOINTS : -2;
    } else if (!strcmp(a, "--wake") && v) {
      o->callback = !strcmp(v, "callback") ? 1 : !strcmp(v, "wait") ? 0 : -1;
    } else if (!strcmp(a, "--max-period") && v) {
      o->max_period = atof(v);
    } else if (!strcmp(a, "--depth") && v) {
      o->depth = atoi(v);
    } else if (!strcmp(a, "--reliable")) {
      o->reliable = 1;
      continue;
    } else if (a[0] != '-' && i == 1) {
      o->rate_hz = atof(a);
      continue;
    } else {
      return -1;
    }
    ++i;
  }
  return (o->rate_hz > 0.0 && o->max_period > 0.0 && o->trigger != -2 && o->callback >= 0 &&
         o->depth > 0) ? 0 : -1;
}

static int open_entities(floor_t * f, session_t * s, const options_t * o)
{
  rcl_subscription_options_t sub_options = rcl_subscription_get_default_options();
  sub_options.qos = rmw_qos_profile_sensor_data;  // as the node's inputs: best effort, depth 5
  if (o->reliable) {
    sub_options.qos.reliability = RMW_QOS_POLICY_RELIABILITY_RELIABLE;
  }
  sub_options.qos.depth = (size_t)o->depth;
  rcl_publisher_options_t pub_options = rcl_publisher_get_default_options();
  if (pub_options.qos.depth < (size_t)o->depth) {
    pub_options.qos.depth = (size_t)o->depth;  // a reliable reader of every result can keep up
  }
  for (int i = 0; i < 2; ++i) {
    f->subs[i] = rcl_get_zero_initialized_subscription();
  }
  f->results = rcl_get_zero_initialized_publisher();
  return check(rcl_subscription_init(&f->subs[IMU], &s->node,
           rosidl_typesupport_c__get_message_type_support_handle__sensor_msgs__msg__Imu(),
           "/imu", &sub_options), "subscription /imu") ||
         check(rcl_subscription_init(&f->subs[JOINTS], &s->node,
           rosidl_typesupport_c__get_message_type_support_handle__sensor_msgs__msg__JointState(),
           "/joint_states", &sub_options), "subscription /joint_states") ||
         check(rcl_publisher_init(&f->results, &s->node,
           rosidl_typesupport_c__get_message_type_support_handle__std_msgs__msg__Float64MultiArray(),
           RESULTS_TOPIC, &pub_options), "publisher " RESULTS_TOPIC) ||
         byte_buffer(&f->msgs[IMU], 4096) || byte_buffer(&f->msgs[JOINTS], 4096);
}

int main(int argc, char ** argv)
{
  options_t o;
  if (parse_options(argc, argv, &o)) {
    fprintf(stderr, "usage: cfloor [RATE_HZ] | cfloor --trigger imu|joints "
      "[--wake wait|callback] [--max-period SECONDS]; [--reliable] [--depth N]\n");
    return 2;
  }
  install_stop_handlers();
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);  // as the node's tick thread

  static floor_t f;  // static: its address is the callback's user data for the whole run
  atomic_flag_clear(&f.busy);
  session_t s;
  if (session_init(&s, "arena_eval_cfloor") || open_entities(&f, &s, &o)) {
    return 1;
  }
  f.context = &s.context;
  f.trigger = o.trigger;
  f.max_period_ns = (int64_t)(o.max_period * 1e9);
  f.out = rmw_get_zero_initialized_serialized_message();
  f.out.buffer = f.out_bytes;
  f.out.buffer_length = results_template(f.out_bytes, "c0,c1,c2,c3,c4,c5,c6,stamp,updated",
      N_OUT, &f.data_at);
  f.out.buffer_capacity = sizeof(f.out_bytes);
  f.out.allocator = rcutils_get_default_allocator();
  for (int i = 0; i < N_OUT; ++i) {
    f.values[i] = NAN;
  }

  int status = 0;
  if (o.trigger < 0) {
    run_periodic(&f, o.rate_hz);
    printf("cfloor: %ld ticks, %ld overruns, %ld messages taken\n", f.evaluations,
      f.overruns, f.taken);
  } else {
    status = o.callback ? run_callback(&f) : run_wait(&f);
    printf("cfloor: %ld evaluations (%ld on trigger messages, %ld fallback), "
      "%ld messages taken, wake %s\n", f.evaluations, f.on_message, f.fallbacks, f.taken,
      o.callback ? "callback" : "wait");
  }
  if (f.publish_errors) {
    fprintf(stderr, "cfloor: %ld publishes failed\n", f.publish_errors);
    status = status ? status : (stop_requested ? 0 : 1);
  }
  (void)!rmw_serialized_message_fini(&f.msgs[IMU]);
  (void)!rmw_serialized_message_fini(&f.msgs[JOINTS]);
  (void)!rcl_publisher_fini(&f.results, &s.node);
  (void)!rcl_subscription_fini(&f.subs[IMU], &s.node);
  (void)!rcl_subscription_fini(&f.subs[JOINTS], &s.node);
  session_fini(&s);
  return status;
}
