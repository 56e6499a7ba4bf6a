"""Conversation data: roles, messages with multimodal parts, tool calls, usage, model responses."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ._trusted import fill, keyword_signature, trusted

# Default of the fast constructors' parameters: tells "not given" from an explicit None.
_UNSET: Any = object()


def _given(**fields: Any) -> dict[str, Any]:
    """The fields a caller passed (those not left at `_UNSET`), for the validating path."""
    return {name: value for name, value in fields.items() if value is not _UNSET}


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
    "normalize_finish_reason",
]


class Role(StrEnum):
    """Who wrote a message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class DictAccess:
    """Read access by key, as the reference's plain dicts allow (`part["text"]`)."""

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:  # type: ignore[attr-defined]
            return getattr(self, key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def get(self, key: str, default: Any = None) -> Any:
        """The value under `key`, or `default`."""
        try:
            return self[key]
        except KeyError:
            return default


class TextPart(DictAccess, BaseModel):
    """A text segment of a multimodal message."""

    model_config = ConfigDict(frozen=True, defer_build=True)
    type: Literal["text"] = "text"
    text: str


class ImagePart(DictAccess, BaseModel):
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
        arguments: Parsed JSON arguments (raw: the tool validates them).
        arguments_error: Set when the provider's arguments were not valid JSON; the kernel then
            returns this text to the model as a tool error instead of calling the tool.
        signature: Provider replay data attached to the call (Gemini thoughtSignature).
    """

    model_config = ConfigDict(defer_build=True)
    id: str
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    arguments_error: str | None = None
    signature: str | None = None

    def __init__(
        self,
        /,
        id: Any = _UNSET,
        name: Any = _UNSET,
        arguments: Any = _UNSET,
        arguments_error: Any = _UNSET,
        signature: Any = _UNSET,
        **extra: Any,
    ) -> None:
        # Fast path for the exact types a provider adapter passes; anything else validates.
        if (
            type(id) is str
            and type(name) is str
            and not extra
            and (arguments is _UNSET or type(arguments) is dict)
            and (
                arguments_error is _UNSET or arguments_error is None or type(arguments_error) is str
            )
            and (signature is _UNSET or signature is None or type(signature) is str)
            and type(self) is ToolCall
        ):
            given = {"id", "name"}
            if arguments is _UNSET:
                arguments = {}
            else:  # JSON object keys are strings; a copy, as validation would make
                arguments = dict(arguments)
                given.add("arguments")
            if arguments_error is _UNSET:
                arguments_error = None
            else:
                given.add("arguments_error")
            if signature is _UNSET:
                signature = None
            else:
                given.add("signature")
            values = {
                "id": id,
                "name": name,
                "arguments": arguments,
                "arguments_error": arguments_error,
                "signature": signature,
            }
            fill(self, values, given)
            return
        given_fields = _given(
            id=id,
            name=name,
            arguments=arguments,
            arguments_error=arguments_error,
            signature=signature,
        )
        super().__init__(**given_fields, **extra)


ToolCall.__signature__ = keyword_signature(ToolCall)


class Message(BaseModel):
    """One message of a conversation.

    `content` is the text, None on an assistant turn that only carries `tool_calls`. `parts`
    holds multimodal content blocks, each `{"type": "text", "text": ...}` or `{"type": "image",
    "url" | "data": ..., "media_type": ...}` (validated into `TextPart` / `ImagePart`); when
    set, providers send the parts instead of `content`. Assistant messages carry `tool_calls`
    and `thinking`; tool messages carry `tool_call_id` (linking the result to its request),
    the tool `name` and `is_error`. Messages are mutable: middleware may edit a response's
    message before it is stored (stores are append-only, so edit before, not after).
    """

    model_config = ConfigDict(defer_build=True)
    role: Role
    content: str | None = None
    parts: list[Part] | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    thinking: list[Thinking] = Field(default_factory=list)
    is_error: bool = False

    @classmethod
    def system(cls, content: str) -> Message:
        if cls is Message and type(content) is str:
            return _text_message(Role.SYSTEM, content)
        return cls(role=Role.SYSTEM, content=content)

    @classmethod
    def user(cls, content: str) -> Message:
        if cls is Message and type(content) is str:
            return _text_message(Role.USER, content)
        return cls(role=Role.USER, content=content)

    @classmethod
    def user_parts(cls, parts: Sequence[dict[str, Any] | Part]) -> Message:
        """A user turn carrying multimodal content blocks (text and images)."""
        return cls.model_validate({"role": Role.USER, "parts": parts})

    @classmethod
    def assistant(
        cls, content: str | None = None, tool_calls: list[ToolCall] | None = None
    ) -> Message:
        if (
            cls is Message
            and (content is None or type(content) is str)
            and (tool_calls is None or (type(tool_calls) is list and _all_calls(tool_calls)))
        ):
            values = {
                "role": Role.ASSISTANT,
                "content": content,
                "parts": None,
                "tool_calls": tool_calls or [],
                "tool_call_id": None,
                "name": None,
                "thinking": [],
                "is_error": False,
            }
            return trusted(Message, values, {"role", "content", "tool_calls"})
        return cls(role=Role.ASSISTANT, content=content, tool_calls=tool_calls or [])

    @classmethod
    def tool(
        cls, content: str, tool_call_id: str, name: str | None = None, *, is_error: bool = False
    ) -> Message:
        """The result of the tool call `tool_call_id` (`is_error` marks a failed call)."""
        if (
            cls is Message
            and type(content) is str
            and type(tool_call_id) is str
            and (name is None or type(name) is str)
            and type(is_error) is bool
        ):
            values: dict[str, Any] = {
                "role": Role.TOOL,
                "content": content,
                "parts": None,
                "tool_calls": [],
                "tool_call_id": tool_call_id,
                "name": name,
                "thinking": [],
                "is_error": is_error,
            }
            return trusted(Message, values, _TOOL_FIELDS_SET.copy())
        return cls(
            role=Role.TOOL,
            content=content,
            tool_call_id=tool_call_id,
            name=name,
            is_error=is_error,
        )

    @property
    def text(self) -> str:
        """The text of the message: `content`, or the text parts joined ("" when neither)."""
        if self.content or not self.parts:
            return self.content or ""
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))


_TOOL_FIELDS_SET = {"role", "content", "tool_call_id", "name", "is_error"}


def _text_message(role: Role, content: str) -> Message:
    values: dict[str, Any] = {
        "role": role,
        "content": content,
        "parts": None,
        "tool_calls": [],
        "tool_call_id": None,
        "name": None,
        "thinking": [],
        "is_error": False,
    }
    return trusted(Message, values, {"role", "content"})


def _all_calls(calls: list[Any]) -> bool:
    for call in calls:  # noqa: SIM110 - a plain loop: all(<genexpr>) costs more per call
        if type(call) is not ToolCall:
            return False
    return True


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

    def __init__(self, /, **data: Any) -> None:
        # Fast path: counts given as exact ints (and cost as a float); anything else validates.
        if type(self) is Usage:
            types = _USAGE_TYPES
            for name, value in data.items():
                if types.get(name) is not type(value):
                    break
            else:
                fill(self, {**_USAGE_DEFAULTS, **data}, set(data))
                return
        super().__init__(**data)

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
        total = self.snapshot()
        total.add(other)
        return total

    def snapshot(self) -> Usage:
        """An independent copy, built without re-validation (all fields are numbers)."""
        return trusted(Usage, dict(self.__dict__), set(self.__pydantic_fields_set__))


_USAGE_FIELDS = tuple(Usage.model_fields)
_USAGE_DEFAULTS: dict[str, Any] = {name: info.default for name, info in Usage.model_fields.items()}
_USAGE_TYPES = {name: type(value) for name, value in _USAGE_DEFAULTS.items()}


class FinishReason(StrEnum):
    """Why the model stopped generating, normalised across providers."""

    STOP = "stop"
    LENGTH = "length"
    TOOL_CALLS = "tool_calls"
    CONTENT_FILTER = "content_filter"


# Providers' own finish-reason strings (lower-cased) -> FinishReason. Sources: OpenAI Chat
# `finish_reason`, OpenAI Responses `incomplete_details.reason`, Anthropic `stop_reason`,
# Gemini `finishReason`, Ollama `done_reason`.
_FINISH_ALIASES = {
    "stop": FinishReason.STOP,
    "end_turn": FinishReason.STOP,
    "stop_sequence": FinishReason.STOP,
    "pause_turn": FinishReason.STOP,
    "completed": FinishReason.STOP,
    "finish_reason_unspecified": FinishReason.STOP,
    "length": FinishReason.LENGTH,
    "max_tokens": FinishReason.LENGTH,
    "max_output_tokens": FinishReason.LENGTH,
    "model_context_window_exceeded": FinishReason.LENGTH,
    "tool_calls": FinishReason.TOOL_CALLS,
    "tool_use": FinishReason.TOOL_CALLS,
    "function_call": FinishReason.TOOL_CALLS,
    "content_filter": FinishReason.CONTENT_FILTER,
    "safety": FinishReason.CONTENT_FILTER,
    "refusal": FinishReason.CONTENT_FILTER,
    "recitation": FinishReason.CONTENT_FILTER,
    "blocklist": FinishReason.CONTENT_FILTER,
    "prohibited_content": FinishReason.CONTENT_FILTER,
    "spii": FinishReason.CONTENT_FILTER,
    "image_safety": FinishReason.CONTENT_FILTER,
}


def normalize_finish_reason(value: Any, *, has_tool_calls: bool = False) -> FinishReason:
    """Map a provider's finish reason (e.g. "end_turn", "MAX_TOKENS", None) to `FinishReason`.

    None and unrecognised values are inferred: `tool_calls` when the message carries tool calls
    (`has_tool_calls`), otherwise `stop`.
    """
    if isinstance(value, FinishReason):
        return value
    found = _FINISH_ALIASES.get(str(value).lower()) if value is not None else None
    if found is not None:
        return found
    if has_tool_calls:
        return FinishReason.TOOL_CALLS
    return FinishReason.STOP


class ModelResponse(BaseModel):
    """What a provider returns for one call: the assistant message, usage and finish reason.

    `finish_reason` accepts the providers' raw strings ("end_turn", "tool_use", "MAX_TOKENS",
    None, ...) and normalises them (see `normalize_finish_reason`). `raw` keeps the provider's
    own response object for debugging; it is never persisted. `cached` marks a response served
    by a cache rather than the provider.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)
    message: Message
    usage: Usage = Field(default_factory=Usage)
    finish_reason: FinishReason = Field(default=None, validate_default=True)
    model: str | None = None
    raw: Any = Field(default=None, exclude=True, repr=False)
    cached: bool = False

    def __init__(
        self,
        /,
        message: Any = _UNSET,
        usage: Any = _UNSET,
        finish_reason: Any = _UNSET,
        model: Any = _UNSET,
        raw: Any = _UNSET,
        cached: Any = _UNSET,
        **extra: Any,
    ) -> None:
        # Fast path: a `Message` and a `Usage` as built by an adapter; anything else validates.
        if (
            type(message) is Message
            and (usage is _UNSET or usage is None or type(usage) is Usage)
            and (model is _UNSET or model is None or type(model) is str)
            and (cached is _UNSET or type(cached) is bool)
            and not extra
            and type(self) is ModelResponse
        ):
            given = {"message"}
            if usage is _UNSET or usage is None:
                if usage is None:
                    given.add("usage")
                usage = Usage()
            else:
                given.add("usage")
            if finish_reason is _UNSET:
                finish_reason = normalize_finish_reason(
                    None, has_tool_calls=bool(message.tool_calls)
                )
            else:
                given.add("finish_reason")
                if type(finish_reason) is not FinishReason:
                    finish_reason = normalize_finish_reason(
                        finish_reason, has_tool_calls=bool(message.tool_calls)
                    )
            if model is _UNSET:
                model = None
            else:
                given.add("model")
            if raw is _UNSET:
                raw = None
            else:
                given.add("raw")
            if cached is _UNSET:
                cached = False
            else:
                given.add("cached")
            values = {
                "message": message,
                "usage": usage,
                "finish_reason": finish_reason,
                "model": model,
                "raw": raw,
                "cached": cached,
            }
            fill(self, values, given)
            return
        given_fields = _given(
            message=message,
            usage=usage,
            finish_reason=finish_reason,
            model=model,
            raw=raw,
            cached=cached,
        )
        super().__init__(**given_fields, **extra)

    @field_validator("finish_reason", mode="before")
    @classmethod
    def _normalize_finish(cls, value: Any, info: ValidationInfo) -> FinishReason:
        if type(value) is FinishReason:
            return value
        message = info.data.get("message")
        calls = message is not None and bool(message.tool_calls)
        if value is None:  # the common case first: inferred from the message
            return FinishReason.TOOL_CALLS if calls else FinishReason.STOP
        return normalize_finish_reason(value, has_tool_calls=calls)


ModelResponse.__signature__ = keyword_signature(ModelResponse)
