"""Boxes, keypoints, instances and polygons through the batch driver, on hand-made and real answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from tests.core.batch import content, run
from tests.helpers import annotation, read_mask
from tests.project import SHARED

SIZE = {"width": 100, "height": 80}


def boxes(*items: tuple[str, float, float, float, float], size: dict[str, int] | None = SIZE) -> str:
    element: dict[str, Any] = {
        "boundingBoxes": [{"label": lab, "left": x, "top": y, "width": w, "height": h} for lab, x, y, w, h in items]
    }
    if size is not None:
        element["inputImageProperties"] = {"height": size["height"], "width": size["width"]}
    return json.dumps({"boundingBox": element})


def obj(object_id: str, *answers: tuple[str, str]) -> dict[str, Any]:
    return {
        "datasetObjectId": object_id,
        "dataObject": {"s3Uri": f"s3://bucket/images/{object_id}.jpg"},
        "annotations": [annotation(w, a) for w, a in answers],
    }


def test_the_recipes_one_worker_payload_comes_back_as_exactly_its_boxes(tmp_path: Path) -> None:
    objects = json.loads(
        (SHARED / "data" / "recipe-events" / "sample_annotation_consolidation_payload.json").read_text()
    )
    response, report, _ = run(tmp_path, objects, labels=["Red", "Green", "Blue"])
    for entry, source in zip(response, objects, strict=True):
        label, meta = content(entry)
        drawn = json.loads(source["annotations"][0]["annotationData"]["content"])["annotatedResult"]
        names = ["Red", "Green", "Blue"]
        want = sorted(
            (names.index(b["label"]), b["left"], b["top"], b["width"], b["height"]) for b in drawn["boundingBoxes"]
        )
        got = sorted((a["class_id"], a["left"], a["top"], a["width"], a["height"]) for a in label["annotations"])
        assert got == want
        size = drawn["inputImageProperties"]
        assert label["image_size"] == [{"width": size["width"], "height": size["height"], "depth": 3}]
        assert meta["type"] == "groundtruth/object-detection"
        assert meta["objects"] == label["objects"] == [{"confidence": 0.0}] * len(want)  # a lone answer: 0
    assert report.failed == 0


def test_boxes_two_of_three_workers_drew_are_kept_and_fused(tmp_path: Path) -> None:
    objects = [
        obj(
            "0",
            ("w1", boxes(("car", 10, 10, 40, 30), ("person", 60, 20, 10, 30))),
            ("w2", boxes(("car", 12, 10, 38, 32))),
            ("w3", boxes(("car", 11, 11, 40, 30), ("car", 70, 60, 20, 10))),
        ),
        obj("empty", ("w1", boxes()), ("w2", boxes()), ("w3", boxes(("car", 0, 0, 5, 5)))),
        obj("outside", ("w1", boxes(("car", 90, 70, 30, 30), ("car", 200, 200, 10, 10)))),
        obj("no size", ("w1", boxes(("car", 1, 1, 5, 5), size=None))),
    ]
    response, _, _ = run(tmp_path, objects, labels=["car", "person"])
    label, _ = content(response[0])
    assert label["annotations"] == [{"class_id": 0, "left": 11, "top": 10, "width": 39, "height": 31}]
    assert label["class-map"] == {"0": "car"}
    assert 0.6 < label["objects"][0]["confidence"] <= 1.0
    empty, _ = content(response[1])
    assert empty["annotations"] == [] and empty["confidence"] == round(2 / 3, 4)
    outside, outside_meta = content(response[2])
    assert outside["annotations"] == [{"class_id": 0, "left": 90, "top": 70, "width": 10, "height": 10}]  # clipped
    assert outside_meta["answer-warnings"] == [
        {"workerId": "w1", "reason": "1 box(es) with no area inside the image were left out"}
    ]
    failed, failed_meta = content(response[3])
    assert failed["failure-reason"] == "no usable answer (1 received, all rejected)"
    assert failed_meta["rejected-answers"] == [
        {"workerId": "w1", "reason": "no inputImageProperties (width and height) to place the boxes in"}
    ]


def test_keypoints_are_fused_by_weighted_median(tmp_path: Path) -> None:
    def points(*items: tuple[str, float, float]) -> str:
        element = {"keypoints": [{"label": lab, "x": x, "y": y} for lab, x, y in items], "inputImageProperties": SIZE}
        return json.dumps({"crowd-keypoint": element})

    objects = [
        obj(
            "0",
            ("w1", points(("nose", 50, 40), ("eye", 45, 30))),
            ("w2", points(("nose", 51, 41))),
            ("w3", points(("nose", 52, 40), ("eye", 46, 31))),
        )
    ]
    response, _, _ = run(tmp_path, objects, labels=["nose", "eye"])
    label, meta = content(response[0])
    assert [(k["label"], k["x"], k["y"]) for k in label["keypoints"]] == [("nose", 51.0, 40.0), ("eye", 45.5, 30.5)]
    assert meta["type"] == "groundtruth/keypoint"


def test_polygons_are_consolidated_as_instances(tmp_path: Path) -> None:
    def polygons(*items: tuple[str, list[tuple[int, int]]]) -> str:
        element = {
            "polygons": [{"label": lab, "vertices": [{"x": x, "y": y} for x, y in vs]} for lab, vs in items],
            "inputImageProperties": {"width": 10, "height": 8},
        }
        return json.dumps({"crowd-polygon": element})

    square = [(1, 1), (6, 1), (6, 6), (1, 6)]
    objects = [
        obj(
            "0",
            ("w1", polygons(("roof", square), ("roof", [(8, 0), (9, 0)]))),  # a two-vertex polygon: left out
            ("w2", polygons(("roof", square))),
            ("w3", polygons(("roof", [(1, 1), (6, 1), (1, 6)]))),  # three vertices: a triangle
        )
    ]
    response, _, storage = run(tmp_path, objects, labels=["roof"])
    label, meta = content(response[0])
    assert meta["type"] == "groundtruth/instance-segmentation"
    assert [(i["label"], i["workers"]) for i in label["instances"]] == [("roof", ["w1", "w2", "w3"])]
    classes = read_mask(storage.read(label["class-mask-ref"]))
    assert classes.shape == (8, 10) and int(classes[3, 3]) == 1 and int(classes[7, 9]) == 0
    assert (classes == 1).sum() == 36  # the square the two of three drew, edges included
    warnings = meta["answer-warnings"]
    assert warnings == [
        {"workerId": "w1", "reason": "1 polygon(s) with fewer than three vertices or no area were left out"}
    ]


def streetscenes() -> list[dict[str, Any]]:
    lines = (SHARED / "data" / "streetscenes-custom-job-output.manifest").read_text().splitlines()
    objects = []
    for line in lines:
        row = json.loads(line)
        name = row["source-ref"].rsplit("/", 1)[1].split(".")[0]
        objects.append(
            {
                "datasetObjectId": name,
                "dataObject": {"s3Uri": row["source-ref"]},
                "annotations": row["gt-label"]["annotationsFromAllWorkers"],
            }
        )
    return objects


def test_the_real_street_scenes_keep_what_two_of_three_workers_drew(tmp_path: Path) -> None:
    response, report, storage = run(tmp_path, streetscenes(), labels=None)
    by_id = {e["datasetObjectId"]: content(e) for e in response}
    two, meta = by_id["SSDB00016"]
    assert [(i["label"], len(i["workers"])) for i in two["instances"]] == [("Person", 2), ("Person", 2)]
    assert meta["type"] == "groundtruth/instance-segmentation"
    instances = read_mask(storage.read(two["instance-mask-ref"]))
    assert instances.shape == (960, 1280) and set(np.unique(instances).tolist()) == {0, 1, 2}
    none, none_meta = by_id["SSDB00010"]
    assert none["instances"] == []  # one worker of three drew a person
    drew_nothing = "drew nothing (no instance with one of the job's labels)"
    assert "no-instances" not in none_meta  # in the label only: the metadata would repeat it
    assert none["no-instances"] == {
        "reason": "no instance kept: 2 of 3 workers drew nothing; 1 worker drew 1 instance, which too few other "
        "workers drew there with the same label",
        "answers": [
            {"workerId": "public.us-east-1.M52TVGWFFYHS34QM3EHF3NMTKY", "items": 0, "reason": drew_nothing},
            {
                "workerId": "public.us-east-1.JZUQXKHROY2DBQ2V2ZLEWEYCAE",
                "items": 1,
                "reason": "in no kept instance: too few other workers drew them there with the same label",
            },
            {"workerId": "public.us-east-1.H7WTTAHGRYWYXEA7V7E7KOMOCE", "items": 0, "reason": drew_nothing},
        ],
    }
    assert "no-instances" not in two and "no-instances" not in meta  # only on an object that kept none
    from tally.tasks.instances import InstancesResult

    assert InstancesResult.from_gt(none).to_gt()["no-instances"] == none["no-instances"]  # read back
    assert report.label_source == "batch" and report.failed == 0


def test_instances_read_again_when_the_cache_cannot_keep_their_maps_give_the_same_output(tmp_path: Path) -> None:
    from tally import Settings

    kept, _, _ = run(tmp_path / "kept", streetscenes(), labels=None, settings=Settings(algorithm="majority"))
    again, report, _ = run(
        tmp_path / "again", streetscenes(), labels=None, settings=Settings(algorithm="majority", cache_mb=0)
    )
    assert report.failed == 0

    def undated(entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        label, meta = content(entry)
        return label, {k: v for k, v in meta.items() if k != "creation-date"}  # the payload file's time

    assert [undated(e) for e in again] == [undated(e) for e in kept]  # the fit reads summaries either way


def test_a_box_in_a_label_the_job_lacks_is_left_out_with_a_warning_the_rest_kept(tmp_path: Path) -> None:
    objects = [obj("0", ("w1", boxes(("car", 10, 10, 20, 20), ("zebra", 50, 50, 10, 10))))]
    response, report, _ = run(tmp_path, objects, labels=["car"])
    label, meta = content(response[0])
    assert [(a["class_id"], a["left"], a["top"], a["width"], a["height"]) for a in label["annotations"]] == [
        (0, 10, 10, 20, 20)
    ]
    assert meta["answer-warnings"] == [
        {"workerId": "w1", "reason": "items with labels not among the job's were left out: zebra"}
    ]
    assert report.answers_rejected == 0


def test_worker_figures_are_null_where_nothing_measured_them(tmp_path: Path) -> None:
    # w3 drew nothing on either image; w1 and w2 drew the same car on both
    objects = [
        obj(
            str(k),
            ("w1", boxes(("car", 10 + k, 10, 40, 30))),
            ("w2", boxes(("car", 11 + k, 10, 40, 30))),
            ("w3", boxes()),
        )
        for k in range(2)
    ]
    response, _, _ = run(tmp_path, objects, labels=["car"])
    label, meta = content(response[0])
    # w3: no item, so no precision and no weight of its own (before: the pooled precision 1.0 and weight
    # 1.0, as a careful worker); it left out both cars (recall 0). A car two of three drew is no chance
    # for w1 and w2 to show recall (before: 0.0, the pooled rate of w3's misses)
    assert (
        label["worker-quality"]
        == meta["worker-quality"]
        == [
            {"workerId": "w1", "precision": 1.0, "recall": None, "weight": 1.0},
            {"workerId": "w2", "precision": 1.0, "recall": None, "weight": 1.0},
            {"workerId": "w3", "precision": None, "recall": 0.0, "weight": None},
        ]
    )


def _polygons(*items: tuple[str, list[tuple[int, int]]]) -> str:
    element = {
        "polygons": [{"label": lab, "vertices": [{"x": x, "y": y} for x, y in vs]} for lab, vs in items],
        "inputImageProperties": {"width": 10, "height": 8},
    }
    return json.dumps({"crowd-polygon": element})


SQUARE = [(1, 1), (6, 1), (6, 6), (1, 6)]


def test_a_worker_whose_only_polygon_was_left_out_is_not_said_to_have_drawn_nothing(tmp_path: Path) -> None:
    objects = [
        obj(
            "0",
            ("w1", _polygons(("roof", [(8, 0), (9, 0)]))),  # two vertices: left out, the label was valid
            ("w2", _polygons()),
            ("w3", _polygons(("roof", SQUARE))),
        )
    ]
    response, _, _ = run(tmp_path, objects, labels=["roof"])
    label, meta = content(response[0])
    assert label["instances"] == []
    assert label["no-instances"] == {
        "reason": "no instance kept: 1 of 3 workers drew nothing; none of the items of 1 worker could be read "
        "(see answer-warnings); 1 worker drew 1 instance, which too few other workers drew there with the same label",
        "answers": [
            {"workerId": "w1", "items": 0, "reason": "none of their items could be read (see answer-warnings)"},
            {"workerId": "w2", "items": 0, "reason": "drew nothing (no instance with one of the job's labels)"},
            {
                "workerId": "w3",
                "items": 1,
                "reason": "in no kept instance: too few other workers drew them there with the same label",
            },
        ],
    }
    assert meta["answer-warnings"] == [
        {"workerId": "w1", "reason": "1 polygon(s) with fewer than three vertices or no area were left out"}
    ]
    assert "no-instances" not in meta  # in the label only


def test_a_gold_object_with_an_empty_gold_answer_has_no_no_instances(tmp_path: Path) -> None:
    """The gold answer is the truth, not a vote that kept nothing: no ``no-instances`` on its object."""
    gold_nothing = annotation("g", _polygons())
    gold_nothing["annotationData"]["gold"] = True
    objects = [
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://bucket/images/0.jpg"},
            "annotations": [
                gold_nothing,
                annotation("w1", _polygons(("roof", SQUARE))),
                annotation("w2", _polygons(("roof", SQUARE))),
            ],
        },
        obj("1", ("w1", _polygons()), ("w2", _polygons())),  # not gold: nobody drew, said so
    ]
    response, report, _ = run(tmp_path, objects, labels=["roof"])
    (gold, gold_meta), (plain, _) = content(response[0]), content(response[1])
    assert gold["instances"] == [] and gold["confidence"] == 1.0
    assert "no-instances" not in gold and "no-instances" not in gold_meta
    drew_nothing = "drew nothing (no instance with one of the job's labels)"
    assert plain["no-instances"] == {
        "reason": "no instance kept: 2 of 2 workers drew nothing",
        "answers": [
            {"workerId": "w1", "items": 0, "reason": drew_nothing},
            {"workerId": "w2", "items": 0, "reason": drew_nothing},
        ],
    }
    assert report.failed == 0
