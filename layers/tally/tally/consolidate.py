"""The consolidation batch driver: one Ground Truth request in, one response entry per object out.

``consolidate_batch`` is what both front doors call: the Lambda handler with S3 storage and the
``tally`` command with local files. It schedules and isolates failures; the tasks
(:mod:`tally.tasks`) do the consolidating, and the response sink (:mod:`tally.gt.sink`) builds the
response and keeps it under Lambda's size limit. Per batch:

1. **scan** (thread pool): each object's answers are decoded and recognised by shape; the labels and
   colours they use are counted. A labeling job has one task type, so the batch's task is the one most
   objects' answers have; answers of another shape are rejected with a reason. Recognition needs only
   the tasks' shapes (:mod:`tally.tasks.shapes`): the chosen task's module, and with it numpy and the
   task's algorithms, is imported here, the other task types' never.
2. **labels**: the job's label list (:mod:`tally.labels`), resolved once, outside the pool; a list
   that cannot work (a repeated name, too many classes for a mask) fails every object with its reason.
3. **observe + fit**, for a task with a batch model: every object is observed, the model is fitted
   once on what they contribute. With a worker store (:mod:`tally.worker_store`) and a task that
   learns across batches, the fit starts from the job's earlier batches' statistics and this batch's
   are recorded under its batch key (a digest of the payload URI and bytes); a store that fails
   leaves the batch with its own evidence and a warning, never a failed batch.
4. **consolidate** (thread pool): one :class:`ObjectResult` per object.

Whatever goes wrong with one answer or one object becomes a reason on that answer or object; the
rest of the batch goes on. Only an unreadable event or payload fails the batch. Decoded work is kept
between the steps while it fits ``TALLY_CACHE_MB``; beyond it, objects are read again.

Retries are safe: ``creation-date`` is the payload's own timestamp and artefact names derive from the
object ID and the bytes, so the same request gives the same response, keys and bytes. With a worker
store, a retried batch finds its record and fits with the prior it used the first time.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .errors import ConfigError, EventError, ObjectError, StorageError, TransientStorageError
from .gt.answers import Answer, AnswerIssue, LoadedAnswer, load_answers
from .gt.events import ConsolidationRequest, DatasetObject, describe_validation_error
from .gt.response import RESPONSE_LIMIT_BYTES, ObjectResult, creation_date
from .gt.sink import Step, respond
from .labels import LabelSet, batch_labels, resolve_labels
from .settings import Settings
from .storage import Storage, join_uri, split_s3_uri
from .tasks import JobContext, Observed, Passthrough, learner, make_tasks
from .tasks.base import AnyTask, no_usable_answer
from .worker_store import WorkerStore, WorkerStoreError, batch_key

__all__ = ["BatchReport", "consolidate_batch", "default_mask_prefix", "parse_payload"]

logger = logging.getLogger(__name__)

_BATCH_LABELS = "batch (class ids may differ between batches; configure the job's labels)"
_TRANSIENT = "transient: consolidate it again later (tally reconsolidate); nothing was lost"


@dataclass
class BatchReport:
    """The response list plus what happened, for metrics and summaries (no worker data)."""

    response: list[dict[str, Any]]
    consolidated: int = 0
    failed: int = 0
    answers_rejected: int = 0
    dropped: int = 0  # payload elements without a usable datasetObjectId: nothing to answer to
    confidences: list[float] = field(default_factory=list)
    label_source: str = ""
    offloaded: int = 0  # labels moved to S3 to keep the response under Lambda's limit
    response_steps: list[Step] = field(default_factory=list)  # what tally.gt.sink did to fit it
    worker_model: str = "batch"  # batch | job | job (retried batch) | batch (store failed) | none

    @property
    def mean_confidence(self) -> float | None:
        """Mean confidence of the consolidated objects that were scored (pass-through ones are not)."""
        return sum(self.confidences) / len(self.confidences) if self.confidences else None


def default_mask_prefix(request: ConsolidationRequest) -> str:
    """Where artefacts go: ``<outputConfig>/consolidated-annotation/output``, as Ground Truth's built-in
    segmentation writes its masks; without ``outputConfig``, ``.../consolidated-annotation/output``
    of the job the payload belongs to, else ``<payload without .json>-output`` beside the payload."""
    if request.output_config:
        return join_uri(request.output_config, "consolidated-annotation", "output")
    payload = request.payload.s3_uri
    marker = "/consolidated-annotation/"
    if marker in payload:
        return payload.split(marker, 1)[0] + marker + "output"
    return payload.removesuffix(".json") + "-output"


def parse_payload(raw: bytes) -> list[Any]:
    """The payload file's list of data objects; :class:`EventError` when it is not a JSON list."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise EventError("the consolidation payload is not JSON") from exc
    if not isinstance(data, list):
        raise EventError("the consolidation payload is not a JSON list")
    return data


