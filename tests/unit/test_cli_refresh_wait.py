"""`gurulu audience refresh --wait`: how it follows a run through the API's run list. The
API here is a scripted transport (the command's polling is pure client logic); the command
against a real system is in tests/e2e/test_cli.py."""

from __future__ import annotations

import json

import httpx
import pytest
import typer

from gurulu.cli.client import ApiError, Client, Target
from gurulu.cli.commands.audience import _finished

RUN = {
    "run_id": "run_1",
    "reason": "manual",
    "status": "queued",
    "member_count": 0,
    "joined_count": 0,
    "left_count": 0,
    "duration_seconds": None,
    "error": "",
}


def api_answering(*statuses: str) -> tuple[Client, list[str]]:
    """A client whose run list shows run_1 with each of `statuses` in turn (the last one
    for ever after), behind an older run; and the paths it was asked for."""
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.raw_path.decode())
        status = statuses[min(len(asked) - 1, len(statuses) - 1)]
        runs = [RUN | {"status": status}, RUN | {"run_id": "run_0", "status": "succeeded"}]
        return httpx.Response(200, json={"data": runs})

    target = Target(api_url="http://gurulu.test", secret_key="gsk_test")
    return Client(target, transport=httpx.MockTransport(answer)), asked


def test_it_returns_the_run_once_it_has_finished_whatever_came_before():
    api, asked = api_answering("queued", "running", "running", "succeeded")
    with api:
        run = _finished(api, "aud 1", "run_1", timeout=30, as_json=False)
    assert run["status"] == "succeeded" and len(asked) == 4
    assert set(asked) == {"/v1/audiences/aud%201/runs"}


def test_a_failed_run_is_finished_too():
    api, _ = api_answering("running", "failed")
    with api:
        assert _finished(api, "aud_1", "run_1", timeout=30, as_json=False)["status"] == "failed"


def test_a_run_still_going_at_the_timeout_exits_1_saying_so_as_json(capsys):
    api, _ = api_answering("running")
    with api, pytest.raises(typer.Exit) as exited:
        _finished(api, "aud_1", "run_1", timeout=0.3, as_json=True)
    assert exited.value.exit_code == 1
    error = json.loads(capsys.readouterr().err)["error"]
    assert (error["code"], error["run_id"]) == ("still_running", "run_1")
    assert "still running after 0.3 s" in error["message"]


def test_an_api_that_stops_answering_for_a_while_is_asked_again():
    """A dropped connection, a refused one, a 503 while the API restarts: the run goes on
    without the API, and the command keeps asking until it finishes."""
    asked: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(1)
        if len(asked) == 1:
            raise httpx.ReadError("Connection reset by peer")
        if len(asked) == 2:
            raise httpx.ConnectError("Connection refused")
        if len(asked) == 3:
            return httpx.Response(503, json={"error": {"code": "unavailable", "message": "x"}})
        return httpx.Response(200, json={"data": [RUN | {"status": "succeeded"}]})

    target = Target(api_url="http://gurulu.test", secret_key="gsk_test")
    with Client(target, transport=httpx.MockTransport(answer)) as api:
        run = _finished(api, "aud_1", "run_1", timeout=30, as_json=False)
    assert run["status"] == "succeeded" and len(asked) == 4


def test_a_refusal_is_not_asked_again():
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "gone"}})

    target = Target(api_url="http://gurulu.test", secret_key="gsk_test")
    with Client(target, transport=httpx.MockTransport(answer)) as api, pytest.raises(ApiError):
        _finished(api, "aud_1", "run_1", timeout=30, as_json=False)
