"""Named entities (``<crowd-entity-annotation>``): spans voted by weighted workers
(:mod:`tally.aggregation.span_vote`), the weights learnt from agreement across the batch.

An answer is ``{"entities": [{"label", "startOffset", "endOffset"}]}`` (character offsets into the
object's text, end exclusive). A span with a label the job lacks is dropped with a warning; an answer
whose offsets are not integers, run backwards, or (for inline text) past its end is rejected. An
answer with no entities is a valid answer: it says there is nothing to mark.

The label keeps the built-in NER output's shape, with a confidence per entity::

    {"annotations": {"entities": [{"label": "person", "startOffset": 0, "endOffset": 4, "confidence": 0.67}],
                     "labels": [{"label": "person"}, ...]},
     "confidence": 0.67, "worker-quality": [{"workerId", "weight", "agreement"}]}

An entity's ``confidence`` is the share of the object's answering weight that marked it with its
label; the object's is the mean over its entities (with none, the share of the weight that marked
nothing). ``labels`` is the job's label list. A worker never compared with another (no text they
marked had a second answer, nor in an earlier batch) has ``weight`` and ``agreement`` ``null``.

Gold: with an answer marked ``annotationData.gold`` among two or more (only an importer can mark it:
:func:`~tally.tasks.base.gold_column`, the first marked answer the core keeps), the object is the gold
answer's spans alone, each with confidence 1, and the fit compares every other answer to it with the
gold spans instead of with the others' vote (:meth:`~tally.aggregation.span_vote.SpanVote.fit`'s
``known``): their weights on the other objects come from the gold.

Across batches (:mod:`tally.worker_store`): a worker's statistics are ``(credit, spans compared,
objects)`` of their leave-one-out agreement (``SpanVote.worker_statistics_``), added to later batches'
(their ``prior``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ...aggregation.span_vote import Span, SpanVote, WorkerSpans
from ...errors import AnswerError
from ...gt.answers import Answer, AnswerIssue
from ...gt.events import DatasetObject
from ...gt.response import ObjectResult
from ...labels import LabelSet
from ...worker_store import WorkerStatistics
from ..base import DIGITS, JobContext, Observed, consolidated, figure, gold_column, known_labels, no_usable_answer
from ..kind import WorkerQuality
from . import EntitiesResult, EntitiesShape, Entity

__all__ = ["NamedEntities"]

_BATCH_FIGURES = ("weight", "agreement")
"""The keys of a ``worker-quality`` row that are the worker's figures over the batch: all but ``workerId``."""
Spans = tuple[tuple[str, tuple[Span, ...]], ...]  # (worker, spans) per usable answer


@dataclass(frozen=True)
class GoldSpans:
    """An object's answers when one of them is marked gold (``annotationData.gold``, which only an
    importer can set: :func:`~tally.tasks.base.gold_column`): every answer, for the fit, which compares
    the others with answer ``known`` (:meth:`SpanVote.fit`'s ``known``); the object is that answer alone
    (:meth:`alone`): never outvoted."""

    answers: Spans
    known: int

    def alone(self) -> Spans:
        return (self.answers[self.known],)


Summary = Spans | GoldSpans


def _answers(summary: Summary) -> Spans:
    """Every answer of an object's summary (a gold object's too)."""
    return summary.answers if isinstance(summary, GoldSpans) else summary


@dataclass(frozen=True)
class EntityModel:
    """The fitted span vote, the worker indices it was fitted with and the objects it was fitted on
    (per summary, by identity: :meth:`SpanVote.predict` reuses their clusters)."""

    workers: dict[str, int]
    vote: SpanVote
    objects: dict[int, tuple[Spans, list[WorkerSpans]]]

    def weight(self, worker: str) -> float:
        return float(self.vote.worker_weights_[self.workers[worker]])

    def answers(self, summary: Spans) -> list[WorkerSpans]:
        """The object's answers as the vote reads them: the very list it was fitted on when there is one."""
        kept = self.objects.get(id(summary))
        if kept is not None and kept[0] is summary:
            return kept[1]
        return [(self.workers[w], spans) for w, spans in summary]


