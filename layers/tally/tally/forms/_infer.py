"""Inferring a form's schema from a batch's answers, when no template says it (or for the keys it
does not name).

The rules, in the order they are tried on each top-level key's values (every worker's answer of the
batch; a key missing from an answer is just absent there):

1. **Annotation elements** by their shape, as tally's tasks recognise them (``tally.tasks``):
   ``{"boundingBoxes": ...}`` is a ``crowd-bounding-box``, ``{"label": ...}`` a classifier (a
   single choice), ``{"labels": [...]}`` a multi-select (a multiple choice), ...; and
   ``{"polylines"}`` / ``{"lines"}`` (no task yet). Options: the labels seen, sorted.
2. **A ranking**: ``{"ordinalRankingDimensions": [...]}`` (``crowd-text-ranking``), or that list
   at the top of the answer.
3. **Objects of booleans** (``{"<value>": true|false}``, what radio buttons and checkboxes submit):
   one key whose objects hold several values is a *checkbox set* (multiple choice), or buttons
   sharing a name (single choice) when exactly one value is true in every answer. Keys whose
   objects hold one value each are *radio buttons under sibling names* when, taken together,
   exactly one of them is true in every answer — grouped greedily in the order the answers show
   them — and *lone checkboxes* (booleans) otherwise. Telling a radio question from checkboxes
   that happened to be ticked one at a time takes evidence: at least :data:`MIN_ANSWERS`
   answers; with fewer the keys stay checkboxes, with a reason.
4. **Booleans** (``crowd-toggle-button``): booleans.
5. **Numbers**, or strings that all read as numbers (a ``<select>`` or radio of ``1``–``5``): a
   number (step 1 when all are integers); bounds are never guessed from the values seen.
6. **JSON strings** (a hidden input a script fills): ``json``, with the shape of the parsed
   values when they share one (a list of boxes is ``bounding-box``, parent ids kept in the value).
7. **A small repeated set of strings**: at most :data:`MAX_OPTIONS` distinct values, each at most
   :data:`MAX_OPTION_LENGTH` characters, seen :data:`MIN_REPEATS` times each on average: a single
   choice (``""`` is no answer, not an option). **Other strings** (long, or mostly unique): text.
8. **Lists of strings**: a multiple choice (``<select multiple>``).
9. Anything else (objects of no known shape, values of several types): ``unknown``, with a reason.

Inferred options are what the answers showed, never a closed list (``options_from_data``).

Examples:
    >>> answers = [
    ...     {"tech": {"tech": True}, "politics": {"politics": False}, "quality": 4, "comment": "clear"},
    ...     {"tech": {"tech": False}, "politics": {"politics": True}, "quality": 2, "comment": "biased, I think"},
    ...     {"tech": {"tech": True}, "politics": {"politics": False}, "quality": 5},
    ... ]
    >>> [(f.name, f.kind, f.keys) for f in infer_schema(answers)]  # doctest: +NORMALIZE_WHITESPACE
    [('politics|tech', 'single-choice', ('politics', 'tech')), ('quality', 'number', ('quality',)),
     ('comment', 'text', ('comment',))]
    >>> infer_schema(answers).field("comment").reason
    'absent from 1 of 3 answers (a crowd-input left empty is absent)'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from ._literal import number
from ._schema import Field, FieldKind, FormSchema
from ._template import ELEMENTS, parse_template

__all__ = [
    "MAX_OPTIONS",
    "MAX_OPTION_LENGTH",
    "MIN_ANSWERS",
    "MIN_REPEATS",
    "complete_schema",
    "infer_schema",
    "read_form",
    "recognise",
]

MIN_ANSWERS = 3
"""Answers needed before booleans that are never true together are called one radio question."""
MAX_OPTIONS = 20
"""Most distinct strings a single choice is inferred to have."""
MAX_OPTION_LENGTH = 60
"""Longest string an inferred option may be (longer ones are free text)."""
MIN_REPEATS = 2.0
"""Answers per distinct string, on average, for strings to be a choice rather than free text."""

_RANKING_KEY = "ordinalRankingDimensions"
_ELEMENT_OF_TASK = {e.task: tag for tag, e in reversed(list(ELEMENTS.items())) if e.task is not None}
_ITEM_SHAPES = (
    ("bounding-box", ("left", "top", "width", "height")),
    ("polygon", ("vertices",)),
    ("named-entity", ("startOffset", "endOffset")),
    ("keypoint", ("x", "y")),
)
"""A JSON list's shape by the keys every one of its items has (the boxes a script serialises)."""


