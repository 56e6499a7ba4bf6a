"""OpenAI-compatible endpoints under their own schemes: Ollama, OpenRouter, vLLM, LM Studio.

Each is `OpenAIProvider` (Chat Completions) with its own default `base_url`, API-key environment
variable and price behaviour. Local servers need no real key: a fixed stand-in key is sent
because the `openai` SDK refuses an empty one. They receive `max_tokens` (the field these
servers read) instead of `max_completion_tokens`. A server's own request fields are settings
like any other and reach it as top-level JSON fields: `OllamaProvider("qwen3", keep_alive="10m")`
or `complete(..., num_ctx=8192)`; OpenRouter's `provider`, `models`, `transforms`; vLLM's
`top_k`, `guided_json`.
"""

from __future__ import annotations

import os
from typing import ClassVar

from .openai_chat import OpenAIProvider

__all__ = ["LMStudioProvider", "OllamaProvider", "OpenRouterProvider", "VLLMProvider"]


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
    """Ollama's OpenAI-compatible API (scheme `ollama`), default http://localhost:11434/v1.

    Reasoning models' thinking (the `reasoning` field) is kept on `Message.thinking`.
    """

    name = "ollama"
    env_vars = ("OLLAMA_API_KEY",)
    default_model = "llama3.2"
    default_base_url = "http://localhost:11434/v1"
    local_key = "ollama"


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
