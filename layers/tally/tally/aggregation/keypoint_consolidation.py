"""Consolidate keypoints: the geometric core (:mod:`tally.aggregation.geometric`) on a keypoint
similarity, fused by the weighted median of each coordinate.

Two points match by ``exp(-d² / 2σ²)`` (the shape of COCO's object keypoint similarity,
:func:`~tally.aggregation.matching.point_similarity`) with σ ``keypoint_sigma`` × the image diagonal;
a matched cluster becomes the weighted median of its members' ``x`` and of their ``y``
(:func:`~tally.aggregation.box_fusion.weighted_medians`), and a point some of the same workers placed
twice is dropped as a duplicate as boxes are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .base import ObjectItems, WorkerItems
from .box_fusion import weighted_medians
from .geometric import ItemConsolidation, check_coordinates, stacked_members
from .matching import Cluster, point_similarity

__all__ = ["KeypointConsolidation"]

FloatArray = npt.NDArray[np.float64]
_EPS = 1e-9


@dataclass
class KeypointConsolidation(ItemConsolidation[None]):
    """Match, keep and fuse the keypoints of a batch (this module's and
    :mod:`~tally.aggregation.geometric`'s docstrings). Points are ``(n, 2)`` ``x, y`` per answer.

    Fitted statistics: ``worker_statistics_``, per worker ID the eight evidence counts of
    :data:`~tally.aggregation.geometric.EVIDENCE_FIELDS` (a job's next batch takes their sum as ``prior``).

    Examples:
        >>> points = lambda *p: np.array(p, dtype=float)
        >>> obj = ObjectItems(
        ...     (
        ...         WorkerItems("a", ("eye",), points([100, 100])),
        ...         WorkerItems("b", ("eye",), points([104, 101])),
        ...         WorkerItems("c", ("eye",), points([101, 140])),
        ...     ),
        ...     width=300,
        ...     height=400,
        ... )
        >>> result = KeypointConsolidation().fit_predict([obj])[0]
        >>> result.labels, result.geometry.tolist(), result.workers
        (['eye'], [[102.0, 100.5]], [('a', 'b')])
    """

    keypoint_sigma: float = 0.02
    """Keypoint similarity scale σ, as a fraction of the image diagonal."""

    def _sigma(self, obj: ObjectItems) -> float:
        return max(self.keypoint_sigma * float(np.hypot(obj.width, obj.height)), _EPS)

    def _item_similarity(self, obj: ObjectItems, prepared: None) -> FloatArray:
        points = np.concatenate([np.asarray(a.geometry).reshape(-1, 2) for a in obj.answers])
        return point_similarity(points, points, self._sigma(obj))

    def _check_answer(self, obj: ObjectItems, answer: WorkerItems) -> None:
        check_coordinates(answer, 2)

    def _no_items(self, obj: ObjectItems) -> npt.NDArray[np.generic]:
        return np.zeros((0, 2), dtype=np.float64)

    def _fuse(
        self, obj: ObjectItems, kept: Sequence[Cluster], weights: FloatArray, prepared: None
    ) -> tuple[npt.NDArray[np.generic], list[int]]:
        if not kept:
            return np.zeros((0, 2)), []
        items, w = stacked_members(obj, kept, weights, 2)
        return weighted_medians(items, w), list(range(len(kept)))

    def _refine(
        self,
        obj: ObjectItems,
        clusters: Sequence[Cluster],
        kept: Sequence[Cluster],
        support: Sequence[float],
        agreement: Sequence[float],
        fused: npt.NDArray[np.generic],
        order: list[int],
        weights: FloatArray,
    ) -> tuple[list[int], npt.NDArray[np.generic]]:
        items = np.asarray(fused, dtype=np.float64)
        order = self._without_duplicates(kept, support, agreement, point_similarity(items, items, self._sigma(obj)))
        return order, fused[order]
