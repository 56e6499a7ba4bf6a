"""`MemoryRecall`: recall long-term memories into the prompt, and save each exchange."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from spine_core import (
    Memory,
    Message,
    Middleware,
    Result,
    Role,
    State,
    StepContext,
    StopReason,
    resolve,
)

__all__ = ["MemoryRecall"]

_RECALLED = "memory_recall.text"  # ctx.extra: the recalled block of this run ("" for none)
_QUESTION = "memory_recall.question"  # state.scratch: the run's question, for on_run_end


class MemoryRecall(Middleware):
    """Search a `Memory` for context and persist the exchange.

    Before the run's first model call the memory is searched with the user's latest message
    (once per run, also when a session has many runs); hits scoring at least `min_score`
    are added as "Relevant memories:" to the system prompt of every model call of the run.
    The stored history is not changed. When the run ends with a final answer, the exchange
    is saved as "Q: <question>\\nA: <answer>" with the session id (`store_results`).

    Args:
        memory: A `Memory`, or the registered name of one (entry point group `spine.memory`,
            e.g. "in_memory"), built on first use with `memory_params`.
        k: Memories recalled per run.
        scope_session: Recall only this session's memories.
        min_score: Hits scoring below this similarity are dropped.
        store_results: Save each final exchange to the memory.
        memory_params: Keyword parameters for a memory given by name.
    """

    def __init__(
        self,
        memory: Memory | str,
        *,
        k: int = 3,
        scope_session: bool = False,
        min_score: float = 0.0,
        store_results: bool = True,
        memory_params: Mapping[str, Any] | None = None,
    ) -> None:
        self._memory = memory
        self._memory_params = dict(memory_params or {})
        self.k = k
        self.scope_session = scope_session
        self.min_score = min_score
        self.store_results = store_results

    @property
    def memory(self) -> Memory:
        """The memory, resolving a registered name on first use."""
        if isinstance(self._memory, str):
            built = resolve("spine.memory", self._memory, **self._memory_params)
            self._memory = cast(Memory, built)
        return self._memory

    async def on_run_start(self, state: State) -> None:
        # The question of this run, kept for on_run_end (which has no StepContext): the
        # history may end with other user messages by then (an output repair request).
        if self.store_results:
            state.scratch[_QUESTION] = _last_user(state.messages)

    async def before_model(self, ctx: StepContext[Any]) -> None:
        recalled = ctx.extra.get(_RECALLED)
        if recalled is None:
            recalled = ctx.extra[_RECALLED] = await self._recall(ctx)
        if not recalled:
            return
        messages = ctx.messages
        if messages and messages[0].role is Role.SYSTEM:
            system = Message.system(f"{messages[0].text}\n\n{recalled}")
            ctx.messages = [system, *messages[1:]]
        else:
            ctx.messages = [Message.system(recalled), *messages]

    async def _recall(self, ctx: StepContext[Any]) -> str:
        query = _last_user(ctx.messages)
        if not query:
            return ""
        session = ctx.session_id if self.scope_session else None
        hits = await self.memory.search(query, k=self.k, session_id=session)
        snippets = [h.record.content for h in hits if h.score >= self.min_score]
        if not snippets:
            return ""
        return "Relevant memories:\n" + "\n".join(f"- {s}" for s in snippets)

    async def on_run_end(self, state: State, result: Result) -> None:
        question = state.scratch.pop(_QUESTION, None) or _last_user(state.messages)
        if not self.store_results or result.stopped_reason is not StopReason.FINAL:
            return
        if question and result.answer:
            metadata = {"agent": state.agent}
            if state.tenant_id is not None:
                metadata["tenant_id"] = state.tenant_id
            await self.memory.save(
                f"Q: {question}\nA: {result.answer}",
                session_id=state.session_id,
                metadata=metadata,
            )


def _last_user(messages: list[Message]) -> str:
    for message in reversed(messages):
        if message.role is Role.USER:
            return message.text
    return ""
