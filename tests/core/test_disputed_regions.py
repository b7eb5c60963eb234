"""Disputed regions (issue 18): an area two workers gave different classes is decided per region,
from each worker's class confusion over the batch, and listed in the label for review."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest

from tally import Settings
from tally.aggregation.disputed_regions import NO_ANSWER, Confusion, components, decide_regions, expected_miou
from tally.colours import FAR
from tests.core.batch import LEGEND, content, mask_rows, run
from tests.helpers import annotation, data_object, seg_content

HEIGHT, WIDTH = 16, 20


def draw(*boxes: tuple[str, int, int, int, int]) -> list[str]:
    """16x20 drawing: each box is (char, top, bottom, left, right), painted in order."""
    grid = [["."] * WIDTH for _ in range(HEIGHT)]
    for ch, top, bottom, left, right in boxes:
        for y in range(top, bottom):
            for x in range(left, right):
                grid[y][x] = ch
    return ["".join(row) for row in grid]


ROAD = ("r", 0, 3, 0, 20)
CAR = draw(ROAD, ("c", 5, 15, 4, 16))  # a road band and a large car (10 x 12 = 120 px)
CAR_TOO = draw(ROAD, ("c", 5, 15, 5, 16))  # the same car, one column narrower
CAR_AS_PERSON = draw(ROAD, ("p", 5, 15, 4, 15))  # the car called a person (one column narrower)
NO_CAR = draw(ROAD)  # the car missed


def agreeing(n: int) -> list[dict[str, Any]]:
    """Objects the three workers agree on (up to a column), so the batch rates them alike."""
    return [
        data_object(
            f"calm-{i}",
            annotation("w1", seg_content(CAR, LEGEND)),
            annotation("w2", seg_content(CAR_TOO, LEGEND)),
            annotation("w3", seg_content(draw(ROAD, ("c", 5, 14, 4, 16)), LEGEND)),
        )
        for i in range(n)
    ]


def reliable(tmp_path: Path, objects: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Any]:
    """The ``regions`` vote (opt-in): the reliability vote with disputed regions decided per region."""
    response, _, storage = run(tmp_path, objects, settings=Settings(algorithm="regions"))
    return response, storage


CAR_AS_PERSON_SAME = draw(ROAD, ("p", 5, 15, 4, 16))  # the car called a person, the same outline


def test_two_workers_naming_two_classes_with_the_third_empty_is_a_listed_dispute(tmp_path: Path) -> None:
    objects = [
        *agreeing(3),
        data_object(
            "dispute",
            annotation("w1", seg_content(CAR, LEGEND)),
            annotation("w2", seg_content(CAR_AS_PERSON_SAME, LEGEND)),
            annotation("w3", seg_content(NO_CAR, LEGEND)),
        ),
    ]
    response, storage = reliable(tmp_path, objects)
    label, _ = content(response[-1])
    # w1 and w2 draw alike and the third saw nothing: on the batch and this object, car 0.433,
    # person 0.433, nothing 0.134 (w2 missed a column more often on the calm objects, which says
    # nothing about which class is right). Neither class is elsewhere in the object, so background
    # would lose the class there for sure while a class keeps it as often as the posterior says:
    # expected mean IoU car and person 0.718, background 0.578; even between the classes, the pixel
    # vote's tie rule (the lowest key) stands. The region's confidence is the posterior of what was decided.
    assert label["disputed-regions"] == [
        {
            "classes": ["car", "person"],
            "pixels": 120,
            "decided": "car",
            "confidence": 0.433,
            "workers": {"car": ["w1"], "person": ["w2"], "none": ["w3"]},
        }
    ]
    assert mask_rows(storage, label) == [row.replace("p", "c") for row in CAR_AS_PERSON_SAME]
    # expected IoUs: background 0.897, road 1.0, car 0.433, person 0.0 (never decided, 0.433 of the region)
    assert [c["confidence"] for c in label["internal-color-map"].values()] == [0.8969, 1.0, 0.433, 0.0, 1.0]
    assert label["confidence"] == 0.5825
    calm, _ = content(response[0])
    assert "disputed-regions" not in calm


def test_a_worker_with_no_answer_over_a_disputed_region_is_listed_as_such(tmp_path: Path) -> None:
    """w3 drew the road only, far above the car: no answer there (no evidence either way), listed
    under ``no answer`` (once left out of ``workers``), apart from ``none`` (painted nothing there)."""
    tall = 40

    def picture(car: tuple[str, int, int, int, int] | None) -> list[str]:  # 40 rows: the car 20 lower
        rows = [["."] * WIDTH for _ in range(tall)]
        for ch, top, bottom, left, right in [ROAD, *([car] if car else [])]:
            for y in range(top, bottom):
                rows[y][left:right] = [ch] * (right - left)
        return ["".join(row) for row in rows]

    calm = [
        data_object(
            f"calm-{i}",
            annotation("w1", seg_content(picture(("c", 25, 35, 4, 16)), LEGEND)),
            annotation("w2", seg_content(picture(("c", 25, 35, 5, 16)), LEGEND)),
            annotation("w3", seg_content(picture(("c", 25, 34, 4, 16)), LEGEND)),
        )
        for i in range(3)
    ]
    dispute = data_object(
        "dispute",
        annotation("w1", seg_content(picture(("c", 25, 35, 4, 16)), LEGEND)),
        annotation("w2", seg_content(picture(("p", 25, 35, 4, 16)), LEGEND)),
        annotation("w3", seg_content(picture(None), LEGEND)),
    )
    response, storage = reliable(tmp_path, [*calm, dispute])
    label, _ = content(response[-1])
    assert label["disputed-regions"] == [
        {
            "classes": ["car", "person"],
            "pixels": 120,
            "decided": "car",
            "confidence": 0.4688,
            "workers": {"car": ["w1"], "person": ["w2"], "no answer": ["w3"]},
        }
    ]
    assert mask_rows(storage, label) == picture(("c", 25, 35, 4, 16))


def test_two_workers_alone_naming_two_classes_are_a_listed_dispute(tmp_path: Path) -> None:
    objects = [
        *agreeing(3),
        data_object(
            "pair",
            annotation("w1", seg_content(CAR, LEGEND)),
            annotation("w2", seg_content(CAR_AS_PERSON_SAME, LEGEND)),
        ),
    ]
    response, storage = reliable(tmp_path, objects)
    label, _ = content(response[-1])
    assert label["disputed-regions"] == [
        {
            "classes": ["car", "person"],
            "pixels": 120,
            "decided": "car",
            "confidence": 0.4999,  # person 0.4999, nothing 0.0001: even, the tie rule (lowest key) stands
            "workers": {"car": ["w1"], "person": ["w2"]},
        }
    ]
    assert mask_rows(storage, label) == [row.replace("p", "c") for row in CAR_AS_PERSON_SAME]


def test_a_clear_majority_is_not_a_dispute(tmp_path: Path) -> None:
    objects = [
        *agreeing(3),
        data_object(
            "clear",
            annotation("w1", seg_content(CAR, LEGEND)),
            annotation("w2", seg_content(CAR_AS_PERSON, LEGEND)),
            annotation("w3", seg_content(CAR_TOO, LEGEND)),
        ),
    ]
    response, storage = reliable(tmp_path, objects)
    label, _ = content(response[-1])
    assert "disputed-regions" not in label
    assert mask_rows(storage, label) == CAR_TOO  # two of three say car; its outline is the pair's


def test_the_plain_vote_lists_no_disputes(tmp_path: Path) -> None:
    objects = [
        data_object(
            "dispute",
            annotation("w1", seg_content(CAR, LEGEND)),
            annotation("w2", seg_content(CAR_AS_PERSON_SAME, LEGEND)),
            annotation("w3", seg_content(NO_CAR, LEGEND)),
        )
    ]
    response, _, storage = run(tmp_path, objects, settings=Settings(algorithm="majority"))
    label, _ = content(response[0])
    assert "disputed-regions" not in label
    assert mask_rows(storage, label) == NO_CAR  # a three-way tie is background


# --------------------------------------------------------------------------------------------------
# the algorithm alone


def test_components_are_four_connected_and_numbered_by_first_pixel() -> None:
    # 4 wide: row 0 "xx.x", row 1 "...x", row 2 "x..." : {0, 1}, {3, 7}, {8}
    labels, n = components(np.array([0, 1, 3, 7, 8]), 4)
    assert labels.tolist() == [0, 0, 1, 1, 2] and n == 3
    # diagonal neighbours are not connected; a U shape is one component
    labels, n = components(np.array([0, 5]), 4)
    assert labels.tolist() == [0, 1] and n == 2
    labels, n = components(np.array([0, 2, 3, 5, 6, 7, 8]), 3)  # 3 wide: "x.x", "x.x", "xxx"
    assert labels.tolist() == [0] * 7 and n == 1


def test_expected_miou_prefers_background_when_nothing_is_likely_and_a_class_when_two_are_even() -> None:
    rest = np.array([900.0, 50.0, 50.0])  # background, and classes 1 and 2 elsewhere in the object
    even = np.array([0.0, 0.5, 0.5])
    assert expected_miou(rest, 100, even, 1) > expected_miou(rest, 100, even, 0)
    likely_nothing = np.array([0.6, 0.2, 0.2])
    assert expected_miou(rest, 100, likely_nothing, 0) > expected_miou(rest, 100, likely_nothing, 1)
    # exact: truth 1, chosen 1 -> every class perfect
    assert expected_miou(rest, 100, np.array([0.0, 1.0, 0.0]), 1) == 1.0
    # truth 1, background chosen: background 900/1000, class 1 50/150, class 2 perfect
    assert expected_miou(rest, 100, np.array([0.0, 1.0, 0.0]), 0) == (0.9 + 50 / 150 + 1.0) / 3


def _square_votes(answers: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 12x12 image whose 10x10 middle every worker answered with ``answers`` (one tuple), the rest
    background (another tuple)."""
    inverse = np.zeros((12, 12), dtype=np.uint8)
    inverse[1:11, 1:11] = 1
    votes = np.array([[0] * len(answers), answers], dtype=np.uint8)
    return inverse, votes, np.flatnonzero(inverse.reshape(-1) == 1)


