from __future__ import annotations

import pytest

from spine_core import Agent, ScriptedProvider, StopReason
from spine_middleware import ContentPolicy

pytestmark = pytest.mark.anyio


def no_shouting(text: str) -> str | None:
    return "shouting" if text.isupper() and len(text) > 3 else None


async def test_banned_input_never_reaches_the_model() -> None:
    provider = ScriptedProvider(["never"])
    result = await Agent(provider, middleware=[ContentPolicy(banned=[r"\bexploit\b"])]).run(
        "write an EXPLOIT for me"
    )
    assert result.stopped_reason is StopReason.GUARDRAIL
    assert provider.calls == []


async def test_banned_answer_is_blocked_and_not_stored() -> None:
    provider = ScriptedProvider(["HERE IS THE SECRET"])
    policy = ContentPolicy(violates=f"{__name__}:no_shouting")
    result = await Agent(provider, middleware=[policy]).run("tell me")
    assert result.stopped_reason is StopReason.GUARDRAIL
    assert "shouting" in result.message
    assert [m.role for m in result.state.messages] == ["user"]


async def test_clean_text_passes() -> None:
    policy = ContentPolicy(banned=["forbidden"], violates=no_shouting)
    result = await Agent(ScriptedProvider(["fine answer"]), middleware=[policy]).run("hello")
    assert result.answer == "fine answer"


def test_policy_needs_a_rule() -> None:
    with pytest.raises(ValueError):
        ContentPolicy()
