"""Sessions persisted by state version 2 (`interrupt` / `metadata`, status values
"completed" / "failed") load, list and filter in every durable store, and the next write
upgrades their rows to the current version; `revision()` reads the stored revision."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from spine_backends import PostgresCheckpoint, RedisCheckpoint, SQLiteCheckpoint
from spine_core import STATE_VERSION, Message, Role, RunStatus

from .rows import read_raw_header, write_raw

pytestmark = [pytest.mark.anyio, pytest.mark.services]

CALL = {"id": "c1", "name": "pay", "arguments": {"usd": 5}}


def _v2_header(sid: str, tenant: str, status: str, **extra: Any) -> dict[str, Any]:
    """A session header as state version 2 wrote it."""
    return {
        "version": 2,
        "session_id": sid,
        "agent": "v2-agent",
        "tenant_id": tenant,
        "status": status,
        "stopped_reason": None,
        "step": 1,
        "depth": 1,
        "usage": {"input_tokens": 10, "output_tokens": 4, "cost_usd": 0.001, "requests": 1},
        "interrupt": None,
        "metadata": {"customer": 7},
        "created_at": 1_700_000_000.0,
        "updated_at": 1_700_000_050.0,
        **extra,
    }


V2_MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "pay acme 5 USD"},
    {"role": "assistant", "content": "", "tool_calls": [CALL]},
]


@pytest.fixture(params=["sqlite", "redis", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    if request.param == "sqlite":
        return lambda: SQLiteCheckpoint(tmp_path / "state.db")
    if request.param == "redis":
        url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
        return lambda: RedisCheckpoint(url, prefix=prefix)
    dsn = request.getfixturevalue("postgres_dsn")
    schema = request.getfixturevalue("postgres_schema")
    return lambda: PostgresCheckpoint(dsn, schema=schema)


@pytest.fixture
async def store(make_store: Callable[[], Any]) -> AsyncIterator[Any]:
    async with make_store() as made:
        yield made


async def test_v2_interrupted_session_loads_with_pending_and_scratch(store: Any) -> None:
    sid, tenant = f"v2-{uuid.uuid4().hex}", uuid.uuid4().hex
    interrupt = {
        "id": "int-7",
        "kind": "approval",
        "tool_call": CALL,
        "question": "Approve the call to 'pay'?",
        "data": {"tool": "pay", "arguments": {"usd": 5}},
    }
    header = _v2_header(sid, tenant, "interrupted", interrupt=interrupt, stopped_reason="interrupt")
    await write_raw(store, header, V2_MESSAGES, 4)
    loaded = await store.get(sid)
    assert loaded is not None
    assert loaded.version == STATE_VERSION and loaded.revision == 4
    assert loaded.status is RunStatus.INTERRUPTED
    assert loaded.pending is not None and loaded.pending.id == "int-7"
    assert loaded.pending.tool_call.arguments == {"usd": 5}
    assert loaded.pending.decision is None
    assert loaded.scratch == {"customer": 7} and loaded.depth == 1
    assert [m.role for m in loaded.messages] == [Role.USER, Role.ASSISTANT]
    assert await store.revision(sid) == 4

    loaded.pending = None
    loaded.status = RunStatus.RUNNING
    loaded.messages.append(Message.tool("paid", "c1", "pay"))
    await store.put(loaded)
    assert loaded.revision == 5 and await store.revision(sid) == 5
    raw = await read_raw_header(store, sid)
    assert raw["_version"] == STATE_VERSION and raw["_status"] == "running"
    assert "interrupt" not in raw and "metadata" not in raw
    assert raw["pending"] is None and raw["scratch"] == {"customer": 7}
    again = await store.get(sid)
    assert again is not None
    assert [m.text for m in again.messages] == ["pay acme 5 USD", "", "paid"]
    assert again.messages[1].tool_calls[0].arguments == {"usd": 5}


async def test_legacy_status_values_are_listed_and_filtered_as_run_status(store: Any) -> None:
    tenant = uuid.uuid4().hex
    sids = {status: f"{status}-{uuid.uuid4().hex}" for status in ("completed", "failed")}
    for status, sid in sids.items():
        await write_raw(store, _v2_header(sid, tenant, status), V2_MESSAGES, 2)
    infos = {i.session_id: i for i in await store.list(tenant_id=tenant)}
    assert infos[sids["completed"]].status is RunStatus.DONE
    assert infos[sids["failed"]].status is RunStatus.ERROR
    assert infos[sids["failed"]].message_count == 2 and infos[sids["failed"]].revision == 2
    done = await store.list(tenant_id=tenant, status=RunStatus.DONE)
    assert [i.session_id for i in done] == [sids["completed"]]
    assert [i.session_id for i in await store.list(tenant_id=tenant, status="error")] == [
        sids["failed"]
    ]
    # an old caller's status name still filters
    failed = await store.list(tenant_id=tenant, status="failed")
    assert [i.session_id for i in failed] == [sids["failed"]]
    assert await store.list(tenant_id=tenant, status=RunStatus.RUNNING) == []
    with pytest.raises(ValueError):
        await store.list(status="finished")


async def test_revision_of_unknown_session_is_zero(store: Any) -> None:
    assert await store.revision(f"missing-{uuid.uuid4().hex}") == 0
