"""moto-backed fixtures for the handler tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tally.storage import split_s3_uri
from tests.conftest import load_handler


@pytest.fixture
def s3(aws_env: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def handler(aws_env: None) -> Any:
    return load_handler("consolidation")


def put(s3: Any, uri: str, body: bytes) -> None:
    bucket, key = split_s3_uri(uri)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def get(s3: Any, uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body
