"""Decoding worker PNGs (palette, RGB, RGBA) and writing palette masks."""

from __future__ import annotations

import base64
import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tally.codecs import decode_png, encode_palette_png, hex_to_rgb, index_mask
from tally.errors import ImageDecodeError, MaskShapeError
from tally.vote import ABSTAIN
from tests.helpers import png_b64

COLOURS = {"road": "#1f77b4", "car": "#ff7f0e"}
KEYS = {hex_to_rgb("#1f77b4"): 1, hex_to_rgb("#ff7f0e"): 2}
DRAWING = ["rr.c", ".cc."]
LEGEND = {"r": "road", "c": "car"}
EXPECTED = [[1, 1, 0, 2], [0, 2, 2, 0]]


@pytest.mark.parametrize("mode", ["P", "RGBA", "RGB"])
def test_palette_rgb_and_rgba_answers_decode_to_the_same_classes(mode: str) -> None:
    image = decode_png(png_b64(DRAWING, LEGEND, COLOURS, mode), expected_size=(4, 2))  # type: ignore[arg-type]
    assert index_mask(image, KEYS).classes().tolist() == EXPECTED


def test_anti_aliased_colour_snaps_to_the_nearest_label_and_far_colours_abstain() -> None:
    pixels = np.array([[[31, 119, 180, 255], [36, 115, 186, 255], [128, 128, 128, 255], [0, 0, 0, 0]]], np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    image = decode_png(base64.b64encode(buf.getvalue()).decode())
    assert index_mask(image, KEYS).classes().tolist() == [[1, 1, ABSTAIN, 0]]


def test_opaque_black_and_white_are_background_unless_a_label_uses_them() -> None:
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [31, 119, 180]]], np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    image = decode_png(base64.b64encode(buf.getvalue()).decode())
    assert index_mask(image, KEYS).classes().tolist() == [[0, 0, 1]]
    assert index_mask(image, {**KEYS, (255, 255, 255): 2}).classes().tolist() == [[0, 2, 1]]


def test_palette_entries_with_partial_transparency_table() -> None:
    classes = np.array([[0, 1, 2]], np.uint8)
    image = Image.frombytes("P", (3, 1), classes.tobytes())
    image.putpalette(bytes([9, 9, 9, 31, 119, 180, 255, 127, 14]), rawmode="RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", transparency=bytes([0, 255, 255]))
    decoded = decode_png(base64.b64encode(buf.getvalue()).decode())
    assert index_mask(decoded, KEYS).classes().tolist() == [[0, 1, 2]]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("not base64 at all!", "not valid base64"),
        ("", "empty"),
        (base64.b64encode(b"\xff\xd8\xff\xe0 jpeg bytes").decode(), "a JPEG, not a PNG"),
        (base64.b64encode(b"GIF89a....").decode(), "a GIF, not a PNG"),
        (base64.b64encode(b"hello").decode(), "not a PNG"),
    ],
)
def test_undecodable_data_is_refused_with_a_reason(data: str, reason: str) -> None:
    with pytest.raises(ImageDecodeError, match=reason):
        decode_png(data)


def test_truncated_png_is_refused() -> None:
    rng = np.random.default_rng(0)
    drawing = ["".join(rng.choice(list("rc."), 64)) for _ in range(64)]
    raw = base64.b64decode(png_b64(drawing, LEGEND, COLOURS))
    with pytest.raises(ImageDecodeError, match="truncated or corrupt"):
        decode_png(base64.b64encode(raw[: len(raw) // 2]).decode())


def test_size_mismatch_with_input_image_properties_is_refused_before_decoding() -> None:
    with pytest.raises(MaskShapeError, match="mask is 4x2 but inputImageProperties says 5x2"):
        decode_png(png_b64(DRAWING, LEGEND, COLOURS), expected_size=(5, 2))


def test_header_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(ImageDecodeError, match="over the 7 limit"):
        decode_png(png_b64(DRAWING, LEGEND, COLOURS), max_pixels=7)


def test_output_is_a_palette_png_whose_values_are_class_keys() -> None:
    classes = np.array([[0, 1], [2, 2]], np.uint8)
    data = encode_palette_png(classes, [(255, 255, 255), (31, 119, 180), (255, 127, 14)])
    image = Image.open(io.BytesIO(data))
    assert image.mode == "P"
    assert np.asarray(image).tolist() == [[0, 1], [2, 2]]
    palette = image.getpalette()
    assert palette is not None
    assert palette[:12] == [255, 255, 255, 31, 119, 180, 255, 127, 14, 255, 255, 255]


def test_output_bytes_are_deterministic() -> None:
    classes = np.array([[0, 1], [2, 2]], np.uint8)
    palette = [(255, 255, 255), (1, 2, 3), (4, 5, 6)]
    assert encode_palette_png(classes, palette) == encode_palette_png(classes.copy(), palette)


def test_hex_colours() -> None:
    assert hex_to_rgb("#1F77B4") == (31, 119, 180)
    assert hex_to_rgb("abc") == (170, 187, 204)
    with pytest.raises(ValueError, match="not a hex colour"):
        hex_to_rgb("#12345")


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("interlace", [False, True])
def test_palette_masks_are_decoded_straight_into_the_index_array(bits: int, interlace: bool) -> None:
    from tally.codecs import palette_indices

    rng = np.random.default_rng(bits)
    values = rng.integers(0, 1 << bits, size=(13, 21)).astype(np.uint8)
    image = Image.frombytes("P", (21, 13), values.tobytes())
    image.putpalette(bytes(v for i in range(1 << bits) for v in (i, i, i)), rawmode="RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", bits=bits, transparency=0)
    raw = buf.getvalue()
    if interlace:  # Pillow cannot write Adam7; a hand-made one: the same rows, pass by pass
        raw = _adam7(values, bits)
    decoded = decode_png(base64.b64encode(raw).decode())
    indices = palette_indices(decoded)
    assert indices.shape == (13, 21) and indices.dtype == np.uint8 and indices.flags.c_contiguous
    assert indices.tolist() == values.tolist() == np.asarray(decoded).tolist()
    assert palette_indices(decoded) is indices  # the decoder's own array, not a copy
    converted = decoded.convert("P")  # a new image: read by copy
    assert palette_indices(converted).tolist() == values.tolist()


def _adam7(values: npt.NDArray[np.uint8], bits: int) -> bytes:
    """An interlaced palette PNG of ``values`` (greyscale ramp palette), written from the spec."""
    import struct
    import zlib

    height, width = values.shape
    passes = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]
    data = bytearray()
    for y0, x0, dy, dx in passes:
        sub = values[y0::dy, x0::dx]
        if not sub.size:
            continue
        for row in sub:
            packed = np.packbits(np.unpackbits(row[:, None], axis=1)[:, 8 - bits :].reshape(-1)).tobytes()
            data += b"\x00" + packed

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, bits, 3, 0, 0, 1)
    palette = bytes(v for i in range(1 << bits) for v in (i, i, i))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"PLTE", palette)
        + chunk(b"IDAT", zlib.compress(bytes(data)))
        + chunk(b"IEND", b"")
    )
