"""`app()`: one Starlette app serving an agent over AG-UI, REST, A2A and MCP, and the dev UI."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from pydantic import BaseModel, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from spine_core import Agent, Result, RunStatus, RunStream, TraceEvent

from ._sse import EventStream
from .agui import EventMapper, encode, split_input
from .guard import BearerAuth, BodyLimit, BodyTooLarge, Scrubber
from .models import ResumeRequest, RunRequest, result_view, session_view, summary_view
from .mounts import mount_a2a, mount_mcp
from .openapi import openapi_schema
from .runs import HTTPProblem, Runner

__all__ = ["DEFAULT_MAX_BODY_BYTES", "app"]

DEFAULT_MAX_BODY_BYTES = 1_048_576
"""Largest request body accepted by default (1 MiB); larger ones get a 413."""

UI_DIR = Path(__file__).resolve().parent.parent / "ui"
REPORT_SUFFIXES = (".html", ".json", ".md")
_REPORT_CSP = "sandbox allow-scripts; default-src 'self' 'unsafe-inline' data:"


def app(
    agent_or_spec: Agent | str | os.PathLike[str],
    *,
    ag_ui: bool = True,
    a2a: bool = False,
    mcp: bool = False,
    ui: bool = False,
    token: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    reports_dir: str | os.PathLike[str] = ".spine",
    model: str | None = None,
) -> Starlette:
    """A Starlette (ASGI) app serving one agent.

    Routes: `GET /healthz`, `GET /openapi.json`, `POST /runs`, `GET /sessions`,
    `GET|DELETE /sessions/{id}`, `POST /sessions/{id}/resume`; `POST /ag-ui` (AG-UI
    `RunAgentInput` in, AG-UI events out over SSE) when `ag_ui`; `/a2a` (spine-a2a's
    `A2AServer`) when `a2a`; `/mcp` (spine-mcp's streamable-HTTP server) when `mcp`; the dev
    UI at `/` (with `GET /evals` for the eval reports in `reports_dir`) when `ui`.

    Args:
        agent_or_spec: An `Agent`, or the path of a YAML agent spec (built like `spine run`
            builds it, with the trace records `spine trace` reads; closed at shutdown).
        ag_ui: Serve the AG-UI endpoint.
        a2a: Mount the A2A server (needs spine-a2a).
        mcp: Mount the MCP server (needs spine-mcp).
        ui: Serve the dev UI and the eval reports.
        token: Require `Authorization: Bearer TOKEN` (constant-time compared) on every route
            but `/healthz` and the UI's static files; default `$SPINE_SERVE_TOKEN`, if set.
        max_body_bytes: Largest request body accepted (bytes); larger ones get a 413.
        reports_dir: Where the eval reports are (`spine eval --report .spine/...`).
        model: Overrides the spec's model (for a spec only).

    Raises:
        CliError: the spec is invalid (file, line, what is wrong).
        ImportError: `a2a` or `mcp` without the package that serves it.
    """
    token = token if token is not None else os.environ.get("SPINE_SERVE_TOKEN") or None
    owned: Any = None
    if isinstance(agent_or_spec, Agent):
        agent = agent_or_spec
    else:
        from ..runtime import load

        owned = load(Path(agent_or_spec), model=model)
        agent = owned.agent
    runner = Runner(agent)
    scrub = Scrubber([token])
    reports = Path(reports_dir)
    protocols = ["rest"] + [n for n, on in (("ag-ui", ag_ui), ("a2a", a2a), ("mcp", mcp)) if on]

    def json_response(
        body: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        text = scrub(json.dumps(body, default=_default, ensure_ascii=False))
        return Response(text, status_code=status, media_type="application/json", headers=headers)

    async def read_body(request: Request, model_type: type[BaseModel]) -> Any:
        try:
            raw = await request.body()
        except BodyTooLarge as exc:
            raise HTTPProblem(413, str(exc)) from None
        try:
            data = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _Invalid(
                [{"loc": ["body"], "msg": f"invalid JSON: {exc}", "type": "json_invalid"}]
            ) from None
        try:
            return model_type.model_validate(data)
        except ValidationError as exc:
            raise _Invalid(
                [
                    {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False, include_input=False)
                ]
            ) from None

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok", "agent": agent.label, "protocols": protocols})

    async def openapi(request: Request) -> Response:
        return json_response(openapi_schema(agent.label, ag_ui=ag_ui, ui=ui))

    async def post_runs(request: Request) -> Response:
        body: RunRequest = await read_body(request, RunRequest)
        session_id = body.session_id or uuid.uuid4().hex
        await runner.check_can_run(body.session_id)
        if body.mode == "background":
            runner.start_background(session_id, body.input)
            return json_response(
                {"session_id": session_id, "status": RunStatus.RUNNING.value},
                202,
                {"location": f"/sessions/{session_id}"},
            )
        if body.mode == "stream":
            return EventStream(
                _rest_events(runner.stream(body.input, session_id=session_id), scrub)
            )
        result = await runner.run(body.input, session_id=session_id)
        return json_response(result_view(result))

    async def list_sessions(request: Request) -> Response:
        status = request.query_params.get("status")
        if status is not None and status not in {s.value for s in RunStatus}:
            allowed = ", ".join(s.value for s in RunStatus)
            raise _Invalid(
                [{"loc": ["query", "status"], "msg": f"must be one of: {allowed}", "type": "enum"}]
            )
        tenant = request.query_params.get("tenant_id")
        found = await runner.store.list(tenant_id=tenant, status=status)
        found.sort(key=lambda info: info.updated_at, reverse=True)
        return json_response(
            {"sessions": [summary_view(i) for i in found if "/" not in i.session_id]}
        )

    async def get_session(request: Request) -> Response:
        state = await runner.session(request.path_params["session_id"])
        view = session_view(state)
        view["running"] = state.session_id in runner.background
        return json_response(view)

    async def delete_session(request: Request) -> Response:
        await runner.delete(request.path_params["session_id"])
        return Response(status_code=204)

    async def resume_session(request: Request) -> Response:
        session_id = request.path_params["session_id"]
        body: ResumeRequest = await read_body(request, ResumeRequest)
        await runner.claim_resume(session_id, body.decision, answer=body.answer, reason=body.reason)
        if body.mode == "stream":
            return EventStream(_rest_events(runner.continue_stream(session_id), scrub))
        return json_response(result_view(await runner.resume(session_id)))

    async def agui(request: Request) -> Response:
        from ag_ui.core import RunAgentInput

        run_input: RunAgentInput = await read_body(request, RunAgentInput)
        thread = run_input.thread_id
        announced: list[str] = []
        if run_input.resume:
            entry = run_input.resume[0]
            decision: Any = entry.payload
            if entry.status == "cancelled":
                decision = {"decision": "reject", "reason": "the user cancelled the request"}
            elif decision is None:  # resolved with no payload: approved, or an empty answer
                paused = (await runner.session(thread)).pending
                decision = "approve" if paused is None or paused.kind == "approval" else ""
            interrupt_id = entry.interrupt_id or None
            await runner.claim_resume(thread, decision, interrupt_id=interrupt_id)
            announced = [c.id for c in (await runner.session(thread)).pending_tool_calls()]
            stream = runner.continue_stream(thread)
        else:
            history, new = split_input(run_input)
            if not new:
                raise _Invalid(
                    [
                        {
                            "loc": ["body", "messages"],
                            "msg": "the last message must be a user message (or send resume)",
                            "type": "value_error",
                        }
                    ]
                )
            await runner.check_can_run(thread)
            text = new[0].text if len(new) == 1 else None
            stream = runner.stream(
                text if text is not None else new, session_id=thread, message_history=history
            )
        mapper = EventMapper(thread, run_input.run_id)
        mapper.started_before(announced)
        return EventStream(_agui_events(mapper, stream, scrub))

    async def list_reports(request: Request) -> Response:
        return json_response({"reports": await anyio.to_thread.run_sync(_reports, reports)})

    async def get_report(request: Request) -> Response:
        name = request.path_params["name"]
        target = await anyio.to_thread.run_sync(_report_path, reports, name)
        if target is None:
            raise HTTPProblem(404, f"no eval report '{name}'")
        headers = {"content-security-policy": _REPORT_CSP}
        return FileResponse(target, headers=headers)

    async def index(request: Request) -> Response:
        return FileResponse(UI_DIR / "index.html", headers={"cache-control": "no-cache"})

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/runs", post_runs, methods=["POST"]),
        Route("/sessions", list_sessions, methods=["GET"]),
        Route("/sessions/{session_id:path}/resume", resume_session, methods=["POST"]),
        Route("/sessions/{session_id:path}", get_session, methods=["GET"]),
        Route("/sessions/{session_id:path}", delete_session, methods=["DELETE"]),
    ]
    if ag_ui:
        routes.append(Route("/ag-ui", agui, methods=["POST"]))
    if ui:
        routes += [
            Route("/", index, methods=["GET"]),
            Route("/evals", list_reports, methods=["GET"]),
            Route("/evals/{name:path}", get_report, methods=["GET"]),
            Mount("/ui", app=StaticFiles(directory=UI_DIR), name="ui"),
        ]
    mounted: list[ASGIApp] = []
    if a2a:
        mounted.append(mount_a2a(agent))
        routes.append(Mount("/a2a", app=mounted[-1]))
    if mcp:
        mounted.append(mount_mcp(agent))
        routes.append(Mount("/mcp", app=mounted[-1]))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if owned is not None:
                await stack.enter_async_context(owned)
            for sub in mounted:  # a mounted Starlette app's lifespan does not run by itself
                router = getattr(sub, "router", None)
                if router is not None and hasattr(router, "lifespan_context"):
                    await stack.enter_async_context(router.lifespan_context(sub))
            async with anyio.create_task_group() as tg:
                runner.task_group = tg
                try:
                    yield
                finally:
                    runner.task_group = None
                    tg.cancel_scope.cancel()  # background runs checkpoint themselves as cancelled

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPProblem)
        return json_response({"detail": exc.detail}, exc.status)

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, _Invalid)
        return json_response({"detail": exc.errors}, 422)

    async def crashed(request: Request, exc: Exception) -> Response:
        return json_response({"detail": f"internal error ({type(exc).__name__})"}, 500)

    starlette = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPProblem: problem, _Invalid: invalid, Exception: crashed},
    )
    starlette.state.runner = runner
    open_paths = ("/healthz", "/", "/ui/") if ui else ("/healthz",)
    if mounted:  # `/mcp` and `/a2a` themselves are the protocol endpoints, not redirects
        prefixes = tuple(p for p, on in (("/a2a", a2a), ("/mcp", mcp)) if on)
        starlette.add_middleware(_MountRoots, prefixes=prefixes)
    starlette.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    starlette.add_middleware(BearerAuth, token=token, open_paths=open_paths)
    return starlette


class _MountRoots:
    """Serve a request for a mount's bare prefix (`/mcp`) as its root (`/mcp/`): MCP and A2A
    clients post to the URL they are given, and do not follow a redirect on POST."""

    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.prefixes:
            scope = dict(scope, path=scope["path"] + "/", raw_path=None)
        await self.app(scope, receive, send)


class _Invalid(Exception):
    """A 422: the request's fields that failed validation."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors[0]["msg"] if errors else "invalid request")
        self.errors = errors


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _frame(event: str, data: Any, scrub: Callable[[str], str]) -> str:
    payload = scrub(json.dumps(data, default=_default, ensure_ascii=False))
    return f"event: {event}\ndata: {payload}\n\n"


# Seconds a closed stream may take to checkpoint its cancelled run (the kernel allows 5).
_CLOSE_S = 10.0


async def _close(stream: RunStream, *, began: bool) -> None:
    """Close `stream` (a run still going is cancelled and checkpointed as cancelled). A
    stream whose start failed has no run: `RunStream.aclose` would wait for one forever."""
    if not began:
        return
    with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_S):
        await stream.aclose()


