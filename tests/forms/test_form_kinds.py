"""Numbers, free text, rankings and lines as fields of a form (issues 20 and 21 joined): each field
consolidated by its kind (tally.tasks.fields.consolidate_field) with the template's bounds, its own
batch model and its own worker statistics in the worker table (``form-field/<field>/<kind>/n``)."""

from __future__ import annotations

import json
import statistics
from typing import Any

from tally.consolidate import BatchReport, consolidate_batch
from tally.forms.consolidate import JobTemplate
from tally.gt.events import ConsolidationRequest
from tally.storage import MemoryStorage
from tally.worker_store import InMemoryWorkerStore
from tests.helpers import annotation, data_object

JOB = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets"
RATED = """<crowd-form>
  <crowd-radio-group>
    <crowd-radio-button name="indoor" value="indoor">Indoor</crowd-radio-button>
    <crowd-radio-button name="outdoor" value="outdoor">Outdoor</crowd-radio-button>
  </crowd-radio-group>
  <crowd-slider name="quality" min="1" max="10" step="1"></crowd-slider>
  <crowd-input name="caption"></crowd-input>
</crowd-form>"""
WORKERS = ("w1", "w2", "w3", "w4")
TRUTH = [3, 7, 5, 2, 8, 6, 4, 5, 7, 3, 6, 2]
NOISE = {  # w1-w3 honest within a point; w4 rates everything two points higher
    "w1": [0, 1, 0, -1, 0, 0, 1, 0, -1, 0, 0, 1],
    "w2": [1, 0, -1, 0, 0, 1, 0, 0, 0, -1, 1, 0],
    "w3": [0, -1, 0, 0, 1, 0, 0, 1, 0, 0, -1, 0],
    "w4": [2] * 12,
}
CAPTION = "a small grey cat on a red sofa"
TYPOS = ("a smal grey cat on a red sofa", "a small gray cat on a red sofa", "a small grey cat on a rde sofa")


def run(objects: list[Any], template: str, batch: str = "b", **kwargs: Any) -> BatchReport:
    payload = f"s3://bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/{batch}.json"
    storage = MemoryStorage({payload: json.dumps(objects).encode()})
    request = ConsolidationRequest.parse(
        {"labelAttributeName": "pets", "payload": {"s3Uri": payload}, "labelingJobArn": JOB}
    )
    return consolidate_batch(request, storage, form_template=lambda: JobTemplate(template), **kwargs)


def labels_of(report: BatchReport) -> list[dict[str, Any]]:
    return [r["consolidatedAnnotation"]["content"]["pets"] for r in report.response]


def place_of(i: int, worker: str) -> str:
    place = "indoor" if i % 3 else "outdoor"
    if worker == "w3" and i % 4 == 0:  # w3 gets every fourth object's question wrong
        place = "outdoor" if place == "indoor" else "indoor"
    return place


def rated_object(i: int) -> dict[str, Any]:
    answers = []
    for k, w in enumerate(WORKERS):
        place = place_of(i, w)
        content = {
            "indoor": {"indoor": place == "indoor"},
            "outdoor": {"outdoor": place == "outdoor"},
            "quality": TRUTH[i] + NOISE[w][i],
            "caption": TYPOS[i % 3] if k == i % 4 else CAPTION,  # one worker's typo per object
        }
        answers.append(annotation(w, json.dumps(content)))
    return data_object(str(i), *answers)


