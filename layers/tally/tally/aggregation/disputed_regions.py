"""Disputed regions of a pixel vote: where workers give one area different classes (numpy only, no I/O).

A per-pixel vote decides an area two workers gave different classes by whichever class weighs a
little more, or by its tie rule: a coin flip that costs a whole object when it loses. This module
decides such areas **per region** instead, from the evidence about the workers:

1. **Regions.** Pixels whose vote tuple has two or more classes named by workers of standing
   (:data:`MIN_STANDING`) are grouped into 4-connected regions (:func:`components`). Regions smaller
   than :data:`MIN_PIXELS` or thinner than ``2 * DEPTH + 1`` pixels across both ways (the slivers
   where two neighbouring objects' outlines overlap) are left to the pixel vote. Before any of this,
   each contested tuple's own answers are weighed (:func:`clear_tuples`, in one array expression):
   a region decides only the pixels where every worker gave their answer over it, so where every
   contested tuple's posterior gives the class the pixel vote gave it at least :data:`CERTAIN` (one
   worker of five naming a car a person), or those that do not cover :data:`MIN_PIXELS` together,
   no region can change a pixel or be listed, and the search is skipped (most objects: the step
   then costs one pass over the tuples and the object's confusion).
2. **Each worker's answer** over a region is the class they painted on most of it, or none, or no
   answer (:data:`NO_ANSWER`) where their background there is far from anything they drew: they
   skipped what is there, which is no evidence for background (as in the pixel vote).
3. **Posterior.** Each worker's answer is one draw from their class confusion over the batch
   (:class:`Confusion`, fitted by :func:`tally.aggregation.weighted_pixel_vote.class_confusion`):
   over a class, a worker paints with ``1 - miss`` and, painting, names the right class with
   ``1 - error`` and another with ``error`` (spread over the other classes in play), so how often
   a worker misses says nothing about which class they name; where there is nothing, they paint a
   class with ``false_alarm``. Copies count once. The hypotheses are background and every class
   named, uniform before the evidence.
4. **Decision.** The region takes the choice with the highest expected mean IoU of the object
   (:func:`expected_miou`: background and every class named, against each hypothesis, the rest of
   the object as decided), where every worker gave their region answer (a part one of them drew
   otherwise, another object, keeps the pixel vote). A wrong class costs the class that is there
   *and* the one painted instead, background only the class that is there, but a class is right as
   often as the posterior says: measured on simulated crowds, at an even posterior between two
   classes a class is usually the cheaper choice, background when "nothing" has real weight (the
   workers who painted are known to paint what is not there, the one who painted nothing to miss
   little) or three classes or more split the region. The region's confidence is the posterior of
   what was decided; a region decided with less than :data:`CERTAIN` is *disputed* and listed.
   Where no choice beats what the pixel vote gave most of the region by :data:`MIN_GAIN` in
   expectation, the pixel vote stands (an even dispute between two equally rated workers is a coin
   flip whatever is chosen; the pixel vote's tie rules are as good as any and keep outputs stable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ..colours import FAR
from .vote_table import ABSTAIN

__all__ = [
    "CERTAIN",
    "DEPTH",
    "MIN_GAIN",
    "MIN_PIXELS",
    "MIN_STANDING",
    "NO_ANSWER",
    "Confusion",
    "Region",
    "components",
    "contested_tuples",
    "decide_regions",
    "expected_miou",
]

FloatArray = npt.NDArray[np.float64]

MIN_STANDING = 0.2
"""A class is named in a tuple when a worker of at least this standing (the best worker: 1) paints it."""
MIN_PIXELS = 64
"""Smaller regions are left to the pixel vote."""
DEPTH = 3
"""A region must hold a pixel with ``DEPTH`` region pixels on each side, across and down.
(:func:`_runs_in_rows` erodes by windows of 2, 4 and 7 pixels, written for 3: change them with it.)"""
MIN_GAIN = 0.01
"""The region's choice replaces what the pixel vote gave most of it only when its expected mean IoU
is higher by this much: between choices that are even in expectation (two equally rated workers),
the pixel vote's tie rules stand."""
CERTAIN = 0.9
"""A region decided with at least this posterior is not listed as disputed."""
NO_ANSWER = -1
"""A worker's answer over a region where their background there is far from anything they drew (they
skipped what is there: no evidence either way, as in the pixel vote) or they cast no vote."""
_RATE_FLOOR = 0.005
_RATE_CEILING = 0.45


