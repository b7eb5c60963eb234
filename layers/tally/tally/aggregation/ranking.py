"""Rankings from a crowd: each worker orders an object's items (ties allowed), or prefers one of two.

:class:`MallowsConsensus` combines the orderings several workers gave of the same object's items (the
responses of ``crowd-text-ranking``, a side-by-side preference) into one ranking with a confidence per
item, weighing each worker by how well they agree with the others over the batch. :class:`BordaCount` is
the baseline. numpy only, no I/O: answers come in as index arrays and the caller maps worker IDs,
objects and items to indices.

**Everything is pairs.** A worker's ranking of ``k`` items of an object is read as its ``k (k - 1) / 2``
pairs: for each pair, which item the worker put higher, or a tie. Each pair weighs ``1 / (k - 1)``, so a
worker's ranking gives each item a normalised Borda score ``(wins - losses) / (k - 1)`` in ``[-1, 1]``.
A pairwise answer (:meth:`MallowsConsensus.fit_pairs`) is a ranking of two items: weight 1. Items a worker
did not rank make no pairs: an item only some workers ranked is scored by those workers alone.

**The model.** Each worker ``w`` agrees with the true order on a pair with probability ``eta_w`` (a
per-worker Mallows dispersion in Kendall's distance, read pair by pair): the log-likelihood of an order
is then ``sum_w theta_w * (pairs of w it agrees with)``, ``theta_w = log(eta_w / (1 - eta_w))``, which is
Kemeny's rule with worker weights (Mallows 1957; Young 1988). A worker who reverses the scale has
``eta_w < 1/2`` and a negative weight: their ranking, turned round, still tells (as in Chen et al.'s
CrowdBT). A worker who keeps the order they were shown agrees by chance (``eta_w`` near 1/2) and weighs
nothing.

**The fit** (:meth:`MallowsConsensus.fit`), alternating until no weight moves by more than ``tol``:

1. *Consensus.* Each item's score is the weighted mean of its normalised Borda scores over the workers
   who ranked it, ``sum theta_w * borda_w / sum |theta_w|``: weighted Borda, the classical approximation
   of the weighted Kemeny order.
2. *Weights.* Each of a worker's pairs is compared with the consensus of the *other* workers
   (leave-one-out, so that nobody agrees with themselves): ``concordant`` and ``discordant`` pair weights
   are summed per worker (a tie the worker gave counts half each; a pair the others tie counts nothing),
   and ``eta_w`` is their share under a Beta prior of ``prior_strength`` pairs at ``prior_agreement``.
   Objects ranked by one worker teach nothing. Earlier batches' sums (``prior``) are added in every round.

**The scores.** Rankings: the weighted Borda score above. Pairwise answers: a weighted Bradley–Terry fit
per object (each comparison weighs ``|theta_w|``, a reversed worker's turned round, a tie half a win each
way; a Gaussian prior of precision ``ridge`` keeps an item that won everything finite), because a Borda
count of sparse comparisons ignores whom an item beat.

**The order** sorts the items by score; with ``local_kemeny`` it then swaps any two neighbours that the
weighted pairwise majority orders the other way, until none is left (Dwork et al.'s local
Kemenization: Kemeny-optimal against every move of one item past its neighbour).

**Tie rule.** Items whose scores are equal (within ``1e-9``) and whose weighted pairwise margin is zero
share a rank (competition ranking: 1, 2, 2, 4); :attr:`~MallowsConsensus.order_` breaks such ties by the
unweighted Borda score, then by the lower item index.

**Confidence.** An item's confidence is the weighted share of workers (weights ``|theta_w|``, a reversed
worker's pairs turned round) who agree with the item's place relative to its neighbours in the combined
order, the smaller of the two sides; 1/2 where no worker compared it with a neighbour, 1 for an object's
only item.

References:
    C. L. Mallows, "Non-null ranking models. I", Biometrika 44, 1957.
    H. P. Young, "Condorcet's Theory of Voting", American Political Science Review 82(4), 1988 (Kemeny's
    rule as the maximum-likelihood order), https://doi.org/10.2307/1961757
    C. Dwork, R. Kumar, M. Naor and D. Sivakumar, "Rank aggregation methods for the Web", WWW 2001 (local
    Kemenization), https://doi.org/10.1145/371920.372165
    X. Chen, P. N. Bennett, K. Collins-Thompson and E. Horvitz, "Pairwise ranking aggregation in a
    crowdsourced setting", WSDM 2013 (Bradley–Terry with per-worker reliability, reversed workers),
    https://doi.org/10.1145/2433396.2433420
    R. A. Bradley and M. E. Terry, "Rank analysis of incomplete block designs: I. The method of paired
    comparisons", Biometrika 39, 1952.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from .base import as_index

__all__ = ["STATISTICS", "BordaCount", "MallowsConsensus", "rankings_to_pairs"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

STATISTICS = ("concordant", "discordant")
"""The columns of :attr:`MallowsConsensus.worker_statistics_`: per worker, the weight of their pairs that
agreed and that disagreed with the other workers' consensus (objects with two or more workers; each pair
weighs ``1 / (k - 1)`` for a ranking of ``k`` items, a tie half to each). Non-negative, additive."""

N_STATISTICS = len(STATISTICS)
_TOL = 1e-9


def rankings_to_pairs(
    objects: IntArray, workers: IntArray, items: IntArray, ranks: FloatArray
) -> tuple[IntArray, IntArray, IntArray, IntArray, FloatArray]:
    """Every pair of items one worker ranked in one object: ``(objects, workers, first, second, outcome)``.

    ``outcome`` is 1 when ``first`` is ranked higher (a smaller rank), 0 when ``second`` is, 1/2 for a tie.

    Example:
        >>> o, w, a, b, out = rankings_to_pairs(
        ...     np.array([0, 0, 0]), np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([2.0, 1.0, 2.0]))
        >>> list(zip(a.tolist(), b.tolist(), out.tolist()))
        [(0, 1, 0.0), (0, 2, 0.5), (1, 2, 1.0)]
    """
    rows, ra, rb, outcome = _ranking_pairs(objects, workers, items, ranks)
    o, w, it = rows
    return o[ra], w[ra], it[ra], it[rb], outcome


def _ranking_pairs(
    objects: IntArray, workers: IntArray, items: IntArray, ranks: FloatArray
) -> tuple[tuple[IntArray, IntArray, IntArray], IntArray, IntArray, FloatArray]:
    """The rows sorted by (object, worker, item), and each pair as two row indices with its outcome."""
    order = np.lexsort((items, workers, objects))
    o, w, it, r = objects[order], workers[order], items[order], ranks[order]
    if o.size > 1 and ((o[1:] == o[:-1]) & (w[1:] == w[:-1]) & (it[1:] == it[:-1])).any():
        raise ValueError("a worker ranked the same item of an object twice; give one row per item")
    empty = np.zeros(0, dtype=np.intp)
    if o.size == 0:
        return (o, w, it), empty, empty, np.zeros(0)
    starts = np.flatnonzero(np.r_[True, (o[1:] != o[:-1]) | (w[1:] != w[:-1])])
    sizes = np.diff(np.r_[starts, o.size])
    parts: list[tuple[IntArray, IntArray]] = []
    for k in np.unique(sizes):
        if k < 2:
            continue
        first = starts[sizes == k]
        ia, ib = np.triu_indices(int(k), 1)
        parts.append(((first[:, None] + ia[None, :]).ravel(), (first[:, None] + ib[None, :]).ravel()))
    if not parts:
        return (o, w, it), empty, empty, np.zeros(0)
    ra = np.concatenate([p[0] for p in parts]).astype(np.intp)
    rb = np.concatenate([p[1] for p in parts]).astype(np.intp)
    outcome = np.where(r[ra] < r[rb], 1.0, np.where(r[ra] > r[rb], 0.0, 0.5))
    return (o, w, it), ra, rb, outcome


@dataclass
class MallowsConsensus:
    """A weighted Kemeny consensus of rankings and pairwise preferences: workers weighed by their batch agreement.

    See the module docstring for the model, the fit, the tie rule and the confidence.

    Examples:
        Three responses (items 0-2) to each of six prompts, three workers (1 = best). Workers 0 and 1
        agree except on prompt 0; worker 2 ranks everything backwards. Borda lets worker 2 cancel worker 0
        on prompt 0 and follows worker 1 there; the consensus turns worker 2 round.

        >>> truth = [[1, 2, 3], [3, 1, 2], [2, 3, 1], [1, 3, 2], [3, 2, 1], [2, 1, 3]]
        >>> given = [(t, [2, 1, 3] if o == 0 else t, [4 - r for r in t]) for o, t in enumerate(truth)]
        >>> rows = [(o, w, i, r) for o, by in enumerate(given) for w, ranking in enumerate(by)
        ...         for i, r in enumerate(ranking)]
        >>> objects, workers, items, ranks = zip(*rows)
        >>> mc = MallowsConsensus().fit(objects, workers, items, ranks, n_objects=6, n_workers=3, n_items=3)
        >>> bc = BordaCount().fit(objects, workers, items, ranks, n_objects=6, n_workers=3, n_items=3)
        >>> mc.ranks_[0].tolist(), bc.ranks_[0].tolist()
        ([1.0, 2.0, 3.0], [2.0, 1.0, 3.0])
        >>> mc.weights_.round(2).tolist(), mc.confidence_[0].round(2).tolist()
        ([1.67, 1.67, -0.38], [0.55, 0.55, 1.0])

        Pairwise preferences the same way: three workers compare items 0 and 1 of one object.

        >>> MallowsConsensus().fit_pairs(
        ...     objects=[0, 0, 0], workers=[0, 1, 2], first=[0, 0, 1], second=[1, 1, 0], outcome=[1, 1, 1],
        ...     n_objects=1, n_workers=3, n_items=2,
        ... ).ranks_.astype(int).tolist()
        [[1, 2]]
    """

    prior_agreement: float = 0.75
    """A new worker's presumed share of pairs agreeing with the truth (Beta prior mean)."""

    prior_strength: float = 10.0
    """Pseudo-pairs of the Beta prior (how much evidence a worker needs to move from it)."""

    allow_reversed: bool = True
    """Let a worker who consistently reverses the others' order weigh negatively (their ranking turned
    round); ``False`` floors every weight at 0."""

    local_kemeny: bool = False
    """After sorting by score, swap neighbours that the weighted pairwise majority orders the other way
    (local Kemenization). Off by default: on simulated crowds it helped Mallows workers and lost to the
    scores' margins with Thurstone workers and partial rankings, on rankings and pairs alike."""

    ridge: float = 0.3
    """Precision of the Gaussian prior on each item's Bradley–Terry score (pairwise answers only): keeps
    an item that won every comparison finite and pulls sparsely compared items together."""

    n_iter: int = 20
    """Maximum rounds of consensus and weights (0: the prior's weights, equal without a ``prior``)."""

    tol: float = 1e-3
    """Stop when no weight (a log-odds) moved by more than this in one round."""

    scores_: FloatArray = field(init=False, repr=False)
    """``(n_objects, n_items)`` each item's score, higher is better (NaN: nobody ranked it): the weighted
    mean normalised Borda score in [-1, 1] for rankings, the weighted Bradley–Terry score for pairwise
    answers."""

    ranks_: FloatArray = field(init=False, repr=False)
    """``(n_objects, n_items)`` combined rank, 1 = best, ties share the better rank (NaN: not ranked)."""

    order_: IntArray = field(init=False, repr=False)
    """``(n_objects, n_items)`` item indices best first; -1 pads objects with fewer ranked items."""

    confidence_: FloatArray = field(init=False, repr=False)
    """``(n_objects, n_items)`` weighted share of workers agreeing with the item's place next to its
    neighbours (the smaller side), in [0, 1] (NaN: not ranked)."""

    agreement_: FloatArray = field(init=False, repr=False)
    """``(n_objects,)`` weighted share of the workers' pairs that agree with the combined order (NaN
    when no pair is strictly ordered)."""

    weights_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each worker's weight ``theta_w = log(eta_w / (1 - eta_w))``."""

    reliability_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each worker's ``eta_w``: share of pairs agreeing with the others (with the prior)."""

    worker_statistics_: FloatArray = field(init=False, repr=False)
    """``(n_workers, 2)`` this batch's additive statistics per worker (columns :data:`STATISTICS`),
    without the prior: sum them over batches and pass the sum as the next batch's ``prior``."""

    n_iter_: int = field(init=False, repr=False)
    """Rounds run."""

    _equal_weights: ClassVar[bool] = False

    def fit(
        self,
        objects: npt.ArrayLike,
        workers: npt.ArrayLike,
        items: npt.ArrayLike,
        ranks: npt.ArrayLike,
        *,
        n_objects: int,
        n_workers: int,
        n_items: int,
        prior: npt.ArrayLike | None = None,
    ) -> MallowsConsensus:
        """Fit to one batch of rankings: one row per (object, worker, item) that the worker ranked.

        Args:
            objects: object index of each row, ``0..n_objects-1``.
            workers: worker index of each row, ``0..n_workers-1``.
            items: item index within its object, ``0..n_items-1`` (one row per item a worker ranked;
                a worker's rows for one object name distinct items).
            ranks: the worker's rank of the item, smaller is better; equal ranks are ties (any numbers:
                ``crowd-text-ranking``'s 1, 2, 2, 4 or a score where lower is better).
            n_objects: number of objects.
            n_workers: number of workers.
            n_items: items per object (the largest; objects with fewer simply use fewer indices).
            prior: optional ``(n_workers, 2)`` statistics of earlier batches (the sum of their
                :attr:`worker_statistics_`), added in every round.

        Returns:
            self
        """
        o = as_index("objects", objects, n_objects)
        w = as_index("workers", workers, n_workers)
        it = as_index("items", items, n_items)
        r = np.asarray(ranks, dtype=np.float64)
        if r.ndim != 1 or not o.size == w.size == it.size == r.size:
            raise ValueError(
                f"objects, workers, items and ranks differ in length: {o.size}, {w.size}, {it.size}, {r.size}"
            )
        if not np.isfinite(r).all():
            raise ValueError(f"{int(np.count_nonzero(~np.isfinite(r)))} ranks are not finite numbers")
        ranked = np.zeros((n_objects, n_items), dtype=bool)
        ranked[o, it] = True
        pairs = _Pairs.from_rankings(o, w, it, r, n_objects, n_items)
        return self._fit(pairs, ranked, n_workers, prior, pairwise=False)

    def fit_pairs(
        self,
        objects: npt.ArrayLike,
        workers: npt.ArrayLike,
        first: npt.ArrayLike,
        second: npt.ArrayLike,
        outcome: npt.ArrayLike,
        *,
        n_objects: int,
        n_workers: int,
        n_items: int,
        prior: npt.ArrayLike | None = None,
    ) -> MallowsConsensus:
        """Fit to one batch of pairwise preferences: one row per comparison.

        Args:
            objects: object index of each comparison.
            workers: worker index of each comparison.
            first: one item of the pair (index within its object).
            second: the other item (a different index).
            outcome: 1 when the worker preferred ``first``, 0 when ``second``, 1/2 for "equally good".
            n_objects: number of objects.
            n_workers: number of workers.
            n_items: items per object (the largest).
            prior: optional ``(n_workers, 2)`` statistics of earlier batches, as in :meth:`fit`.

        Returns:
            self
        """
        o = as_index("objects", objects, n_objects)
        w = as_index("workers", workers, n_workers)
        a = as_index("first", first, n_items)
        b = as_index("second", second, n_items)
        out = np.asarray(outcome, dtype=np.float64)
        if out.ndim != 1 or not o.size == w.size == a.size == b.size == out.size:
            raise ValueError(
                f"objects, workers, first, second and outcome differ in length: {o.size}, {w.size}, {a.size}, {b.size}, {out.size}"
            )
        if out.size and not np.isin(out, (0.0, 0.5, 1.0)).all():
            raise ValueError("outcome must be 1 (first preferred), 0 (second preferred) or 0.5 (a tie)")
        if (a == b).any():
            raise ValueError(f"{int(np.count_nonzero(a == b))} comparisons compare an item with itself")
        ranked = np.zeros((n_objects, n_items), dtype=bool)
        ranked[o, a] = True
        ranked[o, b] = True
        pairs = _Pairs.from_pairs(o, w, a, b, out, n_objects, n_workers, n_items)
        return self._fit(pairs, ranked, n_workers, prior, pairwise=True)

    # ---------------------------------------------------------------- the fit on pairs

    def _check_parameters(self) -> None:
        if not 0.0 < self.prior_agreement < 1.0 or not self.prior_strength > 0:
            raise ValueError("prior_agreement must be in (0, 1) and prior_strength positive")
        if not self.ridge > 0:
            raise ValueError(f"ridge must be positive, got {self.ridge}")
        if self.n_iter < 0:
            raise ValueError(f"n_iter must be non-negative, got {self.n_iter}")

    @staticmethod
    def _prior(prior: npt.ArrayLike | None, n_workers: int) -> FloatArray:
        if prior is None:
            return np.zeros((n_workers, N_STATISTICS))
        extra = np.asarray(prior, dtype=np.float64)
        if extra.shape != (n_workers, N_STATISTICS):
            raise ValueError(f"prior must have shape {(n_workers, N_STATISTICS)}, got {extra.shape}")
        if not np.isfinite(extra).all() or (extra < 0).any():
            raise ValueError("prior must be finite and non-negative")
        return extra

    def _weights(self, stats: FloatArray) -> tuple[FloatArray, FloatArray]:
        strength, mean = self.prior_strength, self.prior_agreement
        a = strength * mean
        b = strength * (1.0 - mean)
        eta = (stats[:, 0] + a) / (stats.sum(axis=1) + a + b)
        theta = np.log(eta / (1.0 - eta))
        if not self.allow_reversed:
            theta = np.maximum(theta, 0.0)
        return np.asarray(theta, dtype=np.float64), np.asarray(eta, dtype=np.float64)

    def _fit(
        self,
        pairs: _Pairs,
        ranked: npt.NDArray[np.bool_],
        n_workers: int,
        prior: npt.ArrayLike | None,
        *,
        pairwise: bool,
    ) -> MallowsConsensus:
        self._check_parameters()
        extra = self._prior(prior, n_workers)
        n_items = pairs.n_items

        theta, eta = self._weights(extra)
        if self._equal_weights:
            theta = np.ones(n_workers)
        self.n_iter_ = 0
        for _ in range(0 if self._equal_weights else self.n_iter):
            new_theta, eta = self._weights(pairs.agreement(theta, n_workers) + extra)
            self.n_iter_ += 1
            moved = float(np.abs(new_theta - theta).max()) if theta.size else 0.0
            theta = new_theta
            if moved <= self.tol:
                break
        self.worker_statistics_ = pairs.agreement(theta, n_workers)
        self.weights_ = theta
        self.reliability_ = eta

        borda = pairs.scores(np.ones(n_workers))
        bt = pairwise and not self._equal_weights
        scores = pairs.bradley_terry(theta, self.ridge) if bt else pairs.scores(theta)
        scores = np.where(ranked, scores, np.nan)
        self.scores_ = scores
        order = _sort(scores, borda, ranked)
        if self.local_kemeny:
            order = _local_kemeny(order, pairs, theta)
        self.order_ = order
        self.ranks_ = _ranks(order, scores, pairs.adjacent_margins(order, theta), n_items)
        self.confidence_, self.agreement_ = pairs.confidence(order, theta, ranked)
        return self


