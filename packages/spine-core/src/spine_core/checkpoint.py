"""The checkpoint store contract and the in-memory store."""

from __future__ import annotations

import builtins
import copy
import time
from collections import OrderedDict
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

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


class InMemoryCheckpointStore:
    """A process-local `CheckpointStore` (the default of an `Agent` without one).

    The store keeps references to the messages and appends only the new ones (edit a copy of
    a stored message, not the message); the header is a snapshot of the state's field values
    (mutable ones copied).

    Args:
        max_sessions: Sessions kept; past it the least recently used one (by `get` or `put`)
            is dropped, so a long-running server does not grow without bound. None keeps
            every session. A dropped session is gone: use a durable store (spine-backends)
            for sessions that must outlive that.
    """

    def __init__(self, max_sessions: int | None = 10_000) -> None:
        if max_sessions is not None and max_sessions < 1:
            raise ValueError("max_sessions must be at least 1 (or None for no bound)")
        self.max_sessions = max_sessions
        self._headers: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._messages: dict[str, list[Message]] = {}

    async def get(self, session_id: str) -> State | None:
        header = self._headers.get(session_id)
        if header is None:
            return None
        self._headers.move_to_end(session_id)  # most recently used
        return _restore(header, list(self._messages[session_id]))

    async def put(self, state: State) -> None:
        header = self._headers.get(state.session_id)
        stored = header["revision"] if header is not None else 0
        if stored != state.revision:
            raise CheckpointConflict(state.session_id, state.revision, stored)
        history = self._messages.setdefault(state.session_id, [])
        if len(state.messages) >= len(history):
            history.extend(state.messages[len(history) :])
        else:  # the caller rewrote its history: store it as given
            history[:] = state.messages
        fields = state.__dict__
        fields["revision"] += 1
        fields["updated_at"] = time.time()
        self._headers[state.session_id] = _snapshot(state)
        self._headers.move_to_end(state.session_id)  # most recently used
        if self.max_sessions is not None and len(self._headers) > self.max_sessions:
            oldest, _ = self._headers.popitem(last=False)
            self._messages.pop(oldest, None)

    async def delete(self, session_id: str) -> bool:
        self._messages.pop(session_id, None)
        return self._headers.pop(session_id, None) is not None

    async def list(
        self, *, tenant_id: str | None = None, status: RunStatus | str | None = None
    ) -> builtins.list[CheckpointInfo]:
        wanted = RunStatus(status) if status is not None else None
        return [
            CheckpointInfo(
                session_id=h["session_id"],
                agent=h["agent"],
                tenant_id=h["tenant_id"],
                status=h["status"],
                revision=h["revision"],
                step=h["step"],
                message_count=len(self._messages[h["session_id"]]),
                updated_at=h["updated_at"],
            )
            for h in self._headers.values()
            if (tenant_id is None or h["tenant_id"] == tenant_id)
            and (wanted is None or h["status"] == wanted)
        ]


def _snapshot(state: State) -> dict[str, Any]:
    fields = dict(state.__dict__)
    fields["messages"] = None
    fields["usage"] = dict(state.usage.__dict__)
    fields["usage_at_run_start"] = dict(state.usage_at_run_start.__dict__)
    fields["scratch"] = copy.deepcopy(state.scratch) if state.scratch else {}
    if state.pending is not None:
        fields["pending"] = state.pending.model_copy(deep=True)
    return fields


def _restore(header: dict[str, Any], messages: builtins.list[Message]) -> State:
    fields = dict(header)
    fields["messages"] = messages
    fields["usage"] = Usage.model_construct(**header["usage"])
    fields["usage_at_run_start"] = Usage.model_construct(**header["usage_at_run_start"])
    fields["scratch"] = copy.deepcopy(header["scratch"])
    if header["pending"] is not None:
        fields["pending"] = header["pending"].model_copy(deep=True)
    return State.model_construct(**fields)
