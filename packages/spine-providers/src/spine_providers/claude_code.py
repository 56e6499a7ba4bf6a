"""`claude-code:<model>`: one Spine model step runs one whole Claude Code agent turn.

The `claude` CLI (npm package `@anthropic-ai/claude-code`) runs its own tool loop: it reads
files, runs commands, edits code, and answers. `ClaudeCodeProvider` starts it as a child
process for each Spine step (`claude -p --output-format stream-json --verbose
--include-partial-messages`, the prompt on stdin), maps its events (see
`spine_providers.claude_code_events`) and returns the turn's final answer as the assistant
message, so the Spine loop ends the run after one step. Continuation: each answer records
the CLI session id, and the next turn of the same Spine session runs `--resume <id>`; the
CLI keeps the transcript itself (under `~/.claude/projects/<encoded cwd>/`), so resuming
needs the same `HOME` and working directory.

`ClaudeCodeSession` is an optional middleware that binds the run to the provider: the
session id is then also kept in `State.scratch["claude_code"]`, and the CLI's own tool calls
and results appear in the run's trace as `tool_call` / `tool_result` events. Without it the
session id travels on the assistant message (`Thinking.id`) and the tool activity is on
`ModelResponse.raw["tools"]`.

Process handling: the child runs in its own session (process group), its pid is tracked on
`ClaudeCodeProvider.processes` while it runs, and on cancel, timeout or error the whole
group gets SIGTERM, then SIGKILL after `kill_grace_s`, and is reaped; on Linux any
descendant that left the group (found by a per-call marker in its environment) is killed
too, so nothing is orphaned.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextvars import ContextVar
from subprocess import PIPE
from typing import Any, Literal

import anyio
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from spine_core.context import StepContext
from spine_core.errors import ProviderError, ProviderErrorKind
from spine_core.messages import ImagePart, Message, ModelResponse, Role
from spine_core.middleware import Middleware
from spine_core.provider import ChunkType, StreamChunk

from .availability import Availability
from .claude_code_events import ClaudeTurn, last_session
from .claude_code_process import MARKER_ENV, OutputLog, kill_marked, signal_group
from .quota import provider_error

__all__ = [
    "NPM_PACKAGE",
    "SCRATCH_KEY",
    "ClaudeCodeProvider",
    "ClaudeCodeSession",
    "build_prompt",
    "claude_code_session",
]

NPM_PACKAGE = "@anthropic-ai/claude-code"
"""The npm package that installs the `claude` CLI."""

SCRATCH_KEY = "claude_code"
"""`State.scratch` key holding `{"session_id", "cwd", "model", "turns", "cost_usd"}`."""

_MAX_LINE = 64 * 1024 * 1024  # one stream-json line (a large tool result) may be big
_STDERR_TAIL = 4000  # characters of stderr quoted in an error

# Settings a call may give (beside the kernel's `thinking`), over the constructor's values.
_CALL_SETTINGS = frozenset(
    {
        "model",
        "cwd",
        "allowed_tools",
        "disallowed_tools",
        "permission_mode",
        "max_turns",
        "max_budget_usd",
        "preamble",
        "prompt_extensions",
        "output_log",
        "timeout_s",
        "resume",
        "append_system_prompt",
        "thinking",
        "output_schema",
    }
)

_BOUND: ContextVar[StepContext[Any] | None] = ContextVar("spine_claude_code_step", default=None)


def build_prompt(prompt: str, preamble: str | None, extensions: Sequence[str]) -> str:
    """The text sent for a turn: the preamble, then each non-blank prompt extension, then the
    prompt, separated by blank lines (Marianne's order: identity first, directives next, the
    task last)."""
    parts = [preamble.strip()] if preamble and preamble.strip() else []
    parts.extend(e.strip() for e in extensions if e and e.strip())
    parts.append(prompt)
    return "\n\n".join(parts)


class ClaudeCodeProvider:
    """The Claude Code CLI as a Spine provider (scheme `claude-code`).

    Args:
        model: Model for `--model` (an alias such as "sonnet" or a full name); None or "":
            the CLI's default.
        cli_path: The `claude` executable (default: `claude` on PATH). A wrapper script
            works (tests run the CLI through `nsenter` into a network namespace).
        cwd: Working directory of the CLI (default: this process's); sessions are stored
            per working directory, so resume with the same one.
        allowed_tools: Tools the CLI may use without asking (`--allowedTools`, e.g.
            `["Read", "Bash(git:*)"]`); in `-p` mode a tool that needs permission and is not
            allowed is refused.
        disallowed_tools: Tools removed from the CLI's context (`--disallowedTools`).
        permission_mode: `--permission-mode` ("default", "acceptEdits", "plan", "dontAsk",
            "bypassPermissions").
        max_turns: `--max-turns`: the CLI's own cap on its model calls in one turn (reaching
            it ends the step with finish reason "length").
        max_budget_usd: `--max-budget-usd` for one turn (USD).
        system_prompt_mode: "append" (default) adds the Spine system prompt to Claude
            Code's own (`--append-system-prompt`, which keeps its tool instructions);
            "replace" uses it instead (`--system-prompt`).
        mcp_config: MCP server configuration for the CLI (a JSON file path or string).
        strict_mcp_config: Use only `mcp_config`'s servers (`--strict-mcp-config`; default
            True, as Marianne disables MCP for speed and predictability).
        env: Extra environment variables for the CLI (e.g. `ANTHROPIC_BASE_URL`); the
            process's own environment is inherited.
        extra_args: More CLI arguments, appended as given (an escape hatch).
        bare: Claude Code's minimal mode (`--bare`: no hooks, plugins, LSP, auto-memory or
            background prefetches); starts faster and depends less on the user's setup.
        timeout_s: Seconds one turn may take (None: no limit beyond the run's guards); on
            expiry the CLI is killed and `ProviderError(kind="timeout")` raised.
        kill_grace_s: Seconds between SIGTERM and SIGKILL when stopping the CLI.
        preamble: Text placed before each prompt (see `build_prompt`).
        prompt_extensions: Directive blocks placed after the preamble.
        output_log: Base path for live logs of each turn: raw stdout lines are appended to
            `<base>.stdout.log` and stderr to `<base>.stderr.log` as they arrive (Marianne's
            layout, so `tail -f` works).

    Every argument from `model` to `output_log` except `cli_path`, `system_prompt_mode`,
    `mcp_config`, `strict_mcp_config`, `env`, `extra_args`, `bare` and `kill_grace_s` can
    also be given per call as a setting (`Agent.run(..., settings={"model": "opus"})` or
    a spec's `settings:`), which applies to that call only and never changes the provider,
    so concurrent runs with different settings share one provider safely. Per-call only:
    `resume` (a CLI session id to continue), `append_system_prompt`, and the kernel's
    `thinking` (`{"budget_tokens": n}` -> `--max-thinking-tokens`, `{"effort": ...}` ->
    `--effort`) and `output_schema` (`--json-schema`: the CLI's structured output becomes
    the answer, as JSON text, so `Agent(output_type=...)` works). Any other setting raises
    `ProviderError(kind="bad_request")`.

    Spine tools are not forwarded (the CLI runs its own); a call with tools raises
    `ProviderError(kind="bad_request")`. Give the CLI tools through `allowed_tools` and
    `mcp_config`.
    """

    name = "claude-code"

    def __init__(
        self,
        model: str | None = None,
        *,
        cli_path: str | os.PathLike[str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        allowed_tools: Sequence[str] | None = None,
        disallowed_tools: Sequence[str] | None = None,
        permission_mode: str | None = None,
        max_turns: int | None = None,
        max_budget_usd: float | None = None,
        system_prompt_mode: Literal["append", "replace"] = "append",
        mcp_config: str | os.PathLike[str] | None = None,
        strict_mcp_config: bool = True,
        env: Mapping[str, str] | None = None,
        extra_args: Sequence[str] = (),
        bare: bool = False,
        timeout_s: float | None = None,
        kill_grace_s: float = 2.0,
        preamble: str | None = None,
        prompt_extensions: Sequence[str] = (),
        output_log: str | os.PathLike[str] | None = None,
    ) -> None:
        if system_prompt_mode not in ("append", "replace"):
            raise ValueError("system_prompt_mode must be 'append' or 'replace'")
        self.model = model or ""
        self.cli_path = os.fspath(cli_path) if cli_path is not None else None
        self.system_prompt_mode = system_prompt_mode
        self.mcp_config = os.fspath(mcp_config) if mcp_config is not None else None
        self.strict_mcp_config = strict_mcp_config
        self.env = dict(env or {})
        self.extra_args = list(extra_args)
        self.bare = bare
        self.kill_grace_s = kill_grace_s
        self.defaults: dict[str, Any] = {
            "cwd": os.fspath(cwd) if cwd is not None else None,
            "allowed_tools": list(allowed_tools) if allowed_tools is not None else None,
            "disallowed_tools": list(disallowed_tools) if disallowed_tools is not None else None,
            "permission_mode": permission_mode,
            "max_turns": max_turns,
            "max_budget_usd": max_budget_usd,
            "timeout_s": timeout_s,
            "preamble": preamble,
            "prompt_extensions": list(prompt_extensions),
            "output_log": os.fspath(output_log) if output_log is not None else None,
        }
        self._processes: set[int] = set()

    def __repr__(self) -> str:
        return f"ClaudeCodeProvider(model={self.model!r})"

    @property
    def processes(self) -> frozenset[int]:
        """Pids of the CLI processes running now (each call's child, until it is reaped)."""
        return frozenset(self._processes)

    # -- checks ---------------------------------------------------------------------------
    def executable(self) -> str | None:
        """The CLI's path: `cli_path` when it is an executable file, else `claude` on PATH;
        None when neither exists."""
        if self.cli_path is not None:
            path = self.cli_path
            if os.sep not in path:
                return shutil.which(path)
            return path if os.path.isfile(path) and os.access(path, os.X_OK) else None
        return shutil.which("claude")

    def _missing(self) -> ProviderError:
        where = f"at {self.cli_path}" if self.cli_path else "on PATH ('claude')"
        return ProviderError(
            f"the Claude Code CLI was not found {where}; install it with: "
            f"npm install -g {NPM_PACKAGE} (or pass cli_path=)",
            kind=ProviderErrorKind.BAD_REQUEST,
            retryable=False,
            provider=self.name,
            model=self.model,
        )

    async def availability_check(self) -> Availability:
        """Whether the CLI is installed and executable; starts no process, sends no prompt
        (Marianne's check, for use after a quota wait)."""
        path = self.executable()
        if path is None:
            return Availability(False, self._missing().message)
        return Availability(True, f"claude-code: CLI found at {path}")

    async def health_check(self) -> bool:
        """Run a real one-line turn ("Reply with the word ready").

        Returns:
            True when the CLI answered.

        Raises:
            ProviderError: the CLI is missing or the turn failed.
        """
        await self.complete([Message.user("Reply with the word ready and nothing else.")])
        return True

    async def aclose(self) -> None:
        """Nothing is held between calls (each turn's process ends with the turn)."""

    # -- calls ----------------------------------------------------------------------------
    async def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        """Run one CLI turn and return its final answer.

        Raises:
            ProviderError: CLI missing (names the npm package), auth, rate limit or quota
                (`QuotaExhaustedError`), timeout, the CLI dying mid-turn (kind connection,
                with its signal or exit code and stderr), bad settings or Spine tools.
        """
        response: ModelResponse | None = None
        async for chunk in self.stream(messages, tools, **settings):
            if chunk.response is not None:
                response = chunk.response
        assert response is not None  # stream() ends with the response or raises
        return response

    async def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> AsyncIterator[StreamChunk]:
        """Run one CLI turn, yielding text and thinking deltas as they arrive and, last, a
        chunk with the `ModelResponse` (see `complete` for the errors)."""
        call = self._settings(settings)
        if tools:
            raise ProviderError(
                "claude-code runs its own tools; Spine tools are not forwarded to the CLI "
                f"({', '.join(str(t.get('name')) for t in tools)}): give the agent no tools, "
                "and the CLI tools through allowed_tools or mcp_config",
                kind=ProviderErrorKind.BAD_REQUEST,
                provider=self.name,
                model=self.model,
            )
        path = self.executable()
        if path is None:
            raise self._missing()
        step = bound_step(self, messages)
        model = str(call.get("model") or self.model)
        resume, prompt = turn_input(messages, call, step)
        prompt = build_prompt(prompt, call.get("preamble"), call.get("prompt_extensions") or ())
        command = self._command(path, call, model, resume, system_prompt(messages, call))
        turn = ClaudeTurn(self.name, model, step.tracer if step is not None else None)
        async for chunk in self._run(command, prompt, call, turn):
            yield chunk
        response = turn.response()
        if step is not None:
            remember_session(step, turn, call, response)
        yield StreamChunk(type=ChunkType.RESPONSE, response=response)

    def _settings(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        given = {k: v for k, v in settings.items() if v is not None}
        unknown = sorted(set(given) - _CALL_SETTINGS)
        if unknown:
            raise ProviderError(
                f"claude-code does not support the setting(s) {', '.join(unknown)} "
                f"(it takes: {', '.join(sorted(_CALL_SETTINGS))})",
                kind=ProviderErrorKind.BAD_REQUEST,
                provider=self.name,
                model=self.model,
            )
        merged = {k: v for k, v in self.defaults.items() if v is not None}
        merged.update(given)
        return merged

    def _command(
        self,
        path: str,
        call: Mapping[str, Any],
        model: str,
        resume: str | None,
        system: str,
    ) -> list[str]:
        command = [path, "-p", "--output-format", "stream-json", "--verbose"]
        command.append("--include-partial-messages")
        if self.bare:
            command.append("--bare")
        if model:
            command.append(f"--model={model}")
        if resume:
            command.append(f"--resume={resume}")
        if call.get("allowed_tools"):
            command.append(f"--allowedTools={','.join(call['allowed_tools'])}")
        if call.get("disallowed_tools"):
            command.append(f"--disallowedTools={','.join(call['disallowed_tools'])}")
        if call.get("permission_mode"):
            command.append(f"--permission-mode={call['permission_mode']}")
        if call.get("max_turns") is not None:
            command.append(f"--max-turns={int(call['max_turns'])}")
        if call.get("max_budget_usd") is not None:
            command.append(f"--max-budget-usd={float(call['max_budget_usd'])}")
        if system:
            flag = "--system-prompt" if self.system_prompt_mode == "replace" else None
            command.append(f"{flag or '--append-system-prompt'}={system}")
        schema = call.get("output_schema")
        if isinstance(schema, Mapping):  # the CLI's StructuredOutput tool: JSON as the answer
            command.append(f"--json-schema={json.dumps(schema.get('schema', schema))}")
        thinking = call.get("thinking")
        if isinstance(thinking, Mapping):
            if thinking.get("budget_tokens"):
                command.append(f"--max-thinking-tokens={int(thinking['budget_tokens'])}")
            if thinking.get("effort"):
                command.append(f"--effort={thinking['effort']}")
        if self.mcp_config:
            command.append(f"--mcp-config={self.mcp_config}")
        if self.strict_mcp_config:
            command.append("--strict-mcp-config")
        command.extend(self.extra_args)
        return command

    async def _run(
        self,
        command: list[str],
        prompt: str,
        call: Mapping[str, Any],
        turn: ClaudeTurn,
    ) -> AsyncIterator[StreamChunk]:
        marker = uuid.uuid4().hex
        env = {k: v for k, v in os.environ.items() if k != "CLAUDECODE"}
        env.update(self.env)
        env[MARKER_ENV] = marker
        timeout = call.get("timeout_s")
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        logs = OutputLog(call.get("output_log"))
        stderr = logs.stderr_file()
        process: Process | None = None
        try:
            try:
                process = await anyio.open_process(
                    command,
                    stdin=PIPE,
                    stdout=PIPE,
                    stderr=stderr,
                    cwd=call.get("cwd"),
                    env=env,
                    start_new_session=True,
                )
            except FileNotFoundError as exc:
                if call.get("cwd") and not await anyio.Path(call["cwd"]).is_dir():
                    raise ProviderError(
                        f"the working directory {call['cwd']} does not exist",
                        kind=ProviderErrorKind.BAD_REQUEST,
                        provider=self.name,
                        model=turn.model,
                    ) from exc
                raise self._missing() from exc
            self._processes.add(process.pid)
            assert process.stdin is not None and process.stdout is not None
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                async with process.stdin:  # closing stdin ends the prompt
                    await process.stdin.send(prompt.encode())
            reader = BufferedByteReceiveStream(process.stdout)
            while True:
                try:
                    with anyio.fail_after(_remaining(deadline)):
                        line = await reader.receive_until(b"\n", _MAX_LINE)
                except anyio.EndOfStream:
                    break
                except anyio.IncompleteRead:  # the end; maybe a last line without its newline
                    line = bytes(reader.buffer)
                    if line.strip():
                        await logs.stdout(line)
                        for chunk in turn.feed_line(line):
                            yield chunk
                    break
                except TimeoutError:
                    raise ProviderError(
                        f"the claude CLI turn took longer than {timeout} s; it was stopped",
                        kind=ProviderErrorKind.TIMEOUT,
                        provider=self.name,
                        model=turn.model,
                    ) from None
                await logs.stdout(line)
                for chunk in turn.feed_line(line):
                    yield chunk
            code: int | None = None
            with anyio.move_on_after(_remaining(deadline, floor=5.0)):
                code = await process.wait()  # stdout closed: it is exiting (else stopped below)
            if turn.result is None or (code not in (0, None) and turn.error() is None):
                raise self._died(code, logs.stderr_text(), turn)
        finally:
            if process is not None:
                await self._stop(process, marker)
            logs.close()

    def _died(self, code: int | None, stderr: str, turn: ClaudeTurn) -> ProviderError:
        """The error for a CLI that ended without finishing its turn."""
        tail = stderr.strip()[-_STDERR_TAIL:]
        if code is None:
            how = "closed its output without exiting"
        elif code < 0:
            try:
                how = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"was killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        text = f"the claude CLI {how} before finishing its turn"
        if turn.session_id:
            text += f" (session {turn.session_id})"
        if tail:
            text += f": {tail}"
        if "No conversation found" in tail:
            return ProviderError(
                f"{text} (Claude Code keeps sessions per HOME and working directory: resume "
                "with the same cwd)",
                kind=ProviderErrorKind.BAD_REQUEST,
                provider=self.name,
                model=turn.model,
            )
        return provider_error(
            text, provider=self.name, model=turn.model, default=ProviderErrorKind.CONNECTION
        )

    async def _stop(self, process: Process, marker: str) -> None:
        """Stop the CLI's process group (SIGTERM, then SIGKILL after the grace period), reap
        it, and kill any descendant carrying this call's marker. Shielded: runs to the end
        even when the caller is being cancelled."""
        with anyio.CancelScope(shield=True):
            try:
                if process.returncode is None:
                    signal_group(process.pid, signal.SIGTERM)
                    with anyio.move_on_after(self.kill_grace_s):
                        await process.wait()
                    if process.returncode is None:
                        signal_group(process.pid, signal.SIGKILL)
                        with anyio.move_on_after(5.0):
                            await process.wait()
                else:
                    signal_group(process.pid, signal.SIGKILL)  # leftovers in its group
                await kill_marked(marker)
                with contextlib.suppress(Exception):
                    await process.aclose()
            finally:
                if process.returncode is not None:
                    self._processes.discard(process.pid)


class ClaudeCodeSession(Middleware):
    """Binds each model call of a run to the Claude Code / Claude Agent SDK provider, so it
    keeps the CLI session id in `State.scratch["claude_code"]` (`{"session_id", "cwd",
    "model", "turns", "cost_usd"}`) and emits the CLI's own tool calls and results as
    `tool_call` / `tool_result` trace events (marked `"runtime"`). Holds no per-run data
    itself: one instance serves concurrent runs. Other providers ignore it."""

    async def before_model(self, ctx: StepContext[Any]) -> None:
        _BOUND.set(ctx)

    async def after_model(self, ctx: StepContext[Any]) -> None:
        _BOUND.set(None)


def claude_code_session() -> ClaudeCodeSession:
    """Factory for `ClaudeCodeSession` (for a middleware registry entry)."""
    return ClaudeCodeSession()


# -- helpers -------------------------------------------------------------------------------
def bound_step(provider: Any, messages: list[Message]) -> StepContext[Any] | None:
    """The bound step context, when it is this very call's (the kernel passes
    `ctx.messages` itself to the provider, so identity proves it is not stale)."""
    ctx = _BOUND.get()
    if ctx is None or ctx.messages is not messages or ctx.provider is not provider:
        return None
    return ctx


def turn_input(
    messages: Sequence[Message], call: Mapping[str, Any], step: StepContext[Any] | None
) -> tuple[str | None, str]:
    """The CLI session to resume (None: a new one) and the prompt text for this turn.

    The session is the call's `resume` setting, else the bound state's scratch, else the
    latest answer's recorded session. Resuming sends only the messages after the last
    answer; a new session gets the whole conversation (system messages aside), rendered as
    a transcript when it has more than one message.
    """
    for message in messages:
        if message.parts and any(isinstance(p, ImagePart) for p in message.parts):
            raise ProviderError(
                "claude-code takes text prompts only; this conversation has an image part",
                kind=ProviderErrorKind.BAD_REQUEST,
                provider="claude-code",
            )
    recorded, index = last_session(messages)
    scratch = step.state.scratch.get(SCRATCH_KEY) if step is not None else None
    resume = call.get("resume") or (scratch or {}).get("session_id") or recorded
    if resume and index < 0:
        index = max((i for i, m in enumerate(messages) if m.role is Role.ASSISTANT), default=-1)
    turns = (
        [m for m in messages[index + 1 :] if m.role is not Role.SYSTEM]
        if resume
        else [m for m in messages if m.role is not Role.SYSTEM]
    )
    if not turns:
        raise ProviderError(
            "nothing to send to the claude CLI: no user message after the last answer",
            kind=ProviderErrorKind.BAD_REQUEST,
            provider="claude-code",
        )
    if len(turns) == 1 or all(m.role is Role.USER for m in turns):
        return resume, "\n\n".join(m.text for m in turns)
    lines = ["The conversation so far:"]
    for message in turns[:-1]:
        who = "User" if message.role is Role.USER else message.role.value.capitalize()
        lines.append(f"{who}: {message.text}")
    return resume, "\n\n".join(lines) + "\n\n" + turns[-1].text


def system_prompt(messages: Sequence[Message], call: Mapping[str, Any]) -> str:
    parts = [m.text for m in messages if m.role is Role.SYSTEM and m.text]
    if call.get("append_system_prompt"):
        parts.append(str(call["append_system_prompt"]))
    return "\n\n".join(parts)


def remember_session(
    step: StepContext[Any], turn: ClaudeTurn, call: Mapping[str, Any], response: ModelResponse
) -> None:
    previous = step.state.scratch.get(SCRATCH_KEY) or {}
    step.state.scratch[SCRATCH_KEY] = {
        "session_id": turn.session_id,
        "cwd": call.get("cwd") or os.getcwd(),
        "model": turn.model,
        "turns": int(previous.get("turns") or 0) + 1,
        "cost_usd": float(previous.get("cost_usd") or 0.0) + response.usage.cost_usd,
    }


def _remaining(deadline: float | None, floor: float = 0.0) -> float | None:
    if deadline is None:
        return None
    return max(deadline - time.monotonic(), floor)
