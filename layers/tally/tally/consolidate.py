"""The consolidation batch driver: a source of data objects, :func:`run_batch`, and the response sink.

Every front door runs the same core:

* the Lambda handler and ``tally consolidate`` call :func:`consolidate_batch`: its *source* reads the
  payload the event names and parses it into :class:`DatasetObject` s, :func:`run_batch` consolidates
  them, and the response sink (:func:`tally.gt.sink.respond`) turns the results into the response
  entries (:meth:`ObjectResult.to_gt`) and keeps them under Lambda's size limit;
* ``tally reconsolidate`` builds the objects from manifest lines and calls :func:`run_batch` itself,
  with a :class:`JobPlan` whose worker model was fitted on the whole job (:func:`survey_and_gather`,
  :func:`gather`, :func:`fit_job_model`).

:func:`run_batch`, per batch:

1. **scan** (``TALLY_THREADS`` threads): each object's answers are decoded and recognised by shape; the labels and
   colours they use are counted. A labeling job has one task type, so the batch's task is the one most
   objects' answers have; answers of another shape are rejected with a reason.
   Recognition needs only the tasks' shapes (their light packages, :mod:`tally.tasks.registry`): the chosen task's module, and
   with it numpy and the task's algorithms, is imported here, the other task types' never.
2. **labels**: the job's label list (:mod:`tally.labels`), resolved once, outside the pool; a list
   that cannot work (a repeated name, too many classes for a mask) fails every object with its reason.
3. **observe + fit**, for a task with a batch model: every object is observed, the model is fitted
   once on what they contribute (:class:`WorkerModelCycle`). With a worker store
   (:mod:`tally.worker_store`) and a task that learns across batches, the fit starts from the job's
   earlier batches' statistics and this batch's are recorded under its batch key (a digest of the
   payload URI and bytes); a store that fails leaves the batch with its own evidence and a warning,
   never a failed batch.
4. **consolidate** (threads): one :class:`ObjectResult` per object, reported to ``on_result`` as
   soon as it is final (the command line's progress bar).

A :class:`JobPlan` replaces the choice of step 1, step 2 and the fit of step 3 with decisions taken
once for a whole job.

Whatever goes wrong with one answer or one object becomes a reason on that answer or object
(:class:`BatchProcessor`); the rest of the batch goes on. Only an unreadable event or payload fails the
batch. Decoded work is kept between the steps while it fits ``TALLY_CACHE_MB``; beyond it, objects are
read again.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .errors import ConfigError, EventError, ObjectError, StorageError, TransientStorageError
from .gt.answers import Answer, AnswerIssue, BareValue, LoadedAnswer, load_answers
from .gt.events import ConsolidationRequest, DatasetObject, describe_validation_error
from .gt.response import RESPONSE_LIMIT_BYTES, ObjectResult, TaskType, creation_date
from .gt.sink import Step, respond
from .labels import LabelSet, batch_labels, resolve_labels
from .settings import Settings
from .storage import Storage, join_uri, split_s3_uri
from .tasks import JobContext, Observed, learner, make_tasks
from .tasks.base import AnyTask, no_usable_answer
from .tasks.passthrough import Passthrough, is_passed_through
from .worker_store import WorkerStore, WorkerStoreError, batch_key

if TYPE_CHECKING:
    from .forms import Field, FormSchema
    from .forms.consolidate import FieldTally, FormObject, FormPlan, FormSurvey, JobTemplate

__all__ = [
    "BatchJob",
    "BatchProcessor",
    "BatchReport",
    "BatchResults",
    "Gathered",
    "JobPlan",
    "Survey",
    "WorkerModel",
    "WorkerModelCycle",
    "choice_digest",
    "consolidate_batch",
    "default_mask_prefix",
    "fit_job_model",
    "gather",
    "parse_payload",
    "run_batch",
    "survey_and_gather",
]

logger = logging.getLogger(__name__)

_BATCH_LABELS = "batch (class ids may differ between batches; configure the job's labels)"
_TRANSIENT = "transient: consolidate it again later (tally reconsolidate); nothing was lost"


class WorkerModel(StrEnum):
    """Where a batch's worker model came from (:attr:`BatchReport.worker_model`)."""

    NONE = "none"
    """The batch's task has no worker model (pass-through, the plain segmentation vote)."""
    BATCH = "batch"
    """Fitted on this batch alone (no worker store, or class keys that differ between batches)."""
    JOB = "job"
    """Fitted on this batch with the job's earlier batches as a prior (worker store); recorded."""
    RETRIED = "job (retried batch)"
    """This batch was recorded before (a retry, or a concurrent run of it): its first prior, nothing added."""
    STORE_FAILED = "batch (store failed)"
    """The worker store could not be read: fitted on this batch alone."""
    WHOLE_JOB = "whole job"
    """Fitted once on every object of the job (:class:`JobPlan`, ``tally reconsolidate``)."""


@dataclass
class BatchReport:
    """The response list plus what happened, for metrics and summaries (no worker data)."""

    response: list[dict[str, Any]]
    consolidated: int = 0  # consolidated by a task; answers of no known shape are counted apart:
    passed_through: int = 0  # returned as received (groundtruth/custom)
    failed: int = 0
    answers_rejected: int = 0
    dropped: int = 0  # payload elements without a usable datasetObjectId: nothing to answer to
    confidences: list[float] = field(default_factory=list)
    label_source: str = ""
    offloaded: int = 0  # labels moved to S3 to keep the response under Lambda's limit
    response_steps: list[Step] = field(default_factory=list)  # what tally.gt.sink did to fit it
    worker_model: WorkerModel = WorkerModel.BATCH
    fields: dict[str, FieldTally] = field(default_factory=dict)  # a form's: per field, consolidated / kept
    schema_source: str | None = None  # a form's: where its fields came from (template, inferred)

    @property
    def mean_confidence(self) -> float | None:
        """Mean confidence of the consolidated objects that were scored (pass-through ones are not)."""
        return sum(self.confidences) / len(self.confidences) if self.confidences else None


