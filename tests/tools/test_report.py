"""`tally report` without a browser: what it reads (reconsolidate and consolidate folders, manifests
with their source), each worker's agreement with the consensus on hand-made answers whose consensus is
known, and its errors. The page itself is tested in Chromium (test_report_browser.py)."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tally.colours import hex_to_rgb
from tally.tools._common import NO_CREDENTIALS, CliStorage
from tally.tools.cli import main
from tally.tools.report import (
    UNKNOWN_HEX,
    Answer,
    ReviewObject,
    _shade,
    agreement,
    load_review,
    parse_answer,
    render_report,
    review_reasons,
)
from tests.helpers import annotation, data_object, grid, read_mask, seg_content
from tests.sim.manifests import recipe_line, write_manifest
from tests.tools.jobs import COLOURS, LEGEND, reconsolidated

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
    assert objects[0].image is None
    assert objects[0].image_note == f"source image not read: {MIRROR}/images/c0.png does not exist"
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


def test_a_results_file_is_read_as_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``tally report DIR/results.jsonl`` (or a copy of it under another name): tally consolidate's
    results, not an output manifest; the same page as for DIR."""
    payload = tmp_path / "payload.json"
    answers = [annotation(w, seg_content(["cd", "c."], LEGEND, COLOURS)) for w in ("w1", "w2")]
    payload.write_text(json.dumps([data_object("7", *answers), data_object("8")]))
    out = tmp_path / "out"
    assert main(["consolidate", str(payload), "--labels", "cat,dog", "--out", str(out), "--no-progress"]) == 1
    renamed = tmp_path / "batch-1.jsonl"
    renamed.write_bytes((out / "results.jsonl").read_bytes())
    mirror = tmp_path / "s3"
    mirror.mkdir()
    pages = []
    for target in (out, out / "results.jsonl", renamed):
        capsys.readouterr()
        page = tmp_path / f"{target.name}.html"
        argv = ["report", str(target), "--source", str(payload), "--s3-root", str(mirror), "--out", str(page)]
        assert main(argv) == 1  # object 8 failed
        captured = capsys.readouterr()
        assert "warning: object 8: not consolidated: no annotations: no worker answered" in captured.err
        assert captured.out == f"objects: 2 (1 failed), answers: 2\nwritten: {page}\n"
        pages.append(page.read_text())
    assert pages[1] == pages[0] and pages[2] == pages[0]
    assert main(["report", str(renamed), "--out", str(tmp_path / "p.html")]) == 1
    assert capsys.readouterr().err.endswith(
        "warning: the page shows no worker answers, only the consensus: give the batch's event or payload as --source\n"
    )


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
    # polygons are consolidated as instances: w1 and w2 drew the square, w3 nothing (one element, two names)
    empty = {"polygons": [], "inputImageProperties": {"width": 8, "height": 6}}
    lone = {"annotatedResult": element}
    answers = [("w1", json.dumps(lone)), ("w2", json.dumps({"p": element})), ("w3", json.dumps({"p": empty}))]
    source = write_manifest(tmp_path / "p.manifest", iter([recipe_line("s3://images/p.png", "pets", answers)]))
    out = tmp_path / "out"
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--labels", "cat,dog", "--out", str(out)]
    assert main([*argv, "--jobs", "1", "--no-progress"]) == 0
    # with w1's comment beside the polygons, the answers are a form (issue 20): the comment is consolidated
    # as free text (its one answer), not dropped
    answers[0] = ("w1", json.dumps(content))
    form = write_manifest(tmp_path / "f.manifest", iter([recipe_line("s3://images/p.png", "pets", answers)]))
    argv_form = [*argv[:1], str(form), *argv[2:-1], str(tmp_path / "form-out"), "--jobs", "1", "--no-progress"]
    assert main(argv_form) == 0
    [line] = [json.loads(text) for text in (tmp_path / "form-out" / "output.manifest").read_text().splitlines()]
    fields = line["pets"]["fields"]
    assert (fields["comment"]["value"], fields["comment"]["consolidated"]) == ("fine", True)
    assert fields["comment"]["answers"] == [{"workerId": "w1", "text": "fine", "agreement": 1.0}]
    polygons = fields["annotatedResult"]
    assert (polygons["keys"], polygons["type"], polygons["answers-used"]) == (
        ["annotatedResult", "p"],
        "groundtruth/instance-segmentation",
        3,
    )
    _, [obj], _ = load_review(out, None, None, CliStorage(MIRROR))
    assert obj.task_type == "groundtruth/instance-segmentation"
    assert [agreement(obj, a) for a in obj.answers] == [1.0, 1.0, 0.0]
    page = render_report([obj], "pets")
    assert page.count("<polygon ") == 2


# --- the page as a team lead reads it (issue 24): consensus colours, review flags, figures without evidence


