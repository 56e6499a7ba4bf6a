"""spine-eval scores as `gen_ai.evaluation.result` events (log-based OpenTelemetry events).

One event per score of every trial, with `gen_ai.evaluation.name` (the scorer),
`gen_ai.evaluation.score.value` (0..1), `gen_ai.evaluation.score.label` ("pass" / "fail"),
`gen_ai.evaluation.explanation` (the scorer's detail, secrets scrubbed) and Spine's
`spine.eval.dataset` / `spine.eval.case_id` / `spine.eval.repeat`. Events go through the
OpenTelemetry Logs API (`logger_provider`, else the global one), as the conventions model them.

Live, parented to the evaluated run's `invoke_agent` span (when the agent has an
`OTelMiddleware`), through spine-eval's `on_trial` hook::

    report = await evaluate(agent, dataset, scorers, on_trial=EvalEvents(dataset="smoke"))

After the fact, for a finished or saved report (no parent span): `emit_eval_results(report)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import trace
from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger_provider
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from . import _content, semconv
from .middleware import _PREVIOUS, _SCOPE, _VERSION

if TYPE_CHECKING:
    from opentelemetry._logs import Logger

    from spine_core import Result

__all__ = ["EvalEvents", "emit_eval_results"]


class ScoreLike(Protocol):
    """The fields of a `spine_eval.Score` read here."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def passed(self) -> bool: ...
    @property
    def detail(self) -> str: ...


class TrialLike(Protocol):
    """The fields of a `spine_eval.Trial` read here."""

    @property
    def repeat(self) -> int: ...
    @property
    def scores(self) -> list[Any]: ...


class CaseLike(Protocol):
    """The field of a `spine_eval.Case` / `CaseResult` read here."""

    @property
    def id(self) -> str: ...


class EvalEvents:
    """A spine-eval `on_trial` hook that emits each trial's scores as
    `gen_ai.evaluation.result` events, parented to the run's `invoke_agent` span.

    Args:
        dataset: Recorded as `spine.eval.dataset` (optional).
        logger_provider: Where events go (default: the global logger provider).
    """

    def __init__(
        self, *, dataset: str | None = None, logger_provider: LoggerProvider | None = None
    ) -> None:
        self.dataset = dataset
        self._logger = _logger(logger_provider)

    def __call__(self, case: CaseLike, trial: TrialLike, result: Result | None) -> None:
        """Emit one event per score of `trial` (none for a trial without scores)."""
        context = _run_context(result)
        _emit(self._logger, self.dataset, case.id, trial, context)


def emit_eval_results(
    report: Any,
    *,
    logger_provider: LoggerProvider | None = None,
    context: Context | None = None,
) -> int:
    """Emit every score of a `spine_eval.EvalReport` as a `gen_ai.evaluation.result` event.

    Args:
        report: The report (`dataset`, `cases[].id`, `cases[].trials[].scores`).
        logger_provider: Where events go (default: the global logger provider).
        context: Parent of every event (default: the current context).

    Returns:
        The number of events emitted.
    """
    logger = _logger(logger_provider)
    dataset = str(getattr(report, "dataset", "") or "") or None
    return sum(
        _emit(logger, dataset, case.id, trial, context)
        for case in report.cases
        for trial in case.trials
    )


def _logger(provider: LoggerProvider | None) -> Logger:
    return (provider or get_logger_provider()).get_logger(_SCOPE, _VERSION)


def _emit(
    logger: Logger,
    dataset: str | None,
    case_id: str,
    trial: TrialLike,
    context: Context | None,
) -> int:
    scores: Iterable[ScoreLike] = trial.scores
    count = 0
    for score in scores:
        attributes: dict[str, Any] = {
            semconv.EVALUATION_NAME: score.name,
            semconv.EVALUATION_SCORE_VALUE: float(score.value),
            semconv.EVALUATION_SCORE_LABEL: "pass" if score.passed else "fail",
            semconv.SPINE_EVAL_CASE: case_id,
            semconv.SPINE_EVAL_REPEAT: trial.repeat,
        }
        if score.detail:
            attributes[semconv.EVALUATION_EXPLANATION] = _content.scrub(score.detail, None)
        if dataset:
            attributes[semconv.SPINE_EVAL_DATASET] = dataset
        logger.emit(
            event_name=semconv.EVENT_EVALUATION_RESULT,
            severity_number=SeverityNumber.INFO,
            attributes=attributes,
            context=context,
        )
        count += 1
    return count


def _run_context(result: Result | None) -> Context | None:
    """A context whose span is the evaluated run's agent span (None when unknown)."""
    if result is None:
        return None
    ids = result.state.scratch.get(_PREVIOUS)
    if not isinstance(ids, dict):
        return None
    try:
        span_context = SpanContext(
            trace_id=int(ids["trace_id"], 16),
            span_id=int(ids["span_id"], 16),
            is_remote=False,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    except (KeyError, TypeError, ValueError):
        return None
    if not span_context.is_valid:
        return None
    return trace.set_span_in_context(NonRecordingSpan(span_context))