@dataclass(frozen=True)
class BatchJob:
    """What every object of a batch shares, as the caller knows it (event, settings, command line).

    Attributes:
        settings: the deployment's settings.
        artefact_prefix: the URI prefix masks and other artefacts are written under.
        job_id: the labeling job's ARN (or name): the worker store's key for the job.
        event_labels: the event's ``labelCategories`` (``None``: not given).
        job_labels: the job's labels from its label category file, asked only when neither the event
            nor the settings have them (it may reach AWS).
        read_buckets: buckets an answer's ``s3Uri`` may point into besides ``settings.read_buckets``
            (the payload's).
        batch_key: the worker store's record of this batch (:func:`tally.worker_store.batch_key`).
        remaining_ms: time left before the caller's deadline; objects not started before
            ``settings.deadline_margin_ms`` is left fail with a reason.
        form_template: the job's worker template (:class:`tally.forms.consolidate.JobTemplate`),
            asked only when the batch's answers are a form (it may reach AWS).
        members: whether each result says which workers' items it fused
            (:attr:`~tally.gt.response.ObjectResult.members`; only the importers read them), and a
            semantic mask's result its voted class array (``class_map``: an importer's write-back).
    """

    settings: Settings
    artefact_prefix: str
    job_id: str = ""
    event_labels: tuple[str, ...] | None = None
    job_labels: Callable[[], Sequence[str] | None] = field(default=lambda: None)
    read_buckets: frozenset[str] = frozenset()
    batch_key: str = ""
    remaining_ms: Callable[[], int] | None = None
    form_template: Callable[[], JobTemplate] | None = None
    members: bool = False

    @property
    def readable_buckets(self) -> frozenset[str]:
        return frozenset({*self.read_buckets, *self.settings.read_buckets} - {""})


@dataclass(frozen=True)
class JobPlan:
    """Decisions taken once for a whole job instead of per batch, so that every batch of the job agrees
    (``tally reconsolidate``: :meth:`Survey.plan`, then the model fitted on :func:`gather`'s summaries).

    Attributes:
        task: the task's position in recognition order (:data:`tally.tasks.ENTRIES`); ``None``: answers
            of no known shape, passed through.
        labels: the job's labels (``None`` for a task that needs none).
        painted: per label, the colours the job's workers painted it with (count per normalised hex).
        model: the worker model fitted on the whole job; ``None``: the task has none, or each batch
            fits its own.
        form: the job's form, when its answers are one (:class:`tally.forms.consolidate.FormPlan`:
            its fields, their labels and, once fitted, each field's model on the whole job); ``task``
            and ``labels`` are then ``None``.
        lone: the template's only field when it is a slider or a ranking (its bounds, its ``allowTie``),
            for the task that consolidates it.
    """

    task: int | None
    labels: LabelSet | None
    painted: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    model: Any = None
    form: FormPlan | None = None
    lone: Field | None = None

    def choice(self) -> str:
        """What the plan's summaries depend on (:func:`choice_digest`; a form's :meth:`FormPlan.choice`)."""
        if self.form is not None:
            return self.form.choice()
        return _choice(self.task, self.labels.names if self.labels is not None else None, self.lone)

    def learns(self, settings: Settings) -> bool:
        """Whether the plan has a model to fit on the whole job (a form's fields, or its task's)."""
        if self.form is not None:
            return True
        return self.task is not None and make_tasks(settings)[self.task].uses_batch_model


def choice_digest(task: int | None, labels: Sequence[str] | None) -> str:
    """A short digest of a task and label choice: the summaries gathered under one are a plan's when the
    two digests agree (``tally reconsolidate``, locally and on AWS)."""
    import hashlib

    return hashlib.sha256(json.dumps([task, list(labels) if labels is not None else None]).encode()).hexdigest()[:16]


def _choice(task: int | None, labels: Sequence[str] | None, lone: Field | None) -> str:
    """:func:`choice_digest`, and the template's lone field's when there is one (its bounds change how
    answers are read)."""
    digest = choice_digest(task, labels)
    if lone is None:
        return digest
    from .forms import FormSchema
    from .forms.consolidate import form_choice

    return f"{digest}+{form_choice(FormSchema((lone,)), {})}"


class BatchResults(list[ObjectResult]):
    """:func:`run_batch`'s results, one per object in the objects' order, and how the batch was judged:
    its task type (the one its failures carry), where its class keys came from and its worker model."""

    def __init__(
        self,
        results: Iterable[ObjectResult] = (),
        task_type: str = TaskType.CUSTOM.value,
        label_source: str = "not needed",
        worker_model: WorkerModel = WorkerModel.NONE,
        fields: dict[str, FieldTally] | None = None,
        schema_source: str | None = None,
    ) -> None:
        super().__init__(results)
        self.task_type = task_type
        self.label_source = label_source
        self.worker_model = worker_model
        self.fields = fields or {}
        self.schema_source = schema_source


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


# -- failure isolation -------------------------------------------------------------------------------


def _log_unexpected(message: str, exc: Exception, obj_id: str) -> None:
    """Log an unforeseen error with its stack but not its message, which might quote worker data."""
    stack = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("%s: %s", message, type(exc).__name__, extra={"datasetObjectId": obj_id, "stack": stack})


