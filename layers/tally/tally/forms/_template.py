"""Reading a worker template (``.liquid.html``) into a :class:`FormSchema`.

The template is parsed with the standard library's :mod:`html.parser` after every Liquid tag is set
aside (``{{ ... }}`` and ``{% ... %}`` cannot break an attribute or a tag that way); attribute values
get their Liquid back, so an option or a name written with Liquid is known as such. Every element
that submits a value is a *control*: the crowd elements of :data:`ELEMENTS`, and ``<input>``,
``<select>``, ``<textarea>``. Controls become fields by name (a radio question of
``crowd-radio-button``s by its ``crowd-radio-group``); what the template leaves open is said in the
field's ``reason`` or in the schema's ``notes``, never guessed silently.

Examples:
    >>> schema = parse_template('''
    ... <crowd-form>
    ...   <crowd-classifier name="category" categories="['Positive', 'Negative']"></crowd-classifier>
    ...   <crowd-radio-group>
    ...     <crowd-radio-button name="tech" value="tech">Technology</crowd-radio-button>
    ...     <crowd-radio-button name="politics" value="politics">Politics</crowd-radio-button>
    ...   </crowd-radio-group>
    ...   <crowd-slider name="quality" min="1" max="5" required></crowd-slider>
    ...   <select name="animal">{% for a in task.input.animals %}<option>{{ a }}</option>{% endfor %}</select>
    ... </crowd-form>''')
    >>> [(f.name, f.kind, f.options) for f in schema]  # doctest: +NORMALIZE_WHITESPACE
    [('category', 'single-choice', ('Positive', 'Negative')),
     ('tech|politics', 'single-choice', ('tech', 'politics')),
     ('quality', 'number', ()),
     ('animal', 'single-choice', ())]
    >>> schema.field("tech|politics").keys, schema.field("animal").options_from_data
    (('tech', 'politics'), True)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from typing import Any

from ._literal import has_liquid, literal, number
from ._schema import Field, FieldKind, FormSchema

__all__ = ["ELEMENTS", "Element", "parse_template"]


@dataclass(frozen=True)
class Element:
    """What a crowd element submits under its ``name`` (``docs/forms.md`` has the table).

    Attributes:
        kind: the field kind of its value.
        task: the tally task that consolidates its value as it is (``None``: none yet).
        key: the key its submitted object always has (``boundingBoxes``, ``label``, ...), if any.
        options_attribute: the attribute listing its options (``labels``, ``categories``, ...).
    """

    kind: FieldKind
    task: str | None = None
    key: str | None = None
    options_attribute: str | None = None


ELEMENTS: Mapping[str, Element] = {
    "crowd-bounding-box": Element("annotation", "bounding-box", "boundingBoxes", "labels"),
    "crowd-keypoint": Element("annotation", "keypoint", "keypoints", "labels"),
    "crowd-polygon": Element("annotation", "polygon", "polygons", "labels"),
    "crowd-polyline": Element("annotation", "polyline", "polylines", "labels"),
    "crowd-line": Element("annotation", "line", "lines", "labels"),
    "crowd-semantic-segmentation": Element("annotation", "semantic-segmentation", "labeledImage", "labels"),
    "crowd-instance-segmentation": Element("annotation", "instance-segmentation", "instances", "labels"),
    "crowd-entity-annotation": Element("annotation", "named-entity", "entities", "labels"),
    "crowd-classifier": Element("single-choice", "classification", "label", "categories"),
    "crowd-image-classifier": Element("single-choice", "classification", "label", "categories"),
    "crowd-classifier-multi-select": Element("multi-choice", "multi-label classification", "labels", "categories"),
    "crowd-image-classifier-multi-select": Element(
        "multi-choice", "multi-label classification", "labels", "categories"
    ),
    "crowd-text-ranking": Element("ranking", "ranking", "ordinalRankingDimensions", "ordinal-ranking-dimensions"),
    "crowd-slider": Element("number", "number"),
    "crowd-input": Element("text", "free-text"),
    "crowd-text-area": Element("text", "free-text"),
    "crowd-toggle-button": Element("boolean"),
    "crowd-checkbox": Element("boolean"),
    "crowd-radio-button": Element("single-choice"),
}
"""The crowd elements whose answers tally knows, by tag."""

_NOT_ANSWERS = {"submit", "button", "reset", "image", "file"}
"""``<input>`` types that submit nothing a worker answered."""
_NUMBER_INPUTS = {"number", "range"}
_RANKING_KEY = "ordinalRankingDimensions"

_LIQUID = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
_TOKEN = re.compile("\ue000(\\d+)\ue001")
_BLOCK_OPEN = re.compile(r"\{%-?\s*(for|if|unless|case|comment)\b")
_BLOCK_CLOSE = re.compile(r"\{%-?\s*end(for|if|unless|case|comment)\b")


@dataclass
class _Control:
    """One element of the template that submits a value."""

    tag: str
    attrs: dict[str, str]
    group: int | None = None  # the crowd-radio-group it sits in
    in_for: bool = False
    in_if: bool = False
    options: list[tuple[str, bool]] = field(default_factory=list)  # a <select>'s (value, selected)

    @property
    def name(self) -> str | None:
        return self.attrs.get("name")

    @property
    def type(self) -> str:
        return self.attrs.get("type", "text").strip().lower() or "text"

    @property
    def described(self) -> str:
        return f"input type={self.type}" if self.tag == "input" else self.tag


class _Parser(HTMLParser):
    def __init__(self, liquid: Sequence[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.liquid = liquid
        self.controls: list[_Control] = []
        self.scripts: list[str] = []
        self.groups: list[int] = []
        self.group_ids: dict[int, str | None] = {}
        self.blocks: list[str] = []
        self.select: _Control | None = None
        self.option: list[Any] | None = None  # [value or None, selected, text parts]
        self.raw: str | None = None  # "script" / "style" while inside one

    def restore(self, text: str) -> str:
        return _TOKEN.sub(lambda m: self.liquid[int(m.group(1))], text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): self.restore(v if v is not None else "") for k, v in attrs}
        if tag in ("script", "style"):
            self.raw = tag
            return
        if tag == "crowd-radio-group":
            self.group_ids[len(self.group_ids)] = values.get("id") or values.get("name")
            self.groups.append(len(self.group_ids) - 1)
            return
        if tag == "option" and self.select is not None:
            self._end_option()
            self.option = [values.get("value"), "selected" in values, []]
            return
        if "comment" in self.blocks:  # inside {% comment %}: never rendered
            return
        if tag in ELEMENTS or tag in ("input", "select", "textarea") or (tag.startswith("crowd-") and "name" in values):
            control = _Control(
                tag,
                values,
                group=self.groups[-1] if self.groups and tag == "crowd-radio-button" else None,
                in_for="for" in self.blocks,
                in_if=any(b in ("if", "unless", "case") for b in self.blocks),
            )
            self.controls.append(control)
            if tag == "select":
                self.select = control

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self.raw = None

    def handle_endtag(self, tag: str) -> None:
        if tag == self.raw:
            self.raw = None
        elif tag == "crowd-radio-group" and self.groups:
            self.groups.pop()
        elif tag == "option":
            self._end_option()
        elif tag == "select":
            self._end_option()
            self.select = None

    def handle_data(self, data: str) -> None:
        if self.raw == "script":
            self.scripts.append(self.restore(data))
            return
        if self.raw is not None:
            return
        if self.option is not None:
            self.option[2].append(data)
        for token in _TOKEN.finditer(data):
            tag = self.liquid[int(token.group(1))]
            opened, closed = _BLOCK_OPEN.match(tag), _BLOCK_CLOSE.match(tag)
            if opened:
                self.blocks.append(opened.group(1))
            elif closed and closed.group(1) in self.blocks:
                while self.blocks and self.blocks.pop() != closed.group(1):
                    pass

    def _end_option(self) -> None:
        if self.option is None or self.select is None:
            self.option = None
            return
        value, selected, text = self.option
        self.select.options.append(
            (value if value is not None else self.restore(" ".join("".join(text).split())), selected)
        )
        self.option = None


def parse_template(html: str) -> FormSchema:
    """The form a worker template submits: one :class:`Field` per question, in template order.

    Never raises on a template it cannot make sense of: a template without any control gives an
    empty schema (then :func:`tally.forms.infer_schema` reads the answers instead).
    """
    liquid: list[str] = []

    def aside(match: re.Match[str]) -> str:
        liquid.append(match.group())
        return f"\ue000{len(liquid) - 1}\ue001"

    parser = _Parser(liquid)
    parser.feed(_LIQUID.sub(aside, html))
    parser.close()
    parser._end_option()
    scripts = "\n".join(parser.scripts)
    fields, notes = _fields(parser.controls, parser.group_ids, _ScriptFacts.read(scripts))
    return FormSchema(tuple(fields), tuple(notes))


@dataclass(frozen=True)
class _ScriptFacts:
    """What the template's scripts do to its controls, found by pattern (never run)."""

    relabelled: frozenset[str]  # ids or tags whose labels / categories a script sets
    filled: frozenset[str]  # ids whose value a script sets
    filled_json: frozenset[str]  # ids whose value a script sets to JSON.stringify(...)
    creates_controls: tuple[str, ...]  # control tags a script creates

    @classmethod
    def read(cls, scripts: str) -> _ScriptFacts:
        variables = {
            m.group(1): m.group(2)
            for m in re.finditer(r"(\w+)\s*=\s*document\.querySelector\(\s*['\"]([^'\"]+)['\"]\s*\)", scripts)
        }
        relabelled: set[str] = set()
        for m in re.finditer(
            r"(?:document\.querySelector\(\s*['\"]([^'\"]+)['\"]\s*\)|(\w+))\s*\.(?:labels|categories)\s*=(?!=)",
            scripts,
        ):
            target = m.group(1) or variables.get(m.group(2), m.group(2))
            relabelled.add(target.removeprefix("#"))
        target = r"(?:(\w+)|document\.getElementById\(\s*['\"]([^'\"]+)['\"]\s*\))\.value\s*=(?!=)\s*"
        filled = {m.group(1) or m.group(2) for m in re.finditer(target, scripts)}
        filled_json = {m.group(1) or m.group(2) for m in re.finditer(target + r"JSON\.stringify\(", scripts)}
        created = re.findall(r"createElement\(\s*['\"](input|select|textarea|crowd-[a-z-]+)['\"]", scripts)
        created += re.findall(r"<(input|select|textarea)\b", scripts)
        controls = [c.lower() for c in created if c.lower() in ELEMENTS or c.lower() in ("input", "select", "textarea")]
        return cls(frozenset(relabelled), frozenset(filled), frozenset(filled_json), tuple(dict.fromkeys(controls)))


