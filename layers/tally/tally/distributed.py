"""Re-consolidating a whole job on AWS Step Functions: the steps of ``statemachine/reconsolidate.asl.json``,
run by the reconsolidation Lambda (``functions/reconsolidation``), on any :class:`~tally.storage.Storage`.

The state machine runs the three passes of ``tally reconsolidate`` (:mod:`tally.tools.reconsolidate`) with
a Distributed Map per pass over the job's output manifest (``ItemReader``, JSONL); each child gets a batch
of lines (``ItemBatcher``: ``{"Items": [{"index", "line"}], "BatchInput": {"step", "run"}}``):

0. (a job without an output manifest) ``index`` batches over its ``worker-response`` objects
   (``s3:listObjectsV2``), then ``join`` writes ``OUT/source.manifest``: one line per object, the
   latest iteration's answers, in ``datasetObjectId`` order;
1. ``survey`` batches: each batch's :class:`~tally.consolidate.Survey` (returned) and its objects'
   summaries under the batch's own choice of task and labels (``OUT/parts/survey/<first>.pickle``);
2. ``plan``: the surveys added up in the job's order decide the job's task, labels and colours
   (:meth:`Survey.plan`), written to ``OUT/plan.pickle`` (with ``OUT/plan.json``: which batches chose
   otherwise); ``gather`` batches (only when a batch chose otherwise) summarise those batches' objects
   again under the job's plan; ``fit`` fits the job's worker model once on every object's summary, in
   the job's order (:func:`~tally.consolidate.fit_job_model`), to ``OUT/model.pickle``;
3. ``consolidate`` batches: :func:`~tally.consolidate.run_batch` with the job's plan and model; the
   batch's output lines go to ``OUT/parts/lines/<first>.jsonl``;
4. ``finish``: ``OUT/output.manifest`` (one line per source line, in its order; a line whose batch
   failed carries its reason) and ``OUT/summary.json``.

So the output is the one ``tally reconsolidate`` writes for the same manifest, masks under ``OUT/masks``.
Every batch writes its file under a key of its first line, and the steps after a Map read the Map's
``ResultWriter`` files, where each child appears once: a retried child (or Lambda invocation) overwrites
its file with the same bytes and is counted once. Nothing here logs answers.

The pickled files are this workflow's own, written and read by the reconsolidation function under the
run's prefix; they are read with :class:`_Unpickler`, which builds only tally's classes, numpy arrays
and plain containers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import pickle
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .consolidate import (
    BatchJob,
    JobPlan,
    Survey,
    fit_job_model,
    gather,
    survey_and_gather,
)
from .errors import ConfigError, EventError
from .gt.events import job_name_from_arn
from .gt.response import ObjectResult, TaskType, creation_date
from .gt.sink import respond
from .manifest_lines import LineBatch, consolidate_lines, line_annotations, line_batch, summarise_lines
from .settings import ALGORITHMS, Settings
from .storage import Storage
from .tasks import make_tasks

__all__ = [
    "Run",
    "batch_step",
    "finish",
    "fit",
    "join_listing",
    "plan",
    "restricted_loads",
]

logger = logging.getLogger(__name__)

STEPS = ("index", "survey", "gather", "consolidate")
"""The Map steps (batch events); the task steps are ``join``, ``plan``, ``fit`` and ``finish``."""
_RESPONSES = "/annotations/worker-response/"


@dataclass(frozen=True)
class Run:
    """One execution's input: where the job's manifest is, its label attribute, where the run writes,
    and the command line's options."""

    source_bucket: str
    source_key: str
    attr: str
    out_bucket: str
    out_prefix: str
    labels: tuple[str, ...] | None = None
    algorithm: str | None = None
    confidence_maps: bool | None = None
    element_name: str | None = None
    job_arn: str | None = None
    read_buckets: tuple[str, ...] = ()
    plan_key: str | None = None  # the plan or model the consolidate batches use (set by plan, fit)
    created: str | None = None  # the outputs' creation-date: the source's time, read once by plan

    @classmethod
    def parse(cls, data: Any) -> Run:
        """The execution input (``run``); :class:`EventError` naming the field at fault."""
        if not isinstance(data, Mapping):
            raise EventError("the run is not a JSON object")

        def text(value: Any, name: str) -> str:
            if not isinstance(value, str) or not value:
                raise EventError(f"the run's {name} is not a non-empty string")
            return value

        source, output, listing = data.get("source"), data.get("output"), data.get("listing")
        if source is None and isinstance(listing, Mapping):  # before join_listing: no manifest yet
            source = {"Bucket": listing.get("Bucket"), "Key": "source.manifest"}
        if not isinstance(source, Mapping) or not isinstance(output, Mapping):
            raise EventError("the run needs source {Bucket, Key} and output {Bucket, Prefix}")
        options = data.get("options") or {}
        if not isinstance(options, Mapping):
            raise EventError("the run's options are not a JSON object")
        labels = options.get("labels")
        if labels is not None and (not isinstance(labels, list) or not all(isinstance(n, str) for n in labels)):
            raise EventError("the run's labels are not a list of names")
        algorithm = options.get("algorithm")
        if algorithm is not None and algorithm not in ALGORITHMS:
            raise EventError(f"the run's algorithm is not one of {', '.join(ALGORITHMS)}")
        plan_state = data.get("plan")
        plan_key = plan_state.get("key") if isinstance(plan_state, Mapping) else None
        created = plan_state.get("created") if isinstance(plan_state, Mapping) else None
        buckets = options.get("readBuckets") or []
        return cls(
            source_bucket=text(source.get("Bucket"), "source bucket"),
            source_key=text(source.get("Key"), "source key"),
            attr=text(data.get("labelAttribute"), "labelAttribute"),
            out_bucket=text(output.get("Bucket"), "output bucket"),
            out_prefix=str(output.get("Prefix") or "").strip("/"),
            labels=tuple(labels) if labels else None,
            algorithm=algorithm,
            confidence_maps=bool(options["confidenceMaps"]) if options.get("confidenceMaps") is not None else None,
            element_name=options.get("elementName") or None,
            job_arn=options.get("jobArn") or None,
            read_buckets=tuple(str(b) for b in buckets if isinstance(b, str)),
            plan_key=plan_key if isinstance(plan_key, str) else None,
            created=created if isinstance(created, str) and created else None,
        )

    @property
    def source(self) -> str:
        return f"s3://{self.source_bucket}/{self.source_key}"

    def uri(self, *parts: str) -> str:
        """``s3://OUT/parts...`` under the run's output prefix."""
        return "/".join([f"s3://{self.out_bucket}", *([self.out_prefix] if self.out_prefix else []), *parts])

    def settings(self, base: Settings) -> Settings:
        """The deployment's settings with the run's options; answers may be read from the source's and
        the output's buckets (the function's role decides what it really may read)."""
        changes: dict[str, Any] = {
            "read_buckets": tuple(dict.fromkeys([*base.read_buckets, self.source_bucket, *self.read_buckets]))
        }
        if self.algorithm is not None:
            changes["algorithm"] = self.algorithm
        if self.confidence_maps is not None:
            changes["confidence_maps"] = self.confidence_maps
        if self.element_name is not None:
            changes["element_name"] = self.element_name
        return dataclasses.replace(base, worker_table=None, **changes)

    def batch_job(self, settings: Settings) -> BatchJob:
        return BatchJob(
            settings=self.settings(settings),
            artefact_prefix=self.uri("masks"),
            job_id=self.job_arn or "",
            event_labels=self.labels,
        )


