"""`spine run --otel`: export a run's traces and metrics over OTLP/HTTP (protobuf).

Configured by the standard OpenTelemetry variables, read by the SDK's exporters themselves:
`OTEL_EXPORTER_OTLP_ENDPOINT` (default http://localhost:4318; `/v1/traces` and `/v1/metrics`
are appended), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `..._METRICS_ENDPOINT` (used as given),
`OTEL_EXPORTER_OTLP_HEADERS`, `..._TIMEOUT`, `..._COMPRESSION`, `..._CERTIFICATE` (and their
per-signal forms), `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` (service.name defaults to
"spine"). `OTEL_EXPORTER_OTLP_PROTOCOL` may only be `http/protobuf`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from spine_core import Agent

from .runtime import CliError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

__all__ = ["OTelExport", "setup"]

MISSING = (
    'spine run --otel needs spine-otel and the OTLP exporter: pip install "spine-agents[otel]"'
)
_PROTOCOLS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
_SHUTDOWN_MS = 10_000  # milliseconds the final flush may take


@dataclass(slots=True)
class OTelExport:
    """The providers `setup` installed; `shutdown()` flushes and stops them."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def shutdown(self) -> None:
        """Export what is buffered (bounded by the exporters' timeouts), then stop."""
        self.tracer_provider.force_flush(_SHUTDOWN_MS)
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown(timeout_millis=_SHUTDOWN_MS)


def setup(agent: Agent) -> OTelExport:
    """Install global tracer and meter providers that export over OTLP/HTTP, and make sure
    `agent` has an `OTelMiddleware` (added outermost unless its spec already lists `otel`).

    Raises:
        CliError: spine-otel or the OTLP exporter is not installed, or an unsupported
            `OTEL_EXPORTER_OTLP_PROTOCOL`.
    """
    for variable in _PROTOCOLS:
        protocol = os.environ.get(variable, "").strip()
        if protocol and protocol != "http/protobuf":
            raise CliError(f"{variable}={protocol} is not supported by --otel: use http/protobuf")
    try:
        from opentelemetry import metrics, trace
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from spine_otel import OTelMiddleware
    except ImportError:
        raise CliError(MISSING) from None

    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {SERVICE_NAME: "spine"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    meter_provider = MeterProvider(
        resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())]
    )
    # Global, so other instrumented libraries in the run (the MCP SDK's spans) export too.
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    if not any(isinstance(mw, OTelMiddleware) for mw in agent.chain):
        agent.chain.add(
            OTelMiddleware(tracer_provider=tracer_provider, meter_provider=meter_provider),
            outermost=True,
        )
    return OTelExport(tracer_provider, meter_provider)
