"""`tally reconsolidate`: an output manifest holding every worker's answer in, the Lambda's label per
line out; streaming in batches, over processes, resumable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws

from tally.consolidate import fit_job_model
from tally.settings import Settings
from tally.tools import reconsolidate as module
from tally.tools.cli import main
from tests.helpers import read_mask, seg_content
from tests.project import ROOT, SHARED
from tests.sim.classification import matching_crowd
from tests.sim.manifests import (
    MATCHING,
    MATCHING_FORM,
    classification_lines,
    form_lines,
    recipe_line,
    segmentation_lines,
    write_manifest,
)

STREETSCENES = SHARED / "data" / "streetscenes-custom-job-output.manifest"
LEGEND = {"c": "cat", "d": "dog"}
COLOURS = {"cat": "#123456", "dog": "#abcdef"}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_streetscenes_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Real recipe output (three workers' instance segmentation): consolidated as the Lambda would, the
    other keys kept: on SSDB00016 two of three workers drew the same two people, on SSDB00010 one of three
    drew one person."""
    out = tmp_path / "out"
    argv = ["reconsolidate", str(STREETSCENES), "--label-attribute", "gt-label", "--out", str(out), "--jobs", "1"]
    assert main(argv) == 0
    assert "lines:            2 (2 consolidated, 0 passed through unconsolidated, 0 failed)" in capsys.readouterr().out
    source, result = _lines(STREETSCENES), _lines(out / "output.manifest")
    assert len(result) == len(source) == 2
    for before, after in zip(source, result, strict=True):
        assert set(after) == {*before, "gt-label-metadata"}
        assert after["source-ref"] == before["source-ref"]
        assert after["gt-label-17-metadata"] == before["gt-label-17-metadata"]
        assert after["gt-label-metadata"]["type"] == "groundtruth/instance-segmentation"
        assert after["gt-label-metadata"]["job-name"] == "labeling-job/gt-label"
        assert Path(after["gt-label"]["instance-mask-ref"]).is_file()
    people = {line["source-ref"].rsplit("/", 1)[1]: len(line["gt-label"]["instances"]) for line in result}
    assert people == {"SSDB00010.JPG": 0, "SSDB00016.JPG": 2}
    # worker figures: null where nothing measured them (docs/output-format.md). M52… drew nothing on
    # either image: no precision and so no weight of its own, and it left out both people the two
    # others drew (recall 0 of 2). A person two of three drew is a chance to show recall for the third
    # worker only, so the two who drew them have no recall figure. JZU… drew one person nobody else
    # drew (precision 1 unconfirmed item shrunk toward the pooled 4 of 5: 0.64, keep weight 0.5).
    quality = {
        line["source-ref"].rsplit("/", 1)[1]: [
            (q["workerId"].removeprefix("public.us-east-1.")[:3], q["precision"], q["recall"], q["weight"])
            for q in line["gt-label"]["worker-quality"]
        ]
        for line in result
    }
    assert quality == {
        "SSDB00010.JPG": [("M52", None, 0.0, None), ("JZU", 0.64, None, 0.5), ("H7W", 0.8667, None, 1.0)],
        "SSDB00016.JPG": [("H7W", 0.8667, None, 1.0), ("M52", None, 0.0, None), ("QUE", 0.8667, None, 1.0)],
    }
    assert all(line["gt-label-metadata"]["worker-quality"] == line["gt-label"]["worker-quality"] for line in result)
    summary = json.loads((out / "summary.json").read_text())
    assert {k: summary[k] for k in ("lines", "consolidated", "passed-through", "failed")} == {
        "lines": 2,
        "consolidated": 2,
        "passed-through": 0,
        "failed": 0,
    }
    # a finished run is not redone
    written = (out / "output.manifest").stat().st_mtime_ns
    assert main(argv) == 0
    assert "nothing to do" in capsys.readouterr().err
    assert (out / "output.manifest").stat().st_mtime_ns == written


