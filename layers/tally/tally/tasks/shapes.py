"""What each task type's answers look like, without its algorithms: the first half of every task.

A task class is its shape (this module: ``name``, ``type``, ``recognises`` and ``labels_used``) plus
its consolidation (``tally.tasks.<module>``, which loads numpy, Pillow and the task's aggregation
algorithms). The batch driver recognises every answer by shape first and loads only the chosen task's
module (:func:`tally.tasks.make_tasks`), so a cold start pays for one task type, never all of them.

Recognition order matters (:data:`tally.tasks.KINDS`): a mask with ``instances`` is instance
segmentation, one without is semantic segmentation; ``{"label": ...}`` is single-label classification
unless the element also has another shape's key.

Examples:
    >>> SingleLabelShape().recognises({"label": "Dog"}), MultiLabelShape().recognises({"label": "Dog"})
    (True, False)
    >>> list(BoxesShape().labels_used({"boundingBoxes": [{"label": "car"}, {"left": 1}]}))
    [('car', None)]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ..colours import normalise_hex
from ..gt.answers import RANKING_KEY, BareValue
from ..gt.response import TaskType

__all__ = [
    "OTHER_SHAPES",
    "BoxesShape",
    "EntitiesShape",
    "InstancesShape",
    "ItemsShape",
    "KeypointsShape",
    "LinesShape",
    "MultiLabelShape",
    "NumberShape",
    "PolygonsShape",
    "PolylinesShape",
    "RankingShape",
    "SegmentationShape",
    "Shape",
    "SingleLabelShape",
    "TextShape",
]

OTHER_SHAPES = (
    "labeledImage",
    "boundingBoxes",
    "keypoints",
    "polygons",
    "instances",
    "entities",
    "polylines",
    "lines",
    RANKING_KEY,
)
"""Keys of the shapes that are not classification: an element with one of them is not a label choice."""


class Shape(Protocol):
    """The light half of :class:`tally.tasks.base.Task`: what an answer of the task looks like."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    def recognises(self, element: Mapping[str, Any]) -> bool: ...

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]: ...


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


class SingleLabelShape:
    """``{"label": "Dog"}`` (``<crowd-classifier>``, ``<crowd-image-classifier>``)."""

    name = "classification"
    type = TaskType.IMAGE_CLASSIFICATION.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return isinstance(element.get("label"), str) and not any(k in element for k in ("labels", *OTHER_SHAPES))

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return [(str(element["label"]), None)]


class MultiLabelShape:
    """``{"labels": ["Dog", "Cat"]}`` (the ``...-multi-select`` elements)."""

    name = "multi-label classification"
    type = TaskType.IMAGE_CLASSIFICATION_MULTILABEL.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        value = element.get("labels")
        return (
            isinstance(value, list)
            and all(isinstance(v, str) for v in value)
            and not any(k in element for k in OTHER_SHAPES)
        )

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return [(str(name), None) for name in element["labels"]]


class EntitiesShape:
    """``{"entities": [{"label", "startOffset", "endOffset"}]}`` (``<crowd-entity-annotation>``)."""

    name = "named-entity"
    type = TaskType.NAMED_ENTITY_RECOGNITION.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return isinstance(element.get("entities"), list)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return [(str(e["label"]), None) for e in element["entities"] if isinstance(e, dict) and "label" in e]


class ItemsShape:
    """A list of labelled items under ``key`` (boxes, keypoints, instances, polygons)."""

    name: str
    type: str
    key: str

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return isinstance(element.get(self.key), list)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return [(str(i["label"]), None) for i in element[self.key] if isinstance(i, dict) and "label" in i]


class BoxesShape(ItemsShape):
    """``{"boundingBoxes": [...]}`` (``<crowd-bounding-box>``)."""

    name = "bounding-box"
    type = TaskType.OBJECT_DETECTION.value
    key = "boundingBoxes"


class KeypointsShape(ItemsShape):
    """``{"keypoints": [...]}`` (``<crowd-keypoint>``)."""

    name = "keypoint"
    type = TaskType.KEYPOINTS.value
    key = "keypoints"


class InstancesShape(ItemsShape):
    """``{"instances": [...], "labeledImage": ...}`` (``<crowd-instance-segmentation>``)."""

    name = "instance-segmentation"
    type = TaskType.INSTANCE_SEGMENTATION.value
    key = "instances"

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return "labeledImage" in element and isinstance(element.get("instances"), list)


class PolygonsShape(ItemsShape):
    """``{"polygons": [...]}`` (``<crowd-polygon>``), consolidated as instances."""

    name = "polygon"
    type = TaskType.INSTANCE_SEGMENTATION.value
    key = "polygons"

    def recognises(self, element: Mapping[str, Any]) -> bool:
        # stated here, not inherited: the polygon task is an instance task, whose ``recognises`` differs
        return isinstance(element.get("polygons"), list)


# -- the answer kinds of issue 21: numbers, free text, rankings, lines ------------------------------------


class NumberShape:
    """A form's only field, a bare number (``crowd-slider``): :class:`~tally.gt.answers.BareValue`."""

    name = "number"
    type = TaskType.NUMBER.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        value = element.get("value")
        return isinstance(element, BareValue) and isinstance(value, int | float) and not isinstance(value, bool)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return ()


class TextShape:
    """A form's only field, a bare string (``crowd-input``, ``crowd-text-area``), unless it is a JSON
    object or list (a hidden input a script filled with structured answers: passed through)."""

    name = "free-text"
    type = TaskType.FREE_TEXT.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        value = element.get("value")
        return isinstance(element, BareValue) and isinstance(value, str) and not _json_text(value)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return ()


def _json_text(text: str) -> bool:
    """Whether ``text`` is a JSON object or list (``{"a": 1}``, ``[...]``), not words."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        return isinstance(json.loads(stripped), dict | list)
    except ValueError:
        return False


class RankingShape:
    """``{"ordinalRankingDimensions": [{"name", "responseRankings"}]}`` (``crowd-text-ranking``)."""

    name = "ranking"
    type = TaskType.RANKING.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return isinstance(element.get(RANKING_KEY), list)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return ()


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
