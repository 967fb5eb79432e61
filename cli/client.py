"""The CLI's client of the HTTP API: one thin layer over httpx, and the only CLI code that
talks to the network.

A `Target` says where the API is and which credentials to send; it is read from the
environment (`GURULU_API_URL`, `GURULU_SECRET_KEY`, `GURULU_ADMIN_TOKEN`) or from the
global options, and nothing is opened until a command makes its first request. Every answer
comes back as a `Reply` holding both the body exactly as sent (what `--json` prints) and its
parsed form (what the tables render). A non-2xx answer becomes an `ApiError` carrying the
API's `code`, `message` and the other details of its error body; a server that cannot be
reached becomes `CannotConnect`, so each command handles exactly two failure types. The
`transport` argument is httpx's seam for tests that want no server at all.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
_UNREACHABLE = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol)


@dataclass(frozen=True)
class Target:
    api_url: str = DEFAULT_URL
    secret_key: str | None = None
    admin_token: str | None = None

    @classmethod
    def from_env(cls, api_url: str | None = None, key: str | None = None) -> Target:
        return cls(
            api_url=(api_url or os.environ.get("GURULU_API_URL") or DEFAULT_URL).rstrip("/"),
            secret_key=key or os.environ.get("GURULU_SECRET_KEY") or None,
            admin_token=os.environ.get("GURULU_ADMIN_TOKEN") or None,
        )


@dataclass
class ApiError(Exception):
    """A non-2xx answer, or a request that could not be authenticated at all."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


@dataclass
class CannotConnect(Exception):
    url: str
    reason: str

    def __str__(self) -> str:
        return f"cannot reach the Gurulu API at {self.url}; is `gurulu up` running? ({self.reason})"


@dataclass(frozen=True)
class Reply:
    text: str
    data: Any


def segment(value: str) -> str:
    """One path segment, quoted so that names with spaces or `?` stay one segment."""
    return quote(value, safe="")


class Client:
    def __init__(
        self, target: Target, *, admin: bool = False, transport: httpx.BaseTransport | None = None
    ) -> None:
        credential = target.admin_token if admin else target.secret_key
        if not credential:
            raise _missing_credential(admin)
        self.url = target.api_url
        self._http = httpx.Client(
            base_url=target.api_url,
            headers={"Authorization": f"Bearer {credential}", "User-Agent": "gurulu-cli"},
            timeout=TIMEOUT,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        try:
            response = self._http.request(method, path, **kwargs)
        except _UNREACHABLE as error:
            raise CannotConnect(self.url, type(error).__name__) from error
        except httpx.HTTPError as error:
            raise ApiError(0, "transport_error", f"the API did not answer: {error}") from error
        if response.is_error:
            raise error_from(response)
        try:
            return Reply(response.text, response.json() if response.content else None)
        except ValueError as error:
            raise ApiError(
                response.status_code, "bad_response", "the answer is not JSON"
            ) from error

    def get(self, path: str, **params: Any) -> Reply:
        given = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=given)

    def post(self, path: str, body: Any = None) -> Reply:
        return self.request("POST", path, json=body)

    def patch(self, path: str, body: Any) -> Reply:
        return self.request("PATCH", path, json=body)

    def delete(self, path: str) -> Reply:
        return self.request("DELETE", path)

    @contextmanager
    def stream(self, path: str) -> Iterator[httpx.Response]:
        """A streamed GET; the body is read only as the caller iterates it."""
        try:
            with self._http.stream("GET", path) as response:
                if response.is_error:
                    response.read()
                    raise error_from(response)
                yield response
        except _UNREACHABLE as error:
            raise CannotConnect(self.url, type(error).__name__) from error
        except httpx.HTTPError as error:
            raise ApiError(0, "transport_error", f"the download failed: {error}") from error


def error_from(response: httpx.Response) -> ApiError:
    """The API's error body as an `ApiError`; a body that is not ours (a proxy's HTML page)
    still gives a readable message with the status."""
    try:
        body = response.json()["error"]
        details = {k: v for k, v in body.items() if k not in ("code", "message")}
        return ApiError(response.status_code, str(body["code"]), str(body["message"]), details)
    except (ValueError, KeyError, TypeError):
        reason = response.reason_phrase or "error"
        return ApiError(response.status_code, "http_error", f"HTTP {response.status_code} {reason}")


def _missing_credential(admin: bool) -> ApiError:
    if admin:
        message = "admin commands need the admin token: set GURULU_ADMIN_TOKEN"
    else:
        message = "no secret key: set GURULU_SECRET_KEY or pass --key"
    return ApiError(401, "unauthorized", message)
