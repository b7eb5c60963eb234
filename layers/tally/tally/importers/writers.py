"""Consolidated labels back into each tool's own import format.

* :func:`labelstudio_predictions`: the export's tasks, each with its annotators' annotations as they
  were and tally's result as a **prediction** (``model_version`` ``tally-<version>``, ``score`` = the
  object's confidence, each region's ``score`` its own), so that importing the file into a project
  with the same labeling config shows tally's consolidation next to every annotator's (consolidated
  polylines as open ``vectorlabels`` paths).
* :func:`cvat_xml`: a "CVAT for images 1.1" file for a new job: one ``<image>`` per object with the
  consolidated shapes (``source="auto"``), each with the attributes voted for it (``shape-attributes``:
  ``occluded`` on the shape, the others as ``<attribute>`` children; a tie is not written). An instance
  label's instances are ``<mask>`` shapes, or ``<polygon>`` shapes where the annotators drew polygons.

**Polygons go back as polygons.** A polygon field (Label Studio ``polygonlabels`` and closed
``vectorlabels`` paths, CVAT ``<polygon>``, COCO polygon segmentations) is consolidated as instances; each
instance's pixels are traced into one polygon per 4-connected part (:mod:`.outline`: through the centres
of its boundary pixels, so that importing the file again gives the same pixels) and written as the tool
drew it: ``polygonlabels`` regions, closed ``vectorlabels`` paths, ``<polygon>`` shapes. The tools' polygons
have no holes: an instance with a hole is written in Label Studio as its outline with the hole filled
(the task's ``meta.tally.notes`` say which region and how many pixels), and in CVAT as a ``<mask>``
(exact; CVAT shows a mask in any job).

Both read tally's label dicts as the core returns them today (a typed result will replace them);
each label kind is converted by one small function, ``_ls_<kind>`` or ``_cvat_<kind>``. Masks are read
back through ``read`` (the artefact URIs of the labels). Objects that failed or were passed through get
no prediction / no shape, and say why (Label Studio: in the task's ``meta.tally``).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from .. import __version__
from ..codecs import expand_runs, run_starts
from .model import Batch, ImportedItem
from .outline import MAX_RUNS
from .outline import polygons as trace_polygons
from .rle import encode_cvat_mask, mask_runs_to_brush_rle, mask_to_brush_rle

__all__ = [
    "MODEL_VERSION",
    "Brushes",
    "CvatMasks",
    "MaskRuns",
    "cvat_xml",
    "labelstudio_predictions",
    "semantic_brushes",
    "semantic_cvat_masks",
]

MODEL_VERSION = f"tally-{__version__}"
Reader = Callable[[str], bytes]


def _indices(read: Reader, uri: str) -> npt.NDArray[np.uint8]:
    with Image.open(io.BytesIO(read(uri))) as image:
        return np.asarray(image, dtype=np.uint8)


def _size(label: Mapping[str, Any]) -> tuple[int, int] | None:
    sizes = label.get("image_size")
    if isinstance(sizes, list) and sizes and isinstance(sizes[0], dict):
        return int(sizes[0]["width"]), int(sizes[0]["height"])
    return None


def _kind(label: Mapping[str, Any]) -> str | None:
    if "scale" in label and "interval" in label:  # tally/number's shape
        return "number"
    if "method" in label and isinstance(label.get("text"), str):  # tally/free-text's shape
        return "text"
    if "class-name" in label:
        return "classification"
    if "class-names" in label:
        return "multi-label"
    if "mask-ref" in label:
        return "semantic"
    if "instance-mask-ref" in label:
        return "instances"
    if "keypoints" in label:
        return "keypoints"
    if "polylines" in label:
        return "polylines"
    annotations = label.get("annotations")
    if isinstance(annotations, dict) and "entities" in annotations:
        return "entities"
    if isinstance(annotations, list):
        return "boxes"
    return None


def _regions(
    label: Mapping[str, Any], read: Reader
) -> list[tuple[str, npt.NDArray[np.bool_], float | None, int | None]]:
    """(label, mask, confidence, index) per class of a semantic mask (index ``None``), or per instance of
    an instance mask (its index in ``instances``; an instance without a pixel is left out)."""
    out: list[tuple[str, npt.NDArray[np.bool_], float | None, int | None]] = []
    if "mask-ref" in label:
        return _class_regions(label, _indices(read, label["mask-ref"]))
    instances = _indices(read, label["instance-mask-ref"])
    for k, instance in enumerate(label.get("instances", []), start=1):
        mask = instances == k
        if mask.any():
            out.append((str(instance["label"]), mask, instance.get("confidence"), k - 1))
    return out


def _class_regions(
    label: Mapping[str, Any], classes: npt.NDArray[np.uint8]
) -> list[tuple[str, npt.NDArray[np.bool_], float | None, int | None]]:
    """(label, mask, confidence, ``None``) per class of a semantic mask label whose class array is
    ``classes`` (a class without a pixel is left out)."""
    out: list[tuple[str, npt.NDArray[np.bool_], float | None, int | None]] = []
    for key, info in sorted(label.get("internal-color-map", {}).items(), key=lambda kv: int(kv[0])):
        if int(key) == 0:  # the background: no region (not compared pixel by pixel for nothing)
            continue
        mask = classes == int(key)
        if not mask.any():
            continue
        out.append((str(info["class-name"]), mask, info.get("confidence"), None))
    return out


# -- Label Studio ------------------------------------------------------------------------------------


def _percent(value: float, whole: int) -> float:
    return round(100.0 * value / whole, 6)


def _ls_classification(label: Mapping[str, Any], rtype: str) -> list[dict[str, Any]]:
    names = [label["class-name"]] if "class-name" in label else list(label["class-names"])
    if rtype == "taxonomy":
        return [{"value": {"taxonomy": [name.split(" / ") for name in names]}}]
    return [{"value": {"choices": names}}]


def _ls_entities(label: Mapping[str, Any], text: str | None) -> list[dict[str, Any]]:
    regions = []
    for e in label["annotations"]["entities"]:
        value: dict[str, Any] = {"start": e["startOffset"], "end": e["endOffset"], "labels": [e["label"]]}
        if text is not None:
            value["text"] = text[e["startOffset"] : e["endOffset"]]
        regions.append({"value": value, "score": e.get("confidence")})
    return regions


def _ls_boxes(label: Mapping[str, Any], size: tuple[int, int]) -> list[dict[str, Any]]:
    width, height = size
    names = label.get("class-map", {})
    objects = label.get("objects", [])
    regions = []
    for i, box in enumerate(label["annotations"]):
        value = {
            "x": _percent(box["left"], width),
            "y": _percent(box["top"], height),
            "width": _percent(box["width"], width),
            "height": _percent(box["height"], height),
            "rotation": 0,
            "rectanglelabels": [names.get(str(box["class_id"]), str(box["class_id"]))],
        }
        score = objects[i].get("confidence") if i < len(objects) else None
        regions.append({"value": value, "score": score})
    return regions


def _ls_keypoints(label: Mapping[str, Any], size: tuple[int, int]) -> list[dict[str, Any]]:
    width, height = size
    return [
        {
            "value": {"x": _percent(p["x"], width), "y": _percent(p["y"], height), "keypointlabels": [p["label"]]},
            "score": p.get("confidence"),
        }
        for p in label["keypoints"]
    ]


def _vector_vertices(i: int, at: Sequence[tuple[float, float]]) -> list[dict[str, Any]]:
    """Region ``i``'s vertices as a ``vectorlabels`` path: each linked to the one before by
    ``prevPointId`` (the first to none), straight (``isBezier`` false)."""
    return [
        {"id": f"tally-{i}-{k}", "x": x, "y": y, "prevPointId": f"tally-{i}-{k - 1}" if k else None, "isBezier": False}
        for k, (x, y) in enumerate(at)
    ]


def _ls_polylines(label: Mapping[str, Any], size: tuple[int, int]) -> list[dict[str, Any]]:
    """Each consolidated line as an open ``vectorlabels`` path: its vertices in order, each linked to the
    one before by ``prevPointId`` (the first to none), straight (``isBezier`` false), in percent."""
    width, height = size
    regions = []
    for i, line in enumerate(label["polylines"]):
        at = [(_percent(v["x"], width), _percent(v["y"], height)) for v in line["vertices"]]
        value = {"vertices": _vector_vertices(i, at), "closed": False, "vectorlabels": [line["label"]]}
        regions.append({"value": value, "score": line.get("confidence")})
    return regions


def _ls_outlines(
    found: Sequence[tuple[str, npt.NDArray[np.bool_], float | None, int | None]],
    rtype: str,
    notes: list[str],
    ids: str = "tally-",
) -> list[dict[str, Any]]:
    """Each instance as ``polygonlabels`` regions or closed ``vectorlabels`` paths (``rtype``), one per
    part of it (module docstring), in percent, its confidence as each region's ``score``; a filled hole
    is said in ``notes``, which name the regions by the ids :func:`_ls_item` gives them (``ids`` and
    their index)."""
    regions: list[dict[str, Any]] = []
    for name, mask, score, k in found:
        height, width = mask.shape
        traced = trace_polygons(mask)
        first = len(regions)
        if traced.ragged:  # too fragmented to trace: the exact mask, said
            regions.append({**_brush_region(name, mask_to_brush_rle(mask), score, k), "rtype": "brushlabels"})
            notes.append(
                f"{ids}{first} ({name}, instance {(k or 0) + 1}): written as a brush mask, its outline too "
                f"ragged to trace ({traced.ragged} runs of edges, over {MAX_RUNS})"
            )
            continue
        for points in traced.polygons:
            at = [(_percent(x + 0.5, width), _percent(y + 0.5, height)) for x, y in points]  # pixel centres
            if rtype == "vectorlabels":
                vertices = _vector_vertices(len(regions), at)
                value: dict[str, Any] = {"vertices": vertices, "closed": True, "vectorlabels": [name]}
            else:
                value = {"points": [[x, y] for x, y in at], "closed": True, "polygonlabels": [name]}
            regions.append({"value": value, "score": score, "index": k})
        named = ", ".join(f"{ids}{i}" for i in range(first, len(regions)))
        if len(regions) - first > 1:
            notes.append(f"{named} ({name}, instance {(k or 0) + 1}): one instance in {len(regions) - first} parts")
        if traced.hole_pixels:
            notes.append(
                f"{named} ({name}, instance {(k or 0) + 1}): {traced.hole_pixels} pixel(s) of holes filled, as Label "
                "Studio polygons have no holes"
            )
    return regions


Brushes = tuple[list[dict[str, Any]], tuple[int, int] | None]
"""A mask label's brush regions and the mask's (width, height) when it has a region (:func:`_ls_masks`)."""


def _brush_region(name: str, rle: list[int], score: Any, index: int | None) -> dict[str, Any]:
    return {"value": {"format": "rle", "rle": rle, "brushlabels": [name]}, "score": score, "index": index}


def _brushes(found: Sequence[tuple[str, npt.NDArray[np.bool_], float | None, int | None]]) -> Brushes:
    regions = [_brush_region(name, mask_to_brush_rle(mask), score, k) for name, mask, score, k in found]
    return regions, _found_size(found)


def _found_size(found: Sequence[tuple[str, npt.NDArray[np.bool_], float | None, int | None]]) -> tuple[int, int] | None:
    """The (width, height) of the masks found (their first's), or ``None`` for none."""
    return (found[0][1].shape[1], found[0][1].shape[0]) if found else None


@dataclass(frozen=True, slots=True)
class MaskRuns:
    """A voted class array as its row-major runs (where each begins, its class, the array's shape): what
    an import keeps of an object's :attr:`~tally.gt.response.ObjectResult.class_map` from the batch's
    threads to its write-back. Finding the runs is a few numpy passes, done in the thread; the regions'
    RLEs and shapes are Python work, done after the batch, where no thread waits for the GIL behind
    them (docs/benchmarks.md, "Masks measured in process")."""

    starts: npt.NDArray[np.int64]
    values: npt.NDArray[np.uint8]
    shape: tuple[int, int]

    @classmethod
    def of(cls, classes: npt.NDArray[np.uint8]) -> MaskRuns:
        flat = np.ascontiguousarray(classes).ravel()
        starts = run_starts(flat)
        return cls(starts, flat[starts], (int(classes.shape[0]), int(classes.shape[1])))

    @property
    def nbytes(self) -> int:
        return int(self.starts.nbytes + self.values.nbytes)

    def classes(self) -> npt.NDArray[np.uint8]:
        """The class array again (the core's own runs: expanded as a checked ``classRuns`` answer is,
        :func:`~tally.codecs.expand_runs`)."""
        height, width = self.shape
        return expand_runs(self.values, np.diff(np.append(self.starts, height * width)), width, height)


def semantic_brushes(label: Mapping[str, Any], classes: npt.NDArray[np.uint8] | MaskRuns) -> Brushes:
    """The brush regions of a semantic mask label from its class array as the core voted it
    (:attr:`~tally.gt.response.ObjectResult.class_map`, or its :class:`MaskRuns`), so the write-back
    need not read the mask's PNG back: what :func:`labelstudio_predictions` takes as ``brushes``, keyed
    by the label's ``mask-ref``. Each class's runs are read from the class array's own runs (one pass
    over its pixels, not one comparison per class): the same RLEs as :func:`mask_to_brush_rle` of each
    class's mask."""
    runs = classes if isinstance(classes, MaskRuns) else MaskRuns.of(classes)
    starts, run_class = runs.starts, runs.values
    size = runs.shape[0] * runs.shape[1]
    regions = []
    for key, info in sorted(label.get("internal-color-map", {}).items(), key=lambda kv: int(kv[0])):
        if int(key) == 0:  # the background: no region
            continue
        on = run_class == int(key)
        if not on.any():
            continue
        kept = run_starts(on)  # where the class's own runs begin
        rle = mask_runs_to_brush_rle(starts[kept], on[kept], size)
        regions.append(_brush_region(str(info["class-name"]), rle, info.get("confidence"), None))
    return regions, (runs.shape[1], runs.shape[0]) if regions else None


def _ls_masks(label: Mapping[str, Any], read: Reader, brushes: Mapping[str, Brushes]) -> Brushes:
    """The brush regions of a mask label, and the mask's (width, height) when it has a region (the mask
    is read once, unless its regions were made from the core's class array: ``brushes``)."""
    made = brushes.get(label["mask-ref"]) if "mask-ref" in label else None
    return made if made is not None else _brushes(_regions(label, read))


def _ls_result(
    label: Mapping[str, Any],
    field: Mapping[str, Any],
    text: str | None,
    read: Reader,
    shapes: list[int] | None = None,
    brushes: Mapping[str, Brushes] | None = None,
    notes: list[str] | None = None,
    ids: str = "tally-",
) -> list[dict[str, Any]]:
    """The label's results, their ids ``ids`` and their index; ``shapes``, when given, gets each result's
    index in the label's list of its regions (an instance's in ``instances``), what ``shape-attributes``
    name; ``notes`` what the task's ``meta.tally`` should say about them (a polygon's filled hole)."""
    kind = _kind(label)
    rtype = str(field.get("type", ""))
    size = _size(label)
    if kind in ("classification", "multi-label"):
        regions = _ls_classification(label, rtype)
    elif kind == "entities":
        regions, rtype = _ls_entities(label, text), "labels"
    elif kind == "boxes" and size is not None:
        regions, rtype = _ls_boxes(label, size), "rectanglelabels"
    elif kind == "keypoints" and size is not None:
        regions, rtype = _ls_keypoints(label, size), "keypointlabels"
    elif kind == "polylines" and size is not None:
        regions, rtype = _ls_polylines(label, size), "vectorlabels"
    elif kind == "instances" and rtype in ("polygonlabels", "vectorlabels"):  # drawn as polygons: written so
        found = _regions(label, read)
        regions = _ls_outlines(found, rtype, notes if notes is not None else [], ids)
        size = size if size is not None else _found_size(found)
    elif kind in ("semantic", "instances"):
        (regions, drawn), rtype = _ls_masks(label, read, brushes or {}), "brushlabels"
        size = size if size is not None else drawn
    elif kind in ("number", "text"):
        made = _ls_value(label.get("value") if kind == "number" else label.get("text"), rtype)
        regions = [{"value": made}] if made is not None else []
    else:
        return []
    if shapes is not None:
        shapes.extend(region.get("index", i) for i, region in enumerate(regions))
    return [_ls_item(i, field, rtype, region, size, ids) for i, region in enumerate(regions)]


def _ls_controls(task: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """Each per-region control of the task's annotations: its result ``type`` and ``to_name``."""
    found: dict[str, tuple[str, Any]] = {}
    for annotation in task.get("annotations") or []:
        for r in annotation.get("result") or [] if isinstance(annotation, dict) else []:
            if isinstance(r, dict) and isinstance(r.get("from_name"), str):
                found.setdefault(r["from_name"], (str(r.get("type", "")), r.get("to_name")))
    return found


def _ls_region_fields(
    label: Mapping[str, Any], result: Sequence[Mapping[str, Any]], shapes: Sequence[int], task: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The per-region fields voted for each region (``shape-attributes``), as results attached to the
    region's result (its ``id``, its geometry), a tie not written."""
    by_shape: dict[int, list[Mapping[str, Any]]] = {}
    for shape, region in zip(shapes, result, strict=True):
        by_shape.setdefault(shape, []).append(region)  # an instance traced into several polygons: each
    controls = _ls_controls(task)
    out: list[dict[str, Any]] = []
    for voted in label.get("shape-attributes", []):
        for region in by_shape.get(voted.get("shape"), []):
            out.extend(_ls_voted_region(voted, region, controls))
    return out


def _ls_voted_region(
    voted: Mapping[str, Any], region: Mapping[str, Any], controls: Mapping[str, tuple[str, Any]]
) -> list[dict[str, Any]]:
    """The per-region fields voted for one region, as results attached to its result."""
    out: list[dict[str, Any]] = []
    for name, value in voted.get("values", {}).items():
        rtype, to_name = controls.get(name, ("", None))
        if rtype == "choices":
            made: dict[str, Any] = {"choices": value if isinstance(value, list) else [value]}
        elif rtype in ("taxonomy", "number", "rating"):
            made = {rtype: value}
        else:
            continue
        geometry = {k: v for k, v in region["value"].items() if k != region["type"]}
        item = {k: v for k, v in region.items() if k not in ("value", "score")}
        to_name = to_name if to_name is not None else region.get("to_name")
        out.append({**item, "from_name": name, "to_name": to_name, "type": rtype, "value": {**geometry, **made}})
    return out


def _ls_value(value: Any, rtype: str) -> dict[str, Any] | None:
    """A number's or a text's consolidated value as the control's result value."""
    if rtype in ("number", "rating") and isinstance(value, int | float) and not isinstance(value, bool):
        return {rtype: value}
    if rtype == "textarea" and isinstance(value, str):
        return {"text": [value]}
    return None


def _ls_form(
    label: Mapping[str, Any],
    fields: Mapping[str, Mapping[str, Any]],
    text: str | None,
    read: Reader,
    brushes: Mapping[str, Brushes],
    notes: list[str],
) -> list[dict[str, Any]]:
    """Every consolidated field of a form, each as its control's results (scored by its confidence), a
    field's ids ``tally-<field>-<index>``; ``notes`` gets what the task's ``meta.tally`` should say about
    them."""
    out: list[dict[str, Any]] = []
    for name, entry in (label.get("fields") or {}).items():
        source = fields.get(name, {})
        if not entry.get("consolidated") or not source:
            continue
        kind, rtype, value = entry.get("kind"), str(source.get("type", "")), entry.get("value")
        ids = f"tally-{name}-"
        if kind == "annotation" and isinstance(value, dict):
            results = _ls_result(value, source, text, read, brushes=brushes, notes=notes, ids=ids)
        else:
            if kind == "single-choice":
                regions = _ls_classification({"class-name": value}, rtype)
            elif kind == "multi-choice":
                regions = _ls_classification({"class-names": value}, rtype)
            else:
                made = _ls_value(value if kind == "number" else entry.get("text", value), rtype)
                regions = [{"value": made}] if made is not None else []
            results = [_ls_item(i, source, rtype, region, None, ids) for i, region in enumerate(regions)]
        for result in results:
            if entry.get("confidence") is not None and kind != "annotation":
                result["score"] = entry["confidence"]
        out.extend(results)
    return out


def _ls_item(
    i: int,
    field: Mapping[str, Any],
    rtype: str,
    region: Mapping[str, Any],
    size: tuple[int, int] | None,
    ids: str = "tally-",
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": f"{ids}{i}",
        "from_name": field.get("from_name"),
        "to_name": field.get("to_name"),
        "type": region.get("rtype", rtype),  # a region may be of another type than its label's others
        "value": region["value"],
        "origin": "prediction",
    }
    if size is not None:
        item["original_width"], item["original_height"] = int(size[0]), int(size[1])
        item["image_rotation"] = 0
    if region.get("score") is not None:
        item["score"] = region["score"]
    return item


def labelstudio_predictions(
    entries: Sequence[Mapping[str, Any]],
    batch: Batch,
    attr: str,
    read: Reader,
    brushes: Mapping[str, Brushes] | None = None,
) -> list[dict[str, Any]]:
    """The export's tasks with tally's consolidation as a prediction (module docstring); ``brushes``:
    mask labels' regions already made (:func:`semantic_brushes`), by ``mask-ref``; the others' masks
    are read back."""
    brushes = brushes or {}
    by_id = {str(e["datasetObjectId"]): e["consolidatedAnnotation"]["content"][attr] for e in entries}
    tasks = []
    for object_id, item in batch.items.items():
        task = item.source.get("task", {})
        label = by_id.get(object_id, {})
        field = item.source.get("fields", {}).get(batch.field, {})
        out: dict[str, Any] = {k: task[k] for k in ("data", "annotations", "meta") if k in task}
        content = item.data_object.get("content")
        notes: list[str] = []
        if "failure-reason" in label:
            result = []
        elif batch.form or "fields" in label:  # a form
            result = _ls_form(label, item.source.get("fields", {}), content, read, brushes, notes)
        else:
            shapes: list[int] = []
            result = _ls_result(label, field, content, read, shapes, brushes, notes)
            if "shape-attributes" in label:
                result += _ls_region_fields(label, result, shapes, task)
        meta = dict(out.get("meta") or {})
        if "failure-reason" in label:
            meta["tally"] = {"failure-reason": label["failure-reason"]}
        elif not result and _kind(label) is None and "fields" not in label:
            meta["tally"] = {"note": label.get("note", "no consolidated result to show")}
        elif notes:
            meta["tally"] = {"notes": notes}
        if meta:
            out["meta"] = meta
        if result:
            out["predictions"] = [{"model_version": MODEL_VERSION, "score": label.get("confidence"), "result": result}]
        tasks.append(out)
    return tasks


# -- CVAT ------------------------------------------------------------------------------------------------


def _coord(value: float) -> str:
    return f"{value:.2f}"


def _cvat_boxes(label: Mapping[str, Any]) -> list[tuple[str, dict[str, str]]]:
    names = label.get("class-map", {})
    shapes = []
    for box in label["annotations"]:
        shapes.append(
            (
                "box",
                {
                    "label": names.get(str(box["class_id"]), str(box["class_id"])),
                    "source": "auto",
                    "occluded": "0",
                    "xtl": _coord(box["left"]),
                    "ytl": _coord(box["top"]),
                    "xbr": _coord(box["left"] + box["width"]),
                    "ybr": _coord(box["top"] + box["height"]),
                    "z_order": "0",
                },
            )
        )
    return shapes


def _cvat_keypoints(label: Mapping[str, Any]) -> list[tuple[str, dict[str, str]]]:
    return [
        (
            "points",
            {
                "label": p["label"],
                "source": "auto",
                "occluded": "0",
                "points": f"{_coord(p['x'])},{_coord(p['y'])}",
                "z_order": "0",
            },
        )
        for p in label["keypoints"]
    ]


def _cvat_polylines(label: Mapping[str, Any]) -> list[tuple[str, dict[str, str]]]:
    return [
        (
            "polyline",
            {
                "label": line["label"],
                "source": "auto",
                "occluded": "0",
                "points": ";".join(f"{_coord(v['x'])},{_coord(v['y'])}" for v in line["vertices"]),
                "z_order": "0",
            },
        )
        for line in label["polylines"]
    ]


def _cvat_tags(label: Mapping[str, Any]) -> list[tuple[str, dict[str, str]]]:
    names = [label["class-name"]] if "class-name" in label else list(label["class-names"])
    return [("tag", {"label": name, "source": "auto"}) for name in names]


CvatMasks = list[tuple[str, dict[str, str], int | None]]
"""A mask label's ``<mask>`` shapes, each with its index in the label's instances (:func:`_cvat_masks`)."""


def semantic_cvat_masks(label: Mapping[str, Any], classes: npt.NDArray[np.uint8] | MaskRuns) -> CvatMasks:
    """The ``<mask>`` shapes of a semantic mask label from its class array as the core voted it
    (:attr:`~tally.gt.response.ObjectResult.class_map`, or its :class:`MaskRuns`), so the write-back
    need not read the mask's PNG back: what :func:`cvat_xml` takes as ``masks``, keyed by the label's
    ``mask-ref``."""
    return _cvat_mask_shapes(_class_regions(label, classes.classes() if isinstance(classes, MaskRuns) else classes))


def _cvat_masks(label: Mapping[str, Any], read: Reader, masks: Mapping[str, CvatMasks]) -> CvatMasks:
    """The ``<mask>`` shapes of a mask label (its mask read back, unless they were made from the core's
    class array: ``masks``)."""
    made = masks.get(label["mask-ref"]) if "mask-ref" in label else None
    return made if made is not None else _cvat_mask_shapes(_regions(label, read))


def _cvat_mask_shapes(found: Sequence[tuple[str, npt.NDArray[np.bool_], float | None, int | None]]) -> CvatMasks:
    shapes: CvatMasks = []
    for name, mask, _, index in found:
        counts, left, top, width, height = encode_cvat_mask(mask)
        shapes.append(
            (
                "mask",
                {
                    "label": name,
                    "source": "auto",
                    "occluded": "0",
                    "rle": ", ".join(str(c) for c in counts),
                    "left": str(left),
                    "top": str(top),
                    "width": str(width),
                    "height": str(height),
                    "z_order": "0",
                },
                index,
            )
        )
    return shapes


def _cvat_outlines(found: Sequence[tuple[str, npt.NDArray[np.bool_], float | None, int | None]]) -> CvatMasks:
    """Each instance as ``<polygon>`` shapes, one per part of it (module docstring); an instance with a
    hole as a ``<mask>`` (CVAT's polygons have none)."""
    shapes: CvatMasks = []
    for region in found:
        name, mask, _, index = region
        traced = trace_polygons(mask)
        if traced.hole_pixels or traced.ragged:  # a <mask>: exact
            shapes += _cvat_mask_shapes([region])
            continue
        for points in traced.polygons:
            drawn = {
                "label": name,
                "source": "auto",
                "occluded": "0",
                "points": ";".join(f"{_coord(x + 0.5)},{_coord(y + 0.5)}" for x, y in points),  # pixel centres
                "z_order": "0",
            }
            if len(traced.polygons) > 1:  # one instance's parts, grouped as CVAT groups shapes
                drawn["group_id"] = str((index or 0) + 1)
            shapes.append(("polygon", drawn, index))
    return shapes


def _drawn_as_polygons(batch: Batch, item: ImportedItem) -> bool:
    """Whether the field's shapes were drawn as polygons: a CVAT ``<polygon>`` field, or a COCO
    segmentation field whose answers to this item are all polygons (none an RLE)."""
    kind = batch.fields.get(batch.field or "")
    if kind == "polygons":
        return True
    if kind != "instances":
        return False
    drawn = [s for answer in item.fields.get(batch.field or "", []) for s in answer.given or [] if s]
    return bool(drawn) and all(isinstance(s, list) for s in drawn)


def _cvat_shapes(
    label: Mapping[str, Any], read: Reader, masks: Mapping[str, CvatMasks], polygons: bool = False
) -> list[tuple[str, dict[str, str], int | None]]:
    """The label's shapes, each with its index in the label's list of them (what ``shape-attributes``
    name; ``None``: a tag or a class of a semantic mask, which no vote names); ``polygons``: an
    instance label's instances were drawn as polygons, and go back so."""
    kind = _kind(label)
    if kind in ("boxes", "keypoints", "polylines"):
        made = {"boxes": _cvat_boxes, "keypoints": _cvat_keypoints, "polylines": _cvat_polylines}[kind](label)
        return [(name, shape, k) for k, (name, shape) in enumerate(made)]
    if kind in ("classification", "multi-label"):
        return [(name, shape, None) for name, shape in _cvat_tags(label)]
    if kind == "instances" and polygons:
        return _cvat_outlines(_regions(label, read))
    if kind in ("semantic", "instances"):
        return _cvat_masks(label, read, masks)
    return []


_SHAPE_PROPERTIES = {("rotation", "bbox"), ("rotation", "segmentation")}
"""Attributes that are a shape's property in CVAT XML, not a label attribute: CVAT's COCO export puts a
box's ``rotation`` among an annotation's attributes; the consolidated box is axis-aligned, so it is not
written back (it stays in ``shape-attributes``)."""


def cvat_xml(
    entries: Sequence[Mapping[str, Any]],
    batch: Batch,
    attr: str,
    read: Reader,
    labels: Sequence[str],
    masks: Mapping[str, CvatMasks] | None = None,
) -> bytes:
    """A "CVAT for images 1.1" file with the consolidated shapes, for a new job (module docstring);
    ``masks``: semantic mask labels' shapes already made (:func:`semantic_cvat_masks`), by
    ``mask-ref``; the others' masks are read back through ``read``."""
    masks = masks or {}
    by_id = {str(e["datasetObjectId"]): e["consolidatedAnnotation"]["content"][attr] for e in entries}
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    task = ET.SubElement(ET.SubElement(root, "meta"), "task")
    ET.SubElement(task, "name").text = f"tally consolidation ({batch.field})"
    ET.SubElement(task, "mode").text = "annotation"
    label_list = ET.SubElement(task, "labels")
    for name in labels:
        ET.SubElement(ET.SubElement(label_list, "label"), "name").text = name
    for index, (object_id, item) in enumerate(batch.items.items()):
        image = item.source.get("image", {})
        attrs = {"id": str(index), "name": object_id}
        for key in ("width", "height"):
            if key in image:
                attrs[key] = str(image[key])
        element = ET.SubElement(root, "image", attrs)
        label = by_id.get(object_id, {})
        voted = {v["shape"]: v["values"] for v in label.get("shape-attributes", [])}
        drawn = (
            _cvat_shapes(label, read, masks, _drawn_as_polygons(batch, item)) if "failure-reason" not in label else []
        )
        for name, shape, k in drawn:
            values = voted.get(k, {}) if k is not None else {}
            if "occluded" in values:
                shape["occluded"] = values["occluded"]
            written = ET.SubElement(element, name, shape)
            for attribute, value in values.items():
                if attribute != "occluded" and (attribute, batch.field) not in _SHAPE_PROPERTIES:
                    ET.SubElement(written, "attribute", {"name": attribute}).text = value
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
