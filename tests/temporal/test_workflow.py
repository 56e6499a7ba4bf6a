"""Spine runs as Temporal workflows on the time-skipping test server: approvals and
interrupts as signals / updates, tool calls as activities, retries mapped from Spine's
provider error kinds, and replay of recorded histories."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from pydantic import BaseModel
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from spine_core import (
    Agent,
    Guards,
    InMemoryCheckpointStore,
    Interrupt,
    Message,
    ProviderError,
    ProviderErrorKind,
    RunStatus,
    ScriptedProvider,
    StopReason,
    ToolCall,
    ToolContext,
    tool,
)
from spine_temporal import ActivityOptions, SpineAgentWorkflow, TemporalAgent
from spine_temporal.worker import SANDBOX

from .fakes import FlakyProvider

FAST = ActivityOptions(retry_initial_s=0.05, retry_max_s=0.1, heartbeat_timeout_s=5)


def _queue() -> str:
    return f"spine-test-{uuid.uuid4().hex[:8]}"


def _asks(name: str, id: str, **arguments: Any) -> Message:
    return Message.assistant("", tool_calls=[ToolCall(id=id, name=name, arguments=arguments)])


def _tool_texts(messages: list[Message]) -> list[tuple[str | None, str, bool]]:
    return [(m.name, m.text, m.is_error) for m in messages if m.role == "tool"]


class Refunds:
    """A refund tool gated behind approval that counts the refunds it made."""

    def __init__(self) -> None:
        self.made: list[int] = []

        @tool(approve=True)
        async def refund(order: int) -> str:
            """Refund an order.

            Args:
                order: The order number.
            """
            self.made.append(order)
            return f"refunded {order}"

        self.tool = refund


@pytest.mark.anyio
async def test_one_hour_approval_wait_finishes_instantly(time_env: WorkflowEnvironment) -> None:
    refunds = Refunds()
    provider = ScriptedProvider([_asks("refund", "c1", order=42), "Refund done."])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[refunds.tool], name="refunder"),
        task_queue=_queue(),
        activities=FAST,
    )
    started = time.monotonic()
    async with agent.worker(time_env.client):
        handle = await agent.start(time_env.client, "Refund order 42", session_id="s-hour")
        view = await handle.wait()
        assert view.phase == "waiting"
        assert view.pending is not None and view.pending.kind == "approval"
        assert view.pending.tool_call.arguments == {"order": 42}
        assert refunds.made == []  # nothing runs before the human decides
        await time_env.sleep(3600)  # the human answers an hour later
        await handle.decide("approve", interrupt_id=view.pending.id)
        result = await handle.result()
        status = await handle.status()
    assert time.monotonic() - started < 30  # wall clock: the hour was skipped
    assert status.waited_s >= 3600
    assert result.stopped_reason is StopReason.FINAL
    assert result.answer == "Refund done."
    assert refunds.made == [42]
    assert _tool_texts(result.state.messages) == [("refund", "refunded 42", False)]


@pytest.mark.anyio
async def test_unanswered_pause_ends_interrupted_and_a_later_run_continues_it(
    time_env: WorkflowEnvironment,
) -> None:
    refunds = Refunds()
    store = InMemoryCheckpointStore()
    provider = ScriptedProvider([_asks("refund", "c1", order=7), "Not refunded."])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[refunds.tool], name="refunder", checkpoint=store),
        task_queue=_queue(),
        activities=FAST,
    )
    async with agent.worker(time_env.client):
        first = await agent.run(
            time_env.client, "Refund order 7", session_id="s-late", approval_timeout_s=3600
        )
        assert first.stopped_reason is StopReason.INTERRUPT
        assert first.interrupt is not None and first.interrupt.kind == "approval"
        assert first.resume_token == f"s-late:{first.interrupt.id}"
        saved = await store.get("s-late")  # the pause is in the agent's own checkpoint store
        assert saved is not None and saved.status is RunStatus.INTERRUPTED
        assert saved.pending is not None and saved.pending.id == first.interrupt.id

        handle = await agent.start(time_env.client, None, session_id="s-late")
        view = await handle.wait()
        assert view.pending is not None and view.pending.tool_call.id == "c1"
        await handle.decide("reject", reason="the order was already refunded")
        result = await handle.result()
    assert result.stopped_reason is StopReason.FINAL
    assert refunds.made == []
    ((_, text, is_error),) = _tool_texts(result.state.messages)
    assert is_error and "already refunded" in text
    stored = await store.get("s-late")
    assert stored is not None and stored.status is RunStatus.DONE
    assert len(stored.messages) == len(result.state.messages)
    assert stored.revision == result.state.revision


@pytest.mark.anyio
async def test_decisions_that_do_not_fit_the_pause_are_refused(
    time_env: WorkflowEnvironment,
) -> None:
    refunds = Refunds()
    provider = ScriptedProvider([_asks("refund", "c1", order=1), "ok"])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[refunds.tool], name="refunder"),
        task_queue=_queue(),
        activities=FAST,
    )
    async with agent.worker(time_env.client):
        handle = await agent.start(time_env.client, "Refund 1", session_id="s-refuse")
        view = await handle.wait()
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.decide("approve", interrupt_id="not-the-pending-one")
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.decide(answer="yes")  # an approval takes a decision, not an answer
        assert (await handle.status()).phase == "waiting"
        assert refunds.made == []
        assert view.pending is not None
        await handle.decide(True, interrupt_id=view.pending.id)
        result = await handle.result()
    assert result.ok and refunds.made == [1]


@pytest.mark.anyio
async def test_tool_interrupt_is_answered_by_signal(time_env: WorkflowEnvironment) -> None:
    @tool
    async def pick_size(item: str) -> str:
        """Ask the customer for a size.

        Args:
            item: The item.
        """
        raise Interrupt(f"Which size of {item}?", data={"sizes": ["S", "M", "L"]})

    provider = ScriptedProvider([_asks("pick_size", "c1", item="shirt"), "Ordered."])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[pick_size], name="shop"),
        task_queue=_queue(),
        activities=FAST,
    )
    async with agent.worker(time_env.client):
        handle = await agent.start(time_env.client, "Buy a shirt", session_id="s-size")
        view = await handle.wait()
        assert view.pending is not None and view.pending.kind == "input"
        assert view.pending.question == "Which size of shirt?"
        assert view.pending.data == {"sizes": ["S", "M", "L"]}
        await handle.decide(answer="L", wait=False)  # a signal: no worker needs to be up
        result = await handle.result()
    assert result.ok
    assert _tool_texts(result.state.messages) == [("pick_size", "L", False)]


class Deps:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, int]] = []


@pytest.mark.anyio
async def test_tool_calling_run_completes_with_worker_deps(time_env: WorkflowEnvironment) -> None:
    @tool
    async def add(a: int, b: int, ctx: ToolContext[Deps]) -> int:
        """Add two numbers.

        Args:
            a: First.
            b: Second.
        """
        ctx.deps.seen.append((ctx.session_id, ctx.tenant_id, a + b))
        return a + b

    @tool
    def shout(text: str) -> str:
        """Upper-case text (a sync tool: it runs in a thread on the worker).

        Args:
            text: The text.
        """
        return text.upper()

    provider = ScriptedProvider(
        [
            _asks("add", "c1", a=2, b=3),
            _asks("shout", "c2", text="five"),
            _asks("add", "c3", a="not a number", b=1),  # invalid: the model is told
            "The sum is 5.",
        ]
    )
    deps = Deps()
    agent = TemporalAgent(
        Agent(provider=provider, tools=[add, shout], name="calc", tenant_id="acme"),
        task_queue=_queue(),
        activities=FAST,
    )
    async with agent.worker(time_env.client, deps=deps):
        result = await agent.run(time_env.client, "What is 2 + 3?", session_id="s-tools")
    assert result.stopped_reason is StopReason.FINAL
    assert result.answer == "The sum is 5."
    texts = _tool_texts(result.state.messages)
    assert texts[:2] == [("add", "5", False), ("shout", "FIVE", False)]
    name, text, is_error = texts[2]
    assert name == "add" and is_error and text.startswith("Invalid arguments for tool 'add'")
    assert deps.seen == [("s-tools", "acme", 5)]
    assert result.state.step == 4
    assert [c.messages[-1].role for c in provider.calls] == ["user", "tool", "tool", "tool"]


@pytest.mark.anyio
async def test_tool_errors_reach_the_model_and_only_transient_ones_are_retried(
    time_env: WorkflowEnvironment,
) -> None:
    calls = {"broken": 0, "flaky": 0}

    @tool
    async def broken() -> str:
        """Always fails with a bug."""
        calls["broken"] += 1
        raise ValueError("bad input")

    @tool
    async def flaky() -> str:
        """Fails with a connection error twice, then works."""
        calls["flaky"] += 1
        if calls["flaky"] <= 2:
            raise ConnectionError("connection reset")
        return "fetched"

    provider = ScriptedProvider([_asks("broken", "c1"), _asks("flaky", "c2"), "done"])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[broken, flaky], name="errs"),
        task_queue=_queue(),
        activities=FAST,
    )
    async with agent.worker(time_env.client):
        result = await agent.run(time_env.client, "go", session_id="s-errs")
    assert result.ok
    assert calls == {"broken": 1, "flaky": 3}
    assert _tool_texts(result.state.messages) == [
        ("broken", "Tool 'broken' failed: ValueError: bad input", True),
        ("flaky", "fetched", False),
    ]


@pytest.mark.anyio
async def test_bad_request_provider_error_is_not_retried(time_env: WorkflowEnvironment) -> None:
    provider = FlakyProvider(
        [ProviderError("max_tokens is too large", kind=ProviderErrorKind.BAD_REQUEST, status=400)]
    )
    agent = TemporalAgent(
        Agent(provider=provider, name="strict"), task_queue=_queue(), activities=FAST
    )
    async with agent.worker(time_env.client):
        result = await agent.run(time_env.client, "hi", session_id="s-400")
    assert provider.calls == 1
    assert result.stopped_reason is StopReason.ERROR
    assert result.error_detail is not None
    assert result.error_detail["kind"] == "bad_request"
    assert result.error_detail["status"] == 400
    assert result.error_detail["provider"] == "flaky"


@pytest.mark.anyio
async def test_auth_provider_error_is_not_retried(time_env: WorkflowEnvironment) -> None:
    provider = FlakyProvider([ProviderError("invalid x-api-key", kind="auth", status=401)])
    agent = TemporalAgent(
        Agent(provider=provider, name="auth"), task_queue=_queue(), activities=FAST
    )
    async with agent.worker(time_env.client):
        result = await agent.run(time_env.client, "hi", session_id="s-401")
    assert provider.calls == 1
    assert result.error_detail is not None and result.error_detail["kind"] == "auth"


@pytest.mark.anyio
async def test_connection_error_is_retried_until_the_call_succeeds(
    time_env: WorkflowEnvironment,
) -> None:
    provider = FlakyProvider(
        [
            ProviderError("connection reset by peer", kind=ProviderErrorKind.CONNECTION),
            ProviderError("slow down", kind=ProviderErrorKind.RATE_LIMIT, retry_after_s=30),
        ]
    )
    agent = TemporalAgent(
        Agent(provider=provider, name="retry"), task_queue=_queue(), activities=FAST
    )
    async with agent.worker(time_env.client):
        result = await agent.run(time_env.client, "hi", session_id="s-conn")
    assert provider.calls == 3
    assert result.stopped_reason is StopReason.FINAL
    assert result.answer == "recovered"


@pytest.mark.anyio
async def test_retryable_errors_stop_after_the_configured_attempts(
    time_env: WorkflowEnvironment,
) -> None:
    errors = [ProviderError("upstream 503", kind="server", status=503) for _ in range(5)]
    provider = FlakyProvider(errors)
    options = ActivityOptions(model_attempts=3, retry_initial_s=0.05, retry_max_s=0.1)
    agent = TemporalAgent(
        Agent(provider=provider, name="down"), task_queue=_queue(), activities=options
    )
    async with agent.worker(time_env.client):
        result = await agent.run(time_env.client, "hi", session_id="s-503")
    assert provider.calls == 3
    assert result.stopped_reason is StopReason.ERROR
    assert result.error_detail is not None and result.error_detail["kind"] == "server"


class Verdict(BaseModel):
    approved: bool
    score: int


@pytest.mark.anyio
async def test_typed_output_and_guards_run_in_the_workflow(time_env: WorkflowEnvironment) -> None:
    provider = ScriptedProvider(['{"approved": true}', '{"approved": true, "score": 9}'])
    agent = TemporalAgent(
        Agent(provider=provider, name="judge", output_type=Verdict),
        task_queue=_queue(),
        activities=FAST,
    )
    looping = ScriptedProvider([_asks("noop", f"c{i}") for i in range(5)])

    @tool
    async def noop() -> str:
        """Do nothing."""
        return "ok"

    capped = TemporalAgent(
        Agent(provider=looping, tools=[noop], name="capped", guards=Guards(max_steps=2)),
        task_queue=agent.task_queue,
        activities=FAST,
    )
    from spine_temporal import create_worker

    async with create_worker(time_env.client, [agent, capped]):
        result = await agent.run(time_env.client, "judge it", session_id="s-typed")
        stopped = await capped.run(time_env.client, "loop", session_id="s-capped")
    assert result.output == Verdict(approved=True, score=9)  # after one repair request
    assert len(provider.calls) == 2
    assert stopped.stopped_reason is StopReason.MAX_STEPS
    assert len(looping.calls) == 2


@pytest.mark.anyio
async def test_recorded_histories_replay_deterministically(time_env: WorkflowEnvironment) -> None:
    refunds = Refunds()

    @tool
    async def lookup(order: int) -> str:
        """Look an order up.

        Args:
            order: The order number.
        """
        return f"order {order}: paid"

    provider = ScriptedProvider(
        [_asks("lookup", "c1", order=5), _asks("refund", "c2", order=5), "Refunded order 5."]
    )
    agent = TemporalAgent(
        Agent(provider=provider, tools=[lookup, refunds.tool], name="replayed"),
        task_queue=_queue(),
        activities=FAST,
    )
    # No workflow cache: every workflow task replays the history from the start.
    async with agent.worker(time_env.client, max_cached_workflows=0):
        handle = await agent.start(time_env.client, "Refund 5", session_id="s-replay")
        await handle.wait()
        await handle.decide("approve")
        result = await handle.result()
    assert result.ok and refunds.made == [5]
    history = await handle.workflow.fetch_history()
    replayer = Replayer(
        workflows=[SpineAgentWorkflow],
        data_converter=time_env.client.data_converter,
        workflow_runner=SandboxedWorkflowRunner(restrictions=SANDBOX),
    )
    replayed = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None
    assert refunds.made == [5]  # replaying ran no tool
    assert len(provider.calls) == 3  # nor the provider


@pytest.mark.anyio
async def test_cancelling_a_paused_run_ends_its_workflow(time_env: WorkflowEnvironment) -> None:
    refunds = Refunds()
    provider = ScriptedProvider([_asks("refund", "c1", order=3), "unreachable"])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[refunds.tool], name="refunder"),
        task_queue=_queue(),
        activities=FAST,
    )
    async with agent.worker(time_env.client):
        handle = await agent.start(time_env.client, "Refund 3", session_id="s-cancel")
        await handle.wait()
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
    assert isinstance(failure.value.cause, CancelledError)
    assert refunds.made == []


@pytest.mark.anyio
async def test_parallel_tool_batch_runs_as_concurrent_activities(
    time_env: WorkflowEnvironment,
) -> None:
    @tool
    async def weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: The city.
        """
        return f"sunny in {city}"

    batch = Message.assistant(
        "",
        tool_calls=[
            ToolCall(id="c1", name="weather", arguments={"city": "Oslo"}),
            ToolCall(id="c2", name="weather", arguments={"city": "Lima"}),
        ],
    )
    provider = ScriptedProvider([batch, "Both sunny."])
    agent = TemporalAgent(
        Agent(provider=provider, tools=[weather], name="parallel", parallel_tools=True),
        task_queue=_queue(),
        activities=FAST,
    )
    async with agent.worker(time_env.client):
        result = await agent.run(time_env.client, "Weather?", session_id="s-par")
    assert result.ok
    assert _tool_texts(result.state.messages) == [
        ("weather", "sunny in Oslo", False),
        ("weather", "sunny in Lima", False),
    ]


