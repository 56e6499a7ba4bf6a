"""OpenAIProvider (Chat Completions) driving the real openai SDK against the project's own
fixtures (`fixtures/openai_chat/`, written from the API reference)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spine_core import Agent, ChunkType, FinishReason, Message, ToolCall, tool
from spine_core.messages import ImagePart, TextPart
from spine_providers import OpenAIProvider

from .fakes import Server, body_of, serve

pytestmark = pytest.mark.anyio

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
}


def _provider(server: Server, model: str = "gpt-4o", **kw: Any) -> OpenAIProvider:
    return OpenAIProvider(model, api_key="sk-test", http_client=server.client(), **kw)


async def test_plain_answer_with_usage_cached_tokens_and_cost() -> None:
    server = serve("openai_chat/text.yaml")
    provider = _provider(server)
    response = await provider.complete(
        [Message.system("Be brief."), Message.user("Tallest mountain?")], []
    )
    assert response.message.content == "Mount Everest is the tallest mountain, at 8,849 m."
    assert response.finish_reason is FinishReason.STOP
    assert response.model == "gpt-4o-2024-08-06"
    usage = response.usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (1536, 1024, 8)
    # gpt-4o: $2.50 uncached input, $1.25 cached input, $10 output per million tokens
    assert usage.cost_usd == pytest.approx((512 * 2.5 + 1024 * 1.25 + 8 * 10.0) / 1e6)
    request = server.requests[0]
    assert str(request.url) == "https://api.openai.com/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert server.body()["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Tallest mountain?"},
    ]


async def test_parallel_tool_calls_and_their_results_round_trip() -> None:
    server = serve("openai_chat/tool_calls.yaml", "openai_chat/weather_answer.yaml")
    provider = _provider(server)
    history = [Message.user("Weather in Paris and Tokyo?")]
    first = await provider.complete(history, [WEATHER], tool_choice="auto")
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert first.message.content is None
    assert [(c.id, c.arguments) for c in first.message.tool_calls] == [
        ("call_spine_weather_paris", {"city": "Paris", "unit": "celsius"}),
        ("call_spine_weather_tokyo", {"city": "Tokyo", "unit": "celsius"}),
    ]
    assert server.body(0)["tools"] == [
        {
            "type": "function",
            "function": {
                "name": WEATHER["name"],
                "description": WEATHER["description"],
                "parameters": WEATHER["parameters"],
            },
        }
    ]
    history += [first.message] + [
        Message.tool(f"{t} °C", c.id, c.name)
        for c, t in zip(first.message.tool_calls, ("18", "24"), strict=True)
    ]
    second = await provider.complete(history, [WEATHER], tool_choice="auto")
    assert server.body(1)["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_spine_weather_paris",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"city":"Paris","unit":"celsius"}',
                    },
                },
                {
                    "id": "call_spine_weather_tokyo",
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "arguments": '{"city":"Tokyo","unit":"celsius"}',
                    },
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_spine_weather_paris", "content": "18 °C"},
        {"role": "tool", "tool_call_id": "call_spine_weather_tokyo", "content": "24 °C"},
    ]
    assert second.message.content == "It is 18 °C in Paris and 24 °C in Tokyo."


async def test_native_structured_output_uses_response_format_json_schema() -> None:
    server = serve("openai_chat/json_answer.yaml")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    response = await _provider(server).complete(
        [Message.user("Largest city?")], [], output_schema={"name": "city", "schema": schema}
    )
    assert server.body()["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "city", "schema": schema, "strict": False},
    }
    assert json.loads(response.message.content or "") == {"city": "Lagos", "country": "Nigeria"}


async def test_a_refusal_is_the_answer_with_finish_reason_content_filter() -> None:
    server = serve("openai_chat/refusal.yaml")
    response = await _provider(server).complete([Message.user("...")], [])
    assert (
        response.message.content
        == body_of("openai_chat/refusal.yaml")["choices"][0]["message"]["refusal"]
    )
    assert response.finish_reason is FinishReason.CONTENT_FILTER


async def test_streamed_text_with_usage_from_the_last_chunk() -> None:
    server = serve("openai_chat/stream_text.yaml")
    chunks = [c async for c in _provider(server, "gpt-4o-mini").stream([Message.user("Canada?")])]
    text = "".join(c.delta for c in chunks if c.type is ChunkType.TEXT)
    assert text == "Ottawa is the capital of Canada."
    final = chunks[-1].response
    assert final is not None and final.message.content == text
    assert final.finish_reason is FinishReason.STOP
    assert (final.usage.input_tokens, final.usage.output_tokens) == (25, 8)
    assert server.body()["stream"] is True
    assert server.body()["stream_options"] == {"include_usage": True}


async def test_streamed_parallel_tool_calls_assembled_by_index() -> None:
    server = serve("openai_chat/stream_tool_calls.yaml")
    chunks = [c async for c in _provider(server).stream([Message.user("Capitals?")], [])]
    deltas = [c for c in chunks if c.type is ChunkType.TOOL_CALL]
    assert [(d.index, d.tool_name) for d in deltas if d.tool_name] == [
        (0, "lookup_capital"),
        (1, "lookup_capital"),
    ]
    final = chunks[-1].response
    assert final is not None and final.finish_reason is FinishReason.TOOL_CALLS
    assert final.message.tool_calls == [
        ToolCall(
            id="call_spine_capital_ca", name="lookup_capital", arguments={"country": "Canada"}
        ),
        ToolCall(id="call_spine_capital_pe", name="lookup_capital", arguments={"country": "Japan"}),
    ]
    for index, call in enumerate(final.message.tool_calls):
        streamed = "".join(d.arguments_delta for d in deltas if d.index == index)
        assert json.loads(streamed) == call.arguments
    assert (final.usage.input_tokens, final.usage.output_tokens) == (60, 44)


async def test_multimodal_parts_and_settings_on_the_wire() -> None:
    server = serve("openai_chat/text.yaml")
    parts = [
        TextPart(text="What is this?"),
        ImagePart(url="https://example.com/cat.png"),
        ImagePart(data="aGk=", media_type="image/jpeg"),
    ]
    await _provider(server).complete(
        [Message.user_parts(parts)],
        [],
        temperature=0.1,
        top_p=0.5,
        max_tokens=64,
        stop="END",
        seed=7,
        thinking={"effort": "low"},
    )
    body = server.body()
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,aGk="}},
    ]
    assert (body["temperature"], body["top_p"], body["max_completion_tokens"]) == (0.1, 0.5, 64)
    assert (body["stop"], body["seed"], body["reasoning_effort"]) == (["END"], 7, "low")


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", "auto"),
        ("required", "required"),
        ("none", "none"),
        ({"name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}),
        (  # the API's own form is sent as given
            {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": []}},
            {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": []}},
        ),
    ],
)
async def test_tool_choice_mapping(choice: Any, wire: Any) -> None:
    server = serve("openai_chat/text.yaml")
    await _provider(server).complete([Message.user("hi")], [WEATHER], tool_choice=choice)
    assert server.body()["tool_choice"] == wire


async def test_agent_runs_a_tool_turn_end_to_end() -> None:
    server = serve("openai_chat/tool_calls.yaml", "openai_chat/weather_answer.yaml")
    seen: list[str] = []

    @tool
    def get_weather(city: str, unit: str = "celsius") -> str:
        """Current weather in a city."""
        seen.append(city)
        return {"Paris": "18 °C", "Tokyo": "24 °C"}[city]

    agent = Agent(provider=_provider(server), tools=[get_weather], system="Be brief.")
    result = await agent.run("Weather in Paris and Tokyo?")
    assert result.ok and result.answer == "It is 18 °C in Paris and 24 °C in Tokyo."
    assert seen == ["Paris", "Tokyo"]
    sent = server.body(1)["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief."}
    assert [m["content"] for m in sent if m["role"] == "tool"] == ["18 °C", "24 °C"]
    assert result.usage.requests == 2 and result.usage.input_tokens == 82 + 180
