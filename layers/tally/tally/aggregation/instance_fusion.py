"""Instance maps: build them from a worker's colours or polygons, and fuse matched instances by pixel vote.

An *instance map* is an integer array the size of the image: 0 where no instance is, ``k + 1`` on
instance *k*. One worker's instance-segmentation answer (a PNG in which each instance has its own
colour, plus its instances' colours and labels) becomes one with :func:`instance_map_from_palette`
(palette PNGs, what Ground Truth's tool writes) or :func:`instance_map_from_colours`; polygons become
one with :func:`rasterise_polygons`, so polygon tasks are consolidated exactly as instances.

:func:`fuse_instances` takes matched clusters (from :func:`~tally.aggregation.matching.match_items`)
and returns the consolidated instance map (computed once per distinct tuple of the workers' instance
ids, as :mod:`tally.aggregation.vote_table` does for classes): inside each cluster a pixel belongs to the fused instance
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

from .vote_table import IndexedMask, VoteTable, tabulate

__all__ = [
    "MAX_INSTANCES",
    "fuse_instance_table",
    "fuse_instances",
    "instance_map_from_colours",
    "instance_map_from_palette",
    "rasterise_polygons",
    "table_iou",
    "tabulate_instances",
]

MAX_INSTANCES = 254
"""Most instances one answer may hold (instance ids are packed into ``uint8`` vote tuples)."""

IntMap = npt.NDArray[np.int32]
ByteMap = npt.NDArray[np.uint8]
RGB = tuple[int, int, int]


def instance_map_from_colours(
    rgb: npt.NDArray[np.uint8],
    colours: Sequence[RGB],
    *,
    alpha: npt.NDArray[np.uint8] | None = None,
    tolerance: int = 16,
) -> ByteMap:
    """A worker's decoded instance PNG → ``uint8`` instance map; instance *k* is the pixels of ``colours[k]``.

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
    _check_count(colours)
    channels = [np.asarray(rgb[..., c], dtype=np.uint8) for c in range(3)]
    if not colours:
        return np.zeros(rgb.shape[:2], dtype=np.uint8)
    wanted = np.asarray(colours, dtype=np.int64).reshape(-1, 3)
    unique_colours, first_of = np.unique(wanted, axis=0, return_index=True)
    near_count = np.zeros(rgb.shape[:2], dtype=np.uint8)
    near_id = np.zeros(rgb.shape[:2], dtype=np.uint8)
    exact_id = np.zeros(rgb.shape[:2], dtype=np.uint8)
    for colour, first in zip(unique_colours.tolist(), first_of.tolist(), strict=True):
        near = np.ones(rgb.shape[:2], dtype=bool)
        for channel, value in zip(channels, colour, strict=True):
            near &= (channel >= max(value - tolerance, 0)) & (channel <= min(value + tolerance, 255))
        near_count += near
        near_id[near] = first + 1
        exact = near & (channels[0] == colour[0]) & (channels[1] == colour[1]) & (channels[2] == colour[2])
        exact_id[exact] = first + 1
    out = np.where(exact_id > 0, exact_id, np.where(near_count == 1, near_id, 0)).astype(np.uint8)
    if alpha is not None:
        out[np.asarray(alpha) == 0] = 0
    return out


def instance_map_from_palette(
    indices: npt.NDArray[np.uint8],
    palette: npt.ArrayLike,
    colours: Sequence[RGB],
    *,
    palette_alpha: npt.ArrayLike | None = None,
    tolerance: int = 16,
) -> ByteMap:
    """:func:`instance_map_from_colours` for a palette image, decided once per palette entry.

    Ground Truth's tool writes palette PNGs; Pillow gives their per-pixel ``indices`` and the
    ``(P, 3)`` ``palette`` (``palette_alpha``: the ``tRNS`` alpha per entry, 255 when absent), so no
    per-pixel colour work is needed. Same colour rule as :func:`instance_map_from_colours`.

    Examples:
        >>> indices = np.array([[0, 1, 2, 2]], dtype=np.uint8)
        >>> palette = [(0, 0, 0), (44, 160, 44), (31, 119, 180)]
        >>> instance_map_from_palette(indices, palette, [(31, 119, 180), (44, 160, 44)], palette_alpha=[0, 255, 255]).tolist()
        [[0, 2, 1, 1]]
    """
    _check_count(colours)
    rows = np.asarray(palette, dtype=np.int64).reshape(-1, 3)
    visible = np.ones(len(rows), dtype=bool) if palette_alpha is None else np.asarray(palette_alpha).reshape(-1) > 0
    if len(visible) < len(rows):
        visible = np.concatenate([visible, np.ones(len(rows) - len(visible), dtype=bool)])
    lookup = np.zeros(256, dtype=np.uint8)
    lookup[: min(len(rows), 256)] = _colour_lookup(rows[:256], visible[:256], colours, tolerance)
    return lookup[np.asarray(indices, dtype=np.uint8)]


def _check_count(colours: Sequence[RGB]) -> None:
    if len(colours) > MAX_INSTANCES:
        raise ValueError(f"{len(colours)} instances in one answer; at most {MAX_INSTANCES} are supported")


def _colour_lookup(
    rows: npt.NDArray[np.integer], visible: npt.NDArray[np.bool_], colours: Sequence[RGB], tolerance: int
) -> ByteMap:
    """Per distinct ``(r, g, b)`` row, the instance (1-based) it belongs to, or 0."""
    lookup = np.zeros(len(rows), dtype=np.uint8)
    if not colours or not len(rows):
        return lookup
    table = np.asarray(rows, dtype=np.int64)
    wanted = np.asarray(colours, dtype=np.int64).reshape(-1, 3)
    unique_colours, first_of = np.unique(wanted, axis=0, return_index=True)
    exact = (table[:, None, :] == unique_colours[None, :, :]).all(axis=2) & visible[:, None]
    near = (np.abs(table[:, None, :] - unique_colours[None, :, :]) <= tolerance).all(axis=2) & visible[:, None]
    choice = np.where(
        exact.any(axis=1), np.argmax(exact, axis=1), np.where(near.sum(axis=1) == 1, np.argmax(near, axis=1), -1)
    )
    lookup[choice >= 0] = first_of[choice[choice >= 0]] + 1
    return lookup


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