def test_a_slider_corrects_a_biased_rater_and_a_text_box_outvotes_a_typo() -> None:
    report = run([rated_object(i) for i in range(12)], RATED)
    labels = labels_of(report)
    assert [label["fields"]["quality"]["value"] for label in labels] == TRUTH  # every object right
    mean = [round(statistics.mean(TRUTH[i] + NOISE[w][i] for w in WORKERS) + 1e-9) for i in range(12)]
    assert mean == [4, 8, 5, 2, 9, 7, 5, 6, 7, 3, 7, 3]  # the plain mean: 8 of 12 off by the biased rater
    assert [label["fields"]["caption"]["value"] for label in labels] == [CAPTION] * 12
    truth_place = ["outdoor" if i % 3 == 0 else "indoor" for i in range(12)]
    assert [label["fields"]["indoor|outdoor"]["value"] for label in labels] == truth_place
    first = labels[0]
    assert first["fields"]["quality"] == {
        "kind": "number",
        "consolidated": True,
        "value": 3,
        "interval": [2, 4],
        "scale": {"min": 1, "max": 10, "step": 1, "from": "template"},
        "answers": [
            {"workerId": "w1", "value": 3, "weight": 0.1894},
            {"workerId": "w2", "value": 4, "weight": 0.1879},
            {"workerId": "w3", "value": 3, "weight": 0.196},
            {"workerId": "w4", "value": 5, "weight": 0.4267},
        ],
        "confidence": 0.7778,
        "answers-used": 4,
    }
    caption = first["fields"]["caption"]
    assert (caption["value"], caption["method"], caption["confidence"]) == (CAPTION, "rover", 0.9687)
    assert caption["answers"][0] == {"workerId": "w1", "text": TYPOS[0], "agreement": 0.875, "differing": [1]}
    quality = {row["workerId"]: row["quality"] for row in first["worker-quality"]}
    assert quality == {
        "w1": {"offset": 0.0, "noise": 0.6026, "random-share": 0.0288},
        "w2": {"offset": 0.0, "noise": 0.6026, "random-share": 0.0288},
        "w3": {"offset": 0.0, "noise": 0.5924, "random-share": 0.0297},
        "w4": {"offset": 1.8597, "noise": 0.4019, "random-share": 0.0252},  # the bias found, and weighed in
    }
    assert report.consolidated == 12 and report.failed == 0
    assert {n: (t.consolidated, t.kept) for n, t in report.fields.items()} == {
        "indoor|outdoor": (12, 0),
        "quality": (12, 0),
        "caption": (12, 0),
    }


def later_object(i: int, first: int, biased: int) -> dict[str, Any]:
    """An object of a later batch rated by w1 and the biased w4 only."""
    common = {"indoor": {"indoor": True}, "outdoor": {"outdoor": False}, "caption": "x"}
    return data_object(
        f"later-{i}",
        annotation("w1", json.dumps({**common, "quality": first})),
        annotation("w4", json.dumps({**common, "quality": biased})),
    )


def test_the_worker_table_carries_a_number_fields_statistics_across_batches() -> None:
    store = InMemoryWorkerStore()
    first = run([rated_object(i) for i in range(12)], RATED, batch="b1", worker_store=store)
    assert first.worker_model.value == "job"
    name = "form-field/quality/number/5"  # the field's own name: not the job's number statistics
    stored = store.load(JOB, name, "a later batch", list(WORKERS)).prior
    assert set(stored) == set(WORKERS) and all(len(v) == 5 for v in stored.values())
    assert store.load(JOB, "number/5", "a later batch", list(WORKERS)).prior == {}  # nothing unscoped
    later = [later_object(0, 5, 7), later_object(1, 2, 4)]  # truth 5 and 2; w4 two points high again
    second = labels_of(run(later, RATED, batch="b2", worker_store=store))
    assert [label["fields"]["quality"]["value"] for label in second] == [5, 2]  # w4's offset known from b1
    assert [label["fields"]["quality"]["interval"] for label in second] == [[4, 6], [1, 3]]
    assert {row["workerId"]: row["quality"] for row in second[0]["worker-quality"]} == {
        "w1": {"offset": 0.0, "noise": 0.559, "random-share": 0.0268},
        "w4": {"offset": 1.8681, "noise": 0.3621, "random-share": 0.0235},
    }
    alone = labels_of(run(later, RATED, batch="b3"))  # the same batch without the job's earlier evidence
    assert [label["fields"]["quality"]["value"] for label in alone] == [6, 3]  # split the difference
    assert set(store.load(JOB, name, "yet another batch", ["w1", "w4"]).prior) == {"w1", "w4"}  # b2 recorded


