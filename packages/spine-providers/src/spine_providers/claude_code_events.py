"""Claude Code's stream-json output as Spine stream chunks, trace events and one response.

`claude -p --output-format stream-json --verbose` (and the Claude Agent SDK, which runs the
same program) prints one JSON object per line for one agent turn (the CLI's own tool loop):

- `{"type": "system", "subtype": "init", "session_id", "model", "tools", "cwd", ...}`
- `{"type": "stream_event", "event": <an Anthropic Messages stream event>}` with
  `--include-partial-messages`: `message_start`, `content_block_delta` (`text_delta`,
  `thinking_delta`, `input_json_delta`), ...
- `{"type": "assistant", "message": {"id", "content": [text | thinking | tool_use blocks],
  "usage"}, "parent_tool_use_id", "error"?}` as each content block completes
- `{"type": "user", "message": {"content": [tool_result blocks]}}` as the CLI's tools finish
- `{"type": "rate_limit_event", "rate_limit_info": {"status", "resets_at", ...}}`
- `{"type": "result", "subtype", "is_error", "result", "session_id", "num_turns",
  "total_cost_usd", "usage", "stop_reason", "api_error_status", "api_error_type", ...}` last.

`ClaudeTurn` folds these into: text and thinking deltas (`StreamChunk`s for the kernel's
`token` / `thinking` events), the CLI's tool uses and results (`tool_call` / `tool_result`
trace events, when a tracer is bound, marked `"runtime": <provider>`), and a final
`ModelResponse` whose message is the turn's answer (never tool calls: the CLI already ran its
tools). The message's `thinking` blocks carry the CLI session id in `Thinking.id` (provider
"claude-code" / "claude-agent"), which is how the next turn resumes the CLI session.
Messages of sub-agents (`parent_tool_use_id` set) are recorded but not streamed as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spine_core.errors import ProviderError, ProviderErrorKind
from spine_core.messages import Message, ModelResponse, Role, Thinking, Usage
from spine_core.provider import ChunkType, StreamChunk
from spine_core.tracing import EventType, Tracer

from .quota import QuotaExhaustedError, provider_error

__all__ = [
    "SESSION_PROVIDERS",
    "ClaudeTurn",
    "ToolActivity",
    "last_session",
]

SESSION_PROVIDERS = frozenset({"claude-code", "claude-agent"})
"""Providers whose `Thinking.id` is a Claude Code session id (both run the same CLI)."""

# Anthropic API error types (https://docs.claude.com/en/api/errors) -> Spine kinds.
_API_ERROR_KINDS = {
    "rate_limit_error": ProviderErrorKind.RATE_LIMIT,
    "authentication_error": ProviderErrorKind.AUTH,
    "permission_error": ProviderErrorKind.AUTH,
    "overloaded_error": ProviderErrorKind.OVERLOADED,
    "api_error": ProviderErrorKind.SERVER,
    "invalid_request_error": ProviderErrorKind.BAD_REQUEST,
    "request_too_large": ProviderErrorKind.CONTEXT_LENGTH,
    "not_found_error": ProviderErrorKind.BAD_REQUEST,
    "timeout_error": ProviderErrorKind.TIMEOUT,
}
# The CLI's own `error` field on a synthetic assistant message -> Spine kinds.
_ASSISTANT_ERROR_KINDS = {
    "authentication_failed": ProviderErrorKind.AUTH,
    "rate_limit": ProviderErrorKind.RATE_LIMIT,
    "invalid_request": ProviderErrorKind.BAD_REQUEST,
    "server_error": ProviderErrorKind.SERVER,
}


def last_session(messages: Sequence[Message]) -> tuple[str | None, int]:
    """The Claude Code session id recorded on the latest assistant message that has one, and
    that message's index (-1 when there is none)."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role is not Role.ASSISTANT:
            continue
        for thought in message.thinking:
            if thought.provider in SESSION_PROVIDERS and thought.id:
                return thought.id, index
    return None, -1


@dataclass(slots=True)
class ToolActivity:
    """One tool call the runtime made itself, with its result once it came."""

    id: str
    name: str
    arguments: dict[str, Any]
    parent_tool_use_id: str | None = None
    result: str | None = None
    is_error: bool = False


@dataclass(slots=True)
class _Block:
    kind: str  # "text" | "thinking"
    text: str = ""
    signature: str | None = None


