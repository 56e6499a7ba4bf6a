"""What every provider shares: lazy SDK client, API key lookup, error mapping, cost, helpers."""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from spine_core.errors import ProviderError, ProviderErrorKind
from spine_core.messages import Message, ModelResponse, Role, Usage
from spine_core.provider import StreamChunk

from .errors import to_provider_error
from .pricing import Price, find_price, warn_unpriced

__all__ = [
    "BaseProvider",
    "PendingToolCall",
    "ToolDecl",
    "alternating_turns",
    "parse_arguments",
    "system_text",
    "tool_decls",
]


@dataclass(frozen=True, slots=True)
class ToolDecl:
    """One tool declaration as a provider sends it: name, description, JSON-schema parameters."""

    name: str
    description: str
    parameters: dict[str, Any]


def tool_decls(tools: Sequence[Mapping[str, Any]] | None) -> list[ToolDecl]:
    """The tool declarations the kernel passes (`Tool.schema` dicts: `{"name", "description",
    "parameters"}`) as `ToolDecl`s. A missing description is "", missing parameters an empty
    object schema. An object with a `schema` dict (a `spine_core.Tool`) is accepted too.

    Raises:
        TypeError: an entry is neither a mapping nor has a `schema` mapping.
    """
    decls: list[ToolDecl] = []
    for tool in tools or ():
        schema: Any = tool
        if not isinstance(schema, Mapping):
            schema = getattr(tool, "schema", None)
            if not isinstance(schema, Mapping):
                raise TypeError(
                    "tools must be tool schema dicts ({'name', 'description', 'parameters'}), "
                    f"got {type(tool).__name__}"
                )
        decls.append(
            ToolDecl(
                name=str(schema["name"]),
                description=str(schema.get("description") or ""),
                parameters=schema.get("parameters") or {"type": "object", "properties": {}},
            )
        )
    return decls


def parse_arguments(text: str) -> tuple[dict[str, Any], str | None]:
    """Tool-call arguments from a JSON string: `(arguments, None)`, or `({}, error)` when the
    text is not a JSON object (the kernel sends the error back to the model as a tool error).
    An empty string means a call without arguments."""
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, f"tool call arguments are not valid JSON ({exc.msg} at {exc.pos}): {text!r}"
    if not isinstance(value, dict):
        return {}, f"tool call arguments must be a JSON object, got: {text!r}"
    return value, None


def system_text(messages: Sequence[Message]) -> str:
    """The system messages' text joined by blank lines ("" when there is none)."""
    return "\n\n".join(m.text for m in messages if m.role is Role.SYSTEM and m.text)


def alternating_turns(
    messages: Sequence[Message],
    convert: Callable[[Message], list[dict[str, Any]]],
    *,
    assistant: str,
    key: str,
) -> list[dict[str, Any]]:
    """Turns for APIs that want user and assistant to alternate (Anthropic, Gemini).

    System messages are skipped (they travel separately); tool results and user messages are
    user turns; consecutive turns of one role are merged. `convert` gives a message's blocks,
    `assistant` the API's name for the assistant role, `key` the field holding the blocks.
    """
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role is Role.SYSTEM:
            continue
        blocks = convert(message)
        if not blocks:
            continue
        role = assistant if message.role is Role.ASSISTANT else "user"
        if out and out[-1]["role"] == role:
            out[-1][key].extend(blocks)
        else:
            out.append({"role": role, key: blocks})
    return out


@dataclass(slots=True)
class PendingToolCall:
    """A tool call being assembled from stream deltas."""

    id: str
    name: str
    arguments: str = ""
    signature: str | None = None


def _as_price(value: Price | Mapping[str, float]) -> Price:
    return value if isinstance(value, Price) else Price(**value)


