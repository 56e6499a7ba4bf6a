"""MCPToolset against the real third-party `mcp-server-time` (PyPI, pinned in the lock)
over stdio, inside real Spine runs driven by a ScriptedProvider."""

from __future__ import annotations

import json

import pytest
from mcp_helpers import call, calls, tool_messages

from spine_core import Agent, ScriptedProvider
from spine_mcp import MCPToolset

pytestmark = pytest.mark.anyio


async def test_tools_are_built_from_the_servers_input_schema(time_mcp: MCPToolset) -> None:
    tools = {t.name: t for t in await time_mcp.load_tools()}

    assert set(tools) == {"get_current_time", "convert_time"}
    params = tools["get_current_time"].parameters
    assert params["type"] == "object"
    assert params["required"] == ["timezone"]
    assert "IANA timezone" in params["properties"]["timezone"]["description"]
    assert tools["convert_time"].schema["parameters"]["required"] == [
        "source_timezone",
        "time",
        "target_timezone",
    ]
    assert time_mcp.protocol_version in {"2026-07-28", "2025-11-25"}
    assert time_mcp.server_info is not None and time_mcp.server_info.name == "mcp-time"


async def test_tool_result_reaches_the_model(time_mcp: MCPToolset) -> None:
    provider = ScriptedProvider(
        [call("get_current_time", {"timezone": "Asia/Tokyo"}), "It is night in Tokyo."]
    )
    agent = Agent(provider, tools=await time_mcp.load_tools())

    result = await agent.run("What time is it in Tokyo?")

    assert result.ok and result.answer == "It is night in Tokyo."
    [seen] = tool_messages(provider.prompts[1])
    assert not seen.is_error
    payload = json.loads(seen.text)
    assert payload["timezone"] == "Asia/Tokyo"
    assert payload["datetime"].endswith("+09:00")


async def test_server_error_result_goes_back_as_a_tool_error(time_mcp: MCPToolset) -> None:
    provider = ScriptedProvider([call("get_current_time", {"timezone": "Mars/Olympus"}), "sorry"])
    agent = Agent(provider, tools=await time_mcp.load_tools())

    result = await agent.run("time on Mars?")

    assert result.ok  # the run goes on: the model sees the error and answers
    [seen] = tool_messages(provider.prompts[1])
    assert seen.is_error
    assert "Invalid timezone" in seen.text and "Mars/Olympus" in seen.text


async def test_malformed_arguments_go_back_as_a_tool_error(time_mcp: MCPToolset) -> None:
    provider = ScriptedProvider(
        [call("convert_time", {"source_timezone": "UTC", "time": 1200}), "oops"]
    )
    agent = Agent(provider, tools=await time_mcp.load_tools())

    await agent.run("convert")

    [seen] = tool_messages(provider.prompts[1])
    assert seen.is_error
    assert "Invalid arguments for tool 'convert_time'" in seen.text
    assert "'target_timezone' is a required property" in seen.text
    assert "time: 1200 is not of type 'string'" in seen.text


async def test_unknown_command_raises_a_connect_error() -> None:
    from spine_mcp import MCPConnectError

    with pytest.raises(MCPConnectError, match="no-such-mcp-server"):
        async with MCPToolset(command="no-such-mcp-server-binary"):
            pass


async def test_time_server_has_no_prompts(time_mcp: MCPToolset) -> None:
    assert await time_mcp.list_prompts() == []


async def test_two_servers_in_parallel_in_one_turn(
    http_mcp: MCPToolset, time_mcp: MCPToolset
) -> None:
    provider = ScriptedProvider(
        [
            calls(("a", "add", {"a": 5, "b": 5}), ("b", "get_current_time", {"timezone": "UTC"})),
            "both",
        ]
    )
    tools = [*await http_mcp.load_tools(), *await time_mcp.load_tools()]
    agent = Agent(provider, tools=tools, parallel_tools=True)

    result = await agent.run("both")

    assert result.answer == "both"
    first, second = tool_messages(provider.prompts[1])
    assert (first.tool_call_id, first.text) == ("a", "10")
    assert second.tool_call_id == "b" and json.loads(second.text)["timezone"] == "UTC"
