"""Polyline and line benchmark: `make bench-lines`. Prints Markdown tables for docs/text-and-lines.md.

1. Quality on simulated crowds (tests/sim/lines.py): road scenes on 1280x720 images (lanes that
   converge toward a vanishing point, road edges, wires) and straight edges (``crowd-line``). A kept
   line is right when its label is the true line's and their symmetric mean distance (each line's
   points, 100 along its length, to the other polyline, averaged both ways) is within 1.5 % of the
   diagonal (22 px), one kept line per true line (optimal assignment). Per method: precision, recall,
   F1, and the mean distance in pixels of the right lines; and tally against the plain mean over the
   true lines both found (a paired figure). Methods: tally (``LineConsolidation``: the boxes' keep
   rule, Huber per point, worker weights), the plain mean of the same clusters (same kept lines, each
   point the unweighted mean of the members'), and the first answer as drawn (the simulated answers
   come in no particular order: a random worker).
2. Time of fit + predict on 1,000 objects × 5 workers, about 4.5 lines of 6–12 vertices each:
   process CPU time and wall time, median of three runs.

The defaults were chosen on the tuning seeds 0–1 (``--tune`` prints the variants looked at); the
report seeds 100–109 were run once the parameters were frozen.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tally.aggregation.assignment import max_similarity_assignment
from tally.aggregation.lines import LineConsolidation, LineObject

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.lines import DIAGONAL, LINE_CROWDS, LineCrowd, LineWorker, SimLine, line_batch  # noqa: E402

TUNING_SEEDS = (0, 1)
REPORT_SEEDS = tuple(range(100, 110))
N_OBJECTS = 100
THRESHOLD = 0.015 * DIAGONAL
FloatArray = npt.NDArray[np.float64]
Result = tuple[list[str], list[FloatArray]]
Method = Callable[[list[LineObject]], list[Result]]


def _dense(line: FloatArray, n: int = 100) -> FloatArray:
    vertices = np.asarray(line, dtype=np.float64)
    steps = np.linalg.norm(np.diff(vertices, axis=0), axis=1)
    at = np.concatenate([[0.0], np.cumsum(steps)])
    t = np.linspace(0.0, at[-1], n) if at[-1] > 0 else np.zeros(n)
    return np.stack([np.interp(t, at, vertices[:, 0]), np.interp(t, at, vertices[:, 1])], axis=1)


def _to_polyline(points: FloatArray, line: FloatArray) -> FloatArray:
    start, end = line[:-1], line[1:]
    chord = end - start
    length = (chord**2).sum(axis=1)
    offset = points[:, None, :] - start[None]
    t = np.clip((offset * chord[None]).sum(axis=2) / np.maximum(length, 1e-12), 0.0, 1.0)
    nearest = start[None] + t[..., None] * chord[None]
    return np.asarray(np.linalg.norm(points[:, None] - nearest, axis=2).min(axis=1))


def distance(a: FloatArray, b: FloatArray) -> float:
    """The symmetric mean distance: each line's points to the other polyline, averaged both ways."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return 0.5 * float(_to_polyline(_dense(a), b).mean() + _to_polyline(_dense(b), a).mean())


@dataclass
class Score:
    tp: int = 0
    predicted: int = 0
    truth: int = 0
    found: dict[tuple[int, int], float] = field(default_factory=dict)
    """Per true line found, ``(object, truth index)``: its distance to the kept line."""

    def add(self, labels: Sequence[str], lines: Sequence[FloatArray], truth: Sequence[SimLine], obj: int) -> None:
        self.predicted += len(labels)
        self.truth += len(truth)
        for label in set(labels) | {t.label for t in truth}:
            p = [i for i, x in enumerate(labels) if x == label]
            t = [i for i, x in enumerate(truth) if x.label == label]
            if not p or not t:
                continue
            d = np.array([[distance(lines[i], truth[j].points[::4]) for j in t] for i in p])
            rows, cols = max_similarity_assignment(-d, -THRESHOLD)
            self.tp += len(rows)
            self.found.update({(obj, t[c]): float(d[r, c]) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)})

    def row(self) -> tuple[float, float, float, float]:
        precision = self.tp / self.predicted if self.predicted else 1.0
        recall = self.tp / self.truth if self.truth else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1, float(np.mean(list(self.found.values()))) if self.found else 0.0


