"""Server-initiated requests: elicitation as a Spine `Interrupt`, sampling by the run's
provider, roots answered empty.

MCP has two forms (`mcp` SDK 2.3, MCP spec 2026-07-28 "Multi round-trip requests" and
2025-11-25 "Elicitation" / "Sampling"):

- Resolver form, protocol 2026-07-28: a `tools/call` answers `InputRequiredResult` with
  `input_requests` and an opaque, server-signed `request_state`; the client retries the call
  with `input_responses` and that state. Nothing waits on the connection, so the state is
  kept in the session's checkpoint and a fresh process resumes it.
- Back-channel form, protocol 2025-11-25: the server sends `elicitation/create` or
  `sampling/createMessage` while its `tools/call` is outstanding, and waits for the answer on
  the live connection. The call runs in a background task (`Inflight`) so that the tool can
  pause the run while the server waits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from pydantic import TypeAdapter

from spine_core import Decision, ImagePart, Message, Part, TextPart

__all__ = [
    "SCRATCH_KEY",
    "Inflight",
    "dump_response",
    "elicit_interrupt_payload",
    "elicit_result",
    "load_response",
    "question_digest",
    "sample",
]

SCRATCH_KEY = "spine_mcp.elicitation"
"""`State.scratch` key: `{tool call id: pending elicitation record}`; checkpointed with the
pause, so a resume in a fresh process finds it."""

MAX_ROUNDS = 10
"""`InputRequiredResult` rounds one call may take (the SDK's own default)."""

_PARAMS: TypeAdapter[types.ElicitRequestParams] = TypeAdapter(types.ElicitRequestParams)
_RESPONSES: dict[str, type[Any]] = {
    "sampling": types.CreateMessageResult,
    "roots": types.ListRootsResult,
    "elicitation": types.ElicitResult,
}


def dump(value: Any) -> Any:
    return value.model_dump(by_alias=True, exclude_none=True, mode="json")


def load_params(data: dict[str, Any]) -> types.ElicitRequestParams:
    return _PARAMS.validate_python(data)


def dump_response(value: Any) -> dict[str, Any]:
    """An input response as JSON-ready `{"kind", "value"}` (for the checkpoint)."""
    kind = next(k for k, cls in _RESPONSES.items() if isinstance(value, cls))
    return {"kind": kind, "value": dump(value)}


def load_response(data: dict[str, Any]) -> Any:
    return _RESPONSES[data["kind"]].model_validate(data["value"])


def question_digest(params: types.ElicitRequestParams) -> str:
    """A digest of an elicitation's message and schema (to recognise the same question)."""
    text = json.dumps(dump(params), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def elicit_interrupt_payload(
    params: types.ElicitRequestParams, *, server: str, tool: str
) -> tuple[str, dict[str, Any]]:
    """The question and data of the `Interrupt` an elicitation becomes.

    data: `{"mcp_elicitation": {"server", "tool", "mode", "message", "requested_schema"
    (form mode) or "url" (url mode)}}`.
    """
    about: dict[str, Any] = {"server": server, "tool": tool, "mode": params.mode}
    about["message"] = params.message
    if isinstance(params, types.ElicitRequestURLParams):
        about["url"] = params.url
    else:
        about["requested_schema"] = (
            dump(params.requested_schema)
            if hasattr(params.requested_schema, "model_dump")
            else params.requested_schema
        )
    return params.message, {"mcp_elicitation": about}


_DECLINE = {"decline", "declined", "no", "reject", "rejected"}
_CANCEL = {"cancel", "cancelled", "canceled"}


def elicit_result(
    decision: Decision | None, params: types.ElicitRequestParams
) -> types.ElicitResult:
    """The `ElicitResult` a human's resume decision makes.

    `answer=` a JSON object (a dict, or its JSON text) accepts with that content; "decline"
    or "cancel" (also "no", "reject") answer so; for a form with one property, any other
    text accepts with that property set to it (converted to the property's JSON type); for
    URL mode, "accept" (or "yes", "ok", "done") consents.

    Raises:
        ValueError: the answer does not fit (names what was expected).
    """
    text = (decision.answer if decision is not None else None) or ""
    word = text.strip().lower()
    if (decision is not None and decision.action == "reject") or word in _DECLINE:
        return types.ElicitResult(action="decline")
    if word in _CANCEL:
        return types.ElicitResult(action="cancel")
    if isinstance(params, types.ElicitRequestURLParams):
        if word in {"accept", "accepted", "yes", "ok", "done", "approve", "approved"}:
            return types.ElicitResult(action="accept")
        raise ValueError("answer 'accept', 'decline' or 'cancel' to this URL request")
    schema = params.requested_schema
    schema = dump(schema) if hasattr(schema, "model_dump") else dict(schema)
    properties: dict[str, Any] = schema.get("properties") or {}
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, dict):
        return types.ElicitResult(action="accept", content=value)
    if len(properties) == 1:
        [(name, prop)] = properties.items()
        return types.ElicitResult(action="accept", content={name: _coerce(text, value, prop)})
    expected = ", ".join(properties) or "(none)"
    raise ValueError(f"answer with a JSON object of the fields {expected}, or 'decline'")


def _coerce(text: str, parsed: Any, prop: dict[str, Any]) -> Any:
    kind = prop.get("type")
    if kind in ("integer", "number", "boolean") and not isinstance(parsed, str):
        return parsed
    if kind == "array":
        return parsed if isinstance(parsed, list) else [text]
    return text


def _sampling_message(message: types.SamplingMessage) -> Message:
    blocks = message.content if isinstance(message.content, list) else [message.content]
    parts: list[Part] = []
    for block in blocks:
        if isinstance(block, types.TextContent):
            parts.append(TextPart(text=block.text))
        elif isinstance(block, types.ImageContent) and message.role == "user":
            parts.append(ImagePart(data=block.data, media_type=block.mime_type))
        else:
            parts.append(TextPart(text=f"[{getattr(block, 'type', 'content')} not supported]"))
    if message.role == "assistant":
        return Message.assistant(" ".join(p.text for p in parts if isinstance(p, TextPart)))
    if all(isinstance(p, TextPart) for p in parts):
        return Message.user("\n".join(p.text for p in parts if isinstance(p, TextPart)))
    return Message.user_parts(parts)


async def sample(
    provider: Any, params: types.CreateMessageRequestParams
) -> types.CreateMessageResult:
    """Answer `sampling/createMessage` with one call of a Spine `provider` (no tools).

    `systemPrompt` becomes the system message; `maxTokens`, `temperature` and
    `stopSequences` become the settings `max_tokens`, `temperature` and `stop`. The model's
    preferences are hints the host may ignore (MCP spec, "Sampling"): the run's own model
    answers.
    """
    messages = [Message.system(params.system_prompt)] if params.system_prompt else []
    messages.extend(_sampling_message(m) for m in params.messages)
    settings: dict[str, Any] = {"max_tokens": params.max_tokens}
    if params.temperature is not None:
        settings["temperature"] = params.temperature
    if params.stop_sequences:
        settings["stop"] = list(params.stop_sequences)
    response = await provider.complete(messages, None, **settings)
    reason = getattr(response, "finish_reason", None)
    stop = "maxTokens" if str(getattr(reason, "value", reason)) == "length" else "endTurn"
    name = getattr(provider, "name", "spine")
    model = getattr(provider, "model", "") or name
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text=response.message.text),
        model=str(model),
        stop_reason=stop,
    )


