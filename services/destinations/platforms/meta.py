"""Meta Custom Audiences through the Marketing API: `POST /{version}/{audience}/users` adds,
`DELETE` on the same path removes.

Each batch sends up to 10,000 people in the multi-key schema `["EMAIL", "PHONE"]`, one row
per person with "" for an unknown key, and a `session` that ties the batches of one change
of one sync together: a `session_id` derived from the sync, `batch_seq` counting the
batches sent from 1 (a page with nobody to send is no batch), `last_batch_flag` on the last
one sent, and the change's total as `estimated_num_total`. The
token goes in the `Authorization` header, never in a URL. Meta's answer counts invalid
entries and samples some of them; sampled rows are rejected by person, the rest counted.
Error codes follow Meta's own list of what to retry and what not, looked up in both
`code` and `error_subcode`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import httpx

from gurulu.common.destination_config import MetaConfig

from .base import Answer, Batch, Permanent, Transient, retry_after, transport_failure

LIMIT = 10_000
SCHEMA = ["EMAIL", "PHONE"]
RETRY_CODES = {1, 2, 4, 17, 341, 368, 613, 80003}
RETRY_SUBCODES = {2446079, 1487742}
# Permanent errors that mean the destination cannot work as configured: pause it.
PAUSE_CODES = {190, 200, 294, 2650, 1487301, 1487366}


def session_id(batch: Batch) -> int:
    digest = hashlib.sha256(f"{batch.sync_id}:{batch.change}".encode()).digest()
    return int.from_bytes(digest[:6], "big")  # fits JSON numbers of every parser


class Meta:
    type = "meta_custom_audience"
    limit = LIMIT

    def __init__(self, config: MetaConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http
        base, version = config.api_base, config.api_version
        self.url = f"{base}/{version}/{config.audience_id}/users"

    def body(self, batch: Batch) -> dict[str, Any]:
        return {
            "payload": {
                "schema": SCHEMA,
                "data": [[row.email_sha256, row.phone_sha256] for row in batch.rows],
            },
            "session": {
                "session_id": session_id(batch),
                "batch_seq": batch.seq,
                "last_batch_flag": batch.last,
                "estimated_num_total": batch.total,
            },
        }

    async def send(self, batch: Batch) -> Answer:
        method = "POST" if batch.change == "add" else "DELETE"
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        try:
            response = await self.http.request(
                method, self.url, json=self.body(batch), headers=headers, timeout=60.0
            )
        except httpx.HTTPError as error:
            raise transport_failure(error) from error
        if response.is_success:
            return _answer(batch, _json(response))
        raise _failure(response)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        found = response.json()
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _answer(batch: Batch, body: dict[str, Any]) -> Answer:
    """Rejections by person, from the sampled invalid entries (a hash, or a row of them)."""
    invalid = _code(body.get("num_invalid_entries")) or 0
    samples = body.get("invalid_entry_samples") or {}
    if isinstance(samples, dict):
        found = [(str(value), str(reason)) for value, reason in samples.items()]
    elif isinstance(samples, list):
        found = [(",".join(map(str, v)) if isinstance(v, list) else str(v), "") for v in samples]
    else:
        found = []
    owner = {
        h: row.person_id for row in batch.rows for h in (row.email_sha256, row.phone_sha256) if h
    }
    rejected: dict[str, str] = {}
    for value, reason in found:
        for part in re.sub(r"[\[\]\"' ]", "", value).split(","):
            person = owner.get(part.strip()) if part.strip() else None
            if person:
                rejected[person] = f"Meta: invalid entry{': ' + reason if reason else ''}"
    # The rest were counted but not named: the caller cannot tell which rows they were.
    return Answer(rejected, max(invalid - len(rejected), 0))


def _code(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _failure(response: httpx.Response) -> Exception:
    found = _json(response).get("error")
    error = found if isinstance(found, dict) else {}
    code, subcode = _code(error.get("code")), _code(error.get("error_subcode"))
    message = str(error.get("message") or f"HTTP {response.status_code}")[:500]
    said = f"Meta answered {response.status_code}, code {code}: {message}"
    if subcode is not None:
        said = f"Meta answered {response.status_code}, code {code}/{subcode}: {message}"
    # The subcode is the more specific of the two: a throttling subcode is retried, and a
    # code that pauses (Meta sends 1487301 / 1487366 either way) pauses in either field.
    if subcode in RETRY_SUBCODES:
        return Transient(said, retry_after(response))
    if code in PAUSE_CODES or subcode in PAUSE_CODES:
        return Permanent(said, pause=True)
    if code in RETRY_CODES:
        return Transient(said, retry_after(response))
    if code is None and (response.status_code == 429 or response.status_code >= 500):
        return Transient(said, retry_after(response))
    return Permanent(said)
