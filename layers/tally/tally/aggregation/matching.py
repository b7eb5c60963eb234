"""Match what different workers drew into clusters: one item per worker per cluster, per label.

Items are whatever a geometric task collects (boxes, instance masks, keypoints); the matcher only
sees one similarity matrix between all items of all answers (:func:`box_iou`, :func:`instance_iou`,
:func:`point_similarity`), and the items' labels. Items of different labels
never match: a worker who gives an object the wrong class starts a cluster of its own under that
class, where the crowd's keep rule judges it.

Scheme (:func:`match_items`), per label:

1. Order the answers deterministically: by descending worker weight, then by descending number of
   items of that label, then by worker key (an id the caller supplies). The input order of the
   answers therefore never matters as long as the keys are distinct.
2. The first answer's items each open a cluster.
3. Every following answer is matched to the clusters so far by optimal assignment
   (:func:`~tally.aggregation.assignment.max_similarity_assignment`) on the *average linkage*
   similarity: an item's similarity to a cluster is the mean of its similarities to the cluster's
   members. Pairs at or above ``min_similarity`` join; the answer's other items open new clusters.

Average linkage against the members (rather than against a fused item) needs only the pairwise
similarities, is the same for every item kind, and does not change when a member joins in a different
order. An item can never join a cluster that already holds an item of its own answer, so a worker
who draws two boxes on one object leaves the second one alone in its own cluster.

Reference: the built-in Ground Truth bounding-box consolidation matches boxes across workers by IoU
(https://docs.aws.amazon.com/sagemaker/latest/dg/sms-annotation-consolidation.html); ensemble-boxes'
weighted boxes fusion (Solovyev et al., "Weighted boxes fusion", Image and Vision Computing 107, 2021,
https://doi.org/10.1016/j.imavis.2021.104117) clusters greedily instead of by optimal assignment.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .assignment import max_similarity_assignment
from .instance_fusion import table_iou, tabulate_instances

__all__ = [
    "Cluster",
    "box_iou",
    "instance_iou",
    "item_offsets",
    "match_items",
    "matching_orders",
    "point_similarity",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Cluster:
    """Items of different answers taken to be the same object."""

    label: Hashable
    """The label all members share."""
    members: tuple[tuple[int, int], ...]
    """``(answer, item)`` index pairs in the answers' processing order; one per answer at most."""


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Intersection over union of every box of ``a`` with every box of ``b``.

    Boxes are ``(n, 4)`` arrays of ``(x0, y0, x1, y1)`` edges. A pair of empty boxes scores 0.

    Examples:
        >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2], [5, 5, 6, 6]]).tolist()
        [[0.3333333333333333, 0.0]]
    """
    first = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    second = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lo = np.maximum(first[:, None, :2], second[None, :, :2])
    hi = np.minimum(first[:, None, 2:], second[None, :, 2:])
    inter = np.clip(hi - lo, 0.0, None).prod(axis=2)
    area_a = np.clip(first[:, 2:] - first[:, :2], 0.0, None).prod(axis=1)
    area_b = np.clip(second[:, 2:] - second[:, :2], 0.0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    iou: FloatArray = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


def point_similarity(a: npt.ArrayLike, b: npt.ArrayLike, sigma: float) -> FloatArray:
    """``exp(-d² / 2σ²)`` for every point of ``a`` against every point of ``b`` (``(n, 2)`` arrays).

    The shape of COCO's object keypoint similarity; ``sigma`` is in pixels (callers scale it with the
    image, e.g. a fraction of its diagonal). Two points ``sigma`` apart score ``exp(-1/2) ≈ 0.61``.

    Examples:
        >>> point_similarity([[0, 0]], [[0, 0], [3, 4]], sigma=5.0).round(3).tolist()
        [[1.0, 0.607]]
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    first = np.asarray(a, dtype=np.float64).reshape(-1, 2)
    second = np.asarray(b, dtype=np.float64).reshape(-1, 2)
    d2 = ((first[:, None, :] - second[None, :, :]) ** 2).sum(axis=2)
    return np.asarray(np.exp(-d2 / (2.0 * sigma * sigma)), dtype=np.float64)


def instance_iou(a: npt.NDArray[np.integer], n_a: int, b: npt.NDArray[np.integer], n_b: int) -> FloatArray:
    """IoU of every instance of map ``a`` with every instance of map ``b``, from one joint histogram.

    An instance map holds 0 for no instance and ``k + 1`` for instance *k*; ``n_a``/``n_b`` are the
    numbers of instances (ids above them are ignored). Both maps must have the same shape.

    Examples:
        >>> a = np.array([[1, 1, 0, 2]])
        >>> b = np.array([[1, 0, 0, 1]])
        >>> instance_iou(a, 2, b, 1).round(3).tolist()
        [[0.333], [0.5]]
    """
    if a.shape != b.shape:
        raise ValueError(f"instance maps differ in shape: {a.shape} and {b.shape}")
    return table_iou(tabulate_instances([a, b], [n_a, n_b]), 0, n_a, 1, n_b)