def _hand_made(tmp_path: Path) -> Path:
    """Four lines with known answers: three agreeing-ish workers; the same plus a broken answer; no
    Lambda (empty attribute, answers in a worker-response file); nobody answered."""
    answers = [
        ("w1", seg_content(["cd", "c."], LEGEND, COLOURS)),
        ("w2", seg_content(["cd", ".."], LEGEND, COLOURS, mode="RGBA")),
        ("w3", seg_content(["c.", "c."], LEGEND, COLOURS)),
    ]
    response = (
        tmp_path / "s3" / "job-bucket" / "job" / "annotations" / "worker-response" / "iteration-1" / "2" / "r.json"
    )
    response.parent.mkdir(parents=True)
    response.write_text(
        json.dumps(
            {"answers": [{"workerId": w, "answerContent": json.loads(c), "timeSpentInSeconds": 9} for w, c in answers]}
        )
    )
    no_lambda = {
        "source-ref": "s3://images/2.jpg",
        "pets": {},
        "pets-metadata": {
            "type": "groundtruth/custom",
            "worker-response-ref": "s3://job-bucket/job/annotations/worker-response/iteration-1/2/r.json",
        },
    }
    lines = [
        recipe_line("s3://images/0.jpg", "pets", answers),
        recipe_line("s3://images/1.jpg", "pets", [*answers, ("w4", "not json")]),
        no_lambda,
        recipe_line("s3://images/3.jpg", "pets", []),
    ]
    lines[0]["keep-me"] = {"any": "thing"}
    return write_manifest(tmp_path / "input.manifest", iter(lines))


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_semantic_segmentation_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str], jobs: str) -> None:
    source = _hand_made(tmp_path)
    out = tmp_path / "out"
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--labels", "dog,cat", "--out", str(out)]
    argv += ["--s3-root", str(tmp_path / "s3"), "--jobs", jobs, "--batch-size", "2"]
    assert main(argv) == 1  # the last line has no answer
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "warning: line 2, worker w4: answer rejected: content is not JSON",
        "warning: line 4: not consolidated: no annotations: no worker answered",
    ]
    assert "lines:            4 (3 consolidated, 0 passed through unconsolidated, 1 failed)" in captured.out
    result = _lines(out / "output.manifest")
    assert len(result) == 4
    assert result[0]["keep-me"] == {"any": "thing"}
    for line in result[:3]:
        label = line["pets"]
        assert label["internal-color-map"]["1"]["class-name"] == "dog"
        assert np.array_equal(read_mask(Path(label["mask-ref"]).read_bytes()), np.array([[2, 1], [2, 0]]))
        assert line["pets-metadata"]["type"] == "groundtruth/semantic-segmentation"
    assert result[1]["pets-metadata"]["rejected-answers"] == [{"workerId": "w4", "reason": "content is not JSON"}]
    assert "worker-response-ref" not in result[2]["pets-metadata"]
    assert result[3]["pets"] == {
        "type": "groundtruth/semantic-segmentation",
        "failure-reason": "no annotations: no worker answered",
    }
    assert not (out / ".output.manifest.partial").exists()


def test_processes_give_the_same_output_as_one(tmp_path: Path) -> None:
    source = write_manifest(tmp_path / "sim.manifest", segmentation_lines(6, seed=11, attr="street"))
    outputs = []
    for jobs in ("1", "2"):
        out = tmp_path / f"out-{jobs}"
        argv = ["reconsolidate", str(source), "--label-attribute", "street", "--labels", "road,car,person,sign"]
        assert main([*argv, "--out", str(out), "--jobs", jobs, "--batch-size", "2", "--confidence-maps"]) == 0
        outputs.append((out / "output.manifest").read_text().replace(str(out), "OUT"))
        assert len(list((out / "masks").glob("*.png"))) == 12  # mask and confidence map per line
    assert outputs[0] == outputs[1]


