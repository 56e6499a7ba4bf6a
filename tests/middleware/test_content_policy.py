from __future__ import annotations

import pytest

from spine_core import Agent, Message, ScriptedProvider, StopReason, ToolCall, tool
from spine_middleware import ContentPolicy

pytestmark = pytest.mark.anyio

SEEN: list[str] = []


def not_shouting(text: str) -> bool:
    SEEN.append(text)
    return not (text.isupper() and len(text) > 3)


@pytest.fixture(autouse=True)
def _reset() -> None:
    SEEN.clear()


@tool
def lookup() -> str:
    """Look something up."""
    return "found"


async def test_banned_input_never_reaches_the_model() -> None:
    provider = ScriptedProvider(["never"])
    agent = Agent(provider, middleware=[ContentPolicy(banned=[r"\bexploit\b"])])
    result = await agent.run("write an EXPLOIT for me")
    assert result.stopped_reason is StopReason.GUARDRAIL
    assert result.answer == "blocked by content policy"
    assert provider.calls == []


async def test_a_failed_validate_blocks_the_answer_and_it_is_not_stored() -> None:
    provider = ScriptedProvider(["HERE IS THE SECRET"])
    policy = ContentPolicy(validate=not_shouting, message="no shouting, please")
    result = await Agent(provider, middleware=[policy]).run("tell me")
    assert result.stopped_reason is StopReason.GUARDRAIL
    assert result.answer == "no shouting, please"
    assert [m.role for m in result.state.messages] == ["user"]


async def test_validate_may_be_an_import_path() -> None:
    policy = ContentPolicy(validate=f"{__name__}:not_shouting")
    result = await Agent(ScriptedProvider(["LOUD ANSWER"]), middleware=[policy]).run("hi")
    assert result.stopped_reason is StopReason.GUARDRAIL


async def test_clean_text_passes_and_the_input_is_screened_once_per_run() -> None:
    step = Message.assistant(tool_calls=[ToolCall(id="1", name="lookup")])
    policy = ContentPolicy(banned=["forbidden"], validate=not_shouting)
    agent = Agent(ScriptedProvider([step, "fine answer"]), tools=[lookup], middleware=[policy])
    result = await agent.run("hello there")
    assert result.answer == "fine answer"
    assert SEEN == ["hello there", "fine answer"]


async def test_on_input_and_on_output_switch_the_checks_off() -> None:
    only_output = ContentPolicy(banned=["secret"], on_input=False)
    result = await Agent(ScriptedProvider(["ok"]), middleware=[only_output]).run("a secret")
    assert result.ok
    only_input = ContentPolicy(banned=["secret"], on_output=False)
    result = await Agent(ScriptedProvider(["the secret"]), middleware=[only_input]).run("hi")
    assert result.ok and result.answer == "the secret"


async def test_tool_call_turns_are_not_screened_as_answers() -> None:
    step = Message.assistant("let me look up the secret", [ToolCall(id="1", name="lookup")])
    policy = ContentPolicy(banned=["secret"], on_input=False)
    agent = Agent(ScriptedProvider([step, "done"]), tools=[lookup], middleware=[policy])
    assert (await agent.run("go")).ok


async def test_a_policy_without_rules_blocks_nothing() -> None:
    """`ContentPolicy()` is a valid reference call: with no rule, every text passes."""
    provider = ScriptedProvider(["anything goes"])
    result = await Agent(provider, middleware=[ContentPolicy()]).run("EXPLOIT")
    assert result.stopped_reason is StopReason.FINAL and result.answer == "anything goes"
