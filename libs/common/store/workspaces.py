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


@dataclass(frozen=True)
class Key:
    """A workspace's secret key as it can be shown again: its id and when it was made."""

    key_id: str
    created_at: datetime


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
    key, _ = issue_key(db, workspace.workspace_id)
    return workspace, key


_KEY_COLUMNS = ("key_id", "workspace_id", "secret_hash", "created_at", "version", "is_deleted")


def issue_key(db: ClickHouse, workspace_id: str) -> tuple[str, Key]:
    """A new secret key for the workspace (shown once) and what can be shown of it again;
    its other keys keep working (a rotation issues the new one, moves the clients over,
    then revokes the old)."""
    made = Key(secrets.token_hex(8), utcnow())
    secret = secrets.token_urlsafe(32)
    db.insert(
        "workspace_keys",
        [(made.key_id, workspace_id, _hash(secret), made.created_at, next_version(), 0)],
        _KEY_COLUMNS,
    )
    return f"gsk_{made.key_id}_{secret}", made


def _parts(key: str) -> tuple[str, str]:
    """A secret key's id and secret (`gsk_<id>_<secret>`); empty when it is not shaped so."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    return (key_id, secret) if prefix == "gsk" and len(key_id) == 16 and secret else ("", "")


def key_id_of(key: str) -> str:
    """The id part of a secret key; "" when it is not shaped as one."""
    return _parts(key)[0]


def keys(db: ClickHouse, workspace_id: str) -> list[Key]:
    rows = db.rows(
        "SELECT key_id, created_at FROM workspace_keys FINAL"
        " WHERE workspace_id = {ws:String} ORDER BY created_at, key_id",
        {"ws": workspace_id},
    )
    return [Key(key_id, created_at) for key_id, created_at in rows]


def revoke_key(db: ClickHouse, workspace_id: str, key_id: str) -> bool:
    """Revoke one of the workspace's keys; False if it has no such key."""
    row = db.one(
        "SELECT secret_hash, created_at FROM workspace_keys FINAL"
        " WHERE key_id = {id:String} AND workspace_id = {ws:String}",
        {"id": key_id, "ws": workspace_id},
    )
    if row is None:
        return False
    values = (key_id, workspace_id, row["secret_hash"], row["created_at"], next_version(), 1)
    db.insert("workspace_keys", [values], _KEY_COLUMNS)
    return True


def authenticate(db: ClickHouse, key: str) -> Workspace | None:
    key_id, secret = _parts(key)
    if not key_id:
        return None
    row = db.one(
        "SELECT workspace_id, secret_hash FROM workspace_keys FINAL WHERE key_id = {id:String}",
        {"id": key_id},
    )
    if row is None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
        return None
    return get(db, row["workspace_id"])


def list_all(db: ClickHouse) -> list[Workspace]:
    rows = db.dicts(
        "SELECT workspace_id, name, plan, created_at, updated_at FROM workspaces FINAL"
        " ORDER BY created_at, workspace_id"
    )
    return [Workspace(**row) for row in rows]


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
