"""`PostgresCheckpoint`: sessions in PostgreSQL through an asyncpg pool."""

from __future__ import annotations

import base64
import builtins
import json
import logging
import time
from collections import OrderedDict
from typing import Any

from spine_core import STATE_VERSION, CheckpointConflict, CheckpointInfo, RunStatus, State

from ._codec import (
    REFERENCE_KEY,
    assemble,
    check_session_id,
    encode_header,
    encode_messages,
    run_status,
    status_values,
    validate_identifier,
)
from ._postgres import PoolOwner, qualified

__all__ = ["PostgresCheckpoint"]

_log = logging.getLogger("spine_backends")

_DDL = """
CREATE TABLE IF NOT EXISTS {h} (
    session_id text PRIMARY KEY,
    agent text NOT NULL,
    tenant_id text,
    status text NOT NULL,
    revision bigint NOT NULL,
    version integer NOT NULL,
    step integer NOT NULL,
    message_count integer NOT NULL,
    updated_at double precision NOT NULL,
    header jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS {t}_tenant_status ON {h} (tenant_id, status);
CREATE TABLE IF NOT EXISTS {m} (
    session_id text NOT NULL,
    seq integer NOT NULL,
    body text NOT NULL,
    PRIMARY KEY (session_id, seq)
);
"""

# Sessions the Spine API reference's PostgresCheckpoint wrote: one row per session in {table}
# (session_id, version, revision, data jsonb: the whole state, updated timestamptz). Moved to
# {table}_reference and copied into this layout, once, by the store's first DDL.
_REFERENCE_COLUMNS = (
    "SELECT coalesce(array_agg(attname::text), ARRAY[]::text[]) FROM pg_attribute"
    " WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped"
)
_COPY_HEADERS = """
WITH ins AS (
    INSERT INTO {h} (session_id, agent, tenant_id, status, revision, version, step,
        message_count, updated_at, header)
    SELECT session_id, coalesce(data->>'agent', 'agent'), data->>'tenant_id',
        coalesce(data->>'status', 'running'), revision, version,
        coalesce((data->>'step')::integer, 0),
        CASE WHEN jsonb_typeof(data->'messages') = 'array'
            THEN jsonb_array_length(data->'messages') ELSE 0 END,
        extract(epoch FROM updated)::double precision,
        (data - 'messages') || jsonb_build_object(
            'updated_at', extract(epoch FROM updated)::double precision, $1::text, true)
    FROM {src}
    RETURNING 1)
SELECT count(*) FROM ins
"""
_COPY_MESSAGES = """
INSERT INTO {m} (session_id, seq, body)
SELECT r.session_id, e.o::integer - 1, e.b::text
FROM {src} r, jsonb_array_elements(CASE WHEN jsonb_typeof(r.data->'messages') = 'array'
    THEN r.data->'messages' ELSE '[]'::jsonb END) WITH ORDINALITY AS e(b, o)
"""

_B64 = "$spine_b64"
_MAX_ID_BYTES = 2048  # under the 2,704-byte btree row limit of the (session_id, seq) keys


def _sid(session_id: str) -> str:
    return check_session_id(
        session_id, store="PostgresCheckpoint", allow_nul=False, max_bytes=_MAX_ID_BYTES
    )


_KNOWN_MAX = 10_000


