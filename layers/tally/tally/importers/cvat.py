"""CVAT exports of several annotators' jobs as :class:`~.model.ImportedItem` objects.

The annotator is the **job**: one "CVAT for images 1.1" XML file per job or consensus replica, given
as the file itself, a directory of them, or CVAT's export zips (``annotations.xml`` inside); the
worker ID is the file's name without its extension (relative to the directory given), or the zip's.
Every ``<image>`` is one data object, keyed by its ``name``, so the same image in several jobs is the
same object. Coordinates are pixels. Each shape kind is one field, converted to the Ground Truth
crowd element's output:

==============  ========================================================================================
``box``         ``boundingBoxes`` (``xtl, ytl, xbr, ybr`` → left, top, width, height); a rotated box
                makes the answer unreadable
``polygon``     ``polygons``
``points``      ``keypoints``: each point of a ``<points>`` shape with the shape's label
``tag``         ``{"label"}``, or ``{"labels"}`` when any job tags an image with another number of tags
                than one
``mask``        a semantic-segmentation answer: each ``<mask>``'s box-local RLE decoded
                (:func:`~.rle.decode_cvat_mask`) and painted in order into one class array, handed
                on decoded (no PNG: :func:`tally.codecs.class_runs`)
``polyline``    ``polylines`` (``crowd-polyline``'s output: each ``<polyline>``'s ``points`` as vertices,
                pixels), consolidated by the polyline task (matched, kept, fused across jobs)
==============  ========================================================================================

A job's ``<polygon>`` shapes of one image with the same nonzero ``group_id`` (CVAT's grouping: one
object drawn in parts) and the same label are one instance: each polygon carries the ``group`` key,
which the polygon task reads (:mod:`tally.tasks.polygons.adapter`: the parts' union; a group of several
labels stays one instance per label, with a warning). Other shapes' groups are not read (a ``<mask>``
is a semantic class, so same-label masks are one already; grouped boxes, points or lines have no one-shape
meaning).

Shape attributes (``<attribute>``, and ``occluded``) are the field ``attributes``: voted per
consolidated shape when ``box``, ``polyline``, ``points`` or ``polygon`` is consolidated (:mod:`.attributes`),
else kept as given with the reason (a mask's: masks are voted pixel by pixel, no shape stands for a
worker's mask); ``skeleton``, ``ellipse`` and ``cuboid`` shapes are kept as given too. A job that has an image but no shape of a region kind on it answered "nothing there". Tracks
(video jobs) are not imported; each file that has them gets a warning. The jobs' ``<meta>`` label
lists, merged in order, are the label list (class ids follow CVAT's label order).

COCO instances JSON of each job (CVAT's "COCO 1.0" export, or any COCO file) is read the same way
(:func:`read_coco_jobs`): the file is the annotator, ``file_name`` the object; ``bbox`` is the field
``bbox`` (boxes), ``segmentation`` (polygons and RLE, uncompressed or compressed) the field
``segmentation``, an instance-segmentation answer (one instance per annotation); categories, by id,
are the label list. Each annotation's ``attributes`` (CVAT's COCO export: ``occluded``, ``rotation`` and
the label's attributes) are the field ``attributes``, voted per consolidated box or instance. A box
whose ``rotation`` attribute is not 0 makes its ``bbox`` answer unreadable, as a rotated ``<box>`` does
in the XML (tally's boxes are axis-aligned).
"""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..aggregation.instance_fusion import rasterise_polygons
from ..codecs import class_runs, encode_palette_png
from ..colours import assign_colours, hex_to_rgb
from ..tasks.polygons import group_of
from .model import PASSED_ON_PNG_LEVEL, FieldAnswer, ImportedItem
from .rle import RleError, decode_coco_rle, decode_cvat_mask, parse_cvat_counts

__all__ = ["ExportError", "Jobs", "read_coco_jobs", "read_xml_jobs"]

_FIELDS = {
    "box": "boxes",
    "polygon": "polygons",
    "points": "keypoints",
    "tag": "classification",
    "mask": "semantic",
    "polyline": "polylines",
}
_KEPT = {"skeleton": "skeleton", "ellipse": "ellipse", "cuboid": "cuboid"}
_REGION = ("box", "polygon", "points", "mask", "polyline")
_MAX_CLASSES = 254