@pytest.mark.anyio
async def test_next_turn_of_a_session_continues_its_stored_history(
    time_env: WorkflowEnvironment,
) -> None:
    provider = ScriptedProvider(["Hello, Ada.", "Your name is Ada."])
    agent = TemporalAgent(
        Agent(provider=provider, name="chat", system="Be brief."),
        task_queue=_queue(),
        activities=FAST,
    )
    async with agent.worker(time_env.client):
        first = await agent.run(time_env.client, "I am Ada.", session_id="s-chat")
        second = await agent.run(time_env.client, "What is my name?", session_id="s-chat")
    assert first.ok and second.answer == "Your name is Ada."
    sent = [(m.role, m.text) for m in provider.calls[1].messages]
    assert sent == [
        ("system", "Be brief."),
        ("user", "I am Ada."),
        ("assistant", "Hello, Ada."),
        ("user", "What is my name?"),
    ]
    assert second.state.revision > first.state.revision


@pytest.mark.anyio
async def test_sub_agent_approval_passes_up_and_the_decision_comes_down(
    time_env: WorkflowEnvironment,
) -> None:
    refunds = Refunds()
    clerk = Agent(
        provider=ScriptedProvider([_asks("refund", "k1", order=12), "Clerk: refunded 12."]),
        tools=[refunds.tool],
        name="clerk",
    )
    boss = ScriptedProvider([_asks("clerk", "b1", input="refund order 12"), "All done."])
    agent = TemporalAgent(
        Agent(provider=boss, tools=[clerk.as_tool(name="clerk")], name="boss"),
        task_queue=_queue(),
        activities=FAST,
    )
    async with agent.worker(time_env.client):
        handle = await agent.start(time_env.client, "Refund 12", session_id="s-boss")
        view = await handle.wait()
        assert view.pending is not None and view.pending.kind == "approval"
        assert view.pending.data["agent"] == "clerk"
        assert refunds.made == []
        await handle.decide("approve")
        result = await handle.result()
    assert result.ok and result.answer == "All done."
    assert refunds.made == [12]
    assert _tool_texts(result.state.messages) == [("clerk", "Clerk: refunded 12.", False)]
