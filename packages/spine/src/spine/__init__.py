"""Spine: the `spine` command line and the YAML agent spec (`load_agent`, `load_spec`)."""

from .errors import SpecError
from .spec import AgentSpec, load_agent, load_spec

__version__ = "0.1.0"

__all__ = ["AgentSpec", "SpecError", "__version__", "load_agent", "load_spec"]