class ExportError(ValueError):
    """The input is not a CVAT export tally can read; the message says why."""


@dataclass
class Jobs:
    """What several jobs' exports hold: the items, the merged label list, warnings."""

    items: list[ImportedItem]
    labels: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Unreadable(Exception):
    """One answer cannot be converted; the message is the reason."""


def _sources(path: Path, suffix: str) -> Iterator[tuple[str, bytes]]:
    """``(worker, file bytes)`` for every ``suffix`` file: the file itself, in a directory (sorted,
    recursively), or in zips (a zip's worker is the zip's name, with the member's path when it holds
    several)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in (suffix, ".zip"))
        for file in files:
            name = str(file.relative_to(path).with_suffix(""))
            yield from _sources_of(file, name, suffix)
    else:
        yield from _sources_of(path, path.stem, suffix)


def _sources_of(file: Path, name: str, suffix: str) -> Iterator[tuple[str, bytes]]:
    if file.suffix.lower() == ".zip":
        with zipfile.ZipFile(file) as archive:
            members = sorted(m for m in archive.namelist() if m.lower().endswith(suffix) and not m.endswith("/"))
            for member in members:
                worker = name if len(members) == 1 else f"{name}/{Path(member).with_suffix('')}"
                yield worker, archive.read(member)
    else:
        yield name, file.read_bytes()


def _float(value: str | None, what: str) -> float:
    try:
        number = float(value) if value is not None else float("nan")
    except ValueError:
        number = float("nan")
    if not np.isfinite(number):
        raise _Unreadable(f"{what} is not a number")
    return number


def _int(value: str | None, what: str) -> int:
    try:
        return int(value) if value is not None else int("x")
    except ValueError as exc:
        raise _Unreadable(f"{what} is not an integer") from exc


def _points(text: str | None) -> list[tuple[float, float]]:
    pairs = []
    for pair in (text or "").split(";"):
        parts = pair.split(",")
        if len(parts) != 2:
            raise _Unreadable("points are not x,y pairs")
        pairs.append((_float(parts[0], "a point"), _float(parts[1], "a point")))
    return pairs


def _attributes(shape: ET.Element) -> dict[str, str]:
    found = {a.get("name", ""): a.text or "" for a in shape.findall("attribute")}
    if shape.get("occluded") == "1":
        found["occluded"] = "1"
    return found


def _given(shape: ET.Element) -> dict[str, Any]:
    """A shape as given: its tag, its XML attributes, its <attribute> children."""
    given: dict[str, Any] = {"shape": shape.tag, **shape.attrib}
    attributes = {a.get("name", ""): a.text or "" for a in shape.findall("attribute")}
    if attributes:
        given["attributes"] = attributes
    return given


class _Painter:
    """Paints masks into one palette PNG per answer, a colour per label (first seen, first coloured)."""

    def __init__(self) -> None:
        self.known: list[str] = []

    def semantic(self, masks: Sequence[tuple[str, npt.NDArray[np.bool_]]], width: int, height: int) -> dict[str, Any]:
        classes = np.zeros((height, width), dtype=np.uint8)
        used: list[str] = []
        for label, mask in masks:
            if label not in self.known:
                self.known.append(label)
            if label not in used:
                used.append(label)
            if len(used) > _MAX_CLASSES:
                raise _Unreadable(f"more than {_MAX_CLASSES} mask labels")
            classes[mask] = used.index(label) + 1
        colours = assign_colours(self.known, {})
        return {
            "labeledImage": {"classRuns": class_runs(classes)},  # decoded: no PNG to write or read
            "labelMappings": {label: {"color": colours[self.known.index(label)]} for label in used},
            "inputImageProperties": {"width": width, "height": height},
        }


ROTATED = "a box is rotated; tally's boxes are axis-aligned"
"""Why a rotated box (CVAT XML's ``rotation``, CVAT's COCO ``attributes.rotation``) is refused."""


def _convert(kind: str, shapes: Sequence[ET.Element], size: tuple[int, int], painter: _Painter) -> Any:
    width, height = size
    props = {"width": width, "height": height}
    if kind == "box":
        boxes = []
        for s in shapes:
            if _float(s.get("rotation", "0"), "rotation") != 0:
                raise _Unreadable(ROTATED)
            xtl, ytl = _float(s.get("xtl"), "xtl"), _float(s.get("ytl"), "ytl")
            xbr, ybr = _float(s.get("xbr"), "xbr"), _float(s.get("ybr"), "ybr")
            boxes.append(
                {"label": s.get("label", ""), "left": xtl, "top": ytl, "width": xbr - xtl, "height": ybr - ytl}
            )
        return {"boundingBoxes": boxes, "inputImageProperties": props}
    if kind == "polygon":
        polygons = []
        for s in shapes:
            polygon: dict[str, Any] = {
                "label": s.get("label", ""),
                "vertices": [{"x": x, "y": y} for x, y in _points(s.get("points"))],
            }
            if (group := group_of({"group": s.get("group_id")})) is not None:  # one object in parts (docstring)
                polygon["group"] = group
            polygons.append(polygon)
        return {"polygons": polygons, "inputImageProperties": props}
    if kind == "polyline":
        polylines = [
            {"label": s.get("label", ""), "vertices": [{"x": x, "y": y} for x, y in _points(s.get("points"))]}
            for s in shapes
        ]  # a line of fewer than two vertices is left out, with a warning, by the polyline task
        return {"polylines": polylines, "inputImageProperties": props}
    if kind == "points":
        keypoints = [{"label": s.get("label", ""), "x": x, "y": y} for s in shapes for x, y in _points(s.get("points"))]
        return {"keypoints": keypoints, "inputImageProperties": props}
    if kind == "tag":
        return [s.get("label", "") for s in shapes]
    if kind == "mask":
        masks = []
        for s in shapes:
            try:
                mask = decode_cvat_mask(
                    parse_cvat_counts(s.get("rle", "")),
                    left=_int(s.get("left"), "left"),
                    top=_int(s.get("top"), "top"),
                    width=_int(s.get("width"), "width"),
                    height=_int(s.get("height"), "height"),
                    image_size=size,
                )
            except RleError as exc:
                raise _Unreadable(f"a mask's RLE: {exc}") from exc
            masks.append((s.get("label", ""), mask))
        return painter.semantic(masks, width, height)
    raise AssertionError(kind)


def _parse_xml(worker: str, data: bytes) -> tuple[list[str], list[ET.Element], int]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ExportError(f"{worker}: not XML ({exc})") from exc
    if root.tag != "annotations":
        raise ExportError(f"{worker}: not a CVAT for images 1.1 file (its root is <{root.tag}>)")
    labels = []
    for label in root.iter("label"):
        name = label.findtext("name")
        if name is not None and label.findtext("parent") is None and label.findtext("type") != "skeleton":
            labels.append(name)
    return labels, root.findall("image"), len(root.findall("track"))


def read_xml_jobs(path: Path) -> Jobs:
    """Every job's "CVAT for images 1.1" annotations under ``path`` (module docstring)."""
    jobs = Jobs([])
    items: dict[str, ImportedItem] = {}
    painter = _Painter()
    per_answer: list[tuple[ImportedItem, str, str, list[ET.Element], tuple[int, int] | None]] = []
    seen_workers: set[str] = set()
    for worker, data in _sources(path, ".xml"):
        if worker in seen_workers:
            raise ExportError(f"two files are both named {worker}: one annotator each, please")
        seen_workers.add(worker)
        labels, images, tracks = _parse_xml(worker, data)
        for label in labels:
            if label not in jobs.labels:
                jobs.labels.append(label)
        if tracks:
            jobs.warnings.append(f"{worker}: {tracks} tracks (video annotation) are not imported")
        for image in images:
            name = image.get("name") or f"frame {image.get('id')}"
            item = items.get(name)
            if item is None:
                item = items[name] = ImportedItem(name, {"s3Uri": name}, source={"image": dict(image.attrib)})
            try:
                size: tuple[int, int] | None = (_int(image.get("width"), "width"), _int(image.get("height"), "height"))
            except _Unreadable:
                size = None
            by_kind: dict[str, list[ET.Element]] = {}
            for shape in image:
                by_kind.setdefault(shape.tag, []).append(shape)
            for kind in _REGION:
                per_answer.append((item, worker, kind, by_kind.get(kind, []), size))
            if "tag" in by_kind:
                per_answer.append((item, worker, "tag", by_kind["tag"], size))
            attributed = [_given(s) for shapes in by_kind.values() for s in shapes if _attributes(s)]
            if attributed:
                item.add("attributes", "attributes", FieldAnswer(worker, given=attributed))
            for kind, shapes in by_kind.items():
                if kind not in _FIELDS and kind != "attribute":
                    item.add(kind, _KEPT.get(kind, kind), FieldAnswer(worker, given=[_given(s) for s in shapes]))
    present = {kind for _, _, kind, shapes, _ in per_answer if shapes}
    for item, worker, kind, shapes, size in per_answer:
        if kind not in present:
            continue  # no job drew this kind at all: not a field of this export
        given = [_given(s) for s in shapes]
        try:
            if size is None:
                raise _Unreadable("the image has no width/height")
            element = _convert(kind, shapes, size, painter)
        except _Unreadable as exc:
            item.add(kind, _FIELDS[kind], FieldAnswer(worker, given=given, reason=f"{kind} answer unreadable: {exc}"))
            continue
        item.add(kind, _FIELDS[kind], FieldAnswer(worker, element=element, given=given))
    _settle_tags(list(items.values()))
    jobs.items = list(items.values())
    return jobs


