"""The consolidations that fuse items say which workers' items they fused into each result
(``ObjectResult.members``: worker and index in the worker's answer), never in the response."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tally.consolidate import consolidate_batch
from tally.gt.events import ConsolidationRequest
from tally.gt.response import ObjectResult
from tally.settings import Settings
from tally.storage import MemoryStorage
from tally.tasks.lines.adapter import LineModel

SIZE = {"width": 100, "height": 80}


def _run(answers: dict[str, Any], labels: list[str], members: bool = True) -> tuple[ObjectResult, dict[str, Any]]:
    payload = [{"datasetObjectId": "o", "dataObject": {"s3Uri": "o.png"}, "annotations": [
        {"workerId": w, "annotationData": {"content": json.dumps({"field": a})}} for w, a in answers.items()]}]  # fmt: skip
    storage = MemoryStorage({"s3://bucket/payload.json": json.dumps(payload).encode()})
    event = {"labelAttributeName": "label", "payload": {"s3Uri": "s3://bucket/payload.json"}, "labelCategories": labels}
    found: list[ObjectResult] = []
    report = consolidate_batch(
        ConsolidationRequest.parse(event), storage, settings=Settings(), on_result=found.append, members=members
    )
    (result,) = found
    response = report.response[0]["consolidatedAnnotation"]["content"]["label"]
    return result, response


def test_keypoint_members_name_each_workers_point_as_answered() -> None:
    # w2's first point is outside the image and its second of a label the job lacks: both left out, so its
    # third point (index 2 in its answer) is the one fused
    answers = {
        "w1": {"keypoints": [{"label": "eye", "x": 20, "y": 20}, {"label": "eye", "x": 70, "y": 20}],
               "inputImageProperties": SIZE},
        "w2": {"keypoints": [{"label": "eye", "x": 500, "y": 20}, {"label": "ear", "x": 50, "y": 50},
                             {"label": "eye", "x": 21, "y": 21}], "inputImageProperties": SIZE},
        "w3": {"keypoints": [{"label": "eye", "x": 71, "y": 19}, {"label": "eye", "x": 19, "y": 20}],
               "inputImageProperties": SIZE},
    }  # fmt: skip
    result, label = _run(answers, ["eye"])
    assert [(p["x"], p["y"]) for p in label["keypoints"]] == [(20.0, 20.0), (70.5, 19.5)]
    assert result.members == ((("w1", 0), ("w3", 1), ("w2", 2)), (("w1", 1), ("w3", 0)))  # the label's workers order
    assert "members" not in json.dumps(label)


def test_polygon_members_name_the_polygons_of_each_instance() -> None:
    square = [{"x": 10, "y": 10}, {"x": 40, "y": 10}, {"x": 40, "y": 40}, {"x": 10, "y": 40}]
    other = [{"x": 60, "y": 10}, {"x": 90, "y": 10}, {"x": 90, "y": 40}, {"x": 60, "y": 40}]
    line = [{"x": 1, "y": 1}, {"x": 5, "y": 5}]  # no area: left out
    answers = {
        "w1": {"polygons": [{"label": "tree", "vertices": square}, {"label": "tree", "vertices": other}],
               "inputImageProperties": SIZE},
        "w2": {"polygons": [{"label": "tree", "vertices": line}, {"label": "tree", "vertices": other},
                            {"label": "tree", "vertices": square}], "inputImageProperties": SIZE},
    }  # fmt: skip
    result, label = _run(answers, ["tree"])
    assert [i["workers"] for i in label["instances"]] == [["w1", "w2"], ["w1", "w2"]]
    assert result.members == ((("w1", 0), ("w2", 2)), (("w1", 1), ("w2", 1)))


def test_polyline_members_name_the_lines_fused() -> None:
    def line(label: str, *points: tuple[int, int]) -> dict[str, Any]:
        return {"label": label, "vertices": [{"x": x, "y": y} for x, y in points]}

    answers = {
        "w1": {"polylines": [line("lane", (10, 70), (90, 10)), line("curb", (0, 75), (99, 75))],
               "inputImageProperties": SIZE},
        "w2": {"polylines": [line("lane", (5, 5)), line("curb", (1, 74), (98, 76)), line("lane", (90, 11), (11, 69))],
               "inputImageProperties": SIZE},
    }  # fmt: skip
    result, label = _run(answers, ["lane", "curb"])
    assert [(p["label"], p["workers"]) for p in label["polylines"]] == [("lane", ["w1", "w2"]), ("curb", ["w1", "w2"])]
    assert result.members == ((("w1", 0), ("w2", 2)), (("w1", 1), ("w2", 1)))


def _boxes() -> dict[str, Any]:
    def box(label: str, left: int) -> dict[str, Any]:
        return {"label": label, "left": left, "top": 10, "width": 20, "height": 20}

    return {
        "w1": {"boundingBoxes": [box("car", 10), box("car", 60)], "inputImageProperties": SIZE},
        "w2": {"boundingBoxes": [box("bus", 30), box("car", 61), box("car", 11)], "inputImageProperties": SIZE},
        "w3": {"boundingBoxes": [box("car", 59)], "inputImageProperties": SIZE},
    }


def test_box_members_name_each_workers_box_as_answered() -> None:
    # w2's first box is of a label the job lacks: left out, so its boxes keep their indices in its answer
    result, label = _run(_boxes(), ["car"])
    assert [(a["left"], a["top"]) for a in label["annotations"]] == [(10, 10), (60, 10)]
    assert result.members == ((("w1", 0), ("w2", 2)), (("w1", 1), ("w2", 1), ("w3", 0)))


def test_members_are_not_computed_unless_asked() -> None:
    # the Lambdas never ask: no object pays for members nothing reads, and the label is the same
    result, label = _run(_boxes(), ["car"], members=False)
    assert result.members is None
    assert label == _run(_boxes(), ["car"])[1]


def test_polyline_members_come_from_the_one_prediction(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    fused = LineModel._fused

    def counted(self: LineModel, object_id: str, summary: Any) -> Any:
        calls.append(object_id)
        return fused(self, object_id, summary)

    monkeypatch.setattr(LineModel, "_fused", counted)
    line = {"label": "lane", "vertices": [{"x": 10, "y": 70}, {"x": 90, "y": 10}]}
    answers = {w: {"polylines": [line], "inputImageProperties": SIZE} for w in ("w1", "w2")}
    result, _ = _run(answers, ["lane"])
    assert result.members == ((("w1", 0), ("w2", 0)),)
    assert calls == ["o"]  # once per object, the label and its members from it


def _painted(left: int) -> dict[str, Any]:
    """A crowd-semantic-segmentation answer: a 30x20 rectangle of "tree" (#2ca02c) from column ``left``."""
    classes = np.zeros((SIZE["height"], SIZE["width"]), dtype=np.uint8)
    classes[20:40, left : left + 30] = 1
    image = Image.fromarray(classes, mode="P")
    image.putpalette([255, 255, 255, 44, 160, 44] + [0] * 762)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return {"labeledImage": {"pngImageData": base64.b64encode(buf.getvalue()).decode()},
            "labelMappings": {"tree": {"color": "#2ca02c"}}, "inputImageProperties": SIZE}  # fmt: skip


def test_semantic_class_map_is_the_written_masks_array_only_when_asked() -> None:
    # an importer's write-back reads the voted class array from the result, not the PNG back; the Lambdas
    # never hold it, and the label is the same either way
    answers = {"w1": _painted(10), "w2": _painted(12), "w3": _painted(11)}
    payload = [{"datasetObjectId": "o", "dataObject": {"s3Uri": "o.png"}, "annotations": [
        {"workerId": w, "annotationData": {"content": json.dumps({"field": a})}} for w, a in answers.items()]}]  # fmt: skip
    labels: dict[bool, dict[str, Any]] = {}
    for asked in (True, False):
        storage = MemoryStorage({"s3://bucket/payload.json": json.dumps(payload).encode()})
        event = {
            "labelAttributeName": "label",
            "payload": {"s3Uri": "s3://bucket/payload.json"},
            "labelCategories": ["tree"],
        }
        found: list[ObjectResult] = []
        report = consolidate_batch(
            ConsolidationRequest.parse(event), storage, settings=Settings(), on_result=found.append, members=asked
        )
        labels[asked] = report.response[0]["consolidatedAnnotation"]["content"]["label"]
        (result,) = found
        if not asked:
            assert result.class_map is None
            continue
        with Image.open(io.BytesIO(storage.read(labels[asked]["mask-ref"]))) as written:
            expected = np.asarray(written)
        assert result.class_map.dtype == np.uint8
        np.testing.assert_array_equal(result.class_map, expected)
        assert int(result.class_map.sum()) == 20 * 30
        assert "class_map" not in json.dumps(labels[asked])
    assert labels[True] == labels[False]
