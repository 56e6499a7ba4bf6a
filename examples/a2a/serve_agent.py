"""Serve a Spine agent as an A2A 1.0 agent on http://127.0.0.1:8000.

    python examples/a2a/serve_agent.py

The card is at http://127.0.0.1:8000/.well-known/agent-card.json; any A2A 1.0 client (the
a2a-sdk's, or `examples/a2a/reference_client.py`) can talk to it. The agent runs offline on a
`FunctionProvider` that echoes the user; swap in a real model ("anthropic:...") to make it
useful. Its sessions and tasks live in `a2a-example.db` (SQLite), so a restart loses nothing.
"""

from __future__ import annotations

from typing import Any

import uvicorn

from spine_a2a import A2AServer
from spine_backends import SQLiteCheckpoint
from spine_core import Agent, FunctionProvider, Message


def echo(messages: list[Message], tools: list[dict[str, Any]], settings: dict[str, Any]) -> str:
    return f"You said: {messages[-1].text}"


agent = Agent(
    provider=FunctionProvider(echo),
    name="echo",
    system="Repeats what you say.",
    checkpoint=SQLiteCheckpoint("a2a-example.db"),
)
app = A2AServer(agent)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=8000)
