from __future__ import annotations

import pytest
from pydantic import BaseModel

from spine_core import Agent, ScriptedProvider, StopReason, TestProvider
from spine_middleware import StructuredOutput

pytestmark = pytest.mark.anyio


class City(BaseModel):
    name: str
    population: int


async def test_valid_answer_becomes_result_output() -> None:
    provider = ScriptedProvider(['```json\n{"name": "Oslo", "population": 709000}\n```'])
    result = await Agent(provider, middleware=[StructuredOutput(model=City)]).run("city?")
    assert result.output == City(name="Oslo", population=709000)
    assert provider.calls[0].settings["output_schema"]["name"] == "City"


async def test_invalid_answer_is_repaired_with_the_error_fed_back() -> None:
    provider = ScriptedProvider(
        ['{"name": "Oslo", "population": "many"}', '{"name": "Oslo", "population": 1}']
    )
    mw = StructuredOutput(model=f"{__name__}:City")
    result = await Agent(provider, middleware=[mw]).run("city?")
    assert result.output == City(name="Oslo", population=1)
    repair = provider.calls[1].messages[-1].content
    assert "population" in repair and "valid integer" in repair
    assert result.usage.requests == 2
    assert result.answer == '{"name": "Oslo", "population": 1}'


async def test_repairs_are_bounded_then_the_run_fails_loudly() -> None:
    provider = ScriptedProvider(["nope", "still no", "never"])
    result = await Agent(provider, middleware=[StructuredOutput(model=City, max_repairs=1)]).run(
        "c"
    )
    assert result.stopped_reason is StopReason.ERROR
    assert result.error is not None and result.error["type"] == "OutputValidationError"
    assert len(provider.calls) == 2


async def test_native_schema_works_with_the_test_provider() -> None:
    result = await Agent(TestProvider(), middleware=[StructuredOutput(model=City)]).run("c")
    assert isinstance(result.output, City)
