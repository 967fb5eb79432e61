"""The one error type of the rule language.

Every problem with a rule, whether the text does not parse, a JSON rule does not match the
model, or a parsed rule breaks a model limit, is reported as a `RuleError`. It says which rule
(by 0-based `index`, shown 1-based to people), where in it (a 1-based `column` for text rules,
a dotted `field` such as `where.0.op` for JSON rules), and what was expected and found, so the
CLI can print one readable line and the HTTP API can return `to_dict()` in its 422 body.
A text rule's error reads "expected X, found Y", where a `found` of `None` means the rule
ended too early; an error that is not about one token (a JSON field that does not fit the
model, a name over the length limit) carries its own `detail` sentence instead. It subclasses
`ValueError` so that code which already handles bad input keeps working, and so that pydantic
turns it into a validation error when it is raised inside a validator.
"""

from __future__ import annotations

import json
from typing import Any

RULE_PREVIEW = 120
FOUND_PREVIEW = 40


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _quote(text: str) -> str:
    # JSON quoting escapes quotes and newlines, so the message stays on one readable line.
    return json.dumps(text, ensure_ascii=False)


class RuleError(ValueError):
    """A rule that cannot be accepted, with enough context to point at the problem."""

    def __init__(
        self,
        detail: str | None = None,
        *,
        index: int | None = None,
        rule: str | None = None,
        column: int | None = None,
        expected: str | None = None,
        found: str | None = None,
        field: str | None = None,
        json_rule: bool = False,
    ) -> None:
        self.index = index
        # `rule` is "" both for an empty rule and for errors about no one rule (an empty
        # definition); only the first is shown, as `rule 1 ""`.
        self.rule = clip(rule or "", RULE_PREVIEW)
        self._has_rule = rule is not None
        self.column = column
        self.expected = expected
        self.found = None if found is None else clip(found, FOUND_PREVIEW)
        self.field = field
        self.detail = detail
        # A JSON dump is already quoted inside; quoting it again would bury it in backslashes.
        self._json_rule = json_rule
        super().__init__(self._message())

    def _message(self) -> str:
        parts = []
        if self._has_rule:
            shown = self.rule if self._json_rule else _quote(self.rule)
            parts.append(f"{self._which()} {shown}: ")
        elif self.index is not None:
            parts.append(f"{self._which()}: ")
        if self.column is not None:
            parts.append(f"at column {self.column}, ")
        if self.field is not None:
            parts.append(f"at {self.field}, ")
        parts.append(self._what())
        return "".join(parts)

    def _which(self) -> str:
        return "rule" if self.index is None else f"rule {self.index + 1}"

    def _what(self) -> str:
        if self.detail is not None:
            return self.detail
        found = "end of rule" if self.found is None else _quote(self.found)
        return f"expected {self.expected}, found {found}"

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data for an API response; absent facts are left out."""
        data = {
            "index": self.index,
            "rule": self.rule if self._has_rule else None,
            "column": self.column,
            "expected": self.expected,
            "found": self.found,
            "field": self.field,
            "message": str(self),
        }
        return {key: value for key, value in data.items() if value is not None}
