"""Consolidate polylines and lines: match across workers, keep what the crowd agrees on, fuse.

:class:`LineConsolidation` is the batch model for ``crowd-polyline`` (``kind="polyline"``) and
``crowd-line`` (``kind="line"``, two vertices) answers: lanes, road edges, wires. Workers are integer
indices; a line is a ``(k, 2)`` array of ``x, y`` vertices (``k >= 2``) in image pixels. No Ground Truth
field names here: :class:`WorkerLines` per answer, :class:`LineObject` per object, :class:`FusedLines`
per result.

**Distance** (:func:`line_distance`). Two lines are compared after resampling each at ``n_match``
points equally spaced along its length: their distance is the mean distance between corresponding
points, the smaller of the two ways of pairing them (one line reversed), so it depends neither on the
number of vertices nor on the direction a worker drew in. The similarity is ``exp(-d² / 2σ²)`` with σ
= ``sigma`` × the image diagonal, COCO's keypoint similarity for a whole line. (The mean distance is at
least the distance between the two lines' centroids, so lines whose centroids lie more than 4.3 σ apart
— a similarity below 1e-4 — are not compared point by point.)

**Match and keep** exactly as boxes do (:mod:`tally.aggregation.geometric`, docs/geometry.md §1–2):
per label, the lines of different workers are clustered by incremental optimal assignment on average
linkage (:func:`~tally.aggregation.matching.match_items`, at ``min_similarity``). Where the pairs at
``min_similarity`` or more already form cliques of one line per answer (most objects), that is what the
matching returns in any order, and the cliques are taken without it. Clusters come in a canonical
order: by label (as text), then by their first member ``(answer, line)``. A cluster's support is
the keep weight of its workers over that of every worker who answered the object (an empty answer
counts). One answer: every line kept. Two answers or more: a lone line no other worker drew anything
near stays when the posterior that it is real reaches ``keep_share``, ``odds = Π miss_[others] /
invention_[its worker]`` (:meth:`LineConsolidation.lone_line_is_real`: with two careful or unknown
workers ½, kept; with three careful ones 0.05: two must agree); a line others drew with another label
stays when everyone who drew there holds ``keep_share`` of the weight and its label holds
``keep_share`` of theirs; any other cluster stays when its support reaches ``keep_share`` (a tie stays).
A kept cluster whose workers are a proper subset of a stronger kept cluster's, of the same label and
at least ``min_similarity`` from it once fused, is a worker's duplicate and is dropped.

**Fuse.** A line only one worker drew is kept as drawn. Otherwise the members are turned to the
direction of the cluster's medoid (the member closest to the others) and resampled at the same fractions
of their length: ``n_points`` equally spaced ones plus the medoid's own vertices (so a corner is sampled
where a worker put it). Each point is a robust weighted average of the members' points (``average``):
``"huber"`` (default) — Huber's M-estimate of the 2-D point (weights ``min(1, k s / r)`` for a member
``r`` from the estimate, five steps from the weighted median), with ``k = huber_k`` and the scale ``s``
pooled over the batch by :meth:`~LineConsolidation.fit` (:attr:`~LineConsolidation.point_scale_`);
``"median"`` — the weighted median of each coordinate; ``"mean"`` — the plain mean, every member alike
(the benchmark's baseline). The fused polyline is then simplified (Ramer–Douglas–Peucker, tolerance ``simplify`` × the
diagonal) and drawn in the direction most of its members' weight drew. ``kind="line"``: the two fused
end points.

**Confidence** ``support × agreement``, agreement being the weighted mean similarity between the pairs
of members; a lone line has no pair, so 0 (as for boxes).

**Reliability** (:meth:`LineConsolidation.fit`), per worker, over the objects with two answers or more,
as for boxes: *precision* (its lines another worker matched, shrunk toward the pooled rate by
``prior_strength`` pseudo-lines) sets the keep weight — 0.01 at ``zero_precision``, 1 from
``(1 - tolerance) ×`` the best precision; *inventions* (unmatched lines no one drew anything near, per
matched line) and *misses* (of the lines more than half of the others drew, those it drew nothing near)
are shrunk toward ``noise_rate`` and floored at it; a lone line of a two-answer object counts as matched,
and as its partner's miss, with the posterior that it is real (an EM fixed point from ½); the *fusion
weight* is an inverse variance, ``min(1, best / ((1 - tolerance)² × own))`` over the mean squared
distance of the worker's matched lines to the other members (as a fraction of the diagonal, shrunk
toward the pooled one). :attr:`~LineConsolidation.worker_statistics_` holds the eight additive counts
of :data:`STATISTICS` per worker.

**Tie rule.** Clusters: as :func:`~tally.aggregation.matching.match_items` (an earlier cluster, the
heavier worker, then the worker index). Keep: a share exactly at ``keep_share`` stays. Fusion: the
weighted median of an even split is the midpoint of the two middle values; the medoid of a cluster is
the member with the least distance to the others, then the heavier worker, then the lower worker index;
the output direction on an even split is the medoid's.

References:
    D. H. Douglas, T. K. Peucker, "Algorithms for the reduction of the number of points required to
    represent a digitized line or its caricature", Cartographica 10(2), 1973,
    https://doi.org/10.3138/FM57-6770-U75U-7727 (the simplification).
    P. J. Huber, "Robust estimation of a location parameter", Annals of Mathematical Statistics 35(1),
    1964, https://doi.org/10.1214/aoms/1177703732 (the per-point average).
    P. Welinder, P. Perona, "Online crowdsourcing: rating annotators and obtaining cost-effective labels",
    CVPR Workshops 2010 (annotator models for geometric annotations), as for boxes.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from .matching import Cluster, match_items
from .pairing import greedy_pairs

__all__ = ["STATISTICS", "FusedLines", "LineConsolidation", "LineObject", "WorkerLines", "line_distance", "resample"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_EPS = 1e-9
_FAR = 4.3  # lines whose centroids are this many σ apart have a similarity below 1e-4: not compared
_RAYLEIGH_MEDIAN = 1.1774100225154747  # the median of a 2-D standard normal point's distance: sqrt(2 ln 2)

STATISTICS = ("lines", "confirmed", "chances", "hits", "invented", "lost", "distance_sum", "distance_count")
"""The per-worker columns of :attr:`LineConsolidation.worker_statistics_`: lines drawn, lines confirmed
(another worker matched them; a lone line of a two-answer object with the posterior that it is real),
chances to draw a line more than half of the others drew and hits, lines invented (unconfirmed, no one
drew anything near) and agreed lines lost (nothing drawn near them), and the sum and number of the
squared mean distances (over the diagonal) of its matched lines to the other members."""


@dataclass(frozen=True)
class WorkerLines:
    """One worker's lines on one object: ``lines[i]`` is a ``(k, 2)`` array of ``x, y`` vertices."""

    worker: int
    labels: tuple[Hashable, ...]
    lines: tuple[npt.ArrayLike, ...]


@dataclass(frozen=True)
class LineObject:
    """Every answer to one object, and the image size in pixels (for the distance scale)."""

    answers: tuple[WorkerLines, ...]
    width: float
    height: float


@dataclass(frozen=True)
class FusedLines:
    """The kept, fused lines of one object (the same order in every field)."""

    labels: list[Hashable]
    lines: list[FloatArray]
    """Per line, its ``(k, 2)`` vertices (``kind="line"``: two)."""
    confidence: FloatArray
    support: FloatArray
    agreement: FloatArray
    workers: list[tuple[int, ...]]
    """Per line, the workers whose lines were fused into it."""
    members: list[tuple[tuple[int, int], ...]]
    """Per line, its members as ``(answer index, line index)`` pairs."""


