"""What the geometric tasks share — bounding boxes, keypoints, instance segmentation and polygons, each
an adapter in its own package (``tally.tasks.boxes.adapter``, ...): answers read into items, matched
across workers, kept where the crowd agrees and fused (:mod:`tally.aggregation.geometric`, which
documents the matching, the keep rule with its two-worker prior, the fusion and the confidence).

Answers are recognised by shape, whatever the element's ``name``:

* boxes ``{"boundingBoxes": [{"label", "left", "top", "width", "height"}], "inputImageProperties"}``
  (``<crowd-bounding-box>``);
* keypoints ``{"keypoints": [{"label", "x", "y"}], "inputImageProperties"}`` (``<crowd-keypoint>``);
* instances ``{"instances": [{"color", "label"}], "labeledImage": {"pngImageData"}}``
  (``<crowd-instance-segmentation>``: instance *k* is the pixels of its colour);
* polygons ``{"polygons": [{"label", "vertices": [{"x", "y"}]}], "inputImageProperties"}``
  (``<crowd-polygon>``): rasterised in order and consolidated **as instances** (the fused result is an
  instance mask, not vertices); polygons with the same ``group`` (tally's own key, set by the CVAT
  importer) and label are one instance (:mod:`.polygons.adapter`).

An item whose label the job lacks is left out with a warning, as is a box with no area inside the
image (boxes are clipped to it) or a polygon with fewer than three vertices; an answer without the
image size it needs, or whose mask size is the odd one out, is rejected.

Labels (``content[<attr>]``), ``class_id`` being the label's 0-based index in the job's label list:

* boxes, the built-in object-detection shape: ``{"annotations": [{"class_id", "left", "top", "width",
  "height"}], "image_size": [{"width", "height", "depth"}], "objects": [{"confidence"}],
  "class-map": {"0": "car"}, "confidence", "worker-quality"}``;
* keypoints: ``{"keypoints": [{"label", "x", "y", "confidence"}], "image_size", "confidence", ...}``;
* instances and polygons: ``{"instance-mask-ref", "class-mask-ref", "instances": [{"label", "color",
  "confidence", "workers"}], "internal-color-map", "image_size", "confidence", ...}``: an instance-index
  palette PNG (pixel *k* = instance *k*, palette = each instance's ``color``) and a class mask PNG like
  semantic segmentation's (pixel = class key, 0 background), both beside the job's other artefacts.

The object's ``confidence`` is the mean of its items' (``support × agreement``); with no item kept,
the share of answers that drew nothing. ``worker-quality`` gives each worker's ``precision``,
``recall`` and keep ``weight``; a figure nothing measured is ``null`` (no items: no precision and no
weight; no agreed item to draw: no recall; docs/output-format.md).

Across batches (:mod:`tally.worker_store`): a worker's statistics are the eight evidence counts behind
their precision, recall, agreement, inventions and misses (the algorithm's ``worker_statistics_``,
:data:`~tally.aggregation.geometric.EVIDENCE_FIELDS`), added to later batches' (their ``prior``). The
statistics' name carries the count (``bounding-box/8``), so counts stored by a version with six are
not mixed in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from ..aggregation.base import Consolidated, ObjectItems, WorkerItems, as_truth
from ..aggregation.geometric import EVIDENCE_FIELDS, ItemConsolidation
from ..aggregation.vote_table import VoteTable
from ..errors import AnswerError
from ..gt.answers import Answer, AnswerIssue
from ..gt.events import DatasetObject
from ..gt.response import Members, ObjectResult, members_of
from ..labels import LabelSet
from ..worker_store import WorkerStatistics
from .base import (
    DIGITS,
    JobContext,
    Observed,
    consolidated,
    figure,
    gold_column,
    known_labels,
    majority_size,
    no_usable_answer,
)
from .kind import ImageSize, ItemsShape, WorkerQuality

__all__ = [
    "Common",
    "Geometric",
    "GeometricResult",
    "GoldObjectItems",
    "Parsed",
    "image_size",
    "item_list",
    "kept_ids",
    "number",
]

_BATCH_FIGURES = ("precision", "recall", "weight")
"""The keys of a ``worker-quality`` row that are the worker's figures over the batch: all but ``workerId``."""


def image_size(element: Mapping[str, Any]) -> tuple[int, int] | None:
    props = element.get("inputImageProperties")
    if not isinstance(props, dict):
        return None
    width, height = props.get("width"), props.get("height")
    if not isinstance(width, int | float) or not isinstance(height, int | float) or width <= 0 or height <= 0:
        return None
    return int(width), int(height)


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AnswerError("an item's coordinates are not numbers")
    return float(value)


