"""Numbers benchmark: `make bench-ratings`.

Simulated rating crowds with known truth (:mod:`tests.sim.ratings`), one batch per crowd, scale and seed,
on a 1–5 rating (step 1) and a ±100 slider (step 1). Seeds are split: **tuning seeds** (the defaults of
:class:`tally.aggregation.ratings.CalibratedMean` were chosen on them; ``--tune`` prints the grid that was
looked at) and **report seeds** (never tuned on); the tables use the report seeds only.

Methods: ``tally`` (:class:`~tally.aggregation.ratings.CalibratedMean` with the scale's ``min``/``max``/
``step``, values clipped, not snapped); the ``mean``, the ``median`` and the ``trimmed mean`` (scipy's
``trim_mean``, 20 % cut from each end: nothing with 3–4 answers, one from each end with 5–9) of each
object's answers; and, as ablations, tally without offsets (``bias_scale=0``) and the "latent" value the
crowd answered where the truth is an expert panel's mean (how far the panel itself is from what the crowd
saw: no method can beat it on average). Metrics: MAE and RMSE to the truth, in the scale's units.

Timing: fit + predict on a 1,000-object × 5-answer batch, against tally's Dawid–Skene on a
classification batch of the same size as a reference (best of ``--repeats``, interleaved in one process:
the machine is shared, so the ratio is the figure that travels). Results are printed and written to ``bench/results/ratings.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.stats import trim_mean  # type: ignore[import-untyped]

from tally.aggregation.base import ClassAnswers
from tally.aggregation.dawid_skene import DawidSkene
from tally.aggregation.ratings import CalibratedMean

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.ratings import Rater, RatingCrowd, Scale, rating_crowd  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "ratings.md"
TUNING_SEEDS = tuple(range(8))
REPORT_SEEDS = tuple(range(101, 111))
LIKERT = Scale(1, 5, 1)
SLIDER = Scale(-100, 100, 1)
FloatArray = npt.NDArray[np.float64]
Pool = Callable[[np.random.Generator], list[Rater]]


# ---------------------------------------------------------------- crowds


def careful(
    rng: np.random.Generator,
    n: int,
    *,
    noise: tuple[float, float] = (0.03, 0.15),
    offset: float = 0.02,
    tail: tuple[float, float] | None = None,
    slope: float = 0.0,
    activity: float = 0.0,
) -> list[Rater]:
    """``n`` careful raters, each with their own noise, small offset, tails, use of the scale and activity."""
    return [
        Rater(
            "careful",
            offset=float(rng.normal(0, offset)),
            noise=float(rng.uniform(*noise)),
            tail=None if tail is None else float(rng.uniform(*tail)),
            slope=float(np.exp(rng.normal(0, slope))),
            activity=float(np.exp(rng.normal(0, activity))),
        )
        for _ in range(n)
    ]


def biased(rng: np.random.Generator, n: int) -> list[Rater]:
    """``n`` raters off by 15–30 % of the scale (one point or so on a 1–5 rating), either way."""
    return [
        Rater(offset=float(rng.choice([-1, 1]) * rng.uniform(0.15, 0.3)), noise=float(rng.uniform(0.03, 0.1)))
        for _ in range(n)
    ]


@dataclass(frozen=True)
class Crowd:
    name: str
    pool: Pool
    answers: tuple[int, int]
    truth: str = "uniform"
    panel: Pool | None = None
    objects: int = 200


def _heavy(rng: np.random.Generator) -> list[Rater]:
    return [
        *careful(rng, 35, noise=(0.04, 0.2), tail=(2.5, 10.0), slope=0.3, offset=0.06, activity=1.0),
        Rater("random", activity=0.5),
        Rater("lazy", lazy=0.7, activity=0.5),
        Rater("lazy", lazy=0.5, noise=0.1),
    ]


CROWDS = [
    Crowd("careful, varied noise (15 raters)", lambda r: careful(r, 15), (3, 10)),
    Crowd("4 of 16 biased by 15-30 %", lambda r: careful(r, 12) + biased(r, 4), (3, 10)),
    Crowd(
        "2 lazy-centre + 2 random of 16",
        lambda r: [
            *careful(r, 12),
            Rater("lazy", lazy=0.8, noise=0.05),
            Rater("lazy", lazy=0.6, noise=0.08),
            Rater("random"),
            Rater("random"),
        ],
        (3, 10),
    ),
    Crowd(
        "heavy tails, scale use, uneven work, skewed truth",
        lambda r: careful(r, 20, tail=(2.0, 6.0), slope=0.25, offset=0.05, activity=1.0),
        (3, 10),
        "skewed",
    ),
    Crowd(
        "3 ratings each, mixed kinds",
        lambda r: [*careful(r, 12), *biased(r, 2), Rater("random"), Rater("lazy", lazy=0.8)],
        (3, 3),
    ),
    Crowd(
        "expert-panel truth, 10 ratings, 37 raters",
        lambda r: [
            *careful(r, 35, noise=(0.04, 0.15), tail=(4.0, 30.0), slope=0.2, offset=0.04, activity=1.0),
            Rater("random", activity=0.3),
            Rater("lazy", lazy=0.5, noise=0.1),
        ],
        (10, 10),
        "skewed",
        lambda r: careful(r, 6, noise=(0.03, 0.08), slope=0.15, offset=0.03),
    ),
    Crowd(
        "expert-panel truth, heavy tails and scale use, 38 raters",
        _heavy,
        (10, 10),
        "skewed",
        lambda r: careful(r, 6, noise=(0.04, 0.2), tail=(2.5, 10.0), slope=0.3, offset=0.06),
    ),
    Crowd("heavy tails and scale use, latent truth, 38 raters", _heavy, (10, 10), "skewed"),
    Crowd(
        "small batch: 30 objects, 3-5 ratings, mixed kinds",
        lambda r: [*careful(r, 8), *biased(r, 2), Rater("random")],
        (3, 5),
        objects=30,
    ),
]


def crowd_for(crowd: Crowd, scale: Scale, seed: int) -> RatingCrowd:
    rng = np.random.default_rng([seed, CROWDS.index(crowd), int(scale.width)])
    pool = crowd.pool(rng)
    panel = crowd.panel(rng) if crowd.panel is not None else ()
    return rating_crowd(rng, crowd.objects, pool, scale, answers=crowd.answers, truth=crowd.truth, panel=panel)  # type: ignore[arg-type]


# ---------------------------------------------------------------- methods


def _groups(c: RatingCrowd) -> list[FloatArray]:
    order = np.argsort(c.objects, kind="stable")
    bounds = np.cumsum(np.bincount(c.objects, minlength=c.n_objects))[:-1]
    return np.split(c.values[order], bounds)


def tally(c: RatingCrowd, **params: float) -> FloatArray:
    s = c.scale
    return CalibratedMean(low=s.low, high=s.high, step=s.step, **params).fit_predict(  # type: ignore[arg-type]
        c.objects, c.workers, c.values, n_objects=c.n_objects, n_workers=c.n_workers
    )


def plain_mean(c: RatingCrowd) -> FloatArray:
    return np.asarray(
        np.bincount(c.objects, c.values, c.n_objects) / np.bincount(c.objects, minlength=c.n_objects), dtype=np.float64
    )


METHODS: dict[str, Callable[[RatingCrowd], FloatArray]] = {
    "tally": tally,
    "mean": plain_mean,
    "median": lambda c: np.asarray([np.median(v) for v in _groups(c)]),
    "trimmed mean": lambda c: np.asarray([trim_mean(v, 0.2) for v in _groups(c)]),
    "tally, no offsets": lambda c: tally(c, bias_scale=0.0),
    "latent": lambda c: c.latent,
}


def errors(pred: FloatArray, c: RatingCrowd) -> tuple[float, float]:
    e = pred - c.truth
    return float(np.abs(e).mean()), float(np.sqrt((e**2).mean()))


# ---------------------------------------------------------------- runs


def run_quality(seeds: Sequence[int], scale: Scale, out: list[str]) -> dict[str, tuple[float, float]]:
    names = list(METHODS)
    unit = "points" if scale is LIKERT else "points of ±100"
    out.append(
        f"| crowd ({scale.low:g} to {scale.high:g}, step {scale.step:g}; MAE / RMSE in {unit}, mean of seeds "
        f"{seeds[0]}-{seeds[-1]}) | " + " | ".join(names) + " | tally vs best baseline |"
    )
    out.append("|---" * (len(names) + 2) + "|")
    totals: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
    for crowd in CROWDS:
        res: dict[str, list[tuple[float, float]]] = {n: [] for n in names}
        for seed in seeds:
            c = crowd_for(crowd, scale, seed)
            for n in names:
                if n == "latent" and crowd.panel is None:
                    continue
                res[n].append(errors(METHODS[n](c), c))
        means = {n: tuple(np.mean(v, axis=0)) if v else (np.nan, np.nan) for n, v in res.items()}
        for n in names:
            if res[n]:
                totals[n].append(means[n])
        baseline = min(means[n][0] for n in ("mean", "median", "trimmed mean"))
        gain = (means["tally"][0] - baseline) / baseline * 100
        cells = [
            "–"
            if np.isnan(means[n][0])
            else f"{means[n][0]:.3f} / {means[n][1]:.3f}"
            if scale is LIKERT
            else f"{means[n][0]:.2f} / {means[n][1]:.2f}"
            for n in names
        ]
        verdict = f"{gain:+.1f} %" + (" **(loses)**" if gain > 0 else "")
        out.append(f"| {crowd.name} | " + " | ".join(cells) + f" | {verdict} |")
    summary = {n: tuple(np.mean(v, axis=0)) for n, v in totals.items() if v}
    fmt = "{:.3f}" if scale is LIKERT else "{:.2f}"
    out.append(
        "| **mean over crowds** | "
        + " | ".join(
            (fmt.format(summary[n][0]) + " / " + fmt.format(summary[n][1])) if n != "latent" else "–" for n in names
        )
        + " | |"
    )
    return summary


def ds_reference() -> Callable[[], object]:
    """Dawid–Skene on a 1,000-object × 5-answer classification batch (5 classes): a reference whose time
    through the whole handler docs/benchmarks.md gives, so that this machine's load cancels out."""
    rng = np.random.default_rng([7, 5])
    truth = rng.integers(5, size=1000)
    tasks = np.repeat(np.arange(1000), 5)
    workers = np.concatenate([rng.choice(20, size=5, replace=False) for _ in range(1000)])
    labels = np.where(rng.random(5000) < 0.8, truth[tasks], rng.integers(5, size=5000))
    answers = ClassAnswers(tasks, workers, labels, n_tasks=1000, n_workers=20, n_classes=5)
    return lambda: DawidSkene().fit(answers)


