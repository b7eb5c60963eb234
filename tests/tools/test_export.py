"""`tally export`: tally output manifests (written here by `tally reconsolidate` from hand-made answers
with known consensus) rewritten in Ground Truth's built-in shapes, checked against real built-in output
lines, and as COCO, checked with the COCO API (pycocotools)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as coco_mask  # type: ignore[import-untyped]
from pycocotools.coco import COCO  # type: ignore[import-untyped]

from tally.coco import rle_encode
from tally.tools.cli import main
from tests.project import SHARED
from tests.tools.jobs import reconsolidated

# pycocotools 2.0.11's mask decoder calls numpy's __array__ the pre-2.0 way (its code, not ours)
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

REAL = SHARED / "data" / "real"


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("jobs")
    kinds = ["segmentation", "boxes", "keypoints", "instances", "classification", "multilabel", "entities", "failed"]
    return {kind: reconsolidated(root, kind) for kind in kinds}


def _export(manifest: Path, fmt: str, out: Path) -> int:
    return main(["export", str(manifest), "--label-attribute", "pets", "--format", fmt, "--out", str(out)])


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _shape(value: Any) -> Any:
    """The structure of a JSON value: dict keys with their values' shapes (a map keyed by class index:
    one entry), a list's first element, types."""
    if isinstance(value, dict) and value and all(k.isdigit() for k in value):
        return {"<index>": _shape(next(iter(value.values())))}
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _renamed(line: dict[str, Any], attr: str) -> dict[str, Any]:
    return {k.replace(attr, "ATTR", 1) if k.startswith(attr) else k: v for k, v in line.items()}


@pytest.mark.parametrize(
    ("kind", "real", "real_attr", "line_number"),
    [
        ("segmentation", "lookout-semseg-output-manifest", "S10-label3", 0),
        ("classification", "coral-classification-output-manifest", "test-label-dianthus", 0),
        ("boxes", "cat-labels-bbox-output-manifest", "cat-ground-truth", 2),
    ],
)
def test_builtin_has_the_real_builtin_shape(
    jobs: dict[str, Path], tmp_path: Path, kind: str, real: str, real_attr: str, line_number: int
) -> None:
    """Every key and value type of the real built-in line of the same task, and no other."""
    out = tmp_path / "builtin.manifest"
    assert _export(jobs[kind] / "output.manifest", "builtin", out) == 0
    mine = _renamed(_lines(out)[0], "pets")
    theirs = _renamed(_lines(REAL / real / "output.manifest")[line_number], real_attr)
    assert _shape(mine) == _shape(theirs)


