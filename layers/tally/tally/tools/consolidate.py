"""``tally consolidate``: one Ground Truth consolidation batch, on local files or S3, as the Lambda does it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from ..consolidate import BatchReport, consolidate_batch
from ..errors import TallyError
from ..forms.consolidate import JobTemplate
from ..gt.events import ConsolidationRequest
from ..labels import parse_label_list
from ..settings import ALGORITHMS
from ..worker_store import WorkerStore
from ._common import (
    CliStorage,
    ExitCode,
    InputError,
    buckets_under,
    build_settings,
    load_json,
    progress_bar,
    replace_outputs,
    staging_dir,
    stderr_console,
)

__all__ = ["consolidate", "entry_messages", "parse_labels"]


def _request(source: str, storage: CliStorage, label_attribute: str, labels: list[str] | None) -> ConsolidationRequest:
    try:
        document: Any = load_json(storage.read(source), source)
    except TallyError as exc:
        raise InputError(str(exc)) from exc
    if isinstance(document, list):  # a payload file: make up the event around it
        path = storage.local_path(source)
        uri = str(path.resolve()) if path is not None else source
        storage.preload(uri, json.dumps(document).encode())
        document = {"labelAttributeName": label_attribute, "payload": {"s3Uri": uri}}
    elif not isinstance(document, dict):
        raise InputError(f"{source} is neither a consolidation event (JSON object) nor a payload (JSON list)")
    if labels:
        document["labelCategories"] = labels
    try:
        return ConsolidationRequest.parse(document)
    except TallyError as exc:
        raise InputError(f"{source}: {exc}") from exc


def _count_objects(request: ConsolidationRequest, storage: CliStorage) -> int:
    """Read the payload once (naming it in errors) and keep its bytes for the batch."""
    uri = request.payload.s3_uri
    try:
        data = storage.read(uri)
    except TallyError as exc:
        raise InputError(f"payload: {exc}") from exc
    payload = load_json(data, f"payload {uri}")
    if not isinstance(payload, list):
        raise InputError(f"payload {uri} is not a JSON list")
    storage.preload(uri, data)
    return len(payload)


def entry_messages(entry: dict[str, Any], attr: str) -> Iterator[str]:
    """One line per rejected answer, answer warning and failure of a response entry, naming the
    object and the worker."""
    obj = entry.get("datasetObjectId")
    meta = entry.get("consolidatedAnnotation", {}).get("content", {}).get(f"{attr}-metadata", {})
    for kind, key in (("rejected", "rejected-answers"), ("warning", "answer-warnings")):
        for issue in meta.get(key, []):
            yield f"object {obj}, worker {issue.get('workerId')}: answer {kind}: {issue.get('reason')}"
    if "failure-reason" in meta:
        yield f"object {obj}: not consolidated: {meta['failure-reason']}"


def _field_lines(report: BatchReport) -> list[str]:
    """A form's fields, one line each: what was consolidated and what was kept as given (and why)."""
    if not report.fields:
        return []
    width = max(len(name) for name in report.fields)
    lines = [f"form fields:      {len(report.fields)} (schema from {report.schema_source})"]
    for name, tally in report.fields.items():
        line = f"  {name:<{width}}  {tally.kind:<13} {tally.consolidated} consolidated, {tally.kept} kept as given"
        if tally.reasons:
            line += f" ({tally.reasons.most_common(1)[0][0]})"
        lines.append(line)
    return lines


