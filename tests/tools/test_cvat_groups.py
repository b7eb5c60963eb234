"""CVAT grouped shapes (``group_id``): a job's polygons of one group and one label are one instance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tally.aggregation.instance_fusion import rasterise_polygons
from tally.tools.cli import main
from tests.tools.imports import answer, core

CAR_PARTS = [[(2, 2), (10, 2), (10, 10), (2, 10)], [(14, 2), (22, 2), (22, 10), (14, 10)]]
"""A car behind a pole, drawn in two parts."""
CAR_WHOLE = [(2, 2), (22, 2), (22, 10), (2, 10)]
"""The same car drawn as one polygon, the pole inside it."""


def _polygon(label: str, points: list[tuple[int, int]], group: str | None = None, occluded: str = "0") -> str:
    grouped = f' group_id="{group}"' if group is not None else ""
    text = ";".join(f"{x},{y}" for x, y in points)
    return f'<polygon label="{label}" source="manual" occluded="{occluded}" points="{text}" z_order="0"{grouped}></polygon>'


def _job(path: Path, shapes: list[str]) -> None:
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><meta><task><labels>'
        "<label><name>car</name></label><label><name>person</name></label></labels></task></meta>"
        f'<image id="0" name="street.png" width="40" height="20">{"".join(shapes)}</image></annotations>'
    )


def _jobs(tmp_path: Path, first: list[str]) -> Path:
    """Job ``a`` draws ``first``; jobs ``b`` and ``c`` draw the car as one polygon."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    _job(jobs / "a.xml", first)
    for name in "bc":
        _job(jobs / f"{name}.xml", [_polygon("car", CAR_WHOLE)])
    return jobs


def _label(jobs: Path, out: Path) -> tuple[dict[str, Any], npt.NDArray[np.uint8]]:
    assert main(["consolidate", "--from", "cvat", str(jobs), "--out", str(out)]) == 0
    (line,) = (out / "results.jsonl").read_text().splitlines()
    label: dict[str, Any] = json.loads(line)["consolidatedAnnotation"]["content"]["label"]
    with Image.open(label["instance-mask-ref"]) as image:
        return label, np.asarray(image, dtype=np.uint8)


def _painted(points: list[tuple[int, int]], width: int = 40, height: int = 20) -> npt.NDArray[np.bool_]:
    grid, _ = rasterise_polygons([points], width, height)
    return np.asarray(grid > 0)


def test_a_car_drawn_as_two_grouped_polygons_is_one_instance_with_the_one_polygon_cars(tmp_path: Path) -> None:
    parts = [_polygon("car", points, group="1", occluded="1") for points in CAR_PARTS]
    label, instances = _label(_jobs(tmp_path, parts), tmp_path / "out")
    assert label["instances"] == [
        {"color": "#1f77b4", "confidence": 0.9074, "label": "car", "workers": ["a", "b", "c"]}
    ]
    assert np.array_equal(instances == 1, _painted(CAR_WHOLE)) and int(instances.max()) == 1  # two votes of three
    assert "answer-warnings" not in label and "kept-as-given" not in label  # both parts stand for the car
    assert label["shape-attributes"] == [{
        "answers": [{"attributes": {"occluded": "1"}, "workerId": "a"}, {"attributes": {"occluded": "0"}, "workerId": "b"},
                    {"attributes": {"occluded": "0"}, "workerId": "c"}],
        "shape": 0, "values": {"occluded": "0"}, "vote": "weighted",
    }]  # fmt: skip  # the group votes once
    assert [(r["workerId"], r["precision"], r["recall"]) for r in label["worker-quality"]] == [
        ("a", 1.0, 1.0),
        ("b", 1.0, 1.0),
        ("c", 1.0, 1.0),
    ]


def test_a_grouped_part_with_other_attributes_keeps_them_as_given(tmp_path: Path) -> None:
    """The group votes once, with its first part's attributes; a part whose attributes differ is not
    silently taken into that vote: it is kept as given."""
    first, second = CAR_PARTS
    parts = [_polygon("car", first, group="1", occluded="0"), _polygon("car", second, group="1", occluded="1")]
    label, _ = _label(_jobs(tmp_path, parts), tmp_path / "out")
    assert label["shape-attributes"][0]["answers"][0] == {"attributes": {"occluded": "0"}, "workerId": "a"}
    (kept,) = label["kept-as-given"]
    assert [(s["label"], s["occluded"]) for s in kept["answers"][0]["value"]] == [("car", "1")]


def test_the_same_parts_without_a_group_are_two_instances(tmp_path: Path) -> None:
    """What the group changes: ungrouped, job a's parts are two cars, neither matched to the whole car."""
    label, _ = _label(_jobs(tmp_path, [_polygon("car", points) for points in CAR_PARTS]), tmp_path / "out")
    assert [(i["label"], i["workers"]) for i in label["instances"]] == [("car", ["b", "c"])]
    first = label["worker-quality"][0]
    assert (first["workerId"], first["precision"]) == ("a", 0.3333)  # grouped: 1.0


