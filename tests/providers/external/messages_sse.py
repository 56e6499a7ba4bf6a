"""Scripted Anthropic Messages API responses for the replay server.

Written by Spine from the Anthropic streaming guide
(https://docs.claude.com/en/docs/build-with-claude/streaming) and the error reference
(https://docs.claude.com/en/api/errors): `message_start`, `content_block_start` /
`content_block_delta` (`text_delta`, `thinking_delta` + `signature_delta`,
`input_json_delta`) / `content_block_stop`, `message_delta` with the stop reason and the
cumulative output tokens, `message_stop`; errors as `{"type": "error", "error": {"type",
"message"}}`. Not recordings. `project_fixture` reuses the project's own Anthropic SSE
fixtures (`tests/providers/fixtures/anthropic`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"

Event = dict[str, Any]


def _event(name: str, **data: Any) -> Event:
    return {"event": name, "data": {"type": name, **data}}


def start(message_id: str, *, model: str = "claude-sonnet-4-5", input_tokens: int = 20) -> Event:
    message = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    return _event("message_start", message=message)


def text(index: int, *pieces: str) -> list[Event]:
    return [
        _event("content_block_start", index=index, content_block={"type": "text", "text": ""}),
        *(
            _event("content_block_delta", index=index, delta={"type": "text_delta", "text": p})
            for p in pieces
        ),
        _event("content_block_stop", index=index),
    ]


def thinking(index: int, thought: str, signature: str = "EqspineSig==") -> list[Event]:
    block = {"type": "thinking", "thinking": "", "signature": ""}
    return [
        _event("content_block_start", index=index, content_block=block),
        _event(
            "content_block_delta",
            index=index,
            delta={"type": "thinking_delta", "thinking": thought},
        ),
        _event(
            "content_block_delta",
            index=index,
            delta={"type": "signature_delta", "signature": signature},
        ),
        _event("content_block_stop", index=index),
    ]


def tool_use(index: int, call_id: str, name: str, arguments: dict[str, Any]) -> list[Event]:
    block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
    delta = {"type": "input_json_delta", "partial_json": json.dumps(arguments)}
    return [
        _event("content_block_start", index=index, content_block=block),
        _event("content_block_delta", index=index, delta=delta),
        _event("content_block_stop", index=index),
    ]


def end(stop_reason: str, output_tokens: int = 30) -> list[Event]:
    return [
        _event(
            "message_delta",
            delta={"stop_reason": stop_reason, "stop_sequence": None},
            usage={"output_tokens": output_tokens},
        ),
        _event("message_stop"),
    ]


def answer(message_id: str, *pieces: str, input_tokens: int = 20) -> dict[str, Any]:
    """A streamed text answer (stop reason end_turn)."""
    events = [start(message_id, input_tokens=input_tokens), *text(0, *pieces), *end("end_turn")]
    return {"sse": events}


def bash_call(message_id: str, command: str, *, say: str = "Running it.") -> dict[str, Any]:
    """A streamed turn that thinks, says `say`, and calls Claude Code's Bash tool."""
    events = [
        start(message_id),
        *thinking(0, f"I should run {command}."),
        *text(1, say),
        *tool_use(2, f"toolu_{message_id}", "Bash", {"command": command, "description": "Run"}),
        *end("tool_use"),
    ]
    return {"sse": events}


def stalled(message_id: str, *pieces: str) -> dict[str, Any]:
    """A stream that starts an answer and then never ends (the server holds it open)."""
    events = [
        start(message_id),
        _event("content_block_start", index=0, content_block={"type": "text", "text": ""}),
        *(
            _event("content_block_delta", index=0, delta={"type": "text_delta", "text": p})
            for p in pieces
        ),
    ]
    return {"sse": events, "stall": True}


def error(status: int, kind: str, message: str, **headers: str) -> dict[str, Any]:
    """An API error response (`{"type": "error", "error": {...}}`)."""
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return {"status": status, "headers": headers, "json": body}


def project_fixture(name: str) -> dict[str, Any]:
    """One of the project's Anthropic fixtures (`fixtures/anthropic/<name>.yaml`)."""
    data: dict[str, Any] = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text())
    return data
