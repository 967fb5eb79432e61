"""The API when Redis goes away: a refresh asked for is recorded, so it is accepted (the
ticker's sweep sends it once Redis is back); what needs Redis itself answers 503
`unavailable` and changes nothing, never a bare 500."""

from __future__ import annotations

import httpx
from faststream.redis import RedisBroker

from gurulu.api.app import create_app
from gurulu.api.context import ApiContext
from gurulu.common import redis as redis_support
from gurulu.common.settings import Settings
from gurulu.common.store import audiences, runs, workspaces
from tests.support import audience, cohort


async def test_with_redis_gone_a_refresh_is_recorded_and_the_rest_is_503(db, tmp_path):
    server = redis_support.EmbeddedRedis(tmp_path / "redis")
    client = redis_support.client(server.url)
    broker = RedisBroker(server.url, logger=None)
    await broker.connect()
    ws, key = workspaces.create(db, "Shop", "custom")
    wid = ws.workspace_id
    aud = audience(db, wid, cohort(db, wid, "gold", "person:plan = gold"))
    app = create_app(ApiContext(Settings(data_dir=tmp_path), db, client, broker))
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {key}"}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
            server.stop()
            path = f"/v1/audiences/{aud.audience_id}/refresh"
            answer = await api.post(path, headers=headers)
            assert answer.status_code == 202, answer.text
            run = runs.get(db, wid, aud.audience_id, answer.json()["run_id"])
            assert run is not None and run.status == "queued"
            again = await api.post(path, headers=headers)
            assert again.status_code == 202 and again.json() == answer.json()

            body = {"name": "Another", "source_cohort_id": "gold"}
            refused = await api.post("/v1/audiences", json=body, headers=headers)
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["code"] == "unavailable"
            assert [a.name for a in audiences.list_all(db, wid)] == [aud.name]
    finally:
        await broker.stop()
        await client.aclose()
