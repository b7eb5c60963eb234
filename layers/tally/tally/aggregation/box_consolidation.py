"""Consolidate bounding boxes: the geometric core (:mod:`tally.aggregation.geometric`) on IoU, with a
robust fusion of each edge and the boxes a wrong-class worker drew on the object.

**Fuse.** :class:`~tally.aggregation.box_fusion.BoxFusion` (robust weighted average of each edge), with
the scale and Huber threshold :meth:`BoxConsolidation.fit` pools over the batch (``edge_scale_``: the
typical edge difference of matched boxes relative to their side; ``edge_k_``: Huber's minimax ``k``
for the share of differences too large for that scale — 3 on clean Gaussian jitter, where the fused
edge is the weighted mean, about 1.5 when a fifth of the workers drag edges,
:func:`~tally.aggregation.box_fusion.pooled_edge_noise`); a batch too small to pool (fewer than
``min_scale_pairs`` differences) uses each cluster's own MAD and ``k = 2``.

**Borrow.** A kept box also *borrows* the boxes of other labels that the keep rule left out and that
overlap its fused box by ``borrow_similarity`` (a wrong-class worker still drew the object), each at
``borrow_weight`` × its worker's fusion weight, one per worker not in the cluster (optimal
assignment); borrowed boxes shape the geometry only, not the support, confidence or ``workers``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from .assignment import max_similarity_assignment
from .base import ObjectItems
from .box_fusion import BoxFusion, huber_k, pooled_edge_noise
from .geometric import CoordinateConsolidation, FittedMatching
from .matching import Cluster, box_iou

__all__ = ["BoxConsolidation"]

FloatArray = npt.NDArray[np.float64]


@dataclass
class BoxConsolidation(CoordinateConsolidation):
    """Match, keep and fuse the boxes of a batch (this module's and :mod:`~tally.aggregation.geometric`'s
    docstrings). Boxes are ``(n, 4)`` ``x0, y0, x1, y1`` per answer.

    Fitted statistics: ``worker_statistics_``, per worker ID the eight evidence counts of
    :data:`~tally.aggregation.geometric.EVIDENCE_FIELDS` (a job's next batch takes their sum as ``prior``).

    Examples:
        >>> from tally.aggregation.base import ObjectItems, WorkerItems
        >>> boxes = lambda *b: np.array(b, dtype=float)
        >>> obj = ObjectItems(
        ...     answers=(
        ...         WorkerItems("a", ("car",), boxes([10, 10, 50, 40])),
        ...         WorkerItems("b", ("car",), boxes([12, 10, 50, 42])),
        ...         WorkerItems("c", ("car", "car"), boxes([11, 11, 51, 41], [70, 0, 90, 20])),
        ...     ),
        ...     width=100,
        ...     height=60,
        ... )
        >>> result = BoxConsolidation().fit([obj]).predict(obj)
        >>> result.labels, result.geometry.round(1).tolist(), result.workers
        (['car'], [[11.0, 10.3, 50.3, 41.0]], [('a', 'b', 'c')])
    """

    borrow_weight: float = 0.5
    """The weight, relative to its worker's fusion weight, of another label's box that a kept cluster
    borrows for its geometry (a wrong-class worker still drew the object); 0: none."""
    borrow_similarity: float = 0.7
    """The least IoU with a kept cluster's fused box at which another label's box, of a worker not in
    the cluster and left out by the keep rule, is borrowed."""
    box_fusion: BoxFusion = field(default_factory=BoxFusion)
    """How a cluster of boxes becomes one box."""
    pooled_scale: bool = True
    """Fuse with the batch's pooled edge scale (:attr:`edge_scale_`) instead of each cluster's own MAD."""
    adaptive_k: bool = True
    """With a pooled scale: Huber's threshold from the batch's share of gross edge errors
    (:attr:`edge_k_`) instead of :attr:`BoxFusion.k`."""
    min_scale_pairs: int = 40
    """The fewest edge differences (4 per pair of matched boxes) from which :meth:`fit` pools
    :attr:`edge_scale_`; a smaller batch leaves it ``None`` (each cluster's own MAD)."""

    edge_scale_: float | None = field(default=None, init=False)
    """The batch's edge noise as a fraction of the box's side — ``1.4826 × median |d| / √2`` over the
    differences ``d`` of every pair of matched boxes' same edge, each over the cluster's median width
    (x edges) or height (y edges); ``None`` before :meth:`fit`, without ``pooled_scale`` or from fewer
    than ``min_scale_pairs`` differences."""
    edge_contamination_: float | None = field(default=None, init=False)
    """The batch's share of gross edge errors — the share of those edge differences beyond
    3 × √2 × :attr:`edge_scale_` above a normal sample's (0.27 %), halved (a difference is gross when
    either of its two edges is); ``None`` with :attr:`edge_scale_`."""
    edge_k_: float | None = field(default=None, init=False)
    """Huber's threshold the fusion uses, :func:`~tally.aggregation.box_fusion.huber_k` of
    :attr:`edge_contamination_` (at most 3: on clean Gaussian jitter the fused edge is all but the
    weighted mean); ``None`` (:attr:`BoxFusion.k`) without ``adaptive_k`` or a pooled scale."""

    def _start_fit(self) -> None:
        self.edge_scale_ = self.edge_contamination_ = self.edge_k_ = None

    def _after_round(self, matched: Sequence[tuple[ObjectItems, list[Cluster], FittedMatching]]) -> None:
        if not self.pooled_scale:
            return
        pool = _EdgePool()
        for obj, clusters, fitted in matched:
            pool.add(obj, clusters, fitted.offsets)
        differences = pool.differences()
        if len(differences) >= max(self.min_scale_pairs, 1):
            self.edge_scale_, self.edge_contamination_ = pooled_edge_noise(differences)
            self.edge_k_ = huber_k(self.edge_contamination_) if self.adaptive_k else None

    coordinates: ClassVar[int] = 4

    def _pairwise(self, obj: ObjectItems, a: FloatArray, b: FloatArray) -> FloatArray:
        return box_iou(a, b)

    def _fuse_members(self, items: FloatArray, weights: FloatArray) -> npt.NDArray[np.generic]:
        return self.box_fusion.fuse_many(items, weights, self.edge_scale_, self.edge_k_)

    def _refine(
        self,
        obj: ObjectItems,
        clusters: Sequence[Cluster],
        kept: Sequence[Cluster],
        support: Sequence[float],
        agreement: Sequence[float],
        fused: npt.NDArray[np.generic],
        order: list[int],
        weights: FloatArray,
    ) -> tuple[list[int], npt.NDArray[np.generic]]:
        order, geometry = super()._refine(obj, clusters, kept, support, agreement, fused, order, weights)
        if self.borrow_weight > 0:
            geometry = self._borrow(obj, clusters, [kept[i] for i in order], geometry, weights)
        return order, geometry

    def _borrow(
        self,
        obj: ObjectItems,
        clusters: Sequence[Cluster],
        kept: Sequence[Cluster],
        fused: npt.NDArray[np.generic],
        weights: FloatArray,
    ) -> FloatArray:
        """Refuse each kept box with the boxes of other labels it borrows (``borrow_weight``).

        A box is a candidate when the keep rule left its cluster out; per worker, its candidates are
        assigned to the kept clusters of other labels that the worker is not in, by optimal assignment
        on IoU with the fused box, at ``borrow_similarity`` or more (one box per worker per cluster).
        """
        boxes = np.asarray(fused, dtype=np.float64)
        if not len(kept):
            return boxes
        taken = {member for cluster in kept for member in cluster.members}
        in_kept = [{a for a, _ in cluster.members} for cluster in kept]
        extra: list[list[tuple[int, int]]] = [[] for _ in kept]
        candidates: dict[int, list[int]] = {}
        for cluster in clusters:
            if len(cluster.members) == 1 and cluster.members[0] not in taken:
                a, i = cluster.members[0]
                candidates.setdefault(a, []).append(i)
        for a, items in sorted(candidates.items()):
            geometry = np.asarray(obj.answers[a].geometry, dtype=np.float64)
            labels = obj.answers[a].labels
            iou = box_iou(geometry[items], boxes)
            for k, cluster in enumerate(kept):
                if a in in_kept[k]:
                    iou[:, k] = 0.0
                else:
                    iou[[labels[i] == cluster.label for i in items], k] = 0.0
            rows, cols = max_similarity_assignment(iou, self.borrow_similarity)
            for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
                extra[col].append((a, items[row]))
        refuse = [k for k in range(len(kept)) if extra[k]]
        if not refuse:
            return boxes
        size = max(len(kept[k].members) + len(extra[k]) for k in refuse)
        items_ = np.zeros((len(refuse), size, 4))
        w = np.zeros((len(refuse), size))
        for row, k in enumerate(refuse):
            members = [(a, i, weights[a]) for a, i in kept[k].members]
            members += [(a, i, weights[a] * self.borrow_weight) for a, i in extra[k]]
            for m, (a, i, weight) in enumerate(members):
                items_[row, m] = np.asarray(obj.answers[a].geometry, dtype=np.float64)[i]
                w[row, m] = weight
        boxes = boxes.copy()
        boxes[refuse] = self.box_fusion.fuse_many(items_, w, self.edge_scale_, self.edge_k_)
        return boxes


@dataclass
class _EdgePool:
    """The batch's matched boxes, gathered per cluster size, for :attr:`BoxConsolidation.edge_scale_`."""

    boxes: list[FloatArray] = field(default_factory=list)
    rows: dict[int, list[list[int]]] = field(default_factory=dict)
    """Per cluster size, each cluster's rows in the concatenation of :attr:`boxes`."""
    size: int = 0

    def add(self, obj: ObjectItems, clusters: Sequence[Cluster], offsets: npt.NDArray[np.intp]) -> None:
        start = [self.size + int(o) for o in offsets]
        for cluster in clusters:
            if len(cluster.members) >= 2:
                self.rows.setdefault(len(cluster.members), []).append([start[a] + i for a, i in cluster.members])
        geometry = [np.asarray(a.geometry, dtype=np.float64).reshape(-1, 4) for a in obj.answers]
        self.boxes.extend(geometry)
        self.size += sum(len(g) for g in geometry)

    def differences(self) -> FloatArray:
        """Per pair of members of each cluster, the differences of their four edges, each over the
        cluster's median width (x edges) or height (y edges)."""
        if not self.rows:
            return np.zeros(0)
        every = np.concatenate(self.boxes)
        out: list[FloatArray] = []
        for size, rows in sorted(self.rows.items()):
            boxes = every[np.asarray(rows, dtype=np.intp)]  # (clusters, size, 4)
            median = np.median(boxes, axis=1)
            side = np.maximum(median[:, [2, 3, 2, 3]] - median[:, [0, 1, 0, 1]], 1.0)
            first, second = np.triu_indices(size, k=1)
            out.append(((boxes[:, first] - boxes[:, second]) / side[:, None, :]).ravel())
        return np.concatenate(out)
