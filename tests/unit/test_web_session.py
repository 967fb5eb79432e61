"""The session cookie's Secure flag: set whenever the browser came over https, to this
server or to a TLS-terminating proxy in front of it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse

from gurulu.api.web.session import COOKIE, Sessions


async def touch(scope: Any, receive: Any, send: Any) -> None:
    Request(scope).state.session["seen"] = True  # a changed session is written back
    await PlainTextResponse("ok")(scope, receive, send)


def cookie_of(scheme: str, headers: dict[str, str]) -> str:
    """The Set-Cookie of one request through the session middleware, as uvicorn hands it
    over (`scheme` is what uvicorn saw, without trusting a proxy's headers)."""
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": scheme,
        "path": "/app/touch",
        "raw_path": b"/app/touch",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(Sessions(touch, key="k" * 64)(scope, receive, send))
    [start] = [m for m in sent if m["type"] == "http.response.start"]
    cookies = [v.decode() for k, v in start["headers"] if k == b"set-cookie"]
    [cookie] = [c for c in cookies if c.startswith(COOKIE)]
    return cookie


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Proto": "https"},
        {"X-Forwarded-Proto": "https, http"},  # the proxy nearest the browser comes first
        {"Forwarded": 'for=203.0.113.7;proto=https;host="app.example.com"'},
        {"Forwarded": "Proto=HTTPS"},
    ],
)
def test_behind_a_proxy_that_terminated_tls_the_cookie_is_secure(headers):
    assert cookie_of("http", headers).endswith("; Secure")


def test_over_https_to_this_server_the_cookie_is_secure():
    assert cookie_of("https", {}).endswith("; Secure")


@pytest.mark.parametrize(
    "headers", [{}, {"X-Forwarded-Proto": "http"}, {"Forwarded": "for=10.0.0.1;proto=http"}]
)
def test_over_plain_http_the_cookie_is_not_secure_so_that_the_browser_keeps_it(headers):
    cookie = cookie_of("http", headers)
    assert "Secure" not in cookie and "HttpOnly" in cookie


def test_a_session_lasts_fourteen_days_from_sign_in_however_often_it_is_written():
    from gurulu.api.web.session import MAX_AGE_SECONDS, Session

    session = Session()
    session.sign_in("ws_1", "0123456789abcdef")
    claimed = session.signed_in_as
    assert claimed is not None and claimed[0] == "ws_1"

    session["since"] -= MAX_AGE_SECONDS - 60  # signed in 13 days 23:59 ago: still good
    assert session.signed_in_as == claimed
    session["since"] -= 120  # past 14 days, whenever its cookie was last written
    assert session.signed_in_as is None
    assert Session({"ws": "ws_1", "sid": "s"}).signed_in_as is None  # no sign-in time
    now = int(time.time())
    assert Session({"ws": "ws_1", "sid": "s", "since": now}).signed_in_as is None  # no key
    assert Session({"ws": "ws_1", "sid": "s", "since": now, "key": "k"}).signed_in_as
