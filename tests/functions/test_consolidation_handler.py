"""The consolidation Lambda, driven by the events/ files, against moto's S3 and STS."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tally.errors import EventError, StorageError
from tally.storage import split_s3_uri
from tests.functions.s3 import get, put
from tests.helpers import annotation, data_object, seg_content
from tests.project import EVENTS, SHARED, FakeContext, load_event, load_handler

EXAMPLE_PAYLOAD_DIR = EVENTS / "s3"


def upload_example(s3: Any) -> dict[str, Any]:
    event = load_event("consolidation.json")
    local = EXAMPLE_PAYLOAD_DIR / Path(*split_s3_uri(event["payload"]["s3Uri"]))
    put(s3, event["payload"]["s3Uri"], local.read_bytes())
    return event


def test_example_event_gives_one_entry_per_object_and_writes_palette_masks(
    s3: Any, handler: Any, context: FakeContext
) -> None:
    event = upload_example(s3)
    response = handler.lambda_handler(event, context)
    assert isinstance(response, list)
    assert [e["datasetObjectId"] for e in response] == [str(i) for i in range(6)]
    for entry in response:
        content = entry["consolidatedAnnotation"]["content"]
        assert set(content) == {"street-scenes", "street-scenes-metadata"}
        label = content["street-scenes"]
        png = get(s3, label["mask-ref"])
        assert png.startswith(b"\x89PNG")
        assert label["mask-ref"].startswith(event["outputConfig"] + "/consolidated-annotation/output/")
        assert content["street-scenes-metadata"]["type"] == "groundtruth/semantic-segmentation"
    # scene 4 has a truncated answer from the sloppy worker, scene 5 a single answer
    meta4 = response[4]["consolidatedAnnotation"]["content"]["street-scenes-metadata"]
    assert [r["workerId"] for r in meta4["rejected-answers"]] == ["private.us-east-1.c3d4e5f6a7b8c9d0"]
    # the default writes the masks only (ConfidenceMaps=false) and rates every worker
    labels = [e["consolidatedAnnotation"]["content"]["street-scenes"] for e in response]
    assert not any("confidence-map-ref" in label for label in labels)
    bucket, prefix = split_s3_uri(event["outputConfig"] + "/consolidated-annotation/output/")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
    assert sorted(keys) == sorted(split_s3_uri(label["mask-ref"])[1] for label in labels)
    meta0 = response[0]["consolidatedAnnotation"]["content"]["street-scenes-metadata"]
    assert [q["workerId"] for q in meta0["worker-quality"]] == [
        "private.us-east-1.a1b2c3d4e5f6a7b8",
        "private.us-east-1.b2c3d4e5f6a7b8c9",
        "private.us-east-1.c3d4e5f6a7b8c9d0",
    ]


def test_retry_gives_the_same_response_keys_and_bytes(s3: Any, handler: Any, context: FakeContext) -> None:
    event = upload_example(s3)
    first = handler.lambda_handler(event, context)
    bytes_first = {
        e["datasetObjectId"]: get(s3, e["consolidatedAnnotation"]["content"]["street-scenes"]["mask-ref"])
        for e in first
    }
    second = handler.lambda_handler(json.loads(json.dumps(event)), context)
    assert first == second
    for e in second:
        assert (
            get(s3, e["consolidatedAnnotation"]["content"]["street-scenes"]["mask-ref"])
            == bytes_first[e["datasetObjectId"]]
        )


@pytest.fixture
def handler_with_maps(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The consolidation function deployed with ConfidenceMaps=true."""
    monkeypatch.setenv("TALLY_CONFIDENCE_MAPS", "true")
    return load_handler("consolidation")


def test_with_confidence_maps_each_mask_has_one_beside_it(
    s3: Any, handler_with_maps: Any, context: FakeContext
) -> None:
    event = upload_example(s3)
    response = handler_with_maps.lambda_handler(event, context)
    for entry in response:
        label = entry["consolidatedAnnotation"]["content"]["street-scenes"]
        assert label["confidence-map-ref"] == label["mask-ref"].removesuffix(".png") + "-confidence.png"
        assert get(s3, label["confidence-map-ref"]).startswith(b"\x89PNG")


def test_masks_are_written_with_sse_kms_when_the_event_has_a_key(
    s3: Any, handler_with_maps: Any, context: FakeContext
) -> None:
    event = upload_example(s3)
    kms = boto3.client("kms", region_name="us-east-1")
    key_id = kms.create_key()["KeyMetadata"]["Arn"]
    response = handler_with_maps.lambda_handler({**event, "kmsKeyId": key_id}, context)
    written = [
        entry["consolidatedAnnotation"]["content"]["street-scenes"][ref]
        for entry in response
        for ref in ("mask-ref", "confidence-map-ref")
    ]
    assert len(written) == 12
    for uri in written:  # every object tally writes
        bucket, key = split_s3_uri(uri)
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_id