def run_timing(repeats: int, out: list[str]) -> None:
    out.append(
        f"| 1,000 objects × 5 answers (best of {repeats}, interleaved) | tally fit + predict | "
        "DawidSkene, 1,000 × 5, K = 5 (reference) | ratio |"
    )
    out.append("|---|---|---|---|")
    reference = ds_reference()
    for scale in (LIKERT, SLIDER):
        rng = np.random.default_rng([7, int(scale.width)])
        c = rating_crowd(rng, 1000, careful(rng, 16) + biased(rng, 3) + [Rater("random")], scale, answers=(5, 5))
        best = {"tally": float("inf"), "reference": float("inf")}
        jobs: dict[str, Callable[[], object]] = {"tally": partial(tally, c), "reference": reference}
        for _ in range(repeats):
            for name, job in jobs.items():  # interleaved, so load on the machine hits both alike
                t0 = time.perf_counter()
                job()
                best[name] = min(best[name], time.perf_counter() - t0)
        out.append(
            f"| {scale.low:g} to {scale.high:g} | {best['tally'] * 1000:.0f} ms | {best['reference'] * 1000:.0f} ms | "
            f"{best['tally'] / best['reference']:.2f}x |"
        )


def run_gold_timing(repeats: int, out: list[str]) -> None:
    """A gold fit's cost: 5,000 objects × 5 answers (25,000 answers, 60 raters) on the 1–5 rating, the
    truth known on one object in ten (``known``: the guarded EM, :mod:`tally.aggregation.ratings`), against
    the same fit without gold (best of ``repeats``, interleaved in one process)."""
    rng = np.random.default_rng([11, 5])
    c = rating_crowd(rng, 5000, careful(rng, 50) + biased(rng, 8) + [Rater("random")] * 2, LIKERT, answers=(5, 5))
    known = np.where(np.arange(c.n_objects) % 10 == 0, c.truth, np.nan)
    s = c.scale

    def fit(gold: FloatArray | None) -> object:
        return CalibratedMean(low=s.low, high=s.high, step=s.step).fit(
            c.objects, c.workers, c.values, n_objects=c.n_objects, n_workers=c.n_workers, known=gold
        )

    best = {"gold": float("inf"), "none": float("inf")}
    jobs: dict[str, Callable[[], object]] = {"gold": partial(fit, known), "none": partial(fit, None)}
    for _ in range(repeats):
        for name, job in jobs.items():
            t0 = time.perf_counter()
            job()
            best[name] = min(best[name], time.perf_counter() - t0)
    out.append(
        f"| 5,000 objects × 5 answers, {c.n_workers} raters (best of {repeats}, interleaved) | with gold on 1 in 10 "
        "| without gold | ratio |"
    )
    out.append("|---|---|---|---|")
    out.append(
        f"| 1 to 5 | {best['gold'] * 1000:.0f} ms | {best['none'] * 1000:.0f} ms | {best['gold'] / best['none']:.2f}x |"
    )


