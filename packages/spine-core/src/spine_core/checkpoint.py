"""The checkpoint store contract and the in-memory store."""

from __future__ import annotations

import builtins
import copy
import functools
import time
from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, TypeAdapter

from .errors import CheckpointConflict
from .messages import Message, Usage
from .state import RunStatus, State

__all__ = ["CheckpointInfo", "CheckpointStore", "InMemoryCheckpointStore"]


class CheckpointInfo(BaseModel):
    """A session's header, as listed by `CheckpointStore.list` (no messages)."""

    model_config = ConfigDict(defer_build=True)

    session_id: str
    agent: str
    tenant_id: str | None
    status: RunStatus
    revision: int
    step: int
    message_count: int
    updated_at: float


@runtime_checkable
class CheckpointStore(Protocol):
    """Durable storage of `State`, with optimistic concurrency on `State.revision`.

    Contract (checked by `spine_core.testing.CheckpointStoreContract`):
    - `put(state)` commits only when the stored revision equals `state.revision` (0 for a new
      session); it then sets `state.revision` to the new revision. Otherwise it raises
      `CheckpointConflict` and changes nothing.
    - A write costs O(messages added since the last put), not O(history): messages are
      append-only.
    - `get` returns None for an unknown session and upgrades old versions (`State.load`).
    """

    async def get(self, session_id: str) -> State | None: ...

    async def put(self, state: State) -> None: ...

    async def delete(self, session_id: str) -> bool: ...

    async def list(
        self, *, tenant_id: str | None = None, status: RunStatus | str | None = None
    ) -> builtins.list[CheckpointInfo]: ...


class _Session:
    """One stored session: its header, and its messages as compact JSON chunks (older, cold)
    followed by message objects (recent)."""

    __slots__ = ("chunks", "count", "header", "messages")

    def __init__(self) -> None:
        self.header: dict[str, Any] = {}
        self.chunks: builtins.list[bytes] = []
        self.messages: builtins.list[Message] = []
        self.count = 0  # messages stored, in chunks and objects together


@functools.cache
def _messages_codec() -> TypeAdapter[builtins.list[Message]]:
    """Built on first compaction, not at import (a schema build costs milliseconds)."""
    return TypeAdapter(builtins.list[Message])