def test_workers_known_to_paint_what_is_not_there_against_one_who_misses_little_give_background() -> None:
    inverse, votes, pixels = _square_votes([1, 2, 0])
    image = np.where(inverse == 1, 1, 0).astype(np.uint8)  # the pixel vote took class 1
    painters = Confusion(error=0.05, miss=0.05, false_alarm=0.2)
    careful = Confusion(error=0.05, miss=0.05, false_alarm=0.05)
    regions = decide_regions(image, inverse, votes, pixels, np.ones(3), [painters, painters, careful], 3)
    assert len(regions) == 1
    region = regions[0]
    assert region.classes == (1, 2) and region.answers.tolist() == [1, 2, 0] and len(region.pixels) == 100
    # nothing: 0.1 * 0.1 * 0.95 (2 classes in play); class 1: its painter paints (0.95) the right class
    # (0.95), the other paints (0.95) another class (0.05), the careful one misses it (0.05); class 2 alike
    nothing, one = 0.1 * 0.1 * 0.95, 0.95 * 0.95 * 0.95 * 0.05 * 0.05
    p0, p1 = nothing / (nothing + 2 * one), one / (nothing + 2 * one)
    assert region.posterior.tolist() == pytest.approx([p0, p1, p1])
    # background: p0 all right, else (44/144 background + 0 for the class) / 2
    assert region.expected[0] == pytest.approx(p0 + 2 * p1 * (44 / 144) / 2)
    assert region.decided == 0 and region.confidence == pytest.approx(p0)
    assert image[1:11, 1:11].max() == 0


