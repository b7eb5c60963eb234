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
        "  explanation      text          3 consolidated, 0 kept as given",
    ]


def test_a_form_of_sliders_is_consolidated_on_their_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "translation-quality"
    template = GALLERY / "text" / f"{name}.liquid.html"
    args = ["consolidate", str(GALLERY / "answers" / f"{name}.json"), "--out", str(tmp_path / "out"), "--no-progress"]
    assert main([*args, "--template", str(template)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "objects:          3 (3 with fields consolidated, 0 with every field kept as given, 0 failed)"
    assert out[2] == "mean confidence:  0.667"
    assert out[4:6] == [
        "  meaning  number        3 consolidated, 0 kept as given",
        "  fluency  number        3 consolidated, 0 kept as given",
    ]


def test_a_form_with_nothing_consolidated_is_not_called_consolidated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    template = tmp_path / "t.html"
    template.write_text('<crowd-form><crowd-dial name="q"></crowd-dial><crowd-dial name="c"></crowd-dial></crowd-form>')
    answers = [{"workerId": f"w{k}", "annotationData": {"content": json.dumps({"q": k, "c": "ok"})}} for k in range(3)]
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps([{"datasetObjectId": "0", "dataObject": {"content": "x"}, "annotations": answers}]))
    args = ["consolidate", str(payload), "--out", str(tmp_path / "out"), "--no-progress", "--template", str(template)]
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "objects:          1 (0 with fields consolidated, 1 with every field kept as given, 0 failed)"
    assert out[2] == "mean confidence:  n/a"


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


def test_reconsolidating_forms_with_nothing_consolidated_counts_them_as_kept_not_passed_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A form line whose every field is kept as given is counted as such by `tally reconsolidate` (as
    `tally consolidate` says of it), not as a line passed through for want of a consolidation."""
    import json

    from tests.sim.manifests import recipe_line, write_manifest

    def content(k: int) -> str:  # values of several types per field: kept as given
        return json.dumps({"q": [k, "x"] if k % 2 else {"z": k}, "c": True if k == 0 else "ok"})

    lines = [recipe_line(f"s3://b/{i}.txt", "form", [(f"w{k}", content(k)) for k in range(3)]) for i in range(2)]
    source = write_manifest(tmp_path / "input.manifest", iter(lines))
    out = tmp_path / "out"
    assert main(["reconsolidate", str(source), "--label-attribute", "form", "--out", str(out), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == (
        "lines:            2 (0 consolidated, 2 forms with every field kept as given, 0 passed through unconsolidated,"
        " 0 failed)"
    )
    summary = json.loads((out / "summary.json").read_text())
    counts = ("lines", "consolidated", "kept-as-given", "passed-through", "failed")
    assert {k: summary[k] for k in counts} == {
        "lines": 2,
        "consolidated": 0,
        "kept-as-given": 2,
        "passed-through": 0,
        "failed": 0,
    }
