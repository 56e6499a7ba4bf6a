"""HashEmbedder and OpenAIEmbedder (against a mocked embeddings API), `embed_all`, and the
plugin entry points of the backends package."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import httpx2
import openai
import pytest

from spine_backends import (
    BufferMemory,
    HashEmbedder,
    InMemoryVectorMemory,
    OpenAIEmbedder,
    PgVectorMemory,
    PostgresCheckpoint,
    RedisCheckpoint,
    SQLiteCheckpoint,
    cosine,
)
from spine_backends.embedders import embed_all
from spine_core import Embedder
from spine_core.registry import CHECKPOINTS, EMBEDDERS, MEMORY, lookup


@pytest.mark.anyio
async def test_hash_embedder_is_deterministic_unit_length_and_sized() -> None:
    embedder = HashEmbedder(dim=64)
    a, b, empty = [await embedder.embed(t) for t in ("Hello world", "Hello world", "  ")]
    assert a == b and len(a) == 64
    assert sum(x * x for x in a) == pytest.approx(1.0)
    assert empty == [0.0] * 64
    assert isinstance(embedder, Embedder)
    assert len(await HashEmbedder().embed("x")) == 256 == HashEmbedder().dim


@pytest.mark.anyio
async def test_hash_embedder_scores_shared_words_closer() -> None:
    embedder = HashEmbedder()
    query = await embedder.embed("where does the user live")
    near = await embedder.embed("the user lives in Lisbon")
    far = await embedder.embed("invoices are due monthly")
    assert cosine(query, near) > cosine(query, far)


@pytest.mark.anyio
async def test_hash_embedder_embed_many_matches_embed() -> None:
    embedder = HashEmbedder(dim=32)
    texts = ["alpha beta", "gamma", ""]
    assert await embedder.embed_many(texts) == [await embedder.embed(t) for t in texts]


def test_hash_embedder_rejects_non_positive_dim() -> None:
    with pytest.raises(ValueError, match="dim"):
        HashEmbedder(dim=0)


def test_cosine_rejects_vectors_of_different_length() -> None:
    assert cosine([1.0, 0.0], [0.0, 0.0]) == 0.0
    assert cosine([1.0, 2.0], [2.0, 4.0]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ in length"):
        cosine([1.0], [1.0, 2.0])


class _OneAtATime:
    """An embedder with only the protocol's `embed`."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def embed(self, text: str) -> list[float]:
        self.calls.append(text)
        return [float(len(text))]


class _Batching(_OneAtATime):
    async def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append("|".join(texts))
        return [[float(len(t))] for t in texts]


@pytest.mark.anyio
async def test_embed_all_batches_when_the_embedder_can() -> None:
    single, batching = _OneAtATime(), _Batching()
    assert await embed_all(single, ["a", "bb"]) == [[1.0], [2.0]]
    assert single.calls == ["a", "bb"]
    assert await embed_all(batching, ["a", "bb"]) == [[1.0], [2.0]]
    assert batching.calls == ["a|bb"]


def _embeddings_api(seen: list[dict[str, object]]) -> Callable[[httpx2.Request], httpx2.Response]:
    def handle(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": [float(len(text)), 0.5, -1.0]}
            for i, text in enumerate(inputs)
        ]
        data.reverse()  # the API does not promise order; the index field does
        return httpx2.Response(
            200,
            json={
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": 3, "total_tokens": 3},
            },
        )

    return handle


def _client(seen: list[dict[str, object]]) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="sk-test",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_embeddings_api(seen))),
    )


@pytest.mark.anyio
async def test_openai_embedder_embeds_one_text_into_one_vector() -> None:
    seen: list[dict[str, object]] = []
    embedder = OpenAIEmbedder(client=_client(seen))
    assert isinstance(embedder, Embedder)
    assert await embedder.embed("four") == [4.0, 0.5, -1.0]
    assert seen == [
        {"model": "text-embedding-3-small", "input": ["four"], "encoding_format": "float"}
    ]  # no `dimensions` unless asked for


@pytest.mark.anyio
async def test_openai_embedder_embed_many_batches_and_orders_by_index() -> None:
    seen: list[dict[str, object]] = []
    embedder = OpenAIEmbedder(client=_client(seen), dimensions=3, batch_size=2)
    vectors = await embedder.embed_many(["a", "bb", "ccc"])
    assert vectors == [[1.0, 0.5, -1.0], [2.0, 0.5, -1.0], [3.0, 0.5, -1.0]]
    assert [b["input"] for b in seen] == [["a", "bb"], ["ccc"]]
    assert seen[0]["dimensions"] == 3 and seen[0]["model"] == "text-embedding-3-small"


@pytest.mark.anyio
async def test_openai_embedder_sends_dimensions_only_to_models_that_take_it() -> None:
    seen: list[dict[str, object]] = []
    await OpenAIEmbedder("text-embedding-ada-002", client=_client(seen), dimensions=3).embed("x")
    assert "dimensions" not in seen[0]


@pytest.mark.anyio
async def test_openai_embedder_rejects_wrong_dimensions() -> None:
    embedder = OpenAIEmbedder(dimensions=8, client=_client([]))
    with pytest.raises(ValueError, match="returned 3 dimensions, expected 8"):
        await embedder.embed("x")


def test_openai_embedder_needs_no_key_until_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    embedder = OpenAIEmbedder()
    assert embedder.model == "text-embedding-3-small" and embedder.dimensions is None
    assert embedder._client is None
    with pytest.raises(openai.OpenAIError):
        _ = embedder.client  # creating the client is what needs the key


@pytest.mark.parametrize(
    ("group", "name", "target"),
    [
        (CHECKPOINTS, "sqlite", SQLiteCheckpoint),
        (CHECKPOINTS, "redis", RedisCheckpoint),
        (CHECKPOINTS, "postgres", PostgresCheckpoint),
        (MEMORY, "in_memory", InMemoryVectorMemory),
        (MEMORY, "buffer", BufferMemory),
        (MEMORY, "pgvector", PgVectorMemory),
        (EMBEDDERS, "hash", HashEmbedder),
        (EMBEDDERS, "openai", OpenAIEmbedder),
    ],
)
def test_entry_points_resolve_to_the_classes(group: str, name: str, target: type) -> None:
    assert lookup(group, name) is target
