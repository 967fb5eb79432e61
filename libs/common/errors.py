"""Errors the use cases raise and every entrypoint translates the same way (HTTP status,
CLI message). Each carries a stable `code` and the details a client can act on."""

from __future__ import annotations

from typing import Any


class GuruluError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(GuruluError):
    code = "not_found"
    status = 404


class InvalidRequest(GuruluError):
    code = "invalid_request"
    status = 422


class Conflict(GuruluError):
    code = "conflict"
    status = 409


class QuotaExceeded(GuruluError):
    code = "quota_exceeded"
    status = 402


class Unauthorized(GuruluError):
    code = "unauthorized"
    status = 401
