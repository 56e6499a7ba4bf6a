"""OpenTelemetry for Spine (GenAI semantic conventions)."""