def _summary(report: BatchReport, out: Path, worker_table: str | None = None) -> str:
    mean = report.mean_confidence
    lines = [
        f"objects:          {report.consolidated + report.passed_through + report.failed}"
        f" ({report.consolidated} consolidated, {report.passed_through} passed through unconsolidated,"
        f" {report.failed} failed)",
        f"answers rejected: {report.answers_rejected}",
        f"mean confidence:  {'n/a' if mean is None else f'{mean:.3f}'}",
        f"class keys from:  {report.label_source}",
        f"masks:            {out / 'masks'}",
        f"results:          {out / 'results.jsonl'}",
    ]
    if worker_table:
        lines.insert(4, f"worker model:     {report.worker_model} (table {worker_table})")
    if report.fields:  # forms: an object is consolidated when any of its fields is
        lines[0] = (
            f"objects:          {report.consolidated + report.passed_through + report.failed}"
            f" ({report.consolidated} with fields consolidated, {report.passed_through} with every field kept"
            f" as given, {report.failed} failed)"
        )
        lines[4:4] = _field_lines(report)
        lines.remove(f"class keys from:  {report.label_source}")
    if report.dropped:
        lines.insert(1, f"payload elements without a usable datasetObjectId: {report.dropped}")
    return "\n".join(lines)


def _worker_store(table: str | None) -> WorkerStore | None:
    if not table:
        return None
    try:
        from .. import aws  # boto3 only when a table is asked for

        return aws.worker_store(table)
    except ImportError as exc:
        raise InputError("--worker-table needs boto3 (pip install tally[aws])") from exc


def _template(path: Path | None) -> Callable[[], JobTemplate] | None:
    if path is None:
        return None
    try:
        html = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--template {path}: {exc}") from exc
    found = JobTemplate(html)
    return lambda: found


