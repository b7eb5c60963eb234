"""Spatial evidence for the pixels where the workers disagree (numpy only).

Ground Truth's built-in consolidation "applies a smoothing function" after its vote. tally uses the
neighbourhood in two steps, both only where the vote is contested:

**Boundaries** (:func:`window_mean`). Where workers disagree whether a pixel is one class or
background — the band between their outlines — and the vote there is a close call (the caller's
bound: in :mod:`tally.aggregation.pixel_vote`, a margin of at most one third, where a thin structure
the vote gives the class keeps it instead), the pixel takes the class whose weighted share,
averaged over the ``(2r+1)²`` square around it, is larger (background or that class; other classes
in the square count for neither). Across a band of outlines this moves the boundary from the
workers' *median* outline (what a per-pixel vote picks) to about their weighted *mean* outline,
which varies less when each worker's outline jitters independently. A pixel whose averaged shares
are within the tie tolerance keeps the vote's decision; the averaging never changes a class into
another class, so a shape two workers name differently is not given to the one who drew it larger.

**Ties** (:func:`settle_ties`). Where equally reliable workers still disagree — with two workers,
every disagreement wider than the square — the vote alone has no answer: starting from the pixels
that are decided, each tied pixel takes, among its own tied classes, the class most of its
already-settled 4-neighbours have, front by front. Two fronts advancing from both sides of a
disputed band meet in its middle, so the boundary lands halfway between the workers' outlines
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

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_TIE_CLASSES", "settle_ties", "window_mean"]

MAX_TIE_CLASSES = 64
"""Classes a tie bitmask can name; ties among higher class keys keep the vote's tie rule."""

_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))
_CHUNK = 1 << 16


def settle_ties(
    labels: npt.NDArray[np.uint8],
    tied: npt.NDArray[np.intp],
    candidates: npt.NDArray[np.uint64],
    max_steps: int = 8,
) -> npt.NDArray[np.uint8]:
    """Return ``labels`` with the tied pixels settled from their neighbours.

    Args:
        labels: ``(H, W)`` the vote's labels (tied pixels hold the vote's fallback).
        tied: flat indices of the tied pixels (distinct; usually in increasing order).
        candidates: for each tied pixel, a bitmask of the classes it is tied between.
        max_steps: fronts advance at most this many pixels.
    """
    height, width = labels.shape
    flat = labels.reshape(-1).copy()
    tied = np.asarray(tied, dtype=np.intp)
    candidates = np.asarray(candidates, dtype=np.uint64)
    n = len(tied)
    if not n:
        return flat.reshape(height, width)
    # each tied pixel's 4 neighbours (up, down, left, right): the flat index (0 outside the image)
    # and a state: the neighbour's position in ``tied`` if it is tied, n if it is settled, n + 1
    # outside. In increasing order (as the tied pixels usually come) a pixel's left and right
    # neighbours are its neighbours in that order; those above and below are found by a search
    ordered = n == 1 or bool((tied[1:] > tied[:-1]).all())
    order = np.arange(n) if ordered else np.argsort(tied, kind="stable")
    ranked = tied if ordered else tied[order]
    rows, cols = np.divmod(ranked, width)
    neighbours = np.empty((len(_NEIGHBOURS), n), dtype=np.intp)
    state = np.full((len(_NEIGHBOURS), n), n, dtype=np.intp)
    for d, step in enumerate((-width, width)):
        np.add(ranked, step, out=neighbours[d])
        found = np.minimum(np.searchsorted(ranked, neighbours[d]), n - 1)
        hit = ranked[found] == neighbours[d]
        state[d, hit] = order[found[hit]]
    np.subtract(ranked, 1, out=neighbours[2])
    np.add(ranked, 1, out=neighbours[3])
    adjacent = np.flatnonzero(ranked[1:] == ranked[:-1] + 1)  # ranked[i + 1] is right of ranked[i] ...
    adjacent = adjacent[cols[adjacent] < width - 1]  # ... unless ranked[i] ends its row
    state[3, adjacent] = order[adjacent + 1]
    state[2, adjacent + 1] = order[adjacent]
    for d, outside in enumerate((rows == 0, rows == height - 1, cols == 0, cols == width - 1)):
        state[d, outside] = n + 1
        neighbours[d, outside] = 0
    if not ordered:  # back to the caller's order
        back = np.empty(n, dtype=np.intp)
        back[order] = np.arange(n)
        neighbours, state = neighbours[:, back], state[:, back]
    unsettled = np.ones(n + 2, dtype=bool)  # per state: a tied pixel still pending, or outside
    unsettled[n] = False
    # the first front: tied pixels next to a settled one; later fronts: next to the last settled
    front = np.flatnonzero((state == n).any(axis=0))
    for _ in range(max_steps):
        if not len(front):
            break
        painted = flat[neighbours[:, front]].astype(np.intp)
        usable = ~unsettled[state[:, front]]
        usable &= ((candidates[front] >> painted.astype(np.uint64)) & np.uint64(1)).astype(bool)
        reached = usable.any(axis=0)
        if not reached.any():
            break
        # the class most usable neighbours have (ties: the lowest key); usable classes are below 64
        n_classes = min(int(painted.max()), MAX_TIE_CLASSES - 1) + 1
        painted += np.arange(len(front)) * n_classes
        votes = np.bincount(painted[usable], minlength=len(front) * n_classes).reshape(len(front), n_classes)
        done = front[reached]
        flat[tied[done]] = votes[reached].argmax(axis=1)
        unsettled[done] = False
        following = np.zeros(n + 2, dtype=bool)
        following[state[:, done]] = True
        following &= unsettled
        following[n + 1] = False
        front = np.flatnonzero(following)
    return flat.reshape(height, width)


