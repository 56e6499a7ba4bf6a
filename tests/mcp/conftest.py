"""Fixtures for spine_mcp: the real third-party `mcp-server-time` over stdio, and an
in-process `MCPServer` reached over streamable HTTP through `httpx2.ASGITransport`."""

from __future__ import annotations

import base64
import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import BaseModel

from spine_mcp import MCPToolset

BIN = Path(sys.executable).parent
TIME_SERVER = BIN / "mcp-server-time"
# Third-party processes run with telemetry off (no network beyond loopback).
QUIET_ENV = {"DO_NOT_TRACK": "1", "OTEL_SDK_DISABLED": "true", "PYTHONUNBUFFERED": "1"}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)


def require_server(path: Path) -> None:
    """Skip when a pinned server is not installed; under CI=true that is a failure."""
    if path.exists():
        return
    message = f"MCP server not installed: {path} (run `make setup`)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class Weather(BaseModel):
    city: str
    celsius: float


@dataclass
class Demo:
    """An MCPServer with counters the tests read to see what the server really ran."""

    server: MCPServer
    calls: dict[str, int] = field(default_factory=dict)
    release: anyio.Event = field(default_factory=anyio.Event)


def build_demo() -> Demo:
    server = MCPServer("demo", log_level="WARNING")
    demo = Demo(server)

    def count(name: str) -> None:
        demo.calls[name] = demo.calls.get(name, 0) + 1

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        count("add")
        return a + b

    @server.tool()
    def chart() -> Image:
        """A one-pixel PNG chart."""
        count("chart")
        return Image(data=PNG, format="png")

    @server.tool()
    def weather(city: str) -> Weather:
        """Current weather of a city."""
        return Weather(city=city, celsius=21.5)

    @server.tool()
    def explode() -> str:
        """Always fails."""
        raise ToolError("the reactor is offline")

    @server.tool()
    async def hang() -> str:
        """Waits until the test releases it."""
        await demo.release.wait()
        return "released"

    @server.resource("note://readme", name="readme", mime_type="text/plain", description="Intro")
    def readme() -> str:
        return "Spine reads MCP resources."

    @server.resource("note://{slug}", name="note")
    def note(slug: str) -> str:
        return f"note {slug}"

    @server.prompt()
    def review(language: str) -> str:
        """Ask for a code review."""
        return f"Review this {language} code carefully."

    return demo


@pytest.fixture
def demo() -> Demo:
    return build_demo()


def asgi_client(app: object) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url="http://127.0.0.1:8000",
    )


@pytest.fixture
async def http_mcp(demo: Demo) -> AsyncIterator[MCPToolset]:
    """An `MCPToolset` on the demo server over streamable HTTP (in process)."""
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = demo.server.streamable_http_app(transport_security=security)
    async with (
        app.router.lifespan_context(app),
        asgi_client(app) as client,
        MCPToolset(url="http://127.0.0.1:8000/mcp", http_client=client) as mcp,
    ):
        yield mcp


@pytest.fixture(scope="module")
async def time_mcp() -> AsyncIterator[MCPToolset]:
    """The real third-party `mcp-server-time` over stdio (one process per test module)."""
    require_server(TIME_SERVER)
    args = ["--local-timezone", "UTC"]
    async with MCPToolset(command=str(TIME_SERVER), args=args, env=QUIET_ENV) as mcp:
        yield mcp


@asynccontextmanager
async def serve_uvicorn(app: Any, port: int = 0) -> AsyncIterator[int]:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a real socket; `port` 0 picks a free
    one) for the block; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        while not server.started:
            await anyio.sleep(0.005)
        try:
            yield sock.getsockname()[1]
        finally:
            server.should_exit = True
    sock.close()


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    """Module scope, so a third-party server is started once per test module."""
    return "asyncio"
