"""The aggregation contract: one small base per family of algorithms (crowd-kit's ``aggregation/base``).

Every algorithm is a dataclass whose parameters are documented attributes and whose fitted results
end in an underscore. Whatever the family:

* ``fit(observations, prior=None) -> self`` learns the batch's workers from ``observations`` (the
  whole batch, in the family's type below). ``prior`` is what a job's earlier batches learnt about
  the same workers: the sum of their ``worker_statistics_``, in the same layout.
* ``worker_statistics_`` is this batch's own per-worker evidence, without the prior. It is additive:
  summed over a job's batches it is the next batch's ``prior`` (:mod:`tally.worker_store` keeps the
  sums per job, task and worker).
* ``predict`` decides with the fitted workers, and ``fit_predict`` is both. The per-object work the fit
  did (clusters, matchings, posteriors) is kept and reused: ``predict`` on an object that ``fit`` saw
  (the same object) does not compute it again.

The families:

=====================  ====================================  ==============================  ==========================
family                 base (observations)                   algorithms                      ``predict``
=====================  ====================================  ==============================  ==========================
classification         :class:`ClassificationAggregator`     ``DawidSkene``,                 every object's class
                       (:class:`ClassAnswers`,               ``MultiLabelDawidSkene``        (label set)
                       :class:`LabelSetAnswers`)
spans                  :class:`SpanAggregator`               ``SpanVote``                    one object's entities
                       (per object, ``(worker, spans)``)
geometric items        :class:`ItemAggregator`               ``BoxConsolidation``,           one object's kept,
                       (:class:`ObjectItems`)                ``KeypointConsolidation``,      fused items
                                                             ``InstanceConsolidation``
pixels                 :class:`Aggregator`                   ``LeaveOneOutWeights``          one object's weighted
                       (per object, ``ObjectVotes``)                                         vote (``Weighing``)
=====================  ====================================  ==============================  ==========================

The geometric algorithms share one matching, keep and reliability core
(:class:`~tally.aggregation.geometric.ItemConsolidation`). Segmentation's reliability vote
(:class:`~tally.aggregation.weighted_pixel_vote.LeaveOneOutWeights`) predicts per object
(``predict(obj, n_classes)``); the rest of the pixel vote (boundaries, ties, disputed regions,
confidences) is :mod:`tally.aggregation.pixel_vote`.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

import numpy as np
import numpy.typing as npt

__all__ = [
    "Aggregator",
    "ClassAnswers",
    "ClassificationAggregator",
    "Consolidated",
    "Entity",
    "ItemAggregator",
    "LabelSetAnswers",
    "ObjectItems",
    "Span",
    "SpanAggregator",
    "WorkerItems",
    "WorkerSpans",
    "as_index",
    "as_truth",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

Obs = TypeVar("Obs")  # a batch's observations
Prior = TypeVar("Prior")  # what earlier batches learnt: the layout of worker_statistics_
A = TypeVar("A", bound="ClassAnswers | LabelSetAnswers")


class Aggregator(ABC, Generic[Obs, Prior]):
    """What every algorithm has (module docstring): ``fit(observations, prior) -> self`` and the
    additive ``worker_statistics_`` a job's later batches take as their ``prior``."""

    worker_statistics_: Any
    """This batch's own per-worker evidence, without the prior (each algorithm documents its layout)."""

    @abstractmethod
    def fit(self, observations: Obs, prior: Prior | None = None) -> Self:
        """Learn the batch's workers; ``prior``: the sum of earlier batches' ``worker_statistics_``."""


# --- classification -------------------------------------------------------------------------------