def _group(raw_objects: Sequence[Any]) -> tuple[list[DatasetObject], int]:
    """Parse payload elements, merging repeated IDs (their annotations join, in order)."""
    by_id: dict[str, DatasetObject] = {}
    dropped = 0
    for index, raw in enumerate(raw_objects):
        try:
            obj = DatasetObject.model_validate(raw)
        except ValidationError as exc:
            dropped += 1
            logger.error("payload element %d unusable: %s", index, describe_validation_error(exc))
            continue
        if obj.dataset_object_id in by_id:
            first = by_id[obj.dataset_object_id]
            by_id[obj.dataset_object_id] = first.model_copy(update={"annotations": first.annotations + obj.annotations})
        else:
            by_id[obj.dataset_object_id] = obj
    return list(by_id.values()), dropped


def _log_unexpected(message: str, exc: Exception, obj_id: str) -> None:
    """Log an unforeseen error with its stack but not its message, which might quote worker data."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("%s: %s", message, type(exc).__name__, extra={"datasetObjectId": obj_id, "stack": stack})


class _Budget:
    """Bytes of decoded work kept between the steps of a batch (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self._left = limit
        self._lock = threading.Lock()

    def take(self, nbytes: int) -> bool:
        with self._lock:
            if nbytes > self._left:
                return False
            self._left -= nbytes
            return True

    def give(self, nbytes: int) -> None:
        with self._lock:
            self._left += nbytes


@dataclass
class _Scan:
    """Step 1's findings for one object; ``loaded`` is ``None`` when not kept (read again later)."""

    obj: DatasetObject
    loaded: list[LoadedAnswer[AnyTask]] | None = None
    loaded_bytes: int = 0
    issues: list[AnswerIssue] = field(default_factory=list)
    tasks: Counter[AnyTask] = field(default_factory=Counter)
    painted: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    observed: Observed[Any, Any] | None = None
    result: ObjectResult | None = None  # decided early: failed in a step before consolidation
    read: bool = False  # step 1 read at least one answer of this object


class _Batch:
    def __init__(
        self,
        request: ConsolidationRequest,
        storage: Storage,
        settings: Settings,
        artefact_prefix: str,
        remaining_ms: Callable[[], int] | None,
        worker_store: WorkerStore | None = None,
        batch: str = "",
    ) -> None:
        self.request = request
        self.worker_store = worker_store
        self.batch_key = batch
        self.worker_model = "none"
        self.storage = storage
        self.settings = settings
        self.artefact_prefix = artefact_prefix
        self.remaining_ms = remaining_ms
        payload_bucket = split_s3_uri(request.payload.s3_uri)[0] if request.payload.s3_uri.startswith("s3://") else ""
        self.readable_buckets = frozenset({payload_bucket, *settings.read_buckets} - {""})
        self.tasks = make_tasks(settings)
        self.passthrough: AnyTask = Passthrough()
        self.task: AnyTask = self.passthrough
        self.job: JobContext | None = None
        self.model: Any = None
        self.budget = _Budget(settings.cache_mb * 1024 * 1024)

    # -- helpers ---------------------------------------------------------------------------------

    def _recognise(self, element: Any) -> AnyTask | None:
        return next((task for task in self.tasks if task.recognises(element)), None)

    def _out_of_time(self) -> bool:
        return self.remaining_ms is not None and self.remaining_ms() < self.settings.deadline_margin_ms

    def _load(self, obj: DatasetObject) -> tuple[list[LoadedAnswer[AnyTask]], list[AnswerIssue]]:
        return load_answers(obj, self.storage, self.readable_buckets, self._recognise, self.settings.element_name)

    def _fail(self, obj_id: str, reason: str, issues: Sequence[AnswerIssue] = ()) -> ObjectResult:
        return ObjectResult.failed(obj_id, self.task.type, reason, issues)

    def _guard(self, scan: _Scan, step: Callable[[_Scan], None]) -> _Scan:
        """Run one step for one object; whatever it raises becomes the object's failure."""
        obj_id = scan.obj.dataset_object_id
        if scan.result is not None:
            return scan
        if self._out_of_time():
            scan.result = self._fail(obj_id, "not reached before the Lambda's time limit; consolidate it again")
            return scan
        try:
            step(scan)
        except ObjectError as exc:
            issues = scan.issues + [i for i in exc.issues if isinstance(i, AnswerIssue)]
            scan.result = self._fail(obj_id, self._reason(str(exc), issues), issues)
        except TransientStorageError as exc:
            scan.result = self._fail(obj_id, f"{exc} ({_TRANSIENT})", scan.issues)
        except (ConfigError, StorageError) as exc:
            scan.result = self._fail(obj_id, str(exc), scan.issues)
        except Exception as exc:  # one object must never take the batch down
            _log_unexpected("object not consolidated", exc, obj_id)
            scan.result = self._fail(obj_id, f"internal error ({type(exc).__name__})", scan.issues)
        return scan

    @staticmethod
    def _reason(reason: str, issues: Sequence[AnswerIssue]) -> str:
        return f"{reason}; {_TRANSIENT}" if any(i.transient for i in issues) else reason

    # -- step 1: scan ----------------------------------------------------------------------------

    def scan(self, scan: _Scan) -> None:
        loaded, scan.issues = self._load(scan.obj)
        scan.read = bool(loaded)
        for item in loaded:
            if item.task is not None:
                scan.tasks[item.task] += 1
                scan.painted.update(item.task.labels_used(item.answer.element))
        nbytes = sum(item.nbytes for item in loaded)
        if self.budget.take(nbytes):
            scan.loaded, scan.loaded_bytes = loaded, nbytes

    def choose_task(self, scans: Sequence[_Scan]) -> None:
        """The batch's task: the one most objects' answers have (ties: recognition order)."""
        votes: Counter[AnyTask] = Counter()
        for scan in scans:
            if scan.tasks:
                votes[max(scan.tasks, key=lambda t: (scan.tasks[t], -self.tasks.index(t)))] += 1
        if votes:
            self.task = max(votes, key=lambda t: (votes[t], -self.tasks.index(t)))

    def resolve(self, scans: Sequence[_Scan], job_labels: Callable[[], Sequence[str] | None]) -> str | None:
        """The job context for the batch's task; a :class:`ConfigError`'s reason when it cannot work."""
        labels: LabelSet | None = None
        painted: dict[str, Counter[str]] = {}
        try:
            if self.task.needs_labels:
                labels = resolve_labels(
                    event_labels=self.request.label_categories, configured=self.settings.labels, job_labels=job_labels
                )
                if labels is None:
                    labels = batch_labels(name for scan in scans for (name, _) in scan.painted)
                    logger.warning("no label list in the event, settings or job: class keys come from this batch")
                for scan in scans:
                    for (name, colour), n in scan.painted.items():
                        if colour is not None:
                            painted.setdefault(name, Counter())[colour] += n
            self.job = JobContext(labels, painted, self.storage, self.artefact_prefix, self.settings)
            self.task.prepare(self.job)
        except ConfigError as exc:
            logger.error("no object can be consolidated: %s", exc)
            return str(exc)
        return None

    # -- steps 3 and 4 ---------------------------------------------------------------------------

    def _answers(self, scan: _Scan) -> list[Answer]:
        """The object's answers for the batch's task; the others rejected with a reason."""
        loaded = scan.loaded
        if loaded is None:
            loaded, scan.issues = self._load(scan.obj)
        else:
            scan.loaded = None
            self.budget.give(scan.loaded_bytes)
        if self.task is self.passthrough:
            return [item.answer for item in loaded]
        answers = []
        for item in loaded:
            if item.task is self.task:
                answers.append(item.answer)
            else:
                reason = f"not a {self.task.name} answer like the rest of the batch"
                scan.issues.append(AnswerIssue(item.answer.worker_id, reason))
        return answers

    def _observe(self, scan: _Scan) -> Observed[Any, Any]:
        assert self.job is not None
        obj = scan.obj
        answers = self._answers(scan)
        if not obj.annotations:
            raise ObjectError("no annotations: no worker answered")
        if not answers:
            raise no_usable_answer(obj, ())  # _guard adds the object's issues
        observed = self.task.observe(obj, answers, self.job)
        observed.issues[:0] = scan.issues
        scan.issues = []
        return observed

    def observe(self, scan: _Scan) -> None:
        observed = self._observe(scan)
        if self.budget.take(observed.nbytes):
            scan.observed = observed
        else:  # too large to keep: step 4 observes it again; the model needs only the summary
            scan.observed = Observed(observed.summary, None, observed.issues, nbytes=-1)

    def consolidate(self, scan: _Scan) -> None:
        assert self.job is not None
        observed = scan.observed
        if observed is None or observed.nbytes < 0:
            observed = self._observe(scan)
        else:
            self.budget.give(observed.nbytes)
        scan.observed = None
        result = self.task.consolidate(scan.obj, observed, self.model, self.job)
        if self.job.labels is not None and self.job.labels.source == "batch" and result.label is not None:
            result.label["label-source"] = result.metadata["label-source"] = _BATCH_LABELS
        for issue in result.issues:
            log = logger.warning if issue.rejected else logger.info
            log("answer %s: %s", "rejected" if issue.rejected else "warning", issue.reason,
                extra={"datasetObjectId": scan.obj.dataset_object_id, "workerId": issue.worker_id})  # fmt: skip
        scan.result = result

    @staticmethod
    def _report(scan: _Scan) -> None:
        """One log line per object as soon as it is done (the CLI's progress bar counts them)."""
        result, obj_id = scan.result, scan.obj.dataset_object_id
        assert result is not None
        if result.ok:
            extra = {"datasetObjectId": obj_id, "answersUsed": result.answers_used, "confidence": result.confidence}
            logger.info("object consolidated", extra=extra)
        else:
            logger.warning("object not consolidated: %s", result.failure, extra={"datasetObjectId": obj_id})

    def fit(self, summaries: Sequence[tuple[str, Any]]) -> Any:
        """The batch model; with a worker store, from the job's earlier batches too (module docstring)."""
        job, store = self.job, self.worker_store
        assert job is not None
        self.worker_model = "batch"
        task = learner(self.task)
        if store is None or task is None:
            return self.task.fit(summaries, job)
        if job.labels is not None and job.labels.source == "batch":
            logger.warning("worker model kept per batch: without the job's label list, class keys differ by batch")
            return self.task.fit(summaries, job)
        job_id = self.request.labeling_job_arn or self.request.job_name
        name = task.statistics_name(job)
        try:
            loaded = store.load(job_id, name, self.batch_key, task.statistics_keys(summaries, job))
        except Exception as exc:  # the store is an optimisation: it must never fail the batch
            logger.warning("worker store not read, the worker model is this batch's alone: %s", _store_reason(exc))
            self.worker_model = "batch (store failed)"
            return self.task.fit(summaries, job)
        model = task.fit_with_prior(summaries, job, loaded.prior)
        if loaded.recorded:
            logger.info("retried batch: its first run's worker prior is used and nothing is recorded again")
            self.worker_model = "job (retried batch)"
            return model
        self.worker_model = "job"
        try:
            earlier = store.record(job_id, name, self.batch_key, task.statistics(model, job), loaded.prior)
        except Exception as exc:
            logger.warning("worker store not written, this batch's evidence is not kept: %s", _store_reason(exc))
            return model
        if earlier is not None:  # a concurrent run of this very batch recorded first: answer as it did
            self.worker_model = "job (retried batch)"
            if earlier != loaded.prior:
                model = task.fit_with_prior(summaries, job, earlier)
        return model

    def run(
        self, objects: Sequence[DatasetObject], job_labels: Callable[[], Sequence[str] | None]
    ) -> list[ObjectResult]:
        scans = [_Scan(obj) for obj in objects]
        with ThreadPoolExecutor(max_workers=self.settings.threads, thread_name_prefix="tally") as pool:
            list(pool.map(lambda s: self._guard(s, self.scan), scans))
            self.choose_task(scans)
            problem = self.resolve(scans, job_labels)
            if problem is not None:
                for scan in scans:
                    scan.result = scan.result or self._fail(scan.obj.dataset_object_id, problem, scan.issues)
                    self._report(scan)
                return [scan.result for scan in scans if scan.result is not None]
            if self.task.uses_batch_model:
                list(pool.map(lambda s: self._guard(s, self.observe), scans))
                summaries = [
                    (s.obj.dataset_object_id, s.observed.summary)
                    for s in scans
                    if s.observed is not None and s.observed.summary is not None
                ]
                self.model = self.fit(summaries)
            list(pool.map(lambda s: self._report(self._guard(s, self.consolidate)), scans))
        # a job has one task type: failed objects carry the batch's (the first task's when nothing was read)
        read_any = any(s.read for s in scans)
        batch_type = self.task.type if read_any or self.task is not self.passthrough else self.tasks[0].type
        results = []
        for scan in scans:
            assert scan.result is not None
            if not scan.result.ok:
                scan.result.task_type = batch_type
            results.append(scan.result)
        return results


def _store_reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, WorkerStoreError) else type(exc).__name__