def item_list(element: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = element.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AnswerError(f"{key} is not a list of objects")
    return items


@dataclass(frozen=True)
class Common:
    """What every geometric result has: the image size, the object's confidence, the workers' figures;
    ``gold``: the object is consolidated from its gold answer (the truth, not a vote); ``issues``: its
    answers' issues (:attr:`warned` reads them)."""

    image_size: ImageSize
    confidence: float
    worker_quality: tuple[WorkerQuality, ...]
    gold: bool = False
    issues: Sequence[AnswerIssue] = ()

    @property
    def warned(self) -> frozenset[str]:
        """The workers whose answer was read with warnings (items left out of it): computed when a
        result reads it (an empty instance result's reason), not for every object."""
        return frozenset(i.worker_id for i in self.issues if not i.rejected)


@dataclass(frozen=True)
class GoldObjectItems(ObjectItems):
    """An object's items when one answer is marked gold (``annotationData.gold``, which only an importer
    can set: :func:`~tally.tasks.base.gold_column`): every answer, for the batch model, which counts the
    others against answer ``known`` (:meth:`~tally.aggregation.geometric.ItemConsolidation.fit`'s
    ``known``), and ``alone``, the gold answer by itself (and the consolidation's prepared table of it,
    and its items' sources: the object's members), which the object is consolidated from: never
    outvoted."""

    known: int = dataclasses.field(kw_only=True)
    alone: Observed[ObjectItems, VoteTable | None] = dataclasses.field(kw_only=True)


class GeometricResult(Protocol):
    def to_gt(self) -> dict[str, Any]: ...

    def metadata(self) -> dict[str, Any]: ...


class Parsed:
    """One answer read: its labels (class indices), geometry and warnings; ``sources``: each kept
    item's index in the answer's item list."""

    def __init__(
        self, labels: list[int], geometry: npt.NDArray[np.generic], warnings: list[str], sources: list[int]
    ) -> None:
        self.labels, self.geometry, self.warnings, self.sources = labels, geometry, warnings, sources


class Geometric(ItemsShape):
    """What every geometric task shares: read answers into :class:`ObjectItems`, fit the batch model
    (``algorithm``), predict an object and shape the result."""

    algorithm: type[ItemConsolidation[Any]]
    uses_batch_model = True
    needs_labels = True

    def prepare(self, job: JobContext) -> None:
        job.require_labels()

    plural: str = "items"
    fields: tuple[str, ...] = ()

    def _place(
        self, coords: npt.NDArray[np.float64], width: int, height: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], str]:
        """The items' geometry (one row per item), which lie in the image, and what to call the others."""
        raise NotImplementedError

    def _parse(self, answer: Answer, labels: LabelSet) -> tuple[Parsed, tuple[int, int]]:
        """Boxes and keypoints: coordinates ``fields`` per item, placed in ``inputImageProperties``."""
        size = image_size(answer.element)
        if size is None:
            raise AnswerError(f"no inputImageProperties (width and height) to place the {self.plural} in")
        raw = item_list(answer.element, self.key)
        coords = np.array([[number(i.get(k)) for k in self.fields] for i in raw]).reshape(-1, len(self.fields))
        geometry, inside, outside = self._place(coords, *size)
        indices, warnings = known_labels(labels, [str(i.get("label")) for i in raw], "items")
        if not inside.all():
            warnings.append(f"{int((~inside).sum())} {outside} were left out")
        keep = inside & np.array([i is not None for i in indices], dtype=bool)
        classes = [i for i, ok in zip(indices, keep.tolist(), strict=True) if ok and i is not None]
        return Parsed(classes, geometry[keep], warnings, np.flatnonzero(keep).tolist()), size

    def observe(
        self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext
    ) -> Observed[ObjectItems, VoteTable | None]:
        labels = job.require_labels()
        issues: list[AnswerIssue] = []
        parsed: list[tuple[str, Parsed, tuple[int, int]]] = []
        for answer in answers:
            try:
                item, size = self._parse(answer, labels)
            except AnswerError as exc:
                issues.append(AnswerIssue(answer.worker_id, str(exc)))
                continue
            parsed.append((answer.worker_id, item, size))
            issues.extend(AnswerIssue(answer.worker_id, w, rejected=False) for w in item.warnings)
        if parsed:
            best, odd = majority_size([(w, size) for w, _, size in parsed], "image")
            issues.extend(odd)
            parsed = [p for p in parsed if p[2] == best]
        if not parsed:
            raise no_usable_answer(obj, issues)
        width, height = parsed[0][2]
        items = tuple(WorkerItems(w, tuple(p.labels), p.geometry) for w, p, _ in parsed)
        sources = tuple(tuple(p.sources) for _, p, _ in parsed)
        known = gold_column(answers, [a.worker for a in items])
        if known is not None:
            return self._observed_gold(items, known, width, height, issues, sources[known])
        return self._observed(ObjectItems(items, width, height), issues, sources)

    def _observed_gold(
        self,
        items: tuple[WorkerItems, ...],
        known: int,
        width: int,
        height: int,
        issues: list[AnswerIssue],
        sources: tuple[int, ...],
    ) -> Observed[ObjectItems, VoteTable | None]:
        """An object with a gold answer (:class:`GoldObjectItems`): the model's summary of every answer,
        and the gold answer alone to consolidate (``sources``: its kept items' indices in its answer, so
        the object's members are the gold answer's items)."""
        alone = self._observed(ObjectItems((items[known],), width, height), issues, (sources,))
        whole = self._observed(ObjectItems(items, width, height), [])
        assert whole.summary is not None
        every = whole.summary
        summary = GoldObjectItems(every.answers, every.width, every.height, every.similarity, known=known, alone=alone)
        return Observed(summary, None, issues, nbytes=whole.nbytes + alone.nbytes, answers_used=len(items))

    def _observed(
        self, whole: ObjectItems, issues: list[AnswerIssue], sources: tuple[tuple[int, ...], ...] | None = None
    ) -> Observed[ObjectItems, VoteTable | None]:
        """What the fit and the consolidation keep of an object: its items (a few numbers each), and
        ``sources``: per answer, its kept items' indices in its item list (:attr:`Observed.sources`)."""
        nbytes = sum(int(np.asarray(a.geometry).nbytes) for a in whole.answers)
        return Observed(whole, None, issues, nbytes=nbytes, answers_used=len(whole.answers), sources=sources)

    def _predict(
        self, model: ItemConsolidation[Any], observed: Observed[ObjectItems, VoteTable | None]
    ) -> Consolidated:
        assert observed.summary is not None
        return model.predict(observed.summary)

    def fit(self, summaries: Sequence[tuple[str, ObjectItems]], job: JobContext) -> ItemConsolidation[Any]:
        return self.fit_with_prior(summaries, job, {})

    def statistics_name(self, job: JobContext) -> str:
        return f"{self.name}/{len(EVIDENCE_FIELDS)}"

    def statistics_keys(self, summaries: Sequence[tuple[str, ObjectItems]], job: JobContext) -> list[str]:
        return list(dict.fromkeys(a.worker for _, items in summaries for a in items.answers))

    def fit_with_prior(
        self, summaries: Sequence[tuple[str, ObjectItems]], job: JobContext, prior: WorkerStatistics
    ) -> ItemConsolidation[Any]:
        known = [items.known if isinstance(items, GoldObjectItems) else None for _, items in summaries]
        return self.algorithm().fit([items for _, items in summaries], prior, known)

    def statistics(self, model: ItemConsolidation[Any], job: JobContext) -> WorkerStatistics:
        return {w: v for w, v in model.worker_statistics_.items() if any(v)}

    def consolidate(
        self,
        obj: DatasetObject,
        observed: Observed[ObjectItems, VoteTable | None],
        model: ItemConsolidation[Any] | None,
        job: JobContext,
    ) -> ObjectResult:
        gold = observed.summary if isinstance(observed.summary, GoldObjectItems) else None
        if gold is not None:  # consolidated from the gold answer alone
            alone = gold.alone
            observed = Observed(
                alone.summary, alone.prepared, observed.issues, observed.nbytes, observed.answers_used, alone.sources
            )
        items = observed.summary
        if items is None:
            raise RuntimeError("geometric tasks keep every object's items")
        model = model or self.algorithm()
        result = self._predict(model, observed)
        if gold is not None:  # the gold answer is the known truth
            result = as_truth(result)
        confidence = self._confidence(items, result)
        quality = tuple(
            WorkerQuality(
                a.worker,
                (
                    ("precision", figure(model.precision_.get(a.worker))),
                    ("recall", figure(model.recall_.get(a.worker))),
                    # the keep weight comes from the precision: without it, it is no figure of the worker's
                    (
                        "weight",
                        figure(model.worker_weights_.get(a.worker, 1.0) if a.worker in model.precision_ else None),
                    ),
                ),
            )
            for a in items.answers
        )
        common = Common(ImageSize(items.width, items.height), confidence, quality, gold is not None, observed.issues)
        typed = self._result(obj, items, result, job, common)
        members = _members(items, result, observed.sources) if job.members else None  # only an importer asks
        return consolidated(
            obj, self.type, observed, typed.to_gt(), typed.metadata(), confidence, _BATCH_FIGURES, members
        )

    @staticmethod
    def _confidence(items: ObjectItems, result: Consolidated) -> float:
        if len(result.confidence):
            return round(float(result.confidence.mean()), DIGITS)
        empty = sum(1 for a in items.answers if not a.labels)
        return round(empty / len(items.answers), DIGITS)

    def _result(
        self, obj: DatasetObject, items: ObjectItems, result: Consolidated, job: JobContext, common: Common
    ) -> GeometricResult:
        """The kind's typed result of an object (``common``: what every geometric result has)."""
        raise NotImplementedError


def _members(items: ObjectItems, result: Consolidated, sources: tuple[tuple[int, ...], ...] | None) -> Members | None:
    """Each kept item's members as ``(workerId, index in the worker's answer)``."""
    if sources is None:
        return None
    return members_of([a.worker for a in items.answers], sources, result.members)


def kept_ids(result: Consolidated) -> list[int]:
    """The kept items' class indices (what the answers were read into)."""
    return [int(str(c)) for c in result.labels]
