"""The pixel vote of semantic segmentation (numpy, no I/O): one object's masks, tabulated, to its class map.

:func:`reliability_table` tabulates an object's masks for the default vote (far background marked,
the workers' answers as drawn kept to judge them on; :mod:`tally.aggregation.vote_table`);
:func:`vote_image` decides the class map with the plain vote (``majority``) or the default
(``reliability``): the weighted vote per tuple (:mod:`tally.aggregation.weighted_pixel_vote`),
boundaries from the neighbourhood and ties settled (below), and the confidences; the opt-in
``regions`` vote also keeps thin structures and decides disputed regions per region
(:mod:`tally.aggregation.disputed_regions`). The task adapter
(:mod:`tally.tasks.semantic_segmentation.adapter`) parses the answers, runs this and writes the masks
and the label. The per-pixel work is in :mod:`tally.aggregation._pixel_kernels`.

Ground Truth's built-in consolidation "applies a smoothing function" after its vote. The default
vote uses the neighbourhood in two steps, both only where the vote is contested:

**Boundaries** (:func:`_boundaries`). Where workers disagree whether a pixel is one class or
background — the band between their outlines — and the vote there is a close call (a margin of at
most :data:`CLOSE_CALL`; with ``regions``, a thin structure the vote gives the class keeps it instead), the pixel
takes the class whose weighted share, averaged over the ``(2r+1)²`` square around it, is larger
(background or that class; other classes in the square count for neither). Across a band of
outlines this moves the boundary from the workers' *median* outline (what a per-pixel vote picks) to
about their weighted *mean* outline, which varies less when each worker's outline jitters
independently. A pixel whose averaged shares are within the tie tolerance keeps the vote's decision;
the averaging never changes a class into another class, so a shape two workers name differently is
not given to the one who drew it larger.

**Ties** (:func:`tally.aggregation._pixel_kernels.settle_ties`). Where equally reliable workers still
disagree — with two workers, every disagreement wider than the square — the vote alone has no
answer: starting from the pixels that are decided, each tied pixel takes, among its own tied
classes, the class most of its already-settled 4-neighbours have, front by front. Two fronts
advancing from both sides of a disputed band meet in its middle, so the boundary lands halfway
between the workers' outlines rather than on one worker's outline. Pixels no front reaches within
eight steps keep the vote's tie rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ._pixel_kernels import SQUARE, settle_ties, tie_pairs, window_mean
from .disputed_regions import (
    MIN_PIXELS,
    Region,
    answers_of,
    clear_tuples,
    confusion_of,
    contested_tuples,
    decide_regions,
    in_play_of,
)
from .vote_table import IndexedMask, VoteTable, class_confidences, majority_vote, tabulate
from .weighted_pixel_vote import (
    FAR,
    TIE_TOLERANCE,
    LeaveOneOutWeights,
    ObjectVotes,
    Weighing,
    expected_iou,
    far_square_shifts,
    object_confusion,
)

__all__ = ["CLOSE_CALL", "RADIUS", "PixelVote", "interior_counts", "reliability_table", "vote_image"]

CLOSE_CALL = 0.34
"""The neighbourhood decides a pixel contested between a class and background only where the weighted
vote there is this close (share of the class minus share of background; 2 of 3 workers: 1/3, so with
three workers every pixel two of them drew is a close call). With the ``regions`` vote only, a thin
structure the vote gives the class (1-3 px across, clear background on both sides) keeps it
(:func:`_thin`): averaged over the square it is lost, and the default ``reliability`` vote loses the
1-2 px protrusions two of three workers drew (issue 18)."""
RADIUS = 2
"""Half-width of the square neighbourhood whose shares decide a boundary pixel (:func:`_boundaries`)."""


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


def interior_counts(table: VoteTable) -> npt.NDArray[np.float64]:
    """Per tuple of ``table``, its pixels away from every outline: those of the :data:`SQUARE` x
    :data:`SQUARE` squares that hold one tuple throughout, as do the four squares beside them (the
    image's edge is no outline; the rows below the last full row of squares count for none). Every
    such pixel is at least a square's side from any change of any worker's answer, so a class named
    there is named for an object, not for where its outline overlaps a neighbour's; the disputed
    regions measure the workers' wrong classes there (:func:`tally.aggregation.weighted_pixel_vote.class_confusion`).

    >>> masks = [IndexedMask(np.zeros((24, 24), np.uint8), np.array([0, 1], np.uint8)) for _ in range(2)]
    >>> masks[1].indices[:, 20:] = 1  # one outline at column 20: its square and the one beside it are out
    >>> interior_counts(tabulate(masks)).tolist()
    [192.0, 0.0, 0.0, 0.0]
    """
    squares = table.squares
    if squares is not None:
        key, uniform = squares.key, squares.uniform
    else:
        height, width = table.inverse.shape
        rows, cols = height // SQUARE, width // SQUARE
        blocks = table.inverse[: rows * SQUARE, : cols * SQUARE].reshape(rows, SQUARE, cols, SQUARE)
        key = blocks[:, 0, :, 0].astype(np.intp)
        uniform = (blocks == blocks[:, :1, :, :1]).all(axis=(1, 3))
    inside = uniform.copy()
    inside[1:] &= uniform[:-1] & (key[1:] == key[:-1])
    inside[:-1] &= uniform[1:] & (key[:-1] == key[1:])
    inside[:, 1:] &= uniform[:, :-1] & (key[:, 1:] == key[:, :-1])
    inside[:, :-1] &= uniform[:, 1:] & (key[:, :-1] == key[:, 1:])
    counts: npt.NDArray[np.float64] = np.bincount(key[inside], minlength=len(table.counts)).astype(np.float64)
    return counts * (SQUARE * SQUARE)


def vote_image(
    table: VoteTable,
    workers: Sequence[str],
    n_classes: int,
    algorithm: str,
    model: Any = None,
    judged: ObjectVotes | None = None,
    *,
    confidence_map: bool = True,
    votes: ObjectVotes | None = None,
) -> tuple[npt.NDArray[np.uint8], PixelVote]:
    """The consolidated class map of one object and the vote behind it (no I/O); ``judged``: the
    workers' answers as phase 1 judged them (:func:`reliability_table`); ``confidence_map``: whether
    the reliability vote also spreads its per-pixel confidence to an image; ``votes``: the table's
    tuples as :class:`ObjectVotes`, when the caller kept them from observing the object (else built
    here)."""
    if algorithm == "majority":
        return _majority(table, n_classes, single=len(workers) == 1)
    model = model if isinstance(model, LeaveOneOutWeights) else None
    votes = votes if votes is not None else ObjectVotes.from_table(workers, table)
    regions = algorithm == "regions"  # the reliability vote, disputed regions decided per region, thin structures
    return _reliability(table, votes, n_classes, model, judged, confidence_map=confidence_map, regions=regions)


@dataclass(frozen=True)
class PixelVote:
    """One object's vote: each class's and the object's confidence, the per-pixel confidence map (when
    asked for), each worker's figures (``reliability``, ``batch-reliability``, ``weight``; unrounded:
    the adapter rounds what the label reports) and the disputed regions."""

    per_class: list[float]
    confidence: float
    pixel_confidence: npt.NDArray[np.uint8] | None = None  # per pixel, 0..255
    workers: list[dict[str, float | None]] = field(default_factory=list)
    disputes: list[Region] = field(default_factory=list)


def _majority(table: VoteTable, n_classes: int, *, single: bool) -> tuple[npt.NDArray[np.uint8], PixelVote]:
    result = majority_vote(table, n_classes)
    per_class, confidence = class_confidences(table, result, n_classes)
    if single:  # Ground Truth: a single annotator gives confidence 0.0
        per_class, confidence = [0.0] * n_classes, 0.0
    return table.expand(result.labels), PixelVote(per_class, confidence)


def _reliability(
    table: VoteTable,
    votes: ObjectVotes,
    n_classes: int,
    model: LeaveOneOutWeights | None,
    judged: ObjectVotes | None = None,
    *,
    confidence_map: bool = True,
    regions: bool = False,
) -> tuple[npt.NDArray[np.uint8], PixelVote]:
    """The weighted vote per tuple, then per pixel: boundaries from the neighbourhood, ties settled
    (:mod:`tally.aggregation.weighted_pixel_vote`, module docstring)."""
    present = table.counts > 0
    # without a batch model the object's own fit weighs the vote, but no batch record is reported
    fitted = model or LeaveOneOutWeights().fit([judged or votes])
    result = fitted.predict(votes, n_classes, judged)
    labels = np.zeros(len(table.counts), dtype=np.uint8)
    labels[present] = result.labels
    support = np.zeros((len(table.counts), n_classes), dtype=np.float32)
    support[present] = result.support
    open_ties = np.zeros(len(table.counts), dtype=np.uint64)
    open_ties[present] = result.open_ties
    image, moved, moved_tuples = _decide_pixels(table, labels, support, open_ties, RADIUS, thin=regions)
    disputes = _disputes(table, image, result, votes, fitted, n_classes, labels, moved, moved_tuples) if regions else []
    if disputes:  # the moved pixels a region decided follow the region (looked up in a map: no sort)
        decided = np.zeros(image.size, dtype=bool)
        for region in disputes:
            decided[region.pixels] = True
        kept = ~decided[moved]
        moved, moved_tuples = moved[kept], moved_tuples[kept]
    pixel_confidence, per_class, confidence = _confidence(
        table, labels, support, image, moved, moved_tuples, confidence_map, disputes
    )
    workers = votes.workers
    if len(workers) == 1:  # nothing to compare with: the worker's record in this batch, if any
        record = model.record(workers[0]) if model else None
        per_class = [record or 0.0] * n_classes
        confidence = record or 0.0
    quality: list[dict[str, float | None]] = [
        {
            "reliability": float(r),
            "batch-reliability": model.record(w) if model else None,
            "weight": float(wt),
        }
        for w, r, wt in zip(workers, result.reliability, result.weights, strict=True)
    ]
    return image, PixelVote(
        per_class, confidence, pixel_confidence=pixel_confidence, workers=quality, disputes=disputes
    )


_FEW_CONTESTED = 16_384
"""Up to this many contested pixels, the disputed regions' search gets them found and sorted
(``VoteTable.pixels_where``); more, a map of the image (``VoteTable.expand``: no sort)."""


def _disputes(
    table: VoteTable,
    image: npt.NDArray[np.uint8],
    result: Weighing,
    votes: ObjectVotes,
    model: LeaveOneOutWeights,
    n_classes: int,
    labels: npt.NDArray[np.uint8],
    moved: npt.NDArray[np.intp],
    moved_tuples: npt.NDArray[np.integer[Any]],
) -> list[Region]:
    """Decide, in place, the regions workers of standing gave different classes
    (:mod:`tally.aggregation.disputed_regions`); return the disputed ones. ``moved``: the pixels whose
    class differs from their tuple's decision, ``moved_tuples`` their tuples."""
    if not model.confusion:  # its class confusion would be no one's (Confusion()): a wrong decision, silently
        raise ValueError("the regions vote needs a model fitted with the workers' class confusion")
    if len(votes.workers) < 2:
        return []
    contested = contested_tuples(result.votes, result.standing)
    present = table.counts > 0
    count = int(table.counts[present][contested].sum())
    if count < MIN_PIXELS:  # (any disputed region is at least this large)
        return []
    # a worker's background far from anything they drew, made background again by the pixel vote where the
    # others name two classes, is still no answer about the region: the worker skipped what is there
    cast = np.where((votes.votes == FAR) & (result.votes == 0), np.uint8(FAR), result.votes).astype(np.uint8)
    batch = confusion_of(votes.workers, model.confusion_, model.mean_confusion_)
    confusion = object_confusion(votes, result.standing, batch, model.object_share)
    # a region decides only the pixels where every worker gave their answer over it, so one whose
    # pixels are all of tuples whose own answers decide them leaves them their class and lists
    # nothing: with no other tuple, there is no dispute to search for (most objects)
    at = np.flatnonzero(contested)
    clear = clear_tuples(cast[at], result.labels[at], votes.share, confusion, n_classes, in_play_of(cast))
    # and the pixels a region decides all have the same answers (its own): fewer than a region's worth
    # of pixels for every set of answers in dispute is no region either
    if clear.all():
        return []
    same = _same_answers(answers_of(cast[at], n_classes), n_classes)
    size = np.bincount(same, weights=table.counts[present][at])
    if not (size[np.unique(same[~clear])] >= MIN_PIXELS).any():
        return []
    full = np.zeros(len(table.counts), dtype=bool)
    full[present] = contested
    pixels, member = None, None
    if count <= _FEW_CONTESTED:  # the pixels found and sorted, and a map of them
        pixels = table.pixels_where(full)
    else:  # per pixel, whether contested (faster than sorting the pixels found)
        member = table.expand(full).reshape(-1)
    table_cast = np.zeros((len(table.counts), cast.shape[1]), dtype=np.uint8)
    table_cast[present] = cast

    # the image's pixels per class from the table (each tuple's decision), then the moved pixels
    histogram = np.bincount(labels, weights=table.counts, minlength=n_classes).astype(np.float64)
    if len(moved):
        histogram -= np.bincount(labels[moved_tuples], minlength=len(histogram))
        histogram += np.bincount(image.reshape(-1)[moved], minlength=len(histogram))
    return decide_regions(
        image, table.inverse, table_cast, pixels, votes.share, confusion, n_classes, histogram, member=member
    )


