"""spine_backends' checkpoint stores called exactly as the Spine API reference shows:
SQLiteCheckpoint, RedisCheckpoint and PostgresCheckpoint (put / get / delete / revision), with
the issue-13 fixes: a blocking Redis pool, a corrupt row not breaking `list()`, and a clear
error for session ids a store cannot hold."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from spine_backends import PostgresCheckpoint, RedisCheckpoint, SQLiteCheckpoint
from spine_core import Agent, CheckpointConflict, Message, RunStatus, State, ToolCall

from .refkit import EMPTY, KW, POS, RefProvider, documented
from .servicekit import postgres_dsn, postgres_table, redis_prefix, redis_url
from .test_state import TRANSFER_CALL, approval_pending, ref_state, transfer

__all__ = ["postgres_dsn", "postgres_table", "redis_prefix", "redis_url"]  # fixtures

pytestmark = pytest.mark.anyio


def state(session_id: str, *texts: str) -> State:
    new = State(session_id=session_id)
    new.messages.extend(Message.user(t) for t in texts)
    return new


async def roundtrip(store: object) -> list[str | None]:
    """The reference's CheckpointStore calls: put, get, revision, delete. Returns the
    contents of the messages stored before the delete."""
    s = state("ref-session", "hello")
    await store.put(s)  # type: ignore[attr-defined]
    got = await store.get("ref-session")  # type: ignore[attr-defined]
    assert got is not None and [m.content for m in got.messages] == ["hello"]
    assert await store.revision("ref-session") == 1  # type: ignore[attr-defined]
    got.messages.append(Message.assistant("hi"))
    await store.put(got)  # type: ignore[attr-defined]
    assert await store.revision("ref-session") == 2  # type: ignore[attr-defined]
    stored = await store.get("ref-session")  # type: ignore[attr-defined]
    await store.delete("ref-session")  # type: ignore[attr-defined]
    assert await store.get("ref-session") is None  # type: ignore[attr-defined]
    assert await store.revision("ref-session") == 0  # type: ignore[attr-defined]
    return [m.content for m in stored.messages]


# -- SQLiteCheckpoint ------------------------------------------------------------------------


def test_sqlite_signature_and_default_path() -> None:
    assert documented(SQLiteCheckpoint, ("path", POS, "spine.db"))


async def test_sqlite_default_path_is_spine_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SQLiteCheckpoint()
    assert await roundtrip(store) == ["hello", "hi"]
    await store.aclose()
    assert (tmp_path / "spine.db").is_file()


async def test_sqlite_as_an_agents_checkpoint(tmp_path: Path) -> None:
    agent = Agent(RefProvider(["one", "two"]), checkpoint=SQLiteCheckpoint(tmp_path / "s.db"))
    await agent.run("first", session_id="chat")
    result = await agent.run("second", session_id="chat")
    assert [m.content for m in result.state.messages] == ["first", "one", "second", "two"]


async def test_sqlite_put_is_compare_and_set(tmp_path: Path) -> None:
    store = SQLiteCheckpoint(str(tmp_path / "s.db"))
    await store.put(state("s", "a"))
    stale = state("s", "b")  # revision 0: written without reading the stored one
    with pytest.raises(CheckpointConflict):
        await store.put(stale)


# -- RedisCheckpoint -------------------------------------------------------------------------


def test_redis_signature() -> None:
    assert documented(
        RedisCheckpoint,
        ("url", POS, "redis://localhost:6379"),
        ("client", KW, None),
        ("prefix", KW, "spine:checkpoint:"),
    )


async def test_redis_roundtrip_keeps_keys_under_the_prefix(
    redis_url: str, redis_prefix: str
) -> None:
    import redis.asyncio as aioredis

    store = RedisCheckpoint(redis_url, prefix=redis_prefix)
    await store.put(state("k", "x"))
    client = aioredis.from_url(redis_url)
    keys = sorted([k.decode() async for k in client.scan_iter(match=f"{redis_prefix}*")])
    await client.aclose()
    assert keys and all(k.startswith(redis_prefix) and "::" not in k for k in keys)
    await store.delete("k")
    assert await roundtrip(store) == ["hello", "hi"]
    await store.aclose()


async def test_redis_with_an_injected_client(redis_url: str, redis_prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url, decode_responses=True)
    assert await roundtrip(RedisCheckpoint(client=client, prefix=redis_prefix)) == ["hello", "hi"]
    await client.aclose()


async def test_redis_survives_a_thousand_concurrent_operations(
    redis_url: str, redis_prefix: str
) -> None:
    """Bug fix: redis-py's default pool raised MaxConnectionsError past 100 concurrent
    commands (900 of 1,000 concurrent runs crashed); the store's pool blocks instead."""
    store = RedisCheckpoint(redis_url, prefix=redis_prefix, max_connections=20)
    failures: list[BaseException] = []

    async def one(i: int) -> None:
        try:
            await store.put(state(f"s{i}", "hi"))
            assert await store.get(f"s{i}") is not None
        except Exception as exc:
            failures.append(exc)

    async with anyio.create_task_group() as tg:
        for i in range(1000):
            tg.start_soon(one, i)
    await store.aclose()
    assert failures == []


