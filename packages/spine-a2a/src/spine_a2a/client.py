"""`A2AAgent`: a handle to a remote A2A 1.0 agent, usable directly or as a Spine tool."""

from __future__ import annotations

import contextlib
import functools
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Callable
from enum import StrEnum
from typing import Any, Literal, cast

import anyio
import httpx
from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.client.client import Client
from a2a.client.errors import AgentCardResolutionError
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    ListTasksResponse,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from a2a.utils.constants import PROTOCOL_VERSION_CURRENT, VERSION_HEADER, TransportProtocol
from google.protobuf.json_format import MessageToDict

from spine_core import Decision, EventType, Interrupt, Tool, ToolContext, TraceEvent, Tracer

from ._convert import (
    INTERRUPTED,
    SPINE_PAUSE,
    TERMINAL,
    TaskAggregate,
    artifact_text,
    message_text,
    state_name,
    task_text,
)
from ._tracecontext import add_request_hook, inject_request_hook
from .errors import A2AAgentError, mapped_errors

__all__ = ["A2AAgent", "A2AEventType", "A2AInputRequired"]

_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "input": {
            "type": "string",
            "description": "The task, in plain language, with everything the agent needs to know.",
        }
    },
    "required": ["input"],
}

# state.scratch key: remote tasks waiting for input, by the tool call that started them.
SCRATCH_KEY = "spine_a2a.pending"


class A2AEventType(StrEnum):
    """Trace event types `A2AAgent.as_tool` adds to a run's trace (next to `EventType`); find
    them with `A2AEventType.of(event)`.

    `a2a_status`: the remote task's status changed (`{"tool", "tool_call_id", "task_id",
    "context_id", "state", "text"}`); `a2a_artifact`: the remote task produced (a chunk of)
    an artifact (`{"tool", "tool_call_id", "task_id", "context_id", "artifact_id", "name",
    "text", "append", "last_chunk"}`).
    """

    STATUS = "a2a_status"
    ARTIFACT = "a2a_artifact"

    @classmethod
    def of(cls, event: TraceEvent) -> A2AEventType | None:
        """The A2A kind of a trace event, or None for the kernel's own events (typed code
        cannot compare `event.type`, an `EventType`, with these members directly)."""
        value = str(event.type.value)
        return cls(value) if value in _A2A_VALUES else None


_A2A_VALUES = frozenset(kind.value for kind in A2AEventType)


class A2AInputRequired(Interrupt):
    """The remote task asks for input (`input-required` or `auth-required`).

    Raised by `A2AAgent.send` (inside a tool it pauses the run like any `Interrupt`). Answer
    with `send(answer, task_id=err.task_id, context_id=err.context_id)`.

    Attributes:
        task_id: The remote task waiting for input.
        context_id: Its context.
        state: "input-required" or "auth-required".
    """

    def __init__(
        self,
        question: str,
        *,
        task_id: str,
        context_id: str,
        state: str = "input-required",
        data: dict[str, Any] | None = None,
        kind: Literal["approval", "input"] = "input",
    ) -> None:
        super().__init__(question, data=data, kind=kind)
        self.task_id = task_id
        self.context_id = context_id
        self.state = state


Listener = Callable[[StreamResponse, TaskAggregate], None]


