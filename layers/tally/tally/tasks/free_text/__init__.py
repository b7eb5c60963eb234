"""Free text (``crowd-input``, ``crowd-text-area``): the type's light half, its shape, its typed result
(:class:`TextResult`) and its views; the adapter (:mod:`.adapter`: the medoid or ROVER word vote over
the batch, numpy) is imported only for a batch of this type.

Examples:
    >>> from tally.gt.answers import BareValue
    >>> FREE_TEXT.shape.recognises(BareValue(value="a cat")), FREE_TEXT.shape.recognises(BareValue(value='{"a": 1}'))
    (True, False)
    >>> label = {"type": "tally/free-text", "text": "a cat", "confidence": 0.75, "method": "medoid",
    ...          "answers": [{"workerId": "w1", "text": "a cat", "agreement": 1.0}],
    ...          "worker-quality": [{"workerId": "w1", "accuracy": 0.9, "weight": 2.0}]}
    >>> result = TextResult.from_gt(label)
    >>> result.to_gt() == {k: v for k, v in label.items() if k != "type"}
    True
    >>> FREE_TEXT.views.rows(result)
    [{'text': 'a cat', 'confidence': 0.75, 'method': 'medoid', 'workerId': 'w1', 'answer': 'a cat', 'agreement': 1.0}]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...gt.answers import BareValue
from ...gt.response import TaskType
from ..kind import ReviewAnswer, ReviewSubject, TaskKind, Views, WorkerQuality

if TYPE_CHECKING:
    from ..figures import WordVote

__all__ = ["FREE_TEXT", "TextAnswer", "TextResult", "TextShape", "VotedWord"]


class TextShape:
    """A form's only field, a bare string (``crowd-input``, ``crowd-text-area``), unless it is a JSON
    object or list (a hidden input a script filled with structured answers: passed through)."""

    name = "free-text"
    type = TaskType.FREE_TEXT.value

    def recognises(self, element: Mapping[str, Any]) -> bool:
        value = element.get("value")
        return isinstance(element, BareValue) and isinstance(value, str) and not _json_text(value)

    def labels_used(self, element: Mapping[str, Any]) -> list[tuple[str, str | None]]:
        return []


def _json_text(text: str) -> bool:
    """Whether ``text`` is a JSON object or list (``{"a": 1}``, ``[...]``), not words."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        return False
    try:
        return isinstance(json.loads(stripped), dict | list)
    except ValueError:
        return False


@dataclass(frozen=True)
class TextAnswer:
    """One worker's text as given, its agreement with the consensus and (ROVER) the indices of its
    words the vote overruled (``None``: the medoid, which overrules no word)."""

    worker_id: str
    text: str
    agreement: float | None
    differing: tuple[int, ...] | None = None

    def to_gt(self) -> dict[str, Any]:
        row: dict[str, Any] = {"workerId": self.worker_id, "text": self.text, "agreement": self.agreement}
        if self.differing is not None:
            row["differing"] = list(self.differing)
        return row


@dataclass(frozen=True)
class VotedWord:
    """A word of a ROVER consensus and its share of the voting weight."""

    word: str
    confidence: float | None

    def to_gt(self) -> dict[str, Any]:
        return {"word": self.word, "confidence": self.confidence}


@dataclass(frozen=True)
class TextResult:
    """A consolidated text: the consensus, its confidence, how it was decided (``medoid``, ``rover``, or
    ``empty`` when most left it empty), every worker's text, the consensus's words (ROVER only), the
    workers' figures and how many answers were empty."""

    text: str
    confidence: float
    method: str
    answers: tuple[TextAnswer, ...]
    words: tuple[VotedWord, ...] | None
    worker_quality: tuple[WorkerQuality, ...]
    empty: int = 0  # answers left empty (no part in the vote)

    def to_gt(self) -> dict[str, Any]:
        label: dict[str, Any] = {
            "text": self.text,
            "confidence": self.confidence,
            "method": self.method,
        }
        if self.empty:
            label["empty-answers"] = self.empty
        label["answers"] = [a.to_gt() for a in self.answers]
        if self.words is not None:
            label["words"] = [w.to_gt() for w in self.words]
        label["worker-quality"] = [q.to_gt() for q in self.worker_quality]
        return label

    def metadata(self) -> dict[str, Any]:
        return {"confidence": self.confidence}

    @classmethod
    def from_gt(cls, label: Mapping[str, Any]) -> TextResult:
        answers = tuple(
            TextAnswer(
                str(a["workerId"]),
                str(a["text"]),
                a.get("agreement"),
                tuple(int(i) for i in a["differing"]) if "differing" in a else None,
            )
            for a in label.get("answers", [])
        )
        words = label.get("words")
        return cls(
            str(label["text"]),
            float(label.get("confidence", 0)),
            str(label.get("method", "medoid")),
            answers,
            None if words is None else tuple(VotedWord(str(w["word"]), w.get("confidence")) for w in words),
            WorkerQuality.rows(label),
            int(label.get("empty-answers", 0)),
        )


class FreeTextViews(Views):
    def agreement(self, result: TextResult, subject: ReviewSubject, answer: ReviewAnswer) -> float | None:
        """The answer's agreement with the consensus, as the consolidation measured it."""
        for a in result.answers:
            if a.worker_id == answer.worker_id:
                return None if a.agreement is None else float(a.agreement)
        return None

    def answer_summary(self, answer: Mapping[str, Any]) -> str:
        return str(answer.get("value", ""))

    def figure(self, result: TextResult) -> WordVote:
        """The consensus and each worker's text, the words the vote overruled marked."""
        from ...aggregation.text import split_words  # the report's, not the handler's, import
        from ..figures import WordVote

        return WordVote(
            result.text,
            tuple((a.worker_id, tuple(split_words(a.text)), frozenset(a.differing or ())) for a in result.answers),
        )

    def rows(self, result: TextResult) -> list[dict[str, Any]]:
        """One row per worker's answer: the consensus, the answer and its agreement (the consensus alone
        when no answer is kept)."""
        head = {"text": result.text, "confidence": result.confidence, "method": result.method}
        return [
            {**head, "workerId": a.worker_id, "answer": a.text, "agreement": a.agreement} for a in result.answers
        ] or [head]


FREE_TEXT = TaskKind(
    shape=TextShape(),
    task=".adapter:FreeText",
    from_gt=TextResult.from_gt,
    views=FreeTextViews(),
)
