"""Reasoning sent back to OpenAI-compatible servers that need it (DeepSeek's
`reasoning_content`), and the `effort` setting on the OpenAI-style and Gemini adapters."""

from __future__ import annotations

from typing import Any

import pytest

from spine_core import Agent, Message, ToolCall, tool
from spine_core.messages import Thinking
from spine_providers import (
    DeepSeekProvider,
    GeminiProvider,
    OpenAIProvider,
    OpenAIResponsesProvider,
    Price,
)

from .fakes import serve

pytestmark = pytest.mark.anyio

PRICE = {"deepseek-v4-flash": Price(0.28, 0.42)}  # a test price: no unpriced-model warning


def _tool_turn(reasoning: str, provider: str) -> list[Message]:
    call = ToolCall(id="call_1", name="get_date")
    assistant = Message.assistant(tool_calls=[call])
    assistant.thinking = [Thinking(text=reasoning, provider=provider)]
    return [Message.user("Date?"), assistant, Message.tool("2026-12-01", "call_1", "get_date")]


async def test_deepseek_gets_the_reasoning_of_its_tool_calling_turns_back() -> None:
    server = serve("openai_compat/deepseek_tool_call.yaml", "openai_compat/deepseek_answer.yaml")

    @tool
    def get_date() -> str:
        """Today's date."""
        return "2026-12-01"

    provider = DeepSeekProvider(api_key="k", http_client=server.client(), prices=PRICE)
    result = await Agent(provider=provider, tools=[get_date]).run("Weather tomorrow?")

    assert result.ok and result.answer == "Tomorrow is 2026-12-02."
    assert str(server.requests[0].url) == "https://api.deepseek.com/chat/completions"
    assistant = server.body(1)["messages"][1]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == (
        "call_spine_ds_date"
    )
    assert assistant["reasoning_content"] == (
        "The user wants tomorrow's weather in Hangzhou. I need the date first."
    )
    assert result.usage.output_tokens == 64 + 30  # reasoning is inside completion_tokens


async def test_reasoning_of_a_turn_without_tool_calls_is_not_sent() -> None:
    server = serve("openai_compat/deepseek_answer.yaml")
    answer = Message.assistant("9.11 < 9.8")
    answer.thinking = [Thinking(text="compare tenths", provider="deepseek")]
    await DeepSeekProvider(api_key="k", http_client=server.client(), prices=PRICE).complete(
        [Message.user("9.11 or 9.8?"), answer, Message.user("And 9.2?")]
    )
    assert "reasoning_content" not in server.body()["messages"][1]


@pytest.mark.parametrize(
    ("provider", "kwargs", "sent"),
    [
        ("openai", {}, None),  # OpenAI's own API has no such field: off by default
        ("openai", {"replay_reasoning": True}, "thinking of openai"),
        ("deepseek", {}, "thinking of deepseek"),
        ("deepseek", {"replay_reasoning": False}, None),
    ],
)
async def test_replay_is_per_class_and_per_instance(
    provider: str, kwargs: dict[str, Any], sent: str | None
) -> None:
    server = serve("openai_compat/deepseek_answer.yaml")
    cls = DeepSeekProvider if provider == "deepseek" else OpenAIProvider
    model = cls(
        "deepseek-v4-flash", api_key="k", http_client=server.client(), prices=PRICE, **kwargs
    )
    history = _tool_turn(f"thinking of {provider}", provider)
    history[1].thinking.append(Thinking(text=" and of another model", provider="anthropic"))
    await model.complete(history)
    assert server.body()["messages"][1].get("reasoning_content") == sent


@pytest.mark.parametrize(
    ("factory", "settings", "field", "value"),
    [
        (OpenAIProvider, {"effort": "xhigh"}, "reasoning_effort", "xhigh"),
        (OpenAIProvider, {"thinking": {"budget_tokens": 9000}}, "reasoning_effort", "high"),
        (OpenAIResponsesProvider, {"effort": "minimal"}, "reasoning", {"effort": "minimal"}),
        (
            OpenAIResponsesProvider,
            {"thinking": {"effort": "low"}, "effort": "max"},
            "reasoning",
            {"effort": "max", "summary": "auto"},
        ),
    ],
)
async def test_openai_effort_on_the_wire(
    factory: Any, settings: dict[str, Any], field: str, value: Any
) -> None:
    responses = factory is OpenAIResponsesProvider
    server = serve("openai_responses/reasoning.yaml" if responses else "openai_chat/text.yaml")
    await factory("gpt-5.4", api_key="k", http_client=server.client()).complete(
        [Message.user("hi")], **settings
    )
    body = server.body()
    assert body[field] == value and "effort" not in body


async def test_gemini_effort_is_its_thinking_level() -> None:
    server = serve("gemini/text.yaml", "gemini/text.yaml")
    provider = GeminiProvider("gemini-3-pro-preview", api_key="k", http_client=server.client())
    await provider.complete([Message.user("hi")], effort="max")
    await provider.complete([Message.user("hi")], thinking={"effort": "low"})
    first, second = (server.body(i)["generationConfig"] for i in (0, 1))
    # google-genai sends a config dict's inner keys as given (the API reads both spellings)
    assert first["thinkingConfig"] == {"thinking_level": "XHIGH"} and "effort" not in first
    assert second["thinkingConfig"] == {"include_thoughts": True, "thinking_level": "LOW"}
