"""A Spine agent delegating to another Spine agent over A2A (`A2AAgent.as_tool` against
`A2AServer`), with the remote's pauses passed up to the caller."""

from __future__ import annotations

import pytest
from a2a_agents import approval_agent, asking_agent
from a2a_helpers import serve

from spine_a2a import A2AAgent, A2AEventType, A2AServer
from spine_core import Agent, Message, Role, ScriptedProvider, StopReason, ToolCall


def delegate(tool: str, text: str) -> Message:
    return Message.assistant(
        tool_calls=[ToolCall(id="call_d", name=tool, arguments={"input": text})]
    )


@pytest.mark.anyio
async def test_remote_approval_passes_up_and_approving_runs_the_remote_tool() -> None:
    remote_agent = approval_agent()
    with serve(A2AServer(remote_agent)) as url:
        async with A2AAgent(url) as remote:
            assert remote.name == "janitor"
            provider = ScriptedProvider([delegate("janitor", "/tmp/old.log"), "All clean."])
            caller = Agent(provider=provider, tools=[remote.as_tool()], name="boss")
            paused = await caller.run("clean up /tmp/old.log")
            assert paused.stopped_reason is StopReason.INTERRUPT
            pause = paused.interrupt
            assert pause is not None and pause.kind == "approval"
            assert pause.question.startswith("Approve the call to 'delete_file'")
            assert pause.data["a2a"]["state"] == "input-required"
            assert paused.resume_token is not None
            done = await caller.resume(paused.resume_token, "approve")
            assert done.ok and done.answer == "All clean."
            tool_result = next(m for m in done.state.messages if m.role is Role.TOOL)
            assert tool_result.text == "Result: deleted /tmp/old.log"
            statuses = [
                e.data["state"] for e in done.trace if A2AEventType.of(e) is A2AEventType.STATUS
            ]
            assert statuses[-1] == "completed"
    remote_sessions = [s for s in await remote_agent.checkpoint.list() if s.agent == "janitor"]
    assert [s.status.value for s in remote_sessions] == ["done"]


@pytest.mark.anyio
async def test_remote_rejection_and_question_reach_the_remote_run() -> None:
    with serve(A2AServer(approval_agent())) as url, serve(A2AServer(asking_agent())) as ask_url:
        async with A2AAgent(url) as janitor, A2AAgent(ask_url, name="greeter") as greeter:
            provider = ScriptedProvider(
                [
                    delegate("janitor", "/etc/hosts"),
                    "Not deleted.",
                    delegate("greeter", "hi"),
                    "Greeted.",
                ]
            )
            caller = Agent(provider=provider, tools=[janitor.as_tool(), greeter.as_tool()])
            paused = await caller.run("delete /etc/hosts")
            assert paused.resume_token is not None
            rejected = await caller.resume(paused.resume_token, "reject", reason="system file")
            tool_result = [m for m in rejected.state.messages if m.role is Role.TOOL][-1]
            assert tool_result.text == "Result: The user rejected this tool call: system file"
            asked = await caller.run("say hi", session_id=rejected.session_id)
            assert asked.interrupt is not None and asked.interrupt.question == "What is your name?"
            assert asked.interrupt.kind == "input" and asked.interrupt.data["field"] == "name"
            assert asked.resume_token is not None
            greeted = await caller.resume(asked.resume_token, answer="Dee")
            assert greeted.answer == "Greeted."
            assert [m for m in greeted.state.messages if m.role is Role.TOOL][-1].text == (
                "Hello, Dee!"
            )


@pytest.mark.anyio
async def test_a_pause_two_delegations_deep_reaches_the_top_caller_and_back() -> None:
    with serve(A2AServer(asking_agent())) as url:
        async with A2AAgent(url) as greeter:
            # boss -> assistant (a local sub-agent) -> greeter (remote, over A2A)
            assistant = Agent(
                provider=ScriptedProvider([delegate("greeter", "greet the user"), "Greeted."]),
                tools=[greeter.as_tool()],
                name="assistant",
            )
            boss_model = ScriptedProvider([delegate("assistant", "handle it"), "Handled."])
            boss = Agent(provider=boss_model, tools=[assistant.as_tool()], name="boss")
            paused = await boss.run("please greet")
            assert paused.interrupt is not None
            assert paused.interrupt.question == "What is your name?"
            assert paused.interrupt.data["agent"] == "assistant"
            assert paused.resume_token is not None
            done = await boss.resume(paused.resume_token, answer="Hal")
            assert done.ok and done.answer == "Handled."
            child = await assistant.checkpoint.get(paused.interrupt.data["session_id"])
            assert child is not None
            assert [m.text for m in child.messages if m.role is Role.TOOL] == ["Hello, Hal!"]
