"""Classification, multi-label and named-entity benchmark: `make bench-classification`.

Simulated crowds with known truth (:mod:`tests.sim.classification`), one batch per scenario and seed.
Seeds are split: **tuning seeds** (the defaults of tally's algorithms were chosen on them, with
``--tune`` printing the grid that was looked at) and **report seeds** (never tuned on); the tables
printed for the docs use the report seeds only, and both lists are printed.

Methods, single label:

* ``tally DS``: :class:`tally.aggregation.dawid_skene.DawidSkene` with its defaults;
* ``majority``: plain majority vote, ties broken at random (seeded), as AWS's MDS notebook's baseline;
* crowd-kit ``DawidSkene``, ``GLAD`` and ``MACE`` with their defaults (pandas data frames).

Multi-label: ``tally ML-DS`` (:class:`~tally.aggregation.dawid_skene.MultiLabelDawidSkene`) against a
per-label majority (present when at least half the answers tick it). Metrics: exact set match,
macro-F1 over labels.

Named entities: ``tally SpanVote`` (fitted weights) against the same vote with equal weights and a
plain majority of exact spans (a ``(label, start, end)`` kept when at least half the workers gave exactly
it). Metric: entity F1 with exact match of label, start and end (micro over the batch).

Timing: fitting on one 1,000-object × 5-answer batch (best of ``--repeats``, the methods interleaved in
one process); for ``SpanVote`` also its kept clusters (the fit's work ``predict`` reuses): their memory
(tracemalloc: what dropping them frees) and predict on the fitted objects against predict on equal
copies (clustered again). Results are printed and written to ``bench/results/classification.md``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from crowdkit.aggregation import GLAD, MACE  # type: ignore[import-not-found,unused-ignore]
from crowdkit.aggregation import DawidSkene as CKDawidSkene  # type: ignore[import-not-found,unused-ignore]

from tally.aggregation.base import ClassAnswers, LabelSetAnswers
from tally.aggregation.dawid_skene import DawidSkene, MultiLabelDawidSkene
from tally.aggregation.span_vote import SpanVote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.classification import (  # noqa: E402
    ClassCrowd,
    ClassWorker,
    LabelWorker,
    NerWorker,
    classification_crowd,
    multilabel_crowd,
    ner_crowd,
)

RESULTS = ROOT / "bench" / "results" / "classification.md"
TUNING_SEEDS = (0, 1, 2)
REPORT_SEEDS = (101, 102, 103, 104, 105)
Span = tuple[int, int, int]


# ---------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    n_classes: int
    answers: tuple[int, int]
    class_probs: tuple[float, ...] | None
    pool: Callable[[np.random.Generator], list[ClassWorker]]


def _careful(rng: np.random.Generator, n: int, lo: float, hi: float) -> list[ClassWorker]:
    return [ClassWorker(accuracy=float(a)) for a in rng.uniform(lo, hi, size=n)]


SCENARIOS = [
    Scenario("careful, 3 answers, K=3", 3, (3, 3), None, lambda r: _careful(r, 12, 0.6, 0.9)),
    Scenario(
        "2 swappers + 2 spammers of 12, 3 answers, K=3",
        3,
        (3, 3),
        None,
        lambda r: [
            *_careful(r, 8, 0.65, 0.9),
            ClassWorker(0.85, "swapper", (0, 1)),
            ClassWorker(0.85, "swapper", (1, 2)),
            ClassWorker(kind="spammer"),
            ClassWorker(kind="spammer"),
        ],
    ),
    Scenario(
        "imbalanced 70/15/10/5, 2 biased of 10, 1-5 answers, K=4",
        4,
        (1, 5),
        (0.7, 0.15, 0.1, 0.05),
        lambda r: [
            *_careful(r, 8, 0.6, 0.9),
            ClassWorker(0.8, "biased", bias_class=0, bias=0.6),
            ClassWorker(0.8, "biased", bias_class=0, bias=0.6),
        ],
    ),
    Scenario(
        "mixed kinds, 1-5 answers, K=5",
        5,
        (1, 5),
        (0.35, 0.25, 0.2, 0.12, 0.08),
        lambda r: [
            *_careful(r, 10, 0.55, 0.9),
            ClassWorker(0.85, "swapper", (0, 2)),
            ClassWorker(kind="spammer"),
            ClassWorker(0.8, "biased", bias_class=3, bias=0.5),
        ],
    ),
    Scenario(
        "two answers, 1 spammer of 11, K=3",
        3,
        (2, 2),
        None,
        lambda r: [*_careful(r, 10, 0.55, 0.9), ClassWorker(kind="spammer")],
    ),
]


def crowd_for(scenario: Scenario, seed: int, n_objects: int) -> ClassCrowd:
    rng = np.random.default_rng([seed, SCENARIOS.index(scenario)])
    pool = scenario.pool(rng)
    return classification_crowd(
        rng,
        n_objects,
        pool,
        n_classes=scenario.n_classes,
        answers=scenario.answers,
        class_probs=scenario.class_probs,
    )


# ---------------------------------------------------------------- single-label methods


def majority(crowd: ClassCrowd, seed: int) -> npt.NDArray[np.intp]:
    rng = np.random.default_rng(seed)
    votes = np.zeros((crowd.n_tasks, crowd.n_classes))
    np.add.at(votes, (crowd.tasks, crowd.labels), 1.0)
    noise = rng.random(votes.shape) * 0.5  # below one vote: only breaks ties, at random
    return np.asarray(np.argmax(votes + noise, axis=1), dtype=np.intp)


def tally_ds(crowd: ClassCrowd, **params: float) -> npt.NDArray[np.intp]:
    answers = ClassAnswers(
        crowd.tasks,
        crowd.workers,
        crowd.labels,
        n_tasks=crowd.n_tasks,
        n_workers=crowd.n_workers,
        n_classes=crowd.n_classes,
    )
    return DawidSkene(**params).fit_predict(answers)  # type: ignore[arg-type]


def _crowdkit(model: object, crowd: ClassCrowd) -> npt.NDArray[np.intp]:
    df = pd.DataFrame({"task": crowd.tasks, "worker": crowd.workers, "label": crowd.labels})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model.fit_predict(df)  # type: ignore[attr-defined]
    out = np.full(crowd.n_tasks, -1, dtype=np.intp)
    out[result.index.to_numpy(dtype=np.intp)] = result.to_numpy(dtype=np.intp)
    return out


CLASS_METHODS: dict[str, Callable[[ClassCrowd, int], npt.NDArray[np.intp]]] = {
    "tally DS": lambda c, s: tally_ds(c),
    "majority": majority,
    "crowd-kit DS": lambda c, s: _crowdkit(CKDawidSkene(n_iter=100), c),
    "crowd-kit GLAD": lambda c, s: _crowdkit(GLAD(), c),
    "crowd-kit MACE": lambda c, s: _crowdkit(MACE(random_state=s), c),
}


def accuracy(pred: npt.NDArray[np.intp], crowd: ClassCrowd, mask: npt.NDArray[np.bool_] | None = None) -> float:
    m = np.ones(crowd.n_tasks, dtype=bool) if mask is None else mask
    return float((pred[m] == crowd.truth[m]).mean()) if m.any() else float("nan")


# ---------------------------------------------------------------- multi-label and NER


ML_LABEL_PROBS = (0.5, 0.3, 0.2, 0.1, 0.05)


def ml_pool(rng: np.random.Generator) -> list[LabelWorker]:
    careful = [
        LabelWorker(float(s), float(p))
        for s, p in zip(rng.uniform(0.6, 0.95, 8), rng.uniform(0.85, 0.99, 8), strict=True)
    ]
    return [*careful, LabelWorker(kind="spammer"), LabelWorker(kind="swapper", swap=(0, 2)), LabelWorker(kind="lazy")]


def ml_scores(pred: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_]) -> tuple[float, float]:
    exact = float((pred == truth).all(axis=1).mean())
    f1s = []
    for j in range(truth.shape[1]):
        tp = float((pred[:, j] & truth[:, j]).sum())
        denom = float(pred[:, j].sum() + truth[:, j].sum())
        f1s.append(2 * tp / denom if denom else 1.0)
    return exact, float(np.mean(f1s))


def ner_pool(rng: np.random.Generator) -> list[NerWorker]:
    careful = [
        NerWorker(jitter=float(j), miss=float(m), extra=float(e))
        for j, m, e in zip(rng.uniform(0.05, 0.4, 8), rng.uniform(0.02, 0.25, 8), rng.uniform(0.0, 0.6, 8), strict=True)
    ]
    return [*careful, NerWorker(spam=True), NerWorker(jitter=0.7, miss=0.4, wrong_label=0.3)]


def exact_majority(objects: Sequence[Sequence[tuple[int, Sequence[Span]]]]) -> list[list[Span]]:
    out = []
    for obj in objects:
        counts: dict[Span, int] = {}
        for _, spans in obj:
            for s in set(spans):
                counts[s] = counts.get(s, 0) + 1
        out.append(sorted(s for s, c in counts.items() if 2 * c >= len(obj)))
    return out


def entity_f1(pred: Sequence[Sequence[Span]], truth: Sequence[Sequence[Span]]) -> float:
    tp = sum(len(set(p) & set(t)) for p, t in zip(pred, truth, strict=True))
    denom = sum(len(p) + len(t) for p, t in zip(pred, truth, strict=True))
    return 2 * tp / denom if denom else 1.0


# ---------------------------------------------------------------- runs


def run_classification(seeds: Sequence[int], n_objects: int, out: list[str]) -> None:
    names = list(CLASS_METHODS)
    out.append(
        f"| scenario ({n_objects} objects; accuracy, mean of seeds {list(seeds)}) | "
        + " | ".join(names)
        + " | tally DS on 1-answer objects | majority on 1-answer objects |"
    )
    out.append("|---" * (len(names) + 3) + "|")
    totals = {n: [] for n in names}  # type: dict[str, list[float]]
    for sc in SCENARIOS:
        acc = {n: [] for n in names}  # type: dict[str, list[float]]
        lone_ds: list[float] = []
        lone_mv: list[float] = []
        for seed in seeds:
            crowd = crowd_for(sc, seed, n_objects)
            lone = np.bincount(crowd.tasks, minlength=crowd.n_tasks) == 1
            for n in names:
                pred = CLASS_METHODS[n](crowd, seed)
                acc[n].append(accuracy(pred, crowd))
                if n == "tally DS" and lone.any():
                    lone_ds.append(accuracy(pred, crowd, lone))
                if n == "majority" and lone.any():
                    lone_mv.append(accuracy(pred, crowd, lone))
        for n in names:
            totals[n].append(float(np.mean(acc[n])))
        best = max(float(np.mean(acc[n])) for n in names)
        cells = [
            (f"**{np.mean(acc[n]):.4f}**" if float(np.mean(acc[n])) == best else f"{np.mean(acc[n]):.4f}")
            for n in names
        ]
        lone_cells = [f"{np.mean(v):.4f}" if v else "–" for v in (lone_ds, lone_mv)]
        out.append(f"| {sc.name} | " + " | ".join(cells) + " | " + " | ".join(lone_cells) + " |")
    out.append("| **mean** | " + " | ".join(f"{np.mean(totals[n]):.4f}" for n in names) + " | | |")


def run_multilabel(seeds: Sequence[int], n_objects: int, out: list[str]) -> None:
    res: dict[str, list[tuple[float, float]]] = {"tally ML-DS": [], "per-label majority": []}
    for seed in seeds:
        rng = np.random.default_rng([seed, 1000])
        crowd = multilabel_crowd(rng, n_objects, ml_pool(rng), label_probs=ML_LABEL_PROBS, answers=(1, 5))
        ml = MultiLabelDawidSkene().fit(
            LabelSetAnswers(
                crowd.tasks, crowd.workers, crowd.label_sets, n_tasks=crowd.n_tasks, n_workers=crowd.n_workers
            )
        )
        res["tally ML-DS"].append(ml_scores(ml.labels_, crowd.truth))
        ticks = np.zeros(crowd.truth.shape)
        np.add.at(ticks, crowd.tasks, crowd.label_sets)
        n_ans = np.bincount(crowd.tasks, minlength=crowd.n_tasks)[:, None]
        res["per-label majority"].append(ml_scores(2 * ticks >= n_ans, crowd.truth))
    out.append(f"| multi-label, 5 labels, 11 workers, 1-5 answers (seeds {list(seeds)}) | exact match | macro-F1 |")
    out.append("|---|---|---|")
    for name, v in res.items():
        arr = np.asarray(v)
        out.append(f"| {name} | {arr[:, 0].mean():.4f} | {arr[:, 1].mean():.4f} |")


def run_ner(seeds: Sequence[int], n_objects: int, out: list[str]) -> None:
    res: dict[str, list[float]] = {
        "tally SpanVote (fitted weights)": [],
        "SpanVote, equal weights": [],
        "exact-span majority": [],
    }
    for seed in seeds:
        for answers in ((3, 3), (1, 5)):
            rng = np.random.default_rng([seed, 2000, answers[0]])
            crowd = ner_crowd(rng, n_objects, ner_pool(rng), answers=answers)
            fitted = SpanVote().fit_predict(crowd.objects)
            equal = [SpanVote().vote(obj) for obj in crowd.objects]
            res["tally SpanVote (fitted weights)"].append(
                entity_f1([[(e.label, e.start, e.end) for e in o] for o in fitted], crowd.truth)
            )
            res["SpanVote, equal weights"].append(
                entity_f1([[(e.label, e.start, e.end) for e in o] for o in equal], crowd.truth)
            )
            res["exact-span majority"].append(entity_f1(exact_majority(crowd.objects), crowd.truth))
    out.append(
        f"| NER, 4 labels, 10 workers (1 spammer, 1 sloppy), 3 and 1-5 answers (seeds {list(seeds)}) | entity F1 (exact) |"
    )
    out.append("|---|---|")
    for name, v in res.items():
        out.append(f"| {name} | {np.mean(v):.4f} |")


def run_timing(repeats: int, out: list[str]) -> None:
    rng = np.random.default_rng([7, 3000])
    crowd = classification_crowd(rng, 1000, _careful(rng, 20, 0.6, 0.9), n_classes=4, answers=(5, 5))
    mrng = np.random.default_rng([7, 3001])
    mcrowd = multilabel_crowd(mrng, 1000, ml_pool(mrng), label_probs=ML_LABEL_PROBS, answers=(5, 5))
    nrng = np.random.default_rng([7, 3002])
    ncrowd = ner_crowd(nrng, 1000, ner_pool(nrng), answers=(5, 5))
    jobs: dict[str, Callable[[], object]] = {
        "tally DS (K=4)": lambda: tally_ds(crowd),
        "crowd-kit DS (K=4)": lambda: _crowdkit(CKDawidSkene(n_iter=100), crowd),
        "tally ML-DS (5 labels)": lambda: MultiLabelDawidSkene().fit(
            LabelSetAnswers(
                mcrowd.tasks, mcrowd.workers, mcrowd.label_sets, n_tasks=mcrowd.n_tasks, n_workers=mcrowd.n_workers
            )
        ),
        "tally SpanVote fit + predict": lambda: SpanVote().fit_predict(ncrowd.objects),
    }
    best = dict.fromkeys(jobs, float("inf"))
    for _ in range(repeats):
        for name, job in jobs.items():  # interleaved, so load on the machine hits all alike
            t0 = time.perf_counter()
            job()
            best[name] = min(best[name], time.perf_counter() - t0)
    out.append(f"| 1,000 objects × 5 answers (best of {repeats}) | seconds |")
    out.append("|---|---|")
    for name, sec in best.items():
        out.append(f"| {name} | {sec:.3f} |")
    out.append("")
    run_span_reuse(ncrowd.objects, repeats, out)


def run_span_reuse(
    objects: Sequence[Sequence[tuple[int, list[tuple[int, int, int]]]]], repeats: int, out: list[str]
) -> None:
    """SpanVote's kept clusters: memory, and predict from them against clustering again."""
    gc.collect()
    tracemalloc.start()
    model = SpanVote().fit(objects)
    with_kept = tracemalloc.get_traced_memory()[0]
    model._fitted = {}  # what the kept clusters hold: dropping them frees it
    gc.collect()
    kept = with_kept - tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    model = SpanVote().fit(objects)
    copies = [[(w, list(spans)) for w, spans in obj] for obj in objects]  # equal, not the fitted objects
    best = {"kept": float("inf"), "afresh": float("inf")}
    for _ in range(repeats):
        for label, batch in (("kept", objects), ("afresh", copies)):
            t0 = time.perf_counter()
            for obj in batch:
                model.predict(obj)
            best[label] = min(best[label], time.perf_counter() - t0)
    out.append(f"| SpanVote, 1,000 objects × 5 answers (best of {repeats}) | |")
    out.append("|---|---|")
    out.append(f"| kept clusters (MiB) | {kept / 2**20:.2f} |")
    out.append(f"| predict, fitted objects (kept clusters), s | {best['kept']:.3f} |")
    out.append(f"| predict, equal copies (clustered again), s | {best['afresh']:.3f} |")


