"""Label Studio's JSON export (``Export → JSON``) as :class:`~.model.ImportedItem` objects.

Each task is one data object (``datasetObjectId`` = the task ``id``); each of its ``annotations``
is one annotator's answer (worker = ``completed_by``: the user's email when the export has it, else
their id; an annotation without one counts as its own worker, ``annotation <id>``). A cancelled
(skipped) annotation is left out with a note; an annotation marked ``ground_truth`` is gold
(:data:`~.model.GOLD_NOTE`). An annotator's answer is one annotation (:func:`_one_per_worker`: their first
marked ground truth, else their first); their others of the task are left out with a note (the core
keeps one answer per worker, gold is marked per worker, and a form's fields never mix two annotations). The results of one control tag
(``from_name``) are one field, converted to what the Ground Truth crowd element for the same question
submits:

===================  ==============================================================================
``choices``          ``{"label": c}``; ``{"labels": [...]}`` when any answer to the field has another
                     number of choices than one (``choice="multiple"``)
``taxonomy``         the same, each selected path joined with ``" / "``
``labels``           ``{"entities": [{"label", "startOffset", "endOffset"}]}`` (character offsets; a
                     span whose offsets are not integers, as in audio, makes the answer unreadable)
``rectanglelabels``  ``{"boundingBoxes": [{"label", "left", "top", "width", "height"}], "inputImageProperties"}``,
                     percent coordinates times ``original_width``/``original_height``; a rotated box
                     makes the answer unreadable (tally's boxes are axis-aligned), as does, for every
                     image region, an image rotated in the editor (``image_rotation`` not 0)
``polygonlabels``    ``{"polygons": [{"label", "vertices": [{"x", "y"}]}], "inputImageProperties"}``
``keypointlabels``   ``{"keypoints": [{"label", "x", "y"}], "inputImageProperties"}``
``vectorlabels``     ``{"polylines": [{"label", "vertices"}], "inputImageProperties"}`` (``crowd-polyline``'s
                     answer) for a field of open paths, ``{"polygons": ...}`` for one of closed paths
                     (``value.closed``): the field is what most of its paths in the export are, a path of
                     the other sort makes its answer unreadable; the vertices in the order of their
                     ``prevPointId`` links (:func:`_vector_path`: a Bézier vertex, a branching path,
                     vertices not one path or a ring not closed make the answer unreadable)
``brushlabels``      ``{"labeledImage": {"classRuns"}, "labelMappings", "inputImageProperties"}``:
                     each region's RLE decoded (:func:`~.rle.brush_mask`) and painted in order into
                     one class array, a colour per label, handed on decoded (no PNG:
                     :func:`tally.codecs.class_runs`); one region's runs are the class
                     runs themselves (:func:`~.rle.brush_class_runs`: no mask made)
``number``,          the number (``value.number`` / ``value.rating``): a form's number field, with
``rating``           the labeling config's bounds when given (``--template``: :func:`read_config`)
``textarea``         the text (several entries: one per line): a form's text field
===================  ==============================================================================

Several control tags of a kind tally consolidates are a form (``tally consolidate --from labelstudio``
without ``--element-name``), consolidated field by field by the core's form driver.

An annotator of the task who gave no result for a region field (boxes, spans, brush...) answered
"nothing to mark there"; one who gave none for a choice field did not answer it. A choice, number or
rating attached to a region (per-region ``perRegion`` fields, the field ``<name> (per region)``) is
voted per consolidated box, keypoint or polygon (:func:`~.attributes.vote_regions`); free text per
region, and every other control tag (``relation``, ``ellipselabels``, ``ranker``, ...), is kept as given
with its reason.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..codecs import class_runs
from ..colours import assign_colours
from ..forms import Field, FieldKind
from .model import CONSOLIDATED_KINDS, FieldAnswer, ImportedItem
from .rle import RleError, brush_class_runs, brush_mask

__all__ = ["ExportError", "read_config", "read_export", "worker_of"]

_REGION_KINDS = {
    "rectanglelabels": "boxes",
    "polygonlabels": "polygons",
    "keypointlabels": "keypoints",
    "brushlabels": "semantic",
    "labels": "entities",
    "vectorlabels": "polylines",  # "polygons" for a field of closed paths (read_export)
}
_VALUE_KINDS = {"choices": "classification", "taxonomy": "classification", "number": "number", "rating": "number"}
_VALUE_KINDS["textarea"] = "text"
_IMAGE_KINDS = frozenset({"rectanglelabels", "polygonlabels", "keypointlabels", "brushlabels", "vectorlabels"})
_REGION_KEYS = ("x", "y", "points", "start", "end", "vertices")
_URL_PREFIXES = ("http://", "https://", "s3://", "gs://", "azure-blob://", "/")
_MAX_CLASSES = 254


class ExportError(ValueError):
    """The file is not a Label Studio JSON export."""


def worker_of(annotation: Mapping[str, Any]) -> str:
    """The annotator: ``completed_by``'s email, else its id, else ``annotation <id>``."""
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        email = who.get("email")
        if isinstance(email, str) and email:
            return email
        who = who.get("id")
    if isinstance(who, str | int) and not isinstance(who, bool) and str(who) != "":
        return str(who)
    return f"annotation {annotation.get('id', '?')}"


