"""Numbers, free text, rankings and lines across a job's batches (issue 21): each kind's worker
statistics go to the worker table under its name and the next batch fits with them as its prior."""

from __future__ import annotations

import json
from typing import Any

from tally.worker_store import InMemoryWorkerStore
from tests.helpers import annotation
from tests.sim.jobs import JOB_ARN, run_batch


def obj(object_id: str, *answers: tuple[str, Any]) -> dict[str, Any]:
    return {
        "datasetObjectId": object_id,
        "dataObject": {"s3Uri": f"s3://bucket/{object_id}.jpg"},
        "annotations": [annotation(w, json.dumps(a)) for w, a in answers],
    }


def label(report: Any, k: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = report.response[k]["consolidatedAnnotation"]["content"]["label"]
    return found


def test_a_raters_offset_learnt_in_one_batch_corrects_their_lone_answer_in_the_next() -> None:
    truth = [1, 2, 3, 4, 2, 3, 1, 2]
    first = [obj(f"o{i}", ("a", {"q": t}), ("b", {"q": t}), ("c", {"q": t + 1})) for i, t in enumerate(truth)]
    # the scale is read from each batch's answers: the next batch's answers span 1..5 too
    second = [obj("p0", ("c", {"q": 5})), obj("p1", ("a", {"q": 1}))]
    store = InMemoryWorkerStore()
    assert run_batch(first, store, uri="s3://b/1.json").worker_model == "job"
    assert sorted(store.totals(JOB_ARN, "number/5")) == ["a", "b", "c"]
    with_store = label(run_batch(second, store, uri="s3://b/2.json"))
    alone = label(run_batch(second, None, uri="s3://b/2.json"))
    assert (with_store["value"], alone["value"]) == (4, 5)
    assert with_store["worker-quality"] == [
        {"workerId": "c", "offset": 0.8909, "noise": 0.2887, "random-share": 0.0311}
    ]
    assert alone["worker-quality"] == [{"workerId": "c", "offset": None, "noise": None, "random-share": None}]


def test_free_text_rankings_and_lines_record_their_statistics_per_worker() -> None:
    store = InMemoryWorkerStore()
    texts = [
        obj(
            f"t{i}",
            ("a", {"t": f"a red car by {w}"}),
            ("b", {"t": f"a red car by {w}"}),
            ("c", {"t": f"a rde car by {w}"}),
        )
        for i, w in enumerate(["the kerb", "a tall lamp post", "the old bakery"])
    ]  # a distinct text per object: without a template, a small repeated set of strings is read as a choice
    run_batch(texts, store, uri="s3://b/t.json")
    totals = store.totals(JOB_ARN, "free-text/2")
    assert totals["c"][1] < totals["a"][1] == totals["b"][1]  # agreement sums: c's typo agrees less

    def ranks(clarity: list[int]) -> dict[str, Any]:
        return {"ordinalRankingDimensions": [{"name": "Clarity", "responseRankings": clarity}]}

    rankings = [
        obj(f"r{i}", ("a", ranks([1, 2, 3])), ("b", ranks([1, 2, 3])), ("c", ranks([3, 2, 1]))) for i in range(3)
    ]
    run_batch(rankings, store, uri="s3://b/r.json")
    totals = store.totals(JOB_ARN, "ranking/2")
    assert sorted(totals) == ["a\tClarity", "b\tClarity", "c\tClarity"]
    assert totals["c\tClarity"][1] > totals["c\tClarity"][0]  # c reverses the others: mostly discordant

    def lanes(dx: float) -> dict[str, Any]:
        vertices = [{"x": 10 + dx, "y": 10}, {"x": 200 + dx, "y": 300}]
        return {
            "p": {
                "polylines": [{"label": "lane", "vertices": vertices}],
                "inputImageProperties": {"width": 640, "height": 480},
            }
        }

    lines = [
        obj(
            f"l{i}",
            ("a", lanes(0)),
            ("b", lanes(2)),
            ("c", {"p": {"polylines": [], "inputImageProperties": {"width": 640, "height": 480}}}),
        )
        for i in range(3)
    ]
    run_batch(lines, store, uri="s3://b/l.json", labels=["lane"])
    totals = store.totals(JOB_ARN, "polyline/8")
    assert totals["c"][5] == 3.0  # lost: the lane a and b drew, three times
