"""``<crowd-polygon>``: the type's light half (its shape); the adapter (:mod:`.adapter`, the geometric consolidation) is
imported only for a batch of this type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...gt.response import TaskType
from ..kind import ItemsShape, TaskKind

__all__ = ["POLYGONS", "PolygonsShape"]


class PolygonsShape(ItemsShape):
    """``{"polygons": [...]}`` (``<crowd-polygon>``)."""

    name = "polygon"
    type = TaskType.INSTANCE_SEGMENTATION.value
    key = "polygons"

    def recognises(self, element: Mapping[str, Any]) -> bool:
        # stated here, not inherited: the polygon task is an instance task, whose ``recognises`` differs
        return isinstance(element.get("polygons"), list)


POLYGONS = TaskKind(shape=PolygonsShape(), task=".adapter:Polygons")
