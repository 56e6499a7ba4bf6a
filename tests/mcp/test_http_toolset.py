"""MCPToolset over streamable HTTP against the mcp SDK's own MCPServer (in process, through
`httpx2.ASGITransport`): results with text, images and structured content, error results,
approval pauses, timeouts and parallel calls."""

from __future__ import annotations

import base64
import json

import pytest
from conftest import PNG, Demo
from mcp_helpers import call, tool_messages

from spine_core import (
    Agent,
    ImagePart,
    InMemoryCheckpointStore,
    ScriptedProvider,
    StopReason,
    TextPart,
)
from spine_mcp import MCPImages, MCPToolset

pytestmark = pytest.mark.anyio


async def test_http_negotiates_the_modern_protocol_and_calls_a_tool(
    http_mcp: MCPToolset, demo: Demo
) -> None:
    provider = ScriptedProvider([call("add", {"a": 2, "b": 40}), "42"])
    agent = Agent(provider, tools=await http_mcp.load_tools())

    result = await agent.run("2 + 40?")

    assert http_mcp.protocol_version == "2026-07-28"
    assert result.answer == "42"
    [seen] = tool_messages(provider.prompts[1])
    assert (seen.text, seen.is_error) == ("42", False)
    assert demo.calls == {"add": 1}


async def test_structured_content_is_given_to_the_model(http_mcp: MCPToolset) -> None:
    provider = ScriptedProvider([call("weather", {"city": "Oslo"}), "mild"])
    tools = {t.name: t for t in await http_mcp.load_tools()}
    agent = Agent(provider, tools=list(tools.values()))

    await agent.run("weather?")

    [seen] = tool_messages(provider.prompts[1])
    assert json.loads(seen.text) == {"city": "Oslo", "celsius": 21.5}
    assert tools["weather"].parameters["required"] == ["city"]


async def test_error_result_is_a_tool_error_with_the_servers_text(http_mcp: MCPToolset) -> None:
    provider = ScriptedProvider([call("explode"), "it failed"])
    agent = Agent(provider, tools=await http_mcp.load_tools())

    result = await agent.run("go")

    assert result.ok and result.answer == "it failed"
    [seen] = tool_messages(provider.prompts[1])
    assert seen.is_error
    assert "the reactor is offline" in seen.text
    errors = [e for e in result.trace if e.type == "tool_result" and e.data["is_error"]]
    assert len(errors) == 1


async def test_image_result_has_a_text_placeholder(http_mcp: MCPToolset) -> None:
    provider = ScriptedProvider([call("chart"), "a chart"])
    agent = Agent(provider, tools=await http_mcp.load_tools())

    await agent.run("chart")

    [seen] = tool_messages(provider.prompts[1])
    assert seen.text == f"[image: image/png, {len(PNG)} bytes]"
    assert all(m.parts is None for m in provider.prompts[1])


async def test_image_result_reaches_the_model_as_an_image_part(http_mcp: MCPToolset) -> None:
    provider = ScriptedProvider([call("chart"), "a chart"])
    agent = Agent(provider, tools=await http_mcp.load_tools(), middleware=[MCPImages()])

    result = await agent.run("chart")

    sent = provider.prompts[1]
    assert [m.role for m in sent[-3:]] == ["assistant", "tool", "user"]
    parts = sent[-1].parts
    assert parts is not None and isinstance(parts[0], TextPart)
    assert "Images returned by tool 'chart'" in parts[0].text
    assert parts[1] == ImagePart(data=base64.b64encode(PNG).decode(), media_type="image/png")
    # the stored history keeps only the text result
    assert all(m.parts is None for m in result.state.messages)


async def test_approval_pauses_and_a_fresh_agent_resumes(http_mcp: MCPToolset, demo: Demo) -> None:
    store = InMemoryCheckpointStore()
    approving = MCPToolset(session=http_mcp.session, approve=True)
    first = Agent(
        ScriptedProvider([call("add", {"a": 1, "b": 2})]),
        checkpoint=store,
        tools=await approving.load_tools(),
    )

    paused = await first.run("1 + 2?", session_id="s1")

    assert paused.stopped_reason is StopReason.INTERRUPT
    assert paused.interrupt.data == {"tool": "add", "arguments": {"a": 1, "b": 2}}
    assert demo.calls == {}  # nothing ran before the human said yes

    provider = ScriptedProvider(["three"])
    fresh = Agent(provider, checkpoint=store, tools=await approving.load_tools())
    resumed = await fresh.resume(paused.resume_token, "approve")

    assert resumed.answer == "three"
    assert demo.calls == {"add": 1}
    [seen] = tool_messages(provider.prompts[0])
    assert (seen.text, seen.is_error) == ("3", False)


async def test_rejected_call_never_reaches_the_server(http_mcp: MCPToolset, demo: Demo) -> None:
    store = InMemoryCheckpointStore()
    approving = MCPToolset(session=http_mcp.session, approve=True)
    agent = Agent(
        ScriptedProvider([call("add", {"a": 1, "b": 2}), "ok"]),
        checkpoint=store,
        tools=await approving.load_tools(),
    )

    paused = await agent.run("1 + 2?")
    resumed = await agent.resume(paused.resume_token, "no", reason="not today")

    assert resumed.answer == "ok"
    assert demo.calls == {}
    [seen] = tool_messages(resumed.state.messages)
    assert seen.is_error and "not today" in seen.text


async def test_a_hanging_server_is_bounded_by_the_timeout(http_mcp: MCPToolset, demo: Demo) -> None:
    impatient = MCPToolset(session=http_mcp.session, timeout_s=0.2)
    provider = ScriptedProvider([call("hang"), "gave up"])
    agent = Agent(provider, tools=await impatient.load_tools())

    result = await agent.run("wait")

    demo.release.set()
    assert result.answer == "gave up"
    [seen] = tool_messages(provider.prompts[1])
    assert seen.is_error and "did not answer tools/call 'hang' within 0.2 s" in seen.text


async def test_prefix_keeps_two_servers_tools_apart(http_mcp: MCPToolset) -> None:
    named = MCPToolset(session=http_mcp.session, prefix="demo")

    names = {t.name for t in await named.load_tools()}

    assert {"demo_add", "demo_chart", "demo_weather"} <= names
