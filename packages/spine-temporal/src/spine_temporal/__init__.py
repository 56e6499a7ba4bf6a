"""Durable Spine runs on Temporal: the loop in a workflow, model and tool calls as activities.

```python
agent = TemporalAgent(Agent("anthropic:claude-sonnet-4-6", tools=[refund]), task_queue="spine")
client = await connect("127.0.0.1:7233")
async with agent.worker(client):  # or: spine worker --temporal spec.yaml
    handle = await agent.start(client, "Refund order 42", session_id="s1")
    view = await handle.wait()  # waiting for an approval
    await handle.decide("approve")
    result = await handle.result()
```
"""

from ._payloads import DecisionInput, PendingView, RunRequest, RunView
from .activities import ACTIVITY_NAMES, SpineActivities
from .agent import NON_RETRYABLE_KINDS, ActivityOptions, TemporalAgent
from .binaries import find_binary
from .client import RunHandle, connect, start_run
from .worker import create_worker, run_worker, serve
from .workflow import WORKFLOW_NAME, SpineAgentWorkflow

__all__ = [
    "ACTIVITY_NAMES",
    "NON_RETRYABLE_KINDS",
    "WORKFLOW_NAME",
    "ActivityOptions",
    "DecisionInput",
    "PendingView",
    "RunHandle",
    "RunRequest",
    "RunView",
    "SpineActivities",
    "SpineAgentWorkflow",
    "TemporalAgent",
    "connect",
    "create_worker",
    "find_binary",
    "run_worker",
    "serve",
    "start_run",
]
