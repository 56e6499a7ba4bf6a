"""`Replayer`: replay a `Recorder` file offline, with no provider or tool call."""

from __future__ import annotations

import anyio

from spine_core import Middleware, ModelResponse, StepContext, ToolContext

from .recorder import RecordedToolResult, Recording

__all__ = ["Replayer"]


class Replayer(Middleware):
    """Serve the recorded model responses in order (`before_model`) and the recorded tool
    results by tool-call id (`before_tool`), so a recorded run replays with the provider and
    the tools untouched. When the recording runs out, calls fall through to the live
    provider and tools. A recorded tool error replays as a tool error.

    Args:
        path: A file written by `Recorder` ("{session_id}" is replaced as there).

    Raises:
        FileNotFoundError: (at run start) the recording does not exist.
        pydantic.ValidationError: the file is not a recording.
    """

    def __init__(self, *, path: str) -> None:
        self.path = path

    async def on_run_start(self, ctx: StepContext) -> None:
        target = anyio.Path(self.path.replace("{session_id}", ctx.session_id))
        recording = Recording.model_validate_json(await target.read_text())
        ctx.scratch["replayer.responses"] = [c.response for c in recording.model_calls]
        ctx.scratch["replayer.next"] = 0
        ctx.scratch["replayer.tools"] = {r.id: r for r in recording.tool_results}

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        responses: list[ModelResponse] = ctx.scratch.get("replayer.responses", [])
        index: int = ctx.scratch.get("replayer.next", 0)
        if index >= len(responses):
            return None
        ctx.scratch["replayer.next"] = index + 1
        return responses[index].model_copy(deep=True)

    async def before_tool(self, ctx: ToolContext) -> str | None:
        recorded: dict[str, RecordedToolResult] = ctx.scratch.get("replayer.tools", {})
        result = recorded.pop(ctx.call.id, None)
        if result is None:
            return None
        ctx.is_error = result.is_error
        return result.result
