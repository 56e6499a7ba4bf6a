"""`Recorder`: capture a live run's model responses and tool results for offline replay."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel, Field

from spine_core import (
    Message,
    Middleware,
    ModelResponse,
    Result,
    State,
    StepContext,
    ToolContext,
    provider_model,
    provider_name,
    tool_output_text,
)

__all__ = [
    "RecordedModelCall",
    "RecordedToolResult",
    "Recorder",
    "Recording",
    "recording_path",
    "safe_file_name",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 120


def safe_file_name(session_id: str) -> str:
    """`session_id` as one file-name component that cannot leave its folder: every character
    but ASCII letters, digits, "_" and "-" is percent-encoded ("../x" -> "%2E%2E%2Fx"); a
    result over 120 characters is cut and suffixed with a SHA-256 prefix of the id."""
    name = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode()), session_id)
    if not name:
        name = "%00empty"
    if len(name) > _MAX_NAME:
        digest = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = f"{name[: _MAX_NAME - 17]}-{digest}"
    return name


def recording_path(template: str, session_id: str) -> Path:
    """The file for `session_id` under `template`: "{session_id}" replaced by
    `safe_file_name(session_id)`.

    Raises:
        ValueError: the resulting path would leave the template's folder.
    """
    if "{session_id}" not in template:
        return Path(template)
    target = Path(template.replace("{session_id}", safe_file_name(session_id)))
    base = Path(template.split("{session_id}", 1)[0] or ".")
    base = base if template.split("{session_id}", 1)[0].endswith(("/", "\\")) else base.parent
    if not target.resolve().is_relative_to(base.resolve()):
        raise ValueError(f"session id {session_id!r} would write outside {str(base)!r}")
    return target


_REACHED = "recorder.reached"  # ctx.extra: ids of the tool calls that reached this recorder


class RecordedModelCall(BaseModel):
    """What a recorded model call was sent; its response is at the same index of
    `Recording.model`."""

    session_id: str = ""
    provider: str = ""
    model: str = ""
    messages: list[Message] = Field(default_factory=list)


class RecordedToolResult(BaseModel):
    """Which tool call a recorded result answered; the result is at the same index of
    `Recording.tool`."""

    session_id: str = ""
    id: str = ""
    name: str = ""
    arguments: dict[str, Any] = Field(default_factory=dict)
    is_error: bool = False


class Recording(BaseModel):
    """A recording: what `Recorder.recording()` returns (as a dict), `Replayer` reads and
    `Recorder(path=...)` writes as JSON.

    `model` and `tool` are the reference format (responses and results in order); the
    optional `model_calls` and `tool_calls`, index for index, say what each call was sent and
    which tool call each result answered (so a replay matches results by call id and replays
    errors as errors).
    """

    model: list[ModelResponse] = Field(default_factory=list)
    tool: list[Any] = Field(default_factory=list)
    model_calls: list[RecordedModelCall] = Field(default_factory=list)
    tool_calls: list[RecordedToolResult] = Field(default_factory=list)


class Recorder(Middleware):
    """Capture model responses and tool results during a live run.

    `model_responses` and `tool_results` grow with every model call and tool result of every
    run the recorder is part of: the recorder is a log, so give each recorded run its own
    `Recorder`, or `clear()` it. `recording()` returns them JSON-ready for `Replayer`. List
    it first (outermost) to record responses and results as the rest of the chain left them.
    Results the kernel gives without calling the tool (invalid arguments, an unknown tool, a
    human's rejection) are not recorded: a replay produces them itself.

    With `path`, the recording is also written there as JSON when a run ends; "{session_id}"
    in the path is replaced by the run's session id and the file then holds only that
    session's calls (one file per session). The id is made a safe file name first
    (`safe_file_name`: "../x" becomes "%2E%2E%2Fx"), so no session id writes outside the
    folder.

    Args:
        path: File to write at the end of each run, or None to keep the recording in memory
            only.

    Attributes:
        model_responses: The responses, in order (copies).
        tool_results: The tool results, in order (as the tool returned them, or the error
            text).
        model_calls: What each model call was sent, index for index with `model_responses`.
        tool_calls: The tool call of each result, index for index with `tool_results`.
    """

    def __init__(self, *, path: str | None = None) -> None:
        self.path = path
        self.model_responses: list[ModelResponse] = []
        self.tool_results: list[Any] = []
        self.model_calls: list[RecordedModelCall] = []
        self.tool_calls: list[RecordedToolResult] = []

    def clear(self) -> None:
        """Forget everything recorded so far."""
        self.model_responses.clear()
        self.tool_results.clear()
        self.model_calls.clear()
        self.tool_calls.clear()

    async def after_model(self, ctx: StepContext[Any]) -> None:
        if ctx.response is None:
            return
        # `raw` (the SDK's own object) is never recorded: it is not JSON and may not copy.
        self.model_responses.append(
            ctx.response.model_copy(update={"raw": None}).model_copy(deep=True)
        )
        self.model_calls.append(
            RecordedModelCall(
                session_id=ctx.session_id,
                provider=provider_name(ctx.provider),
                model=provider_model(ctx.provider),
                messages=[m.model_copy(deep=True) for m in ctx.messages],
            )
        )

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        ctx.extra.setdefault(_REACHED, set()).add(ctx.call.id)

    async def after_tool(self, ctx: ToolContext[Any]) -> None:
        reached: set[str] = ctx.extra.get(_REACHED, set())
        if ctx.call.id not in reached:
            return  # answered by the kernel (invalid arguments, unknown tool, a human's
            # decision) or by a middleware outside this one: a replay reproduces it as well
        reached.discard(ctx.call.id)
        self.tool_results.append(ctx.result)
        self.tool_calls.append(
            RecordedToolResult(
                session_id=ctx.session_id,
                id=ctx.call.id,
                name=ctx.call.name,
                arguments=dict(ctx.args),
                is_error=ctx.is_error or ctx.error is not None,
            )
        )

    def recording(self, session_id: str | None = None) -> dict[str, Any]:
        """The recording, JSON-ready, for storage or `Replayer`: `{"model": [...], "tool":
        [...], "model_calls": [...], "tool_calls": [...]}` (see `Recording`). With
        `session_id`, only that session's calls."""
        model, model_calls = self.model_responses, self.model_calls
        tool, tool_calls = self.tool_results, self.tool_calls
        if len(model_calls) != len(model):  # the lists were edited: keep the reference part
            model_calls = []
        if len(tool_calls) != len(tool):
            tool_calls = []
        if session_id is not None:
            if model_calls:
                kept = [i for i, c in enumerate(model_calls) if c.session_id == session_id]
                model, model_calls = [model[i] for i in kept], [model_calls[i] for i in kept]
            if tool_calls:
                kept = [i for i, c in enumerate(tool_calls) if c.session_id == session_id]
                tool, tool_calls = [tool[i] for i in kept], [tool_calls[i] for i in kept]
        data: dict[str, Any] = {
            "model": [r.model_dump(mode="json") for r in model],
            "tool": [_jsonable(v) for v in tool],
        }
        if model_calls:
            data["model_calls"] = [c.model_dump(mode="json") for c in model_calls]
        if tool_calls:
            data["tool_calls"] = [c.model_dump(mode="json") for c in tool_calls]
        return data

    async def on_run_end(self, state: State, result: Result) -> None:
        if self.path is None:
            return
        per_session = "{session_id}" in self.path
        target = anyio.Path(recording_path(self.path, state.session_id))
        data = self.recording(state.session_id if per_session else None)
        await target.parent.mkdir(parents=True, exist_ok=True)
        await target.write_text(json.dumps(data, indent=2, ensure_ascii=False))


def _jsonable(value: Any) -> Any:
    """`value` when it is JSON as it is, else the text the model saw for it."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return tool_output_text(value)
    return value
