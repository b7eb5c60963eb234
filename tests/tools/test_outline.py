"""Tracing a consolidated instance's pixels into polygons (tally.importers.outline), for writing
polygons back: painting the polygons as tally reads them (rasterise_polygons) gives the same pixels."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from tally.aggregation.instance_fusion import rasterise_polygons
from tally.importers.outline import Traced, outline, polygons


def _grid(*rows: str) -> npt.NDArray[np.bool_]:
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def _painted(traced: Traced, width: int, height: int) -> npt.NDArray[np.bool_]:
    """Each polygon painted as tally's readers paint an annotator's (one at a time: each is its own)."""
    out = np.zeros((height, width), dtype=bool)
    for points in traced.polygons:
        grid, kept = rasterise_polygons([points], width, height)
        assert kept == [0]
        out |= grid > 0
    return out


def test_a_rectangle_is_its_pixel_edges_and_its_pixel_centres_in_the_reading_frame() -> None:
    mask = _grid("......", ".###..", ".###..", "......")
    assert outline(mask) == [[(1, 1), (4, 1), (4, 3), (1, 3)]]  # corners, clockwise on screen, no collinear point
    assert polygons(mask) == Traced([[(1, 1), (3, 1), (3, 2), (1, 2)]], 0)
    assert np.array_equal(_painted(polygons(mask), 6, 4), mask)


def test_a_ring_is_its_outline_with_the_hole_filled_and_the_hole_counted() -> None:
    mask = _grid("#####", "#####", "##.##", "#...#", "#####")
    assert outline(mask) == [
        [(0, 0), (5, 0), (5, 5), (0, 5)],
        [(2, 2), (2, 3), (1, 3), (1, 4), (4, 4), (4, 3), (3, 3), (3, 2)],  # the hole: anticlockwise
    ]
    traced = polygons(mask)
    assert traced == Traced([[(0, 0), (4, 0), (4, 4), (0, 4)]], 4)
    assert np.array_equal(_painted(traced, 5, 5), np.ones((5, 5), dtype=bool))


def test_two_parts_and_pixels_touching_at_a_corner_are_one_polygon_each() -> None:
    mask = _grid("##...", "##...", "..#..", "....#")
    traced = polygons(mask)
    assert traced == Traced([[(0, 0), (1, 0), (1, 1), (0, 1)], [(2, 2), (2, 2), (2, 2)], [(4, 3), (4, 3), (4, 3)]], 0)
    assert np.array_equal(_painted(traced, 5, 4), mask)


def test_a_part_one_pixel_wide_turns_back_on_itself() -> None:
    mask = _grid("#....", "#....", "#####")  # an L, one pixel wide: no area in the reading frame
    traced = polygons(mask)
    assert traced == Traced([[(0, 0), (0, 2), (4, 2), (0, 2)]], 0)
    assert np.array_equal(_painted(traced, 5, 3), mask)


def test_rasterised_polygons_traced_and_painted_again_are_the_same_pixels() -> None:
    drawn: list[list[tuple[float, float]]] = [
        [(3.2, 1.7), (40.9, 6.1), (28.4, 33.3)],  # a slanted triangle: staircase edges
        [(5, 5), (45, 5), (45, 35), (30, 35), (30, 15), (20, 15), (20, 35), (5, 35)],  # concave
        [(25, 0), (31, 18), (49, 18), (35, 29), (40, 39), (25, 32), (10, 39), (15, 29), (1, 18), (19, 18)],  # a star
        [(0, 0), (49, 39), (0, 39), (49, 0)],  # a bow tie: two parts touching at the centre
    ]
    for vertices in drawn:
        grid, kept = rasterise_polygons([vertices], 50, 40)
        assert kept == [0]
        traced = polygons(grid > 0)
        assert traced.hole_pixels == 0
        assert np.array_equal(_painted(traced, 50, 40), grid > 0)


def test_random_masks_round_trip_exactly_and_holes_are_exactly_what_is_added() -> None:
    rng = np.random.default_rng(23)
    with_holes = 0
    for _ in range(800):
        height, width = (int(v) for v in rng.integers(1, 16, 2))
        mask = rng.random((height, width)) < rng.random()
        traced = polygons(mask)
        painted = _painted(traced, width, height)
        assert not (mask & ~painted).any()  # nothing of the mask is lost
        assert int((painted & ~mask).sum()) == traced.hole_pixels
        assert all(len(points) >= 3 for points in traced.polygons)
        with_holes += traced.hole_pixels > 0
        if traced.hole_pixels == 0:
            assert np.array_equal(painted, mask)
    assert 100 < with_holes < 700  # both sorts were tried


def test_nothing_is_no_polygon() -> None:
    assert polygons(np.zeros((3, 4), dtype=bool)) == Traced([], 0)
    assert outline(np.zeros((0, 0), dtype=bool)) == []
