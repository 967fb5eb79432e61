"""Every error leaves the API as `{"error": {"code", "message", ...details}}` with its
status: use-case errors by their code, validation errors as 422 `invalid_request` naming
the offending field, unknown routes as 404, Redis out of reach as 503 `unavailable`, and
anything unforeseen as a 500 that says nothing of the internals (and is logged with the
request id)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException

from gurulu.common import logs
from gurulu.common.errors import GuruluError

log = logs.get("gurulu.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str, **details: Any) -> JSONResponse:
    body = {"error": {"code": code, "message": message, **details}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def plain_message(message: str) -> str:
    """A validation message without the validator's kind in front ("Value error, …")."""
    for kind in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(kind)
    return message


async def _gurulu(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, GuruluError)
    details = dict(error.details)
    if error.status == 422 and "errors" not in details:
        # every 422 lists its problems, as a validation error does
        field = details.get("field") or "body"
        details["errors"] = [{"field": field, "message": error.message}]
    return error_response(error.status, error.code, error.message, **details)


def problems(errors: Sequence[Mapping[str, Any]], within: tuple[str, ...] = ()) -> list[dict]:
    """Validation errors as the API lists them: each a dotted field (inside `within`) and
    a message for people."""
    return [
        {
            "field": _field((*within, *found.get("loc", ()))),
            "message": plain_message(found.get("msg", "invalid")),
        }
        for found in errors
    ]


async def _validation(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    listed = problems(error.errors())
    first = listed[0] if listed else {"field": "body", "message": "invalid request"}
    if first["message"].startswith("JSON decode error"):
        first = {"field": "body", "message": "the body is not valid JSON"}
    message = f"{first['field']}: {first['message']}"
    return error_response(422, "invalid_request", message, field=first["field"], errors=listed)


async def _http(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    code = _HTTP_CODES.get(error.status_code, "error")
    message = error.detail if isinstance(error.detail, str) else code.replace("_", " ")
    if error.status_code == 404 and message == "Not Found":
        message = f"no route {request.method} {request.url.path}"
    return error_response(error.status_code, code, message)


async def _redis_down(request: Request, error: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    log.warning("api.redis_unavailable", request_id=request_id, error=str(error))
    return error_response(503, "unavailable", "Redis cannot be reached; try again shortly")


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    log.exception("api.unexpected_error", request_id=request_id, path=request.url.path)
    return error_response(500, "internal_error", "something went wrong on our side")


def install(app: FastAPI) -> None:
    app.add_exception_handler(GuruluError, _gurulu)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(RedisError, _redis_down)
    app.add_exception_handler(Exception, _unexpected)
