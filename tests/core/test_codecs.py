"""Decoding worker PNGs (palette, RGB, RGBA) and writing palette masks."""

from __future__ import annotations

import base64
import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tally.aggregation.vote_table import ABSTAIN
from tally.codecs import decode_png, encode_palette_png, hex_to_rgb, index_mask
from tally.errors import ImageDecodeError, MaskShapeError
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


def test_base64_broken_into_lines_decodes_as_one_line() -> None:
    pixels = np.array([[0, 1, 2, 1]], np.uint8)
    image = Image.frombytes("P", (4, 1), pixels.tobytes())
    image.putpalette(bytes([0, 0, 0, 31, 119, 180, 255, 127, 14]), rawmode="RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    wrapped = base64.encodebytes(buf.getvalue()).decode()  # 76-character lines
    assert "\n" in wrapped
    decoded = index_mask(decode_png(" " + wrapped.replace("\n", "\r\n\t")), KEYS)
    assert decoded.classes().tolist() == [[0, 1, 2, 1]]
    with pytest.raises(ImageDecodeError, match="not valid base64"):
        decode_png(wrapped[:-8] + "*" + wrapped[-7:])


def test_palette_tables_kept_between_answers_follow_each_answers_palette_colours_and_transparency() -> None:
    def palette_png(palette: bytes, transparency: bytes | None = None) -> Image.Image:
        image = Image.frombytes("P", (3, 1), bytes([0, 1, 2]))
        image.putpalette(palette, rawmode="RGB")
        buf = io.BytesIO()
        image.save(buf, format="PNG", **({"transparency": transparency} if transparency else {}))
        return decode_png(base64.b64encode(buf.getvalue()).decode())

    plain = bytes([0, 0, 0, 31, 119, 180, 255, 127, 14])
    first = index_mask(palette_png(plain), KEYS)
    assert first.lut.tolist() == [0, 1, 2]
    first.lut[:] = 9  # a caller's copy: the next answer's table is not changed
    assert index_mask(palette_png(plain), KEYS).lut.tolist() == [0, 1, 2]
    assert index_mask(palette_png(plain), {(31, 119, 180): 2, (255, 127, 14): 1}).lut.tolist() == [0, 2, 1]
    swapped = bytes([0, 0, 0, 255, 127, 14, 31, 119, 180])
    assert index_mask(palette_png(swapped), KEYS).lut.tolist() == [0, 2, 1]
    assert index_mask(palette_png(plain, bytes([255, 0, 255])), KEYS).lut.tolist() == [0, 0, 2]
    # a transparency Pillow gives as something unhashable: the table classified, not kept
    from tally import codecs

    odd = palette_png(plain)
    odd.info["transparency"] = [0]
    kept = len(codecs._PALETTE_TABLES)
    assert index_mask(odd, KEYS).lut.tolist() == [0, 1, 2]
    assert len(codecs._PALETTE_TABLES) == kept


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


# --- RGB and RGBA answers: the class of every pixel, against the colour rules written out plainly ---

LABEL_COLOURS = {(31, 119, 180): 1, (255, 127, 14): 2, (43, 119, 180): 3, (200, 200, 200): 1, (9, 9, 9): ABSTAIN}
"""Label 3 is a near-duplicate of label 1 (12 apart in red): a colour near both casts no vote; class 1
has two colours; the last colour is a label the job lacks (no vote, and near-black)."""


def _rule(r: int, g: int, b: int, a: int, labels: dict[tuple[int, int, int], int]) -> int:
    """The module's colour rules for one pixel, one rule at a time."""
    if a == 0:
        return 0
    if (r, g, b) in labels:
        return labels[(r, g, b)]
    if (r, g, b) in ((0, 0, 0), (255, 255, 255)):
        return 0
    near = {cls for (cr, cg, cb), cls in labels.items() if max(abs(r - cr), abs(g - cg), abs(b - cb)) <= 16}
    return near.pop() if len(near) == 1 else ABSTAIN


def _expected(pixels: npt.NDArray[np.uint8], labels: dict[tuple[int, int, int], int]) -> list[list[int]]:
    return [[_rule(int(p[0]), int(p[1]), int(p[2]), int(p[3]), labels) for p in row] for row in pixels]


def _awkward_pixels(seed: int, shape: tuple[int, int] = (24, 40)) -> npt.NDArray[np.uint8]:
    """RGBA pixels of every kind the rules tell apart: label colours exactly, moved by up to 16 per
    channel (snap), by 17-40 (snap to another label or not), near both near-duplicates, black,
    white, near-black, unrelated colours; opaque, transparent and semi-transparent."""
    rng = np.random.default_rng(seed)
    height, width = shape
    base = np.array([*LABEL_COLOURS, (0, 0, 0), (255, 255, 255), (37, 119, 180)], dtype=np.int32)
    rgb = base[rng.integers(0, len(base), (height, width))]
    kind = rng.random((height, width))
    rgb = np.where((kind < 0.25)[..., None], rgb + rng.integers(-16, 17, (height, width, 3)), rgb)
    rgb = np.where(((kind >= 0.25) & (kind < 0.35))[..., None], rgb + rng.integers(-40, 41, (height, width, 3)), rgb)
    rgb = np.where((kind >= 0.95)[..., None], rng.integers(0, 256, (height, width, 3)), rgb)
    alpha = np.where(rng.random((height, width)) < 0.2, 0, 255)
    alpha = np.where(rng.random((height, width)) < 0.15, rng.integers(1, 255, (height, width)), alpha)
    return np.concatenate([np.clip(rgb, 0, 255), alpha[..., None]], axis=2).astype(np.uint8)


def _b64(image: Image.Image, **params: object) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG", **params)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rgba_answers_map_every_pixel_by_the_colour_rules(seed: int) -> None:
    pixels = _awkward_pixels(seed)
    image = decode_png(_b64(Image.fromarray(pixels)))
    assert image.mode == "RGBA"
    assert index_mask(image, LABEL_COLOURS).classes().tolist() == _expected(pixels, LABEL_COLOURS)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rgb_answers_map_every_pixel_by_the_colour_rules(seed: int) -> None:
    pixels = _awkward_pixels(seed)
    pixels[..., 3] = 255
    image = decode_png(_b64(Image.fromarray(np.ascontiguousarray(pixels[..., :3]))))
    assert image.mode == "RGB"
    assert index_mask(image, LABEL_COLOURS).classes().tolist() == _expected(pixels, LABEL_COLOURS)


def test_black_and_white_label_colours_and_no_labels_at_all() -> None:
    pixels = _awkward_pixels(4)
    image = decode_png(_b64(Image.fromarray(pixels)))
    labels = {(0, 0, 0): 2, (255, 255, 255): 1, (31, 119, 180): 3}
    assert index_mask(image, labels).classes().tolist() == _expected(pixels, labels)
    assert index_mask(image, {}).classes().tolist() == _expected(pixels, {})


def test_transparent_pixels_are_unpainted_whatever_their_colour_and_faint_paint_counts() -> None:
    road, car = (31, 119, 180), (255, 127, 14)
    pixels = np.array(
        [[[*road, 0], [*road, 1], [*car, 128], [*car, 0], [128, 128, 128, 0], [128, 128, 128, 9]]], np.uint8
    )
    image = decode_png(_b64(Image.fromarray(pixels)))
    assert index_mask(image, {road: 1, car: 2}).classes().tolist() == [[0, 1, 2, 0, 0, ABSTAIN]]


def test_many_distinct_colours_map_like_few() -> None:
    """An anti-aliased export: thousands of distinct colours, each by the rules."""
    rng = np.random.default_rng(5)
    pixels = np.concatenate([rng.integers(0, 256, (96, 128, 3)), np.full((96, 128, 1), 255)], axis=2).astype(np.uint8)
    pixels[::3] = _awkward_pixels(6, (32, 128))
    image = decode_png(_b64(Image.fromarray(pixels)))
    assert index_mask(image, LABEL_COLOURS).classes().tolist() == _expected(pixels, LABEL_COLOURS)


@pytest.mark.parametrize("transparency", ["bytes", "int"])
def test_palette_answers_with_transparency_map_by_the_colour_rules(transparency: str) -> None:
    pixels = _awkward_pixels(7)
    colours, inverse = np.unique(pixels[..., :3].reshape(-1, 3), axis=0, return_inverse=True)
    colours, inverse = colours[:256], np.minimum(inverse.reshape(pixels.shape[:2]), 255)
    rng = np.random.default_rng(7)
    alphas = rng.choice([0, 255, 77], len(colours)).astype(np.uint8)
    image = Image.frombytes("P", pixels.shape[1::-1], inverse.astype(np.uint8).tobytes())
    image.putpalette(colours.astype(np.uint8).tobytes(), rawmode="RGB")
    trns: bytes | int = alphas.tobytes() if transparency == "bytes" else int(inverse[0, 0])
    expected_pixels = np.concatenate([colours[inverse], np.full((*inverse.shape, 1), 255)], axis=2).astype(np.uint8)
    if transparency == "bytes":
        expected_pixels[..., 3] = alphas[inverse]
    else:
        expected_pixels[..., 3] = np.where(inverse == inverse[0, 0], 0, 255)
    decoded = decode_png(_b64(image, transparency=trns))
    assert decoded.mode == "P"
    assert index_mask(decoded, LABEL_COLOURS).classes().tolist() == _expected(expected_pixels, LABEL_COLOURS)


def _raw_png(pixels: npt.NDArray[np.integer], colour_type: int, depth: int, *, interlace: bool = False,
             chunks: tuple[tuple[bytes, bytes], ...] = ()) -> str:  # fmt: skip
    """A PNG written from the spec (filter 0 on every row): byte-aligned depths, optionally Adam7."""
    import struct
    import zlib

    height, width = pixels.shape[:2]
    big = pixels.astype(">u2" if depth == 16 else np.uint8)
    passes = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2), (1, 0, 2, 1)]
    data = bytearray()
    for y0, x0, dy, dx in passes if interlace else [(0, 0, 1, 1)]:
        sub = big[y0::dy, x0::dx]
        if sub.size:
            for row in sub:
                data += b"\x00" + row.tobytes()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, int(interlace))
    extra = b"".join(chunk(k, b) for k, b in chunks)
    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(bytes(data)))
    return base64.b64encode(raw + chunk(b"IEND", b"")).decode()