@dataclass(frozen=True)
class Confusion:
    """One worker's class confusion over a batch (pixel shares against the others' weighted vote).

    Attributes:
        error: where the worker painted a class and the others too, the share where the others'
            plurality among the classes they named is another class (a class only a minority of
            them names is not counted against the worker).
        miss: where the others painted a class, the share the worker left as background.
        false_alarm: where the worker painted a class, the share the others left as background.
    """

    error: float = 0.05
    miss: float = 0.05
    false_alarm: float = 0.05

    def rates(self) -> tuple[float, float, float]:
        def clip(x: float) -> float:
            return min(max(x, _RATE_FLOOR), _RATE_CEILING)

        return clip(self.error), clip(self.miss), clip(self.false_alarm)


@dataclass(frozen=True)
class Region:
    """One disputed region of an object.

    Attributes:
        pixels: flat indices of its pixels, ascending.
        answers: ``(K,)`` each column's answer over it (class key, 0: nothing, :data:`NO_ANSWER`: none).
        classes: the classes named, ascending.
        posterior: ``(C,)`` the probability of each class key (0: background) being the truth there.
        decided: the class the region was given.
    """

    pixels: npt.NDArray[np.intp]
    answers: npt.NDArray[np.intp]
    classes: tuple[int, ...]
    posterior: FloatArray
    decided: int
    expected: dict[int, float] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return float(self.posterior[self.decided])


def contested_tuples(votes: npt.NDArray[np.uint8], standing: FloatArray) -> npt.NDArray[np.bool_]:
    """Per tuple, whether workers of standing (:data:`MIN_STANDING`) name two classes or more."""
    named = (votes != 0) & (votes != ABSTAIN) & (votes != FAR) & (standing[None, :] >= MIN_STANDING)
    low = np.where(named, votes, 255).min(axis=1)
    high = np.where(named, votes, 0).max(axis=1)
    contested: npt.NDArray[np.bool_] = named.any(axis=1) & (low < high)
    return contested


def components(
    pixels: npt.NDArray[np.intp], width: int, member: npt.NDArray[np.bool_] | None = None
) -> tuple[npt.NDArray[np.intp], int]:
    """The 4-connected components of a set of pixels (flat indices, ascending, rows ``width`` wide):
    each pixel's component (numbered in order of first pixel) and their number. ``member``: per
    image pixel, whether it is in the set (:func:`_members`), when the caller has it (else built here).

    >>> labels, n = components(np.array([0, 1, 3, 5, 6, 9]), 3)  # 3 wide: (0,0) (0,1) (1,0) (1,2) (2,0) (3,0)
    >>> labels.tolist(), n
    ([0, 0, 0, 1, 0, 0], 2)
    """
    n = len(pixels)
    if not n:
        return np.zeros(0, dtype=np.intp), 0
    rows = pixels // width
    start = np.ones(n, dtype=bool)
    start[1:] = (pixels[1:] != pixels[:-1] + 1) | (rows[1:] != rows[:-1])
    run = np.cumsum(start) - 1  # each pixel's run along its row
    n_runs = int(run[-1]) + 1
    # a run is linked to every run above it touches: one edge per stretch of a run touching the row
    # above (the pixels above a stretch are contiguous, one run)
    above = pixels - width
    if member is None:
        member = _members(pixels, int(pixels[-1]) + 1)  # (every pixel above one of the set is below its last)
    touching = np.zeros(n, dtype=bool)
    touching[above >= 0] = member[above[above >= 0]]
    previous = np.zeros(n, dtype=bool)
    previous[1:] = touching[:-1] & ~start[1:]
    linked = np.flatnonzero(touching & ~previous)
    at = np.searchsorted(pixels, above[linked])
    parent = _union(n_runs, run[linked], run[at])
    roots, numbered = np.unique(parent, return_inverse=True)
    # numbered by first pixel: runs are in raster order and a root is its component's lowest run
    return numbered[run].astype(np.intp), len(roots)


