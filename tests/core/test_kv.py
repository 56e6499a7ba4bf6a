"""InMemoryKeyValueStore: atomic get / set / incr / delete with TTLs on an injected clock."""

from __future__ import annotations

import pytest

from spine_core import InMemoryKeyValueStore, KeyValueStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kv(clock: Clock) -> InMemoryKeyValueStore:
    return InMemoryKeyValueStore(clock=clock)


def test_satisfies_the_protocol(kv: InMemoryKeyValueStore) -> None:
    assert isinstance(kv, KeyValueStore)


@pytest.mark.anyio
async def test_value_expires_after_its_ttl(kv: InMemoryKeyValueStore, clock: Clock) -> None:
    await kv.set("k", "v", ttl_s=10)

    clock.now += 9.9
    assert await kv.get("k") == "v"
    clock.now += 0.1
    assert await kv.get("k") is None


@pytest.mark.anyio
async def test_only_if_absent_does_not_overwrite_a_live_key(
    kv: InMemoryKeyValueStore, clock: Clock
) -> None:
    assert await kv.set("lock", "a", ttl_s=5, only_if_absent=True)
    assert not await kv.set("lock", "b", only_if_absent=True)
    clock.now += 5
    assert await kv.set("lock", "c", only_if_absent=True)
    assert await kv.get("lock") == "c"


@pytest.mark.anyio
async def test_incr_counts_from_zero_and_keeps_the_first_expiry(
    kv: InMemoryKeyValueStore, clock: Clock
) -> None:
    assert await kv.incr("n", ttl_s=10) == 1
    clock.now += 6
    assert await kv.incr("n", 2.5, ttl_s=10) == 3.5  # ttl does not restart
    clock.now += 4
    assert await kv.get("n") is None
    assert await kv.incr("n") == 1


@pytest.mark.anyio
async def test_integer_counts_are_stored_without_a_decimal_point(kv: InMemoryKeyValueStore) -> None:
    await kv.incr("n", 2)

    assert await kv.get("n") == "2"


@pytest.mark.anyio
async def test_delete_reports_whether_a_live_key_existed(
    kv: InMemoryKeyValueStore, clock: Clock
) -> None:
    await kv.set("a", "1")
    await kv.set("b", "1", ttl_s=1)
    clock.now += 1

    assert await kv.delete("a") is True
    assert await kv.delete("a") is False
    assert await kv.delete("b") is False