def _fields(
    controls: Sequence[_Control], group_ids: Mapping[int, str | None], facts: _ScriptFacts
) -> tuple[list[Field], list[str]]:
    questions: dict[str, list[_Control]] = {}
    for control in controls:
        if control.tag == "input" and control.type in _NOT_ANSWERS:
            continue
        if control.group is not None:
            questions.setdefault(f"\0group{control.group}", []).append(control)
        elif control.name is not None:
            questions.setdefault(control.name, []).append(control)
        elif control.tag == "crowd-text-ranking":  # AWS's notebook template names none
            questions.setdefault(_RANKING_KEY, []).append(control)
    fields: list[Field] = []
    for key, members in questions.items():
        built: Field | None
        if key.startswith("\0group"):
            built = _radio_question(members, group_ids[int(key.removeprefix("\0group"))])
        else:
            built = _named(key, members, facts)
        if built is not None:
            fields.append(_liquid_name(built) if has_liquid(built.name) else built)
    notes = _claim_notes(fields)
    if facts.creates_controls:
        made = ", ".join(facts.creates_controls)
        notes.append(
            f"a script creates form controls ({made}): the fields it adds are not in the template and are read from the answers"
        )
    return fields, notes


def _claim_notes(fields: Sequence[Field]) -> list[str]:
    owners: dict[str, list[str]] = {}
    for f in fields:
        for key in f.keys:
            owners.setdefault(key, []).append(f.name)
    return [
        f"the key '{key}' is claimed by several fields ({', '.join(names)}): the first one takes it"
        for key, names in owners.items()
        if len(names) > 1
    ]