def _members(pixels: npt.NDArray[np.intp], size: int) -> npt.NDArray[np.bool_]:
    """Per image pixel (``size`` of them), whether it is one of ``pixels``."""
    member = np.zeros(size, dtype=bool)
    member[pixels] = True
    return member


def _deep(
    pixels: npt.NDArray[np.intp], width: int, height: int, depth: int, member: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.bool_]:
    """Per pixel, whether ``depth`` pixels of the set lie on each side of it along its row and its column.

    Along rows from the runs of the ascending indices; down columns only for the pixels deep along
    their row, by looking the ``2 * depth`` pixels above and below up in the set (``member``, per
    image pixel whether it is in the set: :func:`_members`).

    >>> square = np.array([r * 9 + c for r in range(1, 8) for c in range(1, 8)])  # 7x7 in a 9x9 image
    >>> np.flatnonzero(_deep(square, 9, 9, 3)).tolist()  # its centre (4, 4) only
    [24]
    """
    n = len(pixels)
    line = pixels // width
    start = np.ones(n, dtype=bool)
    start[1:] = (pixels[1:] != pixels[:-1] + 1) | (line[1:] != line[:-1])
    run = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    length = np.diff(np.append(first, n))
    position = np.arange(n) - first[run]
    candidates = np.flatnonzero((position >= depth) & (length[run] - 1 - position >= depth))
    at = pixels[candidates]
    rows = at // width
    inside = (rows >= depth) & (rows < height - depth)  # a pixel nearer the top or bottom is not deep
    candidates, at = candidates[inside], at[inside]
    if member is None:
        member = _members(pixels, width * height)
    for d in range(1, depth + 1):
        for step in (-d * width, d * width):
            keep = member[at + step]
            candidates, at = candidates[keep], at[keep]
    deep = np.zeros(n, dtype=bool)
    deep[candidates] = True
    return deep


def _posterior(
    answers: npt.NDArray[np.intp], share: FloatArray, confusion: Sequence[Confusion], n_classes: int, in_play: int
) -> FloatArray:
    """``(C,)`` the posterior of background and each class named (others 0) given each column's answer
    (:func:`posteriors`' row, one answer at a time: the same likelihoods, added in the same order).
    The likelihood model is written twice, here and in :func:`_log_likelihoods`: change both
    (``tests/core/test_disputed_regions.py`` holds them to the same bits)."""
    hypotheses = np.arange(n_classes)
    others = max(1, in_play - 1)
    log = np.zeros(n_classes)
    for k, answer in enumerate(answers.tolist()):
        if answer == NO_ANSWER:  # (the row-by-row form adds 0.0: nothing)
            continue
        error, miss, false_alarm = confusion[k].rates()
        if answer == 0:
            p = np.where(hypotheses == 0, 1.0 - false_alarm, miss)
        else:
            painted = np.where(hypotheses == answer, (1.0 - miss) * (1.0 - error), (1.0 - miss) * error / others)
            p = np.where(hypotheses == 0, false_alarm / max(1, in_play), painted)
        log += share[k] * np.log(p)
    named = np.zeros(n_classes, dtype=bool)
    named[answers[answers > 0]] = True
    named[0] = True  # background is always a hypothesis
    log = np.where(named, log, -np.inf)
    hypotheses = np.flatnonzero(np.isfinite(log))
    log = log[hypotheses] - log[hypotheses].max()
    weights = np.exp(log)
    posterior = np.zeros(n_classes)
    posterior[hypotheses] = weights / weights.sum()
    return posterior


