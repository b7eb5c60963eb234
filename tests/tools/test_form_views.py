"""`tally export --format form-csv|form-jsonl` (one row per object of a form job, one column per field) and
`tally report`'s table of a form's fields."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tally.tools.cli import main

GALLERY = Path(__file__).resolve().parents[1] / "fixtures" / "gt-templates"
NAME = "side-by-side-comparison"


def _manifest(tmp_path: Path) -> Path:
    """An output manifest as Ground Truth writes it from the Lambda's response: each input line plus the
    label and its metadata."""
    out = tmp_path / "out"
    payload = GALLERY / "answers" / f"{NAME}.json"
    template = GALLERY / "other" / f"{NAME}.liquid.html"
    assert main(["consolidate", str(payload), "--template", str(template), "--out", str(out), "--no-progress"]) == 0
    objects = {o["datasetObjectId"]: o for o in json.loads(payload.read_text())}
    lines = []
    for text in (out / "results.jsonl").read_text().splitlines():
        entry = json.loads(text)
        source = objects[entry["datasetObjectId"]]["dataObject"]["s3Uri"]
        lines.append(json.dumps({"source-ref": source, **entry["consolidatedAnnotation"]["content"]}))
    lines.append(json.dumps({"source-ref": "s3://b/x.json", "label-metadata": {"failure-reason": "no usable answer"}}))
    manifest = tmp_path / "output.manifest"
    manifest.write_text("\n".join(lines) + "\n")
    return manifest


def _labels(manifest: Path) -> list[dict[str, Any]]:
    return [json.loads(line).get("label", {}) for line in manifest.read_text().splitlines()]


def _gallery_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The review page of the gallery form consolidated by ``tally consolidate``, its payload as the source."""
    out = tmp_path / "out"
    payload = GALLERY / "answers" / f"{NAME}.json"
    template = GALLERY / "other" / f"{NAME}.liquid.html"
    assert main(["consolidate", str(payload), "--template", str(template), "--out", str(out), "--no-progress"]) == 0
    page_file = tmp_path / "review.html"
    assert main(["report", str(out), "--source", str(payload), "--out", str(page_file)]) == 0
    capsys.readouterr()
    return page_file.read_text()


def test_form_csv_has_one_row_per_object_and_one_column_per_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _manifest(tmp_path)
    labels = _labels(manifest)
    target = tmp_path / "forms.csv"
    code = main(["export", str(manifest), "--label-attribute", "label", "--format", "form-csv", "--out", str(target)])
    assert code == 1  # a failed object among the lines
    assert "lines: 4 (4 forms, 0 not forms, 1 failed)" in capsys.readouterr().out
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == [
        "line",
        "source",
        "confidence",
        "kept-as-given",
        "failure-reason",
        "explanation",  # the fields in the manifest's order (results.jsonl is written with sorted keys)
        "option1|option2",
    ]
    # the text box is consolidated (its consensus text), the radio question too: nothing kept as given
    assert rows[1:4] == [
        ["1", f"s3://gallery-bucket/{NAME}/0.json", "0.4933", "", "", "Option 2 is better argued", "Option 2"],
        ["2", f"s3://gallery-bucket/{NAME}/1.json", "0.48", "", "", "Option 1 reads clearer", "Option 2"],
        ["3", f"s3://gallery-bucket/{NAME}/2.json", "0.4762", "", "", "Option 2 has the facts right", "Option 2"],
    ]
    assert [label["confidence"] for label in labels[:3]] == [
        0.4933,
        0.48,
        0.4762,
    ]  # one of three answers left empty in each
    assert rows[4] == ["4", "s3://b/x.json", "", "", "no usable answer", "", ""]


