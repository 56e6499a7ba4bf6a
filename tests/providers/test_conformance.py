"""Every real provider class passes the provider conformance kit (`spine_core.testing`),
through its real SDK answering from the project's own fixtures."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from spine_core.testing import ProviderContract
from spine_providers import (
    AnthropicProvider,
    DeepSeekProvider,
    GeminiProvider,
    LMStudioProvider,
    OllamaProvider,
    OpenAIProvider,
    OpenAIResponsesProvider,
    OpenRouterProvider,
    VLLMProvider,
)

from .fakes import always

# class, model, fixture for plain calls, fixture for streamed calls
CASES: dict[str, tuple[Callable[..., Any], str, str, str]] = {
    "anthropic": (
        AnthropicProvider,
        "claude-sonnet-4-6",
        "anthropic/text.yaml",
        "anthropic/stream_thinking.yaml",
    ),
    "openai": (OpenAIProvider, "gpt-4o", "openai_chat/text.yaml", "openai_chat/stream_text.yaml"),
    "openai-responses": (
        OpenAIResponsesProvider,
        "o4-mini",
        "openai_responses/reasoning.yaml",
        "openai_responses/stream_text.yaml",
    ),
    "google": (GeminiProvider, "gemini-2.5-flash", "gemini/text.yaml", "gemini/stream_text.yaml"),
    "ollama": (
        OllamaProvider,
        "qwen3",
        "openai_compat/ollama_reasoning.yaml",
        "openai_chat/stream_text.yaml",
    ),
    "ollama-native": (
        partial(OllamaProvider, native=True),  # Ollama's own /api/chat
        "qwen3",
        "ollama_native/answer.yaml",
        "ollama_native/stream_answer.yaml",
    ),
    "deepseek": (
        partial(DeepSeekProvider, prices={"deepseek-v4-flash": {"input": 0.3, "output": 0.5}}),
        "deepseek-v4-flash",
        "openai_compat/deepseek_answer.yaml",
        "openai_chat/stream_text.yaml",
    ),
    "vllm": (VLLMProvider, "qwen3", "openai_chat/text.yaml", "openai_chat/stream_text.yaml"),
    "lmstudio": (
        LMStudioProvider,
        "qwen3",
        "openai_chat/text.yaml",
        "openai_chat/stream_text.yaml",
    ),
    "openrouter": (
        OpenRouterProvider,
        "openai/gpt-4o",
        "openai_chat/text.yaml",
        "openai_compat/kimi_k2_text_stream.yaml",
    ),
}


class TestEveryProvider(ProviderContract):
    @pytest.fixture(params=list(CASES))
    def provider(self, request: pytest.FixtureRequest) -> Any:
        cls, model, plain, streamed = CASES[request.param]
        return cls(model, api_key="k", http_client=always(plain, streamed).client())
