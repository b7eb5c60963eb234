"""Label Studio gold (``ground_truth``) teaches the batch model for text spans and for a form's shape
field too: a gold object (a gold form's field) is still the gold answer alone, confidence 1, and the
other answers to it are judged against it by the kind's worker model (spans: :class:`SpanVote`'s
``known``; a form's boxes: the boxes task's, as for a lone box field), so their weights on the other
objects come from the gold.

The crowds (:mod:`tests.sim.gold`): 40 tasks, each answered by one careful annotator of their own habits
(misses, wrong classes and, for spans, a word too many or too few at one end, drawn per seed) and by
``bo``, whose answers agree with nobody; the reviewer's truth marked ``ground_truth`` on 8 tasks. With two
answers a task, agreement alone cannot say which to believe; the gold can. Before: the gold tasks cut to
their gold answer (what the import did with spans and a form's shapes before). Tuned on seeds 1–3;
judged on seeds 4–12.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from tests.sim.gold import gold_alone, non_gold_quality, shape_form_export, span_export

JUDGED = range(4, 13)


def test_gold_spans_teach_the_span_vote_who_the_bad_annotator_is(tmp_path: Path) -> None:
    scored: list[float] = []
    alone: list[float] = []
    for seed in JUDGED:
        tasks, truth, gold = span_export(seed)
        for name, export, runs in (("scored", tasks, scored), ("alone", gold_alone(tasks), alone)):
            quality, held = non_gold_quality("entities", export, truth, gold, tmp_path / f"{seed}-{name}")
            assert held  # never outvoted: a gold task is its gold answer, with confidence 1
            runs.append(quality)
    assert (round(scored[0], 4), round(alone[0], 4)) == (0.6815, 0.3988)  # the fixed seed 4
    assert all(s > a + 0.2 for s, a in zip(scored, alone, strict=True)), (scored, alone)
    assert (round(statistics.mean(scored), 3), round(statistics.mean(alone), 3)) == (0.759, 0.452)


def test_a_gold_forms_boxes_teach_the_fields_model(tmp_path: Path) -> None:
    scored: list[float] = []
    alone: list[float] = []
    for seed in JUDGED:
        tasks, truth, gold = shape_form_export("boxes", seed)
        quality, held = non_gold_quality("boxes", tasks, truth, gold, tmp_path / f"{seed}-scored", field="shape")
        assert held  # the form's box field on a gold task: the gold boxes, confidence 1
        scored.append(quality)
        # before, the field was its gold answer alone, voted as any lone answer (its confidence not 1)
        quality, _ = non_gold_quality(
            "boxes", gold_alone(tasks), truth, gold, tmp_path / f"{seed}-alone", field="shape"
        )
        alone.append(quality)
    assert (round(scored[0], 4), round(alone[0], 4)) == (0.9075, 0.5968)  # the fixed seed 4
    assert all(s > a + 0.2 for s, a in zip(scored, alone, strict=True)), (scored, alone)
    # the same figures as the lone box field's (tests/tools/test_importer_gold_geometry.py): the field's
    # model is the boxes task's, taught the same way
    assert (round(statistics.mean(scored), 3), round(statistics.mean(alone), 3)) == (0.886, 0.576)


def test_every_kind_a_label_studio_form_consolidates_is_taught_by_gold() -> None:
    # the form import sends a gold item's other answers to the field's batch model beside the gold
    # answer only for the kinds in GOLD_FORM_TAUGHT (no branch is left to score them apart): a Label
    # Studio kind outside it would see its other answers silently voted, so every kind its reader makes
    # (a choice field turns multi-label when answers pick several) must be in it
    from tally.importers import labelstudio
    from tally.importers.model import CONSOLIDATED_KINDS, GOLD_FORM_TAUGHT

    made = {*labelstudio._REGION_KINDS.values(), *labelstudio._VALUE_KINDS.values(), "multi-label"}
    assert made & CONSOLIDATED_KINDS <= GOLD_FORM_TAUGHT
    assert made - CONSOLIDATED_KINDS == set()  # (a kind the import does not consolidate would be kept as given)
