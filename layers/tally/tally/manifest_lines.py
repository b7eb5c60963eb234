"""A finished job's output-manifest lines, re-consolidated: the piece ``tally reconsolidate`` on one
machine (:mod:`tally.tools.reconsolidate`) and on AWS (:mod:`tally.distributed`) share. Where each line
keeps its workers' answers (:func:`line_annotations`), a batch of lines as data objects
(:func:`line_batch`), the batch consolidated into output lines (:func:`consolidate_lines`), and an
output manifest's counts (:func:`summarise_lines`).

AWS's recipe "consolidation" keeps every worker's answer under the label attribute as
``{"annotationsFromAllWorkers": [{workerId, annotationData}]}``; a job run without a consolidation
Lambda leaves the attribute empty and points at the answers with ``worker-response-ref`` in its
metadata (a worker-response file: ``{"answers": [{workerId, answerContent, ...}]}``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .consolidate import BatchJob, JobPlan, run_batch
from .errors import TallyError
from .gt.events import DatasetObject, describe_validation_error, job_name_from_arn
from .gt.response import ObjectResult, TaskType
from .gt.sink import respond
from .storage import Storage
from .tasks.passthrough import is_passed_through

__all__ = [
    "LineBatch",
    "consolidate_lines",
    "data_object",
    "line_annotations",
    "line_batch",
    "summarise_lines",
    "worker_response_annotations",
]


def _parse(data: bytes, name: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TallyError(f"{name} is not valid JSON") from exc


Parse = Callable[[bytes, str], Any]
"""Reads a file's bytes as JSON, naming the file (the second argument) in its error."""


def worker_response_annotations(ref: str, storage: Storage, parse: Parse = _parse) -> list[dict[str, Any]]:
    """A worker-response file as payload annotations. Raises :class:`TallyError` (naming ``ref``) when
    it cannot be read or has no answers list (``parse``: how its JSON is read and refused)."""
    document = parse(storage.read(ref), ref)
    answers = document.get("answers") if isinstance(document, dict) else None
    if not isinstance(answers, list):
        raise TallyError(f"{ref} has no answers list")
    return [
        {"workerId": str(a.get("workerId")), "annotationData": {"content": json.dumps(a.get("answerContent"))}}
        for a in answers
        if isinstance(a, dict)
    ]


def line_annotations(line: dict[str, Any], attr: str, storage: Storage, parse: Parse = _parse) -> list[dict[str, Any]]:
    """The answers a line holds (``annotationsFromAllWorkers``) or points at (``worker-response-ref``)."""
    value = line.get(attr)
    if isinstance(value, dict) and isinstance(value.get("annotationsFromAllWorkers"), list):
        return list(value["annotationsFromAllWorkers"])
    meta = line.get(f"{attr}-metadata")
    ref = meta.get("worker-response-ref") if isinstance(meta, dict) else None
    if isinstance(ref, str) and ref:
        return worker_response_annotations(ref, storage, parse)
    return []


def data_object(line: dict[str, Any]) -> dict[str, str]:
    """The line's data object as a consolidation payload element carries it."""
    if isinstance(line.get("source-ref"), str):
        return {"s3Uri": line["source-ref"]}
    if isinstance(line.get("source"), str):
        return {"content": line["source"]}
    return {}


Annotations = Callable[[int, dict[str, Any]], list[dict[str, Any]]]
"""A line's answers as payload annotations (its number, the line); :class:`TallyError` when they cannot
be read (the line fails with its message)."""


@dataclass
class LineBatch:
    """A batch of manifest lines: each (number, line) as read, the data objects of the lines that make
    one (``datasetObjectId``: the line's number, from 0), and a failure for each line that does not."""

    lines: list[tuple[int, Any]]
    objects: list[DatasetObject]
    unusable: dict[str, ObjectResult]


