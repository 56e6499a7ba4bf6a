"""Trace events: what happened during a run, in order, streamed live when asked."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from time import time as _now
from typing import Any

import anyio

from ._channel import EventChannel

__all__ = ["EventType", "TraceEvent", "Tracer"]


class EventType(StrEnum):
    STEP_START = "step_start"
    MODEL_CALL = "model_call"
    TOKEN = "token"
    THINKING = "thinking"
    MODEL_RESPONSE = "model_response"
    TOOL_CALL_DELTA = "tool_call_delta"
    TOOL_CALL = "tool_call"
    TOOL_RESULT = "tool_result"
    INTERRUPT = "interrupt"
    GUARD_TRIP = "guard_trip"
    ERROR = "error"
    FINAL = "final"


_TOKEN = EventType.TOKEN


@dataclass(slots=True)
class TraceEvent:
    """One event of a run (a slots dataclass: the loop emits several per step).

    Attributes:
        type: What happened.
        step: The step number it belongs to (1-based; 0 before the first model call).
        ts: Wall-clock time, seconds since the epoch.
        data: Event details (JSON-ready), e.g. `{"text": "..."}` for a token,
            `{"name", "arguments", "id"}` for a tool call, `{"index", "id", "name",
            "arguments_delta"}` for a streamed tool-call fragment (a JSON piece of the
            arguments; id and name on a call's first fragment), `{"reason"}` for a guard trip.
    """

    type: EventType
    step: int = 0
    ts: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The event as a plain dict (`type` as its string value)."""
        out = asdict(self)
        out["type"] = self.type.value
        return out


class Tracer:
    """Collects a run's events and, when streaming, forwards each one live."""

    __slots__ = ("events", "sink", "step")

    def __init__(self, sink: EventChannel[TraceEvent] | None = None) -> None:
        self.events: list[TraceEvent] = []
        self.sink = sink
        self.step = 0

    def emit(self, type: EventType, **data: Any) -> TraceEvent:
        """Record an event for the current step (and send it to the live stream, if any)."""
        event = TraceEvent(type, self.step, _now(), data)
        self.events.append(event)
        sink = self.sink
        if sink is not None:
            try:
                sink.send_nowait(event)
            except anyio.BrokenResourceError:  # the stream's reader stopped listening
                self.sink = None
        return event

    def token(self, text: str) -> None:
        """`emit(EventType.TOKEN, text=text)`, inlined for the streaming hot path."""
        event = TraceEvent(_TOKEN, self.step, _now(), {"text": text})
        self.events.append(event)
        sink = self.sink
        if sink is not None:
            try:
                sink.send_nowait(event)
            except anyio.BrokenResourceError:  # the stream's reader stopped listening
                self.sink = None
