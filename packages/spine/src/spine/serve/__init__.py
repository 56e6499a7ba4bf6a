"""`spine serve`: an agent over HTTP, as one ASGI app (Starlette, served by uvicorn).

AG-UI (`POST /ag-ui`), REST (`/runs`, `/sessions`, `/healthz`, `/openapi.json`), A2A
(`/a2a`) and MCP (`/mcp`) when asked for, and the dev UI of `spine dev` at `/`. Install with
`pip install "spine-agents[serve]"`.
"""

from ._app import DEFAULT_MAX_BODY_BYTES, app
from .agui import EventMapper

__all__ = ["DEFAULT_MAX_BODY_BYTES", "EventMapper", "app"]