@dataclass
class _Item:
    """One object on its way through a batch: what each step found, kept for the next.

    ``loaded`` is ``None`` when the answers were not kept (read again later); ``result`` is set as soon
    as the object is decided, by a failure in any step or by the consolidation."""

    obj: DatasetObject
    loaded: list[LoadedAnswer[AnyTask]] | None = None
    loaded_bytes: int = 0
    issues: list[AnswerIssue] = field(default_factory=list)
    tasks: Counter[AnyTask] = field(default_factory=Counter)
    painted: Counter[tuple[str, str | None]] = field(default_factory=Counter)
    observed: Observed[Any, Any] | None = None
    result: ObjectResult | None = None
    read: bool = False  # the scan read at least one answer of this object
    keys: int = 0  # the most top-level keys one of its answers has (a form's answers have several)
    bare: bool = False  # an answer is one bare value (a number, a string): the form may say what it is

    @property
    def object_id(self) -> str:
        return self.obj.dataset_object_id


def _with_transient_hint(reason: str, issues: Sequence[AnswerIssue]) -> str:
    return f"{reason}; {_TRANSIENT}" if any(i.transient for i in issues) else reason


class BatchProcessor:
    """Failure isolation for one batch: runs a per-object step over ``threads`` threads (a context
    manager: the pool lives while the batch runs) and turns whatever one object's step raises into that
    object's failure, with a reason, never the batch's.

    The steps know nothing of this bookkeeping (as Powertools' ``BasePartialProcessor`` keeps the
    record handler apart from success and failure handling): an object whose ``result`` is set is
    decided and skipped by later steps; an object not started before the caller's deadline fails
    with a reason saying so. Failures carry no task type yet: :func:`run_batch` gives them the batch's.
    """

    def __init__(self, threads: int, out_of_time: Callable[[], bool]) -> None:
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._out_of_time = out_of_time

    def __enter__(self) -> BatchProcessor:
        if self._threads > 1:  # one thread: the steps run here, in order, without a pool's overhead
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="tally")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def process(
        self, items: Sequence[_Item], step: Callable[[_Item], None], then: Callable[[_Item], None] | None = None
    ) -> None:
        """Run ``step`` on every undecided item (concurrently), then ``then`` on every item, decided
        before or by this step; returns when all are done."""

        def one(item: _Item) -> None:
            self._run(item, step)
            if then is not None:
                then(item)

        if self._pool is None:
            for item in items:
                one(item)
        else:
            list(self._pool.map(one, items))

    def _run(self, item: _Item, step: Callable[[_Item], None]) -> None:
        if item.result is not None:
            return
        if self._out_of_time():
            item.result = self._fail(item, "not reached before the Lambda's time limit; consolidate it again")
            return
        try:
            step(item)
        except ObjectError as exc:
            issues = item.issues + [i for i in exc.issues if isinstance(i, AnswerIssue)]
            item.result = self._fail(item, _with_transient_hint(str(exc), issues), issues)
        except TransientStorageError as exc:
            item.result = self._fail(item, f"{exc} ({_TRANSIENT})")
        except (ConfigError, StorageError) as exc:
            item.result = self._fail(item, str(exc))
        except Exception as exc:  # one object must never take the batch down
            _log_unexpected("object not consolidated", exc, item.object_id)
            item.result = self._fail(item, f"internal error ({type(exc).__name__})")

    @staticmethod
    def _fail(item: _Item, reason: str, issues: Sequence[AnswerIssue] | None = None) -> ObjectResult:
        return ObjectResult.failed(item.object_id, "", reason, item.issues if issues is None else issues)

    @staticmethod
    def fail_all(items: Sequence[_Item], reason: str) -> None:
        """Decide every undecided item as failed with ``reason`` (a batch-wide problem, such as labels
        that cannot work)."""
        for item in items:
            item.result = item.result or BatchProcessor._fail(item, reason)


# -- the worker model ---------------------------------------------------------------------------------


def _store_reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, WorkerStoreError) else type(exc).__name__


class WorkerModelCycle:
    """One batch's worker model: loaded, fitted, recorded, refitted; :attr:`status` says which happened.

    Without a store, or for a task that does not learn across batches, it is the batch's own fit. With
    both: the job's statistics for the batch's workers are loaded from the store, the fit takes them as
    a prior, and this batch's own contribution is recorded under its batch key. A retried batch (its
    key recorded already) fits with the prior of its first run and records nothing; when a concurrent
    run of the same batch records first, the fit is redone with that run's prior, so both answer
    alike. The store is an optimisation: when it fails, the batch is judged on its own evidence.
    """

    def __init__(self, store: WorkerStore | None, job_id: str, batch: str, scope: str = "") -> None:
        self._store = store
        self._job_id = job_id
        self._batch = batch
        self._scope = scope  # a form field's statistics are its own: the store's name starts with its scope
        self.status = WorkerModel.NONE

    def fit(self, task: AnyTask, summaries: Sequence[tuple[str, Any]], context: JobContext) -> Any:
        """The batch model of ``task`` from the objects' ``summaries``."""
        self.status = WorkerModel.BATCH
        store, learning = self._store, learner(task)
        if store is None or learning is None:
            return task.fit(summaries, context)
        if context.labels is not None and context.labels.source == "batch":
            logger.warning("worker model kept per batch: without the job's label list, class keys differ by batch")
            return task.fit(summaries, context)
        name = learning.statistics_name(context)
        if self._scope:
            name = f"{self._scope}/{name}"
        try:
            loaded = store.load(self._job_id, name, self._batch, learning.statistics_keys(summaries, context))
        except Exception as exc:  # the store is an optimisation: it must never fail the batch
            logger.warning("worker store not read, the worker model is this batch's alone: %s", _store_reason(exc))
            self.status = WorkerModel.STORE_FAILED
            return task.fit(summaries, context)
        model = learning.fit_with_prior(summaries, context, loaded.prior)
        if loaded.recorded:
            logger.info("retried batch: its first run's worker prior is used and nothing is recorded again")
            self.status = WorkerModel.RETRIED
            return model
        self.status = WorkerModel.JOB
        try:
            earlier = store.record(self._job_id, name, self._batch, learning.statistics(model, context), loaded.prior)
        except Exception as exc:
            logger.warning("worker store not written, this batch's evidence is not kept: %s", _store_reason(exc))
            return model
        if earlier is not None:  # a concurrent run of this very batch recorded first: answer as it did
            self.status = WorkerModel.RETRIED
            if earlier != loaded.prior:
                model = learning.fit_with_prior(summaries, context, earlier)
        return model


