"""The polyline and line adapter (``crowd-polyline``, ``crowd-line``): matched across workers by a distance that
depends neither on vertex count nor on direction, kept where the crowd agrees (the boxes' keep rule),
fused into one line per match (:class:`tally.aggregation.lines.LineConsolidation`).

Answers are recognised by shape, whatever the element's name: ``{"polylines": [{"label", "vertices":
[{"x", "y"}, ...]}], "inputImageProperties": {"width", "height"}}`` and ``{"lines": [...]}`` (two
vertices each). A form field of either element goes through :func:`tally.tasks.fields.consolidate_field`
(``polyline`` or ``line``) with the element's ``labels``.

A line with a label the job does not have, or with fewer than two vertices, is left out with a warning;
an answer without ``inputImageProperties`` (the distance's scale), with vertices that are not finite
numbers, or whose image size is the odd one out, is rejected.

Label (``content[<attr>]``; ``lines`` in place of ``polylines`` for ``crowd-line``)::

    {"polylines": [{"label": "lane", "class_id": 0, "vertices": [{"x": 10.5, "y": 700.0}, ...],
                    "confidence": 0.92, "workers": ["w1", "w2", "w3"]}, ...],
     "class-map": {"0": "lane"}, "image_size": [{"width": 1280, "height": 720, "depth": 3}],
     "confidence": 0.92, "worker-quality": [{"workerId", "precision", "recall", "weight"}, ...]}

A line's ``confidence`` is ``support × agreement`` (a line only one worker drew: 0, as for boxes);
``workers`` are those whose lines were fused into it. The object's ``confidence`` is the mean of its
lines'; with none kept, the share of answers that drew nothing. ``worker-quality``: ``precision`` (the
share of the worker's lines another worker matched), ``recall`` (of the lines more than half of the
others drew) and keep ``weight``, over the batch and the job's earlier batches; ``null`` where nothing
measured them (docs/output-format.md).

Gold: with an answer marked ``annotationData.gold`` among two or more (only an importer can mark it:
Ground Truth writes ``annotationData`` itself, and a worker's output is only inside its ``content``;
the first marked answer the core keeps: :func:`~tally.tasks.base.gold_column`), the
object is the gold answer's lines alone, each with confidence 1, and the model counts the others against
it (:class:`GoldLineSummary`; :meth:`~tally.aggregation.lines.LineConsolidation.fit`'s ``known``).

Across batches (:mod:`tally.worker_store`): the eight counts of
:data:`~tally.aggregation.lines.STATISTICS` per worker, under ``polyline/8`` or ``line/8``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ...aggregation.base import as_truth
from ...aggregation.lines import STATISTICS, FusedLines, LineConsolidation, LineObject, WorkerLines
from ...errors import AnswerError, ObjectError
from ...gt.answers import AnswerIssue
from ...gt.response import Members, members_of
from ...labels import LabelSet, batch_labels
from ...worker_store import WorkerStatistics
from ..base import DIGITS, JobContext, figure, gold_index, known_labels, majority_size
from ..fields import FieldBounds, FusingModel, KindTask
from ..kind import WorkerQuality
from . import FusedLine, LinesResult, LinesShape, PolylinesShape

__all__ = ["LINES", "POLYLINES", "GoldLineSummary", "LineSummary", "Lines", "Polylines"]

_BATCH_FIGURES = ("precision", "recall", "weight")


@dataclass(frozen=True)
class _Read:
    """One answer read: class indices, lines, image size and warnings."""

    classes: tuple[int, ...]
    lines: tuple[npt.NDArray[np.float64], ...]
    size: tuple[int, int]
    warnings: tuple[str, ...]
    sources: tuple[int, ...] = ()  # each kept line's index in the answer's list


@dataclass(frozen=True)
class LineSummary:
    """One object's lines: ``(worker, class indices, lines)`` per usable answer, on an image of
    ``width × height``."""

    answers: tuple[tuple[str, tuple[int, ...], tuple[npt.NDArray[np.float64], ...]], ...]
    width: int
    height: int
    sources: tuple[tuple[int, ...], ...] = ()
    """Per answer, each of its lines' index in the answer's list (empty: not recorded)."""


@dataclass(frozen=True)
class GoldLineSummary(LineSummary):
    """An object's lines when one answer is marked gold (``annotationData.gold``, which only an importer
    can set: :func:`~tally.tasks.base.gold_column`): every answer, for the batch model, which counts the
    others against answer ``known`` (:meth:`~tally.aggregation.lines.LineConsolidation.fit`'s ``known``);
    the object is the gold answer alone (:meth:`alone`, with its lines' sources: the object's members),
    with confidence 1: never outvoted."""

    known: int = dataclasses.field(kw_only=True)

    def alone(self) -> LineSummary:
        sources = (self.sources[self.known],) if self.sources else ()
        return LineSummary((self.answers[self.known],), self.width, self.height, sources)


_NUMBERS = (int, float)


def _size(element: Mapping[str, Any]) -> tuple[int, int] | None:
    props = element.get("inputImageProperties")
    if not isinstance(props, dict):
        return None
    width, height = props.get("width"), props.get("height")
    if isinstance(width, bool) or isinstance(height, bool):
        return None
    if not isinstance(width, int | float) or not isinstance(height, int | float) or width <= 0 or height <= 0:
        return None
    return int(width), int(height)


@dataclass
class LineModel(FusingModel[LineSummary]):
    """A fitted batch: the consolidation, its worker indices, every object's fused lines (decided once,
    for the whole batch, at the fit) and the label names."""

    model: LineConsolidation
    key: str
    names: tuple[str, ...]
    workers: dict[str, int]
    fused: dict[str, FusedLines]
    measured: npt.NDArray[np.float64]  # per worker: (lines, chances) over the batch and the prior
    batch_figures: tuple[str, ...] = _BATCH_FIGURES

    def _fused(self, object_id: str, summary: LineSummary) -> FusedLines:
        found = self.fused.get(object_id)
        if found is not None:
            return found
        return self.model.predict([_line_object(summary, self.workers)])[0]

    def label(self, object_id: str, summary: LineSummary) -> tuple[dict[str, Any], dict[str, Any], float]:
        if isinstance(summary, GoldLineSummary):  # the gold answer alone: fused at the fit, confidence 1
            summary = summary.alone()
        return self._label(self._fused(object_id, summary), summary)

    def label_members(
        self, object_id: str, summary: LineSummary
    ) -> tuple[dict[str, Any], dict[str, Any], float, Members | None]:
        """:meth:`label` and, per fused line (the label's order), ``(workerId, index of the line in the
        worker's answer)`` of the lines fused into it (:attr:`~tally.gt.response.ObjectResult.members`;
        ``None``: the answers' line indices were not recorded), from one prediction."""
        if isinstance(summary, GoldLineSummary):  # the gold answer alone: fused at the fit, confidence 1
            summary = summary.alone()
        fused = self._fused(object_id, summary)
        label, metadata, confidence = self._label(fused, summary)
        if len(summary.sources) != len(summary.answers):
            return label, metadata, confidence, None
        workers = [worker for worker, _, _ in summary.answers]
        return label, metadata, confidence, members_of(workers, summary.sources, fused.members)

    def _label(self, fused: FusedLines, summary: LineSummary) -> tuple[dict[str, Any], dict[str, Any], float]:
        ids = {k: w for w, k in self.workers.items()}
        items: list[FusedLine] = []
        for c, line, conf, workers in zip(fused.labels, fused.lines, fused.confidence, fused.workers, strict=True):
            c = int(str(c))
            items.append(
                FusedLine(
                    self.names[c],
                    c,
                    tuple((round(float(x), 2), round(float(y), 2)) for x, y in np.asarray(line)),
                    round(float(conf), DIGITS),
                    tuple(ids[k] for k in workers),
                )
            )
        if items:
            confidence = round(float(np.mean([i.confidence for i in items])), DIGITS)
        else:
            confidence = round(sum(1 for _, c, _ in summary.answers if not c) / len(summary.answers), DIGITS)
        quality = []
        for w, _, _ in summary.answers:
            k = self.workers[w]
            drew, chances = self.measured[k]
            m = self.model
            figures = (
                ("precision", figure(float(m.precision_[k])) if drew > 0 else None),
                ("recall", figure(float(m.recall_[k])) if chances > 0 else None),
                ("weight", figure(float(m.keep_weights_[k])) if drew > 0 else None),
            )
            quality.append(WorkerQuality(w, figures))
        class_map = {str(c): self.names[c] for c in sorted({i.class_id for i in items})}
        result = LinesResult(
            self.key, tuple(items), class_map, summary.width, summary.height, confidence, tuple(quality)
        )
        return result.to_gt(), result.metadata(), confidence

    def statistics(self) -> WorkerStatistics:
        stats = self.model.worker_statistics_
        return {w: stats[k].tolist() for w, k in self.workers.items() if k < len(stats) and stats[k].any()}


def _line_object(summary: LineSummary, workers: Mapping[str, int]) -> LineObject:
    return LineObject(
        tuple(WorkerLines(workers[w], tuple(str(c) for c in classes), lines) for w, classes, lines in summary.answers),
        summary.width,
        summary.height,
    )


class _LineKind:
    """Polylines or lines as a :class:`tally.tasks.fields.Kind`."""

    def __init__(self, kind: Literal["polyline", "line"], key: str) -> None:
        self.kind = kind
        self.key = key
        self.statistics_name = f"{kind}/{len(STATISTICS)}"

    def setup(self, bounds: FieldBounds | None, values: Sequence[Any]) -> LabelSet:
        if bounds is not None and bounds.labels is not None:
            return LabelSet(tuple(bounds.labels), "event")
        used = (
            str(i.get("label"))
            for v in values
            if isinstance(v, dict) and isinstance(v.get(self.key), list)
            for i in v[self.key]
            if isinstance(i, dict)
        )
        return batch_labels(used)

    def read(self, value: Any, setup: LabelSet) -> _Read:
        if not isinstance(value, dict):
            raise AnswerError(f"not a {self.kind} element's object")
        size = _size(value)
        if size is None:
            raise AnswerError(f"no inputImageProperties (width and height) to place the {self.key} in")
        raw = value.get(self.key)
        if not isinstance(raw, list) or not all(isinstance(i, dict) for i in raw):
            raise AnswerError(f"{self.key} is not a list of objects")
        lines: list[npt.NDArray[np.float64] | None] = []
        for item in raw:
            vertices = item.get("vertices")
            if not isinstance(vertices, list) or not all(type(v) is dict for v in vertices):
                raise AnswerError(f"a {self.kind}'s vertices are not a list of {{x, y}}")
            points = [(v.get("x"), v.get("y")) for v in vertices]
            if not all(type(c) in _NUMBERS for p in points for c in p):  # JSON numbers: no bool, no text
                raise AnswerError("a vertex's x or y is not a finite number")
            array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
            if not np.isfinite(array).all():
                raise AnswerError("a vertex's x or y is not a finite number")
            lines.append(array if len(array) >= 2 else None)
        indices, warnings = known_labels(setup, [str(i.get("label")) for i in raw], "lines")
        short = sum(1 for line in lines if line is None)
        if short:
            warnings.append(f"{short} {self.kind}(s) with fewer than two vertices were left out")
        keep = [
            (c, line, j)
            for j, (c, line) in enumerate(zip(indices, lines, strict=True))
            if c is not None and line is not None
        ]
        return _Read(
            tuple(c for c, _, _ in keep),
            tuple(line for _, line, _ in keep),
            size,
            tuple(warnings),
            tuple(j for _, _, j in keep),
        )

    def summarise(self, parsed: Sequence[tuple[str, Any]], issues: list[AnswerIssue]) -> LineSummary:
        best, odd = majority_size([(w, r.size) for w, r in parsed], "image")
        issues.extend(odd)
        kept = [(w, r) for w, r in parsed if r.size == best]
        for w, r in kept:
            issues.extend(AnswerIssue(w, warning, rejected=False) for warning in r.warnings)
        if not kept:
            raise ObjectError("no usable answer", issues)
        return LineSummary(
            tuple((w, r.classes, r.lines) for w, r in kept), best[0], best[1], tuple(r.sources for _, r in kept)
        )

    def keys(self, summaries: Sequence[tuple[str, LineSummary]]) -> list[str]:
        return list(dict.fromkeys(w for _, s in summaries for w, _, _ in s.answers))

    def held(self, summary: LineSummary, gold: Sequence[str]) -> LineSummary:
        """The summary with the first of ``gold``'s answers it kept as its gold one
        (:class:`GoldLineSummary`; an answer an importer marked gold:
        :class:`tally.tasks.fields.LearnsFromGold`)."""
        known = gold_index(gold, [w for w, _, _ in summary.answers])
        if known is None:
            return summary
        return GoldLineSummary(summary.answers, summary.width, summary.height, summary.sources, known=known)

    def fit(self, summaries: Sequence[tuple[str, LineSummary]], setup: LabelSet, prior: WorkerStatistics) -> LineModel:
        workers: dict[str, int] = {}
        for _, s in summaries:
            for w, _, _ in s.answers:
                workers.setdefault(w, len(workers))
        n = len(STATISTICS)
        extra = np.zeros((len(workers), n))
        for w, k in workers.items():
            stored = prior.get(w)
            if stored is not None and len(stored) == n:
                extra[k] = stored
        objects = [_line_object(s, workers) for _, s in summaries]
        known = [s.known if isinstance(s, GoldLineSummary) else None for _, s in summaries]
        if any(k is not None for k in known):
            model = LineConsolidation(kind=self.kind).fit(objects, prior=extra if extra.any() else None, known=known)
            alone = [_line_object(s.alone(), workers) if isinstance(s, GoldLineSummary) else o
                     for (_, s), o in zip(summaries, objects, strict=True)]  # fmt: skip
            fused = [as_truth(f) if k is not None else f for f, k in zip(model.predict(alone), known, strict=True)]
        else:
            model = LineConsolidation(kind=self.kind).fit(objects, prior=extra if extra.any() else None)
            fused = model.predict(objects)
        own = np.zeros((len(workers), n))
        own[: len(model.worker_statistics_)] = model.worker_statistics_[: len(workers)]
        total = own + extra
        measured = total[:, [0, 2]]  # lines drawn, chances
        return LineModel(
            model, self.key, setup.names, workers, {o: f for (o, _), f in zip(summaries, fused, strict=True)}, measured
        )


POLYLINES = _LineKind("polyline", "polylines")
"""The polyline kind (:data:`tally.tasks.fields.FIELD_KINDS`)."""
LINES = _LineKind("line", "lines")
"""The line kind (``crowd-line``)."""


class _LineTask(KindTask[LineSummary]):
    needs_labels = True
    kind: _LineKind

    def setup_for(self, job: JobContext) -> LabelSet:
        return job.require_labels()

    def prepare(self, job: JobContext) -> None:
        job.require_labels()


class Polylines(PolylinesShape, _LineTask):
    """A custom job whose template is a ``crowd-polyline`` (module docstring)."""

    kind = POLYLINES


class Lines(LinesShape, _LineTask):
    """A custom job whose template is a ``crowd-line`` (module docstring)."""

    kind = LINES