class InMemoryCheckpointStore:
    """A process-local `CheckpointStore` (the default of an `Agent` without one).

    The store appends only the new messages of each put. Messages of the `hot_sessions` most
    recently written sessions are kept as the objects the run appended (edit a copy of a
    stored message, not the message); older sessions' messages are compacted to JSON (about
    a tenth of the memory, and nothing for the garbage collector to walk) and decoded again
    by `get`. The header is a snapshot of the state's field values (mutable ones copied).

    Args:
        max_sessions: Sessions kept; past it the least recently used one (by `get` or `put`)
            is dropped, so a long-running server does not grow without bound. None keeps
            every session. A dropped session is gone: use a durable store (spine-backends)
            for sessions that must outlive that.
        hot_sessions: Sessions whose messages stay as objects (at least 1).

    Raises:
        ValueError: a bound below 1.
    """

    def __init__(self, max_sessions: int | None = 10_000, *, hot_sessions: int = 64) -> None:
        if max_sessions is not None and max_sessions < 1:
            raise ValueError("max_sessions must be at least 1 (or None for no bound)")
        if hot_sessions < 1:
            raise ValueError("hot_sessions must be at least 1")
        self.max_sessions = max_sessions
        self.hot_sessions = hot_sessions
        self._sessions: OrderedDict[str, _Session] = OrderedDict()
        self._hot: OrderedDict[str, _Session] = OrderedDict()

    async def get(self, session_id: str) -> State | None:
        session = self._sessions.get(session_id)
        if session is None:
            return None
        self._sessions.move_to_end(session_id)  # most recently used
        messages: builtins.list[Message] = []
        for chunk in session.chunks:
            messages.extend(_messages_codec().validate_json(chunk))
        messages.extend(session.messages)
        return _restore(session.header, messages)

    async def put(self, state: State) -> None:
        session_id = state.session_id
        session = self._sessions.get(session_id)
        stored = session.header["revision"] if session is not None else 0
        if stored != state.revision:
            raise CheckpointConflict(session_id, state.revision, stored)
        if session is None:
            session = self._sessions[session_id] = _Session()
        else:
            self._sessions.move_to_end(session_id)  # most recently used
        messages = state.messages
        if len(messages) > session.count:
            session.messages.extend(messages[session.count :])
            session.count = len(messages)
            self._warm(session_id, session)
        elif len(messages) < session.count:  # the caller rewrote its history: store it as given
            session.chunks, session.messages = [], list(messages)
            session.count = len(messages)
            self._warm(session_id, session)
        fields = state.__dict__
        fields["revision"] += 1
        fields["updated_at"] = time.time()
        session.header = _snapshot(state)
        if self.max_sessions is not None and len(self._sessions) > self.max_sessions:
            oldest, _ = self._sessions.popitem(last=False)
            self._hot.pop(oldest, None)

    def _warm(self, session_id: str, session: _Session) -> None:
        """Mark the session's messages as recent; compact the least recent session past
        `hot_sessions`."""
        hot = self._hot
        hot[session_id] = session
        hot.move_to_end(session_id)
        if len(hot) > self.hot_sessions:
            _, cold = hot.popitem(last=False)
            if cold.messages:
                cold.chunks.append(_messages_codec().dump_json(cold.messages))
                cold.messages = []

    async def delete(self, session_id: str) -> bool:
        self._hot.pop(session_id, None)
        return self._sessions.pop(session_id, None) is not None

    async def list(
        self, *, tenant_id: str | None = None, status: RunStatus | str | None = None
    ) -> builtins.list[CheckpointInfo]:
        wanted = RunStatus(status) if status is not None else None
        infos = []
        for session in self._sessions.values():
            header = session.header
            if tenant_id is not None and header["tenant_id"] != tenant_id:
                continue
            if wanted is not None and header["status"] != wanted:
                continue
            infos.append(
                CheckpointInfo(
                    session_id=header["session_id"],
                    agent=header["agent"],
                    tenant_id=header["tenant_id"],
                    status=header["status"],
                    revision=header["revision"],
                    step=header["step"],
                    message_count=session.count,
                    updated_at=header["updated_at"],
                )
            )
        return infos


def _snapshot(state: State) -> dict[str, Any]:
    fields = dict(state.__dict__)
    fields["messages"] = None
    fields["usage"] = dict(state.usage.__dict__)
    fields["usage_at_run_start"] = dict(state.usage_at_run_start.__dict__)
    fields["scratch"] = _copy_scratch(state.scratch) if state.scratch else {}
    if state.pending is not None:
        fields["pending"] = state.pending.model_copy(deep=True)
    return fields


_ATOMS = frozenset((str, int, float, bool, type(None)))


def _copy_scratch(scratch: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `State.scratch`: JSON-shaped data (dicts, lists, strings, numbers, as
    a durable store needs it) is walked directly, several times faster than `copy.deepcopy`;
    anything else in it (tuples, sets, objects) and a self-referencing value go through
    `copy.deepcopy`, which keeps shared references and cycles."""
    try:
        copied: dict[str, Any] = _copy_json(scratch)
    except RecursionError:
        return copy.deepcopy(scratch)
    return copied


def _copy_json(value: Any) -> Any:
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return {key: _copy_json(item) for key, item in value.items()}
    if kind is list:
        return [_copy_json(item) for item in value]
    return copy.deepcopy(value)


def _restore(header: dict[str, Any], messages: builtins.list[Message]) -> State:
    fields = dict(header)
    fields["messages"] = messages
    fields["usage"] = Usage.model_construct(**header["usage"])
    fields["usage_at_run_start"] = Usage.model_construct(**header["usage_at_run_start"])
    fields["scratch"] = _copy_scratch(header["scratch"]) if header["scratch"] else {}
    if header["pending"] is not None:
        fields["pending"] = header["pending"].model_copy(deep=True)
    return State.model_construct(**fields)