def posteriors(
    answers: npt.NDArray[np.intp], share: FloatArray, confusion: Sequence[Confusion], n_classes: int, in_play: int
) -> FloatArray:
    """``(N, C)`` the posterior of background and each class named in a row (others 0) given each
    column's answer (``answers``: ``(N, K)``, class key, 0: nothing, :data:`NO_ANSWER`), row by row.

    >>> careful = Confusion(error=0.05, miss=0.05, false_alarm=0.05)
    >>> answers = np.array([[1, 2, NO_ANSWER], [1, 1, 2]])
    >>> np.round(posteriors(answers, np.ones(3), [careful] * 3, 3, 3), 3).tolist()
    [[0.006, 0.497, 0.497], [0.0, 0.974, 0.026]]
    """
    log = _log_likelihoods(answers, share, confusion, n_classes, in_play)
    log -= log.max(axis=1, keepdims=True)
    weights = np.exp(log)
    result: FloatArray = weights / weights.sum(axis=1, keepdims=True)
    return result


def _log_likelihoods(
    answers: npt.NDArray[np.intp], share: FloatArray, confusion: Sequence[Confusion], n_classes: int, in_play: int
) -> FloatArray:
    """``(N, C)`` each row's log-likelihood of each hypothesis (background, every class named in the
    row; ``-inf`` for the others): each column's answer weighed by its share, :data:`NO_ANSWER` none.
    :func:`_posterior` writes the same model one answer at a time: change both."""
    hypotheses = np.arange(n_classes)
    named = np.zeros((len(answers), n_classes), dtype=bool)
    rows, columns = np.nonzero(answers > 0)
    named[rows, answers[rows, columns]] = True
    named[:, 0] = True  # background is always a hypothesis
    others = max(1, in_play - 1)
    log = np.zeros((len(answers), n_classes))
    for k in range(answers.shape[1]):
        error, miss, false_alarm = confusion[k].rates()
        answer = answers[:, k : k + 1]
        background = np.where(answer == 0, 1.0 - false_alarm, false_alarm / max(1, in_play))
        painted = np.where(answer == hypotheses[None, :], (1.0 - miss) * (1.0 - error), (1.0 - miss) * error / others)
        p = np.where(hypotheses[None, :] == 0, background, np.where(answer == 0, miss, painted))
        log += np.where(answer == NO_ANSWER, 0.0, share[k] * np.log(p))
    masked: FloatArray = np.where(named, log, -np.inf)
    return masked


def in_play_of(votes: npt.NDArray[np.uint8]) -> int:
    """The classes painted anywhere in an object's vote tuples (at least 1)."""
    drawn = (votes != 0) & (votes != ABSTAIN) & (votes != FAR)
    return int(np.count_nonzero(np.bincount(votes[drawn]))) if drawn.any() else 1  # (bytes: counted, not sorted)


def answers_of(votes: npt.NDArray[np.uint8], n_classes: int) -> npt.NDArray[np.intp]:
    """Each vote as an answer: the class painted, 0 for background, :data:`NO_ANSWER` for far
    background (:data:`~tally.colours.FAR`) or no vote (``ABSTAIN``); ``n_classes`` in place of
    :data:`NO_ANSWER` (a bucket of a per-class count)."""
    drawn = (votes != 0) & (votes != ABSTAIN) & (votes != FAR)
    silent = np.where((votes == FAR) | (votes == ABSTAIN), n_classes, 0)
    return np.where(drawn, votes, silent).astype(np.intp)


def clear_tuples(
    votes: npt.NDArray[np.uint8],
    labels: npt.NDArray[np.uint8],
    share: FloatArray,
    confusion: Sequence[Confusion],
    n_classes: int,
    in_play: int,
) -> npt.NDArray[np.bool_]:
    """Per tuple (``votes``: ``(U, K)``, as :func:`decide_regions` takes them), whether its own
    answers leave no dispute: the posterior of the class the pixel vote gave it (``labels``) is at
    least :data:`CERTAIN`. A region decides only the pixels where every worker gave their answer over
    it, so a region whose answers are a clear tuple's would give that tuple's pixels their class and
    list nothing: such tuples form no region."""
    answers = answers_of(votes, n_classes)
    answers[answers == n_classes] = NO_ANSWER
    posterior = posteriors(answers, share, confusion, n_classes, in_play)
    clear: npt.NDArray[np.bool_] = (
        np.take_along_axis(posterior, labels.astype(np.intp)[:, None], axis=1)[:, 0] >= CERTAIN
    )
    return clear


