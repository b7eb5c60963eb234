"""Spatial evidence for the pixels the vote leaves tied (numpy only).

Where equally reliable workers disagree — with two workers, every disagreement — the vote alone has
no answer. Ground Truth's built-in consolidation "applies a smoothing function"; tally settles such
pixels from their surroundings instead: starting from the pixels the vote did decide, each tied pixel
takes, among its own tied classes, the class most of its already-settled 4-neighbours have, front by
front. Two fronts advancing from both sides of a disputed band meet in its middle, so the boundary
lands halfway between the workers' outlines (the least-squares answer to symmetric outline jitter)
rather than on one worker's outline. Pixels no front reaches within ``max_steps`` keep the vote's
tie rule.

Examples:
    >>> import numpy as np
    >>> labels = np.array([[1, 0, 0, 0, 0, 0]], np.uint8)  # pixels 1..4 are tied between 0 and 1
    >>> tied = np.array([1, 2, 3, 4])
    >>> settle_ties(labels, tied, np.full(4, 0b11, np.uint64)).tolist()
    [[1, 1, 1, 0, 0, 0]]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_TIE_CLASSES", "settle_ties"]

MAX_TIE_CLASSES = 64
"""Classes a tie bitmask can name; ties among higher class keys keep the vote's tie rule."""

_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def settle_ties(
    labels: npt.NDArray[np.uint8],
    tied: npt.NDArray[np.intp],
    candidates: npt.NDArray[np.uint64],
    max_steps: int = 32,
) -> npt.NDArray[np.uint8]:
    """Return ``labels`` with the tied pixels settled from their neighbours.

    Args:
        labels: ``(H, W)`` the vote's labels (tied pixels hold the vote's fallback).
        tied: flat indices of the tied pixels.
        candidates: for each tied pixel, a bitmask of the classes it is tied between.
        max_steps: fronts advance at most this many pixels.
    """
    height, width = labels.shape
    flat = labels.reshape(-1).copy()
    settled = np.ones(flat.size, dtype=bool)
    settled[tied] = False
    pending = np.arange(len(tied))
    n_classes = int(flat.max(initial=0)) + 1
    for _ in range(max_steps):
        if not len(pending):
            break
        idx = tied[pending]
        rows, cols = np.divmod(idx, width)
        counts = np.zeros((len(idx), max(n_classes, 1)), dtype=np.int16)
        for dy, dx in _NEIGHBOURS:
            ny, nx = rows + dy, cols + dx
            inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
            neighbour = ny[inside] * width + nx[inside]
            ok = settled[neighbour]
            where = np.flatnonzero(inside)[ok]
            np.add.at(counts, (where, flat[neighbour[ok]]), 1)
        allowed = ((candidates[pending][:, None] >> np.arange(counts.shape[1], dtype=np.uint64)) & np.uint64(1)) == 1
        counts[~allowed] = 0
        best = counts.argmax(axis=1)
        reached = counts.max(axis=1) > 0
        if not reached.any():
            break
        flat[idx[reached]] = best[reached]
        settled[idx[reached]] = True
        pending = pending[~reached]
    return flat.reshape(height, width)
