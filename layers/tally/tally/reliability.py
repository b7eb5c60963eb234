"""Worker reliability for the pixel vote: pairwise agreement factorised over the batch.

The default algorithm (``reliability``) is a weighted pixel vote whose weights come from how well
each worker agrees with the others, judged on this object and across the batch (numpy only, no I/O;
everything runs on each object's distinct vote tuples, :class:`tally.vote.VoteTable`):

1. **Pairwise agreement.** For each pair of answers to an object, the mean IoU of their masks over
   the classes either of them painted (background left out; two empty masks agree fully).
2. **Copies count once.** Workers whose masks are identical pixel for pixel are one voice: they share
   one vote and are not compared with each other. Independent hand-drawn masks are never identical
   unless (nearly) empty, so identical masks labelling less than :data:`COPY_MIN_FRACTION` of the
   image (or :data:`COPY_MIN_PIXELS`) keep a full vote each.
3. **Reliability by factorising agreement.** Two workers agree about as well as the product of how
   well each agrees with the truth, ``IoU(i, j) ≈ r_i * r_j``, so ``log IoU(i, j) = a_i + a_j`` with
   ``r = exp(a)``: the rank-one structure of the agreement matrix that Dalvi et al. (2013) and Parisi
   et al. (2014) use to rank annotators without ground truth. Every pair of every object of the batch
   (worker IDs recur across objects) is one equation; least squares with a light ridge toward the
   batch mean (``batch_ridge``) gives each worker's batch reliability. Unlike a worker's mean
   agreement with the others, this does not mark down a careful worker for having shared objects
   with a sloppy one. Per object the same least squares runs on the object's own pairs, each worker's
   batch value acting as a prior of strength ``object_prior``: with three or more workers the
   object's own triangle of agreements picks out who is off on *this* object (a careful worker's bad
   day is judged on the day); with two, whose agreement is symmetric, the batch decides; alone, the
   record is the worker's batch value (the idea of Dawid & Skene 1979's per-worker error rates,
   without their degenerate optima on small crowds, and of STAPLE's per-object performance levels,
   Warfield et al. 2004, without their EM, which falls for copied answers and for a lone answer).
4. **Weights.** ``w = exp(-sharpness * max(0, r_best - r - dead_zone))``: the best worker weighs 1 and
   those within ``dead_zone`` of them too (noise, not skill); below that the weight falls fast, so a
   spammer, a lazy worker or a sloppy one cannot tip a disagreement between careful workers.
5. **Decision.** Each tuple goes to the class with the largest weighted vote. Ties (within
   :data:`TIE_TOLERANCE`) go to the tied class painted by the strictly most reliable worker; what stays
   tied is left to the spatial step. Nothing depends on the order of the answers.
6. **Spatial evidence** (:mod:`tally.spatial`): on the band where workers disagree whether a pixel is
   one class or background, the weighted shares are averaged over the pixel's neighbourhood, which
   places the boundary at the weighted *mean* of the workers' outlines rather than at their median;
   ties left after that are settled from the neighbouring pixels (a disputed band is split down its
   middle), and background where nothing reaches.

Per pixel the reported confidence is the share of the weighted vote the final class got there; per
class, the expected IoU of the decision under those shares; per object, their mean over the classes
present.

References:
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates using the EM
    algorithm", Applied Statistics 28(1), 1979.
    S. K. Warfield, K. H. Zou and W. M. Wells, "Simultaneous truth and performance level estimation
    (STAPLE)", IEEE TMI 23(7), 2004.
    N. Dalvi, A. Dasgupta, R. Kumar and V. Rastogi, "Aggregating crowdsourced binary ratings",
    WWW 2013.
    F. Parisi, F. Strino, B. Nadler and Y. Kluger, "Ranking and combining multiple predictors without
    labeled data", PNAS 111(4), 2014.
    D. Ustalov et al., "Learning from crowds with Crowd-Kit", 2023 (SegmentationMajorityVote, EM, RASA).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from .spatial import MAX_TIE_CLASSES
from .vote import ABSTAIN, VoteTable, vote_scores

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
        batch_ridge: pull of each worker's batch reliability toward the batch mean, against one
            pairwise comparison's pull of 1 (keeps workers seen in few pairs near the mean).
        object_prior: pull of a worker's batch reliability on their reliability on one object,
            against one comparison on the object's pull of 1 (0: the object alone).
        sharpness: how fast a worker's weight falls with their reliability below the best worker's.
        dead_zone: reliability this close to the best worker's still weighs fully (noise, not skill).
        prior_reliability: the reliability assumed for a worker the batch knows nothing about.
        radius: half-width of the square neighbourhood whose shares decide a boundary pixel.
    """

    batch_ridge: float = 0.1
    object_prior: float = 1.0
    sharpness: float = 15.0
    dead_zone: float = 0.06
    prior_reliability: float = 0.8
    radius: int = 2


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
    def pairwise(self) -> FloatArray:
        """:func:`pairwise_iou` of this object, computed once."""
        return pairwise_iou(self)


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


