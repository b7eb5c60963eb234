"""The pixel vote's fast paths (numpy only, private): the work done per pixel, kept apart from the rules.

Everything here computes exactly what a plain numpy expression would (each function says which);
the callers (:mod:`tally.aggregation.vote_table`, :mod:`tally.aggregation.weighted_pixel_vote`,
:mod:`tally.aggregation.pixel_vote`, :mod:`tally.codecs`) hold the rules and the documented API, and
``tests/core/test_vote_fast_paths.py`` checks each fast path against its plain path.

* **8x8 squares** (:data:`SQUARE`): most squares of a mask hold one index throughout, so a mask is
  summarised by its squares (:class:`Squares`), the distinct vote tuples are counted a square at a
  time (:func:`tabulate_squares`) and per-tuple results are spread back and searched a square at a
  time (:class:`SquareIndex`; the default vote's contested pixels come square by square, unsorted,
  with their tuples). A square's row of 8 bytes is one ``uint64`` word (:func:`put_squares`,
  :func:`fill_squares`, :func:`occupied_words`, :func:`add_to_squares`, :func:`square_words`; little-endian machines only,
  checked).
* **Counting** packed keys: hash-based ``np.unique`` on pairs of keys (:func:`pair_counts`), a
  run of equal neighbours at a time (:func:`run_counts`), a position table for small ranges
  (:func:`count_keys`), byte lookups two at a time (:func:`byte_pairs_lookup`).
* **The spatial kernels** of the default vote: the neighbourhood mean (:func:`window_mean`, tile by
  tile where the pixels crowd into few 8x8 tiles) and the fronts that settle ties (:func:`settle_ties`,
  each tie's class found once per tuple by :func:`tie_pairs`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .vote_table import IndexedMask

__all__ = [
    "HIGH_BIT",
    "MAX_TIE_CLASSES",
    "SQUARE",
    "SquareIndex",
    "Squares",
    "add_square_shifts",
    "add_to_squares",
    "byte_pairs_lookup",
    "count_keys",
    "fill_squares",
    "occupied_words",
    "pair_counts",
    "put_squares",
    "run_counts",
    "settle_ties",
    "shifted",
    "square_words",
    "squares_of",
    "tabulate_squares",
    "tie_pairs",
    "window_mean",
]

_T = TypeVar("_T", bound=np.generic)
DENSE_SPAN = 1 << 16  # packed ranges up to this size get one row per possible tuple
BINCOUNT_SPAN = 1 << 22  # packed ranges up to this size are counted with np.bincount
BYTE_SPAN = 1 << 8  # packed ranges up to this size are packed in uint8
MAX_SPAN = 1 << 62  # beyond this the packed key would overflow int64: compact first

SQUARE = 8
"""Side of the squares a mask is summarised by (:class:`Squares`) and ``square_shifts`` apply to."""
BYTES = np.uint64(0x0101010101010101)


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
    repeated. Each word is compared with the word above it in one pass over the map as a flat
    array (comparing each square's words with its first, broadcast, ran numpy's loop a row of
    squares at a time: ~2x slower).

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
    flat = indices[: rows * SQUARE].view(np.uint64).reshape(-1)  # the words, row after row
    below = np.empty(len(flat), dtype=bool)  # [i]: word i equals the word below it (the last row: never read)
    np.equal(flat[cols:], flat[:-cols], out=below[:-cols])
    # uniform: each of a square's first 7 rows equals the row below it, and its first word is one byte repeated
    uniform = below.reshape(rows, SQUARE, cols)[:, : SQUARE - 1, :].all(axis=1)
    first = flat.reshape(rows, SQUARE, cols)[:, 0, :].copy()  # read once (a word every 8 rows), then contiguous
    value = first.astype(np.uint8)  # the low byte: the first index
    uniform &= first == value.astype(np.uint64) * BYTES
    return Squares(uniform, value)


@dataclass(frozen=True)
class SquareIndex:
    """Which :data:`SQUARE` x :data:`SQUARE` squares of a vote table's full rows of squares hold one
    tuple throughout (``uniform``), that tuple (``key``), the others (``mixed_rows``, ``mixed_cols``)
    and their pixels' tuples (``mixed``, ``(n, 8, 8)``): ``VoteTable.expand`` and
    ``VoteTable.pixels_where`` (:mod:`tally.aggregation.vote_table`) read whole squares where they can.
    ``mixed_words``: the others' rows of 8 pixels as words of a byte image (:func:`square_words`),
    written with one flat index."""

    key: npt.NDArray[np.intp]
    uniform: npt.NDArray[np.bool_]
    mixed_rows: npt.NDArray[np.intp]
    mixed_cols: npt.NDArray[np.intp]
    mixed: npt.NDArray[np.integer[Any]]
    mixed_words: npt.NDArray[np.intp]

    def expand(self, per_tuple: npt.NDArray[_T], inverse: npt.NDArray[np.integer[Any]]) -> npt.NDArray[_T]:
        rows = self.key.shape[0]
        height, width = inverse.shape
        out = np.empty((height, width), dtype=per_tuple.dtype)
        fill_squares(out, per_tuple[self.key])
        if len(self.mixed_rows):
            put_squares(out, self.mixed_rows, self.mixed_cols, np.take(per_tuple, self.mixed), self.mixed_words)
        if rows * SQUARE < height:
            out[rows * SQUARE :] = np.take(per_tuple, inverse[rows * SQUARE :])
        return out

    def expand_and_find(
        self, labels: npt.NDArray[np.uint8], flags: npt.NDArray[np.bool_], inverse: npt.NDArray[np.integer[Any]]
    ) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
        """``expand(labels)`` and ``pixels_and_tuples(flags)`` at once, for byte labels below 128: the
        mixed squares' pixels are read once, each tuple's label with its flag in the high bit (the
        flags found there, the bit then cleared), not once per result."""
        rows = self.key.shape[0]
        height, width = inverse.shape
        out = np.empty((height, width), dtype=np.uint8)
        fill_squares(out, labels[self.key])
        parts: list[npt.NDArray[np.intp]] = []
        keys: list[npt.NDArray[np.integer[Any]]] = []
        self._uniform_found(flags, width, parts, keys)
        if len(self.mixed_rows):
            marked = np.take(labels | np.where(flags, np.uint8(HIGH_BIT), np.uint8(0)), self.mixed)
            found = np.flatnonzero(marked >= HIGH_BIT)
            np.bitwise_and(marked, np.uint8(HIGH_BIT - 1), out=marked)
            put_squares(out, self.mixed_rows, self.mixed_cols, marked, self.mixed_words)
            parts.append(self._mixed_pixels(found, width))
            keys.append(self.mixed.reshape(-1)[found])
        if rows * SQUARE < height:
            rest = inverse[rows * SQUARE :]
            out[rows * SQUARE :] = np.take(labels, rest)
            found = np.flatnonzero(flags[rest])
            parts.append(found + rows * SQUARE * width)
            keys.append(rest.reshape(-1)[found])
        pixels = np.concatenate(parts).astype(np.intp, copy=False)
        return out, pixels, np.concatenate(keys).astype(np.intp, copy=False)

    def _uniform_found(
        self,
        per_tuple: npt.NDArray[np.bool_],
        width: int,
        parts: list[npt.NDArray[np.intp]],
        keys: list[npt.NDArray[np.integer[Any]]] | None,
    ) -> None:
        """Append the pixels of the uniform squares whose tuple is true in ``per_tuple`` (raster order
        of squares, each square's pixels in raster order) and, with ``keys``, their tuples."""
        chosen = self.uniform & per_tuple[self.key]
        whole_rows, whole_cols = np.nonzero(chosen)
        corners = whole_rows * SQUARE * width + whole_cols * SQUARE
        parts.append((corners[:, None] + _square_offsets(width)[None, :]).reshape(-1))
        if keys is not None:
            keys.append(np.repeat(self.key[chosen], SQUARE * SQUARE))

    def _mixed_pixels(self, found: npt.NDArray[np.intp], width: int) -> npt.NDArray[np.intp]:
        """The flat pixel of each of ``found`` (positions in the mixed squares' pixels, 64 a square)."""
        corner: npt.NDArray[np.intp] = (self.mixed_rows * SQUARE * width + self.mixed_cols * SQUARE)[found >> 6]
        corner += _square_offsets(width)[found & (SQUARE * SQUARE - 1)]
        return corner

    def pixels_where(
        self, per_tuple: npt.NDArray[np.bool_], inverse: npt.NDArray[np.integer[Any]]
    ) -> npt.NDArray[np.intp]:
        """Flat indices of the pixels whose tuple is true in ``per_tuple``, ascending."""
        pixels, _ = self.pixels_and_tuples(per_tuple, inverse, tuples=False)
        return np.sort(pixels)

    def pixels_and_tuples(
        self, per_tuple: npt.NDArray[np.bool_], inverse: npt.NDArray[np.integer[Any]], *, tuples: bool = True
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp] | None]:
        """Flat indices of the pixels whose tuple is true in ``per_tuple`` and (with ``tuples``) each
        one's tuple, square by square (the uniform squares in raster order of squares, each
        square's pixels in raster order, then the mixed squares, then a last partial row of squares
        in raster order), not sorted: read off the squares, with no pass over the image."""
        rows = self.key.shape[0]
        height, width = inverse.shape
        parts: list[npt.NDArray[np.intp]] = []
        keys: list[npt.NDArray[np.integer[Any]]] = []
        self._uniform_found(per_tuple, width, parts, keys if tuples else None)
        if len(self.mixed_rows):
            found = np.flatnonzero(np.take(per_tuple, self.mixed))  # (faster than indexing with the 3-D array)
            parts.append(self._mixed_pixels(found, width))
            if tuples:
                keys.append(self.mixed.reshape(-1)[found])
        if rows * SQUARE < height:
            found = np.flatnonzero(per_tuple[inverse[rows * SQUARE :]])
            parts.append(found + rows * SQUARE * width)
            if tuples:
                keys.append(inverse[rows * SQUARE :].reshape(-1)[found])
        pixels = np.concatenate(parts).astype(np.intp, copy=False)
        return pixels, (np.concatenate(keys).astype(np.intp, copy=False) if tuples else None)


