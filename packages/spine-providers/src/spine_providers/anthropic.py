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
import re
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Any

from spine_core.errors import ProviderError
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

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MODEL",
    "EFFORTS",
    "MAX_CACHE_BREAKPOINTS",
    "AnthropicProvider",
    "supports_adaptive_thinking",
]

DEFAULT_MODEL = "claude-sonnet-4-6"
DEFAULT_MAX_TOKENS = 4096
"""Output-token limit sent when neither the constructor nor the call gives one (the Messages
API requires `max_tokens`)."""

EFFORTS = ("low", "medium", "high", "xhigh", "max")
"""The Messages API's effort levels (`output_config.effort`); not every model takes every
level (Claude Opus 4.6 has no "xhigh", the API answers 400 naming the levels it supports)."""

_EFFORT_BUDGET = {
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 32768,
    "max": 65536,
}
"""Thinking budget (tokens) used on models without adaptive thinking when the settings give an
effort instead of a budget."""

_ALIASES = {"minimal": "low"}
"""Spine / OpenAI effort names the Messages API spells differently."""

MAX_CACHE_BREAKPOINTS = 4
"""Most `cache_control` breakpoints one request may carry (the prompt-caching guide)."""

_VERSION = re.compile(r"claude-(?:opus|sonnet|haiku)-(\d+)(?:-(\d)(?!\d))?")


def supports_adaptive_thinking(model: str) -> bool:
    """Whether `model` takes `thinking={"type": "adaptive"}` with an `output_config.effort`:
    Claude Opus / Sonnet 4.6 and later, the Claude 5 families, Fable and Mythos
    (https://platform.claude.com/docs/en/build-with-claude/adaptive-thinking). On Opus 4.6 and
    Sonnet 4.6 a fixed budget is deprecated; Opus 4.7 and later reject it with a 400."""
    name = model.lower()
    if "fable" in name or "mythos" in name:
        return True
    found = _VERSION.search(name)
    if found is None:
        return False
    major, minor = int(found.group(1)), int(found.group(2) or 0)
    return major > 4 or (major == 4 and minor >= 6)


def _effort(value: Any) -> str:
    """An effort level as the Messages API spells it ("minimal" is its "low").

    Raises:
        ValueError: not one of minimal / low / medium / high / xhigh / max.
    """
    effort = _ALIASES.get(str(value), str(value))
    if effort not in EFFORTS:
        raise ValueError(f"effort must be one of minimal, {', '.join(EFFORTS)}; got {value!r}")
    return effort


def _budget_effort(budget: int) -> str:
    """The effort level nearest a thinking budget (tokens), for adaptive-thinking models."""
    return "low" if budget < 4096 else "medium" if budget < 16384 else "high"


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