def test_logs_and_metrics_carry_ids_and_counts_but_no_worker_data(
    capsys: pytest.CaptureFixture[str], s3: Any, handler: Any, context: FakeContext
) -> None:
    event = upload_example(s3)
    payload = get(s3, event["payload"]["s3Uri"]).decode()
    log_stream = io.StringIO()
    logging.getLogger("tally").handlers[0].stream = log_stream  # type: ignore[attr-defined]
    handler.lambda_handler(event, context)
    out = capsys.readouterr().out + log_stream.getvalue()
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    logs = [line for line in lines if "message" in line]
    rejected = [line for line in logs if line["message"].startswith("answer rejected")]
    assert len(rejected) == 1
    assert rejected[0]["datasetObjectId"] == "4"
    assert rejected[0]["labelingJobArn"] == event["labelingJobArn"]
    assert {line["datasetObjectId"] for line in logs if line["message"] == "object consolidated"} == {
        str(i) for i in range(6)
    }
    reliability = next(line for line in logs if line["message"] == "worker reliability estimated")
    assert sorted(reliability["workers"]) == [
        "private.us-east-1.a1b2c3d4e5f6a7b8",
        "private.us-east-1.b2c3d4e5f6a7b8c9",
        "private.us-east-1.c3d4e5f6a7b8c9d0",
    ]
    assert all(0.0 <= value <= 1.0 for value in reliability["workers"].values())
    metrics = next(line for line in lines if "_aws" in line and "ObjectsConsolidated" in line)
    assert metrics["ObjectsConsolidated"] == [6.0]
    assert metrics["ObjectsFailed"] == [0.0]
    assert metrics["AnswersRejected"] == [1.0]
    assert 0.0 < metrics["MeanConfidence"][0] < 1.0
    # no image data: no base64 PNG signature, no pngImageData, no fragment of any answer
    assert "iVBORw0KGgo" not in out and "pngImageData" not in out
    for item in json.loads(payload):
        for a in item["annotations"]:
            png = json.loads(a["annotationData"]["content"])["crowd-semantic-segmentation"]["labeledImage"][
                "pngImageData"
            ]
            assert png[100:160] not in out


def test_recipe_events_are_handled_without_error(s3: Any, handler: Any, context: FakeContext) -> None:
    recipe = SHARED / "data" / "recipe-events"
    event = json.loads((recipe / "annotation_consolidation_test_event.json").read_text())
    put(s3, event["payload"]["s3Uri"], (recipe / "sample_annotation_consolidation_payload.json").read_bytes())
    response = handler.lambda_handler(event, context)
    assert [e["datasetObjectId"] for e in response] == ["0", "2"]
    # no label list anywhere (no labelCategories, no label file): class ids from the batch's sorted names
    content = response[0]["consolidatedAnnotation"]["content"]
    label, meta = content["test-label-attribute"], content["test-label-attribute-metadata"]
    assert meta["type"] == "groundtruth/object-detection"
    assert label["class-map"] == {"0": "Green", "1": "Red"}
    assert sorted((a["class_id"], a["left"], a["top"], a["width"], a["height"]) for a in label["annotations"]) == [
        (0, 418, 281, 138, 141),
        (1, 116, 283, 137, 128),
    ]


def test_an_unreadable_payload_fails_the_batch_loudly(s3: Any, handler: Any, context: FakeContext) -> None:
    event = load_event("consolidation.json")
    s3.create_bucket(Bucket=split_s3_uri(event["payload"]["s3Uri"])[0])
    with pytest.raises(StorageError, match="NoSuchKey"):
        handler.lambda_handler(event, context)


def test_a_malformed_event_fails_with_a_reason_naming_the_field(handler: Any, context: FakeContext) -> None:
    with pytest.raises(EventError, match="payload: Field required"):
        handler.lambda_handler({"labelAttributeName": "x"}, context)


def test_a_thousand_object_response_stays_far_under_six_megabytes(s3: Any, handler: Any, context: FakeContext) -> None:
    legend = {"r": "road", "c": "car"}
    answers = [
        seg_content(["rc.", ".cr"], legend),
        seg_content(["rr.", ".cc"], legend),
        seg_content(["rc.", "..r"], legend),
    ]
    objects = [
        data_object(f"object-{i:04d}", *(annotation(f"private.us-east-1.{w:016x}", a) for w, a in enumerate(answers)))
        for i in range(1000)
    ]
    payload_uri = "s3://gt-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/big.json"
    put(s3, payload_uri, json.dumps(objects).encode())
    event = {
        "labelAttributeName": "street-scenes",
        "labelCategories": ["road", "car", "person", "sign"],
        "payload": {"s3Uri": payload_uri},
        "outputConfig": "s3://gt-bucket/job/annotations",
    }
    response = handler.lambda_handler(event, context)
    size = len(json.dumps(response))
    assert len(response) == 1000
    assert size < 2_500_000, size  # ~2.2 kB an object, facts in the label and in the metadata
    assert "pngImageData" not in json.dumps(response)


def test_role_is_assumed_only_when_it_is_the_configured_one(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from tally import aws

    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        trust = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        )
        role = iam.create_role(RoleName="gt-execution", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        assumed = aws.session_for(role, role).get_credentials()
        assert assumed is not None and assumed.access_key.startswith("ASIA")
        own_key = os.environ["AWS_ACCESS_KEY_ID"]
        other = aws.session_for(role, "arn:aws:iam::123456789012:role/other").get_credentials()
        assert other is not None and other.access_key == own_key
        assert aws.session_for(role, None).get_credentials().access_key == own_key
