"""``tally report``: one self-contained HTML page to review a consolidated batch.

What it reads (:func:`load_review`): a ``tally reconsolidate`` output folder (``output.manifest``; the
worker answers come from the source it recorded in ``.reconsolidate.json``), a ``tally consolidate``
output folder (``results.jsonl``, with the batch's event or payload given as ``--source`` for the
answers and images), or a tally output manifest (with ``--source``: the manifest, or job output prefix,
holding the answers, line by line). Images and masks are read from disk or an S3 mirror (``--s3-root``).

What it shows (:func:`render_report`, pure: objects in, HTML out): per object the source image with
the consolidated result and each worker's answer as overlays (masks as translucent layers, boxes and
keypoints drawn, entities marked in the text), a disagreement heatmap for segmentation (from
``confidence-map-ref``), each worker's agreement with the consensus; objects sorted least confident
first (failed objects before all); a per-worker table; filters by label and by worker (plain JS).
Everything is inline (data URIs); the page makes no request.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
import numpy.typing as npt
from PIL import Image

from ..colours import hex_to_rgb
from ..errors import TallyError
from ..gt.sink import LabelReader
from ._common import CliStorage, ExitCode, InputError, load_json, progress_bar, stderr_console, write_atomically
from ._sources import JobIndex, line_annotations, located_annotations

__all__ = ["Answer", "ReviewObject", "agreement", "load_review", "render_report", "report"]

MAX_IMAGE_SIDE = 480
"""Source images are scaled down to this many pixels on their longer side before being inlined."""

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


@dataclass
class Answer:
    """One worker's answer: the element's value (``None`` when it could not be parsed; ``error`` says why)."""

    worker_id: str
    value: dict[str, Any] | None
    error: str | None = None


@dataclass
class ReviewObject:
    """One data object: its consolidated label (``content[<attr>]``) and the bytes the page shows."""

    key: str
    source: str | None
    label: dict[str, Any]
    answers: list[Answer] = field(default_factory=list)
    text: str | None = None
    image: bytes | None = None
    image_note: str | None = None
    artefacts: dict[str, bytes] = field(default_factory=dict)
    _decoded: dict[str, npt.NDArray[np.uint8]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def indices(self, name: str) -> npt.NDArray[np.uint8]:
        """The artefact ``name`` (a mask PNG) as pixel values, decoded once (read-only)."""
        if name not in self._decoded:
            self._decoded[name] = _indices(self.artefacts[name])
        return self._decoded[name]

    @property
    def task_type(self) -> str:
        return str(self.label.get("type", "groundtruth/custom"))

    @property
    def failure(self) -> str | None:
        reason = self.label.get("failure-reason")
        return None if reason is None else str(reason)

    @property
    def confidence(self) -> float | None:
        value = self.label.get("confidence")
        return float(value) if isinstance(value, int | float) else None


# --- answers ------------------------------------------------------------------------------------------


_ANSWER_KEYS = frozenset(
    {"labeledImage", "boundingBoxes", "keypoints", "instances", "polygons", "label", "labels", "entities"}
)


def parse_answer(annotation: dict[str, Any]) -> Answer:
    """A payload annotation (``{workerId, annotationData: {content}}``) as the element's value."""
    worker = str(annotation.get("workerId", "?"))
    data = annotation.get("annotationData") or {}
    content = data.get("content") if isinstance(data, dict) else None
    if not isinstance(content, str):
        return Answer(worker, None, "answer stored in S3 (annotationData.s3Uri)" if data else "no answer content")
    try:
        document = json.loads(content)
    except json.JSONDecodeError:
        return Answer(worker, None, "content is not JSON")
    if isinstance(document, dict) and not _ANSWER_KEYS & set(document):
        # {elementName: value}, possibly beside other form fields: the value that looks like an answer
        values = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in document.values()]
        found = [v for v in values if isinstance(v, dict) and _ANSWER_KEYS & set(v)]
        document = found[0] if found else values[0] if len(values) == 1 else document
    if not isinstance(document, dict):
        return Answer(worker, None, "content is not a JSON object")
    return Answer(worker, document)


def _indices(data: bytes) -> npt.NDArray[np.uint8]:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image if image.mode == "P" else image.convert("L"), dtype=np.uint8)


def _worker_classes(value: dict[str, Any], key_of: dict[str, int]) -> npt.NDArray[np.int16] | None:
    """A worker's segmentation PNG as class keys (through its own ``labelMappings``), -1 unknown."""
    try:
        png = base64.b64decode(value["labeledImage"]["pngImageData"])
        with Image.open(io.BytesIO(png)) as image:
            rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    except (KeyError, TypeError, ValueError, OSError):
        return None
    out = np.zeros(rgba.shape[:2], dtype=np.int16)
    painted = rgba[..., 3] > 0
    out[painted] = -1
    for name, mapping in (value.get("labelMappings") or {}).items():
        if name in key_of and isinstance(mapping, dict) and isinstance(mapping.get("color"), str):
            r, g, b = hex_to_rgb(mapping["color"])
            hit = painted & (rgba[..., 0] == r) & (rgba[..., 1] == g) & (rgba[..., 2] == b)
            out[hit] = key_of[name]
    return out


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = w * h
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _f1(matched: int, mine: int, theirs: int) -> float:
    return 1.0 if mine == theirs == 0 else 2 * matched / (mine + theirs)


