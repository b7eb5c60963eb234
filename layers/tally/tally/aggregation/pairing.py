"""One-to-one greedy pairing: the shared matcher of the gold scores (an answer's items against a gold
answer's: :class:`~tally.aggregation.geometric.ItemConsolidation`'s and
:class:`~tally.aggregation.lines.LineConsolidation`'s ``known``, :mod:`tally.importers.gold`) and of the
review and form views (:mod:`tally.tasks.review`). Plain Python: no numpy, so the views that import it
stay light."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["greedy_pairs"]


def greedy_pairs(ordered: Iterable[tuple[Any, int, int]]) -> dict[int, int]:
    """``{i: j}`` of the pairs ``(key, i, j)`` a greedy matching keeps, taken in the order given (the
    caller sorts them best first), each ``i`` and each ``j`` once; in the order they were kept.

    >>> greedy_pairs([(0.9, 0, 1), (0.8, 1, 1), (0.7, 1, 0)])
    {0: 1, 1: 0}
    """
    used: set[int] = set()
    matched: dict[int, int] = {}
    for _, i, j in ordered:
        if i not in matched and j not in used:
            matched[i] = j
            used.add(j)
    return matched
