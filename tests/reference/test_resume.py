"""`Agent.resume`: decisions on an approval pause, a tool's own Interrupt, errors, stale
tokens, concurrent resumers, and the approved call going through the tool middleware."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from spine_core import (
    Agent,
    InMemoryCheckpointStore,
    Interrupt,
    Middleware,
    ResumeError,
    RunStatus,
    SpineError,
    State,
    StopReason,
    ToolCall,
    ToolContext,
    tool,
)

from .refkit import RefProvider, ask, ask_many, tool_results

pytestmark = pytest.mark.anyio

executed: list[str] = []


@pytest.fixture(autouse=True)
def _reset() -> None:
    executed.clear()


@tool(approve=True)
async def transfer(amount: int) -> str:
    """Move money."""
    executed.append(f"transfer {amount}")
    return f"sent {amount}"


@tool
async def balance() -> str:
    """Read the balance."""
    executed.append("balance")
    return "100"


@tool
async def ask_colour() -> str:
    """Ask the user for a colour."""
    raise Interrupt("Which colour?")


TOOLS = [transfer, balance, ask_colour]


async def paused_agent(*replies: Any, store: InMemoryCheckpointStore | None = None):
    """An agent whose first model reply asks for `transfer(amount=5)`; returns (agent,
    provider, paused result)."""
    provider = RefProvider([ask("transfer", "t1", amount=5), *replies])
    agent = Agent(provider, tools=TOOLS, checkpoint=store or InMemoryCheckpointStore())
    paused = await agent.run("send 5")
    assert paused.interrupted
    return agent, provider, paused


async def test_approval_pause_result() -> None:
    _, provider, paused = await paused_agent()

    assert paused.stopped_reason is StopReason.INTERRUPT
    assert paused.interrupted and not paused.ok
    assert paused.answer is None
    assert paused.resume_token
    assert paused.interrupt is not None
    assert paused.state.status is RunStatus.INTERRUPTED
    assert paused.state.pending is not None
    assert executed == []
    assert len(provider.calls) == 1


async def test_approval_pause_interrupt_is_the_reference_payload() -> None:
    _, _, paused = await paused_agent()
    assert paused.interrupt["tool"] == "transfer"
    assert paused.interrupt["arguments"] == {"amount": 5}


async def test_resume_by_session_id_with_the_default_decision_approves() -> None:
    agent, provider, paused = await paused_agent("transferred")

    result = await agent.resume(paused.state.session_id)

    assert result.answer == "transferred"
    assert result.ok
    assert executed == ["transfer 5"]
    assert tool_results(provider.prompts[1]) == [("transfer", "sent 5")]
    assert agent.last_result is result


async def test_resume_with_the_result_token() -> None:
    agent, _, paused = await paused_agent("transferred")
    assert paused.resume_token is not None

    result = await agent.resume(paused.resume_token, "approve")

    assert result.answer == "transferred"
    assert executed == ["transfer 5"]


@pytest.mark.parametrize("decision", [True, "approve", "approved", "yes"])
async def test_explicit_approvals_run_the_gated_tool(decision: Any) -> None:
    agent, _, paused = await paused_agent("done")

    result = await agent.resume(paused.state.session_id, decision)

    assert result.ok
    assert executed == ["transfer 5"]
    assert tool_results(result.state.messages) == [("transfer", "sent 5")]


@pytest.mark.parametrize("decision", [False, "no", "reject", "not today", None, 0, "approve?"])
async def test_anything_else_rejects_and_is_shown_to_the_model(decision: Any) -> None:
    agent, provider, paused = await paused_agent("ok, I did not send it")

    result = await agent.resume(paused.state.session_id, decision)

    assert executed == []  # the gated tool never ran
    assert result.answer == "ok, I did not send it"
    [(name, text)] = tool_results(provider.prompts[1])
    assert name == "transfer"
    assert text is not None and str(decision) in text
    assert "reject" in text.lower()


async def test_reject_with_a_reason() -> None:
    agent, provider, paused = await paused_agent("understood")

    await agent.resume(paused.state.session_id, "reject", reason="amount too high")

    assert executed == []
    [(_, text)] = tool_results(provider.prompts[1])
    assert text is not None and "amount too high" in text


async def test_answer_on_an_approval_pause_raises_and_keeps_the_pause() -> None:
    agent, _, paused = await paused_agent("done")

    with pytest.raises(ResumeError):
        await agent.resume(paused.state.session_id, answer="whatever")

    assert executed == []
    result = await agent.resume(paused.state.session_id, "approve")
    assert result.ok and executed == ["transfer 5"]


async def test_a_tools_interrupt_decision_becomes_the_tool_result() -> None:
    provider = RefProvider([ask("ask_colour", "q1"), "blue it is"])
    agent = Agent(provider, tools=TOOLS)
    paused = await agent.run("pick a colour")
    assert paused.interrupted

    result = await agent.resume(paused.state.session_id, "blue")

    assert result.answer == "blue it is"
    assert tool_results(provider.prompts[1]) == [("ask_colour", "blue")]


async def test_a_tools_interrupt_answer_keyword() -> None:
    provider = RefProvider([ask("ask_colour", "q1"), "red it is"])
    agent = Agent(provider, tools=TOOLS)
    paused = await agent.run("pick a colour")

    await agent.resume(paused.state.session_id, answer="red")

    assert tool_results(provider.prompts[1]) == [("ask_colour", "red")]


async def test_tool_interrupt_result_interrupt_is_the_reference_payload() -> None:
    agent = Agent(RefProvider([ask("ask_colour", "q1")]), tools=TOOLS)
    paused = await agent.run("pick a colour")
    assert paused.interrupt["question"] == "Which colour?"


async def test_resume_of_an_unknown_session_raises() -> None:
    agent = Agent(RefProvider([]), tools=TOOLS)
    with pytest.raises(ResumeError):
        await agent.resume("no-such-session")
    with pytest.raises(ResumeError):
        await agent.resume("no-such-session:abc")


async def test_resume_of_a_finished_session_raises() -> None:
    agent = Agent(RefProvider(["hi"]))
    done = await agent.run("hello")

    with pytest.raises(ResumeError):
        await agent.resume(done.state.session_id)


async def test_resume_error_is_a_spine_error_and_a_value_error() -> None:
    assert issubclass(ResumeError, SpineError)
    assert issubclass(ResumeError, ValueError)


async def test_resuming_twice_raises_the_second_time() -> None:
    agent, _, paused = await paused_agent("done")
    await agent.resume(paused.state.session_id)

    with pytest.raises(ResumeError):
        await agent.resume(paused.state.session_id)
    assert executed == ["transfer 5"]


async def test_a_stale_session_interrupt_token_raises() -> None:
    provider = RefProvider(
        [ask("transfer", "t1", amount=1), ask("transfer", "t2", amount=2), "both sent"]
    )
    agent = Agent(provider, tools=TOOLS)
    first = await agent.run("send 1 then 2")
    second = await agent.resume(first.resume_token or "")
    assert second.interrupted and second.resume_token != first.resume_token

    with pytest.raises(ResumeError):
        await agent.resume(first.resume_token or "")  # that pause was already resolved

    assert executed == ["transfer 1"]
    final = await agent.resume(second.resume_token or "")
    assert final.answer == "both sent"
    assert executed == ["transfer 1", "transfer 2"]


async def test_a_fresh_agent_sharing_the_store_resumes_the_pause() -> None:
    store = InMemoryCheckpointStore()
    _, _, paused = await paused_agent(store=store)

    fresh = Agent(RefProvider(["resumed elsewhere"]), tools=TOOLS, checkpoint=store)
    result = await fresh.resume(paused.state.session_id, "approve")

    assert result.answer == "resumed elsewhere"
    assert executed == ["transfer 5"]


async def test_calls_after_the_gated_one_run_after_the_decision() -> None:
    calls = [
        ToolCall(id="t1", name="transfer", arguments={"amount": 7}),
        ToolCall(id="b1", name="balance"),
    ]
    provider = RefProvider([ask_many(*calls), "done"])
    agent = Agent(provider, tools=TOOLS)
    paused = await agent.run("send 7 and check")
    assert paused.interrupted and executed == []

    result = await agent.resume(paused.state.session_id, "approve")

    assert result.answer == "done"
    assert executed == ["transfer 7", "balance"]
    assert tool_results(provider.prompts[1]) == [("transfer", "sent 7"), ("balance", "100")]


async def test_resume_runs_the_run_hooks() -> None:
    seen: list[str] = []

    class Hooks(Middleware):
        async def on_run_start(self, state: State) -> None:
            seen.append("start")

        async def on_run_end(self, state: State, result: Any) -> None:
            seen.append(f"end:{result.stopped_reason.value}")

    agent, _, paused = await paused_agent("done")
    agent.chain.add(Hooks())
    await agent.resume(paused.state.session_id)

    assert seen == ["start", "end:final"]


# -- DESIGN §6: the approved call goes through the tool middleware ---------------------------


async def test_an_approved_tool_goes_through_the_tool_middleware() -> None:
    log: list[str] = []

    class Audit(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            log.append(f"before:{ctx.call.name}:{ctx.args}")

        async def after_tool(self, ctx: ToolContext) -> None:
            log.append(f"after:{ctx.call.name}:{ctx.result}")
            ctx.result = f"{ctx.result} (audited)"

    agent, provider, paused = await paused_agent("done")
    agent.chain.add(Audit())

    await agent.resume(paused.state.session_id, "approve")

    assert log == ["before:transfer:{'amount': 5}", "after:transfer:sent 5"]
    assert tool_results(provider.prompts[1]) == [("transfer", "sent 5 (audited)")]


async def test_an_approved_tool_can_be_answered_by_before_tool_skip() -> None:
    class Replay(Middleware):
        async def before_tool(self, ctx: ToolContext) -> None:
            ctx.result, ctx.skip = "replayed", True

    agent, provider, paused = await paused_agent("done")
    agent.chain.add(Replay())

    await agent.resume(paused.state.session_id, "approve")

    assert executed == []
    assert tool_results(provider.prompts[1]) == [("transfer", "replayed")]


# -- DESIGN §6: two resumers of one pause ----------------------------------------------------


class BarrierStore(InMemoryCheckpointStore):
    """Holds every read of an interrupted session until `parties` readers have it, so
    concurrent resumers all load the pause before any of them writes."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.parties = parties
        self.armed = False
        self.readers = 0
        self.gate = anyio.Event()

    async def get(self, session_id: str) -> State | None:
        state = await super().get(session_id)
        if self.armed and state is not None and state.status is RunStatus.INTERRUPTED:
            self.readers += 1
            if self.readers >= self.parties:
                self.gate.set()
            await self.gate.wait()
        return state


