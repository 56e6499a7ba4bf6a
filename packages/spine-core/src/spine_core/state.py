"""Durable session state, its versioned format and the `migrate()` chain for old versions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ._trusted import trusted
from .messages import DictAccess, Message, Role, ToolCall, Usage
from .stop import StopReason

__all__ = ["STATE_VERSION", "InterruptRequest", "RunStatus", "State", "migrate"]

STATE_VERSION = 3
"""The current persisted format. History (see `migrate`): 1 = first release, and the Spine API
reference's format; 2 = sub-agent depth; 3 = the reference's names (`pending`, `scratch`,
`RunStatus`)."""


class RunStatus(StrEnum):
    """Where a session stands."""

    RUNNING = "running"
    INTERRUPTED = "interrupted"
    DONE = "done"
    ERROR = "error"
    CANCELLED = "cancelled"


class InterruptRequest(DictAccess, BaseModel):
    """A pause waiting for a human.

    Reads by key like the reference's payload dict: `request["tool"]` and
    `request["arguments"]` for an approval, the tool's own payload keys (and "question") for
    an `Interrupt`; `data` is looked up first, then the fields.

    Attributes:
        id: Unique id; part of the resume token, so a stale token cannot answer a newer pause.
        kind: "approval" for an `approve=True` tool, "input" when a tool raised `Interrupt`.
        tool_call: The call waiting on the decision.
        question: What the human is asked.
        data: Extra context from the tool.
        decision: The human's decision once a resume claimed the pause (`{"action",
            "reason", "answer"}`); committed before the call runs, so exactly one resumer
            acts on it and a crashed one is continued with `Agent.run(None, session_id=...)`.
    """

    model_config = ConfigDict(defer_build=True)

    id: str
    kind: Literal["approval", "input"]
    tool_call: ToolCall
    question: str
    data: dict[str, Any] = Field(default_factory=dict)
    decision: dict[str, Any] | None = None

    def __getitem__(self, key: str) -> Any:
        if key in self.data:
            return self.data[key]
        return super().__getitem__(key)


class State(BaseModel):
    """The complete, resumable state of one session, loadable in any process.

    Attributes:
        version: Persisted format version (`STATE_VERSION`).
        session_id: The session key in the checkpoint store.
        agent: Name of the agent that owns the session.
        tenant_id: For per-tenant budgets, isolation and namespacing.
        status: Where the session stands (`RunStatus`).
        stopped_reason: Why the last run stopped.
        revision: Compare-and-set counter; each successful `CheckpointStore.put` adds one.
        depth: Sub-agent delegation depth (0 for a top-level run).
        step: Model calls made in the current run (reset at each new input).
        usage: Tokens and cost (USD) of the whole session (`add_usage` adds to it).
        usage_at_run_start: `usage` when the current run started; `run_usage` is the
            difference, which the guards and `Result.usage` count.
        messages: The whole conversation, append-only, the system prompt first.
        pending: The pause waiting for a human, when status is interrupted.
        scratch: Persisted per-session data for middleware (JSON-ready values).
    """

    model_config = ConfigDict(defer_build=True)

    version: int = STATE_VERSION
    session_id: str
    agent: str = "agent"
    tenant_id: str | None = None
    messages: list[Message] = Field(default_factory=list)
    step: int = 0
    usage: Usage = Field(default_factory=Usage)
    usage_at_run_start: Usage = Field(default_factory=Usage)
    status: RunStatus = RunStatus.RUNNING
    depth: int = 0
    pending: InterruptRequest | None = None
    scratch: dict[str, Any] = Field(default_factory=dict)
    stopped_reason: StopReason | None = None
    revision: int = 0
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)

    @classmethod
    def new(
        cls, session_id: str, agent: str = "agent", tenant_id: str | None = None, depth: int = 0
    ) -> State:
        """A new, empty session (what `State(session_id=..., ...)` builds, without
        re-validating values of the exact field types)."""
        if not (
            cls is State
            and type(session_id) is str
            and type(agent) is str
            and (tenant_id is None or type(tenant_id) is str)
            and type(depth) is int
        ):
            return cls(session_id=session_id, agent=agent, tenant_id=tenant_id, depth=depth)
        now = time.time()
        values: dict[str, Any] = {
            "version": STATE_VERSION,
            "session_id": session_id,
            "agent": agent,
            "tenant_id": tenant_id,
            "messages": [],
            "step": 0,
            "usage": Usage(),
            "usage_at_run_start": Usage(),
            "status": RunStatus.RUNNING,
            "depth": depth,
            "pending": None,
            "scratch": {},
            "stopped_reason": None,
            "revision": 0,
            "created_at": now,
            "updated_at": now,
        }
        return trusted(State, values, {"session_id", "agent", "tenant_id", "depth"})

    def add_message(self, message: Message) -> None:
        """Append a message to the history."""
        self.messages.append(message)

    def add_usage(self, usage: Usage) -> None:
        """Add a model call's usage to the session's totals."""
        self.usage.add(usage)

    @property
    def run_usage(self) -> Usage:
        """Tokens and cost (USD) of the current run (across its resumes)."""
        start = self.usage_at_run_start.__dict__
        values = {name: value - start[name] for name, value in self.usage.__dict__.items()}
        return trusted(Usage, values, set(values))  # differences of validated numbers

    def pending_tool_calls(self) -> list[ToolCall]:
        """Tool calls of the last assistant message that have no result yet, in call order."""
        for index in range(len(self.messages) - 1, -1, -1):
            message = self.messages[index]
            if message.role is Role.ASSISTANT:
                if not message.tool_calls:
                    return []
                answered = {m.tool_call_id for m in self.messages[index + 1 :]}
                return [c for c in message.tool_calls if c.id not in answered]
        return []

    def header(self) -> dict[str, Any]:
        """The state without its messages, JSON-ready (what stores keep in the header row)."""
        return self.model_dump(mode="json", exclude={"messages"})

    @classmethod
    def load(cls, data: dict[str, Any]) -> State:
        """Build a State from persisted data of any supported version (runs `migrate`)."""
        return cls.model_validate(migrate(data))


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 came in two shapes, both without `depth` (sub-agents came in version 2):

    - Spine's first release stored `history` with JSON-string tool arguments, `rev`, and token
      usage as `prompt_tokens` / `completion_tokens`.
    - The Spine API reference stores `messages`, `pending` (`{"call", "mode": "approve" |
      "manual", "payload"}`), `scratch` (with the calls deferred behind a pause under
      "deferred_calls") and `RunStatus` values; it has no revision.
    """
    if "history" not in data:
        return _reference_to_v2(data)
    out = {k: v for k, v in data.items() if k not in ("history", "rev", "usage")}
    messages = []
    for raw in data.get("history", []):
        msg = dict(raw)
        msg["tool_calls"] = [
            {**call, "arguments": json.loads(call["arguments"])}
            if isinstance(call.get("arguments"), str)
            else call
            for call in msg.get("tool_calls") or []
        ]
        messages.append(msg)
    usage = data.get("usage") or {}
    out["messages"] = messages
    out["revision"] = data.get("rev", 0)
    out["usage"] = {
        "input_tokens": usage.get("prompt_tokens", 0),
        "output_tokens": usage.get("completion_tokens", 0),
        "cost_usd": usage.get("cost_usd", 0.0),
    }
    out["depth"] = 0
    out["version"] = 2
    return out


_REFERENCE_STATUS = {"done": "completed", "error": "failed"}


def _reference_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in data.items() if k not in ("pending", "scratch", "status")}
    scratch = dict(data.get("scratch") or {})
    scratch.pop("deferred_calls", None)  # still the unanswered calls of the last message
    out["metadata"] = scratch
    status = str(data.get("status", "running"))
    out["status"] = _REFERENCE_STATUS.get(status, status)
    pending = data.get("pending")
    out["interrupt"] = None
    if pending:
        approval = pending.get("mode", "approve") == "approve"
        payload = pending.get("payload")
        data_field = payload if isinstance(payload, dict) else {"payload": payload}
        call = pending["call"]
        question = (
            f"Approve the call to '{call['name']}'?"
            if approval
            else str(data_field.get("question", payload))
        )
        out["interrupt"] = {
            "id": f"ref-{call['id']}",
            "kind": "approval" if approval else "input",
            "tool_call": call,
            "question": question,
            "data": data_field,
        }
    out["revision"] = data.get("revision", 0)
    out["depth"] = data.get("depth", 0)
    out["version"] = 2
    return out


_V2_STATUS = {"completed": "done", "stopped": "done", "failed": "error"}


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 takes the reference's names: `interrupt` -> `pending`, `metadata` ->
    `scratch`, and `RunStatus` values (completed / stopped -> done, failed -> error)."""
    out = {k: v for k, v in data.items() if k not in ("interrupt", "metadata")}
    out["pending"] = data.get("interrupt")
    out["scratch"] = data.get("metadata") or {}
    status = str(data.get("status", "running"))
    out["status"] = _V2_STATUS.get(status, status)
    out["version"] = 3
    return out


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Upgrade persisted state data to `STATE_VERSION`, one version step at a time.

    Raises:
        ValueError: the data is from a newer Spine (version above `STATE_VERSION`) or a version
            with no migration.
    """
    if (
        "history" not in data
        and "revision" not in data
        and ("scratch" in data or "pending" in data)
    ):
        data = _reference_to_v2(data)  # the reference's own format, whatever its version says
    version = int(data.get("version", 1))
    if version > STATE_VERSION:
        raise ValueError(
            f"state version {version} is newer than this Spine supports ({STATE_VERSION})"
        )
    while version < STATE_VERSION:
        step = _MIGRATIONS.get(version)
        if step is None:
            raise ValueError(f"no migration from state version {version}")
        data = step(data)
        version = int(data["version"])
    return data
