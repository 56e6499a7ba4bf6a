"""`Recorder`: write a live run (model calls and tool results) to a JSON file."""

from __future__ import annotations

import anyio
from pydantic import BaseModel, Field

from spine_core import (
    Message,
    Middleware,
    ModelResponse,
    Result,
    StepContext,
    ToolContext,
)

__all__ = ["RecordedModelCall", "RecordedToolResult", "Recorder", "Recording"]


class RecordedModelCall(BaseModel):
    """One model call: what was sent and what came back."""

    provider: str
    model: str
    messages: list[Message]
    response: ModelResponse


class RecordedToolResult(BaseModel):
    """One tool call and its result text."""

    id: str
    name: str
    arguments: dict[str, object] = Field(default_factory=dict)
    result: str
    is_error: bool = False


class Recording(BaseModel):
    """The JSON file format `Recorder` writes and `Replayer` reads (`version` 1)."""

    version: int = 1
    session_id: str = ""
    model_calls: list[RecordedModelCall] = Field(default_factory=list)
    tool_results: list[RecordedToolResult] = Field(default_factory=list)
    answer: str = ""
    stopped_reason: str = ""


class Recorder(Middleware):
    """Record each model call (messages in, response out) and each tool result of a run, and
    write them as JSON to `path` when the run ends.

    List it first (outermost) to record responses and results as the rest of the chain left
    them. Replay the file with `Replayer`.

    Args:
        path: File to write; "{session_id}" in it is replaced by the run's session id (one
            file per session when several runs share the recorder).
    """

    def __init__(self, *, path: str) -> None:
        self.path = path

    @staticmethod
    def _recording(ctx: StepContext) -> Recording:
        recording = ctx.scratch.get("recorder.recording")
        if not isinstance(recording, Recording):
            recording = Recording(session_id=ctx.session_id)
            ctx.scratch["recorder.recording"] = recording
        return recording

    async def on_run_start(self, ctx: StepContext) -> None:
        self._recording(ctx)

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        self._recording(ctx).model_calls.append(
            RecordedModelCall(
                provider=ctx.provider.name,
                model=ctx.provider.model,
                messages=list(ctx.messages),
                response=response,
            )
        )
        return None

    async def after_tool(self, ctx: ToolContext, result: str) -> str | None:
        self._recording(ctx.run).tool_results.append(
            RecordedToolResult(
                id=ctx.call.id,
                name=ctx.call.name,
                arguments=dict(ctx.call.arguments),
                result=result,
                is_error=ctx.is_error,
            )
        )
        return None

    async def on_run_end(self, ctx: StepContext, result: Result) -> Result | None:
        recording = self._recording(ctx)
        recording.answer = result.answer
        recording.stopped_reason = result.stopped_reason.value
        target = anyio.Path(self.path.replace("{session_id}", ctx.session_id))
        await target.parent.mkdir(parents=True, exist_ok=True)
        await target.write_text(recording.model_dump_json(indent=2))
        return None
