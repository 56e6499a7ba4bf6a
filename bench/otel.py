"""OTelMiddleware overhead benchmark (run by `make bench`; not a test).

Per-step cost of `OTelMiddleware` against the same run without it, all measured in this one
run, best of several interleaved rounds (the least disturbed round, as `timeit` advises).

A run: a provider that answers instantly asks for one trivial async tool per step for 10 steps,
then answers (11 model calls). Per step the middleware makes a `chat` span and an
`execute_tool` span and records 3 histogram points and a counter; per run an `invoke_agent`
span. Configurations:

- `api no-op`: OpenTelemetry not configured (the API's no-op tracer and meter);
- `sdk, no-op exporter`: the SDK's `TracerProvider` with a `SimpleSpanProcessor` whose exporter
  drops the spans (every span ends on the run's path), an SDK `MeterProvider`;
- `sdk, batch exporter`: the same with a `BatchSpanProcessor` (spans queue for a background
  thread, which exports them to an exporter that drops them). Target: <= 30 us/step;
- `sdk, batch, 10% sampled`: the same behind a `ParentBased(TraceIdRatioBased(0.1))` sampler
  (nine runs in ten make non-recording spans; metrics are still recorded for every call).

Last, the floor: the SDK calls alone that the same runs' telemetry needs (same spans,
attributes, points and current context, no Spine code), so the middleware's own share is the
overhead minus the floor (printed last).
Wall figures include the batch thread's export; cpu figures (`process_time`, every thread)
are steadier on a loaded machine.

Usage: python bench/otel.py [--runs N] [--rounds R]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

import anyio
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import NoOpTracerProvider

from spine_core import Agent, Guards, Message, ModelResponse, ToolCall, Usage, tool
from spine_otel import OTelMiddleware

STEPS = 10  # tool-calling steps per run; each run makes STEPS + 1 model calls
TARGET_US = 30.0  # per step, with the batch exporter


class InstantProvider:
    """Asks for `echo` on each of the first STEPS calls of a run, then answers."""

    name = "instant"
    model = "instant"

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[dict[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        done = (len(messages) - 1) // 2
        if done < STEPS:
            call = ToolCall(id=f"c{done}", name="echo", arguments={"text": "hi"})
            message = Message.assistant(tool_calls=[call])
        else:
            message = Message.assistant("done")
        return ModelResponse(message=message, usage=Usage(input_tokens=1, output_tokens=1))


class DropExporter(SpanExporter):
    """Counts the spans it is given and keeps none."""

    def __init__(self) -> None:
        self.count = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.count += len(spans)
        return SpanExportResult.SUCCESS


@tool
async def echo(text: str) -> str:
    """Echo the text."""
    return text


def agent(middleware: list[Any]) -> Agent:
    return Agent(
        InstantProvider(), tools=[echo], middleware=middleware, guards=Guards(max_steps=STEPS + 2)
    )


async def one_run(subject: Agent) -> None:
    result = await subject.run("go")
    assert result.ok and result.state.step == STEPS + 1, result.stopped_reason
    await subject.checkpoint.delete(result.session_id)


def sdk_floor(tracer_provider: TracerProvider, meter_provider: MeterProvider, runs: int) -> None:
    """What the SDK itself costs for `runs` runs' telemetry, with no Spine code: per run an
    agent span (current while the run goes on, as the middleware makes it, so metric points
    are offered as exemplars the same way) with the middleware's attributes and a run counter;
    per model call a chat span with its 13 attributes, three histogram points; per tool call a
    tool span with 4 attributes and a counter increment."""
    from opentelemetry import context as otel_context
    from opentelemetry import trace

    tracer = tracer_provider.get_tracer("floor")
    meter = meter_provider.get_meter("floor")
    duration = meter.create_histogram("floor.duration")
    tokens = meter.create_histogram("floor.tokens")
    calls = meter.create_counter("floor.calls")
    run_counter = meter.create_counter("floor.runs")
    metric = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "instant"}
    metric |= {"gen_ai.request.model": "instant", "gen_ai.response.model": "instant"}
    for _ in range(runs):
        run = tracer.start_span(
            "invoke_agent floor",
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"},
        )
        parent = trace.set_span_in_context(run)
        token = otel_context.attach(parent)
        for i in range(STEPS + 1):
            chat = tracer.start_span(
                "chat instant",
                context=parent,
                attributes={**metric, "gen_ai.conversation.id": "s"},
            )
            chat.set_attributes(
                {
                    "gen_ai.response.finish_reasons": ("tool_call",),
                    "gen_ai.usage.input_tokens": 1,
                    "gen_ai.usage.output_tokens": 1,
                    "gen_ai.usage.cache_read.input_tokens": 0,
                    "gen_ai.usage.cache_creation.input_tokens": 0,
                    "spine.attempts": 0,
                }
            )
            tokens.record(1, {**metric, "gen_ai.token.type": "input"})
            tokens.record(1, {**metric, "gen_ai.token.type": "output"})
            duration.record(0.001, metric)
            chat.end()
            if i == STEPS:  # the last call answers: no tool
                break
            attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "echo"}
            attributes |= {"gen_ai.tool.call.id": f"c{i}", "gen_ai.tool.type": "function"}
            tool_span = tracer.start_span(
                "execute_tool echo", context=parent, attributes=attributes
            )
            tool_span.end()
            calls.add(1, {"gen_ai.tool.name": "echo"})
        run.set_attributes({"spine.stop_reason": "final", "spine.steps": STEPS + 1})
        run.end()
        otel_context.detach(token)
        run_counter.add(1, {"gen_ai.agent.name": "a", "spine.stop_reason": "final"})


async def main(args: argparse.Namespace) -> int:
    simple_exporter, batch_exporter = DropExporter(), DropExporter()
    simple_tp = TracerProvider()
    simple_tp.add_span_processor(SimpleSpanProcessor(simple_exporter))
    batch_tp = TracerProvider()
    batch_tp.add_span_processor(BatchSpanProcessor(batch_exporter))
    sampled_tp = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1)))
    sampled_tp.add_span_processor(BatchSpanProcessor(DropExporter()))
    readers = [InMemoryMetricReader(), InMemoryMetricReader(), InMemoryMetricReader()]
    meters = [MeterProvider(metric_readers=[r]) for r in readers]
    subjects = {
        "without OTelMiddleware": agent([]),
        "api no-op": agent(
            [
                OTelMiddleware(
                    tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider()
                )
            ]
        ),
        "sdk, no-op exporter": agent(
            [OTelMiddleware(tracer_provider=simple_tp, meter_provider=meters[0])]
        ),
        "sdk, batch exporter": agent(
            [OTelMiddleware(tracer_provider=batch_tp, meter_provider=meters[1])]
        ),
        "sdk, batch, 10% sampled": agent(
            [OTelMiddleware(tracer_provider=sampled_tp, meter_provider=meters[2])]
        ),
    }
    for subject in subjects.values():  # warm-up
        for _ in range(20):
            await one_run(subject)

    steps = args.runs * (STEPS + 1)
    wall = dict.fromkeys(subjects, float("inf"))
    cpu = dict.fromkeys(subjects, float("inf"))
    for _ in range(args.rounds):
        for name, subject in subjects.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            for _ in range(args.runs):
                await one_run(subject)
            if name == "sdk, batch exporter":  # the export thread's work counts too
                batch_tp.force_flush()
            wall[name] = min(wall[name], (time.perf_counter() - started) / steps * 1e6)
            cpu[name] = min(cpu[name], (time.process_time() - cpu_started) / steps * 1e6)
    assert batch_exporter.count and simple_exporter.count  # the spans were really made
    floor_wall = floor_cpu = float("inf")
    for _ in range(args.rounds):
        started, cpu_started = time.perf_counter(), time.process_time()
        sdk_floor(batch_tp, meters[1], args.runs)
        batch_tp.force_flush()
        floor_wall = min(floor_wall, (time.perf_counter() - started) / steps * 1e6)
        floor_cpu = min(floor_cpu, (time.process_time() - cpu_started) / steps * 1e6)

    print(f"OTelMiddleware overhead per step, best of {args.rounds} rounds of {args.runs} runs")
    print(f"({STEPS + 1} steps a run; wall = perf_counter, cpu = process_time, all threads)")
    print(f"  {'':24} {'wall us':>9} {'overhead':>9} {'cpu us':>9} {'overhead':>9}")
    status = 0
    base_wall, base_cpu = wall["without OTelMiddleware"], cpu["without OTelMiddleware"]
    for name in subjects:
        line = f"  {name:24} {wall[name]:9.1f} {wall[name] - base_wall:9.1f}"
        line += f" {cpu[name]:9.1f} {cpu[name] - base_cpu:9.1f}"
        if name == "sdk, batch exporter":
            ok = wall[name] - base_wall <= TARGET_US
            status = 0 if ok else 1
            line += f"  target <= {TARGET_US:.0f} us (wall): {'ok' if ok else 'MISSED'}"
        print(line)
    print(
        f"  {'the SDK alone, per step':24} {'':9} {floor_wall:9.1f} {'':9} {floor_cpu:9.1f}"
        "  (same spans and points, batch exporter, no Spine code)"
    )
    own = wall["sdk, batch exporter"] - base_wall - floor_wall
    print(
        f"  {'OTelMiddleware own share':24} {'':9} {own:9.1f}"
        "  (batch overhead minus the SDK alone: hooks, attribute building, context)"
    )
    batch_tp.shutdown()
    simple_tp.shutdown()
    sampled_tp.shutdown()
    for meter in meters:
        meter.shutdown()
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="runs per round")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    raise SystemExit(anyio.run(main, parser.parse_args()))
