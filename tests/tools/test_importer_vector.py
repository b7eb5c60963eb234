"""Label Studio ``VectorLabels`` (``vectorlabels`` results): open paths are the polyline task's answers,
closed ones polygons; gold paths score the annotators; the consolidated lines go back as
``vectorlabels`` predictions. Fixtures: tests/fixtures/labelstudio/vector-*.json (PROVENANCE.txt)."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tally.aggregation.instance_fusion import rasterise_polygons
from tally.importers.labelstudio import read_config
from tally.importers.labelstudio import read_export as labelstudio_read
from tally.importers.model import GOLD_MODEL_NOTE
from tally.tools.cli import main
from tests.project import ROOT
from tests.sim.gold import gold_alone, non_gold_quality, vector_export
from tests.tools.imports import answer as _answer
from tests.tools.imports import core as _core
from tests.tools.imports import png as _png
from tests.tools.imports import without as _without

LS = ROOT / "tests" / "fixtures" / "labelstudio"

BEZIER = "vectorlabels answer unreadable: a path has a Bézier vertex (isBezier): tally's lines and polygons are straight segments"
BRANCH = "vectorlabels answer unreadable: a path branches (a vertex with two next vertices, as skeleton mode draws)"
CLOSED_IN_OPEN = (
    "vectorlabels answer unreadable: 1 of its 2 paths is closed in a field of open paths (most of the field's "
    "paths in the export are open: it is consolidated as polylines)"
)
OPEN_IN_CLOSED = (
    "vectorlabels answer unreadable: 1 of its 1 paths is open in a field of closed paths (most of the field's "
    "paths in the export are closed: it is consolidated as polygons)"
)
SIZE = {"width": 640, "height": 480}


def _run(source: Path, out: Path, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(["consolidate", "--from", "labelstudio", str(source), "--out", str(out), *extra])
    lines = (out / "results.jsonl").read_text().splitlines() if (out / "results.jsonl").exists() else []
    return code, [json.loads(line)["consolidatedAnnotation"]["content"]["label"] for line in lines]


def _line(label: str, *points: tuple[float, float]) -> dict[str, Any]:
    return {"label": label, "vertices": [{"x": float(x), "y": float(y)} for x, y in points]}


def _lines(worker: str, *lines: dict[str, Any], gold: bool = False) -> dict[str, Any]:
    answer = _answer(worker, {"lines": {"polylines": list(lines), "inputImageProperties": SIZE}})
    if gold:
        answer["annotationData"]["gold"] = True
    return answer


def _object(task: int, *answers: dict[str, Any]) -> dict[str, Any]:
    image = {"s3Uri": f"s3://roads/road-{task}.jpg"}
    return {"datasetObjectId": str(task), "dataObject": image, "annotations": list(answers)}


ANA, BEN, CY, REV = "ana@example.com", "ben@example.com", "cy@example.com", "rev@example.com"


def test_label_studio_open_vector_paths_are_the_same_crowd_polyline_batch(tmp_path: Path, capsys: Any) -> None:
    code, labels = _run(LS / "vector-lines-three-annotators.json", tmp_path / "out")
    assert code == 0
    # the Ground Truth batch the export stands for, in pixels (percent x original_width / 100); ana's lane is
    # listed out of order in the export and read along its prevPointId links; ben drew his the other way round
    payload = [
        _object(1, _lines(ANA, _line("lane", (100, 468), (210, 300), (300, 150)), _line("curb", (20, 399), (600, 408))),
                _lines(BEN, _line("lane", (302, 150), (208, 300), (102, 468)),
                       _line("curb", (22, 402), (320, 405), (598, 408))),
                _lines(CY, _line("lane", (98, 471), (212, 300), (299, 153)))),
        _object(2, _lines(ANA), _lines(BEN, _line("lane", (50, 48), (90, 60)))),
        _object(3, _lines(CY, _line("lane", (302, 27), (338, 123), (382, 237)))),
        _object(4, _lines(REV, _line("lane", (400, 24), (420, 456)), _line("curb", (0, 240), (640, 240)), gold=True),
                _lines(ANA, _line("lane", (20, 24), (20, 456))),
                _lines(BEN, _line("lane", (402, 24), (421, 456)), _line("curb", (0, 243), (640, 237))),
                _lines(CY, _line("lane", (401, 27), (419, 453)))),
    ]  # fmt: skip
    assert [_without(label, "rejected-answers") for label in labels] == [_without(label) for label in _core(payload)]
    assert labels[0]["type"] == "tally/polyline"
    assert [(p["label"], p["vertices"], p["workers"]) for p in labels[0]["polylines"]] == [
        ("curb", [{"x": 21.0, "y": 400.5}, {"x": 599.0, "y": 408.0}], [ANA, BEN]),
        ("lane", [{"x": 100.42, "y": 468.58}, {"x": 209.56, "y": 299.93}, {"x": 300.54, "y": 150.69}], [ANA, BEN, CY]),
    ]  # fmt: skip
    assert [label.get("rejected-answers") for label in labels] == [
        None,
        [{"workerId": CY, "reason": BEZIER}],
        [{"workerId": ANA, "reason": BRANCH}, {"workerId": BEN, "reason": CLOSED_IN_OPEN}],
        None,
    ]
    assert labels[2]["import-notes"] == [f"annotation by {REV} was cancelled (skipped) in Label Studio: left out"]
    # the gold annotation is the label (never outvoted); the others scored against it and teaching the model
    assert [(p["label"], p["vertices"], p["confidence"]) for p in labels[3]["polylines"]] == [
        ("curb", [{"x": 0.0, "y": 240.0}, {"x": 640.0, "y": 240.0}], 1.0),
        ("lane", [{"x": 400.0, "y": 24.0}, {"x": 420.0, "y": 456.0}], 1.0),
    ]
    assert labels[3]["gold-answers"] == {
        "workers": [REV],
        "scores": [{"workerId": ANA, "agreement": 0.0}, {"workerId": BEN, "agreement": 1.0},
                   {"workerId": CY, "agreement": 0.6667}],
        "note": GOLD_MODEL_NOTE,
    }  # fmt: skip
    summary = capsys.readouterr().out
    assert "gold:             1 object labelled with their gold answer (0 without a readable one)" in summary
    assert "  cy@example.com: agreement with gold 0.667 over 1 gold object" in summary
    # the per-region "style" choices voted per consolidated line (the lines' members)
    assert [
        (v["shape"], v["values"], [a["workerId"] for a in v["answers"]]) for v in labels[0]["shape-attributes"]
    ] == [
        (0, {"style": "solid"}, [BEN]),
        (1, {"style": "dashed"}, [ANA, BEN, CY]),
    ]

    # written back as vectorlabels predictions: open paths, straight, linked in order, in percent
    tasks = json.loads((tmp_path / "out" / "predictions.json").read_text())
    result = tasks[0]["predictions"][0]["result"]
    assert [(r["from_name"], r["type"], r.get("score")) for r in result] == [
        ("lines", "vectorlabels", 0.6446),
        ("lines", "vectorlabels", 0.9773),
        ("style", "choices", None),
        ("style", "choices", None),
    ]
    assert result[1]["value"] == {
        "vertices": [
            {"id": "tally-1-0", "x": 15.690625, "y": 97.620833, "prevPointId": None, "isBezier": False},
            {"id": "tally-1-1", "x": 32.74375, "y": 62.485417, "prevPointId": "tally-1-0", "isBezier": False},
            {"id": "tally-1-2", "x": 46.959375, "y": 31.39375, "prevPointId": "tally-1-1", "isBezier": False},
        ],
        "closed": False,
        "vectorlabels": ["lane"],
    }
    assert (result[1]["original_width"], result[1]["original_height"], result[1]["to_name"]) == (640, 480, "image")
    assert result[3]["value"] == {**{k: v for k, v in result[1]["value"].items() if k != "vectorlabels"},
                                  "choices": ["dashed"]}  # fmt: skip
    # and read back by the importer as the consolidated lines (to the written percent's 6 decimals)
    back = [{**tasks[0], "id": 1, "annotations": [{"completed_by": 9, "result": result}]}]
    element = labelstudio_read(back)[0].fields["lines"][0].element
    assert [
        (p["label"], [(round(v["x"], 4), round(v["y"], 4)) for v in p["vertices"]]) for p in element["polylines"]
    ] == [
        ("curb", [(21.0, 400.5), (599.0, 408.0)]),
        ("lane", [(100.42, 468.58), (209.56, 299.93), (300.54, 150.69)]),
    ]


def test_label_studio_closed_vector_paths_are_polygons_and_an_unfinished_one_is_refused(tmp_path: Path) -> None:
    code, labels = _run(LS / "vector-polygons-three-annotators.json", tmp_path / "out")
    assert code == 0

    def square(x0: int, y0: int, x1: int, y1: int) -> list[dict[str, float]]:
        return [{"x": float(x), "y": float(y)} for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]

    def answer(worker: str, *corners: int) -> dict[str, Any]:
        polygons = [{"label": "car", "vertices": square(*corners)}]
        return _answer(worker, {"cars": {"polygons": polygons, "inputImageProperties": SIZE}})

    payload = [
        {"datasetObjectId": "11", "dataObject": {"s3Uri": "s3://roads/lot-1.jpg"},
         "annotations": [answer(ANA, 64, 48, 256, 192), answer(BEN, 70, 48, 256, 198), answer(CY, 64, 54, 250, 192)]},
        {"datasetObjectId": "12", "dataObject": {"s3Uri": "s3://roads/lot-2.jpg"},
         "annotations": [answer(ANA, 320, 240, 512, 384), answer(CY, 326, 240, 512, 378)]},
    ]  # fmt: skip
    core = _core(payload)
    keys = ("class-mask-ref", "instance-mask-ref", "rejected-answers")
    assert [_without(label, *keys) for label in labels] == [_without(label, *keys) for label in core]
    assert [label["type"] for label in labels] == ["groundtruth/instance-segmentation"] * 2
    assert [i["workers"] for i in labels[0]["instances"]] == [[ANA, BEN, CY]]  # a ring, and a closed chain (ben)
    assert labels[1]["rejected-answers"] == [{"workerId": BEN, "reason": OPEN_IN_CLOSED}]
    # the fused car of lot 2 from ana's and cy's squares alone (ben's open path refused): with two voters
    # of equal weight the core's pixel vote keeps every pixel either square covers
    instances = _png(tmp_path / "out", labels[1]["instance-mask-ref"])
    a, _ = rasterise_polygons([np.array([[320, 240], [512, 240], [512, 384], [320, 384]], float)], 640, 480)
    c, _ = rasterise_polygons([np.array([[326, 240], [512, 240], [512, 378], [326, 378]], float)], 640, 480)
    assert np.array_equal(instances == 1, (a > 0) | (c > 0))
    assert np.count_nonzero((a > 0) & (c > 0)) < np.count_nonzero((a > 0) | (c > 0))  # the squares differ


def _path(*points: tuple[float, float], prev: list[str | None] | None = None, ids: str = "abcdefgh") -> list[Any]:
    links = prev if prev is not None else [None, *ids[: len(points) - 1]]
    return [
        {"id": ids[k], "x": x, "y": y, "prevPointId": links[k], "isBezier": False} for k, (x, y) in enumerate(points)
    ]


def _task(*paths: tuple[list[Any], bool], closed: bool = False) -> list[dict[str, Any]]:
    result = [{"id": f"r{k}", "type": "vectorlabels", "from_name": "v", "to_name": "image", "original_width": 200,
               "original_height": 100, "value": {"vertices": vertices, "closed": is_closed, "vectorlabels": ["x"]}}
              for k, (vertices, is_closed) in enumerate(paths)]  # fmt: skip
    return [{"id": 1, "data": {"image": "a.png"}, "annotations": [{"id": 5, "completed_by": 1, "result": result}]}]


@pytest.mark.parametrize(
    ("vertices", "closed", "read"),
    [
        # ids linked out of list order: read along the links
        ([{"id": "a", "x": 0, "y": 0, "prevPointId": None}, {"id": "c", "x": 20, "y": 0, "prevPointId": "b"},
          {"id": "b", "x": 10, "y": 10, "prevPointId": "a"}], False, [(0, 0), (20, 10), (40, 0)]),
        # no prevPointId: the vertex before in the list, as the editor reads it; [x, y] pairs likewise
        ([{"id": "a", "x": 0, "y": 0}, {"id": "b", "x": 10, "y": 10}], False, [(0, 0), (20, 10)]),
        ([[0, 0], [10, 10], [30, 20]], False, [(0, 0), (20, 10), (60, 20)]),
        # a ring (the first vertex's prevPointId names the last), closed: a polygon from the first vertex
        (_path((0, 0), (10, 0), (10, 10), prev=["c", "a", "b"]), True, [(0, 0), (20, 0), (20, 10)]),
    ],
)  # fmt: skip
def test_label_studio_vector_vertices_follow_their_links(
    vertices: list[Any], closed: bool, read: list[tuple[float, float]]
) -> None:
    item = labelstudio_read(_task((vertices, closed)))[0]
    key = "polygons" if closed else "polylines"
    assert item.kinds["v"] == key
    shape = item.fields["v"][0].element[key][0]
    assert [(v["x"], v["y"]) for v in shape["vertices"]] == read


@pytest.mark.parametrize(
    ("vertices", "closed", "reason"),
    [
        (_path((0, 0), (10, 0), (10, 10), prev=["c", "a", "b"]), False,
         "a path's vertices link in a ring, but it is not closed"),
        (_path((0, 0), (10, 0), (10, 10), prev=[None, "z", "b"]), False,
         "a vertex's prevPointId names no vertex of its path"),
        (_path((0, 0), (10, 0), (10, 10), prev=[None, "c", "b"]), False,
         "a path's vertices are not one path (some link in a loop of their own)"),
        (_path((0, 0), (10, 0), ids="aa"), False, "two vertices of a path share an id"),
        ([{"id": "a", "x": "1", "y": 0}], False, "a vertex's x is not a number"),
        ([{"id": "a", "x": 1, "y": 0}, "b"], False, "a vertex is neither an object nor an [x, y] pair"),
        ({"a": 1}, False, "a path has no vertices list"),
        (_path((0, 0), (10, 0)), "yes", "a path's closed is not true or false"),
    ],
)  # fmt: skip
def test_label_studio_malformed_vector_paths_refuse_their_answer_with_the_reason(
    vertices: Any, closed: Any, reason: str
) -> None:
    item = labelstudio_read(_task((vertices, closed)))[0]
    (answer,) = item.fields["v"]
    assert (answer.element, answer.reason) == (None, f"vectorlabels answer unreadable: {reason}")
    assert answer.given == {"vertices": vertices, "closed": closed, "vectorlabels": ["x"]}  # kept as given


def test_label_studio_vector_labels_config_is_a_polyline_or_a_polygon_field() -> None:
    config = """<View><Image name="image" value="$image"/>
      <VectorLabels name="lines" toName="image"><Label value="lane"/><Label value="curb"/></VectorLabels>
      <VectorLabels name="cars" toName="image" closable="true" minPoints="3"><Label value="car"/></VectorLabels>
    </View>"""
    fields = read_config(config)
    assert [(f.name, f.kind, f.task, f.options) for f in fields.values()] == [
        ("lines", "annotation", "polyline", ("lane", "curb")),
        ("cars", "annotation", "polygon", ("car",)),
    ]


def test_label_studio_gold_paths_teach_the_polyline_model_as_the_core_batches_do(tmp_path: Path) -> None:
    """The core's gold-polyline crowds (tests/core/test_gold_worker_models.py: a careful annotator and
    ``bo`` on each of 40 objects, the truth marked gold on 8; seeds 4–12) as Label Studio exports
    (:func:`tests.sim.gold.vector_export`) through ``tally consolidate --from labelstudio``: the
    same non-gold line F1 as the core batches, against each gold object's gold answer alone."""
    scored: list[float] = []
    alone: list[float] = []
    for seed in range(4, 13):
        tasks, truth, gold = vector_export(seed)
        for name, export, runs in (("scored", tasks, scored), ("alone", gold_alone(tasks), alone)):
            quality, held = non_gold_quality("polylines", export, truth, gold, tmp_path / f"{seed}-{name}")
            assert held  # never outvoted
            runs.append(quality)
    assert (round(scored[0], 4), round(alone[0], 4)) == (0.8833, 0.5919)  # the core test's seed 4
    assert (round(statistics.mean(scored), 3), round(statistics.mean(alone), 3)) == (0.862, 0.562)


