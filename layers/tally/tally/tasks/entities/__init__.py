"""Named entities (``<crowd-entity-annotation>``): the type's light half (its shape); the adapter
(:mod:`.adapter`, the weighted span vote) is imported only for a batch of this type."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ...gt.response import TaskType
from ..kind import TaskKind, Views

if TYPE_CHECKING:
    from .adapter import NamedEntities

__all__ = ["NAMED_ENTITIES", "EntitiesShape", "NamedEntities"]


class EntitiesShape:
    """``{"entities": [{"label", "startOffset", "endOffset"}]}`` (``<crowd-entity-annotation>``)."""

    name = "named-entity"
    type = TaskType.NAMED_ENTITY_RECOGNITION.value
    keys: tuple[str, ...] = ("entities",)

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return isinstance(element.get("entities"), list)

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        return [(str(e["label"]), None) for e in element["entities"] if isinstance(e, dict) and "label" in e]


BUILTIN_TYPE = "groundtruth/text-span"
"""The ``type`` Ground Truth's built-in named-entity task writes (DG ``sms-data-output``)."""


class EntitiesViews(Views):
    def builtin(
        self, result: Mapping[str, Any], attr: str, common: Callable[[str | None], dict[str, Any]]
    ) -> dict[str, Any]:
        """``{"annotations": {"entities", "labels"}}``, each entity's confidence in the metadata."""
        annotations = result["annotations"]
        entities = [
            {"label": e["label"], "startOffset": e["startOffset"], "endOffset": e["endOffset"]}
            for e in annotations["entities"]
        ]
        value = {"annotations": {"entities": entities, "labels": annotations["labels"]}}
        meta = {"entities": [{"confidence": e.get("confidence", 0)} for e in annotations["entities"]]}
        return {attr: value, f"{attr}-metadata": {**meta, **common(BUILTIN_TYPE)}}


NAMED_ENTITIES = TaskKind(
    shape=EntitiesShape(),
    task=".adapter:NamedEntities",
    types=(TaskType.NAMED_ENTITY_RECOGNITION.value,),
    views=EntitiesViews(),
)


def __getattr__(name: str) -> Any:
    if name != "NamedEntities":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .adapter import NamedEntities

    return NamedEntities
