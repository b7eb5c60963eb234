"""What an importer reads, and the Ground Truth payload tally's core consolidates from it.

An export is a list of :class:`ImportedItem` (one per data object). Each item has the answers of
every annotator per **field** (a Label Studio control tag, a CVAT shape kind, a COCO annotation part),
and each answer is either the JSON a Ground Truth crowd element would have submitted for it
(``element``) or, when it cannot be read, the value as given with the ``reason``.

An import is one field per batch or, for Label Studio, every consolidable field as a form (the core's
form driver consolidates it field by field): :func:`build_batch` picks the field (the one named, or the field of a kind tally consolidates that
most items have) or the form's fields, puts their readable answers in the payload, and keeps everything else for
:func:`annotate_entries`, which adds to each response entry, in the label itself:

* ``rejected-answers``: answers of the field that could not be read, each with its reason (besides
  the ones the core rejects);
* ``kept-as-given``: every other field, verbatim, with the reason it was not consolidated;
* ``gold-answers``: the annotators whose answer the tool marks as ground truth, and every other
  annotator's agreement with it (:mod:`.gold`). A gold answer is never outvoted. For a choice
  (:data:`GOLD_EVIDENCE_KINDS`) every answer goes to the batch model, the gold one marked ``gold``:
  Dawid–Skene holds the object at the gold answer, so the label is it with confidence 1 and the others'
  answers to it measure their workers for the rest of the batch (:data:`GOLD_EVIDENCE_NOTE`); a gold
  answer the core rejects (a label not among the job's) holds nothing, the crowd decides
  (:data:`GOLD_UNREAD_NOTE`). For a mask, boxes, polygons, keypoints, polylines, spans, a number or a text
  (:data:`GOLD_MODEL_KINDS`) every answer goes to the
  core too, the gold one marked: the label is the gold answer alone (confidence 1) and the worker model
  judges the others against it (:data:`GOLD_MODEL_NOTE`). Every kind a reader marks gold is one of
  those two; a kind outside them (none today: only Label Studio marks gold) would be consolidated from
  the gold answer alone, the label the gold answer in the task's own shape with confidence 1, the
  others' answers scored against it, not voted (:data:`GOLD_NOTE`, ``Batch.scored``);
* ``imported-from``: the tool and the field consolidated.

An item none of whose answers to the field could be read is returned failed, with the reasons, by
:func:`failed_entries`; nothing of an export is dropped without a reason.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..forms.consolidate import form_confidence
from ..gt.answers import AnswerIssue
from ..gt.response import ObjectResult, TaskType
from .gold import agreements

__all__ = [
    "CONSOLIDATED_KINDS",
    "GOLD_EVIDENCE_KINDS",
    "GOLD_EVIDENCE_NOTE",
    "GOLD_FORM_NOTE",
    "GOLD_FORM_TAUGHT",
    "GOLD_MODEL_KINDS",
    "GOLD_MODEL_NOTE",
    "GOLD_NOTE",
    "GOLD_REFUSED_FIELD_NOTE",
    "GOLD_UNREAD_NOTE",
    "PASSED_ON_PNG_LEVEL",
    "UNMATCHED",
    "WAITS",
    "Batch",
    "FieldAnswer",
    "GoldItem",
    "ImportedItem",
    "VotedShapes",
    "annotate_entries",
    "build_batch",
    "failed_entries",
    "form_fields",
]

CONSOLIDATED_KINDS = frozenset(
    {"classification", "multi-label", "entities", "boxes", "keypoints", "polygons", "semantic", "instances",
     "number", "text", "polylines"}
)  # fmt: skip
"""The answer kinds an import consolidates."""

WAITS = {
    "per-region": (
        "a field attached to a region (perRegion) is voted only per consolidated box, keypoint, polygon or "
        "polyline, and this import consolidates none"
    ),
    "attributes": (
        "shape attributes are voted only per consolidated box, polyline, keypoint or polygon, and this import "
        "consolidates none"
    ),
}
"""Why a field of a known kind is kept as given."""

UNMATCHED = (
    "shape attributes of shapes that stand for no consolidated shape (left out by the consolidation, "
    "in a rejected answer, or of another shape kind): kept as given"
)
"""Why the attributes of the shapes no vote took are kept as given (:mod:`.attributes`)."""


@dataclass(frozen=True)
class VotedShapes:
    """What :mod:`.attributes` voted of one object, per field whose values it votes per consolidated shape
    (CVAT's ``attributes``, Label Studio's per-region fields): per worker, the values voted as the field
    holds them (left out of ``kept-as-given``), and the reason the others are kept."""

    matched: Mapping[str, Mapping[str, Sequence[Any]]]
    reasons: Mapping[str, str]


PASSED_ON_PNG_LEVEL = 1
"""zlib level of the answer PNGs an importer makes from another tool's instance masks (COCO): read once
by the core, never kept (level 1 encodes about a third faster than 6 and decodes faster too, for a
larger PNG). Semantic masks are handed on decoded (``classRuns``), with no PNG."""

GOLD_NOTE = (
    "marked as ground truth in the tool: the label is the gold answer (confidence 1); "
    "the other annotators' answers are scored against it, not voted"
)
GOLD_EVIDENCE_NOTE = (
    "marked as ground truth in the tool: the label is the gold answer (confidence 1); the other annotators' "
    "answers are scored against it and, with the object held at the gold answer, teach the batch model "
    "how good each annotator is"
)
GOLD_EVIDENCE_KINDS = frozenset({"classification", "multi-label"})
"""Kinds whose batch model takes a gold object as known truth (Dawid–Skene holds its posterior at the
gold answer): every readable answer to a gold object goes to it, the gold one marked ``gold``."""
GOLD_MODEL_KINDS = frozenset({"semantic", "boxes", "keypoints", "polygons", "polylines", "entities", "number", "text"})
"""Kinds whose gold object is the gold answer alone, but whose batch model judges the other answers to it
against the gold answer (``known``: :class:`tally.aggregation.weighted_pixel_vote.LeaveOneOutWeights`,
:class:`tally.aggregation.geometric.ItemConsolidation`, :class:`tally.aggregation.lines.LineConsolidation`,
:class:`tally.aggregation.span_vote.SpanVote`, :class:`tally.aggregation.ratings.CalibratedMean`,
:class:`tally.aggregation.text.TextVote`): every readable answer to a gold object goes to the core,
the gold one marked ``gold``. In a form too (:data:`GOLD_FORM_TAUGHT`)."""
GOLD_FORM_TAUGHT = GOLD_EVIDENCE_KINDS | GOLD_MODEL_KINDS
"""A form's fields whose other answers to a gold item go to the field's batch model beside the gold answer
(marked): the form driver hands the mark to the field's task or kind, which holds the field at the gold
answer and judges the others against it. Every kind a Label Studio form has is among them."""
GOLD_MODEL_NOTE = (
    "marked as ground truth in the tool: the label is the gold answer (confidence 1); the other annotators' "
    "answers are scored against it, not voted, and teach the batch model how good each annotator is"
)
GOLD_UNREAD_NOTE = (
    "marked as ground truth in the tool, but the gold annotation has no readable answer to this field: "
    "consolidated from every answer as usual"
)


@dataclass
class FieldAnswer:
    """One annotator's answer to one field of one item."""

    worker: str
    element: Any = None  # the crowd element's output; None when unreadable
    given: Any = None  # the answer as the tool exported it
    reason: str | None = None  # why it cannot be read (element is None)
    origin: int | None = None  # its record's index in the tool's item (Label Studio: the task's annotations)

    @property
    def readable(self) -> bool:
        return self.reason is None


