"""Geometric answers — bounding boxes, keypoints, instance segmentation and polygons — matched across
workers, kept where the crowd agrees and fused (:mod:`tally.aggregation.geometric`, which documents
the matching, the keep rule with its two-worker prior, the fusion and the confidence).

Answers are recognised by shape, whatever the element's ``name``:

* boxes ``{"boundingBoxes": [{"label", "left", "top", "width", "height"}], "inputImageProperties"}``
  (``<crowd-bounding-box>``);
* keypoints ``{"keypoints": [{"label", "x", "y"}], "inputImageProperties"}`` (``<crowd-keypoint>``);
* instances ``{"instances": [{"color", "label"}], "labeledImage": {"pngImageData"}}``
  (``<crowd-instance-segmentation>``: instance *k* is the pixels of its colour);
* polygons ``{"polygons": [{"label", "vertices": [{"x", "y"}]}], "inputImageProperties"}``
  (``<crowd-polygon>``): rasterised in order and consolidated **as instances** (the fused result is an
  instance mask, not vertices).

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

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from ..aggregation.base import Consolidated, ObjectItems, WorkerItems
from ..aggregation.box_consolidation import BoxConsolidation
from ..aggregation.box_fusion import boxes_from_ltwh, boxes_to_ltwh
from ..aggregation.geometric import EVIDENCE_FIELDS, ItemConsolidation
from ..aggregation.instance_consolidation import InstanceConsolidation
from ..aggregation.instance_fusion import (
    MAX_INSTANCES,
    instance_map_from_colours,
    instance_map_from_palette,
    rasterise_polygons,
)
from ..aggregation.keypoint_consolidation import KeypointConsolidation
from ..codecs import decode_png, encode_palette_png, palette_indices
from ..colours import assign_colours, hex_to_rgb
from ..errors import AnswerError
from ..gt.answers import Answer, AnswerIssue
from ..gt.events import DatasetObject
from ..gt.response import ObjectResult, artefact_name
from ..labels import ClassTable, LabelSet
from ..storage import join_uri
from ..vote import VoteTable
from ..worker_store import WorkerStatistics
from .base import DIGITS, JobContext, Observed, consolidated, figure, known_labels, majority_size, no_usable_answer
from .boxes import BoxesShape
from .instances import InstancesShape
from .keypoints import KeypointsShape
from .kind import ItemsShape
from .polygons import PolygonsShape

__all__ = ["BoundingBoxes", "InstanceSegmentation", "Keypoints", "Polygons"]

_BATCH_FIGURES = ("precision", "recall", "weight")
"""The keys of a ``worker-quality`` row that are the worker's figures over the batch: all but ``workerId``."""


def _size(element: Mapping[str, Any]) -> tuple[int, int] | None:
    props = element.get("inputImageProperties")
    if not isinstance(props, dict):
        return None
    width, height = props.get("width"), props.get("height")
    if not isinstance(width, int | float) or not isinstance(height, int | float) or width <= 0 or height <= 0:
        return None
    return int(width), int(height)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AnswerError("an item's coordinates are not numbers")
    return float(value)


