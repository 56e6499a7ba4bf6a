"""Provider / StreamingProvider protocols and StreamChunk; a provider and a streaming provider
written exactly per the reference protocol, each inside a real Agent run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from spine_core import (
    Agent,
    ChunkType,
    EventType,
    Message,
    ModelResponse,
    Provider,
    Role,
    StopReason,
    StreamChunk,
    StreamingProvider,
    ToolCall,
    Usage,
    provider_model,
    provider_name,
    tool,
)

from .refkit import (
    EMPTY,
    POS,
    VAR_KW,
    RefProvider,
    RefStreamingProvider,
    ask,
    documented,
    tool_results,
)

pytestmark = pytest.mark.anyio


@tool
async def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


# -- protocols -------------------------------------------------------------------------------


def test_provider_protocol_signature() -> None:
    assert documented(
        Provider.complete,
        ("messages", POS, EMPTY),
        ("tools", POS, None),
        ("kwargs", VAR_KW, EMPTY),
    )


def test_streaming_provider_protocol_signature() -> None:
    assert documented(
        StreamingProvider.stream,
        ("messages", POS, EMPTY),
        ("tools", POS, None),
        ("kwargs", VAR_KW, EMPTY),
    )


def test_reference_provider_is_a_provider_at_runtime() -> None:
    provider = RefProvider()
    assert not hasattr(provider, "name") and not hasattr(provider, "model")
    assert isinstance(provider, Provider)
    assert not isinstance(object(), Provider)


def test_reference_streaming_provider_is_a_streaming_provider_at_runtime() -> None:
    provider = RefStreamingProvider()
    assert isinstance(provider, StreamingProvider)
    assert isinstance(provider, Provider)
    assert not isinstance(RefProvider(), StreamingProvider)


def test_provider_name_and_model_default_from_the_class() -> None:
    provider = RefProvider()
    assert provider_name(provider).lower() == "refprovider"
    assert "refprovider" in provider_model(provider).lower()


# -- StreamChunk -----------------------------------------------------------------------------


def test_stream_chunk_delta() -> None:
    chunk = StreamChunk(delta="Hel")
    assert chunk.delta == "Hel"
    assert chunk.response is None


def test_stream_chunk_defaults() -> None:
    chunk = StreamChunk()
    assert (chunk.delta, chunk.response) == ("", None)


def test_stream_chunk_final_response() -> None:
    response = ModelResponse(message=Message.assistant("Hello"))
    chunk = StreamChunk(response=response)
    assert chunk.response is response
    assert chunk.delta == ""


# -- a reference provider inside a run -------------------------------------------------------


async def test_reference_provider_receives_tools_as_dicts() -> None:
    provider = RefProvider([ask("add", a=2, b=2), "four"])
    result = await Agent(provider, tools=[add]).run("2+2")

    assert result.answer == "four"
    [schema] = provider.calls[0]["tools"]
    assert isinstance(schema, dict)
    assert set(schema) == {"name", "description", "parameters"}
    assert schema == add.schema
    assert schema["name"] == "add"
    assert schema["description"] == "Add two integers."
    assert schema["parameters"]["properties"]["a"]["type"] == "integer"
    assert tool_results(result.state.messages) == [("add", "4")]


async def test_reference_provider_receives_message_objects() -> None:
    provider = RefProvider(["hi"])
    await Agent(provider, system="sys").run("hello")

    messages = provider.calls[0]["messages"]
    assert all(isinstance(m, Message) for m in messages)
    assert [(m.role, m.content) for m in messages] == [
        (Role.SYSTEM, "sys"),
        (Role.USER, "hello"),
    ]


async def test_reference_provider_without_tools_gets_an_empty_or_no_tool_list() -> None:
    provider = RefProvider(["hi"])
    await Agent(provider).run("hello")
    assert not provider.calls[0]["tools"]


async def test_reference_provider_raw_finish_reasons_work_in_a_run() -> None:
    calls = [ToolCall(id="c1", name="add", arguments={"a": 1, "b": 1})]
    provider = RefProvider(
        [
            ModelResponse(message=Message.assistant(None, tool_calls=calls), finish_reason=None),
            ModelResponse(
                message=Message.assistant("2"),
                finish_reason="end_turn",
                usage=Usage(input_tokens=3, output_tokens=1),
            ),
        ]
    )
    result = await Agent(provider, tools=[add]).run("1+1")

    assert result.answer == "2"
    assert tool_results(result.state.messages) == [("add", "2")]
    assert result.usage.input_tokens == 3


async def test_a_failing_reference_provider_ends_the_run_with_an_error() -> None:
    class Down:
        async def complete(
            self,
            messages: list[Message],
            tools: list[dict[str, Any]] | None = None,
            **kwargs: Any,
        ) -> ModelResponse:
            raise ConnectionError("unreachable host")

    result = await Agent(Down()).run("x")

    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None and "unreachable host" in result.error


# -- a reference streaming provider inside a run ---------------------------------------------


async def test_reference_streaming_provider_streams_tokens_in_agent_stream() -> None:
    provider = RefStreamingProvider([ask("add", a=3, b=4), "The sum is 7"])
    agent = Agent(provider, tools=[add])

    events = [e async for e in agent.stream("3+4?")]

    tokens = [e.data["text"] for e in events if e.type is EventType.TOKEN]
    assert "".join(tokens) == "The sum is 7"
    assert provider.streamed == 2
    assert agent.last_result is not None
    assert agent.last_result.answer == "The sum is 7"
    assert tool_results(agent.last_result.state.messages) == [("add", "7")]


async def test_reference_streaming_provider_in_a_plain_run() -> None:
    provider = RefStreamingProvider(["plain answer"])
    result = await Agent(provider).run("x")
    assert result.answer == "plain answer"


async def test_stream_ending_without_a_final_response_is_an_error() -> None:
    class Truncated:
        async def complete(
            self,
            messages: list[Message],
            tools: list[dict[str, Any]] | None = None,
            **kwargs: Any,
        ) -> ModelResponse:
            raise AssertionError("stream() should be used")

        async def stream(
            self,
            messages: list[Message],
            tools: list[dict[str, Any]] | None = None,
            **kwargs: Any,
        ) -> AsyncIterator[StreamChunk]:
            yield StreamChunk(delta="partial")

    agent = Agent(Truncated())
    [e async for e in agent.stream("x")]

    assert agent.last_result is not None
    assert agent.last_result.stopped_reason is StopReason.ERROR


async def test_streamed_tool_call_argument_deltas_are_events() -> None:
    call = ToolCall(id="c1", name="add", arguments={"a": 2, "b": 3})
    fragments = ['{"a": 2, ', '"b": 3}']
    provider = RefStreamingProvider(
        [Message.assistant(None, tool_calls=[call]), "5"],
        extra_chunks=[
            [
                StreamChunk(
                    type=ChunkType.TOOL_CALL,
                    index=0,
                    tool_call_id="c1",
                    tool_name="add",
                    arguments_delta=fragments[0],
                ),
                StreamChunk(type=ChunkType.TOOL_CALL, index=0, arguments_delta=fragments[1]),
            ]
        ],
    )
    agent = Agent(provider, tools=[add])

    events = [e async for e in agent.stream("2+3")]

    deltas = [e for e in events if e.type is EventType.TOOL_CALL_DELTA]
    assert [e.data for e in deltas] == [
        {"index": 0, "id": "c1", "name": "add", "arguments_delta": fragments[0]},
        {"index": 0, "id": None, "name": None, "arguments_delta": fragments[1]},
    ]
    assert json.loads("".join(e.data["arguments_delta"] for e in deltas)) == call.arguments
    types = [e.type for e in events]
    # the fragments arrive while the call forms: before the response and the tool call
    assert types.index(EventType.TOOL_CALL_DELTA) < types.index(EventType.MODEL_RESPONSE)
    assert types.index(EventType.MODEL_RESPONSE) < types.index(EventType.TOOL_CALL)
    assert agent.last_result is not None and agent.last_result.answer == "5"


async def test_thinking_chunks_are_thinking_events() -> None:
    provider = RefStreamingProvider(
        ["answer"],
        extra_chunks=[[StreamChunk(type=ChunkType.THINKING, delta="let me think")]],
    )
    agent = Agent(provider)

    events = [e async for e in agent.stream("x")]

    thinking = [e.data["text"] for e in events if e.type is EventType.THINKING]
    assert thinking == ["let me think"]
    tokens = "".join(e.data["text"] for e in events if e.type is EventType.TOKEN)
    assert tokens == "answer"
