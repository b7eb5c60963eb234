"""Consolidate boxes, keypoints and instance masks: match across workers, keep what the crowd agrees on, fuse.

:class:`ItemConsolidation` is the shared core of the geometric family (:mod:`tally.aggregation.base`):
the matching, the keep rule and the worker reliability below. One class per kind supplies the
similarity and the fusion: :class:`~tally.aggregation.box_consolidation.BoxConsolidation`,
:class:`~tally.aggregation.keypoint_consolidation.KeypointConsolidation` and
:class:`~tally.aggregation.instance_consolidation.InstanceConsolidation` (polygons: rasterise to
instances first). Per object:

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
  ``odds = Π miss_[other] / invention_[worker]`` (:meth:`ItemConsolidation.lone_item_is_real`).
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

**Reliability** (:meth:`ItemConsolidation.fit`). Over the batch, per worker, from objects with at
least two answers: *precision* — the share of the worker's items that another worker matched;
*recall* — the share of the clusters more than half of the other workers drew that the worker drew
too; *agreement* — the mean similarity of the worker's matched items to the other members; each
shrunk toward the batch's pooled rate by ``prior_strength`` pseudo-items. A worker with no items
(no chances) in such objects has no precision (recall): the pooled rate stands in for it in the
weights, and :attr:`~ItemConsolidation.precision_` (:attr:`~ItemConsolidation.recall_`) leaves the
worker out. *Inventions* — the worker's unmatched items no one drew anything over, per matched item —
and *misses* — the share of the clusters more than half of the others drew where the worker drew
nothing at all — are shrunk toward ``noise_rate`` and floored at it. A lone item of a two-answer
object (no one else drew anything there) counts as matched, and as its partner's miss, with the
posterior that it is real, found by EM from ½; an unmatched item of a two-answer object the partner
drew with another label counts half. The keep weight rises linearly from 0.01 at ``zero_precision``
(½: half the worker's items unmatched) to 1 at ``(1 - tolerance) × best precision`` and stays 1
above it: careful workers within ``tolerance`` of the best weigh exactly 1, so small differences
between careful workers never drop an item. The fusion weight is an inverse variance: taking
``1 - agreement`` as the worker's localisation error, it is
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

**Fuse.** Per kind: boxes by a robust weighted average of each edge with the batch's pooled edge
noise, borrowing the boxes a wrong-class worker drew on the object; keypoints by the weighted median
of each coordinate; instances by a pixel vote inside the cluster (each class's docstring).

**Confidence** of a kept item: ``support × agreement``, where agreement is the weighted mean
similarity between the pairs of its members. A lone item has no pair, so its agreement and confidence
are 0 — Ground Truth's built-in box consolidation likewise reports 0 for a one-worker answer.

**Reuse.** The fit matches every object with two answers or more. It keeps each object's similarity
matrix, which items other workers drew near and its clusters (:class:`FittedMatching`), and
:meth:`ItemConsolidation.predict` on a fitted object (the same object) starts from them: the
similarities and the clusters are not computed again. The clusters depend on the worker weights only
through the order in which answers are matched (:func:`~tally.aggregation.matching.matching_orders`),
so they are reused when the fitted weights give the same order as the weights the fit matched with,
and matched again (from the kept similarities) otherwise.

Reference: P. Welinder, P. Perona, "Online crowdsourcing: rating annotators and obtaining
cost-effective labels", CVPR Workshops 2010 (annotator models for bounding boxes); ensemble-boxes'
weighted boxes fusion (https://github.com/ZFTurbo/Weighted-Boxes-Fusion), the benchmark's reference.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Generic, Self, TypeVar

import numpy as np
import numpy.typing as npt

from .base import Consolidated, ItemAggregator, ObjectItems, WorkerItems
from .matching import Cluster, item_offsets, match_items, matching_orders
from .pairing import greedy_pairs

__all__ = [
    "EVIDENCE_FIELDS",
    "Consolidated",
    "CoordinateConsolidation",
    "FittedMatching",
    "ItemConsolidation",
    "ObjectItems",
    "WorkerItems",
    "check_coordinates",
    "stacked_members",
]

FloatArray = npt.NDArray[np.float64]
Prepared = TypeVar("Prepared")  # per-object work a kind prepares for matching and fusing (instances: their table)
_EPS = 1e-9


@dataclass(frozen=True)
class FittedMatching:
    """One object's matching from the fit's last round, kept for :meth:`ItemConsolidation.predict`."""

    observation: ObjectItems
    """The fitted object itself (the kept work is reused for this very object only)."""
    similarity: FloatArray
    """Similarities between all items of all answers, concatenated in answer order."""
    offsets: npt.NDArray[np.intp]
    """Where each answer's items start in ``similarity`` (``n_answers + 1``)."""
    clusters: list[Cluster]
    """The clusters, matched with the weights of :attr:`ItemConsolidation.matched_with_`."""
    near: npt.NDArray[np.bool_]
    """``(items, answers)``: whether an item overlaps an item (of any label) of each other answer."""

    @property
    def nbytes(self) -> int:
        """The arrays' bytes; the clusters' tuples and the record itself add about as much again
        (``bench/boxes.py --reuse``: 5.2 MiB in all for 1,000 box objects × 5 workers)."""
        return int(self.similarity.nbytes + self.offsets.nbytes + self.near.nbytes)