HIGH_BIT = 128
"""The high bit of a byte label, free while every label is below it: a flag carried beside the label
through one lookup (:meth:`SquareIndex.expand_and_find`, ``VoteTable.expand_and_find``)."""


def _square_offsets(width: int) -> npt.NDArray[np.intp]:
    """The flat offsets of a square's 64 pixels from its corner, in raster order."""
    dy, dx = np.divmod(np.arange(SQUARE * SQUARE), SQUARE)
    return (dy * width + dx).astype(np.intp)


def square_words(rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp], width: int) -> npt.NDArray[np.intp]:
    """``(n, 8)``: the flat indices, among the ``uint64`` words of a byte image ``width`` pixels wide
    (a multiple of :data:`SQUARE`), of the 8 rows of the square at ``(rows[i], cols[i])``."""
    per_row = width // SQUARE
    first = (rows * (SQUARE * per_row) + cols).astype(np.intp)
    words: npt.NDArray[np.intp] = first[:, None] + (np.arange(SQUARE, dtype=np.intp) * per_row)[None, :]
    return words


def put_squares(
    image: npt.NDArray[Any],
    rows: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
    values: npt.NDArray[Any],
    words: npt.NDArray[np.intp] | None = None,
) -> None:
    """Write ``values[i]`` (``(n, 8, 8)``) into the square at ``(rows[i], cols[i])`` of a C-contiguous
    image whose width is a multiple of :data:`SQUARE` (a square's row of pixels is whole ``uint64``
    words for items of 1, 2, 4 or 8 bytes: written as words; for a byte image with the squares'
    ``words`` given, :func:`square_words`, through one flat index)."""
    height, width = image.shape
    full, per_row = height // SQUARE, width // SQUARE
    per_word = image.itemsize  # uint64 words per row of a square (8 items of ``itemsize`` bytes)
    if words is not None and per_word == 1 and image.flags.c_contiguous:
        flat = image[: full * SQUARE].view(np.uint64).reshape(-1)
        flat[words] = np.ascontiguousarray(values, dtype=image.dtype).view(np.uint64).reshape(len(rows), SQUARE)
        return
    if image.flags.c_contiguous and per_word in (1, 2, 4, 8):
        grid = image[: full * SQUARE].view(np.uint64).reshape(full, SQUARE, per_row, per_word)
        grid[rows, :, cols, :] = (
            np.ascontiguousarray(values, dtype=image.dtype).view(np.uint64).reshape(len(rows), SQUARE, per_word)
        )
    else:
        image[: full * SQUARE].reshape(full, SQUARE, per_row, SQUARE)[rows, :, cols, :] = values


