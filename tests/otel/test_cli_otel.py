"""`spine run --otel`: the real CLI in a subprocess exports its run over OTLP/HTTP to a
receiver in the test, configured only by the standard OTEL_* variables; its one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

from spine import otel_setup
from spine.runtime import CliError
from spine_core import Agent

from .conftest import Receiver

TOOLS = '''
from spine_core import tool


@tool
def add(a: int = 2, b: int = 3) -> int:
    """Add two numbers.

    Args:
        a: First.
        b: Second.
    """
    return a + b


TOOLS = [add]
'''


def _spec(tmp_path: Path) -> Path:
    (tmp_path / "tools.py").write_text(TOOLS, encoding="utf-8")
    spec = tmp_path / "calc.yaml"
    spec.write_text(
        textwrap.dedent(
            """
            name: calc
            model: test:calc-m
            checkpoint: memory
            tools:
              - python: tools:TOOLS
            """
        ).lstrip(),
        encoding="utf-8",
    )
    return spec


def _spine(tmp_path: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("SPINE_", "OTEL_"))} | {
        "NO_COLOR": "1",
        "PYTHONIOENCODING": "utf-8",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "spine", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environ,
        timeout=60,
    )


def test_run_with_otel_exports_its_spans_and_metrics(tmp_path: Path, receiver: Receiver) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,  # metrics: <endpoint>/v1/metrics
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"{receiver.url}/custom/traces",  # as given
        "OTEL_SERVICE_NAME": "calc-service",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=acme",
    }
    done = _spine(tmp_path, "run", str(_spec(tmp_path)), "add", "--otel", env=env)
    assert done.returncode == 0, done.stderr
    assert "5" in done.stdout  # the tool's result made the answer

    assert set(receiver.paths) == {"/custom/traces", "/v1/metrics"}
    assert set(receiver.tenants) == {"acme"}  # OTEL_EXPORTER_OTLP_HEADERS on every export
    spans = receiver.spans("spine-otel")
    by_name = {span.name: span for span in spans}
    assert sorted(by_name) == ["chat calc-m", "execute_tool add", "invoke_agent calc"]
    assert len(spans) == 4  # two chat calls
    root = by_name["invoke_agent calc"]
    assert root.kind == ProtoSpan.SPAN_KIND_INTERNAL and root.parent_span_id == b""
    assert by_name["chat calc-m"].kind == ProtoSpan.SPAN_KIND_CLIENT
    assert all(s.trace_id == root.trace_id for s in spans)
    assert all(s.parent_span_id == root.span_id for s in spans if s is not root)
    resource = {
        kv.key: kv.value.string_value
        for request in receiver.requests
        for rs in request.resource_spans
        for kv in rs.resource.attributes
    }
    assert resource["service.name"] == "calc-service"
    assert {"gen_ai.client.operation.duration", "gen_ai.client.token.usage"} <= (
        receiver.metric_names()
    )


def test_unsupported_protocol_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(CliError) as raised:
        otel_setup.setup(Agent("test"))
    assert str(raised.value) == (
        "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported by --otel: use http/protobuf"
    )


def test_a_missing_exporter_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # As when spine-agents is installed without [otel]: the exporter cannot be imported.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with pytest.raises(CliError) as raised:
        otel_setup.setup(Agent("test"))
    assert str(raised.value) == (
        'spine run --otel needs spine-otel and the OTLP exporter: pip install "spine-agents[otel]"'
    )
