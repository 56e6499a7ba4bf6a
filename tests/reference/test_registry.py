"""`register_provider`, `register_middleware`, `register_checkpoint` and `register_memory`:
the documented parameter names, and a registration that is then used."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import spine_core
from spine_core import (
    Agent,
    InMemoryCheckpointStore,
    Memory,
    Middleware,
    StepContext,
    register_checkpoint,
    register_memory,
    register_middleware,
    register_provider,
    resolve,
    resolve_provider,
)
from spine_core import registry as registry_module

from .refkit import EMPTY, POS, RefProvider, documented
from .test_memory import CharEmbedder, ListMemory

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def _isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Registrations made by a test are gone after it."""
    copied = {group: dict(names) for group, names in registry_module._explicit.items()}
    monkeypatch.setattr(registry_module, "_explicit", copied)
    yield


def test_register_provider_signature() -> None:
    assert documented(register_provider, ("scheme", POS, EMPTY), ("factory", POS, EMPTY))


def test_register_provider_by_keyword_scheme() -> None:
    register_provider(scheme="refkw", factory=lambda model="m": RefProvider(["hi"]))
    assert isinstance(resolve_provider("refkw:m"), RefProvider)


@pytest.mark.parametrize(
    "register",
    [register_middleware, register_checkpoint, register_memory],
    ids=lambda f: f.__name__,
)
def test_register_signature(register: Any) -> None:
    assert documented(register, ("name", POS, EMPTY), ("factory", POS, EMPTY))


async def test_registered_provider_resolves_from_a_model_string() -> None:
    made: list[str] = []

    def factory(model: str = "default", **params: Any) -> RefProvider:
        made.append(model)
        return RefProvider([f"hello from {model}"])

    register_provider("refscheme", factory)

    agent = Agent("refscheme:model-a")
    result = await agent.run("hi")

    assert made == ["model-a"]
    assert isinstance(agent.provider, RefProvider)
    assert result.answer == "hello from model-a"


def test_registered_middleware_resolves_by_name() -> None:
    class Tagger(Middleware):
        def __init__(self, tag: str = "x") -> None:
            self.tag = tag

        async def before_model(self, ctx: StepContext) -> None:
            ctx.extra["tag"] = self.tag

    register_middleware("ref_tagger", Tagger)

    built = resolve("spine.middleware", "ref_tagger", tag="blue")

    assert isinstance(built, Tagger) and built.tag == "blue"
    assert spine_core.lookup("spine.middleware", "ref_tagger") is Tagger


async def test_registered_checkpoint_resolves_by_name_and_works() -> None:
    register_checkpoint("ref_memory_store", InMemoryCheckpointStore)

    store = resolve("spine.checkpoints", "ref_memory_store")
    result = await Agent(RefProvider(["hi"]), checkpoint=store).run("x")

    assert isinstance(store, InMemoryCheckpointStore)
    assert await store.get(result.state.session_id) is not None


def test_registered_memory_resolves_by_name() -> None:
    register_memory("ref_list", lambda **params: ListMemory(CharEmbedder()))

    memory = resolve("spine.memory", "ref_list")

    assert isinstance(memory, Memory)


def test_unknown_names_raise_a_clear_error() -> None:
    with pytest.raises(spine_core.PluginNotFoundError, match="no_such_middleware"):
        resolve("spine.middleware", "no_such_middleware")
