"""The three mask encodings of other tools (tally.importers.rle), against their own projects' test
vectors and real exports, and masks drawn by hand."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
import pytest

import tally.importers.rle as rle_module
from tally.importers.rle import (
    MAX_PIXELS,
    RleError,
    brush_class_runs,
    brush_mask,
    brush_mask_runs,
    decode_brush_rle,
    decode_coco_rle,
    decode_cvat_mask,
    encode_brush_rle,
    encode_cvat_mask,
    mask_to_brush_rle,
    parse_cvat_counts,
)
from tests.project import ROOT

FIXTURES = ROOT / "tests" / "fixtures"

# thi.ng/umbrella packages/rle-pack/test/main.test.ts (Apache-2.0): 1024 3-bit words, zero but for a bump at 512
BUMP = [1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 4, 4, 5, 4, 4, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 1]
RLE_PACK_3BIT = [0, 0, 4, 0, 17, 27, 255, 1, 255, 18, 24, 212, 78, 24, 5, 134, 68, 227, 82, 30, 3, 196, 0]
RLE_PACK_3BIT_SIZES = [0, 0, 4, 0, 16, 9, 199, 255, 140, 134, 234, 206, 96, 89, 150, 119, 89, 15, 241, 0]
# label-studio-converter tests/test_brush.py (Apache-2.0): its encoder's output for this canvas
CONVERTER_VALUES = [1, 1, 1, 1, 2, 3, 5, 6, 7, 8, 4, 4, 4, 4, 4, 4, 4, 4]
CONVERTER_RLE = [0, 0, 0, 18, 57, 27, 252, 96, 32, 1, 0, 6, 0, 40, 0, 192, 3, 128, 17, 56, 32]


def _bump() -> np.ndarray:
    values = np.zeros(1024, dtype=np.uint8)
    values[512 : 512 + len(BUMP)] = BUMP
    return values


def test_brush_rle_matches_rle_pack_s_own_vectors_both_ways() -> None:
    assert encode_brush_rle(_bump(), word_size=3) == RLE_PACK_3BIT
    assert encode_brush_rle(_bump(), word_size=3, run_sizes=(1, 2, 4, 9)) == RLE_PACK_3BIT_SIZES
    assert decode_brush_rle(RLE_PACK_3BIT).tolist() == _bump().tolist()
    assert decode_brush_rle(RLE_PACK_3BIT_SIZES).tolist() == _bump().tolist()


def test_brush_rle_reads_label_studio_s_converter_output() -> None:
    assert decode_brush_rle(CONVERTER_RLE).tolist() == CONVERTER_VALUES
    # our encoder writes runs of single values as one literal chunk: another stream, the same values
    assert decode_brush_rle(encode_brush_rle(CONVERTER_VALUES)).tolist() == CONVERTER_VALUES


def test_brush_rle_long_runs_and_long_literals_are_cut_into_blocks() -> None:
    # 70,000 values each unlike the next (two literal blocks: 65,536 and 4,464 words), then one value
    # 200,000 times (four repeat blocks), then a short literal and a short run
    literal = np.arange(70_000) % 2 + np.arange(70_000) % 3 * 2
    literal[np.flatnonzero(literal[1:] == literal[:-1]) + 1] = 7  # no two neighbours alike
    assert not np.any(literal[1:] == literal[:-1])
    values = np.concatenate((literal, np.full(200_000, 9), [1, 2, 3], [5, 5, 5])).astype(np.uint8)
    rle = encode_brush_rle(values)
    assert decode_brush_rle(rle).tolist() == values.tolist()
    # header 53 bits; literal blocks: 1+2+16 bits and 8 per word; repeat blocks 1+2+16+8; then the
    # 3-word literal (1+2+3 bits + 24) and the run of three (1+2+3+8)
    bits = 53 + 2 * 19 + 8 * 70_000 + 4 * 27 + (6 + 24) + (6 + 8)
    assert len(rle) == -(-bits // 8)


# Pixel counts and bounding boxes of the three real masks of label-studio-ml-backend's brush fixture,
# as label-studio-converter's own decode_rle (brush.py) reads them (alpha channel of the RGBA canvas).
REAL_MASKS = [(12104, (41, 689), (270, 767)), (5716, (108, 593), (256, 673)), (11709, (31, 122), (251, 213))]


def test_real_brush_masks_decode_as_label_studio_reads_them() -> None:
    results = json.loads((FIXTURES / "labelstudio" / "ml-backend-brush-predictions.json").read_text())[0]["result"]
    for result, (pixels, first, last) in zip(results, REAL_MASKS, strict=True):
        mask = brush_mask(result["value"]["rle"], result["original_width"], result["original_height"])
        where = np.argwhere(mask)
        assert mask.shape == (576, 768)
        assert (int(mask.sum()), tuple(where.min(axis=0)), tuple(where.max(axis=0))) == (pixels, first, last)
        assert np.array_equal(brush_mask(mask_to_brush_rle(mask), 768, 576), mask)


def test_a_brush_mask_reads_the_alpha_channel_whatever_the_word_size() -> None:
    # alpha set with RGB black, and RGB set with alpha 0: only the first is painted
    canvas = np.zeros((3, 4, 4), dtype=np.uint16)
    canvas[0, 1, 3] = 255
    canvas[1, 2, :3] = 255
    canvas[2, 3, 3] = 1
    expected = np.zeros((3, 4), dtype=bool)
    expected[0, 1] = expected[2, 3] = True
    for word_size in (8, 9):  # 8: uint8 values, read as little-endian RGBA words; 9: uint16, read per channel
        assert np.array_equal(brush_mask(encode_brush_rle(canvas.reshape(-1), word_size=word_size), 4, 3), expected)


def test_a_brush_masks_runs_are_its_mask_run_by_run() -> None:
    # painted canvases (every alpha run a repeat), noisy ones (literal words, alphas 0 inside painted RGB)
    # and the real masks: the runs spread out are brush_mask's mask, each run as long as it goes
    rng = np.random.default_rng(7)
    streams: list[tuple[list[int], int, int]] = []
    for width, height in ((1, 1), (5, 3), (64, 48)):
        for word_size in (8, 9):
            canvas = np.zeros((height, width, 4), dtype=np.uint16)
            canvas[rng.random((height, width)) < 0.5] = (31, 119, 180, 255)
            canvas[..., 3] *= rng.random((height, width)) < 0.9  # some painted RGB with alpha 0
            canvas[..., :3] += rng.integers(0, 3, (height, width, 3), dtype=np.uint16)  # literal stretches
            streams.append((encode_brush_rle(canvas.reshape(-1), word_size=word_size), width, height))
    real = json.loads((FIXTURES / "labelstudio" / "ml-backend-brush-predictions.json").read_text())[0]["result"]
    streams += [(r["value"]["rle"], r["original_width"], r["original_height"]) for r in real]
    streams.append((mask_to_brush_rle(np.ones((4, 6), dtype=bool)), 6, 4))
    for stream, width, height in streams:
        painted, pixels = brush_mask_runs(stream, width, height)
        assert np.array_equal(np.repeat(painted, pixels).reshape(height, width), brush_mask(stream, width, height))
        assert pixels.min() > 0 and not (painted[1:] == painted[:-1]).any()
    assert [(p.tolist(), n.tolist()) for p, n in [brush_mask_runs(streams[-1][0], 6, 4)]] == [([True], [24])]


@pytest.mark.parametrize(
    ("rle", "size", "reason"),
    [
        (CONVERTER_RLE[:12], (2, 2), "holds 18 values where the image needs 16"),
        (mask_to_brush_rle(np.ones((3, 4), dtype=bool))[:7], (4, 3), "ends before its last run"),
        ([0, 0, 0], (1, 1), "shorter than its header"),
        ([300, 1, 2, 3, 4, 5, 6], (1, 1), "not a list of bytes"),
    ],
)
def test_a_malformed_brush_rle_is_refused_with_its_reason(rle: list[int], size: tuple[int, int], reason: str) -> None:
    with pytest.raises(RleError, match=reason):
        brush_mask(rle, *size)
    with pytest.raises(RleError, match=reason):
        brush_mask_runs(rle, *size)


_MAX_PIXELS = MAX_PIXELS


def _bit_string(data: bytes) -> str:
    """The bytes as a string of ``0``/``1`` characters, most significant bit first."""
    return format(int.from_bytes(data, "big"), f"0{len(data) * 8}b") if data else ""


def _words(bits: str, start: int, count: int, size: int) -> np.ndarray:
    """``count`` words of ``size`` bits from ``bits[start:]``."""
    chunk = np.frombuffer(bits[start : start + count * size].encode("ascii"), dtype=np.uint8) - ord("0")
    weights = (np.uint32(1) << np.arange(size - 1, -1, -1, dtype=np.uint32)).astype(np.uint32)
    out: np.ndarray = (chunk.reshape(count, size).astype(np.uint32) * weights).sum(axis=1, dtype=np.uint32)
    return out


def _reference_decode(rle: list[int], *, expected: int | None = None) -> np.ndarray:
    """tally's first decoder (until the blocks were found and read with numpy), block by block in
    Python over a string of bits: the reference the vectorised one must equal, value for value and
    reason for reason."""
    bits = _bit_string(bytes(rle))
    size = len(bits)
    if size < 32 + 5 + 16:
        raise RleError("the brush RLE is shorter than its header")
    count = int(bits[0:32], 2)
    word_size = int(bits[32:37], 2) + 1
    run_sizes = [int(bits[37 + 4 * k : 41 + 4 * k], 2) + 1 for k in range(4)]
    if expected is not None and count != expected:
        raise RleError(f"the brush RLE holds {count} values where the image needs {expected}")
    if count > 4 * _MAX_PIXELS:
        raise RleError(f"the brush RLE claims {count} values, over the {4 * _MAX_PIXELS} limit")
    dtype = np.uint8 if word_size <= 8 else np.uint16 if word_size <= 16 else np.uint32
    # the blocks are read in order (each one's fields say how long the next is), as runs of a value;
    # np.repeat makes the values at the end
    values: list[int] = []
    lengths: list[int] = []
    pieces: list[tuple[int, np.ndarray]] = []  # (run index, words) of long literal blocks
    pos, i = 53, 0
    short = "the brush RLE ends before its last run"
    while i < count:
        if pos + 3 > size:
            raise RleError(short)
        repeat = bits[pos] == "1"
        width = run_sizes[int(bits[pos + 1 : pos + 3], 2)]
        pos += 3
        if pos + width > size:
            raise RleError(short)
        length = int(bits[pos : pos + width], 2) + 1
        pos += width
        if i + length > count:
            raise RleError("a run of the brush RLE goes past its value count")
        if repeat:
            if pos + word_size > size:
                raise RleError(short)
            values.append(int(bits[pos : pos + word_size], 2))
            lengths.append(length)
            pos += word_size
        else:
            if pos + length * word_size > size:
                raise RleError(short)
            if length < 8:
                for _ in range(length):
                    values.append(int(bits[pos : pos + word_size], 2))
                    lengths.append(1)
                    pos += word_size
            else:
                pieces.append((len(values), _words(bits, pos, length, word_size)))
                values.append(0)  # a placeholder run, replaced by the words
                lengths.append(0)
                pos += length * word_size
        i += length
    if not pieces:
        out: np.ndarray = np.repeat(np.asarray(values, dtype=dtype), lengths)
        return out
    parts: list[np.ndarray] = []
    done = 0
    for at, words in pieces:
        parts.append(np.repeat(np.asarray(values[done:at], dtype=dtype), lengths[done:at]))
        parts.append(words.astype(dtype))
        done = at + 1
    parts.append(np.repeat(np.asarray(values[done:], dtype=dtype), lengths[done:]))
    return np.concatenate(parts)


def _damaged(rle: list[int], rng: np.random.Generator) -> list[list[int]]:
    """A stream, cut short at a few places, and (when it has a body) one byte of its body flipped."""
    streams = [rle] + [rle[:cut] for cut in range(0, len(rle), max(1, len(rle) // 7))]
    flipped = list(rle)
    if len(flipped) > 7:
        at = int(rng.integers(7, len(flipped)))
        flipped[at] ^= int(rng.integers(1, 256))
        streams.append(flipped)
    return streams


def _decoded(decode: Any, rle: list[int]) -> tuple[str, Any]:
    try:
        values = decode(rle)
    except RleError as exc:
        return "refused", str(exc)
    return str(values.dtype), values.tolist()


@pytest.mark.parametrize("at_once", [None, (3, 5)])
def test_the_vectorised_brush_decoder_reads_every_stream_as_the_block_by_block_one(
    at_once: tuple[int, int] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random canvases of every word size and run-length field sizes (long literals, long runs, blocks
    cut at the longest run), whole, cut short at every few bytes and with a byte flipped: the same
    values of the same type, or the same reason. ``at_once``: the decoder's windows held 3 bytes of
    the stream at a time and its literal words read 5 at a time (so that every stream crosses both
    bounds many times), instead of its defaults."""
    if at_once is not None:
        monkeypatch.setattr(rle_module, "_WINDOW_STRETCH", at_once[0])
        monkeypatch.setattr(rle_module, "_WORDS_AT_ONCE", at_once[1])
    rng = np.random.default_rng(5)
    kinds: Counter[str] = Counter()
    masks = 0
    for case in range(120):
        word_size = int(rng.integers(1, 33)) if case % 3 else 8
        sizes = tuple(int(s) for s in rng.integers(1, 17, size=4)) if case % 2 else (3, 4, 8, 16)
        n = int(rng.integers(0, 3000))
        top = min(1 << word_size, 1 << 31)
        values = np.repeat(rng.integers(0, top, size=n // 20 + 1), rng.integers(1, 60, size=n // 20 + 1))[:n]
        values[rng.random(values.size) < 0.2] = rng.integers(0, top)  # literals among the runs
        rle = encode_brush_rle(values, word_size=word_size, run_sizes=sizes)  # type: ignore[arg-type]
        streams = _damaged(rle, rng)
        for stream in streams:
            got, want = _decoded(decode_brush_rle, stream), _decoded(_reference_decode, stream)
            assert got == want
            if want[0] != "refused" and n % 4 == 0 and n:  # a canvas of n / 4 pixels: its alpha channel
                alpha = np.asarray(want[1]).reshape(-1, 4)[:, 3] != 0
                assert np.array_equal(brush_mask(stream, n // 4, 1), alpha[None, :])
                masks += 1
            kinds[want[1] if want[0] == "refused" else "read"] += 1
    assert decode_brush_rle(encode_brush_rle(np.zeros(0, np.uint8))).tolist() == []
    assert set(kinds) == {"read", "the brush RLE ends before its last run", "the brush RLE is shorter than its header",
                          "a run of the brush RLE goes past its value count"}  # fmt: skip
    assert masks >= 10


def _class_runs(rle: Any, width: int, height: int) -> tuple[str, Any]:
    try:
        return "read", brush_class_runs(rle, width, height)
    except RleError as exc:
        return "refused", str(exc)


def _numpy_class_runs(rle: Any, width: int, height: int) -> tuple[str, Any]:
    """brush_class_runs through the numpy path (brush_mask_runs), whatever the stream's size."""
    try:
        painted, pixels = brush_mask_runs(rle, width, height)
    except RleError as exc:
        return "refused", str(exc)
    return "read", np.column_stack((painted.astype(np.int64), pixels)).reshape(-1).tolist()


def test_a_small_brush_stream_s_class_runs_are_the_numpy_path_s_for_every_stream(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pure-Python path of small streams (brush_class_runs) against the numpy path (brush_mask_runs)
    on random canvases of every word size and run-length field sizes (painted runs, literal stretches,
    alphas 0 inside painted RGB), whole, cut short at every few bytes and with a byte flipped: the same
    runs, or the same reason; and the bench's and the real fixture's masks."""
    rng = np.random.default_rng(11)
    kinds: Counter[str] = Counter()
    for case in range(150):
        word_size = int(rng.integers(1, 33)) if case % 3 else 8
        sizes = tuple(int(s) for s in rng.integers(1, 17, size=4)) if case % 2 else (3, 4, 8, 16)
        pixels = int(rng.integers(1, 700))
        top = min(1 << word_size, 1 << 31)
        values = np.repeat(rng.integers(0, top, size=pixels // 8 + 1), rng.integers(1, 60, size=pixels // 8 + 1))
        values = np.resize(values, 4 * pixels)
        values[rng.random(values.size) < 0.2] = rng.integers(0, top)  # literals among the runs
        values[3::4][rng.random(pixels) < 0.3] = 0  # unpainted pixels
        rle = encode_brush_rle(values, word_size=word_size, run_sizes=sizes)  # type: ignore[arg-type]
        streams = _damaged(rle, rng)
        for stream in streams:
            for width, height in ((pixels, 1), (1, pixels), (pixels + 1, 1)):  # the last: a count it does not hold
                want = _numpy_class_runs(stream, width, height)
                assert _class_runs(stream, width, height) == want
                kinds[want[1] if want[0] == "refused" else "read"] += 1
    assert kinds["read"] >= 150
    assert {reason for reason in kinds if reason != "read" and "where the image needs" not in reason} == {
        "the brush RLE ends before its last run", "the brush RLE is shorter than its header",
        "a run of the brush RLE goes past its value count"}  # fmt: skip
    real = json.loads((FIXTURES / "labelstudio" / "ml-backend-brush-predictions.json").read_text())[0]["result"]
    masks: list[tuple[list[int], int, int]] = [
        (r["value"]["rle"], r["original_width"], r["original_height"]) for r in real
    ]
    yy, xx = np.mgrid[:480, :640]
    ellipse = ((yy - 240) / 150) ** 2 + ((xx - 320) / 200) ** 2 < 1
    masks.append((mask_to_brush_rle(ellipse), 640, 480))  # the bench's kind of mask: the small path
    canvas = np.zeros((480, 640, 4), dtype=np.uint8)
    canvas[ellipse] = (31, 119, 180, 255)  # a painted canvas: literal blocks, a large stream (the numpy path)
    masks.append((encode_brush_rle(canvas.reshape(-1)), 640, 480))
    assert len(bytes(masks[-2][0])) <= rle_module._SMALL_STREAM < len(bytes(masks[-1][0]))
    for stream, width, height in masks:
        want = _numpy_class_runs(stream, width, height)[1]
        runs = brush_class_runs(stream, width, height)
        assert runs == want
        assert np.array_equal(np.repeat(runs[::2], runs[1::2]).reshape(height, width) == 1,
                              brush_mask(stream, width, height))  # fmt: skip
        with monkeypatch.context() as patched:  # every stream through the pure-Python path too
            patched.setattr(rle_module, "_SMALL_STREAM", 1 << 30)
            assert brush_class_runs(stream, width, height) == want


def test_the_write_back_s_brush_regions_from_the_class_array_s_runs_are_each_class_mask_s() -> None:
    """semantic_brushes reads each class's runs from the class array's runs: the regions (labels, scores,
    RLEs) of each class's own mask through mask_to_brush_rle, on class arrays of 1-6 classes (some
    classes unpainted, some touching each other), the first pixel painted or not, and empty."""
    from tally.importers import writers

    rng = np.random.default_rng(3)
    for case in range(60):
        height, width = int(rng.integers(1, 40)), int(rng.integers(1, 50))
        classes_used = int(rng.integers(1, 7))
        drawn = np.repeat(rng.integers(0, classes_used + 1, size=height * width // 3 + 1), 3)[: height * width]
        classes = drawn.reshape(height, width).astype(np.uint8)
        if case % 5 == 0:
            classes[:] = 0
        names = {str(k): {"class-name": f"c{k}", "confidence": round(0.1 * k, 1)} for k in range(classes_used + 2)}
        label = {"mask-ref": "m.png", "internal-color-map": names}
        want = writers._brushes(writers._class_regions(label, classes))
        assert writers.semantic_brushes(label, classes) == want
        # an import keeps only the runs from the batch's threads to the write-back: the same regions and
        # <mask> shapes from them, and the class array again
        runs = writers.MaskRuns.of(classes)
        assert np.array_equal(runs.classes(), classes)
        assert runs.nbytes == runs.starts.nbytes + runs.values.nbytes
        assert writers.semantic_brushes(label, runs) == want
        assert writers.semantic_cvat_masks(label, runs) == writers.semantic_cvat_masks(label, classes)
    assert writers.semantic_brushes(label, np.zeros((0, 0), np.uint8)) == ([], None)
    assert writers.semantic_brushes(label, writers.MaskRuns.of(np.zeros((0, 0), np.uint8))) == ([], None)


def test_a_mask_s_brush_rle_is_the_canvas_s_whatever_its_runs() -> None:
    """The mask encoder lays out repeat blocks alone; the general encoder, given the whole RGBA canvas
    (255 in every channel of a painted pixel), writes the same bytes: short runs, runs cut at the
    longest block (16,384 pixels), a full and an empty mask, speckle."""
    rng = np.random.default_rng(11)
    masks = [np.ones((300, 400), dtype=bool), np.zeros((500, 700), dtype=bool), rng.random((40, 30)) < 0.5,
             np.zeros((1, 1), dtype=bool), np.ones((1, 3), dtype=bool)]  # fmt: skip
    for _ in range(10):
        mask = np.zeros((int(rng.integers(50, 400)), int(rng.integers(50, 400))), dtype=bool)
        for _ in range(int(rng.integers(1, 5))):
            top, left = int(rng.integers(0, mask.shape[0])), int(rng.integers(0, mask.shape[1]))
            mask[top : top + int(rng.integers(1, 200)), left : left + int(rng.integers(1, 200))] = True
        masks.append(mask)
    for mask in masks:
        canvas = np.repeat(np.where(mask.ravel(), 255, 0), 4)
        assert mask_to_brush_rle(mask) == encode_brush_rle(canvas)
        assert np.array_equal(brush_mask(mask_to_brush_rle(mask), mask.shape[1], mask.shape[0]), mask)


# CVAT's documentation (format-xml.md) example mask, drawn by hand from its run lengths
CVAT_DOCS_RLE = "3, 5, 7, 7, 5, 9, 3, 11, 2, 11, 2, 12, 1, 12, 1, 26, 1, 12, 1, 12, 2, 11, 3, 9, 5, 7, 7, 5, 3"
CVAT_DOCS_MASK = [
    "...#####.....",
    "..#######....",
    ".#########...",
    "###########..",
    "###########..",
    "############.",
    "############.",
    "#############",
    "#############",
    ".############",
    ".############",
    "..###########",
    "...#########.",
    "....#######..",
    ".....#####...",
]


def test_cvat_s_documented_mask_decodes_pixel_for_pixel_and_encodes_back() -> None:
    counts = parse_cvat_counts(CVAT_DOCS_RLE)
    mask = decode_cvat_mask(counts, left=707, top=888, width=13, height=15, image_size=(1600, 1200))
    box = mask[888:903, 707:720]
    assert ["".join("#" if v else "." for v in row) for row in box] == CVAT_DOCS_MASK
    assert int(mask.sum()) == int(box.sum())
    assert encode_cvat_mask(mask) == (counts, 707, 888, 13, 15)


def test_a_cvat_mask_starting_inside_its_box_has_a_first_count_of_zero() -> None:
    mask = np.zeros((4, 5), dtype=bool)
    mask[1:3, 1:4] = True
    assert encode_cvat_mask(mask) == ([0, 6], 1, 1, 3, 2)


@pytest.mark.parametrize(
    ("counts", "box", "reason"),
    [
        ([3, 4], (0, 0, 2, 2), "cover 7 pixels, its 2x2 box 4"),
        ([4], (3, 0, 2, 2), "leaves the 4x4 image"),
        ([1, -1, 4], (0, 0, 2, 2), "negative run length"),
        # counts whose int64 sum wraps round to the box's size (once a segfault), and one past int64
        ([2**62] * 3 + [2**62 + 1], (0, 0, 1, 1), "cover 18446744073709551617 pixels, its 1x1 box 1"),
        ([2**63], (0, 0, 1, 1), "cover 9223372036854775808 pixels, its 1x1 box 1"),
    ],
)
def test_a_malformed_cvat_mask_is_refused(counts: list[int], box: tuple[int, int, int, int], reason: str) -> None:
    left, top, width, height = box
    with pytest.raises(RleError, match=reason):
        decode_cvat_mask(counts, left=left, top=top, width=width, height=height, image_size=(4, 4))
    with pytest.raises(RleError, match="not a comma-separated"):
        parse_cvat_counts("1, x")


def test_coco_rle_uncompressed_from_datumaro_s_fixture() -> None:
    coco = json.loads((FIXTURES / "cvat" / "datumaro-coco-instances_val.json").read_text())
    rle = coco["annotations"][1]["segmentation"]
    mask = decode_coco_rle(rle["counts"], rle["size"])  # [0, 20, 30] on 10x5: column-major, the first two columns
    expected = np.zeros((10, 5), dtype=bool)
    expected[:, :2] = True
    assert np.array_equal(mask, expected)


def test_coco_rle_compressed_strings_as_pycocotools_writes_them() -> None:
    # pycocotools 2.0.11 mask.encode of these masks (Fortran order): '612122O000100M;1' and the 40x300 frame
    small = decode_coco_rle("612122O000100M;1", [7, 9])
    assert ["".join("#" if v else "." for v in row) for row in small] == [
        ".........",
        "..###....",
        ".#####...",
        ".######..",
        "..####...",
        ".....#..#",
        "#.......#",
    ]
    counts = "c<R16" + "0" * 278 + "_OKO5b" + "0" * 277 + "]<"
    big = decode_coco_rle(counts, [40, 300])
    expected = np.zeros((40, 300), dtype=bool)
    expected[3:37, 10:290] = True
    expected[20, 150] = False
    assert np.array_equal(big, expected)


@pytest.mark.parametrize(
    ("counts", "size", "reason"),
    [("612122O000100M;", [7, 9], "runs cover"), ("61212\u00e9", [7, 9], "not ASCII"), ([1, 2], [2, 2], "runs cover 3")],
)
def test_a_malformed_coco_rle_is_refused(counts: str | list[int], size: list[int], reason: str) -> None:
    with pytest.raises(RleError, match=reason):
        decode_coco_rle(counts, size)


@pytest.mark.parametrize("word_size", [1, 3, 8, 13, 25, 32])
def test_literal_words_far_apart_read_as_the_block_by_block_decoder_reads_them(
    word_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A few literal words each between long repeat blocks (read 2 at a time: words of one read far
    apart in the stream), the last word the stream's last bits: the reference's values."""
    monkeypatch.setattr(rle_module, "_WORDS_AT_ONCE", 2)
    rng = np.random.default_rng(word_size)
    top = min(1 << word_size, 1 << 31)
    parts = []
    for _ in range(40):
        run, single = rng.integers(0, top, size=2)
        parts += [np.full(int(rng.integers(2, 5000)), run), np.array([single])]
    values = np.concatenate(parts)
    values[-1] = (values[-2] + 1) % top  # the last value a literal of its own
    rle = encode_brush_rle(values, word_size=word_size, run_sizes=(2, 3, 4, 5))
    assert _decoded(decode_brush_rle, rle) == _decoded(_reference_decode, rle)
    assert decode_brush_rle(rle).tolist() == values.tolist()


def test_an_integer_is_no_brush_rle() -> None:
    """``bytes(100)`` is 100 zero bytes: an integer in place of the list is refused as what it is."""
    from tally.importers.rle import RleError, decode_brush_rle

    with pytest.raises(RleError, match="not a list of bytes"):
        decode_brush_rle(100)  # type: ignore[arg-type]
