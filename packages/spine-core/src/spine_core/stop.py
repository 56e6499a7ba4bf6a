"""Why a run stopped."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["StopReason"]


class StopReason(StrEnum):
    """Why a run stopped. Only `final` means the model produced its answer."""

    FINAL = "final"
    MAX_STEPS = "max_steps"
    MAX_COST = "max_cost"
    MAX_TOKENS = "max_tokens"
    TIMEOUT = "timeout"
    MAX_DEPTH = "max_depth"
    LOOP = "loop"
    GUARDRAIL = "guardrail"
    INTERRUPT = "interrupt"
    ERROR = "error"
    CANCELLED = "cancelled"