async def test_two_resumers_of_one_pause_run_the_tool_once() -> None:
    store = BarrierStore(parties=2)
    _, _, paused = await paused_agent(store=store)
    workers = [
        Agent(RefProvider([f"done by {i}"]), tools=TOOLS, checkpoint=store) for i in range(2)
    ]
    outcomes: list[Any] = []

    async def resume(worker: Agent) -> None:
        try:
            outcomes.append(await worker.resume(paused.state.session_id, "approve"))
        except ResumeError as exc:
            outcomes.append(exc)

    store.armed = True
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for worker in workers:
                tg.start_soon(resume, worker)

    assert store.readers == 2  # both loaded the pause before either claimed it
    assert executed == ["transfer 5"]
    assert sorted(type(o).__name__ for o in outcomes) == ["Result", "ResumeError"]
    [won] = [o for o in outcomes if not isinstance(o, Exception)]
    assert won.ok


# -- resume with deps ------------------------------------------------------------------------


async def test_resume_passes_deps_to_the_approved_tool() -> None:
    seen: list[Any] = []

    @tool(approve=True)
    async def charge(amount: int, ctx: ToolContext) -> str:
        """Charge the user."""
        seen.append(ctx.deps)
        return "charged"

    agent = Agent(RefProvider([ask("charge", amount=1), "ok"]), tools=[charge])
    paused = await agent.run("charge 1", deps={"user": "ada"})

    await agent.resume(paused.state.session_id, "approve", deps={"user": "ada"})

    assert seen == [{"user": "ada"}]