def line_batch(numbered: Iterable[tuple[int, Any]], annotations: Annotations) -> LineBatch:
    """The lines (numbered, read one at a time) as data objects; a line that is not a JSON object, whose
    answers cannot be read or do not make a data object fails with the reason."""
    lines: list[tuple[int, Any]] = []
    objects: list[DatasetObject] = []
    unusable: dict[str, ObjectResult] = {}
    for number, line in numbered:
        lines.append((number, line))
        object_id = str(number)
        if not isinstance(line, dict):
            unusable[object_id] = ObjectResult.failed(object_id, TaskType.CUSTOM.value, "the line is not a JSON object")
            continue
        try:
            answers = annotations(number, line)
        except TallyError as exc:
            unusable[object_id] = ObjectResult.failed(object_id, TaskType.CUSTOM.value, str(exc))
            continue
        element = {"datasetObjectId": object_id, "dataObject": data_object(line), "annotations": answers}
        try:
            objects.append(DatasetObject.model_validate(element))
        except ValidationError as exc:
            reason = f"the answers do not make a data object: {describe_validation_error(exc)}"
            unusable[object_id] = ObjectResult.failed(object_id, TaskType.CUSTOM.value, reason)
    return LineBatch(lines, objects, unusable)


def consolidate_lines(
    batch: LineBatch,
    attr: str,
    job: BatchJob,
    storage: Storage,
    *,
    plan: JobPlan | None,
    created: str,
    job_arn: str | None = None,
    on_result: Callable[[ObjectResult], None] | None = None,
) -> tuple[str, int]:
    """The batch consolidated (:func:`~tally.consolidate.run_batch` with the job's ``plan``): its output
    lines in line order (each line with ``attr`` and ``attr-metadata`` replaced; a line that was not a
    JSON object as ``{"line": ...}``), and how many objects were consolidated. ``created``: the outputs'
    ``creation-date``; ``on_result``: called with each object's result, the failed lines' included."""
    results = run_batch(batch.objects, job, storage, plan=plan, on_result=on_result)
    for result in batch.unusable.values():
        result.task_type = results.task_type  # a job has one task type
        if on_result is not None:
            on_result(result)
    entries = respond(
        [*results, *batch.unusable.values()],
        attr,
        job_name=job_name_from_arn(job_arn) or f"labeling-job/{attr}",
        created=created,
        storage=storage,
        prefix=job.artefact_prefix,
        threads=job.settings.threads,
    ).entries
    by_id = {entry["datasetObjectId"]: entry["consolidatedAnnotation"]["content"] for entry in entries}
    out = []
    for number, line in sorted(batch.lines, key=lambda pair: pair[0]):
        record = dict(line) if isinstance(line, dict) else {"line": line}
        record.update(by_id[str(number)])
        out.append(json.dumps(record, separators=(",", ":")) + "\n")
    return "".join(out), sum(r.ok for r in results)


def summarise_lines(lines: Iterable[Mapping[str, Any]], attr: str) -> tuple[dict[str, Any], list[str]]:
    """Counts of an output manifest (as ``tally reconsolidate``'s summary, plus per task type), and one
    message per rejected answer or failure. A form's line counts as consolidated when any of its fields
    is, else as ``kept-as-given`` (every field kept as given, as ``tally consolidate`` says of a form),
    never as passed through: that is a line of an answer shape tally has no consolidation for."""
    counts = {
        "lines": 0,
        "consolidated": 0,
        "failed": 0,
        "passed-through": 0,
        "kept-as-given": 0,
        "answers-rejected": 0,
    }
    tasks: Counter[str] = Counter()
    confidences: list[float] = []
    messages: list[str] = []
    for number, line in enumerate(lines):
        meta = line.get(f"{attr}-metadata", {})
        meta = meta if isinstance(meta, dict) else {}
        counts["lines"] += 1
        tasks[str(meta.get("type", "none"))] += 1
        for issue in meta.get("rejected-answers", []):
            counts["answers-rejected"] += 1
            messages.append(
                f"line {number + 1}, worker {issue.get('workerId')}: answer rejected: {issue.get('reason')}"
            )
        if "failure-reason" in meta:
            counts["failed"] += 1
            messages.append(f"line {number + 1}: not consolidated: {meta['failure-reason']}")
            continue
        if "fields-consolidated" in meta and not meta["fields-consolidated"]:  # a form: consolidated when any field is
            counts["kept-as-given"] += 1
            continue
        if is_passed_through(meta.get("type")) and "fields-consolidated" not in meta:
            counts["passed-through"] += 1
            continue
        counts["consolidated"] += 1
        if isinstance(meta.get("confidence"), int | float):
            confidences.append(float(meta["confidence"]))
    summary: dict[str, Any] = {
        **counts,
        "mean-confidence": round(sum(confidences) / len(confidences), 4) if confidences else None,
        "task-types": dict(sorted(tasks.items())),
    }
    return summary, messages
