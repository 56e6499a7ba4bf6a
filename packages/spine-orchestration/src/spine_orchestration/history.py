"""A graph run's checkpoint log, and reading it back: its checkpoints and where it stands.

A graph run is one session in a `CheckpointStore`. Its messages are an append-only log of
records (the record kind in `Message.name`, its JSON in `content`), so each write stores
only the new records, whatever the length of the run:

- `graph.start` `{"values"}`: the state of a new run;
- `graph.input` `{"update"}`: a new input to a finished run (merged by the reducers);
- `graph.update` `{"update"}`: an edit made by `Workflow.fork`;
- `graph.write` `{"node", "step", "update", "usage"?}`: a node finished (checkpointed as
  soon as it did, so a crash never re-runs it);
- `graph.checkpoint` `{"step", "next", "joins", "ts"}`: a step ended: its writes were
  merged in node order, and `next` are the nodes of the following step.

The state at a checkpoint is replayed from the records before it (reducers are applied in
the same order as when the run happened).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_json

from spine_core import Message, Role, Usage

from ._schema import Schema

__all__ = ["Checkpoint"]

START, INPUT, UPDATE, WRITE, CHECKPOINT = (
    "graph.start",
    "graph.input",
    "graph.update",
    "graph.write",
    "graph.checkpoint",
)


class Checkpoint(BaseModel):
    """A graph run as it stood at the end of a step (from `Workflow.history`).

    Attributes:
        step: The step number (0: the input, before any node ran).
        next: The nodes the following step runs (empty: the run was complete).
        values: The state (an instance of the state type, or a dict for a TypedDict).
        created_at: When the step ended, seconds since the epoch.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, defer_build=True)

    step: int
    next: list[str]
    values: Any
    created_at: float


def record(kind: str, payload: dict[str, Any]) -> Message:
    """A log record as a message (`payload` is JSON-ready)."""
    return Message.model_validate(
        {"role": Role.ASSISTANT, "content": to_json(payload).decode(), "name": kind}
    )


def checkpoint_record(step: int, next: list[str], joins: dict[str, list[str]]) -> Message:
    return record(CHECKPOINT, {"step": step, "next": next, "joins": joins, "ts": time.time()})


@dataclass(slots=True)
class Cursor:
    """Where a run stands: the state at its last checkpoint and the writes since.

    Attributes:
        values: The state values at the last checkpoint.
        step: That checkpoint's step.
        next: The nodes of the step after it.
        joins: Fan-in bookkeeping: join index -> sources finished since it last fired.
        writes: node -> update, for nodes of the current step that already finished.
        usage: Tokens and cost (USD) of every agent node that finished.
        checkpoints: (index of the checkpoint record, Checkpoint) when collected.
    """

    values: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    next: list[str] = field(default_factory=list)
    joins: dict[str, list[str]] = field(default_factory=dict)
    writes: dict[str, dict[str, Any]] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    checkpoints: list[tuple[int, Checkpoint]] = field(default_factory=list)


def replay(schema: Schema, messages: list[Message], *, collect: bool = False) -> Cursor:
    """Read a run's log back (see the module docstring).

    Raises:
        ValueError: the session is not a graph run's log.
    """
    cursor = Cursor()
    if not messages or messages[0].name != START:
        raise ValueError("this session is not a graph run (no graph.start record)")
    for index, message in enumerate(messages):
        kind = message.name
        data = json.loads(message.content or "{}")
        if kind == WRITE:
            cursor.writes[data["node"]] = schema.load(data["update"])
            if "usage" in data:
                cursor.usage.add(Usage.model_validate(data["usage"]))
        elif kind == CHECKPOINT:
            if cursor.writes:
                order = [(n, cursor.writes[n]) for n in cursor.next if n in cursor.writes]
                cursor.values = schema.merge(cursor.values, order)
                cursor.writes = {}
            cursor.step, cursor.next, cursor.joins = data["step"], data["next"], data["joins"]
            if collect:
                snapshot = Checkpoint(
                    step=cursor.step,
                    next=list(cursor.next),
                    values=schema.view(cursor.values),
                    created_at=data.get("ts", 0.0),
                )
                cursor.checkpoints.append((index, snapshot))
        elif kind == START:
            cursor.values = schema.load(data["values"])
        elif kind in (INPUT, UPDATE):
            cursor.writes = {}  # a new input drops the unfinished step
            cursor.values = schema.merge(cursor.values, [(kind, schema.load(data["update"]))])
    return cursor
