"""A batch of forms consolidated field by field: the field is the unit of consolidation.

:func:`tally.consolidate.run_batch` hands a batch here when its answers are a form (:func:`read_batch_form`,
:func:`is_form`):
more than one field, or one field that only the form driver can consolidate (a ``<select>``, a radio
group, checkboxes). A batch whose answers hold exactly one annotation element keeps the task path
and today's output.

Per batch:

1. the form is read (:func:`tally.forms.read_form`: the job's worker template first, the answers
   second) and every worker's answer is split into its fields (:func:`tally.forms.split`);
2. each field is consolidated by the handler its kind maps to (:data:`FIELD_HANDLERS`; one entry
   plugs a new kind in), **with its own model and its own worker statistics** (the worker store's key
   includes the field's name): the batch's, or with a job plan (``tally reconsolidate``,
   :class:`FormPlan`) the model :func:`fit_form` fitted on the whole job:

   - ``single-choice``: the single-label Dawid–Skene of classification, over the field's options;
   - ``multi-choice``: the multi-label Dawid–Skene;
   - ``boolean``: a two-class question (``false``, ``true``) on the single-label model;
   - ``annotation``: its element's task (boxes, polygons, entities, ...), as a lone element would be;
   - ``json`` whose items have a known shape: that shape's task;
   - ``number``, ``text``, ``ranking``, and ``crowd-polyline`` / ``crowd-line`` annotations: their kind
     (:func:`tally.tasks.fields.consolidate_field`), with the template's bounds (a slider's ``min``,
     ``max``, ``step``; a line element's ``labels``);
   - ``unknown``: **kept as given**, each worker's value in the field's entry with
     ``"consolidated": false`` and the reason;

3. each object gets one label: every field in ``fields`` (its consolidated value, confidence and
   worker quality, or the values as given), the form's ``confidence`` (the lowest of its consolidated
   fields': a form is as sure as its least sure answer), and ``schema-source`` (``template``,
   ``inferred``, ``template+inferred``), as ``label-source`` says where class keys came from.

Nothing is dropped: every top-level key of every answer is in a field's entry (consolidated, or kept
as given), and a key no field claims is kept under ``leftovers``. A value that does not fit its field
(two radio buttons on, a slider off its scale) is left out of that field's vote with its reason in
the field's ``rejected-answers`` (and in the object's ``answer-warnings``); the worker's other fields
count. A field that fails for one object is kept as given for that object, with the reason; the other
fields and objects go on.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol
from urllib.parse import quote

from ..aggregation.pairing import greedy_pairs
from ..errors import ConfigError, ObjectError
from ..gt.answers import Answer, AnswerIssue
from ..gt.events import DatasetObject
from ..gt.response import ObjectResult, TaskType
from ..labels import LabelSet, batch_labels
from ..settings import Settings
from ..storage import Storage
from ..tasks.base import DIGITS, AnyTask, JobContext, Observed
from ..tasks.review import iou
from ._infer import complete_schema, read_form
from ._schema import Field, FieldKind, FormSchema
from ._split import FieldValue, FormSplit, split

__all__ = [
    "FIELD_HANDLERS",
    "FieldHandler",
    "FieldRun",
    "FieldTally",
    "FormAnswer",
    "FormContext",
    "FormObject",
    "FormPlan",
    "FormSurvey",
    "JobTemplate",
    "consolidable",
    "consolidate_form",
    "fit_form",
    "form_choice",
    "form_digest",
    "gather_form",
    "is_form",
    "match_boxes",
    "read_batch_form",
    "read_template",
]

logger = logging.getLogger(__name__)

FORM_TYPE = TaskType.CUSTOM.value
"""A form's ``type``: the job is a custom one; its fields say what each was consolidated as."""


@dataclass(frozen=True)
class JobTemplate:
    """The job's worker template as the caller could read it.

    Attributes:
        html: the template's text (``None``: no template was read).
        note: why there is none, when one was looked for (said in every label's ``schema-note``).
        schema: the form itself, when the caller knows it without a template (an importer reading
            another tool's labeling config and export): used instead of ``html``, completed from the
            answers. A lone number's bounds reach its task as a template slider's do.
    """

    html: str | None = None
    note: str | None = None
    schema: FormSchema | None = None  # the form as another tool's export says it (an importer), not HTML


@dataclass(frozen=True)
class FormAnswer:
    """One worker's decoded answer to the form."""

    worker_id: str
    content: Mapping[str, Any]
    gold: bool = False  # annotationData.gold (an importer's ground truth): a choice field is held at it


@dataclass
class FormObject:
    """One object of the batch: its usable answers, and what was wrong with the others."""

    obj: DatasetObject
    answers: list[FormAnswer]
    issues: list[AnswerIssue] = field(default_factory=list)
    splits: list[FormSplit] = field(default_factory=list)

    @property
    def object_id(self) -> str:
        return self.obj.dataset_object_id


class CycleLike(Protocol):
    """What the form driver needs of :class:`tally.consolidate.WorkerModelCycle`."""

    status: Any

    def fit(self, task: Any, summaries: Sequence[Any], context: JobContext) -> Any: ...


@dataclass(frozen=True)
class FormContext:
    """What every field of the batch shares.

    Attributes:
        settings, storage, artefact_prefix: as :class:`tally.tasks.base.JobContext`.
        job_labels: the job's label list (event, settings or label category file) for an annotation
            field whose template does not list its labels; ``None``: none.
        new_cycle: a worker model cycle for one field (its argument: the worker store's scope, which
            names the field).
        plan: the form decided for a whole job (``tally reconsolidate``): each field's labels and the
            model fitted on the whole job (:func:`fit_form`); ``None``: the batch decides and fits.
    """

    settings: Settings
    storage: Storage
    artefact_prefix: str
    job_labels: Callable[[], LabelSet | None]
    new_cycle: Callable[[str], CycleLike]
    plan: FormPlan | None = None


@dataclass(frozen=True)
class FormPlan:
    """A form decided once for a whole job (``tally reconsolidate``, :class:`tally.consolidate.JobPlan`),
    as one batch of every object would decide it: the job's schema, each field's labels (a choice's
    options, an annotation's or a line's labels: the labels of every chunk) and, once fitted
    (:func:`fit_form`), each field's model fitted on every object's summary of the job."""

    schema: FormSchema
    template: JobTemplate
    labels: Mapping[str, LabelSet] = field(default_factory=dict)
    models: Mapping[str, Any] = field(default_factory=dict)

    def choice(self) -> str:
        """What the summaries depend on (:func:`form_digest`)."""
        return form_digest(self.schema, self.labels)


