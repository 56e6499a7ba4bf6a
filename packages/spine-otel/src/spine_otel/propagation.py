"""W3C trace context over HTTP: `traceparent` / `tracestate` headers for outgoing requests, so
an A2A agent or a streamable-HTTP MCP server continues the caller's trace.

Two ways in, neither needing the HTTP client to import OpenTelemetry:

- `inject_headers(headers)`: adds the current context's headers (the global propagator; W3C
  trace context and baggage by default) to a dict the client is about to send;
- `event_hooks()` / `async_request_hook` / `request_hook`: httpx and httpx2 request event hooks
  that do the same for every request of a client::

      client = httpx2.AsyncClient(event_hooks=spine_otel.event_hooks())
      MCPToolset(url=..., http_client=client)

  A request made while an `execute_tool` span is current carries that span as its parent
  (the MCP SDK 2.x streamable-HTTP transport posts in the context of the task that sent the
  request, so a tool's MCP call carries the tool's span; the SDK also puts the same context
  in the request's `params._meta`, per SEP-414). A request that already has a `traceparent`
  header is left alone, and one made outside any span gets none.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, MutableMapping
from typing import Any, Protocol

from opentelemetry import propagate, trace
from opentelemetry.context import Context

__all__ = [
    "async_request_hook",
    "event_hooks",
    "inject_headers",
    "request_hook",
    "sync_event_hooks",
]

TRACEPARENT = "traceparent"


class HTTPRequest(Protocol):
    """What the hooks need of an httpx / httpx2 `Request`."""

    @property
    def headers(self) -> MutableMapping[str, str]: ...


def inject_headers(
    headers: MutableMapping[str, str] | None = None, *, context: Context | None = None
) -> MutableMapping[str, str]:
    """Add the trace context headers of `context` (default: the current one) to `headers`.

    Uses the global propagator (`opentelemetry.propagate`, W3C `traceparent` / `tracestate`
    and `baggage` unless `OTEL_PROPAGATORS` says otherwise). With no valid current span
    nothing is added.

    Args:
        headers: The outgoing headers, changed in place (default: a new dict).
        context: The context to propagate (default: the current one).

    Returns:
        `headers` (or the new dict).
    """
    carrier: MutableMapping[str, str] = {} if headers is None else headers
    propagate.inject(carrier, context=context)
    return carrier


def request_hook(request: HTTPRequest) -> None:
    """httpx / httpx2 request event hook (sync clients): adds the current trace context's
    `traceparent` / `tracestate` to `request`, unless it has a `traceparent` already."""
    headers = request.headers
    if TRACEPARENT not in headers and trace.get_current_span().get_span_context().is_valid:
        propagate.inject(headers)


async def async_request_hook(request: HTTPRequest) -> None:
    """`request_hook` for `httpx.AsyncClient` / `httpx2.AsyncClient`, whose hooks are async."""
    request_hook(request)


def event_hooks() -> dict[str, list[Callable[[Any], Coroutine[Any, Any, None]]]]:
    """`event_hooks=` for an `httpx.AsyncClient` / `httpx2.AsyncClient`:
    `{"request": [async_request_hook]}`."""
    return {"request": [async_request_hook]}


def sync_event_hooks() -> dict[str, list[Callable[[Any], None]]]:
    """`event_hooks=` for a sync `httpx.Client` / `httpx2.Client`: `{"request": [request_hook]}`."""
    return {"request": [request_hook]}
