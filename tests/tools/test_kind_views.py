"""Numbers, free text, rankings and lines through the tools (issue 21): `tally reconsolidate` of a
recipe manifest, then `tally report` (each worker's agreement, the kind's figure or its lines over the
image) and `tally export` (CSV, JSONL, COCO keypoints for lines), all through the kinds' views."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tally.tools._common import CliStorage
from tally.tools.cli import main
from tally.tools.report import agreement, load_review, parse_answer, render_report
from tests.helpers import annotation
from tests.sim.manifests import recipe_line, write_manifest

MIRROR = str(Path(__file__).parent / "no-such-bucket-here")
WORKERS = ("w1", "w2", "w3")


def _line(ref: str, answers: list[tuple[str, Any]]) -> dict[str, Any]:
    return recipe_line(ref, "q", [(w, json.dumps(a)) for w, a in answers])


def _polylines(*lines: tuple[str, list[tuple[float, float]]]) -> dict[str, Any]:
    drawn = [{"label": name, "vertices": [{"x": x, "y": y} for x, y in vertices]} for name, vertices in lines]
    return {"crowdPolyline": {"polylines": drawn, "inputImageProperties": {"width": 64, "height": 48}}}


KINDS: dict[str, list[dict[str, Any]]] = {
    "number": [
        _line("s3://i/1.txt", [("w1", {"q": 3}), ("w2", {"q": 3}), ("w3", {"q": 4})]),
        _line("s3://i/2.txt", [("w1", {"q": 1}), ("w2", {"q": 2}), ("w3", {"q": 2})]),
    ],
    "text": [
        _line(
            "s3://i/1.wav",
            [
                ("w1", {"t": "please call me back after the meeting"}),
                ("w2", {"t": "please call me bakc after the meeting"}),
                ("w3", {"t": "please call me back after the meting"}),
            ],
        )
    ],
    "ranking": [
        _line(
            "s3://i/1.txt",
            [
                (w, {"ordinalRankingDimensions": [{"name": "Clarity", "responseRankings": r}]})
                for w, r in zip(WORKERS, [[1, 2, 3], [1, 2, 3], [2, 1, 3]], strict=True)
            ],
        )
    ],
    "lines": [
        _line(
            "s3://i/1.png",
            [
                ("w1", _polylines(("lane", [(0, 0), (60, 40)]))),
                ("w2", _polylines(("lane", [(1, 0), (61, 41)]))),
                ("w3", _polylines(("lane", [(0, 1), (60, 41)]), ("edge", [(5, 40), (50, 45)]))),
            ],
        )
    ],
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kinds")
    out = {}
    for kind, lines in KINDS.items():
        source = write_manifest(root / f"{kind}.manifest", iter(lines))
        folder = root / kind
        argv = ["reconsolidate", str(source), "--label-attribute", "q", "--out", str(folder)]
        labels = ["--labels", "lane,edge"] if kind == "lines" else []
        assert main([*argv, *labels, "--jobs", "1", "--no-progress"]) == 0
        out[kind] = folder
    return out


def _review(folder: Path) -> tuple[str, list[Any]]:
    attr, objects, _ = load_review(folder, None, None, CliStorage(MIRROR))
    return attr, objects


def test_answers_of_a_form_with_one_field_are_read_as_the_driver_reads_them() -> None:
    assert parse_answer(annotation("w1", json.dumps({"rating": 4}))).value == {"value": 4}
    assert parse_answer(annotation("w1", json.dumps({"note": "a cat"}))).value == {"value": "a cat"}
    ranking = {"ordinalRankingDimensions": [{"name": "Clarity", "responseRankings": [2, 1]}]}
    assert parse_answer(annotation("w1", json.dumps(ranking))).value == ranking
    assert parse_answer(annotation("w1", json.dumps({"ranked": ranking, "comment": "ok"}))).value == ranking


def test_each_workers_agreement_with_the_consensus(outputs: dict[str, Path]) -> None:
    found = {}
    for kind, folder in outputs.items():
        _, objects = _review(folder)
        found[kind] = [[agreement(obj, a) for a in obj.answers] for obj in objects]
    assert found == {
        # 1 - distance / scale width (the batch's 1-4): the value 3, then 2
        "number": [[1.0, 1.0, 1 - 1 / 3], [1 - 1 / 3, 1.0, 1.0]],
        # the consolidation's own agreement: one word of seven overruled
        "text": [[1.0, 0.8571, 0.8571]],
        # pairs of responses ordered alike: w3 swapped the first two
        "ranking": [[1.0, 1.0, 2 / 3]],
        # F1 of the worker's lines against the kept one (the edge only w3 drew is not kept)
        "lines": [[1.0, 1.0, 2 / 3]],
    }


def test_the_report_draws_each_kind(outputs: dict[str, Path]) -> None:
    pages = {}
    for kind, folder in outputs.items():
        attr, objects = _review(folder)
        pages[kind] = render_report(objects, attr)
    number = pages["number"]
    assert number.count('<svg class="fig-number"') == 2 and number.count("<circle ") == 6
    assert '<circle cx="290.0" cy="20" r="3.3"><title>w3: 4</title></circle>' in number
    text = pages["text"]
    assert text.count("<mark>") == 2
    assert "please call me <mark>bakc</mark> after the meeting" in text
    assert "please call me back after the <mark>meting</mark>" in text
    ranking = pages["ranking"]
    assert "<caption>Clarity</caption>" in ranking
    assert "<tr><td>1</td><td><b>1</b></td><td>71%</td><td>1</td><td>1</td><td>2</td></tr>" in ranking
    lines = pages["lines"]
    # the kept lane over the image, then each worker's lines (w3's edge too)
    assert lines.count("<polyline ") == 5
    assert '<polyline points="0.33,0.33 60.33,40.67"' in lines
    assert "<title>#1 lane 79%</title>" in lines


def test_export_writes_each_kinds_rows(outputs: dict[str, Path], tmp_path: Path) -> None:
    def exported(kind: str, fmt: str) -> Path:
        out = tmp_path / f"{kind}.{fmt}"
        argv = ["export", str(outputs[kind] / "output.manifest"), "--format", fmt, "--out", str(out)]
        assert main([*argv, "--no-progress"]) == 0
        return out

    with exported("number", "csv").open(newline="") as fh:
        assert list(csv.reader(fh)) == [
            ["line", "source-ref", "value", "interval-low", "interval-high", "confidence", "answers"],
            ["1", "s3://i/1.txt", "3", "2", "4", "0.3333", "w1=3 w2=3 w3=4"],
            ["2", "s3://i/2.txt", "2", "1", "3", "0.3333", "w1=1 w2=2 w3=2"],
        ]
    rows = [json.loads(line) for line in exported("text", "jsonl").read_text().splitlines()]
    assert [(r["workerId"], r["answer"], r["agreement"]) for r in rows] == [
        ("w1", "please call me back after the meeting", 1.0),
        ("w2", "please call me bakc after the meeting", 0.8571),
        ("w3", "please call me back after the meting", 0.8571),
    ]
    assert {r["text"] for r in rows} == {"please call me back after the meeting"}
    ranks = [json.loads(line) for line in exported("ranking", "jsonl").read_text().splitlines()]
    assert [(r["response"], r["rank"]) for r in ranks] == [(0, 1), (1, 2), (2, 3)]
    with exported("lines", "csv").open(newline="") as fh:
        assert list(csv.DictReader(fh)) == [
            {
                "line": "1",
                "source-ref": "s3://i/1.png",
                "label": "lane",
                "class_id": "0",
                "confidence": "0.7887",
                "keypoints": "[0.33,0.33,2,60.33,40.67,2]",
                "num_keypoints": "2",
                "bbox": "[0.33,0.33,60.0,40.34]",
            }
        ]


def test_coco_holds_lines_as_keypoints(outputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "lines.json"
    argv = ["export", str(outputs["lines"] / "output.manifest"), "--format", "coco", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    document = json.loads(out.read_text())
    assert document["images"] == [{"id": 1, "file_name": "s3://i/1.png", "width": 64, "height": 48}]
    assert document["categories"] == [
        {"id": 1, "name": "lane", "supercategory": "q", "keypoints": ["v1", "v2"], "skeleton": [[1, 2]]}
    ]
    [annotation] = document["annotations"]
    assert (annotation["keypoints"], annotation["num_keypoints"], annotation["score"]) == (
        [0.33, 0.33, 2, 60.33, 40.67, 2],
        2,
        0.7887,
    )


def test_coco_pads_a_shorter_polyline_of_a_category() -> None:
    from tally.tasks.lines import POLYLINE, LinesResult
    from tally.tools.export import CocoBuilder

    label = {
        "polylines": [
            {"label": "lane", "class_id": 0, "confidence": 0.9, "vertices": [{"x": 0, "y": 0}, {"x": 2, "y": 2}]},
            {
                "label": "lane",
                "class_id": 0,
                "confidence": 0.8,
                "vertices": [{"x": 0, "y": 5}, {"x": 1, "y": 6}, {"x": 2, "y": 8}],
            },
        ],
        "image_size": [{"width": 10, "height": 10}],
    }
    builder = CocoBuilder("q", lambda uri: b"")
    assert POLYLINE.views.coco(LinesResult.from_gt(label), {"id": 1}, builder)
    document = builder.document()
    assert document["categories"][0]["keypoints"] == ["v1", "v2", "v3"]
    assert document["categories"][0]["skeleton"] == [[1, 2], [2, 3]]
    assert [a["keypoints"] for a in document["annotations"]] == [
        [0, 0, 2, 2, 2, 2, 0, 0, 0],
        [0, 5, 2, 1, 6, 2, 2, 8, 2],
    ]
    assert [a["num_keypoints"] for a in document["annotations"]] == [2, 3]


@pytest.mark.parametrize("module", ["tally.tools._figures", "tally.tools.export"])
def test_examples_hold(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert (result.failed, result.attempted >= 2) == (0, True)
