"""Semantic answers whose mask is already decoded (``labeledImage.classRuns``, what the importers hand
on): consolidated exactly as the same masks drawn as PNGs, refused with a reason when the runs are no
mask of the answer's size."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tally import Settings
from tally.codecs import class_runs, decode_class_runs
from tally.errors import ImageDecodeError, MaskShapeError
from tally.settings import Algorithm
from tests.core.batch import LEGEND, content, run
from tests.helpers import annotation, data_object, grid, seg_content

DRAWINGS = {
    "w1": ["rrr..", "rcc..", "..cp.", "..ppx"],
    "w2": ["rr...", "rccc.", "..cp.", "...px"],
    "w3": ["rrr..", "rc...", "..cpp", "..ppx"],
}
LEGEND_X = {**LEGEND, "x": "tree"}  # tree: a label the job does not have
COLOURS = {"road": "#1f77b4", "car": "#ff7f0e", "person": "#2ca02c", "sign": "#d62728", "tree": "#9467bd"}


def _decoded(rows: list[str]) -> str:
    """The drawing as an importer hands it on: classes by label order, no PNG."""
    names = sorted({LEGEND_X[ch] for row in rows for ch in row if ch != "."})
    classes = grid(rows, {ch: names.index(name) + 1 for ch, name in LEGEND_X.items() if name in names})
    value = {"inputImageProperties": {"height": len(rows), "width": len(rows[0])},
             "labelMappings": {name: {"color": COLOURS[name]} for name in names},
             "labeledImage": {"classRuns": class_runs(classes)}}  # fmt: skip
    return json.dumps({"crowd-semantic-segmentation": value})


def _png(rows: list[str]) -> str:
    return seg_content(rows, {ch: n for ch, n in LEGEND_X.items() if any(ch in row for row in rows)}, COLOURS)


def _labels(tmp_path: Path, encode: Any, settings: Settings) -> list[Any]:
    objects = [data_object("0", *(annotation(w, encode(rows)) for w, rows in DRAWINGS.items()))]
    response, _, storage = run(tmp_path, objects, settings=settings)
    label, meta = content(response[0])
    return [label, {k: v for k, v in meta.items() if k != "creation-date"}, storage.read(label["mask-ref"])]


@pytest.mark.parametrize("algorithm", ["majority", "reliability", "regions"])
def test_decoded_answers_consolidate_exactly_as_their_pngs(tmp_path: Path, algorithm: Algorithm) -> None:
    settings = Settings(algorithm=algorithm, confidence_maps=algorithm != "majority")
    decoded = _labels(tmp_path / "decoded", _decoded, settings)
    png = _labels(tmp_path / "png", _png, settings)
    assert decoded[2] == png[2]  # the mask, byte for byte
    assert json.dumps(decoded[:2]).replace("decoded", "png") == json.dumps(png[:2])
    reasons = [(i["workerId"], i["reason"]) for i in decoded[1].get("answer-warnings", [])]
    unknown = "% of the painted pixels are in labels the job does not have (tree); they cast no vote"
    assert reasons == [("w1", "9" + unknown), ("w2", "10" + unknown), ("w3", "9" + unknown)]  # 1 of 11, 10, 11


def test_class_runs_round_trip_and_their_refusals() -> None:
    classes = np.array([[0, 0, 1, 1], [2, 2, 2, 0]], dtype=np.uint8)
    runs = class_runs(classes)
    assert runs == [0, 2, 1, 2, 2, 3, 0, 1]
    assert np.array_equal(decode_class_runs(runs, 4, 2, 2), classes)
    refusals: list[tuple[list[Any], type[Exception], str]] = [
        ([0, 2, 1], ImageDecodeError, "classRuns is not a list of integer (class, length) pairs"),
        ([0, 8.0], ImageDecodeError, "classRuns is not a list of integer (class, length) pairs"),
        ([0, 4, 1, 0, 1, 4], ImageDecodeError, "classRuns has an empty or negative run or class"),
        ([], ImageDecodeError, "classRuns is empty"),
        ([[0, 8]], ImageDecodeError, "classRuns is not a list of integer (class, length) pairs"),
        ([0, 4, 3, 4], ImageDecodeError, "classRuns names class 3; labelMappings has 2 labels"),
        ([0, 4, 1, 3], MaskShapeError, "classRuns covers 7 pixels; inputImageProperties says 4x2"),
        ([0, 9, 1, 1], MaskShapeError, "classRuns has a run of 9 pixels; inputImageProperties says 4x2"),
        (  # runs whose int64 sum wraps round to 8 (once a segfault in np.repeat)
            [0, 2**63 - 1, 0, 2**63 - 1, 0, 10],
            MaskShapeError,
            "classRuns has a run of 9223372036854775807 pixels; inputImageProperties says 4x2",
        ),
    ]
    for bad, error, reason in refusals:
        with pytest.raises(error) as caught:
            decode_class_runs(bad, 4, 2, 2)
        assert str(caught.value) == reason
    with pytest.raises(ImageDecodeError, match="over the 100000000 limit"):
        decode_class_runs([0, 1], 100_000, 100_000, 1)


def test_a_bad_decoded_answer_is_rejected_and_the_others_vote(tmp_path: Path) -> None:
    good = _decoded(DRAWINGS["w1"])
    short = json.loads(good)
    short["crowd-semantic-segmentation"]["labeledImage"]["classRuns"][1] -= 1  # the first run
    sizeless = json.loads(good)
    del sizeless["crowd-semantic-segmentation"]["inputImageProperties"]
    objects = [data_object("0", annotation("w1", good), annotation("w2", json.dumps(short)),
                           annotation("w3", json.dumps(sizeless)))]  # fmt: skip
    response, _, _ = run(tmp_path, objects)
    label, meta = content(response[0])
    assert meta["rejected-answers"] == [
        {"workerId": "w2", "reason": "classRuns covers 19 pixels; inputImageProperties says 5x4"},
        {"workerId": "w3", "reason": "not a semantic-segmentation answer: inputImageProperties: Field required"},
    ]
    assert label["confidence"] == 0.0  # one usable answer (the plain vote's rule)


def test_runs_summing_past_int64_are_rejected_and_the_others_vote(tmp_path: Path) -> None:
    """Runs whose int64 sum wraps round to W×H once passed the size check and crashed ``np.repeat``."""
    crafted = json.loads(_decoded(DRAWINGS["w3"]))
    crafted["crowd-semantic-segmentation"]["labeledImage"]["classRuns"] = [0, 2**63 - 1, 0, 2**63 - 1, 0, 22]
    two = [annotation(w, _decoded(DRAWINGS[w])) for w in ("w1", "w2")]
    response, _, storage = run(tmp_path / "three", [data_object("0", *two, annotation("w3", json.dumps(crafted)))])
    label, meta = content(response[0])
    assert meta["rejected-answers"] == [
        {"workerId": "w3", "reason": "classRuns has a run of 9223372036854775807 pixels; inputImageProperties says 5x4"}
    ]
    alone, _, alone_storage = run(tmp_path / "two", [data_object("0", *two)])
    label2, meta2 = content(alone[0])
    assert storage.read(label["mask-ref"]) == alone_storage.read(label2["mask-ref"])
    assert label["confidence"] == label2["confidence"]
    assert {k: v for k, v in meta.items() if k not in {"creation-date", "rejected-answers"}} == {
        k: v for k, v in meta2.items() if k != "creation-date"
    }


def test_the_report_reads_no_regions_from_runs_summing_past_int64() -> None:
    from tally.tools.report import _worker_regions

    value = json.loads(_decoded(DRAWINGS["w1"]))["crowd-semantic-segmentation"]
    regions = _worker_regions(value)
    assert regions is not None and regions[1] == ["car", "person", "road", "tree"]
    value["labeledImage"]["classRuns"] = [0, 2**63 - 1, 0, 2**63 - 1, 0, 22]
    assert _worker_regions(value) is None  # (the page shows no worker mask; it once crashed)
