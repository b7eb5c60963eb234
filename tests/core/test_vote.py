"""The pixel vote on tiny hand-drawn maps."""

from __future__ import annotations

import numpy as np
import pytest

from tally.aggregation.vote_table import ABSTAIN, IndexedMask, class_confidences, majority_vote, tabulate
from tests.helpers import grid, rows_of

LEGEND = {"A": 1, "B": 2, "C": 3}
NAMES = {1: "A", 2: "B", 3: "C"}


def mask(*rows: str) -> IndexedMask:
    """Indices are the class keys themselves (identity lookup table)."""
    return IndexedMask(grid(rows, LEGEND), np.arange(4, dtype=np.uint8))


def vote(*masks: IndexedMask, weights: list[float] | None = None) -> list[str]:
    table = tabulate(masks)
    return rows_of(table.expand(majority_vote(table, 4, weights).labels), NAMES)


def test_majority_of_three_wins_per_pixel() -> None:
    a = mask("AAB.", "CC..")
    b = mask("AA..", "CCB.")
    c = mask("A.B.", "C.B.")
    assert vote(a, b, c) == ["AAB.", "CCB."]


def test_tie_between_class_and_background_stays_background() -> None:
    assert vote(mask("AA.."), mask("A.A.")) == ["A..."]


def test_tie_between_two_classes_is_background() -> None:
    assert vote(mask("BC"), mask("AB")) == [".."]


def test_three_way_tie_is_background() -> None:
    assert vote(mask("C"), mask("B"), mask("A")) == ["."]


def test_plurality_without_majority_wins() -> None:
    assert vote(mask("A"), mask("A"), mask("B"), mask("C"), mask(".")) == ["A"]


def test_one_worker_gives_their_own_mask() -> None:
    assert vote(mask("AB.C", "..CC")) == ["AB.C", "..CC"]


def test_weights_decide_a_tie() -> None:
    assert vote(mask("BB"), mask("A."), weights=[2.0, 1.0]) == ["BB"]


def test_abstaining_worker_casts_no_vote() -> None:
    # worker b's colour at pixel 0 is unknown: worker a decides alone there; at pixel 1 b says
    # background, which ties with a's A and so stays background
    a = mask("BA")
    b = IndexedMask(np.array([[1, 0]], np.uint8), np.array([0, ABSTAIN], np.uint8))
    assert vote(a, b) == ["B."]


def test_pixels_every_worker_abstains_on_are_background() -> None:
    lut = np.array([ABSTAIN], np.uint8)
    m = IndexedMask(np.zeros((1, 3), np.uint8), lut)
    table = tabulate([m, m])
    result = majority_vote(table, 4)
    assert table.expand(result.labels).tolist() == [[0, 0, 0]]
    assert table.expand(result.confidence).tolist() == [[0.0, 0.0, 0.0]]


def test_workers_with_different_index_tables_vote_on_class_keys() -> None:
    # same drawing, but worker b's palette puts class 2 at index 1 and class 1 at index 2
    a = IndexedMask(np.array([[1, 2, 0]], np.uint8), np.array([0, 1, 2], np.uint8))
    b = IndexedMask(np.array([[2, 1, 0]], np.uint8), np.array([0, 2, 1], np.uint8))
    assert vote(a, b) == ["AB."]


def test_confidence_is_the_winners_share() -> None:
    a, b, c = mask("AA"), mask("AB"), mask("AC")
    table = tabulate([a, b, c])
    result = majority_vote(table, 4)
    # pixel 1 is a three-way tie: background, which nobody voted for
    assert table.expand(result.confidence).tolist()[0] == pytest.approx([1.0, 0.0])


def test_class_and_object_confidence() -> None:
    # A: two workers agree on 2 pixels, worker b adds one more A pixel (2/3 background wins there)
    a = mask("AA..")
    b = mask("AAA.")
    c = mask("AA..")
    table = tabulate([a, b, c])
    result = majority_vote(table, 4)
    per_class, overall = class_confidences(table, result, 4)
    # class A region: 3 pixels with confidence 1, 1, 2/3
    assert per_class[1] == pytest.approx((1 + 1 + 2 / 3) / 3)
    # nobody drew B or C: unanimous absence
    assert per_class[2] == 1.0
    assert per_class[3] == 1.0
    # background region: pixels 2 and 3 (confidence 2/3 and 1)
    assert per_class[0] == pytest.approx((2 / 3 + 1) / 2)
    assert overall == pytest.approx((1 + 1 + 2 / 3) / 3)


def test_large_index_tables_fall_back_to_unique_and_agree() -> None:
    rng = np.random.default_rng(1)
    classes = [rng.integers(0, 4, size=(16, 16), dtype=np.uint8) for _ in range(9)]
    lut = np.zeros(256, np.uint8)
    lut[:4] = np.arange(4)
    wide = [IndexedMask(c, lut) for c in classes]  # 256**9 packed values: compaction path
    narrow = [IndexedMask(c, np.arange(4, dtype=np.uint8)) for c in classes]  # dense path
    t_wide, t_narrow = tabulate(wide), tabulate(narrow)
    labels_wide = t_wide.expand(majority_vote(t_wide, 4).labels)
    labels_narrow = t_narrow.expand(majority_vote(t_narrow, 4).labels)
    assert np.array_equal(labels_wide, labels_narrow)
    counts = np.stack([(np.stack(classes) == k).sum(axis=0) for k in range(4)])
    expected = np.argmax(counts, axis=0)
    expected[(counts == counts.max(axis=0)).sum(axis=0) > 1] = 0  # no strict plurality: background
    assert np.array_equal(labels_narrow, expected)


def test_masks_of_different_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="same shape"):
        tabulate([mask("AA"), mask("A")])
