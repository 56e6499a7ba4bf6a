"""GeminiProvider driving the real google-genai SDK against the project's own fixtures
(`fixtures/gemini/`, written from the Gemini API documentation)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from spine_core import Agent, ChunkType, FinishReason, Message, tool
from spine_providers import GeminiProvider

from .fakes import Server, serve

pytestmark = pytest.mark.anyio

CAPITAL = {
    "name": "lookup_capital",
    "description": "The capital of a country.",
    "parameters": {
        "type": "object",
        "properties": {"country": {"type": "string"}},
        "required": ["country"],
    },
}
SIGNATURE_1 = "c3BpbmUtdGhvdWdodC1zaWduYXR1cmUtMDAwMQ=="


def _provider(server: Server, model: str = "gemini-2.5-flash", **kw: Any) -> GeminiProvider:
    return GeminiProvider(
        model,
        api_key="g-test",
        base_url="https://generativelanguage.googleapis.com",
        api_version="v1beta",
        http_client=server.client(),
        **kw,
    )


async def test_plain_answer_with_system_instruction_and_thinking_in_output() -> None:
    server = serve("gemini/text.yaml")
    response = await _provider(server).complete(
        [Message.system("Be brief."), Message.user("Tallest mountain?")], []
    )
    assert response.message.content == "Mount Everest is the tallest mountain, at 8,849 m."
    assert response.finish_reason is FinishReason.STOP
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (14, 8 + 31, 31)
    assert usage.total_tokens == 53  # the API's totalTokenCount
    body = server.body()
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}], "role": "user"}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Tallest mountain?"}]}]
    request = server.requests[0]
    assert request.url.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert request.headers["x-goog-api-key"] == "g-test"


async def test_function_call_signature_and_error_result_round_trip() -> None:
    server = serve("gemini/function_call.yaml", "gemini/capital_answer.yaml")
    provider = _provider(server, "gemini-2.5-pro")
    history = [Message.user("Capital of Peru?")]
    first = await provider.complete(history, [CAPITAL], temperature=0.0)
    (call,) = first.message.tool_calls
    assert (call.name, call.arguments, call.signature) == (
        "lookup_capital",
        {"country": "Peru"},
        SIGNATURE_1,
    )
    assert first.finish_reason is FinishReason.TOOL_CALLS  # Gemini said STOP
    assert first.message.content is None
    assert server.body(0)["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "lookup_capital",
                    "description": CAPITAL["description"],
                    "parameters_json_schema": CAPITAL["parameters"],
                }
            ]
        }
    ]
    history += [first.message, Message.tool("unknown country", call.id, is_error=True)]
    second = await provider.complete(history, [CAPITAL], temperature=0.0)
    sent = server.body(1)["contents"]
    assert sent[1] == {
        "role": "model",
        "parts": [
            {
                "functionCall": {
                    "id": call.id,
                    "name": "lookup_capital",
                    "args": {"country": "Peru"},
                },
                "thoughtSignature": SIGNATURE_1,
            }
        ],
    }
    assert sent[2]["parts"][0]["functionResponse"] == {
        "id": call.id,
        "name": "lookup_capital",
        "response": {"error": "unknown country"},
    }
    assert server.body(1)["generationConfig"]["temperature"] == 0.0
    assert second.message.content == "Lima is the capital of Peru."


@pytest.mark.parametrize(
    ("choice", "wire"),
    [
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        ({"name": "lookup_capital"}, {"mode": "ANY", "allowedFunctionNames": ["lookup_capital"]}),
    ],
)
async def test_tool_choice_mapping(choice: Any, wire: dict[str, Any]) -> None:
    server = serve("gemini/text.yaml")
    await _provider(server).complete([Message.user("hi")], [CAPITAL], tool_choice=choice)
    assert server.body()["toolConfig"] == {"functionCallingConfig": wire}


async def test_native_output_and_sampling_settings_in_generation_config() -> None:
    server = serve("gemini/text.yaml")
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    await _provider(server).complete(
        [Message.user("hi")],
        [],
        output_schema={"schema": schema},
        max_tokens=50,
        stop="END",
        seed=4,
        top_p=0.5,
    )
    config = server.body()["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema
    assert (config["maxOutputTokens"], config["stopSequences"], config["seed"]) == (50, ["END"], 4)
    assert config["topP"] == 0.5


async def test_thought_parts_kept_and_text_signature_replayed() -> None:
    server = serve("gemini/thinking.yaml", "gemini/text.yaml")
    provider = _provider(server, "gemini-3-pro-preview")
    history = [Message.user("How do I boil an egg?")]
    first = await provider.complete(history, [], thinking={"effort": "high"})
    assert [t.text for t in first.message.thinking if t.text] == [
        "**Boiling an egg**\nNine minutes for a firm yolk."
    ]
    assert first.usage.reasoning_tokens == 845 and first.usage.total_tokens == 874
    thinking_config = server.body(0)["generationConfig"]["thinkingConfig"]
    assert thinking_config == {"include_thoughts": True, "thinking_level": "HIGH"}
    history += [first.message, Message.user("And a soft one?")]
    await provider.complete(history, [], thinking={"effort": "high"})
    replayed = server.body(1)["contents"][1]["parts"]
    assert replayed[0]["thought"] is True
    assert replayed[-1] == {
        "text": first.message.content,
        "thoughtSignature": base64.b64encode(b"spine-thought-signature-0002").decode(),
    }


async def test_streamed_text_with_usage_from_the_last_event() -> None:
    server = serve("gemini/stream_text.yaml")
    chunks = [c async for c in _provider(server, "gemini-2.0-flash").stream([Message.user("Hi")])]
    texts = [c.delta for c in chunks if c.type is ChunkType.TEXT]
    assert texts == ["Hello", "! What shall", " we build today?"]
    final = chunks[-1].response
    assert final is not None and final.message.content == "".join(texts)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (5, 10)
    assert server.requests[0].url.path.endswith(":streamGenerateContent")
    assert server.requests[0].url.params["alt"] == "sse"


async def test_streamed_function_call_keeps_its_signature() -> None:
    server = serve("gemini/stream_function_call.yaml")
    chunks = [c async for c in _provider(server).stream([Message.user("Kenya?")], [CAPITAL])]
    deltas = [c for c in chunks if c.type is ChunkType.TOOL_CALL]
    final = chunks[-1].response
    assert final is not None and final.finish_reason is FinishReason.TOOL_CALLS
    (call,) = final.message.tool_calls
    assert [d.tool_name for d in deltas] == ["lookup_capital"]
    assert json.loads(deltas[0].arguments_delta) == call.arguments == {"country": "Kenya"}
    assert call.signature == base64.b64encode(b"spine-thought-signature-0003").decode()
    assert (final.usage.output_tokens, final.usage.reasoning_tokens) == (12 + 88, 88)


async def test_agent_returns_a_tool_error_to_gemini_and_finishes() -> None:
    server = serve("gemini/function_call.yaml", "gemini/capital_answer.yaml")

    @tool
    def lookup_capital(country: str) -> str:
        """The capital of a country."""
        raise ValueError("the capital service is down")

    agent = Agent(provider=_provider(server, "gemini-2.5-pro"), tools=[lookup_capital])
    result = await agent.run("Capital of Peru?")
    assert result.ok and result.answer == "Lima is the capital of Peru."
    response = server.body(1)["contents"][-1]["parts"][0]["functionResponse"]["response"]
    assert "capital service is down" in response["error"]
    assert result.usage.requests == 2
