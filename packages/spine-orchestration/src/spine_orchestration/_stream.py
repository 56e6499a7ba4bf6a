"""`GraphStream`: the live events of one graph run, as `Workflow.stream` returns them."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .events import GraphEvent

if TYPE_CHECKING:
    from .results import GraphResult

__all__ = ["GraphStream"]

Start = Callable[[Callable[[GraphEvent], None]], Awaitable["GraphResult"]]


class GraphStream:
    """An async context manager and iterator of a graph run's `GraphEvent`s.

    `async with workflow.stream(...) as events: async for event in events: ...` — the run
    executes in a task of the block's task group; leaving the block early cancels it (it is
    checkpointed as cancelled). An exception of the run is raised from the iteration.

    Attributes:
        result: The `GraphResult` once the run ended, else None.
    """

    def __init__(self, start: Start) -> None:
        self._start = start
        self.result: GraphResult | None = None
        self._group: TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[GraphEvent] | None = None
        self._failure: Exception | None = None

    async def __aenter__(self) -> GraphStream:
        send, self._receive = anyio.create_memory_object_stream[GraphEvent](math.inf)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._produce, send)
        return self

    async def _produce(self, send: MemoryObjectSendStream[GraphEvent]) -> None:
        def emit(event: GraphEvent) -> None:
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                send.send_nowait(event)  # dropped once nobody listens

        async with send:
            try:
                self.result = await self._start(emit)
            except Exception as exc:  # raised to the consumer
                self._failure = exc

    def __aiter__(self) -> GraphStream:
        return self

    async def __anext__(self) -> GraphEvent:
        if self._receive is None:
            raise RuntimeError(
                "enter the stream first: `async with workflow.stream(...) as events:`"
            )
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            failure, self._failure = self._failure, None
            if failure is not None:
                raise failure from None
            raise StopAsyncIteration from None

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._group is not None and self._receive is not None
        if self.result is None and self._failure is None:
            self._group.cancel_scope.cancel()  # left early: stop the run
        try:
            return await self._group.__aexit__(kind, error, tb)
        finally:
            self._receive.close()
            failure, self._failure = self._failure, None
            if failure is not None and error is None:
                raise failure