def as_index(name: str, values: npt.ArrayLike, n: int) -> IntArray:
    """``values`` as a one-dimensional array of indices in ``0..n-1``, or a ``ValueError`` naming ``name``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    out = arr.astype(np.intp, copy=False)
    bad = int(np.count_nonzero((out < 0) | (out >= n)))
    if bad:
        raise ValueError(f"{bad} {name} are outside 0..{n - 1}; map IDs to indices below the given count")
    return out


@dataclass(frozen=True, init=False, eq=False)
class ClassAnswers:
    """A batch of single-label answers, one row per answer, as integer indices (the caller maps object
    IDs, worker IDs and label names to them).

    Example:
        >>> answers = ClassAnswers([0, 0, 1], [0, 1, 0], [1, 1, 0], n_tasks=2, n_workers=2, n_classes=2)
        >>> answers.labels.tolist(), answers.n_classes
        ([1, 1, 0], 2)
    """

    tasks: IntArray
    """Object index of each answer, ``0..n_tasks-1``."""
    workers: IntArray
    """Worker index of each answer, ``0..n_workers-1``."""
    labels: IntArray
    """Answered class of each answer, ``0..n_classes-1``."""
    n_tasks: int
    """Number of objects (objects without answers are allowed)."""
    n_workers: int
    n_classes: int

    def __init__(
        self,
        tasks: npt.ArrayLike,
        workers: npt.ArrayLike,
        labels: npt.ArrayLike,
        *,
        n_tasks: int,
        n_workers: int,
        n_classes: int,
    ) -> None:
        if n_classes < 1 or n_tasks < 0 or n_workers < 0:
            raise ValueError("n_classes must be at least 1, n_tasks and n_workers non-negative")
        t = as_index("tasks", tasks, n_tasks)
        w = as_index("workers", workers, n_workers)
        y = as_index("labels", labels, n_classes)
        if not t.size == w.size == y.size:
            raise ValueError(f"tasks, workers and labels differ in length: {t.size}, {w.size}, {y.size}")
        object.__setattr__(self, "tasks", t)
        object.__setattr__(self, "workers", w)
        object.__setattr__(self, "labels", y)
        object.__setattr__(self, "n_tasks", n_tasks)
        object.__setattr__(self, "n_workers", n_workers)
        object.__setattr__(self, "n_classes", n_classes)


@dataclass(frozen=True, init=False, eq=False)
class LabelSetAnswers:
    """A batch of multi-label answers, one row per answer: which of ``L`` labels each answer ticked (an
    empty row is a valid answer: nothing applies)."""

    tasks: IntArray
    """Object index of each answer, ``0..n_tasks-1``."""
    workers: IntArray
    """Worker index of each answer, ``0..n_workers-1``."""
    label_sets: npt.NDArray[np.int8]
    """``(n_answers, L)`` 0/1 matrix."""
    n_tasks: int
    n_workers: int

    def __init__(
        self,
        tasks: npt.ArrayLike,
        workers: npt.ArrayLike,
        label_sets: npt.ArrayLike,
        *,
        n_tasks: int,
        n_workers: int,
    ) -> None:
        sets = np.asarray(label_sets)
        if sets.ndim != 2:
            raise ValueError(f"label_sets must be a (n_answers, L) 0/1 matrix, got shape {sets.shape}")
        if sets.size and not np.isin(sets, (0, 1)).all():
            raise ValueError("label_sets must hold only 0 and 1")
        if n_tasks < 0 or n_workers < 0:
            raise ValueError("n_tasks and n_workers must be non-negative")
        t = as_index("tasks", tasks, n_tasks)
        w = as_index("workers", workers, n_workers)
        if not t.size == w.size == sets.shape[0]:
            raise ValueError(f"tasks, workers and label_sets differ in length: {t.size}, {w.size}, {sets.shape[0]}")
        object.__setattr__(self, "tasks", t)
        object.__setattr__(self, "workers", w)
        object.__setattr__(self, "label_sets", sets.astype(np.int8, copy=False))
        object.__setattr__(self, "n_tasks", n_tasks)
        object.__setattr__(self, "n_workers", n_workers)

    @property
    def n_labels(self) -> int:
        return int(self.label_sets.shape[1])


class ClassificationAggregator(Aggregator[A, npt.ArrayLike]):
    """Classification: ``fit(answers, prior)`` over a batch of answers; per object a posterior and a
    decision (``posteriors_``, ``labels_``); ``worker_statistics_`` are confusion counts per worker."""

    labels_: npt.NDArray[Any]
    posteriors_: FloatArray

    @abstractmethod
    def predict(self, observations: A) -> npt.NDArray[Any]:
        """Every object's decision; the fitted batch's are ``labels_`` (not computed again)."""

    def fit_predict(self, observations: A, prior: npt.ArrayLike | None = None) -> npt.NDArray[Any]:
        """:meth:`fit`, then :meth:`predict` on the same answers."""
        return self.fit(observations, prior).predict(observations)


# --- spans ----------------------------------------------------------------------------------------

Span = tuple[int, int, int]
"""``(label, start, end)``: character offsets, ``end`` exclusive."""

WorkerSpans = tuple[int, Sequence[Span]]
"""One worker's answer to one object: ``(worker index, spans)``."""


