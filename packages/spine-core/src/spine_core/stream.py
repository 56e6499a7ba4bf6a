"""`RunStream`: the live events of one run, as `Agent.stream` returns them.

The run executes in a task of its own, not bound to the consumer's cancel scopes, and sends
its trace events over an anyio memory stream. So the consumer may leave the iteration any way
it likes: `break`, an exception, `aclose()`, or dropping the iterator. When the iterator is
closed or garbage-collected before the run ended, the run is cancelled and checkpoints itself
as cancelled, with a resume token on its result.
"""

from __future__ import annotations

import contextvars
import sys
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

from ._channel import EventChannel
from .tracing import TraceEvent

if TYPE_CHECKING:
    from ._run import Run
    from .result import Result

__all__ = ["RunStream"]

_TASKS: set[Any] = set()  # strong references to running asyncio tasks


class _Producer:
    """The run's task side; holds nothing of the `RunStream`, so it can be collected."""

    __slots__ = ("cancelled", "done", "failure", "result", "scope")

    def __init__(self) -> None:
        self.scope: anyio.CancelScope | None = None
        self.cancelled = False
        self.done = anyio.Event()
        self.failure: BaseException | None = None
        self.result: Result | None = None

    def cancel(self) -> None:
        self.cancelled = True
        if self.scope is not None:
            self.scope.cancel()

    async def produce(self, run: Run, send: EventChannel[TraceEvent]) -> None:
        try:
            with anyio.CancelScope() as self.scope:
                if self.cancelled:
                    self.scope.cancel()
                try:
                    await run.execute()
                finally:
                    send.close()
        except Exception as exc:  # handed to the consumer
            self.failure = exc
        finally:
            self.result = run.result
            self.done.set()


class RunStream:
    """An async iterator of one run's `TraceEvent`s.

    Attributes:
        result: The run's `Result` once the iteration ended (a cancelled result after an early
            close), else None.
    """

    def __init__(
        self,
        begin: Callable[[EventChannel[TraceEvent]], Awaitable[Run]],
        finish: Callable[[Result | None], None],
    ) -> None:
        self.result: Result | None = None
        self._begin = begin
        self._finish = finish
        self._receive: EventChannel[TraceEvent] | None = None
        self._buffered: deque[TraceEvent] = deque()  # the channel's buffer once it exists
        self._producer = _Producer()
        self._closed = False
        weakref.finalize(self, self._producer.cancel)

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> TraceEvent:
        if self._closed:
            raise StopAsyncIteration
        if self._buffered:  # events the run sent since the last call: no await needed
            return self._buffered.popleft()
        if self._receive is None:
            channel = self._receive = EventChannel[TraceEvent]()
            try:
                run = await self._begin(channel)
            except BaseException:  # no run started (e.g. the session awaits a human)
                self._closed = True
                channel.close_reader()
                self._producer.done.set()
                raise
            _spawn(self._producer.produce, run, channel)
            self._buffered = channel.buffered()
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            await self._end()
            raise StopAsyncIteration from None
        except anyio.get_cancelled_exc_class():
            self._producer.cancel()
            raise

    async def aclose(self) -> None:
        """Stop listening: cancel the run if it is still going and wait until it has
        checkpointed itself as cancelled."""
        if self._receive is not None and not self._closed:
            self._producer.cancel()
            with anyio.CancelScope(shield=True):
                await self._producer.done.wait()
            await self._end(reraise=False)
        self._closed = True

    async def _end(self, *, reraise: bool = True) -> None:
        self._closed = True
        if self._receive is not None:
            self._receive.close_reader()
        self.result = self._producer.result
        self._finish(self.result)
        failure, self._producer.failure = self._producer.failure, None
        if failure is not None and reraise:
            raise failure


def _spawn(fn: Callable[..., Awaitable[None]], *args: Any) -> None:
    """Run `fn(*args)` in a new task outside the caller's cancel scopes (trio: a system task;
    asyncio: a loop task), with a copy of the caller's context variables."""
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass
        else:
            trio.lowlevel.spawn_system_task(fn, *args, context=contextvars.copy_context())
            return
    import asyncio

    task: asyncio.Task[None] = asyncio.get_running_loop().create_task(fn(*args))  # type: ignore[arg-type]
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