# -- the per-object steps -------------------------------------------------------------------------------


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


class _Steps:
    """The per-object steps of one batch (scan, observe, consolidate) for its task, and the decoded
    work kept between them while it fits the memory budget (``TALLY_CACHE_MB``)."""

    def __init__(self, job: BatchJob, storage: Storage) -> None:
        self.job = job
        self.storage = storage
        self.readable_buckets = job.readable_buckets
        self.tasks = make_tasks(job.settings)
        self.passthrough: AnyTask = Passthrough()
        self.task: AnyTask = self.passthrough
        self.context: JobContext | None = None
        self.model: Any = None
        self.budget = _Budget(job.settings.cache_mb * 1024 * 1024)
        self.lone: Field | None = None  # the template's only field, a slider or ranking: its bounds
        self.form_survey: FormSurvey | None = None  # what the batch's answers say of a form (job-wide passes)

    def task_at(self, position: int | None) -> AnyTask:
        return self.passthrough if position is None else self.tasks[position]

    def position(self, task: AnyTask) -> int | None:
        return None if task is self.passthrough else self.tasks.index(task)

    def _recognise(self, element: Any) -> AnyTask | None:
        return next((task for task in self.tasks if task.recognises(element)), None)

    def _load(self, obj: DatasetObject) -> tuple[list[LoadedAnswer[AnyTask]], list[AnswerIssue]]:
        return load_answers(obj, self.storage, self.readable_buckets, self._recognise, self.job.settings.element_name)

    def scan(self, item: _Item) -> None:
        """Read and recognise the answers; count the tasks and the labels and colours they use."""
        loaded, item.issues = self._load(item.obj)
        item.read = bool(loaded)
        for answer in loaded:
            item.keys = max(item.keys, len(answer.answer.content))
            item.bare = item.bare or isinstance(answer.answer.element, BareValue)
            if answer.task is not None:
                item.tasks[answer.task] += 1
                item.painted.update(answer.task.labels_used(answer.answer.element))
        nbytes = sum(answer.nbytes for answer in loaded)
        if self.budget.take(nbytes):
            item.loaded, item.loaded_bytes = loaded, nbytes

    def _answers(self, item: _Item) -> list[Answer]:
        """The object's answers for the batch's task; the others rejected with a reason."""
        loaded = item.loaded
        if loaded is None:
            loaded, item.issues = self._load(item.obj)
        else:
            item.loaded = None
            self.budget.give(item.loaded_bytes)
        if self.task is self.passthrough:
            return [answer.answer for answer in loaded]
        answers = []
        for answer in loaded:
            if answer.task is self.task:
                answers.append(answer.answer)
            else:
                reason = f"not a {self.task.name} answer like the rest of the batch"
                item.issues.append(AnswerIssue(answer.answer.worker_id, reason))
        return answers

    def _observe(self, item: _Item) -> Observed[Any, Any]:
        assert self.context is not None
        answers = self._answers(item)
        if not item.obj.annotations:
            raise ObjectError("no annotations: no worker answered")
        if not answers:
            raise no_usable_answer(item.obj, ())  # the processor adds the object's issues
        observed = self.task.observe(item.obj, answers, self.context)
        observed.issues[:0] = item.issues
        item.issues = []
        return observed

    def observe(self, item: _Item) -> None:
        """What the object contributes to the batch model; the decoded work kept while it fits."""
        observed = self._observe(item)
        if self.budget.take(observed.nbytes):
            item.observed = observed
        else:  # too large to keep: consolidate observes it again; the model needs only the summary
            item.observed = Observed(observed.summary, None, observed.issues, nbytes=-1)

    def summarise(self, item: _Item) -> None:
        """Only what the object contributes to the batch model (nothing kept for a consolidation)."""
        observed = self._observe(item)
        item.observed = Observed(observed.summary, None, [], nbytes=-1)

    def consolidate(self, item: _Item) -> None:
        """The object's result, from its observation and the batch model."""
        assert self.context is not None
        observed = item.observed
        if observed is None or observed.nbytes < 0:
            observed = self._observe(item)
        else:
            self.budget.give(observed.nbytes)
        item.observed = None
        result = self.task.consolidate(item.obj, observed, self.model, self.context)
        labels = self.context.labels
        if labels is not None and labels.source == "batch" and result.label is not None:
            result.label["label-source"] = result.metadata["label-source"] = _BATCH_LABELS
        for issue in result.issues:
            log = logger.warning if issue.rejected else logger.info
            log("answer %s: %s", "rejected" if issue.rejected else "warning", issue.reason,
                extra={"datasetObjectId": item.object_id, "workerId": issue.worker_id})  # fmt: skip
        item.result = result

    def out_of_time(self) -> bool:
        remaining = self.job.remaining_ms
        return remaining is not None and remaining() < self.job.settings.deadline_margin_ms


# -- the batch's plan: its task and labels ----------------------------------------------------------------


def _task_votes(items: Sequence[_Item], tasks: Sequence[AnyTask]) -> Counter[int]:
    """Per task (its position in ``tasks``), how many objects' answers are mostly of it (ties:
    recognition order). The batch's task is the most voted one, as :func:`_elect` picks it."""
    votes: Counter[int] = Counter()
    for item in items:
        if item.tasks:
            best = max(item.tasks, key=lambda t: (item.tasks[t], -tasks.index(t)))
            votes[tasks.index(best)] += 1
    return votes


