"""The ranking adapter (``crowd-text-ranking``): each dimension's rankings combined into one, the workers weighed by
their agreement over the batch (:class:`tally.aggregation.ranking.MallowsConsensus`, a weighted
Kemeny consensus; a worker who reverses the scale counts turned round), with a confidence per response.

``crowd-text-ranking`` submits ``{"ordinalRankingDimensions": [{"name": "Clarity", "responseRankings":
[3, 1, 2]}, ...]}``: per dimension, a rank per response (1 best; equal ranks are ties where the
dimension has ``allowTie``). It is recognised at the top of the form output, as AWS's notebook reads it,
or under the element's name. A form field of kind ``ranking`` (values ``{dimension: ranks}``) goes
through :func:`tally.tasks.fields.consolidate_field` with the template's ``allowTie`` per dimension.

Each dimension is its own model. An answer is rejected, with its reason, when a ranking is not a list
of whole numbers from 1 to the number of responses, or ranks another number of responses than most
answers to the object. **Ties**: a dimension allows them when the template says so, or (without the
template) when a worker of the batch tied two responses in it; where ties are not allowed, the combined
ranking has none (equal scores are ordered by the plain Borda count, then the response's position).

Label (``content[<attr>]``)::

    {"dimensions": [{"name": "Clarity", "ranks": [2, 1, 3], "order": [1, 0, 2],
                     "confidence": [0.83, 0.83, 1.0], "agreement": 0.78, "ties": false}, ...],
     "responses": 3, "confidence": 0.89,
     "answers": [{"workerId": "w1", "ranks": {"Clarity": [3, 1, 2], ...}}, ...],
     "worker-quality": [{"workerId": "w1", "reliability": {"Clarity": 0.81}, "weight": {"Clarity": 1.45}}, ...]}

Per dimension: ``ranks`` per response (1 best; ties share the better rank: 1, 2, 2, 4), ``order`` the
responses best first, ``confidence`` per response (the weighted share of workers who agree with its
place next to its neighbours, the smaller side; 1/2 where nobody compared it with a neighbour),
``agreement`` the weighted share of the workers' pairs agreeing with the combined order (``null`` when
no pair is strictly ordered). The object's ``confidence`` is the mean of its responses' confidences
over its dimensions. ``answers`` keeps every worker's ranks. ``worker-quality``, per dimension:
``reliability`` (the share of the worker's pairs agreeing with the others' consensus, with the prior)
and ``weight`` (its log-odds; negative for a worker who reverses the scale); ``null`` for a worker who
never ranked an object another worker ranked too.

Across batches (:mod:`tally.worker_store`): per worker and dimension (the key ``<worker ID>\\t<dimension>``),
``(concordant, discordant)`` pair weights, under ``ranking/2``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...aggregation.ranking import STATISTICS, MallowsConsensus
from ...errors import AnswerError, ObjectError
from ...gt.answers import RANKING_KEY, AnswerIssue
from ...worker_store import WorkerStatistics
from ..base import DIGITS, figure, shown_label
from ..fields import FieldBounds, KindTask
from ..kind import WorkerQuality
from . import RankedDimension, RankingAnswer, RankingResult, RankingShape

__all__ = ["RANKINGS", "RankingSummary", "Rankings", "read_dimensions", "statistics_key"]

_BATCH_FIGURES = ("reliability", "weight")
Ranks = Mapping[str, tuple[int, ...]]


def statistics_key(worker: str, dimension: str) -> str:
    """The worker table's key of one worker's statistics in one dimension."""
    return f"{worker}\t{dimension}"


def read_dimensions(element: Mapping[str, Any]) -> dict[str, Any]:
    """``crowd-text-ranking``'s output → ``{dimension: rankings as given}`` (a form field's value).

    Example:
        >>> read_dimensions({"ordinalRankingDimensions": [{"name": "Clarity", "responseRankings": [2, 1]}]})
        {'Clarity': [2, 1]}
    """
    dimensions = element.get(RANKING_KEY)
    if not isinstance(dimensions, list):
        raise AnswerError(f"no '{RANKING_KEY}' list")
    out: dict[str, Any] = {}
    for dimension in dimensions:
        if not (isinstance(dimension, dict) and isinstance(dimension.get("name"), str)):
            raise AnswerError("a ranking dimension without a name")
        out[dimension["name"]] = dimension.get("responseRankings")
    return out


@dataclass(frozen=True)
class RankingSummary:
    """One object's rankings: ``(worker, {dimension: ranks})`` per usable answer; ``responses``: how
    many responses each ranks."""

    answers: tuple[tuple[str, Ranks], ...]
    responses: int


@dataclass
class _Dimension:
    name: str
    model: MallowsConsensus
    ties: bool
    objects: dict[str, int]


@dataclass
class RankingModel:
    """A fitted batch: one consensus per dimension and the worker indices."""

    dimensions: list[_Dimension]
    workers: dict[str, int]
    measured: dict[str, np.ndarray]  # per dimension: per worker, any evidence (batch or prior)
    batch_figures: tuple[str, ...] = _BATCH_FIGURES

    def label(self, object_id: str, summary: RankingSummary) -> tuple[dict[str, Any], dict[str, Any], float]:
        out: list[RankedDimension] = []
        confidences: list[float] = []
        used = {d for _, ranks in summary.answers for d in ranks}
        for dim in self.dimensions:
            if dim.name not in used or object_id not in dim.objects:
                continue
            m = dim.model
            t = dim.objects[object_id]
            k = summary.responses
            order = [int(i) for i in m.order_[t] if i >= 0]
            if dim.ties:
                ranks = [int(r) for r in m.ranks_[t, :k]]
            else:
                position = {item: p + 1 for p, item in enumerate(order)}
                ranks = [position[i] for i in range(k)]
            item_confidence = [round(float(c), DIGITS) for c in m.confidence_[t, :k]]
            agreement = float(m.agreement_[t])
            confidences.extend(item_confidence)
            out.append(
                RankedDimension(
                    dim.name,
                    tuple(ranks),
                    tuple(order),
                    tuple(item_confidence),
                    None if np.isnan(agreement) else figure(agreement),
                    dim.ties,
                )
            )
        confidence = round(float(np.mean(confidences)), DIGITS) if confidences else 0.0
        answers = tuple(RankingAnswer(w, ranks) for w, ranks in summary.answers)
        quality = tuple(self._quality(w, [d.name for d in out]) for w, _ in summary.answers)
        result = RankingResult(tuple(out), summary.responses, confidence, answers, quality)
        return result.to_gt(), result.metadata(), confidence

    def _quality(self, worker: str, names: Sequence[str]) -> WorkerQuality:
        k = self.workers[worker]
        reliability: dict[str, float | None] = {}
        weight: dict[str, float | None] = {}
        for dim in self.dimensions:
            if dim.name not in names:
                continue
            seen = bool(self.measured[dim.name][k])
            reliability[dim.name] = figure(float(dim.model.reliability_[k])) if seen else None
            weight[dim.name] = figure(float(dim.model.weights_[k])) if seen else None
        return WorkerQuality(worker, (("reliability", reliability), ("weight", weight)))

    def statistics(self) -> WorkerStatistics:
        out: WorkerStatistics = {}
        for dim in self.dimensions:
            stats = dim.model.worker_statistics_
            for w, k in self.workers.items():
                if stats[k].any():
                    out[statistics_key(w, dim.name)] = stats[k].tolist()
        return out


@dataclass(frozen=True)
class _Setup:
    allow_ties: Mapping[str, bool] | None


class _RankingKind:
    """Rankings as a :class:`tally.tasks.fields.Kind`."""

    statistics_name = f"ranking/{len(STATISTICS)}"

    def setup(self, bounds: FieldBounds | None, values: Sequence[Any]) -> _Setup:
        return _Setup(bounds.allow_ties if bounds is not None else None)

    def read(self, value: Any, setup: _Setup) -> Ranks:
        if not isinstance(value, Mapping) or not value:
            raise AnswerError("no ranking dimension")
        out: dict[str, tuple[int, ...]] = {}
        for name, ranks in value.items():
            if not isinstance(ranks, list | tuple) or not all(
                isinstance(r, int) and not isinstance(r, bool) for r in ranks
            ):
                raise AnswerError(f"the dimension '{shown_label(str(name))}' has no list of whole-number ranks")
            out[str(name)] = tuple(ranks)
        return out

    def summarise(self, parsed: Sequence[tuple[str, Any]], issues: list[AnswerIssue]) -> RankingSummary:
        lengths = Counter(len(r) for _, ranks in parsed for r in ranks.values())
        order = [len(r) for _, ranks in parsed for r in ranks.values()]
        k = max(lengths, key=lambda n: (lengths[n], -order.index(n)))
        kept = []
        for worker, ranks in parsed:
            odd = [d for d, r in ranks.items() if len(r) != k]
            bad = [d for d, r in ranks.items() if any(not 1 <= x <= k for x in r)]
            if odd:
                shown = shown_label(odd[0])
                issues.append(
                    AnswerIssue(worker, f"'{shown}' ranks {len(ranks[odd[0]])} responses, the other answers {k}")
                )
            elif bad:
                issues.append(AnswerIssue(worker, f"'{shown_label(bad[0])}' has ranks outside 1..{k}"))
            else:
                kept.append((worker, ranks))
        if not kept or k < 1:
            raise ObjectError("no usable ranking", issues)
        return RankingSummary(tuple(kept), k)

    def keys(self, summaries: Sequence[tuple[str, RankingSummary]]) -> list[str]:
        return list(dict.fromkeys(statistics_key(w, d) for _, s in summaries for w, ranks in s.answers for d in ranks))

    def fit(
        self, summaries: Sequence[tuple[str, RankingSummary]], setup: _Setup, prior: WorkerStatistics
    ) -> RankingModel:
        workers: dict[str, int] = {}
        names: dict[str, None] = {}
        for _, s in summaries:
            for w, ranks in s.answers:
                workers.setdefault(w, len(workers))
                names.update(dict.fromkeys(ranks))
        dimensions = []
        measured: dict[str, np.ndarray] = {}
        for name in names:
            objects: dict[str, int] = {}
            rows: list[tuple[int, int, int, int]] = []
            tied = False
            n_items = 1
            for o, s in summaries:
                for w, ranks in s.answers:
                    r = ranks.get(name)
                    if r is None:
                        continue
                    t = objects.setdefault(o, len(objects))
                    n_items = max(n_items, len(r))
                    tied = tied or len(set(r)) < len(r)
                    rows.extend((t, workers[w], i, x) for i, x in enumerate(r))
            extra = np.zeros((len(workers), len(STATISTICS)))
            for w, k in workers.items():
                stored = prior.get(statistics_key(w, name))
                if stored is not None and len(stored) == len(STATISTICS):
                    extra[k] = stored
            array = np.asarray(rows, dtype=np.intp).reshape(-1, 4)
            model = MallowsConsensus().fit(
                array[:, 0],
                array[:, 1],
                array[:, 2],
                array[:, 3].astype(np.float64),
                n_objects=len(objects),
                n_workers=len(workers),
                n_items=n_items,
                prior=extra,
            )
            allowed = setup.allow_ties.get(name) if setup.allow_ties is not None else None
            dimensions.append(_Dimension(name, model, tied if allowed is None else bool(allowed), objects))
            measured[name] = (model.worker_statistics_.sum(axis=1) + extra.sum(axis=1)) > 0
        return RankingModel(dimensions, workers, measured)


RANKINGS = _RankingKind()
"""The ranking kind (:data:`tally.tasks.fields.FIELD_KINDS`)."""


class Rankings(RankingShape, KindTask[RankingSummary]):
    """A custom job whose template is a ``crowd-text-ranking`` (module docstring)."""

    kind = RANKINGS

    def value_of(self, element: Any) -> Any:
        return read_dimensions(element)
