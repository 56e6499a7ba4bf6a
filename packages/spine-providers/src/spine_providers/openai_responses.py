"""OpenAI Responses API through the official `openai` SDK (`spine-providers[openai]`).

Wire format: https://platform.openai.com/docs/api-reference/responses (openai 3.52). The
system prompt goes in `instructions`; tool calls are `function_call` items and their results
`function_call_output` items keyed by `call_id`; reasoning items are requested with
`include=["reasoning.encrypted_content"]` and sent back (id, summary, encrypted content) on the
next turn, so the conversation works statelessly: with `store=False` (a setting sent as is)
nothing is kept on OpenAI's side
(https://platform.openai.com/docs/guides/reasoning#encrypted-reasoning-items).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from spine_core.errors import ProviderError
from spine_core.messages import (
    FinishReason,
    Message,
    ModelResponse,
    Role,
    TextPart,
    Thinking,
    ToolCall,
    Usage,
)
from spine_core.provider import ChunkType, StreamChunk

from ._base import (
    PendingToolCall,
    output_tokens,
    parse_arguments,
    sdk_arguments,
    system_text,
    tool_decls,
)
from .openai_chat import OpenAIProvider, effort_of, image_url

__all__ = ["OpenAIResponsesProvider"]

_ENCRYPTED = "reasoning.encrypted_content"
_INCOMPLETE = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}


def _user_content(message: Message) -> str | list[dict[str, Any]]:
    if not message.parts:  # content may be None: send its text ("")
        return message.text
    return [
        {"type": "input_text", "text": p.text}
        if isinstance(p, TextPart)
        else {"type": "input_image", "image_url": image_url(p)}
        for p in message.parts
    ]


def _items(
    messages: Sequence[Message], provider: str, *, stateless: bool = False
) -> list[dict[str, Any]]:
    """Input items. With `stateless` (`store=False`) a reasoning item without encrypted content
    is left out: OpenAI kept nothing it could be looked up by."""
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role is Role.SYSTEM:
            continue
        if message.role is Role.TOOL:
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": message.tool_call_id,
                    "output": message.text,
                }
            )
        elif message.role is Role.ASSISTANT:
            for thought in message.thinking:
                if stateless and not thought.signature:
                    continue
                if thought.provider == provider and thought.id:
                    item: dict[str, Any] = {
                        "type": "reasoning",
                        "id": thought.id,
                        "summary": [{"type": "summary_text", "text": thought.text}]
                        if thought.text
                        else [],
                    }
                    if thought.signature:
                        item["encrypted_content"] = thought.signature
                    items.append(item)
            if message.text:
                items.append({"role": "assistant", "content": message.text})
            for call in message.tool_calls:
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.id,
                        "name": call.name,
                        "arguments": json.dumps(call.arguments, separators=(",", ":")),
                    }
                )
        else:
            items.append({"role": "user", "content": _user_content(message)})
    return items


class OpenAIResponsesProvider(OpenAIProvider):
    """OpenAI models through the Responses API (scheme `openai-responses`).

    Settings: `temperature`, `top_p`, `max_tokens` (`max_output_tokens`), `tool_choice`,
    `output_schema` (`text.format` json_schema), `thinking` (`reasoning.effort` with
    `summary: "auto"`; reasoning summaries land on `Message.thinking` with the encrypted
    content as the signature), `effort` (`reasoning.effort` as given, without asking for
    summaries). `stop` and `seed` are not supported by the API and are ignored.
    Any other setting (`store`, `include`, `metadata`, `service_tier`, `truncation`, ...) is
    sent as is; an `include` list is merged with the one `thinking` asks for.
    Finish reasons: `incomplete_details.reason` max_output_tokens → length, content_filter →
    content_filter; otherwise tool_calls when the output has function calls, else stop.
    """

    name = "openai-responses"
    ignored_settings = frozenset({"stop", "seed"})

    def build_request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None,
        settings: Mapping[str, Any],
    ) -> dict[str, Any]:
        stateless = settings.get("store") is False
        request: dict[str, Any] = {
            "model": self.model,
            "input": _items(messages, self.name, stateless=stateless),
        }
        system = system_text(messages)
        if system:
            request["instructions"] = system
        decls = tool_decls(tools)
        if decls:
            request["tools"] = [
                {
                    "type": "function",
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                    "strict": False,
                }
                for t in decls
            ]
        choice = settings.get("tool_choice")
        if choice is not None and (decls or choice == "none"):
            if isinstance(choice, Mapping):
                native = "type" in choice
                request["tool_choice"] = (
                    dict(choice) if native else {"type": "function", "name": choice["name"]}
                )
            else:
                request["tool_choice"] = str(choice)
        max_tokens = self._max_tokens(settings, None)
        if max_tokens is not None:
            request["max_output_tokens"] = max_tokens
        for key in ("temperature", "top_p"):
            if settings.get(key) is not None:
                request[key] = settings[key]
        schema = settings.get("output_schema")
        if schema:
            request["text"] = {
                "format": {
                    "type": "json_schema",
                    "name": schema.get("name") or "result",
                    "schema": schema["schema"],
                    "strict": bool(schema.get("strict", False)),
                }
            }
        extra = self.passthrough(settings)
        if settings.get("thinking"):
            request["reasoning"] = {"effort": effort_of(settings["thinking"]), "summary": "auto"}
        if settings.get("effort"):
            request["reasoning"] = {**request.get("reasoning", {}), "effort": settings["effort"]}
        if settings.get("thinking") or settings.get("store") is False:
            # Stateless turns replay reasoning by its encrypted content, so always ask for it.
            given = [i for i in extra.pop("include", None) or () if i != _ENCRYPTED]
            request["include"] = [*given, _ENCRYPTED]
        for key, value in extra.items():
            request.setdefault(key, value)
        return request

    async def _send(self, request: dict[str, Any]) -> Any:
        create = self.client.responses.create
        return await create(**sdk_arguments(create, request))

    def _usage(self, usage: Any, model: str | None) -> Usage:
        if usage is None:
            return self._priced(Usage(), model)
        inputs = getattr(usage, "input_tokens_details", None)
        outputs = getattr(usage, "output_tokens_details", None)
        input_tokens = usage.input_tokens or 0
        reasoning = getattr(outputs, "reasoning_tokens", None) or 0
        return self._priced(
            Usage(
                input_tokens=input_tokens,
                output_tokens=output_tokens(
                    usage.output_tokens or 0,
                    reasoning,
                    input_tokens=input_tokens,
                    total=getattr(usage, "total_tokens", None),
                ),
                cache_read_tokens=getattr(inputs, "cached_tokens", None) or 0,
                cache_write_tokens=getattr(inputs, "cache_write_tokens", None) or 0,
                reasoning_tokens=reasoning,
            ),
            model,
        )

    def parse_response(self, raw: Any, settings: Mapping[str, Any]) -> ModelResponse:
        texts: list[str] = []
        thinking: list[Thinking] = []
        calls: list[ToolCall] = []
        for item in raw.output or []:
            if item.type == "message":
                texts.extend(c.text for c in item.content if c.type == "output_text")
                refusals = [c.refusal for c in item.content if c.type == "refusal"]
                texts.extend(refusals)
            elif item.type == "function_call":
                arguments, error = parse_arguments(item.arguments or "")
                calls.append(
                    ToolCall(
                        id=item.call_id, name=item.name, arguments=arguments, arguments_error=error
                    )
                )
            elif item.type == "reasoning":
                summary = "\n\n".join(s.text for s in item.summary or [])
                thinking.append(
                    Thinking(
                        text=summary,
                        signature=item.encrypted_content,
                        id=item.id,
                        provider=self.name,
                        redacted=not summary and bool(item.encrypted_content),
                    )
                )
        details = raw.incomplete_details
        reason = str(getattr(details, "reason", "")) if raw.status == "incomplete" else ""
        finish = _INCOMPLETE.get(reason, FinishReason.TOOL_CALLS if calls else FinishReason.STOP)
        return ModelResponse(
            message=Message(
                role=Role.ASSISTANT,
                content="".join(texts) or None,
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
        create = self.client.responses.create
        stream = await create(**sdk_arguments(create, {**request, "stream": True}))
        pending: dict[str, PendingToolCall] = {}
        final: Any = None
        async with stream:
            async for event in stream:
                kind = event.type
                if kind == "response.output_text.delta":
                    yield StreamChunk(delta=event.delta)
                elif kind in (
                    "response.reasoning_summary_text.delta",
                    "response.reasoning_text.delta",
                ):
                    yield StreamChunk(type=ChunkType.THINKING, delta=event.delta)
                elif kind == "response.output_item.added" and event.item.type == "function_call":
                    item = event.item
                    pending[item.id or item.call_id] = PendingToolCall(item.call_id, item.name)
                    yield StreamChunk(
                        type=ChunkType.TOOL_CALL,
                        index=len(pending) - 1,
                        tool_call_id=item.call_id,
                        tool_name=item.name,
                    )
                elif kind == "response.function_call_arguments.delta":
                    call = pending.get(event.item_id)
                    if call is not None:
                        call.arguments += event.delta
                        yield StreamChunk(
                            type=ChunkType.TOOL_CALL,
                            index=list(pending).index(event.item_id),
                            tool_call_id=call.id,
                            arguments_delta=event.delta,
                        )
                elif kind in ("response.completed", "response.incomplete"):
                    final = event.response
                elif kind == "response.failed":
                    raise self._failed(getattr(event.response, "error", None))
                elif kind == "error":
                    raise self._failed(event)
        if final is None:
            raise self._truncated("response.completed")
        yield StreamChunk(response=self.parse_response(final, settings))

    def _failed(self, error: Any) -> Exception:
        code = str(getattr(error, "code", "") or "")
        message = str(getattr(error, "message", "") or "the response failed")
        kind = {
            "rate_limit_exceeded": "rate_limit",
            "server_error": "server",
            "context_length_exceeded": "context_length",
        }.get(code, "unknown")
        return ProviderError(message, kind=kind, provider=self.name, model=self.model)