@pytest.mark.parametrize("closable", [None, "true"])
def test_label_studio_vector_paths_in_a_form_are_consolidated_by_the_line_kind(
    tmp_path: Path, closable: str | None
) -> None:
    """Open paths are lines, with or without a config, and under a ``closable`` tag too (it allows closed
    paths; these are open): the form's field is what its paths are, as the field alone's is."""
    tasks = json.loads((LS / "vector-lines-three-annotators.json").read_text())
    for task in tasks:
        for a in task["annotations"]:
            weather = "wet" if a["id"] % 3 == 0 else "dry"
            a["result"].append({"id": f"q{a['id']}", "type": "choices", "from_name": "weather", "to_name": "image",
                                "value": {"choices": [weather]}})  # fmt: skip
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    extra: list[str] = []
    if closable is not None:
        (tmp_path / "config.xml").write_text(
            f'<View><Image name="image" value="$image"/><VectorLabels name="lines" toName="image" closable="{closable}">'
            '<Label value="lane"/><Label value="curb"/></VectorLabels><Choices name="weather" toName="image">'
            '<Choice value="wet"/><Choice value="dry"/></Choices></View>'
        )
        extra = ["--template", str(tmp_path / "config.xml")]
    code, labels = _run(tmp_path / "export.json", tmp_path / "out", *extra)
    assert code == 0
    lines = labels[0]["fields"]["lines"]
    assert (lines["consolidated"], lines["type"], lines["answers-used"]) == (True, "tally/polyline", 3)
    # the lines in the labels' order: the answers' (curb first) or the config's (lane first)
    expected = [("curb", [ANA, BEN]), ("lane", [ANA, BEN, CY])]
    assert [(p["label"], p["workers"]) for p in lines["value"]["polylines"]] == (
        expected if closable is None else expected[::-1]
    )
    assert labels[0]["imported-from"] == {"tool": "labelstudio", "fields": ["lines", "weather"]}
    result = json.loads((tmp_path / "out" / "predictions.json").read_text())[0]["predictions"][0]["result"]
    written = [("lines", "vectorlabels", [name]) for name, _ in expected]
    assert [(r["from_name"], r["type"], r["value"].get("vectorlabels")) for r in result] == [
        *(written if closable is None else written[::-1]),
        ("weather", "choices", None),
    ]
