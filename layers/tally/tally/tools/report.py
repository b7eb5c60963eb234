"""``tally report``: one self-contained HTML page to review a consolidated batch.

What it reads (:func:`load_review`): a ``tally reconsolidate`` output folder (``output.manifest``; the
worker answers come from the source it recorded in ``.reconsolidate.json``), a ``tally consolidate``
output folder or its ``results.jsonl`` (with the batch's event or payload given as ``--source`` for the
answers and images), or a tally output manifest (with ``--source``: the manifest, or job output prefix,
holding the answers, line by line). Images and masks are read from disk or an S3 mirror (``--s3-root``).

What it shows (:func:`render_report`, pure: objects in, HTML out): per object the source image with
the consolidated result and each worker's answer as overlays, every one in the consensus's colours (a
worker's mask is read through its own ``labelMappings`` to label names first; masks as translucent
layers, instances each in a shade of their class's colour with their confidence, boxes and keypoints
drawn, entities marked in the text), a disagreement heatmap for segmentation (from
``confidence-map-ref``), the label's ``disputed-regions``, each worker's agreement with the consensus
and quality figure (``null``: n/a); objects needing review first (:func:`review_reasons`: failed, with
disputed regions, or a confidence below ``--review-below``), least agreed first within each group; a
per-worker table ranked by quality (workers with no figure last); filters by label, by worker and
needs review (plain JS). Everything is inline (data URIs); the page makes no request.
"""

from __future__ import annotations

import base64
import io
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
import numpy.typing as npt
from PIL import Image

from ..codecs import decode_class_runs, decode_png, index_mask
from ..colours import ABSTAIN, hex_to_rgb, rgb_to_hex
from ..errors import TallyError
from ..gt.answers import answer_elements
from ..gt.sink import LabelReader
from ..tasks.figures import (
    Boxes,
    ClassMask,
    Figure,
    InstanceMask,
    LineStrokes,
    MarkedText,
    Overlay,
    Points,
    Polygons,
    WorkerMask,
)
from ..tasks.kind import TaskKind
from ..tasks.registry import element_keys, kind_of
from . import _figures
from ._common import (
    CliStorage,
    ExitCode,
    InputError,
    counted,
    load_json,
    progress_bar,
    stderr_console,
    write_atomically,
)
from ._figures import esc as _esc
from ._figures import pct as _pct
from ._sources import JobIndex, line_annotations, located_annotations

__all__ = ["Answer", "ReviewObject", "agreement", "load_review", "render_report", "report", "review_reasons"]

MAX_IMAGE_SIDE = 480
"""Source images are scaled down to this many pixels on their longer side before being inlined."""

REVIEW_BELOW = 0.7
"""An object, instance or box whose confidence is below this needs review (``--review-below``)."""
UNKNOWN_HEX = "#303030"
"""Where a worker painted in a colour they did not map to a label, or a label the job lacks."""

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


