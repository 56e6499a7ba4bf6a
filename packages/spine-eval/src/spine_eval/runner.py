"""`evaluate`: run an agent over a dataset, score every run and build the `EvalReport`."""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic_core import to_jsonable_python

from spine_core import Agent, Message, Result, Usage

from .dataset import Case, Dataset
from .report import CaseResult, EvalReport, Trial
from .scoring import Score, Scorer, ScorerSpec, build_scorer, run_scorer
from .trajectory import tool_calls

__all__ = ["AgentFactory", "EvalProgress", "TrialHook", "evaluate"]

AgentFactory = Callable[[], Agent | Awaitable[Agent]]
"""Builds a fresh agent for each run (sync or async)."""

ScorerLike = Scorer | ScorerSpec | str | dict[str, Any]

TrialHook = Callable[[Case, Trial, Result | None], Awaitable[None] | None]
"""Called after each scored run with its case, its `Trial` and the agent's `Result` (None
when the run raised or timed out); sync or async. spine-otel's `EvalEvents` is one."""

_log = logging.getLogger("spine_eval")


@dataclass(frozen=True, slots=True)
class EvalProgress:
    """Progress after each finished run, passed to `evaluate(progress=...)`.

    Attributes:
        done: Runs finished so far.
        total: Runs in the evaluation (cases x repeats).
        passed: Runs that passed so far.
        errors: Runs that ended with an error so far.
        cost_usd: The agent's spend so far, USD.
        case_id: The case whose run just finished.
    """

    done: int
    total: int
    passed: int
    errors: int
    cost_usd: float
    case_id: str

    @property
    def pass_rate(self) -> float:
        """Fraction of finished runs that passed."""
        return self.passed / self.done if self.done else 0.0


async def evaluate(
    agent: Agent | AgentFactory,
    dataset: Dataset | Iterable[Case],
    scorers: Sequence[ScorerLike] | None = None,
    *,
    concurrency: int = 1,
    repeats: int = 1,
    timeout_s: float | None = None,
    progress: Callable[[EvalProgress], None] | None = None,
    agent_name: str | None = None,
    keep_sessions: bool = False,
    on_trial: TrialHook | None = None,
) -> EvalReport:
    """Evaluate `agent` over `dataset`; each case runs in a fresh session.

    Every case runs `repeats` times; each run is scored and the results aggregated. Each run
    starts a fresh session (a new session id; with a factory, also a fresh agent), and unless
    `keep_sessions` the session (and its sub-agents' sessions) is deleted from the agent's
    checkpoint store once scored, so evaluations do not pile up sessions in a persistent store
    such as `.spine/state.db`. Runs are independent: an exception while building the agent,
    running it or scoring it is recorded on that run (`Trial.error`) and the evaluation goes
    on. `concurrency` bounds simultaneous runs; keep it at 1 when the provider or a scorer is
    not safe to call concurrently.

    Args:
        agent: An `Agent`, or a factory returning one (sync or async) called for every run.
        dataset: A `Dataset` or any iterable of `Case`s.
        scorers: Applied to every case, in addition to the dataset's and each case's own
            scorers: `Scorer` instances (the reference's `score(case, result)` form, or with
            a `latency_s` keyword) or references such as `"contains:values=[a]"`; None for
            none.
        concurrency: Runs in flight at once (>= 1).
        repeats: Runs per case (>= 1); with k > 1 the report has pass@k and pass^k.
        timeout_s: Wall-clock seconds allowed per run; a run over it is cancelled and
            recorded with a TimeoutError and stop reason "timeout".
        progress: Called after every finished run with an `EvalProgress`.
        agent_name: The agent's label in the report (default: the agent's or factory's name).
        keep_sessions: Leave each run's session in the checkpoint store (e.g. to inspect it
            with `spine trace`); session ids are "eval-<run>-<case index>-<repeat>".
        on_trial: Called after every scored run (see `TrialHook`), e.g. to emit the scores
            as telemetry; an exception it raises is logged and the evaluation goes on.

    Returns:
        The `EvalReport`, cases in dataset order.

    Raises:
        ValueError: `concurrency` or `repeats` is below 1, or a scorer reference is invalid.
        PluginNotFoundError: a scorer name is not installed.
    """
    if concurrency < 1 or repeats < 1:
        raise ValueError(f"concurrency and repeats must be >= 1, got {concurrency}, {repeats}")
    data = dataset if isinstance(dataset, Dataset) else Dataset(cases=list(dataset))
    shared = [build_scorer(s) for s in scorers or ()] + [build_scorer(s) for s in data.scorers]
    per_case = {case.id: shared + [build_scorer(s) for s in case.scorers] for case in data.cases}
    jobs = deque(
        (index, case, repeat) for index, case in enumerate(data.cases) for repeat in range(repeats)
    )
    trials: dict[tuple[str, int], Trial] = {}
    tally = _Tally(total=len(jobs), progress=progress)
    started = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]

    async def worker() -> None:
        while jobs:
            index, case, repeat = jobs.popleft()
            session = f"eval-{run_id}-{index}-{repeat}"
            trial, result = await _run_trial(
                agent, case, repeat, per_case[case.id], timeout_s, session, keep_sessions
            )
            trials[(case.id, repeat)] = trial
            tally.add(case.id, trial)
            if on_trial is not None:
                await _notify(on_trial, case, trial, result)

    async with anyio.create_task_group() as tg:
        for _ in range(min(concurrency, len(jobs)) or 1):
            tg.start_soon(worker)

    results = [
        CaseResult(
            id=case.id,
            input=case.input_text,
            expected=to_jsonable_python(case.expected, fallback=repr),
            tags=list(case.tags),
            metadata=dict(case.metadata),
            trials=[trials[(case.id, r)] for r in range(repeats)],
        )
        for case in data.cases
    ]
    return EvalReport(
        dataset=data.name,
        agent=agent_name or _label(agent),
        scorers=[s.name for s in shared],
        duration_s=time.perf_counter() - started,
        concurrency=concurrency,
        repeats=repeats,
        cases=results,
    )


