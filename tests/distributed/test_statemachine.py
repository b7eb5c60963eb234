"""The state machine end to end, through the local runner (tests/distributed/sfn_runner.py) and the
reconsolidation function on S3 under moto: the output is exactly ``tally reconsolidate``'s for every
task type; failed batches are reported line by line; retried children count once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tally.gt.response import creation_date
from tally.tools.cli import main
from tests.distributed.sfn_runner import MapFailed
from tests.distributed.support import BUCKET, FUNCTION, RUN, Job
from tests.helpers import seg_content
from tests.sim.batches import BUILDERS
from tests.sim.classification import matching_crowd
from tests.sim.manifests import MATCHING, classification_lines, form_lines, recipe_line


def _recipe(payload: list[dict[str, Any]], attr: str) -> list[dict[str, Any]]:
    """A consolidation payload as a recipe job's output manifest (every answer under the attribute)."""
    lines = []
    for element in payload:
        data = element["dataObject"]
        line = recipe_line(data.get("s3Uri", ""), attr, [])
        if "s3Uri" not in data:
            del line["source-ref"]
            line = {"source": data["content"], **line}
        line[attr]["annotationsFromAllWorkers"] = element["annotations"]
        lines.append(line)
    return lines


def _local(source: Path, out: Path, attr: str, *extra: str) -> int:
    argv = ["reconsolidate", str(source), "--label-attribute", attr, "--out", str(out), "--jobs", "1", *extra]
    return main(argv)


def _same_as_local(job: Job, out: Path) -> str:
    """The distributed output.manifest, checked equal to the local one (mask references aside: local
    paths there, S3 URIs here) and every mask byte for byte; returns it."""
    remote = job.read(f"{RUN}/output.manifest").decode()
    local = (out / "output.manifest").read_text()
    assert remote.replace(f"s3://{BUCKET}/{RUN}/masks", "MASKS") == local.replace(str(out / "masks"), "MASKS")
    masks = sorted(p for p in (out / "masks").rglob("*") if p.is_file()) if (out / "masks").is_dir() else []
    for path in masks:
        assert job.read(f"{RUN}/masks/{path.relative_to(out / 'masks')}") == path.read_bytes()
    listed = job.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{RUN}/masks/").get("KeyCount", 0)
    assert listed == len(masks)
    return remote


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_every_task_type_gives_what_tally_reconsolidate_gives(job: Job, tmp_path: Path, kind: str) -> None:
    """Batches of 3 lines on AWS, chunks of 2 on one machine: the same lines, labels and masks."""
    payload, labels = BUILDERS[kind](np.random.default_rng(7), 8, 4)
    source = job.put_manifest(_recipe(payload, "label"))
    execution = job.execution_input("label", 3, labels=labels)
    summary, runner = job.run(execution)
    extra = ["--batch-size", "2", *(["--labels", json.dumps(labels)] if labels else [])]
    code = _local(source, tmp_path / "local", "label", *extra)
    assert code == 0
    text = _same_as_local(job, tmp_path / "local")
    local_summary = json.loads((tmp_path / "local" / "summary.json").read_text())
    for key in ("lines", "consolidated", "failed", "passed-through", "answers-rejected", "mean-confidence"):
        assert summary[key] == local_summary[key]
    types = {json.loads(line)["label-metadata"]["type"] for line in text.splitlines()}
    assert summary["task-types"] == {types.pop(): 8}
    assert summary["output-manifest"] == f"s3://{BUCKET}/{RUN}/output.manifest"
    learns = kind not in {"pass-through"}
    assert runner.children == {"Survey": 3, "Consolidate": 3}
    assert runner.visited == ["HasManifest", "Survey", "Plan", "NeedsGather", *(["Fit"] if learns else []),
                              "Consolidate", "Finish"]  # fmt: skip
    written = json.loads(job.read(f"{RUN}/summary.json"))
    assert {k: written[k] for k in summary if k in written} == {k: v for k, v in summary.items() if k in written}


