"""`ContentPolicy`: block inputs and answers that match banned patterns or a predicate."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from spine_core import Middleware, ModelResponse, StepContext, StopReason, StopRun

from ._util import import_object, new_input

__all__ = ["ContentPolicy"]

Violation = Callable[[str], "bool | str | None"]


class ContentPolicy(Middleware):
    """A guardrail on the user's input (at run start) and the model's final answer.

    Text violates the policy when it matches one of `banned` (regular expressions,
    case-insensitive) or when `violates(text)` returns True or a non-empty reason string. A
    violation stops the run with `StopReason.guardrail`; a blocked answer is never stored in
    the history.

    Args:
        banned: Regular expressions that must not appear.
        violates: A predicate, or its import path ("package.module:function"), returning
            True / a reason string on a violation and False / None / "" otherwise.
        check_input: Screen the user messages of the turn.
        check_output: Screen final answers (responses without tool calls).

    Raises:
        ValueError: neither `banned` nor `violates` given.
        ImportError: `violates` is a path that cannot be imported.
    """

    def __init__(
        self,
        *,
        banned: Sequence[str] = (),
        violates: str | Violation | None = None,
        check_input: bool = True,
        check_output: bool = True,
    ) -> None:
        if not banned and violates is None:
            raise ValueError("ContentPolicy needs banned patterns or a violates predicate")
        self.banned = [re.compile(p, re.IGNORECASE) for p in banned]
        self.violates: Violation | None = (
            import_object(violates) if isinstance(violates, str) else violates
        )
        self.check_input = check_input
        self.check_output = check_output

    def check(self, text: str) -> str | None:
        """Why `text` violates the policy, or None when it does not."""
        for pattern in self.banned:
            if pattern.search(text):
                return f"matches banned pattern {pattern.pattern!r}"
        if self.violates is not None:
            verdict = self.violates(text)
            if verdict:
                return verdict if isinstance(verdict, str) else "rejected by the policy predicate"
        return None

    async def on_run_start(self, ctx: StepContext) -> None:
        if not self.check_input:
            return
        for message in new_input(ctx.state):
            reason = self.check(message.text)
            if reason is not None:
                raise StopRun(StopReason.GUARDRAIL, f"input blocked: {reason}")

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        if self.check_output and not response.message.tool_calls:
            reason = self.check(response.message.text)
            if reason is not None:
                raise StopRun(StopReason.GUARDRAIL, f"answer blocked: {reason}")
        return None
