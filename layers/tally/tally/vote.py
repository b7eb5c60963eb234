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

from .colours import ABSTAIN

__all__ = [
    "ABSTAIN",
    "IndexedMask",
    "VoteResult",
    "VoteTable",
    "class_confidences",
    "majority_vote",
    "tabulate",
    "vote_scores",
]

_T = TypeVar("_T", bound=np.generic)
_DENSE_SPAN = 1 << 16  # packed ranges up to this size get one row per possible tuple
_BINCOUNT_SPAN = 1 << 22  # packed ranges up to this size are counted with np.bincount
_BYTE_SPAN = 1 << 8  # packed ranges up to this size are packed in uint8
_MAX_SPAN = 1 << 62  # beyond this the packed key would overflow int64: compact first


SQUARE = 8
"""Side of the squares a mask is summarised by (:class:`Squares`) and ``square_shifts`` apply to."""
_BYTES = np.uint64(0x0101010101010101)


@dataclass(frozen=True)
class Squares:
    """A mask's :data:`SQUARE` x :data:`SQUARE` squares (full rows of squares only): which hold one
    index throughout (``uniform``) and that index (``value``, meaningful where uniform). Most squares
    of a mask are uniform, so most of the vote can run on squares instead of pixels."""

    uniform: npt.NDArray[np.bool_]
    value: npt.NDArray[np.uint8]


def squares_of(indices: npt.NDArray[Any]) -> Squares | None:
    """The :class:`Squares` of a C-contiguous ``uint8`` index map whose width is a multiple of
    :data:`SQUARE` (``None`` for any other): each square's row of 8 indices is read as one
    ``uint64`` word, and a square is uniform when its 8 words are equal and each is one byte
    repeated.

    Examples:
        >>> import numpy as np
        >>> indices = np.zeros((8, 16), np.uint8); indices[3, 9] = 2
        >>> sq = squares_of(indices)
        >>> sq.uniform.tolist(), sq.value.tolist()
        ([[True, False]], [[0, 0]])
    """
    height, width = indices.shape
    if (
        indices.dtype != np.uint8
        or width % SQUARE
        or height < SQUARE
        or not indices.flags.c_contiguous
        or sys.byteorder != "little"
    ):
        return None
    rows, cols = height // SQUARE, width // SQUARE
    words = indices[: rows * SQUARE].view(np.uint64).reshape(rows, SQUARE, cols)
    first = words[:, 0, :]
    value = (first & np.uint64(0xFF)).astype(np.uint8)
    uniform = (words == first[:, None, :]).all(axis=1) & (first == value.astype(np.uint64) * _BYTES)
    return Squares(uniform, value)


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
            return _byte_pairs_lookup(per_tuple, inverse)
        return np.take(per_tuple, inverse)

    def pixels_where(self, per_tuple: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
        """Flat indices of the pixels whose tuple is true in ``per_tuple``, ascending."""
        if self.squares is not None:
            return self.squares.pixels_where(per_tuple, self.inverse)
        return np.flatnonzero(np.take(per_tuple, self.inverse.reshape(-1)))


@dataclass(frozen=True)
class SquareIndex:
    """Which :data:`SQUARE` x :data:`SQUARE` squares of a vote table's full rows of squares hold one
    tuple throughout (``uniform``), that tuple (``key``), the others (``mixed_rows``, ``mixed_cols``)
    and their pixels' tuples (``mixed``, ``(n, 8, 8)``): :meth:`VoteTable.expand` and
    :meth:`VoteTable.pixels_where` read whole squares where they can."""

    key: npt.NDArray[np.intp]
    uniform: npt.NDArray[np.bool_]
    mixed_rows: npt.NDArray[np.intp]
    mixed_cols: npt.NDArray[np.intp]
    mixed: npt.NDArray[np.integer[Any]]

    def expand(self, per_tuple: npt.NDArray[_T], inverse: npt.NDArray[np.integer[Any]]) -> npt.NDArray[_T]:
        rows = self.key.shape[0]
        height, width = inverse.shape
        out = np.empty((height, width), dtype=per_tuple.dtype)
        spread = np.repeat(per_tuple[self.key], SQUARE, axis=1)  # each square's value along its row
        out[: rows * SQUARE].reshape(rows, SQUARE, width)[...] = spread[:, None, :]
        if len(self.mixed_rows):
            put_squares(out, self.mixed_rows, self.mixed_cols, np.take(per_tuple, self.mixed))
        if rows * SQUARE < height:
            out[rows * SQUARE :] = np.take(per_tuple, inverse[rows * SQUARE :])
        return out

    def pixels_where(
        self, per_tuple: npt.NDArray[np.bool_], inverse: npt.NDArray[np.integer[Any]]
    ) -> npt.NDArray[np.intp]:
        """Flat indices of the pixels whose tuple is true in ``per_tuple``, ascending."""
        rows = self.key.shape[0]
        height, width = inverse.shape
        dy, dx = np.divmod(np.arange(SQUARE * SQUARE), SQUARE)
        offsets = (dy * width + dx).astype(np.intp)
        whole_rows, whole_cols = np.nonzero(self.uniform & per_tuple[self.key])
        whole = ((whole_rows * SQUARE * width + whole_cols * SQUARE)[:, None] + offsets[None, :]).reshape(-1)
        parts = [whole]
        if len(self.mixed_rows):
            square, pixel = np.divmod(np.flatnonzero(per_tuple[self.mixed]), SQUARE * SQUARE)
            parts.append(self.mixed_rows[square] * SQUARE * width + self.mixed_cols[square] * SQUARE + offsets[pixel])
        if rows * SQUARE < height:
            parts.append(np.flatnonzero(per_tuple[inverse[rows * SQUARE :]]) + rows * SQUARE * width)
        # ascending, as the later gathers around each pixel are much faster in raster order
        return np.sort(np.concatenate(parts).astype(np.intp))


def put_squares(
    image: npt.NDArray[Any], rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp], values: npt.NDArray[Any]
) -> None:
    """Write ``values[i]`` (``(n, 8, 8)``) into the square at ``(rows[i], cols[i])`` of a C-contiguous
    image whose width is a multiple of :data:`SQUARE` (a square's row of pixels is whole ``uint64``
    words for items of 1, 2, 4 or 8 bytes: written as words)."""
    height, width = image.shape
    full, per_row = height // SQUARE, width // SQUARE
    per_word = image.itemsize  # uint64 words per row of a square (8 items of ``itemsize`` bytes)
    if image.flags.c_contiguous and per_word in (1, 2, 4, 8):
        words = image[: full * SQUARE].view(np.uint64).reshape(full, SQUARE, per_row, per_word)
        words[rows, :, cols, :] = (
            np.ascontiguousarray(values, dtype=image.dtype).view(np.uint64).reshape(len(rows), SQUARE, per_word)
        )
    else:
        image[: full * SQUARE].reshape(full, SQUARE, per_row, SQUARE)[rows, :, cols, :] = values


