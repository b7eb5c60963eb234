"""``<crowd-instance-segmentation>``: the type's light half (its shape, its typed result
:class:`InstancesResult` and its views); the adapter (:mod:`.adapter`, the geometric consolidation) is
imported only for a batch of this type. Polygons (:mod:`tally.tasks.polygons`) are consolidated as
instances, so their labels are read here too.

Examples:
    >>> label = {"instance-mask-ref": "s3://b/o-instances.png", "class-mask-ref": "s3://b/o-classes.png",
    ...          "instances": [{"label": "car", "color": "#ff0000", "confidence": 0.75, "workers": ["w1", "w2"]}],
    ...          "internal-color-map": {"0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
    ...                                 "1": {"class-name": "car", "hex-color": "#2ca02c"}},
    ...          "image_size": [{"width": 10, "height": 8, "depth": 3}], "confidence": 0.75,
    ...          "worker-quality": [{"workerId": "w1", "precision": 1.0, "recall": 1.0, "weight": 1.0}]}
    >>> result = InstancesResult.from_gt(label)
    >>> result.instances[0].workers, result.to_gt() == label
    (('w1', 'w2'), True)
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...gt.response import TaskType
from ...text import counted
from ..kind import (
    ClassColour,
    CocoSink,
    ImageSize,
    ItemsShape,
    ReviewAnswer,
    ReviewSubject,
    TaskKind,
    Views,
    WorkerQuality,
)
from ..review import mask_notes

if TYPE_CHECKING:
    from ..figures import Overlay

__all__ = [
    "DREW_NOTHING",
    "INSTANCES",
    "UNKEPT_ITEMS",
    "UNREADABLE_ITEMS",
    "Instance",
    "InstancesResult",
    "InstancesShape",
    "NoInstances",
]

UNKEPT_ITEMS = "in no kept instance: too few other workers drew them there with the same label"
"""Why a worker's items are in no kept instance (a form's ``unkept-items``, an empty result's ``no-instances``)."""

DREW_NOTHING = "drew nothing (no instance with one of the job's labels)"

UNREADABLE_ITEMS = "none of their items could be read (see answer-warnings)"
"""Why a worker whose answer was read with warnings has no item (each item was left out, with its reason)."""


class InstancesShape(ItemsShape):
    """``{"instances": [...]}`` (``<crowd-instance-segmentation>``)."""

    name = "instance-segmentation"
    type = TaskType.INSTANCE_SEGMENTATION.value
    key = "instances"

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return "labeledImage" in element and isinstance(element.get("instances"), list)


@dataclass(frozen=True)
class Instance:
    """One consolidated instance: its label, its colour in the instance mask, its confidence and the
    workers whose instance the fusion matched to it."""

    label: str
    color: str
    confidence: float
    workers: tuple[str, ...]

    def to_gt(self) -> dict[str, Any]:
        return {"label": self.label, "color": self.color, "confidence": self.confidence, "workers": list(self.workers)}


@dataclass(frozen=True)
class NoInstances:
    """Why an object with answers has no consolidated instance: ``reason`` (one sentence) and, per
    worker whose answer was read, how many items they drew and why none is kept (the rows of a form's
    ``unkept-items``: ``workerId``, ``items``, ``reason``)."""

    reason: str
    answers: tuple[tuple[str, int, str], ...]

    def to_gt(self) -> dict[str, Any]:
        rows = [{"workerId": w, "items": n, "reason": why} for w, n, why in self.answers]
        return {"reason": self.reason, "answers": rows}

    @classmethod
    def of(cls, drawn: Sequence[tuple[str, int]], warned: Collection[str] = ()) -> NoInstances:
        """From each read answer's worker and item count (the object kept none of them); ``warned``: the
        workers whose answer was read with warnings, so that one with no item had each left out, not
        drew nothing.

        Examples:
            >>> NoInstances.of([("w1", 0), ("w2", 0), ("w3", 2)], warned={"w2"}).reason
            'no instance kept: 1 of 3 workers drew nothing; none of the items of 1 worker could be read (see answer-warnings); 1 worker drew 2 instances, which too few other workers drew there with the same label'
        """
        unread = sum(1 for w, n in drawn if n == 0 and w in warned)
        nothing = sum(1 for _, n in drawn if n == 0) - unread
        items = sum(n for _, n in drawn)
        parts = [f"{nothing} of {counted(len(drawn), 'worker')} drew nothing"] if nothing else []
        if unread:
            parts.append(f"none of the items of {counted(unread, 'worker')} could be read (see answer-warnings)")
        if items:
            drew = counted(len(drawn) - nothing - unread, "worker")
            parts.append(
                f"{drew} drew {counted(items, 'instance')}, which too few other workers drew there with the same label"
            )
        answers = tuple(
            (w, n, UNKEPT_ITEMS if n else UNREADABLE_ITEMS if w in warned else DREW_NOTHING) for w, n in drawn
        )
        return cls("no instance kept: " + "; ".join(parts), answers)

    @classmethod
    def from_gt(cls, value: Mapping[str, Any]) -> NoInstances:
        return cls(value["reason"], tuple((r["workerId"], r["items"], r["reason"]) for r in value["answers"]))


