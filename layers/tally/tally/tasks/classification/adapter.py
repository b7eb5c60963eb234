"""Classification: one label (``<crowd-classifier>``, ``<crowd-image-classifier>``) or several
(``...-multi-select``) per object, consolidated with Dawid–Skene over the batch
(:mod:`tally.aggregation.dawid_skene`).

Answers are recognised by shape: ``{"label": "Dog"}`` single-label, ``{"labels": ["Dog", "Cat"]}``
multi-label, whatever the element's ``name``. A label the job does not have is rejected with a reason
(label names are job configuration). The object's type is ``text-classification`` when its data
object is inline text (``dataObject.content``) or an S3 object with a text extension,
``video-classification`` when it is an S3 object with a video extension (``.mp4``, ``.webm``, ...), else
``image-classification`` (``...-multilabel`` for the multi-label task).

Labels (``content[<attr>]``), with ``class-id`` the label's 0-based index in the job's label list::

    single: {"class-id": 2, "class-name": "Bird", "confidence": 0.94, "worker-quality": [...]}
    multi:  {"class-ids": [0, 2], "class-names": ["Dog", "Bird"], "class-map": {"0": "Dog", "2": "Bird"},
             "confidence-map": {"0": 0.97, "2": 0.81}, "confidence": 0.9, "worker-quality": [...]}

``confidence`` is the posterior probability of the decided class (single) or the mean, over the job's
labels, of the posterior of the decision taken for each (multi); a lone answer gets its worker's
record from the batch. ``<attr>-metadata`` follows the built-in shapes (``class-name`` +
``confidence``; ``class-map`` + ``confidence-map``). ``worker-quality`` gives each worker's
``accuracy`` and ``informativeness``, ``null`` for a worker with only lone answers and no record from
earlier batches (docs/output-format.md).

Gold: an answer whose ``annotationData`` has ``"gold": true`` (an importer sets it, for an
annotation the tool marks as ground truth; no worker can: Ground Truth writes ``annotationData``
itself, and a worker's output is only inside its ``content``; the first such answer the core keeps:
:func:`~tally.tasks.base.gold_column`) is the object's known truth: the batch model holds the
object's posterior at it (:class:`GoldVotes`), so its label is the gold answer's with confidence 1 and
the other answers to it measure their workers for the rest of the batch.

Across batches (:mod:`tally.worker_store`): a worker's statistics are their expected confusion counts
(Dawid–Skene's ``worker_statistics_``: ``K * K`` values, or ``L * 2 * 2`` for multi-label), which
later batches of the job add to the confusion prior (``prior``). The class priors are fitted per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ...aggregation.base import ClassAnswers, LabelSetAnswers
from ...aggregation.dawid_skene import DawidSkene, MultiLabelDawidSkene
from ...gt.answers import Answer, AnswerIssue
from ...gt.events import DatasetObject
from ...gt.response import ObjectResult, TaskType
from ...labels import LabelSet
from ...worker_store import WorkerStatistics
from ..base import DIGITS, JobContext, Observed, consolidated, figure, gold_column, no_usable_answer, shown_label
from ..kind import WorkerQuality
from . import MultiLabel, MultiLabelShape, SingleLabel, SingleLabelShape

__all__ = ["MultiLabelClassification", "SingleLabelClassification", "is_text_object", "is_video_object"]

_BATCH_FIGURES = ("accuracy", "informativeness")
"""The keys of a ``worker-quality`` row that are the worker's figures over the batch: all but ``workerId``."""
_TEXT_SUFFIXES = (".txt", ".text", ".csv", ".tsv", ".json", ".jsonl", ".md", ".html", ".xml")
_VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".webm", ".ogv", ".ogg", ".avi", ".mkv", ".mpeg", ".mpg")

Votes = tuple[tuple[str, int], ...]  # (worker, class index) per usable answer
MultiVotes = tuple[tuple[str, frozenset[int]], ...]