def test_interrupted_run_continues_where_it_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_manifest(tmp_path / "sim.manifest", segmentation_lines(5, seed=12, attr="street"))
    argv = ["reconsolidate", str(source), "--label-attribute", "street", "--labels", "road,car,person,sign"]
    argv += ["--jobs", "1", "--batch-size", "2"]
    reference = tmp_path / "reference"
    assert main([*argv, "--out", str(reference)]) == 0

    real = module.reconsolidate_lines
    calls: list[int] = []

    def interrupted(job: module.Job, first: int, lines: list[str], *args: Any) -> tuple[str, int]:
        calls.append(first)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(job, first, lines, *args)

    monkeypatch.setattr(module, "reconsolidate_lines", interrupted)
    out = tmp_path / "out"
    capsys.readouterr()
    assert main([*argv, "--out", str(out)]) == 130
    assert capsys.readouterr().err == "tally: interrupted; 2 of 5 lines done; run the same command again to continue\n"
    assert not (out / "output.manifest").exists()
    assert len((out / ".output.manifest.partial").read_text().splitlines()) == 2

    calls.clear()

    def counted(job: module.Job, first: int, lines: list[str], *args: Any) -> tuple[str, int]:
        calls.append(first)
        return real(job, first, lines, *args)

    def refit(*args: Any) -> Any:
        raise AssertionError("a resumed run refitted the job's model")

    monkeypatch.setattr(module, "reconsolidate_lines", counted)
    monkeypatch.setattr(module, "fit_job_model", refit)  # the model fitted before the interruption is kept
    assert main([*argv, "--out", str(out)]) == 0
    assert calls == [2, 4]  # the first batch is not done again
    assert capsys.readouterr().err == f"resuming the run in {out}: 2 of 5 lines done (the last pass)\n"
    assert (out / "output.manifest").read_text().replace(str(out), "X") == (
        (reference / "output.manifest").read_text().replace(str(reference), "X")
    )


