"""Consolidate keypoints: the geometric core (:mod:`tally.aggregation.geometric`) on a keypoint
similarity, fused by the weighted median of each coordinate.

Two points match by ``exp(-d² / 2σ²)`` (the shape of COCO's object keypoint similarity,
:func:`~tally.aggregation.matching.point_similarity`) with σ ``keypoint_sigma`` × the image diagonal;
a matched cluster becomes the weighted median of its members' ``x`` and of their ``y``
(:func:`~tally.aggregation.box_fusion.weighted_medians`), and a point some of the same workers placed
twice is dropped as a duplicate as boxes are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from .base import ObjectItems
from .box_fusion import weighted_medians
from .geometric import CoordinateConsolidation
from .matching import point_similarity

__all__ = ["KeypointConsolidation"]

FloatArray = npt.NDArray[np.float64]
_EPS = 1e-9


@dataclass
class KeypointConsolidation(CoordinateConsolidation):
    """Match, keep and fuse the keypoints of a batch (this module's and
    :mod:`~tally.aggregation.geometric`'s docstrings). Points are ``(n, 2)`` ``x, y`` per answer.

    Fitted statistics: ``worker_statistics_``, per worker ID the eight evidence counts of
    :data:`~tally.aggregation.geometric.EVIDENCE_FIELDS` (a job's next batch takes their sum as ``prior``).

    Examples:
        >>> from tally.aggregation.base import ObjectItems, WorkerItems
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

    coordinates: ClassVar[int] = 2

    def _pairwise(self, obj: ObjectItems, a: FloatArray, b: FloatArray) -> FloatArray:
        return point_similarity(a, b, self._sigma(obj))

    def _fuse_members(self, items: FloatArray, weights: FloatArray) -> npt.NDArray[np.generic]:
        return weighted_medians(items, weights)
