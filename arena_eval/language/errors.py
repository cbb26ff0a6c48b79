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
User-facing errors of the expression language: `ExpressionError` and source positions.

Every error a user can cause with an expression or a params file is one of these. It knows where it
is (file, line, column, expression name) so it can be shown as one `file:line:col: error: ...`
line, or with the source line and a caret under the offending column.

>>> e = ExpressionError('unknown function', Pos('cfg.yaml', 3, 12), name='a',
...                     source_line='a = sqrtt(x)', caret_col=5, caret_len=5,
...                     hint="did you mean 'sqrt'?")
>>> e.one_line()
"cfg.yaml:3:12: error: unknown function [a] (did you mean 'sqrt'?)"
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Pos:
    """A position as a user sees it: 1-based line and column, optional file name."""

    file: str | None
    line: int
    col: int

    def __str__(self):
        where = f'{self.line}:{self.col}'
        return f'{self.file}:{where}' if self.file else where


@dataclass(frozen=True)
class Source:
    """
    Where an expression's text came from, so errors can point into the original file.

    `line`/`col` locate the text's first character in `file` (both 1-based). Positions inside a
    one-line text map to `col + offset`; a multi-line text maps later lines from column 1.
    """

    text: str
    file: str | None = None
    line: int = 1
    col: int = 1

    def pos(self, line_in_text, col_in_text):
        """Map a 1-based (line, col) inside `text` to a `Pos` in the file."""
        if line_in_text <= 1:
            return Pos(self.file, self.line, self.col + col_in_text - 1)
        return Pos(self.file, self.line + line_in_text - 1, col_in_text)

    def text_line(self, line_in_text):
        lines = self.text.splitlines() or ['']
        return lines[min(max(line_in_text, 1), len(lines)) - 1]


# Long expressions are shown as a window around the caret, not as a 10,000-character line.
_WINDOW = 100


def _window(line, col):
    """Cut `line` to at most about `_WINDOW` characters around `col`; return it and the new col."""
    if len(line) <= _WINDOW:
        return line, col
    start = max(0, min(col - 1 - _WINDOW // 2, len(line) - _WINDOW))
    cut = line[start:start + _WINDOW]
    if start > 0:
        cut, col = '...' + cut, col - start + 3
    if start + _WINDOW < len(line):
        cut += '...'
    return cut, col


class ExpressionError(Exception):
    """A compile-time error in an expression or a batch, with position, caret and hint."""

    def __init__(self, message, pos=None, *, name=None, source_line=None, caret_col=None,
                 caret_len=1, hint=None):
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.name = name
        self.source_line = source_line
        # Column (1-based) of the caret inside `source_line`; the text line, not the file column.
        self.caret_col = caret_col
        self.caret_len = max(1, caret_len)
        self.hint = hint

    # What one_line() calls it; a warning subclass says 'warning'.
    severity = 'error'

    def one_line(self):
        """`file:line:col: error: message [name] (hint)` on a single line."""
        head = f'{self.pos}: {self.severity}: ' if self.pos else f'{self.severity}: '
        text = head + self.message
        if self.name:
            text += f' [{self.name}]'
        if self.hint:
            text += f' ({self.hint})'
        return text

    def caret(self):
        """Format as the one-line form, then the source line with a caret under the error."""
        lines = [self.one_line()]
        if self.source_line is not None and self.caret_col is not None:
            shown, col = _window(self.source_line.replace('\t', ' '), self.caret_col)
            lines.append('    ' + shown)
            width = max(1, min(self.caret_len, len(shown) - col + 1))
            lines.append('    ' + ' ' * (col - 1) + '^' * width)
        return '\n'.join(lines)

    def __str__(self):
        return self.one_line()


class BatchErrors(ExpressionError):
    """Several errors found in one batch or params file, reported together."""

    def __init__(self, errors):
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, first.pos, name=first.name, source_line=first.source_line,
                         caret_col=first.caret_col, caret_len=first.caret_len, hint=first.hint)

    def one_line(self):
        return '\n'.join(e.one_line() for e in self.errors)

    def caret(self):
        return '\n'.join(e.caret() for e in self.errors)
