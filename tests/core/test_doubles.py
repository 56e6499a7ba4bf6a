"""The offline providers that ship with core: TestProvider, FunctionProvider, ScriptedProvider."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from spine_core import (
    Agent,
    ChunkType,
    FunctionProvider,
    Message,
    ProviderError,
    ScriptedProvider,
    SpineError,
    TestProvider,
    tool,
)
from spine_core.doubles import sample_json

from .helpers import asks, call, tool_messages

called: list[tuple[str, dict[str, Any]]] = []


@tool
async def convert(amount: float, currency: str = "EUR") -> str:
    """Convert money."""
    called.append(("convert", {"amount": amount, "currency": currency}))
    return f"{amount} {currency}"


@tool
async def clock() -> str:
    """The time."""
    called.append(("clock", {}))
    return "12:00"


@pytest.mark.anyio
async def test_test_provider_calls_each_tool_once_then_summarises() -> None:
    called.clear()

    result = await Agent(TestProvider(), tools=[convert, clock]).run("go")

    assert called == [("convert", {"amount": 1.0, "currency": "EUR"}), ("clock", {})]
    assert result.answer == "Tool results:\n- convert: 1.0 EUR\n- clock: 12:00"
    assert result.state.step == 2


@pytest.mark.anyio
async def test_test_provider_without_tools_echoes_the_input() -> None:
    result = await Agent(TestProvider()).run("ping")

    assert result.answer == "You said: ping"
    assert result.usage.input_tokens >= 1 and result.usage.cost_usd == 0


@pytest.mark.anyio
async def test_test_provider_calls_tools_again_on_the_next_turn() -> None:
    called.clear()
    agent = Agent(TestProvider(), tools=[clock])
    first = await agent.run("one")

    await agent.run("two", session_id=first.session_id)

    assert called == [("clock", {}), ("clock", {})]


@pytest.mark.anyio
async def test_function_provider_accepts_sync_and_async_functions() -> None:
    async def async_reply(messages: Any, tools: Any, settings: Any) -> str:
        return f"async saw {len(messages)}"

    sync_result = await Agent(FunctionProvider(lambda m, t, s: "sync")).run("x")
    async_result = await Agent(FunctionProvider(async_reply)).run("x")

    assert (sync_result.answer, async_result.answer) == ("sync", "async saw 1")


@pytest.mark.anyio
async def test_scripted_provider_records_prompts_tools_and_settings() -> None:
    provider = ScriptedProvider([asks(call("clock")), "noon"])

    await Agent(provider, tools=[clock], settings={"temperature": 0}).run("time?")

    assert [m.text for m in provider.prompts[0]] == ["time?"]
    assert provider.calls[1].tools == ["clock"]
    assert provider.calls[1].settings == {"temperature": 0}
    assert tool_messages(provider.prompts[1]) == [("clock", "12:00", False)]


@pytest.mark.anyio
async def test_scripted_provider_raises_exception_items() -> None:
    provider = ScriptedProvider([ProviderError("slow", kind="rate_limit")])

    with pytest.raises(ProviderError):
        await provider.complete([Message.user("x")], [])


@pytest.mark.anyio
async def test_scripted_provider_past_its_script_raises_a_clear_error() -> None:
    provider = ScriptedProvider(["only one"])
    await provider.complete([], [])

    with pytest.raises(SpineError, match="no response #2"):
        await provider.complete([], [])


@pytest.mark.anyio
async def test_doubles_stream_word_deltas_then_the_response() -> None:
    chunks = [c async for c in ScriptedProvider(["a b c"]).stream([Message.user("x")], [])]

    assert [c.delta for c in chunks[:-1]] == ["a", " b", " c"]
    assert chunks[-1].type is ChunkType.RESPONSE
    assert chunks[-1].response is not None and chunks[-1].response.message.text == "a b c"


@pytest.mark.anyio
async def test_doubles_stream_tool_call_deltas() -> None:
    provider = ScriptedProvider([asks(call("convert", amount=2))])

    chunks = [c async for c in provider.stream([Message.user("x")], [])]

    assert [(c.type, c.tool_name, c.arguments_delta) for c in chunks[:-1]] == [
        (ChunkType.TOOL_CALL, "convert", '{"amount": 2}')
    ]


class Address(BaseModel):
    street: str
    number: int


class Person(BaseModel):
    name: str
    home: Address
    tags: list[str] = []
    nickname: str | None


def test_sample_json_builds_a_valid_value_for_nested_schemas() -> None:
    value = sample_json(Person.model_json_schema())

    assert Person.model_validate(value).home.number == 1
