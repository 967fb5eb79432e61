"""Dependencies of the routes, as named aliases: the context, and the caller's workspace
(from its secret key) or the admin (from the admin token)."""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gurulu.common.errors import Unauthorized
from gurulu.common.store import workspaces
from gurulu.common.store.workspaces import Workspace

from .context import ApiContext

_bearer = HTTPBearer(auto_error=False)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_KEY_CACHE_SECONDS = 30.0


def get_context(request: Request) -> ApiContext:
    return request.app.state.context


ContextDep = Annotated[ApiContext, Depends(get_context)]


class KeyCache:
    """Recently verified keys, so that a burst of requests does not look a key up each
    time; entries expire quickly, so a revoked key stops working within seconds."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, Workspace]] = {}

    def get(self, key: str) -> Workspace | None:
        hit = self._seen.get(key)
        if hit and time.monotonic() - hit[0] < _KEY_CACHE_SECONDS:
            return hit[1]
        return None

    def put(self, key: str, workspace: Workspace) -> None:
        if len(self._seen) > 10_000:
            self._seen.clear()
        self._seen[key] = (time.monotonic(), workspace)

    def forget(self, key_id: str) -> None:
        """Drop a revoked key at once (on this replica; others let it expire)."""
        for key in [k for k in self._seen if workspaces.key_id_of(k) == key_id]:
            del self._seen[key]


async def current_workspace(request: Request, ctx: ContextDep, creds: Credentials) -> Workspace:
    if creds is None or not creds.credentials:
        raise Unauthorized("send your workspace's secret key as 'Authorization: Bearer <key>'")
    cache: KeyCache = request.app.state.key_cache
    workspace = cache.get(creds.credentials)
    if workspace is None:
        workspace = await ctx.run(workspaces.authenticate, ctx.db, creds.credentials)
        if workspace is None:
            raise Unauthorized("that secret key is not valid")
        cache.put(creds.credentials, workspace)
    request.state.workspace_id = workspace.workspace_id
    return workspace


async def require_admin(ctx: ContextDep, creds: Credentials) -> None:
    token = ctx.settings.admin_token
    given = creds.credentials if creds else ""
    if token is None or not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise Unauthorized("admin routes take the admin token")


WorkspaceDep = Annotated[Workspace, Depends(current_workspace)]
AdminDep = Depends(require_admin)
