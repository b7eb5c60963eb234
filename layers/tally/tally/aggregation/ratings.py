"""Numbers from a crowd (ratings, sliders, numeric inputs): a mean that knows each rater's offset and noise.

:class:`CalibratedMean` consolidates the numbers several workers gave for the same object into one value
on the element's scale, with an interval. numpy only, no I/O: answers come in as index arrays, one row
per answer, and the caller maps worker IDs and objects to indices.

**The model.** Object ``t`` has a true value ``z_t``. Worker ``w`` answers ``x = z_t + b_w + e`` where
``b_w`` is the worker's offset (one rates everything a point higher) and ``e`` is, with probability
``1 - pi_w``, Gaussian noise of the worker's own spread ``sigma_w`` and, with probability ``pi_w``, a
random answer anywhere on the scale (uniform over ``[low, high]``). This is the Gaussian annotator of
Raykar et al. (2010) with the offset of Welinder et al. (2010) and Piech et al. (2013), and a
random-answer component so that a rater who answers at random weighs next to nothing.

**The fit** (EM, :meth:`CalibratedMean.fit`), until no value moves by more than ``tol`` of the scale:

* *E-step.* Each object's value is the precision-weighted mean of its answers with the offsets
  removed, ``z_t = sum r (x - b_w) / sigma_w^2 / sum r / sigma_w^2``, with posterior variance
  ``1 / sum r / sigma_w^2``; ``r`` is the probability that an answer is not random, computed against
  the estimate of the *other* answers to the object (leave-one-out, so that a wild answer cannot vouch
  for itself).
* *M-step*, from objects with two or more answers only (a lone answer says nothing about its worker's
  offset or noise; it is decided with what the batch and earlier batches learnt):

  - offset: the rater's mean residual, measured from *the typical rater* (Huber's robust centre of all
    raters' mean residuals, each rater counting once) and shrunk toward zero by a Laplace prior of scale
    ``bias_scale * sigma0``: ``b_w = soft(mean residual - centre, sigma_w^2 / (n_w * bias_scale *
    sigma0))``. So two raters who agree and a third who is one point higher give the third an offset of
    (nearly) one, not each a third of a point, and a rater's small, poorly supported offset is exactly 0.
    The values move with the centre, so the model's level is the typical rater's.
  - noise: ``sigma_w^2 = (sum of squared residuals + nu0 * sigma0^2) / (n_w + nu0)``, an inverse-gamma
    prior of ``noise_strength`` pseudo-answers at the crowd's pooled noise ``sigma0`` (so a worker seen
    on few objects is not trusted or dismissed on their strength alone; cf. CATD's confidence interval
    on a sparse worker's variance, Li et al. 2014), floored at the step's rounding noise.
  - random share: ``pi_w``, a Beta prior of ``random_strength`` pseudo-answers at ``random_share``.

  The statistics of earlier batches (``prior``, the sum of their :attr:`~CalibratedMean.worker_statistics_`)
  are added to the batch's in every M-step.

**Gold** (``known``): a gold object's value is held at its true value and every other answer to it is
judged against that alone (offsets measured from the gold values, no typical-rater shift). A gold fit is
guarded against the collapse holding the values alone ran into (every answer random): an answer is judged
against the others' estimate as a belief about a value on the scale (a Gaussian cut to ``[low, high]``),
the statistics use the values of the same E-step's random probabilities, no rater's noise exceeds a
random answer's (``width^2 / 12``), and the fit starts from what the gold objects alone show
(docs/numbers-and-rankings.md). Without ``known`` the fit is unchanged.

**The result** is clipped to ``[low, high]`` and, with ``snap=True``, put on the step grid
``low + k * step`` (or ``k * step`` without ``low``). The interval ``value ± q * sd`` (``q`` the normal
quantile of ``level``) is clipped and snapped outwards (down, up), so it always holds the value.
:attr:`~CalibratedMean.confidence_` is ``1 - interval width / scale width``.

**Tie rule.** The estimate is a weighted mean, so there are no ties to break, except on the step grid: a
value exactly half-way between two steps goes to the higher one.

References:
    V. C. Raykar et al., "Learning From Crowds", JMLR 11, 2010 (Gaussian annotators with their own
    precision), https://jmlr.org/papers/v11/raykar10a.html
    P. Welinder, S. Branson, S. Belongie and P. Perona, "The Multidimensional Wisdom of Crowds", NeurIPS
    2010 (annotator bias and variance), https://papers.nips.cc/paper/2010/hash/0f9cafd014db7a619ddb4276af0d692c-Abstract.html
    C. Piech et al., "Tuned Models of Peer Assessment in MOOCs", EDM 2013 (grader bias and reliability
    on real grades), https://arxiv.org/abs/1307.2579
    Q. Li et al., "A Confidence-Aware Approach for Truth Discovery on Long-Tail Data" (CATD), PVLDB 8(4),
    2014, https://www.vldb.org/pvldb/vol8/p425-li.pdf
    Y. Zheng et al., "Truth Inference in Crowdsourcing: Is the Problem Solved?", PVLDB 10(5), 2017 (the
    survey; numeric tasks), https://www.vldb.org/pvldb/vol10/p541-zheng.pdf
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .base import as_index

__all__ = ["STATISTICS", "CalibratedMean", "normal_quantile", "snap_to_step"]

_TINY_MASS = 1e-300
"""A belief's mass on the scale below this says nothing (a quotient by it could overflow)."""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