@dataclass
class ImportedItem:
    """One data object of an export: its answers per field, and what the writers need to go back."""

    object_id: str
    data_object: dict[str, str]
    fields: dict[str, list[FieldAnswer]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)  # field -> kind (CONSOLIDATED_KINDS, WAITS or the tool's)
    gold: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the item as a whole (cancelled annotations, ...)
    source: dict[str, Any] = field(default_factory=dict)  # the tool's own record of the item, for writers

    def add(self, name: str, kind: str, answer: FieldAnswer) -> None:
        self.fields.setdefault(name, []).append(answer)
        self.kinds.setdefault(name, kind)


@dataclass
class GoldItem:
    """An item of the batch with a gold answer to its field."""

    workers: list[str]  # the annotators whose annotation is gold
    element: Any  # the (first) gold answer, as the crowd element's output; None: none readable
    scores: list[dict[str, Any]]  # {"workerId", "agreement"} for every other readable answer, in order
    evidence: bool = False  # the other answers went to the batch model, the object held at the gold answer
    model: bool = False  # the other answers went to the batch model, judged against the gold answer
    form: bool = False  # scores per field ({"workerId", "field", "agreement"})
    refused: list[str] = field(default_factory=list)  # a form's choice fields whose gold answer the core rejected

    def as_json(self) -> dict[str, Any]:
        if self.element is None:
            return {"workers": list(self.workers), "note": GOLD_UNREAD_NOTE}
        note = (
            GOLD_FORM_NOTE
            if self.form
            else GOLD_EVIDENCE_NOTE
            if self.evidence
            else GOLD_MODEL_NOTE
            if self.model
            else GOLD_NOTE
        )
        out: dict[str, Any] = {"workers": list(self.workers), "scores": list(self.scores), "note": note}
        if self.refused:
            out["refused-fields"] = {"fields": list(self.refused), "note": GOLD_REFUSED_FIELD_NOTE}
        return out


