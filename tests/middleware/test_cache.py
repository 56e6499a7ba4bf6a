from __future__ import annotations

import pytest

from spine_core import Agent, InMemoryKeyValueStore, ScriptedProvider, tool
from spine_middleware import Cache

from .helpers import FakeClock

pytestmark = pytest.mark.anyio


async def test_repeated_call_is_served_free_and_marked() -> None:
    cache = Cache()
    provider = ScriptedProvider(["first"], model="m")
    agent = Agent(provider, middleware=[cache])
    await agent.run("hi")
    again = await agent.run("hi")
    assert again.answer == "first"
    assert len(provider.calls) == 1
    assert again.usage.total_tokens == 0 and again.usage.cost_usd == 0
    events = [e for e in again.trace if e.type == "model_response"]
    assert events[0].data["cached"] is True


async def test_cache_never_serves_one_models_answer_to_another() -> None:
    cache = Cache()
    one = ScriptedProvider(["from one"], model="one")
    two = ScriptedProvider(["from two"], model="two")
    assert (await Agent(one, middleware=[cache]).run("same")).answer == "from one"
    assert (await Agent(two, middleware=[cache]).run("same")).answer == "from two"
    other_scheme = ScriptedProvider(["other scheme"], name="elsewhere", model="one")
    assert (await Agent(other_scheme, middleware=[cache]).run("same")).answer == "other scheme"


async def test_tool_schemas_and_settings_are_part_of_the_key() -> None:
    @tool
    def a(x: int) -> int:
        """A."""
        return x

    @tool(name="a")
    def a_str(x: str) -> str:
        """A."""
        return x

    cache = Cache()
    provider = ScriptedProvider(["1", "2", "3"], model="m")
    await Agent(provider, tools=[a], middleware=[cache]).run("q")
    await Agent(provider, tools=[a_str], middleware=[cache]).run("q")
    await Agent(provider, tools=[a], middleware=[cache], settings={"temperature": 0}).run("q")
    assert len(provider.calls) == 3


async def test_entries_expire_and_lru_evicts(clock: FakeClock) -> None:
    cache = Cache(max_entries=1, ttl_s=10, clock=clock)
    provider = ScriptedProvider(["a1", "b1", "a2", "a3"], model="m")
    agent = Agent(provider, middleware=[cache])
    await agent.run("a")
    await agent.run("b")  # evicts "a"
    assert (await agent.run("a")).answer == "a2"
    clock.advance(10)
    assert (await agent.run("a")).answer == "a3"
    assert len(provider.calls) == 4


async def test_shared_store_serves_other_workers() -> None:
    store = InMemoryKeyValueStore()
    first = ScriptedProvider(["stored"], model="m")
    second = ScriptedProvider([], model="m")
    await Agent(first, middleware=[Cache(store=store)]).run("q")
    result = await Agent(second, middleware=[Cache(store=store)]).run("q")
    assert result.answer == "stored"
    assert second.calls == []
