"""`spine dev SPEC`: `spine serve` with the local web UI at `/`: chat with streamed tokens,
tool calls inline, approval prompts, the session list, each run's trace timeline and the
eval reports under `.spine/`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .serve_command import HostOpt, LogOpt, ModelOpt, PortOpt, SpecArg, TokenOpt, run_server

__all__ = ["dev", "register"]


def register(app: typer.Typer) -> None:
    """Add the `dev` command to `app`."""
    app.command(no_args_is_help=True)(dev)


def dev(
    spec: SpecArg,
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    token: TokenOpt = None,
    model: ModelOpt = None,
    reports: Annotated[
        Path, typer.Option("--reports", help="Folder of the eval reports to list.")
    ] = Path(".spine"),
    log_level: LogOpt = "warning",
) -> None:
    """Open the agent in SPEC in a local web UI (served with the REST and AG-UI API)."""
    options = {
        "ag_ui": True,
        "ui": True,
        "token": token or None,
        "model": model,
        "reports_dir": str(reports),
    }
    run_server(spec, options, host=host, port=port, workers=1, log_level=log_level,
               label="spine dev")  # fmt: skip
