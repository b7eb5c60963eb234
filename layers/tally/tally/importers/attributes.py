"""CVAT shape attributes voted per consolidated shape.

A CVAT import that consolidates shapes votes each consolidated shape's attributes from the workers'
shapes it stands for:

* **boxes** (XML ``box``, COCO ``bbox``), **polylines** (``polyline``), **points** (``points``: each
  point of a shape is a keypoint, so a shape stands for every consolidated keypoint one of its points
  was fused into) and **polygons** (``polygon``, and COCO ``segmentation``: consolidated as instances):
  the consolidation says which workers' items it fused into each result
  (:attr:`tally.gt.response.ObjectResult.members`); those are the shapes that stand for it. A worker's
  polygons grouped as one instance (same ``group_id`` and label) stand for it together: the group votes
  once, with its first part's attributes, and every part counts as voted (none kept as given).

Masks (``mask``) are voted pixel by pixel into one class map: no consolidated shape stands for a
worker's mask, so their attributes stay kept as given with the reason :data:`MASKS`.

Each attribute name is voted separately over the member shapes that carry it (``occluded`` too, ``"0"``
or ``"1"``), weighted by the workers' ``weight`` in ``worker-quality`` when every voter of the shape has
one, else one vote each (``vote``: ``weighted`` or ``plain``). A tie has no winner: the attribute is
left out of ``values`` and its tied values are listed under ``ties``. An attribute none of the members
carries is absent. A COCO annotation's ``attributes`` count only when they are an object (a mapping of
names to values): any other value is kept as given. COCO attribute values that are not text are written as CVAT's XML writes them
(``occluded``: ``"0"``/``"1"``; a checkbox: ``"true"``/``"false"``; a number: its JSON text).

The label gets ``shape-attributes``, one entry per consolidated shape that any worker's shape stands
for (``shape`` is its index in ``annotations``, ``polylines``, ``keypoints`` or ``instances``). The
attributes of shapes that stand for no consolidated shape (one the consolidation left out, one of a
rejected answer, one of another kind) stay in ``kept-as-given`` with the reason :data:`UNMATCHED`
(:func:`vote_attributes` says which shapes were voted; :func:`~.model.annotate_entries` leaves them
out); an object whose label failed keeps them all with the reason :data:`LABEL_FAILED`, and one whose
consolidation did not say which shapes it fused with :data:`NO_MEMBERS`; nothing is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from ..gt.response import Members
from ..tasks.polygons import group_key
from .model import UNMATCHED, Batch, ImportedItem, VotedShapes

__all__ = [
    "FIELDS",
    "LABEL_FAILED",
    "MASKS",
    "NO_MEMBERS",
    "REGION_FIELDS",
    "UNMATCHED",
    "UNMATCHED_REGIONS",
    "failed_reasons",
    "vote_attributes",
    "vote_entries",
    "vote_regions",
]

FIELDS = {"box": "annotations", "polyline": "polylines", "points": "keypoints", "polygon": "instances",
          "bbox": "annotations", "segmentation": "instances"}  # fmt: skip
"""The fields whose consolidated shapes get their attributes voted, and the key of the label's list of
them (``annotations``: boxes; ``instances``: polygons are consolidated as instances)."""
MASKS = (
    "shape attributes of masks: masks are voted pixel by pixel into one class map, so no consolidated "
    "shape stands for a worker's mask: kept as given"
)
LABEL_FAILED = "shape attributes of an object whose label failed: no consolidated shape to vote them on: kept as given"
NO_MEMBERS = (
    "shape attributes of an object whose consolidation did not say which workers' shapes it fused into each "
    "consolidated one: not voted: kept as given"
)
_COCO = ("bbox", "segmentation")
_TIE = 1e-9


def _text(name: str, value: Any) -> str:
    """An attribute value as CVAT's XML writes it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return ("1" if value else "0") if name == "occluded" else ("true" if value else "false")
    return json.dumps(value)


def _shape_attributes(given: Mapping[str, Any]) -> dict[str, str]:
    """A shape's attributes as given: its ``<attribute>`` children (a COCO annotation's ``attributes``)
    and ``occluded``."""
    attributes = given.get("attributes")
    found = {str(k): _text(str(k), v) for k, v in attributes.items()} if isinstance(attributes, dict) else {}
    if "occluded" in given:
        found["occluded"] = str(given["occluded"])
    return found