def tabulate_instances(maps: Sequence[npt.NDArray[np.integer]], n_instances: Sequence[int]) -> VoteTable:
    """The distinct per-pixel tuples of instance ids of several instance maps, with their pixel counts.

    :func:`tally.aggregation.vote_table.tabulate` on the maps (ids above an answer's ``n_instances`` count as 0):
    pairwise IoUs (:func:`table_iou`) and the vote (:func:`fuse_instance_table`) then run once per
    distinct tuple instead of once per pixel.

    Raises:
        ValueError: the maps differ in shape, or an answer has more than :data:`MAX_INSTANCES`.
    """
    if not maps:
        raise ValueError("tabulate_instances needs at least one instance map")
    masks = []
    for instance_map, n in zip(maps, n_instances, strict=True):
        if n > MAX_INSTANCES:
            raise ValueError(f"an answer has {n} instances; at most {MAX_INSTANCES} are supported")
        ids = np.asarray(instance_map)
        low, high = (
            (0, int(ids.max(initial=0)))
            if ids.dtype == np.uint8
            else (int(ids.min(initial=0)), int(ids.max(initial=0)))
        )
        if low < 0 or high > n:
            ids = np.where((ids >= 0) & (ids <= n), ids, 0).astype(np.uint8)
        elif ids.dtype != np.uint8:
            ids = ids.astype(np.uint8)
        masks.append(IndexedMask(ids, np.arange(n + 1, dtype=np.uint8)))
    if any(m.shape != masks[0].shape for m in masks):
        raise ValueError("instance maps differ in shape")
    return tabulate(masks)


def table_iou(table: VoteTable, a: int, n_a: int, b: int, n_b: int) -> npt.NDArray[np.float64]:
    """``(n_a, n_b)`` IoU of the instances of maps ``a`` and ``b`` of a :func:`tabulate_instances` table.

    Examples:
        >>> table = tabulate_instances([np.array([[1, 1, 0, 2]]), np.array([[1, 0, 0, 1]])], [2, 1])
        >>> table_iou(table, 0, 2, 1, 1).round(3).tolist()
        [[0.333], [0.5]]
    """
    votes = table.votes.astype(np.int64)
    joint = np.bincount(
        votes[:, a] * (n_b + 1) + votes[:, b], weights=table.counts, minlength=(n_a + 1) * (n_b + 1)
    ).reshape(n_a + 1, n_b + 1)
    inter = joint[1:, 1:]
    union = joint[1:, :].sum(axis=1)[:, None] + joint[:, 1:].sum(axis=0)[None, :] - inter
    iou: npt.NDArray[np.float64] = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


def fuse_instance_table(
    table: VoteTable, clusters: Sequence[Sequence[tuple[int, int]]], weights: Sequence[float]
) -> tuple[IntMap, list[int], npt.NDArray[np.float64]]:
    """:func:`fuse_instances` on a :func:`tabulate_instances` table (same rule, same returns)."""
    w = np.asarray(weights, dtype=np.float64)
    votes = table.votes
    n_tuples = len(votes)
    shares = np.zeros((n_tuples, len(clusters) + 1))
    shares[:, 0] = 0.5 - 1e-9  # column 0: no instance, beaten by any cluster reaching half
    for c, members in enumerate(clusters):
        total = sum(w[a] for a, _ in members)
        for a, i in members:
            shares[:, c + 1] += (w[a] / total) * (votes[:, a] == i + 1)
    winner = np.argmax(shares, axis=1)  # the first of equal shares: the earlier cluster
    present = np.bincount(winner, weights=table.counts, minlength=len(clusters) + 1)
    share_sum = np.bincount(
        winner, weights=table.counts * shares[np.arange(n_tuples), winner], minlength=len(clusters) + 1
    )
    kept = [c for c in range(len(clusters)) if present[c + 1] > 0]
    renumber = np.zeros(len(clusters) + 1, dtype=np.int32)
    renumber[[c + 1 for c in kept]] = np.arange(1, len(kept) + 1, dtype=np.int32)
    mean_share = np.array([share_sum[c + 1] / present[c + 1] for c in kept], dtype=np.float64)
    return table.expand(renumber[winner]), kept, mean_share


def fuse_instances(
    maps: Sequence[npt.NDArray[np.integer]],
    clusters: Sequence[Sequence[tuple[int, int]]],
    weights: Sequence[float],
    n_instances: Sequence[int] | None = None,
) -> tuple[IntMap, list[int], npt.NDArray[np.float64]]:
    """Pixel vote inside each cluster of matched instances; one instance map out.

    Inside a cluster a pixel belongs to the fused instance when the weight of the members covering it
    reaches half the cluster's weight (a tie is foreground); a pixel claimed by several fused
    instances goes to the one with the larger share there, then to the earlier cluster.

    Args:
        maps: per answer, its instance map (all the same shape).
        clusters: per fused instance, its members as ``(answer, instance)`` pairs (0-based instance).
        weights: per answer, the worker's positive weight.
        n_instances: per answer, its number of instances (default: the map's largest id).

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
    counts = [int(np.asarray(m).max(initial=0)) for m in maps] if n_instances is None else list(n_instances)
    return fuse_instance_table(tabulate_instances(maps, counts), clusters, weights)
