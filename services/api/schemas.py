"""Request and response bodies of the HTTP API, a schema family per resource. Requests
refuse unknown fields, so a typo is an error rather than a silently ignored setting."""

from __future__ import annotations

import math
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from gurulu.common.clock import utcnow
from gurulu.common.rules.model import MAX_NAME_LENGTH

MAX_BATCH = 10_000
MAX_PROPERTIES = 200
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


# What cannot be in a line of a name: control characters (C0, DEL and C1: a tab, an escape,
# a carriage return) and the line and paragraph separators.
_NOT_IN_A_LINE = frozenset({"Cc", "Zl", "Zp"})


def one_line(value: str) -> str:
    """A name as lists, headings and terminals show it — a workspace's, a cohort's, an
    audience's, a destination's: trimmed, not blank, at most 200 characters, one line of
    text without control characters. Raises ValueError saying what is wrong."""
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"must be at most {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(c) in _NOT_IN_A_LINE for c in value):
        raise ValueError("must be one line of text, without control characters")
    return value


OneLineName = Annotated[Name, AfterValidator(one_line)]
PersonId = Annotated[str, Field(min_length=1, max_length=200)]
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
T = TypeVar("T")


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


MAX_NESTING = 32
_INT_RANGE = (-(2**63), 2**64 - 1)  # what a JSON number can be stored as


def _properties(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_PROPERTIES:
        raise ValueError(f"at most {MAX_PROPERTIES} properties")
    for key, item in value.items():
        if not key or len(key) > 200:
            raise ValueError("property names are 1 to 200 characters")
        if problem := _storable(item):
            raise ValueError(f"property {key[:50]!r}: {problem}")
    return value


def _storable(value: Any) -> str | None:
    """Why a property value cannot be stored as it was sent, if it cannot."""
    todo = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if depth > MAX_NESTING:
            return f"objects and lists nest at most {MAX_NESTING} deep"
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int) and not _INT_RANGE[0] <= item <= _INT_RANGE[1]:
            return "a whole number must fit in 64 bits (send a larger one as text)"
        if isinstance(item, float) and not math.isfinite(item):
            return "a number must be finite (NaN and Infinity are not numbers)"
        if isinstance(item, dict):
            todo.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            todo.extend((v, depth + 1) for v in item)
    return None


class EventIn(Request):
    event: Name
    person_id: PersonId
    timestamp: datetime | None = None
    properties: dict[str, Any] = {}

    @field_validator("timestamp")
    @classmethod
    def _timestamp(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("needs a timezone, e.g. 2026-12-03T10:00:00Z")
        value = value.astimezone(UTC)
        if value < EARLIEST or value > utcnow() + timedelta(days=1):
            raise ValueError("must be between 2000-01-01 and one day from now")
        return value

    _props = field_validator("properties")(_properties)


class EventBatch(Request):
    events: Annotated[list[EventIn], Field(min_length=1, max_length=MAX_BATCH)]


class PersonIn(Request):
    person_id: PersonId
    properties: dict[str, Any] = {}

    _props = field_validator("properties")(_properties)


class PersonBatch(Request):
    persons: Annotated[list[PersonIn], Field(min_length=1, max_length=MAX_BATCH)]


class Accepted(BaseModel):
    accepted: int


RuleItem = str | dict[str, Any]
Match = Literal["all", "any"]


class CohortCreate(Request):
    name: Name
    rules: Annotated[list[RuleItem], Field(min_length=1, max_length=50)]
    match: Match = "all"


class CohortUpdate(Request):
    name: Name | None = None
    rules: Annotated[list[RuleItem], Field(min_length=1, max_length=50)] | None = None
    match: Match | None = None


class CohortPreview(Request):
    rules: Annotated[list[RuleItem], Field(min_length=1, max_length=50)]
    match: Match = "all"


class PreviewNotice(BaseModel):
    """Something about a rule worth a second look that is not an error."""

    rule: int  # the rule's position, from 0
    event: str
    did_you_mean: str | None
    message: str


class PreviewPublic(BaseModel):
    count: int
    sample: list[str]
    notices: list[PreviewNotice] = []


class CohortPublic(BaseModel):
    id: str
    name: str
    rules: list[str]
    definition: dict[str, Any]
    match: Match
    count: int
    computed_at: datetime
    created_at: datetime
    updated_at: datetime


class AudienceCreate(Request):
    name: Name
    source_cohort_id: Annotated[str, Field(min_length=1, max_length=200)]
    sync: Literal["hourly"] = "hourly"


class AudienceUpdate(Request):
    name: Name | None = None
    status: Literal["active", "paused"] | None = None


class AudiencePublic(BaseModel):
    id: str
    name: str
    source_cohort_id: str
    source_cohort_name: str | None
    sync: str
    status: str
    created_at: datetime
    updated_at: datetime
    member_count: int
    last_refreshed_at: datetime | None
    next_refresh_at: datetime | None


class RunPublic(BaseModel):
    run_id: str
    reason: str
    status: str
    requested_at: datetime
    started_at: datetime | None
    evaluated_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    member_count: int
    joined_count: int
    left_count: int
    rows_read: int
    error: str | None


class RefreshAccepted(BaseModel):
    run_id: str


class DailyPublic(BaseModel):
    audience_id: str
    snapshot_date: str
    member_count: int
    joined_count: int
    left_count: int
    net_change: int


class WorkspaceCreate(Request):
    name: OneLineName
    plan: Literal["free", "custom"] = "free"


class WorkspaceUpdate(Request):
    plan: Literal["free", "custom"]


class WorkspacePublic(BaseModel):
    workspace_id: str
    name: str
    plan: str


class WorkspaceCreated(WorkspacePublic):
    secret_key: str


class WorkspaceChanged(WorkspacePublic):
    """A workspace after its plan changed, with its active audiences against the plan's
    limit: over it, those running keep running, and new or resumed ones are refused until
    it is back under."""

    active_audiences: int
    audience_limit: int | None


class KeyPublic(BaseModel):
    """A secret key as it can be shown again: never the key, only its id (the part after
    `gsk_`, before the second `_`) and when it was made."""

    key_id: str
    created_at: datetime


class KeyCreated(KeyPublic):
    secret_key: str


class QuotaDimension(BaseModel):
    used: int
    limit: int | None


class QuotaPublic(BaseModel):
    plan: str
    dimensions: dict[str, QuotaDimension]


class Page(BaseModel, Generic[T]):
    data: list[T]


class PageBefore(Page[T], Generic[T]):
    """A page of a list read newest first; `next_before` is the id to ask `?before=` for
    the next page (the page's last), or null when there is none."""

    next_before: str | None = None
