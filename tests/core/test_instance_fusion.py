"""Instance maps from colours and polygons, and the pixel vote inside matched instances."""

from __future__ import annotations

import numpy as np
import pytest

from tally.aggregation.instance_fusion import (
    fuse_instances,
    instance_map_from_colours,
    instance_map_from_palette,
    rasterise_polygons,
    table_iou,
    tabulate_instances,
)
from tests.helpers import grid

BLUE, GREEN, RED = (31, 119, 180), (44, 160, 44), (214, 39, 40)
PALETTE = {"b": BLUE, "g": GREEN, "r": RED, "k": (0, 0, 0), "n": (40, 158, 50), "m": (38, 140, 110)}


def pixels(*rows: str) -> np.ndarray:
    return np.array([[PALETTE[ch] for ch in row] for row in rows], dtype=np.uint8)


def instances(*rows: str) -> np.ndarray:
    return grid(rows, {str(k): k for k in range(1, 10)}).astype(np.int32)


def test_each_listed_colour_is_one_instance_in_list_order() -> None:
    rgb = pixels("bbkg", "kggr")
    assert instance_map_from_colours(rgb, [GREEN, BLUE]).tolist() == [[2, 2, 0, 1], [0, 1, 1, 0]]


def test_near_colours_snap_and_ambiguous_ones_do_not() -> None:
    # n is 4 from green; m is between green and blue (not within 16 of either): no instance
    rgb = pixels("gnm")
    assert instance_map_from_colours(rgb, [GREEN, BLUE]).tolist() == [[1, 1, 0]]
    assert instance_map_from_colours(rgb, [GREEN], tolerance=0).tolist() == [[1, 0, 0]]


def test_transparent_pixels_are_no_instance() -> None:
    rgb = pixels("gg")
    alpha = np.array([[255, 0]], dtype=np.uint8)
    assert instance_map_from_colours(rgb, [GREEN], alpha=alpha).tolist() == [[1, 0]]


def test_two_instances_of_one_colour_give_the_pixels_to_the_first() -> None:
    rgb = pixels("gb")
    assert instance_map_from_colours(rgb, [BLUE, GREEN, GREEN]).tolist() == [[2, 1]]


def test_no_instances_listed_gives_an_empty_map() -> None:
    assert instance_map_from_colours(pixels("gb"), []).tolist() == [[0, 0]]


def test_polygon_with_three_vertices_is_a_triangle() -> None:
    grid_, kept = rasterise_polygons([[(0, 0), (4, 0), (0, 4)]], width=6, height=5)
    assert kept == [0]
    assert grid_.tolist() == [
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 0, 0],
        [1, 1, 1, 0, 0, 0],
        [1, 1, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0],
    ]


def test_degenerate_polygons_are_rejected_and_later_ones_paint_over_earlier() -> None:
    polygons: list[list[tuple[float, float]]] = [
        [(0, 0), (5, 0), (5, 2), (0, 2)],  # a 6x3 rectangle
        [(1, 1), (3, 3)],  # two vertices: rejected
        [(3, 0), (5, 0), (5, 2), (3, 2)],  # on top of the first one's right part
        [(0, 10), (2, 10), (2, 12)],  # wholly outside the 6x4 image: rejected
        [(0, 0), (float("nan"), 1), (1, 1)],  # NaN: rejected
    ]
    grid_, kept = rasterise_polygons(polygons, width=6, height=4)
    assert kept == [0, 2]
    assert grid_.tolist() == [[1, 1, 1, 2, 2, 2], [1, 1, 1, 2, 2, 2], [1, 1, 1, 2, 2, 2], [0, 0, 0, 0, 0, 0]]


def test_more_instances_than_a_tuple_can_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 254"):
        tabulate_instances([np.zeros((2, 2), dtype=np.int32)], [255])