def test_a_worker_who_confuses_classes_loses_a_dispute_to_one_who_does_not() -> None:
    inverse, votes, pixels = _square_votes([1, 2, 0])
    image = np.where(inverse == 1, 2, 0).astype(np.uint8)  # the pixel vote took class 2
    careful = Confusion(error=0.01, miss=0.05, false_alarm=0.05)
    confused = Confusion(error=0.3, miss=0.05, false_alarm=0.05)
    regions = decide_regions(image, inverse, votes, pixels, np.ones(3), [careful, confused, careful], 3)
    # certain enough (posterior >= 0.9) to decide without listing the region as disputed
    assert regions == []
    assert image[1:11, 1:11].min() == 1


def test_how_often_a_worker_misses_says_nothing_about_which_class_they_name() -> None:
    # two workers, as likely to name a wrong class, one of whom misses far more: painted, each of
    # their classes is as likely (the cause of careful2's coin flips, issue 18: the miss rate
    # used to weigh a named class, as if missing less made a worker's class more often right)
    inverse, votes, pixels = _square_votes([1, 2])
    image = np.where(inverse == 1, 2, 0).astype(np.uint8)  # the pixel vote took class 2
    rarely_misses = Confusion(error=0.05, miss=0.01, false_alarm=0.05)
    often_misses = Confusion(error=0.05, miss=0.3, false_alarm=0.05)
    regions = decide_regions(image, inverse, votes, pixels, np.ones(2), [rarely_misses, often_misses], 3)
    assert len(regions) == 1
    region = regions[0]
    assert region.posterior[1] == pytest.approx(region.posterior[2])
    assert region.expected[1] == region.expected[2]  # even in expectation: the pixel vote's choice stands
    assert region.decided == 2 and image[1:11, 1:11].min() == 2