def form_choice(schema: FormSchema, labels: Mapping[str, LabelSet]) -> str:
    """A short digest of a form's fields (what each field's values are read as; reasons left out) and
    their labels: a chunk's summaries are a job's plan's when the two agree."""
    import hashlib
    import json

    fields = [
        [f.name, f.kind, f.element, list(f.keys), list(f.options), f.options_from_data, [list(b) for b in f.buttons],
         f.minimum, f.maximum, f.step, f.task, f.shape, f.pattern, [list(t) for t in f.ties]]
        for f in schema.fields
    ]  # fmt: skip
    named = {name: [list(found.names), found.source] for name, found in sorted(labels.items())}
    return hashlib.sha256(json.dumps([fields, named], default=str).encode()).hexdigest()[:16]


def form_digest(schema: FormSchema, labels: Mapping[str, LabelSet]) -> str:
    """A form's choice as a job's plan and a chunk's summaries name it: :func:`form_choice` marked
    ``form:``, never a task's choice."""
    return f"form:{form_choice(schema, labels)}"


@dataclass
class FormSurvey:
    """What a job's chunks say of its form, added up in the job's order (:class:`tally.consolidate.Survey`):
    the fields (a field read as another kind by another chunk takes the kind of the chunk where most
    answers hold it), each field's labels (labels taken from the answers: every chunk's, sorted) and
    per field the answers that hold it."""

    schema: FormSchema
    labels: dict[str, LabelSet] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=dict)

    def add(self, other: FormSurvey) -> None:
        mine = {f.name: f for f in self.schema.fields}
        fields = list(self.schema.fields)
        for theirs in other.schema.fields:
            ours = mine.get(theirs.name)
            if ours is None:
                fields.append(theirs)
                continue
            fields[fields.index(ours)] = _merged(ours, theirs, self.answers.get(ours.name, 0),
                                                 other.answers.get(theirs.name, 0))  # fmt: skip
        for name, found in other.labels.items():
            known = self.labels.get(name)
            if known is None:
                self.labels[name] = found
            elif known.source == "batch" and found.source == "batch" and known.names != found.names:
                self.labels[name] = batch_labels([*known.names, *found.names])
        for name, n in other.answers.items():
            self.answers[name] = self.answers.get(name, 0) + n
        self.schema = FormSchema(tuple(fields), tuple(dict.fromkeys([*self.schema.notes, *other.schema.notes])))

    def as_json(self) -> dict[str, Any]:
        return {
            "schema": self.schema.as_json(),
            "labels": {name: [list(found.names), found.source] for name, found in self.labels.items()},
            "answers": dict(self.answers),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FormSurvey:
        return cls(
            FormSchema.from_json(data["schema"]),
            {name: LabelSet(tuple(names), source) for name, (names, source) in data["labels"].items()},
            {name: int(n) for name, n in data["answers"].items()},
        )

    def plan(self, template: JobTemplate) -> FormPlan | None:
        """The job's form, when its fields make one (:func:`is_form`); ``None``: the task path."""
        if not is_form(self.schema):
            return None
        return FormPlan(self.schema, template, dict(self.labels))


def _merged(ours: Field, theirs: Field, our_answers: int, their_answers: int) -> Field:
    """One field as two chunks read it: the same kind with the options of both (sorted, when they
    come from the answers), else the kind of the chunk where more answers hold it."""
    if ours.kind != theirs.kind:
        kept, other = (theirs, ours) if their_answers > our_answers else (ours, theirs)
        note = f"read as {other.kind} in some chunks of the job"
        return replace(kept, reason=note if kept.reason is None else f"{kept.reason}; {note}")
    changes: dict[str, Any] = {}
    if ours.options != theirs.options:
        changes["options"] = tuple(sorted({*ours.options, *theirs.options}))
    if ours.step != theirs.step:
        changes["step"] = None  # whole numbers in one chunk, fractions in another
    if ours.shape != theirs.shape:
        changes["shape"] = ours.shape or theirs.shape if None in (ours.shape, theirs.shape) else None
    return replace(ours, **changes) if changes else ours


# -- the outcome of one field on one object -------------------------------------------------------------


@dataclass
class FieldEntry:
    """One field of one object: ``entry`` is its JSON in the label's ``fields``; ``quality`` the task's
    ``worker-quality`` rows for it (gathered into the form's rows, per worker); ``batch_figures`` whether
    the task said its figures are the batch's (:attr:`ObjectResult.batch_figures`)."""

    entry: dict[str, Any]
    consolidated: bool
    confidence: float | None = None
    issues: list[AnswerIssue] = field(default_factory=list)
    quality: list[dict[str, Any]] = field(default_factory=list)
    batch_figures: bool = False


@dataclass
class FieldTally:
    """Per field, over the batch: objects where it was consolidated, kept as given, and why kept."""

    kind: str
    consolidated: int = 0
    kept: int = 0
    reasons: Counter[str] = field(default_factory=Counter)


Values = list[tuple[str, FieldValue]]
"""One field of one object: each worker's value (workers whose answer has none of its keys left out)."""


@dataclass
class FieldRun:
    """One field over a batch, read and observed once: ``summaries`` (per object with a usable value)
    are what ``learner`` fits its model on in ``context`` (``learner`` ``None``: the field has no model);
    ``labels`` its classes; ``finish`` makes one entry per object (``None`` where the field is absent
    from every answer of the object) from the model: the batch's, or the whole job's (:class:`FormPlan`);
    ``issues``, per object (in order), the answers reading found fault with and why: what the field's
    values keep when they are kept as given for want of a model (empty: none, or not gathered)."""

    finish: Callable[[Any], list[FieldEntry | None]]
    summaries: list[tuple[str, Any]] = field(default_factory=list)
    learner: Any = None
    context: JobContext | None = None
    labels: LabelSet | None = None
    issues: list[list[AnswerIssue]] = field(default_factory=list)


class FieldHandler(Protocol):
    """How one kind of field is read and observed over a batch (:class:`FieldRun`)."""

    def __call__(self, f: Field, per_object: Sequence[tuple[FormObject, Values]], ctx: FormContext) -> FieldRun: ...


def _given(fv: FieldValue) -> Any:
    """A worker's value for a field exactly as submitted: the value under its one key, else the keys."""
    if len(fv.raw) == 1 and fv.field.name in fv.raw:
        return fv.raw[fv.field.name]
    return dict(fv.raw)


def _keys(f: Field) -> dict[str, Any]:
    """The answer's keys a field took, when they are not just its name (a radio question's buttons)."""
    return {"keys": list(f.keys)} if f.keys != (f.name,) else {}


def _kept_entry(f: Field, values: Values, reason: str, issues: Sequence[AnswerIssue] = ()) -> FieldEntry:
    entry: dict[str, Any] = {
        "kind": f.kind,
        **_keys(f),
        "consolidated": False,
        "reason": reason,
        "answers": [{"workerId": w, "value": _given(fv)} for w, fv in values],
    }
    rejected = [i.as_json() for i in issues if i.rejected]
    warned = [i.as_json() for i in issues if not i.rejected]  # what reading an answer left out of it
    if rejected:
        entry["rejected-answers"] = rejected
    if warned:
        entry["answer-warnings"] = warned
    return FieldEntry(entry, False, issues=list(issues))


def _all_kept(
    f: Field,
    per_object: Sequence[tuple[FormObject, Values]],
    reason: str,
    issues: Sequence[Sequence[AnswerIssue]] = (),
) -> list[FieldEntry | None]:
    """Every object's values of the field kept as given, with ``reason`` (and each object's ``issues``,
    in order, when given: the answers found at fault and why)."""
    found = list(issues) or [()] * len(per_object)
    return [
        _kept_entry(f, values, reason, object_issues) if values else None
        for (_, values), object_issues in zip(per_object, found, strict=True)
    ]


def _kept_run(
    f: Field, per_object: Sequence[tuple[FormObject, Values]], reason: str, issues: Sequence[Sequence[AnswerIssue]] = ()
) -> FieldRun:
    return FieldRun(lambda _: _all_kept(f, per_object, reason, issues))


def keep_as_given(reason: str) -> FieldHandler:
    """A handler that consolidates nothing and keeps every worker's value, with ``reason``."""

    def handler(f: Field, per_object: Sequence[tuple[FormObject, Values]], ctx: FormContext) -> FieldRun:
        return _kept_run(f, per_object, reason)

    return handler


# -- fields consolidated by a task ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Adapter:
    """How a field's values become answers a task reads, and its result becomes the field's entry."""

    task: Callable[[Settings], AnyTask]  # the job's settings (a segmentation field's algorithm, say)
    element: Callable[[Field, FieldValue], Mapping[str, Any] | None]
    labels: Callable[[Field, Sequence[tuple[FormObject, Values]], FormContext, AnyTask], LabelSet]
    entry: Callable[[ObjectResult, LabelSet], dict[str, Any]]
    check: bool = False  # whether the task must recognise each element (not those built from a choice)


def _made(name: str) -> Callable[[Settings], AnyTask]:
    """The task whose shape is ``name``, made for the job's settings."""

    def make(settings: Settings) -> AnyTask:
        from ..tasks import make_tasks

        return next(t for t in make_tasks(settings) if t.name == name)

    return make


def _classification(multi: bool) -> Callable[[Settings], AnyTask]:
    return _made("multi-label classification" if multi else "classification")


def _choice_labels(
    f: Field, per_object: Sequence[tuple[FormObject, Values]], ctx: FormContext, task: AnyTask
) -> LabelSet:
    """A choice's classes: the template's options (stable across batches); where the template does not
    list them all (Liquid, a script) or the form was inferred, the options with every value seen."""
    if f.kind == "boolean":
        return LabelSet(("false", "true"), "template" if f.found == "template" else "batch")
    if f.options and not f.options_from_data and f.found == "template":
        return LabelSet(tuple(dict.fromkeys(f.options)), "template")
    seen: set[str] = set(f.options)
    for _, values in per_object:
        for _, fv in values:
            if fv.reason is None and fv.value is not None:
                seen.update([fv.value] if isinstance(fv.value, str) else fv.value)
    return LabelSet(tuple(sorted(seen)), "batch")


def _task_labels(
    f: Field, per_object: Sequence[tuple[FormObject, Values]], ctx: FormContext, task: AnyTask
) -> LabelSet:
    """An annotation's labels: its template's (``labels`` attribute), else the job's list, else the
    labels its answers use."""
    if f.options and not f.options_from_data and f.found == "template":
        return LabelSet(tuple(dict.fromkeys(f.options)), "template")
    job = ctx.job_labels()
    if job is not None:
        return job
    used = (
        name
        for _, values in per_object
        for _, fv in values
        if (element := _annotation_element(f, fv)) is not None and task.recognises(element)
        for name, _ in task.labels_used(element)
    )
    return batch_labels(used)


def _single_element(f: Field, fv: FieldValue) -> Mapping[str, Any] | None:
    if fv.value is None:
        return None
    if f.kind == "boolean":
        return {"label": "true" if fv.value else "false"}
    return {"label": fv.value}


def _multi_element(f: Field, fv: FieldValue) -> Mapping[str, Any] | None:
    return None if fv.value is None else {"labels": list(fv.value)}


_SHAPE_KEYS = {
    "bounding-box": "boundingBoxes",
    "polygon": "polygons",
    "keypoint": "keypoints",
    "named-entity": "entities",
}


def _annotation_element(f: Field, fv: FieldValue) -> Mapping[str, Any] | None:
    value = fv.value
    if value is None:
        return None
    if f.kind == "json":
        key = _SHAPE_KEYS.get(f.shape or "")
        if key is None or not isinstance(value, list):
            return None
        element: dict[str, Any] = {key: value}
        extent = _extent(value) if key in ("boundingBoxes", "keypoints", "polygons") else None
        if extent is not None:
            element["inputImageProperties"] = {"width": extent[0], "height": extent[1]}
        return element
    return value if isinstance(value, Mapping) else None


def _extent(items: Sequence[Any]) -> tuple[int, int] | None:
    """A serialised list of items carries no image size: the smallest frame holding every item."""
    right = bottom = 0.0
    for item in items:
        if not isinstance(item, dict):
            return None
        points = item.get("vertices") if "vertices" in item else [item]
        if not isinstance(points, list):
            return None
        for point in points:
            x, y = (
                (point.get("left", point.get("x")), point.get("top", point.get("y")))
                if isinstance(point, dict)
                else (None, None)
            )
            w, h = (item.get("width") or 0, item.get("height") or 0) if point is item else (0, 0)
            numbers = [v for v in (x, y, w, h) if isinstance(v, int | float) and not isinstance(v, bool)]
            if len(numbers) < 4:
                return None
            right, bottom = max(right, numbers[0] + numbers[2]), max(bottom, numbers[1] + numbers[3])
    return (int(right) + 1, int(bottom) + 1) if items else None


def _one_frame(answers: list[Answer]) -> list[Answer]:
    """Serialised items of one object placed in one frame (the largest extent any worker's reach):
    answers of one image must have one size."""
    sizes = [a.element.get("inputImageProperties") for a in answers]
    if not all(isinstance(s, dict) for s in sizes):
        return answers
    frame = {"width": max(s["width"] for s in sizes), "height": max(s["height"] for s in sizes)}  # type: ignore[index]
    return [Answer(a.worker_id, {**a.element, "inputImageProperties": frame}, a.content, a.received) for a in answers]


def _task_of(name: str | None) -> Callable[[Settings], AnyTask] | None:
    if name is None:
        return None
    from ..tasks import ENTRIES

    return _made(name) if any(entry.kind.shape.name == name for entry in ENTRIES) else None


def _choice_entry(result: ObjectResult, labels: LabelSet) -> dict[str, Any]:
    label = result.label or {}
    return {"value": label["class-name"]}


def _boolean_entry(result: ObjectResult, labels: LabelSet) -> dict[str, Any]:
    label = result.label or {}
    return {"value": label["class-name"] == "true"}


def _multi_entry(result: ObjectResult, labels: LabelSet) -> dict[str, Any]:
    label = result.label or {}
    names = labels.names
    return {
        "value": list(label["class-names"]),
        "confidence-map": {names[int(k)]: v for k, v in label["confidence-map"].items()},
    }


_FIGURES = ("confidence", "worker-quality")

_TASK_ONLY = (*_FIGURES, "no-instances")
"""What a field's value leaves out of its task's label: the figures the entry holds, and an instance
result's ``no-instances`` (the entry's ``unkept-items`` and ``answers`` say it per worker)."""


def _task_entry(result: ObjectResult, labels: LabelSet) -> dict[str, Any]:
    label = {k: v for k, v in (result.label or {}).items() if k not in _TASK_ONLY}
    return {"type": result.task_type, "value": label}


def _adapted(adapter: _Adapter) -> FieldHandler:
    def handler(f: Field, per_object: Sequence[tuple[FormObject, Values]], ctx: FormContext) -> FieldRun:
        return _consolidate_by_task(f, per_object, ctx, adapter)

    return handler


def _consolidate_by_task(
    f: Field, per_object: Sequence[tuple[FormObject, Values]], ctx: FormContext, adapter: _Adapter
) -> FieldRun:
    """The field consolidated by a task: its own labels (a job plan's, else the batch's), observation,
    model and results."""
    task = adapter.task(ctx.settings)
    try:
        planned = ctx.plan.labels.get(f.name) if ctx.plan is not None else None
        labels = planned or adapter.labels(f, per_object, ctx, task)
        context = JobContext(labels, {}, ctx.storage, ctx.artefact_prefix, ctx.settings)
        task.prepare(context)
    except ConfigError as exc:
        return _kept_run(f, per_object, f"not consolidated: {exc}")
    observed: list[tuple[Observed[Any, Any] | None, list[AnswerIssue], str | None]] = []
    no_answer: list[list[str]] = []
    for form_object, values in per_object:
        gold = {a.worker_id for a in form_object.answers if a.gold}
        answers: list[Answer] = []
        issues: list[AnswerIssue] = []
        silent: list[str] = []
        no_answer.append(silent)
        for worker, fv in values:
            if fv.reason is not None:
                issues.append(AnswerIssue(worker, fv.reason))
                continue
            element = adapter.element(f, fv)
            if element is None:
                silent.append(worker)  # nothing chosen: no answer to this question, not a misfit
                continue
            if adapter.check and not task.recognises(element):
                issues.append(AnswerIssue(worker, f"not what a {task.name} answer looks like"))
                continue
            answers.append(Answer(worker, element, {f.name: element}, {"gold": True} if worker in gold else {}))
        if not answers:
            observed.append((None, issues, "no worker gave a usable answer" if values else None))
            continue
        if f.kind == "json":
            answers = _one_frame(answers)
        try:
            looked = task.observe(form_object.obj, answers, context)
        except ObjectError as exc:
            observed.append((None, issues + [i for i in exc.issues if isinstance(i, AnswerIssue)], str(exc)))
            continue
        except Exception as exc:  # one object's field must never take the batch down
            _log_unexpected(exc, form_object.object_id, f.name)
            observed.append((None, issues, f"internal error ({type(exc).__name__})"))
            continue
        looked.issues[:0] = issues
        observed.append((looked, [], None))
    summaries = [
        (form_object.object_id, seen.summary)
        for (form_object, _), (seen, _, _) in zip(per_object, observed, strict=True)
        if seen is not None and seen.summary is not None
    ]

    def finish(model: Any) -> list[FieldEntry | None]:
        entries: list[FieldEntry | None] = []
        for (form_object, values), (seen, issues, failure), silent in zip(per_object, observed, no_answer, strict=True):
            if seen is None:
                entries.append(_kept_entry(f, values, f"not consolidated: {failure}", issues) if failure else None)
                continue
            try:
                result = task.consolidate(form_object.obj, seen, model, context)
            except ObjectError as exc:
                entries.append(_kept_entry(f, values, f"not consolidated: {exc}", seen.issues))
                continue
            except Exception as exc:
                _log_unexpected(exc, form_object.object_id, f.name)
                reason = f"not consolidated: internal error ({type(exc).__name__})"
                entries.append(_kept_entry(f, values, reason, seen.issues))
                continue
            label = result.label or {}
            head = {**_keys(f), **adapter.entry(result, labels)}
            entry = _consolidated(f, head, label, result.confidence, result.answers_used, list(result.issues),
                                  silent, values, bool(result.batch_figures))  # fmt: skip
            if labels.source == "batch" and f.kind != "annotation":
                entry.entry["options-from"] = "answers"
            if f.kind == "json" and f.shape == "bounding-box":
                _link_parents(entry.entry, [fv.value for _, fv in values if fv.reason is None])
            _unkept_items(entry.entry, values)
            entries.append(entry)
        return entries

    found = [issues if seen is None else list(seen.issues) for seen, issues, _ in observed]
    return FieldRun(finish, summaries if task.uses_batch_model else [], task if task.uses_batch_model else None,
                    context, labels, found)  # fmt: skip


def form_confidence(fields: Mapping[str, Mapping[str, Any]]) -> float | None:
    """A form's confidence: the lowest of its consolidated fields' (``None`` when none has one)."""
    found = [e["confidence"] for e in fields.values() if e.get("consolidated") and e.get("confidence") is not None]
    return round(min(found), DIGITS) if found else None


def _consolidated(
    f: Field,
    head: Mapping[str, Any],
    label: Mapping[str, Any],
    confidence: float | None,
    used: int,
    issues: list[AnswerIssue],
    silent: Sequence[str],
    values: Values,
    batch_figures: bool,
) -> FieldEntry:
    """A consolidated field's entry: ``head`` (its value and what its kind adds), then what every
    consolidated field says: confidence, answers used, who chose nothing, rejected and warned answers,
    what an element sent beside its value; its ``worker-quality`` rows taken from ``label``."""
    entry: dict[str, Any] = {"kind": f.kind, "consolidated": True, **head}
    entry["confidence"] = confidence
    entry["answers-used"] = used
    if silent:
        entry["no-answer"] = list(silent)  # workers who submitted the field with nothing chosen
    rejected = [i for i in issues if i.rejected]
    warned = [i for i in issues if not i.rejected]
    if rejected:
        entry["rejected-answers"] = [i.as_json() for i in rejected]
    if warned:
        entry["answer-warnings"] = [i.as_json() for i in warned]
    extras = [{"workerId": w, **fv.extra} for w, fv in values if fv.extra]
    if extras:
        entry["given-with-it"] = extras  # what the element sent beside its value (a workerComment)
    quality = [row for row in label.get("worker-quality", []) if isinstance(row, dict)]
    return FieldEntry(entry, True, confidence, issues, quality, batch_figures)


_ITEM_KEYS = ("polygons", "instances")


def _unkept_items(entry: dict[str, Any], values: Values) -> None:
    """Instances name the workers who drew each (``instances[].workers``); a worker whose items are in
    no kept instance would otherwise vanish from them. ``unkept-items`` says, per such worker, how many
    of their items no kept instance holds and why (an OCR job's misspelt transcriptions are labels of
    their own, which no other worker drew)."""
    from ..tasks.instances import UNKEPT_ITEMS  # the light package, only for a field that may hold instances

    value = entry.get("value")
    instances = value.get("instances") if isinstance(value, dict) else None
    if not isinstance(instances, list) or not all(isinstance(i, dict) and "workers" in i for i in instances):
        return
    kept = Counter(w for i in instances for w in i["workers"] if isinstance(w, str))
    unkept = []
    for worker, fv in values:
        element = fv.value if isinstance(fv.value, dict) else {}
        items = next((element[k] for k in _ITEM_KEYS if isinstance(element.get(k), list)), None)
        if items is None or fv.reason is not None:
            continue
        missing = len(items) - kept[worker]
        if missing > 0:
            unkept.append(
                {
                    "workerId": worker,
                    "items": missing,
                    "reason": UNKEPT_ITEMS,
                }
            )
    if unkept:
        entry["unkept-items"] = unkept


MIN_LINK_IOU = 0.5
"""Least overlap of a worker's box with a consolidated box (same label) for the one to stand for the other."""


def _iou(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    try:
        boxes = [tuple(float(box[k]) for k in ("left", "top", "width", "height")) for box in (a, b)]
    except (KeyError, TypeError, ValueError):
        return 0.0
    return iou(*boxes)


def match_boxes(boxes: Sequence[Mapping[str, Any]], names: Mapping[str, str], items: Sequence[Any]) -> dict[int, int]:
    """Which of one worker's boxes (``items``: ``label``, ``left``, ``top``, ``width``, ``height``)
    each consolidated box (``class_id``, named by ``names``) stands for: ``{consolidated index: item
    index}``. A worker's box stands for the consolidated box of its label it overlaps most (IoU at
    least :data:`MIN_LINK_IOU`), each box for one consolidated box, best overlaps first."""
    pairs = sorted(
        (-overlap, k, j)
        for k, box in enumerate(boxes)
        for j, item in enumerate(items)
        if isinstance(item, dict) and str(item.get("label")) == names.get(str(box.get("class_id")))
        for overlap in (_iou(box, item),)
        if overlap >= MIN_LINK_IOU
    )
    return greedy_pairs(pairs)


def _link_parents(entry: dict[str, Any], given: Sequence[Any]) -> None:
    """Boxes a script serialised with ``id`` and ``parent`` (the hierarchical-boxes template): each
    consolidated box gets an ``id`` and, where the workers' boxes it stands for name parents, the
    ``parent`` most of them name, remapped to the consolidated box their parent stands for (``null``:
    a root, or no parent the workers agree on). A worker's box stands for the consolidated box of its
    label it overlaps most (IoU at least :data:`MIN_LINK_IOU`), each box for one consolidated box."""
    value = entry.get("value")
    if not isinstance(value, dict) or not isinstance(value.get("annotations"), list):
        return
    boxes = value["annotations"]
    names = value.get("class-map", {})
    lists = [items for items in given if isinstance(items, list)]
    if not any(isinstance(i, dict) and "parent" in i for items in lists for i in items):
        return
    votes: list[Counter[int | None]] = [Counter() for _ in boxes]
    for items in lists:
        stands: dict[str, int] = {}  # the worker's box id -> the consolidated box it stands for
        members: dict[int, Mapping[str, Any]] = {}
        for k, j in match_boxes(boxes, names, items).items():
            members[k] = items[j]
            if "id" in items[j]:
                stands[str(items[j]["id"])] = k
        for k, item in members.items():
            parent = item.get("parent")
            votes[k][stands.get(str(parent)) if parent is not None else None] += 1
    for k, box in enumerate(boxes):
        box["id"] = str(k)
        ranked = votes[k].most_common()
        agreed = ranked[0][0] if ranked and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]) else None
        box["parent"] = str(agreed) if agreed is not None and agreed != k else None


