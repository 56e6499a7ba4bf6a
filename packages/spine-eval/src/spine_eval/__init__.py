"""spine-eval: evaluate Spine agents on datasets with scorers, pass@k / pass^k and reports."""

from .comparison import CaseDelta, Comparison, compare
from .dataset import Case, Dataset, DatasetError, load_dataset
from .metrics import pass_at_k, pass_hat_k, percentile
from .report import CaseResult, EvalReport, ScorerSummary, Summary, Trial
from .runner import AgentFactory, EvalProgress, TrialHook, evaluate
from .scorers import (
    Contains,
    CostBudget,
    ExactMatch,
    JSONSchema,
    LatencyBudget,
    LLMJudge,
    Regex,
    StructuredMatch,
    ToolCalled,
    ToolTrajectory,
)
from .scoring import Score, Scorer, ScorerSpec, build_scorer, parse_scorer_spec
from .trajectory import ToolCallRecord, tool_calls

__all__ = [
    "AgentFactory",
    "Case",
    "CaseDelta",
    "CaseResult",
    "Comparison",
    "Contains",
    "CostBudget",
    "Dataset",
    "DatasetError",
    "EvalProgress",
    "EvalReport",
    "ExactMatch",
    "JSONSchema",
    "LLMJudge",
    "LatencyBudget",
    "Regex",
    "Score",
    "Scorer",
    "ScorerSpec",
    "ScorerSummary",
    "StructuredMatch",
    "Summary",
    "ToolCallRecord",
    "ToolCalled",
    "ToolTrajectory",
    "Trial",
    "TrialHook",
    "build_scorer",
    "compare",
    "evaluate",
    "load_dataset",
    "parse_scorer_spec",
    "pass_at_k",
    "pass_hat_k",
    "percentile",
    "tool_calls",
]
