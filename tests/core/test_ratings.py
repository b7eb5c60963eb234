"""CalibratedMean: numbers from a crowd, each rater's offset removed and each answer weighed by its rater's noise."""

from __future__ import annotations

import numpy as np
import pytest

from tally.aggregation.ratings import STATISTICS, CalibratedMean, normal_quantile, snap_to_step
from tests.sim.ratings import Rater, Scale, rating_crowd

Q90 = normal_quantile(0.95)


def _grid(truth: list[float], offsets: list[float]) -> tuple[list[int], list[int], list[float]]:
    """Every rater answers every object: the truth plus their offset."""
    objects, workers, values = [], [], []
    for i, v in enumerate(truth):
        for w, off in enumerate(offsets):
            objects.append(i)
            workers.append(w)
            values.append(v + off)
    return objects, workers, values


def test_a_rater_one_point_high_is_corrected_exactly_on_an_open_scale() -> None:
    # GIVEN two raters who agree and a third who always says one point more (no step: no rounding noise)
    truth = [2.0, 4.0, 1.0, 3.0, 5.0, 2.5]
    objects, workers, values = _grid(truth, [0.0, 0.0, 1.0])
    # WHEN the batch is consolidated
    cm = CalibratedMean().fit(objects, workers, values, n_objects=6, n_workers=3)
    # THEN the values are the truth (the mean would be a third of a point high) and the offset is rater 2's,
    # to a ten-thousandth of a point (the Laplace prior's last shrinkage)
    assert np.round(cm.values_, 3).tolist() == truth
    assert np.round(cm.bias_, 3).tolist() == [0.0, 0.0, 1.0]
    assert cm.answer_weights_.reshape(6, 3).sum(axis=1) == pytest.approx(np.ones(6))


def test_a_rater_one_point_high_on_a_rating_scale_snaps_to_the_truth() -> None:
    truth = [2, 4, 1, 3, 4, 2, 3, 1, 2, 3, 4, 1]
    objects, workers, values = _grid([float(v) for v in truth], [0.0, 0.0, 1.0])
    cm = CalibratedMean(low=1, high=5, step=1).fit(objects, workers, values, n_objects=12, n_workers=3)
    # twelve objects of evidence: the offset is 0.93 of a point, the values 0.02 high, on the steps exact
    assert np.round(cm.bias_, 2).tolist() == [0.0, 0.0, 0.93]
    assert np.round(cm.values_ - truth, 2).tolist() == [0.02] * 12
    cm.snap = True
    assert cm.fit_predict(objects, workers, values, n_objects=12, n_workers=3).tolist() == truth


def test_the_offset_learnt_corrects_the_raters_lone_answers() -> None:
    objects, workers, values = _grid([2.0, 4.0, 1.0, 3.0, 5.0, 2.5], [0.0, 0.0, 1.0])
    objects += [6, 7]
    workers += [2, 0]
    values += [4.0, 4.0]
    cm = CalibratedMean().fit(objects, workers, values, n_objects=8, n_workers=3)
    assert np.round(cm.values_[6:], 3).tolist() == [3.0, 4.0]


def test_a_random_rater_weighs_next_to_nothing() -> None:
    # GIVEN four careful raters (their own small offsets and noise) and one who answers at random, 40 objects
    rng = np.random.default_rng(7)
    truth = rng.uniform(-80, 80, size=40)
    objects, workers, values = [], [], []
    for i, v in enumerate(truth):
        for w, (off, sd) in enumerate([(0.0, 3.0), (2.0, 4.0), (-1.0, 5.0), (0.0, 6.0)]):
            objects.append(i)
            workers.append(w)
            values.append(float(np.clip(round(v + off + sd * rng.standard_normal()), -100, 100)))
        objects.append(i)
        workers.append(4)
        values.append(float(rng.integers(-100, 101)))
    cm = CalibratedMean(low=-100, high=100, step=1).fit(objects, workers, values, n_objects=40, n_workers=5)
    weights = cm.answer_weights_.reshape(40, 5)
    # THEN the random rater's answers carry under 1 % of each value, more than half of them are marked random
    # (a random answer near the truth cannot be told apart), and the values are as close to the truth as the
    # careful raters' own mean (1.39 against 1.35 points), five times closer than the plain mean
    assert weights[:, 4].max() < 0.01
    assert cm.random_share_[4] > 0.5 and cm.random_share_[:4].max() < 0.1
    careful_mean = np.asarray(values).reshape(40, 5)[:, :4].mean(axis=1)
    plain_mean = np.asarray(values).reshape(40, 5).mean(axis=1)
    assert np.abs(cm.values_ - truth).mean() < 1.05 * np.abs(careful_mean - truth).mean()
    assert np.abs(cm.values_ - truth).mean() < 0.2 * np.abs(plain_mean - truth).mean()


