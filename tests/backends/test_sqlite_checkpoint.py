"""SQLiteCheckpoint: the conformance kit on a real database file, plus SQLite specifics."""

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from spine_backends import SQLiteCheckpoint
from spine_core import Message, State
from spine_core.testing import CheckpointStoreContract

from .rows import write_raw


class TestSQLiteCheckpoint(CheckpointStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteCheckpoint]:
        async with SQLiteCheckpoint(tmp_path / "state.db") as store:
            yield store

    async def write_raw_state(self, store: SQLiteCheckpoint, data: dict[str, Any]) -> None:
        header = {k: v for k, v in data.items() if k not in ("history", "rev")}
        await write_raw(store, header, data["history"], data["rev"])


@pytest.mark.parametrize("table", ["x; DROP TABLE y", "1abc", "", "a-b", "a" * 64, "tab le"])
def test_invalid_table_name_is_rejected(table: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        SQLiteCheckpoint(tmp_path / "s.db", table=table)


@pytest.mark.anyio
async def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "state.db"
    async with SQLiteCheckpoint(path) as store:
        await store.put(State(session_id="s", messages=[Message.user("hello")]))
    async with SQLiteCheckpoint(path) as reopened:
        loaded = await reopened.get("s")
    assert loaded is not None and loaded.messages[0].content == "hello"


@pytest.mark.anyio
async def test_database_runs_in_wal_mode(tmp_path: Path) -> None:
    async with SQLiteCheckpoint(tmp_path / "state.db") as store:
        await store.put(State(session_id="s"))
        with sqlite3.connect(store.path) as con:
            assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.anyio
async def test_the_wal_is_copied_into_the_database_file_as_puts_go_on(tmp_path: Path) -> None:
    # Inline puts skip SQLite's autocheckpoint; a background thread does it every 256 puts
    # (again 16 puts later when one could not finish), so the database file itself, read
    # here without its WAL, keeps up with the commits.
    import shutil
    import time

    async with SQLiteCheckpoint(tmp_path / "state.db") as store:
        state = State(session_id="s")
        for i in range(300):
            state.messages.append(Message.user(str(i)))
            await store.put(state)
        main_file_only = tmp_path / "copy.db"
        revision = 0
        deadline = time.monotonic() + 30
        while revision < 256 and time.monotonic() < deadline:
            state.messages.append(Message.user("more"))  # puts go on while we look
            await store.put(state)
            await anyio.sleep(0.01)
            shutil.copyfile(store.path, main_file_only)  # no -wal beside it: checkpointed data
            try:
                with sqlite3.connect(main_file_only) as con:
                    tables = con.execute("SELECT name FROM sqlite_master").fetchall()
                    if ("spine_checkpoints",) in tables:  # no schema before a checkpoint
                        row = con.execute("SELECT revision FROM spine_checkpoints").fetchone()
                        revision = row[0] if row is not None else 0
            except sqlite3.DatabaseError:  # copied while the checkpoint was writing: again
                continue
        assert revision >= 256
        loaded = await store.get("s")
    assert loaded is not None and loaded.revision == state.revision
    assert [m.content for m in loaded.messages[:300]] == [str(i) for i in range(300)]


@pytest.mark.anyio
async def test_put_writes_only_new_message_rows(tmp_path: Path) -> None:
    async with SQLiteCheckpoint(tmp_path / "state.db") as store:
        state = State(session_id="s", messages=[Message.user(str(i)) for i in range(50)])
        await store.put(state)
        with sqlite3.connect(store.path) as con:
            con.execute(
                'UPDATE spine_checkpoints_messages SET body = \'{"role":"user","content":"kept"}\''
            )
        state.messages.append(Message.user("new"))
        await store.put(state)
        loaded = await store.get("s")
    assert loaded is not None
    # rows written by the first put were left alone (not rewritten), the new one appended
    assert [m.content for m in loaded.messages[:2]] == ["kept", "kept"]
    assert loaded.messages[-1].content == "new" and len(loaded.messages) == 51


@pytest.mark.anyio
async def test_stores_opening_a_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    # Several workers (e.g. `spine eval` cases) create the same new database together; the
    # losers of the race to switch it to WAL must wait, not fail with "database is locked".
    import anyio

    for trial in range(25):
        path = tmp_path / f"trial{trial}" / "state.db"
        stores = [SQLiteCheckpoint(path) for _ in range(8)]

        async def save(index: int, store: SQLiteCheckpoint) -> None:
            await store.put(State(session_id=f"s{index}", messages=[Message.user("hi")]))

        async with anyio.create_task_group() as tg:
            for index, store in enumerate(stores):
                tg.start_soon(save, index, store)
        listed = await stores[0].list()
        for store in stores:
            await store.aclose()
        assert sorted(info.session_id for info in listed) == [f"s{i}" for i in range(8)]