def test_an_interrupted_first_pass_resumes_after_its_last_chunk(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = write_manifest(tmp_path / "sim.manifest", segmentation_lines(5, seed=12, attr="street"))
    argv = ["reconsolidate", str(source), "--label-attribute", "street", "--jobs", "1", "--batch-size", "2"]
    reference = tmp_path / "reference"
    assert main([*argv, "--out", str(reference)]) == 0

    real = module.first_pass_lines
    calls: list[int] = []

    def interrupted(job: module.Job, first: int, *args: Any) -> Any:
        calls.append(first)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(job, first, *args)

    monkeypatch.setattr(module, "first_pass_lines", interrupted)
    out = tmp_path / "out"
    capsys.readouterr()
    assert main([*argv, "--out", str(out)]) == 130
    assert capsys.readouterr().err == (
        "tally: interrupted; 2 of 5 lines surveyed (pass 1); run the same command again to continue\n"
    )
    calls.clear()
    fits: list[int] = []
    fit = fit_job_model

    def surveyed(job: module.Job, first: int, *args: Any) -> Any:
        calls.append(first)
        return real(job, first, *args)

    def counted(*args: Any) -> Any:
        fits.append(len(args[0]))
        return fit(*args)

    monkeypatch.setattr(module, "first_pass_lines", surveyed)
    monkeypatch.setattr(module, "fit_job_model", counted)
    assert main([*argv, "--out", str(out)]) == 0
    assert capsys.readouterr().err == f"resuming the run in {out}: 2 of 5 lines surveyed (pass 1)\n"
    assert (calls, fits) == ([2, 4], [5])  # one fit, on every line's summary
    assert not (out / ".reconsolidate-summaries.pickle").exists()
    assert (out / "output.manifest").read_text().replace(str(out), "X") == (
        (reference / "output.manifest").read_text().replace(str(reference), "X")
    )


def test_other_options_on_an_earlier_run_need_restart(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = _hand_made(tmp_path)
    out = tmp_path / "out"
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--out", str(out), "--jobs", "1"]
    argv += ["--s3-root", str(tmp_path / "s3")]
    assert main([*argv, "--labels", "dog,cat"]) == 1
    capsys.readouterr()
    assert main([*argv, "--labels", "cat,dog"]) == 2
    assert "holds a run with another source or options (labels)" in capsys.readouterr().err
    assert main([*argv, "--labels", "cat,dog", "--restart"]) == 1
    assert _lines(out / "output.manifest")[0]["pets"]["internal-color-map"]["1"]["class-name"] == "cat"


def test_bad_line_names_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "broken.manifest"
    source.write_text(json.dumps(recipe_line("s3://images/0.jpg", "pets", [])) + "\n{oops\n")
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--out", str(tmp_path / "out"), "--jobs", "1"]
    assert main(argv) == 3
    assert capsys.readouterr().err.startswith(f"Error: {source} line 2 is not valid JSON")


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["reconsolidate", str(STREETSCENES), "--label-attribute", "gt-label", "--out", str(tmp_path / "o")]
    assert main([*base, "--jobs", "0"]) == 2
    assert main([*base, "--batch-size", "-1"]) == 2
    assert not (tmp_path / "o").exists()


def test_s3_source_is_downloaded_once(tmp_path: Path, aws_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="gt-output")
        s3.put_object(Bucket="gt-output", Key="job/manifests/output/output.manifest", Body=STREETSCENES.read_bytes())
        out = tmp_path / "out"
        argv = ["reconsolidate", "s3://gt-output/job/manifests/output/output.manifest", "--label-attribute", "gt-label"]
        argv += ["--out", str(out), "--jobs", "1"]
        assert main(argv) == 0
        assert (out / ".source.manifest").read_bytes() == STREETSCENES.read_bytes()
        assert len(_lines(out / "output.manifest")) == 2
        summary = json.loads((out / "summary.json").read_text())
        assert summary["source"] == "s3://gt-output/job/manifests/output/output.manifest"
        s3.delete_object(Bucket="gt-output", Key="job/manifests/output/output.manifest")
        assert main(argv) == 0  # finished: nothing to do, nothing downloaded again
        assert "nothing to do" in capsys.readouterr().err
        assert main([*argv, "--restart"]) == 3
        assert capsys.readouterr().err == (
            "Error: cannot read s3://gt-output/job/manifests/output/output.manifest: ClientError\n"
        )


def test_job_output_prefix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A job's output prefix: answers from a consolidation-request payload (found by source), a job
    without a Lambda (empty attribute, worker-response-ref into the prefix) and a worker-response file
    found by the line's number."""
    answers = [
        ("w1", seg_content(["cd", "c."], LEGEND, COLOURS)),
        ("w2", seg_content(["cd", ".."], LEGEND, COLOURS, mode="RGBA")),
        ("w3", seg_content(["c.", "c."], LEGEND, COLOURS)),
    ]
    prefix = tmp_path / "job"
    requests = prefix / "annotations" / "consolidated-annotation" / "consolidation-request"
    (requests / "iteration-1").mkdir(parents=True)
    payload = [
        {
            "datasetObjectId": "7",
            "dataObject": {"s3Uri": "s3://images/a.jpg"},
            "annotations": [{"workerId": w, "annotationData": {"content": c}} for w, c in answers],
        }
    ]
    (requests / "iteration-1" / "2026-11-01_12:00:00.json").write_text(json.dumps(payload))
    response = {"answers": [{"workerId": w, "answerContent": json.loads(c)} for w, c in answers]}
    for object_id in ("1", "2"):
        folder = prefix / "annotations" / "worker-response" / "iteration-1" / object_id
        folder.mkdir(parents=True)
        (folder / "2026-11-01_12:00:00.json").write_text(json.dumps(response))
    manifest = prefix / "manifests" / "output" / "output.manifest"
    manifest.parent.mkdir(parents=True)
    lines: list[dict[str, Any]] = [
        {"source-ref": "s3://images/a.jpg", "pets": {"anything": "the old Lambda wrote"}, "pets-metadata": {}},
        {
            "source-ref": "s3://images/b.jpg",
            "pets": {},
            "pets-metadata": {
                "worker-response-ref": "s3://out/job/annotations/worker-response/iteration-1/1/2026-11-01_12:00:00.json"
            },
        },
        {"source-ref": "s3://images/c.jpg"},
        {"source-ref": "s3://images/d.jpg"},  # nothing anywhere
    ]
    write_manifest(manifest, iter(lines))
    out = tmp_path / "out"
    argv = ["reconsolidate", str(prefix), "--label-attribute", "pets", "--labels", "dog,cat", "--out", str(out)]
    assert main([*argv, "--jobs", "1", "--batch-size", "3"]) == 1
    assert "lines:            4 (3 consolidated, 0 passed through unconsolidated, 1 failed)" in capsys.readouterr().out
    result = _lines(out / "output.manifest")
    for line in result[:3]:
        mask = read_mask(Path(line["pets"]["mask-ref"]).read_bytes())
        assert np.array_equal(mask, np.array([[2, 1], [2, 0]]))
    assert result[3]["pets"] == {
        "type": "groundtruth/semantic-segmentation",
        "failure-reason": "no annotations: no worker answered",
    }
    assert [line["source-ref"] for line in result] == [line["source-ref"] for line in lines]


def test_worker_processes_print_nothing_of_their_own(tmp_path: Path) -> None:
    """Stderr of a two-process run (a real subprocess: worker output goes to the real stderr) holds
    only the command's own warnings, each naming line and worker once."""
    source = _hand_made(tmp_path)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'tally'}:{ROOT}"}
    argv = [sys.executable, "-m", "tally.tools.cli", "reconsolidate", str(source), "--label-attribute", "pets"]
    argv += ["--labels", "dog,cat", "--out", str(out), "--s3-root", str(tmp_path / "s3"), "--jobs", "2"]
    argv += ["--batch-size", "2", "--no-progress"]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "warning: line 2, worker w4: answer rejected: content is not JSON",
        "warning: line 4: not consolidated: no annotations: no worker answered",
    ]