def _palette_png(rows: list[str], keys: dict[str, int]) -> bytes:
    """A consensus mask as tally writes it: a palette PNG whose pixel values are class keys."""
    buf = io.BytesIO()
    Image.fromarray(grid(rows, keys)).save(buf, format="PNG")
    return buf.getvalue()


def _overlays(page: str, panel: str) -> list[np.ndarray]:
    """The RGBA pixels of every image layer of one panel (``consensus`` or a worker's)."""
    start = page.index(f'data-worker="{panel}">') if panel != "consensus" else page.index("<b>consensus</b>") - 2000
    figure = page[start : page.index("</figure>", start)]
    return [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(data))).convert("RGBA"))
        for data in re.findall(r'<img class="layer"[^>]*src="data:image/png;base64,([^"]+)"', figure)
    ]


def _colours(rgba: np.ndarray) -> dict[str, int]:
    """Opaque pixels per colour (hex)."""
    opaque = rgba[rgba[..., 3] > 0][:, :3]
    return {f"#{r:02x}{g:02x}{b:02x}": int(n) for (r, g, b), n in Counter(map(tuple, opaque.tolist())).items()}


STREET = {
    "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
    "1": {"class-name": "road", "hex-color": "#1f77b4"},
    "2": {"class-name": "car", "hex-color": "#17becf"},
    "3": {"class-name": "sign", "hex-color": "#e377c2"},
}


def _segmentation(key: str, confidence: float, answers: list[Answer], **extra: Any) -> ReviewObject:
    label = {"type": "groundtruth/semantic-segmentation", "confidence": confidence, "internal-color-map": STREET}
    obj = ReviewObject(key=key, source=None, label={**label, **extra}, answers=answers)
    obj.artefacts["mask"] = _palette_png(["rrcc", "rrcc", "ssss"], {"r": 1, "c": 2, "s": 3})
    return obj


def test_workers_are_drawn_in_the_consensus_palette() -> None:
    """A worker who painted `car` in #e377c2 (the consensus colour of `sign`) is drawn in the consensus
    colour of `car`; a colour the worker did not map, and a label the job lacks, in UNKNOWN_HEX."""
    own = {"car": "#e377c2", "road": "#1f77b4", "sign": "#00ff00", "ghost": "#123456", "stray": "#abcdef"}
    content = json.loads(
        seg_content(["rrcc", "rrcc", "sgx."], {"r": "road", "c": "car", "s": "sign", "g": "ghost", "x": "stray"}, own)
    )
    del content["crowd-semantic-segmentation"]["labelMappings"]["stray"]  # painted, but not in its mappings
    answer = parse_answer(annotation("w1", json.dumps(content)))
    obj = _segmentation("line 1", 0.9, [answer])
    page = render_report([obj], "street")
    [drawn] = _overlays(page, "w1")
    assert _colours(drawn) == {"#1f77b4": 4, "#17becf": 4, "#e377c2": 1, UNKNOWN_HEX: 2}
    assert drawn[0, 2, :3].tolist() == [0x17, 0xBE, 0xCF]  # the worker's car, in the consensus's car colour
    assert drawn[2, 3, 3] == 0  # unpainted: transparent
    assert "8.3% painted in colours it did not map to a label" in page
    assert "painted ghost, which the job lacks" in page
    assert agreement(obj, answer) == pytest.approx(9 / 12)


def test_disputed_regions_put_an_object_first_and_on_its_card() -> None:
    disputed = [
        {
            "classes": ["car", "sign"],
            "pixels": 5123,
            "decided": "BACKGROUND",
            "confidence": 0.41,
            "workers": {"car": ["w1"], "sign": ["w2"], "none": ["w3"]},
        }
    ]
    calm = _segmentation("line 1", 0.80, [])
    split = _segmentation("line 2", 0.95, [], **{"disputed-regions": disputed})
    split.artefacts["mask"] = _palette_png(["r" * 100] * 80, {"r": 1})  # 8,000 pixels
    assert review_reasons(calm) == []
    assert review_reasons(split) == ["1 disputed region"]
    page = render_report([calm, split], "street")
    assert page.index("<h2>line 2</h2>") < page.index("<h2>line 1</h2>")
    card = page[page.index("<h2>line 2</h2>") : page.index("<h2>line 1</h2>")]
    assert '<span class="flag">needs review</span> <span class="reasons">1 disputed region</span>' in card
    assert (
        "<li><b>car vs sign</b> · 5,123 px (64.0%) · decided <b>BACKGROUND</b> (confidence 41%) · "
        "<b>car</b>: w1; <b>sign</b>: w2; <b>nothing</b>: w3</li>"
    ) in card
    assert '<b id="review-count">1</b> need review' in page
    assert page.count('<section class="object"') == 2
    assert re.findall(r'<section class="object"[^>]*data-review="(\d)"', page) == ["1", "0"]