def _offset(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not float(value).is_integer():
        raise AnswerError("an entity's startOffset or endOffset is not a whole number")
    return int(value)


def _spans(answer: Answer, labels: LabelSet, text_length: int | None) -> tuple[tuple[Span, ...], list[str]]:
    entities = answer.element.get("entities")
    if not isinstance(entities, list):
        raise AnswerError("entities is not a list")
    offsets = []
    for item in entities:
        if not isinstance(item, dict):
            raise AnswerError("an entity is not an object")
        start, end = _offset(item.get("startOffset")), _offset(item.get("endOffset"))
        if start < 0 or end <= start or (text_length is not None and end > text_length):
            raise AnswerError("an entity's offsets lie outside the text or run backwards")
        offsets.append((start, end))
    indices, warnings = known_labels(labels, [str(item.get("label")) for item in entities], "entities")
    spans = [(index, start, end) for index, (start, end) in zip(indices, offsets, strict=True) if index is not None]
    return tuple(sorted(set(spans))), warnings


class NamedEntities(EntitiesShape):
    uses_batch_model = True
    needs_labels = True

    def prepare(self, job: JobContext) -> None:
        job.require_labels()

    def observe(self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext) -> Observed[Summary, None]:
        labels = job.require_labels()
        text = obj.data_object.content
        issues: list[AnswerIssue] = []
        usable: list[tuple[str, tuple[Span, ...]]] = []
        for answer in answers:
            try:
                spans, warnings = _spans(answer, labels, None if text is None else len(text))
            except AnswerError as exc:
                issues.append(AnswerIssue(answer.worker_id, str(exc)))
                continue
            usable.append((answer.worker_id, spans))
            issues.extend(AnswerIssue(answer.worker_id, w, rejected=False) for w in warnings)
        if not usable:
            raise no_usable_answer(obj, issues)
        every = tuple(usable)
        known = gold_column(answers, [w for w, _ in every])
        summary: Summary = every if known is None else GoldSpans(every, known)
        return Observed(summary, None, issues, answers_used=len(usable))

    def fit(self, summaries: Sequence[tuple[str, Summary]], job: JobContext) -> EntityModel:
        return self.fit_with_prior(summaries, job, {})

    @staticmethod
    def _workers(summaries: Sequence[tuple[str, Summary]]) -> dict[str, int]:
        workers: dict[str, int] = {}
        for _, summary in summaries:
            for worker, _ in _answers(summary):
                workers.setdefault(worker, len(workers))
        return workers

    def statistics_name(self, job: JobContext) -> str:
        return "named-entities/3"

    def statistics_keys(self, summaries: Sequence[tuple[str, Summary]], job: JobContext) -> list[str]:
        return list(self._workers(summaries))

    def fit_with_prior(
        self, summaries: Sequence[tuple[str, Summary]], job: JobContext, prior: WorkerStatistics
    ) -> EntityModel:
        workers = self._workers(summaries)
        every = [_answers(summary) for _, summary in summaries]
        objects: list[list[WorkerSpans]] = [[(workers[w], spans) for w, spans in answers] for answers in every]
        extra = [prior[w] if len(prior.get(w, ())) == 3 else [0.0, 0.0, 0.0] for w in workers]
        used = any(any(v) for v in extra)
        known = [summary.known if isinstance(summary, GoldSpans) else None for _, summary in summaries]
        vote = SpanVote().fit(objects, extra if used else None, known)
        kept = {id(answers): (answers, obj) for answers, obj in zip(every, objects, strict=True)}
        return EntityModel(workers, vote, kept)

    def statistics(self, model: EntityModel, job: JobContext) -> WorkerStatistics:
        own = model.vote.worker_statistics_
        return {w: own[i].tolist() for w, i in model.workers.items() if own[i].any()}

    def consolidate(
        self, obj: DatasetObject, observed: Observed[Summary, None], model: EntityModel | None, job: JobContext
    ) -> ObjectResult:
        if model is None or observed.summary is None:
            raise RuntimeError("named entities need their batch model")
        names = job.require_labels().names
        gold = observed.summary if isinstance(observed.summary, GoldSpans) else None
        summary = observed.summary.alone() if isinstance(observed.summary, GoldSpans) else observed.summary
        answers = model.answers(summary)
        weights = {model.workers[w]: model.weight(w) for w, _ in summary}
        # the fit's clusters with the fitted weights; a gold object: its gold answer alone, the known
        # truth, each of its spans with confidence 1
        entities = model.vote.predict(answers) if gold is None else model.vote.vote(answers)
        total = sum(weights.values())
        if entities:
            confidence = sum(e.confidence for e in entities) / len(entities)
        else:
            empty = sum(weights[i] for i, spans in answers if not spans)
            confidence = empty / total if total > 0 else 0.0
        confidence = round(confidence, DIGITS)
        quality = []
        for worker, _ in summary:
            agreement = float(model.vote.worker_agreement_[model.workers[worker]])
            measured = not math.isnan(agreement)  # without it, the weight is the crowd's mean: not theirs
            figures = (
                ("weight", figure(model.weight(worker) if measured else None)),
                ("agreement", figure(agreement if measured else None)),
            )
            quality.append(WorkerQuality(worker, figures))
        kept = tuple(Entity(names[e.label], e.start, e.end, round(e.confidence, DIGITS)) for e in entities)
        result = EntitiesResult(kept, tuple(names), confidence, tuple(quality))
        return consolidated(obj, self.type, observed, result.to_gt(), result.metadata(), confidence, _BATCH_FIGURES)
