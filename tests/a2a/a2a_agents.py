"""Deterministic Spine agents served in the A2A tests (also from worker processes).

Each is driven by a `FunctionProvider` that decides from the history alone, so a server
restarted on the same store continues exactly where the old one stopped.
"""

from __future__ import annotations

from typing import Any

import anyio

from spine_core import (
    Agent,
    CheckpointStore,
    FunctionProvider,
    Interrupt,
    Message,
    Role,
    ToolCall,
    tool,
)


def _last(messages: list[Message]) -> Message:
    return messages[-1]


def _call(messages: list[Message], name: str, **arguments: Any) -> Message:
    return Message.assistant(
        tool_calls=[ToolCall(id=f"call_{len(messages)}", name=name, arguments=arguments)]
    )


def echo_agent(store: CheckpointStore | None = None) -> Agent:
    """Answers "echo #<n>: <text>", n counting the user turns of the session."""

    def reply(messages: list[Message], tools: list[dict[str, Any]], settings: Any) -> str:
        turns = sum(1 for m in messages if m.role is Role.USER)
        return f"echo #{turns}: {_last(messages).text}"

    return Agent(
        provider=FunctionProvider(reply),
        checkpoint=store,
        name="echo",
        system="Repeats what you say.\nA test agent.",
    )


@tool
def ask_name() -> str:
    """Ask the user for their name."""
    raise Interrupt("What is your name?", data={"field": "name"})


def asking_agent(store: CheckpointStore | None = None) -> Agent:
    """Asks for the user's name (a tool `Interrupt`), then greets them."""

    def reply(messages: list[Message], tools: list[dict[str, Any]], settings: Any) -> Message:
        last = _last(messages)
        if last.role is Role.USER:
            return _call(messages, "ask_name")
        return Message.assistant(f"Hello, {last.text}!")

    return Agent(
        provider=FunctionProvider(reply), checkpoint=store, tools=[ask_name], name="greeter"
    )


@tool(approve=True)
def delete_file(path: str) -> str:
    """Delete a file (needs approval).

    Args:
        path: The file to delete.
    """
    return f"deleted {path}"


def approval_agent(store: CheckpointStore | None = None) -> Agent:
    """Deletes the file named in the message, after a human approves the call."""

    def reply(messages: list[Message], tools: list[dict[str, Any]], settings: Any) -> Message:
        last = _last(messages)
        if last.role is Role.USER:
            return _call(messages, "delete_file", path=last.text)
        return Message.assistant(f"Result: {last.text}")

    return Agent(
        provider=FunctionProvider(reply), checkpoint=store, tools=[delete_file], name="janitor"
    )


@tool
async def slow_step() -> str:
    """A step that takes a minute."""
    await anyio.sleep(60)
    return "finished"


def slow_agent(store: CheckpointStore | None = None) -> Agent:
    """Calls a tool that takes a minute (for cancels and kills mid-run)."""

    def reply(messages: list[Message], tools: list[dict[str, Any]], settings: Any) -> Message:
        last = _last(messages)
        if last.role is Role.USER:
            return _call(messages, "slow_step")
        return Message.assistant(f"Slow result: {last.text}")

    return Agent(provider=FunctionProvider(reply), checkpoint=store, tools=[slow_step], name="slow")


AGENTS = {
    "echo": echo_agent,
    "asking": asking_agent,
    "approval": approval_agent,
    "slow": slow_agent,
}
