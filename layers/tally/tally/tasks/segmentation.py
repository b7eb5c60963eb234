"""Semantic segmentation (``<crowd-semantic-segmentation>`` answers).

Each answer is ``{inputImageProperties: {height, width}, labelMappings: {label: {color}},
labeledImage: {pngImageData}}``. Every worker's PNG is read through **that worker's own**
``labelMappings`` (:mod:`tally.codecs`), the masks are voted pixel by pixel (:mod:`tally.vote`), and
one palette PNG per object is written under the batch's mask prefix with a name derived from the
object's ID and the PNG's bytes, so a retried request writes the same key with the same bytes.

The label (``content[<attr>]``)::

    {"mask-ref": "s3://.../<id>_<digest>.png", "internal-color-map": {...}, "confidence": 0.93}

With the default ``reliability`` algorithm the label also has ``worker-quality``, with
``ConfidenceMaps`` ``confidence-map-ref`` (an 8-bit PNG beside the mask: per pixel, the share of the
weighted vote the final class got), and where workers gave one area different classes and the
evidence left the decision uncertain, ``disputed-regions``
(:mod:`tally.aggregation.disputed_regions`); confidences are expected IoUs
(:mod:`tally.aggregation.weighted_pixel_vote`). With ``majority``,
confidence follows Ground Truth's rule that an object labelled by a single worker has confidence
0.0; otherwise see :func:`tally.vote.class_confidences`.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..aggregation.disputed_regions import MIN_PIXELS, Region, confusion_of, contested_tuples, decide_regions
from ..aggregation.weighted_pixel_vote import (
    FAR,
    TIE_TOLERANCE,
    LeaveOneOutWeights,
    ObjectVotes,
    Weighing,
    expected_iou,
    far_square_shifts,
    object_confusion,
    weigh,
)
from ..codecs import decode_png, encode_gray_png, encode_palette_png, hex_to_rgb, index_mask
from ..errors import AnswerError
from ..gt.answers import Answer, AnswerIssue
from ..gt.events import DatasetObject, describe_validation_error
from ..gt.response import ObjectResult, artefact_name
from ..labels import ClassTable, LabelSet
from ..settings import Settings
from ..spatial import settle_ties, window_mean
from ..storage import join_uri
from ..vote import ABSTAIN, IndexedMask, VoteTable, class_confidences, majority_vote, tabulate
from ..worker_store import WorkerStatistics
from .base import JobContext, Observed, consolidated, majority_size, no_usable_answer
from .shapes import SegmentationShape

__all__ = ["SemanticSegmentation", "reliability_table", "vote_image"]

_DIGITS = 4
_BATCH_FIGURES = ("batch-reliability",)
"""The key of a ``worker-quality`` row that is the worker's figure over the batch (``reliability`` and
``weight`` are the worker's in this object)."""
CLOSE_CALL = 0.34
"""The neighbourhood decides a pixel contested between a class and background only where the weighted
vote there is this close (share of the class minus share of background; 2 of 3 workers: 1/3, so with
three workers every pixel two of them drew is a close call). A thin structure the vote gives the class
(1-3 px across, clear background on both sides) keeps it (:func:`_thin`): averaged over the square it
would be lost, as 1-2 px protrusions two of three workers drew were before issue 18."""
RADIUS = 2
"""Half-width of the square neighbourhood whose shares decide a boundary pixel (:func:`_boundaries`)."""
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


