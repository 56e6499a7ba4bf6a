"""An agent built only from a2a-sdk's own server classes (no Spine), served over JSON-RPC or
HTTP+JSON: the reference side of the client interop tests.

It answers "Hello, <text>!" as an artifact streamed in two chunks; a message starting with
"paint" asks "Which color?" (input-required) and then answers "Painted <color>."; "fail"
fails the task.
"""

from __future__ import annotations

from a2a.helpers import get_message_text, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes, create_rest_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Part,
    Role,
    Task,
    TaskState,
    TaskStatus,
)
from starlette.applications import Starlette
from starlette.routing import BaseRoute


class PainterExecutor(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task
        waiting = task is not None and task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        assert context.message is not None
        task_id = str(context.task_id)
        context_id = task.context_id if task is not None else str(context.context_id)
        if task is None:
            await event_queue.enqueue_event(
                Task(
                    id=task_id,
                    context_id=context_id,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                    history=[context.message],
                )
            )
        updater = TaskUpdater(event_queue, task_id, context_id)
        text = get_message_text(context.message)
        await updater.start_work(updater.new_agent_message([Part(text="Thinking...")]))
        if waiting:
            await updater.add_artifact([Part(text=f"Painted {text}.")], artifact_id="out")
            await updater.complete()
        elif text.startswith("paint"):
            question = new_text_message(
                "Which color?", context_id=context_id, task_id=task_id, role=Role.ROLE_AGENT
            )
            await updater.requires_input(question)
        elif text == "fail":
            await updater.failed(updater.new_agent_message([Part(text="cannot do that")]))
        else:
            await updater.add_artifact([Part(text="Hello, ")], artifact_id="out", name="reply")
            await updater.add_artifact(
                [Part(text=f"{text}!")], artifact_id="out", append=True, last_chunk=True
            )
            await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        current = context.current_task
        context_id = current.context_id if current is not None else str(context.context_id)
        await TaskUpdater(event_queue, str(context.task_id), context_id).cancel()


def painter_app(base_url: str, binding: str) -> Starlette:
    """The painter agent as a Starlette app whose card points at `base_url` over `binding`
    ("JSONRPC" or "HTTP+JSON")."""
    card = AgentCard(
        name="Painter Agent",
        description="Paints things.",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url=base_url, protocol_binding=binding, protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="paint", name="paint", description="Paint a thing", tags=["art"])],
    )
    handler = DefaultRequestHandler(
        agent_executor=PainterExecutor(), task_store=InMemoryTaskStore(), agent_card=card
    )
    routes: list[BaseRoute] = [*create_agent_card_routes(card)]
    if binding == "JSONRPC":
        routes += create_jsonrpc_routes(handler, rpc_url="/")
    else:
        routes += create_rest_routes(handler)
    return Starlette(routes=routes)
