"""`RedisCheckpoint`: sessions in Redis, one Lua script per compare-and-set write."""

from __future__ import annotations

import builtins
import json
import logging
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from spine_core import STATE_VERSION, CheckpointConflict, CheckpointInfo, RunStatus, State

from ._codec import (
    assemble,
    check_session_id,
    decode_header,
    encode_header,
    encode_messages,
    run_status,
)
from ._redis import DEFAULT_MAX_CONNECTIONS, DEFAULT_POOL_TIMEOUT_S, RedisStoreBase, join_key, text

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisCheckpoint"]

# KEYS: header hash, message list, session index set, the reference's key of the session.
# ARGV: expected revision, first index sent, total messages, STATE_VERSION, header JSON,
#       session id, then the messages from the first index sent.
# Returns {1, new revision} | {0, stored revision} (conflict) | {-1, index to send from}.
# The session's first write removes the reference's copy (a string; never another session's
# hash or list that happens to have that name).
_PUT = """
local stored = redis.call('HMGET', KEYS[1], 'revision', 'count', 'version')
local rev = tonumber(stored[1] or '0')
if rev ~= tonumber(ARGV[1]) then return {0, rev} end
local count = tonumber(stored[2] or '0')
local version = tonumber(stored[3] or ARGV[4])
local start, total = tonumber(ARGV[2]), tonumber(ARGV[3])
local skip = 0
if version < tonumber(ARGV[4]) or total < count then
  if start ~= 0 then return {-1, 0} end
  redis.call('DEL', KEYS[2])
else
  if start > count then return {-1, count} end
  skip = count - start
  if redis.call('LLEN', KEYS[2]) ~= count then redis.call('LTRIM', KEYS[2], 0, count - 1) end
end
for i = 7 + skip, #ARGV, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HSET', KEYS[1], 'revision', rev + 1, 'count', total, 'version', ARGV[4],
           'header', ARGV[5])
if rev == 0 then
  redis.call('SADD', KEYS[3], ARGV[6])
  if redis.call('TYPE', KEYS[4]).ok == 'string' then redis.call('DEL', KEYS[4]) end
end
return {1, rev + 1}
"""

_DELETE = """
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('DEL', KEYS[2])
local gone = 0
if redis.call('TYPE', KEYS[4]).ok == 'string' then gone = redis.call('DEL', KEYS[4]) end
return redis.call('DEL', KEYS[1]) + gone
"""

_KNOWN_MAX = 10_000
_log = logging.getLogger("spine_backends.redis")


