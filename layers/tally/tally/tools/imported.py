"""``tally consolidate --from labelstudio|cvat|coco``: another tool's multi-annotator export through
tally's core, written back in that tool's own import format.

The export is read into items (:mod:`tally.importers`), one field is put into a Ground Truth payload
held in memory, :func:`tally.consolidate.consolidate_batch` consolidates it exactly as it does a
Ground Truth batch, and the response entries get the importer's facts (fields kept as given, answers
that could not be read, gold answers and the annotators' scores against them). ``OUT`` then holds
``results.jsonl`` (one Ground Truth response entry per item, the shape ``tally report`` and
``tally export`` read, every label whole: no Lambda answers an import, so nothing is fitted under its
response limit), ``masks/``, ``payload.json`` (every readable answer, for ``tally report --source``)
and the write-back file: ``predictions.json`` (Label Studio tasks with tally's result as a prediction
beside each annotator's annotation) or ``annotations.xml`` (CVAT for images 1.1, a new job).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import numpy as np
import numpy.typing as npt

from ..consolidate import BatchReport, consolidate_batch
from ..errors import TallyError
from ..forms import Field, FormSchema
from ..forms.consolidate import JobTemplate
from ..gt.events import ConsolidationRequest
from ..gt.response import Members, ObjectResult, creation_date
from ..importers import labelstudio, writers
from ..importers.attributes import failed_reasons, vote_entries, vote_regions
from ..importers.model import Batch, ImportedItem, annotate_entries, build_batch, failed_entries
from ..settings import Settings
from ._common import (
    CliStorage,
    ExitCode,
    InputError,
    counted,
    load_json,
    progress_bar,
    replace_outputs,
    replace_settings,
    staging_dir,
    stderr_console,
)

__all__ = ["TOOLS", "consolidate_imported", "read_items"]

TOOLS = ("labelstudio", "cvat", "coco")
_PAYLOAD = "imported://payload.json"
_NO_LAMBDA_LIMIT = sys.maxsize
"""No Lambda answers an import: every label stays whole in results.jsonl (none spilled to a file)."""
_HELD_RUNS_BYTES = 256 << 20
"""Masks' runs kept from the batch's threads for the write-back after it; beyond, regions made at once."""
_WRITE_BACK = {"labelstudio": "predictions.json", "cvat": "annotations.xml", "coco": "annotations.xml"}


class _ImportStorage:
    """The payload from memory (dated like the export, so a second run gives the same response);
    everything else (masks) through the command's storage."""

    def __init__(self, data: bytes, modified: datetime, inner: CliStorage) -> None:
        self._data, self._modified, self._inner = data, modified, inner

    def read(self, uri: str) -> bytes:
        return self._data if uri == _PAYLOAD else self._inner.read(uri)

    def write(self, uri: str, data: bytes, content_type: str) -> None:
        self._inner.write(uri, data, content_type)

    def modified(self, uri: str) -> datetime:
        return self._modified if uri == _PAYLOAD else self._inner.modified(uri)


def read_items(tool: str, source: Path) -> tuple[list[ImportedItem], list[str], list[str]]:
    """The export's items, its label list when the export has one, and warnings about the export."""
    if not source.exists():
        raise InputError(f"cannot read {source}: no such file or directory")
    try:
        if tool == "labelstudio":
            if source.is_dir():
                raise InputError(f"cannot read {source}: it is a directory, not a Label Studio JSON export")
            document = load_json(source.read_bytes(), str(source))
            return labelstudio.read_export(document), [], []
        return _read_jobs(tool, source)
    except labelstudio.ExportError as exc:
        raise InputError(f"{source}: {exc}") from exc
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"cannot read {source}: {exc}") from exc


def _read_jobs(tool: str, source: Path) -> tuple[list[ImportedItem], list[str], list[str]]:
    """A CVAT or COCO import's jobs (the reader imported here: a Label Studio import never needs it)."""
    from ..importers import cvat

    try:
        jobs = cvat.read_xml_jobs(source) if tool == "cvat" else cvat.read_coco_jobs(source)
    except cvat.ExportError as exc:
        raise InputError(f"{source}: {exc}") from exc
    return jobs.items, jobs.labels, jobs.warnings


def _artefacts(out: Path, staging: Path) -> Callable[[str], bytes]:
    """Reads an artefact the run wrote (a mask), from the staging directory until it is moved."""
    root = out.resolve()

    def read(uri: str) -> bytes:
        path = Path(uri).resolve()
        if path.is_relative_to(root):
            path = staging / path.relative_to(root)
        return path.read_bytes()

    return read