def _json_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _weights(label: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, float]:
    weights: dict[str, float] = {}
    rows = label.get("worker-quality", meta.get("worker-quality", []))
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and isinstance(row.get("weight"), int | float) and row["weight"] >= 0:
            weights[str(row.get("workerId"))] = float(row["weight"])
    return weights


def _vote(answers: Sequence[tuple[str, dict[str, str]]], weights: Mapping[str, float]) -> dict[str, Any]:
    """One consolidated shape's attributes, each by weighted plurality (plain when a worker has no
    weight); a tie has no winner (``ties``)."""
    weighted = all(worker in weights for worker, _ in answers)
    tops = {
        name: _plurality([(a[name], weights[w] if weighted else 1.0) for w, a in answers if name in a], str)
        for name in sorted({name for _, attributes in answers for name in attributes})
    }
    rows = [{"workerId": worker, "attributes": attributes} for worker, attributes in answers]
    return _decided(tops, weighted, rows)


def _plurality(given: Sequence[tuple[Any, float]], key: Callable[[Any], str] = _json_key) -> list[Any]:
    """The values of the largest total weight (within ``_TIE`` of it), in the order of their ``key``:
    one value, or a tie."""
    totals: dict[str, float] = {}
    shown: dict[str, Any] = {}
    for value, weight in given:
        k = key(value)
        totals[k] = totals.get(k, 0.0) + weight
        shown[k] = value
    best = max(totals.values())
    return [shown[k] for k in sorted(k for k, total in totals.items() if best - total <= _TIE)]


