"""The wire path: spans exported over real OTLP/HTTP (protobuf) to a receiver in the test."""

from __future__ import annotations

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from spine_core import Agent, TestProvider, tool
from spine_otel import OTelMiddleware

from .conftest import Receiver

pytestmark = pytest.mark.anyio


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: First.
        b: Second.
    """
    return a + b


async def test_spans_arrive_over_otlp_http(receiver: Receiver) -> None:
    port = receiver.server_address[1]
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=10)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    agent = Agent(
        TestProvider("m"),
        name="calc",
        tools=[add],
        middleware=[OTelMiddleware(tracer_provider=provider)],
    )
    result = await agent.run("1+1", session_id="wire")
    assert result.ok
    assert provider.force_flush(timeout_millis=10_000)  # returns once the receiver replied
    provider.shutdown()

    assert receiver.requests and set(receiver.paths) == {"/v1/traces"}
    assert set(receiver.content_types) == {"application/x-protobuf"}
    spans = receiver.spans("spine-otel")
    by_name = {span.name: span for span in spans}
    assert sorted(by_name) == ["chat m", "execute_tool add", "invoke_agent calc"]
    assert len(spans) == 4  # two chat spans share a name
    root = by_name["invoke_agent calc"]
    assert root.kind == ProtoSpan.SPAN_KIND_INTERNAL and root.parent_span_id == b""
    assert by_name["chat m"].kind == ProtoSpan.SPAN_KIND_CLIENT
    for span in spans:
        assert span.trace_id == root.trace_id
        if span is not root:
            assert span.parent_span_id == root.span_id
    attributes = {kv.key: kv.value for kv in by_name["execute_tool add"].attributes}
    assert attributes["gen_ai.tool.name"].string_value == "add"
    assert attributes["gen_ai.tool.type"].string_value == "function"
    root_attributes = {kv.key: kv.value for kv in root.attributes}
    assert root_attributes["gen_ai.conversation.id"].string_value == "wire"
