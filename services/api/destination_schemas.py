"""Request and response bodies of the destination routes. A destination's configuration is
validated per type by `gurulu.common.destination_config`; here it is an object. Responses
never carry a credential: only `credentials`, a hint of each (`…a1b2`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from .schemas import OneLineName, Request

DestinationType = Literal["webhook", "meta_custom_audience", "google_customer_match"]
Mode = Literal["mirror", "add_only"]


class DestinationCreate(Request):
    type: DestinationType
    name: OneLineName | None = None
    config: dict[str, Any]
    mode: Mode = "mirror"


class DestinationUpdate(Request):
    name: OneLineName | None = None
    status: Literal["active", "paused"] | None = None
    mode: Mode | None = None
    config: dict[str, Any] | None = None  # merged into the current configuration


class RejectedRow(BaseModel):
    person_id: str | None
    change: str
    reason: str


class SyncPublic(BaseModel):
    sync_id: str
    destination_id: str
    run_id: str
    trigger: str
    status: str
    to_add: int
    to_remove: int
    added: int
    removed: int
    skipped: int
    skipped_reasons: dict[str, int]
    rejected: int
    rejected_sample: list[RejectedRow]
    batches: int
    error: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None


class DestinationPublic(BaseModel):
    id: str
    audience_id: str
    type: str
    name: str
    mode: str
    status: str
    paused_reason: str | None
    config: dict[str, Any]
    credentials: dict[str, str]
    created_at: datetime
    updated_at: datetime
    last_sync: SyncPublic | None


class DestinationCreated(DestinationPublic):
    # The webhook signing secret, when the API generated it: shown this once.
    signing_secret: str | None = None
    first_sync_id: str | None = None


class SyncAccepted(BaseModel):
    sync_id: str
    run_id: str