def _decided(tops: Mapping[str, list[Any]], weighted: bool, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A vote's entry from each name's top values (one: the value; else a tie, no winner)."""
    out: dict[str, Any] = {"values": {name: top[0] for name, top in tops.items() if len(top) == 1}}
    ties = {name: top for name, top in tops.items() if len(top) != 1}
    if ties:
        out["ties"] = ties
    out["vote"] = "weighted" if weighted else "plain"
    out["answers"] = rows
    return out


def _point_shapes(given: Sequence[Mapping[str, Any]]) -> list[int]:
    """Per keypoint of a CVAT points answer, the ``<points>`` shape it came from (each shape's points,
    in order, are its keypoints)."""
    return [j for j, shape in enumerate(given) for _ in str(shape.get("points", "")).split(";")]


def _groups(given: Sequence[Mapping[str, Any]]) -> dict[int, list[int]]:
    """Per grouped ``<polygon>`` shape of an answer, every part of its group (nonzero ``group_id``, label):
    the parts of one instance drawn in parts (the polygon task's :func:`~tally.tasks.polygons.group_key`)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, shape in enumerate(given):
        if (key := group_key({"group": shape.get("group_id"), "label": shape.get("label")})) is not None:
            groups.setdefault(key, []).append(i)
    return {i: parts for parts in groups.values() for i in parts}


def _coco_shapes(item: ImportedItem, worker: str, field: str) -> list[tuple[dict[str, Any], Any]]:
    """Per item of a COCO answer to ``field`` (a box per annotation; an instance per annotation with a
    segmentation), the annotation: what its attributes are voted from, and as the field ``attributes``
    keeps it."""
    annotations = next((a.given for a in item.fields.get("bbox", []) if a.worker == worker), None) or []
    if field == "segmentation":
        annotations = [
            a for a in annotations if isinstance(a.get("segmentation"), dict) or (
                isinstance(a.get("segmentation"), list) and a.get("segmentation"))
        ]  # fmt: skip
    return [(a, {"id": a.get("id"), "attributes": a["attributes"]}
             if isinstance(a.get("attributes"), dict) and a["attributes"] else None)
            for a in annotations]  # fmt: skip  # other attributes vote nothing: kept as given


def vote_attributes(
    label: dict[str, Any], meta: Mapping[str, Any], item: ImportedItem, field: str, members: Members | None = None
) -> VotedShapes | None:
    """Vote the attributes of one consolidated label in place (module docstring); ``members``: the
    consolidation's (:attr:`~tally.gt.response.ObjectResult.members`). Returns the shapes voted (what
    ``kept-as-given`` leaves out) and the reason for the others; ``None`` when the field's shapes are not
    consolidated shapes."""
    key = FIELDS.get(field)
    if key is None:
        return None
    shapes = label.get(key)
    if "failure-reason" in label or not isinstance(shapes, list):
        return VotedShapes({}, {"attributes": LABEL_FAILED})
    if members is None:
        return VotedShapes({}, {"attributes": NO_MEMBERS})  # not said which shapes it fused: nothing is voted
    voters: list[list[tuple[str, dict[str, str]]]] = [[] for _ in shapes]
    matched: dict[str, list[Any]] = {}
    refused = {r.get("workerId") for r in label.get("rejected-answers", []) if isinstance(r, dict)}  # by the core
    answers = {a.worker: a for a in item.fields.get(field, []) if a.readable and isinstance(a.given, list)}
    answers = {w: a for w, a in answers.items() if w not in refused}  # a rejected answer's shapes vote nothing
    found: dict[str, list[tuple[int, int]]] = {}  # per worker, (consolidated shape, item of the answer)
    for k, fused in enumerate(members):
        for worker, j in fused:
            if worker in answers and k < len(voters):
                found.setdefault(worker, []).append((k, j))
    for worker, answer in answers.items():
        given = _coco_shapes(item, worker, field) if field in _COCO else [(s, s) for s in answer.given]
        to_shape = _point_shapes(answer.given) if field == "points" else None
        seen: set[int] = set()
        groups = _groups(answer.given) if field == "polygon" else {}
        for k, j in found.get(worker, ()):
            if to_shape is not None:
                j = to_shape[j] if j < len(to_shape) else len(given)
            if j >= len(given):
                continue  # not a shape of the answer as given (never, as the readers convert): no vote
            shape = given[j][0]
            attributes = _shape_attributes(shape)
            if attributes:  # a COCO annotation without attributes has nothing to vote
                voters[k].append((worker, attributes))
            # the group votes once: a part whose attributes are the voting part's is voted with it; one
            # with others (or dropped for its shape) stays kept as given
            parts = [j, *(i for i in groups.get(j, ()) if i != j)]
            for part in parts:
                same = part == j or _shape_attributes(given[part][0]) == attributes
                if same and part not in seen and given[part][1] is not None:
                    seen.add(part)
                    matched.setdefault(worker, []).append(given[part][1])
    weights = _weights(label, meta)
    voted = [{"shape": k, **_vote(answers, weights)} for k, answers in enumerate(voters) if answers]
    if voted:
        label["shape-attributes"] = voted
    return VotedShapes({"attributes": matched}, {"attributes": UNMATCHED})


def _imported(
    entries: Sequence[Mapping[str, Any]], batch: Batch
) -> Iterator[tuple[str, ImportedItem, Mapping[str, Any]]]:
    """Each response entry of an imported item: its object id, the item and the entry's content."""
    for entry in entries:
        object_id = str(entry.get("datasetObjectId"))
        item = batch.items.get(object_id)
        if item is not None:
            yield object_id, item, entry["consolidatedAnnotation"]["content"]


def vote_entries(
    entries: Sequence[dict[str, Any]], batch: Batch, attr: str, members: Mapping[str, Members]
) -> dict[str, VotedShapes]:
    """Vote the shape attributes of every consolidated entry of a CVAT import (XML or COCO); ``members``
    per object: the consolidation's (:attr:`~tally.gt.response.ObjectResult.members`). Returns, per
    object, the shapes voted and the reason for the others, for :func:`~.model.annotate_entries`."""
    field = batch.field
    if field is None or not any("attributes" in item.fields for item in batch.items.values()):
        return {}  # no shape of the export has an attribute (or is occluded): nothing to vote
    out: dict[str, VotedShapes] = {}
    for object_id, item, content in _imported(entries, batch):
        if field == "mask":
            reason = LABEL_FAILED if "failure-reason" in content[attr] else MASKS
            out[object_id] = VotedShapes({}, {"attributes": reason})
            continue
        if field not in FIELDS:
            continue
        voted = vote_attributes(content[attr], content.get(f"{attr}-metadata", {}), item, field, members.get(object_id))
        if voted is not None:
            out[object_id] = voted
    return out


# -- Label Studio: per-region fields ---------------------------------------------------------------------

REGION_FIELDS = {"boxes": "annotations", "keypoints": "keypoints", "polygons": "instances", "polylines": "polylines"}
"""The region kinds of a Label Studio import whose per-region fields are voted, and the key of the
label's list of them (polygons, from ``polygonlabels`` or closed ``vectorlabels`` paths, are consolidated
as instances; polylines are open ``vectorlabels`` paths)."""
UNMATCHED_REGIONS = (
    "per-region fields of regions that stand for no consolidated region (left out by the consolidation, in a "
    "rejected answer, of another field, or not attached to a region by a text or integer id): kept as given"
)
REGION_LABEL_FAILED = (
    "per-region fields of an object whose label failed: no consolidated region to vote them on: kept as given"
)
REGION_NO_MEMBERS = (
    "per-region fields of an object whose consolidation did not say which annotators' regions it fused into "
    "each consolidated one: not voted: kept as given"
)
REGION_TEXT = (
    "free text per region (TextArea): one text per annotator and region, which no vote chooses soundly: kept as given"
)
REGION_FORM = (
    "per-region fields of a region field consolidated in a form: not voted (the form driver does not report "
    "which annotators' regions joined each consolidated one): kept as given"
)
_PER_REGION = " (per region)"
_REGION_VALUES = {"choices": "choices", "taxonomy": "taxonomy", "number": "number", "rating": "rating"}


def _region_value(result: Mapping[str, Any]) -> tuple[str, Any] | None:
    """A per-region result's ``(type, value)`` (a single choice as itself), or ``None`` when it holds none."""
    rtype = str(result.get("type", ""))
    value = result.get("value")
    key = _REGION_VALUES.get(rtype)
    if key is None or not isinstance(value, dict) or key not in value:
        return None
    found = value[key]
    if rtype == "choices" and isinstance(found, list) and len(found) == 1:
        found = found[0]
    if rtype in ("number", "rating") and (isinstance(found, bool) or not isinstance(found, int | float)):
        return None
    return rtype, found


def _median(answers: Sequence[tuple[Any, float]]) -> list[Any]:
    """The weighted median of numbers: one value, or the two either side of an even split (a tie)."""
    ranked = sorted(answers, key=lambda a: a[0])
    total = sum(weight for _, weight in ranked)
    running = 0.0
    for k, (value, weight) in enumerate(ranked):
        running += weight
        if running >= total / 2 - _TIE:
            if abs(running - total / 2) <= _TIE and k + 1 < len(ranked) and ranked[k + 1][0] != value:
                return [value, ranked[k + 1][0]]
            return [value]
    return []


def _vote_region(
    answers: Sequence[tuple[str, dict[str, tuple[str, Any]]]], weights: Mapping[str, float]
) -> dict[str, Any]:
    """One consolidated region's per-region fields: choices by weighted plurality, numbers and ratings by
    weighted median (a name whose values are not all numbers or ratings: by plurality); a tie has no
    winner (``ties``)."""
    weighted = all(worker in weights for worker, _ in answers)
    tops: dict[str, list[Any]] = {}
    for name in sorted({name for _, fields in answers for name in fields}):
        given = [(fields[name], weights[worker] if weighted else 1.0) for worker, fields in answers if name in fields]
        numbers = all(kind in ("number", "rating") for (kind, _), _ in given)
        tops[name] = (_median if numbers else _plurality)([(value, weight) for (_, value), weight in given])
    rows = [
        {"workerId": worker, "attributes": {name: value for name, (_, value) in fields.items()}}
        for worker, fields in answers
    ]
    return _decided(tops, weighted, rows)


def _annotation(item: ImportedItem, origin: int | None) -> Mapping[str, Any]:
    """The task's annotation an answer was read from (its ``origin``, recorded by the reader)."""
    task = item.source.get("task", {})
    annotations = task.get("annotations", task.get("completions", []))
    if origin is None or not isinstance(annotations, list) or not 0 <= origin < len(annotations):
        return {}
    found = annotations[origin]
    return found if isinstance(found, dict) else {}


def _region_id(result: Mapping[str, Any]) -> str | int | None:
    """A result's region id: text or an integer (not a boolean); anything else attaches nothing."""
    found = result.get("id")
    return found if isinstance(found, str) or (isinstance(found, int) and not isinstance(found, bool)) else None


def failed_reasons(batch: Batch) -> dict[str, VotedShapes]:
    """Per object the import did not consolidate (:attr:`~.model.Batch.failed`: no readable answer), the
    reason its shape attributes or per-region fields are kept, when the import consolidates shapes they
    are voted on (in a Label Studio form: :data:`REGION_FORM`, as on its other objects)."""
    per_region = [name for name, kind in batch.fields.items() if kind == "per-region"]
    if per_region and batch.form:
        reasons = dict.fromkeys(per_region, REGION_FORM)  # as on the form's consolidated objects
    elif per_region and batch.kind in REGION_FIELDS:
        reasons = dict.fromkeys(per_region, REGION_LABEL_FAILED)
    elif batch.field in FIELDS or batch.field == "mask":
        reasons = {"attributes": LABEL_FAILED}
    else:
        return {}
    return {object_id: VotedShapes({}, reasons) for object_id in batch.failed}


def vote_regions(
    entries: Sequence[dict[str, Any]], batch: Batch, attr: str, members: Mapping[str, Members]
) -> dict[str, VotedShapes]:
    """Vote the per-region fields (``perRegion`` Choices, Taxonomy, Number, Rating) of every consolidated
    region of a Label Studio import of boxes, keypoints, polygons or polylines (``shape-attributes``, keyed by the
    control's name); free text per region and the regions no vote takes stay kept as given (their
    reasons). Returns, per object, what was voted, for :func:`~.model.annotate_entries`."""
    per_region = [name for name, kind in batch.fields.items() if kind == "per-region"]
    if not per_region:
        return {}
    if batch.form:
        return {e_id: VotedShapes({}, dict.fromkeys(per_region, REGION_FORM)) for e_id in batch.items}
    field, kind = batch.field, batch.kind
    if field is None or kind not in REGION_FIELDS:
        return {}
    out: dict[str, VotedShapes] = {}
    for object_id, item, content in _imported(entries, batch):
        label = content[attr]
        shapes = label.get(REGION_FIELDS[kind])
        fused = members.get(object_id)
        if "failure-reason" in label or not isinstance(shapes, list):
            out[object_id] = VotedShapes({}, dict.fromkeys(per_region, REGION_LABEL_FAILED))
            continue
        if fused is None:
            out[object_id] = VotedShapes({}, dict.fromkeys(per_region, REGION_NO_MEMBERS))
            continue
        source = item.source.get("fields", {}).get(field, {})
        refused = {r.get("workerId") for r in label.get("rejected-answers", []) if isinstance(r, dict)}
        voters: list[list[tuple[str, dict[str, tuple[str, Any]]]]] = [[] for _ in shapes]
        matched: dict[str, dict[str, list[Any]]] = {}
        for answer in item.fields.get(field, []):
            if not answer.readable or answer.worker in refused:
                continue
            results = [r for r in _annotation(item, answer.origin).get("result") or [] if isinstance(r, dict)]
            regions = [r for r in results if r.get("from_name") == source.get("from_name")
                       and r.get("type") == source.get("type")]  # fmt: skip
            attached: dict[str | int, list[Mapping[str, Any]]] = {}
            for r in results:
                rid = _region_id(r)
                if rid is not None and r.get("type") != "textarea" and (
                        f"{r.get('from_name') or r.get('type')}{_PER_REGION}" in per_region):  # fmt: skip
                    attached.setdefault(rid, []).append(r)
            pairs = [(k, j) for k, ms in enumerate(fused) for worker, j in ms if worker == answer.worker]
            for k, j in pairs:
                rid = _region_id(regions[j]) if j < len(regions) and k < len(voters) else None
                fields: dict[str, tuple[str, Any]] = {}
                for one in attached.get(rid, []) if rid is not None else []:
                    found = _region_value(one)
                    if found is None:
                        continue
                    name = str(one.get("from_name") or one.get("type"))
                    fields[name] = found
                    matched.setdefault(f"{name}{_PER_REGION}", {}).setdefault(answer.worker, []).append(
                        one.get("value")
                    )
                if fields:
                    voters[k].append((answer.worker, fields))
        weights = _weights(label, content.get(f"{attr}-metadata", {}))
        voted = [{"shape": k, **_vote_region(answers, weights)} for k, answers in enumerate(voters) if answers]
        if voted:
            label["shape-attributes"] = voted
        texts = {name for name in per_region for a in item.fields.get(name, []) if _is_text(a.given)}
        reasons = {name: REGION_TEXT if name in texts else UNMATCHED_REGIONS for name in per_region}
        out[object_id] = VotedShapes(matched, reasons)
    return out


def _is_text(given: Any) -> bool:
    values = given if isinstance(given, list) else [given]
    return any(isinstance(v, dict) and "text" in v for v in values)
