"""``<crowd-bounding-box>``: the type's light half (its shape); the adapter (:mod:`.adapter`, the geometric consolidation) is
imported only for a batch of this type."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ...gt.response import TaskType
from ..kind import CocoSink, ItemsShape, TaskKind, Views

if TYPE_CHECKING:
    from .adapter import BoundingBoxes

__all__ = ["BOXES", "BoundingBoxes", "BoxesShape"]


class BoxesShape(ItemsShape):
    """``{"boundingBoxes": [...]}`` (``<crowd-bounding-box>``)."""

    name = "bounding-box"
    type = TaskType.OBJECT_DETECTION.value
    key = "boundingBoxes"
    keys: tuple[str, ...] = ("boundingBoxes",)


class BoxesViews(Views):
    visual = True
    prior_rank = 2

    def prior(self, value: Any, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """``<crowd-bounding-box initial-value>``: ``{"boundingBoxes": [{label, left, top, width,
        height}]}`` from a built-in label (adjustment lines included) or tally's."""
        if not isinstance(value, dict):
            return None
        annotations, class_map = value.get("annotations"), value.get("class-map", meta.get("class-map"))
        if not isinstance(annotations, list) or not isinstance(class_map, dict):
            return None
        boxes = []
        for box in annotations:
            if isinstance(box, dict) and str(box.get("class_id")) in class_map:
                sides = {k: box.get(k) for k in ("left", "top", "width", "height")}
                if all(isinstance(v, int | float) for v in sides.values()):
                    boxes.append({"label": str(class_map[str(box["class_id"])]), **sides})
        return {"boundingBoxes": boxes}

    def builtin(
        self, result: Mapping[str, Any], attr: str, common: Callable[[str | None], dict[str, Any]]
    ) -> dict[str, Any]:
        """``{"annotations", "image_size"}``, with ``objects`` and ``class-map`` in the metadata."""
        value = {"annotations": result["annotations"], "image_size": result["image_size"]}
        meta = {"objects": result["objects"], "class-map": result["class-map"]}
        return {attr: value, f"{attr}-metadata": {**meta, **common(None)}}

    def coco(self, result: Mapping[str, Any], image: dict[str, Any], sink: CocoSink) -> bool:
        """One annotation per box, its category the label's (``class_id + 1``), scored by its confidence."""
        names = result.get("class-map", {})
        for box, obj in zip(result["annotations"], result.get("objects", []), strict=False):
            category = sink.category(str(names.get(str(box["class_id"]), box["class_id"])), int(box["class_id"]))
            bbox = [float(box["left"]), float(box["top"]), float(box["width"]), float(box["height"])]
            sink.annotation(image["id"], category, bbox=bbox, area=bbox[2] * bbox[3], score=obj.get("confidence"))
        return True


_VIEWS = BoxesViews()

BOXES = TaskKind(
    types=(TaskType.OBJECT_DETECTION.value,), views=_VIEWS, shape=BoxesShape(), task=".adapter:BoundingBoxes"
)


def __getattr__(name: str) -> Any:
    if name != "BoundingBoxes":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .adapter import BoundingBoxes

    return BoundingBoxes
