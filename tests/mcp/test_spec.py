"""MCP servers in the YAML agent spec: `tools: - mcp: {command: ..., args: [...]}` and
`- mcp: {url: ...}`, and the spec's one-line errors for bad entries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from conftest import TIME_SERVER, build_demo, require_server, serve_uvicorn
from mcp_helpers import call, tool_messages

from spine import SpecError
from spine.spec import load_agent
from spine_core import ScriptedProvider
from spine_mcp.spec import close_spec_servers

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _close_servers() -> Iterator[None]:
    yield
    close_spec_servers()  # else they live until the interpreter exits


def write(folder: Path, text: str) -> Path:
    path = folder / "agent.yaml"
    path.write_text(text)
    return path


def test_a_stdio_server_in_the_spec_gives_the_agent_its_tools(tmp_path: Path) -> None:
    require_server(TIME_SERVER)
    spec = write(
        tmp_path,
        "name: clock\nmodel: test\ntools:\n"
        f"  - mcp:\n      command: {TIME_SERVER}\n"
        "      args: [--local-timezone, UTC]\n      prefix: clock\n",
    )
    agent = load_agent(spec)
    provider = ScriptedProvider(
        [call("clock_get_current_time", {"timezone": "Europe/Oslo"}), "It is evening."]
    )

    first = agent.run_sync("Time in Oslo?", model=provider)  # a new event loop per call
    second = agent.run_sync("And now?", model=ScriptedProvider(["Still evening."]))

    assert set(agent.tools) == {"clock_get_current_time", "clock_convert_time"}
    assert first.answer == "It is evening." and second.answer == "Still evening."
    [seen] = tool_messages(provider.prompts[1])
    assert not seen.is_error and json.loads(seen.text)["timezone"] == "Europe/Oslo"


@pytest.fixture
async def demo_url() -> AsyncIterator[str]:
    async with serve_uvicorn(build_demo().server.streamable_http_app()) as port:
        yield f"http://127.0.0.1:{port}/mcp"


async def test_an_http_server_in_the_spec(tmp_path: Path, demo_url: str) -> None:
    spec = write(tmp_path, f"model: test\ntools:\n  - mcp: {{url: '{demo_url}'}}\n")
    agent = await anyio.to_thread.run_sync(load_agent, spec)  # blocks while it connects
    provider = ScriptedProvider([call("add", {"a": 2, "b": 3}), "five"])

    result = await agent.run("2 + 3?", model=provider)

    assert result.answer == "five"
    [seen] = tool_messages(provider.prompts[1])
    assert (seen.text, seen.is_error) == ("5", False)


@pytest.mark.parametrize(
    ("entry", "line", "problem"),
    [
        (
            "  - mcp:\n      comand: mcp-server-time\n",
            4,
            "tools[0].mcp.comand: unknown key 'comand'; did you mean 'command'?",
        ),
        (
            "  - mcp: {url: 'http://127.0.0.1:9/mcp', args: [x]}\n",
            3,
            "tools[0].mcp: `args` and `env` go with `command`, not `url`",
        ),
        (
            "  - mcp: {}\n",
            3,
            "tools[0].mcp: give `command` (a stdio server) or `url` (HTTP), exactly one",
        ),
        (
            "  - mcp: {command: /no/such/mcp-server}\n",
            3,
            "tools[0].mcp: MCPConnectError: cannot connect to MCP server /no/such/mcp-server:",
        ),
        (
            "  - {python: tools:TOOLS, mcp: {url: 'http://x'}}\n",
            3,
            "tools[0]: give `python: module:attr` or `mcp: {...}`, exactly one",
        ),
    ],
)
def test_bad_mcp_entries_get_a_one_line_error(
    tmp_path: Path, entry: str, line: int, problem: str
) -> None:
    spec = write(tmp_path, f"model: test\ntools:\n{entry}")

    with pytest.raises(SpecError) as caught:
        load_agent(spec)

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{spec}:{line}: {problem}")
