"""Worker masks in, consolidated masks out: base64, PNG and colour handling (Pillow + numpy).

A worker's ``pngImageData`` becomes an :class:`IndexedMask`: a ``uint8`` array of small indices plus
a lookup table from each index to a class key (or :data:`ABSTAIN`). Palette PNGs, which is what the
Ground Truth segmentation tool writes, keep their own palette indices, so decoding costs no per-pixel
work beyond the PNG codec; RGB and RGBA images are indexed by their label colours.

Colour rules, for each colour a worker's PNG uses:

* fully transparent, or black/white that no label of that worker uses: background (class 0);
* a colour of that worker's ``labelMappings``: that label's class;
* within :data:`SNAP_TOLERANCE` (per channel) of exactly one label colour: that label (anti-aliased
  edges);
* anything else: no vote (:data:`ABSTAIN`) at those pixels.

The output is a palette PNG whose pixel value is the class key: entry 0 is ``BACKGROUND`` white and
entry *k* is class *k*'s colour, unused entries white.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, _imaging

from .colours import RGB, hex_to_rgb, rgb_to_hex
from .errors import ImageDecodeError, MaskShapeError
from .vote import ABSTAIN, IndexedMask, squares_of

__all__ = [
    "ABSTAIN",
    "MAX_PIXELS",
    "PNG_COMPRESS_LEVEL",
    "SNAP_TOLERANCE",
    "IndexedMask",
    "decode_png",
    "encode_gray_png",
    "encode_palette_png",
    "hex_to_rgb",
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
    if in_place is not None and image.mode == "P" and image.im is in_place[0]:
        setattr(image, _IN_PLACE, in_place)  # read back by palette_indices
    return image


_IN_PLACE = "_tally_indices"


def _decode_in_place(image: Image.Image) -> tuple[Any, npt.NDArray[np.uint8]] | None:
    """For a palette PNG not yet loaded: a numpy array for the decoder to write the indices into,
    attached as the image's memory (Pillow allocates its own only when the image has none), so the
    indices need no copy out of Pillow afterwards (:func:`palette_indices`; ~0.3 ms and a fresh
    1.2 MB per 1280x960 mask). Returns the memory and the array."""
    if image.mode != "P":
        return None
    width, height = image.size
    indices = np.empty((height, width), dtype=np.uint8)
    memory = _imaging.map_buffer(indices, (width, height), "raw", 0, ("P", 0, 1))
    image.im = memory
    return memory, indices


def palette_indices(image: Image.Image) -> npt.NDArray[np.uint8]:
    """The pixel values of a ``P`` image as a ``(height, width)`` ``uint8`` array: the array
    :func:`decode_png` decoded into when the image still uses it, else a copy."""
    in_place = getattr(image, _IN_PLACE, None)
    if in_place is not None and image.im is in_place[0]:
        indices: npt.NDArray[np.uint8] = in_place[1]
        return indices
    return np.asarray(image, dtype=np.uint8)


def index_mask(image: Image.Image, label_colours: Mapping[RGB, int]) -> IndexedMask:
    """Index a decoded mask by colour; ``label_colours`` maps a worker's RGB colours to class keys
    (class :data:`ABSTAIN` for a colour the worker used for an unknown label)."""
    if image.mode == "P":
        return _index_palette(image, label_colours)
    return _index_rgba(image, label_colours)


def _classify_colours(
    rgb: npt.NDArray[np.int32], alpha: npt.NDArray[np.int32], label_colours: Mapping[RGB, int]
) -> npt.NDArray[np.uint8]:
    """Class key for each of a few colours (``rgb`` is ``(n, 3)``), by the module's colour rules."""
    out = np.full(len(rgb), ABSTAIN, dtype=np.uint8)
    known = np.array(list(label_colours), dtype=np.int32).reshape(-1, 3)
    known_cls = np.array(list(label_colours.values()), dtype=np.uint8)
    for i, (colour, a) in enumerate(zip(rgb.tolist(), alpha.tolist(), strict=True)):
        key = (colour[0], colour[1], colour[2])
        if a == 0:
            out[i] = 0
        elif key in label_colours:
            out[i] = label_colours[key]
        elif key in (_BLACK, _WHITE):
            out[i] = 0
        elif len(known):
            dist = np.abs(known - np.array(key, dtype=np.int32)).max(axis=1)
            near = np.flatnonzero(dist <= SNAP_TOLERANCE)
            if len(near) and len({int(known_cls[j]) for j in near}) == 1:
                out[i] = known_cls[near[0]]
    return out


