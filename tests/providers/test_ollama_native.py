"""Ollama's native options (`num_ctx`, `keep_alive`, `options`), which its OpenAI-compatible
`/v1` endpoint ignores, go to the native `/api/chat` over real HTTP (httpx2) on the project's
own fixtures."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from spine_core import Agent, ChunkType, Message, tool
from spine_core.errors import ProviderError
from spine_providers import OllamaProvider

from .fakes import Server, serve

pytestmark = pytest.mark.anyio

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def _provider(server: Server, **kw: Any) -> OllamaProvider:
    return OllamaProvider("qwen3", http_client=server.client(), **kw)


async def test_an_agent_tool_turn_with_num_ctx_and_keep_alive_uses_the_native_api() -> None:
    server = serve("ollama_native/tool_call.yaml", "ollama_native/answer.yaml")

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return f"sunny in {city}, 21 C"

    agent = Agent(
        provider=_provider(server, keep_alive="10m"),
        tools=[get_weather],
        system="Be brief.",
        settings={"num_ctx": 16384, "temperature": 0.1},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a local model: no unpriced-model warning
        result = await agent.run("Weather in Paris?")

    assert result.ok and result.answer == "It is sunny in Paris, 21 C."
    assert [str(r.url) for r in server.requests] == ["http://localhost:11434/api/chat"] * 2
    first, second = server.body(0), server.body(1)
    assert first["options"] == {"num_ctx": 16384, "temperature": 0.1}
    assert (first["keep_alive"], first["stream"]) == ("10m", False)
    assert "num_ctx" not in first and "max_tokens" not in first
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert first["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
    ]
    assistant, result_message = second["messages"][2], second["messages"][3]
    assert assistant["tool_calls"] == [
        {
            "id": "call_spine_ollama_1",
            "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
        }
    ]
    assert assistant["thinking"] == "The user asks for the weather in Paris; call get_weather."
    assert result_message == {
        "role": "tool",
        "content": "sunny in Paris, 21 C",
        "tool_name": "get_weather",
        "tool_call_id": "call_spine_ollama_1",
    }
    assert (result.usage.input_tokens, result.usage.output_tokens) == (164 + 221, 37 + 11)
    assert result.usage.requests == 2 and result.usage.cost_usd == 0.0


async def test_standard_settings_and_options_map_to_the_native_fields() -> None:
    server = serve("ollama_native/answer.yaml")
    provider = _provider(server, base_url="http://gpu-box:11434/v1/")
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    response = await provider.complete(
        [Message.user("hi")],
        [WEATHER],
        max_tokens=256,
        top_p=0.9,
        seed=7,
        stop="END",
        top_k=40,
        options={"num_ctx": 4096, "top_k": 20},  # an `options` mapping wins
        output_schema={"name": "answer", "schema": schema},
        thinking={"effort": "high"},
        tool_choice="none",
    )
    assert str(server.requests[0].url) == "http://gpu-box:11434/api/chat"
    body = server.body()
    assert body["options"] == {
        "num_predict": 256,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["END"],
        "top_k": 20,
        "num_ctx": 4096,
    }
    assert (body["format"], body["think"]) == (schema, "high")
    assert "tools" not in body  # tool_choice "none": the native API has no tool choice
    assert response.finish_reason.value == "stop" and response.model == "qwen3"


@pytest.mark.parametrize(
    ("native", "settings", "path"),
    [
        (None, {"temperature": 0.2}, "/v1/chat/completions"),  # nothing native: /v1
        (None, {"keep_alive": -1}, "/api/chat"),
        (True, {}, "/api/chat"),
        (False, {"num_ctx": 8192}, "/v1/chat/completions"),  # forced: Ollama ignores it
    ],
)
async def test_the_endpoint_is_chosen_by_the_settings_or_forced(
    native: bool | None, settings: dict[str, Any], path: str
) -> None:
    answer = "ollama_native/answer.yaml" if path == "/api/chat" else "openai_chat/text.yaml"
    server = serve(answer)
    await _provider(server, native=native).complete([Message.user("hi")], **settings)
    assert server.requests[0].url.path == path


async def test_a_native_stream_yields_thinking_and_text_then_the_response() -> None:
    server = serve("ollama_native/stream_answer.yaml")
    provider = _provider(server, num_ctx=8192)
    chunks = [c async for c in provider.stream([Message.user("Say hello.")])]

    assert server.body()["stream"] is True and server.body()["options"] == {"num_ctx": 8192}
    assert [c.delta for c in chunks if c.type is ChunkType.THINKING] == ["Greet ", "briefly."]
    assert [c.delta for c in chunks if c.type is ChunkType.TEXT] == ["Hello", " there!"]
    response = chunks[-1].response
    assert response is not None and response.message.content == "Hello there!"
    assert response.message.thinking[0].text == "Greet briefly."
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 9)


async def test_a_native_stream_cut_before_done_is_a_connection_error() -> None:
    server = serve("ollama_native/stream_cut.yaml")
    with pytest.raises(ProviderError) as info:
        [c async for c in _provider(server, num_ctx=8192).stream([Message.user("hi")])]
    assert info.value.kind.value == "connection" and info.value.retryable


async def test_a_native_error_answer_maps_to_its_kind_with_ollamas_message() -> None:
    server = serve("ollama_native/model_not_found.yaml")
    with pytest.raises(ProviderError) as info:
        await OllamaProvider("qwen9", http_client=server.client()).complete(
            [Message.user("hi")], keep_alive="5m"
        )
    assert (info.value.kind.value, info.value.status) == ("bad_request", 404)
    assert info.value.message.startswith("model 'qwen9' not found")


async def test_an_image_url_is_refused_by_the_native_path() -> None:
    server = Server([])
    message = Message.user_parts([{"type": "image", "url": "https://example.com/cat.png"}])
    with pytest.raises(ValueError, match="takes images as base64 data, not URLs"):
        await _provider(server).complete([message], num_ctx=4096)
    assert server.requests == []


@pytest.mark.parametrize(
    ("effort", "think"), [("medium", "medium"), ("none", False), ("max", True)]
)
async def test_effort_is_the_native_think_field(effort: str, think: bool | str) -> None:
    server = serve("ollama_native/answer.yaml")
    await _provider(server, native=True).complete([Message.user("hi")], effort=effort)
    body = server.body()
    assert body["think"] == think and "effort" not in body
