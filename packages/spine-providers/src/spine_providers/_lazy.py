"""Import an optional provider SDK, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import `module`, the SDK behind the `spine-providers[extra]` extra.

    Raises:
        ImportError: the SDK is not installed; the message gives the pip command.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f'{module} is not installed; install it with: pip install "spine-providers[{extra}]"'
        ) from exc
