"""OpenAI-compatible endpoints under their own schemes: Ollama, OpenRouter, vLLM, LM Studio.

Each is `OpenAIProvider` (Chat Completions) with its own default `base_url`, API-key environment
variable and price behaviour; Ollama also speaks its native API for the settings `/v1` ignores
(`ollama_native`). Local servers need no real key: a fixed stand-in key is sent
because the `openai` SDK refuses an empty one. They receive `max_tokens` (the field these
servers read) instead of `max_completion_tokens`. A server's own request fields are settings
like any other and reach it as top-level JSON fields: OpenRouter's `provider`, `models`,
`transforms`; vLLM's `top_k`, `guided_json`. Ollama's `num_ctx`, `keep_alive` and `options`
send the call to its native API, where they take effect: `OllamaProvider("qwen3",
keep_alive="10m")` or `complete(..., num_ctx=8192)`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from spine_core.errors import ProviderError, ProviderErrorKind
from spine_core.messages import Message, ModelResponse
from spine_core.provider import StreamChunk

from ._lazy import require
from .ollama_native import (
    NATIVE_ONLY,
    OllamaHTTPError,
    native_request,
    parse_native,
    read_native_stream,
)
from .openai_chat import OpenAIProvider

__all__ = [
    "DeepSeekProvider",
    "LMStudioProvider",
    "OllamaProvider",
    "OpenRouterProvider",
    "VLLMProvider",
]


class _LocalServer(OpenAIProvider):
    max_tokens_field: ClassVar[str] = "max_tokens"
    warn_unpriced: ClassVar[bool] = False
    local_key: ClassVar[str] = "not-needed"

    def api_key(self) -> str:
        """The key given, else the environment variable, else a fixed stand-in key (local servers
        accept any key)."""
        if self._api_key:
            return self._api_key
        for var in self.env_vars:
            if os.environ.get(var):
                return os.environ[var]
        return self.local_key


class OllamaProvider(_LocalServer):
    """Ollama (scheme `ollama`), default http://localhost:11434/v1.

    Calls go to the OpenAI-compatible `/v1/chat/completions`, except those with a setting only
    Ollama's native API reads (`spine_providers.ollama_native.NATIVE_ONLY`: `num_ctx`,
    `keep_alive`, `options`, `think`, `top_k`, `num_predict`, ...), which the `/v1` endpoint
    would silently ignore ("The OpenAI API does not have a way of setting the context size",
    https://docs.ollama.com/api/openai-compatibility): they go to the native `POST /api/chat`
    (https://docs.ollama.com/api/chat) on the same server (the base URL without its `/v1`),
    with the model parameters in `options` and `keep_alive` top-level:
    `OllamaProvider("qwen3", num_ctx=8192, keep_alive="10m")`. See
    `ollama_native.native_request` for the mapping of the standard settings there (images
    must be base64 data; there is no `tool_choice` besides "none").

    Reasoning models' thinking (`reasoning` on `/v1`, `thinking` natively) is kept on
    `Message.thinking`. Usage comes from `prompt_eval_count` / `eval_count` natively; the
    cost is 0.0 (a local model) unless `prices=` gives one.

    Args:
        native: True sends every call to the native API, False every call to `/v1` (where the
            native-only settings are ignored by Ollama); None (default) picks per call as
            above.
    """

    name = "ollama"
    env_vars = ("OLLAMA_API_KEY",)
    default_model = "llama3.2"
    default_base_url = "http://localhost:11434/v1"
    local_key = "ollama"

    def __init__(
        self, model: str | None = None, *, native: bool | None = None, **kwargs: Any
    ) -> None:
        super().__init__(model, **kwargs)
        self.native = native

    @property
    def native_url(self) -> str:
        """The native chat endpoint: the base URL without a trailing `/v1`, plus `/api/chat`."""
        root = (self.base_url or self.default_base_url or "").rstrip("/")
        return root.removesuffix("/v1") + "/api/chat"

    def uses_native(self, settings: Mapping[str, Any]) -> bool:
        """Whether a call with these settings goes to the native API."""
        if self.native is not None:
            return self.native
        return any(key in NATIVE_ONLY for key in settings)

    def build_request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None,
        settings: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The `/v1` request (see `OpenAIProvider`), or `{"ollama_native": body}` with the
        native `/api/chat` body when `uses_native(settings)`."""
        if not self.uses_native(settings):
            return super().build_request(messages, tools, settings)
        body = native_request(
            self.model,
            messages,
            tools,
            settings,
            max_tokens=self._max_tokens(settings, None),
            passthrough=self.passthrough(settings),
        )
        return {_NATIVE: body}

    @asynccontextmanager
    async def _native_http(self) -> AsyncIterator[Any]:
        if self._http_client is not None:
            yield self._http_client
            return
        httpx2 = require("httpx2", self.extra)
        async with httpx2.AsyncClient(timeout=self.timeout_s or 600.0) as http:
            yield http

    def _native_headers(self) -> dict[str, str]:
        key = self._api_key or next(
            (os.environ[v] for v in self.env_vars if os.environ.get(v)), None
        )
        return {"authorization": f"Bearer {key}"} if key else {}

    async def _native_error(self, response: Any) -> OllamaHTTPError:
        await response.aread()
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        message = body.get("error") if isinstance(body, dict) else None
        text = str(message or body or f"HTTP {response.status_code}")
        return OllamaHTTPError(response.status_code, text, body, response)

    async def _send(self, request: dict[str, Any]) -> Any:
        body = request.get(_NATIVE)
        if body is None:
            return await super()._send(request)
        async with self._native_http() as http:
            response = await http.post(
                self.native_url, json={**body, "stream": False}, headers=self._native_headers()
            )
            if response.status_code >= 400:
                raise await self._native_error(response)
            return response.json()

    def parse_response(self, raw: Any, settings: Mapping[str, Any]) -> ModelResponse:
        if not isinstance(raw, dict):
            return super().parse_response(raw, settings)
        response = parse_native(raw, self.name)
        self._priced(response.usage, response.model)
        return response

    async def _stream(
        self, request: dict[str, Any], settings: Mapping[str, Any]
    ) -> AsyncIterator[StreamChunk]:
        body = request.get(_NATIVE)
        if body is None:
            async for chunk in super()._stream(request, settings):
                yield chunk
            return

        def failed(message: str) -> ProviderError:
            return ProviderError(
                message, kind=ProviderErrorKind.SERVER, provider=self.name, model=self.model
            )

        async with (
            self._native_http() as http,
            http.stream(
                "POST",
                self.native_url,
                json={**body, "stream": True},
                headers=self._native_headers(),
            ) as response,
        ):
            if response.status_code >= 400:
                raise await self._native_error(response)
            lines = response.aiter_lines()
            async for chunk in read_native_stream(lines, self.name, self._truncated, failed):
                if chunk.response is not None:
                    self._priced(chunk.response.usage, chunk.response.model)
                yield chunk


_NATIVE = "ollama_native"
"""The request key marking a native `/api/chat` body (see `OllamaProvider.build_request`)."""


class VLLMProvider(_LocalServer):
    """A vLLM server (scheme `vllm`), default http://localhost:8000/v1; key from `VLLM_API_KEY`
    when the server was started with `--api-key`."""

    name = "vllm"
    env_vars = ("VLLM_API_KEY",)
    default_base_url = "http://localhost:8000/v1"


class LMStudioProvider(_LocalServer):
    """LM Studio's local server (scheme `lmstudio`), default http://localhost:1234/v1."""

    name = "lmstudio"
    env_vars = ("LMSTUDIO_API_KEY",)
    default_base_url = "http://localhost:1234/v1"
    local_key = "lm-studio"


class OpenRouterProvider(OpenAIProvider):
    """OpenRouter (scheme `openrouter`), https://openrouter.ai/api/v1, key `OPENROUTER_API_KEY`.

    Model names are OpenRouter's ("anthropic/claude-sonnet-4.5"); the price table is matched on
    the part after the slash. A missing key raises `ProviderError(kind="auth")`.
    """

    name = "openrouter"
    env_vars = ("OPENROUTER_API_KEY",)
    default_model = "openai/gpt-4.1-mini"
    default_base_url = "https://openrouter.ai/api/v1"
    max_tokens_field: ClassVar[str] = "max_tokens"


class DeepSeekProvider(OpenAIProvider):
    """DeepSeek's OpenAI-compatible API (scheme `deepseek`), https://api.deepseek.com, key
    `DEEPSEEK_API_KEY`.

    Thinking mode's `reasoning_content` is kept on `Message.thinking` and sent back on the
    assistant turns that made tool calls, which the API requires in every later request
    (https://api-docs.deepseek.com/guides/thinking_mode#tool-calls; see `OpenAIProvider`).
    `thinking` / `effort` set `reasoning_effort`. DeepSeek's own switch, a body field also
    named `thinking`, goes through the SDK's `extra_body` since `thinking` is Spine's standard
    setting: `extra_body={"thinking": {"type": "disabled"}}`.
    """

    name = "deepseek"
    env_vars = ("DEEPSEEK_API_KEY",)
    default_model = "deepseek-v4-flash"
    default_base_url = "https://api.deepseek.com"
    max_tokens_field: ClassVar[str] = "max_tokens"
    replays_reasoning: ClassVar[bool] = True