def _scope(f: Field) -> str:
    """The worker store's scope of one field: its statistics are its own (``#`` is the store's separator)."""
    return f"form-field/{quote(f.name, safe='')}"


def _log_unexpected(exc: Exception, object_id: str, name: str) -> None:
    stack = "".join(traceback.format_tb(exc.__traceback__))
    logger.error("field %s not consolidated: %s", name, type(exc).__name__,
                 extra={"datasetObjectId": object_id, "stack": stack})  # fmt: skip


def _annotation_handler(f: Field, per_object: Sequence[tuple[FormObject, Values]], ctx: FormContext) -> FieldRun:
    if f.kind == "annotation" and f.task in _LINE_TASKS:
        return _kind_handler(f, per_object, ctx)
    make = _task_of(f.task if f.kind == "annotation" else f.shape)
    if make is None:
        what = f.element or f.kind
        return _kept_run(f, per_object, f"no consolidation for {what} yet: each worker's value is kept as given")
    return _consolidate_by_task(
        f, per_object, ctx, _Adapter(make, _annotation_element, _task_labels, _task_entry, True)
    )


# -- fields consolidated by an answer kind (numbers, free text, rankings, lines) -----------------------

_VALUE_KEYS = {"number": "value", "text": "text", "ranking": "dimensions"}
"""Per value kind, the key of its label that is the field's ``value`` (the rest of the label follows it)."""
_LINE_TASKS = ("polyline", "line")