def _greedy(pairs: Iterable[tuple[float, int, int]]) -> int:
    used_a: set[int] = set()
    used_b: set[int] = set()
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
    return len(used_a)


def agreement(obj: ReviewObject, answer: Answer) -> float | None:
    """How far ``answer`` agrees with the consensus, 0–1 (``None``: not measurable).

    Segmentation: the share of pixels where the worker's class is the consensus class; classification:
    1 or 0 (multi-label: Jaccard of the label sets); boxes: F1 of boxes matched at IoU ≥ 0.5 with the
    same label; keypoints: F1 of points with the same label within 5% of the image diagonal; entities:
    F1 of identical spans; instances: the share of instances (worker's or consensus's, the larger
    count) the fusion matched to this worker.
    """
    value, label, kind = answer.value, obj.label, obj.task_type
    if value is None or obj.failure is not None:
        return None
    if kind == "groundtruth/semantic-segmentation" and "mask" in obj.artefacts:
        key_of = {e["class-name"]: int(k) for k, e in label.get("internal-color-map", {}).items()}
        classes = _worker_classes(value, key_of)
        consensus = obj.indices("mask")
        if classes is None or classes.shape != consensus.shape:
            return None
        return float(np.mean(classes == consensus))
    if kind.endswith("-classification"):
        return 1.0 if value.get("label") == label.get("class-name") else 0.0
    if kind.endswith("-multilabel"):
        mine, theirs = set(value.get("labels") or []), set(label.get("class-names") or [])
        return 1.0 if not mine | theirs else len(mine & theirs) / len(mine | theirs)
    if kind == "groundtruth/object-detection":
        names = label.get("class-map", {})
        consensus_boxes = [
            (names.get(str(b["class_id"])), [b["left"], b["top"], b["width"], b["height"]])
            for b in label.get("annotations", [])
        ]
        worker_boxes = [
            (b.get("label"), [b["left"], b["top"], b["width"], b["height"]]) for b in value.get("boundingBoxes", [])
        ]
        pairs = [
            (iou, i, j)
            for i, (wl, wb) in enumerate(worker_boxes)
            for j, (cl, cb) in enumerate(consensus_boxes)
            if wl == cl and (iou := _iou(wb, cb)) >= 0.5
        ]
        return _f1(_greedy(pairs), len(worker_boxes), len(consensus_boxes))
    if kind == "groundtruth/keypoint":
        size = (label.get("image_size") or [{}])[0]
        reach = 0.05 * float(np.hypot(size.get("width", 100), size.get("height", 100)))
        mine_points, theirs_points = value.get("keypoints", []), label.get("keypoints", [])
        pairs = [
            (-d, i, j)
            for i, p in enumerate(mine_points)
            for j, q in enumerate(theirs_points)
            if p.get("label") == q["label"] and (d := float(np.hypot(p["x"] - q["x"], p["y"] - q["y"]))) <= reach
        ]
        return _f1(_greedy(pairs), len(mine_points), len(theirs_points))
    if kind == "groundtruth/named-entity-recognition":
        spans = {(e.get("label"), e.get("startOffset"), e.get("endOffset")) for e in value.get("entities", [])}
        consensus_spans = {
            (e["label"], e["startOffset"], e["endOffset"]) for e in label.get("annotations", {}).get("entities", [])
        }
        return _f1(len(spans & consensus_spans), len(spans), len(consensus_spans))
    if kind == "groundtruth/instance-segmentation":
        instances = label.get("instances", [])
        matched = sum(answer.worker_id in i.get("workers", []) for i in instances)
        drawn = [v for key in ("instances", "polygons") if isinstance(v := value.get(key), list) for _ in v]
        larger = max(len(drawn), len(instances))
        return 1.0 if larger == 0 else matched / larger
    return None


# --- loading ------------------------------------------------------------------------------------------


def _attr_of(content: dict[str, Any]) -> str | None:
    names = [k for k in content if not k.endswith("-metadata")]
    return names[0] if len(names) == 1 else None


def _answers_by_line(source: str | None, attr: str, storage: CliStorage) -> Iterator[list[dict[str, Any]] | None]:
    """Each line's payload annotations from ``source`` (a manifest or a job's output prefix), in order."""
    if source is None:
        while True:
            yield None
    path = storage.local_path(source) or Path(source)
    if path.is_dir():
        index = JobIndex(path)
        manifest = path / "manifests" / "output" / "output.manifest"
        cache: dict[str, Any] = {}
        with manifest.open("rb") as fh:
            for number, raw in enumerate(fh):
                line = load_json(raw, f"{manifest} line {number + 1}")
                locator = index.locate(line, attr, number)
                yield (
                    line_annotations(line, attr, storage)
                    if locator is None
                    else located_annotations(locator, storage, cache)
                )
    else:
        with path.open("rb") as fh:
            for number, raw in enumerate(fh):
                if raw.strip():
                    yield line_annotations(load_json(raw, f"{path} line {number + 1}"), attr, storage)
    while True:
        yield None