def test_needs_review_and_the_order_of_cards() -> None:
    """Failed objects first, then those needing review, then the rest; least agreed first within each."""

    def answer(worker: str, rows: list[str]) -> Answer:
        content = seg_content(
            rows, {"r": "road", "c": "car", "s": "sign"}, {"road": "#1f77b4", "car": "#17becf", "sign": "#e377c2"}
        )
        return parse_answer(annotation(worker, content))

    exact = ["rrcc", "rrcc", "ssss"]
    half = ["rrcc", "rrcc", "...."]
    objects = [
        _segmentation("sure", 0.95, [answer("w1", exact), answer("w2", exact)]),
        _segmentation("split", 0.93, [answer("w1", exact), answer("w2", half)]),  # mean agreement 5/6
        _segmentation("doubtful", 0.62, [answer("w1", exact), answer("w2", exact)]),
        ReviewObject("failed", None, {"type": "groundtruth/semantic-segmentation", "failure-reason": "no answers"}),
        ReviewObject("passed", None, {"type": "groundtruth/custom"}),
    ]
    assert [review_reasons(o) for o in objects] == [
        [],
        [],
        ["confidence 62% < 70%"],
        ["not consolidated: no answers"],
        [],
    ]
    page = render_report(objects, "street")
    assert re.findall(r"<h2>([a-z]+)</h2>", page) == ["failed", "doubtful", "split", "sure", "passed"]
    assert re.findall(r"<h2>([a-z]+)</h2>", render_report(objects, "street", review_below=0.5)) == [
        "failed",
        "split",
        "doubtful",
        "sure",
        "passed",
    ]


def _instance_png(rows: list[str]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.array([[0 if ch == "." else int(ch) for ch in row] for row in rows], dtype=np.uint8)).save(
        buf, format="PNG"
    )
    return buf.getvalue()


def test_instances_get_distinct_colours_and_their_confidence() -> None:
    """Two consensus people: each in a shade of the class colour (the first in the class colour
    itself), numbered, with its own confidence; one below the review threshold flags the object."""
    label = {
        "type": "groundtruth/instance-segmentation",
        "confidence": 0.8,
        "internal-color-map": {
            "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff"},
            "1": {"class-name": "Person", "hex-color": "#8c564b"},
        },
        "instances": [
            {"label": "Person", "color": "#1f77b4", "confidence": 0.9, "workers": ["w1", "w2"]},
            {"label": "Person", "color": "#ff7f0e", "confidence": 0.46, "workers": ["w1"]},
        ],
    }
    rows = ["11....22", "11....22", "11....22", "........"]
    obj = ReviewObject("line 1", None, label)
    obj.artefacts["instances"] = _instance_png(rows)
    page = render_report([obj], "people")
    overlay = _overlays(page, "consensus")[0]
    first, second = overlay[0, 0, :3].tolist(), overlay[0, 7, :3].tolist()
    assert first == [0x8C, 0x56, 0x4B] and second != first  # distinct, the first in Person's colour
    assert second == list(hex_to_rgb(_shade("#8c564b", 0.5)))  # a lighter Person
    assert "#1 Person 90%</span>" in page and "#2 Person 46%</span>" in page
    assert review_reasons(obj) == ["below 70%: #2 Person 46%"]
    assert re.findall(r'class="num">(\d)</text>', page) == ["1", "2"]


def test_worker_figures_without_evidence_are_na_and_ranked_last() -> None:
    """`null` figures (no evidence: the worker drew nothing anything could be checked against) show as
    n/a, are never replaced by another measure (the weight), and rank after every worker with a figure."""
    quality = [
        {"workerId": "empty", "agreement": None, "weight": 1.0},
        {"workerId": "careful", "agreement": 0.95, "weight": 1.0},
        {"workerId": "sloppy", "agreement": 0.5, "weight": 0.4},
    ]
    entities = {"entities": [{"label": "person", "startOffset": 0, "endOffset": 4, "confidence": 0.9}], "labels": []}
    label = {
        "type": "groundtruth/named-entity-recognition",
        "confidence": 0.9,
        "annotations": entities,
        "worker-quality": quality,
    }
    answers = [
        Answer("empty", {"entities": []}),
        Answer("careful", {"entities": [{"label": "person", "startOffset": 0, "endOffset": 4}]}),
        Answer("sloppy", {"entities": [{"label": "person", "startOffset": 0, "endOffset": 3}]}),
    ]
    obj = ReviewObject("line 1", None, label, answers, text="Anna in Paris")
    boxes = {
        "type": "groundtruth/object-detection",
        "confidence": 1.0,
        "annotations": [],
        "objects": [],
        "class-map": {},
        "worker-quality": [{"workerId": "empty", "precision": None, "recall": None, "weight": 1.0}],
    }
    other = ReviewObject("line 2", None, boxes, [Answer("empty", {"boundingBoxes": []})])
    page = render_report([obj, other], "people")
    rows = re.findall(r'<tr data-worker-row="([a-z]+)"><td>[a-z]+</td><td>([^<]*)</td>', page)
    assert rows == [
        ("careful", "0.95 (agreement)"),
        ("sloppy", "0.50 (agreement)"),
        ("empty", "n/a (agreement, precision)"),
    ]
    assert "<b>empty</b> agreement 0% · agreement n/a" in page
    assert "<b>careful</b> agreement 100% · agreement 0.95" in page
    assert "agreement 100% · precision n/a" in page  # line 2: nothing drawn, nothing to draw