def test_a_worker_far_from_anything_they_drew_gives_no_answer_over_the_region() -> None:
    # the third worker's background there is far from anything they drew (they skipped the object):
    # no evidence for background, as in the pixel vote; the region is the two painters' classes
    inverse, votes, pixels = _square_votes([1, 2, FAR])
    image = np.where(inverse == 1, 1, 0).astype(np.uint8)
    careful = Confusion(error=0.05, miss=0.05, false_alarm=0.05)
    confused = Confusion(error=0.3, miss=0.05, false_alarm=0.05)
    regions = decide_regions(image, inverse, votes, pixels, np.ones(3), [confused, careful, careful], 3)
    assert len(regions) == 1
    region = regions[0]
    assert region.answers.tolist() == [1, 2, NO_ANSWER]
    # nothing: both painted what is not there (0.05 / 2 each); class 1: 0.95 * 0.7 and 0.95 * 0.05;
    # class 2: 0.95 * 0.3 and 0.95 * 0.95
    nothing, one, two = 0.025 * 0.025, 0.95 * 0.7 * 0.95 * 0.05, 0.95 * 0.3 * 0.95 * 0.95
    total = nothing + one + two
    assert region.posterior.tolist() == pytest.approx([nothing / total, one / total, two / total])
    assert region.decided == 2 and image[1:11, 1:11].min() == 2


def test_slivers_and_small_regions_are_left_to_the_pixel_vote() -> None:
    inverse = np.zeros((12, 40), dtype=np.uint8)
    inverse[2:8, 1:39] = 1  # 6 rows: no pixel has 3 region pixels on each side down its column
    votes = np.array([[0, 0, 0], [1, 2, 0]], dtype=np.uint8)
    image = np.where(inverse == 1, 1, 0).astype(np.uint8)
    pixels = np.flatnonzero(inverse.reshape(-1) == 1)
    even = [Confusion()] * 3
    assert decide_regions(image, inverse, votes, pixels, np.ones(3), even, 3) == []
    assert (image[2:8, 1:39] == 1).all()


def test_the_module_examples_run() -> None:
    import doctest

    from tally.aggregation import disputed_regions

    result = doctest.testmod(disputed_regions)
    assert result.failed == 0 and result.attempted >= 4