async def _rest_events(stream: RunStream, scrub: Callable[[str], str]) -> AsyncIterator[str]:
    """`POST /runs` streaming: each trace event as `event: <type>`, then `event: result`."""
    began = True
    seen = False
    try:
        async for event in stream:
            seen = True
            yield _frame(event.type.value, _event_dict(event), scrub)
        if stream.result is not None:
            yield _frame("result", result_view(stream.result), scrub)
    except Exception as exc:
        began = seen
        yield _frame("error", {"detail": _explain(exc)}, scrub)
    finally:
        await _close(stream, began=began)


async def _agui_events(
    mapper: EventMapper, stream: RunStream, scrub: Callable[[str], str]
) -> AsyncIterator[str]:
    """The AG-UI event stream of one run (see `spine.serve.agui`)."""
    from ag_ui.core import RunErrorEvent

    began = True
    seen = False
    try:
        for out in mapper.start():
            yield scrub(encode(out))
        async for event in stream:
            seen = True
            for out in mapper.map(event):
                yield scrub(encode(out))
        result: Result | None = stream.result
        for out in mapper.finish(result):
            yield scrub(encode(out))
    except Exception as exc:
        began = seen
        if not mapper.finished:
            mapper.finished = True
            yield scrub(encode(RunErrorEvent(message=_explain(exc), code=type(exc).__name__)))
    finally:
        await _close(stream, began=began)