def _liquid_name(built: Field) -> Field:
    reason = f"its name is written with Liquid ('{built.name}'): it stands for every key the template generates"
    return replace(built, pattern=built.name, reason=_join(built.reason, reason))


def _radio_question(members: Sequence[_Control], group_id: str | None) -> Field:
    buttons = [(c.name or "", c.attrs.get("value", "on")) for c in members]
    keys = tuple(dict.fromkeys(k for k, _ in buttons))
    required = any("required" in c.attrs for c in members)
    checked = [i for i, c in enumerate(members) if "checked" in c.attrs]
    values = [v for _, v in buttons]
    if len(keys) == 1:
        options = tuple(dict.fromkeys(values))
        return Field(
            keys[0],
            "single-choice",
            "crowd-radio-group",
            options,
            options_from_data=any(has_liquid(v) for v in values) or _repeated(keys[0], members),
            required=required,
            default=values[checked[0]] if checked else None,
        )
    if len(set(values)) == len(values):
        labels, reason = values, None
    elif len({k for k, _ in buttons}) == len(buttons):
        labels, reason = [k for k, _ in buttons], "its buttons share values: each option is its button's name"
    else:
        labels = [f"{k}={v}" for k, v in buttons]
        reason = "its buttons share names and values: each option is written name=value"
    return Field(
        group_id or "|".join(keys),
        "single-choice",
        "crowd-radio-group",
        tuple(labels),
        options_from_data=any(has_liquid(v) for v in values),
        buttons=tuple(buttons),
        required=required,
        default=labels[checked[0]] if checked else None,
        reason=reason,
        keys=keys,
    )