# -- the workflow's own files ------------------------------------------------------------------------


class _Unpickler(pickle.Unpickler):
    """Builds only tally's classes, numpy arrays and dtypes, and plain containers: a file under the run's
    prefix that was not written by this workflow cannot make the function run anything else."""

    _NUMPY = frozenset(
        {
            ("numpy._core.multiarray", "_reconstruct"),
            ("numpy.core.multiarray", "_reconstruct"),
            ("numpy._core.multiarray", "scalar"),
            ("numpy.core.multiarray", "scalar"),
            ("numpy._core.numeric", "_frombuffer"),
            ("numpy.core.numeric", "_frombuffer"),
            ("numpy", "ndarray"),
            ("numpy", "dtype"),
        }
    )
    _PLAIN = frozenset(
        {
            ("builtins", "set"),
            ("builtins", "frozenset"),
            ("builtins", "complex"),
            ("builtins", "slice"),
            ("builtins", "range"),
            ("builtins", "bytearray"),
            ("collections", "Counter"),
            ("collections", "OrderedDict"),
            ("collections", "defaultdict"),
            ("collections", "deque"),
            ("datetime", "datetime"),
            ("datetime", "timezone"),
            ("datetime", "timedelta"),
        }
    )

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._NUMPY or (module, name) in self._PLAIN:
            return super().find_class(module, name)
        if module == "numpy.dtypes" or (module.split(".")[0] == "tally"):
            found = super().find_class(module, name)
            if isinstance(found, type):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a workflow file")


