"""``tally reconsolidate``: consolidate again a finished job whose answers were only stored.

AWS's recipe "consolidation" keeps every worker's answer under the label attribute as
``{"annotationsFromAllWorkers": [{workerId, annotationData}]}``; a job run without a consolidation
Lambda leaves the attribute empty and points at the answers with ``worker-response-ref`` in its
metadata. Each line becomes one data object (its ``datasetObjectId`` is the line's number, counting
from 0), and each output line is the input line with ``<attr>`` and ``<attr>-metadata`` replaced by
what the Lambda returns for it.

The job is judged as one batch of every line would be, in chunks of ``--batch-size`` lines (the unit
of work, of parallelism and of resumption), in two or three passes over the chunks:

1. **survey and gather** (:func:`tally.consolidate.survey_and_gather`): which task the answers are,
   the labels they use and their colours, added up over the job, and each object's summary (what a
   worker model learns from) under the chunk's own choice of task and labels. The job's task, labels
   and colours are then decided once (:class:`tally.consolidate.JobPlan`), so every chunk agrees;
2. **gather again** (:func:`tally.consolidate.gather`), only for the chunks whose own choice was not
   the job's (a chunk that lacks some of the job's labels when they are inferred from the answers);
   the worker model is then fitted once on every summary, in the job's order: exactly the model one
   batch of every line would fit (:func:`tally.consolidate.fit_job_model`);
3. **consolidate** (:func:`tally.consolidate.run_batch` with the plan and the job's model).

Streaming and resumable: lines are read and written chunk by chunk (memory is bounded by the chunks in
flight, plus the job's summaries in the main process while the model is fitted). ``OUT/.reconsolidate.json``
records the pass and how many lines of it are done after every chunk, with the survey so far; the
summaries are appended to ``OUT/.reconsolidate-summaries.pickle`` until the model is fitted, the plan
and the model kept in ``OUT/.reconsolidate-plan.pickle``, the output lines appended to
``OUT/.output.manifest.partial``. So an interrupted run continues where it stopped, with the same
model, and a finished one (``OUT/output.manifest`` + ``OUT/summary.json``) is not redone. Chunks are
spread over processes. The hidden files are this command's private state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import pickle
import shutil
import signal
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from multiprocessing.pool import AsyncResult, Pool
from pathlib import Path
from typing import Any

import click

from ..consolidate import (
    BatchJob,
    JobPlan,
    Survey,
    fit_job_model,
    gather,
    survey_and_gather,
)
from ..errors import ConfigError, TallyError
from ..gt.response import ObjectResult, creation_date
from ..manifest_lines import LineBatch, consolidate_lines, line_batch, summarise_lines
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
    counted,
    current_verbosity,
    deferred_interrupt,
    load_json,
    progress_bar,
    replace_settings,
    stderr_console,
)
from ._sources import JobIndex, Locator, line_annotations, located_annotations
from .consolidate import parse_labels

__all__ = ["Interrupted", "Job", "first_pass_lines", "gather_lines", "reconsolidate", "reconsolidate_lines"]

STATE = ".reconsolidate.json"
PARTIAL = ".output.manifest.partial"
SUMMARIES = ".reconsolidate-summaries.pickle"
PLAN = ".reconsolidate-plan.pickle"
OUTPUT = "output.manifest"
SUMMARY = "summary.json"
SOURCE_COPY = ".source.manifest"
# The run state's layout and meaning; a run of another format is not resumed.
# 2: a form's fields fitted on the whole job.
_FORMAT = "whole-job/2"


class Interrupted(click.ClickException):
    """Ctrl-C during a resumable run: exit 130 with one line saying how to continue."""

    exit_code = ExitCode.INTERRUPTED

    def show(self, file: Any = None) -> None:
        click.echo(f"tally: interrupted; {self.message}", err=True)


class Stage(StrEnum):
    """The passes of a run, in order (module docstring)."""

    SURVEY = "survey"
    GATHER = "gather"
    CONSOLIDATE = "consolidate"


_DONE = {Stage.SURVEY: "surveyed", Stage.GATHER: "gathered", Stage.CONSOLIDATE: "done"}
_PASS = {Stage.SURVEY: "pass 1", Stage.GATHER: "pass 2", Stage.CONSOLIDATE: "the last pass"}


@dataclass(frozen=True)
class Job:
    """Everything a chunk needs, sent to the worker processes."""

    source: str  # for messages
    attr: str
    labels: tuple[str, ...] | None
    settings: Settings
    s3_root: str | None
    masks: str
    created: datetime  # the outputs' creation-date: the source's modification time (stable across resumes)
    job_arn: str | None = None
    template: str | None = None  # the job's worker template (--template): a form's fields

    def batch_job(self) -> BatchJob:
        from ..forms.consolidate import JobTemplate

        found = JobTemplate(self.template) if self.template is not None else None
        return BatchJob(
            settings=self.settings,
            artefact_prefix=self.masks,
            job_id=self.job_arn or "",
            event_labels=self.labels,
            form_template=(lambda: found) if found is not None else None,
        )


@dataclass(frozen=True)
class _PlanFile:
    """The job's plan (and model) as a worker process finds it: a pickle in OUT, read once per process."""

    path: str
    digest: str