def test_one_answer_is_the_value_with_the_crowds_unknown_noise_as_its_interval() -> None:
    cm = CalibratedMean(low=1, high=5).fit([0], [0], [4.0], n_objects=1, n_workers=1)
    # nothing shows the crowd's noise: a sixth of the scale, and the answer may be random (5 %)
    sd = (4 / 6) / np.sqrt(0.95)
    assert cm.values_.tolist() == [4.0]
    assert cm.spread_[0] == pytest.approx(sd)
    assert cm.intervals_[0].tolist() == pytest.approx([4.0 - Q90 * sd, 5.0])
    assert cm.confidence_[0] == pytest.approx(1 - (1.0 + Q90 * sd) / 4)
    assert cm.worker_statistics_.tolist() == [[0.0] * 5]


def test_identical_answers_are_the_value_and_the_interval_is_the_rounding() -> None:
    objects, workers, values = _grid([3.0, 3.0, 3.0, 3.0], [0.0, 0.0, 0.0])
    cm = CalibratedMean(low=1, high=5, step=1).fit(objects, workers, values, n_objects=4, n_workers=3)
    assert cm.values_.tolist() == [3.0] * 4
    assert cm.bias_.tolist() == [0.0] * 3
    # the noise floor is the rounding of a step (1/12): three answers, 5 % of them possibly random
    assert cm.noise_.tolist() == pytest.approx([np.sqrt(1 / 12)] * 3)
    sd = np.sqrt(1 / 12 / (3 * (1 - cm.random_probability_[0])))
    assert cm.spread_.tolist() == pytest.approx([sd] * 4, rel=1e-3)
    cm.snap = True
    cm.fit(objects, workers, values, n_objects=4, n_workers=3)
    assert cm.intervals_.tolist() == [[2.0, 4.0]] * 4


def test_raters_who_all_disagree_give_the_middle_and_a_wide_interval() -> None:
    cm = CalibratedMean(low=1, high=5, step=1).fit([0, 0, 0], [0, 1, 2], [1, 3, 5], n_objects=1, n_workers=3)
    assert cm.values_.tolist() == [3.0]
    # each answer is judged against the other two: the 1 and the 5 look likelier to be random than the 3
    first, middle, last = cm.answer_weights_.tolist()
    assert first == pytest.approx(last) and middle > 2 * first
    assert cm.confidence_[0] < 0.5
    agreeing = CalibratedMean(low=1, high=5, step=1).fit([0, 0, 0], [0, 1, 2], [3, 3, 3], n_objects=1, n_workers=3)
    assert agreeing.confidence_[0] > cm.confidence_[0]


def test_values_and_intervals_stay_on_the_scale_and_its_steps() -> None:
    # a slider 0..10 in steps of 3 (0, 3, 6, 9: the browser never goes past 9), answers at the top
    cm = CalibratedMean(low=0, high=10, step=3, snap=True).fit(
        [0, 0, 1, 1, 2, 2], [0, 1, 0, 1, 0, 1], [9, 9, 0, 3, 6, 3], n_objects=3, n_workers=2
    )
    assert cm.values_.tolist() == [9.0, 3.0, 6.0]  # 1.5 is half-way: up to 3; 4.5 half-way: up to 6
    lo, hi = cm.intervals_.T
    assert (lo <= cm.values_).all() and (cm.values_ <= hi).all()
    assert lo.min() >= 0 and hi.max() <= 9
    assert np.all(np.isclose(np.mod(cm.intervals_, 3), 0))


def test_values_are_clipped_to_the_scale_without_snapping() -> None:
    # rater 1 is two points low; their lone 1 would be a 3 corrected, rater 0's lone 5 stays 5 at the top
    objects, workers, values = _grid([3.0, 4.0, 2.0, 3.5, 4.5, 2.5], [0.0, -2.0])
    cm = CalibratedMean(low=1, high=5).fit(objects, workers, values, n_objects=6, n_workers=2)
    assert cm.values_.min() >= 1 and cm.values_.max() <= 5
    assert cm.intervals_.min() >= 1 and cm.intervals_.max() <= 5


def test_snap_to_step_rounds_half_way_up_and_outwards_for_intervals() -> None:
    assert snap_to_step([0.5, 1.5, 2.5, -0.5], 1.0).tolist() == [1.0, 2.0, 3.0, 0.0]
    assert snap_to_step([0.3, 0.1 + 0.2], 0.1, mode="up").tolist() == pytest.approx([0.3, 0.3])
    assert snap_to_step([-2.2], 1.0, mode="down").tolist() == [-3.0]
    with pytest.raises(ValueError, match="step must be positive"):
        snap_to_step([1.0], 0.0)


def test_a_prior_offset_corrects_a_lone_answer() -> None:
    # GIVEN a batch with one lone answer from rater 0, who earlier batches found 1.5 points high on 40 answers
    prior = np.array([[40.0, 0.0, 60.0, 0.0, 40 * (1.5**2 + 0.25)]])
    alone = CalibratedMean(low=1, high=5).fit([0], [0], [4.5], n_objects=1, n_workers=1)
    known = CalibratedMean(low=1, high=5).fit([0], [0], [4.5], n_objects=1, n_workers=1, prior=prior)
    # THEN without the prior the answer stands; with it, it is corrected by the known offset less the Laplace
    # prior's shrinkage: noise 0.25 = (10 + 5 * 0.25) / 45, threshold 0.25 / (40 * 0.5 * 0.5) = 0.025
    assert alone.values_.tolist() == [4.5]
    assert known.bias_[0] == pytest.approx(1.475)
    assert known.values_[0] == pytest.approx(3.025)
    # and the lone answer teaches nothing new
    assert known.worker_statistics_.tolist() == [[0.0] * 5]


