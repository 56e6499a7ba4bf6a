"""OpenAI Chat Completions through the official `openai` SDK (`spine-providers[openai]`).

Wire format: https://platform.openai.com/docs/api-reference/chat (openai 3.52). Tool results are
`{"role": "tool", "tool_call_id", "content"}` messages; tool-call arguments travel as JSON
strings; streamed tool calls are assembled by their `index`; usage arrives on the last chunk
with `stream_options.include_usage`; the stream ends with `data: [DONE]`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

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
    output_tokens,
    parse_arguments,
    sdk_arguments,
    stop_sequences,
    tool_decls,
)
from ._lazy import require
from ._stream_calls import ToolCallAssembler, watch_done

__all__ = ["DEFAULT_MODEL", "OpenAIProvider", "image_url"]

DEFAULT_MODEL = "gpt-4.1-mini"

_REASONING_FIELDS = ("reasoning_content", "reasoning")
"""Non-standard reasoning fields of OpenAI-compatible servers (vLLM / DeepSeek, OpenRouter /
Ollama)."""


def image_url(part: ImagePart) -> str:
    """The part's URL, or a `data:` URL for inline base64 data."""
    if part.data is not None:
        return f"data:{part.media_type or 'image/png'};base64,{part.data}"
    return part.url or ""


def effort_of(thinking: Mapping[str, Any]) -> str:
    """An OpenAI reasoning effort from Spine's `thinking` setting (budgets map to
    < 2048 tokens: low, < 8192: medium, else high)."""
    if "effort" in thinking:
        return str(thinking["effort"])
    budget = int(thinking.get("budget_tokens", 4096))
    return "low" if budget < 2048 else "medium" if budget < 8192 else "high"


def _content(message: Message) -> str | list[dict[str, Any]]:
    if not message.parts:  # content may be None: send its text ("")
        return message.text
    return [
        {"type": "text", "text": p.text}
        if isinstance(p, TextPart)
        else {"type": "image_url", "image_url": {"url": image_url(p)}}
        for p in message.parts
    ]


def _message(message: Message, reasoning_from: str | None = None) -> dict[str, Any]:
    """A Chat Completions message. With `reasoning_from` (a provider name), an assistant
    message with tool calls carries its reasoning from that provider as `reasoning_content`."""
    if message.role is Role.TOOL:
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    if message.role is Role.ASSISTANT:
        out: dict[str, Any] = {"role": "assistant", "content": message.text or None}
        if reasoning_from is not None and message.tool_calls:
            reasoning = "".join(
                t.text for t in message.thinking if t.provider in (None, reasoning_from)
            )
            if reasoning:
                out["reasoning_content"] = reasoning
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {
                        "name": c.name,
                        "arguments": json.dumps(c.arguments, separators=(",", ":")),
                    },
                }
                for c in message.tool_calls
            ]
        return out
    return {"role": message.role.value, "content": _content(message)}


def tool_choice(choice: Any) -> Any:
    """The Chat Completions `tool_choice` for Spine's setting: "auto" / "required" / "none",
    `{"name": tool}`, or the API's own form (a mapping with a `type`) as given."""
    if isinstance(choice, Mapping):
        if "type" in choice:
            return dict(choice)
        return {"type": "function", "function": {"name": choice["name"]}}
    return str(choice)


