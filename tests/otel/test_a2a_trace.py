"""W3C trace context over A2A, end to end on loopback with a2a-sdk 1.3 on the other side:
`spine_a2a.A2AAgent` sends the current span as `traceparent` without any wiring, and
`spine_a2a.A2AServer` runs the served agent in the caller's trace. The last test runs the
whole chain with a2a-sdk's own spans recording (a global SDK tracer provider, in a child
process, since a process can set the global provider only once)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from a2a.client import ClientConfig, ClientFactory
from a2a.helpers import get_message_text
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    Message,
    Part,
    Role,
    SendMessageRequest,
    Task,
    TaskState,
    TaskStatus,
)
from a2a.utils.constants import TransportProtocol
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from starlette.applications import Starlette

from spine_a2a import A2AAgent, A2AServer
from spine_core import Agent, EventType, Result, ScriptedProvider, ToolCall, tool
from spine_core import Message as SpineMessage
from spine_otel import event_hooks

from .conftest import Telemetry

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parents[2]
TLS = httpx.create_ssl_context()


# -- servers on loopback --------------------------------------------------------------------


@contextmanager
def _serve(factory: Callable[[str], Any]) -> Iterator[str]:
    """Serve the ASGI app `factory(base_url)` with uvicorn on a free loopback port (in a
    thread); yields the base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(factory(base), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.005)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


class _HeaderLog:
    """ASGI middleware recording the `traceparent` headers of each POST (an A2A call)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.posts: list[list[str]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            self.posts.append([v.decode() for k, v in scope["headers"] if k == b"traceparent"])
        await self.app(scope, receive, send)


class _EchoExecutor(AgentExecutor):
    """An a2a-sdk agent (no Spine): answers "echo: <text>" as an artifact."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        assert context.message is not None
        task_id, context_id = str(context.task_id), str(context.context_id)
        if context.current_task is None:
            status = TaskStatus(state=TaskState.TASK_STATE_SUBMITTED)
            first = Task(id=task_id, context_id=context_id, status=status)
            await event_queue.enqueue_event(first)
        updater = TaskUpdater(event_queue, task_id, context_id)
        await updater.start_work()
        text = get_message_text(context.message)
        await updater.add_artifact([Part(text=f"echo: {text}")], artifact_id="out")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        await TaskUpdater(event_queue, str(context.task_id), str(context.context_id)).cancel()


def _echo_app(base: str) -> Starlette:
    card = AgentCard(
        name="Echo",
        description="Echoes.",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url=f"{base}/", protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
    )
    handler = DefaultRequestHandler(
        agent_executor=_EchoExecutor(), task_store=InMemoryTaskStore(), agent_card=card
    )
    return Starlette(routes=create_agent_card_routes(card) + create_jsonrpc_routes(handler, "/"))


@pytest.fixture
def echo() -> Iterator[tuple[str, _HeaderLog]]:
    logs: list[_HeaderLog] = []

    def build(base: str) -> _HeaderLog:
        logs.append(_HeaderLog(_echo_app(base)))
        return logs[0]

    with _serve(build) as url:
        yield url, logs[0]


# -- helpers --------------------------------------------------------------------------------


def _traceparent(span: ReadableSpan) -> str:
    context = span.context
    ids = f"{trace.format_trace_id(context.trace_id)}-{trace.format_span_id(context.span_id)}"
    return f"00-{ids}-{context.trace_flags:02x}"