GOLD_REFUSED_FIELD_NOTE = (
    "the core rejected the gold answer to these fields (their rejected-answers say why): each is "
    "voted from the other annotators' answers as on any other item, and no one is scored against it"
)
GOLD_FORM_NOTE = (
    "marked as ground truth in the tool: each field the gold answer gives is the gold answer (confidence 1); "
    "the other annotators' answers to its fields are scored against it and teach the field's batch model; a "
    "field it leaves out is voted from the others' answers"
)


@dataclass
class Batch:
    """The payload for the core, and what it leaves out. A form (several fields per answer) has
    ``field`` ``None``, ``kind`` ``"form"`` and its fields in ``form``."""

    field: str | None
    kind: str | None
    payload: list[dict[str, Any]]
    items: dict[str, ImportedItem]
    unread: dict[str, list[AnswerIssue]]  # per object: answers of the field that could not be read
    failed: list[str]  # objects with no readable answer to the field (not in the payload)
    fields: dict[str, str]  # every field seen -> its kind
    gold: dict[str, GoldItem] = dataclasses.field(default_factory=dict)  # per object with a gold annotation
    scored: dict[str, list[dict[str, Any]]] = dataclasses.field(
        default_factory=dict
    )  # per gold object: answers not voted
    form: list[str] = dataclasses.field(default_factory=list)  # the fields of a form, in order

    @property
    def consolidated(self) -> list[str]:
        """The fields consolidated: the form's, or the one field."""
        return list(self.form) if self.form else [self.field] if self.field is not None else []

    def review_payload(self) -> list[dict[str, Any]]:
        """The payload with the answers scored against gold put back beside the gold answer: every
        readable answer, for ``tally report --source``."""
        out = []
        for element in self.payload:
            extra = self.scored.get(element["datasetObjectId"])
            out.append(element if not extra else {**element, "annotations": element["annotations"] + extra})
        return out


def _field_kinds(items: Iterable[ImportedItem]) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for item in items:
        for name, kind in item.kinds.items():
            kinds.setdefault(name, kind)
    return kinds