@dataclass(frozen=True)
class InstancesResult:
    """An instance-segmentation (or polygon) result: the instance mask (pixel *k*: instance *k*, 1-based)
    and the class mask, the instances, the job's classes and colours, the image size, the object's
    confidence and each worker's precision, recall and keep weight. The masks and the size are
    ``None`` in a label written without them (the views that need them say so). ``no_instances``: why
    no instance is kept, on an object with answers that kept none (``no-instances`` in the label; not in
    the metadata, which would only repeat it); never on a gold object (its gold answer is the truth)."""

    instance_mask_ref: str | None
    class_mask_ref: str | None
    instances: tuple[Instance, ...]
    colour_map: tuple[ClassColour, ...]
    image_size: ImageSize | None
    confidence: float
    worker_quality: tuple[WorkerQuality, ...]
    no_instances: NoInstances | None = None

    def to_gt(self) -> dict[str, Any]:
        label: dict[str, Any] = {}
        if self.instance_mask_ref is not None:
            label["instance-mask-ref"] = self.instance_mask_ref
        if self.class_mask_ref is not None:
            label["class-mask-ref"] = self.class_mask_ref
        label["instances"] = [i.to_gt() for i in self.instances]
        if self.no_instances is not None:
            label["no-instances"] = self.no_instances.to_gt()
        label["internal-color-map"] = ClassColour.map_to_gt(self.colour_map)
        ImageSize.into(label, self.image_size)
        label.update({"confidence": self.confidence, "worker-quality": [q.to_gt() for q in self.worker_quality]})
        return label

    def metadata(self) -> dict[str, Any]:
        """The entries of ``<attr>-metadata``."""
        return {
            "instances": len(self.instances),
            "internal-color-map": ClassColour.map_to_gt(self.colour_map),
            "confidence": self.confidence,
            "worker-quality": [q.to_gt() for q in self.worker_quality],
        }

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> InstancesResult:
        instances = tuple(
            Instance(i["label"], i["color"], i["confidence"], tuple(i["workers"])) for i in label["instances"]
        )
        return cls(
            label.get("instance-mask-ref"),
            label.get("class-mask-ref"),
            instances,
            ClassColour.map_from_gt(label["internal-color-map"]),
            ImageSize.of(label),
            label["confidence"],
            WorkerQuality.rows(label),
            NoInstances.from_gt(label["no-instances"]) if "no-instances" in label else None,
        )


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

    def coco(self, result: InstancesResult, image: dict[str, Any], sink: CocoSink) -> bool:
        """One annotation per instance: its pixels of the instance mask as RLE, scored by its confidence."""
        from ...coco import mask_bbox, rle_encode

        if result.instance_mask_ref is None:
            raise KeyError("instance-mask-ref")
        indices = sink.mask(result.instance_mask_ref, "instance-mask-ref")
        sink.sized(image, indices)
        key_of = {e.class_name: int(e.key) for e in result.colour_map}
        for k, instance in enumerate(result.instances):
            mask = indices == k + 1
            name = str(instance.label)
            category = sink.category(name, key_of[name] - 1 if name in key_of else None)
            sink.annotation(
                image["id"],
                category,
                segmentation=rle_encode(mask),
                bbox=mask_bbox(mask),
                area=float(mask.sum()),
                score=instance.confidence,
            )
        return True

    def labels(self, result: InstancesResult, subject: ReviewSubject) -> list[str]:
        return [i.label for i in result.instances]

    def agreement(self, result: InstancesResult, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """The share of instances (the worker's or the consensus's, the larger count) the fusion matched
        to this worker."""
        if answer.value is None:
            return None
        matched = sum(answer.worker_id in i.workers for i in result.instances)
        from ..polygons import group_key

        drawn = {
            (key, k) if (group := group_key(d)) is None else (key, "group", *group)
            for key in ("instances", "polygons") if isinstance(v := answer.value.get(key), list)
            for k, d in enumerate(v)
        }  # fmt: skip  # a group's polygons (the polygon task's ``group``) are one instance
        larger = max(len(drawn), len(result.instances))
        return 1.0 if larger == 0 else matched / larger

    def items(self, result: InstancesResult) -> list[tuple[str, float | None]]:
        return [(i.label, i.confidence) for i in result.instances]

    def consensus(self, result: InstancesResult, subject: ReviewSubject, tags: Sequence[str]) -> list[Overlay]:
        """The instance mask, each instance numbered; without it, the class mask."""
        from ..figures import ClassMask, InstanceMask

        if "instances" in subject.artefacts:
            return [InstanceMask("instances", tuple(i.label for i in result.instances))]
        if "classes" in subject.artefacts:
            return [ClassMask("classes", ClassColour.map_to_gt(result.colour_map))]
        return []

    def answer_overlays(self, answer: Mapping[str, Any]) -> list[Overlay]:
        """A polygon answer's polygons, else the worker's instance mask."""
        from ..figures import Polygons, WorkerMask

        if isinstance(answer.get("polygons"), list):
            return [Polygons(tuple(answer["polygons"]))]
        return [WorkerMask(instances=True)]

    def answer_notes(self, answer: ReviewAnswer, classes: set[str]) -> list[str]:
        return mask_notes(answer, classes)


_VIEWS = InstancesViews()

INSTANCES = TaskKind(
    shape=InstancesShape(),
    task=".adapter:InstanceSegmentation",
    from_gt=InstancesResult.from_gt,
    views=_VIEWS,
)
