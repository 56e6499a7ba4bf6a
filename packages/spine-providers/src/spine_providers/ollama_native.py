"""Ollama's native chat API (`POST /api/chat`), for the settings its OpenAI-compatible `/v1`
endpoint cannot take.

Ollama's OpenAI compatibility lists the request fields it reads, and `num_ctx`, `keep_alive`
and `options` are not among them: "The OpenAI API does not have a way of setting the context
size for a model" (https://docs.ollama.com/api/openai-compatibility). The native API takes
them (https://docs.ollama.com/api/chat): `options` holds the model parameters of the
Modelfile (`num_ctx`, `num_predict`, `temperature`, `top_k`, ...,
https://docs.ollama.com/modelfile#valid-parameters-and-values), `keep_alive` how long the
model stays loaded, `think` turns reasoning on, `format` takes a JSON schema. Answers are one
JSON object, or with `stream: true` newline-delimited JSON objects, the last with `done: true`,
`done_reason` and the token counts `prompt_eval_count` / `eval_count`. Tool-call arguments
are JSON objects, not strings; tool results are `{"role": "tool", "content", "tool_name"}`
messages; images are base64 strings in a message's `images`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from spine_core.messages import (
    FinishReason,
    ImagePart,
    Message,
    ModelResponse,
    Role,
    Thinking,
    ToolCall,
    Usage,
    normalize_finish_reason,
)
from spine_core.provider import ChunkType, StreamChunk

from ._base import stop_sequences, tool_decls

__all__ = [
    "NATIVE_ONLY",
    "OPTIONS",
    "OllamaHTTPError",
    "native_request",
    "parse_native",
    "read_native_stream",
]

OPTIONS = frozenset(
    {
        "num_ctx",
        "num_predict",
        "num_keep",
        "num_batch",
        "num_gpu",
        "main_gpu",
        "num_thread",
        "use_mmap",
        "repeat_last_n",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "temperature",
        "top_k",
        "top_p",
        "min_p",
        "typical_p",
        "seed",
        "stop",
        "mirostat",
        "mirostat_eta",
        "mirostat_tau",
        "penalize_newline",
    }
)
"""Model parameters the native API takes in `options` (the Modelfile's parameters and the
runner's options); a setting with one of these names goes into `options`."""

NATIVE_ONLY = frozenset({"options", "keep_alive", "think"}) | (
    OPTIONS - {"temperature", "top_p", "seed", "stop", "presence_penalty", "frequency_penalty"}
)
"""Settings that only the native API reads: giving one sends the call to `/api/chat`."""

_ids = itertools.count(1)


class OllamaHTTPError(Exception):
    """An HTTP error answer of the native API (`{"error": "..."}`), shaped like the SDKs'
    status errors so `to_provider_error` maps it by status and message."""

    def __init__(self, status_code: int, message: str, body: Any, response: Any) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.body = body
        self.response = response


def _images(message: Message) -> list[str]:
    images = []
    for part in message.parts or ():
        if isinstance(part, ImagePart):
            if part.data is None:
                raise ValueError(
                    "Ollama's native API takes images as base64 data, not URLs: pass the image "
                    "bytes (ImagePart data=...) or leave out the native settings"
                )
            images.append(part.data)
    return images


def _messages(messages: Sequence[Message], provider: str) -> list[dict[str, Any]]:
    names = {c.id: c.name for m in messages if m.role is Role.ASSISTANT for c in m.tool_calls}
    out: list[dict[str, Any]] = []
    for message in messages:
        item: dict[str, Any] = {"role": message.role.value, "content": message.text}
        if message.role is Role.TOOL:
            call_id = message.tool_call_id or ""
            item["tool_name"] = message.name or names.get(call_id, "")
            item["tool_call_id"] = call_id
        elif message.role is Role.ASSISTANT:
            thinking = "".join(t.text for t in message.thinking if t.provider in (None, provider))
            if thinking:
                item["thinking"] = thinking
            if message.tool_calls:
                item["tool_calls"] = [
                    {"id": c.id, "function": {"name": c.name, "arguments": c.arguments}}
                    for c in message.tool_calls
                ]
        images = _images(message)
        if images:
            item["images"] = images
        out.append(item)
    return out


def _think(effort: Any) -> bool | str:
    """The native `think` value for an effort: the level for low / medium / high (as gpt-oss
    takes them), False for "none", else True."""
    if effort == "none":
        return False
    return str(effort) if effort in ("low", "medium", "high") else True


def native_request(
    model: str,
    messages: Sequence[Message],
    tools: Sequence[Mapping[str, Any]] | None,
    settings: Mapping[str, Any],
    *,
    max_tokens: int | None,
    passthrough: Mapping[str, Any],
) -> dict[str, Any]:
    """The `/api/chat` body for a call.

    Mapping: `max_tokens` → `options.num_predict`; `temperature`, `top_p`, `seed`, `stop` and
    every setting named in `OPTIONS` (`num_ctx`, `top_k`, ...) → `options`, merged with an
    `options` mapping given as a setting (which wins); `output_schema` → `format` (the JSON
    schema); `thinking` and `effort` → `think` (the effort when it is "low" / "medium" /
    "high", as gpt-oss takes them; false for "none"; else true); `tool_choice` "none" leaves
    the tools out (the API has no tool choice; other values are not sent). `keep_alive` and
    any other setting go top-level.
    """
    options: dict[str, Any] = {}
    body: dict[str, Any] = {"model": model, "messages": _messages(messages, "ollama")}
    decls = tool_decls(tools)
    if decls and settings.get("tool_choice") != "none":
        body["tools"] = [
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
    if max_tokens is not None:
        options["num_predict"] = max_tokens
    for key in ("temperature", "top_p", "seed"):
        if settings.get(key) is not None:
            options[key] = settings[key]
    if settings.get("stop"):
        options["stop"] = stop_sequences(settings["stop"])
    schema = settings.get("output_schema")
    if schema:
        body["format"] = schema["schema"]
    thinking = settings.get("thinking")
    if thinking:
        body["think"] = _think(thinking.get("effort"))
    if settings.get("effort"):
        body["think"] = _think(settings["effort"])
    for key, value in passthrough.items():
        if key == "options":
            continue
        if key in OPTIONS:
            options[key] = value
        else:
            body.setdefault(key, value)
    given = passthrough.get("options")
    if given is not None:
        if not isinstance(given, Mapping):
            raise TypeError(f"options must be a mapping, got {type(given).__name__}")
        options.update(given)
    if options:
        body["options"] = options
    return body


def _tool_calls(message: Mapping[str, Any]) -> list[ToolCall]:
    calls = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        arguments = function.get("arguments")
        error = None
        if isinstance(arguments, str):  # some models' templates leave a JSON string
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                error = f"tool call arguments are not valid JSON ({exc.msg}): {arguments!r}"
        if arguments is None:
            arguments = {}
        if error is None and not isinstance(arguments, dict):
            error = f"tool call arguments must be a JSON object, got: {json.dumps(arguments)}"
        calls.append(
            ToolCall(
                id=str(call.get("id") or f"ollama_call_{next(_ids)}"),
                name=str(function.get("name") or ""),
                arguments=arguments if error is None else {},
                arguments_error=error,
            )
        )
    return calls


def _finish(done_reason: str | None, calls: list[ToolCall]) -> FinishReason:
    """Ollama says "stop" also when the model called tools: calls decide `tool_calls` unless
    the answer was cut at the token limit ("length")."""
    if done_reason == "length":
        return FinishReason.LENGTH
    if calls:
        return FinishReason.TOOL_CALLS
    return normalize_finish_reason(done_reason)


def _usage(body: Mapping[str, Any]) -> Usage:
    return Usage(
        input_tokens=int(body.get("prompt_eval_count") or 0),
        output_tokens=int(body.get("eval_count") or 0),
        requests=1,
    )


def parse_native(body: Mapping[str, Any], provider: str) -> ModelResponse:
    """A `ModelResponse` from a non-streamed `/api/chat` answer (cost 0.0: a local model)."""
    message = body.get("message") or {}
    calls = _tool_calls(message)
    thinking = message.get("thinking") or ""
    return ModelResponse(
        message=Message(
            role=Role.ASSISTANT,
            content=message.get("content") or None,
            tool_calls=calls,
            thinking=[Thinking(text=thinking, provider=provider)] if thinking else [],
        ),
        usage=_usage(body),
        finish_reason=_finish(body.get("done_reason"), calls),
        model=body.get("model"),
        raw=body,
    )


async def read_native_stream(
    lines: AsyncIterator[str], provider: str, truncated: Any, failed: Any
) -> AsyncIterator[StreamChunk]:
    """Stream chunks from the NDJSON lines of a streamed `/api/chat` answer, ending with the
    assembled response. `truncated(what)` and `failed(message)` build the errors for a stream
    that ends before `done: true` and for an `{"error": ...}` line."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCall] = []
    final: Mapping[str, Any] | None = None
    async for line in lines:
        if not line.strip():
            continue
        event = json.loads(line)
        if event.get("error"):
            raise failed(str(event["error"]))
        message = event.get("message") or {}
        if message.get("thinking"):
            thoughts.append(message["thinking"])
            yield StreamChunk(type=ChunkType.THINKING, delta=message["thinking"])
        if message.get("content"):
            texts.append(message["content"])
            yield StreamChunk(delta=message["content"])
        for call in _tool_calls(message):
            calls.append(call)
            yield StreamChunk(
                type=ChunkType.TOOL_CALL,
                index=len(calls) - 1,
                tool_call_id=call.id,
                tool_name=call.name,
                arguments_delta=json.dumps(call.arguments),
            )
        if event.get("done"):
            final = event
            break
    if final is None:
        raise truncated("a line with done: true arrived")
    thinking = "".join(thoughts)
    yield StreamChunk(
        response=ModelResponse(
            message=Message(
                role=Role.ASSISTANT,
                content="".join(texts) or None,
                tool_calls=calls,
                thinking=[Thinking(text=thinking, provider=provider)] if thinking else [],
            ),
            usage=_usage(final),
            finish_reason=_finish(final.get("done_reason"), calls),
            model=final.get("model"),
        )
    )
