"""Splitting one worker's answer into the form's fields, nothing dropped.

Every top-level key of the answer lands in exactly one field (:attr:`FieldValue.raw`, the value as
given) or in :attr:`FormSplit.leftovers`, verbatim. Each field's value is normalised for its kind:

=================  ==========================================================================
kind               ``value``
=================  ==========================================================================
single-choice      the chosen option (a string), ``None`` when nothing is chosen
multi-choice       the chosen options (a tuple, in option order), ``()`` when none
boolean            ``True`` / ``False``
number             an ``int`` or ``float``
text               the string
ranking            ``{dimension: (rank of each response, ...)}``
json               the parsed JSON
annotation         the element's object as submitted (its task reads it)
unknown            the value as submitted
=================  ==========================================================================

A value that does not fit its field (two buttons of one radio question chosen, a number outside
``min``/``max``, a value not among closed options, text that is not JSON) gets ``value=None`` and a
``reason``; its ``raw`` keeps it. A field missing from the answer is ``absent`` (a ``crowd-input``
left empty is), which is not a misfit. Parts of an element's object that its normalised value does
not carry (a ``crowd-image-classifier``'s ``workerComment``) are kept in :attr:`FieldValue.extra`.

Examples:
    >>> from tally.forms import parse_template
    >>> schema = parse_template('''<crowd-form>
    ...   <crowd-radio-group>
    ...     <crowd-radio-button name="tech" value="tech">Tech</crowd-radio-button>
    ...     <crowd-radio-button name="politics" value="politics">Politics</crowd-radio-button>
    ...   </crowd-radio-group>
    ...   <crowd-slider name="quality" min="1" max="5"></crowd-slider>
    ... </crowd-form>''')
    >>> parts = split({"tech": {"tech": True}, "politics": {"politics": True}, "quality": 9, "x": 1}, schema)
    >>> [(name, v.value, v.reason) for name, v in parts.fields.items()]  # doctest: +NORMALIZE_WHITESPACE
    [('tech|politics', None, '2 options of one radio question chosen: tech, politics'),
     ('quality', None, '9 is above the maximum 5')]
    >>> parts.leftovers
    {'x': 1}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as _default
from typing import Any

from ._literal import number
from ._schema import Field, FormSchema
from ._template import ELEMENTS

__all__ = ["FieldValue", "FormSplit", "split", "split_value"]

_RANKING_KEY = "ordinalRankingDimensions"
_PREFERENCE = ("annotation", "json", "ranking", "number", "single-choice", "multi-choice", "boolean", "text")
"""The order in which an ambiguous field's alternatives are tried on a value: most particular first."""
_TRUE = {"on", "true", "yes", "1"}
_FALSE = {"off", "false", "no", "0", ""}


@dataclass(frozen=True)
class FieldValue:
    """One field of one worker's answer.

    Attributes:
        field: the field (for an ambiguous one, the alternative its value was read as; for a
            Liquid-named one, its concrete field).
        value: the value normalised for the field's kind (see the module), ``None`` when absent
            or when it does not fit.
        raw: every top-level key of the answer this field took, with its value as given.
        extra: what the element's object holds beyond the normalised value (``workerComment``).
        reason: why the value does not fit the field; ``None`` when it does.
    """

    field: Field
    value: Any = None
    raw: Mapping[str, Any] = _default(default_factory=dict)
    extra: Mapping[str, Any] = _default(default_factory=dict)
    reason: str | None = None

    @property
    def absent(self) -> bool:
        """The answer has none of the field's keys (not a misfit: an empty ``crowd-input`` is absent)."""
        return not self.raw


@dataclass(frozen=True)
class FormSplit:
    """One worker's answer split into fields (schema order; a Liquid-named field's keys in answer
    order, at its place) and the keys no field claims (``leftovers``, in answer order)."""

    fields: Mapping[str, FieldValue]
    leftovers: Mapping[str, Any]

    @property
    def misfits(self) -> dict[str, str]:
        """Each field whose value does not fit, and why."""
        return {name: v.reason for name, v in self.fields.items() if v.reason is not None}