def _elect(votes: Mapping[int, int]) -> int | None:
    """The task with most votes (ties: recognition order); ``None`` when nothing was recognised."""
    return max(votes, key=lambda t: (votes[t], -t)) if votes else None


def _painted(items: Iterable[_Item]) -> dict[str, Counter[str]]:
    """Per label, the colours the objects' answers painted it with, in the order first seen."""
    painted: dict[str, Counter[str]] = {}
    for item in items:
        for (name, colour), n in item.painted.items():
            if colour is not None:
                painted.setdefault(name, Counter())[colour] += n
    return painted


def _resolve(task: AnyTask, job: BatchJob, used: Callable[[], Iterable[str]]) -> LabelSet | None:
    """The job's labels for ``task`` (``None`` when it needs none); ``used``: the label names the
    answers use, the last resort. Raises :class:`ConfigError` for a list that cannot work."""
    if not task.needs_labels:
        return None
    labels = resolve_labels(event_labels=job.event_labels, configured=job.settings.labels, job_labels=job.job_labels)
    if labels is None:
        labels = batch_labels(used())
        logger.warning("no label list in the event, settings or job: class keys come from this batch")
    return labels


def _prepare(steps: _Steps, labels: LabelSet | None, painted: Mapping[str, Mapping[str, int]]) -> str | None:
    """Set the batch's job context and let its task prepare; a :class:`ConfigError`'s reason when the
    task cannot work with it."""
    try:
        steps.context = JobContext(labels, painted if labels is not None else {}, steps.storage,
                                   steps.job.artefact_prefix, steps.job.settings, steps.job.members)  # fmt: skip
        _use_lone(steps)
        steps.task.prepare(steps.context)
    except ConfigError as exc:
        logger.error("no object can be consolidated: %s", exc)
        return str(exc)
    return None


def _use_lone(steps: _Steps) -> None:
    """A template whose only field is a slider or a ranking: its ``min``, ``max``, ``step`` or
    ``allowTie`` go to the task that consolidates the batch (a number's or a ranking's)."""
    if steps.lone is None or steps.task is steps.passthrough:
        return
    from .tasks import LazyTask
    from .tasks.fields import FieldBounds, KindTask

    task = steps.task.loaded if isinstance(steps.task, LazyTask) else steps.task
    if isinstance(task, KindTask) and task.name == steps.lone.kind:
        task.use_template(FieldBounds.of(steps.lone))


def _plan(steps: _Steps, items: Sequence[_Item], plan: JobPlan | None) -> str | None:
    """The batch's task, labels and colours: the job plan's, or chosen from the batch's own answers.
    Returns the reason no object can be consolidated, if any."""
    if plan is not None:
        steps.task = steps.task_at(plan.task)
        steps.lone = plan.lone
        return _prepare(steps, plan.labels, plan.painted)
    steps.task = steps.task_at(_elect(_task_votes(items, steps.tasks)))
    try:
        labels = _resolve(steps.task, steps.job, lambda: (name for item in items for (name, _) in item.painted))
    except ConfigError as exc:
        logger.error("no object can be consolidated: %s", exc)
        return str(exc)
    return _prepare(steps, labels, _painted(items))


def _summaries(items: Sequence[_Item]) -> list[tuple[str, Any]]:
    return [
        (item.object_id, item.observed.summary)
        for item in items
        if item.observed is not None and item.observed.summary is not None
    ]


# -- run_batch ---------------------------------------------------------------------------------------------


def _report(item: _Item, on_result: Callable[[ObjectResult], None] | None) -> None:
    """One log line per object as soon as it is decided, and the caller's callback."""
    result = item.result
    assert result is not None
    if result.ok:
        extra = {"datasetObjectId": item.object_id, "answersUsed": result.answers_used, "confidence": result.confidence}
        logger.info("object consolidated", extra=extra)
    else:
        logger.warning("object not consolidated: %s", result.failure, extra={"datasetObjectId": item.object_id})
    if on_result is not None:
        on_result(result)


def run_batch(
    objects: Sequence[DatasetObject],
    job: BatchJob,
    storage: Storage,
    store: WorkerStore | None = None,
    *,
    plan: JobPlan | None = None,
    on_result: Callable[[ObjectResult], None] | None = None,
) -> BatchResults:
    """Consolidate one batch of objects (module docstring): one result per object, in order.

    Args:
        objects: the batch's data objects (IDs unique).
        job: what the objects share (:class:`BatchJob`).
        storage: where ``s3Uri`` answers are read and masks written.
        store: the job's worker statistics across batches (``None``: the batch's model is its own).
        plan: the task, labels, colours and worker model decided for the whole job (``None``: the
            batch decides them from its own answers).
        on_result: called with each object's result as soon as it is final (from the batch's threads).
    """
    steps = _Steps(job, storage)
    items = [_Item(obj) for obj in objects]
    cycle = WorkerModelCycle(store, job.job_id, job.batch_key)
    with BatchProcessor(job.settings.threads, steps.out_of_time) as processor:
        processor.process(items, steps.scan)
        # a form: field by field (with a plan: the job's form and its fields' models); with an element name
        # too, so that naming the crowd element never drops the form's other fields
        form = _run_form(steps, processor, items, store, on_result, plan)
        if form is not None:
            return form
        problem = _plan(steps, items, plan)
        if problem is not None:
            BatchProcessor.fail_all(items, problem)
            for item in items:
                _report(item, on_result)
        else:
            assert steps.context is not None
            if steps.task.uses_batch_model:
                processor.process(items, steps.observe)
                if plan is not None and plan.model is not None:
                    steps.model, cycle.status = plan.model, WorkerModel.WHOLE_JOB
                else:
                    steps.model = cycle.fit(steps.task, _summaries(items), steps.context)
            processor.process(items, steps.consolidate, lambda item: _report(item, on_result))
    # a job has one task type: failed objects carry the batch's (the first task's when nothing was read)
    read_any = any(item.read for item in items)
    batch_type = steps.task.type if read_any or steps.task is not steps.passthrough else steps.tasks[0].type
    results = BatchResults(
        task_type=batch_type,
        label_source=steps.context.labels.source if steps.context and steps.context.labels else "not needed",
        worker_model=cycle.status,
    )
    for item in items:
        assert item.result is not None
        if not item.result.ok:
            item.result.task_type = batch_type
        results.append(item.result)
    return results


