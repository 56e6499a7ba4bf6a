"""What every provider shares: lazy SDK client, API key lookup, settings (defaults and
pass-through), error mapping, cost, helpers."""

from __future__ import annotations

import inspect
import json
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from spine_core.errors import ProviderError, ProviderErrorKind
from spine_core.loop import current_loop
from spine_core.messages import Message, ModelResponse, Role, Usage
from spine_core.provider import StreamChunk

from .errors import looks_like_html, to_provider_error
from .pricing import Price, find_price, warn_unpriced

__all__ = [
    "STANDARD_SETTINGS",
    "BaseProvider",
    "PendingToolCall",
    "ToolDecl",
    "alternating_turns",
    "output_tokens",
    "parse_arguments",
    "sdk_arguments",
    "stop_sequences",
    "system_text",
    "tool_decls",
]

STANDARD_SETTINGS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "seed",
        "tool_choice",
        "output_schema",
        "thinking",
    }
)
"""The kernel's standard settings (`spine_core.provider`), which every adapter maps itself."""


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


def stop_sequences(stop: str | Sequence[str]) -> list[str]:
    """The `stop` setting as a list (one string is one stop sequence)."""
    return [stop] if isinstance(stop, str) else list(stop)


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


_ACCEPTED: dict[Any, frozenset[str] | None] = {}


def _accepted(method: Any) -> frozenset[str] | None:
    """The keyword names an SDK method takes (None: it takes any `**kwargs`)."""
    key = getattr(method, "__func__", method)
    if key not in _ACCEPTED:
        try:
            parameters = inspect.signature(method).parameters.values()
        except (TypeError, ValueError):
            _ACCEPTED[key] = None
        else:
            _ACCEPTED[key] = (
                None
                if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
                else frozenset(p.name for p in parameters)
            )
    return _ACCEPTED[key]


def sdk_arguments(method: Any, request: Mapping[str, Any]) -> dict[str, Any]:
    """`request` as keyword arguments for the SDK `method`: the keys it does not take (settings
    Spine does not model, such as Ollama's `num_ctx`) move into its `extra_body`, which the
    SDKs merge into the JSON body as is. A caller's own `extra_body` wins over a moved key.

    Raises:
        TypeError: `extra_body` is given but is not a mapping.
    """
    accepted = _accepted(method)
    if accepted is None or "extra_body" not in accepted:
        return dict(request)
    arguments: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in request.items():
        if key in accepted:
            arguments[key] = value
        else:
            extra[key] = value
    if extra:
        given = arguments.get("extra_body") or {}
        if not isinstance(given, Mapping):
            raise TypeError(f"extra_body must be a mapping, got {type(given).__name__}")
        arguments["extra_body"] = {**extra, **given}
    return arguments


