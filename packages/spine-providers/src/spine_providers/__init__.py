"""Spine model providers: Anthropic, OpenAI (Chat Completions and Responses), Google Gemini and
OpenAI-compatible endpoints (Ollama, OpenRouter, vLLM, LM Studio, DeepSeek).

Importing this package imports no SDK: each provider class is loaded on first access, and its
SDK only when its client is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import to_provider_error
from .pricing import PRICES, Price, UnpricedModelWarning, cost_usd, set_price

if TYPE_CHECKING:
    from .anthropic import AnthropicProvider
    from .compat import (
        DeepSeekProvider,
        LMStudioProvider,
        OllamaProvider,
        OpenRouterProvider,
        VLLMProvider,
    )
    from .gemini import GeminiProvider
    from .openai_chat import OpenAIProvider
    from .openai_responses import OpenAIResponsesProvider

__all__ = [
    "PRICES",
    "AnthropicProvider",
    "DeepSeekProvider",
    "GeminiProvider",
    "LMStudioProvider",
    "OllamaProvider",
    "OpenAIProvider",
    "OpenAIResponsesProvider",
    "OpenRouterProvider",
    "Price",
    "UnpricedModelWarning",
    "VLLMProvider",
    "cost_usd",
    "set_price",
    "to_provider_error",
]

_LAZY = {
    "AnthropicProvider": ".anthropic",
    "OpenAIProvider": ".openai_chat",
    "OpenAIResponsesProvider": ".openai_responses",
    "GeminiProvider": ".gemini",
    "DeepSeekProvider": ".compat",
    "OllamaProvider": ".compat",
    "OpenRouterProvider": ".compat",
    "VLLMProvider": ".compat",
    "LMStudioProvider": ".compat",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'spine_providers' has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)