@dataclass
class _Forms:
    """A batch of forms ready for the form driver (:func:`_read_forms`)."""

    schema: FormSchema
    template: JobTemplate
    objects: list[FormObject]
    context: Any  # tally.forms.consolidate.FormContext
    cycles: list[WorkerModelCycle]


def _read_forms(
    steps: _Steps, processor: BatchProcessor, items: Sequence[_Item], store: WorkerStore | None, plan: JobPlan | None
) -> _Forms | None:
    """The batch's forms when its answers are a form, or the job's plan says they are; ``None`` when
    they hold one annotation element or nothing the form driver would consolidate (the task path then
    goes on, as before forms). Objects with no usable answer are failed here with their reason."""
    if plan is not None and plan.form is None:
        return None  # the job's answers are no form: the task path, with the plan
    if plan is None:
        keys = max((item.keys for item in items), default=0)
        if keys == 0:
            return None
        if keys == 1 and any(item.tasks for item in items) and not any(item.bare for item in items):
            if any(task.name == "ranking" for item in items for task in item.tasks):
                _lone_ranking(steps)  # a lone ranking element: its template's allowTie
            return None  # one element per answer, recognised by a task: the task path, byte for byte
    # one bare value per answer (a `<select>`'s option, a slider's number): the form says whether it is a
    # choice (the form driver) or a number or text (its task, with the template's bounds)
    from .forms.consolidate import (
        FormAnswer,
        FormContext,
        FormObject,
        FormSurvey,
        JobTemplate,
        is_form,
        read_batch_form,
    )

    answers: dict[str, list[FormAnswer]] = {}
    issues: dict[str, list[AnswerIssue]] = {}

    reread: dict[str, list[LoadedAnswer[AnyTask]]] = {}

    def read(item: _Item) -> None:  # the answers the scan did not keep (memory budget), read again
        reread[item.object_id], item.issues = steps._load(item.obj)

    # undecided objects only (an object the scan failed, out of time included, keeps its reason)
    processor.process([item for item in items if item.loaded is None], read)
    for item in items:
        loaded = item.loaded if item.loaded is not None else reread.get(item.object_id, [])
        answers[item.object_id] = [
            FormAnswer(a.answer.worker_id, a.answer.content, a.answer.received.get("gold") is True) for a in loaded
        ]
        issues[item.object_id] = list(item.issues)
    reread.clear()
    job = steps.job
    if plan is not None and plan.form is not None:
        schema, template = plan.form.schema, plan.form.template
    else:
        found = read_batch_form([a.content for got in answers.values() for a in got], job.form_template or JobTemplate)
        if found is None:
            return None
        schema, template = found
        steps.form_survey = FormSurvey(schema)
        if not is_form(schema):
            steps.lone = _lone(schema)
            return None
    for item in items:
        if item.loaded is not None:
            item.loaded = None
            steps.budget.give(item.loaded_bytes)
    cycles: list[WorkerModelCycle] = []

    def new_cycle(scope: str) -> WorkerModelCycle:
        cycles.append(WorkerModelCycle(store, job.job_id, job.batch_key, scope))
        return cycles[-1]

    resolved: list[LabelSet | None] = []

    def job_labels() -> LabelSet | None:
        if not resolved:
            try:
                resolved.append(resolve_labels(event_labels=job.event_labels, configured=job.settings.labels,
                                               job_labels=job.job_labels))  # fmt: skip
            except ConfigError as exc:
                logger.warning("the job's label list cannot work for a form's annotation field: %s", exc)
                resolved.append(None)
        return resolved[0]

    context = FormContext(job.settings, steps.storage, job.artefact_prefix, job_labels, new_cycle,
                          plan.form if plan is not None else None)  # fmt: skip
    forms: list[FormObject] = []
    for item in items:
        found_answers = answers[item.object_id]
        if item.result is not None:
            continue
        if not item.obj.annotations:
            item.result = BatchProcessor._fail(item, "no annotations: no worker answered")
        elif not found_answers:
            item.result = BatchProcessor._fail(item, str(no_usable_answer(item.obj, ())), issues[item.object_id])
        else:
            forms.append(FormObject(item.obj, found_answers, issues[item.object_id]))
    return _Forms(schema, template, forms, context, cycles)


def _lone_ranking(steps: _Steps) -> None:
    """A batch of one ranking element: the job's template, when it has one, says which dimensions
    allow ties (``allowTie``)."""
    from .forms import parse_template
    from .forms.consolidate import FormSurvey, JobTemplate, read_template

    html = read_template(steps.job.form_template or JobTemplate).html
    schema = parse_template(html) if html is not None else None
    if schema is not None and (lone := _lone(schema)) is not None and lone.kind == "ranking":
        steps.lone = lone
        steps.form_survey = FormSurvey(schema)