def split(content: Mapping[str, Any], schema: FormSchema) -> FormSplit:
    """Split one worker's answer (``content``, the decoded form output) into ``schema``'s fields."""
    claimed: dict[str, dict[str, Any]] = {}
    generated: dict[str, dict[str, Field]] = {}  # Liquid-named field -> {generated key: its field}
    leftovers: dict[str, Any] = {}
    for key, value in content.items():
        owner = schema.by_key.get(key)
        if owner is None:
            generator = schema.generator(key)
            if generator is None:
                leftovers[key] = value
                continue
            owner = generator.named(key)
            generated.setdefault(generator.name, {})[key] = owner
        claimed.setdefault(owner.name, {})[key] = value
    fields: dict[str, FieldValue] = {}
    for f in schema.fields:
        if f.pattern is not None:
            for key, owner in generated.get(f.name, {}).items():
                fields[key] = split_value(owner, claimed[key])
            continue
        raw = claimed.get(f.name)
        fields[f.name] = split_value(f, raw) if raw else FieldValue(f)
    return FormSplit(fields, leftovers)


def split_value(f: Field, raw: Mapping[str, Any]) -> FieldValue:
    """One field's value, from the keys of the answer it took (``raw``, non-empty)."""
    if f.alternatives:
        given = _first(f, raw)
        fixed = [
            a
            for a in f.alternatives
            if a.element == "input type=hidden" and a.default is not None and a.default == given
        ]
        for alternative in fixed + sorted(
            f.alternatives, key=lambda a: _PREFERENCE.index(a.kind) if a.kind in _PREFERENCE else 99
        ):
            tried = split_value(alternative, raw)
            if tried.reason is None and tried.value is not None:
                read_as = alternative.element or alternative.kind
                return replace(tried, field=replace(alternative, reason=_join(f.reason, f"read as its {read_as}")))
        return FieldValue(f, _first(f, raw), dict(raw), reason=f"fits none of the elements named '{f.name}'")
    value = _first(f, raw)
    if value is None and not f.buttons:
        return FieldValue(f, None, dict(raw))  # JSON null: no answer, not a misfit
    try:
        normalised, extra = _READERS.get(f.kind, _as_given)(f, value, raw)
    except _Misfit as misfit:
        return FieldValue(f, None, dict(raw), reason=str(misfit))
    return FieldValue(f, normalised, dict(raw), extra)


class _Misfit(ValueError):
    """A value that does not fit its field; the message is the reason."""


def _first(f: Field, raw: Mapping[str, Any]) -> Any:
    for key in f.keys:
        if key in raw:
            return raw[key]
    return next(iter(raw.values()))