def _settle_tags(items: Sequence[ImportedItem]) -> None:
    multi = any(a.readable and len(a.element) != 1 for item in items for a in item.fields.get("tag", []))
    for item in items:
        answers = item.fields.get("tag")
        if not answers:
            continue
        if multi:
            item.kinds["tag"] = "multi-label"
        for answer in answers:
            if answer.readable:
                answer.element = {"labels": answer.element} if multi else {"label": answer.element[0]}


# -- COCO -------------------------------------------------------------------------------------------


def _coco(worker: str, data: bytes) -> Mapping[str, Any]:
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ExportError(f"{worker}: not JSON") from exc
    if not isinstance(document, dict) or not isinstance(document.get("images"), list):
        raise ExportError(f"{worker}: not a COCO file (no images list)")
    return document


def _instances(segments: Sequence[tuple[str, Any]], width: int, height: int, painter: _Painter) -> dict[str, Any]:
    """An instance-segmentation answer: each annotation's polygons or RLE painted in order."""
    grid = np.zeros((height, width), dtype=np.int32)
    instances: list[dict[str, str]] = []
    for label, segmentation in segments:
        if isinstance(segmentation, dict):
            try:
                mask = decode_coco_rle(segmentation.get("counts", ""), segmentation.get("size", []))
            except RleError as exc:
                raise _Unreadable(f"an RLE segmentation: {exc}") from exc
            if mask.shape != (height, width):
                raise _Unreadable(f"an RLE segmentation is {mask.shape[1]}x{mask.shape[0]}, the image {width}x{height}")
        elif isinstance(segmentation, list) and segmentation:
            rings = []
            for ring in segmentation:
                if not isinstance(ring, list) or len(ring) < 6 or len(ring) % 2:
                    raise _Unreadable("a polygon segmentation is not a list of x, y coordinates")
                rings.append(np.asarray([_float(str(v), "a vertex") for v in ring]).reshape(-1, 2))
            painted, _ = rasterise_polygons(rings, width, height)
            mask = painted > 0
        else:
            continue  # no segmentation for this annotation: its box is in the bbox field
        if len(instances) >= _MAX_CLASSES:
            raise _Unreadable(f"more than {_MAX_CLASSES} instances")
        grid[mask] = len(instances) + 1
        instances.append({"label": label})
    colours = assign_colours([f"instance {k}" for k in range(len(instances))], {})
    for instance, colour in zip(instances, colours, strict=True):
        instance["color"] = colour
    palette = [hex_to_rgb("#ffffff")] + [hex_to_rgb(c) for c in colours]
    png = encode_palette_png(grid.astype(np.uint8), palette, compress_level=PASSED_ON_PNG_LEVEL)
    return {
        "labeledImage": {"pngImageData": base64.b64encode(png).decode("ascii")},
        "instances": instances,
        "inputImageProperties": {"width": width, "height": height},
    }


