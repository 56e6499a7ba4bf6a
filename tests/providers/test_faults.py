# ruff: noqa: E501
# (the SSE payload literals below are kept one event per line, as the API sends them)
"""Faults mapped into the ProviderError taxonomy, for every provider, through the real SDKs
(error bodies shaped as each API documents them)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx2
import pytest

from spine_core import ChunkType, Message, resolve_provider
from spine_core.errors import ProviderError
from spine_providers import (
    AnthropicProvider,
    GeminiProvider,
    OllamaProvider,
    OpenAIProvider,
    OpenAIResponsesProvider,
    OpenRouterProvider,
)

from .fakes import Server, serve

pytestmark = pytest.mark.anyio

FACTORIES: dict[str, Callable[[Server], Any]] = {
    "anthropic": lambda s: AnthropicProvider(
        "claude-haiku-4-5", api_key="k", http_client=s.client()
    ),
    "openai": lambda s: OpenAIProvider("gpt-4o", api_key="k", http_client=s.client()),
    "openai-responses": lambda s: OpenAIResponsesProvider(
        "gpt-4o", api_key="k", http_client=s.client()
    ),
    "google": lambda s: GeminiProvider("gemini-2.5-flash", api_key="k", http_client=s.client()),
}


def _error_body(name: str, status: int, message: str, kind: str) -> dict[str, Any]:
    if name == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    if name == "google":
        return {"error": {"code": status, "message": message, "status": kind.upper()}}
    return {"error": {"message": message, "type": kind, "code": kind}}


def _raise(exc: Exception) -> Callable[[httpx2.Request], httpx2.Response]:
    def handler(request: httpx2.Request) -> httpx2.Response:
        raise exc

    return handler


CASES = [
    # (id, status, headers, message, error type, expected kind, expected retry_after_s)
    (
        "429-retry-after",
        429,
        {"retry-after": "7"},
        "slow down",
        "rate_limit_error",
        "rate_limit",
        7.0,
    ),
    (
        "429-retry-after-ms",
        429,
        {"retry-after-ms": "1500"},
        "slow down",
        "rate_limit_error",
        "rate_limit",
        1.5,
    ),
    ("500", 500, {}, "internal error", "api_error", "server", None),
    ("529", 529, {}, "Overloaded", "overloaded_error", "overloaded", None),
    ("401", 401, {}, "invalid x-api-key", "authentication_error", "auth", None),
    (
        "400-context",
        400,
        {},
        "prompt is too long: 250000 tokens > 200000 maximum",
        "invalid_request_error",
        "context_length",
        None,
    ),
    ("400", 400, {}, "messages: field required", "invalid_request_error", "bad_request", None),
]


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize(
    ("case", "status", "headers", "message", "etype", "kind", "retry"),
    CASES,
    ids=[c[0] for c in CASES],
)
async def test_http_errors_map_to_kinds(
    name: str,
    case: str,
    status: int,
    headers: dict[str, str],
    message: str,
    etype: str,
    kind: str,
    retry: float | None,
) -> None:
    server = Server(
        [httpx2.Response(status, headers=headers, json=_error_body(name, status, message, etype))]
    )
    provider = FACTORIES[name](server)
    with pytest.raises(ProviderError) as info:
        await provider.complete([Message.user("hi")], [])
    error = info.value
    assert (error.kind.value, error.status, error.retry_after_s) == (kind, status, retry)
    assert error.provider == name and error.retryable is (
        kind in {"rate_limit", "server", "overloaded"}
    )
    assert len(server.requests) == 1  # the SDK did not retry on its own


@pytest.mark.parametrize("name", list(FACTORIES))
@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx2.ReadTimeout("timed out"), "timeout"),
        (httpx2.ConnectError("[Errno 104] Connection reset by peer"), "connection"),
    ],
    ids=["timeout", "connection-reset"],
)
async def test_transport_failures_map_to_kinds(name: str, exc: Exception, kind: str) -> None:
    server = Server([_raise(exc)])
    provider = FACTORIES[name](server)
    with pytest.raises(ProviderError) as info:
        await provider.complete([Message.user("hi")], [])
    assert info.value.kind.value == kind and info.value.retryable
    assert len(server.requests) == 1


def _sse(events: list[str]) -> httpx2.Response:
    return httpx2.Response(
        200, headers={"content-type": "text/event-stream"}, content="".join(events).encode()
    )


CUT_STREAMS = {
    "anthropic": [
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":5,"output_tokens":1}}}\n\n',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"lookup","input":{}}}\n\n',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"{\\"q\\": \\"Par"}}\n\n',
    ],
    "openai": [
        'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"lookup","arguments":""}}]},"finish_reason":null}]}\n\n',
        'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"q\\": \\"Par"}}]},"finish_reason":null}]}\n\n',
    ],
    "openai-responses": [
        'data: {"type":"response.output_item.added","output_index":0,"sequence_number":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"lookup","arguments":"","status":"in_progress"}}\n\n',
        'data: {"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"sequence_number":2,"delta":"{\\"q\\": \\"Par"}\n\n',
    ],
    "google": [
        'data: {"candidates": [{"content": {"parts": [{"text": "Looking"}], "role": "model"}}]}\r\n\r\n',
    ],
}


@pytest.mark.parametrize("name", list(FACTORIES))
async def test_stream_cut_off_mid_tool_call_raises_connection_error(name: str) -> None:
    server = Server([_sse(CUT_STREAMS[name])])
    provider = FACTORIES[name](server)
    seen = []
    with pytest.raises(ProviderError) as info:
        async for chunk in provider.stream([Message.user("hi")], []):
            seen.append(chunk)
    assert info.value.kind.value == "connection"
    assert seen and all(c.type is not ChunkType.RESPONSE for c in seen)


async def test_invalid_streamed_arguments_become_a_tool_error_not_empty_arguments() -> None:
    events = [
        *CUT_STREAMS["openai"],
        'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}\n\n',
        "data: [DONE]\n\n",
    ]
    server = Server([_sse(events)])
    provider = FACTORIES["openai"](server)
    chunks = [c async for c in provider.stream([Message.user("hi")], [])]
    final = chunks[-1].response
    assert final is not None
    (call,) = final.message.tool_calls
    assert call.arguments == {} and call.arguments_error is not None
    assert "not valid JSON" in call.arguments_error


async def test_anthropic_invalid_streamed_arguments_become_a_tool_error() -> None:
    events = [
        *CUT_STREAMS["anthropic"],
        'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9}}\n\n',
        'event: message_stop\ndata: {"type":"message_stop"}\n\n',
    ]
    server = Server([_sse(events)])
    chunks = [c async for c in FACTORIES["anthropic"](server).stream([Message.user("hi")], [])]
    final = chunks[-1].response
    assert final is not None
    assert final.message.tool_calls[0].arguments_error is not None
    assert final.usage.output_tokens == 9 and final.usage.input_tokens == 5


@pytest.mark.parametrize(
    ("scheme", "cls", "env"),
    [
        ("anthropic", AnthropicProvider, "ANTHROPIC_API_KEY"),
        ("openai", OpenAIProvider, "OPENAI_API_KEY"),
        ("google", GeminiProvider, "GOOGLE_API_KEY"),
        ("openrouter", OpenRouterProvider, "OPENROUTER_API_KEY"),
    ],
)
async def test_missing_key_raises_auth_error_naming_the_variable(
    scheme: str, cls: type, env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in (
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
        "GOOGLE_API_KEY",
        "GEMINI_API_KEY",
        "OPENROUTER_API_KEY",
    ):
        monkeypatch.delenv(var, raising=False)
    provider = resolve_provider(f"{scheme}:some-model")
    assert isinstance(provider, cls) and provider.model == "some-model"
    with pytest.raises(ProviderError) as info:
        await provider.complete([Message.user("hi")], [])
    assert info.value.kind.value == "auth" and env in info.value.message


async def test_ollama_needs_no_key_and_defaults_to_localhost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    server = serve("openai_compat/ollama_reasoning.yaml")
    provider = OllamaProvider("qwen3", http_client=server.client())
    response = await provider.complete([Message.user("hi")], [], max_tokens=10)
    assert str(server.requests[0].url) == "http://localhost:11434/v1/chat/completions"
    assert json.loads(server.requests[0].content)["max_tokens"] == 10
    assert response.message.thinking[0].text == "The user greets me; greet back."
    assert response.usage.cost_usd == 0.0


def test_entry_points_resolve_every_scheme() -> None:
    expected = {
        "anthropic": "AnthropicProvider",
        "openai": "OpenAIProvider",
        "openai-responses": "OpenAIResponsesProvider",
        "google": "GeminiProvider",
        "gemini": "GeminiProvider",
        "ollama": "OllamaProvider",
        "openrouter": "OpenRouterProvider",
        "vllm": "VLLMProvider",
        "lmstudio": "LMStudioProvider",
    }
    for scheme, cls in expected.items():
        provider = resolve_provider(f"{scheme}:m")
        assert type(provider).__name__ == cls and provider.name in (scheme, "google")


def test_importing_and_constructing_providers_imports_no_sdk() -> None:
    code = (
        "import sys, spine_providers as p\n"
        "for cls in (p.AnthropicProvider, p.OpenAIProvider, p.OpenAIResponsesProvider, p.GeminiProvider, p.OllamaProvider):\n"
        "    cls('m')\n"
        "print(sorted(m for m in ('anthropic', 'openai', 'google.genai', 'httpx2') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PATH": ""}
    )
    assert out.stdout.strip() == "[]"


async def test_missing_sdk_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "anthropic", None)
    provider = AnthropicProvider("claude-haiku-4-5", api_key="k")
    with pytest.raises(ImportError, match=r"spine-providers\[anthropic\]"):
        await provider.complete([Message.user("hi")], [])
