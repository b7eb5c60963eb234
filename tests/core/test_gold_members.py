"""A gold object (one answer marked ``annotationData.gold``) is its gold answer alone, wherever that answer
stands among the object's answers: its members (``ObjectResult.members``) are the gold answer's items, and
a gold answer the core rejects gives way to the next answer marked gold (:func:`tally.tasks.base.gold_column`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tally.consolidate import consolidate_batch
from tally.gt.events import ConsolidationRequest
from tally.gt.response import ObjectResult
from tally.settings import Settings
from tally.storage import MemoryStorage
from tests.core.batch import LEGEND, content, mask_rows, run
from tests.helpers import annotation, data_object, seg_content
from tests.sim.gold import LINE_CLASSES, polyline_batch

SIZE = {"width": 100, "height": 80}


def _consolidate(objects: list[dict[str, Any]], labels: list[str]) -> tuple[list[ObjectResult], Any]:
    storage = MemoryStorage({"s3://bucket/payload.json": json.dumps(objects).encode()})
    event = {"labelAttributeName": "label", "payload": {"s3Uri": "s3://bucket/payload.json"}, "labelCategories": labels}
    found: list[ObjectResult] = []
    report = consolidate_batch(
        ConsolidationRequest.parse(event), storage, settings=Settings(), on_result=found.append, members=True
    )
    return found, report


def _object(answers: list[tuple[str, Any, bool]], name: str = "o") -> dict[str, Any]:
    annotations = []
    for worker, answer, gold in answers:
        data: dict[str, Any] = {"content": json.dumps({"field": answer})}
        if gold:
            data["gold"] = True
        annotations.append({"workerId": worker, "annotationData": data})
    return {"datasetObjectId": name, "dataObject": {"s3Uri": f"{name}.png"}, "annotations": annotations}


def _label(report: Any, k: int = 0) -> dict[str, Any]:
    label: dict[str, Any] = report.response[k]["consolidatedAnnotation"]["content"]["label"]
    return label


def _line(label: str, *points: tuple[int, int]) -> dict[str, Any]:
    return {"label": label, "vertices": [{"x": x, "y": y} for x, y in points]}


def _square(x: int, y: int, side: int = 30) -> list[dict[str, int]]:
    return [{"x": x, "y": y}, {"x": x + side, "y": y}, {"x": x + side, "y": y + side}, {"x": x, "y": y + side}]


LANE = _line("lane", (10, 70), (90, 10))
CURB = _line("curb", (0, 75), (99, 75))


def test_a_gold_polyline_answer_after_the_others_is_the_members() -> None:
    # the gold answer second: its short line is left out, so its kept lines are its items 1 and 2
    crowd = {"polylines": [_line("lane", (12, 68), (88, 12))], "inputImageProperties": SIZE}
    gold = {"polylines": [_line("lane", (5, 5)), CURB, LANE], "inputImageProperties": SIZE}
    (result,), report = _consolidate([_object([("w1", crowd, False), ("g", gold, True)])], ["lane", "curb"])
    label = _label(report)
    assert [(p["label"], p["workers"], p["confidence"]) for p in label["polylines"]] == [
        ("lane", ["g"], 1.0),
        ("curb", ["g"], 1.0),
    ]  # the job's label order
    assert result.members == ((("g", 2),), (("g", 1),))


def test_gold_polyline_objects_in_any_answer_order_are_the_gold_answers() -> None:
    objects, truth, gold = polyline_batch(4)
    for o in objects:
        o["annotations"].reverse()  # the gold answer last
    found, report = _consolidate(objects, LINE_CLASSES)
    assert report.failed == 0
    results = {r.object_id: r for r in found}
    for t in sorted(gold):
        members = results[str(t)].members
        assert members is not None
        assert sorted(i for m in members for _, i in m) == list(range(len(truth[t])))  # each gold line, once
        assert {w for m in members for w, _ in m} == {"rev"}
        assert _label(report, t)["confidence"] == 1.0


def test_a_gold_polygon_answer_after_the_others_is_the_members() -> None:
    line = [{"x": 1, "y": 1}, {"x": 5, "y": 5}]  # no area: left out
    crowd = {"polygons": [{"label": "tree", "vertices": _square(11, 11)}], "inputImageProperties": SIZE}
    gold = {
        "polygons": [
            {"label": "tree", "vertices": line},
            {"label": "tree", "vertices": _square(60, 10)},
            {"label": "tree", "vertices": _square(10, 10)},
        ],
        "inputImageProperties": SIZE,
    }
    (result,), report = _consolidate([_object([("w1", crowd, False), ("g", gold, True)])], ["tree"])
    assert [(i["workers"], i["confidence"]) for i in _label(report)["instances"]] == [(["g"], 1.0), (["g"], 1.0)]
    assert result.members == ((("g", 1),), (("g", 2),))


def test_a_rejected_gold_answer_gives_way_to_the_next_one_marked_gold() -> None:
    # g1's answer is another image size (rejected); g2, also marked gold, is the object's gold answer
    other = {"width": 50, "height": 40}
    lines = [
        _object([("g1", {"polylines": [LANE], "inputImageProperties": other}, True),
                 ("w1", {"polylines": [_line("lane", (12, 68), (88, 12))], "inputImageProperties": SIZE}, False),
                 ("w2", {"polylines": [_line("curb", (12, 68), (88, 12))], "inputImageProperties": SIZE}, False),
                 ("g2", {"polylines": [CURB], "inputImageProperties": SIZE}, True)])
    ]  # fmt: skip
    (result,), report = _consolidate(lines, ["lane", "curb"])
    label = _label(report)
    assert [(p["label"], p["workers"], p["confidence"]) for p in label["polylines"]] == [("curb", ["g2"], 1.0)]
    assert result.members == ((("g2", 0),),)

    def polygons(*squares: list[dict[str, int]], size: dict[str, int] = SIZE) -> dict[str, Any]:
        return {"polygons": [{"label": "tree", "vertices": v} for v in squares], "inputImageProperties": size}

    shapes = [
        _object([("g1", polygons(_square(10, 10), size=other), True), ("w1", polygons(_square(11, 11)), False),
                 ("w2", polygons(_square(12, 12)), False), ("g2", polygons(_square(60, 40, 20)), True)])
    ]  # fmt: skip
    (result,), report = _consolidate(shapes, ["tree"])
    assert [(i["workers"], i["confidence"]) for i in _label(report)["instances"]] == [(["g2"], 1.0)]
    assert result.members == ((("g2", 0),),)

    labels = [
        _object([("g1", {"label": "Bird"}, True), ("w1", {"label": "Dog"}, False), ("w2", {"label": "Dog"}, False),
                 ("g2", {"label": "Cat"}, True)])
    ]  # fmt: skip
    _, report = _consolidate(labels, ["Dog", "Cat"])
    assert (_label(report)["class-name"], _label(report)["confidence"]) == ("Cat", 1.0)


def test_a_rejected_gold_mask_gives_way_to_the_next_one_marked_gold(tmp_path: Path) -> None:
    def gold(answer: dict[str, Any]) -> dict[str, Any]:
        answer["annotationData"]["gold"] = True
        return answer

    crowd = ["rrrr", "cccc"]
    objects = [
        data_object(
            "o",
            gold(annotation("g1", seg_content(["rr", "pp"], LEGEND))),  # another size: rejected
            annotation("w1", seg_content(crowd, LEGEND)),
            annotation("w2", seg_content(crowd, LEGEND)),
            gold(annotation("g2", seg_content(["ppss", "...."], LEGEND))),
        )
    ]
    response, _, storage = run(tmp_path, objects)
    label, _ = content(response[0])
    assert [r["workerId"] for r in label["rejected-answers"]] == ["g1"]
    assert mask_rows(storage, label) == ["ppss", "...."]
    assert label["confidence"] == 1.0
