"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gurulu.common import health

from ..deps import ContextDep
from ..errors import error_response
from ..openapi import ErrorBody

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=None,
    responses={503: {"model": ErrorBody, "description": "A store is not reachable (`not_ready`)."}},
)
async def readyz(ctx: ContextDep):  # type: ignore[no-untyped-def]
    checks = await health.check(ctx.db, ctx.redis)
    if all(ok for ok, _ in checks.values()):
        return {"status": "ready", "checks": {k: v for k, (_, v) in checks.items()}}
    failing = {k: v for k, (ok, v) in checks.items() if not ok}
    return error_response(503, "not_ready", "a store is not reachable", checks=failing)


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
