"""Message contracts of the streams, one pydantic model per message, serialised only at
the edge (orjson). Commands are imperative, events past tense; every message carries a
`schema_version` so that consumers can refuse what they do not understand."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

REFRESH_STREAM = "gurulu:audience:refresh"
REFRESHED_STREAM = "gurulu:audience:refreshed"
DEAD_LETTER_STREAM = "gurulu:audience:refresh:dead"
EVALUATOR_GROUP = "evaluator"
SNAPSHOTTER_GROUP = "snapshotter"
DESTINATIONS_GROUP = "destinations"
DESTINATION_SYNC_STREAM = "gurulu:destination:sync"

RefreshReason = Literal["hourly_tick", "created", "manual", "catch_up"]
RefreshOutcome = Literal["succeeded", "failed"]


def refresh_channel(audience_id: str) -> str:
    """The pub/sub channel that announces a refresh request of one audience."""
    return f"gurulu:audience:refresh:{audience_id}"


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    def dumps(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


class RefreshRequested(Message):
    """Refresh this audience: run `run_id` was recorded as queued before this was sent."""

    schema_version: Literal[1] = 1
    workspace_id: str
    audience_id: str
    run_id: str
    reason: RefreshReason
    requested_at: datetime


class AudienceRefreshed(Message):
    """A refresh finished (or failed for good); counts are those of the run."""

    schema_version: Literal[1] = 1
    workspace_id: str
    audience_id: str
    run_id: str
    reason: RefreshReason
    status: RefreshOutcome
    requested_at: datetime
    evaluated_at: datetime | None = None
    finished_at: datetime | None = None
    member_count: int = Field(default=0, ge=0)
    joined_count: int = Field(default=0, ge=0)
    left_count: int = Field(default=0, ge=0)
    rows_read: int = Field(default=0, ge=0)
    error: str = ""


class ChannelNotice(Message):
    """What `PUBLISH gurulu:audience:refresh:{audience_id}` carries."""

    reason: RefreshReason


class SyncRequested(Message):
    """Sync this destination now (it was connected or resumed): bring it to the audience's
    members as of run `run_id`, the audience's latest succeeded refresh. `sync_id` is made
    by the requester, so a message delivered twice is one sync."""

    schema_version: Literal[1] = 1
    workspace_id: str
    audience_id: str
    destination_id: str
    sync_id: str
    run_id: str
    trigger: Literal["connected", "resumed", "manual"]
    requested_at: datetime
