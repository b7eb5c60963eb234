"""Worker reliability for the pixel vote: agreement on the object, shrunk toward the batch.

The default algorithm (``reliability``) is a weighted pixel vote whose weights come from how well
each worker agrees with the *other* workers, judged on this object and across the batch (numpy only,
no I/O; everything runs on each object's distinct vote tuples, :class:`tally.vote.VoteTable`):

1. **Agreement on the object.** For each pair of workers, the mean IoU of their masks over the
   classes either of them painted (background left out; two empty masks agree fully). A worker's
   agreement is the mean over the others, in the spirit of STAPLE's per-object performance levels
   (Warfield et al. 2004) but without its EM, which falls for copied answers and for a lone answer.
2. **Copies count once.** Workers whose masks are identical pixel for pixel are one voice: they share
   one vote and are not compared with each other. Independent hand-drawn masks are never identical
   unless (nearly) empty, so identical masks labelling less than :data:`COPY_MIN_FRACTION` of the
   image (or :data:`COPY_MIN_PIXELS`) keep a full vote each.
3. **The batch as a prior.** Each worker's agreement over every object of the batch (worker IDs recur
   across objects) is averaged; the object's agreement is shrunk toward it (``shrinkage``), so a
   worker who is careful on most objects but sloppy on this one is judged on this one, while with
   only two workers — whose pairwise agreement is symmetric — the batch decides who is more reliable
   (the idea of Dawid & Skene 1979's per-worker error rates, without their degenerate optima on
   small crowds).
4. **Weights.** ``w = exp(sharpness * (a - a_best))``: the best worker weighs 1 and a worker 0.1 less
   in agreement weighs about ``exp(-sharpness / 10)``, so a spammer, a lazy worker or a sloppy one
   cannot tip a disagreement between careful workers.
5. **Decision.** Each tuple goes to the class with the largest weighted vote. Exact ties go to the
   tied class painted by the strictly most reliable worker; ties between equally reliable workers
   are settled from the neighbouring pixels (:mod:`tally.spatial`: a disputed band is split down its
   middle), and what that cannot reach is background, as in the plain vote. Nothing depends on the
   order of the answers.

Per pixel the reported confidence is the winner's share of the weighted vote; per class, the expected
IoU of the decision under those shares; per object, their mean over the classes present.

References:
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates using the EM
    algorithm", Applied Statistics 28(1), 1979.
    S. K. Warfield, K. H. Zou and W. M. Wells, "Simultaneous truth and performance level estimation
    (STAPLE)", IEEE TMI 23(7), 2004.
    D. Ustalov et al., "Learning from crowds with Crowd-Kit", 2023 (SegmentationMajorityVote, EM, RASA).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from .spatial import MAX_TIE_CLASSES
from .vote import ABSTAIN, VoteTable

__all__ = [
    "COPY_MIN_FRACTION",
    "COPY_MIN_PIXELS",
    "BatchModel",
    "ObjectVotes",
    "Params",
    "fit_batch",
    "weigh",
]

COPY_MIN_PIXELS = 16
TIE_TOLERANCE = 0.01
"""Classes whose weighted votes differ by less than this share of all votes are tied: a voice of
negligible weight (a spammer) cannot break a tie between careful workers."""
COPY_MIN_FRACTION = 0.005

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Params:
    """Tuning of the weighted vote (defaults chosen on ``bench/quality.py``).

    Attributes:
        shrinkage: weight of the worker's batch agreement against this object's (0: object only).
        sharpness: how fast a worker's weight falls with their agreement below the best worker's.
        dead_zone: agreement this close to the best worker's still weighs fully (noise, not skill).
        prior_agreement: the agreement assumed for a worker with nobody to compare with.
    """

    shrinkage: float = 0.5
    sharpness: float = 15.0
    dead_zone: float = 0.06
    prior_agreement: float = 0.8


@dataclass(frozen=True)
class ObjectVotes:
    """One object's distinct vote tuples, reduced to what the weighting needs.

    Attributes:
        workers: worker ID of each column.
        votes: ``(U, K)`` class key or :data:`ABSTAIN` per tuple and worker (tuples present only).
        counts: ``(U,)`` pixel count of each tuple.
        group: ``(K,)`` copy group of each column (columns with identical substantial masks share one).
    """

    workers: tuple[str, ...]
    votes: npt.NDArray[np.uint8]
    counts: FloatArray
    group: npt.NDArray[np.intp]

    @classmethod
    def from_table(cls, workers: Sequence[str], table: VoteTable) -> ObjectVotes:
        present = table.counts > 0
        votes = table.votes[present]
        counts = table.counts[present].astype(np.float64)
        n = votes.shape[1]
        group = np.arange(n)
        substantial = max(COPY_MIN_PIXELS, COPY_MIN_FRACTION * counts.sum())
        for k in range(n):
            if group[k] != k or counts[(votes[:, k] != 0) & (votes[:, k] != ABSTAIN)].sum() < substantial:
                continue  # already in an earlier group, or too small to tell a copy from agreement
            for j in range(k + 1, n):
                if np.array_equal(votes[:, j], votes[:, k]):
                    group[j] = k
        return cls(tuple(workers), votes, counts, group)

    @property
    def share(self) -> FloatArray:
        """The vote each column casts: ``1/g`` in a copy group of *g*."""
        sizes = np.bincount(self.group, minlength=len(self.group))
        return 1.0 / sizes[self.group]

    @cached_property
    def agreement(self) -> list[float | None]:
        """Each column's agreement on this object (:func:`object_agreement`), computed once."""
        return object_agreement(self)


