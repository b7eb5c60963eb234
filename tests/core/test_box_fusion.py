"""Robust fusion of matched boxes and keypoints, and the box conversions."""

from __future__ import annotations

import numpy as np
import pytest

from tally.aggregation.box_fusion import (
    BoxFusion,
    boxes_from_ltwh,
    boxes_to_ltwh,
    huber_k,
    huber_location,
    weighted_median,
)


def test_weighted_median_of_an_odd_count_is_the_middle_value() -> None:
    assert weighted_median([5.0, 1.0, 3.0]).item() == 3.0


def test_weighted_median_of_two_equal_weights_is_their_midpoint() -> None:
    assert weighted_median([1.0, 4.0]).item() == 2.5


def test_weighted_median_follows_the_weights() -> None:
    assert weighted_median([1.0, 2.0, 10.0], [1.0, 1.0, 3.0]).item() == 10.0
    assert weighted_median([1.0, 2.0, 10.0], [3.0, 1.0, 1.0]).item() == 1.0
    # cumulative weight lands exactly on half after 2.0: midpoint of 2.0 and 10.0
    assert weighted_median([1.0, 2.0, 10.0], [1.0, 1.0, 2.0]).item() == 6.0


def test_weighted_median_works_per_column() -> None:
    assert weighted_median([[1.0, 30.0], [2.0, 10.0], [3.0, 20.0]]).tolist() == [2.0, 20.0]


def test_weighted_median_refuses_non_positive_weights() -> None:
    with pytest.raises(ValueError, match="positive weights"):
        weighted_median([1.0, 2.0], [1.0, 0.0])


def test_huber_location_discounts_a_far_value_the_mean_follows() -> None:
    values = [[10.0], [11.0], [12.0], [40.0]]
    # median 11.5, MAD 1.0 → scale 1.4826; 40 is 19 scales out and keeps 1.5/19 of its weight
    assert huber_location(values).item() == pytest.approx(11.74, abs=0.01)
    assert np.mean(values) == 18.25


def test_huber_location_of_close_values_is_their_mean() -> None:
    assert huber_location([[10.0], [11.0], [12.0]], scale_floor=5.0).item() == pytest.approx(11.0)


def test_one_box_is_returned_unchanged() -> None:
    assert BoxFusion().fuse([[1.5, 2.0, 30.0, 40.0]], [0.3]).tolist() == [1.5, 2.0, 30.0, 40.0]


def test_two_equal_boxes_weights_give_the_edge_midpoints() -> None:
    fused = BoxFusion().fuse([[0, 0, 10, 10], [2, 2, 14, 12]], [1.0, 1.0])
    assert fused.tolist() == [1.0, 1.0, 12.0, 11.0]


def test_a_careless_edge_moves_the_box_far_less_than_the_mean() -> None:
    cluster = [[10, 10, 50, 50], [11, 10, 50, 50], [10, 11, 51, 50], [11, 10, 50, 51], [10, 10, 100, 50]]
    fused = BoxFusion().fuse(cluster, np.ones(5))
    mean = np.mean(cluster, axis=0)
    assert mean[2] == 60.2
    assert 50.0 <= fused[2] < 51.0
    assert fused[[0, 1, 3]] == pytest.approx([10.4, 10.2, 50.2], abs=0.05)


def test_heavier_worker_pulls_the_fused_box() -> None:
    fused = BoxFusion().fuse([[0, 0, 10, 10], [4, 0, 14, 10]], [3.0, 1.0])
    assert fused[0] < 2.0 and fused[2] < 12.0


def test_box_outside_the_image_is_clipped_or_rejected() -> None:
    ltwh: list[list[float]] = [
        [10, 10, 20, 20],  # inside: unchanged
        [-5, 90, 20, 30],  # crosses the left and bottom edges: clipped
        [120, 10, 5, 5],  # wholly outside: rejected
        [10, 10, 0, 5],  # zero width: rejected
        [10, 10, -5, 5],  # negative width: rejected
        [float("nan"), 0, 5, 5],  # not a number: rejected
    ]
    kept, ok = boxes_from_ltwh(ltwh, width=100, height=100)
    assert ok.tolist() == [True, True, False, False, False, False]
    assert kept.tolist() == [[10, 10, 30, 30], [0, 90, 15, 100]]


def test_ltwh_round_trip_of_integer_boxes() -> None:
    ltwh = [[116, 283, 137, 128], [418, 281, 138, 141]]
    kept, _ = boxes_from_ltwh(ltwh, width=640, height=432)
    assert boxes_to_ltwh(kept).tolist() == ltwh


# five careful x0 edges (σ ≈ 5 % of the 30-pixel side) and the same edge 20 pixels off
_CAREFUL = [[10.0, 0, 40, 40], [10.2, 0, 40, 40], [9.9, 0, 40, 40], [10.1, 0, 40, 40], [13.0, 0, 40, 40]]


def test_huber_k_is_hubers_minimax_threshold() -> None:
    # Huber (1964), table of k against ε: 0.05 → 1.399, 0.01 → 1.945; clean data: the cap
    assert huber_k(0.05) == pytest.approx(1.3984, abs=1e-4)
    assert huber_k(0.01) == pytest.approx(1.9451, abs=1e-4)
    assert huber_k(0.0) == 3.0
    assert huber_k(1e-9) == 3.0
    assert huber_k(0.05, max_k=1.0) == 1.0


def test_the_clusters_own_mad_discounts_a_careful_edge() -> None:
    # median 10.1, MAD 0.1: the scale is the floor, 3 % of the 29.9-pixel width = 0.897; the edge at
    # 13 is 3.2 scales out and loses weight, so the fused edge is below the mean 10.64
    fused = BoxFusion().fuse(_CAREFUL, np.ones(5))
    assert fused[0] == pytest.approx(10.4985, abs=1e-4)


def test_with_a_pooled_scale_five_jittered_edges_fuse_to_their_weighted_mean() -> None:
    # scale 5 % of 29.9 = 1.495 pixels, k = 3: every edge is within 4.485 of the estimate
    weights = [1.0, 2.0, 1.0, 1.0, 1.0]
    fused = BoxFusion().fuse(_CAREFUL, weights, edge_scale=0.05, k=3.0)
    assert fused.tolist() == pytest.approx([(10.0 + 2 * 10.2 + 9.9 + 10.1 + 13.0) / 6, 0.0, 40.0, 40.0])


def test_with_a_pooled_scale_an_outlier_edge_is_still_discounted() -> None:
    cluster = [*_CAREFUL, [30.0, 0, 40, 40]]
    fused = BoxFusion().fuse(cluster, np.ones(6), edge_scale=0.05, k=3.0)
    # width 40 - 10.15 = 29.85, scale 1.4925, k × scale = 4.4775: the edge at 30 pulls by that much
    # only, so the estimate solves 5 μ = 53.2 + 4.4775 (the mean of all six is 13.87)
    assert fused[0] == pytest.approx((53.2 + 3.0 * 0.05 * 29.85) / 5, abs=1e-6)
    assert np.mean([box[0] for box in cluster]) == pytest.approx(13.8667, abs=1e-4)
