"""The number adapter (``crowd-slider``, a number input, a 1–5 rating): a worker-aware mean over the batch
(:class:`tally.aggregation.ratings.CalibratedMean`: each rater's offset and noise, random answers
weighing next to nothing), on the element's scale, with an interval as the confidence.

A custom job whose template's only field is a number sends ``{"<name>": 4}``; the answer is recognised
by that shape (:class:`~tally.gt.answers.BareValue`). A form field of kind ``number`` goes through
:func:`tally.tasks.fields.consolidate_field` with the template's ``min``, ``max`` and ``step``.

**The scale.** With the template's bounds (a form field), an answer outside ``[min, max]`` or off the
step's grid is rejected with its reason. Without them (a job's only element: its answers do not carry
the slider's attributes), the scale is read from the batch: ``min`` and ``max`` are its smallest and
largest answers, and ``step`` the largest of 1, 0.5, 0.25, 0.2, 0.1, 0.05, 0.01 that every answer is on
(none: no step); when every answer of the batch is the same number, that number is the value with the
interval ``[value, value]`` and confidence 1 (there is no scale to measure an interval against). A
missing step of a field is inferred the same way. The value is clipped to the scale
and put on the step's grid (half-way goes up), so it is something the element could have submitted;
the interval (90 % under the model) is snapped outwards.

Label (``content[<attr>]``)::

    {"value": 4, "interval": [3, 5], "confidence": 0.5,
     "scale": {"min": 1, "max": 5, "step": 1, "from": "template"},
     "answers": [{"workerId": "w1", "value": 5, "weight": 0.31}, ...],
     "worker-quality": [{"workerId": "w1", "offset": 0.82, "noise": 0.41, "random-share": 0.05}, ...]}

``confidence`` is ``1 - interval width / scale width``; ``answers`` keeps every worker's number (as
given) with its share of the value; ``scale.from`` is ``template``, ``answers`` or
``template+answers`` (the step inferred). ``worker-quality``: the rater's ``offset`` (answer minus
value, in the scale's units), ``noise`` (standard deviation) and ``random-share``, over the batch (and
the job's earlier batches); ``null`` for a rater seen only on objects nobody else answered.

A gold answer (``annotationData.gold``, an importer's ground truth: :class:`GoldNumberSummary`) is the
object's value (interval ``[value, value]``, confidence 1, the gold answer alone in ``answers``); the
others' answers to it are judged against it (:class:`CalibratedMean`'s ``known``).

Across batches (:mod:`tally.worker_store`): a rater's statistics are :data:`~tally.aggregation.ratings.STATISTICS`
(five sums in the answers' units), under ``number/5``; a field whose scale changes between batches
should be given a new name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...aggregation.ratings import STATISTICS, CalibratedMean
from ...errors import AnswerError
from ...gt.answers import AnswerIssue
from ...worker_store import WorkerStatistics
from ..base import DIGITS, figure, gold_index
from ..fields import FieldBounds, KindTask
from ..kind import WorkerQuality
from . import NumberAnswer, NumberResult, NumberShape, Scale

__all__ = ["NUMBERS", "GoldNumberSummary", "NumberSummary", "Numbers", "infer_step"]

_BATCH_FIGURES = ("offset", "noise", "random-share")
_STEPS = (1.0, 0.5, 0.25, 0.2, 0.1, 0.05, 0.01)


def infer_step(values: Sequence[float], origin: float = 0.0) -> float | None:
    """The largest of 1, 0.5, 0.25, 0.2, 0.1, 0.05, 0.01 every value is on (from ``origin``), or ``None``.

    Example:
        >>> infer_step([1, 3, 5]), infer_step([0.5, 2.0]), infer_step([0.3, 0.75]), infer_step([1 / 3])
        (1.0, 0.5, 0.05, None)
    """
    array = np.asarray(values, dtype=np.float64) - origin
    for step in _STEPS:
        k = array / step
        if np.all(np.abs(k - np.round(k)) <= 1e-6):
            return step
    return None


@dataclass(frozen=True)
class NumberSummary:
    """One object's numbers: ``(worker, value as given)`` per usable answer."""

    answers: tuple[tuple[str, int | float], ...]


@dataclass(frozen=True)
class GoldNumberSummary(NumberSummary):
    """An object's numbers when one answer is marked gold (``annotationData.gold``, which only an importer
    can set: :func:`~tally.tasks.base.gold_column`): every answer, for the fit, which holds the object at
    answer ``known``'s value and judges the others against it (:class:`CalibratedMean`'s ``known``; the
    gold annotator is not a rater of it); the object is the gold answer alone, confidence 1: never
    outvoted."""

    known: int = dataclasses.field(kw_only=True)


@dataclass(frozen=True)
class _Setup:
    bounds: FieldBounds | None


