"""The contract between the batch driver (:mod:`tally.consolidate`) and a task type.

Tasks are made per batch (:func:`tally.tasks.make_tasks`), so one may keep what it derives from the
batch, such as a mask palette. A task recognises its answers by shape and consolidates a batch in
these steps:

1. ``observe(obj, answers, job)`` per object: parse and check the answers, and return an
   :class:`Observed`: the small ``summary`` the batch model learns from (``None``: nothing), the
   answers' issues, and the heavy ``prepared`` work (decoded masks, say) that ``consolidate`` reuses.
   The driver keeps each object's :class:`Observed` while it fits its memory budget and otherwise
   calls ``observe`` again in step 3. Raises :class:`tally.errors.ObjectError` when no answer is usable.
2. ``fit(summaries, job)`` once per batch, only when ``uses_batch_model``: the batch model (worker
   reliability, confusion matrices), or ``None``.
3. ``consolidate(obj, observed, model, job)`` per object: the :class:`ObjectResult`.

``prepare(job)`` runs once, after the labels are resolved and (for a task with a batch model) after
step 1, with the colours the workers painted each label with; it may raise
:class:`tally.errors.ConfigError`, which fails every object with its reason. ``observe`` must not
depend on it. A task without a batch model runs steps 1 and 3 back to back, in one pass over the batch. Batch
models are per task: one task's worker model never reaches another.

A task whose batch model can carry over to the job's later batches (:mod:`tally.worker_store`) also
implements :class:`LearnsAcrossBatches`: the keys (workers) whose stored statistics it wants, a fit
that takes them as a prior, and its model's own contribution. Tasks without it ignore the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from ..errors import AnswerError, ObjectError
from ..gt.answers import Answer, AnswerIssue
from ..gt.events import DatasetObject
from ..gt.response import Members, ObjectResult
from ..labels import LabelSet
from ..settings import Settings
from ..storage import Storage
from ..worker_store import WorkerStatistics

__all__ = [
    "DIGITS",
    "AnyTask",
    "JobContext",
    "LearnsAcrossBatches",
    "Observed",
    "Task",
    "consolidated",
    "figure",
    "gold_column",
    "gold_index",
    "known_labels",
    "majority_size",
    "marked_gold",
    "no_usable_answer",
    "shown_label",
]

DIGITS = 4
"""Decimals of the figures a label reports (confidences, worker figures)."""

S = TypeVar("S")  # what one object contributes to the batch model
P = TypeVar("P")  # per-object work kept for consolidate
M = TypeVar("M")  # the batch model


@dataclass(frozen=True)
class JobContext:
    """What every object of a batch shares.

    Attributes:
        labels: the job's labels (``None`` only for a task that needs none, such as pass-through).
        painted: per label, the colours the batch's workers painted it with (count per normalised hex).
        storage: where answers are read and artefacts (masks) written.
        artefact_prefix: the URI prefix artefacts are written under.
        settings: the deployment's settings.
        members: whether a task that fuses items says which in each result
            (:attr:`~tally.gt.response.ObjectResult.members`: only an importer asks; the Lambdas never do),
            and a semantic mask's result its voted class array (``class_map``, for the write-back).
    """

    labels: LabelSet | None
    painted: Mapping[str, Mapping[str, int]]
    storage: Storage
    artefact_prefix: str
    settings: Settings
    members: bool = False

    def require_labels(self) -> LabelSet:
        if self.labels is None:  # the driver resolves labels for every task that reads them
            raise RuntimeError("labels were not resolved for this batch")
        return self.labels


@dataclass
class Observed(Generic[S, P]):
    """One object's answers as a task read them (see the module docstring)."""

    summary: S | None
    prepared: P
    issues: list[AnswerIssue] = field(default_factory=list)
    nbytes: int = 0
    answers_used: int = 0
    sources: tuple[tuple[int, ...], ...] | None = None
    """Per answer of the summary, each item it kept: its index in the answer's item list (``None``: not
    recorded). What :attr:`~tally.gt.response.ObjectResult.members` are read back through."""


