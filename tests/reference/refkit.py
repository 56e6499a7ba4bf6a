"""Doubles written exactly as the Spine API reference defines the protocols.

`RefProvider` and `RefStreamingProvider` implement the reference's `Provider` /
`StreamingProvider` protocols and nothing else: no `name` or `model` attribute, tools received as
the `Tool.schema` dicts, `StreamChunk(delta=...)` pieces and a final `StreamChunk(response=...)`.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from spine_core import Message, ModelResponse, Role, StreamChunk, ToolCall, Usage

Reply = ModelResponse | Message | str
ReplyFn = Callable[[list[Message], list[dict[str, Any]] | None], Reply]

KEEP = object()
"""In `documented(...)`: do not compare the parameter's default."""


def respond(reply: Reply) -> ModelResponse:
    """A ModelResponse for `reply` (a string is an assistant answer), with 1+1 tokens."""
    if isinstance(reply, ModelResponse):
        return reply
    message = reply if isinstance(reply, Message) else Message.assistant(reply)
    return ModelResponse(message=message, usage=Usage(input_tokens=1, output_tokens=1))


def ask(
    name: str, call_id: str | None = None, *, say: str | None = None, **arguments: Any
) -> ModelResponse:
    """An assistant response (with text `say`) calling tool `name` with `arguments`."""
    call = ToolCall(id=call_id or f"call_{name}", name=name, arguments=arguments)
    return respond(Message.assistant(say, tool_calls=[call]))


def ask_many(*calls: ToolCall, say: str | None = None) -> ModelResponse:
    """An assistant response calling several tools at once."""
    return respond(Message.assistant(say, tool_calls=list(calls)))


def costly(text: str, cost_usd: float, tokens: int = 1) -> ModelResponse:
    """A final answer that cost `cost_usd` and `tokens` input + `tokens` output tokens."""
    return ModelResponse(
        message=Message.assistant(text),
        usage=Usage(input_tokens=tokens, output_tokens=tokens, cost_usd=cost_usd),
    )


class RefProvider:
    """The reference `Provider` protocol: `complete(messages, tools=None, **kwargs)` only.

    Replays `replies` in order (each a reply or a function of `(messages, tools)`), and records
    what each call received in `calls`.
    """

    def __init__(self, replies: Sequence[Reply | ReplyFn] = ()) -> None:
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []

    async def complete(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> ModelResponse:
        self.calls.append({"messages": list(messages), "tools": tools, "kwargs": dict(kwargs)})
        if not self.replies:
            raise AssertionError(f"RefProvider called {len(self.calls)} times; script exhausted")
        reply = self.replies.pop(0)
        if callable(reply):
            reply = reply(messages, tools)
        return respond(reply)

    @property
    def prompts(self) -> list[list[Message]]:
        return [c["messages"] for c in self.calls]


class RefStreamingProvider(RefProvider):
    """The reference `StreamingProvider` protocol on top of `RefProvider`: the answer's words
    as `StreamChunk(delta=...)`, then `StreamChunk(response=...)`. `extra_chunks` (chunks to
    yield before the final one, per call) lets a test add tool-call fragments."""

    def __init__(
        self,
        replies: Sequence[Reply | ReplyFn] = (),
        *,
        extra_chunks: Sequence[Sequence[StreamChunk]] = (),
    ) -> None:
        super().__init__(replies)
        self.extra_chunks = [list(c) for c in extra_chunks]
        self.streamed = 0

    async def stream(
        self,
        messages: list[Message],
        tools: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[StreamChunk]:
        self.streamed += 1
        response = await self.complete(messages, tools, **kwargs)
        words = (response.message.content or "").split(" ")
        for i, word in enumerate(words):
            if word:
                yield StreamChunk(delta=word if i == 0 else f" {word}")
        for chunk in self.extra_chunks.pop(0) if self.extra_chunks else []:
            yield chunk
        yield StreamChunk(response=response)


def tool_results(messages: Sequence[Message]) -> list[tuple[str | None, str | None]]:
    """(tool name, content) of every tool message in `messages`."""
    return [(m.name, m.content) for m in messages if m.role is Role.TOOL]


def documented(func: Any, *expected: tuple[str, Any, Any]) -> list[str]:
    """Assert `func`'s parameters start with `expected` ((name, kind, default), `self`
    excluded; default `KEEP` skips the comparison) and that any parameter Spine added after
    them is keyword-only (or **kwargs), so every documented call still binds the same way.
    Returns the documented parameter names (truthy when any are expected)."""
    params = [p for p in inspect.signature(func).parameters.values() if p.name != "self"]
    got = params[: len(expected)]
    assert [p.name for p in got] == [e[0] for e in expected]
    assert [p.kind for p in got] == [e[1] for e in expected]
    for param, (_, _, default) in zip(got, expected, strict=True):
        if default is not KEEP:
            assert param.default == default, f"{param.name}: default {param.default!r}"
    for extra in params[len(expected) :]:
        assert extra.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD), (
            f"added parameter {extra.name} is not keyword-only"
        )
    return [p.name for p in got]


POS = inspect.Parameter.POSITIONAL_OR_KEYWORD
KW = inspect.Parameter.KEYWORD_ONLY
VAR_KW = inspect.Parameter.VAR_KEYWORD
EMPTY = inspect.Parameter.empty
