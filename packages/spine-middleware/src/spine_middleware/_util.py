"""Private helpers shared by the middleware modules."""

from __future__ import annotations

import hashlib
import importlib
import json
import time
from collections.abc import Callable, MutableMapping
from typing import Any

from spine_core import KeyValueStore, Message, Role, State, provider_model, provider_name

__all__ = [
    "MappingKeyValueStore",
    "as_key_value_store",
    "digest",
    "estimate_tokens",
    "import_object",
    "new_input",
    "provider_identity",
]


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


def provider_identity(provider: Any) -> str:
    """ "scheme:model", plus the endpoint when the provider exposes a `base_url`.

    Providers without `name` / `model` use `spine_core.provider_name` / `provider_model`
    (their class name)."""
    base_url = getattr(provider, "base_url", None)
    where = f"@{base_url}" if base_url else ""
    return f"{provider_name(provider)}:{provider_model(provider)}{where}"


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


class MappingKeyValueStore:
    """A `KeyValueStore` over a plain mutable mapping (e.g. a `dict` shared by several
    middleware instances in one process). Entries are `key -> (value, expires_at | None)`.

    Args:
        data: The mapping to keep the entries in.
        clock: Monotonic seconds for the TTLs.
    """

    def __init__(
        self,
        data: MutableMapping[str, Any],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.data = data
        self._clock = clock

    def _live(self, key: str) -> str | None:
        item = self.data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._clock() >= expires:
            del self.data[key]
            return None
        return str(value)

    async def get(self, key: str) -> str | None:
        return self._live(key)

    async def set(
        self, key: str, value: str, *, ttl_s: float | None = None, only_if_absent: bool = False
    ) -> bool:
        if only_if_absent and self._live(key) is not None:
            return False
        self.data[key] = (value, None if ttl_s is None else self._clock() + ttl_s)
        return True

    async def incr(self, key: str, amount: float = 1, *, ttl_s: float | None = None) -> float:
        current = self._live(key)
        if current is None:
            total = float(amount)
            expires = None if ttl_s is None else self._clock() + ttl_s
        else:
            total = float(current) + amount
            expires = self.data[key][1]
        self.data[key] = (repr(total), expires)
        return total

    async def delete(self, key: str) -> bool:
        return self.data.pop(key, None) is not None


def as_key_value_store(
    store: KeyValueStore | MutableMapping[str, Any] | None,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> KeyValueStore | None:
    """`store` as a `KeyValueStore`: a store is used as is, a mapping is wrapped in a
    `MappingKeyValueStore`, None stays None."""
    if store is None or isinstance(store, KeyValueStore):
        return store
    if isinstance(store, MutableMapping):
        return MappingKeyValueStore(store, clock=clock)
    raise TypeError(f"expected a KeyValueStore or a dict, got {type(store).__name__}")