_plans: dict[tuple[str, str], JobPlan | None] = {}


def _the_plan(plan: JobPlan | _PlanFile | None) -> JobPlan | None:
    if not isinstance(plan, _PlanFile):
        return plan
    key = (plan.path, plan.digest)
    if key not in _plans:
        data = Path(plan.path).read_bytes()
        if hashlib.sha256(data).hexdigest() != plan.digest:
            raise InputError(f"{plan.path} changed during the run; run the command again with --restart")
        _plans.clear()  # one job at a time
        _plans[key] = pickle.loads(data)  # this command's own file, checked by digest
    return _plans[key]


def _objects(
    job: Job, first: int, raw_lines: Sequence[str], locators: Sequence[Locator | None] | None, storage: CliStorage
) -> LineBatch:
    """The chunk's lines, their data objects, and a failure for each line whose answers do not make a
    data object (:func:`tally.manifest_lines.line_batch`); a line that is not a JSON object, or whose
    answers cannot be read, is an input error (exit 3)."""
    payloads: dict[str, Any] = {}

    def numbered() -> Iterator[tuple[int, dict[str, Any]]]:
        for offset, raw in enumerate(raw_lines):
            line = load_json(raw, f"{job.source} line {first + offset + 1}")
            if not isinstance(line, dict):
                raise InputError(f"{job.source} line {first + offset + 1} is not a JSON object")
            yield first + offset, line

    def annotations(number: int, line: dict[str, Any]) -> list[dict[str, Any]]:
        locator = locators[number - first] if locators is not None else None
        try:
            if locator is not None:
                return located_annotations(locator, storage, payloads)
            return line_annotations(line, job.attr, storage)
        except TallyError as exc:
            raise InputError(f"{job.source} line {number + 1}: {exc}") from exc

    return line_batch(numbered(), annotations)


def first_pass_lines(
    job: Job, first: int, raw_lines: Sequence[str], locators: Sequence[Locator | None] | None
) -> tuple[dict[str, Any], str, bytes]:
    """Pass 1 over one chunk of manifest lines (numbered from ``first``): its survey (as JSON), the digest
    of the task and labels it chose for itself, and its summaries under that choice (pickled)."""
    storage = CliStorage(job.s3_root)
    found = survey_and_gather(_objects(job, first, raw_lines, locators, storage).objects, job.batch_job(), storage)
    record = pickle.dumps((first, found.choice, found.summaries), protocol=pickle.HIGHEST_PROTOCOL)
    return found.survey.as_json(), found.choice, record


def gather_lines(
    job: Job,
    first: int,
    raw_lines: Sequence[str],
    locators: Sequence[Locator | None] | None,
    plan: JobPlan | _PlanFile | None,
) -> bytes:
    """Pass 2 over one chunk: its objects' summaries for the job's task and labels, pickled."""
    storage = CliStorage(job.s3_root)
    objects = _objects(job, first, raw_lines, locators, storage).objects
    the_plan = _the_plan(plan)
    assert the_plan is not None  # pass 2 runs only with a plan
    summaries = gather(objects, job.batch_job(), storage, the_plan)
    return pickle.dumps((first, the_plan.choice(), summaries), protocol=pickle.HIGHEST_PROTOCOL)


