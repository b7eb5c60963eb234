"""`tally consolidate` on local files: the same code as the Lambda, with the command line's promises
(exit codes, errors naming files, objects and workers, progress, all-or-nothing output)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tally.tools import _common
from tally.tools.cli import main
from tests.helpers import annotation, data_object, read_mask, seg_content
from tests.project import EVENTS

LEGEND = {"c": "cat", "d": "dog"}
COLOURS = {"cat": "#123456", "dog": "#abcdef"}


def _example(out: Path, *extra: str) -> list[str]:
    return [
        "consolidate",
        str(EVENTS / "consolidation.json"),
        "--s3-root",
        str(EVENTS / "s3"),
        "--out",
        str(out),
        *extra,
    ]


def _payload_file(tmp_path: Path, objects: list[dict[str, Any]], name: str = "payload.json") -> Path:
    source = tmp_path / name
    source.write_text(json.dumps(objects))
    return source


def _three_workers(object_id: str) -> dict[str, Any]:
    return data_object(
        object_id,
        annotation("w1", seg_content(["cd", "c."], LEGEND, COLOURS)),
        annotation("w2", seg_content(["cd", ".."], LEGEND, COLOURS, mode="RGBA")),
        annotation("w3", seg_content(["c.", "c."], LEGEND, COLOURS)),
    )


def _results(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_example_event_from_the_s3_mirror(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(_example(out)) == 0
    captured = capsys.readouterr()
    assert "objects:          6 (6 consolidated, 0 passed through unconsolidated, 0 failed)" in captured.out
    assert "answers rejected: 1" in captured.out
    lines = _results(out)
    assert [line["datasetObjectId"] for line in lines] == [str(i) for i in range(6)]
    masks = sorted((out / "masks").glob("*.png"))
    assert len(masks) == 6  # a mask per object; no confidence map unless asked for
    assert not list((out / "masks").glob("*-confidence.png"))
    for line in lines:
        ref = Path(line["consolidatedAnnotation"]["content"]["street-scenes"]["mask-ref"])
        assert ref.parent == out / "masks"
        assert read_mask(ref.read_bytes()).shape == (360, 480)
    # the one rejected answer is named with its object and worker, once
    rejected = [line for line in captured.err.splitlines() if "answer rejected" in line]
    assert len(rejected) == 1
    assert rejected[0].startswith("warning: object ") and ", worker private.us-east-1." in rejected[0]
    # nothing of the staging directory is left beside the output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_progress_bar_counts_every_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_example(tmp_path / "out", "--progress")) == 0
    err = capsys.readouterr().err
    assert "consolidating" in err and "6/6" in err


def test_progress_bar_counts_objects_not_log_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger("tally.consolidate"), "disabled", True)
    assert main(_example(tmp_path / "out", "--progress")) == 0
    assert "6/6" in capsys.readouterr().err


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(_example(tmp_path / "out")) == 0
    assert "consolidating" not in capsys.readouterr().err


def test_bare_payload_file_with_labels_on_the_command_line(tmp_path: Path) -> None:
    source = _payload_file(tmp_path, [_three_workers("0")])
    out = tmp_path / "out"
    assert (
        main(["consolidate", f"file://{source}", "--out", str(out), "--labels", "dog,cat", "--label-attribute", "pets"])
        == 0
    )
    entry = _results(out)[0]
    label = entry["consolidatedAnnotation"]["content"]["pets"]
    assert label["internal-color-map"]["1"]["class-name"] == "dog"
    mask = read_mask(Path(label["mask-ref"]).read_bytes())
    assert np.array_equal(mask, np.array([[2, 1], [2, 0]]))


@pytest.mark.parametrize(("algorithm", "has_confidence_map"), [("reliability", True), ("majority", False)])
def test_algorithm_option(tmp_path: Path, algorithm: str, has_confidence_map: bool) -> None:
    source = _payload_file(tmp_path, [_three_workers("0")])
    out = tmp_path / "out"
    argv = ["consolidate", str(source), "--out", str(out), "--labels", "dog,cat", "--confidence-maps"]
    assert main([*argv, "--algorithm", algorithm]) == 0  # only the reliability vote has a confidence map
    label = _results(out)[0]["consolidatedAnnotation"]["content"]["label"]
    assert ("confidence-map-ref" in label) is has_confidence_map
    mask = read_mask(Path(label["mask-ref"]).read_bytes())
    assert np.array_equal(mask, np.array([[2, 1], [2, 0]]))


@pytest.mark.parametrize(
    ("flag", "env", "has_confidence_map"),
    [
        ([], None, False),
        (["--confidence-maps"], None, True),
        ([], "true", True),
        (["--no-confidence-maps"], "true", False),
    ],
)
def test_confidence_maps_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: list[str], env: str | None, has_confidence_map: bool
) -> None:
    if env is not None:
        monkeypatch.setenv("TALLY_CONFIDENCE_MAPS", env)
    source = _payload_file(tmp_path, [_three_workers("0")])
    out = tmp_path / "out"
    assert main(["consolidate", str(source), "--out", str(out), "--labels", "dog,cat", *flag]) == 0
    label = _results(out)[0]["consolidatedAnnotation"]["content"]["label"]
    assert ("confidence-map-ref" in label) is has_confidence_map
    assert len(list((out / "masks").glob("*-confidence.png"))) == int(has_confidence_map)
    mask = read_mask(Path(label["mask-ref"]).read_bytes())  # the same vote either way
    assert np.array_equal(mask, np.array([[2, 1], [2, 0]]))
    assert label["confidence"] == _results(out)[0]["consolidatedAnnotation"]["content"]["label-metadata"]["confidence"]


def test_s3_root_lets_a_bare_payload_read_answers_stored_in_s3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirror = tmp_path / "s3"
    answers = mirror / "job-bucket" / "answers"
    answers.mkdir(parents=True)
    workers = {"w1": ["cd", "c."], "w2": ["cd", ".."], "w3": ["c.", "c."]}
    objects = []
    for worker, rows in workers.items():
        (answers / f"{worker}.json").write_text(seg_content(rows, LEGEND, COLOURS))
    objects.append(
        {
            "datasetObjectId": "0",
            "dataObject": {"s3Uri": "s3://images/0.jpg"},
            "annotations": [
                {"workerId": w, "annotationData": {"s3Uri": f"s3://job-bucket/answers/{w}.json"}} for w in workers
            ],
        }
    )
    source = _payload_file(tmp_path, objects)
    out = tmp_path / "out"
    argv = ["consolidate", str(source), "--s3-root", str(mirror), "--out", str(out), "--labels", "dog,cat"]
    assert main(argv) == 0
    assert "answers rejected: 0" in capsys.readouterr().out
    label = _results(out)[0]["consolidatedAnnotation"]["content"]["label"]
    assert np.array_equal(read_mask(Path(label["mask-ref"]).read_bytes()), np.array([[2, 1], [2, 0]]))


def test_warnings_name_object_and_worker_and_failures_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _three_workers("ok")
    good["annotations"].append(annotation("w4", "not json"))
    nobody = {"datasetObjectId": "empty", "dataObject": {"s3Uri": "s3://bucket/images/e.jpg"}, "annotations": []}
    source = _payload_file(tmp_path, [good, nobody])
    out = tmp_path / "out"
    assert main(["consolidate", str(source), "--out", str(out), "--labels", "dog,cat"]) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "warning: object ok, worker w4: answer rejected: content is not JSON",
        "warning: object empty: not consolidated: no annotations: no worker answered",
    ]
    assert "objects:          2 (1 consolidated, 0 passed through unconsolidated, 1 failed)" in captured.out
    assert [e["datasetObjectId"] for e in _results(out)] == ["ok", "empty"]


def test_pass_through_is_counted_apart_from_consolidated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unknown = json.dumps({"my-own-widget": {"answer": 42}})
    objects = [data_object(str(i), annotation("w1", unknown), annotation("w2", unknown)) for i in range(2)]
    source = _payload_file(tmp_path, objects)
    assert main(["consolidate", str(source), "--out", str(tmp_path / "out")]) == 0
    assert "objects:          2 (0 consolidated, 2 passed through unconsolidated, 0 failed)" in capsys.readouterr().out


def test_every_object_failed_exits_1(tmp_path: Path) -> None:
    nobody = {"datasetObjectId": "0", "dataObject": {"s3Uri": "s3://b/0.jpg"}, "annotations": []}
    source = _payload_file(tmp_path, [nobody])
    assert main(["consolidate", str(source), "--out", str(tmp_path / "out"), "--labels", "a,b"]) == 1


def test_unreadable_payload_is_an_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"labelAttributeName": "x", "payload": {"s3Uri": str(tmp_path / "missing.json")}}))
    assert main(["consolidate", str(event), "--out", str(tmp_path / "out")]) == 3
    assert capsys.readouterr().err.startswith(f"Error: payload: cannot read {tmp_path / 'missing.json'}")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("broken", ["event", "payload"])
def test_bad_json_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], broken: str) -> None:
    payload = tmp_path / "payload.json"
    payload.write_text("[\n" if broken == "payload" else json.dumps([_three_workers("0")]))
    event = tmp_path / "event.json"
    event.write_text(
        "{\n" if broken == "event" else json.dumps({"labelAttributeName": "x", "payload": {"s3Uri": str(payload)}})
    )
    assert main(["consolidate", str(event), "--out", str(tmp_path / "out")]) == 3
    err = capsys.readouterr().err
    named = str(event) if broken == "event" else f"payload {payload}"
    assert (
        err
        == f"Error: {named} is not valid JSON: Expecting {'property name enclosed in double quotes' if broken == 'event' else 'value'} (line 2, column 1)\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--threads", "-1"], "Invalid value for '--threads': -1 is not in the range x>=1."),
        (["--threads", "0"], "Invalid value for '--threads': 0 is not in the range x>=1."),
        (
            ["--algorithm", "best"],
            "Invalid value for '--algorithm': 'best' is not one of 'reliability', 'majority', 'regions'.",
        ),
    ],
)
def test_bad_option_values_are_usage_errors_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, extra: list[str], message: str
) -> None:
    monkeypatch.setattr(_common.CliStorage, "read", lambda *a: pytest.fail("work started"))
    assert main(_example(tmp_path / "out", *extra)) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == f"Error: {message}"
    assert not (tmp_path / "out").exists()


def test_out_naming_a_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_common.CliStorage, "read", lambda *a: pytest.fail("work started"))
    existing = tmp_path / "results.txt"
    existing.write_text("keep me")
    assert main(_example(existing)) == 2
    assert (
        capsys.readouterr().err.splitlines()[-1]
        == f"Error: Invalid value for '--out': Directory '{existing}' is a file."
    )
    assert existing.read_text() == "keep me"


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == "tally 0.1.0\n"
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "Exit codes:" in text and "130  interrupted" in text and "consolidate" in text
    assert main(["consolidate", "--help"]) == 0
    text = capsys.readouterr().out
    assert "Usage: tally consolidate [OPTIONS] EVENT_OR_PAYLOAD" in text and "Examples:" in text
    assert main([]) == 2  # no command: usage
    assert main(["frobnicate"]) == 2


def test_ctrl_c_exits_130_and_keeps_the_older_output_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert main(_example(out)) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    written: list[str] = []
    real_write = _common.CliStorage.write

    def interrupted_write(self: _common.CliStorage, uri: str, data: bytes, content_type: str) -> None:
        real_write(self, uri, data, content_type)
        written.append(uri)
        if len(written) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(_common.CliStorage, "write", interrupted_write)
    assert main(_example(out, "--algorithm", "majority")) == 130
    captured = capsys.readouterr()
    assert captured.err == "tally: interrupted; nothing half-written was left behind\n"
    assert len(written) >= 3
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_new_run_replaces_masks_and_results_together(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(_example(out)) == 0
    source = _payload_file(tmp_path, [_three_workers("new")])
    assert main(["consolidate", str(source), "--out", str(out), "--labels", "dog,cat", "--confidence-maps"]) == 0
    [entry] = _results(out)
    assert entry["datasetObjectId"] == "new"
    label = entry["consolidatedAnnotation"]["content"]["label"]
    assert sorted(p.name for p in (out / "masks").iterdir()) == sorted(
        Path(label[k]).name for k in ("mask-ref", "confidence-map-ref")
    )
