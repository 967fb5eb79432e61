"""Ingest: events and person properties. A batch is validated whole before anything is
stored, so a batch with one bad item stores none of it."""

from __future__ import annotations

from fastapi import APIRouter

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


@router.post("/events")
async def ingest_events(body: EventBatch, ws: WorkspaceDep, ctx: ContextDep) -> Accepted:
    now = utcnow()
    batch = [
        people.Event(e.event, e.person_id, e.timestamp or now, e.properties) for e in body.events
    ]
    accepted = await ctx.run(people.insert_events, ctx.db, ws.workspace_id, batch)
    return Accepted(accepted=accepted)


@router.post("/persons")
async def ingest_persons(body: PersonBatch, ws: WorkspaceDep, ctx: ContextDep) -> Accepted:
    batch = [people.Person(p.person_id, p.properties) for p in body.persons]
    accepted = await ctx.run(people.upsert_persons, ctx.db, ws.workspace_id, batch)
    return Accepted(accepted=accepted)
