"""Simulated crowds for polylines and lines with known truth: lanes, road edges, wires, edges.

Test and benchmark helpers only. A road scene (:func:`road_scene`) on a 1280x720 image has lanes —
long, gently curved, near-parallel lines that converge toward a vanishing point, so that at their far
end they run a few tens of pixels apart — the two road edges, and a wire or two across the sky. A
simulated worker (:class:`LineWorker`) traces each line through their habits: their own number of
vertices (a careful worker clicks more often on a curve), Gaussian jitter of every vertex, where they
start and stop along the line, which end they start from, missed lines, invented short lines, the
wrong label, a line drawn twice. A crowd (:data:`LINE_CROWDS`) is a pool of such workers; each object
is answered by some of them, so the batch has the repeated workers reliability needs. ``kind="line"``
scenes (:func:`edge_scene`) hold straight segments (``crowd-line``: two vertices each).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tally.aggregation.lines import LineObject, WorkerLines

__all__ = ["LINE_CROWDS", "LineCrowd", "LineWorker", "SimLine", "edge_scene", "line_batch", "road_scene"]

WIDTH, HEIGHT = 1280, 720
DIAGONAL = float(np.hypot(WIDTH, HEIGHT))
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SimLine:
    """A true line: its label and a dense polyline (200 points) of its shape."""

    label: str
    points: FloatArray


@dataclass(frozen=True)
class LineWorker:
    """How one simulated worker traces lines."""

    jitter: float = 0.003
    """Standard deviation of every vertex, as a fraction of the image diagonal (0.003: 4.4 px)."""
    vertices: tuple[int, int] = (6, 12)
    """How many vertices it clicks on a polyline: uniformly between these (inclusive)."""
    extent: float = 0.02
    """Standard deviation of where it starts and stops along the line, as a fraction of its length."""
    reverse: float = 0.5
    """Chance of tracing a line from its other end."""
    miss: float = 0.0
    """Chance of leaving a line out."""
    extra: float = 0.0
    """Mean number of invented short lines per image (Poisson)."""
    wrong_label: float = 0.0
    """Chance of giving a line another label."""
    duplicate: float = 0.0
    """Chance of drawing a line a second time (a little apart)."""


@dataclass(frozen=True)
class LineCrowd:
    """A pool of workers, how many answer each object, and the scene."""

    workers: tuple[LineWorker, ...]
    answers: tuple[int, int]
    """Answers per object: uniformly between these two numbers (inclusive)."""
    scene: str = "road"
    """``"road"`` (lanes, road edges, wires) or ``"edges"`` (straight segments, ``crowd-line``)."""
    lanes: tuple[int, int] = (2, 4)
    """Lanes per road scene: uniformly between these (inclusive)."""


CAREFUL = LineWorker()
SLOPPY = LineWorker(jitter=0.012, vertices=(3, 5), extent=0.06, miss=0.1)
LINE_CROWDS: dict[str, LineCrowd] = {
    "careful-3": LineCrowd(
        (
            LineWorker(jitter=0.002),
            LineWorker(jitter=0.003, vertices=(4, 8)),
            LineWorker(jitter=0.004, reverse=0.0),
            LineWorker(jitter=0.003, extent=0.04),
            LineWorker(jitter=0.0025, reverse=1.0, vertices=(8, 16)),
        ),
        (3, 3),
    ),
    "jitter-5": LineCrowd(
        tuple(LineWorker(jitter=j, vertices=(5, 10)) for j in (0.004, 0.005, 0.006, 0.007, 0.008, 0.005)),
        (5, 5),
    ),
    "miss-extra-5": LineCrowd(
        (
            LineWorker(miss=0.2, extra=0.4),
            LineWorker(miss=0.1, extra=0.2, jitter=0.004),
            LineWorker(miss=0.25, extra=0.6),
            LineWorker(miss=0.15, extra=0.3, vertices=(4, 8)),
            LineWorker(miss=0.2, extra=0.5, jitter=0.002),
            LineWorker(miss=0.1, extra=0.4, extent=0.04),
        ),
        (5, 5),
    ),
    "one-sloppy-5": LineCrowd(
        (
            LineWorker(jitter=0.003),
            LineWorker(jitter=0.004, vertices=(4, 9)),
            LineWorker(jitter=0.002, reverse=0.0),
            LineWorker(jitter=0.003, extent=0.03),
            LineWorker(jitter=0.0035),
            SLOPPY,
        ),
        (5, 5),
    ),
    "dense-lanes-3": LineCrowd(
        (
            LineWorker(jitter=0.003),
            LineWorker(jitter=0.004, vertices=(4, 9)),
            LineWorker(jitter=0.003, extent=0.04),
            LineWorker(jitter=0.005, miss=0.05),
        ),
        (3, 3),
        lanes=(5, 7),
    ),
    "wrong-label-3": LineCrowd(
        (CAREFUL, LineWorker(jitter=0.004), LineWorker(jitter=0.003, wrong_label=0.4), CAREFUL),
        (3, 3),
    ),
    "duplicates-3": LineCrowd(
        (CAREFUL, LineWorker(jitter=0.004, duplicate=0.3, extra=0.3), LineWorker(jitter=0.003), CAREFUL),
        (3, 3),
    ),
    "two-workers": LineCrowd((CAREFUL, LineWorker(jitter=0.004, extra=0.8), LineWorker(jitter=0.003)), (2, 2)),
    "mixed-1to5": LineCrowd(
        (
            CAREFUL,
            LineWorker(jitter=0.005, miss=0.15),
            LineWorker(jitter=0.003, extra=0.5),
            LineWorker(jitter=0.003, wrong_label=0.3),
            SLOPPY,
            LineWorker(jitter=0.002, vertices=(8, 14)),
        ),
        (1, 5),
    ),
    "edges-3": LineCrowd(
        (
            LineWorker(jitter=0.003),
            LineWorker(jitter=0.004, extent=0.04),
            LineWorker(jitter=0.003, miss=0.1, extra=0.3),
            LineWorker(jitter=0.01, extent=0.06),
        ),
        (3, 3),
        scene="edges",
    ),
}


def _curve(rng: np.random.Generator, start: FloatArray, end: FloatArray, bend: float) -> FloatArray:
    """200 points from ``start`` to ``end``, bowed sideways by ``bend`` × its length at the middle."""
    s = np.linspace(0.0, 1.0, 200)[:, None]
    chord = end - start
    normal = np.array([-chord[1], chord[0]]) / max(float(np.hypot(*chord)), 1e-9)
    return np.asarray(start + s * chord + (4.0 * bend * float(np.hypot(*chord))) * s * (1 - s) * normal)


def road_scene(rng: np.random.Generator, lanes: tuple[int, int] = (2, 4)) -> list[SimLine]:
    """Lanes toward a vanishing point, the two road edges, and one or two wires across the sky."""
    vanish = np.array([WIDTH / 2 + rng.uniform(-120, 120), HEIGHT * rng.uniform(0.38, 0.48)])
    n_lanes = int(rng.integers(lanes[0], lanes[1] + 1))
    bend = rng.uniform(-0.04, 0.04)  # the whole road bends one way
    out: list[SimLine] = []
    spread = rng.uniform(0.8, 1.3) * WIDTH
    positions = np.linspace(-0.5, 0.5, n_lanes + 2)
    for k, u in enumerate(positions):
        bottom = np.array([vanish[0] + u * spread, HEIGHT + 0.0])
        reach = rng.uniform(0.75, 0.9)  # how far toward the vanishing point the line is visible
        top = bottom + reach * (vanish - bottom)
        label = "road-edge" if k in (0, len(positions) - 1) else "lane"
        out.append(SimLine(label, _curve(rng, bottom, top, bend)))
    for _ in range(int(rng.integers(1, 3))):
        y = rng.uniform(0.05, 0.3) * HEIGHT
        start = np.array([rng.uniform(0, 0.3) * WIDTH, y])
        end = np.array([rng.uniform(0.6, 1.0) * WIDTH, y + rng.uniform(-60, 60)])
        out.append(SimLine("wire", _curve(rng, start, end, rng.uniform(0.03, 0.08))))
    return out


def edge_scene(rng: np.random.Generator) -> list[SimLine]:
    """Straight segments (``crowd-line``): three to six edges of labels ``edge`` and ``crack``."""
    out: list[SimLine] = []
    for _ in range(int(rng.integers(3, 7))):
        start = rng.uniform([50, 50], [WIDTH - 50, HEIGHT - 50])
        angle, length = rng.uniform(0, np.pi), rng.uniform(0.1, 0.4) * DIAGONAL
        end = np.clip(start + length * np.array([np.cos(angle), np.sin(angle)]), 0, [WIDTH, HEIGHT])
        out.append(SimLine(str(rng.choice(["edge", "crack"])), _curve(rng, start, end, 0.0)))
    return out


def _trace(rng: np.random.Generator, worker: LineWorker, line: SimLine, straight: bool) -> FloatArray:
    points = line.points
    lo = min(abs(float(rng.normal(0.0, worker.extent))), 0.3)  # it starts and stops a little inside the line
    hi = 1.0 - min(abs(float(rng.normal(0.0, worker.extent))), 0.3)
    count = 2 if straight else int(rng.integers(worker.vertices[0], worker.vertices[1] + 1))
    at = np.linspace(lo, hi, count)
    if count > 2:
        at[1:-1] += rng.normal(0.0, 0.3 / count, count - 2)
        at = np.sort(np.clip(at, lo, hi))
    index = np.linspace(0.0, 1.0, len(points))
    vertices = np.stack([np.interp(at, index, points[:, 0]), np.interp(at, index, points[:, 1])], axis=1)
    vertices = vertices + rng.normal(0.0, worker.jitter * DIAGONAL, vertices.shape)
    if rng.random() < worker.reverse:
        vertices = vertices[::-1]
    return np.asarray(vertices)


def _answer(
    rng: np.random.Generator, worker: LineWorker, truth: list[SimLine], straight: bool
) -> tuple[list[str], list[FloatArray]]:
    labels: list[str] = []
    lines: list[FloatArray] = []
    names = sorted({t.label for t in truth})
    for line in truth:
        if rng.random() < worker.miss:
            continue
        label = line.label
        if rng.random() < worker.wrong_label and len(names) > 1:
            label = str(rng.choice([n for n in names if n != label]))
        labels.append(label)
        lines.append(_trace(rng, worker, line, straight))
        if rng.random() < worker.duplicate:
            labels.append(label)
            lines.append(_trace(rng, worker, line, straight) + rng.normal(0.0, 0.004 * DIAGONAL, 2))
    for _ in range(int(rng.poisson(worker.extra))):
        start = rng.uniform([0, 0], [WIDTH, HEIGHT])
        end = start + rng.normal(0.0, 0.08 * DIAGONAL, 2)
        fake = SimLine(str(rng.choice(names)), _curve(rng, start, end, rng.uniform(-0.1, 0.1)))
        labels.append(fake.label)
        lines.append(_trace(rng, LineWorker(jitter=worker.jitter, vertices=(2, 5)), fake, straight))
    return labels, lines


def line_batch(crowd: LineCrowd, n_objects: int, seed: int) -> tuple[list[list[SimLine]], list[LineObject]]:
    """Truth scenes and each object's answers (workers by pool index)."""
    rng = np.random.default_rng(seed)
    scenes: list[list[SimLine]] = []
    objects: list[LineObject] = []
    straight = crowd.scene == "edges"
    for _ in range(n_objects):
        truth = edge_scene(rng) if straight else road_scene(rng, crowd.lanes)
        low, high = crowd.answers
        count = min(int(rng.integers(low, high + 1)), len(crowd.workers))
        chosen = rng.choice(len(crowd.workers), size=count, replace=False).tolist()  # in the order they submit
        answers = []
        for w in chosen:
            labels, lines = _answer(rng, crowd.workers[w], truth, straight)
            answers.append(WorkerLines(w, tuple(labels), tuple(lines)))
        scenes.append(truth)
        objects.append(LineObject(tuple(answers), WIDTH, HEIGHT))
    return scenes, objects
