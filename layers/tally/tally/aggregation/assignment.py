"""Optimal assignment (maximum-weight bipartite matching) in numpy, without scipy.

The geometric tasks match one worker's items to the clusters built so far; :func:`max_similarity_assignment`
picks the pairs that maximise the summed similarity, each row and each column used at most once.

Method: the Hungarian method in its shortest-augmenting-path form with dual potentials (Kuhn 1955,
Munkres 1957; the O(n³) formulation of Jonker and Volgenant 1987), one row added per phase, the inner
loop over columns vectorised with numpy. Matrices here are small (a few dozen items per label), so
the O(n³) cost is negligible next to computing the similarities.

Reference:
    R. Jonker, A. Volgenant, "A shortest augmenting path algorithm for dense and sparse linear
    assignment problems", Computing 38 (1987) 325–340. https://doi.org/10.1007/BF02278710
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["max_similarity_assignment"]

IntArray = npt.NDArray[np.intp]


def max_similarity_assignment(similarity: npt.ArrayLike, min_similarity: float = -np.inf) -> tuple[IntArray, IntArray]:
    """Rows and columns of the pairs that maximise the total similarity.

    Every row and every column is used at most once. Pairs below ``min_similarity`` count as worth 0
    to the assignment and are left out of the result, so for non-negative similarities this is the
    maximum-weight matching over the pairs at or above the threshold (a pair below it never displaces
    one above it).

    Tie rule: among assignments whose totals differ by less than ``1e-9`` (relative to the largest
    score), the one whose pairs have the smallest sum of row-major positions ``row × n_cols + col``
    wins, so one column tied between two rows goes to the earlier row.

    Args:
        similarity: ``(n_rows, n_cols)`` finite scores, larger is better.
        min_similarity: pairs scoring below this are not returned.

    Returns:
        ``(rows, cols)``, sorted by row.

    Raises:
        ValueError: the matrix is not two-dimensional or holds a NaN or infinity.

    Examples:
        >>> rows, cols = max_similarity_assignment([[0.9, 0.8], [0.8, 0.1]])
        >>> rows.tolist(), cols.tolist()
        ([0, 1], [1, 0])
        >>> max_similarity_assignment([[0.9, 0.2]], min_similarity=0.5)[1].tolist()
        [0]
        >>> max_similarity_assignment([[0.7], [0.7]])[0].tolist()  # a tie: the earlier row
        [0]
    """
    scores = np.asarray(similarity, dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"similarity must be a 2-D matrix, got {scores.ndim} dimension(s)")
    if not np.isfinite(scores).all():
        raise ValueError("similarity holds NaN or infinite values; give every pair a finite score")
    n_rows, n_cols = scores.shape
    if n_rows == 0 or n_cols == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    transposed = n_rows > n_cols
    valid = scores >= min_similarity
    if (valid.sum(axis=0) <= 1).all() and (valid.sum(axis=1) <= 1).all():
        # no row or column has a choice to make (the usual case for well separated items): the valid
        # pairs are the assignment
        rows, cols = np.nonzero(valid)
        return rows.astype(np.intp), cols.astype(np.intp)
    worth = np.where(valid, scores, 0.0) if np.isfinite(min_similarity) else scores
    positions = np.arange(n_rows * n_cols, dtype=np.float64).reshape(n_rows, n_cols) / (n_rows * n_cols)
    worth = worth - 1e-9 * max(1.0, float(np.abs(worth).max())) * positions
    cost = -(worth.T if transposed else worth)
    col_of_row = _hungarian(cost)
    rows = np.arange(cost.shape[0], dtype=np.intp)
    cols = col_of_row
    if transposed:
        rows, cols = cols, rows
        order = np.argsort(rows, kind="stable")
        rows, cols = rows[order], cols[order]
    keep = scores[rows, cols] >= min_similarity
    return rows[keep], cols[keep]


def _hungarian(cost: npt.NDArray[np.float64]) -> IntArray:
    """Minimum-cost assignment of every row of an ``(n, m)`` matrix, ``n <= m``: column per row.

    Shortest augmenting paths with potentials ``u`` (rows) and ``v`` (columns); index 0 is a
    virtual column that starts every search (the classic 1-based formulation).
    """
    n, m = cost.shape
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    row_of_col = np.zeros(m + 1, dtype=np.intp)  # 0: free; else 1-based row
    way = np.zeros(m + 1, dtype=np.intp)
    for i in range(1, n + 1):
        row_of_col[0] = i
        j0 = 0
        min_slack = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = row_of_col[j0]
            free = ~used
            free[0] = False
            slack = cost[i0 - 1] - u[i0] - v[1:]
            better = free[1:] & (slack < min_slack[1:])
            min_slack[1:][better] = slack[better]
            way[1:][better] = j0
            candidates = np.where(free, min_slack, np.inf)
            j1 = int(np.argmin(candidates))
            delta = candidates[j1]
            u[row_of_col[used]] += delta
            v[used] -= delta
            min_slack[free] -= delta
            j0 = j1
            if row_of_col[j0] == 0:
                break
        while j0 != 0:
            j1 = way[j0]
            row_of_col[j0] = row_of_col[j1]
            j0 = j1
    col_of_row = np.zeros(n, dtype=np.intp)
    assigned = np.nonzero(row_of_col[1:])[0]
    col_of_row[row_of_col[assigned + 1] - 1] = assigned
    return col_of_row
