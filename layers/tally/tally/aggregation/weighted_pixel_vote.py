"""Weighted pixel vote with leave-one-out log-odds weights (numpy only, no I/O).

The weight of a worker's vote is the log-odds of their estimated pixel accuracy, the weight a
weighted majority gives an independent voter of known accuracy (Nitzan & Paroush 1982; Littlestone
& Warmuth 1994; the Dawid–Skene family estimates the same quantity with EM):

1. **Accuracy against the others (leave one out).** On every object, each worker's mask is compared
   with the plain vote of the *other* workers, over the pixels some worker labelled (a large
   unanimous background would make everyone look perfect) where the others have a strict plurality.
   Copies count once: identical substantial masks form one copy group, which is left out as a whole
   when one of its members is judged and votes once when others are. A second pass repeats this
   with the others' votes weighted by the first pass's weights, so a spammer does not spoil the
   reference of the careful workers. The first pass compares with the others' vote *shares* (a
   worker agreeing with one of two others earns half), later passes and each object's own estimate
   with the others' weighted plurality, so a careful worker who shares objects with a sloppy one is
   judged by the careful majority rather than marked down for the sloppy worker's mistakes.
2. **Shrinkage.** A worker's batch accuracy is the mean of their per-object accuracies, shrunk
   toward the crowd's mean as if ``prior_objects`` objects at the mean had been seen
   (:attr:`LeaveOneOutWeights.prior_objects`): few objects, weak evidence, equal weights. On one
   object with three independent workers or more, the worker's accuracy is ``object_share`` of that
   object's own accuracy plus the rest of their batch accuracy: a careful worker's one bad object
   lowers their say on that object only (two workers agree with each other symmetrically, so an
   object with two tells nothing about which of them is right: the batch decides).
3. **Weights.** ``w = log(q / (1 - q))`` for accuracy ``q`` clipped to ``[0.5, ceiling]``, so a
   worker no better than a coin (a spammer, a lazy worker, a label swapper on the swapped classes)
   weighs nothing, and two careful workers of similar accuracy weigh about alike, whatever their
   rank; divided by the largest weight of the object so the best weighs 1, then shared within a
   copy group. A lone answer is kept as it is and rated by its worker's batch accuracy.
4. **A skipped object is not a vote for background** (:func:`abstain_far_from_drawing`,
   :func:`resolve_far`): a worker's background more than ``block * reach`` pixels (16–24 px by
   default) from anything they drew abstains where the workers who did draw there, and weigh at
   least half the best worker's weight, name one class. Where those name different classes, or
   only a worker of little weight drew there (a spammer's shape), it is background again. The
   weights themselves are estimated on the masks as drawn.
5. **Decision** (:func:`decide`): each vote tuple goes to the class with the largest weighted vote;
   ties go to a clearly heavier worker, else between classes to a class, with background to
   background, and a tie of one class with background stays open for the spatial step
   (:mod:`tally.aggregation.pixel_vote`).

References:
    S. Nitzan and J. Paroush, "Optimal decision rules in uncertain dichotomous choice situations",
    International Economic Review 23(2), 1982.
    N. Littlestone and M. K. Warmuth, "The weighted majority algorithm", Information and Computation
    108(2), 1994.
    A. P. Dawid and A. M. Skene, "Maximum likelihood estimation of observer error-rates using the EM
    algorithm", Applied Statistics 28(1), 1979.
    S. K. Warfield, K. H. Zou and W. M. Wells, "Simultaneous truth and performance level estimation
    (STAPLE)", IEEE TMI 23(7), 2004.

Examples:
    Three careful workers (a, b, c; each misses a little of the shape of class 1) and a spammer (d),
    as distinct vote tuples (one column per worker) with their pixel counts:

    >>> import numpy as np
    >>> votes = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 2], [0, 0, 0, 0]], np.uint8)
    >>> obj = ObjectVotes.build(("a", "b", "c", "d"), votes, np.array([40, 5, 5, 30, 20]))
    >>> model = LeaveOneOutWeights().fit([obj])
    >>> {worker: round(accuracy, 3) for worker, accuracy in model.accuracy_.items()}
    {'a': 0.792, 'b': 0.812, 'c': 0.792, 'd': 0.479}
    >>> result = weigh(obj, 3, model)
    >>> result.weights.round(2).tolist(), result.labels.tolist()
    ([0.97, 1.0, 0.97, 0.0], [1, 1, 1, 0, 0])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..colours import FAR
from ._pixel_kernels import MAX_TIE_CLASSES, SQUARE, add_to_squares, occupied_words, squares_of
from .base import Aggregator
from .disputed_regions import Confusion
from .vote_table import ABSTAIN, IndexedMask, VoteTable, vote_scores

__all__ = [
    "COPY_MIN_FRACTION",
    "COPY_MIN_PIXELS",
    "FAR",
    "TIE_TOLERANCE",
    "LeaveOneOutWeights",
    "ObjectVotes",
    "Weighing",
    "abstain_far_from_drawing",
    "against_gold",
    "class_confusion",
    "decide",
    "expected_iou",
    "far_square_shifts",
    "leave_one_out",
    "resolve_far",
    "weigh",
]

FloatArray = npt.NDArray[np.float64]

COPY_MIN_PIXELS = 16
COPY_MIN_FRACTION = 0.005
"""Identical masks labelling fewer pixels than this share of the image (or :data:`COPY_MIN_PIXELS`)
are not taken for copies: independent workers agree exactly on (nearly) empty masks."""
_EVEN = 1e-9
"""The others' weighted votes for two classes closer than this (relative to the larger, or to 1 for
shares) are even in the reference a column is judged against (:func:`_against_others`)."""
TIE_TOLERANCE = 0.01
"""Classes whose weighted votes differ by less than this share of all votes are tied: a voice of
negligible weight (a spammer) cannot break a tie between careful workers."""


@dataclass(frozen=True)
class ObjectVotes:
    """One object's distinct vote tuples, reduced to what the weighting needs.

    Attributes:
        workers: worker ID of each column.
        votes: ``(U, K)`` class key or :data:`~tally.aggregation.vote_table.ABSTAIN` per tuple and worker.
        counts: ``(U,)`` pixel count of each tuple.
        group: ``(K,)`` copy group of each column (its first column; identical substantial masks share one).
    """

    workers: tuple[str, ...]
    votes: npt.NDArray[np.uint8]
    counts: FloatArray
    group: npt.NDArray[np.intp]
    interior: FloatArray | None = field(default=None, kw_only=True, compare=False, repr=False)
    """``(U,)`` when known, each tuple's pixels away from every outline
    (:func:`tally.aggregation.pixel_vote.interior_counts`): :func:`class_confusion` measures a
    column's wrong classes there only, so where two touching objects' outlines overlap no class is
    taken for confused. ``None``: all pixels."""

    @classmethod
    def build(
        cls,
        workers: Sequence[str],
        votes: npt.NDArray[np.uint8],
        pixel_counts: npt.NDArray[np.generic],
        interior: npt.NDArray[np.generic] | None = None,
    ) -> ObjectVotes:
        """From distinct tuples and their pixel counts (tuples of count 0 are dropped); finds copies.
        ``interior``: per tuple (the same rows as ``pixel_counts``), its pixels away from outlines."""
        all_counts: FloatArray = np.asarray(pixel_counts, dtype=np.float64)
        present = all_counts > 0
        inner = None if interior is None else np.asarray(interior, dtype=np.float64)[present]
        votes, counts = votes[present], all_counts[present]
        n = votes.shape[1]
        group = np.arange(n)
        substantial = max(COPY_MIN_PIXELS, COPY_MIN_FRACTION * counts.sum())
        # every column's drawn pixels in one pass (pixel counts are whole numbers, so the sums are exact
        # in any order); columns compared only with a substantial group head (no n x n table of tuples)
        drawn = (votes != 0) & (votes != ABSTAIN) & (votes != FAR)
        mass = np.where(drawn, counts[:, None], 0.0).sum(axis=0)
        for k in range(n):
            if group[k] != k or mass[k] < substantial:
                continue  # already in an earlier group, or too small to tell a copy from agreement
            for j in range(k + 1, n):
                if group[j] == j and np.array_equal(votes[:, j], votes[:, k]):
                    group[j] = k
        return cls(tuple(workers), votes, counts, group, interior=inner)

    @classmethod
    def from_table(
        cls, workers: Sequence[str], table: VoteTable, interior: npt.NDArray[np.generic] | None = None
    ) -> ObjectVotes:
        return cls.build(workers, table.votes, table.counts, interior)

    @property
    def share(self) -> FloatArray:
        """The vote each column casts: ``1/g`` in a copy group of *g*."""
        sizes = np.bincount(self.group, minlength=len(self.group))
        return 1.0 / sizes[self.group]


def leave_one_out(
    obj: ObjectVotes, weights: FloatArray | None = None, soft: bool = True
) -> tuple[FloatArray, FloatArray]:
    """``(agree, judged)``: per column, its agreement with the others' vote and the pixels judged.

    Judged are the pixels some worker labelled and the column voted on. With ``soft``, a column's
    agreement at a pixel is the share of the others' (weighted) votes that back its class there —
    its expected agreement with one of the others drawn by weight; without, it is 1 where it has
    the others' strict plurality and 0 elsewhere, and pixels without a strict plurality are not
    judged. Copy groups vote once, through their first column, with ``weights`` of those columns;
    the column's own copy group and its worker's other answers are left out."""
    w = np.ones(len(obj.group)) if weights is None else np.asarray(weights, dtype=np.float64)
    agree, judged, _ = _against_others(obj, w, soft, confusion=False)
    return agree, judged


def class_confusion(obj: ObjectVotes, weights: FloatArray) -> FloatArray:
    """``(K, 7)``: per column, the pixel mass of its answer against the others' weighted vote shares
    over the pixels some worker labelled: ``[same class, another class, class where the others say
    background, background where the others say a class, background where they say background]``
    (the first three where the column painted a class, the last two where it did not), then the
    first two again over the pixels away from outlines only (``obj.interior``; all pixels when it is
    not known). Copy groups vote once; the column's own group and its worker's other answers are
    left out.

    Where the column painted a class, the others' share that names a class is "same class" when the
    column's class is the others' weighted plurality among the classes they named (shared on a tie)
    and "another class" otherwise: a careful worker is not charged for a class only a minority of the
    others (a sloppy worker) gives the object, which their vote shares would charge them by that
    worker's share. Background stays a share (the miss and false-alarm rates are as before).

    >>> votes = np.array([[1, 1, 2], [0, 1, 0], [0, 0, 0]], np.uint8)  # a and b paint class 1, c class 2
    >>> obj = ObjectVotes.build(("a", "b", "c"), votes, np.array([30, 10, 60]))
    >>> class_confusion(obj, np.array([1.0, 1.0, 0.5]))[:, :2].tolist()  # a: not 20 same, 10 another
    [[30.0, 0.0], [30.0, 0.0], [0.0, 30.0]]
    """
    return _against_others(obj, weights, accuracy=False)[2]


def _against_others(
    obj: ObjectVotes, weights: FloatArray, soft: bool = False, confusion: bool = True, *, accuracy: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`leave_one_out` with ``weights`` (``(agree, judged)``; zeros without ``accuracy``) and,
    with ``confusion``, :func:`class_confusion` (else zeros), from one reference vote per column."""
    votes, counts = np.where(obj.votes == FAR, np.uint8(0), obj.votes), obj.counts  # far background is background
    n = votes.shape[1]
    out = np.zeros((n, 7))
    agree, judged = np.zeros(n), np.zeros(n)
    labelled = ((votes != 0) & (votes != ABSTAIN)).any(axis=1)
    votes, counts = votes[labelled], counts[labelled]
    inner = _inner(obj, labelled, counts)
    cast = votes[votes != ABSTAIN]
    if n < 2 or not cast.size:
        return agree, judged, out
    n_classes = int(cast.max()) + 1
    rows = np.arange(len(votes))
    heads = np.flatnonzero(obj.group == np.arange(n))
    judged_columns = []
    for k in range(n):
        others = [int(j) for j in heads if obj.group[j] != obj.group[k] and obj.workers[j] != obj.workers[k]]
        if others:
            judged_columns.append((k, others))
    if not judged_columns:
        return agree, judged, out
    columns = np.array([k for k, _ in judged_columns])
    references = np.zeros((len(columns), n), dtype=bool)  # [i, j]: head j votes in column i's reference
    for i, (_, others) in enumerate(judged_columns):
        references[i, others] = True
    # every judged column's reference vote at once, each head's votes added in column order (a head
    # outside a reference adds 0.0 there: the same sums, bit for bit, as adding its heads alone)
    scores = np.zeros((len(columns), len(votes), n_classes))
    for j in heads:
        cast_j = votes[:, j] != ABSTAIN
        scores[:, rows[cast_j], votes[cast_j, j]] += np.where(references[:, j], weights[j], 0.0)[:, None]
    totals = scores.sum(axis=2)
    for i, k in enumerate(columns):
        voted = votes[:, k] != ABSTAIN
        total = totals[i]
        usable = voted & (total > 0)
        if accuracy:  # (the class confusion alone, for the disputed regions, needs none of it)
            own_all = scores[i, rows, np.where(voted, votes[:, k], 0)]
            if soft:
                judged[k] = counts[usable].sum()
                agree[k] = (counts[usable] * own_all[usable] / total[usable]).sum()
            else:
                top = scores[i].max(axis=1)
                second = np.sort(scores[i], axis=1)[:, -2] if n_classes > 1 else np.zeros(len(top))
                decided = (top > second + _EVEN * np.maximum(top, 1.0)) & voted
                judged[k] = counts[decided].sum()
                agree[k] = counts[decided & (own_all >= top)].sum()
        if not confusion:
            continue
        share = scores[i, usable] / total[usable, None]
        own = votes[usable, k].astype(np.intp)
        mass, away = counts[usable], inner[usable]
        background = share[:, 0]
        # which class: the others' weighted plurality among the classes they named (ties shared), so
        # a class only a minority of them names does not count against a column that names another;
        # how much: the share of the others' vote that names a class (background is soft, as above)
        classes = share[:, 1:]
        top = classes.max(axis=1, keepdims=True)
        plurality = (classes >= top - _EVEN) & (classes > 0)  # (shares: at most 1)
        mine = plurality[np.arange(len(own)), np.maximum(own, 1) - 1] / np.maximum(plurality.sum(axis=1), 1)
        same = (1.0 - background) * mine
        other = 1.0 - background - same
        painted = own != 0
        out[k] = [
            (mass * same)[painted].sum(),
            (mass * other)[painted].sum(),
            (mass * background)[painted].sum(),
            (mass * (1.0 - background))[~painted].sum(),
            (mass * background)[~painted].sum(),
            (away * same)[painted].sum(),
            (away * other)[painted].sum(),
        ]
    return agree, judged, out