def parse_labels(value: str | None) -> list[str] | None:
    if not value:
        return None
    try:
        return parse_label_list(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--labels'") from exc


@click.command(
    epilog="Exit codes: 0 all consolidated, 1 some or all objects failed, 2 usage error, "
    "3 input/runtime error, 130 interrupted."
)
@click.argument("source", metavar="EVENT_OR_PAYLOAD")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path),
    help="Directory for masks/ and results.jsonl. Both are replaced as a whole when the run completes; "
    "nothing is written if it does not.",
)
@click.option(
    "--s3-root",
    type=click.Path(exists=True, file_okay=False, dir_okay=True),
    help="Directory standing in for S3: s3://BUCKET/KEY is read from DIR/BUCKET/KEY, and answers stored "
    "under any bucket in DIR (annotationData.s3Uri) may be read. Without it, s3:// URIs are read from "
    "S3 with your AWS credentials.",
)
@click.option("--labels", help="Label names in class-key order, as a JSON list or a,b,c (replaces labelCategories).")
@click.option(
    "--label-attribute",
    default="label",
    show_default=True,
    help="labelAttributeName when EVENT_OR_PAYLOAD is a bare payload list.",
)
@click.option(
    "--algorithm", type=click.Choice(ALGORITHMS), help="Segmentation vote [default: TALLY_ALGORITHM or reliability]."
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Objects consolidated at once [default: 1 with --from an export, else TALLY_THREADS or 4].",
)
@click.option(
    "--confidence-maps/--no-confidence-maps",
    default=None,
    help="Write a per-pixel confidence map PNG beside each segmentation mask (reliability vote) "
    "[default: TALLY_CONFIDENCE_MAPS or off].",
)
@click.option(
    "--read-bucket",
    "read_buckets",
    multiple=True,
    metavar="BUCKET",
    help="A bucket answers (annotationData.s3Uri) may be read from besides the payload's. Repeatable.",
)
@click.option("--element-name", help="The template's crowd element name; answers without it are rejected.")
@click.option(
    "--template",
    "template_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The job's worker template (.liquid.html): when the answers are a form, its fields, their kinds and "
    "options are read from it (the Lambda reads it through DescribeLabelingJob). Without it they are inferred "
    "from the answers. docs/forms.md. With --from labelstudio: the project's labeling config (XML), for the "
    "choices' options and the Number/Rating bounds.",
)
@click.option(
    "--worker-table",
    metavar="NAME",
    help="DynamoDB table keeping the job's worker statistics across batches (as TALLY_WORKER_TABLE does for "
    "the Lambda; your AWS credentials). Without it, the batch's worker model is its own.",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar [default: when stderr is a terminal]."
)
@click.option(
    "--from",
    "from_tool",
    type=click.Choice(["groundtruth", "labelstudio", "cvat", "coco"]),
    default="groundtruth",
    show_default=True,
    help="What EVENT_OR_PAYLOAD is: a Ground Truth batch, a Label Studio JSON export, CVAT for images 1.1 XML "
    "or COCO JSON of each annotator's job (a file, a directory or zips); --element-name then names the field "
    "(control tag, shape kind) to consolidate. docs/importers.md",
)
def consolidate(
    source: str,
    out: Path,
    s3_root: str | None,
    labels: str | None,
    label_attribute: str,
    algorithm: str | None,
    confidence_maps: bool | None,
    threads: int | None,
    read_buckets: Sequence[str],
    element_name: str | None,
    template_file: Path | None,
    worker_table: str | None,
    progress: bool | None,
    from_tool: str,
) -> int:
    """Consolidate one Ground Truth batch the way tally's Lambda does.

    EVENT_OR_PAYLOAD is a consolidation event (a JSON object with payload.s3Uri) or the payload itself
    (the JSON list Ground Truth writes under consolidation-request/). Paths, file:// and s3:// URIs are
    accepted. Masks go to OUT/masks/, one Ground Truth response entry per object to OUT/results.jsonl,
    a summary to stdout, and every rejected answer and failed object (naming object and worker) to stderr.

    \b
    Examples:
      tally consolidate events/consolidation.json --s3-root events/s3 --out out/example-job
      tally consolidate payload.json --labels road,car,person --label-attribute street --out out/b1
      tally consolidate payload.json --template review.liquid.html --out out/forms
      tally consolidate s3://my-bucket/job/annotations/.../iteration-1/2026-01-01_00:00:00.json --out out/b1
    """
    buckets = buckets_under(s3_root)
    if threads is None and from_tool != "groundtruth":
        # An export is read and decoded whole before the vote, so the pool has no reads or PNG decodes to
        # overlap, and the import's own work holds the GIL: more threads only contend for it (measured in
        # docs/benchmarks.md, "Masks measured in process"). One thread unless --threads asks for more.
        threads = 1
    settings = build_settings(
        algorithm=algorithm,
        confidence_maps=confidence_maps,
        threads=threads,
        element_name=element_name,
        read_buckets=tuple(dict.fromkeys([*buckets, *read_buckets])) or None,
    )
    if from_tool != "groundtruth":
        from .imported import consolidate_imported

        return consolidate_imported(
            from_tool,
            source,
            out,
            settings=settings,
            labels=parse_labels(labels),
            label_attribute=label_attribute,
            field=element_name,
            progress=progress,
            template=template_file,
        )
    store = _worker_store(worker_table)
    form_template = _template(template_file)
    reader = CliStorage(s3_root)
    request = _request(source, reader, label_attribute, parse_labels(labels))
    total = _count_objects(request, reader)
    console = stderr_console()
    with staging_dir(out) as staging:
        storage = reader.staged(out, staging)  # keeps the payload read above
        with progress_bar(progress, console) as bar:
            task = bar.add_task("consolidating", total=total)
            try:
                report = consolidate_batch(
                    request,
                    storage,
                    settings=settings,
                    mask_prefix=str(out / "masks"),
                    worker_store=store,
                    on_result=lambda _: bar.advance(task, 1),
                    form_template=form_template,
                )
            except TallyError as exc:
                raise InputError(str(exc)) from exc
        with (staging / "results.jsonl").open("w", encoding="utf-8") as fh:
            for entry in report.response:
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
        replace_outputs(staging, out, ("masks", "results.jsonl"))
    attr = request.label_attribute_name
    for entry in report.response:
        for message in entry_messages(entry, attr):
            click.echo(f"warning: {message}", err=True)
    click.echo(_summary(report, out, worker_table))
    return ExitCode.FAILED_OBJECTS if report.failed or report.dropped else ExitCode.OK
