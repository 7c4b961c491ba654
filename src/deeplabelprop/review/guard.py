"""Who may use the review server (an ASGI middleware in front of every route).

Binding 127.0.0.1 is not enough: other local users, and any web page the person has open, can
reach it too. So every request must carry the random token printed in the page's URL (``token``
in the query, or the ``X-Token`` header); the ``Host`` header must name the server itself (a
page on another name that resolves to 127.0.0.1, DNS rebinding, is refused); and a request that
changes anything must be a JSON ``POST`` with the token in its header, from the page's own
origin when the browser names one. Refusals are plain ``403``. Only the page's own script and
style sheet (``public``: code, no data) are served without the token.
"""

from __future__ import annotations

import hmac
from urllib.parse import parse_qs

SAFE_METHODS = ("GET", "HEAD")


class Guard:
    """ASGI middleware: token, Host and Origin checks (see the module docstring)."""

    def __init__(self, app, token: str, hosts: set[str], origins: set[str], public=()):
        self.app, self.token, self.hosts, self.origins = app, token, hosts, origins
        self.public = set(public)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        why = self.refusal(scope)
        if why is not None:
            await _refuse(send, why)
            return
        await self.app(scope, receive, send)

    def refusal(self, scope) -> str | None:
        """Why this request is refused, or None."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if host not in self.hosts:
            return "unknown Host"
        header_token = headers.get("x-token", "")
        if scope["method"] not in SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and origin not in self.origins:
                return "cross-origin request"
            if not headers.get("content-type", "").startswith("application/json"):
                return "expected application/json"
            return None if _same(header_token, self.token) else "missing or wrong token"
        if scope["path"] in self.public:
            return None
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        given = header_token or (query.get("token") or [""])[0]
        return None if _same(given, self.token) else "missing or wrong token"


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode(), token.encode())


async def _refuse(send, why: str) -> None:
    body = f"forbidden: {why}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