def reconsolidate_lines(
    job: Job,
    first: int,
    raw_lines: Sequence[str],
    locators: Sequence[Locator | None] | None = None,
    plan: JobPlan | _PlanFile | None = None,
    on_result: Callable[[ObjectResult], None] | None = None,
) -> tuple[str, int]:
    """Consolidate one chunk of manifest lines (numbered from ``first``); the output lines as text and
    how many objects were consolidated. ``locators``: where each line's answers are when the line does
    not hold them (a job's output prefix); ``plan``: the job's task, labels, colours and model (``None``:
    the chunk decides them as one batch would). Runs in a worker process or in-process."""
    storage = CliStorage(job.s3_root)
    batch = _objects(job, first, raw_lines, locators, storage)
    return consolidate_lines(
        batch, job.attr, job.batch_job(), storage, plan=_the_plan(plan), created=creation_date(job.created),
        job_arn=job.job_arn, on_result=on_result,
    )  # fmt: skip


def _init_worker(verbose: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    configure_logging(verbose)  # as quiet as the parent: it reports answers and failures itself


def _chunks(path: Path, skip: int, size: int) -> Iterator[tuple[int, list[str]]]:
    """The source's non-blank lines in chunks of ``size``, after the first ``skip`` lines."""
    chunk: list[str] = []
    number = 0
    first = skip
    with path.open("r", encoding="utf-8") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            if number >= skip:
                chunk.append(raw)
                if len(chunk) == size:
                    yield first, chunk
                    first += size
                    chunk = []
            number += 1
    if chunk:
        yield first, chunk


def _located(
    chunks: Iterator[tuple[int, list[str]]], index: JobIndex | None, attr: str, source: str
) -> Iterator[tuple[int, list[str], list[Locator | None] | None]]:
    """Each chunk with where its lines' answers are (``None`` when the manifest holds them)."""
    for first, lines in chunks:
        if index is None:
            yield first, lines, None
            continue
        locators: list[Locator | None] = []
        for offset, raw in enumerate(lines):
            line = load_json(raw, f"{source} line {first + offset + 1}")
            locators.append(index.locate(line, attr, first + offset) if isinstance(line, dict) else None)
        yield first, lines, locators


def _check_attribute(path: Path, attr: str, source: str) -> None:
    """Stop before anything is written when no line has ``attr`` (nor ``attr-metadata``): every line
    would fail. Reads only up to the first line that has it."""
    keys: list[str] | None = None
    number = 0
    with path.open("r", encoding="utf-8") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            number += 1
            line = load_json(raw, f"{source} line {number}")
            if not isinstance(line, dict):
                raise InputError(f"{source} line {number} is not a JSON object")
            if attr in line or f"{attr}-metadata" in line:
                return
            keys = keys if keys is not None else [str(k) for k in line]
    if keys is not None:
        shown = ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")
        raise click.BadParameter(f"no line has `{attr}` (keys: {shown})", param_hint="'--label-attribute'")


@dataclass
class _State:
    """The run's progress (``OUT/.reconsolidate.json``), saved after every chunk."""

    path: Path
    key: dict[str, Any]
    stage: Stage = Stage.SURVEY
    lines_done: int = 0  # of the current pass
    bytes_done: int = 0  # of the current pass's file (gathered summaries, then the partial manifest)
    survey: dict[str, Any] = field(default_factory=lambda: Survey().as_json())
    choices: dict[str, str] = field(default_factory=dict)  # per chunk (first line), the choice it gathered under
    regather: list[int] = field(default_factory=list)  # chunks gathered again in pass 2
    plan_digest: str | None = None
    finished: bool = False

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = {
            "key": self.key,
            "stage": self.stage.value,
            "lines_done": self.lines_done,
            "bytes_done": self.bytes_done,
            "survey": self.survey,
            "choices": self.choices,
            "regather": self.regather,
            "plan_digest": self.plan_digest,
            "finished": self.finished,
        }
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, self.path)

    @property
    def wrote_output(self) -> bool:
        """Whether the run has written output lines (or masks) that another run must not mix with."""
        return self.finished or (self.stage is Stage.CONSOLIDATE and (self.lines_done > 0 or self.bytes_done > 0))

    def restart(self) -> None:
        self.stage, self.lines_done, self.bytes_done = Stage.SURVEY, 0, 0
        self.survey, self.plan_digest, self.finished = Survey().as_json(), None, False
        self.choices, self.regather = {}, []


def _run_key(
    source: Path,
    known_as: str,
    attr: str,
    batch_size: int,
    settings: Settings,
    labels: tuple[str, ...] | None,
    job_arn: str | None,
    template: str | None = None,
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
        "template": hashlib.sha256(template.encode()).hexdigest()[:16] if template is not None else None,
        "worker-models": _FORMAT,
    }


