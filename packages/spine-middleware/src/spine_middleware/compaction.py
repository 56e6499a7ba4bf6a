"""`Compaction`: send the model a recent window of the history, never touching the store."""

from __future__ import annotations

from typing import Any

from spine_core import Message, Middleware, Role, StepContext

from ._util import estimate_tokens

__all__ = ["Compaction"]


class Compaction(Middleware):
    """Trim long histories before each model call, non-destructively.

    When the message count exceeds `max_messages`, system messages plus the last `keep_last`
    messages are kept and the middle is replaced by one synthetic system note ("[N earlier
    messages compacted to fit the context window]"). With `max_tokens`, history whose
    estimated size (characters / 4) exceeds it is also trimmed from the front until it fits.
    `ctx.messages` is reassigned (not mutated), so the full history stays in durable state
    and is re-compacted fresh each step.

    The window never starts on a tool result whose tool call was cut off (providers reject
    such orphans): it moves forward past them, or, when that would leave nothing, back to the
    assistant message that made the calls. With `keep_first_user`, the history's first user
    message (the task) is kept ahead of the window.

    Args:
        max_messages: Message count (system messages included) above which the history is
            compacted; None to compact by `max_tokens` only.
        keep_last: Most recent messages kept when compacting by count (< `max_messages`).
        max_tokens: Most estimated tokens of non-system history sent.
        keep_first_user: Keep the first user message ahead of the window.
        note: Insert the system note saying how many messages were left out.

    Raises:
        ValueError: `keep_last` >= `max_messages`, a limit < 1, or no limit at all.
    """

    def __init__(
        self,
        max_messages: int | None = 40,
        keep_last: int = 20,
        *,
        max_tokens: int | None = None,
        keep_first_user: bool = False,
        note: bool = True,
    ) -> None:
        if max_messages is None and max_tokens is None:
            raise ValueError("Compaction needs max_messages or max_tokens")
        if keep_last < 1 or (max_messages is not None and max_messages < 1):
            raise ValueError("Compaction limits must be at least 1")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError("Compaction limits must be at least 1")
        if max_messages is not None and keep_last >= max_messages:
            raise ValueError("keep_last must be smaller than max_messages")
        self.max_messages = max_messages
        self.keep_last = keep_last
        self.max_tokens = max_tokens
        self.keep_first_user = keep_first_user
        self.note = note

    def window_start(self, history: list[Message], total: int | None = None) -> int:
        """Index of the first message of `history` (non-system messages) to send; `total`
        is the full message count compared with `max_messages` (default `len(history)`)."""
        start = 0
        count = len(history) if total is None else total
        if self.max_messages is not None and count > self.max_messages:
            start = max(0, len(history) - self.keep_last)
        if self.max_tokens is not None:
            budget = self.max_tokens
            index = len(history)
            while index > start and budget - estimate_tokens(history[index - 1]) >= 0:
                budget -= estimate_tokens(history[index - 1])
                index -= 1
            start = max(start, min(index, len(history) - 1))
        forward = start
        while forward < len(history) and history[forward].role is Role.TOOL:
            forward += 1
        if forward < len(history):
            return forward
        while start > 0 and history[start].role is Role.TOOL:
            start -= 1
        return start

    def compact(self, messages: list[Message]) -> list[Message]:
        """The messages to send: system messages, the note, the pinned task, the window.

        Returns `messages` itself when nothing is left out."""
        system = [m for m in messages if m.role is Role.SYSTEM]
        history = [m for m in messages if m.role is not Role.SYSTEM]
        start = self.window_start(history, len(messages))
        if start <= 0:
            return messages
        window = history[start:]
        pinned: list[Message] = []
        if self.keep_first_user:
            first = next((m for m in history if m.role is Role.USER), None)
            if first is not None and all(first is not m for m in window):
                pinned.append(first)
        omitted = start - len(pinned)
        notes = []
        if self.note and omitted > 0:
            notes.append(
                Message.system(f"[{omitted} earlier messages compacted to fit the context window]")
            )
        return [*system, *notes, *pinned, *window]

    async def before_model(self, ctx: StepContext[Any]) -> None:
        compacted = self.compact(ctx.messages)
        if compacted is not ctx.messages:
            ctx.messages = compacted
