"""Resources and prompts: list, read and get them, the resource tool inside a run, resources
attached as context, prompts as message templates."""

from __future__ import annotations

import pytest
from mcp import MCPError
from mcp_helpers import call, tool_messages

from spine_core import Agent, Message, ScriptedProvider, TextPart
from spine_mcp import MCPToolset

pytestmark = pytest.mark.anyio


async def test_resources_and_templates_are_listed(http_mcp: MCPToolset) -> None:
    resources = await http_mcp.list_resources()
    templates = await http_mcp.list_resource_templates()

    assert [(r.uri, r.name, r.mime_type) for r in resources] == [
        ("note://readme", "readme", "text/plain")
    ]
    assert [t.uri_template for t in templates] == ["note://{slug}"]


async def test_read_resource_returns_its_text(http_mcp: MCPToolset) -> None:
    [content] = await http_mcp.read_resource("note://readme")
    [templated] = await http_mcp.read_resource("note://todo")

    assert content.text == "Spine reads MCP resources."  # type: ignore[union-attr]
    assert templated.text == "note todo"  # type: ignore[union-attr]


async def test_unknown_resource_raises_the_servers_error(http_mcp: MCPToolset) -> None:
    with pytest.raises(MCPError, match="Unknown resource"):
        await http_mcp.read_resource("nope://x")


async def test_resource_tool_reads_resources_for_the_model(http_mcp: MCPToolset) -> None:
    provider = ScriptedProvider(
        [
            call("read_resource", {"uri": "note://readme"}, id="r1"),
            call("read_resource", {"uri": "nope://x"}, id="r2"),
            "read",
        ]
    )
    tools = await http_mcp.load_tools(resources=True)
    resource_tool = next(t for t in tools if t.name == "read_resource")
    agent = Agent(provider, tools=tools)

    await agent.run("read the readme")

    assert "note://readme (readme): Intro" in resource_tool.description
    assert "note://{slug} (template)" in resource_tool.description
    good, bad = tool_messages(provider.prompts[2])
    assert (good.text, good.is_error) == ("Spine reads MCP resources.", False)
    assert bad.is_error and "Unknown resource" in bad.text


async def test_resource_tool_rejects_a_call_without_uri(http_mcp: MCPToolset) -> None:
    provider = ScriptedProvider([call("read_resource", {"path": "x"}), "hm"])
    agent = Agent(provider, tools=[await http_mcp.resource_tool()])

    await agent.run("read")

    [seen] = tool_messages(provider.prompts[1])
    assert seen.is_error and "'uri' is a required property" in seen.text


async def test_resource_attached_as_user_context(http_mcp: MCPToolset) -> None:
    message = await http_mcp.resource_message("note://readme")
    provider = ScriptedProvider(["summary"])
    agent = Agent(provider)

    await agent.run("Summarise the attachment.", message_history=[message])

    assert message.role == "user"
    assert message.parts == [
        TextPart(text="Attached resource note://readme:"),
        TextPart(text="Spine reads MCP resources."),
    ]
    assert any("Spine reads MCP resources." in m.text for m in provider.prompts[0])


async def test_prompts_are_listed_and_rendered_as_messages(http_mcp: MCPToolset) -> None:
    [prompt] = await http_mcp.list_prompts()
    messages = await http_mcp.prompt_messages("review", {"language": "Rust"})

    assert prompt.name == "review" and prompt.description == "Ask for a code review."
    assert [a.name for a in prompt.arguments or []] == ["language"]
    assert messages == [Message.user("Review this Rust code carefully.")]