RANKED = """<crowd-form>
  <crowd-text-ranking name="textRanking"
    ordinal-ranking-dimensions='[{"name":"Clarity","allowTie":true},{"name":"Inclusivity","allowTie":false}]'
    text='{{ task.input.source }}' responses='{{ task.input.responses | to_json }}'></crowd-text-ranking>
  <crowd-radio-group>
    <crowd-radio-button name="safe" value="safe">Safe</crowd-radio-button>
    <crowd-radio-button name="unsafe" value="unsafe">Unsafe</crowd-radio-button>
  </crowd-radio-group>
</crowd-form>"""
RANKS = {  # per worker, (Clarity, Inclusivity) ranks of three responses; w4 reverses the scale
    "w1": ([1, 2, 3], [1, 2, 3]),
    "w2": ([1, 3, 2], [1, 2, 3]),
    "w3": ([1, 2, 3], [2, 1, 3]),
    "w4": ([3, 2, 1], [3, 2, 1]),
}


def ranked_object(i: int) -> dict[str, Any]:
    answers = []
    for w, (clarity, inclusivity) in RANKS.items():
        content = {
            "ordinalRankingDimensions": [
                {"name": "Clarity", "responseRankings": clarity},
                {"name": "Inclusivity", "responseRankings": inclusivity},
            ],
            "safe": {"safe": w != "w4"},
            "unsafe": {"unsafe": w == "w4"},
        }
        answers.append(annotation(w, json.dumps(content)))
    return data_object(str(i), *answers)


def test_a_ranking_field_weighs_down_a_worker_who_reverses_the_scale() -> None:
    labels = labels_of(run([ranked_object(i) for i in range(3)], RANKED))
    ranking = labels[0]["fields"]["textRanking"]
    assert {k: v for k, v in ranking.items() if k != "answers"} == {
        "kind": "ranking",
        "consolidated": True,
        "keys": ["textRanking", "ordinalRankingDimensions"],
        "value": [
            {"name": "Clarity", "ranks": [1, 2, 3], "order": [0, 1, 2], "confidence": [0.9767, 0.6511, 0.6511],
             "agreement": 0.8682, "ties": True},  # the template's allowTie (no worker tied here)
            {"name": "Inclusivity", "ranks": [1, 2, 3], "order": [0, 1, 2], "confidence": [0.6511, 0.6511, 0.9767],
             "agreement": 0.8682, "ties": False},
        ],
        "responses": 3,
        "confidence": 0.7596,
        "answers-used": 4,
    }  # fmt: skip
    assert ranking["answers"][3] == {"workerId": "w4", "ranks": {"Clarity": [3, 2, 1], "Inclusivity": [3, 2, 1]}}
    weights = {row["workerId"]: row["textRanking"]["weight"]["Clarity"] for row in labels[0]["worker-quality"]}
    assert weights == {"w1": 0.9651, "w2": 0.9651, "w3": 0.9651, "w4": 0.069}
    assert labels[0]["fields"]["safe|unsafe"]["value"] == "safe"
    assert labels[0]["confidence"] == 0.7596  # the form's: its least sure field's


LANES = """<crowd-form>
  <crowd-polyline name="lanes" src="{{ task.input.taskObject | grant_read_access }}" header="Draw the lanes"
    labels="['lane', 'edge']"></crowd-polyline>
  <crowd-radio-group>
    <crowd-radio-button name="day" value="day">Day</crowd-radio-button>
    <crowd-radio-button name="night" value="night">Night</crowd-radio-button>
  </crowd-radio-group>
</crowd-form>"""
LEFT = [(100, 470), (200, 300), (300, 100)]
RIGHT = [(540, 470), (440, 300), (340, 100)]


def polyline(label: str, points: list[tuple[int, int]], dx: int) -> dict[str, Any]:
    return {"label": label, "vertices": [{"x": x + dx, "y": y} for x, y in points]}


def lane_object(i: int) -> dict[str, Any]:
    answers = []
    for k, w in enumerate(("w1", "w2", "w3")):
        lines = [polyline("lane", LEFT, 2 * k), polyline("edge", RIGHT, -2 * k)]
        if w == "w3":
            lines.append(polyline("lane", [(10, 10), (60, 20)], 0))  # a line nobody else drew
        element = {"inputImageProperties": {"width": 640, "height": 480}, "polylines": lines}
        answers.append(annotation(w, json.dumps({"lanes": element, "day": {"day": True}, "night": {"night": False}})))
    return data_object(str(i), *answers)


