"""Leave-one-out log-odds weights and the tie rule, on tiny hand-made vote tables with known answers.

Each table lists an object's distinct per-pixel vote tuples (one column per worker) and how many
pixels have each tuple, as :func:`tally.aggregation.vote_table.tabulate` would produce them.
"""

from __future__ import annotations

import numpy as np
import pytest

from tally.aggregation.pixel_vote import interior_counts
from tally.aggregation.vote_table import ABSTAIN, IndexedMask, VoteTable, tabulate, vote_scores
from tally.aggregation.weighted_pixel_vote import (
    FAR,
    LeaveOneOutWeights,
    ObjectVotes,
    abstain_far_from_drawing,
    class_confusion,
    decide,
    leave_one_out,
    resolve_far,
    weigh,
)

# Ten pixels of class 1; each careful worker misses a different one of them; 90 background pixels.
CAREFUL = np.array([[1, 1, 1], [0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 0]], np.uint8)
CAREFUL_COUNTS = np.array([7, 1, 1, 1, 90])


def obj(votes: np.ndarray, counts: np.ndarray, workers: str) -> ObjectVotes:
    return ObjectVotes.build(tuple(workers), np.asarray(votes, np.uint8), np.asarray(counts))


def with_spammer() -> ObjectVotes:
    """The three careful workers and a spammer, d, who paints class 2 on ten pixels nobody else labels."""
    votes = np.array([[1, 1, 1, 0], [0, 1, 1, 0], [1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 0, 2], [0, 0, 0, 0]])
    return obj(votes, np.array([7, 1, 1, 1, 10, 80]), "abcd")


def test_leave_one_out_compares_each_worker_with_the_others_shares_on_labelled_pixels() -> None:
    agree, judged = leave_one_out(obj(CAREFUL, CAREFUL_COUNTS, "abc"))
    # a: 7 pixels all agree, 1 pixel both others disagree, 2 pixels one of the two agrees
    assert agree.tolist() == [8.0, 8.0, 8.0]
    assert judged.tolist() == [10.0, 10.0, 10.0]  # the 90 unanimous background pixels are not judged
    agree, judged = leave_one_out(with_spammer())
    assert agree.tolist() == pytest.approx([37 / 3, 37 / 3, 37 / 3, 1.0])
    assert judged.tolist() == [20.0, 20.0, 20.0, 20.0]


def test_the_hard_reference_judges_only_where_the_others_have_a_strict_plurality() -> None:
    agree, judged = leave_one_out(obj(CAREFUL, CAREFUL_COUNTS, "abc"), soft=False)
    # a: the 7 unanimous pixels and the pixel both others paint (a misses it); the others tie elsewhere
    assert agree.tolist() == [7.0, 7.0, 7.0]
    assert judged.tolist() == [8.0, 8.0, 8.0]


def test_three_equally_careful_workers_keep_equal_weights() -> None:
    careful = obj(CAREFUL, CAREFUL_COUNTS, "abc")
    model = LeaveOneOutWeights().fit([careful])
    # judged against the others' plurality after the first pass: 7 of the 8 pixels both others paint
    assert model.accuracy_ == pytest.approx({"a": 7 / 8, "b": 7 / 8, "c": 7 / 8})
    assert model.object_weights(careful).tolist() == [1.0, 1.0, 1.0]
    assert weigh(careful, 2, model).labels.tolist() == [1, 1, 1, 1, 0]  # the plain vote's answer


def test_a_spammer_weighs_nothing_and_the_careful_workers_stay_equal() -> None:
    crowd = with_spammer()
    model = LeaveOneOutWeights().fit([crowd])
    weights = model.object_weights(crowd)
    assert weights.tolist() == [1.0, 1.0, 1.0, 0.0]
    result = weigh(crowd, 3, model)
    assert result.labels.tolist() == [1, 1, 1, 1, 0, 0]  # the spammer's shape is gone
    assert result.weights.tolist() == [1.0, 1.0, 1.0, 0.0]


