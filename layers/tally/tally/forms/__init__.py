"""Forms: what a custom worker template asks, read from the template or inferred from the answers,
and each worker's answer split into its fields with nothing dropped.

A custom labeling job's worker template is a form: crowd elements, radio buttons, checkboxes,
dropdowns, sliders, text boxes, hidden inputs a script fills. What a worker submits is one JSON
object keyed by each field's ``name``. This package reads that form:

- :func:`parse_template` reads a worker template (``.liquid.html``; Liquid does not break it) into a
  :class:`FormSchema`: one :class:`Field` per question, its kind, options, bounds, defaults.
- :func:`infer_schema` reads the same off a batch's answers when there is no template (the rules
  and their thresholds are in its module); :func:`complete_schema` adds to a template's schema what
  only the answers show (fields a script creates, the keys a Liquid-named field generates);
  :func:`read_form` does both in order: the template first, the answers second.
- :func:`split` puts every top-level key of one worker's answer into exactly one field, or into
  the leftovers, verbatim, and normalises each field's value for its kind, with a reason when a
  value does not fit.

Nothing here imports numpy, Pillow or the command line: the consolidation Lambda imports it.
``docs/forms.md`` describes the kinds and their values with a real template's example.

Examples:
    >>> template = '''<crowd-form>
    ...   <crowd-image-classifier name="animal" categories="['Cat', 'Dog']"></crowd-image-classifier>
    ...   <crowd-input name="comment"></crowd-input>
    ... </crowd-form>'''
    >>> answers = [{"animal": {"label": "Cat", "workerComment": "a kitten"}, "comment": "cute", "t": 3},
    ...            {"animal": {"label": "Dog"}}]
    >>> schema = read_form(template, answers)
    >>> [(f.name, f.kind, f.found) for f in schema]
    [('animal', 'single-choice', 'template'), ('comment', 'text', 'template'), ('t', 'number', 'inferred')]
    >>> parts = split(answers[0], schema)
    >>> parts.fields["animal"].value, parts.fields["animal"].extra, parts.leftovers
    ('Cat', {'workerComment': 'a kitten'}, {})
    >>> split(answers[1], schema).fields["comment"].absent
    True
"""

from __future__ import annotations

from ._infer import (
    MAX_OPTION_LENGTH,
    MAX_OPTIONS,
    MIN_ANSWERS,
    MIN_REPEATS,
    complete_schema,
    infer_schema,
    read_form,
    recognise,
)
from ._schema import KINDS, Field, FieldKind, FormSchema, Found, SchemaSource
from ._split import FieldValue, FormSplit, split, split_value
from ._template import ELEMENTS, Element, parse_template

__all__ = [
    "ELEMENTS",
    "KINDS",
    "MAX_OPTIONS",
    "MAX_OPTION_LENGTH",
    "MIN_ANSWERS",
    "MIN_REPEATS",
    "Element",
    "Field",
    "FieldKind",
    "FieldValue",
    "FormSchema",
    "FormSplit",
    "Found",
    "SchemaSource",
    "complete_schema",
    "infer_schema",
    "parse_template",
    "read_form",
    "recognise",
    "split",
    "split_value",
]
