"""GeminiProvider driving the real google-genai SDK against recorded generateContent exchanges
(external recordings, see `cassettes.py`): the requests Spine builds match the recorded ones."""

from __future__ import annotations

import json
from typing import Any

import pytest

from spine_core import Agent, ChunkType, FinishReason, Message, tool
from spine_providers import GeminiProvider

from ..fakes import Server
from .cassettes import load_cassette, recorded_request, serve

pytestmark = pytest.mark.anyio


def _tools_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorded function declarations as the kernel passes tools (`Tool.schema`)."""
    return [
        {
            "name": f["name"],
            "description": f.get("description", ""),
            "parameters": f["parameters_json_schema"],
        }
        for f in body["tools"][0]["functionDeclarations"]
    ]


def _provider(server: Server, model: str, **kw: Any) -> GeminiProvider:
    return GeminiProvider(
        model,
        api_key="g-test",
        base_url="https://generativelanguage.googleapis.com",
        api_version="v1beta",
        http_client=server.client(),
        **kw,
    )


def _without_ids(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Contents with function-call ids dropped (the recording used pydantic-ai's own ids)."""
    text = json.dumps(contents)
    data = json.loads(text)
    for content in data:
        for part in content["parts"]:
            for key in ("functionCall", "functionResponse"):
                part.get(key, {}).pop("id", None)
    return data


async def test_plain_answer_with_system_instruction() -> None:
    name = "google/test_google_model.yaml"
    recorded = recorded_request(load_cassette(name)[0])
    server = serve(name)
    provider = _provider(server, "gemini-2.5-flash")
    system = recorded["systemInstruction"]["parts"][0]["text"]
    response = await provider.complete(
        [Message.system(system), Message.user(recorded["contents"][0]["parts"][0]["text"])], []
    )
    body = server.body()
    assert body["systemInstruction"] == recorded["systemInstruction"]
    assert body["contents"] == recorded["contents"]
    assert server.requests[0].url.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert server.requests[0].headers["x-goog-api-key"] == "g-test"
    assert response.finish_reason is FinishReason.STOP
    meta = load_cassette(name)[0]["response"]["parsed_body"]["usageMetadata"]
    assert (
        response.message.content
        == load_cassette(name)[0]["response"]["parsed_body"]["candidates"][0]["content"]["parts"][
            0
        ]["text"]
    )
    assert response.usage.input_tokens == meta["promptTokenCount"]
    assert response.usage.output_tokens == meta["candidatesTokenCount"] + meta.get(
        "thoughtsTokenCount", 0
    )
    assert response.usage.cost_usd > 0


async def test_tool_error_and_thought_signatures_round_trip() -> None:
    name = "google/test_google_model_retry.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "gemini-2.5-pro")
    tools = _tools_of(recorded[0])
    history = [
        Message.system("You are a helpful chatbot."),
        Message.user("What is the capital of France?"),
    ]
    first = await provider.complete(history, tools, temperature=0.0)
    (call,) = first.message.tool_calls
    assert first.message.content is None
    assert (call.name, call.arguments) == ("get_capital", {"country": "France"})
    assert call.signature and call.signature.startswith(
        "CpYEAXLI2nxHJhy3F4oMijlAus2CPUEnTw16KkDpmU77MgVhg6piCF3GycCmKbjhGXQ8mBK5lSpsqwI7DapurrH+"
    )
    assert first.finish_reason is FinishReason.TOOL_CALLS
    assert (first.usage.output_tokens, first.usage.reasoning_tokens) == (15 + 124, 124)
    error = recorded[1]["contents"][-1]["parts"][0]["functionResponse"]["response"]["error"]
    history += [first.message, Message.tool(error, call.id, call.name, is_error=True)]
    second = await provider.complete(history, tools, temperature=0.0)
    body = server.body(1)
    assert _without_ids(body["contents"]) == _without_ids(recorded[1]["contents"])
    assert body["contents"][1]["parts"][0]["functionCall"]["id"] == call.id
    assert body["contents"][2]["parts"][0]["functionResponse"]["id"] == call.id
    assert body["generationConfig"]["temperature"] == 0.0
    assert second.message.tool_calls[0].arguments == {"country": "La France"}


