"""Spine served over MCP (`spine_mcp.server`), checked with the official `mcp` client: over
streamable HTTP on a real 127.0.0.1 socket (both protocol eras), mounted in another ASGI app,
and over stdio from a subprocess."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from conftest import QUIET_ENV, serve_uvicorn
from mcp import Client, StdioServerParameters
from mcp_helpers import call, tool_messages
from starlette.applications import Starlette
from starlette.routing import Mount

from spine_core import Agent, InMemoryCheckpointStore, ScriptedProvider, tool
from spine_mcp.server import asgi_app, build_server

pytestmark = pytest.mark.anyio


def helper_agent(seen: anyio.Event, replies: list[Any] | None = None) -> Agent:
    """An agent whose `slow` tool finishes only once the MCP client has seen the progress
    notification of its call, so the test fails unless progress is streamed live."""

    @tool
    async def slow(n: int) -> str:
        """Think slowly about n."""
        with anyio.move_on_after(5):
            await seen.wait()
            return f"thought about {n}"
        return "no progress seen by the client"

    @tool
    def double(x: int) -> int:
        """Double x."""
        return 2 * x

    script = replies or [call("slow", {"n": 7}), "Seven is prime."]
    return Agent(ScriptedProvider(script), tools=[slow, double], name="helper")


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_agent_over_http_streams_progress_and_answers(mode: str) -> None:
    seen = anyio.Event()
    progress: list[tuple[float, str | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))
        if message == "calling tool slow":
            seen.set()

    agent = helper_agent(seen)
    async with (
        serve_uvicorn(asgi_app(agent)) as port,
        Client(f"http://127.0.0.1:{port}/mcp", mode=mode) as client,
    ):
        version = client.protocol_version
        listed = {t.name: t for t in (await client.list_tools()).tools}
        result = await client.call_tool(
            "helper", {"input": "Is 7 prime?"}, progress_callback=on_progress
        )

    assert version == ("2026-07-28" if mode == "auto" else "2025-11-25")
    assert set(listed) == {"helper", "helper_resume", "slow", "double"}
    assert listed["helper"].input_schema["required"] == ["input"]
    assert listed["double"].input_schema["properties"]["x"]["type"] == "integer"
    assert not result.is_error
    assert result.content == [types.TextContent(type="text", text="Seven is prime.")]
    assert result.structured_content is not None
    assert result.structured_content["stopped_reason"] == "final"
    messages = [m for _, m in progress]
    assert messages == [
        "step 1",
        "calling tool slow",
        "tool slow done",
        "step 2",
        "final answer",
    ]
    assert [v for v, _ in progress] == [1, 2, 3, 4, 5]
    provider = agent.provider
    assert isinstance(provider, ScriptedProvider)
    [seen_by_model] = tool_messages(provider.prompts[1])
    assert seen_by_model.text == "thought about 7"  # the client saw progress mid-run


async def test_a_spec_tool_is_called_directly_over_mcp() -> None:
    app = asgi_app(helper_agent(anyio.Event()))
    async with serve_uvicorn(app) as port, Client(f"http://127.0.0.1:{port}/mcp") as client:
        doubled = await client.call_tool("double", {"x": 21})
        bad = await client.call_tool("double", {"x": "many"})
        unknown = await client.call_tool("nope", {})

    assert doubled.content == [types.TextContent(type="text", text="42")]
    assert bad.is_error and "Invalid arguments for tool 'double'" in bad.content[0].text  # type: ignore[union-attr]
    assert unknown.is_error and "Unknown tool: nope" in unknown.content[0].text  # type: ignore[union-attr]


async def test_a_paused_run_is_resumed_through_the_resume_tool() -> None:
    store = InMemoryCheckpointStore()

    @tool(approve=True)
    def deploy(target: str) -> str:
        """Deploy to a target."""
        return f"deployed to {target}"

    agent = Agent(
        ScriptedProvider([call("deploy", {"target": "prod"}), "Deployed."]),
        tools=[deploy],
        checkpoint=store,
        name="ops",
    )
    server = build_server(agent)
    async with Client(server) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        paused = await client.call_tool("ops", {"input": "ship it"})
        state = paused.structured_content or {}
        done = await client.call_tool(
            "ops_resume", {"resume_token": state["resume_token"], "answer": "approve"}
        )
        stale = await client.call_tool(
            "ops_resume", {"resume_token": state["resume_token"], "answer": "approve"}
        )

    assert names == ["ops", "ops_resume"]  # a direct `deploy` would skip the approval
    assert state["stopped_reason"] == "interrupt" and not paused.is_error
    assert "Approve the call to 'deploy'" in state["question"]
    assert (done.structured_content or {})["answer"] == "Deployed."
    assert stale.is_error and "stale" in stale.content[0].text  # type: ignore[union-attr]


async def test_mounted_at_mcp_without_a_lifespan_starts_on_first_request() -> None:
    app = asgi_app(helper_agent(anyio.Event()))
    parent = Starlette(routes=[Mount("/mcp", app=app)])
    transport = httpx2.ASGITransport(app=parent)  # type: ignore[arg-type]
    try:
        async with (
            httpx2.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as http,
            Client(_transport("http://127.0.0.1:8000/mcp/", http)) as client,
        ):
            result = await client.call_tool("double", {"x": 4})
    finally:
        await app.aclose()

    assert result.content == [types.TextContent(type="text", text="8")]


async def test_foreign_host_headers_are_refused() -> None:
    app = asgi_app(helper_agent(anyio.Event()))
    async with serve_uvicorn(app) as port, httpx2.AsyncClient() as http:
        response = await http.post(
            f"http://127.0.0.1:{port}/mcp",
            headers={"Host": "evil.example:80", "Content-Type": "application/json"},
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        )

    assert response.status_code in {400, 403, 421}


async def test_agent_over_stdio_with_the_official_client() -> None:
    script = str(Path(__file__).with_name("spine_stdio_server.py"))
    params = StdioServerParameters(command=sys.executable, args=[script], env=QUIET_ENV)
    progress: list[str | None] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    async with Client(params) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool(
            "echoer", {"input": "say hi"}, progress_callback=on_progress
        )

    assert names == ["echoer", "echoer_resume", "shout"]
    assert result.content == [types.TextContent(type="text", text="HI")]
    assert progress == ["step 1", "calling tool shout", "tool shout done", "step 2", "final answer"]


def _transport(url: str, http: httpx2.AsyncClient) -> Any:
    from mcp.client.streamable_http import streamable_http_client

    return streamable_http_client(url, http_client=http)
