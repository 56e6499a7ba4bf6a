"""`Preamble`: a preamble and prompt extensions placed before the user's prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from spine_core import Message, Middleware, Role, StepContext
from spine_core.messages import TextPart

__all__ = ["Preamble", "compose_prompt"]


def compose_prompt(prompt: str, preamble: str | None, extensions: Sequence[str]) -> str:
    """The preamble, then each non-blank extension, then the prompt, separated by blank
    lines (the order of Marianne's `set_preamble` / `set_prompt_extensions`: who and where
    the agent is first, the directives next, the task last)."""
    parts = [preamble.strip()] if preamble and preamble.strip() else []
    parts.extend(e.strip() for e in extensions if e and e.strip())
    parts.append(prompt)
    return "\n\n".join(parts)


class Preamble(Middleware):
    """Put a preamble and prompt extensions in front of the latest user message.

    Each model call sees the latest user message as `compose_prompt(text, preamble,
    extensions)`; the stored history keeps the user's own words (the hook rewrites a copy of
    `ctx.messages`). Per run, the settings `preamble` (str) and `prompt_extensions`
    (list[str]) replace the constructor's (`Agent.run(..., settings={"preamble": ...})`):
    the hook takes them out of the call's settings, so they never reach a provider that
    does not know them. The middleware keeps no per-run data, so one instance serves
    concurrent runs with different preambles.

    Args:
        preamble: Text placed first (None: none unless a run's settings give one).
        extensions: Directive blocks placed after the preamble (blank ones are dropped).
    """

    def __init__(self, preamble: str | None = None, *, extensions: Sequence[str] = ()) -> None:
        self.preamble = preamble
        self.extensions = list(extensions)

    async def before_model(self, ctx: StepContext[Any]) -> None:
        preamble = ctx.settings.pop("preamble", None)
        extensions = ctx.settings.pop("prompt_extensions", None)
        preamble = self.preamble if preamble is None else str(preamble)
        extensions = self.extensions if extensions is None else list(extensions)
        if not (preamble and preamble.strip()) and not any(e and e.strip() for e in extensions):
            return
        messages = ctx.messages
        for index in range(len(messages) - 1, -1, -1):
            message = messages[index]
            if message.role is not Role.USER:
                continue
            ctx.messages = [*messages[:index], _prefixed(message, preamble, extensions)]
            ctx.messages.extend(messages[index + 1 :])
            return


def _prefixed(message: Message, preamble: str | None, extensions: Sequence[str]) -> Message:
    if message.parts:  # multimodal: the preamble goes in a text part before the others
        lead = compose_prompt("", preamble, extensions).rstrip()
        parts = [TextPart(text=lead), *message.parts]
        return message.model_copy(update={"parts": parts})
    return message.model_copy(
        update={"content": compose_prompt(message.text, preamble, extensions)}
    )
