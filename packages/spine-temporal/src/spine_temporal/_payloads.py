"""What crosses the Temporal boundary: activity inputs and outputs, the run request, human
decisions and the run's status view. All pydantic models, carried by the pydantic data
converter (`temporalio.contrib.pydantic.pydantic_data_converter`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from spine_core import Message, State, ToolCall

__all__ = [
    "DecisionInput",
    "ModelRequest",
    "PendingView",
    "RunRequest",
    "RunView",
    "SaveRequest",
    "ToolOutcome",
    "ToolRequest",
]


class RunRequest(BaseModel):
    """The input of one `SpineAgentWorkflow` run.

    Attributes:
        agent: The agent's name, as registered on the worker (`Agent.label`).
        input: The user's message (text or messages); None continues the stored session.
        session_id: The Spine session this run belongs to.
        message_history: Messages that seed a new session (see `Agent.run`).
        settings: Provider settings for this run only.
        approval_timeout_s: Seconds a pause waits for a human before the run ends interrupted
            (None: wait without limit).
    """

    model_config = ConfigDict(extra="forbid")

    agent: str
    input: str | list[Message] | None = None
    session_id: str
    message_history: list[Message] | None = None
    settings: dict[str, Any] | None = None
    approval_timeout_s: float | None = None


class ModelRequest(BaseModel):
    """The input of the `spine.model` activity: one provider call."""

    agent: str
    messages: list[Message]
    tools: list[dict[str, Any]] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)


class ToolRequest(BaseModel):
    """The input of the `spine.tool` activity: one tool call.

    Attributes:
        agent: The agent's name.
        session_id: The Spine session (the tool sees it as `ctx.session_id`).
        tenant_id: The session's tenant.
        depth: The session's delegation depth.
        step: The step the call belongs to.
        call: The model's tool call.
        args: The arguments after `before_tool` middleware (validated on the worker).
        decision: A human decision forwarded to the tool (sub-agents), as `Decision` fields.
    """

    agent: str
    session_id: str
    tenant_id: str | None = None
    depth: int = 0
    step: int = 0
    call: ToolCall
    args: dict[str, Any]
    decision: dict[str, Any] | None = None


class ToolOutcome(BaseModel):
    """What the `spine.tool` activity returns.

    Attributes:
        kind: "result" (the tool returned), "invalid" (its arguments did not validate; the
            model is told), "interrupt" (it asked a human) or "error" (it raised an error the
            retry policy does not retry; the model is told).
        text: The result text, the validation message, or the error message.
        error_type: The exception's class name, for "error".
        question, data, interrupt_kind: The tool's `Interrupt`, for "interrupt".
    """

    kind: Literal["result", "invalid", "interrupt", "error"]
    text: str = ""
    error_type: str | None = None
    question: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    interrupt_kind: Literal["approval", "input"] = "input"


class SaveRequest(BaseModel):
    """The input of the `spine.save` activity: write the session to the agent's store."""

    agent: str
    state: State
    expected_revision: int


class DecisionInput(BaseModel):
    """A human's decision on the pending pause (sent by signal or update).

    Attributes:
        decision: As `Agent.resume`'s `decision` ("approve", True, a rejection text...).
        answer: A tool `Interrupt`'s answer (as `Agent.resume`'s `answer`).
        reason: Why a call was rejected (shown to the model).
        interrupt_id: The pause this decision is for (`PendingView.id`); None: the current one.
    """

    decision: Any = "approve"
    answer: Any = None
    reason: str | None = None
    interrupt_id: str | None = None


class PendingView(BaseModel):
    """The pause a run waits on."""

    id: str
    kind: Literal["approval", "input"]
    question: str
    tool_call: ToolCall
    data: dict[str, Any] = Field(default_factory=dict)


class RunView(BaseModel):
    """A run's progress, from the `status` query.

    Attributes:
        session_id: The Spine session.
        phase: "running", "waiting" (for a human decision) or "done".
        steps: Model calls made so far in this run (across its resumes).
        pending: The pause waited on, when waiting.
        waited_s: Seconds of workflow time spent waiting for humans so far.
    """

    session_id: str
    phase: Literal["running", "waiting", "done"]
    steps: int = 0
    pending: PendingView | None = None
    waited_s: float = 0.0