def window_mean(
    inverse: npt.NDArray[np.integer[Any]],
    table: npt.NDArray[np.float32],
    pixels: npt.NDArray[np.intp],
    column: npt.NDArray[np.intp],
    radius: int,
) -> npt.NDArray[np.float32]:
    """For each of ``pixels``, the mean of ``table[row(q), column[p]]`` over the pixels ``q`` of the
    ``(2 radius + 1)²`` square around it, where ``row(q) = inverse[q]`` (the square is clamped at the
    image's edges, repeating the edge pixels).

    Args:
        inverse: ``(H, W)`` a row of ``table`` per pixel (a vote table's tuple index).
        table: ``(U, C)`` the values to average.
        pixels: flat indices of the pixels to compute.
        column: for each of ``pixels``, the column of ``table`` it averages.
        radius: half-width of the square.
    """
    height, width = inverse.shape
    flat_inverse = inverse.reshape(-1)
    flat_table = np.ascontiguousarray(table, dtype=np.float32).reshape(-1)
    stride = table.shape[1]
    steps = np.arange(-radius, radius + 1)
    total = np.empty(len(pixels), dtype=np.float32)
    for start in range(0, len(pixels), _CHUNK):  # bounded memory: (2r+1)² indices per pixel
        part = pixels[start : start + _CHUNK]
        rows, cols = np.divmod(part, width)
        row_starts = np.clip(rows[None, :] + steps[:, None], 0, height - 1) * width
        col_offsets = np.clip(cols[None, :] + steps[:, None], 0, width - 1)
        # one (2r+1, 2r+1, n) index buffer: pixel positions, then table positions
        index = row_starts[:, None, :] + col_offsets[None, :, :]
        np.multiply(np.take(flat_inverse, index), np.intp(stride), out=index)  # in intp, whatever the inverse type
        index += column[start : start + _CHUNK]
        values = np.take(flat_table, index)
        total[start : start + _CHUNK] = values.sum(axis=(0, 1), dtype=np.float32)
    total /= len(steps) ** 2
    return total
