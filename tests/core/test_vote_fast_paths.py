"""The fast paths of the segmentation votes give exactly what the plain formulation gives."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from tally.aggregation import _pixel_kernels as kernels
from tally.aggregation._pixel_kernels import (
    _WINDOW_BLOCK,
    _window_sums_by_tiles,
    fill_squares,
    run_counts,
    settle_ties,
    window_mean,
)
from tally.aggregation.pixel_vote import vote_image
from tally.aggregation.vote_table import ABSTAIN, IndexedMask, VoteTable, tabulate
from tally.aggregation.weighted_pixel_vote import (
    FAR,
    LeaveOneOutWeights,
    ObjectVotes,
    _against_others,
    abstain_far_from_drawing,
    class_confusion,
    leave_one_out,
    weigh,
)
from tally.codecs import encode_gray_png


def _far_reference(mask: IndexedMask, block: int, reach: int) -> npt.NDArray[np.uint8]:
    """Per pixel, straight from the definition: background is FAR when no drawn pixel lies in a
    square within ``reach`` squares (Chebyshev) of its own square."""
    classes = mask.classes()
    drawn = (classes != 0) & (classes != ABSTAIN) & (classes != FAR)
    height, width = classes.shape
    ys, xs = np.nonzero(drawn)
    out = classes.copy()
    for y in range(height):
        for x in range(width):
            near = ((np.abs(ys // block - y // block) <= reach) & (np.abs(xs // block - x // block) <= reach)).any()
            if classes[y, x] == 0 and not near:
                out[y, x] = FAR
    return out


def test_eight_pixel_squares_mark_exactly_the_far_background() -> None:
    # 16 x 32: two rows of four squares; one pixel drawn in the first square
    indices = np.zeros((16, 32), np.uint8)
    indices[3, 5] = 1
    far = abstain_far_from_drawing(IndexedMask(indices, np.array([0, 2], np.uint8)), block=8, reach=1)
    expected = np.full((16, 32), FAR, np.uint8)
    expected[:, :16] = 0
    expected[3, 5] = 2
    assert far.classes().tolist() == expected.tolist()
    assert far.lut.tolist() == [0, 2, FAR]
    assert indices[3, 5] == 1 and indices.sum() == 1  # the worker's mask is not changed


@pytest.mark.parametrize(("height", "width"), [(24, 40), (21, 48), (9, 8), (30, 64)])
@pytest.mark.parametrize(("background_index", "n_indices"), [(0, 3), (2, 3), (0, 4), (2, 4)])
def test_eight_pixel_squares_match_the_definition(
    height: int, width: int, background_index: int, n_indices: int
) -> None:
    rng = np.random.default_rng(height * width + background_index + n_indices)
    # background at ``background_index``; the others draw classes 1 and 3 (and the fourth abstains),
    # sparse, so some squares are far
    lut = np.zeros(n_indices, np.uint8)
    lut[[i for i in range(n_indices) if i != background_index]] = [1, 3, ABSTAIN][: n_indices - 1]
    indices = np.full((height, width), background_index, np.uint8)
    spots = rng.integers(0, height * width, size=3)
    indices.reshape(-1)[spots] = rng.choice([i for i in range(n_indices) if i != background_index], size=3)
    mask = IndexedMask(indices, lut)
    far = abstain_far_from_drawing(mask, block=8, reach=1)
    assert far.classes().tolist() == _far_reference(mask, 8, 1).tolist()


def test_an_abstaining_index_beside_background_does_not_count_as_drawn() -> None:
    indices = np.zeros((16, 40), np.uint8)
    indices[0, 0] = 1  # drawn
    indices[15, 39] = 2  # no vote: not a drawing, so its square is far background... but it abstains
    lut = np.array([0, 1, ABSTAIN], np.uint8)
    far = abstain_far_from_drawing(IndexedMask(indices, lut), block=8, reach=0)
    classes = far.classes()
    assert classes[0, 0] == 1 and classes[0, 7] == 0 and classes[0, 8] == FAR
    assert classes[15, 39] == ABSTAIN and classes[15, 38] == FAR


def test_a_wide_packed_range_is_counted_in_key_order_with_a_small_inverse() -> None:
    # five masks of ten indices: 10**5 packed keys, beyond the dense table, within the counted range
    rng = np.random.default_rng(3)
    lut = np.arange(10, dtype=np.uint8)
    masks = [IndexedMask(rng.integers(0, 10, (6, 7)).astype(np.uint8), lut) for _ in range(5)]
    table = tabulate(masks)
    keys = sum(m.indices.astype(np.int64) * 10 ** (4 - k) for k, m in enumerate(masks))
    distinct, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    assert table.inverse.dtype == np.uint8
    assert table.inverse.tolist() == inverse.reshape(6, 7).tolist()
    assert table.counts.tolist() == counts.tolist()
    stacked = np.stack([m.indices for m in masks], axis=-1)
    assert table.votes[table.inverse].tolist() == stacked.tolist()
    assert len(distinct) == len(table.votes)


@pytest.mark.parametrize(
    ("radices", "dtype"), [((6, 6, 6), np.uint8), ((16, 16), np.uint8), ((16, 17), np.uint16), ((6,) * 5, np.uint16)]
)
def test_a_dense_packed_range_is_packed_in_bytes_when_it_fits_one(
    radices: tuple[int, ...], dtype: type[np.integer]
) -> None:
    # every possible tuple gets a row; the packed key (last mask least significant) is the row
    rng = np.random.default_rng(4)
    masks = [IndexedMask(rng.integers(0, r, (5, 9)).astype(np.uint8), np.arange(r, dtype=np.uint8)) for r in radices]
    masks[0].indices[0, 0] = radices[0] - 1  # the largest index of the first mask: the top of the range
    table = tabulate(masks)
    keys = np.zeros((5, 9), dtype=np.int64)
    for mask, radix in zip(masks, radices, strict=True):
        keys = keys * radix + mask.indices
    assert table.inverse.dtype == dtype
    assert table.inverse.tolist() == keys.tolist()
    assert len(table.counts) == int(np.prod(radices))
    assert table.counts.tolist() == np.bincount(keys.reshape(-1), minlength=int(np.prod(radices))).tolist()
    stacked = np.stack([m.indices for m in masks], axis=-1)
    assert table.votes[table.inverse].tolist() == stacked.tolist()


@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_the_confidence_map_png_reads_the_array_in_place_and_writes_the_same_bytes(layout: str) -> None:
    rng = np.random.default_rng(5)
    values = rng.integers(0, 256, (37, 50)).astype(np.uint8)
    if layout == "strided":
        values = rng.integers(0, 256, (37, 100)).astype(np.uint8)[:, ::-2]  # every other column, reversed
    # the plain way: copy the pixels into a new image, then encode it
    image = Image.frombytes("P", (values.shape[1], values.shape[0]), np.ascontiguousarray(values).tobytes())
    image.putpalette(bytes(v for i in range(256) for v in (i, i, i)), rawmode="RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1, bits=8)
    encoded = encode_gray_png(values)
    assert encoded == buf.getvalue()
    decoded = Image.open(io.BytesIO(encoded))
    assert decoded.mode == "P" and np.asarray(decoded).tolist() == values.tolist()


def test_the_class_map_is_the_same_with_class_keys_above_the_flag_bit() -> None:
    # three workers outline one disc of class k a little differently (contested boundary pixels), and
    # two of them split on a second disc (a tie with background); class 1 takes the high-bit-free
    # path of the reliability vote's pixel step, class 200 the plain one: same map, same confidences
    yy, xx = np.mgrid[:40, :48]
    discs = [((yy - 20) ** 2 + (xx - 16) ** 2 < r * r) for r in (8, 9, 10)]
    extra = (yy - 20) ** 2 + (xx - 38) ** 2 < 25

    def answer(key: int, n_classes: int) -> tuple[npt.NDArray[np.uint8], list[float], float, npt.NDArray[np.uint8]]:
        lut = np.array([0, key], np.uint8)
        masks = [
            IndexedMask((disc | (extra if k < 2 else False)).astype(np.uint8), lut) for k, disc in enumerate(discs)
        ]
        image, vote = vote_image(tabulate(masks), ["a", "b", "c"], n_classes, "reliability")
        assert vote.pixel_confidence is not None
        return image, vote.per_class, vote.confidence, vote.pixel_confidence

    low_image, low_per_class, low_confidence, low_pixels = answer(1, 2)
    high_image, high_per_class, high_confidence, high_pixels = answer(200, 201)
    assert set(np.unique(low_image).tolist()) == {0, 1}
    assert np.where(high_image == 200, 1, high_image).tolist() == low_image.tolist()
    assert high_pixels.tolist() == low_pixels.tolist()
    assert (high_per_class[0], high_per_class[200], high_confidence) == (*low_per_class, low_confidence)


def test_settling_ties_does_not_depend_on_the_order_the_tied_pixels_come_in() -> None:
    # a 3 x 6 band tied between background and class 2, decided class 2 on the left, background right
    labels = np.zeros((3, 8), np.uint8)
    labels[:, 0] = 2
    tied = np.array([r * 8 + c for r in range(3) for c in range(1, 7)])
    candidates = np.full(len(tied), 0b101, np.uint64)
    expected = [[2, 2, 2, 2, 0, 0, 0, 0]] * 3
    assert settle_ties(labels, tied, candidates).tolist() == expected
    shuffled = np.random.default_rng(1).permutation(len(tied))
    assert settle_ties(labels, tied[shuffled], candidates[shuffled]).tolist() == expected
    assert labels[:, 1:].sum() == 0  # the input is not changed
    settled = settle_ties(labels, tied[shuffled], candidates[shuffled], in_place=True)
    assert settled.tolist() == labels.tolist() == expected  # ... unless asked to settle in place
    with pytest.raises(ValueError, match="C-contiguous"):
        settle_ties(np.asfortranarray(labels), tied, candidates, in_place=True)


def _settled_by_the_rule(
    labels: np.ndarray, tied: np.ndarray, candidates: np.ndarray, steps: int = 8
) -> list[list[int]]:
    """The tie fronts by their definition, pixel by pixel: each front's pixels (pending, next to a
    pixel settled before it) take, among their tied classes, the class most settled 4-neighbours
    have (ties: the lowest key), from the image as it was before the front."""
    image = labels.copy()
    height, width = image.shape
    pending = {int(p): int(c) for p, c in zip(tied, candidates, strict=True)}
    last = None
    for _ in range(steps):
        front = {}
        for p, bits in pending.items():
            y, x = divmod(p, width)
            near = [(y + dy, x + dx) for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1))]
            near = [q for q in near if 0 <= q[0] < height and 0 <= q[1] < width]
            if last is not None and not any(q[0] * width + q[1] in last for q in near):
                continue
            usable = [int(image[q]) for q in near if q[0] * width + q[1] not in pending and (bits >> int(image[q])) & 1]
            if usable:
                front[p] = min(set(usable), key=lambda c: (-usable.count(c), c))
        if not front:
            break
        for p, c in front.items():
            image.reshape(-1)[p] = c
            del pending[p]
        last = set(front)
    settled: list[list[int]] = image.tolist()
    return settled


@pytest.mark.parametrize("seed", range(6))
def test_tie_fronts_between_background_and_one_class_follow_the_rule(seed: int) -> None:
    # bands of tied pixels (background and one class each) by every edge, settled classes of every
    # kind around them, and a class key at the pending marker (255) among the settled pixels
    rng = np.random.default_rng(seed)
    height, width = 23, 31
    labels = rng.choice(np.array([0, 0, 1, 2, 3, 255], np.uint8), (height, width))
    y, x = np.divmod(np.arange(height * width), width)
    tied = np.flatnonzero(
        (np.abs(x - 6 - seed) <= 3) | (y >= height - 4 - seed % 3) | (rng.random(height * width) < 0.2)
    )
    tied = rng.permutation(tied)
    labels.reshape(-1)[tied] = 0  # the vote's fallback
    classes = rng.integers(1, 4, len(tied))
    candidates = (np.uint64(1) | (np.uint64(1) << classes.astype(np.uint64))).astype(np.uint64)
    expected = _settled_by_the_rule(labels, tied, candidates)
    assert settle_ties(labels, tied, candidates).tolist() == expected
    assert settle_ties(labels, tied, candidates, in_place=True).tolist() == expected == labels.tolist()


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.intp])
def test_window_means_read_the_right_rows_whatever_the_inverse_type(dtype: type[np.integer]) -> None:
    # 200 tuples x 3 columns: row * 3 overflows a byte, so the table positions must be computed wide
    rng = np.random.default_rng(8)
    table = (rng.integers(0, 8, (200, 3)) / 4).astype(np.float32)  # quarters: every sum is exact
    inverse = rng.integers(0, 200, (6, 7)).astype(dtype)
    pixels = np.array([0, 9, 20, 41])
    column = np.array([0, 2, 1, 2])
    means = window_mean(inverse, table, pixels, column, radius=1)
    for p, c, got in zip(pixels.tolist(), column.tolist(), means.tolist(), strict=True):
        y, x = divmod(p, 7)
        total = sum(
            float(table[inverse[min(max(y + dy, 0), 5), min(max(x + dx, 0), 6)], c])
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
        )
        assert got == float(np.float32(total) / np.float32(9))


def _box_sums(values: np.ndarray) -> np.ndarray:
    """The float32 sums of a ``(side, side, n)`` gather as the window means add them, one float32
    addition at a time: each of the square's rows left to right, then the rows' sums top to bottom."""
    side_a, side_b = values.shape[:2]
    rows = [values[a, 0].astype(np.float32) for a in range(side_a)]
    for a in range(side_a):
        for b in range(1, side_b):
            rows[a] = (rows[a] + values[a, b]).astype(np.float32)
    total: np.ndarray = rows[0]
    for a in range(1, side_a):
        total = (total + rows[a]).astype(np.float32)
    return total


@pytest.mark.parametrize(("rows", "columns"), [(216, 5), (20_000, 5)])
def test_window_means_by_blocks_are_the_whole_gather_summed_bit_for_bit(rows: int, columns: int) -> None:
    # 20,000 pixels (several blocks) of a 200 x 300 image, edges included; a table of 1,080 entries is
    # addressed in uint16, one of 100,000 in intp: the float32 sums are those of one whole
    # (5, 5, n) gather summed over its first two axes
    rng = np.random.default_rng(9)
    table = rng.random((rows, columns)).astype(np.float32)
    drawn = rng.integers(0, rows, (200, 300))
    inverse = drawn.astype(np.uint8) if rows <= 256 else drawn.astype(np.uint16)
    pixels = np.sort(rng.choice(200 * 300, 20_000, replace=False))
    column = rng.integers(0, columns, len(pixels))
    y, x = np.divmod(pixels, 300)
    steps = np.arange(-2, 3)
    ys = np.clip(y[None, :] + steps[:, None], 0, 199)
    xs = np.clip(x[None, :] + steps[:, None], 0, 299)
    gathered = table[inverse[ys[:, None, :], xs[None, :, :]].astype(np.intp), column[None, None, :]]
    expected = _box_sums(gathered) / np.float32(25)
    assert window_mean(inverse, table, pixels, column, radius=2).tobytes() == expected.tobytes()
    # a last block of one pixel, and a lone pixel by an edge or inside, are summed in the same order
    for one in (pixels[-(_WINDOW_BLOCK + 1) :], pixels[:1], pixels[(x == 299)][:1], pixels[(y > 2) & (x > 2)][:1]):
        at = np.searchsorted(pixels, one)
        got = window_mean(inverse, table, one, column[at], radius=2)
        assert got.tobytes() == expected[at].tobytes()


@pytest.mark.parametrize(("height", "width", "radius"), [(61, 83, 2), (64, 96, 2), (40, 45, 1), (30, 36, 3)])
def test_window_means_tile_by_tile_are_the_whole_gather_summed_bit_for_bit(
    height: int, width: int, radius: int
) -> None:
    # pixels crowded into bands (the tiles' path), by every edge, widths not a multiple of 8 too, two
    # columns averaged within one tile: the same float32 sums as one whole gather summed in row order
    rng = np.random.default_rng(11)
    table = rng.random((216, 5)).astype(np.float32)
    inverse = rng.integers(0, 216, (height, width)).astype(np.uint8)
    y, x = np.divmod(np.arange(height * width), width)
    band = (np.abs(x - width // 2) <= 3) | (np.abs(y - height // 3) <= 2) | (x < 2) | (y >= height - 2)
    pixels = rng.permutation(np.flatnonzero(band))
    column = np.where(pixels % 3 == 0, 2, 1 + (pixels // width) % 2)
    py, px = np.divmod(pixels, width)
    steps = np.arange(-radius, radius + 1)
    ys = np.clip(py[None, :] + steps[:, None], 0, height - 1)
    xs = np.clip(px[None, :] + steps[:, None], 0, width - 1)
    gathered = table[inverse[ys[:, None, :], xs[None, :, :]].astype(np.intp), column[None, None, :]]
    side = 2 * radius + 1
    expected = _box_sums(gathered) / np.float32(side * side)
    flat_table = np.ascontiguousarray(table.T).reshape(-1)
    by_tiles = _window_sums_by_tiles(inverse, flat_table, np.uint16, py, px, column, 5, radius)
    assert by_tiles is not None  # crowded enough for the tiles' path
    assert (by_tiles / np.float32(side * side)).tobytes() == expected.tobytes()
    # a few (tile, column) pairs at a time (a large image's blocks), uneven last block: the same sums
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(kernels, "_TILE_BLOCK", 7)
        blocks = _window_sums_by_tiles(inverse, flat_table, np.uint16, py, px, column, 5, radius)
    assert blocks is not None and blocks.tobytes() == by_tiles.tobytes()
    assert window_mean(inverse, table, pixels, column, radius).tobytes() == expected.tobytes()
    # scattered pixels (a few a tile) go pixel by pixel, with the same sums
    every = slice(None, None, len(pixels) // 12)
    sy, sx = np.divmod(pixels[every], width)
    assert _window_sums_by_tiles(inverse, flat_table, np.uint16, sy, sx, column[every], 5, radius) is None
    got = window_mean(inverse, table, pixels[every], column[every], radius)
    assert got.tobytes() == expected[every].tobytes()


@pytest.mark.parametrize(("shape", "entries"), [((2, 3), 3), ((7, 5), 4), ((96, 128), 216), ((4, 64), 256)])
def test_spreading_a_byte_table_over_a_byte_index_gives_np_take(shape: tuple[int, int], entries: int) -> None:
    # neighbouring pixels with different tuples (random indices), odd pixel counts (np.take's path) too
    rng = np.random.default_rng(8)
    index = rng.integers(0, entries, shape).astype(np.uint8)
    index.reshape(-1)[0], index.reshape(-1)[-1] = 0, entries - 1
    per_tuple = rng.permutation(256)[:entries].astype(np.uint8)
    table = VoteTable(np.zeros((entries, 1), np.uint8), np.ones(entries, np.int64), index)
    image = table.expand(per_tuple)
    assert image.dtype == np.uint8 and image.shape == shape and image.flags.writeable
    assert image.tolist() == [[int(per_tuple[i]) for i in row] for row in index.tolist()]
    with pytest.raises(IndexError):
        table.expand(per_tuple[:-1])  # an index past the table is an error, not a padded entry


# --- squares: most of an object's 8x8 squares hold one tuple; the vote reads them whole ---------


def _blobs(rng: np.random.Generator, height: int, width: int, n_indices: int) -> npt.NDArray[np.uint8]:
    """A mask of a few rectangles of random indices on index 0, with a speckle of single pixels."""
    indices = np.zeros((height, width), np.uint8)
    for _ in range(4):
        y, x = rng.integers(0, height), rng.integers(0, width)
        indices[y : y + rng.integers(3, 20), x : x + rng.integers(3, 30)] = rng.integers(1, n_indices)
    indices.reshape(-1)[rng.integers(0, height * width, size=5)] = rng.integers(0, n_indices, size=5)
    return indices


def _unsquared(mask: IndexedMask) -> IndexedMask:
    """The same mask in Fortran order: no squares, so the per-pixel path counts it."""
    return IndexedMask(np.asfortranarray(mask.indices), mask.lut)


def test_squares_say_which_squares_hold_one_index_and_which() -> None:
    from tally.aggregation.vote_table import squares_of

    indices = np.zeros((17, 24), np.uint8)  # two full rows of three squares, one partial row
    indices[8:16, 0:8] = 3  # square (1, 0) all 3
    indices[2, 12] = 1  # square (0, 1) mixed
    indices[15, 23] = 2  # square (1, 2) mixed
    indices[16, :] = 5  # the partial row is not summarised
    squares = squares_of(indices)
    assert squares is not None
    assert squares.uniform.tolist() == [[True, False, True], [True, True, False]]
    assert squares.value[squares.uniform].tolist() == [0, 0, 3, 0]
    assert squares_of(indices[:, :20]) is None  # width not a multiple of 8
    assert squares_of(np.asfortranarray(indices)) is None


@pytest.mark.parametrize(("height", "width"), [(8, 8), (16, 24), (23, 40), (64, 96)])
def test_squares_match_each_square_read_whole(height: int, width: int) -> None:
    from tally.aggregation.vote_table import squares_of

    rng = np.random.default_rng(height * width)
    indices = np.repeat(np.repeat(rng.integers(0, 3, (height // 8 + 1, width // 8)), 8, axis=0), 8, axis=1)
    indices = np.ascontiguousarray(indices[:height].astype(np.uint8))
    rows, cols = height // 8, width // 8
    for r, c in rng.integers(0, [rows, cols], (max(1, rows * cols // 3), 2)):  # one pixel changed: mixed
        indices[8 * r + rng.integers(0, 8), 8 * c + rng.integers(0, 8)] += 1
    indices[:8, :8] = 4
    indices[:8, 7] = 5  # every row of the square alike, but not one byte repeated: mixed
    squares = squares_of(indices)
    assert squares is not None
    blocks = indices[: rows * 8].reshape(rows, 8, cols, 8)
    assert squares.uniform.tolist() == (blocks == blocks[:, :1, :, :1]).all(axis=(1, 3)).tolist()
    assert squares.value.tolist() == blocks[:, 0, :, 0].tolist()
    assert not squares.uniform[0, 0]


@pytest.mark.parametrize(("height", "width"), [(24, 40), (21, 48), (8, 8), (37, 64), (30, 44)])
@pytest.mark.parametrize("workers", [1, 3, 5])
def test_counting_by_squares_gives_the_per_pixel_table(height: int, width: int, workers: int) -> None:
    rng = np.random.default_rng(height * width * workers)
    masks = [IndexedMask(_blobs(rng, height, width, 4), np.array([0, 1, 2, ABSTAIN], np.uint8)) for _ in range(workers)]
    by_squares = tabulate(masks)
    by_pixels = tabulate([_unsquared(m) for m in masks])
    assert (by_squares.squares is not None) == (width % 8 == 0)
    assert by_pixels.squares is None
    assert _as_counted(by_squares) == _as_counted(by_pixels)
    if workers == 5 and width % 8 == 0:  # 4^5 possible tuples: only those present are kept, and the index is a byte
        assert len(by_squares.counts) == int((by_pixels.counts > 0).sum()) <= 256
        assert by_squares.inverse.dtype == np.uint8 and by_pixels.inverse.dtype == np.uint16
    # spreading per-tuple values and finding the pixels of some tuples, whole squares at a time
    values = rng.integers(0, 250, size=len(by_squares.counts)).astype(np.uint8)
    chosen = rng.random(len(by_squares.counts)) < 0.4
    assert by_squares.expand(values).tolist() == np.take(values, by_squares.inverse).tolist()
    assert by_squares.pixels_where(chosen).tolist() == np.flatnonzero(np.take(chosen, by_squares.inverse)).tolist()
    for table in (by_squares, by_pixels):  # the same pixels in any order, each with its own tuple
        pixels, tuples = table.pixels_and_tuples(
            chosen if table is by_squares else _chosen_by_pixels(table, by_squares, chosen)
        )
        assert len(np.unique(pixels)) == len(pixels)
        assert sorted(pixels.tolist()) == np.flatnonzero(np.take(chosen, by_squares.inverse)).tolist()
        assert tuples.tolist() == table.inverse.reshape(-1)[pixels].tolist()
    floats = rng.random(len(by_squares.counts)).astype(np.float32)
    assert by_squares.expand(floats).tolist() == np.take(floats, by_squares.inverse).tolist()
    if by_squares.squares is not None:  # both at once (labels below the high bit): the same image, pixels, tuples
        labels = values % 128
        image, pixels, tuples = by_squares.squares.expand_and_find(labels, chosen, by_squares.inverse)
        assert image.tolist() == np.take(labels, by_squares.inverse).tolist()
        expected_pixels, expected_tuples = by_squares.pixels_and_tuples(chosen)
        assert pixels.tolist() == expected_pixels.tolist() and tuples.tolist() == expected_tuples.tolist()
    # the table's own: squares or pixel by pixel, labels below the high bit (one read) or past it
    for table in (by_squares, by_pixels):
        flags = chosen if table is by_squares else _chosen_by_pixels(table, by_squares, chosen)
        per_tuple = values if table is by_squares else _chosen_by_pixels(table, by_squares, values)
        for classes in ((per_tuple % 128).astype(np.uint8), (per_tuple | 128).astype(np.uint8)):
            image, pixels, tuples = table.expand_and_find(classes, flags)
            assert image.tolist() == np.take(classes, table.inverse).tolist()
            assert sorted(pixels.tolist()) == np.flatnonzero(np.take(flags, table.inverse)).tolist()
            assert tuples.tolist() == table.inverse.reshape(-1)[pixels].tolist()


def _chosen_by_pixels(table: VoteTable, by_squares: VoteTable, chosen: np.ndarray) -> np.ndarray:
    """``chosen`` (per tuple of ``by_squares``) carried over to the tuples of ``table`` (the same
    masks counted pixel by pixel, whose rows may be numbered differently)."""
    out = np.zeros(len(table.counts), dtype=chosen.dtype)
    out[table.inverse.reshape(-1)] = chosen[by_squares.inverse.reshape(-1)]
    return out


def _as_counted(table: VoteTable) -> tuple[list[list[int]], list[int], list[list[int]]]:
    """A table as the votes see it, whatever the numbering of its rows: the tuples present in order,
    their counts, and each pixel's tuple."""
    present = table.counts > 0
    return table.votes[present].tolist(), table.counts[present].tolist(), table.votes[table.inverse, :].tolist()