def _items(element: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    items = element.get(key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise AnswerError(f"{key} is not a list of objects")
    return items


class _Parsed:
    """One answer read: its labels (class indices), geometry and warnings."""

    def __init__(self, labels: list[int], geometry: npt.NDArray[np.generic], warnings: list[str]) -> None:
        self.labels, self.geometry, self.warnings = labels, geometry, warnings


class _Geometric(ItemsShape):
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

    def _parse(self, answer: Answer, labels: LabelSet) -> tuple[_Parsed, tuple[int, int]]:
        """Boxes and keypoints: coordinates ``fields`` per item, placed in ``inputImageProperties``."""
        size = _size(answer.element)
        if size is None:
            raise AnswerError(f"no inputImageProperties (width and height) to place the {self.plural} in")
        raw = _items(answer.element, self.key)
        coords = np.array([[_number(i.get(k)) for k in self.fields] for i in raw]).reshape(-1, len(self.fields))
        geometry, inside, outside = self._place(coords, *size)
        indices, warnings = known_labels(labels, [str(i.get("label")) for i in raw], "items")
        if not inside.all():
            warnings.append(f"{int((~inside).sum())} {outside} were left out")
        keep = inside & np.array([i is not None for i in indices], dtype=bool)
        classes = [i for i, ok in zip(indices, keep.tolist(), strict=True) if ok and i is not None]
        return _Parsed(classes, geometry[keep], warnings), size

    def observe(
        self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext
    ) -> Observed[ObjectItems, VoteTable | None]:
        labels = job.require_labels()
        issues: list[AnswerIssue] = []
        parsed: list[tuple[str, _Parsed, tuple[int, int]]] = []
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
        return self._observed(ObjectItems(items, width, height), issues)

    def _observed(self, whole: ObjectItems, issues: list[AnswerIssue]) -> Observed[ObjectItems, VoteTable | None]:
        """What the fit and the consolidation keep of an object: its items (a few numbers each)."""
        nbytes = sum(int(np.asarray(a.geometry).nbytes) for a in whole.answers)
        return Observed(whole, None, issues, nbytes=nbytes, answers_used=len(whole.answers))

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
        return self.algorithm().fit([items for _, items in summaries], prior)

    def statistics(self, model: ItemConsolidation[Any], job: JobContext) -> WorkerStatistics:
        return {w: v for w, v in model.worker_statistics_.items() if any(v)}

    def consolidate(
        self,
        obj: DatasetObject,
        observed: Observed[ObjectItems, VoteTable | None],
        model: ItemConsolidation[Any] | None,
        job: JobContext,
    ) -> ObjectResult:
        items = observed.summary
        if items is None:
            raise RuntimeError("geometric tasks keep every object's items")
        model = model or self.algorithm()
        result = self._predict(model, observed)
        confidence = self._confidence(items, result)
        quality = [
            {
                "workerId": a.worker,
                "precision": figure(model.precision_.get(a.worker)),
                "recall": figure(model.recall_.get(a.worker)),
                # the keep weight comes from the precision: without it, it is no figure of the worker's
                "weight": figure(model.worker_weights_.get(a.worker, 1.0) if a.worker in model.precision_ else None),
            }
            for a in items.answers
        ]
        image_size = [{"width": items.width, "height": items.height, "depth": 3}]
        label, metadata = self._shape(obj, items, result, job)
        label.update({"image_size": image_size, "confidence": confidence, "worker-quality": quality})
        metadata.update({"confidence": confidence, "worker-quality": quality})
        return consolidated(obj, self.type, observed, label, metadata, confidence, _BATCH_FIGURES)

    @staticmethod
    def _confidence(items: ObjectItems, result: Consolidated) -> float:
        if len(result.confidence):
            return round(float(result.confidence.mean()), DIGITS)
        empty = sum(1 for a in items.answers if not a.labels)
        return round(empty / len(items.answers), DIGITS)

    def _shape(
        self, obj: DatasetObject, items: ObjectItems, result: Consolidated, job: JobContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        raise NotImplementedError


def _instance_map(image: Image.Image, colours: Sequence[tuple[int, int, int]]) -> npt.NDArray[np.uint8]:
    """A decoded instance PNG → instance map: per palette entry for palette PNGs (what Ground Truth's
    tool writes), per pixel otherwise."""
    if image.mode == "P":
        palette = np.asarray(image.getpalette("RGB") or [], dtype=np.int64).reshape(-1, 3)
        alpha = np.full(len(palette), 255, dtype=np.int64)
        transparency = image.info.get("transparency")
        if isinstance(transparency, int) and transparency < len(alpha):
            alpha[transparency] = 0
        elif isinstance(transparency, bytes):
            t = np.frombuffer(transparency[: len(alpha)], dtype=np.uint8)
            alpha[: len(t)] = t
        indices = palette_indices(image)
        return np.asarray(instance_map_from_palette(indices, palette, colours, palette_alpha=alpha), dtype=np.uint8)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    return np.asarray(instance_map_from_colours(rgba[..., :3], colours, alpha=rgba[..., 3]), dtype=np.uint8)


def _ids(result: Consolidated) -> list[int]:
    """The kept items' class indices (what the answers were read into)."""
    return [int(str(c)) for c in result.labels]


class BoundingBoxes(BoxesShape, _Geometric):
    algorithm = BoxConsolidation

    plural = "boxes"
    fields = ("left", "top", "width", "height")

    def _place(
        self, coords: npt.NDArray[np.float64], width: int, height: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], str]:
        boxes, inside = boxes_from_ltwh(coords, width, height)  # clipped to the image
        placed = np.zeros((len(coords), 4))
        placed[inside] = boxes
        return placed, inside, "box(es) with no area inside the image"

    def _shape(
        self, obj: DatasetObject, items: ObjectItems, result: Consolidated, job: JobContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        names = job.require_labels().names
        ltwh = boxes_to_ltwh(result.geometry).tolist()
        annotations = [
            {"class_id": c, "left": b[0], "top": b[1], "width": b[2], "height": b[3]}
            for c, b in zip(_ids(result), ltwh, strict=True)
        ]
        objects = [{"confidence": round(float(c), DIGITS)} for c in result.confidence]
        class_map = {str(c): names[c] for c in sorted(set(_ids(result)))}
        label = {"annotations": annotations, "objects": objects, "class-map": class_map}
        return label, {"objects": objects, "class-map": class_map}


class Keypoints(KeypointsShape, _Geometric):
    algorithm = KeypointConsolidation

    plural = "keypoints"
    fields = ("x", "y")

    def _place(
        self, coords: npt.NDArray[np.float64], width: int, height: int
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_], str]:
        x, y = coords[:, 0], coords[:, 1]
        inside = (x >= 0) & (x <= width) & (y >= 0) & (y <= height)
        return coords, inside, "keypoint(s) outside the image"

    def _shape(
        self, obj: DatasetObject, items: ObjectItems, result: Consolidated, job: JobContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        names = job.require_labels().names
        points = [
            {
                "label": names[c],
                "x": round(float(p[0]), 2),
                "y": round(float(p[1]), 2),
                "confidence": round(float(conf), DIGITS),
            }
            for c, p, conf in zip(_ids(result), np.asarray(result.geometry), result.confidence, strict=True)
        ]
        return {"keypoints": points}, {"keypoints": len(points)}


class InstanceSegmentation(InstancesShape, _Geometric):
    algorithm = InstanceConsolidation

    def __init__(self) -> None:
        self._classes: ClassTable | None = None

    def prepare(self, job: JobContext) -> None:
        self._classes = ClassTable.build(job.require_labels())

    def _observed(self, whole: ObjectItems, issues: list[AnswerIssue]) -> Observed[ObjectItems, VoteTable | None]:
        """The fit reads the summary (labels and similarities, no maps), kept for the whole batch; the
        consolidation reads the summary and the maps' tuple table, tabulated once here."""
        model = InstanceConsolidation()
        table = model.instance_table(whole)
        nbytes = int(table.inverse.nbytes + table.votes.nbytes + table.counts.nbytes)
        return Observed(model.summary(whole, table), table, issues, nbytes=nbytes, answers_used=len(whole.answers))

    def _predict(
        self, model: ItemConsolidation[Any], observed: Observed[ObjectItems, VoteTable | None]
    ) -> Consolidated:
        assert observed.summary is not None and isinstance(model, InstanceConsolidation)
        return model.predict(observed.summary, observed.prepared)

    def _parse(self, answer: Answer, labels: LabelSet) -> tuple[_Parsed, tuple[int, int]]:
        raw = _items(answer.element, self.key)
        if len(raw) > MAX_INSTANCES:
            raise AnswerError(f"{len(raw)} instances; at most {MAX_INSTANCES} per answer")
        image_data = answer.element.get("labeledImage")
        png = image_data.get("pngImageData") if isinstance(image_data, dict) else None
        if not isinstance(png, str):
            raise AnswerError("labeledImage has no pngImageData")
        size = _size(answer.element)
        image = decode_png(png, expected_size=size)
        try:
            colours = [hex_to_rgb(str(i.get("color"))) for i in raw]
        except ValueError as exc:
            raise AnswerError("an instance colour is not a hex colour") from exc
        instance_map = _instance_map(image, colours)
        indices, warnings = known_labels(labels, [str(i.get("label")) for i in raw], "items")
        return self._keep_known(instance_map, indices, warnings), (image.width, image.height)

    @staticmethod
    def _keep_known(instance_map: npt.NDArray[np.integer], indices: list[int | None], warnings: list[str]) -> _Parsed:
        """Instances of unknown labels, and instances without a pixel, are left out; the rest renumbered."""
        present = np.bincount(np.asarray(instance_map).ravel(), minlength=len(indices) + 1)[1 : len(indices) + 1] > 0
        renumber = np.zeros(len(indices) + 1, dtype=np.uint8)
        classes: list[int] = []
        for k, (index, has_pixels) in enumerate(zip(indices, present.tolist(), strict=True)):
            if index is not None and has_pixels:
                classes.append(index)
                renumber[k + 1] = len(classes)
        return _Parsed(classes, renumber[instance_map], warnings)

    def _shape(
        self, obj: DatasetObject, items: ObjectItems, result: Consolidated, job: JobContext
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        classes = self._classes
        if classes is None:
            raise RuntimeError("prepare() was not called for this batch")
        instance_map = np.asarray(result.geometry)
        n = len(result.labels)
        colours = assign_colours([str(k) for k in range(n)], {})
        palette = [(255, 255, 255), *(hex_to_rgb(c) for c in colours)]
        instance_png = encode_palette_png(instance_map.astype(np.uint8), palette)
        lut = np.array([0, *(c + 1 for c in _ids(result))], dtype=np.uint8)
        class_png = encode_palette_png(lut[instance_map], classes.palette())
        name = artefact_name(obj.dataset_object_id, instance_png + class_png, "")
        instance_uri = join_uri(job.artefact_prefix, f"{name}-instances.png")
        class_uri = join_uri(job.artefact_prefix, f"{name}-classes.png")
        job.storage.write(instance_uri, instance_png, "image/png")
        job.storage.write(class_uri, class_png, "image/png")
        names = job.require_labels().names
        instances = [
            {
                "label": names[c],
                "color": colours[k],
                "confidence": round(float(result.confidence[k]), DIGITS),
                "workers": list(result.workers[k]),
            }
            for k, c in enumerate(_ids(result))
        ]
        color_map = {
            str(k): {"class-name": classes.name_of(k), "hex-color": classes.hex_of(k)} for k in range(classes.n_classes)
        }
        label = {
            "instance-mask-ref": instance_uri,
            "class-mask-ref": class_uri,
            "instances": instances,
            "internal-color-map": color_map,
        }
        return label, {"instances": len(instances), "internal-color-map": color_map}


class Polygons(PolygonsShape, InstanceSegmentation):
    def _parse(self, answer: Answer, labels: LabelSet) -> tuple[_Parsed, tuple[int, int]]:
        size = _size(answer.element)
        if size is None:
            raise AnswerError("no inputImageProperties (width and height) to draw the polygons in")
        raw = _items(answer.element, self.key)
        if len(raw) > MAX_INSTANCES:
            raise AnswerError(f"{len(raw)} polygons; at most {MAX_INSTANCES} per answer")
        polygons = []
        for polygon in raw:
            vertices = polygon.get("vertices")
            if not isinstance(vertices, list) or not all(isinstance(v, dict) for v in vertices):
                raise AnswerError("a polygon's vertices are not a list of {x, y}")
            polygons.append([(_number(v.get("x")), _number(v.get("y"))) for v in vertices])
        instance_map, kept = rasterise_polygons(polygons, *size)
        names = [str(raw[k].get("label")) for k in kept]
        indices, warnings = known_labels(labels, names, "items")
        if len(kept) < len(raw):
            warnings.append(
                f"{len(raw) - len(kept)} polygon(s) with fewer than three vertices or no area were left out"
            )
        return self._keep_known(instance_map, indices, warnings), size