async def test_redis_list_skips_and_reports_a_corrupt_row(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Bug fix: one unreadable header broke `list()` for the whole store."""
    store = RedisCheckpoint(redis_url, prefix=redis_prefix)
    await store.put(state("good", "a"))
    await store.put(state("bad", "b"))
    await store.client.hset(f"{redis_prefix}s:bad", "header", "{not json")
    with caplog.at_level(logging.WARNING):
        listed = await store.list()
    await store.aclose()
    assert [i.session_id for i in listed] == ["good"]
    assert "'bad'" in caplog.text


# -- PostgresCheckpoint ----------------------------------------------------------------------


def test_postgres_signature() -> None:
    assert documented(
        PostgresCheckpoint,
        ("dsn", POS, None),
        ("pool", KW, None),
        ("table", KW, "spine_checkpoints"),
    )
    assert EMPTY  # the reference requires dsn; Spine also accepts pool= alone


async def test_postgres_roundtrip(postgres_dsn: str, postgres_table: str) -> None:
    store = PostgresCheckpoint(postgres_dsn, table=postgres_table)
    assert await roundtrip(store) == ["hello", "hi"]
    await store.aclose()


@pytest.mark.parametrize(
    ("session_id", "why"),
    [("a\x00b", "U+0000"), ("\ud800x", "not valid Unicode"), ("x" * 3000, "UTF-8 bytes")],
)
async def test_postgres_rejects_an_unstorable_session_id_clearly(
    postgres_dsn: str, postgres_table: str, session_id: str, why: str
) -> None:
    """Bug fix: a NUL byte in a session id gave a raw asyncpg error."""
    store = PostgresCheckpoint(postgres_dsn, table=postgres_table)
    for call in (store.put(state(session_id, "x")), store.get(session_id)):
        with pytest.raises(ValueError, match=re.escape(why)):
            await call
    await store.aclose()


async def test_sqlite_and_redis_store_any_valid_session_id(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    for store in (
        SQLiteCheckpoint(tmp_path / "s.db"),
        RedisCheckpoint(redis_url, prefix=redis_prefix),
    ):
        for sid in ("a\x00b", "../x", "é/ü:*", ""):
            await store.put(state(sid, "x"))
            got = await store.get(sid)
            assert got is not None and got.session_id == sid
        with pytest.raises(ValueError, match="not valid Unicode"):
            await store.put(state("\ud800", "x"))
        await store.aclose()


# -- sessions the reference's RedisCheckpoint wrote ----------------------------------------------


async def _write_reference_session(redis_url: str, key: str, data: dict[str, object]) -> None:
    """What the reference's `RedisCheckpoint.put` leaves: the state as one JSON string."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    await client.set(key, json.dumps(data))
    await client.aclose()


async def test_redis_continues_a_session_the_reference_store_wrote(
    redis_url: str, redis_prefix: str
) -> None:
    """A deployment moving from the reference's store keeps its sessions: `get` reads the
    reference's JSON string (migrated, at revision 0), and the first `put` moves it to this
    store's layout and deletes the string."""
    await _write_reference_session(redis_url, f"{redis_prefix}ref-1", ref_state())
    store = RedisCheckpoint(redis_url, prefix=redis_prefix)
    got = await store.get("ref-1")
    assert got is not None and got.revision == 0 and got.tenant_id == "acme"
    assert [m.content for m in got.messages] == ["Be brief.", "hi", "hello"]

    provider = RefProvider(["hello again"])
    agent = Agent(provider, checkpoint=store, system="Be brief.")
    result = await agent.run("still there?", session_id="ref-1")

    assert result.answer == "hello again"
    assert [m.content for m in provider.calls[0]["messages"]] == [
        "Be brief.",
        "hi",
        "hello",
        "still there?",
    ]
    assert await store.client.exists(f"{redis_prefix}ref-1") == 0  # moved, not copied
    assert [info.session_id for info in await store.list()] == ["ref-1"]
    again = await store.get("ref-1")
    assert again is not None and again.revision == result.state.revision
    assert [m.content for m in again.messages][-2:] == ["still there?", "hello again"]
    await store.aclose()


async def test_redis_delete_removes_a_session_only_the_reference_store_wrote(
    redis_url: str, redis_prefix: str
) -> None:
    await _write_reference_session(redis_url, f"{redis_prefix}ref-1", ref_state())
    store = RedisCheckpoint(redis_url, prefix=redis_prefix)
    assert await store.delete("ref-1") is True
    assert await store.get("ref-1") is None
    assert await store.delete("ref-1") is False
    await store.aclose()


async def test_redis_never_reads_or_deletes_another_sessions_key_as_a_reference_state(
    redis_url: str, redis_prefix: str
) -> None:
    """Session "s:x"'s reference key is prefix + "s:x", the name of session "x"'s header hash
    (and session "sessions"' is the session index): neither is taken for a reference state,
    and writing or deleting "s:x" leaves them alone."""
    store = RedisCheckpoint(redis_url, prefix=redis_prefix)
    await store.put(state("x", "kept"))
    for sid in ("s:x", "sessions"):
        assert await store.get(sid) is None
        await store.put(state(sid, "new"))
        assert await store.delete(sid) is True
    kept = await store.get("x")
    assert kept is not None and [m.content for m in kept.messages] == ["kept"]
    assert [info.session_id for info in await store.list()] == ["x"]
    await store.aclose()


# -- sessions the reference's SQL stores wrote -------------------------------------------------

# The reference's SQLiteCheckpoint table (its _SCHEMA is not shown: the columns of its INSERT).
_REF_SQLITE_SCHEMA = """CREATE TABLE IF NOT EXISTS checkpoints (
    session_id TEXT PRIMARY KEY, version INTEGER NOT NULL, revision INTEGER NOT NULL DEFAULT 1,
    data TEXT NOT NULL, updated REAL NOT NULL)"""
_REF_SQLITE_PUT = """
    INSERT INTO {table} (session_id, version, revision, data, updated)
    VALUES (?, ?, 1, ?, ?)
    ON CONFLICT(session_id) DO UPDATE SET
        version  = excluded.version,
        revision = {table}.revision + 1,
        data     = excluded.data,
        updated  = excluded.updated
"""
_REF_POSTGRES_TABLE = """
    CREATE TABLE IF NOT EXISTS {table} (
        session_id TEXT PRIMARY KEY,
        version    INTEGER NOT NULL,
        revision   BIGINT  NOT NULL DEFAULT 1,
        data       JSONB   NOT NULL,
        updated    TIMESTAMPTZ NOT NULL DEFAULT now()
    )
"""
_REF_POSTGRES_PUT = """
    INSERT INTO {table} (session_id, version, revision, data)
    VALUES ($1, $2, 1, $3::jsonb)
    ON CONFLICT (session_id) DO UPDATE SET
        version  = EXCLUDED.version,
        revision = {table}.revision + 1,
        data     = EXCLUDED.data,
        updated  = now()
"""


def _reference_sessions() -> list[tuple[dict[str, object], int]]:
    """(state JSON as the reference's `State.model_dump_json()` wrote it, how many puts):
    a finished chat, written three times, and an approval pause of version 3."""
    paused = approval_pending(note="kept")
    paused["session_id"], paused["version"] = "ref-pay", 3
    return [(ref_state(), 3), (paused, 1)]


def _write_reference_sqlite(path: Path, table: str = "checkpoints") -> None:
    """What the reference's `SQLiteCheckpoint(path).put` leaves in the file."""
    with sqlite3.connect(path) as con:
        con.execute(_REF_SQLITE_SCHEMA.replace("checkpoints", table))
        for data, puts in _reference_sessions():
            for _ in range(puts):
                con.execute(
                    _REF_SQLITE_PUT.format(table=table),
                    (data["session_id"], data["version"], json.dumps(data), time.time()),
                )


async def _write_reference_postgres(dsn: str, table: str) -> None:
    """What the reference's `PostgresCheckpoint(dsn, table=table).put` leaves."""
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        await con.execute(_REF_POSTGRES_TABLE.format(table=table))
        for data, puts in _reference_sessions():
            for _ in range(puts):
                await con.execute(
                    _REF_POSTGRES_PUT.format(table=table),
                    data["session_id"],
                    data["version"],
                    json.dumps(data),
                )
    finally:
        await con.close()


def _reference_rows() -> dict[str, tuple[int, dict[str, object]]]:
    return {str(data["session_id"]): (puts, data) for data, puts in _reference_sessions()}


async def _continue_reference_sessions(store: Any) -> None:
    """The reference's sessions read, list, continue and resume through `store`."""
    chat = await store.get("ref-1")
    assert chat is not None and chat.revision == 3
    assert [m.content for m in chat.messages] == ["Be brief.", "hi", "hello"]
    assert (chat.tenant_id, chat.status, chat.usage.input_tokens) == ("acme", RunStatus.DONE, 10)
    paused = await store.get("ref-pay")
    assert paused is not None and paused.status is RunStatus.INTERRUPTED
    assert paused.pending is not None and paused.pending.kind == "approval"
    assert paused.pending.tool_call == ToolCall(**TRANSFER_CALL)
    assert paused.scratch == {"note": "kept"} and paused.revision == 1

    listed = {i.session_id: i for i in await store.list(tenant_id="acme")}
    assert sorted(listed) == ["ref-1", "ref-pay"]
    assert (listed["ref-1"].message_count, listed["ref-1"].revision) == (3, 3)
    assert listed["ref-pay"].status is RunStatus.INTERRUPTED

    provider = RefProvider(["hello again"])
    agent = Agent(provider, checkpoint=store, system="Be brief.")
    result = await agent.run("still there?", session_id="ref-1")
    assert [m.content for m in provider.calls[0]["messages"]] == [
        "Be brief.",
        "hi",
        "hello",
        "still there?",
    ]
    again = await store.get("ref-1")
    assert again is not None and again.revision == result.state.revision == 4
    assert [m.content for m in again.messages] == [
        "Be brief.",
        "hi",
        "hello",
        "still there?",
        "hello again",
    ]
    with pytest.raises(CheckpointConflict):  # the copy read before the run is stale
        await store.put(chat)

    resumed = await Agent(RefProvider(["sent it"]), tools=[transfer], checkpoint=store).resume(
        "ref-pay", "approve"
    )
    assert resumed.answer == "sent it"
    done = await store.get("ref-pay")
    assert done is not None and done.status is RunStatus.DONE and done.pending is None
    assert [m.content for m in done.messages][-2:] == ["sent 5", "sent it"]


def _assert_one_migration_logged(caplog: pytest.LogCaptureFixture, kept: str) -> None:
    [record] = [r for r in caplog.records if r.name == "spine_backends" and "copied" in r.message]
    assert record.levelno == logging.WARNING
    assert "copied 2 sessions" in record.getMessage() and kept in record.getMessage()


async def test_sqlite_continues_sessions_the_reference_store_wrote(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A `spine.db` the reference's SQLiteCheckpoint wrote: Spine's store copies its
    `checkpoints` rows into its own tables when it first creates them, and leaves them."""
    path = tmp_path / "spine.db"
    _write_reference_sqlite(path)
    with caplog.at_level(logging.WARNING, logger="spine_backends"):
        store = SQLiteCheckpoint(path)
        await _continue_reference_sessions(store)
        await store.aclose()
    _assert_one_migration_logged(caplog, "checkpoints")

    with sqlite3.connect(path) as con:
        kept = con.execute("SELECT session_id, revision, data FROM checkpoints").fetchall()
    assert {sid: (rev, json.loads(data)) for sid, rev, data in kept} == _reference_rows()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spine_backends"):
        reopened = SQLiteCheckpoint(path)
        chat = await reopened.get("ref-1")
        await reopened.aclose()
    assert chat is not None and chat.revision == 4 and len(chat.messages) == 5
    assert caplog.records == []  # nothing copied again


async def test_sqlite_renames_a_reference_table_given_as_table(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "spine.db"
    _write_reference_sqlite(path, table="sessions")
    with caplog.at_level(logging.WARNING, logger="spine_backends"):
        store = SQLiteCheckpoint(path, table="sessions")
        await _continue_reference_sessions(store)
        await store.aclose()
    _assert_one_migration_logged(caplog, "sessions_reference")
    with sqlite3.connect(path) as con:
        kept = con.execute("SELECT session_id, revision, data FROM sessions_reference").fetchall()
    assert {sid: (rev, json.loads(data)) for sid, rev, data in kept} == _reference_rows()


# One process opening a store: it reports when it is ready, waits for "go" on stdin (so every
# process opens the store at the same moment), then prints the sessions it lists and the
# migration warnings it logged.
_OPEN_STORE = """
import asyncio, json, logging, sys
from spine_backends import PostgresCheckpoint, SQLiteCheckpoint

copies = []
class Copies(logging.Handler):
    def emit(self, record):
        if "copied" in record.getMessage():
            copies.append(record.getMessage())
logging.getLogger("spine_backends").addHandler(Copies())
kind, target, schema = sys.argv[1:4]
store = SQLiteCheckpoint(target) if kind == "sqlite" else PostgresCheckpoint(target, schema=schema)
print("ready", flush=True)
sys.stdin.readline()

async def main():
    ids = sorted(info.session_id for info in await store.list())
    await store.aclose()
    print(json.dumps({"ids": ids, "copies": copies}), flush=True)

asyncio.run(main())
"""


async def _open_in_processes(kind: str, target: str, schema: str = "", n: int = 8) -> list[Any]:
    """What `n` processes report after opening the store on `target` at the same moment."""
    import sys

    processes = [
        await anyio.open_process([sys.executable, "-c", _OPEN_STORE, kind, target, schema])
        for _ in range(n)
    ]
    output = [b"" for _ in processes]

    async def read(index: int) -> None:
        stdout = processes[index].stdout
        assert stdout is not None
        async for chunk in stdout:
            output[index] += chunk

    try:
        async with anyio.create_task_group() as tg:
            for index in range(n):
                tg.start_soon(read, index)
            with anyio.fail_after(60):  # every process ready before any opens its store
                while not all(out.startswith(b"ready\n") for out in output):
                    await anyio.sleep(0.01)
            for process in processes:
                assert process.stdin is not None
                await process.stdin.send(b"go\n")
    finally:
        for process in processes:
            await process.wait()
    assert all(process.returncode == 0 for process in processes), output
    return [json.loads(out.splitlines()[-1]) for out in output]


def _copies(reports: list[Any]) -> list[str]:
    """The migration warnings all the processes logged together."""
    return [message for report in reports for message in report["copies"]]


async def test_sqlite_processes_opening_together_copy_the_reference_sessions_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "spine.db"
    _write_reference_sqlite(path)
    reports = await _open_in_processes("sqlite", str(path))
    assert [report["ids"] for report in reports] == [["ref-1", "ref-pay"]] * len(reports)
    [copied] = _copies(reports)  # one process copied, the others found the copy
    assert "copied 2 sessions" in copied and "checkpoints" in copied


async def _postgres_reference_rows(dsn: str, table: str) -> dict[str, tuple[int, object]]:
    import asyncpg

    con = await asyncpg.connect(dsn)
    try:
        rows = await con.fetch(f"SELECT session_id, revision, data::text FROM {table}")
    finally:
        await con.close()
    return {r[0]: (r[1], json.loads(r[2])) for r in rows}


async def test_postgres_continues_sessions_the_reference_store_wrote(
    postgres_dsn: str, postgres_schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Bug fix: on a database where the reference's PostgresCheckpoint ran (same default
    table, its own columns) every call failed with `column "tenant_id" does not exist`. The
    store's first DDL renames that table `{table}_reference` and copies its sessions."""
    await _write_reference_postgres(postgres_dsn, f"{postgres_schema}.spine_checkpoints")
    with caplog.at_level(logging.WARNING, logger="spine_backends"):
        store = PostgresCheckpoint(postgres_dsn, schema=postgres_schema)
        await _continue_reference_sessions(store)
        await store.aclose()
    kept = f"{postgres_schema}.spine_checkpoints_reference"
    _assert_one_migration_logged(caplog, kept)
    assert await _postgres_reference_rows(postgres_dsn, kept) == _reference_rows()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spine_backends"):
        reopened = PostgresCheckpoint(postgres_dsn, schema=postgres_schema)
        chat = await reopened.get("ref-1")
        await reopened.aclose()
    assert chat is not None and chat.revision == 4 and len(chat.messages) == 5
    assert caplog.records == []  # nothing copied again


async def test_postgres_migrates_a_reference_table_on_the_search_path(
    postgres_dsn: str, postgres_table: str, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncpg

    await _write_reference_postgres(postgres_dsn, postgres_table)
    try:
        with caplog.at_level(logging.WARNING, logger="spine_backends"):
            store = PostgresCheckpoint(postgres_dsn, table=postgres_table)
            await _continue_reference_sessions(store)
            await store.aclose()
        kept = f"{postgres_table}_reference"
        _assert_one_migration_logged(caplog, kept)
        assert await _postgres_reference_rows(postgres_dsn, kept) == _reference_rows()
    finally:
        con = await asyncpg.connect(postgres_dsn)
        await con.execute(f"DROP TABLE IF EXISTS {postgres_table}_reference")
        await con.close()


async def test_postgres_processes_opening_together_copy_the_reference_sessions_once(
    postgres_dsn: str, postgres_schema: str
) -> None:
    await _write_reference_postgres(postgres_dsn, f"{postgres_schema}.spine_checkpoints")
    reports = await _open_in_processes("postgres", postgres_dsn, postgres_schema)
    assert [report["ids"] for report in reports] == [["ref-1", "ref-pay"]] * len(reports)
    [copied] = _copies(reports)  # one process copied, the others found the copy
    assert "copied 2 sessions" in copied
    assert f"{postgres_schema}.spine_checkpoints_reference" in copied
