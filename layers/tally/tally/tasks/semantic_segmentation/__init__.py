"""Semantic segmentation (``<crowd-semantic-segmentation>``): the type's light half (its shape, its typed
result :class:`SegmentationResult` and its views); the adapter (:mod:`.adapter`: answers decoded, the
pixel vote of :mod:`tally.aggregation.pixel_vote` run, masks and label written) is imported only for a
batch of this type.

Examples:
    >>> label = {"mask-ref": "s3://b/o_1a2b.png",
    ...          "internal-color-map": {"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.9},
    ...                                 "1": {"class-name": "road", "hex-color": "#2ca02c", "confidence": 0.8}},
    ...          "confidence": 0.85, "confidence-map-ref": "s3://b/o_1a2b-confidence.png",
    ...          "worker-quality": [{"workerId": "w1", "reliability": 0.9}]}
    >>> result = SegmentationResult.from_gt(label)
    >>> [c.class_name for c in result.colour_map], result.to_gt() == label
    (['BACKGROUND', 'road'], True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...colours import normalise_hex
from ...gt.response import TaskType
from ...labels import BACKGROUND
from ..kind import (
    ClassColour,
    CocoSink,
    ReviewAnswer,
    ReviewSubject,
    TaskKind,
    Views,
    WorkerQuality,
)
from ..review import mask_notes

if TYPE_CHECKING:
    from ..figures import Overlay

__all__ = ["SEMANTIC_SEGMENTATION", "DisputedRegion", "SegmentationResult", "SegmentationShape"]


class SegmentationShape:
    """``<crowd-semantic-segmentation>``: a mask without ``instances``; labels with their colours."""

    name = "semantic-segmentation"
    type = TaskType.SEMANTIC_SEGMENTATION.value

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


@dataclass(frozen=True)
class DisputedRegion:
    """One entry of a label's ``disputed-regions`` (the ``regions`` vote): the classes workers gave one
    area, its size in pixels, the class decided and its confidence, and who said what (class name, or
    ``"none"`` for nothing drawn there, ``"no answer"`` for nothing drawn there nor near it or no vote,
    with the worker IDs), in the label's order."""

    classes: tuple[str, ...]
    pixels: int
    decided: str
    confidence: float
    workers: tuple[tuple[str, tuple[str, ...]], ...]

    def to_gt(self) -> dict[str, Any]:
        return {
            "classes": list(self.classes),
            "pixels": self.pixels,
            "decided": self.decided,
            "confidence": self.confidence,
            "workers": {name: list(ids) for name, ids in self.workers},
        }

    @classmethod
    def from_gt(cls, entry: Mapping[str, Any]) -> DisputedRegion:
        said = entry["workers"]
        return cls(
            tuple(entry["classes"]),
            entry["pixels"],
            entry["decided"],
            entry["confidence"],
            tuple((str(name), tuple(ids)) for name, ids in said.items()),
        )