def _field_kind(f: Field) -> str | None:
    """The :data:`tally.tasks.fields.FIELD_KINDS` entry a field is consolidated by, if any."""
    if f.kind in _VALUE_KEYS:
        return f.kind
    if f.kind == "annotation" and f.task in _LINE_TASKS:
        return f.task
    return None


@dataclass(frozen=True)
class _FieldLearner:
    """One form field of an answer kind as the worker model cycle sees a task that learns across
    batches: its summaries are the kind's (:class:`~tally.tasks.fields.PreparedField`, read once), its
    model the kind's (statistics under ``form-field/<field>/<kind's name>``)."""

    prepared: Any  # tally.tasks.fields.PreparedField (imported with the kind, not at the handler's import)

    def fit(self, summaries: Sequence[Any], job: JobContext) -> Any:
        return self.prepared.fit_on(summaries, {})

    def fit_with_prior(self, summaries: Sequence[Any], job: JobContext, prior: Mapping[str, Any]) -> Any:
        return self.prepared.fit_on(summaries, dict(prior))

    def statistics_name(self, job: JobContext) -> str:
        return str(self.prepared.statistics_name)

    def statistics_keys(self, summaries: Sequence[Any], job: JobContext) -> list[str]:
        return list(self.prepared.keys_of(summaries))

    def statistics(self, model: Any, job: JobContext) -> Any:
        return model.statistics()


