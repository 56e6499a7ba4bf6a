"""OpenAIProvider (Chat Completions) driving the real openai SDK against recorded exchanges
(external recordings, see `cassettes.py`): the requests Spine builds match the recorded ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spine_core import Agent, ChunkType, FinishReason, Message, ToolCall, tool
from spine_providers import OpenAIProvider

from ..fakes import Server
from .cassettes import load_cassette, recorded_request, serve

pytestmark = pytest.mark.anyio


def _spec(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool declaration as the kernel passes it (`Tool.schema`)."""
    return {"name": name, "description": description, "parameters": parameters}


def _tools_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _spec(t["function"]["name"], t["function"]["description"], t["function"]["parameters"])
        for t in body["tools"]
    ]


def _normalised(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with tool-call arguments parsed (whitespace inside the JSON is not meaningful)
    and `"content": null` dropped (the API treats it as absent; recordings have both)."""
    out = []
    for m in messages:
        m = {k: v for k, v in m.items() if v is not None}
        if "tool_calls" in m:
            m["tool_calls"] = [
                {
                    **c,
                    "function": {
                        **c["function"],
                        "arguments": json.loads(c["function"]["arguments"]),
                    },
                }
                for c in m["tool_calls"]
            ]
        out.append(m)
    return out


def _provider(server: Server, model: str, **kw: Any) -> OpenAIProvider:
    return OpenAIProvider(model, api_key="sk-test", http_client=server.client(), **kw)


async def test_plain_answer_with_system_prompt() -> None:
    name = "openai/test_openai_instructions.yaml"
    recorded = recorded_request(load_cassette(name)[0])
    server = serve(name)
    provider = _provider(server, "gpt-4o")
    messages = [
        Message.system(recorded["messages"][0]["content"]),
        Message.user(recorded["messages"][1]["content"]),
    ]
    response = await provider.complete(messages, [])
    assert server.body()["messages"] == recorded["messages"]
    assert "Paris" in response.message.content
    assert response.finish_reason is FinishReason.STOP
    raw_usage = load_cassette(name)[0]["response"]["parsed_body"]["usage"]
    assert response.usage.input_tokens == raw_usage["prompt_tokens"]
    assert response.usage.output_tokens == raw_usage["completion_tokens"]
    expected_cost = (raw_usage["prompt_tokens"] * 2.5 + raw_usage["completion_tokens"] * 10.0) / 1e6
    assert response.usage.cost_usd == pytest.approx(expected_cost)
    assert server.requests[0].headers["authorization"] == "Bearer sk-test"


async def test_parallel_tool_calls_round_trip_matches_recorded_request() -> None:
    name = "openai/test_prefect_agent_with_hitl_tool.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "gpt-4o")
    tools = _tools_of(recorded[0])
    history = [
        Message.system(recorded[0]["messages"][0]["content"]),
        Message.user(recorded[0]["messages"][1]["content"]),
    ]
    first = await provider.complete(history, tools, tool_choice="auto")
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert first.message.content is None  # a tool-call-only turn has no text
    assert [(c.name, c.arguments) for c in first.message.tool_calls] == [
        ("delete_file", {"path": ".env"}),
        ("create_file", {"path": "test.txt"}),
    ]
    assert (first.usage.input_tokens, first.usage.output_tokens, first.usage.reasoning_tokens) == (
        71,
        46,
        0,
    )
    sent_tools = server.body(0)["tools"]
    assert sent_tools == [
        {**t, "function": {k: v for k, v in t["function"].items() if k != "strict"}}
        for t in recorded[0]["tools"]
    ]
    outputs = [m["content"] for m in recorded[1]["messages"] if m["role"] == "tool"]
    history += [first.message] + [
        Message.tool(o, c.id, c.name)
        for c, o in zip(first.message.tool_calls, outputs, strict=True)
    ]
    second = await provider.complete(history, tools, tool_choice="auto")
    assert _normalised(server.body(1)["messages"]) == _normalised(recorded[1]["messages"])
    assert (
        second.message.content
        == "The file `.env` has been deleted, and `test.txt` has been successfully created."
    )


async def test_native_structured_output_uses_response_format_json_schema() -> None:
    name = "openai/test_openai_native_output.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "gpt-4o")
    schema = {"name": "result", "schema": recorded[0]["response_format"]["json_schema"]["schema"]}
    tools = _tools_of(recorded[0])
    history = [Message.user("What is the largest city in the user country?")]
    first = await provider.complete(history, tools, output_schema=schema, tool_choice="auto")
    assert server.body(0)["response_format"] == recorded[0]["response_format"]
    history += [
        first.message,
        Message.tool(recorded[1]["messages"][-1]["content"], first.message.tool_calls[0].id),
    ]
    second = await provider.complete(history, tools, output_schema=schema, tool_choice="auto")
    assert _normalised(server.body(1)["messages"]) == _normalised(recorded[1]["messages"])
    assert json.loads(second.message.content) == {"city": "Mexico City", "country": "Mexico"}


async def test_streamed_tool_call_then_streamed_text() -> None:
    name = "openai/test_run_stream_sync_streams_real_model.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "gpt-4o-mini")
    tools = _tools_of(recorded[0])
    history = [Message.user(recorded[0]["messages"][0]["content"])]
    chunks = [c async for c in provider.stream(history, tools, tool_choice="auto")]
    deltas = [c for c in chunks if c.type is ChunkType.TOOL_CALL]
    assert (
        deltas[0].tool_name == "get_capital"
        and deltas[0].tool_call_id == "call_ZR5UUuTt3pf61kjwAJIYdVMj"
    )
    assert "".join(d.arguments_delta for d in deltas) == '{"country":"UK"}'
    first = chunks[-1].response
    assert first is not None and first.finish_reason is FinishReason.TOOL_CALLS
    assert first.message.content is None
    assert first.message.tool_calls == [
        ToolCall(
            id="call_ZR5UUuTt3pf61kjwAJIYdVMj", name="get_capital", arguments={"country": "UK"}
        )
    ]
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    assert server.body(0)["stream_options"] == {"include_usage": True}
    history += [first.message, Message.tool("London", first.message.tool_calls[0].id)]
    chunks = [c async for c in provider.stream(history, tools, tool_choice="auto")]
    assert _normalised(server.body(1)["messages"]) == _normalised(recorded[1]["messages"])
    text = "".join(c.delta for c in chunks if c.type is ChunkType.TEXT)
    final = chunks[-1].response
    assert final is not None and final.message.content == text and "London" in text


async def test_streamed_parallel_tool_calls_assembled_by_index() -> None:
    server = serve("openai/test_complex_agent_run.yaml")
    provider = _provider(server, "gpt-4o")
    chunks = [c async for c in provider.stream([Message.user("Tell me about the weather")], [])]
    final = chunks[-1].response
    assert final is not None
    assert len(final.message.tool_calls) == 2
    assert {c.index for c in chunks if c.type is ChunkType.TOOL_CALL} == {0, 1}
    for index, call in enumerate(final.message.tool_calls):
        streamed = "".join(
            c.arguments_delta for c in chunks if c.type is ChunkType.TOOL_CALL and c.index == index
        )
        assert json.loads(streamed) == call.arguments
        assert call.arguments_error is None


async def test_agent_runs_end_to_end_through_openai() -> None:
    server = serve("openai/test_openai_instructions_with_tool_calls_keep_instructions.yaml")

    @tool
    def get_temperature(city: str) -> float:
        """Get the temperature in a city."""
        return 20.0

    agent = Agent(
        provider=_provider(server, "gpt-4.1-mini"),
        tools=[get_temperature],
        system="You are a helpful assistant.",
    )
    result = await agent.run("What is the temperature in Tokyo?")
    assert result.ok
    assert "20" in result.answer
    sent = server.body(1)["messages"]
    assert sent[-1] == {
        "role": "tool",
        "tool_call_id": "call_bhZkmIKKItNGJ41whHUHB7p9",
        "content": "20.0",
    }
    assert sent[0] == {"role": "system", "content": "You are a helpful assistant."}
    assert result.usage.requests == 2
