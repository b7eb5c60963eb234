"""What several kinds' report views share to measure a worker's agreement with the consensus: the IoU
of two boxes, a greedy one-to-one matching, the F1 of a matching, and what a painted answer does not
show (light: numpy only once a report view asks).

Examples:
    >>> iou((0, 0, 2, 2), (1, 0, 2, 2))
    0.3333333333333333
    >>> greedy([(0.9, 0, 0), (0.8, 0, 1), (0.7, 1, 1)])
    2
    >>> f1(2, 3, 2), f1(0, 0, 0)
    (0.8, 1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..aggregation.pairing import greedy_pairs

if TYPE_CHECKING:
    from .kind import ReviewAnswer

__all__ = ["f1", "greedy", "iou", "mask_notes"]


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """The intersection over union of two boxes ``(left, top, width, height)`` (0 when both are empty)."""
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def f1(matched: int, mine: int, theirs: int) -> float:
    """The F1 of ``matched`` pairs between ``mine`` and ``theirs`` items (1 when both have none)."""
    return 1.0 if mine == theirs == 0 else 2 * matched / (mine + theirs)


def greedy(pairs: Iterable[tuple[float, int, int]]) -> int:
    """How many pairs ``(score, i, j)`` a greedy matching keeps, best score first, each ``i`` and ``j`` once."""
    return len(greedy_pairs(sorted(pairs, reverse=True)))


def mask_notes(answer: ReviewAnswer, classes: set[str]) -> list[str]:
    """What a painted answer's drawing does not show as a class (its regions, :meth:`ReviewAnswer.regions`):
    paint in colours the worker did not map to a label, labels the job (``classes``) lacks."""
    regions = answer.regions()
    if regions is None:
        return []
    import numpy as np  # the report's (only a report view calls this)

    ids, names = regions
    notes = []
    unmapped = float(np.mean(ids == -1)) if ids.size else 0.0
    if unmapped > 0:
        notes.append(f"{max(unmapped * 100, 0.1):.1f}% painted in colours it did not map to a label")
    if classes:
        foreign = sorted({n for i, n in enumerate(names) if n not in classes and bool(np.any(ids == i + 1))})
        if foreign:
            notes.append(f"painted {', '.join(foreign)}, which the job lacks")
    return notes
