"""`tally consolidate --template` on a form: the summary says, per field, what was consolidated and what
was kept as given; a batch with nothing consolidated never reads as consolidated."""

from __future__ import annotations

from pathlib import Path

import pytest

from tally.tools.cli import main

GALLERY = Path(__file__).resolve().parents[1] / "fixtures" / "gt-templates"


def test_the_summary_names_each_field_and_what_became_of_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "side-by-side-comparison"
    args = ["consolidate", str(GALLERY / "answers" / f"{name}.json"), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main([*args, "--template", str(GALLERY / "other" / f"{name}.liquid.html")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "objects:          3 (3 with fields consolidated, 0 with every field kept as given, 0 failed)"
    assert out[3:6] == [
        "form fields:      2 (schema from template)",
        "  option1|option2  single-choice 3 consolidated, 0 kept as given",
        "  explanation      text          0 consolidated, 3 kept as given"
        " (no consolidation for free-text fields yet: each worker's value is kept as given)",
    ]


def test_a_form_of_sliders_only_is_not_called_consolidated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "translation-quality"
    template = GALLERY / "text" / f"{name}.liquid.html"
    args = ["consolidate", str(GALLERY / "answers" / f"{name}.json"), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main([*args, "--template", str(template)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "objects:          3 (0 with fields consolidated, 3 with every field kept as given, 0 failed)"
    assert out[2] == "mean confidence:  n/a"
    assert out[4:6] == [
        "  meaning  number        0 consolidated, 3 kept as given"
        " (no consolidation for number fields yet: each worker's value is kept as given)",
        "  fluency  number        0 consolidated, 3 kept as given"
        " (no consolidation for number fields yet: each worker's value is kept as given)",
    ]


def test_an_unreadable_template_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "t.html"
    bad.write_bytes(b"\xff\xfe not utf-8")
    payload = GALLERY / "answers" / "translation-quality.json"
    code = main(["consolidate", str(payload), "--template", str(bad), "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 3
    assert "--template" in capsys.readouterr().err


def test_reconsolidating_a_form_job_keeps_every_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`tally reconsolidate` of a form job (the recipe's manifest of raw answers): each chunk is read as
    a form (inferred: reconsolidate has no template) and every field consolidated or kept, none dropped."""
    import json

    from tests.sim.manifests import recipe_line, write_manifest

    name = "named-entity-recognition-with-additional-classification"
    objects = json.loads((GALLERY / "answers" / f"{name}.json").read_text())
    lines = [
        recipe_line(f"s3://b/{o['datasetObjectId']}.txt", "subject",
                    [(a["workerId"], a["annotationData"]["content"]) for a in o["annotations"]])
        for o in objects
    ]  # fmt: skip
    source = write_manifest(tmp_path / "input.manifest", iter(lines))
    out = tmp_path / "out"
    argv = ["reconsolidate", str(source), "--label-attribute", "subject", "--out", str(out), "--jobs", "1"]
    assert main([*argv, "--batch-size", "3"]) == 0
    capsys.readouterr()
    result = [json.loads(line) for line in (out / "output.manifest").read_text().splitlines()]
    assert [sorted(line["subject"]["fields"]) for line in result] == [["crowd-entity-annotation", "politics|tech"]] * 3
    assert all(line["subject"]["schema-source"] == "inferred" for line in result)
    assert [line["subject"]["fields"]["politics|tech"]["value"] for line in result] == ["politics", "politics", "tech"]
