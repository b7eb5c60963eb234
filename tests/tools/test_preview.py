"""`tally preview`: every worker template renders against a manifest line of its type, with exactly
the taskInput the pre-annotation code produces; unknown variables fail loudly."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tally.forms import parse_template
from tally.pre_annotation import pre_annotate
from tally.tools.cli import main
from tally.tools.preview import CROWD_SCRIPT, FAKE_SIGNATURE, STAND_IN
from tests.tools.template_cases import (
    CASES,
    IMAGE_URI,
    LABELS,
    PRIOR_FORM,
    PRIOR_MAPPINGS,
    PRIOR_URI,
    TEMPLATES,
    TEXT,
    Case,
    s3_mirror,
)


class _Elements(HTMLParser):
    """Every element's attributes (entities decoded, as a browser does) and text, by tag."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: dict[str, dict[str, str | None]] = {}
        self.text: dict[str, str] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.attrs[tag] = dict(attrs)
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open:
            self.text[self._open[-1]] = self.text.get(self._open[-1], "") + data


def _render(tmp_path: Path, case: Case, *extra: str) -> tuple[int, _Elements]:
    line = tmp_path / f"{case.template}.json"
    line.write_text(json.dumps(case.line()))
    out = tmp_path / f"{case.template}.html"
    code = main(["preview", str(case.path), str(line), "--out", str(out), *extra])
    parser = _Elements()
    if out.exists():
        parser.feed(out.read_text())
    return code, parser


def test_every_template_has_a_case() -> None:
    assert sorted(p.name for p in TEMPLATES.glob("*.liquid.html")) == sorted(c.path.name for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.template)
def test_template_renders_the_pre_annotation_task_input(tmp_path: Path, case: Case) -> None:
    code, page = _render(tmp_path, case)
    assert code == 0
    assert page.attrs["script"]["src"] == "https://assets.crowd.aws/crowd-html-elements.js"
    assert "crowd-form" in page.attrs
    rendered = (tmp_path / f"{case.template}.html").read_text()
    if case.form:  # a form: the fields tally reads off the page the workers see
        assert [(f.name, f.kind) for f in parse_template(rendered)] == list(case.form)
    if case.element is None:  # a form whose question is no crowd element: its options, its text or image
        if case.template == "form-dropdown":
            assert parse_template(rendered).field("label").options == tuple(LABELS)
            bucket, key = IMAGE_URI.removeprefix("s3://").split("/", 1)
            assert page.attrs["img"]["src"] == f"https://{bucket}.s3.amazonaws.com/{key}?{FAKE_SIGNATURE}"
        else:
            assert page.text["blockquote"] == TEXT
        return
    element = page.attrs[case.element]
    assert element["name"] == case.element_name
    assert json.loads(element[case.options_attribute] or "") == case.expected_options()
    if case.text:
        if case.element == "crowd-entity-annotation":
            assert element["text"] == TEXT
        else:
            assert page.text["classification-target"] == TEXT
        assert "src" not in element
    else:
        bucket, key = IMAGE_URI.removeprefix("s3://").split("/", 1)
        assert element["src"] == f"https://{bucket}.s3.amazonaws.com/{key}?{FAKE_SIGNATURE}"
    if case.adjustment:
        bucket, key = PRIOR_URI.removeprefix("s3://").split("/", 1)
        assert json.loads(element["initial-value"] or "") == {
            "src": f"https://{bucket}.s3.amazonaws.com/{key}?{FAKE_SIGNATURE}",
            "labelMappings": PRIOR_MAPPINGS,
        }
    else:
        assert "initial-value" not in element


def test_s3_root_shows_the_local_image(tmp_path: Path) -> None:
    mirror = s3_mirror(tmp_path / "s3")
    case = CASES[1]  # the adjustment template: both the image and the prior mask
    assert case.element is not None
    code, page = _render(tmp_path, case, "--s3-root", str(mirror))
    assert code == 0
    element = page.attrs[case.element]
    assert element["src"] == (mirror / IMAGE_URI.removeprefix("s3://")).resolve().as_uri()
    assert json.loads(element["initial-value"] or "")["src"] == (mirror / PRIOR_URI.removeprefix("s3://")).as_uri()
    code, page = _render(tmp_path, case, "--s3-root", str(mirror), "--embed-images")
    assert code == 0
    assert (page.attrs[case.element]["src"] or "").startswith("data:image/png;base64,iVBOR")


def test_labels_option_when_the_line_has_none(tmp_path: Path) -> None:
    line = tmp_path / "line.json"
    line.write_text(json.dumps({"source-ref": IMAGE_URI}))
    out = tmp_path / "page.html"
    assert main(["preview", str(CASES[0].path), str(line), "--out", str(out), "--labels", '["a", "b"]']) == 0
    page = _Elements()
    page.feed(out.read_text())
    assert json.loads(page.attrs["crowd-semantic-segmentation"]["labels"] or "") == ["a", "b"]


