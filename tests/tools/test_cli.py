"""`tally consolidate` on local files: the same code as the Lambda."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tally.cli import main
from tests.conftest import EVENTS
from tests.helpers import annotation, data_object, read_mask, seg_content


def test_example_event_from_the_s3_mirror(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert (
        main(["consolidate", str(EVENTS / "consolidation.json"), "--s3-root", str(EVENTS / "s3"), "--out", str(out)])
        == 0
    )
    printed = capsys.readouterr().out
    assert "objects:          6 (6 consolidated, 0 failed)" in printed
    assert "answers rejected: 1" in printed
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [line["datasetObjectId"] for line in lines] == [str(i) for i in range(6)]
    masks = sorted(p for p in (out / "masks").glob("*.png") if not p.name.endswith("-confidence.png"))
    assert len(masks) == 6
    assert len(list((out / "masks").glob("*-confidence.png"))) == 6
    for line in lines:
        ref = Path(line["consolidatedAnnotation"]["content"]["street-scenes"]["mask-ref"])
        assert ref.parent == out / "masks"
        assert read_mask(ref.read_bytes()).shape == (360, 480)


def test_bare_payload_file_with_labels_on_the_command_line(tmp_path: Path) -> None:
    legend = {"c": "cat", "d": "dog"}
    colours = {"cat": "#123456", "dog": "#abcdef"}
    payload = [
        data_object(
            "0",
            annotation("w1", seg_content(["cd", "c."], legend, colours)),
            annotation("w2", seg_content(["cd", ".."], legend, colours, mode="RGBA")),
            annotation("w3", seg_content(["c.", "c."], legend, colours)),
        )
    ]
    source = tmp_path / "payload.json"
    source.write_text(json.dumps(payload))
    out = tmp_path / "out"
    assert (
        main(["consolidate", f"file://{source}", "--out", str(out), "--labels", "dog,cat", "--label-attribute", "pets"])
        == 0
    )
    entry = json.loads((out / "results.jsonl").read_text())
    label = entry["consolidatedAnnotation"]["content"]["pets"]
    assert label["internal-color-map"]["1"]["class-name"] == "dog"
    mask = read_mask(Path(label["mask-ref"]).read_bytes())
    assert np.array_equal(mask, np.array([[2, 1], [2, 0]]))


def test_unreadable_input_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"labelAttributeName": "x", "payload": {"s3Uri": str(tmp_path / "missing.json")}}))
    assert main(["consolidate", str(event), "--out", str(tmp_path / "out")]) == 2
    assert "tally: cannot read" in capsys.readouterr().err
