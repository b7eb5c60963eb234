"""The pixel vote: pure numpy on small integer maps, no I/O.

Every worker's mask arrives as an :class:`IndexedMask` (per-pixel indices plus a table from index to
class key). Most pixels of an object are unanimous, so instead of voting pixel by pixel the vote
runs on the object's *distinct vote tuples*: each pixel's tuple of worker indices is packed into one
integer, :func:`tabulate` counts the distinct tuples (``np.bincount`` when the packed range is small,
``np.unique`` otherwise) and the vote is taken once per tuple, then spread back to the pixels with
one lookup. A 1-Mpixel object with five workers has a few hundred distinct tuples.

Plain majority rule (:func:`majority_vote`)
    Each worker who does not abstain gives the pixel one vote (or ``weights[k]``) for the class they
    drew; the class with the most votes wins. **Tie rule:** a pixel without a strict plurality is
    background (key 0): a pixel that half the workers leave unlabelled stays background, and so does
    one that two classes tie for (guessing a class there costs the IoU of two classes when wrong,
    background costs less), or where every worker abstains. The per-pixel confidence is the
    winner's share of the votes cast (0 where no vote was cast).

Examples:
    >>> import numpy as np
    >>> a = IndexedMask(np.array([[1, 1, 0]], np.uint8), np.array([0, 2], np.uint8))
    >>> b = IndexedMask(np.array([[1, 0, 0]], np.uint8), np.array([0, 2], np.uint8))
    >>> table = tabulate([a, b])
    >>> table.expand(majority_vote(table, n_classes=3).labels).tolist()
    [[2, 0, 0]]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ..colours import ABSTAIN
from ._pixel_kernels import (
    BYTE_SPAN,
    DENSE_SPAN,
    HIGH_BIT,
    MAX_SPAN,
    SQUARE,
    SquareIndex,
    Squares,
    add_square_shifts,
    byte_pairs_lookup,
    count_keys,
    key_dtype,
    pair_counts,
    shifted,
    squares_of,
    tabulate_squares,
)

__all__ = [
    "ABSTAIN",
    "SQUARE",
    "IndexedMask",
    "Squares",
    "VoteResult",
    "VoteTable",
    "class_confidences",
    "majority_vote",
    "squares_of",
    "tabulate",
    "vote_scores",
]

_T = TypeVar("_T", bound=np.generic)


@dataclass(frozen=True)
class IndexedMask:
    """A worker's mask: per-pixel ``indices`` and ``lut[index]`` = class key or :data:`ABSTAIN`;
    ``squares``, when known, the :class:`Squares` of ``indices`` (computed once, reused)."""

    indices: npt.NDArray[np.uint8]
    lut: npt.NDArray[np.uint8]
    squares: Squares | None = field(default=None, compare=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.indices.shape
        return int(h), int(w)

    def classes(self) -> npt.NDArray[np.uint8]:
        """The per-pixel class map (allocates; the vote itself never needs it)."""
        return self.lut[self.indices]


@dataclass(frozen=True)
class VoteTable:
    """The distinct vote tuples of one object.

    ``votes[u, k]`` is worker *k*'s class key (or :data:`ABSTAIN`) in tuple *u*, ``counts[u]`` the
    number of pixels with that tuple (possibly 0) and ``inverse`` the tuple index of every pixel
    (image-shaped, any unsigned or signed integer type).
    """

    votes: npt.NDArray[np.uint8]
    counts: npt.NDArray[np.int64]
    inverse: npt.NDArray[np.integer[Any]]
    squares: SquareIndex | None = field(default=None, compare=False, repr=False)
    """When known, the tuple of each :data:`SQUARE` x :data:`SQUARE` square that has one throughout:
    per-tuple results are then spread to those squares whole, and only the others pixel by pixel."""

    @property
    def n_workers(self) -> int:
        return int(self.votes.shape[1])

    def expand_and_find(
        self, labels: npt.NDArray[np.uint8], flags: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.intp], npt.NDArray[np.integer[Any]]]:
        """``expand(labels)``, and the pixels whose tuple is flagged with each one's tuple
        (:meth:`pixels_and_tuples`), in one read of the image where it can: while every label is
        below :data:`HIGH_BIT`, each tuple's label carries its flag in the high bit through one lookup,
        and the bit is cleared once the flagged pixels are found (with squares, in the mixed squares'
        pixels only: :meth:`SquareIndex.expand_and_find`)."""
        if len(labels) and int(labels.max()) >= HIGH_BIT:  # no bit to spare: two reads
            pixels, tuples = self.pixels_and_tuples(flags)
            return self.expand(labels), pixels, tuples
        if self.squares is not None:
            return self.squares.expand_and_find(labels, flags, self.inverse)
        image = self.expand(labels | np.where(flags, np.uint8(HIGH_BIT), np.uint8(0)))
        pixels = np.flatnonzero(image.reshape(-1) >= HIGH_BIT)
        np.bitwise_and(image, np.uint8(HIGH_BIT - 1), out=image)
        return image, pixels, self.inverse.reshape(-1)[pixels]

    def expand(self, per_tuple: npt.NDArray[_T]) -> npt.NDArray[_T]:
        """Spread a per-tuple array back to an image."""
        inverse = self.inverse
        if self.squares is not None and per_tuple.ndim == 1:
            return self.squares.expand(per_tuple, inverse)
        if (
            per_tuple.dtype == np.uint8
            and per_tuple.ndim == 1
            and inverse.dtype == np.uint8
            and inverse.size % 2 == 0
            and inverse.flags.c_contiguous
            and sys.byteorder == "little"
            and inverse.size
            and len(per_tuple) >= len(self.votes)  # every tuple index has an entry (else np.take's IndexError)
        ):
            return byte_pairs_lookup(per_tuple, inverse)
        return np.take(per_tuple, inverse)

    def pixels_where(self, per_tuple: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
        """Flat indices of the pixels whose tuple is true in ``per_tuple``, ascending."""
        if self.squares is not None:
            return self.squares.pixels_where(per_tuple, self.inverse)
        return np.flatnonzero(np.take(per_tuple, self.inverse.reshape(-1)))

    def pixels_and_tuples(
        self, per_tuple: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.integer[Any]]]:
        """The pixels whose tuple is true in ``per_tuple`` and each one's tuple, in no promised order
        (with squares, square by square: no sort, and no gather of their tuples from the image)."""
        if self.squares is not None:
            pixels, tuples = self.squares.pixels_and_tuples(per_tuple, self.inverse)
            assert tuples is not None
            return pixels, tuples
        pixels = self.pixels_where(per_tuple)
        return pixels, self.inverse.reshape(-1)[pixels]


@dataclass(frozen=True)
class VoteResult:
    """Per-tuple winning class key and confidence in ``[0, 1]``."""

    labels: npt.NDArray[np.uint8]
    confidence: npt.NDArray[np.float64]


def tabulate(
    masks: Sequence[IndexedMask], square_shifts: Sequence[npt.NDArray[np.uint8] | None] | None = None
) -> VoteTable:
    """Count the distinct per-pixel vote tuples of equally sized masks (see the module docstring).

    ``square_shifts``: per mask, ``None`` or what the indices of each :data:`SQUARE` x
    :data:`SQUARE` square gain before they are counted (a grid of ``ceil(H / 8) x W / 8``; the
    width a multiple of 8), as if the masks had been rewritten: the shifts of every mask are added
    to the packed key in one pass."""
    if not masks:
        raise ValueError("tabulate needs at least one mask")
    shape = masks[0].shape
    if any(m.shape != shape for m in masks):
        raise ValueError("all masks of one object must have the same shape")
    total = 1
    for mask in masks:
        total *= len(mask.lut)
    shifts = list(square_shifts) if square_shifts is not None else [None] * len(masks)
    if len(shifts) != len(masks):
        raise ValueError("one square shift grid (or None) per mask")
    if total <= DENSE_SPAN:
        summaries = [m.squares or squares_of(m.indices) for m in masks]
        if all(sq is not None for sq in summaries):
            keys, counts, inverse, index = tabulate_squares(
                masks, [sq for sq in summaries if sq is not None], shifts, total
            )
            return VoteTable(_unpack(keys, masks), counts, inverse, index)
    if total > MAX_SPAN or shape[1] % SQUARE:  # the packed key will be compacted: shift each mask
        masks = [
            m if g is None else IndexedMask(shifted(m.indices, g), m.lut) for m, g in zip(masks, shifts, strict=True)
        ]
        shifts = [None] * len(masks)
    key: npt.NDArray[np.integer[Any]] | None = None
    span = 1
    compacted = False
    # a packed range that fits a byte is packed in bytes throughout (half the memory traffic of
    # uint16, and a byte-sized tuple index for every later lookup)
    small = total <= BYTE_SPAN
    for mask in masks:
        radix = len(mask.lut)
        flat = mask.indices.reshape(-1)
        if key is None:
            key = flat.astype(np.uint8 if small else key_dtype(radix))
        else:
            if span * radix > MAX_SPAN:
                uniq, inverse, _ = count_keys(key, span)
                key, span, compacted = inverse, len(uniq), True
            dtype = np.uint8 if small else key_dtype(span * radix)
            if key.dtype != dtype:
                key = key.astype(dtype)
            key *= radix
            key += flat
        span *= radix
    assert key is not None
    if any(g is not None for g in shifts):
        add_square_shifts(key.reshape(shape), masks, shifts)
    if not compacted and span <= DENSE_SPAN:
        # small range: every possible tuple gets a row (most with count 0) and the packed key
        # itself is the row index, so no per-pixel re-indexing pass is needed
        # hash-based unique (numpy >= 2.3) on pairs of keys counts a few hundred distinct keys
        # ~3x faster than bincount, and ~2x faster than on the keys one by one
        counts = pair_counts(key, span)
        return VoteTable(_unpack(np.arange(span, dtype=np.int64), masks), counts, key.reshape(shape))
    uniq, inverse, counts = count_keys(key, span)
    if compacted:
        # keys no longer decompose: read each tuple off one pixel that has it
        first = np.empty(len(uniq), dtype=np.intp)
        first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1, dtype=np.intp)
        votes = np.empty((len(uniq), len(masks)), dtype=np.uint8)
        for k, mask in enumerate(masks):
            votes[:, k] = mask.lut[mask.indices.reshape(-1)[first]]
    else:
        votes = _unpack(uniq, masks)
    return VoteTable(votes=votes, counts=counts, inverse=inverse.reshape(shape))


def _unpack(keys: npt.NDArray[np.int64], masks: Sequence[IndexedMask]) -> npt.NDArray[np.uint8]:
    """Each packed key's tuple of class keys (the last mask is the least significant digit)."""
    votes = np.empty((len(keys), len(masks)), dtype=np.uint8)
    rest = keys.copy()
    for k in range(len(masks) - 1, -1, -1):
        radix = len(masks[k].lut)
        votes[:, k] = masks[k].lut[rest % radix]
        rest //= radix
    return votes