class SemanticSegmentation(SegmentationShape):
    """``<crowd-semantic-segmentation>`` answers (module docstring)."""

    needs_labels = True

    def __init__(self, settings: Settings) -> None:
        self.algorithm = settings.algorithm
        self.uses_batch_model = settings.algorithm == "reliability"
        self.confidence_maps = settings.confidence_maps
        self._classes: ClassTable | None = None

    def prepare(self, job: JobContext) -> None:
        painted = {name: Counter(colours) for name, colours in job.painted.items()}
        self._classes = ClassTable.build(job.require_labels(), painted)

    def _decode(self, answer: Answer, labels: LabelSet) -> tuple[IndexedMask, list[str]]:
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
        if self.uses_batch_model:
            table, judged = reliability_table(masks, workers)
        else:
            table, judged = tabulate(masks), None
        nbytes = table.inverse.nbytes + table.votes.nbytes
        return Observed(judged, _Decoded(workers, table), issues, nbytes=nbytes, answers_used=len(workers))

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
        model = LeaveOneOutWeights().fit([votes for _, votes in summaries], prior)
        logger.info(
            "worker reliability estimated",
            extra={"workers": {w: round(r, _DIGITS) for w, r in sorted(model.accuracy_.items())}},
        )
        return model

    def statistics(self, model: LeaveOneOutWeights, job: JobContext) -> WorkerStatistics:
        return {w: list(v) for w, v in model.statistics_.items()}

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
        image, vote = vote_image(
            table,
            workers,
            n_classes,
            self.algorithm,
            model,
            observed.summary,
            confidence_map=self.confidence_maps,
        )
        per_class = [round(c, _DIGITS) for c in vote.per_class]
        confidence = round(vote.confidence, _DIGITS)
        png = encode_palette_png(image, classes.palette())
        name = artefact_name(obj.dataset_object_id, png, ".png")
        mask_uri = join_uri(job.artefact_prefix, name)
        job.storage.write(mask_uri, png, "image/png")
        color_map = classes.color_map(per_class)
        label: dict[str, Any] = {"mask-ref": mask_uri, "internal-color-map": color_map, "confidence": confidence}
        metadata: dict[str, Any] = {"confidence": confidence, "internal-color-map": color_map}
        if vote.pixel_confidence is not None:
            conf_png = encode_gray_png(vote.pixel_confidence)
            conf_uri = join_uri(job.artefact_prefix, name.removesuffix(".png") + "-confidence.png")
            job.storage.write(conf_uri, conf_png, "image/png")
            label["confidence-map-ref"] = conf_uri
        if vote.workers:
            quality = [{"workerId": w, **q} for w, q in zip(workers, vote.workers, strict=True)]
            label["worker-quality"] = metadata["worker-quality"] = quality
        if vote.disputes:
            label["disputed-regions"] = [_disputed(region, workers, classes) for region in vote.disputes]
        return consolidated(obj, self.type, observed, label, metadata, confidence, _BATCH_FIGURES)


def _disputed(region: Region, workers: Sequence[str], classes: ClassTable) -> dict[str, Any]:
    """A disputed region as the label lists it (read by ``tally report``)."""
    said: dict[str, list[str]] = {}
    for key in (*region.classes, 0):
        named = [w for w, answer in zip(workers, region.answers, strict=True) if answer == key]
        if named:
            said["none" if key == 0 else classes.name_of(key)] = named
    return {
        "classes": [classes.name_of(c) for c in region.classes],
        "pixels": len(region.pixels),
        "decided": classes.name_of(region.decided),
        "confidence": round(region.confidence, _DIGITS),
        "workers": said,
    }


def reliability_table(masks: Sequence[IndexedMask], workers: Sequence[str]) -> tuple[VoteTable, ObjectVotes]:
    """The reliability vote's tuples of one object, and the workers' masks as drawn to judge them on.

    Each worker's background far from anything they drew is marked
    (:func:`tally.aggregation.weighted_pixel_vote.far_square_shifts`) as the masks are tabulated,
    so one table serves both: the vote reads the marks, and the workers are judged with every mark
    read as the background it is."""
    shifts: list[npt.NDArray[np.uint8] | None] | None = None
    if len(masks) > 1:
        marked = [far_square_shifts(m) for m in masks]
        masks, shifts = [m for m, _ in marked], [g for _, g in marked]
    table = tabulate(masks, shifts)
    drawn = np.where(table.votes == FAR, np.uint8(0), table.votes).astype(np.uint8)
    return table, ObjectVotes.build(workers, drawn, table.counts)