@pytest.mark.parametrize(("height", "width"), [(24, 40), (21, 48), (40, 64), (30, 44)])
@pytest.mark.parametrize("background_index", [0, 2])
@pytest.mark.parametrize("workers", [3, 9])  # 4^9 tuples: past the dense range, the key is shifted pixel by pixel
def test_far_marks_added_to_the_packed_key_match_rewritten_masks(
    height: int, width: int, background_index: int, workers: int
) -> None:
    from tally.aggregation.weighted_pixel_vote import far_square_shifts

    rng = np.random.default_rng(height + width + background_index)
    lut = np.array([1, 3, 0] if background_index == 2 else [0, 1, 3], np.uint8)
    masks = []
    for k in range(workers):
        indices = np.full((height, width), background_index, np.uint8)
        y, x = rng.integers(0, height - 4), rng.integers(0, width - 4)
        indices[y : y + 4, x : x + 4] = (background_index + 1 + k % 2) % 3  # a small shape per worker
        masks.append(IndexedMask(indices, lut))
    before = [m.indices.copy() for m in masks]
    marked = [far_square_shifts(m) for m in masks]
    lazily = tabulate([m for m, _ in marked], [g for _, g in marked])
    rewritten = tabulate([_unsquared(abstain_far_from_drawing(m)) for m in masks])
    assert any(g is not None for _, g in marked) == (width % 8 == 0)
    assert FAR in lazily.votes
    assert _as_counted(lazily) == _as_counted(rewritten)
    assert (lazily.squares is not None) == (width % 8 == 0 and workers == 3)
    assert all((m.indices == b).all() for m, b in zip(masks, before, strict=True))  # the workers' masks as drawn
    if width % 8 == 0:  # the marks live in the shifts: the indices are the worker's own, not a copy
        assert all(marked_mask.indices is m.indices for (marked_mask, _), m in zip(marked, masks, strict=True))