@dataclass
class ItemConsolidation(ItemAggregator, Generic[Prepared]):
    """Match, keep and fuse the geometric answers of a batch (module docstring): the core every kind
    shares; a kind supplies the similarity of its items, their fusion and its own last steps.

    Fitted statistics: ``worker_statistics_``, per worker ID the eight counts of
    :data:`EVIDENCE_FIELDS`; a job's next batch takes their sum as ``prior``."""

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
    n_iter: int = 1
    """Rounds of matching and re-estimating the weights in :meth:`fit` (later rounds match with the
    weights of the round before; a second round moved no tuning-crowd figure by more than 0.002)."""
    class_vote: bool = True
    """Where other workers drew the cluster's object with another label, keep it when everyone who drew
    something there holds ``keep_share`` of the weight (the object is there) and its members hold
    ``keep_share`` of theirs (its label wins); ``False``: the per-label share alone."""
    noise_rate: float = 0.05
    """Error rates at or below this are the noise of careful workers: in the two-answer keep rule a
    worker's inventions per confirmed item and its partner's miss rate are both taken as at least this,
    so two careful workers never drop each other's lone items."""

    precision_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker with items in objects of two answers or more (or in the prior), the (shrunk) share of
    its items another worker matched."""
    recall_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker with a chance to draw an agreed item (or chances in the prior), the (shrunk) share of
    the others' agreed items it drew too."""
    agreement_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker with matched items (or such in the prior), the (shrunk) mean similarity of its matched
    items to the other members."""
    worker_weights_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, its weight in the keep rule (1 for careful workers)."""
    fusion_weights_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, its weight when items are fused (inverse variance from agreement)."""
    invention_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, its unconfirmed items per confirmed item, shrunk toward ``noise_rate`` and at least
    ``noise_rate`` (the odds against its item being real, before anyone else is heard)."""
    miss_: dict[str, float] = field(default_factory=dict, init=False)
    """Per worker, the share of real items it leaves out, shrunk toward ``noise_rate`` and at least it."""
    worker_statistics_: dict[str, list[float]] = field(default_factory=dict, init=False)
    """Per worker, this batch's own counts behind the rates, without the prior, in the order of
    :data:`EVIDENCE_FIELDS`: sum them over batches and pass the sum as the next batch's ``prior``."""
    matched_with_: dict[str, float] = field(default_factory=dict, init=False)
    """The worker weights the fit's last matching round used (empty: every worker weighed 1)."""
    fitted_: dict[int, FittedMatching] = field(default_factory=dict, init=False, repr=False)
    """Per object the fit matched (two answers or more), by ``id`` of the object, its matching."""

    def __post_init__(self) -> None:
        if not 0.0 < self.min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in (0, 1], got {self.min_similarity}")
        if not 0.0 <= self.tolerance < 1.0:
            raise ValueError(f"tolerance must be in [0, 1), got {self.tolerance}")

    # ------------------------------------------------------------------ what a kind supplies
    @abstractmethod
    def _item_similarity(self, obj: ObjectItems, prepared: Prepared | None) -> FloatArray:
        """Similarities between all items of all answers, concatenated in answer order."""

    @abstractmethod
    def _check_answer(self, obj: ObjectItems, answer: WorkerItems) -> None:
        """Raise :class:`ValueError` naming the worker when the matcher cannot read its geometry."""

    @abstractmethod
    def _fuse(
        self, obj: ObjectItems, kept: Sequence[Cluster], weights: FloatArray, prepared: Prepared | None
    ) -> tuple[npt.NDArray[np.generic], list[int]]:
        """The kept clusters fused, and which kept clusters the geometry holds, in its order."""

    @abstractmethod
    def _no_items(self, obj: ObjectItems) -> npt.NDArray[np.generic]:
        """The geometry of a result without items."""

    def _start_fit(self) -> None:
        """Reset what the kind itself fits (boxes: the pooled edge noise)."""

    def _after_round(self, matched: Sequence[tuple[ObjectItems, list[Cluster], FittedMatching]]) -> None:
        """What the kind learns from one matching round of :meth:`fit` (boxes: the pooled edge noise)."""

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
        """The kind's last steps on an object with two answers or more (duplicates, borrowing): the
        kept clusters' order and their geometry in it."""
        return order, fused

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        observations: Sequence[ObjectItems],
        prior: Mapping[str, Sequence[float]] | None = None,
        known: Sequence[int | None] | None = None,
    ) -> Self:
        """Estimate every worker's rates and weights from how their items match across the batch.

        Args:
            observations: the batch's objects.
            prior: optional per worker counts from earlier batches (the sum of their
                :attr:`worker_statistics_`, :data:`EVIDENCE_FIELDS` order; other lengths are ignored),
                added to the batch's before the rates are taken; the first matching round already uses
                the weights they give.
            known: optional, per observation, the answer that is its known truth (gold: an annotation
                the labelling tool marks as ground truth), ``None`` for an object without one. Every
                other answer to a gold object is counted against the gold answer alone
                (:meth:`_Evidence.add_gold`): its items matched one to one to a gold item of the same
                label are confirmed, the gold items are its chances, an item where the gold answer drew
                nothing is an invention and a gold item it drew nothing over is lost. The gold answer
                itself is not counted, and a gold object is not matched (it is its gold answer).

        Example:
            Worker "c" drew a car no one else drew; with two others that is not kept. After 20
            earlier objects where "a" and "b" confirmed nothing and "c" everything, it is.

            >>> from tally.aggregation.box_consolidation import BoxConsolidation
            >>> car = lambda *b: np.array([b], dtype=float)
            >>> obj = ObjectItems(
            ...     (WorkerItems("a", (), np.zeros((0, 4))), WorkerItems("b", (), np.zeros((0, 4))),
            ...      WorkerItems("c", ("car",), car(10, 10, 50, 40))), width=100, height=60)
            >>> BoxConsolidation().fit([obj]).predict(obj).labels
            []
            >>> bad, good = [20, 0, 20, 0, 0, 0, 20, 20], [20, 20, 20, 20, 20, 20, 0, 0]
            >>> model = BoxConsolidation().fit([obj], {"a": bad, "b": bad, "c": good})
            >>> model.predict(obj).labels, model.worker_statistics_["c"]
            (['car'], [1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])
        """
        self.precision_, self.recall_, self.agreement_ = {}, {}, {}
        self.worker_weights_, self.fusion_weights_ = {}, {}
        self.invention_, self.miss_ = {}, {}
        self.fitted_ = {}
        earlier = _Evidence.of(prior or {})
        if earlier.items:
            self._set_weights(earlier)
        self._start_fit()
        tally = _Evidence()
        real: dict[tuple[str, str], float] = {}
        matched: list[tuple[ObjectItems, list[Cluster], FittedMatching]] = []
        gold = list(known) if known is not None else [None] * len(observations)
        for _ in range(max(1, self.n_iter)):
            tally = _Evidence()
            self.matched_with_ = dict(self.worker_weights_)
            matched = []
            for obj, column in zip(observations, gold, strict=True):
                if len(obj.answers) >= 2:
                    self._validate(obj)
                    similarity, offsets = self._similarity(obj, None), _offsets(obj)
                    if column is not None:
                        tally.add_gold(obj, similarity, offsets, column, self.min_similarity)
                        continue
                    clusters = self._cluster(obj, similarity, self.matched_with_)
                    near = _drawn_near(similarity, offsets, self.min_similarity)
                    fitted = FittedMatching(obj, similarity, offsets, clusters, near)
                    tally.add(obj, fitted)
                    matched.append((obj, clusters, fitted))
            real = self._set_weights(tally.plus(earlier))
            self._after_round(matched)
        self.fitted_ = {id(obj): fitted for obj, _, fitted in matched}
        self.worker_statistics_ = tally.resolved(real).as_dict()
        return self

    def lone_item_is_real(self, worker: str, *partners: str) -> float:
        """The posterior that an item only ``worker`` drew, where the other answers (``partners``) drew nothing, is real.

        Its odds are ``Π miss_[partner] / invention_[worker]``: the prior odds that the worker's item is
        real (matched items per invented one) times the likelihood ratio of each partner's silence (a
        partner leaves out a real item at its miss rate, and never draws another's invention). Both
        rates are at least ``noise_rate`` and shrunk toward it, so with one partner, workers the batch
        knows little about and careful workers give ½: what either drew is kept (the keep rule's tie
        stays); with two careful partners, 0.05² / 0.05: two of three must agree.

        Example:
            >>> from tally.aggregation.box_consolidation import BoxConsolidation
            >>> model = BoxConsolidation()
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
        precision = ev.rates(ev.confirmed, ev.items, self.prior_strength)
        recall = ev.rates(ev.hits, ev.chances, self.prior_strength)
        agreement = ev.rates(ev.agree_sum, ev.agree_n, self.prior_strength)
        # a worker without evidence weighs at the pooled rate, but has no rate of its own to report
        self.precision_ = {w: r for w, r in precision.items() if ev.items[w] > 0}
        self.recall_ = {w: r for w, r in recall.items() if ev.chances.get(w, 0.0) > 0}
        self.agreement_ = {w: r for w, r in agreement.items() if ev.agree_n.get(w, 0.0) > 0}
        best_p = max(precision.values(), default=1.0)
        best_error = max(1.0 - max(agreement.values(), default=1.0), 1e-3)
        full = (1.0 - self.tolerance) * best_p  # precision from which a worker weighs 1
        for w in workers:
            if full - self.zero_precision > 0.05:
                keep = (precision[w] - self.zero_precision) / (full - self.zero_precision)
            else:  # nobody in the batch is clearly better than the zero point: no basis to weigh
                keep = 1.0
            keep = float(np.clip(keep, 0.01, 1.0))
            # inverse variance, the localisation error taken as 1 - agreement
            error = max(1.0 - agreement[w], _EPS)
            fusion = min(1.0, (best_error / ((1.0 - self.tolerance) * error)) ** 2)
            self.worker_weights_[w] = keep
            self.fusion_weights_[w] = max(fusion, 0.01)

    # ------------------------------------------------------------------ predict
    def predict(self, observation: ObjectItems) -> Consolidated:
        """The kept and fused items of one object; an object :meth:`fit` matched (the same object)
        starts from its kept matching (module docstring, *Reuse*)."""
        return self._predict(observation, None)

    def _predict(self, obj: ObjectItems, prepared: Prepared | None) -> Consolidated:
        answers = obj.answers
        if not answers:
            return self._empty(obj)
        keep_w = np.array([self.worker_weights_.get(a.worker, 1.0) for a in answers])
        fuse_w = np.array([self.fusion_weights_.get(a.worker, 1.0) for a in answers])
        fitted = self.fitted_.get(id(obj))
        if fitted is not None and fitted.observation is obj:
            similarity, offsets, near = fitted.similarity, fitted.offsets, fitted.near
            clusters = fitted.clusters
            if not self._same_order(obj, self.matched_with_, self.worker_weights_):
                clusters = self._cluster(obj, similarity, self.worker_weights_)
        else:
            self._validate(obj)
            similarity, offsets = self._similarity(obj, prepared), _offsets(obj)
            clusters = self._cluster(obj, similarity, self.worker_weights_)
            near = _drawn_near(similarity, offsets, self.min_similarity)
        total = keep_w.sum()
        near_other = _drawn_near(similarity, offsets, self.min_similarity, [a.labels for a in answers])
        kept: list[Cluster] = []
        support: list[float] = []
        for cluster in clusters:
            inside = np.zeros(len(answers), dtype=bool)
            inside[[a for a, _ in cluster.members]] = True
            share = float(keep_w[inside].sum() / total)
            rows = [offsets[a] + i for a, i in cluster.members]
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
        agreement = [_agreement(c, similarity, offsets, fuse_w) for c in kept]
        geometry, order = self._fuse(obj, kept, fuse_w, prepared)
        if len(answers) > 1:
            order, geometry = self._refine(obj, clusters, kept, support, agreement, geometry, order, fuse_w)
        return Consolidated(
            labels=[kept[i].label for i in order],
            geometry=geometry,
            confidence=np.array([support[i] * agreement[i] for i in order], dtype=np.float64),
            support=np.array([support[i] for i in order], dtype=np.float64),
            agreement=np.array([agreement[i] for i in order], dtype=np.float64),
            workers=[tuple(answers[a].worker for a, _ in kept[i].members) for i in order],
            members=[kept[i].members for i in order],
        )

    # ------------------------------------------------------------------ internals
    def _validate(self, obj: ObjectItems) -> None:
        """Refuse geometry the matcher cannot read, naming the worker (never the values)."""
        if obj.similarity is not None:
            n = sum(len(a.labels) for a in obj.answers)
            if obj.similarity.shape != (n, n):
                raise ValueError(f"a similarity matrix of shape {obj.similarity.shape} for {n} items")
            return
        for answer in obj.answers:
            self._check_answer(obj, answer)

    def _similarity(self, obj: ObjectItems, prepared: Prepared | None) -> FloatArray:
        return obj.similarity if obj.similarity is not None else self._item_similarity(obj, prepared)

    def _cluster(self, obj: ObjectItems, similarity: FloatArray, weights: Mapping[str, float]) -> list[Cluster]:
        labels = [a.labels for a in obj.answers]
        return match_items(
            labels,
            similarity,
            keys=_keys(obj),
            weights=[weights.get(a.worker, 1.0) for a in obj.answers],
            min_similarity=self.min_similarity,
        )

    @staticmethod
    def _same_order(obj: ObjectItems, before: Mapping[str, float], after: Mapping[str, float]) -> bool:
        """Whether two sets of worker weights match ``obj``'s answers in the same order (same clusters)."""
        was = [before.get(a.worker, 1.0) for a in obj.answers]
        now = [after.get(a.worker, 1.0) for a in obj.answers]
        if was == now:
            return True
        labels = [a.labels for a in obj.answers]
        keys = _keys(obj)
        return matching_orders(labels, keys=keys, weights=was) == matching_orders(labels, keys=keys, weights=now)

    def _without_duplicates(
        self,
        kept: Sequence[Cluster],
        support: Sequence[float],
        agreement: Sequence[float],
        similar: FloatArray,
    ) -> list[int]:
        """Indices of the kept clusters that are not duplicates of a stronger one (module docstring);
        ``similar``: the similarities between the kept clusters' fused items."""
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

    def _empty(self, obj: ObjectItems) -> Consolidated:
        empty = np.zeros(0, dtype=np.float64)
        return Consolidated([], self._no_items(obj), empty, empty.copy(), empty.copy(), [], [])