class BaseProvider(ABC):
    """Base class of the SDK-backed providers.

    Args:
        model: Model name sent to the API (None or "": the class's default model).
        client: An SDK client to use as is (`anthropic.AsyncAnthropic`, `openai.AsyncOpenAI`,
            `google.genai.Client`), with its own key, base URL and retry policy; the provider
            then never builds one and `aclose()` leaves it open (its owner closes it).
        api_key: API key; when None it is read from the provider's environment variable at
            the first call (never at construction).
        base_url: API root URL (None: the SDK's default).
        http_client: An `httpx2.AsyncClient` for the SDK to use (tests pass one with an
            `httpx2.MockTransport`).
        timeout_s: Per-request timeout in seconds (None: the SDK's default).
        prices: Per-model price overrides (`Price` or a mapping of its fields, USD per million
            tokens), searched before `spine_providers.pricing.PRICES`.
        max_tokens: Default output-token limit when the settings give none.
        **defaults: Settings sent on every call (the reference's form); a call's own settings
            win, and a setting given as None counts as not given. The standard settings
            (`spine_core.provider`: temperature, top_p, max_tokens, stop, seed, tool_choice,
            output_schema, thinking) and the adapters' own (`effort`, Anthropic's `cache`,
            see each class) are mapped to the API's fields; any other setting is sent as is:
            as the SDK's keyword argument when the SDK method has one (`store`, `metadata`,
            `service_tier`, `reasoning_effort`, ...), else in the request body through the
            SDK's `extra_body` (a server's own field). A setting the API rejects comes back as
            `ProviderError(kind="bad_request")` naming it.
    """

    name: ClassVar[str]
    extra: ClassVar[str]
    env_vars: ClassVar[tuple[str, ...]]
    default_model: ClassVar[str] = ""
    warn_unpriced: ClassVar[bool] = True  # False for local servers, which are free
    ignored_settings: ClassVar[frozenset[str]] = frozenset()
    """Standard settings the API has no field for; they are dropped (documented per class)."""
    mapped_settings: ClassVar[frozenset[str]] = frozenset()
    """Settings of the adapter's own beside the standard ones (Anthropic's `cache`, `effort`),
    mapped to API fields instead of being sent as given."""

    def __init__(
        self,
        model: str | None = None,
        *,
        client: Any = None,
        api_key: str | None = None,
        base_url: str | None = None,
        http_client: Any = None,
        timeout_s: float | None = None,
        prices: Mapping[str, Price | Mapping[str, float]] | None = None,
        max_tokens: int | None = None,
        **defaults: Any,
    ) -> None:
        self.model = model or self.default_model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.prices = {k: _as_price(v) for k, v in (prices or {}).items()}
        self.max_tokens = max_tokens
        self.defaults: dict[str, Any] = {k: v for k, v in defaults.items() if v is not None}
        self._api_key = api_key
        self._http_client = http_client
        self._client: Any = client
        self._owns_client = client is None
        self._client_loop: object | None = None

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
        """The SDK client: the one given as `client=`, else one created on first use on the
        running event loop (SDK clients are bound to their loop, and each `run_sync` starts a
        new one: a client made on a loop that is no longer running is dropped and remade)."""
        if self._owns_client:
            loop = current_loop()
            if self._client is not None and self._client_loop is not loop:
                self._client = None  # its loop is gone: it cannot even be closed there
            if self._client is None:
                self._client, self._client_loop = self._make_client(), loop
        return self._client

    @abstractmethod
    def _make_client(self) -> Any: ...

    async def aclose(self) -> None:
        """Close the SDK client (and the HTTP client it uses) if this provider created it; a
        client given as `client=` stays open."""
        if not self._owns_client:
            return
        client, self._client = self._client, None
        if client is not None:
            await self._close_client(client)

    async def _close_client(self, client: Any) -> None:
        await client.close()

    # -- settings -----------------------------------------------------------------------
    def call_settings(self, call: Mapping[str, Any]) -> dict[str, Any]:
        """The settings of one call: the constructor's `**defaults` updated with `call`'s
        (a None value counts as not given)."""
        merged = dict(self.defaults)
        merged.update((k, v) for k, v in call.items() if v is not None)
        return merged

    def passthrough(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """The settings this adapter does not map, to be sent to the API as is."""
        return {
            k: v
            for k, v in settings.items()
            if k not in STANDARD_SETTINGS
            and k not in self.ignored_settings
            and k not in self.mapped_settings
        }

    # -- conversion (public so benchmarks and tests can call them alone) -----------------
    @abstractmethod
    def build_request(
        self,
        messages: Sequence[Message],
        tools: Sequence[Mapping[str, Any]] | None,
        settings: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The SDK call's keyword arguments for these messages, tool schema dicts
        (`{"name", "description", "parameters"}`, see `tool_decls`) and settings. Settings
        the adapter does not map are included as they are (see `sdk_arguments`)."""

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

        Args:
            messages: The conversation, oldest first.
            tools: Tool declarations (`Tool.schema` dicts), or None.
            **settings: This call's settings, over the constructor's `**defaults`.

        Raises:
            ProviderError: every SDK or transport failure, mapped by `to_provider_error`; a
                200 whose body is not the API's JSON (an HTML error page, a truncated body)
                is a retryable server / connection error.
        """
        merged = self.call_settings(settings)
        request = self.build_request(messages, tools, merged)
        try:
            raw = await self._send(request)
        except (ProviderError, ImportError):  # ImportError: the SDK extra is missing
            raise
        except Exception as exc:
            raise self._error(exc, merged) from exc
        if isinstance(raw, str | bytes):  # the SDKs hand back a non-JSON body as text
            raise self._not_json(raw)
        return self.parse_response(raw, merged)

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
        merged = self.call_settings(settings)
        request = self.build_request(messages, tools, merged)
        try:
            async for chunk in self._stream(request, merged):
                yield chunk
        except (ProviderError, ImportError):  # ImportError: the SDK extra is missing
            raise
        except Exception as exc:
            raise self._error(exc, merged) from exc

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
    def _error(
        self, exc: BaseException, settings: Mapping[str, Any] | None = None
    ) -> ProviderError:
        error = to_provider_error(exc, provider=self.name, model=self.model)
        sent = sorted(self.passthrough(settings or {}))
        if error.kind is ProviderErrorKind.BAD_REQUEST and sent:
            error.message += (
                f" (settings sent to the API as given, which Spine does not map: {', '.join(sent)})"
            )
            error.args = (error.message,)
        return error

    def _not_json(self, body: str | bytes) -> ProviderError:
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        what = "an HTML page" if looks_like_html(text) else "a body that is not JSON"
        return ProviderError(
            f"the API answered with {what} instead of its JSON response: {text[:200]!r}",
            kind=ProviderErrorKind.SERVER,
            provider=self.name,
            model=self.model,
        )

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


def output_tokens(output: int, reasoning: int, *, input_tokens: int, total: int | None) -> int:
    """Output tokens with reasoning included (the `Usage` rule), from an OpenAI-style usage.

    OpenAI counts reasoning inside `completion_tokens` / `output_tokens`
    (https://platform.openai.com/docs/guides/reasoning), as do DeepSeek and OpenRouter; xAI's
    Grok reports it "separated from the completion_tokens", so its `total_tokens` is prompt +
    completion + reasoning (https://docs.x.ai/docs/guides/reasoning; Google Cloud's Grok page,
    https://docs.cloud.google.com/vertex-ai/generative-ai/docs/partner-models/grok/capabilities/reasoning).
    The total tells them apart: when it equals input + output + reasoning (and reasoning is
    not 0), reasoning is added; otherwise `output` already holds it.
    """
    if reasoning and total is not None and total == input_tokens + output + reasoning:
        return output + reasoning
    return output