def choose_field(items: Sequence[ImportedItem], wanted: str | None = None) -> str | None:
    """The field to consolidate: ``wanted`` when given (``KeyError`` if no item has it), else the
    field of a kind tally consolidates that most items answer (ties: the first seen), else the first
    field seen (its answers are passed through by the core)."""
    kinds = _field_kinds(items)
    if wanted is not None:
        if wanted not in kinds:
            raise KeyError(wanted)
        return wanted
    if not kinds:
        return None
    order = list(kinds)
    counts = Counter(name for item in items for name, answers in item.fields.items() if answers)
    known = [name for name in order if kinds[name] in CONSOLIDATED_KINDS]
    pool = known or order
    return max(pool, key=lambda name: (counts[name], -order.index(name)))


def form_fields(items: Sequence[ImportedItem]) -> list[str]:
    """The fields an import consolidates together as a form: every field of a kind it consolidates."""
    kinds = _field_kinds(items)
    return [name for name, kind in kinds.items() if kind in CONSOLIDATED_KINDS]


def build_batch(items: Sequence[ImportedItem], wanted: str | None = None, *, form: bool = False) -> Batch:
    """The payload of the chosen field (see :func:`choose_field`), one element per item that has a
    readable answer to it; with ``form`` and no field named, every consolidable field together when
    there are several (one answer per annotator holding each field they answered: a form)."""
    if form and wanted is None and len(names := form_fields(items)) >= 2:
        return _build_form(items, names)
    chosen = choose_field(items, wanted)
    kinds = _field_kinds(items)
    batch = Batch(chosen, kinds.get(chosen) if chosen is not None else None, [], {i.object_id: i for i in items},
                  {}, [], kinds)  # fmt: skip
    for item in items:
        answers = item.fields.get(chosen, []) if chosen is not None else []
        issues = [AnswerIssue(a.worker, a.reason) for a in answers if a.reason is not None]
        if issues:
            batch.unread[item.object_id] = issues
        readable = [a for a in answers if a.readable]
        if not readable:
            batch.failed.append(item.object_id)
            continue
        voted = readable
        if item.gold:
            assert chosen is not None
            voted = _gold(batch, item, item.kinds[chosen], readable)
        annotations = [_annotation(chosen, a, gold=a.worker in item.gold) for a in voted]
        batch.payload.append(
            {"datasetObjectId": item.object_id, "dataObject": item.data_object, "annotations": annotations}
        )
    return batch


def _build_form(items: Sequence[ImportedItem], names: list[str]) -> Batch:
    kinds = _field_kinds(items)
    batch = Batch(None, "form", [], {i.object_id: i for i in items}, {}, [], kinds, form=names)
    for item in items:
        issues: list[AnswerIssue] = []
        contents: dict[str, dict[str, Any]] = {}
        for name in names:
            for a in item.fields.get(name, []):
                if a.reason is not None:
                    issues.append(AnswerIssue(a.worker, f"field '{name}': {a.reason}"))
                else:
                    contents.setdefault(a.worker, {})[name] = a.element
        if issues:
            batch.unread[item.object_id] = issues
        if not contents:
            batch.failed.append(item.object_id)
            continue
        gold = [w for w in contents if w in item.gold]
        if item.gold and not gold:
            batch.gold[item.object_id] = GoldItem(list(item.gold), None, [])
        elif gold:
            contents = _form_gold(batch, item, kinds, contents, gold)
        annotations = [
            _content_annotation(worker, content, gold=worker in item.gold) for worker, content in contents.items()
        ]
        batch.payload.append(
            {"datasetObjectId": item.object_id, "dataObject": item.data_object, "annotations": annotations}
        )
    return batch


