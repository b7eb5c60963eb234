"""The free-text adapter (``crowd-input``, ``crowd-text-area``): the crowd's consensus, worker-weighted
(:class:`tally.aggregation.text.TextVote`: the medoid for short answers, a ROVER word vote for
transcriptions), every worker's text kept, the agreement as the confidence.

A custom job whose template's only field is text sends ``{"<name>": "..."}``; the answer is recognised
by that shape (:class:`~tally.gt.answers.BareValue`). A form field of kind ``text`` goes through
:func:`tally.tasks.fields.consolidate_field`. A ``crowd-input`` left empty is absent from the form
output, which is no answer (an answer ``{}`` in a job whose only field is text is rejected: it holds no
field at all).

**Empty answers** (``""``, or only whitespace: an optional text box left empty where the element submits
it) say "nothing here", but agreeing on nothing is no evidence of anyone's care: they take no part in
the vote and measure no worker. The object's ``text`` is ``""`` when more workers left it empty than
wrote something (its ``confidence``: the share of empty answers), else the vote among those who wrote
(its agreement, times the share of answers that wrote something). ``empty-answers`` counts them; an
empty answer, and every answer of an object decided empty, has ``agreement: null``: the one worker who
typed a comment where the others left the box empty is not marked down for it.

Label (``content[<attr>]``)::

    {"text": "please call me back", "confidence": 0.89, "method": "rover",
     "answers": [{"workerId": "w1", "text": "please call me bakc", "agreement": 0.75, "differing": [3]}, ...],
     "words": [{"word": "please", "confidence": 1.0}, ...],
     "worker-quality": [{"workerId": "w1", "accuracy": 0.93, "weight": 4.7}, ...]}

``text`` is the consensus: for the medoid (``method: "medoid"``), one worker's answer exactly as
typed; for ROVER (``"rover"``), the words voted slot by slot, each written as most of its voters' weight
spelt it. ``confidence`` is the weighted mean of the answers' ``agreement`` with the consensus (1 for one
answer or answers equal after normalising case, whitespace and punctuation; 1/3 for three unrelated
ones). ``answers`` keeps every worker's text as given; for ROVER, ``differing`` lists the indices of the
answer's words (as :func:`tally.aggregation.text.split_words` splits it) the vote overruled, and
``words`` gives each consensus word its share of the voting weight. ``worker-quality``: each worker's
``accuracy`` (leave-one-out agreement with the others, shrunk toward the crowd's) and vote ``weight``,
over the batch and the job's earlier batches; ``null`` for a worker never compared with another.

A gold answer (``annotationData.gold``, an importer's ground truth: :class:`GoldTextSummary`) is the
object's text alone (confidence 1); the others' answers to it are compared with it for their workers'
accuracy (:meth:`TextVote.fit`'s ``known``). An empty gold answer, like any empty answer, is no evidence:
it holds nothing (the next marked answer that wrote something does, else the crowd decides).

Across batches (:mod:`tally.worker_store`): ``(units compared, agreement sum)`` per worker, under
``free-text/2``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...aggregation.text import TextVote, VotedText
from ...errors import AnswerError
from ...gt.answers import AnswerIssue
from ...worker_store import WorkerStatistics
from ..base import DIGITS, figure, gold_index
from ..fields import FieldBounds, KindTask
from ..kind import WorkerQuality
from . import TextAnswer, TextResult, TextShape, VotedWord

__all__ = ["TEXTS", "FreeText", "GoldTextSummary", "TextSummary"]

_BATCH_FIGURES = ("accuracy", "weight")
_N_STATISTICS = 2


@dataclass(frozen=True)
class TextSummary:
    """One object's texts: ``(worker, text as given)`` per usable answer."""

    answers: tuple[tuple[str, str], ...]

    @property
    def written(self) -> tuple[tuple[str, str], ...]:
        """The answers that are not empty (module docstring): the vote's."""
        return tuple((w, t) for w, t in self.answers if t.strip())


