"""``tally export``: a tally output manifest in the shapes other tools read.

* ``builtin``: each line rewritten in the exact shape Ground Truth's built-in task of the same type
  writes (semantic segmentation ``<attr>-ref`` + ``<attr>-ref-metadata``; classification the integer
  class id, or the list of ids, + metadata; boxes ``{"annotations", "image_size"}`` + ``objects`` and
  ``class-map``; named entities ``{"annotations": {"entities", "labels"}}``; a failed object only
  ``<attr>-metadata`` with ``failure-reason``), so SageMaker training jobs and scripts written for the
  built-in tasks read it unchanged. Pass-through lines, and task types with no built-in image task
  (keypoints, instance segmentation), are left as they are.
* ``coco``: one COCO JSON (``images``, ``categories``, ``annotations``): boxes, instances and semantic
  masks (as compressed RLE, read from the mask PNGs), keypoints, and polylines and lines as keypoint
  annotations (one category per label, its vertices ``v1``… joined by the skeleton).
* ``csv``, ``jsonl``: the rows each label's kind gives (:func:`table_rows`: a number's value and
  interval, each free-text answer beside the consensus, a ranking's rank per dimension and response,
  each kept line), each led by the line's number and ``source-ref``; a kind with no rows is counted.

The conversions are pure functions of one line (:func:`builtin_line`, :class:`CocoBuilder`), read
back in full first (:func:`read_back`: a label the response sink moved to S3, in whole or in part);
the command streams the manifest and writes the output file only when it is complete.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import TallyError
from ..gt.sink import LabelReader
from ._common import (
    CliStorage,
    ExitCode,
    InputError,
    counted,
    input_file,
    load_json,
    progress_bar,
    stderr_console,
    write_atomically,
)
from ._form_views import FormRow, form_row, write_form_table

if TYPE_CHECKING:  # numpy, Pillow and the registry are imported when a line is exported: not by --help
    import numpy as np
    import numpy.typing as npt

__all__ = [
    "CocoBuilder",
    "builtin_line",
    "export",
    "read_back",
    "table_rows",
    "write_atomically",
    "write_rows",
]

FORMATS = ("builtin", "coco", "csv", "jsonl", "form-csv", "form-jsonl")
_COMMON = ("type", "job-name", "human-annotated", "creation-date")


class LineError(TallyError):
    """A manifest line that cannot be exported (named with its line number)."""


def _common(meta: dict[str, Any], task_type: str) -> dict[str, Any]:
    out = {key: meta[key] for key in _COMMON if key in meta}
    out["type"] = task_type
    return out


def _label_and_meta(line: dict[str, Any], attr: str) -> tuple[dict[str, Any], dict[str, Any]]:
    label = line.get(attr)
    meta = line.get(f"{attr}-metadata")
    if not isinstance(meta, dict):
        raise LineError(f"the line has no {attr}-metadata object (keys: {', '.join(line)})")
    if label is not None and not isinstance(label, dict):
        raise LineError(
            f"{attr} is a JSON {_json_type(label)}, not a tally label (an object with its type): export reads "
            "output manifests tally wrote (tally reconsolidate's, or a job's that ran tally's Lambda)"
        )
    return (label if isinstance(label, dict) else {}), meta


def _json_type(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(type(value), "value")


def label_attributes(line: dict[str, Any]) -> list[str]:
    """The label attributes a manifest line holds: each key ``X`` with an ``X-metadata`` object beside it
    (or an ``X-metadata`` alone that holds a ``failure-reason``: a failed object), and each ``X`` that
    holds raw answers (:func:`raw_answers`)."""
    found = []
    for key, value in line.items():
        if key.endswith("-metadata") and isinstance(value, dict):
            attr = key.removesuffix("-metadata")
            if attr in line or "failure-reason" in value:
                found.append(attr)
        elif raw_answers(line, key):
            found.append(key)
    return list(dict.fromkeys(found))


def raw_answers(line: dict[str, Any], attr: str) -> bool:
    """Whether ``attr`` holds every worker's answer rather than a consolidated label: AWS's recipe
    (``{"annotationsFromAllWorkers": [...]}`` without tally's ``type``), or a job run without a
    consolidation Lambda (``worker-response-ref`` in the metadata, no tally label)."""
    value = line.get(attr)
    if isinstance(value, dict) and "type" in value:
        return False  # a tally label (tally's pass-through keeps the answers beside its type)
    if isinstance(value, dict) and isinstance(value.get("annotationsFromAllWorkers"), list):
        return True
    meta = line.get(f"{attr}-metadata")
    return isinstance(meta, dict) and "worker-response-ref" in meta and "failure-reason" not in meta


def _reason(exc: Exception, line: dict[str, Any], attr: str) -> str:
    """Why a line cannot be exported, in words (never an exception's repr)."""
    if isinstance(exc, KeyError):
        value = line.get(attr)
        kind = value.get("type") if isinstance(value, dict) and value.get("type") else "this"
        return f"the {kind} label has no {exc.args[0]!r}"
    return str(exc)


def read_back(line: dict[str, Any], attr: str, reader: LabelReader) -> dict[str, Any]:
    """``line`` with its label as consolidated: what tally's response sink moved to S3 (a whole
    label; the batch's worker figures unless ``reader`` leaves them) read back through ``reader``; the
    line itself when nothing moved."""
    label = line.get(attr)
    resolved = reader.resolve(label)
    return line if resolved is label else {**line, attr: resolved}


def task_type(line: dict[str, Any], attr: str) -> str:
    """The line's task type: the label's ``type`` (tally), else the metadata's."""
    label, meta = _label_and_meta(line, attr)
    return str(label.get("type") or meta.get("type") or "groundtruth/custom")


def is_failed(line: dict[str, Any], attr: str) -> bool:
    label, meta = _label_and_meta(line, attr)
    return "failure-reason" in label or "failure-reason" in meta


def builtin_line(line: dict[str, Any], attr: str) -> dict[str, Any]:
    """``line`` (a tally output manifest line) in the shape of Ground Truth's built-in task.

    >>> line = {"source-ref": "s3://b/1.jpg",
    ...         "pets": {"type": "groundtruth/image-classification", "class-id": 2, "class-name": "Bird",
    ...                  "confidence": 0.94, "worker-quality": []},
    ...         "pets-metadata": {"type": "groundtruth/image-classification", "job-name": "labeling-job/pets",
    ...                           "human-annotated": "yes", "creation-date": "2026-11-01T12:00:00.000000",
    ...                           "class-name": "Bird", "confidence": 0.94}}
    >>> out = builtin_line(line, "pets")
    >>> out["pets"], out["pets-metadata"]["class-name"], out["pets-metadata"]["confidence"]
    (2, 'Bird', 0.94)
    """
    label, meta = _label_and_meta(line, attr)
    kind = task_type(line, attr)
    rest = {k: v for k, v in line.items() if k not in (attr, f"{attr}-metadata")}
    if is_failed(line, attr):
        failed = _common(meta, kind)
        failed["failure-reason"] = label.get("failure-reason", meta.get("failure-reason"))
        return {**rest, f"{attr}-metadata": failed}
    from ..tasks.registry import kind_of

    found = kind_of(kind)
    if found is None:
        return dict(line)
    result = found.from_gt(label) if found.from_gt is not None else label
    converted = found.views.builtin(result, attr, lambda new_type: _common(meta, new_type or kind))
    return dict(line) if converted is None else {**rest, **converted}


def table_rows(number: int, line: dict[str, Any], attr: str) -> list[dict[str, Any]]:
    """The CSV/JSONL rows of line ``number`` (0-based): its kind's ``rows`` view, each led by ``line``
    (1-based) and ``source-ref``; none for a failed line or a kind with no rows.

    >>> line = {"source-ref": "s3://b/1.txt",
    ...         "q": {"type": "tally/number", "value": 4, "interval": [3, 5], "confidence": 0.5,
    ...               "scale": {"min": 1, "max": 5, "step": 1, "from": "answers"},
    ...               "answers": [{"workerId": "w1", "value": 4, "weight": 1.0}], "worker-quality": []},
    ...         "q-metadata": {"type": "tally/number"}}
    >>> table_rows(0, line, "q")
    [{'line': 1, 'source-ref': 's3://b/1.txt', 'value': 4, 'interval-low': 3, 'interval-high': 5, 'confidence': 0.5, 'answers': 'w1=4'}]
    """
    label, _ = _label_and_meta(line, attr)
    from ..tasks.registry import kind_of

    found = kind_of(task_type(line, attr))
    if is_failed(line, attr) or found is None or found.from_gt is None:
        return []
    lead = {"line": number + 1, "source-ref": line.get("source-ref")}
    return [{**lead, **row} for row in found.views.rows(found.from_gt(label))]


def write_rows(fh: Any, rows: Sequence[dict[str, Any]], fmt: str) -> None:
    """``rows`` as JSON lines, or as CSV with the columns in the order they first appear (a list or an
    object as JSON in its cell, ``null`` as an empty cell)."""
    if fmt == "jsonl":
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(fh, columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {
                k: "" if v is None else json.dumps(v, separators=(",", ":")) if isinstance(v, list | dict) else v
                for k, v in row.items()
            }
        )


# --- COCO ---------------------------------------------------------------------------------------------


def _png_indices(data: bytes) -> npt.NDArray[np.uint8]:
    import numpy as np
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        if image.mode != "P":
            raise LineError(f"mask is a {image.mode} PNG, not a palette PNG")
        return np.asarray(image, dtype=np.uint8)


class CocoBuilder:
    """Collects COCO ``images``, ``categories`` and ``annotations`` line by line.

    Category ids are the job's label index + 1 (a semantic mask's class key, ``class_id + 1`` of a
    box), so ids agree between task types; keypoints get one category named after the label attribute
    whose ``keypoints`` are the point labels.
    """

    def __init__(self, attr: str, read: Callable[[str], bytes]) -> None:
        self.attr = attr
        self._read = read
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []
        self._categories: dict[str, int] = {}
        self._keypoint_names: list[str] = []
        self._keypoint_annotations: list[tuple[dict[str, Any], list[Mapping[str, Any]]]] = []
        self._line_points: dict[int, int] = {}  # category -> the most vertices a line of it has

    def _category(self, name: str, index: int | None) -> int:
        if name not in self._categories:
            if index is None or (index + 1) in self._categories.values():
                index = max([*self._categories.values(), 0])
            self._categories[name] = index + 1
        return self._categories[name]

    def _annotation(self, image_id: int, category: int, **fields: Any) -> None:
        self.annotations.append(
            {"id": len(self.annotations) + 1, "image_id": image_id, "category_id": category, "iscrowd": 0, **fields}
        )

    def add(self, number: int, line: dict[str, Any]) -> bool:
        """Add line ``number`` (0-based); ``False`` when the line has nothing COCO can hold."""
        label, _ = _label_and_meta(line, self.attr)
        if is_failed(line, self.attr):
            return False
        from ..tasks.registry import kind_of

        kind = kind_of(task_type(line, self.attr))
        if kind is None:
            return False
        image_id = number + 1
        size = label.get("image_size") or [{}]
        image = {"id": image_id, "file_name": str(line.get("source-ref", f"line-{number + 1}"))}
        image.update({k: int(size[0][k]) for k in ("width", "height") if k in size[0]})
        result = kind.from_gt(label) if kind.from_gt is not None else label
        annotations = len(self.annotations)
        if not kind.views.coco(result, image, self):
            del self.annotations[annotations:]
            return False
        self.images.append(image)
        return True

    def category(self, name: str, index: int | None) -> int:
        """The category id of label ``name`` (``index``: its 0-based index in the job's labels)."""
        return self._category(name, index)

    def annotation(self, image_id: int, category: int, **fields: Any) -> None:
        self._annotation(image_id, category, **fields)

    def mask(self, uri: str, key: str) -> npt.NDArray[np.uint8]:
        """The palette PNG at ``uri`` (the label's ``key``) as pixel values."""
        try:
            return _png_indices(self._read(uri))
        except (TallyError, OSError) as exc:
            raise LineError(f"cannot read {key} {uri}: {exc}") from exc

    def sized(self, image: dict[str, Any], mask: npt.NDArray[np.uint8]) -> None:
        image.setdefault("height", int(mask.shape[0]))
        image.setdefault("width", int(mask.shape[1]))

    def keypoints(self, image_id: int, points: Sequence[Mapping[str, Any]]) -> None:
        """Keypoints of one image: each label joins the category's point names; the k-th point of each
        label goes to the k-th annotation (one "person" per repeat)."""
        for point in points:
            if point["label"] not in self._keypoint_names:
                self._keypoint_names.append(point["label"])
        groups: list[dict[str, Mapping[str, Any]]] = []
        for point in points:
            for group in groups:
                if point["label"] not in group:
                    group[point["label"]] = point
                    break
            else:
                groups.append({point["label"]: point})
        for group in groups:
            record: dict[str, Any] = {"id": 0, "image_id": image_id, "iscrowd": 0}
            self._keypoint_annotations.append((record, list(group.values())))

    def keypoint_names(self, category: int, count: int) -> None:
        """Category ``category`` holds lines of up to ``count`` points: named ``v1``…, joined in order."""
        self._line_points[category] = max(self._line_points.get(category, 0), count)

    def document(self) -> dict[str, Any]:
        """The COCO JSON object."""
        from ..tasks.base import DIGITS

        categories: list[dict[str, Any]] = []
        for name, cid in sorted(self._categories.items(), key=lambda kv: kv[1]):
            category: dict[str, Any] = {"id": cid, "name": name, "supercategory": self.attr}
            if cid in self._line_points:
                count = self._line_points[cid]
                category["keypoints"] = [f"v{i + 1}" for i in range(count)]
                category["skeleton"] = [[i, i + 1] for i in range(1, count)]
            categories.append(category)
        annotations = [
            {**a, "keypoints": a["keypoints"] + [0] * (3 * self._line_points[a["category_id"]] - len(a["keypoints"]))}
            if a["category_id"] in self._line_points
            else a
            for a in self.annotations
        ]
        if self._keypoint_annotations:
            names = self._keypoint_names
            kp_id = max([*self._categories.values(), 0]) + 1
            categories.append(
                {"id": kp_id, "name": self.attr, "supercategory": self.attr, "keypoints": names, "skeleton": []}
            )
            for record, points in self._keypoint_annotations:
                flat = [0.0] * (3 * len(names))
                for p in points:
                    i = names.index(p["label"])
                    flat[3 * i : 3 * i + 3] = [float(p["x"]), float(p["y"]), 2.0]
                xs, ys = [float(p["x"]) for p in points], [float(p["y"]) for p in points]
                bbox = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
                confidences = [float(p.get("confidence", 0.0)) for p in points]
                annotations.append(
                    {
                        **record,
                        "id": len(annotations) + 1,
                        "category_id": kp_id,
                        "keypoints": flat,
                        "num_keypoints": len(points),
                        "bbox": bbox,
                        "area": bbox[2] * bbox[3],
                        "score": round(sum(confidences) / len(confidences), DIGITS),
                    }
                )
        return {
            "info": {"description": f"tally export of label attribute {self.attr}"},
            "images": self.images,
            "categories": categories,
            "annotations": annotations,
        }


# --- the command --------------------------------------------------------------------------------------


def _manifest_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh):
            if not raw.strip():
                continue
            line = load_json(raw, f"{path} line {number + 1}")
            if not isinstance(line, dict):
                raise InputError(f"{path} line {number + 1} is not a JSON object")
            yield number, line


class _Sink:
    """What one ``--format`` makes of the lines, each read back in full (:func:`read_back`): ``add``
    takes them one by one (``fh``: the output file, for a format that streams), ``finish`` writes the
    rest; ``counts`` has ``lines`` (the loop's), ``failed``, ``skipped`` and ``unchanged``."""

    def __init__(self, attr: str, fmt: str, storage: CliStorage) -> None:
        self.attr, self.fmt = attr, fmt
        self.counts = {"lines": 0, "failed": 0, "unchanged": 0, "skipped": 0}

    def failed(self, number: int, reason: Any) -> None:
        """Line ``number`` holds an object that was not consolidated: counted and named on stderr."""
        self.counts["failed"] += 1
        click.echo(f"warning: line {number + 1}: object not consolidated: {reason}", err=True)

    def add(self, number: int, line: dict[str, Any], full: dict[str, Any], fh: Any) -> None:
        raise NotImplementedError

    def finish(self, fh: Any) -> None:
        """Write what ``add`` collected."""

    def summary(self) -> str:
        raise NotImplementedError


def _failure_reason(full: dict[str, Any], attr: str) -> Any:
    label = full.get(attr) if isinstance(full.get(attr), dict) else {}
    return (label or {}).get("failure-reason") or full[f"{attr}-metadata"].get("failure-reason")


class _Builtin(_Sink):
    """``builtin``: each line in its built-in shape, written as it comes."""

    def add(self, number: int, line: dict[str, Any], full: dict[str, Any], fh: Any) -> None:
        if is_failed(full, self.attr):
            self.failed(number, _failure_reason(full, self.attr))
        converted = builtin_line(full, self.attr)
        if converted == full:  # no built-in shape: the line as it was read
            converted = line
            self.counts["unchanged"] += 1
        fh.write(json.dumps(converted, separators=(",", ":"), ensure_ascii=False) + "\n")

    def summary(self) -> str:
        c = self.counts
        return f"{c['lines'] - c['unchanged'] - c['failed']} in built-in shapes, {c['unchanged']} unchanged, {c['failed']} failed"


class _Rows(_Sink):
    """``csv``, ``jsonl``: the rows of each line's kind (:func:`table_rows`)."""

    def __init__(self, attr: str, fmt: str, storage: CliStorage) -> None:
        super().__init__(attr, fmt, storage)
        self.rows: list[dict[str, Any]] = []

    def add(self, number: int, line: dict[str, Any], full: dict[str, Any], fh: Any) -> None:
        if is_failed(full, self.attr):
            self.failed(number, _failure_reason(full, self.attr))
            return
        found = table_rows(number, full, self.attr)
        self.counts["skipped"] += not found
        self.rows.extend(found)

    def finish(self, fh: Any) -> None:
        write_rows(fh, self.rows, self.fmt)

    def summary(self) -> str:
        c = self.counts
        return f"{counted(len(self.rows), 'row')}, {c['skipped']} with no rows to write, {c['failed']} failed"


class _Coco(_Sink):
    """``coco``: one COCO JSON document (:class:`CocoBuilder`)."""

    def __init__(self, attr: str, fmt: str, storage: CliStorage) -> None:
        super().__init__(attr, fmt, storage)
        self.builder = CocoBuilder(attr, storage.read)
        self.annotations = 0

    def add(self, number: int, line: dict[str, Any], full: dict[str, Any], fh: Any) -> None:
        if is_failed(full, self.attr):
            self.failed(number, _failure_reason(full, self.attr))
        elif not self.builder.add(number, full):
            self.counts["skipped"] += 1

    def finish(self, fh: Any) -> None:
        document = self.builder.document()
        self.annotations = len(document["annotations"])
        json.dump(document, fh, separators=(",", ":"))

    def summary(self) -> str:
        c = self.counts
        return (
            f"{counted(len(self.builder.images), 'image')}, {counted(self.annotations, 'annotation')}, "
            f"{c['skipped']} with nothing COCO holds, {c['failed']} failed"
        )


class _Forms(_Sink):
    """``form-csv``, ``form-jsonl``: one row per form (:func:`~tally.tools._form_views.form_row`)."""

    def __init__(self, attr: str, fmt: str, storage: CliStorage) -> None:
        super().__init__(attr, fmt.removeprefix("form-"), storage)
        self.rows: list[FormRow] = []

    def add(self, number: int, line: dict[str, Any], full: dict[str, Any], fh: Any) -> None:
        row = form_row(number, full, self.attr)
        if row is None:
            self.counts["skipped"] += 1
            return
        if row.failure is not None:
            self.failed(number, row.failure)
        self.rows.append(row)

    def finish(self, fh: Any) -> None:
        write_form_table(self.rows, fh, self.fmt)

    def summary(self) -> str:
        c = self.counts
        return f"{counted(len(self.rows), 'form')}, {counted(c['skipped'], 'not a form', 'not forms')}, {c['failed']} failed"


_SINKS: dict[str, type[_Sink]] = {
    "builtin": _Builtin,
    "coco": _Coco,
    "csv": _Rows,
    "jsonl": _Rows,
    "form-csv": _Forms,
    "form-jsonl": _Forms,
}


def _survey(manifest: Path, attr: str | None) -> tuple[str, int]:
    """One pass over the manifest before anything is written: its lines, and the label attribute to
    export, checked (given: some line has it; not given: the manifest's only one, said on stderr), and
    no line holding raw answers under it."""
    lines = 0
    first_keys: list[str] | None = None
    attributes: dict[str, int] = {}  # attribute -> first line (1-based) holding it
    raw: dict[str, int] = {}  # attribute -> first line holding raw answers under it
    present = False
    for number, line in _manifest_lines(manifest):
        lines += 1
        if first_keys is None:
            first_keys = list(line)
        for found in label_attributes(line):
            attributes.setdefault(found, number + 1)
            if raw_answers(line, found):
                raw.setdefault(found, number + 1)
        present = present or (attr is not None and (attr in line or f"{attr}-metadata" in line))
    keys = ", ".join(first_keys or [])
    if attr is None:
        if not attributes:
            raise InputError(
                f"{manifest} has no label attribute (a key X with X-metadata beside it)"
                + (f"; keys of its first line: {keys}" if lines else ": it has no lines")
            )
        if len(attributes) > 1:
            raise click.UsageError(
                f"{manifest} has {len(attributes)} label attributes ({', '.join(attributes)}): "
                "say which with --label-attribute"
            )
        attr = next(iter(attributes))
        click.echo(f"label attribute: {attr} (the only one in {manifest})", err=True)
    elif not present:
        there = f"; label attributes there: {', '.join(attributes)}" if attributes else ""
        raise click.BadParameter(
            f"no line of {manifest} has {attr} (keys: {keys}){there}", param_hint="'--label-attribute'"
        )
    if attr in raw:
        raise InputError(
            f"{manifest} has raw answers under {attr} (line {raw[attr]} holds every worker's answer, not a "
            f"consolidated label): run `tally reconsolidate {manifest} --label-attribute {attr} --out DIR` "
            "first, then export DIR/output.manifest"
        )
    return attr, lines


@click.command(
    epilog="Exit codes: 0 every line exported, 1 some lines hold failed objects (exported in Ground Truth's "
    "failure shape, or left out of COCO), 2 usage error, 3 input/runtime error (nothing written), 130 interrupted."
)
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option(
    "--label-attribute",
    "attr",
    help="The label attribute of the tally output manifest [default: the manifest's only one].",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="builtin: Ground Truth's built-in task shapes (a manifest); coco: one COCO JSON file; csv, jsonl: "
    "the rows of the kinds that have them (numbers, free text, rankings, lines); form-csv, form-jsonl: "
    "one row per object, one column per form field.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=True, dir_okay=False, writable=True, path_type=Path),
    help="The file to write (replaced only when the export is complete).",
)
@click.option(
    "--s3-root",
    type=click.Path(exists=True, file_okay=False, dir_okay=True),
    help="Directory standing in for S3, for masks referenced as s3:// URIs (coco) [default: read from S3].",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar [default: when stderr is a terminal]."
)
def export(manifest: Path, attr: str | None, fmt: str, out: Path, s3_root: str | None, progress: bool | None) -> int:
    """Export to Ground Truth's built-in shapes or to COCO JSON.

    MANIFEST is an output manifest written by tally (tally reconsolidate's output.manifest, or a job's
    that ran tally's Lambda); without --label-attribute, its only label attribute is exported (a
    manifest of raw answers, such as AWS's recipe writes, needs tally reconsolidate first).
    --format builtin rewrites each line in the exact shape Ground Truth's built-in task writes
    (semantic segmentation as ATTR-ref + ATTR-ref-metadata, classification as the integer class id,
    boxes as the object-detection shape, named entities as the built-in NER shape; failed objects keep
    only ATTR-metadata with failure-reason; other lines are copied unchanged).
    --format coco writes one COCO JSON with boxes, instances and semantic masks as RLE (read from the
    mask PNGs), keypoints, and polylines and lines as keypoints; lines with nothing COCO holds
    (classification, entities) are counted.
    --format csv or jsonl writes one row per number, per free-text answer, per ranked response or per
    kept line, led by the manifest line's number and source-ref; lines of other kinds are counted.
    --format form-csv / form-jsonl writes one row per object of a form job, one column per field: its
    consolidated value, or the workers' values where it was kept as given (docs/output-format.md).

    \b
    Examples:
      tally export out/street/output.manifest --label-attribute street --format builtin --out street.manifest
      tally export out/boxes/output.manifest --label-attribute boxes --format coco --out boxes.coco.json
      tally export out/ratings/output.manifest --label-attribute rating --format csv --out ratings.csv
    """
    input_file(manifest)
    storage = CliStorage(s3_root)
    attr, total = _survey(manifest, attr)
    reader = LabelReader(storage.read, worker_figures=False)  # no export shape holds them
    sink = _SINKS[fmt](attr, fmt, storage)
    with progress_bar(progress, stderr_console()) as bar:
        task = bar.add_task("exporting", total=total)

        def write(fh: Any) -> None:
            for number, line in _manifest_lines(manifest):
                sink.counts["lines"] += 1
                try:
                    sink.add(number, line, read_back(line, attr, reader), fh)
                except (TallyError, KeyError, TypeError, ValueError) as exc:
                    reason = _reason(exc, line, attr)
                    raise InputError(f"{manifest} line {number + 1}: cannot export: {reason}") from exc
                bar.advance(task)
            sink.finish(fh)

        write_atomically(out, write)
    click.echo(f"lines: {sink.counts['lines']} ({sink.summary()})")
    click.echo(f"written: {out}")
    return ExitCode.FAILED_OBJECTS if sink.counts["failed"] else ExitCode.OK
