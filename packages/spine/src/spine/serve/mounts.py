"""The A2A and MCP servers of an agent, as ASGI apps to mount beside AG-UI and REST.

Both packages are optional and imported only when asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from starlette.types import ASGIApp

from spine_core import Agent

__all__ = ["mount_a2a", "mount_mcp"]


def mount_a2a(agent: Agent) -> ASGIApp:
    """`spine_a2a.A2AServer(agent)`: the agent as an A2A server (agent card, message/send,
    streaming, tasks).

    Raises:
        ImportError: spine-a2a (or its server) is not installed.
    """
    module = _module("spine_a2a", "a2a")
    server = getattr(module, "A2AServer", None)
    if server is None:
        raise ImportError("spine_a2a.A2AServer is not available in the installed spine-a2a")
    built: Any = server(agent)
    return _asgi(built)


def mount_mcp(agent: Agent) -> ASGIApp:
    """`spine_mcp.server.asgi_app(agent)`: the agent as an MCP server over streamable HTTP.

    Raises:
        ImportError: spine-mcp (or its server) is not installed.
    """
    _module("spine_mcp", "mcp")
    try:
        server = importlib.import_module("spine_mcp.server")
    except ImportError as exc:
        raise ImportError(f"spine_mcp.server is not available: {exc}") from None
    factory = getattr(server, "asgi_app", None)
    if factory is None:
        raise ImportError("spine_mcp.server.asgi_app is not available in the installed spine-mcp")
    return _asgi(factory(agent))


def _module(name: str, extra: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(
            f"serving {extra.upper()} needs {name.replace('_', '-')}: "
            f'pip install "spine-agents[{extra}]"'
        ) from None


def _asgi(value: Any) -> ASGIApp:
    """The ASGI app of `value`: itself when callable, else its `app` / `asgi_app()`."""
    for attr in ("asgi_app", "app"):
        inner = getattr(value, attr, None)
        if inner is not None and not callable(value):
            value = inner() if attr == "asgi_app" and callable(inner) else inner
            break
    if not callable(value):
        raise TypeError(f"{type(value).__name__} is not an ASGI app")
    result: ASGIApp = value
    return result