def _from_manifest(
    manifest: Path, attr: str | None, source: str | None, storage: CliStorage
) -> tuple[str, list[ReviewObject]]:
    objects: list[ReviewObject] = []
    answers: Iterator[list[dict[str, Any]] | None] | None = None
    with manifest.open("rb") as fh:
        number = -1
        for raw in fh:
            if not raw.strip():
                continue
            number += 1
            line = load_json(raw, f"{manifest} line {number + 1}")
            if attr is None:
                found = [
                    k[: -len("-metadata")] for k in line if k.endswith("-metadata") and k[: -len("-metadata")] in line
                ]
                if len(found) != 1:
                    raise InputError(f"{manifest}: cannot tell the label attribute; give --label-attribute")
                attr = found[0]
            if answers is None:
                answers = _answers_by_line(source, attr, storage)
            label = line.get(attr)
            if not isinstance(label, dict):
                raise InputError(f"{manifest} line {number + 1}: no {attr} label object")
            annotations = next(answers)
            objects.append(
                ReviewObject(
                    key=f"line {number + 1}",
                    source=line.get("source-ref") if isinstance(line.get("source-ref"), str) else None,
                    text=line.get("source") if isinstance(line.get("source"), str) else None,
                    label=label,
                    answers=[parse_answer(a) for a in annotations or [] if isinstance(a, dict)],
                )
            )
    if attr is None:
        raise InputError(f"{manifest} has no lines")
    return attr, objects


def _from_results(results: Path, source: str | None, storage: CliStorage) -> tuple[str, list[ReviewObject]]:
    elements: dict[str, dict[str, Any]] = {}
    if source is not None:
        document = load_json(storage.read(source), source)
        if isinstance(document, dict):  # an event: its payload
            uri = str((document.get("payload") or {}).get("s3Uri", ""))
            document = load_json(storage.read(uri), uri)
        if not isinstance(document, list):
            raise InputError(f"{source} is neither a consolidation event nor a payload")
        elements = {str(e.get("datasetObjectId")): e for e in document if isinstance(e, dict)}
    attr: str | None = None
    objects = []
    for number, raw in enumerate(results.read_bytes().splitlines()):
        if not raw.strip():
            continue
        entry = load_json(raw, f"{results} line {number + 1}")
        content = (entry.get("consolidatedAnnotation") or {}).get("content") or {}
        attr = attr or _attr_of(content)
        if attr is None or not isinstance(content.get(attr), dict):
            raise InputError(f"{results} line {number + 1}: not a tally response entry")
        object_id = str(entry.get("datasetObjectId"))
        element = elements.get(object_id, {})
        data = element.get("dataObject") or {}
        objects.append(
            ReviewObject(
                key=f"object {object_id}",
                source=data.get("s3Uri"),
                text=data.get("content"),
                label=content[attr],
                answers=[parse_answer(a) for a in element.get("annotations") or [] if isinstance(a, dict)],
            )
        )
    if attr is None:
        raise InputError(f"{results} has no entries")
    return attr, objects


_ARTEFACTS = {
    "mask": "mask-ref",
    "confidence": "confidence-map-ref",
    "instances": "instance-mask-ref",
    "classes": "class-mask-ref",
}


def _read_bytes(obj: ReviewObject, storage: CliStorage) -> list[str]:
    """Read the object's image and masks; the problems, as messages (the page shows what it can)."""
    problems = []
    if obj.source:
        try:
            obj.image = storage.read(obj.source)
        except (TallyError, OSError) as exc:
            obj.image_note = f"source image not read: {type(exc).__name__}"
    for name, key in _ARTEFACTS.items():
        uri = obj.label.get(key)
        if isinstance(uri, str):
            try:
                obj.artefacts[name] = storage.read(uri)
            except (TallyError, OSError) as exc:
                problems.append(f"{obj.key}: cannot read {key} {uri} ({type(exc).__name__})")
    return problems


