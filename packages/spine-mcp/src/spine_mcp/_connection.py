"""One owned MCP connection, kept by a background task that reconnects after the link breaks.

The `mcp` SDK's transports hold anyio task groups and cancel scopes, which must be entered
and left by the same task in nesting order. Entering them in a tool call (nested in the
kernel's own scopes) and leaving them later elsewhere is what makes agents with several MCP
servers crash on "cancel scope" errors. So one owner task enters the client, waits until the
link breaks or the toolset closes, leaves it, and (after a break) enters a new one with a
bounded exponential backoff.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AsyncExitStack

import anyio
import anyio.abc
from mcp import Client, MCPError
from mcp_types import CONNECTION_CLOSED

from .errors import MCPConnectError

__all__ = ["Connection", "is_link_error"]

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

        Raises:
            MCPConnectError: the first connection attempt failed (cause chained).
        """
        stack = AsyncExitStack()
        group = await stack.enter_async_context(anyio.create_task_group())
        try:
            await group.start(self._own)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack

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
                f"MCP server {self._target} is unreachable: {self._failure}"
            ) from self._failure
        return self._client

    def broken(self, client: Client) -> None:
        """Report that `client`'s link broke; the owner replaces it (once per break)."""
        if client is self._client and not self._closing:
            self._client, self._ready = None, anyio.Event()
            self._wake.set()

    async def aclose(self) -> None:
        """Close the live client and stop the owner task."""
        if self._stack is None:
            return
        self._closing = True
        self._wake.set()
        stack, self._stack = self._stack, None
        await stack.aclose()

    async def _own(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
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
                        task_status.started()
                    await self._wake.wait()
            except Exception as exc:
                if not started:
                    raise MCPConnectError(
                        f"cannot connect to MCP server {self._target}: {exc}"
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
