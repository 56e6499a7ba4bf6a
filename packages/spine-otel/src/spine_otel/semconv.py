"""The names spine-otel emits: span names, attributes, events and metrics, in one table.

Source: the OpenTelemetry semantic conventions for generative AI, now kept in
`open-telemetry/semantic-conventions-genai` (status: Development), as read on 2026-12-01:
the pages "GenAI spans", "GenAI agent and framework spans", "GenAI events" and "GenAI
metrics". The installed `opentelemetry-semantic-conventions` 0.66b2 lags that text and marks
every `gen_ai.*` constant deprecated ("moved"), so Spine keeps its own copy here instead of
importing those constants.
Names under `spine.` are Spine's own (not part of the conventions).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DURATION_BUCKETS_S",
    "SPEC",
    "TOKEN_BUCKETS",
]

SPEC: Final = "OpenTelemetry GenAI semantic conventions (semantic-conventions-genai, 2026-12-01)"

# -- span names: "{gen_ai.operation.name} {subject}" --------------------------------------------
OP_CHAT: Final = "chat"  # span "chat {gen_ai.request.model}", kind CLIENT
OP_INVOKE_AGENT: Final = "invoke_agent"  # "invoke_agent {gen_ai.agent.name}", INTERNAL in-process
OP_EXECUTE_TOOL: Final = "execute_tool"  # "execute_tool {gen_ai.tool.name}", kind INTERNAL
OP_INVOKE_WORKFLOW: Final = "invoke_workflow"  # "invoke_workflow {gen_ai.workflow.name}", INTERNAL

# -- attributes ---------------------------------------------------------------------------------
OPERATION_NAME: Final = "gen_ai.operation.name"
PROVIDER_NAME: Final = "gen_ai.provider.name"  # replaces the deprecated gen_ai.system
AGENT_NAME: Final = "gen_ai.agent.name"
WORKFLOW_NAME: Final = "gen_ai.workflow.name"
CONVERSATION_ID: Final = "gen_ai.conversation.id"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
REQUEST_TOP_P: Final = "gen_ai.request.top_p"
REQUEST_TOP_K: Final = "gen_ai.request.top_k"
REQUEST_SEED: Final = "gen_ai.request.seed"
REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
RESPONSE_MODEL: Final = "gen_ai.response.model"
RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"  # string array
USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"  # includes cached input
USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
TOKEN_TYPE: Final = "gen_ai.token.type"  # metric attribute: "input" | "output"
TOOL_NAME: Final = "gen_ai.tool.name"  # required on execute_tool
TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
TOOL_TYPE: Final = "gen_ai.tool.type"  # "function" | "extension" | "datastore"
TOOL_DESCRIPTION: Final = "gen_ai.tool.description"
RESPONSE_ID: Final = "gen_ai.response.id"
ERROR_TYPE: Final = "error.type"  # stable (opentelemetry.semconv.attributes.error_attributes)

# Opt-in content attributes (recorded only with capture_content=True), as JSON strings.
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"
TOOL_CALL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
TOOL_CALL_RESULT: Final = "gen_ai.tool.call.result"

# The gen_ai.evaluation.result event ("GenAI events"): one per score, parented to the span of
# the operation evaluated when known.
EVENT_EVALUATION_RESULT: Final = "gen_ai.evaluation.result"
EVALUATION_NAME: Final = "gen_ai.evaluation.name"  # required
EVALUATION_SCORE_VALUE: Final = "gen_ai.evaluation.score.value"  # double
EVALUATION_SCORE_LABEL: Final = "gen_ai.evaluation.score.label"  # low cardinality: pass / fail
EVALUATION_EXPLANATION: Final = "gen_ai.evaluation.explanation"

# Spine's own attributes.
SPINE_WORKFLOW_KIND: Final = "spine.workflow.kind"  # sequential | parallel | handoff | graph
SPINE_EVAL_DATASET: Final = "spine.eval.dataset"
SPINE_EVAL_CASE: Final = "spine.eval.case_id"
SPINE_EVAL_REPEAT: Final = "spine.eval.repeat"
SPINE_EVAL_PASSED: Final = "spine.eval.passed"
SPINE_STOP_REASON: Final = "spine.stop_reason"
SPINE_STEPS: Final = "spine.steps"
SPINE_DEPTH: Final = "spine.depth"
SPINE_COST_USD: Final = "spine.cost_usd"  # US dollars
SPINE_CACHED: Final = "spine.cached"  # the response came from a cache, not the provider
SPINE_ATTEMPTS: Final = "spine.attempts"  # retries spent (0 = the first call succeeded)
SPINE_ACTION: Final = "spine.action"  # on a retry event: "retry" | "fallback"
SPINE_LINK_PREVIOUS_RUN: Final = "spine.previous_run"  # link attribute (True)

# -- span events (Spine's own: the conventions define none for retries) ------------------------
EVENT_RETRY: Final = "spine.retry"  # a failed model call that the run retried
EVENT_FALLBACK: Final = "spine.fallback"  # a failed model call retried on another provider

# -- metrics ------------------------------------------------------------------------------------
METRIC_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"  # required, unit "s"
METRIC_TOKEN_USAGE: Final = "gen_ai.client.token.usage"  # recommended, unit "{token}"
METRIC_SPINE_TOOL_CALLS: Final = "spine.tool.calls"  # counter, unit "{call}"
METRIC_SPINE_RUNS: Final = "spine.agent.runs"  # counter by spine.stop_reason, unit "{run}"

# ExplicitBucketBoundaries the conventions specify for the two gen_ai metrics.
DURATION_BUCKETS_S: Final = (
    0.01,
    0.02,
    0.04,
    0.08,
    0.16,
    0.32,
    0.64,
    1.28,
    2.56,
    5.12,
    10.24,
    20.48,
    40.96,
    81.92,
)
TOKEN_BUCKETS: Final = tuple(float(4**i) for i in range(14))  # 1, 4, 16, ... 67108864

# Spine provider names (`Provider.name`) -> gen_ai.provider.name well-known values; other
# names are reported as they are.
PROVIDER_NAMES: Final = {
    "anthropic": "anthropic",
    "openai": "openai",
    "openai-responses": "openai",
    "google": "gcp.gemini",
    "gemini": "gcp.gemini",
}

# Spine FinishReason values -> the conventions' finish-reason values.
FINISH_REASONS: Final = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_call",
    "content_filter": "content_filter",
}
