"""Simulated rating crowds with known truth: numbers on a bounded scale (a 1–5 rating, a ±100 slider).

Test and benchmark helpers only (not shipped in the Lambda layer). Everything is in index form, as
:class:`tally.aggregation.ratings.CalibratedMean` takes it. Every rater differs from every other (their
own offset, noise, tails and use of the scale are drawn per rater), and every answer is what the element
can submit: rounded to the step and clipped to ``[low, high]``.

Rater kinds (:class:`Rater`):

* ``careful``: the truth plus the rater's offset, their own use of the scale (``slope``: 1.3 spreads the
  answers out from the centre, 0.7 pulls them in) and noise (Gaussian, or Student-t with ``tail``
  degrees of freedom for the occasional wild answer real raters give);
* ``lazy``: answers the centre of the scale with probability ``lazy``, otherwise as ``careful``;
* ``random``: uniform over the scale.

Real crowds are uneven: a few raters do most of the work. :func:`rating_crowd` draws each object's raters
without replacement with probabilities proportional to each rater's ``activity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["Rater", "RatingCrowd", "Scale", "rating_crowd"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Scale:
    """An element's scale: ``min``, ``max`` and ``step``."""

    low: float
    high: float
    step: float

    @property
    def width(self) -> float:
        return self.high - self.low

    @property
    def centre(self) -> float:
        return (self.low + self.high) / 2.0

    def answer(self, raw: FloatArray) -> FloatArray:
        """What the element submits for a raw intention: on the step grid, within the scale."""
        k = np.floor((raw - self.low) / self.step + 0.5)
        top = np.floor(self.width / self.step + 1e-9)
        return np.asarray(self.low + np.clip(k, 0, top) * self.step, dtype=np.float64)


@dataclass(frozen=True)
class Rater:
    """How one simulated rater answers; offsets and noise are in units of the scale's width."""

    kind: Literal["careful", "lazy", "random"] = "careful"
    offset: float = 0.0
    """Added to every answer (0.25 on a 1–5 scale is one point)."""
    noise: float = 0.05
    """Standard deviation of the noise (for Student-t, of the Gaussian with the same scale)."""
    tail: float | None = None
    """Student-t degrees of freedom of the noise (``None``: Gaussian)."""
    slope: float = 1.0
    """Use of the scale around its centre: ``centre + slope * (truth - centre)``."""
    lazy: float = 0.0
    """``lazy`` raters: chance of answering the centre whatever the truth."""
    activity: float = 1.0
    """Relative chance of being drawn for an object."""

    def answer(self, rng: np.random.Generator, truth: FloatArray, scale: Scale) -> FloatArray:
        n = truth.size
        if self.kind == "random":
            return scale.answer(rng.uniform(scale.low, scale.high, size=n))
        noise = rng.standard_t(self.tail, size=n) if self.tail is not None else rng.standard_normal(n)
        raw = scale.centre + self.slope * (truth - scale.centre) + (self.offset + self.noise * noise) * scale.width
        if self.kind == "lazy":
            raw = np.where(rng.random(n) < self.lazy, scale.centre, raw)
        return scale.answer(raw)


@dataclass
class RatingCrowd:
    """A batch of numeric answers: one row per answer, and the truth per object."""

    objects: IntArray
    workers: IntArray
    values: FloatArray
    truth: FloatArray
    scale: Scale
    n_workers: int
    latent: FloatArray
    """The value the crowd answered (equal to ``truth`` unless a panel gave the truth)."""

    @property
    def n_objects(self) -> int:
        return int(self.truth.size)


def rating_crowd(
    rng: np.random.Generator,
    n_objects: int,
    pool: Sequence[Rater],
    scale: Scale,
    *,
    answers: tuple[int, int] = (3, 10),
    truth: Literal["uniform", "skewed", "middle"] = "uniform",
    panel: Sequence[Rater] = (),
) -> RatingCrowd:
    """Draw a batch: each object's true value, then ``answers`` (inclusive range) distinct raters.

    ``truth``: ``uniform`` over the scale; ``skewed`` towards the low end (Beta(0.8, 2.5), as the
    intensity of an emotion that is mostly absent); ``middle`` (Beta(3, 3): most objects middling).
    ``panel``: when given, the truth the crowd is judged against is not the latent value but the mean of
    these raters' answers to every object (as "expert values" usually are: a few experts' mean
    ratings, with their own offsets, noise and rounding), while the crowd still answers the latent value.
    """
    if truth == "uniform":
        u = rng.random(n_objects)
    elif truth == "skewed":
        u = rng.beta(0.8, 2.5, size=n_objects)
    else:
        u = rng.beta(3.0, 3.0, size=n_objects)
    true = scale.low + u * scale.width
    lo, hi = answers
    counts = np.minimum(rng.integers(lo, hi + 1, size=n_objects), len(pool))
    activity = np.asarray([r.activity for r in pool], dtype=np.float64)
    p = activity / activity.sum()
    objects: list[IntArray] = []
    workers: list[IntArray] = []
    values: list[FloatArray] = []
    chosen = [rng.choice(len(pool), size=int(c), replace=False, p=p) for c in counts]
    for w in range(len(pool)):
        mine = np.asarray([i for i, c in enumerate(chosen) if w in c], dtype=np.intp)
        if mine.size:
            objects.append(mine)
            workers.append(np.full(mine.size, w, dtype=np.intp))
            values.append(pool[w].answer(rng, true[mine], scale))
    order = np.lexsort((np.concatenate(workers), np.concatenate(objects))) if objects else np.zeros(0, np.intp)
    latent = true
    if panel:
        true = np.mean([expert.answer(rng, latent, scale) for expert in panel], axis=0)
    return RatingCrowd(
        np.concatenate(objects)[order] if objects else np.zeros(0, np.intp),
        np.concatenate(workers)[order] if objects else np.zeros(0, np.intp),
        np.concatenate(values)[order] if objects else np.zeros(0),
        true,
        scale,
        len(pool),
        latent,
    )