def _summarise(output: Path, attr: str) -> tuple[dict[str, Any], list[str]]:
    """Counts from a finished output manifest (streamed), and one message per rejected answer or failure
    (:func:`tally.manifest_lines.summarise_lines`, without its per-task counts)."""
    with output.open("r", encoding="utf-8") as fh:
        summary, messages = summarise_lines((json.loads(raw) for raw in fh), attr)
    summary.pop("task-types", None)
    return summary, messages


def print_summary(
    summary: dict[str, Any],
    messages: Sequence[str],
    manifest: str,
    summary_file: str,
    masks: str | None = None,
    see: str | None = None,
    shown: int = 50,
) -> None:
    """A finished run's warnings (the first ``shown``; the rest are in ``see``, default the manifest) and
    counts, and where its output is; on this machine and on AWS (:mod:`tally.tools.on_aws`)."""
    for message in messages[:shown]:
        click.echo(f"warning: {message}", err=True)
    if len(messages) > shown:
        click.echo(f"warning: ... and {len(messages) - shown} more (see {see or manifest})", err=True)
    mean = summary.get("mean-confidence")
    kept = summary.get("kept-as-given", 0)  # forms with every field kept as given (a summary of an older run: none)
    forms = f" {counted(kept, 'form')} with every field kept as given," if kept else ""
    lines = [
        f"lines:            {summary['lines']} ({summary['consolidated']} consolidated,{forms}"
        f" {summary['passed-through']} passed through unconsolidated, {summary['failed']} failed)",
        f"answers rejected: {summary['answers-rejected']}",
        f"mean confidence:  {'n/a' if mean is None else f'{mean:.3f}'}",
    ]
    if masks is not None:
        lines.append(f"masks:            {masks}")
    lines += [f"output manifest:  {manifest}", f"summary:          {summary_file}"]
    click.echo("\n".join(lines))


def _print_summary(summary: dict[str, Any], messages: list[str], out: Path) -> None:
    masks = str(out / "masks") if (out / "masks").is_dir() else None
    print_summary(summary, messages, str(out / OUTPUT), str(out / SUMMARY), masks)


def _local_source(source: str, s3_root: str | None) -> tuple[Path, str] | None:
    """The manifest on disk and the name it is known by, for a local (or mirrored ``s3://``) source;
    ``None`` for a real ``s3://`` one."""
    path = CliStorage(s3_root).local_path(source)
    if path is None:
        return None
    if not path.exists():
        raise InputError(f"cannot read {source}: no such file")
    return path, str(path.resolve())


def _download(source: str, out: Path) -> Path:
    """A real ``s3://`` manifest downloaded once (streamed to disk) to ``OUT/.source.manifest``; ``OUT``
    is created for it and removed again when the download fails and ``OUT`` held nothing else."""
    copy = out / SOURCE_COPY
    if copy.is_file():
        return copy
    bucket, key = split_s3_uri(source)
    try:
        import boto3  # noqa: F401  (only when S3 is really needed: its download_file streams to disk)

        from .. import aws
    except ImportError as exc:
        raise InputError("an s3:// SOURCE needs boto3 (pip install tally[aws]) or --s3-root") from exc
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    part = copy.with_name(copy.name + ".part")
    try:
        aws.boto3_session(aws.own_session()).client("s3").download_file(bucket, key, str(part))
    except Exception as exc:  # botocore's errors, without importing botocore here
        part.unlink(missing_ok=True)
        if created and not any(out.iterdir()):
            out.rmdir()
        raise InputError(f"cannot read {source}: {type(exc).__name__}") from exc
    os.replace(part, copy)
    return copy


def _discard(out: Path) -> None:
    """Remove every file of an earlier run in ``out`` (``--restart``)."""
    for name in (OUTPUT, SUMMARY, PARTIAL, STATE, SOURCE_COPY, SUMMARIES, PLAN):
        (out / name).unlink(missing_ok=True)
    shutil.rmtree(out / "masks", ignore_errors=True)


