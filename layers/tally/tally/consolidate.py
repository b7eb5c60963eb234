"""The consolidation batch driver: one Ground Truth request in, one response entry per object out.

``consolidate_batch`` is what both front doors call: the Lambda handler with S3 storage and the
``tally consolidate`` command with local files. Per batch it reads the payload list, decides the class
keys (:mod:`tally.labels`), then consolidates the objects in a bounded thread pool (PNG codecs and
numpy release the GIL). Each object is recognised by its answers' shape and handed to its task
(:mod:`tally.tasks`). Whatever goes wrong with one answer or one object becomes a reason on that
answer or object; the rest of the batch goes on. Only an unreadable event or payload fails the batch.

Retries are safe: ``creation-date`` is the payload's own timestamp and mask names derive from the
object ID and the mask's bytes, so the same request gives the same response, keys and bytes.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from .answers import load_answers
from .errors import EventError, ObjectError, StorageError
from .labels import ClassTable, resolve_class_table
from .models import ConsolidationRequest, DatasetObject, describe_validation_error
from .output import creation_date, failure_entry, response_entry
from .settings import Settings
from .storage import Storage, join_uri, split_s3_uri
from .tasks import PASSTHROUGH, REGISTRY, Answer, AnswerIssue, BatchCache, ObjectContext, Task

__all__ = ["BatchReport", "consolidate_batch", "default_mask_prefix", "read_payload"]

logger = logging.getLogger(__name__)

_SEGMENTATION_TYPE = "groundtruth/semantic-segmentation"


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

    @property
    def mean_confidence(self) -> float | None:
        return sum(self.confidences) / len(self.confidences) if self.confidences else None


@dataclass(frozen=True)
class _Result:
    entry: dict[str, Any]
    ok: bool
    confidence: float | None
    rejected: int


def default_mask_prefix(request: ConsolidationRequest) -> str:
    """Where masks go: ``<outputConfig>/consolidated-annotation/output``, as Ground Truth's built-in
    segmentation writes them; without ``outputConfig``, next to the payload's request folder."""
    if request.output_config:
        return join_uri(request.output_config, "consolidated-annotation", "output")
    payload = request.payload.s3_uri
    marker = "/consolidated-annotation/"
    if marker in payload:
        return payload.split(marker, 1)[0] + marker + "output"
    return join_uri(payload.rsplit("/", 1)[0], "consolidated-annotation", "output")


def read_payload(storage: Storage, uri: str) -> list[Any]:
    try:
        data = json.loads(storage.read(uri))
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