def test_finished_run_whose_output_was_deleted_is_redone(tmp_path: Path) -> None:
    source = _hand_made(tmp_path)
    out = tmp_path / "out"
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--labels", "dog,cat", "--out", str(out)]
    argv += ["--s3-root", str(tmp_path / "s3"), "--jobs", "1"]
    assert main(argv) == 1
    first = (out / "output.manifest").read_text()
    (out / "output.manifest").unlink()
    assert main(argv) == 1
    assert (out / "output.manifest").read_text() == first


def _matching(tmp_path: Path, n: int = 1200, workers: int = 50, seed: int = 4) -> tuple[Path, np.ndarray]:
    """A product-matching job shaped like a real one, smaller: ``n`` pairs, 3 answers each."""
    crowd = matching_crowd(np.random.default_rng(seed), n, workers)
    return write_manifest(tmp_path / "matching.manifest", classification_lines(crowd, "same")), crowd.truth


def _accuracy(lines: list[dict[str, Any]], truth: np.ndarray) -> float:
    decided = np.array([MATCHING.index(line["same"]["class-name"]) for line in lines])
    return round(float(np.mean(decided == truth)), 4)


def test_worker_models_are_fitted_on_the_whole_job(tmp_path: Path) -> None:
    """Chunks of 100 lines give exactly what one batch of every line gives (each worker judged on every
    line they answered), clearly better than models fitted per chunk, where most workers are seen on
    two or three lines."""
    source, truth = _matching(tmp_path)
    argv = ["reconsolidate", str(source), "--label-attribute", "same", "--jobs", "1"]
    assert main([*argv, "--out", str(tmp_path / "chunks")]) == 0  # --batch-size 100: 12 chunks
    assert main([*argv, "--batch-size", "5000", "--out", str(tmp_path / "one")]) == 0
    chunked = (tmp_path / "chunks" / "output.manifest").read_text()
    assert chunked == (tmp_path / "one" / "output.manifest").read_text()
    job = module.Job("m", "same", None, Settings(), None, str(tmp_path / "masks"), datetime(2026, 1, 1, tzinfo=UTC))
    raw = source.read_text().splitlines(keepends=True)
    per_chunk = "".join(module.reconsolidate_lines(job, i, raw[i : i + 100])[0] for i in range(0, len(raw), 100))
    figures = (
        _accuracy(_lines(tmp_path / "chunks" / "output.manifest"), truth),
        _accuracy([json.loads(line) for line in per_chunk.splitlines()], truth),  # before: one model per chunk
    )
    assert figures == (0.9408, 0.9217)