def test_a_prior_noise_record_moves_the_value_toward_the_careful_rater() -> None:
    # two raters on one object; earlier batches found rater 1 three times as noisy as rater 0
    prior = np.array([[50.0, 0.0, 10.0, 10.0, 50 * 0.25], [50.0, 0.0, 10.0, 10.0, 50 * 2.25]])
    plain = CalibratedMean(low=1, high=5).fit([0, 0], [0, 1], [2.0, 4.0], n_objects=1, n_workers=2)
    known = CalibratedMean(low=1, high=5).fit([0, 0], [0, 1], [2.0, 4.0], n_objects=1, n_workers=2, prior=prior)
    assert plain.values_[0] == pytest.approx(3.0)
    assert 2.0 < known.values_[0] < 2.4
    assert known.answer_weights_[0] > 0.8


def test_worker_statistics_carry_a_job_over_batches() -> None:
    # GIVEN one simulated job (a rater 20 points high, one 10 low) split into two batches of 40 objects
    rng = np.random.default_rng(3)
    pool = [Rater(offset=0.1, noise=0.03), Rater(noise=0.05), Rater(noise=0.04), Rater(offset=-0.05, noise=0.05)]
    crowd = rating_crowd(rng, 80, pool, Scale(-100, 100, 1), answers=(2, 4))
    first = crowd.objects < 40

    def fit(rows: np.ndarray, offset: int, prior: np.ndarray | None = None) -> CalibratedMean:
        return CalibratedMean(low=-100, high=100, step=1).fit(
            crowd.objects[rows] - offset,
            crowd.workers[rows],
            crowd.values[rows],
            n_objects=40,
            n_workers=4,
            prior=prior,
        )

    a = fit(first, 0)
    b_alone = fit(~first, 40)
    b = fit(~first, 40, a.worker_statistics_)
    joint = CalibratedMean(low=-100, high=100, step=1).fit(
        crowd.objects, crowd.workers, crowd.values, n_objects=80, n_workers=4
    )
    # THEN the statistics are non-negative, one row per worker, their answer counts are the answers on objects
    # with two or more answers, and the second batch with the first's statistics is closer to the whole job
    assert a.worker_statistics_.shape == (4, len(STATISTICS))
    assert (a.worker_statistics_ >= 0).all() and (b.worker_statistics_ >= 0).all()
    shared = np.bincount(crowd.objects[first])[crowd.objects[first]] >= 2
    assert a.worker_statistics_[:, :2].sum() == pytest.approx(np.count_nonzero(shared))
    assert np.abs(b.bias_ - joint.bias_).sum() < 0.5 * np.abs(b_alone.bias_ - joint.bias_).sum()
    assert joint.bias_.round(0).tolist() == [18.0, 0.0, 0.0, -10.0]


def test_objects_without_answers_are_nan_with_zero_confidence() -> None:
    cm = CalibratedMean(low=1, high=5).fit([1, 1], [0, 1], [2, 3], n_objects=3, n_workers=2)
    assert np.isnan(cm.values_[[0, 2]]).all() and cm.values_[1] == pytest.approx(2.5)
    assert cm.confidence_[[0, 2]].tolist() == [0.0, 0.0]


def test_an_empty_batch_fits() -> None:
    cm = CalibratedMean(low=1, high=5).fit([], [], [], n_objects=0, n_workers=0)
    assert cm.values_.shape == (0,) and cm.worker_statistics_.shape == (0, 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objects": [0, 1], "workers": [0], "values": [1.0]}, "differ in length"),
        ({"objects": [0], "workers": [0], "values": [float("nan")]}, "not finite"),
        ({"objects": [2], "workers": [0], "values": [1.0]}, "outside 0..1"),
        ({"objects": [0.5], "workers": [0], "values": [1.0]}, "integer indices"),
        ({"objects": [0], "workers": [0], "values": [1.0], "prior": [[1.0, 0, 0, 0]]}, "prior must have shape"),
        ({"objects": [0], "workers": [0], "values": [1.0], "prior": [[1.0, 0, 0, 0, -1]]}, "non-negative"),
    ],
)
def test_bad_input_says_why(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CalibratedMean().fit(n_objects=2, n_workers=1, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"low": 5, "high": 1}, "low must be below high"),
        ({"step": 0}, "step must be positive"),
        ({"level": 1.0}, "level must be in"),
        ({"random_share": 0.0}, "random_share"),
        ({"noise_strength": 0.0}, "noise_strength"),
    ],
)
def test_bad_parameters_say_why(params: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CalibratedMean(**params).fit([0], [0], [1.0], n_objects=1, n_workers=1)  # type: ignore[arg-type]
