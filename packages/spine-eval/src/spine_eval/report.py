"""`EvalReport`: per-case results of an evaluation and the aggregate numbers people read.

Pass rates: a run ("trial") passes when it raised no error and every scorer passed (with no
scorers, when it ended with a final answer). A case passes when all of its trials pass. The
report's `pass_rate` is the fraction of trials that passed (the mean pass@1).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import AliasChoices, BaseModel, Field, computed_field

from spine_core import Usage

from .metrics import pass_at_k, pass_hat_k, percentile
from .scoring import Score
from .trajectory import ToolCallRecord

if TYPE_CHECKING:
    from rich.console import Console

    from .comparison import Comparison

__all__ = [
    "CaseResult",
    "EvalReport",
    "ScorerSummary",
    "Summary",
    "Trial",
    "expected_failure",
    "score_labels",
]


def score_labels(scores: list[Score]) -> list[str]:
    """A label per score of one run: the scorer's name, with ` #2`, ` #3`, ... on the second
    and later scorers of the same name, so duplicate scorers (two `contains` with different
    values) stay apart in each run's scores and failures in the reports (the `Summary`
    pools the scores of one name)."""
    seen: Counter[str] = Counter()
    labels = []
    for score in scores:
        seen[score.name] += 1
        n = seen[score.name]
        labels.append(score.name if n == 1 else f"{score.name} #{n}")
    return labels


def expected_failure(case: CaseResult, provider: str | None = None) -> str | None:
    """Why `case` is expected to fail, from its `metadata.xfail`, or None.

    `xfail: "reason"` always applies; `xfail: {reason: ..., provider: NAME}` applies only when
    the agent ran on provider NAME (`provider`; a mark naming a provider never applies when
    `provider` is None), and without `provider:` always.
    """
    mark = case.metadata.get("xfail")
    if isinstance(mark, str):
        return mark
    if isinstance(mark, dict):
        only = mark.get("provider")
        if only is None or (provider is not None and only == provider):
            return str(mark.get("reason") or "expected to fail")
    return None


class Trial(BaseModel):
    """One run of one case.

    Attributes:
        repeat: 0-based repeat index.
        answer: `Result.answer`: the final answer, or the last text so far after a guard
            trip ("" when there is none, e.g. on an interrupt or an error).
        output: The typed output, JSON-ready (None without an `output_type`).
        stopped_reason: The run's `StopReason` value, or "error" when it raised.
        error: The run's error as `{"type", "message", ...}` (`Result.error_detail`; a
            middleware's error stop gives type "StopRun" and `Result.error` as the message), or
            that of an exception raised while running the case.
        latency_s: Wall-clock seconds of the run (scoring excluded).
        usage: The agent's tokens and cost (USD).
        tool_calls: The tool trajectory, in call order.
        scores: One `Score` per scorer.
        passed: No error and every scorer passed.
    """

    repeat: int = 0
    answer: str = ""
    output: Any = None
    stopped_reason: str
    error: dict[str, Any] | None = None
    latency_s: float = 0.0
    usage: Usage = Field(default_factory=Usage)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    scores: list[Score] = Field(default_factory=list)
    passed: bool = False


class CaseResult(BaseModel):
    """All trials of one case, with pass@k / pass^k for k = 1..repeats.

    Attributes:
        id, input, expected, tags, metadata: From the `Case` (input as text).
        trials: One per repeat.
        pass_at_k: k -> unbiased pass@k (Chen et al. 2021).
        pass_hat_k: k -> pass^k (tau-bench, Yao et al. 2024).
    """

    id: str
    input: str
    expected: Any = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    trials: list[Trial] = Field(default_factory=list)
    pass_at_k: dict[int, float] = Field(default_factory=dict)
    pass_hat_k: dict[int, float] = Field(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        n, c = len(self.trials), self.passes
        if n and not self.pass_at_k:
            self.pass_at_k = {k: pass_at_k(n, c, k) for k in range(1, n + 1)}
            self.pass_hat_k = {k: pass_hat_k(n, c, k) for k in range(1, n + 1)}

    @property
    def passes(self) -> int:
        """Trials that passed."""
        return sum(t.passed for t in self.trials)

    @property
    def pass_rate(self) -> float:
        """Fraction of trials that passed (0.0 with no trials)."""
        return self.passes / len(self.trials) if self.trials else 0.0

    @property
    def passed(self) -> bool:
        """Every trial passed."""
        return bool(self.trials) and self.passes == len(self.trials)

    @property
    def errored(self) -> bool:
        """Some trial ended with an error."""
        return any(t.error is not None for t in self.trials)

    # The reference's per-case fields, read from the trials (with one repeat, that trial's).

    @property
    def answer(self) -> str:
        """The first trial's answer ("" without trials)."""
        return self.trials[0].answer if self.trials else ""

    @property
    def latency_s(self) -> float:
        """Mean wall-clock seconds of a trial."""
        return _mean([t.latency_s for t in self.trials])

    @property
    def cost_usd(self) -> float:
        """The agent's spend over every trial, USD."""
        return sum(t.usage.cost_usd for t in self.trials)

    @property
    def tokens(self) -> int:
        """The agent's input + output tokens over every trial."""
        return sum(t.usage.total_tokens for t in self.trials)

    @property
    def error(self) -> str | None:
        """The first trial error as "Type: message", or None when no trial failed."""
        for trial in self.trials:
            if trial.error is not None:
                kind, message = trial.error.get("type", "Error"), trial.error.get("message", "")
                return f"{kind}: {message}" if message else str(kind)
        return None

    @property
    def stopped_reason(self) -> str:
        """The most common stop reason of the trials ("" without trials)."""
        reasons = Counter(t.stopped_reason for t in self.trials).most_common(1)
        return reasons[0][0] if reasons else ""

    @property
    def scores(self) -> list[Score]:
        """Every trial's scores, trial by trial."""
        return [score for trial in self.trials for score in trial.scores]

    def failures(self) -> list[tuple[int, str]]:
        """Why trials failed: (repeat, "scorer: detail" or "Type: message") per failure; a
        duplicate scorer is named as `score_labels` numbers it."""
        found = []
        for trial in self.trials:
            if trial.error is not None:
                found.append(
                    (trial.repeat, f"{trial.error.get('type')}: {trial.error.get('message', '')}")
                )
            for label, score in zip(score_labels(trial.scores), trial.scores, strict=True):
                if not score.passed:
                    found.append((trial.repeat, f"{label}: {score.detail or 'failed'}"))
        return found