def test_a_line_whose_answers_make_no_data_object_fails_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = [(w, json.dumps({"category": {"label": "cat"}})) for w in ("w1", "w2", "w3")]
    broken = recipe_line("s3://images/1.jpg", "pets", answers)
    del broken["pets"]["annotationsFromAllWorkers"][0]["workerId"]
    source = write_manifest(tmp_path / "in.manifest", iter([recipe_line("s3://images/0.jpg", "pets", answers), broken]))
    out = tmp_path / "out"
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--out", str(out), "--jobs", "1"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "warning: line 2: not consolidated: the answers do not make a data object: "
        "annotations.0.workerId: Field required",
    ]
    assert "masks:" not in captured.out and not (out / "masks").exists()  # classification writes none
    first, second = _lines(out / "output.manifest")
    assert first["pets"]["class-name"] == "cat"
    assert second["pets"] == {
        "type": "groundtruth/image-classification",  # the job's type, as every failure carries it
        "failure-reason": "the answers do not make a data object: annotations.0.workerId: Field required",
    }


def test_labels_and_colours_are_decided_once_for_the_whole_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a label list, every chunk gets the labels of the whole job (not only those its own
    lines use) and the same colours: class keys mean the same on every line."""
    only_dogs = [(w, seg_content(["dd", ".."], {"d": "dog"}, {"dog": "#00aa00"})) for w in ("w1", "w2", "w3")]
    both = [(w, seg_content(["cd", "c."], LEGEND, COLOURS)) for w in ("w1", "w2", "w3")]
    lines = [recipe_line("s3://images/0.jpg", "pets", only_dogs), recipe_line("s3://images/1.jpg", "pets", both)]
    source = write_manifest(tmp_path / "in.manifest", iter(lines))
    out = tmp_path / "out"
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--out", str(out), "--jobs", "1"]
    gathered: list[int] = []
    real = module.gather_lines

    def counted(job: module.Job, first: int, *args: Any) -> bytes:
        gathered.append(first)
        return real(job, first, *args)

    monkeypatch.setattr(module, "gather_lines", counted)
    assert main([*argv, "--batch-size", "1"]) == 0
    assert gathered == [0]  # only the chunk that lacks a label of the job is gathered again
    assert main([*argv, "--batch-size", "2", "--out", str(tmp_path / "one")]) == 0
    assert (out / "output.manifest").read_text().replace(str(out), "X") == (
        (tmp_path / "one" / "output.manifest").read_text().replace(str(tmp_path / "one"), "X")
    )
    maps = [
        {k: (v["class-name"], v["hex-color"]) for k, v in line["pets"]["internal-color-map"].items()}
        for line in _lines(out / "output.manifest")
    ]
    expected = {"0": ("BACKGROUND", "#ffffff"), "1": ("cat", "#123456"), "2": ("dog", "#00aa00")}
    assert maps == [expected, expected]  # dog: painted #00aa00 on 3 answers, #abcdef on 3: the first seen
    assert np.array_equal(
        read_mask(Path(_lines(out / "output.manifest")[0]["pets"]["mask-ref"]).read_bytes()), [[2, 2], [0, 0]]
    )


def test_help_says_what_is_consolidated(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reconsolidate", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "worker models are fitted once on every line" in text
    assert "instance segmentation" not in text  # it is consolidated, not passed through


def test_a_wrong_label_attribute_stops_before_writing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "X"
    argv = ["reconsolidate", str(STREETSCENES), "--label-attribute", "street", "--out", str(out), "--jobs", "1"]
    assert main(argv) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "Error: Invalid value for '--label-attribute': no line has `street` "
        "(keys: source-ref, gt-label, gt-label-17-metadata)"
    )
    assert not out.exists()


def test_a_missing_source_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["reconsolidate", str(tmp_path / "nothing.manifest"), "--label-attribute", "a", "--out", str(out)]
    assert main(argv) == 3
    assert capsys.readouterr().err == f"Error: cannot read {tmp_path / 'nothing.manifest'}: no such file\n"
    assert not out.exists()


def test_a_failed_start_does_not_lock_the_output_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad line stops the first pass before any output is written: once it is fixed, the same
    command runs (the source changed, but the earlier run had nothing to keep)."""
    good = json.dumps(recipe_line("s3://images/0.jpg", "pets", [("w1", json.dumps({"category": {"label": "cat"}}))]))
    source = tmp_path / "in.manifest"
    source.write_text(good + "\n{oops\n")
    out = tmp_path / "out"
    argv = ["reconsolidate", str(source), "--label-attribute", "pets", "--out", str(out), "--jobs", "1"]
    assert main(argv) == 3
    assert capsys.readouterr().err.startswith(f"Error: {source} line 2 is not valid JSON")
    source.write_text(good + "\n" + good + "\n")
    assert main(argv) == 0
    assert len(_lines(out / "output.manifest")) == 2
    assert "holds a run" not in capsys.readouterr().err