def _run_form(
    steps: _Steps,
    processor: BatchProcessor,
    items: Sequence[_Item],
    store: WorkerStore | None,
    on_result: Callable[[ObjectResult], None] | None,
    plan: JobPlan | None = None,
) -> BatchResults | None:
    """The batch consolidated field by field when its answers are a form (:mod:`tally.forms.consolidate`);
    ``None`` when the task path consolidates it (:func:`_read_forms`)."""
    from .forms.consolidate import consolidate_form

    forms = _read_forms(steps, processor, items, store, plan)
    if forms is None:
        return None
    results, tallies = consolidate_form(forms.schema, forms.template, forms.objects, forms.context)
    by_id = {r.object_id: r for r in results}
    status = forms.cycles[0].status if forms.cycles else WorkerModel.NONE
    if plan is not None:
        status = WorkerModel.WHOLE_JOB
    batch = BatchResults(
        task_type=TaskType.CUSTOM.value,
        label_source="not needed",
        worker_model=status,
        fields=tallies,
        schema_source=forms.schema.source,
    )
    for item in items:
        item.result = item.result or by_id[item.object_id]
        if not item.result.ok:
            item.result.task_type = TaskType.CUSTOM.value
        _report(item, on_result)
        batch.append(item.result)
    return batch


# -- job-wide passes (tally reconsolidate) --------------------------------------------------------------


@dataclass
class Survey:
    """What the answers of a job's objects say before anything is consolidated: which task they are,
    the labels they use and the colours painted. A job's batches are surveyed one by one and their
    surveys added up (:meth:`add`, in the job's order); :meth:`plan` then decides the job's task,
    labels and colours exactly as one batch of every object would.

    Attributes:
        votes: per task (its position in recognition order), the objects whose answers are mostly of it.
        names: every label name the answers use (for a job without a label list).
        painted: per label, the colours it was painted with, in the order first seen.
        objects: objects surveyed.
        form: what the answers say of a form (:class:`tally.forms.consolidate.FormSurvey`: its fields
            and their labels), from the batches whose answers may be one; ``None``: none may be.
    """

    votes: Counter[int] = field(default_factory=Counter)
    names: set[str] = field(default_factory=set)
    painted: dict[str, Counter[str]] = field(default_factory=dict)
    objects: int = 0
    form: FormSurvey | None = None

    def add(self, other: Survey) -> None:
        """Add a later batch's survey to this one."""
        self.votes.update(other.votes)
        self.names |= other.names
        for name, colours in other.painted.items():
            self.painted.setdefault(name, Counter()).update(colours)
        self.objects += other.objects
        if self.form is None:
            self.form = other.form
        elif other.form is not None:
            self.form.add(other.form)

    def as_json(self) -> dict[str, Any]:
        out = {
            "votes": {str(k): n for k, n in self.votes.items()},
            "names": sorted(self.names),
            "painted": {name: dict(colours) for name, colours in self.painted.items()},
            "objects": self.objects,
        }
        if self.form is not None:
            out["form"] = self.form.as_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Survey:
        form = None
        if data.get("form") is not None:
            from .forms.consolidate import FormSurvey

            form = FormSurvey.from_json(data["form"])
        return cls(
            Counter({int(k): int(n) for k, n in data["votes"].items()}),
            set(data["names"]),
            {name: Counter(colours) for name, colours in data["painted"].items()},
            int(data["objects"]),
            form,
        )

    def plan(self, job: BatchJob) -> JobPlan:
        """The job's task, labels and colours, or its form (no model yet). Raises :class:`ConfigError`
        when the job's label list cannot work (a repeated name)."""
        lone = None
        if self.form is not None:
            from .forms.consolidate import JobTemplate, read_template

            form = self.form.plan(read_template(job.form_template or JobTemplate))
            if form is not None:
                return JobPlan(None, None, form=form)
            lone = _lone(self.form.schema)
        position = _elect(self.votes)
        task = Passthrough() if position is None else make_tasks(job.settings)[position]
        labels = _resolve(task, job, lambda: self.names)
        painted = {n: dict(c) for n, c in self.painted.items()} if labels is not None else {}
        return JobPlan(position, labels, painted, lone=lone)


def _lone(schema: FormSchema) -> Field | None:
    """The template's only field when it is a slider or a ranking (:attr:`JobPlan.lone`)."""
    only = schema.fields[0] if len(schema) == 1 else None
    return only if only is not None and only.found == "template" and only.kind in ("number", "ranking") else None


@dataclass
class Gathered:
    """The first pass of a job-wide re-consolidation over one batch (:func:`survey_and_gather`).

    Attributes:
        survey: what the batch's answers say (added up over the job's batches).
        task: the task the batch chose for itself (its position in recognition order).
        labels: the label names the batch resolved for itself (``None``: none, or none could work).
        summaries: each object's summary under that choice (empty for a task without a batch model; a
            form's: per object, each field's summary).
        choice: the digest of that choice (:meth:`JobPlan.choice` of a plan that would agree).
    """

    survey: Survey
    task: int | None
    labels: tuple[str, ...] | None
    summaries: list[tuple[str, Any]]
    choice: str = ""

    def fits(self, plan: JobPlan) -> bool:
        """Whether the summaries are the plan's: the same task and labels, or the same form (an
        object's summary depends on nothing else of the plan), so the batch need not be gathered again."""
        return self.choice == plan.choice()