class _Batch:
    def __init__(
        self,
        request: ConsolidationRequest,
        storage: Storage,
        settings: Settings,
        mask_prefix: str,
        created: str,
        remaining_ms: Callable[[], int] | None,
        job_labels: Callable[[], Sequence[str] | None],
    ) -> None:
        self.request = request
        self.storage = storage
        self.settings = settings
        self.mask_prefix = mask_prefix
        self.created = created
        self.remaining_ms = remaining_ms
        payload_bucket = split_s3_uri(request.payload.s3_uri)[0] if request.payload.s3_uri.startswith("s3://") else ""
        self.readable_buckets = frozenset({payload_bucket, *settings.read_buckets} - {""})
        self.objects: Sequence[DatasetObject] = ()
        self.job_labels = job_labels
        self._classes: ClassTable | None = None
        self._classes_lock = threading.Lock()
        self.models: dict[Task, Any] = {}
        self.selected: dict[str, tuple[Task, list[AnswerIssue]]] = {}  # phase 1's task and issues per object
        self.types: Counter[str] = Counter()  # the task types of the objects selected so far
        self._types_lock = threading.Lock()
        self.cache = BatchCache(settings.cache_mb * 1024 * 1024)

    def classes(self) -> ClassTable:
        """The batch's class table, resolved on first need (a pass-through batch never asks)."""
        with self._classes_lock:
            if self._classes is None:
                self._classes = resolve_class_table(
                    event_labels=self.request.label_categories,
                    configured=self.settings.labels,
                    job_labels=self.job_labels,
                    batch_labels=self._batch_labels,
                )
                if self._classes.source == "batch":
                    logger.warning("no label list in the event, settings or job: class keys come from this batch")
            return self._classes

    @property
    def label_source(self) -> str:
        return self._classes.source if self._classes else "not needed"

    def _batch_labels(self) -> Iterator[str]:
        for obj in self.objects:
            loaded, _ = load_answers(obj, self.storage, self.readable_buckets, self.settings.element_name)
            for item in loaded:
                if item.task is not None:
                    yield from item.task.labels_used(item.answer.element)

    def _fail(self, obj_id: str, reason: str, task_type: str, issues: Sequence[AnswerIssue]) -> _Result:
        logger.warning("object not consolidated: %s", reason, extra={"datasetObjectId": obj_id})
        entry = failure_entry(
            obj_id,
            self.request.label_attribute_name,
            reason,
            task_type=task_type,
            job_name=self.request.job_name,
            created=self.created,
            issues=issues,
        )
        return _Result(entry, ok=False, confidence=None, rejected=sum(i.rejected for i in issues))

    def run(self, obj: DatasetObject) -> _Result:
        obj_id = obj.dataset_object_id
        if self._out_of_time():
            reason = "not reached before the Lambda's time limit; consolidate it again (nothing was written)"
            return self._fail(obj_id, reason, self._likely_type(obj_id), [])
        try:
            return self._run(obj)
        except Exception as exc:  # one object must never take the batch down
            _log_unexpected("object not consolidated", exc, obj_id)
            return self._fail(obj_id, f"internal error ({type(exc).__name__})", self._likely_type(obj_id), [])

    def _likely_type(self, obj_id: str) -> str:
        """The task type of an object whose answers were not (all) read: phase 1's choice for it, else
        the type most objects of the batch have so far (a labeling job has one task type), else
        semantic segmentation."""
        prepared = self.selected.get(obj_id)
        if prepared is not None:
            return prepared[0].type
        with self._types_lock:
            common = self.types.most_common(1)
        return common[0][0] if common else _SEGMENTATION_TYPE

    def _select(self, obj: DatasetObject) -> tuple[Task, list[Answer], list[AnswerIssue]]:
        """Load the object's answers and pick its task: the registered shape most answers have."""
        loaded, issues = load_answers(obj, self.storage, self.readable_buckets, self.settings.element_name)
        known = Counter(item.task for item in loaded if item.task is not None)
        task: Task = max(known, key=lambda t: known[t]) if known else PASSTHROUGH
        if loaded:
            with self._types_lock:
                self.types[task.type] += 1
        answers = []
        for item in loaded:
            if known and item.task is not task:
                issues.append(AnswerIssue(item.answer.worker_id, f"not a {task.name} answer like the others"))
            else:
                answers.append(item.answer)
        return task, answers, issues

    def _context(self, task: Task) -> ObjectContext:
        classes = self.classes() if task is not PASSTHROUGH else ClassTable((), "event")
        return ObjectContext(classes, self.storage, self.mask_prefix, self.settings, self.cache)

    def observe(self, obj: DatasetObject) -> tuple[Task, Any] | None:
        """Phase 1: what a task's batch model needs from this object (``None``: nothing)."""
        if self._out_of_time():
            return None
        try:
            task, answers, issues = self._select(obj)
            if not answers or not task.needs_batch_model(self.settings):
                return None
            observation = task.observe(obj.dataset_object_id, answers, self._context(task))
            self.selected[obj.dataset_object_id] = (task, issues)
        except Exception as exc:  # phase 2 reports whatever is wrong with this object
            _log_unexpected("object not observed", exc, obj.dataset_object_id)
            return None
        return None if observation is None else (task, observation)

    def fit(self, observed: Sequence[tuple[Task, Any] | None]) -> None:
        by_task: dict[Task, list[Any]] = {}
        for item in observed:
            if item is not None:
                by_task.setdefault(item[0], []).append(item[1])
        for task, observations in by_task.items():
            self.models[task] = task.fit(observations, self._context(task))

    def _out_of_time(self) -> bool:
        return self.remaining_ms is not None and self.remaining_ms() < self.settings.deadline_margin_ms

    def _run(self, obj: DatasetObject) -> _Result:
        obj_id = obj.dataset_object_id
        prepared = self.selected.pop(obj_id, None)
        if prepared is not None and self.cache.contains(obj_id):
            # phase 1 loaded the answers and the task kept what it needs: do not parse them again
            task, issues = prepared
            answers: list[Answer] = []
        else:
            task, answers, issues = self._select(obj)
            if not obj.annotations:
                return self._fail(obj_id, "no annotations: no worker answered", task.type, issues)
            if not answers:
                return self._fail(
                    obj_id, f"no usable answer ({len(obj.annotations)} received, all rejected)", task.type, issues
                )
        ctx = self._context(task)
        classes = ctx.classes
        try:
            outcome = task.consolidate(obj_id, answers, ctx, self.models.get(task))
        except ObjectError as exc:
            issues.extend(i for i in exc.issues if isinstance(i, AnswerIssue))
            return self._fail(obj_id, str(exc), task.type, issues)
        except StorageError as exc:
            return self._fail(obj_id, str(exc), task.type, issues)
        issues.extend(outcome.issues)
        extra = dict(outcome.metadata)
        if classes.source == "batch" and task is not PASSTHROUGH:
            extra["label-source"] = "batch (class keys may differ between batches; configure the job's labels)"
        for issue in issues:
            log = logger.warning if issue.rejected else logger.info
            log("answer %s: %s", "rejected" if issue.rejected else "warning", issue.reason,
                extra={"datasetObjectId": obj_id, "workerId": issue.worker_id})  # fmt: skip
        entry = response_entry(
            obj_id,
            self.request.label_attribute_name,
            outcome.label,
            task_type=task.type,
            job_name=self.request.job_name,
            created=self.created,
            issues=issues,
            metadata={"confidence": outcome.confidence, **extra},
        )
        logger.info(
            "object consolidated",
            extra={"datasetObjectId": obj_id, "answersUsed": outcome.answers_used, "confidence": outcome.confidence},
        )
        return _Result(entry, ok=True, confidence=outcome.confidence, rejected=sum(i.rejected for i in issues))