class OpenAIProvider(BaseProvider):
    """OpenAI models through Chat Completions (scheme `openai`).

    The reference's form works unchanged: `OpenAIProvider("gpt-4o", client=AsyncOpenAI(...),
    temperature=0.2)` (see `BaseProvider` for `client=` and `**defaults`).

    Settings: `temperature`, `top_p`, `max_tokens` (sent as `max_completion_tokens`), `stop`,
    `seed`, `tool_choice` ("auto" / "required" / "none" / `{"name": ...}`, or the API's own
    form), `output_schema` (`response_format` json_schema; `strict` from the setting, default
    False so any JSON schema is accepted), `thinking` (`reasoning_effort`: the effort given,
    or from a budget under 2048 tokens low, under 8192 medium, else high), `effort`
    (`reasoning_effort` as given: "none", "minimal", "low", "medium", "high", "xhigh",
    "max"; https://platform.openai.com/docs/guides/reasoning). `cache` (Anthropic's prompt
    caching setting) is accepted and dropped: OpenAI caches prompt prefixes by itself
    (https://platform.openai.com/docs/guides/prompt-caching), so one agent's settings work
    across providers. Any other setting (`store`, `metadata`, `service_tier`,
    `parallel_tool_calls`, a server's own field) is sent as is.
    The SDK client is built with `max_retries=0`.

    Reasoning text from compatible servers (`reasoning_content` / `reasoning` fields) is kept
    on `Message.thinking`. With `replay_reasoning=True` it is sent back as
    `reasoning_content` on the assistant messages that made tool calls, as DeepSeek's
    thinking mode requires ("for turns that do perform tool calls, the reasoning_content
    must be fully passed back to the API in all subsequent requests", else a 400;
    reasoning of turns without tool calls is ignored, so it is not sent:
    https://api-docs.deepseek.com/guides/thinking_mode#tool-calls). Moonshot's Kimi thinking
    models use the same field (https://platform.moonshot.cn/docs/guide/use-kimi-k2-thinking-model).
    OpenAI's own API has no such field, so it is off by default.

    Args:
        replay_reasoning: Send reasoning back as `reasoning_content` (see above); None takes
            the class default (`DeepSeekProvider`: on, others: off).

    Usage: `output_tokens` includes reasoning tokens, also from servers that count them
    beside `completion_tokens` (see `_base.output_tokens`).

    Streams: tool-call fragments are assembled by index; a delta that repeats its call's id
    (and name) continues that call. A stream ends with a finish reason, or with `[DONE]`
    after a complete message (some OpenAI-compatible upstreams, such as OpenRouter serving
    Kimi K2, never send a finish reason): the finish reason is then tool_calls when there are
    calls, else stop.

    Raises (on calls):
        ProviderError: auth when no key is set (`OPENAI_API_KEY`), otherwise the mapped error.
        ImportError: the `openai` SDK is not installed (`spine-providers[openai]`).
    """

    name = "openai"
    extra = "openai"
    env_vars: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    default_model = DEFAULT_MODEL
    max_tokens_field: ClassVar[str] = "max_completion_tokens"
    default_base_url: ClassVar[str | None] = None
    mapped_settings = frozenset({"effort", "cache"})
    replays_reasoning: ClassVar[bool] = False

    def __init__(
        self, model: str | None = None, *, replay_reasoning: bool | None = None, **kwargs: Any
    ) -> None:
        super().__init__(model, **kwargs)
        self.replay_reasoning = (
            self.replays_reasoning if replay_reasoning is None else replay_reasoning
        )

    def _make_client(self) -> Any:
        sdk = require("openai", self.extra)
        return sdk.AsyncOpenAI(
            api_key=self.api_key(),
            max_retries=0,
            **self._http_options(self.base_url or self.default_base_url),
        )

    def build_request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None,
        settings: Mapping[str, Any],
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [
                _message(m, self.name if self.replay_reasoning else None) for m in messages
            ],
        }
        decls = tool_decls(tools)
        if decls:
            request["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": t.parameters,
                    },
                }
                for t in decls
            ]
        choice = settings.get("tool_choice")
        if choice is not None and (decls or choice == "none"):
            request["tool_choice"] = tool_choice(choice)
        max_tokens = self._max_tokens(settings, None)
        if max_tokens is not None:
            request[self.max_tokens_field] = max_tokens
        for key in ("temperature", "top_p", "seed"):
            if settings.get(key) is not None:
                request[key] = settings[key]
        if settings.get("stop"):
            request["stop"] = stop_sequences(settings["stop"])
        schema = settings.get("output_schema")
        if schema:
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": schema.get("name") or "result",
                    "schema": schema["schema"],
                    "strict": bool(schema.get("strict", False)),
                },
            }
        if settings.get("thinking"):
            request["reasoning_effort"] = effort_of(settings["thinking"])
        if settings.get("effort"):
            request["reasoning_effort"] = str(settings["effort"])
        for key, value in self.passthrough(settings).items():
            request.setdefault(key, value)
        return request

    async def _send(self, request: dict[str, Any]) -> Any:
        create = self.client.chat.completions.create
        return await create(**sdk_arguments(create, request))

    def _usage(self, usage: Any, model: str | None) -> Usage:
        if usage is None:
            return self._priced(Usage(), model)
        prompt = getattr(usage, "prompt_tokens_details", None)
        completion = getattr(usage, "completion_tokens_details", None)
        input_tokens = usage.prompt_tokens or 0
        reasoning = getattr(completion, "reasoning_tokens", None) or 0
        return self._priced(
            Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens(
                    usage.completion_tokens or 0,
                    reasoning,
                    input_tokens=input_tokens,
                    total=getattr(usage, "total_tokens", None),
                ),
                cache_read_tokens=getattr(prompt, "cached_tokens", None) or 0,
                cache_write_tokens=getattr(prompt, "cache_write_tokens", None) or 0,
                reasoning_tokens=reasoning,
            ),
            model,
        )

    def _reasoning(self, obj: Any) -> str:
        extra = getattr(obj, "model_extra", None) or {}
        for field in _REASONING_FIELDS:
            value = extra.get(field)
            if isinstance(value, str) and value:
                return value
        return ""

    def parse_response(self, raw: Any, settings: Mapping[str, Any]) -> ModelResponse:
        choice = raw.choices[0]
        message = choice.message
        calls = []
        for call in message.tool_calls or []:
            function = getattr(call, "function", None)
            if function is None:  # custom (non-function) tools are not produced by Spine
                continue
            arguments, error = parse_arguments(function.arguments or "")
            calls.append(
                ToolCall(id=call.id, name=function.name, arguments=arguments, arguments_error=error)
            )
        reasoning = self._reasoning(message)
        thinking = [Thinking(text=reasoning, provider=self.name)] if reasoning else []
        finish = normalize_finish_reason(choice.finish_reason, has_tool_calls=bool(calls))
        if message.refusal and not message.content:
            finish = FinishReason.CONTENT_FILTER
        return ModelResponse(
            message=Message(
                role=Role.ASSISTANT,
                content=message.content or message.refusal or None,
                tool_calls=calls,
                thinking=thinking,
            ),
            usage=self._usage(raw.usage, raw.model),
            finish_reason=finish,
            model=raw.model,
            raw=raw,
        )

    async def _stream(
        self, request: dict[str, Any], settings: Mapping[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        create = self.client.chat.completions.create
        stream = await create(
            **sdk_arguments(
                create, {**request, "stream": True, "stream_options": {"include_usage": True}}
            )
        )
        done = watch_done(stream)
        texts: list[str] = []
        reasoning: list[str] = []
        calls = ToolCallAssembler()
        finish_reason: str | None = None
        usage: Any = None
        model: str | None = None
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices[:1]:
                    delta = choice.delta
                    thought = self._reasoning(delta)
                    if thought:
                        reasoning.append(thought)
                        yield StreamChunk(type=ChunkType.THINKING, delta=thought)
                    if delta.content:
                        texts.append(delta.content)
                        yield StreamChunk(delta=delta.content)
                    for call in delta.tool_calls or []:
                        function = call.function
                        yield calls.add(
                            index=call.index,
                            call_id=call.id,
                            name=function.name if function else None,
                            fragment=(function.arguments if function else None) or "",
                        )
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        tool_calls = calls.tool_calls()
        if finish_reason is None:
            # No finish reason: complete only if the stream said [DONE] (or, when the SDK's
            # decoder cannot be watched, sent its final usage chunk) and every call parses.
            ended = done.seen if done is not None else usage is not None
            if not ended:
                raise self._truncated("a finish_reason or [DONE] arrived")
            broken = [c.name for c in tool_calls if c.arguments_error is not None]
            if broken:
                raise self._truncated(f"the arguments of {', '.join(broken)} were complete")
        thinking = [Thinking(text="".join(reasoning), provider=self.name)] if reasoning else []
        response = ModelResponse(
            message=Message(
                role=Role.ASSISTANT,
                content="".join(texts) or None,
                tool_calls=tool_calls,
                thinking=thinking,
            ),
            usage=self._usage(usage, model),
            finish_reason=normalize_finish_reason(finish_reason, has_tool_calls=bool(tool_calls)),
            model=model,
        )
        yield StreamChunk(response=response)