@dataclass(eq=False)
class Inflight:
    """A back-channel-era `tools/call` running in a background task, so that the tool can
    pause the run while the server waits for an elicitation answer.

    Attributes:
        call_id: The Spine tool call.
        timeout_s: Seconds a question waits for the human's answer (the server's call is
            bounded by the same timeout) before it is answered "cancel".
        asked: The elicitation waiting for the human, if any.
        replay: After a fresh-process resume: (question digest, answer) to give the server
            when the re-issued call asks the same question again.
        outcome: The call's result, or the exception it raised, once done.
    """

    call_id: str
    timeout_s: float | None = None
    asked: types.ElicitRequestParams | None = None
    replay: tuple[str, types.ElicitResult] | None = None
    done: bool = False
    outcome: Any = None
    task: asyncio.Task[None] | None = None
    _changed: anyio.Event = field(default_factory=anyio.Event)
    _answered: anyio.Event = field(default_factory=anyio.Event)
    _answer: types.ElicitResult | None = None

    def signal(self) -> None:
        self._changed.set()

    async def wait(self) -> None:
        """Until the call is done or asks a question."""
        await self._changed.wait()
        self._changed = anyio.Event()

    async def ask(self, params: types.ElicitRequestParams) -> types.ElicitResult:
        """From the SDK's elicitation callback: park until the human answers."""
        if self.replay is not None and self.replay[0] == question_digest(params):
            replayed, self.replay = self.replay[1], None
            return replayed
        self.asked, self._answered = params, anyio.Event()
        self.signal()
        with anyio.move_on_after(self.timeout_s):
            await self._answered.wait()
        answer, self._answer = self._answer, None
        return answer or types.ElicitResult(action="cancel")

    def answer(self, result: types.ElicitResult) -> None:
        self.asked, self._answer = None, result
        self._answered.set()
