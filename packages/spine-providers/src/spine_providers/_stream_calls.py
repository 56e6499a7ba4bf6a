"""Assembling streamed OpenAI-style tool calls, and seeing the `[DONE]` that ends a stream.

Chat Completions streams a tool call as deltas `{"index", "id", "function": {"name",
"arguments"}}`: per the API reference (https://platform.openai.com/docs/api-reference/chat-
streaming) the first delta of a call carries its id and name, later ones only argument
fragments. Compatible servers stray from that in ways seen in real traffic, which the
assembler accepts:

- every delta repeats the call's id and full name (OpenRouter serving Kimi K2): a repeated id
  is the same call, and its name is not appended again;
- two calls share one index but have different ids: they are two calls;
- deltas without an index continue the latest call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from spine_core.messages import ToolCall
from spine_core.provider import ChunkType, StreamChunk

from ._base import PendingToolCall, parse_arguments

__all__ = ["DoneWatch", "ToolCallAssembler", "watch_done"]


class ToolCallAssembler:
    """Tool calls being assembled from stream deltas, in the order they started."""

    def __init__(self) -> None:
        self._calls: list[PendingToolCall] = []
        self._given_ids: list[bool] = []
        self._by_index: dict[int, int] = {}

    def add(
        self, *, index: int | None, call_id: str | None, name: str | None, fragment: str
    ) -> StreamChunk:
        """Fold one delta in; return the stream chunk announcing it (`index` is the call's
        position, `tool_name` is set only on the delta that named the call)."""
        found = self._position(index, call_id)
        announced = None
        if found is None:
            position = len(self._calls)
            self._calls.append(PendingToolCall(call_id or f"call_{position}", name or ""))
            self._given_ids.append(bool(call_id))
            announced = name or None
        else:
            position = found
            call = self._calls[position]
            if call_id and not self._given_ids[position]:
                call.id, self._given_ids[position] = call_id, True
            if name and not call.name:
                call.name, announced = name, name
            elif name and name != call.name and call_id != call.id:
                call.name += name  # a name split over deltas (no id repeated with it)
                announced = name
        if index is not None:
            self._by_index[index] = position
        call = self._calls[position]
        call.arguments += fragment
        return StreamChunk(
            type=ChunkType.TOOL_CALL,
            index=position,
            tool_call_id=call.id,
            tool_name=announced,
            arguments_delta=fragment,
        )

    def _position(self, index: int | None, call_id: str | None) -> int | None:
        if call_id:
            for at, call in enumerate(self._calls):
                if self._given_ids[at] and call.id == call_id:
                    return at  # a repeated id: the same call
        found = self._by_index.get(index) if index is not None else len(self._calls) - 1
        if found is None or found < 0:
            return None
        if call_id and self._given_ids[found]:
            return None  # a new id at a used index: another call
        return found

    def tool_calls(self) -> list[ToolCall]:
        """The assembled calls; arguments that are not a JSON object set `arguments_error`."""
        out = []
        for call in self._calls:
            arguments, error = parse_arguments(call.arguments)
            out.append(
                ToolCall(id=call.id, name=call.name, arguments=arguments, arguments_error=error)
            )
        return out


class DoneWatch:
    """Wraps an openai SDK stream's SSE decoder and notes the `[DONE]` event, which the SDK
    consumes without yielding anything."""

    def __init__(self, decoder: Any) -> None:
        self._decoder = decoder
        self.seen = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._decoder, name)

    async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[Any]:
        async for event in self._decoder.aiter_bytes(iterator):
            if str(getattr(event, "data", "")).startswith("[DONE]"):
                self.seen = True
            yield event


def watch_done(stream: Any) -> DoneWatch | None:
    """Start watching an `openai.AsyncStream` (before it is iterated) for `[DONE]`.

    Returns:
        The watch, or None when the stream has no SSE decoder to wrap (another SDK version,
        or a stand-in client): callers then treat the final usage chunk as the end marker.
    """
    decoder = getattr(stream, "_decoder", None)
    if decoder is None or not hasattr(decoder, "aiter_bytes"):
        return None
    watch = DoneWatch(decoder)
    stream._decoder = watch
    return watch