def item_offsets(labels: Sequence[Sequence[Hashable]]) -> npt.NDArray[np.intp]:
    """Where each answer's items start in the concatenation of all answers' items (``n_answers + 1``).

    Examples:
        >>> item_offsets([["car"], [], ["car", "bus"]]).tolist()
        [0, 1, 1, 3]
    """
    return np.concatenate([[0], np.cumsum([len(x) for x in labels])]).astype(np.intp)


def match_items(
    labels: Sequence[Sequence[Hashable]],
    similarity: npt.ArrayLike,
    *,
    keys: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
    min_similarity: float = 0.5,
) -> list[Cluster]:
    """Cluster the items of several answers, per label, by incremental optimal assignment.

    The scheme is in the module docstring. Deterministic; independent of the order of the answers
    when ``keys`` are distinct (ties in weight and item count are broken by key).

    Args:
        labels: per answer, the label of each of its items.
        similarity: ``(N, N)`` similarities between all items of all answers, concatenated in answer
            order (item *i* of answer *a* is row ``item_offsets(labels)[a] + i``); entries between
            items of one answer, or of different labels, are never read.
        keys: per answer, a distinct sort key (the worker id); default: the answer's position.
        weights: per answer, the worker's weight (heavier answers are placed first); default equal.
        min_similarity: an item joins a cluster only when its mean similarity to the members reaches
            this (IoU 0.5 for boxes and masks, as in Ground Truth's and COCO's matching).

    Returns:
        Clusters ordered by label (as text), then by when they were opened.

    Examples:
        >>> boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]])
        >>> clusters = match_items([["car"], ["car", "car"]], box_iou(boxes, boxes))
        >>> [c.members for c in clusters]
        [((1, 0), (0, 0)), ((1, 1),)]
    """
    offsets = item_offsets(labels)
    matrix = np.asarray(similarity, dtype=np.float64)
    if matrix.shape != (offsets[-1], offsets[-1]):
        raise ValueError(f"similarity has shape {matrix.shape}; the answers have {offsets[-1]} items")
    by_label = _items_by_label(labels)
    clusters: list[Cluster] = []
    for label, order in zip(
        sorted(by_label, key=str), matching_orders(labels, keys=keys, weights=weights), strict=True
    ):
        items = by_label[label]
        # per cluster, the sum of its members' similarity rows: linkage = sums[:, own] / sizes
        sums = np.zeros((sum(len(x) for x in items), matrix.shape[1]))
        sizes = np.zeros(len(sums))
        groups: list[list[tuple[int, int]]] = []
        for answer in order:
            own = np.asarray(items[answer], dtype=np.intp)
            rows_of_own = offsets[answer] + own
            opened = len(groups)
            joined: set[int] = set()
            if opened:
                linkage = sums[:opened][:, rows_of_own] / sizes[:opened, None]
                rows, cols = max_similarity_assignment(linkage, min_similarity)
                sums[rows] += matrix[rows_of_own[cols]]
                sizes[rows] += 1
                for g, col in zip(rows.tolist(), cols.tolist(), strict=True):
                    groups[g].append((answer, int(own[col])))
                joined = set(cols.tolist())
            fresh = [c for c in range(len(own)) if c not in joined]
            sums[opened : opened + len(fresh)] = matrix[rows_of_own[fresh]]
            sizes[opened : opened + len(fresh)] = 1
            groups.extend([(answer, int(own[c]))] for c in fresh)
        clusters.extend(Cluster(label=label, members=tuple(members)) for members in groups)
    return clusters


def matching_orders(
    labels: Sequence[Sequence[Hashable]],
    *,
    keys: Sequence[str] | None = None,
    weights: Sequence[float] | None = None,
) -> list[tuple[int, ...]]:
    """Per label (ordered as text), the answers with items of it in the order :func:`match_items`
    matches them: by descending weight, then descending number of items of the label, then key.

    The weights change the clusters only through this order: two sets of weights that give the same
    orders give the same clusters.

    Examples:
        >>> matching_orders([["car"], ["car", "car"], ["bus"]], weights=[1.0, 0.5, 1.0])
        [(2,), (0, 1)]
        >>> matching_orders([["car"], ["car", "car"], ["bus"]])
        [(2,), (1, 0)]
    """
    n_answers = len(labels)
    key_of = list(keys) if keys is not None else [f"{i:09d}" for i in range(n_answers)]
    weight_of = np.ones(n_answers) if weights is None else np.asarray(weights, dtype=np.float64)
    if len(key_of) != n_answers or len(weight_of) != n_answers:
        raise ValueError(f"{n_answers} answers but {len(key_of)} keys and {len(weight_of)} weights")
    by_label = _items_by_label(labels)
    return [
        tuple(
            sorted((a for a in range(n_answers) if items[a]), key=lambda a: (-weight_of[a], -len(items[a]), key_of[a]))
        )
        for items in (by_label[label] for label in sorted(by_label, key=str))
    ]


def _items_by_label(labels: Sequence[Sequence[Hashable]]) -> dict[Hashable, list[list[int]]]:
    """Per label, per answer, the indices of the answer's items of that label."""
    by_label: dict[Hashable, list[list[int]]] = {}
    for answer, answer_labels in enumerate(labels):
        for item, label in enumerate(answer_labels):
            by_label.setdefault(label, [[] for _ in range(len(labels))])[answer].append(item)
    return by_label