class GoldVotes(tuple):  # type: ignore[type-arg]
    """An object's votes (:data:`Votes` or :data:`MultiVotes`) when one of its answers is marked gold
    (``annotationData.gold``, which only an importer can set: :func:`~tally.tasks.base.gold_column`):
    ``known`` is the gold answer's class index (single-label) or label set (multi-label). The batch model
    holds the object's posterior at it, so the other answers to it measure their workers and it is never
    outvoted."""

    known: Any

    @classmethod
    def of(cls, votes: Sequence[tuple[str, Any]], known: Any) -> GoldVotes:
        made = cls(votes)
        made.known = known
        return made


def is_text_object(obj: DatasetObject) -> bool:
    """Inline text, or an S3 object whose name ends like a text file."""
    if obj.data_object.content is not None:
        return True
    uri = (obj.data_object.s3_uri or "").lower()
    return uri.endswith(_TEXT_SUFFIXES)


def is_video_object(obj: DatasetObject) -> bool:
    """An S3 object whose name ends like a video file (what a video classification job labels)."""
    return (obj.data_object.s3_uri or "").lower().endswith(_VIDEO_SUFFIXES)


def _unknown(labels: LabelSet, names: Iterable[str]) -> list[str]:
    return sorted({shown_label(n) for n in names if labels.index(n) is None})


@dataclass(frozen=True)
class _Index:
    """Object IDs and worker IDs of a batch as the integer indices the algorithms take."""

    objects: dict[str, int]
    workers: dict[str, int]

    @classmethod
    def of(cls, summaries: Sequence[tuple[str, Sequence[tuple[str, Any]]]]) -> _Index:
        objects = {obj_id: i for i, (obj_id, _) in enumerate(summaries)}
        workers: dict[str, int] = {}
        for _, votes in summaries:
            for worker, _ in votes:
                workers.setdefault(worker, len(workers))
        return cls(objects, workers)


@dataclass(frozen=True)
class ClassificationModel:
    """A fitted batch: the Dawid–Skene model and the indices it was fitted with."""

    index: _Index
    model: DawidSkene | MultiLabelDawidSkene
    _cache: dict[str, tuple[tuple[str, float | None], ...]] = field(default_factory=dict, compare=False, repr=False)

    def quality(self, workers: Iterable[str]) -> tuple[WorkerQuality, ...]:
        """Each worker's expected accuracy and informativeness (0 spammer … 1 perfect) in the batch;
        ``None`` for a worker with no evidence (only lone answers, and nothing from earlier batches):
        their confusion matrix is the prior's presumption, not a measure of them."""
        return tuple(WorkerQuality(worker, self._figures(worker)) for worker in workers)

    def _figures(self, worker: str) -> tuple[tuple[str, float | None], ...]:
        """One worker's figures, computed once per batch (a worker's rows repeat in every object)."""
        found = self._cache.get(worker)
        if found is None:
            i = self.index.workers[worker]
            measured = bool(self.model.worker_evidence_[i] > 0)
            accuracy = np.asarray(self.model.accuracies_)[i]
            informativeness = np.asarray(self.model.informativeness_)[i]
            found = self._cache[worker] = (
                ("accuracy", figure(float(np.mean(accuracy)) if measured else None)),
                ("informativeness", figure(float(np.mean(informativeness)) if measured else None)),
            )
        return found


