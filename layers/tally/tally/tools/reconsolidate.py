"""``tally reconsolidate``: consolidate again a finished job whose answers were only stored.

AWS's recipe "consolidation" keeps every worker's answer under the label attribute as
``{"annotationsFromAllWorkers": [{workerId, annotationData}]}``; a job run without a consolidation
Lambda leaves the attribute empty and points at the answers with ``worker-response-ref`` in its
metadata. Each line becomes one data object (its ``datasetObjectId`` is the line's number,
counting from 0), lines go through :func:`tally.consolidate.run_batch` in batches of
``--batch-size``, and each output line is the input line with ``<attr>`` and ``<attr>-metadata``
replaced by what the Lambda returns for it.

Streaming and resumable: lines are read and written batch by batch (memory is bounded by the batches in
flight); ``OUT/.reconsolidate.json`` records how many lines of ``OUT/.output.manifest.partial`` are
complete after every batch, so an interrupted run continues where it stopped, and a finished one
(``OUT/output.manifest`` + ``OUT/summary.json``) is not redone. Batches are spread over processes.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import shutil
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.pool import AsyncResult
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from ..consolidate import BatchJob, respond, run_batch
from ..errors import TallyError
from ..gt.events import DatasetObject, describe_validation_error, job_name_from_arn
from ..gt.response import ObjectResult, TaskType, creation_date
from ..settings import ALGORITHMS, Settings
from ..storage import split_s3_uri
from ._common import (
    CliStorage,
    ExitCode,
    InputError,
    buckets_under,
    build_settings,
    configure_logging,
    count_lines,
    current_verbosity,
    deferred_interrupt,
    load_json,
    progress_bar,
    replace_settings,
    stderr_console,
)
from ._sources import JobIndex, Locator, data_object, line_annotations, located_annotations
from .consolidate import parse_labels

__all__ = ["Interrupted", "reconsolidate", "reconsolidate_lines"]

STATE = ".reconsolidate.json"
PARTIAL = ".output.manifest.partial"
OUTPUT = "output.manifest"
SUMMARY = "summary.json"


class Interrupted(click.ClickException):
    """Ctrl-C during a resumable run: exit 130 with one line saying how to continue."""

    exit_code = ExitCode.INTERRUPTED

    def show(self, file: Any = None) -> None:
        click.echo(f"tally: interrupted; {self.message}", err=True)


@dataclass(frozen=True)
class Job:
    """Everything a batch needs, sent to the worker processes."""

    source: str  # for messages
    attr: str
    labels: tuple[str, ...] | None
    settings: Settings
    s3_root: str | None
    masks: str
    created: datetime  # the payloads' timestamp: the source's modification time (stable across resumes)
    job_arn: str | None = None


def reconsolidate_lines(
    job: Job,
    first: int,
    raw_lines: Sequence[str],
    locators: Sequence[Locator | None] | None = None,
    on_result: Callable[[ObjectResult], None] | None = None,
) -> tuple[str, int]:
    """Consolidate one batch of manifest lines (numbered from ``first``); the output lines as text and
    how many objects were consolidated. ``locators``: where each line's answers are when the line does
    not hold them (a job's output prefix). Runs in a worker process or in-process."""
    storage = CliStorage(job.s3_root)
    lines: list[dict[str, Any]] = []
    objects: list[DatasetObject] = []
    unusable: list[ObjectResult] = []
    payloads: dict[str, Any] = {}
    for offset, raw in enumerate(raw_lines):
        number = first + offset
        line = load_json(raw, f"{job.source} line {number + 1}")
        if not isinstance(line, dict):
            raise InputError(f"{job.source} line {number + 1} is not a JSON object")
        lines.append(line)
        locator = locators[offset] if locators is not None else None
        try:
            if locator is not None:
                annotations = located_annotations(locator, storage, payloads)
            else:
                annotations = line_annotations(line, job.attr, storage)
        except TallyError as exc:
            raise InputError(f"{job.source} line {number + 1}: {exc}") from exc
        element = {"datasetObjectId": str(number), "dataObject": data_object(line), "annotations": annotations}
        try:
            objects.append(DatasetObject.model_validate(element))
        except ValidationError as exc:
            reason = f"the answers do not make a data object: {describe_validation_error(exc)}"
            unusable.append(ObjectResult.failed(str(number), TaskType.CUSTOM.value, reason))
    batch = BatchJob(
        settings=job.settings, artefact_prefix=job.masks, job_id=job.job_arn or "", event_labels=job.labels
    )
    results = run_batch(objects, batch, storage, on_result=on_result)
    for result in unusable:
        if on_result is not None:
            on_result(result)
    entries, _ = respond(
        [*results, *unusable],
        job.attr,
        job_name=job_name_from_arn(job.job_arn) or f"labeling-job/{job.attr}",
        created=creation_date(job.created),
        storage=storage,
        prefix=job.masks,
    )
    by_id = {entry["datasetObjectId"]: entry["consolidatedAnnotation"]["content"] for entry in entries}
    out = []
    for offset, line in enumerate(lines):
        line.update(by_id[str(first + offset)])
        out.append(json.dumps(line, separators=(",", ":")) + "\n")
    return "".join(out), sum(r.ok for r in results)


def _init_worker(verbose: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    configure_logging(verbose)  # as quiet as the parent: it reports answers and failures itself


def _batches(path: Path, skip: int, size: int) -> Iterator[tuple[int, list[str]]]:
    """The source's non-blank lines in batches of ``size``, after the first ``skip`` lines."""
    batch: list[str] = []
    number = 0
    first = skip
    with path.open("r", encoding="utf-8") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            if number >= skip:
                batch.append(raw)
                if len(batch) == size:
                    yield first, batch
                    first += size
                    batch = []
            number += 1
    if batch:
        yield first, batch


def _located(
    batches: Iterator[tuple[int, list[str]]], index: JobIndex | None, attr: str, source: str
) -> Iterator[tuple[int, list[str], list[Locator | None] | None]]:
    """Each batch with where its lines' answers are (``None`` when the manifest holds them)."""
    for first, lines in batches:
        if index is None:
            yield first, lines, None
            continue
        locators: list[Locator | None] = []
        for offset, raw in enumerate(lines):
            line = load_json(raw, f"{source} line {first + offset + 1}")
            locators.append(index.locate(line, attr, first + offset) if isinstance(line, dict) else None)
        yield first, lines, locators


@dataclass
class _State:
    path: Path
    key: dict[str, Any]
    lines_done: int = 0
    bytes_done: int = 0
    finished: bool = False

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = {
            "key": self.key,
            "lines_done": self.lines_done,
            "bytes_done": self.bytes_done,
            "finished": self.finished,
        }
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, self.path)


def _run_key(
    source: Path,
    known_as: str,
    attr: str,
    batch_size: int,
    settings: Settings,
    labels: tuple[str, ...] | None,
    job_arn: str | None,
) -> dict[str, Any]:
    stat = source.stat()
    return {
        "source": known_as,
        "source-size": stat.st_size,
        "source-mtime-ns": stat.st_mtime_ns,
        "label-attribute": attr,
        "batch-size": batch_size,
        "algorithm": settings.algorithm,
        "confidence-maps": settings.confidence_maps,
        "labels": list(labels) if labels else None,
        "element-name": settings.element_name,
        "job-arn": job_arn,
    }


def _summarise(output: Path, attr: str) -> tuple[dict[str, Any], list[str]]:
    """Counts from a finished output manifest (streamed), and one message per rejected answer or failure."""
    counts = {"lines": 0, "consolidated": 0, "failed": 0, "passed-through": 0, "answers-rejected": 0}
    confidences: list[float] = []
    messages: list[str] = []
    with output.open("r", encoding="utf-8") as fh:
        for number, raw in enumerate(fh):
            line = json.loads(raw)
            meta = line.get(f"{attr}-metadata", {})
            counts["lines"] += 1
            for issue in meta.get("rejected-answers", []):
                counts["answers-rejected"] += 1
                messages.append(
                    f"line {number + 1}, worker {issue.get('workerId')}: answer rejected: {issue.get('reason')}"
                )
            if "failure-reason" in meta:
                counts["failed"] += 1
                messages.append(f"line {number + 1}: not consolidated: {meta['failure-reason']}")
                continue
            if meta.get("type") == "groundtruth/custom":
                counts["passed-through"] += 1
                continue
            counts["consolidated"] += 1
            if isinstance(meta.get("confidence"), int | float):
                confidences.append(float(meta["confidence"]))
    summary: dict[str, Any] = {
        **counts,
        "mean-confidence": round(sum(confidences) / len(confidences), 4) if confidences else None,
    }
    return summary, messages


def _print_summary(summary: dict[str, Any], messages: list[str], out: Path, shown: int = 50) -> None:
    for message in messages[:shown]:
        click.echo(f"warning: {message}", err=True)
    if len(messages) > shown:
        click.echo(f"warning: ... and {len(messages) - shown} more (see {out / OUTPUT})", err=True)
    mean = summary["mean-confidence"]
    click.echo(
        "\n".join(
            [
                f"lines:            {summary['lines']} ({summary['consolidated']} consolidated,"
                f" {summary['passed-through']} passed through unconsolidated, {summary['failed']} failed)",
                f"answers rejected: {summary['answers-rejected']}",
                f"mean confidence:  {'n/a' if mean is None else f'{mean:.3f}'}",
                f"masks:            {out / 'masks'}",
                f"output manifest:  {out / OUTPUT}",
                f"summary:          {out / SUMMARY}",
            ]
        )
    )


SOURCE_COPY = ".source.manifest"


def _source_file(source: str, s3_root: str | None, out: Path) -> tuple[Path, str]:
    """The manifest on disk, and the name it is known by: a local file (or mirrored ``s3://``) as it
    is; a real ``s3://`` object downloaded once (streamed to disk) to ``OUT/.source.manifest``."""
    path = CliStorage(s3_root).local_path(source)
    if path is not None:
        if not path.exists():
            raise InputError(f"cannot read {source}: no such file")
        return path, str(path.resolve())
    copy = out / SOURCE_COPY
    if not copy.is_file():
        bucket, key = split_s3_uri(source)
        try:
            import boto3  # noqa: F401  (only when S3 is really needed: its download_file streams to disk)

            from .. import aws
        except ImportError as exc:
            raise InputError("an s3:// SOURCE needs boto3 (pip install tally[aws]) or --s3-root") from exc
        part = copy.with_name(copy.name + ".part")
        try:
            aws.boto3_session(aws.own_session()).client("s3").download_file(bucket, key, str(part))
        except Exception as exc:  # botocore's errors, without importing botocore here
            part.unlink(missing_ok=True)
            raise InputError(f"cannot read {source}: {type(exc).__name__}") from exc
        os.replace(part, copy)
    return copy, source


@click.command(
    epilog="Exit codes: 0 every line consolidated, 1 some lines failed, 2 usage error, 3 input/runtime error, "
    "130 interrupted (run the same command again to continue)."
)
@click.argument("source")
@click.option("--label-attribute", "attr", required=True, help="The job's label attribute (LabelAttributeName).")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path),
    help="Directory for output.manifest, masks/ and summary.json.",
)
@click.option(
    "--s3-root",
    type=click.Path(exists=True, file_okay=False, dir_okay=True),
    help="Directory standing in for S3 (s3://BUCKET/KEY is DIR/BUCKET/KEY); answers under any bucket in it may be read.",
)
@click.option(
    "--labels",
    help="Label names in class-key order (JSON list or a,b,c) [default: TALLY_LABELS, else from the answers].",
)
@click.option(
    "--algorithm", type=click.Choice(ALGORITHMS), help="Segmentation vote [default: TALLY_ALGORITHM or reliability]."
)
@click.option(
    "--confidence-maps/--no-confidence-maps",
    default=None,
    help="Write a per-pixel confidence map PNG beside each segmentation mask (reliability vote) "
    "[default: TALLY_CONFIDENCE_MAPS or on].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Lines per consolidation batch (worker reliability is estimated per batch, as the Lambda does per payload).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="all cores",
    help="Processes consolidating batches at once.",
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Objects consolidated at once within a process [default: 1 with --jobs > 1, else TALLY_THREADS or 4].",
)
@click.option(
    "--read-bucket",
    "read_buckets",
    multiple=True,
    metavar="BUCKET",
    help="A bucket answers may be read from. Repeatable.",
)
@click.option("--element-name", help="The template's crowd element name; answers without it are rejected.")
@click.option("--job-arn", help="The labeling job's ARN, for job-name in the metadata [default: labeling-job/ATTR].")
@click.option("--restart", is_flag=True, help="Discard OUT's earlier run (finished or not) and start again.")
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar [default: when stderr is a terminal]."
)
def reconsolidate(
    source: str,
    attr: str,
    out: Path,
    s3_root: str | None,
    labels: str | None,
    algorithm: str | None,
    confidence_maps: bool | None,
    batch_size: int,
    jobs: int,
    threads: int | None,
    read_buckets: Sequence[str],
    element_name: str | None,
    job_arn: str | None,
    restart: bool,
    progress: bool | None,
) -> int:
    """Consolidate a finished job again from its output manifest.

    SOURCE is a job's output prefix (a directory, or s3:// under --s3-root: its manifests/output/
    output.manifest, with answers from annotations/consolidated-annotation/consolidation-request/
    iteration-*/ payloads and annotations/worker-response/ files where a line holds none), or an output
    manifest (a path, file:// or s3:// URI; an s3:// one is downloaded once to
    OUT/.source.manifest unless --s3-root mirrors it) whose ATTR holds every worker's answer (AWS's recipe:
    {"annotationsFromAllWorkers": [...]}) or, for jobs run without a consolidation Lambda, an empty ATTR
    with worker-response-ref in ATTR-metadata. OUT/output.manifest gets one line per input line: the
    line with ATTR and ATTR-metadata replaced by exactly what tally's Lambda returns for it (answer
    shapes tally does not consolidate yet, such as instance segmentation, are passed through); masks go
    to OUT/masks/, counts to OUT/summary.json.

    Interrupted? Run the same command again: it continues after the last finished batch. A finished
    run is not redone (use --restart).

    \b
    Examples:
      tally reconsolidate output.manifest --label-attribute gt-label --out out/gt-label
      tally reconsolidate s3://bucket/job/manifests/output/output.manifest --label-attribute street \\
          --labels road,car,person --jobs 2 --out out/street
    """
    label_list = parse_labels(labels)
    buckets = buckets_under(s3_root)
    source_bucket = (split_s3_uri(source)[0],) if source.startswith("s3://") else ()
    settings = build_settings(
        algorithm=algorithm,
        confidence_maps=confidence_maps,
        threads=threads,
        element_name=element_name,
        read_buckets=tuple(dict.fromkeys([*buckets, *source_bucket, *read_buckets])) or None,
    )
    label_tuple = tuple(label_list) if label_list else None
    out.mkdir(parents=True, exist_ok=True)
    if restart:
        for name in (OUTPUT, SUMMARY, PARTIAL, STATE, SOURCE_COPY):
            (out / name).unlink(missing_ok=True)
        shutil.rmtree(out / "masks", ignore_errors=True)
    path, known_as = _source_file(source, s3_root, out)
    index: JobIndex | None = None
    if path.is_dir():  # a job's output prefix
        index = JobIndex(path)
        path = path / "manifests" / "output" / "output.manifest"
        if not path.is_file():
            raise InputError(f"{source} has no manifests/output/output.manifest")
    key = _run_key(path, known_as, attr, batch_size, settings, label_tuple, job_arn)
    state = _load_state(out, key)
    if state.finished and (out / OUTPUT).is_file() and (out / SUMMARY).is_file():
        summary = json.loads((out / SUMMARY).read_text())
        click.echo(
            f"{out / OUTPUT} is complete for this source and these options; nothing to do (--restart redoes it)",
            err=True,
        )
        _print_summary(summary, _summarise(out / OUTPUT, attr)[1], out)
        return ExitCode.FAILED_OBJECTS if summary["failed"] else ExitCode.OK
    job = Job(
        source=source,
        attr=attr,
        labels=label_tuple,
        settings=settings,
        s3_root=s3_root,
        masks=str(out / "masks"),
        created=datetime.fromtimestamp(path.stat().st_mtime, tz=UTC),
        job_arn=job_arn,
    )
    total = count_lines(path)
    partial = out / PARTIAL
    if state.finished or not partial.is_file() or partial.stat().st_size < state.bytes_done:
        # finished but its output.manifest is gone, or the partial output is shorter than recorded: redo
        state.lines_done, state.bytes_done, state.finished = 0, 0, False
    remaining_batches = -(-(total - state.lines_done) // batch_size)
    jobs = max(1, min(jobs, remaining_batches))  # no process pool for a single batch
    if threads is None and jobs > 1:
        job = dataclasses.replace(job, settings=replace_settings(settings, threads=1))  # processes, not threads
    with partial.open("ab") as fh:
        fh.truncate(state.bytes_done)
    console = stderr_console()
    try:
        with progress_bar(progress, console) as bar, partial.open("ab") as sink:
            task = bar.add_task("reconsolidating", total=total, completed=state.lines_done)

            def commit(first: int, text: str, count: int) -> None:
                data = text.encode("utf-8")
                with deferred_interrupt():
                    sink.write(data)
                    sink.flush()
                    os.fsync(sink.fileno())
                    state.lines_done = first + count
                    state.bytes_done += len(data)
                    state.save()

            batches = _located(_batches(path, state.lines_done, batch_size), index, attr, source)
            if jobs == 1:
                for first, lines, locators in batches:
                    text, _ = reconsolidate_lines(job, first, lines, locators, lambda _: bar.advance(task, 1))
                    commit(first, text, len(lines))
                    bar.update(task, completed=state.lines_done)
            else:
                _run_pool(job, batches, jobs, commit, lambda: bar.update(task, completed=state.lines_done))
    except KeyboardInterrupt:
        raise Interrupted(f"{state.lines_done} of {total} lines done; run the same command again to continue") from None
    with deferred_interrupt():
        os.replace(partial, out / OUTPUT)
        summary, messages = _summarise(out / OUTPUT, attr)
        (out / SUMMARY).write_text(json.dumps({**summary, "source": key["source"], "options": key}, indent=1) + "\n")
        state.finished = True
        state.save()
    _print_summary(summary, messages, out)
    return ExitCode.FAILED_OBJECTS if summary["failed"] else ExitCode.OK


def _run_pool(
    job: Job,
    batches: Iterator[tuple[int, list[str], list[Locator | None] | None]],
    jobs: int,
    commit: Callable[[int, str, int], None],
    advance: Callable[[], None],
) -> None:
    """Batches on ``jobs`` processes, at most two per process in flight, committed in order."""
    context = multiprocessing.get_context("spawn")  # never fork a process that has threads
    pool = context.Pool(jobs, initializer=_init_worker, initargs=(current_verbosity(),))
    pending: deque[tuple[int, int, AsyncResult[tuple[str, int]]]] = deque()
    try:
        for first, lines, locators in batches:
            pending.append((first, len(lines), pool.apply_async(reconsolidate_lines, (job, first, lines, locators))))
            while len(pending) >= 2 * jobs:
                done_first, count, result = pending.popleft()
                commit(done_first, result.get()[0], count)
                advance()
        while pending:
            done_first, count, result = pending.popleft()
            commit(done_first, result.get()[0], count)
            advance()
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _load_state(out: Path, key: dict[str, Any]) -> _State:
    path = out / STATE
    if not path.exists():
        if (out / OUTPUT).exists() or (out / PARTIAL).exists():
            raise click.UsageError(
                f"{out} holds an output.manifest that this command did not start; use --restart or another --out"
            )
        state = _State(path, key)
        state.save()
        return state
    saved = json.loads(path.read_text())
    if saved.get("key") != key:
        changed = sorted(k for k in key if saved.get("key", {}).get(k) != key[k])
        raise click.UsageError(
            f"{out} holds a run with another source or options ({', '.join(changed)}); "
            "use --restart to discard it, or another --out"
        )
    return _State(path, key, int(saved["lines_done"]), int(saved["bytes_done"]), bool(saved.get("finished")))