IOU_FLOOR = 0.01
"""Pairwise IoU below this counts as this (its logarithm stays finite)."""


def object_pairs(obj: ObjectVotes) -> list[tuple[int, int, float]]:
    """``(i, j, log IoU)`` for every pair of copy groups on the object, named by their first columns
    (a worker's second answer to the same object is not compared with their first)."""
    heads = [k for k in range(len(obj.group)) if obj.group[k] == k]
    iou = obj.pairwise
    return [
        (i, j, float(np.log(max(float(iou[i, j]), IOU_FLOOR))))
        for n, i in enumerate(heads)
        for j in heads[n + 1 :]
        if obj.workers[i] != obj.workers[j]
    ]


def _least_squares(pairs: Sequence[tuple[int, int, float]], prior: FloatArray, strength: float) -> FloatArray:
    """``a`` minimising ``sum (l_ij - a_i - a_j)^2 + strength * sum (a_i - prior_i)^2``, capped at 0.

    The normal equations are sparse (one entry per pair) and, with ``strength > 0``, symmetric
    positive definite: conjugate gradients on the pair list, so a batch with thousands of workers
    needs no dense matrix."""
    n = len(prior)
    if not pairs:
        return np.minimum(prior, 0.0)
    i = np.fromiter((p[0] for p in pairs), np.intp, len(pairs))
    j = np.fromiter((p[1] for p in pairs), np.intp, len(pairs))
    value = np.fromiter((p[2] for p in pairs), np.float64, len(pairs))

    def apply(a: FloatArray) -> FloatArray:
        both = a[i] + a[j]
        return strength * a + np.bincount(i, both, n) + np.bincount(j, both, n)

    rhs = strength * prior + np.bincount(i, value, n) + np.bincount(j, value, n)
    a = prior.astype(np.float64).copy()
    residual = rhs - apply(a)
    direction = residual.copy()
    size = float(residual @ residual)
    for _ in range(4 * n + 8):
        if size <= 1e-20 * max(1.0, float(rhs @ rhs)):
            break
        step = apply(direction)
        alpha = size / float(direction @ step)
        a += alpha * direction
        residual -= alpha * step
        new_size = float(residual @ residual)
        direction = residual + (new_size / size) * direction
        size = new_size
    solved: FloatArray = np.minimum(a, 0.0)
    return solved


@dataclass
class BatchModel:
    """Each worker's log reliability ``a`` over the batch (reliability ``r = exp(a)``)."""

    log_reliability: dict[str, float] = field(default_factory=dict)

    def reliability(self, worker: str) -> float | None:
        a = self.log_reliability.get(worker)
        return None if a is None else float(np.exp(a))

    def reliabilities(self) -> dict[str, float]:
        return {w: float(np.exp(a)) for w, a in self.log_reliability.items()}


