"""Semantic segmentation's adapter (``<crowd-semantic-segmentation>`` answers).

Each answer is ``{inputImageProperties: {height, width}, labelMappings: {label: {color}},
labeledImage: {pngImageData}}``. Every worker's PNG is read through **that worker's own**
``labelMappings`` (:mod:`tally.codecs`); an importer's answer may carry its already-decoded class array
instead (``labeledImage: {classRuns}``, :func:`tally.codecs.decode_class_runs`: no PNG is written or
read for it, and its labels are named by ``labelMappings``' order, not by colour). The masks are voted
pixel by pixel (:mod:`tally.aggregation.pixel_vote`), and one palette PNG per object is written under
the batch's mask prefix with a name derived from the object's ID and the PNG's bytes, so a retried
request writes the same key with the same bytes. The label is a
:class:`~tally.tasks.semantic_segmentation.SegmentationResult` (``to_gt()``)::

    {"mask-ref": "s3://.../<id>_<digest>.png", "internal-color-map": {...}, "confidence": 0.93}

With the default ``reliability`` algorithm the label also has ``worker-quality``; where workers gave
one area different classes and the evidence left the decision uncertain (``regions``),
``disputed-regions`` (:mod:`tally.aggregation.disputed_regions`); confidences are expected IoUs
(:mod:`tally.aggregation.weighted_pixel_vote`). Only when confidence maps are asked for (opt-in:
``ConfidenceMaps=true``, ``TALLY_CONFIDENCE_MAPS``, ``--confidence-maps``; off by default) does the
reliability vote also write ``confidence-map-ref``, an 8-bit PNG beside the mask: per pixel, the share
of the weighted vote the final class got. With ``majority``, confidence follows Ground Truth's rule
that an object labelled by a single worker has confidence 0.0; otherwise see
:func:`tally.aggregation.vote_table.class_confidences`.

Gold: when one answer's ``annotationData`` has ``"gold": true`` (an importer sets it, for an
annotation the tool marks as ground truth; no worker can: Ground Truth writes ``annotationData``
itself, and a worker's output is only inside its ``content``; the first such answer the core keeps:
:func:`~tally.tasks.base.gold_column`), the class map is that answer alone, with confidence 1
(never outvoted), and with the reliability vote every answer to the object goes to the batch model,
which judges the others against the gold mask instead of against each other
(:class:`GoldObjectVotes`; :meth:`~tally.aggregation.weighted_pixel_vote.LeaveOneOutWeights.fit`'s
``known``): their weights on the other objects come from the gold. A gold answer the core rejects
holds nothing: the next marked answer the core keeps is the gold one, and without one the crowd decides
as on any other object; a gold answer alone is voted as any lone answer.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from ...aggregation.disputed_regions import NO_ANSWER, Region
from ...aggregation.pixel_vote import interior_counts, reliability_table, vote_image
from ...aggregation.vote_table import ABSTAIN, IndexedMask, VoteTable, tabulate
from ...aggregation.weighted_pixel_vote import LeaveOneOutWeights, ObjectVotes
from ...codecs import (
    decode_class_runs,
    decode_png,
    encode_gray_png,
    encode_palette_png,
    hex_to_rgb,
    index_classes,
    index_mask,
)
from ...errors import AnswerError
from ...gt.answers import Answer, AnswerIssue
from ...gt.events import DatasetObject, describe_validation_error
from ...gt.response import ObjectResult, artefact_name
from ...labels import ClassTable, LabelSet
from ...settings import Settings
from ...storage import join_uri
from ...worker_store import WorkerStatistics
from ..base import DIGITS, JobContext, Observed, consolidated, figure, gold_column, majority_size, no_usable_answer
from ..kind import ClassColour, WorkerQuality
from . import DisputedRegion, SegmentationResult, SegmentationShape

__all__ = ["SemanticSegmentation"]

_BATCH_FIGURES = ("batch-reliability",)
"""The key of a ``worker-quality`` row that is the worker's figure over the batch (``reliability`` and
``weight`` are the worker's in this object)."""
logger = logging.getLogger(__name__)


class _Size(BaseModel):
    model_config = ConfigDict(extra="ignore")
    height: int = Field(gt=0)
    width: int = Field(gt=0)


