"""JSON request bodies, read before any route sees them.

JSON can carry text that is not Unicode: a lone surrogate escape (`"\\ud800"`) is valid
JSON, and Python reads it into a `str` that ClickHouse, the logs and any answer quoting it
cannot take. Such a body is refused as a whole with 422 `invalid_request` naming the field,
before anything is stored. So is a body Python cannot read at all — nested too deeply, or
with a number of thousands of digits — which the framework would otherwise answer with a
400 of its own rather than the contract's 422.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from .errors import error_response

_SURROGATE = re.compile("[\ud800-\udfff]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class UnreadableBody(Exception):
    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


async def read_json(request: Request) -> Any:
    """The request's body as JSON whose every key and text is Unicode, or UnreadableBody
    saying why. Parsed by `request.json()`, which keeps the result on the request: the
    framework reads a route's body model from that same parse, not from a second one."""
    try:
        value = await request.json()
    except UnicodeDecodeError:
        raise UnreadableBody("the body is not UTF-8") from None
    except json.JSONDecodeError:
        raise UnreadableBody("the body is not valid JSON") from None
    except RecursionError:
        raise UnreadableBody("the body is nested too deeply") from None
    except ValueError as error:  # a number with more digits than Python converts
        raise UnreadableBody(f"the body cannot be read: {error}") from None
    where = _lone_surrogate(value)
    if where is not None:
        raise UnreadableBody(
            "text must be valid Unicode: it holds a lone surrogate (an unpaired \\uD800–\\uDFFF"
            " escape)",
            where,
        )
    return value


def _lone_surrogate(value: Any) -> str | None:
    """The dotted path of the first key or text holding a lone surrogate, if any."""
    stack: list[tuple[tuple[str, ...], Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return ".".join(path) or "body"
        elif isinstance(item, dict):
            for key, inner in item.items():
                if _SURROGATE.search(key):
                    return ".".join((*path, _SURROGATE.sub("?", key))) or "body"
                stack.append(((*path, key), inner))
        elif isinstance(item, list):
            stack.extend(((*path, str(index)), inner) for index, inner in enumerate(item))
    return None


def _is_json(request: Request) -> bool:
    """Will the framework read the body as JSON? It does for a JSON type, and for a body
    sent without any Content-Type."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in ("", "application/json") or content_type.endswith("+json")


def _not_json(request: Request) -> str | None:
    """Why a body will not be read as JSON, if it will not: another Content-Type, or a
    compressed body. (Said as such, rather than as the 422 a model would give it.)"""
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", "identity"):
        return f"the body must not be compressed (Content-Encoding: {encoding[:40]})"
    if not _is_json(request):
        return f"the body must be JSON, sent as application/json (not {content_type[:60]})"
    return None


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class JsonRoute(APIRoute):
    """A route whose JSON body is read by `read_json` first (the framework then validates
    the route's model from that parse, kept on the request)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if self.body_field is None:  # a route that reads no body (refresh, sync) ignores it
            return handler

        async def checked(request: Request) -> Response:
            if request.method in _BODY_METHODS and (refusal := _not_json(request)):
                return error_response(415, "unsupported_media_type", refusal)
            if request.method in _BODY_METHODS and _is_json(request) and await request.body():
                try:
                    await read_json(request)
                except UnreadableBody as error:
                    message = f"{error.field}: {error.message}"
                    problem = {"field": error.field, "message": error.message}
                    return error_response(
                        422, "invalid_request", message, field=error.field, errors=[problem]
                    )
            return await handler(request)

        return checked