@dataclass(frozen=True)
class GoldTextSummary(TextSummary):
    """An object's texts when one answer is marked gold (``annotationData.gold``, which only an importer
    can set: :func:`~tally.tasks.base.gold_column`): every answer, for the fit, which compares the others
    with answer ``known`` alone (:meth:`TextVote.fit`'s ``known``); the object is the gold answer alone
    (:meth:`alone`), confidence 1: never outvoted. The gold answer wrote something: an empty one holds
    nothing (``held``, module docstring)."""

    known: int = dataclasses.field(kw_only=True)

    def __post_init__(self) -> None:
        if not self.answers[self.known][1].strip():
            raise ValueError("an empty answer is no gold answer: it holds nothing")

    def alone(self) -> TextSummary:
        return TextSummary((self.answers[self.known],))

    @property
    def gold_written(self) -> int:
        """The gold answer's place among :attr:`written`."""
        worker = self.answers[self.known][0]
        return [w for w, _ in self.written].index(worker)


@dataclass
class TextModel:
    """A fitted batch: the vote, its worker indices, and every object's consensus (decided once, for
    the whole batch, at the fit)."""

    vote: TextVote | None  # None: every answer of the batch is empty
    workers: dict[str, int]
    voted: dict[str, VotedText]
    measured: np.ndarray
    batch_figures: tuple[str, ...] = _BATCH_FIGURES

    def _voted(self, object_id: str, written: Sequence[tuple[str, str]]) -> VotedText:
        found = self.voted.get(object_id)
        if found is not None:
            return found
        assert self.vote is not None  # an object with written answers after a fit on written answers
        # an object the batch was not fitted on: decided with the fitted weights
        answers = [(self.workers.get(w, len(self.vote.worker_weights_)), t) for w, t in written]
        return self.vote.predict([answers])[0]

    def label(self, object_id: str, summary: TextSummary) -> tuple[dict[str, Any], dict[str, Any], float]:
        if isinstance(summary, GoldTextSummary):  # the gold answer alone (voted alone at the fit)
            summary = summary.alone()
        written = summary.written
        empty = len(summary.answers) - len(written)
        quality = tuple(self._quality(w) for w, _ in summary.answers)
        if empty > len(written):  # most left it empty: "" (module docstring), nobody measured by it
            confidence = round(empty / len(summary.answers), DIGITS)
            answers = tuple(TextAnswer(w, text, None) for w, text in summary.answers)
            result = TextResult("", confidence, "empty", answers, None, quality, empty)
            return result.to_gt(), result.metadata(), confidence
        voted = self._voted(object_id, written)
        confidence = round(float(voted.confidence) * len(written) / len(summary.answers), DIGITS)
        rover = voted.method == "rover"
        position = {w: i for i, (w, _) in enumerate(written)}
        rows = []
        for w, text in summary.answers:
            i = position.get(w) if text.strip() else None
            if i is None:
                rows.append(TextAnswer(w, text, None, () if rover else None))
                continue
            rows.append(
                TextAnswer(w, text, figure(float(voted.agreement[i])), tuple(voted.differing[i]) if rover else None)
            )
        words = (
            tuple(VotedWord(word, figure(float(c))) for word, c in zip(voted.words, voted.word_confidence, strict=True))
            if rover
            else None
        )
        result = TextResult(voted.text, confidence, voted.method, tuple(rows), words, quality, empty)
        return result.to_gt(), result.metadata(), confidence

    def _quality(self, worker: str) -> WorkerQuality:
        k = self.workers.get(worker)
        if k is None or not self.measured[k] or self.vote is None:
            return WorkerQuality(worker, (("accuracy", None), ("weight", None)))
        return WorkerQuality(
            worker,
            (
                ("accuracy", figure(float(self.vote.accuracy_[k]))),
                ("weight", figure(float(self.vote.worker_weights_[k]))),
            ),
        )

    def statistics(self) -> WorkerStatistics:
        if self.vote is None:
            return {}
        stats = self.vote.worker_statistics_
        return {w: stats[k].tolist() for w, k in self.workers.items() if k < len(stats) and stats[k].any()}


