"""Consolidated polygons go back as polygons: Label Studio ``polygonlabels`` / closed ``vectorlabels``
predictions, CVAT ``<polygon>`` shapes; each read in again gives the consolidated pixels."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tally.aggregation.instance_fusion import rasterise_polygons
from tally.tools.cli import main
from tests.project import ROOT

LS = ROOT / "tests" / "fixtures" / "labelstudio"
CVAT = ROOT / "tests" / "fixtures" / "cvat"
HOLE_NOTE = "pixel(s) of holes filled, as Label Studio polygons have no holes"


def _run(tool: str, source: Path, out: Path, *extra: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(["consolidate", "--from", tool, str(source), "--out", str(out), *extra])
    lines = (out / "results.jsonl").read_text().splitlines() if (out / "results.jsonl").exists() else []
    return code, [json.loads(line)["consolidatedAnnotation"]["content"]["label"] for line in lines]


def _instances(out: Path, label: dict[str, Any]) -> npt.NDArray[np.uint8]:
    path = Path(label["instance-mask-ref"])
    with Image.open(path if path.is_absolute() else out / path) as image:
        return np.asarray(image, dtype=np.uint8)


def _painted(polygons: list[list[tuple[float, float]]], width: int, height: int) -> npt.NDArray[np.bool_]:
    out = np.zeros((height, width), dtype=bool)
    for points in polygons:
        grid, _ = rasterise_polygons([points], width, height)
        out |= grid > 0
    return out


def _points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in text.split(";"))]


# -- CVAT --------------------------------------------------------------------------------------------------


def test_cvat_polygons_go_back_as_polygons_and_read_in_again_are_the_same_instances(tmp_path: Path) -> None:
    code, labels = _run("cvat", CVAT / "three-jobs-shapes", tmp_path / "out", "--element-name", "polygon")
    assert code == 0
    xml = ET.parse(tmp_path / "out" / "annotations.xml").getroot()
    images = xml.findall("image")
    assert [[(p.get("label"), p.get("points")) for p in image.findall("polygon")] for image in images] == [
        [("tree", "10.50,10.50;39.50,10.50;39.50,11.50;40.50,11.50;40.50,40.50;10.50,40.50"),
         ("tree", "60.50,10.50;89.50,10.50;89.50,11.50;90.50,11.50;90.50,40.50;61.50,40.50;61.50,39.50;60.50,39.50")],
        [("tree", "21.50,20.50;60.50,20.50;60.50,60.50;20.50,60.50;20.50,21.50;21.50,21.50")],
    ]  # fmt: skip
    assert [image.findall("mask") for image in images] == [[], []]
    # the new job read in as a job of its own: its one annotator's instances are the consolidated ones
    job = tmp_path / "job"
    job.mkdir()
    shutil.copy(tmp_path / "out" / "annotations.xml", job / "tally.xml")
    code, again = _run("cvat", job, tmp_path / "again", "--element-name", "polygon")
    assert code == 0
    for label, back in zip(labels, again, strict=True):
        assert np.array_equal(_instances(tmp_path / "again", back), _instances(tmp_path / "out", label))


def test_coco_polygon_segmentations_go_back_as_polygons_and_rle_ones_as_masks(tmp_path: Path) -> None:
    code, labels = _run("coco", CVAT / "coco-three-jobs", tmp_path / "out", "--element-name", "segmentation")
    assert code == 0
    xml = ET.parse(tmp_path / "out" / "annotations.xml").getroot()
    for image, label in zip(xml.findall("image"), labels, strict=True):
        assert image.findall("mask") == []
        drawn = [_points(str(p.get("points"))) for p in image.findall("polygon")]
        instances = _instances(tmp_path / "out", label)
        assert len(drawn) == len(label["instances"]) > 0
        for k, points in enumerate(drawn, start=1):  # one part each: instance k is polygon k
            assert np.array_equal(_painted([points], 100, 80), instances == k)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copy(CVAT / "datumaro-coco-instances_val.json", jobs / "annotator-1.json")
    shutil.copy(CVAT / "datumaro-coco-instances_train.json", jobs / "annotator-2.json")
    code, labels = _run("coco", jobs, tmp_path / "mixed")
    assert code == 0
    xml = ET.parse(tmp_path / "mixed" / "annotations.xml").getroot()
    # b.jpg's annotators drew an RLE as well as a polygon: its instance stays a <mask>
    assert [(len(i.findall("mask")), len(i.findall("polygon"))) for i in xml.findall("image")] == [(1, 0), (0, 0)]


def _u_shapes(x0: int, y0: int) -> list[list[tuple[int, int]]]:
    """A 9x9 square with a slot from its top past its centre, one with a slot from its bottom past its
    centre, and the square: the centre pixel is in one of the three, each other pixel in two or three,
    so the fused instance is a ring round the centre."""
    x1, y1, cx, cy = x0 + 8, y0 + 8, x0 + 4, y0 + 4
    top = [(x0, y0), (cx - 1, y0), (cx - 1, cy + 1), (cx + 1, cy + 1), (cx + 1, y0), (x1, y0), (x1, y1), (x0, y1)]
    bottom = [(x0, y0), (x1, y0), (x1, y1), (cx + 1, y1), (cx + 1, cy - 1), (cx - 1, cy - 1), (cx - 1, y1), (x0, y1)]
    return [top, bottom, [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]]


def _cvat_job(path: Path, shapes: list[tuple[str, list[tuple[int, int]]]]) -> None:
    polygons = "".join(
        f'<polygon label="{name}" source="manual" occluded="0" points="{";".join(f"{x},{y}" for x, y in points)}" '
        'z_order="0"></polygon>'
        for name, points in shapes
    )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version><meta><task><labels>'
        "<label><name>tree</name><type>polygon</type></label></labels></task></meta>"
        f'<image id="0" name="ring.png" width="30" height="20">{polygons}</image></annotations>'
    )


def test_an_instance_with_a_hole_is_a_cvat_mask_and_a_filled_label_studio_polygon_with_a_note(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    ring = _u_shapes(2, 2)
    for name, points in zip("abc", ring, strict=True):
        _cvat_job(jobs / f"job-{name}.xml", [("tree", points), ("tree", [(20, 5), (26, 5), (26, 12), (20, 12)])])
    code, labels = _run("cvat", jobs, tmp_path / "out", "--element-name", "polygon")
    assert code == 0
    instances = _instances(tmp_path / "out", labels[0])
    square = _painted([[(2, 2), (10, 2), (10, 10), (2, 10)]], 30, 20)
    assert np.array_equal(instances == 1, square & ~_painted([[(6, 6), (6, 6), (6, 6)]], 30, 20))  # a ring
    image = ET.parse(tmp_path / "out" / "annotations.xml").getroot().find("image")
    assert image is not None
    assert [(s.tag, s.get("left"), s.get("top"), s.get("width"), s.get("height")) for s in image] == [
        ("mask", "2", "2", "9", "9"),  # the ring, exact
        ("polygon", None, None, None, None),  # the other tree
    ]
    assert image[1].get("points") == "20.50,5.50;26.50,5.50;26.50,12.50;20.50,12.50"
    # the same answers from Label Studio: the ring's outline, its hole filled and said
    export = [{"id": 7, "data": {"image": "/data/upload/ring.png"}, "annotations": [
        {"id": k, "completed_by": {"id": k, "email": who}, "result": [
            {"id": f"{who}-{i}", "type": "polygonlabels", "from_name": "trees", "to_name": "image",
             "original_width": 30, "original_height": 20,
             "value": {"points": [[x / 0.3, y / 0.2] for x, y in points], "closed": True, "polygonlabels": ["tree"]}}
            for i, points in enumerate([drawn, [(20, 5), (26, 5), (26, 12), (20, 12)]])]}
        for k, (who, drawn) in enumerate(zip(["ana", "ben", "cy"], ring, strict=True))]}]  # fmt: skip
    (tmp_path / "export.json").write_text(json.dumps(export))
    code, labels = _run("labelstudio", tmp_path / "export.json", tmp_path / "ls")
    assert code == 0
    assert np.array_equal(_instances(tmp_path / "ls", labels[0]), instances)
    (task,) = json.loads((tmp_path / "ls" / "predictions.json").read_text())
    assert task["meta"] == {"tally": {"notes": [f"tally-0 (tree, instance 1): 1 {HOLE_NOTE}"]}}
    result = task["predictions"][0]["result"]
    assert [(r["id"], r["type"], r["value"]["polygonlabels"], r["value"]["closed"]) for r in result] == [
        ("tally-0", "polygonlabels", ["tree"], True),
        ("tally-1", "polygonlabels", ["tree"], True),
    ]
    pixels = [[(x * 0.3, y * 0.2) for x, y in r["value"]["points"]] for r in result]
    assert np.array_equal(_painted(pixels[:1], 30, 20), square)  # the hole filled
    assert np.array_equal(_painted(pixels[1:], 30, 20), instances == 2)


# -- Label Studio -------------------------------------------------------------------------------------------


def test_label_studio_real_export_polygon_goes_back_as_polygonlabels_with_the_same_pixels(tmp_path: Path) -> None:
    code, labels = _run("labelstudio", LS / "sdk-coco-box-polygon-keypoints.json", tmp_path / "out",
                        "--element-name", "polygon_label")  # fmt: skip
    assert code == 0
    (task,) = json.loads((tmp_path / "out" / "predictions.json").read_text())
    (region,) = task["predictions"][0]["result"]
    assert {k: v for k, v in region.items() if k != "value"} == {
        "id": "tally-0", "from_name": "polygon_label", "to_name": "image", "type": "polygonlabels",
        "origin": "prediction", "original_width": 500, "original_height": 320, "image_rotation": 0,
        "score": labels[0]["instances"][0]["confidence"],
    }  # fmt: skip
    assert (region["value"]["polygonlabels"], region["value"]["closed"]) == (["polygon_label"], True)
    pixels = [(x * 5, y * 3.2) for x, y in region["value"]["points"]]  # percent of 500x320
    assert np.array_equal(_painted([pixels], 500, 320), _instances(tmp_path / "out", labels[0]) == 1)
    assert "meta" not in task or "tally" not in task["meta"]


def test_label_studio_closed_vector_paths_go_back_as_closed_linked_vectorlabels(tmp_path: Path) -> None:
    code, labels = _run("labelstudio", LS / "vector-polygons-three-annotators.json", tmp_path / "out")
    assert code == 0
    tasks = json.loads((tmp_path / "out" / "predictions.json").read_text())
    for task, label in zip(tasks, labels, strict=True):
        result = task["predictions"][0]["result"]
        assert [(r["type"], r["from_name"], r["value"]["closed"], r["value"]["vectorlabels"]) for r in result] == [
            ("vectorlabels", "cars", True, ["car"])
        ]
        vertices = result[0]["value"]["vertices"]
        assert [(v["id"], v["prevPointId"], v["isBezier"]) for v in vertices] == [
            (f"tally-0-{j}", f"tally-0-{j - 1}" if j else None, False) for j in range(len(vertices))
        ]
        assert result[0]["score"] == label["instances"][0]["confidence"]
    # the predictions read in again as each task's one annotation: the same instances
    again = json.loads((LS / "vector-polygons-three-annotators.json").read_text())
    for task, written in zip(again, tasks, strict=True):
        task["annotations"] = [{"id": 1, "completed_by": {"id": 1, "email": "tally"},
                                "result": written["predictions"][0]["result"]}]  # fmt: skip
    (tmp_path / "again.json").write_text(json.dumps(again))
    code, back = _run("labelstudio", tmp_path / "again.json", tmp_path / "again")
    assert code == 0
    for label, read in zip(labels, back, strict=True):
        assert np.array_equal(_instances(tmp_path / "again", read), _instances(tmp_path / "out", label))
    top_left = [int(v) for v in np.argwhere(_instances(tmp_path / "out", labels[0]) == 1)[0]]  # row, column
    assert tasks[0]["predictions"][0]["result"][0]["value"]["vertices"][0] == {
        "id": "tally-0-0", "x": round(100 * (top_left[1] + 0.5) / 640, 6), "y": round(100 * (top_left[0] + 0.5) / 480, 6),
        "prevPointId": None, "isBezier": False,
    }  # fmt: skip  # from the centre of the car's top-left pixel, in percent


@pytest.mark.parametrize(("tree", "good"), [("tree", "good"), ("tally-3", "tally-0")])
def test_a_polygon_field_of_a_form_goes_back_as_polygons_its_hole_note_naming_the_form_ids(
    tmp_path: Path, tree: str, good: str
) -> None:
    """A label or choice named like one of tally's own ids (``tally-3``) is written as it is, in the
    results and in the note: only the ids tally made are renamed for the form."""
    ring = _u_shapes(2, 2)
    export = [{"id": 7, "data": {"image": "/data/upload/ring.png"}, "annotations": [
        {"id": k, "completed_by": {"id": k, "email": who}, "result": [
            {"id": f"{who}-0", "type": "polygonlabels", "from_name": "trees", "to_name": "image",
             "original_width": 30, "original_height": 20,
             "value": {"points": [[x / 0.3, y / 0.2] for x, y in drawn], "closed": True, "polygonlabels": [tree]}},
            {"id": f"{who}-q", "type": "choices", "from_name": "quality", "to_name": "image",
             "value": {"choices": [good]}}]}
        for k, (who, drawn) in enumerate(zip(["ana", "ben", "cy"], ring, strict=True))]}]  # fmt: skip
    (tmp_path / "export.json").write_text(json.dumps(export))
    code, labels = _run("labelstudio", tmp_path / "export.json", tmp_path / "out")
    assert code == 0
    assert labels[0]["imported-from"] == {"tool": "labelstudio", "fields": ["trees", "quality"]}
    (task,) = json.loads((tmp_path / "out" / "predictions.json").read_text())
    result = task["predictions"][0]["result"]
    assert [(r["id"], r["type"], r["value"].get("polygonlabels"), r["value"].get("choices")) for r in result] == [
        ("tally-trees-0", "polygonlabels", [tree], None),
        ("tally-quality-0", "choices", None, [good]),
    ]
    assert task["meta"] == {"tally": {"notes": [f"tally-trees-0 ({tree}, instance 1): 1 {HOLE_NOTE}"]}}
    pixels = [(x * 0.3, y * 0.2) for x, y in result[0]["value"]["points"]]
    assert np.array_equal(_painted([pixels], 30, 20), _painted([[(2, 2), (10, 2), (10, 10), (2, 10)]], 30, 20))


def _dumbbell(bridge: int) -> list[tuple[int, int]]:
    """Two squares (x 2-9 and 20-27, y 3-11) joined by a bridge one pixel high at row ``bridge``."""
    return [(2, 3), (9, 3), (9, bridge), (20, bridge), (20, 3), (27, 3), (27, 11), (20, 11), (20, bridge),
            (9, bridge), (9, 11), (2, 11)]  # fmt: skip


def _dumbbell_jobs(tmp_path: Path) -> Path:
    """Three CVAT jobs of one tree, each annotator's bridge on another row (5, 7, 9), species oak."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for name, bridge in zip("abc", (5, 7, 9), strict=True):
        _cvat_job(jobs / f"job-{name}.xml", [("tree", _dumbbell(bridge))])
        text = (jobs / f"job-{name}.xml").read_text()
        (jobs / f"job-{name}.xml").write_text(
            text.replace("</polygon>", '<attribute name="species">oak</attribute></polygon>')
        )
    return jobs


