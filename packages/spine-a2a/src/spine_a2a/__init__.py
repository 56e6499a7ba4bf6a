"""A2A protocol 1.0 client and server for Spine agents.

`A2AAgent` talks to a remote A2A agent (and makes it a Spine tool); `A2AServer` serves a Spine
agent as an A2A agent (an ASGI app). Both interoperate with the reference SDK, a2a-sdk 1.3.
"""

from .client import A2AAgent, A2AEventType, A2AInputRequired
from .errors import VERSION_NOT_SUPPORTED, A2AAgentError
from .server import A2AServer
from .task_store import CheckpointTaskStore

__all__ = [
    "VERSION_NOT_SUPPORTED",
    "A2AAgent",
    "A2AAgentError",
    "A2AEventType",
    "A2AInputRequired",
    "A2AServer",
    "CheckpointTaskStore",
]
