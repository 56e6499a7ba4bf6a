"""OpenTelemetry for Spine: traces and metrics by the GenAI semantic conventions, trace context
propagation over HTTP, and eval results as `gen_ai.evaluation.result` events."""

from .evaluation import EvalEvents, emit_eval_results
from .middleware import OTelMiddleware
from .propagation import (
    async_request_hook,
    event_hooks,
    inject_headers,
    request_hook,
    sync_event_hooks,
)

__all__ = [
    "EvalEvents",
    "OTelMiddleware",
    "async_request_hook",
    "emit_eval_results",
    "event_hooks",
    "inject_headers",
    "request_hook",
    "sync_event_hooks",
]
