"""Workspaces, their plans and their secret keys.

A secret key reads `gsk_<key id>_<secret>`. Only a SHA-256 of the secret is stored; a key is
found by its id and its secret compared in constant time, so the lookup reveals nothing
about how close a guess was.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.ids import new_id
from gurulu.common.store.versions import next_version

Plan = Literal["free", "custom"]
PLAN_LIMITS: dict[str, int | None] = {"free": 3, "custom": None}


@dataclass(frozen=True)
class Workspace:
    workspace_id: str
    name: str
    plan: str
    created_at: datetime
    updated_at: datetime

    @property
    def audience_limit(self) -> int | None:
        return PLAN_LIMITS[self.plan]


_COLUMNS = ("workspace_id", "name", "plan", "created_at", "updated_at", "version")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def save(db: ClickHouse, workspace: Workspace) -> None:
    row = (
        workspace.workspace_id,
        workspace.name,
        workspace.plan,
        workspace.created_at,
        workspace.updated_at,
        next_version(),
    )
    db.insert("workspaces", [row], _COLUMNS)


def create(db: ClickHouse, name: str, plan: Plan) -> tuple[Workspace, str]:
    """A new workspace and its secret key (shown once, stored only as a hash)."""
    now = utcnow()
    workspace = Workspace(new_id("ws"), name, plan, now, now)
    save(db, workspace)
    return workspace, issue_key(db, workspace.workspace_id)


def issue_key(db: ClickHouse, workspace_id: str) -> str:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    db.insert(
        "workspace_keys",
        [(key_id, workspace_id, _hash(secret), utcnow(), next_version())],
        ("key_id", "workspace_id", "secret_hash", "created_at", "version"),
    )
    return f"gsk_{key_id}_{secret}"


def authenticate(db: ClickHouse, key: str) -> Workspace | None:
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != "gsk" or len(key_id) != 16 or not secret:
        return None
    row = db.one(
        "SELECT workspace_id, secret_hash FROM workspace_keys FINAL WHERE key_id = {id:String}",
        {"id": key_id},
    )
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    return get(db, row["workspace_id"])


def get(db: ClickHouse, workspace_id: str) -> Workspace | None:
    row = db.one(
        "SELECT workspace_id, name, plan, created_at, updated_at FROM workspaces FINAL"
        " WHERE workspace_id = {ws:String}",
        {"ws": workspace_id},
    )
    return Workspace(**row) if row else None


def list_ids(db: ClickHouse) -> list[str]:
    """Every workspace, for the processes that work across them (the ticker)."""
    return [row[0] for row in db.rows("SELECT workspace_id FROM workspaces FINAL")]