class _Classification:
    """What single- and multi-label classification share."""

    uses_batch_model = True
    needs_labels = True
    multi = False

    def prepare(self, job: JobContext) -> None:
        job.require_labels()

    def _type(self, obj: DatasetObject) -> str:
        if self.multi:
            text = TaskType.TEXT_CLASSIFICATION_MULTILABEL
            image = TaskType.IMAGE_CLASSIFICATION_MULTILABEL
            video = TaskType.VIDEO_CLASSIFICATION_MULTILABEL
        else:
            text, image, video = (
                TaskType.TEXT_CLASSIFICATION,
                TaskType.IMAGE_CLASSIFICATION,
                TaskType.VIDEO_CLASSIFICATION,
            )
        if is_video_object(obj):
            return video.value
        return (text if is_text_object(obj) else image).value

    @staticmethod
    def _require(obj: DatasetObject, usable: Sequence[Any], issues: list[AnswerIssue]) -> None:
        if not usable:
            raise no_usable_answer(obj, issues)

    def _shape(self, job: JobContext) -> tuple[int, ...]:
        """One worker's confusion counts: ``(K, K)``, or ``(L, 2, 2)`` for multi-label."""
        n = len(job.require_labels().names)
        return (n, 2, 2) if self.multi else (n, n)

    def statistics_name(self, job: JobContext) -> str:
        shape = "x".join(str(n) for n in self._shape(job))
        return f"multi-label-classification/{shape}" if self.multi else f"classification/{shape}"

    def statistics_keys(self, summaries: Sequence[tuple[str, Any]], job: JobContext) -> list[str]:
        return list(_Index.of(summaries).workers)

    def _prior(self, index: _Index, job: JobContext, prior: WorkerStatistics) -> npt.NDArray[np.float64] | None:
        shape = self._shape(job)
        size = int(np.prod(shape))
        counts = np.zeros((len(index.workers), *shape))
        used = False
        for worker, i in index.workers.items():
            values = prior.get(worker)
            if values is not None and len(values) == size:
                counts[i] = np.asarray(values, dtype=np.float64).reshape(shape)
                used = True
        return counts if used else None

    def statistics(self, model: ClassificationModel, job: JobContext) -> WorkerStatistics:
        counts = np.asarray(model.model.worker_statistics_, dtype=np.float64)
        return {w: counts[i].ravel().tolist() for w, i in model.index.workers.items() if counts[i].any()}


class SingleLabelClassification(SingleLabelShape, _Classification):
    def observe(self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext) -> Observed[Votes, None]:
        labels = job.require_labels()
        issues: list[AnswerIssue] = []
        votes: list[tuple[str, int]] = []
        for answer in answers:
            name = str(answer.element["label"])
            index = labels.index(name)
            if index is None:
                issues.append(AnswerIssue(answer.worker_id, f"label not among the job's labels: {shown_label(name)}"))
            else:
                votes.append((answer.worker_id, index))
        self._require(obj, votes, issues)
        known = gold_column(answers, [w for w, _ in votes], least=1)
        summary = tuple(votes) if known is None else GoldVotes.of(votes, votes[known][1])
        return Observed(summary, None, issues, answers_used=len(votes))

    def fit(self, summaries: Sequence[tuple[str, Votes]], job: JobContext) -> ClassificationModel:
        return self.fit_with_prior(summaries, job, {})

    def fit_with_prior(
        self, summaries: Sequence[tuple[str, Votes]], job: JobContext, prior: WorkerStatistics
    ) -> ClassificationModel:
        index = _Index.of(summaries)
        rows = [(index.objects[o], index.workers[w], k) for o, votes in summaries for w, k in votes]
        tasks, workers, classes = ([r[i] for r in rows] for i in range(3))
        answers = ClassAnswers(
            tasks,
            workers,
            classes,
            n_tasks=len(index.objects),
            n_workers=len(index.workers),
            n_classes=len(job.require_labels().names),
        )
        known = None
        if any(isinstance(votes, GoldVotes) for _, votes in summaries):
            known = np.full(len(index.objects), -1, dtype=np.intp)
            for o, votes in summaries:
                if isinstance(votes, GoldVotes):
                    known[index.objects[o]] = votes.known
        return ClassificationModel(index, DawidSkene().fit(answers, self._prior(index, job, prior), known))

    def consolidate(
        self, obj: DatasetObject, observed: Observed[Votes, None], model: ClassificationModel | None, job: JobContext
    ) -> ObjectResult:
        if model is None or observed.summary is None:
            raise RuntimeError("classification needs its batch model")
        names = job.require_labels().names
        ds = model.model
        assert isinstance(ds, DawidSkene)
        row = model.index.objects[obj.dataset_object_id]
        k = int(ds.labels_[row])
        confidence = round(float(ds.posteriors_[row, k]), DIGITS)
        result = SingleLabel(k, names[k], confidence, model.quality(w for w, _ in observed.summary))
        return consolidated(
            obj, self._type(obj), observed, result.to_gt(), result.metadata(), confidence, _BATCH_FIGURES
        )