def fill_squares(image: npt.NDArray[Any], values: npt.NDArray[Any]) -> None:
    """Fill each :data:`SQUARE` x :data:`SQUARE` square of the full rows of squares of an image
    whose width is a multiple of :data:`SQUARE` with ``values[r, c]`` (a grid of ``H // 8 x W / 8``).
    A byte image that is C-contiguous is written a square's row (one ``uint64`` word, the value
    repeated in each byte) at a time; any other, each value repeated along its row of squares and
    then down its 8 rows."""
    width = image.shape[1]
    rows, cols = values.shape
    if image.dtype.itemsize == 1 and image.flags.c_contiguous and sys.byteorder == "little":
        words = np.ascontiguousarray(values).view(np.uint8).astype(np.uint64) * BYTES
        image[: rows * SQUARE].view(np.uint64).reshape(rows, SQUARE, cols)[...] = words[:, None, :]
        return
    spread = np.repeat(values, SQUARE, axis=1)  # each square's value along its row
    image[: rows * SQUARE].reshape(rows, SQUARE, width)[...] = spread[:, None, :]


def byte_pairs_lookup(table: npt.NDArray[Any], index: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """``np.take(table, index)`` for a byte table and a byte index map of an even number of pixels,
    two pixels at a time: the index read as ``uint16`` pairs into a 65,536-entry table of pairs (half
    the lookups, each of which numpy first widens to ``intp``: ~0.31 against ~0.63 ms for 1280x960).
    Little-endian only: pair ``a + 256 b`` holds ``table[a] + 256 table[b]``."""
    single = np.zeros(256, dtype=np.uint16)
    single[: len(table)] = table
    pairs = ((single << 8)[:, None] | single[None, :]).reshape(-1)  # [b, a] -> table[a] + 256 table[b]
    out = np.take(pairs, index.reshape(-1).view(np.uint16))
    return out.view(np.uint8).reshape(index.shape)


def key_dtype(span: int) -> type[np.integer[Any]]:
    if span <= 1 << 16:
        return np.uint16
    if span <= 1 << 32:
        return np.uint32
    return np.int64


def index_dtype(n: int) -> type[np.integer[Any]]:
    """The smallest unsigned type that holds the indices ``0..n-1``."""
    if n <= 1 << 8:
        return np.uint8
    if n <= 1 << 16:
        return np.uint16
    if n <= 1 << 32:
        return np.uint32
    return np.intp


def count_keys(
    key: npt.NDArray[np.integer[Any]], span: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.integer[Any]], npt.NDArray[np.int64]]:
    """Distinct keys (ascending), each pixel's index into them (the smallest unsigned type that
    holds it), and their counts."""
    if span <= BINCOUNT_SPAN:
        # hash-based unique (numpy >= 2.3) finds the few hundred distinct keys faster than a
        # bincount over the whole range; sorting them gives bincount's ascending order
        present, present_counts = np.unique(key, return_counts=True, sorted=False)
        order = np.argsort(present, kind="stable")
        uniq = present[order]
        position = np.zeros(span, dtype=index_dtype(len(uniq)))
        position[uniq] = np.arange(len(uniq))
        inverse = np.take(position, key)
        return uniq.astype(np.int64), inverse, present_counts[order].astype(np.int64)
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    return uniq.astype(np.int64), inverse.astype(np.intp).ravel(), counts.astype(np.int64)