def _event_dict(event: TraceEvent) -> dict[str, Any]:
    return {"type": event.type.value, "step": event.step, "ts": event.ts, "data": event.data}


def _explain(exc: BaseException) -> str:
    from ..diagnose import explain

    return " ".join(explain(exc).split())


def _report_path(folder: Path, name: str) -> Path | None:
    """The report file `name` under `folder`, or None (missing, not a report, outside it)."""
    base = folder.resolve()
    target = (base / name).resolve()
    if not target.is_relative_to(base) or target.suffix not in REPORT_SUFFIXES:
        return None
    return target if target.is_file() else None


def _reports(folder: Path) -> list[dict[str, Any]]:
    """The eval reports under `folder` (its top level and one level down), newest first."""
    if not folder.is_dir():
        return []
    found: list[dict[str, Any]] = []
    for path in [*folder.glob("*"), *folder.glob("*/*")]:
        if path.suffix not in REPORT_SUFFIXES or not path.is_file():
            continue
        item: dict[str, Any] = {
            "name": path.relative_to(folder).as_posix(),
            "format": path.suffix.lstrip("."),
            "bytes": path.stat().st_size,
            "modified": path.stat().st_mtime,
        }
        if path.suffix == ".json":
            item["summary"] = _report_summary(path)
        found.append(item)
    found.sort(key=lambda r: r["modified"], reverse=True)
    return found


def _report_summary(path: Path) -> dict[str, Any] | None:
    """The headline figures of a JSON eval report (pass rate, cases, cost), when it is one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    keys = (
        "pass_rate",
        "cases",
        "trials",
        "cost_usd",
        "error_rate",
        "latency_p50_s",
        "latency_p95_s",
    )
    summary = {k: data[k] for k in keys if k in data and not isinstance(data[k], dict | list)}
    if "cases" in data and isinstance(data["cases"], list):
        summary["cases"] = len(data["cases"])
    return summary or None
