"""The web app's session: a signed cookie, and the CSRF token that lives in it.

The cookie holds the signed-in workspace's id (never its secret key), a random session id,
the id of the key it signed in with (revoking that key ends the session), a random CSRF
token and a one-shot flash message, as JSON signed with itsdangerous; it is
HttpOnly, SameSite=Lax, scoped to /app, Secure when the browser came over https (to this
server or to a proxy that says so in `X-Forwarded-Proto` or `Forwarded`); a session lasts
14 days from sign-in, however often its cookie is written again. Signing out records the
session id as ended (`gurulu.common.store.web_sessions`), which every signed-in request
checks, so a copy of the cookie kept from before sign-out signs nobody in. Every
state-changing request must echo the CSRF token, in a form field or an `X-CSRF-Token`
header: a page of another site cannot read it, so it cannot forge a post. Signing in
issues a new token, so a token seen before sign-in is worthless after it.

The signing key is derived from the admin token, which every API replica of a deployment
already shares (and `gurulu up` keeps in the data dir): sessions survive restarts and work
behind a load balancer without another secret to configure.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "gurulu_session"
PREFIX = "/app"
STATIC = "/app/static/"
MAX_AGE_SECONDS = 14 * 86400
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class Session(dict[str, Any]):
    """The session's data; remembers whether it changed, so that only then is the cookie
    written again."""

    modified = False

    def __setitem__(self, key: str, value: Any) -> None:
        self.modified = True
        super().__setitem__(key, value)

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        self.modified = self.modified or key in self
        return super().pop(key, *default)

    def restart(self) -> None:
        """Forget everything and issue a new CSRF token (sign-in and sign-out)."""
        self.clear()
        self["csrf"] = secrets.token_urlsafe(32)

    def sign_in(self, workspace_id: str, key_id: str) -> None:
        """A new session for the workspace, with an id of its own that sign-out ends; it
        lasts while the key it was signed in with is not revoked."""
        self.restart()
        self["ws"] = workspace_id
        self["sid"] = secrets.token_urlsafe(18)
        self["key"] = key_id
        self["since"] = int(time.time())

    @property
    def signed_in_as(self) -> tuple[str, str] | None:
        """The workspace and session ids this session claims, if it claims both (and the key
        it was signed in with) and was signed in less than 14 days ago (however often its
        cookie was written since)."""
        workspace_id, session_id, since = self.get("ws"), self.get("sid"), self.get("since")
        if not (isinstance(workspace_id, str) and workspace_id):
            return None
        if not (isinstance(session_id, str) and session_id and isinstance(since, int)):
            return None
        if not self.key_id or time.time() - since > MAX_AGE_SECONDS:
            return None
        return workspace_id, session_id

    @property
    def key_id(self) -> str:
        key_id = self.get("key")
        return key_id if isinstance(key_id, str) else ""

    @property
    def csrf(self) -> str:
        return str(self.get("csrf", ""))

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and bool(self.csrf) and hmac.compare_digest(given or "", self.csrf)


def signing_key(admin_token: str | None) -> str:
    if admin_token is None:
        # No shared secret (an app built without one, as in some tests): sessions are
        # valid for this process only.
        return secrets.token_hex(32)
    return hmac.new(admin_token.encode(), b"gurulu web session v1", hashlib.sha256).hexdigest()


def over_https(scope: Scope) -> bool:
    """Did the browser use https? Either to this server, or to a TLS-terminating proxy in
    front of it that says so (`X-Forwarded-Proto`, `Forwarded: proto=`). The proxy's word is
    taken without asking who sent it: it only decides the cookie's Secure flag, and a client
    that claims https over plain http only keeps its own browser from storing the cookie."""
    if scope.get("scheme") == "https":
        return True
    headers = Headers(scope=scope)
    first = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    forwarded = headers.get("forwarded", "").split(",")[0].lower().replace('"', "")
    pairs = (part.strip().partition("=") for part in forwarded.split(";"))
    return first == "https" or any(k == "proto" and v == "https" for k, _, v in pairs)


class Sessions:
    """ASGI middleware that loads the session of requests under /app and writes the
    cookie back when the session changed."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.serializer = URLSafeTimedSerializer(key, salt="gurulu.web.session")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        # Static files need no session; they would only mint cookies nobody reads.
        if scope["type"] != "http" or not path.startswith(PREFIX) or path.startswith(STATIC):
            await self.app(scope, receive, send)
            return
        session = self._load(HTTPConnection(scope).cookies.get(COOKIE))
        scope.setdefault("state", {})["session"] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.modified:
                cookie = self._cookie(session, over_https(scope))
                MutableHeaders(scope=message).append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, cookie: str | None) -> Session:
        data: dict[str, Any] = {}
        if cookie:
            try:
                loaded = self.serializer.loads(cookie, max_age=MAX_AGE_SECONDS)
                data = loaded if isinstance(loaded, dict) else {}
            except BadData:
                data = {}
        session = Session(data)
        if not session.csrf:
            session["csrf"] = secrets.token_urlsafe(32)
        return session

    def _cookie(self, session: Session, secure: bool) -> str:
        value = self.serializer.dumps(dict(session))
        flags = f"; Max-Age={MAX_AGE_SECONDS}; Path={PREFIX}; HttpOnly; SameSite=Lax"
        return f"{COOKIE}={value}{flags}{'; Secure' if secure else ''}"