def tabulate_squares(
    masks: Sequence[IndexedMask],
    summaries: Sequence[Squares],
    shifts: Sequence[npt.NDArray[np.uint8] | None],
    span: int,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.integer[Any]], SquareIndex]:
    """:func:`~tally.aggregation.vote_table.tabulate` for a small packed range from the masks' squares: a square uniform in every
    mask is one key for its 64 pixels, and only the pixels of the other squares (a few per cent: the
    outlines) and of a last partial row of squares are packed one by one. A range that fits a byte
    keeps a row per possible tuple (the packed key is the row); a wider one keeps the tuples present
    only (in key order), so the tuple index of five workers' masks is mostly a byte, not two.

    Returns the packed key of each tuple, the tuples' pixel counts, each pixel's tuple index and the
    squares' :class:`SquareIndex`."""
    height, width = masks[0].shape
    rows, cols = height // SQUARE, width // SQUARE
    key_type = np.uint8 if span <= BYTE_SPAN else np.uint16
    places = []
    place = 1
    for mask in masks[::-1]:  # the last mask is the least significant digit
        # a place equal to the span is only ever a blank mask's (its one digit is 0, never added): held
        # at 0 so the key type can hold it
        places.append(place if place < span else 0)
        place *= len(mask.lut)
    places.reverse()
    # the squares' keys packed in the key type too: every partial sum of digits is below the span
    code = np.zeros((-(-height // SQUARE), cols), dtype=key_type)  # every mask's square shifts, packed
    for grid, place in zip(shifts, places, strict=True):
        if grid is not None:
            code += grid.astype(key_type, copy=False) * np.asarray(place, dtype=key_type)
    uniform = np.logical_and.reduce([sq.uniform for sq in summaries])
    square_key = code[:rows].copy()
    for sq, place in zip(summaries, places, strict=True):
        square_key += sq.value.astype(key_type, copy=False) * np.asarray(place, dtype=key_type)
    square_key[~uniform] = 0  # a mixed square has no key of its own (any row will do: overwritten)
    counts = run_counts(square_key[uniform], span) * (SQUARE * SQUARE)
    mixed_rows, mixed_cols = np.nonzero(~uniform)
    mixed = np.empty((len(mixed_rows), SQUARE, SQUARE), dtype=key_type)
    words = square_words(mixed_rows, mixed_cols, width)  # their rows of 8 indices: a uint64 word each
    if len(mixed_rows):
        # the other squares pixel by pixel
        mixed[...] = code[mixed_rows, mixed_cols][:, None, None]
        for mask, place in zip(masks, places, strict=True):
            flat = mask.indices[: rows * SQUARE].view(np.uint64).reshape(-1)
            part = np.take(flat, words).view(np.uint8).reshape(len(mixed_rows), SQUARE, SQUARE)
            mixed += part.astype(key_type, copy=False) * np.asarray(place, dtype=key_type)
        counts += run_counts(mixed, span)  # a few per cent of the pixels
    rest = np.repeat(code[rows:], SQUARE, axis=1)[:1].repeat(height - rows * SQUARE, axis=0)
    if len(rest):  # a last, partial row of squares: pixel by pixel
        for mask, place in zip(masks, places, strict=True):
            rest += mask.indices[rows * SQUARE :].astype(key_type) * np.asarray(place, dtype=key_type)
        counts += run_counts(rest, span)
    keys = np.arange(span, dtype=np.int64)
    if span > BYTE_SPAN:  # keep the tuples present, renumbered in key order
        keys = np.flatnonzero(counts)
        position = np.zeros(span, dtype=index_dtype(len(keys)))
        position[keys] = np.arange(len(keys))
        counts = counts[keys]
        square_key, mixed, rest = position[square_key], np.take(position, mixed), position[rest]
    dtype = mixed.dtype
    inverse = np.empty((height, width), dtype=dtype)
    fill_squares(inverse, square_key.astype(dtype, copy=False))  # every square's tuple over its 64 pixels
    if len(mixed_rows):
        put_squares(inverse, mixed_rows, mixed_cols, mixed, words)
    if len(rest):
        inverse[rows * SQUARE :] = rest
    index = SquareIndex(
        square_key.astype(np.intp), uniform, mixed_rows.astype(np.intp), mixed_cols.astype(np.intp), mixed, words
    )
    return keys, counts.astype(np.int64), inverse, index


def run_counts(values: npt.NDArray[np.integer[Any]], span: int) -> npt.NDArray[np.int64]:
    """``np.bincount(values.reshape(-1), minlength=span)`` (values below ``span``), counted a run of
    equal neighbours at a time: a vote key repeats along its row, and a count per value
    (``np.bincount``'s) waits on the previous count of the same value, so counting each run's length
    once is ~2.5x faster on the mixed squares' keys.

    Examples:
        >>> run_counts(np.array([2, 2, 2, 0, 2, 1, 1], np.uint8), 4).tolist()
        [1, 2, 4, 0]
    """
    flat = values.reshape(-1)
    if not len(flat):
        return np.zeros(span, dtype=np.int64)
    changes = np.flatnonzero(flat[1:] != flat[:-1])
    bounds = np.empty(len(changes) + 2, dtype=np.intp)  # each run's first pixel, then the end
    bounds[0], bounds[-1] = 0, len(flat)
    np.add(changes, 1, out=bounds[1:-1])
    lengths = bounds[1:] - bounds[:-1]
    firsts = flat[bounds[:-1]]
    # float64 sums of run lengths: exact below 2 ** 53 pixels
    return np.bincount(firsts, weights=lengths, minlength=span).astype(np.int64)


def add_square_shifts(
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


def shifted(indices: npt.NDArray[np.uint8], grid: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """The indices with each square's shift added (the general path of :func:`tabulate`)."""
    height, width = indices.shape
    spread = np.repeat(np.repeat(grid, SQUARE, axis=0)[:height], SQUARE, axis=1)[:, :width]
    return (indices + spread).astype(np.uint8)


def pair_counts(key: npt.NDArray[np.integer[Any]], span: int) -> npt.NDArray[np.int64]:
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


def occupied_words(source: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Per 8-pixel square of a byte map whose width is a multiple of 8, whether any byte is not 0:
    each square's row of 8 bytes is one ``uint64`` word, so this is a reduction over words."""
    height, width = source.shape
    words = source.view(np.uint64)  # (H, W / 8)
    full, cols = height // SQUARE, width // SQUARE
    occupied = words[: full * SQUARE].reshape(full, SQUARE, cols).max(axis=1)
    if full * SQUARE < height:  # a last, partial row of squares
        occupied = np.concatenate([occupied, words[full * SQUARE :].max(axis=0, keepdims=True)])
    drawn: npt.NDArray[np.bool_] = occupied != 0
    return drawn


def add_to_squares(indices: npt.NDArray[np.uint8], grid: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """``indices`` plus ``grid[r, c]`` at every pixel of square ``(r, c)`` (a grid of ``ceil(H / 8) x
    W / 8``), for a C-contiguous byte map whose width is a multiple of :data:`SQUARE`: each square's
    row of 8 indices is one ``uint64`` word, so this is one addition per word (the caller keeps
    every sum under 256, so no carry crosses into the next pixel)."""
    height, width = indices.shape
    full, cols = height // SQUARE, width // SQUARE
    shift = grid.astype(np.uint64) * BYTES
    index_words = indices.view(np.uint64)
    out = np.empty_like(index_words)
    top = out[: full * SQUARE].reshape(full, SQUARE, cols)
    np.add(index_words[: full * SQUARE].reshape(full, SQUARE, cols), shift[:full, None, :], out=top)
    if full * SQUARE < height:
        np.add(index_words[full * SQUARE :], shift[full], out=out[full * SQUARE :])
    return out.view(np.uint8).reshape(height, width)


MAX_TIE_CLASSES = 64
"""Classes a tie bitmask can name; ties among higher class keys keep the vote's tie rule."""

_NEIGHBOURS = ((-1, 0), (1, 0), (0, -1), (0, 1))
_WINDOW_BLOCK = 1 << 12  # pixels a block: its (side, side, n) gathers, up to 0.8 MB of indices, stay in the cache


def settle_ties(
    labels: npt.NDArray[np.uint8],
    tied: npt.NDArray[np.intp],
    candidates: npt.NDArray[np.uint64],
    max_steps: int = 8,
    *,
    in_place: bool = False,
    pair: npt.NDArray[np.uint8] | None = None,
) -> npt.NDArray[np.uint8]:
    """Return ``labels`` with the tied pixels settled from their neighbours (``in_place``: settled
    in ``labels`` itself, C-contiguous, and returned; else in a copy).

    Args:
        labels: ``(H, W)`` the vote's labels (tied pixels hold the vote's fallback).
        tied: flat indices of the tied pixels (distinct, in any order).
        candidates: for each tied pixel, a bitmask of the classes it is tied between.
        max_steps: fronts advance at most this many pixels.
        pair: when the caller knows every tie is background and one class, that class per tied
            pixel (:func:`tie_pairs`' per tuple; else found from ``candidates``).
    """
    height, width = labels.shape
    if in_place and not labels.flags.c_contiguous:
        raise ValueError("settle_ties in place needs a C-contiguous image")
    flat = labels.reshape(-1) if in_place else labels.reshape(-1).copy()
    tied = np.asarray(tied, dtype=np.intp)
    candidates = np.asarray(candidates, dtype=np.uint64)
    n = len(tied)
    if not n:
        return flat.reshape(height, width)
    if n > 1 and not bool((tied[1:] > tied[:-1]).all()):
        # in increasing order: a pixel's neighbours then lie near it in the arrays (the result does
        # not depend on the order: each front's pixels are settled from the image as it was before it)
        order = np.argsort(tied, kind="stable")
        tied, candidates = np.take(tied, order), np.take(candidates, order)
        pair = None if pair is None else np.take(pair, order)
    # each tied pixel's 4 neighbours (up, down, left, right): the flat index (0 outside the image)
    # and a state: the neighbour's position in ``tied`` if it is tied, n if it is settled, n + 1
    # outside. In increasing order a pixel's left and right neighbours are its neighbours in that
    # order; the one below is found by a search, and the pixel is the one above it
    rows, cols = np.divmod(tied, width)
    neighbours = np.empty((len(_NEIGHBOURS), n), dtype=np.intp)
    state = np.full((len(_NEIGHBOURS), n), n, dtype=np.intp)
    np.subtract(tied, width, out=neighbours[0])
    np.add(tied, width, out=neighbours[1])
    found = np.minimum(np.searchsorted(tied, neighbours[1]), n - 1)
    below = np.flatnonzero(np.take(tied, found) == neighbours[1])  # tied[found[i]] is below tied[i]
    state[1][below] = found[below]
    state[0][found[below]] = below
    np.subtract(tied, 1, out=neighbours[2])
    np.add(tied, 1, out=neighbours[3])
    adjacent = np.flatnonzero(tied[1:] == tied[:-1] + 1)  # tied[i + 1] is right of tied[i] ...
    adjacent = adjacent[cols[adjacent] < width - 1]  # ... unless tied[i] ends its row
    state[3][adjacent] = adjacent + 1
    state[2][adjacent + 1] = adjacent
    pair = _background_and_one_class(candidates) if pair is None else pair
    for d, outside in enumerate((rows == 0, rows == height - 1, cols == 0, cols == width - 1)):
        state[d][outside] = n + 1
        # (the pair fronts read a pending pixel itself for a neighbour outside: pending counts for nothing)
        neighbours[d][outside] = 0 if pair is None else tied[outside]
    unsettled = np.ones(n + 2, dtype=bool)  # per state: a tied pixel still pending, or outside
    unsettled[n] = False
    # the first front: tied pixels next to a settled one; later fronts: next to the last settled
    front = np.flatnonzero((state == n).any(axis=0))
    if pair is not None:
        _settle_pair_fronts(flat, tied, pair, neighbours, state, unsettled, front, max_steps)
        return flat.reshape(height, width)
    for _ in range(max_steps):
        if not len(front):
            break
        done = _settle_front(flat, tied, candidates, neighbours, state, unsettled, front)
        if done is None:
            break
        front = _next_front(state, done, unsettled)
    return flat.reshape(height, width)


def _next_front(
    state: npt.NDArray[np.intp], done: npt.NDArray[np.intp], unsettled: npt.NDArray[np.bool_]
) -> npt.NDArray[np.intp]:
    """The next front of the tie fronts: the unsettled tied neighbours of the pixels just settled
    (``done``, now settled), never the outside of the image (the last place of ``state``'s table)."""
    unsettled[done] = False
    following = np.zeros(len(unsettled), dtype=bool)
    following[np.take(state, done, axis=1).reshape(-1)] = True
    following &= unsettled
    following[-1] = False
    return np.flatnonzero(following)


_PENDING = 255
"""What a tied pixel holds while the pair fronts have not settled it (:func:`_settle_pair_fronts`): no
class they count is 255 (the classes of a tie bitmask are below 64, background is 0)."""


def _settle_pair_fronts(
    flat: npt.NDArray[np.uint8],
    tied: npt.NDArray[np.intp],
    pair: npt.NDArray[np.uint8],
    neighbours: npt.NDArray[np.intp],
    state: npt.NDArray[np.intp],
    unsettled: npt.NDArray[np.bool_],
    front: npt.NDArray[np.intp],
    max_steps: int,
) -> None:
    """:func:`settle_ties`' fronts when every tie is background and one class (the default vote's):
    a front's pixel takes the class where more of its settled neighbours have it than background,
    else background (the general rule, whose lowest key on a tie is background), once a settled
    neighbour has either. The tied pixels hold :data:`_PENDING` while they are pending, so one read
    of the neighbours' values tells both their class and whether they are settled (a pending one,
    or one outside the image, read as the pixel itself, has neither class); those no front reaches
    get their value back."""
    fallback = np.take(flat, tied)
    flat[tied] = _PENDING
    n = len(tied)
    for _ in range(max_steps):
        if not len(front):
            break
        near = np.take(flat, np.take(neighbours, front, axis=1))
        own = pair[front]
        # (4, m) flags summed down their 4 rows as bytes
        for_class = (near == own).view(np.uint8).sum(axis=0, dtype=np.uint8)
        for_background = (near == 0).view(np.uint8).sum(axis=0, dtype=np.uint8)
        reached = (for_class | for_background) != 0
        if not reached.any():
            break
        done = front[reached]
        flat[tied[done]] = np.where(for_class > for_background, own, np.uint8(0))[reached]
        front = _next_front(state, done, unsettled)
    pending = np.flatnonzero(unsettled[:n])
    flat[tied[pending]] = fallback[pending]


def tie_pairs(open_ties: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8] | None:
    """Per tuple, the class of its tie (0 for a tuple not tied) when every tie of ``open_ties`` (per
    tuple, 0: none) is background and one class, as :func:`settle_ties` takes them (``pair``): found on
    the tuples, not on each tied pixel; ``None`` when some tie is not."""
    rows = np.flatnonzero(open_ties)
    pair = _background_and_one_class(open_ties[rows])
    if pair is None:
        return None
    out = np.zeros(len(open_ties), dtype=np.uint8)
    out[rows] = pair
    return out


def _background_and_one_class(candidates: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8] | None:
    """When every tie bitmask is background and one class, that class per tied pixel; else None."""
    one = np.uint64(1)
    other = candidates & ~one
    if not (((candidates & one) == one).all() and (other != 0).all() and ((other & (other - one)) == 0).all()):
        return None
    return np.log2(other.astype(np.float64)).astype(np.uint8)  # a power of two below 2 ** 64: exact


def _settle_front(
    flat: npt.NDArray[np.uint8],
    tied: npt.NDArray[np.intp],
    candidates: npt.NDArray[np.uint64],
    neighbours: npt.NDArray[np.intp],
    state: npt.NDArray[np.intp],
    unsettled: npt.NDArray[np.bool_],
    front: npt.NDArray[np.intp],
) -> npt.NDArray[np.intp] | None:
    """One front of :func:`settle_ties` for any tie bitmasks: settle, in ``flat``, the front's pixels
    a usable neighbour reaches; return them (positions in ``tied``), or None when none is reached."""
    painted = flat[neighbours[:, front]].astype(np.intp)
    usable = ~unsettled[state[:, front]]
    usable &= ((candidates[front] >> painted.astype(np.uint64)) & np.uint64(1)).astype(bool)
    reached = usable.any(axis=0)
    if not reached.any():
        return None
    # the class most usable neighbours have (ties: the lowest key); usable classes are below 64
    n_classes = min(int(painted.max()), MAX_TIE_CLASSES - 1) + 1
    painted += np.arange(len(front)) * n_classes
    votes = np.bincount(painted[usable], minlength=len(front) * n_classes).reshape(len(front), n_classes)
    done = front[reached]
    flat[tied[done]] = votes[reached].argmax(axis=1)
    return done


def window_mean(
    inverse: npt.NDArray[np.integer[Any]],
    table: npt.NDArray[np.float32],
    pixels: npt.NDArray[np.intp],
    column: npt.NDArray[np.intp],
    radius: int,
) -> npt.NDArray[np.float32]:
    """For each of ``pixels``, the mean of ``table[row(q), column[p]]`` over the pixels ``q`` of the
    ``(2 radius + 1)²`` square around it, where ``row(q) = inverse[q]`` (the square is clamped at the
    image's edges, repeating the edge pixels).

    Each pixel's values are summed in float32 one way, whichever of two ways computes them (the same
    sums, bit for bit): each row of the square left to right, then the rows' sums top to bottom (a
    box sum is separable). Where the pixels crowd into few :data:`SQUARE` x :data:`SQUARE` tiles of
    the image (a band between outlines: ~20 of a tile's 64 pixels), each tile's values are read once,
    with a margin of ``radius``, and the sums of all its pixels are added up a window column, then a
    window row, at a time (:func:`_window_sums_by_tiles`: ~145 values read a tile instead of 25 a
    pixel, 2 (2r) additions instead of (2r + 1)² - 1); otherwise pixel by pixel
    (:func:`_window_sums_by_pixels`).

    Args:
        inverse: ``(H, W)`` a row of ``table`` per pixel (a vote table's tuple index).
        table: ``(U, C)`` the values to average.
        pixels: flat indices of the pixels to compute.
        column: for each of ``pixels``, the column of ``table`` it averages.
        radius: half-width of the square.
    """
    width = inverse.shape[1]
    side = 2 * radius + 1
    n_rows, stride = table.shape
    # the table read column by column: a row of it is the tuple index plus its column's start
    flat_table = np.ascontiguousarray(np.asarray(table, dtype=np.float32).T).reshape(-1)
    key_type: type[np.integer[Any]] = np.uint16 if flat_table.size <= 1 << 16 else np.intp
    rows, cols = np.divmod(pixels, width)
    total = None
    if len(pixels) and radius <= SQUARE:
        total = _window_sums_by_tiles(inverse, flat_table, key_type, rows, cols, column, stride, radius)
    if total is None:
        start = (column * n_rows).astype(key_type)  # each pixel's column's first entry in ``flat_table``
        total = _window_sums_by_pixels(inverse, flat_table, key_type, rows, cols, start, radius)
    total /= side * side
    return total


_TILE_DENSITY = 5
"""The window sums go tile by tile (:func:`_window_sums_by_tiles`) when the tiles' 64 pixels (per
column averaged) number at most this many times the pixels asked for."""


_TILE_BLOCK = 2048
"""(tile, column) pairs read at a time by :func:`_window_sums_by_tiles` (a few MB of temporaries)."""


def _window_sums_by_tiles(
    inverse: npt.NDArray[np.integer[Any]],
    flat_table: npt.NDArray[np.float32],
    key_type: type[np.integer[Any]],
    rows: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
    column: npt.NDArray[np.intp],
    stride: int,
    radius: int,
) -> npt.NDArray[np.float32] | None:
    """:func:`window_mean`'s sums (not yet divided) for pixels crowded into few tiles, or None when
    they are not (then :func:`_window_sums_by_pixels`). Each (tile, column) pair the pixels need is
    read once as a ``(8 + 2r, 8 + 2r)`` patch of values, rows and columns clamped at the edges, laid
    out ``(8 + 2r, 8 + 2r, pairs)``; each window row's sums ``(8 + 2r, 8, pairs)`` are added a
    window column at a time, then the ``(8, 8, pairs)`` sums of every pixel of every pair a window
    row at a time (each addition runs over contiguous rows of pairs), and each pixel takes its own."""
    height, width = inverse.shape
    side = 2 * radius + 1
    tile_cols = -(-width // SQUARE)
    # the (tile, column) pairs numbered over the columns in use only (their order kept), so the marks
    # grow with the image's tiles, not with every class of the job
    used = np.flatnonzero(np.bincount(column, minlength=stride))
    rank = np.zeros(stride, dtype=np.intp)
    rank[used] = np.arange(len(used))
    pair = ((rows >> 3) * tile_cols + (cols >> 3)) * len(used) + rank[column]  # (SQUARE is 8)
    marked = np.zeros(-(-height // SQUARE) * tile_cols * len(used), dtype=bool)
    marked[pair] = True
    pairs = np.flatnonzero(marked)
    m = len(pairs)
    if m * SQUARE * SQUARE > _TILE_DENSITY * len(rows):
        return None
    position = np.empty(len(marked), dtype=np.intp)
    position[pairs] = np.arange(m)
    tile, pair_rank = np.divmod(pairs, len(used))
    pair_column = used[pair_rank]
    tile_row, tile_col = np.divmod(tile, tile_cols)
    span = np.arange(-radius, SQUARE + radius)
    flat_inverse = inverse.reshape(-1)
    sums = np.empty((SQUARE, SQUARE, m), dtype=np.float32)
    # a block of pairs at a time (each pair's sums are its own), so the patches' temporaries stay bounded
    for lo in range(0, m, _TILE_BLOCK):
        hi = min(lo + _TILE_BLOCK, m)
        patch_rows = np.minimum(np.maximum(tile_row[lo:hi] * SQUARE + span[:, None], 0), height - 1) * width
        patch_cols = np.minimum(np.maximum(tile_col[lo:hi] * SQUARE + span[:, None], 0), width - 1)
        found = np.take(flat_inverse, patch_rows[:, None, :] + patch_cols[None, :, :])  # (8 + 2r, 8 + 2r, block)
        # every tuple index is below the table's rows, so each key fits the key type
        first = (pair_column[lo:hi] * (len(flat_table) // stride)).astype(key_type)  # each pair's column's start
        values = np.take(flat_table, np.add(found, first, dtype=key_type, casting="unsafe"))
        # each window row's sum first (along the rows of the patch), then the rows added down: a
        # box sum is separable (2 (side - 1) additions, not side² - 1)
        across = values[:, :SQUARE].copy()
        for b in range(1, side):
            across += values[:, b : b + SQUARE]
        block = sums[:, :, lo:hi]
        block[...] = across[:SQUARE]
        for a in range(1, side):
            block += across[a : a + SQUARE]
    at = ((rows & (SQUARE - 1)) << 3 | (cols & (SQUARE - 1))) * m  # each pixel's place in its tile, then its pair
    at += position[pair]
    total: npt.NDArray[np.float32] = np.take(sums.reshape(-1), at)
    return total


def _window_sums_by_pixels(
    inverse: npt.NDArray[np.integer[Any]],
    flat_table: npt.NDArray[np.float32],
    key_type: type[np.integer[Any]],
    rows: npt.NDArray[np.intp],
    cols: npt.NDArray[np.intp],
    start: npt.NDArray[np.integer[Any]],
    radius: int,
) -> npt.NDArray[np.float32]:
    """:func:`window_mean`'s sums (not yet divided), pixel by pixel. The squares of the pixels at
    least ``radius`` from every edge are gathered from the flat ``inverse`` at each pixel's offset
    plus the square's fixed offsets (straight into the ``(side, side, n)`` layout the sums read; ~2.5x
    faster than indexing a sliding-window view and transposing), a block of :data:`_WINDOW_BLOCK`
    pixels at a time (its temporaries stay in the cache); the others at once, their rows and columns
    clamped. Each pixel's values are summed by :func:`_sum_squares`."""
    height, width = inverse.shape
    flat_inverse = inverse.reshape(-1)
    inner = (rows >= radius) & (rows < height - radius) & (cols >= radius) & (cols < width - radius)
    total = np.empty(len(rows), dtype=np.float32)
    steps = np.arange(-radius, radius + 1)
    offsets = (steps[:, None] * width + steps[None, :]).astype(np.intp)[:, :, None]  # (side, side, 1)
    inside = np.flatnonzero(inner)
    if len(inside) < len(rows):  # by the edges
        at = np.flatnonzero(~inner)
        row_starts = np.minimum(np.maximum(rows[at][None, :] + steps[:, None], 0), height - 1) * width
        col_offsets = np.minimum(np.maximum(cols[at][None, :] + steps[:, None], 0), width - 1)
        found = np.take(flat_inverse, row_starts[:, None, :] + col_offsets[None, :, :])
        total[at] = _sum_squares(np.take(flat_table, np.add(found, start[at], dtype=key_type, casting="unsafe")))
    pixels = rows[inside] * width + cols[inside]
    start = start[inside]
    sums = np.empty(len(inside), dtype=np.float32)
    for first in range(0, len(inside), _WINDOW_BLOCK):
        block = slice(first, first + _WINDOW_BLOCK)
        found = np.take(flat_inverse, offsets + pixels[block])  # (side, side, n)
        sums[block] = _sum_squares(np.take(flat_table, np.add(found, start[block], dtype=key_type, casting="unsafe")))
    total[inside] = sums
    return total


def _sum_squares(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The sums over the first two axes of a ``(side, side, n)`` array, in float32, always in one
    order: each row of the square left to right, then the rows' sums top to bottom (as
    :func:`_window_sums_by_tiles` adds them; numpy's own order for ``values.sum(axis=(0, 1))``
    depends on the shape). Two pixels or more: two reductions over an outer axis, which numpy adds
    one row after another in order (the same sums as adding the rows one call at a time, faster for a
    block of pixels; ``tests/core/test_vote_fast_paths.py`` checks it)."""
    side_a, side_b, n = values.shape
    if n >= 2 and values.flags.c_contiguous:
        total: npt.NDArray[np.float32] = np.add.reduce(np.add.reduce(values, axis=1), axis=0)
        return total
    rows = values[:, 0].copy()
    for b in range(1, side_b):
        rows += values[:, b]
    sums: npt.NDArray[np.float32] = rows[0].copy()
    for a in range(1, side_a):
        sums += rows[a]
    return sums
