"""Metrics of real runs: the GenAI histograms with the spec's buckets, and Spine's counters."""

from __future__ import annotations

import pytest

from spine_core import (
    Agent,
    Message,
    ModelResponse,
    ProviderError,
    ScriptedProvider,
    ToolCall,
    Usage,
    tool,
)
from spine_otel import semconv

from .conftest import Telemetry

pytestmark = pytest.mark.anyio

# The spec's ExplicitBucketBoundaries, written out (not computed) so a typo in the table fails.
DURATION_BUCKETS = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TOKEN_BUCKETS = (
    1,
    4,
    16,
    64,
    256,
    1024,
    4096,
    16384,
    65536,
    262144,
    1048576,
    4194304,
    16777216,
    67108864,
)


@tool
def lookup(key: str) -> str:
    """Look a key up.

    Args:
        key: The key.
    """
    return key.upper()


def _run_agent(telemetry: Telemetry) -> Agent:
    call = Message.assistant(tool_calls=[ToolCall(id="c1", name="lookup", arguments={"key": "k"})])
    provider = ScriptedProvider(
        [
            ModelResponse(message=call, usage=Usage(input_tokens=100, output_tokens=5)),
            ModelResponse(
                message=Message.assistant("K"), usage=Usage(input_tokens=300, output_tokens=2)
            ),
        ],
        name="openai",
        model="gpt-x",
    )
    return Agent(provider, name="a", tools=[lookup], middleware=[telemetry.middleware()])


async def test_operation_duration_uses_the_spec_buckets_and_unit(telemetry: Telemetry) -> None:
    await _run_agent(telemetry).run("hi")
    metric = telemetry.metric("gen_ai.client.operation.duration")
    assert metric.unit == "s"
    (point,) = metric.data.data_points
    assert tuple(point.explicit_bounds) == DURATION_BUCKETS == semconv.DURATION_BUCKETS_S
    assert point.count == 2  # one per model call
    assert 0 <= point.sum < 5
    assert dict(point.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-x",
        "gen_ai.response.model": "gpt-x",
    }


async def test_token_usage_is_split_by_token_type(telemetry: Telemetry) -> None:
    await _run_agent(telemetry).run("hi")
    metric = telemetry.metric("gen_ai.client.token.usage")
    assert metric.unit == "{token}"
    points = {p.attributes["gen_ai.token.type"]: p for p in metric.data.data_points}
    assert set(points) == {"input", "output"}
    assert tuple(points["input"].explicit_bounds) == TOKEN_BUCKETS
    assert (points["input"].count, points["input"].sum) == (2, 400)
    assert (points["output"].count, points["output"].sum) == (2, 7)
    assert (points["input"].min, points["input"].max) == (100, 300)


async def test_failed_call_duration_carries_error_type(telemetry: Telemetry) -> None:
    provider = ScriptedProvider([ProviderError("slow", kind="timeout")], model="m")
    await Agent(provider, name="a", middleware=[telemetry.middleware()]).run("hi")
    (point,) = telemetry.points("gen_ai.client.operation.duration")
    assert point.attributes["error.type"] == "timeout"
    assert point.count == 1


async def test_spine_counters_count_tool_calls_and_stop_reasons(telemetry: Telemetry) -> None:
    agent = _run_agent(telemetry)
    await agent.run("hi")
    (calls,) = telemetry.points("spine.tool.calls")
    assert calls.value == 1 and dict(calls.attributes) == {"gen_ai.tool.name": "lookup"}
    (runs,) = telemetry.points("spine.agent.runs")
    assert runs.value == 1
    assert dict(runs.attributes) == {"gen_ai.agent.name": "a", "spine.stop_reason": "final"}
