"""Spine served over MCP: an agent as an MCP tool, and its tools as MCP tools.

Built on the `mcp` SDK 2.3's low-level `Server`, so both protocol eras are served: a
2026-07-28 client (`server/discover`, one request per HTTP POST) and a 2025-11-25 client
(`initialize`, a session). Transports: stdio (`run_stdio`) and streamable HTTP (`asgi_app`,
mounted by `spine serve --mcp` at `/mcp`, or `serve_http` on 127.0.0.1).

While an agent runs, each step, tool call and tool result is sent to the client as a
`notifications/progress` message (when the client's request carried a progress token; MCP
spec, "Progress"), so a long run shows signs of life.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types

from spine_core import (
    Agent,
    Interrupt,
    Result,
    State,
    StopReason,
    Tool,
    ToolCall,
    ToolContext,
    ToolValidationError,
)
from spine_core.tools import tool_output_text
from spine_core.tracing import EventType, TraceEvent

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server
    from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

__all__ = ["MCPApp", "asgi_app", "build_server", "run_stdio", "serve_http"]

LOCAL_HOSTS = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
"""Host headers the HTTP app accepts (DNS-rebinding protection, MCP spec "Security
Warning" of the Streamable HTTP transport)."""
LOCAL_ORIGINS = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]

_PROGRESS_EVENTS = {
    EventType.STEP_START,
    EventType.TOOL_CALL,
    EventType.TOOL_RESULT,
    EventType.INTERRUPT,
    EventType.GUARD_TRIP,
    EventType.ERROR,
    EventType.FINAL,
}


def progress_message(event: TraceEvent) -> str | None:
    """The progress message a trace event becomes, or None for events not reported (token
    deltas, model calls and responses)."""
    data = event.data
    if event.type not in _PROGRESS_EVENTS:
        return None
    if event.type is EventType.STEP_START:
        return f"step {event.step}"
    if event.type is EventType.TOOL_CALL:
        return f"calling tool {data.get('name')}"
    if event.type is EventType.TOOL_RESULT:
        failed = " (error)" if data.get("is_error") else ""
        return f"tool {data.get('name')} done{failed}"
    if event.type is EventType.INTERRUPT:
        return f"paused: {data.get('question', '')}"
    if event.type is EventType.GUARD_TRIP:
        return f"guard tripped: {data.get('reason', '')}"
    if event.type is EventType.ERROR:
        error = data.get("error")
        detail = error.get("message") if isinstance(error, dict) else error
        return f"error: {detail}" if detail else "error"
    return "final answer"


def _agent_tools(agent: Agent, name: str, description: str | None) -> list[types.Tool]:
    run = types.Tool(
        name=name,
        description=description
        or f"Ask the '{agent.label}' agent to do a task; it answers in plain text.",
        input_schema={
            "type": "object",
            "properties": {
                "input": {"type": "string", "description": "The task or question."},
                "session_id": {
                    "type": "string",
                    "description": "Continue this session (from an earlier answer).",
                },
            },
            "required": ["input"],
        },
        output_schema=_RESULT_SCHEMA,
    )
    resume = types.Tool(
        name=f"{name}_resume",
        description=f"Answer a question the '{agent.label}' agent paused on ('approve' or "
        "'reject' for an approval), continuing its run.",
        input_schema={
            "type": "object",
            "properties": {
                "resume_token": {"type": "string", "description": "From the paused answer."},
                "answer": {"type": "string", "description": "The human's answer."},
            },
            "required": ["resume_token", "answer"],
        },
        output_schema=_RESULT_SCHEMA,
    )
    return [run, resume]


_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "answer": {"type": ["string", "null"]},
        "session_id": {"type": "string"},
        "stopped_reason": {"type": "string"},
        "resume_token": {"type": ["string", "null"]},
        "question": {"type": ["string", "null"]},
    },
    "required": ["answer", "session_id", "stopped_reason"],
}


