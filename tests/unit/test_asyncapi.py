"""The committed AsyncAPI document is exactly what the message models generate."""

from __future__ import annotations

import json
from pathlib import Path

from gurulu.common import asyncapi, messages

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_the_committed_message_catalogue_is_current():
    assert COMMITTED.read_text() == asyncapi.render(), (
        "docs/asyncapi.json is stale: python -m gurulu.common.asyncapi > docs/asyncapi.json"
    )


def test_every_stream_and_message_of_the_code_is_in_the_catalogue():
    document = json.loads(COMMITTED.read_text())
    addresses = {c["address"] for c in document["channels"].values()}
    for name in dir(messages):
        if name.endswith("_STREAM"):
            assert getattr(messages, name) in addresses, name
    names = {m for c in document["channels"].values() for m in c["messages"]}
    models = {
        cls.__name__
        for cls in vars(messages).values()
        if isinstance(cls, type)
        and issubclass(cls, messages.Message)
        and cls is not messages.Message
    }
    assert models <= names, models - names
    assert document["asyncapi"] == "3.0.0"
