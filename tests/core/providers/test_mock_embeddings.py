"""The mock provider embeds every input form the codec accepts, token arrays included."""

from __future__ import annotations

from typing import Any

import pytest

from codec.embeddings import embed_request_from_json
from core.config.models import ProviderAccount
from core.providers.mock import MockProvider


def _mock() -> MockProvider:
    return MockProvider(
        ProviderAccount.model_validate(
            {
                "type": "provider-account",
                "name": "mock-main",
                "provider": "mock",
                "models": [{"name": "embed", "kind": "embedding"}],
            }
        )
    )


async def _embed(value: Any) -> list[list[float]]:
    request = embed_request_from_json({"model": "mock-main/embed", "input": value})
    response = await _mock().embed(request, "embed")
    assert [e.index for e in response.embeddings] == list(range(len(response.embeddings)))
    return [list(e.values) for e in response.embeddings]


@pytest.mark.parametrize(
    ("value", "count", "tokens"),
    [
        ("one two", 1, 2),
        (["one", "two three"], 2, 3),
        ([1, 2, 3], 1, 3),  # one token array
        ([[1, 2, 3], [4, 5]], 2, 5),  # what LangChain's OpenAIEmbeddings sends
    ],
)
async def test_every_input_form_gets_one_embedding_per_input(
    value: Any, count: int, tokens: int
) -> None:
    request = embed_request_from_json({"model": "mock-main/embed", "input": value})
    response = await _mock().embed(request, "embed")
    assert len(response.embeddings) == count
    assert all(len(e.values) > 0 for e in response.embeddings)
    assert response.usage.input_tokens == tokens


async def test_the_same_tokens_give_the_same_vector_and_others_differ() -> None:
    first, second = await _embed([[1, 2, 3], [4, 5]])
    again = await _embed([[4, 5]])
    assert again == [second]
    assert first != second
