"""`A2AServer`: a Spine agent served as an A2A 1.0 agent (an ASGI app)."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import AsyncIterator, Sequence

from a2a.server.agent_execution import RequestContext, SimpleRequestContextBuilder
from a2a.server.context import ServerCallContext
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.request_handlers.response_helpers import agent_card_to_dict
from a2a.server.routes import create_jsonrpc_routes, create_rest_routes
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    SendMessageRequest,
    Task,
)
from a2a.utils.constants import (
    AGENT_CARD_WELL_KNOWN_PATH,
    PROTOCOL_VERSION_CURRENT,
    TransportProtocol,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from spine_core import Agent

from ._executor import SpineExecutor
from ._tracecontext import attach_remote_context, detach
from .task_store import CheckpointTaskStore

__all__ = ["A2AServer"]

_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_HANDLER_LOG = "a2a.server.request_handlers.default_request_handler_v2"
_NO_EVENT_STREAM = "A VersionedTaskStore was configured without an event_stream"


class _DropNoEventStream(logging.Filter):
    """a2a-sdk warns that a versioned store without an event stream cannot stream across
    replicas; `A2AServer` knows (a subscriber tails the process that runs the task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_NO_EVENT_STREAM)


logging.getLogger(_HANDLER_LOG).addFilter(_DropNoEventStream())


class _TaskContextBuilder(SimpleRequestContextBuilder):
    """Gives a follow-up message that names only its task the task's own context id (a2a-sdk
    would make up a new one, which breaks the task when it is loaded from the store)."""

    def __init__(self, tasks: CheckpointTaskStore) -> None:
        super().__init__()
        self.tasks = tasks

    async def build(
        self,
        context: ServerCallContext,
        params: SendMessageRequest | None = None,
        task_id: str | None = None,
        context_id: str | None = None,
        task: Task | None = None,
    ) -> RequestContext:
        if task_id and not context_id:
            stored = await self.tasks.get(task_id, context)
            if stored is not None:
                context_id = stored.task.context_id
        return await super().build(context, params, task_id, context_id, task)