def test_a_group_of_two_labels_stays_two_instances_with_a_warning_on_that_answer(tmp_path: Path) -> None:
    shapes = [_polygon(name, points, "1", "1") for name, points in zip(["car", "person"], CAR_PARTS, strict=True)]
    label, _ = _label(_jobs(tmp_path, shapes), tmp_path / "out")
    assert label["answer-warnings"] == [{
        "reason": "polygon group 1 has shapes of 2 labels (car, person): kept as separate instances, one per "
                  "label (an instance has one label)",
        "workerId": "a",
    }]  # fmt: skip
    assert [(i["label"], i["workers"]) for i in label["instances"]] == [("car", ["b", "c"])]
    (kept,) = label["kept-as-given"]  # neither part stands for the car: their attributes are kept as given
    assert [s["label"] for s in kept["answers"][0]["value"]] == ["car", "person"]


def test_the_polygon_task_joins_a_group_at_its_first_parts_place_in_the_order() -> None:
    """Core: ``group`` on Ground Truth polygons (what the CVAT reader sets); a polygon of group 0 or
    none stands alone, and a part painted over by a later polygon keeps only what shows."""
    square = [(0, 0), (3, 0), (3, 3), (0, 3)]
    polygons = [
        {"label": "car", "vertices": [{"x": x, "y": y} for x, y in square], "group": "7"},
        {"label": "person", "vertices": [{"x": x + 2, "y": y} for x, y in square], "group": 0},
        {"label": "car", "vertices": [{"x": x + 8, "y": y} for x, y in square], "group": "7"},
    ]
    content = {"polygons": polygons, "inputImageProperties": {"width": 12, "height": 4}}
    payload = [{"datasetObjectId": "0", "dataObject": {"s3Uri": "s3://bucket/0.png"},
                "annotations": [answer("w", {"polygon": content})]}]  # fmt: skip
    (label,) = core(payload, ["car", "person"])
    assert [(i["label"], i["workers"]) for i in label["instances"]] == [("car", ["w"]), ("person", ["w"])]


def test_the_report_counts_a_group_as_one_drawn_instance() -> None:
    """Agreement (the report's): the share of instances matched, the worker's grouped parts one of them."""
    from types import SimpleNamespace

    from tally.tasks.instances import INSTANCES, Instance

    views = INSTANCES.views
    assert views is not None
    result = SimpleNamespace(instances=(Instance("car", "#1f77b4", 1.0, ("a",)),))
    part = {"label": "car", "vertices": [], "group": "1"}
    grouped = SimpleNamespace(worker_id="a", value={"polygons": [part, part]})
    apart = SimpleNamespace(worker_id="a", value={"polygons": [{**part, "group": "0"}, {**part, "group": "0"}]})
    two_labels = SimpleNamespace(worker_id="a", value={"polygons": [part, {**part, "label": "person"}]})
    assert [views.agreement(result, None, a) for a in (grouped, apart, two_labels)] == [1.0, 0.5, 0.5]  # type: ignore[arg-type]


def _drawn(label: str, points: list[tuple[int, int]], group: Any = None) -> dict[str, Any]:
    found: dict[str, Any] = {"label": label, "vertices": [{"x": x, "y": y} for x, y in points]}
    if group is not None:
        found["group"] = group
    return found


_SQUARE = [(0, 0), (3, 0), (3, 3), (0, 3)]
_RIGHT = [(x + 8, y) for x, y in _SQUARE]
_UNKNOWN = "items with labels not among the job's were left out: truck"


@pytest.mark.parametrize(
    ("polygons", "instances", "warnings"),
    [
        # a part wholly under a later part of its group, or one without area: the group stands for it
        ([_drawn("car", _SQUARE, "1"), _drawn("car", [(0, 0), (5, 0), (5, 5), (0, 5)], "1")], 1, None),
        (
            [_drawn("car", _SQUARE, "1"), _drawn("car", [(8, 0), (9, 0)], "1"), _drawn("car", _RIGHT, "1")],
            1,
            None,
        ),
        # a group of the job's label and one it does not have: the unknown part's own warning only
        ([_drawn("car", _SQUARE, "1"), _drawn("truck", _RIGHT, "1")], 1, [_UNKNOWN]),
        # only strings and integers group: a Ground Truth answer's odd "group" values are no group
        ([_drawn("car", _SQUARE, 1), _drawn("car", _RIGHT, 1)], 1, None),
        ([_drawn("car", _SQUARE, True), _drawn("car", _RIGHT, True)], 2, None),
        ([_drawn("car", _SQUARE, {"a": 1}), _drawn("car", _RIGHT, {"a": 1})], 2, None),
        ([_drawn("car", _SQUARE, [1]), _drawn("car", _RIGHT, [1])], 2, None),
    ],
)
def test_a_groups_parts_and_odd_group_values(
    polygons: list[dict[str, Any]], instances: int, warnings: list[str] | None
) -> None:
    from tests.tools.imports import answer, core

    content = {"polygons": polygons, "inputImageProperties": {"width": 12, "height": 6}}
    payload = [{"datasetObjectId": "0", "dataObject": {"s3Uri": "s3://bucket/0.png"},
                "annotations": [answer("w", {"polygon": content})]}]  # fmt: skip
    (label,) = core(payload, ["car", "person"])
    assert [(i["label"], i["workers"]) for i in label["instances"]] == [("car", ["w"])] * instances
    found = label.get("answer-warnings")
    assert (None if found is None else [w["reason"] for w in found]) == warnings