def _labels_seen(entries: Sequence[dict[str, Any]], attr: str) -> list[str]:
    """The class names of the consolidated labels, in class-id order (when the export had no list)."""
    names: dict[int, str] = {}
    for entry in entries:
        label = entry["consolidatedAnnotation"]["content"][attr]
        for key, info in label.get("internal-color-map", {}).items():
            if int(key) > 0:
                names[int(key) - 1] = info["class-name"]
        for key, name in label.get("class-map", {}).items():
            names[int(key)] = name
        if "class-id" in label:
            names[int(label["class-id"])] = label["class-name"]
        for instance in label.get("instances", []):
            names.setdefault(10_000 + len(names), instance["label"])
        for point in label.get("keypoints", []):
            names.setdefault(10_000 + len(names), point["label"])
    return list(dict.fromkeys(names[k] for k in sorted(names)))


@contextmanager
def _kept_heap() -> Iterator[None]:
    """Read the export without the cyclic garbage collector, then keep what was read out of its
    sight: the export, its items and the payload live to the end of the command, and a 10,000-task
    export is millions of objects that each collection would walk again (it took as long as
    converting them). Nothing read makes reference cycles; reference counting frees the rest."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def _modified(source: Path) -> datetime:
    return datetime.fromtimestamp(os.stat(source).st_mtime, tz=UTC)


def gold_scores(batch: Batch) -> dict[str, tuple[int, float, int]]:
    """Per annotator scored against gold: (gold objects answered, sum of agreements, agreements
    scored); a form's rows are per field, so an object counts once however many fields it scored."""
    totals: dict[str, tuple[int, float, int]] = {}
    for gold in batch.gold.values():
        seen: set[str] = set()
        for row in gold.scores:
            worker, score = row["workerId"], row["agreement"]
            n, total, scored = totals.get(worker, (0, 0.0, 0))
            totals[worker] = (n + (worker not in seen), total + (score or 0.0), scored + (score is not None))
            seen.add(worker)
    return dict(sorted(totals.items()))


def _summary(
    tool: str, batch: Batch, entries: Sequence[dict[str, Any]], report: BatchReport | None, out: Path, attr: str
) -> str:
    failed = sum(1 for e in entries if "failure-reason" in e["consolidatedAnnotation"]["content"][attr])
    rejected = sum(len(e["consolidatedAnnotation"]["content"][attr].get("rejected-answers", [])) for e in entries)
    scored = [
        float(label["confidence"])
        for e in entries
        if isinstance((label := e["consolidatedAnnotation"]["content"][attr]).get("confidence"), int | float)
        and "failure-reason" not in label
    ]
    mean = sum(scored) / len(scored) if scored else None  # gold objects at 1, as their labels say
    lines = [
        f"objects:          {len(entries)} ({len(entries) - failed} consolidated, {failed} failed)",
        f"field:            {batch.field} ({batch.kind})"
        if not batch.form
        else f"fields:           {', '.join(f'{n} ({batch.fields[n]})' for n in batch.form)}, as a form",
        f"answers rejected: {rejected}",
        f"mean confidence:  {'n/a' if mean is None else f'{mean:.3f}'}",
        f"class keys from:  {report.label_source if report is not None else 'n/a'}",
    ]
    voted = [v for e in entries for v in e["consolidatedAnnotation"]["content"][attr].get("shape-attributes", [])]
    if voted:
        tied = sum(1 for v in voted if v.get("ties"))
        lines.append(
            f"attributes:       voted on {counted(len(voted), 'shape')} ({tied} with a tie), in each label's"
            " shape-attributes; the other shapes' kept as given"
        )
    names = {f"{n} (per region)" for v in voted for a in v.get("answers", []) for n in a.get("attributes", {})}
    for name, kind in batch.fields.items():
        if voted and (name == "attributes" or (kind == "per-region" and name in names)):
            continue  # on the attributes line
        if name not in batch.consolidated:
            lines.append(f"kept as given:    {name} ({kind}), in each label's kept-as-given")
    held = sum(1 for g in batch.gold.values() if g.element is not None)
    if batch.gold:
        lines.append(
            f"gold:             {counted(held, 'object')} labelled with their gold answer"
            f" ({len(batch.gold) - held} without a readable one)"
        )
        for worker, (n, total, agreed) in gold_scores(batch).items():
            mean_score = f"{total / agreed:.3f}" if agreed else "n/a"
            lines.append(f"  {worker}: agreement with gold {mean_score} over {counted(n, 'gold object')}")
    lines += [
        f"masks:            {out / 'masks'}",
        f"results:          {out / 'results.jsonl'}",
        f"answers:          {out / 'payload.json'} (tally report {out} --source {out / 'payload.json'})",
        f"{_WRITE_BACK[tool].split('.')[0] + ':':<17} {out / _WRITE_BACK[tool]}",
    ]
    return "\n".join(lines)


