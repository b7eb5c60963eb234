"""Polylines and lines (tally.aggregation.lines): distance, matching, the keep rule, fusion, weights."""

from __future__ import annotations

import numpy as np
import pytest

from tally.aggregation.lines import (
    STATISTICS,
    FusedLines,
    LineConsolidation,
    LineObject,
    WorkerLines,
    line_distance,
    resample,
)
from tally.aggregation.matching import match_items
from tests.sim.lines import LINE_CROWDS, line_batch

Drawn = list[tuple[str, list[list[float]]]]


def scene(*answers: tuple[int, Drawn], size: float = 1000.0) -> LineObject:
    """One object: per answer its worker and its ``(label, vertices)`` lines (a 1000x1000 image)."""
    return LineObject(
        tuple(WorkerLines(w, tuple(label for label, _ in drawn), tuple(v for _, v in drawn)) for w, drawn in answers),
        size,
        size,
    )


def rounded(lines: list[np.ndarray]) -> list[list[list[float]]]:
    return [np.round(line, 6).tolist() for line in lines]


def test_the_distance_depends_neither_on_direction_nor_on_vertex_count() -> None:
    line = [[0, 0], [100, 0]]
    assert line_distance(line, [[100, 0], [0, 0]]) == pytest.approx(0.0, abs=1e-9)
    assert line_distance(line, [[0, 0], [25, 0], [50, 0], [75, 0], [100, 0]]) == pytest.approx(0.0, abs=1e-9)
    assert line_distance(line, [[100, 3], [40, 3], [0, 3]]) == pytest.approx(3.0)


def test_resample_follows_the_length_and_spreads_a_point_line_over_its_vertices() -> None:
    assert resample([[0, 0], [0, 10], [30, 10]], [0.25, 0.5]).tolist() == [[0.0, 10.0], [10.0, 10.0]]
    assert resample([[5, 5], [5, 5], [5, 5]], [0.0, 1.0]).tolist() == [[5.0, 5.0], [5.0, 5.0]]


# ---------------------------------------------------------------------- keep and fuse, by hand
def test_a_reversed_line_with_other_vertices_fuses_with_the_others() -> None:
    objects = [
        scene(
            (0, [("lane", [[0, 100], [100, 100], [200, 100]])]),
            (1, [("lane", [[200, 104], [0, 104]])]),  # from the other end, two vertices
            (2, [("lane", [[0, 102], [50, 102], [150, 102], [200, 102]])]),
        )
    ]
    [fused] = LineConsolidation().fit_predict(objects)
    assert fused.labels == ["lane"]
    assert rounded(fused.lines) == [[[0.0, 102.0], [200.0, 102.0]]]  # straight: simplified to its ends
    assert fused.workers == [(0, 1, 2)]
    assert fused.members == [((0, 0), (1, 0), (2, 0))]


def test_the_fused_line_runs_the_way_most_workers_drew_it() -> None:
    drawn = [[0.0, 0.0], [300.0, 0.0]]
    objects = [
        scene((0, [("wire", drawn[::-1])]), (1, [("wire", drawn[::-1])]), (2, [("wire", drawn)])),
        scene((0, [("wire", drawn)]), (1, [("wire", drawn)]), (2, [("wire", drawn[::-1])])),
    ]
    fused = LineConsolidation().fit_predict(objects)
    assert rounded(fused[0].lines) == [[[300.0, 0.0], [0.0, 0.0]]]
    assert rounded(fused[1].lines) == [[[0.0, 0.0], [300.0, 0.0]]]


def test_a_line_one_of_three_missed_stays_and_one_only_one_drew_goes() -> None:
    objects = [
        scene(
            (0, [("lane", [[0, 0], [200, 0]]), ("edge", [[0, 500], [200, 500]])]),
            (1, [("lane", [[0, 4], [200, 4]]), ("edge", [[0, 506], [200, 506]])]),
            (2, [("lane", [[0, 2], [200, 2]]), ("lane", [[600, 600], [900, 900]])]),  # missed the edge, added a lane
        )
    ]
    [fused] = LineConsolidation().predict(objects)  # equal weights
    assert fused.labels == ["edge", "lane"]
    assert rounded(fused.lines) == [[[0.0, 503.0], [200.0, 503.0]], [[0.0, 2.0], [200.0, 2.0]]]
    assert fused.workers == [(0, 1), (0, 1, 2)]
    assert fused.support.tolist() == pytest.approx([2 / 3, 1.0])
    assert fused.confidence.tolist() == pytest.approx((fused.support * fused.agreement).tolist())


def test_two_labels_never_match_and_a_label_dispute_keeps_the_heavier_label() -> None:
    line = [[0.0, 300.0], [400.0, 300.0]]
    objects = [scene((0, [("lane", line)]), (1, [("lane", line)]), (2, [("road-edge", line)]))]
    [fused] = LineConsolidation().fit_predict(objects)
    assert fused.labels == ["lane"]
    assert fused.workers == [(0, 1)]


