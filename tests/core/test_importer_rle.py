"""The three mask encodings of other tools (tally.importers.rle), against their own projects' test
vectors and real exports, and masks drawn by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tally.importers.rle import (
    RleError,
    brush_mask,
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
