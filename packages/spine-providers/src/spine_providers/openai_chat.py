"""OpenAI Chat Completions through the official `openai` SDK (`spine-providers[openai]`).

Wire format: https://platform.openai.com/docs/api-reference/chat (openai 3.52). Tool results are
`{"role": "tool", "tool_call_id", "content"}` messages; tool-call arguments travel as JSON
strings; streamed tool calls are assembled by their `index`; usage arrives on the last chunk
with `stream_options.include_usage`.
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

from ._base import BaseProvider, PendingToolCall, parse_arguments, tool_decls
from ._lazy import require

__all__ = ["OpenAIProvider", "image_url"]

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


def _message(message: Message) -> dict[str, Any]:
    if message.role is Role.TOOL:
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    if message.role is Role.ASSISTANT:
        out: dict[str, Any] = {"role": "assistant", "content": message.text or None}
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


class OpenAIProvider(BaseProvider):
    """OpenAI models through Chat Completions (scheme `openai`).

    Settings: `temperature`, `top_p`, `max_tokens` (sent as `max_completion_tokens`), `stop`,
    `seed`, `tool_choice`, `output_schema` (`response_format` json_schema; `strict` from the
    setting, default False so any JSON schema is accepted), `thinking` (`reasoning_effort`).
    Reasoning text from compatible servers (`reasoning_content` / `reasoning` fields) is kept
    on `Message.thinking`. The SDK client is built with `max_retries=0`.

    Raises (on calls):
        ProviderError: auth when no key is set (`OPENAI_API_KEY`), otherwise the mapped error.
        ImportError: the `openai` SDK is not installed (`spine-providers[openai]`).
    """

    name = "openai"
    extra = "openai"
    env_vars: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    default_model = "gpt-4.1-mini"
    max_tokens_field: ClassVar[str] = "max_completion_tokens"
    default_base_url: ClassVar[str | None] = None

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
            "messages": [_message(m) for m in messages],
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
            request["tool_choice"] = (
                {"type": "function", "function": {"name": choice["name"]}}
                if isinstance(choice, Mapping)
                else str(choice)
            )
        max_tokens = self._max_tokens(settings, None)
        if max_tokens is not None:
            request[self.max_tokens_field] = max_tokens
        for key in ("temperature", "top_p", "seed"):
            if settings.get(key) is not None:
                request[key] = settings[key]
        if settings.get("stop"):
            request["stop"] = list(settings["stop"])
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
        return request

    async def _send(self, request: dict[str, Any]) -> Any:
        return await self.client.chat.completions.create(**request)

    def _usage(self, usage: Any, model: str | None) -> Usage:
        if usage is None:
            return self._priced(Usage(), model)
        prompt = getattr(usage, "prompt_tokens_details", None)
        completion = getattr(usage, "completion_tokens_details", None)
        return self._priced(
            Usage(
                input_tokens=usage.prompt_tokens or 0,
                output_tokens=usage.completion_tokens or 0,
                cache_read_tokens=getattr(prompt, "cached_tokens", None) or 0,
                cache_write_tokens=getattr(prompt, "cache_write_tokens", None) or 0,
                reasoning_tokens=getattr(completion, "reasoning_tokens", None) or 0,
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
        stream = await self.client.chat.completions.create(
            **request, stream=True, stream_options={"include_usage": True}
        )
        texts: list[str] = []
        reasoning: list[str] = []
        pending: dict[int, PendingToolCall] = {}
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
                        name = function.name if function else None
                        fragment = (function.arguments if function else None) or ""
                        current = pending.get(call.index)
                        if current is None:
                            current = pending[call.index] = PendingToolCall(
                                call.id or f"call_{call.index}", name or ""
                            )
                        elif name:
                            current.name += name
                        current.arguments += fragment
                        yield StreamChunk(
                            type=ChunkType.TOOL_CALL,
                            index=call.index,
                            tool_call_id=call.id,
                            tool_name=name,
                            arguments_delta=fragment,
                        )
                    if choice.finish_reason:
                        finish_reason = choice.finish_reason
        if finish_reason is None:
            raise self._truncated("a finish_reason arrived")
        calls = []
        for index in sorted(pending):
            call = pending[index]
            arguments, error = parse_arguments(call.arguments)
            calls.append(
                ToolCall(id=call.id, name=call.name, arguments=arguments, arguments_error=error)
            )
        thinking = [Thinking(text="".join(reasoning), provider=self.name)] if reasoning else []
        response = ModelResponse(
            message=Message(
                role=Role.ASSISTANT,
                content="".join(texts) or None,
                tool_calls=calls,
                thinking=thinking,
            ),
            usage=self._usage(usage, model),
            finish_reason=normalize_finish_reason(finish_reason, has_tool_calls=bool(calls)),
            model=model,
        )
        yield StreamChunk(response=response)
