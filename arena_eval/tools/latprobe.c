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

// The endpoints of `bench --latency`, in C on rcl so they cost as little as they can:
//
//   latprobe RATE_HZ WARMUP SECONDS OUT_FILE [--field NAME] [--cpu-of PID] [--timeout S]
//
// A publisher thread sends sensor_msgs/Imu on /imu at RATE_HZ (clock_nanosleep to absolute
// deadlines, best effort), its header stamp set to CLOCK_MONOTONIC just before
// rcl_publish_serialized_message. The main thread blocks in rcl_wait on /arena_eval/results
// (Float64MultiArray labelled with the output names, as the node publishes it) and reads the
// output NAME (default `sent`): the stamp of the Imu message the result reflects. The first
// result carrying a new stamp is that message's result: receive time - stamp is its latency;
// later results with the same stamp (a periodic subject's ticks between messages, a fallback)
// are counted, never timed. Timing starts WARMUP seconds after the first result and lasts
// SECONDS: the latencies (float64 microseconds) of the messages sent in that window go to
// OUT_FILE, and one line sums it up: messages sent and reflected, and the CPU % of one core of
// this process and of process PID (--cpu-of: the subject, from /proc) over the same window.
// Exits 3 when no result came within --timeout (default 60 s), 130 on SIGINT.

#include "rclkit.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#define SLICE_NS 20000000LL

typedef struct
{
  rcl_publisher_t pub;
  rcl_context_t * context;
  int64_t period_ns;
  // Set once by the main thread when the first result arrives (0 before).
  _Atomic int64_t window_start, window_end;
  atomic_int done;
  // Written by the publisher thread, read after it joined.
  long sent, sent_in_window, publish_errors;
} publisher_t;

// An Imu with frame_id "imu_link", orientation w 1, gravity on z; returns the size.
static size_t imu_template(uint8_t * buf)
{
  const uint8_t head[4] = {0, 1, 0, 0};
  memcpy(buf, head, 4);
  memset(buf + 4, 0, 8);  // stamp, set per message
  static const char frame[] = "imu_link";
  uint32_t n = sizeof(frame);
  memcpy(buf + 12, &n, 4);
  memcpy(buf + 16, frame, n);
  size_t pos = align(16 + n, 8);
  double fields[37] = {0};
  fields[3] = 1.0;  // orientation w
  fields[4 + 9 + 3 + 9 + 2] = 9.81;  // linear_acceleration z
  memcpy(buf + pos, fields, sizeof(fields));
  return pos + sizeof(fields);
}

static void * publish_loop(void * arg)
{
  publisher_t * p = arg;
  uint8_t bytes[512];
  rcl_serialized_message_t msg = rmw_get_zero_initialized_serialized_message();
  msg.buffer = bytes;
  msg.buffer_length = imu_template(bytes);
  msg.buffer_capacity = sizeof(bytes);
  msg.allocator = rcutils_get_default_allocator();
  int64_t deadline = now_ns();
  while (!stop_requested && !atomic_load(&p->done)) {
    deadline += p->period_ns;
    struct timespec at = to_timespec(deadline);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR) {
    }
    int64_t now = now_ns();
    if (now - deadline > p->period_ns) {
      deadline = now;  // late: realign, never a burst
    }
    int32_t sec = (int32_t)(now / 1000000000LL);
    uint32_t nanosec = (uint32_t)(now % 1000000000LL);
    memcpy(bytes + 4, &sec, 4);
    memcpy(bytes + 8, &nanosec, 4);
    if (!rcl_context_is_valid(p->context) ||
      rcl_publish_serialized_message(&p->pub, &msg, NULL) != RCL_RET_OK)
    {
      ++p->publish_errors;
      rcutils_reset_error();
      continue;
    }
    ++p->sent;
    int64_t start = atomic_load(&p->window_start);
    if (start && now >= start && now < atomic_load(&p->window_end)) {
      ++p->sent_in_window;
    }
  }
  return NULL;
}

