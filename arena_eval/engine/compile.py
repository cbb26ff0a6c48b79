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
A batch of named expressions -> one `Program`: names resolved, dependency order, folding, CSE.

The compiler never evaluates an expression itself: a row whose operands are all constants is
run by the kernel at once (`fold.py`), so a folded constant has the bits the row would give at
run time, and everything else becomes rows for the kernel. What it does, in order:

1. parse every statement (`parse.parse_statement`), collecting every error;
2. resolve every name: another statement's name is a reference (its register, no copy), `dt`
   and `t` are built-in slots, a path with a dot or an index (`imu.x`, `joints.position[2]`) is
   an input (one slot per distinct path, in first-seen order), anything else is an error with
   a "did you mean" hint; `check_input(path)` may reject a path;
3. reject duplicate names, names that are also an input's root, and reference cycles; a
   reference inside `prev(E)` where E names expressions of the batch is a unit delay and makes
   no dependency (E's value is stored after every statement has run, see `program.py`);
4. emit the statements in dependency order (stable: among the statements whose references are
   ready, the earliest first) through one `_emit()` that also records each row's source
   position and checks the limits of `program.py`;
5. fold rows of stateless functions whose operands are all constants, share every
   subexpression across the whole batch (hash-consing on opcode and operand slots, so
   `a + b` and `b + a` share too), and share stateful calls with identical arguments: their
   state evolves identically, so one state block serves both;
6. fuse `add(mul(x, y), z)` into `muladd(x, y, z)` when the product has no other use, and drop
   rows whose value nothing uses (a branch of `where` with a constant condition);
7. put a GUARD row before every stateful row whose arguments depend on inputs (its state holds
   while one of them is stale);
8. give each statement's register to its output slot, so values are computed in place, and
   append one OUTPUT row per statement with the inputs it depends on (see `program.py`).

Every state block gets the *meaning* of its call as a key (`Program.state_keys`): a hash of the
call's normalised tree in which a reference to another expression stands for that expression's
own meaning, so a reload keeps the state of every call whose meaning did not change.

A batch with any error raises `ExpressionError` (`BatchErrors` when there are several) and never
reaches the kernel.

>>> program = compile_program(['a = x.y * 2', 'b = a + x.y * 2'])
>>> program.inputs, program.outputs, program.n_ops
(('x.y',), ('a', 'b'), 4)
"""

import difflib
import hashlib
import heapq
import struct

from . import program as pg
from .fold import fold
from ..language.errors import BatchErrors, ExpressionError, Source
from ..language.functions import (ADD, BUILTINS, CONSTANTS, MAX_WINDOW, MAX_WINDOW_S, MUL,
                                  OUTPUT, POW, PREV, RESERVED, split_meta, TABLE, WHERE)
from ..language.tree import Call, Num, Ref, Statement

_BUILTIN_SLOTS = {'dt': pg.DT_SLOT, 't': pg.T_SLOT}


def compile_program(statements, *, sources=None, check_input=None):
    """
    Compile `statements` (`'name = expr'` strings or parsed `Statement`s) into a `Program`.

    `sources` is an optional list parallel to `statements` of `Source`s, so errors point into the
    file the text came from. `check_input(path)` returns None when the input path is fine, or a
    message (or `(message, hint)`) to reject it with, placed at the path. Raises
    `ExpressionError`, or `BatchErrors` listing every error found.
    """
    if isinstance(statements, (str, bytes)) or not hasattr(statements, '__len__'):
        raise TypeError('statements must be a list of strings')
    if sources is not None and len(sources) != len(statements):
        raise ValueError('sources must be parallel to statements')
    return _Compiler(check_input).run(list(statements), sources)


class _Abort(Exception):
    """A limit was exceeded: stop compiling this batch at once."""


def is_path(name):
    """Say whether a name is an input path (`imu.x`, `joints.position[2]`), not a plain name."""
    return '.' in name or '[' in name


def path_root(path):
    """Return the input name a path starts with: `imu` for `imu.angular_velocity.z`."""
    for i, char in enumerate(path):
        if char in '.[':
            return path[:i]
    return path


def _walk(node):
    """Yield every node of a tree, pre-order, arguments left to right (no recursion)."""
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, Call):
            stack.extend(reversed(node.args))


def error_at(stmt, message, pos, span=1, hint=None):
    """Build an `ExpressionError` at file position `pos` inside statement `stmt`."""
    source = stmt.source if isinstance(stmt.source, Source) else None
    source_line = caret_col = None
    if source is not None and pos is not None:
        line_in_text = pos.line - source.line + 1
        caret_col = pos.col - source.col + 1 if line_in_text <= 1 else pos.col
        source_line = source.text_line(line_in_text)
    return ExpressionError(message, pos, name=stmt.name, source_line=source_line,
                           caret_col=caret_col, caret_len=span, hint=hint)


class _Compiler:
    """The state of compiling one batch; see the module docstring for the passes."""

    def __init__(self, check_input):
        self.check_input = check_input
        self.errors = []         # (statement index, sequence, ExpressionError)
        self.position = {}       # id(Statement) -> its index, to sort errors by statement
        self.stmts = []
        self.index = {}          # statement name -> statement index
        self.inputs = {}         # input path -> input index, first-seen order
        self.const_index = {}    # float bits -> constant index
        self.const_values = []
        self.n_regs = 0
        self.n_state = 0
        self.rows = []           # [op, dst, a, b, c]; operands as (kind, index) until relocated
        self.where = []          # (statement index, column) per row
        self.cse = {}
        self.reg_owner = {}      # register -> name of the first statement whose value it is
        self.values = {}         # statement index -> its value, once emitted
        self.at = (0, 0)         # (statement index, column) given to the rows being emitted
        self.deps = []           # dependency lists of GUARD and OUTPUT rows (input indices)
        self.delay_calls = set()  # id() of the prev() calls that are unit delays
        self.delays = []         # (E node, statement index, column, state field) per delay
        self.meaning = {}        # statement index -> hash of what it computes
        self.node_keys = {}      # id(node) -> meaning hash of a subtree
        self.state_keys = {}     # state offset -> [size, meaning keys of the calls sharing it]
        self.state_of = {}       # register of a stateful row -> its state offset

    # ----- passes ---------------------------------------------------------------------------
    def run(self, statements, sources):
        if not statements:
            raise ExpressionError('empty batch: there are no expressions to compile',
                                  hint="give at least one 'name = expression'")
        broken = self._parse(statements, sources)
        good = self._names()
        refs, direct = self._resolve(good, broken)
        self._check_roots(good)
        now = {i: [(j, ref) for j, ref, delayed in refs[i] if not delayed] for i in good}
        self._check_cycles(good, now)
        self._meanings(good, refs)
        try:
            order = self._order(good, now)
            for i in order:
                value = self._statement(i)
                if value is not None:
                    self.values[i] = value
            self._stores()
            if not self.errors:
                self._fuse()
                self._prune()
                self._guard()
                self._outputs(order, refs, direct)
        except _Abort:
            pass
        if self.errors:
            errors = [e for _, _, e in sorted(self.errors, key=lambda item: item[:2])]
            raise errors[0] if len(errors) == 1 else BatchErrors(errors)
        return self._program()

    def _parse(self, statements, sources):
        """Parse every statement; return the names of those that failed (to mute knock-ons)."""
        from ..language.parse import parse_statement
        broken = set()
        for i, text in enumerate(statements):
            if isinstance(text, Statement):
                self.stmts.append(text)
                self.position[id(text)] = i
                continue
            try:
                self.stmts.append(parse_statement(text, sources[i] if sources else None))
                self.position[id(self.stmts[-1])] = i
            except ExpressionError as exc:
                for e in exc.errors if isinstance(exc, BatchErrors) else [exc]:
                    self.errors.append((i, len(self.errors), e))
                self.stmts.append(None)
                if exc.name:
                    broken.add(exc.name)
        return broken

    def _names(self):
        good = []
        for i, stmt in enumerate(self.stmts):
            if stmt is None:
                continue
            if stmt.name in self.index:
                first = self.stmts[self.index[stmt.name]]
                self._error(
                    stmt, f"duplicate expression name '{stmt.name}'", stmt.pos, len(stmt.name),
                    hint=f'first defined at {first.pos}')
            elif stmt.name in RESERVED:
                self._error(stmt, f"'{stmt.name}' is reserved", stmt.pos, len(stmt.name),
                            hint='choose another name')
            else:
                self.index[stmt.name] = i
                good.append(i)
        return good

    def _resolve(self, good, broken):
        """
        Classify every `Ref`; return per statement its references and direct inputs.

        A reference is `(statement index, Ref, delayed)`; `delayed` when it lies inside the
        first argument of a unit delay (`prev(E)` where E names an expression of the batch).
        """
        refs = {i: [] for i in good}
        direct = {i: set() for i in good}
        checked = {}
        for i in good:
            stmt = self.stmts[i]
            for node, delayed in self._walk_delays(stmt.expr):
                if not isinstance(node, Ref):
                    continue
                name = node.name
                if name in self.index:
                    refs[i].append((self.index[name], node, delayed))
                elif name in BUILTINS or name in CONSTANTS:
                    continue
                elif is_path(name):
                    self.inputs.setdefault(name, len(self.inputs))
                    direct[i].add(name)
                    if name not in checked:
                        checked[name] = True
                        self._check_input(stmt, node)
                elif name in broken:
                    refs[i].append((None, node, delayed))  # its own error is reported already
                else:
                    self._error(stmt, f"unknown name '{name}'", node.pos, node.span,
                                hint=self._unknown_hint(name))
                    refs[i].append((None, node, delayed))
        return refs, direct

    def _walk_delays(self, node):
        """Yield `(node, delayed)` for every node of a tree; note the unit delays met."""
        stack = [(node, False)]
        while stack:
            node, delayed = stack.pop()
            yield node, delayed
            if not isinstance(node, Call):
                continue
            if node.func == 'prev' and any(isinstance(n, Ref) and n.name in self.index
                                           for n in _walk(node.args[0])):
                self.delay_calls.add(id(node))
                stack.extend(reversed([(node.args[0], True)] + [
                    (arg, delayed) for arg in node.args[1:]]))
            else:
                stack.extend((arg, delayed) for arg in reversed(node.args))

    def _unknown_hint(self, name):
        roots = {path_root(p): p for p in self.inputs}
        if name in roots:
            return f"'{name}' is an input; use one of its fields, like {roots[name]}"
        # Names starting with '__' are hidden statements (typed outputs' fields): no user
        # can write them, so none is suggested.
        close = difflib.get_close_matches(
            name, [n for n in self.index if not n.startswith('__')] + list(CONSTANTS)
            + list(BUILTINS), n=1)
        if close:
            return f"did you mean '{close[0]}'?"
        return 'input fields are written as paths, like imu.angular_velocity.z'

    def _check_input(self, stmt, node):
        if self.check_input is None:
            return
        verdict = self.check_input(node.name)
        if verdict is None:
            return
        message, hint = (verdict, None) if isinstance(verdict, str) else verdict
        self._error(stmt, message, node.pos, node.span, hint=hint)

    def _check_roots(self, good):
        roots = {}
        for path in self.inputs:
            roots.setdefault(path_root(path), path)
        for i in good:
            stmt = self.stmts[i]
            if stmt.name in roots:
                self._error(
                    stmt, f"'{stmt.name}' names both an expression and an input "
                          f'({roots[stmt.name]})', stmt.pos, len(stmt.name),
                    hint='rename the expression')

    def _check_cycles(self, good, refs):
        """Report each strongly connected group of references once, as `cycle: a -> b -> a`."""
        for group in _strongly_connected(good, refs):
            start = min(group)
            if len(group) == 1 and all(j != start for j, _ in refs[start]):
                continue
            path, via = _cycle_path(start, group, refs)
            names = ' -> '.join(self.stmts[j].name for j in path + [start])
            self._error(self.stmts[start], f'cycle: {names}', via.pos, via.span,
                        hint='an expression cannot depend on itself; prev(name) is its value '
                             'at the previous step')

    def _order(self, good, refs):
        """Dependency order, stable w.r.t. statement order; statements in cycles are left out."""
        waiting = {i: {j for j, _ in refs[i]} for i in good}
        users = {i: [] for i in good}
        for i in good:
            for j in waiting[i]:
                if j in users:
                    users[j].append(i)
        ready = [i for i in good if not waiting[i]]
        heapq.heapify(ready)
        order = []
        while ready:
            i = heapq.heappop(ready)
            order.append(i)
            for user in users[i]:
                waiting[user].discard(i)
                if not waiting[user]:
                    heapq.heappush(ready, user)
        return order

    def _meanings(self, good, refs):
        """
        Hash what every statement computes, for the state keys (see the module docstring).

        Statements are taken in dependency order (Tarjan yields a group after every group it
        references). A statement outside any cycle means its expression, references replaced by
        their meanings; the statements of a cycle (through unit delays) share one hash of all
        their texts, each then told apart by its name.
        """
        graph = {i: [(j, ref) for j, ref, _ in refs[i]] for i in good}
        for group in _strongly_connected(good, graph):
            members = sorted(group, key=lambda j: self.stmts[j].name)
            first = members[0]
            if len(members) == 1 and all(j != first for j, _ in graph[first]):
                self.meaning[first] = self._key(self.stmts[first].expr)
                continue
            inside = {self.stmts[j].name for j in members}
            text = ';'.join(f'{self.stmts[j].name}={self._key(self.stmts[j].expr, inside)}'
                            for j in members)
            shared = _hash(text)
            for j in members:
                self.meaning[j] = _hash(f'{shared}#{self.stmts[j].name}')

    def _key(self, node, inside=None):
        """Meaning hash of a subtree; names in `inside` (a cycle being hashed) stay names."""
        memo = inside is None
        if memo and id(node) in self.node_keys:
            return self.node_keys[id(node)]
        if isinstance(node, Num):
            text = 'n' + float.hex(node.value)
        elif isinstance(node, Ref):
            name = node.name
            if name in self.index:
                if inside and name in inside:
                    return _hash('@' + name)
                return self.meaning.get(self.index[name], '?' + name)  # the meaning as is
            elif name in CONSTANTS:
                text = 'n' + float.hex(CONSTANTS[name])
            elif name in BUILTINS:
                text = 'b' + name
            else:
                text = 'i' + name
        else:
            text = f'{node.func}({",".join(self._key(arg, inside) for arg in node.args)})'
        key = _hash(text)
        if memo:
            self.node_keys[id(node)] = key
        return key

    # ----- emitting -------------------------------------------------------------------------
    def _statement(self, i):
        """Emit statement `i`; return its value, or None if it (or what it uses) failed."""
        stmt = self.stmts[i]
        self.at = (i, stmt.pos.col)
        try:
            value = self._value(stmt.expr, stmt)
        except RecursionError:
            self._error(stmt, 'expression is nested too deeply', stmt.pos,
                        hint='split it into several named expressions')
            return None
        if value is not None and value[0] == 'r':
            self.reg_owner.setdefault(value, stmt.name)
        return value

    def _value(self, node, stmt):
        if isinstance(node, Num):
            return self._const(node.value)
        if isinstance(node, Ref):
            return self._ref(node)
        entry = TABLE[node.func]
        if id(node) in self.delay_calls:
            return self._delay(node, stmt)
        args = [self._value(arg, stmt) for arg in node.args]
        if any(arg is None for arg in args):
            return None
        for k in entry.const_args:
            if entry.seconds_arg == k:
                if not self._seconds_ok(entry, node, k, args[k], stmt):
                    return None
            elif not self._window_ok(entry, node, k, args[k], stmt):
                return None
        consts = [self._const_value(arg) for arg in args]
        self.at = (self.at[0], node.pos.col)
        op = entry.opcode
        if entry.max_args is None:  # n-ary min/max: a chain of the binary row
            value = args[0]
            for arg in args[1:]:
                value = self._apply(op, value, arg)
            return value
        if op == WHERE and consts[0] is not None:
            return args[1] if consts[0] != 0.0 else args[2]
        if op == POW and consts[1] == 2.0:
            return self._apply(MUL, args[0], args[0])  # x * x: no libm call, same result
        if entry.stateful:
            param = int(consts[1]) if entry.window_arg is not None else (
                args[1] if len(args) > 1 else (args[0] if op == PREV else 0))
            size = pg.state_size(entry.name, param if entry.window_arg is not None else 0)
            return self._emit(op, args[0], param, state=size, key=self._key(node))
        return self._apply(op, *args)

    def _delay(self, node, stmt):
        """Emit a unit delay `prev(E[, init])`: a DELAY row now, E's STORE after the statements."""
        init = self._value(node.args[1], stmt) if len(node.args) > 1 else self._const(0.0)
        if init is None:
            return None
        self.at = (self.at[0], node.pos.col)
        key = self._key(node)
        count = len(self.rows)
        value = self._emit(pg.DELAY, 0, init, ('delay', key), state=2, key=key)
        if len(self.rows) > count:  # a new delay, not one shared with an identical call
            self.delays.append((node.args[0], self.at[0], node.pos.col,
                                self.rows[-1][4]))
        return value

    def _stores(self):
        """Emit E and a STORE row for every delay, after every statement has run."""
        done = 0
        pending = []
        while done < len(self.delays):  # E may hold delays of its own
            expr, i, col, state = self.delays[done]
            done += 1
            self.at = (i, col)
            try:
                value = self._value(expr, self.stmts[i])
            except RecursionError:
                value = None
            if value is not None:
                pending.append((i, col, value, state))
        for i, col, value, state in pending:
            self.at = (i, col)
            self._row(pg.STORE, state, value, 0, state)

    def _ref(self, node):
        name = node.name
        if name in self.index:
            return self.values.get(self.index[name])
        if name in _BUILTIN_SLOTS:
            return ('b', _BUILTIN_SLOTS[name])
        if name in CONSTANTS:
            return self._const(CONSTANTS[name])
        if name in self.inputs:
            return ('i', self.inputs[name])
        return None

    def _window_ok(self, entry, node, k, value, stmt):
        arg = node.args[k]
        n = self._const_value(value)
        if n is not None and 1 <= n <= MAX_WINDOW and n == int(n):
            return True
        what = 'a constant' if n is None else f'{n:g}'
        self._error(
            stmt, f'the window of {entry.name}() must be a constant integer in 1..{MAX_WINDOW}, '
                  f'got {what}', arg.pos, arg.span,
            hint='the window is fixed when the batch is compiled')
        return False

    def _seconds_ok(self, entry, node, k, value, stmt):
        arg = node.args[k]
        n = self._const_value(value)
        if n is not None and 0.0 < n <= MAX_WINDOW_S:
            return True
        what = 'a constant' if n is None else f'{n:g}'
        self._error(
            stmt, f'the window of {entry.name}() must be a constant number of seconds in '
                  f'(0, {MAX_WINDOW_S:g}], got {what}', arg.pos, arg.span,
            hint='the window is fixed when the batch is compiled')
        return False

    def _const(self, value):
        value = float(value)
        key = struct.pack('<d', value)  # bits: 0.0 and -0.0 stay apart, nans share a slot
        index = self.const_index.get(key)
        if index is None:
            index = self.const_index[key] = len(self.const_values)
            self.const_values.append(value)
            self._check_slots()
        return ('c', index)

    def _const_value(self, value):
        return self.const_values[value[1]] if value[0] == 'c' else None

    def _apply(self, op, *args):
        """Emit the row of stateless `op`, or, when every operand is a constant, its value."""
        values = [self._const_value(arg) for arg in args]
        if None in values:
            return self._emit(op, *args)
        return self._const(fold(op, *values))  # the kernel runs the row: runtime bits

    def _emit(self, op, a, b=0, c=0, state=0, key=None):
        """Append one row (or reuse an identical one); the one place rows are made."""
        if op in pg.COMMUTATIVE and b < a:
            a, b = b, a
        cse = (op, a, b, c)
        hit = self.cse.get(cse)
        if hit is not None:
            if key is not None and hit in self.state_of:
                self.state_keys[self.state_of[hit]][1].append(key)
            return hit
        if state:
            c = ('s', self.n_state)
            self.state_keys[self.n_state] = [state, [key]]
            self.n_state += state
            if self.n_state > pg.MAX_STATE:
                self._abort(f'the batch needs more than {pg.MAX_STATE} slots of state',
                            'use smaller windows in mean/minimum/maximum')
        dst = self.cse[cse] = ('r', self.n_regs)
        if state:
            self.state_of[dst] = c[1]
        self.n_regs += 1
        self._check_slots()
        self._row(op, dst, a, b, c)
        return dst

    def _row(self, op, dst, a, b, c):
        if len(self.rows) >= pg.MAX_OPS:
            self._abort(f'the batch needs more than {pg.MAX_OPS} instructions',
                        'split it over several nodes')
        self.rows.append([op, dst, a, b, c])
        self.where.append(self.at)

    def _check_slots(self):
        used = (self.n_regs + len(self.const_values) + 2 * len(self.inputs)
                + 2 * len(self.stmts) + self.n_state + pg.INPUT_BASE)
        if used > pg.MAX_SLOTS:
            self._abort(f'the batch needs more than {pg.MAX_SLOTS} arena slots',
                        'split it over several nodes')

    def _error(self, stmt, message, pos, span=1, hint=None):
        error = error_at(stmt, message, pos, span, hint)
        self.errors.append((self.position[id(stmt)], len(self.errors), error))

    def _abort(self, message, hint):
        stmt = self.stmts[self.at[0]]
        self._error(stmt, message, stmt.pos, len(stmt.name), hint=hint)
        raise _Abort()

    def _fuse(self):
        """Turn `add(mul(x, y), z)` into `muladd(x, y, z)` where the product has no other use."""
        uses = {}
        for row in self.rows:
            for field in row[2:]:
                if isinstance(field, tuple) and field[0] == 'r':
                    uses[field] = uses.get(field, 0) + 1
        for value in self.values.values():
            uses[value] = uses.get(value, 0) + 1
        producer = {row[1]: k for k, row in enumerate(self.rows)}
        dead = set()
        for row in self.rows:
            if row[0] != ADD:
                continue
            for product, other in ((row[2], row[3]), (row[3], row[2])):
                k = producer.get(product)
                if k is not None and self.rows[k][0] == MUL and uses[product] == 1:
                    row[:] = [pg.MULADD, row[1], self.rows[k][2], self.rows[k][3], other]
                    dead.add(k)
                    break
        if dead:
            keep = [k for k in range(len(self.rows)) if k not in dead]
            self.rows = [self.rows[k] for k in keep]
            self.where = [self.where[k] for k in keep]

    def _prune(self):
        """Drop rows whose value nothing uses (a branch folded away): no output can tell."""
        live = set(self.values.values())
        keep = []
        for k in range(len(self.rows) - 1, -1, -1):
            row = self.rows[k]
            if row[1] in live or row[0] == pg.STORE:
                keep.append(k)
                live.update(field for field in row[2:] if isinstance(field, tuple))
        keep.reverse()
        if len(keep) < len(self.rows):
            self.rows = [self.rows[k] for k in keep]
            self.where = [self.where[k] for k in keep]

    def _guard(self):
        """
        Put a GUARD row before every stateful row whose arguments depend on inputs.

        Dependencies are followed through rows (so a folded-away branch adds none) and through
        unit delays: a DELAY depends on what its STORE stores, which may depend on the DELAY
        itself, hence the passes to a fixed point. Sets of input indices are int bitsets.
        """
        stored = {row[4]: row[2] for row in self.rows if row[0] == pg.STORE}
        deps = {}

        def of(field):
            if not isinstance(field, tuple):
                return 0
            if field[0] == 'i':
                return 1 << field[1]
            return deps.get(field, 0) if field[0] == 'r' else 0

        changed = True
        while changed:
            changed = False
            for row in self.rows:
                if row[0] == pg.STORE:
                    continue
                bits = of(row[2]) | of(row[3]) | of(row[4])
                if row[0] == pg.DELAY:
                    bits |= of(stored.get(row[4]))
                if bits & ~deps.get(row[1], 0):
                    deps[row[1]] = deps.get(row[1], 0) | bits
                    changed = True
        stateful = pg.STATEFUL | pg.WINDOWED | {pg.STORE}
        lists = {}
        rows, where = [], []
        for row, at in zip(self.rows, self.where, strict=True):
            if row[0] in stateful:
                bits = of(row[2]) | (0 if row[0] == pg.STORE else of(row[3]))
                if bits:
                    inputs = tuple(k for k in range(bits.bit_length()) if bits >> k & 1)
                    if inputs not in lists:
                        lists[inputs] = len(self.deps)
                        self.deps.extend(inputs)
                    fixed = 2 if row[0] == pg.STORE else TABLE[pg.op_name(row[0])].fixed_slots
                    rows.append([pg.GUARD, row[4], lists[inputs], len(inputs), fixed])
                    where.append(at)
            rows.append(row)
            where.append(at)
        if len(rows) > pg.MAX_OPS:
            self.at = where[pg.MAX_OPS]
            self._abort(f'the batch needs more than {pg.MAX_OPS} instructions',
                        'split it over several nodes')
        self.rows, self.where = rows, where

    # ----- outputs and layout ---------------------------------------------------------------
    def _outputs(self, order, refs, direct):
        """
        Append the OUTPUT rows with each output's inputs (transitive), copy rows first.

        The register holding a statement's value becomes that statement's output slot, so the
        value is computed in place and needs no copy, unless an earlier statement already owns
        the register (identical expressions) or the value is no register at all.
        """
        uses = {i: set() for i in order}
        changed = True
        while changed:  # delays make the references cyclic: iterate to the fixed point
            changed = False
            for i in order:
                found = self._stale_deps(self.stmts[i].expr, uses)
                if not found <= uses[i]:
                    uses[i] |= found
                    changed = True
        statements = sorted(order)
        rename = {}
        for out, i in enumerate(statements):
            value = self.values[i]
            if value[0] == 'r' and value not in rename:
                rename[value] = ('o', out)
        for row in self.rows:
            row[1:] = [rename.get(field, field) for field in row[1:]]
        self.reg_owner = {rename.get(reg, reg): name for reg, name in self.reg_owner.items()}
        self.output_inputs = []
        rows = []
        for out, i in enumerate(statements):
            names = tuple(sorted(uses[i], key=self.inputs.__getitem__))
            self.output_inputs.append(names)
            value = rename.get(self.values[i], self.values[i])
            rows.append((value == ('o', out), out, i, value, len(self.deps), len(names)))
            self.deps.extend(self.inputs[name] for name in names)
        for _direct, out, i, value, start, count in sorted(rows):  # copy rows first
            self.at = (i, self.stmts[i].pos.col)
            self._row(OUTPUT, ('o', out), value, start, count)

    def _stale_deps(self, node, uses):
        """
        Return the inputs whose staleness can change the value of `node` (for OUTPUT rows).

        Every input it reads, through references too, except where message time decides the
        value without them: while input I is stale, `A or not fresh(I)` is 1, `A and fresh(I)`
        is 0, and `where(fresh(I), A, B)` is B, whatever A is, so A's reads of I do not count
        there (the safety idiom `tilt > 30 or not fresh(imu)` stays 1, never nan).
        """
        if isinstance(node, Num):
            return set()
        if isinstance(node, Ref):
            if node.name in self.index:
                return set(uses.get(self.index[node.name], ()))
            return {node.name} if node.name in self.inputs else set()
        args = [self._stale_deps(arg, uses) for arg in node.args]
        result = set().union(*args)
        for k, arg in enumerate(node.args):
            root, fresh = _fresh_test(arg)
            if root is None:
                continue
            if node.func in ('or', 'and') and fresh == (node.func == 'and'):
                other = args[1 - k]
            elif node.func == 'where' and k == 0:
                other = args[1] if fresh else args[2]
            else:
                continue
            result = set().union(*(a for a in args if a is not other)) | {
                p for p in other if path_root(p) != root}
            break
        return result

    def _program(self):
        import numpy as np
        # Registers in the order rows write them: fusion leaves holes, and this closes them.
        registers = {}
        for row in self.rows:
            if row[1][0] == 'r':
                registers.setdefault(row[1], len(registers))
        layout = pg.Layout(n_inputs=len(self.inputs), n_outputs=len(self.stmts),
                           n_constants=len(self.const_values), n_registers=len(registers),
                           n_state=self.n_state)
        bases = {'b': 0, 'i': layout.input_base, 'o': layout.output_base,
                 'c': layout.const_base, 's': layout.state_base}

        def slot(field):
            if not isinstance(field, tuple):
                return field
            if field[0] == 'r':
                return layout.reg_base + registers[field]
            return bases[field[0]] + field[1]

        code = np.array([[slot(f) for f in row] for row in self.rows],
                        dtype=np.int64).reshape(-1, pg.ROW)
        names = {pg.DT_SLOT: 'dt', pg.T_SLOT: 't'}
        for path, k in self.inputs.items():
            names[layout.input_base + k] = path
            names[layout.valid_base + k] = f'valid({path})'
        for k, stmt in enumerate(self.stmts):
            names[layout.output_base + k] = stmt.name
        for k, value in enumerate(self.const_values):
            names[layout.const_base + k] = repr(value)
        for reg, owner in self.reg_owner.items():
            names[slot(reg)] = owner
        return pg.Program(
            code=code,
            where=np.array(self.where, dtype=np.int64).reshape(-1, 2),
            deps=np.array(self.deps, dtype=np.int64),
            layout=layout,
            inputs=tuple(self.inputs),
            outputs=tuple(stmt.name for stmt in self.stmts),
            statements=tuple(stmt.name for stmt in self.stmts),
            constants=tuple((layout.const_base + k, v) for k, v in enumerate(self.const_values)),
            output_inputs=tuple(self.output_inputs),
            slot_names=names,
            state_keys=tuple((tuple(dict.fromkeys(k for k in keys if k is not None)), start, size)
                             for start, (size, keys) in sorted(self.state_keys.items())))


def _fresh_test(node):
    """Return (input name, True) for `fresh(I)`, (I, False) for `not fresh(I)`, else (None, _)."""
    negated = isinstance(node, Call) and node.func == 'not'
    if negated:
        node = node.args[0]
    if isinstance(node, Ref):
        meta = split_meta(node.name)
        if meta is not None and meta[1] == 'fresh':
            return meta[0], not negated
    return None, False


def _hash(text):
    return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()


def _strongly_connected(nodes, refs):
    """Tarjan's strongly connected components over statement references, without recursion."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, k = work.pop()
            if k == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            targets = [j for j, _ in refs[node] if j is not None]
            if k < len(targets):
                work.append((node, k + 1))
                target = targets[k]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                groups.append(group)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return groups


def _cycle_path(start, group, refs):
    """Shortest reference path from `start` back to itself inside `group`; and its first Ref."""
    previous = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for target, ref in refs[node]:
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]][0])
                    path.reverse()
                    first = previous[path[1]][1] if len(path) > 1 else ref
                    return path, first
                if target in group and target not in previous and target != start:
                    previous[target] = (node, ref)
                    nxt.append(target)
        frontier = nxt
    raise AssertionError('no cycle in a strongly connected group')
