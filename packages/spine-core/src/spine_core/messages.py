"""Conversation data: roles, messages with multimodal parts, tool calls, usage, model responses."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FinishReason",
    "ImagePart",
    "Message",
    "ModelResponse",
    "Part",
    "Role",
    "TextPart",
    "Thinking",
    "ToolCall",
    "Usage",
]


class Role(StrEnum):
    """Who wrote a message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class TextPart(BaseModel):
    """A text segment of a multimodal message."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    type: Literal["text"] = "text"
    text: str


class ImagePart(BaseModel):
    """An image, by URL or inline base64 `data` with its `media_type` (e.g. "image/png")."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    type: Literal["image"] = "image"
    url: str | None = None
    data: str | None = None
    media_type: str | None = None


Part = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class Thinking(BaseModel):
    """Reasoning content a model produced.

    `signature` carries whatever the provider needs to accept the block back on the next turn
    (Anthropic's signature, Gemini's thoughtSignature, OpenAI's encrypted reasoning content).
    `redacted` marks content the provider returned encrypted only.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)
    text: str = ""
    signature: str | None = None
    redacted: bool = False
    provider: str | None = None
    id: str | None = None


class ToolCall(BaseModel):
    """A model's request to call a tool.

    Attributes:
        id: Provider-assigned call id; tool results refer back to it.
        name: Tool name.
        arguments: Parsed JSON arguments.
        arguments_error: Set when the provider's arguments were not valid JSON; the kernel then
            returns this text to the model as a tool error instead of calling the tool.
        signature: Provider replay data attached to the call (Gemini thoughtSignature).
    """

    model_config = ConfigDict(frozen=True, defer_build=True)
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    arguments_error: str | None = None
    signature: str | None = None


class Message(BaseModel):
    """One message of a conversation. Immutable: change a history by building new messages.

    `content` is the text; `parts` holds multimodal content (when set, providers send the parts
    and ignore `content`). Assistant messages carry `tool_calls` and `thinking`; tool messages
    carry `tool_call_id`, the tool `name` and `is_error`.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)
    role: Role
    content: str = ""
    parts: list[Part] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    thinking: list[Thinking] = Field(default_factory=list)
    is_error: bool = False

    @classmethod
    def system(cls, text: str) -> Message:
        return cls(role=Role.SYSTEM, content=text)

    @classmethod
    def user(cls, text: str = "", *, parts: list[Part] | None = None) -> Message:
        return cls(role=Role.USER, content=text, parts=parts or [])

    @classmethod
    def assistant(cls, text: str = "", *, tool_calls: list[ToolCall] | None = None) -> Message:
        return cls(role=Role.ASSISTANT, content=text, tool_calls=tool_calls or [])

    @classmethod
    def tool(cls, call: ToolCall, text: str, *, is_error: bool = False) -> Message:
        return cls(
            role=Role.TOOL, content=text, tool_call_id=call.id, name=call.name, is_error=is_error
        )

    @property
    def text(self) -> str:
        """The text of the message: `content`, or the text parts joined."""
        if self.content or not self.parts:
            return self.content
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


class Usage(BaseModel):
    """Token and cost accounting for one model call or a sum of calls.

    Token counts are tokens; `input_tokens` includes cached input (cache reads and writes are
    also reported separately); `reasoning_tokens` are part of `output_tokens`. `cost_usd` is
    US dollars. `requests` counts model calls.
    """

    model_config = ConfigDict(defer_build=True)

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    requests: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: Usage) -> None:
        """Add `other` into this usage in place."""
        # The loop banks usage every step: update the field dict directly (all fields are
        # plain numbers, so pydantic's per-assignment bookkeeping buys nothing here).
        mine, theirs = self.__dict__, other.__dict__
        for name in _USAGE_FIELDS:
            mine[name] += theirs[name]

    def __add__(self, other: Usage) -> Usage:
        total = self.model_copy()
        total.add(other)
        return total


_USAGE_FIELDS = tuple(Usage.model_fields)


class FinishReason(StrEnum):
    """Why the model stopped generating, normalised across providers."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"


class ModelResponse(BaseModel):
    """What a provider returns for one call: the assistant message, usage and finish reason.

    `raw` keeps the provider's own response object for debugging; it is never persisted.
    `cached` marks a response served by a cache rather than the provider.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)
    message: Message
    usage: Usage = Field(default_factory=Usage)
    finish_reason: FinishReason = FinishReason.STOP
    model: str | None = None
    raw: Any = Field(default=None, exclude=True, repr=False)
    cached: bool = False