def _inner(obj: ObjectVotes, labelled: npt.NDArray[np.bool_], counts: FloatArray) -> FloatArray:
    """The labelled tuples' pixels away from outlines, or all their pixels when that is not known or
    none of them is away from an outline (an image too small for one clear square): the object is
    then measured as before outlines were told apart."""
    if obj.interior is None:
        return counts
    inner: FloatArray = obj.interior[labelled]
    return inner if inner.any() else counts


def against_gold(obj: ObjectVotes, gold: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """``(agree, judged, confusion)`` of every column against the gold answer of column ``gold``:
    :func:`leave_one_out`'s and :func:`class_confusion`'s figures with the gold answer alone as the
    reference, over the pixels some worker labelled and both the column and the gold answer voted on
    (far background is background). Copies are judged like any answer (the gold answer is no
    crowd's vote a copy could inflate); the gold column and its worker's other answers are not judged.

    >>> votes = np.array([[1, 1, 0], [1, 0, 2], [0, 0, 0]], np.uint8)
    >>> agree, judged, _ = against_gold(ObjectVotes.build(("g", "a", "b"), votes, np.array([6, 2, 8])), 0)
    >>> (agree / np.maximum(judged, 1)).round(2).tolist(), judged.tolist()
    ([0.0, 0.75, 0.0], [0.0, 8.0, 8.0])
    """
    votes = np.where(obj.votes == FAR, np.uint8(0), obj.votes)
    n = votes.shape[1]
    agree, judged, out = np.zeros(n), np.zeros(n), np.zeros((n, 7))
    labelled = ((votes != 0) & (votes != ABSTAIN)).any(axis=1) & (votes[:, gold] != ABSTAIN)
    votes, counts = votes[labelled], obj.counts[labelled]
    inner = _inner(obj, labelled, counts)
    reference = votes[:, gold]
    for k in range(n):
        if obj.workers[k] == obj.workers[gold]:
            continue
        own = votes[:, k]
        voted = own != ABSTAIN
        same, painted, background = voted & (own == reference), voted & (own != 0), voted & (reference == 0)
        judged[k] = counts[voted].sum()
        agree[k] = counts[same].sum()
        out[k] = [
            counts[painted & same].sum(),
            counts[painted & ~same & ~background].sum(),
            counts[painted & background].sum(),
            counts[voted & ~painted & ~background].sum(),
            counts[voted & ~painted & background].sum(),
            inner[painted & same].sum(),
            inner[painted & ~same & ~background].sum(),
        ]
    return agree, judged, out


def _rates(mass: FloatArray) -> tuple[float | None, float | None, float | None, float | None]:
    """A column's ``(error, miss, false alarm, error on all pixels)`` from :func:`class_confusion`'s
    masses (None: no evidence). The false alarm is the share of what the column painted that the
    others left as background (a pixel share of the whole image would be tiny, not the chance of a
    painted region). The error is measured away from outlines (where they are known): where the
    outlines of two touching objects of different classes overlap, a worker's class is the other
    object's there without being confused with it. The error on all pixels stands in for a worker
    the batch never saw paint away from an outline (small images, small shapes only)."""
    same, other, alarm, missed, _agreed, same_inside, other_inside = (float(x) for x in mass)

    def ratio(a: float, b: float) -> float | None:
        return a / b if b > 0 else None

    return (
        ratio(other_inside, same_inside + other_inside),
        ratio(missed, missed + same + other),
        ratio(alarm, alarm + same + other),
        ratio(other, same + other),
    )


def object_confusion(
    obj: ObjectVotes, weights: FloatArray, batch: Sequence[Confusion], share: float
) -> list[Confusion]:
    """Each column's confusion on this object: ``share`` of the object's own rates
    (:func:`class_confusion` against the others weighted by ``weights``) and the rest of the
    batch's, where the object has evidence on a rate; the batch's alone elsewhere."""
    mass = class_confusion(obj, weights)
    out = []
    for k, known in enumerate(batch):
        own = _rates(mass[k])[:3]
        values = [
            getattr(known, name) if rate is None else share * rate + (1.0 - share) * getattr(known, name)
            for rate, name in zip(own, ("error", "miss", "false_alarm"), strict=True)
        ]
        out.append(Confusion(*values))
    return out


def _logit_weights(accuracy: FloatArray, ceiling: float, n_classes: int) -> FloatArray:
    """``log((L - 1) q / (1 - q))`` for ``L`` classes in play, 0 at or below chance (``q <= 1/L``).
    When every worker is at or below chance (a crowd dominated by bad answers makes everyone's
    agreement with the others low), the log-odds are measured from the worst worker's instead."""
    choices = max(2, n_classes)
    q = np.clip(accuracy, 1e-3, ceiling)
    weights: FloatArray = np.log((choices - 1) * q / (1.0 - q))
    if len(weights) and weights.max() <= 0:
        weights = weights - weights.min()
    return np.maximum(weights, 0.0)


@dataclass
class LeaveOneOutWeights(Aggregator[Sequence[ObjectVotes], Mapping[str, Sequence[float]]]):
    """Workers' pixel accuracy over a batch, against the others' vote, and the log-odds weights it gives.

    Attributes:
        prior_objects: weight of the crowd's mean accuracy in a worker's batch accuracy, in objects
            (a worker seen on 2 objects with ``prior_objects=2`` is half their own record, half the mean).
        object_share: weight of an object's own leave-one-out accuracy in a worker's accuracy on that
            object (the rest is their batch accuracy); 0 ignores the object, 1 ignores the batch.
        ceiling: accuracies are capped here before the log-odds (no single worker becomes certain).
        passes: leave-one-out passes; every pass after the first weighs the others' votes.
        multiclass: weights for as many choices as the object has classes in play (background
            included), ``log((L - 1) q / (1 - q))``, so chance is ``1/L``; else ``L = 2``.
        soft_passes: the first passes compare with the others' vote shares (every worker's voice
            counts), the later ones with the others' weighted plurality (:func:`leave_one_out`); the
            object's own accuracy is judged like the last pass.
        tie_margin: a tie goes to the heaviest worker only when their weight exceeds every other
            tied worker's by more than this (the best weighs 1); else the tie rule of :func:`decide`.
        accuracy_: fitted, each worker's batch accuracy (shrunk).
        objects_: fitted, the number of objects each worker was judged on.
        mean_accuracy_: fitted, the crowd's mean per-object accuracy (the shrinkage target).
        worker_statistics_: fitted, this batch's own ``[sum of per-object accuracies, objects]`` per worker
            (last pass, without any prior): sum them over a job's batches and pass the sums as the
            next batch's ``prior``.
        confusion_: fitted, each worker's class confusion over the batch (per-object pixel shares
            against the others' vote weighted by the batch weights, shrunk toward the crowd's mean
            as the accuracy is), for :mod:`tally.aggregation.disputed_regions`.
        mean_confusion_: fitted, the crowd's mean (for workers the batch could not judge).
        confusion: fit :attr:`confusion_` and :attr:`mean_confusion_` (only the disputed regions read
            them); without it they stay empty and the default, and the fit measures only what
            :meth:`predict` reuses (the same accuracies and weights).
    """

    prior_objects: float = 2.0
    object_share: float = 0.5
    ceiling: float = 0.99
    passes: int = 3
    soft_passes: int = 1
    multiclass: bool = True
    tie_margin: float = 0.15
    confusion: bool = True
    accuracy_: dict[str, float] = field(default_factory=dict)
    objects_: dict[str, int] = field(default_factory=dict)
    mean_accuracy_: float = 0.9
    worker_statistics_: dict[str, list[float]] = field(default_factory=dict)
    confusion_: dict[str, Confusion] = field(default_factory=dict)
    mean_confusion_: Confusion = field(default_factory=Confusion)
    _fitted: dict[int, tuple[ObjectVotes, FloatArray]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Each fitted object's accuracy per column (:meth:`object_accuracy`), by the object's identity:
    the fit computes it with the class confusion, and :meth:`predict` reuses it."""

    def fit(
        self,
        observations: Sequence[ObjectVotes],
        prior: Mapping[str, Sequence[float]] | None = None,
        known: Sequence[int | None] | None = None,
    ) -> LeaveOneOutWeights:
        """Estimate every worker's accuracy from all objects of the batch; returns ``self``.

        ``prior``: per worker ``[sum of per-object accuracies, objects]`` from a job's earlier batches
        (the sum of their :attr:`worker_statistics_`), added to this batch's sums in every pass, so a worker
        the job has seen on many objects is judged on all of them (vectors of another length are
        ignored).

        ``known``: per observation, the column of its gold answer (the known truth: an annotation the
        labelling tool marks as ground truth), ``None`` for an object without one. On a gold object
        every other column is judged against the gold answer alone, in every pass and for its class
        confusion (:func:`against_gold`), instead of against the others' vote; the gold column itself
        is not judged.

        >>> votes = ObjectVotes.build(["a", "b"], np.array([[1, 1], [0, 1]], np.uint8), np.array([90, 10]))
        >>> alone = LeaveOneOutWeights().fit([votes])
        >>> known = LeaveOneOutWeights().fit([votes], {"b": [20.0, 40.0]})  # b: 50 % over 40 objects
        >>> round(alone.accuracy_["b"], 3), round(known.accuracy_["b"], 3), known.worker_statistics_["b"]
        (0.9, 0.51, [0.9, 1.0])
        """
        earlier = {w: (float(v[0]), float(v[1])) for w, v in (prior or {}).items() if len(v) == 2 and v[1] > 0}
        gold = list(known) if known is not None else [None] * len(observations)
        # a gold object's figures against its gold answer do not change from pass to pass: computed once
        held = [
            against_gold(obj, column) if column is not None else None
            for obj, column in zip(observations, gold, strict=True)
        ]
        self._fitted = {}
        for step in range(max(1, self.passes)):
            sums: dict[str, float] = {}
            seen: dict[str, int] = {}
            for obj, figures in zip(observations, held, strict=True):
                if figures is not None:
                    agree, judged, _ = figures
                else:
                    weights = None if step == 0 else self.object_weights(obj)
                    agree, judged = leave_one_out(obj, weights, soft=step < self.soft_passes)
                for k in np.flatnonzero(judged > 0):
                    worker = obj.workers[k]
                    sums[worker] = sums.get(worker, 0.0) + float(agree[k] / judged[k])
                    seen[worker] = seen.get(worker, 0) + 1
            all_sums = {w: sums.get(w, 0.0) + earlier.get(w, (0.0, 0.0))[0] for w in sums.keys() | earlier.keys()}
            all_seen = {w: seen.get(w, 0) + earlier.get(w, (0.0, 0.0))[1] for w in all_sums}
            total = sum(all_seen.values())
            self.mean_accuracy_ = sum(all_sums.values()) / total if total else 0.9
            m = self.prior_objects
            self.accuracy_ = {w: (all_sums[w] + m * self.mean_accuracy_) / (all_seen[w] + m) for w in sums}
            self.objects_ = {w: round(all_seen[w]) for w in sums}
            self.worker_statistics_ = {w: [sums[w], float(seen[w])] for w in sums}
        self._fit_confusion(observations, held)
        return self

    def _fit_confusion(
        self,
        observations: Sequence[ObjectVotes],
        held: Sequence[tuple[FloatArray, FloatArray, FloatArray] | None],
    ) -> None:
        """``held``: per observation, its figures against its gold answer (:func:`against_gold`), or
        ``None`` for an object without one. Without :attr:`confusion`, only each object's accuracy
        (:meth:`object_accuracy`'s) is computed."""
        per_worker: dict[str, list[list[float]]] = {}  # worker -> per rate, the per-object values
        soft = self.soft_passes >= self.passes
        for obj, figures in zip(observations, held, strict=True):
            batch = np.array([self.accuracy_.get(w, self.mean_accuracy_) for w in obj.workers])
            # the object's own accuracy (predict's) comes from the same reference votes as its confusion
            if figures is not None:
                agree, judged, mass = figures
            else:
                agree, judged, mass = _against_others(obj, self._weights(batch, obj), soft, confusion=self.confusion)
            self._fitted[id(obj)] = (obj, self._blend(obj, batch, agree, judged))
            if not self.confusion:
                continue
            for k, worker in enumerate(obj.workers):
                lists = per_worker.setdefault(worker, [[], [], [], []])
                for i, rate in enumerate(_rates(mass[k])):
                    if rate is not None:
                        lists[i].append(rate)
        if not self.confusion:
            self.confusion_, self.mean_confusion_ = {}, Confusion()
            return
        pooled = [[r for lists in per_worker.values() for r in lists[i]] for i in range(4)]
        if not pooled[0]:  # no worker painted away from an outline: the error on all pixels
            pooled[0] = pooled[3]
        for lists in per_worker.values():
            if not lists[0]:
                lists[0] = lists[3]
        mean = [float(np.mean(p)) if p else d for p, d in zip(pooled[:3], (0.05, 0.05, 0.05), strict=True)]
        self.mean_confusion_ = Confusion(*mean)
        m = self.prior_objects
        self.confusion_ = {
            w: Confusion(
                *[(sum(lists[i]) + m * mean[i]) / (len(lists[i]) + m) if lists[i] or m else mean[i] for i in range(3)]
            )
            for w, lists in per_worker.items()
        }

    def predict(self, obj: ObjectVotes, n_classes: int, judged: ObjectVotes | None = None) -> Weighing:
        """The weighted vote of one object (:func:`weigh` with this model): ``obj`` as observed,
        ``judged`` the same answers to weigh the workers on (default ``obj``)."""
        return weigh(obj, n_classes, self, judged)

    def record(self, worker: str) -> float | None:
        """The worker's batch accuracy, or None for a worker the batch could not judge."""
        return self.accuracy_.get(worker)

    def object_accuracy(self, obj: ObjectVotes) -> FloatArray:
        """``(K,)`` each column's accuracy on this object: its batch accuracy blended with the
        object's own leave-one-out accuracy (weighted by the batch's weights) when the object has
        three independent voices or more; with fewer, the batch accuracy alone."""
        fitted = self._fitted.get(id(obj))
        if fitted is not None and fitted[0] is obj:  # fitted on this object: computed then
            return fitted[1].copy()
        batch = np.array([self.accuracy_.get(w, self.mean_accuracy_) for w in obj.workers])
        if not self._judges(obj):
            return batch
        agree, judged = leave_one_out(obj, self._weights(batch, obj), soft=self.soft_passes >= self.passes)
        return self._blend(obj, batch, agree, judged)

    def _judges(self, obj: ObjectVotes) -> bool:
        """Whether the object's own leave-one-out accuracy counts (three independent voices or more:
        two agree with each other symmetrically, so the object cannot tell them apart)."""
        voices = {obj.workers[k] for k in np.flatnonzero(obj.group == np.arange(len(obj.group)))}
        return len(voices) >= 3 and self.object_share > 0

    def _blend(self, obj: ObjectVotes, batch: FloatArray, agree: FloatArray, judged: FloatArray) -> FloatArray:
        """The object's accuracy per column from its batch accuracy and its own (``agree / judged``)."""
        if not self._judges(obj):
            return batch
        own = np.divide(agree, judged, out=batch.copy(), where=judged > 0)
        blended: FloatArray = self.object_share * own + (1.0 - self.object_share) * batch
        return blended

    def _weights(self, accuracy: FloatArray, obj: ObjectVotes) -> FloatArray:
        cast = obj.votes[obj.votes != ABSTAIN]
        # the distinct classes cast (votes are bytes: counted, not sorted)
        raw = _logit_weights(accuracy, self.ceiling, int(np.count_nonzero(np.bincount(cast))) if self.multiclass else 2)
        top = raw.max() if len(raw) else 0.0
        scaled: FloatArray = raw / top if top > 0 else np.ones_like(raw)
        return scaled

    def object_weights(self, obj: ObjectVotes) -> FloatArray:
        """``(K,)`` each column's vote weight on this object, before copy sharing (the best: 1)."""
        return self._weights(self.object_accuracy(obj), obj)


@dataclass(frozen=True)
class Weighing:
    """One object's weighted vote.

    Attributes:
        labels: ``(U,)`` the decided class per tuple.
        support: ``(U, C)`` each class's share of the weighted vote per tuple.
        reliability: ``(K,)`` each column's estimated accuracy on this object.
        weights: ``(K,)`` each column's vote weight (copies share theirs).
        open_ties: ``(U,)`` bitmask of the classes a tuple stays tied between (0: decided), for
            the tie fronts of :mod:`tally.aggregation.pixel_vote`.
        standing: ``(K,)`` each column's weight before copy sharing (the best: 1).
        votes: ``(U, K)`` the votes as counted (far background resolved, :func:`resolve_far`).
    """

    labels: npt.NDArray[np.uint8]
    support: FloatArray
    reliability: FloatArray
    weights: FloatArray
    open_ties: npt.NDArray[np.uint64]
    standing: FloatArray
    votes: npt.NDArray[np.uint8]


def weigh(
    obj: ObjectVotes, n_classes: int, model: LeaveOneOutWeights | None = None, judged: ObjectVotes | None = None
) -> Weighing:
    """The weighted vote of one object (module docstring); without a model, the object alone decides.
    ``judged``: the same answers (same columns) to estimate this object's weights on, when ``obj``
    is a variant of them to vote on (e.g. with far background abstaining, :func:`abstain_far_from_drawing`)."""
    judged = judged or obj
    model = model or LeaveOneOutWeights().fit([judged])
    accuracy = model.object_accuracy(judged)
    standing = model._weights(accuracy, judged)
    weights = obj.share * standing
    votes = resolve_far(obj.votes, standing)
    scores = vote_scores(votes, n_classes, weights)
    labels, open_ties = decide(votes, scores, standing, model.tie_margin)
    totals = scores.sum(axis=1, keepdims=True)
    support = np.divide(scores, totals, out=np.zeros_like(scores), where=totals > 0)
    return Weighing(labels, support, accuracy, weights, open_ties, standing, votes)


def abstain_far_from_drawing(mask: IndexedMask, block: int = SQUARE, reach: int = 2) -> IndexedMask:
    """The mask with its background far from anything the worker drew marked :data:`FAR`.

    "Near" is coarse and cheap: the image is cut into ``block`` x ``block`` squares, and a
    background pixel is near when a square within ``reach`` squares of its own (Chebyshev distance)
    holds a pixel of any class the worker drew; so every pixel within ``block * reach`` pixels of the
    worker's drawing is near, none beyond ``block * (reach + 1)``. A mask with nothing drawn is
    returned unchanged (an empty answer says "nothing here" everywhere). The lookup table gains one
    entry per index the worker did not draw with (usually one, the background), in index order, and
    the far pixels index those entries, where background reads :data:`FAR`; a table of more than
    128 entries is returned unchanged.

    Examples:
        >>> import numpy as np
        >>> indices = np.zeros((1, 12), np.uint8); indices[0, 0] = 1
        >>> far = abstain_far_from_drawing(IndexedMask(indices, np.array([0, 3], np.uint8)), block=2, reach=1)
        >>> far.classes().tolist()
        [[3, 0, 0, 0, 254, 254, 254, 254, 254, 254, 254, 254]]
        >>> far.lut.tolist()
        [0, 3, 254]
    """
    n = len(mask.lut)
    drawn_lut = (mask.lut != 0) & (mask.lut != ABSTAIN) & (mask.lut != FAR)
    if 2 * n > 256 or not drawn_lut.any():
        return mask
    height, width = mask.indices.shape
    undrawn = np.flatnonzero(~drawn_lut)
    if block == SQUARE and width % SQUARE == 0 and height >= SQUARE and mask.indices.flags.c_contiguous:
        return _far_by_words(mask, drawn_lut, undrawn, reach)
    rows, cols = -(-height // block), -(-width // block)
    if len(undrawn) == 1:  # the usual case (one background index): a comparison, not a lookup
        drawn = (mask.indices != undrawn[0]).view(np.uint8)
    else:
        drawn = np.take(drawn_lut.astype(np.uint8), mask.indices)
    if (rows * block, cols * block) != (height, width):
        padded = np.zeros((rows * block, cols * block), dtype=np.uint8)
        padded[:height, :width] = drawn
        drawn = padded
    # per square, whether the worker drew in it: rows of squares first (contiguous), then columns
    squares = drawn.reshape(rows, block, cols * block).max(axis=1).reshape(rows, cols, block).max(axis=2) > 0
    far = _far_squares(squares, reach)
    if far is None:
        return mask
    # far squares hold undrawn indices only: shifted past the table, then to their new entries
    shift = far.astype(np.uint8) * np.uint8(_far_shift(n, undrawn))
    if (rows * block, cols * block) == (height, width):  # broadcast the grid over its squares
        tiles = mask.indices.reshape(rows, block, cols, block) + shift[:, None, :, None]
        indices = tiles.reshape(height, width)
    else:
        indices = mask.indices + np.repeat(np.repeat(shift, block, axis=0)[:height], block, axis=1)[:, :width]
    return _far_mask(indices, mask.lut, undrawn)


def _far_squares(squares: npt.NDArray[np.bool_], reach: int) -> npt.NDArray[np.bool_] | None:
    """The squares farther than ``reach`` squares from any drawn one; None when there are none (or
    nothing is drawn)."""
    if not squares.any():
        return None
    # dilate the small grid of squares by ``reach`` (Chebyshev): along rows, then along columns
    wide = squares.copy()
    for d in range(1, reach + 1):
        wide[:, d:] |= squares[:, :-d]
        wide[:, :-d] |= squares[:, d:]
    near = wide.copy()
    for d in range(1, reach + 1):
        near[d:] |= wide[:-d]
        near[:-d] |= wide[d:]
    if near.all():
        return None
    return ~near


def _far_shift(n: int, undrawn: npt.NDArray[np.intp]) -> int:
    """What a far pixel's index gains: with one undrawn index ``u``, ``n - u`` (straight to entry
    ``n``); with several, ``n`` (then renumbered by :func:`_far_mask`)."""
    return n - int(undrawn[0]) if len(undrawn) == 1 else n


def _far_mask(indices: npt.NDArray[np.uint8], lut: npt.NDArray[np.uint8], undrawn: npt.NDArray[np.intp]) -> IndexedMask:
    """The marked mask from indices shifted by :func:`_far_shift`: the table gains the undrawn
    entries, background read as :data:`FAR`, and a far pixel indexes its undrawn index's new entry
    (entries in index order, so tuples of indices sort as before)."""
    n = len(lut)
    if len(undrawn) > 1:
        renumber = np.arange(2 * n, dtype=np.uint8)
        renumber[n + undrawn] = n + np.arange(len(undrawn), dtype=np.uint8)
        indices = np.take(renumber, indices)
    extra = lut[undrawn]
    return IndexedMask(indices, np.concatenate([lut, np.where(extra == 0, np.uint8(FAR), extra)]).astype(np.uint8))


def far_square_shifts(mask: IndexedMask, reach: int = 2) -> tuple[IndexedMask, npt.NDArray[np.uint8] | None]:
    """:func:`abstain_far_from_drawing` with 8-pixel squares, left for :func:`tally.aggregation.vote_table.tabulate` to
    apply: the mask with the marked lookup table but its indices untouched, and what each square's
    indices gain (``None``: nothing to add). Adding the gains of every worker to the packed vote key
    in one pass costs one image pass instead of one per worker. Where the squares cannot be applied
    as a plain addition (several undrawn indices, a width that is not a multiple of 8), the mask is
    marked as :func:`abstain_far_from_drawing` does and ``None`` returned.

    Examples:
        >>> import numpy as np
        >>> indices = np.zeros((8, 48), np.uint8); indices[0, 0] = 1
        >>> marked, shifts = far_square_shifts(IndexedMask(indices, np.array([0, 3], np.uint8)), reach=1)
        >>> marked.lut.tolist(), shifts.tolist()
        ([0, 3, 254], [[0, 0, 2, 2, 2, 2]])
    """
    n = len(mask.lut)
    drawn_lut = (mask.lut != 0) & (mask.lut != ABSTAIN) & (mask.lut != FAR)
    height, width = mask.indices.shape
    undrawn = np.flatnonzero(~drawn_lut)
    fast = width % SQUARE == 0 and height >= SQUARE and mask.indices.flags.c_contiguous and len(undrawn) == 1
    if 2 * n > 256 or not drawn_lut.any() or not fast:
        return abstain_far_from_drawing(mask, SQUARE, reach), None
    squares = mask.squares or squares_of(mask.indices)
    assert squares is not None  # a C-contiguous byte map whose width is a multiple of 8
    # a square holds a drawn pixel unless it holds the one undrawn index throughout
    occupied = ~squares.uniform | (squares.value != undrawn[0])
    rows = height // SQUARE
    if rows * SQUARE < height:  # a last, partial row of squares
        last = (
            (mask.indices[rows * SQUARE :] != undrawn[0]).reshape(height - rows * SQUARE, -1, SQUARE).any(axis=(0, 2))
        )
        occupied = np.concatenate([occupied, last[None, :]])
    far = _far_squares(occupied, reach)
    if far is None:
        return IndexedMask(mask.indices, mask.lut, squares), None
    marked = _far_mask(mask.indices, mask.lut, undrawn)
    return IndexedMask(marked.indices, marked.lut, squares), far.astype(np.uint8) * np.uint8(_far_shift(n, undrawn))


def _far_by_words(
    mask: IndexedMask, drawn_lut: npt.NDArray[np.bool_], undrawn: npt.NDArray[np.intp], reach: int
) -> IndexedMask:
    """:func:`abstain_far_from_drawing` for 8-pixel squares on a C-contiguous mask whose width is a
    multiple of 8: each square's row of 8 indices is one ``uint64`` word, so finding the drawn
    squares is a reduction over words, and marking the far ones one addition per word (each byte
    gains at most ``n``, never past 255 as ``2n <= 256``, so no carry crosses into the next pixel)."""
    n = len(mask.lut)
    if len(undrawn) == 1 and undrawn[0] == 0:  # the usual case: a word is drawn where it is not 0
        source = mask.indices
    elif len(undrawn) == 1:
        source = (mask.indices != undrawn[0]).view(np.uint8)
    else:
        source = np.take(drawn_lut.astype(np.uint8), mask.indices)
    far = _far_squares(occupied_words(source), reach)
    if far is None:
        return mask
    shift = far.astype(np.uint8) * np.uint8(_far_shift(n, undrawn))
    return _far_mask(add_to_squares(mask.indices, shift), mask.lut, undrawn)


def resolve_far(votes: npt.NDArray[np.uint8], standing: FloatArray, min_standing: float = 0.5) -> npt.NDArray[np.uint8]:
    """Votes with every :data:`FAR` resolved: it abstains where the workers who cast a vote there
    and stand at least ``min_standing`` (the best worker: 1) all name one class (they drew something
    this worker did not draw near: a skipped object); where they name different classes, or no such
    worker votes there (a spammer's shape far from everyone's drawing), it is background again."""
    far = votes == FAR
    if not far.any():
        return votes
    rows = np.flatnonzero(far.any(axis=1))
    sub = votes[rows]
    counted = (sub != ABSTAIN) & (sub != FAR) & (standing[None, :] >= min_standing)
    painted = counted & (sub != 0)
    low = np.where(painted, sub, 255).min(axis=1)
    high = np.where(painted, sub, 0).max(axis=1)
    one_class = painted.any(axis=1) & (low == high) & ~(counted & (sub == 0)).any(axis=1)
    resolved = votes.copy()
    resolved[rows] = np.where(sub == FAR, np.where(one_class[:, None], ABSTAIN, 0), sub).astype(np.uint8)
    return resolved


def decide(
    votes: npt.NDArray[np.uint8], scores: FloatArray, standing: FloatArray, margin: float = 0.0
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint64]]:
    """Argmax per tuple, with a tie rule (classes within :data:`TIE_TOLERANCE` of the top are tied).

    1. Among the workers who painted a tied class, the one whose ``standing`` (weight before copy
       sharing) exceeds every other's by more than ``margin`` decides (a clearly better worker).
    2. Otherwise a tie between classes only takes the lowest tied class key, as a plain argmax vote
       does (a guess between classes is right as often as not, where background would be wrong for
       sure; on the tuning seeds this beat taking the class with slightly more weight); a tie
       between background and two or more classes is background (a wrong class costs more IoU than
       background does).
    3. A tie between background and one class stays open for the spatial step: returned as a bitmask
       of the class and background, for the tie fronts of :mod:`tally.aggregation.pixel_vote` (background until then).

    Nothing depends on the order of the workers.
    """
    best = scores.max(axis=1, keepdims=True)
    tied = (scores >= best - TIE_TOLERANCE * scores.sum(axis=1, keepdims=True)) & (scores > 0)
    labels: npt.NDArray[np.uint8] = np.argmax(scores, axis=1).astype(np.uint8)  # no vote cast: background
    open_ties = np.zeros(len(labels), dtype=np.uint64)
    rows = np.flatnonzero(tied.sum(axis=1) > 1)
    if not len(rows):
        return labels, open_ties
    n_classes = scores.shape[1]
    cast = votes[rows].astype(np.intp)  # (T, K)
    valid = (cast != ABSTAIN) & (standing[None, :] > 0)  # a worker of no weight backs nothing
    safe = np.where(valid, cast, 0)
    backs = valid & tied[rows[:, None], safe]  # worker k backs a tied class
    level = np.where(backs, standing[None, :], -np.inf)
    top = level.max(axis=1, keepdims=True)
    leaders = level >= top - 1e-12
    runner_up = np.where(leaders, -np.inf, level).max(axis=1)
    runner_up = np.where(np.isfinite(runner_up), runner_up, -1.0)  # a single worker backs the tied classes
    lowest = np.where(leaders, safe, n_classes).min(axis=1)
    single = (lowest == np.where(leaders, safe, -1).max(axis=1)) & (top[:, 0] - runner_up > margin)
    with_background = tied[rows, 0]
    n_tied = tied[rows].sum(axis=1)
    first_class = np.argmax(tied[rows, 1:], axis=1) + 1  # the lowest tied class key, as a plain argmax vote
    fallback = np.where(with_background, 0, first_class).astype(np.uint8)
    labels[rows] = np.where(single, lowest, fallback).astype(np.uint8)
    open_rows = ~single & with_background & (n_tied == 2)
    if n_classes <= MAX_TIE_CLASSES:
        bits = np.left_shift(np.uint64(1), np.arange(n_classes, dtype=np.uint64))
        tied_bits = np.bitwise_or.reduce(np.where(tied[rows], bits[None, :], np.uint64(0)), axis=1)
        open_ties[rows[open_rows]] = tied_bits[open_rows]
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
    # classes cast or decided somewhere (bytes: counted, not sorted)
    seen = np.bincount(votes[votes != ABSTAIN], minlength=256) + np.bincount(labels, minlength=256)
    painted = set(np.flatnonzero(seen).tolist())
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
