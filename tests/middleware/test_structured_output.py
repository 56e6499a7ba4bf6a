from __future__ import annotations

import pytest
from pydantic import BaseModel

from spine_core import (
    Agent,
    Guards,
    Message,
    Role,
    ScriptedProvider,
    StopReason,
    TestProvider,
    ToolCall,
    tool,
)
from spine_middleware import Compaction, StructuredOutput

pytestmark = pytest.mark.anyio


class City(BaseModel):
    name: str
    population: int


async def test_valid_answer_becomes_result_output_and_the_scratch_value() -> None:
    provider = ScriptedProvider(['```json\n{"name": "Oslo", "population": 709000}\n```'])
    result = await Agent(provider, middleware=[StructuredOutput(City)]).run("city?")
    assert result.output == City(name="Oslo", population=709000)
    assert result.state.scratch["structured_output"] == {"name": "Oslo", "population": 709000}
    assert provider.calls[0].settings["output_schema"]["name"] == "City"


async def test_json_surrounded_by_prose_is_found() -> None:
    provider = ScriptedProvider(['Here you go: {"name": "Bergen", "population": 1} - enjoy'])
    result = await Agent(provider, middleware=[StructuredOutput(City, key="city")]).run("c")
    assert result.output == City(name="Bergen", population=1)
    assert result.state.scratch["city"]["name"] == "Bergen"


async def test_invalid_answer_is_repaired_with_the_error_fed_back() -> None:
    provider = ScriptedProvider(
        ['{"name": "Oslo", "population": "many"}', '{"name": "Oslo", "population": 1}']
    )
    mw = StructuredOutput(f"{__name__}:City")
    result = await Agent(provider, middleware=[mw]).run("city?")
    assert result.output == City(name="Oslo", population=1)
    repair = provider.calls[1].messages[-1]
    assert repair.role is Role.USER
    assert "population" in (repair.content or "") and "valid integer" in (repair.content or "")
    assert result.usage.requests == 2
    assert result.state.step == 2  # the repair was a step of its own
    assert result.answer == '{"name": "Oslo", "population": 1}'
    # the stored history holds the whole exchange
    assert [m.role for m in result.state.messages] == [
        Role.USER,
        Role.ASSISTANT,
        Role.USER,
        Role.ASSISTANT,
    ]


async def test_the_repair_request_reaches_a_compacted_request() -> None:
    provider = ScriptedProvider(["nope", '{"name": "Oslo", "population": 1}'])
    chain = [Compaction(max_messages=2, keep_last=1, note=False), StructuredOutput(City)]
    result = await Agent(provider, system="sys", middleware=chain).run("city?")
    assert result.output == City(name="Oslo", population=1)
    sent = provider.calls[1].messages
    assert [m.role for m in sent] == [Role.SYSTEM, Role.ASSISTANT, Role.USER]
    assert "not valid" in (sent[-1].content or "")


async def test_repairs_are_bounded_then_the_run_fails_loudly() -> None:
    provider = ScriptedProvider(["nope", "still no", "never"])
    result = await Agent(provider, middleware=[StructuredOutput(City, max_repairs=1)]).run("c")
    assert result.stopped_reason is StopReason.ERROR
    assert result.error_detail is not None
    assert result.error_detail["type"] == "OutputValidationError"
    assert result.error is not None and "City" in result.error
    assert len(provider.calls) == 2
    assert result.output is None


async def test_tool_turns_are_not_policed() -> None:
    @tool
    def lookup(city: str) -> str:
        """Look up.

        Args:
            city: City.
        """
        return "709000"

    call = Message.assistant(
        tool_calls=[ToolCall(id="1", name="lookup", arguments={"city": "Oslo"})]
    )
    provider = ScriptedProvider([call, '{"name": "Oslo", "population": 709000}'])
    result = await Agent(provider, tools=[lookup], middleware=[StructuredOutput(City)]).run("c")
    assert result.output == City(name="Oslo", population=709000)
    assert len(provider.calls) == 2


async def test_an_earlier_runs_value_never_leaks_into_the_next() -> None:
    call = Message.assistant(tool_calls=[ToolCall(id="1", name="lookup", arguments={})])

    @tool
    def lookup() -> str:
        """Look up."""
        return "?"

    provider = ScriptedProvider(['{"name": "Oslo", "population": 1}', call, call])
    agent = Agent(
        provider, tools=[lookup], middleware=[StructuredOutput(City)], guards=Guards(max_steps=1)
    )
    first = await agent.run("c", session_id="s")
    assert first.output == City(name="Oslo", population=1)
    second = await agent.run("again", session_id="s")
    assert second.stopped_reason is StopReason.MAX_STEPS
    assert second.output is None
    assert "structured_output" not in second.state.scratch


async def test_native_schema_works_with_the_test_provider() -> None:
    result = await Agent(TestProvider(), middleware=[StructuredOutput(City)]).run("c")
    assert isinstance(result.output, City)


async def test_native_can_be_turned_off() -> None:
    provider = ScriptedProvider(['{"name": "Oslo", "population": 1}'])
    await Agent(provider, middleware=[StructuredOutput(City, native=False)]).run("c")
    assert "output_schema" not in provider.calls[0].settings


def test_documented_defaults_and_alias() -> None:
    mw = StructuredOutput(City)
    assert (mw.schema, mw.max_repairs, mw.key) == (City, 2, "structured_output")
    assert StructuredOutput(model=City).schema is City
    with pytest.raises(ValueError):
        StructuredOutput(City, max_repairs=-1)
