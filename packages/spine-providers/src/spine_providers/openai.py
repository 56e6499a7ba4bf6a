"""The reference's module path for `OpenAIProvider` (`spine_providers.openai`).

The class lives in `spine_providers.openai_chat`; this module only re-exports it, so imports
written against the Spine API reference keep working.
"""

from __future__ import annotations

from .openai_chat import DEFAULT_MODEL, OpenAIProvider

__all__ = ["DEFAULT_MODEL", "OpenAIProvider"]