def test_copies_count_once_in_the_reference_and_share_one_vote() -> None:
    # a and b draw the truth (b misses one pixel); c and d submit the same wrong shape of class 2
    votes = np.array([[1, 1, 2, 2], [1, 0, 2, 2], [1, 1, 0, 0], [0, 0, 2, 2], [0, 0, 0, 0]])
    crowd = obj(votes, np.array([20, 1, 9, 20, 50]), "abcd")
    assert crowd.group.tolist() == [0, 1, 2, 2]
    assert crowd.share.tolist() == [1.0, 1.0, 0.5, 0.5]
    agree, judged = leave_one_out(crowd)
    # a is compared with b and with the copied pair as one voice, never with c and d as two
    assert agree[0] == pytest.approx(0.5 * 20 + 0.0 * 1 + 0.5 * 9 + 0.5 * 20)
    assert judged.tolist() == [50.0, 50.0, 50.0, 50.0]
    # c is compared with a and b only (not with its own copy), who never back its class
    assert agree[2] == agree[3] == 0.0
    result = weigh(crowd, 3, LeaveOneOutWeights().fit([crowd]))
    assert result.weights.tolist() == [1.0, 1.0, 0.0, 0.0]  # the pair is below chance: no say
    assert result.labels.tolist() == [1, 0, 1, 0, 0]
    assert result.open_ties.tolist() == [0, 0b11, 0, 0, 0]  # a against b: left to the spatial step


def test_weak_evidence_shrinks_a_worker_toward_the_crowd_mean() -> None:
    # c misses 3 of the 10 pixels: soft accuracies a = b = 8.5 / 10, c = 7 / 10; crowd mean 0.8
    votes = np.array([[1, 1, 1], [1, 1, 0], [0, 0, 0]])
    crowd = obj(votes, np.array([7, 3, 90]), "abc")
    alone = LeaveOneOutWeights(prior_objects=0.0, passes=1).fit([crowd])
    assert alone.accuracy_ == pytest.approx({"a": 0.85, "b": 0.85, "c": 0.7})
    shrunk = LeaveOneOutWeights(prior_objects=2.0, passes=1).fit([crowd])
    assert shrunk.mean_accuracy_ == pytest.approx(0.8)
    assert shrunk.accuracy_ == pytest.approx({"a": (0.85 + 1.6) / 3, "b": (0.85 + 1.6) / 3, "c": (0.7 + 1.6) / 3})
    # weights are the log-odds (2 classes in play) of the shrunk accuracies, the best weighing 1
    weights = LeaveOneOutWeights(prior_objects=2.0, passes=1, object_share=0.0).fit([crowd]).object_weights(crowd)
    q = np.array([0.85 + 1.6, 0.85 + 1.6, 0.7 + 1.6]) / 3
    logit = np.log(q / (1 - q))
    assert weights.tolist() == pytest.approx((logit / logit[0]).tolist())
    # with overwhelming prior weight every worker is the crowd's mean: equal weights
    flat = LeaveOneOutWeights(prior_objects=1e9, object_share=0.0).fit([crowd]).object_weights(crowd)
    assert flat.tolist() == pytest.approx([1.0, 1.0, 1.0], abs=1e-6)


def test_a_workers_record_comes_from_every_object_they_answered() -> None:
    first = obj(CAREFUL, CAREFUL_COUNTS, "abc")
    second = obj(np.array([[1, 1], [0, 0]]), np.array([10, 90]), "ad")  # a and d agree fully
    model = LeaveOneOutWeights(prior_objects=0.0, passes=1).fit([first, second])
    assert model.accuracy_ == pytest.approx({"a": 0.9, "b": 0.8, "c": 0.8, "d": 1.0})
    assert model.objects_ == {"a": 2, "b": 1, "c": 1, "d": 1}
    assert model.record("a") == pytest.approx(0.9)
    assert model.record("nobody") is None


def test_ties_between_classes_take_a_class_and_ties_with_background_stay_open() -> None:
    votes = np.array([[1, 2], [2, 0], [3, 3], [ABSTAIN, 2]], np.uint8)
    equal = np.array([1.0, 1.0])
    labels, open_ties = decide(votes, vote_scores(votes, 4, equal), equal)
    assert labels.tolist() == [1, 0, 3, 2]  # class against class: the lowest key, not background
    assert open_ties.tolist() == [0, 0b101, 0, 0]  # class 2 against background: left to the spatial step


def test_a_three_way_tie_with_background_is_background() -> None:
    votes = np.array([[1, 2, 0]], np.uint8)
    equal = np.array([1.0, 1.0, 1.0])
    labels, open_ties = decide(votes, vote_scores(votes, 3, equal), equal)
    assert labels.tolist() == [0]
    assert open_ties.tolist() == [0]


def test_a_tie_goes_to_a_clearly_heavier_worker_only() -> None:
    # a (weight 1) against a copied pair (0.5 each after sharing): scores tie between 2 and 1
    votes = np.array([[2, 1, 1]], np.uint8)
    scores = vote_scores(votes, 3, np.array([1.0, 0.5, 0.5]))
    labels, _ = decide(votes, scores, np.array([1.0, 0.8, 0.8]), margin=0.15)
    assert labels.tolist() == [2]  # a stands 0.2 above the pair
    labels, _ = decide(votes, scores, np.array([1.0, 0.8, 0.8]), margin=0.3)
    assert labels.tolist() == [1]  # not clearly: the class tie rule (the lowest key)


