"""Worker masks in, consolidated masks out: base64, PNG and colour handling (Pillow + numpy).

A worker's ``pngImageData`` becomes an :class:`IndexedMask`: a ``uint8`` array of small indices plus
a lookup table from each index to a class key (or :data:`ABSTAIN`). Palette PNGs, which is what the
Ground Truth segmentation tool writes, keep their own palette indices, so decoding costs no per-pixel
work beyond the PNG codec; RGB and RGBA images are indexed by their label colours in one pass over
their packed pixels (:func:`index_mask`).

Colour rules, for each colour a worker's PNG uses:

* fully transparent, or black/white that no label of that worker uses: background (class 0);
* a colour of that worker's ``labelMappings``: that label's class;
* within :data:`SNAP_TOLERANCE` (per channel) of exactly one label colour: that label (anti-aliased
  edges);
* anything else: no vote (:data:`ABSTAIN`) at those pixels.

The output is a palette PNG whose pixel value is the class key: entry 0 is ``BACKGROUND`` white and
entry *k* is class *k*'s colour, unused entries white.

An already-decoded mask (an importer's, whose tool stores masks as run lengths) can skip the PNG:
``classRuns`` holds the row-major runs of its class array, ``[value, length, value, length, ...]``,
value 0 unpainted and *i* the answer's *i*-th ``labelMappings`` label (:func:`class_runs`,
:func:`decode_class_runs`): no colour is read, so no colour rule applies.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, _imaging

from .aggregation.vote_table import ABSTAIN, IndexedMask, squares_of
from .colours import RGB, hex_to_rgb, rgb_to_hex
from .errors import ImageDecodeError, MaskShapeError

__all__ = [
    "ABSTAIN",
    "MAX_PIXELS",
    "PNG_COMPRESS_LEVEL",
    "SNAP_TOLERANCE",
    "IndexedMask",
    "class_runs",
    "decode_class_runs",
    "decode_png",
    "encode_gray_png",
    "encode_palette_png",
    "hex_to_rgb",
    "index_classes",
    "index_mask",
    "palette_indices",
    "rgb_to_hex",
]

MAX_PIXELS = 100_000_000
"""Ground Truth's own limit for input images (100 Mpixel); larger masks are refused unread."""
SNAP_TOLERANCE = 16
"""Largest per-channel difference at which an unknown colour still counts as a label colour."""
PNG_COMPRESS_LEVEL = 6
"""zlib level for every PNG tally writes (masks compress well; 6 is zlib's default)."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_OTHER_FORMATS = {b"\xff\xd8\xff": "a JPEG", b"GIF87a": "a GIF", b"GIF89a": "a GIF", b"BM": "a BMP"}
_BLACK, _WHITE = (0, 0, 0), (255, 255, 255)
_BLACK_KEY, _WHITE_KEY = 0x000000, 0xFFFFFF


def decode_png(
    data: str,
    *,
    expected_size: tuple[int, int] | None = None,
    max_pixels: int = MAX_PIXELS,
) -> Image.Image:
    """Decode base64 PNG text, checking the header before any pixel is inflated.

    ``expected_size`` is ``(width, height)``. Raises :class:`ImageDecodeError` or
    :class:`MaskShapeError`.
    """
    try:
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):  # whitespace (line breaks) is allowed: taken out, then decoded
            raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageDecodeError("pngImageData is not valid base64") from exc
    if not raw:
        raise ImageDecodeError("pngImageData is empty")
    if not raw.startswith(_PNG_SIGNATURE):
        kind = next((name for sig, name in _OTHER_FORMATS.items() if raw.startswith(sig)), "not a PNG")
        raise ImageDecodeError(f"pngImageData is {kind}" + ("" if kind == "not a PNG" else ", not a PNG"))
    if len(raw) < 24 or raw[12:16] != b"IHDR":
        raise ImageDecodeError("PNG has no IHDR header")
    width, height = struct.unpack(">II", raw[16:24])  # read before any pixel is inflated
    if expected_size is not None and (width, height) != expected_size:
        ew, eh = expected_size
        raise MaskShapeError(f"mask is {width}x{height} but inputImageProperties says {ew}x{eh}")
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise ImageDecodeError(f"PNG header claims {width}x{height} pixels, over the {max_pixels} limit")
    try:
        image = Image.open(io.BytesIO(raw), formats=["PNG"])
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError("PNG header claims more pixels than allowed") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(f"PNG header unreadable ({type(exc).__name__})") from exc
    in_place = _decode_in_place(image)
    try:
        image.load()
    except Image.DecompressionBombError as exc:
        raise ImageDecodeError("PNG header claims more pixels than allowed") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageDecodeError(f"PNG data is truncated or corrupt ({type(exc).__name__})") from exc
    if in_place is not None and image.mode == in_place[0] and image.im is in_place[1]:
        setattr(image, _IN_PLACE, in_place)  # read back by palette_indices and _packed_pixels
    return image


_IN_PLACE = "_tally_pixels"
_IN_PLACE_DTYPES: dict[str, type[np.uint8] | type[np.uint32]] = {"P": np.uint8, "RGB": np.uint32, "RGBA": np.uint32}
"""The modes decoded straight into a numpy array: one byte a pixel for ``P``; four for ``RGB`` and
``RGBA``, the way Pillow keeps them (``RGB`` with a fourth byte of 255)."""


def _decode_in_place(image: Image.Image) -> tuple[str, Any, npt.NDArray[Any]] | None:
    """For a palette, RGB or RGBA PNG not yet loaded: a numpy array for the decoder to write the
    pixels into, attached as the image's memory (Pillow allocates its own only when the image has
    none), so the pixels need no copy out of Pillow afterwards (:func:`palette_indices`,
    :func:`_packed_pixels`). Returns the mode, the memory and the array, or ``None`` (any other mode,
    or a Pillow without ``map_buffer``: then the pixels are copied out, as ``np.asarray`` does).

    Why a private function of Pillow: ``_imaging.map_buffer`` is what Pillow's public
    ``Image.frombuffer`` calls to wrap caller memory as an image, but ``frombuffer`` cannot wrap an
    ``RGB`` buffer, and no public call decodes a file into given memory. The copy it saves, through
    ``Image.tobytes``, is 0.3 ms and a fresh 1.2 MB per 1280x960 palette mask and 0.7-1 ms and 4.9 MB
    per RGB(A) one (~6 % of decoding it). Nothing depends on it: if Pillow renames or changes it, or
    replaces the memory while loading (``decode_png`` checks after loading), the pixels are copied
    as before (``tests/core/test_codecs.py`` runs both ways)."""
    dtype = _IN_PLACE_DTYPES.get(image.mode)
    map_buffer = getattr(_imaging, "map_buffer", None)
    if dtype is None or map_buffer is None:
        return None
    width, height = image.size
    pixels = np.empty((height, width), dtype=dtype)
    try:
        memory = map_buffer(pixels, (width, height), "raw", 0, (image.mode, 0, 1))
    except (TypeError, ValueError):
        return None
    image.im = memory
    return image.mode, memory, pixels


def _in_place_pixels(image: Image.Image) -> npt.NDArray[Any] | None:
    """The array :func:`decode_png` decoded ``image`` into, while the image still uses it."""
    in_place = getattr(image, _IN_PLACE, None)
    if in_place is not None and image.mode == in_place[0] and image.im is in_place[1]:
        pixels: npt.NDArray[Any] = in_place[2]
        return pixels
    return None


def palette_indices(image: Image.Image) -> npt.NDArray[np.uint8]:
    """The pixel values of a ``P`` image as a ``(height, width)`` ``uint8`` array: the array
    :func:`decode_png` decoded into when the image still uses it, else a copy."""
    indices = _in_place_pixels(image)
    if indices is not None:
        return indices
    return np.asarray(image, dtype=np.uint8)


def _packed_pixels(image: Image.Image) -> tuple[npt.NDArray[np.uint32], bool]:
    """A non-palette image's pixels as ``(height, width)`` little-endian words ``R | G << 8 | B << 16
    | A << 24``, and whether any may be transparent. RGB and RGBA images decoded by
    :func:`decode_png` are read in place (never written); other modes (greyscale, 16-bit, an RGB
    image with a transparent colour) are converted to RGBA by Pillow, as before."""
    words = _in_place_pixels(image)
    if words is not None and (image.mode == "RGBA" or "transparency" not in image.info):
        return words.view("<u4"), image.mode == "RGBA"
    rgba = np.ascontiguousarray(np.asarray(image.convert("RGBA"), dtype=np.uint8))
    height, width = rgba.shape[:2]
    return rgba.view("<u4").reshape(height, width), True


def index_mask(image: Image.Image, label_colours: Mapping[RGB, int]) -> IndexedMask:
    """Index a decoded mask by colour; ``label_colours`` maps a worker's RGB colours to class keys
    (class :data:`ABSTAIN` for a colour the worker used for an unknown label)."""
    if image.mode == "P":
        return _index_palette(image, label_colours)
    return _index_rgba(image, label_colours)


def _classify_colours(
    rgb: npt.NDArray[np.int32], alpha: npt.NDArray[np.int32], label_colours: Mapping[RGB, int]
) -> npt.NDArray[np.uint8]:
    """Class key for each of a few colours (``rgb`` is ``(n, 3)``, a palette's), by the module's
    colour rules: transparent, then a label colour, then black or white, then snapped
    (:func:`_snap_colours`)."""
    out = np.full(len(rgb), ABSTAIN, dtype=np.uint8)
    rest = []
    for i, (colour, a) in enumerate(zip(rgb.tolist(), alpha.tolist(), strict=True)):
        key = (colour[0], colour[1], colour[2])
        if a == 0:
            out[i] = 0
        elif key in label_colours:
            out[i] = label_colours[key]
        elif key in (_BLACK, _WHITE):
            out[i] = 0
        else:
            rest.append(i)
    if rest:
        out[rest] = _snap_colours(rgb[rest], label_colours)
    return out


def _snap_colours(rgb: npt.NDArray[np.int32], label_colours: Mapping[RGB, int]) -> npt.NDArray[np.uint8]:
    """Class key for each of some colours that are neither a label colour, black, white nor
    transparent: the class of the label colours within :data:`SNAP_TOLERANCE` per channel when they
    all have one class, else :data:`ABSTAIN`. Vectorised, a block of colours at a time (an
    anti-aliased export has thousands)."""
    out = np.full(len(rgb), ABSTAIN, dtype=np.uint8)
    if not label_colours:
        return out
    known = np.array(list(label_colours), dtype=np.int32).reshape(-1, 3)
    known_cls = np.array(list(label_colours.values()), dtype=np.int32)
    block = max(1, (1 << 18) // len(known))
    for lo in range(0, len(rgb), block):
        near = np.abs(rgb[lo : lo + block, None, :] - known[None, :, :]).max(axis=2) <= SNAP_TOLERANCE
        first = np.where(near, known_cls, 256).min(axis=1)
        last = np.where(near, known_cls, -1).max(axis=1)
        snapped = near.any(axis=1) & (first == last)
        out[lo : lo + block][snapped] = first[snapped]
    return out


def _index_palette(image: Image.Image, label_colours: Mapping[RGB, int]) -> IndexedMask:
    indices = palette_indices(image)
    palette = image.getpalette("RGB") or []
    top = int(indices.max(initial=0))
    transparency = image.info.get("transparency")
    # a job's answers mostly share one palette and one worker's colours: each table is classified once
    key = (tuple(palette), transparency, top, tuple(label_colours.items()))
    kept = True
    try:
        lut = _PALETTE_TABLES.get(key)
    except TypeError:  # (a transparency Pillow gives as something unhashable: classified, not kept)
        kept, lut = False, None
    if lut is None:
        lut = _palette_table(palette, transparency, top, label_colours)
        if kept:
            if len(_PALETTE_TABLES) >= _PALETTE_TABLES_KEPT:
                _PALETTE_TABLES.clear()
            _PALETTE_TABLES[key] = lut
    # the squares summarised while the indices are still in the cache (tally.aggregation.vote_table.tabulate reads them)
    return IndexedMask(indices, lut.copy(), squares_of(indices))


_PALETTE_TABLES: dict[tuple[Any, ...], npt.NDArray[np.uint8]] = {}
_PALETTE_TABLES_KEPT = 64
"""Palette tables kept (:func:`_index_palette`; all dropped when full: a few KB each)."""


def _palette_table(
    palette: Sequence[int], transparency: Any, top: int, label_colours: Mapping[RGB, int]
) -> npt.NDArray[np.uint8]:
    """The class key of each palette index up to ``top`` (:func:`_classify_colours`)."""
    n = max(len(palette) // 3, top + 1)
    rgb = np.zeros((n, 3), dtype=np.int32)
    rgb[: len(palette) // 3] = np.asarray(palette, dtype=np.int32).reshape(-1, 3)
    alpha = np.full(n, 255, dtype=np.int32)
    if isinstance(transparency, int) and transparency < n:
        alpha[transparency] = 0
    elif isinstance(transparency, bytes):
        t = np.frombuffer(transparency[:n], dtype=np.uint8)
        alpha[: len(t)] = t
    return _classify_colours(rgb[: top + 1], alpha[: top + 1], label_colours)


_LOOKUP = threading.local()


def _lookup_table() -> npt.NDArray[np.uint8]:
    """This thread's table from every RGB colour (``R | G << 8 | B << 16``) to a mask index plus one
    (0: not known yet). 16 MB of address space, allocated zeroed and lazily by the system: only the
    pages of colours an answer's labels use are ever written (and zeroed again after the answer)."""
    table: npt.NDArray[np.uint8] | None = getattr(_LOOKUP, "table", None)
    if table is None:
        table = _LOOKUP.table = np.zeros(1 << 24, dtype=np.uint8)
    return table


def _index_rgba(image: Image.Image, label_colours: Mapping[RGB, int]) -> IndexedMask:
    """Index an RGB(A) mask in one pass over its packed pixels: index 0 is background, 1..L the
    label colours in ``label_colours`` order, L+1 (only when a pixel has it) anything else that casts
    no vote.

    Each pixel's colour is looked up in a table addressed by the colour itself (:func:`_lookup_table`,
    filled for this answer's label colours, black and white); transparent pixels are background;
    only the pixels of colours the table does not know (anti-aliased edges, a colour no label uses)
    are then gathered and their distinct colours snapped (:func:`_snap_colours`)."""
    colours = list(label_colours.items())
    other = len(colours) + 1
    if other > ABSTAIN - 1:
        raise ImageDecodeError("too many label colours in one answer")
    words, may_be_transparent = _packed_pixels(image)
    height, width = words.shape
    indices = np.empty((height, width), dtype=np.uint8)
    filled = {_BLACK_KEY: 1, _WHITE_KEY: 1}  # background unless a label uses them (below)
    filled.update({_pack(colour): i + 1 for i, (colour, _) in enumerate(colours, start=1)})
    keys = np.fromiter(filled, dtype=np.intp, count=len(filled))
    table = _lookup_table()
    table[keys] = np.fromiter(filled.values(), dtype=np.uint8, count=len(filled))
    try:
        _look_up(words.reshape(-1), indices.reshape(-1), table, may_be_transparent)
    finally:
        table[keys] = 0
    lut = np.zeros(other + 1, dtype=np.uint8)
    lut[1:other] = [cls for _, cls in colours]
    lut[other] = ABSTAIN
    entries = other  # the no-vote entry only when a pixel uses it (below)
    unknown = indices == 255
    if unknown.any():
        values, inverse = np.unique(words[unknown] & np.uint32(0x00FFFFFF), return_inverse=True)
        split = np.stack([values & 0xFF, (values >> 8) & 0xFF, (values >> 16) & 0xFF], axis=1).astype(np.int32)
        classes = _snap_colours(split, label_colours)  # not label colours, black, white nor transparent
        # each colour straight to a label's index (the last label of its class), background, or L+1
        by_class = np.full(256, other, dtype=np.uint8)
        by_class[0] = 0
        for i, (_, cls) in enumerate(colours, start=1):
            if cls != ABSTAIN:
                by_class[cls] = i
        to_index = by_class[classes]
        indices[unknown] = to_index[inverse.ravel()]
        if (to_index == other).any():
            entries = other + 1
    # an unused no-vote entry would cost the vote its fast path: a mask whose only undrawn entry is
    # background has its far background marked per 8x8 square (weighted_pixel_vote.far_square_shifts)
    lut = lut[:entries]
    return IndexedMask(indices, lut, squares_of(indices))


_BLOCK = 1 << 17
"""Pixels looked up at a time: the block's temporaries stay in the cache (a third faster than
whole-image temporaries at 1280x960)."""


def _look_up(
    words: npt.NDArray[np.uint32], out: npt.NDArray[np.uint8], table: npt.NDArray[np.uint8], alpha: bool
) -> None:
    """``out = table[words & 0xFFFFFF] - 1``, and 0 where a word's alpha is 0 when ``alpha``: one
    pass over flat packed pixels, a block at a time."""
    rgb = np.empty(min(_BLOCK, len(words)), dtype=np.uint32)
    opaque = np.empty(len(rgb), dtype=bool)
    for start in range(0, len(words), _BLOCK):
        part = words[start : start + _BLOCK]
        n = len(part)
        np.bitwise_and(part, np.uint32(0x00FFFFFF), out=rgb[:n])
        # every key is under 1 << 24, so "wrap" never wraps; numpy's bounds check ("raise") costs more
        looked_up = out[start : start + n]
        np.take(table, rgb[:n], out=looked_up, mode="wrap")
        looked_up -= 1  # a colour the table does not know: 0 - 1 = 255
        if alpha:
            np.greater_equal(part, np.uint32(0x01000000), out=opaque[:n])
            np.multiply(looked_up, opaque[:n], out=looked_up)


def _pack(colour: RGB) -> int:
    return colour[0] | colour[1] << 8 | colour[2] << 16


def _palette_bytes(colours: Sequence[RGB], entries: int) -> bytes:
    flat = bytearray(b"\xff" * (3 * entries))
    for i, colour in enumerate(colours):
        flat[3 * i : 3 * i + 3] = bytes(colour)
    return bytes(flat)


def encode_palette_png(
    classes: npt.NDArray[np.uint8], colours: Sequence[RGB], compress_level: int = PNG_COMPRESS_LEVEL
) -> bytes:
    """A palette PNG: pixel value = class key, palette entry *k* = ``colours[k]`` (0 = background),
    padded with white to the next size Pillow can bit-pack (2, 4, 16 or 256 entries). ``compress_level``:
    zlib's (a PNG that is only passed on, as an importer's answer, is written at a fast level)."""
    if len(colours) > 256:
        raise ValueError("a palette PNG holds at most 256 colours")
    entries = next(n for n in (2, 4, 16, 256) if n >= len(colours))
    image = _palette_image(classes)
    image.putpalette(_palette_bytes(colours, entries), rawmode="RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def encode_gray_png(values: npt.NDArray[np.uint8], compress_level: int = 1) -> bytes:
    """An 8-bit greyscale PNG (per-pixel confidence maps): written as an 8-bit palette image whose
    palette is the identity grey ramp, so index and grey value are the same number. Unfiltered and at
    a fast zlib level, this encodes about three times faster than a filtered greyscale PNG; the
    encoder reads the array in place (:func:`_palette_image`)."""
    image = _palette_image(values)
    image.putpalette(_GREY_RAMP, rawmode="RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=compress_level, bits=8)
    return buf.getvalue()


def run_starts(flat: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Where each run of equal values of a 1-D array begins (the first at 0; none for an empty array)."""
    if not flat.size:
        return np.zeros(0, np.int64)
    return np.concatenate(([0], np.flatnonzero(flat[1:] != flat[:-1]) + 1)).astype(np.int64, copy=False)


def class_runs(classes: npt.NDArray[np.uint8]) -> list[int]:
    """The row-major runs of a class array, ``[value, length, ...]`` (module docstring)."""
    flat = np.ascontiguousarray(classes, np.uint8).reshape(-1)
    if flat.size == 0:
        return []
    starts = run_starts(flat)
    lengths = np.diff(np.append(starts, flat.size))
    runs: list[int] = np.column_stack((flat[starts].astype(np.int64), lengths)).reshape(-1).tolist()
    return runs


def decode_class_runs(runs: Sequence[int], width: int, height: int, classes: int) -> npt.NDArray[np.uint8]:
    """The ``(height, width)`` class array of ``classRuns`` whose values name ``classes`` labels at
    most. Raises :class:`ImageDecodeError` (runs that are no such array) or :class:`MaskShapeError`."""
    if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
        raise ImageDecodeError(f"classRuns for {width}x{height} pixels, over the {MAX_PIXELS} limit or empty")
    if len(runs) == 0:
        raise ImageDecodeError("classRuns is empty")
    flat = np.asarray(runs)
    if flat.ndim != 1 or flat.dtype.kind not in "iu" or len(flat) % 2:  # (the core's answer model refuses bools)
        raise ImageDecodeError("classRuns is not a list of integer (class, length) pairs")
    pairs = flat.astype(np.int64).reshape(-1, 2)
    values, lengths = pairs[:, 0], pairs[:, 1]
    if int(lengths.min()) <= 0 or int(values.min()) < 0:
        raise ImageDecodeError("classRuns has an empty or negative run or class")
    if int(values.max()) > min(classes, 255):
        raise ImageDecodeError(f"classRuns names class {int(values.max())}; labelMappings has {classes} labels")
    if int(lengths.max()) > width * height:  # (so the int64 sum below cannot wrap round to W×H)
        raise MaskShapeError(
            f"classRuns has a run of {int(lengths.max())} pixels; inputImageProperties says {width}x{height}"
        )
    if int(lengths.sum()) != width * height:
        raise MaskShapeError(
            f"classRuns covers {int(lengths.sum())} pixels; inputImageProperties says {width}x{height}"
        )
    return expand_runs(values, lengths, width, height)


def expand_runs(
    values: npt.NDArray[np.integer[Any]], lengths: npt.NDArray[np.integer[Any]], width: int, height: int
) -> npt.NDArray[np.uint8]:
    """The ``(height, width)`` class array of runs already checked (:func:`decode_class_runs` checks a
    worker's): ``values[i]`` repeated ``lengths[i]`` times, row-major."""
    return np.repeat(values.astype(np.uint8), lengths).reshape(height, width)


def index_classes(indices: npt.NDArray[np.uint8], keys: Sequence[int]) -> IndexedMask:
    """A decoded class array as an :class:`IndexedMask`: index *i* is class key ``keys[i]`` (``keys[0]``,
    unpainted, is 0)."""
    top = int(indices.max(initial=0))
    return IndexedMask(indices, np.asarray(keys[: top + 1], dtype=np.uint8), squares_of(indices))


def _palette_image(values: npt.NDArray[np.uint8]) -> Image.Image:
    """A ``P`` image reading the array's memory in place (no copy of the pixels before the encoder
    reads them; the image is read-only, and only lives while it is encoded)."""
    height, width = values.shape
    data = np.ascontiguousarray(values, np.uint8)
    return Image.frombuffer("P", (int(width), int(height)), data, "raw", "P", 0, 1)


_GREY_RAMP = bytes(v for i in range(256) for v in (i, i, i))