def _byte_pairs_lookup(table: npt.NDArray[Any], index: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``np.take(table, index)`` for a byte table and a byte index map of an even number of pixels,
    two pixels at a time: the index read as ``uint16`` pairs into a 65,536-entry table of pairs (half
    the lookups, each of which numpy first widens to ``intp``: ~0.31 against ~0.63 ms for 1280x960).
    Little-endian only: pair ``a + 256 b`` holds ``table[a] + 256 table[b]``."""
    single = np.zeros(256, dtype=np.uint16)
    single[: len(table)] = table
    pairs = ((single << 8)[:, None] | single[None, :]).reshape(-1)  # [b, a] -> table[a] + 256 table[b]
    out = np.take(pairs, index.reshape(-1).view(np.uint16))
    return out.view(np.uint8).reshape(index.shape)


@dataclass(frozen=True)
class VoteResult:
    """Per-tuple winning class key and confidence in ``[0, 1]``."""

    labels: npt.NDArray[np.uint8]
    confidence: npt.NDArray[np.float64]


def _key_dtype(span: int) -> type[np.integer[Any]]:
    if span <= 1 << 16:
        return np.uint16
    if span <= 1 << 32:
        return np.uint32
    return np.int64


def _index_dtype(n: int) -> type[np.integer[Any]]:
    """The smallest unsigned type that holds the indices ``0..n-1``."""
    if n <= 1 << 8:
        return np.uint8
    if n <= 1 << 16:
        return np.uint16
    if n <= 1 << 32:
        return np.uint32
    return np.intp


def _count(
    key: npt.NDArray[np.integer[Any]], span: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.integer[Any]], npt.NDArray[np.int64]]:
    """Distinct keys (ascending), each pixel's index into them (the smallest unsigned type that
    holds it), and their counts."""
    if span <= _BINCOUNT_SPAN:
        # hash-based unique (numpy >= 2.3) finds the few hundred distinct keys faster than a
        # bincount over the whole range; sorting them gives bincount's ascending order
        present, present_counts = np.unique(key, return_counts=True, sorted=False)
        order = np.argsort(present, kind="stable")
        uniq = present[order]
        position = np.zeros(span, dtype=_index_dtype(len(uniq)))
        position[uniq] = np.arange(len(uniq))
        inverse = np.take(position, key)
        return uniq.astype(np.int64), inverse, present_counts[order].astype(np.int64)
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return uniq.astype(np.int64), inverse.astype(np.intp).ravel(), counts.astype(np.int64)


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
    if total <= _DENSE_SPAN:
        summaries = [m.squares or squares_of(m.indices) for m in masks]
        if all(sq is not None for sq in summaries):
            return _tabulate_squares(masks, [sq for sq in summaries if sq is not None], shifts, total)
    if total > _MAX_SPAN or shape[1] % SQUARE:  # the packed key will be compacted: shift each mask
        masks = [
            m if g is None else IndexedMask(_shifted(m.indices, g), m.lut) for m, g in zip(masks, shifts, strict=True)
        ]
        shifts = [None] * len(masks)
    key: npt.NDArray[np.integer[Any]] | None = None
    span = 1
    compacted = False
    # a packed range that fits a byte is packed in bytes throughout (half the memory traffic of
    # uint16, and a byte-sized tuple index for every later lookup)
    small = total <= _BYTE_SPAN
    for mask in masks:
        radix = len(mask.lut)
        flat = mask.indices.reshape(-1)
        if key is None:
            key = flat.astype(np.uint8 if small else _key_dtype(radix))
        else:
            if span * radix > _MAX_SPAN:
                uniq, inverse, _ = _count(key, span)
                key, span, compacted = inverse, len(uniq), True
            dtype = np.uint8 if small else _key_dtype(span * radix)
            if key.dtype != dtype:
                key = key.astype(dtype)
            key *= radix
            key += flat
        span *= radix
    assert key is not None
    if any(g is not None for g in shifts):
        _add_square_shifts(key.reshape(shape), masks, shifts)
    if not compacted and span <= _DENSE_SPAN:
        # small range: every possible tuple gets a row (most with count 0) and the packed key
        # itself is the row index, so no per-pixel re-indexing pass is needed
        # hash-based unique (numpy >= 2.3) on pairs of keys counts a few hundred distinct keys
        # ~3x faster than bincount, and ~2x faster than on the keys one by one
        counts = _pair_counts(key, span)
        return VoteTable(_unpack(np.arange(span, dtype=np.int64), masks), counts, key.reshape(shape))
    uniq, inverse, counts = _count(key, span)
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


def _tabulate_squares(
    masks: Sequence[IndexedMask],
    summaries: Sequence[Squares],
    shifts: Sequence[npt.NDArray[np.uint8] | None],
    span: int,
) -> VoteTable:
    """:func:`tabulate` for a small packed range from the masks' squares: a square uniform in every
    mask is one key for its 64 pixels, and only the pixels of the other squares (a few per cent: the
    outlines) and of a last partial row of squares are packed one by one. A range that fits a byte
    keeps a row per possible tuple (the packed key is the row); a wider one keeps the tuples present
    only (in key order), so the tuple index of five workers' masks is mostly a byte, not two."""
    height, width = masks[0].shape
    rows, cols = height // SQUARE, width // SQUARE
    key_dtype = np.uint8 if span <= _BYTE_SPAN else np.uint16
    places = []
    place = 1
    for mask in masks[::-1]:  # the last mask is the least significant digit
        places.append(place)
        place *= len(mask.lut)
    places.reverse()
    code = np.zeros((-(-height // SQUARE), cols), dtype=np.int64)  # every mask's square shifts, packed
    for grid, place in zip(shifts, places, strict=True):
        if grid is not None:
            code += grid.astype(np.int64) * place
    uniform = np.logical_and.reduce([sq.uniform for sq in summaries])
    square_key = code[:rows].copy()
    for sq, place in zip(summaries, places, strict=True):
        square_key += sq.value.astype(np.int64) * place
    square_key[~uniform] = 0  # a mixed square has no key of its own (any row will do: overwritten)
    counts = np.bincount(square_key[uniform], minlength=span) * (SQUARE * SQUARE)
    mixed_rows, mixed_cols = np.nonzero(~uniform)
    mixed = np.empty((len(mixed_rows), SQUARE, SQUARE), dtype=key_dtype)
    if len(mixed_rows):
        # the other squares pixel by pixel; a square's row of 8 indices is one uint64 word
        mixed[...] = code[mixed_rows, mixed_cols].astype(key_dtype)[:, None, None]
        for mask, place in zip(masks, places, strict=True):
            words = mask.indices[: rows * SQUARE].view(np.uint64).reshape(rows, SQUARE, cols)
            part = words[mixed_rows, :, mixed_cols].view(np.uint8).reshape(len(mixed_rows), SQUARE, SQUARE)
            mixed += part.astype(key_dtype) * np.asarray(place, dtype=key_dtype)
        counts += np.bincount(mixed.reshape(-1), minlength=span)  # a few per cent of the pixels: faster than pairs
    rest = np.repeat(code[rows:].astype(key_dtype), SQUARE, axis=1)[:1].repeat(height - rows * SQUARE, axis=0)
    if len(rest):  # a last, partial row of squares: pixel by pixel
        for mask, place in zip(masks, places, strict=True):
            rest += mask.indices[rows * SQUARE :].astype(key_dtype) * np.asarray(place, dtype=key_dtype)
        counts += np.bincount(rest.reshape(-1), minlength=span)
    keys = np.arange(span, dtype=np.int64)
    if span > _BYTE_SPAN:  # keep the tuples present, renumbered in key order
        keys = np.flatnonzero(counts)
        position = np.zeros(span, dtype=_index_dtype(len(keys)))
        position[keys] = np.arange(len(keys))
        counts = counts[keys]
        square_key, mixed, rest = position[square_key], position[mixed], position[rest]
    dtype = mixed.dtype
    inverse = np.empty((height, width), dtype=dtype)
    # every square's tuple over its 64 pixels: repeated along the row of squares, then down its 8 rows
    spread = np.repeat(square_key.astype(dtype), SQUARE, axis=1)
    inverse[: rows * SQUARE].reshape(rows, SQUARE, width)[...] = spread[:, None, :]
    if len(mixed_rows):
        put_squares(inverse, mixed_rows, mixed_cols, mixed)
    if len(rest):
        inverse[rows * SQUARE :] = rest
    index = SquareIndex(
        square_key.astype(np.intp), uniform, mixed_rows.astype(np.intp), mixed_cols.astype(np.intp), mixed
    )
    return VoteTable(_unpack(keys, masks), counts.astype(np.int64), inverse, index)


def _add_square_shifts(
    key: npt.NDArray[np.integer[Any]], masks: Sequence[IndexedMask], shifts: Sequence[npt.NDArray[np.uint8] | None]
) -> None:
    """Add, in place, every mask's square shifts to the packed key (each at its digit's place value)."""
    code: npt.NDArray[np.int64] | None = None
    place = 1
    for mask, grid in zip(masks[::-1], shifts[::-1], strict=True):  # the last mask is the lowest digit
        if grid is not None:
            term = grid.astype(np.int64) * place
            code = term if code is None else code + term
        place *= len(mask.lut)
    assert code is not None
    height, width = key.shape
    full, cols = height // SQUARE, width // SQUARE
    squares = code.astype(key.dtype)
    top = key[: full * SQUARE].reshape(full, SQUARE, cols, SQUARE)
    top += squares[:full, None, :, None]
    if full * SQUARE < height:
        rest = key[full * SQUARE :].reshape(height - full * SQUARE, cols, SQUARE)
        rest += squares[full][None, :, None]


def _shifted(indices: npt.NDArray[np.uint8], grid: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The indices with each square's shift added (the general path of :func:`tabulate`)."""
    height, width = indices.shape
    spread = np.repeat(np.repeat(grid, SQUARE, axis=0)[:height], SQUARE, axis=1)[:, :width]
    return (indices + spread).astype(np.uint8)


def _pair_counts(key: npt.NDArray[np.integer[Any]], span: int) -> npt.NDArray[np.int64]:
    """How often each of ``0..span-1`` occurs in a ``uint8`` or ``uint16`` key: its values are
    counted two at a time, as one value of twice the width (numpy's hash-based unique is slow on
    bytes, and two neighbouring pixels mostly share a tuple, so the distinct pairs are few), each
    pair then credited to both its halves."""
    bits = key.dtype.itemsize * 8
    wide = np.uint16 if bits == 8 else np.uint32
    flat = key.reshape(-1)
    even = np.ascontiguousarray(flat[: len(flat) - len(flat) % 2])
    pairs, pair_counts = np.unique(even.view(wide), return_counts=True, sorted=False)
    low = (1 << bits) - 1
    counts = np.bincount(pairs & low, pair_counts, span) + np.bincount(pairs >> bits, pair_counts, span)
    if len(flat) % 2:
        counts[int(flat[-1])] += 1
    return counts.astype(np.int64)


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
