"""The AG-UI endpoint: every emitted event validates against the `ag-ui-protocol` models, and
a tool-calling run, an approval, its resume, a rejection, a question and an error each give
the expected event sequence. Threads are Spine sessions."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from spine_core import (
    Agent,
    ChunkType,
    Message,
    ModelResponse,
    ProviderError,
    ProviderErrorKind,
    ScriptedProvider,
    StreamChunk,
    ToolCall,
    Usage,
)

from .conftest import add, agui_events, delete_branch, make_agent, pick_colour, run_input

pytestmark = pytest.mark.anyio


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def squash(names: list[str]) -> list[str]:
    """Runs of the same content event shown once (the number of word deltas varies)."""
    out: list[str] = []
    for name in names:
        if not (out and out[-1] == name and name.endswith(("_CONTENT", "_ARGS"))):
            out.append(name)
    return out


async def test_tool_calling_run_event_sequence(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(add))
    response = await client.post("/ag-ui", json=run_input("t1", "add please"))
    assert response.headers["content-type"].startswith("text/event-stream")
    events = agui_events(response.text)
    assert squash(types(events)) == [
        "RUN_STARTED",
        "STEP_STARTED", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END",
        "TOOL_CALL_RESULT", "STEP_FINISHED",
        "STEP_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
        "STEP_FINISHED",
        "RUN_FINISHED",
    ]  # fmt: skip
    start = next(e for e in events if e["type"] == "TOOL_CALL_START")
    assert start["toolCallName"] == "add"
    args = "".join(e["delta"] for e in events if e["type"] == "TOOL_CALL_ARGS")
    assert args == '{"a": 1, "b": 1}'
    result = next(e for e in events if e["type"] == "TOOL_CALL_RESULT")
    assert (result["toolCallId"], result["content"]) == (start["toolCallId"], "2")
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "Tool results:\n- add: 2"
    assert len([e for e in events if e["type"] == "TEXT_MESSAGE_CONTENT"]) > 1  # streamed
    finished = events[-1]
    assert (finished["threadId"], finished["runId"]) == ("t1", events[0]["runId"])
    assert finished["result"]["answer"] == text
    assert finished["usage"][0]["inputTokens"] > 0


async def test_thread_is_a_session_that_the_next_run_continues(
    client_for: Callable[..., Any],
) -> None:
    client = await client_for(make_agent())
    await client.post("/ag-ui", json=run_input("conv", "first"))
    second = agui_events((await client.post("/ag-ui", json=run_input("conv", "second"))).text)
    assert second[-1]["result"]["answer"] == "You said: second"
    session = (await client.get("/sessions/conv")).json()
    assert [m["content"] for m in session["messages"] if m["role"] == "user"] == ["first", "second"]


async def test_history_in_the_input_seeds_a_new_thread(client_for: Callable[..., Any]) -> None:
    agent = Agent(provider=ScriptedProvider(["ok"]))
    client = await client_for(agent)
    body = run_input("seeded", "and now?")
    body["messages"] = [
        {"id": "s", "role": "system", "content": "Be brief."},
        {"id": "u", "role": "user", "content": "hi"},
        {"id": "a", "role": "assistant", "content": "hello"},
        *body["messages"],
    ]
    await client.post("/ag-ui", json=body)
    sent = agent.provider.prompts[0]  # type: ignore[attr-defined]
    assert [(m.role.value, m.text) for m in sent] == [
        ("system", "Be brief."), ("user", "hi"), ("assistant", "hello"), ("user", "and now?"),
    ]  # fmt: skip


async def test_approval_is_an_interrupt_and_the_follow_up_resumes(
    client_for: Callable[..., Any],
) -> None:
    client = await client_for(make_agent(add, delete_branch))
    paused = agui_events((await client.post("/ag-ui", json=run_input("h", "clean up"))).text)
    assert types(paused)[-2:] == ["STEP_FINISHED", "RUN_FINISHED"]
    outcome = paused[-1]["outcome"]
    assert outcome["type"] == "interrupt"
    interrupt = outcome["interrupts"][0]
    assert interrupt["reason"] == "approval"
    assert "delete_branch" in interrupt["message"]
    gated = [e for e in paused if e["type"] == "TOOL_CALL_START"][1]
    assert interrupt["toolCallId"] == gated["toolCallId"]
    assert not any(e.get("toolCallId") == gated["toolCallId"] for e in paused
                   if e["type"] == "TOOL_CALL_RESULT")  # fmt: skip

    resume = run_input("h", resume=[{"interruptId": interrupt["id"], "status": "resolved",
                                     "payload": {"approved": True}}])  # fmt: skip
    resumed = agui_events((await client.post("/ag-ui", json=resume)).text)
    assert squash(types(resumed)) == [
        "RUN_STARTED", "TOOL_CALL_RESULT",
        "STEP_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
        "STEP_FINISHED", "RUN_FINISHED",
    ]  # fmt: skip
    result = resumed[1]
    assert (result["toolCallId"], result["content"]) == (
        gated["toolCallId"],
        "deleted branch example",
    )
    assert "outcome" not in resumed[-1]
    assert "delete_branch: deleted branch example" in resumed[-1]["result"]["answer"]

    stale = await client.post("/ag-ui", json=resume)
    assert stale.status_code == 409


async def test_cancelled_interrupt_rejects_the_call(client_for: Callable[..., Any]) -> None:
    client = await client_for(make_agent(delete_branch))
    paused = agui_events((await client.post("/ag-ui", json=run_input("r", "go"))).text)
    interrupt_id = paused[-1]["outcome"]["interrupts"][0]["id"]
    body = run_input("r", resume=[{"interruptId": interrupt_id, "status": "cancelled"}])
    resumed = agui_events((await client.post("/ag-ui", json=body)).text)
    result = next(e for e in resumed if e["type"] == "TOOL_CALL_RESULT")
    assert result["content"].startswith("The user rejected this tool call")
    assert result["metadata"]["spine"]["is_error"] is True


async def test_tool_question_is_answered_through_the_resume_payload(
    client_for: Callable[..., Any],
) -> None:
    client = await client_for(make_agent(pick_colour))
    paused = agui_events((await client.post("/ag-ui", json=run_input("c", "colour"))).text)
    interrupt = paused[-1]["outcome"]["interrupts"][0]
    assert (interrupt["reason"], interrupt["message"]) == ("input", "Which colour?")
    body = run_input("c", resume=[{"interruptId": interrupt["id"], "status": "resolved",
                                   "payload": "red"}])  # fmt: skip
    resumed = agui_events((await client.post("/ag-ui", json=body)).text)
    assert next(e for e in resumed if e["type"] == "TOOL_CALL_RESULT")["content"] == "red"


async def test_provider_error_is_a_run_error(client_for: Callable[..., Any]) -> None:
    failing = ProviderError("upstream said no", kind=ProviderErrorKind.BAD_REQUEST, provider="x")
    client = await client_for(Agent(provider=ScriptedProvider([failing])))
    events = agui_events((await client.post("/ag-ui", json=run_input("e", "hi"))).text)
    assert types(events) == ["RUN_STARTED", "STEP_STARTED", "STEP_FINISHED", "RUN_ERROR"]
    assert events[-1]["code"] == "bad_request"
    assert "upstream said no" in events[-1]["message"]
    session = (await client.get("/sessions/e")).json()
    assert session["status"] == "error"


class ThinkingProvider:
    """A streaming provider that reasons before it answers (as Anthropic's and OpenAI's do)."""

    name = "thinking"
    model = "thinking-1"

    async def complete(self, messages: list[Message], tools: Any = None, **_: Any) -> ModelResponse:
        raise AssertionError("streaming runs call stream()")

    async def stream(
        self, messages: list[Message], tools: Any = None, **_: Any
    ) -> AsyncIterator[StreamChunk]:
        yield StreamChunk(type=ChunkType.THINKING, delta="Let me think")
        yield StreamChunk(delta="Forty-two.")
        reply = Message.assistant("Forty-two.")
        yield StreamChunk(
            response=ModelResponse(message=reply, usage=Usage(input_tokens=3, output_tokens=2))
        )


async def test_reasoning_is_streamed_as_reasoning_events(client_for: Callable[..., Any]) -> None:
    client = await client_for(Agent(provider=ThinkingProvider()))
    events = agui_events((await client.post("/ag-ui", json=run_input("th", "why?"))).text)
    assert types(events) == [
        "RUN_STARTED", "STEP_STARTED",
        "REASONING_START", "REASONING_MESSAGE_START", "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END", "REASONING_END",
        "TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END",
        "STEP_FINISHED", "RUN_FINISHED",
    ]  # fmt: skip
    assert events[4]["delta"] == "Let me think"


async def test_non_streaming_tool_calls_still_get_start_args_end(
    client_for: Callable[..., Any],
) -> None:
    call = ToolCall(id="c1", name="add", arguments={"a": 2, "b": 3})

    class Plain:  # no stream(): the whole response at once
        name = model = "plain"
        script = [Message.assistant(tool_calls=[call]), Message.assistant("five")]

        async def complete(self, messages: Any, tools: Any = None, **_: Any) -> ModelResponse:
            return ModelResponse(message=self.script.pop(0), usage=Usage())

    client = await client_for(Agent(provider=Plain(), tools=[add]))
    events = agui_events((await client.post("/ag-ui", json=run_input("p", "2+3"))).text)
    assert squash(types(events)) == [
        "RUN_STARTED", "STEP_STARTED", "TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END",
        "TOOL_CALL_RESULT", "STEP_FINISHED", "STEP_STARTED", "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "STEP_FINISHED", "RUN_FINISHED",
    ]  # fmt: skip
    assert events[3]["delta"] == '{"a": 2, "b": 3}'


async def test_bad_run_input_is_422_and_unknown_thread_resume_is_404(
    client_for: Callable[..., Any],
) -> None:
    client = await client_for(make_agent(add))
    no_thread = await client.post("/ag-ui", json={"runId": "r", "messages": []})
    assert no_thread.status_code == 422
    assert no_thread.json()["detail"][0]["loc"] == ["body", "threadId"]
    no_user = await client.post("/ag-ui", json=run_input("x"))
    assert no_user.status_code == 422
    assert no_user.json()["detail"][0]["loc"] == ["body", "messages"]
    ghost = run_input("ghost", resume=[{"interruptId": "i", "status": "resolved"}])
    assert (await client.post("/ag-ui", json=ghost)).status_code == 404
    done = await client.post("/ag-ui", json=run_input("fin", "hi"))
    assert done.status_code == 200
    not_paused = run_input("fin", resume=[{"interruptId": "i", "status": "resolved"}])
    assert (await client.post("/ag-ui", json=not_paused)).status_code == 409


async def test_guard_trip_is_a_custom_event_then_run_finished(
    client_for: Callable[..., Any],
) -> None:
    from spine_core import Guards

    client = await client_for(make_agent(add, guards=Guards(max_steps=1)))
    events = agui_events((await client.post("/ag-ui", json=run_input("g", "add"))).text)
    assert types(events)[-3:] == ["CUSTOM", "STEP_FINISHED", "RUN_FINISHED"]
    assert events[-3]["name"] == "spine.guard_trip"
    assert events[-3]["value"] == {"reason": "max_steps"}
    assert events[-1]["result"]["stopped_reason"] == "max_steps"


async def test_a_cancelled_run_continues_through_ag_ui_and_rest(
    client_for: Callable[..., Any],
) -> None:
    agent = make_agent(add)
    client = await client_for(agent)
    for session in ("cancel-agui", "cancel-rest"):
        stopped = await agent.run("add", session_id=session, should_cancel=lambda: True)
        assert stopped.stopped_reason.value == "cancelled"
    body = run_input("cancel-agui", resume=[{"interruptId": "", "status": "resolved"}])
    events = agui_events((await client.post("/ag-ui", json=body)).text)
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["result"]["answer"] == "Tool results:\n- add: 2"
    rest = await client.post("/sessions/cancel-rest/resume", json={})
    assert rest.json()["answer"] == "Tool results:\n- add: 2"
