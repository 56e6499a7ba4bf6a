"""Private helpers shared by the middleware modules."""

from __future__ import annotations

import hashlib
import importlib
import json
from typing import Any

from spine_core import Message, Provider, Role, State

__all__ = ["digest", "estimate_tokens", "import_object", "new_input", "provider_identity"]


def import_object(path: str) -> Any:
    """The object named by "package.module:attribute" (or "package.module.attribute").

    Raises:
        ImportError: the module cannot be imported.
        AttributeError: the module has no such attribute.
    """
    module_name, sep, attribute = path.partition(":")
    if not sep:
        module_name, _, attribute = path.rpartition(".")
    if not module_name or not attribute:
        raise ImportError(f"'{path}' is not an import path like 'package.module:name'")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def provider_identity(provider: Provider) -> str:
    """ "scheme:model", plus the endpoint when the provider exposes a `base_url`."""
    base_url = getattr(provider, "base_url", None)
    where = f"@{base_url}" if base_url else ""
    return f"{provider.name}:{provider.model}{where}"


def digest(value: Any) -> str:
    """A SHA-256 hex digest of `value` as canonical JSON (sorted keys)."""
    blob = json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def estimate_tokens(message: Message) -> int:
    """Tokens of a message, estimated as characters / 4 (text plus tool-call arguments)."""
    chars = len(message.text) + sum(
        len(call.name) + len(json.dumps(call.arguments)) for call in message.tool_calls
    )
    return max(1, chars // 4)


def new_input(state: State) -> list[Message]:
    """The user messages this turn added: the trailing run of user messages, in order."""
    start = len(state.messages)
    while start > 0 and state.messages[start - 1].role is Role.USER:
        start -= 1
    return state.messages[start:]
