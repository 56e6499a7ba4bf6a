"""`evaluate`: fresh sessions, overlapping cases, crashes, timeouts, repeats and progress."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anyio
import pytest

from spine_core import (
    Agent,
    FunctionProvider,
    Message,
    Middleware,
    ScriptedProvider,
    StepContext,
    StopReason,
    StopRun,
    TestProvider,
    tool,
)
from spine_eval import Case, Contains, Dataset, EvalProgress, ExactMatch, Score, evaluate

pytestmark = pytest.mark.anyio


def cases(*ids: str) -> Dataset:
    return Dataset(name="d", cases=[Case(id=i, input=f"say {i}", expected=i) for i in ids])


def echo(messages: Sequence[Message], tools: Any, settings: Any) -> str:
    return messages[-1].text.removeprefix("say ")


async def test_every_case_runs_in_a_fresh_session(agent: Agent) -> None:
    sessions = []
    original = agent.run

    async def spy(input: Any, **kwargs: Any) -> Any:
        result = await original(input, **kwargs)
        sessions.append((result.session_id, len(result.state.messages)))
        return result

    agent.run = spy  # type: ignore[method-assign]
    report = await evaluate(agent, cases("a", "b", "c"), [Contains("weather")])
    assert len({s for s, _ in sessions}) == 3
    assert {n for _, n in sessions} == {sessions[0][1]}  # no history carried over
    assert report.pass_rate == 1.0
    assert [c.name for c in report.cases[0].trials[0].tool_calls] == ["weather", "clock"]


async def test_concurrency_overlaps_cases() -> None:
    log: list[str] = []
    both_started = anyio.Event()

    async def meet(messages: Sequence[Message], tools: Any, settings: Any) -> str:
        name = messages[-1].text
        log.append(f"start {name}")
        if sum(e.startswith("start") for e in log) == 2:
            both_started.set()
        with anyio.fail_after(5):  # without overlap the first case would wait forever
            await both_started.wait()
        log.append(f"end {name}")
        return "ok"

    agent = Agent(FunctionProvider(meet))
    report = await evaluate(agent, cases("a", "b"), concurrency=2)
    assert report.stats.error_rate == 0.0
    assert [e.split()[0] for e in log] == ["start", "start", "end", "end"]


async def test_concurrency_one_runs_cases_one_after_another() -> None:
    log: list[str] = []

    async def record(messages: Sequence[Message], tools: Any, settings: Any) -> str:
        log.append(f"start {messages[-1].text}")
        await anyio.lowlevel.checkpoint()
        log.append(f"end {messages[-1].text}")
        return "ok"

    await evaluate(Agent(FunctionProvider(record)), cases("a", "b", "c"), concurrency=1)
    assert log == [
        "start say a",
        "end say a",
        "start say b",
        "end say b",
        "start say c",
        "end say c",
    ]


async def test_a_crashing_case_is_recorded_and_the_run_goes_on() -> None:
    def factory() -> Agent:
        return Agent(FunctionProvider(echo))

    calls = 0

    def flaky_factory() -> Agent:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("boom while building the agent")
        return factory()

    report = await evaluate(flaky_factory, cases("a", "b", "c"), [ExactMatch()])
    crashed = report.case("b").trials[0]
    assert crashed.error == {"type": "RuntimeError", "message": "boom while building the agent"}
    assert not crashed.passed and crashed.stopped_reason == "error"
    assert report.case("a").passed and report.case("c").passed
    assert report.stats.error_rate == pytest.approx(1 / 3)
    assert report.stats.stop_reasons == {"final": 2, "error": 1}


async def test_a_provider_error_is_the_cases_error() -> None:
    agent = Agent(ScriptedProvider([RuntimeError("model down")]))
    report = await evaluate(agent, cases("a"))
    trial = report.case("a").trials[0]
    assert trial.error is not None and "model down" in str(trial.error)
    assert not trial.passed


async def test_a_crashing_scorer_fails_only_its_score() -> None:
    class Broken:
        name = "broken"

        async def score(self, case: Case, result: Any, *, latency_s: float) -> Score:
            raise KeyError("nope")

    report = await evaluate(Agent(FunctionProvider(echo)), cases("a"), [Broken(), ExactMatch()])
    scores = {s.scorer: s for s in report.case("a").trials[0].scores}
    assert not scores["broken"].passed and "KeyError" in scores["broken"].reason
    assert scores["exact_match"].passed


async def test_timeout_cancels_a_slow_run() -> None:
    async def hang(messages: Sequence[Message], tools: Any, settings: Any) -> str:
        if "slow" in messages[-1].text:
            await anyio.Event().wait()
        return "fast"

    report = await evaluate(Agent(FunctionProvider(hang)), cases("slow", "fast"), timeout_s=0.2)
    slow = report.case("slow").trials[0]
    assert slow.stopped_reason == "timeout" and slow.error is not None
    assert report.case("fast").trials[0].error is None


async def test_repeats_give_pass_at_k_and_pass_hat_k() -> None:
    answers = iter(["a", "x", "a", "a"])

    def flaky(messages: Sequence[Message], tools: Any, settings: Any) -> str:
        return next(answers)

    report = await evaluate(Agent(FunctionProvider(flaky)), cases("a"), [ExactMatch()], repeats=4)
    case = report.case("a")
    assert [t.repeat for t in case.trials] == [0, 1, 2, 3]
    assert case.passes == 3 and not case.passed
    assert case.pass_at_k[1] == pytest.approx(0.75)
    assert case.pass_at_k[2] == pytest.approx(1.0)  # 1 - C(1,2)/C(4,2)
    assert case.pass_hat_k[2] == pytest.approx(3 / 6)  # C(3,2)/C(4,2)
    assert case.pass_hat_k[4] == 0.0
    assert report.stats.pass_hat_k[2] == pytest.approx(0.5)


async def test_case_and_dataset_scorers_apply_on_top_of_the_given_ones() -> None:
    data = Dataset(
        name="d",
        scorers=[{"contains": {"values": "a"}}],  # type: ignore[list-item]
        cases=[
            Case(id="a", input="say a", scorers=[{"regex": {"pattern": "^a$"}}]),  # type: ignore[list-item]
            Case(id="b", input="say b"),
        ],
    )
    report = await evaluate(Agent(FunctionProvider(echo)), data, [ExactMatch("a")])
    assert [s.scorer for s in report.case("a").trials[0].scores] == [
        "exact_match",
        "contains",
        "regex",
    ]
    assert [s.scorer for s in report.case("b").trials[0].scores] == ["exact_match", "contains"]
    assert report.case("a").passed and not report.case("b").passed


async def test_progress_reports_each_finished_run() -> None:
    seen: list[EvalProgress] = []
    await evaluate(
        Agent(FunctionProvider(echo)),
        cases("a", "b"),
        [ExactMatch("a")],
        repeats=2,
        progress=seen.append,
    )
    assert [p.done for p in seen] == [1, 2, 3, 4]
    assert all(p.total == 4 for p in seen)
    assert seen[-1].passed == 2 and seen[-1].pass_rate == 0.5


async def test_without_scorers_a_case_passes_on_a_final_answer() -> None:
    report = await evaluate(Agent(FunctionProvider(echo)), cases("a"))
    assert report.case("a").passed


async def test_invalid_settings_raise() -> None:
    with pytest.raises(ValueError):
        await evaluate(Agent(FunctionProvider(echo)), cases("a"), concurrency=0)


async def test_a_paused_run_has_no_answer_and_does_not_pass() -> None:
    @tool(approve=True)
    def deploy() -> str:
        """Deploy."""
        return "deployed"

    report = await evaluate(Agent(TestProvider(), tools=[deploy]), cases("a"), [Contains("x")])
    trial = report.case("a").trials[0]
    assert trial.stopped_reason == "interrupt" and trial.answer == ""
    assert trial.error is None and not trial.passed
    assert trial.scores[0].reason == "missing ['x']"


async def test_an_error_stop_from_middleware_is_the_trials_error() -> None:
    class Halt(Middleware):
        async def before_model(self, ctx: StepContext[Any]) -> None:
            raise StopRun(StopReason.ERROR, "budget service unreachable")

    report = await evaluate(Agent(FunctionProvider(echo), middleware=[Halt()]), cases("a"))
    trial = report.case("a").trials[0]
    assert trial.stopped_reason == "error" and not trial.passed
    assert trial.error == {"type": "StopRun", "message": "budget service unreachable"}


async def test_message_inputs_are_copied_for_each_repeat() -> None:
    class Redact(Middleware):
        async def before_model(self, ctx: StepContext[Any]) -> None:
            for message in ctx.messages:
                message.content = "redacted"

    data = Dataset(cases=[Case(id="m", input=[Message.user("say m")])])
    report = await evaluate(Agent(FunctionProvider(echo), middleware=[Redact()]), data, repeats=2)
    assert data.cases[0].input[0].text == "say m"  # type: ignore[union-attr]
    assert [t.answer for t in report.case("m").trials] == ["redacted", "redacted"]
