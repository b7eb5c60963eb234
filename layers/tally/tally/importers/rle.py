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

__all__ = [
    "MAX_PIXELS",
    "RleError",
    "brush_mask",
    "decode_brush_rle",
    "decode_coco_rle",
    "decode_cvat_mask",
    "encode_brush_rle",
    "encode_cvat_mask",
    "mask_to_brush_rle",
    "parse_cvat_counts",
]

MAX_PIXELS = 100_000_000
"""Largest image a mask may cover (Ground Truth's own input limit): larger claims are refused unread."""


class RleError(ValueError):
    """A run-length encoded mask that cannot be read; the message says why (never the data)."""


# -- Label Studio brush RLE (thi.ng rle-pack) ---------------------------------------------------


class _Bits:
    """Reads big-endian bit fields out of a byte string."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data) * 8
        self.pos = 0
        self._bits: npt.NDArray[np.uint8] | None = None

    def read(self, n: int) -> int:
        """The next ``n`` bits (at most 32) as an unsigned integer."""
        end = self.pos + n
        if end > self.size:
            raise RleError("the brush RLE ends before its last run")
        first, last = self.pos >> 3, (end + 7) >> 3
        chunk = int.from_bytes(self.data[first:last], "big")
        value = (chunk >> ((last << 3) - end)) & ((1 << n) - 1)
        self.pos = end
        return value

    def words(self, count: int, size: int) -> npt.NDArray[np.uint32]:
        """The next ``count`` words of ``size`` bits each."""
        end = self.pos + count * size
        if end > self.size:
            raise RleError("the brush RLE ends before its last run")
        if self._bits is None:
            self._bits = np.unpackbits(np.frombuffer(self.data, dtype=np.uint8))
        bits = self._bits[self.pos : end].reshape(count, size).astype(np.uint32)
        self.pos = end
        weights = (np.uint32(1) << np.arange(size - 1, -1, -1, dtype=np.uint32)).astype(np.uint32)
        out: npt.NDArray[np.uint32] = (bits * weights).sum(axis=1, dtype=np.uint32)
        return out


def _as_bytes(rle: bytes | Sequence[int]) -> bytes:
    if isinstance(rle, bytes | bytearray):
        return bytes(rle)
    try:
        return bytes(rle)
    except (TypeError, ValueError) as exc:
        raise RleError("the brush RLE is not a list of bytes (integers 0-255)") from exc


def decode_brush_rle(rle: bytes | Sequence[int], *, expected: int | None = None) -> npt.NDArray[np.unsignedinteger]:
    """The values a Label Studio brush RLE encodes (``uint8`` for word sizes up to 8 bits).

    ``expected`` is the number of values the caller needs (``width * height * 4``): a stream that
    claims another count is refused before anything is allocated.
    """
    bits = _Bits(_as_bytes(rle))
    if bits.size < 32 + 5 + 16:
        raise RleError("the brush RLE is shorter than its header")
    count = bits.read(32)
    word_size = bits.read(5) + 1
    run_sizes = [bits.read(4) + 1 for _ in range(4)]
    if expected is not None and count != expected:
        raise RleError(f"the brush RLE holds {count} values where the image needs {expected}")
    if count > 4 * MAX_PIXELS:
        raise RleError(f"the brush RLE claims {count} values, over the {4 * MAX_PIXELS} limit")
    dtype = np.uint8 if word_size <= 8 else np.uint16 if word_size <= 16 else np.uint32
    out: npt.NDArray[np.unsignedinteger] = np.zeros(count, dtype=dtype)
    i = 0
    while i < count:
        repeat = bits.read(1)
        length = bits.read(run_sizes[bits.read(2)]) + 1
        if i + length > count:
            raise RleError("a run of the brush RLE goes past its value count")
        if repeat:
            out[i : i + length] = bits.read(word_size)
        elif length < 8:
            for j in range(i, i + length):
                out[j] = bits.read(word_size)
        else:
            out[i : i + length] = bits.words(length, word_size)
        i += length
    return out


def brush_mask(rle: bytes | Sequence[int], width: int, height: int) -> npt.NDArray[np.bool_]:
    """The ``(height, width)`` mask of one brush region: where the RGBA canvas's alpha is not 0."""
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise RleError(f"a {width}x{height} image cannot hold a brush mask")
    values = decode_brush_rle(rle, expected=width * height * 4)
    mask: npt.NDArray[np.bool_] = values.reshape(height, width, 4)[:, :, 3] != 0
    return mask


class _BitWriter:
    """Collects big-endian bit fields; small fields as text, long word lists as arrays."""

    def __init__(self) -> None:
        self._pieces: list[npt.NDArray[np.uint8]] = []
        self._text: list[str] = []

    def field(self, value: int, n: int) -> None:
        self._text.append(format(value, f"0{n}b"))

    def _flush(self) -> None:
        if self._text:
            self._pieces.append(np.frombuffer("".join(self._text).encode("ascii"), dtype=np.uint8) - ord("0"))
            self._text.clear()

    def words(self, words: npt.NDArray[np.uint64], size: int) -> None:
        self._flush()
        shifts = np.arange(size - 1, -1, -1, dtype=np.uint64)
        self._pieces.append(((words[:, None] >> shifts) & np.uint64(1)).astype(np.uint8).ravel())

    def packed(self) -> list[int]:
        self._flush()
        bits = np.concatenate(self._pieces) if self._pieces else np.zeros(0, dtype=np.uint8)
        packed: list[int] = np.packbits(bits).tolist()  # the last byte is padded with zeros
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
    limits = [1 << s for s in run_sizes]
    out = _BitWriter()
    out.field(int(arr.size), 32)
    out.field(word_size - 1, 5)
    for s in run_sizes:
        out.field(s - 1, 4)

    def block(repeat: int, length: int) -> None:
        t = next(k for k, limit in enumerate(limits) if length - 1 < limit)
        out.field(repeat, 1)
        out.field(t, 2)
        out.field(length - 1, run_sizes[t])

    def literal(words: npt.NDArray[np.uint64]) -> None:
        for start in range(0, len(words), limits[3]):
            chunk = words[start : start + limits[3]]
            block(0, len(chunk))
            out.words(chunk, word_size)

    if arr.size:
        starts = np.concatenate(([0], np.flatnonzero(arr[1:] != arr[:-1]) + 1))
        lengths = np.diff(np.concatenate((starts, [arr.size])))
        singles: int | None = None  # where the current run of one-value runs started
        for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
            if length == 1:
                singles = start if singles is None else singles
                continue
            if singles is not None:
                literal(arr[singles:start])
                singles = None
            value = int(arr[start])
            while length > 0:
                part = min(length, limits[3])
                block(1, part)
                out.field(value, word_size)
                length -= part
        if singles is not None:
            literal(arr[singles:])
    return out.packed()


def mask_to_brush_rle(mask: npt.NDArray[np.bool_]) -> list[int]:
    """The brush RLE of a ``(height, width)`` mask: every channel of a painted pixel 255, as Label
    Studio's converter writes masks (long runs, so a small RLE)."""
    canvas = np.repeat(np.where(mask, 255, 0).astype(np.uint8).ravel(), 4)
    return encode_brush_rle(canvas)


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
    total = int(np.sum(np.asarray(counts, dtype=np.int64)))
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
