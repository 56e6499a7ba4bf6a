"""`ContentPolicy`: block inputs and answers that match banned patterns or fail a check."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from spine_core import Message, Middleware, Role, StepContext, StopReason, StopRun

from ._util import import_object

__all__ = ["ContentPolicy"]

_PASSED = "content_policy.passed"  # ctx.extra: user texts already screened in this run


class ContentPolicy(Middleware):
    """Block a run on banned content in the user input or the final answer.

    Provide `banned` substrings / regular expressions (case-insensitive) and/or a
    `validate(text) -> bool` predicate (return False to block). The user's latest message is
    screened before the model sees it (`before_model`) and final answers (responses without
    tool calls) before they are stored (`after_model`); a violation stops the run with
    `StopReason.guardrail` and `message` as the answer, so a blocked answer never reaches the
    history.

    Args:
        banned: Regular expressions (plain substrings work) that must not appear.
        validate: `validate(text) -> bool`, False blocks; or its import path
            ("package.module:function", for YAML specs).
        on_input: Screen the user's input.
        on_output: Screen final answers.
        message: The explanation the run ends with (`Result.answer`).

    With neither `banned` nor `validate` the policy blocks nothing (as in the reference).

    Raises:
        re.error: a `banned` pattern does not compile.
        ImportError: `validate` is a path that cannot be imported.
    """

    def __init__(
        self,
        *,
        banned: Iterable[str] | None = None,
        validate: str | Callable[[str], bool] | None = None,
        on_input: bool = True,
        on_output: bool = True,
        message: str = "blocked by content policy",
    ) -> None:
        self.banned = [re.compile(p, re.IGNORECASE) for p in (banned or ())]
        self.validate: Callable[[str], Any] | None = (
            import_object(validate) if isinstance(validate, str) else validate
        )
        self.on_input = on_input
        self.on_output = on_output
        self.message = message

    def violates(self, text: str) -> bool:
        """Whether `text` breaks the policy."""
        if any(pattern.search(text) for pattern in self.banned):
            return True
        return self.validate is not None and not self.validate(text)

    async def before_model(self, ctx: StepContext[Any]) -> None:
        if not self.on_input:
            return
        last = _last_user(ctx.messages)
        if last is None:
            return
        text = last.text
        passed: set[str] = ctx.extra.setdefault(_PASSED, set())
        if text in passed:  # screened on an earlier step of this run
            return
        if self.violates(text):
            raise StopRun(StopReason.GUARDRAIL, self.message)
        passed.add(text)

    async def after_model(self, ctx: StepContext[Any]) -> None:
        if not self.on_output or ctx.response is None:
            return
        message = ctx.response.message
        if not message.tool_calls and message.text and self.violates(message.text):
            raise StopRun(StopReason.GUARDRAIL, self.message)


def _last_user(messages: list[Message]) -> Message | None:
    for message in reversed(messages):
        if message.role is Role.USER:
            return message
    return None