def recognise(element: Mapping[str, Any]) -> str | None:
    """The name of tally's task whose answers look like ``element`` (``tally.tasks`` recognises
    them), ``None`` when none does.

    >>> recognise({"boundingBoxes": [], "inputImageProperties": {}}), recognise({"rating": 3})
    ('bounding-box', None)
    """
    from ..tasks.registry import ENTRIES  # lazily: tally.tasks imports the event models

    for entry in ENTRIES:
        if entry.recognises(element):
            return entry.kind.shape.name
    return None


def read_form(template: str | None, contents: Sequence[Mapping[str, Any]]) -> FormSchema:
    """The form of a batch: the worker template's schema when it names any field, completed from
    the answers (:func:`complete_schema`); else inferred from the answers (:func:`infer_schema`)."""
    if template is not None:
        schema = parse_template(template)
        if len(schema):
            return complete_schema(schema, contents)
        inferred = infer_schema(contents)
        note = "the template names no form control: every field is inferred from the answers"
        return FormSchema(inferred.fields, (*schema.notes, note))
    return infer_schema(contents)


def complete_schema(schema: FormSchema, contents: Sequence[Mapping[str, Any]]) -> FormSchema:
    """``schema`` with what only the answers show: a field (inferred) for every key no field of
    the schema claims, one concrete field per key a Liquid-named field generated (the named field
    stays, for keys later answers may hold), and a ``json`` field's shape."""
    unclaimed: dict[str, None] = {}
    generated: dict[str, dict[str, Field]] = {}
    for content in contents:
        for key in content:
            if key in schema.by_key:
                continue
            generator = schema.generator(key)
            if generator is None:
                unclaimed[key] = None
            else:
                generated.setdefault(generator.name, {}).setdefault(key, generator.named(key))
    fields: list[Field] = []
    for f in schema.fields:
        values = [c[f.name] for c in contents if f.name in c and c[f.name] is not None]
        if f.kind == "text" and f.element == "input type=hidden" and values:
            texts = [v for v in values if isinstance(v, str) and v != ""]
            if (
                texts
                and len(texts) == len([v for v in values if v != ""])
                and all(_json_container(t) is not None for t in texts)
            ):
                note = "its values are JSON (read from the answers)"
                f = replace(f, kind="json", reason=note if f.reason is None else f"{f.reason}; {note}")
        if f.kind == "json" and f.shape is None:
            shape, _ = _json_shape(values)
            f = replace(f, shape=shape) if shape is not None else f
        fields.extend(generated.get(f.name, {}).values())
        fields.append(f)
    if unclaimed:
        extra = infer_schema([{k: c[k] for k in unclaimed if k in c} for c in contents])
        fields.extend(extra.fields)
    return FormSchema(tuple(fields), schema.notes)


def infer_schema(contents: Sequence[Mapping[str, Any]]) -> FormSchema:
    """A schema read off a batch's answers (every worker's content): one field per top-level key,
    radio buttons under sibling names grouped into one question. See the module's rules."""
    order: dict[str, None] = {}
    for content in contents:
        order.update(dict.fromkeys(content))
    present = {k: [c[k] for c in contents if k in c] for k in order}
    flags = {k: _bool_map([x for x in v if x is not None]) for k, v in present.items()}
    grouped, group_of = _radio_groups([k for k, f in flags.items() if f == "single"], contents)
    fields: list[Field] = []
    for key in order:
        if key in group_of:
            group = grouped[group_of[key]]
            if key == group[0]:
                fields.append(_group_field(group, contents))
            continue
        fields.append(_infer_one(key, present[key], flags[key], len(contents)))
    return FormSchema(tuple(fields))