def test_an_instance_in_two_parts_is_two_polygons_each_with_its_attributes_and_per_region_fields(
    tmp_path: Path,
) -> None:
    """Each annotator's bridge is on another row: one vote of three each, so the fused instance is the
    two squares, apart; each part is a polygon, each with the instance's voted attributes and score."""
    code, labels = _run("cvat", _dumbbell_jobs(tmp_path), tmp_path / "out", "--element-name", "polygon")
    assert code == 0
    instances = _instances(tmp_path / "out", labels[0])
    squares = _painted([[(2, 3), (9, 3), (9, 11), (2, 11)], [(20, 3), (27, 3), (27, 11), (20, 11)]], 30, 20)
    assert np.array_equal(instances == 1, squares) and int(instances.max()) == 1
    image = ET.parse(tmp_path / "out" / "annotations.xml").getroot().find("image")
    assert image is not None
    assert [(p.tag, p.get("points"), p.get("group_id"), [(a.get("name"), a.text) for a in p]) for p in image] == [
        ("polygon", "2.50,3.50;9.50,3.50;9.50,11.50;2.50,11.50", "1", [("species", "oak")]),
        ("polygon", "20.50,3.50;27.50,3.50;27.50,11.50;20.50,11.50", "1", [("species", "oak")]),
    ]  # one instance's two parts: one CVAT group
    export = [{"id": 3, "data": {"image": "/data/upload/dumbbell.png"}, "annotations": [
        {"id": k, "completed_by": {"id": k, "email": who}, "result": [
            {"id": f"{who}-0", "type": "polygonlabels", "from_name": "trees", "to_name": "image",
             "original_width": 30, "original_height": 20,
             "value": {"points": [[x / 0.3, y / 0.2] for x, y in _dumbbell(bridge)], "polygonlabels": ["tree"]}},
            {"id": f"{who}-0", "type": "choices", "from_name": "species", "to_name": "image",
             "value": {"points": [[x / 0.3, y / 0.2] for x, y in _dumbbell(bridge)], "choices": ["oak"]}}]}
        for k, (who, bridge) in enumerate(zip(["ana", "ben", "cy"], (5, 7, 9), strict=True))]}]  # fmt: skip
    (tmp_path / "export.json").write_text(json.dumps(export))
    code, labels = _run("labelstudio", tmp_path / "export.json", tmp_path / "ls")
    assert code == 0
    (task,) = json.loads((tmp_path / "ls" / "predictions.json").read_text())
    result = task["predictions"][0]["result"]
    score = labels[0]["instances"][0]["confidence"]
    assert [(r["id"], r["type"], r.get("score"), r["value"].get("choices")) for r in result] == [
        ("tally-0", "polygonlabels", score, None), ("tally-1", "polygonlabels", score, None),
        ("tally-0", "choices", None, ["oak"]), ("tally-1", "choices", None, ["oak"]),
    ]  # fmt: skip
    assert [r["value"]["points"] for r in result[2:]] == [r["value"]["points"] for r in result[:2]]
    assert task["meta"] == {"tally": {"notes": ["tally-0, tally-1 (tree, instance 1): one instance in 2 parts"]}}