@dataclass
class NumberModel:
    """A fitted batch: the calibrated mean, its indices and the scale it used."""

    model: CalibratedMean
    scale: Scale
    objects: dict[str, int]
    workers: dict[str, int]
    first_answer: dict[str, int]  # object -> its first row in the fit's answer arrays
    measured: np.ndarray  # per worker: any evidence (batch or prior)
    batch_figures: tuple[str, ...] = _BATCH_FIGURES

    def label(self, object_id: str, summary: NumberSummary) -> tuple[dict[str, Any], dict[str, Any], float]:
        m, scale = self.model, self.scale
        t = self.objects[object_id]
        first = self.first_answer[object_id]
        value = scale.shown(float(m.values_[t]))
        if isinstance(summary, GoldNumberSummary):  # the gold answer alone, the known truth
            w, v = summary.answers[summary.known]
            gold = NumberResult(value, (value, value), 1.0, scale, (NumberAnswer(w, v, 1.0),), (self._quality(w),))
            return gold.to_gt(), gold.metadata(), 1.0
        if scale.source == "answers" and scale.minimum is not None and scale.minimum == scale.maximum:
            # every answer of the batch is this number: no scale to measure an interval against
            interval, confidence = [value, value], 1.0
        else:
            interval = [scale.shown(float(v)) for v in m.intervals_[t]]
            confidence = round(float(m.confidence_[t]), DIGITS)
        answers = tuple(
            NumberAnswer(w, v, figure(float(m.answer_weights_[first + i]))) for i, (w, v) in enumerate(summary.answers)
        )
        quality = tuple(self._quality(w) for w, _ in summary.answers)
        result = NumberResult(value, (interval[0], interval[1]), confidence, scale, answers, quality)
        return result.to_gt(), result.metadata(), confidence

    def _quality(self, worker: str) -> WorkerQuality:
        m, k = self.model, self.workers[worker]
        seen = bool(self.measured[k])
        figures = (
            ("offset", figure(float(m.bias_[k])) if seen else None),
            ("noise", figure(float(m.noise_[k])) if seen else None),
            ("random-share", figure(float(m.random_share_[k])) if seen else None),
        )
        return WorkerQuality(worker, figures)

    def statistics(self) -> WorkerStatistics:
        stats = self.model.worker_statistics_
        return {w: stats[k].tolist() for w, k in self.workers.items() if stats[k].any()}


class _NumberKind:
    """Numbers as a :class:`tally.tasks.fields.Kind`."""

    statistics_name = f"number/{len(STATISTICS)}"

    def setup(self, bounds: FieldBounds | None, values: Sequence[Any]) -> _Setup:
        return _Setup(bounds)

    def read(self, value: Any, setup: _Setup) -> int | float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AnswerError(f"a {type(value).__name__} is not a number")
        if not math.isfinite(value):
            raise AnswerError("the number is not finite")
        bounds = setup.bounds
        if bounds is not None:
            problem = Scale(bounds.minimum, bounds.maximum, bounds.step, "template").on_scale(float(value))
            if problem is not None:
                raise AnswerError(problem)
        return value

    def summarise(self, parsed: Sequence[tuple[str, Any]], issues: list[AnswerIssue]) -> NumberSummary:
        return NumberSummary(tuple(parsed))

    def keys(self, summaries: Sequence[tuple[str, NumberSummary]]) -> list[str]:
        return list(dict.fromkeys(w for _, s in summaries for w, _ in s.answers))

    def held(self, summary: NumberSummary, gold: Sequence[str]) -> NumberSummary:
        """The summary with the first of ``gold``'s answers it kept as its gold one
        (:class:`GoldNumberSummary`; an answer an importer marked gold:
        :class:`tally.tasks.fields.LearnsFromGold`)."""
        known = gold_index(gold, [w for w, _ in summary.answers])
        return summary if known is None else GoldNumberSummary(summary.answers, known=known)

    @staticmethod
    def scale(bounds: FieldBounds | None, values: Sequence[float]) -> Scale:
        """The scale of a batch (module docstring)."""
        if bounds is None:
            low, high = (min(values), max(values)) if values else (None, None)
            return Scale(low, high, infer_step(values, low or 0.0), "answers")
        if bounds.step is not None:
            return Scale(bounds.minimum, bounds.maximum, bounds.step, "template")
        return Scale(bounds.minimum, bounds.maximum, infer_step(values, bounds.minimum or 0.0), "template+answers")

    def fit(
        self, summaries: Sequence[tuple[str, NumberSummary]], setup: _Setup, prior: WorkerStatistics
    ) -> NumberModel:
        objects = {o: i for i, (o, _) in enumerate(summaries)}
        workers: dict[str, int] = {}
        rows_t: list[int] = []
        rows_w: list[int] = []
        values: list[float] = []
        first: dict[str, int] = {}
        known = np.full(len(objects), np.nan)
        for o, summary in summaries:
            first[o] = len(values)
            gold = summary.known if isinstance(summary, GoldNumberSummary) else None
            for i, (w, v) in enumerate(summary.answers):
                k = workers.setdefault(w, len(workers))
                if i == gold:  # the object's known value, not a reading the model judges
                    known[objects[o]] = float(v)
                    continue
                rows_t.append(objects[o])
                rows_w.append(k)
                values.append(float(v))
        held = ~np.isnan(known)
        scale = self.scale(setup.bounds, values + known[held].tolist())
        extra = np.zeros((len(workers), len(STATISTICS)))
        for w, k in workers.items():
            stored = prior.get(w)
            if stored is not None and len(stored) == len(STATISTICS):
                extra[k] = stored
        low, high = scale.minimum, scale.maximum
        if low is not None and high is not None and not low < high:
            low = high = None
        model = CalibratedMean(low=low, high=high, step=scale.step, snap=scale.step is not None).fit(
            np.asarray(rows_t, dtype=np.intp),
            np.asarray(rows_w, dtype=np.intp),
            np.asarray(values, dtype=np.float64),
            n_objects=len(objects),
            n_workers=len(workers),
            prior=extra,
            known=known if held.any() else None,
        )
        evidence = model.worker_statistics_[:, :2].sum(axis=1) + extra[:, :2].sum(axis=1)
        return NumberModel(model, scale, objects, workers, first, evidence > 0)


NUMBERS = _NumberKind()
"""The number kind (:data:`tally.tasks.fields.FIELD_KINDS`)."""


class Numbers(NumberShape, KindTask[NumberSummary]):
    """A custom job whose only field is a number (module docstring)."""

    kind = NUMBERS

    def value_of(self, element: Any) -> Any:
        return element.get("value")
