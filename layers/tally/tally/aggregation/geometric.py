"""Consolidate boxes, keypoints and instance masks: match across workers, keep what the crowd agrees on, fuse.

:class:`GeometricConsolidation` is the batch model for every geometric task. Per object:

**Match.** :func:`~tally.aggregation.matching.match_items` clusters the items of different workers per
label, one item per worker per cluster, by optimal assignment on IoU (boxes, masks) or on a keypoint
similarity ``exp(-d²/2σ²)`` with σ a fraction of the image diagonal; ``min_similarity`` is the least
average similarity that still joins a cluster.

**Keep.** A cluster's *support* is the keep weight of its workers over the keep weight of every worker
who answered the object (an empty answer counts: that worker saw nothing there). One worker's answer
is kept as it is (support 1). With two answers or more, three cases:

* *A lone item no other worker drew anything over* (no item of any label overlapping it by
  ``min_similarity``): either its worker invented it or every other worker missed it. It stays when
  the posterior that it is real reaches ``keep_share`` (½):
  ``odds = Π miss_[other] / invention_[worker]`` (:meth:`GeometricConsolidation.lone_item_is_real`).
  Both rates are at least ``noise_rate`` and shrunk toward it, so with two careful (or unknown)
  workers the posterior is ½ and *what either drew is kept* — two answers cannot tell one worker's
  misses from the other's inventions, and the prior is that neither invents; it gives way only when
  the batch shows the worker invents more often than its partner misses. With three careful workers
  the odds are ``0.05² / 0.05``: two must agree.
* *Other workers drew the object with another label* (an item of another label overlapping a
  member): a class dispute (``class_vote``). It stays when everyone who drew something there holds
  ``keep_share`` of the answering weight (the object is there) and its members hold ``keep_share`` of
  theirs (its label wins; a tie stays).
* *Otherwise*: it stays when its support reaches ``keep_share`` (a tie stays, as crowd-kit's
  majority vote keeps a tied pixel): with three workers two must agree.

**Reliability** (:meth:`GeometricConsolidation.fit`). Over the batch, per worker, from objects with at
least two answers: *precision* — the share of the worker's items that another worker matched;
*recall* — the share of the clusters more than half of the other workers drew that the worker drew
too; *agreement* — the mean similarity of the worker's matched items to the other members; each
shrunk toward the batch's pooled rate by ``prior_strength`` pseudo-items. *Inventions* — the
worker's unmatched items no one drew anything over, per matched item — and *misses* — the share of
the clusters more than half of the others drew where the worker drew nothing at all — are shrunk
toward ``noise_rate`` and floored at it. A lone item of a two-answer object (no one else drew
anything there) counts as matched, and as its partner's miss, with the posterior that it is real,
found by EM from ½; an unmatched item of a two-answer object the partner drew with another label
counts half. The keep weight rises linearly from 0.01 at
``zero_precision`` (½: half the worker's items unmatched) to 1 at ``(1 - tolerance) × best
precision`` and stays 1 above it: careful workers within ``tolerance`` of the best weigh exactly 1,
so small differences between careful workers never drop an item. The fusion weight is an inverse
variance: taking ``1 - agreement`` as the worker's localisation error, it is
``min(1, (best error / ((1 - tolerance) × error))²)`` — a worker who draws precisely weighs fully in
the fusion even when its keep weight is low (a wrong-class worker's right-class boxes are as precise
as anyone's). Workers not seen by ``fit`` weigh 1 and have the noise rates.

**Duplicates** (boxes and keypoints, objects with two answers or more). One worker's second box on
an object opens a cluster of its own; when two such workers' extra boxes match each other, that
cluster can reach half. A kept cluster is dropped as a duplicate when a stronger kept cluster (higher
support, then agreement) of the same label overlaps its fused item by ``min_similarity`` or more and
its workers are a proper subset of the stronger one's — non-maximum suppression as detectors apply it,
restricted to items some of the same workers drew twice. When every worker drew both (two real
objects overlapping that much), both stay. Instance maps cannot hold one worker's two masks on
the same pixels, so instances skip this step; a single answer is kept as it is.

**Fuse.** Boxes: :class:`~tally.aggregation.box_fusion.BoxFusion` (robust weighted average of each
edge), with the scale and Huber threshold :meth:`GeometricConsolidation.fit` pools over the batch
(``edge_scale_``: the typical edge difference of matched boxes relative to their side; ``edge_k_``:
Huber's minimax ``k`` for the share of differences too large for that scale — 3 on clean Gaussian
jitter, where the fused edge is the weighted mean, about 1.5 when a fifth of the workers drag edges);
a batch too small to pool (fewer than ``min_scale_pairs`` differences) uses each cluster's own MAD
and ``k = 2``. A kept box also *borrows* the boxes of other labels that the keep rule left out and that
overlap its fused box by ``borrow_similarity`` (a wrong-class worker still drew the object), each at
``borrow_weight`` × its worker's fusion weight, one per worker not in the cluster (optimal
assignment); borrowed boxes shape the geometry only, not the support, confidence or ``workers``. Keypoints: weighted median of each coordinate. Instances: pixel vote inside the cluster
(:func:`~tally.aggregation.instance_fusion.fuse_instances`).

**Confidence** of a kept item: ``support × agreement``, where agreement is the weighted mean
similarity between the pairs of its members. A lone item has no pair, so its agreement and confidence
are 0 — Ground Truth's built-in box consolidation likewise reports 0 for a one-worker answer.

Reference: P. Welinder, P. Perona, "Online crowdsourcing: rating annotators and obtaining
cost-effective labels", CVPR Workshops 2010 (annotator models for bounding boxes); ensemble-boxes'
weighted boxes fusion (https://github.com/ZFTurbo/Weighted-Boxes-Fusion), the benchmark's reference.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from ..vote import VoteTable
from .assignment import max_similarity_assignment
from .box_fusion import _MAD_TO_SIGMA, BoxFusion, huber_k, weighted_medians
from .instance_fusion import fuse_instance_table, table_iou, tabulate_instances
from .matching import Cluster, box_iou, item_offsets, match_items, point_similarity

__all__ = [
    "EVIDENCE_FIELDS",
    "Consolidated",
    "GeometricConsolidation",
    "ObjectItems",
    "WorkerItems",
]

FloatArray = npt.NDArray[np.float64]
Kind = Literal["boxes", "keypoints", "instances"]
_EPS = 1e-9
_NORMAL_TAIL_3 = 0.0026998  # P(|z| > 3) for a standard normal z


@dataclass(frozen=True)
class WorkerItems:
    """One worker's items on one object.

    ``geometry`` is, by kind: boxes ``(n, 4)`` ``x0, y0, x1, y1`` floats (see
    :func:`~tally.aggregation.box_fusion.boxes_from_ltwh`); keypoints ``(n, 2)`` ``x, y``; instances an
    ``(H, W)`` integer instance map where instance *k* is value ``k + 1``.
    """

    worker: str
    labels: tuple[Hashable, ...]
    geometry: npt.NDArray[np.generic]


@dataclass(frozen=True)
class ObjectItems:
    """Every answer to one object, and the image size (pixels).

    ``similarity``, when set, is the matrix of similarities between all items of all answers
    (concatenated in answer order) computed beforehand: the model then never reads ``geometry``
    to match them, so :meth:`GeometricConsolidation.summary` can drop it (instance maps) for the
    batch fit. Such an object can be fitted on, not predicted."""

    answers: tuple[WorkerItems, ...]
    width: int
    height: int
    similarity: FloatArray | None = None


@dataclass(frozen=True)
class Consolidated:
    """The kept, fused items of one object (same order in every field)."""

    labels: list[Hashable]
    geometry: npt.NDArray[np.generic]
    """Boxes ``(K, 4)`` / keypoints ``(K, 2)`` floats, or the fused ``(H, W)`` int32 instance map (item
    *k* is value ``k + 1``)."""
    confidence: FloatArray
    support: FloatArray
    agreement: FloatArray
    workers: list[tuple[str, ...]]
    """Per item, the workers whose items were fused into it."""
    members: list[tuple[tuple[int, int], ...]]
    """Per item, its members as ``(answer index, item index)`` pairs (same order as ``workers``)."""


@dataclass
class GeometricConsolidation:
    """Match, keep and fuse the geometric answers of a batch (module docstring).

    Examples:
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
        >>> result = GeometricConsolidation("boxes").fit([obj]).predict(obj)
        >>> result.labels, result.geometry.round(1).tolist(), result.workers
        (['car'], [[11.0, 10.3, 50.3, 41.0]], [('a', 'b', 'c')])
    """

    kind: Kind
    """``"boxes"``, ``"keypoints"`` or ``"instances"`` (polygons: rasterise to instances first)."""
    min_similarity: float = 0.5
    """Least average similarity (IoU, or keypoint similarity) at which an item joins a cluster."""
    keep_share: float = 0.5
    """A cluster stays when its workers' weighted share of the answering workers reaches this."""
    tolerance: float = 0.1
    """Workers whose rate is within this fraction of the best worker's weigh the same (1)."""
    zero_precision: float = 0.5
    """Precision at which a worker's keep weight reaches its floor (0.01): half its items unmatched."""
    prior_strength: float = 4.0
    """Pseudo-items pulling each worker's rates toward the batch's pooled rate."""
    keypoint_sigma: float = 0.02
    """Keypoint similarity scale σ, as a fraction of the image diagonal."""
    n_iter: int = 1
    """Rounds of matching and re-estimating the weights in :meth:`fit` (later rounds match with the
    weights of the round before; a second round moved no tuning-crowd figure by more than 0.002)."""
    class_vote: bool = True
    """Where other workers drew the cluster's object with another label, keep it when everyone who drew
    something there holds ``keep_share`` of the weight (the object is there) and its members hold
    ``keep_share`` of theirs (its label wins); ``False``: the per-label share alone (earlier versions)."""
    noise_rate: float = 0.05
    """Error rates at or below this are the noise of careful workers: in the two-answer keep rule a
    worker's inventions per confirmed item and its partner's miss rate are both taken as at least this,
    so two careful workers never drop each other's lone items."""
    borrow_weight: float = 0.5
    """Boxes only: the weight, relative to its worker's fusion weight, of another label's box that a
    kept cluster borrows for its geometry (a wrong-class worker still drew the object); 0: none."""
    borrow_similarity: float = 0.7
    """Boxes only: the least IoU with a kept cluster's fused box at which another label's box, of a
    worker not in the cluster and left out by the keep rule, is borrowed."""
    box_fusion: BoxFusion = field(default_factory=BoxFusion)
    """How a cluster of boxes becomes one box."""
    pooled_scale: bool = True
    """Boxes only: fuse with the batch's pooled edge scale (:attr:`edge_scale_`) instead of each
    cluster's own MAD (``False``: earlier versions)."""
    adaptive_k: bool = True
    """Boxes only, with a pooled scale: Huber's threshold from the batch's share of gross edge errors
    (:attr:`edge_k_`) instead of :attr:`BoxFusion.k`."""
    min_scale_pairs: int = 40
    """Boxes only: the fewest edge differences (4 per pair of matched boxes) from which :meth:`fit`
    pools :attr:`edge_scale_`; a smaller batch leaves it ``None`` (each cluster's own MAD)."""

    precision_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, the (shrunk) share of its items another worker matched."""
    recall_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, the (shrunk) share of the others' agreed items it drew too."""
    agreement_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, the (shrunk) mean similarity of its matched items to the other members."""
    worker_weights_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, its weight in the keep rule (1 for careful workers)."""
    fusion_weights_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, its weight when items are fused (inverse variance from agreement)."""
    invention_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, its unconfirmed items per confirmed item, shrunk toward ``noise_rate`` and at least
    ``noise_rate`` (the odds against its item being real, before anyone else is heard)."""
    miss_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, the share of real items it leaves out, shrunk toward ``noise_rate`` and at least it."""
    edge_scale_: float | None = field(default=None, init=False)
    """Boxes only: the batch's edge noise as a fraction of the box's side — ``1.4826 × median |d| / √2``
    over the differences ``d`` of every pair of matched boxes' same edge, each over the cluster's
    median width (x edges) or height (y edges); ``None`` before :meth:`fit`, without ``pooled_scale``
    or from fewer than ``min_scale_pairs`` differences."""
    edge_contamination_: float | None = field(default=None, init=False)
    """Boxes only: the batch's share of gross edge errors — the share of those edge differences beyond
    3 × √2 × :attr:`edge_scale_` above a normal sample's (0.27 %), halved (a difference is gross when
    either of its two edges is); ``None`` with :attr:`edge_scale_`."""
    edge_k_: float | None = field(default=None, init=False)
    """Boxes only: Huber's threshold the fusion uses, :func:`~tally.aggregation.box_fusion.huber_k` of
    :attr:`edge_contamination_` (at most 3: on clean Gaussian jitter the fused edge is all but the
    weighted mean); ``None`` (:attr:`BoxFusion.k`) without ``adaptive_k`` or a pooled scale."""
    evidence_: dict[str, list[float]] = field(default_factory=dict, init=False)
    """Per worker, this batch's own counts behind the rates, without the prior, in the order of
    :data:`EVIDENCE_FIELDS`: sum them over batches and pass the sum as the next ``prior_evidence``."""

    def __post_init__(self) -> None:
        if self.kind not in ("boxes", "keypoints", "instances"):
            raise ValueError(f"kind must be boxes, keypoints or instances, not {self.kind!r}")
        if not 0.0 < self.min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in (0, 1], got {self.min_similarity}")
        if not 0.0 <= self.tolerance < 1.0:
            raise ValueError(f"tolerance must be in [0, 1), got {self.tolerance}")

    # ------------------------------------------------------------------ fit
    def fit(
        self, objects: Sequence[ObjectItems], prior_evidence: Mapping[str, Sequence[float]] | None = None
    ) -> GeometricConsolidation:
        """Estimate every worker's rates and weights from how their items match across the batch.

        Args:
            objects: the batch's objects.
            prior_evidence: optional per worker counts from earlier batches (the sum of their
                :attr:`evidence_`, :data:`EVIDENCE_FIELDS` order), added to the batch's before the
                rates are taken; the first matching round already uses the weights they give.

        Example:
            Worker "c" drew a car no one else drew; with two others that is not kept. After 20
            earlier objects where "a" and "b" confirmed nothing and "c" everything, it is.

            >>> car = lambda *b: np.array([b], dtype=float)
            >>> obj = ObjectItems(
            ...     (WorkerItems("a", (), np.zeros((0, 4))), WorkerItems("b", (), np.zeros((0, 4))),
            ...      WorkerItems("c", ("car",), car(10, 10, 50, 40))), width=100, height=60)
            >>> GeometricConsolidation("boxes").fit([obj]).predict(obj).labels
            []
            >>> bad, good = [20, 0, 20, 0, 0, 0, 20, 20], [20, 20, 20, 20, 20, 20, 0, 0]
            >>> model = GeometricConsolidation("boxes").fit([obj], {"a": bad, "b": bad, "c": good})
            >>> model.predict(obj).labels, model.evidence_["c"]
            (['car'], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        """
        self.precision_, self.recall_, self.agreement_ = {}, {}, {}
        self.worker_weights_, self.fusion_weights_ = {}, {}
        self.invention_, self.miss_ = {}, {}
        prior = _Evidence.of(prior_evidence or {})
        if prior.items:
            self._set_weights(prior)
        self.edge_scale_ = self.edge_contamination_ = self.edge_k_ = None
        tally = _Evidence()
        real: dict[tuple[str, str], float] = {}
        for _ in range(max(1, self.n_iter)):
            tally = _Evidence()
            pool = _EdgePool()
            for obj in objects:
                if len(obj.answers) >= 2:
                    self._validate(obj)
                    clusters, sims = self._match(obj)
                    tally.add(obj, clusters, sims, self.min_similarity)
                    if self.kind == "boxes" and self.pooled_scale:
                        pool.add(obj, clusters, sims.offsets)
            real = self._set_weights(tally.plus(prior))
            pooled = pool.differences()
            if len(pooled) >= max(self.min_scale_pairs, 1):
                self._set_edge_noise(pooled)
        self.evidence_ = tally.resolved(real).as_dict()
        return self

    def _set_edge_noise(self, differences: FloatArray) -> None:
        """:attr:`edge_scale_`, :attr:`edge_contamination_` and :attr:`edge_k_` from the pooled edge differences."""
        magnitude = np.abs(differences)
        scale = float(_MAD_TO_SIGMA * np.median(magnitude) / np.sqrt(2.0))
        self.edge_scale_ = scale
        tail = float(np.mean(magnitude > 3.0 * np.sqrt(2.0) * scale)) if scale > 0 else 0.0
        self.edge_contamination_ = float(np.clip((tail - _NORMAL_TAIL_3) / 2.0, 0.0, 0.5))
        self.edge_k_ = huber_k(self.edge_contamination_) if self.adaptive_k else None

    def lone_item_is_real(self, worker: str, *partners: str) -> float:
        """The posterior that an item only ``worker`` drew, where the other answers (``partners``) drew nothing, is real.

        Its odds are ``Π miss_[partner] / invention_[worker]``: the prior odds that the worker's item is
        real (matched items per invented one) times the likelihood ratio of each partner's silence (a
        partner leaves out a real item at its miss rate, and never draws another's invention). Both
        rates are at least ``noise_rate`` and shrunk toward it, so with one partner, workers the batch
        knows little about and careful workers give ½: what either drew is kept (the keep rule's tie
        stays); with two careful partners, 0.05² / 0.05: two of three must agree.

        Example:
            >>> model = GeometricConsolidation("boxes")
            >>> model.invention_, model.miss_ = {"inventor": 0.2}, {"careful": 0.05, "misser": 0.3}
            >>> model.lone_item_is_real("inventor", "careful"), model.lone_item_is_real("inventor", "misser")
            (0.2, 0.6)
            >>> model.lone_item_is_real("careful", "inventor"), model.lone_item_is_real("new", "other")
            (0.5, 0.5)
        """
        miss = 1.0
        for partner in partners:
            miss *= self.miss_.get(partner, self.noise_rate)
        invention = self.invention_.get(worker, self.noise_rate)
        return float(miss / (miss + invention))

    def _set_weights(self, ev: _Evidence) -> dict[tuple[str, str], float]:
        """Rates and weights from the evidence; a two-answer object's lone items count as confirmed (and
        as the partner's misses) with the posterior that they are real, found by EM from ½. Returns
        those posteriors per ``(worker, partner)``."""
        real = dict.fromkeys(ev.lone, 0.5)
        for _ in range(100):
            self._set_rates(ev.resolved(real))
            new = {(w, v): self.lone_item_is_real(w, v) for w, v in ev.lone}
            change = max((abs(new[pair] - real[pair]) for pair in new), default=0.0)
            real = new
            if change < 1e-9:
                break
        self._set_rates(ev.resolved(real))
        return real

    def _set_rates(self, ev: _Evidence) -> None:
        workers = sorted(ev.items)
        k, floor = self.prior_strength, self.noise_rate
        for w in workers:
            confirmed = ev.confirmed.get(w, 0.0)
            invented, lost = ev.invented.get(w, 0.0), ev.lost.get(w, 0.0)
            self.invention_[w] = max(floor, (invented + k * floor) / max(confirmed + k, _EPS))
            self.miss_[w] = max(floor, (lost + k * floor) / max(ev.chances.get(w, 0.0) + k, _EPS))
        self.precision_ = ev.rates(ev.confirmed, ev.items, self.prior_strength)
        self.recall_ = ev.rates(ev.hits, ev.chances, self.prior_strength)
        self.agreement_ = ev.rates(ev.agree_sum, ev.agree_n, self.prior_strength)
        best_p = max(self.precision_.values(), default=1.0)
        best_error = max(1.0 - max(self.agreement_.values(), default=1.0), 1e-3)
        full = (1.0 - self.tolerance) * best_p  # precision from which a worker weighs 1
        for w in workers:
            if full - self.zero_precision > 0.05:
                keep = (self.precision_[w] - self.zero_precision) / (full - self.zero_precision)
            else:  # nobody in the batch is clearly better than the zero point: no basis to weigh
                keep = 1.0
            keep = float(np.clip(keep, 0.01, 1.0))
            # inverse variance, the localisation error taken as 1 - agreement
            error = max(1.0 - self.agreement_[w], _EPS)
            fusion = min(1.0, (best_error / ((1.0 - self.tolerance) * error)) ** 2)
            self.worker_weights_[w] = keep
            self.fusion_weights_[w] = max(fusion, 0.01)

    # ------------------------------------------------------------------ predict
    def predict(self, obj: ObjectItems, table: VoteTable | None = None) -> Consolidated:
        """The kept and fused items of one object; for instances, ``table`` is the object's
        :meth:`instance_table` when already built (then ``obj`` may be its :meth:`summary`)."""
        answers = obj.answers
        if not answers:
            return self._empty(obj)
        if table is None and obj.similarity is not None and any(a.geometry.size == 0 for a in answers):
            raise ValueError("a fit summary without its instance maps cannot be predicted: pass its table")
        self._validate(obj)
        keep_w = np.array([self.worker_weights_.get(a.worker, 1.0) for a in answers])
        fuse_w = np.array([self.fusion_weights_.get(a.worker, 1.0) for a in answers])
        prepared = table if table is not None or self.kind != "instances" else _tabulate(obj)
        clusters, sims = self._match(obj, prepared)
        total = keep_w.sum()
        near = _drawn_near(sims, self.min_similarity)
        near_other = _drawn_near(sims, self.min_similarity, [a.labels for a in answers])
        kept: list[Cluster] = []
        support: list[float] = []
        for cluster in clusters:
            inside = np.zeros(len(answers), dtype=bool)
            inside[[a for a, _ in cluster.members]] = True
            share = float(keep_w[inside].sum() / total)
            rows = [sims.offsets[a] + i for a, i in cluster.members]
            elsewhere = near_other[rows].any(axis=0) & ~inside  # drew the object with another label
            a = cluster.members[0][0]
            if len(answers) >= 2 and len(cluster.members) == 1 and not near[rows].any():
                keep = self.lone_item_is_real(answers[a].worker, *[x.worker for b, x in enumerate(answers) if b != a])
            elif self.class_vote and elsewhere.any():
                # presence: everyone who drew there; the label: the members against the others there
                present = share + float(keep_w[elsewhere].sum() / total)
                label = share / present
                keep = min(present, label)
            else:
                keep = share
            if keep >= self.keep_share - _EPS:
                kept.append(cluster)
                support.append(float(share))
        agreement = [_agreement(c, sims, fuse_w) for c in kept]
        geometry, order = self._fuse(obj, kept, fuse_w, prepared)
        if self.kind != "instances" and len(answers) > 1:
            order = self._without_duplicates(obj, kept, support, agreement, geometry)
            geometry = geometry[order]
            if self.kind == "boxes" and self.borrow_weight > 0:
                geometry = self._borrow(obj, clusters, [kept[i] for i in order], geometry, fuse_w)
        return Consolidated(
            labels=[kept[i].label for i in order],
            geometry=geometry,
            confidence=np.array([support[i] * agreement[i] for i in order], dtype=np.float64),
            support=np.array([support[i] for i in order], dtype=np.float64),
            agreement=np.array([agreement[i] for i in order], dtype=np.float64),
            workers=[tuple(answers[a].worker for a, _ in kept[i].members) for i in order],
            members=[kept[i].members for i in order],
        )

    def fit_predict(self, objects: Sequence[ObjectItems]) -> list[Consolidated]:
        """:meth:`fit` on the batch, then :meth:`predict` each object."""
        self.fit(objects)
        return [self.predict(obj) for obj in objects]

    # ------------------------------------------------------------------ internals
    def instance_table(self, obj: ObjectItems) -> VoteTable:
        """The distinct tuples of the answers' instance maps (what matching and fusing instances read)."""
        return _tabulate(obj)

    def summary(self, obj: ObjectItems, table: VoteTable | None = None) -> ObjectItems:
        """What :meth:`fit` needs of ``obj``: for instances, the items' labels and their similarity
        matrix without the instance maps (a 1280x960 map per answer would otherwise be kept for
        every object of the batch until the fit); boxes and keypoints as they are (a few numbers).
        ``table``: the object's :meth:`instance_table`, when built."""
        if self.kind != "instances" or obj.similarity is not None:
            return obj
        self._validate(obj)
        similarity = self._similarity(obj, table)
        empty = np.zeros((0, 0), dtype=np.uint8)
        answers = tuple(WorkerItems(a.worker, a.labels, empty) for a in obj.answers)
        return ObjectItems(answers, obj.width, obj.height, similarity)

    def _validate(self, obj: ObjectItems) -> None:
        """Refuse geometry the matcher cannot read, naming the worker (never the values)."""
        if obj.similarity is not None:
            n = sum(len(a.labels) for a in obj.answers)
            if obj.similarity.shape != (n, n):
                raise ValueError(f"a similarity matrix of shape {obj.similarity.shape} for {n} items")
            return
        for answer in obj.answers:
            geometry = np.asarray(answer.geometry)
            n = len(answer.labels)
            if self.kind == "instances":
                if geometry.shape != (obj.height, obj.width):
                    raise ValueError(
                        f"worker {answer.worker}: instance map is {geometry.shape}, the image {obj.height}x{obj.width}"
                    )
                continue
            width = 4 if self.kind == "boxes" else 2
            if geometry.shape != (n, width) and not (n == 0 and geometry.size == 0):
                raise ValueError(f"worker {answer.worker}: {n} labels but geometry of shape {geometry.shape}")
            if not np.isfinite(geometry).all():
                raise ValueError(
                    f"worker {answer.worker}: a NaN or infinite coordinate; drop such items first "
                    "(boxes_from_ltwh does for boxes)"
                )

    def _match(self, obj: ObjectItems, table: VoteTable | None = None) -> tuple[list[Cluster], _Pairs]:
        answers = obj.answers
        labels = [a.labels for a in answers]
        pairs = _Pairs(self._similarity(obj, table), item_offsets(labels))
        keys = [f"{a.worker}\x00{i:06d}" for i, a in enumerate(answers)]
        weights = [self.worker_weights_.get(a.worker, 1.0) for a in answers]
        clusters = match_items(labels, pairs.matrix, keys=keys, weights=weights, min_similarity=self.min_similarity)
        return clusters, pairs

    def _similarity(self, obj: ObjectItems, table: VoteTable | None = None) -> FloatArray:
        """Similarities between all items of all answers, concatenated in answer order."""
        if obj.similarity is not None:
            return obj.similarity
        answers = obj.answers
        if self.kind == "boxes":
            return box_iou(*[np.concatenate([np.asarray(a.geometry).reshape(-1, 4) for a in answers])] * 2)
        if self.kind == "keypoints":
            points = np.concatenate([np.asarray(a.geometry).reshape(-1, 2) for a in answers])
            return point_similarity(points, points, self._sigma(obj))
        offsets = item_offsets([a.labels for a in answers])
        matrix = np.zeros((offsets[-1], offsets[-1]))
        counts = [len(a.labels) for a in answers]
        if offsets[-1] == 0:
            return matrix
        votes = table if table is not None else _tabulate(obj)
        for a, n_a in enumerate(counts):
            for b in range(a + 1, len(answers)):
                if n_a and counts[b]:
                    block = table_iou(votes, a, n_a, b, counts[b])
                    matrix[offsets[a] : offsets[a + 1], offsets[b] : offsets[b + 1]] = block
                    matrix[offsets[b] : offsets[b + 1], offsets[a] : offsets[a + 1]] = block.T
        return matrix

    def _fuse(
        self,
        obj: ObjectItems,
        kept: Sequence[Cluster],
        weights: FloatArray,
        table: VoteTable | None = None,
    ) -> tuple[npt.NDArray[np.generic], list[int]]:
        answers = obj.answers
        if self.kind == "instances":
            votes = table if table is not None else _tabulate(obj)
            instance_map, order, _ = fuse_instance_table(votes, [c.members for c in kept], weights.tolist())
            return instance_map, order
        width = 4 if self.kind == "boxes" else 2
        if not kept:
            return np.zeros((0, width)), []
        size = max(len(c.members) for c in kept)
        items = np.zeros((len(kept), size, width))
        w = np.zeros((len(kept), size))
        for k, cluster in enumerate(kept):
            for m, (a, i) in enumerate(cluster.members):
                items[k, m] = np.asarray(answers[a].geometry)[i]
                w[k, m] = weights[a]
        if self.kind == "boxes":
            fused = self.box_fusion.fuse_many(items, w, self.edge_scale_, self.edge_k_)
        else:
            fused = weighted_medians(items, w)
        return fused, list(range(len(kept)))

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

    def _without_duplicates(
        self,
        obj: ObjectItems,
        kept: Sequence[Cluster],
        support: Sequence[float],
        agreement: Sequence[float],
        fused: npt.NDArray[np.generic],
    ) -> list[int]:
        """Indices of the kept clusters that are not duplicates of a stronger one (module docstring)."""
        items = np.asarray(fused, dtype=np.float64)
        similar = box_iou(items, items) if self.kind == "boxes" else point_similarity(items, items, self._sigma(obj))
        accepted: list[int] = []
        for i in sorted(range(len(kept)), key=lambda i: (-support[i], -agreement[i], i)):
            workers = {a for a, _ in kept[i].members}
            duplicate = any(
                kept[j].label == kept[i].label
                and workers < {a for a, _ in kept[j].members}
                and similar[i, j] >= self.min_similarity
                for j in accepted
            )
            if not duplicate:
                accepted.append(i)
        return sorted(accepted)

    def _sigma(self, obj: ObjectItems) -> float:
        return max(self.keypoint_sigma * float(np.hypot(obj.width, obj.height)), _EPS)

    def _empty(self, obj: ObjectItems) -> Consolidated:
        if self.kind == "instances":
            geometry: npt.NDArray[np.generic] = np.zeros((obj.height, obj.width), dtype=np.int32)
        else:
            geometry = np.zeros((0, 4 if self.kind == "boxes" else 2), dtype=np.float64)
        empty = np.zeros(0, dtype=np.float64)
        return Consolidated([], geometry, empty, empty.copy(), empty.copy(), [], [])


@dataclass
class _EdgePool:
    """The batch's matched boxes, gathered per cluster size, for :attr:`GeometricConsolidation.edge_scale_`."""

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


def _tabulate(obj: ObjectItems) -> VoteTable:
    return tabulate_instances([np.asarray(a.geometry) for a in obj.answers], [len(a.labels) for a in obj.answers])


@dataclass(frozen=True)
class _Pairs:
    """The similarity matrix of one object's items and where each answer's items start in it."""

    matrix: FloatArray
    offsets: npt.NDArray[np.intp]


def _members_block(cluster: Cluster, sims: _Pairs) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """The answers of a cluster's members and the similarities between the members."""
    answers = np.array([a for a, _ in cluster.members], dtype=np.intp)
    rows = np.array([sims.offsets[a] + i for a, i in cluster.members], dtype=np.intp)
    return answers, sims.matrix[np.ix_(rows, rows)]


def _agreement(cluster: Cluster, sims: _Pairs, weights: FloatArray) -> float:
    """Weighted mean similarity over the pairs of a cluster's members; 0 for a lone item."""
    if len(cluster.members) < 2:
        return 0.0
    answers, block = _members_block(cluster, sims)
    pair_weights = np.triu(np.outer(weights[answers], weights[answers]), k=1)
    return float((pair_weights * block).sum() / pair_weights.sum())


def _drawn_near(
    sims: _Pairs, threshold: float, labels: Sequence[Sequence[Hashable]] | None = None
) -> npt.NDArray[np.bool_]:
    """``(items, answers)``: whether an item overlaps (similarity at least ``threshold``) an item of
    another answer, per answer — of any label, or with ``labels`` (per answer) of another label only."""
    n = len(sims.offsets) - 1
    overlap = sims.matrix >= threshold
    if labels is not None:
        flat = [label for answer in labels for label in answer]
        codes = {label: k for k, label in enumerate(dict.fromkeys(flat))}
        ids = np.array([codes[label] for label in flat], dtype=np.intp)
        overlap = overlap & (ids[:, None] != ids[None, :])
    near = np.zeros((int(sims.offsets[-1]), n), dtype=bool)
    for b in range(n):
        lo, hi = int(sims.offsets[b]), int(sims.offsets[b + 1])
        if hi > lo:
            near[:, b] = overlap[:, lo:hi].any(axis=1)
            near[lo:hi, b] = False
    return near


EVIDENCE_FIELDS = ("items", "confirmed", "chances", "hits", "agree_sum", "agree_n", "invented", "lost")
"""The per-worker counts of :attr:`GeometricConsolidation.evidence_`: items drawn, items confirmed
(another worker matched them; a lone item of a two-answer object with the posterior that it is real),
chances to draw an agreed item and hits, the sum and number of agreement values of matched items,
items invented (unconfirmed, and no other worker drew anything there) and agreed items lost (left
out with nothing drawn there). Six-count vectors of earlier versions are read with every unconfirmed
item as invented and every miss as lost."""


@dataclass
class _Evidence:
    """Per-worker counts behind the rates (module docstring)."""

    items: dict[str, float] = field(default_factory=dict)
    confirmed: dict[str, float] = field(default_factory=dict)
    chances: dict[str, float] = field(default_factory=dict)
    hits: dict[str, float] = field(default_factory=dict)
    agree_sum: dict[str, float] = field(default_factory=dict)
    agree_n: dict[str, float] = field(default_factory=dict)
    invented: dict[str, float] = field(default_factory=dict)
    lost: dict[str, float] = field(default_factory=dict)
    lone: dict[tuple[str, str], float] = field(default_factory=dict)
    """Per ``(worker, partner)``, items of two-answer objects only the worker drew: not yet counted as
    confirmed or as the partner's chance (:meth:`resolved` counts them with the posterior)."""

    def tables(self) -> tuple[dict[str, float], ...]:
        return (
            self.items,
            self.confirmed,
            self.chances,
            self.hits,
            self.agree_sum,
            self.agree_n,
            self.invented,
            self.lost,
        )

    @classmethod
    def of(cls, counts: Mapping[str, Sequence[float]]) -> _Evidence:
        """Evidence from per-worker vectors in :data:`EVIDENCE_FIELDS` order (other lengths ignored)."""
        ev = cls()
        for worker, values in counts.items():
            if len(values) == 6:  # before invented and lost were counted apart
                items, confirmed, chances, hits = (float(v) for v in values[:4])
                values = [*values, max(items - confirmed, 0.0), max(chances - hits, 0.0)]
            if len(values) == len(EVIDENCE_FIELDS):
                for table, value in zip(ev.tables(), values, strict=True):
                    table[worker] = float(value)
        return ev

    def plus(self, other: _Evidence) -> _Evidence:
        out = _Evidence()
        for mine, theirs, total in zip(self.tables(), other.tables(), out.tables(), strict=True):
            for worker in sorted(set(mine) | set(theirs)):
                total[worker] = mine.get(worker, 0.0) + theirs.get(worker, 0.0)
        for pair in sorted(set(self.lone) | set(other.lone)):
            out.lone[pair] = self.lone.get(pair, 0.0) + other.lone.get(pair, 0.0)
        return out

    def resolved(self, real: Mapping[tuple[str, str], float]) -> _Evidence:
        """These counts with each lone item of a two-answer object counted as confirmed for its worker,
        and as a chance its partner lost, with weight ``real[(worker, partner)]`` (and as invented with
        the rest)."""
        out = self.plus(_Evidence())
        out.lone = {}
        for (worker, partner), count in self.lone.items():
            q = real.get((worker, partner), 0.5)
            self._bump(out.confirmed, worker, count * q)
            self._bump(out.invented, worker, count * (1.0 - q))
            self._bump(out.chances, partner, count * q)
            self._bump(out.lost, partner, count * q)
        return out

    def as_dict(self) -> dict[str, list[float]]:
        return {w: [float(t.get(w, 0.0)) for t in self.tables()] for w in sorted(self.items)}

    @staticmethod
    def _bump(table: dict[str, float], worker: str, value: float) -> None:
        table[worker] = table.get(worker, 0.0) + value

    def add(self, obj: ObjectItems, clusters: Sequence[Cluster], sims: _Pairs, threshold: float) -> None:
        answers = obj.answers
        n = len(answers)
        near = _drawn_near(sims, threshold)
        items, confirmed, chances, hits, agree_sum, agree_n, invented, lost = np.zeros((8, n))
        for cluster in clusters:
            size = len(cluster.members)
            # the answers with an item (of any label) overlapping a member: they drew something there
            drew_there = near[[sims.offsets[a] + i for a, i in cluster.members]].any(axis=0)
            chance = 1.0
            if size >= 2:
                members, block = _members_block(cluster, sims)
                confirmed[members] += 1.0
                agree_sum[members] += (block.sum(axis=1) - block.diagonal()) / (size - 1)
                agree_n[members] += 1.0
            else:
                a = cluster.members[0][0]
                members = np.array([a], dtype=np.intp)
                if n == 2 and not drew_there.any():  # a miss or an invention: resolved by the posterior
                    pair = (answers[a].worker, answers[1 - a].worker)
                    self.lone[pair] = self.lone.get(pair, 0.0) + 1.0
                    items[members] += 1.0
                    continue
                if n == 2:  # the partner drew something else there (another class, another extent)
                    confirmed[members] += 0.5
                    chance = 0.5
                elif not drew_there.any():
                    invented[members] += 1.0
            items[members] += 1.0
            inside = np.zeros(n, dtype=bool)
            inside[members] = True
            others = size - inside
            agreed = others > (n - 1) / 2  # more than half of the other workers drew it
            hits += agreed & inside
            chances += chance * agreed
            lost += agreed & ~inside & ~drew_there
        for a, answer in enumerate(answers):
            worker = answer.worker
            for table, values in zip(
                self.tables(), (items, confirmed, chances, hits, agree_sum, agree_n, invented, lost), strict=True
            ):
                self._bump(table, worker, float(values[a]))

    @staticmethod
    def rates(numerator: dict[str, float], denominator: dict[str, float], strength: float) -> dict[str, float]:
        total = sum(denominator.values())
        pooled = sum(numerator.values()) / total if total > 0 else 1.0
        rates: dict[str, float] = {}
        for w, count in denominator.items():
            mass = count + strength
            rates[w] = (numerator.get(w, 0.0) + strength * pooled) / mass if mass > 0 else pooled
        return rates