def _reference_components(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """4-connected components by flood fill, numbered by first pixel (the slow, obvious way)."""
    label = -np.ones(width * height, dtype=np.intp)
    member = np.zeros(width * height, dtype=bool)
    member[pixels] = True
    n = 0
    for start in pixels:
        if label[start] >= 0:
            continue
        stack = [int(start)]
        label[start] = n
        while stack:
            p = stack.pop()
            y, x = divmod(p, width)
            for q, ok in ((p - 1, x > 0), (p + 1, x < width - 1), (p - width, y > 0), (p + width, y < height - 1)):
                if ok and member[q] and label[q] < 0:
                    label[q] = n
                    stack.append(q)
        n += 1
    found: np.ndarray = label[pixels]
    return found


def test_the_depth_test_and_the_components_match_the_obvious_way_on_random_sets() -> None:
    from tally.aggregation.disputed_regions import _deep, _members

    rng = np.random.default_rng(18)
    for _ in range(60):
        height, width = (int(v) for v in rng.integers(5, 40, 2))
        image = rng.random((height, width)) < 0.15
        for _ in range(int(rng.integers(1, 5))):
            y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
            image[max(0, y - 8) : y + int(rng.integers(1, 12)), max(0, x - 8) : x + int(rng.integers(1, 12))] = True
        pixels = np.flatnonzero(image)
        labels, n = components(pixels, width, _members(pixels, width * height))
        assert labels.tolist() == _reference_components(pixels, width, height).tolist()
        assert components(pixels, width)[0].tolist() == labels.tolist() and n == len(set(labels.tolist()))
        padded = np.pad(image, 3)
        deep = [
            bool(padded[y : y + 7, x + 3].all() and padded[y + 3, x : x + 7].all())
            for y, x in zip(*np.divmod(pixels, width), strict=True)
        ]
        assert _deep(pixels, width, height, 3).tolist() == deep


def test_every_choice_s_expected_miou_at_once_is_each_one_s() -> None:
    from tally.aggregation.disputed_regions import expected_mious

    rest = np.array([900.0, 50.0, 0.0, 20.0])
    posterior = np.array([0.1, 0.4, 0.5, 0.0])
    together = expected_mious(rest, 100.0, posterior, [0, 1, 2, 3])
    for choice in range(4):
        truths = [t for t in range(4) if posterior[t] > 0]
        alone = 0.0
        for t in truths:
            chosen, true, tp = rest.copy(), rest.copy(), rest.copy()
            chosen[choice] += 100
            true[t] += 100
            tp[t] += 100 if t == choice else 0
            present = (chosen > 0) | (true > 0)
            alone += posterior[t] * float(np.mean(tp[present] / (chosen + true - tp)[present]))
        assert together[choice] == pytest.approx(alone, abs=1e-12)


def test_an_object_whose_contested_tuples_are_all_decided_by_their_own_answers_skips_the_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """w3 calls the car a person where w1 and w2 say car: contested, but two of three trusted
    workers decide it, so no region can change a pixel or be listed: the region search is skipped
    (the cost of ``regions`` on objects without a dispute), with the same output as the search."""
    objects = [
        *agreeing(3),
        data_object(
            "outvoted",
            annotation("w1", seg_content(CAR, LEGEND)),
            annotation("w2", seg_content(CAR_TOO, LEGEND)),
            annotation("w3", seg_content(CAR_AS_PERSON_SAME, LEGEND)),
        ),
    ]
    searched: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        searched.append(1)
        return decide_regions(*args, **kwargs)

    monkeypatch.setattr("tally.aggregation.pixel_vote.decide_regions", spy)
    fast, fast_storage = reliable(tmp_path / "fast", objects)
    assert searched == []
    label, _ = content(fast[-1])
    assert "disputed-regions" not in label
    assert mask_rows(fast_storage, label) == CAR_TOO  # (column 4: car, nothing, person: background)
    # the search, every contested tuple taken as disputed: the same response and masks
    monkeypatch.setattr("tally.aggregation.pixel_vote.clear_tuples", lambda votes, *_: np.zeros(len(votes), dtype=bool))
    full, full_storage = reliable(tmp_path / "full", objects)
    assert len(searched) == 1
    assert [content(r)[0] for r in full] == [content(r)[0] for r in fast]
    assert [mask_rows(full_storage, content(r)[0]) for r in full] == [
        mask_rows(fast_storage, content(r)[0]) for r in fast
    ]


def test_a_tuple_whose_own_answers_decide_it_forms_no_region() -> None:
    from tally.aggregation.disputed_regions import _posterior, clear_tuples, posteriors

    careful = Confusion(error=0.05, miss=0.05, false_alarm=0.05)
    votes = np.array([[1, 1, 2], [1, 2, 0], [1, 2, FAR], [1, 1, 2]], dtype=np.uint8)
    labels = np.array([1, 1, 1, 2], dtype=np.uint8)  # the last: the pixel vote gave the class two did not name
    # (1, 1, 2), two classes in play: class 1 0.95^5 * 0.05, class 2 0.95^4 * 0.05^2, nothing 0.025^3
    one, two, nothing = 0.95**5 * 0.05, 0.95**4 * 0.05**2, 0.025**3
    assert clear_tuples(votes, labels, np.ones(3), [careful] * 3, 3, 2).tolist() == [True, False, False, False]
    answers = np.array([[1, 1, 2], [1, 2, 0], [1, 2, NO_ANSWER], [2, 0, 0]])
    rows = posteriors(answers, np.ones(3), [careful] * 3, 3, 2)
    assert rows[0].tolist() == pytest.approx([x / (nothing + one + two) for x in (nothing, one, two)])
    for row, answer in zip(rows, answers, strict=True):  # row by row, the region's posterior
        assert row.tolist() == pytest.approx(_posterior(answer, np.ones(3), [careful] * 3, 3, 2).tolist())
    assert rows[3][1] == 0.0  # a class no one named is no hypothesis


@pytest.mark.parametrize(("algorithm", "measured_inside"), [("regions", True), ("reliability", False)])
def test_only_the_regions_vote_measures_wrong_classes_away_from_outlines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, algorithm: Literal["regions", "reliability"], measured_inside: bool
) -> None:
    """The ``regions`` vote's batch model gets each tuple's pixels away from outlines (its class
    confusion is measured there); the default's gets none (its fit, unchanged, never reads it)."""
    from tally.aggregation.weighted_pixel_vote import LeaveOneOutWeights

    seen: list[Any] = []
    real = LeaveOneOutWeights.fit

    def spy(self: Any, observations: Any, *args: Any, **kwargs: Any) -> Any:
        seen.extend(observations)
        return real(self, observations, *args, **kwargs)

    monkeypatch.setattr(LeaveOneOutWeights, "fit", spy)
    run(tmp_path, agreeing(2), settings=Settings(algorithm=algorithm))
    assert len(seen) == 2
    for votes in seen:
        if measured_inside:
            # 16 x 20 px: the 8 x 8 squares of rows 0-15, columns 0-15, none clear of an outline
            assert votes.interior is not None and votes.interior.tolist() == [0.0] * len(votes.counts)
        else:
            assert votes.interior is None


