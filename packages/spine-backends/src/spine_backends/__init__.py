"""spine_backends: durable checkpoint stores, vector memory and shared key-value stores.

The Redis and PostgreSQL classes import their drivers only when first used, so
`import spine_backends` works without the optional extras.
"""

from .embedders import HashEmbedder, OpenAIEmbedder, cosine
from .memory import BufferMemory, InMemoryVectorMemory
from .pgvector import PgVectorMemory
from .postgres import PostgresCheckpoint
from .redis_checkpoint import RedisCheckpoint
from .redis_kv import RedisKeyValueStore
from .sqlite import SQLiteCheckpoint

__all__ = [
    "BufferMemory",
    "HashEmbedder",
    "InMemoryVectorMemory",
    "OpenAIEmbedder",
    "PgVectorMemory",
    "PostgresCheckpoint",
    "RedisCheckpoint",
    "RedisKeyValueStore",
    "SQLiteCheckpoint",
    "cosine",
]
