"""AnthropicProvider driving the real anthropic SDK against recorded Messages API exchanges
(external recordings, see `cassettes.py`): the requests Spine builds match the recorded ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spine_core import Agent, ChunkType, FinishReason, Message, Role, ToolCall, tool
from spine_core.errors import ProviderError
from spine_providers import AnthropicProvider
from spine_providers.pricing import Price

from ..fakes import Server
from .cassettes import load_cassette, recorded_request, serve

pytestmark = [
    pytest.mark.anyio,
    # the recordings were made with models that have reached end-of-life since
    pytest.mark.filterwarnings("ignore:The model 'claude-.*' is deprecated:DeprecationWarning"),
]


def _provider(server: Server, model: str, **kw: object) -> AnthropicProvider:
    return AnthropicProvider(model, api_key="test-key", http_client=server.client(), **kw)


def _spec(name: str, description: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """A tool declaration as the kernel passes it (`Tool.schema`)."""
    return {"name": name, "description": description, "parameters": parameters}


def _tools_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [_spec(t["name"], t.get("description", ""), t["input_schema"]) for t in body["tools"]]


async def test_plain_answer_with_system_prompt() -> None:
    server = serve("anthropic/test_anthropic_model_instructions.yaml")
    provider = _provider(
        server, "claude-3-opus-latest", prices={"claude-3-opus": Price(15.0, 75.0)}
    )
    response = await provider.complete(
        [
            Message.system("You are a helpful assistant.\n\n"),
            Message.user("What is the capital of France?"),
        ],
        [],
    )
    assert response.message.content == "The capital of France is Paris."
    assert response.finish_reason is FinishReason.STOP
    assert response.model == "claude-3-opus-20240229"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (20, 10)
    assert response.usage.cost_usd == pytest.approx((20 * 15.0 + 10 * 75.0) / 1e6)
    body = server.body()
    expected = recorded_request(
        load_cassette("anthropic/test_anthropic_model_instructions.yaml")[0]
    )
    assert body["messages"] == expected["messages"]
    assert body["system"] == expected["system"]
    assert server.requests[0].headers["authorization"] == "Bearer test-key"


async def test_parallel_tool_calls_round_trip_matches_recorded_request() -> None:
    name = "anthropic/test_multiple_parallel_tool_calls.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "claude-haiku-4-5")
    tools = _tools_of(recorded[0])
    history = [
        Message.system(recorded[0]["system"]),
        Message.user(recorded[0]["messages"][0]["content"][0]["text"]),
    ]
    first = await provider.complete(history, tools, tool_choice="auto")
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert [c.arguments["name"] for c in first.message.tool_calls] == [
        "Alice",
        "Bob",
        "Charlie",
        "Daisy",
    ]
    assert first.message.tool_calls[0].id == "toolu_0167cfEnoQaPviGdVXA95zcu"
    assert first.usage.input_tokens == 423 and first.usage.output_tokens == 202
    assert first.usage.cost_usd == pytest.approx((423 * 1.0 + 202 * 5.0) / 1e6)
    assert server.body(0)["tools"] == recorded[0]["tools"]
    assert server.body(0)["tool_choice"] == {"type": "auto"}
    results = recorded[1]["messages"][2]["content"]
    history += [first.message] + [
        Message.tool(r["content"], call.id, call.name)
        for call, r in zip(first.message.tool_calls, results, strict=True)
    ]
    second = await provider.complete(history, tools, tool_choice="auto")
    assert server.body(1)["messages"] == recorded[1]["messages"]
    assert second.finish_reason is FinishReason.STOP
    assert second.message.content


async def test_thinking_is_kept_and_replayed_with_its_signature() -> None:
    name = "anthropic/test_anthropic_tool_with_thinking.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "claude-sonnet-4-0")
    tools = _tools_of(recorded[0])
    history = [Message.user("What is the largest city in the user country?")]
    settings = {"tool_choice": "auto", "thinking": {"budget_tokens": 3000}}
    first = await provider.complete(history, tools, **settings)
    (thought,) = first.message.thinking
    assert thought.text.startswith("The user is asking about the largest city")
    assert thought.signature and thought.signature.startswith("EqEECkYICxgCKkAo3UA4")
    assert first.message.tool_calls == [
        ToolCall(id="toolu_01YGzqpRE16Vricda3Aqcejo", name="get_user_country")
    ]
    assert server.body(0)["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    history += [first.message, Message.tool("Mexico", first.message.tool_calls[0].id)]
    second = await provider.complete(history, tools, **settings)
    assert server.body(1)["messages"] == recorded[1]["messages"]
    assert "Mexico City" in second.message.content


async def test_streamed_thinking_and_text() -> None:
    server = serve("anthropic/test_anthropic_model_thinking_part_stream.yaml")
    provider = _provider(server, "claude-sonnet-4-0")
    chunks = [
        c
        async for c in provider.stream(
            [Message.user("How do I cross the street?")], [], thinking={"budget_tokens": 1024}
        )
    ]
    thinking = "".join(c.delta for c in chunks if c.type is ChunkType.THINKING)
    text = "".join(c.delta for c in chunks if c.type is ChunkType.TEXT)
    final = chunks[-1].response
    assert chunks[-1].type is ChunkType.RESPONSE and final is not None
    assert thinking.startswith("This is a straightforward question about pedestrian safety")
    assert final.message.thinking[0].text == thinking
    assert final.message.thinking[0].signature
    assert final.message.content == text and text
    assert final.usage.input_tokens == 43
    assert final.usage.output_tokens > 0
    assert server.body()["stream"] is True


async def test_streamed_client_tool_call_next_to_server_tool_use() -> None:
    server = serve("anthropic/test_anthropic_native_tool_search_streaming.yaml")
    provider = _provider(server, "claude-sonnet-4-5")
    chunks = [c async for c in provider.stream([Message.user("What is the exchange rate?")], [])]
    deltas = [c for c in chunks if c.type is ChunkType.TOOL_CALL]
    assert deltas[0].tool_name == "get_exchange_rate"
    assert deltas[0].tool_call_id == "toolu_01EFn5wTNBYA8Reni8rbmnHT"
    final = chunks[-1].response
    assert final is not None
    (call,) = final.message.tool_calls
    assert call.name == "get_exchange_rate"
    assert json.loads("".join(d.arguments_delta for d in deltas)) == call.arguments
    assert call.arguments and call.arguments_error is None
    assert final.finish_reason is FinishReason.TOOL_CALLS
    assert final.message.content == ("".join(c.delta for c in chunks) or None)


async def test_output_schema_by_tool_forcing_returns_json_answer() -> None:
    name = "anthropic/test_anthropic_tool_output.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "claude-sonnet-4-5")
    final_tool = recorded[0]["tools"][1]
    schema = {
        "name": "final_result",
        "description": final_tool["description"],
        "schema": final_tool["input_schema"],
    }
    tools = _tools_of({"tools": recorded[0]["tools"][:1]})
    history = [Message.user("What is the largest city in the user country?")]
    first = await provider.complete(history, tools, output_schema=schema)
    assert server.body(0)["tool_choice"] == {"type": "any"}
    assert server.body(0)["tools"] == recorded[0]["tools"]
    history += [first.message, Message.tool("Mexico", first.message.tool_calls[0].id)]
    second = await provider.complete(history, tools, output_schema=schema)
    assert second.message.tool_calls == []
    assert json.loads(second.message.content) == {"city": "Mexico City", "country": "Mexico"}
    assert second.finish_reason is FinishReason.STOP


async def test_agent_runs_end_to_end_through_anthropic() -> None:
    name = "anthropic/test_anthropic_tool_with_thinking.yaml"
    server = serve(name)

    @tool
    def get_user_country() -> str:
        """Get the user's country."""
        return "Mexico"

    provider = _provider(server, "claude-sonnet-4-0")
    agent = Agent(
        provider=provider, tools=[get_user_country], settings={"thinking": {"budget_tokens": 3000}}
    )
    result = await agent.run("What is the largest city in the user country?")
    assert result.ok
    assert "Mexico City" in result.answer
    assert result.usage.requests == 2
    assert result.usage.input_tokens == 398 + 566
    sent = server.body(1)["messages"]
    assert sent[2]["content"][0] == {
        "type": "tool_result",
        "tool_use_id": "toolu_01YGzqpRE16Vricda3Aqcejo",
        "content": "Mexico",
        "is_error": False,
    }
    assert sent[1]["content"][0]["type"] == "thinking"
    assert [m.role for m in result.state.messages][-1] is Role.ASSISTANT


