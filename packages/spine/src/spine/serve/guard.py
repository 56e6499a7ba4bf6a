"""The app's outer layers: a bearer token (constant-time compared), a request body size
limit, and the scrubbing of secret values from what the server sends.

Both middlewares are plain ASGI, so they also cover the mounted A2A and MCP apps and every
streamed response.
"""

from __future__ import annotations

import hmac
import json
import os
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BearerAuth", "BodyLimit", "BodyTooLarge", "Scrubber"]

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
_MIN_SECRET_LEN = 8


async def _send_json(
    send: Send, status: int, body: dict[str, object], headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    data = json.dumps(body).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(data)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


class BearerAuth:
    """Require `Authorization: Bearer TOKEN` on every request except the open paths (the
    health check and the UI's static files, which hold no data). The token is compared with
    `hmac.compare_digest` (constant time). A failure is a 401 with `WWW-Authenticate: Bearer`.

    Args:
        app: The wrapped ASGI app.
        token: The token; None or "" turns the check off.
        open_paths: Paths served without a token; one ending in "/" (other than "/" itself)
            opens everything under it.
    """

    def __init__(
        self, app: ASGIApp, *, token: str | None, open_paths: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.token = token.encode("utf-8") if token else None
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None or self._is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, credential = value.partition(b" ")
                if scheme.lower() == b"bearer":
                    given = credential.strip()
                break
        if not hmac.compare_digest(given, self.token):
            await _send_json(
                send,
                401,
                {"detail": "missing or wrong bearer token (Authorization: Bearer TOKEN)"},
                [(b"www-authenticate", b"Bearer")],
            )
            return
        await self.app(scope, receive, send)

    def _is_open(self, path: str) -> bool:
        return any(
            path == p or (len(p) > 1 and p.endswith("/") and path.startswith(p))
            for p in self.open_paths
        )


class BodyLimit:
    """Refuse request bodies over `max_bytes` with a 413: at once when `Content-Length` says
    so, else as soon as the streamed body passes the limit.

    Args:
        app: The wrapped ASGI app.
        max_bytes: The largest body accepted (bytes).
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _send_json(send, 400, {"detail": "bad Content-Length header"})
                    return
                if declared > self.max_bytes:
                    await self._refuse(send)
                    return
        seen = 0
        started = False
        too_big = False

        async def limited_receive() -> Message:
            nonlocal seen, too_big
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    too_big = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)
        except BaseException:
            if too_big and not started:
                await self._refuse(send)
                return
            raise

    async def _refuse(self, send: Send) -> None:
        await _send_json(
            send, 413, {"detail": f"request body is larger than {self.max_bytes} bytes"}
        )


class BodyTooLarge(Exception):
    """Raised from `receive` when a streamed body passes the limit (a route turns it into
    a 413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"request body is larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


class Scrubber:
    """Replaces secret values with `***` in text the server sends: the values of environment
    variables whose names say KEY, TOKEN, SECRET, PASSWORD or CREDENTIAL (8 characters or
    more), and any extra values given (the server's bearer token).

    Args:
        extra: More secret values.
    """

    def __init__(self, extra: Iterable[str | None] = ()) -> None:
        values = {
            v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LEN
        }
        values.update(v for v in extra if v and len(v) >= 4)
        self.secrets = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text