def _data_object(task: Mapping[str, Any], to_name: str | None) -> dict[str, str]:
    data = task.get("data")
    if not isinstance(data, dict):
        return {}
    value = data.get(to_name) if to_name is not None else None
    if not isinstance(value, str):
        value = next((v for k in ("image", "text") if isinstance(v := data.get(k), str)), None)
    if not isinstance(value, str):
        value = next((v for v in data.values() if isinstance(v, str)), None)
    if value is None:
        return {}
    return {"s3Uri": value} if value.startswith(_URL_PREFIXES) else {"content": value}


def _size(results: Sequence[Mapping[str, Any]]) -> tuple[int, int] | None:
    sizes: set[tuple[int, int]] = set()
    for r in results:
        width, height = r.get("original_width"), r.get("original_height")
        if isinstance(width, int) and isinstance(height, int):
            sizes.add((width, height))
    if len(sizes) > 1:
        raise _Unreadable("its regions give different image sizes")
    if not sizes:
        return None
    width, height = sizes.pop()
    if width <= 0 or height <= 0:
        raise _Unreadable(f"original size {width}x{height}")
    return width, height


class _Unreadable(Exception):
    """One answer cannot be converted; the message is the reason."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise _Unreadable(f"{what} is not a number")
    return value if isinstance(value, int) and abs(value) < 2**53 else float(value)


def _one_label(value: Mapping[str, Any], key: str) -> str:
    labels = value.get(key)
    if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
        raise _Unreadable(f"a region has {len(labels) if isinstance(labels, list) else 'no'} labels, not one")
    return labels[0]


def _vector_path(vertices: Any, closed: bool) -> list[tuple[float, float]]:
    """A ``vectorlabels`` path's vertices (percent) in drawing order, as Label Studio's editor links them
    (``KonvaVector``'s ``normalizePoints``): each vertex follows the one its ``prevPointId`` names, or,
    without one, the vertex before it in the list (the first then starts the path); an ``[x, y]`` pair
    is a vertex without an id. A path is read from its first vertex along the links; a closed one may
    be a ring (the first vertex's ``prevPointId`` names the last). :class:`_Unreadable` for a Bézier
    vertex (tally's lines and polygons are straight segments), a branching path (skeleton mode),
    vertices that are not one path, or a ring not marked closed."""
    if not isinstance(vertices, list):
        raise _Unreadable("a path has no vertices list")
    if not vertices:
        raise _Unreadable("a path has no vertices")
    points: list[tuple[float, float]] = []
    index: dict[str | int, int] = {}  # a vertex's id: its place in the list
    named: list[Any] = []  # each vertex's prevPointId (None: none given)
    for i, v in enumerate(vertices):
        if isinstance(v, list) and len(v) == 2:
            v = {"x": v[0], "y": v[1]}
        if not isinstance(v, dict):
            raise _Unreadable("a vertex is neither an object nor an [x, y] pair")
        if v.get("isBezier"):
            raise _Unreadable("a path has a Bézier vertex (isBezier): tally's lines and polygons are straight segments")
        points.append((_number(v.get("x"), "a vertex's x"), _number(v.get("y"), "a vertex's y")))
        own = v.get("id")
        if isinstance(own, str | int) and not isinstance(own, bool) and own != "":
            if own in index:
                raise _Unreadable("two vertices of a path share an id")
            index[own] = i
        named.append(v.get("prevPointId") or None)
    prevs: list[int | None] = []
    for i, prev in enumerate(named):
        if prev is None:  # none given: the vertex before it in the list
            prevs.append(i - 1 if i > 0 else None)
        elif isinstance(prev, str | int) and not isinstance(prev, bool) and prev in index:
            prevs.append(index[prev])
        else:
            raise _Unreadable("a vertex's prevPointId names no vertex of its path")
    following: dict[int, int] = {}
    for i, prev in enumerate(prevs):
        if prev is not None:
            if prev in following:
                raise _Unreadable("a path branches (a vertex with two next vertices, as skeleton mode draws)")
            following[prev] = i
    ring = prevs[0] is not None  # only the first vertex can have none
    if ring and not closed:
        raise _Unreadable("a path's vertices link in a ring, but it is not closed")
    order = [0]
    while (nxt := following.get(order[-1])) is not None and nxt != order[0] and len(order) <= len(points):
        order.append(nxt)
    if len(order) != len(points):
        raise _Unreadable("a path's vertices are not one path (some link in a loop of their own)")
    return [points[i] for i in order]


class _Converter:
    """Converts one export; keeps the per-field colours of brush labels (first seen, first coloured)."""

    def __init__(self, closed_fields: frozenset[str] = frozenset()) -> None:
        self.brush_labels: dict[str, list[str]] = {}
        self.multi: dict[str, bool] = {}
        self.closed_fields = closed_fields  # the vectorlabels fields of closed paths (polygons)

    def element(
        self, kind_type: str, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None
    ) -> Any:
        if any(not isinstance(r.get("value"), Mapping) for r in results):
            raise _Unreadable("a region's value is not an object")
        if kind_type in _IMAGE_KINDS:
            turned = [r.get("image_rotation") for r in results if r.get("image_rotation") not in (None, 0)]
            if turned:
                raise _Unreadable(
                    f"the image was rotated in the editor (image_rotation {turned[0]}): Label Studio does not "
                    "document that its coordinates are then the original image's"
                )
        convert = getattr(self, f"_{kind_type}")
        return convert(name, results, size)

    @staticmethod
    def _props(size: tuple[int, int] | None) -> dict[str, int]:
        if size is None:
            raise _Unreadable("no original_width/original_height to convert percent coordinates")
        return {"width": size[0], "height": size[1]}

    def _rectanglelabels(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        props = self._props(size)
        boxes = []
        rotated = 0
        for r in results:
            v = r.get("value", {})
            if _number(v.get("rotation", 0), "rotation") != 0:
                rotated += 1
                continue
            w, h = props["width"], props["height"]
            boxes.append(
                {
                    "label": _one_label(v, "rectanglelabels"),
                    "left": _number(v.get("x"), "x") * w / 100,
                    "top": _number(v.get("y"), "y") * h / 100,
                    "width": _number(v.get("width"), "width") * w / 100,
                    "height": _number(v.get("height"), "height") * h / 100,
                }
            )
        if rotated:
            raise _Unreadable(f"{rotated} of its {len(results)} boxes are rotated; tally's boxes are axis-aligned")
        return {"boundingBoxes": boxes, "inputImageProperties": props}

    def _polygonlabels(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        props = self._props(size)
        polygons = []
        for r in results:
            v = r.get("value", {})
            points = v.get("points")
            if not isinstance(points, list) or not all(isinstance(p, list) and len(p) == 2 for p in points):
                raise _Unreadable("a polygon's points are not [x, y] pairs")
            vertices = [
                {
                    "x": _number(x, "a vertex") * props["width"] / 100,
                    "y": _number(y, "a vertex") * props["height"] / 100,
                }
                for x, y in points
            ]
            polygons.append({"label": _one_label(v, "polygonlabels"), "vertices": vertices})
        return {"polygons": polygons, "inputImageProperties": props}

    def _vectorlabels(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        props = self._props(size)
        closed_field = name in self.closed_fields
        shapes = []
        odd = 0
        for r in results:
            v = r.get("value", {})
            closed = v.get("closed", False)
            if not isinstance(closed, bool):
                raise _Unreadable("a path's closed is not true or false")
            if closed != closed_field:
                odd += 1
                continue
            vertices = [
                {"x": x * props["width"] / 100, "y": y * props["height"] / 100}
                for x, y in _vector_path(v.get("vertices"), closed)
            ]
            shapes.append({"label": _one_label(v, "vectorlabels"), "vertices": vertices})
        if odd:
            this, other = ("open", "closed") if closed_field else ("closed", "open")
            raise _Unreadable(
                f"{odd} of its {len(results)} paths {'is' if odd == 1 else 'are'} {this} in a field of {other} paths "
                "(most of the field's "
                f"paths in the export are {other}: it is consolidated as {'polygons' if closed_field else 'polylines'})"
            )
        return {"polygons" if closed_field else "polylines": shapes, "inputImageProperties": props}

    def _keypointlabels(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        props = self._props(size)
        points = []
        for r in results:
            v = r.get("value", {})
            points.append(
                {
                    "label": _one_label(v, "keypointlabels"),
                    "x": _number(v.get("x"), "x") * props["width"] / 100,
                    "y": _number(v.get("y"), "y") * props["height"] / 100,
                }
            )
        return {"keypoints": points, "inputImageProperties": props}

    def _labels(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        entities: list[dict[str, Any]] = []
        for r in results:
            v = r.get("value", {})
            start, end = v.get("start"), v.get("end")
            offsets = v.get("globalOffsets")
            if not isinstance(start, int) and isinstance(offsets, dict):
                start, end = offsets.get("start"), offsets.get("end")
            if (
                isinstance(start, bool)
                or isinstance(end, bool)
                or not isinstance(start, int)
                or not isinstance(end, int)
            ):
                raise _Unreadable("a span's start/end are not character offsets")
            labels = v.get("labels")
            if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
                raise _Unreadable("a span has no labels")
            entities.extend({"label": label, "startOffset": start, "endOffset": end} for label in labels)
        return {"entities": entities}

    def _brushlabels(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        props = self._props(size)
        width, height = props["width"], props["height"]
        known = self.brush_labels.setdefault(name, [])
        if len(results) == 1:  # one region (the usual answer): its runs are the class runs, no mask made
            return self._one_brush(results[0], known, width, height, props)
        classes = np.zeros((height, width), dtype=np.uint8)
        used: list[str] = []
        for r in results:
            label, rle = self._brush_rle(r)
            try:
                mask = brush_mask(rle, width, height)
            except RleError as exc:
                raise _Unreadable(f"a brush region's RLE: {exc}") from exc
            if label not in known:
                known.append(label)
            if label not in used:
                used.append(label)
            if len(used) > _MAX_CLASSES:
                raise _Unreadable(f"more than {_MAX_CLASSES} brush labels")
            classes[mask] = used.index(label) + 1
        colours = assign_colours(known, {})
        return {
            "labeledImage": {"classRuns": class_runs(classes)},  # decoded: no PNG to write or read
            "labelMappings": {label: {"color": colours[known.index(label)]} for label in used},
            "inputImageProperties": props,
        }

    @staticmethod
    def _brush_rle(r: Mapping[str, Any]) -> tuple[str, Any]:
        """A brush region's label and its RLE (:class:`_Unreadable` for a region in another format)."""
        v = r.get("value", {})
        label = _one_label(v, "brushlabels")
        if v.get("format", "rle") != "rle" or "rle" not in v:
            raise _Unreadable(f"a brush region in format {v.get('format')!r}, not rle")
        return label, v["rle"]

    @staticmethod
    def _one_brush(
        r: Mapping[str, Any], known: list[str], width: int, height: int, props: Mapping[str, Any]
    ) -> dict[str, Any]:
        """An answer of one brush region: its class runs straight from the region's runs (the same
        ``classRuns`` as painting its mask into a class array: every run as long as it goes)."""
        label, rle = _Converter._brush_rle(r)
        try:
            runs = brush_class_runs(rle, width, height)
        except RleError as exc:
            raise _Unreadable(f"a brush region's RLE: {exc}") from exc
        if label not in known:
            known.append(label)
        colours = assign_colours(known, {})
        return {
            "labeledImage": {"classRuns": runs},  # decoded: no PNG to write or read
            "labelMappings": {label: {"color": colours[known.index(label)]}},
            "inputImageProperties": props,
        }

    def _choice(self, name: str, results: Sequence[Mapping[str, Any]], key: str) -> list[str]:
        chosen: list[str] = []
        for r in results:
            values = r.get("value", {}).get(key)
            if not isinstance(values, list):
                raise _Unreadable(f"{key} is not a list")
            for value in values:
                if key == "taxonomy":
                    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
                        raise _Unreadable("a taxonomy selection is not a path of names")
                    chosen.append(" / ".join(value))
                elif isinstance(value, str):
                    chosen.append(value)
                else:
                    raise _Unreadable("a choice is not a name")
        return chosen

    def _choices(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        return self._choice(name, results, "choices")

    def _taxonomy(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        return self._choice(name, results, "taxonomy")

    @staticmethod
    def _one(results: Sequence[Mapping[str, Any]], key: str) -> Any:
        if len(results) != 1:
            raise _Unreadable(f"{len(results)} results to one {key} control")
        return results[0].get("value", {}).get(key)

    def _number(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        return _number(self._one(results, "number"), "the number")

    def _rating(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        return _number(self._one(results, "rating"), "the rating")

    def _textarea(self, name: str, results: Sequence[Mapping[str, Any]], size: tuple[int, int] | None) -> Any:
        texts = self._one(results, "text")
        if isinstance(texts, str):
            return texts
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise _Unreadable("its text is not a list of strings")
        return "\n".join(texts)  # a TextArea with several entries: one per line


def _given(results: Sequence[Mapping[str, Any]]) -> Any:
    """A field's results as given, without the fields every result repeats."""
    values = [r.get("value") for r in results]
    return values[0] if len(values) == 1 else values


def _tasks(document: Any) -> list[Mapping[str, Any]]:
    if isinstance(document, dict) and "annotations" in document:
        document = [document]
    if not isinstance(document, list) or not all(isinstance(t, dict) for t in document):
        raise ExportError("not a Label Studio JSON export (a list of tasks)")
    if document and not any("annotations" in t or "completions" in t for t in document):
        raise ExportError("its tasks have no annotations list: export from Label Studio as JSON (not JSON-MIN or CSV)")
    return document


def _one_per_worker(annotations: Sequence[Any]) -> dict[str, int]:
    """Which of a task's live annotations is each annotator's answer (by index): their first one marked
    ground truth, else their first one. A worker gives one answer an object (the core keeps a worker's
    first and refuses the rest; a form's fields would otherwise mix two annotations)."""
    kept: dict[str, int] = {}
    for origin, annotation in enumerate(annotations):
        if isinstance(annotation, dict) and not annotation.get("was_cancelled"):
            worker = worker_of(annotation)
            first = kept.get(worker)
            if first is None or (annotation.get("ground_truth") and not annotations[first].get("ground_truth")):
                kept[worker] = origin
    return kept


def read_export(document: Any) -> list[ImportedItem]:
    """Every task of a parsed Label Studio JSON export (see the module docstring)."""
    items: list[ImportedItem] = []
    paths: dict[str, list[int]] = {}  # per vectorlabels field: its closed and open paths in the export
    pending: list[tuple[ImportedItem, str, str, str, int, list[Mapping[str, Any]], tuple[int, int] | None]] = []
    for index, task in enumerate(_tasks(document)):
        task_id = task.get("id", index)
        annotations = task.get("annotations", task.get("completions", []))
        annotations = annotations if isinstance(annotations, list) else []
        all_results = [
            r for a in annotations if isinstance(a, dict) for r in (a.get("result") or []) if isinstance(r, dict)
        ]
        to_name = next((r.get("to_name") for r in all_results if isinstance(r.get("to_name"), str)), None)
        item = ImportedItem(str(task_id), _data_object(task, to_name), source={"task": task})
        try:
            task_size = _size(all_results)
        except _Unreadable:
            task_size = None
        by_worker: list[tuple[str, int, dict[str, list[Mapping[str, Any]]]]] = []  # with the annotation's index
        field_types: dict[str, str] = {}
        kept = _one_per_worker(annotations)
        for origin, annotation in enumerate(annotations):
            if not isinstance(annotation, dict):
                continue
            worker = worker_of(annotation)
            if annotation.get("was_cancelled"):
                item.notes.append(f"annotation by {worker} was cancelled (skipped) in Label Studio: left out")
                continue
            if kept[worker] != origin:  # one answer a worker: gold is marked per worker, fields never mixed
                gold = annotations[kept[worker]].get("ground_truth")
                item.notes.append(
                    f"annotation by {worker} left out: "
                    + ("their annotation marked ground truth is the gold one" if gold else "their first one is used")
                )
                continue
            if annotation.get("ground_truth") and worker not in item.gold:
                item.gold.append(worker)
            groups: dict[str, list[Mapping[str, Any]]] = {}
            for r in annotation.get("result") or []:
                if not isinstance(r, dict):
                    continue
                rtype = str(r.get("type", "unknown"))
                name = str(r.get("from_name") or rtype)
                value = r.get("value")
                if rtype in _VALUE_KINDS and isinstance(value, dict) and any(k in value for k in _REGION_KEYS):
                    name, rtype = f"{name} (per region)", "per-region"
                groups.setdefault(name, []).append(r)
                if rtype == "vectorlabels" and isinstance(value, dict):
                    paths.setdefault(name, [0, 0])[value.get("closed") is not True] += 1
                field_types.setdefault(name, rtype)
                fields = item.source.setdefault("fields", {})
                fields.setdefault(name, {"from_name": r.get("from_name"), "to_name": r.get("to_name"), "type": rtype})
            by_worker.append((worker, origin, groups))
        for name, rtype in field_types.items():
            for worker, origin, groups in by_worker:
                results = groups.get(name, [])
                if not results and rtype not in _REGION_KINDS:
                    continue  # no answer to a question (a choice, a number) is not an answer
                pending.append((item, name, rtype, worker, origin, results, task_size))
        items.append(item)
    closed_fields = frozenset(name for name, (closed, open_) in paths.items() if closed > open_)
    converter = _Converter(closed_fields)
    for item, name, rtype, worker, origin, results, task_size in pending:
        kind = _REGION_KINDS.get(rtype) or _VALUE_KINDS.get(rtype) or ("per-region" if rtype == "per-region" else rtype)
        if rtype == "vectorlabels" and name in closed_fields:
            kind = "polygons"
        given = _given(results) if results else []
        if kind not in CONSOLIDATED_KINDS:
            item.add(name, kind, FieldAnswer(worker, given=given, origin=origin))
            continue
        try:
            size = _size(results) or task_size
            element = converter.element(rtype, name, results, size)
        except _Unreadable as exc:
            item.add(
                name, kind, FieldAnswer(worker, given=given, reason=f"{rtype} answer unreadable: {exc}", origin=origin)
            )
            continue
        item.add(name, kind, FieldAnswer(worker, element=element, given=given, origin=origin))
    _settle_choices(items)
    return items


def _settle_choices(items: Sequence[ImportedItem]) -> None:
    """A choice field is multi-label when any answer to it has another number of choices than one."""
    multi = {
        name
        for item in items
        for name, answers in item.fields.items()
        if item.kinds[name] == "classification" and any(a.readable and len(a.element) != 1 for a in answers)
    }
    for item in items:
        for name, answers in item.fields.items():
            if item.kinds[name] != "classification":
                continue
            if name in multi:
                item.kinds[name] = "multi-label"
            for answer in answers:
                if answer.readable:
                    answer.element = {"labels": answer.element} if name in multi else {"label": answer.element[0]}


# -- the labeling config: the form's fields, their options and bounds --------------------------------------

_CONTROL_TASKS = {
    "rectanglelabels": "bounding-box",
    "polygonlabels": "polygon",
    "keypointlabels": "keypoint",
    "brushlabels": "semantic-segmentation",
    "labels": "named-entity",
}


def _float_attr(tag: ET.Element, name: str) -> float | None:
    text = tag.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def read_config(text: str) -> dict[str, Field]:
    """The control tags of a Label Studio labeling config (``<View>`` XML), as form fields by ``name``:
    ``Choices`` single- or multi-choice (``choice="multiple"``) with its ``Choice`` values, ``Taxonomy``
    the same with its options left to the data, ``Number`` a number with ``min``/``max``/``step``,
    ``Rating`` a number from 1 to ``maxRating`` (5 unless given) in steps of 1, ``TextArea`` text, and
    the region tags (``RectangleLabels``, ..., ``VectorLabels``: polygons when ``closable="true"``, else
    polylines) annotations with their ``Label`` values. Other tags are
    left out (their answers are kept as given). :class:`ExportError` when it is not XML."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ExportError(f"the labeling config is not XML ({exc})") from exc
    fields: dict[str, Field] = {}
    for tag in root.iter():
        kind_type, name = tag.tag.lower(), tag.get("name")
        if not name or tag.get("perRegion", "").lower() == "true":
            continue
        values = tuple(v for c in tag if (v := c.get("value")) is not None)
        element = f"Label Studio {tag.tag}"
        if kind_type == "choices":
            multi = tag.get("choice", "single").lower() == "multiple"
            kind: FieldKind = "multi-choice" if multi else "single-choice"
            task = "multi-label classification" if multi else "classification"
            fields[name] = Field(name, kind, element, values, task=task)
        elif kind_type == "taxonomy":
            fields[name] = Field(name, "multi-choice", element, (), options_from_data=True,
                                 task="multi-label classification")  # fmt: skip
        elif kind_type == "number":
            fields[name] = Field(name, "number", element, minimum=_float_attr(tag, "min"),
                                 maximum=_float_attr(tag, "max"), step=_float_attr(tag, "step"))  # fmt: skip
        elif kind_type == "rating":
            top = _float_attr(tag, "maxRating")
            fields[name] = Field(name, "number", element, minimum=1, maximum=5 if top is None else top, step=1)
        elif kind_type == "textarea":
            fields[name] = Field(name, "text", element)
        elif kind_type in _CONTROL_TASKS:
            fields[name] = Field(name, "annotation", element, values, task=_CONTROL_TASKS[kind_type])
        elif kind_type == "vectorlabels":  # closable: polygons, else polylines; a form takes what most paths are
            task = "polygon" if tag.get("closable", "").lower() == "true" else "polyline"
            fields[name] = Field(name, "annotation", element, values, task=task)
    return fields
