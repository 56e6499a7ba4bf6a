"""`claude-agent:<model>`: one Spine model step runs one Claude Agent SDK turn.

The Claude Agent SDK (`pip install "spine-providers[claude-agent]"`, module
`claude_agent_sdk`) drives the same Claude Code program as `claude-code:` does, through its
control protocol, and bundles a CLI of its own. `ClaudeAgentProvider` runs one
`claude_agent_sdk.query()` per Spine step with a `ClaudeAgentOptions` built for that call
(the provider's options, updated with the call's settings: never mutated, so concurrent runs
are safe), maps the SDK's messages exactly as `claude-code:` maps stream-json (see
`spine_providers.claude_code_events`), and returns the turn's answer. Sessions resume the
same way (`options.resume` from the recorded session id; HoloDeck's `ClaudeSession`
threads turns the same way), and `ClaudeCodeSession` binds the run for `State.scratch` and
tool events. The SDK stops its CLI when the query is closed; every process that still
carries the call's marker afterwards is killed, so a cancel leaves no orphan.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import anyio

from spine_core.errors import ProviderError, ProviderErrorKind
from spine_core.messages import Message, ModelResponse
from spine_core.provider import ChunkType, StreamChunk

from ._lazy import require
from .availability import Availability
from .claude_code import (
    bound_step,
    build_prompt,
    remember_session,
    system_prompt,
    turn_input,
)
from .claude_code_events import ClaudeTurn
from .claude_code_process import MARKER_ENV, OutputLog, kill_marked
from .quota import provider_error

__all__ = ["ClaudeAgentProvider"]

# Spine's own per-call settings; every other setting must be a `ClaudeAgentOptions` field.
_SPINE_SETTINGS = frozenset(
    {
        "preamble",
        "prompt_extensions",
        "output_log",
        "timeout_s",
        "resume",
        "thinking",
        "output_schema",
    }
)


def _sdk() -> Any:
    return require("claude_agent_sdk", "claude-agent")


class ClaudeAgentProvider:
    """The Claude Agent SDK as a Spine provider (scheme `claude-agent`).

    Args:
        model: `ClaudeAgentOptions.model` (None or "": the CLI's default).
        options: A `claude_agent_sdk.ClaudeAgentOptions` to start from (default: a fresh
            one). It is copied per call, never changed.
        preamble: Text placed before each prompt (see `claude_code.build_prompt`).
        prompt_extensions: Directive blocks placed after the preamble.
        output_log: Base path for live logs: each SDK message as a JSON line in
            `<base>.stdout.log`, the CLI's stderr in `<base>.stderr.log`.
        timeout_s: Seconds one turn may take (None: no limit beyond the run's guards).
        **fields: `ClaudeAgentOptions` fields (`cwd`, `allowed_tools`, `permission_mode`,
            `max_turns`, `env`, `cli_path`, `system_prompt`, `setting_sources`, ...), over
            `options`.

    Per call, settings may name any `ClaudeAgentOptions` field (how a spec's `settings:`
    map onto the options), plus `preamble`, `prompt_extensions`, `output_log`,
    `timeout_s`, `resume` (a session id) and the kernel's `thinking` (`{"budget_tokens":
    n}` -> `max_thinking_tokens`, `{"effort": ...}` -> `effort`) and `output_schema`
    (`output_format` json_schema: the structured output becomes the answer as JSON).
    Unknown names raise `ProviderError(kind="bad_request")`. The Spine system prompt is
    appended to Claude Code's (`{"type": "preset", "preset": "claude_code", "append":
    ...}`) unless the options set `system_prompt`. Spine tools are not forwarded (the CLI
    runs its own).
    """

    name = "claude-agent"

    def __init__(
        self,
        model: str | None = None,
        *,
        options: Any = None,
        preamble: str | None = None,
        prompt_extensions: tuple[str, ...] | list[str] = (),
        output_log: str | os.PathLike[str] | None = None,
        timeout_s: float | None = None,
        **fields: Any,
    ) -> None:
        self.model = model or ""
        self._options = options
        self.fields = {k: v for k, v in fields.items() if v is not None}
        self.defaults: dict[str, Any] = {
            k: v
            for k, v in {
                "preamble": preamble,
                "prompt_extensions": list(prompt_extensions),
                "output_log": os.fspath(output_log) if output_log is not None else None,
                "timeout_s": timeout_s,
            }.items()
            if v is not None
        }

    def __repr__(self) -> str:
        return f"ClaudeAgentProvider(model={self.model!r})"

    def _field_names(self) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(_sdk().ClaudeAgentOptions))

    def options_for(self, call: Mapping[str, Any], system: str = "") -> Any:
        """The `ClaudeAgentOptions` of one call: the provider's options updated with its
        fields, then the call's fields; `system` (the Spine system prompt) is appended to
        Claude Code's unless `system_prompt` is set.

        Raises:
            ProviderError: kind bad_request, for a name that is not an options field.
        """
        sdk = _sdk()
        names = self._field_names()
        given = {**self.fields, **{k: v for k, v in call.items() if k not in _SPINE_SETTINGS}}
        unknown = sorted(set(given) - names)
        if unknown:
            raise ProviderError(
                f"claude-agent does not support the setting(s) {', '.join(unknown)} (settings "
                "are ClaudeAgentOptions fields, or preamble, prompt_extensions, output_log, "
                "timeout_s, resume, thinking, output_schema)",
                kind=ProviderErrorKind.BAD_REQUEST,
                provider=self.name,
                model=self.model,
            )
        base = self._options if self._options is not None else sdk.ClaudeAgentOptions()
        update = dict(given)
        if self.model and "model" not in update:
            update["model"] = self.model
        if call.get("resume"):
            update["resume"] = call["resume"]
        thinking = call.get("thinking")
        if isinstance(thinking, Mapping):
            if thinking.get("budget_tokens"):
                update["max_thinking_tokens"] = int(thinking["budget_tokens"])
            if thinking.get("effort"):
                update["effort"] = thinking["effort"]
        schema = call.get("output_schema")
        if isinstance(schema, Mapping):
            update["output_format"] = {
                "type": "json_schema",
                "schema": schema.get("schema", schema),
            }
        if system and update.get("system_prompt", base.system_prompt) is None:
            update["system_prompt"] = {"type": "preset", "preset": "claude_code", "append": system}
        update.setdefault("include_partial_messages", True)
        return dataclasses.replace(base, **update)

    def _missing(self, detail: str = "") -> ProviderError:
        return ProviderError(
            "the Claude Code CLI for the Claude Agent SDK was not found"
            + (f" ({detail})" if detail else "")
            + "; reinstall claude-agent-sdk (it bundles the CLI), install "
            "@anthropic-ai/claude-code with npm, or set the cli_path option",
            kind=ProviderErrorKind.BAD_REQUEST,
            retryable=False,
            provider=self.name,
            model=self.model,
        )

    async def availability_check(self) -> Availability:
        """Whether the SDK is importable and its CLI exists (the `cli_path` option, else the
        CLI bundled in the SDK's `_bundled` folder, else `claude` on PATH: the SDK's own
        lookup order); starts no process, sends no prompt."""
        try:
            sdk = _sdk()
        except ImportError as exc:
            return Availability(False, f"claude-agent: {exc}")
        options = self.options_for({})
        path = options.cli_path
        if path is not None:
            ok = await anyio.Path(path).is_file() and os.access(path, os.X_OK)
            reason = f"CLI at {path}" if ok else f"cli_path {path} is not an executable file"
            return Availability(ok, f"claude-agent: {reason}")
        bundled = Path(sdk.__file__).parent / "_bundled" / "claude"
        if bundled.is_file() and os.access(bundled, os.X_OK):
            return Availability(True, f"claude-agent: bundled CLI at {bundled}")
        found = shutil.which("claude")
        if found is None:
            return Availability(False, self._missing("no bundled CLI, no claude on PATH").message)
        return Availability(True, f"claude-agent: CLI found at {found}")

    async def health_check(self) -> bool:
        """Run a real one-line turn.

        Raises:
            ProviderError: the SDK or CLI is missing, or the turn failed.
        """
        await self.complete([Message.user("Reply with the word ready and nothing else.")])
        return True

    async def aclose(self) -> None:
        """Nothing is held between calls (each turn's CLI process ends with the turn)."""

    async def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        """Run one SDK turn and return its final answer (errors as `stream`)."""
        response: ModelResponse | None = None
        async for chunk in self.stream(messages, tools, **settings):
            if chunk.response is not None:
                response = chunk.response
        assert response is not None
        return response

    async def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> AsyncIterator[StreamChunk]:
        """Run one SDK turn, yielding text and thinking deltas, then the response.

        Raises:
            ProviderError: SDK or CLI missing, auth, rate limit or quota, timeout, the CLI
                failing mid-turn, unknown settings, or Spine tools given.
            ImportError: claude-agent-sdk is not installed (names the extra).
        """
        if tools:
            raise ProviderError(
                "claude-agent runs Claude Code's own tools; Spine tools are not forwarded "
                "(give the agent no tools; use allowed_tools / mcp_servers)",
                kind=ProviderErrorKind.BAD_REQUEST,
                provider=self.name,
                model=self.model,
            )
        sdk = _sdk()
        call = {**self.defaults, **{k: v for k, v in settings.items() if v is not None}}
        step = bound_step(self, messages)
        resume, prompt = turn_input(messages, call, step)
        prompt = build_prompt(prompt, call.get("preamble"), call.get("prompt_extensions") or ())
        logs = OutputLog(call.get("output_log"))
        marker = uuid.uuid4().hex

        def on_stderr(line: str) -> None:  # the SDK calls it from its reader task
            logs.stderr_sync(line)

        options = self.options_for(
            {**call, "resume": resume} if resume else call, system_prompt(messages, call)
        )
        options = dataclasses.replace(
            options, env={**options.env, MARKER_ENV: marker}, stderr=on_stderr
        )
        model = str(options.model or self.model)
        turn = ClaudeTurn(self.name, model, step.tracer if step is not None else None)
        timeout = call.get("timeout_s")
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        messages_in = sdk.query(prompt=prompt, options=options)
        finished = False
        try:
            while True:
                try:
                    with anyio.fail_after(_remaining(deadline)):
                        message = await messages_in.__anext__()
                except StopAsyncIteration:
                    finished = True
                    break
                except TimeoutError:
                    raise ProviderError(
                        f"the Claude Agent SDK turn took longer than {timeout} s; it was stopped",
                        kind=ProviderErrorKind.TIMEOUT,
                        provider=self.name,
                        model=model,
                    ) from None
                except sdk.CLINotFoundError as exc:
                    raise self._missing(str(exc)) from exc
                except sdk.ProcessError as exc:
                    if turn.result is not None and turn.error() is not None:
                        break  # the result event already says what failed
                    raise self._process_error(exc, logs, model) from exc
                except sdk.ClaudeSDKError as exc:
                    raise provider_error(
                        f"{type(exc).__name__}: {exc}",
                        provider=self.name,
                        model=model,
                        default=ProviderErrorKind.CONNECTION,
                    ) from exc
                event = _as_event(message)
                if event is None:
                    continue
                await logs.stdout(json.dumps(event, default=str).encode())
                for chunk in turn.feed(event):
                    yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                if not finished:  # cancelled or failed mid-turn: stop the CLI now
                    await kill_marked(marker)
                with anyio.move_on_after(15.0):
                    await messages_in.aclose()  # the SDK stops (and reaps) its CLI
                await kill_marked(marker)
            logs.close()
        response = turn.response()
        if step is not None:
            remember_session(step, turn, {"cwd": options.cwd and os.fspath(options.cwd)}, response)
        yield StreamChunk(type=ChunkType.RESPONSE, response=response)

    def _process_error(self, exc: Any, logs: OutputLog, model: str) -> ProviderError:
        code = getattr(exc, "exit_code", None)
        stderr = (getattr(exc, "stderr", None) or logs.stderr_text()).strip()[-4000:]
        if isinstance(code, int) and code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        text = f"the Claude Agent SDK's CLI {how} before finishing its turn"
        return provider_error(
            f"{text}: {stderr}" if stderr else text,
            provider=self.name,
            model=model,
            default=ProviderErrorKind.CONNECTION,
        )


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


def _block(block: Any) -> dict[str, Any]:
    """An SDK content block in the CLI's stream-json shape."""
    kind = type(block).__name__
    if kind == "TextBlock":
        return {"type": "text", "text": block.text}
    if kind == "ThinkingBlock":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "ToolUseBlock":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if kind == "ToolResultBlock":
        return {
            "type": "tool_result",
            "tool_use_id": block.tool_use_id,
            "content": block.content,
            "is_error": block.is_error,
        }
    if dataclasses.is_dataclass(block) and not isinstance(block, type):
        return {"type": kind, **dataclasses.asdict(block)}
    return {"type": kind}


def _as_event(message: Any) -> dict[str, Any] | None:
    """An SDK message as the CLI's stream-json event (None for kinds Spine does not map)."""
    kind = type(message).__name__
    if kind == "StreamEvent":
        return {
            "type": "stream_event",
            "event": message.event,
            "session_id": message.session_id,
            "parent_tool_use_id": message.parent_tool_use_id,
        }
    if kind == "AssistantMessage":
        return {
            "type": "assistant",
            "message": {
                "id": message.message_id,
                "model": message.model,
                "content": [_block(b) for b in message.content],
                "usage": message.usage,
            },
            "parent_tool_use_id": message.parent_tool_use_id,
            "error": message.error,
            "session_id": message.session_id,
        }
    if kind == "UserMessage":
        content = message.content
        blocks = content if isinstance(content, str) else [_block(b) for b in content]
        return {
            "type": "user",
            "message": {"role": "user", "content": blocks},
            "parent_tool_use_id": message.parent_tool_use_id,
        }
    if kind == "ResultMessage":
        return {"type": "result", **dataclasses.asdict(message)}
    if kind == "RateLimitEvent":
        info = message.rate_limit_info
        raw = dict(info.raw) if info.raw else dataclasses.asdict(info)
        raw.setdefault("status", info.status)
        raw.setdefault("resets_at", info.resets_at)
        return {
            "type": "rate_limit_event",
            "rate_limit_info": raw,
            "session_id": message.session_id,
        }
    if dataclasses.is_dataclass(message) and hasattr(message, "subtype"):
        data = getattr(message, "data", None)
        return {"type": "system", "subtype": message.subtype, **(data or {})}
    return None
