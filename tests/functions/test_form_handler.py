"""A form through the consolidation Lambda: the worker template found through DescribeLabelingJob
(HumanTaskConfig.UiConfig.UiTemplateS3Uri) and read from the job's bucket, or the form inferred and the
label saying why; per-field metrics."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tally import aws
from tally.aws import S3Storage, read_job_template
from tests.functions.s3 import put
from tests.project import FakeContext

GALLERY = Path(__file__).resolve().parents[1] / "fixtures" / "gt-templates"
NER = "named-entity-recognition-with-additional-classification"
PAYLOAD = "s3://gt-job-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/batch.json"
TEMPLATE_URI = "s3://gt-job-bucket/job/template.liquid.html"
ATTR = "subject"


def describe(template_uri: str | None) -> dict[str, Any]:
    now = datetime.datetime(2026, 1, 1)
    ui = (
        {"UiTemplateS3Uri": template_uri} if template_uri else {"HumanTaskUiArn": "arn:aws:sagemaker:::human-task-ui/x"}
    )
    return {
        "LabelingJobStatus": "InProgress",
        "LabelCounters": {},
        "CreationTime": now,
        "LastModifiedTime": now,
        "JobReferenceCode": "x",
        "LabelingJobName": "ner",
        "LabelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/ner",
        "LabelAttributeName": ATTR,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://gt/in.manifest"}}},
        "OutputConfig": {"S3OutputPath": "s3://gt/out"},
        "RoleArn": "arn:aws:iam::111122223333:role/gt",
        "HumanTaskConfig": {
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/t",
            "UiConfig": ui,
            "PreHumanTaskLambdaArn": "arn:aws:lambda:us-east-1:111122223333:function:pre",
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 300,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": "arn:aws:lambda:us-east-1:111122223333:function:acs"
            },
        },
    }


def test_the_template_is_read_from_the_jobs_description(s3: Any) -> None:
    put(s3, TEMPLATE_URI, b"<crowd-form><crowd-input name='c'></crowd-input></crowd-form>")
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    arn = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/ner"
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_labeling_job", describe(TEMPLATE_URI), {"LabelingJobName": "ner"})
        assert read_job_template(sagemaker, S3Storage(s3), arn) == (
            "<crowd-form><crowd-input name='c'></crowd-input></crowd-form>",
            None,
        )
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_labeling_job", describe(None), {"LabelingJobName": "ner"})
        assert read_job_template(sagemaker, S3Storage(s3), arn) == (
            None,
            "the job's worker template is not an S3 object (UiTemplateS3Uri): none was read",
        )
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "describe_labeling_job", describe("s3://gt-job-bucket/missing.html"), {"LabelingJobName": "ner"}
        )
        assert read_job_template(sagemaker, S3Storage(s3), arn) == (
            None,
            "the job's worker template was not read (NoSuchKey)",
        )
    with Stubber(sagemaker) as stub:
        stub.add_client_error("describe_labeling_job", "AccessDeniedException")
        assert read_job_template(sagemaker, S3Storage(s3), arn) == (
            None,
            "the job's worker template was not read (DescribeLabelingJob: AccessDeniedException)",
        )


def test_the_labels_and_the_template_share_one_description_per_job(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    put(s3, TEMPLATE_URI, b"<crowd-form><crowd-classifier name='c'></crowd-classifier></crowd-form>")
    put(s3, "s3://gt-job-bucket/job/labels.json", b'{"labels": [{"label": "tech"}, {"label": "politics"}]}')
    described = {**describe(TEMPLATE_URI), "LabelCategoryConfigS3Uri": "s3://gt-job-bucket/job/labels.json"}
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    made: list[str] = []
    real_client = aws._client

    def client(session: Any, service: str) -> Any:
        made.append(service)
        return sagemaker if service == "sagemaker" else real_client(session, service)

    monkeypatch.setattr(aws, "_client", client)  # the job's caches start empty (tests/conftest.py)
    session, arn = aws.own_session(), "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/ner-described"
    with Stubber(sagemaker) as stub:  # one response queued: a second DescribeLabelingJob would fail the test
        stub.add_client_error(
            "describe_labeling_job", "ThrottlingException", expected_params={"LabelingJobName": "ner-described"}
        )
        stub.add_response("describe_labeling_job", described, {"LabelingJobName": "ner-described"})
        assert aws.job_labels(session, arn) is None  # a failed description is not kept: the next call asks again
        assert aws.job_labels(session, arn) == ["tech", "politics"]
        assert aws.job_template(session, arn).html == (
            "<crowd-form><crowd-classifier name='c'></crowd-classifier></crowd-form>"
        )
        assert aws.job_template(session, f"{arn}-other").note == (
            "the job's worker template was not read (DescribeLabelingJob: UnStubbedResponseError)"
        )  # another job is described on its own (here: no response left for it)
        stub.assert_no_pending_responses()
    assert made.count("sagemaker") == 3  # a client only for a job not described yet


def _run(s3: Any, handler: Any, job: str) -> list[dict[str, Any]]:
    put(s3, PAYLOAD, (GALLERY / "answers" / f"{NER}.json").read_bytes())
    event = {
        "labelAttributeName": ATTR,
        "payload": {"s3Uri": PAYLOAD},
        "labelingJobArn": f"arn:aws:sagemaker:us-east-1:111122223333:labeling-job/{job}",
    }
    response: list[dict[str, Any]] = handler.lambda_handler(event, FakeContext())
    return response


def test_a_form_through_the_lambda_with_its_template(
    s3: Any, handler: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    html = (GALLERY / "text" / f"{NER}.liquid.html").read_text()
    put(s3, TEMPLATE_URI, html.encode())
    asked: list[str] = []

    def described(sagemaker: Any, storage: S3Storage, arn: str) -> tuple[str | None, str | None]:
        asked.append(arn)
        return storage.read(TEMPLATE_URI).decode(), None  # the function's own S3 access, as the adapter reads it

    monkeypatch.setattr(aws, "read_job_template", described)
    response = _run(s3, handler, "ner-with-template")
    label = response[0]["consolidatedAnnotation"]["content"][ATTR]
    assert label["schema-source"] == "template"
    assert {name: (e["kind"], e["consolidated"]) for name, e in label["fields"].items()} == {
        "crowd-entity-annotation": ("annotation", True),
        "tech|politics": ("single-choice", True),
    }
    assert label["fields"]["tech|politics"]["value"] == "politics"
    _run(s3, handler, "ner-with-template")
    assert asked == ["arn:aws:sagemaker:us-east-1:111122223333:labeling-job/ner-with-template"]  # cached per job
    out = capsys.readouterr().out
    documents = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    per_field = {
        (d["FormField"], name): d[name]
        for d in documents
        if "FormField" in d
        for name in ("FieldConsolidated", "FieldKeptAsGiven")
        if name in d
    }
    assert per_field[("tech|politics", "FieldConsolidated")] == [3.0]
    assert per_field[("crowd-entity-annotation", "FieldKeptAsGiven")] == [0.0]
    totals = next(d for d in documents if "ObjectsConsolidated" in d)
    assert (totals["FormFieldsConsolidated"], totals["FormFieldsKeptAsGiven"]) == ([6.0], [0.0])


def test_without_a_readable_template_the_form_is_inferred_and_says_why(
    s3: Any, handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        aws, "read_job_template", lambda *_: (None, "the job's worker template was not read (AccessDenied)")
    )
    response = _run(s3, handler, "ner-denied")
    label = response[0]["consolidatedAnnotation"]["content"][ATTR]
    assert label["schema-source"] == "inferred"
    assert label["schema-note"] == "the job's worker template was not read (AccessDenied)"
    assert label["fields"]["politics|tech"]["value"] == "politics"