def consolidate_batch(
    request: ConsolidationRequest,
    storage: Storage,
    *,
    settings: Settings | None = None,
    mask_prefix: str | None = None,
    job_labels: Callable[[], Sequence[str] | None] = lambda: None,
    remaining_ms: Callable[[], int] | None = None,
) -> BatchReport:
    """Consolidate every object of one request.

    Args:
        request: the parsed Ground Truth event.
        storage: where the payload, ``s3Uri`` answers and masks are read and written.
        settings: deployment settings (defaults: :class:`Settings` defaults).
        mask_prefix: where masks go (default :func:`default_mask_prefix`).
        job_labels: the job's labels from its label category file, asked only when neither the event
            nor the settings have them.
        remaining_ms: time left before the caller's deadline; objects not started in time are
            returned as failed with a reason.

    Raises:
        EventError, StorageError: the payload itself cannot be read; nothing can be returned.
    """
    settings = settings or Settings()
    raw = read_payload(storage, request.payload.s3_uri)
    created = creation_date(storage.modified(request.payload.s3_uri))
    objects, dropped = _group(raw)
    prefix = mask_prefix or default_mask_prefix(request)
    batch = _Batch(request, storage, settings, prefix, created, remaining_ms, job_labels)
    batch.objects = objects
    with ThreadPoolExecutor(max_workers=settings.threads, thread_name_prefix="tally") as pool:
        if any(task.needs_batch_model(settings) for task in REGISTRY):  # else phase 1 would only parse
            batch.fit(list(pool.map(batch.observe, objects)))  # phase 1: batch models (e.g. worker reliability)
        results = list(pool.map(batch.run, objects))  # phase 2: every object, with those models
    report = BatchReport(response=[r.entry for r in results], dropped=dropped, label_source=batch.label_source)
    for r in results:
        report.consolidated += r.ok
        report.failed += not r.ok
        report.answers_rejected += r.rejected
        if r.confidence is not None:
            report.confidences.append(r.confidence)
    return report
