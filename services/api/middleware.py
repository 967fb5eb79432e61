"""ASGI middleware of the API: a request id on every request (a header both ways, and on
every log line), a cap on body size, latency by route template, and a log line per request
with the client's address (behind a proxy named in GURULU_FORWARDED_ALLOW_IPS, the address
it forwarded for)."""

from __future__ import annotations

import contextlib
import re
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gurulu.common import logs, metrics
from gurulu.common.ids import new_id

from .errors import error_response

log = logs.get("gurulu.api")
MAX_BODY_BYTES = 8 * 1024 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
# A client may send any method; the latency metric's label keeps to the ones that exist.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class BodyTooLarge(Exception):
    pass


class RequestContext:
    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else new_id("req")
        scope.setdefault("state", {})["request_id"] = request_id
        declared = headers.get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(scope, receive, send, request_id)
            return
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        received = 0
        overflow = False

        async def limited_receive() -> Message:
            nonlocal received, overflow
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                overflow = True
                raise BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if overflow:  # the framework's answer to a body it could not read becomes a 413
                return
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            with contextlib.suppress(BodyTooLarge):
                await self.app(scope, limited_receive, send_with_id)
            if overflow:  # a chunked body has no length to refuse it by up front
                await self._too_large(scope, receive, send, request_id)
                status = 413
        finally:
            elapsed = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in _METHODS else "other"
            metrics.API_LATENCY.labels(method, template, str(status)).observe(elapsed)
            log.info(
                "api.request",
                method=scope["method"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
                workspace_id=scope["state"].get("workspace_id"),
                client=(scope.get("client") or ("",))[0],
            )
            structlog.contextvars.unbind_contextvars("request_id")

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, request_id: str):
        response = error_response(
            413, "payload_too_large", f"the body is larger than {self.max_body} bytes"
        )
        response.headers["x-request-id"] = request_id
        await response(scope, receive, send)