async def test_parallel_function_calls_with_required_tool_choice() -> None:
    name = "google/test_google_instructions_only_with_tool_calls.yaml"
    recorded = recorded_request(load_cassette(name)[0])
    server = serve(name)
    provider = _provider(server, "gemini-3-flash-preview")
    response = await provider.complete(
        [Message.system(recorded["systemInstruction"]["parts"][0]["text"]), Message.user("")],
        _tools_of(recorded),
        tool_choice="required",
    )
    assert [c.name for c in response.message.tool_calls] == ["generate_topic"] * 3
    assert response.message.content is None
    assert len({c.id for c in response.message.tool_calls}) == 3
    assert response.message.tool_calls[0].signature
    body = server.body()
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert body["tools"] == recorded["tools"]


async def test_native_output_uses_response_json_schema() -> None:
    name = "google/test_google_native_output.yaml"
    recorded = recorded_request(load_cassette(name)[0])
    server = serve(name)
    provider = _provider(server, "gemini-2.0-flash")
    schema = {"name": "result", "schema": recorded["generationConfig"]["responseJsonSchema"]}
    response = await provider.complete(
        [Message.user(recorded["contents"][0]["parts"][0]["text"])], [], output_schema=schema
    )
    config = server.body()["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == recorded["generationConfig"]["responseJsonSchema"]
    assert isinstance(json.loads(response.message.content), dict)


async def test_thought_parts_kept_and_replayed_with_text_signature() -> None:
    name = "google/test_google_model_thinking_part.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "gemini-3-pro-preview")
    history = [
        Message.system("You are a helpful assistant."),
        Message.user("How do I cross the street?"),
    ]
    first = await provider.complete(history, [], thinking={"effort": "high"})
    thoughts = [t for t in first.message.thinking if t.text]
    assert thoughts and first.message.content
    assert first.usage.reasoning_tokens == 1001
    # google-genai sends thinkingConfig's fields snake_case, as in the recorded real request
    assert server.body(0)["generationConfig"]["thinkingConfig"]["include_thoughts"] is True
    history += [first.message, Message.user(recorded[1]["contents"][-1]["parts"][0]["text"])]
    second = await provider.complete(history, [], thinking={"effort": "high"})
    assert server.body(1)["contents"] == recorded[1]["contents"]
    assert second.message.content


async def test_streamed_text() -> None:
    server = serve("google/test_google_model_stream.yaml")
    provider = _provider(server, "gemini-2.0-flash")
    chunks = [c async for c in provider.stream([Message.user("Hello")], [])]
    text = "".join(c.delta for c in chunks if c.type is ChunkType.TEXT)
    final = chunks[-1].response
    assert (
        final is not None
        and final.message.content == text
        and len([c for c in chunks if c.type is ChunkType.TEXT]) > 1
    )
    assert final.usage.input_tokens > 0
    assert server.requests[0].url.params["alt"] == "sse"


async def test_streamed_function_call_signature_replayed() -> None:
    name = "google/test_google_streaming_tool_call_thought_signature.yaml"
    recorded = [recorded_request(i) for i in load_cassette(name)]
    server = serve(name)
    provider = _provider(server, "gemini-3-pro-preview")
    tools = _tools_of(recorded[0])
    history = [Message.user(recorded[0]["contents"][0]["parts"][0]["text"])]
    chunks = [c async for c in provider.stream(history, tools)]
    first = chunks[-1].response
    assert first is not None and first.finish_reason is FinishReason.TOOL_CALLS
    (call,) = first.message.tool_calls
    assert call.signature
    assert [c.tool_name for c in chunks if c.type is ChunkType.TOOL_CALL] == [call.name]
    result = recorded[1]["contents"][-1]["parts"][0]["functionResponse"]["response"]
    history += [
        first.message,
        Message.tool(str(result.get("output", result.get("return_value", ""))), call.id),
    ]
    chunks = [c async for c in provider.stream(history, tools)]
    sent = server.body(1)["contents"]
    assert _without_ids(sent)[:2] == _without_ids(recorded[1]["contents"])[:2]


async def test_agent_runs_end_to_end_through_gemini() -> None:
    server = serve("google/test_google_model_retry.yaml")
    seen: list[str] = []

    @tool
    def get_capital(country: str) -> str:
        """Get the capital of a country."""
        seen.append(country)
        if country == "France":
            raise ValueError('The country is not supported. Use "La France" instead.')
        return "Paris"

    agent = Agent(
        provider=_provider(server, "gemini-2.5-pro"),
        tools=[get_capital],
        system="You are a helpful chatbot.",
    )
    result = await agent.run("What is the capital of France?")
    assert result.ok
    assert seen == ["France", "La France"]
    assert "Paris" in result.answer
    assert "error" in server.body(1)["contents"][-1]["parts"][0]["functionResponse"]["response"]
    assert result.usage.requests == 3
