"""The pre-annotation Lambda, driven by the events/ files."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tally import Settings
from tally.aws import S3Storage, read_job_labels
from tally.pre_annotation import pre_annotate
from tests.project import SHARED, FakeContext, load_event, load_handler


@pytest.fixture
def handler(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TALLY_LABELS", "")
    return load_handler("pre_annotation")


def test_example_event_gives_task_input_and_a_boolean(handler: Any, context: FakeContext) -> None:
    event = load_event("pre_annotation.json")
    response = handler.lambda_handler(event, context)
    assert response == {
        "taskInput": {
            "taskObject": event["dataObject"]["source-ref"],
            "labels": ["road", "car", "person", "sign"],
            "manifestLine": event["dataObject"],
        },
        "isHumanAnnotationRequired": True,
    }
    assert response["isHumanAnnotationRequired"] is True


def test_adjustment_job_line_gets_the_prior_mask_as_initial_value(handler: Any, context: FakeContext) -> None:
    event = load_event("pre_annotation_adjustment.json")
    response = handler.lambda_handler(event, context)
    task_input = response["taskInput"]
    assert task_input["initialValue"] == {
        "src": event["dataObject"]["street-scenes"]["mask-ref"],
        "labelMappings": {
            "road": {"color": "#1f77b4"},
            "car": {"color": "#ff7f0e"},
            "person": {"color": "#2ca02c"},
            "sign": {"color": "#d62728"},
        },
    }
    # no labels configured, none on the line, the job lookup fails under moto: the prior's classes
    assert task_input["labels"] == ["road", "car", "person", "sign"]


def test_builtin_segmentation_label_is_recognised_too() -> None:
    line = {
        "source-ref": "s3://b/img.png",
        "city-ref": "s3://b/out/0.png",
        "city-ref-metadata": {
            "type": "groundtruth/semantic-segmentation",
            "creation-date": "2020-01-01T00:00:00.000000",
            "internal-color-map": {
                "0": {"class-name": "BACKGROUND", "hex-color": "#ffffff", "confidence": 0.9},
                "1": {"class-name": "road", "hex-color": "#f28333", "confidence": 0.9},
            },
        },
    }
    response = pre_annotate({"dataObject": line}, settings=Settings(labels=("road", "car")))
    assert response["taskInput"]["initialValue"] == {
        "src": "s3://b/out/0.png",
        "labelMappings": {"road": {"color": "#f28333"}},
    }
    assert response["taskInput"]["labels"] == ["road", "car"]


def test_text_source_becomes_the_task_object() -> None:
    response = pre_annotate({"dataObject": {"source": "Some text"}}, job_labels=lambda: ["a", "b"])
    assert response["taskInput"]["taskObject"] == "Some text"
    assert response["taskInput"]["labels"] == ["a", "b"]


@pytest.mark.parametrize("event", [{"dataObject": {"other": 1}}, {"dataObject": {"source-ref": ""}}, {}, [], None])
def test_line_without_source_needs_no_human_and_never_raises(
    event: Any, handler: Any, context: FakeContext, caplog: pytest.LogCaptureFixture
) -> None:
    response = handler.lambda_handler(event, context)
    assert response["isHumanAnnotationRequired"] is False
    assert any("no human annotation" in r.getMessage() for r in caplog.records)


def test_recipe_pre_event(handler: Any, context: FakeContext) -> None:
    import json

    event = json.loads((SHARED / "data" / "recipe-events" / "pre_human_task_test_event.json").read_text())
    response = handler.lambda_handler(event, context)
    assert response["taskInput"]["taskObject"] == "s3://test-bucket/test-image.jpg"
    assert response["isHumanAnnotationRequired"] is True


def test_label_precedence_line_then_configured_then_job() -> None:
    line = {"source-ref": "s3://b/i.jpg", "labels": ["x", "y"]}
    assert pre_annotate({"dataObject": line}, settings=Settings(labels=("c",)))["taskInput"]["labels"] == ["x", "y"]
    line = {"source-ref": "s3://b/i.jpg"}
    configured = pre_annotate({"dataObject": line}, settings=Settings(labels=("c",)), job_labels=lambda: ["j"])
    assert configured["taskInput"]["labels"] == ["c"]
    assert pre_annotate({"dataObject": line}, job_labels=lambda: ["j"])["taskInput"]["labels"] == ["j"]
    assert pre_annotate({"dataObject": line})["taskInput"]["labels"] == []


def test_job_labels_come_from_the_label_category_file(aws_env: None) -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="gt-bucket")
        s3.put_object(
            Bucket="gt-bucket",
            Key="cfg.json",
            Body=b'{"document-version":"2018-11-28","labels":[{"label":"Cat"},{"label":"Dog"}]}',
        )
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        with Stubber(sagemaker) as stub:
            stub.add_response(
                "describe_labeling_job", _described("s3://gt-bucket/cfg.json"), {"LabelingJobName": "pets"}
            )
            labels = read_job_labels(
                sagemaker, S3Storage(s3), "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets"
            )
        assert labels == ["Cat", "Dog"]
        with Stubber(sagemaker) as stub:
            stub.add_client_error("describe_labeling_job", "ResourceNotFound")
            assert read_job_labels(sagemaker, S3Storage(s3), "arn:aws:sagemaker:us-east-1:1:labeling-job/gone") is None


def _described(uri: str) -> dict[str, Any]:
    import datetime

    now = datetime.datetime(2026, 1, 1)
    return {
        "LabelingJobStatus": "InProgress",
        "LabelCounters": {},
        "CreationTime": now,
        "LastModifiedTime": now,
        "JobReferenceCode": "x",
        "LabelingJobName": "pets",
        "LabelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets",
        "LabelAttributeName": "pets",
        "LabelCategoryConfigS3Uri": uri,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://gt/in.manifest"}}},
        "OutputConfig": {"S3OutputPath": "s3://gt/out"},
        "RoleArn": "arn:aws:iam::111122223333:role/gt",
        "HumanTaskConfig": {
            "WorkteamArn": "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/t",
            "UiConfig": {"UiTemplateS3Uri": "s3://gt/t.html"},
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


def coral_line() -> dict[str, Any]:
    path = SHARED / "data" / "real" / "coral-classification-output-manifest" / "output.manifest"
    line: dict[str, Any] = json.loads(path.read_text().splitlines()[0])
    return line


def test_a_built_in_classification_label_becomes_the_initial_value() -> None:
    line = coral_line()  # a real built-in image-classification output line: "test-label-dianthus": 1
    response = pre_annotate({"dataObject": line})
    assert response["taskInput"]["initialValue"] == {"label": "Probably yes"}
    assert response["taskInput"]["labels"] == ["Probably yes"]
    assert response["isHumanAnnotationRequired"] is True


def test_tally_multi_label_output_and_labels_under_metadata_are_read() -> None:
    line = {
        "source": "A dog and a bird.",
        "metadata": {"labels": ["Dog", "Cat", "Bird"]},
        "animals": {"class-ids": [0, 2], "class-names": ["Dog", "Bird"]},
        "animals-metadata": {
            "type": "groundtruth/text-classification-multilabel",
            "creation-date": "2026-11-01T00:00:00",
        },
    }
    task_input = pre_annotate({"dataObject": line})["taskInput"]
    assert task_input["labels"] == ["Dog", "Cat", "Bird"]
    assert task_input["initialValue"] == {"labels": ["Dog", "Bird"]}
    built_in = {
        "source-ref": "s3://b/i.jpg",
        "animals": [2],
        "animals-metadata": {"type": "groundtruth/image-classification-multilabel", "class-map": {"2": "Bird"}},
    }
    assert pre_annotate({"dataObject": built_in})["taskInput"]["initialValue"] == {"labels": ["Bird"]}


def test_a_built_in_box_adjustment_line_gets_its_boxes_as_the_initial_value() -> None:
    path = SHARED / "data" / "real" / "textract-bbox-adjustment-output-manifest" / "output.manifest"
    line = json.loads(path.read_text().splitlines()[0])
    task_input = pre_annotate({"dataObject": line})["taskInput"]
    boxes = task_input["initialValue"]["boundingBoxes"]
    assert boxes[0] == {"label": "Provider Name", "left": 236, "top": 55, "width": 542, "height": 81}
    assert len(boxes) == len(line["augmentation-1"]["annotations"])
    assert task_input["labels"] == ["Provider Name", "Min Payment Calculation"]


def test_tally_keypoint_and_instance_labels_become_initial_values() -> None:
    keypoints = {
        "source-ref": "s3://b/face.jpg",
        "face": {"keypoints": [{"label": "nose", "x": 5.0, "y": 6.0, "confidence": 0.9}]},
        "face-metadata": {"type": "groundtruth/keypoint"},
    }
    assert pre_annotate({"dataObject": keypoints})["taskInput"]["initialValue"] == {
        "keypoints": [{"label": "nose", "x": 5.0, "y": 6.0}]
    }
    instances = {
        "source-ref": "s3://b/street.jpg",
        "street": {
            "instance-mask-ref": "s3://b/out/0_abc-instances.png",
            "instances": [{"label": "Person", "color": "#1f77b4", "confidence": 0.8, "workers": ["w1", "w2"]}],
        },
        "street-metadata": {"type": "groundtruth/instance-segmentation"},
    }
    task_input = pre_annotate({"dataObject": instances})["taskInput"]
    assert task_input["initialValue"] == {
        "instances": [{"color": "#1f77b4", "label": "Person"}],
        "src": "s3://b/out/0_abc-instances.png",
    }
    assert task_input["labels"] == ["Person"]