def test_batches_that_lack_a_label_are_gathered_again(job: Job, tmp_path: Path) -> None:
    """Labels inferred from the answers: the batch whose own answers lack "cat" chose other class keys
    and is gathered again with the job's; the other batch is skipped by the gather pass."""
    legend, colours = {"c": "cat", "d": "dog"}, {"cat": "#123456", "dog": "#abcdef"}
    only_dogs = [(w, seg_content(["dd", ".."], {"d": "dog"}, {"dog": "#00aa00"})) for w in ("w1", "w2", "w3")]
    both = [(w, seg_content(["cd", "c."], legend, colours)) for w in ("w1", "w2", "w3")]
    lines = [recipe_line(f"s3://images/{i}.jpg", "pets", only_dogs if i < 2 else both) for i in range(4)]
    source = job.put_manifest(lines)
    summary, runner = job.run(job.execution_input("pets", 2))
    assert runner.visited == ["HasManifest", "Survey", "Plan", "NeedsGather", "Gather", "Fit", "Consolidate", "Finish"]
    gathered = [p for p in job.invocations if p.get("BatchInput", {}).get("step") == "gather"]
    assert len(gathered) == 2
    assert _local(source, tmp_path / "local", "pets", "--batch-size", "1") == 0
    _same_as_local(job, tmp_path / "local")
    assert summary["consolidated"] == 4
    parts = job.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{RUN}/parts/gather/")["Contents"]
    assert [p["Key"].rsplit("/", 1)[1] for p in parts] == ["000000000000.pickle"]


def _accuracy(text: str, truth: np.ndarray) -> float:
    decided = np.array([MATCHING.index(json.loads(line)["same"]["class-name"]) for line in text.splitlines()])
    return round(float(np.mean(decided == truth)), 4)


def test_the_worker_model_is_the_whole_jobs(job: Job, tmp_path: Path) -> None:
    """A simulated product-matching crowd (workers of differing accuracy, bias and activity) in batches
    of 100 lines: the one-batch answer, not the per-batch one."""
    crowd = matching_crowd(np.random.default_rng(5), n_objects=1200, n_workers=60)
    source = job.put_manifest(list(classification_lines(crowd, "same")))
    job.run(job.execution_input("same", 100))
    assert _local(source, tmp_path / "one", "same", "--batch-size", "5000") == 0
    text = _same_as_local(job, tmp_path / "one")
    assert _accuracy(text, crowd.truth) == _accuracy((tmp_path / "one" / "output.manifest").read_text(), crowd.truth)


def test_a_failed_batch_is_reported_line_by_line(job: Job) -> None:
    """A child that fails on AWS (a timeout) costs its lines, each with the reason; the others are
    consolidated, and the manifest keeps every line in order."""
    answers = [(w, json.dumps({"category": {"label": "cat"}})) for w in ("w1", "w2", "w3")]
    lines = [recipe_line(f"s3://images/{i}.jpg", "pets", answers) for i in range(5)]
    job.put_manifest(lines)

    def fail(state: str, child: dict[str, Any]) -> bool:
        return state == "Consolidate" and child["Items"][0]["index"] == 2

    summary, _ = job.run(job.execution_input("pets", 2), fail_child=fail)
    assert {k: summary[k] for k in ("lines", "consolidated", "failed")} == {"lines": 5, "consolidated": 3, "failed": 2}
    result = [json.loads(line) for line in job.read(f"{RUN}/output.manifest").decode().splitlines()]
    assert [line["source-ref"] for line in result] == [f"s3://images/{i}.jpg" for i in range(5)]
    reason = "its batch failed on AWS (Lambda.Unknown); reconsolidate again"
    assert [line["pets-metadata"].get("failure-reason") for line in result] == [None, None, reason, reason, None]
    assert result[2]["pets"] == {"type": "groundtruth/image-classification", "failure-reason": reason}
    written = json.loads(job.read(f"{RUN}/summary.json"))
    assert written["messages"] == [f"line {n}: not consolidated: {reason}" for n in (3, 4)]


def test_a_line_that_makes_no_object_fails_alone(job: Job) -> None:
    """A line that is not a JSON object, one whose worker-response file is missing and one whose answers
    lack a worker: each fails with its reason (the local command stops on the first two: exit 3); the
    batch's other lines are consolidated."""
    answers = [(w, json.dumps({"category": {"label": "cat"}})) for w in ("w1", "w2", "w3")]
    lines: list[Any] = [recipe_line(f"s3://images/{i}.jpg", "pets", answers) for i in range(3)]
    lines[1] = ["not", "an", "object"]
    missing = {"source-ref": "s3://images/3.jpg", "pets": {},
               "pets-metadata": {"worker-response-ref": f"s3://{BUCKET}/job/worker-response/3.json"}}  # fmt: skip
    no_worker = recipe_line("s3://images/4.jpg", "pets", answers)
    del no_worker["pets"]["annotationsFromAllWorkers"][0]["workerId"]
    job.put_manifest([*lines, missing, no_worker])
    summary, _ = job.run(job.execution_input("pets", 5))
    assert {k: summary[k] for k in ("lines", "consolidated", "failed")} == {"lines": 5, "consolidated": 2, "failed": 3}
    result = [json.loads(line) for line in job.read(f"{RUN}/output.manifest").decode().splitlines()]
    assert result[1]["line"] == ["not", "an", "object"]
    assert [line["pets-metadata"].get("failure-reason") for line in result] == [
        None,
        "the line is not a JSON object",
        None,
        f"cannot read s3://{BUCKET}/job/worker-response/3.json: NoSuchKey",
        "the answers do not make a data object: annotations.0.workerId: Field required",
    ]


