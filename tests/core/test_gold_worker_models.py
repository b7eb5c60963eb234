"""The worker models' gold input (``known``): the other answers to a gold object are judged against the
gold answer alone, not against each other."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tally.aggregation.base import ObjectItems, WorkerItems
from tally.aggregation.box_consolidation import BoxConsolidation
from tally.aggregation.weighted_pixel_vote import LeaveOneOutWeights, ObjectVotes
from tests.core.batch import content, run
from tests.sim.gold import LINE_CLASSES, line_f1, polyline_batch


def _gold_alone(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The batch with each gold object's answers cut to its gold answer (the object held at it, untaught)."""
    before: list[dict[str, Any]] = json.loads(json.dumps(objects))
    for o in before:
        if any(a["annotationData"].get("gold") for a in o["annotations"]):
            o["annotations"] = [a for a in o["annotations"] if a["annotationData"].get("gold")]
    return before


def test_boxes_are_counted_against_the_gold_answer_alone() -> None:
    def answer(worker: str, *boxes: tuple[str, float, float, float, float]) -> WorkerItems:
        return WorkerItems(worker, tuple(b[0] for b in boxes), np.array([b[1:] for b in boxes], float).reshape(-1, 4))

    car, person = ("car", 10, 10, 50, 40), ("person", 60, 10, 80, 50)
    gold = answer("g", car, person)
    # a: the car, and a box where the gold has nothing; b: the person as a car, nothing else
    obj = ObjectItems((gold, answer("a", car, ("car", 0, 45, 8, 58)), answer("b", ("car", 61, 10, 80, 50))), 100, 60)
    model = BoxConsolidation().fit([obj], known=[0])
    # items, confirmed, chances, hits, agreement sum and count, invented, lost
    assert model.worker_statistics_ == {
        "a": [2.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        "b": [1.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 1.0],
    }
    # without the gold, agreement alone: a and the gold confirm each other's car, and g is judged too
    assert sorted(BoxConsolidation().fit([obj]).worker_statistics_) == ["a", "b", "g"]


def test_masks_are_judged_against_the_gold_mask_alone() -> None:
    # g (gold) and a paint class 1 on 40 pixels, a misses 5 more g painted; b, c and d paint class 2 there
    votes = np.array([[1, 1, 2, 2, 2], [1, 0, 2, 2, 0], [0, 0, 0, 0, 0]], np.uint8)
    obj = ObjectVotes.build(("g", "a", "b", "c", "d"), votes, np.array([40, 5, 60]))
    crowd = LeaveOneOutWeights().fit([obj])
    assert crowd.worker_statistics_["a"] == [1 / 9, 1.0]  # against the others' vote
    gold = LeaveOneOutWeights().fit([obj], known=[0])
    # against the gold mask, over the 45 pixels someone painted; the gold answer itself is not judged
    assert gold.worker_statistics_ == {"a": [40 / 45, 1.0], "b": [0.0, 1.0], "c": [0.0, 1.0], "d": [0.0, 1.0]}
    assert {w: round(q, 3) for w, q in gold.accuracy_.items()} == {"a": 0.444, "b": 0.148, "c": 0.148, "d": 0.148}


def test_gold_polylines_score_the_annotators_for_the_other_objects(tmp_path: Path) -> None:
    """Simulated batches as an importer hands gold on (:func:`tests.sim.gold.polyline_batch`: a careful
    annotator and ``bo``, whose lines agree with nobody, on each of 40 objects; the truth marked gold on
    8): non-gold line F1 (within 5 px, the same label) with the gold judging the annotators against
    before, when a gold object was its gold answer alone. Seeds 1–3 looked at; judged on 4–12."""
    scored: list[float] = []
    alone: list[float] = []
    for seed in range(4, 13):
        objects, truth, gold = polyline_batch(seed)
        before = _gold_alone(objects)
        for name, payload, runs in (("scored", objects, scored), ("alone", before, alone)):
            response, report, _ = run(tmp_path / f"{seed}-{name}", payload, labels=LINE_CLASSES)
            assert report.failed == 0
            labels = {e["datasetObjectId"]: content(e)[0] for e in response}
            f1 = [line_f1(labels[str(t)]["polylines"], truth[t], 5.0) for t in range(len(truth))]
            assert all(f1[t] == 1.0 for t in gold)  # never outvoted
            runs.append(statistics.mean(f1[t] for t in range(len(truth)) if t not in gold))
            if name == "scored":  # the gold answer is the known truth
                assert all(labels[str(t)]["confidence"] == 1.0 for t in gold)
                assert all([q["workerId"] for q in labels[str(t)]["worker-quality"]] == ["rev"] for t in gold)
    assert (round(scored[0], 4), round(alone[0], 4)) == (0.8833, 0.5919)  # the fixed seed 4
    assert all(s > a + 0.1 for s, a in zip(scored, alone, strict=True)), (scored, alone)
    assert (round(statistics.mean(scored), 3), round(statistics.mean(alone), 3)) == (0.862, 0.562)


def test_a_polyline_is_scored_against_the_gold_lines() -> None:
    from tally.importers.gold import agreement

    size = {"width": 200, "height": 150}

    def lines(*found: tuple[str, list[tuple[float, float]]]) -> dict[str, Any]:
        items = [{"label": label, "vertices": [{"x": x, "y": y} for x, y in vertices]} for label, vertices in found]
        return {"polylines": items, "inputImageProperties": size}

    gold = lines(("lane", [(0, 0), (100, 0)]), ("kerb", [(0, 50), (100, 50)]))
    # the lane drawn the other way round with another vertex count matches; the kerb called a lane does not
    mine = lines(("lane", [(100, 2), (50, 1), (0, 2)]), ("lane", [(0, 50), (100, 50)]))
    assert agreement("polylines", mine, gold) == 0.5
    assert agreement("polylines", lines(), lines()) == 1.0


def test_spans_are_compared_with_the_gold_spans_alone() -> None:
    from tally.aggregation.span_vote import SpanVote

    # worker 0 is gold: person 0-4, place 5-9; 1 has the person and an invented span; 2 the place a
    # character short (Jaccard 3/4) and nothing else
    obj = [(0, [(0, 0, 4), (1, 5, 9)]), (1, [(0, 0, 4), (0, 10, 12)]), (2, [(1, 5, 8)])]
    gold = SpanVote().fit([obj], known=[0])
    # (credit, spans compared, objects): against the gold spans alone; the gold answer is not judged
    assert gold.worker_statistics_.tolist() == [[0.0, 0.0, 0.0], [1.0, 4.0, 1.0], [0.75, 3.0, 1.0]]
    assert [round(float(a), 4) for a in gold.worker_agreement_[1:]] == [0.5, 0.5]
    # without the gold, each against the others' vote, the gold answer judged too
    crowd = SpanVote().fit([obj])
    assert crowd.worker_statistics_[0].tolist() != [0.0, 0.0, 0.0]


def test_a_gold_entity_answer_is_the_object_and_judges_the_others(tmp_path: Path) -> None:
    def entities(*spans: tuple[str, int, int]) -> str:
        found = [{"label": lab, "startOffset": s, "endOffset": e} for lab, s, e in spans]
        return json.dumps({"crowd-entity-annotation": {"entities": found}})

    text = "Ada met Charles in London."
    truth = (("person", 0, 3), ("person", 8, 15), ("place", 19, 25))
    wrong = (("place", 0, 3), ("person", 4, 7))

    def obj(i: int, answers: list[tuple[str, str]], gold: bool) -> dict[str, Any]:
        annotations: list[dict[str, Any]] = [{"workerId": w, "annotationData": {"content": c}} for w, c in answers]
        if gold:
            annotations[0]["annotationData"]["gold"] = True
        return {"datasetObjectId": str(i), "dataObject": {"content": text}, "annotations": annotations}

    # two gold objects: "rev" is the truth, "good" agrees with it, "bad" does not; on the third object good
    # and bad disagree, and only the gold can say whom to believe
    gold_answers = [("rev", entities(*truth)), ("good", entities(*truth)), ("bad", entities(*wrong))]
    objects = [obj(0, gold_answers, True), obj(1, gold_answers, True),
               obj(2, [("good", entities(*truth[:2])), ("bad", entities(*wrong))], False)]  # fmt: skip
    response, report, _ = run(tmp_path, objects, labels=["person", "place"])
    assert report.failed == 0
    labels = [content(e)[0] for e in response]
    for label in labels[:2]:  # the gold answer, each span with confidence 1; only its worker's row
        assert [(e["label"], e["startOffset"], e["endOffset"], e["confidence"]) for e in label["annotations"]["entities"]] == [
            (*span, 1.0) for span in truth
        ]  # fmt: skip
        assert (label["confidence"], [q["workerId"] for q in label["worker-quality"]]) == (1.0, ["rev"])
    found = [(e["label"], e["startOffset"], e["endOffset"]) for e in labels[2]["annotations"]["entities"]]
    assert found == list(truth[:2])  # bad's spans are outweighed: the gold taught the model
    weights = {q["workerId"]: q["weight"] for q in labels[2]["worker-quality"]}
    assert weights["good"] > weights["bad"]
    assert weights == {"good": 0.5625, "bad": 0.1875}
    # before: the gold objects cut to their gold answer, nothing taught; good and bad meet only on the
    # third object and agree with each other as little both ways: bad's person 4-7 is kept, and the
    # span both marked, Ada, is a tie (won by the lower label index, person)
    for o in objects[:2]:
        o["annotations"] = o["annotations"][:1]
    response, _, _ = run(tmp_path / "alone", objects, labels=["person", "place"])
    before = content(response[2])[0]
    assert {q["workerId"]: q["weight"] for q in before["worker-quality"]} == {"good": 0.001, "bad": 0.001}
    assert [(e["label"], e["startOffset"], e["endOffset"]) for e in before["annotations"]["entities"]] == [
        ("person", 0, 3), ("person", 4, 7), ("person", 8, 15)
    ]  # fmt: skip


def test_a_gold_forms_polylines_teach_the_fields_model(tmp_path: Path) -> None:
    """The polyline batches above as a form (each answer also gives a ``light`` choice): the line field
    goes through the form driver's kind path (:class:`tally.tasks.fields.LearnsFromGold`), which holds a
    gold object's field at its gold answer and counts the others against it, as the lone task does."""
    scored: list[float] = []
    alone: list[float] = []
    for seed in (4, 5, 6):
        objects, truth, gold = polyline_batch(seed)
        for o in objects:
            for a in o["annotations"]:
                answer = json.loads(a["annotationData"]["content"])
                a["annotationData"]["content"] = json.dumps({**answer, "light": {"label": "day"}})
        before = _gold_alone(objects)
        for name, payload, runs in (("scored", objects, scored), ("alone", before, alone)):
            response, report, _ = run(tmp_path / f"{seed}-{name}", payload, labels=LINE_CLASSES)
            assert report.failed == 0
            fields = {e["datasetObjectId"]: content(e)[0]["fields"]["crowdPolyline"] for e in response}
            f1 = [line_f1(fields[str(t)]["value"]["polylines"], truth[t], 5.0) for t in range(len(truth))]
            assert all(f1[t] == 1.0 for t in gold)  # never outvoted
            runs.append(statistics.mean(f1[t] for t in range(len(truth)) if t not in gold))
            if name == "scored":  # the gold answer is the known truth
                assert all(fields[str(t)]["confidence"] == 1.0 for t in gold)
    # seed 4 as the lone polyline task's above: the field's model is the task's, taught the same way
    assert ([round(s, 4) for s in scored], [round(a, 4) for a in alone]) == (
        [0.8833, 0.8606, 0.9458], [0.5919, 0.58, 0.6156]
    )  # fmt: skip


def test_numbers_are_judged_against_the_gold_value_alone() -> None:
    from tally.aggregation.ratings import CalibratedMean

    # w0 rates every gold object at its gold value, w1 one or two points higher; on the other three
    # objects w0 and w1 are all there is: agreement alone puts the values between the two raters, the
    # gold puts them at w0's level and gives w1 the offset
    objects, workers = [t for t in range(6) for _ in range(2)], [0, 1] * 6
    values = [3, 5, 2, 4, 4, 5, 2, 4, 1, 3, 3, 5]
    crowd = CalibratedMean(low=1, high=5, step=1).fit(objects, workers, values, n_objects=6, n_workers=2)
    assert [round(v, 2) for v in crowd.values_[3:]] == [3.51, 2.51, 4.51]
    gold = CalibratedMean(low=1, high=5, step=1).fit(
        objects, workers, values, n_objects=6, n_workers=2, known=[3, 2, 4, np.nan, np.nan, np.nan]
    )
    assert gold.values_[:3].tolist() == [3.0, 2.0, 4.0] and gold.confidence_[:3].tolist() == [1.0, 1.0, 1.0]
    assert gold.intervals_[:3].tolist() == [[3.0, 3.0], [2.0, 2.0], [4.0, 4.0]]
    assert [round(v, 2) for v in gold.values_[3:]] == [2.15, 1.15, 3.15]
    assert [round(b, 3) for b in gold.bias_] == [0.0, 1.628]


def _careful_and_random(seed: int) -> tuple[Any, Any, Any, Any, Any]:
    """Two answers a task: a careful rater (the count 0–10 plus rounded noise of s.d. 0.7) and one who
    answers at random; the truth known on 8 of 40 tasks."""
    rng = np.random.default_rng(seed)
    n = 40
    truth = rng.integers(0, 11, n)
    known = np.full(n, np.nan)
    gold = rng.choice(n, 8, replace=False)
    known[gold] = truth[gold]
    values = np.empty(2 * n)
    values[0::2] = np.clip(truth + np.round(rng.normal(0, 0.7, n)), 0, 10)
    values[1::2] = rng.integers(0, 11, n)
    return np.repeat(np.arange(n), 2), np.tile([0, 1], n), values, known, truth


def test_a_random_annotator_does_not_collapse_a_gold_number_fit() -> None:
    """The first try at gold numbers held the gold values and nothing else: on this crowd the EM ran to
    a collapse (both raters' noise 7e4-2e5, every answer random: random share 0.81 each). Two causes,
    each guarded in a gold fit: an answer whose only partner the fit took for random was judged against
    an estimate of unbounded variance (so it looked random too; now the estimate is a belief about a value
    on the scale, and such an answer's density tends to a random one's), and the statistics weighed the
    new random probabilities with the values' variance of the old ones; a rater's noise is also capped at
    a random answer's (the scale's width / sqrt 12), and the fit starts from what the gold objects alone
    show."""
    from tally.aggregation.ratings import CalibratedMean

    for seed, crowd, taught, errors in (
        (7, ([3.365, 3.365], [0.153, 0.153]), ([1.131, 2.52], [0.044, 0.579]), (1.9062, 0.375)),
        (10, ([5.605, 5.605], [0.575, 0.575]), ([1.544, 2.887], [0.1, 0.512]), (1.9688, 0.5938)),
    ):
        t, w, x, known, truth = _careful_and_random(seed)
        alone = CalibratedMean(low=0, high=10, step=1, snap=True).fit(t, w, x, n_objects=40, n_workers=2)
        gold = CalibratedMean(low=0, high=10, step=1, snap=True).fit(t, w, x, n_objects=40, n_workers=2, known=known)
        # without gold the two raters cannot be told apart (and the fit stops because no value moves)
        assert (alone.noise_.round(3).tolist(), alone.random_share_.round(3).tolist()) == crowd
        # with it, the careful rater is careful and the random one mostly random
        assert (gold.noise_.round(3).tolist(), gold.random_share_.round(3).tolist()) == taught
        rest = np.isnan(known)
        mae = [round(float(np.abs(m.values_ - truth)[rest].mean()), 4) for m in (alone, gold)]
        assert tuple(mae) == errors
        assert gold.values_[~rest].tolist() == truth[~rest].tolist()


def test_texts_are_compared_with_the_gold_text_alone() -> None:
    from tally.aggregation.text import TextVote

    # worker 1 misspells what worker 2 types right; the gold (worker 0's, objects 0 and 3) shows which
    objects = [
        [(0, "red barn"), (1, "red bam"), (2, "red barn")],
        [(1, "blue bam"), (2, "blue barn")],
        [(1, "old bam"), (2, "old barn")],
        [(0, "the quick brown fox jumps"), (2, "the quick brown fox jumps"), (1, "the quick brown cat jumps")],
    ]
    taught = TextVote().fit(objects, known=[0, None, None, 0])
    # (units, agreement): object 0, one short answer each (worker 1: 1 - 2/8); objects 1 and 2 each other's
    # (1 - 2/9, 1 - 2/8); object 3, a transcription: 5 words, worker 1 shares 4; the gold worker is not judged
    assert taught.worker_statistics_.round(4).tolist() == [[0.0, 0.0], [8.0, 6.2778], [8.0, 7.5278]]
    assert [v.text for v in taught.predict(objects[1:3])] == ["blue barn", "old barn"]
    # the gold answer alone on its objects: nothing tells the two apart, and the tie goes to worker 1
    alone = [[objects[0][0]], objects[1], objects[2], [objects[3][0]]]
    untaught = TextVote().fit(alone)
    assert untaught.worker_statistics_.round(4).tolist() == [[0.0, 0.0], [2.0, 1.5278], [2.0, 1.5278]]
    assert [v.text for v in untaught.predict(alone[1:3])] == ["blue bam", "old bam"]


def _shared_offset(seed: int, offset: float) -> tuple[Any, Any, Any, Any, Any]:
    """Three of eight raters a task, every rater reading ``offset`` off the truth (the whole crowd shares
    it, so the crowd agrees with itself) with noise of s.d. 0.3, rounded to the 0–10 scale's step; the
    truth known on 12 of 60 tasks."""
    rng = np.random.default_rng(seed)
    n = 60
    truth = rng.integers(4, 11, n).astype(float)
    t = np.repeat(np.arange(n), 3)
    w = np.concatenate([rng.choice(8, 3, replace=False) for _ in range(n)])
    x = np.clip(np.round(truth[t] + offset + rng.normal(0, 0.3, t.size)), 0, 10)
    known = np.full(n, np.nan)
    known[:12] = truth[:12]
    return t, w, x, known, truth


def test_a_gold_number_fit_learns_an_offset_the_whole_crowd_shares() -> None:
    """The gold fit's start measured each rater against its gold answers with the crowd's spread within
    objects as the starting noise: tiny when the crowd shares an offset, so every gold answer looked random
    and no offset was learned from -2 on (mean offsets 0.0, non-gold errors 1.979, 2.979, 3.979 at offsets
    -2, -3, -4; the crowd without gold: 2.0, 3.0, 4.0). Each rater now starts as vague as a random answer
    (offset -1 unchanged; seeds 6 and 7 likewise: every offset found within 0.2)."""
    from tally.aggregation.ratings import CalibratedMean

    found = []
    for offset in (-1.0, -2.0, -3.0, -4.0):
        t, w, x, known, truth = _shared_offset(5, offset)
        fit = CalibratedMean(low=0, high=10, step=1, snap=True).fit(t, w, x, n_objects=60, n_workers=8, known=known)
        rest = np.isnan(known)
        found.append((round(float(fit.bias_.mean()), 2), round(float(np.abs(fit.values_ - truth)[rest].mean()), 3)))
    assert found == [(-0.72, 0.083), (-1.72, 0.083), (-2.72, 0.083), (-3.71, 0.042)]


def test_a_gold_number_fit_judges_answers_far_outside_the_scale() -> None:
    """Three raters agree on a value far outside the scale (answers outside [low, high] are taken as
    given): the others' estimate's mass on the scale underflowed to 0, so the answers' ratio was 0 and all
    three were taken for random (probability 1.0 each, the object's confidence 0.0). An estimate whose
    mass underflows says nothing about them now."""
    from tally.aggregation.ratings import CalibratedMean

    rng = np.random.default_rng(3)
    truth = rng.integers(0, 11, 20).astype(float)
    t = [o for o in range(21) for _ in range(3)]
    w = [0, 1, 2] * 21
    x = [float(truth[o] + rng.normal(0, 0.3)) for o in range(20) for _ in range(3)] + [60.0, 60.2, 59.9]
    known = np.full(21, np.nan)
    known[:5] = truth[:5]
    fit = CalibratedMean(low=0, high=10).fit(t, w, x, n_objects=21, n_workers=3, known=known)
    assert fit.random_probability_[-3:].round(4).tolist() == [0.0019, 0.0019, 0.002]
    assert (float(fit.values_[-1]), float(fit.confidence_[-1])) == (10.0, 1.0)


def test_a_gold_number_fits_belief_with_a_subnormal_mass_says_nothing() -> None:
    """The others' estimate with a mass on the scale that is subnormal rather than 0 (rater 1 answers 60
    on a 0-10 scale): the quotient by it overflowed, 0 x inf made the first rater's random probability
    NaN (numpy's overflow warning, an error here). Below 1e-300 the belief says nothing, as at 0."""
    from tally.aggregation.ratings import CalibratedMean

    t, w, x = np.array([0, 0]), np.array([0, 1]), np.array([5.0, 60.0])
    bias, pi = np.zeros(2), np.array([0.1, 0.1])
    for second in (1.50, 1.55, 1.60):
        var = np.array([0.09, second])
        precision = (1 - pi[w]) / var[w]
        a_sum = np.bincount(t, weights=precision * x, minlength=1).astype(np.float64)
        b_sum = np.bincount(t, weights=precision, minlength=1).astype(np.float64)
        found = CalibratedMean._e_random(t, w, x, bias, var, pi, precision, a_sum, b_sum,
                                         np.array([True, True]), 0.1, np.array([np.nan]), (0.0, 10.0))  # fmt: skip
        assert found.tolist() == [0.0, 0.0]


def test_a_gold_text_fit_aligns_the_other_objects_once(monkeypatch: Any) -> None:
    """The text kind's fit votes its objects with the fit's own preparation: with gold, the objects
    without a gold answer reuse it and the gold objects' answers alone are prepared apart (the whole batch
    was prepared again: 3, 4 and 5 answers, now 3, 4 and 1), and the labels are as before."""
    from tally.aggregation import text
    from tally.tasks.free_text.adapter import TEXTS, GoldTextSummary, TextSummary

    prepared: list[int] = []
    of = text._Batch.of.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, objects: Any, *args: Any, **kwargs: Any) -> Any:
        prepared.append(sum(len(o) for o in objects))
        return of(cls, objects, *args, **kwargs)

    monkeypatch.setattr(text._Batch, "of", classmethod(counting))
    summaries = [
        ("g", GoldTextSummary((("rev", "red barn"), ("a", "red bam"), ("b", "red barn")), known=0)),
        ("x", TextSummary((("a", "old bam"), ("b", "old barn")))),
        ("y", TextSummary((("a", "blue bam"), ("b", "blue barn")))),
    ]
    model = TEXTS.fit(summaries, None, {})
    assert prepared == [3, 4, 1]
    assert [model.label(o, s)[0]["text"] for o, s in summaries] == ["red barn", "old barn", "blue barn"]


