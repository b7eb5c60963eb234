"""Simulated ranking crowds with known truth: workers order an object's items, or compare two of them.

Test and benchmark helpers only (not shipped in the Lambda layer). Everything is in index form, as
:class:`tally.aggregation.ranking.MallowsConsensus` takes it. Each object has ``n`` items (responses to
rank) with true utilities drawn from a standard normal; the true order sorts them. Workers differ from
each other: each has their own noise, and some are of another kind.

Worker kinds (:class:`Ranker`):

* ``noisy``: sorts the utilities plus Gaussian noise of their own ``noise`` (Thurstone's model; close
  items are swapped more often than distant ones);
* ``mallows``: a Mallows ranking around the true order with dispersion ``phi`` (the chance of each
  inversion; items far apart are swapped as often as neighbours in relative terms);
* ``reversed``: a ``noisy`` ranking turned round (best last: a worker who read the scale backwards, or an
  adversary);
* ``lazy``: keeps the order the items were shown in (their index order), whatever the truth;
* ``random``: a random order.

Any kind may tie items whose perceived utilities fall in the same bin of width ``ties``, and rank only a
share ``partial`` of the items (at least two), as a worker who skips responses would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["PairCrowd", "Ranker", "RankingCrowd", "pair_crowd", "ranking_crowd"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Ranker:
    """How one simulated worker ranks the items of an object."""

    kind: Literal["noisy", "mallows", "reversed", "lazy", "random"] = "noisy"
    noise: float = 0.5
    """Standard deviation of the noise on the utilities (``noisy`` and ``reversed``)."""
    phi: float = 0.5
    """Mallows dispersion in (0, 1]: 0 is the true order, 1 a random one (``mallows``)."""
    ties: float = 0.0
    """Width of the utility bins whose items the worker ties (0: no ties)."""
    partial: float = 1.0
    """Share of the object's items the worker ranks (at least two)."""
    activity: float = 1.0
    """Relative chance of being drawn for an object."""

    def perceive(self, rng: np.random.Generator, utility: FloatArray) -> FloatArray:
        """A perceived utility per item: higher is better (ties are equal values)."""
        n = utility.size
        if self.kind == "random":
            seen = rng.standard_normal(n)
        elif self.kind == "lazy":
            seen = -np.arange(n, dtype=np.float64)
        elif self.kind == "mallows":
            seen = _mallows(rng, utility, self.phi)
        else:
            seen = utility + self.noise * rng.standard_normal(n)
            if self.kind == "reversed":
                seen = -seen
        if self.ties > 0:
            seen = np.floor(seen / self.ties)
        return np.asarray(seen, dtype=np.float64)

    def rank(self, rng: np.random.Generator, utility: FloatArray) -> tuple[IntArray, FloatArray]:
        """``(items, ranks)``: the items this worker ranks and their ranks (1 = best, ties share the best)."""
        n = utility.size
        k = max(2, min(n, round(self.partial * n)))
        items = np.sort(rng.choice(n, size=k, replace=False)) if k < n else np.arange(n)
        seen = self.perceive(rng, utility)[items]
        # competition ranking: 1 + the number of items seen strictly better
        ranks = 1.0 + (seen[None, :] > seen[:, None]).sum(axis=1)
        return items.astype(np.intp), ranks.astype(np.float64)


def _mallows(rng: np.random.Generator, utility: FloatArray, phi: float) -> FloatArray:
    """A Mallows sample around the order of ``utility`` (repeated insertion), as perceived utilities."""
    truth = np.argsort(-utility, kind="stable")
    order: list[int] = []
    for i, item in enumerate(truth):
        # insert at position j (0 = top) with probability proportional to phi ** (i - j)
        weights = phi ** (i - np.arange(i + 1, dtype=np.float64))
        j = int(rng.choice(i + 1, p=weights / weights.sum()))
        order.insert(j, int(item))
    seen = np.empty(utility.size)
    seen[order] = -np.arange(utility.size, dtype=np.float64)
    return seen