class MultiLabelClassification(MultiLabelShape, _Classification):
    multi = True

    def observe(self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext) -> Observed[MultiVotes, None]:
        labels = job.require_labels()
        issues: list[AnswerIssue] = []
        votes: list[tuple[str, frozenset[int]]] = []
        for answer in answers:
            chosen = [str(n) for n in answer.element["labels"]]
            unknown = _unknown(labels, chosen)
            if unknown:
                reason = f"labels not among the job's labels: {', '.join(unknown[:5])}"
                issues.append(AnswerIssue(answer.worker_id, reason))
                continue
            votes.append((answer.worker_id, frozenset(i for n in chosen if (i := labels.index(n)) is not None)))
        self._require(obj, votes, issues)
        known = gold_column(answers, [w for w, _ in votes], least=1)
        summary = tuple(votes) if known is None else GoldVotes.of(votes, votes[known][1])
        return Observed(summary, None, issues, answers_used=len(votes))

    def fit(self, summaries: Sequence[tuple[str, MultiVotes]], job: JobContext) -> ClassificationModel:
        return self.fit_with_prior(summaries, job, {})

    def fit_with_prior(
        self, summaries: Sequence[tuple[str, MultiVotes]], job: JobContext, prior: WorkerStatistics
    ) -> ClassificationModel:
        index = _Index.of(summaries)
        n_labels = len(job.require_labels().names)
        rows = [(index.objects[o], index.workers[w], chosen) for o, votes in summaries for w, chosen in votes]
        sets: npt.NDArray[np.int8] = np.zeros((len(rows), n_labels), dtype=np.int8)
        for r, (_, _, chosen) in enumerate(rows):
            sets[r, list(chosen)] = 1
        answers = LabelSetAnswers(
            [r[0] for r in rows], [r[1] for r in rows], sets, n_tasks=len(index.objects), n_workers=len(index.workers)
        )
        known = None
        if any(isinstance(votes, GoldVotes) for _, votes in summaries):
            known = np.full((len(index.objects), n_labels), -1, dtype=np.intp)
            for o, votes in summaries:
                if isinstance(votes, GoldVotes):
                    known[index.objects[o]] = 0
                    known[index.objects[o], sorted(votes.known)] = 1
        return ClassificationModel(index, MultiLabelDawidSkene().fit(answers, self._prior(index, job, prior), known))

    def consolidate(
        self,
        obj: DatasetObject,
        observed: Observed[MultiVotes, None],
        model: ClassificationModel | None,
        job: JobContext,
    ) -> ObjectResult:
        if model is None or observed.summary is None:
            raise RuntimeError("classification needs its batch model")
        names = job.require_labels().names
        ds = model.model
        assert isinstance(ds, MultiLabelDawidSkene)
        row = model.index.objects[obj.dataset_object_id]
        present = np.asarray(ds.posteriors_[row], dtype=np.float64)  # P(label present), per label
        chosen = [int(i) for i in np.flatnonzero(ds.labels_[row])]
        decided = np.where(ds.labels_[row], present, 1.0 - present)
        confidence = round(float(decided.mean()) if len(decided) else 0.0, DIGITS)
        result = MultiLabel(
            tuple(chosen),
            tuple(names[i] for i in chosen),
            tuple(round(float(present[i]), DIGITS) for i in chosen),
            confidence,
            model.quality(w for w, _ in observed.summary),
        )
        return consolidated(
            obj, self._type(obj), observed, result.to_gt(), result.metadata(), confidence, _BATCH_FIGURES
        )
