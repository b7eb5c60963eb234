"""Rankings benchmark: `make bench-rankings`.

Simulated ranking crowds with known truth (:mod:`tests.sim.rankings`), one batch per crowd and seed, as
whole rankings (``crowd-text-ranking``: each worker orders an object's items, ties allowed) and as
pairwise preferences (each worker compares two random pairs of items per object). Seeds are split:
**tuning seeds** (the defaults of :class:`tally.aggregation.ranking.MallowsConsensus` were chosen on them;
``--tune`` prints the grid) and **report seeds** (never tuned on); the tables use the report seeds only.

Methods: ``Borda`` (:class:`~tally.aggregation.ranking.BordaCount`: every worker's normalised Borda score,
averaged); ``tally`` (:class:`~tally.aggregation.ranking.MallowsConsensus` with its defaults); crowd-kit's
``BradleyTerry`` on the same pairs (ties dropped; every (object, item) one global item, scores sorted per
object) and, for pairwise answers on the first three report seeds only (it takes seconds per batch), its
``NoisyBradleyTerry`` (per-worker reliability and bias); and, as ablations, tally with non-negative
weights only (``allow_reversed=False``) and with local Kemenization (``local_kemeny=True``). Metric: Kendall's tau-b between the combined ranking and the true utilities,
per object over the items anybody ranked, averaged over objects (an object whose combined ranking is all
tied counts 0).

Timing: fit + predict on 1,000 objects × 5 workers (best of ``--repeats``), with Borda and tally's
Dawid–Skene on a classification batch of the same size as references, interleaved in one process (the
machine is shared: the ratio is the figure that travels). Results are printed and written to ``bench/results/rankings.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from crowdkit.aggregation import BradleyTerry, NoisyBradleyTerry  # type: ignore[import-not-found,unused-ignore]
from scipy.stats import kendalltau, rankdata  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from bench.ratings import ds_reference  # noqa: E402
from tally.aggregation.ranking import BordaCount, MallowsConsensus, rankings_to_pairs  # noqa: E402
from tests.sim.rankings import PairCrowd, Ranker, RankingCrowd, pair_crowd, ranking_crowd  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "rankings.md"
TUNING_SEEDS = tuple(range(6))
REPORT_SEEDS = tuple(range(101, 111))
N_OBJECTS = 300
FloatArray = npt.NDArray[np.float64]
Crowd = RankingCrowd | PairCrowd


# ---------------------------------------------------------------- crowds


def noisy(rng: np.random.Generator, n: int, lo: float = 0.3, hi: float = 1.5, **kw: Any) -> list[Ranker]:
    """``n`` Thurstone workers, each with their own noise in ``[lo, hi]`` (utilities have unit spread)."""
    return [Ranker("noisy", noise=float(rng.uniform(lo, hi)), **kw) for _ in range(n)]


@dataclass(frozen=True)
class Scenario:
    name: str
    pool: Callable[[np.random.Generator], list[Ranker]]
    items: tuple[int, int] = (4, 4)
    workers: tuple[int, int] = (3, 5)


SCENARIOS = [
    Scenario("noisy workers (15, noise 0.3-1.5)", lambda r: noisy(r, 15)),
    Scenario(
        "2 reversed of 14", lambda r: [*noisy(r, 12), Ranker("reversed", noise=0.5), Ranker("reversed", noise=0.8)]
    ),
    Scenario(
        "a third reversed (4 of 12)",
        lambda r: [*noisy(r, 8), *(Ranker("reversed", noise=float(r.uniform(0.3, 1.0))) for _ in range(4))],
    ),
    Scenario("3 lazy (keep the shown order) of 15", lambda r: [*noisy(r, 12), *(Ranker("lazy") for _ in range(3))]),
    Scenario("3 random of 15", lambda r: [*noisy(r, 12), *(Ranker("random") for _ in range(3))]),
    Scenario("partial: 60 % of 6 items ranked", lambda r: noisy(r, 15, partial=0.6), items=(6, 6)),
    Scenario("ties (bins of 0.7), 5 items", lambda r: noisy(r, 15, ties=0.7), items=(5, 5)),
    Scenario(
        "Mallows workers (phi 0.2-0.9), 5 items",
        lambda r: [Ranker("mallows", phi=float(p)) for p in r.uniform(0.2, 0.9, 15)],
        items=(5, 5),
    ),
    Scenario(
        "mixed kinds, 2-7 items",
        lambda r: [
            *noisy(r, 10, ties=0.3),
            Ranker("reversed"),
            Ranker("lazy"),
            Ranker("random"),
            Ranker("mallows", phi=0.4, partial=0.6),
        ],
        items=(2, 7),
    ),
    Scenario(
        "two workers per object, 1 reversed of 11",
        lambda r: [*noisy(r, 10), Ranker("reversed", noise=0.5)],
        workers=(2, 2),
    ),
]


def crowd_for(sc: Scenario, seed: int, pairs: bool, n_objects: int = N_OBJECTS) -> Crowd:
    rng = np.random.default_rng([seed, SCENARIOS.index(sc), int(pairs)])
    pool = sc.pool(rng)
    if pairs:
        return pair_crowd(rng, n_objects, pool, items=sc.items, workers=sc.workers)
    return ranking_crowd(rng, n_objects, pool, items=sc.items, workers=sc.workers)


# ---------------------------------------------------------------- methods


def fit(model: MallowsConsensus, c: Crowd) -> FloatArray:
    kw = {"n_objects": c.n_objects, "n_workers": c.n_workers, "n_items": c.n_items}
    if isinstance(c, PairCrowd):
        return model.fit_pairs(c.objects, c.workers, c.first, c.second, c.outcome, **kw).ranks_
    return model.fit(c.objects, c.workers, c.items, c.ranks, **kw).ranks_


def _pairs(
    c: Crowd,
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp], npt.NDArray[np.intp], FloatArray]:
    if isinstance(c, PairCrowd):
        return c.objects, c.workers, c.first, c.second, c.outcome
    return rankings_to_pairs(c.objects, c.workers, c.items, c.ranks)


def crowdkit(model: object, c: Crowd) -> FloatArray:
    o, w, a, b, out = _pairs(c)
    keep = out != 0.5
    left = [f"{x}:{y}" for x, y in zip(o[keep], a[keep], strict=True)]
    right = [f"{x}:{y}" for x, y in zip(o[keep], b[keep], strict=True)]
    df = pd.DataFrame({"worker": w[keep], "left": left, "right": right})
    df["label"] = np.where(out[keep] == 1.0, df["left"], df["right"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scores = model.fit_predict(df)  # type: ignore[attr-defined]
    value = np.full((c.n_objects, c.n_items), np.nan)
    for key, v in scores.items():
        obj, item = map(int, str(key).split(":"))
        value[obj, item] = float(v)
    ranks = np.full(value.shape, np.nan)
    for obj in range(c.n_objects):
        ok = ~np.isnan(value[obj])
        if ok.any():
            ranks[obj, ok] = rankdata(-value[obj, ok], method="min")
    return ranks


METHODS: dict[str, Callable[[Crowd], FloatArray]] = {
    "Borda": lambda c: fit(BordaCount(), c),
    "tally": lambda c: fit(MallowsConsensus(), c),
    "crowd-kit BT": lambda c: crowdkit(BradleyTerry(n_iter=100), c),
    "tally, weights >= 0": lambda c: fit(MallowsConsensus(allow_reversed=False), c),
    "tally, local Kemeny": lambda c: fit(MallowsConsensus(local_kemeny=True), c),
}


def mean_tau(ranks: FloatArray, c: Crowd) -> float:
    taus = []
    for obj in range(c.n_objects):
        ok = ~np.isnan(ranks[obj]) & ~np.isnan(c.utility[obj])
        if ok.sum() < 2:
            continue
        t = kendalltau(-ranks[obj, ok], c.utility[obj, ok]).statistic
        taus.append(0.0 if np.isnan(t) else float(t))
    return float(np.mean(taus))


# ---------------------------------------------------------------- runs


def run_quality(seeds: Sequence[int], pairs: bool, out: list[str]) -> None:
    names = list(METHODS)
    kind = "pairwise preferences (2 per worker and object)" if pairs else "rankings"
    out.append(
        f"| crowd, {kind} ({N_OBJECTS} objects; Kendall tau-b to the truth, mean of seeds {seeds[0]}-{seeds[-1]}) | "
        + " | ".join(names)
        + " | tally - Borda | seeds with tally >= Borda |"
    )
    out.append("|---" * (len(names) + 3) + "|")
    totals: dict[str, list[float]] = {n: [] for n in names}
    for sc in SCENARIOS:
        res: dict[str, list[float]] = {n: [] for n in names}
        for seed in seeds:
            c = crowd_for(sc, seed, pairs)
            for n in names:
                res[n].append(mean_tau(METHODS[n](c), c))
        means = {n: float(np.mean(v)) for n, v in res.items()}
        for n in names:
            totals[n].append(means[n])
        best = max(means.values())
        diff = means["tally"] - means["Borda"]
        cells = [f"**{means[n]:.3f}**" if means[n] == best else f"{means[n]:.3f}" for n in names]
        verdict = f"{diff:+.3f}" + (" **(below Borda)**" if diff < 0 else "")
        wins = sum(t >= b - 1e-12 for t, b in zip(res["tally"], res["Borda"], strict=True))
        out.append(f"| {sc.name} | " + " | ".join(cells) + f" | {verdict} | {wins}/{len(seeds)} |")
    out.append("| **mean over crowds** | " + " | ".join(f"{np.mean(totals[n]):.3f}" for n in names) + " | | |")


def run_noisy_bt(seeds: Sequence[int], out: list[str]) -> None:
    out.append(
        f"| crowd, pairwise preferences (seeds {seeds[0]}-{seeds[-1]}) | Borda | tally | crowd-kit NoisyBradleyTerry |"
    )
    out.append("|---|---|---|---|")
    for sc in SCENARIOS:
        res: dict[str, list[float]] = {"Borda": [], "tally": [], "noisy": []}
        for seed in seeds:
            c = crowd_for(sc, seed, True)
            res["Borda"].append(mean_tau(METHODS["Borda"](c), c))
            res["tally"].append(mean_tau(METHODS["tally"](c), c))
            res["noisy"].append(mean_tau(crowdkit(NoisyBradleyTerry(n_iter=100), c), c))
        out.append(f"| {sc.name} | " + " | ".join(f"{np.mean(v):.3f}" for v in res.values()) + " |")


def run_timing(repeats: int, out: list[str]) -> None:
    out.append(
        f"| 1,000 objects × 5 workers (best of {repeats}, interleaved) | tally fit + predict | Borda | "
        "DawidSkene, 1,000 × 5, K = 5 (reference) | tally / reference |"
    )
    out.append("|---|---|---|---|---|")
    rng = np.random.default_rng([7, 3000])
    pool = [*noisy(rng, 12), Ranker("reversed"), Ranker("lazy")]
    crowds: dict[str, Crowd] = {
        f"rankings of {k} items": ranking_crowd(rng, 1000, pool, items=(k, k), workers=(5, 5)) for k in (2, 4, 10)
    }
    crowds["pairs: 2 comparisons of 4 items each"] = pair_crowd(rng, 1000, pool, items=(4, 4), workers=(5, 5))
    reference = ds_reference()
    for name, c in crowds.items():
        jobs: dict[str, Callable[[], object]] = {
            "tally": partial(METHODS["tally"], c),
            "Borda": partial(METHODS["Borda"], c),
            "reference": reference,
        }
        best = dict.fromkeys(jobs, float("inf"))
        for _ in range(repeats):
            for method, job in jobs.items():  # interleaved, so load on the machine hits all alike
                t0 = time.perf_counter()
                job()
                best[method] = min(best[method], time.perf_counter() - t0)
        out.append(
            f"| {name} | {best['tally'] * 1000:.0f} ms | {best['Borda'] * 1000:.0f} ms | "
            f"{best['reference'] * 1000:.0f} ms | {best['tally'] / best['reference']:.2f}x |"
        )


def run_tuning(out: list[str]) -> None:
    """The grid looked at on the tuning seeds: mean tau over crowds, rankings and pairs apart."""
    grid: dict[str, dict[str, Any]] = {
        "defaults (prior 0.75 x 10, ridge 0.3)": {},
        "prior_strength 4": {"prior_strength": 4.0},
        "prior_strength 20": {"prior_strength": 20.0},
        "prior_agreement 0.65": {"prior_agreement": 0.65},
        "prior_agreement 0.85": {"prior_agreement": 0.85},
        "local_kemeny True": {"local_kemeny": True},
        "ridge 1 (pairs)": {"ridge": 1.0},
        "allow_reversed False": {"allow_reversed": False},
    }
    out.append(
        f"| parameters (tuning seeds {TUNING_SEEDS[0]}-{TUNING_SEEDS[-1]}) | rankings: mean tau | worst crowd - Borda | "
        "pairs: mean tau | worst crowd - Borda |"
    )
    out.append("|---|---|---|---|---|")
    crowds = {p: [[crowd_for(sc, s, p) for s in TUNING_SEEDS] for sc in SCENARIOS] for p in (False, True)}
    borda = {p: [np.mean([mean_tau(fit(BordaCount(), c), c) for c in cs]) for cs in crowds[p]] for p in crowds}
    for name, params in grid.items():
        cells = []
        for p in (False, True):
            per = [np.mean([mean_tau(fit(MallowsConsensus(**params), c), c) for c in cs]) for cs in crowds[p]]
            cells += [f"{np.mean(per):.3f}", f"{min(a - b for a, b in zip(per, borda[p], strict=True)):+.3f}"]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out.append(f"| Borda | {np.mean(borda[False]):.3f} | | {np.mean(borda[True]):.3f} | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats")
    parser.add_argument("--quick", action="store_true", help="one tuning seed, no NoisyBradleyTerry, for a smoke run")
    parser.add_argument("--tune", action="store_true", help="also print the tuning grid (tuning seeds)")
    args = parser.parse_args()
    report = TUNING_SEEDS[:1] if args.quick else REPORT_SEEDS
    out = [
        "# Rankings benchmark",
        "",
        f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs (shared), "
        f"numpy {np.__version__}, crowd-kit {version('crowd-kit')}. Tuning seeds {list(TUNING_SEEDS)} "
        f"(defaults chosen on them); report seeds {list(report)} (tables below).",
        "",
    ]
    t0 = time.perf_counter()
    if args.tune:
        run_tuning(out)
        out.append("")
    for pairs in (False, True):
        run_quality(report, pairs, out)
        out.append("")
    if not args.quick:
        run_noisy_bt(report[:3], out)
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
