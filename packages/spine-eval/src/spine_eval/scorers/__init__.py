"""First-party scorers (each registered under the `spine.scorers` entry point group)."""

from .budgets import CostBudget, LatencyBudget
from .judge import LLMJudge, parse_verdict
from .structured import JSONSchema, StructuredMatch
from .text import Contains, ExactMatch, Regex
from .tools import ToolCalled, ToolTrajectory, tool_calls

__all__ = [
    "Contains",
    "CostBudget",
    "ExactMatch",
    "JSONSchema",
    "LLMJudge",
    "LatencyBudget",
    "Regex",
    "StructuredMatch",
    "ToolCalled",
    "ToolTrajectory",
    "parse_verdict",
    "tool_calls",
]
