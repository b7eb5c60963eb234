"""`tally report` without a browser: what it reads (reconsolidate and consolidate folders, manifests
with their source), each worker's agreement with the consensus on hand-made answers whose consensus is
known, and its errors. The page itself is tested in Chromium (test_report_browser.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tally.tools._common import CliStorage
from tally.tools.cli import main
from tally.tools.report import Answer, ReviewObject, agreement, load_review, parse_answer, render_report
from tests.helpers import annotation, data_object, read_mask, seg_content
from tests.sim.manifests import recipe_line, write_manifest
from tests.tools.test_export import COLOURS, LEGEND, reconsolidated

MIRROR = str(Path(__file__).parent / "no-such-bucket-here")  # an S3 mirror holding nothing: no request to S3


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("jobs")
    kinds = ["segmentation", "boxes", "keypoints", "instances", "classification", "multilabel", "entities"]
    return {kind: reconsolidated(root, kind) for kind in kinds}


def _agreements(folder: Path) -> list[dict[str, float | None]]:
    _, objects, problems = load_review(folder, None, None, CliStorage(MIRROR))
    assert problems == []
    return [{a.worker_id: agreement(obj, a) for a in obj.answers} for obj in objects]


def test_agreement_with_the_consensus(jobs: dict[str, Path]) -> None:
    # consensus [[cat, dog], [cat, .]]: w1 drew exactly that, w2 missed a cat pixel, w3 the dog pixel
    assert _agreements(jobs["segmentation"]) == [{"w1": 1.0, "w2": 0.75, "w3": 0.75}]
    # both boxes kept; w3 drew only the cat: F1 = 2·1/(1+2)
    [boxes] = _agreements(jobs["boxes"])
    assert boxes == {"w1": 1.0, "w2": 1.0, "w3": pytest.approx(2 / 3)}
    # object 0: cat by w1 and w2, dog by w3; object 1: dog by all
    assert _agreements(jobs["classification"]) == [{"w1": 1.0, "w2": 1.0, "w3": 0.0}, {"w1": 1.0, "w2": 1.0, "w3": 1.0}]
    # consensus {cat, dog}; w2 said only cat
    assert _agreements(jobs["multilabel"]) == [{"w1": 1.0, "w2": 0.5, "w3": 1.0}]
    # both spans kept; w3 marked only the person
    [entities] = _agreements(jobs["entities"])
    assert entities == {"w1": 1.0, "w2": 1.0, "w3": pytest.approx(2 / 3)}
    assert _agreements(jobs["keypoints"]) == [{"w1": 1.0, "w2": 1.0, "w3": 1.0}]
    assert _agreements(jobs["instances"]) == [{"w1": 1.0, "w2": 1.0, "w3": 1.0}]


def test_reconsolidate_folder_finds_its_source(jobs: dict[str, Path], tmp_path: Path) -> None:
    attr, objects, _ = load_review(jobs["classification"], None, None, CliStorage(MIRROR))
    assert attr == "pets"
    assert [(o.key, o.source, o.label["class-name"]) for o in objects] == [
        ("line 1", "s3://images/c0.png", "cat"),
        ("line 2", "s3://images/c1.png", "dog"),
    ]
    assert [(a.worker_id, a.value) for a in objects[0].answers] == [
        ("w1", {"label": "cat"}),
        ("w2", {"label": "cat"}),
        ("w3", {"label": "dog"}),
    ]
    assert objects[0].image is None and objects[0].image_note == "source image not read: StorageError"
    # the same output manifest on its own: no answers unless --source names them
    manifest = jobs["classification"] / "output.manifest"
    _, alone, _ = load_review(manifest, None, None, CliStorage(MIRROR))
    assert [o.answers for o in alone] == [[], []]
    _, with_source, _ = load_review(
        manifest, str(jobs["classification"].parent / "classification.manifest"), None, CliStorage(MIRROR)
    )
    assert [len(o.answers) for o in with_source] == [3, 3]


def test_consolidate_folder_with_its_payload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = tmp_path / "payload.json"
    answers = [
        annotation("w1", seg_content(["cd", "c."], LEGEND, COLOURS)),
        annotation("w2", seg_content(["cd", "c."], LEGEND, COLOURS)),
    ]
    payload.write_text(json.dumps([data_object("7", *answers), data_object("8")]))
    out = tmp_path / "out"
    argv = [
        "consolidate",
        str(payload),
        "--labels",
        "cat,dog",
        "--label-attribute",
        "pets",
        "--out",
        str(out),
        "--confidence-maps",
    ]
    assert main(argv) == 1  # object 8 has no answer
    page = tmp_path / "page.html"
    capsys.readouterr()
    mirror = tmp_path / "s3"
    mirror.mkdir()
    assert main(["report", str(out), "--source", str(payload), "--s3-root", str(mirror), "--out", str(page)]) == 1
    captured = capsys.readouterr()
    assert "warning: object 8: not consolidated: no annotations: no worker answered" in captured.err
    assert "objects: 2 (1 failed), answers: 2" in captured.out
    attr, objects, problems = load_review(out, str(payload), None, CliStorage(MIRROR))
    assert (attr, problems) == ("pets", [])
    assert [(o.key, o.source, len(o.answers), o.failure) for o in objects] == [
        ("object 7", "s3://bucket/images/7.jpg", 2, None),
        ("object 8", "s3://bucket/images/8.jpg", 0, "no annotations: no worker answered"),
    ]
    assert [agreement(objects[0], a) for a in objects[0].answers] == [1.0, 1.0]
    assert sorted(objects[0].artefacts) == ["confidence", "mask"]
    text = render_report(objects, attr)
    assert text.index("object 8") < text.index("object 7")  # failed first


def test_errors(jobs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mirror = tmp_path / "s3"
    mirror.mkdir()
    assert main(["report", str(tmp_path / "missing"), "--out", str(tmp_path / "p.html")]) == 3
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "p.html")]) == 3  # neither output
    assert "holds neither output.manifest" in capsys.readouterr().err
    assert main(["report", str(jobs["boxes"]), "--out", str(tmp_path)]) == 2  # --out is a directory
    assert not (tmp_path / "p.html").exists()
    assert main(["report", str(jobs["boxes"]), "--s3-root", str(mirror), "--out", str(tmp_path / "p.html")]) == 0
    assert (tmp_path / "p.html").read_text().startswith("<!DOCTYPE html>")


def test_limit_keeps_the_least_confident(jobs: dict[str, Path]) -> None:
    attr, objects, _ = load_review(jobs["classification"], None, None, CliStorage(MIRROR))
    assert [o.confidence for o in objects] == [0.7642, 0.9441]
    page = render_report(objects, attr, limit=1)
    assert page.count('<section class="object"') == 1
    assert "<h2>line 1</h2>" in page and "<h2>line 2</h2>" not in page
    assert '<b id="visible-count">1</b> of 2 objects shown' in page


def test_answers_from_a_job_output_prefix(tmp_path: Path) -> None:
    """A job run without a Lambda: line 1's answers in the consolidation-request payload, line 2's in
    its worker-response file; the report finds both through the source reconsolidate recorded."""
    prefix = tmp_path / "job"
    contents = [seg_content(["cd", "c."], LEGEND, COLOURS), seg_content(["cd", ".."], LEGEND, COLOURS)]
    payload = [data_object("0", *(annotation(w, c) for w, c in zip(["w1", "w2"], contents, strict=True)))]
    payload[0]["dataObject"] = {"s3Uri": "s3://images/a.jpg"}
    requests = prefix / "annotations" / "consolidated-annotation" / "consolidation-request" / "iteration-1"
    requests.mkdir(parents=True)
    (requests / "batch.json").write_text(json.dumps(payload))
    response = prefix / "annotations" / "worker-response" / "iteration-1" / "1" / "r.json"
    response.parent.mkdir(parents=True)
    answers = [{"workerId": w, "answerContent": json.loads(c)} for w, c in zip(["w3", "w4"], contents, strict=True)]
    response.write_text(json.dumps({"answers": answers}))
    manifest = prefix / "manifests" / "output" / "output.manifest"
    manifest.parent.mkdir(parents=True)
    lines = [{"source-ref": f"s3://images/{n}.jpg", "pets": {}, "pets-metadata": {}} for n in "ab"]
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out"
    argv = ["reconsolidate", str(prefix), "--label-attribute", "pets", "--labels", "cat,dog", "--out", str(out)]
    assert main([*argv, "--jobs", "1", "--no-progress"]) == 0
    _, objects, _ = load_review(out, None, None, CliStorage(MIRROR))
    assert [[a.worker_id for a in o.answers] for o in objects] == [["w1", "w2"], ["w3", "w4"]]
    # two workers split on one pixel; the consensus took background there ([[cat, dog], [., .]])
    assert [read_mask(o.artefacts["mask"]).tolist() for o in objects] == [[[1, 2], [0, 0]]] * 2
    assert [[agreement(o, a) for a in o.answers] for o in objects] == [[0.75, 1.0], [0.75, 1.0]]


def test_names_are_escaped() -> None:
    """Label names and worker IDs come from job configuration and workers: never markup in the page."""
    name, worker = '<b>sign</b> "x" & y', "w<script>1"
    obj = ReviewObject(
        key="line 1",
        source=None,
        label={"type": "groundtruth/image-classification", "class-id": 0, "class-name": name, "confidence": 0.5},
        answers=[Answer(worker, {"label": name})],
    )
    page = render_report([obj], "pets")
    assert "<b>sign</b>" not in page and "<script>1" not in page
    assert (
        page.count("&lt;b&gt;sign&lt;/b&gt; &quot;x&quot; &amp; y") == 5
    )  # chip, consensus, answer, option value and text
    assert agreement(obj, obj.answers[0]) == 1.0


def test_answer_beside_other_form_fields_and_polygons(tmp_path: Path) -> None:
    square = {"label": "cat", "vertices": [{"x": 0, "y": 0}, {"x": 4, "y": 0}, {"x": 4, "y": 4}, {"x": 0, "y": 4}]}
    element = {"polygons": [square], "inputImageProperties": {"width": 8, "height": 6}}
    content = {"comment": "fine", "annotatedResult": element}
    answer = parse_answer(annotation("w1", json.dumps(content)))
    assert (answer.worker_id, answer.value) == ("w1", element)
    assert parse_answer(annotation("w2", "not json")).error == "content is not JSON"
    # polygons are consolidated as instances: w1 and w2 drew the square, w3 nothing
    empty = {"polygons": [], "inputImageProperties": {"width": 8, "height": 6}}
    answers = [("w1", json.dumps(content)), ("w2", json.dumps({"p": element})), ("w3", json.dumps({"p": empty}))]
    source = write_manifest(tmp_path / "p.manifest", iter([recipe_line("s3://images/p.png", "pets", answers)]))
    out = tmp_path / "out"
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--labels", "cat,dog", "--out", str(out)]
    assert main([*argv, "--jobs", "1", "--no-progress"]) == 0
    _, [obj], _ = load_review(out, None, None, CliStorage(MIRROR))
    assert obj.task_type == "groundtruth/instance-segmentation"
    assert [agreement(obj, a) for a in obj.answers] == [1.0, 1.0, 0.0]
    page = render_report([obj], "pets")
    assert page.count("<polygon ") == 2
