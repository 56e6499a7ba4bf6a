"""Typed output: the schema is requested, the answer validated, and invalid answers repaired."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from spine_core import Agent, Role, ScriptedProvider, StopReason, TestProvider


class Invoice(BaseModel):
    number: str
    total: float


@pytest.mark.anyio
async def test_invalid_answer_is_repaired_once_then_output_is_the_model_instance() -> None:
    provider = ScriptedProvider(['{"number": "A-1"}', '{"number": "A-1", "total": 9.5}'])
    agent = Agent(provider, output_type=Invoice)

    result = await agent.run("extract")

    assert result.ok
    assert result.output == Invoice(number="A-1", total=9.5)
    repairs = [m for m in provider.prompts[1] if m.role is Role.USER][1:]
    assert len(repairs) == 1
    assert "total: Field required" in repairs[0].text
    assert len(provider.calls) == 2


@pytest.mark.anyio
async def test_output_schema_is_sent_to_the_provider() -> None:
    provider = ScriptedProvider(['{"number": "A-1", "total": 1}'])

    await Agent(provider, output_type=Invoice).run("extract")

    assert provider.calls[0].settings["output_schema"] == {
        "name": "Invoice",
        "schema": Invoice.model_json_schema(),
    }


@pytest.mark.anyio
async def test_fenced_json_answer_is_accepted() -> None:
    provider = ScriptedProvider(['```json\n{"number": "B", "total": 2}\n```'])

    result = await Agent(provider, output_type=Invoice).run("extract")

    assert result.output == Invoice(number="B", total=2)


@pytest.mark.anyio
async def test_exhausted_repairs_end_the_run_with_error() -> None:
    provider = ScriptedProvider(["not json", "still not", "nope"])
    agent = Agent(provider, output_type=Invoice, output_retries=2)

    result = await agent.run("extract")

    assert result.stopped_reason is StopReason.ERROR
    assert result.error_detail is not None
    assert result.error_detail["type"] == "OutputValidationError"
    assert "after 2 repair attempts" in (result.error or "")
    assert len(provider.calls) == 3
    assert result.output is None


@pytest.mark.anyio
async def test_scalar_output_types_work() -> None:
    result = await Agent(ScriptedProvider(["[1, 2, 3]"]), output_type=list[int]).run("numbers")

    assert result.output == [1, 2, 3]


@pytest.mark.anyio
async def test_test_provider_answers_with_a_valid_value_of_the_output_type() -> None:
    result = await Agent(TestProvider(), output_type=Invoice).run("extract")

    assert isinstance(result.output, Invoice)
