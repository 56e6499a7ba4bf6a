"""`LoopGuard`: stop a run that keeps making the same tool call or giving the same reply."""

from __future__ import annotations

from spine_core import Middleware, ModelResponse, StepContext, StopReason, StopRun

from ._util import digest

__all__ = ["LoopGuard"]


class LoopGuard(Middleware):
    """Stop the run with `StopReason.loop` when the model repeats itself.

    Counts, per run, each distinct tool call (name + arguments) and each distinct
    assistant response; when one reaches `max_repeats`, or the last `max_identical_in_a_row`
    responses are identical, the run stops.

    Args:
        max_repeats: Times the same tool call may be made in one run before stopping.
        max_identical_in_a_row: Identical consecutive responses that stop the run.

    Raises:
        ValueError: a limit < 2.
    """

    def __init__(self, *, max_repeats: int = 3, max_identical_in_a_row: int = 3) -> None:
        if max_repeats < 2 or max_identical_in_a_row < 2:
            raise ValueError("LoopGuard limits must be at least 2")
        self.max_repeats = max_repeats
        self.max_identical_in_a_row = max_identical_in_a_row

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        message = response.message
        counts: dict[str, int] = ctx.scratch.setdefault("loop_guard.calls", {})
        for call in message.tool_calls:
            key = digest([call.name, call.arguments])
            counts[key] = counts.get(key, 0) + 1
            if counts[key] >= self.max_repeats:
                raise StopRun(
                    StopReason.LOOP,
                    f"tool call '{call.name}' repeated {counts[key]} times with the same arguments",
                )
        signature = digest([message.content, [[c.name, c.arguments] for c in message.tool_calls]])
        streak: list[str] = ctx.scratch.setdefault("loop_guard.streak", [])
        if streak and streak[-1] != signature:
            streak.clear()
        streak.append(signature)
        if len(streak) >= self.max_identical_in_a_row:
            raise StopRun(
                StopReason.LOOP, f"the model gave the same response {len(streak)} times in a row"
            )
        return None