def _index_palette(image: Image.Image, label_colours: Mapping[RGB, int]) -> IndexedMask:
    indices = palette_indices(image)
    palette = image.getpalette("RGB") or []
    top = int(indices.max(initial=0))
    n = max(len(palette) // 3, top + 1)
    rgb = np.zeros((n, 3), dtype=np.int32)
    rgb[: len(palette) // 3] = np.asarray(palette, dtype=np.int32).reshape(-1, 3)
    alpha = np.full(n, 255, dtype=np.int32)
    transparency = image.info.get("transparency")
    if isinstance(transparency, int) and transparency < n:
        alpha[transparency] = 0
    elif isinstance(transparency, bytes):
        t = np.frombuffer(transparency[:n], dtype=np.uint8)
        alpha[: len(t)] = t
    # the squares summarised while the indices are still in the cache (tally.vote.tabulate reads them)
    return IndexedMask(indices, _classify_colours(rgb[: top + 1], alpha[: top + 1], label_colours), squares_of(indices))


def _index_rgba(image: Image.Image, label_colours: Mapping[RGB, int]) -> IndexedMask:
    rgba = np.ascontiguousarray(np.asarray(image.convert("RGBA"), dtype=np.uint8))
    height, width = rgba.shape[:2]
    packed = rgba.view("<u4").reshape(height, width)
    rgb = packed & np.uint32(0x00FFFFFF)
    transparent = packed < np.uint32(0x01000000)
    # index 0: background; 1..L: the label colours; L+1: anything else (resolved below)
    colours = list(label_colours.items())
    other = len(colours) + 1
    if other > ABSTAIN - 1:
        raise ImageDecodeError("too many label colours in one answer")
    indices = np.full((height, width), other, dtype=np.uint8)
    for i, (colour, _) in enumerate(colours, start=1):
        code = np.uint32(colour[0] | colour[1] << 8 | colour[2] << 16)
        indices[rgb == code] = i
    indices[transparent] = 0
    lut = np.zeros(other + 1, dtype=np.uint8)
    lut[1:other] = [cls for _, cls in colours]
    lut[other] = ABSTAIN
    leftover = indices == other
    if leftover.any():
        values, inverse = np.unique(rgb[leftover], return_inverse=True)
        split = np.stack([values & 0xFF, (values >> 8) & 0xFF, (values >> 16) & 0xFF], axis=1)
        classes = _classify_colours(split.astype(np.int32), np.full(len(values), 255, np.int32), label_colours)
        # re-index the leftovers straight to a label's index, background, or the abstain index
        to_index = np.full(len(values), other, dtype=np.uint8)
        to_index[classes == 0] = 0
        for i, (_, cls) in enumerate(colours, start=1):
            to_index[(classes == cls) & (classes != ABSTAIN)] = i
        indices[leftover] = to_index[inverse.ravel()]
    return IndexedMask(indices, lut, squares_of(indices))


def _palette_bytes(colours: Sequence[RGB], entries: int) -> bytes:
    flat = bytearray(b"\xff" * (3 * entries))
    for i, colour in enumerate(colours):
        flat[3 * i : 3 * i + 3] = bytes(colour)
    return bytes(flat)


def encode_palette_png(classes: npt.NDArray[np.uint8], colours: Sequence[RGB]) -> bytes:
    """A palette PNG: pixel value = class key, palette entry *k* = ``colours[k]`` (0 = background),
    padded with white to the next size Pillow can bit-pack (2, 4, 16 or 256 entries)."""
    if len(colours) > 256:
        raise ValueError("a palette PNG holds at most 256 colours")
    entries = next(n for n in (2, 4, 16, 256) if n >= len(colours))
    image = _palette_image(classes)
    image.putpalette(_palette_bytes(colours, entries), rawmode="RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
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


def _palette_image(values: npt.NDArray[np.uint8]) -> Image.Image:
    """A ``P`` image reading the array's memory in place (no copy of the pixels before the encoder
    reads them; the image is read-only, and only lives while it is encoded)."""
    height, width = values.shape
    data = np.ascontiguousarray(values, np.uint8)
    return Image.frombuffer("P", (int(width), int(height)), data, "raw", "P", 0, 1)


_GREY_RAMP = bytes(v for i in range(256) for v in (i, i, i))
