"""Turning MCP content (tool results, resource contents, prompt messages) into Spine text,
multimodal parts and messages.

Content block shapes are the MCP specification's (2025-11-25 and 2026-07-28, "Tool Result"
and "Resources" sections): `text`, `image` (base64 `data` + `mimeType`), `audio`,
`resource_link` and `resource` (an embedded text or blob resource).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import mcp_types as types

from spine_core import ImagePart, Message, Part, TextPart

__all__ = [
    "content_parts",
    "content_text",
    "prompt_messages",
    "resource_message",
    "resource_text",
]


def _size(data: str) -> int:
    """Decoded size in bytes of base64 `data` (its length when it is not valid base64)."""
    try:
        return len(base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return len(data)


def _block_text(block: Any) -> str:
    """The text one content block becomes in a tool result (a placeholder for binary data)."""
    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent):
        return f"[image: {block.mime_type}, {_size(block.data)} bytes]"
    if isinstance(block, types.AudioContent):
        return f"[audio: {block.mime_type}, {_size(block.data)} bytes, not shown to the model]"
    if isinstance(block, types.ResourceLink):
        mime = f", {block.mime_type}" if block.mime_type else ""
        return f"[resource link: {block.name} <{block.uri}>{mime}]"
    if isinstance(block, types.EmbeddedResource):
        return resource_text([block.resource])
    return json.dumps(_dump(block), default=str)  # a block type newer than this adapter


def _dump(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    return dump(by_alias=True, exclude_none=True, mode="json") if dump else value


def content_text(content: list[Any], structured: Any = None) -> str:
    """The text of a tool result's content blocks, joined with newlines.

    Images and audio become placeholders naming their MIME type and decoded size in bytes
    (the images themselves reach the model through `MCPImages`); resource links name their
    URI; embedded text resources are inlined. `structured` (the result's
    `structuredContent`) is appended as JSON only when there is no text block, since servers
    that return structured content also send its JSON as text (MCP spec, "Structured
    Content").
    """
    texts = [_block_text(block) for block in content]
    has_text = any(isinstance(block, types.TextContent) for block in content)
    if structured is not None and not has_text:
        texts.append(json.dumps(structured, ensure_ascii=False, default=str))
    return "\n".join(texts)


def content_parts(content: list[Any]) -> list[Part]:
    """The image blocks of `content` as Spine `ImagePart`s (inline base64 `data` +
    `media_type`), including images embedded as blob resources."""
    parts: list[Part] = []
    for block in content:
        if isinstance(block, types.ImageContent):
            parts.append(ImagePart(data=block.data, media_type=block.mime_type))
        elif (
            isinstance(block, types.EmbeddedResource)
            and isinstance(block.resource, types.BlobResourceContents)
            and (block.resource.mime_type or "").startswith("image/")
        ):
            parts.append(ImagePart(data=block.resource.blob, media_type=block.resource.mime_type))
    return parts


def resource_text(contents: list[Any]) -> str:
    """The text of resource contents (`resources/read` result items): text resources as is,
    each headed by its URI when there are several; blobs as a placeholder with MIME type and
    decoded size in bytes."""
    texts = []
    for item in contents:
        if isinstance(item, types.TextResourceContents):
            body = item.text
        else:
            body = f"[binary: {item.mime_type or 'application/octet-stream'}, "
            body += f"{_size(item.blob)} bytes]"
        texts.append(f"{item.uri}:\n{body}" if len(contents) > 1 else body)
    return "\n\n".join(texts)


def resource_message(uri: str, contents: list[Any]) -> Message:
    """A user message carrying a read resource: a text part naming `uri`, then each text
    resource as a text part and each image blob as an image part (other blobs as a
    placeholder text)."""
    parts: list[Part] = [TextPart(text=f"Attached resource {uri}:")]
    for item in contents:
        if isinstance(item, types.TextResourceContents):
            parts.append(TextPart(text=item.text))
        elif (item.mime_type or "").startswith("image/"):
            parts.append(ImagePart(data=item.blob, media_type=item.mime_type))
        else:
            parts.append(TextPart(text=resource_text([item])))
    return Message.user_parts(parts)


def prompt_messages(result: types.GetPromptResult) -> list[Message]:
    """The messages of a `prompts/get` result as Spine messages, roles kept (user /
    assistant). A text block becomes `content`; a user image becomes an image part; any
    other block becomes its placeholder text (see `content_text`)."""
    messages: list[Message] = []
    for item in result.messages:
        block = item.content
        if item.role == "user" and isinstance(block, types.ImageContent):
            messages.append(
                Message.user_parts([ImagePart(data=block.data, media_type=block.mime_type)])
            )
            continue
        text = _block_text(block)
        messages.append(Message.user(text) if item.role == "user" else Message.assistant(text))
    return messages
