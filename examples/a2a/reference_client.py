"""The Spine API reference's `A2AAgent`, used exactly as documented there.

Talks to the A2A agent at the URL given on the command line: one direct `send`, then the same
remote agent as a tool of a local agent (`as_tool`), closed with `async with` / `aclose`.

    python examples/a2a/reference_client.py http://127.0.0.1:8000

Serve one to talk to with `python examples/a2a/serve_agent.py` (an echo agent on port 8000).
"""

from __future__ import annotations

import asyncio
import sys

from spine_a2a import A2AAgent
from spine_core import Agent, Message, ScriptedProvider, ToolCall


async def main(url: str) -> None:
    async with A2AAgent(url) as remote:
        print("send:", await remote.send("Hello from the reference example"))

    remote = A2AAgent(url, name="echo", description="An agent that repeats you.")
    tool = remote.as_tool()
    call = ToolCall(id="call_1", name="echo", arguments={"input": "ping"})
    model = ScriptedProvider([Message.assistant(tool_calls=[call]), "The echo answered."])
    agent = Agent(provider=model, tools=[tool])
    result = await agent.run("Ask the echo agent to say ping.")
    print("tool result:", result.state.messages[-2].text)
    print("answer:", result.answer)
    await remote.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000"))