class _Colour(BaseModel):
    model_config = ConfigDict(extra="ignore")
    color: str


class _Image(BaseModel):
    model_config = ConfigDict(extra="ignore")
    png_image_data: str = Field(alias="pngImageData")


class SegmentationAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")
    input_image_properties: _Size | None = Field(default=None, alias="inputImageProperties")
    label_mappings: dict[str, _Colour] = Field(default_factory=dict, alias="labelMappings")
    labeled_image: _Image = Field(alias="labeledImage")


class _Runs(BaseModel):
    model_config = ConfigDict(extra="ignore")
    class_runs: list[StrictInt] = Field(alias="classRuns")


class DecodedAnswer(BaseModel):
    """An answer whose mask is already decoded (module docstring): its size is required."""

    model_config = ConfigDict(extra="ignore")
    input_image_properties: _Size = Field(alias="inputImageProperties")
    label_mappings: dict[str, _Colour] = Field(default_factory=dict, alias="labelMappings")
    labeled_image: _Runs = Field(alias="labeledImage")


def _names(names: Iterable[str], limit: int = 5) -> str:
    listed = sorted(names)
    return ", ".join(listed[:limit]) + (f" and {len(listed) - limit} more" if len(listed) > limit else "")


@dataclass
class _Colours:
    """One worker's colours → class keys; colours of labels the job lacks get temporary keys above the
    job's (``unknown``: key → label) so their pixels can be counted before they turn into no-votes."""

    table: dict[tuple[int, int, int], int] = field(default_factory=dict)
    unknown: dict[int, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _colour_table(answer: SegmentationAnswer, labels: LabelSet) -> _Colours:
    out = _Colours()
    next_unknown = len(labels.names) + 1
    for name, mapping in answer.label_mappings.items():
        try:
            rgb = hex_to_rgb(mapping.color)
        except ValueError:
            out.warnings.append("a labelMappings colour is not a hex colour; its pixels cast no vote")
            continue
        index = labels.index(name)
        if index is not None:
            key = index + 1
        elif next_unknown < ABSTAIN:
            key, next_unknown = next_unknown, next_unknown + 1
            out.unknown[key] = name
        else:
            key = ABSTAIN
        if out.table.get(rgb, key) != key:
            out.warnings.append("two labels share one colour; its pixels cast no vote")
            key = ABSTAIN
        out.table[rgb] = key
    return out


def _name_keys(names: Iterable[str], labels: LabelSet) -> tuple[list[int], _Colours]:
    """A decoded answer's class keys by its labels' order (``keys[0]``, unpainted, is 0); labels the job
    lacks get temporary keys above the job's, as :func:`_colour_table` gives their colours."""
    out = _Colours()
    keys = [0]
    next_unknown = len(labels.names) + 1
    for name in names:
        index = labels.index(name)
        if index is not None:
            keys.append(index + 1)
        elif next_unknown < ABSTAIN:
            keys.append(next_unknown)
            out.unknown[next_unknown] = name
            next_unknown += 1
        else:
            keys.append(ABSTAIN)
    return keys, out


def _unknown_labels(mask: IndexedMask, colours: _Colours) -> tuple[IndexedMask, str | None]:
    """Turn the pixels of labels the job lacks into no-votes. Returns the mask and a warning, or raises
    :class:`AnswerError` when every painted pixel is in such labels (it must not vote as background)."""
    if not colours.unknown:
        return mask, None
    per_index = np.bincount(mask.indices.reshape(-1), minlength=len(mask.lut))
    per_key = np.bincount(mask.lut, weights=per_index[: len(mask.lut)], minlength=256)
    unknown_pixels = {name: int(per_key[key]) for key, name in colours.unknown.items() if per_key[key]}
    lut = mask.lut.copy()
    lut[np.isin(lut, list(colours.unknown))] = ABSTAIN
    if not unknown_pixels:
        return IndexedMask(mask.indices, lut, mask.squares), None
    known = int(per_key[1 : min(colours.unknown)].sum())
    if known == 0:
        raise AnswerError(f"painted only in labels the job does not have: {_names(unknown_pixels)}")
    share = sum(unknown_pixels.values()) / (known + sum(unknown_pixels.values()))
    return IndexedMask(mask.indices, lut, mask.squares), (
        f"{share:.0%} of the painted pixels are in labels the job does not have ({_names(unknown_pixels)}); "
        "they cast no vote"
    )


@dataclass(frozen=True)
class _Decoded:
    workers: list[str]
    table: VoteTable
    votes: ObjectVotes | None = None  # the table's tuples as the reliability vote counts them (built once)
    gold: bool = False  # the table is the gold answer alone (the summary holds every answer, for the model)


@dataclass(frozen=True)
class GoldObjectVotes(ObjectVotes):
    """An object's answers as drawn when one of them is marked gold (``annotationData.gold``, which
    only an importer can set: :func:`~tally.tasks.base.gold_column`): ``known`` is the gold answer's column. The batch
    model judges the other columns against it (:meth:`LeaveOneOutWeights.fit`'s ``known``)."""

    known: int = dataclasses.field(kw_only=True)


class SemanticSegmentation(SegmentationShape):
    """``<crowd-semantic-segmentation>`` answers (module docstring)."""

    needs_labels = True

    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.algorithm
        self.uses_batch_model = settings.algorithm in ("reliability", "regions")
        self.confidence_maps = settings.confidence_maps
        self._classes: ClassTable | None = None

    def prepare(self, job: JobContext) -> None:
        painted = {name: Counter(colours) for name, colours in job.painted.items()}
        self._classes = ClassTable.build(job.require_labels(), painted)

    def _decode(self, answer: Answer, labels: LabelSet) -> tuple[IndexedMask, list[str]]:
        image_data = answer.element.get("labeledImage")
        if isinstance(image_data, dict) and "classRuns" in image_data:
            return self._decoded(answer, labels)
        try:
            parsed = SegmentationAnswer.model_validate(answer.element)
        except ValidationError as exc:
            raise AnswerError(f"not a semantic-segmentation answer: {describe_validation_error(exc)}") from exc
        size = parsed.input_image_properties
        image = decode_png(
            parsed.labeled_image.png_image_data,
            expected_size=(size.width, size.height) if size else None,
        )
        colours = _colour_table(parsed, labels)
        mask = index_mask(image, colours.table)
        if not parsed.label_mappings and (mask.classes() != 0).any():
            raise AnswerError("the mask has coloured pixels but no labelMappings to read them by")
        mask, warning = _unknown_labels(mask, colours)
        return mask, colours.warnings + ([warning] if warning else [])

    def _decoded(self, answer: Answer, labels: LabelSet) -> tuple[IndexedMask, list[str]]:
        """An answer carrying its decoded class array (``classRuns``): no PNG, no colours."""
        try:
            parsed = DecodedAnswer.model_validate(answer.element)
        except ValidationError as exc:
            raise AnswerError(f"not a semantic-segmentation answer: {describe_validation_error(exc)}") from exc
        size, names = parsed.input_image_properties, list(parsed.label_mappings)
        indices = decode_class_runs(parsed.labeled_image.class_runs, size.width, size.height, len(names))
        keys, colours = _name_keys(names, labels)
        mask, warning = _unknown_labels(index_classes(indices, keys), colours)
        return mask, [warning] if warning else []

    def _decode_all(
        self, answers: Sequence[Answer], labels: LabelSet
    ) -> tuple[list[tuple[str, IndexedMask]], list[AnswerIssue]]:
        """Decode every answer; reject the undecodable ones and those whose size is the odd one out."""
        issues: list[AnswerIssue] = []
        decoded: list[tuple[str, IndexedMask]] = []
        for answer in answers:
            try:
                mask, warnings = self._decode(answer, labels)
            except AnswerError as exc:
                issues.append(AnswerIssue(answer.worker_id, str(exc)))
                continue
            decoded.append((answer.worker_id, mask))
            issues.extend(AnswerIssue(answer.worker_id, w, rejected=False) for w in warnings)
        if decoded:
            best, odd = majority_size([(w, (m.shape[1], m.shape[0])) for w, m in decoded], "mask")
            issues.extend(odd)
            decoded = [(w, m) for w, m in decoded if (m.shape[1], m.shape[0]) == best]
        return decoded, issues

    def observe(
        self, obj: DatasetObject, answers: Sequence[Answer], job: JobContext
    ) -> Observed[ObjectVotes, _Decoded]:
        """Decode the masks into one vote table; the summary is the object's vote tuples for the
        reliability model (``None`` with the plain vote)."""
        decoded, issues = self._decode_all(answers, job.require_labels())  # prepare() checked the label count
        if not decoded:
            raise no_usable_answer(obj, issues)
        workers = [w for w, _ in decoded]
        masks = [m for _, m in decoded]
        known = gold_column(answers, workers)
        if known is not None:
            return self._observe_gold(workers, masks, known, issues)
        if self.uses_batch_model:
            table, judged = self._judged(masks, workers)
            # the votes as counted carry the far marks the judged ones read as background: the same
            # rows, counts and copy groups (a mask's far marks follow from what it drew, so two masks
            # equal as drawn are equal with their marks), so only the votes differ
            votes = replace(judged, votes=table.votes[table.counts > 0])
            return self._observed(judged, _Decoded(workers, table, votes), issues, len(workers))
        return self._observed(None, _Decoded(workers, tabulate(masks)), issues, len(workers))

    def _observe_gold(
        self, workers: list[str], masks: list[IndexedMask], known: int, issues: list[AnswerIssue]
    ) -> Observed[ObjectVotes, _Decoded]:
        """An object with a gold answer (column ``known``): the class map is the gold answer alone;
        with the reliability vote, every answer as drawn goes to the batch model, which judges the
        others against the gold answer."""
        table, _ = reliability_table([masks[known]], [workers[known]])
        summary = None
        if self.uses_batch_model:
            _, drawn = self._judged(masks, workers)
            summary = GoldObjectVotes(
                drawn.workers, drawn.votes, drawn.counts, drawn.group, interior=drawn.interior, known=known
            )
        votes = ObjectVotes.from_table([workers[known]], table) if self.uses_batch_model else None
        prepared = _Decoded([workers[known]], table, votes, gold=True)
        return self._observed(summary, prepared, issues, len(workers))

    def _judged(self, masks: Sequence[IndexedMask], workers: Sequence[str]) -> tuple[VoteTable, ObjectVotes]:
        """The reliability vote's table of the masks and the workers' votes as drawn
        (:func:`~tally.aggregation.pixel_vote.reliability_table`); with the ``regions`` vote, the votes
        carry each tuple's pixels away from outlines, for the disputed regions' class confusion
        (:func:`~tally.aggregation.pixel_vote.interior_counts`; the same rows as the votes: tuples with
        pixels)."""
        table, judged = reliability_table(masks, workers)
        if self.algorithm == "regions":
            judged = replace(judged, interior=interior_counts(table)[table.counts > 0])
        return table, judged

    @staticmethod
    def _observed(
        summary: ObjectVotes | None, prepared: _Decoded, issues: list[AnswerIssue], answers_used: int
    ) -> Observed[ObjectVotes, _Decoded]:
        """An object's observation. ``nbytes`` (what the driver's memory budget, ``TALLY_CACHE_MB``,
        decides to keep or decode again) counts the prepared work only: the table's tuple index per pixel
        and its vote tuples. The summary is not counted, on a gold object as on any other: the driver
        keeps it for the batch model whether the prepared work fits or not."""
        nbytes = int(prepared.table.inverse.nbytes + prepared.table.votes.nbytes)
        return Observed(summary, prepared, issues, nbytes=nbytes, answers_used=answers_used)

    def fit(self, summaries: Sequence[tuple[str, ObjectVotes]], job: JobContext) -> LeaveOneOutWeights:
        return self.fit_with_prior(summaries, job, {})

    # the worker store (tally.worker_store): each worker's [sum of per-object accuracies, objects]
    def statistics_name(self, job: JobContext) -> str:
        return "semantic-segmentation/leave-one-out/2"

    def statistics_keys(self, summaries: Sequence[tuple[str, ObjectVotes]], job: JobContext) -> list[str]:
        return sorted({w for _, votes in summaries for w in votes.workers})

    def fit_with_prior(
        self, summaries: Sequence[tuple[str, ObjectVotes]], job: JobContext, prior: WorkerStatistics
    ) -> LeaveOneOutWeights:
        known = [votes.known if isinstance(votes, GoldObjectVotes) else None for _, votes in summaries]
        # the workers' class confusion is read by the disputed regions alone
        model = LeaveOneOutWeights(confusion=self.algorithm == "regions").fit(
            [votes for _, votes in summaries], prior, known
        )
        logger.info(
            "worker reliability estimated",
            extra={"workers": {w: round(r, DIGITS) for w, r in sorted(model.accuracy_.items())}},
        )
        return model

    def statistics(self, model: LeaveOneOutWeights, job: JobContext) -> WorkerStatistics:
        return {w: list(v) for w, v in model.worker_statistics_.items()}

    def consolidate(
        self,
        obj: DatasetObject,
        observed: Observed[ObjectVotes, _Decoded],
        model: LeaveOneOutWeights | None,
        job: JobContext,
    ) -> ObjectResult:
        classes = self._classes
        if classes is None:
            raise RuntimeError("prepare() was not called for this batch")
        workers, table = observed.prepared.workers, observed.prepared.table
        n_classes = classes.n_classes
        gold = observed.prepared.gold
        image, vote = vote_image(
            table,
            workers,
            n_classes,
            self.algorithm,
            model,
            None if gold else observed.summary,
            confidence_map=self.confidence_maps,
            votes=observed.prepared.votes,
        )
        per_class = [round(c, DIGITS) for c in vote.per_class]
        confidence = round(vote.confidence, DIGITS)
        if gold:  # the gold answer is the known truth
            per_class, confidence = [1.0] * n_classes, 1.0
        png = encode_palette_png(image, classes.palette())
        name = artefact_name(obj.dataset_object_id, png, ".png")
        mask_uri = join_uri(job.artefact_prefix, name)
        job.storage.write(mask_uri, png, "image/png")
        conf_uri = None
        if vote.pixel_confidence is not None:
            conf_png = encode_gray_png(vote.pixel_confidence)
            conf_uri = join_uri(job.artefact_prefix, name.removesuffix(".png") + "-confidence.png")
            job.storage.write(conf_uri, conf_png, "image/png")
        result = SegmentationResult(
            mask_uri,
            tuple(ClassColour(str(k), classes.name_of(k), classes.hex_of(k), per_class[k]) for k in range(n_classes)),
            confidence,
            conf_uri,
            tuple(_quality(w, q) for w, q in zip(workers, vote.workers, strict=True)) if vote.workers else (),
            tuple(_disputed(region, workers, classes) for region in vote.disputes),
        )
        out = consolidated(obj, self.type, observed, result.to_gt(), result.metadata(), confidence, _BATCH_FIGURES)
        if job.members:  # only an importer asks: its write-back reads the class array, not the PNG back
            out.class_map = image
        return out


def _quality(worker: str, figures: Mapping[str, float | None]) -> WorkerQuality:
    """A worker's ``worker-quality`` row, each figure rounded as the label reports it."""
    return WorkerQuality(worker, tuple((name, figure(value)) for name, value in figures.items()))


_SILENT = {0: "none", NO_ANSWER: "no answer"}
"""A disputed region's answers that name no class, by the key they are listed under."""


def _disputed(region: Region, workers: Sequence[str], classes: ClassTable) -> DisputedRegion:
    """A disputed region as the label lists it (read by ``tally report``): who named each class, who
    painted nothing there (``none``), and who gave no answer there (``no answer``: nothing painted
    there nor near it, or no vote; :data:`~tally.aggregation.disputed_regions.NO_ANSWER`)."""
    said: list[tuple[str, tuple[str, ...]]] = []
    for key in (*region.classes, 0, NO_ANSWER):
        named = tuple(w for w, answer in zip(workers, region.answers, strict=True) if answer == key)
        if named:
            said.append((_SILENT.get(key) or classes.name_of(key), named))
    return DisputedRegion(
        tuple(classes.name_of(c) for c in region.classes),
        len(region.pixels),
        classes.name_of(region.decided),
        round(region.confidence, DIGITS),
        tuple(said),
    )
