"""Plugin registries: explicit registration, entry-point discovery, lazy loading, and the
error for names that are not installed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

import spine_core
from spine_core import (
    PluginNotFoundError,
    ScriptedProvider,
    TestProvider,
    lookup,
    register_provider,
    resolve,
    resolve_provider,
)
from spine_core import registry as reg


@pytest.fixture
def clean_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(reg, "_explicit", {group: {} for group in reg.GROUPS})
    yield


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_available_lists_the_example_plugin_with_its_distribution() -> None:
    providers = {info.name: info for info in spine_core.available("spine.providers")}

    assert providers["echo"].distribution == "spine-plugin-example"
    assert providers["echo"].value == "spine_plugin_example:EchoProvider"
    assert providers["test"].distribution == "spine-core"


def test_available_lists_the_example_middleware() -> None:
    middleware = {info.name: info for info in spine_core.available("spine.middleware")}

    assert middleware["shout"].distribution == "spine-plugin-example"


def test_entry_points_are_not_imported_until_looked_up() -> None:
    out = run_python(
        """
        import sys
        import spine_core
        names = [i.name for i in spine_core.available("spine.providers")]
        before = "spine_plugin_example" in sys.modules
        try:
            spine_core.lookup("spine.providers", "echo")
        except Exception:
            pass  # the class may not exist yet; the module import is what counts
        print("echo" in names, before, "spine_plugin_example" in sys.modules)
        """
    )

    assert out == "True False True"


def test_resolve_provider_builds_the_example_echo_provider() -> None:
    plugin = pytest.importorskip("spine_plugin_example")
    if not hasattr(plugin, "EchoProvider"):
        pytest.skip("spine_plugin_example.EchoProvider is not written yet")

    provider = resolve_provider("echo:x")

    assert isinstance(provider, plugin.EchoProvider)
    assert provider.model == "x"


def test_resolve_provider_passes_the_model_and_parameters() -> None:
    provider = resolve_provider("test:small")

    assert isinstance(provider, TestProvider) and provider.model == "small"


def test_explicit_registration_wins_over_entry_points(clean_registry: None) -> None:
    register_provider("test", lambda model="m", **kw: ScriptedProvider([], model=model, **kw))

    provider = resolve_provider("test:mine", name="custom")

    assert isinstance(provider, ScriptedProvider)
    assert (provider.name, provider.model) == ("custom", "mine")
    assert {i.name: i.distribution for i in spine_core.available("spine.providers")}["test"] == (
        "(registered in process)"
    )


def test_resolve_builds_with_keyword_parameters(clean_registry: None) -> None:
    store = resolve("spine.checkpoints", "memory")

    assert isinstance(store, spine_core.InMemoryCheckpointStore)


def test_unknown_scheme_lists_the_installed_providers() -> None:
    with pytest.raises(PluginNotFoundError) as info:
        resolve_provider("nosuch:model")

    message = str(info.value)
    assert message.startswith("unknown provider 'nosuch'. Installed: ")
    assert "echo" in message and "test" in message
    assert "pip install" not in message


def test_missing_first_party_provider_names_the_pip_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = reg._entry_points

    def without_spine_providers(group: str, name: str | None = None) -> list:
        return [
            ep for ep in real(group, name) if ep.dist is None or ep.dist.name != "spine-providers"
        ]

    monkeypatch.setattr(reg, "_entry_points", without_spine_providers)  # as if not installed

    with pytest.raises(PluginNotFoundError) as info:
        resolve_provider("anthropic:claude-sonnet-4-5")

    message = str(info.value)
    installed = message.split("Installed: ")[1].split(".")[0].split(", ")
    assert message.startswith("unknown provider 'anthropic'. Installed: ")
    assert "echo" in installed and "anthropic" not in installed
    assert message.endswith('Install it with: pip install "spine-agents[anthropic]".')


def test_anthropic_maps_to_the_spine_anthropic_extra() -> None:
    assert reg.FIRST_PARTY_EXTRAS[reg.PROVIDERS]["anthropic"] == "spine-agents[anthropic]"


def test_plugin_not_found_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        lookup("spine.scorers", "no_such_scorer")