@dataclass(frozen=True)
class SegmentationResult:
    """A semantic-segmentation result: the class mask (a palette PNG, pixel = class key; ``None`` in a
    label written without it), the job's classes with their colours and confidences, the object's
    confidence, the per-pixel confidence map (the ``reliability`` vote, opt-in), each worker's
    figures (none with ``majority``) and the disputed regions (``regions``)."""

    mask_ref: str | None
    colour_map: tuple[ClassColour, ...]
    confidence: float
    confidence_map_ref: str | None = None
    worker_quality: tuple[WorkerQuality, ...] = ()
    disputed_regions: tuple[DisputedRegion, ...] = ()

    def to_gt(self) -> dict[str, Any]:
        label: dict[str, Any] = {} if self.mask_ref is None else {"mask-ref": self.mask_ref}
        label["internal-color-map"] = ClassColour.map_to_gt(self.colour_map)
        label["confidence"] = self.confidence
        if self.confidence_map_ref is not None:
            label["confidence-map-ref"] = self.confidence_map_ref
        if self.worker_quality:
            label["worker-quality"] = [q.to_gt() for q in self.worker_quality]
        if self.disputed_regions:
            label["disputed-regions"] = [r.to_gt() for r in self.disputed_regions]
        return label

    def metadata(self) -> dict[str, Any]:
        """The entries of ``<attr>-metadata``."""
        meta: dict[str, Any] = {
            "confidence": self.confidence,
            "internal-color-map": ClassColour.map_to_gt(self.colour_map),
        }
        if self.worker_quality:
            meta["worker-quality"] = [q.to_gt() for q in self.worker_quality]
        return meta

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> SegmentationResult:
        return cls(
            label.get("mask-ref"),
            ClassColour.map_from_gt(label["internal-color-map"]),
            label["confidence"],
            label.get("confidence-map-ref"),
            WorkerQuality.rows(label),
            tuple(DisputedRegion.from_gt(r) for r in label.get("disputed-regions", []) or []),
        )


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
        self, result: SegmentationResult, attr: str, common: Callable[[str | None], dict[str, Any]]
    ) -> dict[str, Any]:
        """``<attr>-ref`` (the mask) and ``<attr>-ref-metadata`` (the class map, each class's confidence)."""
        colour_map = {
            e.key: {
                "class-name": e.class_name,
                "hex-color": e.hex_color,
                "confidence": e.confidence if e.confidence is not None else result.confidence,
            }
            for e in result.colour_map
        }
        if result.mask_ref is None:
            raise KeyError("mask-ref")
        return {
            f"{attr}-ref": result.mask_ref,
            f"{attr}-ref-metadata": {"internal-color-map": colour_map, **common(None)},
        }

    def coco(self, result: SegmentationResult, image: dict[str, Any], sink: CocoSink) -> bool:
        """One annotation per class present in the mask, as RLE."""
        from ...coco import mask_bbox, rle_encode

        if result.mask_ref is None:
            raise KeyError("mask-ref")
        classes = sink.mask(result.mask_ref, "mask-ref")
        sink.sized(image, classes)
        for entry in sorted(result.colour_map, key=lambda e: int(e.key)):
            if int(entry.key) == 0:
                continue
            mask = classes == int(entry.key)
            if not mask.any():
                continue
            category = sink.category(entry.class_name, int(entry.key) - 1)
            sink.annotation(
                image["id"],
                category,
                segmentation=rle_encode(mask),
                bbox=mask_bbox(mask),
                area=float(mask.sum()),
                score=entry.confidence if entry.confidence is not None else result.confidence,
            )
        return True

    def labels(self, result: SegmentationResult, subject: ReviewSubject) -> list[str]:
        """The classes the consensus's mask has a pixel of (background aside)."""
        if "mask" not in subject.artefacts:
            return []
        import numpy as np  # the report's, not the light half's import

        present = set(np.unique(subject.indices("mask")).tolist()) - {0}
        return [e.class_name for e in result.colour_map if int(e.key) in present]

    def agreement(self, result: SegmentationResult, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """The share of pixels where the worker's class (read through their own ``labelMappings``) is
        the consensus's."""
        regions = answer.regions() if "mask" in subject.artefacts else None
        if regions is None:
            return None
        import numpy as np

        ids, names = regions
        key_of = {e.class_name: int(e.key) for e in result.colour_map}
        # 0 unpainted, -1 a colour the worker did not map or a label the job lacks
        lookup = np.array([-1, 0, *(key_of.get(n, -1) for n in names)], dtype=np.int16)
        classes, consensus = lookup[ids + 1], subject.indices("mask")
        return None if classes.shape != consensus.shape else float(np.mean(classes == consensus))

    def consensus(self, result: SegmentationResult, subject: ReviewSubject, tags: Sequence[str]) -> list[Overlay]:
        from ..figures import ClassMask

        if "mask" not in subject.artefacts:
            return []
        return [ClassMask("mask", ClassColour.map_to_gt(result.colour_map))]

    def answer_overlays(self, answer: Mapping[str, Any]) -> list[Overlay]:
        from ..figures import WorkerMask

        return [WorkerMask()]

    def answer_notes(self, answer: ReviewAnswer, classes: set[str]) -> list[str]:
        return mask_notes(answer, classes)


SEMANTIC_SEGMENTATION = TaskKind(
    shape=SegmentationShape(),
    task=".adapter:SemanticSegmentation",
    from_gt=SegmentationResult.from_gt,
    views=SegmentationViews(),
    configured=True,
)