def test_far_marks_of_a_mask_with_two_background_indices_are_written_into_it() -> None:
    from tally.aggregation.weighted_pixel_vote import far_square_shifts

    indices = np.zeros((16, 48), np.uint8)
    indices[0, 0] = 1
    indices[:, 40:] = 2  # a second index that reads as background
    mask = IndexedMask(indices, np.array([0, 3, 0], np.uint8))
    marked, shifts = far_square_shifts(mask, reach=1)
    assert shifts is None  # not a plain addition: marked in the indices themselves
    assert marked.classes().tolist() == abstain_far_from_drawing(mask, 8, 1).classes().tolist()
    assert marked.classes()[0, 16] == FAR and marked.classes()[0, 44] == FAR


def test_without_a_batch_model_no_batch_record_is_reported() -> None:
    # the object's own fit weighs the vote, but no worker has a batch record to report
    lut = np.array([0, 1], np.uint8)
    yy, xx = np.mgrid[:20, :20]
    masks = [IndexedMask(((yy - 10) ** 2 + (xx - 10) ** 2 < r * r).astype(np.uint8), lut) for r in (5, 6, 7)]
    _, vote = vote_image(tabulate(masks), ["a", "b", "c"], 2, "reliability")
    assert [w["batch-reliability"] for w in vote.workers] == [None, None, None]


