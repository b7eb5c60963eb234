"""Span voting for named entities on hand-made answers (offsets are characters, end exclusive)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tally.aggregation.span_vote import Entity, SpanVote, span_f1
from tests.sim.classification import NerWorker, ner_crowd

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
LOC, ORG, PER = 0, 1, 2


def as_tuples(entities: list[Entity]) -> list[tuple[int, int, int, float, tuple[int, ...]]]:
    return [(e.label, e.start, e.end, round(e.confidence, 4), e.workers) for e in entities]


def test_real_ner_payload_one_worker_keeps_every_span() -> None:
    # GIVEN AWS's documented crowd-entity-annotation payload (one worker), parsed here
    obj = json.loads((REAL / "dg-lambda-requirements" / "ner.json").read_text())[0]
    text = obj["dataObject"]["content"]
    names: list[str] = []
    answers = []
    for w, ann in enumerate(obj["annotations"]):
        spans = []
        for ent in json.loads(ann["annotationData"]["content"])["crowd-entity-annotation"]["entities"]:
            names += [ent["label"]] if ent["label"] not in names else []
            spans.append((names.index(ent["label"]), ent["startOffset"], ent["endOffset"]))
        answers.append((w, spans))

    entities = SpanVote().fit_predict([answers])[0]

    # THEN the lone worker's spans stand, with full confidence; end offsets are exclusive
    assert [(names[e.label], text[e.start : e.end], e.confidence, e.workers) for e in entities] == [
        ("verb", "Sift", 1.0, (0,)),
        ("number", "3", 1.0, (0,)),
        ("object", "flour", 1.0, (0,)),
        ("object", "bowl", 1.0, (0,)),
    ]


def test_boundaries_by_mode() -> None:
    answers = [(0, [(LOC, 10, 15)]), (1, [(LOC, 10, 16)]), (2, [(LOC, 9, 15)])]
    assert as_tuples(SpanVote().vote(answers)) == [(LOC, 10, 15, 1.0, (0, 1, 2))]


def test_boundaries_without_a_mode_take_the_median() -> None:
    answers = [(0, [(LOC, 8, 15)]), (1, [(LOC, 9, 16)]), (2, [(LOC, 10, 17)])]
    assert as_tuples(SpanVote().vote(answers)) == [(LOC, 9, 16, 1.0, (0, 1, 2))]


def test_label_by_weighted_majority_and_ties_to_lower_index() -> None:
    answers = [(0, [(ORG, 0, 6)]), (1, [(ORG, 0, 6)]), (2, [(LOC, 0, 6)])]
    assert as_tuples(SpanVote().vote(answers)) == [(ORG, 0, 6, round(2 / 3, 4), (0, 1))]
    # two workers, one label each: a tie, the lower label index wins
    assert as_tuples(SpanVote().vote([(0, [(PER, 0, 6)]), (1, [(ORG, 0, 6)])])) == [(ORG, 0, 6, 0.5, (1,))]
    # weights break it instead
    weighted = SpanVote().vote([(0, [(PER, 0, 6)]), (1, [(ORG, 0, 6)])], {0: 1.0, 1: 0.5})
    assert as_tuples(weighted) == [(PER, 0, 6, round(1 / 1.5, 4), (0,))]


def test_keep_rule_counts_empty_answers() -> None:
    # GIVEN three workers: two mark "Paris", one marks nothing; one marks "Tuesday" alone
    answers = [(0, [(LOC, 0, 5)]), (1, [(LOC, 0, 5), (PER, 10, 17)]), (2, [])]
    # THEN Paris has 2 of 3 (kept), Tuesday 1 of 3 (dropped)
    assert as_tuples(SpanVote().vote(answers)) == [(LOC, 0, 5, round(2 / 3, 4), (0, 1))]
    # with two workers a span one of them marked reaches half: kept
    assert as_tuples(SpanVote().vote([(0, [(LOC, 0, 5)]), (1, [])])) == [(LOC, 0, 5, 0.5, (0,))]
    # no spans at all
    assert SpanVote().vote([(0, []), (1, [])]) == []


def test_empty_and_duplicate_spans_are_ignored() -> None:
    answers = [(0, [(LOC, 3, 3), (LOC, 0, 5), (LOC, 0, 5)]), (1, [(LOC, 0, 5)])]
    assert as_tuples(SpanVote().vote(answers)) == [(LOC, 0, 5, 1.0, (0, 1))]


def test_partial_overlaps_are_resolved_unless_allowed() -> None:
    # GIVEN "New York City hall": workers 1 and 2 mark chars 0-12 LOC; worker 0 marks 0-10 LOC and 10-15 ORG;
    # worker 3 marks 10-15 ORG. The 0-12 entity (marked by 3 of 4 workers) and the 10-15 one (2 of 4) overlap.
    answers = [
        (0, [(LOC, 0, 10), (ORG, 10, 15)]),
        (1, [(LOC, 0, 12)]),
        (2, [(LOC, 0, 12)]),
        (3, [(ORG, 10, 15)]),
    ]
    # THEN by default the better supported one stays (the element forbids selecting part of a highlight)
    assert as_tuples(SpanVote().vote(answers)) == [(LOC, 0, 12, 0.75, (0, 1, 2))]
    # and with allow_overlap both are kept
    assert as_tuples(SpanVote(allow_overlap=True).vote(answers)) == [
        (LOC, 0, 12, 0.75, (0, 1, 2)),
        (ORG, 10, 15, 0.5, (0, 3)),
    ]


def test_same_extent_with_two_labels_is_kept() -> None:
    # GIVEN both workers select "Amazon" twice, as company and as person (the element allows reselecting the whole)
    answers = [(0, [(ORG, 0, 6), (PER, 0, 6)]), (1, [(ORG, 0, 6), (PER, 0, 6)])]
    assert as_tuples(SpanVote().vote(answers)) == [(ORG, 0, 6, 1.0, (0, 1)), (PER, 0, 6, 1.0, (0, 1))]


def test_adjacent_entities_stay_apart_despite_jitter() -> None:
    # GIVEN "New York" (0-8) and "Times" (9-14); worker 1's first span runs one character into the second
    answers = [(0, [(LOC, 0, 8), (ORG, 9, 14)]), (1, [(LOC, 0, 10), (ORG, 9, 14)]), (2, [(LOC, 0, 8), (ORG, 9, 14)])]
    assert as_tuples(SpanVote().vote(answers)) == [(LOC, 0, 8, 1.0, (0, 1, 2)), (ORG, 9, 14, 1.0, (0, 1, 2))]


def spam_batch() -> list[list[tuple[int, list[tuple[int, int, int]]]]]:
    """Six objects: workers 0-2 mark the same entities, worker 3 marks a random-looking span elsewhere."""
    objects = []
    for i in range(6):
        truth = [(LOC, 0, 5 + i), (PER, 20, 26)]
        objects.append([(0, truth), (1, truth), (2, truth), (3, [(ORG, 10 + i, 13 + i)])])
    return objects


def test_fit_weights_careful_workers_over_a_spammer() -> None:
    sv = SpanVote().fit(spam_batch())
    # careful workers agree fully (F1 1), the spammer not at all (F1 0); the crowd mean is 0.75, and
    # 3 pseudo-objects of it are mixed into each worker's 6 objects
    assert sv.worker_agreement_.tolist() == [1.0, 1.0, 1.0, 0.0]
    assert sv.worker_evidence_.tolist() == [6, 6, 6, 6]
    assert np.allclose(sv.worker_weights_, [(6 + 2.25) / 9, (6 + 2.25) / 9, (6 + 2.25) / 9, 2.25 / 9])


def test_weights_decide_a_two_worker_disagreement() -> None:
    sv = SpanVote().fit(spam_batch())
    # GIVEN a new object answered by careful worker 0 and the spammer, each marking one span
    entities = sv.predict([(0, [(LOC, 0, 5)]), (3, [(ORG, 7, 9)])])
    # THEN only the careful worker's span reaches half the weight
    careful, spammer = sv.worker_weights_[0], sv.worker_weights_[3]
    assert as_tuples(entities) == [(LOC, 0, 5, round(careful / (careful + spammer), 4), (0,))]


def test_fit_on_single_answer_objects_has_no_evidence() -> None:
    sv = SpanVote().fit([[(0, [(LOC, 0, 3)])], [(1, [])]])
    assert sv.worker_evidence_.tolist() == [0, 0]
    assert sv.worker_weights_.tolist() == [1.0, 1.0]
    assert np.isnan(sv.worker_agreement_).all()


def test_span_f1_soft_credit() -> None:
    assert span_f1([], []) == (1.0, 1, 1)
    assert span_f1([(LOC, 0, 4)], []) == (0.0, 1, 0)
    assert span_f1([(LOC, 0, 4)], [(ORG, 0, 4)]) == (0.0, 1, 1)  # labels must agree
    assert span_f1([(LOC, 0, 4), (LOC, 0, 8)], [(LOC, 0, 8)]) == (1.0, 2, 1)  # one-to-one, best first
    credit, n_pred, n_ref = span_f1([(LOC, 0, 4)], [(LOC, 1, 5)])
    assert credit == pytest.approx(3 / 5) and (n_pred, n_ref) == (1, 1)


def test_simulated_crowd_spammer_gets_little_weight() -> None:
    # GIVEN a fixed simulated batch of 60 texts, 3 answers each, from three careful workers and a spammer
    rng = np.random.default_rng(2024)
    pool = [
        NerWorker(jitter=0.1, miss=0.05, extra=0.1),
        NerWorker(jitter=0.2, miss=0.1, extra=0.2),
        NerWorker(jitter=0.1, miss=0.1, extra=0.1),
        NerWorker(spam=True),
    ]
    crowd = ner_crowd(rng, 60, pool, answers=(3, 3))
    sv = SpanVote().fit(crowd.objects)
    # THEN the spammer weighs a small fraction of a careful worker, and most voted entities are exact
    assert sv.worker_weights_[3] < 0.1 < 0.6 < sv.worker_weights_[:3].min()
    predicted = [sv.predict(obj) for obj in crowd.objects]
    tp = sum(len({(e.label, e.start, e.end) for e in p} & set(t)) for p, t in zip(predicted, crowd.truth, strict=True))
    size = sum(len(p) + len(t) for p, t in zip(predicted, crowd.truth, strict=True))
    assert 2 * tp / size > 0.7


def test_fit_clusters_each_object_once_and_predict_votes_the_fits_clusters(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a simulated batch of 40 texts, 1-5 answers each
    rng = np.random.default_rng(7)
    pool = [NerWorker(jitter=0.1, miss=0.05), NerWorker(jitter=0.2, extra=0.2), NerWorker(spam=True)]
    objects = ner_crowd(rng, 40, pool, answers=(1, 3)).objects
    fresh_model = SpanVote().fit(objects)
    fresh = [fresh_model.predict([(w, list(spans)) for w, spans in obj]) for obj in objects]  # equal copies
    prepared: list[int] = []
    real = SpanVote._prepare

    def counted(self: SpanVote, answers: Any) -> Any:
        prepared.append(1)
        return real(self, answers)

    monkeypatch.setattr(SpanVote, "_prepare", counted)
    # WHEN fitted and predicted on the same objects
    voted = SpanVote().fit_predict(objects)
    # THEN each object was clustered once (in the fit), and the votes are those of a fresh clustering
    assert len(prepared) == len(objects)
    assert voted == fresh