def _messages(
    messages: Sequence[Message],
    marked: Collection[int] = (),
    control: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Messages API turns; consecutive turns of the same role are merged (the API wants user
    and assistant to alternate), tool results go first in their user turn. The messages
    whose `id()` is in `marked` get `control` as the `cache_control` of their last block
    that takes one (thinking blocks do not)."""

    def blocks(message: Message) -> list[dict[str, Any]]:
        out = _blocks(message)
        if id(message) in marked:
            for block in reversed(out):
                if block["type"] not in ("thinking", "redacted_thinking"):
                    block["cache_control"] = dict(control or {})
                    break
        return out

    return alternating_turns(messages, blocks, assistant="assistant", key="content")


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


def _thinking(thinking: Mapping[str, Any], model: str) -> tuple[dict[str, Any], str | None]:
    """Spine's `thinking` setting as the API's `thinking` and the effort level to put in
    `output_config` (None: none).

    A mapping with a `type` is the API's own form (`{"type": "adaptive"}`, `{"type":
    "enabled", "budget_tokens": n}`, ...), sent as is. Otherwise, on a model with adaptive
    thinking (`supports_adaptive_thinking`), `{"effort": e}` becomes `{"type": "adaptive"}`
    with effort `e`, and `{"budget_tokens": n}` adaptive with the nearest effort (under 4096
    tokens low, under 16384 medium, else high); on older models both become `{"type":
    "enabled", "budget_tokens": n}`, an effort taking the budget of `_EFFORT_BUDGET`. Effort
    "none" is `{"type": "disabled"}`.
    """
    if "type" in thinking:
        return dict(thinking), None
    effort = thinking.get("effort")
    if effort == "none":
        return {"type": "disabled"}, None
    budget = thinking.get("budget_tokens")
    if supports_adaptive_thinking(model):
        level = _effort(effort) if effort else _budget_effort(int(budget or 8192))
        return {"type": "adaptive"}, level
    if not budget:
        budget = _EFFORT_BUDGET[_effort(effort or "medium")]
    return {"type": "enabled", "budget_tokens": int(budget)}, None


def _cache_plan(cache: Any) -> dict[str, Any] | None:
    """Spine's `cache` setting as `{"control", "system", "tools", "messages"}`, or None.

    `"auto"` (or True) is breakpoints on the tools, the system prompt and the last message; a
    mapping names them itself: `{"system": bool, "tools": bool, "messages": [index, ...],
    "ttl": "5m" | "1h"}` (indexes into the call's messages, negative from the end; a system
    message's index marks the system prompt). False, None or "off": no caching.

    Raises:
        ValueError: any other value, or an unknown key.
    """
    if cache in (None, False, "off", "none"):
        return None
    if cache is True or cache == "auto":
        cache = {"system": True, "tools": True, "messages": [-1]}
    if not isinstance(cache, Mapping):
        raise ValueError(
            f"cache must be 'auto' or a mapping {{system, tools, messages, ttl}}, got {cache!r}"
        )
    unknown = sorted(set(cache) - {"system", "tools", "messages", "ttl"})
    if unknown:
        raise ValueError(
            f"unknown cache key(s) {', '.join(unknown)}; the keys are system, tools, "
            "messages and ttl"
        )
    control: dict[str, Any] = {"type": "ephemeral"}
    if cache.get("ttl"):
        control["ttl"] = str(cache["ttl"])
    messages = cache.get("messages") or []
    if isinstance(messages, int):
        messages = [messages]
    return {
        "control": control,
        "system": bool(cache.get("system")),
        "tools": bool(cache.get("tools")),
        "messages": [int(i) for i in messages],
    }


def _marked(messages: Sequence[Message], indexes: Sequence[int]) -> set[int]:
    """Positions of the messages `indexes` points at (negative from the end); out of range
    indexes are skipped (a conversation shorter than the marker expects)."""
    count = len(messages)
    return {i % count for i in indexes if -count <= i < count} if count else set()


def _needs_streaming(error: ProviderError) -> bool:
    """Whether the SDK refused a call only because it must be streamed (see `complete`)."""
    cause = error.__cause__
    return isinstance(cause, ValueError) and str(cause).startswith("Streaming is required")


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
    its input becomes the JSON answer in `message.content`). `seed` is not supported by the
    API and is ignored. Any other setting (`metadata`, `service_tier`, `output_config`,
    `cache_control`, ...) is sent as is.

    Thinking and effort: `thinking={"effort": "low" | "medium" | "high" | "xhigh" | "max"}`
    (or `{"budget_tokens": n}`) is adaptive thinking (`{"type": "adaptive"}` with
    `output_config.effort`) on the models that have it (Opus / Sonnet 4.6 and later, see
    `supports_adaptive_thinking`), and `{"type": "enabled", "budget_tokens": n}` on older
    ones (an effort taking 2048 / 8192 / 16384 / 32768 / 65536 tokens; a budget not below
    `max_tokens` has `max_tokens` added to it, since the API counts thinking in `max_tokens`
    and wants it larger than the budget). The API's own form,
    a mapping with a `type`, is sent as is. `effort="high"` alone sets `output_config.effort`
    without thinking (https://platform.claude.com/docs/en/build-with-claude/effort; "none",
    an OpenAI level, sends none); both merge with an `output_config` given as a setting.

    Prompt caching (https://platform.claude.com/docs/en/build-with-claude/prompt-caching):
    `cache="auto"` puts `cache_control` breakpoints on the tools (the last tool), the system
    prompt and the last message, so each call of a run reads the prefix the previous one
    wrote; `cache={"system": True, "tools": True, "messages": [2, -1], "ttl": "1h"}` places
    them explicitly (message indexes into the call's messages, negative from the end). At
    most 4 breakpoints. Cache writes and reads are counted in `Usage.cache_write_tokens` /
    `cache_read_tokens` (and in `input_tokens`).

    A `tool_use` input that is not a JSON object becomes `ToolCall.arguments_error`. The SDK
    client is built with `max_retries=0` and `open_telemetry=False`: Spine's Retry middleware
    and spine-otel own retries and spans.

    Raises (on calls):
        ProviderError: auth when no key is set (`ANTHROPIC_API_KEY`), otherwise the mapped
            SDK error.
        ValueError: a `tool_choice` string other than auto / required / none, an unknown
            effort level, a bad `cache` setting or more than 4 cache breakpoints.
        ImportError: the `anthropic` SDK is not installed (`spine-providers[anthropic]`).
    """

    name = "anthropic"
    extra = "anthropic"
    env_vars = ("ANTHROPIC_API_KEY",)
    default_model = DEFAULT_MODEL
    ignored_settings = frozenset({"seed"})
    mapped_settings = frozenset({"cache", "effort"})

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
        plan = _cache_plan(settings.get("cache"))
        marked = _marked(messages, plan["messages"]) if plan else set()
        control = plan["control"] if plan else {}
        request: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self._max_tokens(settings, DEFAULT_MAX_TOKENS),
            "messages": _messages(messages, {id(messages[i]) for i in marked}, control),
        }
        breakpoints = sum(1 for i in marked if messages[i].role is not Role.SYSTEM)
        system = system_text(messages)
        if system:
            cache_system = plan is not None and (
                plan["system"] or any(messages[i].role is Role.SYSTEM for i in marked)
            )
            if cache_system:
                request["system"] = [{"type": "text", "text": system, "cache_control": control}]
                breakpoints += 1
            else:
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
            if plan is not None and plan["tools"]:
                specs[-1]["cache_control"] = control
                breakpoints += 1
            request["tools"] = specs
        if breakpoints > MAX_CACHE_BREAKPOINTS:
            raise ValueError(
                f"the cache setting asks for {breakpoints} cache breakpoints; the Messages API "
                f"takes at most {MAX_CACHE_BREAKPOINTS}"
            )
        if choice is not None and (specs or choice["type"] == "none"):
            request["tool_choice"] = choice
        if settings.get("stop"):
            request["stop_sequences"] = stop_sequences(settings["stop"])
        given_effort = settings.get("effort")
        effort = _effort(given_effort) if given_effort and given_effort != "none" else None
        if settings.get("thinking"):
            request["thinking"], level = _thinking(settings["thinking"], self.model)
            effort = effort or level
            budget = request["thinking"].get("budget_tokens")
            if isinstance(budget, int) and budget >= request["max_tokens"]:
                # The API wants max_tokens > budget_tokens (thinking counts in max_tokens):
                # keep the answer's room on top of the thinking budget.
                request["max_tokens"] += budget
        if effort is not None:
            given = settings.get("output_config") or {}
            request["output_config"] = {**given, "effort": effort}
        for key in ("temperature", "top_p"):  # not SDK arguments: `sdk_arguments` moves them
            if settings.get(key) is not None:
                request[key] = settings[key]
        for key, value in self.passthrough(settings).items():
            request.setdefault(key, value)
        return request

    async def _send(self, request: dict[str, Any]) -> Any:
        create = self.client.messages.create
        return await create(**sdk_arguments(create, request))

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        """Run one model call (see `BaseProvider.complete`).

        The SDK refuses, before sending anything, a non-streamed call it expects to run past
        10 minutes (a large `max_tokens` with the SDK's default timeout: "Streaming is
        required for operations that may take longer than 10 minutes"); such a call is made
        as a stream instead, and its assembled response returned.
        """
        try:
            return await super().complete(messages, tools, **settings)
        except ProviderError as error:
            if not _needs_streaming(error):
                raise
        response: ModelResponse | None = None
        async for chunk in self.stream(messages, tools, **settings):
            response = chunk.response or response
        if response is None:  # `stream` ends with a response or raises
            raise self._truncated("its final response")
        return response

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
