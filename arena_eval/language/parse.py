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
The expression grammar: text to the checked tree of `tree.py`, or an `ExpressionError`.

Expressions are Python-flavoured and parsed by Python's own `ast` module, then whitelisted node by
node: numbers, the operators of `functions.TABLE`, calls of `functions.CALLABLE` by bare name,
input paths (`imu.linear_acceleration.x`, `joints.position[2]`) and names. Nothing is ever
evaluated. `^` is power (rewritten to `**` at the token level, so it binds like `**`, not like
Python's XOR), and every error points at a line and column of the user's original text.

>>> parse_expression('2 ^ 3 ^ 2').func
'pow'
>>> parse_expression('joints.position[ 2 ]').name
'joints.position[2]'
>>> parse_statement('tilt = deg(acos(z))').name
'tilt'
>>> try:
...     parse_expression('sqrtt(x)')
... except ExpressionError as e:
...     print(e.one_line())
1:1: error: unknown function 'sqrtt' (did you mean 'sqrt'?)

Only `ExpressionError` ever leaves `parse_statement` and `parse_expression`, whatever the input;
the size limits `MAX_TEXT`, `MAX_DEPTH` and `MAX_NODES` keep every input bounded in time and stack.
Choices the grammar leaves open: a negative literal (`-2`) is the number -2.0, not `neg(2)`; names
must be ASCII (Python would silently fold fullwidth and other NFKC variants into ASCII names); an
indented first line is accepted (YAML block scalars indent); control characters other than tab
and newline are rejected where they are, since Python, YAML and `str.splitlines` disagree on them.
"""

import ast
import difflib
import io
import re
import tokenize
import warnings

from .errors import ExpressionError, Source
from .functions import BUILTINS, CALLABLE, CONSTANTS, META_FUNCTIONS, meta_path, RESERVED
from .tree import Call, Num, Ref, Statement

__all__ = ['AST_FILENAME', 'MAX_DEPTH', 'MAX_INDEX', 'MAX_NODES', 'MAX_TEXT', 'parse_expression',
           'parse_statement']

MAX_TEXT = 10_000       # characters per statement
MAX_DEPTH = 100         # levels of the checked tree
MAX_NODES = 10_000      # nodes of the checked tree per statement
MAX_INDEX = 2**31 - 1   # largest index in an input path (`joints.position[i]`)
MAX_NAME = 200          # longest element name in an input path (`joints.position['elbow']`)
# Element names: printable ASCII without quotes, backslashes or brackets, so a path is
# unambiguous text (`joints.position['elbow']`) wherever it is written.
_ELEMENT_NAME = re.compile(r'[ -!#-&(-Z^-~]+')
AST_FILENAME = '<arena_eval expression>'  # the only file name ever given to `ast.parse`

_BINOPS = {ast.Add: 'add', ast.Sub: 'sub', ast.Mult: 'mul', ast.Div: 'div', ast.Mod: 'mod',
           ast.Pow: 'pow'}
_BAD_BINOPS = {
    ast.FloorDiv: ('//', 'use floor(a / b)'),
    ast.BitAnd: ('&', "use 'and'"),
    ast.BitOr: ('|', "use 'or'"),
    ast.BitXor: ('^', None),
    ast.LShift: ('<<', 'use a * 2 ** n'),
    ast.RShift: ('>>', 'use floor(a / 2 ** n)'),
    ast.MatMult: ('@', 'use *'),
}
_COMPARE = {ast.Lt: 'lt', ast.LtE: 'le', ast.Gt: 'gt', ast.GtE: 'ge', ast.Eq: 'eq',
            ast.NotEq: 'ne'}
_BAD_COMPARE = {
    ast.Is: ('is', "use '=='"), ast.IsNot: ('is not', "use '!='"),
    ast.In: ('in', 'compare with == and combine with or'),
    ast.NotIn: ('not in', 'compare with != and combine with and'),
}
_UNSUPPORTED = {
    ast.Lambda: ('lambda is not supported', 'name the expression as its own statement'),
    ast.ListComp: ('comprehensions are not supported', None),
    ast.SetComp: ('comprehensions are not supported', None),
    ast.DictComp: ('comprehensions are not supported', None),
    ast.GeneratorExp: ('generator expressions are not supported', None),
    ast.NamedExpr: ('assignment expressions (:=) are not supported',
                    'give the value its own statement: name = expression'),
    ast.JoinedStr: ('f-strings are not supported', None),
    ast.FormattedValue: ('f-strings are not supported', None),
    ast.List: ('lists are not supported', 'an expression is one number'),
    ast.Tuple: ('tuples are not supported', 'one expression per statement'),
    ast.Set: ('sets are not supported', 'an expression is one number'),
    ast.Dict: ('dicts are not supported', 'an expression is one number'),
    ast.Starred: ('starred expressions (*x) are not supported', None),
    ast.Await: ('await is not supported', None),
    ast.Yield: ('yield is not supported', None),
    ast.YieldFrom: ('yield is not supported', None),
    ast.Slice: ('slices are not supported', 'index one element: a.b[2]'),
}
# Function names users bring from numpy, C or math textbooks.
_ALIASES = {
    'fabs': 'abs', 'arctan2': 'atan2', 'arctan': 'atan', 'arcsin': 'asin', 'arccos': 'acos',
    'degrees': 'deg', 'radians': 'rad', 'ln': 'log', 'power': 'pow', 'sgn': 'sign',
    'minimum_of': 'min', 'clip': 'clamp', 'average': 'mean', 'derivative': 'ddt',
    'diff': 'delta', 'integrate': 'integral', 'if_else': 'where', 'select': 'where',
}
# Characters that look like the language's operators (pasted from documents).
_LOOKALIKES = {
    '\u2212': "'-'", '\u2013': "'-'", '\u00d7': "'*'", '\u00b7': "'*'", '\u22c5': "'*'",
    '\u00f7': "'/'", '\u2215': "'/'", '\u00b2': "'**2'", '\u00b3': "'**3'", '\u221a': 'sqrt(x)',
    '\u03c0': 'pi', '\u2264': "'<='", '\u2265': "'>='", '\u2260': "'!='", '\u00a0': 'a space',
    '\u2018': 'no quotes', '\u2019': 'no quotes', '\u201c': 'no quotes', '\u201d': 'no quotes',
}
# Control characters and line separators other than tab and newline: Python, YAML and
# `str.splitlines` disagree about them, which would make line numbers lie.
_CONTROL = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]')
# The name of a statement, read without parsing (see `statement_name`).
_NAME_AHEAD = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)')
_STATEMENT_WORDS = {
    'FunctionDef': 'def', 'AsyncFunctionDef': 'async def', 'ClassDef': 'class',
    'ImportFrom': 'from ... import', 'AsyncFor': 'async for', 'AsyncWith': 'async with',
    'TryStar': 'try', 'TypeAlias': 'type', 'Expr': 'expression', 'Delete': 'del',
}
_WORD_OPERATORS = frozenset(('is', 'in', 'not'))
_SKIP_TOKENS = frozenset(number for number, name in tokenize.tok_name.items() if name in (
    'NL', 'NEWLINE', 'COMMENT', 'INDENT', 'DEDENT', 'ENDMARKER', 'ENCODING'))
# FSTRING_START exists from Python 3.12 on, where f-strings are tokenized piece by piece.
_STRING_TOKENS = frozenset(number for number, name in tokenize.tok_name.items()
                           if name in ('STRING', 'FSTRING_START'))


def parse_statement(text, source=None):
    """Parse `name = expression` into a `Statement`; raise `ExpressionError` on anything else."""
    try:
        return _Parser(text, source, None, statement=True).statement()
    except ExpressionError:
        raise
    except Exception as exc:  # noqa: B902 - a parser bug must still be an ExpressionError
        raise _internal_error(text, source, exc) from None


def parse_expression(text, source=None, name=None):
    """
    Parse an expression into a checked tree node (`Num`, `Ref` or `Call`).

    `name` labels errors with the statement the expression belongs to.
    """
    try:
        return _Parser(text, source, name, statement=False).expression()
    except ExpressionError:
        raise
    except Exception as exc:  # noqa: B902 - a parser bug must still be an ExpressionError
        raise _internal_error(text, source, exc) from None


def statement_name(text):
    """
    Return `(name, offset)` of the name a `name = expression` text starts with, or None.

    Read without parsing, so a statement with a syntax error still has a name to label its errors
    with. `a == b` has none.

    >>> statement_name('  speed = hypot(v.x, v.y)'), statement_name('a == b')
    (('speed', 2), None)
    """
    ahead = _NAME_AHEAD.match(text)
    return (ahead.group(1), ahead.start(1)) if ahead else None


def _internal_error(text, source, exc):
    """Wrap a parser bug as an `ExpressionError` at the start of the text (never a traceback)."""
    text = text if isinstance(text, str) else ''
    if not isinstance(source, Source):
        source = Source(text)
    first_line = text.replace('\r\n', '\n').split('\n')[0]
    return ExpressionError(f'cannot parse this expression ({type(exc).__name__})',
                           source.pos(1, 1), source_line=first_line, caret_col=1,
                           hint='please report this as a bug in arena_eval')


class _Parser:
    """One text being parsed: its lines, the `^` rewrite's column map, and the node budget."""

    def __init__(self, text, source, name, *, statement):
        self.statement_mode = statement
        self.name = name
        if not isinstance(text, str):
            self.source = source if isinstance(source, Source) else Source('')
            self.lines = ['']
            raise self.error(f'an expression must be a string, not {type(text).__name__}', 1, 0)
        text = text.replace('\r\n', '\n')
        self.source = source if isinstance(source, Source) else Source(text)
        self.text = text
        self.lines = text.split('\n')
        if statement and name is None:
            ahead = statement_name(text)
            self.name = ahead[0] if ahead else None
        self.nodes = 0
        # Per rewritten line: orig column of each rewritten column (None: unchanged line).
        self.colmap = {}
        self.new_lines = list(self.lines)
        self._ops = None  # (line, orig col, string) of every operator token, for carets

    # ----- positions and errors -------------------------------------------------------------
    def error(self, message, line, col, end=None, hint=None):
        """Build an `ExpressionError` at 1-based `line`, 0-based original columns [col, end)."""
        line = min(max(line, 1), len(self.lines))
        text_line = self.lines[line - 1]
        col = min(max(col, 0), len(text_line))
        length = 1 if end is None else max(1, end - col)
        return ExpressionError(message, self.source.pos(line, col + 1), name=self.name,
                               source_line=text_line, caret_col=col + 1, caret_len=length,
                               hint=hint)

    def _orig_col(self, line, col):
        cmap = self.colmap.get(line)
        if cmap is None:
            return col
        if col < len(cmap):
            return cmap[col]
        return cmap[-1] + 1 + (col - len(cmap))

    def _char_col(self, line, byte_col):
        """Turn an ast byte offset in rewritten `line` into a character offset."""
        if not 1 <= line <= len(self.new_lines):
            return byte_col
        text_line = self.new_lines[line - 1]
        if text_line.isascii():
            return byte_col
        return len(text_line.encode('utf-8')[:byte_col].decode('utf-8', 'ignore'))

    def span(self, node):
        """(line, first col, end col) of an ast node in the original text; end on that line."""
        line = node.lineno
        col = self._orig_col(line, self._char_col(line, node.col_offset))
        end_line = node.end_lineno or line
        if end_line == line and node.end_col_offset is not None:
            end_char = self._char_col(line, node.end_col_offset)
            end = self._orig_col(line, end_char - 1) + 1 if end_char > 0 else col
        else:
            end = len(self.lines[min(line, len(self.lines)) - 1])
        return line, col, max(end, col + 1)

    def node_error(self, node, message, hint=None):
        line, col, end = self.span(node)
        return self.error(message, line, col, end, hint)

    def _where(self, node):
        line, col, end = self.span(node)
        return self.source.pos(line, col + 1), end - col

    # ----- text to ast ----------------------------------------------------------------------
    def _ast(self):
        what = 'statement' if self.statement_mode else 'expression'
        if len(self.text) > MAX_TEXT:
            raise self.error(f'{what} is too long ({len(self.text)} characters, the limit is '
                             f'{MAX_TEXT})', 1, 0, hint='split it into several named expressions')
        bad = _CONTROL.search(self.text)
        if bad:
            line = self.text.count('\n', 0, bad.start()) + 1
            col = bad.start() - (self.text.rfind('\n', 0, bad.start()) + 1)
            char = bad.group()
            label = 'NUL byte' if char == '\0' else f'control character U+{ord(char):04X}'
            raise self.error(f'{label} in {what}', line, col)
        significant = 1 if self._plain() else self._tokens()
        if not significant:
            raise self.error(f'empty {what}', 1, 0, hint=(
                "write 'name = expression'" if self.statement_mode else 'write an expression'))
        try:
            return self._python_ast()
        except SyntaxError as exc:
            raise self._syntax_error(exc) from None
        except (RecursionError, MemoryError):
            raise self.error(f'{what} is nested too deeply or too long for the parser', 1, 0,
                             hint='split it into several named expressions') from None
        except (ValueError, OverflowError) as exc:
            raise self.error(f'cannot parse {what}: {exc}', 1, 0) from None

    def _python_ast(self):
        """Run Python's parser (never the compiler) over the rewritten text."""
        # A final newline makes CPython place end-of-input errors after the last token, not at 0.
        rewritten = '\n'.join(self.new_lines) + '\n'
        with warnings.catch_warnings():
            # `1if x else 2` and friends warn; a warning is not an error of ours.
            warnings.simplefilter('ignore')
            # On a SyntaxError CPython tries to read the line from a file of this name; the
            # name cannot be a path a user controls.
            return ast.parse(rewritten, filename=AST_FILENAME,
                             mode='exec' if self.statement_mode else 'eval')

    def _plain(self):
        """Tell whether the token pass has nothing to do: no `^`, quotes, non-ASCII or indent."""
        text = self.text
        return (text.isascii() and text[:1] not in ('', ' ', '\t', '\n', '#', '\\')
                and '^' not in text and "'" not in text and '"' not in text)

    @property
    def ops(self):
        """Operator tokens, for carets; computed on the first error that needs them."""
        if self._ops is None:
            self._ops = []
            try:
                for tok in tokenize.generate_tokens(io.StringIO(self.text).readline):
                    self._note_operator(tok)
            except Exception:  # noqa: B902 - a caret falls back to the node without them
                pass
        return self._ops

    def _note_operator(self, tok):
        line, col = tok.start
        if tok.type in (tokenize.OP, tokenize.ERRORTOKEN):
            if tok.string.strip() and tok.string not in '()':
                self._ops.append((line, col, tok.string))
        elif tok.type == tokenize.NAME and tok.string in _WORD_OPERATORS:
            self._ops.append((line, col, tok.string))

    def _tokens(self):
        """Check tokens, rewrite `^` to `**` and drop the first line's indent; count tokens."""
        edits = {}  # line -> [(col, end, replacement)] in original columns
        self._ops = []
        significant = 0
        failure = None
        after_bracket = False  # a plain string right after '[' may name an element
        try:
            for tok in tokenize.generate_tokens(io.StringIO(self.text).readline):
                if tok.type in _SKIP_TOKENS:
                    continue
                (line, col), (end_line, end) = tok.start, tok.end
                line = min(line, len(self.lines))
                end = end if end_line == line else len(self.lines[line - 1])
                if significant == 0 and col > 0 and not self.lines[line - 1][:col].strip():
                    # `ast.parse` rejects an indented first line; the user meant no indent.
                    edits.setdefault(line, []).append((0, col, ''))
                significant += 1
                by_name, after_bracket = after_bracket and tok.type == tokenize.STRING, (
                    tok.type == tokenize.OP and tok.string == '[')
                if tok.type in _STRING_TOKENS and not by_name:
                    if end_line == tok.start[0] and tok.type != tokenize.STRING:
                        end = len(self.lines[line - 1])  # 3.12+: f-strings come in pieces
                    raise self.error('strings are not allowed in expressions', line, col, end,
                                     hint='input paths are written without quotes: '
                                          'imu.linear_acceleration.x')
                # 3.11 splits `A` + combining mark into NAME + ERRORTOKEN, yet ast.parse reads
                # one identifier: both kinds must be checked.
                if tok.type in (tokenize.NAME, tokenize.ERRORTOKEN) and not tok.string.isascii():
                    raise self._non_ascii(tok.string, line, col, end)
                if tok.type == tokenize.OP and tok.string == '^':
                    edits.setdefault(line, []).append((col, end, '**'))
                self._note_operator(tok)
        except ExpressionError:
            raise
        except Exception as exc:  # noqa: B902 - tokenize raises several kinds
            # An unclosed bracket or string: ast.parse below finds and places the real error.
            failure = exc
            significant = max(significant, 1)
        for line, line_edits in edits.items():
            self._apply(line, sorted(line_edits))
        if failure is not None:
            self._tokenize_failed(failure)
        return significant

    def _non_ascii(self, word, line, col, end):
        """Reject a non-ASCII name, or a stray character Python 3.12+ tokenizes as one."""
        at, char = next((i, c) for i, c in enumerate(word) if not c.isascii())
        if ('a' + char).isidentifier():
            return self.error(f"names must be ASCII: '{word}'", line, col, end,
                              hint=_lookalike_hint(word))
        # The same words as Python 3.11's own tokenizer uses for these.
        label = (f"invalid character '{char}' (U+{ord(char):04X})" if char.isprintable()
                 else f'invalid non-printable character U+{ord(char):04X}')
        return self.error(f'syntax error: {label}', line, col + at, col + at + 1,
                          hint=_lookalike_hint(char))

    def _apply(self, line, line_edits):
        old = self.lines[line - 1]
        parts, cmap, at = [], [], 0
        for col, end, replacement in line_edits:
            parts.append(old[at:col])
            cmap.extend(range(at, col))
            parts.append(replacement)
            cmap.extend([col] * len(replacement))
            at = end
        parts.append(old[at:])
        cmap.extend(range(at, len(old)))
        self.new_lines[line - 1] = ''.join(parts)
        if not cmap:
            cmap = [len(old) - 1]
        self.colmap[line] = cmap

    def _tokenize_failed(self, exc):
        what = 'statement' if self.statement_mode else 'expression'
        try:
            self._python_ast()
        except SyntaxError as syntax:
            raise self._syntax_error(syntax) from None
        except Exception:  # noqa: B902 - any parser failure is reported as the token error
            pass
        where = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], tuple) else (1, 0)
        line, col = where[0], where[1]
        message = exc.args[0] if exc.args else type(exc).__name__
        raise self.error(f'cannot read {what}: {message}', line, col)

    def _syntax_error(self, exc):
        message = exc.msg or 'invalid syntax'
        hint = None
        if 'null bytes' in message:
            return self.error('NUL byte in expression', 1, 0)
        if "Maybe you meant '==' or ':=' instead of '='?" in message:
            message, hint = 'invalid syntax', "'=' names a statement; use '==' to compare"
        elif 'invalid character' in message:
            for char, use in _LOOKALIKES.items():
                if char in message:
                    hint = f'use {use}'
        elif 'Exceeds the limit' in message:
            message = 'integer literal is too long'
        elif message.startswith('unexpected indent'):
            hint = 'continue a long expression inside parentheses'
        lines = len(self.new_lines)
        line = exc.lineno or 1
        if line > lines or not exc.offset:
            # At the end of the input: point just after the last character written.
            line = max(i for i, text in enumerate(self.new_lines, 1) if text.strip()
                       ) if ''.join(self.new_lines).strip() else 1
            col = len(self.new_lines[line - 1].rstrip())
        else:
            col = max(exc.offset - 1, 0)
        col = min(col, len(self.new_lines[max(line, 1) - 1]))
        orig = self._orig_col(line, col)
        if not self.statement_mode and (line, orig, '=') in self.ops:
            hint = "'=' names a statement; use '==' to compare"
        return self.error(f'syntax error: {message}', line, orig, hint=hint)

    # ----- statements -----------------------------------------------------------------------
    def statement(self):
        module = self._ast()
        body = module.body
        if not body:
            raise self.error('empty statement', 1, 0, hint="write 'name = expression'")
        if len(body) > 1:
            raise self.node_error(body[1], 'one statement per entry',
                                  hint="give each 'name = expression' its own entry")
        stmt = body[0]
        if isinstance(stmt, ast.Assign):
            if len(stmt.targets) > 1:
                raise self.node_error(stmt.targets[1], "one '=' per statement",
                                      hint='name each expression separately')
            target = stmt.targets[0]
            self._check_target(target)
            self.name = target.id
            expr = self._expr(stmt.value, 1)
            pos, _ = self._where(target)
            return Statement(target.id, expr, pos, self.source)
        if isinstance(stmt, ast.Expr):
            value = stmt.value
            if (isinstance(value, ast.Compare) and len(value.ops) == 1
                    and isinstance(value.ops[0], ast.Eq) and isinstance(value.left, ast.Name)):
                raise self.node_error(stmt, "expected 'name = expression', found a comparison",
                                      hint="use one '=' to name an expression ('==' compares)")
            raise self.node_error(stmt, "expected 'name = expression'",
                                  hint="give the expression a name: 'name = ...'")
        if isinstance(stmt, ast.AugAssign):
            raise self.node_error(stmt, 'augmented assignment is not supported',
                                  hint="write 'name = expression'")
        if isinstance(stmt, ast.AnnAssign):
            raise self.node_error(stmt, 'annotations are not supported',
                                  hint="write 'name = expression'")
        word = _STATEMENT_WORDS.get(type(stmt).__name__, type(stmt).__name__.lower())
        raise self.node_error(stmt, f"expected 'name = expression', found a Python '{word}' "
                                    'statement')

    def _check_target(self, target):
        if isinstance(target, ast.Attribute):
            raise self.node_error(target, 'an expression name may not contain dots',
                                  hint='dots are for input paths; use _ in names')
        if isinstance(target, ast.Subscript):
            raise self.node_error(target, 'an expression name may not be indexed')
        if not isinstance(target, ast.Name):
            raise self.node_error(target, 'assign exactly one name',
                                  hint="write 'name = expression'")
        name = target.id
        if not name.isascii():
            raise self.node_error(target, f"names must be ASCII: '{name}'")
        if name.startswith('__'):
            raise self.node_error(target, f"names starting with '__' are not allowed: '{name}'")
        if name in RESERVED:
            raise self.node_error(target, f"'{name}' is reserved ({_kind(name)})",
                                  hint='choose another name')

    # ----- expressions ----------------------------------------------------------------------
    def expression(self):
        return self._expr(self._ast().body, 1)

    def _expr(self, node, depth):
        if depth > MAX_DEPTH:
            raise self.node_error(node, f'expression is nested too deeply (more than '
                                        f'{MAX_DEPTH} levels)',
                                  hint='split it into several named expressions')
        handler = _HANDLERS.get(type(node))
        if handler is None:
            message, hint = _UNSUPPORTED.get(
                type(node), (f'{type(node).__name__} is not supported in expressions', None))
            raise self.node_error(node, message, hint)
        return handler(self, node, depth)

    def _count(self, node):
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.node_error(node, f'expression has too many parts (more than '
                                        f'{MAX_NODES})',
                                  hint='split it into several named expressions')

    def _num(self, node, value):
        self._count(node)
        pos, span = self._where(node)
        return Num(value, pos, span)

    def _call(self, node, func, args):
        self._count(node)
        pos, span = self._where(node)
        return Call(func, tuple(args), pos, span)

    def _constant(self, node, depth):
        value = node.value
        if isinstance(value, bool):
            raise self.node_error(node, f'{value} is not a number', hint='use 1 or 0')
        if isinstance(value, (int, float)):
            return self._num(node, _float(value))
        if isinstance(value, complex):
            raise self.node_error(node, 'complex numbers are not supported')
        if value is None:
            raise self.node_error(node, 'None is not a number', hint='use nan')
        if value is Ellipsis:
            raise self.node_error(node, "'...' is not a number")
        raise self.node_error(node, 'strings are not allowed in expressions')

    def _name(self, node, depth):
        name = node.id
        if not name.isascii():  # the token pass rejects these first; never trust one layer
            raise self.node_error(node, f"names must be ASCII: '{name}'")
        if name.startswith('__'):
            raise self.node_error(node, f"names starting with '__' are not allowed: '{name}'")
        if name in CONSTANTS:
            return self._num(node, CONSTANTS[name])
        if name in CALLABLE:
            raise self.node_error(node, f"'{name}' is a function", hint=f'call it: {name}(x)')
        self._count(node)
        pos, span = self._where(node)
        return Ref(name, pos, span)

    def _path(self, node, depth):
        """`a.b[1].c` -> Ref('a.b[1].c'); the base must be a plain name, indices constants."""
        parts = []
        part = node
        while isinstance(part, (ast.Attribute, ast.Subscript)):
            if isinstance(part, ast.Attribute):
                if part.attr.startswith('__'):
                    line, _, end = self.span(part)
                    raise self.error(f"names starting with '__' are not allowed: "
                                     f"'{part.attr}'", line, end - len(part.attr), end)
                parts.append('.' + part.attr)
            else:
                parts.append(f'[{self._index(part)}]')
            part = part.value
        if not isinstance(part, ast.Name):
            outer = node
            while outer.value is not part:
                outer = outer.value
            if isinstance(outer, ast.Attribute):
                line, _, end = self.span(outer)
                raise self.error('attribute access is only allowed on input paths', line,
                                 end - len(outer.attr), end,
                                 hint='write an input path like imu.angular_velocity.z')
            raise self.node_error(outer, 'indexing is only allowed on input paths',
                                  hint='write an input path like joints.position[2]')
        if part.id.startswith('__'):
            raise self.node_error(part, f"names starting with '__' are not allowed: "
                                        f"'{part.id}'")
        path = part.id + ''.join(reversed(parts))
        if not path.isascii():
            raise self.node_error(node, f"names must be ASCII: '{path}'")
        self._count(node)
        pos, span = self._where(node)
        return Ref(path, pos, span)

    def _index(self, node):
        index = node.slice
        if isinstance(index, ast.Constant) and type(index.value) is str:
            name = index.value
            if not name or len(name) > MAX_NAME or not _ELEMENT_NAME.fullmatch(name):
                raise self.node_error(index, f'bad element name {name!r}',
                                      hint="a name of the message's name[] list, like "
                                           "joints.position['elbow']")
            return f"'{name}'"
        if isinstance(index, ast.Constant) and type(index.value) is int:
            if index.value > MAX_INDEX:
                raise self.node_error(index, f'index is too large (the limit is {MAX_INDEX})')
            return index.value
        if (isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub)
                and isinstance(index.operand, ast.Constant)
                and type(index.operand.value) is int):
            raise self.node_error(index, 'negative index', hint='indices count from 0')
        if isinstance(index, ast.Slice):
            raise self.node_error(index, 'slices are not supported',
                                  hint='index one element: a.b[2]')
        if isinstance(index, ast.Tuple):
            raise self.node_error(index, 'one index per bracket', hint='write a.b[1][2]')
        if isinstance(index, ast.Constant) and isinstance(index.value, (int, float, complex)):
            raise self.node_error(index, 'an index must be a non-negative integer')
        raise self.node_error(index, 'an index must be a constant non-negative integer',
                              hint='input slots are fixed when the batch is compiled')

    def _binop(self, node, depth):
        func = _BINOPS.get(type(node.op))
        if func is None:
            symbol, hint = _BAD_BINOPS.get(type(node.op), ('?', None))
            raise self._operator_error(node.left, node.right, symbol,
                                       f"operator '{symbol}' is not supported", hint)
        left = self._expr(node.left, depth + 1)
        right = self._expr(node.right, depth + 1)
        return self._call(node, func, (left, right))

    def _operator_error(self, left, right, symbol, message, hint):
        """Build an error with its caret on the operator between `left` and `right`."""
        start = (left.end_lineno, self.span(left)[2] if left.end_lineno == left.lineno else 0)
        stop = (right.lineno, self.span(right)[1])
        for line, col, string in self.ops:
            if start <= (line, col) < stop and string == symbol.split()[0]:
                return self.error(message, line, col, col + len(string), hint)
        return self.node_error(left, message, hint)

    def _unaryop(self, node, depth):
        op = node.op
        if isinstance(op, ast.UAdd):
            # Dropped from the tree, but counted: `+++...x` must not recurse unbounded.
            return self._expr(node.operand, depth + 1)
        if isinstance(op, ast.Invert):
            raise self.node_error(node, "operator '~' is not supported", hint="use 'not'")
        operand = node.operand
        if (isinstance(op, ast.USub) and isinstance(operand, ast.Constant)
                and type(operand.value) in (int, float)):
            # A negative literal is a number, not an operation.
            return self._num(node, -_float(operand.value))
        arg = self._expr(operand, depth + 1)
        return self._call(node, 'neg' if isinstance(op, ast.USub) else 'not', (arg,))

    def _boolop(self, node, depth):
        func = 'and' if isinstance(node.op, ast.And) else 'or'
        values = node.values
        inner = depth + len(values) - 1
        result = self._expr(values[0], inner)
        for value in values[1:]:
            result = self._call(node, func, (result, self._expr(value, inner)))
        return result

    def _compare(self, node, depth):
        operands = [node.left, *node.comparators]
        for i, op in enumerate(node.ops):
            if type(op) in _BAD_COMPARE:
                symbol, hint = _BAD_COMPARE[type(op)]
                raise self._operator_error(operands[i], operands[i + 1], symbol,
                                           f"operator '{symbol}' is not supported", hint)
        inner = depth + len(node.ops)
        # Each middle operand is one tree object shared by both comparisons: compiled once.
        trees = [self._expr(operand, inner) for operand in operands]
        result = None
        for i, op in enumerate(node.ops):
            pair = self._pair(node, operands[i], operands[i + 1], _COMPARE[type(op)],
                              trees[i], trees[i + 1])
            result = pair if result is None else self._call(node, 'and', (result, pair))
        return result

    def _pair(self, node, left, right, func, a, b):
        self._count(node)
        line, col, _ = self.span(left)
        end_line, _, end = self.span(right)
        if end_line != line:
            end = len(self.lines[line - 1])
        return Call(func, (a, b), self.source.pos(line, col + 1), max(1, end - col))

    def _ifexp(self, node, depth):
        args = [self._expr(part, depth + 1) for part in (node.test, node.body, node.orelse)]
        return self._call(node, 'where', args)

    def _callnode(self, node, depth):
        func = node.func
        if not isinstance(func, ast.Name):
            if isinstance(func, ast.Attribute):
                if func.attr in CALLABLE:
                    hint = f'call functions by their bare name: {func.attr}(...)'
                else:
                    hint = 'an input path is a value, not a function'
                raise self.node_error(func, 'only functions of the language can be called',
                                      hint=hint)
            raise self.node_error(func, 'only functions of the language can be called',
                                  hint='call a function by its name, like sqrt(x)')
        name = func.id
        if name.startswith('__'):
            raise self.node_error(func, f"names starting with '__' are not allowed: '{name}'")
        fn = CALLABLE.get(name)
        if fn is None:
            if name in CONSTANTS or name in BUILTINS:
                raise self.node_error(func, f"'{name}' is {_kind(name)}, not a function")
            raise self.node_error(func, f"unknown function '{name}'",
                                  hint=_suggest(name, len(node.args)))
        if node.keywords:
            keyword = node.keywords[0]
            raise self.node_error(keyword, f'{name}() takes no keyword arguments',
                                  hint=f'pass arguments by position: {_signature(fn)}')
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.node_error(arg, 'starred arguments (*x) are not supported')
        n = len(node.args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            raise self.node_error(node, f'{name} takes {_arity(fn)}, got {n}',
                                  hint=_signature(fn))
        args = [self._expr(arg, depth + 1) for arg in node.args]
        if name in META_FUNCTIONS:
            return self._meta(node, name, args[0])
        if name == 'ddt_msg':
            return self._ddt_msg(node, args[0])
        if fn.macro:
            return self._orientation(node, name, args[0])
        return self._call(node, name, args)

    def _meta(self, node, name, arg):
        """`fresh(imu)` -> the meta input `imu.@fresh` (see `functions.META_FUNCTIONS`)."""
        if not isinstance(arg, Ref) or '.' in arg.name or '[' in arg.name:
            raise self.node_error(node.args[0], f"{name}() takes an input's name",
                                  hint=f'like {name}(imu)')
        return Ref(meta_path(arg.name, name), arg.pos, arg.span)

    def _ddt_msg(self, node, x):
        """`ddt_msg(x)` -> `ddt_msg(x, <input>.@mdt)`, the input being the one x reads."""
        roots = sorted({ref.name.split('.', 1)[0].split('[', 1)[0] for ref in _refs(x)
                        if '.' in ref.name or '[' in ref.name})
        if len(roots) != 1:
            what = 'reads no input' if not roots else 'reads ' + ', '.join(roots)
            raise self.node_error(
                node.args[0], f'the argument of ddt_msg() must read exactly one input; it {what}',
                hint='like ddt_msg(imu.angular_velocity.z); one ddt_msg per input')
        pos, span = self._where(node)
        return self._call(node, 'ddt_msg', [x, Ref(meta_path(roots[0], 'mdt'), pos, span)])

    def _orientation(self, node, name, q):
        """
        `roll_of(q)`, `pitch_of(q)`, `yaw_of(q)` -> the ZYX Euler angle over q.x, q.y, q.z, q.w.

        Every term is divided by the squared norm n, so a quaternion that is not normalised
        gives the angles of its normalised self, and the zero quaternion (orientation unknown,
        as in an Imu without one) gives nan. Pitch is `asin` of a value clamped to [-1, 1].
        """
        if not isinstance(q, Ref) or ('.' not in q.name and '[' not in q.name):
            raise self.node_error(node.args[0], f'{name}() takes a quaternion field of an input',
                                  hint=f'like {name}(imu.orientation)')
        pos, span = self._where(node)

        def call(func, *args):
            return Call(func, args, pos, span)

        def ref(axis):
            return Ref(f'{q.name}.{axis}', q.pos, q.span)

        def num(v):
            return Num(v, pos, span)

        x, y, z, w = (ref(axis) for axis in 'xyzw')

        def sq(v):
            return call('mul', v, v)

        def twice(a, b, c, d, sign):  # 2 * (a * b + c * d), or with sign -1: 2 * (a*b - c*d)
            return call('mul', num(2.0), call('add' if sign > 0 else 'sub',
                                              call('mul', a, b), call('mul', c, d)))

        def squares(sx, sy, sz):  # w*w + sx*x*x + sy*y*y + sz*z*z
            total = sq(w)
            for sign, v in ((sx, x), (sy, y), (sz, z)):
                total = call('add' if sign > 0 else 'sub', total, sq(v))
            return total

        n = squares(1, 1, 1)
        if name == 'roll_of':
            return call('atan2', call('div', twice(w, x, y, z, 1), n),
                        call('div', squares(-1, -1, 1), n))
        if name == 'yaw_of':
            return call('atan2', call('div', twice(w, z, x, y, 1), n),
                        call('div', squares(1, -1, -1), n))
        return call('asin', call('clamp', call('div', twice(w, y, z, x, -1), n), num(-1.0),
                                 num(1.0)))


_HANDLERS = {
    ast.Constant: _Parser._constant,
    ast.Name: _Parser._name,
    ast.Attribute: _Parser._path,
    ast.Subscript: _Parser._path,
    ast.BinOp: _Parser._binop,
    ast.UnaryOp: _Parser._unaryop,
    ast.BoolOp: _Parser._boolop,
    ast.Compare: _Parser._compare,
    ast.IfExp: _Parser._ifexp,
    ast.Call: _Parser._callnode,
}


def _refs(node):
    """Yield every `Ref` of a tree (no recursion)."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, Ref):
            yield node
        elif isinstance(node, Call):
            stack.extend(node.args)


def _float(value):
    """Convert a literal to float; integers beyond the float range are inf, as 1e999 is."""
    try:
        return float(value)
    except OverflowError:
        return float('inf')


def _kind(name):
    if name in CALLABLE:
        return 'a function of the language'
    if name in CONSTANTS:
        return 'a constant'
    if name in BUILTINS:
        return 'a built-in value'
    return 'a keyword'


def _arity(fn):
    def plural(n):
        return f'{n} argument' + ('' if n == 1 else 's')
    if fn.max_args is None:
        return f'at least {plural(fn.min_args)}'
    if fn.min_args == fn.max_args:
        return plural(fn.min_args)
    return f'{fn.min_args} to {plural(fn.max_args)}'


def _signature(fn):
    names = 'xyzuvw'
    args = ', '.join(names[i] for i in range(fn.min_args))
    if fn.max_args is None:
        args += ', ...'
    elif fn.max_args > fn.min_args:
        args += ', ' + ', '.join(f'[{names[i]}]' for i in range(fn.min_args, fn.max_args))
    return f'{fn.name}({args})'


def _suggest(name, nargs):
    if name in _ALIASES:
        return f"did you mean '{_ALIASES[name]}'?"
    if len(name) <= 40:
        # Prefer a function that takes as many arguments as the user passed.
        fitting = [fn for fn, f in CALLABLE.items()
                   if f.min_args <= nargs and (f.max_args is None or nargs <= f.max_args)]
        for names in (fitting, CALLABLE):
            close = difflib.get_close_matches(name, names, n=1)
            if close:
                return f"did you mean '{close[0]}'?"
    return 'see the list of functions in docs/language.md'


def _lookalike_hint(text):
    for char in text:
        if char in _LOOKALIKES:
            return f'use {_LOOKALIKES[char]}'
    return None