def test_builtin_values(jobs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "o.manifest"
    assert _export(jobs["classification"] / "output.manifest", "builtin", out) == 0
    cat, dog = _lines(out)
    assert (cat["pets"], cat["pets-metadata"]["class-name"]) == (0, "cat")
    assert (dog["pets"], dog["pets-metadata"]["class-name"]) == (1, "dog")
    assert cat["pets-metadata"]["job-name"] == "labeling-job/pets"

    assert _export(jobs["segmentation"] / "output.manifest", "builtin", out) == 0
    (seg,) = _lines(out)
    source = _lines(jobs["segmentation"] / "output.manifest")[0]
    assert seg["pets-ref"] == source["pets"]["mask-ref"]
    assert "pets" not in seg and "pets-metadata" not in seg
    colour_map = seg["pets-ref-metadata"]["internal-color-map"]
    assert {k: (v["class-name"], v["hex-color"]) for k, v in colour_map.items()} == {
        "0": ("BACKGROUND", "#ffffff"),
        "1": ("cat", "#123456"),
        "2": ("dog", "#abcdef"),
    }

    assert _export(jobs["boxes"] / "output.manifest", "builtin", out) == 0
    (boxes,) = _lines(out)
    assert boxes["pets"] == {
        "annotations": [
            {"class_id": 0, "left": 1, "top": 1, "width": 3, "height": 2},
            {"class_id": 1, "left": 5, "top": 2, "width": 2, "height": 3},
        ],
        "image_size": [{"width": 8, "height": 6, "depth": 3}],
    }
    assert boxes["pets-metadata"]["class-map"] == {"0": "cat", "1": "dog"}
    assert len(boxes["pets-metadata"]["objects"]) == 2


def test_builtin_multilabel_and_entities(jobs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "o.manifest"
    assert _export(jobs["multilabel"] / "output.manifest", "builtin", out) == 0
    (line,) = _lines(out)
    assert line["pets"] == [0, 1]
    meta = line["pets-metadata"]
    assert set(meta) == {"class-map", "confidence-map", "type", "job-name", "human-annotated", "creation-date"}
    assert meta["class-map"] == {"0": "cat", "1": "dog"}
    assert meta["type"] == "groundtruth/image-classification-multilabel"

    assert _export(jobs["entities"] / "output.manifest", "builtin", out) == 0
    (line,) = _lines(out)
    assert line["source"] == "Anna in Paris"
    assert line["pets"] == {
        "annotations": {
            "entities": [
                {"label": "person", "startOffset": 0, "endOffset": 4},
                {"label": "place", "startOffset": 8, "endOffset": 13},
            ],
            "labels": [{"label": "person"}, {"label": "place"}],
        }
    }
    assert line["pets-metadata"]["type"] == "groundtruth/text-span"
    assert [set(e) for e in line["pets-metadata"]["entities"]] == [{"confidence"}, {"confidence"}]


def test_builtin_failed_and_unchanged_lines(
    jobs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o.manifest"
    capsys.readouterr()
    assert _export(jobs["failed"] / "output.manifest", "builtin", out) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["warning: line 1: object not consolidated: no annotations: no worker answered"]
    (line,) = _lines(out)
    assert set(line) == {"source-ref", "pets-metadata"}
    assert line["pets-metadata"]["failure-reason"] == "no annotations: no worker answered"
    for kind in ("keypoints", "instances"):  # no built-in image task: left as tally wrote them
        assert _export(jobs[kind] / "output.manifest", "builtin", out) == 0
        assert _lines(out) == _lines(jobs[kind] / "output.manifest")


def _coco(path: Path) -> COCO:
    coco = COCO()
    coco.dataset = json.loads(path.read_text())
    coco.createIndex()
    return coco


def test_coco_loads_with_pycocotools(jobs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "seg.json"
    assert _export(jobs["segmentation"] / "output.manifest", "coco", out) == 0
    coco = _coco(out)
    assert [(c["id"], c["name"]) for c in coco.loadCats(coco.getCatIds())] == [(1, "cat"), (2, "dog")]
    assert coco.imgs[1]["file_name"] == "s3://images/seg.png"
    assert (coco.imgs[1]["width"], coco.imgs[1]["height"]) == (2, 2)
    cat, dog = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert np.array_equal(coco.annToMask(cat), [[1, 0], [1, 0]])
    assert np.array_equal(coco.annToMask(dog), [[0, 1], [0, 0]])
    assert (cat["bbox"], cat["area"], dog["bbox"], dog["area"]) == ([0, 0, 1, 2], 2, [1, 0, 1, 1], 1)

    assert _export(jobs["instances"] / "output.manifest", "coco", out) == 0
    coco = _coco(out)
    first, second = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert np.array_equal(coco.annToMask(first), [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
    assert np.array_equal(coco.annToMask(second), [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1]])
    assert [coco.cats[a["category_id"]]["name"] for a in (first, second)] == ["cat", "dog"]

    assert _export(jobs["boxes"] / "output.manifest", "coco", out) == 0
    coco = _coco(out)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert [(a["bbox"], coco.cats[a["category_id"]]["name"], a["area"]) for a in anns] == [
        ([1, 1, 3, 2], "cat", 6),
        ([5, 2, 2, 3], "dog", 6),
    ]
    assert anns[0]["score"] == 1.0 and 0 < anns[1]["score"] < 1
    results = coco.loadRes(anns)  # detection results load as such too
    assert len(results.anns) == 2

    assert _export(jobs["keypoints"] / "output.manifest", "coco", out) == 0
    coco = _coco(out)
    (category,) = coco.loadCats(coco.getCatIds())
    assert (category["name"], category["keypoints"]) == ("pets", ["cat"])
    (ann,) = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    assert (ann["keypoints"], ann["num_keypoints"]) == ([2.0, 3.0, 2.0], 1)


def test_coco_skips_what_it_cannot_hold(
    jobs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.json"
    capsys.readouterr()
    assert _export(jobs["classification"] / "output.manifest", "coco", out) == 0
    assert "lines: 2 (0 images, 0 annotations, 2 with nothing COCO holds, 0 failed)" in capsys.readouterr().out
    assert json.loads(out.read_text())["images"] == []
    assert _export(jobs["failed"] / "output.manifest", "coco", out) == 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rle_matches_the_coco_api(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for shape in [(1, 1), (3, 5), (17, 40), (64, 48)]:
        for density in (0.0, 0.1, 0.5, 1.0):
            mask = rng.random(shape) < density
            expected = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
            assert rle_encode(mask) == {"size": list(shape), "counts": expected["counts"].decode()}


def test_errors(jobs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = jobs["boxes"] / "output.manifest"
    assert _export(manifest, "coco", tmp_path) == 2  # --out is a directory
    assert _export(tmp_path / "missing.manifest", "coco", tmp_path / "x.json") == 3
    bad = tmp_path / "bad.manifest"
    bad.write_text(manifest.read_text() + "{not json\n")
    capsys.readouterr()
    assert _export(bad, "builtin", tmp_path / "x.manifest") == 3
    assert f"{bad} line 2 is not valid JSON" in capsys.readouterr().err
    assert not (tmp_path / "x.manifest").exists()  # nothing half-written
    assert list(tmp_path.glob(".x.manifest*")) == []
    assert main(["export", str(manifest), "--label-attribute", "pets", "--format", "yolo", "--out", "y"]) == 2


def test_interrupted_export_leaves_the_old_file(
    jobs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C half-way: exit 130, one line on stderr, the earlier output untouched, no scratch file."""
    out = tmp_path / "c.manifest"
    out.write_text("earlier export\n")
    calls: list[int] = []

    def interrupted(line: dict[str, Any], attr: str) -> dict[str, Any]:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return line

    monkeypatch.setattr("tally.tools.export.builtin_line", interrupted)
    capsys.readouterr()
    assert _export(jobs["classification"] / "output.manifest", "builtin", out) == 130
    assert capsys.readouterr().err == "tally: interrupted; nothing half-written was left behind\n"
    assert out.read_text() == "earlier export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.manifest"]


@pytest.mark.parametrize("command", ["export", "report"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert f"Usage: tally {command} [OPTIONS]" in text
    assert "Exit codes: 0" in text and "Examples:" in text


STREETSCENES = SHARED / "data" / "streetscenes-custom-job-output.manifest"


def test_the_only_label_attribute_is_inferred(
    jobs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = jobs["classification"] / "output.manifest"
    given, inferred = tmp_path / "given.manifest", tmp_path / "inferred.manifest"
    assert _export(manifest, "builtin", given) == 0
    capsys.readouterr()
    assert main(["export", str(manifest), "--format", "builtin", "--out", str(inferred)]) == 0
    assert capsys.readouterr().err == f"label attribute: pets (the only one in {manifest})\n"
    assert inferred.read_bytes() == given.read_bytes()


def test_several_label_attributes_are_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = {"source-ref": "s3://b/a.png", "pets": {"type": "groundtruth/image-classification"}, "pets-metadata": {}}
    chained = {**line, "breed": {"type": "groundtruth/image-classification"}, "breed-metadata": {}}
    manifest = tmp_path / "chained.manifest"
    manifest.write_text(json.dumps(line) + "\n" + json.dumps(chained) + "\n")
    capsys.readouterr()
    assert main(["export", str(manifest), "--format", "builtin", "--out", str(tmp_path / "x")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"Error: {manifest} has 2 label attributes (pets, breed): say which with --label-attribute"
    )
    assert not (tmp_path / "x").exists()


def test_a_wrong_label_attribute_names_what_the_manifest_has(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    argv = [
        "export",
        str(STREETSCENES),
        "--label-attribute",
        "street",
        "--format",
        "coco",
        "--out",
        str(tmp_path / "x"),
    ]
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"Error: Invalid value for '--label-attribute': no line of {STREETSCENES} has street "
        "(keys: source-ref, gt-label, gt-label-17-metadata); label attributes there: gt-label"
    )
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("attr", [None, "gt-label"])
def test_raw_answers_say_to_reconsolidate_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], attr: str | None
) -> None:
    """AWS's recipe output (every worker's answer under the attribute): no repr, the next step."""
    given = ["--label-attribute", attr] if attr else []
    capsys.readouterr()
    assert main(["export", str(STREETSCENES), *given, "--format", "builtin", "--out", str(tmp_path / "x")]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (
        f"Error: {STREETSCENES} has raw answers under gt-label (line 1 holds every worker's answer, not a "
        f"consolidated label): run `tally reconsolidate {STREETSCENES} --label-attribute gt-label --out DIR` "
        "first, then export DIR/output.manifest"
    )
    assert len(err) == (2 if attr is None else 1)  # the attribute it found is named first
    assert not (tmp_path / "x").exists()


def test_lines_that_are_not_tally_labels_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    builtin = REAL / "coral-classification-output-manifest" / "output.manifest"
    capsys.readouterr()
    assert main(["export", str(builtin), "--format", "builtin", "--out", str(tmp_path / "x")]) == 3
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"Error: {builtin} line 1: cannot export: test-label-dianthus is a JSON number, not a tally label (an "
        "object with its type): export reads output manifests tally wrote (tally reconsolidate's, or a job's "
        "that ran tally's Lambda)"
    )
    incomplete = tmp_path / "incomplete.manifest"
    label = {"type": "groundtruth/image-classification", "class-id": 0}
    incomplete.write_text(json.dumps({"source-ref": "s3://b/a.png", "pets": label, "pets-metadata": {}}) + "\n")
    assert _export(incomplete, "builtin", tmp_path / "x") == 3
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"Error: {incomplete} line 1: cannot export: the groundtruth/image-classification label has no 'class-name'"
    )
    assert not (tmp_path / "x").exists()
