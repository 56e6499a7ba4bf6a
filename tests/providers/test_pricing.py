"""The price table: snapshot names, distinct model versions, and unpriced-model warnings."""

from __future__ import annotations

import logging
import uuid

import httpx2
import pytest

from spine_core import Message, Usage
from spine_providers import OllamaProvider, OpenAIProvider, UnpricedModelWarning
from spine_providers.pricing import Price, cost_usd, find_price

from .fakes import Server, body_of

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
        ("gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("gemini-2.5-pro-preview-06-05", "gemini-2.5-pro"),
        ("openai/gpt-5.4-mini", "gpt-5.4-mini"),
        ("anthropic/claude-sonnet-4.5", "claude-sonnet-4-5"),
    ],
)
def test_snapshot_and_routed_names_find_their_base_price(model: str, expected: str) -> None:
    assert find_price(model) == find_price(expected) is not None


def test_a_newer_version_is_not_priced_as_an_older_one_by_prefix() -> None:
    assert find_price("claude-opus-4-8") == Price(5.0, 25.0, 0.50, 6.25)
    assert find_price("claude-opus-4-1") == Price(15.0, 75.0, 1.50, 18.75)
    assert find_price("gpt-5.4-nano") != find_price("gpt-5.4")
    assert find_price("claude-opus-4-9") is None  # unknown, not "claude-opus-4"


def test_cost_counts_uncached_input_cache_reads_writes_and_output() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        cache_read_tokens=200_000,
        cache_write_tokens=100_000,
        output_tokens=500_000,
    )
    # claude-sonnet-4-6: 0.7M x $3 + 0.2M x $0.30 + 0.1M x $3.75 + 0.5M x $15
    assert cost_usd("claude-sonnet-4-6", usage) == pytest.approx(2.1 + 0.06 + 0.375 + 7.5)


def test_overrides_win_over_the_table() -> None:
    usage = Usage(input_tokens=1_000_000)
    assert cost_usd("gpt-4o", usage, {"gpt-4o": Price(1.0, 1.0)}) == pytest.approx(1.0)


def answered_by(model: str) -> Server:
    """A server giving a Chat Completions answer, as if `model` had written it."""
    body = body_of("openai_chat/text.yaml")
    body["model"] = model
    return Server([httpx2.Response(200, json=body)])


def _unpriced(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "spine_providers.pricing"]


async def test_a_hosted_model_without_a_price_logs_one_line_and_costs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = f"gpt-9-experimental-{uuid.uuid4().hex[:6]}"  # once per model and process
    server = Server([answered_by(model).responses[0], answered_by(model).responses[0]])
    provider = OpenAIProvider(model, api_key="k", http_client=server.client())

    with caplog.at_level(logging.WARNING, logger="spine_providers.pricing"):
        response = await provider.complete([Message.user("hi")], [])
        await provider.complete([Message.user("hi")], [])

    assert response.usage.cost_usd == 0.0 and response.usage.input_tokens > 0
    (record,) = _unpriced(caplog)  # the second call stays quiet
    line = record.getMessage()
    assert "\n" not in line and record.levelno == logging.WARNING
    assert line.startswith(f"UnpricedModelWarning: no price for model '{model}'")
    assert f"model: {{name: ..., prices: {{{model}: {{input: ..., output: ...}}}}}}" in line
    assert record.category is UnpricedModelWarning  # type: ignore[attr-defined]


async def test_a_local_server_model_is_free_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = answered_by("llama3.2")
    provider = OllamaProvider("llama3.2", http_client=server.client())

    with caplog.at_level(logging.WARNING, logger="spine_providers.pricing"):
        response = await provider.complete([Message.user("hi")], [])

    assert response.usage.cost_usd == 0.0 and _unpriced(caplog) == []
