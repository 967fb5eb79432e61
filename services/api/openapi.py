"""What /openapi.json says of errors: every error is the contract's `{"error": {...}}`, and
each route lists the statuses it can answer with, so that a generated client knows them.

Routers take `errors(401, 422)` for what every route of theirs can answer; a route adds its
own (`404` for an id in the path, `409`, `402`, `503`) with `responses=errors(...)`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Problem(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    """`code` is stable, for programs; `message` is for people. A 422 names the first
    `field` at fault and lists every problem in `errors`; other codes carry their own
    details (a quota refusal its `dimension`, `limit`, `used` and `plan`)."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    field: str | None = None
    errors: list[Problem] | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


_MEANINGS = {
    401: "No key, or not a key of this workspace (`unauthorized`); admin routes take the"
    " admin token.",
    402: "The plan's quota of active audiences is used up (`quota_exceeded`, with"
    " `dimension`, `limit`, `used` and `plan`).",
    404: "Nothing with this id or name in the workspace (`not_found`); also for other"
    " workspaces' ids.",
    409: "The request conflicts with the current state (`conflict`): a name in use, a"
    " cohort something is built on, a paused audience or destination.",
    413: "The body is larger than 8 MB (`payload_too_large`).",
    415: "The body is not JSON, or is compressed (`unsupported_media_type`): send it"
    " uncompressed with `Content-Type: application/json`.",
    422: "The request is not valid (`invalid_request`): `field` names what is wrong, `errors`"
    " lists every problem.",
    503: "Another change to the workspace holds it (`busy`), or Redis cannot be reached"
    " (`unavailable`); try again.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI responses of these error statuses, each with the error body."""
    return {status: {"model": ErrorBody, "description": _MEANINGS[status]} for status in statuses}
