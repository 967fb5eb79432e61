"""The message catalogue as an AsyncAPI 3.0 document, generated from the message models so
that it cannot drift from the code: `python -m gurulu.common.asyncapi > docs/asyncapi.json`
(a test fails when the committed document is not what this prints)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from gurulu.common import messages


@dataclass(frozen=True)
class Channel:
    key: str
    address: str
    description: str
    model: type[BaseModel] | None
    schema: dict[str, Any] | None = None
    senders: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()


DEAD_LETTER_SCHEMA = {
    "type": "object",
    "description": "Stream entry fields (not a JSON body): the original message and why it died.",
    "required": ["message", "error", "deliveries", "dead_at"],
    "properties": {
        "message": {"type": "string", "description": "The RefreshRequested, as JSON."},
        "error": {"type": "string", "description": "The last error of the refresh."},
        "deliveries": {"type": "string", "description": "How many times it was delivered."},
        "dead_at": {"type": "string", "format": "date-time"},
    },
}

CATALOGUE = (
    Channel(
        "refresh",
        messages.REFRESH_STREAM,
        "Refreshes owed. Consumer group `evaluator`; one entry per requested run.",
        messages.RefreshRequested,
        senders=("ticker", "api"),
        receivers=("evaluator",),
    ),
    Channel(
        "refreshed",
        messages.REFRESHED_STREAM,
        "Refreshes done (or failed for good). Consumer groups `snapshotter`, `destinations`.",
        messages.AudienceRefreshed,
        senders=("evaluator",),
        receivers=("snapshotter", "destinations"),
    ),
    Channel(
        "refreshNotice",
        "gurulu:audience:refresh:{audience_id}",
        "Redis pub/sub: announces each refresh request of one audience.",
        messages.ChannelNotice,
        senders=("ticker", "api"),
    ),
    Channel(
        "deadLetters",
        messages.DEAD_LETTER_STREAM,
        "Refresh requests that kept failing, with their error; their runs are marked failed.",
        None,
        DEAD_LETTER_SCHEMA,
        senders=("evaluator",),
    ),
    Channel(
        "destinationSync",
        messages.DESTINATION_SYNC_STREAM,
        "Syncs of one destination asked for now (connected, resumed, by hand)."
        " Consumer group `destinations`.",
        messages.SyncRequested,
        senders=("api",),
        receivers=("destinations",),
    ),
)


def _message(channel: Channel) -> dict[str, Any]:
    if channel.model is None:
        return {"name": "DeadLetter", "payload": channel.schema}
    schema = channel.model.model_json_schema(mode="serialization")
    return {
        "name": channel.model.__name__,
        "title": channel.model.__name__,
        "summary": (channel.model.__doc__ or "").strip().splitlines()[0],
        "contentType": "application/json",
        "payload": schema,
    }


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for channel in CATALOGUE:
        ref = {"$ref": f"#/channels/{channel.key}"}
        message = [{"$ref": f"#/channels/{channel.key}/messages/{_message(channel)['name']}"}]
        for service in channel.senders:
            operations[f"{service}Sends{channel.key[0].upper()}{channel.key[1:]}"] = {
                "action": "send", "channel": ref, "messages": message,
                "summary": f"{service} sends on {channel.address}",
            }  # fmt: skip
        for service in channel.receivers:
            operations[f"{service}Receives{channel.key[0].upper()}{channel.key[1:]}"] = {
                "action": "receive", "channel": ref, "messages": message,
                "summary": f"{service} consumes {channel.address}",
            }  # fmt: skip
    return operations


def document() -> dict[str, Any]:
    channels = {}
    for channel in CATALOGUE:
        message = _message(channel)
        entry: dict[str, Any] = {
            "address": channel.address,
            "description": channel.description,
            "messages": {message["name"]: message},
        }
        if "{audience_id}" in channel.address:
            entry["parameters"] = {"audience_id": {"description": "An audience id (aud_…)."}}
        channels[channel.key] = entry
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Gurulu Audiences streams",
            "version": "1",
            "description": "Redis Streams and channels between the Gurulu services.",
        },
        "defaultContentType": "application/json",
        "servers": {"redis": {"host": "localhost:6379", "protocol": "redis"}},
        "channels": channels,
        "operations": _operations(),
    }


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
