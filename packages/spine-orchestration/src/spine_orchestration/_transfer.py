"""Handoff plumbing: the `transfer_to_<peer>` tools, and the middleware that ends an agent's
turn right after a transfer, before any further model call."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from spine_core import (
    Message,
    Middleware,
    Role,
    SpineError,
    StepContext,
    StopReason,
    StopRun,
    Tool,
    ToolContext,
    tool,
)

PREFIX = "transfer_to_"
_TARGET_ATTR = "spine_handoff_target"  # set on a transfer tool's function: the peer's name
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,52}$")  # tool names: [A-Za-z0-9_-]{1,64} at providers


def check_name(name: str) -> None:
    """Raises ValueError unless `transfer_to_<name>` is a valid tool name."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"handoff agent name {name!r} must be 1-52 letters, digits, '_' or '-' "
            f"(it becomes the tool name '{PREFIX}{name}')"
        )


def transfer_tool(target: str) -> Tool:
    """The `transfer_to_<target>` tool. Calling it records nothing on any shared object: the
    transfer is its tool result in the calling run's history."""

    async def transfer(ctx: ToolContext[Any], reason: str = "") -> str:
        earlier = transfer_in_batch(ctx.state.messages)
        if earlier is not None:
            raise SpineError(f"this turn already hands off to '{earlier}'")
        return f"Handing off to {target}." + (f" Reason: {reason}" if reason else "")

    transfer.__doc__ = f"""Hand off the conversation to the {target} agent; your turn ends.

        Args:
            reason: Why {target} should take over (optional).
        """
    setattr(transfer, _TARGET_ATTR, target)
    return tool(name=f"{PREFIX}{target}")(transfer)


def target_of(tool_: Tool | None) -> str | None:
    """The peer a transfer tool hands off to; None for any other tool."""
    return getattr(tool_.func, _TARGET_ATTR, None) if tool_ is not None else None


def transfer_in_batch(
    messages: Sequence[Message], tools: dict[str, Tool] | None = None
) -> str | None:
    """The peer of the first successful transfer among the results of the latest batch of
    tool calls (the tool messages at the end of `messages`), or None.

    With `tools`, only results of transfer tools among them count; without, any result
    named `transfer_to_<peer>`.
    """
    end = len(messages)
    start = end
    while start > 0 and messages[start - 1].role is Role.TOOL:
        start -= 1
    for message in messages[start:end]:
        name = message.name or ""
        if message.is_error or not name.startswith(PREFIX):
            continue
        if tools is None:
            return name[len(PREFIX) :]
        found = target_of(tools.get(name))
        if found is not None:
            return found
    return None


class EndTurnOnTransfer(Middleware):
    """Ends the run, with no further model call, once a transfer tool has answered.

    Stateless (it reads the run's own history), so one instance serves every run of the
    agent. Added outermost, so no cache or replay middleware can answer the model call first.
    """

    async def before_model(self, ctx: StepContext[Any]) -> None:
        tools = {t.name: t for t in ctx.tools}
        target = transfer_in_batch(ctx.state.messages, tools)
        if target is not None:
            raise StopRun(StopReason.FINAL, f"handed off to {target}")
