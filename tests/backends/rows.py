"""Raw access to each checkpoint store's layout, to plant sessions the way an older Spine
wrote them and to inspect what a store persisted."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from spine_backends import PostgresCheckpoint, RedisCheckpoint, SQLiteCheckpoint

__all__ = ["read_raw_header", "write_raw"]

_COLUMNS = (
    "session_id, agent, tenant_id, status, revision, version, step, message_count, updated_at,"
    " header"
)


async def write_raw(
    store: Any, header: dict[str, Any], messages: list[dict[str, Any]], revision: int
) -> None:
    """Persist one session as `header` (state fields without messages and revision), message
    rows and revision, directly in `store`'s tables or keys."""
    sid = header["session_id"]
    columns = (
        sid,
        header.get("agent", "agent"),
        header.get("tenant_id"),
        header.get("status", "running"),
        revision,
        header.get("version", 1),
        header.get("step", 0),
        len(messages),
        header.get("updated_at", 0.0),
        json.dumps(header),
    )
    bodies = [json.dumps(m) for m in messages]
    await store.list()  # creates the tables
    if isinstance(store, SQLiteCheckpoint):
        with sqlite3.connect(store.path) as con:
            con.execute(
                f"INSERT INTO {store._h} ({_COLUMNS}) VALUES ({', '.join('?' * 10)})", columns
            )
            con.executemany(
                f"INSERT INTO {store._m} VALUES (?, ?, ?)",
                [(sid, i, body) for i, body in enumerate(bodies)],
            )
    elif isinstance(store, PostgresCheckpoint):
        pool = await store._pool()
        await pool.execute(
            f"INSERT INTO {store._h} ({_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)",
            *columns,
        )
        await pool.executemany(
            f"INSERT INTO {store._m} VALUES ($1, $2, $3)",
            [(sid, i, body) for i, body in enumerate(bodies)],
        )
    elif isinstance(store, RedisCheckpoint):
        hkey, lkey, index, _ = store._keys(sid)
        fields: dict[Any, Any] = {
            "revision": revision,
            "count": len(messages),
            "version": header.get("version", 1),
            "header": json.dumps(header),
        }
        await store.client.hset(hkey, mapping=fields)
        if bodies:
            await store.client.rpush(lkey, *bodies)
        await store.client.sadd(index, sid)
    else:
        raise TypeError(f"no raw layout for {type(store).__name__}")


async def read_raw_header(store: Any, session_id: str) -> dict[str, Any]:
    """The stored header of a session plus its `status` and `version` as the store's own
    columns / fields hold them (`_status`, `_version`)."""
    if isinstance(store, SQLiteCheckpoint):
        with sqlite3.connect(store.path) as con:
            status, version, raw = con.execute(
                f"SELECT status, version, header FROM {store._h} WHERE session_id = ?",
                (session_id,),
            ).fetchone()
    elif isinstance(store, PostgresCheckpoint):
        pool = await store._pool()
        row = await pool.fetchrow(
            f"SELECT status, version, header::text FROM {store._h} WHERE session_id = $1",
            session_id,
        )
        status, version, raw = row
    else:
        version, raw = await store.client.hmget(store._keys(session_id)[0], ["version", "header"])
        status = json.loads(raw)["status"]
    header: dict[str, Any] = json.loads(raw)
    return {**header, "_status": status, "_version": int(version)}