def read_coco_jobs(path: Path) -> Jobs:
    """Every job's COCO instances JSON under ``path`` (module docstring)."""
    jobs = Jobs([])
    items: dict[str, ImportedItem] = {}
    painter = _Painter()
    seen_workers: set[str] = set()
    for worker, data in _sources(path, ".json"):
        if worker in seen_workers:
            raise ExportError(f"two files are both named {worker}: one annotator each, please")
        seen_workers.add(worker)
        document = _coco(worker, data)
        categories = {c.get("id"): str(c.get("name")) for c in document.get("categories", []) if isinstance(c, dict)}
        for cid in sorted(categories, key=lambda c: (not isinstance(c, int), c if isinstance(c, int) else 0)):
            if categories[cid] not in jobs.labels:
                jobs.labels.append(categories[cid])
        by_image: dict[Any, list[Mapping[str, Any]]] = {}
        for annotation in document.get("annotations", []):
            if isinstance(annotation, dict):
                by_image.setdefault(annotation.get("image_id"), []).append(annotation)
        for image in document["images"]:
            if not isinstance(image, dict):
                continue
            name = str(image.get("file_name") or f"image {image.get('id')}")
            item = items.get(name)
            if item is None:
                item = items[name] = ImportedItem(name, {"s3Uri": name}, source={"image": dict(image)})
            annotations = by_image.get(image.get("id"), [])
            given = [dict(a) for a in annotations]
            width, height = image.get("width"), image.get("height")
            if not isinstance(width, int) or not isinstance(height, int) or width <= 0 or height <= 0:
                reason = "the image has no width/height"
                item.add("bbox", "boxes", FieldAnswer(worker, given=given, reason=f"bbox answer unreadable: {reason}"))
                continue
            segments = [
                (categories.get(a.get("category_id"), str(a.get("category_id"))), a.get("segmentation"))
                for a in annotations
            ]
            if any(s for _, s in segments):
                item.kinds.setdefault("segmentation", "instances")
            try:
                element = _instances(segments, width, height, painter)
                item.add("segmentation", "instances", FieldAnswer(worker, element, [s for _, s in segments]))
            except _Unreadable as exc:
                reason = f"segmentation answer unreadable: {exc}"
                item.add(
                    "segmentation", "instances", FieldAnswer(worker, given=[s for _, s in segments], reason=reason)
                )
            props = {"width": width, "height": height}
            try:
                boxes = []
                for a in annotations:
                    bbox = a.get("bbox")
                    if not isinstance(bbox, list) or len(bbox) != 4:
                        raise _Unreadable("a bbox is not [x, y, width, height]")
                    x, y, w, h = (_float(str(v), "a bbox value") for v in bbox)
                    attributes = a.get("attributes")
                    turned = attributes.get("rotation", 0) if isinstance(attributes, dict) else 0
                    if _float(str(turned), "rotation") != 0:  # CVAT's COCO export: a rotated box's angle
                        raise _Unreadable(ROTATED)
                    boxes.append(
                        {
                            "label": categories.get(a.get("category_id"), str(a.get("category_id"))),
                            "left": x,
                            "top": y,
                            "width": w,
                            "height": h,
                        }
                    )
                item.add(
                    "bbox", "boxes", FieldAnswer(worker, {"boundingBoxes": boxes, "inputImageProperties": props}, given)
                )
            except _Unreadable as exc:
                item.add("bbox", "boxes", FieldAnswer(worker, given=given, reason=f"bbox answer unreadable: {exc}"))
            attributed = [
                {"id": a.get("id"), "attributes": a["attributes"]} for a in annotations if a.get("attributes")
            ]
            if attributed:
                item.add("attributes", "attributes", FieldAnswer(worker, given=attributed))
    jobs.items = list(items.values())
    if not any(a.given for item in jobs.items for a in item.fields.get("segmentation", [])):
        for item in jobs.items:  # no job has a segmentation: not a field of this export
            item.fields.pop("segmentation", None)
            item.kinds.pop("segmentation", None)
    return jobs