@dataclass
class CoordinateConsolidation(ItemConsolidation[None]):
    """The core for kinds whose items are rows of :attr:`coordinates` numbers (boxes: 4, points: 2):
    the answers' check, the similarity of all items, the stacked fusion of each kept cluster and the
    drop of duplicates after it are the same; a kind supplies :meth:`_pairwise` and
    :meth:`_fuse_members`."""

    coordinates: ClassVar[int]
    """Numbers per item (a row of the geometry)."""

    @abstractmethod
    def _pairwise(self, obj: ObjectItems, a: FloatArray, b: FloatArray) -> FloatArray:
        """Pairwise similarity of the rows of ``a`` and ``b``."""

    @abstractmethod
    def _fuse_members(self, items: FloatArray, weights: FloatArray) -> npt.NDArray[np.generic]:
        """One item per cluster from the members ``(C, K, coordinates)`` and their weights ``(C, K)``."""

    def _item_similarity(self, obj: ObjectItems, prepared: None) -> FloatArray:
        items = np.concatenate([np.asarray(a.geometry).reshape(-1, self.coordinates) for a in obj.answers])
        return self._pairwise(obj, items, items)

    def _check_answer(self, obj: ObjectItems, answer: WorkerItems) -> None:
        check_coordinates(answer, self.coordinates)

    def _no_items(self, obj: ObjectItems) -> npt.NDArray[np.generic]:
        return np.zeros((0, self.coordinates), dtype=np.float64)

    def _fuse(
        self, obj: ObjectItems, kept: Sequence[Cluster], weights: FloatArray, prepared: None
    ) -> tuple[npt.NDArray[np.generic], list[int]]:
        if not kept:
            return np.zeros((0, self.coordinates)), []
        items, w = stacked_members(obj, kept, weights, self.coordinates)
        return self._fuse_members(items, w), list(range(len(kept)))

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
        items = np.asarray(fused, dtype=np.float64)
        order = self._without_duplicates(kept, support, agreement, self._pairwise(obj, items, items))
        return order, fused[order]