def restricted_loads(data: bytes) -> Any:
    """Unpickle one of the workflow's own files (:class:`_Unpickler`)."""
    return _Unpickler(io.BytesIO(data)).load()


def _dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _part(run: Run, step: str, first: int, suffix: str) -> str:
    return run.uri("parts", step, f"{first:012d}{suffix}")


READ_THREADS = 16
"""S3 reads at once when a step reads every batch's file (fit, finish): thousands of small GETs."""


def _read_all(storage: Storage, uris: Sequence[str]) -> list[bytes]:
    """Every file, in order, read ``READ_THREADS`` at a time."""
    with ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="tally-read") as pool:
        return list(pool.map(storage.read, uris))


_plans: dict[str, JobPlan | None] = {}


def _load_plan(run: Run, storage: Storage, key: str | None = None) -> JobPlan | None:
    """The job's plan (or model), read once per container and key."""
    uri = run.uri(key or run.plan_key or "plan.pickle")
    if uri not in _plans:
        _plans.clear()
        _plans[uri] = restricted_loads(storage.read(uri))
    return _plans[uri]


# -- the batches --------------------------------------------------------------------------------------


def _batch(items: Sequence[Any], run: Run, storage: Storage) -> LineBatch:
    """The batch's lines, their data objects and a failure for each line that makes none."""
    return line_batch(
        ((int(item["index"]), item.get("line")) for item in items),
        lambda _number, line: line_annotations(line, run.attr, storage),
    )


def _first(batch: LineBatch) -> int:
    """The batch's first line: the key of its files and of its result."""
    return min((number for number, _ in batch.lines), default=0)


def _check_items(event: Mapping[str, Any]) -> list[Any]:
    items = event.get("Items")
    if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("index"), int) for i in items):
        raise EventError("the batch has no Items list of {index, line}")
    return items


def batch_step(event: Mapping[str, Any], settings: Settings, storage: Storage) -> dict[str, Any]:
    """One Map child's batch (``{"Items", "BatchInput": {"step", "run"}}``): its small result, returned
    to Step Functions (the ``ResultWriter`` files)."""
    batch_input = event.get("BatchInput")
    if not isinstance(batch_input, Mapping) or batch_input.get("step") not in STEPS:
        raise EventError(f"the batch's BatchInput.step is not one of {', '.join(STEPS)}")
    run = Run.parse(batch_input.get("run"))
    step = str(batch_input["step"])
    if step == "index":
        return _index(event, run, storage)
    items = _check_items(event)
    if step == "survey":
        return _survey(items, run, settings, storage)
    if step == "gather":
        return _gather(items, run, settings, storage)
    return _consolidate(items, run, settings, storage)


def _survey(items: Sequence[Any], run: Run, settings: Settings, storage: Storage) -> dict[str, Any]:
    batch = _batch(items, run, storage)
    found = survey_and_gather(batch.objects, run.batch_job(settings), storage)
    first = _first(batch)
    storage.write(
        _part(run, "survey", first, ".pickle"), _dumps((found.choice, found.summaries)), "application/octet-stream"
    )
    return {"first": first, "count": len(batch.lines), "survey": found.survey.as_json(), "choice": found.choice}


def _gather(items: Sequence[Any], run: Run, settings: Settings, storage: Storage) -> dict[str, Any]:
    first = min(int(item["index"]) for item in items) if items else 0
    last = max(int(item["index"]) for item in items) if items else -1
    state = json.loads(storage.read(run.uri("plan.json")))
    again = [(int(f), int(n)) for f, n in state["regather"]]
    if not any(f <= last and first < f + n for f, n in again):
        return {"first": first, "count": len(items), "skipped": True}
    the_plan = _load_plan(run, storage, "plan.pickle")
    assert the_plan is not None  # gather runs only with a plan
    batch = _batch(items, run, storage)
    summaries = gather(batch.objects, run.batch_job(settings), storage, the_plan)
    storage.write(_part(run, "gather", first, ".pickle"), _dumps(summaries), "application/octet-stream")
    return {"first": first, "count": len(items)}


