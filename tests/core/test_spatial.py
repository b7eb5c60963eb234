"""Tied pixels settled from their neighbours: a disputed band is split down its middle."""

from __future__ import annotations

import doctest

import numpy as np

import tally.spatial
from tally.spatial import settle_ties
from tests.core.test_consolidate import LEGEND, content, mask_rows
from tests.core.test_reliability import reliable
from tests.helpers import annotation, data_object, seg_content


def test_doctest() -> None:
    assert doctest.testmod(tally.spatial).failed == 0


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