def check_coordinates(answer: WorkerItems, width: int) -> None:
    """Refuse an answer whose geometry is not ``(n, width)`` finite coordinates for its ``n`` labels,
    naming the worker (never the values)."""
    geometry = np.asarray(answer.geometry)
    n = len(answer.labels)
    if geometry.shape != (n, width) and not (n == 0 and geometry.size == 0):
        raise ValueError(f"worker {answer.worker}: {n} labels but geometry of shape {geometry.shape}")
    if not np.isfinite(geometry).all():
        raise ValueError(
            f"worker {answer.worker}: a NaN or infinite coordinate; drop such items first "
            "(boxes_from_ltwh does for boxes)"
        )


def stacked_members(
    obj: ObjectItems, kept: Sequence[Cluster], weights: FloatArray, width: int
) -> tuple[FloatArray, FloatArray]:
    """The kept clusters' members' coordinates ``(C, K, width)`` and weights ``(C, K)`` (zero weight:
    padding, a cluster smaller than the largest), for the fusions that take clusters at once."""
    size = max(len(c.members) for c in kept)
    items = np.zeros((len(kept), size, width))
    w = np.zeros((len(kept), size))
    for k, cluster in enumerate(kept):
        for m, (a, i) in enumerate(cluster.members):
            items[k, m] = np.asarray(obj.answers[a].geometry)[i]
            w[k, m] = weights[a]
    return items, w