def _as_given(f: Field, value: Any, raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    return value, {}


def _check_option(f: Field, chosen: str) -> None:
    if f.options and not f.options_from_data and chosen not in f.options:
        raise _Misfit(f"'{chosen}' is not among the options")


def _single(f: Field, value: Any, raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    if f.buttons:
        return _buttons(f, raw), {}
    extra: dict[str, Any] = {}
    chosen: str | None
    if isinstance(value, str):
        chosen = value or None
    elif isinstance(value, dict) and "label" in value and not _all_bools(value):
        if not isinstance(value["label"], str):
            raise _Misfit("its 'label' is not a string")
        chosen = value["label"]
        extra = {k: v for k, v in value.items() if k != "label"}
    elif isinstance(value, dict) and _all_bools(value):
        picked = [k for k, b in value.items() if b]
        if len(picked) > 1:
            raise _Misfit(f"{len(picked)} options of one radio question chosen: {', '.join(picked)}")
        chosen = picked[0] if picked else None
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        chosen = _number_text(value)
    else:
        raise _Misfit(f"a {_type(value)} is not a choice")
    if chosen is not None:
        _check_option(f, chosen)
    return chosen, extra


def _buttons(f: Field, raw: Mapping[str, Any]) -> str | None:
    labels = dict(zip(f.buttons, f.options, strict=False))
    picked: list[str] = []
    for key, value in raw.items():
        if not (isinstance(value, dict) and _all_bools(value)):
            raise _Misfit(f"the button '{key}' sent a {_type(value)}, not {{value: true|false}}")
        for inner, on in value.items():
            if on:
                label = labels.get((key, inner))
                if label is None and not f.options_from_data:
                    raise _Misfit(f"the button '{key}' sent the value '{inner}', which the template does not give it")
                picked.append(label if label is not None else f"{key}={inner}")
    if len(picked) > 1:
        raise _Misfit(f"{len(picked)} options of one radio question chosen: {', '.join(picked)}")
    return picked[0] if picked else None


def _multi(f: Field, value: Any, raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    extra: dict[str, Any] = {}
    if isinstance(value, dict) and _all_bools(value):
        picked = [k for k, b in value.items() if b]
    elif isinstance(value, dict) and isinstance(value.get("labels"), list):
        picked = value["labels"]
        extra = {k: v for k, v in value.items() if k != "labels"}
    elif isinstance(value, list):
        picked = value
    elif isinstance(value, str):
        picked = [value] if value else []
    else:
        raise _Misfit(f"a {_type(value)} is not a set of choices")
    if not all(isinstance(p, str) for p in picked):
        raise _Misfit("its choices are not all strings")
    if f.options and not f.options_from_data:
        unknown = [p for p in picked if p not in f.options]
        if unknown:
            raise _Misfit(f"not among the options: {', '.join(unknown)}")
    order = {o: i for i, o in enumerate(f.options)}
    ordered = sorted(dict.fromkeys(picked), key=lambda p: order.get(p, len(order)))
    return tuple(ordered), extra


def _boolean(f: Field, value: Any, raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    if isinstance(value, bool):
        return value, {}
    if isinstance(value, dict) and len(value) == 1 and _all_bools(value):
        ((inner, on),) = value.items()
        if f.options and inner not in f.options:
            raise _Misfit(f"sent the value '{inner}' where the template gives '{f.options[0]}'")
        return on, {}
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or (f.options and value == f.options[0]):
            return True, {}
        if text in _FALSE:
            return False, {}
    raise _Misfit(f"a {_type(value)} is not a yes or no")


def _number(f: Field, value: Any, raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    if isinstance(value, str):
        if not value.strip():
            return None, {}
        parsed = number(value)
        if parsed is None:
            raise _Misfit(f"'{value[:40]}' is not a number")
        value = parsed
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Misfit(f"a {_type(value)} is not a number")
    if not math.isfinite(value):
        raise _Misfit(f"{value} is not a finite number")
    if f.minimum is not None and value < f.minimum:
        raise _Misfit(f"{value} is below the minimum {_number_text(f.minimum)}")
    if f.maximum is not None and value > f.maximum:
        raise _Misfit(f"{value} is above the maximum {_number_text(f.maximum)}")
    if f.step is not None and f.step > 0:
        steps = (value - (f.minimum or 0)) / f.step
        if abs(steps - round(steps)) > 1e-9:
            raise _Misfit(f"{value} is not on a step of {_number_text(f.step)}")
    return value, {}


def _text(f: Field, value: Any, raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    if isinstance(value, str):
        return value, {}
    raise _Misfit(f"a {_type(value)} is not text")


def _json(f: Field, value: Any, raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    if isinstance(value, (list, dict)):
        return value, {}
    if not isinstance(value, str):
        raise _Misfit(f"a {_type(value)} is not JSON text")
    try:
        return json.loads(value), {}
    except ValueError as exc:
        raise _Misfit(f"not JSON ({exc.args[0].split(':')[0]})") from exc


def _ranking(f: Field, value: Any, raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    extra: dict[str, Any] = {}
    dimensions = value
    if isinstance(value, dict):
        dimensions = value.get(_RANKING_KEY)
        extra = {k: v for k, v in value.items() if k != _RANKING_KEY}
    if not isinstance(dimensions, list):
        raise _Misfit(f"no '{_RANKING_KEY}' list")
    ranked: dict[str, tuple[Any, ...]] = {}
    for dimension in dimensions:
        if not (isinstance(dimension, dict) and isinstance(dimension.get("name"), str)):
            raise _Misfit("a ranking dimension without a name")
        ranks = dimension.get("responseRankings")
        if not (isinstance(ranks, list) and all(isinstance(r, int) and not isinstance(r, bool) for r in ranks)):
            raise _Misfit(f"the dimension '{dimension['name']}' has no list of integer responseRankings")
        ranked[dimension["name"]] = tuple(ranks)
    if f.options and not f.options_from_data:
        unknown = [d for d in ranked if d not in f.options]
        if unknown:
            raise _Misfit(f"dimensions not in the template: {', '.join(unknown)}")
    return ranked, extra


def _annotation(f: Field, value: Any, raw: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, dict):
        raise _Misfit(f"a {_type(value)} is not an annotation element's object")
    spec = ELEMENTS.get(f.element or "")
    if spec is not None and spec.key is not None and spec.key not in value:
        raise _Misfit(f"not what <{f.element}> submits (no '{spec.key}')")
    return value, {}


_READERS = {
    "single-choice": _single,
    "multi-choice": _multi,
    "boolean": _boolean,
    "number": _number,
    "text": _text,
    "json": _json,
    "ranking": _ranking,
    "annotation": _annotation,
}


def _all_bools(value: Mapping[str, Any]) -> bool:
    return bool(value) and all(isinstance(b, bool) for b in value.values())


def _type(value: Any) -> str:
    names = {dict: "object", list: "list", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if isinstance(value, (int, float)) else type(value).__name__)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _join(first: str | None, second: str) -> str:
    return second if not first else f"{first}; {second}"