def run_tuning(out: list[str]) -> None:
    """The grid looked at on the tuning seeds: mean MAE over crowds and both scales (in % of the scale)."""
    grid: dict[str, dict[str, float]] = {
        "defaults": {},
        "bias_scale 0.25": {"bias_scale": 0.25},
        "bias_scale 1": {"bias_scale": 1.0},
        "bias_scale 0 (no offsets)": {"bias_scale": 0.0},
        "noise_strength 2": {"noise_strength": 2.0},
        "noise_strength 10": {"noise_strength": 10.0},
        "random_share 0.02": {"random_share": 0.02},
        "random_share 0.1": {"random_share": 0.1},
        "random_strength 30": {"random_strength": 30.0},
    }
    out.append(f"| parameters (tuning seeds {TUNING_SEEDS[0]}-{TUNING_SEEDS[-1]}) | MAE, % of the scale |")
    out.append("|---|---|")
    crowds = [(crowd_for(cr, sc, s), sc) for cr in CROWDS for sc in (LIKERT, SLIDER) for s in TUNING_SEEDS]
    for name, params in grid.items():
        mae = np.mean([errors(tally(c, **params), c)[0] / sc.width * 100 for c, sc in crowds])
        out.append(f"| {name} | {mae:.3f} |")
    for name in ("mean", "median", "trimmed mean"):
        mae = np.mean([errors(METHODS[name](c), c)[0] / sc.width * 100 for c, sc in crowds])
        out.append(f"| {name} | {mae:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats")
    parser.add_argument("--quick", action="store_true", help="one tuning seed, for a smoke run")
    parser.add_argument("--tune", action="store_true", help="also print the tuning grid (tuning seeds)")
    parser.add_argument("--gold-timing", action="store_true", help="only time a gold fit against one without")
    args = parser.parse_args()
    if args.gold_timing:
        lines: list[str] = []
        run_gold_timing(args.repeats, lines)
        print("\n".join(lines))
        return
    report = TUNING_SEEDS[:1] if args.quick else REPORT_SEEDS
    out = [
        "# Numbers benchmark",
        "",
        f"{platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs (shared), "
        f"numpy {np.__version__}. Tuning seeds {list(TUNING_SEEDS)} (defaults chosen on them); "
        f"report seeds {list(report)} (tables below).",
        "",
    ]
    t0 = time.perf_counter()
    if args.tune:
        run_tuning(out)
        out.append("")
    for scale in (LIKERT, SLIDER):
        run_quality(report, scale, out)
        out.append("")
    run_timing(1 if args.quick else args.repeats, out)
    out.append("")
    run_gold_timing(1 if args.quick else args.repeats, out)
    out.append("")
    out.append(f"Total run time {time.perf_counter() - t0:.0f} s.")
    text = "\n".join(out) + "\n"
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