def vote_scores(
    votes: npt.NDArray[np.uint8], n_classes: int, weights: Sequence[float] | npt.NDArray[np.float64] | None = None
) -> npt.NDArray[np.float64]:
    """``scores[u, c]``: the (weighted) votes tuple *u* of ``votes`` (``(U, K)`` class keys or
    :data:`ABSTAIN`, e.g. :attr:`VoteTable.votes`) gives class *c*."""
    n_tuples, n_workers = votes.shape
    w = np.ones(n_workers) if weights is None else np.asarray(weights, dtype=np.float64)
    scores = np.zeros((n_tuples, n_classes), dtype=np.float64)
    rows = np.arange(n_tuples)
    for k in range(n_workers):
        cast = votes[:, k] != ABSTAIN
        scores[rows[cast], votes[cast, k]] += w[k]
    return scores


def majority_vote(table: VoteTable, n_classes: int, weights: Sequence[float] | None = None) -> VoteResult:
    """Plurality vote per tuple; a tuple without a strict plurality is background (module docstring)."""
    scores = vote_scores(table.votes, n_classes, weights)
    labels = np.argmax(scores, axis=1).astype(np.uint8)
    best = scores.max(axis=1, keepdims=True)
    labels[(scores >= best - 1e-9 * np.maximum(best, 1.0)).sum(axis=1) > 1] = 0
    total = scores.sum(axis=1)
    top = scores[np.arange(len(labels)), labels]
    confidence = np.divide(top, total, out=np.zeros_like(top), where=total > 0)
    return VoteResult(labels=labels, confidence=confidence)


def class_confidences(table: VoteTable, result: VoteResult, n_classes: int) -> tuple[list[float], float]:
    """Per-class and per-object confidence from per-tuple confidences.

    Class *c*'s confidence is the mean per-pixel confidence over the pixels that either end up as
    *c* or that any worker drew as *c* (1.0 when there are none: every worker agrees it is absent).
    The object's confidence is the same mean over every pixel some worker labelled or that ended up
    labelled, so a large unanimous background does not inflate it.
    """
    votes = table.votes
    weighted = table.counts * result.confidence
    per_class: list[float] = []
    for c in range(n_classes):
        region = (result.labels == c) | (votes == c).any(axis=1)
        per_class.append(_mean(weighted[region].sum(), table.counts[region].sum()))
    labelled = (result.labels != 0) | ((votes != 0) & (votes != ABSTAIN)).any(axis=1)
    return per_class, _mean(weighted[labelled].sum(), table.counts[labelled].sum())


def _mean(total: float, count: int) -> float:
    return float(total / count) if count else 1.0
