"""Instance maps: build them from a worker's colours or polygons, and fuse matched instances by pixel vote.

An *instance map* is an integer array the size of the image: 0 where no instance is, ``k + 1`` on
instance *k*. One worker's instance-segmentation answer (a PNG in which each instance has its own
colour, plus ``[{color, label}]``) becomes one with :func:`instance_map_from_colours`; polygons become
one with :func:`rasterise_polygons`, so polygon tasks are consolidated exactly as instances.

:func:`fuse_instances` takes matched clusters (from :func:`~tally.aggregation.matching.match_items`)
and returns the consolidated instance map: inside each cluster a pixel belongs to the fused instance
when its members' weights covering it reach half of the cluster's weight (a tie is foreground, as in
crowd-kit's ``SegmentationMajorityVote``); where fused instances overlap, the pixel goes to the one
with the larger vote share there, then to the earlier cluster.

Reference:
    crowd-kit's segmentation majority vote (Ustalov et al., "Learning from Crowds with Crowd-Kit",
    https://arxiv.org/abs/2109.08584), applied per matched instance instead of per class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

__all__ = [
    "fuse_instances",
    "instance_boxes",
    "instance_map_from_colours",
    "rasterise_polygons",
]

IntMap = npt.NDArray[np.int32]
RGB = tuple[int, int, int]


def instance_map_from_colours(
    rgb: npt.NDArray[np.uint8],
    colours: Sequence[RGB],
    *,
    alpha: npt.NDArray[np.uint8] | None = None,
    tolerance: int = 16,
) -> IntMap:
    """A worker's decoded instance PNG → instance map; instance *k* is the pixels of ``colours[k]``.

    A pixel belongs to instance *k* when its colour is within ``tolerance`` per channel of
    ``colours[k]`` and of no other listed colour (anti-aliased edges snap to their instance; a colour
    between two instances is left out). Pixels with ``alpha == 0`` and colours near no listed colour
    are no instance. When two instances share a colour, the first one gets the pixels and the other
    stays empty (the PNG cannot tell them apart).

    Args:
        rgb: ``(H, W, 3)`` decoded pixels.
        colours: per instance, its ``(r, g, b)`` colour (``[{color, label}]`` order).
        alpha: optional ``(H, W)`` alpha channel.
        tolerance: largest per-channel difference that still counts as the instance's colour.

    Examples:
        >>> px = np.array([[[31, 119, 180], [0, 0, 0], [44, 160, 44], [40, 158, 50]]], dtype=np.uint8)
        >>> instance_map_from_colours(px, [(44, 160, 44), (31, 119, 180)]).tolist()
        [[2, 0, 1, 1]]
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) pixels, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    packed = (rgb[..., 0].astype(np.int64) << 16) | (rgb[..., 1].astype(np.int64) << 8) | rgb[..., 2]
    if alpha is not None:
        packed = np.where(alpha > 0, packed, -1)
    distinct, inverse = np.unique(packed.ravel(), return_inverse=True)
    palette = np.stack([(distinct >> 16) & 0xFF, (distinct >> 8) & 0xFF, distinct & 0xFF], axis=1)
    lookup = np.zeros(len(distinct), dtype=np.int32)
    if colours:
        wanted = np.asarray(colours, dtype=np.int64).reshape(-1, 3)
        unique_colours, first_of = np.unique(wanted, axis=0, return_index=True)
        valid = (distinct >= 0)[:, None]
        exact = (palette[:, None, :] == unique_colours[None, :, :]).all(axis=2) & valid
        near = (np.abs(palette[:, None, :] - unique_colours[None, :, :]) <= tolerance).all(axis=2) & valid
        choice = np.where(
            exact.any(axis=1), np.argmax(exact, axis=1), np.where(near.sum(axis=1) == 1, np.argmax(near, axis=1), -1)
        )
        lookup = np.where(choice >= 0, first_of[choice] + 1, 0).astype(np.int32)
    return lookup[inverse].reshape(height, width)


