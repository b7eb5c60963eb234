"""Semantic segmentation (``<crowd-semantic-segmentation>``): the type's light half (its shape); the
adapter (:mod:`tally.tasks.segmentation`: the pixel votes) is imported only for a batch of this type.

The adapter is :mod:`tally.tasks.segmentation`, outside this package for now (the pixel vote is
moving under :mod:`tally.aggregation`); this package is the type's registry entry."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ...colours import normalise_hex
from ...gt.response import TaskType
from ...labels import BACKGROUND
from ..kind import CocoSink, TaskKind, Views

__all__ = ["SEMANTIC_SEGMENTATION", "SegmentationShape"]


class SegmentationShape:
    """``<crowd-semantic-segmentation>``: a mask without ``instances``; labels with their colours."""

    name = "semantic-segmentation"
    type = TaskType.SEMANTIC_SEGMENTATION.value
    keys: tuple[str, ...] = ("labeledImage",)

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return "labeledImage" in element and "instances" not in element

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        mappings = element.get("labelMappings")
        if not isinstance(mappings, dict):
            return []
        return [
            (str(name), normalise_hex(m["color"]) if isinstance(m, dict) and isinstance(m.get("color"), str) else None)
            for name, m in mappings.items()
        ]


class SegmentationViews(Views):
    visual = True
    prior_rank = 0

    def prior(self, value: Any, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """The mask as ``initialValue``: ``src`` its S3 URI (the template applies
        ``grant_read_access``), ``labelMappings`` its classes' colours, background left out, as
        ``<crowd-semantic-segmentation initial-value>`` expects. ``value`` is the built-in
        ``<attr>-ref`` (with ``meta`` its ``-ref-metadata``) or tally's label (``mask-ref``)."""
        uri = value.get("mask-ref") if isinstance(value, dict) else value
        color_map = meta.get("internal-color-map")
        if color_map is None and isinstance(value, dict):  # tally's label; its metadata may have been cut
            color_map = value.get("internal-color-map")
        if not isinstance(uri, str) or not uri.startswith("s3://") or not isinstance(color_map, dict):
            return None
        mappings = {
            str(entry["class-name"]): {"color": str(entry["hex-color"])}
            for entry in color_map.values()
            if isinstance(entry, dict) and entry.get("class-name") not in (None, BACKGROUND) and entry.get("hex-color")
        }
        return {"src": uri, "labelMappings": mappings}

    def builtin(
        self, result: Mapping[str, Any], attr: str, common: Callable[[str | None], dict[str, Any]]
    ) -> dict[str, Any]:
        """``<attr>-ref`` (the mask) and ``<attr>-ref-metadata`` (the class map, each class's confidence)."""
        overall = result.get("confidence", 0)
        colour_map = {
            key: {
                "class-name": entry["class-name"],
                "hex-color": entry["hex-color"],
                "confidence": entry.get("confidence", overall),
            }
            for key, entry in result["internal-color-map"].items()
        }
        return {
            f"{attr}-ref": result["mask-ref"],
            f"{attr}-ref-metadata": {"internal-color-map": colour_map, **common(None)},
        }

    def coco(self, result: Mapping[str, Any], image: dict[str, Any], sink: CocoSink) -> bool:
        """One annotation per class present in the mask, as RLE."""
        from ...coco import mask_bbox, rle_encode

        classes = sink.mask(result["mask-ref"], "mask-ref")
        sink.sized(image, classes)
        for key, entry in sorted(result.get("internal-color-map", {}).items(), key=lambda kv: int(kv[0])):
            if int(key) == 0:
                continue
            mask = classes == int(key)
            if not mask.any():
                continue
            category = sink.category(str(entry["class-name"]), int(key) - 1)
            sink.annotation(
                image["id"],
                category,
                segmentation=rle_encode(mask),
                bbox=mask_bbox(mask),
                area=float(mask.sum()),
                score=entry.get("confidence", result.get("confidence")),
            )
        return True


SEMANTIC_SEGMENTATION = TaskKind(
    shape=SegmentationShape(),
    task="..segmentation:SemanticSegmentation",
    types=(TaskType.SEMANTIC_SEGMENTATION.value,),
    views=SegmentationViews(),
    configured=True,
)