def run_tuning(out: list[str]) -> None:
    """The grid looked at on the tuning seeds (mean accuracy over the scenarios, per batch size)."""
    sizes = (50, 200, 1000)
    out.append(
        "| prior_strength | prior_accuracy | "
        + " | ".join(f"{n} objects" for n in sizes)
        + f" (mean accuracy, tuning seeds {list(TUNING_SEEDS)}) |"
    )
    out.append("|---" * (2 + len(sizes)) + "|")
    crowds = {n: [crowd_for(sc, s, n) for sc in SCENARIOS for s in TUNING_SEEDS] for n in sizes}
    for strength in (2.0, 4.0, 8.0, 16.0):
        for acc in (0.6, 0.7, 0.8):
            cells = [
                np.mean([accuracy(tally_ds(c, prior_strength=strength, prior_accuracy=acc), c) for c in crowds[n]])
                for n in sizes
            ]
            out.append(f"| {strength} | {acc} | " + " | ".join(f"{v:.4f}" for v in cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000, help="objects per batch")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats")
    parser.add_argument("--quick", action="store_true", help="200 objects, tuning seeds only for a smoke run")
    parser.add_argument("--tune", action="store_true", help="also print the tuning grid (tuning seeds)")
    args = parser.parse_args()
    n = 200 if args.quick else args.objects
    report = TUNING_SEEDS[:1] if args.quick else REPORT_SEEDS
    out = [
        "# Classification benchmark",
        "",
        f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs (shared), "
        f"numpy {np.__version__}, crowd-kit {version('crowd-kit')}; {n} objects per batch.",
        f"Tuning seeds {list(TUNING_SEEDS)} (defaults chosen on them); report seeds {list(report)} (tables below).",
        "",
    ]
    t0 = time.perf_counter()
    if args.tune:
        run_tuning(out)
        out.append("")
    for size in sorted({min(100, n), n}):
        run_classification(report, size, out)
        out.append("")
    run_multilabel(report, n, out)
    out.append("")
    run_ner(report, n, out)
    out.append("")
    run_timing(1 if args.quick else args.repeats, out)
    out.append("")
    out.append(f"Total run time {time.perf_counter() - t0:.0f} s.")
    text = "\n".join(out) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
