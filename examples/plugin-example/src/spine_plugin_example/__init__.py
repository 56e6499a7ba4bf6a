"""A third-party Spine plugin, registered by entry points only (see pyproject.toml):

- provider `echo` -> `EchoProvider`: answers with the last user message (`echo:anything`);
- middleware `shout` -> `Shout`: upper-cases the final answer.

Nothing in Spine imports this package by name; `spine plugins` lists it once installed.
"""

from __future__ import annotations

from typing import Any

from spine_core import Message, Middleware, ModelResponse, Role, StepContext, Usage

__all__ = ["EchoProvider", "Shout"]


class EchoProvider:
    """A provider that answers with the last user message, never calling tools.

    Args:
        model: Any model name (`echo:loud` has model "loud"); only recorded.

    Usage counts one token per whitespace-separated word; cost is 0 USD.
    """

    def __init__(self, model: str = "default", **_: Any) -> None:
        self.name = "echo"
        self.model = model

    async def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        last = next((m.text for m in reversed(messages) if m.role is Role.USER), "")
        prompt = sum(len(m.text.split()) for m in messages)
        return ModelResponse(
            message=Message.assistant(last),
            usage=Usage(input_tokens=prompt, output_tokens=len(last.split()), requests=1),
            model=self.model,
        )


class Shout(Middleware):
    """Middleware that upper-cases the final answer (responses without tool calls).

    Args:
        suffix: Appended to the upper-cased answer, e.g. "!".
    """

    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix

    async def after_model(self, ctx: StepContext[Any]) -> None:
        if ctx.response is None:
            return
        message = ctx.response.message  # mutable: edited in place before it is stored
        if not message.tool_calls:
            message.content = message.text.upper() + self.suffix