def _form_gold(
    batch: Batch, item: ImportedItem, kinds: Mapping[str, str], contents: dict[str, dict[str, Any]], gold: list[str]
) -> dict[str, dict[str, Any]]:
    """A gold item of a form: the gold answers first, then the others' whole answers. Only a Label Studio
    import is a form (:func:`build_batch`'s ``form``), and every kind a Label Studio form has learns from
    the gold (:data:`GOLD_FORM_TAUGHT`; ``instances``, the one consolidated kind not among them, only CVAT
    and COCO give, and they mark no gold): the form driver hands the mark to each field's task or kind,
    which holds the field at the gold answer and judges the others against it; a field the gold answer
    does not give is voted as on any other item. The others' fields are scored against the gold answer's
    for ``gold-answers``."""
    first = {n: v for n, v in contents[gold[0]].items() if not _blank(kinds.get(n), v)}  # an empty text: left out
    others = [(worker, content) for worker, content in contents.items() if worker not in item.gold]
    found: dict[tuple[str, str], float | None] = {}
    for name, value in first.items():  # each field's answers at once: the gold answer read once
        answered = [(worker, content[name]) for worker, content in others if name in content]
        figures = agreements(kinds[name], [v for _, v in answered], value)
        found.update(((worker, name), score) for (worker, _), score in zip(answered, figures, strict=True))
    scores = [
        {"workerId": worker, "field": n, "agreement": found.get((worker, n))}
        for worker, content in others
        for n in content
    ]
    batch.gold[item.object_id] = GoldItem(gold, first, scores, evidence=True, form=True)
    return {**{w: contents[w] for w in gold}, **dict(others)}


def _content_annotation(worker: str, content: Mapping[str, Any], *, gold: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"content": json.dumps(content, separators=(",", ":"))}
    if gold:
        data["gold"] = True
    return {"workerId": worker, "annotationData": data}


def _annotation(chosen: str | None, answer: FieldAnswer, *, gold: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"content": json.dumps({chosen: answer.element}, separators=(",", ":"))}
    if gold:
        data["gold"] = True
    return {"workerId": answer.worker, "annotationData": data}


def _blank(kind: str | None, element: Any) -> bool:
    """An empty text (``""`` or only whitespace): the text task takes it for no evidence, so a gold one is
    no readable gold answer (:data:`GOLD_UNREAD_NOTE`; the core holds nothing at it either)."""
    return kind == "text" and isinstance(element, str) and not element.strip()


def _gold(batch: Batch, item: ImportedItem, kind: str, readable: list[FieldAnswer]) -> list[FieldAnswer]:
    """The answers an item with a gold annotation is consolidated from: its gold answers alone, the
    others scored against the first (:mod:`.gold`) and kept for the review payload; every answer
    when no gold answer to the field can be read (an empty text is none: :func:`_blank`)."""
    gold = [a for a in readable if a.worker in item.gold and not _blank(kind, a.element)]
    if not gold:
        batch.gold[item.object_id] = GoldItem(list(item.gold), None, [])
        return readable
    others = [a for a in readable if a.worker not in item.gold]
    found = agreements(kind, [a.element for a in others], gold[0].element)
    scores = [{"workerId": a.worker, "agreement": score} for a, score in zip(others, found, strict=True)]
    evidence, model = kind in GOLD_EVIDENCE_KINDS, kind in GOLD_MODEL_KINDS
    batch.gold[item.object_id] = GoldItem([a.worker for a in gold], gold[0].element, scores, evidence, model=model)
    if evidence or model:
        # the batch model holds the object at, or judges the others against, the first gold answer; a gold
        # annotator's empty text goes too (no evidence, counted as the text task counts empty answers)
        blank = [a for a in readable if a.worker in item.gold and _blank(kind, a.element)]
        return [*gold, *blank, *others]
    if others:
        batch.scored[item.object_id] = [_annotation(batch.field, a) for a in others]
    return gold


def _unvoted(given: Any, voted: Sequence[Any]) -> Any:
    """What of an answer as given no vote took (each voted value taken out once; a single value: itself,
    or nothing)."""
    if not isinstance(given, list):
        return [] if given in voted else given
    left = list(given)
    for shape in voted:
        if shape in left:
            left.remove(shape)
    return left


