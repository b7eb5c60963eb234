"""What an importer reads, and the Ground Truth payload tally's core consolidates from it.

An export is a list of :class:`ImportedItem` (one per data object). Each item has the answers of
every annotator per **field** (a Label Studio control tag, a CVAT shape kind, a COCO annotation part),
and each answer is either the JSON a Ground Truth crowd element would have submitted for it
(``element``) or, when it cannot be read, the value as given with the ``reason``.

tally's core consolidates one field per batch (several fields per answer are a form, which comes with
issue 20): :func:`build_batch` picks it (the one named, or the field of a kind tally consolidates that
most items have), puts its readable answers in the payload, and keeps everything else for
:func:`annotate_entries`, which adds to each response entry, in the label itself:

* ``rejected-answers``: answers of the field that could not be read, each with its reason (besides
  the ones the core rejects);
* ``kept-as-given``: every other field, verbatim, with the reason it was not consolidated;
* ``gold-answers``: the annotators whose answer the tool marks as ground truth, and every other
  annotator's agreement with it (:mod:`.gold`). A gold answer is never outvoted. For a choice
  (:data:`GOLD_EVIDENCE_KINDS`) every answer goes to the batch model, the gold one marked ``gold``:
  Dawid–Skene holds the object at the gold answer, so the label is it with confidence 1 and the others'
  answers to it measure their workers for the rest of the batch (:data:`GOLD_EVIDENCE_NOTE`). Other
  kinds are consolidated from the gold answer alone, so the label is the gold answer in the task's own
  shape, with confidence 1; the others' answers are scored against it, not voted (:data:`GOLD_NOTE`);
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

from ..gt.answers import AnswerIssue
from ..gt.response import ObjectResult, TaskType
from .gold import agreements

__all__ = [
    "CONSOLIDATED_KINDS",
    "GOLD_EVIDENCE_KINDS",
    "GOLD_EVIDENCE_NOTE",
    "GOLD_NOTE",
    "GOLD_UNREAD_NOTE",
    "PASSED_ON_PNG_LEVEL",
    "WAITS",
    "Batch",
    "FieldAnswer",
    "GoldItem",
    "ImportedItem",
    "annotate_entries",
    "build_batch",
    "failed_entries",
]

CONSOLIDATED_KINDS = frozenset(
    {"classification", "multi-label", "entities", "boxes", "keypoints", "polygons", "semantic", "instances"}
)
"""The Ground Truth answer kinds tally's core consolidates today."""

WAITS = {
    "number": "numbers (ratings, sliders) wait for issue 21",
    "text": "free text waits for issue 21",
    "lines": "polylines wait for issue 21",
    "per-region": "a field attached to a region is part of a form: waits for issue 20",
    "attributes": "shape attributes are per-object form fields: wait for issue 20",
}
"""Why a field of a known kind tally cannot consolidate yet is kept as given."""

PASSED_ON_PNG_LEVEL = 1
"""zlib level of the answer PNGs an importer makes from another tool's masks: read once by the core,
never kept (level 1 encodes about a third faster than 6 and decodes faster too, for a larger PNG)."""

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

    def as_json(self) -> dict[str, Any]:
        if self.element is None:
            return {"workers": list(self.workers), "note": GOLD_UNREAD_NOTE}
        note = GOLD_EVIDENCE_NOTE if self.evidence else GOLD_NOTE
        return {"workers": list(self.workers), "scores": list(self.scores), "note": note}


@dataclass
class Batch:
    """The payload for the core, and what it leaves out."""

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


def build_batch(items: Sequence[ImportedItem], wanted: str | None = None) -> Batch:
    """The payload of the chosen field (see :func:`choose_field`), one element per item that has a
    readable answer to it."""
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


