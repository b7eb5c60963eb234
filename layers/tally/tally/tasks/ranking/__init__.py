"""Rankings (``crowd-text-ranking``): the type's light half, its shape, its typed result
(:class:`RankingResult`) and its views; the adapter (:mod:`.adapter`: a weighted Kemeny consensus per
dimension, numpy) is imported only for a batch of this type.

Examples:
    >>> RANKING.shape.recognises({"ordinalRankingDimensions": []}), RANKING.shape.recognises({"label": "a"})
    (True, False)
    >>> label = {"type": "tally/ranking", "confidence": 0.8, "responses": 2,
    ...          "dimensions": [{"name": "Clarity", "ranks": [2, 1], "order": [1, 0], "confidence": [0.8, 0.8],
    ...                          "agreement": 0.8, "ties": False}],
    ...          "answers": [{"workerId": "w1", "ranks": {"Clarity": [2, 1]}}],
    ...          "worker-quality": [{"workerId": "w1", "reliability": {"Clarity": 0.9}, "weight": {"Clarity": 2.2}}]}
    >>> result = RankingResult.from_gt(label)
    >>> result.to_gt() == {k: v for k, v in label.items() if k != "type"}
    True
    >>> RANKING.views.rows(result)
    [{'dimension': 'Clarity', 'response': 0, 'rank': 2, 'confidence': 0.8}, {'dimension': 'Clarity', 'response': 1, 'rank': 1, 'confidence': 0.8}]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...gt.answers import RANKING_KEY
from ...gt.response import TaskType
from ..kind import ReviewAnswer, ReviewSubject, TaskKind, Views, WorkerQuality

if TYPE_CHECKING:
    from ..figures import RankTable

__all__ = ["RANKING", "RankedDimension", "RankingAnswer", "RankingResult", "RankingShape", "read_ranks"]


class RankingShape:
    """``{"ordinalRankingDimensions": [{"name", "responseRankings"}]}`` (``crowd-text-ranking``)."""

    name = "ranking"
    type = TaskType.RANKING.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        return isinstance(element.get(RANKING_KEY), list)

    def labels_used(self, element: Mapping[str, Any]) -> list[tuple[str, str | None]]:
        return []


@dataclass(frozen=True)
class RankedDimension:
    """One dimension's combined ranking: ``ranks`` per response (1 best), ``order`` best first, each
    response's ``confidence``, the workers' ``agreement`` with it and whether it allows ``ties``."""

    name: str
    ranks: tuple[int, ...]
    order: tuple[int, ...]
    confidence: tuple[float, ...]
    agreement: float | None
    ties: bool

    def to_gt(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ranks": list(self.ranks),
            "order": list(self.order),
            "confidence": list(self.confidence),
            "agreement": self.agreement,
            "ties": self.ties,
        }

    @classmethod
    def from_gt(cls, d: Mapping[str, Any]) -> RankedDimension:
        return cls(
            str(d["name"]),
            tuple(int(r) for r in d["ranks"]),
            tuple(int(i) for i in d.get("order", ())),
            tuple(float(c) for c in d["confidence"]),
            d.get("agreement"),
            bool(d.get("ties", False)),
        )


@dataclass(frozen=True)
class RankingAnswer:
    """One worker's ranks per dimension, as given."""

    worker_id: str
    ranks: Mapping[str, tuple[int, ...]]

    def to_gt(self) -> dict[str, Any]:
        return {"workerId": self.worker_id, "ranks": {d: list(r) for d, r in self.ranks.items()}}