def _global_sdk_provider() -> bool:
    """Whether some test installed a global SDK tracer provider: a2a-sdk's own spans (made
    with the global provider) then record, and sit between a caller's span and the HTTP
    request (client side) or the served agent (server side)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


def _delegate(text: str) -> SpineMessage:
    call = ToolCall(id="call_ask", name="ask", arguments={"input": text})
    return SpineMessage.assistant(tool_calls=[call])


def _tool_results(result: Result) -> list[str]:
    return [str(e.data["result"]) for e in result.trace if e.type is EventType.TOOL_RESULT]


# -- client side: A2AAgent sends the tool's span ---------------------------------------------


@pytest.mark.parametrize("given_client", ["none", "plain", "spine_otel_hooks"])
async def test_a2a_tool_requests_carry_the_execute_tool_span(
    telemetry: Telemetry, echo: tuple[str, _HeaderLog], given_client: str
) -> None:
    url, log = echo
    http: httpx.AsyncClient | None = None
    if given_client == "plain":
        http = httpx.AsyncClient(verify=TLS)
    elif given_client == "spine_otel_hooks":  # hooks wired by hand too: still one header
        http = httpx.AsyncClient(verify=TLS, event_hooks=event_hooks())
    remote = A2AAgent(url, name="ask", client=http)
    agent = Agent(
        ScriptedProvider([_delegate("hi"), "done"]),
        name="caller",
        tools=[remote.as_tool()],
        middleware=[telemetry.middleware()],
    )
    try:
        result = await agent.run("go")
    finally:
        await remote.aclose()
        if http is not None:
            await http.aclose()
    assert result.answer == "done"
    assert _tool_results(result) == ["echo: hi"]
    span = telemetry.one("execute_tool ask")
    assert log.posts, "no A2A request reached the server"
    assert all(len(headers) == 1 for headers in log.posts), log.posts
    sent = [headers[0] for headers in log.posts]
    trace_hex = trace.format_trace_id(span.context.trace_id)
    assert all(value.split("-")[1] == trace_hex for value in sent), sent
    if not _global_sdk_provider():
        assert sent == [_traceparent(span)] * len(sent)


async def test_a2a_requests_outside_any_span_carry_no_trace_context(
    echo: tuple[str, _HeaderLog],
) -> None:
    url, log = echo
    async with A2AAgent(url) as remote:
        assert await remote.send("plain") == "echo: plain"
    assert log.posts == [[]]


async def test_a_callers_own_traceparent_is_kept(
    telemetry: Telemetry, echo: tuple[str, _HeaderLog]
) -> None:
    url, log = echo
    given = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    tracer = telemetry.tracer_provider.get_tracer("app")
    async with A2AAgent(url, headers={"traceparent": given}) as remote:
        with tracer.start_as_current_span("outer"):
            assert await remote.send("mine") == "echo: mine"
    assert log.posts == [[given]]


# -- server side: A2AServer continues the caller's trace -------------------------------------


@pytest.fixture
def served(telemetry: Telemetry) -> Iterator[str]:
    """A Spine agent with `OTelMiddleware`, served over A2A (a tool call, then an answer)."""

    @tool
    def lookup(city: str) -> str:
        """Look a city up.

        Args:
            city: The city.
        """
        return f"{city}: sunny"

    call = ToolCall(id="call_lookup", name="lookup", arguments={"city": "Oslo"})
    agent = Agent(
        ScriptedProvider([SpineMessage.assistant(tool_calls=[call]), "Oslo is sunny."]),
        name="served",
        tools=[lookup],
        middleware=[telemetry.middleware()],
    )
    with _serve(lambda base: A2AServer(agent)) as url:
        yield url


async def _sdk_send(url: str, text: str, *, streaming: bool, rest: bool) -> str:
    """Send `text` with a2a-sdk's own client (trace headers from spine_otel's hooks)."""
    binding = TransportProtocol.HTTP_JSON if rest else TransportProtocol.JSONRPC
    async with httpx.AsyncClient(verify=TLS, event_hooks=event_hooks()) as http:
        config = ClientConfig(
            streaming=streaming, httpx_client=http, supported_protocol_bindings=[binding]
        )
        client = await ClientFactory(config).create_from_url(url)
        message = Message(role=Role.ROLE_USER, message_id="m1", parts=[Part(text=text)])
        answer = ""
        async for response in client.send_message(SendMessageRequest(message=message)):
            if response.HasField("artifact_update"):
                answer += "".join(p.text for p in response.artifact_update.artifact.parts)
            elif response.HasField("task") and response.task.artifacts:
                answer = "".join(p.text for a in response.task.artifacts for p in a.parts)
        return answer


@pytest.mark.parametrize(("streaming", "rest"), [(True, False), (False, True)])
async def test_the_served_agent_runs_in_the_callers_trace(
    telemetry: Telemetry, served: str, streaming: bool, rest: bool
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("caller")
    with tracer.start_as_current_span("caller") as caller:
        answer = await _sdk_send(served, "Weather in Oslo?", streaming=streaming, rest=rest)
    assert answer == "Oslo is sunny."
    run = telemetry.one("invoke_agent served")
    context = caller.get_span_context()
    assert run.context.trace_id == context.trace_id
    assert run.parent is not None
    if not _global_sdk_provider():  # else under a2a-sdk's server spans (see the last test)
        assert run.parent.is_remote and run.parent.span_id == context.span_id
    tool_span = telemetry.one("execute_tool lookup")
    assert tool_span.parent is not None and tool_span.parent.span_id == run.context.span_id


async def test_a_request_without_trace_context_starts_a_new_trace(
    telemetry: Telemetry, served: str
) -> None:
    assert await _sdk_send(served, "Weather in Oslo?", streaming=True, rest=False) == (
        "Oslo is sunny."
    )
    run = telemetry.one("invoke_agent served")
    if not _global_sdk_provider():
        assert run.parent is None
    else:  # under a2a-sdk's own (local) server span, not a remote caller
        assert run.parent is None or not run.parent.is_remote


async def test_a_span_current_in_front_of_the_server_stays_the_parent(
    telemetry: Telemetry,
) -> None:
    """An ASGI instrumentation in front of `A2AServer` continued the trace already."""
    tracer = telemetry.tracer_provider.get_tracer("asgi")
    agent = Agent(ScriptedProvider(["hi"]), name="served", middleware=[telemetry.middleware()])
    server = A2AServer(agent)

    async def instrumented(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await server(scope, receive, send)
            return
        with tracer.start_as_current_span("http server", kind=trace.SpanKind.SERVER):
            await server(scope, receive, send)

    with _serve(lambda base: instrumented) as url:
        caller = tracer.start_span("remote caller")
        with trace.use_span(caller, end_on_exit=True):
            assert await _sdk_send(url, "hello", streaming=True, rest=False) == "hi"
    run = telemetry.one("invoke_agent served")
    front = [
        s for s in telemetry.named("http server") if s.context.trace_id == run.context.trace_id
    ]
    assert front, [s.name for s in telemetry.spans()]
    assert run.context.trace_id != caller.get_span_context().trace_id  # not re-extracted
    if not _global_sdk_provider():
        assert run.parent is not None and run.parent.span_id in {s.context.span_id for s in front}


# -- the whole chain ----------------------------------------------------------------------


async def test_caller_tool_a2a_served_agent_is_one_trace(telemetry: Telemetry, served: str) -> None:
    remote = A2AAgent(served, name="ask")
    agent = Agent(
        ScriptedProvider([_delegate("Weather in Oslo?"), "It is sunny."]),
        name="caller",
        tools=[remote.as_tool()],
        middleware=[telemetry.middleware()],
    )
    try:
        result = await agent.run("How is Oslo?")
    finally:
        await remote.aclose()
    assert result.answer == "It is sunny."
    assert _tool_results(result) == ["Oslo is sunny."]
    caller_run = telemetry.one("invoke_agent caller")
    tool_span = telemetry.one("execute_tool ask")
    served_run = telemetry.one("invoke_agent served")
    spans = telemetry.spans()
    assert {s.context.trace_id for s in spans} == {caller_run.context.trace_id}
    assert caller_run.parent is None
    assert tool_span.parent is not None and tool_span.parent.span_id == caller_run.context.span_id
    assert served_run.parent is not None
    if not _global_sdk_provider():  # else under a2a-sdk's server spans (see the last test)
        assert served_run.parent.is_remote
        assert served_run.parent.span_id == tool_span.context.span_id
    by_id = {s.context.span_id: s for s in spans}
    served_tool = telemetry.one("execute_tool lookup")
    assert served_tool.parent is not None
    assert by_id[served_tool.parent.span_id] is served_run
    assert {s.name for s in spans} >= {
        "invoke_agent caller",
        "execute_tool ask",
        "invoke_agent served",
        "chat scripted",
        "execute_tool lookup",
    }


_CHAIN_WITH_SDK_SPANS = textwrap.dedent(
    """
    import json, socket, threading, time

    import anyio, uvicorn
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)

    from spine_a2a import A2AAgent, A2AServer
    from spine_core import Agent, Message, ScriptedProvider, ToolCall
    from spine_otel import OTelMiddleware

    otel = OTelMiddleware(tracer_provider=provider)
    served = Agent(ScriptedProvider(["Oslo is sunny."]), name="served", middleware=[otel])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(uvicorn.Config(A2AServer(served), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.005)

    async def main():
        remote = A2AAgent(url, name="ask")
        call = ToolCall(id="c1", name="ask", arguments={"input": "Oslo?"})
        caller = Agent(
            ScriptedProvider([Message.assistant(tool_calls=[call]), "sunny"]),
            name="caller",
            tools=[remote.as_tool()],
            middleware=[otel],
        )
        async with remote:
            exporter.clear()  # the card request made by `async with`, outside the run
            assert (await caller.run("How is Oslo?")).answer == "sunny"

    anyio.run(main)
    server.should_exit = True
    thread.join(10)
    for s in exporter.get_finished_spans():
        print(json.dumps({
            "name": s.name,
            "scope": s.instrumentation_scope.name,
            "kind": s.kind.name,
            "trace": s.context.trace_id,
            "id": s.context.span_id,
            "parent": s.parent.span_id if s.parent else None,
        }))
    """
)


def test_a2a_sdk_spans_nest_between_the_callers_tool_and_the_served_agent() -> None:
    """With a global SDK tracer provider and a2a-sdk's instrumentation on (its default),
    a2a-sdk's client and server spans are part of the caller's trace, between the tool's
    `execute_tool` span and the served agent's `invoke_agent` span."""
    env = {**os.environ, "OTEL_INSTRUMENTATION_A2A_SDK_ENABLED": "true"}
    done = subprocess.run(
        [sys.executable, "-c", _CHAIN_WITH_SDK_SPANS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    spans = [json.loads(line) for line in done.stdout.splitlines()]
    by_id = {s["id"]: s for s in spans}
    (tool_span,) = [s for s in spans if s["name"] == "execute_tool ask"]
    (served_run,) = [s for s in spans if s["name"] == "invoke_agent served"]
    # Everything done for the request is in the caller's trace; only the server's shutdown
    # (its lifespan, outside any request) is a trace of its own.
    shutdown = [s for s in spans if s["name"].endswith("DefaultRequestHandlerV2.aclose")]
    assert all(s["parent"] is None for s in shutdown)
    in_run = [s for s in spans if s not in shutdown]
    assert {s["trace"] for s in in_run} == {tool_span["trace"]}, spans
    chain = []  # the served run's ancestors up to the tool's span, nearest first
    parent = served_run["parent"]
    while parent is not None and parent != tool_span["id"]:
        chain.append(by_id[parent])
        parent = by_id[parent]["parent"]
    assert parent == tool_span["id"], spans
    assert chain and all(s["scope"] == "a2a-python-sdk" for s in chain), chain
    outermost = chain[-1]  # the server's span for the HTTP request, the caller's child
    assert outermost["name"].endswith("JsonRpcDispatcher.handle_requests"), chain
    assert outermost["kind"] == "SERVER"