// CPU seconds (user + system) of process `pid` from /proc, or of this process when pid is 0.
static double cpu_seconds(long pid)
{
  if (pid == 0) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec +
           u.ru_stime.tv_usec);
  }
  char path[64], text[1024];
  snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
  FILE * file = fopen(path, "r");
  if (!file) {
    return NAN;
  }
  size_t n = fread(text, 1, sizeof(text) - 1, file);
  fclose(file);
  text[n] = 0;
  const char * at = strrchr(text, ')');  // the command name may hold spaces
  unsigned long utime = 0, stime = 0;
  if (!at || sscanf(at + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
    &utime, &stime) != 2)
  {
    return NAN;
  }
  return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

typedef struct
{
  const char * field;
  long cpu_of;
  double timeout;
} probe_options_t;

static int parse(int argc, char ** argv, double * rate, double * warmup, double * seconds,
  probe_options_t * o)
{
  *o = (probe_options_t){"sent", -1, 60.0};
  if (argc < 5) {
    return -1;
  }
  *rate = atof(argv[1]);
  *warmup = atof(argv[2]);
  *seconds = atof(argv[3]);
  for (int i = 5; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--field")) {
      o->field = argv[i + 1];
    } else if (!strcmp(argv[i], "--cpu-of")) {
      o->cpu_of = atol(argv[i + 1]);
    } else if (!strcmp(argv[i], "--timeout")) {
      o->timeout = atof(argv[i + 1]);
    } else {
      return -1;
    }
  }
  return (argc % 2 == 1 && *rate > 0 && *warmup >= 0 && *seconds > 0) ? 0 : -1;
}

typedef struct
{
  double * latencies_us;
  long capacity, timed, results, reflected;
  double last_sent;
} tally_t;

// Take every waiting result; time the first one of each new stamp sent inside the window.
static void take_results(rcl_subscription_t * sub, rcl_serialized_message_t * msg,
  const char * field, publisher_t * p, tally_t * t, int64_t * first_at)
{
  rmw_message_info_t info = rmw_get_zero_initialized_message_info();
  while (rcl_take_serialized_message(sub, msg, &info, NULL) == RCL_RET_OK) {
    int64_t now = now_ns();
    double sent = results_value(msg->buffer, msg->buffer_length, field);
    if (!*first_at) {
      *first_at = now;
    }
    ++t->results;
    if (isnan(sent) || sent == t->last_sent) {
      continue;
    }
    t->last_sent = sent;
    ++t->reflected;
    int64_t sent_ns = llround(sent * 1e9);
    int64_t start = atomic_load(&p->window_start);
    if (start && sent_ns >= start && sent_ns < atomic_load(&p->window_end) &&
      t->timed < t->capacity)
    {
      t->latencies_us[t->timed++] = 1e-3 * (double)(now - sent_ns);
    }
  }
  rcutils_reset_error();
}

