"""The ``job`` fixture: a job on S3 under moto and the reconsolidation function (tests.distributed.support)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tally.distributed import _plans
from tests.distributed.support import BUCKET, Job
from tests.project import load_handler


@pytest.fixture
def job(aws_env: None, tmp_path: Path) -> Iterator[Job]:
    _plans.clear()  # each test is a new container
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield Job(s3, load_handler("reconsolidation"), tmp_path, [])
