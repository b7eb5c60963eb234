"""Weighted voting on text spans (named entities): clusters of overlapping spans, one entity each.

Each worker marks spans ``(label, start, end)`` in a text: character offsets, ``end`` exclusive (a
span covers ``text[start:end]``), as ``<crowd-entity-annotation>`` writes ``startOffset`` and
``endOffset``. No I/O and no Ground Truth field names here: labels and workers are integer indices.

**Vote on one object** (:meth:`SpanVote.vote`):

1. *Clusters.* Spans of different workers are grouped by character overlap, greedily from the most
   similar pair (Jaccard of their character sets, largest first) with complete linkage: a cluster holds
   at most one span per worker, and every two of its spans overlap by more than ``min_jaccard``. Labels
   do not matter for grouping (workers who disagree on the label of the same words are one cluster).
   Because every two spans of a cluster overlap, they share at least one character.
2. *Keep.* A cluster becomes an entity when the weight of its workers reaches half the weight of all
   workers who answered the object (an answer with no spans counts: it says "no entity here"). So with
   one worker every span is kept; with two equally weighted workers, a span either of them marked is kept.
3. *Label* by weighted vote among the cluster's spans; a tie goes to the lower label index.
4. *Start and end* each by weighted mode over the cluster's spans; when several values tie for the
   mode, the weighted median of all the cluster's values (the lowest value with at least half the
   weight at or below it). Since every two spans overlap, the chosen start is before the chosen end.
5. *Confidence*: the weight of the cluster's workers who gave the winning label over the weight of all
   workers who answered the object, in [0, 1]. ``workers`` lists those workers.
6. *Overlaps.* ``<crowd-entity-annotation>`` lets a worker select the whole of an earlier highlight
   again (to give it another label) but not a part of it ("You can select all of a previously
   highlighted text, but not a portion of it", its instructions). So by default
   (``allow_overlap=False``) entities are accepted from the best supported down (then higher confidence,
   then earlier start), and an entity that overlaps an accepted one without having exactly its start and
   end is dropped. ``allow_overlap=True`` keeps every entity.

**Worker weights** (:meth:`SpanVote.fit`): on every object with two or more answers, each worker's
spans are compared with the vote of the *other* workers (leave-one-out: the object's clusters, built once
from all answers, without this worker's spans): matched one-to-one by the same
label and the largest Jaccard, each match credited with its Jaccard; two empty answers agree fully
(credit 1). A worker's agreement is the batch's soft F1, ``2 * credit / (own spans + consensus
spans)`` summed over their objects; the weight shrinks it toward the crowd's mean agreement with
``shrinkage`` pseudo-objects: ``(n * f1 + shrinkage * mean) / (n + shrinkage)``. Workers without
evidence get the mean. ``n_iter`` rounds: the first leave-one-out votes use equal weights, later ones
the weights of the round before. Earlier batches' sums (``prior``: credit, spans compared and objects
per worker, the sum of their ``worker_statistics_``) are added to the batch's in every round, and then
give the first round's weights.

**Reuse.** The clusters depend on the spans alone, not on the weights: :meth:`SpanVote.fit` clusters
every object once and keeps the clusters, and :meth:`SpanVote.predict` on a fitted object (the same
object) votes them with the fitted weights instead of clustering again.

References:
    AWS, "Annotation consolidation" (Ground Truth's built-in NER consolidation clusters spans by
    Jaccard similarity, takes boundaries by mode, the median when there is no clear mode, and the label
    by majority).
    A. Rodrigues, F. Pereira and B. Ribeiro, "Sequence labeling with multiple annotators", Machine
    Learning 95(2), 2014 (crowd NER; span-level F1 as the agreement measure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Self

import numpy as np
import numpy.typing as npt

from .base import Entity, Span, SpanAggregator, WorkerSpans

__all__ = ["Entity", "Span", "SpanVote", "WorkerSpans", "span_f1"]

_EPS = 1e-9


@dataclass(frozen=True)
class _Prepared:
    workers: tuple[int, ...]
    clusters: list[list[tuple[int, int, int, int]]]  # spans (start, end, label, worker) per cluster


@dataclass
class _Cluster:
    members: list[int]  # indices into the object's span list
    workers: set[int]


def _jaccard(a0: int, a1: int, b0: int, b1: int) -> float:
    inter = min(a1, b1) - max(a0, b0)
    if inter <= 0:
        return 0.0
    return inter / (max(a1, b1) - min(a0, b0))


def _weighted_choice(values: list[int], weights: Sequence[float]) -> int:
    """Weighted mode; ties for the mode go to the weighted median of all values."""
    if values.count(values[0]) == len(values):  # the common case: everyone agrees
        return values[0]
    totals: dict[int, float] = {}
    for v, w in zip(values, weights, strict=True):
        totals[v] = totals.get(v, 0.0) + w
    best = max(totals.values())
    modes = [v for v, t in totals.items() if t >= best - _EPS]
    if len(modes) == 1:
        return modes[0]
    half = sum(totals.values()) / 2.0
    acc = 0.0
    for v in sorted(totals):
        acc += totals[v]
        if acc >= half - _EPS:
            return v
    return max(totals)  # pragma: no cover - the loop always returns


def _nonempty(spans: Iterable[Span]) -> list[Span]:
    """The spans that cover a character, each once, in order."""
    return sorted({s for s in spans if s[2] > s[1]})


def span_f1(predicted: Sequence[Span], reference: Sequence[Span]) -> tuple[float, int, int]:
    """Soft span agreement: ``(credit, len(predicted), len(reference))``.

    Spans are matched one-to-one among equal labels, the most similar pairs first (character Jaccard),
    each match credited with its Jaccard. Soft F1 is ``2 * credit / (len(predicted) + len(reference))``;
    an exact match of every span gives 1. Two empty lists return ``(1.0, 1, 1)``: full agreement that
    there is nothing to mark.

    Example:
        >>> span_f1([(0, 0, 4), (1, 5, 6)], [(0, 0, 4), (1, 5, 7)])
        (1.5, 2, 2)
    """
    if not predicted and not reference:
        return 1.0, 1, 1
    pairs = []
    for i, (la, a0, a1) in enumerate(predicted):
        for j, (lb, b0, b1) in enumerate(reference):
            if la == lb:
                jac = _jaccard(a0, a1, b0, b1)
                if jac > 0:
                    pairs.append((-jac, i, j))
    pairs.sort()
    used_p: set[int] = set()
    used_r: set[int] = set()
    credit = 0.0
    for neg, i, j in pairs:
        if i not in used_p and j not in used_r:
            used_p.add(i)
            used_r.add(j)
            credit -= neg
    return credit, len(predicted), len(reference)


@dataclass
class SpanVote(SpanAggregator):
    """Weighted span vote for named entities, with worker weights learnt from leave-one-out agreement.

    See the module docstring for the rules. Fitted statistics: ``worker_statistics_``, this batch's
    ``(n_workers, 3)`` ``(credit, spans compared, objects)``; a job's next batch takes their sum as
    ``prior``.

    Example:
        Three workers mark "Sift 3 cups of flour" (labels: 0 verb, 1 number, 2 object). Worker 2
        marks the object one character short and misses the number, so it weighs a little less
        (the number gets 0.68 of the weight, not 2/3).

        >>> objects = [[
        ...     (0, [(0, 0, 4), (1, 5, 6), (2, 15, 20)]),
        ...     (1, [(0, 0, 4), (1, 5, 6), (2, 15, 20)]),
        ...     (2, [(0, 0, 4), (2, 15, 19)]),
        ... ]]
        >>> sv = SpanVote().fit(objects)
        >>> [(e.label, e.start, e.end, round(e.confidence, 2), e.workers) for e in sv.predict(objects[0])]
        [(0, 0, 4, 1.0, (0, 1, 2)), (1, 5, 6, 0.68, (0, 1)), (2, 15, 20, 1.0, (0, 1, 2))]
    """

    min_jaccard: float = 0.0
    """Two spans can share a cluster only when their character Jaccard is above this (0: any overlap)."""

    allow_overlap: bool = False
    """Keep entities that partly overlap a better supported one (``<crowd-entity-annotation>`` does not
    allow that; identical extents with different labels are always kept)."""

    shrinkage: float = 3.0
    """Pseudo-objects of the crowd's mean agreement added to each worker's own record."""

    n_iter: int = 2
    """Rounds of weight estimation (the first with equal weights)."""

    min_weight: float = 1e-3
    """Floor of a fitted weight, so that an object answered only by zero-weight workers still votes."""

    worker_weights_: npt.NDArray[np.float64] = field(init=False, repr=False)
    """``(n_workers,)`` fitted weight per worker index (the mean for workers without evidence)."""

    worker_agreement_: npt.NDArray[np.float64] = field(init=False, repr=False)
    """``(n_workers,)`` each worker's unshrunk soft F1 against the leave-one-out vote (NaN without
    evidence)."""

    worker_evidence_: npt.NDArray[np.int_] = field(init=False, repr=False)
    """``(n_workers,)`` number of objects each worker was compared on (with the prior's)."""

    worker_statistics_: npt.NDArray[np.float64] = field(init=False, repr=False)
    """``(n_workers, 3)`` this batch's own ``(credit, spans compared, objects)`` per worker, without
    the prior: sum them over batches and pass the sum as the next batch's ``prior``."""

    _fitted: dict[int, tuple[Sequence[WorkerSpans], _Prepared]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Per fitted object (by identity, the object kept alive with it), its clusters."""

    def vote(self, answers: Sequence[WorkerSpans], weights: Mapping[int, float] | None = None) -> list[Entity]:
        """Vote one object's answers into entities with the given weights (no fit), sorted by start, end
        and label.

        Args:
            answers: one ``(worker, spans)`` per worker who answered the object.
            weights: weight per worker; missing workers (or ``None``) weigh 1.
        """
        return self._decide(self._prepare(answers), weights)

    def _prepare(self, answers: Sequence[WorkerSpans]) -> _Prepared:
        """The object's workers, its spans ``(start, end, label, worker)`` and their clusters (weight-free)."""
        workers = tuple(dict.fromkeys(w for w, _ in answers))
        spans = sorted({(s, e, label, w) for w, ss in answers for label, s, e in ss if e > s})
        members = [[spans[i] for i in cl.members] for cl in self._cluster(spans)]
        return _Prepared(workers, members)

    def _decide(
        self, prepared: _Prepared, weights: Mapping[int, float] | None, exclude: int | None = None
    ) -> list[Entity]:
        """Entities from prepared clusters; ``exclude``: leave that worker out (leave-one-out)."""
        weight = {w: (1.0 if weights is None else float(weights.get(w, 1.0))) for w in prepared.workers if w != exclude}
        total = sum(weight.values())
        if total <= 0:
            weight = dict.fromkeys(weight, 1.0)
            total = float(len(weight))
        entities: list[tuple[float, Entity]] = []
        for cluster in prepared.clusters:
            members = cluster if exclude is None else [m for m in cluster if m[3] != exclude]
            if not members:
                continue
            ws = [weight[m[3]] for m in members]
            support = sum(ws)
            if support < 0.5 * total - _EPS:
                continue
            label = members[0][2]
            label_weight = {label: support}
            if any(m[2] != label for m in members):
                label_weight = {}
                for m, w in zip(members, ws, strict=True):
                    label_weight[m[2]] = label_weight.get(m[2], 0.0) + w
                top = max(label_weight.values())
                label = min(lab for lab, t in label_weight.items() if t >= top - _EPS)
            start = _weighted_choice([m[0] for m in members], ws)
            end = _weighted_choice([m[1] for m in members], ws)
            agreeing = tuple(sorted(m[3] for m in members if m[2] == label))
            conf = min(1.0, label_weight[label] / total)
            entities.append((support, Entity(label, start, end, conf, agreeing)))
        if not self.allow_overlap:
            entities = self._drop_overlaps(entities)
        return sorted((e for _, e in entities), key=lambda e: (e.start, e.end, e.label))

    def _cluster(self, spans: list[tuple[int, int, int, int]]) -> list[_Cluster]:
        n = len(spans)
        linked: dict[tuple[int, int], float] = {}
        # spans are sorted by start: once a later span starts at or after this one's end, none overlaps
        for i in range(n):
            s0, e0, _, w0 = spans[i]
            for j in range(i + 1, n):
                s1, e1, _, w1 = spans[j]
                if s1 >= e0:
                    break
                if w0 != w1:
                    jac = _jaccard(s0, e0, s1, e1)
                    if jac > self.min_jaccard:
                        linked[(i, j)] = jac
        owner = list(range(n))
        clusters = {i: _Cluster([i], {spans[i][3]}) for i in range(n)}
        for (i, j), _ in sorted(linked.items(), key=lambda kv: (-kv[1], kv[0])):
            a, b = owner[i], owner[j]
            if a == b:
                continue
            ca, cb = clusters[a], clusters[b]
            if ca.workers & cb.workers:
                continue
            if not all((min(x, y), max(x, y)) in linked for x in ca.members for y in cb.members):
                continue
            ca.members += cb.members
            ca.workers |= cb.workers
            for m in cb.members:
                owner[m] = a
            del clusters[b]
        return [clusters[k] for k in sorted(clusters)]

    @staticmethod
    def _drop_overlaps(entities: list[tuple[float, Entity]]) -> list[tuple[float, Entity]]:
        kept: list[tuple[float, Entity]] = []
        for support, ent in sorted(entities, key=lambda se: (-se[0], -se[1].confidence, se[1].start, se[1].end)):
            clash = any(
                ent.start < k.end and k.start < ent.end and (ent.start, ent.end) != (k.start, k.end) for _, k in kept
            )
            if not clash and all((k.label, k.start, k.end) != (ent.label, ent.start, ent.end) for _, k in kept):
                kept.append((support, ent))
        return kept

    def fit(
        self,
        observations: Sequence[Sequence[WorkerSpans]],
        prior: npt.ArrayLike | None = None,
        known: Sequence[int | None] | None = None,
    ) -> Self:
        """Learn each worker's weight from their agreement with the others over the batch.

        Args:
            observations: per object, one ``(worker, spans)`` per answering worker. Worker indices are
                ``0..n_workers-1`` with ``n_workers`` one more than the largest index seen (or the
                number of rows of ``prior``, if larger).
            prior: optional ``(n_workers, 3)`` per worker ``(credit, spans compared, objects)`` from
                earlier batches (the sum of their :attr:`worker_statistics_`). They are added to this
                batch's sums in every round, and the first round's leave-one-out votes use the weights
                they alone give instead of equal weights.
            known: optional, per observation, the index in it of the answer that is its known truth
                (gold: an annotation the labelling tool marks as ground truth), ``None`` for an
                object without one. On a gold object every other answer is compared with the gold
                answer's spans alone (:func:`span_f1`: matched one to one by label and Jaccard, a span
                identical to a gold span credited 1, a span the gold answer lacks or a gold span it
                lacks counted with no credit), once, instead of with the others' vote in every round;
                the gold answer itself is not judged.

        Returns:
            self

        Example:
            Worker 2 has agreed perfectly on 10 earlier objects, workers 0 and 1 on none; on this
            object 0 and 1 outvote 2 without the prior, not with it.

            >>> obj = [(0, [(0, 0, 4)]), (1, [(0, 0, 4)]), (2, [(1, 0, 4)])]
            >>> [e.label for e in SpanVote().fit_predict([obj])[0]]
            [0]
            >>> sv = SpanVote().fit([obj], prior=[[0, 10, 10], [0, 10, 10], [10, 10, 10]])
            >>> [e.label for e in sv.predict(obj)], sv.worker_statistics_[2].tolist()
            ([1], [0.0, 2.0, 1.0])
        """
        prepared = [self._prepare(obj) for obj in observations]
        self._fit_prepared(observations, prepared, prior, known)
        self._fitted = {id(obj): (obj, prep) for obj, prep in zip(observations, prepared, strict=True)}
        return self

    def _fit_prepared(
        self,
        objects: Sequence[Sequence[WorkerSpans]],
        prepared: Sequence[_Prepared],
        prior: npt.ArrayLike | None = None,
        known: Sequence[int | None] | None = None,
    ) -> None:
        n_workers = 1 + max((w for obj in objects for w, _ in obj), default=-1)
        gold = list(known) if known is not None else [None] * len(objects)
        extra = np.zeros((n_workers, 3))
        if prior is not None:
            given = np.asarray(prior, dtype=np.float64).reshape(-1, 3)
            if not np.isfinite(given).all() or (given < 0).any():
                raise ValueError("prior must be finite and non-negative")
            n_workers = max(n_workers, given.shape[0])
            extra = np.zeros((n_workers, 3))
            extra[: given.shape[0]] = given
        weights = self._weights(extra[:, 0], extra[:, 1], extra[:, 2])[0] if extra.any() else np.ones(n_workers)
        agreement = np.full(n_workers, np.nan)
        # each worker's own spans per object, as (label, start, end)
        own_spans = [
            {w: _nonempty(ss) for w, ss in obj} if len(prep.workers) >= 2 and column is None else {}
            for obj, prep, column in zip(objects, prepared, gold, strict=True)
        ]
        held = self._gold_counts(objects, gold, n_workers)  # the same in every round
        own = np.zeros((n_workers, 3))
        for _ in range(max(1, self.n_iter)):
            own = held.copy()  # credit, spans compared, objects
            current = {w: float(weights[w]) for w in range(n_workers)}
            for prep, spans_of in zip(prepared, own_spans, strict=True):
                for w in prep.workers if spans_of else ():
                    # the others' vote: the object's clusters without this worker's spans
                    consensus = [(e.label, e.start, e.end) for e in self._decide(prep, current, exclude=w)]
                    c, n_own, n_ref = span_f1(spans_of[w], consensus)
                    own[w] += (c, n_own + n_ref, 1.0)
            total = own + extra
            weights, agreement = self._weights(total[:, 0], total[:, 1], total[:, 2])
        self.worker_weights_ = weights
        self.worker_agreement_ = agreement
        self.worker_evidence_ = np.rint(own[:, 2] + extra[:, 2]).astype(np.int_)
        self.worker_statistics_ = own

    @staticmethod
    def _gold_counts(
        objects: Sequence[Sequence[WorkerSpans]], gold: Sequence[int | None], n_workers: int
    ) -> npt.NDArray[np.float64]:
        """``(n_workers, 3)``: every answer but the gold one of each gold object compared with the gold
        answer's spans alone (:meth:`fit`'s ``known``); the gold worker's other answers to it are not
        judged either."""
        counts = np.zeros((n_workers, 3))
        for obj, column in zip(objects, gold, strict=True):
            if column is None:
                continue
            truth_worker, truth = obj[column]
            reference = _nonempty(truth)
            for k, (w, spans) in enumerate(obj):
                if k == column or w == truth_worker:
                    continue
                c, n_own, n_ref = span_f1(_nonempty(spans), reference)
                counts[w] += (c, n_own + n_ref, 1.0)
        return counts

    def _weights(
        self, credit: npt.NDArray[np.float64], size: npt.NDArray[np.float64], evidence: npt.NDArray[np.float64]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Shrunk weights and raw agreement from summed credit, spans compared and objects."""
        seen = (evidence > 0) & (size > 0)
        agreement = np.full(credit.shape, np.nan)
        agreement[seen] = 2.0 * credit[seen] / size[seen]
        mean = float(agreement[seen].mean()) if seen.any() else 1.0
        shrunk = np.full(credit.shape, mean)
        shrunk[seen] = (evidence[seen] * agreement[seen] + self.shrinkage * mean) / (evidence[seen] + self.shrinkage)
        return np.maximum(shrunk, self.min_weight), agreement

    def predict(self, observation: Sequence[WorkerSpans]) -> list[Entity]:
        """Vote one object with the fitted weights (workers not seen in :meth:`fit` get the mean); an
        object :meth:`fit` saw (the same object) is voted from the clusters the fit built."""
        kept = self._fitted.get(id(observation))
        prepared = kept[1] if kept is not None and kept[0] is observation else self._prepare(observation)
        fitted = self.worker_weights_
        default = float(fitted.mean()) if fitted.size else 1.0
        weights = {w: (float(fitted[w]) if w < fitted.size else default) for w, _ in observation}
        return self._decide(prepared, weights)
