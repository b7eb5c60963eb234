"""Classification: one label per object (``<crowd-classifier>``, ``<crowd-image-classifier>``) or several
(the ``...-multi-select`` elements); the adapter (:mod:`.adapter`, Dawid–Skene over the batch) is
imported only for a batch of this type.

This module is the type's light half: its shapes, its typed results (:class:`SingleLabel`,
:class:`MultiLabel`) and their views.

Examples:
    >>> SINGLE_LABEL.shape.recognises({"label": "Dog"}), MULTI_LABEL.shape.recognises({"label": "Dog"})
    (True, False)
    >>> label = {"type": "groundtruth/image-classification", "class-id": 2, "class-name": "Bird",
    ...          "confidence": 0.94, "worker-quality": [{"workerId": "w1", "accuracy": 0.9}]}
    >>> result = SingleLabel.from_gt(label)
    >>> result.class_name, result.to_gt() == {k: v for k, v in label.items() if k != "type"}
    ('Bird', True)
    >>> SINGLE_LABEL.views.prior(label, {"type": "groundtruth/image-classification"})
    {'label': 'Bird'}
    >>> MULTI_LABEL.views.prior([0, 2], {"type": "groundtruth/image-classification-multilabel",
    ...                                   "class-map": {"0": "Dog", "2": "Bird"}})
    {'labels': ['Dog', 'Bird']}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...gt.response import TaskType
from ..kind import ReviewAnswer, ReviewSubject, TaskKind, Views, WorkerQuality
from ..registry import element_keys

if TYPE_CHECKING:
    from .adapter import MultiLabelClassification, SingleLabelClassification

__all__ = [
    "MULTI_LABEL",
    "SINGLE_LABEL",
    "MultiLabel",
    "MultiLabelClassification",
    "MultiLabelShape",
    "SingleLabel",
    "SingleLabelClassification",
    "SingleLabelShape",
]

_SINGLE = (
    TaskType.IMAGE_CLASSIFICATION.value,
    TaskType.TEXT_CLASSIFICATION.value,
    TaskType.VIDEO_CLASSIFICATION.value,
)
_MULTI = (
    TaskType.IMAGE_CLASSIFICATION_MULTILABEL.value,
    TaskType.TEXT_CLASSIFICATION_MULTILABEL.value,
    TaskType.VIDEO_CLASSIFICATION_MULTILABEL.value,
)


class SingleLabelShape:
    """``{"label": "Dog"}`` (``<crowd-classifier>``, ``<crowd-image-classifier>``): not when the element
    also has ``labels`` or another shape's key."""

    name = "classification"
    type = TaskType.IMAGE_CLASSIFICATION.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        # other kinds' keys are the registry's lines (no package imported)
        return (
            isinstance(element.get("label"), str)
            and "labels" not in element
            and element_keys("classification").isdisjoint(element)
        )

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return [(str(element["label"]), None)]


class MultiLabelShape:
    """``{"labels": ["Dog", "Cat"]}`` (the ``...-multi-select`` elements): not with another shape's key."""

    name = "multi-label classification"
    type = TaskType.IMAGE_CLASSIFICATION_MULTILABEL.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        value = element.get("labels")
        return (
            isinstance(value, list)
            and all(isinstance(v, str) for v in value)
            and element_keys("classification").isdisjoint(element)
        )

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return [(str(name), None) for name in element["labels"]]


@dataclass(frozen=True)
class SingleLabel:
    """A single-label result: the class (its 0-based index in the job's labels and its name), the
    posterior of the decision, and each worker's figures over the batch."""

    class_id: int
    class_name: str
    confidence: float
    worker_quality: tuple[WorkerQuality, ...]

    def to_gt(self) -> dict[str, Any]:
        return {
            "class-id": self.class_id,
            "class-name": self.class_name,
            "confidence": self.confidence,
            "worker-quality": [q.to_gt() for q in self.worker_quality],
        }

    def metadata(self) -> dict[str, Any]:
        """The built-in entries of ``<attr>-metadata``."""
        quality = [q.to_gt() for q in self.worker_quality]
        return {"class-name": self.class_name, "confidence": self.confidence, "worker-quality": quality}

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> SingleLabel:
        return cls(
            int(label["class-id"]),
            str(label["class-name"]),
            float(label.get("confidence", 0)),
            WorkerQuality.rows(label),
        )


