"""Label Studio gold (``ground_truth``) scores the annotators for the geometric and pixel kinds: a gold
object is still the gold answer alone (never outvoted), and the other answers to it are judged against
it by the kind's worker model, so their weights on the other objects come from the gold, not only from
agreement.

The crowds (:mod:`tests.sim.gold`): 40 tasks, each answered by ``bo``, who answers every task with
shapes of his own that agree with nobody, and by a careful annotator of their own habits (edge noise,
misses, wrong classes drawn per seed): masks, one of four in turn; boxes, keypoints and polygons, the
same one on every task (a two-annotator project: where several careful annotators share the tasks,
agreement alone already finds ``bo`` for those kinds, as it does for masks when 30 % of the tasks have
a second careful annotator, and the gold changes next to nothing: ``bench/gold.py``,
docs/benchmarks.md). A reviewer's annotation (the truth) marked ``ground_truth`` is on 8 tasks. With
two answers a task, agreement alone cannot say which of the two to believe; the gold can. Tuned on
seeds 1–3; judged on seeds 4–12.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests.sim.gold import brush_export, gold_alone, non_gold_quality, shape_export

JUDGED = range(4, 13)


@pytest.mark.parametrize(
    ("kind", "fixed", "means", "margin"),
    [
        ("semantic", (0.7029, 0.473), (0.734, 0.463), 0.05),
        ("boxes", (0.9075, 0.5968), (0.886, 0.576), 0.1),
        ("keypoints", (0.8969, 0.5973), (0.905, 0.593), 0.1),
        ("polygons", (0.8788, 0.507), (0.879, 0.532), 0.1),
    ],
)
def test_gold_scores_the_annotators_for_the_other_tasks(
    kind: str, fixed: tuple[float, float], means: tuple[float, float], margin: float, tmp_path: Path
) -> None:
    scored: list[float] = []
    alone: list[float] = []
    for seed in JUDGED:
        tasks, truth, gold = brush_export(seed) if kind == "semantic" else shape_export(kind, seed, pool_size=1)
        for name, export, runs in (("scored", tasks, scored), ("alone", gold_alone(tasks), alone)):
            quality, held = non_gold_quality(kind, export, truth, gold, tmp_path / f"{seed}-{name}")
            assert held  # never outvoted: a gold task is its gold answer, with confidence 1
            runs.append(quality)
    assert (round(scored[0], 4), round(alone[0], 4)) == fixed  # the fixed seed 4
    assert all(s > a + margin for s, a in zip(scored, alone, strict=True)), (scored, alone)
    assert (round(statistics.mean(scored), 3), round(statistics.mean(alone), 3)) == means


def test_a_gold_mask_the_core_cannot_read_leaves_the_object_to_the_crowd(tmp_path: Path, capsys: Any) -> None:
    import json

    from tally.importers.model import GOLD_MODEL_NOTE, GOLD_UNREAD_NOTE
    from tally.tools.cli import main

    tasks, truth, gold = brush_export(4, n=6, n_gold=2)
    first, second = sorted(gold)
    for result in tasks[first]["annotations"][0]["result"]:  # the gold mask, the wrong size
        result["original_width"] = 32
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    out = tmp_path / "out"
    assert main(["consolidate", "--from", "labelstudio", str(tmp_path / "export.json"), "--out", str(out)]) == 0
    capsys.readouterr()
    lines = (out / "results.jsonl").read_text().splitlines()
    labels = [json.loads(line)["consolidatedAnnotation"]["content"]["label"] for line in lines]
    assert labels[first]["gold-answers"] == {"workers": ["rev"], "note": GOLD_UNREAD_NOTE}
    assert [r["workerId"] for r in labels[first]["rejected-answers"]] == ["rev"]  # the odd size out
    crowd = [a["completed_by"]["email"] for a in tasks[first]["annotations"][1:]]
    assert [q["workerId"] for q in labels[first]["worker-quality"]] == crowd  # the crowd voted it
    held = labels[second]["gold-answers"]
    assert (held["workers"], held["note"], [s["workerId"] for s in held["scores"]]) == (
        ["rev"], GOLD_MODEL_NOTE, [a["completed_by"]["email"] for a in tasks[second]["annotations"][1:]]
    )  # fmt: skip
    with Image.open(out / labels[second]["mask-ref"]) as image:
        assert np.array_equal(np.asarray(image), truth[second])
