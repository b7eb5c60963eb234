"""Gold answers scoring the annotators (issue 23): ``PYTHONPATH=. .venv/bin/python bench/gold.py``.
Prints a Markdown table for docs/benchmarks.md.

For masks, boxes, keypoints, polygons, text spans and a form's boxes (``form boxes``: each annotation also
answers a choice, so the import is a form and the boxes its field ``shape``), simulated Label Studio exports (:mod:`tests.sim.gold`: a
careful annotator of their own habits on every task, ``bo`` on every task with shapes of his own that
agree with nobody, a reviewer's gold on 8 of 40 tasks) go through ``tally consolidate --from
labelstudio`` twice: as they are (the gold scores the annotators) and with every gold task cut to its
gold answer (before: the gold answer alone, the others neither voted nor teaching anything). The figure
is the mean over the non-gold tasks of the result's quality against the truth (masks: mean IoU; shapes:
F1 at IoU 0.5 / within 5 % of the diagonal, the same label; spans: F1 of the spans identical to a true
one). Two crowd shapes per kind:

* ``two answers``: the tests' crowd (masks: one of four careful annotators per task; shapes: the same
  one on every task), where agreement alone cannot tell ``bo`` from the careful annotator;
* ``shared``: four careful annotators, a second one on 30 % of the tasks, where agreement alone finds ``bo``.

Numbers and free text (``number``, ``text``: :func:`tests.sim.gold.value_export`, two answers a task, a
careful annotator and ``oz``, wrong in a habit of his own: a hidden offset, a swapped word) have the
``two answers`` crowd only; their figure is the non-gold mean absolute error (lower is better) or
exact-match accuracy.

Seeds 1–3 were looked at while the crowds were chosen; 4–12 are reported (``--seeds``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.gold import (  # noqa: E402
    brush_export,
    gold_alone,
    non_gold_quality,
    shape_export,
    shape_form_export,
    span_export,
    value_export,
    value_quality,
)

KINDS = ("semantic", "boxes", "keypoints", "polygons", "entities", "form boxes", "number", "text")
VALUES = ("number", "text")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="4-12", help="first-last seed (default 4-12)")
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    args = parser.parse_args()
    first, last = (int(s) for s in args.seeds.split("-"))
    print("| kind | crowd | gold scores the annotators | gold answer alone (before) | difference | seeds worse |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.kinds.split(","):
            for crowd in ("two answers",) if kind in VALUES else ("two answers", "shared"):
                scored: list[float] = []
                alone: list[float] = []
                pair_share, pool_size = (0.0, 1) if crowd == "two answers" else (0.3, 4)
                field = "shape" if kind == "form boxes" else None
                judged = "boxes" if kind == "form boxes" else kind
                for seed in range(first, last + 1):
                    if kind in VALUES:
                        tasks, truth, gold = value_export(kind, seed)
                        for name, export, runs in (("s", tasks, scored), ("a", gold_alone(tasks), alone)):
                            work = Path(tmp) / f"{kind}-{seed}-{name}"
                            quality, held = value_quality(kind, export, truth, gold, work)
                            if not held and name == "s":
                                raise AssertionError(f"{kind} seed {seed}: a gold task was outvoted")
                            runs.append(quality)
                        continue
                    if kind == "semantic":
                        tasks, truth, gold = brush_export(seed, pair_share=pair_share)
                    elif kind == "entities":
                        tasks, truth, gold = span_export(seed, pair_share=pair_share, pool_size=pool_size)
                    elif kind == "form boxes":
                        tasks, truth, gold = shape_form_export(
                            "boxes", seed, pair_share=pair_share, pool_size=pool_size
                        )
                    else:
                        tasks, truth, gold = shape_export(kind, seed, pair_share=pair_share, pool_size=pool_size)
                    for name, export, runs in (("s", tasks, scored), ("a", gold_alone(tasks), alone)):
                        work = Path(tmp) / f"{kind}-{crowd}-{seed}-{name}".replace(" ", "")
                        quality, held = non_gold_quality(judged, export, truth, gold, work, field)
                        if not held and name == "s":
                            raise AssertionError(f"{kind} seed {seed}: a gold task was outvoted")
                        runs.append(quality)
                sign = -1.0 if kind == "number" else 1.0  # an error: lower is better
                worse = sum(1 for s, a in zip(scored, alone, strict=True) if sign * (s - a) < 0)
                mean_s, mean_a = statistics.mean(scored), statistics.mean(alone)
                print(
                    f"| {kind} | {crowd} | {mean_s:.3f} | {mean_a:.3f} | {mean_s - mean_a:+.3f} | {worse} of {len(scored)} |"
                )


if __name__ == "__main__":
    main()
