"""The bounding-box task (``<crowd-bounding-box>``): boxes clipped to the image, matched across workers
and fused (:class:`~tally.aggregation.box_consolidation.BoxConsolidation`); the label is the built-in
object-detection shape (:mod:`tally.tasks.geometry` describes what every geometric task shares)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ...aggregation.base import Consolidated, ObjectItems
from ...aggregation.box_consolidation import BoxConsolidation
from ...aggregation.box_fusion import boxes_from_ltwh, boxes_to_ltwh
from ...gt.events import DatasetObject
from ..base import DIGITS, JobContext
from ..geometry import Geometric, kept_ids
from . import BoxesShape

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

    def _shape(
        self, obj: DatasetObject, items: ObjectItems, result: Consolidated, job: JobContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        names = job.require_labels().names
        ltwh = boxes_to_ltwh(result.geometry).tolist()
        annotations = [
            {"class_id": c, "left": b[0], "top": b[1], "width": b[2], "height": b[3]}
            for c, b in zip(kept_ids(result), ltwh, strict=True)
        ]
        objects = [{"confidence": round(float(c), DIGITS)} for c in result.confidence]
        class_map = {str(c): names[c] for c in sorted(set(kept_ids(result)))}
        label = {"annotations": annotations, "objects": objects, "class-map": class_map}
        return label, {"objects": objects, "class-map": class_map}