class RedisCheckpoint(RedisStoreBase):
    """A `CheckpointStore` in Redis, shared by every worker that points at the same server.

    Layout under `prefix` (default "spine:checkpoint:", the reference's): a hash per session
    (`spine:checkpoint:s:{session_id}`: revision, message count, format version, JSON
    header), a list of JSON messages (`...:m:{session_id}`) and a set of session ids
    (`...:sessions`). A session the reference's store wrote (the state as one JSON string at
    prefix + session id) is read by `get` and moved to this layout by its first `put`; it is
    not in `list()` until then. `put` is one Lua script (atomic on the
    server): it checks the revision, appends the messages added since the stored count and
    replaces the header, so a write costs O(new messages). The store remembers the message
    count it last saw per session to send only the new messages in one round trip; when that
    guess is stale the script answers with the right index and the write is retried once.

    The client this store creates uses a blocking connection pool: at most
    `max_connections` commands are in flight, and further callers wait (up to
    `pool_timeout_s` seconds) for a free connection, so a thousand concurrent runs queue
    instead of failing with `MaxConnectionsError`. `list()` skips a session whose stored
    header is unreadable and logs it (logger "spine_backends.redis"), so one corrupt row
    cannot hide every other session.

    Redis keeps this data only as durably as the server is configured to (AOF / RDB); a
    single-node layout (the index set spans sessions, so Redis Cluster is not supported).

    Args:
        url: Redis URL (`redis://host:port/db`, `rediss://`, `unix://`); ignored with `client`.
        client: An existing `redis.asyncio.Redis` (not closed by `aclose`; its own pool).
        prefix: Key prefix; letters, digits and `_:.-`.
        max_connections: Most connections the created client's pool opens.
        pool_timeout_s: Seconds a command waits for a pooled connection before
            `redis.ConnectionError`; None waits forever.

    Raises:
        ValueError: invalid `prefix`, `max_connections` below 1, or (per call) a session id
            that is not valid Unicode.
        ImportError: `redis` is not installed (`pip install "spine-backends[redis]"`).
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379",
        *,
        client: Redis | None = None,
        prefix: str = "spine:checkpoint:",
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        pool_timeout_s: float | None = DEFAULT_POOL_TIMEOUT_S,
    ) -> None:
        super().__init__(
            url,
            client=client,
            prefix=prefix,
            max_connections=max_connections,
            pool_timeout_s=pool_timeout_s,
        )
        self._script: Any = None
        self._delete_script: Any = None
        self._known: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def _keys(self, session_id: str) -> list[str]:
        check_session_id(session_id, store="RedisCheckpoint")
        p = self._prefix
        return [
            join_key(p, "s", session_id),
            join_key(p, "m", session_id),
            self._index,
            p + session_id,  # the reference's layout: the whole state as one JSON string
        ]

    @property
    def _index(self) -> str:
        return join_key(self._prefix, "sessions")

    def _remember(self, session_id: str, revision: int, count: int) -> None:
        self._known[session_id] = (revision, count)
        self._known.move_to_end(session_id)
        if len(self._known) > _KNOWN_MAX:
            self._known.popitem(last=False)

    async def get(self, session_id: str) -> State | None:
        """The session's state, or None; old versions are migrated on read, and so is a
        session only the reference's `RedisCheckpoint` wrote (one JSON string at prefix +
        session id), which comes back at revision 0 until its first `put` here.

        Raises:
            ValueError: the stored state is from a newer Spine.
        """
        header_key, list_key, _, reference_key = self._keys(session_id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hmget(header_key, ["revision", "count", "header"])
            pipe.lrange(list_key, 0, -1)
            (revision, count, header), rows = await pipe.execute()
        if revision is None:
            return await self._reference_state(reference_key)
        revision, count = int(revision), int(count)
        self._remember(session_id, revision, count)
        return assemble(decode_header(header), rows[:count], revision)

    async def _reference_state(self, key: str) -> State | None:
        """A session the reference's `RedisCheckpoint` wrote (one JSON string at prefix +
        session id), migrated, at revision 0: its first `put` writes this store's layout
        and removes the string. None when there is none (or the key holds something else)."""
        from redis.exceptions import ResponseError  # redis is imported with the client

        try:
            raw = await self.client.get(key)
        except ResponseError:  # WRONGTYPE: another session's hash or list has that name
            return None
        if raw is None:
            return None
        state = State.load(json.loads(raw))
        state.revision = 0
        return state

    async def put(self, state: State) -> None:
        """Commit `state` if the stored revision equals `state.revision` (0 for a new
        session), appending only the new messages; then `state.revision` is the new revision
        and `state.updated_at` the commit time.

        Raises:
            CheckpointConflict: another writer committed first; nothing was changed.
        """
        sid = state.session_id
        if self._script is None:
            self._script = self.client.register_script(_PUT)
        known = self._known.get(sid)
        if state.revision == 0:
            count = 0
        elif known is not None and known[0] == state.revision:
            count = known[1]
        else:
            count = int(await self.client.hget(self._keys(sid)[0], "count") or 0)
        start = count if len(state.messages) >= count else 0
        now = time.time()
        header = encode_header(state, updated_at=now)
        for _ in range(3):
            args = [state.revision, start, len(state.messages), STATE_VERSION, header, sid]
            args.extend(encode_messages(state, start))
            code, value = await self._script(keys=self._keys(sid), args=args, client=self.client)
            if code == 1:
                state.revision = int(value)
                state.updated_at = now
                self._remember(sid, state.revision, len(state.messages))
                return
            if code == 0:
                self._known.pop(sid, None)
                raise CheckpointConflict(sid, state.revision, int(value))
            start = int(value)
        raise CheckpointConflict(sid, state.revision, state.revision)

    async def delete(self, session_id: str) -> bool:
        """Remove the session and its messages; True when it existed."""
        if self._delete_script is None:
            self._delete_script = self.client.register_script(_DELETE)
        self._known.pop(session_id, None)
        gone = await self._delete_script(
            keys=self._keys(session_id), args=[session_id], client=self.client
        )
        return int(gone) > 0

    async def revision(self, session_id: str) -> int:
        """The session's stored compare-and-set revision (0 when it does not exist)."""
        return int(await self.client.hget(self._keys(session_id)[0], "revision") or 0)

    async def list(
        self, *, tenant_id: str | None = None, status: RunStatus | str | None = None
    ) -> builtins.list[CheckpointInfo]:
        """Session headers (no messages), oldest update first, optionally filtered by tenant
        and status (legacy names such as "completed" match their `RunStatus`). Reads every
        header under the prefix (one pipelined round trip).

        Raises:
            ValueError: `status` is not a `RunStatus` value.
        """
        wanted = run_status(status) if status is not None else None
        ids = sorted(text(i) for i in await self.client.smembers(self._index))
        if not ids:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for sid in ids:
                pipe.hmget(self._keys(sid)[0], ["revision", "count", "header"])
            replies = await pipe.execute()
        found = []
        corrupt: builtins.list[str] = []
        for sid, (revision, count, raw) in zip(ids, replies, strict=True):
            if revision is None:
                continue
            try:
                info = _info(sid, revision, count, raw)
            except (ValueError, TypeError, AttributeError) as exc:  # bad JSON or fields
                corrupt.append(sid)
                _log.warning(
                    "RedisCheckpoint.list skipped session %r: unreadable header: %s", sid, exc
                )
                continue
            if (tenant_id is None or info.tenant_id == tenant_id) and (
                wanted is None or info.status == wanted
            ):
                found.append(info)
        if corrupt:
            _log.warning(
                "RedisCheckpoint.list skipped %d unreadable session(s): %s",
                len(corrupt),
                ", ".join(repr(c) for c in corrupt),
            )
        return sorted(found, key=lambda i: i.updated_at)


def _info(sid: str, revision: Any, count: Any, raw: Any) -> CheckpointInfo:
    """The `CheckpointInfo` of one stored header.

    Raises:
        ValueError / TypeError / AttributeError: the header is not a readable JSON object.
    """
    header = decode_header(raw)
    if not isinstance(header, dict):
        raise ValueError(f"the header is a JSON {type(header).__name__}, not an object")
    return CheckpointInfo(
        session_id=sid,
        agent=str(header.get("agent", "agent")),
        tenant_id=header.get("tenant_id"),
        status=run_status(header.get("status", "running")),
        revision=int(revision),
        step=int(header.get("step", 0)),
        message_count=int(count or 0),
        updated_at=float(header.get("updated_at", 0.0)),
    )