def test_jsonl_manifest_line_number(tmp_path: Path) -> None:
    manifest = tmp_path / "input.manifest"
    manifest.write_text("\n".join(json.dumps({"source": f"text {i}", "labels": LABELS}) for i in range(3)) + "\n")
    out = tmp_path / "page.html"
    text_case = next(c for c in CASES if c.template == "text-classification")
    assert main(["preview", str(text_case.path), str(manifest), "--line", "2", "--out", str(out)]) == 0
    page = _Elements()
    page.feed(out.read_text())
    assert page.text["classification-target"] == "text 1"
    assert main(["preview", str(text_case.path), str(manifest), "--line", "4", "--out", str(out)]) == 3


def test_unknown_variable_fails_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    template = tmp_path / "t.liquid.html"
    template.write_text(
        '<crowd-form>\n<crowd-bounding-box\n  labels="{{ task.input.labelz | to_json | escape }}">\n</crowd-form>\n'
    )
    line = tmp_path / "line.json"
    line.write_text(json.dumps({"source-ref": IMAGE_URI, "labels": LABELS}))
    out = tmp_path / "page.html"
    assert main(["preview", str(template), str(line), "--out", str(out)]) == 3
    assert capsys.readouterr().err == (
        f"Error: {template} line 3: task.input.labelz is undefined (taskInput has: labels, manifestLine, taskObject)\n"
    )
    assert not out.exists()


def test_adjustment_template_on_a_line_without_a_prior_mask_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = tmp_path / "line.json"
    line.write_text(json.dumps({"source-ref": IMAGE_URI, "labels": LABELS}))
    assert main(["preview", str(CASES[1].path), str(line), "--out", str(tmp_path / "p.html")]) == 3
    assert "task.input.initialValue is undefined" in capsys.readouterr().err


def test_line_without_source_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = tmp_path / "line.json"
    line.write_text(json.dumps({"labels": LABELS}))
    assert main(["preview", str(CASES[0].path), str(line), "--out", str(tmp_path / "p.html")]) == 3
    assert "isHumanAnnotationRequired: false" in capsys.readouterr().err


def test_bad_json_line_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = tmp_path / "line.json"
    line.write_text('{"source-ref": ')
    assert main(["preview", str(CASES[0].path), str(line), "--out", str(tmp_path / "p.html")]) == 3
    assert capsys.readouterr().err.startswith(f"Error: {line} line 1 is not valid JSON")


def test_stand_in_replaces_the_crowd_script(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[0]
    line = tmp_path / "line.json"
    line.write_text(json.dumps(case.line()))
    out = tmp_path / "page.html"
    assert main(["preview", str(case.path), str(line), "--out", str(out), "--stand-in"]) == 0
    html = out.read_text()
    assert CROWD_SCRIPT not in html
    assert html.count(STAND_IN.read_text()) == 1
    template = tmp_path / "t.liquid.html"
    template.write_text("<crowd-form></crowd-form>")
    assert main(["preview", str(template), str(line), "--out", str(tmp_path / "t.html"), "--stand-in"]) == 3
    assert "does not load https://assets.crowd.aws/crowd-html-elements.js" in capsys.readouterr().err


def test_a_prior_forms_fields_start_the_next_jobs_elements(tmp_path: Path) -> None:
    """Pre-annotation passes a prior form's consolidated fields as initialValue; the form templates start
    their elements from it (checked, selected, value)."""
    meta = {"type": "groundtruth/custom", "creation-date": "2026-11-01T12:00:00.000000"}
    line = {"source-ref": IMAGE_URI, "labels": ["road", "car"], "review": PRIOR_FORM, "review-metadata": meta}
    task_input = pre_annotate({"dataObject": line})["taskInput"]
    assert task_input["initialValue"] == {"clarity": "unclear", "label": "road", "occluded": True}
    source = tmp_path / "line.json"
    source.write_text(json.dumps(line))
    pages = {}
    for name in ("form-classification-with-question", "form-dropdown"):
        out = tmp_path / f"{name}.html"
        assert main(["preview", str(TEMPLATES / f"{name}.liquid.html"), str(source), "--out", str(out)]) == 0
        pages[name] = parse_template(out.read_text())
    assert pages["form-classification-with-question"].field("clarity").default == "unclear"
    assert pages["form-dropdown"].field("label").default == "road"
    assert pages["form-dropdown"].field("occluded").default is True
    rated = {**line, "source": TEXT}
    rated["review"] = {
        **PRIOR_FORM,
        "fields": {"verdict": {"kind": "single-choice", "consolidated": True, "value": "reject"}},
    }
    source.write_text(json.dumps(rated))
    out = tmp_path / "rating.html"
    assert main(["preview", str(TEMPLATES / "form-rating.liquid.html"), str(source), "--out", str(out)]) == 0
    assert parse_template(out.read_text()).field("fluency").default == 3  # no agreed value: the template's own
