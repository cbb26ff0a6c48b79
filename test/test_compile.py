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
The batch compiler: name resolution, dependency order, folding, sharing, fusion, errors, limits.

These tests look at the `Program` (rows, layout, source map) and at the errors' text and
positions; whether the rows compute the right values is the kernel's and the properties' tests.
"""

import math

from arena_eval.engine import program as pg
from arena_eval.engine.arena import compile_batch
from arena_eval.engine.compile import compile_program
from arena_eval.engine.disassemble import disassemble
from arena_eval.engine.fold import fold
from arena_eval.language import functions as fn
from arena_eval.language.errors import BatchErrors, ExpressionError, Pos, Source
from arena_eval.language.tree import Call, Num, Ref, Statement
import pytest
from reference import DEFAULT_BATCH


def ops(program):
    """Opcode names of the rows before the OUTPUT rows."""
    return [pg.op_name(int(op)) for op in program.code[:program.n_exec, pg.F_OP]]


def sources_of(program):
    """{output name: the slot its OUTPUT row reads}."""
    base = program.layout.output_base
    return {program.outputs[int(row[pg.F_DST]) - base]: int(row[pg.F_A])
            for row in program.code[program.n_exec:]}


def errors_of(statements, **kw):
    with pytest.raises(ExpressionError) as info:
        compile_program(statements, **kw)
    exc = info.value
    return exc.errors if isinstance(exc, BatchErrors) else [exc]


def test_constant_folding_leaves_only_the_output_row():
    program = compile_program(['a = 2 * 3 + sqrt(16) - pi / pi', 'b = max(1, 5, 3) if 1 else 0'])
    assert ops(program) == []
    assert program.n_ops == 2
    assert dict(program.constants).get(program.code[0, pg.F_A]) == 9.0
    assert dict(program.constants).get(program.code[1, pg.F_A]) == 5.0


def test_folding_goes_through_references():
    program = compile_program(['k = 2 * pi', 'y = x.a * k'])
    assert ops(program) == ['mul']
    assert 2 * 3.141592653589793 in dict(program.constants).values()


def test_folding_runs_the_row_in_the_kernel():
    # C pow, not numpy's power (-0.0 ** 0.5 is +0.0 in C); acosh and cbrt as libm gives them.
    program = compile_program(['y = pow(-0.0, 0.5)', 'z = acosh(2.0)', 'w = cbrt(-27.0)'])
    assert ops(program) == []
    constants = dict(program.constants)
    y, z, w = (constants[int(row[pg.F_A])] for row in program.code)
    assert (y, math.copysign(1.0, y)) == (0.0, 1.0)
    assert z == fold(fn.ACOSH, 2.0) and w == fold(fn.CBRT, -27.0)
    batch = compile_batch(['z = acosh(x.a)', 'w = cbrt(x.b)'])
    assert batch.evaluate({'x.a': 2.0, 'x.b': -27.0}) == {'z': z, 'w': w}


def test_folding_follows_the_rows_the_compiler_emits():
    # pow(c, 2) folds as the product it compiles to; n-ary max as its chain of binary rows.
    program = compile_program(['p = pow(3.0000000000000004, 2)', 'm = max(1, nan, 3)'])
    constants = dict(program.constants)
    p, m = (constants[int(row[pg.F_A])] for row in program.code)
    assert p == 3.0000000000000004 * 3.0000000000000004 and math.isnan(m)


def test_stateful_calls_are_never_folded():
    program = compile_program(['a = prev(1)', 'b = mean(2, 3)'])
    assert ops(program) == ['prev', 'mean']


def test_where_with_a_constant_condition_keeps_one_branch():
    program = compile_program(['a = sin(x.a) if 0 else cos(x.b)'])
    assert ops(program) == ['cos']
    assert program.inputs == ('x.a', 'x.b')


def test_shared_subexpressions_across_the_batch():
    program = compile_program(['a = sin(x.a) + 1', 'b = 2 * sin(x.a)', 'c = 1 + sin(x.a)'])
    assert ops(program).count('sin') == 1
    assert ops(program).count('add') == 1  # 1 + sin(x.a) is sin(x.a) + 1
    out = sources_of(program)
    assert out['a'] == out['c'] == program.layout.output_base


def test_identical_stateful_calls_share_one_state_block():
    program = compile_program(['a = lowpass(x.a, 0.1)', 'b = lowpass(x.a, 0.1) * 2',
                               'c = lowpass(x.a, 0.2)'])
    assert ops(program).count('lowpass') == 2
    assert program.layout.n_state == 2 * pg.state_size('lowpass')


def test_references_reuse_the_register():
    program = compile_program(['a = x.a * x.b', 'b = a', 'c = a'])
    assert ops(program) == ['mul']
    assert set(sources_of(program).values()) == {program.layout.output_base}


def test_values_are_computed_in_their_output_slot_and_copy_rows_come_first():
    program = compile_program(['a = x.a * 2', 'k = 7', 'b = a', 'c = x.b', 'd = sqrt(a)'])
    base = program.layout.output_base
    assert program.n_copy == 3
    rows = program.code[program.n_exec:]
    assert [program.outputs[int(r[pg.F_DST]) - base] for r in rows] == ['k', 'b', 'c', 'a', 'd']
    assert (rows[3:, pg.F_A] == rows[3:, pg.F_DST]).all()
    assert int(program.code[0, pg.F_DST]) == base  # mul writes a's output slot
    assert int(program.code[1, pg.F_A]) == base  # sqrt reads it
    assert program.layout.n_registers == 0


def test_dependency_order_is_stable():
    program = compile_program(['c = b + 1', 'a = x.a * 3', 'b = a * 2', 'd = x.b * 5'])
    rows = [program.statements[int(s)] for s, _ in program.where[:program.n_exec]]
    assert rows == ['a', 'b', 'c', 'd']
    assert program.outputs == ('c', 'a', 'b', 'd')


def test_inputs_in_first_seen_order_and_output_dependencies():
    program = compile_program(['a = x.b + x.a', 'b = a * joints.position[2]', 'k = 3'])
    assert program.inputs == ('x.b', 'x.a', 'joints.position[2]')
    assert program.output_inputs == (('x.b', 'x.a'), ('x.b', 'x.a', 'joints.position[2]'), ())


def test_nary_min_is_a_chain_and_pow_two_is_a_product():
    program = compile_program(['m = min(x.a, x.b, x.c, x.d)', 'p = x.a ** 2', 'q = x.a ^ 3'])
    assert ops(program) == ['min', 'min', 'min', 'mul', 'pow']


def test_sum_of_products_is_fused():
    program = compile_program(['p = x.a * x.b + x.c * x.d + x.e * x.f'])
    assert ops(program) == ['mul', 'muladd', 'muladd']
    assert program.layout.n_registers == 2  # the last muladd writes p's output slot


def test_a_product_used_elsewhere_is_not_fused():
    program = compile_program(['p = x.a * x.b + 1', 'q = x.a * x.b'])
    assert ops(program) == ['mul', 'add']


def test_default_batch_rows():
    program = compile_program(DEFAULT_BATCH)
    assert program.n_exec == 19  # 17 rows and the stale guards of its two stateful calls
    assert program.n_ops == 26
    assert len(program.inputs) == 12  # 11 fields and joints.@mdt (ddt_msg's message time)


def test_source_map_points_at_the_call():
    program = compile_program(['first = x.a', 'y = 1 + sqrt(x.a)'])
    assert ops(program) == ['sqrt', 'add']
    assert program.where[:program.n_exec].tolist() == [[1, 9], [1, 5]]


def test_disassembly_names_slots_and_sources():
    text = disassemble(compile_program(['norm = hypot(v.x, v.y)', 'f = lowpass(norm, 0.5)',
                                        'w = mean(v.x, 8)']))
    assert 'hypot     @' in text and 'v.x' in text and 'v.y' in text
    assert 'lowpass' in text and '0.5' in text and 'state @' in text
    assert 'n=8' in text
    assert '; norm:8' in text
    assert 'output' in text and 'if fresh(v.x, v.y)' in text
    assert len(text.splitlines()) == 1 + compile_program(
        ['norm = hypot(v.x, v.y)', 'f = lowpass(norm, 0.5)', 'w = mean(v.x, 8)']).n_ops


def test_hand_built_trees_compile():
    pos = Pos(None, 1, 1)
    tree = Call('add', (Ref('x.a', pos), Num(1.0, pos)), pos)
    program = compile_program([Statement('y', tree, pos, None), 'z = y * 2'])
    assert program.outputs == ('y', 'z')


# ----- errors -------------------------------------------------------------------------------

def test_empty_batch():
    assert 'empty batch' in errors_of([])[0].message


def test_unknown_name_with_hint():
    (e,) = errors_of(['accel = x.a', 'y = acel * 2'])
    assert e.one_line() == "1:5: error: unknown name 'acel' [y] (did you mean 'accel'?)"
    assert e.caret().splitlines()[-1] == '        ^^^^'


def test_bare_input_root_gets_a_hint():
    (e,) = errors_of(['y = imu.x + imu'])
    assert "unknown name 'imu'" in e.message and 'imu.x' in e.hint


def test_cycle_is_named_at_the_reference():
    (e,) = errors_of(['a = b + 1', 'c = x.a', 'b = 2 * a'])
    assert e.message == 'cycle: a -> b -> a'
    assert (e.name, e.pos.col) == ('a', 5)


def test_self_reference_is_a_cycle():
    (e,) = errors_of(['a = x.a + a'])
    assert e.message == 'cycle: a -> a' and e.pos.col == 11


def test_two_cycles_reported_once_each_and_dependents_silent():
    errors = errors_of(['a = b', 'b = a', 'c = d', 'd = c', 'f = a + 1'])
    assert sorted(e.message for e in errors) == ['cycle: a -> b -> a', 'cycle: c -> d -> c']


def test_duplicate_name():
    (e,) = errors_of(['a = 1', 'b = 2', 'a = 3'])
    assert "duplicate expression name 'a'" in e.message
    assert e.hint == 'first defined at 1:1'


def test_name_clashing_with_an_input_root():
    (e,) = errors_of(['imu = imu.x * 2'])
    assert "'imu' names both an expression and an input" in e.message


def test_check_input_rejections_are_placed_at_the_path():
    def check(path):
        if path == 'imu.bogus':
            return ("no field 'bogus' in sensor_msgs/msg/Imu", "did you mean 'orientation'?")
        if path.startswith('gps.'):
            return "unknown input 'gps'"
        return None
    errors = errors_of(['a = 1 + imu.bogus', 'b = gps.x + gps.x'], check_input=check)
    assert [e.one_line() for e in errors] == [
        "1:9: error: no field 'bogus' in sensor_msgs/msg/Imu [a] (did you mean 'orientation'?)",
        "1:5: error: unknown input 'gps' [b]"]
    assert errors[0].caret_len == len('imu.bogus')


@pytest.mark.parametrize(('window', 'shown'), [('0', '0'), ('2.5', '2.5'), ('x.b', 'a constant'),
                                               ('10001', '10001'), ('-1', '-1'), ('nan', 'nan')])
def test_window_must_be_a_constant_integer_in_range(window, shown):
    (e,) = errors_of([f'y = mean(x.a, {window})'])
    assert e.message == (f'the window of mean() must be a constant integer in '
                         f'1..{fn.MAX_WINDOW}, got {shown}')
    assert e.pos.col == 15


def test_window_may_be_a_folded_expression():
    program = compile_program(['n = 2 * 5', 'y = maximum(x.a, n)'])
    assert int(program.code[0, pg.F_OP]) == pg.GUARD
    assert int(program.code[1, pg.F_B]) == 10


def test_all_errors_of_a_batch_are_collected_with_positions_in_the_file():
    sources = [Source('a = sqrtt(x.a)', 'cfg.yaml', 7, 11), Source('b = c * 2', 'cfg.yaml', 8, 11),
               Source('d = mean(x.a, 0)', 'cfg.yaml', 9, 11), Source('f = f', 'cfg.yaml', 10, 11)]
    errors = errors_of([s.text for s in sources], sources=sources)
    assert [e.one_line().split(' error: ')[0] for e in errors] == [
        'cfg.yaml:7:15:', 'cfg.yaml:8:15:', 'cfg.yaml:9:25:', 'cfg.yaml:10:15:']
    assert [e.name for e in errors] == ['a', 'b', 'd', 'f']
    assert errors[1].caret().splitlines()[1:] == ['    b = c * 2', '        ^']


def test_reference_to_a_statement_that_failed_to_parse_is_not_reported_again():
    errors = errors_of(['a = 1 +', 'b = a * 2'])
    assert len(errors) == 1 and errors[0].name == 'a'


def test_compile_batch_raises_batch_errors_with_every_line():
    with pytest.raises(BatchErrors) as info:
        compile_batch(['a = nope', 'b = alsonope'])
    assert len(info.value.one_line().splitlines()) == 2


@pytest.mark.parametrize(('limit', 'value', 'message'), [
    ('MAX_OPS', 5, 'more than 5 instructions'),
    ('MAX_SLOTS', 6, 'more than 6 arena slots'),
    ('MAX_STATE', 20, 'more than 20 slots of state'),
])
def test_limits_are_errors(monkeypatch, limit, value, message):
    monkeypatch.setattr(pg, limit, value)
    statements = [f'y{i} = mean(x.a{i}, 8) + {i}' for i in range(4)]
    (e,) = errors_of(statements)
    assert message in e.message


def test_statements_must_be_a_list():
    with pytest.raises(TypeError):
        compile_program('a = 1')


def test_bad_stale_policy():
    with pytest.raises(ValueError, match="stale_policy must be 'nan' or 'hold'"):
        compile_batch(['a = 1'], stale_policy='keep')


def test_prev_of_a_name_is_a_unit_delay_not_a_cycle():
    program = compile_program(['timer = (prev(timer) + dt) * (x.a > 20)', 'alarm = timer > 2'])
    names = ops(program)
    assert names[0] == 'delay' and names[-2:] == ['guard', 'store']
    assert program.output_inputs == (('x.a',), ('x.a',))
    text = disassemble(program)
    assert 'delay' in text and 'last = @' in text and 'skip next unless fresh(x.a)' in text


def test_cycles_without_a_delay_are_still_errors_with_the_path():
    [error] = errors_of(['a = b + prev(a)', 'b = delta(a) * 2'])
    assert error.message == 'cycle: a -> b -> a'
    assert 'prev(name)' in error.hint
    [error] = errors_of(['a = integral(a)'])
    assert error.message == 'cycle: a -> a'


def test_delays_are_shared_and_a_delay_of_an_input_is_plain_prev():
    program = compile_program(['a = prev(b) + prev(b)', 'b = x.a + 1', 'c = prev(x.a)'])
    assert ops(program).count('delay') == 1 and ops(program).count('store') == 1
    assert ops(program).count('prev') == 1


def test_guards_only_for_calls_that_read_inputs():
    program = compile_program(['clock = integral(1)', 'f = lowpass(x.a, x.b)',
                               'g = lowpass(x.a, 0.5)'])
    rows = program.code[:program.n_exec]
    guards = [k for k in range(len(rows)) if rows[k, pg.F_OP] == pg.GUARD]
    assert [pg.op_name(int(rows[k + 1, pg.F_OP])) for k in guards] == ['lowpass', 'lowpass']
    lists = [program.deps[rows[k, pg.F_A]:rows[k, pg.F_A] + rows[k, pg.F_B]].tolist()
             for k in guards]
    assert lists == [[0, 1], [0]]
    # a folded-away branch adds no dependency
    program = compile_program(['h = integral(x.a if 1 else x.b)'])
    rows = program.code[:program.n_exec]
    assert rows[0, pg.F_OP] == pg.GUARD and rows[0, pg.F_B] == 1


def test_time_windows_need_constant_positive_seconds():
    errors = errors_of(['a = mean_s(x.a, 0)', 'b = minimum_s(x.a, x.b)',
                        'c = maximum_s(x.a, inf)'])
    assert [e.message for e in errors] == [
        'the window of mean_s() must be a constant number of seconds in (0, 86400], got 0',
        'the window of minimum_s() must be a constant number of seconds in (0, 86400], got a '
        'constant', 'the window of maximum_s() must be a constant number of seconds in '
        '(0, 86400], got inf']
    program = compile_program(['a = mean_s(x.a, 0.25 * 2)'])
    assert program.layout.n_state == pg.state_size('mean_s') == 4 + 2 * fn.TIME_BUCKETS


def _keys(statements):
    return {keys[0]: (start, size) for keys, start, size in compile_program(statements).state_keys}


def test_state_keys_follow_meaning_not_text_position():
    first = compile_program(['p = x.a * x.b', 'en = integral(p)', 'alarm = en > 100'])
    same = compile_program(['alarm = en > 120', 'p = x.a*x.b', 'en = integral(p)', 'n = t'])
    changed = compile_program(['p = x.a * x.b * 2', 'en = integral(p)', 'alarm = en > 100'])
    inline = compile_program(['en = integral(x.a * x.b)'])
    [key] = first.state_keys[0][0]
    assert key in same.state_keys[0][0] and key in inline.state_keys[0][0]
    assert key not in changed.state_keys[0][0]


def test_state_keys_of_delays():
    a = compile_program(['timer = (prev(timer) + dt) * (x.a > 20)', 'k = 1'])
    b = compile_program(['k = 2', 'timer = (prev(timer) + dt) * (x.a > 20)'])
    c = compile_program(['timer = (prev(timer) + dt) * (x.a > 30)'])
    assert a.state_keys[0][0] == b.state_keys[0][0] != c.state_keys[0][0]


def test_a_shared_state_block_carries_every_call_site_key():
    program = compile_program(['a = x.a', 'i = integral(a)', 'j = integral(x.a) + 0 * x.b'])
    [(keys, _, _)] = program.state_keys
    assert len(keys) == 1  # integral(a) and integral(x.a) mean the same: one key
