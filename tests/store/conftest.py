"""DynamoDB under moto for the worker store tests: the fixtures (the helpers: tests/store/dynamo.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tally.stores.dynamodb import DynamoWorkerStore
from tests.store.dynamo import TABLE, moto_table


@pytest.fixture(params=["plain", "resource"])
def dynamodb(aws_env: None, request: pytest.FixtureRequest) -> Iterator[Any]:
    with moto_table(request.param) as client:
        yield client


@pytest.fixture
def table_store(dynamodb: Any) -> DynamoWorkerStore:
    return DynamoWorkerStore(dynamodb, TABLE)
