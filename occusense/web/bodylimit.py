"""Refuse request bodies over a size limit before any route reads them.

Starlette and FastAPI read a body as large as the client sends (an import of
a 600 MB "config" was parsed whole). This ASGI middleware answers 413 at
once when ``Content-Length`` is over the limit, and otherwise reads a body of
unknown length only up to the limit, so a route never sees more. Written
here because Starlette has no such setting and uvicorn's ``h11_max_incomplete
_event_size`` bounds headers, not bodies.
"""

from __future__ import annotations

import json
from typing import Any

from occusense.documents import MAX_BYTES

Scope = dict[str, Any]
Message = dict[str, Any]

MAX_BODY = 2 * MAX_BYTES  # an import is one document plus its multipart framing


class BodyLimit:
    """ASGI middleware: bodies over ``limit`` bytes get 413 Payload Too Large."""

    def __init__(self, app: Any, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.limit:
            await self._refuse(send, length)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(send, size)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, send: Any, size: int) -> None:
        body = json.dumps(
            {"detail": f"request body of {size} bytes or more is over the limit of {self.limit}"}
        ).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that hands the buffered body once, then the real channel
    (for the disconnect a streaming response waits on)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
