"""The core's offline providers pass the provider conformance kit."""

import pytest

from spine_core import FunctionProvider, ScriptedProvider, TestProvider
from spine_core.testing import ProviderContract


class TestTestProvider(ProviderContract):
    @pytest.fixture
    def provider(self) -> TestProvider:
        return TestProvider()


class TestFunctionProvider(ProviderContract):
    @pytest.fixture
    def provider(self) -> FunctionProvider:
        return FunctionProvider(lambda messages, tools, settings: "Hello there, friend.")


class TestScriptedProvider(ProviderContract):
    @pytest.fixture
    def provider(self) -> ScriptedProvider:
        return ScriptedProvider(["Hello there."] * 10)