@dataclass
class Answer:
    """One worker's answer: the element's value (``None`` when it could not be parsed; ``error`` says why)."""

    worker_id: str
    value: dict[str, Any] | None
    error: str | None = None
    _regions: tuple[npt.NDArray[np.int16], list[str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _decoded: bool = field(default=False, init=False, repr=False, compare=False)

    def regions(self) -> tuple[npt.NDArray[np.int16], list[str]] | None:
        """A segmentation answer's PNG as regions, decoded once: ``(ids, names)`` where pixel ``ids`` is
        0 where nothing was painted, ``i + 1`` where region ``i`` (label ``names[i]``) was, and -1 where
        the colour is none of the answer's own (``labelMappings`` of a semantic answer, ``instances`` of an
        instance answer); ``None`` when the answer has no readable PNG."""
        if not self._decoded:
            self._decoded = True
            self._regions = None if self.value is None else _worker_regions(self.value)
        return self._regions

    def release(self) -> None:
        """Forget the decoded regions (decoded again when next asked for): a page holds one object's."""
        self._regions, self._decoded = None, False


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
    image_reason: str | None = None  # why the image was not read, without its name (stderr groups by it)
    artefacts: dict[str, bytes] = field(default_factory=dict)
    _decoded: dict[str, npt.NDArray[np.uint8]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _typed: list[tuple[TaskKind, Any] | None] = field(default_factory=list, init=False, repr=False, compare=False)

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
    keys = element_keys("")  # every kind's: an element the registry's shapes mark
    if isinstance(document, dict) and not keys & set(document):
        # {elementName: value}, possibly beside other form fields: the value that looks like an answer
        values = [v[0] if isinstance(v, list) and len(v) == 1 else v for v in document.values()]
        found = [v for v in values if isinstance(v, dict) and keys & set(v)]
        whole = document
        document = found[0] if found else values[0] if len(values) == 1 else document
        if not isinstance(document, dict):  # a form's only field as a bare value, a text ranking's output
            document = next(iter(answer_elements(whole)), document)
    if not isinstance(document, dict):
        return Answer(worker, None, "content is not a JSON object")
    return Answer(worker, document)


def _indices(data: bytes) -> npt.NDArray[np.uint8]:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image if image.mode == "P" else image.convert("L"), dtype=np.uint8)


def _worker_regions(value: dict[str, Any]) -> tuple[npt.NDArray[np.int16], list[str]] | None:
    """See :meth:`Answer.regions`: the worker's own colours mapped to their labels by the
    consolidation's own colour rules (:mod:`tally.codecs`: transparent, or black or white no label
    uses, is unpainted; a colour within ``SNAP_TOLERANCE`` of one label colour is that label), never
    drawn as they are: a worker's colours are theirs, the page's are the consensus's."""
    if isinstance(value.get("instances"), list):  # crowd-instance-segmentation: one region per instance
        regions = [(i.get("label"), i.get("color")) for i in value["instances"] if isinstance(i, dict)]
    else:
        mappings = value.get("labelMappings")
        regions = (
            [(n, m.get("color")) for n, m in mappings.items() if isinstance(m, dict)]
            if isinstance(mappings, dict)
            else []
        )
    names: list[str] = []
    colours: dict[tuple[int, int, int], int] = {}
    for name, colour in regions:
        try:
            rgb = hex_to_rgb(str(colour))
        except ValueError:
            continue
        if len(names) < ABSTAIN - 1:
            names.append(str(name))
            colours[rgb] = len(names)
    try:
        image = value["labeledImage"]
        if isinstance(image, dict) and "classRuns" in image:  # an importer's decoded mask: by label order
            return _decoded_regions(value)
        mask = index_mask(decode_png(str(image["pngImageData"])), colours)
    except (KeyError, TypeError, ValueError, TallyError):
        return None
    classes = mask.classes()
    ids = classes.astype(np.int16)
    ids[classes == ABSTAIN] = -1
    return ids, names


def _decoded_regions(value: dict[str, Any]) -> tuple[npt.NDArray[np.int16], list[str]]:
    """A semantic answer's decoded class array (``classRuns``): region *i* is its *i*-th label."""
    mappings = value.get("labelMappings")
    names = [str(name) for name in mappings] if isinstance(mappings, dict) else []
    size = value["inputImageProperties"]
    runs = value["labeledImage"]["classRuns"]
    indices = decode_class_runs(runs, int(size["width"]), int(size["height"]), len(names))
    return indices.astype(np.int16), names


def agreement(obj: ReviewObject, answer: Answer) -> float | None:
    """How far ``answer`` agrees with the consensus, 0–1 (``None``: not measurable): the kind's
    ``agreement`` view (:mod:`tally.tasks.kind`) of the object's typed result.

    Segmentation: the share of pixels where the worker's class is the consensus class; classification:
    1 or 0 (multi-label: Jaccard of the label sets); boxes: F1 of boxes matched at IoU ≥ 0.5 with the
    same label; keypoints: F1 of points with the same label within 5% of the image diagonal; entities:
    F1 of identical spans; instances: the share of instances (worker's or consensus's, the larger
    count) the fusion matched to this worker.
    """
    typed = _typed(obj)
    if answer.value is None or typed is None:
        return None
    return typed[0].views.agreement(typed[1], obj, answer)


def _typed(obj: ReviewObject) -> tuple[TaskKind, Any] | None:
    """The object's kind and its label read back into the kind's typed result (``None``: failed, a
    type no kind reads, a kind without a typed result, or a label the kind cannot read), read once."""
    if not obj._typed:
        obj._typed.append(_read_typed(obj))
    return obj._typed[0]


def _read_typed(obj: ReviewObject) -> tuple[TaskKind, Any] | None:
    kind = kind_of(obj.task_type)
    if obj.failure is not None or kind is None or kind.from_gt is None:
        return None
    try:
        return kind, kind.from_gt(obj.label)
    except (KeyError, TypeError, ValueError):
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
            path = storage.local_path(obj.source)
            if path is not None and obj.source.startswith("s3://") and not path.exists():
                obj.image_reason = "not in the --s3-root mirror"
                obj.image_note = f"source image not read: {path} does not exist"
            else:
                obj.image_reason = str(exc).removeprefix(f"cannot read {obj.source}: ")
                obj.image_note = f"source image not read: {obj.image_reason}"
    for name, key in _ARTEFACTS.items():
        uri = obj.label.get(key)
        if isinstance(uri, str):
            try:
                obj.artefacts[name] = storage.read(uri)
            except (TallyError, OSError) as exc:
                problems.append(f"{obj.key}: cannot read {key} {uri} ({type(exc).__name__})")
    return problems


def _is_results(path: Path) -> bool:
    """Whether ``path`` is a ``tally consolidate`` results file (its first line a response entry, with
    ``consolidatedAnnotation``) rather than an output manifest."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh):
            if raw.strip():
                entry = load_json(raw, f"{path} line {number + 1}")
                return isinstance(entry, dict) and "consolidatedAnnotation" in entry
    return False


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
    elif target.is_file() and _is_results(target):
        attr, objects = _from_results(target, source, storage)
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


def _palette_png(indices: npt.NDArray[np.uint8], table: npt.NDArray[np.uint8]) -> bytes:
    """``indices`` drawn through ``table`` (RGBA per index, at most 256) as a palette PNG with its
    alpha in tRNS: the pixels of ``table[indices]``, at a fraction of an RGBA PNG's encoding time and size."""
    image = Image.fromarray(np.ascontiguousarray(indices, dtype=np.uint8), "P")
    image.putpalette(table[:, :3].tobytes(), rawmode="RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", transparency=table[:, 3].tobytes())
    return buf.getvalue()


def _class_overlay(indices: npt.NDArray[np.uint8], colour_map: dict[str, Any]) -> bytes:
    """Class keys as a PNG in the classes' colours, background transparent."""
    table = np.zeros((256, 4), dtype=np.uint8)
    for key, entry in colour_map.items():
        if int(key) != 0 and 0 <= int(key) < 256:
            table[int(key)] = [*hex_to_rgb(str(entry.get("hex-color", "#888888"))), 255]
    return _palette_png(indices, table)


def _shade(colour: str, step: float) -> str:
    """``colour`` mixed with white (``step`` > 0) or black (``step`` < 0) by ``|step|``."""
    r, g, b = (round(c + (255 - c) * step) if step >= 0 else round(c * (1 + step)) for c in hex_to_rgb(colour))
    return rgb_to_hex((r, g, b))


_SHADES = (0.0, 0.5, -0.45, 0.75, -0.65, 0.3, -0.25, 0.88)
"""The k-th instance of a class is drawn in its class colour shaded by ``_SHADES[k]``: instances stay
in their class's hue (the legend holds) and two of one class never look alike."""


def _instance_colours(names: Sequence[str], colour_of: Callable[[str], str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        k = seen.get(name, 0)
        seen[name] = k + 1
        base = colour_of(name)
        out.append(base if base == UNKNOWN_HEX else _shade(base, _SHADES[k % len(_SHADES)]))
    return out


def _edges(ids: npt.NDArray[np.int16]) -> npt.NDArray[np.bool_]:
    """Pixels of a region (id > 0) within a few pixels of another region or of nothing."""
    t = max(1, round(max(ids.shape) / 200))
    edge = np.zeros(ids.shape, dtype=bool)
    if ids.shape[0] > t:
        rows = ids[t:, :] != ids[:-t, :]
        edge[t:, :] |= rows
        edge[:-t, :] |= rows
    if ids.shape[1] > t:
        cols = ids[:, t:] != ids[:, :-t]
        edge[:, t:] |= cols
        edge[:, :-t] |= cols
    return edge & (ids > 0)


def _regions_overlay(ids: npt.NDArray[np.int16], colours: Sequence[str], *, outline: bool = False) -> bytes:
    """Regions as a PNG: region ``i + 1`` in ``colours[i]``, -1 (or an id beyond them) in
    :data:`UNKNOWN_HEX`, 0 transparent; with ``outline``, each region's edge in a darker shade."""
    n = len(colours)
    table = np.zeros((n + 2, 4), dtype=np.uint8)
    table[0] = [*hex_to_rgb(UNKNOWN_HEX), 255]
    for i, colour in enumerate(colours):
        table[i + 2] = [*hex_to_rgb(colour), 255]
    index = ids.astype(np.int32) + 1
    index[index > n + 1] = 0
    if outline:  # the darker shades follow in the table: region i's edge is entry n + 2 + i
        dark = table[2:].copy()
        dark[:, :3] = (dark[:, :3].astype(np.uint16) * 45 // 100).astype(np.uint8)
        table = np.concatenate([table, dark])
        edge = _edges(ids) & (index >= 2)
        index[edge] += n
    if len(table) <= 256:
        return _palette_png(index.astype(np.uint8), table)
    return _png(Image.fromarray(table[index], "RGBA"))  # more than 127 outlined regions


def _numbers_svg(ids: npt.NDArray[np.int16], count: int, width: int, height: int) -> str:
    """Each region's number (1, 2, ...) at its centroid, for the consensus's instances."""
    h, w = ids.shape
    flat = ids.ravel().astype(np.int64)
    inside = (flat > 0) & (flat <= count)
    ys, xs = np.divmod(np.flatnonzero(inside), w)
    n = np.bincount(flat[inside], minlength=count + 1)
    sx = np.bincount(flat[inside], weights=xs + 0.5, minlength=count + 1)
    sy = np.bincount(flat[inside], weights=ys + 0.5, minlength=count + 1)
    size = max(width, height) / 16
    shapes = [
        f'<text x="{sx[k] / n[k] * width / w:.1f}" y="{sy[k] / n[k] * height / h:.1f}" font-size="{size:.1f}" '
        f'text-anchor="middle" dominant-baseline="central" class="num">{k}</text>'
        for k in range(1, count + 1)
        if n[k]
    ]
    return _svg(width, height, shapes)


def _heatmap(confidence: npt.NDArray[np.uint8]) -> bytes:
    """Disagreement: red where the winning class got a small share of the vote, clear where it got all."""
    doubt = 255 - np.arange(256, dtype=np.int32)  # per confidence value
    table = np.zeros((256, 4), dtype=np.uint8)
    table[:, 0] = 230
    table[:, 1] = (60 * (1 - doubt / 255)).astype(np.uint8)
    table[:, 3] = np.clip(doubt * 1.6, 0, 235).astype(np.uint8)
    return _palette_png(confidence, table)


def _colour(name: str, colours: dict[str, str]) -> str:
    if name not in colours:
        colours[name] = PALETTE[len(colours) % len(PALETTE)]
    return colours[name]


def _svg(width: int, height: int, shapes: Iterable[str]) -> str:
    return (
        f'<svg class="layer" viewBox="0 0 {width} {height}" preserveAspectRatio="none" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(shapes)}</svg>'
    )


def _boxes_svg(
    boxes: Sequence[tuple[str, Sequence[float]]],
    width: int,
    height: int,
    colours: dict[str, str],
    tags: Sequence[str] | None = None,
) -> str:
    """Boxes in their label's colour; with ``tags`` (the consensus's), each box's tag in its corner and
    its tooltip."""
    size = max(width, height) / 22
    shapes = []
    for k, (n, b) in enumerate(boxes):
        tag = tags[k] if tags is not None else None
        title = _esc(n if tag is None else f"{tag}")
        shapes.append(
            f'<rect x="{b[0]}" y="{b[1]}" width="{b[2]}" height="{b[3]}" fill="{_colour(n, colours)}" '
            f'fill-opacity="0.18" stroke="{_colour(n, colours)}" stroke-width="2" vector-effect="non-scaling-stroke">'
            f"<title>{title}</title></rect>"
        )
        if tag is not None:
            shapes.append(
                f'<text x="{float(b[0]) + size * 0.2:.1f}" y="{float(b[1]) + size * 0.2:.1f}" font-size="{size:.1f}" '
                f'dominant-baseline="hanging" class="num">{k + 1}</text>'
            )
    return _svg(width, height, shapes)


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


def _lines_svg(
    lines: Iterable[tuple[str, Sequence[tuple[float, float]]]],
    width: int,
    height: int,
    colours: dict[str, str],
    tags: Sequence[str] | None = None,
) -> str:
    """Open lines in their label's colour; with ``tags`` (the consensus's), each line's tag as its tooltip."""
    shapes = []
    for k, (name, vertices) in enumerate(lines):
        points = " ".join(f"{float(x)},{float(y)}" for x, y in vertices)
        colour = _colour(name, colours)
        title = _esc(name if tags is None else tags[k])
        shapes.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="3" '
            f'vector-effect="non-scaling-stroke"><title>{title}</title></polyline>'
        )
    return _svg(width, height, shapes)


def _consensus_figure(obj: ReviewObject) -> Figure | None:
    """The consensus as a figure, for a kind the page does not draw over an image."""
    typed = _typed(obj)
    return None if typed is None else typed[0].views.figure(typed[1])


def _object_labels(obj: ReviewObject) -> list[str]:
    typed = _typed(obj)
    return [] if typed is None else sorted(set(typed[0].views.labels(typed[1], obj)))


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


def _items(obj: ReviewObject) -> list[tuple[str, float | None]]:
    """The consensus's items numbered on the page (instances, boxes), from 1 in this order:
    ``(label, confidence)`` each."""
    typed = _typed(obj)
    return [] if typed is None else typed[0].views.items(typed[1])


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _item_tag(k: int, name: str, confidence: float | None) -> str:
    return f"#{k + 1} {name} {_pct(confidence)}"


def review_reasons(obj: ReviewObject, review_below: float = REVIEW_BELOW) -> list[str]:
    """Why ``obj`` needs a person's look (empty: it does not): it failed; the crowd split on regions
    of it (``disputed-regions``); its confidence, or an instance's or box's, is below ``review_below``."""
    if obj.failure is not None:
        return [f"not consolidated: {obj.failure}"]
    reasons = []
    disputed = obj.label.get("disputed-regions")
    if isinstance(disputed, list) and disputed:
        reasons.append(counted(len(disputed), "disputed region"))
    if obj.confidence is not None and obj.confidence < review_below:
        reasons.append(f"confidence {_pct(obj.confidence)} < {_pct(review_below)}")
    low = [
        _item_tag(k, name, confidence)
        for k, (name, confidence) in enumerate(_items(obj))
        if confidence is not None and confidence < review_below
    ]
    if low:
        reasons.append(f"below {_pct(review_below)}: {', '.join(low)}")
    return reasons


def _disputed_html(obj: ReviewObject) -> str:
    """The label's ``disputed-regions``: classes, area, what was decided, who said what."""
    regions = obj.label.get("disputed-regions")
    if not isinstance(regions, list) or not regions:
        return ""
    if "mask" in obj.artefacts:
        total = int(obj.indices("mask").size)
    else:
        size = (obj.label.get("image_size") or [{}])[0]
        total = int(size.get("width", 0) or 0) * int(size.get("height", 0) or 0)
    rows = []
    for region in regions:
        if not isinstance(region, dict):
            continue
        classes = " vs ".join(str(c) for c in region.get("classes", []) or [])
        pixels = _number(region.get("pixels"))
        area = "" if pixels is None else f"{pixels:,.0f} px" + (f" ({100 * pixels / total:.1f}%)" if total else "")
        decided = region.get("decided")
        confidence = _number(region.get("confidence"))
        workers_of = region.get("workers")
        said: dict[str, Any] = workers_of if isinstance(workers_of, dict) else {}
        who = "; ".join(
            f"<b>{_esc('nothing' if name == 'none' else name)}</b>: "
            f"{_esc(', '.join(str(w) for w in workers) if isinstance(workers, list) else workers)}"
            for name, workers in said.items()
        )
        parts = [f"<b>{_esc(classes)}</b>", area, f"decided <b>{_esc(decided)}</b> (confidence {_pct(confidence)})"]
        rows.append(f"<li>{' · '.join(p for p in parts if p)}{' · ' + who if who else ''}</li>")
    return (
        '<div class="disputed"><b>disputed regions</b> (the workers gave these areas different classes)'
        f"<ul>{''.join(rows)}</ul></div>"
    )


def _consensus_layers(obj: ReviewObject, canvas: _Canvas, colours: dict[str, str]) -> list[str]:
    typed = _typed(obj)
    if typed is None:
        return []
    tags = [_item_tag(k, n, c) for k, (n, c) in enumerate(_items(obj))]
    return _draw(typed[0].views.consensus(typed[1], obj, tags), obj, None, canvas, colours, set())


def _draw(
    overlays: Sequence[Overlay],
    obj: ReviewObject,
    answer: Answer | None,
    canvas: _Canvas,
    colours: dict[str, str],
    classes: set[str],
) -> list[str]:
    """The layers that draw what a view returned (:mod:`tally.tasks.figures`: the view says what, the
    page says how)."""
    layers: list[str] = []
    for overlay in overlays:
        match overlay:
            case ClassMask(artefact, colour_map):
                layers.append(_img_layer(_class_overlay(obj.indices(artefact), dict(colour_map))))
            case InstanceMask(artefact, names):
                ids = obj.indices(artefact).astype(np.int16)
                tones = _instance_colours(names, lambda n: _colour(n, colours))
                layers.append(_img_layer(_regions_overlay(ids, tones, outline=True)))
                layers.append(_numbers_svg(ids, len(names), canvas.width, canvas.height))
            case Boxes(boxes, tags):
                layers.append(_boxes_svg(boxes, canvas.width, canvas.height, colours, tags))
            case Points(points):
                layers.append(_points_svg(points, canvas.width, canvas.height, colours))
            case Polygons(polygons):
                layers.append(_polygons_svg(polygons, canvas.width, canvas.height, colours))
            case LineStrokes(lines, tags):
                layers.append(_lines_svg(lines, canvas.width, canvas.height, colours, tags))
            case WorkerMask(instances):
                regions = None if answer is None else answer.regions()
                if regions is None:
                    continue
                painted, drawn = regions

                def colour_of(name: str) -> str:
                    return _colour(name, colours) if not classes or name in classes else UNKNOWN_HEX

                shades = _instance_colours(drawn, colour_of) if instances else [colour_of(n) for n in drawn]
                layers.append(_img_layer(_regions_overlay(painted, shades, outline=instances), 0.6))
    return layers


def _answer_layers(
    obj: ReviewObject, answer: Answer, canvas: _Canvas, colours: dict[str, str], classes: set[str]
) -> list[str]:
    """A worker's answer drawn in the consensus's colours: a mask's pixels through the worker's own
    ``labelMappings`` (or instance colours) to their labels, then to the colour the page gives each
    label; what the worker painted in a colour they did not map, or with a label the job lacks, in
    :data:`UNKNOWN_HEX`."""
    kind = kind_of(obj.task_type)
    if answer.value is None or kind is None:
        return []
    return _draw(kind.views.answer_overlays(answer.value), obj, answer, canvas, colours, classes)


def _answer_notes(obj: ReviewObject, answer: Answer, classes: set[str]) -> list[str]:
    """What an answer's drawing does not show as a class (a painted answer's unmapped colours and
    labels the job lacks: the kind's ``answer_notes`` view)."""
    kind = kind_of(obj.task_type)
    return [] if kind is None else kind.views.answer_notes(answer, classes)


def _answer_summary(obj: ReviewObject, answer: Answer, colours: dict[str, str]) -> str:
    value = answer.value
    if value is None:
        return f'<span class="bad">{_esc(answer.error)}</span>'
    kind = kind_of(obj.task_type)
    summary = None if kind is None else kind.views.answer_summary(value)
    if isinstance(summary, str):
        return _esc(summary)
    if isinstance(summary, MarkedText):
        return f'<p class="text">{_marked_text(obj.text or "", summary.spans, colours)}</p>'
    return ""


def _rejections(label: dict[str, Any]) -> dict[str, str]:
    return {str(r.get("workerId")): str(r.get("reason")) for r in label.get("rejected-answers", []) or []}


QUALITY_MEASURES = ("reliability", "accuracy", "agreement", "precision", "weight")
"""The figure of a ``worker-quality`` entry the page shows: the first of these the entry has."""


def _quality(label: dict[str, Any]) -> dict[str, tuple[str, float | None]]:
    """Each worker's quality figure in this label's ``worker-quality``: its first measure of
    :data:`QUALITY_MEASURES`, ``None`` where the label says ``null`` (no evidence: shown as n/a, never
    replaced by another measure)."""
    out: dict[str, tuple[str, float | None]] = {}
    for entry in label.get("worker-quality", []) or []:
        if not isinstance(entry, dict):
            continue
        for key in QUALITY_MEASURES:
            if key in entry and (entry[key] is None or _number(entry[key]) is not None):
                out[str(entry.get("workerId"))] = (key, _number(entry[key]))
                break
        else:  # a form's row: the worker's figures per field
            fields = [found for v in entry.values() if isinstance(v, dict) and (found := _field_quality(v)) is not None]
            if fields:
                values = [v for _, v in fields if v is not None]
                out[str(entry.get("workerId"))] = (FORM_MEASURE, float(np.mean(values)) if values else None)
    return out


FORM_MEASURE = "fields"
"""A form worker's quality: the mean, over the form's fields that measured them, of each field's figure."""


def _field_quality(figures: Mapping[str, Any]) -> tuple[str, float | None] | None:
    """One form field's quality figure of a worker: its first measure of :data:`QUALITY_MEASURES`
    (a ranking's per dimension: their mean), ``None`` as the value where it says ``null``; ``None`` when
    the field has none of them (a number's offset and noise are not a quality)."""
    for key in QUALITY_MEASURES:
        if key not in figures:
            continue
        value = figures[key]
        if isinstance(value, dict):  # a ranking: per dimension
            numbers = [n for n in map(_number, value.values()) if n is not None]
            return key, float(np.mean(numbers)) if numbers else None
        if value is None or _number(value) is not None:
            return key, _number(value)
    return None


def _figure(measure: str, value: float | None) -> str:
    return f"{measure} {'n/a' if value is None else f'{value:.2f}'}"


@dataclass
class _Judged:
    """One object with what the page says about it."""

    obj: ReviewObject
    agreements: dict[str, float | None]
    reasons: list[str]

    @property
    def agreed(self) -> float | None:
        """The mean agreement of the object's answers with the consensus (``None``: none measurable)."""
        values = [a for a in self.agreements.values() if a is not None]
        return float(np.mean(values)) if values else None


def _sort_key(judged: _Judged) -> tuple[int, float, float]:
    """Failed objects, then those needing review, then the rest, then unscored (pass-through) ones;
    within each, least agreed first (the answers' mean agreement, else the confidence)."""
    obj = judged.obj
    group = 0 if obj.failure is not None else 1 if judged.reasons else 3 if obj.confidence is None else 2
    confidence = obj.confidence if obj.confidence is not None else 1.0
    agreed = judged.agreed
    return (group, agreed if agreed is not None else confidence, confidence)


def _consensus_text(obj: ReviewObject) -> MarkedText | None:
    typed = _typed(obj)
    return None if typed is None else typed[0].views.consensus_text(typed[1])


def _card(judged: _Judged, number: int, colours: dict[str, str], classes: set[str]) -> str:
    obj, agreements = judged.obj, judged.agreements
    canvas = _canvas(obj, number)
    label, kind = obj.label, obj.task_type
    rejected = _rejections(label)
    quality = _quality(label)
    labels = _object_labels(obj)
    workers = [a.worker_id for a in obj.answers]
    status = (
        f'<span class="bad">failed: {_esc(obj.failure)}</span>'
        if obj.failure is not None
        else f"confidence <b>{_pct(obj.confidence)}</b>"
    )
    flag = (
        f'<span class="flag">needs review</span> <span class="reasons">{_esc("; ".join(judged.reasons))}</span>'
        if judged.reasons
        else ""
    )
    found = kind_of(kind)
    visual = found.views.visual if found is not None else True
    panels: list[str] = []
    if visual:
        items = _items(obj)
        if items:
            shades = (
                _instance_colours([n for n, _ in items], lambda n: _colour(n, colours))
                if found is not None and found.views.shaded_items
                else [_colour(n, colours) for n, _ in items]
            )
            consensus = " ".join(
                f'<span class="chip item" style="border-color:{shade}">{_esc(_item_tag(k, n, c))}</span>'
                for k, ((n, c), shade) in enumerate(zip(items, shades, strict=True))
            )
        else:
            consensus = "" if obj.failure else _esc(", ".join(labels) or "nothing")
        panels.append(canvas.panel("consensus", _consensus_layers(obj, canvas, colours), consensus))
        if "confidence" in obj.artefacts:
            heat = _img_layer(_heatmap(obj.indices("confidence")), 1.0)
            panels.append(canvas.panel("disagreement", [heat], "red: the crowd was split"))
    elif (text := _consensus_text(obj)) is not None:
        panels.append(
            f'<figure class="panel wide"><p class="text">{_marked_text(obj.text or "", text.spans, colours)}</p>'
            "<figcaption><b>consensus</b></figcaption></figure>"
        )
    elif obj.failure is None and (figure := _consensus_figure(obj)) is not None:
        panels.append(
            f'<figure class="panel wide">{_figures.render(figure)}<figcaption><b>consensus</b></figcaption></figure>'
        )
    elif obj.failure is None and labels:
        panels.append(
            f'<figure class="panel wide"><p class="verdict">{_esc(", ".join(labels))}</p>'
            "<figcaption><b>consensus</b></figcaption></figure>"
        )
    for answer in obj.answers:
        note = f"agreement {_pct(agreements.get(answer.worker_id))}"
        if answer.worker_id in quality:
            note += f" · {_figure(*quality[answer.worker_id])}"
        if answer.worker_id in rejected:
            note = f'<span class="bad">rejected: {_esc(rejected[answer.worker_id])}</span>'
        for extra in _answer_notes(obj, answer, classes):
            note += f' <span class="note">{_esc(extra)}</span>'
        summary = _answer_summary(obj, answer, colours)
        if visual:
            panels.append(
                canvas.panel(
                    answer.worker_id,
                    _answer_layers(obj, answer, canvas, colours, classes),
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
    empty = obj.label.get("no-instances")  # an instance object that kept none: why (its per-worker rows)
    if isinstance(empty, dict) and isinstance(empty.get("reason"), str):
        image_note += f' <span class="note">{_esc(empty["reason"])}</span>'
    legend = "".join(f'<span class="chip" style="border-color:{_colour(n, colours)}">{_esc(n)}</span>' for n in labels)
    data_labels = _esc(json.dumps(labels))
    data_workers = _esc(json.dumps(workers))
    review = "1" if judged.reasons else "0"
    return (
        f'<section class="object" data-labels="{data_labels}" data-workers="{data_workers}" data-review="{review}">'
        f'{canvas.style()}<header><h2>{_esc(obj.key)}</h2><span class="type">{_esc(kind.removeprefix("groundtruth/"))}'
        f'</span>{status} {flag} <span class="src">{_esc(obj.source or "")}</span> {image_note} {legend}</header>'
        f'{_disputed_html(obj)}<div class="panels">{"".join(panels)}</div></section>'
    )


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
.object[data-review="1"]{border-left:5px solid #b00020}
.object header{display:flex;gap:10px;align-items:baseline;flex-wrap:wrap}
.object h2{font-size:16px;margin:0}
.type{background:#eaedf0;border-radius:4px;padding:0 6px;font-size:12px}
.flag{background:#b00020;color:#fff;border-radius:4px;padding:0 6px;font-size:12px} .reasons{color:#b00020;font-size:12px}
.disputed{margin:6px 0 0;font-size:13px;background:#fff4f4;border-radius:4px;padding:4px 8px}
.disputed ul{margin:2px 0;padding-left:18px}
.src{color:#667;font-size:12px} .note{color:#a55;font-size:12px}
.chip{border-left:10px solid;padding:0 6px;font-size:12px;background:#f7f7f7} .chip.item{display:inline-block;margin:1px 0}
.panels{display:flex;flex-wrap:wrap;gap:10px;margin-top:8px}
.panel{margin:0;width:220px} .panel.wide{width:auto;min-width:160px;max-width:460px}
.stage{position:relative;width:220px;background:#ccc;overflow:hidden;border-radius:3px}
.stage .base{position:absolute;inset:0;width:100%;height:100%}
.stage .photo{background-size:100% 100%;background-repeat:no-repeat}
.stage .blank{display:flex;align-items:center;justify-content:center;color:#555;font-size:12px;background:#ddd}
.stage .layer{position:absolute;inset:0;width:100%;height:100%;image-rendering:pixelated}
.num{fill:#fff;stroke:#000;stroke-width:0.06em;paint-order:stroke;font-weight:bold;font-family:system-ui,sans-serif}
figcaption{font-size:12px;margin-top:3px;word-break:break-all}
.bad{color:#b00020} .verdict{font-size:15px;padding:6px 0} .text{margin:4px 0;font-size:14px}
.hidden{display:none}
"""

_SCRIPT = """
(function () {
  var byLabel = document.getElementById('filter-label');
  var byWorker = document.getElementById('filter-worker');
  var byReview = document.getElementById('filter-review');
  var count = document.getElementById('visible-count');
  function apply() {
    var label = byLabel.value, worker = byWorker.value, review = byReview.checked, shown = 0;
    document.querySelectorAll('section.object').forEach(function (card) {
      var labels = JSON.parse(card.dataset.labels), workers = JSON.parse(card.dataset.workers);
      var ok = (!label || labels.indexOf(label) >= 0) && (!worker || workers.indexOf(worker) >= 0) &&
        (!review || card.dataset.review === '1');
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
  byReview.addEventListener('change', apply);
  apply();
})();
"""


def _worker_rows(stats: dict[str, dict[str, Any]]) -> list[str]:
    """The worker table, best quality figure first; workers whose figures are all n/a (no evidence)
    after every worker with a figure, never ranked among them."""

    def key(worker: str) -> tuple[int, float, str]:
        values = [v for _, v in stats[worker]["quality"] if v is not None]
        rank = 0 if values else 1 if stats[worker]["quality"] else 2
        return (rank, -float(np.mean(values)) if values else 0.0, worker)

    rows = []
    for worker in sorted(stats, key=key):
        s = stats[worker]
        measures = ", ".join(sorted({k for k, _ in s["quality"]}))
        values = [v for _, v in s["quality"] if v is not None]
        missing = len(s["quality"]) - len(values)
        if values:
            quality_text = f"{np.mean(values):.2f} ({measures}{f'; {missing} n/a' if missing else ''})"
        else:
            quality_text = f"n/a ({measures})" if s["quality"] else "–"
        agree_text = _pct(float(np.mean(s["agree"]))) if s["agree"] else "–"
        rows.append(
            f'<tr data-worker-row="{_esc(worker)}"><td>{_esc(worker)}</td><td>{quality_text}</td><td>{s["answers"]}</td>'
            f"<td>{s['rejected']}</td><td>{agree_text}</td></tr>"
        )
    return rows


def render_report(
    objects: Sequence[ReviewObject],
    attr: str,
    title: str = "tally review",
    *,
    limit: int | None = None,
    review_below: float = REVIEW_BELOW,
) -> str:
    """The review page for ``objects`` (their bytes already read), as one self-contained HTML string.

    Objects that need review (:func:`review_reasons`, with ``review_below``) come first, after failed
    ones, then the rest; least agreed first within each. With ``limit``, only the first ``limit``
    objects in that order get a card."""
    colours: dict[str, str] = {}
    for obj in objects:  # the job's own colours first, so overlays and chips agree
        for entry in obj.label.get("internal-color-map", {}).values():
            if entry.get("class-name") != "BACKGROUND":
                colours.setdefault(str(entry["class-name"]), str(entry.get("hex-color", "#888888")))
    classes = set(colours)  # the job's classes: a worker's mask is drawn through these only
    judged = []
    for obj in objects:
        judged.append(
            _Judged(obj, {a.worker_id: agreement(obj, a) for a in obj.answers}, review_reasons(obj, review_below))
        )
        for answer in obj.answers:
            answer.release()
    ordered = sorted(judged, key=_sort_key)
    stats: dict[str, dict[str, Any]] = {}
    cards: list[str] = []
    for entry in ordered:
        obj = entry.obj
        quality = _quality(obj.label)
        rejected = _rejections(obj.label)
        for answer in obj.answers:
            s = stats.setdefault(answer.worker_id, {"answers": 0, "rejected": 0, "agree": [], "quality": []})
            s["answers"] += 1
            s["rejected"] += answer.worker_id in rejected or answer.value is None
            if entry.agreements[answer.worker_id] is not None:
                s["agree"].append(entry.agreements[answer.worker_id])
            if answer.worker_id in quality:
                s["quality"].append(quality[answer.worker_id])
        if limit is None or len(cards) < limit:
            cards.append(_card(entry, len(cards), colours, classes))
            for answer in obj.answers:
                answer.release()
    rows = _worker_rows(stats)
    all_labels = sorted({n for obj in objects for n in _object_labels(obj)})
    label_options = "".join(f'<option value="{_esc(n)}">{_esc(n)}</option>' for n in all_labels)
    worker_options = "".join(f'<option value="{_esc(w)}">{_esc(w)}</option>' for w in sorted(stats))
    failed = sum(o.failure is not None for o in objects)
    flagged = sum(bool(j.reasons) for j in judged)
    scored = [o.confidence for o in objects if o.confidence is not None]
    mean = f"{np.mean(scored):.3f}" if scored else "n/a"
    from ._form_views import form_fields_html  # a form's fields: their agreement, least sure first

    form_fields = form_fields_html([(o.key, o.label) for o in objects])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>{_STYLE}{_figures.STYLE}</style></head>
<body><header class="top"><h1>{_esc(title)}</h1>
<p>label attribute <b>{_esc(attr)}</b> · {counted(len(objects), "object")} · <b id="review-count">{flagged}</b> need review
({failed} failed) · mean confidence {mean} · needs review first (failed, disputed regions, a confidence below
{_pct(review_below)}), then least agreed with the consensus</p></header>
<main>
{form_fields}<h2>Workers</h2>
<table id="workers"><thead><tr><th>worker</th><th>quality (mean, measure)</th><th>answers</th><th>rejected</th>
<th>agreement with consensus</th></tr></thead><tbody>{"".join(rows)}</tbody></table>
<div class="filters">
<label>label <select id="filter-label"><option value="">all labels</option>{label_options}</select></label>
<label>worker <select id="filter-worker"><option value="">all workers</option>{worker_options}</select></label>
<label><input type="checkbox" id="filter-review"> needs review only</label>
<span><b id="visible-count">{len(cards)}</b> of {counted(len(objects), "object")} shown</span>
</div>
{"".join(cards)}
</main>
<script>{_SCRIPT}</script>
</body></html>
"""


def _answers_hint(target: Path, source: str | None) -> str:
    if source is not None:
        return f"{source} holds no answers for these objects"
    if (target.is_dir() and (target / "results.jsonl").is_file()) or (target.is_file() and _is_results(target)):
        return "give the batch's event or payload as --source"
    return "give the manifest (or job output prefix) holding the answers as --source"


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
    help="Cards for the first N objects only, in the page's order (failed, then needing review, then least "
    "agreed); the worker table still counts all.",
)
@click.option(
    "--review-below",
    type=click.FloatRange(0, 1),
    default=REVIEW_BELOW,
    show_default=True,
    help="Flag an object as needing review when its confidence, or an instance's or box's, is below this "
    "(failed objects and objects with disputed regions always are).",
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
    review_below: float,
    progress: bool | None,
) -> int:
    """Write an offline HTML page to review a consolidated batch.

    DIR_OR_MANIFEST is a tally reconsolidate output folder (its recorded source gives the answers), a
    tally consolidate output folder or its results.jsonl (give the event or payload as --source for the
    answers and images),
    or a tally output manifest (give the manifest or job output prefix holding the answers as --source).
    Per object: the source image (when it can be read) with the consensus and each worker's answer as
    overlays, all in the consensus's colours, a disagreement heatmap for segmentation, disputed regions,
    each instance's confidence, each worker's agreement with the consensus; objects needing review first
    (failed, disputed regions, a confidence below --review-below), then least agreed; a per-worker table;
    filters by label, by worker and needs review. Images are inline: the page opens offline.

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
    for reason, count in Counter(o.image_reason for o in objects if o.image_reason).items():
        click.echo(f"warning: {count} of {counted(len(objects), 'source image')} not read: {reason}", err=True)
    if objects and not any(o.answers for o in objects):
        click.echo(
            f"warning: the page shows no worker answers, only the consensus: {_answers_hint(target, source)}", err=True
        )
    with progress_bar(progress, stderr_console()) as bar:
        task = bar.add_task("rendering", total=1)
        page = render_report(objects, attr, title, limit=limit, review_below=review_below)
        bar.advance(task)
    write_atomically(out, lambda fh: fh.write(page))
    shown = sum(len(o.answers) for o in objects)
    click.echo(f"objects: {len(objects)} ({sum(o.failure is not None for o in objects)} failed), answers: {shown}")
    click.echo(f"written: {out}")
    return ExitCode.FAILED_OBJECTS if problems or any(o.failure is not None for o in objects) else ExitCode.OK
