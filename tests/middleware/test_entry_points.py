from __future__ import annotations

import importlib.metadata

import spine_middleware
from spine_core import resolve

EXPECTED = {
    "retry": "Retry",
    "model_fallback": "ModelFallback",
    "circuit_breaker": "CircuitBreaker",
    "rate_limit": "RateLimit",
    "tool_timeout": "ToolTimeout",
    "idempotency": "Idempotency",
    "cost_tracking": "CostTracking",
    "cache": "Cache",
    "compaction": "Compaction",
    "loop_guard": "LoopGuard",
    "tenant_budget": "TenantBudget",
    "tool_output_truncation": "ToolOutputTruncation",
    "pii_redaction": "PIIRedaction",
    "prompt_injection_screen": "PromptInjectionScreen",
    "content_policy": "ContentPolicy",
    "sandbox": "Sandbox",
    "structured_output": "StructuredOutput",
    "memory_recall": "MemoryRecall",
    "recorder": "Recorder",
    "replayer": "Replayer",
}


def test_every_middleware_is_an_entry_point() -> None:
    names = {ep.name for ep in importlib.metadata.entry_points(group="spine.middleware")}
    assert set(EXPECTED) <= names
    assert len(EXPECTED) == 20


def test_entry_points_build_from_yaml_style_parameters() -> None:
    built = resolve("spine.middleware", "retry", max_attempts=4)
    assert isinstance(built, spine_middleware.Retry) and built.max_attempts == 4
    fallback = resolve("spine.middleware", "model_fallback", models=["test:backup"])
    assert isinstance(fallback, spine_middleware.ModelFallback)
    for name, cls in EXPECTED.items():
        factory = importlib.metadata.entry_points(group="spine.middleware", name=name)
        assert next(iter(factory)).load() is getattr(spine_middleware, cls)