_ANNOTATION_TASKS = {
    "boxes": "bounding-box",
    "polygons": "polygon",
    "keypoints": "keypoint",
    "semantic": "semantic-segmentation",
    "entities": "named-entity",
    "instances": "instance-segmentation",
    "polylines": "polyline",
}


def form_schema(batch: Batch, config: Mapping[str, Field]) -> FormSchema:
    """The consolidated fields as a form: each from the labeling config when it has the control (its
    options, bounds), else from the kind of its answers (``inferred``)."""
    fields = []
    for name in batch.consolidated:
        if name in config:
            found = config[name]
            if found.task in ("polygon", "polyline"):  # a VectorLabels tag: what its paths are (closed or open)
                found = dataclasses.replace(found, task=_ANNOTATION_TASKS[batch.fields[name]])
            fields.append(found)
            continue
        kind = batch.fields[name]
        if kind == "classification":
            fields.append(Field(name, "single-choice", found="inferred", task="classification"))
        elif kind == "multi-label":
            fields.append(Field(name, "multi-choice", found="inferred", task="multi-label classification"))
        elif kind in ("number", "text"):
            fields.append(Field(name, "number" if kind == "number" else "text", found="inferred"))
        else:
            fields.append(Field(name, "annotation", found="inferred", task=_ANNOTATION_TASKS.get(kind)))
    return FormSchema(tuple(fields))


