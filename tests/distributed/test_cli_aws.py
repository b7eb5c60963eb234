"""``tally reconsolidate SOURCE --on aws`` under moto: the stack's state machine found, the execution
started with nothing uploaded, progress from the Map runs, today's exit codes, the manifest's place;
Ctrl-C leaves the execution running and says how to follow or stop it.

moto keeps executions (and starts none of the ASL's Distributed Maps); the tests play the service's
part: the local runner (tests/distributed/sfn_runner.py) runs the real definition and function on the
execution's input, and the execution is marked as AWS would mark it."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import numpy as np
import pytest
from botocore.stub import Stubber
from moto.stepfunctions.models import StepFunctionBackend, stepfunctions_backends

from tally import aws
from tally.errors import StorageError
from tally.tools.cli import main
from tests.distributed.sfn_runner import LocalStepFunctions, MapFailed
from tests.distributed.support import BUCKET, Job, definition
from tests.sim.classification import matching_crowd
from tests.sim.manifests import MATCHING, classification_lines, recipe_line

SOURCE = f"s3://{BUCKET}/job/manifests/output/output.manifest"
ROOT = f"s3://{BUCKET}/tally-reconsolidated"


@pytest.fixture
def machine(job: Job, monkeypatch: pytest.MonkeyPatch) -> str:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = sfn.create_state_machine(
        name="tally-Reconsolidation-1234abcd",
        definition=json.dumps(definition()),
        roleArn="arn:aws:iam::123456789012:role/tally-sfn",
    )["stateMachineArn"]
    assert isinstance(arn, str)
    outputs = {"ReconsolidationStateMachineArn": arn, "ReconsolidationOutput": ROOT}
    monkeypatch.setattr(aws, "stack_outputs", lambda stack, client=None: outputs if stack == "tally" else {})
    return arn


def _backend() -> Any:
    return stepfunctions_backends["123456789012"]["us-east-1"]


def _executions(machine: str) -> list[Any]:
    executions: list[Any] = _backend().describe_state_machine(machine).executions
    return executions


def _as_aws(job: Job, monkeypatch: pytest.MonkeyPatch, machine: str, **runner: Any) -> list[float]:
    """The service: at the command's first wait, run the execution's definition on its input and mark
    the execution as it ended; Map runs as the runner counted them. Returns the waits."""
    waits: list[float] = []
    runs: list[dict[str, Any]] = []
    listed = {"mapRuns": [{"mapRunArn": r["mapRunArn"]} for r in runs]}
    monkeypatch.setattr(StepFunctionBackend, "list_map_runs", lambda self, arn: listed)
    monkeypatch.setattr(
        StepFunctionBackend, "describe_map_run", lambda self, arn: next(r for r in runs if r["mapRunArn"] == arn)
    )

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        execution = _executions(machine)[0]
        engine = LocalStepFunctions(definition(), job.invoke, job.s3, **runner)
        try:
            output = engine.run(json.loads(execution.execution_input))
            execution.status, execution.output = "SUCCEEDED", json.dumps(output)
        except MapFailed as exc:
            execution.status, execution.error, execution.cause = (
                "FAILED",
                "States.ExceedToleratedFailureThreshold",
                str(exc),
            )
        runs.extend(engine.map_runs)
        listed["mapRuns"] = [{"mapRunArn": r["mapRunArn"], "executionArn": execution.execution_arn} for r in runs]
        execution.stop_date = execution.start_date

    monkeypatch.setattr(time, "sleep", sleep)
    return waits


def test_a_run_on_aws(
    job: Job, machine: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    crowd = matching_crowd(np.random.default_rng(2), n_objects=240, n_workers=20)
    job.put_manifest(list(classification_lines(crowd, "same")))
    waits = _as_aws(job, monkeypatch, machine)
    argv = ["reconsolidate", SOURCE, "--label-attribute", "same", "--on", "aws", "--batch-size", "50", "--progress"]
    argv += ["--labels", ",".join(MATCHING)]
    assert main(argv) == 0
    assert waits == [5.0]
    captured = capsys.readouterr()
    (execution,) = _executions(machine)
    assert captured.err.startswith(f"started {execution.execution_arn}\n")
    for shown in ("surveying (pass 1)", "reconsolidating", "5/5"):
        assert shown in captured.err
    run = f"{ROOT}/{execution.name}"
    assert execution.name.startswith("same-")
    assert [line for line in captured.out.splitlines() if not line.startswith("{")] == [
        "lines:            240 (240 consolidated, 0 passed through unconsolidated, 0 failed)",
        "answers rejected: 0",
        f"mean confidence:  {json.loads(execution.output)['mean-confidence']:.3f}",
        f"output manifest:  {run}/output.manifest",
        f"summary:          {run}/summary.json",
    ]
    sent = json.loads(execution.execution_input)
    prefix = f"tally-reconsolidated/{execution.name}"
    assert sent == {
        "labelAttribute": "same",
        "output": {"Bucket": BUCKET, "Prefix": prefix, "Results": f"{prefix}/results"},
        "batchSize": 50,
        "maxConcurrency": 300,
        "options": {"labels": MATCHING},
        "source": {"Bucket": BUCKET, "Key": "job/manifests/output/output.manifest"},
    }
    uploaded = {o["Key"] for o in job.s3.list_objects_v2(Bucket=BUCKET, Prefix="job/")["Contents"]}
    assert uploaded == {"job/manifests/output/output.manifest"}  # nothing uploaded
    assert len(job.read(f"{prefix}/output.manifest").decode().splitlines()) == 240


def test_failed_lines_exit_1_and_are_named(job: Job, machine: str, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    answers = [(w, json.dumps({"category": {"label": "cat"}})) for w in ("w1", "w2")]
    job.put_manifest([recipe_line(f"s3://images/{i}.jpg", "pets", answers if i != 1 else []) for i in range(3)])
    _as_aws(job, monkeypatch, machine)
    out = f"{ROOT}/mine"
    argv = ["reconsolidate", SOURCE, "--label-attribute", "pets", "--on", "aws", "--out", out, "--labels", "cat,dog"]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "warning: line 2: not consolidated: no annotations: no worker answered" in captured.err
    assert f"output manifest:  {out}/output.manifest" in captured.out
    assert json.loads(_executions(machine)[0].execution_input)["options"] == {"labels": ["cat", "dog"]}


def test_a_failed_execution_exits_3(job: Job, machine: str, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    answers = [(w, json.dumps({"category": {"label": "cat"}})) for w in ("w1", "w2")]
    job.put_manifest([recipe_line(f"s3://images/{i}.jpg", "pets", answers) for i in range(3)])
    _as_aws(job, monkeypatch, machine, fail_child=lambda state, child: state == "Survey")
    assert main(["reconsolidate", SOURCE, "--label-attribute", "pets", "--on", "aws", "--labels", "cat"]) == 3
    assert capsys.readouterr().err.splitlines()[-1] == (
        "Error: the execution FAILED (States.ExceedToleratedFailureThreshold): Survey: 1 of 1 children failed"
    )


def test_ctrl_c_leaves_the_execution_running(job: Job, machine: str, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    job.put_manifest([recipe_line("s3://images/0.jpg", "pets", [])])

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(time, "sleep", interrupted)
    assert main(["reconsolidate", SOURCE, "--label-attribute", "pets", "--on", "aws"]) == 130
    (execution,) = _executions(machine)
    assert execution.status == "RUNNING"
    arn = execution.execution_arn
    assert capsys.readouterr().err.splitlines()[-3:] == [
        f"tally: interrupted; the execution goes on without you; its manifest will be "
        f"{ROOT}/{execution.name}/output.manifest",
        f"  follow it: aws stepfunctions describe-execution --execution-arn {arn}",
        f"  stop it:   aws stepfunctions stop-execution --execution-arn {arn}",
    ]


def test_usage_and_input_errors(job: Job, machine: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["reconsolidate", "--label-attribute", "pets", "--on", "aws"]
    local = tmp_path / "x.manifest"
    local.write_text("{}\n")
    assert main([*base, str(local)]) == 2  # nothing is uploaded: SOURCE must be on S3
    assert main([*base, SOURCE, "--out", f"s3://{BUCKET}/elsewhere"]) == 2  # the role writes only under the root
    assert main([*base, SOURCE]) == 3  # no such object
    assert main([*base, SOURCE, "--stack", "other"]) == 3
    err = capsys.readouterr().err
    assert "SOURCE must be an s3:// URI" in err
    assert f"--out must be a folder under {ROOT}/" in err
    assert f"cannot read {SOURCE}: no such object" in err
    assert "the stack other has no reconsolidation state machine: deploy it with Reconsolidation=true" in err
    assert not _executions(machine)


def test_a_job_without_a_manifest_is_listed(job: Job, machine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job's output prefix (ending with /): its worker-response objects, the latest iteration of each."""
    for object_id, iteration, label in (("0", 1, "cat"), ("1", 1, "dog"), ("1", 2, "cat"), ("10", 1, "dog")):
        answers = [{"workerId": w, "answerContent": {"category": {"label": label}}} for w in ("w1", "w2", "w3")]
        key = f"job/annotations/worker-response/iteration-{iteration}/{object_id}/2026-01-01_00:00:00.json"
        job.s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps({"answers": answers}).encode())
    _as_aws(job, monkeypatch, machine)
    argv = ["reconsolidate", f"s3://{BUCKET}/job/", "--label-attribute", "pets", "--on", "aws", "--labels", "cat,dog"]
    assert main(argv) == 0
    (execution,) = _executions(machine)
    lines = [json.loads(x) for x in job.read(f"tally-reconsolidated/{execution.name}/output.manifest").splitlines()]
    assert [(line["datasetObjectId"], line["pets"]["class-name"]) for line in lines] == [
        ("0", "cat"),
        ("1", "cat"),
        ("10", "dog"),
    ]
    joined = [json.loads(x) for x in job.read(f"tally-reconsolidated/{execution.name}/source.manifest").splitlines()]
    assert [line["pets-metadata"]["worker-response-ref"].split("/worker-response/")[1] for line in joined] == [
        "iteration-1/0/2026-01-01_00:00:00.json",
        "iteration-2/1/2026-01-01_00:00:00.json",
        "iteration-1/10/2026-01-01_00:00:00.json",
    ]


STACK = {
    "StackName": "tally",
    "CreationTime": "2026-01-01T00:00:00Z",
    "StackStatus": "CREATE_COMPLETE",
    "Outputs": [{"OutputKey": "ReconsolidationOutput", "OutputValue": ROOT}],
}


def test_stack_outputs_are_read_from_cloudformation() -> None:
    client = boto3.client("cloudformation", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "describe_stacks",
            {"Stacks": [STACK]},
            {"StackName": "tally"},
        )
        stub.add_client_error("describe_stacks", "ValidationError", "Stack with id gone does not exist")
        assert aws.stack_outputs("tally", client) == {"ReconsolidationOutput": ROOT}
        with pytest.raises(StorageError, match="cannot describe the stack gone: ValidationError"):
            aws.stack_outputs("gone", client)