def test_report_warns_when_it_shows_no_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps([data_object("7", annotation("w1", seg_content(["cd"], LEGEND, COLOURS)))]))
    out = tmp_path / "out"
    assert main(["consolidate", str(payload), "--labels", "cat,dog", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["report", str(out), "--out", str(tmp_path / "p.html")]) == 0
    assert capsys.readouterr().err == (
        "warning: the page shows no worker answers, only the consensus: give the batch's event or payload as --source\n"
    )
    mirror = tmp_path / "s3"
    mirror.mkdir()
    assert (
        main(
            ["report", str(out), "--source", str(payload), "--s3-root", str(mirror), "--out", str(tmp_path / "p.html")]
        )
        == 0
    )
    assert capsys.readouterr().err == "warning: 1 of 1 source image not read: not in the --s3-root mirror\n"
    assert (
        f"source image not read: {mirror / 'bucket/images/7.jpg'} does not exist" in (tmp_path / "p.html").read_text()
    )


def test_images_on_s3_without_credentials(
    jobs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --s3-root and no AWS credentials: no request is made, the card and stderr say what to do."""
    from tally import aws

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    aws.own_session.cache_clear()
    try:
        capsys.readouterr()
        page = tmp_path / "p.html"
        assert main(["report", str(jobs["classification"]), "--out", str(page)]) == 0
    finally:
        aws.own_session.cache_clear()
    assert capsys.readouterr().err == f"warning: 2 of 2 source images not read: {NO_CREDENTIALS}\n"
    text = page.read_text()
    assert text.count(f"source image not read: {html.escape(NO_CREDENTIALS)}") == 2
    assert "TransientStorageError" not in text and "NoCredentialsError" not in text


def test_worker_colours_follow_the_consolidation_rules() -> None:
    """An RGB answer (no alpha: its background is black) and a colour a few steps off the label's
    (an anti-aliased edge) read as the consolidation reads them (tally.codecs): unpainted and the label,
    so the drawing and the agreement are those of the same answer sent as a palette PNG."""
    legend, colours = {"r": "road", "c": "car", "s": "sign"}, {"road": "#1f77b4", "car": "#17becf", "sign": "#e377c2"}
    rows = ["rrcc", "rrcc", "ss.."]
    palette = parse_answer(annotation("w1", seg_content(rows, legend, colours)))
    rgb = parse_answer(annotation("w2", seg_content(rows, legend, colours, mode="RGB")))
    near = {**colours, "sign": "#e67bc5"}  # within SNAP_TOLERANCE of sign's colour, and no mapping of its own
    edge = json.loads(seg_content(rows, legend, near))
    edge["crowd-semantic-segmentation"]["labelMappings"]["sign"] = {"color": colours["sign"]}
    snapped = parse_answer(annotation("w3", json.dumps(edge)))
    obj = _segmentation("line 1", 0.9, [palette, rgb, snapped])
    assert [agreement(obj, a) for a in obj.answers] == [10 / 12] * 3
    page = render_report([obj], "street")
    drawn = [_colours(_overlays(page, w)[0]) for w in ("w1", "w2", "w3")]
    assert drawn == [{"#1f77b4": 4, "#17becf": 4, "#e377c2": 2}] * 3
    assert "did not map" not in page


def test_an_instance_object_that_kept_none_shows_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The street-scenes image where one worker of three drew a person: its card says why it is empty."""
    from tests.project import SHARED

    manifest = SHARED / "data" / "streetscenes-custom-job-output.manifest"
    out, page = tmp_path / "out", tmp_path / "page.html"
    assert main(["reconsolidate", str(manifest), "--label-attribute", "gt-label", "--out", str(out)]) == 0
    assert main(["report", str(out), "--s3-root", str(tmp_path), "--out", str(page)]) == 0  # images: none
    capsys.readouterr()
    notes = re.findall(r'<span class="note">(no instance kept[^<]*)</span>', page.read_text())
    assert notes == [
        "no instance kept: 2 of 3 workers drew nothing; 1 worker drew 1 instance, which too few other workers drew"
        " there with the same label"
    ]