def test_a_polyline_field_keeps_the_lines_the_crowd_agrees_on_with_the_templates_labels() -> None:
    labels = labels_of(run([lane_object(i) for i in range(3)], LANES))
    assert labels[0]["fields"]["lanes"] == {
        "kind": "annotation",
        "consolidated": True,
        "type": "tally/polyline",
        "value": {
            "polylines": [
                {"label": "lane", "class_id": 0, "vertices": [{"x": 102.0, "y": 470.0}, {"x": 202.0, "y": 300.0},
                 {"x": 302.0, "y": 100.0}], "confidence": 0.9857, "workers": ["w1", "w2", "w3"]},
                {"label": "edge", "class_id": 1, "vertices": [{"x": 538.0, "y": 470.0}, {"x": 438.0, "y": 300.0},
                 {"x": 338.0, "y": 100.0}], "confidence": 0.9857, "workers": ["w1", "w2", "w3"]},
            ],
            "class-map": {"0": "lane", "1": "edge"},  # the template's labels, in its order
            "image_size": [{"width": 640, "height": 480, "depth": 3}],
        },
        "confidence": 0.9857,
        "answers-used": 3,
    }  # fmt: skip
    assert {row["workerId"]: row["lanes"] for row in labels[0]["worker-quality"]} == {
        "w1": {"precision": 0.9429, "recall": 1.0, "weight": 1.0},
        "w2": {"precision": 0.9429, "recall": 1.0, "weight": 1.0},
        "w3": {"precision": 0.7253, "recall": 1.0, "weight": 0.6463},  # its stray line counted against it
    }
    assert labels[0]["fields"]["day|night"]["value"] == "day"


SLIDER_ALONE = """<crowd-form>
  <crowd-slider name="quality" min="0" max="20" step="2"></crowd-slider>
</crowd-form>"""


def test_a_lone_sliders_template_bounds_are_used() -> None:
    """A template whose only field is a slider: the answers are bare numbers (the task path), read on the
    template's scale: 0-20 by 2, so 7 is off the grid and 24 off the scale (rejected, with the reason)."""
    given = [(4, 6, 6, 7), (10, 12, 10, 24)]
    objects = [
        data_object(str(i), *(annotation(w, json.dumps({"quality": v})) for w, v in zip(WORKERS, values, strict=True)))
        for i, values in enumerate(given)
    ]
    labels = labels_of(run(objects, SLIDER_ALONE))
    assert [label["scale"] for label in labels] == [{"min": 0, "max": 20, "step": 2, "from": "template"}] * 2
    assert [label["value"] for label in labels] == [6, 10]
    metadata = [r["consolidatedAnnotation"]["content"]["pets-metadata"] for r in run(objects, SLIDER_ALONE).response]
    assert [m["type"] for m in metadata] == ["tally/number"] * 2
    assert [[(a["workerId"], a["reason"]) for a in m.get("rejected-answers", [])] for m in metadata] == [
        [("w4", "7 is not on a step of 2")],
        [("w4", "24 is above the maximum 20")],
    ]


RANKING_ALONE = """<crowd-form>
  <crowd-text-ranking name="textRanking"
    ordinal-ranking-dimensions='[{"name":"Clarity","allowTie":true},{"name":"Inclusivity","allowTie":false}]'
    text='{{ task.input.source }}' responses='{{ task.input.responses | to_json }}'></crowd-text-ranking>
</crowd-form>"""


def test_a_lone_rankings_allow_tie_is_read_from_the_template() -> None:
    """A template whose only field is a ranking: its allowTie per dimension, although no worker tied."""
    objects = []
    for i in range(3):
        answers = []
        for w, (clarity, inclusivity) in RANKS.items():
            dims = [
                {"name": "Clarity", "responseRankings": clarity},
                {"name": "Inclusivity", "responseRankings": inclusivity},
            ]
            answers.append(annotation(w, json.dumps({"ordinalRankingDimensions": dims})))
        objects.append(data_object(str(i), *answers))
    labels = labels_of(run(objects, RANKING_ALONE))
    assert [(d["name"], d["ties"]) for d in labels[0]["dimensions"]] == [("Clarity", True), ("Inclusivity", False)]
