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
The soak test, 30 seconds: simulator + node at 1 kHz, memory and allocations must not grow.

Same assertions as `python -m arena_eval bench --soak MINUTES`: no kernel allocation, RSS growth
under 1 MiB after the warm-up, the node ticking throughout and stopping cleanly.
"""

import os
import re
import subprocess
import sys

from arena_eval.tools import procbench
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _sample(rss, kernel=0.0, ticks=1000.0, t=10.0):
    return {'t': t, 'rss': rss, 'kernel': kernel, 'ticks': ticks, 'missed': 0.0,
            'overruns': 0.0}


def test_verdict_fails_on_rss_growth_kernel_allocations_or_a_stalled_node():
    lines = []
    ok = [_sample(100 << 20, t=5), _sample((100 << 20) + 4096, ticks=5000, t=10)]
    assert procbench._soak_verdict(ok, 5.0, 0, [], lines.append) == 0
    assert lines[-1] == 'verdict: PASS'
    grown = [_sample(100 << 20, t=5), _sample(102 << 20, ticks=5000, t=10)]
    allocating = [_sample(100 << 20, t=5), _sample(100 << 20, kernel=3, ticks=5000, t=10)]
    stalled = [_sample(100 << 20, t=5), _sample(100 << 20, ticks=1000, t=10)]
    unreported = [_sample(100 << 20, kernel=float('nan'), t=5),
                  _sample(100 << 20, kernel=float('nan'), ticks=5000, t=10)]
    for samples, problem in ((grown, 'RSS grew'), (allocating, 'the kernel allocated'),
                             (stalled, 'stopped ticking'),
                             (unreported, 'did not report its kernel allocations'),
                             (ok[:1], 'too few samples')):
        lines = []
        assert procbench._soak_verdict(samples, 5.0, 0, [], lines.append) == 1
        assert any(problem in line for line in lines), lines
        assert lines[-1] == 'verdict: FAIL'
    lines = []
    assert procbench._soak_verdict(ok, 5.0, -9, [], lines.append) == 1


@pytest.mark.slow
@pytest.mark.ros
def test_soak_30_seconds():
    done = subprocess.run([sys.executable, '-m', 'arena_eval', 'bench', '--soak', '0.5'],
                          capture_output=True, text=True, timeout=180, cwd=ROOT)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert re.search(r'^verdict: PASS$', out, re.M), out
    rows = re.findall(r'^\s+(\d+)\s+([\d.]+)\s+(\d+)\s', out, re.M)
    assert len(rows) >= 10, out  # a sample every 2 s for 30 s
    ticks = [int(r[2]) for r in rows]
    assert ticks == sorted(ticks) and ticks[-1] > ticks[0]
    assert re.search(r'^kernel allocations: 0 at the end of the warm-up, 0 at the end$', out,
                     re.M), out
