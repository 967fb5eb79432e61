"""The HTTP server under every fake platform: a real server on a free port in a thread that
checks each request (`check`), answers scripted failures first (`script`), and otherwise
does what the platform would do (`apply`). See `fakes.py`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HEX64 = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks verification, written independently of the sender's code."""
    key = base64.b64decode(secret.split("_", 1)[1])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1) for s in headers.get("webhook-signature", "").split(" ")]
    return any(len(p) == 2 and p[0] == "v1" and hmac.compare_digest(p[1], expected) for p in given)


class FakePlatform:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.violations: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self._script: list[Reply] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                size = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(size) if size else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = fake._dispatch(self.command, self.path, headers, body)
                if reply.delay:
                    time.sleep(reply.delay)
                data = json.dumps(reply.body).encode() if reply.body is not None else b""
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout we were told to cause)

            do_POST = do_DELETE = do_GET = do_PUT = _serve

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakePlatform:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        with self.lock:
            self.finish()
        if kind is None and self.violations:  # a test that broke the contract fails
            raise AssertionError(f"{type(self).__name__} contract violations: {self.violations}")

    def finish(self) -> None:
        """Checks of what a whole exchange owes (a fake may add violations)."""

    def script(self, *replies: Reply) -> None:
        with self.lock:
            self._script.extend(replies)

    def _dispatch(self, method: str, path: str, headers: dict, body: bytes) -> Reply:
        with self.lock:
            self.requests.append((method, path))
            try:
                request = self.check(method, path, headers, body)
            except Refused as refused:
                return refused.reply
            if self._script:
                return self._script.pop(0)
            return self.apply(request)

    def violate(self, message: str) -> Refused:
        self.violations.append(message)
        return Refused(Reply(400, {"error": {"message": f"contract violation: {message}"}}))

    def check(self, method: str, path: str, headers: dict, body: bytes) -> Any:
        raise NotImplementedError

    def apply(self, request: Any) -> Reply:
        raise NotImplementedError


def hashes(fake: FakePlatform, values: list[Any], where: str) -> None:
    for value in values:
        if value != "" and not (isinstance(value, str) and HEX64.match(value)):
            raise fake.violate(f"{where}: {value!r} is not lowercase SHA-256 hex")
