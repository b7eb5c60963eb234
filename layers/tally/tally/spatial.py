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
    max_steps: int = 8,
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
    rows, cols = np.divmod(tied, width)
    # each tied pixel's 4 neighbours (flat index; -1 outside the image), computed once
    neighbours = np.full((len(_NEIGHBOURS), len(tied)), -1, dtype=np.intp)
    for d, (dy, dx) in enumerate(_NEIGHBOURS):
        ny, nx = rows + dy, cols + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        neighbours[d, inside] = ny[inside] * width + nx[inside]
    position = np.full(flat.size, -1, dtype=np.intp)
    position[tied] = np.arange(len(tied))
    pending = np.ones(len(tied), dtype=bool)
    # the first front: tied pixels next to a settled one; later fronts: next to the last settled
    near_all = np.where(neighbours >= 0, neighbours, 0)
    front = np.flatnonzero(((neighbours >= 0) & settled[near_all]).any(axis=0))
    for _ in range(max_steps):
        if not len(front):
            break
        near = neighbours[:, front]
        valid = near >= 0
        safe = np.where(valid, near, 0)
        painted = flat[safe].astype(np.uint64)
        usable = valid & settled[safe] & (((candidates[front][None, :] >> painted) & np.uint64(1)) == 1)
        reached = usable.any(axis=0)
        if not reached.any():
            break
        # among the reached pixels, the class most usable neighbours have (ties: the lowest key)
        n_classes = int(painted[usable].max()) + 1
        which = np.flatnonzero(reached)
        votes = np.zeros((len(which), n_classes), dtype=np.int64)
        for d in range(len(_NEIGHBOURS)):
            hit = usable[d, which]
            np.add.at(votes, (np.flatnonzero(hit), painted[d, which][hit].astype(np.intp)), 1)
        done = front[which]
        flat[tied[done]] = votes.argmax(axis=1)
        settled[tied[done]] = True
        pending[done] = False
        following = neighbours[:, done].ravel()
        following = position[following[following >= 0]]
        following = following[following >= 0]
        front = np.unique(following[pending[following]])
    return flat.reshape(height, width)
