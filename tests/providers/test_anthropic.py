"""AnthropicProvider driving the real anthropic SDK against the project's own fixtures
(`fixtures/anthropic/`, written from the Messages API documentation)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spine_core import Agent, ChunkType, FinishReason, Message, ToolCall, tool
from spine_core.messages import ImagePart, TextPart
from spine_providers import AnthropicProvider

from .fakes import Server, serve, sse

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


def _provider(server: Server, model: str = "claude-sonnet-4-6", **kw: Any) -> AnthropicProvider:
    return AnthropicProvider(model, api_key="test-key", http_client=server.client(), **kw)


async def test_plain_answer_counts_cache_reads_and_writes_as_input() -> None:
    server = serve("anthropic/text.yaml")
    response = await _provider(server).complete(
        [Message.system("Be brief."), Message.user("Tallest mountain?")], []
    )
    assert response.message.content == "Mount Everest is the tallest mountain, at 8,849 m."
    assert response.finish_reason is FinishReason.STOP
    usage = response.usage
    assert (usage.input_tokens, usage.cache_write_tokens, usage.cache_read_tokens) == (
        21 + 1800 + 3200,
        1800,
        3200,
    )
    # claude-sonnet-4-6: $3 input, $3.75 5-minute cache write, $0.30 cache read, $15 output
    assert usage.cost_usd == pytest.approx((21 * 3 + 1800 * 3.75 + 3200 * 0.30 + 9 * 15) / 1e6)
    body = server.body()
    assert body["system"] == "Be brief."
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Tallest mountain?"}]}
    ]
    assert body["max_tokens"] == 4096
    assert server.requests[0].url.path == "/v1/messages"
    assert server.requests[0].headers["authorization"] == "Bearer test-key"


async def test_parallel_tool_use_and_tool_results_round_trip() -> None:
    server = serve("anthropic/tool_use.yaml", "anthropic/weather_answer.yaml")
    provider = _provider(server, "claude-haiku-4-5")
    history = [Message.user("Weather in Paris and Tokyo?")]
    first = await provider.complete(history, [WEATHER], tool_choice="auto")
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert first.message.content == "I'll check the weather in both cities."
    assert [c.id for c in first.message.tool_calls] == ["toolu_spine_paris", "toolu_spine_tokyo"]
    assert server.body(0)["tools"] == [
        {
            "name": "get_weather",
            "description": WEATHER["description"],
            "input_schema": WEATHER["parameters"],
        }
    ]
    assert server.body(0)["tool_choice"] == {"type": "auto"}
    history += [first.message] + [
        Message.tool(t, c.id, c.name)
        for c, t in zip(first.message.tool_calls, ("18 °C", "24 °C"), strict=True)
    ]
    second = await provider.complete(history, [WEATHER])
    assert server.body(1)["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "I'll check the weather in both cities."},
                {
                    "type": "tool_use",
                    "id": "toolu_spine_paris",
                    "name": "get_weather",
                    "input": {"city": "Paris", "unit": "celsius"},
                },
                {
                    "type": "tool_use",
                    "id": "toolu_spine_tokyo",
                    "name": "get_weather",
                    "input": {"city": "Tokyo", "unit": "celsius"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_spine_paris",
                    "content": "18 °C",
                    "is_error": False,
                },
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_spine_tokyo",
                    "content": "24 °C",
                    "is_error": False,
                },
            ],
        },
    ]
    assert second.message.content == "It is 18 °C in Paris and 24 °C in Tokyo."


async def test_thinking_is_kept_and_replayed_unchanged_with_its_signature() -> None:
    server = serve("anthropic/thinking_tool_use.yaml", "anthropic/time_answer.yaml")
    provider = _provider(server, "claude-haiku-4-5")  # no adaptive thinking: a budget
    timezone = {"name": "get_user_timezone", "description": "The user's time zone."}
    settings = {"thinking": {"budget_tokens": 3000}}
    history = [Message.user("What time is it for me?")]
    first = await provider.complete(history, [timezone], **settings)
    (thought,) = first.message.thinking
    assert thought.text == "The user wants their local time. I need their time zone first."
    assert thought.signature == "EqspineSignature0004=="
    assert first.message.tool_calls == [
        ToolCall(id="toolu_spine_timezone", name="get_user_timezone")
    ]
    assert (first.usage.output_tokens, first.usage.reasoning_tokens) == (94, 61)
    assert server.body(0)["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    history += [first.message, Message.tool("Europe/Lisbon", "toolu_spine_timezone")]
    second = await provider.complete(history, [timezone], **settings)
    assert server.body(1)["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": thought.text,
        "signature": "EqspineSignature0004==",
    }
    assert second.message.content == "It is 14:05 in Lisbon."


async def test_streamed_thinking_signature_and_text() -> None:
    server = serve("anthropic/stream_thinking.yaml")
    chunks = [
        c
        async for c in _provider(server).stream(
            [Message.user("How do I boil an egg?")], [], thinking={"budget_tokens": 1024}
        )
    ]
    thinking = "".join(c.delta for c in chunks if c.type is ChunkType.THINKING)
    text = "".join(c.delta for c in chunks if c.type is ChunkType.TEXT)
    assert thinking == "A hard-boiled egg: nine minutes, then an ice bath."
    assert text == "Boil it nine minutes and cool it in cold water."
    final = chunks[-1].response
    assert final is not None and final.message.content == text
    assert final.message.thinking[0].text == thinking
    assert final.message.thinking[0].signature == "EqspineStreamSignature=="
    assert (final.usage.input_tokens, final.usage.output_tokens) == (38, 57)
    assert server.body()["stream"] is True


async def test_streamed_tool_use_input_assembled_from_json_deltas() -> None:
    server = serve("anthropic/stream_tool_use.yaml")
    chunks = [
        c
        async for c in _provider(server, "claude-haiku-4-5").stream(
            [Message.user("100 EUR in JPY?")]
        )
    ]
    deltas = [c for c in chunks if c.type is ChunkType.TOOL_CALL]
    assert (deltas[0].tool_name, deltas[0].tool_call_id) == (
        "convert_currency",
        "toolu_spine_rate",
    )
    final = chunks[-1].response
    assert final is not None and final.finish_reason is FinishReason.TOOL_CALLS
    (call,) = final.message.tool_calls
    assert call.arguments == {"from": "EUR", "to": "JPY"} and call.arguments_error is None
    assert json.loads("".join(d.arguments_delta for d in deltas)) == call.arguments
    assert final.message.content == "Let me check the rate."


async def test_a_tool_input_given_whole_in_content_block_start_is_kept() -> None:
    """A `tool_use` block whose input arrives whole in `content_block_start`, with no
    `input_json_delta` after it: the SDK's own accumulator starts from that input, and so
    does Spine."""
    events = [
        {
            "event": "message_start",
            "data": {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-haiku-4-5",
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 10, "output_tokens": 1},
                },
            },
        },
        {
            "event": "content_block_start",
            "data": {
                "type": "content_block_start",
                "index": 0,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                },
            },
        },
        {"event": "content_block_stop", "data": {"type": "content_block_stop", "index": 0}},
        {
            "event": "message_delta",
            "data": {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {"output_tokens": 12},
            },
        },
        {"event": "message_stop", "data": {"type": "message_stop"}},
    ]
    server = Server([sse(events)])
    chunks = [c async for c in _provider(server).stream([Message.user("Oslo?")], [WEATHER])]
    final = chunks[-1].response
    assert final is not None
    assert final.message.tool_calls[0].arguments == {"city": "Oslo"}


async def test_output_schema_by_tool_forcing_returns_the_json_answer() -> None:
    server = serve("anthropic/final_result.yaml")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    response = await _provider(server).complete(
        [Message.user("Largest city of Brazil?")], [], output_schema={"schema": schema}
    )
    body = server.body()
    assert body["tool_choice"] == {"type": "tool", "name": "final_result"}
    assert body["tools"][0]["name"] == "final_result"
    assert body["tools"][0]["input_schema"] == schema
    assert response.message.tool_calls == []
    assert json.loads(response.message.content or "") == {
        "city": "São Paulo",
        "country": "Brazil",
    }
    assert response.finish_reason is FinishReason.STOP


async def test_images_by_url_and_base64_and_sampling_settings_on_the_wire() -> None:
    server = serve("anthropic/text.yaml")
    parts = [
        TextPart(text="Compare"),
        ImagePart(url="https://example.com/a.png"),
        ImagePart(data="aGVsbG8=", media_type="image/jpeg"),
    ]
    await _provider(server).complete(
        [Message.user_parts(parts)],
        [],
        temperature=0.2,
        top_p=0.9,
        stop=["END"],
        max_tokens=100,
        seed=3,  # the API has no seed: dropped, not sent
    )
    body = server.body()
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/jpeg", "data": "aGVsbG8="},
        },
    ]
    assert (body["temperature"], body["top_p"], body["stop_sequences"], body["max_tokens"]) == (
        0.2,
        0.9,
        ["END"],
        100,
    )
    assert "seed" not in body


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"name": "get_weather"}, {"type": "tool", "name": "get_weather"}),
        (  # the API's own form is sent as given
            {"type": "any", "disable_parallel_tool_use": True},
            {"type": "any", "disable_parallel_tool_use": True},
        ),
    ],
)
async def test_tool_choice_mapping(choice: Any, wire: dict[str, Any]) -> None:
    server = serve("anthropic/text.yaml")
    await _provider(server).complete([Message.user("hi")], [WEATHER], tool_choice=choice)
    assert server.body()["tool_choice"] == wire


async def test_agent_runs_a_thinking_tool_turn_end_to_end() -> None:
    server = serve("anthropic/thinking_tool_use.yaml", "anthropic/time_answer.yaml")

    @tool
    def get_user_timezone() -> str:
        """The user's time zone."""
        return "Europe/Lisbon"

    agent = Agent(
        provider=_provider(server),
        tools=[get_user_timezone],
        settings={"thinking": {"budget_tokens": 3000}},
    )
    result = await agent.run("What time is it for me?")
    assert result.ok and result.answer == "It is 14:05 in Lisbon."
    assert result.usage.requests == 2 and result.usage.input_tokens == 352 + 517
    sent = server.body(1)["messages"]
    assert sent[1]["content"][0]["type"] == "thinking"
    assert sent[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_spine_timezone",
        "content": "Europe/Lisbon",
        "is_error": False,
    }