def _consolidate(items: Sequence[Any], run: Run, settings: Settings, storage: Storage) -> dict[str, Any]:
    batch = _batch(items, run, storage)
    created = run.created or creation_date(storage.modified(run.source))  # the plan's, from plan on
    job, the_plan = run.batch_job(settings), _load_plan(run, storage)
    text, ok = consolidate_lines(batch, run.attr, job, storage, plan=the_plan, created=created, job_arn=run.job_arn)
    first, count = _first(batch), len(batch.lines)
    storage.write(_part(run, "lines", first, ".jsonl"), text.encode("utf-8"), "application/x-ndjson")
    done: dict[str, Any] = {"first": first, "count": count, "consolidated": ok, "failed": count - ok}
    indexes = sorted(number for number, _ in batch.lines)
    if indexes != list(range(first, first + count)):
        done["indexes"] = indexes  # not one run of lines: finish places each line by its index
    return done


# -- a job without an output manifest: its worker-response files -------------------------------------


def _response_key(key: str) -> tuple[int, str, str] | None:
    """``.../worker-response/iteration-N/<datasetObjectId>/<name>.json`` → (N, id, name)."""
    if _RESPONSES not in f"/{key}" or not key.endswith(".json"):
        return None
    parts = f"/{key}".split(_RESPONSES, 1)[1].split("/")
    if len(parts) != 3 or not parts[0].startswith("iteration-") or not parts[0][10:].isdigit():
        return None
    return int(parts[0][10:]), parts[1], parts[2]


def _index(event: Mapping[str, Any], run: Run, storage: Storage) -> dict[str, Any]:
    """An ``s3:listObjectsV2`` batch: the worker-response files among its objects, as (iteration, id,
    name, key), written to ``OUT/parts/index/<digest>.json`` (the listing has no line numbers)."""
    items = event.get("Items")
    if not isinstance(items, list):
        raise EventError("the batch has no Items list")
    found = []
    for item in items:
        key = item.get("Key") if isinstance(item, dict) else None
        parsed = _response_key(key) if isinstance(key, str) else None
        if parsed is not None:
            found.append([*parsed, key])
    name = hashlib.sha256(json.dumps(sorted(str(i.get("Key")) for i in items if isinstance(i, dict))).encode())
    part = run.uri("parts", "index", f"{name.hexdigest()[:24]}.json")
    storage.write(part, json.dumps(found).encode(), "application/json")
    return {"part": part, "count": len(items), "responses": len(found)}


def _object_order(object_id: str) -> tuple[int, int, str]:
    return (0, int(object_id), "") if object_id.isdigit() else (1, 0, object_id)


def join_listing(run_data: Mapping[str, Any], settings: Settings, storage: Storage) -> dict[str, str]:
    """``OUT/source.manifest`` from the ``index`` Map's results: one line per ``datasetObjectId`` (its
    latest iteration's latest file), in ID order; returns the new source ``{"Bucket", "Key"}``."""
    listing = run_data.get("listing")
    if not isinstance(listing, Mapping):
        raise EventError("the run has no listing {Bucket, Prefix}")
    run_bucket = str(listing.get("Bucket") or "")
    run = Run.parse(run_data)
    latest: dict[str, tuple[int, str, str]] = {}
    for record in _succeeded(run_data.get("listed"), storage):
        for iteration, object_id, name, key in json.loads(storage.read(record["part"])):
            if object_id not in latest or (iteration, name) >= latest[object_id][:2]:
                latest[object_id] = (iteration, name, key)
    lines = []
    for object_id in sorted(latest, key=_object_order):
        ref = f"s3://{run_bucket}/{latest[object_id][2]}"
        meta = {"type": TaskType.CUSTOM.value, "worker-response-ref": ref}
        line = {"datasetObjectId": object_id, run.attr: {}, f"{run.attr}-metadata": meta}
        lines.append(json.dumps(line, separators=(",", ":")) + "\n")
    if not lines:
        raise EventError(f"no worker-response files under s3://{run_bucket}/{listing.get('Prefix', '')}")
    key = "/".join([*([run.out_prefix] if run.out_prefix else []), "source.manifest"])
    storage.write(f"s3://{run.out_bucket}/{key}", "".join(lines).encode(), "application/x-ndjson")
    return {"Bucket": run.out_bucket, "Key": key}


