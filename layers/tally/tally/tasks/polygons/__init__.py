"""``<crowd-polygon>``: the type's light half (its shape); the adapter (:mod:`.adapter`, the geometric consolidation) is
imported only for a batch of this type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...gt.response import TaskType
from ..kind import ItemsShape, TaskKind

__all__ = ["POLYGONS", "PolygonsShape", "group_key", "group_of"]


def group_of(polygon: Any) -> str | None:
    """A polygon's ``group`` (tally's own key, which the CVAT importer sets from a shape's nonzero
    ``group_id``) as text; ``None``: not grouped (absent, empty, ``0``, or not a string or an integer)."""
    group = polygon.get("group") if isinstance(polygon, Mapping) else None
    if isinstance(group, bool) or not isinstance(group, str | int):
        return None
    text = str(group).strip()
    return None if text in ("", "0") else text


def group_key(polygon: Any) -> tuple[str, str] | None:
    """A grouped polygon's instance key (its :func:`group_of`, its label as text); ``None``: not grouped."""
    group = group_of(polygon)
    return None if group is None else (group, str(polygon.get("label")))


class PolygonsShape(ItemsShape):
    """``{"polygons": [...]}`` (``<crowd-polygon>``)."""

    name = "polygon"
    type = TaskType.INSTANCE_SEGMENTATION.value
    key = "polygons"

    def recognises(self, element: Mapping[str, Any]) -> bool:
        # stated here, not inherited: the polygon task is an instance task, whose ``recognises`` differs
        return isinstance(element.get("polygons"), list)


POLYGONS = TaskKind(shape=PolygonsShape(), task=".adapter:Polygons")