def _annotation(chosen: str | None, answer: FieldAnswer, *, gold: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {"content": json.dumps({chosen: answer.element}, separators=(",", ":"))}
    if gold:
        data["gold"] = True
    return {"workerId": answer.worker, "annotationData": data}


def _gold(batch: Batch, item: ImportedItem, kind: str, readable: list[FieldAnswer]) -> list[FieldAnswer]:
    """The answers an item with a gold annotation is consolidated from: its gold answers alone, the
    others scored against the first (:mod:`.gold`) and kept for the review payload; every answer
    when no gold answer to the field can be read."""
    gold = [a for a in readable if a.worker in item.gold]
    if not gold:
        batch.gold[item.object_id] = GoldItem(list(item.gold), None, [])
        return readable
    others = [a for a in readable if a.worker not in item.gold]
    found = agreements(kind, [a.element for a in others], gold[0].element)
    scores = [{"workerId": a.worker, "agreement": score} for a, score in zip(others, found, strict=True)]
    evidence = kind in GOLD_EVIDENCE_KINDS
    batch.gold[item.object_id] = GoldItem([a.worker for a in gold], gold[0].element, scores, evidence)
    if evidence:
        return [*gold, *others]  # the batch model holds the object at the first gold answer
    if others:
        batch.scored[item.object_id] = [_annotation(batch.field, a) for a in others]
    return gold


def _kept(item: ImportedItem, chosen: str | None, kinds: Mapping[str, str]) -> list[dict[str, Any]]:
    kept = []
    for name, answers in item.fields.items():
        if name == chosen or not answers:
            continue
        kind = kinds.get(name, item.kinds[name])
        if kind in WAITS:
            reason = WAITS[kind]
        elif kind in CONSOLIDATED_KINDS:
            reason = f"another field ({chosen}) was consolidated; name this one to consolidate it"
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


def _hold_gold(label: dict[str, Any], meta: dict[str, Any], gold: Any, class_ids: Mapping[str, int]) -> None:
    """Make a consolidated label the gold answer's: a class the batch model decided otherwise is set to
    the gold one (the other kinds are consolidated from the gold answer alone, which they keep as it
    is); the confidence is 1."""
    if "class-name" in label and isinstance(gold, dict) and gold.get("label") in class_ids:
        name = str(gold["label"])
        label["class-name"] = meta["class-name"] = name
        label["class-id"] = class_ids[name]
    elif "class-names" in label and isinstance(gold, dict) and all(n in class_ids for n in gold.get("labels", [])):
        ids = sorted({class_ids[n] for n in gold["labels"]})
        names = {i: n for n, i in class_ids.items()}
        label["class-ids"] = ids
        label["class-names"] = [names[i] for i in ids]
        label["class-map"] = meta["class-map"] = {str(i): names[i] for i in ids}
        label["confidence-map"] = meta["confidence-map"] = {str(i): 1.0 for i in ids}
    label["confidence"] = 1.0
    if "confidence" in meta:
        meta["confidence"] = 1.0


def _annotate(
    entry: dict[str, Any],
    item: ImportedItem,
    batch: Batch,
    attr: str,
    tool: str,
    unread: bool,
    class_ids: Mapping[str, int] | None = None,
) -> None:
    content = entry["consolidatedAnnotation"]["content"]
    label, meta = content[attr], content[f"{attr}-metadata"]
    if unread:
        issues = batch.unread.get(item.object_id, [])
        _merge_issues(label, issues)
        _merge_issues(meta, issues)
    kept = _kept(item, batch.field, batch.fields)
    if kept:
        label["kept-as-given"] = kept
    gold = batch.gold.get(item.object_id)
    if gold is None and item.gold:
        gold = GoldItem(list(item.gold), None, [])
    if gold is not None:
        if gold.element is not None and class_ids is not None and "failure-reason" not in label:
            _hold_gold(label, meta, gold.element, class_ids)
        label["gold-answers"] = gold.as_json()
    if item.notes:
        label["import-notes"] = list(item.notes)
    label["imported-from"] = {"tool": tool, "field": batch.field}


def _class_ids(batch: Batch, labels: Sequence[str] | None) -> dict[str, int]:
    """Class name -> class id as the core numbered them: the job's label list, else (as the core
    does) the sorted names every answer of the batch used."""
    if labels:
        return {name: i for i, name in enumerate(labels)}
    used: set[str] = set()
    for element in batch.payload:
        for annotation in element["annotations"]:
            answer = json.loads(annotation["annotationData"]["content"]).get(batch.field)
            if isinstance(answer, dict):
                if isinstance(answer.get("label"), str):
                    used.add(answer["label"])
                used.update(n for n in answer.get("labels", []) if isinstance(n, str))
    return {name: i for i, name in enumerate(sorted(used))}


def annotate_entries(
    entries: list[dict[str, Any]], batch: Batch, attr: str, tool: str, labels: Sequence[str] | None = None
) -> None:
    """Add the importer's facts (module docstring) to each of the core's response entries, in place;
    ``labels``: the job's label list given to the core, if any (to number a gold class)."""
    class_ids = _class_ids(batch, labels) if batch.gold and batch.kind in ("classification", "multi-label") else {}
    for entry in entries:
        item = batch.items.get(str(entry.get("datasetObjectId")))
        if item is not None:
            _annotate(entry, item, batch, attr, tool, unread=True, class_ids=class_ids)


def failed_entries(
    batch: Batch, attr: str, tool: str, *, job_name: str, created: str, task_type: str | None
) -> list[dict[str, Any]]:
    """Response entries for the items not sent to the core: no readable answer to the field."""
    entries = []
    for object_id in batch.failed:
        item = batch.items[object_id]
        issues = batch.unread.get(object_id, [])
        answered = len(item.fields.get(batch.field, [])) if batch.field is not None else 0
        if batch.field is None:
            reason = "no answer of any kind in the export"
        elif answered:
            reason = f"no readable answer to {batch.field} ({answered} received, none readable)"
        else:
            reason = f"no annotator answered {batch.field}"
        result = ObjectResult.failed(object_id, task_type or TaskType.CUSTOM.value, reason, issues)
        entry = result.to_gt(attr, job_name=job_name, created=created)
        _annotate(entry, item, batch, attr, tool, unread=False)  # the unread answers are on the failure
        entries.append(entry)
    return entries