def random_objects(rng: np.random.Generator, count: int) -> list[ObjectVotes]:
    """Objects of 1-6 columns over a few classes, with abstentions, far background, copies and a
    worker who answered twice."""
    out = []
    for _ in range(count):
        n = int(rng.integers(1, 7))
        votes = rng.choice(np.array([0, 0, 1, 2, 3, ABSTAIN, FAR], np.uint8), size=(int(rng.integers(1, 40)), n))
        if n > 2 and rng.random() < 0.3:
            votes[:, 1] = votes[:, 0]  # a copy
        workers = [f"w{k}" for k in range(n)]
        if n > 3 and rng.random() < 0.3:
            workers[3] = workers[2]  # one worker's two answers
        out.append(ObjectVotes.build(workers, votes, rng.integers(0, 50, len(votes))))
    return out


@pytest.mark.parametrize("soft_passes", [1, 3])
def test_the_fit_keeps_each_objects_accuracy_exactly_as_predict_would_compute_it(soft_passes: int) -> None:
    # the fit computes every object's own accuracy with its class confusion (one reference vote per
    # column); predict reuses it: the same figures, bit for bit, as leave_one_out on an equal copy
    rng = np.random.default_rng(5)
    objects = random_objects(rng, 60)
    model = LeaveOneOutWeights(soft_passes=soft_passes).fit(objects)
    reused = 0
    for fitted in objects:
        copy = ObjectVotes(fitted.workers, fitted.votes.copy(), fitted.counts.copy(), fitted.group.copy())
        assert model.object_accuracy(fitted).tobytes() == model.object_accuracy(copy).tobytes()
        reused += id(fitted) in model._fitted
        for soft in (False, True):
            weights = rng.random(len(fitted.workers))
            agree, judged = leave_one_out(fitted, weights, soft=soft)
            both = _against_others(fitted, weights, soft)
            assert (both[0].tobytes(), both[1].tobytes()) == (agree.tobytes(), judged.tobytes())
            assert both[2].tobytes() == class_confusion(fitted, weights).tobytes()
        assert weigh(fitted, 4, model).labels.tobytes() == weigh(copy, 4, model).labels.tobytes()
    assert reused == len(objects)