def _named(name: str, members: Sequence[_Control], facts: _ScriptFacts) -> Field | None:
    kinds = {_choice_role(c) for c in members}
    if kinds == {"radio"}:
        values = [c.attrs.get("value", "on") for c in members]
        return Field(
            name,
            "single-choice",
            members[0].described,
            tuple(v for v in dict.fromkeys(values) if not has_liquid(v)),
            options_from_data=any(has_liquid(v) for v in values) or _repeated(name, members),
            required=any("required" in c.attrs for c in members),
            default=next((c.attrs.get("value", "on") for c in members if "checked" in c.attrs), None),
            reason=_disabled(members),
        )
    if kinds == {"checkbox"}:
        values = [c.attrs.get("value", "on") for c in members]
        from_data = any(has_liquid(v) for v in values) or _repeated(name, members)
        required = any("required" in c.attrs for c in members)
        if len(members) == 1 and not from_data:
            return Field(
                name,
                "boolean",
                members[0].described,
                (values[0],),
                required=required,
                default=True if "checked" in members[0].attrs else None,
                reason=_disabled(members),
            )
        return Field(
            name,
            "multi-choice",
            members[0].described,
            tuple(v for v in dict.fromkeys(values) if not has_liquid(v)),
            options_from_data=from_data,
            required=required,
            default=tuple(c.attrs.get("value", "on") for c in members if "checked" in c.attrs) or None,
            reason=_disabled(members),
        )
    built = [f for f in (_single(name, c, facts) for c in members) if f is not None]
    if not built:
        return None
    # one alternative per distinct control (a hidden input keeps its fixed value: split_value matches it)
    kept: dict[Field, Field] = {}
    for f in built:
        kept.setdefault(replace(f, default=None), f if f.element == "input type=hidden" else replace(f, default=None))
    distinct = list(kept.values()) if len(built) > 1 else built
    if len(distinct) == 1 and _repeated(name, members):
        return replace(
            distinct[0], reason=_join(distinct[0].reason, "inside a Liquid {% for %} loop: repeated under one name")
        )
    if len(distinct) == 1 and len(built) == 1:
        return distinct[0]
    what = ", ".join(c.described for c in members)
    shared = (
        f"{len(members)} elements share the name '{name}' ({what}): the template does not say whose value is submitted"
    )
    if len(distinct) == 1:  # the same kind of control, repeated: its kind holds whichever value comes
        return replace(distinct[0], reason=_join(distinct[0].reason, shared))
    return Field(
        name, "unknown", required=any(f.required for f in distinct), reason=shared, alternatives=tuple(distinct)
    )


