"""Estimators used in reports: pass@k, pass^k and percentiles."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["pass_at_k", "pass_hat_k", "percentile"]


def _check(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k attempts passes, from n attempts of which c passed.

    The unbiased estimator of Chen et al. 2021, "Evaluating Large Language Models Trained on
    Code" (Codex paper), eq. 1: `1 - C(n - c, k) / C(n, k)`.

    Raises:
        ValueError: not 0 <= c <= n, or not 1 <= k <= n.
    """
    _check(n, c, k)
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Probability that all of k attempts pass, from n attempts of which c passed ("pass^k").

    The estimator of tau-bench (Yao et al. 2024, "τ-bench: A Benchmark for Tool-Agent-User
    Interaction in Real-World Domains"): `C(c, k) / C(n, k)`; it measures reliability across
    repeats, where pass@k measures the chance of one success.

    Raises:
        ValueError: not 0 <= c <= n, or not 1 <= k <= n.
    """
    _check(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks (numpy's
    default "linear" method); 0.0 for no values.

    Raises:
        ValueError: q is outside [0, 100].
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