def _kept(
    item: ImportedItem, chosen: Sequence[str], kinds: Mapping[str, str], voted: VotedShapes | None = None
) -> list[dict[str, Any]]:
    """Every field not consolidated, as given with the reason; ``voted``: the values voted per shape, left
    out of their field (which is left out when nothing else is left)."""
    kept = []
    for name, answers in item.fields.items():
        if name in chosen or not answers:
            continue
        kind = kinds.get(name, item.kinds[name])
        if voted is not None and name in voted.reasons:
            taken = voted.matched.get(name, {})
            rows = [{"workerId": a.worker, "value": _unvoted(a.given, taken.get(a.worker, ()))} for a in answers]
            rows = [row for row in rows if row["value"]]
            if rows:
                kept.append({"field": name, "kind": kind, "reason": voted.reasons[name], "answers": rows})
            continue
        if kind in WAITS:
            reason = WAITS[kind]
        elif kind in CONSOLIDATED_KINDS:
            reason = f"another field ({', '.join(chosen)}) was consolidated; name this one to consolidate it"
        else:
            reason = f"no consolidation for {kind} answers"
        kept.append(
            {
                "field": name,
                "kind": kind,
                "reason": reason,
                "answers": [{"workerId": a.worker, "value": a.given} for a in answers],
            }
        )
    return kept


def _merge_issues(target: dict[str, Any], issues: Sequence[AnswerIssue]) -> None:
    if issues:
        target["rejected-answers"] = [i.as_json() for i in issues] + list(target.get("rejected-answers", []))


def _hold_gold(label: dict[str, Any], meta: dict[str, Any]) -> None:
    """A label consolidated from the gold answer alone (a kind not in :data:`GOLD_EVIDENCE_KINDS`) is
    the gold answer: its confidence is 1. (A choice needs nothing: the batch model holds its object at
    the gold answer the core read, ``known``.)"""
    label["confidence"] = 1.0
    _one_value(label)
    if "confidence" in meta:
        meta["confidence"] = 1.0
        _one_value(meta)


def _one_value(entry: dict[str, Any]) -> None:
    """A number held at its gold value alone: its interval is that value (not the one-answer interval)."""
    if "interval" in entry and isinstance(entry.get("value"), int | float):
        entry["interval"] = [entry["value"], entry["value"]]


def _hold_gold_fields(label: dict[str, Any], meta: dict[str, Any], gold: GoldItem) -> None:
    """A gold form item's fields the gold answer alone gave (no other annotator answered them, or the core
    read none of their answers: one answer used, the gold one) are the gold answer, as a lone field's gold
    answer alone is (:func:`_hold_gold`): confidence 1, and the form's confidence again. (A field with
    other answers is held by its kind's batch model, which needs two answers to learn from.)"""
    fields = label.get("fields")
    if not isinstance(fields, dict) or not isinstance(gold.element, Mapping):
        return
    for name in gold.element:
        entry = fields.get(name)
        if not isinstance(entry, dict) or not entry.get("consolidated") or entry.get("answers-used") != 1:
            continue
        if name not in gold.refused:  # the one answer used is a gold one
            entry["confidence"] = 1.0
            _one_value(entry)
    confidence = form_confidence(fields)
    for target in (label, meta):
        if confidence is not None and "confidence" in target:
            target["confidence"] = confidence


def _annotate(
    entry: dict[str, Any],
    item: ImportedItem,
    batch: Batch,
    attr: str,
    tool: str,
    unread: bool,
    voted: VotedShapes | None = None,
) -> None:
    content = entry["consolidatedAnnotation"]["content"]
    label, meta = content[attr], content[f"{attr}-metadata"]
    refused = {r.get("workerId") for r in label.get("rejected-answers", []) if isinstance(r, dict)}  # by the core
    if unread:
        issues = batch.unread.get(item.object_id, [])
        _merge_issues(label, issues)
        _merge_issues(meta, issues)
    kept = _kept(item, batch.consolidated, batch.fields, voted)
    if kept:
        label["kept-as-given"] = kept
    gold = batch.gold.get(item.object_id)
    if gold is None and item.gold:
        gold = GoldItem(list(item.gold), None, [])
    if gold is not None and gold.element is not None and batch.form:
        gold = batch.gold[item.object_id] = _form_refused(gold, label, batch.fields)
        _hold_gold_fields(label, meta, gold)
    if gold is not None and gold.element is not None and not batch.form:
        if (gold.evidence or gold.model) and set(gold.workers) <= refused:  # the crowd decided: no gold answer held it
            gold = batch.gold[item.object_id] = GoldItem(list(gold.workers), None, [])
        elif not gold.evidence and "failure-reason" not in label:
            _hold_gold(label, meta)
    if gold is not None:
        label["gold-answers"] = gold.as_json()
    if item.notes:
        label["import-notes"] = list(item.notes)
    label["imported-from"] = (
        {"tool": tool, "fields": batch.form} if batch.form else {"tool": tool, "field": batch.field}
    )