class ScorerSummary(BaseModel):
    """Aggregate of one scorer over every trial it scored: mean value and pass rate."""

    mean: float
    pass_rate: float
    count: int


class Summary(BaseModel):
    """Aggregate numbers of an evaluation.

    Attributes:
        cases, trials, repeats: Counts.
        pass_rate: Fraction of trials that passed.
        case_pass_rate: Fraction of cases whose every trial passed.
        pass_at_k, pass_hat_k: k -> mean over cases.
        scorers: Scorer name -> mean value and pass rate.
        cost_usd_total, cost_usd_avg: The agent's spend in USD, total and per trial.
        input_tokens, output_tokens, total_tokens: The agent's tokens, summed.
        tokens_avg: Total tokens per trial.
        latency_avg_s, latency_p50_s, latency_p95_s: Seconds per trial (percentiles with
            linear interpolation).
        error_rate: Fraction of trials that ended with an error.
        stop_reasons: Stop reason -> trials.
        judge_usage: Tokens and cost (USD) spent by scorers (LLM judges), not in the above.
    """

    cases: int = 0
    trials: int = 0
    repeats: int = 1
    pass_rate: float = 0.0
    case_pass_rate: float = 0.0
    pass_at_k: dict[int, float] = Field(default_factory=dict)
    pass_hat_k: dict[int, float] = Field(default_factory=dict)
    scorers: dict[str, ScorerSummary] = Field(default_factory=dict)
    cost_usd_total: float = 0.0
    cost_usd_avg: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    tokens_avg: float = 0.0
    latency_avg_s: float = 0.0
    latency_p50_s: float = 0.0
    latency_p95_s: float = 0.0
    error_rate: float = 0.0
    stop_reasons: dict[str, int] = Field(default_factory=dict)
    judge_usage: Usage = Field(default_factory=Usage)

    @classmethod
    def of(cls, cases: list[CaseResult], repeats: int) -> Summary:
        """Aggregate `cases` (every trial weighs the same)."""
        trials = [t for case in cases for t in case.trials]
        count = len(trials) or 1
        usage = Usage()
        judge = Usage()
        by_scorer: dict[str, list[Score]] = {}
        for trial in trials:
            usage.add(trial.usage)
            for score in trial.scores:  # pooled by name; runs' own scores keep them apart
                by_scorer.setdefault(score.name, []).append(score)
                if score.usage is not None:
                    judge.add(score.usage)
        latencies = [t.latency_s for t in trials]
        ks = sorted({k for case in cases for k in case.pass_at_k})
        return cls(
            cases=len(cases),
            trials=len(trials),
            repeats=repeats,
            pass_rate=sum(t.passed for t in trials) / count,
            case_pass_rate=sum(c.passed for c in cases) / (len(cases) or 1),
            pass_at_k={k: _mean([c.pass_at_k[k] for c in cases if k in c.pass_at_k]) for k in ks},
            pass_hat_k={
                k: _mean([c.pass_hat_k[k] for c in cases if k in c.pass_hat_k]) for k in ks
            },
            scorers={
                name: ScorerSummary(
                    mean=_mean([s.value for s in scores]),
                    pass_rate=_mean([float(s.passed) for s in scores]),
                    count=len(scores),
                )
                for name, scores in by_scorer.items()
            },
            cost_usd_total=usage.cost_usd,
            cost_usd_avg=usage.cost_usd / count,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            total_tokens=usage.total_tokens,
            tokens_avg=usage.total_tokens / count,
            latency_avg_s=_mean(latencies),
            latency_p50_s=percentile(latencies, 50),
            latency_p95_s=percentile(latencies, 95),
            error_rate=sum(t.error is not None for t in trials) / count,
            stop_reasons=dict(Counter(t.stopped_reason for t in trials).most_common()),
            judge_usage=judge,
        )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