def load_review(
    target: Path, source: str | None, attr: str | None, storage: CliStorage
) -> tuple[str, list[ReviewObject], list[str]]:
    """The objects to review in ``target`` (a folder or a manifest), their bytes read; and problems."""
    if target.is_dir():
        if (target / "output.manifest").is_file():
            state_file = target / ".reconsolidate.json"
            if state_file.is_file():
                key = load_json(state_file.read_bytes(), str(state_file)).get("key", {})
                source = source or key.get("source")
                attr = attr or key.get("label-attribute")
                copy = target / ".source.manifest"  # where reconsolidate downloaded an s3:// source
                if source and source.startswith("s3://") and storage.local_path(source) is None and copy.is_file():
                    source = str(copy)
            attr, objects = _from_manifest(target / "output.manifest", attr, source, storage)
        elif (target / "results.jsonl").is_file():
            attr, objects = _from_results(target / "results.jsonl", source, storage)
        else:
            raise InputError(f"{target} holds neither output.manifest (tally reconsolidate) nor results.jsonl")
    elif target.is_file():
        attr, objects = _from_manifest(target, attr, source, storage)
    else:
        raise InputError(f"cannot read {target}: no such file or directory")
    reader = LabelReader(storage.read)  # what the response sink moved to S3, read back
    problems = []
    for obj in objects:
        try:
            obj.label = reader.resolve(obj.label)
        except TallyError as exc:
            problems.append(f"{obj.key}: label not read back in full: {exc}")
    problems += [p for obj in objects for p in _read_bytes(obj, storage)]
    return attr, objects, problems


# --- rendering ----------------------------------------------------------------------------------------


def _data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _thumbnail(data: bytes) -> tuple[str, int, int] | None:
    """The source image scaled down, as a data URI, and its original size."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            small = image.convert("RGB")
            small.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
            buf = io.BytesIO()
            small.save(buf, format="JPEG", quality=85)
    except OSError:
        return None
    return _data_uri(buf.getvalue(), "image/jpeg"), width, height


def _class_overlay(indices: npt.NDArray[np.uint8], colour_map: dict[str, Any]) -> bytes:
    """Class keys as an RGBA PNG in the classes' colours, background transparent."""
    table = np.zeros((256, 4), dtype=np.uint8)
    for key, entry in colour_map.items():
        if int(key) != 0 and 0 <= int(key) < 256:
            table[int(key)] = [*hex_to_rgb(str(entry.get("hex-color", "#888888"))), 255]
    return _png(Image.fromarray(table[indices], "RGBA"))


def _heatmap(confidence: npt.NDArray[np.uint8]) -> bytes:
    """Disagreement: red where the winning class got a small share of the vote, clear where it got all."""
    doubt = 255 - confidence.astype(np.int32)
    rgba = np.zeros((*confidence.shape, 4), dtype=np.uint8)
    rgba[..., 0] = 230
    rgba[..., 1] = (60 * (1 - doubt / 255)).astype(np.uint8)
    rgba[..., 3] = np.clip(doubt * 1.6, 0, 235).astype(np.uint8)
    return _png(Image.fromarray(rgba, "RGBA"))


def _colour(name: str, colours: dict[str, str]) -> str:
    if name not in colours:
        colours[name] = PALETTE[len(colours) % len(PALETTE)]
    return colours[name]


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _svg(width: int, height: int, shapes: Iterable[str]) -> str:
    return (
        f'<svg class="layer" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(shapes)}</svg>'
    )


def _boxes_svg(boxes: Iterable[tuple[str, Sequence[float]]], width: int, height: int, colours: dict[str, str]) -> str:
    return _svg(
        width,
        height,
        (
            f'<rect x="{b[0]}" y="{b[1]}" width="{b[2]}" height="{b[3]}" fill="{_colour(n, colours)}" '
            f'fill-opacity="0.18" stroke="{_colour(n, colours)}" stroke-width="2" vector-effect="non-scaling-stroke">'
            f"<title>{_esc(n)}</title></rect>"
            for n, b in boxes
        ),
    )


def _points_svg(points: Iterable[tuple[str, float, float]], width: int, height: int, colours: dict[str, str]) -> str:
    radius = max(1.5, max(width, height) / 60)
    return _svg(
        width,
        height,
        (
            f'<circle cx="{x}" cy="{y}" r="{radius}" fill="{_colour(n, colours)}" stroke="#fff" '
            f'stroke-width="{radius / 3}"><title>{_esc(n)}</title></circle>'
            for n, x, y in points
        ),
    )


def _polygons_svg(polygons: Iterable[Any], width: int, height: int, colours: dict[str, str]) -> str:
    shapes = []
    for polygon in polygons:
        if not isinstance(polygon, dict) or not isinstance(polygon.get("vertices"), list):
            continue
        name = str(polygon.get("label"))
        points = " ".join(f"{float(v['x'])},{float(v['y'])}" for v in polygon["vertices"] if isinstance(v, dict))
        colour = _colour(name, colours)
        shapes.append(
            f'<polygon points="{points}" fill="{colour}" fill-opacity="0.35" stroke="{colour}" stroke-width="2" '
            f'vector-effect="non-scaling-stroke"><title>{_esc(name)}</title></polygon>'
        )
    return _svg(width, height, shapes)


def _marked_text(text: str, spans: Iterable[tuple[str, int, int]], colours: dict[str, str]) -> str:
    out, at = [], 0
    for name, start, end in sorted(spans, key=lambda s: (s[1], s[2])):
        if start < at or end > len(text):
            continue
        out.append(_esc(text[at:start]))
        colour = _colour(name, colours)
        out.append(
            f'<mark style="background:{colour}33;border-bottom:2px solid {colour}" title="{_esc(name)}">'
            f"{_esc(text[start:end])}</mark>"
        )
        at = end
    out.append(_esc(text[at:]))
    return "".join(out)


