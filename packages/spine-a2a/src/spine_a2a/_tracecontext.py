"""W3C trace context over A2A's HTTP, when OpenTelemetry (`opentelemetry-api`) is installed.

Client side, `inject_request_hook` is an httpx request event hook that adds the current
context's headers (`traceparent` / `tracestate`, and `baggage`; whatever the global propagator,
`OTEL_PROPAGATORS`, writes) to each request made while a span is current. Server side,
`attach_remote_context` continues the caller's trace for the duration of an ASGI request. Both
do nothing when `opentelemetry` cannot be imported (then nothing records spans either).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Mapping
from contextvars import Token
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from opentelemetry.context import Context

TRACEPARENT = "traceparent"


@functools.cache
def available() -> bool:
    """Whether the OpenTelemetry API can be imported (checked once per process)."""
    try:
        importlib.import_module("opentelemetry.propagate")  # imports context and trace too
    except ImportError:
        return False
    return True


async def inject_request_hook(request: httpx.Request) -> None:
    """httpx request event hook: adds the current trace context to `request`'s headers.

    Left alone: a request that has a `traceparent` already (the caller's own, or one added by
    another hook such as `spine_otel.event_hooks()`), and one made outside any valid span.
    """
    if TRACEPARENT in request.headers or not available():
        return
    from opentelemetry import propagate, trace

    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(request.headers)


def add_request_hook(client: httpx.AsyncClient) -> None:
    """Add `inject_request_hook` to `client`'s request hooks (once; not when OpenTelemetry is
    missing)."""
    if not available():
        return
    hooks = client.event_hooks
    if inject_request_hook not in hooks.get("request", []):
        client.event_hooks = {**hooks, "request": [*hooks.get("request", []), inject_request_hook]}


def attach_remote_context(scope: Mapping[str, Any]) -> Token[Context] | None:
    """Make the trace context of an incoming HTTP request (ASGI `scope`) current.

    Returns the token to pass to `detach`, or None when nothing was attached: OpenTelemetry is
    missing, the request carries no valid trace context, or a span is current already (an ASGI
    instrumentation in front of the app has continued the caller's trace itself).
    """
    if scope.get("type") != "http" or not available():
        return None
    from opentelemetry import context, propagate, trace

    if trace.get_current_span().get_span_context().is_valid:
        return None
    carrier = {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", ())
    }
    remote = propagate.extract(carrier)
    if not trace.get_current_span(remote).get_span_context().is_valid:
        return None
    return context.attach(remote)


def detach(token: Token[Context]) -> None:
    """Restore the context that `attach_remote_context` replaced."""
    from opentelemetry import context

    context.detach(token)
