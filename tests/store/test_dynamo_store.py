"""tally.stores.DynamoWorkerStore under moto's DynamoDB: sums, retries, concurrency, chunks, reset, failures."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tally import aws
from tally.stores.dynamodb import CHUNK, DynamoWorkerStore, PlainDynamo, from_attribute, to_attribute
from tally.worker_store import InMemoryWorkerStore, Loaded, WorkerStoreError
from tests.ops.template import RESOURCES, statements
from tests.store.dynamo import TABLE, OneCallAtATime

JOB = "arn:aws:sagemaker:us-east-1:123456789012:labeling-job/j"


def items(client: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.scan(TableName=TABLE)["Items"]
    return sorted(found, key=lambda i: str(i["sk"]))


def test_sums_are_exact_and_only_the_asked_keys_come_back(table_store: DynamoWorkerStore) -> None:
    assert table_store.load(JOB, "t/2", "b1", ["w1", "w2"]) == Loaded({}, recorded=False)
    assert table_store.record(JOB, "t/2", "b1", {"w1": [0.1, 2.0], "w2": [1.0, 0.0]}, {}) is None
    assert table_store.record(JOB, "t/2", "b2", {"w1": [0.2, 0.0], "w3": [5.0, 5.0]}, {"w1": [0.1, 2.0]}) is None
    loaded = table_store.load(JOB, "t/2", "b3", ["w1", "w2", "w9"])
    assert loaded == Loaded({"w1": [0.3, 2.0], "w2": [1.0, 0.0]}, recorded=False)  # 0.1 + 0.2 is exactly 0.3
    assert table_store.load(JOB, "other/2", "b3", ["w1"]).prior == {}  # tasks do not share statistics


def test_a_retried_batch_gets_its_first_prior_and_adds_nothing(dynamodb: Any, table_store: DynamoWorkerStore) -> None:
    table_store.record(JOB, "t/1", "b1", {"w1": [1.0]}, {})
    table_store.record(JOB, "t/1", "b2", {"w1": [2.0]}, {"w1": [1.0]})
    before = items(dynamodb)
    assert table_store.load(JOB, "t/1", "b2", ["w1"]) == Loaded({"w1": [1.0]}, recorded=True)
    assert table_store.record(JOB, "t/1", "b2", {"w1": [2.0]}, {"w1": [3.0]}) == {"w1": [1.0]}
    assert items(dynamodb) == before
    assert table_store.load(JOB, "t/1", "b3", ["w1"]).prior == {"w1": [3.0]}


def test_concurrent_batches_lose_no_update(dynamodb: Any) -> None:
    table_store = DynamoWorkerStore(OneCallAtATime(dynamodb), TABLE)

    def batch(i: int) -> None:
        table_store.record(JOB, "t/2", f"b{i}", {"shared": [1.0, 0.5], f"own{i % 3}": [float(i), 1.0]}, {})

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(batch, range(24)))
    prior = table_store.load(JOB, "t/2", "next", ["shared", "own0", "own1", "own2"]).prior
    assert prior == {
        "shared": [24.0, 12.0],
        "own0": [float(sum(range(0, 24, 3))), 8.0],
        "own1": [float(sum(range(1, 24, 3))), 8.0],
        "own2": [float(sum(range(2, 24, 3))), 8.0],
    }


def test_a_race_between_two_runs_of_one_batch_counts_it_once(dynamodb: Any) -> None:
    table_store = DynamoWorkerStore(OneCallAtATime(dynamodb), TABLE)
    results = []

    def run(prior: float) -> None:
        results.append(table_store.record(JOB, "t/1", "same", {"w": [1.0]}, {"w": [prior]}))

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, [5.0, 7.0]))
    assert sorted(results, key=lambda r: r is not None)[0] is None  # one run recorded
    earlier = [r for r in results if r is not None]
    assert len(earlier) == 1 and earlier[0] in ({"w": [5.0]}, {"w": [7.0]})  # the other got its prior
    assert table_store.load(JOB, "t/1", "x", ["w"]).prior == {"w": [1.0]}


def test_long_vectors_span_several_items(dynamodb: Any, table_store: DynamoWorkerStore) -> None:
    n = 2 * CHUNK + 10
    first = [float(i) for i in range(n)]
    table_store.record(JOB, "big", "b1", {"w": first}, {})
    table_store.record(JOB, "big", "b2", {"w": [1.0] * n}, {})
    assert table_store.load(JOB, "big", "b3", ["w"]).prior == {"w": [v + 1.0 for v in first]}
    assert [str(i["sk"]) for i in items(dynamodb) if "#w#" in str(i["sk"])] == ["big#w#w#0", "big#w#w#1", "big#w#w#2"]


def test_items_hold_numbers_per_worker_and_a_ttl_never_answers(dynamodb: Any, table_store: DynamoWorkerStore) -> None:
    start = int(time.time())
    table_store.record(JOB, "t/2", "b1", {"w1": [1.0, 0.0]}, {"w1": [2.0, 3.0]})
    stored = items(dynamodb)
    assert [str(i["sk"]) for i in stored] == ["t/2#b#b1", "t/2#w#w1#0"]
    batch, worker = stored
    assert set(batch) == {"pk", "sk", "expires", "prior"}
    assert set(worker) == {"pk", "sk", "expires", "n", "v0"}  # a zero is not written
    assert worker["v0"] == 1 and worker["n"] == 2
    assert start + 90 * 86_400 <= int(batch["expires"]) <= int(time.time()) + 90 * 86_400


def test_reset_forgets_one_task_or_the_whole_job(dynamodb: Any, table_store: DynamoWorkerStore) -> None:
    for task in ("a/1", "b/1"):
        table_store.record(JOB, task, "b1", {"w": [1.0]}, {})
    table_store.record("other-job", "a/1", "b1", {"w": [1.0]}, {})
    assert table_store.reset(JOB, "a/1") == 2
    assert table_store.load(JOB, "a/1", "b1", ["w"]) == Loaded({}, recorded=False)
    assert table_store.load(JOB, "b/1", "b2", ["w"]).prior == {"w": [1.0]}
    assert table_store.reset(JOB) == 2
    assert table_store.load("other-job", "a/1", "b2", ["w"]).prior == {"w": [1.0]}


def test_a_missing_table_raises_a_store_error(dynamodb: Any) -> None:
    store = DynamoWorkerStore(dynamodb, "no-such-table")
    with pytest.raises(WorkerStoreError, match="ResourceNotFoundException"):
        store.load(JOB, "t", "b", ["w"])
    with pytest.raises(WorkerStoreError, match="nothing recorded"):
        store.record(JOB, "t", "b", {"w": [1.0]}, {})


def test_an_unreachable_endpoint_raises_a_store_error_quickly(aws_env: None) -> None:
    config = Config(retries={"mode": "standard", "max_attempts": 1}, connect_timeout=1, read_timeout=1)
    resource = boto3.resource("dynamodb", region_name="us-east-1", endpoint_url="http://127.0.0.1:9", config=config)
    store = DynamoWorkerStore(resource.meta.client, TABLE)
    with pytest.raises(WorkerStoreError, match="EndpointConnectionError"):
        store.load(JOB, "t", "b", ["w"])


def test_the_table_and_memory_stores_agree(table_store: DynamoWorkerStore) -> None:
    memory = InMemoryWorkerStore()
    steps = [("b1", {"w1": [0.125, 1e-10, 3.0]}), ("b2", {"w1": [1 / 3, 2.0, 0.0], "w2": [7.0, 7.0, 7.0]})]
    for store in (table_store, memory):
        for batch, contribution in steps:
            loaded = store.load(JOB, "t/3", batch, ["w1", "w2"])
            store.record(JOB, "t/3", batch, contribution, loaded.prior)
    assert table_store.load(JOB, "t/3", "b9", ["w1", "w2"]) == memory.load(JOB, "t/3", "b9", ["w1", "w2"])
    assert memory.load(JOB, "t/3", "b9", ["w1"]).prior == {"w1": [0.4583, 2.0, 3.0]}


def test_worker_store_is_none_without_a_table() -> None:
    assert aws.worker_store(None) is None and aws.worker_store("") is None


def test_a_batch_costs_one_read_and_one_write(table_store: DynamoWorkerStore) -> None:
    table_store.record(JOB, "t/2", "b0", {"w1": [1.0, 1.0]}, {})
    table_store.round_trips = 0
    loaded = table_store.load(JOB, "t/2", "b1", ["w1", "w2", "w3"])  # w2, w3: never recorded
    assert table_store.round_trips == 1
    table_store.record(JOB, "t/2", "b1", {"w1": [1.0, 0.0], "w2": [2.0, 2.0]}, loaded.prior)
    assert table_store.round_trips == 2
    big = CHUNK + 1  # a vector over one item's values: a second read for its other items
    table_store.record(JOB, "big", "b0", {"w": [1.0] * big}, {})
    table_store.round_trips = 0
    assert table_store.load(JOB, "big", "b1", ["w"]).prior == {"w": [1.0] * big}
    assert table_store.round_trips == 2


def test_plain_values_round_trip_through_dynamodbs_typed_ones() -> None:
    item = {"pk": "job", "n": 3, "v0": Decimal("0.125"), "prior": b"\x00z", "ok": False, "none": None}
    typed = {k: to_attribute(v) for k, v in item.items()}
    assert typed["n"] == {"N": "3"} and typed["prior"] == {"B": b"\x00z"} and typed["none"] == {"NULL": True}
    assert {k: from_attribute(v) for k, v in typed.items()} == item
    with pytest.raises(TypeError, match="float is not a DynamoDB value: use Decimal"):
        to_attribute({"v": 0.5})


def test_plain_dynamo_converts_requests_and_answers_and_makes_its_client_on_first_call() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class Typed:
        def batch_get_item(self, **kwargs: Any) -> dict[str, Any]:
            calls.append(("batch_get_item", kwargs))
            return {
                "Responses": {"t": [{"sk": {"S": "a"}, "n": {"N": "2"}}]},
                "UnprocessedKeys": {"t": {"Keys": [{"pk": {"S": "j"}, "sk": {"S": "b"}}], "ConsistentRead": True}},
            }

    made: list[Typed] = []

    def make() -> Typed:
        made.append(Typed())
        return made[-1]

    plain = PlainDynamo(make)
    assert made == []
    answer = plain.batch_get_item(RequestItems={"t": {"Keys": [{"pk": "j", "sk": "a"}], "ConsistentRead": True}})
    assert calls == [
        (
            "batch_get_item",
            {"RequestItems": {"t": {"Keys": [{"pk": {"S": "j"}, "sk": {"S": "a"}}], "ConsistentRead": True}}},
        )
    ]
    assert answer == {
        "Responses": {"t": [{"sk": "a", "n": Decimal(2)}]},
        "UnprocessedKeys": {"t": {"Keys": [{"pk": "j", "sk": "b"}], "ConsistentRead": True}},
    }
    plain.batch_get_item(RequestItems={})
    assert len(made) == 1


def test_numbers_travel_in_plain_notation_and_sum_under_moto(dynamodb: Any, table_store: DynamoWorkerStore) -> None:
    # GIVEN statistics that Decimal writes in exponent notation (4E-9, 1E+1, 1E-5, 2.5E+2): moto's ADD
    # parses a number without a "." as an int, so the second batch's transaction used to be cancelled
    tiny, round_ten, small, big = 4e-9, 10.0, 1e-5, 250.0
    assert table_store.record(JOB, "t/4", "b1", {"w1": [tiny, round_ten, small, big]}, {}) is None
    # WHEN a second batch adds to the same worker's sums
    assert table_store.record(JOB, "t/4", "b2", {"w1": [tiny, round_ten, 0.00016, big]}, {}) is None
    # THEN both are summed, at the stored precision (a ten-thousandth: 4e-9 and 1e-5 carry nothing)
    assert table_store.load(JOB, "t/4", "b3", ["w1"]).prior == {"w1": [0.0, 20.0, 0.0002, 500.0]}
    (stored,) = [i for i in items(dynamodb) if "#w#" in str(i["sk"])]
    assert {k: str(v) for k, v in stored.items() if k.startswith("v")} == {"v1": "20", "v2": "0.0002", "v3": "500"}


def test_no_number_is_sent_in_exponent_notation() -> None:
    from tally.worker_store import DECIMALS, to_decimal

    for value in (4e-9, 1e-5, 0.00015, 10.0, 100.0, 250.0, 1e12, 123456.78905, -3e-7, 0.0):
        text = to_attribute(to_decimal(value))["N"]
        assert "E" not in text.upper() and float(text) == round(value, DECIMALS) + 0.0


class Recording:
    """A client that notes the name of every call made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return call