def _object_labels(obj: ReviewObject) -> list[str]:
    label, kind = obj.label, obj.task_type
    names: list[str] = []
    if kind == "groundtruth/semantic-segmentation" and "mask" in obj.artefacts:
        present = set(np.unique(obj.indices("mask")).tolist())
        names = [e["class-name"] for k, e in label.get("internal-color-map", {}).items() if int(k) in present - {0}]
    elif kind.endswith("-classification"):
        names = [str(label.get("class-name"))]
    elif kind.endswith("-multilabel"):
        names = [str(n) for n in label.get("class-names", [])]
    elif kind == "groundtruth/object-detection":
        names = [str(label.get("class-map", {}).get(str(a["class_id"]))) for a in label.get("annotations", [])]
    elif kind == "groundtruth/keypoint":
        names = [str(p["label"]) for p in label.get("keypoints", [])]
    elif kind == "groundtruth/named-entity-recognition":
        names = [str(e["label"]) for e in label.get("annotations", {}).get("entities", [])]
    elif kind == "groundtruth/instance-segmentation":
        names = [str(i["label"]) for i in label.get("instances", [])]
    return sorted(set(names))


@dataclass
class _Canvas:
    """The object's picture: the source image (or a blank of the right size) and its pixel size. The
    image is inlined once per object, as the background of a CSS class every panel of the object uses."""

    background: str | None
    width: int
    height: int
    css_class: str

    def style(self) -> str:
        if not self.background:
            return ""
        return f'<style>.{self.css_class}{{background-image:url("{self.background}")}}</style>'

    def panel(self, title: str, layers: Sequence[str], caption: str = "", worker: str | None = None) -> str:
        base = (
            f'<div class="base photo {self.css_class}" role="img"></div>'
            if self.background
            else '<div class="base blank">image not available</div>'
        )
        attr = f' data-worker="{_esc(worker)}"' if worker is not None else ""
        return (
            f'<figure class="panel"{attr}><div class="stage" style="aspect-ratio:{self.width}/{self.height}">'
            f"{base}{''.join(layers)}</div><figcaption><b>{_esc(title)}</b> {caption}</figcaption></figure>"
        )


def _canvas(obj: ReviewObject, number: int) -> _Canvas:
    size = (obj.label.get("image_size") or [{}])[0]
    width, height = int(size.get("width", 0) or 0), int(size.get("height", 0) or 0)
    background = None
    if obj.image is not None:
        thumb = _thumbnail(obj.image)
        if thumb is not None:
            background, width, height = thumb
        else:
            obj.image_note = "source image is not an image Pillow reads"
    for name in ("mask", "instances"):
        if (not width or not height) and name in obj.artefacts:
            height, width = obj.indices(name).shape
    return _Canvas(background, width or 4, height or 3, f"photo-{number}")


def _img_layer(data: bytes, opacity: float = 0.55) -> str:
    return f'<img class="layer" style="opacity:{opacity}" src="{_data_uri(data)}" alt="">'


def _consensus_layers(obj: ReviewObject, canvas: _Canvas, colours: dict[str, str]) -> list[str]:
    label, kind = obj.label, obj.task_type
    if kind == "groundtruth/semantic-segmentation" and "mask" in obj.artefacts:
        return [_img_layer(_class_overlay(obj.indices("mask"), label.get("internal-color-map", {})))]
    if kind == "groundtruth/instance-segmentation" and "classes" in obj.artefacts:
        return [_img_layer(_class_overlay(obj.indices("classes"), label.get("internal-color-map", {})))]
    if kind == "groundtruth/object-detection":
        names = label.get("class-map", {})
        boxes = [
            (str(names.get(str(a["class_id"]))), [a["left"], a["top"], a["width"], a["height"]])
            for a in label.get("annotations", [])
        ]
        return [_boxes_svg(boxes, canvas.width, canvas.height, colours)]
    if kind == "groundtruth/keypoint":
        points = [(str(p["label"]), float(p["x"]), float(p["y"])) for p in label.get("keypoints", [])]
        return [_points_svg(points, canvas.width, canvas.height, colours)]
    return []


def _answer_layers(obj: ReviewObject, answer: Answer, canvas: _Canvas, colours: dict[str, str]) -> list[str]:
    value, kind = answer.value, obj.task_type
    if value is None:
        return []
    if isinstance(value.get("polygons"), list):
        return [_polygons_svg(value["polygons"], canvas.width, canvas.height, colours)]
    if kind in ("groundtruth/semantic-segmentation", "groundtruth/instance-segmentation"):
        png = (value.get("labeledImage") or {}).get("pngImageData")
        if isinstance(png, str):
            try:
                return [_img_layer(base64.b64decode(png), 0.6)]
            except ValueError:
                return []
    if kind == "groundtruth/object-detection":
        boxes = [
            (str(b.get("label")), [b["left"], b["top"], b["width"], b["height"]])
            for b in value.get("boundingBoxes", [])
        ]
        return [_boxes_svg(boxes, canvas.width, canvas.height, colours)]
    if kind == "groundtruth/keypoint":
        points = [(str(p.get("label")), float(p["x"]), float(p["y"])) for p in value.get("keypoints", [])]
        return [_points_svg(points, canvas.width, canvas.height, colours)]
    return []