def test_background_far_from_a_workers_drawing_is_marked_far() -> None:
    # one 1x12 row; the worker drew class 3 at pixel 9 only; squares of 2 pixels, reach 1 square
    indices = np.zeros((1, 12), np.uint8)
    indices[0, 9] = 1
    mask = abstain_far_from_drawing(IndexedMask(indices, np.array([0, 3], np.uint8)), block=2, reach=1)
    assert mask.classes().tolist() == [[FAR] * 6 + [0, 0, 0, 3, 0, 0]]
    empty = IndexedMask(np.zeros((1, 12), np.uint8), np.array([0, 3], np.uint8))
    assert abstain_far_from_drawing(empty, block=2, reach=1) is empty  # "nothing here" stays a vote


def test_far_background_abstains_only_where_the_other_voices_name_one_class() -> None:
    votes = np.array(
        [
            [1, FAR, FAR],  # a skipped object: the one who drew it decides
            [1, 1, FAR],
            [1, 2, FAR],  # the others disagree about the class: far background counts as background again
            [1, 0, FAR],  # someone near says background: so does the far one
            [FAR, FAR, FAR],  # nobody drew anything near: background
            [1, FAR, 2],  # a voice of little weight does not count as naming another class
            [FAR, FAR, 2],  # nor as a drawing the far ones should defer to
        ],
        np.uint8,
    )
    resolved = resolve_far(votes, np.array([1.0, 1.0, 0.4]))
    assert resolved.tolist() == [
        [1, ABSTAIN, ABSTAIN],
        [1, 1, ABSTAIN],
        [1, 2, 0],
        [1, 0, 0],
        [0, 0, 0],
        [1, ABSTAIN, 2],
        [0, 0, 2],
    ]


def test_the_highest_class_key_a_mask_holds_survives_the_default_vote() -> None:
    from tally.aggregation.pixel_vote import reliability_table, vote_image
    from tally.aggregation.vote_table import IndexedMask
    from tally.colours import FAR
    from tally.errors import ConfigError
    from tally.labels import MAX_MASK_CLASSES, ClassTable, LabelSet

    top = MAX_MASK_CLASSES  # the far-background marker is the key above it
    assert top == FAR - 1
    masks = []
    for shift in range(3):
        indices = np.zeros((40, 48), np.uint8)
        indices[10:30, 10 + shift : 30 + shift] = 1
        masks.append(IndexedMask(indices, np.array([0, top], np.uint8)))
    table, judged = reliability_table(masks, ["a", "b", "c"])
    image, _ = vote_image(table, ["a", "b", "c"], top + 1, "reliability", None, judged)
    # the boundaries land on the workers' mean outline: the middle worker's square
    assert (image == top).tolist() == (masks[1].indices == 1).tolist()
    with pytest.raises(ConfigError, match="at most 253"):  # one more label would be read as far background
        ClassTable.build(LabelSet(tuple(f"l{i}" for i in range(top + 1)), "event"))


def touching_objects(c_person: int = 2) -> list[IndexedMask]:
    """A 64 x 64 image: 16 rows of background, then a car (class 1, columns 0-31) touching a person
    (class 2, columns 32-63). Worker a draws both exactly, b's car overlaps the person by 4 columns,
    c draws both exactly but gives the person ``c_person``."""
    lut = np.arange(4, dtype=np.uint8)

    def mask(car_end: int, person: int) -> IndexedMask:
        indices = np.zeros((64, 64), np.uint8)
        indices[16:, :car_end] = 1
        indices[16:, car_end:] = person
        return IndexedMask(indices, lut)

    return [mask(32, 2), mask(36, 2), mask(32, c_person)]


