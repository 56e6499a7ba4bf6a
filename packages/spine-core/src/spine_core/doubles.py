"""Offline providers for tests and demos: `TestProvider`, `FunctionProvider`, `ScriptedProvider`.

All three stream as well (text split into word deltas), so streaming code paths run offline.
"""

from __future__ import annotations

import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import SpineError
from .messages import FinishReason, Message, ModelResponse, Role, ToolCall, Usage
from .provider import ChunkType, StreamChunk

__all__ = ["FunctionProvider", "ScriptedCall", "ScriptedProvider", "TestProvider", "sample_json"]


def _tokens(text: str) -> int:
    """A deterministic token estimate: one token per four characters, at least one."""
    return max(1, len(text) // 4)


def _usage(messages: Sequence[Message], reply: Message) -> Usage:
    prompt = sum(_tokens(m.text) for m in messages)
    completion = _tokens(reply.text) + sum(
        _tokens(json.dumps(c.arguments)) for c in reply.tool_calls
    )
    return Usage(input_tokens=prompt, output_tokens=completion, requests=1)


def _as_response(
    value: ModelResponse | Message | str, messages: Sequence[Message]
) -> ModelResponse:
    if isinstance(value, ModelResponse):
        return value
    message = value if isinstance(value, Message) else Message.assistant(value)
    reason = FinishReason.TOOL_CALLS if message.tool_calls else FinishReason.STOP
    return ModelResponse(message=message, usage=_usage(messages, message), finish_reason=reason)


class _FakeStreaming(ABC):
    name: str
    model: str

    @abstractmethod
    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse: ...

    async def stream(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> AsyncIterator[StreamChunk]:
        response = await self.complete(messages, tools, **settings)
        words = response.message.text.split(" ")
        for i, word in enumerate(words):
            if word or i:
                yield StreamChunk(delta=word if i == 0 else f" {word}")
        for index, call in enumerate(response.message.tool_calls):
            yield StreamChunk(
                type=ChunkType.TOOL_CALL,
                index=index,
                tool_call_id=call.id,
                tool_name=call.name,
                arguments_delta=json.dumps(call.arguments),
            )
        yield StreamChunk(response=response)


def sample_json(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A small value that validates against `schema` (required properties only; defaults,
    enums and the first `anyOf` branch preferred)."""
    root = root or schema
    if "$ref" in schema:
        target: Any = root
        for key in schema["$ref"].lstrip("#/").split("/"):
            target = target[key]
        return sample_json(target, root)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return sample_json(options[0], root)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: sample_json(props[name], root) for name in schema.get("required", [])}
    if kind == "array":
        count = schema.get("minItems", 0)
        return [sample_json(schema.get("items", {}), root) for _ in range(count)]
    return {
        "string": "example",
        "integer": max(1, int(schema.get("minimum", 1))),
        "number": float(schema.get("minimum", 1.0)),
        "boolean": True,
        "null": None,
    }.get(kind, "example")


class TestProvider(_FakeStreaming):
    """A deterministic offline model (scheme `test`).

    In each turn it first calls every available tool once, with schema-valid arguments (required
    parameters only, so tools use their defaults), in one parallel batch; then it answers with a
    summary of what the tools returned. With an `output_schema` setting it answers with a JSON
    value valid for that schema. Token usage is estimated as characters / 4; cost is 0 USD.
    """

    __test__ = False  # not a pytest test class

    def __init__(self, model: str = "default", **_: Any) -> None:
        self.name = "test"
        self.model = model

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse:
        turn_start = max((i for i, m in enumerate(messages) if m.role is Role.USER), default=-1)
        turn = messages[turn_start + 1 :]
        called = {c.name for m in turn for c in m.tool_calls}
        todo = [t for t in tools or () if t["name"] not in called]
        if todo and settings.get("tool_choice", "auto") != "none":
            calls = [
                ToolCall(
                    id=f"call_{len(turn)}_{i}",
                    name=t["name"],
                    arguments=sample_json(t.get("parameters") or {}),
                )
                for i, t in enumerate(todo)
            ]
            return _as_response(Message.assistant(tool_calls=calls), messages)
        schema = settings.get("output_schema")
        if schema is not None:
            return _as_response(json.dumps(sample_json(schema["schema"])), messages)
        results = [m for m in turn if m.role is Role.TOOL]
        if results:
            lines = [f"- {m.name}: {_clip(m.text)}" for m in results]
            return _as_response("Tool results:\n" + "\n".join(lines), messages)
        last = messages[turn_start].text if turn_start >= 0 else ""
        return _as_response(f"You said: {last}", messages)


def _clip(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


Reply = ModelResponse | Message | str


class FunctionProvider(_FakeStreaming):
    """A provider backed by your function `fn(messages, tools, settings)` (sync or async),
    returning a `ModelResponse`, a `Message` or a string."""

    def __init__(
        self,
        fn: Callable[[list[Message], list[dict[str, Any]], dict[str, Any]], Any],
        *,
        name: str = "function",
        model: str = "function",
    ) -> None:
        self.fn = fn
        self.name = name
        self.model = model

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse:
        value = self.fn(messages, tools or [], settings)
        if inspect.isawaitable(value):
            value = await value
        return _as_response(value, messages)


@dataclass(slots=True)
class ScriptedCall:
    """What a `ScriptedProvider` was sent on one call."""

    messages: list[Message]
    tools: list[str]
    settings: dict[str, Any]


class ScriptedProvider(_FakeStreaming):
    """Replays `responses` in order and records what it was sent (`calls`, `prompts`).

    Each item is a `ModelResponse`, a `Message`, a string (an assistant answer) or an exception
    instance (raised, e.g. a `ProviderError` to test retries).

    Raises:
        SpineError: called more times than there are responses.
    """

    def __init__(
        self,
        responses: Sequence[Reply | BaseException],
        *,
        name: str = "scripted",
        model: str = "scripted",
    ) -> None:
        self.responses = list(responses)
        self.calls: list[ScriptedCall] = []
        self.name = name
        self.model = model

    @property
    def prompts(self) -> list[list[Message]]:
        return [call.messages for call in self.calls]

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse:
        index = len(self.calls)
        self.calls.append(
            ScriptedCall(list(messages), [t["name"] for t in tools or ()], dict(settings))
        )
        if index >= len(self.responses):
            raise SpineError(
                f"ScriptedProvider '{self.model}' has no response #{index + 1} "
                f"(script holds {len(self.responses)})"
            )
        item = self.responses[index]
        if isinstance(item, BaseException):
            raise item
        return _as_response(item, messages)