@dataclass
class BordaCount(MallowsConsensus):
    """Borda count: every worker weighs the same, items sorted by their mean normalised Borda score.

    The baseline of :class:`MallowsConsensus`: weights all 1 (a ``prior`` is checked but does not weigh),
    Borda scores for pairwise answers too (each item's wins minus losses per worker who compared it). Its :attr:`~MallowsConsensus.worker_statistics_` are the workers'
    agreement with the equal-weight consensus of the others; the tie rule is the same (J.-C. de Borda,
    "Mémoire sur les élections au scrutin", Histoire de l'Académie royale des sciences, 1781).

    Example:
        >>> BordaCount().fit([0, 0, 0, 0], [0, 0, 1, 1], [0, 1, 0, 1], [1, 2, 2, 1],
        ...                  n_objects=1, n_workers=2, n_items=2).ranks_.astype(int).tolist()
        [[1, 1]]
    """

    _equal_weights: ClassVar[bool] = True


@dataclass(frozen=True)
class _Pairs:
    """One batch's pairs and the cells they connect, with what every round needs precomputed.

    A *cell* is one item as one worker ranked it in one object; each pair joins two cells of the same
    (object, worker). The leave-one-out consensus is computed per cell, then compared per pair.
    """

    po: IntArray  # per pair: object, worker, the two cells, the vote (+1 a above b, -1 below, 0 tie)
    pw: IntArray
    cell_a: IntArray
    cell_b: IntArray
    vote: FloatArray
    weight: FloatArray  # 1 / (k - 1) for a ranking of k items
    learn: npt.NDArray[np.bool_]  # pairs of objects ranked by two or more workers
    cell_worker: IntArray  # per cell
    cell_flat: IntArray  # object * n_items + item
    cell_borda: FloatArray  # the worker's normalised Borda score of the item
    n_objects: int
    n_items: int

    @classmethod
    def from_rankings(
        cls, o: IntArray, w: IntArray, it: IntArray, r: FloatArray, n_objects: int, n_items: int
    ) -> _Pairs:
        (o, w, it), ra, rb, outcome = _ranking_pairs(o, w, it, r)
        starts = np.flatnonzero(np.r_[True, (o[1:] != o[:-1]) | (w[1:] != w[:-1])]) if o.size else np.zeros(0, np.intp)
        sizes = np.diff(np.r_[starts, o.size])
        group = np.repeat(np.arange(starts.size), sizes)
        weight = 1.0 / np.maximum(sizes[group[ra]] - 1, 1).astype(np.float64)
        return cls._assemble(o, w, it, group, sizes, ra, rb, outcome, weight, n_objects, n_items)

    @classmethod
    def from_pairs(
        cls,
        po: IntArray,
        pw: IntArray,
        pa: IntArray,
        pb: IntArray,
        out: FloatArray,
        n_objects: int,
        n_workers: int,
        n_items: int,
    ) -> _Pairs:
        # the cells: every (object, worker, item) a worker compared
        key = (np.concatenate([po, po]).astype(np.int64) * max(n_workers, 1) + np.concatenate([pw, pw])) * max(
            n_items, 1
        ) + np.concatenate([pa, pb])
        cells, inverse = np.unique(key, return_inverse=True)
        inverse = inverse.astype(np.intp)
        n = po.size
        gkey = cells // max(n_items, 1)
        it = (cells % max(n_items, 1)).astype(np.intp)
        w = (gkey % max(n_workers, 1)).astype(np.intp)
        o = (gkey // max(n_workers, 1)).astype(np.intp)
        _, group, sizes = np.unique(gkey, return_inverse=True, return_counts=True)
        ones = np.ones(n)  # each comparison is a ranking of two items
        return cls._assemble(
            o, w, it, group.astype(np.intp), sizes, inverse[:n], inverse[n:], out, ones, n_objects, n_items
        )

    @classmethod
    def _assemble(
        cls,
        o: IntArray,
        w: IntArray,
        it: IntArray,
        group: IntArray,
        sizes: IntArray,
        ca: IntArray,
        cb: IntArray,
        outcome: FloatArray,
        weight: FloatArray,
        n_objects: int,
        n_items: int,
    ) -> _Pairs:
        """From cells (sorted rows ``o, w, it`` with their (object, worker) ``group`` of ``sizes`` cells) and
        pairs given as two cell indices."""
        n_cells = o.size
        vote = 2.0 * outcome - 1.0
        wv = weight * vote
        borda = np.bincount(ca, weights=wv, minlength=n_cells) - np.bincount(cb, weights=wv, minlength=n_cells)
        group_object = np.zeros(sizes.size, dtype=np.intp)
        group_object[group] = o
        workers_per_object = np.bincount(group_object, minlength=n_objects)
        po = o[ca]
        return cls(
            po=po,
            pw=w[ca],
            cell_a=ca,
            cell_b=cb,
            vote=vote,
            weight=weight,
            learn=workers_per_object[po] >= 2,
            cell_worker=w,
            cell_flat=o * n_items + it,
            cell_borda=np.asarray(borda, dtype=np.float64),
            n_objects=n_objects,
            n_items=n_items,
        )

    def _totals(self, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        t = theta[self.cell_worker]
        size = self.n_objects * self.n_items
        num = np.bincount(self.cell_flat, weights=t * self.cell_borda, minlength=size)
        den = np.bincount(self.cell_flat, weights=np.abs(t), minlength=size)
        return t, np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)

    def scores(self, theta: FloatArray) -> FloatArray:
        _, num, den = self._totals(theta)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        return np.asarray(s.reshape(self.n_objects, self.n_items), dtype=np.float64)

    def agreement(self, theta: FloatArray, n_workers: int) -> FloatArray:
        """Concordant and discordant pair weight of each worker against the others' consensus."""
        t, num, den = self._totals(theta)
        rest = den[self.cell_flat] - np.abs(t)
        ok = rest > _TOL
        loo = (num[self.cell_flat] - t * self.cell_borda) / np.where(ok, rest, 1.0)
        diff = loo[self.cell_a] - loo[self.cell_b]
        judged = self.learn & ok[self.cell_a] & ok[self.cell_b] & (np.abs(diff) > _TOL)
        agree = np.where(self.vote == 0, 0.5, (self.vote * diff > 0).astype(np.float64))
        wt = np.where(judged, self.weight, 0.0)
        out = np.zeros((n_workers, N_STATISTICS))
        out[:, 0] = np.bincount(self.pw, weights=wt * agree, minlength=n_workers)
        out[:, 1] = np.bincount(self.pw, weights=wt * (1.0 - agree), minlength=n_workers)
        return out

    def bradley_terry(self, theta: FloatArray, ridge: float, n_iter: int = 100, tol: float = 1e-7) -> FloatArray:
        """Per object, the weighted Bradley–Terry scores: each pair weighs ``|theta_w|`` (a reversed worker's
        turned round, a tie half a win each way) under a Gaussian prior of precision ``ridge`` on every score;
        diagonal Newton steps, all objects at once."""
        th = theta[self.pw]
        y = (np.where(th < 0, -self.vote, self.vote) + 1.0) / 2.0
        wt = np.abs(th) * self.weight
        fa = self.cell_flat[self.cell_a]
        fb = self.cell_flat[self.cell_b]
        size = self.n_objects * self.n_items
        s = np.zeros(size)
        for _ in range(n_iter):
            pr = 1.0 / (1.0 + np.exp(-np.clip(s[fa] - s[fb], -50.0, 50.0)))
            r = wt * (y - pr)
            q = wt * pr * (1.0 - pr)
            g = np.bincount(fa, weights=r, minlength=size) - np.bincount(fb, weights=r, minlength=size) - ridge * s
            h = np.bincount(fa, weights=q, minlength=size) + np.bincount(fb, weights=q, minlength=size) + ridge
            step = g / h
            s = s + step
            if not step.size or float(np.abs(step).max()) < tol:
                break
        return np.asarray(s.reshape(self.n_objects, self.n_items), dtype=np.float64)

    def _positions(self, order: IntArray) -> tuple[IntArray, IntArray]:
        """Each pair's two items' positions in the combined order."""
        pos = np.full(self.n_objects * self.n_items, -1, dtype=np.intp)
        rows, cols = np.nonzero(order >= 0)
        pos[rows * self.n_items + order[rows, cols]] = cols
        return pos[self.cell_flat[self.cell_a]], pos[self.cell_flat[self.cell_b]]

    def adjacent_margins(self, order: IntArray, theta: FloatArray) -> FloatArray:
        """``(n_objects, n_items - 1)``: the weighted pairwise margin between the items at positions ``p`` and
        ``p + 1`` of the combined order, positive when the weighted majority puts the upper one above."""
        width = max(self.n_items - 1, 0)
        pa_pos, pb_pos = self._positions(order)
        adjacent = (np.abs(pa_pos - pb_pos) == 1) & (pa_pos >= 0) & (pb_pos >= 0)
        sign = np.where(pa_pos < pb_pos, 1.0, -1.0)
        contrib = (theta[self.pw] * self.weight * self.vote * sign)[adjacent]
        key = self.po[adjacent] * width + np.minimum(pa_pos, pb_pos)[adjacent]
        m = np.bincount(key, weights=contrib, minlength=self.n_objects * width)
        return np.asarray(m.reshape(self.n_objects, width), dtype=np.float64)

    @cached_property
    def _by_object(self) -> tuple[IntArray, IntArray]:
        order = np.argsort(self.po, kind="stable").astype(np.intp)
        bounds = np.searchsorted(self.po[order], np.arange(self.n_objects + 1)).astype(np.intp)
        return order, bounds

    def object_margins(self, o: int, theta: FloatArray) -> FloatArray:
        """``(n_items, n_items)`` weighted pairwise margins of one object: ``m[a, b] > 0`` when the weighted
        majority puts a above b."""
        order, bounds = self._by_object
        idx = order[bounds[o] : bounds[o + 1]]
        contrib = theta[self.pw[idx]] * self.weight[idx] * self.vote[idx]
        ia = self.cell_flat[self.cell_a[idx]] % self.n_items
        ib = self.cell_flat[self.cell_b[idx]] % self.n_items
        m = np.zeros((self.n_items, self.n_items))
        np.add.at(m, (ia, ib), contrib)
        np.add.at(m, (ib, ia), -contrib)
        return m

    def confidence(
        self, order: IntArray, theta: FloatArray, ranked: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray]:
        """Per item: weighted share agreeing with its place next to its neighbours; per object: overall."""
        n_obj, n_items = self.n_objects, self.n_items
        rows, cols = np.nonzero(order >= 0)
        pa_pos, pb_pos = self._positions(order)
        # +1 when the combined order puts a above b
        combined = np.sign(pb_pos - pa_pos).astype(np.float64)
        th = theta[self.pw]
        # a reversed worker's vote turned round, each weighed by |theta|
        vote = np.where(th < 0, -self.vote, self.vote)
        agree = np.where(vote == 0, 0.5, (vote == combined).astype(np.float64))
        wt = np.abs(th) * self.weight
        total = np.bincount(self.po, weights=wt, minlength=n_obj)
        agreeing = np.bincount(self.po, weights=wt * agree, minlength=n_obj)
        with np.errstate(invalid="ignore", divide="ignore"):
            object_agreement = np.where(total > 0, agreeing / np.where(total > 0, total, 1.0), np.nan)

        # neighbours: pairs whose positions differ by one; share[o, p] is about positions p and p + 1
        adjacent = np.abs(pa_pos - pb_pos) == 1
        key = self.po[adjacent] * n_items + np.minimum(pa_pos, pb_pos)[adjacent]
        size = n_obj * n_items
        tot = np.bincount(key, weights=wt[adjacent], minlength=size).reshape(n_obj, n_items)
        agr = np.bincount(key, weights=(wt * agree)[adjacent], minlength=size).reshape(n_obj, n_items)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(tot > 0, agr / np.where(tot > 0, tot, 1.0), 0.5)
        count = (order >= 0).sum(axis=1)
        p = np.arange(n_items)[None, :]
        below = np.where(p < count[:, None] - 1, share, 1.0)  # with the next item
        above = np.where((p >= 1) & (p < count[:, None]), np.roll(share, 1, axis=1), 1.0)  # with the previous
        conf_pos = np.minimum(below, above)
        conf = np.full((n_obj, n_items), np.nan)
        conf[rows, order[rows, cols]] = conf_pos[rows, cols]
        conf = np.where(ranked, conf, np.nan)
        return conf, np.asarray(object_agreement, dtype=np.float64)


def _sort(scores: FloatArray, borda: FloatArray, ranked: npt.NDArray[np.bool_]) -> IntArray:
    """Items best first: by score, then unweighted Borda, then lower index; unranked items last as -1."""
    n_obj, n_items = scores.shape
    idx = np.broadcast_to(np.arange(n_items), (n_obj, n_items))
    s = np.where(ranked, np.round(scores / _TOL) * _TOL, -np.inf)
    bs = np.where(ranked, np.round(borda / _TOL) * _TOL, -np.inf)
    order = np.lexsort((idx, -bs, -s), axis=-1)
    order = np.asarray(order, dtype=np.intp)
    out = np.where(np.take_along_axis(ranked, order, axis=1), order, -1)
    return np.asarray(out, dtype=np.intp)


def _local_kemeny(order: IntArray, pairs: _Pairs, theta: FloatArray) -> IntArray:
    """Swap neighbours the weighted majority orders the other way until none is left (each swap raises the
    weighted Kemeny agreement, so this ends); only objects with such a pair are looked at."""
    order = order.copy()
    wrong = (pairs.adjacent_margins(order, theta) < -_TOL).any(axis=1)
    for o in np.flatnonzero(wrong):
        m = pairs.object_margins(int(o), theta)
        row = order[o]
        k = int((row >= 0).sum())
        changed = True
        guard = 0
        while changed and guard < k * k + 1:
            changed = False
            guard += 1
            for p in range(k - 1):
                a, b = row[p], row[p + 1]
                if m[a, b] < -_TOL:
                    row[p], row[p + 1] = b, a
                    changed = True
    return order


def _ranks(order: IntArray, scores: FloatArray, adjacent: FloatArray, n_items: int) -> FloatArray:
    """Competition ranks from the order: neighbours share a rank when their scores and margin are even
    (``adjacent[o, p]``: the margin between positions ``p`` and ``p + 1``)."""
    n_obj = order.shape[0]
    if n_items == 0:
        return np.zeros((n_obj, 0))
    rows = np.arange(n_obj)[:, None]
    safe = np.maximum(order, 0)
    s = scores[rows, safe]
    even = (order[:, 1:] >= 0) & (np.abs(s[:, 1:] - s[:, :-1]) <= _TOL) & (np.abs(adjacent) <= _TOL)
    # position p starts a new rank unless it is even with p - 1; a rank is the first position of its run + 1
    starts = np.concatenate([np.ones((n_obj, 1), dtype=bool), ~even], axis=1)
    position = np.broadcast_to(np.arange(n_items), (n_obj, n_items))
    run_start = np.maximum.accumulate(np.where(starts, position, 0), axis=1)
    ranks = np.full((n_obj, n_items), np.nan)
    r, c = np.nonzero(order >= 0)
    ranks[r, order[r, c]] = run_start[r, c] + 1.0
    return ranks
