"""The form schema: which fields a worker's answer holds, of which kind, with which options.

A :class:`FormSchema` is an ordered tuple of :class:`Field`, one per *question* of the form: usually
one top-level key of the submitted JSON, but a radio question made of ``crowd-radio-button``s arrives
as one key per button (:attr:`Field.keys`), and a field whose name the template writes with Liquid
(``name="rating{{ forloop.index }}"``) stands for every key it generates (:attr:`Field.pattern`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Literal

from ._literal import LIQUID_OUTPUT

__all__ = ["KINDS", "Field", "FieldKind", "FormSchema", "Found", "SchemaSource"]

FieldKind = Literal[
    "annotation", "single-choice", "multi-choice", "boolean", "number", "text", "ranking", "json", "unknown"
]
KINDS: tuple[FieldKind, ...] = (
    "annotation",
    "single-choice",
    "multi-choice",
    "boolean",
    "number",
    "text",
    "ranking",
    "json",
    "unknown",
)
"""Every field kind, in the order the docs describe them."""

Found = Literal["template", "inferred"]
SchemaSource = Literal["template", "inferred", "template+inferred", "empty"]


@dataclass(frozen=True)
class Field:
    """One question of the form.

    Attributes:
        name: the field's name: the key it is submitted under, or, for a radio question made of
            buttons with names of their own, the group's ``id`` or else the buttons' names joined by
            ``|``. For a Liquid-named field, the name as the template writes it.
        kind: see :data:`KINDS` and ``docs/forms.md``.
        element: what asks the question: a crowd element's tag (``crowd-slider``), ``select``,
            ``textarea``, ``input type=<type>``; for an inferred field, the element its values look
            like (``crowd-bounding-box``), or ``None``.
        options: the values a choice can take, in template order (a radio question's buttons, a
            ``<select>``'s options, a checkbox set's values, a classifier's ``categories``, an
            annotation element's ``labels``, a ranking's dimensions); inferred: the values seen, sorted.
        options_from_data: the template does not list every option: Liquid fills them from the task's
            input, or a script sets them. Values outside :attr:`options` are then not misfits.
        buttons: for a radio question of buttons: ``(key, value)`` per option, aligned with
            :attr:`options` (which button under which key submits which option).
        minimum, maximum, step: a number's bounds and step, when the template gives them.
        required: the element has ``required``.
        default: the value the element starts with (``value``, ``checked``, a ``selected`` option).
        found: ``template`` (read from the worker template) or ``inferred`` (from the answers).
        reason: what is ambiguous or worth knowing about the field, in words; ``None`` when nothing is.
        task: the name of tally's task (``tally.tasks``) that consolidates this element's value as
            it is (``bounding-box``, ``classification``, ...), ``None`` when no task does yet.
        shape: a ``json`` field's shape once known (the task name its parsed value looks like).
        keys: the top-level keys the field's value arrives under (usually just :attr:`name`).
        pattern: a Liquid-named field's name as written; it matches every key the loop generates.
        alternatives: several elements share this field's name and the template does not say whose
            value is submitted: one field per element, tried in turn on each value.
        ties: a ranking's dimensions and whether each allows ties (``crowd-text-ranking``'s
            ``allowTie`` in its ``ordinal-ranking-dimensions``), where the template says.
    """

    name: str
    kind: FieldKind
    element: str | None = None
    options: tuple[str, ...] = ()
    options_from_data: bool = False
    buttons: tuple[tuple[str, str], ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    required: bool = False
    default: Any = None
    found: Found = "template"
    reason: str | None = None
    task: str | None = None
    shape: str | None = None
    keys: tuple[str, ...] = ()
    pattern: str | None = None
    alternatives: tuple[Field, ...] = field(default=(), compare=True)
    ties: tuple[tuple[str, bool], ...] = ()

    def __post_init__(self) -> None:
        if not self.keys:
            object.__setattr__(self, "keys", (self.name,))

    @cached_property
    def key_pattern(self) -> re.Pattern[str] | None:
        """For a Liquid-named field, the regular expression its generated keys match."""
        if self.pattern is None:
            return None
        regex, at = [], 0
        for match in LIQUID_OUTPUT.finditer(self.pattern):
            regex.append(re.escape(self.pattern[at : match.start()]))
            # a loop counter generates digits; any other Liquid output, anything
            regex.append(r"\d+" if re.search(r"forloop\.(index0?|rindex0?)", match.group()) else ".+?")
            at = match.end()
        regex.append(re.escape(self.pattern[at:]))
        return re.compile("".join(regex) + r"\Z")

    def named(self, key: str) -> Field:
        """This Liquid-named field as the concrete field of one generated ``key``."""
        return replace(
            self,
            name=key,
            keys=(key,),
            pattern=None,
            reason=_join(self.reason, f"one of the fields '{self.pattern}' generates"),
        )

    def as_json(self) -> dict[str, Any]:
        """The field as JSON (what a label can carry to say how the form was read); empty parts left out."""
        out: dict[str, Any] = {"name": self.name, "kind": self.kind, "found": self.found}
        optional: dict[str, Any] = {
            "element": self.element,
            "options": list(self.options) or None,
            "options-from-data": self.options_from_data or None,
            "buttons": [list(b) for b in self.buttons] or None,
            "keys": list(self.keys) if self.keys != (self.name,) else None,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "step": self.step,
            "required": self.required or None,
            "default": self.default,
            "task": self.task,
            "shape": self.shape,
            "pattern": self.pattern,
            "alternatives": [a.as_json() for a in self.alternatives] or None,
            "allow-ties": dict(self.ties) or None,
            "reason": self.reason,
        }
        out.update((k, v) for k, v in optional.items() if v is not None)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Field:
        """The field :meth:`as_json` wrote.

        Example:
            >>> f = Field("q", "single-choice", "select", ("a", "b"), keys=("q", "r"), step=1, ties=(("x", True),))
            >>> Field.from_json(f.as_json()) == f
            True
        """
        return cls(
            str(data["name"]),
            data["kind"],
            data.get("element"),
            tuple(data.get("options") or ()),
            bool(data.get("options-from-data")),
            tuple((str(k), str(v)) for k, v in data.get("buttons") or ()),
            data.get("minimum"),
            data.get("maximum"),
            data.get("step"),
            bool(data.get("required")),
            data.get("default"),
            data.get("found", "template"),
            data.get("reason"),
            data.get("task"),
            data.get("shape"),
            tuple(data.get("keys") or ()),
            data.get("pattern"),
            tuple(cls.from_json(a) for a in data.get("alternatives") or ()),
            tuple((str(k), bool(v)) for k, v in (data.get("allow-ties") or {}).items()),
        )


@dataclass(frozen=True)
class FormSchema:
    """The fields of a form, in template order (inferred fields in the order the answers first show
    them), and schema-wide notes (what a script in the template does that the fields cannot say)."""

    fields: tuple[Field, ...] = ()
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def source(self) -> SchemaSource:
        """How the schema was found: from the template, from the answers, or both (some fields each)."""
        found = {f.found for f in self.fields}
        if not found:
            return "empty"
        if found == {"template"}:
            return "template"
        if found == {"inferred"}:
            return "inferred"
        return "template+inferred"

    def field(self, name: str) -> Field:
        """The field called ``name``; :class:`KeyError` when there is none."""
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    @cached_property
    def by_key(self) -> Mapping[str, Field]:
        """Each top-level key a field claims, and the field (Liquid-named fields not included; a key
        two fields claim goes to the first, as the schema's notes say)."""
        claims: dict[str, Field] = {}
        for f in self.fields:
            if f.pattern is None:
                for key in f.keys:
                    claims.setdefault(key, f)
        return claims

    @cached_property
    def patterned(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.pattern is not None)

    def owner(self, key: str) -> Field | None:
        """The field that claims the top-level ``key`` (for a Liquid-named one: its concrete field)."""
        found = self.by_key.get(key)
        if found is not None:
            return found
        generator = self.generator(key)
        return generator.named(key) if generator is not None else None

    def generator(self, key: str) -> Field | None:
        """The Liquid-named field whose name generates ``key`` (``None`` when a field claims it by
        name, or none matches)."""
        if key in self.by_key:
            return None
        return next((f for f in self.patterned if f.key_pattern is not None and f.key_pattern.match(key)), None)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "fields": [f.as_json() for f in self.fields]}
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FormSchema:
        """The schema :meth:`as_json` wrote."""
        return cls(tuple(Field.from_json(f) for f in data["fields"]), tuple(data.get("notes") or ()))


def _join(first: str | None, second: str) -> str:
    return second if not first else f"{first}; {second}"