STATISTICS = ("answers", "random_answers", "residual_above", "residual_below", "squared_residual")
"""The columns of :attr:`CalibratedMean.worker_statistics_`, all sums over a worker's answers on objects
with two or more answers, in the answers' own units: the weight of the answers the model took as real
(``answers``) and as random (``random_answers``), the weighted sums of the residuals to the object's
value that were positive and (as magnitudes) negative, and the weighted sum of squared residuals (plus
the value's posterior variance). All are non-negative and add up over batches."""

N_STATISTICS = len(STATISTICS)
_TINY = 1e-12


def normal_quantile(p: float) -> float:
    """The standard normal quantile of ``p`` in (0, 1), by bisection on :func:`math.erf`.

    Example:
        >>> round(normal_quantile(0.975), 4)
        1.96
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    lo, hi = -40.0, 40.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if 0.5 * (1.0 + math.erf(mid / math.sqrt(2.0))) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def snap_to_step(
    values: npt.ArrayLike,
    step: float,
    *,
    origin: float = 0.0,
    mode: str = "nearest",
) -> FloatArray:
    """Values on the grid ``origin + k * step``: the nearest point (half-way goes up), or ``"down"``/``"up"``.

    Example:
        >>> snap_to_step([1.24, 1.25, 1.26], 0.5, origin=1.0).tolist()
        [1.0, 1.5, 1.5]
        >>> snap_to_step([1.24, 1.26], 0.5, origin=1.0, mode="up").tolist()
        [1.5, 1.5]
    """
    if not step > 0:
        raise ValueError(f"step must be positive, got {step}")
    k = (np.asarray(values, dtype=np.float64) - origin) / step
    # a hair of tolerance, so that 0.1 + 0.2 counts as on the grid of 0.1
    eps = 1e-9
    if mode == "nearest":
        k = np.floor(k + 0.5 + eps)
    elif mode == "down":
        k = np.floor(k + eps)
    elif mode == "up":
        k = np.ceil(k - eps)
    else:
        raise ValueError(f"mode must be 'nearest', 'down' or 'up', got {mode!r}")
    return np.asarray(origin + k * step, dtype=np.float64)


def _best_shift(
    n_b: FloatArray, s1_b: FloatArray, n_p: FloatArray, s1_p: FloatArray, var: FloatArray, threshold: FloatArray
) -> float:
    """The move ``c`` of all the batch's values that maximises the posterior once every offset is re-fitted.

    The values and the offsets can shift together: moving every value by ``c`` moves each rater's batch
    residuals by ``-c`` and leaves the fit to the batch's answers unchanged, except through what the prior
    (earlier batches) says about the raters' residuals and through the Laplace prior on the offsets. With
    the offsets re-fitted, the negative log posterior is convex in ``c``; its derivative

        ``sum_w [n_b * (c - s1_b / n_b) + n_b * m_w(c) - n_b * clip(m_w(c), ±threshold_w)] / var_w``

    (``m_w(c) = (s1_b - c * n_b + s1_p) / n``, the rater's mean residual after the move) is non-decreasing,
    so the root is found on a shrinking grid. Without a prior this is a robust centre of the raters' mean
    residuals: a rater within their threshold weighs by their precision, a rater beyond it (clearly
    offset) pulls with the same force as any other, like a median.
    """
    n = n_b + n_p
    use = (n_b > 0) & (n > 0)
    if not use.any():
        return 0.0
    nb, s1b, s1p, nn, v, thr = n_b[use], s1_b[use], s1_p[use], n[use], var[use], threshold[use]

    def slope(c: FloatArray) -> FloatArray:
        m = (s1b[None, :] - c[:, None] * nb[None, :] + s1p[None, :]) / nn[None, :]
        term = nb[None, :] * c[:, None] - s1b[None, :] + nb[None, :] * (m - np.clip(m, -thr[None, :], thr[None, :]))
        return np.asarray((term / v[None, :]).sum(axis=1), dtype=np.float64)

    # the root lies where the batch's mean residuals, moved, meet what the raters' records say
    candidates = np.concatenate([s1b / nb, s1b / nb - np.where(nn > nb, s1p / np.maximum(nn - nb, _TINY), 0.0)])
    pad = float(np.ptp(candidates)) + 1e-6 * (1.0 + float(np.abs(candidates).max()))
    lo, hi = float(candidates.min()) - pad, float(candidates.max()) + pad
    for _ in range(60):  # widen until the root is bracketed (the slope is unbounded with a prior)
        if slope(np.array([lo]))[0] > 0:
            lo -= 2 * (hi - lo)
        elif slope(np.array([hi]))[0] < 0:
            hi += 2 * (hi - lo)
        else:
            break
    for _ in range(6):
        grid = np.linspace(lo, hi, 33)
        k = int(np.searchsorted(slope(grid), 0.0))  # the first grid point with slope >= 0 (1..32: bracketed)
        lo, hi = float(grid[max(k - 1, 0)]), float(grid[min(k, grid.size - 1)])
    d_lo, d_hi = slope(np.array([lo, hi]))
    return lo if d_hi <= d_lo else lo + (hi - lo) * float(-d_lo / (d_hi - d_lo))


def _upper_tail(z: FloatArray) -> FloatArray:
    """``P(N(0, 1) > z)``, to a relative error below 1.2e-7 in both tails (the Chebyshev fit of ``erfc`` in
    W. H. Press et al., *Numerical Recipes*, 6.2: numpy has no ``erf``)."""
    return _tails(z)[0]


def _tails(z: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``P(N(0, 1) > z)`` and ``P(N(0, 1) > -z)`` (:func:`_upper_tail` of both) from one ``erfc`` of ``|z|``."""
    a = np.abs(z) / math.sqrt(2.0)
    u = 1.0 / (1.0 + 0.5 * a)
    poly = -1.26551223 + u * (1.00002368 + u * (0.37409196 + u * (0.09678418 + u * (-0.18628806 + u * (
        0.27886807 + u * (-1.13520398 + u * (1.48851587 + u * (-0.82215223 + u * 0.17087277))))))))  # fmt: skip
    half = 0.5 * (u * np.exp(-a * a + poly))
    upper = np.asarray(np.where(z >= 0, half, 1.0 - half), dtype=np.float64)
    lower = np.asarray(np.where(-z >= 0, half, 1.0 - half), dtype=np.float64)
    return upper, lower


def _mass(mean: FloatArray, sd: FloatArray, scale: tuple[float, float]) -> FloatArray:
    """``P(low <= N(mean, sd^2) <= high)`` for ``scale = (low, high)``, each difference taken in the tail where it
    does not cancel."""
    low, high = scale
    with np.errstate(invalid="ignore", divide="ignore"):
        a, b = (low - mean) / sd, (high - mean) / sd
    upper_a, upper_minus_a = _tails(a)
    upper_b, upper_minus_b = _tails(b)
    inside = np.where(a >= 0, upper_a - upper_b, upper_minus_b - upper_minus_a)
    return np.asarray(np.maximum(inside, 0.0), dtype=np.float64)


def _soft(x: FloatArray, threshold: FloatArray) -> FloatArray:
    return np.asarray(np.sign(x) * np.maximum(np.abs(x) - threshold, 0.0), dtype=np.float64)


@dataclass
class CalibratedMean:
    """A worker-aware mean of numeric answers: each rater's offset removed, each answer weighted by its rater's precision.

    See the module docstring for the model, the fit and the tie rule.

    Examples:
        Three raters, four objects on a 1–5 scale; rater 2 rates everything one point higher. The mean
        would be a third of a point high on every object; the calibrated mean is 0.07 high (four objects
        are not much evidence for an offset), and on the scale's steps it is exact.

        >>> cm = CalibratedMean(low=1, high=5, step=1).fit(
        ...     objects=[0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3],
        ...     workers=[0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2],
        ...     values=[2, 2, 3, 4, 4, 5, 1, 1, 2, 3, 3, 4],
        ...     n_objects=4, n_workers=3,
        ... )
        >>> cm.values_.round(2).tolist(), cm.bias_.round(2).tolist()
        ([2.07, 4.07, 1.07, 3.07], [0.0, 0.0, 0.78])
        >>> cm.snap = True
        >>> cm.fit_predict([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3], [0, 1, 2] * 4, [2, 2, 3, 4, 4, 5, 1, 1, 2, 3, 3, 4],
        ...                n_objects=4, n_workers=3).tolist()
        [2.0, 4.0, 1.0, 3.0]

        A lone answer of rater 2 is corrected with the offset the batch learnt (a 5 becomes a 4):

        >>> cm.fit_predict([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4], [0, 1, 2] * 4 + [2],
        ...                [2, 2, 3, 4, 4, 5, 1, 1, 2, 3, 3, 4, 5], n_objects=5, n_workers=3).tolist()
        [2.0, 4.0, 1.0, 3.0, 4.0]
    """

    low: float | None = None
    """The scale's minimum (a slider's ``min``): values and intervals are clipped to it. ``None``: open."""

    high: float | None = None
    """The scale's maximum (a slider's ``max``). ``None``: open."""

    step: float | None = None
    """The scale's step (a slider's ``step``; 1 for a 1–5 rating). It floors each rater's noise at the
    rounding noise ``step^2 / 12``, and with :attr:`snap` the value and interval are put on its grid."""

    snap: bool = False
    """Put the value (nearest step, half-way up) and the interval (outwards) on the step grid."""

    level: float = 0.9
    """Probability of the interval under the model (Gaussian posterior of the value)."""

    bias_scale: float = 0.5
    """Scale of the Laplace prior on a rater's offset, in units of the crowd's noise ``sigma0``: the
    offset a rater is expected to have. Smaller values correct offsets only on more evidence."""

    noise_strength: float = 5.0
    """Pseudo-answers at the crowd's pooled noise in each rater's noise estimate."""

    random_share: float = 0.05
    """Prior share of random answers of a rater."""

    random_strength: float = 10.0
    """Pseudo-answers of the prior on the random share."""

    n_iter: int = 100
    """Maximum number of EM iterations."""

    tol: float = 1e-5
    """Stop when no value moved by more than this share of the scale's width in one iteration."""

    values_: FloatArray = field(init=False, repr=False)
    """``(n_objects,)`` the consolidated value on the element's scale (clipped; snapped with :attr:`snap`).
    NaN for an object without answers."""

    estimates_: FloatArray = field(init=False, repr=False)
    """``(n_objects,)`` the model's value before clipping and snapping (NaN without answers)."""

    spread_: FloatArray = field(init=False, repr=False)
    """``(n_objects,)`` the value's posterior standard deviation."""

    intervals_: FloatArray = field(init=False, repr=False)
    """``(n_objects, 2)`` low and high end of the interval (clipped; snapped outwards with :attr:`snap`)."""

    confidence_: FloatArray = field(init=False, repr=False)
    """``(n_objects,)`` ``1 - interval width / scale width`` in [0, 1]; the scale's width is
    ``high - low`` when both are given, else the range of the batch's answers. 0 without answers."""

    answer_weights_: FloatArray = field(init=False, repr=False)
    """``(n_answers,)`` each answer's share of its object's value (they sum to 1 per object)."""

    random_probability_: FloatArray = field(init=False, repr=False)
    """``(n_answers,)`` probability that the answer was random (the prior share for a lone answer)."""

    bias_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each rater's offset, in the answers' units (answer minus value)."""

    noise_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each rater's noise (standard deviation of the non-random answers)."""

    random_share_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each rater's share of random answers."""

    worker_statistics_: FloatArray = field(init=False, repr=False)
    """``(n_workers, 5)`` this batch's additive statistics per rater (columns :data:`STATISTICS`), without
    the prior: sum them over batches and pass the sum as the next batch's ``prior``."""

    n_iter_: int = field(init=False, repr=False)
    """EM iterations run."""

    def fit(
        self,
        objects: npt.ArrayLike,
        workers: npt.ArrayLike,
        values: npt.ArrayLike,
        *,
        n_objects: int,
        n_workers: int,
        prior: npt.ArrayLike | None = None,
        known: npt.ArrayLike | None = None,
    ) -> CalibratedMean:
        """Fit the model to one batch of answers (one row per answer).

        Args:
            objects: object index of each answer, ``0..n_objects-1``.
            workers: worker index of each answer, ``0..n_workers-1``.
            values: the number each answer gave (finite; answers outside ``[low, high]`` are taken as
                given, the caller decides whether to reject them).
            n_objects: number of objects (objects without answers are allowed).
            n_workers: number of workers.
            prior: optional ``(n_workers, 5)`` statistics from earlier batches (the sum of their
                :attr:`worker_statistics_`), added to the batch's in every M-step.
            known: optional ``(n_objects,)`` true value of each object whose truth is known (gold: an
                annotation the labelling tool marks as ground truth; its own answer is not among the
                rows), NaN for the others. A gold object's value is held at it in every E-step
                (posterior variance 0), so each answer to it is judged against the gold value alone,
                even a lone one: its offset, noise and random share are measured by the truth. Its
                value, interval and confidence (1) are the gold value's.

        Returns:
            self
        """
        self._check_parameters()
        t = as_index("objects", objects, n_objects)
        w = as_index("workers", workers, n_workers)
        x = np.asarray(values, dtype=np.float64)
        if x.ndim != 1 or not t.size == w.size == x.size:
            raise ValueError(f"objects, workers and values differ in length: {t.size}, {w.size}, {x.size}")
        if not np.isfinite(x).all():
            raise ValueError(f"{int(np.count_nonzero(~np.isfinite(x)))} values are not finite numbers")
        extra = self._prior(prior, n_workers)
        held = self._known(known, n_objects)

        seen = x if held is None else np.concatenate([x, held[~np.isnan(held)]])
        width = self._width(seen)
        floor = self._noise_floor(width)
        per_object = np.bincount(t, minlength=n_objects)
        has = per_object > 0
        # answers with at least one other answer to judge them by: they teach the model, lone answers do not
        learn = per_object[t] >= 2
        if held is not None:  # a gold value judges every answer to its object
            learn |= ~np.isnan(held[t])
            has |= ~np.isnan(held)
        density = 1.0 / width  # of a random answer
        # a gold fit's largest noise variance: a random answer's (none without gold)
        ceiling = math.inf if held is None else max(width * width / 12.0, floor)
        scale = None
        if held is not None:
            scale = (
                float(seen.min()) if self.low is None else float(self.low),
                float(seen.max()) if self.high is None else float(self.high),
            )

        a_pi = self.random_share * self.random_strength
        b_pi = (1.0 - self.random_share) * self.random_strength

        # Start: offsets and noise from the prior alone (the crowd's spread within objects when there is none).
        sigma0_sq = fallback = self._initial_noise(t, x, per_object, extra, floor, width)
        if held is None:
            bias, var, pi = self._m_step(np.zeros((n_workers, N_STATISTICS)), extra, sigma0_sq, floor, a_pi, b_pi)
        else:  # the guard: start from the raters as the gold objects alone show them
            bias, var, pi = self._gold_start(t, w, x, held, extra, (ceiling, fallback, floor), (a_pi, b_pi), density)
        r = 1.0 - pi[w]
        z = np.zeros(n_objects)
        vz = np.zeros(n_objects)
        stats = np.zeros((n_workers, N_STATISTICS))
        self.n_iter_ = 0
        for _ in range(max(self.n_iter, 1)):
            z_new, vz, a_sum, b_sum, prec = self._e_values(t, w, x, r, bias, var, n_objects, held)
            r = self._e_random(t, w, x, bias, var, pi, prec, a_sum, b_sum, learn, density, held, scale)
            if held is not None:
                z_new, vz, a_sum, b_sum, prec = self._e_values(t, w, x, r, bias, var, n_objects, held)
            stats = self._statistics(t[learn], w[learn], x[learn], r[learn], z_new, vz, n_workers)
            total = stats + extra
            sigma0_sq = self._typical_noise(total, fallback, floor, ceiling)
            bias, var, pi = self._m_step(stats, extra, sigma0_sq, floor, a_pi, b_pi, ceiling)
            self.n_iter_ += 1
            moved = float(np.nanmax(np.abs(z_new - z)[has])) if has.any() else 0.0
            z = z_new
            if moved <= self.tol * width:
                break
        # the final values with the final parameters
        z, vz, a_sum, b_sum, prec = self._e_values(t, w, x, r, bias, var, n_objects, held)
        r = self._e_random(t, w, x, bias, var, pi, prec, a_sum, b_sum, learn, density, held, scale)
        z, vz, a_sum, b_sum, prec = self._e_values(t, w, x, r, bias, var, n_objects, held)
        self.worker_statistics_ = self._statistics(t[learn], w[learn], x[learn], r[learn], z, vz, n_workers)

        z = np.where(has, z, np.nan)
        sd = np.where(has, np.sqrt(vz), np.nan)
        self.estimates_ = z
        self.spread_ = sd
        self.bias_ = bias + 0.0  # no -0.0
        self.noise_ = np.sqrt(var)
        self.random_share_ = pi
        self.random_probability_ = 1.0 - r
        with np.errstate(invalid="ignore", divide="ignore"):
            self.answer_weights_ = np.asarray(prec / b_sum[t], dtype=np.float64) if t.size else np.zeros(0)
        self._finish(z, sd, width)
        return self

    def fit_predict(
        self,
        objects: npt.ArrayLike,
        workers: npt.ArrayLike,
        values: npt.ArrayLike,
        *,
        n_objects: int,
        n_workers: int,
        prior: npt.ArrayLike | None = None,
    ) -> FloatArray:
        """:meth:`fit`, then return :attr:`values_`."""
        return self.fit(objects, workers, values, n_objects=n_objects, n_workers=n_workers, prior=prior).values_

    # ---------------------------------------------------------------- parts of the fit

    def _check_parameters(self) -> None:
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"low must be below high, got {self.low} and {self.high}")
        if self.step is not None and not self.step > 0:
            raise ValueError(f"step must be positive, got {self.step}")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {self.level}")
        if not 0.0 < self.random_share < 1.0 or not self.random_strength > 0:
            raise ValueError("random_share must be in (0, 1) and random_strength positive")
        if not self.bias_scale >= 0 or not self.noise_strength > 0:
            raise ValueError("bias_scale must be non-negative and noise_strength positive")

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

    @staticmethod
    def _known(known: npt.ArrayLike | None, n_objects: int) -> FloatArray | None:
        """:meth:`fit`'s ``known`` checked (``None``: no object is gold)."""
        if known is None:
            return None
        held = np.asarray(known, dtype=np.float64)
        if held.shape != (n_objects,):
            raise ValueError(f"known must have one value per object ({n_objects}), not shape {held.shape}")
        if np.isinf(held).any():
            raise ValueError("a known value is not finite")
        return held if not np.isnan(held).all() else None

    def _gold_start(
        self,
        t: IntArray,
        w: IntArray,
        x: FloatArray,
        held: FloatArray,
        extra: FloatArray,
        noise: tuple[float, float, float],
        beta: tuple[float, float],
        density: float,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Offsets, noise and random shares fitted on the answers to the gold objects alone, each judged
        against its gold value (EM over the raters' parameters only: the values are known). ``noise``: the
        ceiling (a random answer's variance), the crowd's fallback noise and the floor; ``beta``: the random
        share's prior."""
        (ceiling, fallback, floor), (a_pi, b_pi) = noise, beta
        n_workers = extra.shape[0]
        on_gold = ~np.isnan(held[t])
        tg, wg, xg = t[on_gold], w[on_gold], x[on_gold]
        none = np.zeros(tg.size, dtype=bool)
        zero = np.zeros(held.size)
        z = np.where(np.isnan(held), 0.0, held)
        # each rater starts as vague as a random answer: the crowd's spread within objects is tiny when it
        # shares an offset, and every gold answer would then look random (an offset never learned)
        zeros = np.zeros((n_workers, N_STATISTICS))
        bias, var, pi = self._m_step(zeros, extra, ceiling, floor, a_pi, b_pi, ceiling)
        for _ in range(max(self.n_iter, 1)):
            prec = np.zeros(tg.size)
            r = self._e_random(tg, wg, xg, bias, var, pi, prec, zero, zero, none, density, held, None)
            stats = self._statistics(tg, wg, xg, r, z, zero, n_workers)
            sigma0_sq = self._typical_noise(stats + extra, fallback, floor, ceiling)
            new_bias, new_var, new_pi = self._m_step(stats, extra, sigma0_sq, floor, a_pi, b_pi, ceiling)
            moved = max(
                float(np.abs(new_pi - pi).max(initial=0.0)),
                float(np.abs(np.sqrt(new_var) - np.sqrt(var)).max(initial=0.0)) / math.sqrt(sigma0_sq),
            )
            bias, var, pi = new_bias, new_var, new_pi
            if moved <= 1e-6:
                break
        return bias, var, pi

    def _width(self, x: FloatArray) -> float:
        if self.low is not None and self.high is not None:
            return float(self.high - self.low)
        spread = float(x.max() - x.min()) if x.size else 0.0
        return spread if spread > 0 else 1.0

    def _noise_floor(self, width: float) -> float:
        rounding = self.step**2 / 12.0 if self.step is not None else 0.0
        return max(rounding, (1e-4 * width) ** 2, _TINY)

    @staticmethod
    def _initial_noise(
        t: IntArray, x: FloatArray, per_object: IntArray, extra: FloatArray, floor: float, width: float
    ) -> float:
        """The crowd's noise before any fit: the pooled within-object variance (and the prior's); a sixth of
        the scale when nothing in the batch or the prior shows it."""
        n = np.maximum(per_object, 1)
        mean = np.bincount(t, weights=x, minlength=per_object.size) / n
        dev = np.bincount(t, weights=(x - mean[t]) ** 2, minlength=per_object.size)
        dof = float(np.maximum(per_object - 1, 0).sum())
        ss = float(dev.sum()) + float(extra[:, 4].sum())
        count = dof + float(extra[:, 0].sum())
        return max(ss / count, floor) if count > 0 else max((width / 6.0) ** 2, floor)

    @classmethod
    def _typical_noise(cls, total: FloatArray, fallback: float, floor: float, ceiling: float) -> float:
        """The pooled noise variance, held between ``floor`` and ``ceiling`` (a gold fit's)."""
        return min(max(cls._pooled_noise(total, fallback), floor), ceiling)

    @staticmethod
    def _pooled_noise(total: FloatArray, fallback: float) -> float:
        n = total[:, 0]
        if n.sum() <= 0:
            return fallback
        s1 = total[:, 2] - total[:, 3]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(n > 0, s1 / n, 0.0)
        # squared residuals around each rater's own mean residual: noise, not offset
        ss = np.maximum(total[:, 4] - mean * s1, 0.0)
        return float(ss.sum() / n.sum())

    def _m_step(
        self,
        stats: FloatArray,
        extra: FloatArray,
        sigma0_sq: float,
        floor: float,
        a_pi: float,
        b_pi: float,
        ceiling: float = math.inf,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Offsets, noise variances and random shares from the batch's statistics and the prior's;
        ``ceiling``: a gold fit's largest noise variance (a random answer's; ``inf`` without gold): gold
        values fix the level, so offsets are measured from them, not from the typical rater (no shift)."""
        n_b, s1_b, sq_b = stats[:, 0], stats[:, 2] - stats[:, 3], stats[:, 4]
        n_p, s1_p, sq_p = extra[:, 0], extra[:, 2] - extra[:, 3], extra[:, 4]
        n = n_b + n_p
        nu0 = self.noise_strength
        gold = ceiling < math.inf  # a gold fit: offsets from the gold values, noise capped
        has = n > 0
        safe = np.where(has, n, 1.0)
        # noise first around the rater's raw mean residual, then the offset shrunk with that noise
        mean_residual = (s1_b + s1_p) / safe
        spread = np.maximum(sq_b + sq_p - mean_residual * (s1_b + s1_p), 0.0)
        var = np.maximum((spread + nu0 * sigma0_sq) / (n + nu0), floor)
        shift = 0.0
        if self.bias_scale > 0 and has.any():
            threshold = np.where(has, var / (safe * self.bias_scale * math.sqrt(sigma0_sq)), np.inf)
            shift = 0.0 if gold else _best_shift(n_b, s1_b, n_p, s1_p, var, threshold)
            bias = np.where(has, _soft((s1_b - shift * n_b + s1_p) / safe, threshold), 0.0)
        else:
            bias = np.zeros_like(n)
        # the noise around the offset, with the batch's residuals as they are once the values moved by ``shift``
        moved = bias + shift
        spread = np.maximum(sq_b - 2 * moved * s1_b + moved**2 * n_b + sq_p - 2 * bias * s1_p + bias**2 * n_p, 0.0)
        var = np.maximum((spread + nu0 * sigma0_sq) / (n + nu0), floor)
        if gold:
            var = np.minimum(var, ceiling)
        n_random = stats[:, 1] + extra[:, 1]
        pi = (n_random + a_pi) / (n + n_random + a_pi + b_pi)
        return np.asarray(bias, dtype=np.float64), np.asarray(var, dtype=np.float64), np.asarray(pi, dtype=np.float64)

    @staticmethod
    def _e_values(
        t: IntArray,
        w: IntArray,
        x: FloatArray,
        r: FloatArray,
        bias: FloatArray,
        var: FloatArray,
        n_objects: int,
        held: FloatArray | None = None,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """``held``: the gold values (:meth:`fit`'s ``known``), at which their objects stay, exactly."""
        prec = np.maximum(r, 1e-6) / var[w]
        corrected = x - bias[w]
        a_sum = np.bincount(t, weights=prec * corrected, minlength=n_objects).astype(np.float64)
        b_sum = np.bincount(t, weights=prec, minlength=n_objects).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(b_sum > 0, a_sum / b_sum, 0.0)
            vz = np.where(b_sum > 0, 1.0 / b_sum, 0.0)
        if held is not None:
            gold = ~np.isnan(held)
            z, vz = np.where(gold, held, z), np.where(gold, 0.0, vz)
        return z, vz, a_sum, b_sum, np.asarray(prec, dtype=np.float64)

    @staticmethod
    def _e_random(
        t: IntArray,
        w: IntArray,
        x: FloatArray,
        bias: FloatArray,
        var: FloatArray,
        pi: FloatArray,
        prec: FloatArray,
        a_sum: FloatArray,
        b_sum: FloatArray,
        others: npt.NDArray[np.bool_],
        density: float,
        held: FloatArray | None = None,
        scale: tuple[float, float] | None = None,
    ) -> FloatArray:
        """Probability that each answer is real, judged against the estimate of the object's other answers
        (``held``: a gold object's answers against its gold value alone)."""
        corrected = x - bias[w]
        b_loo = b_sum[t] - prec
        ok = others & (b_loo > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z_loo = np.where(ok, (a_sum[t] - prec * corrected) / np.where(ok, b_loo, 1.0), 0.0)
            pv = var[w] + np.where(ok, 1.0 / np.where(ok, b_loo, 1.0), 0.0)
        e = corrected - z_loo
        real = (1.0 - pi[w]) * np.exp(-0.5 * e * e / pv) / np.sqrt(2.0 * np.pi * pv)
        if held is not None and scale is not None and scale[1] > scale[0]:
            # the others' estimate as a belief about a value on the scale (the guard of a gold fit): where
            # the others are vague (an answer the fit takes for random), the answer's density tends to a
            # random one's, instead of vanishing under an ever wider Gaussian
            with np.errstate(invalid="ignore", divide="ignore"):
                v_loo = np.where(ok, 1.0 / np.where(ok, b_loo, 1.0), 1.0)
                m = (v_loo * corrected + var[w] * z_loo) / (var[w] + v_loo)
                s = np.sqrt(var[w] * v_loo / (var[w] + v_loo))
                den = _mass(z_loo, np.sqrt(v_loo), scale)
                # others' estimate so far outside the scale that its mass underflows (zero or subnormal,
                # where a quotient overflows): the belief says nothing
                said = den > _TINY_MASS
                ratio = np.where(said, _mass(m, s, scale) / np.where(said, den, 1.0), 1.0)
            real = real * np.where(ok, ratio, 1.0)
        if held is not None:
            gold = ~np.isnan(held[t])
            ok = ok | gold
            e = corrected - np.where(gold, held[t], 0.0)
            exact = (1.0 - pi[w]) * np.exp(-0.5 * e * e / var[w]) / np.sqrt(2.0 * np.pi * var[w])
            real = np.where(gold, exact, real)
        rand = pi[w] * density
        r = real / np.maximum(real + rand, 1e-300)
        return np.asarray(np.where(ok, r, 1.0 - pi[w]), dtype=np.float64)

    @staticmethod
    def _statistics(
        t: IntArray,
        w: IntArray,
        x: FloatArray,
        r: FloatArray,
        z: FloatArray,
        vz: FloatArray,
        n_workers: int,
    ) -> FloatArray:
        e = x - z[t]
        out = np.zeros((n_workers, N_STATISTICS))
        out[:, 0] = np.bincount(w, weights=r, minlength=n_workers)
        out[:, 1] = np.bincount(w, weights=1.0 - r, minlength=n_workers)
        out[:, 2] = np.bincount(w, weights=r * np.maximum(e, 0.0), minlength=n_workers)
        out[:, 3] = np.bincount(w, weights=r * np.maximum(-e, 0.0), minlength=n_workers)
        out[:, 4] = np.bincount(w, weights=r * (e * e + vz[t]), minlength=n_workers)
        return out

    def _finish(self, z: FloatArray, sd: FloatArray, width: float) -> None:
        q = normal_quantile(0.5 + self.level / 2.0)
        lo_bound = -np.inf if self.low is None else float(self.low)
        hi_bound = np.inf if self.high is None else float(self.high)
        value = np.clip(z, lo_bound, hi_bound)
        lo = np.clip(z - q * sd, lo_bound, hi_bound)
        hi = np.clip(z + q * sd, lo_bound, hi_bound)
        if self.snap and self.step is not None:
            origin = 0.0 if self.low is None else float(self.low)
            value = snap_to_step(value, self.step, origin=origin)
            lo = snap_to_step(lo, self.step, origin=origin, mode="down")
            hi = snap_to_step(hi, self.step, origin=origin, mode="up")
            # the grid's last point at or below high (a slider never goes past max), first at or above low
            if self.high is not None:
                top = float(snap_to_step([self.high], self.step, origin=origin, mode="down")[0])
                value, lo, hi = np.minimum(value, top), np.minimum(lo, top), np.minimum(hi, top)
            if self.low is not None:
                value, lo, hi = np.maximum(value, self.low), np.maximum(lo, self.low), np.maximum(hi, self.low)
        self.values_ = np.asarray(value, dtype=np.float64)
        self.intervals_ = np.stack([lo, hi], axis=1) if z.size else np.zeros((0, 2))
        with np.errstate(invalid="ignore"):
            conf = np.clip(1.0 - (hi - lo) / width, 0.0, 1.0)
        self.confidence_ = np.asarray(np.where(np.isnan(z), 0.0, conf), dtype=np.float64)