def expected_miou(decided: FloatArray, size: float, posterior: FloatArray, choice: int) -> float:
    """The object's expected mean IoU (background and every class in the object or the region) when
    a region of ``size`` pixels takes ``choice`` and its truth follows ``posterior``; the rest of the
    object is taken as decided (``decided``: its pixels per class, the region left out).

    >>> rest = np.array([900.0, 50.0, 50.0])  # background, and classes 1 and 2 elsewhere
    >>> even = np.array([0.0, 0.5, 0.5])  # the region is class 1 or class 2, as likely
    >>> round(expected_miou(rest, 100, even, 0), 3), round(expected_miou(rest, 100, even, 1), 3)
    (0.744, 0.778)
    """
    return float(expected_mious(decided, size, posterior, [choice])[0])


def expected_mious(decided: FloatArray, size: float, posterior: FloatArray, choices: Sequence[int]) -> FloatArray:
    """:func:`expected_miou` of each of ``choices``, in one pass (rows: choices, truths, classes)."""
    truths = np.flatnonzero(posterior > 0)
    picked = np.asarray(choices, dtype=np.intp)
    n = len(decided)
    chosen = np.broadcast_to(decided, (len(picked), len(truths), n)).copy()
    chosen[np.arange(len(picked)), :, picked] += size
    true = np.broadcast_to(decided, (len(picked), len(truths), n)).copy()
    true[:, np.arange(len(truths)), truths] += size
    tp = np.broadcast_to(decided, (len(picked), len(truths), n)).copy()
    right = picked[:, None] == truths[None, :]
    hit = np.nonzero(right)
    tp[hit[0], hit[1], truths[hit[1]]] += size
    union = chosen + true - tp
    present = union > 0  # (chosen > 0) | (true > 0): every count is non-negative
    iou = np.divide(tp, union, out=np.zeros_like(tp), where=present)
    miou = iou.sum(axis=2) / present.sum(axis=2)
    result: FloatArray = miou @ posterior[truths]
    return result


_BY_ROWS = 32
"""The regions are found over the rows and columns the contested pixels span (:func:`_runs_in_rows`)
when those hold at most this many pixels for each contested one (each pixel of the span costs a
few whole-array passes; each contested one, pixel by pixel, several lookups); scattered sets pixel
by pixel (:func:`_deep`, :func:`components`)."""


def _large_thick_regions(
    pixels: npt.NDArray[np.intp] | None, width: int, height: int, member: npt.NDArray[np.bool_]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Callable[[int], npt.NDArray[np.intp]]] | None:
    """The 4-connected regions of the set (``member``: per image pixel, whether it is in it;
    ``pixels``: its flat indices, ascending, when known): each one's size (:func:`components`'
    numbering), those of :data:`MIN_PIXELS` or more holding a pixel :data:`DEPTH` deep
    (:func:`_deep`), and what gives a region's pixels (ascending); ``None`` when none qualifies."""
    grid = member.reshape(height, width)
    if pixels is not None:  # (a few pixels: their span read off them, not off the map)
        if not len(pixels):
            return None
        first_row, last_row = int(pixels[0]) // width, int(pixels[-1]) // width
        cols = pixels % width
        first_col, last_col, count = int(cols.min()), int(cols.max()), len(pixels)
    else:
        spanned = np.flatnonzero(grid.any(axis=1))
        if not len(spanned):
            return None
        first_row, last_row = int(spanned[0]), int(spanned[-1])
        used = np.flatnonzero(grid[first_row : last_row + 1].any(axis=0))
        first_col, last_col = int(used[0]), int(used[-1])
        count = int(np.count_nonzero(member))
    if (last_row - first_row + 1) * (last_col - first_col + 1) <= _BY_ROWS * count:
        return _runs_in_rows(grid, first_row, last_row, first_col, last_col)
    if pixels is None:
        pixels = np.flatnonzero(member)
    deep = _deep(pixels, width, height, DEPTH, member)  # first: most contested pixels are thin slivers
    if not deep.any():
        return None
    labels, n = components(pixels, width, member)
    sizes = np.bincount(labels, minlength=n)
    keep = np.flatnonzero((sizes >= MIN_PIXELS) & (np.bincount(labels[deep], minlength=n) > 0))
    if not len(keep):
        return None
    order = np.argsort(labels, kind="stable")  # each region's pixels, ascending, in one slice
    starts = np.concatenate([[0], np.cumsum(sizes)])
    found = pixels

    def region_pixels(r: int) -> npt.NDArray[np.intp]:
        own: npt.NDArray[np.intp] = found[order[starts[r] : starts[r + 1]]]
        return own

    return sizes, keep, region_pixels