# -- after each Map: its ResultWriter files --------------------------------------------------------------


def _result_files(details: Any, storage: Storage) -> dict[str, list[str]]:
    """The ResultWriter's result files by status (``SUCCEEDED``, ``FAILED``, ``PENDING``), from the Map's
    output (``{"ResultWriterDetails": {"Bucket", "Key"}}``: its ``manifest.json``)."""
    where = details.get("ResultWriterDetails") if isinstance(details, Mapping) else None
    if not isinstance(where, Mapping):
        raise EventError("the Map's output has no ResultWriterDetails")
    manifest = json.loads(storage.read(f"s3://{where['Bucket']}/{where['Key']}"))
    bucket = manifest.get("DestinationBucket") or where["Bucket"]
    files = manifest.get("ResultFiles") or {}
    return {status: [f"s3://{bucket}/{f['Key']}" for f in files.get(status) or []] for status in files}


def _records(details: Any, storage: Storage, status: str) -> Iterator[dict[str, Any]]:
    for uri in _result_files(details, storage).get(status, []):
        yield from json.loads(storage.read(uri))


def _succeeded(details: Any, storage: Storage) -> list[dict[str, Any]]:
    """Each succeeded child's output, once per batch (by its first line or part), in the job's order."""
    by_first: dict[Any, dict[str, Any]] = {}
    for record in _records(details, storage, "SUCCEEDED"):
        output = json.loads(record.get("Output") or "null")
        if isinstance(output, dict):
            by_first[output.get("first", output.get("part"))] = output
    return [by_first[k] for k in sorted(by_first, key=lambda k: (isinstance(k, str), k))]


def _reason(record: Mapping[str, Any], status: str) -> str:
    if status == "PENDING":
        return "its batch was not run on AWS (the Map stopped first); reconsolidate again"
    error = str(record.get("Error") or "an error")
    return f"its batch failed on AWS ({error}); reconsolidate again"


def plan(run_data: Mapping[str, Any], settings: Settings, storage: Storage) -> dict[str, Any]:
    """After the survey: the job's plan (``OUT/plan.pickle`` and ``OUT/plan.json``); whether a ``gather``
    pass and a ``fit`` are needed, and the plan's key for the consolidate batches."""
    run = Run.parse(run_data)
    records = _succeeded(run_data.get("surveyed"), storage)
    found = Survey()
    for record in records:
        found.add(Survey.from_json(record["survey"]))
    job = run.batch_job(settings)
    try:
        the_plan: JobPlan | None = found.plan(job)
    except ConfigError as exc:  # every batch fails with this reason, as one batch would
        logger.error("no object can be consolidated: %s", exc)
        the_plan = None
    tasks = make_tasks(job.settings)
    learns = the_plan is not None and the_plan.learns(job.settings)
    wanted = the_plan.choice() if the_plan is not None else ""
    regather = [[r["first"], r["count"]] for r in records if learns and r["choice"] != wanted]
    task_type = tasks[the_plan.task].type if the_plan is not None and the_plan.task is not None else None
    storage.write(run.uri("plan.pickle"), _dumps(the_plan), "application/octet-stream")
    state = {
        "choice": wanted,
        "regather": regather,
        "batches": [[r["first"], r["count"]] for r in records],
        "lines": sum(r["count"] for r in records),
        "type": task_type,
    }
    storage.write(run.uri("plan.json"), json.dumps(state).encode(), "application/json")
    created = creation_date(storage.modified(run.source))  # once for the run, not once per batch
    return {
        "gather": bool(regather),
        "fit": bool(learns),
        "key": "plan.pickle",
        "lines": state["lines"],
        "created": created,
    }