def vote_image(
    table: VoteTable,
    workers: Sequence[str],
    n_classes: int,
    algorithm: str,
    model: Any = None,
    judged: ObjectVotes | None = None,
    *,
    confidence_map: bool = True,
) -> tuple[npt.NDArray[np.uint8], _Vote]:
    """The consolidated class map of one object and the vote behind it (no I/O); ``judged``: the
    workers' answers as phase 1 judged them (:func:`reliability_table`); ``confidence_map``: whether
    the reliability vote also spreads its per-pixel confidence to an image."""
    if algorithm == "majority":
        return _majority(table, n_classes, single=len(workers) == 1)
    model = model if isinstance(model, LeaveOneOutWeights) else None
    votes = ObjectVotes.from_table(workers, table)
    return _reliability(table, votes, n_classes, model, judged, confidence_map=confidence_map)


@dataclass(frozen=True)
class _Vote:
    per_class: list[float]
    confidence: float
    pixel_confidence: npt.NDArray[np.uint8] | None = None  # per pixel, 0..255
    workers: list[dict[str, float | None]] = field(default_factory=list)
    disputes: list[Region] = field(default_factory=list)


def _majority(table: VoteTable, n_classes: int, *, single: bool) -> tuple[npt.NDArray[np.uint8], _Vote]:
    result = majority_vote(table, n_classes)
    per_class, confidence = class_confidences(table, result, n_classes)
    if single:  # Ground Truth: a single annotator gives confidence 0.0
        per_class, confidence = [0.0] * n_classes, 0.0
    return table.expand(result.labels), _Vote(per_class, confidence)


def _reliability(
    table: VoteTable,
    votes: ObjectVotes,
    n_classes: int,
    model: LeaveOneOutWeights | None,
    judged: ObjectVotes | None = None,
    *,
    confidence_map: bool = True,
) -> tuple[npt.NDArray[np.uint8], _Vote]:
    """The weighted vote per tuple, then per pixel: boundaries from the neighbourhood, ties settled
    (:mod:`tally.aggregation.weighted_pixel_vote`, :mod:`tally.spatial`)."""
    present = table.counts > 0
    model = model or LeaveOneOutWeights().fit([judged or votes])
    result = weigh(votes, n_classes, model, judged)
    labels = np.zeros(len(table.counts), dtype=np.uint8)
    labels[present] = result.labels
    support = np.zeros((len(table.counts), n_classes), dtype=np.float32)
    support[present] = result.support
    open_ties = np.zeros(len(table.counts), dtype=np.uint64)
    open_ties[present] = result.open_ties
    image, moved = _decide_pixels(table, labels, support, open_ties, RADIUS)
    disputes = _disputes(table, image, result, votes, model, n_classes)
    if disputes:
        moved = moved[~np.isin(moved, np.concatenate([r.pixels for r in disputes]), assume_unique=True)]
    pixel_confidence, per_class, confidence = _confidence(
        table, labels, support, image, moved, confidence_map, disputes
    )
    workers = votes.workers
    if len(workers) == 1:  # nothing to compare with: the worker's record in this batch, if any
        record = model.record(workers[0]) if model else None
        per_class = [record or 0.0] * n_classes
        confidence = record or 0.0
    quality: list[dict[str, float | None]] = [
        {
            "reliability": round(float(r), _DIGITS),
            "batch-reliability": _round(model.record(w) if model else None),
            "weight": round(float(wt), _DIGITS),
        }
        for w, r, wt in zip(workers, result.reliability, result.weights, strict=True)
    ]
    return image, _Vote(per_class, confidence, pixel_confidence=pixel_confidence, workers=quality, disputes=disputes)


def _disputes(
    table: VoteTable,
    image: npt.NDArray[np.uint8],
    result: Weighing,
    votes: ObjectVotes,
    model: LeaveOneOutWeights,
    n_classes: int,
) -> list[Region]:
    """Decide, in place, the regions workers of standing gave different classes
    (:mod:`tally.aggregation.disputed_regions`); return the disputed ones."""
    if len(votes.workers) < 2:
        return []
    contested = contested_tuples(result.votes, result.standing)
    if not contested.any():
        return []
    present = table.counts > 0
    full = np.zeros(len(table.counts), dtype=bool)
    full[present] = contested
    pixels = table.pixels_where(full)
    if len(pixels) < MIN_PIXELS:
        return []
    cast = np.zeros((len(table.counts), result.votes.shape[1]), dtype=np.uint8)
    cast[present] = result.votes
    batch = confusion_of(votes.workers, model.confusion_, model.mean_confusion_)
    confusion = object_confusion(votes, result.standing, batch, model.object_share)
    return decide_regions(image, table.inverse, cast, pixels, votes.share, confusion, n_classes)


