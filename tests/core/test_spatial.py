"""Tied pixels settled from their neighbours: a disputed band is split down its middle."""

from __future__ import annotations

import numpy as np
import pytest

from tally.aggregation._pixel_kernels import settle_ties, tie_pairs, window_mean
from tests.core.batch import LEGEND, content, mask_rows, reliable, run
from tests.helpers import annotation, data_object, seg_content


def test_band_between_two_outlines_is_split_in_the_middle() -> None:
    # a road band on the left; columns 2..5 are disputed between road (1) and background (0)
    labels = np.zeros((2, 8), np.uint8)
    labels[:, :2] = 1
    tied = np.array([y * 8 + x for y in range(2) for x in range(2, 6)])
    out = settle_ties(labels, tied, np.full(len(tied), 0b11, np.uint64))
    assert out.tolist() == [[1, 1, 1, 1, 0, 0, 0, 0]] * 2


def test_a_pixel_only_tied_between_other_classes_ignores_neighbours_of_a_third() -> None:
    labels = np.array([[3, 0, 3]], np.uint8)
    out = settle_ties(labels, np.array([1]), np.array([0b110], np.uint64))  # tied between 1 and 2
    assert out.tolist() == [[3, 0, 3]]  # no neighbour has 1 or 2: the vote's fallback stays


def test_two_equal_workers_meet_halfway(tmp_path) -> None:
    narrow = ["rr......"] * 3
    wide = ["rrrrrr.."] * 3
    objects = [
        data_object("0", annotation("a", seg_content(narrow, LEGEND)), annotation("b", seg_content(wide, LEGEND)))
    ]
    response, storage = reliable(tmp_path, objects)
    assert mask_rows(storage, content(response[0])[0]) == ["rrrr...."] * 3


def test_window_mean_is_the_clamped_square_average() -> None:
    rng = np.random.default_rng(3)
    inverse = rng.integers(0, 5, (6, 7)).astype(np.uint16)
    table = rng.random((5, 3)).astype(np.float32)
    pixels = np.arange(42)
    column = rng.integers(0, 3, 42).astype(np.intp)
    got = window_mean(inverse, table, pixels, column, radius=2)
    for p in pixels:
        y, x = divmod(int(p), 7)
        values = [
            table[inverse[min(max(y + dy, 0), 5), min(max(x + dx, 0), 6)], column[p]]
            for dy in range(-2, 3)
            for dx in range(-2, 3)
        ]
        assert got[p] == pytest.approx(np.mean(values), abs=1e-6)


def _plus(left: int = 0, down: int = 0, right: int = 0) -> list[str]:
    """A road square (rows and columns 4..11 of 16x16) drawn larger on one side."""
    return [
        "".join(
            "r" if (4 <= y <= 11 + down and 4 - left <= x <= 11 + right and (y <= 11 or 4 <= x <= 11)) else "."
            for x in range(16)
        )
        for y in range(16)
    ]


def test_three_equally_reliable_outlines_meet_at_their_mean(tmp_path) -> None:
    # each worker draws the square 3 px larger on another side: every pair has the same IoU, so all
    # three weigh the same, and each strip has 1 vote of 3 (the plain vote drops it entirely); the
    # mean outline of (0, 0, 3) px is 1 px out on each of those sides
    answers = [_plus(left=3), _plus(down=3), _plus(right=3)]
    objects = [data_object("0", *(annotation(f"w{k}", seg_content(a, LEGEND)) for k, a in enumerate(answers)))]
    response, storage = reliable(tmp_path, objects)
    got = mask_rows(storage, content(response[0])[0])
    assert got[7] == "...rrrrrrrrrr..."  # the middle row: one column more on the left and the right
    assert [row[7] for row in got] == list("....rrrrrrrrr...")  # the middle column: one row more below
    assert got[2] == "." * 16 and got[14] == "." * 16
    response, _, storage = run(tmp_path / "plain", objects)
    assert mask_rows(storage, content(response[0])[0]) == _plus()


def test_a_thin_structure_two_of_three_drew_is_kept(tmp_path) -> None:
    road = ["r" * 16] * 4 + ["." * 16] * 12
    pole = [row if y < 4 else row[:7] + "pp" + row[9:] for y, row in enumerate(road)]
    shorter = [*pole[:15], "." * 16]  # drawn independently: one pixel row shorter
    answers = [pole, shorter, road]
    objects = [data_object("0", *(annotation(f"w{k}", seg_content(a, LEGEND)) for k, a in enumerate(answers)))]
    response, storage = reliable(tmp_path, objects)
    assert mask_rows(storage, content(response[0])[0]) == shorter