def test_one_answer_comes_back_exactly_as_drawn() -> None:
    drawn = [[0.0, 0.0], [10.0, 0.3], [20.0, 0.0], [30.0, 0.1]]  # within the simplification tolerance
    [fused] = LineConsolidation().fit_predict([scene((7, [("wire", drawn)]))])
    assert rounded(fused.lines) == [drawn]
    assert fused.confidence.tolist() == [0.0]  # a lone line has no pair to agree with (as boxes)
    assert fused.support.tolist() == [1.0]


def test_objects_without_lines_and_an_empty_batch_give_empty_results() -> None:
    assert LineConsolidation().fit_predict([]) == []
    results = LineConsolidation().fit_predict([scene(), scene((0, []), (1, []))])
    assert [(r.labels, r.lines, r.workers) for r in results] == [([], [], []), ([], [], [])]


def test_two_workers_keep_what_either_drew() -> None:
    objects = [scene((0, [("wire", [[0, 0], [500, 0]])]), (1, [("wire", [[0, 900], [500, 900]])]))]
    [fused] = LineConsolidation().fit_predict(objects)
    assert fused.labels == ["wire", "wire"]
    assert fused.workers == [(0,), (1,)]


def test_workers_second_lines_over_the_same_lane_are_dropped_as_duplicates() -> None:
    objects = [
        scene(
            (0, [("lane", [[0, 0], [500, 0]])]),
            (1, [("lane", [[0, 2], [500, 2]]), ("lane", [[0, 20], [500, 20]])]),  # drew it twice
            (2, [("lane", [[0, 4], [500, 4]]), ("lane", [[0, 18], [500, 18]])]),  # so did this one
        )
    ]
    [fused] = LineConsolidation().predict(objects)
    assert fused.labels == ["lane"]  # the second lines' cluster holds 2 of 3, but its workers are the first's
    assert fused.workers == [(0, 1, 2)]
    both: list[tuple[int, Drawn]] = [
        (w, [("lane", [[0.0, 2.0 * w], [500.0, 2.0 * w]]), ("lane", [[0.0, 20.0], [500.0, 20.0]])]) for w in range(3)
    ]
    everyone = [scene(*both)]
    assert LineConsolidation().predict(everyone)[0].labels == ["lane", "lane"]  # all drew both: two lanes


def test_crowd_line_fuses_two_end_points() -> None:
    objects = [
        scene(
            (0, [("crack", [[10, 10], [110, 60]])]),
            (1, [("crack", [[112, 62], [12, 12]])]),
            (2, [("crack", [[8, 11], [111, 58]])]),
        )
    ]
    [fused] = LineConsolidation(kind="line", average="median").fit_predict(objects)
    assert [line.shape for line in fused.lines] == [(2, 2)]
    assert rounded(fused.lines) == [[[10.0, 11.0], [111.0, 60.0]]]  # per point: the median start, median end


def test_a_sloppy_line_moves_the_fused_line_far_less_than_the_mean() -> None:
    careful = [(w, [("lane", [[0.0, 100.0 + w % 3], [400.0, 100.0 + w % 3]])]) for w in range(4)]
    sloppy = (4, [("lane", [[0.0, 130.0], [400.0, 130.0]])])  # 30 px off: still within the match
    batch = [scene(*careful, sloppy) for _ in range(5)]
    robust = LineConsolidation().fit_predict(batch)[0].lines[0][:, 1]
    mean = LineConsolidation(average="mean").fit_predict(batch)[0].lines[0][:, 1]
    assert mean.tolist() == pytest.approx([106.6, 106.6])  # (100 + 101 + 102 + 100 + 130) / 5
    assert np.abs(robust - 101.0).max() < 2.0


# ---------------------------------------------------------------------- order, reuse, fast path
def test_the_result_does_not_depend_on_the_order_of_the_answers() -> None:
    _, objects = line_batch(LINE_CROWDS["mixed-1to5"], 30, seed=3)
    shuffled = [LineObject(obj.answers[::-1], obj.width, obj.height) for obj in objects]
    forward = LineConsolidation().fit_predict(objects)
    backward = LineConsolidation().fit_predict(shuffled)
    for a, b in zip(forward, backward, strict=True):
        assert a.labels == b.labels
        assert sorted(map(sorted, a.workers)) == sorted(map(sorted, b.workers))
        assert sorted(np.round(x, 6).ravel().tolist() for x in a.lines) == sorted(
            np.round(x, 6).ravel().tolist() for x in b.lines
        )