def _bool_map(values: Sequence[Any]) -> str | None:
    """``single`` when every value is an object of one boolean under one and the same key;
    ``several`` when every value is an object of booleans; else ``None``."""
    if not values or not all(
        isinstance(v, dict) and v and all(isinstance(b, bool) for b in v.values()) for v in values
    ):
        return None
    inner = {k for v in values for k in v}
    return "single" if len(inner) == 1 and all(len(v) == 1 for v in values) else "several"


def _true(value: Any) -> bool:
    return isinstance(value, dict) and any(b is True for b in value.values())


def _radio_groups(
    candidates: Sequence[str], contents: Sequence[Mapping[str, Any]]
) -> tuple[list[list[str]], dict[str, int]]:
    """Greedy: each candidate joins the first open group it is never true together with; a group
    is kept when it has two keys or more and exactly one of them is true in every answer (at least
    :data:`MIN_ANSWERS` answers hold it)."""
    groups: list[list[str]] = []
    for key in candidates:
        for group in groups:
            if all(sum(_true(c.get(k)) for k in (*group, key)) <= 1 for c in contents):
                group.append(key)
                break
        else:
            groups.append([key])
    kept = [
        g
        for g in groups
        if len(g) > 1
        and sum(any(k in c for k in g) for c in contents) >= MIN_ANSWERS
        and all(sum(_true(c.get(k)) for k in g) == 1 for c in contents if any(k in c for k in g))
    ]
    return kept, {k: i for i, g in enumerate(kept) for k in g}


def _group_field(group: Sequence[str], contents: Sequence[Mapping[str, Any]]) -> Field:
    keys = sorted(group)  # the answers' key order is no template order: sorted, the name is stable
    buttons = [(k, next(iter(next(c[k] for c in contents if k in c)))) for k in keys]
    values = [v for _, v in buttons]
    labels = values if len(set(values)) == len(values) else list(keys)
    return Field(
        "|".join(keys),
        "single-choice",
        "crowd-radio-group",
        tuple(labels),
        options_from_data=True,
        buttons=tuple(buttons),
        found="inferred",
        keys=tuple(keys),
        reason=None if labels is values else "its buttons share values: each option is its button's name",
    )


def _infer_one(key: str, values: Sequence[Any], flag: str | None, answers: int) -> Field:
    absent = answers - len(values)
    note = f"absent from {absent} of {answers} answers (a crowd-input left empty is absent)" if absent else None
    field = _kind_of(key, values, flag, answers)
    if note is not None:
        field = replace(field, reason=note if field.reason is None else f"{field.reason}; {note}")
    return field


def _field(key: str, kind: FieldKind, **more: Any) -> Field:
    return Field(key, kind, found="inferred", **more)


def _kind_of(key: str, values: Sequence[Any], flag: str | None, answers: int) -> Field:
    given = [v[0] if isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict) else v for v in values]
    given = [v for v in given if v is not None]
    if not given:
        return _field(key, "unknown", reason="only empty values (null)")
    if flag == "single":
        return _field(key, "boolean", options=tuple(given[0]))
    if flag == "several":
        options = tuple(sorted({k for v in given for k in v}))
        one_each = all(sum(v.values()) == 1 for v in given)
        if one_each and len(given) >= MIN_ANSWERS:
            return _field(key, "single-choice", options=options, options_from_data=True)
        reason = None
        if one_each:
            reason = f"exactly one value was true in each answer, but {len(given)} answers are too few to call it one radio question"
        return _field(key, "multi-choice", options=options, options_from_data=True, reason=reason)
    if key == _RANKING_KEY and all(isinstance(v, list) for v in given):
        return _field(key, "ranking", element="crowd-text-ranking", options=_dimensions(given), options_from_data=True)
    if all(isinstance(v, dict) for v in given):
        return _object_field(key, given)
    if all(isinstance(v, bool) for v in given):
        return _field(key, "boolean")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given):
        return _field(key, "number", step=1 if all(isinstance(v, int) for v in given) else None)
    strings = [v for v in given if isinstance(v, str)]
    if len(strings) == len(given):
        return _strings(key, strings)
    if all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in given):
        options = tuple(sorted({s for v in given for s in v}))
        return _field(key, "multi-choice", options=options, options_from_data=True)
    kinds = sorted({type(v).__name__ for v in given})
    return _field(key, "unknown", reason=f"values of several types ({', '.join(kinds)})")


