"""CVAT shape attributes voted per consolidated box or polyline.

A CVAT XML import that consolidates boxes (the field ``box``) or polylines (``polyline``) votes each
consolidated shape's attributes from the workers' shapes it stands for. A worker's box stands for the
consolidated box of its label it overlaps most (IoU at least
:data:`~tally.forms.consolidate.MIN_LINK_IOU`, each box for one consolidated box:
:func:`~tally.forms.consolidate.match_boxes`, the matcher of the hierarchical-boxes forms). A
consolidated polyline names the workers whose lines were fused into it (``workers``); each of them
stands for it with their line of its label nearest to it (:func:`~tally.aggregation.lines.line_distance`,
each line for one consolidated line). Each attribute name is voted separately over the member shapes
that carry it (``occluded`` too, ``"0"`` or ``"1"``), weighted by the workers' ``weight`` in
``worker-quality`` when every voter of the shape has one, else one vote each (``vote``: ``weighted``
or ``plain``). A tie has no winner: the attribute is left out of ``values`` and its tied values are
listed under ``ties``. An attribute none of the members carries is absent.

The label gets ``shape-attributes``, one entry per consolidated shape that any worker's shape stands
for (``shape`` is its index in ``annotations`` or ``polylines``). The attributes of shapes that stand
for no consolidated shape (one the consolidation left out, one of a rejected answer, one of another
kind) stay in ``kept-as-given`` with the reason :data:`UNMATCHED`; nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..aggregation.lines import line_distance
from ..forms.consolidate import match_boxes
from ..tasks.review import greedy_pairs
from .model import Batch, ImportedItem

__all__ = ["UNMATCHED", "vote_attributes", "vote_entries"]

UNMATCHED = (
    "shape attributes of shapes that stand for no consolidated shape (left out by the consolidation, "
    "in a rejected answer, or of another shape kind): kept as given"
)
_TIE = 1e-9


def _shape_attributes(given: Mapping[str, Any]) -> dict[str, str]:
    """A shape's attributes as given: its ``<attribute>`` children and ``occluded``."""
    found = {str(k): str(v) for k, v in (given.get("attributes") or {}).items()}
    if "occluded" in given:
        found["occluded"] = str(given["occluded"])
    return found


def _weights(label: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, float]:
    weights: dict[str, float] = {}
    rows = label.get("worker-quality", meta.get("worker-quality", []))
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and isinstance(row.get("weight"), int | float) and row["weight"] >= 0:
            weights[str(row.get("workerId"))] = float(row["weight"])
    return weights


def _vote(answers: Sequence[tuple[str, dict[str, str]]], weights: Mapping[str, float]) -> dict[str, Any]:
    weighted = all(worker in weights for worker, _ in answers)
    values: dict[str, str] = {}
    ties: dict[str, list[str]] = {}
    names = sorted({name for _, attributes in answers for name in attributes})
    for name in names:
        totals: dict[str, float] = {}
        for worker, attributes in answers:
            if name in attributes:
                value = attributes[name]
                totals[value] = totals.get(value, 0.0) + (weights[worker] if weighted else 1.0)
        best = max(totals.values())
        top = sorted(value for value, total in totals.items() if best - total <= _TIE)
        if len(top) == 1:
            values[name] = top[0]
        else:
            ties[name] = top
    out: dict[str, Any] = {"values": values}
    if ties:
        out["ties"] = ties
    out["vote"] = "weighted" if weighted else "plain"
    out["answers"] = [{"workerId": worker, "attributes": attributes} for worker, attributes in answers]
    return out


def _remove(given: list[Any], shape: Mapping[str, Any]) -> None:
    for index, other in enumerate(given):
        if other == shape:
            del given[index]
            return


def _match_lines(lines: Sequence[Mapping[str, Any]], worker: str, items: Sequence[Any]) -> dict[int, int]:
    """Which of one worker's lines each consolidated line the worker is named in (``workers``) stands
    for: of the worker's lines of its label, the nearest (:func:`~tally.aggregation.lines.line_distance`),
    each line for one consolidated line, nearest pairs first."""
    drawn = [(j, item.get("label"), _xy(item)) for j, item in enumerate(items) if isinstance(item, dict)]
    pairs = sorted(
        (line_distance(_xy(line), xy), k, j)
        for k, line in enumerate(lines)
        if worker in line.get("workers", ())
        for j, label, xy in drawn
        if label == line.get("label") and len(xy) >= 2
    )
    return greedy_pairs(pairs)


def _xy(line: Mapping[str, Any]) -> list[tuple[float, float]]:
    return [(float(v["x"]), float(v["y"])) for v in line.get("vertices", [])]


def vote_attributes(label: dict[str, Any], meta: Mapping[str, Any], item: ImportedItem, field: str) -> None:
    """Vote the attributes of one consolidated label of boxes or polylines in place (module docstring)."""
    boxes = label.get("annotations")
    lines = label.get("polylines")
    if "failure-reason" in label or not isinstance(boxes if boxes is not None else lines, list):
        return
    shapes: list[Any] = boxes if isinstance(boxes, list) else lines  # type: ignore[assignment]
    names = label.get("class-map", {})
    members: list[list[tuple[str, dict[str, str]]]] = [[] for _ in shapes]
    matched: dict[str, list[Mapping[str, Any]]] = {}
    refused = {r.get("workerId") for r in label.get("rejected-answers", []) if isinstance(r, dict)}  # by the core
    for answer in item.fields.get(field, []):
        if not answer.readable or not isinstance(answer.given, list) or answer.worker in refused:
            continue  # a rejected answer's shapes vote nothing: their attributes stay kept as given
        if isinstance(boxes, list):
            found = match_boxes(boxes, names, answer.element.get("boundingBoxes", []))
        else:
            found = _match_lines(shapes, answer.worker, answer.element.get("polylines", []))
        for k, j in sorted(found.items()):
            members[k].append((answer.worker, _shape_attributes(answer.given[j])))
            matched.setdefault(answer.worker, []).append(answer.given[j])
    weights = _weights(label, meta)
    voted = [{"shape": k, **_vote(answers, weights)} for k, answers in enumerate(members) if answers]
    if voted:
        label["shape-attributes"] = voted
    kept = label.get("kept-as-given")
    if not isinstance(kept, list):
        return
    for entry in list(kept):
        if entry.get("field") != "attributes":
            continue
        answers = []
        for row in entry["answers"]:
            left = list(row["value"])
            for shape in matched.get(row["workerId"], []):
                _remove(left, shape)
            if left:
                answers.append({"workerId": row["workerId"], "value": left})
        if answers:
            entry["answers"] = answers
            entry["reason"] = UNMATCHED
        else:
            kept.remove(entry)
    if not kept:
        del label["kept-as-given"]


def vote_entries(entries: Sequence[dict[str, Any]], batch: Batch, attr: str) -> None:
    """Vote the shape attributes of every consolidated entry of a CVAT XML import of boxes or polylines."""
    field = batch.field
    if field is None or (field, batch.kind) not in (("box", "boxes"), ("polyline", "polylines")):
        return
    if not any("attributes" in item.fields for item in batch.items.values()):
        return  # no shape of the export has an attribute (or is occluded): nothing to vote
    for entry in entries:
        item = batch.items.get(str(entry.get("datasetObjectId")))
        if item is None:
            continue
        content = entry["consolidatedAnnotation"]["content"]
        vote_attributes(content[attr], content.get(f"{attr}-metadata", {}), item, field)
