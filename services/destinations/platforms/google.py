"""Google Customer Match through the Data Manager API: `POST /v1/audienceMembers:ingest`
adds, `POST /v1/audienceMembers:remove` removes.

Each request carries up to 10,000 members for one destination (the operating account and
its user list), every identifier hex-encoded SHA-256. The API validates a request as a whole
and refuses it with `INVALID_ARGUMENT` naming the offending members
(`audienceMembers[3]…` in its field violations); those members are rejected with the
reason given and the rest of the batch is sent again without them. 429
`RESOURCE_EXHAUSTED` and 5xx are retried; 401 and 403 pause the destination.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from gurulu.common.destination_config import GoogleConfig

from .base import Answer, Batch, Permanent, Row, Transient, retry_after, transport_failure

LIMIT = 10_000
_MEMBER = re.compile(r"^audience_?[mM]embers\[(\d+)\]")
_RESENDS = 3


class Google:
    type = "google_customer_match"
    limit = LIMIT

    def __init__(self, config: GoogleConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http

    def destination(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "operatingAccount": {"accountType": "GOOGLE_ADS", "accountId": self.config.customer_id},
            "productDestinationId": self.config.product_destination_id,
        }
        if self.config.login_customer_id:
            found["loginAccount"] = {
                "accountType": "GOOGLE_ADS",
                "accountId": self.config.login_customer_id,
            }
        return found

    def body(self, rows: list[Row]) -> dict[str, Any]:
        return {
            "destinations": [self.destination()],
            "audienceMembers": [{"userData": {"userIdentifiers": _identifiers(r)}} for r in rows],
            "encoding": "HEX",
        }

    async def send(self, batch: Batch) -> Answer:
        rows, rejected = list(batch.rows), dict[str, str]()
        for _ in range(_RESENDS):
            refused = await self._post(batch, rows)
            if not refused:
                return Answer(rejected)
            rejected |= {rows[index].person_id: reason for index, reason in refused.items()}
            rows = [row for index, row in enumerate(rows) if index not in refused]
            if not rows:
                return Answer(rejected)
        raise Permanent("Google kept refusing members of the batch")

    async def _post(self, batch: Batch, rows: list[Row]) -> dict[int, str]:
        """Send; return the refused members by index (empty when all were accepted)."""
        verb = "ingest" if batch.change == "add" else "remove"
        url = f"{self.config.api_base}/v1/audienceMembers:{verb}"
        headers = {"Authorization": f"Bearer {self.config.access_token}"}
        if self.config.login_customer_id:
            headers["login-customer-id"] = self.config.login_customer_id
        try:
            response = await self.http.post(url, json=self.body(rows), headers=headers, timeout=60)
        except httpx.HTTPError as error:
            raise transport_failure(error) from error
        if response.is_success:
            return {}
        return _refused(response, len(rows))


def _identifiers(row: Row) -> list[dict[str, str]]:
    found = []
    if row.email_sha256:
        found.append({"emailAddress": row.email_sha256})
    if row.phone_sha256:
        found.append({"phoneNumber": row.phone_sha256})
    return found


def _refused(response: httpx.Response, count: int) -> dict[int, str]:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    status, message = error.get("status", ""), str(error.get("message") or "")[:500]
    said = f"Google answered {response.status_code} {status}: {message}".rstrip(": ")
    if response.status_code == 429 or response.status_code >= 500:
        raise Transient(said, retry_after(response))
    if response.status_code in (401, 403):
        raise Permanent(said, pause=True)
    refused = {}
    for detail in error.get("details") or []:
        for violation in detail.get("fieldViolations") or []:
            match = _MEMBER.match(str(violation.get("field", "")))
            if match and int(match.group(1)) < count:
                reason = str(violation.get("description") or "invalid member")[:200]
                refused[int(match.group(1))] = f"Google: {reason}"
    if not refused:
        raise Permanent(said)
    return refused
