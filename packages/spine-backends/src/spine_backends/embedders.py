"""Embedders: `HashEmbedder` (offline, deterministic) and `OpenAIEmbedder` (the OpenAI
embeddings API)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["HashEmbedder", "OpenAIEmbedder", "cosine"]

_WORD = re.compile(r"\w+", re.UNICODE)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity in [-1, 1]; 0.0 when either vector is all zeros.

    Raises:
        ValueError: the vectors differ in length.
    """
    if len(a) != len(b):
        raise ValueError(f"vectors differ in length: {len(a)} != {len(b)}")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class HashEmbedder:
    """A deterministic, offline `Embedder` by feature hashing (Weinberger et al., 2009):
    each lower-cased word (weight 1.0) and each character trigram of a word (weight 0.5)
    is hashed with BLAKE2b to a signed bucket; the vector is L2-normalised. Texts sharing
    words or word pieces score close under cosine. Good for tests, demos and keyword-like
    recall; not a semantic model.

    Args:
        dimensions: Vector length (buckets), at least 8.

    Raises:
        ValueError: `dimensions` below 8.
    """

    def __init__(self, dimensions: int = 256) -> None:
        if dimensions < 8:
            raise ValueError(f"dimensions must be at least 8, not {dimensions}")
        self.dimensions = dimensions

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector (or all zeros, for text without words) of `dimensions` floats
        per text."""
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * self.dimensions
        for word in _WORD.findall(text.lower()):
            self._add(vector, "w:" + word, 1.0)
            padded = f"^{word}$"
            for i in range(len(padded) - 2):
                self._add(vector, "t:" + padded[i : i + 3], 0.5)
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector] if norm else vector

    def _add(self, vector: list[float], feature: str, weight: float) -> None:
        digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
        vector[digest % self.dimensions] += weight if digest >> 63 else -weight


class OpenAIEmbedder:
    """An `Embedder` on the OpenAI embeddings API (`POST /v1/embeddings`), or any
    OpenAI-compatible endpoint via `base_url`.

    The SDK client is created on the first `embed` call, so constructing one needs no key
    and no network.

    Args:
        model: Embedding model name.
        dimensions: Vector length. For `text-embedding-3-*` models it is sent to the API
            (which shortens the vectors); other models must natively return this length.
        client: An `openai.AsyncOpenAI` to use instead of creating one.
        api_key: Key for the created client (default: `OPENAI_API_KEY`).
        base_url: Endpoint for the created client.
        batch_size: Most texts per request (the API accepts up to 2,048 inputs).

    Raises:
        ImportError: on first use, when `openai` is missing
            (`pip install "spine-backends[openai]"`).
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        dimensions: int = 1536,
        client: Any = None,
        api_key: str | None = None,
        base_url: str | None = None,
        batch_size: int = 512,
    ) -> None:
        self.model = model
        self.dimensions = dimensions
        self._client = client
        self._api_key = api_key
        self._base_url = base_url
        self._batch_size = max(1, min(batch_size, 2048))

    @property
    def client(self) -> Any:
        """The `openai.AsyncOpenAI` client (created on first use)."""
        if self._client is None:
            try:
                import openai
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError(
                    'OpenAIEmbedder needs the openai package: pip install "spine-backends[openai]"'
                ) from exc
            self._client = openai.AsyncOpenAI(api_key=self._api_key, base_url=self._base_url)
        return self._client

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector of `dimensions` floats per text, in input order.

        Raises:
            ValueError: the API returned vectors of another length.
            openai.APIError: the request failed (after the SDK's own retries).
        """
        vectors: list[list[float]] = []
        extra: dict[str, Any] = (
            {"dimensions": self.dimensions} if self.model.startswith("text-embedding-3") else {}
        )
        for start in range(0, len(texts), self._batch_size):
            batch = list(texts[start : start + self._batch_size])
            response = await self.client.embeddings.create(
                model=self.model, input=batch, encoding_format="float", **extra
            )
            for item in sorted(response.data, key=lambda d: d.index):
                if len(item.embedding) != self.dimensions:
                    raise ValueError(
                        f"{self.model} returned {len(item.embedding)} dimensions, "
                        f"expected {self.dimensions}"
                    )
                vectors.append(list(item.embedding))
        return vectors
