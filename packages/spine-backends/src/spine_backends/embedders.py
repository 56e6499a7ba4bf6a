"""Embedders: `HashEmbedder` (offline, deterministic) and `OpenAIEmbedder` (the OpenAI
embeddings API). Both implement the core `Embedder` protocol (`embed(text)`: one text, one
vector) and add `embed_many(texts)` for batches."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any

from spine_core import Embedder

__all__ = ["HashEmbedder", "OpenAIEmbedder", "cosine", "embed_all"]

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


async def embed_all(embedder: Embedder, texts: Sequence[str]) -> list[list[float]]:
    """One vector per text, in order: one `embed_many` call when the embedder has it,
    otherwise one `embed` call per text."""
    many = getattr(embedder, "embed_many", None)
    if many is not None:
        vectors: list[list[float]] = await many(list(texts))
        return vectors
    return [await embedder.embed(text) for text in texts]


class HashEmbedder:
    """A deterministic, offline `Embedder` by feature hashing (Weinberger et al., 2009):
    each lower-cased word (weight 1.0) and each character trigram of a word (weight 0.5)
    is hashed with BLAKE2b to a signed bucket; the vector is L2-normalised. Texts sharing
    words or word pieces score close under cosine. Good for tests, demos and keyword-like
    recall; not a semantic model (swap in `OpenAIEmbedder` or your own in production).

    Args:
        dim: Vector length (number of buckets).

    Raises:
        ValueError: `dim` below 1.
    """

    def __init__(self, dim: int = 256) -> None:
        if dim < 1:
            raise ValueError(f"dim must be at least 1, not {dim}")
        self.dim = dim

    async def embed(self, text: str) -> list[float]:
        """A unit vector of `dim` floats for `text` (all zeros for text without words)."""
        return self._one(text)

    async def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order (see `embed`)."""
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for word in _WORD.findall(text.lower()):
            self._add(vector, "w:" + word, 1.0)
            padded = f"^{word}$"
            for i in range(len(padded) - 2):
                self._add(vector, "t:" + padded[i : i + 3], 0.5)
        norm = math.sqrt(sum(x * x for x in vector))
        return [x / norm for x in vector] if norm else vector

    def _add(self, vector: list[float], feature: str, weight: float) -> None:
        digest = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
        vector[digest % self.dim] += weight if digest >> 63 else -weight


class OpenAIEmbedder:
    """An `Embedder` on the OpenAI embeddings API (`POST /v1/embeddings`), or any
    OpenAI-compatible endpoint via `base_url`.

    The SDK client is created on the first call, so constructing one needs no key and no
    network; pass `client` to inject one (e.g. in tests).

    Args:
        model: Embedding model name.
        client: An `openai.AsyncOpenAI` to use instead of creating one.
        api_key: Key for the created client (default: the `OPENAI_API_KEY` variable).
        dimensions: Vector length to ask for and check, or None for the model's native
            length. Sent to the API for `text-embedding-3-*` models (which shorten their
            vectors); other models must natively return this length.
        base_url: Endpoint for the created client.
        batch_size: Most texts per request in `embed_many` (the API accepts up to 2,048).

    Raises:
        ImportError: on first use, when `openai` is missing
            (`pip install "spine-backends[openai]"`).
    """

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        client: Any = None,
        api_key: str | None = None,
        dimensions: int | None = None,
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

    async def embed(self, text: str) -> list[float]:
        """The vector for `text` (one request).

        Raises:
            ValueError: the API returned a vector of another length than `dimensions`, or
                not one vector per text.
            openai.APIError: the request failed (after the SDK's own retries).
        """
        [vector] = await self._request([text])
        return vector

    async def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in input order, in requests of at most `batch_size` texts.

        Raises:
            ValueError: the API returned a vector of another length than `dimensions`, or
                not one vector per text.
            openai.APIError: a request failed (after the SDK's own retries).
        """
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors.extend(await self._request(list(texts[start : start + self._batch_size])))
        return vectors

    async def _request(self, batch: list[str]) -> list[list[float]]:
        extra: dict[str, Any] = {}
        if self.dimensions is not None and self.model.startswith("text-embedding-3"):
            extra["dimensions"] = self.dimensions
        response = await self.client.embeddings.create(
            model=self.model, input=batch, encoding_format="float", **extra
        )
        if len(response.data) != len(batch):
            raise ValueError(
                f"{self.model} returned {len(response.data)} vectors for {len(batch)} texts"
            )
        vectors = []
        for item in sorted(response.data, key=lambda d: d.index):
            if self.dimensions is not None and len(item.embedding) != self.dimensions:
                raise ValueError(
                    f"{self.model} returned {len(item.embedding)} dimensions, "
                    f"expected {self.dimensions}"
                )
            vectors.append(list(item.embedding))
        return vectors