@pytest.mark.parametrize("span", [1, 5, 125, 256, 3125])
@pytest.mark.parametrize("pixels", [0, 1, 2, 7, 4096])
def test_counting_runs_is_bincount(span: int, pixels: int) -> None:
    rng = np.random.default_rng(span * 10_000 + pixels)
    drawn = rng.integers(0, span, pixels)
    keys: npt.NDArray[np.integer] = drawn.astype(np.uint8) if span <= 256 else drawn.astype(np.uint16)
    values = np.repeat(keys, rng.integers(1, 12, pixels))  # runs of equal keys, as along a row
    got = run_counts(values.reshape(-1, 1) if len(values) else values, span)
    assert got.dtype == np.int64
    assert got.tolist() == np.bincount(values, minlength=span).tolist()


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.bool_, np.uint16, np.float32])
@pytest.mark.parametrize(("height", "width"), [(8, 8), (21, 48), (16, 24)])
def test_filling_squares_repeats_each_value_over_its_square(dtype: type[np.generic], height: int, width: int) -> None:
    rng = np.random.default_rng(height * width)
    values = rng.integers(-128, 127, (height // 8, width // 8)).astype(dtype)
    image = np.full((height, width), 7, dtype=dtype)
    fill_squares(image, values)
    expected = np.full((height, width), 7, dtype=dtype)
    expected[: height // 8 * 8] = np.repeat(np.repeat(values, 8, axis=0), 8, axis=1)
    assert image.tobytes() == expected.tobytes()


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 16, 17, 100, 4096])
def test_window_sums_add_each_row_then_the_rows(n: int) -> None:
    from tally.aggregation._pixel_kernels import _sum_squares

    rng = np.random.default_rng(n)
    values = (rng.standard_normal((5, 5, n)) * rng.choice([1e-3, 1.0, 1e3], (5, 5, n))).astype(np.float32)
    expected = _box_sums(values)  # each row of the square left to right, then the rows down
    got = _sum_squares(values)
    assert got.dtype == np.float32
    assert got.tobytes() == expected.tobytes()


def test_a_blank_answer_first_among_nine_of_a_one_class_job_is_voted() -> None:
    """Nine workers of a one-class job, the first with a blank mask (one palette entry): the other eight
    masks' digits span exactly 256 keys, the blank one's place equals the span (its digit is always 0).
    The byte-wide keys once raised OverflowError there and the object was lost; now it is voted, and the
    same as with the blank answer last."""
    from tally.aggregation.pixel_vote import reliability_table, vote_image
    from tally.aggregation.weighted_pixel_vote import LeaveOneOutWeights
    from tally.codecs import index_classes

    rng = np.random.default_rng(1)
    drawn = []
    for _ in range(8):
        mask = np.zeros((64, 64), np.uint8)
        mask[10:30, 13:41] = 1
        mask[rng.integers(0, 64, 30), rng.integers(0, 64, 30)] = 1  # each worker's own stray pixels
        drawn.append(mask)
    truth = np.zeros((64, 64), np.uint8)
    truth[10:30, 13:41] = 1
    workers = [f"w{i}" for i in range(9)]
    for blank_at in (0, 8):
        masks = [index_classes(m, [0, 1]) for m in drawn]
        masks.insert(blank_at, index_classes(np.zeros((64, 64), np.uint8), [0]))
        table, judged = reliability_table(masks, workers)
        image, _ = vote_image(table, workers, 2, "reliability", LeaveOneOutWeights().fit([judged]), judged)
        assert np.array_equal(image, truth)


@pytest.mark.parametrize("seed", range(6))
def test_the_votes_as_counted_have_the_judged_votes_copy_groups(seed: int) -> None:
    # the adapter takes the counted votes' copy groups from the votes as drawn (far marks read as
    # background): masks equal as drawn are equal with their far marks, so the groups are the same as
    # building them again from the counted votes; copies, small and empty masks, and masks drawn far
    # apart (far marks) among them
    from tally.aggregation.pixel_vote import reliability_table

    rng = np.random.default_rng(seed)
    height, width = 64, 96
    lut = np.array([0, 1, 2, ABSTAIN], np.uint8)
    drawn = [_blobs(rng, height, width, 4) for _ in range(3)]
    drawn.append(drawn[0].copy())  # a copy
    drawn.append(np.zeros((height, width), np.uint8))  # an empty answer
    tiny = np.zeros((height, width), np.uint8)
    tiny[60:62, 90:92] = 1  # far from everything the others drew
    drawn.extend([tiny, tiny.copy()])  # two equal masks too small to be taken for copies
    order = rng.permutation(len(drawn))
    masks = [IndexedMask(drawn[i], lut) for i in order]
    workers = [f"w{i}" for i in order]
    table, judged = reliability_table(masks, workers)
    rebuilt = ObjectVotes.from_table(workers, table)
    assert rebuilt.group.tolist() == judged.group.tolist()
    assert rebuilt.counts.tolist() == judged.counts.tolist()
    assert len({*judged.group.tolist()}) < len(workers)  # the copy is found
    assert (table.votes == FAR).any()  # and far marks among the counted votes