def test_a_failed_survey_batch_stops_the_run(job: Job) -> None:
    """The job's model needs every batch: the survey tolerates no failure."""
    answers = [(w, json.dumps({"category": {"label": "cat"}})) for w in ("w1", "w2")]
    job.put_manifest([recipe_line(f"s3://images/{i}.jpg", "pets", answers) for i in range(3)])
    with pytest.raises(MapFailed, match="Survey: 1 of 2 children failed"):
        job.run(
            job.execution_input("pets", 2),
            fail_child=lambda state, child: state == "Survey" and len(child["Items"]) == 1,
        )


def test_the_source_is_read_for_its_date_once(job: Job, monkeypatch: pytest.MonkeyPatch) -> None:
    """The outputs' creation-date is the source's time: the Plan step reads it (one HEAD) and passes it
    along the plan to every Consolidate child and to Finish, which do not read it again."""
    from tally.aws import S3Storage

    asked: list[str] = []
    modified = S3Storage.modified

    def counted(self: S3Storage, uri: str) -> Any:
        asked.append(uri)
        return modified(self, uri)

    monkeypatch.setattr(S3Storage, "modified", counted)
    answers = [(w, json.dumps({"category": {"label": "cat"}})) for w in ("w1", "w2", "w3")]
    job.put_manifest([recipe_line(f"s3://images/{i}.jpg", "pets", answers) for i in range(5)])

    def fail(state: str, child: dict[str, Any]) -> bool:
        return state == "Consolidate" and child["Items"][0]["index"] == 2

    summary, runner = job.run(job.execution_input("pets", 2), fail_child=fail)
    assert runner.children["Consolidate"] == 3 and summary["failed"] == 2  # Finish writes the failed lines
    assert asked == [f"s3://{BUCKET}/job/manifests/output/output.manifest"]
    stamp = job.s3.head_object(Bucket=BUCKET, Key="job/manifests/output/output.manifest")["LastModified"]
    dates = {
        json.loads(line)["pets-metadata"]["creation-date"] for line in job.read(f"{RUN}/output.manifest").splitlines()
    }
    assert dates == {creation_date(stamp)}


def test_a_retried_child_counts_once(job: Job) -> None:
    """Lambda retried inside a child (or a child run twice): its part is written again with the same
    bytes and the ResultWriter lists the child once, so the model and the output do not change."""
    crowd = matching_crowd(np.random.default_rng(3), n_objects=300, n_workers=30)
    job.put_manifest(list(classification_lines(crowd, "same")))
    job.run(job.execution_input("same", 50))
    first = job.read(f"{RUN}/output.manifest")
    model = job.read(f"{RUN}/model.pickle")
    survey_batch = next(p for p in job.invocations if p.get("BatchInput", {}).get("step") == "survey")
    part = f"{RUN}/parts/survey/000000000000.pickle"
    before = job.read(part)
    job.invoke(FUNCTION, survey_batch)
    assert job.read(part) == before
    for payload in [p for p in job.invocations if p.get("step") in ("fit", "finish")]:
        job.invoke(FUNCTION, payload)
    assert job.read(f"{RUN}/model.pickle") == model
    assert job.read(f"{RUN}/output.manifest") == first


def test_a_form_is_fitted_on_the_whole_job_as_locally(job: Job, tmp_path: Path) -> None:
    """A form (a select, a slider, a text box; inferred from the answers) in batches of 100 lines on AWS:
    the same bytes as ``tally reconsolidate`` in one chunk, each field's model fitted on the whole job."""
    crowd = matching_crowd(np.random.default_rng(5), n_objects=300, n_workers=40)
    source = job.put_manifest(list(form_lines(crowd, "same")))
    summary, runner = job.run(job.execution_input("same", 100))
    assert _local(source, tmp_path / "one", "same", "--batch-size", "5000") == 0
    text = _same_as_local(job, tmp_path / "one")
    assert "Fit" in runner.visited
    assert (summary["consolidated"], summary["passed-through"]) == (300, 0)
    assert {json.loads(line)["same-metadata"]["type"] for line in text.splitlines()} == {"groundtruth/custom"}