def _decide_pixels(
    table: VoteTable,
    labels: npt.NDArray[np.uint8],
    support: npt.NDArray[np.float32],
    open_ties: npt.NDArray[np.uint64],
    radius: int,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.intp]]:
    """The class map, and the pixels whose class differs from their tuple's decision."""
    inverse = table.inverse.reshape(-1)
    foreground = support[:, 1:] > TIE_TOLERANCE  # classes with a say; a negligible voice (a spammer's) has none
    # one pass over the image finds the pixels of both kinds of tuple: 1 contested, 2 tied
    contested = _contested(support, foreground, table.counts > 0)
    kind = contested.astype(np.uint8) | ((open_ties != 0).astype(np.uint8) << 1)
    if table.squares is None and len(labels) and int(labels.max()) < _FLAG:
        # pixel by pixel, the class map and the flag of those pixels in one lookup: the flag is the high bit
        image = table.expand(labels | np.where(kind != 0, np.uint8(_FLAG), np.uint8(0)))
        pixels = np.flatnonzero(image.reshape(-1) >= _FLAG)
        np.bitwise_and(image, np.uint8(_FLAG - 1), out=image)
    else:  # with squares, whole squares at a time (no pass over every pixel to find them)
        image = table.expand(labels)
        pixels = table.pixels_where(kind != 0)
    pixel_kind = kind[inverse[pixels]]
    decided = _boundaries(image, table, support, foreground, pixels[(pixel_kind & 1) == 1], radius)
    touched = [decided]
    tied = pixels[(pixel_kind & 2) == 2]
    if len(tied):
        tied = np.setdiff1d(tied, decided, assume_unique=True)  # decided by their neighbourhood
        image = settle_ties(image, tied, np.take(open_ties, inverse[tied]))
        touched.append(tied)
    moved = np.concatenate(touched)
    return image, moved[image.reshape(-1)[moved] != labels[inverse[moved]]]


_FLAG = 128
"""High bit of a class map byte, free while every class key is below it (:func:`_decide_pixels`)."""


def _confidence(
    table: VoteTable,
    labels: npt.NDArray[np.uint8],
    support: npt.NDArray[np.float32],
    image: npt.NDArray[np.uint8],
    moved: npt.NDArray[np.intp],
    pixel_map: bool = True,
    disputes: Sequence[Region] = (),
) -> tuple[npt.NDArray[np.uint8] | None, list[float], float]:
    """Per pixel (when ``pixel_map``), the share of the weighted vote the final class got there
    (0..255); per class and object, the expected IoU (:func:`tally.aggregation.weighted_pixel_vote.expected_iou`) of the
    final class map. A disputed region's pixels follow the region's posterior instead."""
    inverse = table.inverse.reshape(-1)
    final = image.reshape(-1)[moved]
    pixel = None
    if pixel_map:
        pixel = table.expand(np.round(support[np.arange(len(labels)), labels] * 255).astype(np.uint8))
        pixel.reshape(-1)[moved] = np.round(support[inverse[moved], final] * 255).astype(np.uint8)
        for region in disputes:
            pixel.reshape(-1)[region.pixels] = np.uint8(round(region.confidence * 255))
    # the moved pixels form extra (tuple, final class) rows, taken out of their tuple's count
    n_classes = support.shape[1]
    groups, group_counts = np.unique(inverse[moved].astype(np.int64) * n_classes + final, return_counts=True)
    group_rows = groups // n_classes
    counts = table.counts.astype(np.float64) - np.bincount(group_rows, group_counts, len(table.counts))
    present = np.flatnonzero(table.counts > 0)
    rows = np.concatenate([present, group_rows])
    votes = table.votes[rows]
    shares = support[rows].astype(np.float64)
    decided = np.concatenate([labels[present], (groups % n_classes).astype(np.uint8)])
    sizes = np.concatenate([counts[present], group_counts.astype(np.float64)])
    if disputes:  # one row per region, its pixels taken out of their tuples' counts
        taken = np.concatenate([inverse[r.pixels] for r in disputes])
        counts -= np.bincount(taken, minlength=len(table.counts))
        sizes[: len(present)] = counts[present]
        votes = np.concatenate([votes, table.votes[[int(inverse[r.pixels[0]]) for r in disputes]]])
        shares = np.concatenate([shares, np.stack([r.posterior for r in disputes])])
        decided = np.concatenate([decided, np.array([r.decided for r in disputes], dtype=np.uint8)])
        sizes = np.concatenate([sizes, np.array([float(len(r.pixels)) for r in disputes])])
    per_class, confidence = expected_iou(votes, shares, decided, sizes, n_classes)
    return pixel, per_class, confidence


