"""Deterministic fake providers and tools for the Temporal tests (also used by the crash
worker process)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from temporalio import activity

from spine_core import Message, ModelResponse, ProviderError, ToolCall, ToolContext, Usage, tool


class CountdownProvider:
    """Asks for `record(n=k)` until `steps - 1` tools have answered, then answers "done".

    Stateless (it reads the history), so one instance serves concurrent runs and a retried
    call gets the same response: a run is `steps` model calls.
    """

    name = "countdown"

    def __init__(self, steps: int = 10, model: str = "countdown") -> None:
        self.steps = steps
        self.model = model

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse:
        answered = sum(1 for m in messages if m.role == "tool")
        usage = Usage(input_tokens=10, output_tokens=2)
        if answered + 1 >= self.steps:
            return ModelResponse(message=Message.assistant(f"done after {answered}"), usage=usage)
        call = ToolCall(id=f"c{answered + 1}", name="record", arguments={"n": answered + 1})
        return ModelResponse(message=Message.assistant("", tool_calls=[call]), usage=usage)


class FlakyProvider:
    """Raises `errors` in order (one per call), then answers "recovered"; counts calls."""

    name = "flaky"
    model = "flaky-1"

    def __init__(self, errors: list[ProviderError]) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def complete(
        self, messages: list[Message], tools: list[dict[str, Any]] | None = None, **settings: Any
    ) -> ModelResponse:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return ModelResponse(message=Message.assistant("recovered"))


def ledger_path() -> Path:
    return Path(os.environ["SPINE_TEMPORAL_LEDGER"])


def _append(line: str) -> None:
    with ledger_path().open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@tool
async def record(n: int, ctx: ToolContext[Any]) -> str:
    """Record step `n` in the ledger file (the side effect the crash tests count).

    Args:
        n: The step.
    """
    info = activity.info()
    attempt = info.attempt
    pid = os.getpid()
    session = ctx.session_id
    _append(f"start {session} {n} {attempt} {pid}")
    block = os.environ.get("SPINE_TEMPORAL_BLOCK_STEP")
    if block is not None and int(block) == n and attempt == 1:
        import asyncio

        await asyncio.Event().wait()  # the first attempt of this step hangs until killed
    _append(f"done {session} {n} {attempt} {pid}")
    return f"recorded {n}"
