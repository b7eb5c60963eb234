"""Named entities (``<crowd-entity-annotation>``): the type's light half (its shape, its typed result
:class:`EntitiesResult` and its views); the adapter (:mod:`.adapter`, the weighted span vote) is
imported only for a batch of this type.

Examples:
    >>> label = {"annotations": {"entities": [{"label": "person", "startOffset": 0, "endOffset": 4,
    ...                                        "confidence": 0.67}],
    ...                          "labels": [{"label": "person"}, {"label": "place"}]},
    ...          "confidence": 0.67, "worker-quality": [{"workerId": "w1", "weight": 1.2, "agreement": 0.8}]}
    >>> result = EntitiesResult.from_gt(label)
    >>> result.entities[0].span, result.to_gt() == label
    (('person', 0, 4), True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...gt.response import TaskType
from ..kind import ReviewAnswer, ReviewSubject, TaskKind, Views, WorkerQuality
from ..review import f1

if TYPE_CHECKING:
    from ..figures import MarkedText

__all__ = ["NAMED_ENTITIES", "EntitiesResult", "EntitiesShape", "Entity"]


class EntitiesShape:
    """``{"entities": [{"label", "startOffset", "endOffset"}]}`` (``<crowd-entity-annotation>``)."""

    name = "named-entity"
    type = TaskType.NAMED_ENTITY_RECOGNITION.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return isinstance(element.get("entities"), list)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return [(str(e["label"]), None) for e in element["entities"] if isinstance(e, dict) and "label" in e]


BUILTIN_TYPE = "groundtruth/text-span"
"""The ``type`` Ground Truth's built-in named-entity task writes (DG ``sms-data-output``)."""


@dataclass(frozen=True)
class Entity:
    """One consolidated span: its label, its character offsets (end exclusive) and its confidence."""

    label: str
    start: int
    end: int
    confidence: float

    @property
    def span(self) -> tuple[str, int, int]:
        return (self.label, self.start, self.end)

    def to_gt(self) -> dict[str, Any]:
        return {"label": self.label, "startOffset": self.start, "endOffset": self.end, "confidence": self.confidence}


@dataclass(frozen=True)
class EntitiesResult:
    """A named-entity result, the built-in NER label's shape: the spans kept, the job's labels, the
    object's confidence and each worker's weight and agreement."""

    entities: tuple[Entity, ...]
    labels: tuple[str, ...]
    confidence: float
    worker_quality: tuple[WorkerQuality, ...]

    def to_gt(self) -> dict[str, Any]:
        annotations = {"entities": [e.to_gt() for e in self.entities], "labels": [{"label": n} for n in self.labels]}
        quality = [q.to_gt() for q in self.worker_quality]
        return {"annotations": annotations, "confidence": self.confidence, "worker-quality": quality}

    def metadata(self) -> dict[str, Any]:
        """The entries of ``<attr>-metadata``."""
        quality = [q.to_gt() for q in self.worker_quality]
        return {"confidence": self.confidence, "entities": len(self.entities), "worker-quality": quality}

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> EntitiesResult:
        annotations = label["annotations"]
        entities = tuple(
            Entity(e["label"], e["startOffset"], e["endOffset"], e["confidence"]) for e in annotations["entities"]
        )
        names = tuple(n["label"] for n in annotations["labels"])
        return cls(entities, names, label["confidence"], WorkerQuality.rows(label))


class EntitiesViews(Views):
    def builtin(
        self, result: EntitiesResult, attr: str, common: Callable[[str | None], dict[str, Any]]
    ) -> dict[str, Any]:
        """``{"annotations": {"entities", "labels"}}``, each entity's confidence in the metadata."""
        entities = [{"label": e.label, "startOffset": e.start, "endOffset": e.end} for e in result.entities]
        value = {"annotations": {"entities": entities, "labels": [{"label": n} for n in result.labels]}}
        meta = {"entities": [{"confidence": e.confidence} for e in result.entities]}
        return {attr: value, f"{attr}-metadata": {**meta, **common(BUILTIN_TYPE)}}

    def labels(self, result: EntitiesResult, subject: ReviewSubject) -> list[str]:
        return [e.label for e in result.entities]

    def agreement(self, result: EntitiesResult, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """The F1 of the worker's spans identical (label and offsets) to the consensus's."""
        if answer.value is None:
            return None
        mine = {(e.get("label"), e.get("startOffset"), e.get("endOffset")) for e in answer.value.get("entities", [])}
        theirs = {e.span for e in result.entities}
        return f1(len(mine & theirs), len(mine), len(theirs))

    def consensus_text(self, result: EntitiesResult) -> MarkedText:
        from ..figures import MarkedText

        return MarkedText(tuple(e.span for e in result.entities))

    def answer_summary(self, answer: Mapping[str, Any]) -> MarkedText:
        from ..figures import MarkedText

        entities = answer.get("entities", [])
        return MarkedText(tuple((str(e.get("label")), int(e["startOffset"]), int(e["endOffset"])) for e in entities))


NAMED_ENTITIES = TaskKind(
    shape=EntitiesShape(),
    task=".adapter:NamedEntities",
    from_gt=EntitiesResult.from_gt,
    views=EntitiesViews(),
)