def pairwise_iou(obj: ObjectVotes) -> FloatArray:
    """``(K, K)`` mean IoU of every pair of columns over the non-background classes either painted
    (1.0 where neither painted any)."""
    n = obj.votes.shape[1]
    classes = [c for c in np.unique(obj.votes).tolist() if c not in (0, ABSTAIN)]
    total = np.zeros((n, n))
    used = np.zeros((n, n))
    for c in classes:
        painted = (obj.votes == c).astype(np.float64)  # (U, K)
        inter = painted.T @ (painted * obj.counts[:, None])
        size = np.diag(inter)
        union = size[:, None] + size[None, :] - inter
        either = union > 0
        total[either] += inter[either] / union[either]
        used += either
    return np.divide(total, used, out=np.ones((n, n)), where=used > 0)


def object_agreement(obj: ObjectVotes) -> list[float | None]:
    """Each column's mean IoU with the other (non-copy) columns; ``None`` with nobody to compare."""
    n = obj.votes.shape[1]
    share = obj.share
    iou = pairwise_iou(obj)
    out: list[float | None] = []
    for k in range(n):
        others = obj.group != obj.group[k]
        if not others.any():
            out.append(None)
            continue
        out.append(float(share[others] @ iou[k, others] / share[others].sum()))
    return out


@dataclass
class BatchModel:
    """Each worker's mean agreement over the batch's objects."""

    agreement: dict[str, float] = field(default_factory=dict)

    def reliability(self, worker: str) -> float | None:
        return self.agreement.get(worker)