@dataclass(frozen=True)
class Entity:
    """A voted entity: ``text[start:end]`` is a ``label``."""

    label: int
    start: int
    end: int
    confidence: float
    """Share of the object's answering weight that marked this entity with this label."""
    workers: tuple[int, ...]
    """The workers whose span in the cluster has the winning label (sorted)."""


class SpanAggregator(Aggregator[Sequence[Sequence[WorkerSpans]], npt.ArrayLike]):
    """Spans (named entities): ``fit(objects, prior)``, each object one ``(worker, spans)`` per answer;
    ``predict(obj)`` votes one object into :class:`Entity` values."""

    @abstractmethod
    def predict(self, observation: Sequence[WorkerSpans]) -> list[Entity]:
        """One object's entities, sorted by start, end and label."""

    def fit_predict(
        self, observations: Sequence[Sequence[WorkerSpans]], prior: npt.ArrayLike | None = None
    ) -> list[list[Entity]]:
        """:meth:`fit`, then :meth:`predict` every object (each one's fitted work reused)."""
        self.fit(observations, prior)
        return [self.predict(obj) for obj in observations]


# --- geometric items ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerItems:
    """One worker's items on one object.

    ``geometry`` is, by algorithm: boxes ``(n, 4)`` ``x0, y0, x1, y1`` floats (see
    :func:`~tally.aggregation.box_fusion.boxes_from_ltwh`); keypoints ``(n, 2)`` ``x, y``; instances an
    ``(H, W)`` integer instance map where instance *k* is value ``k + 1``.
    """

    worker: str
    labels: tuple[Hashable, ...]
    geometry: npt.NDArray[np.generic]


@dataclass(frozen=True)
class ObjectItems:
    """Every answer to one object, and the image size (pixels).

    ``similarity``, when set, is the matrix of similarities between all items of all answers
    (concatenated in answer order) computed beforehand: the model then never reads ``geometry``
    to match them, so :meth:`~tally.aggregation.instance_consolidation.InstanceConsolidation.summary`
    can drop it (instance maps) for the batch fit. Such an object can be fitted on, and predicted
    only with its instance table."""

    answers: tuple[WorkerItems, ...]
    width: int
    height: int
    similarity: FloatArray | None = None


@dataclass(frozen=True)
class Consolidated:
    """The kept, fused items of one object (same order in every field)."""

    labels: list[Hashable]
    geometry: npt.NDArray[np.generic]
    """Boxes ``(K, 4)`` / keypoints ``(K, 2)`` floats, or the fused ``(H, W)`` int32 instance map (item
    *k* is value ``k + 1``)."""
    confidence: FloatArray
    support: FloatArray
    agreement: FloatArray
    workers: list[tuple[str, ...]]
    """Per item, the workers whose items were fused into it."""
    members: list[tuple[tuple[int, int], ...]]
    """Per item, its members as ``(answer index, item index)`` pairs (same order as ``workers``)."""


class KeptItems(Protocol):
    """A fused result's per-item figures (:class:`Consolidated`, :class:`~tally.aggregation.lines.FusedLines`)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def confidence(self) -> FloatArray: ...

    @property
    def support(self) -> FloatArray: ...

    @property
    def agreement(self) -> FloatArray: ...


Kept = TypeVar("Kept", bound=KeptItems)


def as_truth(kept: Kept) -> Kept:
    """A gold object's kept items (its gold answer's, fused alone): each the known truth, its
    confidence, support and agreement 1. The one place the shapes and the lines hold a gold answer."""
    ones = np.ones(len(kept.confidence))
    return dataclasses.replace(kept, confidence=ones, support=ones, agreement=ones)


class ItemAggregator(Aggregator[Sequence[ObjectItems], Mapping[str, Sequence[float]]]):
    """Geometric items (boxes, keypoints, instances): ``fit(objects, prior)``; ``predict(obj)``
    matches, keeps and fuses one object's items; ``worker_statistics_`` are evidence counts per worker ID."""

    worker_statistics_: dict[str, list[float]]

    @abstractmethod
    def predict(self, observation: ObjectItems) -> Consolidated:
        """One object's kept and fused items."""

    def fit_predict(
        self, observations: Sequence[ObjectItems], prior: Mapping[str, Sequence[float]] | None = None
    ) -> list[Consolidated]:
        """:meth:`fit`, then :meth:`predict` every object (each one's fitted matching reused)."""
        self.fit(observations, prior)
        return [self.predict(obj) for obj in observations]
