"""DynamoDB under moto for the worker store tests: the table (:data:`TABLE`, :func:`create_table`,
:func:`moto_table`) and a client whose calls run one at a time (:class:`OneCallAtATime`)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import boto3
from moto import mock_aws

from tally import aws
from tally.stores.dynamodb import PlainDynamo

TABLE = "tally-workers"


def create_table(client: Any, name: str = TABLE) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@contextlib.contextmanager
def moto_table(kind: str) -> Iterator[Any]:
    """Under moto, a DynamoDB client taking plain Python values, with the table created: tally's own
    (``plain``: :class:`tally.stores.PlainDynamo` over botocore, what the function uses) or boto3's resource
    client (``resource``)."""
    with mock_aws():
        if kind == "plain":
            client: Any = PlainDynamo(lambda: aws.own_session().create_client("dynamodb", region_name="us-east-1"))
        else:
            client = boto3.resource("dynamodb", region_name="us-east-1").meta.client
        create_table(client)
        yield client


class OneCallAtATime:
    """A client whose calls run one at a time, in any interleaving between threads.

    moto's DynamoDB is not thread-safe (concurrent requests can fail with "dictionary changed size
    during iteration"), while real DynamoDB applies each request atomically. Serialising whole calls
    models exactly that: a store that read, modified and wrote back would still lose updates here,
    because other threads' calls run between its read and its write.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def call(**kwargs: Any) -> Any:
            with self._lock:
                return method(**kwargs)

        return call
