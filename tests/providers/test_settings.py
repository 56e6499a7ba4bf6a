"""The reference's provider form (`client=`, `**defaults`) and settings Spine does not model,
which reach the API as the SDK's own arguments or its extra request fields."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import anthropic
import httpx2
import openai
import pytest
from openai.types.chat import ChatCompletion

from spine_core import Message, resolve_provider
from spine_core.errors import ProviderError
from spine_providers import (
    AnthropicProvider,
    GeminiProvider,
    OpenAIProvider,
)

from .fakes import Server, always, body_of, serve

pytestmark = pytest.mark.anyio


async def test_reference_form_uses_the_given_openai_client_and_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = always("openai_chat/text.yaml", "openai_chat/stream_text.yaml")
    client = openai.AsyncOpenAI(
        api_key="sk-own", base_url="https://gateway.example/v1", http_client=server.client()
    )
    provider = OpenAIProvider("gpt-4o", client=client, temperature=0.2, store=False)
    assert provider.client is client

    await provider.complete([Message.user("hi")])
    await provider.complete([Message.user("hi")], temperature=0.7, metadata={"team": "search"})
    [c async for c in provider.stream([Message.user("hi")])]

    first, second, streamed = (server.body(i) for i in range(3))
    assert str(server.requests[0].url) == "https://gateway.example/v1/chat/completions"
    assert server.requests[0].headers["authorization"] == "Bearer sk-own"
    assert (first["temperature"], first["store"], "metadata" in first) == (0.2, False, False)
    assert (second["temperature"], second["store"], second["metadata"]) == (
        0.7,
        False,
        {"team": "search"},
    )
    assert (streamed["temperature"], streamed["store"]) == (0.2, False)
    await provider.aclose()
    assert not client.is_closed()  # the caller's client: the caller closes it


async def test_reference_form_for_anthropic_with_max_tokens_and_defaults() -> None:
    server = serve("anthropic/text.yaml", "anthropic/text.yaml")
    client = anthropic.AsyncAnthropic(api_key="own-key", http_client=server.client())
    provider = AnthropicProvider(
        "claude-sonnet-4-6",
        client=client,
        max_tokens=1024,
        temperature=0.3,
        metadata={"user_id": "u-42"},
        service_tier="standard_only",
    )
    await provider.complete([Message.user("hi")])
    await provider.complete([Message.user("hi")], max_tokens=64, temperature=None)
    first, second = server.body(0), server.body(1)
    assert (first["max_tokens"], first["temperature"]) == (1024, 0.3)
    assert first["metadata"] == {"user_id": "u-42"}
    assert first["service_tier"] == "standard_only"
    assert (second["max_tokens"], second["temperature"]) == (64, 0.3)  # None: not given
    assert server.requests[0].headers["authorization"] == "Bearer own-key"


def test_reference_defaults_for_model_and_max_tokens() -> None:
    from spine_providers import anthropic as anthropic_module
    from spine_providers import openai as reference_module

    assert AnthropicProvider().model == anthropic_module.DEFAULT_MODEL
    assert AnthropicProvider(None).max_tokens == anthropic_module.DEFAULT_MAX_TOKENS == 4096
    assert OpenAIProvider(None).model == reference_module.DEFAULT_MODEL
    assert reference_module.OpenAIProvider is OpenAIProvider  # spine_providers.openai works


async def test_ollama_options_reach_the_native_api_where_they_take_effect() -> None:
    server = serve("ollama_native/answer.yaml")
    provider = resolve_provider("ollama:qwen3", keep_alive="10m", http_client=server.client())
    await provider.complete([Message.user("hi")], num_ctx=8192)
    body = server.body()
    assert (body["keep_alive"], body["options"]) == ("10m", {"num_ctx": 8192})
    assert str(server.requests[0].url) == "http://localhost:11434/api/chat"


async def test_openai_sdk_arguments_and_unknown_fields_both_reach_the_body() -> None:
    server = serve("openai_chat/text.yaml")
    provider = OpenAIProvider("gpt-4o", api_key="k", http_client=server.client())
    await provider.complete(
        [Message.user("hi")],
        parallel_tool_calls=False,  # an SDK argument
        prompt_cache_key="user-42",  # an SDK argument
        safety_tier="strict",  # unknown to the SDK: extra_body
        extra_body={"provider": {"order": ["groq"]}},  # the SDK's own extra_body, merged
        extra_headers={"x-trace": "t-1"},
    )
    body = server.body()
    assert body["parallel_tool_calls"] is False and body["prompt_cache_key"] == "user-42"
    assert body["safety_tier"] == "strict"
    assert body["provider"] == {"order": ["groq"]}
    assert server.requests[0].headers["x-trace"] == "t-1"


async def test_anthropic_native_thinking_and_effort_are_sent_as_given() -> None:
    server = serve("anthropic/text.yaml")
    provider = AnthropicProvider("claude-opus-4-6", api_key="k", http_client=server.client())
    await provider.complete(
        [Message.user("hi")],
        thinking={"type": "adaptive"},
        output_config={"effort": "high"},
        cache_control={"type": "ephemeral"},
    )
    body = server.body()
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "high"}
    assert body["cache_control"] == {"type": "ephemeral"}


async def test_gemini_config_fields_go_to_the_config_and_others_to_the_body() -> None:
    server = serve("gemini/text.yaml")
    provider = GeminiProvider(
        "gemini-2.5-flash", api_key="k", http_client=server.client(), top_k=40
    )
    await provider.complete(
        [Message.user("hi")],
        service_tier="flex",  # a GenerateContentConfig field
        routingHint={"region": "eu"},  # a field newer than the installed SDK: sent as is
    )
    body = server.body()
    assert body["generationConfig"]["topK"] == 40
    assert body["serviceTier"] == "flex"
    assert body["routingHint"] == {"region": "eu"}


@pytest.mark.parametrize(
    ("factory", "error"),
    [
        (
            lambda s: OpenAIProvider("gpt-4o", api_key="k", http_client=s.client()),
            {
                "error": {
                    "message": "Unrecognized request argument supplied: num_ctx",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
        ),
        (
            lambda s: AnthropicProvider("claude-haiku-4-5", api_key="k", http_client=s.client()),
            {
                "type": "error",
                "error": {
                    "type": "invalid_request_error",
                    "message": "num_ctx: Extra inputs are not permitted",
                },
            },
        ),
    ],
    ids=["openai", "anthropic"],
)
async def test_a_setting_the_api_rejects_is_a_bad_request_naming_it(
    factory: Any, error: dict[str, Any]
) -> None:
    server = Server([httpx2.Response(400, json=error)])
    with pytest.raises(ProviderError) as info:
        await factory(server).complete([Message.user("hi")], num_ctx=8192, temperature=0.1)
    assert info.value.kind.value == "bad_request" and info.value.status == 400
    assert info.value.message.startswith(error["error"]["message"])  # the API's own words
    assert info.value.message.endswith("which Spine does not map: num_ctx)")
    assert "num_ctx)" in str(info.value)


async def test_a_stand_in_client_without_the_sdk_gets_every_setting_as_a_keyword() -> None:
    """The reference's "inject `client` to test without the SDK": a client whose `create`
    takes `**kwargs` receives the settings directly, not folded into `extra_body`."""
    seen: dict[str, Any] = {}

    async def create(**kwargs: Any) -> ChatCompletion:
        seen.update(kwargs)
        return ChatCompletion.model_validate(body_of("openai_chat/text.yaml"))

    client = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create)))
    provider = OpenAIProvider("gpt-4o", client=client, num_ctx=4096)
    response = await provider.complete([Message.user("hi")], max_tokens=5)
    assert response.message.content == "Mount Everest is the tallest mountain, at 8,849 m."
    assert (seen["num_ctx"], seen["max_completion_tokens"]) == (4096, 5)
    assert "extra_body" not in seen