def fit_batch(observations: Sequence[ObjectVotes]) -> BatchModel:
    """Average every worker's per-object agreement over the batch."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for obj in observations:
        for worker, value in zip(obj.workers, obj.agreement, strict=True):
            if value is not None:
                sums[worker] = sums.get(worker, 0.0) + value
                counts[worker] = counts.get(worker, 0) + 1
    return BatchModel({w: sums[w] / counts[w] for w in sums})


@dataclass(frozen=True)
class Weighing:
    """One object's weighted vote.

    Attributes:
        labels: ``(U,)`` the decided class per tuple.
        support: ``(U, C)`` each class's share of the weighted vote per tuple.
        agreement: ``(K,)`` each column's agreement used for its weight (object, shrunk to batch).
        weights: ``(K,)`` each column's vote weight (copies share theirs).
        open_ties: ``(U,)`` bitmask of the classes a tuple stays tied between (0: decided), for
            :func:`tally.spatial.settle_ties`.
    """

    labels: npt.NDArray[np.uint8]
    support: FloatArray
    agreement: FloatArray
    weights: FloatArray
    open_ties: npt.NDArray[np.uint64]


def weigh(obj: ObjectVotes, n_classes: int, model: BatchModel | None = None, params: Params | None = None) -> Weighing:
    """The weighted vote of one object (see the module docstring)."""
    params = params or Params()
    model = model or BatchModel()
    on_object = obj.agreement
    agreement = np.empty(len(obj.workers))
    for k, (worker, value) in enumerate(zip(obj.workers, on_object, strict=True)):
        batch = model.agreement.get(worker)
        if value is None:
            agreement[k] = batch if batch is not None else params.prior_agreement
        elif batch is None:
            agreement[k] = value
        else:
            agreement[k] = (value + params.shrinkage * batch) / (1.0 + params.shrinkage)
    shortfall = np.maximum(0.0, agreement.max() - agreement - params.dead_zone)
    weights = obj.share * np.exp(-params.sharpness * shortfall)
    scores = np.zeros((obj.votes.shape[0], n_classes))
    rows = np.arange(obj.votes.shape[0])
    for k in range(obj.votes.shape[1]):
        cast = obj.votes[:, k] != ABSTAIN
        scores[rows[cast], obj.votes[cast, k]] += weights[k]
    labels, open_ties = _decide(obj.votes, scores, weights / obj.share)
    totals = scores.sum(axis=1, keepdims=True)
    support = np.divide(scores, totals, out=np.zeros_like(scores), where=totals > 0)
    return Weighing(labels, support, agreement, weights, open_ties)


def _decide(
    votes: npt.NDArray[np.uint8], scores: FloatArray, standing: FloatArray
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint64]]:
    """Argmax per tuple. Exact ties go to the tied class painted by the worker of strictly highest
    ``standing`` (their weight before copy sharing) among those who painted a tied class. Ties that
    remain (workers of equal standing) are background for now and are returned as a bitmask of their
    tied classes and background, for :mod:`tally.spatial`. Nothing depends on the order of the
    workers."""
    best = scores.max(axis=1, keepdims=True)
    tied = scores >= best - TIE_TOLERANCE * scores.sum(axis=1, keepdims=True)
    labels: npt.NDArray[np.uint8] = np.argmax(scores, axis=1).astype(np.uint8)
    open_ties = np.zeros(len(labels), dtype=np.uint64)
    labels[tied.sum(axis=1) > 1] = 0  # unresolved ties are background (see tally.vote)
    for u in np.flatnonzero(tied.sum(axis=1) > 1):
        backers = [(float(standing[k]), int(votes[u, k])) for k in range(votes.shape[1])
                   if votes[u, k] != ABSTAIN and tied[u, votes[u, k]]]  # fmt: skip
        top = max(a for a, _ in backers)
        classes = {c for a, c in backers if a >= top - 1e-12}
        if len(classes) == 1:
            labels[u] = classes.pop()
            continue
        candidates = np.union1d(np.flatnonzero(tied[u]), [0])  # background is always a candidate
        if candidates.max() < MAX_TIE_CLASSES:
            open_ties[u] = np.bitwise_or.reduce(np.left_shift(np.uint64(1), candidates.astype(np.uint64)))
    return labels, open_ties


def expected_iou(
    votes: npt.NDArray[np.uint8],
    support: FloatArray,
    labels: npt.NDArray[np.uint8],
    counts: FloatArray,
    n_classes: int,
) -> tuple[list[float], float]:
    """Per-class expected IoU of the decision when each tuple's truth follows ``support``,
    ``E[TP] / (|decided| + E[FN])``, and the mean over the classes decided somewhere or painted by
    some worker. A class that is neither gets 1.0 and stays out of the mean."""
    painted = set(np.unique(votes[votes != ABSTAIN]).tolist()) | set(np.unique(labels).tolist())
    per_class: list[float] = []
    present: list[float] = []
    for c in range(n_classes):
        if c not in painted:
            per_class.append(1.0)
            continue
        chosen = labels == c
        mass = counts * support[:, c]
        denominator = float(counts[chosen].sum() + mass[~chosen].sum())
        iou = float(mass[chosen].sum()) / denominator if denominator > 0 else 1.0
        per_class.append(iou)
        present.append(iou)
    return per_class, float(np.mean(present)) if present else 1.0
