"""AG-UI: Spine's trace events as AG-UI protocol events, and `RunAgentInput` as Spine input.

The protocol is `ag-ui-protocol` 1.0 (`ag_ui.core`; 31 event types, SSE framing from
`ag_ui.encoder.EventEncoder`). One Spine run is one AG-UI run:

| Spine trace event | AG-UI events |
|---|---|
| (start) | `RUN_STARTED` |
| `step_start` | `STEP_FINISHED` of the previous step, `STEP_STARTED` (`step_name` "step N") |
| `thinking` | `REASONING_START`, `REASONING_MESSAGE_START`, `REASONING_MESSAGE_CONTENT`... |
| `token` | `TEXT_MESSAGE_START` (role assistant), `TEXT_MESSAGE_CONTENT`... |
| `tool_call_delta` | `TOOL_CALL_START` (on a call's first fragment), `TOOL_CALL_ARGS` |
| `model_response` | `TEXT_MESSAGE_END`, `TOOL_CALL_END` (the whole text, unstreamed) |
| `tool_result` | `TOOL_CALL_RESULT` |
| `interrupt` | `RUN_FINISHED`, `interrupt` outcome (id, reason, message, tool call id) |
| `final` | `RUN_FINISHED` (`result`: answer, stopped reason, session id, typed output) |
| `error` | `RUN_ERROR` (message, code: the error type or provider error kind) |
| `guard_trip` | `CUSTOM` `spine.guard_trip`, then `RUN_FINISHED` with the partial answer |
| cancelled | `RUN_FINISHED` with a `cancelled` outcome |

`RUN_FINISHED` carries the run's token usage (`TokenUsage` per provider and model). A thread
is a Spine session (thread id = session id). The follow-up run that answers an interrupt
sends `resume: [{"interruptId", "status": "resolved", "payload"}]`: for an approval the
payload is `true`, `"approve"`, `{"approved": true}` or `{"decision": "reject", "reason":
"..."}`; for a tool's question, the answer. `status: "cancelled"` rejects the call.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from ag_ui.core import (
    AssistantMessage,
    BaseEvent,
    CustomEvent,
    DeveloperMessage,
    EventType,
    Interrupt,
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedCancelledOutcome,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    SystemMessage,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    TokenUsage,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
    ToolMessage,
    UserMessage,
)
from ag_ui.encoder import EventEncoder

from spine_core import EventType as SpineEvent
from spine_core import Message, Result, StopReason, ToolCall, TraceEvent

__all__ = ["EventMapper", "encode", "split_input"]

_ENCODER = EventEncoder()


def encode(event: BaseEvent) -> str:
    """One AG-UI event as an SSE frame (`data: {json}\\n\\n`, camelCase keys)."""
    return _ENCODER.encode(event)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _text(content: Any) -> str:
    """A message's content as text (AG-UI content parts: their text parts joined)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(getattr(part, "text", "") or "" for part in content)
    return "" if content is None else str(content)


def _to_spine(message: Any) -> Message | None:
    """An AG-UI message as a Spine `Message` (None for kinds Spine does not store: activity,
    reasoning)."""
    if isinstance(message, UserMessage):
        return Message.user(_text(message.content))
    if isinstance(message, SystemMessage | DeveloperMessage):
        return Message.system(message.content)
    if isinstance(message, AssistantMessage):
        calls = [
            ToolCall(id=c.id, name=c.function.name, arguments=_arguments(c.function.arguments))
            for c in message.tool_calls or ()
        ]
        return Message.assistant(message.content or "", tool_calls=calls)
    if isinstance(message, ToolMessage):
        return Message.tool(
            _text(message.content), message.tool_call_id, "", is_error=message.error is not None
        )
    return None


