"""`MemoryRecall`: recall long-term memories into the prompt, and save each exchange."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, cast

from spine_core import (
    Memory,
    MemoryRecord,
    Message,
    Middleware,
    ModelResponse,
    Role,
    StepContext,
    resolve,
)

__all__ = ["MemoryRecall"]


class MemoryRecall(Middleware):
    """Search a `Memory` with the user's latest message before the run's first model call,
    add the hits to the system prompt of every call in the run (the stored history is not
    changed), and save the exchange ("User: ... / Assistant: ...") after a final answer.

    Args:
        memory: A `Memory`, or the registered name of one (entry point group `spine.memory`,
            e.g. "in_memory"), built lazily with `memory_params`.
        memory_params: Keyword parameters for a memory given by name.
        k: Memories recalled per run.
        min_score: Hits scoring below this similarity are dropped.
        namespace: Memory namespace; default the run's tenant id, else "default".
        save: Save each final exchange to the memory.
    """

    def __init__(
        self,
        *,
        memory: Memory | str,
        memory_params: Mapping[str, Any] | None = None,
        k: int = 3,
        min_score: float = 0.0,
        namespace: str | None = None,
        save: bool = True,
    ) -> None:
        self._memory = memory
        self._memory_params = dict(memory_params or {})
        self.k = k
        self.min_score = min_score
        self.namespace = namespace
        self.save = save

    @property
    def memory(self) -> Memory:
        """The memory, resolving a registered name on first use."""
        if isinstance(self._memory, str):
            built = resolve("spine.memory", self._memory, **self._memory_params)
            self._memory = cast(Memory, built)
        return self._memory

    def _namespace(self, ctx: StepContext) -> str:
        return self.namespace or ctx.tenant_id or "default"

    @staticmethod
    def _question(ctx: StepContext) -> str:
        for message in reversed(ctx.state.messages):
            if message.role is Role.USER:
                return message.text
        return ""

    async def before_model(self, ctx: StepContext) -> ModelResponse | None:
        if "memory_recall.text" not in ctx.scratch:
            question = self._question(ctx)
            hits = await self.memory.search(question, k=self.k, namespace=self._namespace(ctx))
            lines = [f"- {h.record.text}" for h in hits if h.score >= self.min_score]
            ctx.scratch["memory_recall.text"] = (
                "Relevant memories from earlier conversations:\n" + "\n".join(lines)
                if lines
                else ""
            )
            ctx.scratch["memory_recall.question"] = question
        recalled: str = ctx.scratch["memory_recall.text"]
        if recalled:
            if ctx.messages and ctx.messages[0].role is Role.SYSTEM:
                system = ctx.messages[0]
                ctx.messages = [
                    Message.system(f"{system.text}\n\n{recalled}"),
                    *ctx.messages[1:],
                ]
            else:
                ctx.messages = [Message.system(recalled), *ctx.messages]
        return None

    async def after_model(self, ctx: StepContext, response: ModelResponse) -> ModelResponse | None:
        if not self.save or response.message.tool_calls:
            return None
        question = ctx.scratch.get("memory_recall.question") or self._question(ctx)
        record = MemoryRecord(
            id=uuid.uuid4().hex,
            text=f"User: {question}\nAssistant: {response.message.text}",
            namespace=self._namespace(ctx),
            metadata={"session_id": ctx.session_id, "agent": ctx.agent},
        )
        await self.memory.add([record])
        return None
