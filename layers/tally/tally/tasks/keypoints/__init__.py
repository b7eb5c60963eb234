"""``<crowd-keypoint>``: the type's light half (its shape, its typed result :class:`KeypointsResult` and
its views); the adapter (:mod:`.adapter`, the geometric consolidation) is imported only for a batch of
this type.

Examples:
    >>> label = {"keypoints": [{"label": "nose", "x": 4.5, "y": 3.0, "confidence": 0.8}],
    ...          "image_size": [{"width": 10, "height": 8, "depth": 3}], "confidence": 0.8,
    ...          "worker-quality": [{"workerId": "w1", "precision": 1.0, "recall": None, "weight": 1.0}]}
    >>> result = KeypointsResult.from_gt(label)
    >>> result.points[0], result.to_gt() == label
    (Keypoint(label='nose', x=4.5, y=3.0, confidence=0.8), True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from ..review import f1, greedy

if TYPE_CHECKING:
    from ..figures import Overlay

__all__ = ["KEYPOINTS", "Keypoint", "KeypointsResult", "KeypointsShape"]


class KeypointsShape(ItemsShape):
    """``{"keypoints": [...]}`` (``<crowd-keypoint>``)."""

    name = "keypoint"
    type = TaskType.KEYPOINTS.value
    key = "keypoints"


@dataclass(frozen=True)
class Keypoint:
    """One consolidated point: its label, its place in pixels and its confidence."""

    label: str
    x: float
    y: float
    confidence: float

    def to_gt(self) -> dict[str, Any]:
        return {"label": self.label, "x": self.x, "y": self.y, "confidence": self.confidence}


@dataclass(frozen=True)
class KeypointsResult:
    """A keypoint result: the points kept, the image size, the object's confidence and each worker's
    precision, recall and keep weight."""

    points: tuple[Keypoint, ...]
    image_size: ImageSize | None
    confidence: float
    worker_quality: tuple[WorkerQuality, ...]

    def to_gt(self) -> dict[str, Any]:
        label: dict[str, Any] = {"keypoints": [p.to_gt() for p in self.points]}
        ImageSize.into(label, self.image_size)
        label.update({"confidence": self.confidence, "worker-quality": [q.to_gt() for q in self.worker_quality]})
        return label

    def metadata(self) -> dict[str, Any]:
        """The entries of ``<attr>-metadata``."""
        quality = [q.to_gt() for q in self.worker_quality]
        return {"keypoints": len(self.points), "confidence": self.confidence, "worker-quality": quality}

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> KeypointsResult:
        points = tuple(Keypoint(p["label"], p["x"], p["y"], p["confidence"]) for p in label["keypoints"])
        return cls(points, ImageSize.of(label), label["confidence"], WorkerQuality.rows(label))


class KeypointsViews(Views):
    visual = True
    prior_rank = 2

    def prior(self, value: Any, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """``{"keypoints": [{label, x, y}]}`` from tally's label."""
        if not isinstance(value, dict) or not isinstance(value.get("keypoints"), list):
            return None
        points = [{k: p.get(k) for k in ("label", "x", "y")} for p in value["keypoints"] if isinstance(p, dict)]
        return {"keypoints": points}

    def coco(self, result: KeypointsResult, image: dict[str, Any], sink: CocoSink) -> bool:
        """The points, grouped into one annotation per repeat of a label (:meth:`CocoSink.keypoints`)."""
        sink.keypoints(image["id"], [p.to_gt() for p in result.points])
        return True

    def labels(self, result: KeypointsResult, subject: ReviewSubject) -> list[str]:
        return [p.label for p in result.points]

    def agreement(self, result: KeypointsResult, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """The F1 of the worker's points matched to the consensus's: same label, within 5% of the
        image's diagonal."""
        if answer.value is None:
            return None
        import numpy as np  # the report's, not the light half's import

        size = result.image_size or ImageSize(100, 100)  # no size: a 100-pixel square's reach
        reach = 0.05 * float(np.hypot(size.width, size.height))
        mine = answer.value.get("keypoints", [])
        pairs = [
            (-d, i, j)
            for i, p in enumerate(mine)
            for j, q in enumerate(result.points)
            if p.get("label") == q.label and (d := float(np.hypot(p["x"] - q.x, p["y"] - q.y))) <= reach
        ]
        return f1(greedy(pairs), len(mine), len(result.points))

    def consensus(self, result: KeypointsResult, subject: ReviewSubject, tags: Sequence[str]) -> list[Overlay]:
        from ..figures import Points

        return [Points(tuple((p.label, float(p.x), float(p.y)) for p in result.points))]

    def answer_overlays(self, answer: Mapping[str, Any]) -> list[Overlay]:
        from ..figures import Points

        return [Points(tuple((str(p.get("label")), float(p["x"]), float(p["y"])) for p in answer.get("keypoints", [])))]


_VIEWS = KeypointsViews()

KEYPOINTS = TaskKind(
    shape=KeypointsShape(),
    task=".adapter:Keypoints",
    from_gt=KeypointsResult.from_gt,
    views=_VIEWS,
)
