"""Opt-in content capture: messages, system instructions and tool definitions as the GenAI
conventions' JSON shapes, with secrets scrubbed and a user redaction hook applied.

Shapes (semantic-conventions-genai, "gen-ai-input-messages" / "gen-ai-output-messages"):
a message is `{"role", "parts": [...]}`, a part `{"type": "text", "content"}`,
`{"type": "tool_call", "id", "name", "arguments"}` or `{"type": "tool_call_response", "id",
"response"}`; output messages add `"finish_reason"`; system instructions are a list of text
parts; tool definitions are `{"type": "function", "name", "description", "parameters"}`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from spine_core import Message, Role

from . import semconv

Redactor = Callable[[str], str]

# Credentials that must never reach a span, whatever the redaction hook does: OpenAI /
# Anthropic style keys, AWS access key ids, GitHub and Slack tokens, Google API keys and
# bearer tokens.
_SECRET = re.compile(
    r"sk-[A-Za-z0-9_\-]{8,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|AIza[0-9A-Za-z_\-]{20,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._\-]{10,}"
)
REDACTED = "[REDACTED]"


def scrub(text: str, redact: Redactor | None) -> str:
    """`text` with known secret shapes replaced by `[REDACTED]`, then the user's hook."""
    text = _SECRET.sub(REDACTED, text)
    return redact(text) if redact is not None else text


def _parts(message: Message, redact: Redactor | None) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if message.role is Role.TOOL:
        parts.append(
            {
                "type": "tool_call_response",
                "id": message.tool_call_id,
                "response": scrub(message.text, redact),
            }
        )
        return parts
    if message.text:
        parts.append({"type": "text", "content": scrub(message.text, redact)})
    for call in message.tool_calls:
        arguments = scrub(json.dumps(call.arguments, default=str), redact)
        parts.append(
            {"type": "tool_call", "id": call.id, "name": call.name, "arguments": arguments}
        )
    return parts


def input_messages(messages: Iterable[Message], redact: Redactor | None) -> tuple[str, str | None]:
    """(`gen_ai.input.messages`, `gen_ai.system_instructions` or None) as JSON strings."""
    system: list[dict[str, Any]] = []
    chat: list[dict[str, Any]] = []
    for message in messages:
        if message.role is Role.SYSTEM:
            system.append({"type": "text", "content": scrub(message.text, redact)})
        else:
            chat.append({"role": message.role.value, "parts": _parts(message, redact)})
    return json.dumps(chat), (json.dumps(system) if system else None)


def output_messages(message: Message, finish_reason: str, redact: Redactor | None) -> str:
    """`gen_ai.output.messages` as a JSON string: the one assistant message."""
    out = {
        "role": message.role.value,
        "parts": _parts(message, redact),
        "finish_reason": semconv.FINISH_REASONS.get(finish_reason, finish_reason),
    }
    return json.dumps([out])


def tool_definitions(schemas: Iterable[dict[str, Any]]) -> str:
    """`gen_ai.tool.definitions` as a JSON string (schemas hold no user content)."""
    return json.dumps(
        [
            {
                "type": "function",
                "name": s.get("name"),
                "description": s.get("description"),
                "parameters": s.get("parameters"),
            }
            for s in schemas
        ]
    )