def _result(result: Result) -> types.CallToolResult:
    question = result.interrupt.question if result.interrupt is not None else None
    structured = {
        "answer": result.answer,
        "session_id": result.state.session_id,
        "stopped_reason": result.stopped_reason.value,
        "resume_token": result.resume_token,
        "question": question,
    }
    if result.stopped_reason is StopReason.INTERRUPT:
        text = f"The agent paused and asks: {question}\nresume_token: {result.resume_token}"
    elif result.ok:
        text = result.answer or ""
    else:
        detail = result.error or result.answer or ""
        text = f"The agent stopped ({result.stopped_reason.value})" + (
            f": {detail}" if detail else ""
        )
    failed = not result.ok and result.stopped_reason is not StopReason.INTERRUPT
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structured_content=structured,
        is_error=failed,
    )


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def build_server(
    agent: Agent | None = None,
    *,
    tools: Iterable[Tool] | None = None,
    name: str | None = None,
    tool_name: str | None = None,
    description: str | None = None,
) -> Server[Any]:
    """An MCP server (the SDK's low-level `Server`) offering `agent` and `tools`.

    Args:
        agent: Offered as the tool `tool_name` (default the agent's name, or "agent") taking
            `{"input", "session_id"?}`, plus `"{tool_name}_resume"` taking
            `{"resume_token", "answer"}` for a run that paused for a human. Each returns the
            answer as text and `{"answer", "session_id", "stopped_reason", "resume_token",
            "question"}` as structured content; a run that failed (a guard, an error) is an
            `isError` result. Progress: one notification per step, tool call and tool result.
        tools: Spine tools offered as MCP tools under their own names, with their JSON
            schema as `inputSchema` (default: the agent's tools except those with
            `approve=True`, whose human gate a direct call would bypass). Pass `[]` to offer
            the agent only. A tool with `approve=True` passed here is marked
            `destructiveHint` (the MCP host asks its user before calling tools); a tool that
            raises `Interrupt` gives an `isError` result naming the question.
        name: The server name in `serverInfo` (default the agent's name, or "spine").
        tool_name: The agent tool's name.
        description: The agent tool's description.

    Raises:
        ValueError: neither an agent nor tools, or two offered tools share a name.
    """
    from mcp.server.lowlevel import Server

    if tools is None:  # approval-gated tools: a direct call would bypass the agent's pause
        tools = [t for t in (agent.tools.values() if agent else ()) if not t.approve]
    offered = {t.name: t for t in tools}
    if agent is None and not offered:
        raise ValueError("build_server needs an agent or tools to offer")
    listed: list[types.Tool] = []
    agent_name = tool_name or (agent.name if agent is not None and agent.name else "agent")
    if agent is not None:
        listed.extend(_agent_tools(agent, agent_name, description))
    names = {t.name for t in listed}
    for spine_tool in offered.values():
        if spine_tool.name in names:
            raise ValueError(f"two offered MCP tools are named '{spine_tool.name}'")
        hints = types.ToolAnnotations(destructive_hint=True) if spine_tool.approve else None
        listed.append(
            types.Tool(
                name=spine_tool.name,
                description=spine_tool.description,
                input_schema=spine_tool.parameters or {"type": "object", "properties": {}},
                annotations=hints,
            )
        )

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        if agent is not None and params.name == agent_name:
            text = arguments.get("input")
            if not isinstance(text, str):
                return _error("'input' (a string) is required")
            session_id = arguments.get("session_id")
            stream = agent.stream(text, session_id=session_id if session_id else None)
            return _result(await _drive(ctx, stream))
        if agent is not None and params.name == f"{agent_name}_resume":
            token, answer = arguments.get("resume_token"), arguments.get("answer")
            if not isinstance(token, str) or not isinstance(answer, str):
                return _error("'resume_token' and 'answer' (strings) are required")
            try:
                return _result(await agent.resume(token, answer))
            except Exception as exc:  # ResumeError: a stale or unknown token
                return _error(str(exc))
        found = offered.get(params.name)
        if found is None:
            return _error(f"Unknown tool: {params.name}")
        return await _call_spine_tool(found, arguments)

    label = name or (agent.name if agent is not None and agent.name else "spine")
    return Server(label, on_list_tools=list_tools, on_call_tool=call_tool)


async def _drive(ctx: Any, stream: Any) -> Result:
    """Iterate an agent stream, reporting progress; returns the run's `Result`."""
    count = 0
    async with contextlib.aclosing(stream):
        async for event in stream:
            message = progress_message(event)
            if message is None:
                continue
            count += 1
            await ctx.session.report_progress(count, None, message)
    result: Result = stream.result
    return result