def test_class_confusion_counts_wrong_classes_away_from_outlines_only() -> None:
    table = tabulate(touching_objects())
    weights = np.ones(3)
    everywhere = class_confusion(ObjectVotes.from_table("abc", table), weights)
    inside = class_confusion(ObjectVotes.from_table("abc", table, interior_counts(table)), weights)
    # b's car over the person's first 4 columns (48 rows): a wrong class on all pixels, none inside
    # (rows 24-63 of the square columns 0-2 and 6-7: 25 squares of 64 px, all b's right class)
    assert everywhere[1].tolist() == [2880.0, 192.0, 0.0, 0.0, 0.0, 2880.0, 192.0]
    assert inside[1].tolist() == [2880.0, 192.0, 0.0, 0.0, 0.0, 1600.0, 0.0]
    # a and c are copies (identical masks): each is judged against b alone, and b against them once
    assert inside[0].tolist() == [2880.0, 192.0, 0.0, 0.0, 0.0, 1600.0, 0.0]
    # an object with no pixel away from an outline (too small for one clear square) is measured on all
    unknown = class_confusion(ObjectVotes.from_table("abc", table, np.zeros(len(table.counts))), weights)
    assert unknown.tolist() == everywhere.tolist()
    fitted_inside = LeaveOneOutWeights().fit([ObjectVotes.from_table("abc", table, interior_counts(table))])
    fitted_everywhere = LeaveOneOutWeights().fit([ObjectVotes.from_table("abc", table)])
    assert fitted_inside.confusion_["b"].error == 0.0
    assert fitted_everywhere.confusion_["b"].error == 0.0625  # 192 of 3072 painted pixels


def test_a_whole_object_in_the_wrong_class_is_still_confusion_inside() -> None:
    table = tabulate(touching_objects(c_person=3))
    inside = class_confusion(ObjectVotes.from_table("abc", table, interior_counts(table)), np.ones(3))
    # c's person (class 3, the others say 2): 10 interior squares of 64 px wrong, 15 right
    assert inside[2].tolist()[5:] == [960.0, 640.0]
    fitted = LeaveOneOutWeights(prior_objects=0).fit([ObjectVotes.from_table("abc", table, interior_counts(table))])
    assert fitted.confusion_["c"].error == pytest.approx(0.4)


def test_interior_counts_read_the_same_off_squares_and_off_pixels() -> None:
    table = tabulate(touching_objects(c_person=3))
    assert table.squares is not None
    plain = VoteTable(table.votes, table.counts, table.inverse)  # no square summary: counted from the pixels
    assert interior_counts(plain).tolist() == interior_counts(table).tolist()
    # background: the first row of squares (the second touches the objects' top); the objects: 5 rows of
    # squares (rows 24-63) x 5 columns of squares (0-2 and 6-7; 3-5 touch the outline at columns 32-35)
    assert interior_counts(table).tolist()[0] == 8 * 64
    assert interior_counts(table).sum() == 8 * 64 + 25 * 64


def test_a_careful_worker_is_not_charged_for_a_class_only_a_minority_names() -> None:
    # a and b paint class 1 (each a pixel the other does not); c paints the first object as class 2
    def one(c_class: int) -> ObjectVotes:
        votes = np.array([[1, 1, c_class], [0, 1, 0], [1, 0, 0], [0, 0, 0]])
        return obj(votes, np.array([38, 1, 1, 60]), "abc")

    objects = [one(2), one(1), one(1)]
    weights = np.array([1.0, 1.0, 0.5])
    # against the others' shares, a's 38 pixels named by b (1.0) and c (0.5) counted a third against a
    first = class_confusion(objects[0], weights)
    assert first[0, :2].tolist() == [38.0, 0.0]
    assert first[2, :2].tolist() == [0.0, 38.0]  # c's class against a's and b's
    fitted = LeaveOneOutWeights(prior_objects=0).fit(objects)
    assert fitted.confusion_["a"].error == 0.0
    assert fitted.confusion_["b"].error == 0.0
    assert fitted.confusion_["c"].error == pytest.approx(1 / 3)


def test_a_fit_without_class_confusion_predicts_the_same_and_fits_none() -> None:
    # the default vote never reads the class confusion (the disputed regions do): skipping it must
    # leave the accuracies, the per-object accuracy predict reuses and the weighted vote as they were
    crowd, careful = with_spammer(), obj(CAREFUL, CAREFUL_COUNTS, "abc")
    full = LeaveOneOutWeights().fit([crowd, careful])
    lean = LeaveOneOutWeights(confusion=False).fit([crowd, careful])
    assert full.confusion_ and set(full.confusion_) == {"a", "b", "c", "d"}
    assert lean.confusion_ == {}
    assert lean.accuracy_ == full.accuracy_ and lean.worker_statistics_ == full.worker_statistics_
    for votes in (crowd, careful):
        assert lean._fitted[id(votes)][1].tolist() == full._fitted[id(votes)][1].tolist()  # computed by the fit
        assert lean.object_accuracy(votes).tolist() == full.object_accuracy(votes).tolist()
        a, b = weigh(votes, 3, lean), weigh(votes, 3, full)
        assert a.labels.tolist() == b.labels.tolist() and a.weights.tolist() == b.weights.tolist()
        assert a.support.tolist() == b.support.tolist()
