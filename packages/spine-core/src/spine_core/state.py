"""Durable session state, its versioned format and the `migrate()` chain for old versions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .messages import Message, Role, ToolCall, Usage
from .stop import StopReason

__all__ = ["STATE_VERSION", "InterruptRequest", "SessionStatus", "State", "migrate"]

STATE_VERSION = 2
"""The current persisted format. History: 1 = first release (see `migrate`)."""


class SessionStatus(StrEnum):
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAILED = "failed"
    CANCELLED = "cancelled"


class InterruptRequest(BaseModel):
    """A pause waiting for a human.

    Attributes:
        id: Unique id; part of the resume token, so a stale token cannot answer a newer pause.
        kind: "approval" for an `approve=True` tool, "input" when a tool raised `Interrupt`.
        tool_call: The call waiting on the decision.
        question: What the human is asked.
        data: Extra context from the tool.
    """

    model_config = ConfigDict(defer_build=True)

    id: str
    kind: Literal["approval", "input"]
    tool_call: ToolCall
    question: str
    data: dict[str, Any] = Field(default_factory=dict)


class State(BaseModel):
    """Everything needed to continue a session in any process.

    Attributes:
        version: Persisted format version (`STATE_VERSION`).
        session_id: The session key in the checkpoint store.
        revision: Compare-and-set counter; each successful `CheckpointStore.put` adds one.
        depth: Sub-agent delegation depth (0 for a top-level run).
        step: Model calls made in the current turn.
        usage: Tokens and cost of the current turn (USD).
        messages: The whole conversation, append-only (system prompt excluded).
        interrupt: The pending human decision, when status is interrupted.
    """

    model_config = ConfigDict(defer_build=True)

    version: int = STATE_VERSION
    session_id: str
    agent: str = "agent"
    tenant_id: str | None = None
    status: SessionStatus = SessionStatus.RUNNING
    stopped_reason: StopReason | None = None
    revision: int = 0
    depth: int = 0
    step: int = 0
    usage: Usage = Field(default_factory=Usage)
    messages: list[Message] = Field(default_factory=list)
    interrupt: InterruptRequest | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: float = Field(default_factory=time.time)
    updated_at: float = Field(default_factory=time.time)

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
    """Version 1 stored `history` with JSON-string tool arguments, `rev`, and token usage as
    `prompt_tokens` / `completion_tokens`; it had no `depth` (sub-agents came in version 2)."""
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


_MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Upgrade persisted state data to `STATE_VERSION`, one version step at a time.

    Raises:
        ValueError: the data is from a newer Spine (version above `STATE_VERSION`) or a version
            with no migration.
    """
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