@pytest.mark.parametrize("interlace", [False, True])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("channels", [3, 4])
def test_rgb_and_rgba_of_both_depths_and_interlaced_map_by_the_colour_rules(
    channels: int, depth: int, interlace: bool
) -> None:
    pixels = _awkward_pixels(8, (21, 13))
    if channels == 3:
        pixels[..., 3] = 255
    stored = pixels[..., :channels].astype(np.uint16) * 256 + 3 if depth == 16 else pixels[..., :channels]
    image = decode_png(_raw_png(stored, 2 if channels == 3 else 6, depth, interlace=interlace))
    assert image.mode == ("RGB" if channels == 3 else "RGBA")
    assert index_mask(image, LABEL_COLOURS).classes().tolist() == _expected(pixels, LABEL_COLOURS)


def test_rgb_with_a_transparent_colour_and_greyscale_masks_map_as_pillow_converts_them() -> None:
    pixels = _awkward_pixels(9)
    pixels[..., 3] = 255
    rgb = np.ascontiguousarray(pixels[..., :3])
    key = tuple(int(v) for v in rgb[0, 0])
    image = decode_png(_b64(Image.fromarray(rgb), transparency=key))
    keyed = pixels.copy()
    keyed[..., 3] = np.where((rgb == key).all(axis=2), 0, 255)
    assert index_mask(image, LABEL_COLOURS).classes().tolist() == _expected(keyed, LABEL_COLOURS)
    grey = {(200, 200, 200): 1, (255, 255, 255): 2}
    for mode, png in [
        ("L", _b64(Image.fromarray(rgb[..., 0]))),
        ("I;16", _raw_png(rgb[..., 0].astype(np.uint16) * 257, 0, 16)),
        ("LA", _raw_png(np.stack([rgb[..., 0], pixels[..., 0] & 1], axis=2), 4, 8)),
    ]:
        decoded = decode_png(png)
        assert decoded.mode == mode
        converted = np.asarray(decoded.convert("RGBA"), dtype=np.uint8)
        assert index_mask(decoded, grey).classes().tolist() == _expected(converted, grey)