def _arguments(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def split_input(run_input: RunAgentInput) -> tuple[list[Message], list[Message]]:
    """(history, new input) of a `RunAgentInput`: the trailing user messages are the run's
    input; what comes before them seeds a new session (an existing session keeps its own
    history). Either list may be empty."""
    converted = [m for m in (_to_spine(x) for x in run_input.messages) if m is not None]
    cut = len(converted)
    while cut > 0 and converted[cut - 1].role.value == "user":
        cut -= 1
    return converted[:cut], converted[cut:]


class EventMapper:
    """Turns one run's Spine `TraceEvent`s into AG-UI events, in protocol order.

    Args:
        thread_id: The AG-UI thread (the Spine session id).
        run_id: The AG-UI run id.
    """

    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self._step: str | None = None
        self._message: str | None = None  # the open text message
        self._reasoning: str | None = None
        self._text_sent = False
        self._calls: dict[int, str] = {}  # streamed fragment index -> tool call id
        self._open_calls: list[str] = []
        self._started_calls: set[str] = set()
        self.finished = False

    def started_before(self, call_ids: list[str]) -> None:
        """Tool calls a previous run already announced (the calls a resume runs): their
        results come without a second `TOOL_CALL_START`."""
        self._started_calls.update(call_ids)

    def start(self) -> Iterator[BaseEvent]:
        """`RUN_STARTED`."""
        yield RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id, timestamp=_now_ms())

    def map(self, event: TraceEvent) -> Iterator[BaseEvent]:
        """The AG-UI events for one Spine trace event (often none)."""
        kind, data = event.type, event.data
        if kind is SpineEvent.STEP_START:
            yield from self._close_step()
            self._step = f"step {event.step}"
            self._calls.clear()
            self._text_sent = False
            yield StepStartedEvent(step_name=self._step, timestamp=_now_ms())
        elif kind is SpineEvent.THINKING:
            if self._reasoning is None:
                self._reasoning = uuid.uuid4().hex
                yield ReasoningStartEvent(message_id=self._reasoning)
                yield ReasoningMessageStartEvent(message_id=self._reasoning)
            yield ReasoningMessageContentEvent(
                message_id=self._reasoning, delta=str(data.get("text") or "")
            )
        elif kind is SpineEvent.TOKEN:
            yield from self._close_reasoning()
            yield from self._open_message()
            assert self._message is not None
            self._text_sent = True
            yield TextMessageContentEvent(message_id=self._message, delta=str(data["text"]))
        elif kind is SpineEvent.TOOL_CALL_DELTA:
            yield from self._close_reasoning()
            yield from self._call_fragment(data)
        elif kind is SpineEvent.MODEL_RESPONSE:
            yield from self._close_reasoning()
            content = _text(data.get("content"))
            if content and not self._text_sent:  # a provider that did not stream
                yield from self._open_message()
                assert self._message is not None
                yield TextMessageContentEvent(message_id=self._message, delta=content)
            yield from self._close_message()
            yield from self._close_calls()
        elif kind is SpineEvent.TOOL_CALL:
            call_id = str(data["id"])
            if call_id not in self._started_calls:  # not streamed: the whole call at once
                self._started_calls.add(call_id)
                yield ToolCallStartEvent(tool_call_id=call_id, tool_call_name=str(data["name"]))
                yield ToolCallArgsEvent(
                    tool_call_id=call_id, delta=json.dumps(data.get("arguments") or {})
                )
                yield ToolCallEndEvent(tool_call_id=call_id)
        elif kind is SpineEvent.TOOL_RESULT:
            yield ToolCallResultEvent(
                message_id=uuid.uuid4().hex,
                tool_call_id=str(data["id"]),
                content=str(data.get("result") or ""),
                role="tool",
                metadata={"spine": {"name": data.get("name"), "is_error": data.get("is_error")}},
            )
        elif kind is SpineEvent.GUARD_TRIP:
            yield CustomEvent(name="spine.guard_trip", value=dict(data))

    def finish(self, result: Result | None, *, cancelled: bool = False) -> Iterator[BaseEvent]:
        """The run's last events, from its `Result`: `RUN_FINISHED` (success, interrupt or
        cancelled outcome) or `RUN_ERROR`."""
        if self.finished:
            return
        self.finished = True
        yield from self._close_reasoning()
        yield from self._close_message()
        yield from self._close_calls()
        yield from self._close_step()
        usage = _usage(result)
        if result is None:
            if cancelled:
                yield RunFinishedEvent(
                    thread_id=self.thread_id,
                    run_id=self.run_id,
                    outcome=RunFinishedCancelledOutcome(),
                )
            else:
                yield RunErrorEvent(message="the run ended without a result", code="unknown")
            return
        reason = result.stopped_reason
        if reason is StopReason.ERROR:
            detail = result.error_detail or {}
            code = str(detail.get("kind") or detail.get("type") or "error")
            yield RunErrorEvent(message=result.error or "error", code=code, usage=usage)
            return
        if reason is StopReason.INTERRUPT and result.interrupt is not None:
            pause = result.interrupt
            yield RunFinishedEvent(
                thread_id=self.thread_id,
                run_id=self.run_id,
                outcome=RunFinishedInterruptOutcome(
                    interrupts=[
                        Interrupt(
                            id=pause.id,
                            reason=pause.kind,
                            message=pause.question,
                            tool_call_id=pause.tool_call.id,
                            metadata={
                                "spine": {
                                    "tool": pause.tool_call.name,
                                    "arguments": pause.tool_call.arguments,
                                    "data": pause.data,
                                    "resume_token": result.resume_token,
                                }
                            },
                        )
                    ]
                ),
                usage=usage,
            )
            return
        if reason is StopReason.CANCELLED:
            yield RunFinishedEvent(
                thread_id=self.thread_id,
                run_id=self.run_id,
                outcome=RunFinishedCancelledOutcome(),
                usage=usage,
            )
            return
        yield RunFinishedEvent(
            thread_id=self.thread_id,
            run_id=self.run_id,
            result={
                "answer": result.answer,
                "stopped_reason": reason.value,
                "session_id": result.session_id,
                "output": _jsonable(result.output),
            },
            usage=usage,
        )

    def _open_message(self) -> Iterator[BaseEvent]:
        if self._message is None:
            self._message = uuid.uuid4().hex
            yield TextMessageStartEvent(message_id=self._message, role="assistant")

    def _close_message(self) -> Iterator[BaseEvent]:
        if self._message is not None:
            yield TextMessageEndEvent(message_id=self._message)
            self._message = None

    def _close_reasoning(self) -> Iterator[BaseEvent]:
        if self._reasoning is not None:
            yield ReasoningMessageEndEvent(message_id=self._reasoning)
            yield ReasoningEndEvent(message_id=self._reasoning)
            self._reasoning = None

    def _call_fragment(self, data: dict[str, Any]) -> Iterator[BaseEvent]:
        index = int(data.get("index") or 0)
        call_id = data.get("id")
        if call_id and index not in self._calls:
            self._calls[index] = str(call_id)
            self._started_calls.add(str(call_id))
            self._open_calls.append(str(call_id))
            parent = self._message
            yield from self._close_message()
            yield ToolCallStartEvent(
                tool_call_id=str(call_id),
                tool_call_name=str(data.get("name") or ""),
                parent_message_id=parent,
            )
        known = self._calls.get(index)
        delta = data.get("arguments_delta")
        if known is not None and delta:
            yield ToolCallArgsEvent(tool_call_id=known, delta=str(delta))

    def _close_calls(self) -> Iterator[BaseEvent]:
        for call_id in self._open_calls:
            yield ToolCallEndEvent(tool_call_id=call_id)
        self._open_calls.clear()

    def _close_step(self) -> Iterator[BaseEvent]:
        if self._step is not None:
            yield StepFinishedEvent(step_name=self._step, timestamp=_now_ms())
            self._step = None


def _usage(result: Result | None) -> list[TokenUsage] | None:
    if result is None:
        return None
    u = result.usage
    if not (u.input_tokens or u.output_tokens):
        return None
    return [
        TokenUsage(
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            total_tokens=u.input_tokens + u.output_tokens,
            reasoning_tokens=u.reasoning_tokens or None,
            cached_input_tokens=u.cache_read_tokens or None,
            cache_write_input_tokens=u.cache_write_tokens or None,
        )
    ]


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    from pydantic import TypeAdapter

    return TypeAdapter(type(value)).dump_python(value, mode="json")


def event_types() -> list[str]:
    """Every AG-UI event type name (the protocol's 31)."""
    return [e.value for e in EventType]