def _settle_plainly(labels: np.ndarray, tied: list[int], candidates: list[int], max_steps: int) -> list[list[int]]:
    """settle_ties written out one pixel at a time: fronts from the settled pixels, each front's
    pixels taking, at once, the tied class most of their settled 4-neighbours have (lowest key on a
    tie), the next front the still-pending tied neighbours of the pixels just settled."""
    from collections import Counter

    height, width = labels.shape
    out = labels.reshape(-1).tolist()
    wanted = dict(zip(tied, candidates, strict=True))
    pending = set(tied)

    def neighbours(p: int) -> list[int]:
        y, x = divmod(p, width)
        near = [(p - width, y > 0), (p + width, y < height - 1), (p - 1, x > 0), (p + 1, x < width - 1)]
        return [q for q, inside in near if inside]

    front = sorted(p for p in tied if any(q not in pending for q in neighbours(p)))
    for _ in range(max_steps):
        settled = {}
        for p in front:
            votes = Counter(out[q] for q in neighbours(p) if q not in pending and (wanted[p] >> out[q]) & 1)
            if votes:
                settled[p] = min(votes, key=lambda c: (-votes[c], c))
        if not settled:
            break
        for p, c in settled.items():
            out[p] = c
        pending -= settled.keys()
        front = sorted({q for p in settled for q in neighbours(p) if q in pending})
    return np.array(out, dtype=np.uint8).reshape(height, width).tolist()


@pytest.mark.parametrize("seed", range(40))
def test_settle_ties_is_the_front_by_front_rule(seed: int) -> None:
    """Random grids (tied pixels at row ends and image edges, in and out of order, classes from 0 to
    70, some past the 64 a bitmask holds) against the rule written out pixel by pixel."""
    rng = np.random.default_rng(seed)
    height, width = (int(v) for v in rng.integers(1, 13, 2))
    labels = rng.choice([0, 1, 2, 3, 5, 63, 64, 70], (height, width)).astype(np.uint8)
    tied = rng.choice(height * width, int(rng.integers(0, height * width + 1)), replace=False)
    if seed % 2:
        tied.sort()
    candidates = [int(c) for c in rng.integers(0, 1 << 7, len(tied))]
    candidates = [c | (1 << 63) if i % 5 == 0 else c for i, c in enumerate(candidates)]
    steps = int(rng.integers(1, 10))
    got = settle_ties(labels, tied.astype(np.intp), np.array(candidates, dtype=np.uint64), steps)
    assert got.tolist() == _settle_plainly(labels, tied.tolist(), candidates, steps)


@pytest.mark.parametrize("seed", range(30))
def test_ties_between_background_and_one_class_follow_the_front_by_front_rule(seed: int) -> None:
    """The default vote's ties (background and one class each, the path that counts only those two)
    against the rule written out pixel by pixel: classes up to 63 tied, neighbours painted 64 and 70
    (past what a bitmask holds) never counted."""
    rng = np.random.default_rng(100 + seed)
    height, width = (int(v) for v in rng.integers(1, 14, 2))
    labels = rng.choice([0, 0, 1, 2, 5, 63, 64, 70], (height, width)).astype(np.uint8)
    tied = rng.choice(height * width, int(rng.integers(0, height * width + 1)), replace=False)
    if seed % 2:
        tied.sort()
    candidates = [1 | (1 << int(c)) for c in rng.choice([1, 2, 5, 63], len(tied))]
    steps = int(rng.integers(1, 10))
    got = settle_ties(labels, tied.astype(np.intp), np.array(candidates, dtype=np.uint64), steps)
    assert got.tolist() == _settle_plainly(labels, tied.tolist(), candidates, steps)
    # each tie's class found once per tuple by the caller (tie_pairs) and handed in: the same
    bits = np.array(candidates, dtype=np.uint64)
    pairs = tie_pairs(np.concatenate([np.zeros(1, np.uint64), bits]))  # (row 0: a tuple not tied)
    assert pairs is not None and pairs[0] == 0
    given = settle_ties(labels, tied.astype(np.intp), bits, steps, pair=pairs[1:])
    assert given.tolist() == got.tolist()


def test_tie_pairs_are_none_when_a_tie_is_not_background_and_one_class() -> None:
    ties = np.array([0, 0b11, 0b101, 0b110], np.uint64)  # the last: classes 1 and 2, no background
    assert tie_pairs(ties) is None
    pairs = tie_pairs(ties[:3])
    assert pairs is not None and pairs.tolist() == [0, 1, 2]