def _same_answers(answers: npt.NDArray[np.integer[Any]], n_classes: int) -> npt.NDArray[np.intp]:
    """Each row's group among the rows of ``answers`` (``(N, K)``, values ``0 .. n_classes``): rows with
    the same answers share one (numbered in no promised order). Each row's answers are read as
    one number where it fits in 62 bits (no sort of rows), else the rows are compared whole."""
    if (n_classes + 1) ** answers.shape[1] < 1 << 62:
        _, same = np.unique(answers @ (n_classes + 1) ** np.arange(answers.shape[1]), return_inverse=True)
    else:
        _, same = np.unique(answers, axis=0, return_inverse=True)
    grouped: npt.NDArray[np.intp] = same.reshape(-1).astype(np.intp, copy=False)
    return grouped


def _decide_pixels(
    table: VoteTable,
    labels: npt.NDArray[np.uint8],
    support: npt.NDArray[np.float32],
    open_ties: npt.NDArray[np.uint64],
    radius: int,
    *,
    thin: bool = False,
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.intp], npt.NDArray[np.integer[Any]]]:
    """The class map, the pixels whose class differs from their tuple's decision and their tuples
    (``thin``: keep the thin structures the vote gives a class, :func:`_boundaries`)."""
    foreground = support[:, 1:] > TIE_TOLERANCE  # classes with a say; a negligible voice (a spammer's) has none
    # one pass over the image finds the pixels of both kinds of tuple: 1 contested, 2 tied
    contested = _contested(support, foreground, table.counts > 0)
    kind = contested.astype(np.uint8) | ((open_ties != 0).astype(np.uint8) << 1)
    # the class map and the pixels of both kinds, in one read of the image
    image, pixels, pixel_tuples = table.expand_and_find(labels, kind != 0)
    pixel_kind = kind[pixel_tuples]
    at = np.flatnonzero(pixel_kind & 1)  # the contested pixels' positions in ``pixels``
    by_window = _boundaries(image, table, support, foreground, pixels[at], pixel_tuples[at], radius, thin=thin)
    window_at = at[by_window]
    touched = [pixels[window_at]]
    touched_tuples = [pixel_tuples[window_at]]  # (each pixel's tuple is known: no read of the index)
    tied_at = (pixel_kind & 2) == 2
    if tied_at.any():
        tied_at[window_at] = False  # decided by their neighbourhood
        tied = pixels[tied_at]
        tied_tuples = pixel_tuples[tied_at]
        pairs = tie_pairs(open_ties)  # (the class of each tuple's tie, found once a tuple)
        pair = None if pairs is None else np.take(pairs, tied_tuples)
        settle_ties(image, tied, np.take(open_ties, tied_tuples), in_place=True, pair=pair)  # our own image
        touched.append(tied)
        touched_tuples.append(tied_tuples)
    moved = np.concatenate(touched)
    moved_tuples = np.concatenate(touched_tuples)
    changed = image.reshape(-1)[moved] != labels[moved_tuples]
    return image, moved[changed], moved_tuples[changed]


