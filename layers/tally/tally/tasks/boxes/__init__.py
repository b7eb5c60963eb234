"""``<crowd-bounding-box>``: the type's light half (its shape, its typed result :class:`BoxesResult` and
its views); the adapter (:mod:`.adapter`, the geometric consolidation) is imported only for a batch of
this type.

Examples:
    >>> label = {"annotations": [{"class_id": 1, "left": 2.0, "top": 3.0, "width": 4.0, "height": 5.0}],
    ...          "objects": [{"confidence": 0.9}], "class-map": {"1": "car"},
    ...          "image_size": [{"width": 10, "height": 8, "depth": 3}], "confidence": 0.9,
    ...          "worker-quality": [{"workerId": "w1", "precision": 1.0, "recall": 1.0, "weight": 1.0}]}
    >>> result = BoxesResult.from_gt(label)
    >>> result.boxes[0].label, result.to_gt() == label
    ('car', True)
    >>> BOXES.views.items(result)
    [('car', 0.9)]
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...gt.response import TaskType
from ..kind import (
    CocoSink,
    ImageSize,
    ItemsShape,
    ReviewAnswer,
    ReviewSubject,
    TaskKind,
    Views,
    WorkerQuality,
)
from ..review import f1, greedy, iou

if TYPE_CHECKING:
    from ..figures import Overlay

__all__ = ["BOXES", "Box", "BoxesResult", "BoxesShape"]


class BoxesShape(ItemsShape):
    """``{"boundingBoxes": [...]}`` (``<crowd-bounding-box>``)."""

    name = "bounding-box"
    type = TaskType.OBJECT_DETECTION.value
    key = "boundingBoxes"


@dataclass(frozen=True)
class Box:
    """One consolidated box: its class (index in the job's labels and name), its sides in pixels and
    its confidence."""

    class_id: int
    label: str
    left: float
    top: float
    width: float
    height: float
    confidence: float

    @property
    def ltwh(self) -> tuple[float, float, float, float]:
        return (self.left, self.top, self.width, self.height)


@dataclass(frozen=True)
class BoxesResult:
    """A bounding-box result, the built-in object-detection label's shape: the boxes kept, the image
    size, the object's confidence (the mean of its boxes') and each worker's precision, recall and
    keep weight."""

    boxes: tuple[Box, ...]
    image_size: ImageSize | None
    confidence: float
    worker_quality: tuple[WorkerQuality, ...]

    @property
    def class_map(self) -> dict[str, str]:
        """The ``class-map`` of the classes the boxes use, by class index."""
        return {str(b.class_id): b.label for b in sorted(self.boxes, key=lambda b: b.class_id)}

    def annotations(self) -> list[dict[str, Any]]:
        return [
            {"class_id": b.class_id, "left": b.left, "top": b.top, "width": b.width, "height": b.height}
            for b in self.boxes
        ]

    def objects(self) -> list[dict[str, Any]]:
        return [{"confidence": b.confidence} for b in self.boxes]

    def to_gt(self) -> dict[str, Any]:
        label: dict[str, Any] = {
            "annotations": self.annotations(),
            "objects": self.objects(),
            "class-map": self.class_map,
        }
        ImageSize.into(label, self.image_size)
        label.update({"confidence": self.confidence, "worker-quality": [q.to_gt() for q in self.worker_quality]})
        return label

    def metadata(self) -> dict[str, Any]:
        """The entries of ``<attr>-metadata``."""
        quality = [q.to_gt() for q in self.worker_quality]
        return {
            "objects": self.objects(),
            "class-map": self.class_map,
            "confidence": self.confidence,
            "worker-quality": quality,
        }

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> BoxesResult:
        names, objects = label["class-map"], label["objects"]
        boxes = tuple(
            Box(
                a["class_id"],
                names[str(a["class_id"])],
                a["left"],
                a["top"],
                a["width"],
                a["height"],
                o["confidence"],
            )
            for a, o in zip(label["annotations"], objects, strict=True)
        )
        return cls(boxes, ImageSize.of(label), label["confidence"], WorkerQuality.rows(label))


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

    def builtin(self, result: BoxesResult, attr: str, common: Callable[[str | None], dict[str, Any]]) -> dict[str, Any]:
        """``{"annotations", "image_size"}``, with ``objects`` and ``class-map`` in the metadata."""
        if result.image_size is None:
            raise KeyError("image_size")
        value = {"annotations": result.annotations(), "image_size": result.image_size.to_gt()}
        meta = {"objects": result.objects(), "class-map": result.class_map}
        return {attr: value, f"{attr}-metadata": {**meta, **common(None)}}

    def coco(self, result: BoxesResult, image: dict[str, Any], sink: CocoSink) -> bool:
        """One annotation per box, its category the label's (``class_id + 1``), scored by its confidence."""
        for box in result.boxes:
            category = sink.category(box.label, box.class_id)
            bbox = [float(box.left), float(box.top), float(box.width), float(box.height)]
            sink.annotation(image["id"], category, bbox=bbox, area=bbox[2] * bbox[3], score=box.confidence)
        return True

    def labels(self, result: BoxesResult, subject: ReviewSubject) -> list[str]:
        return [b.label for b in result.boxes]

    def agreement(self, result: BoxesResult, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """The F1 of the worker's boxes matched to the consensus's at IoU ≥ 0.5 with the same label."""
        if answer.value is None:
            return None
        mine = [(b.get("label"), _ltwh(b)) for b in answer.value.get("boundingBoxes", [])]
        pairs = [
            (overlap, i, j)
            for i, (name, box) in enumerate(mine)
            for j, theirs in enumerate(result.boxes)
            if name == theirs.label and (overlap := iou(box, theirs.ltwh)) >= 0.5
        ]
        return f1(greedy(pairs), len(mine), len(result.boxes))

    def items(self, result: BoxesResult) -> list[tuple[str, float | None]]:
        return [(b.label, b.confidence) for b in result.boxes]

    def consensus(self, result: BoxesResult, subject: ReviewSubject, tags: Sequence[str]) -> list[Overlay]:
        from ..figures import Boxes

        boxes = tuple((b.label, b.ltwh) for b in result.boxes)
        return [Boxes(boxes, tuple(tags) if len(tags) == len(boxes) else None)]

    def answer_overlays(self, answer: Mapping[str, Any]) -> list[Overlay]:
        from ..figures import Boxes

        return [Boxes(tuple((str(b.get("label")), _ltwh(b)) for b in answer.get("boundingBoxes", [])))]


def _ltwh(box: Mapping[str, Any]) -> tuple[float, float, float, float]:
    return (box["left"], box["top"], box["width"], box["height"])


_VIEWS = BoxesViews()

BOXES = TaskKind(
    shape=BoxesShape(),
    task=".adapter:BoundingBoxes",
    from_gt=BoxesResult.from_gt,
    views=_VIEWS,
)