def _answer_summary(obj: ReviewObject, answer: Answer, colours: dict[str, str]) -> str:
    value, kind = answer.value, obj.task_type
    if value is None:
        return f'<span class="bad">{_esc(answer.error)}</span>'
    if kind.endswith("-classification"):
        return _esc(value.get("label"))
    if kind.endswith("-multilabel"):
        return _esc(", ".join(str(v) for v in value.get("labels") or []) or "(none)")
    if kind == "groundtruth/named-entity-recognition":
        spans = [(str(e.get("label")), int(e["startOffset"]), int(e["endOffset"])) for e in value.get("entities", [])]
        return f'<p class="text">{_marked_text(obj.text or "", spans, colours)}</p>'
    return ""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _rejections(label: dict[str, Any]) -> dict[str, str]:
    return {str(r.get("workerId")): str(r.get("reason")) for r in label.get("rejected-answers", []) or []}


def _quality(label: dict[str, Any]) -> dict[str, tuple[str, float]]:
    """Each worker's quality figure in this label's ``worker-quality`` (its first numeric measure)."""
    out = {}
    for entry in label.get("worker-quality", []) or []:
        for key in ("reliability", "accuracy", "agreement", "precision", "weight"):
            if isinstance(entry.get(key), int | float):
                out[str(entry.get("workerId"))] = (key, float(entry[key]))
                break
    return out


def _card(obj: ReviewObject, number: int, colours: dict[str, str], agreements: dict[str, float | None]) -> str:
    canvas = _canvas(obj, number)
    label, kind = obj.label, obj.task_type
    rejected = _rejections(label)
    labels = _object_labels(obj)
    workers = [a.worker_id for a in obj.answers]
    status = (
        f'<span class="bad">failed: {_esc(obj.failure)}</span>'
        if obj.failure is not None
        else f"confidence <b>{_pct(obj.confidence)}</b>"
    )
    visual = kind not in ("groundtruth/named-entity-recognition", "groundtruth/custom") and not kind.endswith(
        ("-classification", "-multilabel")
    )
    panels: list[str] = []
    if visual:
        consensus = "" if obj.failure else _esc(", ".join(labels) or "nothing")
        panels.append(canvas.panel("consensus", _consensus_layers(obj, canvas, colours), consensus))
        if "confidence" in obj.artefacts:
            heat = _img_layer(_heatmap(obj.indices("confidence")), 1.0)
            panels.append(canvas.panel("disagreement", [heat], "red: the crowd was split"))
    elif kind == "groundtruth/named-entity-recognition" and obj.failure is None:
        spans = [
            (str(e["label"]), int(e["startOffset"]), int(e["endOffset"])) for e in label["annotations"]["entities"]
        ]
        panels.append(
            f'<figure class="panel wide"><p class="text">{_marked_text(obj.text or "", spans, colours)}</p>'
            "<figcaption><b>consensus</b></figcaption></figure>"
        )
    elif obj.failure is None and labels:
        panels.append(
            f'<figure class="panel wide"><p class="verdict">{_esc(", ".join(labels))}</p>'
            "<figcaption><b>consensus</b></figcaption></figure>"
        )
    for answer in obj.answers:
        agree = agreements.get(answer.worker_id)
        note = f"agreement {_pct(agree)}"
        if answer.worker_id in rejected:
            note = f'<span class="bad">rejected: {_esc(rejected[answer.worker_id])}</span>'
        summary = _answer_summary(obj, answer, colours)
        if visual:
            panels.append(
                canvas.panel(
                    answer.worker_id,
                    _answer_layers(obj, answer, canvas, colours),
                    f"{note} {summary}",
                    answer.worker_id,
                )
            )
        else:
            panels.append(
                f'<figure class="panel wide" data-worker="{_esc(answer.worker_id)}"><div class="verdict">{summary}</div>'
                f"<figcaption><b>{_esc(answer.worker_id)}</b> {note}</figcaption></figure>"
            )
    image_note = f'<span class="note">{_esc(obj.image_note)}</span>' if obj.image_note else ""
    legend = "".join(f'<span class="chip" style="border-color:{_colour(n, colours)}">{_esc(n)}</span>' for n in labels)
    data_labels = _esc(json.dumps(labels))
    data_workers = _esc(json.dumps(workers))
    return (
        f'<section class="object" data-labels="{data_labels}" data-workers="{data_workers}">{canvas.style()}'
        f'<header><h2>{_esc(obj.key)}</h2><span class="type">{_esc(kind.removeprefix("groundtruth/"))}</span>'
        f'{status} <span class="src">{_esc(obj.source or "")}</span> {image_note} {legend}</header>'
        f'<div class="panels">{"".join(panels)}</div></section>'
    )


