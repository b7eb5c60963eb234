"""MallowsConsensus and BordaCount: rankings and pairwise preferences from a crowd."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tally.aggregation.ranking import STATISTICS, BordaCount, MallowsConsensus, rankings_to_pairs
from tests.sim.rankings import Ranker, pair_crowd, ranking_crowd

Rows = tuple[list[int], list[int], list[int], list[float]]


def _rows(objects: Any) -> Rows:
    """``objects[o][w][i]``: worker w's rank of item i of object o (None: not ranked; an empty list: no answer)."""
    o_, w_, i_, r_ = [], [], [], []
    for o, by_worker in enumerate(objects):
        for w, ranks in enumerate(by_worker):
            for i, r in enumerate(ranks):
                if r is not None:
                    o_.append(o)
                    w_.append(w)
                    i_.append(i)
                    r_.append(float(r))
    return o_, w_, i_, r_


def _fit(cls: type[MallowsConsensus], rows: Rows, n_objects: int, n_workers: int, n_items: int, **kw: object):
    return cls(**kw).fit(*rows, n_objects=n_objects, n_workers=n_workers, n_items=n_items)  # type: ignore[arg-type]


def test_a_reversed_worker_is_turned_round() -> None:
    # GIVEN six prompts with three responses; workers 0 and 1 agree but on prompt 0, worker 2 reverses everything
    truth = [[1, 2, 3], [3, 1, 2], [2, 3, 1], [1, 3, 2], [3, 2, 1], [2, 1, 3]]
    objects = [[t, [2, 1, 3] if o == 0 else t, [4 - r for r in t]] for o, t in enumerate(truth)]
    rows = _rows(objects)
    mc = _fit(MallowsConsensus, rows, 6, 3, 3)
    bc = _fit(BordaCount, rows, 6, 3, 3)
    # THEN the consensus is the truth everywhere; Borda lets worker 2 cancel worker 0 on prompt 0
    assert mc.ranks_.tolist() == truth
    assert bc.ranks_.tolist() == [[2, 1, 3], *truth[1:]]
    assert mc.weights_[2] < 0 < mc.weights_[1] == mc.weights_[0]
    assert mc.order_.tolist() == [[0, 1, 2], [1, 2, 0], [2, 0, 1], [0, 2, 1], [2, 1, 0], [1, 0, 2]]
    # AND every pair of worker 2 disagrees with the others: a ranking of three items is three pairs of weight
    # 1/2, six prompts, less the pair (0, 1) of prompt 0, which workers 0 and 1 tie between them
    assert mc.worker_statistics_[2].tolist() == [0.0, 8.5]
    assert mc.agreement_[1:].tolist() == pytest.approx([1.0] * 5)


def test_one_worker_is_taken_as_given_with_ties() -> None:
    rows = _rows([[[2, 1, 2, 4]]])
    for cls in (MallowsConsensus, BordaCount):
        fitted = _fit(cls, rows, 1, 1, 4)
        assert fitted.ranks_.tolist() == [[2.0, 1.0, 2.0, 4.0]]
        assert fitted.order_.tolist() == [[1, 0, 2, 3]]  # a tie goes to the lower item index
        # nobody else to compare with: nothing learnt
        assert fitted.worker_statistics_.tolist() == [[0.0, 0.0]]


def test_an_even_split_is_a_tie() -> None:
    # two workers disagree on two items: no weight can decide, the items share rank 1
    rows = _rows([[[1, 2], [2, 1]]])
    for cls in (MallowsConsensus, BordaCount):
        fitted = _fit(cls, rows, 1, 2, 2)
        assert fitted.ranks_.tolist() == [[1.0, 1.0]]
        assert fitted.confidence_.tolist() == [[0.5, 0.5]]


def test_workers_ties_are_kept_when_all_tie() -> None:
    rows = _rows([[[1, 1, 3], [1, 1, 3], [2, 2, 1]]])
    fitted = _fit(BordaCount, rows, 1, 3, 3)
    # items 0 and 1 are tied by every worker; item 2 is last for two of three
    assert fitted.ranks_.tolist() == [[1.0, 1.0, 3.0]]