class A2AAgent:
    """A handle to a remote A2A 1.0 agent (JSON-RPC or HTTP+JSON, found from its agent card).

    The agent card is read from `<url>/.well-known/agent-card.json` on first use (or on
    `async with`); when the remote has no card (HTTP 404), `url` itself is used as its JSON-RPC
    endpoint. The card's name and description replace the defaults when `name` /
    `description` are not given, and its skills are listed in `as_tool`'s description.

    Args:
        url: The agent's base URL (where its card is), or its JSON-RPC endpoint.
        client: An `httpx.AsyncClient` to use (not closed by `aclose`); a2a-sdk sets the
            `A2A-Version: 1.0` header on it unless it already has one, and, when
            OpenTelemetry is installed, this object adds a request hook that sends the current
            W3C trace context (see below).
        name: Tool name for `as_tool` (default from the card, else "remote_agent").
        description: Tool description (default from the card).
        timeout: Seconds to wait for a connection or for the next byte of a response (a
            stream may run longer as long as events keep coming), when this object creates
            the HTTP client.
        streaming: Use `SendStreamingMessage` when the card says the agent streams.
        headers: Extra HTTP headers for every request (e.g. `Authorization`), when this
            object creates the HTTP client.

    Errors are `A2AAgentError` (a `ProviderError`) with a `kind`: connection, timeout, auth,
    bad_request (version mismatch -32009, unknown method -32601, ...), server, unknown (a
    remote task that failed or was rejected).

    Trace context: when `opentelemetry-api` is installed, each request made while a span is
    current carries that span as its W3C `traceparent` (and `tracestate` / `baggage`, through
    the global propagator, `OTEL_PROPAGATORS`; `none` turns it off), so a call from a tool of
    an agent with `spine_otel.OTelMiddleware` continues the run's trace on the remote agent,
    under the tool's `execute_tool` span. A request with a `traceparent` of its own keeps it.
    """

    def __init__(
        self,
        url: str,
        *,
        client: httpx.AsyncClient | None = None,
        name: str | None = None,
        description: str | None = None,
        timeout: float = 60.0,
        streaming: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.url = url
        self.name = name or "remote_agent"
        self.description = description or "Delegate a task to a remote A2A agent."
        self._named = name is not None
        self._described = description is not None
        self._http = client
        self._owns_client = client is None
        if client is not None:
            add_request_hook(client)
        self._timeout = timeout
        self._streaming = streaming
        self._headers = dict(headers or {})
        self._card: AgentCard | None = None
        self._a2a: Client | None = None
        self._lock = anyio.Lock()

    # -- connection --------------------------------------------------------------------------

    def _ensure_http(self) -> httpx.AsyncClient:
        if self._http is None:
            headers = {VERSION_HEADER: PROTOCOL_VERSION_CURRENT, **self._headers}
            self._http = httpx.AsyncClient(
                timeout=self._timeout,
                headers=headers,
                verify=_tls_context(),
                event_hooks={"request": [inject_request_hook]},
            )
        return self._http

    @property
    def card(self) -> AgentCard | None:
        """The remote agent card, once discovered (see `connect`)."""
        return self._card

    async def connect(self) -> AgentCard:
        """Read the agent card (once) and open the A2A client.

        Raises:
            A2AAgentError: the agent is unreachable or its card is invalid.
        """
        async with self._lock:
            if self._a2a is not None and self._card is not None:
                return self._card
            http = self._ensure_http()
            with mapped_errors(self.url):
                try:
                    card = await A2ACardResolver(http, self.url).get_agent_card()
                except AgentCardResolutionError as exc:
                    if exc.status_code not in (404, 405):
                        raise
                    card = _fallback_card(self.url)
                config = ClientConfig(
                    streaming=self._streaming,
                    httpx_client=http,
                    supported_protocol_bindings=[
                        TransportProtocol.JSONRPC,
                        TransportProtocol.HTTP_JSON,
                    ],
                )
                try:
                    self._a2a = ClientFactory(config).create(card)
                except ValueError:
                    bindings = sorted({i.protocol_binding for i in card.supported_interfaces})
                    raise A2AAgentError(
                        f"the agent card of {self.url} offers {', '.join(bindings) or 'no'} "
                        "interfaces; spine-a2a speaks JSONRPC and HTTP+JSON",
                        kind="bad_request",
                        url=self.url,
                    ) from None
            self._card = card
            self._apply_card(card)
            return card

    def _apply_card(self, card: AgentCard) -> None:
        if not self._named and card.name:
            self.name = _tool_name(card.name)
        if not self._described and (card.description or card.skills):
            lines = [card.description or f"Delegate a task to the remote agent '{card.name}'."]
            lines += [
                f"- {skill.name}: {skill.description}" if skill.description else f"- {skill.name}"
                for skill in card.skills
            ]
            self.description = (
                "\n".join(lines)
                if len(lines) == 1
                else (lines[0] + "\nSkills:\n" + "\n".join(lines[1:]))
            )

    async def _client(self) -> Client:
        if self._a2a is None:
            await self.connect()
        assert self._a2a is not None
        return self._a2a

    # -- messages ----------------------------------------------------------------------------

    async def send(
        self, text: str, *, context_id: str | None = None, task_id: str | None = None
    ) -> str:
        """Send `text` and return the remote agent's answer (its artifacts' text).

        Args:
            text: The message.
            context_id: Continue this remote conversation (multi-turn).
            task_id: Answer this remote task (one waiting for input).

        Raises:
            A2AInputRequired: the remote task waits for input (answer with `task_id=`).
            A2AAgentError: the call failed, or the remote task failed, was rejected or
                cancelled.
        """
        result = await self.send_message(text, context_id=context_id, task_id=task_id)
        return _answer(result, self.url)

    async def send_message(
        self,
        text: str,
        *,
        context_id: str | None = None,
        task_id: str | None = None,
        on_event: Listener | None = None,
    ) -> Task | Message:
        """Send `text`; returns the task as it stands when the remote stopped (completed,
        failed, waiting for input, ...) or the agent's direct `Message` reply.

        Streams (`SendStreamingMessage`) when the remote supports it; `on_event(response,
        aggregate)` is called for each `StreamResponse` received.

        Raises:
            A2AAgentError: the call failed, or the stream broke before the task stopped.
        """
        request = SendMessageRequest(message=_user_message(text, context_id, task_id))
        aggregate = TaskAggregate()
        client = await self._client()
        with mapped_errors(self.url):
            async for response in client.send_message(request):
                aggregate.apply(response)
                if on_event is not None:
                    on_event(response, aggregate)
        if aggregate.message is not None and aggregate.task is None:
            return aggregate.message
        task = aggregate.task
        if task is None:
            raise A2AAgentError(f"remote agent at {self.url} sent no task or message", url=self.url)
        streamed = self._card is not None and self._card.capabilities.streaming and self._streaming
        if streamed and task.status.state not in TERMINAL | INTERRUPTED:
            raise A2AAgentError(
                f"the stream from {self.url} ended while task {task.id} was "
                f"{state_name(task.status.state)}",
                kind="connection",
                url=self.url,
                task_id=task.id,
            )
        return task

    async def stream(
        self, text: str, *, context_id: str | None = None, task_id: str | None = None
    ) -> AsyncIterator[StreamResponse]:
        """Send `text` and yield each `StreamResponse` (task, status and artifact updates) as
        it arrives (one response when the remote does not stream).

        Raises:
            A2AAgentError: the call failed or the connection broke.
        """
        request = SendMessageRequest(message=_user_message(text, context_id, task_id))
        client = await self._client()
        with mapped_errors(self.url):
            async for response in client.send_message(request):
                yield response

    # -- tasks -------------------------------------------------------------------------------

    async def get_task(self, task_id: str, *, history_length: int | None = None) -> Task:
        """The remote task `task_id` (its status, artifacts and history).

        Raises:
            A2AAgentError: unknown task (bad_request, code -32001) or a failed call.
        """
        request = GetTaskRequest(id=task_id)
        if history_length is not None:
            request.history_length = history_length
        client = await self._client()
        with mapped_errors(self.url):
            return await client.get_task(request)

    async def list_tasks(
        self,
        *,
        context_id: str | None = None,
        state: int | None = None,
        page_size: int | None = None,
        page_token: str | None = None,
    ) -> ListTasksResponse:
        """The remote agent's tasks, newest first (`tasks`, `next_page_token`, `total_size`).

        Raises:
            A2AAgentError: the call failed.
        """
        request = ListTasksRequest()
        if context_id:
            request.context_id = context_id
        if state is not None:
            request.status = state  # type: ignore[assignment]
        if page_size is not None:
            request.page_size = page_size
        if page_token:
            request.page_token = page_token
        client = await self._client()
        with mapped_errors(self.url):
            return await client.list_tasks(request)

    async def cancel_task(self, task_id: str) -> Task:
        """Cancel the remote task `task_id`; returns it (state canceled).

        Raises:
            A2AAgentError: unknown task, a task already finished (code -32002), a failed call.
        """
        client = await self._client()
        with mapped_errors(self.url):
            return await client.cancel_task(CancelTaskRequest(id=task_id))

    # -- as a tool ---------------------------------------------------------------------------

    def as_tool(self, *, name: str | None = None, description: str | None = None) -> Tool:
        """This remote agent as a Spine tool taking `{"input": str}`.

        Inside a run, the remote task's status and artifact updates are added to the trace as
        `A2AEventType` events (live with `Agent.stream`). A remote task that asks for input
        pauses the run (`StopReason.interrupt`); its task and context ids are checkpointed in
        `state.scratch`, so `Agent.resume(token, answer=...)` (also in a fresh process) sends
        the answer to that remote task. A Spine remote's approval pause passes up as an
        approval: approving sends "approve", rejecting sends "reject: <reason>". Failures
        (remote down, protocol errors, a failed remote task) are tool errors the model sees.
        """
        agent = self

        async def call(ctx: ToolContext[Any], **args: Any) -> str:
            return await agent._tool_call(ctx, args)

        return Tool(
            name or self.name,
            description or self.description,
            dict(_INPUT_SCHEMA),
            call,
            context_param="ctx",
            forwards_decisions=True,
        )

    async def _tool_call(self, ctx: ToolContext[Any], args: dict[str, Any]) -> str:
        waiting: dict[str, Any] = ctx.state.scratch.get(SCRATCH_KEY, {})
        pending = waiting.get(ctx.call.id)
        task_id: str | None = None
        context_id: str | None = None
        if pending is not None and pending.get("url") == self.url:
            if ctx.decision is None:  # continued without an answer: ask again
                raise _interrupt_from(pending)
            text = _reply(ctx.decision)
            task_id, context_id = str(pending["task_id"]), str(pending["context_id"])
        else:
            given = args.get("input")
            if not isinstance(given, str) or not given:
                raise ValueError("the 'input' argument (a non-empty string) is required")
            text = given
        listener = _trace_listener(ctx)
        result = await self.send_message(
            text, context_id=context_id, task_id=task_id, on_event=listener
        )
        if isinstance(result, Task) and result.status.state in INTERRUPTED:
            record = _pending_record(self.url, result)
            ctx.state.scratch.setdefault(SCRATCH_KEY, {})[ctx.call.id] = record
            raise _interrupt_from(record)
        if ctx.call.id in waiting:
            waiting.pop(ctx.call.id, None)
            if not waiting:
                ctx.state.scratch.pop(SCRATCH_KEY, None)
        return _answer(result, self.url)

    # -- lifecycle ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the A2A client and the HTTP client this object created."""
        self._a2a = None
        self._card = None
        if self._http is not None and self._owns_client:
            await self._http.aclose()
            self._http = None

    async def __aenter__(self) -> A2AAgent:
        """Discover the agent card (best effort: an unreachable agent fails on first use)."""
        with contextlib.suppress(A2AAgentError):
            await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context (the system's trust store via certifi) for every client this package
    creates: building one costs a few hundred milliseconds."""
    return httpx.create_ssl_context()


def _fallback_card(url: str) -> AgentCard:
    """A card for a remote without one: `url` is its JSON-RPC endpoint."""
    return AgentCard(
        name="",
        supported_interfaces=[
            AgentInterface(
                url=url,
                protocol_binding=TransportProtocol.JSONRPC,
                protocol_version=PROTOCOL_VERSION_CURRENT,
            )
        ],
        capabilities=AgentCapabilities(streaming=False),
    )


def _tool_name(name: str) -> str:
    """A provider-safe tool name (`^[A-Za-z0-9_-]{1,64}$`) from a card's display name."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip()).strip("_").lower()
    return (cleaned or "remote_agent")[:64]


def _user_message(text: str, context_id: str | None, task_id: str | None) -> Message:
    message = Message(role=Role.ROLE_USER, message_id=uuid.uuid4().hex, parts=[Part(text=text)])
    if context_id:
        message.context_id = context_id
    if task_id:
        message.task_id = task_id
    return message


def _answer(result: Task | Message, url: str) -> str:
    """The text of a finished exchange, or the error / pause it ended in."""
    if isinstance(result, Message):
        return message_text(result)
    state = result.status.state
    if state == TaskState.TASK_STATE_COMPLETED:
        return task_text(result)
    if state in INTERRUPTED:
        raise _interrupt_from(_pending_record(url, result))
    detail = message_text(result.status.message) if result.status.HasField("message") else ""
    raise A2AAgentError(
        f"remote task {result.id} at {url} ended {state_name(state)}"
        + (f": {detail}" if detail else ""),
        url=url,
        task_id=result.id,
    )


def _pending_record(url: str, task: Task) -> dict[str, Any]:
    """What is checkpointed about a remote task waiting for input (JSON-ready)."""
    message = task.status.message if task.status.HasField("message") else None
    pause: dict[str, Any] = {}
    if message is not None and SPINE_PAUSE in message.metadata:
        pause = MessageToDict(message.metadata).get(SPINE_PAUSE) or {}
    question = message_text(message) or f"The remote agent at {url} needs input."
    return {
        "url": url,
        "task_id": task.id,
        "context_id": task.context_id,
        "state": state_name(task.status.state),
        "question": question,
        "kind": "approval" if pause.get("kind") == "approval" else "input",
        "data": pause.get("data") or {},
    }


def _interrupt_from(record: dict[str, Any]) -> A2AInputRequired:
    data = {
        **record.get("data", {}),
        "a2a": {k: record[k] for k in ("url", "task_id", "context_id", "state")},
    }
    return A2AInputRequired(
        record["question"],
        task_id=record["task_id"],
        context_id=record["context_id"],
        state=record["state"],
        data=data,
        kind=record["kind"],
    )


def _reply(decision: Decision) -> str:
    """The message that answers a remote pause for a human's decision."""
    if decision.action == "answer":
        return decision.answer or ""
    if decision.action == "approve":
        return "approve"
    return f"reject: {decision.reason}" if decision.reason else "reject"


def _trace_listener(ctx: ToolContext[Any]) -> Listener:
    """Adds the remote task's updates to the run's trace (and live stream)."""
    tracer: Tracer = ctx.run.tracer
    base = {"tool": ctx.call.name, "tool_call_id": ctx.call.id}

    def emit(kind: A2AEventType, **data: Any) -> None:
        # A2AEventType extends the trace's vocabulary; TraceEvent.to_dict() only needs .value.
        tracer.emit(cast(EventType, kind), **base, **data)

    def listen(response: StreamResponse, aggregate: TaskAggregate) -> None:
        kind = response.WhichOneof("payload")
        if kind == "status_update":
            event = response.status_update
            emit(
                A2AEventType.STATUS,
                task_id=event.task_id,
                context_id=event.context_id,
                state=state_name(event.status.state),
                text=message_text(event.status.message) if event.status.HasField("message") else "",
            )
        elif kind == "artifact_update":
            event_a = response.artifact_update
            emit(
                A2AEventType.ARTIFACT,
                task_id=event_a.task_id,
                context_id=event_a.context_id,
                artifact_id=event_a.artifact.artifact_id,
                name=event_a.artifact.name,
                text=artifact_text(event_a.artifact),
                append=event_a.append,
                last_chunk=event_a.last_chunk,
            )
        elif kind == "task":
            task = response.task
            emit(
                A2AEventType.STATUS,
                task_id=task.id,
                context_id=task.context_id,
                state=state_name(task.status.state),
                text=message_text(task.status.message) if task.status.HasField("message") else "",
            )

    return listen
