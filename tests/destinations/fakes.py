"""Local stand-ins for the platforms, each a real HTTP server on a free port in a thread,
that check every request against the platform's contract (destinations.md) and can be told
to fail in every way the real ones do.

A request that breaks the contract is recorded in `violations` and answered 400, so a test
sees it both ways; what a whole exchange owes (a Meta session closed by its last batch) is
checked when the fake stops, and a fake that recorded any violation fails the test there.
`script(...)` queues replies (a status, a body, headers, a delay longer than the client's
timeout) for the next requests; requests are still checked first.
Each fake also keeps what the platform would hold (the audience's members) and counts how
often each batch was accepted, so that a batch landing twice is a violation too.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime
from typing import Any

from .ads import GoogleFake, MetaFake
from .server import FakePlatform, Reply, hashes, verify_signature

__all__ = ["GoogleFake", "MetaFake", "Reply", "WebhookFake", "verify_signature"]


class WebhookFake(FakePlatform):
    """A Standard Webhooks receiver: signatures, timestamps, payloads, ids checked."""

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.members: set[str] = set()
        self.delivered: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self.messages: list[dict[str, Any]] = []

    def check(self, method: str, path: str, headers: dict, body: bytes) -> Any:
        if method != "POST" or path != "/hooks/gurulu":
            raise self.violate(f"{method} {path}")
        for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
            if name not in headers:
                raise self.violate(f"missing header {name}")
        if abs(time.time() - int(headers["webhook-timestamp"])) > 300:
            raise self.violate("timestamp outside the 5-minute tolerance")
        if not verify_signature(self.secret, headers, body):
            raise self.violate("bad signature")
        self.attempts[headers["webhook-id"]] += 1
        message = json.loads(body)
        self._payload(message)
        return headers["webhook-id"], message

    def _payload(self, message: dict) -> None:
        if message.get("type") != "audience.members_changed" or set(message) != {
            "type", "timestamp", "data"
        }:  # fmt: skip
            raise self.violate(f"envelope {sorted(message)}")
        datetime.fromisoformat(message["timestamp"])
        data = message["data"]
        if set(data) != {"audience_id", "run_id", "joined", "left"}:
            raise self.violate(f"data keys {sorted(data)}")
        for person in data["joined"] + data["left"]:
            if not person.get("person_id") or not set(person) <= {
                "person_id", "email_sha256", "phone_sha256"
            }:  # fmt: skip
                raise self.violate(f"person {sorted(person)}")
            hashes(self, [v for k, v in person.items() if k != "person_id"], "person")

    def apply(self, request: Any) -> Reply:
        message_id, message = request
        if self.delivered[message_id]:
            self.violations.append(f"{message_id} delivered twice")
        self.delivered[message_id] += 1
        self.messages.append(message)
        data = message["data"]
        self.members.update(p["person_id"] for p in data["joined"])
        self.members.difference_update(p["person_id"] for p in data["left"])
        return Reply(204)
