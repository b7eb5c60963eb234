"""Numbers, free text, rankings and lines: one consolidation per answer kind, for a custom job whose
template has one such element (a task of the registry, :mod:`tally.tasks.registry`) and for a form field of that kind.

Each kind is a :class:`Kind` (in the adapters of :mod:`.number`, :mod:`.free_text`, :mod:`.ranking` and
:mod:`.lines`): how
one worker's value is read and checked, how an object's values are summarised, the batch model fitted
on the summaries, and the label it gives each object. :class:`KindTask` makes a kind a task of the batch
driver; :func:`consolidate_field` runs the same kind on a form field's values, which the forms layer
(:func:`tally.forms.split`) has already normalised (:class:`~tally.forms.FieldValue`):

================  ==========================================  ==============================================
field kind        value per worker                            bounds (:class:`FieldBounds`)
================  ==========================================  ==============================================
``number``        an ``int`` or ``float``                     ``minimum``, ``maximum``, ``step``
``text``          the string (``""`` is no evidence)          none
``ranking``       ``{dimension: (rank of each response,)}``   ``allow_ties`` per dimension
``polyline``      ``crowd-polyline``'s object                 ``labels`` (the element's ``labels``)
``line``          ``crowd-line``'s object                     ``labels``
================  ==========================================  ==============================================

So a form field of one of these kinds is one entry of :data:`FIELD_KINDS`::

    batch = consolidate_field("number", [FieldObject("7", [("w1", 4), ("w2", 5)])], FieldBounds(1, 5, 1))
    batch.results[0].label["value"], batch.statistics  # the field's entry, the workers' statistics

A value that does not fit (a number off the scale, a ranking of the wrong length) is a rejected answer
with its reason on its object; an object none of whose values fits fails with the reasons; the rest of
the field goes on. The batch's worker statistics (:attr:`FieldBatch.statistics`, additive like every
task's, :mod:`tally.worker_store`) go to the worker table under the field's own name; their sum over the
job's earlier batches is ``prior``. :meth:`PreparedField.keys` names the keys to load before the fit.

Importing this module imports no algorithm: a kind's module is imported when it is first used.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, cast, runtime_checkable

from ..errors import AnswerError, ObjectError
from ..gt.answers import Answer, AnswerIssue
from ..gt.events import DatasetObject
from ..gt.response import Members, ObjectResult
from ..worker_store import WorkerStatistics
from .base import JobContext, Observed, consolidated, marked_gold, no_usable_answer

__all__ = [
    "FIELD_KINDS",
    "FieldBatch",
    "FieldBounds",
    "FieldObject",
    "FieldResult",
    "FusingModel",
    "Kind",
    "KindModel",
    "KindTask",
    "LearnsFromGold",
    "PreparedField",
    "consolidate_field",
    "prepare_field",
    "statistics_name",
]

FIELD_KINDS: Mapping[str, tuple[str, str]] = {
    "number": ("number.adapter", "NUMBERS"),
    "text": ("free_text.adapter", "TEXTS"),
    "ranking": ("ranking.adapter", "RANKINGS"),
    "polyline": ("lines.adapter", "POLYLINES"),
    "line": ("lines.adapter", "LINES"),
}
"""Per form field kind (and annotation element: ``polyline``, ``line``), the ``tally.tasks`` module (a
task package's adapter) and the :class:`Kind` in it that consolidates it."""

S = TypeVar("S")  # what one object's values become: the kind's summary
S_in = TypeVar("S_in", contravariant=True)


@dataclass(frozen=True)
class FieldBounds:
    """What the template says about a field beyond its values (``None``: the template does not say).

    Attributes:
        minimum, maximum, step: a number's scale (``crowd-slider``'s ``min``, ``max``, ``step``; a
            1–5 rating's 1, 5, 1). A missing step is inferred from the answers (:mod:`.numbers`).
        allow_ties: a ranking's ``allowTie`` per dimension; a dimension not named allows ties when a
            worker of the batch tied two responses in it.
        labels: a line element's ``labels``; ``None``: the labels the answers use.
    """

    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    allow_ties: Mapping[str, bool] | None = None
    labels: Sequence[str] | None = None

    @classmethod
    def of(cls, field: Any) -> FieldBounds:
        """A form field's bounds (a :class:`tally.forms.Field`, read by its attributes): a number's
        ``minimum``, ``maximum``, ``step``; a line element's ``options`` (its ``labels``) unless they come
        from the task's data; a ranking's ``allowTie`` per dimension (:attr:`tally.forms.Field.ties`).

        Example:
            >>> from tally.forms import Field
            >>> FieldBounds.of(Field("q", "number", "crowd-slider", minimum=1, maximum=5, step=1))
            FieldBounds(minimum=1, maximum=5, step=1, allow_ties=None, labels=None)
            >>> FieldBounds.of(Field("l", "annotation", "crowd-line", ("lane",), task="line")).labels
            ('lane',)
        """
        labels = None
        if getattr(field, "task", None) in ("polyline", "line") and not getattr(field, "options_from_data", False):
            labels = tuple(getattr(field, "options", ())) or None
        ties = dict(getattr(field, "ties", ())) or None
        return cls(
            getattr(field, "minimum", None),
            getattr(field, "maximum", None),
            getattr(field, "step", None),
            allow_ties=ties,
            labels=labels,
        )


@dataclass(frozen=True)
class FieldObject:
    """One data object's values of the field: ``(worker ID, value)`` per worker who gave one (a field
    absent from an answer, such as an empty ``crowd-input``, is no value and is not passed)."""

    object_id: str
    values: Sequence[tuple[str, Any]]
    gold: str | None = None  # the worker whose value is marked gold (an importer's ground truth), if any


@dataclass
class FieldResult:
    """One object's consolidated field: ``label`` (the field's entry: the same keys as the task's
    label) and ``confidence``; or ``failure`` when none of its values could be used. ``issues``: the
    values rejected or warned about, with their reasons."""

    object_id: str
    label: dict[str, Any] | None
    confidence: float | None
    issues: list[AnswerIssue] = field(default_factory=list)
    failure: str | None = None


@dataclass
class FieldBatch:
    """A field consolidated over one batch: one result per object (in order), this batch's worker
    statistics under ``statistics_name``, and the keys of the ``worker-quality`` rows that are batch
    figures (what the response sink may move, :class:`~tally.gt.response.ObjectResult`)."""

    results: list[FieldResult]
    statistics_name: str
    statistics: WorkerStatistics
    batch_figures: tuple[str, ...]


class KindModel(Protocol[S_in]):
    """A kind's batch model: the label of each object it was fitted on, and the batch's statistics."""

    batch_figures: tuple[str, ...]

    def label(self, object_id: str, summary: S_in) -> tuple[dict[str, Any], dict[str, Any], float]:
        """``(label, metadata entries, confidence)`` of one object of the batch."""
        ...

    def statistics(self) -> WorkerStatistics: ...


@runtime_checkable
class FusingModel(Protocol[S_in]):
    """A kind's batch model that fuses the answers' items (lines): :meth:`KindModel.label` and which
    items were fused into each of the label's."""

    def label_members(
        self, object_id: str, summary: S_in
    ) -> tuple[dict[str, Any], dict[str, Any], float, Members | None]:
        """``(label, metadata entries, confidence, members)``: per item of the label, ``(workerId, index
        of the item in the worker's answer)`` of the items fused into it
        (:attr:`~tally.gt.response.ObjectResult.members`; ``None``: not recorded)."""
        ...


class Kind(Protocol[S]):
    """One answer kind (module docstring)."""

    statistics_name: str

    def setup(self, bounds: FieldBounds | None, values: Sequence[Any]) -> Any:
        """What reading a value needs (a number's bounds, a line's labels); ``bounds`` ``None``: a
        task's batch, whose template is not known; ``values``: every value of the batch."""
        ...

    def read(self, value: Any, setup: Any) -> Any:
        """One worker's value, checked (:class:`~tally.errors.AnswerError` with the reason)."""
        ...

    def summarise(self, parsed: Sequence[tuple[str, Any]], issues: list[AnswerIssue]) -> S:
        """An object's read values → its summary (may reject more, into ``issues``; raises
        :class:`~tally.errors.ObjectError` when nothing is left)."""
        ...

    def fit(self, summaries: Sequence[tuple[str, S]], setup: Any, prior: WorkerStatistics) -> KindModel[S]: ...

    def keys(self, summaries: Sequence[tuple[str, S]]) -> list[str]:
        """The worker-table keys whose statistics the fit can use."""
        ...


@runtime_checkable
class LearnsFromGold(Protocol[S]):
    """A kind whose batch model takes a gold answer as the known truth of its object (lines, numbers,
    free text): ``held`` is the object's summary with the first of ``gold`` (the workers whose answers
    are marked gold, in the answers' order) it kept marked as its gold answer (the summary as it is
    when it kept none of them, or kept one answer only: a gold answer alone teaches nothing; cf.
    ``base.gold_column``)."""

    def held(self, summary: S, gold: Sequence[str]) -> S: ...


def _kind(name: str) -> Kind[Any]:
    try:
        module, attribute = FIELD_KINDS[name]
    except KeyError:
        raise ValueError(f"no consolidation for fields of kind {name!r}; kinds: {', '.join(FIELD_KINDS)}") from None
    kind: Kind[Any] = getattr(importlib.import_module(f"{__package__}.{module}"), attribute)
    return kind


def _summaries(
    kind: Kind[Any], objects: Sequence[FieldObject], setup: Any
) -> tuple[list[tuple[str, Any]], dict[str, list[AnswerIssue]], dict[str, str]]:
    summaries: list[tuple[str, Any]] = []
    issues: dict[str, list[AnswerIssue]] = {}
    failures: dict[str, str] = {}
    for obj in objects:
        found = issues.setdefault(obj.object_id, [])
        parsed = []
        for worker, value in obj.values:
            try:
                parsed.append((worker, kind.read(value, setup)))
            except AnswerError as exc:
                found.append(AnswerIssue(worker, str(exc)))
        try:
            if not parsed:
                raise ObjectError(f"no usable value ({len(obj.values)} received, all rejected)", found)
            summary = kind.summarise(parsed, found)
            if obj.gold is not None and isinstance(kind, LearnsFromGold):
                summary = kind.held(summary, [obj.gold])
            summaries.append((obj.object_id, summary))
        except ObjectError as exc:
            failures[obj.object_id] = str(exc) if obj.values else "no worker gave a value"
    return summaries, issues, failures


@dataclass
class PreparedField:
    """A field's values over a batch, read and summarised once (:func:`prepare_field`): what the worker
    table's keys, the fit and each object's label all start from.

    Attributes:
        kind: the field's kind (:data:`FIELD_KINDS`).
        objects: the batch's objects with their values, in order.
        setup: what reading a value needed (:meth:`Kind.setup`).
        summaries: ``(object ID, summary)`` per object with a usable value, in order: what a batch model
            (or a whole job's, ``tally reconsolidate``) is fitted on.
        issues: per object, the values rejected with their reasons.
        failures: per object none of whose values could be used, why.
    """

    kind: str
    objects: Sequence[FieldObject]
    setup: Any
    summaries: list[tuple[str, Any]]
    issues: dict[str, list[AnswerIssue]]
    failures: dict[str, str]

    @property
    def statistics_name(self) -> str:
        return _kind(self.kind).statistics_name

    def keys(self) -> list[str]:
        """The worker-table keys whose stored statistics the fit can use as its prior."""
        return self.keys_of(self.summaries)

    def keys_of(self, summaries: Sequence[tuple[str, Any]]) -> list[str]:
        return _kind(self.kind).keys(summaries)

    def fit(self, prior: WorkerStatistics | None = None) -> KindModel[Any] | None:
        """The batch model on the summaries (``None``: no object has a usable value)."""
        return self.fit_on(self.summaries, prior) if self.summaries else None

    def fit_on(self, summaries: Sequence[tuple[str, Any]], prior: WorkerStatistics | None = None) -> KindModel[Any]:
        """The model on ``summaries`` read with this setup: the batch's, or a whole job's (every chunk's
        summaries, in the job's order)."""
        return _kind(self.kind).fit(summaries, self.setup, prior or {})

    def results(self, model: KindModel[Any] | None) -> FieldBatch:
        """Each object's result under ``model`` (this batch's, or one fitted on a whole job whose
        summaries include these)."""
        by_id = dict(self.summaries)
        results = []
        for obj in self.objects:
            found = self.issues[obj.object_id]
            if obj.object_id in self.failures or model is None or obj.object_id not in by_id:
                unmodelled = obj.object_id in by_id and obj.object_id not in self.failures
                reason = "no model of this field was fitted" if unmodelled else "no worker gave a value"
                reason = self.failures.get(obj.object_id, reason)
                results.append(FieldResult(obj.object_id, None, None, found, reason))
                continue
            label, _, confidence = model.label(obj.object_id, by_id[obj.object_id])
            results.append(FieldResult(obj.object_id, label, confidence, found))
        statistics = model.statistics() if model is not None else {}
        return FieldBatch(results, self.statistics_name, statistics, model.batch_figures if model is not None else ())


def prepare_field(kind: str, objects: Sequence[FieldObject], bounds: FieldBounds | None = None) -> PreparedField:
    """Read and summarise one form field's values over a batch, once (:class:`PreparedField`)."""
    how = _kind(kind)
    setup = how.setup(bounds or FieldBounds(), [v for obj in objects for _, v in obj.values])
    summaries, issues, failures = _summaries(how, objects, setup)
    return PreparedField(kind, objects, setup, summaries, issues, failures)


def consolidate_field(
    kind: str,
    objects: Sequence[FieldObject],
    bounds: FieldBounds | None = None,
    prior: WorkerStatistics | None = None,
) -> FieldBatch:
    """Consolidate one form field of ``kind`` (:data:`FIELD_KINDS`) over a batch (module docstring).

    Args:
        kind: ``number``, ``text``, ``ranking``, ``polyline`` or ``line``.
        objects: the batch's objects with their values of the field (object IDs unique).
        bounds: what the template says about the field (``None``: nothing; inferred from the answers).
        prior: the sum of the job's earlier batches' statistics for :meth:`PreparedField.keys`
            (``None`` or ``{}``: this batch alone).
    """
    prepared = prepare_field(kind, objects, bounds)
    return prepared.results(prepared.fit(prior))


def statistics_name(kind: str) -> str:
    """The name a field of ``kind`` keeps its worker statistics under (the store's name, which a form
    prefixes with the field's own scope).

    Example:
        >>> statistics_name("number"), statistics_name("polyline")
        ('number/5', 'polyline/8')
    """
    return _kind(kind).statistics_name


class KindTask(Generic[S]):
    """A kind as a task of the batch driver (:class:`tally.tasks.base.Task`, learning across batches):
    the element's value is read as the kind reads a field's (``value_of``), with no template bounds."""

    kind: Kind[S]
    type: str
    uses_batch_model = True
    needs_labels = False

    def __init__(self) -> None:
        self._setup: Any = None
        self._ready = False
        self._bounds: FieldBounds | None = None
        self._learns = isinstance(self.kind, LearnsFromGold)

    def use_template(self, bounds: FieldBounds) -> None:
        """What the job's template says of its only field (a slider's ``min``, ``max``, ``step``; a
        ranking's ``allowTie``), used as a form field of the kind uses it."""
        self._bounds, self._ready = bounds, False

    def value_of(self, element: Mapping[str, Any]) -> Any:
        """The element's value as a form field of the kind holds it."""
        return element

    def prepare(self, job: JobContext) -> None:
        return None

    def _setting(self, job: JobContext) -> Any:
        if not self._ready:
            self._setup, self._ready = self.setup_for(job), True
        return self._setup

    def setup_for(self, job: JobContext) -> Any:
        """The kind's setup for a batch: the template's bounds when it was read (:meth:`use_template`)."""
        return self.kind.setup(self._bounds, ())

    def observe(self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext) -> Observed[S, None]:
        setup = self._setting(job)
        issues: list[AnswerIssue] = []
        parsed = []
        for answer in answers:
            try:
                parsed.append((answer.worker_id, self.kind.read(self.value_of(answer.element), setup)))
            except AnswerError as exc:
                issues.append(AnswerIssue(answer.worker_id, str(exc)))
        if not parsed:
            raise no_usable_answer(obj, issues)
        summary = self.kind.summarise(parsed, issues)
        if self._learns:  # an answer marked gold (an importer's) holds the object
            marked = marked_gold(answers)
            if marked:
                summary = cast(LearnsFromGold[S], self.kind).held(summary, marked)
        return Observed(summary, None, issues, answers_used=_used(summary))

    def fit(self, summaries: Sequence[tuple[str, S]], job: JobContext) -> KindModel[S]:
        return self.fit_with_prior(summaries, job, {})

    def statistics_name(self, job: JobContext) -> str:
        return self.kind.statistics_name

    def statistics_keys(self, summaries: Sequence[tuple[str, S]], job: JobContext) -> list[str]:
        return self.kind.keys(summaries)

    def fit_with_prior(
        self, summaries: Sequence[tuple[str, S]], job: JobContext, prior: WorkerStatistics
    ) -> KindModel[S]:
        return self.kind.fit(summaries, self._setting(job), prior)

    def statistics(self, model: KindModel[S], job: JobContext) -> WorkerStatistics:
        return model.statistics()

    def consolidate(
        self, obj: DatasetObject, observed: Observed[S, None], model: KindModel[S] | None, job: JobContext
    ) -> ObjectResult:
        if model is None or observed.summary is None:
            raise RuntimeError(f"{self.type} needs its batch model")
        members: Members | None = None
        # only an importer asks (the Lambdas never compute them); a kind that fuses items says which (lines)
        if job.members and isinstance(model, FusingModel):
            label, metadata, confidence, members = model.label_members(obj.dataset_object_id, observed.summary)
        else:
            label, metadata, confidence = model.label(obj.dataset_object_id, observed.summary)
        return consolidated(obj, self.type, observed, label, metadata, confidence, model.batch_figures, members)


def _used(summary: Any) -> int:
    """The answers an object's summary holds (every kind's summary has ``answers``)."""
    return len(summary.answers)