@dataclass(frozen=True)
class MultiLabel:
    """A multi-label result: the classes chosen (indices and names, in label order), each one's
    posterior of being present, the mean posterior of every label's decision, the workers' figures."""

    class_ids: tuple[int, ...]
    class_names: tuple[str, ...]
    confidences: tuple[float, ...]
    confidence: float
    worker_quality: tuple[WorkerQuality, ...]

    @property
    def class_map(self) -> dict[str, str]:
        return {str(i): n for i, n in zip(self.class_ids, self.class_names, strict=True)}

    @property
    def confidence_map(self) -> dict[str, float]:
        return {str(i): c for i, c in zip(self.class_ids, self.confidences, strict=True)}

    def to_gt(self) -> dict[str, Any]:
        return {
            "class-ids": list(self.class_ids),
            "class-names": list(self.class_names),
            "class-map": self.class_map,
            "confidence-map": self.confidence_map,
            "confidence": self.confidence,
            "worker-quality": [q.to_gt() for q in self.worker_quality],
        }

    def metadata(self) -> dict[str, Any]:
        quality = [q.to_gt() for q in self.worker_quality]
        return {"class-map": self.class_map, "confidence-map": self.confidence_map, "worker-quality": quality}

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> MultiLabel:
        ids = tuple(int(i) for i in label["class-ids"])
        class_map, confidence_map = label["class-map"], label["confidence-map"]
        return cls(
            ids,
            tuple(str(class_map[str(i)]) for i in ids),
            tuple(float(confidence_map[str(i)]) for i in ids),
            float(label.get("confidence", 0)),
            WorkerQuality.rows(label),
        )


def _class_names(value: Any, meta: Mapping[str, Any]) -> list[str] | None:
    """The classes of one prior classification label: built-in (an integer or a list of integers with
    ``class-name`` or ``class-map`` in the metadata) or tally's own (a dict with ``class-name`` or
    ``class-names``)."""
    if isinstance(value, dict):
        names = value.get("class-names", [value.get("class-name")] if "class-name" in value else None)
        return [str(n) for n in names] if isinstance(names, list) else None
    if meta.get("type") in _SINGLE:
        name = meta.get("class-name")
        return [str(name)] if isinstance(name, str) else None
    class_map = meta.get("class-map")
    if isinstance(value, list) and isinstance(class_map, dict):
        return [str(class_map[str(i)]) for i in value if str(i) in class_map]
    return None


class SingleLabelViews(Views):
    prior_rank = 1

    def prior(self, value: Any, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """``{"label": name}`` for a chained job's template to pre-select."""
        names = _class_names(value, meta)
        return {"label": names[0]} if names else None

    def builtin(self, result: SingleLabel, attr: str, common: Callable[[str | None], dict[str, Any]]) -> dict[str, Any]:
        """The integer class id, with ``class-name`` and ``confidence`` in the metadata."""
        meta = {"class-name": result.class_name, "confidence": result.confidence}
        return {attr: result.class_id, f"{attr}-metadata": {**meta, **common(None)}}

    def labels(self, result: SingleLabel, subject: ReviewSubject) -> list[str]:
        return [result.class_name]

    def agreement(self, result: SingleLabel, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """1 when the worker chose the consensus's class, else 0."""
        return None if answer.value is None else 1.0 if answer.value.get("label") == result.class_name else 0.0

    def answer_summary(self, answer: Mapping[str, Any]) -> str:
        return str(answer.get("label"))


class MultiLabelViews(Views):
    prior_rank = 1

    def prior(self, value: Any, meta: Mapping[str, Any]) -> dict[str, Any] | None:
        """``{"labels": [names]}`` for a chained job's template to pre-select."""
        names = _class_names(value, meta)
        return None if names is None else {"labels": names}

    def builtin(self, result: MultiLabel, attr: str, common: Callable[[str | None], dict[str, Any]]) -> dict[str, Any]:
        """The list of class ids, with ``class-map`` and ``confidence-map`` in the metadata."""
        meta = {"class-map": result.class_map, "confidence-map": result.confidence_map}
        return {attr: list(result.class_ids), f"{attr}-metadata": {**meta, **common(None)}}

    def labels(self, result: MultiLabel, subject: ReviewSubject) -> list[str]:
        return list(result.class_names)

    def agreement(self, result: MultiLabel, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """The Jaccard index of the worker's labels and the consensus's (1 when both are empty)."""
        if answer.value is None:
            return None
        mine, theirs = set(answer.value.get("labels") or []), set(result.class_names)
        return 1.0 if not mine | theirs else len(mine & theirs) / len(mine | theirs)

    def answer_summary(self, answer: Mapping[str, Any]) -> str:
        return ", ".join(str(v) for v in answer.get("labels") or []) or "(none)"


SINGLE_LABEL = TaskKind(
    shape=SingleLabelShape(),
    task=".adapter:SingleLabelClassification",
    from_gt=SingleLabel.from_gt,
    views=SingleLabelViews(),
)
MULTI_LABEL = TaskKind(
    shape=MultiLabelShape(),
    task=".adapter:MultiLabelClassification",
    from_gt=MultiLabel.from_gt,
    views=MultiLabelViews(),
)

_ADAPTER = frozenset({"SingleLabelClassification", "MultiLabelClassification", "is_text_object"})


def __getattr__(name: str) -> Any:
    if name not in _ADAPTER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import adapter

    return getattr(adapter, name)