def consolidate_batch(
    request: ConsolidationRequest,
    storage: Storage,
    *,
    settings: Settings | None = None,
    mask_prefix: str | None = None,
    job_labels: Callable[[], Sequence[str] | None] = lambda: None,
    remaining_ms: Callable[[], int] | None = None,
    worker_store: WorkerStore | None = None,
    response_limit: int = RESPONSE_LIMIT_BYTES,
) -> BatchReport:
    """Consolidate every object of one request.

    Args:
        request: the parsed Ground Truth event.
        storage: where the payload, ``s3Uri`` answers and masks are read and written.
        settings: deployment settings (defaults: :class:`Settings` defaults).
        mask_prefix: where masks and other artefacts go (default :func:`default_mask_prefix`).
        job_labels: the job's labels from its label category file, asked only when neither the event
            nor the settings have them.
        remaining_ms: time left before the caller's deadline; objects not started in time are
            returned as failed with a reason.
        worker_store: where the job's worker statistics are kept across batches (``None``: each
            batch's worker model is its own, as without a table).
        response_limit: the largest response in bytes; :mod:`tally.gt.sink` fits it under.

    Raises:
        EventError, StorageError: the payload itself cannot be read; nothing can be returned.
    """
    settings = settings or Settings()
    payload = storage.read(request.payload.s3_uri)
    raw = parse_payload(payload)
    created = creation_date(storage.modified(request.payload.s3_uri))
    objects, dropped = _group(raw)
    prefix = mask_prefix or default_mask_prefix(request)
    key = batch_key(request.payload.s3_uri, payload) if worker_store is not None else ""
    batch = _Batch(request, storage, settings, prefix, remaining_ms, worker_store, key)
    results = batch.run(objects, job_labels)
    response = respond(results, request.label_attribute_name, job_name=request.job_name, created=created,
                       storage=storage, prefix=prefix, limit=response_limit, threads=settings.threads)  # fmt: skip
    labels = batch.job.labels if batch.job is not None else None
    report = BatchReport(
        response=response.entries,
        dropped=dropped,
        label_source=labels.source if labels is not None else "not needed",
        offloaded=response.offloaded,
        response_steps=response.steps,
        worker_model=batch.worker_model,
    )
    for r in results:
        report.consolidated += r.ok
        report.failed += not r.ok
        report.answers_rejected += r.rejected
        if r.ok and r.confidence is not None:
            report.confidences.append(r.confidence)
    return report