@click.command(
    epilog="Exit codes: 0 every line consolidated, 1 some lines failed, 2 usage error, 3 input/runtime error, "
    "130 interrupted (run the same command again to continue)."
)
@click.argument("source")
@click.option("--label-attribute", "attr", required=True, help="The job's label attribute (LabelAttributeName).")
@click.option(
    "--out",
    "out_option",
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=str),
    help="Directory for output.manifest, masks/ and summary.json (required); with --on aws, an s3:// folder "
    "under the stack's ReconsolidationOutput [default: a new folder there].",
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
    "[default: TALLY_CONFIDENCE_MAPS or off].",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Lines per chunk: the unit of work, of parallelism and of resumption (worker models are fitted "
    "on the whole job whatever the chunk).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="all cores",
    help="Processes working on chunks at once.",
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
@click.option(
    "--template",
    "template_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The job's worker template (.liquid.html): when the answers are a form, its fields, their kinds, options "
    "and bounds are read from it, as `tally consolidate --template` does; without it they are inferred from the "
    "answers. Not with --on aws (the state machine infers the form from the answers). docs/forms.md",
)
@click.option("--restart", is_flag=True, help="Discard OUT's earlier run (finished or not) and start again.")
@click.option(
    "--on",
    "engine",
    type=click.Choice(["local", "aws"]),
    default="local",
    show_default=True,
    help="Where to run: this machine, or the stack's reconsolidation state machine (SOURCE on S3; docs/distributed.md).",
)
@click.option(
    "--stack",
    default="tally",
    show_default=True,
    help="With --on aws: the CloudFormation stack deployed with Reconsolidation=true.",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=10000),
    default=300,
    show_default=True,
    help="With --on aws: batches run at once (the Distributed Map's MaxConcurrency).",
)
@click.option(
    "--progress/--no-progress", default=None, help="Show a progress bar [default: when stderr is a terminal]."
)
def reconsolidate(
    source: str,
    attr: str,
    out_option: str | None,
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
    template_file: Path | None,
    restart: bool,
    engine: str,
    stack: str,
    concurrency: int,
    progress: bool | None,
) -> int:
    """Consolidate a finished job again from its output manifest, judging every worker on the whole job.

    SOURCE is a job's output prefix (a directory, or s3:// under --s3-root: its manifests/output/
    output.manifest, with answers from annotations/consolidated-annotation/consolidation-request/
    iteration-*/ payloads and annotations/worker-response/ files where a line holds none), or an output
    manifest (a path, file:// or s3:// URI; an s3:// one is downloaded once to
    OUT/.source.manifest unless --s3-root mirrors it) whose ATTR holds every worker's answer (AWS's recipe:
    {"annotationsFromAllWorkers": [...]}) or, for jobs run without a consolidation Lambda, an empty ATTR
    with worker-response-ref in ATTR-metadata. OUT/output.manifest gets one line per input line: the
    line with ATTR and ATTR-metadata replaced by what tally's Lambda returns for it if the whole job
    were one batch (worker models are fitted once on every line; answer shapes tally has no
    consolidation for are passed through unchanged); masks go to OUT/masks/, counts to OUT/summary.json.

    Interrupted? Run the same command again: it continues after the last finished chunk, with the same
    worker model. A finished run is not redone (use --restart).

    \b
    Examples:
      tally reconsolidate output.manifest --label-attribute gt-label --out out/gt-label
      tally reconsolidate s3://bucket/job/manifests/output/output.manifest --label-attribute street \\
          --labels road,car,person --jobs 2 --out out/street
      tally reconsolidate s3://bucket/job/manifests/output/output.manifest --label-attribute street --on aws

    With --on aws, the stack's state machine does the same work (SOURCE: an s3:// manifest, or a job's
    output prefix ending with / whose worker-response files are listed); nothing is uploaded, and Ctrl-C
    leaves the execution running.
    """
    label_list = parse_labels(labels)
    if engine == "aws" and template_file is not None:
        raise click.UsageError(
            "--template is not taken by --on aws: the state machine infers a form's fields from the answers; "
            "run it here (--on local) to read them from the template"
        )
    if engine == "aws":
        from .on_aws import run_on_aws

        options = {"labels": label_list or None, "algorithm": algorithm, "confidenceMaps": confidence_maps,
                   "elementName": element_name, "jobArn": job_arn, "readBuckets": list(read_buckets) or None}  # fmt: skip
        return run_on_aws(source, attr, out_option, stack, batch_size, concurrency, options, progress)
    if out_option is None:
        raise click.UsageError("Missing option '--out'.")
    out = Path(out_option)
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
    local = _local_source(source, s3_root)  # a missing source stops here: nothing created
    if restart and out.is_dir():
        _discard(out)
    if local is not None:
        path, known_as = local
    else:
        path, known_as = _download(source, out), source
    index: JobIndex | None = None
    if path.is_dir():  # a job's output prefix
        index = JobIndex(path)
        path = path / "manifests" / "output" / "output.manifest"
        if not path.is_file():
            raise InputError(f"{source} has no manifests/output/output.manifest")
    else:
        _check_attribute(path, attr, source)  # a wrong attribute stops here: nothing written
    template = _read_template(template_file)
    key = _run_key(path, known_as, attr, batch_size, settings, label_tuple, job_arn, template)
    out.mkdir(parents=True, exist_ok=True)
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
        template=template,
    )
    total = count_lines(path)
    _check_resumable(state, out, total)
    jobs = max(1, min(jobs, -(-total // batch_size)))  # no process pool for a single chunk
    if threads is None and jobs > 1:
        job = dataclasses.replace(job, settings=replace_settings(settings, threads=1))  # processes, not threads
    run = _Run(job, state, out, path, index, batch_size, total)
    try:
        with progress_bar(progress, stderr_console()) as bar, _workers(jobs) as pool:
            run.bar, run.pool, run.jobs = bar, pool, jobs
            while not run.state.finished:
                run.next_stage()
    except KeyboardInterrupt:
        raise Interrupted(run.where() + "; run the same command again to continue") from None
    summary, messages = _summarise(out / OUTPUT, attr)
    _print_summary(summary, messages, out)
    return ExitCode.FAILED_OBJECTS if summary["failed"] else ExitCode.OK


def _read_template(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--template {path}: {exc}") from exc


def _check_resumable(state: _State, out: Path, total: int) -> None:
    """Redo what cannot be resumed (its files gone or short); say so when a run resumes."""
    partial, summaries, plan = out / PARTIAL, out / SUMMARIES, out / PLAN
    lost = False
    if state.finished:  # finished, but its output.manifest or summary is gone: redo it
        lost = True
    elif state.stage is Stage.SURVEY:
        lost = _short(summaries, state.bytes_done)
    elif state.stage is Stage.GATHER:
        lost = state.plan_digest is None or not plan.is_file() or _short(summaries, state.bytes_done)
    elif state.stage is Stage.CONSOLIDATE:
        lost = state.plan_digest is None or not plan.is_file() or _short(partial, state.bytes_done)
    if lost:
        state.restart()
        state.save()
    elif state.lines_done or state.stage is not Stage.SURVEY:
        done = f"{state.lines_done} of {counted(total, 'line')} {_DONE[state.stage]}"
        click.echo(f"resuming the run in {out}: {done} ({_PASS[state.stage]})", err=True)


def _short(path: Path, nbytes: int) -> bool:
    return (not path.is_file() and nbytes > 0) or (path.is_file() and path.stat().st_size < nbytes)


class _Run:
    """One run's passes over the chunks, each committed in order as it completes (module docstring)."""

    def __init__(
        self, job: Job, state: _State, out: Path, path: Path, index: JobIndex | None, batch_size: int, total: int
    ) -> None:
        self.job, self.state, self.out, self.path, self.index = job, state, out, path, index
        self.batch_size, self.total = batch_size, total
        self.bar: Any = None
        self.pool: Pool | None = None
        self.jobs = 1

    def where(self) -> str:
        done = f"{self.state.lines_done} of {counted(self.total, 'line')} {_DONE[self.state.stage]}"
        return done if self.state.stage is Stage.CONSOLIDATE else f"{done} ({_PASS[self.state.stage]})"

    def _chunks(self, only: set[int] | None = None) -> Iterator[tuple[int, list[str], list[Locator | None] | None]]:
        chunks = _chunks(self.path, self.state.lines_done, self.batch_size)
        if only is not None:
            chunks = (chunk for chunk in chunks if chunk[0] in only)
        return _located(chunks, self.index, self.job.attr, self.job.source)

    def _plan_file(self) -> _PlanFile:
        assert self.state.plan_digest is not None
        return _PlanFile(str(self.out / PLAN), self.state.plan_digest)

    def next_stage(self) -> None:
        {Stage.SURVEY: self._survey, Stage.GATHER: self._gather, Stage.CONSOLIDATE: self._consolidate}[
            self.state.stage
        ]()

    def _commit(self, first: int, count: int, write: Callable[[], int]) -> None:
        with deferred_interrupt():
            self.state.bytes_done += write()
            self.state.lines_done = first + count
            self.state.save()

    def _each_chunk(
        self,
        work: Callable[..., Any],
        description: str,
        commit: Callable[[int, int, Any], None],
        per_object: bool = False,
        only: set[int] | None = None,
    ) -> None:
        """Run ``work`` on every chunk not done yet in this pass (``only``: these chunks, by first line),
        in this process or the pool, and ``commit`` each result in order as it completes."""
        task = self.bar.add_task(description, total=self.total, completed=self.state.lines_done)
        if self.pool is None:
            for first, lines, locators in self._chunks(only):
                kwargs = {"on_result": lambda _: self.bar.advance(task, 1)} if per_object else {}
                commit(first, len(lines), work(first, lines, locators, **kwargs))
                self.bar.update(task, completed=self.state.lines_done)
        else:
            pending: deque[tuple[int, int, AsyncResult[Any]]] = deque()
            for first, lines, locators in self._chunks(only):
                pending.append((first, len(lines), self.pool.apply_async(work, (first, lines, locators))))
                while len(pending) >= 2 * self.jobs:
                    done_first, count, result = pending.popleft()
                    commit(done_first, count, result.get())
                    self.bar.update(task, completed=self.state.lines_done)
            while pending:
                done_first, count, result = pending.popleft()
                commit(done_first, count, result.get())
                self.bar.update(task, completed=self.state.lines_done)

    # -- pass 1
    def _survey(self) -> None:
        found = Survey.from_json(self.state.survey)
        with _appending(self.out / SUMMARIES, self.state.bytes_done) as append:

            def commit(first: int, count: int, done: tuple[dict[str, Any], str, bytes]) -> None:
                chunk, choice, record = done
                found.add(Survey.from_json(chunk))
                self.state.survey = found.as_json()
                self.state.choices[str(first)] = choice
                self._commit(first, count, lambda: append(record))

            self._each_chunk(_FirstPass(self.job), "surveying (pass 1)", commit)
        try:
            plan: JobPlan | None = found.plan(self.job.batch_job())
        except ConfigError as exc:  # every chunk fails with this reason, as one batch would
            click.echo(f"warning: {exc}", err=True)
            plan = None
        learns = plan is not None and plan.learns(self.job.settings)
        with deferred_interrupt():
            self.state.plan_digest = _write_plan(self.out / PLAN, plan)
            if plan is not None and learns:
                wanted = plan.choice()
                self.state.regather = sorted(int(f) for f, choice in self.state.choices.items() if choice != wanted)
                self.state.stage = Stage.GATHER
            else:
                self.state.stage = Stage.CONSOLIDATE
                (self.out / SUMMARIES).unlink(missing_ok=True)
            self.state.lines_done = 0
            self.state.bytes_done = (self.out / SUMMARIES).stat().st_size if learns else 0
            self.state.save()

    # -- pass 2
    def _gather(self) -> None:
        summaries = self.out / SUMMARIES
        again = set(self.state.regather)
        with _appending(summaries, self.state.bytes_done) as append:

            def commit(first: int, count: int, record: bytes) -> None:
                self._commit(first, count, lambda: append(record))

            work = _GatherWork(self.job, self._plan_file())
            self._each_chunk(work, "gathering (pass 2)", commit, only=again)
        plan = _the_plan(self._plan_file())
        assert plan is not None
        everything = _job_summaries(summaries, plan.choice(), -(-self.total // self.batch_size))
        fitted = fit_job_model(everything, self.job.batch_job(), CliStorage(self.job.s3_root), plan)
        del everything
        with deferred_interrupt():
            self.state.plan_digest = _write_plan(self.out / PLAN, fitted)
            self.state.stage = Stage.CONSOLIDATE
            self.state.lines_done = self.state.bytes_done = 0
            self.state.save()
            summaries.unlink(missing_ok=True)

    # -- pass 3
    def _consolidate(self) -> None:
        partial = self.out / PARTIAL
        with _appending(partial, self.state.bytes_done) as append:

            def commit(first: int, count: int, done: tuple[str, int]) -> None:
                self._commit(first, count, lambda: append(done[0].encode("utf-8")))

            work = _ConsolidateWork(self.job, self._plan_file())
            self._each_chunk(work, "reconsolidating", commit, per_object=True)
        with deferred_interrupt():
            os.replace(partial, self.out / OUTPUT)
            summary, _ = _summarise(self.out / OUTPUT, self.job.attr)
            key = self.state.key
            (self.out / SUMMARY).write_text(
                json.dumps({**summary, "source": key["source"], "options": key}, indent=1) + "\n"
            )
            self.state.finished = True
            self.state.save()


@dataclass(frozen=True)
class _FirstPass:
    """Pass 1 over one chunk, in a worker process or in-process (picklable)."""

    job: Job

    def __call__(
        self, first: int, lines: list[str], locators: list[Locator | None] | None
    ) -> tuple[dict[str, Any], str, bytes]:
        return first_pass_lines(self.job, first, lines, locators)


@dataclass(frozen=True)
class _GatherWork:
    """Pass 2 over one chunk (picklable; the plan travels as its file)."""

    job: Job
    plan: _PlanFile

    def __call__(self, first: int, lines: list[str], locators: list[Locator | None] | None) -> bytes:
        return gather_lines(self.job, first, lines, locators, self.plan)


@dataclass(frozen=True)
class _ConsolidateWork:
    """The last pass over one chunk (picklable; the plan and model travel as their file)."""

    job: Job
    plan: _PlanFile

    def __call__(
        self,
        first: int,
        lines: list[str],
        locators: list[Locator | None] | None,
        on_result: Callable[[ObjectResult], None] | None = None,
    ) -> tuple[str, int]:
        return reconsolidate_lines(self.job, first, lines, locators, self.plan, on_result)


@contextlib.contextmanager
def _appending(path: Path, keep: int) -> Iterator[Callable[[bytes], int]]:
    """Append to ``path`` after its first ``keep`` bytes (anything after them is an interrupted chunk's,
    cut off); each append is on disk when it returns, and returns its size."""
    with path.open("ab") as fh:
        fh.truncate(keep)
    with path.open("ab") as sink:

        def append(data: bytes) -> int:
            sink.write(data)
            sink.flush()
            os.fsync(sink.fileno())
            return len(data)

        yield append


def _job_summaries(path: Path, choice: str, chunks_expected: int) -> list[tuple[str, Any]]:
    """Every object's summary in the job's order: per chunk, the last record gathered under ``choice``
    (pass 1's when the chunk agreed with the job, else pass 2's)."""
    chunks: dict[int, list[tuple[str, Any]]] = {}
    with path.open("rb") as fh:
        while True:
            try:
                first, gathered_under, summaries = pickle.load(fh)  # this command's own file
            except EOFError:
                break
            if gathered_under == choice:
                chunks[first] = summaries
    if len(chunks) != chunks_expected:
        missing = chunks_expected - len(chunks)
        raise InputError(
            f"{path} lacks the summaries of {counted(missing, 'chunk')}; run the command again with --restart"
        )
    return [summary for first in sorted(chunks) for summary in chunks[first]]


def _write_plan(path: Path, plan: JobPlan | None) -> str:
    """Write the job's plan (and model) for the worker processes and for a resumed run; its digest."""
    data = pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _workers(jobs: int) -> Iterator[Pool | None]:
    """``jobs`` worker processes for the whole run (``None``: work in this process)."""
    if jobs == 1:
        yield None
        return
    context = multiprocessing.get_context("spawn")  # never fork a process that has threads
    pool = context.Pool(jobs, initializer=_init_worker, initargs=(current_verbosity(),))
    try:
        yield pool
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _load_state(out: Path, key: dict[str, Any]) -> _State:
    """The run in ``out``: resumed when it has this key; started afresh when there is none, or when an
    earlier run of another source or options had written no output yet (a failed start, such as a bad
    line found in the first pass: nothing to lose); else a usage error."""
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
    earlier = _State(
        path,
        saved.get("key", {}),
        Stage(saved.get("stage", Stage.CONSOLIDATE)),
        int(saved.get("lines_done", 0)),
        int(saved.get("bytes_done", 0)),
        saved.get("survey") or Survey().as_json(),
        dict(saved.get("choices") or {}),
        [int(first) for first in saved.get("regather") or []],
        saved.get("plan_digest"),
        bool(saved.get("finished")),
    )
    if earlier.key != key:
        if not earlier.wrote_output and not (out / OUTPUT).exists():
            for name in (PARTIAL, SUMMARIES, PLAN):
                (out / name).unlink(missing_ok=True)
            state = _State(path, key)
            state.save()
            return state
        changed = sorted(k for k in key if earlier.key.get(k) != key[k])
        raise click.UsageError(
            f"{out} holds a run with another source or options ({', '.join(changed)}); "
            "use --restart to discard it, or another --out"
        )
    return earlier
