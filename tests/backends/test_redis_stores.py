"""RedisCheckpoint and RedisKeyValueStore against the real Redis server."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from spine_backends import RedisCheckpoint, RedisKeyValueStore
from spine_core import CheckpointConflict, Message, State
from spine_core.testing import CheckpointStoreContract, KeyValueStoreContract

from .rows import write_raw

pytestmark = pytest.mark.services


class TestRedisCheckpoint(CheckpointStoreContract):
    @pytest.fixture
    async def store(self, redis_url: str, redis_prefix: str) -> AsyncIterator[RedisCheckpoint]:
        async with RedisCheckpoint(redis_url, prefix=redis_prefix) as store:
            yield store

    async def write_raw_state(self, store: RedisCheckpoint, data: dict[str, Any]) -> None:
        header = {k: v for k, v in data.items() if k not in ("history", "rev")}
        await write_raw(store, header, data["history"], data["rev"])


class TestRedisKeyValueStore(KeyValueStoreContract):
    @pytest.fixture
    async def store(self, redis_url: str, redis_prefix: str) -> AsyncIterator[RedisKeyValueStore]:
        async with RedisKeyValueStore(redis_url, prefix=redis_prefix) as store:
            yield store


@pytest.mark.anyio
async def test_kv_ttl_is_set_in_milliseconds(redis_url: str, redis_prefix: str) -> None:
    async with RedisKeyValueStore(redis_url, prefix=redis_prefix) as store:
        await store.set("a", "v", ttl_s=1.5)
        await store.set("forever", "v")
        assert 1400 < await store.client.pttl(f"{redis_prefix}:a") <= 1500
        assert await store.client.pttl(f"{redis_prefix}:forever") == -1


@pytest.mark.anyio
async def test_kv_incr_ttl_is_not_extended_by_later_increments(
    redis_url: str, redis_prefix: str
) -> None:
    async with RedisKeyValueStore(redis_url, prefix=redis_prefix) as store:
        await store.incr("n", ttl_s=30)
        await store.client.pexpire(f"{redis_prefix}:n", 5000)  # as if 25 s had passed
        await store.incr("n", ttl_s=30)
        assert 0 < await store.client.pttl(f"{redis_prefix}:n") <= 5000
        assert await store.get("n") == "2"


@pytest.mark.anyio
async def test_kv_rejects_non_positive_ttl(redis_url: str, redis_prefix: str) -> None:
    async with RedisKeyValueStore(redis_url, prefix=redis_prefix) as store:
        with pytest.raises(ValueError, match="ttl_s"):
            await store.set("a", "v", ttl_s=0)


@pytest.mark.anyio
async def test_two_stores_share_state_through_the_server(redis_url: str, redis_prefix: str) -> None:
    async with (
        RedisKeyValueStore(redis_url, prefix=redis_prefix) as a,
        RedisKeyValueStore(redis_url, prefix=redis_prefix) as b,
    ):
        await a.incr("budget", 0.25)
        assert await b.incr("budget", 0.5) == 0.75


@pytest.mark.parametrize("prefix", ["", "has space", "a{b}", "x" * 200, "*"])
def test_invalid_key_prefix_is_rejected(prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid key prefix"):
        RedisCheckpoint(prefix=prefix)
    with pytest.raises(ValueError, match="invalid key prefix"):
        RedisKeyValueStore(prefix=prefix)


@pytest.mark.anyio
async def test_worker_with_stale_count_cache_still_appends_correctly(
    redis_url: str, redis_prefix: str
) -> None:
    async with (
        RedisCheckpoint(redis_url, prefix=redis_prefix) as a,
        RedisCheckpoint(redis_url, prefix=redis_prefix) as b,
    ):
        state = State(session_id="s", messages=[Message.user("1")])
        await a.put(state)
        resumed = await b.get("s")
        assert resumed is not None
        resumed.messages += [Message.user("2"), Message.user("3")]
        await b.put(resumed)
        with pytest.raises(CheckpointConflict):
            await a.put(state)  # a's cache says 1 message at revision 1: stale
        latest = await a.get("s")
        assert latest is not None
        latest.messages.append(Message.user("4"))
        await a.put(latest)
        final = await b.get("s")
    assert final is not None
    assert [m.content for m in final.messages] == ["1", "2", "3", "4"]


@pytest.mark.anyio
async def test_put_sends_only_new_messages(redis_url: str, redis_prefix: str) -> None:
    async with RedisCheckpoint(redis_url, prefix=redis_prefix) as store:
        state = State(session_id="s", messages=[Message.user(str(i)) for i in range(20)])
        await store.put(state)
        await store.client.lset(f"{redis_prefix}:m:s", 0, '{"role":"user","content":"kept"}')
        state.messages.append(Message.user("new"))
        await store.put(state)
        loaded = await store.get("s")
    assert loaded is not None
    assert loaded.messages[0].content == "kept"  # not rewritten
    assert loaded.messages[-1].content == "new" and len(loaded.messages) == 21