def _draw(rng: np.random.Generator, pool: Sequence[Ranker], count: int) -> IntArray:
    activity = np.asarray([r.activity for r in pool], dtype=np.float64)
    return np.asarray(rng.choice(len(pool), size=count, replace=False, p=activity / activity.sum()), dtype=np.intp)


@dataclass
class RankingCrowd:
    """A batch of rankings: one row per (object, worker, item ranked), and the true utilities."""

    objects: IntArray
    workers: IntArray
    items: IntArray
    ranks: FloatArray
    utility: FloatArray
    """``(n_objects, n_items)`` true utilities (higher is better); NaN where an object has fewer items."""
    n_workers: int

    @property
    def n_objects(self) -> int:
        return int(self.utility.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.utility.shape[1])


def ranking_crowd(
    rng: np.random.Generator,
    n_objects: int,
    pool: Sequence[Ranker],
    *,
    items: tuple[int, int] = (4, 4),
    workers: tuple[int, int] = (3, 5),
) -> RankingCrowd:
    """Draw a batch: each object's item count and utilities, then ``workers`` distinct workers' rankings."""
    n_max = items[1]
    utility = np.full((n_objects, n_max), np.nan)
    rows: list[tuple[IntArray, IntArray, IntArray, FloatArray]] = []
    for o in range(n_objects):
        n = int(rng.integers(items[0], items[1] + 1))
        utility[o, :n] = rng.standard_normal(n)
        count = min(int(rng.integers(workers[0], workers[1] + 1)), len(pool))
        for w in _draw(rng, pool, count):
            its, rks = pool[int(w)].rank(rng, utility[o, :n])
            rows.append((np.full(its.size, o, dtype=np.intp), np.full(its.size, w, dtype=np.intp), its, rks))
    return RankingCrowd(
        np.concatenate([r[0] for r in rows]),
        np.concatenate([r[1] for r in rows]),
        np.concatenate([r[2] for r in rows]),
        np.concatenate([r[3] for r in rows]),
        utility,
        len(pool),
    )


@dataclass
class PairCrowd:
    """A batch of pairwise preferences: one row per comparison, and the true utilities."""

    objects: IntArray
    workers: IntArray
    first: IntArray
    second: IntArray
    outcome: FloatArray
    """1 when the worker preferred ``first``, 0 when ``second``, 1/2 for a tie."""
    utility: FloatArray
    n_workers: int

    @property
    def n_objects(self) -> int:
        return int(self.utility.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.utility.shape[1])


def pair_crowd(
    rng: np.random.Generator,
    n_objects: int,
    pool: Sequence[Ranker],
    *,
    items: tuple[int, int] = (4, 4),
    workers: tuple[int, int] = (3, 5),
    comparisons: int = 2,
) -> PairCrowd:
    """Draw a batch of side-by-side comparisons: each worker compares ``comparisons`` random pairs per object."""
    n_max = items[1]
    utility = np.full((n_objects, n_max), np.nan)
    o_, w_, a_, b_, out_ = [], [], [], [], []
    for o in range(n_objects):
        n = int(rng.integers(items[0], items[1] + 1))
        utility[o, :n] = rng.standard_normal(n)
        count = min(int(rng.integers(workers[0], workers[1] + 1)), len(pool))
        for w in _draw(rng, pool, count):
            seen = pool[int(w)].perceive(rng, utility[o, :n])
            for _ in range(comparisons):
                a, b = (int(v) for v in rng.choice(n, size=2, replace=False))
                o_.append(o)
                w_.append(int(w))
                a_.append(a)
                b_.append(b)
                out_.append(1.0 if seen[a] > seen[b] else 0.0 if seen[a] < seen[b] else 0.5)
    return PairCrowd(
        np.asarray(o_, dtype=np.intp),
        np.asarray(w_, dtype=np.intp),
        np.asarray(a_, dtype=np.intp),
        np.asarray(b_, dtype=np.intp),
        np.asarray(out_, dtype=np.float64),
        utility,
        len(pool),
    )