def _form_refused(gold: GoldItem, label: Mapping[str, Any], kinds: Mapping[str, str]) -> GoldItem:
    """A gold form item once the core has read it: a field of a kind that learns from the gold
    (:data:`GOLD_FORM_TAUGHT`) whose gold answer the core rejected (every gold annotator's answer to it is
    in the field's ``rejected-answers``) holds nothing, so the
    crowd decided it: it leaves the form's gold note for :data:`GOLD_REFUSED_FIELD_NOTE`, and its
    scores against the refused answer go."""
    fields = label.get("fields")
    if not isinstance(fields, Mapping):
        return gold
    refused = [
        name
        for name, entry in fields.items()
        if kinds.get(name) in GOLD_FORM_TAUGHT
        and isinstance(gold.element, Mapping)
        and name in gold.element
        and isinstance(entry, Mapping)
        and set(gold.workers)
        <= {r.get("workerId") for r in entry.get("rejected-answers", []) if isinstance(r, Mapping)}
    ]
    if not refused:
        return gold
    scores = [row for row in gold.scores if row.get("field") not in refused]
    return dataclasses.replace(gold, scores=scores, refused=sorted(set(gold.refused) | set(refused)))


def annotate_entries(
    entries: list[dict[str, Any]],
    batch: Batch,
    attr: str,
    tool: str,
    voted: Mapping[str, VotedShapes] | None = None,
) -> None:
    """Add the importer's facts (module docstring) to each of the core's response entries, in place;
    ``voted``: per object, the shapes whose attributes :mod:`.attributes` voted (left out of
    ``kept-as-given``, the others kept with its reason).

    It also records in ``batch.gold`` which gold answers the core refused (they hold nothing): the
    summary's and :func:`tally.tools.imported.gold_scores`' counts are right only after this ran."""
    for entry in entries:
        item = batch.items.get(str(entry.get("datasetObjectId")))
        if item is not None:
            _annotate(entry, item, batch, attr, tool, unread=True, voted=(voted or {}).get(item.object_id))


def failed_entries(
    batch: Batch,
    attr: str,
    tool: str,
    *,
    job_name: str,
    created: str,
    task_type: str | None,
    voted: Mapping[str, VotedShapes] | None = None,
) -> list[dict[str, Any]]:
    """Response entries for the items not sent to the core: no readable answer to the field; ``voted``:
    per object, the reason its shape attributes are kept (:func:`~.attributes.failed_reasons`)."""
    entries = []
    for object_id in batch.failed:
        item = batch.items[object_id]
        issues = batch.unread.get(object_id, [])
        answered = len(item.fields.get(batch.field, [])) if batch.field is not None else 0
        if batch.form:
            reason = f"no readable answer to any of its fields ({', '.join(batch.form)})"
        elif batch.field is None:
            reason = "no answer of any kind in the export"
        elif answered:
            reason = f"no readable answer to {batch.field} ({answered} received, none readable)"
        else:
            reason = f"no annotator answered {batch.field}"
        result = ObjectResult.failed(object_id, task_type or TaskType.CUSTOM.value, reason, issues)
        entry = result.to_gt(attr, job_name=job_name, created=created)
        shapes = (voted or {}).get(object_id)
        _annotate(entry, item, batch, attr, tool, unread=False, voted=shapes)  # the unread answers are on the failure
        entries.append(entry)
    return entries