def test_items_only_some_workers_ranked() -> None:
    # item 3 only by worker 1, item 4 by nobody
    rows = _rows([[[1, 2, 3, None, None], [None, 1, None, 2, None]]])
    fitted = _fit(BordaCount, rows, 1, 2, 5)
    # normalised Borda: item 0 +1 (worker 0), item 1 (0 + 1) / 2, item 2 -1, item 3 -1 (never compared with 2)
    assert fitted.scores_[0, :4].tolist() == [1.0, 0.5, -1.0, -1.0]
    assert np.isnan(fitted.scores_[0, 4])
    assert fitted.ranks_[0, :4].tolist() == [1.0, 2.0, 3.0, 3.0]
    assert np.isnan(fitted.ranks_[0, 4]) and np.isnan(fitted.confidence_[0, 4])
    assert fitted.order_.tolist() == [[0, 1, 2, 3, -1]]


def test_local_kemenization_follows_the_pairwise_majority() -> None:
    # three workers say A > B > C, two say B > C > A: Borda puts B first (7 to 6), the majority A over B 3 to 2
    a, b = [1, 2, 3], [3, 1, 2]
    rows = _rows([[a, a, a, b, b]])
    plain = _fit(MallowsConsensus, rows, 1, 5, 3)
    kemenized = _fit(MallowsConsensus, rows, 1, 5, 3, local_kemeny=True)
    assert plain.ranks_.tolist() == [[2.0, 1.0, 3.0]]
    assert kemenized.ranks_.tolist() == [[1.0, 2.0, 3.0]]


def test_pairwise_preferences_with_a_reversed_worker() -> None:
    # GIVEN 4 objects of 3 items; workers 0-2 compare (0, 1), (1, 2), (0, 2) as the truth says (0 > 1 > 2),
    # except that worker 1 prefers 2 over 1 on object 0; worker 3 answers every comparison backwards
    objects, workers, first, second, outcome = [], [], [], [], []
    for o in range(4):
        for w in range(4):
            for x, y in ((0, 1), (1, 2), (0, 2)):
                truthful = not (w == 1 and o == 0 and (x, y) == (1, 2))
                objects.append(o)
                workers.append(w)
                first.append(x)
                second.append(y)
                outcome.append(float(truthful) if w < 3 else 0.0)
    mc = MallowsConsensus().fit_pairs(objects, workers, first, second, outcome, n_objects=4, n_workers=4, n_items=3)
    bc = BordaCount().fit_pairs(objects, workers, first, second, outcome, n_objects=4, n_workers=4, n_items=3)
    assert mc.ranks_.tolist() == [[1.0, 2.0, 3.0]] * 4
    assert mc.weights_[3] < 0
    # Borda ties items 1 and 2 on object 0 (two workers each way once worker 3's reversal is counted)
    assert bc.ranks_[0].tolist() == [1.0, 2.0, 2.0]


def test_a_prior_record_of_reversing_turns_a_lone_ranking_round() -> None:
    # GIVEN a batch where every object has one worker, so the batch itself teaches nothing
    rows = _rows([[[1, 2, 3]], [[3, 1, 2]]])
    plain = _fit(MallowsConsensus, rows, 2, 1, 3)
    # earlier batches found this worker disagreeing with the others on 40 of 45 pair weights
    known = MallowsConsensus().fit(*rows, n_objects=2, n_workers=1, n_items=3, prior=[[5.0, 40.0]])
    assert plain.ranks_.tolist() == [[1.0, 2.0, 3.0], [3.0, 1.0, 2.0]]
    assert known.ranks_.tolist() == [[3.0, 2.0, 1.0], [1.0, 3.0, 2.0]]
    assert known.reliability_[0] == pytest.approx((5 + 7.5) / (45 + 10))
    assert known.worker_statistics_.tolist() == [[0.0, 0.0]]


def test_worker_statistics_carry_a_job_over_batches() -> None:
    rng = np.random.default_rng(11)
    pool = [Ranker(noise=float(s)) for s in (0.3, 0.5, 0.8, 1.0, 1.2)] + [Ranker("reversed", noise=0.5)]
    crowd = ranking_crowd(rng, 60, pool, items=(4, 4), workers=(3, 4))
    first = crowd.objects < 30

    def fit(rows: np.ndarray, offset: int, prior: np.ndarray | None = None) -> MallowsConsensus:
        return MallowsConsensus().fit(
            crowd.objects[rows] - offset,
            crowd.workers[rows],
            crowd.items[rows],
            crowd.ranks[rows],
            n_objects=30,
            n_workers=6,
            n_items=4,
            prior=prior,
        )

    a = fit(first, 0)
    b = fit(~first, 30, a.worker_statistics_)
    b_alone = fit(~first, 30)
    joint = MallowsConsensus().fit(
        crowd.objects, crowd.workers, crowd.items, crowd.ranks, n_objects=60, n_workers=6, n_items=4
    )
    assert a.worker_statistics_.shape == (6, len(STATISTICS)) and (a.worker_statistics_ >= 0).all()
    assert np.abs(b.weights_ - joint.weights_).sum() < np.abs(b_alone.weights_ - joint.weights_).sum()
    assert joint.weights_[5] < 0 < joint.weights_[:5].min()