def test_rgb_and_rgba_masks_are_decoded_in_place_and_never_written() -> None:
    from tally.codecs import _in_place_pixels, _lookup_table

    pixels = _awkward_pixels(10)
    for image in (Image.fromarray(pixels), Image.fromarray(np.ascontiguousarray(pixels[..., :3]))):
        decoded = decode_png(_b64(image))
        words = _in_place_pixels(decoded)
        assert words is not None and words.dtype == np.uint32 and words.shape == (24, 40)
        before = np.asarray(decoded).copy()
        assert words.view(np.uint8).reshape(24, 40, 4)[..., : len(decoded.mode)].tolist() == before.tolist()
        index_mask(decoded, LABEL_COLOURS)
        assert np.asarray(decoded).tolist() == before.tolist()
    assert not _lookup_table().any()  # the label colours written for an answer are cleared after it


def test_without_pillows_map_buffer_every_mask_is_copied_out_and_maps_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``_imaging.map_buffer`` is private to Pillow: without it (or if it refuses), decoding copies."""
    from tally import codecs

    pixels = _awkward_pixels(11)
    pngs = [png_b64(DRAWING, LEGEND, COLOURS, "P"), _b64(Image.fromarray(pixels))]
    pngs.append(_b64(Image.fromarray(np.ascontiguousarray(pixels[..., :3]))))
    in_place = [decode_png(png) for png in pngs]
    assert all(codecs._in_place_pixels(image) is not None for image in in_place)

    class NoMapBuffer:
        pass

    class Refuses:
        @staticmethod
        def map_buffer(*args: object) -> None:
            raise ValueError("changed")

    for stand_in in (NoMapBuffer(), Refuses()):
        monkeypatch.setattr(codecs, "_imaging", stand_in)
        for png, reference in zip(pngs, in_place, strict=True):
            copied = decode_png(png)
            assert codecs._in_place_pixels(copied) is None
            for labels in (KEYS, LABEL_COLOURS):
                a, b = index_mask(copied, labels), index_mask(reference, labels)
                assert a.indices.tolist() == b.indices.tolist() and a.lut.tolist() == b.lut.tolist()


def test_memory_pillow_replaced_while_loading_is_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """If Pillow ever allocates its own memory although the image has some, the pixels are copied."""
    from PIL import ImageFile

    from tally import codecs

    original = ImageFile.ImageFile.load_prepare

    def fresh_memory(self: ImageFile.ImageFile) -> None:
        self.im = Image.new(self.mode, self.size).im
        original(self)

    pixels = _awkward_pixels(12)
    monkeypatch.setattr(ImageFile.ImageFile, "load_prepare", fresh_memory)
    for png in (png_b64(DRAWING, LEGEND, COLOURS, "P"), _b64(Image.fromarray(pixels))):
        decoded = decode_png(png)
        assert codecs._in_place_pixels(decoded) is None
    assert index_mask(decoded, LABEL_COLOURS).classes().tolist() == _expected(pixels, LABEL_COLOURS)
    assert palette_indices_of(png_b64(DRAWING, LEGEND, COLOURS, "P")) == [[2, 2, 0, 1], [0, 1, 1, 0]]  # car, road


def palette_indices_of(png: str) -> list[list[int]]:
    from tally.codecs import palette_indices

    indices: list[list[int]] = palette_indices(decode_png(png)).tolist()
    return indices


def test_answers_in_threads_each_map_by_their_own_colours() -> None:
    """The colour table is per thread: answers with different colours map correctly side by side."""
    from concurrent.futures import ThreadPoolExecutor

    cases = []
    for seed in range(8):
        pixels = _awkward_pixels(20 + seed, (32, 48))
        rng = np.random.default_rng(seed)
        labels = dict(LABEL_COLOURS)
        for k in (1, 2):
            y, x = int(rng.integers(32)), int(rng.integers(48))
            labels[int(pixels[y, x, 0]), int(pixels[y, x, 1]), int(pixels[y, x, 2])] = k
        cases.append((decode_png(_b64(Image.fromarray(pixels))), labels, _expected(pixels, labels)))

    def run(case: tuple[Image.Image, dict[tuple[int, int, int], int], list[list[int]]]) -> bool:
        image, labels, expected = case
        return all(index_mask(image, labels).classes().tolist() == expected for _ in range(20))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(run, cases * 2))


def test_rgb_masks_without_other_colours_have_no_vote_entry_and_keep_the_far_fast_path() -> None:
    """The no-vote entry is there only when a pixel uses it: a mask whose only undrawn entry is
    background has its far background marked per 8x8 square, like a palette mask."""
    from tally.aggregation.weighted_pixel_vote import far_square_shifts

    road, car = (31, 119, 180), (255, 127, 14)
    pixels = np.zeros((48, 64, 4), np.uint8)
    pixels[2:6, 2:9] = (*road, 255)
    pixels[10:12, 3:5] = (*car, 255)
    clean = index_mask(decode_png(_b64(Image.fromarray(pixels))), {road: 1, car: 2})
    assert clean.lut.tolist() == [0, 1, 2]
    assert far_square_shifts(clean)[1] is not None
    pixels[3, 3] = (128, 128, 128, 255)
    other = index_mask(decode_png(_b64(Image.fromarray(pixels))), {road: 1, car: 2})
    assert other.lut.tolist() == [0, 1, 2, ABSTAIN]
    assert other.classes()[3, 3] == ABSTAIN and other.indices[3, 3] == 3