@dataclass
class ClaudeTurn:
    """Accumulates one turn's stream-json events (see the module docstring).

    Args:
        provider: Provider scheme, for errors and the trace ("claude-code").
        model: The model asked for (the init event's model replaces it).
        tracer: The run's tracer, when bound (`ClaudeCodeSession`), for tool events.
    """

    provider: str
    model: str
    tracer: Tracer | None = None
    session_id: str | None = None
    tools: list[ToolActivity] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    rate_limit: dict[str, Any] | None = None
    _blocks: list[_Block] = field(default_factory=list)
    _streamed: set[str] = field(default_factory=set)
    _requests: set[str] = field(default_factory=set)
    _error: dict[str, Any] | None = None
    _by_id: dict[str, ToolActivity] = field(default_factory=dict)

    def feed_line(self, line: str | bytes) -> list[StreamChunk]:
        """Parse one stdout line (blank and non-JSON lines are ignored) and `feed` it."""
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        text = text.strip()
        if not text.startswith("{"):
            return []
        try:
            event = json.loads(text)
        except ValueError:
            return []
        return self.feed(event) if isinstance(event, dict) else []

    def feed(self, event: dict[str, Any]) -> list[StreamChunk]:
        """Take one event; returns the stream chunks it produces (text / thinking deltas)."""
        self.events.append(event)
        kind = event.get("type")
        if isinstance(event.get("session_id"), str) and event["session_id"]:
            self.session_id = event["session_id"]
        if kind == "system" and event.get("subtype") == "init":
            self.model = str(event.get("model") or self.model)
        elif kind == "stream_event":
            return self._stream_event(event)
        elif kind == "assistant":
            return self._assistant(event)
        elif kind == "user":
            self._user(event)
        elif kind == "rate_limit_event":
            info = event.get("rate_limit_info")
            if isinstance(info, dict):
                self.rate_limit = info
        elif kind == "result":
            self.result = event
        return []

    # -- events ---------------------------------------------------------------------------
    def _stream_event(self, event: dict[str, Any]) -> list[StreamChunk]:
        if event.get("parent_tool_use_id"):
            return []
        inner = event.get("event") or {}
        kind = inner.get("type")
        if kind == "message_start":
            message_id = (inner.get("message") or {}).get("id")
            if message_id:
                self._streamed.add(str(message_id))
                self._requests.add(str(message_id))
            return []
        if kind != "content_block_delta":
            return []
        delta = inner.get("delta") or {}
        if delta.get("type") == "text_delta" and delta.get("text"):
            return [StreamChunk(type=ChunkType.TEXT, delta=str(delta["text"]))]
        if delta.get("type") == "thinking_delta" and delta.get("thinking"):
            return [StreamChunk(type=ChunkType.THINKING, delta=str(delta["thinking"]))]
        return []

    def _assistant(self, event: dict[str, Any]) -> list[StreamChunk]:
        message = event.get("message") or {}
        if event.get("error"):
            self._error = {"error": event["error"], "message": message}
        nested = event.get("parent_tool_use_id")
        message_id = str(message.get("id") or "")
        if message_id and not nested and message.get("model") != "<synthetic>":
            self._requests.add(message_id)
        streamed = message_id in self._streamed
        chunks: list[StreamChunk] = []
        for block in message.get("content") or ():
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "tool_use":
                self._tool_use(block, nested)
            elif nested or event.get("error"):
                continue
            elif kind == "text":
                text = str(block.get("text") or "")
                self._blocks.append(_Block("text", text))
                if not streamed and text:
                    chunks.append(StreamChunk(type=ChunkType.TEXT, delta=text))
            elif kind == "thinking":
                text = str(block.get("thinking") or "")
                self._blocks.append(_Block("thinking", text, block.get("signature") or None))
                if not streamed and text:
                    chunks.append(StreamChunk(type=ChunkType.THINKING, delta=text))
        return chunks

    def _tool_use(self, block: dict[str, Any], parent: Any) -> None:
        arguments = block.get("input")
        call = ToolActivity(
            id=str(block.get("id") or ""),
            name=str(block.get("name") or ""),
            arguments=arguments if isinstance(arguments, dict) else {"input": arguments},
            parent_tool_use_id=str(parent) if parent else None,
        )
        self.tools.append(call)
        self._by_id[call.id] = call
        if self.tracer is not None:
            data: dict[str, Any] = {"runtime": self.provider}
            if call.parent_tool_use_id:
                data["parent_tool_use_id"] = call.parent_tool_use_id
            self.tracer.emit(
                EventType.TOOL_CALL, id=call.id, name=call.name, arguments=call.arguments, **data
            )

    def _user(self, event: dict[str, Any]) -> None:
        content = (event.get("message") or {}).get("content")
        if not isinstance(content, list):
            return
        for block in content:
            if not isinstance(block, dict) or block.get("type") != "tool_result":
                continue
            call = self._by_id.get(str(block.get("tool_use_id") or ""))
            if call is None:
                continue
            call.result = _result_text(block.get("content"))
            call.is_error = bool(block.get("is_error"))
            if self.tracer is not None:
                self.tracer.emit(
                    EventType.TOOL_RESULT,
                    id=call.id,
                    name=call.name,
                    result=call.result,
                    is_error=call.is_error,
                    runtime=self.provider,
                )

    # -- the outcome ----------------------------------------------------------------------
    def error(self) -> ProviderError | None:
        """The turn's failure in Spine's taxonomy, or None when it succeeded (or has no
        result yet)."""
        result = self.result
        limit = self.rate_limit
        if (
            limit is not None
            and limit.get("status") == "rejected"
            and (result is None or result.get("is_error"))
        ):
            resets = limit.get("resets_at")
            window = limit.get("rate_limit_type") or "usage"
            text = _result_text(result.get("result")) if result else ""
            return QuotaExhaustedError(
                f"Claude usage limit reached ({window} window){': ' + text if text else ''}",
                resets_at=float(resets) if isinstance(resets, int | float) else None,
                status=429,
                provider=self.provider,
                model=self.model,
            )
        if result is None or not result.get("is_error"):
            return None  # an error message the CLI recovered from (it retried) is no failure
        subtype = str(result.get("subtype") or "")
        if subtype.startswith("error_max_"):
            return None  # the CLI's own ceiling: a partial answer, finish reason "length"
        status = result.get("api_error_status")
        status = int(status) if isinstance(status, int | float) else None
        api_type = str(result.get("api_error_type") or "")
        cli_error = str((self._error or {}).get("error") or "")
        text = _result_text(result.get("result"))
        errors = result.get("errors")
        if not text and isinstance(errors, list):
            text = "; ".join(str(e) for e in errors)
        text = text or f"the claude CLI reported an error ({subtype or 'no detail'})"
        if cli_error == "billing_error":
            return QuotaExhaustedError(
                text, status=status, provider=self.provider, model=self.model
            )
        default = _API_ERROR_KINDS.get(api_type) or _ASSISTANT_ERROR_KINDS.get(
            cli_error, ProviderErrorKind.UNKNOWN
        )
        return provider_error(
            text, status=status, provider=self.provider, model=self.model, default=default
        )

    def usage(self) -> Usage:
        """Tokens and cost of the whole turn (all its API calls), from the result event:
        `input_tokens` includes cache reads and writes; `cost_usd` is the CLI's own
        `total_cost_usd` (its price table)."""
        result = self.result or {}
        raw: Mapping[str, Any] = result.get("usage") or {}
        fresh = int(raw.get("input_tokens") or 0)
        read = int(raw.get("cache_read_input_tokens") or 0)
        write = int(raw.get("cache_creation_input_tokens") or 0)
        details = raw.get("output_tokens_details") or {}
        return Usage(
            input_tokens=fresh + read + write,
            output_tokens=int(raw.get("output_tokens") or 0),
            cache_read_tokens=read,
            cache_write_tokens=write,
            reasoning_tokens=int((details or {}).get("thinking_tokens") or 0),
            cost_usd=float(result.get("total_cost_usd") or 0.0),
            requests=len(self._requests) or (1 if result else 0),
        )

    def response(self) -> ModelResponse:
        """The turn as one `ModelResponse`: the answer text, the thinking (each block's `id`
        the session id; an empty block carries it when the turn had no thinking), usage and
        cost, and `raw` with the session id, the tool activity and every event.

        Raises:
            ProviderError: the turn failed (see `error`), or ended without a result event.
        """
        failure = self.error()
        if failure is not None:
            raise failure
        result = self.result
        if result is None:
            raise ProviderError(
                "the claude CLI ended the turn without a result event",
                kind=ProviderErrorKind.CONNECTION,
                provider=self.provider,
                model=self.model,
            )
        answer = result.get("result")
        if result.get("structured_output") is not None:
            answer = json.dumps(result["structured_output"])
        if not isinstance(answer, str):
            texts = [b.text for b in self._blocks if b.kind == "text"]
            answer = texts[-1] if texts else ""
        thinking = [
            Thinking(text=b.text, signature=b.signature, provider=self.provider, id=self.session_id)
            for b in self._blocks
            if b.kind == "thinking"
        ] or [Thinking(provider=self.provider, id=self.session_id)]
        subtype = str(result.get("subtype") or "")
        finish = "length" if subtype.startswith("error_max_") else result.get("stop_reason")
        return ModelResponse(
            message=Message(role=Role.ASSISTANT, content=answer or None, thinking=thinking),
            usage=self.usage(),
            finish_reason=finish,
            model=self.model,
            raw={
                "session_id": self.session_id,
                "num_turns": result.get("num_turns"),
                "tools": self.tools,
                "result": result,
                "events": self.events,
            },
        )


def _result_text(content: Any) -> str:
    """A tool result's or result event's content as text (block lists joined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for item in content:
            if isinstance(item, dict) and item.get("type") == "text":
                parts.append(str(item.get("text") or ""))
            elif isinstance(item, dict):
                parts.append(json.dumps(item))
            else:
                parts.append(str(item))
        return "\n".join(parts)
    return json.dumps(content) if isinstance(content, dict) else str(content)
