"""Server-initiated requests against the mcp SDK's own `MCPServer`, served on a real
127.0.0.1 socket: elicitation pauses the Spine run and the human's answer resumes it (also
from a fresh process: a new toolset, agent and connection sharing only the checkpoint
store); sampling is answered by the run's own provider. Both forms: the resolver form
(`InputRequiredResult`, protocol 2026-07-28) and back-channel requests (2025-11-25)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import pytest
from conftest import serve_uvicorn
from mcp.server.mcpserver import Elicit, MCPServer, Resolve, Sample
from mcp_helpers import call, tool_messages
from mcp_types import CreateMessageResult, SamplingMessage, TextContent
from pydantic import BaseModel

from spine_core import Agent, InMemoryCheckpointStore, ScriptedProvider, StopReason
from spine_mcp import MCPToolset

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]  # auto negotiates 2026-07-28 (resolver form) with this server


class Seat(BaseModel):
    seat: str


def ask_seat(flight: str) -> Elicit[Seat]:
    return Elicit(f"Which seat on {flight}?", Seat)


def ask_summary(text: str) -> Sample:
    prompt = TextContent(type="text", text=f"Summarise in three words: {text}")
    return Sample([SamplingMessage(role="user", content=prompt)], max_tokens=20)


def asking_server(booked: list[str]) -> MCPServer:
    server = MCPServer("asker", log_level="CRITICAL")

    @server.tool()
    def book(flight: str, choice: Annotated[Seat, Resolve(ask_seat)]) -> str:
        """Book a seat on a flight (asks the user which seat)."""
        booked.append(f"{flight}/{choice.seat}")
        return f"booked {flight} seat {choice.seat}"

    @server.tool()
    def summarise(text: str, summary: Annotated[CreateMessageResult, Resolve(ask_summary)]) -> str:
        """Summarise a text with the client's model."""
        assert isinstance(summary.content, TextContent)
        return f"summary by {summary.model}: {summary.content.text}"

    return server


@pytest.fixture
def booked() -> list[str]:
    return []


@pytest.fixture
async def url(booked: list[str]) -> AsyncIterator[str]:
    async with serve_uvicorn(asking_server(booked).streamable_http_app()) as port:
        yield f"http://127.0.0.1:{port}/mcp"


@pytest.mark.parametrize("mode", MODES)
async def test_elicitation_pauses_the_run_and_the_answer_resumes_it(
    url: str, booked: list[str], mode: str
) -> None:
    store = InMemoryCheckpointStore()
    async with MCPToolset(url=url, mode=mode, timeout_s=10) as mcp:
        tools = await mcp.load_tools()
        paused = await Agent(
            ScriptedProvider([call("book", {"flight": "LH1"})]), tools=tools, checkpoint=store
        ).run("book me on LH1")
        assert booked == []  # the server waits for the answer
        provider = ScriptedProvider(["Booked 12A."])
        resumed = await Agent(provider, tools=tools, checkpoint=store).resume(
            paused.resume_token, answer={"seat": "12A"}
        )

    assert paused.stopped_reason is StopReason.INTERRUPT
    assert paused.interrupt.question == "Which seat on LH1?"
    asked = paused.interrupt.data["mcp_elicitation"]
    assert asked["tool"] == "book" and asked["mode"] == "form"
    assert asked["requested_schema"]["required"] == ["seat"]
    assert resumed.answer == "Booked 12A."
    assert booked == ["LH1/12A"]
    [seen] = tool_messages(provider.prompts[0])
    assert (seen.text, seen.is_error) == ("booked LH1 seat 12A", False)


@pytest.mark.parametrize("mode", MODES)
async def test_elicitation_is_resumed_from_a_fresh_process(
    url: str, booked: list[str], mode: str
) -> None:
    store = InMemoryCheckpointStore()
    async with MCPToolset(url=url, mode=mode, timeout_s=10) as first:
        paused = await Agent(
            ScriptedProvider([call("book", {"flight": "LH2"})]),
            tools=await first.load_tools(),
            checkpoint=store,
        ).run("book me on LH2")
    # the first toolset, its agent and its connection are gone; only the store remains
    async with MCPToolset(url=url, mode=mode, timeout_s=10) as fresh:
        provider = ScriptedProvider(["Booked."])
        resumed = await Agent(provider, tools=await fresh.load_tools(), checkpoint=store).resume(
            paused.resume_token,
            answer="14C",  # a one-field form takes a plain answer
        )

    assert resumed.answer == "Booked."
    assert booked == ["LH2/14C"]
    [seen] = tool_messages(provider.prompts[0])
    assert seen.text == "booked LH2 seat 14C"


async def test_a_declined_elicitation_is_a_tool_error(url: str, booked: list[str]) -> None:
    store = InMemoryCheckpointStore()
    async with MCPToolset(url=url, timeout_s=10) as mcp:
        tools = await mcp.load_tools()
        paused = await Agent(
            ScriptedProvider([call("book", {"flight": "LH3"})]), tools=tools, checkpoint=store
        ).run("book")
        provider = ScriptedProvider(["Not booked."])
        await Agent(provider, tools=tools, checkpoint=store).resume(
            paused.resume_token, answer="decline"
        )

    assert booked == []
    [seen] = tool_messages(provider.prompts[0])
    assert seen.is_error and "book" in seen.text


@pytest.mark.parametrize("mode", MODES)
async def test_sampling_is_served_by_the_runs_provider(url: str, mode: str) -> None:
    provider = ScriptedProvider([call("summarise", {"text": "a very long text"}), "Short.", "ok"])
    async with MCPToolset(url=url, mode=mode, timeout_s=10) as mcp:
        result = await Agent(provider, tools=await mcp.load_tools()).run("summarise it")

    assert result.answer == "ok"
    sampled = provider.prompts[1]  # the server's sampling request, as the provider saw it
    assert [m.text for m in sampled] == ["Summarise in three words: a very long text"]
    [seen] = tool_messages(provider.prompts[2])
    assert seen.text == f"summary by {provider.model}: Short."