def test_the_regions_found_over_the_rows_are_those_found_pixel_by_pixel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The depth test and the components in whole-array passes over the set's span
    (``_runs_in_rows``, for sets that fill their span) give the regions of ``_deep`` and
    ``components``: the same sizes, the same numbering, the same pixels, on random sets; and so
    does the choice between them, either way."""
    from tally.aggregation import disputed_regions
    from tally.aggregation.disputed_regions import MIN_PIXELS, _deep, _large_thick_regions, _members, _runs_in_rows

    rng = np.random.default_rng(5)
    compared = 0
    for _ in range(200):
        height, width = (int(v) for v in rng.integers(5, 60, 2))
        image = rng.random((height, width)) < rng.uniform(0.05, 0.5)
        for _ in range(int(rng.integers(1, 6))):
            y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
            image[max(0, y - 10) : y + int(rng.integers(1, 16)), max(0, x - 10) : x + int(rng.integers(1, 16))] = True
        pixels = np.flatnonzero(image)
        member = _members(pixels, width * height)
        labels, n = components(pixels, width, member)
        sizes = np.bincount(labels, minlength=n)
        deep = _deep(pixels, width, height, 3, member)
        keep = np.flatnonzero((sizes >= MIN_PIXELS) & (np.bincount(labels[deep], minlength=n) > 0))
        rows, cols = np.nonzero(image)
        by_rows = _runs_in_rows(image, int(rows.min()), int(rows.max()), int(cols.min()), int(cols.max()))
        either = [_large_thick_regions(None, width, height, member)]
        with monkeypatch.context() as scattered:  # every set taken as scattered: pixel by pixel
            scattered.setattr(disputed_regions, "_BY_ROWS", 0)
            either += [
                _large_thick_regions(None, width, height, member),
                _large_thick_regions(pixels, width, height, member),
            ]
        for found in (by_rows, *either):
            if not len(keep):
                assert found is None
                continue
            assert found is not None
            found_sizes, found_keep, region_pixels = found
            assert found_sizes.tolist() == sizes.tolist() and found_keep.tolist() == keep.tolist()
            for r in keep:
                assert region_pixels(int(r)).tolist() == pixels[labels == r].tolist()
            compared += 1
    assert compared > 400


def test_a_region_s_posterior_is_its_row_s_bit_for_bit() -> None:
    """``_posterior`` (one region's answers, one at a time) gives, bit for bit, what the row-by-row
    log-likelihoods (``_log_likelihoods``) give normalised over the hypotheses: decisions compare
    expected IoUs rounded to 1e-9, so a last-bit difference could flip one."""
    from tally.aggregation.disputed_regions import _log_likelihoods, _posterior

    rng = np.random.default_rng(18)
    for _ in range(2000):
        workers, classes = int(rng.integers(1, 10)), int(rng.integers(2, 12))
        answers = rng.integers(NO_ANSWER, classes, workers)
        share = rng.random(workers) if rng.random() < 0.5 else np.ones(workers)
        confusion = [Confusion(*(float(x) for x in rng.random(3) * 0.5)) for _ in range(workers)]
        in_play = int(rng.integers(1, classes + 1))
        log = _log_likelihoods(answers[None, :], share, confusion, classes, in_play)[0]
        hypotheses = np.flatnonzero(np.isfinite(log))
        weights = np.exp(log[hypotheses] - log[hypotheses].max())
        row = np.zeros(classes)
        row[hypotheses] = weights / weights.sum()
        assert _posterior(answers, share, confusion, classes, in_play).tobytes() == row.tobytes()


def test_a_region_s_pixels_per_class_are_counted_either_way() -> None:
    from tally.aggregation.disputed_regions import _class_counts

    values = np.array([0, 3, 3, 1, 9, 3, 0], dtype=np.uint8)  # 9: not a class of a 4-class job, not counted
    assert _class_counts(values, 4).tolist() == [2.0, 1.0, 0.0, 3.0]
    assert _class_counts(values, 12).tolist() == [2.0, 1.0, 0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]


@pytest.mark.parametrize(("columns", "n_classes"), [(3, 4), (19, 10)])  # one number a row; rows compared whole
def test_rows_with_the_same_answers_share_one_group(columns: int, n_classes: int) -> None:
    from tally.aggregation.pixel_vote import _same_answers

    rng = np.random.default_rng(columns)
    answers = rng.integers(0, n_classes + 1, (300, columns)).astype(np.intp)
    answers[100:200] = answers[rng.integers(0, 100, 100)]  # repeated rows
    answers[:, 0] = np.where(rng.random(300) < 0.5, n_classes, answers[:, 0])  # the top value in the first column
    same = _same_answers(answers, n_classes)
    first: dict[tuple[int, ...], int] = {}
    for row, group in zip(map(tuple, answers.tolist()), same.tolist(), strict=True):
        assert first.setdefault(row, group) == group  # equal rows: one group
    assert len(set(first.values())) == len(first)  # different rows: different groups


@pytest.mark.parametrize("crowd_key", ["careful3", "sloppy3", "hasty3", "swaplazy5", "spammer5"])
def test_the_search_skipped_on_clear_objects_gives_what_the_search_gives(
    crowd_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Simulated crowds (a sloppy or hasty worker's wrong classes, a label swapper, a spammer): the
    regions vote with its shortcut (no search where every contested tuple's own answers decide it) and
    with the search forced on every contested tuple give the same labels and masks. (With two workers
    the shortcut never applies: their posteriors are even.)"""
    from tally.labels import LabelSet
    from tally.storage import MemoryStorage
    from tally.tasks import JobContext, SemanticSegmentation
    from tests.sim.segmentation import CROWDS, crowd_batch

    batch = crowd_batch(next(c for c in CROWDS if c.key == crowd_key), 4, 7, scale=0.4)

    def regions_vote() -> tuple[list[Any], dict[str, bytes]]:
        settings = Settings(algorithm="regions")
        task, storage = SemanticSegmentation(settings), MemoryStorage()
        job = JobContext(LabelSet(tuple(batch.labels), "event"), {}, storage, "s3://t/out", settings)
        task.prepare(job)
        seen = []
        for obj in batch.objects:
            dataset_object, answers = obj.answers()
            seen.append((dataset_object, task.observe(dataset_object, answers, job)))
        model = task.fit([(o.dataset_object_id, s.summary) for o, s in seen if s.summary is not None], job)
        labels = [task.consolidate(o, s, model, job).label for o, s in seen]
        return labels, dict(storage.objects)

    searched: list[int] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        searched.append(1)
        return decide_regions(*args, **kwargs)

    monkeypatch.setattr("tally.aggregation.pixel_vote.decide_regions", spy)
    with_shortcut = regions_vote()
    skipped = len(searched)
    monkeypatch.setattr("tally.aggregation.pixel_vote.clear_tuples", lambda votes, *_: np.zeros(len(votes), dtype=bool))
    assert regions_vote() == with_shortcut
    assert len(searched) - skipped > skipped  # the shortcut skipped objects the forced search then searched
