"""Spine's kernel: the agent loop, tools, middleware, state, storage contracts and registries."""

from .agent import Agent
from .chain import MiddlewareChain
from .checkpoint import CheckpointInfo, CheckpointStore, InMemoryCheckpointStore
from .context import Decision, StepContext, ToolContext
from .doubles import FunctionProvider, ScriptedProvider, TestProvider
from .errors import (
    CheckpointConflict,
    OutputValidationError,
    PluginNotFoundError,
    ProviderError,
    ProviderErrorKind,
    ResumeError,
    SpineError,
    ToolValidationError,
    parse_retry_after,
)
from .guards import Guards
from .kv import InMemoryKeyValueStore, KeyValueStore
from .loop import LoopBound, current_loop
from .memory import Embedder, Memory, MemoryHit, MemoryRecord
from .messages import (
    FinishReason,
    ImagePart,
    Message,
    ModelResponse,
    Part,
    Role,
    TextPart,
    Thinking,
    ToolCall,
    Usage,
    normalize_finish_reason,
)
from .middleware import ErrorAction, Middleware, StopRun
from .provider import (
    ChunkType,
    Provider,
    StreamChunk,
    StreamingProvider,
    ToolSchema,
    provider_model,
    provider_name,
)
from .registry import (
    available,
    lookup,
    register_checkpoint,
    register_embedder,
    register_memory,
    register_middleware,
    register_provider,
    register_scorer,
    resolve,
    resolve_provider,
)
from .result import Result
from .state import STATE_VERSION, InterruptRequest, RunStatus, State, migrate
from .stop import StopReason
from .stream import RunStream
from .tools import Interrupt, Tool, raw_tool, tool, tool_output_text
from .tracing import EventType, TraceEvent, Tracer

__version__ = "0.1.0"

__all__ = [
    "STATE_VERSION",
    "Agent",
    "CheckpointConflict",
    "CheckpointInfo",
    "CheckpointStore",
    "ChunkType",
    "Decision",
    "Embedder",
    "ErrorAction",
    "EventType",
    "FinishReason",
    "FunctionProvider",
    "Guards",
    "ImagePart",
    "InMemoryCheckpointStore",
    "InMemoryKeyValueStore",
    "Interrupt",
    "InterruptRequest",
    "KeyValueStore",
    "LoopBound",
    "Memory",
    "MemoryHit",
    "MemoryRecord",
    "Message",
    "Middleware",
    "MiddlewareChain",
    "ModelResponse",
    "OutputValidationError",
    "Part",
    "PluginNotFoundError",
    "Provider",
    "ProviderError",
    "ProviderErrorKind",
    "Result",
    "ResumeError",
    "Role",
    "RunStatus",
    "RunStream",
    "ScriptedProvider",
    "SpineError",
    "State",
    "StepContext",
    "StopReason",
    "StopRun",
    "StreamChunk",
    "StreamingProvider",
    "TestProvider",
    "TextPart",
    "Thinking",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolSchema",
    "ToolValidationError",
    "TraceEvent",
    "Tracer",
    "Usage",
    "available",
    "current_loop",
    "lookup",
    "migrate",
    "normalize_finish_reason",
    "parse_retry_after",
    "provider_model",
    "provider_name",
    "raw_tool",
    "register_checkpoint",
    "register_embedder",
    "register_memory",
    "register_middleware",
    "register_provider",
    "register_scorer",
    "resolve",
    "resolve_provider",
    "tool",
    "tool_output_text",
]
