"""`SQLiteCheckpoint`: the embedded default checkpoint store (stdlib `sqlite3`, WAL mode)."""

from __future__ import annotations

import builtins
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar

import anyio

from spine_core import STATE_VERSION, CheckpointConflict, CheckpointInfo, RunStatus, State

from ._codec import (
    REFERENCE_KEY,
    assemble,
    check_session_id,
    decode_header,
    encode_header,
    encode_messages,
    run_status,
    status_values,
    validate_identifier,
)

__all__ = ["SQLiteCheckpoint"]

_log = logging.getLogger("spine_backends")

T = TypeVar("T")

# Inline puts leave the WAL to grow by this many commits (a few pages each), then a worker
# thread copies it back into the database: SQLite's own autocheckpoint (1,000 pages) would do
# that copy, and its fsync, inside the event loop's commit.
_CHECKPOINT_EVERY = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS {h} (
    session_id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    tenant_id TEXT,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL,
    version INTEGER NOT NULL,
    step INTEGER NOT NULL,
    message_count INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    header TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {h}_tenant ON {h} (tenant_id, status);
CREATE TABLE IF NOT EXISTS {m} (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;
"""


# Sessions the Spine API reference's SQLiteCheckpoint wrote: one row per session in
# `checkpoints` (session_id, version, revision, data: the whole state as JSON text, updated:
# Unix seconds), copied into this layout when the header table is first created.
_REFERENCE_TABLE = "checkpoints"
_REFERENCE_COLUMNS = {"session_id", "version", "revision", "data", "updated"}
_COPY_HEADERS = """
INSERT INTO {h} (session_id, agent, tenant_id, status, revision, version, step, message_count,
    updated_at, header)
SELECT session_id, coalesce(json_extract(data, '$.agent'), 'agent'),
    json_extract(data, '$.tenant_id'), coalesce(json_extract(data, '$.status'), 'running'),
    revision, version, coalesce(json_extract(data, '$.step'), 0),
    CASE WHEN json_type(data, '$.messages') = 'array'
        THEN json_array_length(data, '$.messages') ELSE 0 END,
    updated,
    json_set(json_remove(data, '$.messages'), '$.updated_at', updated, ?, json('true'))
FROM {src}
"""
_COPY_MESSAGES = """
INSERT INTO {m} (session_id, seq, body)
SELECT r.session_id, e.key, e.value FROM {src} r, json_each(r.data, '$.messages') e
WHERE json_type(r.data, '$.messages') = 'array'
"""


def _columns(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def _is_reference(columns: set[str]) -> bool:
    return columns >= _REFERENCE_COLUMNS and "header" not in columns


def _sid(session_id: str) -> str:
    return check_session_id(session_id, store="SQLiteCheckpoint")


class SQLiteCheckpoint:
    """A `CheckpointStore` in one SQLite file: the embedded default (`spine run` keeps its
    sessions in `.spine/state.db`; constructed without a path, the reference's `spine.db` in
    the working directory).

    Layout: a header row per session (`{table}`: revision, status, tenant, message count and
    the JSON header) and one row per message (`{table}_messages`, keyed by session and
    position), so a `put` inserts only the messages added since the stored revision plus the
    header: O(new messages), whatever the history length.

    One long-lived connection in WAL mode is driven from worker threads, one call at a time,
    for reads and listings. A `put` (O(new messages): tens of microseconds) runs inline on a
    second connection that never waits for a lock: the hop to a worker thread would cost more
    than the transaction. When another writer holds the file's lock, that put goes to the
    worker thread and waits there (up to `busy_timeout_s`), so the event loop never blocks on
    a lock. `put` runs in a `BEGIN IMMEDIATE` transaction, so the compare-and-set holds across
    threads and processes sharing the file. Every 256 inline puts, a background thread runs a
    passive WAL checkpoint (the copy of the log into the database, and its fsync), which the
    inline connection does not do itself; one that fails or leaves frames behind (a reader
    holding them) is tried again 16 puts later.

    Args:
        path: Database file (parent folders are created), or ":memory:"; default "spine.db".
        table: Header table name; messages go to `{table}_messages`. Validated as an SQL
            identifier.
        synchronous: SQLite `synchronous` pragma. "NORMAL" (default) survives a killed process
            (a commit is in the WAL before `put` returns); "FULL" also survives power loss, at
            an fsync per commit.
        busy_timeout_s: How long a writer waits for another process's lock, in seconds.

    Raises:
        ValueError: invalid `table` or `synchronous`.
    """

    def __init__(
        self,
        path: str | Path = "spine.db",
        *,
        table: str = "spine_checkpoints",
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        busy_timeout_s: float = 30.0,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', not {synchronous!r}")
        self.path = str(path)
        self._h = validate_identifier(table)
        self._m = validate_identifier(f"{table}_messages")
        self._synchronous = synchronous
        self._busy_ms = int(busy_timeout_s * 1000)
        self._con: sqlite3.Connection | None = None
        self._inline: sqlite3.Connection | None = None  # writes from the event loop's thread
        self._limiter: anyio.CapacityLimiter | None = None
        self._unchecked = 0  # inline commits since the last background WAL checkpoint
        self._checkpoint_pending = False  # one submitted and not finished yet
        self._checkpointer: ThreadPoolExecutor | None = None
        self._checkpoint_con: sqlite3.Connection | None = None

    async def __aenter__(self) -> SQLiteCheckpoint:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections (the next call reopens them), after a running background
        WAL checkpoint has finished."""
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            await anyio.to_thread.run_sync(checkpointer.shutdown)
        if self._con is not None:
            await self._call(self._close)

    def _close(self) -> None:
        for con in (self._con, self._inline, self._checkpoint_con):
            if con is not None:
                con.close()
        self._con = self._inline = self._checkpoint_con = None
        self._unchecked, self._checkpoint_pending = 0, False

    def _connect(self) -> sqlite3.Connection:
        if self._con is None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            con.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            self._enable_wal(con)
            con.execute(f"PRAGMA synchronous = {self._synchronous}")
            try:
                self._create_schema(con)
            except BaseException:
                con.close()
                raise
            self._con = con
        return self._con

    def _create_schema(self, con: sqlite3.Connection) -> None:
        """Create the tables. The first time, in one `BEGIN IMMEDIATE` transaction (so of
        processes opening the file together one does it), sessions the Spine API reference's
        store wrote are copied in SQL: the state JSON minus its messages as the header
        (marked `REFERENCE_KEY`, read by `assemble` as the reference's shape), each message a
        row. Their rows stay where they were; a `table` that is itself the reference's
        layout is renamed `{table}_reference` first.

        Raises:
            ValueError: `{table}_reference` would not be a valid identifier (63 characters).
        """
        schema = _SCHEMA.format(h=self._h, m=self._m)
        if "header" in _columns(con, self._h):  # not the first time
            con.executescript(schema)
            return
        con.execute("BEGIN IMMEDIATE")
        try:
            columns, source, count = _columns(con, self._h), None, 0
            if _is_reference(columns):
                source = validate_identifier(f"{self._h}_reference", what="backup table name")
                con.execute(f"ALTER TABLE {self._h} RENAME TO {source}")
            elif not columns and _is_reference(_columns(con, _REFERENCE_TABLE)):
                source = _REFERENCE_TABLE
            for statement in schema.split(";"):
                if statement.strip():
                    con.execute(statement)
            if source is not None:
                sql = _COPY_HEADERS.format(h=self._h, src=source)
                count = con.execute(sql, (f'$."{REFERENCE_KEY}"',)).rowcount
                con.execute(_COPY_MESSAGES.format(m=self._m, src=source))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if source is not None:
            _log.warning(
                "SQLiteCheckpoint copied %d sessions the reference's store wrote in %s into"
                " this store's layout (%s); the original rows are kept in %s",
                count,
                self.path,
                self._h,
                source,
            )

    def _inline_connection(self) -> sqlite3.Connection | None:
        """The event loop's own connection for writes (busy timeout 0), once the file and
        schema exist; None for ":memory:", whose database only the main connection sees."""
        if self._inline is None and self._con is not None and self.path != ":memory:":
            con = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA busy_timeout = 0")
            con.execute(f"PRAGMA synchronous = {self._synchronous}")
            con.execute("PRAGMA wal_autocheckpoint = 0")  # `_checkpoint_soon` does it
            self._inline = con
        return self._inline

    def _checkpoint_soon(self) -> None:
        """Count an inline commit; every `_CHECKPOINT_EVERY`, hand a passive WAL checkpoint
        to the background thread (one at a time: a busy thread makes the next one wait)."""
        self._unchecked += 1
        if self._unchecked < _CHECKPOINT_EVERY or self._checkpoint_pending:
            return
        self._unchecked = 0
        if self._checkpointer is None:
            self._checkpointer = ThreadPoolExecutor(1, thread_name_prefix="spine-sqlite-wal")
        self._checkpoint_pending = True
        self._checkpointer.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        """Copy the WAL into the database without waiting for any lock (PASSIVE: frames
        that a reader or writer still needs are left for the next checkpoint). One that
        fails, or leaves frames behind, is tried again at the next inline put."""
        try:
            if self._checkpoint_con is None:  # mode=rw: never creates a file that was removed
                uri = Path(self.path).absolute().as_uri() + "?mode=rw"
                con = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
                con.execute("PRAGMA busy_timeout = 1000")  # a worker thread: it may wait
                self._checkpoint_con = con
            busy, frames, copied = self._checkpoint_con.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
        except sqlite3.Error as exc:  # nothing is lost meanwhile: the WAL keeps every commit
            _log.warning("SQLiteCheckpoint background WAL checkpoint failed: %s", exc)
            busy, frames, copied = 1, 1, 0
        finally:
            self._checkpoint_pending = False
        if busy or copied < frames:  # asked again 16 inline puts later
            self._unchecked = max(self._unchecked, _CHECKPOINT_EVERY - 16)

    def _enable_wal(self, con: sqlite3.Connection) -> None:
        """Switch to WAL. On a new file several connections may race to do it, and SQLite
        answers the losers SQLITE_BUSY at once, without its busy handler: retry until
        `busy_timeout_s` has passed."""
        deadline = time.monotonic() + self._busy_ms / 1000
        while True:
            try:
                con.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                busy = getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    con.close()
                    raise
                time.sleep(0.005)

    async def _call(self, func: Callable[..., T], *args: Any) -> T:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(1)
        return await anyio.to_thread.run_sync(func, *args, limiter=self._limiter)

    async def get(self, session_id: str) -> State | None:
        """The session's state, or None; old versions are migrated on read.

        Raises:
            ValueError: the stored state is from a newer Spine.
        """
        found = await self._call(self._read, _sid(session_id))
        if found is None:
            return None
        revision, header, rows = found
        return assemble(decode_header(header), rows, revision)

    def _read(self, session_id: str) -> tuple[int, str, list[str]] | None:
        con = self._connect()
        con.execute("BEGIN")
        try:
            row = con.execute(
                f"SELECT revision, header, message_count FROM {self._h} WHERE session_id = ?",
                (session_id,),
            ).fetchone()
            if row is None:
                return None
            bodies = con.execute(
                f"SELECT body FROM {self._m} WHERE session_id = ? AND seq < ? ORDER BY seq",
                (session_id, row[2]),
            ).fetchall()
        finally:
            con.execute("COMMIT")
        return row[0], row[1], [body for (body,) in bodies]

    async def put(self, state: State) -> None:
        """Commit `state` if the stored revision equals `state.revision` (0 for a new
        session), writing only the messages added since; then `state.revision` is the new
        revision and `state.updated_at` the commit time.

        Raises:
            CheckpointConflict: another writer committed first; nothing was changed.
        """
        _sid(state.session_id)
        inline = self._inline_connection()
        written = None
        if inline is not None:
            try:
                written = self._write(state, inline)
            except sqlite3.OperationalError as exc:
                if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
                    raise
            else:
                self._checkpoint_soon()
        if written is None:  # first put, or another writer holds the lock: wait in a thread
            written = await self._call(self._write, state)
        state.revision, state.updated_at = written

    def _write(self, state: State, con: sqlite3.Connection | None = None) -> tuple[int, float]:
        con = con or self._connect()
        sid = state.session_id
        con.execute("BEGIN IMMEDIATE")  # raises SQLITE_BUSY at once on the inline connection
        try:
            row = con.execute(
                f"SELECT revision, message_count, version FROM {self._h} WHERE session_id = ?",
                (sid,),
            ).fetchone()
            stored, count, version = row if row is not None else (0, 0, STATE_VERSION)
            if stored != state.revision:
                raise CheckpointConflict(sid, state.revision, stored)
            start = count
            # rows of an older version or a shortened history are rewritten in full
            if version < STATE_VERSION or len(state.messages) < count:
                con.execute(f"DELETE FROM {self._m} WHERE session_id = ?", (sid,))
                start = 0
            con.executemany(
                f"INSERT INTO {self._m} (session_id, seq, body) VALUES (?, ?, ?)",
                [(sid, start + i, body) for i, body in enumerate(encode_messages(state, start))],
            )
            now = time.time()
            con.execute(
                f"INSERT INTO {self._h} (session_id, agent, tenant_id, status, revision, version,"
                " step, message_count, updated_at, header)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (session_id) DO UPDATE SET agent = excluded.agent,"
                " tenant_id = excluded.tenant_id, status = excluded.status,"
                " revision = excluded.revision, version = excluded.version, step = excluded.step,"
                " message_count = excluded.message_count, updated_at = excluded.updated_at,"
                " header = excluded.header",
                (
                    sid,
                    state.agent,
                    state.tenant_id,
                    state.status.value,
                    stored + 1,
                    STATE_VERSION,
                    state.step,
                    len(state.messages),
                    now,
                    encode_header(state, updated_at=now),
                ),
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return stored + 1, now

    async def delete(self, session_id: str) -> bool:
        """Remove the session and its messages; True when it existed."""
        return await self._call(self._delete, _sid(session_id))

    def _delete(self, session_id: str) -> bool:
        con = self._connect()
        con.execute("BEGIN IMMEDIATE")
        try:
            gone = con.execute(f"DELETE FROM {self._h} WHERE session_id = ?", (session_id,))
            con.execute(f"DELETE FROM {self._m} WHERE session_id = ?", (session_id,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return gone.rowcount > 0

    async def revision(self, session_id: str) -> int:
        """The session's stored compare-and-set revision (0 when it does not exist)."""
        return await self._call(self._revision, _sid(session_id))

    def _revision(self, session_id: str) -> int:
        row = (
            self._connect()
            .execute(f"SELECT revision FROM {self._h} WHERE session_id = ?", (session_id,))
            .fetchone()
        )
        return int(row[0]) if row is not None else 0

    async def list(
        self, *, tenant_id: str | None = None, status: RunStatus | str | None = None
    ) -> builtins.list[CheckpointInfo]:
        """Session headers (no messages), oldest update first, optionally filtered by tenant
        and status (legacy names such as "completed" match their `RunStatus`).

        Raises:
            ValueError: `status` is not a `RunStatus` value.
        """
        rows = await self._call(self._list, tenant_id, status_values(status))
        found = []
        for r in rows:
            try:
                found_status = run_status(r[3])
            except ValueError:
                _log.warning(
                    "SQLiteCheckpoint.list skipped session %r: unknown status %r", r[0], r[3]
                )
                continue
            found.append(
                CheckpointInfo(
                    session_id=r[0],
                    agent=r[1],
                    tenant_id=r[2],
                    status=found_status,
                    revision=r[4],
                    step=r[5],
                    message_count=r[6],
                    updated_at=r[7],
                )
            )
        return found

    def _list(
        self, tenant_id: str | None, statuses: builtins.list[str] | None
    ) -> builtins.list[Any]:
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if tenant_id is not None:
            where.append("tenant_id = ?")
            params.append(tenant_id)
        if statuses is not None:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return (
            self._connect()
            .execute(
                f"SELECT session_id, agent, tenant_id, status, revision, step, message_count,"
                f" updated_at FROM {self._h}{clause} ORDER BY updated_at",
                params,
            )
            .fetchall()
        )
