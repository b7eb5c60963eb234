"""The numpy optimal assignment against brute force, and its edge cases."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tally.aggregation.assignment import max_similarity_assignment


def brute_force_best(scores: np.ndarray) -> float:
    n, m = scores.shape
    if n <= m:
        return float(max(sum(scores[i, p[i]] for i in range(n)) for p in itertools.permutations(range(m), n)))
    return float(max(sum(scores[p[j], j] for j in range(m)) for p in itertools.permutations(range(n), m)))


@pytest.mark.parametrize("seed", range(5))
def test_total_equals_brute_force_on_random_matrices(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(60):
        n, m = (int(x) for x in rng.integers(1, 6, size=2))
        scores = rng.random((n, m)).round(1)  # rounded: many ties
        rows, cols = max_similarity_assignment(scores)
        assert len(rows) == min(n, m)
        assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
        assert rows.tolist() == sorted(rows.tolist())
        assert scores[rows, cols].sum() == pytest.approx(brute_force_best(scores), abs=1e-9)


def test_thresholded_total_equals_brute_force_over_pairs_above_it() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        n, m = (int(x) for x in rng.integers(1, 5, size=2))
        scores = rng.random((n, m))
        rows, cols = max_similarity_assignment(scores, min_similarity=0.5)
        assert (scores[rows, cols] >= 0.5).all()
        assert scores[rows, cols].sum() == pytest.approx(brute_force_best(np.where(scores >= 0.5, scores, 0.0)))


def test_a_pair_below_the_threshold_never_displaces_one_above_it() -> None:
    # the plain optimum pairs (0, 1) and (1, 0) for 0.55 + 0.45 = 1.0; above 0.5 only (0, 0) is worth more
    rows, cols = max_similarity_assignment([[0.6, 0.55], [0.45, 0.0]], min_similarity=0.5)
    assert (rows.tolist(), cols.tolist()) == ([0], [0])


def test_more_rows_than_columns() -> None:
    rows, cols = max_similarity_assignment([[0.1], [0.9], [0.5]])
    assert (rows.tolist(), cols.tolist()) == ([1], [0])


def test_one_column_tied_between_two_rows_goes_to_the_earlier_row() -> None:
    rows, cols = max_similarity_assignment([[0.8, 0.0], [0.8, 0.0]], min_similarity=0.5)
    assert (rows.tolist(), cols.tolist()) == ([0], [0])


def test_empty_matrix_gives_no_pairs() -> None:
    rows, cols = max_similarity_assignment(np.zeros((0, 3)))
    assert rows.tolist() == [] and cols.tolist() == []


@pytest.mark.parametrize("bad", [[[np.nan, 1.0]], [[np.inf]], [1.0, 2.0]])
def test_nan_infinite_or_flat_input_is_refused(bad: list[list[float]] | list[float]) -> None:
    with pytest.raises(ValueError, match="similarity"):
        max_similarity_assignment(bad)
