"""Objects in moto's S3 for the handler tests."""

from __future__ import annotations

import contextlib
from typing import Any

from tally.storage import split_s3_uri


def put(s3: Any, uri: str, body: bytes) -> None:
    bucket, key = split_s3_uri(uri)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def get(s3: Any, uri: str) -> bytes:
    bucket, key = split_s3_uri(uri)
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body
