"""Conversions between A2A 1.0 protobuf shapes and Spine's messages and text."""

from __future__ import annotations

import base64
import json
from typing import Any

from a2a.types import Artifact, Message, Part, StreamResponse, Task, TaskState
from google.protobuf.json_format import MessageToDict

from spine_core import ImagePart, TextPart
from spine_core import Message as SpineMessage

TERMINAL = frozenset(
    {
        TaskState.TASK_STATE_COMPLETED,
        TaskState.TASK_STATE_FAILED,
        TaskState.TASK_STATE_CANCELED,
        TaskState.TASK_STATE_REJECTED,
    }
)
INTERRUPTED = frozenset({TaskState.TASK_STATE_INPUT_REQUIRED, TaskState.TASK_STATE_AUTH_REQUIRED})

# Metadata key under which a Spine server describes its pause on an input-required status
# message: {"kind": "input" | "approval", "interrupt_id": ..., "data": {...}}.
SPINE_PAUSE = "spine.pause"


def state_name(state: int) -> str:
    """ "completed", "input-required", ... for a `TaskState` value (the spec's kebab names)."""
    name = TaskState.Name(state)
    return name.removeprefix("TASK_STATE_").lower().replace("_", "-")


def part_text(part: Part) -> str | None:
    """The text a part contributes to a plain-text reading (data parts as JSON)."""
    kind = part.WhichOneof("content")
    if kind == "text":
        return part.text
    if kind == "data":
        return json.dumps(MessageToDict(part)["data"], ensure_ascii=False)
    if kind == "url":
        label = part.filename or part.media_type or "file"
        return f"[{label}: {part.url}]"
    if kind == "raw":
        label = part.filename or part.media_type or "file"
        return f"[{label}: {len(part.raw)} bytes]"
    return None


def parts_text(parts: Any, separator: str = "\n") -> str:
    """The parts' text joined by `separator`."""
    return separator.join(t for t in (part_text(p) for p in parts) if t)


def message_text(message: Message | None) -> str:
    return parts_text(message.parts) if message is not None else ""


def artifact_text(artifact: Artifact) -> str:
    """An artifact's text: its parts concatenated (streamed chunks append parts)."""
    return parts_text(artifact.parts, "")


def task_text(task: Task) -> str:
    """A task's answer: its artifacts' text, else its status message's text."""
    texts = [t for t in (artifact_text(a) for a in task.artifacts) if t]
    if texts:
        return "\n".join(texts)
    return message_text(task.status.message) if task.status.HasField("message") else ""


def to_spine_message(message: Message) -> SpineMessage:
    """A user `Message` for Spine: text, data (as JSON text) and file parts; image files
    (inline bytes or URLs with an `image/*` media type) become `ImagePart`s."""
    parts: list[TextPart | ImagePart] = []
    for part in message.parts:
        kind = part.WhichOneof("content")
        image = part.media_type.startswith("image/")
        if kind == "raw" and image:
            data = base64.b64encode(part.raw).decode("ascii")
            parts.append(ImagePart(data=data, media_type=part.media_type))
        elif kind == "url" and image:
            parts.append(ImagePart(url=part.url, media_type=part.media_type))
        else:
            text = part_text(part)
            if text:
                parts.append(TextPart(text=text))
    if any(isinstance(p, ImagePart) for p in parts):
        return SpineMessage.user_parts(parts)
    return SpineMessage.user("\n".join(p.text for p in parts if isinstance(p, TextPart)))


class TaskAggregate:
    """Folds a stream of `StreamResponse`s into the latest `Task` (or the direct `Message`)."""

    def __init__(self) -> None:
        self.task: Task | None = None
        self.message: Message | None = None

    def apply(self, response: StreamResponse) -> str:
        """Apply one response; returns which payload it carried ("task", "status_update", ...)."""
        kind = response.WhichOneof("payload") or ""
        if kind == "task":
            self.task = Task()
            self.task.CopyFrom(response.task)
        elif kind == "message":
            self.message = response.message
        elif kind == "status_update":
            event = response.status_update
            task = self._ensure(event.task_id, event.context_id)
            if task.status.HasField("message"):
                task.history.append(task.status.message)
            task.status.CopyFrom(event.status)
        elif kind == "artifact_update":
            chunk = response.artifact_update
            task = self._ensure(chunk.task_id, chunk.context_id)
            for existing in task.artifacts:
                if existing.artifact_id == chunk.artifact.artifact_id:
                    if chunk.append:
                        existing.parts.extend(chunk.artifact.parts)
                    else:
                        existing.CopyFrom(chunk.artifact)
                    break
            else:
                task.artifacts.append(chunk.artifact)
        return kind

    def _ensure(self, task_id: str, context_id: str) -> Task:
        if self.task is None:
            self.task = Task(id=task_id, context_id=context_id)
        return self.task
