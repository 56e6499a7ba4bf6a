"""Faults and protocol edges: a legacy-only (2025-11-25) server, a malformed tool schema, an
output that breaks its `outputSchema`, and a server that dies mid-call."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from conftest import QUIET_ENV, asgi_client, build_demo
from mcp import Client
from mcp.server.lowlevel import Server
from mcp.server.transport_security import TransportSecuritySettings
from mcp_helpers import call, tool_messages

from spine_core import Agent, ScriptedProvider
from spine_mcp import MCPToolset

pytestmark = pytest.mark.anyio


def legacy_only(app: Any) -> Any:
    """Wrap an ASGI MCP app so it answers `server/discover` the way a 2025-11-25 server
    (e.g. one built on the TypeScript SDK) does: JSON-RPC "Method not found"."""

    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        request = json.loads(body or b"{}")
        if isinstance(request, dict) and request.get("method") == "server/discover":
            error = {"code": -32601, "message": "Method not found"}
            reply = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error})
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": reply.encode()})
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return await receive()  # type: ignore[no-any-return]
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, replay, send)

    return wrapped


async def test_auto_mode_falls_back_to_a_2025_11_25_server() -> None:
    demo = build_demo()
    security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = demo.server.streamable_http_app(transport_security=security)
    async with (
        app.router.lifespan_context(app),
        asgi_client(legacy_only(app)) as client,
        MCPToolset(url="http://127.0.0.1:8000/mcp", http_client=client) as mcp,
    ):
        provider = ScriptedProvider([call("add", {"a": 20, "b": 22}), "42"])
        agent = Agent(provider, tools=await mcp.load_tools())
        await agent.run("add")

        assert mcp.protocol_version == "2025-11-25"
        [seen] = tool_messages(provider.prompts[1])
        assert seen.text == "42"


async def test_legacy_mode_is_forced_on_request() -> None:
    demo = build_demo()
    async with Client(demo.server, mode="legacy") as client:
        mcp = MCPToolset(session=client)
        names = {t.name for t in await mcp.load_tools()}

        assert mcp.protocol_version == "2025-11-25"
        assert "add" in names


def odd_server() -> Server[Any]:
    """A low-level server with one tool whose schema is broken and one whose structured
    output breaks its declared `outputSchema`."""
    tools = [
        types.Tool(
            name="broken",
            description="bad schema",
            input_schema={"type": "object", "properties": {"x": {"type": "no-such-type"}}},
        ),
        types.Tool(
            name="liar",
            description="breaks its output schema",
            input_schema={"type": "object", "properties": {}},
            output_schema={
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "required": ["n"],
            },
        ),
    ]

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        return types.CallToolResult(
            content=[types.TextContent(type="text", text='{"n": "many"}')],
            structured_content={"n": "many"},
        )

    return Server("odd", on_list_tools=list_tools, on_call_tool=call_tool)


async def test_a_malformed_tool_schema_is_skipped_not_sent_to_the_model() -> None:
    async with Client(odd_server()) as client:
        mcp = MCPToolset(session=client)
        names = [t.name for t in await mcp.load_tools()]

    assert names == ["liar"]
    assert "no-such-type" in mcp.skipped["broken"]


async def test_output_breaking_its_output_schema_is_a_tool_error() -> None:
    async with Client(odd_server()) as client:
        mcp = MCPToolset(session=client)
        provider = ScriptedProvider([call("liar"), "hm"])
        agent = Agent(provider, tools=await mcp.load_tools())
        await agent.run("go")

    [seen] = tool_messages(provider.prompts[1])
    assert seen.is_error and "Invalid structured content returned by tool liar" in seen.text


async def test_a_server_dying_mid_call_is_a_tool_error_and_the_next_call_reconnects() -> None:
    script = str(Path(__file__).with_name("dying_server.py"))
    provider = ScriptedProvider(
        [
            call("echo", {"text": "before"}, id="e1"),
            call("crash", id="c"),
            call("echo", {"text": "after"}, id="e2"),
            "the server came back",
        ]
    )
    async with MCPToolset(command=sys.executable, args=[script], env=QUIET_ENV) as mcp:
        agent = Agent(provider, tools=await mcp.load_tools())
        first_client = mcp.session
        result = await agent.run("go")
        second_client = mcp.session

    assert result.answer == "the server came back"
    before, crashed, after = tool_messages(provider.prompts[3])
    assert (before.text, before.is_error) == ("before", False)
    assert crashed.is_error and "Connection closed" in crashed.text
    assert (after.text, after.is_error) == ("after", False)
    assert second_client is not first_client  # a new process behind a new client