def _repeated(name: str, members: Sequence[_Control]) -> bool:
    """Whether a Liquid loop repeats these controls under one name (a name written with Liquid
    makes one field per pass instead)."""
    return members[0].in_for and not has_liquid(name)


def _choice_role(control: _Control) -> str:
    if control.tag == "crowd-radio-button" or (control.tag == "input" and control.type == "radio"):
        return "radio"
    if control.tag == "crowd-checkbox" or (control.tag == "input" and control.type == "checkbox"):
        return "checkbox"
    return "other"


def _disabled(members: Sequence[_Control]) -> str | None:
    if any("disabled" in c.attrs for c in members):
        return "disabled in the template (a script may enable it; a disabled control submits nothing)"
    return None


def _single(name: str, control: _Control, facts: _ScriptFacts) -> Field | None:
    attrs = control.attrs
    required = "required" in attrs
    ident = attrs.get("id")
    relabelled = ident in facts.relabelled or control.tag in facts.relabelled
    reason = _join(
        "inside a Liquid {% if %}: only some tasks show it" if control.in_if else None,
        "a script sets its options" if relabelled else None,
    )
    element = ELEMENTS.get(control.tag)
    if control.tag == "select":
        options = [(v, s) for v, s in control.options if v != ""]
        static = tuple(dict.fromkeys(v for v, _ in options if not has_liquid(v)))
        from_data = relabelled or any(has_liquid(v) for v, _ in options) or not options
        if not options:
            reason = _join(reason, "no options in the template: a script or Liquid fills them")
        multiple = "multiple" in attrs
        selected = tuple(v for v, s in options if s)
        return Field(
            name,
            "multi-choice" if multiple else "single-choice",
            "select",
            static,
            options_from_data=from_data,
            required=required,
            default=(selected or None) if multiple else (selected[0] if selected else None),
            reason=reason,
        )
    if control.tag == "textarea":
        return Field(name, "text", "textarea", required=required, reason=reason)
    if control.tag == "input":
        kind = control.type
        default = attrs.get("value")
        if kind in _NUMBER_INPUTS:
            return _number(name, control.described, attrs, required, reason)
        if kind == "hidden":
            is_json = ident in facts.filled_json or _json_container(default)
            if ident in facts.filled_json:
                reason = _join(reason, "a script fills it with JSON")
            elif ident in facts.filled:
                reason = _join(reason, "a script sets its value (JSON or not: the answers tell)")
            return Field(name, "json" if is_json else "text", control.described, default=default, reason=reason)
        return Field(name, "text", control.described, required=required, default=default or None, reason=reason)
    if element is None:
        return Field(name, "unknown", control.tag, reason=f"tally does not know what <{control.tag}> submits")
    if control.tag == "crowd-slider" or (control.tag == "crowd-input" and control.type in _NUMBER_INPUTS):
        return _number(name, control.tag, attrs, required, reason)
    if control.tag == "crowd-input":
        text_reason = _join(reason, "left empty, it is absent from the answer (not a rejected answer)")
        return Field(
            name, "text", control.tag, required=required, default=attrs.get("value") or None, reason=text_reason
        )
    if control.tag == "crowd-text-area":
        return Field(name, "text", control.tag, required=required, default=attrs.get("value") or None, reason=reason)
    if control.tag == "crowd-toggle-button":
        return Field(name, "boolean", control.tag, required=required, default=True if "checked" in attrs else None)
    labels, from_data, options_reason = _options(control, element)
    keys: tuple[str, ...] = ()
    if control.tag == "crowd-text-ranking" and name != _RANKING_KEY:
        keys = (name, _RANKING_KEY)
        options_reason = _join(
            options_reason,
            f"crowd-text-ranking has no documented output: it is read under '{name}' or, as AWS's notebook reads it, '{_RANKING_KEY}'",
        )
    return Field(
        name,
        element.kind,
        control.tag,
        labels,
        options_from_data=from_data or relabelled,
        required=required,
        reason=_join(reason, options_reason),
        task=element.task,
        keys=keys,
        ties=_ties(control) if control.tag == "crowd-text-ranking" else (),
    )