def _kind_handler(f: Field, per_object: Sequence[tuple[FormObject, Values]], ctx: FormContext) -> FieldRun:
    """A number, text, ranking or line field consolidated by its kind
    (:func:`tally.tasks.fields.prepare_field`): the template's bounds (a slider's ``min``, ``max``,
    ``step``; a ranking's ``allowTie``; a line element's ``labels``, or a job plan's), its own model and
    worker statistics; its values read and summarised once."""
    from ..tasks.fields import FieldBounds, FieldObject, prepare_field

    kind = _field_kind(f)
    if kind is None:
        return _kept_run(f, per_object, f"no consolidation for {f.kind} fields: each worker's value is kept as given")
    misfits: list[list[AnswerIssue]] = []
    silent: list[list[str]] = []
    objects: list[FieldObject] = []
    for form_object, values in per_object:
        misfits.append([AnswerIssue(w, fv.reason) for w, fv in values if fv.reason is not None])
        silent.append([w for w, fv in values if fv.reason is None and fv.value is None])
        given = [(w, fv.value) for w, fv in values if fv.reason is None and fv.value is not None]
        giving = {w for w, _ in given}
        gold = next((a.worker_id for a in form_object.answers if a.gold and a.worker_id in giving), None)
        objects.append(FieldObject(form_object.object_id, given, gold))
    bounds = FieldBounds.of(f)
    planned = ctx.plan.labels.get(f.name) if ctx.plan is not None else None
    if planned is not None:
        bounds = replace(bounds, labels=planned.names)
    prepared = prepare_field(kind, objects, bounds)
    context = JobContext(None, {}, ctx.storage, ctx.artefact_prefix, ctx.settings)

    def finish(model: Any) -> list[FieldEntry | None]:
        batch = prepared.results(model)
        entries: list[FieldEntry | None] = []
        for (_, values), result, issues, nobody, obj in zip(
            per_object, batch.results, misfits, silent, objects, strict=True
        ):
            if not values:
                entries.append(None)
                continue
            found = issues + list(result.issues)
            if result.label is None:
                reason = result.failure if obj.values else "no worker gave a usable answer"
                entries.append(_kept_entry(f, values, f"not consolidated: {reason}", found))
                continue
            used = len(obj.values) - len({i.worker_id for i in result.issues if i.rejected})
            entries.append(_kind_entry(f, kind, result.label, result.confidence, found, used, nobody, values,
                                       bool(batch.batch_figures)))  # fmt: skip
        return entries

    labels = prepared.setup if isinstance(prepared.setup, LabelSet) else None
    found = [issues + prepared.issues[obj.object_id] for issues, obj in zip(misfits, objects, strict=True)]
    return FieldRun(finish, prepared.summaries, _FieldLearner(prepared), context, labels, found)


