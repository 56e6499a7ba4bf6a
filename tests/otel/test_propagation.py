"""W3C trace context over real HTTP on loopback: a request made inside an `execute_tool` span
carries that span as its `traceparent`, through httpx / httpx2 event hooks and through the
MCP SDK's streamable-HTTP transport."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import httpx2
import pytest
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

from spine_core import Agent, Message, ScriptedProvider, ToolCall, tool
from spine_otel import event_hooks, inject_headers, sync_event_hooks

from .conftest import Telemetry

pytestmark = pytest.mark.anyio


class _Recorder(ThreadingHTTPServer):
    """An HTTP server on loopback that records each request's trace headers by path."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RecordingHandler)
        self.seen: dict[str, dict[str, str | None]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _RecordingHandler(BaseHTTPRequestHandler):
    server: _Recorder

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen[self.path] = {
            "traceparent": self.headers.get("traceparent"),
            "tracestate": self.headers.get("tracestate"),
        }
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _record

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _traceparent(span: ReadableSpan) -> str:
    context = span.context
    ids = f"{trace.format_trace_id(context.trace_id)}-{trace.format_span_id(context.span_id)}"
    return f"00-{ids}-{context.trace_flags:02x}"


def _calls(*names: str) -> Message:
    return Message.assistant(
        tool_calls=[ToolCall(id=f"call_{n}", name=n, arguments={}) for n in names]
    )


async def test_tool_requests_carry_the_execute_tool_span(
    telemetry: Telemetry, recorder: _Recorder
) -> None:
    @tool
    async def fetch_httpx() -> str:
        """GET with httpx."""
        async with httpx.AsyncClient(event_hooks=event_hooks()) as client:
            return (await client.get(f"{recorder.url}/httpx")).text

    @tool
    async def fetch_httpx2() -> str:
        """POST with httpx2."""
        async with httpx2.AsyncClient(event_hooks=event_hooks()) as client:
            return (await client.post(f"{recorder.url}/httpx2", json={"q": 1})).text

    @tool
    def fetch_sync() -> str:
        """GET with a sync httpx client (the tool runs in a worker thread)."""
        with httpx.Client(event_hooks=sync_event_hooks()) as client:
            return client.get(f"{recorder.url}/sync").text

    provider = ScriptedProvider([_calls("fetch_httpx", "fetch_httpx2", "fetch_sync"), "done"])
    agent = Agent(
        provider,
        name="fetcher",
        tools=[fetch_httpx, fetch_httpx2, fetch_sync],
        middleware=[telemetry.middleware()],
    )
    assert (await agent.run("go")).answer == "done"
    for path, name in (("/httpx", "httpx"), ("/httpx2", "httpx2"), ("/sync", "sync")):
        span = telemetry.one(f"execute_tool fetch_{name}")
        assert recorder.seen[path]["traceparent"] == _traceparent(span), path


async def test_a_request_outside_any_span_carries_no_trace_context(recorder: _Recorder) -> None:
    async with httpx.AsyncClient(event_hooks=event_hooks()) as client:
        await client.get(f"{recorder.url}/plain")
    assert recorder.seen["/plain"]["traceparent"] is None
    assert inject_headers() == {}


async def test_inject_headers_and_an_explicit_traceparent(
    telemetry: Telemetry, recorder: _Recorder
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("app")
    given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with tracer.start_as_current_span("outer") as outer:
        headers = inject_headers({"accept": "*/*"})
        async with httpx.AsyncClient(event_hooks=event_hooks()) as client:
            await client.get(f"{recorder.url}/given", headers={"traceparent": given})
    assert headers["accept"] == "*/*"
    context = outer.get_span_context()
    ids = f"{trace.format_trace_id(context.trace_id)}-{trace.format_span_id(context.span_id)}"
    assert headers["traceparent"] == f"00-{ids}-{context.trace_flags:02x}"
    assert recorder.seen["/given"]["traceparent"] == given  # a caller's own header wins


# -- a real MCP server over streamable HTTP ------------------------------------------------


class _HeaderLog:
    """ASGI middleware recording the traceparent of each MCP POST."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.posts: list[str | None] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = dict(scope["headers"])
            value = headers.get(b"traceparent")
            self.posts.append(value.decode() if value is not None else None)
        await self.app(scope, receive, send)


@pytest.fixture
async def mcp_server() -> AsyncIterator[tuple[str, _HeaderLog]]:
    server = MCPServer("calc", log_level="WARNING")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    log = _HeaderLog(server.streamable_http_app(transport_security=security))
    config = uvicorn.Config(log, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not web.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    port = web.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/mcp", log
    web.should_exit = True
    thread.join(timeout=10)


async def test_an_mcp_tool_call_over_http_carries_the_execute_tool_span(
    telemetry: Telemetry, mcp_server: tuple[str, _HeaderLog]
) -> None:
    url, log = mcp_server
    async with (
        httpx2.AsyncClient(event_hooks=event_hooks()) as http,
        Client(streamable_http_client(url, http_client=http)) as mcp,
    ):
        # Connected outside any span: the transport's own tasks started with no span.

        @tool
        async def remote_add(a: int, b: int) -> str:
            """Add on the MCP server.

            Args:
                a: First.
                b: Second.
            """
            result = await mcp.call_tool("add", {"a": a, "b": b})
            return str(result.structured_content or result.content)

        provider = ScriptedProvider(
            [
                Message.assistant(
                    tool_calls=[ToolCall(id="c1", name="remote_add", arguments={"a": 2, "b": 3})]
                ),
                "5",
            ]
        )
        agent = Agent(
            provider, name="calc", tools=[remote_add], middleware=[telemetry.middleware()]
        )
        before = len(log.posts)
        assert (await agent.run("2+3")).answer == "5"
    span = telemetry.one("execute_tool remote_add")
    sent = [p for p in log.posts[before:] if p is not None]
    assert sent, log.posts
    trace_hex = trace.format_trace_id(span.context.trace_id)
    assert all(p.split("-")[1] == trace_hex for p in sent)  # the run's trace
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        # No global SDK provider: the MCP SDK's own span is a no-op, so the tool's span is
        # the direct parent.
        assert sent[-1] == _traceparent(span)
