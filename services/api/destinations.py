"""Destination use cases: connect a destination to an audience, edit, pause and resume it,
remove it, and ask for a sync now.

Every write holds the workspace's destinations lock (the destinations service holds it
too when it pauses one), so edits never overwrite each other. Credentials are sealed
before they are stored and never leave the process again except as a four-character hint.
A destination connected or resumed is synced at once to the audience's latest refresh: a
sync record is written as queued, then a `SyncRequested` is sent to the destinations
service; an audience that has not refreshed yet syncs after its first refresh.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import urlsplit

from pydantic import ValidationError

from gurulu.common import crypto
from gurulu.common.clock import utcnow
from gurulu.common.destination_config import CONFIGS, WEBHOOK_SECRET_PREFIX
from gurulu.common.errors import Conflict, InvalidRequest, NotFound
from gurulu.common.ids import new_id
from gurulu.common.messages import DESTINATION_SYNC_STREAM, SyncRequested
from gurulu.common.store import destinations, runs, syncs
from gurulu.common.store.destinations import Destination
from gurulu.common.store.syncs import Sync
from gurulu.common.streams import publish

from . import audiences
from .context import ApiContext
from .destination_schemas import DestinationCreate, DestinationUpdate
from .errors import problems

# Fields that name where the members go: a new target starts from nothing, so it is a
# new destination rather than an edit of this one.
TARGETS = {
    "meta_custom_audience": ("audience_id",),
    "google_customer_match": ("customer_id", "product_destination_id"),
}


async def create(
    ctx: ApiContext, workspace_id: str, audience_id: str, body: DestinationCreate
) -> tuple[Destination, str | None, Sync | None]:
    """The new destination, the signing secret if one was generated, its first sync."""
    await audiences.get(ctx, workspace_id, audience_id)
    config, generated = dict(body.config), None
    if body.type == "webhook" and not config.get("secret"):
        generated = WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
        config["secret"] = generated
    public, sealed, hints = _seal(ctx, body.type, config)
    now = utcnow()
    destination = Destination(
        workspace_id, new_id("dst"), audience_id, body.type,
        body.name or _default_name(body.type, public),
        body.mode, "active", now, now, public, sealed, hints,
    )  # fmt: skip
    async with ctx.exclusive(destinations.LOCK, workspace_id):
        await ctx.run(destinations.save, ctx.db, destination)
    return destination, generated, await request_sync(ctx, destination, "connected")


async def update(
    ctx: ApiContext,
    workspace_id: str,
    audience_id: str,
    destination_id: str,
    body: DestinationUpdate,
) -> Destination:
    async with ctx.exclusive(destinations.LOCK, workspace_id):
        current = await get(ctx, workspace_id, audience_id, destination_id)
        changed = current.but(updated_at=utcnow())
        if body.name is not None:
            changed = changed.but(name=body.name)
        if body.mode is not None:
            changed = changed.but(mode=body.mode)
        if body.config is not None:
            changed = _reconfigured(ctx, changed, body.config)
        if body.status is not None and body.status != current.status:
            reason = "" if body.status == "active" else "paused by a user"
            changed = changed.but(status=body.status, paused_reason=reason)
        await ctx.run(destinations.save, ctx.db, changed)
    if current.status == "paused" and changed.status == "active":
        await request_sync(ctx, changed, "resumed")
    return changed


async def remove(ctx: ApiContext, workspace_id: str, audience_id: str, destination_id: str) -> None:
    async with ctx.exclusive(destinations.LOCK, workspace_id):
        found = await get(ctx, workspace_id, audience_id, destination_id)
        await ctx.run(destinations.delete, ctx.db, found.but(updated_at=utcnow()))


async def get(
    ctx: ApiContext, workspace_id: str, audience_id: str, destination_id: str
) -> Destination:
    await audiences.get(ctx, workspace_id, audience_id)
    found = await ctx.run(destinations.get, ctx.db, workspace_id, audience_id, destination_id)
    if found is None:
        raise NotFound(f"no destination {destination_id!r} on this audience")
    return found


async def sync_now(
    ctx: ApiContext, workspace_id: str, audience_id: str, destination_id: str
) -> Sync:
    destination = await get(ctx, workspace_id, audience_id, destination_id)
    if destination.status != "active":
        raise Conflict("the destination is paused; resume it to sync it")
    sync = await request_sync(ctx, destination, "manual")
    if sync is None:
        raise Conflict("the audience has not refreshed yet; it syncs after its first refresh")
    return sync


async def request_sync(ctx: ApiContext, destination: Destination, trigger: str) -> Sync | None:
    ws, aud = destination.workspace_id, destination.audience_id
    latest = await ctx.run(runs.latest_succeeded, ctx.db, ws, aud)
    if latest is None:
        return None
    sync = Sync(
        ws, aud, destination.destination_id, new_id("syn"), latest.run_id, trigger, "queued",
        utcnow(),
    )  # fmt: skip
    await ctx.run(syncs.save, ctx.db, sync)
    message = SyncRequested(
        workspace_id=ws,
        audience_id=aud,
        destination_id=destination.destination_id,
        sync_id=sync.sync_id,
        run_id=sync.run_id,
        trigger=trigger,  # type: ignore[arg-type]
        requested_at=sync.requested_at,
    )
    await publish(ctx.broker, DESTINATION_SYNC_STREAM, message)
    return sync


def _reconfigured(ctx: ApiContext, destination: Destination, given: dict[str, Any]) -> Destination:
    for name in TARGETS.get(destination.type, ()):
        if name in given and given[name] != destination.config.get(name):
            raise InvalidRequest(
                f"config.{name}: a destination keeps its target; connect a new destination"
                " to send to another one",
                field=f"config.{name}",
            )
    vault = crypto.vault(ctx.settings)
    merged = destination.config | vault.open(destination.credentials) | given
    public, sealed, hints = _seal(ctx, destination.type, merged)
    return destination.but(config=public, credentials=sealed, credential_hints=hints)


def _seal(
    ctx: ApiContext, kind: str, config: dict[str, Any]
) -> tuple[dict[str, Any], str, dict[str, str]]:
    """Validate a configuration; return its public part, its sealed secrets, their hints."""
    model = CONFIGS[kind]
    try:
        parsed = model.model_validate(config)
    except ValidationError as error:
        listed = problems(error.errors(), within=("config",))
        first = listed[0]
        raise InvalidRequest(
            f"{first['field']}: {first['message']}", field=first["field"], errors=listed
        ) from None
    public = parsed.model_dump(exclude_none=True)
    hidden = {name: str(public.pop(name)) for name in model.SECRETS if name in public}
    vault = crypto.vault(ctx.settings)
    return public, vault.seal(hidden), {name: crypto.hint(v) for name, v in hidden.items()}


def _default_name(kind: str, config: dict[str, Any]) -> str:
    if kind == "webhook":
        return f"Webhook to {urlsplit(config['url']).hostname}"
    if kind == "meta_custom_audience":
        return f"Meta audience {config['audience_id']}"
    return f"Google list {config['product_destination_id']}"