def resample(line: npt.ArrayLike, fractions: npt.ArrayLike) -> FloatArray:
    """The points at these fractions (0 to 1) of a polyline's length.

    A line of zero length is spread over its vertices by index.

    Examples:
        >>> resample([[0, 0], [10, 0], [10, 10]], [0, 0.25, 0.5, 1]).tolist()
        [[0.0, 0.0], [5.0, 0.0], [10.0, 0.0], [10.0, 10.0]]
    """
    vertices = np.asarray(line, dtype=np.float64).reshape(-1, 2)
    cumulative = _fractions(vertices)
    at = np.asarray(fractions, dtype=np.float64)
    return np.stack([np.interp(at, cumulative, vertices[:, 0]), np.interp(at, cumulative, vertices[:, 1])], axis=1)


def line_distance(first: npt.ArrayLike, second: npt.ArrayLike, n_points: int = 16) -> float:
    """The mean distance between corresponding points of two lines resampled at ``n_points`` equally
    spaced fractions of their length, the smaller of the two ways of pairing them.

    Examples:
        >>> line_distance([[0, 0], [10, 0]], [[10, 1], [5, 1], [0, 1]])  # reversed, another vertex count
        1.0
    """
    at = np.linspace(0.0, 1.0, n_points)
    a, b = resample(first, at), resample(second, at)
    return float(min(np.linalg.norm(a - b, axis=1).mean(), np.linalg.norm(a - b[::-1], axis=1).mean()))


def _fractions(vertices: FloatArray) -> FloatArray:
    """Each vertex's fraction of the line's length (by index when the length is 0)."""
    steps = np.linalg.norm(np.diff(vertices, axis=0), axis=1)
    total = steps.sum()
    if len(vertices) < 2:
        return np.zeros(len(vertices))
    if total <= _EPS:
        return np.linspace(0.0, 1.0, len(vertices))
    cumulative = np.concatenate([[0.0], np.cumsum(steps)]) / total
    cumulative[-1] = 1.0
    return np.asarray(cumulative, dtype=np.float64)


@dataclass
class _Lines:
    """Every line of a batch, flat: vertices, and per line where its vertices start."""

    vertices: FloatArray
    start: IntArray
    """``(n_lines + 1,)``."""
    fractions: FloatArray
    """Per vertex, its fraction of its line's length."""
    keys: FloatArray
    """Per vertex, its fraction plus twice its line's index: one sorted axis for the whole batch."""

    @classmethod
    def of(cls, lines: Sequence[FloatArray]) -> _Lines:
        counts = np.array([len(line) for line in lines], dtype=np.int64)
        start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        vertices = np.concatenate([*lines, np.zeros((0, 2))]) if lines else np.zeros((0, 2))
        steps = np.zeros(len(vertices))
        if len(vertices) > 1:
            steps[1:] = np.linalg.norm(np.diff(vertices, axis=0), axis=1)
        steps[start[:-1][counts > 0]] = 0.0
        running = np.cumsum(steps)
        line_of = np.repeat(np.arange(len(lines)), counts)
        base = running[start[:-1]][line_of] if len(lines) else np.zeros(0)
        total = np.zeros(len(lines))
        total[counts > 0] = running[start[1:][counts > 0] - 1] - running[start[:-1][counts > 0]]
        index = np.arange(len(vertices)) - start[:-1][line_of] if len(lines) else np.zeros(0)
        by_index = index / np.maximum(counts[line_of] - 1, 1) if len(lines) else np.zeros(0)
        degenerate = total[line_of] <= _EPS if len(lines) else np.zeros(0, dtype=bool)
        fractions = np.clip(np.where(degenerate, by_index, (running - base) / np.maximum(total[line_of], _EPS)), 0, 1)
        return cls(vertices, start, fractions, fractions + 2.0 * line_of)

    def at(self, line: IntArray, fraction: FloatArray) -> FloatArray:
        """The points of lines ``line`` at ``fraction`` of their length (arrays of one shape), ``(..., 2)``."""
        shape = np.shape(line)
        flat_line = np.asarray(line, dtype=np.int64).ravel()
        flat_fraction = np.clip(np.asarray(fraction, dtype=np.float64).ravel(), 0.0, 1.0)
        if not len(flat_line):
            return np.zeros((*shape, 2))
        query = flat_fraction + 2.0 * flat_line
        lo = self.start[flat_line]
        hi = self.start[flat_line + 1] - 1
        right = np.clip(np.searchsorted(self.keys, query, side="right"), lo + 1, np.maximum(hi, lo + 1))
        right = np.minimum(right, hi)
        left = np.maximum(right - 1, lo)
        span = self.fractions[right] - self.fractions[left]
        weight = np.where(span > _EPS, (flat_fraction - self.fractions[left]) / np.where(span > _EPS, span, 1.0), 0.0)
        weight = np.clip(weight, 0.0, 1.0)[:, None]
        points = self.vertices[left] * (1.0 - weight) + self.vertices[right] * weight
        return points.reshape(*shape, 2)


