"""Worker models that outlive a batch: additive per-worker statistics kept per job and task type.

Ground Truth calls the consolidation Lambda once per batch, and a batch may hold one object. A task
with a batch model (:class:`tally.tasks.base.LearnsAcrossBatches`) turns its fitted model into
*sufficient statistics* per key (a worker): confusion counts, agreement sums, evidence counts. They
are additive, so the job's model is their sum over the batches seen so far. A batch:

1. loads the sums for its own workers (:meth:`WorkerStore.load`), fits with them as a prior;
2. records its own contribution (:meth:`WorkerStore.record`) under its *batch key*, a digest of the
   payload's URI and bytes (:func:`batch_key`), together with the prior it used.

**Retries.** A retried batch (same payload) finds its record: ``load`` returns the prior that was used
the first time, so the fit and the response are the same bytes, and nothing is added again. When two
runs of one batch race, the second ``record`` finds the first's record and returns its prior; the
driver refits with it, so both responses agree.

**Concurrency.** Contributions are added atomically (DynamoDB ``ADD`` in :class:`tally.stores.dynamodb.DynamoWorkerStore`,
a lock here), so concurrent batches never lose each other's updates. Values are rounded to
:data:`DECIMALS` places and summed as decimals, so the sums do not depend on the order of the batches.

**Failures.** A store that cannot be reached raises :class:`WorkerStoreError`; the driver then
consolidates the batch on its own evidence, with a warning.

What is stored is numbers per worker ID; never answers, labels given, object IDs or image data.

Example:
    >>> store = InMemoryWorkerStore()
    >>> store.load("job", "boxes", "b1", ["w1"]).prior
    {}
    >>> store.record("job", "boxes", "b1", {"w1": [1.0, 2.5]}, {}) is None
    True
    >>> store.record("job", "boxes", "b2", {"w1": [1.0, 0.5], "w2": [3.0, 0.0]}, {"w1": [1.0, 2.5]}) is None
    True
    >>> store.load("job", "boxes", "b3", ["w1", "w2", "w3"]).prior
    {'w1': [2.0, 3.0], 'w2': [3.0, 0.0]}
    >>> retried = store.load("job", "boxes", "b2", ["w1", "w2"])
    >>> retried.recorded, retried.prior
    (True, {'w1': [1.0, 2.5]})
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from .errors import TallyError

__all__ = [
    "DECIMALS",
    "InMemoryWorkerStore",
    "Loaded",
    "WorkerStatistics",
    "WorkerStore",
    "WorkerStoreError",
    "batch_key",
    "normalise",
    "to_decimal",
]

WorkerStatistics = dict[str, list[float]]
"""Per key (a worker ID), a vector of additive statistics; its meaning and length belong to the task."""

DECIMALS = 4
"""Places every stored value is rounded to: a ten-thousandth of an answer, an object or a pixel share.
Statistics are counts and sums of shares; finer digits carry no information (a confusion count of
``4e-9``), and sums of rounded values are exact as decimals."""


class WorkerStoreError(TallyError):
    """The store could not be read or written (unreachable, throttled, denied); the batch goes on
    without it."""


@dataclass(frozen=True)
class Loaded:
    """What :meth:`WorkerStore.load` found.

    Attributes:
        prior: the sums for the keys asked (keys never recorded are absent), or, when ``recorded``,
            the prior this batch used the first time.
        recorded: this batch key has a record already (a retry): reuse ``prior`` and record nothing.
    """

    prior: WorkerStatistics
    recorded: bool = False


class WorkerStore(Protocol):
    """Per (job, task) additive worker statistics with one record per batch (module docstring)."""

    def load(self, job: str, task: str, batch: str, keys: Sequence[str]) -> Loaded:
        """The sums for ``keys``, or the prior ``batch`` used when it was recorded already.

        Raises:
            WorkerStoreError: the store cannot be read.
        """
        ...

    def record(
        self, job: str, task: str, batch: str, contribution: WorkerStatistics, prior_used: WorkerStatistics
    ) -> WorkerStatistics | None:
        """Add ``contribution`` to the sums and keep ``prior_used`` under ``batch``, at most once per
        batch key. Returns ``None`` when recorded now, else the prior of the earlier record (nothing
        is added).

        Raises:
            WorkerStoreError: the store cannot be written (nothing, or for a very large batch only a
                part, was added; see :class:`tally.stores.dynamodb.DynamoWorkerStore`).
        """
        ...


def batch_key(uri: str, payload: bytes) -> str:
    """The batch's key: SHA-256 of the payload URI and bytes (hex, 64 characters).

    >>> batch_key("s3://b/p.json", b"[]")[:16]
    '5eee0c387eb919f6'
    """
    digest = hashlib.sha256(uri.encode("utf-8"))
    digest.update(b"\0")
    digest.update(payload)
    return digest.hexdigest()


def to_decimal(value: float) -> Decimal:
    """``value`` rounded to :data:`DECIMALS` places, as a decimal in plain notation: no exponent
    (``Decimal.normalize`` writes ``10`` as ``1E+1``, which moto's and some other DynamoDB emulators'
    ``ADD`` cannot parse), no trailing zeros, ``-0`` as ``0``.

    >>> [str(to_decimal(v)) for v in (4e-9, 10.0, 0.00016, 250.0, -0.0)]
    ['0', '10', '0.0002', '250', '0']
    """
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return Decimal(text) + Decimal(0)


def normalise(statistics: Mapping[str, Iterable[float]]) -> WorkerStatistics:
    """Every value rounded to :data:`DECIMALS` places, keys sorted; keys with a non-finite value are
    left out (they cannot be summed).

    >>> normalise({"b": [0.1 + 0.2], "a": [float("nan")]})
    {'b': [0.3]}
    """
    out: WorkerStatistics = {}
    for key in sorted(statistics):
        values = [float(v) for v in statistics[key]]
        if all(math.isfinite(v) for v in values):
            out[key] = [float(to_decimal(v)) for v in values]
    return out


class InMemoryWorkerStore:
    """:class:`WorkerStore` in memory (tests, the local CLI); thread-safe. Sums are kept as decimals,
    as DynamoDB does."""

    def __init__(self) -> None:
        self._sums: dict[tuple[str, str], dict[str, list[Decimal]]] = {}
        self._batches: dict[tuple[str, str, str], WorkerStatistics] = {}
        self._lock = threading.Lock()
        self.loads = 0
        self.records = 0

    def load(self, job: str, task: str, batch: str, keys: Sequence[str]) -> Loaded:
        with self._lock:
            self.loads += 1
            if (job, task, batch) in self._batches:
                return Loaded(_copy(self._batches[(job, task, batch)]), recorded=True)
            sums = self._sums.get((job, task), {})
            return Loaded({k: [float(v) for v in sums[k]] for k in sorted(set(keys)) if k in sums})

    def record(
        self, job: str, task: str, batch: str, contribution: WorkerStatistics, prior_used: WorkerStatistics
    ) -> WorkerStatistics | None:
        with self._lock:
            self.records += 1
            earlier = self._batches.get((job, task, batch))
            if earlier is not None:
                return _copy(earlier)
            sums = self._sums.setdefault((job, task), {})
            added = normalise(contribution)
            for key, values in added.items():
                current = sums.get(key)
                if current is not None and len(current) != len(values):
                    raise WorkerStoreError(
                        f"stored statistics have {len(current)} values per worker, not {len(values)}"
                    )
            for key, values in added.items():
                current = sums.setdefault(key, [Decimal(0)] * len(values))
                sums[key] = [c + to_decimal(v) for c, v in zip(current, values, strict=True)]
            self._batches[(job, task, batch)] = _copy(prior_used)
            return None

    def reset(self, job: str, task: str | None = None) -> None:
        """Forget a job's statistics and batch records (for every task when ``task`` is ``None``)."""
        with self._lock:
            for key in [k for k in self._sums if k[0] == job and task in (None, k[1])]:
                del self._sums[key]
            for bkey in [k for k in self._batches if k[0] == job and task in (None, k[1])]:
                del self._batches[bkey]

    def totals(self, job: str, task: str) -> WorkerStatistics:
        """Every key's sum (for tests and inspection)."""
        with self._lock:
            return {k: [float(v) for v in vs] for k, vs in sorted(self._sums.get((job, task), {}).items())}


def _copy(statistics: WorkerStatistics) -> WorkerStatistics:
    return {k: list(v) for k, v in statistics.items()}
