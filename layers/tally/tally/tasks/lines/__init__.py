"""Polylines (``crowd-polyline``) and lines (``crowd-line``): the light half of both types, their shapes,
their typed result (:class:`LinesResult`) and their views; the adapter (:mod:`.adapter`: matched,
kept and fused across workers, numpy) is imported only for a batch of one of them. Two registry lines,
one package: the types differ only in the element's key and the label's.

Examples:
    >>> POLYLINE.shape.recognises({"polylines": []}), LINE.shape.recognises({"polylines": []})
    (True, False)
    >>> label = {"type": "tally/line", "lines": [{"label": "edge", "class_id": 0, "confidence": 0.9,
    ...          "vertices": [{"x": 1, "y": 2}, {"x": 4, "y": 6}], "workers": ["w1", "w2"]}],
    ...          "class-map": {"0": "edge"}, "image_size": [{"width": 640, "height": 480, "depth": 3}],
    ...          "confidence": 0.9, "worker-quality": [{"workerId": "w1", "precision": 1.0, "recall": 1.0, "weight": 1.0}]}
    >>> result = LinesResult.from_gt(label)
    >>> result.to_gt() == {k: v for k, v in label.items() if k != "type"}
    True
    >>> LINE.views.rows(result)
    [{'label': 'edge', 'class_id': 0, 'confidence': 0.9, 'keypoints': [1, 2, 2, 4, 6, 2], 'num_keypoints': 2, 'bbox': [1, 2, 3, 4]}]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...gt.response import TaskType
from ..kind import (
    CocoSink,
    ItemsShape,
    ReviewAnswer,
    ReviewSubject,
    TaskKind,
    Views,
    WorkerQuality,
)

if TYPE_CHECKING:
    from ..figures import Overlay

__all__ = ["LINE", "POLYLINE", "FusedLine", "LinesResult", "LinesShape", "PolylinesShape"]


class PolylinesShape(ItemsShape):
    """``{"polylines": [{"label", "vertices"}], "inputImageProperties"}`` (``<crowd-polyline>``)."""

    name = "polyline"
    type = TaskType.POLYLINE.value
    key = "polylines"


class LinesShape(ItemsShape):
    """``{"lines": [{"label", "vertices": [start, end]}], "inputImageProperties"}`` (``<crowd-line>``)."""

    name = "line"
    type = TaskType.LINE.value
    key = "lines"


@dataclass(frozen=True)
class FusedLine:
    """One kept line: its label (and 0-based index in the job's labels), vertices, confidence and the
    workers whose lines were fused into it."""

    label: str
    class_id: int
    vertices: tuple[tuple[float, float], ...]
    confidence: float
    workers: tuple[str, ...]

    def to_gt(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "class_id": self.class_id,
            "vertices": [{"x": x, "y": y} for x, y in self.vertices],
            "confidence": self.confidence,
            "workers": list(self.workers),
        }

    @classmethod
    def from_gt(cls, item: Mapping[str, Any]) -> FusedLine:
        return cls(
            str(item["label"]),
            int(item["class_id"]),
            tuple((v["x"], v["y"]) for v in item["vertices"]),
            float(item.get("confidence", 0)),
            tuple(str(w) for w in item.get("workers", ())),
        )


@dataclass(frozen=True)
class LinesResult:
    """The kept lines of an object (``key``: ``polylines`` or ``lines``), the labels they use, the image
    size, the object's confidence and the workers' figures."""

    key: str
    lines: tuple[FusedLine, ...]
    class_map: Mapping[str, str]
    width: int
    height: int
    confidence: float
    worker_quality: tuple[WorkerQuality, ...]

    def to_gt(self) -> dict[str, Any]:
        return {
            self.key: [line.to_gt() for line in self.lines],
            "class-map": dict(self.class_map),
            "image_size": [{"width": self.width, "height": self.height, "depth": 3}],
            "confidence": self.confidence,
            "worker-quality": [q.to_gt() for q in self.worker_quality],
        }

    def metadata(self) -> dict[str, Any]:
        return {self.key: len(self.lines), "class-map": dict(self.class_map), "confidence": self.confidence}

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> LinesResult:
        key = "polylines" if "polylines" in label else "lines"
        size = (label.get("image_size") or [{}])[0]
        return cls(
            key,
            tuple(FusedLine.from_gt(item) for item in label[key]),
            {str(k): str(v) for k, v in (label.get("class-map") or {}).items()},
            int(size.get("width", 0)),
            int(size.get("height", 0)),
            float(label.get("confidence", 0)),
            WorkerQuality.rows(label),
        )


def _drawn(items: Any) -> tuple[tuple[str, tuple[tuple[float, float], ...]], ...]:
    """A worker's lines as they drew them (what is not a line with numeric vertices is left out)."""
    found = []
    for item in items if isinstance(items, list) else ():
        vertices = item.get("vertices") if isinstance(item, dict) else None
        if not isinstance(vertices, list):
            continue
        points = tuple(
            (float(v["x"]), float(v["y"]))
            for v in vertices
            if isinstance(v, dict) and all(type(v.get(c)) in (int, float) for c in ("x", "y"))
        )
        found.append((str(item.get("label")), points))
    return tuple(found)


class LinesViews(Views):
    visual = True

    def __init__(self, key: str) -> None:
        self.key = key

    def labels(self, result: LinesResult, subject: ReviewSubject) -> list[str]:
        return [line.label for line in result.lines]

    def agreement(self, result: LinesResult, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """F1 of the worker's lines against the kept ones: a kept line is the worker's match when the
        worker's line was fused into it."""
        if answer.value is None:
            return None
        drew = len(_drawn(answer.value.get(self.key)))
        matched = sum(answer.worker_id in line.workers for line in result.lines)
        total = drew + len(result.lines)
        return 1.0 if total == 0 else 2 * matched / total

    def items(self, result: LinesResult) -> list[tuple[str, float | None]]:
        return [(line.label, line.confidence) for line in result.lines]

    def consensus(self, result: LinesResult, subject: ReviewSubject, tags: Any) -> list[Overlay]:
        from ..figures import LineStrokes

        lines = tuple((line.label, line.vertices) for line in result.lines)
        return [LineStrokes(lines, tuple(tags) if len(tags) == len(lines) else None)]

    def answer_overlays(self, answer: Mapping[str, Any]) -> list[Overlay]:
        from ..figures import LineStrokes

        return [LineStrokes(_drawn(answer.get(self.key)))]

    def answer_summary(self, answer: Mapping[str, Any]) -> str:
        return f"{len(_drawn(answer.get(self.key)))} {self.key}"

    def coco(self, result: LinesResult, image: dict[str, Any], sink: CocoSink) -> bool:
        """One keypoint annotation per kept line, its category the label's: the vertices in order as
        keypoints ``v1``… (all visible), joined by the category's skeleton; a category's lines of
        fewer vertices than its longest have the rest unlabelled (COCO's ``v = 0``)."""
        image.setdefault("width", result.width)
        image.setdefault("height", result.height)
        for line in result.lines:
            category = sink.category(line.label, line.class_id)
            sink.keypoint_names(category, len(line.vertices))
            xs, ys = [x for x, _ in line.vertices], [y for _, y in line.vertices]
            bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
            sink.annotation(
                image["id"],
                category,
                keypoints=[c for x, y in line.vertices for c in (x, y, 2)],
                num_keypoints=len(line.vertices),
                bbox=bbox,
                area=bbox[2] * bbox[3],
                score=line.confidence,
            )
        return True

    def rows(self, result: LinesResult) -> list[dict[str, Any]]:
        """One row per kept line, with its COCO keypoint terms: ``keypoints`` ``[x, y, 2, ...]`` (every
        vertex visible), ``num_keypoints`` and ``bbox`` ``[x, y, width, height]``."""
        rows = []
        for line in result.lines:
            xs, ys = [x for x, _ in line.vertices], [y for _, y in line.vertices]
            rows.append(
                {
                    "label": line.label,
                    "class_id": line.class_id,
                    "confidence": line.confidence,
                    "keypoints": [c for x, y in line.vertices for c in (x, y, 2)],
                    "num_keypoints": len(line.vertices),
                    "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                }
            )
        return rows


POLYLINE = TaskKind(
    shape=PolylinesShape(),
    task=".adapter:Polylines",
    from_gt=LinesResult.from_gt,
    views=LinesViews("polylines"),
)
LINE = TaskKind(
    shape=LinesShape(),
    task=".adapter:Lines",
    from_gt=LinesResult.from_gt,
    views=LinesViews("lines"),
)
