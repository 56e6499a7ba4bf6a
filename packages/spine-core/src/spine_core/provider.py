"""The provider contract: how the kernel talks to a model.

A provider turns a list of `Message`s plus tool declarations into one `ModelResponse`. Tools
arrive as the `Tool.schema` dicts, `{"name": str, "description": str, "parameters": <JSON
schema>}`. The kernel passes these standard settings as keyword arguments; a provider maps the
ones its API supports and passes the rest through to its API:

- `temperature` (float), `top_p` (float), `max_tokens` (int, output tokens),
  `stop` (list[str]), `seed` (int)
- `tool_choice`: "auto" | "required" | "none" | {"name": "<tool>"}
- `output_schema`: {"name": str, "schema": <JSON schema>} asks for native structured output
- `thinking`: {"budget_tokens": int} or {"effort": "low" | "medium" | "high"}

A provider may carry `name` (its scheme, e.g. "anthropic") and `model` (the model name sent to
the API); both are optional: `provider_name` / `provider_model` fall back to the class name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from .messages import Message, ModelResponse
from .registry import register_provider

__all__ = [
    "ChunkType",
    "Provider",
    "StreamChunk",
    "StreamingProvider",
    "ToolSchema",
    "provider_model",
    "provider_name",
    "register_provider",
]

ToolSchema = dict[str, Any]
"""A tool declaration as providers receive it: `{"name", "description", "parameters"}`."""


@runtime_checkable
class Provider(Protocol):
    """Anything that can turn messages and tool declarations into a response."""

    async def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> ModelResponse:
        """Run one model call.

        Raises:
            ProviderError: every failure, mapped into the taxonomy in `spine_core.errors`
                (the kernel wraps any other exception as kind `unknown`).
        """
        ...


class ChunkType(StrEnum):
    """What a `StreamChunk` carries."""

    TEXT = "text"
    THINKING = "thinking"
    TOOL_CALL = "tool_call"
    RESPONSE = "response"


@dataclass(slots=True, kw_only=True)
class StreamChunk:
    """One streamed piece.

    `delta` is incremental text (answer text, or reasoning when `type` is thinking); the final
    chunk carries the assembled `response`. Tool-call argument deltas have `type=tool_call`,
    `index` (the call's position), `tool_call_id` and `tool_name` (on a call's first delta) and
    `arguments_delta` (a JSON fragment). `type` defaults from the content: `response` when a
    response is given, otherwise `text`.
    """

    delta: str = ""
    response: ModelResponse | None = None
    type: ChunkType | None = None
    index: int = 0
    tool_call_id: str | None = None
    tool_name: str | None = None
    arguments_delta: str = ""

    def __post_init__(self) -> None:
        if self.type is None:
            self.type = ChunkType.RESPONSE if self.response is not None else ChunkType.TEXT


@runtime_checkable
class StreamingProvider(Protocol):
    """A provider that can stream token deltas as well as a final response.

    `stream` yields `StreamChunk`s and ends with one chunk carrying the `response`.
    """

    def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[StreamChunk]: ...


def provider_name(provider: Any) -> str:
    """The provider's `name`, or its class name in lower case when it has none."""
    name = getattr(provider, "name", None)
    return name if isinstance(name, str) and name else type(provider).__name__.lower()


def provider_model(provider: Any) -> str:
    """The provider's `model`, or its class name when it has none."""
    model = getattr(provider, "model", None)
    return model if isinstance(model, str) and model else type(provider).__name__