def _label(agent: Agent | AgentFactory) -> str:
    if isinstance(agent, Agent):
        return agent.label
    return str(getattr(agent, "__name__", "agent"))


@dataclass(slots=True)
class _Tally:
    total: int
    progress: Callable[[EvalProgress], None] | None
    done: int = 0
    passed: int = 0
    errors: int = 0
    cost_usd: float = 0.0

    def add(self, case_id: str, trial: Trial) -> None:
        self.done += 1
        self.passed += trial.passed
        self.errors += trial.error is not None
        self.cost_usd += trial.usage.cost_usd
        if self.progress is not None:
            self.progress(
                EvalProgress(
                    self.done, self.total, self.passed, self.errors, self.cost_usd, case_id
                )
            )


async def _make_agent(agent: Agent | AgentFactory) -> Agent:
    if isinstance(agent, Agent):
        return agent
    made = agent()
    if inspect.isawaitable(made):
        made = await made
    if not isinstance(made, Agent):
        raise TypeError(f"the agent factory returned {type(made).__name__}, not an Agent")
    return made


def _describe(exc: BaseException) -> dict[str, Any]:
    return {"type": type(exc).__name__, "message": str(exc)}


def _run_error(result: Result) -> dict[str, Any] | None:
    """The run's error as `{"type", "message", ...}` (None when it did not end in error)."""
    if result.error_detail is not None:
        return dict(result.error_detail)
    if result.error is not None:  # a middleware's StopRun(StopReason.ERROR, message)
        return {"type": "StopRun", "message": result.error}
    return None


async def _run_trial(
    agent: Agent | AgentFactory,
    case: Case,
    repeat: int,
    scorers: list[Scorer],
    timeout_s: float | None,
    session_id: str,
    keep_session: bool,
) -> tuple[Trial, Result | None]:
    built: list[Agent] = []
    ran: list[Result] = []
    try:
        trial = await _trial(
            agent, case, repeat, scorers, timeout_s, session_id, built_by=built, ran=ran
        )
        return trial, (ran[0] if ran else None)
    finally:
        if built and not keep_session:
            with anyio.CancelScope(shield=True):
                await _forget(built[0], session_id)


async def _forget(agent: Agent, session_id: str) -> None:
    """Delete an eval run's session from the agent's store, with the sessions its sub-agents
    kept there (`<session>/...`); a store that refuses is logged, never fatal."""
    store = agent.checkpoint
    try:
        await store.delete(session_id)
        listing = getattr(store, "list", None)
        if listing is not None and any(t.forwards_decisions for t in agent.tools.values()):
            for info in await listing():
                if info.session_id.startswith(f"{session_id}/"):
                    await store.delete(info.session_id)
    except Exception as exc:  # cleanup must not fail the evaluation
        _log.warning("spine-eval could not delete session %r: %s", session_id, exc)


async def _trial(
    agent: Agent | AgentFactory,
    case: Case,
    repeat: int,
    scorers: list[Scorer],
    timeout_s: float | None,
    session_id: str,
    *,
    built_by: list[Agent],
    ran: list[Result],
) -> Trial:
    start = time.perf_counter()
    limit = anyio.fail_after(timeout_s) if timeout_s is not None else contextlib.nullcontext()
    try:
        with limit:
            built = await _make_agent(agent)
            built_by.append(built)
            result = await built.run(_input(case), session_id=session_id)
            ran.append(result)
    except TimeoutError:
        message = f"the run took longer than timeout_s={timeout_s}"
        return Trial(
            repeat=repeat,
            stopped_reason="timeout",
            error={"type": "TimeoutError", "message": message},
            latency_s=time.perf_counter() - start,
        )
    except Exception as exc:
        return Trial(
            repeat=repeat,
            stopped_reason="error",
            error=_describe(exc),
            latency_s=time.perf_counter() - start,
        )
    latency = time.perf_counter() - start
    scores = [await _score(scorer, case, result, latency) for scorer in scorers]
    error = _run_error(result)
    passed = error is None and (all(s.passed for s in scores) if scores else result.ok)
    return Trial(
        repeat=repeat,
        answer=result.answer or "",
        output=to_jsonable_python(result.output, fallback=repr),
        stopped_reason=result.stopped_reason.value,
        error=error,
        latency_s=latency,
        usage=result.usage.model_copy() if result.usage else Usage(),
        tool_calls=tool_calls(result),
        scores=scores,
        passed=passed,
    )


async def _notify(hook: TrialHook, case: Case, trial: Trial, result: Result | None) -> None:
    try:
        done = hook(case, trial, result)
        if inspect.isawaitable(done):
            await done
    except Exception as exc:  # a telemetry hook must not fail the evaluation
        _log.warning("spine-eval on_trial hook raised %s: %s", type(exc).__name__, exc)


def _input(case: Case) -> str | list[Message]:
    """The case's input for one run: messages are copied, since the run stores them in its
    session and middleware may edit them, which must not leak into the next repeat."""
    if isinstance(case.input, str):
        return case.input
    return [m.model_copy(deep=True) for m in case.input]


async def _score(scorer: Scorer, case: Case, result: Result, latency_s: float) -> Score:
    try:
        return await run_scorer(scorer, case, result, latency_s=latency_s)
    except Exception as exc:
        reason = f"scorer raised {type(exc).__name__}: {exc}"
        return Score(name=scorer.name, value=0.0, passed=False, detail=reason)
