"""Spine middleware: reliability, cost and context, safety and behaviour hooks for agents."""

from .cache import Cache
from .circuit_breaker import CircuitBreaker, CircuitOpenError, CircuitState
from .compaction import Compaction
from .content_policy import ContentPolicy
from .cost_tracking import DEFAULT_PRICES, CostTracking, Price
from .idempotency import Claim, Idempotency
from .loop_guard import LoopGuard
from .memory_recall import MemoryRecall
from .model_fallback import ModelFallback
from .pii_redaction import PII_KINDS, PIIRedaction, iban_valid, luhn_valid, redact
from .prompt_injection_screen import DEFAULT_INJECTION_PATTERNS, PromptInjectionScreen
from .rate_limit import RateLimit
from .recorder import RecordedModelCall, RecordedToolResult, Recorder, Recording
from .replayer import Replayer
from .retry import Retry
from .sandbox import Sandbox, SandboxedToolError, SandboxLimitError, SandboxUnavailableError
from .structured_output import StructuredOutput
from .tenant_budget import TenantBudget
from .tool_output_truncation import ToolOutputTruncation
from .tool_timeout import ToolTimeout

__all__ = [
    "DEFAULT_INJECTION_PATTERNS",
    "DEFAULT_PRICES",
    "PII_KINDS",
    "Cache",
    "CircuitBreaker",
    "CircuitOpenError",
    "CircuitState",
    "Claim",
    "Compaction",
    "ContentPolicy",
    "CostTracking",
    "Idempotency",
    "LoopGuard",
    "MemoryRecall",
    "ModelFallback",
    "PIIRedaction",
    "Price",
    "PromptInjectionScreen",
    "RateLimit",
    "RecordedModelCall",
    "RecordedToolResult",
    "Recorder",
    "Recording",
    "Replayer",
    "Retry",
    "Sandbox",
    "SandboxLimitError",
    "SandboxUnavailableError",
    "SandboxedToolError",
    "StructuredOutput",
    "TenantBudget",
    "ToolOutputTruncation",
    "ToolTimeout",
    "iban_valid",
    "luhn_valid",
    "redact",
]
