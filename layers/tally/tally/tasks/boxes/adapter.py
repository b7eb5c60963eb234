"""The bounding-box task (``<crowd-bounding-box>``): boxes clipped to the image, matched across workers
and fused (:class:`~tally.aggregation.box_consolidation.BoxConsolidation`); the label is the built-in
object-detection shape (:mod:`tally.tasks.geometry` describes what every geometric task shares)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ...aggregation.base import Consolidated, ObjectItems
from ...aggregation.box_consolidation import BoxConsolidation
from ...aggregation.box_fusion import boxes_from_ltwh, boxes_to_ltwh
from ...gt.events import DatasetObject
from ..base import DIGITS, JobContext
from ..geometry import Common, Geometric, kept_ids
from . import Box, BoxesResult, BoxesShape

__all__ = ["BoundingBoxes"]


class BoundingBoxes(BoxesShape, Geometric):
    algorithm = BoxConsolidation

    plural = "boxes"
    fields = ("left", "top", "width", "height")

    def _place(
        self, coords: npt.NDArray[np.float64], width: int, height: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], str]:
        boxes, inside = boxes_from_ltwh(coords, width, height)  # clipped to the image
        placed = np.zeros((len(coords), 4))
        placed[inside] = boxes
        return placed, inside, "box(es) with no area inside the image"

    def _result(
        self, obj: DatasetObject, items: ObjectItems, result: Consolidated, job: JobContext, common: Common
    ) -> BoxesResult:
        names = job.require_labels().names
        ltwh = boxes_to_ltwh(result.geometry).tolist()
        boxes = tuple(
            Box(c, names[c], b[0], b[1], b[2], b[3], round(float(conf), DIGITS))
            for c, b, conf in zip(kept_ids(result), ltwh, result.confidence, strict=True)
        )
        return BoxesResult(boxes, common.image_size, common.confidence, common.worker_quality)