async def test_effort_is_sent_as_recorded_and_an_unsupported_level_is_a_bad_request() -> None:
    name = "anthropic/test_anthropic_explicit_effort_xhigh_unsupported_model_errors.yaml"
    (recorded,) = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "claude-opus-4-6", max_tokens=4096)

    with pytest.raises(ProviderError) as info:
        await provider.complete([Message.user("What is 2+2?")], [], effort="xhigh")

    sent = server.body()
    assert sent["output_config"] == recorded["output_config"] == {"effort": "xhigh"}
    assert (sent["model"], sent["max_tokens"]) == (recorded["model"], recorded["max_tokens"])
    assert "thinking" not in sent and "effort" not in sent
    assert info.value.kind.value == "bad_request" and info.value.status == 400
    assert "Supported levels: high, low, max, medium" in info.value.message


async def test_a_high_max_tokens_call_is_streamed_as_recorded() -> None:
    name = "anthropic/test_request_stream_fallback_for_high_max_tokens.yaml"
    (recorded,) = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "claude-sonnet-4-5", max_tokens=32000)

    response = await provider.complete(
        [Message.user(recorded["messages"][0]["content"][0]["text"])]
    )

    sent = server.body()
    assert (
        (sent["stream"], sent["max_tokens"])
        == (True, 32000)
        == (
            recorded["stream"],
            recorded["max_tokens"],
        )
    )
    assert (
        sent["messages"][0]["content"][0]["text"] == recorded["messages"][0]["content"][0]["text"]
    )
    assert response.message.content == "2" and response.finish_reason is FinishReason.STOP
    assert (response.usage.input_tokens, response.usage.output_tokens) == (20, 5)
