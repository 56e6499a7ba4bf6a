"""`spine serve SPEC`: the agent over HTTP (AG-UI, REST, A2A, MCP) on uvicorn.

Binds 127.0.0.1:8000 by default; `--port 0` picks a free port. The first line on stderr says
where it listens: `spine serve: agent 'NAME' on http://HOST:PORT (rest, ag-ui)`.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .runtime import CliError

__all__ = ["register", "run_server", "serve"]

SpecArg = Annotated[Path, typer.Argument(help="The agent spec (YAML).", show_default=False)]
HostOpt = Annotated[str, typer.Option("--host", help="Interface to bind (default loopback only).")]
PortOpt = Annotated[int, typer.Option("--port", help="TCP port (0: a free one).")]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="SPINE_SERVE_TOKEN",
        help="Require 'Authorization: Bearer TOKEN' (also $SPINE_SERVE_TOKEN).",
        show_default=False,
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Override the spec's model.", metavar="SCHEME:MODEL"),
]
MaxBodyOpt = Annotated[
    int, typer.Option("--max-body-bytes", help="Largest request body accepted (bytes).")
]
LogOpt = Annotated[str, typer.Option("--log-level", help="uvicorn's log level.")]


def register(app: typer.Typer) -> None:
    """Add the `serve` command to `app`."""
    app.command(no_args_is_help=True)(serve)


def serve(
    spec: SpecArg,
    ag_ui: Annotated[bool, typer.Option("--ag-ui", help="Serve AG-UI at /ag-ui.")] = False,
    a2a: Annotated[bool, typer.Option("--a2a", help="Mount the A2A server at /a2a.")] = False,
    mcp: Annotated[bool, typer.Option("--mcp", help="Mount the MCP server at /mcp.")] = False,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Worker processes (need a shared store).")
    ] = 1,
    token: TokenOpt = None,
    model: ModelOpt = None,
    max_body_bytes: MaxBodyOpt = 1_048_576,
    log_level: LogOpt = "warning",
) -> None:
    """Serve the agent in SPEC over HTTP: REST (/runs, /sessions, /healthz, /openapi.json),
    AG-UI (/ag-ui; the default when no protocol is named), A2A (/a2a) and MCP (/mcp)."""
    if not (ag_ui or a2a or mcp):
        ag_ui = True
    options: dict[str, Any] = {
        "ag_ui": ag_ui,
        "a2a": a2a,
        "mcp": mcp,
        "token": token or None,
        "max_body_bytes": max_body_bytes,
        "model": model,
    }
    run_server(spec, options, host=host, port=port, workers=workers, log_level=log_level)


def run_server(
    spec: Path,
    options: dict[str, Any],
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    label: str = "spine serve",
) -> None:
    """Build the app for `spec` with `options` (the keyword arguments of `spine.serve.app`)
    and serve it until Ctrl-C.

    Raises:
        CliError: a bad spec, a missing extra, a port in use, or several workers on a store
            only one process can see.
    """
    try:
        import uvicorn
        from uvicorn.supervisors import Multiprocess
    except ImportError:
        raise CliError('spine serve needs uvicorn: pip install "spine-agents[serve]"') from None
    from .runtime import load
    from .serve import app as build_app
    from .serve._worker import ENV

    try:
        if workers > 1:
            loaded = load(spec, model=options.get("model"))  # a bad spec fails here, in one line
            name = loaded.agent.label
            if loaded.info.kind == "memory":
                raise CliError(
                    f"--workers {workers} needs a store every worker shares (sqlite, redis or "
                    "postgres); the spec's checkpoint is the in-memory store of one process"
                )
            os.environ[ENV] = json.dumps({"spec": str(spec.resolve()), **options})
            config = uvicorn.Config(
                "spine.serve._worker:create",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                timeout_graceful_shutdown=5,
            )
        else:
            asgi = build_app(spec, **options)
            name = asgi.state.runner.agent.label
            config = uvicorn.Config(
                asgi, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=5
            )
    except ImportError as exc:
        raise CliError(str(exc)) from None
    try:
        sock = config.bind_socket()
    except SystemExit:
        raise CliError(f"cannot listen on {host}:{port} (in use, or not allowed)") from None
    bound = sock.getsockname()[1]
    protocols = ["rest"] + [
        p for p, on in (("ag-ui", options.get("ag_ui")), ("a2a", options.get("a2a")),
                        ("mcp", options.get("mcp"))) if on
    ]  # fmt: skip
    shown = f"[{host}]" if ":" in host else host
    where = f"http://{shown}:{bound}"
    print(f"{label}: agent '{name}' on {where} ({', '.join(protocols)})", file=sys.stderr)
    if options.get("ui"):
        print(f"{label}: open {where}/ in a browser", file=sys.stderr)
    sys.stderr.flush()
    try:
        if workers > 1:
            Multiprocess(config, sockets=[sock]).run()
        else:
            uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
