"""OpenTelemetry for Spine: traces and metrics by the GenAI semantic conventions."""

from .middleware import OTelMiddleware

__all__ = ["OTelMiddleware"]