def _kind_entry(
    f: Field,
    kind: str,
    label: Mapping[str, Any],
    confidence: float | None,
    issues: list[AnswerIssue],
    used: int,
    silent: Sequence[str],
    values: Values,
    batch_figures: bool,
) -> FieldEntry:
    rest = {k: v for k, v in label.items() if k not in _FIGURES}
    head: dict[str, Any] = {**_keys(f)}
    if kind in _VALUE_KEYS:
        head["value"] = rest.pop(_VALUE_KEYS[kind])
        head.update(rest)
    else:  # a line element: as an annotation field, its task's label under value
        from ..tasks.registry import ENTRIES

        head["type"] = next(str(e.types[0]) for e in ENTRIES if e.kind.shape.name == kind)
        head["value"] = rest
    return _consolidated(f, head, label, confidence, used, issues, silent, values, batch_figures)


FIELD_HANDLERS: dict[FieldKind, FieldHandler] = {
    "single-choice": _adapted(_Adapter(_classification(False), _single_element, _choice_labels, _choice_entry)),
    "multi-choice": _adapted(_Adapter(_classification(True), _multi_element, _choice_labels, _multi_entry)),
    "boolean": _adapted(_Adapter(_classification(False), _single_element, _choice_labels, _boolean_entry)),
    "annotation": _annotation_handler,
    "json": _annotation_handler,
    "number": _kind_handler,
    "text": _kind_handler,
    "ranking": _kind_handler,
    "unknown": keep_as_given("a field of no known kind: each worker's value is kept as given"),
}
"""The handler of each field kind. Plugging a kind in is one entry (numbers, free text, rankings and the
line elements go to :func:`tally.tasks.fields.consolidate_field`)."""

