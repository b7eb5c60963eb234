"""Dawid–Skene on tiny hand-made crowds whose right answers are known (classes: 0 = Dog, 1 = Cat)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tally.aggregation.base import ClassAnswers, LabelSetAnswers
from tally.aggregation.dawid_skene import DawidSkene, MultiLabelDawidSkene, resolve_ties
from tests.sim.classification import ClassWorker, classification_crowd

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
N = 24
TRUTH = [i % 2 for i in range(N)]  # Dog, Cat, Dog, Cat, ...


def careful(i: int, w: int) -> int:
    """Careful worker w (0..2) answers object i; each is wrong on a different eighth of the objects."""
    return TRUTH[i] if (i + 3 * w) % 8 else 1 - TRUTH[i]


def careful_crowd() -> tuple[list[int], list[int], list[int]]:
    tasks, workers, labels = [], [], []
    for i in range(N):
        for w in (0, 1, 2):
            tasks.append(i)
            workers.append(w)
            labels.append(careful(i, w))
    return tasks, workers, labels


@pytest.mark.parametrize(("n_iter", "tol"), [(100, 1e-6), (20, 1e-3)])
def test_swapper_is_corrected_even_alone(n_iter: int, tol: float) -> None:
    # GIVEN three careful workers and worker 3 who always calls a Dog a Cat and a Cat a Dog
    tasks, workers, labels = careful_crowd()
    tasks += list(range(N))
    workers += [3] * N
    labels += [1 - t for t in TRUTH]
    # object 24: the swapper alone says Cat; object 25: the swapper says Dog, careful worker 0 says Cat
    tasks += [N, N + 1, N + 1]
    workers += [3, 3, 0]
    labels += [1, 0, 1]

    ds = DawidSkene(n_iter=n_iter, tol=tol).fit(
        ClassAnswers(tasks, workers, labels, n_tasks=N + 2, n_workers=4, n_classes=2)
    )

    # THEN every object is right, the swapper's lone "Cat" becomes Dog, and the swap is in its matrix
    assert ds.labels_.tolist() == [*TRUTH, 0, 1]
    assert ds.errors_[3, 0, 1] > 0.75 and ds.errors_[3, 1, 0] > 0.75
    assert ds.posteriors_[N, 0] > 0.75
    # a perfect swapper is as informative as a careful worker, though its accuracy is low
    assert ds.accuracies_[3] < 0.25 < 0.75 < ds.accuracies_[0]
    assert ds.informativeness_[3] > 0.25
    assert 1 <= ds.n_iter_ <= n_iter


def test_spammer_weighs_nothing() -> None:
    # GIVEN a careful crowd, and the same crowd plus a spammer who says Dog twice as often as Cat
    # whatever the animal (independent of the truth and of the careful workers' slips)
    tasks, workers, labels = careful_crowd()
    without = DawidSkene().fit(ClassAnswers(tasks, workers, labels, n_tasks=N, n_workers=4, n_classes=2))
    spam = [(i // 8) % 2 for i in range(N)]
    with_spammer = DawidSkene().fit(
        ClassAnswers(tasks + list(range(N)), workers + [3] * N, labels + spam, n_tasks=N, n_workers=4, n_classes=2)
    )

    # THEN the spammer changes no decision, barely moves a posterior, and is rated uninformative
    assert without.labels_.tolist() == TRUTH
    assert with_spammer.labels_.tolist() == TRUTH
    assert float(np.abs(with_spammer.posteriors_ - without.posteriors_).max()) < 0.1
    assert with_spammer.informativeness_[3] < 0.02
    assert with_spammer.informativeness_[:3].min() > 0.25
    # the spammer's two confusion rows are nearly the same distribution
    assert abs(with_spammer.errors_[3, 0, 0] - with_spammer.errors_[3, 1, 0]) < 0.15


def test_one_worker_batch_keeps_every_answer() -> None:
    # GIVEN a batch where every object has one answer from the same worker, 9 Dogs to 1 Cat
    answers = [0] * 9 + [1]
    ds = DawidSkene().fit(ClassAnswers(list(range(10)), [0] * 10, answers, n_tasks=10, n_workers=1, n_classes=2))

    # THEN nothing is learnt from lone answers: each stands, with the prior's accuracy as posterior
    assert ds.labels_.tolist() == answers
    assert np.allclose(ds.posteriors_.max(axis=1), 0.7)
    assert np.allclose(ds.priors_, [0.5, 0.5])
    assert ds.worker_statistics_.sum() == 0.0


def test_good_workers_lone_answer_stands() -> None:
    # GIVEN careful workers with a record, and object 24 answered only by careful worker 1: Cat
    tasks, workers, labels = careful_crowd()
    ds = DawidSkene().fit(
        ClassAnswers([*tasks, N], [*workers, 1], [*labels, 1], n_tasks=N + 1, n_workers=3, n_classes=2)
    )
    # THEN it stands, with the worker's record as confidence
    assert ds.labels_.tolist() == [*TRUTH, 1]
    assert 0.75 < ds.posteriors_[N, 1] < 0.95


def test_lone_answer_of_new_worker_stands() -> None:
    # GIVEN a worker never seen before answering one object alone: Cat
    tasks, workers, labels = careful_crowd()
    ds = DawidSkene().fit(
        ClassAnswers([*tasks, N], [*workers, 3], [*labels, 1], n_tasks=N + 1, n_workers=4, n_classes=2)
    )
    # THEN the prior (better than chance) keeps the answer: posterior = the prior accuracy, priors balanced
    assert ds.labels_[N] == 1
    assert np.allclose(ds.errors_[3], [[0.7, 0.3], [0.3, 0.7]])
    assert ds.posteriors_[N, 1] == pytest.approx(0.7, abs=0.02)


def test_prior_counts_from_earlier_batches_persist() -> None:
    # GIVEN earlier batches showed worker 1 swapping Dog and Cat (40 answers), worker 0 accurate
    prior = np.zeros((2, 2, 2))
    prior[0] = [[20, 0], [0, 20]]
    prior[1] = [[0, 20], [20, 0]]
    # AND this batch: both answer objects 0–5, worker 1 always opposite to worker 0 (consistent with the
    # swap); object 6: worker 1 alone says Cat
    truth = [0, 1, 0, 1, 0, 0]
    tasks = [i for i in range(6) for _ in (0, 1)] + [6]
    workers = [0, 1] * 6 + [1]
    labels = [a for t in truth for a in (t, 1 - t)] + [1]

    ds = DawidSkene().fit(ClassAnswers(tasks, workers, labels, n_tasks=7, n_workers=2, n_classes=2), prior)

    # THEN worker 1 stays a swapper (the prior is added in every M-step, not only the first), its lone
    # "Cat" is corrected to Dog, and this batch's own counts are exposed for the next batch
    assert ds.labels_.tolist() == [*truth, 0]
    assert ds.errors_[1, 0, 1] > 0.85 and ds.errors_[1, 1, 0] > 0.85
    assert ds.worker_statistics_.sum() == pytest.approx(
        12.0
    )  # the 12 answers on objects with two answers; not the lone one
    assert ds.worker_statistics_[1, :, 1].sum() == pytest.approx(truth.count(0))  # worker 1 said Cat on the Dogs


def test_two_way_tie_goes_to_lower_index() -> None:
    # GIVEN two workers who disagree on both objects, symmetrically
    ds = DawidSkene().fit(ClassAnswers([0, 0, 1, 1], [0, 1, 0, 1], [0, 1, 1, 0], n_tasks=2, n_workers=2, n_classes=2))
    # THEN the posteriors are 0.5/0.5, the priors equal, and the lower class index wins
    assert np.allclose(ds.posteriors_, 0.5)
    assert ds.labels_.tolist() == [0, 0]


def test_tie_rule_prefers_larger_prior_then_lower_index() -> None:
    post = np.array([[0.4, 0.4, 0.2], [0.3, 0.35, 0.35], [1 / 3, 1 / 3, 1 / 3], [0.1, 0.2, 0.7]])
    assert resolve_ties(post, np.array([0.2, 0.5, 0.3])).tolist() == [1, 1, 1, 2]
    assert resolve_ties(post, np.array([0.4, 0.3, 0.3])).tolist() == [0, 1, 0, 2]


def test_object_without_answers_gets_the_priors() -> None:
    tasks, workers, labels = careful_crowd()
    ds = DawidSkene().fit(ClassAnswers(tasks, workers, labels, n_tasks=N + 1, n_workers=3, n_classes=2))
    assert np.allclose(ds.posteriors_[N], ds.priors_)


def test_three_classes_with_a_biased_worker() -> None:
    # GIVEN 3 classes, careful workers 0, 1, 3 (1 slips on objects 0, 6, 12; 3 says class 2 on objects
    # 3, 9, 15) and worker 2 who says class 2 for everything
    truth = [0, 1, 2] * 6
    tasks = [i for i in range(18) for _ in range(4)]
    workers = [0, 1, 2, 3] * 18
    labels = [a for i, t in enumerate(truth) for a in (t, 1 if i % 6 == 0 else t, 2, 2 if i % 6 == 3 else t)]
    ds = DawidSkene().fit(ClassAnswers(tasks, workers, labels, n_tasks=18, n_workers=4, n_classes=3))
    # THEN the biased worker never decides: on objects 3, 9, 15 the count is two for class 0 (careful) and
    # two for class 2 (worker 3's slip and the biased worker), and class 0 wins; it is rated uninformative
    assert ds.labels_.tolist() == truth
    assert ds.informativeness_[2] < 0.1 < 0.4 < ds.informativeness_[[0, 1, 3]].min()
    assert ds.errors_.shape == (4, 3, 3)
    assert np.allclose(ds.errors_.sum(axis=2), 1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tasks": [0, 2], "workers": [0, 0], "labels": [0, 1]}, "1 tasks are outside 0..1"),
        ({"tasks": [0, 1], "workers": [0, 0], "labels": [0, 5]}, "1 labels are outside 0..1"),
        ({"tasks": [0, 1], "workers": [0], "labels": [0, 1]}, "differ in length"),
        ({"tasks": [0.0, 1.0], "workers": [0, 0], "labels": [0, 1]}, "integer indices"),
    ],
)
def test_bad_input_raises_with_a_count(kwargs: dict[str, list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClassAnswers(**kwargs, n_tasks=2, n_workers=1, n_classes=2)


def test_prior_shape_checked() -> None:
    answers = ClassAnswers([0], [0], [0], n_tasks=1, n_workers=1, n_classes=2)
    with pytest.raises(ValueError, match=r"prior must have shape \(1, 2, 2\)"):
        DawidSkene().fit(answers, np.zeros((2, 2, 2)))


def test_multi_label_per_label_swapper_and_empty_answers() -> None:
    # GIVEN labels (Dog, Cat, Bird); workers 0 and 1 careful; worker 2 ticks Cat exactly when it is absent
    truth = [[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 1]] * 4
    tasks, workers, sets = [], [], []
    for i, row in enumerate(truth):
        for w in (0, 1, 2):
            answer = list(row)
            if w == 2:
                answer[1] = 1 - row[1]
            if w == 1 and i % 6 == 3:
                answer[0] = 1  # worker 1 sometimes sees a Dog that is not there
            tasks.append(i)
            workers.append(w)
            sets.append(answer)
    # object 24: only worker 2 answers, ticking nothing (so: Cat, by its record)
    tasks.append(24)
    workers.append(2)
    sets.append([0, 0, 0])

    ml = MultiLabelDawidSkene().fit(LabelSetAnswers(tasks, workers, sets, n_tasks=25, n_workers=3))

    assert ml.labels_.astype(int).tolist() == [*truth, [0, 1, 0]]
    assert ml.posteriors_.shape == (25, 3)
    assert ml.errors_.shape == (3, 3, 2, 2)
    assert ml.errors_[2, 1, 0, 1] > 0.75  # worker 2 ticks Cat when absent
    assert ml.accuracies_[2, 1] < 0.25 and ml.accuracies_[2, 0] > 0.75
    assert ml.worker_statistics_.shape == (3, 3, 2, 2)


def test_multi_label_rejects_non_binary_sets() -> None:
    with pytest.raises(ValueError, match="only 0 and 1"):
        LabelSetAnswers([0], [0], [[2, 0]], n_tasks=1, n_workers=1)


def test_real_text_classification_job_matches_its_author() -> None:
    """The ppi-crowd-classifier payload (a real <crowd-classifier name="category"> job, one worker)."""
    # GIVEN the real payload, parsed here: answers {"category": {"label": ...}}
    payload = json.loads((REAL / "ppi-crowd-classifier" / "payload.json").read_text())
    expected = json.loads((REAL / "ppi-crowd-classifier" / "expected_by_author.json").read_text())
    attr = json.loads((REAL / "ppi-crowd-classifier" / "event.json").read_text())["labelAttributeName"]
    names: list[str] = []  # the event has no labelCategories: labels in order of first appearance
    worker_ids: list[str] = []
    tasks, workers, labels = [], [], []
    for i, obj in enumerate(payload):
        for ann in obj["annotations"]:
            label = json.loads(ann["annotationData"]["content"])["category"]["label"]
            names += [label] if label not in names else []
            worker_ids += [ann["workerId"]] if ann["workerId"] not in worker_ids else []
            tasks.append(i)
            workers.append(worker_ids.index(ann["workerId"]))
            labels.append(names.index(label))

    ds = DawidSkene().fit(
        ClassAnswers(
            tasks, workers, labels, n_tasks=len(payload), n_workers=len(worker_ids), n_classes=max(len(names), 2)
        )
    )

    # THEN each object's class is the author's result (one worker: every lone answer stands)
    got = {obj["datasetObjectId"]: names[ds.labels_[i]] for i, obj in enumerate(payload)}
    want = {e["datasetObjectId"]: e["consolidatedAnnotation"]["content"][attr]["result"] for e in expected}
    assert got == want == {"7": "Correct", "5": "Incorrect - NER"}
    # the author reports no confidence; ours is the prior's presumed accuracy of an unknown worker (AWS's
    # built-in reports 0.00 for one worker)
    assert np.allclose(ds.posteriors_.max(axis=1), 0.7)


def test_beats_majority_on_a_simulated_crowd_with_a_swapper_and_a_spammer() -> None:
    # GIVEN a fixed simulated batch: 400 objects, 3 classes, 3 answers each, from 6 careful workers,
    # a swapper (classes 0 and 1) and a spammer
    rng = np.random.default_rng(12345)
    pool = [ClassWorker(a) for a in (0.9, 0.85, 0.8, 0.75, 0.7, 0.7)]
    pool += [ClassWorker(0.9, "swapper", (0, 1)), ClassWorker(kind="spammer")]
    crowd = classification_crowd(rng, 400, pool, n_classes=3, answers=(3, 3))
    answers = ClassAnswers(
        crowd.tasks, crowd.workers, crowd.labels, n_tasks=crowd.n_tasks, n_workers=crowd.n_workers, n_classes=3
    )
    ds = DawidSkene().fit(answers)
    votes = np.zeros((crowd.n_tasks, 3))
    np.add.at(votes, (crowd.tasks, crowd.labels), 1.0)
    # THEN DS is right more often than the plain vote (ties to the lowest index), and it found the swap
    assert (ds.labels_ == crowd.truth).mean() > (votes.argmax(axis=1) == crowd.truth).mean() + 0.05
    assert ds.errors_[6, 0, 1] > 0.75 and ds.errors_[6, 1, 0] > 0.7
    assert ds.informativeness_[7] < 0.05 < 0.2 < ds.informativeness_[:6].min()


def test_predict_returns_the_fitted_labels_and_decides_other_answers_with_the_fitted_matrices() -> None:
    tasks, workers, labels = careful_crowd()
    answers = ClassAnswers(tasks, workers, labels, n_tasks=N, n_workers=3, n_classes=2)
    ds = DawidSkene().fit(answers)
    assert ds.predict(answers) is ds.labels_  # the fit's own decisions, not computed again
    again = ClassAnswers(tasks, workers, labels, n_tasks=N, n_workers=3, n_classes=2)
    assert ds.predict(again).tolist() == ds.labels_.tolist() == TRUTH
    # a new batch: worker 0 alone says Cat on object 0; an unknown worker 3 alone says Dog on object 1
    new = ClassAnswers([0, 1], [0, 3], [1, 0], n_tasks=2, n_workers=4, n_classes=2)
    assert ds.predict(new).tolist() == [1, 0]
    with pytest.raises(ValueError, match="the model has 2 classes, the answers 3"):
        ds.predict(ClassAnswers([0], [0], [2], n_tasks=1, n_workers=1, n_classes=3))


def test_worker_evidence_counts_the_answers_behind_each_matrix() -> None:
    # workers 0-2 answered every object together (N answers each; a lone one more for worker 2 counts
    # nothing); worker 3 answered only alone, but the prior holds 10 of its answers
    tasks, workers, labels = careful_crowd()
    answers = ClassAnswers(
        [*tasks, N, N + 1], [*workers, 2, 3], [*labels, 0, 1], n_tasks=N + 2, n_workers=4, n_classes=2
    )
    prior = np.zeros((4, 2, 2))
    prior[3] = [[5, 0], [0, 5]]
    ds = DawidSkene().fit(answers, prior)
    assert ds.worker_evidence_.tolist() == [N, N, N, 10.0]
    alone = DawidSkene().fit(ClassAnswers([0, 1], [0, 1], [0, 1], n_tasks=2, n_workers=2, n_classes=2))
    assert alone.worker_evidence_.tolist() == [0.0, 0.0]
