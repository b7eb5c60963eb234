"""Fuse matched boxes (and keypoints) by robust weighted averages of their coordinates.

A matched cluster of boxes is fused edge by edge: each of ``x0, y0, x1, y1`` is a Huber M-estimate
of the members' edges (:func:`huber_location`), started from the weighted median and scaled by the
members' spread — or, better, by a scale and threshold known from the whole batch (the typical edge
noise relative to the box's side, and Huber's minimax ``k`` for the batch's share of gross edge
errors, :func:`huber_k`): a cluster of five edges cannot tell its own spread well, and a small
scale discounts careful edges as if they were outliers. Why not the plain mean: one careless edge (a box dragged past the object, a
worker who clipped half of it) moves the mean by a fraction of its error for every member it
outvotes, so with three workers a single bad edge shifts the result by a third of its error. The
median ignores it but throws away the precision of averaging careful edges; the Huber estimate is
the mean of the edges near the median and gives far-off edges a bounded influence.

Keypoints are fused by the weighted median of each coordinate (:func:`weighted_median`).

Reference:
    P. J. Huber, "Robust estimation of a location parameter", Annals of Mathematical Statistics 35
    (1964) 73–101. https://doi.org/10.1214/aoms/1177703732 (the M-estimate, and the minimax ``k``
    for a contaminated normal distribution).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "BoxFusion",
    "boxes_from_ltwh",
    "boxes_to_ltwh",
    "huber_k",
    "huber_location",
    "pooled_edge_noise",
    "weighted_median",
    "weighted_medians",
]

FloatArray = npt.NDArray[np.float64]
_MAD_TO_SIGMA = 1.4826  # the MAD of a normal sample times this estimates its standard deviation
_NORMAL_TAIL_3 = 0.0026998  # P(|z| > 3) for a standard normal z


def weighted_median(values: npt.ArrayLike, weights: npt.ArrayLike | None = None) -> FloatArray:
    """Weighted median of each column of a ``(k, d)`` array (a ``(k,)`` array gives a scalar array).

    The median is the smallest value at which the cumulative weight of the sorted values reaches half
    the total; when it lands exactly on half, the midpoint of that value and the next (so two equal
    weights give the average of the two). Weights must be positive.

    Examples:
        >>> weighted_median([1.0, 2.0, 10.0]).item()
        2.0
        >>> weighted_median([1.0, 3.0]).item()
        2.0
        >>> weighted_median([1.0, 2.0, 10.0], [1.0, 1.0, 3.0]).item()
        10.0
    """
    data = np.asarray(values, dtype=np.float64)
    flat = data.ndim == 1
    table = data[:, None] if flat else data
    k = table.shape[0]
    if k == 0:
        raise ValueError("weighted_median of no values")
    w = np.ones(k) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (k,) or not (w > 0).all():
        raise ValueError(f"need {k} positive weights, got {w.tolist()}")
    fused: FloatArray = weighted_medians(table[None], w[None])[0]
    return fused[0:1].reshape(()) if flat else fused


def weighted_medians(values: FloatArray, weights: FloatArray) -> FloatArray:
    """:func:`weighted_median` of each ``(K, D)`` slice of ``(C, K, D)`` values at once: ``(C, D)``.

    ``weights`` is ``(C, K)``; a zero weight marks padding (a slice with fewer than ``K`` values).

    Examples:
        >>> values = np.array([[[1.0], [5.0], [0.0]], [[2.0], [4.0], [9.0]]])
        >>> weighted_medians(values, np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0]])).tolist()
        [[3.0], [4.0]]
    """
    pads = weights <= 0
    table = np.where(pads[:, :, None], np.inf, values)  # padding sorts last and is never chosen
    order = np.argsort(table, axis=1, kind="stable")
    ranked = np.take_along_axis(table, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(np.broadcast_to(weights[:, :, None], table.shape), order, axis=1), axis=1)
    total = cumulative[:, -1:, :]
    half = total / 2.0
    tol = 1e-12 * total
    idx = np.argmax(cumulative >= half - tol, axis=1)[:, None, :]
    result = np.take_along_axis(ranked, idx, axis=1)[:, 0, :]
    on_half = (np.abs(np.take_along_axis(cumulative, idx, axis=1) - half) <= tol)[:, 0, :]
    following = np.take_along_axis(ranked, np.minimum(idx + 1, table.shape[1] - 1), axis=1)[:, 0, :]
    with np.errstate(invalid="ignore"):
        midpoint = (result + following) / 2.0
    fused: FloatArray = np.where(on_half & np.isfinite(following), midpoint, result)
    return fused


def huber_k(contamination: float, *, max_k: float = 3.0) -> float:
    """Huber's minimax threshold for a normal distribution with a share ``contamination`` of gross errors.

    The ``k`` solving ``2φ(k)/k − 2Φ(−k) = ε / (1 − ε)`` (Huber 1964, the estimate with the least
    worst-case variance over that neighbourhood), found by bisection; at most ``max_k`` (clean data:
    the equation gives ``k → ∞``, the mean; ``k = 3`` is already 99.9 % efficient under the normal).

    Examples:
        >>> round(huber_k(0.05), 2), round(huber_k(0.01), 2), huber_k(0.0)
        (1.4, 1.95, 3.0)
    """
    if contamination <= 0.0:
        return max_k
    target = contamination / (1.0 - contamination) if contamination < 1.0 else math.inf

    def excess(k: float) -> float:  # decreasing in k
        return 2.0 * math.exp(-k * k / 2.0) / (math.sqrt(2.0 * math.pi) * k) - math.erfc(k / math.sqrt(2.0))

    low, high = 1e-3, max_k
    if excess(high) >= target:
        return max_k
    for _ in range(60):
        mid = (low + high) / 2.0
        if excess(mid) > target:
            low = mid
        else:
            high = mid
    return (low + high) / 2.0


def pooled_edge_noise(differences: npt.ArrayLike) -> tuple[float, float]:
    """A batch's edge noise and share of gross edge errors, from the differences of matched boxes' edges.

    ``differences`` are, per pair of boxes matched to the same object, the differences of their same
    edges, each over the cluster's median side (width for x edges, height for y edges). The noise is
    ``1.4826 × median |d| / √2`` (a difference holds two edges' noise); the share of gross errors is
    the share of differences beyond ``3 × √2`` times that noise above a normal sample's (0.27 %),
    halved (a difference is gross when either of its two edges is), at most ½. Huber's :func:`huber_k`
    of the share is the threshold for such a batch.

    Examples:
        >>> scale, gross = pooled_edge_noise([0.02, -0.02, 0.02, -0.02, 0.5])
        >>> round(scale, 4), round(gross, 4)
        (0.021, 0.0987)
    """
    magnitude = np.abs(np.asarray(differences, dtype=np.float64))
    scale = float(_MAD_TO_SIGMA * np.median(magnitude) / np.sqrt(2.0))
    tail = float(np.mean(magnitude > 3.0 * np.sqrt(2.0) * scale)) if scale > 0 else 0.0
    return scale, float(np.clip((tail - _NORMAL_TAIL_3) / 2.0, 0.0, 0.5))


def huber_location(
    values: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    *,
    k: float = 1.5,
    scale_floor: npt.ArrayLike = 1.0,
    n_iter: int = 5,
) -> FloatArray:
    """Weighted Huber M-estimate of the location of each column of a ``(k, d)`` array.

    Start at the weighted median; the scale is ``1.4826 × weighted MAD`` (at least ``scale_floor``,
    per column); then ``n_iter`` reweighting steps in which a value ``u`` scales from the estimate
    keeps its weight while ``u <= k`` and gets ``k / u`` of it beyond. One value returns itself;
    two equal weights return the average.

    Examples:
        >>> huber_location([[10.0], [11.0], [12.0], [40.0]]).round(2).tolist()
        [11.74]
        >>> float(np.mean([10.0, 11.0, 12.0, 40.0]))
        18.25
    """
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 2:
        raise ValueError("huber_location expects a (k, d) array")
    w = np.ones(data.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    floor = np.broadcast_to(np.asarray(scale_floor, dtype=np.float64), data.shape[1:])
    location: FloatArray = _huber_many(data[None], w[None], floor[None], k, n_iter)[0]
    return location


def _huber_many(
    values: FloatArray,
    weights: FloatArray,
    floor: FloatArray,
    k: float,
    n_iter: int,
    scale: FloatArray | None = None,
    median: FloatArray | None = None,
) -> FloatArray:
    """:func:`huber_location` of each ``(K, D)`` slice of ``(C, K, D)`` values (zero weight: padding);
    ``floor`` is ``(C, D)``; a ``(C, D)`` ``scale`` replaces the slices' own MAD (still at least ``floor``);
    ``median``: the slices' weighted medians when the caller has them (the starting point)."""
    location = weighted_medians(values, weights) if median is None else median
    if scale is None:
        residual = np.abs(values - location[:, None, :])
        scale = weighted_medians(residual, weights) * _MAD_TO_SIGMA
    scale = np.maximum(scale, floor)
    w = weights[:, :, None]
    for _ in range(n_iter):
        deviation = values - location[:, None, :]
        u = np.abs(deviation) / scale[:, None, :]
        h = w * np.minimum(1.0, k / np.maximum(u, 1e-12))
        location = location + (h * deviation).sum(axis=1) / h.sum(axis=1)  # exact when all agree
    return location


@dataclass
class BoxFusion:
    """Fuse one cluster of boxes into one box by a robust weighted average of each edge.

    Boxes are ``(x0, y0, x1, y1)``. Each edge is :func:`huber_location` of the members' edges with
    the members' weights; its scale is the cluster's own MAD, or ``edge_scale`` times the median box's
    width (x edges) or height (y edges) when the caller knows the noise (:meth:`fuse_many`), and never
    below ``scale_floor`` times that side, so three nearly identical edges are simply averaged. The
    module docstring says why not the plain mean.

    Examples:
        >>> fusion = BoxFusion()
        >>> boxes = [[10, 10, 50, 50], [12, 10, 52, 50], [11, 10, 90, 50]]
        >>> fusion.fuse(boxes, [1.0, 1.0, 1.0]).round(1).tolist()
        [11.0, 10.0, 54.0, 50.0]
        >>> fusion.fuse(boxes, [1.0, 1.0, 1.0], edge_scale=0.05, k=3.0).round(1).tolist()  # x1 = 90 still discounted
        [11.0, 10.0, 54.1, 50.0]
    """

    k: float = 2.0
    """Huber's threshold in units of the scale: edges within it are averaged, beyond it discounted
    (2.0 scored best on the tuning crowds among 1.0, 1.5, 2.0 and 2.5: ``make bench-boxes BOXES_ARGS=--tune``);
    :meth:`fuse_many`'s ``k`` overrides it (a batch's :attr:`BoxConsolidation.edge_k_`)."""
    scale_floor: float = 0.03
    """Smallest scale, as a fraction of the median box's side."""
    n_iter: int = 5
    """Reweighting steps."""

    def fuse(
        self, boxes: npt.ArrayLike, weights: npt.ArrayLike, edge_scale: float | None = None, k: float | None = None
    ) -> FloatArray:
        """The fused ``(4,)`` box of a ``(k, 4)`` cluster with positive ``(k,)`` weights (``edge_scale``
        and ``k``: :meth:`fuse_many`)."""
        data = np.asarray(boxes, dtype=np.float64).reshape(1, -1, 4)
        w = np.asarray(weights, dtype=np.float64).reshape(1, -1)
        fused: FloatArray = self.fuse_many(data, w, edge_scale, k)[0]
        return fused

    def fuse_many(
        self, boxes: npt.ArrayLike, weights: npt.ArrayLike, edge_scale: float | None = None, k: float | None = None
    ) -> FloatArray:
        """Fuse ``C`` clusters at once: ``(C, K, 4)`` boxes, ``(C, K)`` weights, zero weight for padding
        (clusters smaller than ``K``); returns ``(C, 4)``.

        ``edge_scale``: the edge noise as a fraction of the box's side, known from elsewhere (a batch's
        pooled estimate, :attr:`BoxConsolidation.edge_scale_`); the Huber scale of a cluster's
        x edges is then ``edge_scale × width`` (y edges: height) instead of its own MAD — still at
        least ``scale_floor`` of the side. ``None``: each cluster's own weighted MAD. ``k``: Huber's
        threshold for these clusters (a batch's :attr:`BoxConsolidation.edge_k_`); ``None``: :attr:`k`."""
        data = np.asarray(boxes, dtype=np.float64)
        w = np.asarray(weights, dtype=np.float64)
        if data.ndim != 3 or data.shape[2] != 4 or w.shape != data.shape[:2]:
            raise ValueError(f"need (C, K, 4) boxes and (C, K) weights, got {data.shape} and {w.shape}")
        if data.shape[0] == 0:
            return np.zeros((0, 4))
        if not (w.max(axis=1) > 0).all():
            raise ValueError("every cluster needs a positive weight")
        median = weighted_medians(data, w)
        width = np.maximum(median[:, 2] - median[:, 0], 1.0)
        height = np.maximum(median[:, 3] - median[:, 1], 1.0)
        sides = np.stack([width, height, width, height], axis=1)
        floor = self.scale_floor * sides
        scale = None if edge_scale is None else edge_scale * sides
        fused = _huber_many(data, w, floor, self.k if k is None else k, self.n_iter, scale, median)
        single = (w > 0).sum(axis=1) == 1  # one box: itself, exactly
        fused[single] = data[single, np.argmax(w[single] > 0, axis=1)]
        return fused


def boxes_from_ltwh(boxes: npt.ArrayLike, width: float, height: float) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """``(n, 4)`` ``left, top, width, height`` boxes → clipped ``(x0, y0, x1, y1)`` and which are kept.

    A box is clipped to the image ``[0, width] × [0, height]``; a box with no area inside it (wholly
    outside, zero or negative width or height, or a NaN/infinite coordinate) is rejected. Returns the
    kept boxes only and a boolean ``(n,)`` array saying which input boxes they are.

    Examples:
        >>> kept, ok = boxes_from_ltwh([[-10, 5, 30, 10], [200, 0, 5, 5]], 100, 100)
        >>> kept.tolist(), ok.tolist()
        ([[0.0, 5.0, 20.0, 15.0]], [True, False])
    """
    data = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    finite: npt.NDArray[np.bool_] = np.asarray(np.isfinite(data).all(axis=1))
    safe = np.where(finite[:, None], data, 0.0)
    x0 = np.clip(safe[:, 0], 0.0, width)
    y0 = np.clip(safe[:, 1], 0.0, height)
    x1 = np.clip(safe[:, 0] + safe[:, 2], 0.0, width)
    y1 = np.clip(safe[:, 1] + safe[:, 3], 0.0, height)
    ok = finite & (safe[:, 2] > 0) & (safe[:, 3] > 0) & (x1 > x0) & (y1 > y0)
    return np.stack([x0, y0, x1, y1], axis=1)[ok], ok


def boxes_to_ltwh(boxes: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """``(n, 4)`` ``(x0, y0, x1, y1)`` → integer ``left, top, width, height`` (edges rounded half to even).

    Examples:
        >>> boxes_to_ltwh([[10.4, 9.6, 50.5, 20.0]]).tolist()
        [[10, 10, 40, 10]]
    """
    edges = np.rint(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)).astype(np.int64)
    return np.stack([edges[:, 0], edges[:, 1], edges[:, 2] - edges[:, 0], edges[:, 3] - edges[:, 1]], axis=1)