_PENDING = {"unknown"}


def consolidable(f: Field) -> bool:
    """Whether a field of this kind is consolidated (not kept as given) by the form driver."""
    if f.kind in ("annotation", "json"):
        return _task_of(f.task if f.kind == "annotation" else f.shape) is not None
    return FIELD_HANDLERS.get(f.kind) is not None and f.kind not in _PENDING


# -- the batch ----------------------------------------------------------------------------------------


def read_template(template: Callable[[], JobTemplate]) -> JobTemplate:
    """The job's template as ``template`` gives it; without it (it could not be read), a note why."""
    try:
        return template()
    except Exception as exc:  # the template is an aid: without it the form is inferred, never a failed batch
        logger.warning("the job's worker template was not read: %s", type(exc).__name__)
        return JobTemplate(note=f"the job's worker template was not read ({type(exc).__name__})")


def read_batch_form(
    contents: Sequence[Mapping[str, Any]], template: Callable[[], JobTemplate]
) -> tuple[FormSchema, JobTemplate] | None:
    """The fields a batch's answers hold, as the template and the answers say (form or not: a lone
    slider's bounds are read here too); ``None`` when there are no answers."""
    if not contents:
        return None
    got = read_template(template)
    if got.schema is not None:
        return complete_schema(got.schema, contents), got
    return _one_element_many_names(read_form(got.html, contents), contents), got


def is_form(schema: FormSchema) -> bool:
    """Whether the form driver consolidates answers of this schema (module docstring); else the task
    path does, byte for byte as before forms."""
    if len(schema) == 0:
        return False
    if len(schema) == 1:
        only = schema.fields[0]
        if only.kind == "annotation" or (only.kind == "single-choice" and only.task == "classification"):
            return False  # one annotation element: the task path, byte for byte as before
        if only.kind == "multi-choice" and only.task == "multi-label classification":
            return False
        if only.kind in _VALUE_KEYS:
            return False  # a lone number, text or ranking: its task's label (tally/number, ...), as before
        if not consolidable(only):
            return False  # nothing the form driver would consolidate: passed through as before
    return True


def _one_element_many_names(schema: FormSchema, contents: Sequence[Mapping[str, Any]]) -> FormSchema:
    """Inferred annotation fields of one task whose keys no answer holds together are one element that
    workers' answers name differently (tally recognises an element by its shape, whatever its name):
    one field, named by the first, taking every such key."""
    groups: dict[str, list[Field]] = {}
    for f in schema.fields:
        if f.kind == "annotation" and f.found == "inferred" and f.task is not None and f.pattern is None:
            groups.setdefault(f.task, []).append(f)
    merged: dict[str, Field] = {}
    dropped: set[str] = set()
    for fields in groups.values():
        if len(fields) < 2:
            continue
        keys = [k for f in fields for k in f.keys]
        if any(sum(k in content for k in keys) > 1 for content in contents):
            continue  # two of them in one answer: two elements, two fields
        first = fields[0]
        note = f"one element under {len(keys)} names in the answers: {', '.join(keys)}"
        merged[first.name] = replace(
            first, keys=tuple(keys), reason=note if first.reason is None else f"{first.reason}; {note}"
        )
        dropped.update(f.name for f in fields[1:])
    if not merged:
        return schema
    return FormSchema(tuple(merged.get(f.name, f) for f in schema.fields if f.name not in dropped), schema.notes)


def _runs(
    schema: FormSchema, objects: Sequence[FormObject], ctx: FormContext
) -> list[tuple[Field, Sequence[tuple[FormObject, Values]], FieldRun]]:
    """Every concrete field of the batch read and observed (:class:`FieldRun`), in the schema's order."""
    for form_object in objects:
        form_object.splits = [split(a.content, schema) for a in form_object.answers]
    by_name = {f.name: f for f in schema.fields}
    names: dict[str, Field] = {}
    for form_object in objects:  # the concrete fields: a Liquid-named field's keys are fields of their own
        for parts in form_object.splits:
            for name in parts.fields:
                if name not in names:
                    concrete = by_name.get(name) or schema.owner(name)
                    if concrete is not None:
                        names[name] = concrete
    runs: list[tuple[Field, Sequence[tuple[FormObject, Values]], FieldRun]] = []
    for f in _ordered_fields(schema, names):
        per_object = [
            (
                form_object,
                [(a.worker_id, parts.fields[f.name]) for a, parts in zip(form_object.answers, form_object.splits, strict=True)
                 if f.name in parts.fields and not parts.fields[f.name].absent],
            )
            for form_object in objects
        ]  # fmt: skip
        try:
            run = _handler(f)(f, per_object, ctx)
        except Exception as exc:  # a field's failure keeps its values, never fails the batch
            logger.error("field %s not consolidated: %s", f.name, type(exc).__name__)
            run = _kept_run(f, per_object, f"not consolidated: internal error ({type(exc).__name__})")
        runs.append((f, per_object, run))
    return runs


def consolidate_form(
    schema: FormSchema, template: JobTemplate, objects: Sequence[FormObject], ctx: FormContext
) -> tuple[list[ObjectResult], dict[str, FieldTally]]:
    """Every object's result (in order) and, per field, what was consolidated and kept as given. Each
    field's model is the job plan's (``ctx.plan``), else fitted on the batch (``ctx.new_cycle``)."""
    per_field: dict[str, list[FieldEntry | None]] = {}
    tallies: dict[str, FieldTally] = {}
    ordered = []
    for f, per_object, run in _runs(schema, objects, ctx):
        ordered.append(f)
        try:
            model = None
            if run.learner is not None and ctx.plan is not None:
                model = ctx.plan.models.get(f.name)
                if model is None and run.summaries:  # the job has no model of it: never a model of one batch
                    run = _kept_run(f, per_object, f"not consolidated: {_no_job_model(f, ctx.plan)}", run.issues)
            elif run.learner is not None and run.summaries and run.context is not None:
                model = ctx.new_cycle(_scope(f)).fit(run.learner, run.summaries, run.context)
        except Exception as exc:
            logger.error("field %s: batch model not fitted: %s", f.name, type(exc).__name__)
            reason = f"not consolidated: its batch model could not be fitted ({type(exc).__name__})"
            run = _kept_run(f, per_object, reason, run.issues)
        try:
            entries = run.finish(model)
        except Exception as exc:  # a field's failure keeps its values, never fails the batch
            logger.error("field %s not consolidated: %s", f.name, type(exc).__name__)
            entries = _all_kept(f, per_object, f"not consolidated: internal error ({type(exc).__name__})", run.issues)
        per_field[f.name] = entries
        tally = tallies.setdefault(f.name, FieldTally(f.kind))
        for entry in entries:
            if entry is None:
                continue
            if entry.consolidated:
                tally.consolidated += 1
            else:
                tally.kept += 1
                tally.reasons[str(entry.entry.get("reason"))] += 1
    results = [
        _result(form_object, schema, template, [(f, per_field[f.name][i]) for f in ordered])
        for i, form_object in enumerate(objects)
    ]
    return results, tallies