def test_an_instance_written_back_in_two_grouped_parts_reads_in_again_as_one_instance(tmp_path: Path) -> None:
    """The two-part dumbbell's write-back (one ``group_id``) as a new job of its own: one instance, the
    same pixels, both parts' attributes voted as the instance's (none kept as given)."""
    code, labels = _run("cvat", _dumbbell_jobs(tmp_path), tmp_path / "out", "--element-name", "polygon")
    assert code == 0
    written = ET.parse(tmp_path / "out" / "annotations.xml").getroot()
    assert [p.get("group_id") for p in written.iter("polygon")] == ["1", "1"]
    job = tmp_path / "job"
    job.mkdir()
    shutil.copy(tmp_path / "out" / "annotations.xml", job / "tally.xml")
    code, again = _run("cvat", job, tmp_path / "again", "--element-name", "polygon")
    assert code == 0
    (back,) = again
    assert [(i["label"], i["workers"]) for i in back["instances"]] == [("tree", ["tally"])]
    assert np.array_equal(_instances(tmp_path / "again", back), _instances(tmp_path / "out", labels[0]))
    assert int(_instances(tmp_path / "again", back).max()) == 1
    assert "kept-as-given" not in back
    assert [(a["shape"], a["values"]) for a in back["shape-attributes"]] == [(0, {"occluded": "0", "species": "oak"})]


def test_an_instance_too_ragged_to_trace_is_written_as_a_mask_and_said() -> None:
    """A fragmented instance (a checkerboard: one part a pixel) is not traced (seconds to minutes for
    polygons no one can use): CVAT gets its exact <mask>, Label Studio its brush mask and a note."""
    from tally.importers import writers
    from tally.importers.outline import MAX_RUNS, polygons

    board = np.indices((130, 130)).sum(axis=0) % 2 == 0
    assert polygons(board).ragged > MAX_RUNS and polygons(board).polygons == []
    found = [("tree", board, 0.5, 0)]
    ((kind, drawn, index),) = writers._cvat_outlines(found)
    assert (kind, index) == ("mask", 0) and "rle" in drawn
    notes: list[str] = []
    (region,) = writers._ls_outlines(found, "polygonlabels", notes)
    assert region["rtype"] == "brushlabels" and region["value"]["brushlabels"] == ["tree"]
    assert notes == [f"tally-0 (tree, instance 1): written as a brush mask, its outline too ragged to trace "
                     f"({polygons(board).ragged} runs of edges, over {MAX_RUNS})"]  # fmt: skip