def _runs_in_rows(
    grid: npt.NDArray[np.bool_], first_row: int, last_row: int, first_col: int, last_col: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Callable[[int], npt.NDArray[np.intp]]] | None:
    """:func:`_large_thick_regions` from the image's membership map (``grid``, ``(height, width)``)
    over the rows and columns the set spans (``first_row`` to ``last_row``, ``first_col`` to
    ``last_col``, inclusive): the runs along rows, the depth test by eroding the map along rows and
    down columns, and the components' edges where a run touches the row above, all in whole-array
    passes over a copy of that span with an unset pixel before each row (so nothing runs from one
    row into the next): the same regions, numbered the same way, as :func:`_deep` and
    :func:`components` find pixel by pixel."""
    width = grid.shape[1]
    rows = grid[first_row : last_row + 1]
    span_rows, span = len(rows), last_col - first_col + 1
    if span_rows < 2 * DEPTH + 1 or span < 2 * DEPTH + 1:
        return None
    line = span + 1  # each row of the copy: an unset pixel, then the row's span
    padded = np.zeros(span_rows * line + 1, dtype=bool)  # (and one unset pixel after the last row)
    padded[:-1].reshape(span_rows, line)[:, 1:] = rows[:, first_col : last_col + 1]
    # every pass below writes into one scratch buffer: fresh pages for each result cost more than the passes
    size = len(padded)
    one, two, three = np.empty((3, size), dtype=bool)
    # the depth test: DEPTH set pixels on each side along the row and down the column; windows of
    # 2, 4 (two of 2, 2 apart) and 7 (two of 4, 3 apart) set pixels from the first
    np.logical_and(padded[:-1], padded[1:], out=one[: size - 1])
    np.logical_and(one[: size - 3], one[2 : size - 1], out=two[: size - 3])
    along = np.logical_and(two[: size - 6], two[3 : size - 3], out=one[: size - 6])  # [i]: i .. i + 6 set
    np.logical_and(padded[:-line], padded[line:], out=two[: size - line])
    np.logical_and(two[: size - 3 * line], two[2 * line : size - line], out=three[: size - 3 * line])
    down = np.logical_and(three[: size - 6 * line], three[3 * line : size - 3 * line], out=two[: size - 6 * line])
    # pixel i is deep where along[i - DEPTH] and down[i - DEPTH line]: ``centre[j]`` for i = j + DEPTH line
    at = DEPTH * line - DEPTH
    centre = np.logical_and(along[at : at + len(down)], down, out=three[: len(down)])
    # one deep pixel for each stretch of them along a row stands for its run
    deep_at = _stretch_starts(centre, one) + DEPTH * line
    if not len(deep_at):
        return None
    # the runs: every change along the copy is a start (the pixel after it) or an end, alternately
    changes = np.flatnonzero(np.not_equal(padded[1:], padded[:-1], out=one[: size - 1]))
    starts, ends = changes[0::2] + 1, changes[1::2]
    lengths = ends - starts + 1
    # a run is linked to every run above it touches: one edge per stretch of pixels set in both rows
    both = np.logical_and(padded[line:], padded[:-line], out=two[: size - line])
    below = _stretch_starts(both, three) + line  # each stretch's first pixel in the lower row
    lower = np.searchsorted(starts, below, side="right") - 1
    upper = np.searchsorted(starts, below - line, side="right") - 1
    del padded, one, two, three, along, down, centre, both  # (the copy and its scratch: 4 bytes a pixel of the span)
    parent = _union(len(starts), lower, upper)
    roots, numbered = np.unique(parent, return_inverse=True)
    n = len(roots)
    run_label = numbered.reshape(-1)
    sizes = np.bincount(run_label, weights=lengths, minlength=n).astype(np.intp)
    thick = np.zeros(n, dtype=bool)
    thick[run_label[np.searchsorted(starts, deep_at, side="right") - 1]] = True
    keep = np.flatnonzero((sizes >= MIN_PIXELS) & thick)
    if not len(keep):
        return None
    row, col = np.divmod(starts, line)
    first = (row + first_row) * width + col - 1 + first_col  # each run's first pixel in the image
    order = np.argsort(run_label, kind="stable")  # each region's runs, in raster order, in one slice
    bounds = np.concatenate([[0], np.cumsum(np.bincount(run_label, minlength=n))])

    def region_pixels(r: int) -> npt.NDArray[np.intp]:
        runs = order[bounds[r] : bounds[r + 1]]
        own_lengths = lengths[runs]
        before = np.cumsum(own_lengths) - own_lengths  # each run's place in the region's pixels
        own: npt.NDArray[np.intp] = np.repeat(first[runs] - before, own_lengths) + np.arange(int(own_lengths.sum()))
        return own

    return sizes, keep, region_pixels