def survey_and_gather(objects: Sequence[DatasetObject], job: BatchJob, storage: Storage) -> Gathered:
    """The first pass of a job-wide re-consolidation over one batch, in one read of its answers: its
    :class:`Survey` (as :func:`run_batch`'s scan counts them), and its objects' summaries under the task
    and labels the batch would choose for itself. Those are the job's whenever the batch agrees with
    the job (its task, and the job's label list or, inferred, every label of the job); a batch that does
    not is gathered again with the job's plan (:func:`gather`). Nothing is consolidated or written."""
    steps = _Steps(job, storage)
    items = [_Item(obj) for obj in objects]
    summaries: list[tuple[str, Any]] = []
    with BatchProcessor(job.settings.threads, steps.out_of_time) as processor:
        processor.process(items, steps.scan)
        found = Survey(
            _task_votes(items, steps.tasks),
            {name for item in items for (name, _) in item.painted},
            _painted(items),
            len(items),
        )
        forms = _read_forms(steps, processor, items, None, None)
        if forms is not None:  # a form: its fields, their labels, each object's summaries per field
            from .forms.consolidate import form_digest, gather_form

            found.form, summaries = gather_form(forms.schema, forms.objects, forms.context)
            choice = form_digest(found.form.schema, found.form.labels)
            return Gathered(found, None, None, summaries, choice)
        found.form = steps.form_survey
        problem = _plan(steps, items, None)
        if problem is None and steps.task.uses_batch_model:
            processor.process(items, steps.summarise)
            summaries = _summaries(items)
    labels = steps.context.labels if problem is None and steps.context is not None else None
    names = labels.names if labels is not None else None
    position = steps.position(steps.task)
    return Gathered(found, position, names, summaries, _choice(position, names, steps.lone))


def gather(objects: Sequence[DatasetObject], job: BatchJob, storage: Storage, plan: JobPlan) -> list[tuple[str, Any]]:
    """Each object's summary for the plan's task (what its batch model learns from), in order; objects
    that cannot be observed are left out, as :func:`run_batch` leaves them out of its fit. The summaries
    of every batch of a job, in the job's order, are what one batch of the whole job fits its model on."""
    steps = _Steps(job, storage)
    items = [_Item(obj) for obj in objects]
    with BatchProcessor(job.settings.threads, steps.out_of_time) as processor:
        processor.process(items, steps.scan)
        if plan.form is not None:
            from .forms.consolidate import gather_form

            forms = _read_forms(steps, processor, items, None, plan)
            return gather_form(forms.schema, forms.objects, forms.context)[1] if forms is not None else []
        if _plan(steps, items, plan) is not None or not steps.task.uses_batch_model:
            return []
        processor.process(items, steps.summarise)
    return _summaries(items)


def fit_job_model(summaries: Sequence[tuple[str, Any]], job: BatchJob, storage: Storage, plan: JobPlan) -> JobPlan:
    """``plan`` with the worker model fitted once on every object's summary (:func:`gather`'s, in
    the job's order): exactly the model one batch of the whole job would fit (no worker store)."""
    if plan.form is not None:
        from .forms.consolidate import FormContext, fit_form

        context = FormContext(
            job.settings, storage, job.artefact_prefix, lambda: None, lambda _: WorkerModelCycle(None, "", "")
        )
        return JobPlan(None, None, form=fit_form(plan.form, summaries, context))
    steps = _Steps(job, storage)
    steps.task = steps.task_at(plan.task)
    steps.lone = plan.lone
    if not steps.task.uses_batch_model or _prepare(steps, plan.labels, plan.painted) is not None:
        return plan
    assert steps.context is not None
    model = WorkerModelCycle(None, job.job_id, "").fit(steps.task, summaries, steps.context)
    return JobPlan(plan.task, plan.labels, plan.painted, model, lone=plan.lone)


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
    on_result: Callable[[ObjectResult], None] | None = None,
    form_template: Callable[[], JobTemplate] | None = None,
    members: bool = False,
) -> BatchReport:
    """Consolidate every object of one request: the payload it names read (the source), the objects
    consolidated (:func:`run_batch`), the response made (:func:`respond`).

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
        on_result: called with each object's result as soon as it is final.
        form_template: the job's worker template, asked only when the batch's answers are a form
            (``None``: the form is inferred from the answers).
        members: whether each result says which workers' items it fused
            (:attr:`~tally.gt.response.ObjectResult.members`, for an importer; never written).

    Raises:
        EventError, StorageError: the payload itself cannot be read; nothing can be returned.
    """
    settings = settings or Settings()
    uri = request.payload.s3_uri
    payload = storage.read(uri)
    raw = parse_payload(payload)
    created = creation_date(storage.modified(uri))
    objects, dropped = _group(raw)
    prefix = mask_prefix or default_mask_prefix(request)
    job = BatchJob(
        settings=settings,
        artefact_prefix=prefix,
        job_id=request.labeling_job_arn or request.job_name,
        event_labels=tuple(request.label_categories) if request.label_categories else None,
        job_labels=job_labels,
        read_buckets=frozenset({split_s3_uri(uri)[0]} if uri.startswith("s3://") else ()),
        batch_key=batch_key(uri, payload) if worker_store is not None else "",
        remaining_ms=remaining_ms,
        form_template=form_template,
        members=members,
    )
    results = run_batch(objects, job, storage, worker_store, on_result=on_result)
    attr = request.label_attribute_name
    response = respond(results, attr, job_name=request.job_name, created=created, storage=storage,
                       prefix=prefix, limit=response_limit, threads=settings.threads)  # fmt: skip
    report = BatchReport(
        response=response.entries,
        dropped=dropped,
        label_source=results.label_source,
        offloaded=response.offloaded,
        response_steps=response.steps,
        worker_model=results.worker_model,
        fields=results.fields,
        schema_source=results.schema_source,
    )
    for r in results:
        if r.form_fields is not None:  # a form: consolidated when any of its fields was
            done = any(consolidated for _, consolidated in r.form_fields)
            report.consolidated += r.ok and done
            report.passed_through += r.ok and not done
        else:
            report.consolidated += r.ok and not is_passed_through(r.task_type)
            report.passed_through += r.ok and is_passed_through(r.task_type)
        report.failed += not r.ok
        report.answers_rejected += r.rejected
        if r.ok and r.confidence is not None:
            report.confidences.append(r.confidence)
    return report