@pytest.mark.parametrize(
    ("mode", "compared", "scored"),
    [
        ("short", [3], [[1.0, 0.8333], [1.0, 0.75], [1.0, 0.9167]]),  # 1 - graphemes changed / 12
        ("transcription", [3], [[3.0, 2.0]] * 3),  # three words, two shared with the gold
        ("auto", [6], [[3.0, 2.0]] * 3),  # every word distance, to tell a transcription
    ],
)
def test_a_gold_text_is_compared_with_each_other_answer_alone(
    monkeypatch: Any, mode: str, compared: list[int], scored: list[list[float]]
) -> None:
    """The gold fit computes the distances from the gold text to the others (3 of 4 answers), not
    between every two (6), but for ``"auto"``'s word distances, all of which tell a transcription."""
    from tally.aggregation import text

    pairs: list[int] = []
    edit_distances = text._edit_distances

    def counting(flat: Any, a_start: Any, *args: Any) -> Any:
        pairs.append(len(a_start))
        return edit_distances(flat, a_start, *args)

    monkeypatch.setattr(text, "_edit_distances", counting)
    obj = [(0, "one red barn"), (1, "one red bam"), (2, "a red barn"), (3, "one rod barn")]
    model = text.TextVote(mode=mode, min_words=3).fit([obj], known=[0])  # type: ignore[arg-type]
    assert pairs == compared
    assert model.worker_statistics_.round(4).tolist() == [[0.0, 0.0], *scored]


def test_an_empty_gold_text_holds_nothing() -> None:
    from tally.tasks.free_text.adapter import TEXTS, GoldTextSummary, TextSummary

    summary = TextSummary((("rev", " "), ("a", "good"), ("b", "good")))
    assert TEXTS.held(summary, ["rev"]) is summary  # was GoldTextSummary(known=0): "" with confidence 1
    both = TextSummary((("rev", ""), ("lead", "fine"), ("a", "good")))
    assert TEXTS.held(both, ["rev", "lead"]) == GoldTextSummary(both.answers, known=1)  # the next marked one
    assert GoldTextSummary(both.answers, known=1).gold_written == 0  # its place among the written answers
    with pytest.raises(ValueError, match="an empty answer is no gold answer"):  # held makes none such
        GoldTextSummary(both.answers, known=0)