def _match_accuracy(lines: list[dict[str, Any]], truth: np.ndarray) -> float:
    decided = np.array([MATCHING.index(line["same"]["fields"]["match"]["value"]) for line in lines])
    return round(float(np.mean(decided == truth)), 4)


@pytest.mark.parametrize("template", [True, False], ids=["template", "inferred"])
def test_a_forms_fields_are_fitted_on_the_whole_job(tmp_path: Path, template: bool) -> None:
    """A form (a select, a slider, a text box) of 600 product pairs, 50 workers each seen on a few lines
    per chunk: chunks of 100 give exactly one batch's output (every field's model fitted on the whole
    job), and the select's accuracy beats models fitted per chunk. With the template the fields are
    read from it; without, every chunk infers them and the job's labels are every chunk's."""
    crowd = matching_crowd(np.random.default_rng(4), 600, 50)
    source = write_manifest(tmp_path / "form.manifest", form_lines(crowd, "same"))
    (tmp_path / "form.html").write_text(MATCHING_FORM)
    extra = ["--template", str(tmp_path / "form.html")] if template else []
    argv = ["reconsolidate", str(source), "--label-attribute", "same", "--jobs", "1", *extra]
    assert main([*argv, "--out", str(tmp_path / "chunks")]) == 0  # --batch-size 100: 6 chunks
    assert main([*argv, "--batch-size", "5000", "--out", str(tmp_path / "one")]) == 0
    chunked = (tmp_path / "chunks" / "output.manifest").read_text()
    assert chunked == (tmp_path / "one" / "output.manifest").read_text()
    lines = _lines(tmp_path / "chunks" / "output.manifest")
    consolidated = Counter(tuple(line["same-metadata"]["fields-consolidated"]) for line in lines)
    assert consolidated == {("match", "note", "sure"): 415, ("match", "sure"): 185}  # no note where nobody wrote one
    assert lines[0]["same"]["schema-source"] == ("template" if template else "inferred")
    job = module.Job("m", "same", None, Settings(), None, str(tmp_path / "masks"), datetime(2026, 1, 1, tzinfo=UTC),
                     template=MATCHING_FORM if template else None)  # fmt: skip
    raw = source.read_text().splitlines(keepends=True)
    per_chunk = "".join(module.reconsolidate_lines(job, i, raw[i : i + 100])[0] for i in range(0, len(raw), 100))
    figures = (
        _match_accuracy(lines, crowd.truth),
        _match_accuracy([json.loads(line) for line in per_chunk.splitlines()], crowd.truth),  # one model per chunk
    )
    assert figures == (0.9417, 0.9183)


