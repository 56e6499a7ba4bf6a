"""Anthropic Messages API through the official `anthropic` SDK (`spine-providers[anthropic]`).

Wire rules followed here come from the Messages API reference
(https://docs.anthropic.com/en/api/messages) and the installed SDK (anthropic 2.11):
tool results travel in a user message as `tool_result` blocks; thinking and redacted-thinking
blocks are sent back unchanged with their signature; `temperature` / `top_p` are not SDK
arguments any more, so they go through `extra_body` (as does any other setting the SDK method
has no parameter for).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from spine_core.messages import (
    FinishReason,
    ImagePart,
    Message,
    ModelResponse,
    Role,
    TextPart,
    Thinking,
    ToolCall,
    Usage,
    normalize_finish_reason,
)
from spine_core.provider import ChunkType, StreamChunk

from ._base import (
    BaseProvider,
    PendingToolCall,
    alternating_turns,
    parse_arguments,
    sdk_arguments,
    stop_sequences,
    system_text,
    tool_decls,
)
from ._lazy import require

__all__ = ["DEFAULT_MAX_TOKENS", "DEFAULT_MODEL", "AnthropicProvider"]

DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_MAX_TOKENS = 4096
"""Output-token limit sent when neither the constructor nor the call gives one (the Messages
API requires `max_tokens`)."""

_EFFORT_BUDGET = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384}
"""Thinking budget (tokens) used when the settings give an effort instead of a budget."""


def _image(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        source = {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data}
        return {"type": "image", "source": source}
    return {"type": "image", "source": {"type": "url", "url": part.url}}


def _user_blocks(message: Message) -> list[dict[str, Any]]:
    if not message.parts:  # content may be None: send its text ("")
        return [{"type": "text", "text": message.text}]
    blocks: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
        else:
            blocks.append(_image(part))
    return blocks


def _assistant_blocks(message: Message) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for thought in message.thinking:
        if thought.provider not in (None, "anthropic"):
            continue
        if thought.redacted:
            blocks.append({"type": "redacted_thinking", "data": thought.signature or ""})
        elif thought.signature:
            blocks.append(
                {"type": "thinking", "thinking": thought.text, "signature": thought.signature}
            )
    if message.text:
        blocks.append({"type": "text", "text": message.text})
    for call in message.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}
        )
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": message.tool_call_id,
        "content": _user_blocks(message) if message.parts else message.text,
        "is_error": message.is_error,
    }
    return block


def _messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """Messages API turns; consecutive turns of the same role are merged (the API wants user
    and assistant to alternate), tool results go first in their user turn."""
    return alternating_turns(messages, _blocks, assistant="assistant", key="content")


def _blocks(message: Message) -> list[dict[str, Any]]:
    if message.role is Role.ASSISTANT:
        return _assistant_blocks(message)
    if message.role is Role.TOOL:
        return [_tool_result(message)]
    return _user_blocks(message)


_CHOICES = {"auto": "auto", "required": "any", "any": "any", "none": "none"}


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    """Spine's `tool_choice` ("auto" / "required" / "none" / `{"name": ...}`) as the API's
    `{"type": ...}`; a mapping that already has a `type` is the API's own form, kept as is."""
    if choice is None:
        return None
    if isinstance(choice, Mapping):
        return dict(choice) if "type" in choice else {"type": "tool", "name": choice["name"]}
    if str(choice) not in _CHOICES:
        raise ValueError(
            f"tool_choice must be 'auto', 'required', 'none' or {{'name': tool}}, got {choice!r}"
        )
    return {"type": _CHOICES[str(choice)]}


def _thinking(thinking: Mapping[str, Any]) -> dict[str, Any]:
    """Spine's `thinking` setting as the API's: `{"budget_tokens": n}` or `{"effort": ...}`
    become `{"type": "enabled", "budget_tokens": n}`; a mapping with a `type` is the API's own
    form (`{"type": "adaptive"}`, `{"type": "disabled"}`, ...), sent as is."""
    if "type" in thinking:
        return dict(thinking)
    budget = thinking.get("budget_tokens") or _EFFORT_BUDGET[thinking.get("effort", "medium")]
    return {"type": "enabled", "budget_tokens": int(budget)}


def _tool_input(block: Any) -> tuple[dict[str, Any], str | None]:
    """A `tool_use` block's input, or `({}, error)` when it is not a JSON object (the kernel
    sends the error back to the model as a tool error)."""
    value = block.input
    if isinstance(value, dict):
        return value, None
    shown = json.dumps(value, default=str)[:200]
    return {}, f"tool call input must be a JSON object, got {type(value).__name__}: {shown}"


