"""Fake Meta Custom Audiences and Google Data Manager APIs (see `fakes.py`)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs

from .server import FakePlatform, Refused, Reply, hashes


class MetaFake(FakePlatform):
    """`/{version}/{audience}/users`: POST adds, DELETE removes; sessions checked: from
    batch_seq 1, contiguous, closed by exactly one last_batch_flag."""

    KEYS = frozenset(
        [
            "EXTERN_ID",
            "EMAIL",
            "PHONE",
            "GEN",
            "DOBY",
            "DOBM",
            "DOBD",
            "LN",
            "FN",
            "FI",
            "CT",
            "ST",
            "ZIP",
            "MADID",
            "COUNTRY",
        ]
    )
    CLEAR = ("EXTERN_ID", "MADID")  # sent as they are; every other key is hashed

    def __init__(self, token: str = "EAAB-meta-token-0001") -> None:
        super().__init__()
        self.token = token
        self.members: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        self.sessions: dict[tuple, list[int]] = defaultdict(list)
        self.closed: set[tuple] = set()
        self.batches: list[dict[str, Any]] = []
        self.invalid: set[str] = set()
        # How many invalid entries the answer names (Meta samples only some); None: all.
        self.sample_limit: int | None = None

    def check(self, method: str, path: str, headers: dict, body: bytes) -> Any:
        match = re.fullmatch(r"/(v\d+\.\d+)/(\d+)/users", path)
        if not match or method not in ("POST", "DELETE"):
            raise self.violate(f"{method} {path} is not a Custom Audience users edge")
        params = self._params(headers, body)
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if (params.get("access_token") or token) != self.token:
            error = {"message": "Invalid OAuth access token", "type": "OAuthException"}
            raise Refused(Reply(400, {"error": error | {"code": 190, "fbtrace_id": "x"}}))
        rows = self._payload(params.get("payload"))
        session = self._session(params.get("session"), len(rows))
        return method, match.group(2), rows, session

    def _params(self, headers: dict, body: bytes) -> dict[str, Any]:
        if headers.get("content-type", "").startswith("application/json"):
            return json.loads(body)
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        return {k: json.loads(v) if k in ("payload", "session") else v for k, v in form.items()}

    def _payload(self, payload: Any) -> list[tuple[str, ...]]:
        if not isinstance(payload, dict) or "schema" not in payload or "data" not in payload:
            raise self.violate("payload needs schema and data")
        schema, data = payload["schema"], payload["data"]
        if not isinstance(data, list) or not 1 <= len(data) <= 10_000:
            raise self.violate(f"data holds {len(data)} records; 1 to 10,000 allowed")
        if schema in ("EMAIL_SHA256", "PHONE_SHA256"):
            hashes(self, data, schema)
            return [(v,) for v in data]
        if not isinstance(schema, list) or not set(schema) <= self.KEYS:
            raise self.violate(f"unknown schema {schema!r}")
        for row in data:
            if not isinstance(row, list) or len(row) != len(schema):
                raise self.violate("each multi-key record has one value per schema key")
            hashed = [
                v for k, v in zip(schema, row, strict=True) if k not in ("EXTERN_ID", "MADID")
            ]
            hashes(self, hashed, "multi-key data")
            if not any(row):
                raise self.violate("a record with no value at all")
        return [tuple(row) for row in data]

    def _session(self, session: Any, count: int) -> dict[str, Any]:
        types = {"session_id": int, "batch_seq": int, "last_batch_flag": bool}
        types |= {"estimated_num_total": int}
        if not isinstance(session, dict) or set(session) != set(types):
            raise self.violate(f"session must have exactly {sorted(types)}")
        for name, kind in types.items():
            if type(session[name]) is not kind:
                raise self.violate(f"session.{name} must be {kind.__name__}")
        if session["batch_seq"] < 1 or session["estimated_num_total"] < count:
            raise self.violate("batch_seq starts at 1; estimated_num_total covers the batch")
        return session

    def apply(self, request: Any) -> Reply:
        """Sessions: each starts at batch_seq 1, goes on 2, 3, … without a gap or a repeat,
        and ends with exactly one batch flagged last (checked at `finish`)."""
        method, audience, rows, session = request
        key = (audience, method, session["session_id"])
        if key in self.closed or session["batch_seq"] != len(self.sessions[key]) + 1:
            self.violations.append(
                f"session {key}: batch_seq {session['batch_seq']} after "
                f"{self.sessions[key]} (closed={key in self.closed})"
            )
        self.sessions[key].append(session["batch_seq"])
        if session["last_batch_flag"]:
            self.closed.add(key)
        bad = [row for row in rows if set(row) & self.invalid]
        good = [row for row in rows if row not in bad]
        target = self.members[audience]
        target.update(good) if method == "POST" else target.difference_update(good)
        self.batches.append({"method": method, "rows": len(rows), "data": rows, **session})
        named = bad if self.sample_limit is None else bad[: self.sample_limit]
        return Reply(200, {
            "audience_id": audience,
            "session_id": session["session_id"],
            "num_received": len(rows),
            "num_invalid_entries": len(bad),
            "invalid_entry_samples": {next(v for v in row if v in self.invalid): "bad hash"
                                      for row in named},
        })  # fmt: skip

    def finish(self) -> None:
        for key, seqs in self.sessions.items():
            if key not in self.closed:
                self.violations.append(f"session {key}: {seqs} never had a last_batch_flag")


class GoogleFake(FakePlatform):
    """Data Manager API `audienceMembers:ingest` / `:remove`."""

    def __init__(self, token: str = "ya29.google-token-0001") -> None:
        super().__init__()
        self.token = token
        self.members: dict[tuple[str, str], set[frozenset]] = defaultdict(set)
        self.batches: list[dict[str, Any]] = []
        self.invalid: set[str] = set()

    def check(self, method: str, path: str, headers: dict, body: bytes) -> Any:
        verb = {"/v1/audienceMembers:ingest": "ingest", "/v1/audienceMembers:remove": "remove"}
        if method != "POST" or path not in verb:
            raise self.violate(f"{method} {path} is not audienceMembers:ingest or :remove")
        if headers.get("authorization") != f"Bearer {self.token}":
            status = {"code": 401, "status": "UNAUTHENTICATED", "message": "bad credentials"}
            raise Refused(Reply(401, {"error": status}))
        request = json.loads(body)
        [destination] = self._destinations(request)
        members = request.get("audienceMembers")
        if not isinstance(members, list) or not 1 <= len(members) <= 10_000:
            raise self.violate("audienceMembers: 1 to 10,000 members per request")
        if request.get("encoding") != "HEX":
            raise self.violate("encoding must be HEX")
        return verb[path], destination, [self._member(m) for m in members]

    def _destinations(self, request: dict) -> list[tuple[str, str]]:
        found = request.get("destinations")
        if not isinstance(found, list) or len(found) != 1:
            raise self.violate("one destination per request")
        account = found[0].get("operatingAccount") or {}
        if account.get("accountType") != "GOOGLE_ADS" or not re.fullmatch(
            r"\d{10}", str(account.get("accountId"))
        ):
            raise self.violate(f"operatingAccount {account!r}")
        if not found[0].get("productDestinationId"):
            raise self.violate("productDestinationId missing")
        return [(account["accountId"], found[0]["productDestinationId"])]

    def _member(self, member: dict) -> frozenset:
        identifiers = (member.get("userData") or {}).get("userIdentifiers")
        if not isinstance(identifiers, list) or not 1 <= len(identifiers) <= 10:
            raise self.violate("1 to 10 userIdentifiers per member")
        for identifier in identifiers:
            if len(identifier) != 1 or not set(identifier) <= {"emailAddress", "phoneNumber"}:
                raise self.violate(f"identifier {list(identifier)} must be one known key")
            hashes(self, list(identifier.values()), "userIdentifier")
        return frozenset(v for i in identifiers for v in i.values())

    def apply(self, request: Any) -> Reply:
        verb, destination, members = request
        bad = [i for i, m in enumerate(members) if m & self.invalid]
        if bad:  # fast-fail: nothing of the request is applied
            violations = [
                {"field": f"audience_members[{i}].user_data.user_identifiers[0]",
                 "description": "Invalid hashed value."} for i in bad
            ]  # fmt: skip
            details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                        "fieldViolations": violations}]  # fmt: skip
            error = {"code": 400, "status": "INVALID_ARGUMENT", "message": "Invalid members"}
            return Reply(400, {"error": error | {"details": details}})
        target = self.members[destination]
        target.update(members) if verb == "ingest" else target.difference_update(members)
        self.batches.append({"verb": verb, "members": len(members)})
        return Reply(200, {"requestId": f"req-{len(self.batches)}"})