def _object_field(key: str, given: Sequence[Mapping[str, Any]]) -> Field:
    if all(isinstance(v.get(_RANKING_KEY), list) for v in given):
        dims = _dimensions([v[_RANKING_KEY] for v in given])
        return _field(key, "ranking", element="crowd-text-ranking", options=dims, options_from_data=True)
    tasks = {recognise(v) for v in given}
    if len(tasks) == 1 and None not in tasks:
        task = tasks.pop()
        assert task is not None
        element = _ELEMENT_OF_TASK.get(task)
        spec = ELEMENTS[element] if element is not None else None
        if any(isinstance(v.get("workerComment"), str) for v in given) and task == "classification":
            element = "crowd-image-classifier"
        labels = _labels(given, spec.key if spec is not None else None)
        kind: FieldKind = spec.kind if spec is not None else "annotation"
        return _field(key, kind, element=element, options=labels, options_from_data=True, task=task)
    if len(tasks - {None}) > 1 or (tasks - {None} and None in tasks):
        seen = ", ".join(sorted(str(t) for t in tasks))
        return _field(key, "unknown", reason=f"its objects have different shapes ({seen})")
    return _field(key, "unknown", reason="an object of no shape tally knows")


def _labels(given: Sequence[Mapping[str, Any]], key: str | None) -> tuple[str, ...]:
    found: set[str] = set()
    for value in given:
        inner = value.get(key) if key is not None else None
        if key == "label" and isinstance(inner, str):
            found.add(inner)
        elif key == "labels" and isinstance(inner, list):
            found.update(s for s in inner if isinstance(s, str))
        elif isinstance(inner, list):
            found.update(str(i["label"]) for i in inner if isinstance(i, dict) and "label" in i)
        if key in ("labeledImage", "instances") and isinstance(value.get("labelMappings"), dict):
            found.update(str(k) for k in value["labelMappings"])
    return tuple(sorted(found))


def _dimensions(lists: Sequence[Any]) -> tuple[str, ...]:
    names = {d["name"] for dims in lists for d in dims if isinstance(d, dict) and isinstance(d.get("name"), str)}
    return tuple(sorted(names))


def _strings(key: str, given: Sequence[str]) -> Field:
    answered = [s for s in given if s != ""]
    if not answered:
        return _field(key, "text", reason="only empty strings")
    parsed = [_json_container(s) for s in answered]
    if all(p is not None for p in parsed):
        shape, reason = _json_shape(answered)
        return _field(key, "json", shape=shape, reason=reason)
    numbers = [number(s) for s in answered]
    if all(n is not None for n in numbers):
        step = 1 if all(isinstance(n, int) for n in numbers) else None
        return _field(key, "number", step=step, reason="numbers sent as text")
    distinct = set(answered)
    if (
        len(distinct) <= MAX_OPTIONS
        and max(len(s) for s in distinct) <= MAX_OPTION_LENGTH
        and len(answered) / len(distinct) >= MIN_REPEATS
    ):
        return _field(key, "single-choice", options=tuple(sorted(distinct)), options_from_data=True)
    return _field(key, "text")


def _json_container(text: str) -> Any:
    if text.strip()[:1] not in ("[", "{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (list, dict)) else None


def _json_shape(values: Sequence[Any]) -> tuple[str | None, str | None]:
    """The shape every non-empty parsed value shares (a task name), and a reason when they differ."""
    shapes: set[str | None] = set()
    for value in values:
        parsed = _json_container(value) if isinstance(value, str) else value
        if parsed in (None, [], {}):
            continue
        shapes.add(_shape_of(parsed))
    if len(shapes) == 1:
        return shapes.pop(), None
    if len(shapes) > 1:
        return None, f"its JSON values have different shapes ({', '.join(sorted(str(s) for s in shapes))})"
    return None, None


def _shape_of(parsed: Any) -> str | None:
    if isinstance(parsed, dict):
        return recognise(parsed)
    if isinstance(parsed, list) and all(isinstance(i, dict) for i in parsed):
        for name, keys in _ITEM_SHAPES:
            if all(all(k in item for k in keys) for item in parsed):
                return name
    return None
