"""``<crowd-instance-segmentation>``: the type's light half (its shape); the adapter (:mod:`.adapter`, the geometric consolidation) is
imported only for a batch of this type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ...gt.response import TaskType
from ..kind import CocoSink, ItemsShape, TaskKind, Views

if TYPE_CHECKING:
    from .adapter import InstanceSegmentation

__all__ = ["INSTANCES", "InstanceSegmentation", "InstancesShape"]


class InstancesShape(ItemsShape):
    """``{"instances": [...]}`` (``<crowd-instance-segmentation>``)."""

    name = "instance-segmentation"
    type = TaskType.INSTANCE_SEGMENTATION.value
    key = "instances"
    keys: tuple[str, ...] = ("instances", "labeledImage")

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return "labeledImage" in element and isinstance(element.get("instances"), list)


class InstancesViews(Views):
    visual = True
    shaded_items = True
    prior_rank = 2

    def prior(self, value: Any, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """``{"instances": [{color, label}], "src": <instance mask URI>}`` from tally's label (a label
        spilled to S3 keeps the mask, not its instances: no prior)."""
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("instance-mask-ref"), str)
            or not isinstance(value.get("instances"), list)
        ):
            return None
        instances = [{"color": i.get("color"), "label": i.get("label")} for i in value["instances"]]
        return {"instances": instances, "src": value["instance-mask-ref"]}

    def coco(self, result: Mapping[str, Any], image: dict[str, Any], sink: CocoSink) -> bool:
        """One annotation per instance: its pixels of the instance mask as RLE, scored by its confidence."""
        from ...coco import mask_bbox, rle_encode

        indices = sink.mask(result["instance-mask-ref"], "instance-mask-ref")
        sink.sized(image, indices)
        key_of = {e["class-name"]: int(k) for k, e in result.get("internal-color-map", {}).items()}
        for k, instance in enumerate(result.get("instances", [])):
            mask = indices == k + 1
            name = str(instance["label"])
            category = sink.category(name, key_of[name] - 1 if name in key_of else None)
            sink.annotation(
                image["id"],
                category,
                segmentation=rle_encode(mask),
                bbox=mask_bbox(mask),
                area=float(mask.sum()),
                score=instance.get("confidence"),
            )
        return True


_VIEWS = InstancesViews()

INSTANCES = TaskKind(
    types=(TaskType.INSTANCE_SEGMENTATION.value,),
    views=_VIEWS,
    shape=InstancesShape(),
    task=".adapter:InstanceSegmentation",
)


def __getattr__(name: str) -> Any:
    if name != "InstanceSegmentation":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .adapter import InstanceSegmentation

    return InstanceSegmentation