def tally(**params: object) -> Method:
    def run(objects: list[LineObject]) -> list[Result]:
        results = LineConsolidation(**params).fit_predict(objects)  # type: ignore[arg-type]
        return [([str(x) for x in r.labels], r.lines) for r in results]

    return run


def first_answer(objects: list[LineObject]) -> list[Result]:
    out: list[Result] = []
    for obj in objects:
        answer = obj.answers[0]
        out.append(([str(x) for x in answer.labels], [np.asarray(x, dtype=np.float64) for x in answer.lines]))
    return out


METHODS: dict[str, Method] = {
    "tally": tally(),
    "plain mean of the clusters": tally(average="mean"),
    "first answer": first_answer,
}


def quality(seeds: Sequence[int], methods: dict[str, Method], crowds: dict[str, LineCrowd] = LINE_CROWDS) -> None:
    first, second = list(methods)[:2]
    print(
        f"\n### Lines: kept lines and distance to the truth, seeds {seeds[0]}–{seeds[-1]} ({N_OBJECTS} objects each)\n"
    )
    print(
        "| crowd | "
        + " | ".join(f"{m} P / R / F1 / px" for m in methods)
        + f" | {first} / {second} px on lines both found (n) |"
    )
    print("|---|" + "---|" * (len(methods) + 1))
    for name, crowd in crowds.items():
        scores = {m: Score() for m in methods}
        for k, seed in enumerate(seeds):
            scenes, objects = line_batch(crowd, N_OBJECTS, seed)
            for method, run in methods.items():
                for i, ((labels, lines), truth) in enumerate(zip(run(objects), scenes, strict=True)):
                    scores[method].add(labels, lines, truth, k * N_OBJECTS + i)
        cells = []
        for score in scores.values():
            p, r, f, d = score.row()
            cells.append(f"{p:.3f} / {r:.3f} / {f:.3f} / {d:.2f}")
        both = sorted(set(scores[first].found) & set(scores[second].found))
        a = np.mean([scores[first].found[x] for x in both]) if both else 0.0
        b = np.mean([scores[second].found[x] for x in both]) if both else 0.0
        cells.append(f"{a:.3f} / {b:.3f} ({len(both)})")
        print(f"| {name} | " + " | ".join(cells) + " |")


def speed() -> None:
    crowd = LineCrowd(tuple(LineWorker(jitter=0.003, vertices=(6, 12)) for _ in range(8)), (5, 5), lanes=(1, 1))
    _, objects = line_batch(crowd, 1000, 3)
    n_lines = sum(len(a.lines) for obj in objects for a in obj.answers)
    n_vertices = sum(np.asarray(line).shape[0] for obj in objects for a in obj.answers for line in a.lines)
    cpu_times, wall_times = [], []
    for _ in range(3):
        cpu, wall = time.process_time(), time.perf_counter()
        LineConsolidation().fit(objects).predict(objects)
        cpu_times.append(time.process_time() - cpu)
        wall_times.append(time.perf_counter() - wall)
    print(
        f"\n### Time of fit + predict, 1,000 objects × 5 workers ({n_lines / 5000:.1f} lines of "
        f"{n_vertices / n_lines:.1f} vertices per answer; median of 3 runs)\n"
    )
    print("| CPU s | wall s |")
    print("|---|---|")
    print(f"| {statistics.median(cpu_times):.3f} | {statistics.median(wall_times):.3f} |")


def tune() -> None:
    variants: dict[str, Method] = {
        "default": tally(),
        "huber_k 1.5": tally(huber_k=1.5),
        "huber_k 3": tally(huber_k=3.0),
        "median": tally(average="median"),
        "n_points 16": tally(n_points=16),
        "n_points 32": tally(n_points=32),
        "sigma 0.015": tally(sigma=0.015),
        "sigma 0.03": tally(sigma=0.03),
        "simplify 0.002": tally(simplify=0.002),
    }
    quality(TUNING_SEEDS, variants)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tune", action="store_true", help="print the variants on the tuning seeds only")
    parser.add_argument("--quick", action="store_true", help="one report seed")
    args = parser.parse_args()
    if args.tune:
        tune()
        return
    quality(REPORT_SEEDS[:1] if args.quick else REPORT_SEEDS, METHODS)
    speed()


if __name__ == "__main__":
    main()
