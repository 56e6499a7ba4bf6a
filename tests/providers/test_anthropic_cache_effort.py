"""Anthropic prompt caching (`cache`) and effort levels (`thinking` effort, `effort`), through
the real SDK over HTTP on the project's own fixtures."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest

from spine_core import Agent, Message, tool
from spine_providers import AnthropicProvider, GeminiProvider, OpenAIProvider
from spine_providers.anthropic import supports_adaptive_thinking

from .fakes import Server, serve

pytestmark = pytest.mark.anyio

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
EPHEMERAL = {"type": "ephemeral"}


def _provider(server: Server, model: str = "claude-sonnet-4-6", **kw: Any) -> AnthropicProvider:
    return AnthropicProvider(model, api_key="k", http_client=server.client(), **kw)


def _marks(body: dict[str, Any]) -> list[tuple[int, str]]:
    """(turn, block type) of every message block carrying a cache_control."""
    return [
        (turn, block["type"])
        for turn, message in enumerate(body["messages"])
        for block in message["content"]
        if "cache_control" in block
    ]


async def test_cache_auto_marks_tools_system_and_the_moving_last_message() -> None:
    server = serve("anthropic/cached_tool_use.yaml", "anthropic/cached_answer.yaml")

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return f"sunny in {city}, 21 C"

    agent = Agent(
        provider=_provider(server),
        tools=[get_weather],
        system="You are a weather assistant." * 50,
        settings={"cache": "auto"},
    )
    result = await agent.run("Weather in Paris?")

    assert result.ok and result.answer == "It is sunny in Paris, 21 C."
    first, second = server.body(0), server.body(1)
    for body in (first, second):
        assert body["tools"][-1]["cache_control"] == EPHEMERAL
        assert body["system"] == [
            {
                "type": "text",
                "text": "You are a weather assistant." * 50,
                "cache_control": EPHEMERAL,
            }
        ]
        assert "cache" not in body and "cache_control" not in body  # mapped, not passed on
    assert _marks(first) == [(0, "text")]  # the user's question
    assert _marks(second) == [(2, "tool_result")]  # the breakpoint moved to the newest turn
    # the first call wrote the prefix, the second read it: both counted, and as input
    assert (result.usage.cache_write_tokens, result.usage.cache_read_tokens) == (2048 + 96, 2048)
    assert result.usage.input_tokens == 12 + 2048 + 9 + 96 + 2048
    assert result.usage.cost_usd == pytest.approx(
        (21 * 3.0 + 2144 * 3.75 + 2048 * 0.30 + 53 * 15.0) / 1e6
    )


async def test_explicit_message_markers_with_a_one_hour_ttl() -> None:
    server = serve("anthropic/text.yaml", "anthropic/text.yaml")
    provider = _provider(server)
    document = Message.user("<a long contract> ... </a long contract>")
    history = [
        Message.system("You review contracts."),
        document,
        Message.assistant("Read it. What do you want to know?"),
        Message.user("Who may terminate it?"),
    ]
    await provider.complete(history, [WEATHER], cache={"messages": [1], "ttl": "1h"})
    await provider.complete(history, [], cache={"messages": [0, -1]})

    one_hour = {"type": "ephemeral", "ttl": "1h"}
    first, second = server.body(0), server.body(1)
    assert first["messages"][0]["content"] == [
        {"type": "text", "text": document.text, "cache_control": one_hour}
    ]
    assert _marks(first) == [(0, "text")]
    assert first["system"] == "You review contracts."  # not asked for: a plain string
    assert "cache_control" not in first["tools"][-1]
    # index 0 is the system message: it marks the system prompt
    assert second["system"][0]["cache_control"] == EPHEMERAL
    assert _marks(second) == [(2, "text")]


async def test_a_marker_skips_thinking_blocks_and_lands_on_the_last_cacheable_one() -> None:
    server = serve("anthropic/text.yaml")
    reply = Message.model_validate(
        {
            "role": "assistant",
            "content": "17 x 23 = 391.",
            "thinking": [{"text": "17 x 23", "signature": "sig", "provider": "anthropic"}],
        }
    )
    await _provider(server, "claude-haiku-4-5").complete(
        [Message.user("17 x 23?"), reply, Message.user("And 18 x 23?")], [], cache={"messages": [1]}
    )
    blocks = server.body()["messages"][1]["content"]
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert "cache_control" not in blocks[0] and blocks[1]["cache_control"] == EPHEMERAL


@pytest.mark.parametrize(
    ("cache", "message"),
    [
        (
            {"tools": True, "system": True, "messages": [1, 2, 3]},
            r"asks for 5 cache breakpoints; the Messages API takes at most 4",
        ),
        ({"message": [1]}, r"unknown cache key\(s\) message"),
        ("always", r"cache must be 'auto' or a mapping"),
    ],
)
async def test_a_bad_cache_setting_is_refused_before_any_request(cache: Any, message: str) -> None:
    server = Server([])
    history = [Message.system("s"), Message.user("a"), Message.assistant("b"), Message.user("c")]
    with pytest.raises(ValueError, match=message):
        await _provider(server).complete(history, [WEATHER], cache=cache)
    assert server.requests == []


def test_adaptive_thinking_models() -> None:
    adaptive = ["claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7", "claude-opus-5-5"]
    adaptive += ["claude-haiku-5-5", "claude-mythos-5", "anthropic.claude-opus-4-6-v1"]
    older = ["claude-sonnet-4-5", "claude-haiku-4-5-20251001", "claude-opus-4-1"]
    older += ["claude-sonnet-4-20250514", "claude-3-7-sonnet-latest"]
    assert all(supports_adaptive_thinking(m) for m in adaptive)
    assert not any(supports_adaptive_thinking(m) for m in older)


async def test_effort_on_an_adaptive_model_is_adaptive_thinking_without_sdk_warnings() -> None:
    server = serve("anthropic/adaptive_thinking.yaml")
    provider = _provider(server, "claude-opus-4-6")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the SDK warns on `enabled` thinking for this model
        response = await provider.complete(
            [Message.user("17 x 23?")],
            [],
            thinking={"effort": "max"},
            output_config={"format": {"type": "json_schema", "schema": {"type": "object"}}},
        )
    body = server.body()
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {
        "format": {"type": "json_schema", "schema": {"type": "object"}},
        "effort": "max",
    }
    (thought,) = response.message.thinking
    assert thought.signature == "EqspineAdaptive0001=="
    assert (response.usage.output_tokens, response.usage.reasoning_tokens) == (58, 40)


@pytest.mark.parametrize(
    ("model", "settings", "thinking", "effort"),
    [
        ("claude-sonnet-4-6", {"thinking": {"budget_tokens": 3000}}, {"type": "adaptive"}, "low"),
        (
            "claude-sonnet-4-6",
            {"thinking": {"budget_tokens": 9000}},
            {"type": "adaptive"},
            "medium",
        ),
        ("claude-opus-4-7", {"thinking": {"effort": "minimal"}}, {"type": "adaptive"}, "low"),
        (
            "claude-haiku-4-5",
            {"thinking": {"effort": "high"}},
            {"type": "enabled", "budget_tokens": 16384},
            None,
        ),
        ("claude-haiku-4-5", {"thinking": {"effort": "none"}}, {"type": "disabled"}, None),
        ("claude-opus-4-6", {"effort": "low"}, None, "low"),  # effort alone: no thinking
        (
            "claude-opus-4-6",
            {"thinking": {"type": "enabled", "budget_tokens": 2048}},  # the API's own form
            {"type": "enabled", "budget_tokens": 2048},
            None,
        ),
    ],
)
async def test_thinking_and_effort_on_the_wire(
    model: str, settings: dict[str, Any], thinking: Any, effort: str | None
) -> None:
    server = serve("anthropic/text.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the API's own `enabled` form on 4.6
        await _provider(server, model).complete([Message.user("hi")], [], **settings)
    body = server.body()
    assert body.get("thinking") == thinking
    assert body.get("output_config", {}).get("effort") == effort
    assert "effort" not in body


async def test_an_unknown_effort_level_is_refused() -> None:
    server = Server([])
    with pytest.raises(ValueError, match="effort must be one of minimal, low, medium, high"):
        await _provider(server).complete([Message.user("hi")], [], effort="extreme")
    assert server.requests == []


@pytest.mark.parametrize(
    ("factory", "answer"),
    [
        (lambda s: OpenAIProvider("gpt-4o", api_key="k", http_client=s.client()), "openai_chat"),
        (
            lambda s: GeminiProvider("gemini-2.5-flash", api_key="k", http_client=s.client()),
            "gemini",
        ),
    ],
    ids=["openai", "google"],
)
async def test_apis_that_cache_by_themselves_drop_the_cache_setting(
    factory: Any, answer: str
) -> None:
    """One agent's `cache="auto"` works across providers (e.g. behind ModelFallback)."""
    server = serve(f"{answer}/text.yaml")
    await factory(server).complete([Message.user("hi")], [], cache="auto")
    assert "cache" not in json.dumps(server.body())


