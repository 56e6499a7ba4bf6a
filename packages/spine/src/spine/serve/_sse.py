"""Server-sent events with a client that may leave: `EventStream` sends what an async
iterator yields and cancels it the moment the client disconnects.

Starlette's `StreamingResponse` notices a disconnect only when a write fails (ASGI 2.4), so a
run waiting on a slow tool would go on after its client left. Here a second task listens for
`http.disconnect` and cancels the body iterator, whose `finally` blocks then run (a Spine
`RunStream` checkpoints the run as cancelled).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["KEEPALIVE_S", "EventStream"]

KEEPALIVE_S = 15.0
"""Seconds of silence after which a `: keepalive` comment line is sent (proxies drop idle
connections)."""

_BATCH = 64  # frames joined into one write at most

_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class EventStream(Response):
    """An ASGI response streaming `events` (each an already encoded SSE frame, `str`).

    Args:
        events: The frames; closed (`aclose`) when the client disconnects or the stream ends.
        keepalive_s: Seconds between keep-alive comments while nothing else is sent.
    """

    def __init__(self, events: AsyncIterator[str], *, keepalive_s: float = KEEPALIVE_S) -> None:
        self.events = events
        self.keepalive_s = keepalive_s
        self.disconnected = False
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        frames_in, frames_out = anyio.create_memory_object_stream[str](16)
        async with anyio.create_task_group() as tg:

            async def listen() -> None:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        self.disconnected = True
                        tg.cancel_scope.cancel()
                        return

            async def produce() -> None:
                async with frames_in:
                    async for frame in self.events:
                        await frames_in.send(frame)

            tg.start_soon(listen)
            tg.start_soon(produce)
            try:
                await self._pump(send, frames_out)
            except OSError:  # the socket went away under a write
                self.disconnected = True
            finally:
                tg.cancel_scope.cancel()
        with anyio.CancelScope(shield=True):  # the producer task has left the iterator
            close = getattr(self.events, "aclose", None)
            if close is not None:
                await close()
        if not self.disconnected:
            with contextlib.suppress(OSError):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send, frames: MemoryObjectReceiveStream[str]) -> None:
        async with frames:
            while True:
                frame: str | None = None
                try:
                    frame = frames.receive_nowait()  # a burst goes out without a timer each
                except anyio.WouldBlock:
                    with anyio.move_on_after(self.keepalive_s):
                        try:
                            frame = await frames.receive()
                        except anyio.EndOfStream:
                            return
                except anyio.EndOfStream:
                    return
                if frame is None:
                    text = ": keepalive\n\n"
                else:  # what is already waiting goes out in the same write
                    batch = [frame]
                    while len(batch) < _BATCH:
                        try:
                            batch.append(frames.receive_nowait())
                        except (anyio.WouldBlock, anyio.EndOfStream):
                            break
                    text = "".join(batch)
                body = text.encode("utf-8")
                await send({"type": "http.response.body", "body": body, "more_body": True})