@dataclass(frozen=True)
class RankingResult:
    """A consolidated ranking: each dimension's combined ranking, the number of responses, the mean
    confidence, every worker's ranks and the workers' figures (per dimension)."""

    dimensions: tuple[RankedDimension, ...]
    responses: int
    confidence: float
    answers: tuple[RankingAnswer, ...]
    worker_quality: tuple[WorkerQuality, ...]

    def to_gt(self) -> dict[str, Any]:
        return {
            "dimensions": [d.to_gt() for d in self.dimensions],
            "responses": self.responses,
            "confidence": self.confidence,
            "answers": [a.to_gt() for a in self.answers],
            "worker-quality": [q.to_gt() for q in self.worker_quality],
        }

    def metadata(self) -> dict[str, Any]:
        dimensions = [{"name": d.name, "ranks": list(d.ranks)} for d in self.dimensions]
        return {"dimensions": dimensions, "confidence": self.confidence}

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> RankingResult:
        answers = tuple(
            RankingAnswer(str(a["workerId"]), {str(d): tuple(r) for d, r in (a.get("ranks") or {}).items()})
            for a in label.get("answers", [])
        )
        return cls(
            tuple(RankedDimension.from_gt(d) for d in label["dimensions"]),
            int(label.get("responses", 0)),
            float(label.get("confidence", 0)),
            answers,
            WorkerQuality.rows(label),
        )


def read_ranks(element: Mapping[str, Any]) -> dict[str, Any]:
    """``crowd-text-ranking``'s output → ``{dimension: ranks as given}``; dimensions without a name are
    left out (the adapter rejects them with a reason)."""
    dimensions = element.get(RANKING_KEY)
    if not isinstance(dimensions, list):
        return {}
    return {
        d["name"]: d.get("responseRankings")
        for d in dimensions
        if isinstance(d, dict) and isinstance(d.get("name"), str)
    }


def _concordance(mine: tuple[Any, ...] | list[Any], theirs: tuple[int, ...]) -> tuple[int, int]:
    """Pairs of responses both rankings order strictly: ``(agreeing, compared)``."""
    agree = compared = 0
    for i in range(len(theirs)):
        for j in range(i + 1, len(theirs)):
            a, b = mine[i] - mine[j], theirs[i] - theirs[j]
            if a and b:
                compared += 1
                agree += (a > 0) == (b > 0)
    return agree, compared


class RankingViews(Views):
    def agreement(self, result: RankingResult, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """The share of the pairs of responses the worker and the combined ranking both order strictly
        that they order alike, over the dimensions (``None``: no such pair)."""
        if answer.value is None:
            return None
        given = read_ranks(answer.value)
        agree = compared = 0
        for d in result.dimensions:
            mine = given.get(d.name)
            if isinstance(mine, list) and len(mine) == len(d.ranks) and all(type(r) is int for r in mine):
                a, c = _concordance(mine, d.ranks)
                agree, compared = agree + a, compared + c
        return agree / compared if compared else None

    def answer_summary(self, answer: Mapping[str, Any]) -> str:
        """``Clarity: 2 1 3; Inclusivity: 1 2 3`` (each dimension's ranks, response by response)."""
        return "; ".join(
            f"{name}: {' '.join(str(r) for r in ranks) if isinstance(ranks, list) else ranks}"
            for name, ranks in read_ranks(answer).items()
        )

    def figure(self, result: RankingResult) -> RankTable:
        """Per dimension, each response's combined rank and confidence beside every worker's rank of it."""
        from ..figures import RankTable

        workers = tuple(a.worker_id for a in result.answers)
        dimensions = []
        for d in result.dimensions:
            rows = []
            for i, (rank, confidence) in enumerate(zip(d.ranks, d.confidence, strict=True)):
                given = tuple(
                    r[i] if (r := a.ranks.get(d.name)) is not None and i < len(r) else None for a in result.answers
                )
                rows.append((rank, confidence, given))
            dimensions.append((d.name, tuple(rows)))
        return RankTable(workers, tuple(dimensions))

    def rows(self, result: RankingResult) -> list[dict[str, Any]]:
        """One row per dimension and response: its combined rank and confidence."""
        return [
            {"dimension": d.name, "response": i, "rank": rank, "confidence": confidence}
            for d in result.dimensions
            for i, (rank, confidence) in enumerate(zip(d.ranks, d.confidence, strict=True))
        ]


RANKING = TaskKind(
    shape=RankingShape(),
    task=".adapter:Rankings",
    from_gt=RankingResult.from_gt,
    views=RankingViews(),
)
