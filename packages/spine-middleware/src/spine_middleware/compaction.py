"""`Compaction`: send the model a recent window of the history, never touching the store."""

from __future__ import annotations

from spine_core import Message, Middleware, ModelResponse, Role, StepContext

from ._util import estimate_tokens

__all__ = ["Compaction"]


class Compaction(Middleware):
    """Trim the messages sent to the model to the most recent window.

    Only the per-step copy (`ctx.messages`) is trimmed; `state.messages` keeps the whole
    history. System messages are always kept, and so is the first user message of the
    history (the task) when `keep_first_user` is set. The window never starts on a tool
    result whose tool call was cut off (providers reject such orphans): it moves forward past
    them, or, when that would leave nothing, back to the assistant message that made the
    calls. A note tells the model how many messages were left out.

    Args:
        max_messages: Most history messages sent (system messages not counted).
        max_tokens: Most estimated tokens of history sent (characters / 4).
        keep_first_user: Keep the history's first user message ahead of the window.
        note: Insert a user-role note saying how many messages were omitted.

    Raises:
        ValueError: neither limit given, or a limit < 1.
    """

    def __init__(
        self,
        *,
        max_messages: int | None = 40,
        max_tokens: int | None = None,
        keep_first_user: bool = True,
        note: bool = True,
    ) -> None:
        if max_messages is None and max_tokens is None:
            raise ValueError("Compaction needs max_messages or max_tokens")
        if (max_messages is not None and max_messages < 1) or (
            max_tokens is not None and max_tokens < 1
        ):
            raise ValueError("Compaction limits must be at least 1")
        self.max_messages = max_messages
        self.max_tokens = max_tokens
        self.keep_first_user = keep_first_user
        self.note = note

    def window_start(self, history: list[Message]) -> int:
        """Index of the first history message to send."""
        start = 0
        if self.max_messages is not None:
            start = max(0, len(history) - self.max_messages)
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
        """The messages to send: system messages, the pinned task, a note, the window."""
        system = [m for m in messages if m.role is Role.SYSTEM]
        history = [m for m in messages if m.role is not Role.SYSTEM]
        start = self.window_start(history)
        if start == 0:
            return messages
        pinned: list[Message] = []
        if self.keep_first_user:
            first = next((m for m in history if m.role is Role.USER), None)
            if first is not None and first not in history[start:]:
                pinned.append(first)
        omitted = start - len(pinned)
        if self.note and omitted > 0:
            pinned.append(
                Message.user(f"[{omitted} earlier messages were omitted to fit the context.]")
            )
        return [*system, *pinned, *history[start:]]

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        ctx.messages = self.compact(ctx.messages)
        return None
