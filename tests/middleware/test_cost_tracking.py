from __future__ import annotations

import pytest

from spine_core import (
    Agent,
    Guards,
    Message,
    ModelResponse,
    ScriptedProvider,
    StopReason,
    ToolCall,
    Usage,
    tool,
)
from spine_middleware import CostTracking, Price

pytestmark = pytest.mark.anyio


def reply(text: str, usage: Usage, model: str | None = None) -> ModelResponse:
    return ModelResponse(message=Message.assistant(text), usage=usage, model=model)


def test_price_counts_cache_tokens_at_their_own_rates() -> None:
    price = Price(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75)
    usage = Usage(
        input_tokens=1_000_000,
        cache_read_tokens=400_000,
        cache_write_tokens=100_000,
        output_tokens=200_000,
    )
    # 500k fresh * 3 + 400k * 0.3 + 100k * 3.75 + 200k * 15, per million
    assert price.cost_usd(usage) == pytest.approx(1.5 + 0.12 + 0.375 + 3.0)


async def test_flat_per_million_token_price() -> None:
    usage = Usage(input_tokens=2_000, output_tokens=500, cache_read_tokens=1_000)
    provider = ScriptedProvider([reply("hi", usage)], model="house-model")
    result = await Agent(provider, middleware=[CostTracking(1.0, 4.0)]).run("x")
    # the reference's formula: all input tokens at the input rate
    assert result.usage.cost_usd == pytest.approx((2_000 * 1.0 + 500 * 4.0) / 1e6)


async def test_by_default_a_reported_cost_is_kept() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0, cost_usd=99.0)
    provider = ScriptedProvider([reply("a", usage), reply("b", usage)], model="house-model")
    kept = await Agent(provider, middleware=[CostTracking(2.0, 4.0)]).run("x")
    assert kept.usage.cost_usd == pytest.approx(99.0)
    redone = await Agent(provider, middleware=[CostTracking(2.0, 4.0, overwrite=True)]).run("x")
    assert redone.usage.cost_usd == pytest.approx(2.0)
    assert usage.cost_usd == 99.0  # the provider's response was copied, not edited


async def test_built_in_price_table_by_model_snapshot() -> None:
    usage = Usage(input_tokens=2_000, output_tokens=1_000, requests=1)
    provider = ScriptedProvider([reply("hi", usage, model="claude-sonnet-4-5-20250929")])
    result = await Agent(provider, middleware=[CostTracking()]).run("x")
    assert result.usage.cost_usd == pytest.approx((2_000 * 3.0 + 1_000 * 15.0) / 1e6)


async def test_price_table_override_beats_the_flat_price() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    special = ScriptedProvider([reply("a", usage)], model="special")
    other = ScriptedProvider([reply("b", usage)], model="other")
    pricing = CostTracking(1.0, 1.0, prices={"special": {"input": 5.0, "output": 5.0}})
    assert (await Agent(special, middleware=[pricing]).run("x")).usage.cost_usd == 5.0
    assert (await Agent(other, middleware=[pricing]).run("x")).usage.cost_usd == 1.0


async def test_flat_price_beats_the_built_in_table() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    provider = ScriptedProvider([reply("a", usage, model="gpt-4o")])
    result = await Agent(provider, middleware=[CostTracking(0.5, 0.5)]).run("x")
    assert result.usage.cost_usd == pytest.approx(0.5)


async def test_max_cost_guard_sees_the_cost() -> None:
    @tool
    def noop() -> str:
        """Nothing."""
        return "ok"

    usage = Usage(input_tokens=1_000_000, output_tokens=0)
    call = ModelResponse(
        message=Message.assistant(tool_calls=[ToolCall(id="1", name="noop")]), usage=usage
    )
    provider = ScriptedProvider([call, reply("never", usage)], model="gpt-4o")
    agent = Agent(
        provider, tools=[noop], middleware=[CostTracking()], guards=Guards(max_cost_usd=1.0)
    )
    result = await agent.run("x")
    assert result.stopped_reason is StopReason.MAX_COST
    assert len(provider.calls) == 1


async def test_unknown_model_strict_fails_loudly() -> None:
    provider = ScriptedProvider(["x"], model="mystery")
    result = await Agent(provider, middleware=[CostTracking(strict=True)]).run("x")
    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None and "mystery" in result.error


def test_both_rates_or_neither() -> None:
    with pytest.raises(ValueError):
        CostTracking(1.0)
    with pytest.raises(ValueError):
        CostTracking(-1.0, 1.0)