class Task(Protocol[S, P, M]):
    """A task type (module docstring). ``name`` appears in reasons; ``type`` is its default
    ``<attr>-metadata`` type (a result may carry another, e.g. text vs image classification)."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def uses_batch_model(self) -> bool: ...

    @property
    def needs_labels(self) -> bool: ...

    def recognises(self, element: Mapping[str, Any]) -> bool: ...

    def labels_used(self, element: Mapping[str, Any]) -> Iterable[tuple[str, str | None]]:
        """The ``(label, colour or None)`` pairs an answer uses, for the label list and colours."""
        ...

    def prepare(self, job: JobContext) -> None: ...

    def observe(self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext) -> Observed[S, P]: ...

    def fit(self, summaries: Sequence[tuple[str, S]], job: JobContext) -> M | None: ...

    def consolidate(
        self, obj: DatasetObject, observed: Observed[S, P], model: M | None, job: JobContext
    ) -> ObjectResult: ...


AnyTask = Task[Any, Any, Any]
"""A task of any summary, prepared-work and model type (what the driver and the registry hold)."""


def figure(value: float | None) -> float | None:
    """A figure as a label reports it: rounded to :data:`DIGITS` decimals, a negative figure that rounds
    to zero as ``0.0`` (never ``-0.0``); ``None`` (JSON ``null``: no evidence) stays ``None``.

    >>> figure(-0.00001), figure(0.123456), figure(None)
    (0.0, 0.1235, None)
    """
    return None if value is None else round(value, DIGITS) + 0.0  # -0.0 + 0.0 is 0.0


def no_usable_answer(obj: DatasetObject, issues: Sequence[AnswerIssue]) -> ObjectError:
    """The failure of an object none of whose answers could be used."""
    return ObjectError(f"no usable answer ({len(obj.annotations)} received, all rejected)", issues)


def shown_label(name: str) -> str:
    """A label name as a reason quotes it: at most 64 characters."""
    return name if len(name) <= 64 else name[:61] + "..."


def known_labels(labels: LabelSet, names: Sequence[str], items: str) -> tuple[list[int | None], list[str]]:
    """Each item's class index in the job's labels (``None``: a label the job does not have) and a
    warning naming the labels left out. An answer whose every item is in labels the job does not have
    is refused (:class:`~tally.errors.AnswerError`), never read as an answer that drew nothing: the
    same rule as a mask painted only in unknown labels."""
    indices = [labels.index(n) for n in names]
    unknown = ", ".join(sorted({shown_label(n) for n, i in zip(names, indices, strict=True) if i is None})[:5])
    if names and all(i is None for i in indices):
        raise AnswerError(f"{items} only in labels the job does not have: {unknown}")
    warnings = [f"{items} with labels not among the job's were left out: {unknown}"] if unknown else []
    return indices, warnings


def majority_size(sizes: Sequence[tuple[str, tuple[int, int]]], noun: str) -> tuple[tuple[int, int], list[AnswerIssue]]:
    """The ``(width, height)`` most answers have (ties: the first answer's), and a rejection for each
    answer of another size: an object has one image."""
    counts = Counter(size for _, size in sizes)
    order = [size for _, size in sizes]
    best = max(counts, key=lambda s: (counts[s], -order.index(s)))
    issues = [
        AnswerIssue(worker, f"{noun} is {w}x{h}, the other answers' are {best[0]}x{best[1]}")
        for worker, (w, h) in sizes
        if (w, h) != best
    ]
    return best, issues


def gold_column(answers: Sequence[Answer], workers: Sequence[str], *, least: int = 2) -> int | None:
    """Which of an object's kept answers (``workers``, in the summary's order) is its gold answer: the
    first answer marked ``annotationData.gold`` that the task kept (a rejected one holds nothing, and
    the next marked one is looked at), with at least ``least`` answers kept (a gold answer alone teaches
    the batch model nothing); ``None``: no gold.

    Only the payload's ``annotationData`` carries the mark, and Ground Truth writes ``annotationData``
    itself: a worker's output is only inside its ``content``, so no worker can mark an answer gold; an
    importer sets it for an annotation its tool marks as ground truth (:mod:`tally.importers`).

    A worker has one answer here: the driver keeps each worker's first usable answer and refuses the
    others with a reason (:func:`tally.gt.answers.load_answers`), and a form's fields are split from
    those answers; so the first kept answer of a marked worker is the marked answer.

    Every task with a worker model holds a gold object the same way: its summary is the kind's ``Gold…``
    summary (every answer, for the fit, and ``known``, this column: ``GoldObjectItems``,
    ``GoldLineSummary``, ``GoldNumberSummary``, ``GoldTextSummary``, ``GoldSpans``, ``GoldObjectVotes``, classification's
    ``GoldVotes``), the fit takes the ``known`` list, and the object is consolidated from the gold answer
    alone, its items the known truth (the shapes and lines: :func:`tally.aggregation.base.as_truth`)."""
    return gold_index(marked_gold(answers), workers, least=least)


def marked_gold(answers: Iterable[Answer]) -> list[str]:
    """The workers whose answer an importer marked gold (``annotationData.gold`` true), in order."""
    return [a.worker_id for a in answers if a.received.get("gold") is True]


def gold_index(marked: Iterable[str], workers: Sequence[str], *, least: int = 2) -> int | None:
    """:func:`gold_column`'s rule on worker ids: the place in ``workers`` of the first of ``marked`` (the
    workers whose answers are marked gold, in the answers' order) that is kept, with at least ``least``
    kept; ``None``: no gold."""
    if len(workers) < least:
        return None
    kept = set(workers)
    return next((list(workers).index(w) for w in marked if w in kept), None)


def consolidated(
    obj: DatasetObject,
    task_type: str,
    observed: Observed[Any, Any],
    label: dict[str, Any],
    metadata: dict[str, Any],
    confidence: float,
    batch_figures: tuple[str, ...] = (),
    members: Members | None = None,
) -> ObjectResult:
    """A consolidated object's result, with the issues and answer count its observation found;
    ``batch_figures``: the keys of its ``worker-quality`` rows that are batch figures
    (:class:`~tally.gt.response.ObjectResult`)."""
    return ObjectResult(
        obj.dataset_object_id,
        task_type,
        label,
        metadata,
        confidence=confidence,
        issues=list(observed.issues),
        answers_used=observed.answers_used,
        batch_figures=batch_figures,
        members=members,
    )


@runtime_checkable
class LearnsAcrossBatches(Protocol):
    """A task whose batch model learns from the job's earlier batches (module docstring).

    ``statistics_name(job)`` names the model's statistics in the store: one name per task and vector
    layout (it includes the vector's shape, so a job whose label count changed starts afresh).
    """

    def statistics_name(self, job: JobContext) -> str: ...

    def statistics_keys(self, summaries: Sequence[tuple[str, Any]], job: JobContext) -> list[str]:
        """The keys (worker IDs) whose stored statistics the fit can use."""
        ...

    def fit_with_prior(self, summaries: Sequence[tuple[str, Any]], job: JobContext, prior: WorkerStatistics) -> Any:
        """``fit`` with the stored sums as a prior (``{}``: exactly ``fit``); keys whose vectors do not
        have the task's layout are ignored."""
        ...

    def statistics(self, model: Any, job: JobContext) -> WorkerStatistics:
        """This batch's own contribution (without the prior), per key."""
        ...
