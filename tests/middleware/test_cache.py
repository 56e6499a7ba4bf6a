from __future__ import annotations

from typing import Any

import pytest

from spine_core import (
    Agent,
    InMemoryKeyValueStore,
    Message,
    Middleware,
    ModelResponse,
    ProviderError,
    ScriptedProvider,
    StepContext,
    Usage,
    tool,
)
from spine_middleware import Cache, ModelFallback

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
    assert (cache.hits, cache.misses) == (1, 1)


async def test_hits_can_keep_their_usage() -> None:
    usage = Usage(input_tokens=10, output_tokens=5, cost_usd=0.25, requests=1)
    provider = ScriptedProvider([ModelResponse(message=Message.assistant("a"), usage=usage)])
    agent = Agent(provider, middleware=[Cache(zero_cost_on_hit=False)])
    await agent.run("q")
    again = await agent.run("q")
    assert again.usage.total_tokens == 15 and again.usage.cost_usd == 0.25
    assert len(provider.calls) == 1


async def test_a_hit_is_a_copy_that_edits_cannot_corrupt() -> None:
    class Exclaim(Middleware):  # edits the response in place, outside the cache
        async def after_model(self, ctx: StepContext[Any]) -> None:
            assert ctx.response is not None
            ctx.response.message.content = f"{ctx.response.message.content}!"

    provider = ScriptedProvider(["hello"], model="m")
    agent = Agent(provider, middleware=[Exclaim(), Cache()])
    assert (await agent.run("q")).answer == "hello!"
    assert (await agent.run("q")).answer == "hello!"
    assert (await agent.run("q")).answer == "hello!"
    assert len(provider.calls) == 1


async def test_cache_never_serves_one_models_answer_to_another() -> None:
    cache = Cache()
    one = ScriptedProvider(["from one"], model="one")
    two = ScriptedProvider(["from two"], model="two")
    assert (await Agent(one, middleware=[cache]).run("same")).answer == "from one"
    assert (await Agent(two, middleware=[cache]).run("same")).answer == "from two"
    other_scheme = ScriptedProvider(["other scheme"], name="elsewhere", model="one")
    assert (await Agent(other_scheme, middleware=[cache]).run("same")).answer == "other scheme"


async def test_a_fallback_answer_is_stored_under_the_fallback() -> None:
    cache = Cache()
    primary = ScriptedProvider([ProviderError("down", kind="server"), "primary"], model="a")
    backup = ScriptedProvider(["backup"], model="b")
    agent = Agent(primary, middleware=[ModelFallback(backup), cache])
    assert (await agent.run("q")).answer == "backup"
    assert (await agent.run("q")).answer == "primary"  # not the backup's cached answer
    assert (await Agent(backup, middleware=[cache]).run("q")).answer == "backup"
    assert len(backup.calls) == 1


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
    cache = Cache(max_size=2, ttl_s=10, clock=clock)
    provider = ScriptedProvider(["a1", "b1", "c1", "b2", "a2", "a3"], model="m")
    agent = Agent(provider, middleware=[cache])
    await agent.run("a")
    await agent.run("b")
    assert (await agent.run("a")).answer == "a1"  # a hit: "a" is now the most recent
    await agent.run("c")  # evicts the least recently used, "b"
    assert (await agent.run("a")).answer == "a1"
    assert (await agent.run("b")).answer == "b2"
    clock.advance(10)
    assert (await agent.run("a")).answer == "a2"
    assert len(provider.calls) == 5


async def test_a_dict_store_is_shared_between_caches() -> None:
    shared: dict[str, Any] = {}
    first = ScriptedProvider(["stored"], model="m")
    second = ScriptedProvider([], model="m")
    await Agent(first, middleware=[Cache(store=shared)]).run("q")
    assert len(shared) == 1
    result = await Agent(second, middleware=[Cache(store=shared)]).run("q")
    assert result.answer == "stored" and second.calls == []


async def test_shared_key_value_store_serves_other_workers() -> None:
    store = InMemoryKeyValueStore()
    first = ScriptedProvider(["stored"], model="m")
    second = ScriptedProvider([], model="m")
    await Agent(first, middleware=[Cache(store=store)]).run("q")
    result = await Agent(second, middleware=[Cache(store=store)]).run("q")
    assert result.answer == "stored"
    assert second.calls == []


def test_documented_defaults_and_alias() -> None:
    cache = Cache()
    assert (cache.ttl_s, cache.max_size, cache.zero_cost_on_hit) == (None, 1024, True)
    assert Cache(max_entries=7).max_size == 7
    with pytest.raises(ValueError):
        Cache(max_size=0)