class _TextKind:
    """Free text as a :class:`tally.tasks.fields.Kind`."""

    statistics_name = f"free-text/{_N_STATISTICS}"

    def setup(self, bounds: FieldBounds | None, values: Sequence[Any]) -> None:
        return None

    def read(self, value: Any, setup: None) -> str:
        if not isinstance(value, str):
            raise AnswerError(f"a {type(value).__name__} is not text")
        return value

    def summarise(self, parsed: Sequence[tuple[str, Any]], issues: list[AnswerIssue]) -> TextSummary:
        return TextSummary(tuple(parsed))

    def keys(self, summaries: Sequence[tuple[str, TextSummary]]) -> list[str]:
        return list(dict.fromkeys(w for _, s in summaries for w, _ in s.written))

    def held(self, summary: TextSummary, gold: Sequence[str]) -> TextSummary:
        """The summary with the first of ``gold``'s answers it kept as its gold one
        (:class:`GoldTextSummary`; an answer an importer marked gold:
        :class:`tally.tasks.fields.LearnsFromGold`). An empty gold answer is no gold answer: an empty answer
        is no evidence (module docstring), so it holds nothing and the crowd decides."""
        written = {w for w, _ in summary.written}
        known = gold_index([w for w in gold if w in written], [w for w, _ in summary.answers])
        return summary if known is None else GoldTextSummary(summary.answers, known=known)

    def fit(self, summaries: Sequence[tuple[str, TextSummary]], setup: None, prior: WorkerStatistics) -> TextModel:
        workers: dict[str, int] = {}
        voting = [(o, s) for o, s in summaries if s.written]  # empty answers are no evidence
        objects = [[(workers.setdefault(w, len(workers)), t) for w, t in s.written] for _, s in voting]
        known = [s.gold_written if isinstance(s, GoldTextSummary) else None for _, s in voting]
        gold = any(k is not None for k in known)
        for _, s in summaries:  # workers who only left boxes empty: known, never measured
            for w, _ in s.answers:
                workers.setdefault(w, len(workers))
        extra = np.zeros((len(workers), _N_STATISTICS))
        for w, k in workers.items():
            stored = prior.get(w)
            if stored is not None and len(stored) == _N_STATISTICS:
                extra[k] = stored
        if not objects:
            return TextModel(None, workers, {}, extra[:, 0] > 0)
        vote = TextVote().fit(objects, prior=extra if extra.any() else None, known=known if gold else None)
        # the fit's batch, its alignments reused (with gold: the objects without a gold answer)
        voted = vote.predict([obj for obj, k in zip(objects, known, strict=True) if k is None] if gold else objects)
        if gold:  # a gold object is its gold answer alone, voted apart (the others keep the fit's alignments)
            alone = iter(vote.predict([[obj[k]] for obj, k in zip(objects, known, strict=True) if k is not None]))
            rest = iter(voted)
            voted = [next(rest) if k is None else next(alone) for k in known]
        own = vote.worker_statistics_
        units = extra[:, 0] + np.pad(own[:, 0], (0, max(0, len(workers) - len(own))))[: len(workers)]
        return TextModel(vote, workers, {o: v for (o, _), v in zip(voting, voted, strict=True)}, units > 0)


TEXTS = _TextKind()
"""The free-text kind (:data:`tally.tasks.fields.FIELD_KINDS`)."""


class FreeText(TextShape, KindTask[TextSummary]):
    """A custom job whose only field is text (module docstring)."""

    kind = TEXTS

    def value_of(self, element: Any) -> Any:
        return element.get("value")
