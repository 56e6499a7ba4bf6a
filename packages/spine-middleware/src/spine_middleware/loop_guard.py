"""`LoopGuard`: stop a run that keeps making the same tool calls or giving the same reply."""

from __future__ import annotations

from typing import Any

from spine_core import Middleware, StepContext, StopReason, StopRun

from ._util import digest

__all__ = ["LoopGuard"]


class LoopGuard(Middleware):
    """Detect a stuck agent that keeps calling the same tool with the same args.

    Hashes each step's set of tool calls (name + arguments, in any order); if the same
    signature appears `max_repeats` times within the trailing `window` steps that made tool
    calls, the run stops with `StopReason.loop` instead of burning the whole step budget
    (`Result.answer` names the repeated tools). Responses without tool calls never end a run
    by themselves when a middleware set `force_continue` (a repair loop): the same such reply
    `max_identical_in_a_row` times in a row also stops the run.

    The history is per run (in `ctx.extra`): a chat session's next turn starts afresh, and
    one instance serves concurrent runs. (The reference keeps it in the persisted
    `state.scratch`, so earlier turns count against later ones.)

    Args:
        window: Trailing tool-calling steps examined (>= `max_repeats`).
        max_repeats: Occurrences of one signature within the window that stop the run (>= 2).
        max_identical_in_a_row: Identical consecutive replies without tool calls that stop
            the run (>= 2), or None to not check.

    Raises:
        ValueError: `max_repeats` < 2, `window` < `max_repeats`, or
            `max_identical_in_a_row` < 2.
    """

    def __init__(
        self,
        window: int = 4,
        max_repeats: int = 3,
        *,
        max_identical_in_a_row: int | None = 3,
    ) -> None:
        if max_repeats < 2:
            raise ValueError("max_repeats must be at least 2")
        if window < max_repeats:
            raise ValueError("window must be at least max_repeats")
        if max_identical_in_a_row is not None and max_identical_in_a_row < 2:
            raise ValueError("max_identical_in_a_row must be at least 2")
        self.window = window
        self.max_repeats = max_repeats
        self.max_identical_in_a_row = max_identical_in_a_row
        self._slot = f"loop_guard.{id(self)}"  # per-run history, in ctx.extra

    async def after_model(self, ctx: StepContext[Any]) -> None:
        if ctx.response is None:
            return
        message = ctx.response.message
        memory: dict[str, list[str]] = ctx.extra.setdefault(
            self._slot, {"calls": [], "replies": []}
        )
        if not message.tool_calls:
            self._check_replies(memory["replies"], message.text)
            return
        memory["replies"].clear()
        signature = digest(sorted(digest([c.name, c.arguments]) for c in message.tool_calls))
        history = memory["calls"]
        history.append(signature)
        del history[: -self.window]
        repeats = history.count(signature)
        if repeats >= self.max_repeats:
            names = ", ".join(sorted({c.name for c in message.tool_calls}))
            raise StopRun(
                StopReason.LOOP,
                f"loop detected: identical tool action ({names}) repeated {repeats}x "
                f"in the last {len(history)} tool steps",
            )

    def _check_replies(self, replies: list[str], text: str) -> None:
        if self.max_identical_in_a_row is None:
            return
        signature = digest(text)
        if replies and replies[-1] != signature:
            replies.clear()
        replies.append(signature)
        if len(replies) >= self.max_identical_in_a_row:
            raise StopRun(
                StopReason.LOOP,
                f"loop detected: the model gave the same reply {len(replies)} times in a row",
            )
