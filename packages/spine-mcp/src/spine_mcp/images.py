"""`MCPImages`: show the images MCP tools return to the model.

Spine's tool results are text (`Message.tool` has no parts, and the providers' tool-result
blocks are sent as text), so an MCP tool result's images are recorded per run and this
middleware attaches them as a user message of image parts right after the tool results of
that turn — the way pydantic-ai and the OpenAI Agents SDK pass tool images to chat models
whose tool results cannot hold images. The stored history is untouched: only the messages of
the model call are rewritten (`StepContext.messages` is reassigned).
"""

from __future__ import annotations

from typing import Any

from spine_core import Message, Middleware, Part, Role, StepContext, TextPart, ToolContext

__all__ = ["MCPImages", "record_images"]

_KEY = "spine_mcp.images"
"""`StepContext.extra` key: `{tool call id: (tool name, [ImagePart, ...])}` for this run."""


def record_images(ctx: ToolContext[Any] | None, parts: list[Part]) -> None:
    """Keep `parts` (image parts of the result of `ctx.call`) for `MCPImages` to attach.

    Images live for the run only (`ctx.extra`, not the checkpoint, so a 1 MB screenshot does
    not bloat every later write); after the run, and after a resume in a fresh process, the
    model still has the text placeholder of each image in the tool result.
    """
    if ctx is None or not parts:
        return
    found: dict[str, tuple[str, list[Part]]] = ctx.extra.setdefault(_KEY, {})
    found[ctx.call.id] = (ctx.call.name, list(parts))


class MCPImages(Middleware):
    """Attach the images MCP tools returned in this run to the model's next calls.

    Usage::

        agent = Agent(model, tools=await mcp.load_tools(), middleware=[MCPImages()])

    For each run of consecutive tool messages whose calls returned images, one user message
    follows it with a text part naming each call and the images as `ImagePart`s (inline
    base64 `data` + `media_type`), which every Spine provider sends as image input. The
    instance holds no per-run state, so one serves concurrent runs.
    """

    async def before_model(self, ctx: StepContext[Any]) -> None:
        found: dict[str, tuple[str, list[Part]]] | None = ctx.extra.get(_KEY)
        if not found:
            return
        messages: list[Message] = []
        pending: list[Part] = []
        for message in ctx.messages:
            if pending and message.role is not Role.TOOL:
                messages.append(Message.user_parts(pending))
                pending = []
            messages.append(message)
            entry = found.get(message.tool_call_id or "") if message.role is Role.TOOL else None
            if entry is not None:
                name, parts = entry
                label = f"Images returned by tool '{name}' (call {message.tool_call_id}):"
                pending.extend([TextPart(text=label), *parts])
        if pending:
            messages.append(Message.user_parts(pending))
        ctx.messages = messages