class A2AServer:
    """Serve a Spine `Agent` as an A2A 1.0 agent: an ASGI app built on a2a-sdk's server.

    Routes, all relative to where the app is mounted:

    - `GET /.well-known/agent-card.json`: the agent card (name, description, one skill per
      tool, streaming capability, a JSON-RPC and an HTTP+JSON interface whose URLs are built
      from the request unless `url` is given);
    - `POST /`: JSON-RPC 2.0 (`SendMessage`, `SendStreamingMessage`, `GetTask`, `ListTasks`,
      `CancelTask`, `SubscribeToTask`);
    - `/rest/...`: the same over HTTP+JSON (`POST /rest/message:send`, `GET /rest/tasks/{id}`,
      ...), unless `http_json=False`.

    Requests must carry `A2A-Version: 1.0`; one without it is a 0.3 request and gets the
    protocol's error (-32009, "version not supported"), as a2a-sdk rules.

    Each A2A context is a Spine session (`<session_prefix><contextId>`), so the turns of a
    context share one conversation. A run that pauses (an approval, a tool's `Interrupt`)
    leaves its task `input-required` with the question as the status message (and the pause's
    kind and data in its metadata under "spine.pause"); the next message on that task is the
    answer and resumes the run. Tasks are records in the agent's checkpoint store (see
    `CheckpointTaskStore`), so a restarted server, or a second server process on the same
    store (e.g. `spine_backends.PostgresCheckpoint`), answers for them.

    Mounting:

        server = A2AServer(agent)
        uvicorn.run(server, host="127.0.0.1", port=8000)  # served at /

        app = Starlette(routes=[Mount("/a2a", app=server)])  # or under a prefix
        # card: /a2a/.well-known/agent-card.json, JSON-RPC: POST /a2a/

    Trace context: when `opentelemetry-api` is installed, a request carrying a W3C
    `traceparent` (or what the global propagator, `OTEL_PROPAGATORS`, reads) is handled in the
    caller's trace: the served agent's `invoke_agent` span (with `spine_otel.OTelMiddleware`)
    is a child of the caller's span, or of a2a-sdk's own server spans when those record (a
    global SDK tracer provider, and `OTEL_INSTRUMENTATION_A2A_SDK_ENABLED` not `false`), which
    then nest under the caller's span too. When a span is current already (an ASGI
    instrumentation in front of this app), it is left as the parent.

    A mounted app gets no lifespan events from Starlette: enter
    `server.router.lifespan_context(server)` in the parent's lifespan, or call
    `await server.aclose()` at shutdown, to stop the tasks still running (served standalone,
    its own lifespan does it).

    Args:
        agent: The agent to serve.
        url: The public base URL for the card's interfaces (default: from each request).
        name: Card name (default `agent.name`, else "Spine agent").
        description: Card description (default: the first line of the system prompt).
        version: The agent's version on the card.
        skills: Card skills (default one per tool of the agent, else one "chat" skill).
        http_json: Also serve the HTTP+JSON binding under `/rest`.
        session_prefix: Prefix of the Spine session id of each context.
        task_prefix: Prefix of the checkpoint record of each task.
        interrupted_task_timeout: Seconds after which an idle input-required task releases
            its in-memory handle (it reloads from the store on the next message); None keeps
            it until the answer comes.
    """

    def __init__(
        self,
        agent: Agent,
        *,
        url: str | None = None,
        name: str | None = None,
        description: str | None = None,
        version: str = "1.0.0",
        skills: Sequence[AgentSkill] | None = None,
        http_json: bool = True,
        session_prefix: str = "a2a:",
        task_prefix: str = "a2a-task:",
        interrupted_task_timeout: float | None = 300.0,
    ) -> None:
        self.agent = agent
        self.url = url.rstrip("/") if url else None
        self.http_json = http_json
        self.task_store = CheckpointTaskStore(
            agent.checkpoint, prefix=task_prefix, tenant_id=agent.tenant_id
        )
        self.executor = SpineExecutor(agent, self.task_store, session_prefix)
        self.card = AgentCard(
            name=name or agent.name or "Spine agent",
            description=description or _describe(agent),
            version=version,
            supported_interfaces=self._interfaces(self.url or "http://127.0.0.1"),
            capabilities=AgentCapabilities(streaming=True, push_notifications=False),
            default_input_modes=["text/plain", "application/json", *_IMAGE_TYPES],
            default_output_modes=["text/plain"],
            skills=list(skills) if skills is not None else _skills(agent),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the same "no event stream" note as above
            self.handler = DefaultRequestHandler(
                agent_executor=self.executor,
                task_store=self.task_store,
                agent_card=self.card,
                request_context_builder=_TaskContextBuilder(self.task_store),
                interrupted_task_timeout=interrupted_task_timeout,
            )
        routes: list[BaseRoute] = [
            Route(AGENT_CARD_WELL_KNOWN_PATH, self._card_endpoint, methods=["GET"]),
            *create_jsonrpc_routes(self.handler, rpc_url="/"),
        ]
        if http_json:
            rest = [r for r in create_rest_routes(self.handler) if not isinstance(r, Mount)]
            routes.append(Mount("/rest", routes=rest))
        self.app = Starlette(routes=routes, lifespan=self._lifespan)

    def _interfaces(self, base: str) -> list[AgentInterface]:
        interfaces = [
            AgentInterface(
                url=f"{base}/",
                protocol_binding=TransportProtocol.JSONRPC,
                protocol_version=PROTOCOL_VERSION_CURRENT,
            )
        ]
        if self.http_json:
            interfaces.append(
                AgentInterface(
                    url=f"{base}/rest",
                    protocol_binding=TransportProtocol.HTTP_JSON,
                    protocol_version=PROTOCOL_VERSION_CURRENT,
                )
            )
        return interfaces

    def card_for(self, base_url: str) -> AgentCard:
        """The agent card with its interfaces at `base_url` (the app's mount point)."""
        card = AgentCard()
        card.CopyFrom(self.card)
        del card.supported_interfaces[:]
        card.supported_interfaces.extend(self._interfaces(base_url.rstrip("/")))
        return card

    async def _card_endpoint(self, request: Request) -> JSONResponse:
        if self.url is not None:
            card = self.card
        else:
            full = str(request.url.replace(query=""))
            card = self.card_for(full.removesuffix(AGENT_CARD_WELL_KNOWN_PATH))
        return JSONResponse(agent_card_to_dict(card))

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await self.aclose()

    @property
    def router(self) -> Router:
        """The Starlette router; an app mounting this one can run its lifespan with
        `server.router.lifespan_context(server)`."""
        return self.app.router

    async def aclose(self) -> None:
        """Stop the tasks still running in this process (their records stay in the store)."""
        await self.handler.aclose()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = attach_remote_context(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            if token is not None:
                detach(token)


def _describe(agent: Agent) -> str:
    if agent.system:
        first = agent.system.strip().splitlines()[0].strip()
        if first:
            return first
    return f"The Spine agent '{agent.label}'."


def _skills(agent: Agent) -> list[AgentSkill]:
    skills = [
        AgentSkill(id=t.name, name=t.name, description=t.description or t.name, tags=["tool"])
        for t in agent.tools.values()
    ]
    if skills:
        return skills
    return [AgentSkill(id="chat", name="chat", description=_describe(agent), tags=["chat"])]
