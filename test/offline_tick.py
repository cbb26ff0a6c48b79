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
The node's compiled tick in-process, offline: serialized messages in, outputs and typed bytes out.

`OfflineTick(config)` builds the program's `TickConfig` as the node does (without rcl: inputs
are `compiled_tick.OfflineInput`s fed by `offer`, typed outputs are patched, not published).
`push(name, raw)` queues a message for the next tick (which takes them all and keeps the
newest, as the loop's takes do); `tick(now_ns, dt)` runs one tick; `outputs()` reads the
results, `sent[name]` holds each typed output's published bytes. Under `clock=True` typed
outputs stamped 'now' take the time of the `rosgraph_msgs/Clock` messages pushed as `clock`.
"""

from arena_eval.msgtypes.templates import TypedOutput
from arena_eval.params.config import build_batch
from arena_eval.rt import compiled_tick as ct
import numpy as np


class OfflineTick:
    def __init__(self, config, batch=None, clock=False):
        self.config = config
        self.batch = batch if batch is not None else build_batch(config)
        self.names = list(config.inputs)
        self.inputs = [ct.OfflineInput(name) for name in self.names]
        self.clock = ct.OfflineInput('clock') if clock else None
        self.n_results = len(config.expressions)
        self.typed = [TypedOutput(o, self.batch, lambda raw: None, lambda: 0)
                      for o in config.outputs.values()]
        self.config_block = ct.TickConfig(
            None, 0, self.batch,
            [(i, config.inputs[i.name].timeout, config.inputs[i.name].msg_type)
             for i in self.inputs],
            ct.slot_reads(self.names, self.batch.inputs), [], n_results=self.n_results,
            typed=[(t, None) for t in self.typed], clock=self.clock)
        self.waiting = {name: [] for name in self.names + ['clock']}
        self.sent = {t.name: [] for t in self.typed}
        self._alive = []
        self._packed = np.zeros(5, np.int64)
        ct.begin(self.config_block.address)

    def push(self, name, raw):
        self.waiting[name].append(raw)

    def published(self, t):
        return self.config_block.published(t)

    def __call__(self, now_ns, dt):
        address = self.config_block.address
        for i, name in enumerate(self.names + ['clock']):
            raws = self.waiting[name]
            if not raws:
                continue
            data = np.frombuffer(bytes(raws[-1]), np.uint8)
            self._alive = [a for a in self._alive if a[0] != i] + [(i, data)]
            self._packed[:] = (i, data.ctypes.data, data.size, now_ns, len(raws))
            ct.offer(address, self._packed.ctypes.data)
            raws.clear()
        before = [self.published(t) for t in range(len(self.typed))]
        assert ct.tick_offline(address, now_ns, dt) == 0
        for t, typed in enumerate(self.typed):
            typed.published = self.published(t)  # the loop counts them
            if self.published(t) > before[t]:
                stale = typed.stale and typed.stale_template is not None
                template = typed.stale_template if stale else typed.template
                self.sent[typed.name].append(bytes(template.raw))

    def outputs(self):
        """Return the results as `~/results` carries them: {name: value}."""
        return dict(zip(self.batch.outputs[:self.n_results],
                        self.batch.output_buffer[:self.n_results].tolist(), strict=True))

    def facts(self, now_ns):
        return ct.CompiledBindings(self.config, self.batch, self.config_block).facts(now_ns)
