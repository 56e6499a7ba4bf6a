"""One owned MCP connection, kept by a background task that reconnects after the link breaks.

The `mcp` SDK's transports hold anyio task groups and cancel scopes, which must be entered
and left by the same task in nesting order. Entering them in a tool call (nested in the
kernel's own scopes) and leaving them later elsewhere is what makes agents with several MCP
servers crash on "cancel scope" errors. So one owner task enters the client, waits until the
link breaks or the toolset closes, leaves it, and (after a break) enters a new one with a
bounded exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc
from mcp import Client, MCPError
from mcp_types import CONNECTION_CLOSED

from .errors import MCPConnectError

__all__ = ["Connection", "is_link_error", "link_down"]

logger = logging.getLogger("spine_mcp")

RECONNECT_ATTEMPTS = 5
"""Reconnect attempts after a break before calls fail with `MCPConnectError` (a later call
starts a new round)."""
BACKOFF_S = (0.1, 0.2, 0.4, 0.8, 1.6)
"""Seconds waited before each reconnect attempt (doubling, bounded)."""


_LINK_ERRORS = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)


def is_link_error(exc: BaseException) -> bool:
    """True when `exc` means the transport is gone (the server exited, the stream closed)."""
    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED
    return isinstance(exc, _LINK_ERRORS)


def link_down(client: Any) -> bool:
    """True when `client`'s JSON-RPC dispatcher has already seen its transport close (the
    server process exited, the stream ended), so a request sent now cannot reach the server.

    Reads the SDK's `JSONRPCDispatcher._closed` (mcp 2.3; there is no public flag). Other
    clients (in-process dispatch, other SDK versions) count as up.
    """
    session = client
    if not hasattr(client, "_dispatcher"):
        try:
            session = client.session  # an mcp.Client: its ClientSession
        except (AttributeError, RuntimeError):
            return False
    dispatcher = getattr(session, "_dispatcher", None)
    return bool(getattr(dispatcher, "_closed", False))


def describe(exc: BaseException | None) -> str:
    """One line for `exc`: the first leaf of an exception group (the SDK's task groups wrap
    transport errors), as "Type: message" when the message alone says little."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if exc is None:
        return "unknown error"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if not text or (isinstance(exc, OSError | TimeoutError) and type(exc).__name__ not in text):
        return f"{type(exc).__name__}: {text}".rstrip(": ")
    return text


def _asyncio_running() -> bool:
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
            return False
        except RuntimeError:
            pass
    return True


def _consume(task: asyncio.Task[None]) -> None:
    """Retrieve the owner's exception (already handed to `open`), so asyncio does not log
    it as never retrieved."""
    if not task.cancelled():
        task.exception()


class Connection:
    """A live `mcp.Client` made by `factory`, owned by a background task.

    Args:
        factory: Builds a fresh, unentered `mcp.Client` (one per connection attempt).
        target: The server, for error messages (URL or command line).
        timeout_s: Seconds a caller waits for a reconnect before failing; None waits forever.
    """

    def __init__(
        self, factory: Callable[[], Client], *, target: str, timeout_s: float | None
    ) -> None:
        self._factory = factory
        self._target = target
        self._timeout_s = timeout_s
        self._stack: AsyncExitStack | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: Client | None = None
        self._ready = anyio.Event()  # set while `_client` is live, or once `_failure` is set
        self._wake = anyio.Event()  # set to make the owner reconnect or stop
        self._closing = False
        self._failure: Exception | None = None

    @property
    def client(self) -> Client | None:
        """The live client, or None while (re)connecting or closed."""
        return self._client

    async def open(self) -> None:
        """Connect; returns once the first handshake succeeded.

        The owner runs as a task of the event loop itself (asyncio), outside the caller's
        task groups and cancel scopes, so `open` and `aclose` may be called from any task in
        any order (a lazy connect inside a tool call, several toolsets closed out of order).
        Under trio it runs in a task group entered here instead (close it from this task).

        Raises:
            MCPConnectError: the first connection attempt failed (cause chained).
        """
        started = anyio.Event()
        failure: list[BaseException] = []

        async def owner() -> None:
            try:
                await self._own(started)
            except BaseException as exc:
                failure.append(exc)
                raise
            finally:
                started.set()

        if _asyncio_running():
            task = asyncio.get_running_loop().create_task(owner())
            task.add_done_callback(_consume)
            self._task = task
            try:
                await started.wait()
            except BaseException:
                task.cancel()
                raise
        else:
            stack = AsyncExitStack()
            group = await stack.enter_async_context(anyio.create_task_group())
            group.start_soon(owner)
            await started.wait()
            self._stack = stack
        if failure:
            await self.aclose()
            raise failure[0]

    async def current(self) -> Client:
        """The live client, waiting (up to `timeout_s`) for a reconnect in progress.

        Raises:
            MCPConnectError: closed, or the reconnect attempts failed.
            TimeoutError: the reconnect took longer than `timeout_s`.
        """
        if self._closing:
            raise MCPConnectError(f"MCP connection to {self._target} is closed")
        if self._failure is not None and self._ready.is_set():
            self._failure, self._ready = None, anyio.Event()  # start a new round of attempts
            self._wake.set()
        with anyio.fail_after(self._timeout_s):
            await self._ready.wait()
        if self._client is None:
            raise MCPConnectError(
                f"MCP server {self._target} is unreachable: {describe(self._failure)}"
            ) from self._failure
        return self._client

    def broken(self, client: Client) -> None:
        """Report that `client`'s link broke; the owner replaces it (once per break)."""
        if client is self._client and not self._closing:
            self._client, self._ready = None, anyio.Event()
            self._wake.set()

    async def aclose(self) -> None:
        """Close the live client and stop the owner task."""
        self._closing = True
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            with anyio.CancelScope(shield=True):
                await asyncio.wait([task])
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _own(self, started_event: anyio.Event) -> None:
        started = False
        attempt = 0
        while not self._closing:
            self._wake = anyio.Event()
            client = self._factory()
            entered = False
            try:
                async with client:
                    entered, attempt = True, 0
                    self._client, self._failure = client, None
                    self._ready.set()
                    if not started:
                        started = True
                        started_event.set()
                    await self._wake.wait()
            except Exception as exc:
                if not started:
                    raise MCPConnectError(
                        f"cannot connect to MCP server {self._target}: {describe(exc)}"
                    ) from exc
                if not entered:
                    attempt += 1
                    logger.warning("MCP reconnect %d to %s failed: %s", attempt, self._target, exc)
                    if attempt >= RECONNECT_ATTEMPTS:
                        self._failure = exc
                        self._ready.set()  # waiters wake and see the failure
                        await self._wake.wait()  # until a caller asks for a new round
                        attempt = 0
                        continue
            self._client = None
            if not self._closing and attempt:
                await anyio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1])
