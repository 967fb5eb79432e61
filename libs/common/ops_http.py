"""The small HTTP listener of services that have no API of their own (ticker, evaluator,
snapshotter, destinations in the distributed setup): liveness, readiness and metrics, the
same three routes the API serves."""

from __future__ import annotations

import redis.asyncio as aioredis
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gurulu.common import health
from gurulu.common.clickhouse import ClickHouse


def create_ops_app(db: ClickHouse, redis: aioredis.Redis) -> Starlette:
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = await health.check(db, redis)
        ready = all(ok for ok, _ in checks.values())
        body = {"status": "ready" if ready else "not_ready"}
        body["checks"] = {name: detail for name, (_, detail) in checks.items()}  # type: ignore[assignment]
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ]
    )