NEEDS = {
    "batch_get_item": {"dynamodb:BatchGetItem"},
    "get_item": {"dynamodb:GetItem"},
    "transact_write_items": {"dynamodb:PutItem", "dynamodb:UpdateItem"},  # its Put and Update actions
}
"""The IAM actions each call the store makes needs."""


def test_the_store_makes_the_calls_the_template_grants_and_no_other(dynamodb: Any) -> None:
    recording = Recording(dynamodb)
    store = DynamoWorkerStore(recording, TABLE)
    store.record(JOB, "t/1", "b1", {"w1": [1.0], "w2": [0.5]}, {})
    assert store.load(JOB, "t/1", "b2", ["w1", "w2", "w3"]) == Loaded({"w1": [1.0], "w2": [0.5]}, recorded=False)
    assert store.record(JOB, "t/1", "b2", {"w1": [2.0]}, {"w1": [1.0]}) is None
    assert store.record(JOB, "t/1", "b2", {"w1": [2.0]}, {"w1": [3.0]}) == {"w1": [1.0]}  # a retry: as recorded
    assert store.load(JOB, "t/1", "b2", ["w1"]) == Loaded({"w1": [1.0]}, recorded=True)
    assert set(recording.calls) == set(NEEDS)
    [granted] = [s["Action"] for s in statements("ConsolidationFunction") if s.get("Sid") == "WorkerModels"]
    assert set().union(*(NEEDS[c] for c in recording.calls)) == set(granted)


def test_every_item_the_store_writes_expires_by_the_attribute_the_table_reads(dynamodb: Any) -> None:
    store = DynamoWorkerStore(dynamodb, TABLE, ttl_days=3)
    store.record(JOB, "t/1", "b1", {"w1": [1.0] * (CHUNK + 1)}, {})
    attribute = RESOURCES["WorkerTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"]
    items = dynamodb.scan(TableName=TABLE)["Items"]
    assert len(items) == 3  # the batch record and the worker's two chunks
    now = time.time()
    assert all(now + 3 * 86400 - 60 < int(item[attribute]) <= now + 3 * 86400 + 1 for item in items)