int main(int argc, char ** argv)
{
  double rate, warmup, seconds;
  probe_options_t o;
  if (parse(argc, argv, &rate, &warmup, &seconds, &o)) {
    fprintf(stderr, "usage: latprobe RATE_HZ WARMUP SECONDS OUT_FILE [--field NAME] "
      "[--cpu-of PID] [--timeout SECONDS]\n");
    return 2;
  }
  install_stop_handlers();
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  static publisher_t p;
  session_t s;
  if (session_init(&s, "arena_eval_latprobe")) {
    return 1;
  }
  p.context = &s.context;
  p.period_ns = (int64_t)(1e9 / rate + 0.5);
  p.pub = rcl_get_zero_initialized_publisher();
  rcl_publisher_options_t pub_options = rcl_publisher_get_default_options();
  pub_options.qos = rmw_qos_profile_sensor_data;
  rcl_subscription_t sub = rcl_get_zero_initialized_subscription();
  rcl_subscription_options_t sub_options = rcl_subscription_get_default_options();
  sub_options.qos = rmw_qos_profile_sensor_data;  // best effort matches every publisher
  sub_options.qos.depth = 100;
  rcl_serialized_message_t msg;
  rcl_wait_set_t ws = rcl_get_zero_initialized_wait_set();
  if (check(rcl_publisher_init(&p.pub, &s.node,
    rosidl_typesupport_c__get_message_type_support_handle__sensor_msgs__msg__Imu(), "/imu",
    &pub_options), "publisher /imu") ||
    check(rcl_subscription_init(&sub, &s.node,
    rosidl_typesupport_c__get_message_type_support_handle__std_msgs__msg__Float64MultiArray(),
    RESULTS_TOPIC, &sub_options), "subscription " RESULTS_TOPIC) ||
    byte_buffer(&msg, 4096) ||
    check(rcl_wait_set_init(&ws, 1, 0, 0, 0, 0, 0, &s.context, rcl_get_default_allocator()),
    "rcl_wait_set_init"))
  {
    return 1;
  }
  tally_t t = {0};
  t.capacity = (long)(rate * seconds * 1.5) + 1000;
  t.latencies_us = calloc((size_t)t.capacity, sizeof(double));
  t.last_sent = NAN;
  pthread_t thread;
  if (!t.latencies_us || pthread_create(&thread, NULL, publish_loop, &p)) {
    fprintf(stderr, "latprobe: cannot start\n");
    return 1;
  }
  int64_t started = now_ns(), first_at = 0, end = 0;
  double cpu0 = NAN, own0 = NAN, cpu1 = NAN, own1 = NAN;
  int status = 0;
  while (!stop_requested) {
    int64_t now = now_ns();
    if (!first_at && now - started > (int64_t)(o.timeout * 1e9)) {
      fprintf(stderr, "latprobe: no result on " RESULTS_TOPIC " within %g s\n", o.timeout);
      status = 3;
      break;
    }
    int64_t start = atomic_load(&p.window_start);
    if (start && isnan(cpu0) && now >= start) {
      cpu0 = cpu_seconds(o.cpu_of), own0 = cpu_seconds(0);
    }
    if (end && isnan(cpu1) && now >= end) {
      cpu1 = cpu_seconds(o.cpu_of), own1 = cpu_seconds(0);
      atomic_store(&p.done, 1);  // then a last moment for the window's last results
    }
    if (end && now >= end + 300000000LL) {
      break;
    }
    int64_t timeout = SLICE_NS;
    if (start && isnan(cpu0) && start - now < timeout) {
      timeout = start - now;
    } else if (end && isnan(cpu1) && end - now < timeout) {
      timeout = end - now;
    }
    if (check(rcl_wait_set_clear(&ws), "rcl_wait_set_clear") ||
      check(rcl_wait_set_add_subscription(&ws, &sub, NULL), "wait set add"))
    {
      status = 1;
      break;
    }
    rcl_ret_t ret = rcl_wait(&ws, timeout > 0 ? timeout : 0);
    rcutils_reset_error();
    if (ret == RCL_RET_OK && ws.subscriptions[0]) {
      take_results(&sub, &msg, o.field, &p, &t, &first_at);
      if (first_at && !end) {
        atomic_store(&p.window_end, first_at + (int64_t)((warmup + seconds) * 1e9));
        atomic_store(&p.window_start, first_at + (int64_t)(warmup * 1e9));
        end = atomic_load(&p.window_end);
      }
    }
  }
  atomic_store(&p.done, 1);
  pthread_join(thread, NULL);
  if (stop_requested && status == 0) {
    status = 130;
  }
  if (status == 0) {
    FILE * out = fopen(argv[4], "wb");
    if (!out || fwrite(t.latencies_us, sizeof(double), (size_t)t.timed, out) !=
      (size_t)t.timed)
    {
      fprintf(stderr, "latprobe: cannot write %s\n", argv[4]);
      status = 1;
    }
    if (out) {
      fclose(out);
    }
    double wall = 1e-9 * (double)(end - atomic_load(&p.window_start));
    printf("latprobe: window %.3f s, sent %ld, timed %ld, results %ld, subject CPU %.2f%%, "
      "probe CPU %.2f%%, publish errors %ld\n", wall, p.sent_in_window, t.timed, t.results,
      100.0 * (cpu1 - cpu0) / wall, 100.0 * (own1 - own0) / wall, p.publish_errors);
  }
  free(t.latencies_us);
  (void)!rcl_wait_set_fini(&ws);
  (void)!rmw_serialized_message_fini(&msg);
  (void)!rcl_subscription_fini(&sub, &s.node);
  (void)!rcl_publisher_fini(&p.pub, &s.node);
  session_fini(&s);
  return status;
}
