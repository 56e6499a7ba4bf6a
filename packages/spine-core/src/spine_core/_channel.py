"""`EventChannel`: the one-producer, one-consumer queue between a streamed run and its reader.

Sending never blocks (a run must not wait for its reader) and costs a deque append; the reader
takes buffered events without an event-loop iteration each, and sleeps on an `anyio.Event`
only when the buffer is empty.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import anyio

__all__ = ["EventChannel"]

T = TypeVar("T")


class EventChannel(Generic[T]):
    """An unbounded channel with `send_nowait` / `close` for the producer and `receive` /
    `close_reader` for the consumer.

    Raises (from `send_nowait`):
        anyio.BrokenResourceError: the reader closed its end.
    """

    __slots__ = ("_buffer", "_closed", "_reader_closed", "_waiter")

    def __init__(self) -> None:
        self._buffer: deque[T] = deque()
        self._closed = False
        self._reader_closed = False
        self._waiter: anyio.Event | None = None

    def send_nowait(self, item: T) -> None:
        if self._reader_closed:
            raise anyio.BrokenResourceError
        self._buffer.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.set()

    def close(self) -> None:
        """The producer is done: the reader gets the buffered items, then `EndOfStream`."""
        self._closed = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.set()

    def close_reader(self) -> None:
        """The reader stops listening: later sends raise `BrokenResourceError`."""
        self._reader_closed = True
        self._buffer.clear()

    def buffered(self) -> deque[T]:
        """The items sent and not yet received, oldest first: a reader may `popleft` them
        without awaiting (the stream's per-token fast path)."""
        return self._buffer

    async def receive(self) -> T:
        """The next item, waiting for one when none is buffered.

        Raises:
            anyio.EndOfStream: the producer closed the channel and every item was taken.
        """
        while True:
            if self._buffer:
                return self._buffer.popleft()
            if self._closed:
                raise anyio.EndOfStream
            self._waiter = waiter = anyio.Event()
            await waiter.wait()