_COUNTED_PAIRS = 1 << 16
"""Up to this many possible (tuple, class) pairs the moved pixels' pairs are counted in a table, not
sorted (:func:`_confidence`)."""


def _confidence(
    table: VoteTable,
    labels: npt.NDArray[np.uint8],
    support: npt.NDArray[np.float32],
    image: npt.NDArray[np.uint8],
    moved: npt.NDArray[np.intp],
    moved_tuples: npt.NDArray[np.integer[Any]],
    pixel_map: bool = True,
    disputes: Sequence[Region] = (),
) -> tuple[npt.NDArray[np.uint8] | None, list[float], float]:
    """Per pixel (when ``pixel_map``), the share of the weighted vote the final class got there
    (0..255); per class and object, the expected IoU (:func:`tally.aggregation.weighted_pixel_vote.expected_iou`) of the
    final class map (``moved``: the pixels whose class differs from their tuple's decision,
    ``moved_tuples`` their tuples). A disputed region's pixels follow the region's posterior instead."""
    inverse = table.inverse.reshape(-1)
    final = image.reshape(-1)[moved]
    pixel = None
    if pixel_map:
        pixel = table.expand(np.round(support[np.arange(len(labels)), labels] * 255).astype(np.uint8))
        pixel.reshape(-1)[moved] = np.round(support[moved_tuples, final] * 255).astype(np.uint8)
        for region in disputes:
            pixel.reshape(-1)[region.pixels] = np.uint8(round(region.confidence * 255))
    # the moved pixels form extra (tuple, final class) rows, taken out of their tuple's count
    n_classes = support.shape[1]
    pairs = moved_tuples.astype(np.int64) * n_classes + final
    if len(table.counts) * n_classes <= _COUNTED_PAIRS:  # np.unique's sorted keys and counts, counted
        per_pair = np.bincount(pairs, minlength=len(table.counts) * n_classes)
        groups = np.flatnonzero(per_pair)
        group_counts = per_pair[groups]
    else:
        groups, group_counts = np.unique(pairs, return_counts=True)
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
    tuples: npt.NDArray[np.integer[Any]],
    radius: int,
    *,
    thin: bool = False,
) -> npt.NDArray[np.bool_]:
    """Decide, in place, the contested ``pixels`` (:func:`_contested`; ``tuples``: their tuples) by
    the shares around them (:func:`tally.aggregation._pixel_kernels.window_mean`); return which of
    them were so decided."""
    if not len(pixels):
        return np.zeros(0, dtype=bool)
    cls = (np.argmax(foreground, axis=1) + 1).astype(np.intp)
    column = cls[tuples]
    evidence = support - support[:, :1]  # each class's share minus background's
    evidence[foreground.sum(axis=1) > 1] = 0.0  # where classes compete, neither is evidence
    mean = window_mean(table.inverse, evidence, pixels, column, radius)
    # a thin structure the vote gives the class (clear background within ``radius`` on both sides
    # along its row or its column: 1-3 px across) keeps it, where the neighbourhood would average it away
    leading = (mean <= TIE_TOLERANCE) & (evidence[tuples, column] > 0) if thin else None
    if leading is not None and leading.any():
        flat_inverse = table.inverse.reshape(-1)
        kept = _thin(flat_inverse, table.inverse.shape, evidence, pixels[leading], column[leading], radius)
        mean[np.flatnonzero(leading)[kept]] = 1.0
    decided: npt.NDArray[np.bool_] = np.abs(mean) > TIE_TOLERANCE
    image.reshape(-1)[pixels[decided]] = np.where(mean[decided] > 0, column[decided], 0).astype(np.uint8)
    return decided


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
