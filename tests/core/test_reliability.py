"""The default, reliability-weighted vote on hand-drawn crowds with known answers."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tally.settings import Settings
from tests.core.batch import LEGEND, content, mask_rows, reliable, run
from tests.helpers import annotation, data_object, seg_content

EMPTY = ["." * 10] * 10


def draw(*boxes: tuple[str, int, int, int, int]) -> list[str]:
    """10x10 drawing: each box is (char, top, bottom, left, right), painted in order."""
    grid = [["."] * 10 for _ in range(10)]
    for ch, top, bottom, left, right in boxes:
        for y in range(top, bottom):
            for x in range(left, right):
                grid[y][x] = ch
    return ["".join(row) for row in grid]


TRUTH = draw(("r", 0, 4, 0, 10), ("c", 6, 9, 2, 7))  # a road band and a car
# independent workers never draw identical masks: this one has one road pixel less (identical
# masks count as copies, see test_copies_count_once)
TRUTH_TOO = draw(("r", 0, 4, 0, 10), ("c", 6, 9, 2, 7), (".", 0, 1, 9, 10))
SWAPPED = draw(("c", 0, 4, 0, 10), ("r", 6, 9, 2, 7))  # the same with road and car exchanged
GARBAGE = draw(("p", 2, 8, 2, 8))  # a person where there is none


def iou(a: list[str], b: list[str]) -> float:
    """Mean IoU over the non-background classes either drawing has (1.0 when neither has any)."""
    x, y = np.array([list(r) for r in a]), np.array([list(r) for r in b])
    classes = (set(x.ravel()) | set(y.ravel())) - {"."}
    return float(np.mean([((x == c) & (y == c)).sum() / ((x == c) | (y == c)).sum() for c in classes] or [1.0]))


def test_copies_count_once(tmp_path: Path) -> None:
    objects = [
        data_object(
            "0",
            annotation("w1", seg_content(TRUTH, LEGEND)),
            annotation("w2", seg_content(TRUTH_TOO, LEGEND)),
            annotation("w3", seg_content(GARBAGE, LEGEND)),
            annotation("w4", seg_content(GARBAGE, LEGEND)),
        )
    ]
    # the plain vote sees 2 against 2 and keeps background where they disagree
    response, _, storage = run(tmp_path / "plain", objects)
    plain = mask_rows(storage, content(response[0])[0])
    assert plain != TRUTH
    # the copied pair is one voice against the two independent workers
    response, storage = reliable(tmp_path / "rel", objects)
    # w1 and w2 tie at (0, 9) (the copies weigh next to nothing): settled from the road around it
    assert mask_rows(storage, content(response[0])[0]) == TRUTH


def test_a_label_swapper_is_outvoted_and_rated_low(tmp_path: Path) -> None:
    careless = draw(("r", 0, 4, 0, 10), ("c", 6, 9, 3, 7))  # w2 misses a column of the car
    objects = [
        data_object(
            str(i),
            annotation("w1", seg_content(TRUTH, LEGEND)),
            annotation("w2", seg_content(careless, LEGEND)),
            annotation("swapper", seg_content(SWAPPED, LEGEND)),
        )
        for i in range(3)
    ]
    response, storage = reliable(tmp_path, objects)
    for entry in response:
        # the swapper's painting counts for nothing; where w1 and w2, equally reliable, disagree
        # (the car's left column), the neighbourhood is mostly background
        assert mask_rows(storage, content(entry)[0]) == careless
    quality = {q["workerId"]: q for q in content(response[0])[1]["worker-quality"]}
    assert quality["swapper"]["batch-reliability"] < 0.3  # below chance among the 3 classes in play
    assert quality["swapper"]["weight"] == 0.0
    assert quality["w1"]["weight"] == quality["w2"]["weight"] == 1.0


def test_two_workers_disagreeing_follow_the_one_the_batch_trusts(tmp_path: Path) -> None:
    wrong = draw(("r", 0, 4, 0, 10), ("p", 6, 9, 2, 7))  # calls the car a person
    objects = [
        data_object(
            str(i),
            annotation("careful", seg_content(TRUTH, LEGEND)),
            annotation("wrong", seg_content(wrong, LEGEND)),
            annotation("w3", seg_content(TRUTH_TOO, LEGEND)),
        )
        for i in range(3)
    ]
    objects.append(
        data_object(
            "pair",
            annotation("careful", seg_content(TRUTH, LEGEND)),
            annotation("wrong", seg_content(wrong, LEGEND)),
        )
    )
    response, storage = reliable(tmp_path, objects)
    assert mask_rows(storage, content(response[-1])[0]) == TRUTH
    # the plain vote keeps every disagreement as background
    response, _, storage = run(tmp_path / "plain", objects)
    assert mask_rows(storage, content(response[-1])[0]) == draw(("r", 0, 4, 0, 10))


def test_a_single_answer_is_kept_and_rated_by_the_workers_record(tmp_path: Path) -> None:
    careless = draw(("r", 0, 4, 0, 10), ("c", 6, 9, 3, 7))
    objects = [
        data_object("0", annotation("w1", seg_content(TRUTH, LEGEND)), annotation("w2", seg_content(careless, LEGEND))),
        data_object("alone", annotation("w2", seg_content(careless, LEGEND))),
        data_object("stranger", annotation("w9", seg_content(TRUTH, LEGEND))),
    ]
    response, storage = reliable(tmp_path, objects)
    alone, _ = content(response[1])
    assert mask_rows(storage, alone) == careless
    # w2's record: on object 0, w2 and w1 agree on 52 of the 55 pixels either labelled (w2 misses
    # a column of 3 car pixels); with two workers that is each one's accuracy, and the crowd's mean
    assert alone["confidence"] == round(52 / 55, 4)
    stranger, _ = content(response[2])
    assert mask_rows(storage, stranger) == TRUTH
    assert stranger["confidence"] == 0.0  # nothing known about w9: Ground Truth's single-annotator rule


def test_confidence_map_is_full_where_everyone_agrees_and_lower_where_they_do_not(tmp_path: Path) -> None:
    other = draw(("r", 0, 4, 0, 10), ("c", 6, 9, 2, 8))  # one column more car
    objects = [
        data_object(
            "0",
            annotation("w1", seg_content(TRUTH, LEGEND)),
            annotation("w2", seg_content(TRUTH_TOO, LEGEND)),
            annotation("w3", seg_content(other, LEGEND)),
        )
    ]
    response, storage = reliable(tmp_path, objects)
    label, meta = content(response[0])
    image = Image.open(io.BytesIO(storage.read(label["confidence-map-ref"])))
    assert image.mode == "P"  # 8-bit, with the identity grey palette: index = grey value
    confidence = np.asarray(image)
    assert np.array_equal(np.asarray(image.convert("L")), confidence)
    disputed = np.zeros((10, 10), bool)
    disputed[6:9, 7] = True  # w3's extra car column
    disputed[0, 9] = True  # w2's missing road pixel
    assert confidence[~disputed].min() > confidence[disputed].max()
    assert confidence[~disputed].min() >= 250
    assert mask_rows(storage, label) == TRUTH
    assert meta["confidence"] == label["confidence"]
    assert [q["workerId"] for q in meta["worker-quality"]] == ["w1", "w2", "w3"]


def test_a_careful_worker_is_not_marked_down_for_sharing_objects_with_a_sloppy_one(tmp_path: Path) -> None:
    a = TRUTH_TOO  # misses the top-right road pixel
    c = draw(("r", 0, 4, 0, 10), ("c", 6, 9, 2, 7), (".", 0, 1, 0, 1))  # misses the top-left one
    sloppy = draw(("r", 0, 6, 0, 10), ("c", 5, 10, 1, 9))
    objects = [
        *[
            data_object(
                f"s{i}", *(annotation(w, seg_content(m, LEGEND)) for w, m in (("a", a), ("b", TRUTH), ("s", sloppy)))
            )
            for i in range(3)
        ],
        *[
            data_object(f"c{i}", *(annotation(w, seg_content(m, LEGEND)) for w, m in (("c", c), ("b", TRUTH))))
            for i in range(3)
        ],
    ]
    response, _ = reliable(tmp_path, objects)
    quality = {q["workerId"]: q["batch-reliability"] for q in content(response[0])[1]["worker-quality"]}
    quality["c"] = next(q for q in content(response[3])[1]["worker-quality"] if q["workerId"] == "c")[
        "batch-reliability"
    ]
    # a's mean agreement with the others is dragged down by the sloppy worker; c's is not
    assert (iou(a, TRUTH) + iou(a, sloppy)) / 2 < iou(c, TRUTH) - 0.1
    assert abs(quality["a"] - quality["c"]) < 0.01
    assert quality["s"] < quality["a"] - 0.2


def test_a_spammer_and_a_lazy_worker_cannot_tip_careful_workers(tmp_path: Path) -> None:
    careful = [TRUTH, TRUTH_TOO, draw(("r", 0, 4, 0, 10), ("c", 6, 9, 2, 7), ("c", 9, 10, 4, 5))]
    lazy = draw(("r", 0, 4, 0, 10))  # one box around the largest shape, nothing else
    objects = [
        data_object(
            str(i),
            *(annotation(f"w{k}", seg_content(m, LEGEND)) for k, m in enumerate(careful)),
            annotation("spammer", seg_content(draw(("p", i, i + 5, 1, 9), ("s", 5, 9, 0, 3 + i)), LEGEND)),
            annotation("lazy", seg_content(lazy, LEGEND)),
        )
        for i in range(3)
    ]
    response, storage = reliable(tmp_path, objects)
    for entry in response:
        assert mask_rows(storage, content(entry)[0]) == TRUTH
        weights = {q["workerId"]: q["weight"] for q in content(entry)[1]["worker-quality"]}
        assert min(weights["w0"], weights["w1"], weights["w2"]) >= 0.95  # careful workers nearly alike
        assert weights["spammer"] == 0.0
        assert weights["lazy"] < 0.65  # right about the road, blind to the car: well below the careful workers


def test_a_small_object_one_worker_drew_and_the_others_skipped_is_kept(tmp_path: Path) -> None:
    # 4 x 48 images: all three draw the road on the left; only w1 draws the small car far to the right
    road = ["rrrrrr" + "." * 42] * 4
    with_car = [row[:40] + ("cccc" if 1 <= y <= 2 else "....") + row[44:] for y, row in enumerate(road)]
    rough = ["rrrrr." + "." * 42] * 4  # w3 misses a column of the road
    objects = [
        data_object(
            "0",
            annotation("w1", seg_content(with_car, LEGEND)),
            annotation("w2", seg_content(road, LEGEND)),
            annotation("w3", seg_content(rough, LEGEND)),
        )
    ]
    # the plain vote: two workers' background outvotes the car
    response, _, storage = run(tmp_path / "plain", objects)
    assert mask_rows(storage, content(response[0])[0]) == road
    # w2 and w3 drew nothing within 16 px of the car: their background there abstains
    response, storage = reliable(tmp_path / "rel", objects)
    assert mask_rows(storage, content(response[0])[0]) == with_car


def test_a_thin_structure_two_of_three_workers_drew_survives(tmp_path: Path) -> None:
    """Three 1-px spikes off a car, each drawn by two of the three workers (so they weigh alike and
    every spike pixel is a 2-of-3 close call, which the 5x5 neighbourhood alone, mostly background,
    averaged away before issue 18)."""

    def car(*spikes: int) -> list[str]:
        return ["cccc" + ("c" * 14 if y in spikes else "." * 14) + ".." for y in range(11)]

    objects = [
        data_object(
            "0",
            annotation("w1", seg_content(car(2, 8), LEGEND)),
            annotation("w2", seg_content(car(2, 5), LEGEND)),
            annotation("w3", seg_content(car(5, 8), LEGEND)),
        )
    ]
    response, _, storage = run(tmp_path, objects, settings=Settings(algorithm="regions"))
    assert mask_rows(storage, content(response[0])[0]) == car(2, 5, 8)
    # the default reliability vote, as before the opt-in rule: the neighbourhood averages the spikes away
    response, storage = reliable(tmp_path / "default", objects)
    assert mask_rows(storage, content(response[0])[0]) == car()