def fit_batch(observations: Sequence[ObjectVotes], params: Params | None = None) -> BatchModel:
    """Every worker's reliability from all the batch's pairwise agreements (module docstring, 3)."""
    params = params or Params()
    index: dict[str, int] = {}
    pairs: list[tuple[int, int, float]] = []
    for obj in observations:
        for i, j, value in object_pairs(obj):
            pairs.append(
                (index.setdefault(obj.workers[i], len(index)), index.setdefault(obj.workers[j], len(index)), value)
            )
    if not pairs:
        return BatchModel()
    mean = float(np.mean([value for _, _, value in pairs])) / 2.0
    solved = _least_squares(pairs, np.full(len(index), mean), params.batch_ridge)
    return BatchModel({worker: float(solved[k]) for worker, k in index.items()})


def object_reliability(obj: ObjectVotes, model: BatchModel, params: Params) -> FloatArray:
    """``(K,)`` each column's reliability on this object, its batch value as the prior."""
    prior = np.array([model.log_reliability.get(w, float(np.log(params.prior_reliability))) for w in obj.workers])
    heads = [k for k in range(len(obj.group)) if obj.group[k] == k]
    position = {k: m for m, k in enumerate(heads)}
    pairs = [(position[i], position[j], value) for i, j, value in object_pairs(obj)]
    head_prior = np.array([prior[obj.group == k].mean() for k in heads])
    solved = _least_squares(pairs, head_prior, params.object_prior)
    return np.exp(solved[[position[int(g)] for g in obj.group]])


@dataclass(frozen=True)
class Weighing:
    """One object's weighted vote.

    Attributes:
        labels: ``(U,)`` the decided class per tuple.
        support: ``(U, C)`` each class's share of the weighted vote per tuple.
        reliability: ``(K,)`` each column's reliability on this object (:func:`object_reliability`).
        weights: ``(K,)`` each column's vote weight (copies share theirs).
        open_ties: ``(U,)`` bitmask of the classes a tuple stays tied between (0: decided), for
            :func:`tally.spatial.settle_ties`.
    """

    labels: npt.NDArray[np.uint8]
    support: FloatArray
    reliability: FloatArray
    weights: FloatArray
    open_ties: npt.NDArray[np.uint64]


def weigh(obj: ObjectVotes, n_classes: int, model: BatchModel | None = None, params: Params | None = None) -> Weighing:
    """The weighted vote of one object (see the module docstring)."""
    params = params or Params()
    model = model or BatchModel()
    reliability = object_reliability(obj, model, params)
    shortfall = np.maximum(0.0, reliability.max() - reliability - params.dead_zone)
    weights = obj.share * np.exp(-params.sharpness * shortfall)
    scores = vote_scores(obj.votes, n_classes, weights)
    labels, open_ties = _decide(obj.votes, scores, weights / obj.share)
    totals = scores.sum(axis=1, keepdims=True)
    support = np.divide(scores, totals, out=np.zeros_like(scores), where=totals > 0)
    return Weighing(labels, support, reliability, weights, open_ties)


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
    rows = np.flatnonzero(tied.sum(axis=1) > 1)
    labels[rows] = 0  # unresolved ties are background (see tally.vote)
    if not len(rows):
        return labels, open_ties
    cast = votes[rows].astype(np.intp)  # (T, K)
    valid = cast != ABSTAIN
    safe = np.where(valid, cast, 0)
    backs = valid & np.take_along_axis(tied[rows], safe, axis=1)  # worker k backs a tied class
    level = np.where(backs, standing[None, :], -np.inf)
    top = level >= level.max(axis=1, keepdims=True) - 1e-12
    lowest = np.where(top, safe, scores.shape[1]).min(axis=1)
    single = lowest == np.where(top, safe, -1).max(axis=1)  # the strictly most reliable agree
    labels[rows[single]] = lowest[single]
    if scores.shape[1] <= MAX_TIE_CLASSES:
        bits = np.left_shift(np.uint64(1), np.arange(scores.shape[1], dtype=np.uint64))
        tied_bits = np.bitwise_or.reduce(np.where(tied[rows], bits[None, :], np.uint64(0)), axis=1)
        open_ties[rows[~single]] = tied_bits[~single] | np.uint64(1)  # background is a candidate too
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