def _ties(control: _Control) -> tuple[tuple[str, bool], ...]:
    """A ranking's ``allowTie`` per dimension, where its ``ordinal-ranking-dimensions`` says."""
    text = control.attrs.get("ordinal-ranking-dimensions")
    if text is None or has_liquid(text):
        return ()
    try:
        parsed = literal(text)
    except ValueError:
        return ()
    if not isinstance(parsed, list):
        return ()
    return tuple(
        (str(item["name"]), item["allowTie"])
        for item in parsed
        if isinstance(item, Mapping) and "name" in item and isinstance(item.get("allowTie"), bool)
    )


def _number(name: str, element: str, attrs: Mapping[str, str], required: bool, reason: str | None) -> Field:
    bounds = {k: number(attrs[k]) if k in attrs and not has_liquid(attrs[k]) else None for k in ("min", "max", "step")}
    default = number(attrs["value"]) if "value" in attrs else None
    return Field(
        name,
        "number",
        element,
        minimum=bounds["min"],
        maximum=bounds["max"],
        step=bounds["step"],
        required=required,
        default=default,
        reason=reason,
    )


def _options(control: _Control, element: Element) -> tuple[tuple[str, ...], bool, str | None]:
    """An element's options from its options attribute: (options, from the data, a reason)."""
    if element.options_attribute is None:
        return (), False, None
    text = control.attrs.get(element.options_attribute)
    if text is None:
        return (), True, f"no '{element.options_attribute}' attribute: a script sets them"
    if has_liquid(text):
        return (), True, None
    try:
        parsed = literal(text)
    except ValueError:
        return (), True, f"its '{element.options_attribute}' attribute cannot be read: {text[:40]!r}"
    if not isinstance(parsed, list):
        return (), True, f"its '{element.options_attribute}' attribute is not a list"
    options: list[str] = []
    for item in parsed:
        if isinstance(item, Mapping):
            value = item.get("label", item.get("name"))
            if value is not None:
                options.append(str(value))
        elif item is not None:
            options.append(str(item))
    reason = None
    exclusion = control.attrs.get("exclusion-category")
    if exclusion:
        try:
            spec = literal(exclusion)
        except ValueError:
            spec = None
        text_value = spec.get("text") if isinstance(spec, Mapping) else None
        if isinstance(text_value, str):
            options.append(text_value)
            reason = f"'{text_value}' is its exclusion category (choosing it clears the others)"
    return tuple(dict.fromkeys(options)), False, reason


def _json_container(text: str | None) -> bool:
    if not text or text.strip()[:1] not in "[{":
        return False
    try:
        return isinstance(json.loads(text), (list, dict))
    except ValueError:
        return False


def _join(first: str | None, second: str | None) -> str | None:
    if not first:
        return second
    if not second:
        return first
    return f"{first}; {second}"
