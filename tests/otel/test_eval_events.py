"""spine-eval scores as `gen_ai.evaluation.result` events, parented to the evaluated runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from spine_core import Agent, FunctionProvider, Message, Result
from spine_eval import Case, Contains, Dataset, Score, evaluate
from spine_otel import EvalEvents, emit_eval_results

from .conftest import Telemetry

pytestmark = pytest.mark.anyio


@pytest.fixture
def logs() -> Iterator[tuple[LoggerProvider, InMemoryLogRecordExporter]]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def _echo_agent(telemetry: Telemetry) -> Agent:
    async def echo(messages: list[Message], tools: object, settings: object) -> Message:
        return Message.assistant(f"you said {messages[-1].text} sk-live-abcdefghijklmnop")

    return Agent(
        FunctionProvider(echo, model="m"), name="echo", middleware=[telemetry.middleware()]
    )


def _dataset() -> Dataset:
    return Dataset(
        name="smoke",
        cases=[Case(id="hi", input="hi"), Case(id="bye", input="bye")],
    )


class Quotes:
    """A scorer whose explanation quotes the answer (which holds a fake key)."""

    name = "quotes"

    async def score(self, case: Case, result: Result) -> Score:
        return Score(name=self.name, value=1.0, passed=True, detail=f"said: {result.answer}")


def _records(exporter: InMemoryLogRecordExporter) -> list[ReadableLogRecord]:
    return list(exporter.get_finished_logs())


async def test_trial_scores_are_events_parented_to_each_run(
    telemetry: Telemetry, logs: tuple[LoggerProvider, InMemoryLogRecordExporter]
) -> None:
    provider, exporter = logs
    report = await evaluate(
        _echo_agent(telemetry),
        _dataset(),
        [Contains("you said hi"), Quotes()],
        on_trial=EvalEvents(dataset="smoke", logger_provider=provider),
    )
    assert [c.passed for c in report.cases] == [True, False]

    records = [r.log_record for r in _records(exporter)]
    assert len(records) == 4  # two scorers, two cases
    runs = {s.context.span_id: s for s in telemetry.named("invoke_agent echo")}
    assert len(runs) == 2
    by_case, quoted = {}, []
    for record in records:
        assert record.event_name == "gen_ai.evaluation.result"
        attributes = dict(record.attributes or {})
        if attributes["gen_ai.evaluation.name"] == "quotes":
            quoted.append(str(attributes["gen_ai.evaluation.explanation"]))
        else:
            by_case[attributes["spine.eval.case_id"]] = attributes
        run = runs[record.span_id]  # parented to the evaluated run's agent span
        assert record.trace_id == run.context.trace_id
        assert run.attributes is not None
        session = str(run.attributes["gen_ai.conversation.id"])
        index = 0 if attributes["spine.eval.case_id"] == "hi" else 1
        assert session.endswith(f"-{index}-0")  # evaluate's "eval-<run>-<case>-<repeat>"
    hi, bye = by_case["hi"], by_case["bye"]
    assert hi["gen_ai.evaluation.name"] == "contains"
    assert hi["gen_ai.evaluation.score.value"] == 1.0
    assert hi["gen_ai.evaluation.score.label"] == "pass"
    assert hi["spine.eval.dataset"] == "smoke" and hi["spine.eval.repeat"] == 0
    assert bye["gen_ai.evaluation.score.value"] == 0.0
    assert bye["gen_ai.evaluation.score.label"] == "fail"
    assert bye["gen_ai.evaluation.explanation"] == "missing ['you said hi']"
    assert sorted(quoted) == [  # the fake key the answers held is never exported
        "said: you said bye [REDACTED]",
        "said: you said hi [REDACTED]",
    ]


async def test_a_finished_report_can_be_emitted_afterwards(
    telemetry: Telemetry, logs: tuple[LoggerProvider, InMemoryLogRecordExporter]
) -> None:
    provider, exporter = logs
    report = await evaluate(
        _echo_agent(telemetry), _dataset(), [Contains("you said"), Contains("hi")], repeats=2
    )
    assert not _records(exporter)  # nothing without the hook
    assert emit_eval_results(report, logger_provider=provider) == 8  # 2 cases x 2 x 2 scorers
    records = [r.log_record for r in _records(exporter)]
    assert {r.event_name for r in records} == {"gen_ai.evaluation.result"}
    assert {(r.attributes or {})["spine.eval.dataset"] for r in records} == {"smoke"}
    assert sorted((r.attributes or {})["spine.eval.repeat"] for r in records) == [0] * 4 + [1] * 4
    assert all(r.span_id == 0 for r in records)  # no span was current