def gather_form(
    schema: FormSchema, objects: Sequence[FormObject], ctx: FormContext
) -> tuple[FormSurvey, list[tuple[str, dict[str, Any]]]]:
    """The first pass of a job-wide re-consolidation over one batch of forms (nothing consolidated):
    what the batch says of the form (its fields, each field's labels, the answers holding each), and
    each object's summaries, per field (``(object ID, {field: summary})``, in order; objects with none
    left out): what the fields' models learn from (:func:`fit_form`)."""
    labels: dict[str, LabelSet] = {}
    answers: dict[str, int] = {}
    by_object: dict[str, dict[str, Any]] = {}
    for f, per_object, run in _runs(schema, objects, ctx):
        answers[f.name] = sum(len(values) for _, values in per_object)
        if run.labels is not None:
            labels[f.name] = run.labels
        if run.learner is None:
            continue
        for object_id, summary in run.summaries:
            by_object.setdefault(object_id, {})[f.name] = summary
    order = [o.object_id for o in objects if o.object_id in by_object]
    return FormSurvey(schema, labels, answers), [(object_id, by_object[object_id]) for object_id in order]


def fit_form(plan: FormPlan, summaries: Sequence[tuple[str, Mapping[str, Any]]], ctx: FormContext) -> FormPlan:
    """``plan`` with each field's model fitted once on every object's summary of the job
    (:func:`gather_form`'s, in the job's order): the model one batch of the whole job would fit (no
    worker store). Each field's learner and its setup are its handler's under the plan, as a batch
    builds them (:func:`consolidate_form`). A field whose model cannot be fitted gets none: its objects
    keep their values, with the reason."""
    order: dict[str, None] = {}
    for _, found in summaries:
        order.update(dict.fromkeys(found))
    by_name = {f.name: f for f in plan.schema.fields}
    planned = replace(ctx, plan=plan)
    models: dict[str, Any] = {}
    for name in order:
        f = by_name.get(name) or plan.schema.owner(name)
        if f is None or (_field_kind(f) is None and name not in plan.labels):
            continue  # a task's field without the job's labels has no model of the job
        field_summaries = [(object_id, found[name]) for object_id, found in summaries if name in found]
        try:
            run = _handler(f)(f, [], planned)
            if run.learner is not None and run.context is not None:
                models[name] = run.learner.fit(field_summaries, run.context)
        except Exception as exc:
            logger.error("field %s: the job's model not fitted: %s", name, type(exc).__name__)
    return replace(plan, models=models)


def _no_job_model(f: Field, plan: FormPlan) -> str:
    """Why a field with values has no model of the whole job (:func:`fit_form` fits none for a task's
    field the job's plan has no labels for, nor for one whose fit failed)."""
    if _field_kind(f) is None and f.name not in plan.labels:
        return "the job's plan has no labels for this field, so no model of the job was fitted for it"
    return "the job's model could not be fitted"


def _handler(f: Field) -> FieldHandler:
    """The handler of a field's kind (:data:`FIELD_HANDLERS`; a kind it does not know: kept as given)."""
    return FIELD_HANDLERS.get(f.kind, FIELD_HANDLERS["unknown"])


def _ordered_fields(schema: FormSchema, seen: Mapping[str, Field]) -> list[Field]:
    """The schema's fields in its order, a Liquid-named field replaced by the keys it generated."""
    out: list[Field] = []
    for f in schema.fields:
        if f.pattern is not None:
            out.extend(g for name, g in seen.items() if schema.generator(name) is f)
        else:
            out.append(seen.get(f.name, f))
    return out


def _result(
    form_object: FormObject,
    schema: FormSchema,
    template: JobTemplate,
    entries: Sequence[tuple[Field, FieldEntry | None]],
) -> ObjectResult:
    fields: dict[str, Any] = {}
    issues = list(form_object.issues)
    for f, entry in entries:
        if entry is None:
            continue
        fields[f.name] = entry.entry
        for issue in entry.issues:  # the answer still counts for the form's other fields: a warning
            issues.append(AnswerIssue(issue.worker_id, f"field '{f.name}': {issue.reason}", rejected=False))
    leftovers = [
        {"workerId": a.worker_id, "content": dict(parts.leftovers)}
        for a, parts in zip(form_object.answers, form_object.splits, strict=True)
        if parts.leftovers
    ]
    rows: dict[str, dict[str, Any]] = {a.worker_id: {"workerId": a.worker_id} for a in form_object.answers}
    batch_figures: list[str] = []
    rated = False
    for f, entry in entries:
        if entry is None or not entry.quality:
            continue
        rated = True
        if entry.batch_figures:
            batch_figures.append(f.name)
        for row in entry.quality:
            if row.get("workerId") in rows:
                rows[row["workerId"]][f.name] = {k: v for k, v in row.items() if k != "workerId"}
    confidence = form_confidence(fields)
    label: dict[str, Any] = {"schema-source": schema.source}
    if template.note and schema.source != "template":
        label["schema-note"] = template.note
    if confidence is not None:
        label["confidence"] = confidence
    label["fields"] = fields
    if rated:  # per worker who answered, their figures per field (classification's: over the batch)
        label["worker-quality"] = list(rows.values())
    if leftovers:
        label["leftovers"] = leftovers
    consolidated = sorted(name for name, e in fields.items() if e["consolidated"])
    kept = sorted(name for name, e in fields.items() if not e["consolidated"])
    metadata: dict[str, Any] = {"schema-source": schema.source}
    if confidence is not None:
        metadata["confidence"] = confidence
    metadata["fields-consolidated"] = consolidated
    metadata["fields-kept-as-given"] = kept
    return ObjectResult(
        form_object.object_id,
        FORM_TYPE,
        label,
        metadata,
        confidence=confidence,
        issues=issues,
        answers_used=len(form_object.answers),
        form_fields=tuple((name, bool(e["consolidated"])) for name, e in fields.items()),
        batch_figures=tuple(batch_figures),
    )
