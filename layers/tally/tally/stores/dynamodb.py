"""The worker store on DynamoDB (:class:`DynamoWorkerStore`) and the plain-value client it talks through
(:class:`PlainDynamo`): an AWS adapter, like :mod:`tally.aws` (which makes the store for the Lambda:
:func:`tally.aws.worker_store`), and with it the only core modules that import botocore.

:class:`PlainDynamo` converts plain Python values to and from DynamoDB's typed ones itself
(:func:`to_attribute`, :func:`from_attribute`), as boto3's resource layer would, without boto3's
cold-start cost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..aws import error_reason
from ..worker_store import Loaded, WorkerStatistics, WorkerStoreError, normalise, to_decimal

__all__ = ["CHUNK", "STORE_CONFIG", "DynamoWorkerStore", "PlainDynamo", "from_attribute", "to_attribute"]

logger = logging.getLogger(__name__)

STORE_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    max_pool_connections=8,
)
"""The worker store's client: few, quick tries; a store that does not answer soon leaves the batch
with its own evidence (:mod:`tally.worker_store`) rather than holding up the Lambda."""
CHUNK = 128
"""Values per item: a key's vector longer than this spans several items (an update expression stays
near 1.5 KB, under DynamoDB's 4 KB; moto's parser fails from about 180 terms)."""
_TRANSACTION = 100  # actions per TransactWriteItems
_BATCH_GET = 100  # keys per BatchGetItem
_MAX_PRIOR_BYTES = 300_000  # a batch item must stay under 400 KB
_GET_TRIES = 4


def _encode_prior(prior: WorkerStatistics) -> bytes:
    return zlib.compress(json.dumps(prior, sort_keys=True, separators=(",", ":")).encode("utf-8"), 6)


def _decode_prior(data: Any) -> WorkerStatistics:
    raw = data.value if hasattr(data, "value") else data
    decoded: WorkerStatistics = json.loads(zlib.decompress(bytes(raw)))
    return decoded


class DynamoWorkerStore:
    """:class:`tally.worker_store.WorkerStore` on one DynamoDB table (``TALLY_WORKER_TABLE``).

    Items (partition key ``pk`` = the job ARN, sort key ``sk``; attribute ``expires`` is the TTL)::

        sk = "<task>#w#<worker>#<chunk>"  v0 … v127: the worker's summed statistics (numbers), n: length
        sk = "<task>#b#<batch key>"       prior: the prior the batch was fitted with (zlib JSON)

    ``load`` is one ``BatchGetItem`` (strongly consistent) for the batch's record and its workers'
    first items (per 100 keys; one more for vectors over :data:`CHUNK` values). ``record`` is one
    ``TransactWriteItems``: a ``Put`` of the batch's record on condition that it does not exist, and
    one ``Update ... ADD`` per worker item; so a batch is counted once, and concurrent batches add
    atomically, never losing an update. A batch with more than 99 worker items needs several
    transactions: the record goes in the first, so a failure part-way loses evidence (logged) but never
    counts any twice. ``ADD`` sums decimals exactly, so the sums do not depend on the batches' order.
    """

    def __init__(self, client: Any, table: str, ttl_days: int = 90) -> None:
        self._db = client
        self._table = table
        self._ttl_seconds = ttl_days * 86_400
        self.round_trips = 0  # calls made (for the bench); botocore's own retries are not counted

    # -- helpers
    def _call(self, name: str, **kwargs: Any) -> Any:
        self.round_trips += 1
        try:
            return getattr(self._db, name)(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise WorkerStoreError(f"worker table {name}: {error_reason(exc)}") from exc

    @staticmethod
    def _worker_sk(task: str, key: str, chunk: int) -> str:
        return f"{task}#w#{key}#{chunk}"

    @staticmethod
    def _batch_sk(task: str, batch: str) -> str:
        return f"{task}#b#{batch}"

    def _get_many(self, job: str, sks: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(sks), _BATCH_GET):
            wanted: dict[str, Any] = {
                self._table: {
                    "Keys": [{"pk": job, "sk": sk} for sk in sks[start : start + _BATCH_GET]],
                    "ConsistentRead": True,
                }
            }

            def keep(answer: dict[str, Any]) -> None:
                for item in answer.get("Responses", {}).get(self._table, []):
                    found[str(item["sk"])] = item

            failure = "worker table BatchGetItem: keys left unprocessed (throttled)"
            self._drain("batch_get_item", wanted, "UnprocessedKeys", failure, keep)
        return found

    def _drain(
        self,
        operation: str,
        requests: dict[str, Any],
        leftover: str,
        failure: str,
        each: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """Send a batch request until DynamoDB has processed all of it (``leftover``: the answer's
        unprocessed part), backing off between tries; ``failure`` when tries run out."""
        for attempt in range(_GET_TRIES):
            answer = self._call(operation, RequestItems=requests)
            if each is not None:
                each(answer)
            requests = answer.get(leftover) or {}
            if not requests:
                return
            time.sleep(0.05 * 2**attempt)
        raise WorkerStoreError(failure)

    def _expires(self) -> int:
        return int(time.time()) + self._ttl_seconds

    # -- WorkerStore
    def load(self, job: str, task: str, batch: str, keys: Sequence[str]) -> Loaded:
        unique = sorted(set(keys))
        batch_sk = self._batch_sk(task, batch)
        found = self._get_many(job, [batch_sk] + [self._worker_sk(task, k, 0) for k in unique])
        record = found.get(batch_sk)
        if record is not None and "prior" in record:
            return Loaded(_decode_prior(record["prior"]), recorded=True)
        return Loaded(self._sums(job, task, unique, found), recorded=record is not None)

    def _sums(
        self, job: str, task: str, unique: list[str], found: dict[str, dict[str, Any]] | None = None
    ) -> WorkerStatistics:
        """The sums of ``unique`` keys; ``found``: the items read so far, with every key's first item
        asked already (``None``: read them)."""
        if found is None:
            found = self._get_many(job, [self._worker_sk(task, k, 0) for k in unique])
        more = []
        for key in unique:
            item = found.get(self._worker_sk(task, key, 0))
            if item is not None:
                more += [self._worker_sk(task, key, c) for c in range(1, -(-int(item["n"]) // CHUNK))]
        if more:
            found |= self._get_many(job, more)
        prior: WorkerStatistics = {}
        for key in unique:
            first = found.get(self._worker_sk(task, key, 0))
            if first is None:
                continue
            n = int(first["n"])
            values: list[float] = []
            for c in range(-(-n // CHUNK)):
                item = found.get(self._worker_sk(task, key, c), {})
                values += [float(item.get(f"v{i}", 0)) for i in range(min(CHUNK, n - c * CHUNK))]
            prior[key] = values
        return prior

    def record(
        self, job: str, task: str, batch: str, contribution: WorkerStatistics, prior_used: WorkerStatistics
    ) -> WorkerStatistics | None:
        expires = self._expires()
        batch_item: dict[str, Any] = {"pk": job, "sk": self._batch_sk(task, batch), "expires": expires}
        encoded = _encode_prior(prior_used)
        if len(encoded) <= _MAX_PRIOR_BYTES:
            batch_item["prior"] = encoded
        else:
            logger.warning("worker prior too large to keep with the batch record: a retry will use the sums")
        actions: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": batch_item,
                    "ConditionExpression": "attribute_not_exists(sk)",
                }
            }
        ]
        for key, values in normalise(contribution).items():
            for c in range(max(1, -(-len(values) // CHUNK))):
                actions.append({"Update": self._update(job, task, key, c, values, expires)})
        for start in range(0, len(actions), _TRANSACTION):
            try:
                self.round_trips += 1
                self._db.transact_write_items(TransactItems=actions[start : start + _TRANSACTION])
            except ClientError as exc:
                reasons = exc.response.get("CancellationReasons") or []
                if start == 0 and reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    return self._recorded_prior(job, task, batch, contribution)
                raise self._partial(start, actions, exc) from exc
            except BotoCoreError as exc:
                raise self._partial(start, actions, exc) from exc
        return None

    def _update(self, job: str, task: str, key: str, chunk: int, values: list[float], expires: int) -> dict[str, Any]:
        part = values[chunk * CHUNK : (chunk + 1) * CHUNK]
        names = {"#n": "n", "#x": "expires"}
        attr_values: dict[str, Any] = {":n": len(values), ":x": expires}
        adds = []
        for i, value in enumerate(part):
            if value != 0.0:
                adds.append(f"v{i} :v{i}")
                attr_values[f":v{i}"] = to_decimal(value)
        expression = "SET #n = :n, #x = :x" + (" ADD " + ", ".join(adds) if adds else "")
        return {
            "TableName": self._table,
            "Key": {"pk": job, "sk": self._worker_sk(task, key, chunk)},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": attr_values,
        }

    def _recorded_prior(self, job: str, task: str, batch: str, contribution: WorkerStatistics) -> WorkerStatistics:
        item = self._call(
            "get_item", TableName=self._table, Key={"pk": job, "sk": self._batch_sk(task, batch)}, ConsistentRead=True
        ).get("Item")
        if item is not None and "prior" in item:
            return _decode_prior(item["prior"])
        return self._sums(job, task, sorted(contribution))

    @staticmethod
    def _partial(start: int, actions: list[dict[str, Any]], exc: Exception) -> WorkerStoreError:
        if start == 0:
            return WorkerStoreError(f"worker table TransactWriteItems: {error_reason(exc)}; nothing recorded")
        done = start - 1
        return WorkerStoreError(
            f"worker table TransactWriteItems: {error_reason(exc)}; {done} of {len(actions) - 1} worker items recorded"
        )

    def reset(self, job: str, task: str | None = None) -> int:
        """Delete a job's items (one task's, when given): its worker model starts afresh. Returns how
        many items were deleted. Needs ``dynamodb:Query`` and ``dynamodb:BatchWriteItem`` (operators,
        not the function)."""
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk" + (" AND begins_with(sk, :task)" if task else ""),
            "ExpressionAttributeValues": {":pk": job} | ({":task": f"{task}#"} if task else {}),
            "ProjectionExpression": "pk, sk",
        }
        keys: list[dict[str, Any]] = []
        while True:
            page = self._call("query", **query)
            keys += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        for start in range(0, len(keys), 25):
            pending: dict[str, Any] = {self._table: [{"DeleteRequest": {"Key": k}} for k in keys[start : start + 25]]}
            failure = "worker table BatchWriteItem: items left undeleted (throttled)"
            self._drain("batch_write_item", pending, "UnprocessedItems", failure)
        return len(keys)


# -- DynamoDB values --------------------------------------------------------------------------------

_ATTRIBUTE_MAPS = frozenset({"Key", "Item", "ExclusiveStartKey", "LastEvaluatedKey", "ExpressionAttributeValues"})
_ATTRIBUTE_MAP_LISTS = frozenset({"Keys", "Items"})


def to_attribute(value: Any) -> dict[str, Any]:
    """A plain value as DynamoDB's typed attribute value.

    Examples:
        >>> to_attribute({"n": 3, "ok": True, "v": Decimal("0.25"), "b": b"z", "l": ["a", None]})
        {'M': {'n': {'N': '3'}, 'ok': {'BOOL': True}, 'v': {'N': '0.25'}, 'b': {'B': b'z'}, 'l': {'L': [{'S': 'a'}, {'NULL': True}]}}}
        >>> to_attribute(0.1)
        Traceback (most recent call last):
        ...
        TypeError: float is not a DynamoDB value: use Decimal
    """
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, Decimal):  # plain notation: emulators' ADD parses "1E+1" as a (bad) int
        return {"N": format(value, "f")}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, Mapping):
        return {"M": {str(k): to_attribute(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(v) for v in value]}
    hint = ": use Decimal" if isinstance(value, float) else ""
    raise TypeError(f"{type(value).__name__} is not a DynamoDB value{hint}")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    """A typed attribute value as a plain one (numbers as :class:`Decimal`, binaries as bytes).

    Examples:
        >>> from_attribute({"M": {"n": {"N": "3"}, "s": {"SS": ["a"]}, "b": {"B": b"z"}, "x": {"NULL": True}}})
        {'n': Decimal('3'), 's': {'a'}, 'b': b'z', 'x': None}
    """
    ((kind, value),) = attribute.items()
    if kind in ("S", "B", "BOOL"):
        return value
    if kind == "N":
        return Decimal(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {k: from_attribute(v) for k, v in value.items()}
    if kind == "L":
        return [from_attribute(v) for v in value]
    if kind in ("SS", "BS"):
        return set(value)
    if kind == "NS":
        return {Decimal(v) for v in value}
    raise TypeError(f"unknown DynamoDB attribute type {kind!r}")


def _convert(data: Any, attribute: Callable[[Any], Any]) -> Any:
    """``data`` with every attribute map (``Key``, ``Item``, ``Keys``, ``Responses``' items, ...)
    converted value by value with ``attribute``; every other part as it is."""
    if isinstance(data, list):
        return [_convert(item, attribute) for item in data]
    if not isinstance(data, dict):
        return data
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in _ATTRIBUTE_MAPS and isinstance(value, dict):
            out[key] = {name: attribute(v) for name, v in value.items()}
        elif key in _ATTRIBUTE_MAP_LISTS and isinstance(value, list):
            out[key] = [{name: attribute(v) for name, v in item.items()} for item in value]
        elif key == "Responses" and isinstance(value, dict):  # BatchGetItem: table -> items
            out[key] = {
                table: [{n: attribute(v) for n, v in item.items()} for item in items] for table, items in value.items()
            }
        else:
            out[key] = _convert(value, attribute)
    return out


class PlainDynamo:
    """botocore's DynamoDB client taking and returning plain Python values, as boto3's resource client
    does (keys, items, expression values, unprocessed requests), without boto3; made on first call.

    Only what :class:`DynamoWorkerStore` calls is needed: ``get_item``, ``batch_get_item``,
    ``transact_write_items``, ``query``, ``batch_write_item``; any other call converts the same way.
    """

    def __init__(self, make_client: Callable[[], Any]) -> None:
        self._make_client = make_client
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The typed client, created on first use."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_"):
            raise AttributeError(name)

        def call(**kwargs: Any) -> Any:
            answer = getattr(self.client, name)(**_convert(kwargs, to_attribute))
            return _convert(answer, from_attribute)

        return call