def fit(run_data: Mapping[str, Any], settings: Settings, storage: Storage) -> dict[str, Any]:
    """The job's worker model on every object's summary in the job's order: the survey's where its batch
    chose as the job, the gather pass's otherwise; ``OUT/model.pickle``."""
    run = Run.parse(run_data)
    the_plan = _load_plan(run, storage, "plan.pickle")
    assert the_plan is not None  # fit runs only with a plan whose task learns
    state = json.loads(storage.read(run.uri("plan.json")))
    by_id: dict[str, Any] = {}
    surveyed = _read_all(storage, [_part(run, "survey", int(first), ".pickle") for first, _count in state["batches"]])
    for data in surveyed:
        choice, summaries = restricted_loads(data)
        if choice == state["choice"]:
            by_id.update(summaries)
    del surveyed
    if state["regather"]:
        again = [r for r in _succeeded(run_data.get("gathered"), storage) if not r.get("skipped")]
        for data in _read_all(storage, [_part(run, "gather", int(r["first"]), ".pickle") for r in again]):
            by_id.update(restricted_loads(data))
    summaries = [(object_id, by_id[object_id]) for object_id in sorted(by_id, key=int)]
    fitted = fit_job_model(summaries, run.batch_job(settings), storage, the_plan)
    storage.write(run.uri("model.pickle"), _dumps(fitted), "application/octet-stream")
    done = {"gather": bool(state["regather"]), "fit": True, "key": "model.pickle", "lines": state["lines"]}
    return {**done, "created": run.created}  # the plan's, passed on to the consolidate batches


# -- the end: one output manifest and its summary ---------------------------------------------------------


def _source_lines(data: bytes) -> Iterator[bytes]:
    """The source's non-blank lines (as the JSONL ItemReader numbers them)."""
    for raw in data.splitlines():
        if raw.strip():
            yield raw


def finish(run_data: Mapping[str, Any], settings: Settings, storage: Storage) -> dict[str, Any]:
    """``OUT/output.manifest`` in the source's order and ``OUT/summary.json``; returns the summary's
    counts and where both are. A line whose batch did not succeed is written with the reason."""
    run = Run.parse(run_data)
    details = run_data.get("consolidated")
    placed: dict[int, tuple[int, int]] = {}  # line number -> (its part's first line, position in the part)
    succeeded = _succeeded(details, storage)
    texts = _read_all(storage, [_part(run, "lines", int(r["first"]), ".jsonl") for r in succeeded])
    parts = {int(r["first"]): text.decode("utf-8").splitlines(True) for r, text in zip(succeeded, texts, strict=True)}
    del texts
    for record in succeeded:
        first = int(record["first"])
        indexes = record.get("indexes") or range(first, first + int(record["count"]))
        for position, number in enumerate(indexes):
            placed[int(number)] = (first, position)
    reasons: dict[int, str] = {}
    for status in ("FAILED", "PENDING"):
        for record in _records(details, storage, status):
            try:
                items = json.loads(record.get("Input") or "{}").get("Items") or []
            except json.JSONDecodeError:
                items = []
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("index"), int):
                    reasons[item["index"]] = _reason(record, status)
    state = json.loads(storage.read(run.uri("plan.json")))
    task_type = state.get("type") or TaskType.CUSTOM.value
    out: list[str] = []
    failed: list[ObjectResult] = []
    pending: dict[int, dict[str, Any]] = {}
    for number, raw in enumerate(_source_lines(storage.read(run.source))):
        if number in placed:
            first, position = placed[number]
            out.append(parts[first][position])
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            line = None
        reason = reasons.get(number, "its batch did not report back on AWS; reconsolidate again")
        pending[number] = line if isinstance(line, dict) else {"line": line}
        failed.append(ObjectResult.failed(str(number), task_type, reason))
        out.append("")
    if failed:
        name = job_name_from_arn(run.job_arn) or f"labeling-job/{run.attr}"
        created = run.created or creation_date(storage.modified(run.source))
        entries = respond(failed, run.attr, job_name=name, created=created, storage=storage, prefix=run.uri("masks"))
        for entry in entries.entries:
            number = int(entry["datasetObjectId"])
            record = pending[number]
            record.update(entry["consolidatedAnnotation"]["content"])
            out[number] = json.dumps(record, separators=(",", ":")) + "\n"
    text = "".join(out)
    summary, messages = summarise_lines((json.loads(line) for line in text.splitlines()), run.attr)
    manifest = run.uri("output.manifest")
    storage.write(manifest, text.encode("utf-8"), "application/x-ndjson")
    full = {**summary, "source": run.source, "output-manifest": manifest, "messages": messages[:1000]}
    if len(messages) > 1000:
        full["messages-left-out"] = len(messages) - 1000
    storage.write(run.uri("summary.json"), (json.dumps(full, indent=1) + "\n").encode(), "application/json")
    return {**summary, "output-manifest": manifest, "summary": run.uri("summary.json")}