def rasterise_polygons(polygons: Sequence[npt.ArrayLike], width: int, height: int) -> tuple[IntMap, list[int]]:
    """Paint polygons (each ``(n, 2)`` ``x, y`` vertices) into an instance map, in order.

    A later polygon is painted over an earlier one where they overlap (as the worker saw them
    stacked). A polygon with fewer than three vertices, a NaN/infinite vertex, or no pixel left in the
    map is rejected. Returns the map and the indices of the polygons that are instances in it:
    instance *k* of the map is polygon ``kept[k]``.

    Examples:
        >>> grid, kept = rasterise_polygons([[(0, 0), (3, 0), (0, 3)], [(1, 1), (2, 2)]], 5, 4)
        >>> kept
        [0]
        >>> grid.tolist()
        [[1, 1, 1, 1, 0], [1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]]
    """
    canvas = Image.new("I", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    painted: list[int] = []
    for index, polygon in enumerate(polygons):
        vertices = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
        if len(vertices) < 3 or not np.isfinite(vertices).all():
            continue
        points = [(float(x), float(y)) for x, y in vertices]
        draw.polygon(points, fill=len(painted) + 1, outline=len(painted) + 1)
        painted.append(index)
    raw = np.asarray(canvas, dtype=np.int32)
    present = np.bincount(raw.ravel(), minlength=len(painted) + 1)[1:] > 0
    renumber = np.zeros(len(painted) + 1, dtype=np.int32)
    renumber[1:][present] = np.arange(1, int(present.sum()) + 1, dtype=np.int32)
    kept = [index for index, ok in zip(painted, present.tolist(), strict=True) if ok]
    return renumber[raw], kept


def instance_boxes(instance_map: npt.NDArray[np.integer], n_instances: int) -> npt.NDArray[np.int64]:
    """``(n, 4)`` bounding boxes ``(row0, col0, row1, col1)`` (end exclusive) of instances ``1..n``;
    an empty instance gets ``(0, 0, 0, 0)``.

    Examples:
        >>> instance_boxes(np.array([[0, 1, 1], [0, 0, 1]]), 2).tolist()
        [[0, 1, 2, 3], [0, 0, 0, 0]]
    """
    height, width = instance_map.shape
    ids = np.where(instance_map <= n_instances, instance_map, 0).astype(np.int64)
    rows_of = np.bincount((ids * height + np.arange(height)[:, None]).ravel(), minlength=(n_instances + 1) * height)
    cols_of = np.bincount((ids * width + np.arange(width)[None, :]).ravel(), minlength=(n_instances + 1) * width)
    rows = rows_of.reshape(n_instances + 1, height)[1:] > 0
    cols = cols_of.reshape(n_instances + 1, width)[1:] > 0
    result = np.zeros((n_instances, 4), dtype=np.int64)
    found = rows.any(axis=1)
    result[found, 0] = np.argmax(rows[found], axis=1)
    result[found, 1] = np.argmax(cols[found], axis=1)
    result[found, 2] = height - np.argmax(rows[found][:, ::-1], axis=1)
    result[found, 3] = width - np.argmax(cols[found][:, ::-1], axis=1)
    return result


def fuse_instances(
    maps: Sequence[npt.NDArray[np.integer]],
    clusters: Sequence[Sequence[tuple[int, int]]],
    weights: Sequence[float],
    boxes: Sequence[npt.NDArray[np.int64]] | None = None,
) -> tuple[IntMap, list[int], npt.NDArray[np.float64]]:
    """Pixel vote inside each cluster of matched instances; one instance map out.

    Args:
        maps: per answer, its instance map (all the same shape).
        clusters: per fused instance, its members as ``(answer, instance)`` pairs (0-based instance).
        weights: per answer, the worker's positive weight.
        boxes: per answer, :func:`instance_boxes` of its map (computed when not given).

    Returns:
        ``(fused, kept, shares)``: the fused map, where instance *k* is cluster ``kept[k]``; clusters
        whose vote leaves no pixel (or whose pixels all go to other instances) are left out; and per
        kept instance the mean vote share over its pixels (1.0 when every member covers every pixel).

    Examples:
        >>> a = np.array([[1, 1, 1, 0]])
        >>> b = np.array([[1, 1, 0, 0]])
        >>> c = np.array([[0, 1, 1, 1]])
        >>> fused, kept, shares = fuse_instances([a, b, c], [[(0, 0), (1, 0), (2, 0)]], [1.0, 1.0, 1.0])
        >>> fused.tolist(), kept, shares.round(3).tolist()
        ([[1, 1, 1, 0]], [0], [0.778])
    """
    if not maps:
        raise ValueError("fuse_instances needs at least one instance map")
    shape = maps[0].shape
    if any(m.shape != shape for m in maps):
        raise ValueError("instance maps differ in shape")
    w = np.asarray(weights, dtype=np.float64)
    if boxes is None:
        boxes = [instance_boxes(m, int(m.max(initial=0))) for m in maps]
    fused = np.zeros(shape, dtype=np.int32)
    best = np.zeros(shape, dtype=np.float64)
    for index, members in enumerate(clusters):
        spans = np.array([boxes[a][i] for a, i in members], dtype=np.int64).reshape(-1, 4)
        spans = spans[(spans[:, 2] > spans[:, 0]) & (spans[:, 3] > spans[:, 1])]
        if len(spans) == 0:
            continue
        r0, c0 = spans[:, :2].min(axis=0)
        r1, c1 = spans[:, 2:].max(axis=0)
        votes = np.zeros((r1 - r0, c1 - c0), dtype=np.float64)
        total = 0.0
        for a, i in members:
            votes += w[a] * (maps[a][r0:r1, c0:c1] == i + 1)
            total += w[a]
        share = votes / total
        inside = (share >= 0.5 - 1e-9) & (share > best[r0:r1, c0:c1])
        if not inside.any():
            continue
        fused[r0:r1, c0:c1][inside] = index + 1
        best[r0:r1, c0:c1][inside] = share[inside]
    present = np.bincount(fused.ravel(), minlength=len(clusters) + 1)
    sums = np.bincount(fused.ravel(), weights=best.ravel(), minlength=len(clusters) + 1)
    kept = [c for c in range(len(clusters)) if present[c + 1] > 0]
    renumber = np.zeros(len(clusters) + 1, dtype=np.int32)
    renumber[[c + 1 for c in kept]] = np.arange(1, len(kept) + 1, dtype=np.int32)
    shares = np.array([sums[c + 1] / present[c + 1] for c in kept], dtype=np.float64)
    return renumber[fused], kept, shares
