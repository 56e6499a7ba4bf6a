"""`Replayer`: replay a recording offline, with no provider or tool call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio

from spine_core import Middleware, ModelResponse, StepContext, ToolContext

from .recorder import RecordedToolResult, Recorder, Recording, recording_path

__all__ = ["Replayer"]


class _Tape:
    """A recording being played: what is left of it."""

    def __init__(self, recording: Recording) -> None:
        self.responses = [r.model_dump() for r in recording.model]
        self.results = list(recording.tool)
        calls = recording.tool_calls
        self.calls: list[RecordedToolResult] | None = (
            calls if len(calls) == len(self.results) and calls else None
        )
        self.next_response = 0
        self.unused = list(range(len(self.results)))

    def response(self) -> ModelResponse | None:
        if self.next_response >= len(self.responses):
            return None
        data = self.responses[self.next_response]
        self.next_response += 1
        return ModelResponse.model_validate(data)  # a fresh copy each time

    def result(self, call_id: str, name: str) -> tuple[Any, bool] | None:
        """(result, is_error) recorded for the call, or None when there is none left."""
        if self.calls is None:  # reference format: results in order
            index = self.unused.pop(0) if self.unused else None
        else:  # matched by call id, so parallel calls replay whatever order they finish in
            index = next(
                (
                    i
                    for i in self.unused
                    if self.calls[i].id == call_id and self.calls[i].name == name
                ),
                None,
            )
            if index is not None:
                self.unused.remove(index)
        if index is None:
            return None
        return self.results[index], self.calls is not None and self.calls[index].is_error


class Replayer(Middleware):
    """Serve recorded outputs in order; never calls the provider or tools.

    Accepts a `Recorder` (its recording as it is now), its `recording()` dict, or the
    `path` of a file `Recorder(path=...)` wrote ("{session_id}" is replaced by the run's
    session id made a safe file name, as the recorder wrote it; read on the session's first
    call). Model responses replay in order
    (`before_model` presets `ctx.response`); tool results replay by tool-call id when the
    recording has them (else in order), a recorded tool error as a tool error. When the
    recording is exhausted, calls fall through to the live provider and tools (so a longer
    run than was recorded still progresses).

    The position in the recording is kept on the replayer, so one replayer plays a recording
    once through, across the runs of a recorded conversation; `rewind()` starts over.

    Args:
        recording: A `Recorder`, a recording dict or a `Recording`.
        path: A recording file, instead of `recording`.

    Raises:
        ValueError: neither or both of `recording` and `path` given.
        pydantic.ValidationError: the recording is malformed (the file's: at its first use).
        FileNotFoundError: (at the first model call) the file does not exist.
    """

    def __init__(
        self,
        recording: Recorder | Recording | Mapping[str, Any] | None = None,
        *,
        path: str | None = None,
    ) -> None:
        if (recording is None) == (path is None):
            raise ValueError("give Replayer a recording or a path")
        self.path = path
        self._recording: Recording | None = None
        if recording is not None:
            if isinstance(recording, Recording):
                self._recording = recording
            else:
                data = recording.recording() if isinstance(recording, Recorder) else recording
                self._recording = Recording.model_validate(data)
        self._tapes: dict[str, _Tape] = {}

    def rewind(self) -> None:
        """Play the recording from the start again."""
        self._tapes.clear()

    async def _tape(self, session_id: str) -> _Tape:
        key = "" if self.path is None else str(recording_path(self.path, session_id))
        tape = self._tapes.get(key)
        if tape is None:
            recording = self._recording
            if recording is None:
                text = await anyio.Path(key).read_text()
                recording = Recording.model_validate_json(text)
            tape = self._tapes.setdefault(key, _Tape(recording))
        return tape

    async def before_model(self, ctx: StepContext[Any]) -> None:
        response = (await self._tape(ctx.session_id)).response()
        if response is not None:
            ctx.response = response

    async def before_tool(self, ctx: ToolContext[Any]) -> None:
        found = (await self._tape(ctx.session_id)).result(ctx.call.id, ctx.call.name)
        if found is None:
            return
        ctx.result, ctx.is_error = found
        ctx.skip = True