class BaseProvider(ABC):
    """Base class of the SDK-backed providers.

    Args:
        model: Model name sent to the API.
        api_key: API key; when None it is read from the provider's environment variable at
            the first call (never at construction).
        base_url: API root URL (None: the SDK's default).
        http_client: An `httpx2.AsyncClient` for the SDK to use (tests pass one with an
            `httpx2.MockTransport`).
        timeout_s: Per-request timeout in seconds (None: the SDK's default).
        prices: Per-model price overrides (`Price` or a mapping of its fields, USD per million
            tokens), searched before `spine_providers.pricing.PRICES`.
        max_tokens: Default output-token limit when the settings give none.
    """

    name: ClassVar[str]
    extra: ClassVar[str]
    env_vars: ClassVar[tuple[str, ...]]
    default_model: ClassVar[str] = ""
    warn_unpriced: ClassVar[bool] = True  # False for local servers, which are free

    def __init__(
        self,
        model: str = "",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        http_client: Any = None,
        timeout_s: float | None = None,
        prices: Mapping[str, Price | Mapping[str, float]] | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.model = model or self.default_model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.prices = {k: _as_price(v) for k, v in (prices or {}).items()}
        self.max_tokens = max_tokens
        self._api_key = api_key
        self._http_client = http_client
        self._client: Any = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"

    # -- client -------------------------------------------------------------------------
    def api_key(self) -> str:
        """The API key: the constructor's, else the first set environment variable.

        Raises:
            ProviderError: kind auth, naming the environment variable to set.
        """
        if self._api_key:
            return self._api_key
        for var in self.env_vars:
            value = os.environ.get(var)
            if value:
                return value
        raise ProviderError(
            f"no API key: pass api_key= or set the {' or '.join(self.env_vars)} environment "
            "variable",
            kind=ProviderErrorKind.AUTH,
            provider=self.name,
            model=self.model,
        )

    @property
    def client(self) -> Any:
        """The SDK client, created on first use."""
        if self._client is None:
            self._client = self._make_client()
        return self._client

    @abstractmethod
    def _make_client(self) -> Any: ...

    async def aclose(self) -> None:
        """Close the SDK client (and the HTTP client it uses), if one was created."""
        client, self._client = self._client, None
        if client is not None:
            await self._close_client(client)

    async def _close_client(self, client: Any) -> None:
        await client.close()

    # -- conversion (public so benchmarks and tests can call them alone) -----------------
    @abstractmethod
    def build_request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None,
        settings: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The SDK call's keyword arguments for these messages, tool schema dicts
        (`{"name", "description", "parameters"}`, see `tool_decls`) and settings."""

    @abstractmethod
    def parse_response(self, raw: Any, settings: Mapping[str, Any]) -> ModelResponse:
        """A `ModelResponse` from the SDK's response object."""

    # -- calls --------------------------------------------------------------------------
    @abstractmethod
    async def _send(self, request: dict[str, Any]) -> Any: ...

    @abstractmethod
    def _stream(
        self, request: dict[str, Any], settings: Mapping[str, Any]
    ) -> AsyncIterator[StreamChunk]: ...

    async def complete(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None = None,
        **settings: Any,
    ) -> ModelResponse:
        """Run one model call.

        Raises:
            ProviderError: every SDK or transport failure, mapped by `to_provider_error`.
        """
        request = self.build_request(messages, tools, settings)
        try:
            raw = await self._send(request)
        except (ProviderError, ImportError):  # ImportError: the SDK extra is missing
            raise
        except Exception as exc:
            raise self._error(exc) from exc
        return self.parse_response(raw, settings)

    async def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None = None,
        **settings: Any,
    ) -> AsyncIterator[StreamChunk]:
        """Stream one model call: text, thinking and tool-call deltas, then one `response`
        chunk with the assembled `ModelResponse`.

        Raises:
            ProviderError: every failure; a stream that ends before the provider's final
                event raises kind connection.
        """
        request = self.build_request(messages, tools, settings)
        try:
            async for chunk in self._stream(request, settings):
                yield chunk
        except (ProviderError, ImportError):  # ImportError: the SDK extra is missing
            raise
        except Exception as exc:
            raise self._error(exc) from exc

    async def health_check(self) -> bool:
        """Make a minimal real call (a one-word prompt, 16 output tokens).

        Returns:
            True when the endpoint answered.

        Raises:
            ProviderError: the endpoint failed (auth, connection, ...).
        """
        await self.complete([Message.user("ping")], max_tokens=16)
        return True

    # -- helpers ------------------------------------------------------------------------
    def _error(self, exc: BaseException) -> ProviderError:
        return to_provider_error(exc, provider=self.name, model=self.model)

    def _truncated(self, what: str) -> ProviderError:
        return ProviderError(
            f"the stream ended before {what}",
            kind=ProviderErrorKind.CONNECTION,
            provider=self.name,
            model=self.model,
        )

    def _priced(self, usage: Usage, model: str | None = None) -> Usage:
        usage.requests = 1
        # The model the response names (a dated snapshot), else the one this provider asked for.
        price = find_price(model, self.prices) if model else None
        if price is None:
            price = find_price(self.model, self.prices)
        if price is None and self.warn_unpriced:
            warn_unpriced(self.model)
        usage.cost_usd = 0.0 if price is None else price.cost_usd(usage)
        return usage

    def _http_options(self, base_url: str | None) -> dict[str, Any]:
        """`base_url`, `http_client` and `timeout` (seconds) for the SDKs that take them
        under those names (anthropic, openai), leaving out what is not set."""
        options: dict[str, Any] = {}
        if base_url:
            options["base_url"] = base_url
        if self._http_client is not None:
            options["http_client"] = self._http_client
        if self.timeout_s is not None:
            options["timeout"] = self.timeout_s
        return options

    def _max_tokens(self, settings: Mapping[str, Any], default: int | None) -> int | None:
        value = settings.get("max_tokens", self.max_tokens)
        return default if value is None else int(value)