def test_ids_beyond_the_listed_instances_are_no_instance() -> None:
    # the map has id 3, but the answer lists two instances
    table = tabulate_instances([instances("13"), instances("11")], [2, 1])
    assert table_iou(table, 0, 2, 1, 1).tolist() == [[0.5], [0.0]]


def test_pixel_vote_inside_a_cluster_needs_half_the_weight() -> None:
    a = instances("111.", "....")
    b = instances("11..", "1...")
    c = instances(".111", "....")
    fused, kept, shares = fuse_instances([a, b, c], [[(0, 0), (1, 0), (2, 0)]], [1.0, 1.0, 1.0])
    assert kept == [0]
    assert fused.tolist() == instances("111.", "....").tolist()
    assert shares.tolist() == pytest.approx([(2 / 3 + 1 + 2 / 3) / 3])


def test_two_members_tie_to_their_union() -> None:
    a = instances("11..")
    b = instances(".11.")
    fused, _, shares = fuse_instances([a, b], [[(0, 0), (1, 0)]], [1.0, 1.0])
    assert fused.tolist() == instances("111.").tolist()
    assert shares.tolist() == pytest.approx([2 / 3])


def test_weights_decide_the_pixels() -> None:
    a = instances("11..")
    b = instances(".11.")
    fused, _, _ = fuse_instances([a, b], [[(0, 0), (1, 0)]], [2.0, 1.0])
    assert fused.tolist() == instances("11..").tolist()


def test_overlapping_instances_split_by_vote_share_then_cluster_order() -> None:
    # two people: worker a draws both, worker b too; their outlines overlap in the middle column
    a = instances("1122", "1122")
    b = instances("1112", "1.22")
    clusters = [[(0, 0), (1, 0)], [(0, 1), (1, 1)]]
    fused, kept, _ = fuse_instances([a, b], clusters, [1.0, 1.0])
    # column 2, row 0: instance 1 has b's vote (share 1/2), instance 2 has a's (1/2): earlier cluster wins
    # column 2, row 1: only instance 2 (both votes)
    assert kept == [0, 1]
    assert fused.tolist() == instances("1112", "1122").tolist()


def test_a_cluster_left_without_pixels_is_dropped_and_the_rest_renumbered() -> None:
    # cluster 0: three members that share no pixel (each 1/3 of the votes): nothing; cluster 1: one
    # instance drawn by all three
    a = instances("1..2")
    b = instances(".1.2")
    c = instances("..12")
    fused, kept, shares = fuse_instances([a, b, c], [[(0, 0), (1, 0), (2, 0)], [(0, 1), (1, 1), (2, 1)]], [1.0] * 3)
    assert kept == [1]
    assert fused.tolist() == [[0, 0, 0, 1]]
    assert shares.tolist() == [1.0]


def test_palette_entries_follow_the_same_colour_rule() -> None:
    indices = np.array([[0, 1, 2, 3, 4]], dtype=np.uint8)
    palette = [(0, 0, 0), GREEN, (40, 158, 50), (38, 140, 110), BLUE]
    alpha = [0, 255, 255, 255, 255]
    got = instance_map_from_palette(indices, palette, [GREEN, BLUE], palette_alpha=alpha)
    assert got.tolist() == [[0, 1, 1, 0, 2]]
    rgb = np.array([[palette[i] for i in indices[0]]], dtype=np.uint8)
    assert (
        instance_map_from_colours(rgb, [GREEN, BLUE], alpha=np.array([alpha], dtype=np.uint8)).tolist() == got.tolist()
    )


def test_more_colours_than_instances_a_map_can_hold_are_refused() -> None:
    colours = [(k, 0, 0) for k in range(255)]
    with pytest.raises(ValueError, match="at most 254"):
        instance_map_from_colours(pixels("g"), colours)
    with pytest.raises(ValueError, match="at most 254"):
        instance_map_from_palette(np.zeros((1, 1), dtype=np.uint8), [(0, 0, 0)], colours)