def _sort_key(obj: ReviewObject) -> tuple[int, float]:
    if obj.failure is not None:
        return (0, 0.0)
    if obj.confidence is None:
        return (2, 0.0)
    return (1, obj.confidence)


_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}
header.top{background:#232f3e;color:#fff;padding:12px 20px}
header.top h1{margin:0;font-size:20px} header.top p{margin:4px 0 0;color:#c8d0da}
main{padding:12px 20px}
.filters{display:flex;gap:16px;align-items:center;margin:8px 0 14px;flex-wrap:wrap}
.filters select{font-size:14px;padding:2px 4px}
table{border-collapse:collapse;background:#fff;margin-bottom:16px}
th,td{border:1px solid #d5d9de;padding:4px 10px;text-align:right} th:first-child,td:first-child{text-align:left}
th{background:#eaedf0}
.object{background:#fff;border:1px solid #d5d9de;border-radius:6px;margin:0 0 14px;padding:10px 12px}
.object header{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.object h2{font-size:16px;margin:0}
.type{background:#eaedf0;border-radius:4px;padding:0 6px;font-size:12px}
.src{color:#667;font-size:12px} .note{color:#a55;font-size:12px}
.chip{border-left:10px solid;padding:0 6px;font-size:12px;background:#f7f7f7}
.panels{display:flex;flex-wrap:wrap;gap:10px;margin-top:8px}
.panel{margin:0;width:220px} .panel.wide{width:auto;min-width:160px;max-width:460px}
.stage{position:relative;width:220px;background:#ccc;overflow:hidden;border-radius:3px}
.stage .base{position:absolute;inset:0;width:100%;height:100%}
.stage .photo{background-size:100% 100%;background-repeat:no-repeat}
.stage .blank{display:flex;align-items:center;justify-content:center;color:#555;font-size:12px;background:#ddd}
.stage .layer{position:absolute;inset:0;width:100%;height:100%;image-rendering:pixelated}
figcaption{font-size:12px;margin-top:3px;word-break:break-all}
.bad{color:#b00020} .verdict{font-size:15px;padding:6px 0} .text{margin:4px 0;font-size:14px}
.hidden{display:none}
"""

_SCRIPT = """
(function () {
  var byLabel = document.getElementById('filter-label');
  var byWorker = document.getElementById('filter-worker');
  var count = document.getElementById('visible-count');
  function apply() {
    var label = byLabel.value, worker = byWorker.value, shown = 0;
    document.querySelectorAll('section.object').forEach(function (card) {
      var labels = JSON.parse(card.dataset.labels), workers = JSON.parse(card.dataset.workers);
      var ok = (!label || labels.indexOf(label) >= 0) && (!worker || workers.indexOf(worker) >= 0);
      card.classList.toggle('hidden', !ok);
      if (ok) { shown += 1; }
      card.querySelectorAll('[data-worker]').forEach(function (panel) {
        panel.classList.toggle('hidden', !!worker && panel.dataset.worker !== worker);
      });
    });
    count.textContent = String(shown);
  }
  byLabel.addEventListener('change', apply);
  byWorker.addEventListener('change', apply);
  apply();
})();
"""


def render_report(
    objects: Sequence[ReviewObject], attr: str, title: str = "tally review", *, limit: int | None = None
) -> str:
    """The review page for ``objects`` (their bytes already read), as one self-contained HTML string;
    with ``limit``, only the ``limit`` least confident objects get a card."""
    colours: dict[str, str] = {}
    for obj in objects:  # the job's own colours first, so overlays and chips agree
        for entry in obj.label.get("internal-color-map", {}).values():
            if entry.get("class-name") != "BACKGROUND":
                colours.setdefault(str(entry["class-name"]), str(entry.get("hex-color", "#888888")))
    ordered = sorted(objects, key=_sort_key)
    stats: dict[str, dict[str, Any]] = {}
    cards: list[str] = []
    for obj in ordered:
        agreements = {a.worker_id: agreement(obj, a) for a in obj.answers}
        quality = _quality(obj.label)
        rejected = _rejections(obj.label)
        for answer in obj.answers:
            s = stats.setdefault(answer.worker_id, {"answers": 0, "rejected": 0, "agree": [], "quality": []})
            s["answers"] += 1
            s["rejected"] += answer.worker_id in rejected or answer.value is None
            if agreements[answer.worker_id] is not None:
                s["agree"].append(agreements[answer.worker_id])
            if answer.worker_id in quality:
                s["quality"].append(quality[answer.worker_id])
        if limit is None or len(cards) < limit:
            cards.append(_card(obj, len(cards), colours, agreements))
    rows = []
    for worker in sorted(stats):
        s = stats[worker]
        measures = sorted({k for k, _ in s["quality"]})
        q = [v for _, v in s["quality"]]
        quality_text = f"{np.mean(q):.2f} ({', '.join(measures)})" if q else "–"
        agree_text = _pct(float(np.mean(s["agree"]))) if s["agree"] else "–"
        rows.append(
            f'<tr data-worker-row="{_esc(worker)}"><td>{_esc(worker)}</td><td>{quality_text}</td><td>{s["answers"]}</td>'
            f"<td>{s['rejected']}</td><td>{agree_text}</td></tr>"
        )
    all_labels = sorted({n for obj in objects for n in _object_labels(obj)})
    label_options = "".join(f'<option value="{_esc(n)}">{_esc(n)}</option>' for n in all_labels)
    worker_options = "".join(f'<option value="{_esc(w)}">{_esc(w)}</option>' for w in sorted(stats))
    failed = sum(o.failure is not None for o in objects)
    scored = [o.confidence for o in objects if o.confidence is not None]
    mean = f"{np.mean(scored):.3f}" if scored else "n/a"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>{_STYLE}</style></head>
<body><header class="top"><h1>{_esc(title)}</h1>
<p>label attribute <b>{_esc(attr)}</b> · {len(objects)} objects · {failed} failed · mean confidence {mean} ·
least confident first</p></header>
<main>
<h2>Workers</h2>
<table id="workers"><thead><tr><th>worker</th><th>quality (mean, measure)</th><th>answers</th><th>rejected</th>
<th>agreement with consensus</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<div class="filters">
<label>label <select id="filter-label"><option value="">all labels</option>{label_options}</select></label>
<label>worker <select id="filter-worker"><option value="">all workers</option>{worker_options}</select></label>
<span><b id="visible-count">{len(cards)}</b> of {len(objects)} objects shown</span>
</div>
{"".join(cards)}
</main>
<script>{_SCRIPT}</script>
</body></html>
"""


# --- the command --------------------------------------------------------------------------------------


@click.command(
    epilog="Exit codes: 0 the page written, 1 the page written but some objects failed or their masks were "
    "not read, 2 usage error, 3 input/runtime error (nothing written), 130 interrupted."
)
@click.argument("target", metavar="DIR_OR_MANIFEST", type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=True, dir_okay=False, writable=True, path_type=Path),
    help="The HTML file to write.",
)
@click.option(
    "--source",
    metavar="SOURCE",
    help="Where the worker answers are: the source manifest or job output prefix (for a manifest; a "
    "reconsolidate folder records its own), or the event/payload (for a consolidate folder).",
)
@click.option("--label-attribute", "attr", metavar="ATTR", help="The label attribute [default: found in the input].")
@click.option(
    "--s3-root",
    type=click.Path(exists=True, file_okay=False, dir_okay=True),
    help="Directory standing in for S3, for images and masks referenced as s3:// URIs.",
)
@click.option("--title", default="tally review", show_default=True, help="The page's title.")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    help="Show only the N least confident objects (failed ones first); the worker table still counts all.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar [default: when stderr is a terminal]."
)
def report(
    target: Path,
    out: Path,
    source: str | None,
    attr: str | None,
    s3_root: str | None,
    title: str,
    limit: int | None,
    progress: bool | None,
) -> int:
    """Write an offline HTML page to review a consolidated batch.

    DIR_OR_MANIFEST is a tally reconsolidate output folder (its recorded source gives the answers), a
    tally consolidate output folder (give the event or payload as --source for the answers and images),
    or a tally output manifest (give the manifest or job output prefix holding the answers as --source).
    Per object: the source image (when it can be read) with the consensus and each worker's answer as
    overlays, a disagreement heatmap for segmentation, each worker's agreement with the consensus;
    objects least confident first; a per-worker table; filters by label and by worker. Images are
    inline: the page opens offline.

    \b
    Examples:
      tally report out/street --s3-root ./s3 --out street-review.html
      tally report out/b1 --source payload.json --s3-root ./s3 --out b1-review.html
    """
    storage = CliStorage(s3_root)
    try:
        attr, objects, problems = load_review(target, source, attr, storage)
    except TallyError as exc:
        raise InputError(str(exc)) from exc
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    for obj in objects:
        if obj.failure is not None:
            click.echo(f"warning: {obj.key}: not consolidated: {obj.failure}", err=True)
    with progress_bar(progress, stderr_console()) as bar:
        task = bar.add_task("rendering", total=1)
        page = render_report(objects, attr, title, limit=limit)
        bar.advance(task)
    write_atomically(out, lambda fh: fh.write(page))
    shown = sum(len(o.answers) for o in objects)
    click.echo(f"objects: {len(objects)} ({sum(o.failure is not None for o in objects)} failed), answers: {shown}")
    click.echo(f"written: {out}")
    return ExitCode.FAILED_OBJECTS if problems or any(o.failure is not None for o in objects) else ExitCode.OK
