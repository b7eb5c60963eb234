"""Forms as the report and export show them: one row per object, one column per field.

A form's label (:mod:`tally.forms.consolidate`) holds every field in ``fields``: a consolidated one
with its ``value`` and ``confidence``, one kept as given with each worker's value. :func:`form_row`
flattens one output-manifest line into a row: the data object, the form's confidence, and per field
its consolidated value or, for a field kept as given, the workers' values (a list of
``{"workerId", "value"}``). :func:`write_form_table` writes the rows as CSV (values that are not text
as JSON) or JSON Lines; :func:`field_agreement` summarises, per field, how sure the consolidated
values are, for ``tally report``.
"""

from __future__ import annotations

import csv
import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

__all__ = [
    "FieldAgreement",
    "FormRow",
    "field_agreement",
    "form_fields_html",
    "form_row",
    "write_form_table",
]

LEAST_SHOWN = 5
"""Least sure objects the report names per field."""

_SOURCE_KEYS = ("source-ref", "source")


@dataclass(frozen=True)
class FormRow:
    """One object's form: where it came from and each field's value (see the module)."""

    line: int
    source: str | None
    confidence: float | None
    values: Mapping[str, Any]
    kept: tuple[str, ...]
    failure: str | None = None
    confidences: Mapping[str, float | None] = field(default_factory=dict)


def form_row(number: int, line: Mapping[str, Any], attr: str) -> FormRow | None:
    """The form of manifest line ``number`` (0-based), ``None`` when its label is not a form (a lone
    element's label, a pass-through) and the object did not fail."""
    label = line.get(attr)
    meta = line.get(f"{attr}-metadata")
    source = next((str(line[k]) for k in _SOURCE_KEYS if isinstance(line.get(k), str)), None)
    failure = (label or {}).get("failure-reason") if isinstance(label, dict) else None
    if failure is None and isinstance(meta, dict):
        failure = meta.get("failure-reason")
    if failure is not None:
        return FormRow(number, source, None, {}, (), str(failure))
    if not isinstance(label, dict) or not isinstance(label.get("fields"), dict):
        return None
    values: dict[str, Any] = {}
    confidences: dict[str, float | None] = {}
    kept: list[str] = []
    for name, entry in label["fields"].items():
        if not isinstance(entry, dict):
            continue
        if entry.get("consolidated"):
            values[name] = entry.get("value")
            confidences[name] = entry.get("confidence")
        else:
            values[name] = entry.get("answers", [])
            kept.append(name)
    return FormRow(number, source, label.get("confidence"), values, tuple(kept), None, confidences)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def columns(rows: Iterable[FormRow]) -> list[str]:
    """Every field of the rows, in the order first seen."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(row.values))
    return list(seen)


def write_form_table(rows: Sequence[FormRow], fh: TextIO, fmt: str) -> None:
    """``rows`` as ``csv`` (a header; one column per field after ``line``, ``source``, ``confidence``,
    ``kept-as-given``, ``failure-reason``) or ``jsonl`` (one object per row)."""
    names = columns(rows)
    if fmt == "csv":
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["line", "source", "confidence", "kept-as-given", "failure-reason", *names])
        for row in rows:
            writer.writerow(
                [
                    row.line + 1,
                    row.source or "",
                    "" if row.confidence is None else row.confidence,
                    " ".join(row.kept),
                    row.failure or "",
                    *(_cell(row.values.get(n)) for n in names),
                ]
            )
        return
    for row in rows:
        document: dict[str, Any] = {"line": row.line + 1, "source": row.source, "confidence": row.confidence}
        if row.failure is not None:
            document["failure-reason"] = row.failure
        document["fields"] = dict(row.values)
        document["field-confidence"] = dict(row.confidences)
        document["kept-as-given"] = list(row.kept)
        fh.write(json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n")


@dataclass
class FieldAgreement:
    """One field over a manifest: objects where it was consolidated and kept as given, its mean
    confidence, and its least sure objects (line, confidence), least sure first."""

    consolidated: int = 0
    kept: int = 0
    confidences: list[tuple[int, float]] = field(default_factory=list)

    @property
    def mean(self) -> float | None:
        return sum(c for _, c in self.confidences) / len(self.confidences) if self.confidences else None

    def least(self, n: int) -> list[tuple[int, float]]:
        return sorted(self.confidences, key=lambda item: (item[1], item[0]))[:n]


def field_agreement(rows: Iterable[FormRow]) -> dict[str, FieldAgreement]:
    """Per field, how it went over the rows (:class:`FieldAgreement`)."""
    out: dict[str, FieldAgreement] = {}
    for row in rows:
        for name in row.values:
            found = out.setdefault(name, FieldAgreement())
            if name in row.kept:
                found.kept += 1
                continue
            found.consolidated += 1
            confidence = row.confidences.get(name)
            if isinstance(confidence, int | float):
                found.confidences.append((row.line, float(confidence)))
    return out


def form_fields_html(labels: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """``tally report``'s table of a form's fields (``labels``: each object's key and label): per field
    its kind, objects consolidated and kept as given, mean confidence, and its least sure objects
    first; an empty string when no label is a form."""
    kinds: dict[str, str] = {}
    rows: list[FormRow] = []
    keys: dict[int, str] = {}
    for number, (key, label) in enumerate(labels):
        row = form_row(number, {"x": label}, "x")
        if row is None or row.failure is not None:
            continue
        rows.append(row)
        keys[number] = key
        for name, entry in label["fields"].items():
            if isinstance(entry, dict):
                kinds.setdefault(name, str(entry.get("kind", "")))
    if not rows:
        return ""
    body = []
    for name, found in field_agreement(rows).items():
        mean = "n/a" if found.mean is None else f"{found.mean:.3f}"
        least = ", ".join(
            f"{html.escape(keys[line])} ({confidence:.3f})" for line, confidence in found.least(LEAST_SHOWN)
        )
        body.append(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(kinds.get(name, ''))}</td><td>{found.consolidated}</td>"
            f"<td>{found.kept}</td><td>{mean}</td><td>{least or '&ndash;'}</td></tr>"
        )
    return (
        '<h2>Form fields</h2>\n<table id="form-fields"><thead><tr><th>field</th><th>kind</th><th>consolidated</th>'
        "<th>kept as given</th><th>mean confidence</th><th>least sure objects first</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>\n"
    )
