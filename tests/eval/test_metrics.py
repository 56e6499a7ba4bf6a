"""pass@k (Chen et al. 2021), pass^k (tau-bench) and percentiles."""

from __future__ import annotations

import itertools
import math

import pytest

from spine_eval import pass_at_k, pass_hat_k, percentile


@pytest.mark.parametrize(("n", "c"), [(5, 0), (5, 2), (5, 5), (10, 3), (4, 1)])
def test_estimators_match_enumerating_every_k_subset(n: int, c: int) -> None:
    outcomes = [True] * c + [False] * (n - c)
    for k in range(1, n + 1):
        subsets = list(itertools.combinations(outcomes, k))
        assert pass_at_k(n, c, k) == pytest.approx(sum(any(s) for s in subsets) / len(subsets))
        assert pass_hat_k(n, c, k) == pytest.approx(sum(all(s) for s in subsets) / len(subsets))


def test_pass_at_1_and_pass_hat_1_are_the_pass_rate() -> None:
    assert pass_at_k(8, 3, 1) == pass_hat_k(8, 3, 1) == pytest.approx(3 / 8)
    assert pass_hat_k(4, 2, 2) == pytest.approx(1 / math.comb(4, 2))


def test_estimators_reject_bad_arguments() -> None:
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_hat_k(3, 1, 4)


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile([], 50) == 0.0