def _contested(
    support: npt.NDArray[np.float32], foreground: npt.NDArray[np.bool_], present: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Tuples whose vote is a close call between one class and background."""
    margin = support[:, 1:].sum(axis=1) - support[:, 0]
    contested: npt.NDArray[np.bool_] = (
        present & (support[:, 0] > 0) & (foreground.sum(axis=1) == 1) & (np.abs(margin) <= CLOSE_CALL)
    )
    return contested


def _boundaries(
    image: npt.NDArray[np.uint8],
    table: VoteTable,
    support: npt.NDArray[np.float32],
    foreground: npt.NDArray[np.bool_],
    pixels: npt.NDArray[np.intp],
    radius: int,
) -> npt.NDArray[np.intp]:
    """Decide, in place, the contested ``pixels`` (:func:`_contested`) by the shares around them
    (:func:`tally.spatial.window_mean`); return the pixels so decided."""
    if not len(pixels):
        return pixels
    cls = (np.argmax(foreground, axis=1) + 1).astype(np.intp)
    column = cls[table.inverse.reshape(-1)[pixels]]
    evidence = support - support[:, :1]  # each class's share minus background's
    evidence[foreground.sum(axis=1) > 1] = 0.0  # where classes compete, neither is evidence
    mean = window_mean(table.inverse, evidence, pixels, column, radius)
    # a thin structure the vote gives the class (clear background within ``radius`` on both sides
    # along its row or its column: 1-3 px across) keeps it, where the neighbourhood would average it away
    flat_inverse = table.inverse.reshape(-1)
    leading = (mean <= TIE_TOLERANCE) & (evidence[flat_inverse[pixels], column] > 0)
    if leading.any():
        thin = _thin(flat_inverse, table.inverse.shape, evidence, pixels[leading], column[leading], radius)
        mean[np.flatnonzero(leading)[thin]] = 1.0
    decided = np.abs(mean) > TIE_TOLERANCE
    image.reshape(-1)[pixels[decided]] = np.where(mean[decided] > 0, column[decided], 0).astype(np.uint8)
    return pixels[decided]


def _thin(
    flat_inverse: npt.NDArray[np.integer[Any]],
    shape: tuple[int, int],
    evidence: npt.NDArray[np.float32],
    pixels: npt.NDArray[np.intp],
    column: npt.NDArray[np.intp],
    radius: int,
) -> npt.NDArray[np.bool_]:
    """Per pixel, whether clear background for its class (evidence below ``-CLOSE_CALL``) lies within
    ``radius`` pixels on both sides of it along its row, or along its column."""
    height, width = shape
    rows, cols = np.divmod(pixels, width)
    thin = np.zeros(len(pixels), dtype=bool)
    for position, limit, step in ((cols, width, 1), (rows, height, width)):
        sides = []
        for sign in (-1, 1):
            found = np.zeros(len(pixels), dtype=bool)
            for d in range(1, radius + 1):
                inside = (position + sign * d >= 0) & (position + sign * d < limit)
                neighbour = np.where(inside, pixels + sign * d * step, pixels)
                found |= inside & (evidence[flat_inverse[neighbour], column] < -CLOSE_CALL)
            sides.append(found)
        thin |= sides[0] & sides[1]
    return thin


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _DIGITS)
