"""Recorded real error answers (external recordings, see `cassettes.py`) map to the right
`ProviderError` kinds through the real SDKs."""

from __future__ import annotations

import pytest

from spine_core import Message
from spine_core.errors import ProviderError
from spine_providers import AnthropicProvider, GeminiProvider, OpenAIProvider, OpenRouterProvider

from .cassettes import serve

pytestmark = pytest.mark.anyio


async def test_recorded_anthropic_400_is_bad_request() -> None:
    server = serve("anthropic/test_anthropic_explicit_effort_xhigh_unsupported_model_errors.yaml")
    provider = AnthropicProvider("claude-haiku-4-5", api_key="k", http_client=server.client())
    with pytest.raises(ProviderError) as info:
        await provider.complete([Message.user("hi")], [])
    assert info.value.kind.value == "bad_request" and "xhigh" in info.value.message


async def test_recorded_openai_400_is_bad_request() -> None:
    server = serve("openai/test_openai_o1_mini_system_role[developer].yaml")
    provider = OpenAIProvider("gpt-4o", api_key="k", http_client=server.client())
    with pytest.raises(ProviderError) as info:
        await provider.complete([Message.user("hi")], [])
    assert (info.value.kind.value, info.value.status) == ("bad_request", 400)


async def test_recorded_gemini_404_is_bad_request() -> None:
    server = serve("google/test_model_name_suggestion[google].yaml")
    provider = GeminiProvider("gemini-2.5-flash", api_key="k", http_client=server.client())
    with pytest.raises(ProviderError) as info:
        await provider.complete([Message.user("hi")], [])
    assert (info.value.kind.value, info.value.status) == ("bad_request", 404)


async def test_recorded_openrouter_429_is_rate_limit() -> None:
    server = serve("openrouter/test_openrouter_errors_raised.yaml")
    provider = OpenRouterProvider(
        "google/gemini-2.0-flash-exp:free", api_key="k", http_client=server.client()
    )
    with pytest.raises(ProviderError) as info:
        await provider.complete([Message.user("hi")], [])
    assert (info.value.kind.value, info.value.retryable) == ("rate_limit", True)
    assert server.requests[0].url.host == "openrouter.ai"
