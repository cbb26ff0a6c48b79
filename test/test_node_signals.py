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
SIGINT and SIGTERM in every state: exit within 1 s, nothing left behind.

Nothing left: no process (conftest checks children), and none of the shared-memory files the
node's DDS participant created (found in its /proc/<pid>/maps while it runs) after it exits.
"""

import os
import re
import signal
import time

from node_harness import NodeProcess, Probe, shm_files, write_params
import pytest

pytestmark = pytest.mark.ros

# A participant's own segments (fastdds_<hex>, fastrtps_<hex>) and data-sharing pools; port
# files (fastdds_port<N>) are shared by every participant on the domain, so not counted.
_OWN_SHM = re.compile(r'/dev/shm/(?:fastdds_|fastrtps_)[0-9a-f]{16}(?:_el)?$|fast_datasharing')


def mapped_shm(pid):
    """Return the shared-memory files process `pid` has mapped."""
    try:
        with open(f'/proc/{pid}/maps') as f:
            return {line.split()[-1] for line in f if '/dev/shm/' in line}
    except OSError:
        return set()


@pytest.fixture
def probe():
    p = Probe()
    yield p
    p.close()


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM])
def test_signal_while_running_exits_cleanly(tmp_path, probe, signum):
    before = shm_files()
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml'))
    try:
        probe.stream_inputs(200.0)
        probe.wait_results(20, node=node)
        own = {f for f in mapped_shm(node.pid) if _OWN_SHM.search(f)} - before
        code, seconds = node.signal_and_wait(signum)
        assert code == 0, node.output()
        assert seconds < 1.0
        assert 'Traceback' not in node.stderr()
        left = {f for f in own if os.path.exists(f)}
        assert not left, f'shared memory left by the node: {left}'
    finally:
        node.close()


@pytest.mark.parametrize('signum,delay', [
    (signal.SIGINT, 0.2), (signal.SIGTERM, 0.6), (signal.SIGINT, 1.2), (signal.SIGTERM, 1.8)])
def test_signal_while_starting_exits_fast(tmp_path, signum, delay):
    # Somewhere in interpreter start-up, imports, rclpy.init, declaring or compiling.
    node = NodeProcess(tmp_path, write_params(tmp_path / 'params.yaml'))
    try:
        time.sleep(delay)
        own = set()
        if node.alive():
            own = {f for f in mapped_shm(node.pid) if _OWN_SHM.search(f)}
        code, seconds = node.signal_and_wait(signum)
        assert code is not None and seconds < 1.0, node.output()
        # Only a signal in the first few ms (before `main` installs its handlers) gets
        # Python's default: exit by the signal. After that, a clean exit 0.
        assert code in (0, -signum), node.output()
        if code == 0:
            assert 'Traceback' not in node.stderr()
        assert not {f for f in own if os.path.exists(f)}
    finally:
        node.close()


def _starting_main(monkeypatch, failing_start):
    """Run the node's `main` in-process with `failing_start` as its start; restore signals."""
    import sys

    from arena_eval.ros import main as entry

    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    hook = sys.unraisablehook
    monkeypatch.setattr(entry, '_main', failing_start)
    try:
        return entry.main(['arena_eval_node'], fast_exit=False)
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        sys.unraisablehook = hook


def test_a_signal_inside_a_c_extensions_import_is_a_stop(monkeypatch):
    # What rclpy's pybind11 module does with the KeyboardInterrupt a signal raises while it
    # initializes (seen once in CI): it fails the import instead.
    def start(argv, stopper):
        try:
            stopper(signal.SIGINT, None)
        except KeyboardInterrupt as exc:
            raise ImportError('initialization failed') from exc

    assert _starting_main(monkeypatch, start) == 0


def test_an_import_failing_without_a_signal_is_an_error(monkeypatch):
    def start(argv, stopper):
        raise ImportError('initialization failed')

    with pytest.raises(ImportError):
        _starting_main(monkeypatch, start)
