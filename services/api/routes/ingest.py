"""Ingest: events and person properties. A batch is validated whole before anything is
stored, so a batch with one bad item stores none of it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from gurulu.common.clock import utcnow
from gurulu.common.store import people

from ..bodies import JsonRoute
from ..deps import ContextDep, WorkspaceDep
from ..openapi import errors
from ..schemas import Accepted, EventBatch, PersonBatch

router = APIRouter(
    prefix="/v1",
    tags=["ingest"],
    route_class=JsonRoute,
    responses=errors(401, 413, 415, 422),
)


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Send a batch again with the key it was first sent with (after a"
        " timeout, say) and it is not stored twice; the key is yours to choose, one per"
        " batch (a UUID). Remembered for the latest 10,000 batches of events.",
    ),
]


@router.post("/events")
async def ingest_events(
    body: EventBatch, ws: WorkspaceDep, ctx: ContextDep, idempotency_key: IdempotencyKey = None
) -> Accepted:
    now = utcnow()
    batch = [
        people.Event(e.event, e.person_id, e.timestamp or now, e.properties) for e in body.events
    ]
    accepted = await ctx.run(people.insert_events, ctx.db, ws.workspace_id, batch, idempotency_key)
    return Accepted(accepted=accepted)


@router.post("/persons")
async def ingest_persons(body: PersonBatch, ws: WorkspaceDep, ctx: ContextDep) -> Accepted:
    batch = [people.Person(p.person_id, p.properties) for p in body.persons]
    accepted = await ctx.run(people.upsert_persons, ctx.db, ws.workspace_id, batch)
    return Accepted(accepted=accepted)