def test_the_consensus_is_at_least_borda_on_a_mixed_crowd() -> None:
    rng = np.random.default_rng(5)
    pool = [Ranker(noise=float(s)) for s in rng.uniform(0.3, 1.5, 10)] + [Ranker("reversed"), Ranker("lazy")]
    crowd = ranking_crowd(rng, 80, pool, items=(3, 6), workers=(3, 5))

    def tau(ranks: np.ndarray) -> float:
        # Kendall's tau-a against the truth per object, items both ranked and real
        out = []
        for o in range(crowd.n_objects):
            ok = ~np.isnan(ranks[o]) & ~np.isnan(crowd.utility[o])
            r, u = -ranks[o][ok], crowd.utility[o][ok]
            i, j = np.triu_indices(r.size, 1)
            out.append(float(np.mean(np.sign(r[i] - r[j]) * np.sign(u[i] - u[j]))))
        return float(np.mean(out))

    args = (crowd.objects, crowd.workers, crowd.items, crowd.ranks)
    kw = {"n_objects": crowd.n_objects, "n_workers": crowd.n_workers, "n_items": crowd.n_items}
    assert tau(MallowsConsensus().fit(*args, **kw).ranks_) > tau(BordaCount().fit(*args, **kw).ranks_) + 0.05


def test_simulated_pairs_fit_and_confidences_are_shares() -> None:
    rng = np.random.default_rng(2)
    crowd = pair_crowd(rng, 30, [Ranker(noise=0.5)] * 4 + [Ranker("random")], items=(2, 5), workers=(3, 4))
    mc = MallowsConsensus().fit_pairs(
        crowd.objects,
        crowd.workers,
        crowd.first,
        crowd.second,
        crowd.outcome,
        n_objects=crowd.n_objects,
        n_workers=crowd.n_workers,
        n_items=crowd.n_items,
    )
    conf = mc.confidence_[~np.isnan(mc.confidence_)]
    assert conf.size and (conf >= 0).all() and (conf <= 1).all()
    agreement = mc.agreement_[~np.isnan(mc.agreement_)]
    assert (agreement >= 0).all() and (agreement <= 1).all()


def test_rankings_to_pairs_skips_lone_items() -> None:
    o, _, _, _, out = rankings_to_pairs(
        np.array([0, 0, 1]), np.array([0, 1, 0]), np.array([0, 1, 0]), np.array([1.0, 1.0, 1.0])
    )
    assert o.size == 0 and out.size == 0


def test_an_empty_batch_fits() -> None:
    mc = MallowsConsensus().fit([], [], [], [], n_objects=0, n_workers=0, n_items=0)
    assert mc.ranks_.shape == (0, 0) and mc.worker_statistics_.shape == (0, 2)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (([0, 0], [0, 0], [1, 1], [1.0, 2.0]), "ranked the same item"),
        (([0], [0], [0, 1], [1.0]), "differ in length"),
        (([0], [0], [3], [1.0]), "outside 0..2"),
        (([0], [0], [0], [float("nan")]), "not finite"),
    ],
)
def test_bad_rankings_say_why(rows: Rows, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MallowsConsensus().fit(*rows, n_objects=1, n_workers=1, n_items=3)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (([0], [0], [0], [0], [1.0]), "an item with itself"),
        (([0], [0], [0], [1], [2.0]), "outcome must be"),
        (([0], [0], [0], [1], [1.0, 0.0]), "differ in length"),
    ],
)
def test_bad_pairs_say_why(pairs: tuple[list[int], list[int], list[int], list[int], list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MallowsConsensus().fit_pairs(*pairs, n_objects=1, n_workers=1, n_items=3)


@pytest.mark.parametrize(
    ("params", "prior", "message"),
    [
        ({"prior_agreement": 1.0}, None, "prior_agreement"),
        ({"n_iter": -1}, None, "n_iter"),
        ({"ridge": 0.0}, None, "ridge"),
        ({}, [[1.0]], "prior must have shape"),
        ({}, [[1.0, -1.0]], "non-negative"),
    ],
)
def test_bad_parameters_say_why(params: dict[str, Any], prior: list[list[float]] | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MallowsConsensus(**params).fit(
            [0, 0], [0, 0], [0, 1], [1.0, 2.0], n_objects=1, n_workers=1, n_items=2, prior=prior
        )
