"""A scanner for rule text that reads one token at a time, on demand.

The rule language is small but its tokens depend on where they appear: a property key stops
at an operator character (so `person:amount>100` works), a person rule's unquoted value runs
to the end of the rule (so `person:city = New York` works), and an event name is any run of
non-space characters. A scanner that the parser asks for "a key here" or "the rest as a value"
handles that directly, where a context-free token stream would need lookahead tricks. Every
method that consumes text records the 1-based column of what it read, and `error` builds a
`RuleError` pointing at a column with what was expected and the text actually found there.
Keywords are matched as ASCII words without regard to case; names and values are any unicode.
A bare value is a number only if it is plain ASCII decimal (`-?[0-9]+(.[0-9]+)?`), and text
if it does not read as a number at all. One that reads as a number in another spelling
(`1e5`, `+3`, `.5`, `1_000`, `١٢`) is refused where it would be compared: as text it would
silently compare letter by letter, so the writer is asked for plain digits or quotes.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from .errors import RuleError

OPERATOR_CHARS = "=!<>"
QUOTES = "\"'"
ESCAPE_EXPECTED = "\\\", \\' or \\\\ after a backslash"
# ASCII digits only: `int()` would also accept Arabic-Indic and other unicode digits.
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_WORD = re.compile(r"[A-Za-z0-9_]+", re.ASCII)


def reads_as_number(text: str) -> bool:
    """Would people read `text` as a number: any spelling Python reads as one (`1e5`, `+3`,
    `.5`, `1_000`, other scripts' digits), and digits grouped with commas (`1,000`)? Words
    such as `inf` or `nan` are left to be text."""
    if not any(char.isdigit() for char in text):
        return False
    return bool(re.fullmatch(r"[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?", text)) or parses_as_float(
        text
    )


def parses_as_float(text: str) -> bool:
    """Does Python's `float()` read `text`, words such as `inf` included?"""
    try:
        float(text)
    except ValueError:
        return False
    return True


class Token(NamedTuple):
    """A name or value as written: its text after unquoting, and where it started."""

    text: str
    quoted: bool
    column: int


class Scanner:
    """A cursor over one rule's text."""

    def __init__(self, text: str, index: int | None = None) -> None:
        self.text = text
        self.index = index
        self.pos = 0

    def error(
        self,
        expected: str | None,
        at: int | None = None,
        detail: str | None = None,
    ) -> RuleError:
        """An error at `at` (a 0-based position; the cursor by default)."""
        pos = self.pos if at is None else at
        return RuleError(
            detail,
            index=self.index,
            rule=self.text,
            column=pos + 1,
            expected=expected,
            found=self.found(pos),
        )

    def found(self, pos: int) -> str | None:
        """What a person would call "the thing at `pos`": a whole quoted string, a run of
        operator characters, or a run of other non-space characters; `None` at the end."""
        text = self.text
        if pos >= len(text):
            return None
        if text[pos].isspace():
            return text[pos]
        if text[pos] in QUOTES:
            end = self._closing_quote(pos)
            return text[pos : len(text) if end is None else end + 1]
        end = pos
        operator = text[pos] in OPERATOR_CHARS
        while end < len(text) and not text[end].isspace():
            if (text[end] in OPERATOR_CHARS) != operator:
                break
            end += 1
        return text[pos:end]

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def peek_char(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def peek_word(self) -> str:
        match = _WORD.match(self.text, self.pos)
        return "" if match is None else match.group()

    def keyword(self, *words: str) -> str | None:
        """Consume the next word if it is one of `words` (any case); return it in lower case."""
        self.skip_space()
        word = self.peek_word()
        if word.lower() not in words:
            return None
        self.pos += len(word)
        return word.lower()

    def expect_keyword(self, word: str, expected: str) -> None:
        if self.keyword(word) is None:
            raise self.error(expected)

    def operator(self) -> str:
        """A run of operator characters, so `=>` is reported whole rather than read as `=`."""
        start = self.pos
        while self.peek_char() and self.peek_char() in OPERATOR_CHARS:
            self.pos += 1
        return self.text[start : self.pos]

    def token(self, what: str, stop: str = "") -> Token:
        """A quoted string, or a run of non-space characters that also ends before any of
        `stop`. An empty run is an error naming `what` was wanted."""
        char = self.peek_char()
        if char and char in QUOTES:
            return self.quoted()
        start = self.pos
        text = self.text
        while self.pos < len(text) and not text[self.pos].isspace() and text[self.pos] not in stop:
            self.pos += 1
        if self.pos == start:
            raise self.error(what)
        return Token(text[start : self.pos], False, start + 1)

    def rest(self) -> Token:
        """Everything up to the end of the rule, without surrounding whitespace."""
        start = self.pos
        value = self.text[start:].rstrip()
        self.pos = len(self.text)
        return Token(value, False, start + 1)

    def scalar(self, token: Token, compared: bool = True) -> str | int | float:
        """A value token as the model's value: bare digits are a number, all else is text.
        A `compared` value (not a `contains` needle) that reads as a number in any other
        spelling is an error."""
        if token.quoted:
            return token.text
        if not NUMBER.fullmatch(token.text):
            if compared and reads_as_number(token.text):
                raise self.error(
                    "a number in plain digits, such as 100000 or -2.5"
                    " (or the value in quotes, to compare it as text)",
                    token.column - 1,
                )
            return token.text
        try:
            number: int | float = int(token.text) if "." not in token.text else float(token.text)
        except ValueError:  # more digits than int() will convert
            number = math.inf
        if math.isinf(number):
            raise self.error("a smaller number (quote it to compare as text)", token.column - 1)
        return number

    def quoted(self) -> Token:
        """A string in single or double quotes. A backslash escapes either quote or another
        backslash and nothing else, so `"C:\\new"` is an error rather than a silent guess at
        whether `\\n` meant a newline; any other character, even a newline, stands for itself."""
        start = self.pos
        end = self._closing_quote(start)
        if end is None:
            raise self.error(f"a closing {self.text[start]} for the quote opened here")
        chars = []
        pos = start + 1
        while pos < end:
            if self.text[pos] == "\\":
                pos += 1
                if self.text[pos] not in QUOTES + "\\":
                    raise self.error(ESCAPE_EXPECTED, pos - 1)
            chars.append(self.text[pos])
            pos += 1
        self.pos = end + 1
        return Token("".join(chars), True, start + 1)

    def _closing_quote(self, start: int) -> int | None:
        quote, text, pos = self.text[start], self.text, start + 1
        while pos < len(text):
            if text[pos] == "\\":
                pos += 2
                continue
            if text[pos] == quote:
                return pos
            pos += 1
        return None