class EvalReport(BaseModel):
    """The result of `evaluate`: per-case results and their `Summary`.

    Save it with `save(path)` (`.json`, `.md` or `.html` by suffix), print it with
    `print_table()`, read a saved JSON report back with `EvalReport.load` and diff two runs
    with `compare(baseline)`.

    Attributes:
        dataset: The dataset's name.
        agent: A label for the agent (its name).
        scorers: Names of the scorers applied to every case.
        created_at: Seconds since the epoch when the run finished.
        duration_s: Wall-clock seconds of the whole evaluation.
        concurrency, repeats: The run's settings.
        provider: The provider name the agent ran on ("test", "anthropic", ...), when known:
            selects the expected failures marked for one provider (`expected_failure`).
        cases: One `CaseResult` per case, in dataset order.
        summary: The aggregate numbers (computed from `cases` when not given).
    """

    dataset: str = "dataset"
    agent: str = "agent"
    scorers: list[str] = Field(default_factory=list)
    created_at: float = Field(default_factory=time.time)
    duration_s: float = 0.0
    concurrency: int = 1
    repeats: int = 1
    provider: str | None = None
    cases: list[CaseResult] = Field(
        default_factory=list, validation_alias=AliasChoices("cases", "results")
    )
    summary: Summary | None = None

    def expected_failure(self, case: CaseResult) -> str | None:
        """Why `case` is expected to fail on this report's provider, or None (see the
        module-level `expected_failure`)."""
        return expected_failure(case, self.provider)

    def model_post_init(self, context: Any, /) -> None:
        if self.summary is None:
            self.summary = Summary.of(self.cases, self.repeats)

    @classmethod
    def from_results(cls, results: list[CaseResult]) -> EvalReport:
        """A report aggregating `results` (the reference's constructor); `repeats` is the
        most trials any case has."""
        repeats = max((len(r.trials) for r in results), default=1) or 1
        return cls(cases=list(results), repeats=repeats)

    @property
    def stats(self) -> Summary:
        """The summary (always set after construction)."""
        assert self.summary is not None
        return self.summary

    @property
    def results(self) -> list[CaseResult]:
        """The per-case results, in dataset order (the reference's name of `cases`)."""
        return self.cases

    # The reference's aggregates. With one repeat each counts cases; with repeats > 1,
    # `total` and `passed` count cases and the others count runs (trials).

    @computed_field  # type: ignore[prop-decorator]
    @property
    def total(self) -> int:
        """Number of cases."""
        return self.stats.cases

    @computed_field  # type: ignore[prop-decorator]
    @property
    def passed(self) -> int:
        """Cases whose every run passed."""
        return sum(case.passed for case in self.cases)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pass_rate(self) -> float:
        """Fraction of runs that passed (the mean pass@1; `passed / total` with one repeat)."""
        return self.stats.pass_rate

    @computed_field  # type: ignore[prop-decorator]
    @property
    def scorer_means(self) -> dict[str, float]:
        """Scorer name -> mean value over every run it scored."""
        return {name: scorer.mean for name, scorer in self.stats.scorers.items()}

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cost_total_usd(self) -> float:
        """The agent's total spend, USD (judges' spend is in `stats.judge_usage`)."""
        return self.stats.cost_usd_total

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cost_avg_usd(self) -> float:
        """The agent's spend per run, USD."""
        return self.stats.cost_usd_avg

    @computed_field  # type: ignore[prop-decorator]
    @property
    def tokens_total(self) -> int:
        """The agent's input + output tokens, summed."""
        return self.stats.total_tokens

    @computed_field  # type: ignore[prop-decorator]
    @property
    def latency_avg_s(self) -> float:
        """Mean seconds per run."""
        return self.stats.latency_avg_s

    @computed_field  # type: ignore[prop-decorator]
    @property
    def latency_p95_s(self) -> float:
        """95th percentile of seconds per run (linear interpolation)."""
        return self.stats.latency_p95_s

    @computed_field  # type: ignore[prop-decorator]
    @property
    def error_rate(self) -> float:
        """Fraction of runs that ended with an error."""
        return self.stats.error_rate

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stop_reasons(self) -> dict[str, int]:
        """Stop reason -> runs."""
        return dict(self.stats.stop_reasons)

    def case(self, case_id: str) -> CaseResult:
        """The result of the case with this id.

        Raises:
            KeyError: no such case.
        """
        for case in self.cases:
            if case.id == case_id:
                return case
        raise KeyError(case_id)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON (read back with `EvalReport.load` / `model_validate_json`)."""
        return self.model_dump_json(indent=indent)

    def to_markdown(self) -> str:
        """The report as GitHub-flavoured Markdown (summary, scorers, per-case table)."""
        from .render_markdown import render_markdown

        return render_markdown(self)

    def to_html(self) -> str:
        """The report as one self-contained HTML page (no external assets; charts as SVG)."""
        from .render_html import render_html

        return render_html(self)

    def print_table(self, console: Console | None = None) -> None:
        """Print the per-case table and summary to the terminal with rich."""
        from .render_terminal import print_report

        print_report(self, console)

    def save(self, path: str | Path) -> Path:
        """Write the report; the format follows the suffix: `.json`, `.md` or `.html`.

        Raises:
            ValueError: another suffix.
        """
        path = Path(path)
        renderers = {".json": self.to_json, ".md": self.to_markdown, ".html": self.to_html}
        render = renderers.get(path.suffix.lower())
        if render is None:
            raise ValueError(f"unknown report format '{path.suffix}': use .json, .md or .html")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> EvalReport:
        """Read a report saved as JSON.

        Raises:
            OSError: the file cannot be read.
            pydantic.ValidationError: it is not a JSON report.
        """
        return cls.model_validate_json(Path(path).read_text(encoding="utf-8"))

    def compare(self, baseline: EvalReport, *, tolerance: float = 0.0) -> Comparison:
        """Compare this report with an earlier one, case by case and in aggregate.

        See `spine_eval.comparison.compare` for the rules.
        """
        from .comparison import compare

        return compare(self, baseline, tolerance=tolerance)