def test_cliques_are_what_the_matching_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Objects whose close pairs form cliques skip the matching: the result is the same."""
    from tally.aggregation import lines as module

    _, objects = line_batch(LINE_CROWDS["dense-lanes-3"], 40, seed=4)
    fast = LineConsolidation().fit_predict(objects)
    monkeypatch.setattr(module, "_cliques", lambda *args: [None] * len(objects))
    slow = LineConsolidation().fit_predict(objects)
    for a, b in zip(fast, slow, strict=True):
        assert a.labels == b.labels and a.members == b.members
        assert [x.tolist() for x in a.lines] == [x.tolist() for x in b.lines]


def test_match_items_itself_agrees_with_the_cliques() -> None:
    _, objects = line_batch(LINE_CROWDS["careful-3"], 20, seed=9)
    model = LineConsolidation().fit(objects)
    batch = model._batch
    assert batch is not None
    checked = 0
    for o, obj in enumerate(objects):
        cliques = batch.cliques[o]
        if cliques is None:
            continue
        size = int(batch.first[o + 1] - batch.first[o])
        block = batch.similarity[batch.block[o] : batch.block[o] + size * size].reshape(size, size)
        clusters = match_items([a.labels for a in obj.answers], block, min_similarity=0.5)
        assert sorted((str(c.label), tuple(sorted(c.members))) for c in clusters) == [
            (str(c.label), c.members) for c in cliques
        ]
        checked += 1
    assert checked >= 15


def test_predict_reuses_the_fitted_batch_and_gives_what_a_fresh_batch_gives() -> None:
    _, objects = line_batch(LINE_CROWDS["one-sloppy-5"], 20, seed=2)
    model = LineConsolidation().fit(objects)
    same = model.predict(objects)
    fresh = model.predict(list(objects))
    assert [r.labels for r in same] == [r.labels for r in fresh]
    assert [[x.tolist() for x in r.lines] for r in same] == [[x.tolist() for x in r.lines] for r in fresh]


# ---------------------------------------------------------------------- worker statistics
def test_worker_statistics_count_drawn_confirmed_invented_and_lost_lines() -> None:
    objects = [
        scene(
            (0, [("lane", [[0, 0], [200, 0]]), ("edge", [[0, 500], [200, 500]])]),
            (1, [("lane", [[0, 4], [200, 4]]), ("edge", [[0, 506], [200, 506]])]),
            (2, [("lane", [[0, 2], [200, 2]]), ("lane", [[600, 600], [900, 900]])]),
        )
    ]
    stats = LineConsolidation().fit(objects).worker_statistics_
    assert len(STATISTICS) == stats.shape[1] == 8
    lines, confirmed, chances, hits, invented, lost = stats[:, :6].T.tolist()
    assert lines == [2.0, 2.0, 2.0]
    assert confirmed == [2.0, 2.0, 1.0]
    assert invented == [0.0, 0.0, 1.0]
    # a chance: a line more than half of the *other* workers drew (the lane for all, the edge for worker 2)
    assert chances == [1.0, 1.0, 2.0] and hits == [1.0, 1.0, 1.0]
    assert lost == [0.0, 0.0, 1.0]  # worker 2 drew nothing near the edge the others drew
    assert stats[:, 7].tolist() == [2.0, 2.0, 1.0]  # matched lines with a distance


def test_the_prior_keeps_a_lone_line_when_the_others_are_known_missers() -> None:
    lone = scene((0, []), (1, []), (2, [("wire", [[0, 0], [50, 10]])]), size=100)
    assert LineConsolidation().fit_predict([lone])[0].labels == []
    missers = [20, 20, 20, 10, 0, 10, 0, 0]
    model = LineConsolidation().fit([lone], prior=[missers, missers, [20, 20, 20, 20, 0, 0, 0, 0]])
    assert model.predict([lone])[0].labels == ["wire"]


def test_a_sloppy_worker_weighs_less_in_the_fusion() -> None:
    _, objects = line_batch(LINE_CROWDS["one-sloppy-5"], 40, seed=1)
    model = LineConsolidation().fit(objects)
    assert model.fusion_weights_[5] < 0.5 <= model.fusion_weights_[:5].min()


# ---------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (WorkerLines(3, ("lane",), ([[0, 0]],)), r"object 0: worker 3 drew a line of shape \(1, 2\)"),
        (WorkerLines(3, ("lane",), (np.array([[0, 0], [1, np.nan]]),)), "object 0: worker 3 drew a line with a NaN"),
        (WorkerLines(3, ("lane", "edge"), ([[0, 0], [1, 1]],)), "object 0: worker 3 has 2 labels for 1 lines"),
        (WorkerLines(-1, (), ()), "negative"),
    ],
)
def test_bad_lines_are_refused_naming_the_object_and_worker(answer: WorkerLines, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LineConsolidation().fit([LineObject((answer,), 100, 100)])


def test_a_bad_prior_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(n_workers, 8\)"):
        LineConsolidation().fit([scene((0, []))], prior=np.zeros((2, 6)))


# ---------------------------------------------------------------------- simulated crowds
def test_on_a_crowd_with_a_sloppy_worker_the_fused_lanes_are_closer_than_the_mean() -> None:
    scenes, objects = line_batch(LINE_CROWDS["one-sloppy-5"], 40, seed=6)

    def error(results: list[FusedLines]) -> float:
        total, n = 0.0, 0
        for result, truth in zip(results, scenes, strict=True):
            for label, line in zip(result.labels, result.lines, strict=True):
                best = min(line_distance(line, t.points, 32) for t in truth if t.label == label)
                total, n = total + best, n + 1
        return total / n

    robust = error(LineConsolidation().fit_predict(objects))
    mean = error(LineConsolidation(average="mean").fit_predict(objects))
    assert robust < 0.97 * mean
