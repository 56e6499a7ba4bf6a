"""Conformance kit for `KeyValueStore` implementations.

Subclass `KeyValueStoreContract` in a test module and provide a `store` fixture; pytest then
runs every contract test against your store:

    import pytest
    from spine_core.testing import KeyValueStoreContract

    class TestMyStore(KeyValueStoreContract):
        @pytest.fixture
        async def store(self):
            yield MyKeyValueStore(...)

        # optional: lets the expiry tests run without waiting
        async def advance_time(self, store, seconds):
            ...  # move your store's clock forward by `seconds`

Tests use fresh random keys, so a store shared between tests is fine.
"""

from __future__ import annotations

import uuid

import anyio
import pytest

from ..kv import KeyValueStore

__all__ = ["KeyValueStoreContract"]


def _key(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex}"


class KeyValueStoreContract:
    """The `KeyValueStore` contract as pytest tests; see the module docstring.

    A subclass must provide a `store` fixture (sync or async, may yield) returning the store
    under test.
    """

    pytestmark = pytest.mark.anyio

    async def advance_time(self, store: KeyValueStore, seconds: float) -> None:
        """Override to move the store's clock forward by `seconds`; the expiry tests are
        skipped when this is not overridden."""
        pytest.skip("advance_time is not provided for this store")

    async def test_missing_key_reads_none(self, store: KeyValueStore) -> None:
        assert await store.get(_key("missing")) is None

    async def test_set_then_get_returns_the_value(self, store: KeyValueStore) -> None:
        key = _key("set")
        value = 'naïve ✓ 日本 🧠 {"json": [1, 2]} \\x00'
        assert await store.set(key, value) is True
        assert await store.get(key) == value

    async def test_set_overwrites(self, store: KeyValueStore) -> None:
        key = _key("over")
        await store.set(key, "one")
        assert await store.set(key, "two") is True
        assert await store.get(key) == "two"

    async def test_only_if_absent_writes_once(self, store: KeyValueStore) -> None:
        key = _key("nx")
        assert await store.set(key, "first", only_if_absent=True) is True
        assert await store.set(key, "second", only_if_absent=True) is False
        assert await store.get(key) == "first"

    async def test_concurrent_only_if_absent_has_one_winner(self, store: KeyValueStore) -> None:
        key = _key("nx-race")
        winners: list[int] = []

        async def claim(i: int) -> None:
            if await store.set(key, str(i), only_if_absent=True):
                winners.append(i)

        async with anyio.create_task_group() as tg:
            for i in range(20):
                tg.start_soon(claim, i)
        assert len(winners) == 1
        assert await store.get(key) == str(winners[0])

    async def test_incr_counts_from_zero_and_adds_floats(self, store: KeyValueStore) -> None:
        key = _key("incr")
        assert await store.incr(key) == 1
        assert await store.incr(key, 2.5) == 3.5
        assert await store.incr(key, -4) == -0.5
        value = await store.get(key)
        assert value is not None and float(value) == -0.5

    async def test_incr_of_whole_numbers_reads_back_as_integer_text(
        self, store: KeyValueStore
    ) -> None:
        key = _key("whole")
        await store.incr(key, 2)
        await store.incr(key, 1)
        assert await store.get(key) == "3"

    async def test_incr_continues_a_value_written_by_set(self, store: KeyValueStore) -> None:
        key = _key("setincr")
        await store.set(key, "10")
        assert await store.incr(key, 5) == 15

    async def test_concurrent_incr_loses_no_update(self, store: KeyValueStore) -> None:
        key = _key("incr-race")

        async def bump() -> None:
            await store.incr(key, 0.5)

        async with anyio.create_task_group() as tg:
            for _ in range(50):
                tg.start_soon(bump)
        value = await store.get(key)
        assert value is not None and float(value) == 25

    async def test_delete_reports_whether_the_key_existed(self, store: KeyValueStore) -> None:
        key = _key("del")
        await store.set(key, "x")
        assert await store.delete(key) is True
        assert await store.get(key) is None
        assert await store.delete(key) is False

    async def test_key_with_ttl_is_readable_before_expiry(self, store: KeyValueStore) -> None:
        key = _key("ttl-live")
        await store.set(key, "v", ttl_s=60)
        await store.incr(key + "n", ttl_s=60)
        assert await store.get(key) == "v"
        assert await store.get(key + "n") == "1"

    async def test_set_with_ttl_expires(self, store: KeyValueStore) -> None:
        key = _key("ttl")
        await store.set(key, "v", ttl_s=10)
        await self.advance_time(store, 11)
        assert await store.get(key) is None
        assert await store.set(key, "again", only_if_absent=True) is True
        assert await store.delete(key) is True

    async def test_incr_ttl_applies_only_on_creation(self, store: KeyValueStore) -> None:
        key = _key("window")
        await store.incr(key, ttl_s=10)
        await self.advance_time(store, 6)
        assert await store.incr(key, ttl_s=10) == 2  # does not extend the window
        await self.advance_time(store, 5)
        assert await store.get(key) is None
        assert await store.incr(key, ttl_s=10) == 1