def test_a_chunk_whose_form_lacks_an_option_is_gathered_again(tmp_path: Path) -> None:
    """Inferred from the answers, the first chunk's select has one option only (nobody there answered
    "match"): its summaries are gathered again under the job's two options, and the output is one
    batch's."""
    crowd = matching_crowd(np.random.default_rng(6), 300, 30)
    lines = list(form_lines(crowd, "same"))
    for line in lines[:100]:
        for answer in line["same"]["annotationsFromAllWorkers"]:
            content = json.loads(answer["annotationData"]["content"])
            answer["annotationData"]["content"] = json.dumps({**content, "match": "no match"})
    source = write_manifest(tmp_path / "form.manifest", iter(lines))
    argv = ["reconsolidate", str(source), "--label-attribute", "same", "--jobs", "1"]
    assert main([*argv, "--out", str(tmp_path / "chunks")]) == 0
    assert main([*argv, "--batch-size", "5000", "--out", str(tmp_path / "one")]) == 0
    assert (tmp_path / "chunks" / "output.manifest").read_text() == (tmp_path / "one" / "output.manifest").read_text()
    state = json.loads((tmp_path / "chunks" / ".reconsolidate.json").read_text())
    assert state["regather"] == [0]


def test_a_form_field_whose_job_model_cannot_be_fitted_is_kept_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole job's model of the slider and of the select fails to fit: both fields keep every
    worker's value on every line with that reason (not "no worker gave a value", not an internal
    error per line), and so does the note (inferred from the answers: a choice)."""
    import tally.tasks.classification.adapter as classification
    import tally.tasks.fields as fields_module

    fit_on = fields_module.PreparedField.fit_on

    def number_fails(self: Any, summaries: Any, prior: Any = None) -> Any:
        if self.kind == "number":
            raise MemoryError("simulated")
        return fit_on(self, summaries, prior)

    def choice_fails(self: Any, summaries: Any, job: Any) -> Any:
        raise MemoryError("simulated")

    monkeypatch.setattr(fields_module.PreparedField, "fit_on", number_fails)
    monkeypatch.setattr(classification.SingleLabelClassification, "fit", choice_fails)
    crowd = matching_crowd(np.random.default_rng(4), 60, 10)
    source = write_manifest(tmp_path / "form.manifest", form_lines(crowd, "same"))
    argv = ["reconsolidate", str(source), "--label-attribute", "same", "--jobs", "1", "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    lines = _lines(tmp_path / "out" / "output.manifest")
    given = [json.loads(line) for line in source.read_text().splitlines()]
    reason = "not consolidated: the job's model could not be fitted"
    for line, source_line in zip(lines, given, strict=True):
        answers = [
            (a["workerId"], json.loads(a["annotationData"]["content"]))
            for a in source_line["same"]["annotationsFromAllWorkers"]
        ]
        fields = line["same"]["fields"]
        assert fields["sure"] == {"kind": "number", "consolidated": False, "reason": reason,
                                  "answers": [{"workerId": w, "value": c["sure"]} for w, c in answers]}  # fmt: skip
        assert fields["match"] == {"kind": "single-choice", "consolidated": False, "reason": reason,
                                   "answers": [{"workerId": w, "value": c["match"]} for w, c in answers]}  # fmt: skip
        assert line["same-metadata"]["fields-kept-as-given"] == sorted(fields)
        assert {entry["reason"] for entry in fields.values()} == {reason}
        assert ("note" in fields) == any("note" in c for _, c in answers)