def _config(tool: str, template: Path | None) -> dict[str, Field]:
    if template is None:
        return {}
    if tool != "labelstudio":
        raise InputError(f"--template is the labeling config of a Label Studio export, not of {tool}")
    try:
        return labelstudio.read_config(template.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--template {template}: {exc}") from exc
    except labelstudio.ExportError as exc:
        raise InputError(f"--template {template}: {exc}") from exc


def consolidate_imported(
    tool: str,
    source: str,
    out: Path,
    *,
    settings: Settings,
    labels: list[str] | None,
    label_attribute: str,
    field: str | None,
    progress: bool | None,
    template: Path | None = None,
) -> int:
    """Consolidate an export of ``tool`` (module docstring); returns the exit code."""
    path = Path(source)
    config = _config(tool, template)
    with _kept_heap():
        items, export_labels, warnings = read_items(tool, path)
        for warning in warnings:
            click.echo(f"warning: {warning}", err=True)
        try:
            batch = build_batch(items, field, form=tool == "labelstudio")
        except KeyError as exc:
            names = sorted({name for item in items for name in item.fields})
            raise click.BadParameter(
                f"no field {field!r} in the export; its fields: {', '.join(names) or 'none'}",
                param_hint="'--element-name'",
            ) from exc
    settings = replace_settings(settings, element_name=None)
    attr = label_attribute
    modified = _modified(path)
    created = creation_date(modified)
    job_name = f"labeling-job/{attr}"
    document: dict[str, Any] = {"labelAttributeName": attr, "payload": {"s3Uri": _PAYLOAD}}
    chosen_labels = labels or export_labels
    if chosen_labels:
        document["labelCategories"] = chosen_labels
    request = ConsolidationRequest.parse(document)
    form = JobTemplate(schema=form_schema(batch, config)) if tool == "labelstudio" else JobTemplate()
    console = stderr_console()
    report: BatchReport | None = None
    with staging_dir(out) as staging:
        storage = _ImportStorage(json.dumps(batch.payload).encode(), modified, CliStorage(None).staged(out, staging))
        entries: list[dict[str, Any]] = []
        members: dict[str, Members] = {}  # per object, the workers' items fused into each consolidated one

        # per mask-ref, a semantic mask's regions for predictions.json (Label Studio) or its <mask> shapes
        # for annotations.xml (CVAT)
        brushes: dict[str, writers.Brushes] = {}
        cvat_masks: dict[str, writers.CvatMasks] = {}

        # each mask's runs, kept from the batch's threads to the end of the batch (bounded): its regions
        # or shapes are Python work, made after the batch where no thread waits for the GIL behind them
        held: list[tuple[str, Mapping[str, Any], writers.MaskRuns]] = []
        held_bytes = [0]
        lock = threading.Lock()

        def made(ref: str, label: Mapping[str, Any], runs: npt.NDArray[np.uint8] | writers.MaskRuns) -> None:
            # an object whose regions cannot be made here has them read back from its PNG instead
            with contextlib.suppress(KeyError, ValueError, TypeError):
                if tool == "labelstudio":
                    brushes[ref] = writers.semantic_brushes(label, runs)
                else:
                    cvat_masks[ref] = writers.semantic_cvat_masks(label, runs)

        def hold(ref: str, label: Mapping[str, Any], classes: npt.NDArray[np.uint8]) -> None:
            """Keep the mask's runs for after the batch (up to the bound), else make its regions now. On
            one thread no other thread waits behind that Python work: made now, nothing held."""
            if settings.threads == 1:
                made(ref, label, classes)
                return
            try:
                runs = writers.MaskRuns.of(classes)
            except (ValueError, TypeError):  # (a class map the runs cannot be made of: made now, or read back)
                made(ref, label, classes)
                return
            with lock:
                keep = held_bytes[0] + runs.nbytes <= _HELD_RUNS_BYTES
                if keep:
                    held_bytes[0] += runs.nbytes
                    held.append((ref, label, runs))
            if not keep:
                made(ref, label, runs)

        def reported(result: ObjectResult) -> None:
            if result.members is not None:
                members[result.object_id] = result.members
            if result.class_map is not None:
                if result.label is not None and "mask-ref" in result.label:
                    # the regions from the voted class array, not from its PNG read back; the array is
                    # let go at once (a large export's masks are not all held, only their runs)
                    hold(result.label["mask-ref"], result.label, result.class_map)
                result.class_map = None
            bar.advance(task, 1)

        if batch.payload:
            with progress_bar(progress, console) as bar:
                task = bar.add_task("consolidating", total=len(batch.payload))
                try:
                    report = consolidate_batch(
                        request,
                        storage,
                        settings=settings,
                        mask_prefix=str(out / "masks"),
                        response_limit=_NO_LAMBDA_LIMIT,
                        on_result=reported,
                        form_template=lambda: form,
                        members=True,  # the attribute and per-region votes read them
                    )
                except TallyError as exc:
                    raise InputError(str(exc)) from exc
            for ref, label, runs in held:
                made(ref, label, runs)
            held.clear()
            entries = report.response
            if tool == "labelstudio":
                voted = vote_regions(entries, batch, attr, members)
            else:
                voted = vote_entries(entries, batch, attr, members)
            annotate_entries(entries, batch, attr, tool, voted)
        task_type = entries[0]["consolidatedAnnotation"]["content"][attr]["type"] if entries else None
        entries += failed_entries(
            batch, attr, tool, job_name=job_name, created=created, task_type=task_type, voted=failed_reasons(batch)
        )
        order = {item.object_id: i for i, item in enumerate(items)}
        entries.sort(key=lambda e: order.get(str(e["datasetObjectId"]), len(order)))
        with (staging / "results.jsonl").open("w", encoding="utf-8") as fh:
            for entry in entries:
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
        back = _WRITE_BACK[tool]
        read = _artefacts(out, staging)
        if tool == "labelstudio":
            data = writers.labelstudio_predictions(entries, batch, attr, read, brushes)
            (staging / back).write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            xml = writers.cvat_xml(entries, batch, attr, read, chosen_labels or _labels_seen(entries, attr), cvat_masks)
            (staging / back).write_bytes(xml)
        with (staging / "payload.json").open("w", encoding="utf-8") as fh:
            json.dump(batch.review_payload(), fh, ensure_ascii=False)
        replace_outputs(staging, out, ("masks", back, "payload.json", "results.jsonl"))
    for entry in entries:
        meta = entry["consolidatedAnnotation"]["content"][attr]
        for issue in meta.get("rejected-answers", []):
            click.echo(
                f"warning: object {entry['datasetObjectId']}, worker {issue['workerId']}: answer rejected: {issue['reason']}",
                err=True,
            )
        if "failure-reason" in meta:
            click.echo(
                f"warning: object {entry['datasetObjectId']}: not consolidated: {meta['failure-reason']}", err=True
            )
    click.echo(_summary(tool, batch, entries, report, out, attr))
    failed = any("failure-reason" in e["consolidatedAnnotation"]["content"][attr] for e in entries)
    return ExitCode.FAILED_OBJECTS if failed else ExitCode.OK
