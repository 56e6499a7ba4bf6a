"""The provider contract: how the kernel talks to a model.

A provider turns a list of `Message`s plus tool schemas into one `ModelResponse`. The kernel
passes these standard settings as keyword arguments; a provider maps the ones its API supports
and ignores the rest:

- `temperature` (float), `top_p` (float), `max_tokens` (int, output tokens),
  `stop` (list[str]), `seed` (int)
- `tool_choice`: "auto" | "required" | "none" | {"name": "<tool>"}
- `output_schema`: {"name": str, "schema": <JSON schema>} asks for native structured output
- `thinking`: {"budget_tokens": int} or {"effort": "low" | "medium" | "high"}
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from .messages import Message, ModelResponse

__all__ = ["ChunkType", "Provider", "StreamChunk", "StreamingProvider", "ToolSpec"]


@runtime_checkable
class ToolSpec(Protocol):
    """What a provider needs to know about a tool: `Tool` satisfies it."""

    name: str
    description: str
    parameters: dict[str, Any]


@runtime_checkable
class Provider(Protocol):
    """A model endpoint.

    Attributes:
        name: The provider scheme ("anthropic", "openai", "test", ...).
        model: The model name sent to the API.
    """

    name: str
    model: str

    async def complete(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], **settings: Any
    ) -> ModelResponse:
        """Run one model call.

        Raises:
            ProviderError: every failure, mapped into the taxonomy in `spine_core.errors`.
        """
        ...


class ChunkType(StrEnum):
    TEXT = "text"
    THINKING = "thinking"
    TOOL_CALL = "tool_call"
    RESPONSE = "response"


@dataclass(slots=True)
class StreamChunk:
    """One streamed increment.

    `text` carries a text or thinking delta; for `tool_call` chunks `index`, `tool_call_id`,
    `tool_name` (on the first delta of a call) and `arguments_delta` (a JSON fragment). The last
    chunk of a stream is `type=response` with the assembled `ModelResponse`.
    """

    type: ChunkType
    text: str = ""
    index: int = 0
    tool_call_id: str | None = None
    tool_name: str | None = None
    arguments_delta: str = ""
    response: ModelResponse | None = None


@runtime_checkable
class StreamingProvider(Provider, Protocol):
    """A provider that can stream; `stream` ends with one `ChunkType.RESPONSE` chunk."""

    def stream(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], **settings: Any
    ) -> AsyncIterator[StreamChunk]: ...