@dataclass
class _Batch:
    """A batch prepared once: its lines, and every pair of lines of different answers of an object
    compared (distance, similarity, direction), stored per object as an ``L × L`` block."""

    source: Sequence[LineObject]
    lines: _Lines
    first: IntArray
    """``(n_objects + 1,)`` each object's first line in the batch."""
    answer_of: IntArray
    """Per line, its answer's index in its object."""
    label: IntArray
    """Per line, its label's code (:attr:`label_names`)."""
    label_names: list[Hashable]
    n_answers: IntArray
    worker: IntArray
    """``(n_objects, A)`` each answer's worker (``-1`` past an object's answers)."""
    diagonal: FloatArray
    block: IntArray
    """``(n_objects + 1,)`` where each object's block starts in the flat pair arrays."""
    distance: FloatArray
    """Flat blocks: the distance of two lines over the diagonal (0 within an answer)."""
    similarity: FloatArray
    flipped: BoolArray
    """Flat blocks: whether two lines pair best with one of them reversed."""
    near: BoolArray
    """``(n_lines, A)``: whether a line has a line of that other answer at ``min_similarity`` or more."""
    near_other: BoolArray
    """The same, for lines of another label only."""
    cliques: list[list[Cluster] | None]
    """Per object, its clusters when the lines of one label at ``min_similarity`` or more form cliques
    of one line per answer (what matching gives whatever the order: :func:`_cliques`); else ``None``."""
    clusters: list[dict[tuple[int, ...], list[Cluster]]]
    """Per object, per processing order of its answers, its clusters."""

    @property
    def n_objects(self) -> int:
        return len(self.first) - 1

    def cell(self, obj: IntArray, i: IntArray, j: IntArray) -> IntArray:
        """Flat index of the pair ``(i, j)`` of local line indices in object ``obj``'s block."""
        size = self.first[obj + 1] - self.first[obj]
        return np.asarray(self.block[obj] + i * size + j, dtype=np.int64)

    @classmethod
    def of(cls, objects: Sequence[LineObject], n_match: int, sigma: float, threshold: float) -> _Batch:
        flat: list[FloatArray] = []
        first = [0]
        answer_of: list[int] = []
        label_of: list[Hashable] = []
        for o, obj in enumerate(objects):
            for a, answer in enumerate(obj.answers):
                if len(answer.labels) != len(answer.lines):
                    raise ValueError(
                        f"object {o}: worker {answer.worker} has {len(answer.labels)} labels for {len(answer.lines)} lines"
                    )
                if answer.worker < 0:
                    raise ValueError(f"object {o}: worker index {answer.worker} is negative")
                for line in answer.lines:
                    vertices = np.asarray(line, dtype=np.float64)
                    if vertices.ndim != 2 or vertices.shape[1] != 2 or len(vertices) < 2:
                        raise ValueError(
                            f"object {o}: worker {answer.worker} drew a line of shape {vertices.shape}, not (k >= 2, 2)"
                        )
                    flat.append(vertices)
                answer_of.extend([a] * len(answer.lines))
                label_of.extend(answer.labels)
            first.append(len(flat))
        lines = _Lines.of(flat)
        finite = np.isfinite(lines.vertices).all(axis=1)
        if not finite.all():
            line = int(np.searchsorted(lines.start, np.flatnonzero(~finite)[0], "right") - 1)
            o = int(np.searchsorted(first, line, "right") - 1)
            culprit = objects[o].answers[answer_of[line]].worker
            raise ValueError(f"object {o}: worker {culprit} drew a line with a NaN or infinite vertex")
        n_objects = len(objects)
        first_a = np.asarray(first, dtype=np.int64)
        sizes = np.diff(first_a)
        block = np.concatenate([[0], np.cumsum(sizes**2)]).astype(np.int64)
        names = list(dict.fromkeys(label_of))
        codes = {name: k for k, name in enumerate(names)}
        label = np.array([codes[x] for x in label_of], dtype=np.int64)
        answers = np.array([len(obj.answers) for obj in objects], dtype=np.int64)
        width = int(answers.max(initial=0))
        worker = np.full((n_objects, width), -1, dtype=np.int64)
        for o, obj in enumerate(objects):
            worker[o, : len(obj.answers)] = [a.worker for a in obj.answers]
        diagonal = np.array([max(float(np.hypot(obj.width, obj.height)), _EPS) for obj in objects])
        owner = np.asarray(answer_of, dtype=np.int64)
        # every pair of lines of different answers of one object, all objects at once
        pair_o, pair_i, pair_j = [], [], []
        for size in np.unique(sizes).tolist():
            if size < 2:
                continue
            chosen = np.flatnonzero(sizes == size)
            i, j = np.triu_indices(size, k=1)
            pair_o.append(np.repeat(chosen, len(i)))
            pair_i.append(np.tile(i, len(chosen)))
            pair_j.append(np.tile(j, len(chosen)))
        po = np.concatenate([np.zeros(0, dtype=np.int64), *pair_o]).astype(np.int64)
        pi = np.concatenate([np.zeros(0, dtype=np.int64), *pair_i]).astype(np.int64)
        pj = np.concatenate([np.zeros(0, dtype=np.int64), *pair_j]).astype(np.int64)
        ga, gb = first_a[po] + pi, first_a[po] + pj
        cross = owner[ga] != owner[gb]
        po, pi, pj, ga, gb = po[cross], pi[cross], pj[cross], ga[cross], gb[cross]
        at = np.linspace(0.0, 1.0, n_match)
        n = len(flat)
        points = lines.at(np.repeat(np.arange(n), n_match).reshape(n, n_match), np.broadcast_to(at, (n, n_match)))
        # the mean distance is at least the distance between the centroids: far pairs are not compared
        centroid = points.mean(axis=1)
        d = np.sqrt(((centroid[ga] - centroid[gb]) ** 2).sum(axis=1)) / diagonal[po]
        forward = np.zeros(len(ga))
        backward = np.zeros(len(ga))
        compare = np.flatnonzero(d <= _FAR * sigma)
        a, b = points[ga[compare]], points[gb[compare]]
        forward[compare] = np.sqrt(((a - b) ** 2).sum(axis=2)).mean(axis=1)
        backward[compare] = np.sqrt(((a - b[:, ::-1]) ** 2).sum(axis=2)).mean(axis=1)
        d[compare] = np.minimum(forward[compare], backward[compare]) / diagonal[po[compare]]
        sim = np.exp(-(d**2) / (2.0 * sigma**2))
        total = int(block[-1])
        distance, similarity = np.zeros(total), np.zeros(total)
        flipped = np.zeros(total, dtype=bool)
        size_of = sizes[po]
        for x, y in ((pi, pj), (pj, pi)):
            cell = block[po] + x * size_of + y
            distance[cell], similarity[cell], flipped[cell] = d, sim, backward < forward
        near = np.zeros((n, width), dtype=bool)
        near_other = np.zeros((n, width), dtype=bool)
        close = sim >= threshold
        other = close & (label[ga] != label[gb])
        near[ga[close], owner[gb[close]]] = True
        near[gb[close], owner[ga[close]]] = True
        near_other[ga[other], owner[gb[other]]] = True
        near_other[gb[other], owner[ga[other]]] = True
        same = close & ~other
        cliques = _cliques(ga[same], gb[same], owner, first_a, [names[k] for k in label.tolist()])
        return cls(
            source=objects,
            lines=lines,
            first=first_a,
            answer_of=owner,
            label=label,
            label_names=names,
            n_answers=answers,
            worker=worker,
            diagonal=diagonal,
            block=block,
            distance=distance,
            similarity=similarity,
            flipped=flipped,
            near=near,
            near_other=near_other,
            cliques=cliques,
            clusters=[{} for _ in objects],
        )


