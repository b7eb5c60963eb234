"""The keypoint task (``<crowd-keypoint>``): points inside the image, matched across workers and fused
(:class:`~tally.aggregation.keypoint_consolidation.KeypointConsolidation`; :mod:`tally.tasks.geometry`
describes what every geometric task shares)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ...aggregation.base import Consolidated, ObjectItems
from ...aggregation.keypoint_consolidation import KeypointConsolidation
from ...gt.events import DatasetObject
from ..base import DIGITS, JobContext
from ..geometry import Common, Geometric, kept_ids
from . import Keypoint, KeypointsResult, KeypointsShape

__all__ = ["Keypoints"]


class Keypoints(KeypointsShape, Geometric):
    algorithm = KeypointConsolidation

    plural = "keypoints"
    fields = ("x", "y")

    def _place(
        self, coords: npt.NDArray[np.float64], width: int, height: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], str]:
        x, y = coords[:, 0], coords[:, 1]
        inside = (x >= 0) & (x <= width) & (y >= 0) & (y <= height)
        return coords, inside, "keypoint(s) outside the image"

    def _result(
        self, obj: DatasetObject, items: ObjectItems, result: Consolidated, job: JobContext, common: Common
    ) -> KeypointsResult:
        names = job.require_labels().names
        points = tuple(
            Keypoint(names[c], round(float(p[0]), 2), round(float(p[1]), 2), round(float(conf), DIGITS))
            for c, p, conf in zip(kept_ids(result), np.asarray(result.geometry), result.confidence, strict=True)
        )
        return KeypointsResult(points, common.image_size, common.confidence, common.worker_quality)
