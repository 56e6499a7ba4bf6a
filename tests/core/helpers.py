"""Small builders shared by the kernel tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio

from spine_core import Message, ModelResponse, ToolCall, Usage


def call(name: str, id: str | None = None, /, **arguments: Any) -> ToolCall:
    """A tool call named `name` (id defaults to "call_<name>")."""
    return ToolCall(id=id or f"call_{name}", name=name, arguments=arguments)


def asks(*calls: ToolCall, text: str = "") -> Message:
    """An assistant message requesting `calls`."""
    return Message.assistant(text, tool_calls=list(calls))


def priced(message: Message | str, *, cost_usd: float = 0.0, tokens: int = 0) -> ModelResponse:
    """A response with the given cost (USD) and input tokens."""
    msg = Message.assistant(message) if isinstance(message, str) else message
    return ModelResponse(
        message=msg, usage=Usage(input_tokens=tokens, cost_usd=cost_usd, requests=1)
    )


def tool_messages(messages: Sequence[Message]) -> list[tuple[str | None, str, bool]]:
    """(tool name, text, is_error) of every tool result in `messages`."""
    return [(m.name, m.text, m.is_error) for m in messages if m.role == "tool"]


class BlockingProvider:
    """A provider whose call never returns (it waits on an event nobody sets)."""

    name = "blocking"
    model = "blocking"

    def __init__(self) -> None:
        self.calls = 0
        self.never = anyio.Event()

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse:
        self.calls += 1
        await self.never.wait()
        raise AssertionError("unreachable")