class PostgresCheckpoint:
    """A `CheckpointStore` in PostgreSQL, shared by every worker on the same database.

    Layout: a header table (`{table}`: revision, status, tenant, message count, format
    version and the header as JSONB) and a child table of messages (`{table}_messages`,
    keyed by session and position; bodies are JSON text, because jsonb cannot hold the
    U+0000 character that tool output can contain). A `put` is a single statement in the
    common case: an `UPDATE ... WHERE revision = $expected` (row-locked, so concurrent
    writers serialise and exactly one matches) joined with the insert of the new messages
    only, so a write costs O(new messages). The store remembers the message count it last
    saw per session; when it does not know it, or the history was shortened, the write
    runs in a transaction that locks the header row first.

    Args:
        dsn: PostgreSQL URL for the pool this store creates on first use.
        pool: An existing `asyncpg.Pool` instead (not closed by `aclose`).
        table: Header table name (messages go to `{table}_messages`); an SQL identifier.
        schema: Optional schema (created when missing); an SQL identifier.
        min_size: Connections the created pool keeps open.
        max_size: Most connections the created pool opens.

    Raises:
        ValueError: invalid `table` or `schema`, or neither `dsn` nor `pool`.
        ImportError: asyncpg is missing (`pip install "spine-backends[postgres]"`).
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        pool: Any = None,
        table: str = "spine_checkpoints",
        schema: str | None = None,
        min_size: int = 1,
        max_size: int = 10,
    ) -> None:
        name = validate_identifier(table)
        validate_identifier(f"{table}_messages")
        if schema is not None:
            validate_identifier(schema, what="schema name")
        self._name, self._schema = name, schema
        self._h = qualified(schema, name)
        self._m = qualified(schema, f"{name}_messages")
        self._ddl = _DDL.format(
            h=self._h,
            m=self._m,
            t=name,
        )
        self._owner = PoolOwner(dsn, pool, min_size=min_size, max_size=max_size)
        self._known: OrderedDict[str, tuple[int, int]] = OrderedDict()
        h, m = self._h, self._m
        self._sql_get = (
            f"SELECT h.revision, h.header::text, h.message_count, ARRAY(SELECT body FROM {m}"
            " WHERE session_id = $1 AND seq < h.message_count ORDER BY seq)"
            f" FROM {h} h WHERE h.session_id = $1"
        )
        new_rows = (
            f"INSERT INTO {m} (session_id, seq, body) SELECT $1, $3 + o::integer - 1, b"
            " FROM unnest($4::text[]) WITH ORDINALITY AS u(b, o)"
        )
        self._sql_append = (
            f"WITH upd AS (UPDATE {h} SET agent = $5, tenant_id = $6, status = $7,"
            " revision = revision + 1, step = $9, message_count = $10, updated_at = $11,"
            " header = $12::text::jsonb"
            " WHERE session_id = $1 AND revision = $2 AND message_count = $3 AND version = $8"
            " RETURNING revision),"
            f" ins AS ({new_rows} WHERE EXISTS (SELECT 1 FROM upd))"
            " SELECT revision FROM upd"
        )
        self._sql_create = (
            f"WITH upd AS (INSERT INTO {h} (session_id, agent, tenant_id, status, revision,"
            " version, step, message_count, updated_at, header)"
            " SELECT $1, $5, $6, $7, $2 + 1, $8, $9, $10, $11, $12::text::jsonb"
            " ON CONFLICT (session_id) DO NOTHING RETURNING revision),"
            f" ins AS ({new_rows} WHERE EXISTS (SELECT 1 FROM upd))"
            " SELECT revision FROM upd"
        )
        self._sql_lock = (
            f"SELECT revision, message_count, version FROM {h} WHERE session_id = $1 FOR UPDATE"
        )
        self._sql_update = (
            f"UPDATE {h} SET agent = $2, tenant_id = $3, status = $4, revision = $5,"
            " version = $6, step = $7, message_count = $8, updated_at = $9,"
            " header = $10::text::jsonb WHERE session_id = $1"
        )
        self._sql_rows = (
            f"INSERT INTO {m} (session_id, seq, body) SELECT $1, $2 + o::integer - 1, b"
            " FROM unnest($3::text[]) WITH ORDINALITY AS u(b, o)"
        )
        self._sql_delete = (
            f"WITH d AS (DELETE FROM {h} WHERE session_id = $1 RETURNING 1),"
            f" m AS (DELETE FROM {m} WHERE session_id = $1) SELECT count(*) FROM d"
        )

    async def _pool(self) -> Any:
        return await self._owner.pool(self._prepare, f"spine:{self._h}")

    async def _prepare(self, con: Any) -> None:
        """Create the tables (inside `PoolOwner`'s locked transaction). When `{table}` is the
        Spine API reference's table (a `data` column, no `header`), it is renamed
        `{table}_reference`, kept as it is, and its rows are copied into this layout in SQL:
        the state JSON minus its messages as the header (marked `REFERENCE_KEY`, read by
        `assemble` as the reference's shape), each message a row.

        Raises:
            ValueError: `{table}_reference` would not be a valid identifier (63 characters).
        """
        if self._schema:
            await con.execute(f"CREATE SCHEMA IF NOT EXISTS {self._schema}")
        columns = set(await con.fetchval(_REFERENCE_COLUMNS, self._h))
        if "data" not in columns or "header" in columns:
            await con.execute(self._ddl)
            return
        backup = validate_identifier(f"{self._name}_reference", what="backup table name")
        kept = qualified(self._schema, backup)
        await con.execute(f"ALTER TABLE {self._h} RENAME TO {backup}")
        await con.execute(self._ddl)
        count = await con.fetchval(_COPY_HEADERS.format(h=self._h, src=kept), REFERENCE_KEY)
        await con.execute(_COPY_MESSAGES.format(m=self._m, src=kept))
        _log.warning(
            "PostgresCheckpoint copied %d sessions the reference's store wrote in %s into this"
            " store's layout; the original rows are kept in %s",
            count,
            self._h,
            kept,
        )

    async def __aenter__(self) -> PostgresCheckpoint:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool this store created."""
        await self._owner.aclose()

    def _remember(self, session_id: str, revision: int, count: int) -> None:
        self._known[session_id] = (revision, count)
        self._known.move_to_end(session_id)
        if len(self._known) > _KNOWN_MAX:
            self._known.popitem(last=False)

    async def get(self, session_id: str) -> State | None:
        """The session's state, or None; old versions are migrated on read (one statement,
        so header and messages come from the same snapshot).

        Raises:
            ValueError: the stored state is from a newer Spine.
        """
        _sid(session_id)
        pool = await self._pool()
        row = await pool.fetchrow(self._sql_get, session_id)
        if row is None:
            return None
        revision, header, count, bodies = row
        self._remember(session_id, revision, count)
        return assemble(_decode_header(header), bodies, revision)

    async def put(self, state: State) -> None:
        """Commit `state` if the stored revision equals `state.revision` (0 for a new
        session), inserting only the new messages; then `state.revision` is the new revision
        and `state.updated_at` the commit time.

        Raises:
            CheckpointConflict: another writer committed first; nothing was changed.
        """
        sid, now, total = _sid(state.session_id), time.time(), len(state.messages)
        pool = await self._pool()
        header = _encode_header(encode_header(state, updated_at=now))
        fields = [state.agent, state.tenant_id, state.status.value, STATE_VERSION, state.step]
        known = self._known.get(sid)
        revision: int | None = None
        if state.revision == 0:
            bodies = encode_messages(state, 0)
            revision = await pool.fetchval(
                self._sql_create, sid, 0, 0, bodies, *fields, total, now, header
            )
            if revision is None:
                raise CheckpointConflict(sid, 0, await self.revision(sid))
        elif known is not None and known[0] == state.revision and total >= known[1]:
            bodies = encode_messages(state, known[1])
            revision = await pool.fetchval(
                self._sql_append, sid, state.revision, known[1], bodies, *fields, total, now, header
            )
        if revision is None:
            revision = await self._put_locked(pool, state, fields, now, header)
        state.revision = int(revision)
        state.updated_at = now
        self._remember(sid, state.revision, total)

    async def _put_locked(
        self, pool: Any, state: State, fields: builtins.list[Any], now: float, header: str
    ) -> int:
        sid, total = state.session_id, len(state.messages)
        async with pool.acquire() as con, con.transaction():
            row = await con.fetchrow(self._sql_lock, sid)
            stored = row["revision"] if row is not None else 0
            if row is None or stored != state.revision:
                self._known.pop(sid, None)
                raise CheckpointConflict(sid, state.revision, stored)
            start = row["message_count"]
            if row["version"] < STATE_VERSION or total < start:
                await con.execute(f"DELETE FROM {self._m} WHERE session_id = $1", sid)
                start = 0
            await con.execute(self._sql_rows, sid, start, encode_messages(state, start))
            await con.execute(
                self._sql_update, sid, *fields[:3], stored + 1, *fields[3:], total, now, header
            )
        return int(stored) + 1

    async def delete(self, session_id: str) -> bool:
        """Remove the session and its messages (one statement); True when it existed."""
        _sid(session_id)
        pool = await self._pool()
        self._known.pop(session_id, None)
        return int(await pool.fetchval(self._sql_delete, session_id)) > 0

    async def revision(self, session_id: str) -> int:
        """The session's stored compare-and-set revision (0 when it does not exist)."""
        _sid(session_id)
        pool = await self._pool()
        stored = await pool.fetchval(
            f"SELECT revision FROM {self._h} WHERE session_id = $1", session_id
        )
        return int(stored or 0)

    async def list(
        self, *, tenant_id: str | None = None, status: RunStatus | str | None = None
    ) -> builtins.list[CheckpointInfo]:
        """Session headers (no messages), oldest update first, optionally filtered by tenant
        and status (legacy names such as "completed" match their `RunStatus`).

        Raises:
            ValueError: `status` is not a `RunStatus` value.
        """
        statuses = status_values(status)
        pool = await self._pool()
        rows = await pool.fetch(
            "SELECT session_id, agent, tenant_id, status, revision, step, message_count,"
            f" updated_at FROM {self._h}"
            " WHERE ($1::text IS NULL OR tenant_id = $1)"
            " AND ($2::text[] IS NULL OR status = ANY($2::text[]))"
            " ORDER BY updated_at",
            tenant_id,
            statuses,
        )
        found = []
        for r in rows:
            try:
                found_status = run_status(r["status"])
            except ValueError:
                _log.warning(
                    "PostgresCheckpoint.list skipped session %r: unknown status %r",
                    r[0],
                    r["status"],
                )
                continue
            found.append(
                CheckpointInfo(
                    session_id=r["session_id"],
                    agent=r["agent"],
                    tenant_id=r["tenant_id"],
                    status=found_status,
                    revision=r["revision"],
                    step=r["step"],
                    message_count=r["message_count"],
                    updated_at=r["updated_at"],
                )
            )
        return found


def _encode_header(header: str) -> str:
    """jsonb rejects U+0000; such a (rare) header is stored base64-wrapped, losslessly."""
    if "\\u0000" not in header:
        return header
    return json.dumps({_B64: base64.b64encode(header.encode()).decode()})


def _decode_header(raw: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    if len(data) == 1 and _B64 in data:
        decoded: dict[str, Any] = json.loads(base64.b64decode(data[_B64]))
        return decoded
    return data