@pytest.mark.parametrize(("max_tokens", "sent"), [(None, 4096 + 16384), (20000, 20000)])
async def test_a_budget_not_below_max_tokens_keeps_room_for_the_answer(
    max_tokens: int | None, sent: int
) -> None:
    """The Messages API counts thinking in max_tokens and wants max_tokens > budget_tokens."""
    server = serve("anthropic/text.yaml")
    await _provider(server, "claude-haiku-4-5").complete(
        [Message.user("hi")], [], thinking={"effort": "high"}, max_tokens=max_tokens
    )
    body = server.body()
    assert (body["thinking"]["budget_tokens"], body["max_tokens"]) == (16384, sent)


async def test_a_call_too_long_for_a_plain_request_is_streamed_instead() -> None:
    """The SDK refuses a non-streamed call it expects to outlast 10 minutes (a large
    max_tokens); `complete` then streams it and returns the assembled response."""
    server = serve("anthropic/stream_thinking.yaml")
    response = await _provider(server, "claude-haiku-4-5").complete(
        [Message.user("How do I boil an egg?")], [], max_tokens=48000
    )
    assert len(server.requests) == 1 and server.body()["stream"] is True
    assert server.body()["max_tokens"] == 48000
    assert response.message.content == "Boil it nine minutes and cool it in cold water."
    assert response.message.thinking[0].signature == "EqspineStreamSignature=="
    assert (response.usage.input_tokens, response.usage.output_tokens) == (38, 57)
