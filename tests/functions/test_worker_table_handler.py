"""The consolidation Lambda with TALLY_WORKER_TABLE set (moto's S3 and DynamoDB): a job's batches
share their workers' statistics, a retried batch answers as it did, and a table that cannot be
reached leaves the batch to its own evidence."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.functions.s3 import put
from tests.helpers import annotation
from tests.project import FakeContext, load_handler
from tests.store.dynamo import TABLE, create_table

JOB = "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/animals"
ANIMALS = ["Dog", "Cat", "Bird"]


def answer(label: str) -> str:
    return json.dumps({"crowd-image-classifier": {"label": label}})


def batch(s3: Any, name: str, rows: list[tuple[str, list[tuple[str, str]]]]) -> dict[str, Any]:
    uri = f"s3://gt-bucket/animals/annotations/consolidated-annotation/consolidation-request/iteration-1/{name}.json"
    objects = [
        {"datasetObjectId": obj, "dataObject": {"s3Uri": f"s3://gt-bucket/images/{obj}.jpg"},
         "annotations": [annotation(w, answer(label)) for w, label in votes]}
        for obj, votes in rows
    ]  # fmt: skip
    put(s3, uri, json.dumps(objects).encode())
    return {
        "labelingJobArn": JOB,
        "labelAttributeName": "animals",
        "labelCategories": ANIMALS,
        "payload": {"s3Uri": uri},
        "outputConfig": "s3://gt-bucket/animals/annotations",
    }


def swap(label: str) -> str:
    return {"Dog": "Cat", "Cat": "Dog"}.get(label, label)


@pytest.fixture
def env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TALLY_WORKER_TABLE", TABLE)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        create_table(boto3.resource("dynamodb", region_name="us-east-1").meta.client)
        yield s3, load_handler("consolidation")


def test_a_later_batch_knows_the_swapper_from_the_earlier_ones(env: Any) -> None:
    s3, handler = env
    truth = ["Dog", "Cat", "Dog", "Cat", "Bird", "Dog", "Cat", "Bird", "Dog", "Cat"]
    first = batch(s3, "first", [(str(i), [("a", t), ("b", t), ("swapper", swap(t))]) for i, t in enumerate(truth)])
    handler.lambda_handler(first, FakeContext())
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    assert items and not any("Dog" in repr(item) for item in items)  # counts per worker, never answers
    # the second batch holds one object only the swapper answered: without the job's record they are
    # a new worker and their "Cat" stands; with it, it is decoded as the Dog it is
    second = batch(s3, "second", [("lone", [("swapper", "Cat")])])
    label = handler.lambda_handler(second, FakeContext())[0]["consolidatedAnnotation"]["content"]["animals"]
    assert label["class-name"] == "Dog"
    # a retry of the first batch answers exactly as it did, and counts nothing twice
    before = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    again = handler.lambda_handler(first, FakeContext())
    after = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=TABLE)["Items"]
    assert sorted(map(repr, before)) == sorted(map(repr, after))
    assert [e["consolidatedAnnotation"]["content"]["animals"]["class-name"] for e in again] == truth


def test_without_the_table_the_batch_consolidates_alone(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_WORKER_TABLE", "no-such-table")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        handler = load_handler("consolidation")
        response = handler.lambda_handler(batch(s3, "only", [("lone", [("swapper", "Cat")])]), FakeContext())
    assert response[0]["consolidatedAnnotation"]["content"]["animals"]["class-name"] == "Cat"
