"""Google Gemini through the official `google-genai` SDK (`spine-providers[google]`).

Wire rules: https://ai.google.dev/api/generate-content (google-genai 3.4). The system prompt
goes in `config.system_instruction`; the assistant role is "model"; tool results are
`function_response` parts `{"output": ...}` / `{"error": ...}` in a user turn; a function call's
`thought_signature` must be sent back with it on the next turn. Gemini reports finish reason
STOP even when it calls functions, so tool calls decide `tool_calls`. Automatic function
calling is disabled (Spine runs the tools); the SDK's retries are off by default.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from typing import Any, ClassVar

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

from ._base import BaseProvider, alternating_turns, stop_sequences, system_text, tool_decls
from ._lazy import require

__all__ = ["GeminiProvider", "config_arguments"]

_FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
        "MODEL_ARMOR",
        "LANGUAGE",
    }
)
_MODES = {"auto": "AUTO", "required": "ANY", "none": "NONE"}
_ids = itertools.count(1)
_TEXT_SIGNATURE = "text_signature"
"""`Thinking.id` marking a signature Gemini attached to a text part (sent back on that part)."""


def _b64decode(text: str) -> bytes:
    return base64.b64decode(
        text + "=" * (-len(text) % 4), altchars=b"-_" if "-" in text or "_" in text else None
    )


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data else None


def _user_parts(message: Message) -> list[dict[str, Any]]:
    if not message.parts:  # content may be None: send its text ("")
        return [{"text": message.text}]
    parts: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            parts.append({"text": part.text})
        elif part.data is not None:
            mime = part.media_type or "image/png"
            parts.append({"inline_data": {"mime_type": mime, "data": _b64decode(part.data)}})
        else:
            parts.append(
                {"file_data": {"file_uri": part.url, "mime_type": part.media_type or "image/jpeg"}}
            )
    return parts


def _model_parts(message: Message) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    text_signature: str | None = None
    for thought in message.thinking:
        if thought.provider not in (None, "google"):
            continue
        if thought.id == _TEXT_SIGNATURE:
            text_signature = thought.signature
        elif thought.text or thought.signature:
            part: dict[str, Any] = {"text": thought.text, "thought": True}
            if thought.signature:
                part["thought_signature"] = _b64decode(thought.signature)
            parts.append(part)
    if message.text:
        parts.append({"text": message.text})
        if text_signature:
            parts[-1]["thought_signature"] = _b64decode(text_signature)
    for call in message.tool_calls:
        part = {"function_call": {"id": call.id, "name": call.name, "args": call.arguments}}
        if call.signature:
            part["thought_signature"] = _b64decode(call.signature)
        parts.append(part)
    return parts


def _tool_part(message: Message, names: Mapping[str, str]) -> dict[str, Any]:
    key = "error" if message.is_error else "output"
    name = message.name or names.get(message.tool_call_id or "", "")
    return {
        "function_response": {
            "id": message.tool_call_id,
            "name": name,
            "response": {key: message.text},
        }
    }


def _contents(messages: Sequence[Message]) -> list[dict[str, Any]]:
    # Gemini wants the function name on each response; `Message.tool` may leave it out, so it
    # is taken from the call the result answers.
    names = {c.id: c.name for m in messages if m.role is Role.ASSISTANT for c in m.tool_calls}

    def parts(message: Message) -> list[dict[str, Any]]:
        if message.role is Role.ASSISTANT:
            return _model_parts(message)
        if message.role is Role.TOOL:
            return [_tool_part(message, names)]
        return _user_parts(message)

    return alternating_turns(messages, parts, assistant="model", key="parts")


def config_arguments(config: Mapping[str, Any], fields: Collection[str]) -> dict[str, Any]:
    """`config` as a `GenerateContentConfig` dict: keys that are not its `fields` (settings
    Spine does not model and the SDK has no field for) move into
    `http_options.extra_body`, which google-genai merges into the JSON request body as is."""
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in config.items():
        (out if key in fields else extra)[key] = value
    if extra:
        options = dict(out.get("http_options") or {})
        options["extra_body"] = {**extra, **(options.get("extra_body") or {})}
        out["http_options"] = options
    return out


def _level(effort: Any) -> str:
    """A Gemini `thinking_level` for a Spine effort ("max" is its highest, XHIGH)."""
    level = str(effort).upper()
    return "XHIGH" if level == "MAX" else level


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


class GeminiProvider(BaseProvider):
    """Gemini models through google-genai (schemes `google` and `gemini`).

    Settings: `temperature`, `top_p`, `max_tokens` (`max_output_tokens`), `stop`
    (`stop_sequences`), `seed`, `tool_choice` (function-calling mode AUTO / ANY / NONE, or ANY
    restricted to the named function), `output_schema` (`response_mime_type`
    "application/json" + `response_json_schema`), `thinking` (`{"budget_tokens": n}` →
    `thinking_budget`, `{"effort": ...}` → `thinking_level`, "max" being XHIGH; thoughts are
    always requested with `include_thoughts`), `effort` (`thinking_level` alone); `cache`
    (Anthropic's prompt caching setting) is dropped, Gemini caching implicitly or through
    `cached_content`. Any other setting is sent as is: a `GenerateContentConfig` field
    (`top_k`, `safety_settings`, `tool_config`, `thinking_config`, `cached_content`, ...) in
    the config, anything else in the request body. Calls without a provider id get a
    generated one ("gemini_call_<n>") that is echoed on the function call and its response.

    Usage: `input_tokens` is `promptTokenCount` plus `toolUsePromptTokenCount` (the prompt of
    code-execution and grounding tool calls), `output_tokens` is `candidatesTokenCount` plus
    `thoughtsTokenCount`, so input + output is the API's `totalTokenCount`
    (https://ai.google.dev/api/generate-content#UsageMetadata).

    Args:
        api_version: API version path ("v1", "v1beta"); None uses the SDK default.

    Raises (on calls):
        ProviderError: auth when no key is set (`GOOGLE_API_KEY` or `GEMINI_API_KEY`),
            otherwise the mapped error.
        ImportError: google-genai is not installed (`spine-providers[google]`).
    """

    name = "google"
    extra = "google"
    mapped_settings = frozenset({"effort", "cache"})
    env_vars: ClassVar[tuple[str, ...]] = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
    default_model = "gemini-2.5-flash"

    def __init__(
        self, model: str | None = None, *, api_version: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(model, **kwargs)
        self.api_version = api_version

    def _make_client(self) -> Any:
        genai = require("google.genai", self.extra)
        options: dict[str, Any] = {}
        if self.base_url:
            options["base_url"] = self.base_url
        if self.api_version:
            options["api_version"] = self.api_version
        if self._http_client is not None:
            options["httpx_async_client"] = self._http_client
        if self.timeout_s is not None:
            options["timeout"] = int(self.timeout_s * 1000)  # the SDK takes milliseconds
        return genai.Client(api_key=self.api_key(), http_options=options or None)

    async def _close_client(self, client: Any) -> None:
        await client.aio.aclose()

    def build_request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None,
        settings: Mapping[str, Any],
    ) -> dict[str, Any]:
        config: dict[str, Any] = {"automatic_function_calling": {"disable": True}}
        system = system_text(messages)
        if system:
            config["system_instruction"] = system
        decls = tool_decls(tools)
        if decls:
            config["tools"] = [
                {
                    "function_declarations": [
                        {
                            "name": t.name,
                            "description": t.description,
                            "parameters_json_schema": t.parameters,
                        }
                        for t in decls
                    ]
                }
            ]
        choice = settings.get("tool_choice")
        if choice is not None and decls:
            if isinstance(choice, Mapping):
                calling = {"mode": "ANY", "allowed_function_names": [choice["name"]]}
            else:
                calling = {"mode": _MODES[str(choice)]}
            config["tool_config"] = {"function_calling_config": calling}
        for key, field in (("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed")):
            if settings.get(key) is not None:
                config[field] = settings[key]
        max_tokens = self._max_tokens(settings, None)
        if max_tokens is not None:
            config["max_output_tokens"] = max_tokens
        if settings.get("stop"):
            config["stop_sequences"] = stop_sequences(settings["stop"])
        schema = settings.get("output_schema")
        if schema:
            config["response_mime_type"] = "application/json"
            config["response_json_schema"] = schema["schema"]
        thinking = settings.get("thinking")
        if thinking:
            thinking_config: dict[str, Any] = {"include_thoughts": True}
            if "budget_tokens" in thinking:
                thinking_config["thinking_budget"] = int(thinking["budget_tokens"])
            elif "effort" in thinking:
                thinking_config["thinking_level"] = _level(thinking["effort"])
            config["thinking_config"] = thinking_config
        if settings.get("effort"):
            config["thinking_config"] = {
                **config.get("thinking_config", {}),
                "thinking_level": _level(settings["effort"]),
            }
        for key, value in self.passthrough(settings).items():
            config.setdefault(key, value)
        return {"model": self.model, "contents": _contents(messages), "config": config}

    def _arguments(self, request: dict[str, Any]) -> dict[str, Any]:
        types = require("google.genai.types", self.extra)
        fields = types.GenerateContentConfig.model_fields
        return {**request, "config": config_arguments(request["config"], fields)}

    async def _send(self, request: dict[str, Any]) -> Any:
        return await self.client.aio.models.generate_content(**self._arguments(request))

    def _usage(self, meta: Any, model: str | None) -> Usage:
        if meta is None:
            return self._priced(Usage(), model)
        thoughts = meta.thoughts_token_count or 0
        tool_prompt = getattr(meta, "tool_use_prompt_token_count", None) or 0
        return self._priced(
            Usage(
                input_tokens=(meta.prompt_token_count or 0) + tool_prompt,
                output_tokens=(meta.candidates_token_count or 0) + thoughts,
                cache_read_tokens=meta.cached_content_token_count or 0,
                reasoning_tokens=thoughts,
            ),
            model,
        )

    def _finish(self, reason: str, calls: list[ToolCall], blocked: bool) -> FinishReason:
        if blocked or reason in _FILTERED:
            return FinishReason.CONTENT_FILTER
        if reason == "MAX_TOKENS":
            return FinishReason.LENGTH
        return FinishReason.TOOL_CALLS if calls else FinishReason.STOP

    def _read_parts(
        self,
        parts: Sequence[Any],
        texts: list[str],
        thinking: list[Thinking],
        calls: list[ToolCall],
    ) -> list[StreamChunk]:
        """Fold response parts into the accumulators; return the stream chunks they make."""
        chunks: list[StreamChunk] = []
        for part in parts:
            signature = _b64(part.thought_signature)
            call = part.function_call
            if call is not None:
                tool_call = ToolCall(
                    id=call.id or f"gemini_call_{next(_ids)}",
                    name=call.name or "",
                    arguments=dict(call.args or {}),
                    signature=signature,
                )
                calls.append(tool_call)
                chunks.append(
                    StreamChunk(
                        type=ChunkType.TOOL_CALL,
                        index=len(calls) - 1,
                        tool_call_id=tool_call.id,
                        tool_name=tool_call.name,
                        arguments_delta=json.dumps(tool_call.arguments),
                    )
                )
            elif part.thought:
                if thinking and thinking[-1].signature is None:
                    last = thinking.pop()
                    thinking.append(
                        Thinking(
                            text=last.text + (part.text or ""),
                            signature=signature,
                            provider=self.name,
                        )
                    )
                else:
                    thinking.append(
                        Thinking(text=part.text or "", signature=signature, provider=self.name)
                    )
                if part.text:
                    chunks.append(StreamChunk(type=ChunkType.THINKING, delta=part.text))
            elif part.text is not None:
                texts.append(part.text)
                if signature:
                    thinking.append(
                        Thinking(signature=signature, provider=self.name, id=_TEXT_SIGNATURE)
                    )
                if part.text:
                    chunks.append(StreamChunk(delta=part.text))
        return chunks

    def parse_response(self, raw: Any, settings: Mapping[str, Any]) -> ModelResponse:
        texts: list[str] = []
        thinking: list[Thinking] = []
        calls: list[ToolCall] = []
        candidate = raw.candidates[0] if raw.candidates else None
        if candidate is not None and candidate.content is not None:
            self._read_parts(candidate.content.parts or [], texts, thinking, calls)
        blocked = (
            candidate is None and getattr(raw.prompt_feedback, "block_reason", None) is not None
        )
        reason = _enum(candidate.finish_reason) if candidate is not None else ""
        return ModelResponse(
            message=Message(
                role=Role.ASSISTANT,
                content="".join(texts) or None,
                tool_calls=calls,
                thinking=thinking,
            ),
            usage=self._usage(raw.usage_metadata, raw.model_version),
            finish_reason=self._finish(reason, calls, blocked),
            model=raw.model_version,
            raw=raw,
        )

    async def _stream(
        self, request: dict[str, Any], settings: Mapping[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        texts: list[str] = []
        thinking: list[Thinking] = []
        calls: list[ToolCall] = []
        reason = ""
        blocked = False
        meta: Any = None
        model: str | None = None
        arguments = self._arguments(request)
        async for chunk in await self.client.aio.models.generate_content_stream(**arguments):
            model = chunk.model_version or model
            meta = chunk.usage_metadata or meta
            if not chunk.candidates:
                blocked = (
                    blocked or getattr(chunk.prompt_feedback, "block_reason", None) is not None
                )
                continue
            candidate = chunk.candidates[0]
            if candidate.content is not None:
                for out in self._read_parts(candidate.content.parts or [], texts, thinking, calls):
                    yield out
            if candidate.finish_reason is not None:
                reason = _enum(candidate.finish_reason)
        if not reason and not blocked:
            raise self._truncated("a finish reason arrived")
        response = ModelResponse(
            message=Message(
                role=Role.ASSISTANT,
                content="".join(texts) or None,
                tool_calls=calls,
                thinking=thinking,
            ),
            usage=self._usage(meta, model),
            finish_reason=self._finish(reason, calls, blocked),
            model=model,
        )
        yield StreamChunk(response=response)
