"""Numbers, free text, rankings and lines as tasks (issue 21): a custom job whose template has one such
element, through the batch driver, and the same kinds as form fields (tally.tasks.fields), with
hand-made crowds and exact outputs."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tally.tasks.fields import FieldBounds, FieldObject, consolidate_field, prepare_field
from tally.worker_store import InMemoryWorkerStore
from tests.core.batch import content, run
from tests.helpers import annotation


def obj(object_id: Any, *answers: tuple[str, Any]) -> dict[str, Any]:
    return {
        "datasetObjectId": str(object_id),
        "dataObject": {"s3Uri": f"s3://bucket/{object_id}.jpg"},
        "annotations": [annotation(worker, json.dumps(answer)) for worker, answer in answers],
    }


def labels_of(tmp_path: Path, objects: list[dict[str, Any]], **kwargs: Any) -> dict[str, dict[str, Any]]:
    response, report, _ = run(tmp_path, objects, labels=kwargs.pop("labels", None), **kwargs)
    assert report.failed == 0
    return {e["datasetObjectId"]: content(e)[0] for e in response}


# -- numbers ---------------------------------------------------------------------------------------------


def test_a_biased_rater_is_corrected_and_their_lone_answer_too(tmp_path: Path) -> None:
    # GIVEN two raters who agree and a third who rates everything one point higher, on a 1-5 scale
    truth = [1, 2, 3, 4, 2, 3, 1, 2]
    objects = [obj(i, ("a", {"q": t}), ("b", {"q": t}), ("c", {"q": t + 1})) for i, t in enumerate(truth)]
    objects.append(obj("lone", ("c", {"q": 5})))  # only the biased rater answered
    labels = labels_of(tmp_path, objects)
    # THEN every value is the truth (the mean would be a third of a point high everywhere), and the
    # biased rater's lone 5 is a 4
    assert [labels[str(i)]["value"] for i in range(len(truth))] == truth
    assert labels["lone"] == {
        "type": "tally/number",
        "value": 4,
        "interval": [3, 5],
        "confidence": 0.5,
        "scale": {"min": 1, "max": 5, "step": 1, "from": "answers"},
        "answers": [{"workerId": "c", "value": 5, "weight": 1.0}],
        "worker-quality": [{"workerId": "c", "offset": 0.8909, "noise": 0.2887, "random-share": 0.0311}],
    }
    assert labels["0"]["answers"] == [
        {"workerId": "a", "value": 1, "weight": 0.3334},
        {"workerId": "b", "value": 1, "weight": 0.3334},
        {"workerId": "c", "value": 2, "weight": 0.3333},
    ]
    assert (labels["0"]["interval"], labels["0"]["confidence"]) == ([1, 2], 0.75)


def test_a_random_rater_weighs_nothing() -> None:
    # GIVEN four careful raters of differing noise and one who answers at random, on a 0-100 slider
    rng = np.random.default_rng(7)
    truth = rng.integers(10, 91, size=30)
    noise = {"a": 2.0, "b": 3.0, "c": 4.0, "d": 5.0}
    objects = []
    for i, t in enumerate(truth):
        given = [(w, int(np.clip(round(t + rng.normal(0, s)), 0, 100))) for w, s in noise.items()]
        objects.append(FieldObject(str(i), [*given, ("r", int(rng.integers(0, 101)))]))
    batch = consolidate_field("number", objects, FieldBounds(0, 100, 1))
    values = np.array([r.label["value"] for r in batch.results if r.label is not None])
    mean = np.array([np.mean([v for _, v in o.values]) for o in objects])
    # THEN tally's error is a sixth of the mean's
    assert round(float(np.abs(values - truth).mean()), 4) == 1.1333
    assert round(float(np.abs(mean - truth).mean()), 4) == 6.9267
    # the random answers more than 20 points off count for nothing, the others for at most 0.07 of
    # their object's value (a careful rater's share is about a quarter)
    weights = []
    for result in batch.results:
        assert result.label is not None
        (given,) = [a for a in result.label["answers"] if a["workerId"] == "r"]
        weights.append(given["weight"])
        if abs(given["value"] - result.label["value"]) > 20:
            assert given["weight"] == 0.0
    assert max(weights) == 0.0736
    assert batch.results[0].label is not None
    quality = {q["workerId"]: q for q in batch.results[0].label["worker-quality"]}
    assert quality["r"]["random-share"] == 0.6619
    assert max(q["random-share"] for w, q in quality.items() if w != "r") == 0.0155


def test_an_offset_that_rounds_to_zero_is_zero_not_minus_zero(tmp_path: Path) -> None:
    # GIVEN a rater whose offset is a hair below zero (a 0-100 slider, four raters, three objects)
    answers = [(75, 81, 68, 80), (99, 100, 91, 100), (78, 96, 87, 99)]
    objects = [FieldObject(str(i), [(f"w{k}", v) for k, v in enumerate(row)]) for i, row in enumerate(answers)]
    [first, *_] = consolidate_field("number", objects, FieldBounds(0, 100, 1)).results
    assert first.label is not None
    # THEN the label says 0.0, as JSON too (it said -0.0)
    quality = first.label["worker-quality"]
    assert quality[0] == {"workerId": "w0", "offset": 0.0, "noise": 1.5403, "random-share": 0.1186}
    assert json.dumps(quality[0]["offset"]) == "0.0"
    assert [q["offset"] for q in quality] == [0.0, 0.1251, -8.3351, 1.1433]
    # and through the batch driver, as a lone element's label
    rows = [obj(i, *[(f"w{k}", {"q": v}) for k, v in enumerate(row)]) for i, row in enumerate(answers)]
    label = labels_of(tmp_path, rows)["0"]
    assert [json.dumps(q["offset"]) for q in label["worker-quality"]] == ["0.0", "0.0", "-8.4292", "1.0345"]


def test_one_answer_and_identical_answers(tmp_path: Path) -> None:
    # a batch of one answer, and a batch whose answers are all the same number: no scale to measure
    # an interval against, the number itself with confidence 1
    one = labels_of(tmp_path / "one", [obj(0, ("a", {"q": 3}))])["0"]
    assert one == {
        "type": "tally/number",
        "value": 3,
        "interval": [3, 3],
        "confidence": 1.0,
        "scale": {"min": 3, "max": 3, "step": 1, "from": "answers"},
        "answers": [{"workerId": "a", "value": 3, "weight": 1.0}],
        "worker-quality": [{"workerId": "a", "offset": None, "noise": None, "random-share": None}],
    }
    same = labels_of(tmp_path / "same", [obj(0, ("a", {"q": 4}), ("b", {"q": 4}), ("c", {"q": 4}))])["0"]
    assert (same["value"], same["interval"], same["confidence"]) == (4, [4, 4], 1.0)
    assert [a["weight"] for a in same["answers"]] == [0.3333, 0.3333, 0.3333]
    # with the template's scale, identical answers have the interval the model gives on it
    [field] = consolidate_field(
        "number", [FieldObject("0", [("a", 4), ("b", 4), ("c", 4)])], FieldBounds(1, 5, 1)
    ).results
    assert field.label is not None
    assert (field.label["value"], field.label["interval"], field.label["confidence"]) == (4, [3, 5], 0.5)


def test_a_number_field_checks_its_scale_and_keeps_the_rest() -> None:
    objects = [
        FieldObject("0", [("a", 7), ("b", 11), ("c", 8)]),
        FieldObject("1", [("a", 3.5)]),
        FieldObject("2", [("a", "x")]),
        FieldObject("3", []),
    ]
    batch = consolidate_field("number", objects, FieldBounds(0, 10, 1))
    first, off_step, text, empty = batch.results
    assert first.label is not None and first.label["value"] == 8 and first.label["scale"]["from"] == "template"
    assert [(i.worker_id, i.reason) for i in first.issues] == [("b", "11 is above the maximum 10")]
    assert (off_step.failure, off_step.issues[0].reason) == (
        "no usable value (1 received, all rejected)",
        "3.5 is not on a step of 1",
    )
    assert text.issues[0].reason == "a str is not a number"
    assert (empty.label, empty.failure) == (None, "no worker gave a value")
    assert batch.statistics_name == "number/5" and sorted(batch.statistics) == ["a", "c"]
    # without a model (none fitted), an object with usable values says so, not that nobody gave one
    unmodelled = [
        (r.label, r.failure) for r in prepare_field("number", objects, FieldBounds(0, 10, 1)).results(None).results
    ]
    assert unmodelled == [
        (None, "no model of this field was fitted"),
        (None, "no usable value (1 received, all rejected)"),
        (None, "no usable value (1 received, all rejected)"),
        (None, "no worker gave a value"),
    ]
    # without a step, the step is the answers'
    [half] = consolidate_field(
        "number", [FieldObject("0", [("a", 0.5), ("b", 1.5), ("c", 1.0)])], FieldBounds(0, 2)
    ).results
    assert half.label is not None and half.label["scale"] == {
        "min": 0,
        "max": 2,
        "step": 0.5,
        "from": "template+answers",
    }


def test_number_statistics_carry_a_raters_offset_to_the_next_batch() -> None:
    # batch 1: c rates one point higher than a and b; batch 2: c alone
    first = [FieldObject(str(i), [("a", t), ("b", t), ("c", t + 1)]) for i, t in enumerate([1, 2, 3, 4, 2, 3, 1, 2])]
    store = InMemoryWorkerStore()
    one = consolidate_field("number", first, FieldBounds(1, 5, 1))
    store.record("job", one.statistics_name, "b1", one.statistics, {})
    second = [FieldObject("9", [("c", 5)])]
    keys = prepare_field("number", second, FieldBounds(1, 5, 1)).keys()
    prior = store.load("job", "number/5", "b2", keys).prior
    [alone] = consolidate_field("number", second, FieldBounds(1, 5, 1)).results
    [known] = consolidate_field("number", second, FieldBounds(1, 5, 1), prior).results
    assert keys == ["c"] and alone.label is not None and known.label is not None
    assert (alone.label["value"], known.label["value"]) == (5, 4)
    assert known.label["worker-quality"] == [
        {"workerId": "c", "offset": 0.8909, "noise": 0.2887, "random-share": 0.0311}
    ]


# -- free text -------------------------------------------------------------------------------------------


def test_typos_are_outvoted_word_by_word_and_every_text_is_kept(tmp_path: Path) -> None:
    objects = [
        obj(
            0,
            ("a", {"t": "please call me back after the meeting"}),
            ("b", {"t": "please call me bakc after the meeting"}),
            ("c", {"t": "Please call me back after meeting"}),
        ),
        obj(1, ("a", {"t": "Main St."}), ("b", {"t": "main street"}), ("c", {"t": "Main St"})),
    ]
    labels = labels_of(tmp_path, objects)
    assert labels["0"]["text"] == "please call me back after the meeting"
    assert (labels["0"]["method"], labels["0"]["confidence"]) == ("rover", 0.9054)
    assert labels["0"]["answers"] == [
        {"workerId": "a", "text": "please call me back after the meeting", "agreement": 1.0, "differing": []},
        {"workerId": "b", "text": "please call me bakc after the meeting", "agreement": 0.8571, "differing": [3]},
        {"workerId": "c", "text": "Please call me back after meeting", "agreement": 0.8571, "differing": []},
    ]
    assert [w["word"] for w in labels["0"]["words"]] == ["please", "call", "me", "back", "after", "the", "meeting"]
    assert labels["1"] == {
        "type": "tally/free-text",
        "text": "Main St.",
        "confidence": 0.8821,
        "method": "medoid",
        "answers": [
            {"workerId": "a", "text": "Main St.", "agreement": 1.0},
            {"workerId": "b", "text": "main street", "agreement": 0.6364},
            {"workerId": "c", "text": "Main St", "agreement": 1.0},
        ],
        "worker-quality": [
            {"workerId": "a", "accuracy": 0.8666, "weight": 4.0683},
            {"workerId": "b", "accuracy": 0.8464, "weight": 3.9037},
            {"workerId": "c", "accuracy": 0.8666, "weight": 4.0683},
        ],
    }


def test_empty_one_non_ascii_and_all_different_texts(tmp_path: Path) -> None:
    objects = [
        obj("empty", ("a", {"t": ""}), ("b", {"t": ""}), ("c", {})),  # c's crowd-input was left empty
        obj("one", ("a", {"t": "a red car"})),
        obj(
            "kana", ("a", {"t": "日本語のテキスト"}), ("b", {"t": "日本語のテクスト"}), ("c", {"t": "日本語のテキスト"})
        ),
        obj("accents", ("a", {"t": "Café Zürich"}), ("b", {"t": "cafe zurich"}), ("c", {"t": "Café  Zürich!"})),
        obj("different", ("a", {"t": "a dog"}), ("b", {"t": "the sea"}), ("c", {"t": "two cars"})),
    ]
    labels = labels_of(tmp_path, objects)
    empty = labels["empty"]
    assert (empty["text"], empty["confidence"], empty["method"], empty["empty-answers"]) == ("", 1.0, "empty", 2)
    assert empty["answers"] == [
        {"workerId": "a", "text": "", "agreement": None},
        {"workerId": "b", "text": "", "agreement": None},
    ]
    assert empty["rejected-answers"] == [
        {"workerId": "c", "reason": "not a free-text answer like the rest of the batch"}
    ]
    assert (labels["one"]["text"], labels["one"]["confidence"]) == ("a red car", 1.0)
    kana = labels["kana"]
    assert (kana["text"], kana["method"], kana["answers"][1]["differing"]) == ("日本語のテキスト", "rover", [5])
    # 0.9439: a and b no longer gain weight from agreeing on "" (empty answers are no evidence)
    assert (labels["accents"]["text"], labels["accents"]["confidence"]) == ("Café Zürich", 0.9439)
    different = labels["different"]
    assert (different["text"], different["method"]) == ("two cars", "medoid")
    assert different["confidence"] == 0.4661  # letters in common: far from 1, above 1/3


# -- rankings --------------------------------------------------------------------------------------------


def ranking(clarity: list[int], inclusivity: list[int] | None = None) -> dict[str, Any]:
    dimensions = [{"name": "Clarity", "responseRankings": clarity}]
    if inclusivity is not None:
        dimensions.append({"name": "Inclusivity", "responseRankings": inclusivity})
    return {"ordinalRankingDimensions": dimensions}


def test_rankings_are_combined_per_dimension_with_a_confidence_per_response(tmp_path: Path) -> None:
    # GIVEN three workers who agree and one who ranks everything backwards, on six prompts
    truth = [[1, 2, 3], [3, 1, 2], [2, 3, 1], [1, 3, 2], [3, 2, 1], [2, 1, 3]]
    objects = [
        obj(i, *((w, ranking(t, t)) for w in ("a", "b", "c")), ("r", ranking([4 - x for x in t], [4 - x for x in t])))
        for i, t in enumerate(truth)
    ]
    objects.append(obj("lopsided", ("a", ranking([1, 2, 3], [1, 1, 3])), ("b", {"textRanking": ranking([1, 2])})))
    labels = labels_of(tmp_path, objects)
    assert [labels[str(i)]["dimensions"][0]["ranks"] for i in range(6)] == truth
    first = labels["0"]
    assert first["dimensions"][0] == {
        "name": "Clarity",
        "ranks": [1, 2, 3],
        "order": [0, 1, 2],
        "confidence": [1.0, 1.0, 1.0],
        "agreement": 1.0,
        "ties": False,
    }
    quality = {q["workerId"]: q for q in first["worker-quality"]}
    assert quality["r"]["weight"]["Clarity"] < 0 < quality["a"]["weight"]["Clarity"]
    assert first["answers"][3] == {"workerId": "r", "ranks": {"Clarity": [3, 2, 1], "Inclusivity": [3, 2, 1]}}
    # a worker tied two responses in Inclusivity: that dimension allows ties; an answer of another
    # length is rejected with its reason
    lopsided = labels["lopsided"]
    assert [d["ties"] for d in lopsided["dimensions"]] == [False, True]
    assert lopsided["dimensions"][1]["ranks"] == [1, 1, 3]
    assert lopsided["rejected-answers"] == [
        {"workerId": "b", "reason": "'Clarity' ranks 2 responses, the other answers 3"}
    ]


def test_a_ranking_field_takes_the_templates_ties_and_stores_per_dimension() -> None:
    objects = [
        FieldObject("0", [("a", {"Clarity": (1, 1, 3)}), ("b", {"Clarity": (1, 2, 3)}), ("c", {"Clarity": (2, 1, 3)})]),
        FieldObject("1", [("a", {"Clarity": (1, 4, 2)})]),
    ]
    tied = consolidate_field("ranking", objects, FieldBounds(allow_ties={"Clarity": True}))
    untied = consolidate_field("ranking", objects, FieldBounds(allow_ties={"Clarity": False}))
    assert tied.results[0].label is not None and untied.results[0].label is not None
    assert tied.results[0].label["dimensions"][0]["ranks"] == [1, 1, 3]
    assert untied.results[0].label["dimensions"][0]["ranks"] == [1, 2, 3]
    assert tied.results[1].failure == "no usable ranking"
    assert tied.results[1].issues[0].reason == "'Clarity' has ranks outside 1..3"
    assert sorted(tied.statistics) == ["a\tClarity", "b\tClarity", "c\tClarity"]
    assert prepare_field("ranking", objects).keys() == ["a\tClarity", "b\tClarity", "c\tClarity"]


# -- lines -----------------------------------------------------------------------------------------------


def polylines(*lines: tuple[str, list[tuple[float, float]]], key: str = "polylines") -> dict[str, Any]:
    items = [{"label": label, "vertices": [{"x": x, "y": y} for x, y in vertices]} for label, vertices in lines]
    return {"crowdPolyline": {"inputImageProperties": {"width": 640, "height": 480}, key: items}}


def test_polylines_matched_whatever_their_direction_and_vertex_count(tmp_path: Path) -> None:
    lane = [(0.0, 0.0), (100.0, 100.0)]
    objects = [
        obj(
            0,
            ("a", polylines(("lane", lane))),
            ("b", polylines(("lane", [(1, 1), (50, 52), (101, 99)]))),
            (
                "c",
                polylines(("lane", [(100, 100), (0, 2)]), ("lane", [(300, 0), (300, 400)]), ("kerb", [(5, 5), (9, 9)])),
            ),
        ),
        obj(1, ("a", polylines(("lane", [(0, 0)]))), ("b", {"crowdPolyline": {"polylines": []}})),
    ]
    response, report, _ = run(tmp_path, objects, labels=["lane", "wire"])
    labels = {e["datasetObjectId"]: content(e)[0] for e in response}
    first = labels["0"]
    assert first["polylines"] == [
        {
            "label": "lane",
            "class_id": 0,
            "vertices": [{"x": 0.45, "y": 1.0}, {"x": 100.24, "y": 99.76}],
            "confidence": 0.9983,
            "workers": ["a", "b", "c"],
        }
    ]
    assert (first["class-map"], first["confidence"]) == ({"0": "lane"}, 0.9983)
    assert first["answer-warnings"] == [
        {"workerId": "c", "reason": "lines with labels not among the job's were left out: kerb"}
    ]
    assert first["worker-quality"][2] == {"workerId": "c", "precision": 0.6667, "recall": 1.0, "weight": 0.7576}
    # a line of one vertex is left out (nothing drawn: confidence 1 of 1); an answer without the image size is rejected
    second = labels["1"]
    assert (second["polylines"], second["confidence"]) == ([], 1.0)
    assert second["rejected-answers"] == [
        {"workerId": "b", "reason": "no inputImageProperties (width and height) to place the polylines in"}
    ]
    assert second["answer-warnings"] == [
        {"workerId": "a", "reason": "1 polyline(s) with fewer than two vertices were left out"}
    ]
    assert report.consolidated == 2


def test_crowd_line_answers_give_two_vertices_per_line(tmp_path: Path) -> None:
    edge = [(10.0, 10.0), (200.0, 40.0)]
    objects = [
        obj(
            i,
            *(
                (w, polylines(("edge", [(x + d, y - d) for x, y in edge]), key="lines"))
                for w, d in (("a", 0), ("b", 2), ("c", -1))
            ),
        )
        for i in range(3)
    ]
    labels = labels_of(tmp_path, objects, labels=["edge"])
    line = labels["0"]["lines"][0]
    assert (line["label"], len(line["vertices"]), line["workers"]) == ("edge", 2, ["a", "b", "c"])
    assert labels["0"]["type"] == "tally/line"


def test_a_line_field_reads_the_elements_labels() -> None:
    value = polylines(("lane", [(0, 0), (100, 100)]))["crowdPolyline"]
    batch = consolidate_field(
        "polyline", [FieldObject("0", [("a", value), ("b", value)])], FieldBounds(labels=["wire", "lane"])
    )
    [result] = batch.results
    assert result.label is not None and result.label["polylines"][0]["class_id"] == 1
    assert batch.statistics_name == "polyline/8"


@pytest.mark.parametrize("kind", ["number", "text", "ranking", "polyline", "line"])
def test_a_field_of_no_values_fails_every_object_with_a_reason(kind: str) -> None:
    batch = consolidate_field(kind, [FieldObject("0", [])])
    assert [(r.label, r.failure) for r in batch.results] == [(None, "no worker gave a value")]
    assert batch.statistics == {}


def test_an_unknown_field_kind_is_named() -> None:
    with pytest.raises(ValueError, match="no consolidation for fields of kind 'colour'"):
        consolidate_field("colour", [])


# -- AWS's template gallery ------------------------------------------------------------------------------

GALLERY = Path(__file__).resolve().parents[1] / "fixtures" / "gt-templates" / "answers"
STREET = ["car", "pedestrian", "street car"]


@pytest.mark.parametrize(
    ("template", "labels", "kind", "first"),
    [
        ("text-ranking", None, "tally/ranking", [[2, 1, 3], [2, 1, 3]]),
        ("audio-transcription", None, "tally/free-text", "please call me back after the meeting tomorrow"),
        ("image-captioning", None, "tally/free-text", "a brown dog running on a sandy beach"),
        ("polyline", STREET, "tally/polyline", ["pedestrian"]),
        ("line", STREET, "tally/line", ["car", "pedestrian", "street car"]),
    ],
)
def test_the_gallerys_single_element_templates(
    tmp_path: Path, template: str, labels: list[str] | None, kind: str, first: Any
) -> None:
    # the gallery's answers (3 workers x 3 objects, tests/fixtures/gt-templates) through the driver
    objects = json.loads((GALLERY / f"{template}.json").read_text())
    response, report, _ = run(tmp_path, objects, labels=labels)
    assert (report.consolidated, report.failed, report.answers_rejected) == (3, 0, 0)
    found = [content(e)[0] for e in response]
    assert {label["type"] for label in found} == {kind}
    label = found[0]
    shown: Any
    if kind == "tally/ranking":
        shown = [d["ranks"] for d in label["dimensions"]]
    elif kind == "tally/free-text":
        shown = label["text"]
    else:
        shown = [p["label"] for p in label[kind.removeprefix("tally/") + "s"]]
    assert shown == first
    assert all(len(label["worker-quality"]) == 3 for label in found)
    if kind == "tally/ranking":  # the template allows ties in Clarity, not in Inclusivity: the workers show it
        assert [d["ties"] for d in label["dimensions"]] == [True, False]


# -- views for the tools, examples ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "module",
    [
        "tally.tasks.number",
        "tally.tasks.free_text",
        "tally.tasks.ranking",
        "tally.tasks.lines",
        "tally.tasks.number.adapter",
        "tally.tasks.ranking.adapter",
        "tally.tasks.fields",
    ],
)
def test_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0
    assert result.attempted >= 1


def test_report_views_escape_what_workers_typed() -> None:
    from tally.tasks.figures import LineStrokes
    from tally.tasks.free_text import FREE_TEXT
    from tally.tasks.lines import LINE, LinesResult
    from tally.tasks.number import NUMBER
    from tally.tasks.ranking import RANKING
    from tally.tools._figures import render
    from tally.tools.report import _lines_svg

    def drawn(kind: Any, label: dict[str, Any]) -> str:
        assert kind.from_gt is not None
        figure = kind.views.figure(kind.from_gt(label))
        assert figure is not None
        return render(figure)

    typed = '<script>alert("x")</script>'
    shown = drawn(
        FREE_TEXT,
        {
            "text": typed,
            "method": "rover",
            "answers": [{"workerId": "w<1>", "text": f"ok {typed}", "agreement": 0.5, "differing": [1]}],
        },
    )
    assert (
        "<script>" not in shown
        and "&lt;script&gt;" in shown
        and "<mark>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</mark>" in shown
    )
    assert 'data-worker="w&lt;1&gt;"' in shown
    table = drawn(
        RANKING,
        {
            "dimensions": [{"name": typed, "ranks": [2, 1], "confidence": [0.5, 0.5]}],
            "answers": [{"workerId": "a", "ranks": {typed: [1, 2]}}],
        },
    )
    assert "<script>" not in table and table.count("<tr>") == 3
    strip = drawn(
        NUMBER,
        {
            "value": 4,
            "interval": [3, 5],
            "scale": {"min": 1, "max": 5},
            "answers": [{"workerId": typed, "value": 5, "weight": 1.0}],
        },
    )
    assert strip.count("<circle") == 1 and 'cx="290.0"' in strip and 'x1="220.0"' in strip
    assert "<script>" not in strip
    result = LinesResult.from_gt(
        {
            "image_size": [{"width": 640, "height": 480}],
            "lines": [
                {"label": typed, "class_id": 0, "confidence": 1.0, "vertices": [{"x": 1, "y": 2}, {"x": 3, "y": 4}]}
            ],
        }
    )
    [overlay] = LINE.views.consensus(result, None, ["#1 x"])  # type: ignore[arg-type]
    assert isinstance(overlay, LineStrokes) and overlay.tags == ("#1 x",)
    lines = _lines_svg(overlay.lines, 640, 480, {}, None)
    assert 'points="1.0,2.0 3.0,4.0"' in lines and "<script>" not in lines and "&lt;script&gt;" in lines


def test_the_text_views_split_words_as_the_vote_does() -> None:
    from tally.aggregation.text import TextVote, split_words
    from tally.tasks.figures import WordVote
    from tally.tasks.free_text import FREE_TEXT, TextResult

    answers = [(0, "東京 tower is tall"), (1, "東京 towr is tall"), (2, "東京 tower is tall")]
    [voted] = TextVote().fit([answers]).predict([answers])
    label = {
        "text": voted.text,
        "method": voted.method,
        "answers": [
            {"workerId": str(w), "text": t, "agreement": 1.0, "differing": list(voted.differing[i])}
            for i, (w, t) in enumerate(answers)
        ],
    }
    figure = FREE_TEXT.views.figure(TextResult.from_gt(label))
    assert isinstance(figure, WordVote)
    # the vote splits 東京 into two words: the overruled "towr" is the third word, and the figure says so
    assert figure.answers[1] == ("1", ("東", "京", "towr", "is", "tall"), frozenset({2}))
    assert figure.answers[1][1] == tuple(split_words(answers[1][1]))


def test_a_line_answer_with_vertices_that_are_not_numbers_is_rejected(tmp_path: Path) -> None:
    good = polylines(("lane", [(0, 0), (100, 100)]))
    text_vertex = {
        "crowdPolyline": {
            **good["crowdPolyline"],
            "polylines": [{"label": "lane", "vertices": [{"x": "1", "y": 2}, {"x": 3, "y": 4}]}],
        }
    }
    flag_vertex = {
        "crowdPolyline": {
            **good["crowdPolyline"],
            "polylines": [{"label": "lane", "vertices": [{"x": True, "y": 2}, {"x": 3, "y": 4}]}],
        }
    }
    response, _, _ = run(tmp_path, [obj(0, ("a", good), ("b", text_vertex), ("c", flag_vertex))], labels=["lane"])
    label = content(response[0])[0]
    assert label["rejected-answers"] == [
        {"workerId": "b", "reason": "a vertex's x or y is not a finite number"},
        {"workerId": "c", "reason": "a vertex's x or y is not a finite number"},
    ]
    assert [p["workers"] for p in label["polylines"]] == [["a"]]


def test_a_lone_hidden_input_of_json_is_read_by_its_shape_not_as_text(tmp_path: Path) -> None:
    boxes = json.dumps([{"label": "car", "left": 1, "top": 2, "width": 3, "height": 4}])
    response, report, _ = run(
        tmp_path, [obj(0, ("a", {"annotations": boxes}), ("b", {"annotations": "[]"}))], labels=None
    )
    label = content(response[0])[0]
    field = label["fields"]["annotations"]  # a form's JSON field, consolidated as the boxes it holds
    assert (report.consolidated, label["type"], field["kind"], field["type"]) == (
        1,
        "groundtruth/custom",
        "json",
        "groundtruth/object-detection",
    )
    assert field["value"]["annotations"] == [{"class_id": 0, "left": 1, "top": 2, "width": 3, "height": 4}]
    # a text that merely starts with a bracket is text
    response, _, _ = run(
        tmp_path / "t", [obj(0, ("a", {"note": "[sic] a car"}), ("b", {"note": "{a car"}))], labels=None
    )
    assert content(response[0])[0]["type"] == "tally/free-text"


LONG = "the label on this bottle is printed upside down and its barcode is unreadable"  # text, not a choice


def test_the_one_worker_who_writes_where_others_leave_it_empty_is_not_marked_down(tmp_path: Path) -> None:
    """An optional comment most leave empty: "" where most left it empty (confidence: their share),
    the writer's text kept with no agreement figure, and nobody measured by the empty answers; where
    most wrote, the writers' vote decides, its confidence scaled by the share who wrote."""
    objects = [obj(str(i), ("a", {"t": ""}), ("b", {"t": "  "}), ("w", {"t": LONG})) for i in range(4)]
    objects.append(obj("most-wrote", ("a", {"t": LONG}), ("b", {"t": LONG}), ("w", {"t": ""})))
    labels = labels_of(tmp_path, objects)
    first = labels["0"]
    assert {k: first[k] for k in ("text", "confidence", "method", "empty-answers")} == {
        "text": "", "confidence": 0.6667, "method": "empty", "empty-answers": 2,
    }  # fmt: skip
    assert [a["agreement"] for a in first["answers"]] == [None, None, None]
    assert first["answers"][2]["text"] == LONG
    quality = {q["workerId"]: q for q in labels["most-wrote"]["worker-quality"]}
    assert quality["w"] == {"workerId": "w", "accuracy": None, "weight": None}  # only ever wrote alone or left it empty
    most = labels["most-wrote"]
    assert (most["text"], most["confidence"], most["empty-answers"]) == (LONG, 0.6667, 1)
    assert [a["agreement"] for a in most["answers"]] == [1.0, 1.0, None]
