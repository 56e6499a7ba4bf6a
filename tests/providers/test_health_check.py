"""`health_check()`: one minimal real call through each SDK; failures keep their kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from spine_core.errors import ProviderError
from spine_providers import (
    AnthropicProvider,
    GeminiProvider,
    OpenAIProvider,
    OpenAIResponsesProvider,
)

from .fakes import Server, serve

pytestmark = pytest.mark.anyio

# provider name -> (factory, a fixture with a plain text answer, max-output-tokens in the body)
CASES: dict[str, tuple[Callable[[Server], Any], str, Callable[[dict[str, Any]], Any]]] = {
    "anthropic": (
        lambda s: AnthropicProvider("claude-haiku-4-5", api_key="k", http_client=s.client()),
        "anthropic/text.yaml",
        lambda body: body["max_tokens"],
    ),
    "openai": (
        lambda s: OpenAIProvider("gpt-4o", api_key="k", http_client=s.client()),
        "openai_chat/text.yaml",
        lambda body: body.get("max_completion_tokens", body.get("max_tokens")),
    ),
    "openai-responses": (
        lambda s: OpenAIResponsesProvider("o3-mini", api_key="k", http_client=s.client()),
        "openai_responses/reasoning.yaml",
        lambda body: body["max_output_tokens"],
    ),
    "google": (
        lambda s: GeminiProvider("gemini-2.5-flash", api_key="k", http_client=s.client()),
        "gemini/text.yaml",
        lambda body: body["generationConfig"]["maxOutputTokens"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_health_check_makes_one_small_call(name: str) -> None:
    factory, fixture, max_tokens = CASES[name]
    server = serve(fixture)
    server.responses = server.responses[:1]

    assert await factory(server).health_check() is True

    assert len(server.requests) == 1
    assert max_tokens(server.body(0)) == 16


@pytest.mark.parametrize("name", list(CASES))
async def test_health_check_raises_the_mapped_error(name: str) -> None:
    factory, _, _ = CASES[name]
    server = Server([httpx2.Response(401, json={"error": {"message": "bad key"}})])

    with pytest.raises(ProviderError) as info:
        await factory(server).health_check()

    assert info.value.kind.value == "auth" and info.value.status == 401
    assert info.value.provider == name
