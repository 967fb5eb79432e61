"""The web app's ended sessions (migration 3 of `schema`): signing out ends a session on
the server, not only in the browser that asked.

A session lives in a signed cookie that names its workspace and a random session id. A copy
of the cookie taken before sign-out would still carry a valid signature, so signing out
records the id here, and every request of the app asks for its workspace and whether its
session ended in one query (`signed_in_workspace`), the read each page already did for its
workspace. A row is kept until the last copy of the cookie would have expired anyway; the
table's TTL then drops it, so it holds only the sign-outs of the last few weeks.
"""

from __future__ import annotations

from datetime import datetime

from gurulu.common.clickhouse import ClickHouse
from gurulu.common.clock import utcnow
from gurulu.common.schema import TS, Table
from gurulu.common.store.workspaces import Workspace

WEB_SESSIONS_ENDED = Table(
    "web_sessions_ended",
    (
        "workspace_id String",
        "session_id String",
        f"ended_at {TS}",
        "expires_at DateTime('UTC')",
    ),
    "ReplacingMergeTree",
    "workspace_id, session_id",
)
TTL = "\nTTL expires_at"


def ddl(database: str, cluster: str | None) -> list[str]:
    """The table, with rows dropped once their session could no longer be used; on a
    cluster the TTL belongs to the replicated local table."""
    statements = WEB_SESSIONS_ENDED.ddl(database, cluster)
    statements[0] += TTL
    return statements


_END = WEB_SESSIONS_ENDED.insert_sql(("workspace_id", "session_id", "ended_at", "expires_at"))


def end(db: ClickHouse, workspace_id: str, session_id: str, expires_at: datetime) -> None:
    """Record that the session is over; `expires_at` is when its cookie would have expired."""
    db.command(
        _END,
        {
            "workspace_id": workspace_id,
            "session_id": session_id,
            "ended_at": utcnow(),
            "expires_at": expires_at.replace(microsecond=0),
        },
    )


def signed_in_workspace(
    db: ClickHouse, workspace_id: str, session_id: str, key_id: str
) -> Workspace | None:
    """The session's workspace, or None when the workspace is gone, the session ended, or
    the key it was signed in with has been revoked."""
    row = db.one(
        "SELECT workspace_id, name, plan, created_at, updated_at FROM workspaces FINAL"
        " WHERE workspace_id = {ws:String}"
        " AND {sid:String} NOT IN (SELECT session_id FROM web_sessions_ended"
        " WHERE workspace_id = {ws:String} AND session_id = {sid:String})"
        " AND {key:String} IN (SELECT key_id FROM workspace_keys FINAL"
        " WHERE key_id = {key:String} AND workspace_id = {ws:String})",
        {"ws": workspace_id, "sid": session_id, "key": key_id},
    )
    return Workspace(**row) if row else None
