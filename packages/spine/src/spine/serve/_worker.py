"""The app factory each `spine serve --workers N` process calls (uvicorn imports it by name):
the options travel in the `SPINE_SERVE_OPTIONS` environment variable (JSON)."""

from __future__ import annotations

import json
import os
from typing import Any

from starlette.applications import Starlette

from ._app import app

__all__ = ["ENV", "create"]

ENV = "SPINE_SERVE_OPTIONS"


def create() -> Starlette:
    """The app `spine serve` described in `$SPINE_SERVE_OPTIONS`."""
    options: dict[str, Any] = json.loads(os.environ[ENV])
    spec = options.pop("spec")
    return app(spec, **options)