def _keys(obj: ObjectItems) -> list[str]:
    """Distinct sort keys of the answers for the matching (worker, then position)."""
    return [f"{a.worker}\x00{i:06d}" for i, a in enumerate(obj.answers)]


def _offsets(obj: ObjectItems) -> npt.NDArray[np.intp]:
    return item_offsets([a.labels for a in obj.answers])


def _members_block(
    cluster: Cluster, similarity: FloatArray, offsets: npt.NDArray[np.intp]
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """The answers of a cluster's members and the similarities between the members."""
    answers = np.array([a for a, _ in cluster.members], dtype=np.intp)
    rows = np.array([offsets[a] + i for a, i in cluster.members], dtype=np.intp)
    return answers, similarity[np.ix_(rows, rows)]


def _agreement(cluster: Cluster, similarity: FloatArray, offsets: npt.NDArray[np.intp], weights: FloatArray) -> float:
    """Weighted mean similarity over the pairs of a cluster's members; 0 for a lone item."""
    if len(cluster.members) < 2:
        return 0.0
    answers, block = _members_block(cluster, similarity, offsets)
    pair_weights = np.triu(np.outer(weights[answers], weights[answers]), k=1)
    return float((pair_weights * block).sum() / pair_weights.sum())


def _drawn_near(
    similarity: FloatArray,
    offsets: npt.NDArray[np.intp],
    threshold: float,
    labels: Sequence[Sequence[Hashable]] | None = None,
) -> npt.NDArray[np.bool_]:
    """``(items, answers)``: whether an item overlaps (similarity at least ``threshold``) an item of
    another answer, per answer — of any label, or with ``labels`` (per answer) of another label only."""
    n = len(offsets) - 1
    overlap = similarity >= threshold
    if labels is not None:
        flat = [label for answer in labels for label in answer]
        codes = {label: k for k, label in enumerate(dict.fromkeys(flat))}
        ids = np.array([codes[label] for label in flat], dtype=np.intp)
        overlap = overlap & (ids[:, None] != ids[None, :])
    near = np.zeros((int(offsets[-1]), n), dtype=bool)
    for b in range(n):
        lo, hi = int(offsets[b]), int(offsets[b + 1])
        if hi > lo:
            near[:, b] = overlap[:, lo:hi].any(axis=1)
            near[lo:hi, b] = False
    return near


EVIDENCE_FIELDS = ("items", "confirmed", "chances", "hits", "agree_sum", "agree_n", "invented", "lost")
"""The per-worker counts of :attr:`ItemConsolidation.worker_statistics_`: items drawn, items confirmed
(another worker matched them; a lone item of a two-answer object with the posterior that it is real),
chances to draw an agreed item and hits, the sum and number of agreement values of matched items,
items invented (unconfirmed, and no other worker drew anything there) and agreed items lost (left
out with nothing drawn there)."""


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

    def add(self, obj: ObjectItems, fitted: FittedMatching) -> None:
        answers = obj.answers
        n = len(answers)
        offsets, near = fitted.offsets, fitted.near
        items, confirmed, chances, hits, agree_sum, agree_n, invented, lost = np.zeros((8, n))
        for cluster in fitted.clusters:
            size = len(cluster.members)
            # the answers with an item (of any label) overlapping a member: they drew something there
            drew_there = near[[offsets[a] + i for a, i in cluster.members]].any(axis=0)
            chance = 1.0
            if size >= 2:
                members, block = _members_block(cluster, fitted.similarity, offsets)
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

    def add_gold(
        self, obj: ObjectItems, similarity: FloatArray, offsets: npt.NDArray[np.intp], gold: int, threshold: float
    ) -> None:
        """Count every answer but ``gold`` against the gold answer (:meth:`ItemConsolidation.fit`'s
        ``known``): items matched greedily, the most similar pair first, one to one to a gold item of
        the same label at ``threshold`` or more."""
        answers = obj.answers
        lo_g, hi_g = int(offsets[gold]), int(offsets[gold + 1])
        gold_labels = answers[gold].labels
        for a, answer in enumerate(answers):
            if answer.worker == answers[gold].worker:
                continue
            lo, hi = int(offsets[a]), int(offsets[a + 1])
            block = similarity[lo:hi, lo_g:hi_g]
            overlap = block >= threshold
            same = np.array([[x == y for y in gold_labels] for x in answer.labels], dtype=bool).reshape(overlap.shape)
            pairs = sorted(
                ((float(block[i, j]), int(i), int(j)) for i, j in zip(*np.nonzero(overlap & same), strict=True)),
                key=lambda p: (-p[0], p[1], p[2]),
            )
            matched = greedy_pairs(pairs)
            mine, theirs = set(matched), set(matched.values())
            agree = 0.0
            for i, j in matched.items():  # in the order kept: the sum as before
                agree += float(block[i, j])
            invented = sum(1 for i in range(hi - lo) if i not in mine and not overlap[i].any())
            lost = sum(1 for j in range(hi_g - lo_g) if j not in theirs and not overlap[:, j].any())
            counts = (hi - lo, len(mine), hi_g - lo_g, len(mine), agree, len(mine), invented, lost)
            for table, value in zip(self.tables(), counts, strict=True):
                self._bump(table, answer.worker, float(value))

    @staticmethod
    def rates(numerator: dict[str, float], denominator: dict[str, float], strength: float) -> dict[str, float]:
        total = sum(denominator.values())
        pooled = sum(numerator.values()) / total if total > 0 else 1.0
        rates: dict[str, float] = {}
        for w, count in denominator.items():
            mass = count + strength
            rates[w] = (numerator.get(w, 0.0) + strength * pooled) / mass if mass > 0 else pooled
        return rates