async def _call_spine_tool(found: Tool, arguments: dict[str, Any]) -> types.CallToolResult:
    call = ToolCall(id="mcp", name=found.name, arguments=arguments)
    ctx: ToolContext[Any] = ToolContext(State(session_id="mcp", agent="mcp"), found, call)
    try:
        value = await found.call(arguments, ctx)
    except ToolValidationError as exc:
        return _error(str(exc))
    except Interrupt as exc:
        return _error(
            f"Tool '{found.name}' needs a human answer, which MCP cannot carry here: {exc.question}"
        )
    except Exception as exc:  # the tool's failure is the client's tool error, as in a run
        return _error(f"Error executing tool {found.name}: {exc}")
    text = tool_output_text(value)
    structured = value if isinstance(value, dict) else None
    if structured is None and not isinstance(value, str):
        with contextlib.suppress(TypeError, ValueError):
            parsed = json.loads(text)
            structured = parsed if isinstance(parsed, dict) else None
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)], structured_content=structured
    )


async def run_stdio(agent: Agent | None = None, **options: Any) -> None:
    """Serve `agent` (see `build_server` for `options`) over stdio until stdin closes.

    stdout carries the protocol: log to stderr only.
    """
    from mcp.server.stdio import stdio_server

    server = build_server(agent, **options)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


class MCPApp:
    """The ASGI app of an MCP server over streamable HTTP, served at whatever path it is
    mounted on (``Mount("/mcp", app=asgi_app(agent))``).

    The SDK's session manager must be running while requests arrive. The app starts it on
    an ASGI `lifespan` startup, or from `async with app.lifespan():` in the mounting app's
    own lifespan (Starlette does not forward lifespan events to mounted apps); failing both,
    the first request starts it in a background task that lives until `aclose()` or the
    event loop ends.

    Attributes:
        server: The low-level MCP `Server`.
        manager: The SDK's `StreamableHTTPSessionManager`.
    """

    def __init__(self, server: Server[Any], *, json_response: bool = False) -> None:
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
        from mcp.server.transport_security import TransportSecuritySettings

        security = TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(LOCAL_HOSTS),
            allowed_origins=list(LOCAL_ORIGINS),
        )
        self.server = server
        self.manager: StreamableHTTPSessionManager = StreamableHTTPSessionManager(
            app=server, json_response=json_response, security_settings=security
        )
        self._running = False
        self._starting = anyio.Lock()
        self._stop: anyio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Run the session manager for the block (once per app)."""
        async with self.manager.run():
            self._running = True
            try:
                yield
            finally:
                self._running = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if not self._running:
            await self._start_in_background()
        await self.manager.handle_request(scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        async with self.lifespan():
            await send({"type": "lifespan.startup.complete"})
            while (await receive())["type"] != "lifespan.shutdown":
                pass
        await send({"type": "lifespan.shutdown.complete"})

    async def _start_in_background(self) -> None:
        async with self._starting:
            if self._running:
                return
            started, self._stop = anyio.Event(), anyio.Event()
            stop = self._stop

            async def keep() -> None:
                async with self.lifespan():
                    started.set()
                    await stop.wait()

            self._task = asyncio.get_running_loop().create_task(keep())
            await started.wait()

    async def aclose(self) -> None:
        """Stop a session manager the first request started (a lifespan stops its own)."""
        if self._stop is not None and self._task is not None:
            self._stop.set()
            await self._task
            self._stop = self._task = None


def asgi_app(agent: Agent | None = None, **options: Any) -> MCPApp:
    """The ASGI app serving `agent` over MCP's streamable HTTP transport (see `MCPApp` for
    mounting, `build_server` for `options`).

    Only Host headers of 127.0.0.1, localhost and [::1] (any port) are accepted, against
    DNS rebinding; serve it on 127.0.0.1.
    """
    return MCPApp(build_server(agent, **options))


async def serve_http(
    agent: Agent | None = None,
    *,
    port: int = 0,
    ready: Any = None,
    **options: Any,
) -> None:
    """Serve `agent` over streamable HTTP on 127.0.0.1 with uvicorn until cancelled.

    Args:
        port: TCP port; 0 picks a free one.
        ready: Called with the bound port once the server listens (e.g. to print the URL
            ``http://127.0.0.1:{port}/mcp``; any path is served).
        options: See `build_server`.
    """
    import socket

    import uvicorn

    app = asgi_app(agent, **options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    if ready is not None:
        ready(sock.getsockname()[1])
    try:
        await server.serve([sock])
    finally:
        sock.close()
