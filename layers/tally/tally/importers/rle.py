"""The three run-length encodings other tools export masks in, as pure functions (numpy only).

* **Label Studio brush RLE** (``brushlabels`` results' ``value.rle``): a *bit stream* of the RGBA
  canvas, not COCO's RLE. The format is thi.ng's ``rle-pack`` (Apache-2.0): a 32-bit count of
  values, a 5-bit word size minus one, four 4-bit run-length field sizes minus one, then blocks
  until the count is reached. Each block is a flag bit, a 2-bit index into the four field sizes, a
  count field (length minus one), and either one word repeated (flag 1) or that many literal words
  (flag 0). Bits are read most significant first. Label Studio's frontend and its converter
  (``brush.py``) both write 8-bit words of the flattened ``height x width x 4`` canvas; the mask is
  where the alpha channel is not 0.
* **CVAT mask RLE** (``<mask rle="..." left top width height>`` in "CVAT for images 1.1" XML):
  comma-separated run lengths over the mask's own box, row by row, alternating background and
  foreground and starting with background (a first count of 0 when the box starts inside the mask).
* **COCO RLE** (``segmentation: {"size": [h, w], "counts": ...}``): run lengths over the whole
  image in column-major order, starting with background; ``counts`` is a list (uncompressed) or
  pycocotools' compressed string (5-bit groups offset by 48, each count after the second stored as
  the difference to the count two before).

Every decoder checks what the header or attributes claim against the image before allocating, and
raises :class:`RleError` with a reason (never the data) on anything malformed.

Examples:
    >>> decode_cvat_mask([1, 2, 1], left=1, top=0, width=2, height=2, image_size=(4, 2)).astype(int)
    array([[0, 0, 1, 0],
           [0, 1, 0, 0]])
    >>> encode_cvat_mask(np.array([[0, 1, 1], [0, 1, 0]], dtype=bool))
    ([0, 3, 1], 1, 0, 2, 2)
    >>> decode_coco_rle([1, 2, 1], (2, 2)).astype(int)
    array([[0, 1],
           [1, 0]])
    >>> decode_brush_rle(encode_brush_rle([7, 7, 7, 1, 2])).tolist()
    [7, 7, 7, 1, 2]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from ..codecs import run_starts

__all__ = [
    "MAX_PIXELS",
    "RleError",
    "brush_class_runs",
    "brush_mask",
    "brush_mask_runs",
    "decode_brush_rle",
    "decode_coco_rle",
    "decode_cvat_mask",
    "encode_brush_rle",
    "encode_cvat_mask",
    "mask_runs_to_brush_rle",
    "mask_to_brush_rle",
    "parse_cvat_counts",
]

MAX_PIXELS = 100_000_000
"""Largest image a mask may cover (Ground Truth's own input limit): larger claims are refused unread."""


class RleError(ValueError):
    """A run-length encoded mask that cannot be read; the message says why (never the data)."""


# -- Label Studio brush RLE (thi.ng rle-pack) ---------------------------------------------------


def _as_bytes(rle: bytes | Sequence[int]) -> bytes:
    if isinstance(rle, bytes | bytearray):
        return bytes(rle)
    if isinstance(rle, int):  # bytes(n) would be n zero bytes
        raise RleError("the brush RLE is not a list of bytes (integers 0-255)")
    try:
        return bytes(rle)
    except (TypeError, ValueError) as exc:
        raise RleError("the brush RLE is not a list of bytes (integers 0-255)") from exc


def _windows(data: bytes) -> npt.NDArray[np.uint64]:
    """Per byte ``j`` of ``data`` (and 8 past its end), the 64 bits from its first on (big-endian, zeros
    past the end): the
    bits from any position ``p`` on are ``windows[p >> 3] << (p & 7)``, 57 of them at least."""
    padded = data + bytes(16)
    return np.ndarray((len(data) + 8,), dtype=">u8", buffer=padded, strides=(1,)).astype(np.uint64)


_WINDOW_STRETCH = 1 << 14
"""Bytes of a brush RLE whose windows the block loop holds as Python ints at once (~0.7 MB of them)."""

_WORDS_AT_ONCE = 1 << 16
"""Literal words read at once (their bit positions and blocks: a few MB of temporaries)."""


def _stretch(data: bytes, base: int) -> list[int]:
    """The windows of ``data``'s bytes ``base`` to ``base + _WINDOW_STRETCH`` (fewer at its end)."""
    windows: list[int] = _windows(data[base : base + _WINDOW_STRETCH + 8])[:_WINDOW_STRETCH].tolist()
    return windows


def decode_brush_rle(rle: bytes | Sequence[int], *, expected: int | None = None) -> npt.NDArray[np.unsignedinteger]:
    """The values a Label Studio brush RLE encodes (``uint8`` for word sizes up to 8 bits).

    ``expected`` is the number of values the caller needs (``width * height * 4``): a stream that
    claims another count is refused before anything is allocated.
    """
    runs, lengths, _ = _brush_runs(rle, expected)
    out: npt.NDArray[np.unsignedinteger] = np.repeat(runs, lengths)
    return out


def _brush_runs(
    rle: bytes | Sequence[int], expected: int | None
) -> tuple[npt.NDArray[np.unsignedinteger], npt.NDArray[np.int64], int]:
    """The runs a brush RLE encodes: each run's value (in the word size's type) and length, and the
    word size.

    Where a block starts depends on the block before, so the blocks are found one after the other,
    each from a 64-bit window of the stream at its first bit (integer operations, no string of bits):
    a repeat block's word is in that window too; a literal block's words are read afterwards, with
    numpy, ``_WORDS_AT_ONCE`` words of every literal block at a time, each word from the 8 bytes at its
    position (never the stretch between two words), each word a run of 1.
    """
    data = _as_bytes(rle)
    size = 8 * len(data)
    count, word, sizes = _brush_header(data, expected)
    full, word_mask = (1 << 64) - 1, (1 << word) - 1
    values: list[int] = []
    lengths: list[int] = []
    literals: list[tuple[int, int, int]] = []  # (run index, first word's bit, words) of each literal block
    value, run, literal = values.append, lengths.append, literals.append
    # the loop checks nothing but where it is: the last block read is checked after it, in the order a
    # reader meets its fields (its head, its count, its words); the windows past the stream read zeros
    p = start = 53
    i = length = width = 0
    while i < count and p < size:
        # the windows the blocks from p on read, as Python ints (fast to index), made for one stretch of
        # the stream at a time: the whole stream's would take 8 bytes per byte of it, ~44 as Python ints
        base = p >> 3
        top = _stretch(data, base)
        end = min(size, 8 * (base + len(top)))
        while i < count and p < end:
            start = p
            head = (top[(p >> 3) - base] << (p & 7)) & full  # the 57 bits or more from p on
            width = sizes[(head >> 61) & 3]
            length = ((head >> (61 - width)) & ((1 << width) - 1)) + 1
            if head >> 63:  # a repeat block: its word follows the count field, inside the window
                value((head >> (61 - width - word)) & word_mask)
                run(length)
                p += 3 + width + word
            else:
                literal((len(values), p + 3 + width, length))
                value(0)  # a placeholder run, replaced by the block's words
                run(0)
                p += 3 + width + length * word
            i += length
    _brush_checks(i, count, p, size, start + 3 + width)
    dtype = _word_dtype(word)
    runs = np.asarray(values, dtype=np.uint64)
    run_lengths = np.asarray(lengths, dtype=np.int64)
    if not literals:
        return runs.astype(dtype), run_lengths, word
    at, first, words = (np.asarray(column, dtype=np.int64) for column in zip(*literals, strict=True))
    # each placeholder run becomes its block's words, one run of 1 each: where each run's first goes
    spread = np.ones(len(runs), dtype=np.int64)
    spread[at] = words
    offsets = np.cumsum(spread) - spread
    out_runs = np.zeros(int(offsets[-1] + spread[-1]), dtype=dtype)
    out_lengths = np.ones(len(out_runs), dtype=np.int64)
    plain = np.ones(len(runs), dtype=bool)
    plain[at] = False
    out_runs[offsets[plain]] = runs[plain]
    out_lengths[offsets[plain]] = run_lengths[plain]
    # the literal words, a bounded number at a time (a stream of literals is a word per value), each
    # read from the 8 bytes at its position
    padded = np.frombuffer(data + bytes(8), dtype=np.uint8)
    ends = np.cumsum(words)
    begins = ends - words
    for lo in range(0, int(ends[-1]), _WORDS_AT_ONCE):
        j = np.arange(lo, min(lo + _WORDS_AT_ONCE, int(ends[-1])), dtype=np.int64)
        block = np.searchsorted(ends, j, side="right")
        nth = j - begins[block]
        positions = first[block] + nth * word
        out_runs[offsets[at[block]] + nth] = _words_at(padded, positions, word)
    return out_runs, out_lengths, word


def _brush_header(data: bytes, expected: int | None) -> tuple[int, int, list[int]]:
    """A brush RLE's value count, word size and four run-length field sizes, checked."""
    if 8 * len(data) < 32 + 5 + 16:
        raise RleError("the brush RLE is shorter than its header")
    header = int.from_bytes(data[:7], "big")  # 56 bits: count 32, word size 5, four run-length sizes 4 each
    count = header >> 24
    word = ((header >> 19) & 31) + 1
    sizes = [((header >> (15 - 4 * k)) & 15) + 1 for k in range(4)]
    if expected is not None and count != expected:
        raise RleError(f"the brush RLE holds {count} values where the image needs {expected}")
    if count > 4 * MAX_PIXELS:
        raise RleError(f"the brush RLE claims {count} values, over the {4 * MAX_PIXELS} limit")
    return count, word, sizes


def _brush_checks(i: int, count: int, p: int, size: int, head_end: int) -> None:
    """The block loop's end checked, in the order a reader meets the last block's fields (its head,
    its count, its words): ``i`` values read of ``count``, the stream read to bit ``p`` of ``size``,
    the last block's head and count field ending at bit ``head_end``."""
    short = "the brush RLE ends before its last run"
    if i < count or (i and head_end > size):  # (i: a block was read)
        raise RleError(short)
    if i > count:
        raise RleError("a run of the brush RLE goes past its value count")
    if p > size:
        raise RleError(short)


def _words_at(padded: npt.NDArray[np.uint8], positions: npt.NDArray[np.int64], width: int) -> npt.NDArray[np.uint64]:
    """The ``width``-bit numbers (1-32 bits, most significant first) at the bit ``positions`` of a
    stream given as bytes with 8 zero bytes after it (``padded``): the 8 bytes at each position only,
    so words far apart cost no more than words side by side."""
    at = (positions >> 3)[:, None] + np.arange(8, dtype=np.int64)
    windows = np.ascontiguousarray(padded[at]).view(">u8").ravel().astype(np.uint64)
    out: npt.NDArray[np.uint64] = (windows << (positions & 7).astype(np.uint64)) >> np.uint64(64 - width)
    return out


def _word_dtype(word: int) -> type[np.unsignedinteger]:
    """The smallest unsigned type of ``word``-bit values."""
    return np.uint8 if word <= 8 else np.uint16 if word <= 16 else np.uint32


def brush_mask(rle: bytes | Sequence[int], width: int, height: int) -> npt.NDArray[np.bool_]:
    """The ``(height, width)`` mask of one brush region: where the RGBA canvas's alpha is not 0."""
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise RleError(f"a {width}x{height} image cannot hold a brush mask")
    runs, lengths, _ = _brush_runs(rle, width * height * 4)
    # a pixel's alpha is value 4k + 3: a run ending before value e holds e // 4 of them from the start,
    # so each run is painted or not for the alphas it holds (the canvas is never made)
    ends = np.cumsum(lengths)
    alphas = ends // 4 - (ends - lengths) // 4
    mask: npt.NDArray[np.bool_] = np.repeat(runs != 0, alphas).reshape(height, width)
    return mask


def brush_mask_runs(
    rle: bytes | Sequence[int], width: int, height: int
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """The row-major runs of :func:`brush_mask`'s mask, as (painted, pixels) per run: each run as long
    as it goes (the next one is of the other kind), none empty; ``np.repeat(painted, pixels)`` is the
    mask. What an answer's ``classRuns`` are made from without the mask itself."""
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise RleError(f"a {width}x{height} image cannot hold a brush mask")
    runs, lengths, _ = _brush_runs(rle, width * height * 4)
    ends = np.cumsum(lengths)
    alphas = ends // 4 - (ends - lengths) // 4  # as in brush_mask: the alphas each run holds
    held = alphas > 0
    painted, alphas = runs[held] != 0, alphas[held]
    first = np.flatnonzero(np.concatenate(([True], painted[1:] != painted[:-1])))
    return painted[first], np.add.reduceat(alphas, first).astype(np.int64)


_SMALL_STREAM = 4096
"""Brush RLEs of at most this many bytes are turned into class runs in pure Python
(:func:`brush_class_runs`): a mask's stream is a few hundred blocks, and numpy's cost per call was
most of the numpy path's time on them."""


def brush_class_runs(rle: bytes | Sequence[int], width: int, height: int) -> list[int]:
    """:func:`brush_mask_runs` as one list, ``[painted (0 or 1), pixels, painted, pixels, ...]``: an
    answer's ``classRuns`` of one brush region. The same runs, or the same :class:`RleError` reason,
    for every stream; a small stream (up to ``_SMALL_STREAM`` bytes) is read block by block in pure
    Python, each run's alpha values counted as it is read (a literal block's alpha words alone read)."""
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise RleError(f"a {width}x{height} image cannot hold a brush mask")
    data = _as_bytes(rle)
    if len(data) > _SMALL_STREAM:
        on, lengths = brush_mask_runs(data, width, height)
        listed: list[int] = np.column_stack((on.astype(np.int64), lengths)).reshape(-1).tolist()
        return listed
    count, word, sizes = _brush_header(data, width * height * 4)
    size = 8 * len(data)
    top: list[int] = _windows(data).tolist()  # every byte's 64-bit window (the stream is small)
    full, word_mask, word_shift = (1 << 64) - 1, (1 << word) - 1, 64 - word
    # per 3-bit block head (flag, size index): the count field's size, the shift and mask that read the
    # count, the shift that reads a repeat block's word and a repeat block's size in bits
    widths = sizes + sizes
    count_shift = [61 - w for w in widths]
    count_mask = [(1 << w) - 1 for w in widths]
    value_shift = [61 - w - word for w in widths]
    repeat_bits = [3 + w + word for w in widths]
    runs: list[int] = []
    add = runs.extend
    kind, pixels = -1, 0  # the run being counted: painted (1) or not (0), and its pixels
    p = start = 53
    i = length = h = 0
    while i < count and p < size:  # as _brush_runs' loop; the last block is checked after it
        start = p
        head = (top[p >> 3] << (p & 7)) & full
        h = head >> 61
        length = ((head >> count_shift[h]) & count_mask[h]) + 1
        if h > 3:  # a repeat block: its value's alphas are value indices 4k + 3 in [i, i + length)
            p += repeat_bits[h]
            alphas = ((i + length) >> 2) - (i >> 2)
            if alphas:
                painted = 1 if (head >> value_shift[h]) & word_mask else 0
                if painted == kind:
                    pixels += alphas
                else:
                    if pixels:
                        add((kind, pixels))
                    kind, pixels = painted, alphas
        else:  # literal words, each a value: only the alpha ones (indices 4k + 3) are read
            q = p + 3 + widths[h]
            p = q + length * word
            if p <= size:  # (a block past the stream's end is refused after the loop)
                for j in range((3 - i) & 3, length, 4):
                    at = q + j * word
                    painted = 1 if ((top[at >> 3] << (at & 7)) & full) >> word_shift else 0
                    if painted == kind:
                        pixels += 1
                    else:
                        if pixels:
                            add((kind, pixels))
                        kind, pixels = painted, 1
        i += length
    _brush_checks(i, count, p, size, start + 3 + widths[h])
    if pixels:
        add((kind, pixels))
    return runs


def _pack(values: npt.NDArray[np.uint64], widths: npt.NDArray[np.int64]) -> list[int]:
    """Bit fields (``values[k]`` in ``widths[k]`` bits, most significant first), one after the other,
    as bytes (the last one padded with zeros). Spread out a bounded number of fields at a time."""
    pieces: list[npt.NDArray[np.uint8]] = []
    step = 1 << 16
    for at in range(0, len(values), step):
        w = widths[at : at + step].astype(np.int64)
        ends = np.cumsum(w)
        spread = np.repeat(values[at : at + step].astype(np.uint64), w)
        shifts = (np.repeat(ends, w) - 1 - np.arange(int(ends[-1]), dtype=np.int64)).astype(np.uint64)
        pieces.append(((spread >> shifts) & np.uint64(1)).astype(np.uint8))
    packed: list[int] = np.packbits(np.concatenate(pieces) if pieces else np.zeros(0, np.uint8)).tolist()
    return packed


def encode_brush_rle(
    values: Sequence[int] | npt.NDArray[np.integer],
    *,
    word_size: int = 8,
    run_sizes: tuple[int, int, int, int] = (3, 4, 8, 16),
) -> list[int]:
    """Label Studio's brush RLE of ``values`` (the flattened RGBA canvas), as the list of bytes an
    export or import carries: values repeated at least twice as runs, the others as literal chunks."""
    arr = np.asarray(values, dtype=np.uint64).ravel()
    if not 1 <= word_size <= 32 or any(not 1 <= s <= 16 for s in run_sizes):
        raise ValueError("word size 1-32 bits, run-length fields 1-16 bits")
    if arr.size and int(arr.max()) >= 1 << word_size:
        raise ValueError(f"a value does not fit in {word_size} bits")
    starts = run_starts(arr)
    return _encode_runs(arr, starts, arr.size, word_size, run_sizes)


def _encode_runs(
    arr: npt.NDArray[np.uint64],
    starts: npt.NDArray[np.integer],
    count: int,
    word_size: int,
    run_sizes: tuple[int, int, int, int],
) -> list[int]:
    """The brush RLE of the ``count`` values ``arr`` whose runs of equal values begin at ``starts``.

    Every block is laid out at once (numpy, no loop over the runs): a value repeated ``n`` times is
    ``ceil(n / 2**run_sizes[3])`` repeat blocks; a stretch of values each different from the next is
    literal blocks of at most ``2**run_sizes[3]`` words; a block's count field is the first of the
    four sizes it fits.
    """
    sizes = np.asarray(run_sizes, dtype=np.int64)
    limits = np.int64(1) << sizes
    longest = int(limits[3])
    header_values = np.asarray([count, word_size - 1, *(s - 1 for s in run_sizes)], dtype=np.uint64)
    header_widths = np.asarray([32, 5, 4, 4, 4, 4], dtype=np.int64)
    if not count:
        return _pack(header_values, header_widths)
    starts = np.asarray(starts, dtype=np.int64)
    run_values = arr[starts]
    lengths = np.diff(np.concatenate((starts, [count])))
    single = lengths == 1
    # groups: a run of two values or more, or a stretch of consecutive one-value runs (a literal)
    opens = np.ones(len(starts), dtype=bool)
    opens[1:] = ~(single[1:] & single[:-1])
    first = np.flatnonzero(opens)
    literal = single[first]
    group_start = starts[first]
    group_len = np.diff(np.concatenate((group_start, [count])))
    # blocks: each group cut into pieces of at most `longest` values
    per_group = -(-group_len // longest)
    group_of = np.repeat(np.arange(len(first)), per_group)
    piece = np.arange(len(group_of)) - np.repeat(np.cumsum(per_group) - per_group, per_group)
    block_start = group_start[group_of] + piece * longest
    block_len = np.minimum(group_len[group_of] - piece * longest, longest)
    block_literal = literal[group_of]
    kind = np.argmax((block_len - 1)[:, None] < limits[None, :], axis=1)  # the first size it fits
    # fields per block: flag, size index, count - 1, then one word (repeat) or count words (literal)
    nfields = 3 + np.where(block_literal, block_len, 1)
    block_of = np.repeat(np.arange(len(block_len)), nfields)
    j = np.arange(len(block_of)) - np.repeat(np.cumsum(nfields) - nfields, nfields)
    field_values = np.select(
        [j == 0, j == 1, j == 2],
        [(~block_literal[block_of]).astype(np.uint64), kind[block_of].astype(np.uint64),
         (block_len[block_of] - 1).astype(np.uint64)],
        run_values[first[group_of[block_of]]],
    )  # fmt: skip
    words = (j >= 3) & block_literal[block_of]
    if words.any():
        field_values[words] = arr[block_start[block_of[words]] + j[words] - 3]
    field_widths = np.select([j == 0, j == 1, j == 2], [1, 2, sizes[kind[block_of]]], word_size)
    return _pack(
        np.concatenate((header_values, field_values)), np.concatenate((header_widths, field_widths.astype(np.int64)))
    )


def mask_to_brush_rle(mask: npt.NDArray[np.bool_]) -> list[int]:
    """The brush RLE of a ``(height, width)`` mask: every channel of a painted pixel 255, as Label
    Studio's converter writes masks (long runs, so a small RLE). The runs are the mask's own, four
    values to a pixel (the RGBA canvas is never made)."""
    flat = np.ascontiguousarray(mask, dtype=bool).ravel()
    if not flat.size:
        return encode_brush_rle(np.zeros(0, dtype=np.uint8))
    starts = run_starts(flat)
    return mask_runs_to_brush_rle(starts, flat[starts], flat.size)


def mask_runs_to_brush_rle(starts: npt.NDArray[np.integer], painted: npt.NDArray[np.bool_], size: int) -> list[int]:
    """:func:`mask_to_brush_rle` of the ``size``-pixel mask whose row-major runs begin at ``starts``
    (the first at 0, each as long as it goes: the next one is of the other kind), ``painted`` or not."""
    starts = np.asarray(starts, dtype=np.int64)
    # every run is 4 values or more, so every block repeats one word: each block is one bit field
    # (flag 1, size index, count - 1, the word), laid out by a handful of numpy operations; the bits are
    # those :func:`_encode_runs` lays out for the same runs
    lengths = np.diff(np.append(starts, size)) * 4
    longest = 1 << 16
    pieces = -(-lengths // longest)
    run_of = np.repeat(np.arange(len(lengths)), pieces)
    nth = np.arange(len(run_of)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    block = np.minimum(lengths[run_of] - nth * longest, longest) - 1  # count - 1
    kind = (block >= 1 << 3).astype(np.int64) + (block >= 1 << 4) + (block >= 1 << 8)  # count fields 3, 4, 8, 16
    width = _RUN_SIZES[kind]
    word = np.where(painted[run_of], 255, 0).astype(np.uint64)
    fields = (
        (np.uint64(4) + kind.astype(np.uint64)) << (width + 8).astype(np.uint64)
        | block.astype(np.uint64) << np.uint64(8)
        | word
    )
    header_values = np.asarray([size * 4, 7, 2, 3, 7, 15], dtype=np.uint64)
    header_widths = np.asarray([32, 5, 4, 4, 4, 4], dtype=np.int64)
    return _pack(np.concatenate((header_values, fields)), np.concatenate((header_widths, 3 + width + 8)))


_RUN_SIZES = np.asarray([3, 4, 8, 16], dtype=np.int64)


# -- CVAT mask RLE ---------------------------------------------------------------------------------


def parse_cvat_counts(text: str) -> list[int]:
    """``"3, 5, 7"`` → ``[3, 5, 7]``; :class:`RleError` for anything but non-negative integers."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise RleError("the mask's rle is not a comma-separated list of integers") from exc
    if any(c < 0 for c in counts):
        raise RleError("the mask's rle has a negative run length")
    return counts


def decode_cvat_mask(
    counts: Sequence[int], *, left: int, top: int, width: int, height: int, image_size: tuple[int, int]
) -> npt.NDArray[np.bool_]:
    """The ``(image height, image width)`` mask a CVAT ``<mask>`` describes (``image_size`` is
    ``(width, height)``); the part of its box outside the image is refused."""
    image_w, image_h = image_size
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise RleError(f"the mask's box is {width}x{height}")
    if left < 0 or top < 0 or left + width > image_w or top + height > image_h:
        raise RleError(f"the mask's box ({left},{top} {width}x{height}) leaves the {image_w}x{image_h} image")
    if any(c < 0 for c in counts):
        raise RleError("the mask's rle has a negative run length")
    total = sum(int(c) for c in counts)  # Python ints: a sum of int64s can wrap round to W x H
    if total != width * height:
        raise RleError(f"the mask's run lengths cover {total} pixels, its {width}x{height} box {width * height}")
    values = np.arange(len(counts)) % 2 == 1
    box = np.repeat(values, np.asarray(counts, dtype=np.int64)).reshape(height, width)
    mask = np.zeros((image_h, image_w), dtype=bool)
    mask[top : top + height, left : left + width] = box
    return mask


def encode_cvat_mask(mask: npt.NDArray[np.bool_]) -> tuple[list[int], int, int, int, int]:
    """``(counts, left, top, width, height)`` of a mask's tight box, as CVAT writes ``<mask>``."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("an empty mask has no CVAT box")
    top, bottom, left, right = int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1])
    flat = mask[top : bottom + 1, left : right + 1].ravel()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat[0]:
        counts.insert(0, 0)
    return counts, left, top, right - left + 1, bottom - top + 1


# -- COCO RLE --------------------------------------------------------------------------------------


def _coco_counts(text: str) -> list[int]:
    """pycocotools' compressed counts string → run lengths."""
    counts: list[int] = []
    p = 0
    data = text.encode("ascii", errors="strict")
    while p < len(data):
        x = 0
        k = 0
        more = True
        while more:
            if p >= len(data):
                raise RleError("the COCO RLE string ends inside a count")
            c = data[p] - 48
            if not 0 <= c < 64:
                raise RleError("the COCO RLE string has a character outside its alphabet")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(counts) > 2:
            x += counts[-2]
        counts.append(x)
    return counts


def decode_coco_rle(counts: str | Sequence[int], size: Sequence[int]) -> npt.NDArray[np.bool_]:
    """The ``(height, width)`` mask of a COCO RLE (``size`` is ``[height, width]``)."""
    if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in size):
        raise RleError("the COCO RLE's size is not [height, width]")
    height, width = int(size[0]), int(size[1])
    if height <= 0 or width <= 0 or width * height > MAX_PIXELS:
        raise RleError(f"the COCO RLE's size is {height}x{width}")
    if isinstance(counts, str):
        try:
            runs = _coco_counts(counts)
        except UnicodeEncodeError as exc:
            raise RleError("the COCO RLE string is not ASCII") from exc
    else:
        if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
            raise RleError("the COCO RLE's counts are not integers")
        runs = list(counts)
    if any(r < 0 for r in runs):
        raise RleError("the COCO RLE has a negative run length")
    if sum(runs) != width * height:
        raise RleError(f"the COCO RLE's runs cover {sum(runs)} pixels, its {height}x{width} image {width * height}")
    values = np.arange(len(runs)) % 2 == 1
    flat = np.repeat(values, np.asarray(runs, dtype=np.int64))
    mask: npt.NDArray[np.bool_] = flat.reshape(width, height).T
    return mask
