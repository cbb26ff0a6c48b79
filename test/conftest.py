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
Test-session setup: a private ROS_DOMAIN_ID, loopback-only DDS, NRT allocation counting.

Every test run gets its own ROS_DOMAIN_ID so concurrent runs on one machine never hear each other,
and every test is checked for processes it left running.

Hypothesis runs derandomized by default, so `make test` checks the same fixed cases every run and
CI cannot fail on a case no change caused; `make fuzz` (ARENA_EVAL_HYPOTHESIS=fuzz) draws fresh
ones.
"""

import os
import random

# Before anything imports numba: allocation counters must be on for the zero-allocation tests.
os.environ.setdefault('NUMBA_NRT_STATS', '1')
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
os.environ['ROS_DOMAIN_ID'] = os.environ.get('ARENA_EVAL_TEST_DOMAIN_ID',
                                             str(random.randint(1, 100)))

from hypothesis import settings  # noqa: E402
import psutil  # noqa: E402
import pytest  # noqa: E402

settings.register_profile('derandomized', derandomize=True, database=None)
settings.register_profile('fuzz', derandomize=False, database=None)
settings.load_profile(os.environ.get('ARENA_EVAL_HYPOTHESIS', 'derandomized'))


@pytest.fixture(autouse=True)
def no_process_left_behind():
    """Fail a test that leaves a child process running (and kill what it left)."""
    yield
    me = psutil.Process()
    left = [p for p in me.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
    for p in left:
        p.kill()
    psutil.wait_procs(left, timeout=2)
    assert not left, f'processes left running: {[p.cmdline() for p in left]}'
