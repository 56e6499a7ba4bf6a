"""A Spine agent (scripted provider, one tool) served over MCP stdio by
`spine_mcp.server.run_stdio`, for the server tests. Run as `python spine_stdio_server.py`."""

from __future__ import annotations

import anyio

from spine_core import Agent, Message, ModelResponse, ScriptedProvider, ToolCall, tool
from spine_mcp.server import run_stdio


@tool
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


def main() -> None:
    call = ToolCall(id="s1", name="shout", arguments={"text": "hi"})
    script = [ModelResponse(message=Message.assistant(None, [call])), "HI"]
    agent = Agent(ScriptedProvider(script), tools=[shout], name="echoer")
    anyio.run(run_stdio, agent)


if __name__ == "__main__":
    main()