def test_form_export_counts_its_lines_and_names_each_failed_object(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The form export goes through the same loop as the others: the progress bar counts every line, a
    failed object is named on stderr, and a line that cannot be read back stops it naming the line."""
    manifest = _manifest(tmp_path)
    target = tmp_path / "forms.csv"
    argv = ["export", str(manifest), "--label-attribute", "label", "--format", "form-csv", "--out", str(target)]
    assert main([*argv, "--progress"]) == 1
    err = capsys.readouterr().err
    assert "exporting" in err and "4/4" in err
    assert "warning: line 4: object not consolidated: no usable answer" in err
    assert main([*argv, "--no-progress"]) == 1
    assert capsys.readouterr().err.splitlines() == ["warning: line 4: object not consolidated: no usable answer"]
    # a label moved to S3 that is not there: the line is named, nothing is written
    moved = {"source-ref": "s3://b/y.json", "label": {"type": "groundtruth/custom", "full-label-ref": "s3://b/nowhere.json"},
             "label-metadata": {"type": "groundtruth/custom"}}  # fmt: skip
    manifest.write_text(manifest.read_text() + json.dumps(moved) + "\n")
    target.unlink()
    (tmp_path / "s3" / "b").mkdir(parents=True)
    assert main([*argv, "--no-progress", "--s3-root", str(tmp_path / "s3")]) == 3
    assert capsys.readouterr().err.splitlines() == [
        "warning: line 4: object not consolidated: no usable answer",
        f"Error: {manifest} line 5: cannot export: cannot read s3://b/nowhere.json: No such file or directory",
    ]
    assert not target.exists()


def test_form_jsonl_keeps_values_typed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = _manifest(tmp_path)
    labels = _labels(manifest)
    target = tmp_path / "forms.jsonl"
    main(["export", str(manifest), "--label-attribute", "label", "--format", "form-jsonl", "--out", str(target)])
    capsys.readouterr()
    rows = [json.loads(line) for line in target.read_text().splitlines()]
    assert rows[0] == {
        "line": 1,
        "source": f"s3://gallery-bucket/{NAME}/0.json",
        "confidence": labels[0]["confidence"],
        "fields": {"explanation": "Option 2 is better argued", "option1|option2": "Option 2"},
        "field-confidence": {"explanation": 0.4933, "option1|option2": 0.7979},
        "kept-as-given": [],
    }
    assert labels[0]["fields"]["explanation"]["value"] == "Option 2 is better argued"
    assert rows[3]["failure-reason"] == "no usable answer"


def test_the_report_shows_each_fields_agreement_least_sure_objects_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tally.tools._form_views import form_fields_html

    def form(confidence: float, value: str) -> dict[str, Any]:
        return {
            "type": "groundtruth/custom",
            "confidence": confidence,
            "fields": {
                "q": {"kind": "single-choice", "consolidated": True, "value": value, "confidence": confidence},
                "note": {
                    "kind": "text",
                    "consolidated": False,
                    "reason": "r",
                    "answers": [{"workerId": "w", "value": "x"}],
                },
            },
        }

    labels = [
        ("a", form(0.9, "yes")),
        ("b", form(0.55, "no")),
        ("c", {"type": "groundtruth/custom", "failure-reason": "f"}),
    ]
    page = form_fields_html(labels)
    assert page.count("<tr>") == 3
    assert (
        "<tr><td>q</td><td>single-choice</td><td>2</td><td>0</td><td>0.725</td><td>b (0.550), a (0.900)</td></tr>"
        in page
    )
    assert "<tr><td>note</td><td>text</td><td>0</td><td>2</td><td>n/a</td><td>&ndash;</td></tr>" in page
    assert form_fields_html([("a", {"type": "groundtruth/image-classification", "class-name": "x"})]) == ""
    # through the command: a tally consolidate folder of a form, its payload as the source of answers
    assert '<h2>Form fields</h2>\n<table id="form-fields">' in _gallery_report(tmp_path, capsys)


def test_the_reports_worker_table_gives_each_worker_a_quality_across_the_forms_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A form's worker-quality rows hold figures per field: the worker table shows their mean over the
    fields that measured the worker (a ranking's over its dimensions; a number's offset is no quality),
    n/a when none did."""
    from tally.tools.report import _quality

    label = {
        "type": "groundtruth/custom",
        "fields": {},
        "worker-quality": [
            {"workerId": "a", "q": {"accuracy": 0.9, "informativeness": 0.2}, "r": {"reliability": {"x": 0.6, "y": 0.8}},
             "n": {"offset": 0.5, "noise": 0.1}},
            {"workerId": "b", "q": {"accuracy": None, "informativeness": None}, "n": {"offset": 0.2, "noise": 0.3}},
            {"workerId": "c", "n": {"offset": 0.0, "noise": 0.2}},
        ],
    }  # fmt: skip
    quality = _quality(label)
    assert quality == {"a": ("fields", 0.8), "b": ("fields", None)}
    # through the command: the gallery's side-by-side form, every worker with a figure
    page = _gallery_report(tmp_path, capsys)
    rows = re.findall(r'<tr data-worker-row="([^"]+)"><td>[^<]+</td><td>([^<]*)</td>', page)
    assert rows == [  # "–" before: no figure at the row's top level
        ("private.us-east-1.hasty", "0.68 (fields)"),
        ("private.us-east-1.careful", "0.56 (fields)"),
        ("private.us-east-1.sloppy", "0.56 (fields)"),
    ]
