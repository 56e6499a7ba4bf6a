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


def test_documented_parameters_work_as_yaml_keywords() -> None:
    rate = resolve("spine.middleware", "rate_limit", max_calls=5, per_s=60)
    assert isinstance(rate, spine_middleware.RateLimit) and rate.burst == 5
    cost = resolve("spine.middleware", "cost_tracking", input_per_mtok=3, output_per_mtok=15)
    assert isinstance(cost, spine_middleware.CostTracking) and cost.flat is not None
    compaction = resolve("spine.middleware", "compaction", max_messages=30, keep_last=10)
    assert isinstance(compaction, spine_middleware.Compaction) and compaction.keep_last == 10
    guard = resolve("spine.middleware", "loop_guard", window=6, max_repeats=2)
    assert isinstance(guard, spine_middleware.LoopGuard) and guard.window == 6
    breaker = resolve("spine.middleware", "circuit_breaker", threshold=2, cooldown_s=5)
    assert isinstance(breaker, spine_middleware.CircuitBreaker) and breaker.cooldown_s == 5
    cache = resolve("spine.middleware", "cache", ttl_s=60, max_size=10)
    assert isinstance(cache, spine_middleware.Cache) and cache.max_size == 10
    output = resolve(
        "spine.middleware", "structured_output", schema="spine_core:Usage", key="usage"
    )
    assert isinstance(output, spine_middleware.StructuredOutput) and output.key == "usage"
    budget = resolve("spine.middleware", "tenant_budget", max_cost_usd=5)
    assert isinstance(budget, spine_middleware.TenantBudget)


def test_entry_points_build_from_yaml_style_parameters() -> None:
    built = resolve("spine.middleware", "retry", max_attempts=4)
    assert isinstance(built, spine_middleware.Retry) and built.max_attempts == 4
    fallback = resolve("spine.middleware", "model_fallback", models=["test:backup"])
    assert isinstance(fallback, spine_middleware.ModelFallback)
    for name, cls in EXPECTED.items():
        factory = importlib.metadata.entry_points(group="spine.middleware", name=name)
        assert next(iter(factory)).load() is getattr(spine_middleware, cls)