class AnthropicProvider(BaseProvider):
    """Claude models through the Messages API (scheme `anthropic`).

    The reference's form works unchanged: `AnthropicProvider("claude-sonnet-4-6",
    client=AsyncAnthropic(...), max_tokens=1024, temperature=0.2)` (see `BaseProvider` for
    `client=` and `**defaults`).

    Args:
        max_tokens: Output-token limit of every call unless a call sets `max_tokens`
            (default `DEFAULT_MAX_TOKENS`, 4096; the API requires one).

    Settings: `max_tokens`, `temperature` and `top_p` (sent through `extra_body`), `stop`
    (`stop_sequences`), `tool_choice` (also the API's own `{"type": ...}` form),
    `output_schema` (tool forcing: a tool named after the schema, default "final_result", is
    added and `tool_choice` becomes "any" — or that tool alone when there are no other tools;
    its input becomes the JSON answer in `message.content`), `thinking` (`{"budget_tokens":
    n}` or `{"effort": "low"|"medium"|"high"}`, mapped to 2048 / 8192 / 16384 tokens, or the
    API's own form such as `{"type": "adaptive"}`). `seed` is not supported by the API and is
    ignored. Any other setting (`metadata`, `service_tier`, `output_config`, `cache_control`,
    ...) is sent as is. A `tool_use` input that is not a JSON object becomes
    `ToolCall.arguments_error`. The SDK client is built with `max_retries=0` and
    `open_telemetry=False`: Spine's Retry middleware and spine-otel own retries and spans.

    Raises (on calls):
        ProviderError: auth when no key is set (`ANTHROPIC_API_KEY`), otherwise the mapped
            SDK error.
        ValueError: a `tool_choice` string other than auto / required / none.
        ImportError: the `anthropic` SDK is not installed (`spine-providers[anthropic]`).
    """

    name = "anthropic"
    extra = "anthropic"
    env_vars = ("ANTHROPIC_API_KEY",)
    default_model = DEFAULT_MODEL
    ignored_settings = frozenset({"seed"})

    def __init__(
        self,
        model: str | None = None,
        *,
        client: Any = None,
        api_key: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, client=client, api_key=api_key, max_tokens=max_tokens, **kwargs)

    def _make_client(self) -> Any:
        sdk = require("anthropic", self.extra)
        kwargs: dict[str, Any] = {
            "api_key": self.api_key(),
            "max_retries": 0,
            "open_telemetry": False,
            **self._http_options(self.base_url),
        }
        return sdk.AsyncAnthropic(**kwargs)

    def build_request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None,
        settings: Mapping[str, Any],
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self._max_tokens(settings, DEFAULT_MAX_TOKENS),
            "messages": _messages(messages),
        }
        system = system_text(messages)
        if system:
            request["system"] = system
        decls = tool_decls(tools)
        specs = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in decls
        ]
        choice = _tool_choice(settings.get("tool_choice"))
        schema = settings.get("output_schema")
        if schema:
            name = schema.get("name") or "final_result"
            specs.append(
                {
                    "name": name,
                    "description": schema.get("description", "Give the final answer."),
                    "input_schema": schema["schema"],
                }
            )
            # With other tools the model may still call them first ("any"); alone, force it.
            choice = {"type": "any"} if decls else {"type": "tool", "name": name}
        if specs:
            request["tools"] = specs
        if choice is not None and (specs or choice["type"] == "none"):
            request["tool_choice"] = choice
        if settings.get("stop"):
            request["stop_sequences"] = stop_sequences(settings["stop"])
        if settings.get("thinking"):
            request["thinking"] = _thinking(settings["thinking"])
        for key in ("temperature", "top_p"):  # not SDK arguments: `sdk_arguments` moves them
            if settings.get(key) is not None:
                request[key] = settings[key]
        for key, value in self.passthrough(settings).items():
            request.setdefault(key, value)
        return request

    async def _send(self, request: dict[str, Any]) -> Any:
        create = self.client.messages.create
        return await create(**sdk_arguments(create, request))

    def _usage(self, usage: Any, model: str | None) -> Usage:
        read = getattr(usage, "cache_read_input_tokens", None) or 0
        write = getattr(usage, "cache_creation_input_tokens", None) or 0
        details = getattr(usage, "output_tokens_details", None)
        return self._priced(
            Usage(
                input_tokens=(getattr(usage, "input_tokens", None) or 0) + read + write,
                output_tokens=getattr(usage, "output_tokens", None) or 0,
                cache_read_tokens=read,
                cache_write_tokens=write,
                reasoning_tokens=getattr(details, "thinking_tokens", None) or 0,
            ),
            model,
        )

    def _finish(
        self,
        text: str,
        thinking: list[Thinking],
        calls: list[ToolCall],
        stop_reason: str | None,
        usage: Usage,
        model: str | None,
        settings: Mapping[str, Any],
        raw: Any,
    ) -> ModelResponse:
        finish = normalize_finish_reason(stop_reason, has_tool_calls=bool(calls))
        schema = settings.get("output_schema")
        if schema:
            name = schema.get("name") or "final_result"
            answers = [c for c in calls if c.name == name]
            if answers:
                calls = [c for c in calls if c.name != name]
                text = json.dumps(answers[0].arguments)
                finish = FinishReason.TOOL_CALLS if calls else FinishReason.STOP
        message = Message(
            role=Role.ASSISTANT, content=text or None, tool_calls=calls, thinking=thinking
        )
        return ModelResponse(
            message=message, usage=usage, finish_reason=finish, model=model, raw=raw
        )

    def parse_response(self, raw: Any, settings: Mapping[str, Any]) -> ModelResponse:
        texts: list[str] = []
        thinking: list[Thinking] = []
        calls: list[ToolCall] = []
        for block in raw.content:
            kind = block.type
            if kind == "text":
                texts.append(block.text)
            elif kind == "thinking":
                thinking.append(
                    Thinking(text=block.thinking, signature=block.signature, provider=self.name)
                )
            elif kind == "redacted_thinking":
                thinking.append(Thinking(signature=block.data, redacted=True, provider=self.name))
            elif kind == "tool_use":
                arguments, error = _tool_input(block)
                calls.append(
                    ToolCall(
                        id=block.id, name=block.name, arguments=arguments, arguments_error=error
                    )
                )
        model = getattr(raw, "model", None)
        usage = self._usage(raw.usage, model)
        return self._finish(
            "".join(texts), thinking, calls, raw.stop_reason, usage, model, settings, raw
        )

    async def _stream(
        self, request: dict[str, Any], settings: Mapping[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        create = self.client.messages.create
        stream = await create(**sdk_arguments(create, {**request, "stream": True}))
        texts: list[str] = []
        thinking: dict[int, list[str]] = {}
        blocks: dict[int, Any] = {}
        pending: dict[int, PendingToolCall] = {}
        started: dict[int, str] = {}
        usage_in: Any = None
        output_tokens = 0
        output_details: Any = None
        stop_reason: str | None = None
        model: str | None = None
        finished = False
        async with stream:
            async for event in stream:
                kind = event.type
                if kind == "message_start":
                    usage_in, model = event.message.usage, event.message.model
                elif kind == "content_block_start":
                    block = event.content_block
                    blocks[event.index] = block
                    if block.type == "tool_use":
                        pending[event.index] = PendingToolCall(block.id, block.name)
                        if block.input:  # an input given whole, kept unless deltas follow
                            started[event.index] = json.dumps(block.input)
                        yield StreamChunk(
                            type=ChunkType.TOOL_CALL,
                            index=len(pending) - 1,
                            tool_call_id=block.id,
                            tool_name=block.name,
                        )
                    elif block.type == "thinking":
                        thinking[event.index] = [block.thinking or "", block.signature or ""]
                    elif block.type == "redacted_thinking":
                        thinking[event.index] = ["", block.data, "redacted"]
                    elif block.type == "text" and block.text:
                        texts.append(block.text)
                        yield StreamChunk(delta=block.text)
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        texts.append(delta.text)
                        yield StreamChunk(delta=delta.text)
                    elif delta.type == "thinking_delta":
                        thinking[event.index][0] += delta.thinking
                        yield StreamChunk(type=ChunkType.THINKING, delta=delta.thinking)
                    elif delta.type == "signature_delta":
                        thinking[event.index][1] += delta.signature
                    elif delta.type == "input_json_delta" and event.index in pending:
                        call = pending[event.index]
                        call.arguments += delta.partial_json
                        yield StreamChunk(
                            type=ChunkType.TOOL_CALL,
                            index=list(pending).index(event.index),
                            tool_call_id=call.id,
                            arguments_delta=delta.partial_json,
                        )
                elif kind == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    output_tokens = event.usage.output_tokens or output_tokens
                    output_details = getattr(event.usage, "output_tokens_details", None)
                    for attr in (
                        "input_tokens",
                        "cache_read_input_tokens",
                        "cache_creation_input_tokens",
                    ):
                        value = getattr(event.usage, attr, None)
                        if value is not None and usage_in is not None:
                            setattr(usage_in, attr, value)
                elif kind == "message_stop":
                    finished = True
        if not finished:
            raise self._truncated("message_stop")
        calls = []
        for index, call in pending.items():
            arguments, error = parse_arguments(call.arguments or started.get(index, ""))
            calls.append(
                ToolCall(id=call.id, name=call.name, arguments=arguments, arguments_error=error)
            )
        thoughts = [
            Thinking(text=t[0], signature=t[1] or None, redacted=len(t) > 2, provider=self.name)
            for t in thinking.values()
        ]
        usage = self._usage(usage_in, model)
        usage.output_tokens = output_tokens
        usage.reasoning_tokens = getattr(output_details, "thinking_tokens", None) or 0
        self._priced(usage, model)
        response = self._finish(
            "".join(texts), thoughts, calls, stop_reason, usage, model, settings, None
        )
        yield StreamChunk(response=response)