@dataclass
class _Clusters:
    """Clusters of a batch as padded arrays: ``(n_clusters, M)`` members (``-1`` past a cluster's)."""

    obj: IntArray
    label: list[Hashable]
    members: list[tuple[tuple[int, int], ...]]
    """As :class:`~tally.aggregation.matching.Cluster` gives them: ``(answer, line of the answer)``."""
    local: IntArray
    """``(n_clusters, M)`` the members' line indices in their object (``-1``: none)."""
    answer: IntArray
    """``(n_clusters, M)`` the members' answers (``-1``: none)."""

    @classmethod
    def of(cls, batch: _Batch, per_object: Sequence[Sequence[Cluster]]) -> _Clusters:
        obj: list[int] = []
        label: list[Hashable] = []
        members: list[tuple[tuple[int, int], ...]] = []
        for o, clusters in enumerate(per_object):
            for cluster in clusters:
                obj.append(o)
                label.append(cluster.label)
                members.append(cluster.members)
        width = max((len(m) for m in members), default=1)
        answer = np.full((len(members), width), -1, dtype=np.int64)
        index = np.full((len(members), width), -1, dtype=np.int64)
        for k, cluster_members in enumerate(members):
            for m, (a, i) in enumerate(cluster_members):
                answer[k, m] = a
                index[k, m] = i
        obj_a = np.asarray(obj, dtype=np.int64)
        objects = batch.source
        # a member's line index in its object: its answer's first line plus its index in the answer
        offsets = np.zeros((batch.n_objects, batch.worker.shape[1] + 1), dtype=np.int64)
        for o, source in enumerate(objects):
            offsets[o, 1 : len(source.answers) + 1] = np.cumsum([len(a.lines) for a in source.answers])
        local = np.where(answer >= 0, offsets[obj_a[:, None], np.maximum(answer, 0)] + index, -1) if len(obj) else index
        return cls(obj_a, label, members, local, answer)

    def __len__(self) -> int:
        return len(self.obj)

    def take(self, rows: IntArray) -> _Clusters:
        """These clusters only (in this order)."""
        return _Clusters(
            self.obj[rows],
            [self.label[k] for k in rows.tolist()],
            [self.members[k] for k in rows.tolist()],
            self.local[rows],
            self.answer[rows],
        )

    @property
    def valid(self) -> BoolArray:
        return np.asarray(self.local >= 0)

    @property
    def size(self) -> IntArray:
        return np.asarray(self.valid.sum(axis=1), dtype=np.int64)

    def lines(self, batch: _Batch) -> IntArray:
        """``(n_clusters, M)`` the members' batch line indices (a cluster's first member past its members)."""
        local = np.where(self.valid, self.local, self.local[:, :1])
        return np.asarray(batch.first[self.obj][:, None] + local, dtype=np.int64)

    def pairs(self, batch: _Batch, table: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
        """``(n_clusters, M, M)`` ``table`` (a flat block array) between every two members."""
        local = np.where(self.valid, self.local, 0)
        cell = batch.cell(self.obj[:, None, None], local[:, :, None], local[:, None, :])
        return table[cell]

    def weights(self, batch: _Batch, per_worker: FloatArray) -> FloatArray:
        """``(n_clusters, M)`` the members' workers' entries of ``per_worker`` (1 past it, 0 padding)."""
        workers = batch.worker[self.obj[:, None], np.maximum(self.answer, 0)]
        table = np.append(per_worker, 1.0)
        value = table[np.where(workers < len(per_worker), workers, len(per_worker))]
        return np.where(self.valid, value, 0.0)

    def inside(self, batch: _Batch) -> BoolArray:
        """``(n_clusters, A)`` which answers the cluster has a member of."""
        out = np.zeros((len(self), batch.worker.shape[1]), dtype=bool)
        rows = np.repeat(np.arange(len(self)), self.local.shape[1])
        answers = self.answer.ravel()
        ok = answers >= 0
        out[rows[ok], answers[ok]] = True
        return out

    def drew_near(self, batch: _Batch, table: BoolArray) -> BoolArray:
        """``(n_clusters, A)``: the answers with a line near one of the members (``table``: near or
        near_other)."""
        return np.asarray((table[self.lines(batch)] & self.valid[:, :, None]).any(axis=1))

    def medoid(self, batch: _Batch, fusion: FloatArray) -> tuple[IntArray, BoolArray]:
        """Each cluster's medoid member (least distance to the others, then the heavier worker, then the
        lower worker index, then the earlier answer) and whether each member runs against it."""
        valid = self.valid
        spread = np.where(
            valid,
            (np.asarray(self.pairs(batch, batch.distance), dtype=np.float64) * valid[:, None, :]).sum(axis=2),
            np.inf,
        )
        weight = self.weights(batch, fusion)
        workers = batch.worker[self.obj[:, None], np.maximum(self.answer, 0)]
        rows = np.repeat(np.arange(len(self)), valid.shape[1])
        order = np.lexsort(
            (
                self.local.ravel(),
                workers.ravel(),
                -weight.ravel(),
                np.round(spread.ravel(), 12),
                rows,
            )
        )
        firsts = order[np.r_[True, rows[order][1:] != rows[order][:-1]]]
        medoid = firsts % valid.shape[1]
        flipped = np.asarray(self.pairs(batch, batch.flipped), dtype=bool)[np.arange(len(self)), :, medoid]
        return medoid, np.asarray(flipped & valid)

    def agreement(self, batch: _Batch, fusion: FloatArray) -> FloatArray:
        """The weighted mean similarity over the pairs of each cluster's members (0 for a lone line)."""
        weight = self.weights(batch, fusion)
        pair = np.triu(weight[:, :, None] * weight[:, None, :], k=1)
        total = pair.sum(axis=(1, 2))
        similar = (pair * np.asarray(self.pairs(batch, batch.similarity), dtype=np.float64)).sum(axis=(1, 2))
        return np.asarray(np.where(total > 0, similar / np.maximum(total, _EPS), 0.0), dtype=np.float64)


@dataclass
class LineConsolidation:
    """Match, keep and fuse polylines or lines across workers (module docstring).

    Examples:
        Three workers trace one lane, one of them from the other end and with more vertices; the line
        only one of them drew is left out.

        >>> objects = [LineObject((
        ...     WorkerLines(0, ("lane",), ([[0, 100], [50, 50], [100, 0]],)),
        ...     WorkerLines(1, ("lane",), ([[100, 2], [75, 27], [50, 52], [25, 77], [0, 102]],)),
        ...     WorkerLines(2, ("lane", "lane"), ([[0, 98], [100, -2]], [[0, 0], [100, 100]])),
        ... ), 200, 200)]
        >>> [fused] = LineConsolidation().fit_predict(objects)
        >>> fused.labels, fused.lines[0].round(1).tolist(), fused.workers
        (['lane'], [[0.0, 100.0], [100.0, 0.0]], [(0, 1, 2)])
    """

    kind: Literal["polyline", "line"] = "polyline"
    """``"polyline"`` (``crowd-polyline``) or ``"line"`` (``crowd-line``: two vertices out)."""
    sigma: float = 0.02
    """The similarity scale σ as a fraction of the image diagonal (two lines σ apart on average: 0.61)."""
    min_similarity: float = 0.5
    """The least average similarity at which a line joins a cluster (a mean distance of 1.18 σ)."""
    keep_share: float = 0.5
    """A cluster stays when its workers' weighted share of the answering workers reaches this."""
    tolerance: float = 0.1
    """Workers within this fraction of the best worker weigh the same (1)."""
    zero_precision: float = 0.5
    """The precision at which a worker's keep weight reaches its floor (0.01)."""
    prior_strength: float = 4.0
    """Pseudo-lines pulling each worker's rates toward the pooled (or the noise) rate."""
    noise_rate: float = 0.05
    """Invention and miss rates at or below this are the noise of careful workers (module docstring)."""
    class_vote: bool = True
    """Where others drew the cluster's line with another label, presence and label are voted apart."""
    n_match: int = 16
    """Points per line for the distance."""
    n_points: int = 8
    """Equally spaced fractions at which the members are fused (besides the medoid's vertices)."""
    average: Literal["huber", "median", "mean"] = "huber"
    """How each fused point averages the members' points (module docstring)."""
    huber_k: float = 2.0
    """Huber's threshold in pooled scales (:attr:`point_scale_`)."""
    simplify: float = 0.001
    """The simplification tolerance as a fraction of the image diagonal (0: every fused point kept)."""

    worker_statistics_: FloatArray = field(init=False, repr=False)
    """``(n_workers, 8)``: this batch's :data:`STATISTICS` per worker, without the prior — sum them over
    batches and pass the sum as the next batch's ``prior``."""
    precision_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` the shrunk share of each worker's lines another worker matched."""
    recall_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` the shrunk share of the lines more than half of the others drew that it drew."""
    invention_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` unconfirmed lines per confirmed one (shrunk toward ``noise_rate``, at least it)."""
    miss_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` the share of real lines it leaves out (shrunk toward ``noise_rate``, at least it)."""
    keep_weights_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each worker's weight in the keep rule (1 for careful workers)."""
    fusion_weights_: FloatArray = field(init=False, repr=False)
    """``(n_workers,)`` each worker's weight when lines are fused (inverse variance)."""
    point_scale_: float | None = field(init=False, repr=False, default=None)
    """The batch's spread of a member's point around its cluster's, as a fraction of the diagonal (the
    σ of a 2-D normal: median distance / 1.1774); ``None`` before :meth:`fit` or without clusters."""

    _batch: _Batch | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if self.kind not in ("polyline", "line"):
            raise ValueError(f"kind must be polyline or line, not {self.kind!r}")
        if self.average not in ("huber", "median", "mean"):
            raise ValueError(f"average must be huber, median or mean, not {self.average!r}")
        if self.sigma <= 0 or not 0.0 < self.min_similarity <= 1.0 or self.n_match < 2 or self.n_points < 2:
            raise ValueError("sigma must be positive, min_similarity in (0, 1], n_match and n_points at least 2")
        self._set_rates(np.zeros((0, len(STATISTICS))))

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        objects: Sequence[LineObject],
        *,
        prior: npt.ArrayLike | None = None,
        known: Sequence[int | None] | None = None,
    ) -> LineConsolidation:
        """Estimate every worker's rates and weights from how its lines match across the batch.

        Args:
            objects: the batch's objects.
            prior: optional ``(n, 8)`` per-worker statistics of earlier batches (the sum of their
                :attr:`worker_statistics_`), added to this batch's; the matching already uses the
                weights they give.
            known: optional, per object, the answer that is its known truth (gold: an annotation the
                labelling tool marks as ground truth), ``None`` for an object without one. A gold
                object is not matched (it is its gold answer): every other answer to it is counted
                against the gold answer alone (:meth:`_gold_counts`).

        Returns:
            self

        Example:
            Worker 2 drew a line nobody else drew: with two careful others that is not kept. After
            earlier batches in which workers 0 and 1 missed half of what the others drew, it is.

            >>> lone = LineObject((WorkerLines(0, (), ()), WorkerLines(1, (), ()),
            ...     WorkerLines(2, ("wire",), ([[0, 0], [50, 10]],))), 100, 100)
            >>> LineConsolidation().fit([lone]).predict([lone])[0].labels
            []
            >>> missers = [20, 20, 20, 10, 0, 10, 0, 0]
            >>> model = LineConsolidation().fit([lone], prior=[missers, missers, [20, 20, 20, 20, 0, 0, 0, 0]])
            >>> model.predict([lone])[0].labels, model.worker_statistics_[2].tolist()
            (['wire'], [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
        """
        batch = _Batch.of(objects, self.n_match, self.sigma, self.min_similarity)
        prior_stats = _as_prior(prior)
        n_workers = max(int(batch.worker.max(initial=-1)) + 1, len(prior_stats))
        self._set_rates(prior_stats)
        several = batch.n_answers >= 2
        gold = list(known) if known is not None else [None] * len(objects)
        several &= np.array([g is None for g in gold], dtype=bool).reshape(len(several))
        clusters = _Clusters.of(batch, [self._match(batch, o) if several[o] else [] for o in range(batch.n_objects)])
        evidence = _Evidence.of(batch, clusters, n_workers)
        if any(g is not None for g in gold):
            evidence.counts += self._gold_counts(objects, gold, n_workers)
        real = self._resolve(evidence, prior_stats)
        stats = evidence.resolved(real)
        total = stats.copy()
        total[: len(prior_stats)] += prior_stats
        self.worker_statistics_ = stats
        self._set_rates(total)
        self.point_scale_ = self._point_scale(batch, clusters)
        self._batch = batch
        return self

    def _gold_counts(self, objects: Sequence[LineObject], gold: Sequence[int | None], n_workers: int) -> FloatArray:
        """``(n_workers, 8)``: every answer but the gold one of each gold object counted against the gold
        answer alone: its lines matched greedily (the most similar pair first) one to one to a gold line of
        the same label at ``min_similarity`` are confirmed, with their squared distance to it over the
        diagonal; the gold lines are its chances (its matched ones hits); a line no gold line is near is
        invented, a gold line none of its lines is near lost. The gold answer itself is not counted."""
        counts = np.zeros((n_workers, len(STATISTICS)))
        for obj, g in zip(objects, gold, strict=True):
            if g is None:
                continue
            diagonal = float(np.hypot(obj.width, obj.height)) or 1.0
            scale = self.sigma * diagonal
            truth = obj.answers[g]
            for answer in obj.answers:
                if answer.worker == truth.worker:
                    continue
                distance = np.array(
                    [[line_distance(mine, theirs, self.n_match) for theirs in truth.lines] for mine in answer.lines]
                ).reshape(len(answer.lines), len(truth.lines))
                near = np.exp(-(distance**2) / (2.0 * scale**2)) >= self.min_similarity
                same = np.array([[a == b for b in truth.labels] for a in answer.labels], dtype=bool).reshape(near.shape)
                pairs = sorted(zip(*np.nonzero(near & same), strict=True), key=lambda p: (distance[p], p[0], p[1]))
                matched = greedy_pairs((distance[i, j], int(i), int(j)) for i, j in pairs)
                mine, theirs = set(matched), set(matched.values())
                squared = 0.0
                for i, j in matched.items():  # in the order kept: the sum as before
                    squared += float(distance[i, j] / diagonal) ** 2
                invented = sum(1 for i in range(len(answer.lines)) if i not in mine and not near[i].any())
                lost = sum(1 for j in range(len(truth.lines)) if j not in theirs and not near[:, j].any())
                m = len(mine)
                counts[answer.worker] += [len(answer.lines), m, len(truth.lines), m, invented, lost, squared, m]
        return counts

    def lone_line_is_real(self, worker: int, *partners: int) -> float:
        """The posterior that a line only ``worker`` drew, where the other answers drew nothing, is real:
        odds ``Π miss_[partner] / invention_[worker]`` (module docstring).

        Example:
            >>> model = LineConsolidation()
            >>> model.lone_line_is_real(0, 1), round(model.lone_line_is_real(0, 1, 2), 4)  # 0.05² / (0.05² + 0.05)
            (0.5, 0.0476)
        """
        miss = float(np.prod(self._rate(self.miss_, np.asarray(partners, dtype=np.int64))))
        invention = float(self._rate(self.invention_, np.array([worker]))[0])
        return miss / (miss + invention)

    def _rate(self, rates: FloatArray, workers: IntArray) -> FloatArray:
        """``rates`` of these workers; ``noise_rate`` for one the model has no record of."""
        table = np.append(rates, self.noise_rate)
        return np.asarray(table[np.where((workers >= 0) & (workers < len(rates)), workers, len(rates))])

    def _resolve(self, evidence: _Evidence, prior: FloatArray) -> dict[tuple[int, int], float]:
        """The posterior that each two-answer object's lone line is real, as a fixed point from ½."""
        real = dict.fromkeys(evidence.lone, 0.5)
        for _ in range(100):
            total = evidence.resolved(real)
            total[: len(prior)] += prior
            self._set_rates(total)
            new = {pair: self.lone_line_is_real(*pair) for pair in evidence.lone}
            change = max((abs(new[pair] - real[pair]) for pair in new), default=0.0)
            real = new
            if change < 1e-9:
                break
        return real

    def _set_rates(self, stats: FloatArray) -> None:
        k, floor = self.prior_strength, self.noise_rate
        lines, confirmed, chances, hits, invented, lost, dist_sum, dist_n = stats.T
        self.invention_ = np.maximum(floor, (invented + k * floor) / np.maximum(confirmed + k, _EPS))
        self.miss_ = np.maximum(floor, (lost + k * floor) / np.maximum(chances + k, _EPS))
        self.precision_ = _shrunk(confirmed, lines, k)
        self.recall_ = _shrunk(hits, chances, k)
        full = (1.0 - self.tolerance) * float(self.precision_.max(initial=0.0))
        if full - self.zero_precision > 0.05:
            keep = (self.precision_ - self.zero_precision) / (full - self.zero_precision)
        else:  # nobody is clearly better than the zero point: no basis to weigh
            keep = np.ones(len(stats))
        self.keep_weights_ = np.clip(keep, 0.01, 1.0)
        variance = np.maximum(_shrunk(dist_sum, dist_n, k), 1e-12)
        best = float(variance.min(initial=np.inf))
        self.fusion_weights_ = np.clip(best / ((1.0 - self.tolerance) ** 2 * variance), 0.01, 1.0)

    # ------------------------------------------------------------------ predict
    def predict(self, objects: Sequence[LineObject]) -> list[FusedLines]:
        """The kept and fused lines of each object (the comparisons of :meth:`fit` are reused for the
        very batch it was fitted on)."""
        batch = self._batch if self._batch is not None and self._batch.source is objects else None
        if batch is None:
            batch = _Batch.of(objects, self.n_match, self.sigma, self.min_similarity)
        clusters = _Clusters.of(batch, [self._match(batch, o) for o in range(batch.n_objects)])
        keep, support = self._keep(batch, clusters)
        chosen = np.flatnonzero(keep)
        kept = clusters.take(chosen)
        support = support[chosen]
        agreement = kept.agreement(batch, self.fusion_weights_)
        geometry = self._fuse(batch, kept)
        out: list[FusedLines] = []
        bounds = np.searchsorted(kept.obj, np.arange(batch.n_objects + 1)).tolist()
        for o in range(batch.n_objects):
            rows = list(range(bounds[o], bounds[o + 1]))
            if batch.n_answers[o] > 1 and len(rows) > 1:
                rows = self._without_duplicates(batch, kept, rows, support, agreement, geometry)
            workers = batch.worker[o]
            out.append(
                FusedLines(
                    labels=[kept.label[k] for k in rows],
                    lines=[geometry[k] for k in rows],
                    confidence=np.array([support[k] * agreement[k] for k in rows], dtype=np.float64),
                    support=np.array([support[k] for k in rows], dtype=np.float64),
                    agreement=np.array([agreement[k] for k in rows], dtype=np.float64),
                    workers=[tuple(int(workers[a]) for a, _ in kept.members[k]) for k in rows],
                    members=[kept.members[k] for k in rows],
                )
            )
        return out

    def fit_predict(self, objects: Sequence[LineObject], *, prior: npt.ArrayLike | None = None) -> list[FusedLines]:
        """:meth:`fit`, then :meth:`predict` on the same batch."""
        return self.fit(objects, prior=prior).predict(objects)

    # ------------------------------------------------------------------ internals
    def _match(self, batch: _Batch, o: int) -> list[Cluster]:
        """Object ``o``'s clusters (:func:`~tally.aggregation.matching.match_items`; cliques need no
        search), cached per the order the weights put its answers in (the only thing the weights
        change), in a canonical order: by label (as text), then by their first member."""
        cliques = batch.cliques[o]
        if cliques is not None:
            return cliques
        obj = batch.source[o]
        workers = np.array([a.worker for a in obj.answers], dtype=np.int64)
        weights = np.append(self.keep_weights_, 1.0)[np.where(workers < len(self.keep_weights_), workers, -1)]
        order = tuple(np.unique(-weights, return_inverse=True)[1].ravel().tolist())
        found = batch.clusters[o].get(order)
        if found is None:
            lo, hi = int(batch.first[o]), int(batch.first[o + 1])
            size = hi - lo
            block = batch.similarity[batch.block[o] : batch.block[o] + size * size].reshape(size, size)
            keys = [f"{a.worker:012d}\x00{i:06d}" for i, a in enumerate(obj.answers)]
            found = match_items(
                [a.labels for a in obj.answers],
                block,
                keys=keys,
                weights=weights.tolist(),
                min_similarity=self.min_similarity,
            )
            found = _canonical(found)
            batch.clusters[o][order] = found
        return found

    def _keep(self, batch: _Batch, clusters: _Clusters) -> tuple[BoolArray, FloatArray]:
        """Which clusters stay (module docstring), and their support."""
        if not len(clusters):
            return np.zeros(0, dtype=bool), np.zeros(0)
        answers = batch.n_answers[clusters.obj]
        present = batch.worker >= 0
        keep_w = np.where(
            present,
            np.append(self.keep_weights_, 1.0)[np.where(batch.worker < len(self.keep_weights_), batch.worker, -1)],
            0.0,
        )
        total = keep_w.sum(axis=1)[clusters.obj]
        weight = keep_w[clusters.obj]
        inside = clusters.inside(batch)
        share = np.where(total > 0, (weight * inside).sum(axis=1) / np.maximum(total, _EPS), 1.0)
        drew_there = clusters.drew_near(batch, batch.near)
        lone = (answers >= 2) & (clusters.size == 1) & ~drew_there.any(axis=1)
        # the lone line's posterior: the product of the others' miss rates against its worker's inventions
        miss = np.where(present, self._rate(self.miss_, batch.worker), 1.0)[clusters.obj]
        miss = np.where(inside, 1.0, miss).prod(axis=1)
        author = batch.worker[clusters.obj, np.maximum(clusters.answer[:, 0], 0)]
        posterior = miss / (miss + self._rate(self.invention_, author))
        elsewhere = clusters.drew_near(batch, batch.near_other) & ~inside
        disputed = self.class_vote & elsewhere.any(axis=1) & ~lone
        presence = share + (weight * elsewhere).sum(axis=1) / np.maximum(total, _EPS)
        vote = np.minimum(presence, share / np.maximum(presence, _EPS))
        keep = np.where(lone, posterior, np.where(disputed, vote, share))
        return np.asarray(keep >= self.keep_share - _EPS), np.asarray(share, dtype=np.float64)

    def _point_scale(self, batch: _Batch, clusters: _Clusters) -> float | None:
        """The spread of a member's point around its cluster's per-point median, over the batch's
        clusters of two lines or more at the ``n_match`` fractions: the median distance (over the
        diagonal) / 1.1774, the σ of a 2-D normal."""
        several = np.flatnonzero(clusters.size >= 2)
        if not len(several):
            return None
        chosen = clusters.take(several)
        _, flips = chosen.medoid(batch, self.fusion_weights_)
        grid = np.broadcast_to(np.linspace(0.0, 1.0, self.n_match), (len(chosen), self.n_match))
        points = _member_points(batch.lines, chosen.lines(batch), flips, grid)
        valid = chosen.valid
        median = _weighted_median(points, valid.astype(np.float64))
        residual = np.sqrt(((points - median[:, None]) ** 2).sum(axis=3)) / batch.diagonal[chosen.obj][:, None, None]
        return float(np.median(residual[valid]) / _RAYLEIGH_MEDIAN)

    def _fuse(self, batch: _Batch, kept: _Clusters) -> list[FloatArray]:
        """Every kept cluster's fused line, all at once (module docstring)."""
        if not len(kept):
            return []
        medoid, flips = kept.medoid(batch, self.fusion_weights_)
        lines = kept.lines(batch)
        weight = kept.weights(batch, self.fusion_weights_)
        uniform = np.linspace(0.0, 1.0, self.n_points)
        if self.kind == "line":
            grid = np.broadcast_to(np.array([0.0, 1.0]), (len(kept), 2))
            valid_t = np.ones(grid.shape, dtype=bool)
        else:  # the equally spaced fractions and the medoid's own vertices (the medoid never flips)
            grid, valid_t = _with_vertices(batch.lines, lines[np.arange(len(kept)), medoid], uniform)
        points = _member_points(batch.lines, lines, flips, grid)
        diagonals = batch.diagonal[kept.obj]
        fused = self._average(points, weight, diagonals)
        curves = [fused[k, valid_t[k]] for k in range(len(kept))]
        if self.kind == "polyline" and self.simplify > 0:
            curves = _simplify_many(curves, self.simplify * diagonals)
        # the direction most of the members' weight drew in (the medoid's on an even split)
        against = (weight * flips).sum(axis=1) > 0.5 * weight.sum(axis=1) + _EPS
        out: list[FloatArray] = []
        alone = kept.size == 1
        for k, curve in enumerate(curves):
            if alone[k]:  # one worker's line is kept as drawn
                start, stop = batch.lines.start[lines[k, 0]], batch.lines.start[lines[k, 0] + 1]
                curve = batch.lines.vertices[start:stop]
            elif against[k]:
                curve = curve[::-1]
            out.append(np.array(curve[[0, -1]] if self.kind == "line" else curve))
        return out

    def _average(self, points: FloatArray, weight: FloatArray, diagonals: FloatArray) -> FloatArray:
        """Per cluster and fraction, the members' robust weighted average point."""
        w = weight[:, :, None]
        if self.average == "mean":  # the plain mean: every member alike
            present = (w > 0).astype(np.float64)
            return np.asarray(
                (points * present[..., None]).sum(axis=1) / np.maximum(present.sum(axis=1), 1.0)[..., None]
            )
        center = _weighted_median(points, weight)
        if self.average == "median" or self.point_scale_ is None:
            return center
        scale = np.maximum(self.point_scale_ * diagonals, 1e-6)[:, None, None]  # (clusters, 1, 1)
        for _ in range(5):
            residual = np.sqrt(((points - center[:, None, :, :]) ** 2).sum(axis=3))  # (clusters, members, fractions)
            total = w * np.minimum(1.0, self.huber_k * scale / np.maximum(residual, _EPS))
            center = (points * total[..., None]).sum(axis=1) / np.maximum(total.sum(axis=1), _EPS)[..., None]
        return np.asarray(center)

    def _without_duplicates(
        self,
        batch: _Batch,
        kept: _Clusters,
        rows: list[int],
        support: FloatArray,
        agreement: FloatArray,
        geometry: list[FloatArray],
    ) -> list[int]:
        """The kept clusters of one object that are not a worker's duplicate of a stronger one."""
        accepted: list[int] = []
        diagonal = float(batch.diagonal[kept.obj[rows[0]]])
        for k in sorted(rows, key=lambda k: (-support[k], -agreement[k], k)):
            answers = {a for a, _ in kept.members[k]}
            duplicate = False
            for j in accepted:
                if kept.label[j] != kept.label[k] or not answers < {a for a, _ in kept.members[j]}:
                    continue
                d = line_distance(geometry[k], geometry[j], self.n_match) / diagonal
                if np.exp(-(d**2) / (2.0 * self.sigma**2)) >= self.min_similarity:
                    duplicate = True
                    break
            if not duplicate:
                accepted.append(k)
        return sorted(accepted)


def _canonical(clusters: Sequence[Cluster]) -> list[Cluster]:
    """Clusters by label (as text), then first member; members by answer."""
    ordered = [Cluster(c.label, tuple(sorted(c.members))) for c in clusters]
    return sorted(ordered, key=lambda c: (str(c.label), c.members[0]))


def _cliques(
    first: IntArray, second: IntArray, answer: IntArray, starts: IntArray, labels: list[Hashable]
) -> list[list[Cluster] | None]:
    """Per object, its clusters when every connected group of the edges (pairs of lines of one label
    and of different answers at ``min_similarity`` or more) is a clique with one line per answer — then
    incremental matching with average linkage joins exactly the cliques, in any order — else ``None``.

    ``answer``: per line, its answer in its object; ``starts``: each object's first line; ``labels``:
    per line, its label."""
    n_lines = len(answer)
    n_objects = len(starts) - 1
    obj_of = np.repeat(np.arange(n_objects), np.diff(starts))
    root = np.arange(n_lines)
    np.minimum.at(root, first, second)
    np.minimum.at(root, second, first)
    bad = np.zeros(n_objects, dtype=bool)
    bad[obj_of[first[root[first] != root[second]]]] = True  # a chain, not a clique
    size = np.bincount(root, minlength=n_lines)
    edges = np.bincount(root[first], minlength=n_lines)
    roots = np.flatnonzero(size > 0)
    bad[obj_of[roots[edges[roots] != size[roots] * (size[roots] - 1) // 2]]] = True
    pairs = np.unique(np.stack([root, answer], axis=1), axis=0) if n_lines else np.zeros((0, 2), dtype=np.int64)
    distinct = np.bincount(pairs[:, 0], minlength=n_lines) if len(pairs) else np.zeros(n_lines, dtype=np.int64)
    bad[obj_of[roots[distinct[roots] != size[roots]]]] = True
    # each line's index among its answer's lines (an answer's lines are consecutive)
    opens = np.r_[True, (answer[1:] != answer[:-1]) | (obj_of[1:] != obj_of[:-1])] if n_lines else np.zeros(0, bool)
    run_start = np.maximum.accumulate(np.where(opens, np.arange(n_lines), 0)) if n_lines else np.zeros(0, np.int64)
    within = np.arange(n_lines) - run_start
    groups: dict[int, list[tuple[int, int]]] = {}
    for line, r, a, i in zip(range(n_lines), root.tolist(), answer.tolist(), within.tolist(), strict=True):
        if not bad[obj_of[line]]:
            groups.setdefault(r, []).append((a, i))
    out: list[list[Cluster] | None] = [None if bad[o] else [] for o in range(n_objects)]
    for r, members in groups.items():
        found = out[obj_of[r]]
        assert found is not None
        found.append(Cluster(labels[r], tuple(sorted(members))))
    return [None if found is None else sorted(found, key=lambda c: (str(c.label), c.members[0])) for found in out]


def _member_points(lines: _Lines, line: IntArray, flip: BoolArray, grid: FloatArray) -> FloatArray:
    """``(clusters, members, fractions, 2)``: each member's point at each of its cluster's fractions
    (``grid``: ``(clusters, fractions)``), counted from the other end where it runs against the cluster."""
    fraction = np.where(flip[:, :, None], 1.0 - grid[:, None, :], grid[:, None, :])
    return lines.at(np.broadcast_to(line[:, :, None], fraction.shape), fraction)


def _with_vertices(lines: _Lines, medoid: IntArray, uniform: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Per cluster, the fractions ``uniform`` and its medoid line's vertex fractions, sorted without
    repeats, padded with the last (``(clusters, fractions)``, and which are real)."""
    counts = lines.start[medoid + 1] - lines.start[medoid]
    width = int(counts.max(initial=0))
    index = lines.start[medoid][:, None] + np.arange(width)[None, :]
    own = np.where(
        np.arange(width)[None, :] < counts[:, None], lines.fractions[np.minimum(index, len(lines.fractions) - 1)], 2.0
    )
    grid = np.sort(
        np.round(np.concatenate([np.broadcast_to(uniform, (len(medoid), len(uniform))), own], axis=1), 9), axis=1
    )
    repeat = np.zeros(grid.shape, dtype=bool)
    repeat[:, 1:] = grid[:, 1:] == grid[:, :-1]
    grid = np.sort(np.where(repeat, 2.0, grid), axis=1)
    valid = grid <= 1.0
    last = np.take_along_axis(grid, (valid.sum(axis=1) - 1)[:, None], axis=1)
    return np.where(valid, grid, last), valid


def _simplify_many(curves: Sequence[FloatArray], tolerance: FloatArray) -> list[FloatArray]:
    """Ramer–Douglas–Peucker on every curve at once: each round, every segment between kept points
    whose farthest inner point lies beyond its curve's tolerance from the chord keeps that point (the
    first of equals); a segment within the tolerance is done."""
    counts = np.array([len(c) for c in curves])
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    points = np.concatenate(curves)
    index = np.arange(len(points))
    limit = np.repeat(tolerance, counts)
    keep = np.zeros(len(points), dtype=bool)
    keep[starts[:-1]] = True
    keep[starts[1:] - 1] = True
    active = index[~keep]
    while len(active):
        lo = np.maximum.accumulate(np.where(keep, index, 0))[active]
        hi = np.minimum.accumulate(np.where(keep, index, len(points))[::-1])[::-1][active]
        chord = points[hi] - points[lo]
        offset = points[active] - points[lo]
        length = np.hypot(chord[:, 0], chord[:, 1])
        across = np.abs(chord[:, 0] * offset[:, 1] - chord[:, 1] * offset[:, 0]) / np.maximum(length, _EPS)
        distance = np.where(length > _EPS, across, np.hypot(offset[:, 0], offset[:, 1]))
        opens = np.flatnonzero(np.r_[True, lo[1:] != lo[:-1]])  # active points of one segment are adjacent
        segment = np.cumsum(np.r_[True, lo[1:] != lo[:-1]]) - 1
        farthest = np.maximum.reduceat(distance, opens)[segment]
        wide = farthest > limit[active]
        candidate = np.flatnonzero(wide & (distance >= farthest))
        _, first = np.unique(segment[candidate], return_index=True)
        split = active[candidate[first]]
        keep[split] = True
        active = active[wide & ~keep[active]]
    return [points[starts[k] : starts[k + 1]][keep[starts[k] : starts[k + 1]]] for k in range(len(curves))]


def _shrunk(numerator: FloatArray, denominator: FloatArray, strength: float) -> FloatArray:
    total = float(denominator.sum())
    pooled = float(numerator.sum()) / total if total > 0 else 1.0
    mass = denominator + strength
    return np.where(mass > 0, (numerator + strength * pooled) / np.maximum(mass, _EPS), pooled)


def _as_prior(prior: npt.ArrayLike | None) -> FloatArray:
    if prior is None:
        return np.zeros((0, len(STATISTICS)))
    array = np.asarray(prior, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != len(STATISTICS) or not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(
            f"prior must be an (n_workers, {len(STATISTICS)}) array of non-negative numbers, got shape {array.shape}"
        )
    return array


def _weighted_median(points: FloatArray, weight: FloatArray) -> FloatArray:
    """``(clusters, fractions, 2)``: per coordinate, the weighted median over the members (axis 1); zero
    weights are padding. An even split takes the midpoint of the two middle values."""
    order = np.argsort(points, axis=1, kind="stable")
    values = np.take_along_axis(points, order, axis=1)
    w = np.broadcast_to(weight[:, :, None, None], points.shape)
    w = np.take_along_axis(w, order, axis=1)
    cumulative = np.cumsum(w, axis=1)
    half = cumulative[:, -1:] / 2.0
    below = np.argmax(cumulative >= half - _EPS * np.maximum(half, 1.0), axis=1)  # the first reaching half
    exact = np.abs(np.take_along_axis(cumulative, below[:, None], axis=1)[:, 0] - half[:, 0]) <= _EPS * np.maximum(
        half[:, 0], 1.0
    )
    # the next value with weight (skip zero-weight padding) for an exact split
    has_weight = w > 0
    index = np.arange(points.shape[1])[None, :, None, None]
    after = np.where(has_weight & (index > below[:, None]), index, points.shape[1])
    upper = np.minimum(after.min(axis=1), points.shape[1] - 1)
    low = np.take_along_axis(values, below[:, None], axis=1)[:, 0]
    high = np.take_along_axis(values, upper[:, None], axis=1)[:, 0]
    return np.asarray(np.where(exact, (low + high) / 2.0, low), dtype=np.float64)


class _Evidence:
    """Per-worker counts behind the rates (:data:`STATISTICS`), and the two-answer lone lines."""

    def __init__(self, counts: FloatArray, lone: dict[tuple[int, int], float]) -> None:
        self.counts = counts
        self.lone = lone
        """Per ``(worker, partner)``: lines of two-answer objects only the worker drew, nobody near."""

    def resolved(self, real: dict[tuple[int, int], float]) -> FloatArray:
        """The counts with each lone line counted as confirmed (and as its partner's lost chance) with
        the posterior ``real`` that it is real, and as invented with the rest."""
        out = self.counts.copy()
        for (worker, partner), count in self.lone.items():
            q = real.get((worker, partner), 0.5)
            out[worker, 1] += count * q
            out[worker, 4] += count * (1.0 - q)
            out[partner, 2] += count * q
            out[partner, 5] += count * q
        return out

    @classmethod
    def of(cls, batch: _Batch, clusters: _Clusters, n_workers: int) -> _Evidence:
        """The counts of the clusters of objects with two answers or more (module docstring)."""
        counts = np.zeros((n_workers, len(STATISTICS)))
        lone: dict[tuple[int, int], float] = {}
        if not len(clusters):
            return cls(counts, lone)
        n = batch.n_answers[clusters.obj]
        size = clusters.size
        valid = clusters.valid
        inside = clusters.inside(batch)
        drew_there = clusters.drew_near(batch, batch.near)
        nobody = ~drew_there.any(axis=1)
        two_lone = (size == 1) & (n == 2) & nobody  # a miss or an invention: resolved by the posterior
        author = clusters.answer[:, 0]
        for c in np.flatnonzero(two_lone).tolist():
            o, a = int(clusters.obj[c]), int(author[c])
            pair = (int(batch.worker[o, a]), int(batch.worker[o, 1 - a]))
            lone[pair] = lone.get(pair, 0.0) + 1.0
        rest = ~two_lone
        # per answer of each cluster: lines, confirmed, chances, hits, invented, lost
        table = np.zeros((len(clusters), inside.shape[1], 6))
        several = size >= 2
        table[:, :, 0] = inside  # lines (a two-answer lone line too: it is drawn)
        table[:, :, 1] = inside * np.where(several, 1.0, np.where((size == 1) & (n == 2) & ~nobody, 0.5, 0.0))[:, None]
        chance = np.where((size == 1) & (n == 2), 0.5, 1.0)
        agreed = (size[:, None] - inside) > (n[:, None] - 1) / 2.0  # more than half of the other workers drew it
        table[:, :, 2] = chance[:, None] * agreed * rest[:, None]
        table[:, :, 3] = agreed & inside & rest[:, None]
        table[:, :, 4] = inside * ((size == 1) & (n > 2) & nobody)[:, None]
        table[:, :, 5] = agreed & ~inside & ~drew_there & rest[:, None]
        workers = batch.worker[clusters.obj]
        ok = workers >= 0
        np.add.at(counts[:, :6], workers[ok], table[ok])
        # the squared mean distance of each member of a cluster of two or more to the others
        distance = np.asarray(clusters.pairs(batch, batch.distance), dtype=np.float64) * valid[:, None, :]
        mean = distance.sum(axis=2) / np.maximum(size - 1, 1)[:, None]
        member_workers = workers[np.arange(len(clusters))[:, None], np.maximum(clusters.answer, 0)]
        member = valid & several[:, None]
        np.add.at(counts[:, 6], member_workers[member], mean[member] ** 2)
        np.add.at(counts[:, 7], member_workers[member], 1.0)
        return cls(counts, lone)
