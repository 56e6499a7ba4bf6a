"""MCP servers named in a YAML agent spec (`tools: - mcp: {command: ..., args: [...]}` or
`- mcp: {url: ...}`), for `spine.build`.

A spec is built synchronously, and its agent may then run on any event loop (`run_sync`
makes a new loop per call). So the server's connection lives on an event loop of its own,
in a daemon thread started by `spec_tools`; each tool call is handed to that loop and
awaited from the caller's. One server process (or HTTP session) serves the agent for the
life of the program, reconnecting after a break like any `MCPToolset`.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import threading
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.from_thread

from spine_core import Tool, ToolContext

from .errors import MCPConnectError
from .toolset import MCPToolset

__all__ = ["SpecServer", "close_spec_servers", "spec_tools"]

T = TypeVar("T")
_CTX = "_spine_mcp_spec_context"


class SpecServer:
    """One MCP server of a spec: an `MCPToolset` owned by an event loop in a daemon thread
    (an anyio blocking portal).

    Args:
        options: `MCPToolset` keyword arguments (command, args, env, url, approve,
            timeout_s, prefix, mode).
    """

    def __init__(self, **options: Any) -> None:
        self.toolset = MCPToolset(**options)
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        self._stop: anyio.Event | None = None
        self._owner: concurrent.futures.Future[None] | None = None
        self._closed = False
        self.inner: dict[str, Tool] = {}
        _SERVERS.add(self)

    def submit(self, make: Callable[[], Awaitable[T]]) -> concurrent.futures.Future[T]:
        """Run `make()` on the server's loop; a concurrent future of its result."""

        async def run() -> T:
            return await make()

        return self._portal.start_task_soon(run)

    def _open(self) -> None:
        """Connect from a task that lives until `close` (the SDK's transports are left by the
        task that entered them)."""
        connected = threading.Event()

        async def own() -> None:
            self._stop = anyio.Event()
            try:
                await self.toolset.connect()
            finally:
                connected.set()
            try:
                await self._stop.wait()
            finally:
                with anyio.CancelScope(shield=True):
                    await self.toolset.aclose()

        self._owner = self._portal.start_task_soon(own)
        connected.wait()
        if self._owner.done() and self._owner.exception() is not None:
            raise self._owner.exception()  # type: ignore[misc]

    def load(self, *, resources: bool = False) -> list[Tool]:
        """Connect and list the tools (blocking), returning Spine tools that forward each
        call to the server's loop.

        Raises:
            MCPConnectError: the server cannot be started or reached.
        """
        self._open()
        listed = self.submit(lambda: self.toolset.load_tools(resources=resources)).result()
        self.inner = {t.name: t for t in listed}
        return [self._forwarding(t) for t in listed]

    def _forwarding(self, inner: Tool) -> Tool:
        async def call(**arguments: Any) -> Any:
            ctx: ToolContext[Any] | None = arguments.pop(_CTX, None)
            future = self.submit(lambda: inner.call(arguments, ctx))
            return await asyncio.wrap_future(future)

        return Tool(
            inner.name,
            inner.description,
            inner.parameters,
            call,
            approve=inner.approve,
            context_param=_CTX,
            forwards_decisions=inner.forwards_decisions,
        )

    def close(self) -> None:
        """Close the connection and stop the thread (blocking; idempotent)."""
        if self._closed:
            return
        self._closed = True
        stop, owner = self._stop, self._owner
        if stop is not None and owner is not None and not owner.done():
            self._portal.call(stop.set)
            with contextlib.suppress(Exception):
                owner.result()
        self._portal_cm.__exit__(None, None, None)


_SERVERS: weakref.WeakSet[SpecServer] = weakref.WeakSet()


@atexit.register
def close_spec_servers() -> None:
    """Close every spec's MCP server connection (stops their processes); also run at exit."""
    for server in list(_SERVERS):
        server.close()


def spec_tools(
    *,
    command: str | None = None,
    args: list[str] | None = None,
    env: dict[str, str] | None = None,
    url: str | None = None,
    prefix: str | None = None,
    approve: bool = False,
    timeout_s: float | None = 60.0,
    resources: bool = False,
    base_dir: Path | None = None,
) -> list[Tool]:
    """The tools of the MCP server a spec's `mcp:` entry names (connects now, blocking).

    Args:
        command: A stdio server's executable; a path starting with "./" or "../" resolves
            against `base_dir` (the spec's folder).
        args: Its arguments.
        env: Extra environment variables for it.
        url: A streamable HTTP endpoint instead.
        prefix: Tool names become "{prefix}_{name}".
        approve: Every call waits for human approval.
        timeout_s: Seconds one request may take.
        resources: Also add the `read_resource` tool.
        base_dir: The spec's folder.

    Raises:
        MCPConnectError: the server cannot be started or reached (one line).
    """
    if command is not None and command.startswith(("./", "../")) and base_dir is not None:
        command = str((base_dir / command).resolve())
    server = SpecServer(
        command=command,
        args=args,
        env=env,
        url=url,
        prefix=prefix,
        approve=approve,
        timeout_s=timeout_s,
    )
    try:
        return server.load(resources=resources)
    except MCPConnectError:
        server.close()
        raise
    except Exception as exc:
        server.close()
        raise MCPConnectError(
            f"listing the tools of MCP server {server.toolset.url or command} failed: {exc}"
        ) from exc
