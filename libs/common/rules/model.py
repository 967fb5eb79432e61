"""The typed model of the rule language.

Text rules (`event:purchase count >= 3 in last 30d`) and JSON rules are two spellings of the
models below; both are validated into a `Definition` before anything is stored or compiled.
The model is plain data with no I/O: the parser builds it, the compiler turns it into one
parameterised ClickHouse query, and `to_text` renders it back for people to read.
"""

from __future__ import annotations

import builtins
import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Comparison = Literal["=", "!=", ">", ">=", "<", "<="]
PropertyOp = Literal["=", "!=", ">", ">=", "<", "<=", "contains", "is set", "is not set"]
CountOp = Literal[">=", ">", "=", "<=", "<"]
Scalar = str | int | float | bool

MAX_NAME_LENGTH = 200
MAX_VALUE_LENGTH = 10_000
MAX_RULES = 50
MAX_FILTERS = 20
MAX_INT = 2**53  # exactly representable as the Float64 numeric comparisons use

_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhdw])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}
# A century reaches back to the 1920s, well inside the range of event timestamps; a longer
# window means "ever", which a rule says by having no window.
MAX_WINDOW = "36500d"
MAX_WINDOW_SECONDS = 36500 * 86400


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=False)


def duration_seconds(window: str) -> int:
    """Seconds in a window such as `7d`; the unit is one of m, h, d, w."""
    match = _DURATION.match(window)
    if match is None:
        if re.fullmatch(r"0+[mhdw]", window):
            raise ValueError(
                "a window of 0 is no time: make it at least 1, or leave it out for ever"
            )
        raise ValueError(f"{window!r} is not a duration like 7d (units m, h, d, w)")
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_WINDOW_SECONDS:
        raise WindowTooLong(
            f"{window!r} is longer than the longest window, {MAX_WINDOW} (100 years);"
            " leave the window out for ever"
        )
    return seconds


class WindowTooLong(ValueError):
    """A well-formed duration beyond the longest window."""


def _check_name(value: str, what: str) -> str:
    if not value or not value.strip():
        raise ValueError(f"{what} must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"{what} is longer than {MAX_NAME_LENGTH} characters")
    if any(ch in value for ch in "\x00\r\n"):
        raise ValueError(f"{what} must not contain control characters")
    return value


def _check_value(value: Scalar | None, op: str) -> Scalar | None:
    if op in ("is set", "is not set"):
        if value is not None:
            raise ValueError(f"'{op}' takes no value")
        return None
    if value is None:
        raise ValueError(f"'{op}' needs a value")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("value must be a finite number or text")
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise ValueError(f"a number must be between -{MAX_INT} and {MAX_INT}; quote it for text")
    if isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
        raise ValueError(f"value is longer than {MAX_VALUE_LENGTH} characters")
    if op == "contains" and not isinstance(value, str):
        return str(value)
    return value


class PropertyFilter(_Strict):
    """A condition on one property. A number as value compares numerically; text compares
    as text. `!=` is the exact negation of `=`: it also matches where the property is unset."""

    property: str
    op: PropertyOp
    value: Scalar | None = None

    @field_validator("property")
    @classmethod
    def _property(cls, value: str) -> str:
        return _check_name(value, "property")

    @model_validator(mode="after")
    def _value(self) -> PropertyFilter:
        object.__setattr__(self, "value", _check_value(self.value, self.op))
        return self

    @builtins.property
    def numeric(self) -> bool:
        return isinstance(self.value, int | float) and not isinstance(self.value, bool)


class CountCondition(_Strict):
    op: CountOp
    value: Annotated[int, Field(ge=0, le=1_000_000_000)]


class EventRule(_Strict):
    """Did (or, negated, did not) perform `event`, optionally a number of times, with
    property filters, within a window that ends at the evaluation time."""

    type: Literal["event"] = "event"
    event: str
    negate: bool = False
    count: CountCondition | None = None
    where: Annotated[list[PropertyFilter], Field(max_length=MAX_FILTERS)] = []
    within: str | None = None

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        return _check_name(value, "event")

    @field_validator("within")
    @classmethod
    def _within(cls, value: str | None) -> str | None:
        if value is not None:
            duration_seconds(value)
        return value

    @property
    def window_seconds(self) -> int | None:
        return None if self.within is None else duration_seconds(self.within)


class PersonRule(_Strict):
    """A condition on a person property (or, negated, its opposite)."""

    type: Literal["person"] = "person"
    property: str
    op: PropertyOp
    value: Scalar | None = None
    negate: bool = False

    @field_validator("property")
    @classmethod
    def _property(cls, value: str) -> str:
        return _check_name(value, "property")

    @model_validator(mode="after")
    def _value(self) -> PersonRule:
        object.__setattr__(self, "value", _check_value(self.value, self.op))
        return self

    @builtins.property
    def filter(self) -> PropertyFilter:
        return PropertyFilter(property=self.property, op=self.op, value=self.value)


class CohortRule(_Strict):
    """Membership (or, negated, non-membership) of another cohort's current definition.
    `cohort` is the name or id as written; `cohort_id` is filled in when it is resolved."""

    type: Literal["cohort"] = "cohort"
    cohort: str
    cohort_id: str | None = None
    negate: bool = False

    @field_validator("cohort")
    @classmethod
    def _cohort(cls, value: str) -> str:
        return _check_name(value, "cohort")


Rule = Annotated[EventRule | PersonRule | CohortRule, Field(discriminator="type")]


class Definition(_Strict):
    """A cohort's definition: rules ANDed (`all`) or ORed (`any`)."""

    rules: Annotated[list[Rule], Field(min_length=1, max_length=MAX_RULES)]
    match: Literal["all", "any"] = "all"

    def cohort_refs(self) -> list[CohortRule]:
        return [rule for rule in self.rules if isinstance(rule, CohortRule)]