def _stretch_starts(flags: npt.NDArray[np.bool_], scratch: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """The first index of each stretch of set ``flags`` (``scratch``: at least as long, overwritten)."""
    starts = scratch[: len(flags)]
    starts[0] = flags[0]
    np.greater(flags[1:], flags[:-1], out=starts[1:])
    return np.flatnonzero(starts)


def _union(n: int, a: npt.NDArray[np.intp], b: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Each of ``n`` items' root (its component's lowest item) given the edges ``(a[i], b[i])``."""
    edges = np.unique(a * n + b)
    a, b = edges // n, edges % n
    parent = np.arange(n)
    while len(a):
        ra, rb = parent[a], parent[b]
        differ = ra != rb
        if not differ.any():
            break
        low = np.minimum(ra[differ], rb[differ])
        np.minimum.at(parent, ra[differ], low)  # hook each root under the lower one
        np.minimum.at(parent, rb[differ], low)
        while True:  # point every run at its root
            up = parent[parent]
            if np.array_equal(up, parent):
                break
            parent = up
    return parent


def decide_regions(
    image: npt.NDArray[np.uint8],
    inverse: npt.NDArray[np.integer],
    votes: npt.NDArray[np.uint8],
    pixels: npt.NDArray[np.intp] | None,
    share: FloatArray,
    confusion: Sequence[Confusion] | Callable[[], Sequence[Confusion]],
    n_classes: int,
    histogram: FloatArray | None = None,
    *,
    member: npt.NDArray[np.bool_] | None = None,
) -> list[Region]:
    """Decide, in place in ``image``, the disputed regions among ``pixels`` (those of the contested
    tuples, :func:`contested_tuples`; ascending; ``None``: read off ``member``); return them, largest first.

    ``inverse``: each pixel's tuple; ``votes``: ``(U, K)`` each tuple's votes (far background resolved
    as the pixel vote resolved it, except :data:`~tally.colours.FAR` where it made it background:
    no answer over a region);
    ``share``: each column's share of a vote (copies count once); ``confusion``: each column's
    worker's, or what computes them (called only when a region qualifies); ``histogram``: the
    image's pixels per class, when the caller has them (counting a large image costs milliseconds);
    ``member``: per image pixel (flat), whether it is one of ``pixels``, when the caller has it."""
    height, width = image.shape
    if pixels is not None and len(pixels) < MIN_PIXELS:
        return []
    if member is None:
        if pixels is None:
            raise ValueError("decide_regions needs the contested pixels or their membership map")
        member = _members(pixels, width * height)
    found = _large_thick_regions(pixels, width, height, member)
    if found is None:
        return []
    sizes, keep, region_pixels = found
    in_play = in_play_of(votes)
    silent = n_classes  # the bucket of no answer: far from anything the worker drew, or no vote
    values = answers_of(votes, n_classes)
    flat = image.reshape(-1)
    tuples = inverse.reshape(-1)
    if histogram is None:
        histogram = np.bincount(flat, minlength=n_classes).astype(np.float64)
    decided = np.asarray(histogram, dtype=np.float64)[:n_classes].copy()
    regions = []
    for r in keep[np.argsort(-sizes[keep], kind="stable")]:
        own = region_pixels(int(r))
        own_tuples = tuples[own]
        counts = np.bincount(own_tuples, minlength=len(votes)).astype(np.float64)
        rows = np.flatnonzero(counts)
        cast = values[rows]  # (rows, K)
        columns = len(share)
        tally = np.bincount(
            (cast + np.arange(columns) * (n_classes + 1)).reshape(-1),
            weights=np.repeat(counts[rows], columns),
            minlength=columns * (n_classes + 1),
        )
        answers = np.argmax(tally.reshape(columns, n_classes + 1), axis=1).astype(np.intp)
        named = tuple(sorted({int(a) for a in answers if 0 < a < silent}))
        if len(named) < 2:
            continue  # most of it is one class against nothing: the pixel vote's outlines decide
        if callable(confusion):  # only once a region names two classes
            confusion = confusion()
        # the region's decision holds where every worker gave their answer over it; elsewhere in it
        # (a part one of them drew otherwise: another object), the pixel vote stands
        match = (cast == answers[None, :]).all(axis=1)
        if not match.all():
            agreed = np.zeros(len(votes), dtype=bool)
            agreed[rows] = match
            own = own[agreed[own_tuples]]
        if len(own) < MIN_PIXELS:
            continue
        answers[answers == silent] = NO_ANSWER
        posterior = _posterior(answers, share, confusion, n_classes, in_play)
        before = _class_counts(flat[own], n_classes)
        rest = decided - before
        options = (0, *named)
        scores = expected_mious(rest, float(len(own)), posterior, options)
        expected = {c: round(float(v), 9) for c, v in zip(options, scores, strict=True)}  # even: a tie
        choice = max(expected, key=lambda c: (expected[c], -c))  # equal: background, else the lowest key
        current = int(np.argmax(before))  # what the pixel vote gave most of it
        if current in expected and expected[choice] - expected[current] < MIN_GAIN:
            choice = current  # no real expected gain: the pixel vote's tie rules stand
        if before[choice] != len(own):  # (every pixel already the choice: nothing to write)
            flat[own] = choice
        decided = rest
        decided[choice] += len(own)
        if posterior[choice] < CERTAIN:
            regions.append(Region(own, answers, named, posterior, choice, expected))
    return regions


def _class_counts(values: npt.NDArray[np.uint8], n_classes: int) -> FloatArray:
    """``(n_classes,)`` how many of ``values`` are each class key (larger values not counted): for a
    few classes one comparison each (bytes compared in place, no widening to count them)."""
    if n_classes > 8:
        return np.bincount(values, minlength=n_classes).astype(np.float64)[:n_classes]
    return np.array([np.count_nonzero(values == c) for c in range(n_classes)], dtype=np.float64)


def confusion_of(workers: Sequence[str], fitted: Mapping[str, Confusion], default: Confusion) -> list[Confusion]:
    """Each column's worker's confusion, or ``default`` for a worker the batch could not judge."""
    return [fitted.get(w, default) for w in workers]
