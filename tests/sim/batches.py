"""Payloads of every task type at Ground Truth's largest batch shapes (5,000 objects x 9 workers), as
Ground Truth delivers them (JSON strings in ``annotationData.content``), for tests and benchmarks of
the response size limit.

Each builder takes a seeded generator, the object count and the worker count, and returns the
payload list and the job's labels (``None`` for pass-through). Workers differ from each other in
every task (their own accuracy, miss rate or jitter), so worker figures differ. Masks are tiny (6x8)
and drawn from a small pool, so the size of a response, not the vote, dominates.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

__all__ = ["BUILDERS", "worker_id"]

Payload = tuple[list[dict[str, Any]], list[str] | None]
Builder = Callable[[np.random.Generator, int, int], Payload]

CLASSES = ["Dog", "Cat", "Bird", "Fish"]
THINGS = ["car", "person", "sign"]
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c"]
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "the",
    "lazy",
    "dog",
    "near",
    "the",
    "river",
    "bank",
    "in",
    "the",
    "old",
    "town",
]
SIZE = {"width": 8, "height": 6}


def worker_id(k: int) -> str:
    """A private-workforce worker ID of the real length (``private.<region>.<17 hex>``)."""
    return f"private.us-east-1.{0xA1B2C3D4E5F600000 + k:017x}"


def _entry(i: int, answers: list[str], data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "datasetObjectId": str(i),
        "dataObject": data or {"s3Uri": f"s3://gt-bucket/images/{i:05d}.jpg"},
        "annotations": [{"workerId": worker_id(k), "annotationData": {"content": a}} for k, a in enumerate(answers)],
    }


def _classification(rng: np.random.Generator, n: int, workers: int, *, text: bool = False) -> Payload:
    accuracy = rng.uniform(0.55, 0.97, size=workers)
    element = "crowd-classifier" if text else "crowd-image-classifier"
    truth = rng.integers(len(CLASSES), size=n)
    right = rng.random((n, workers)) < accuracy
    other = rng.integers(len(CLASSES), size=(n, workers))
    payload = []
    for i in range(n):
        chosen = np.where(right[i], truth[i], other[i])
        answers = [json.dumps({element: {"label": CLASSES[int(c)]}}) for c in chosen]
        payload.append(_entry(i, answers, {"content": " ".join(WORDS[: 6 + i % 5])} if text else None))
    return payload, CLASSES


def _multilabel(rng: np.random.Generator, n: int, workers: int) -> Payload:
    flip = rng.uniform(0.03, 0.3, size=workers)
    payload = []
    for i in range(n):
        truth = rng.random(len(CLASSES)) < 0.4
        ticked = truth ^ (rng.random((workers, len(CLASSES))) < flip[:, None])
        answers = [
            json.dumps(
                {"crowd-image-classifier-multi-select": {"labels": [c for c, t in zip(CLASSES, row, strict=True) if t]}}
            )
            for row in ticked.tolist()
        ]
        payload.append(_entry(i, answers))
    return payload, CLASSES


def _entities(rng: np.random.Generator, n: int, workers: int) -> Payload:
    miss = rng.uniform(0.02, 0.4, size=workers)
    payload = []
    for i in range(n):
        words = [WORDS[int(j)] for j in rng.integers(len(WORDS), size=24)]
        starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
        chosen = sorted(rng.choice(len(words), size=4, replace=False).tolist())
        truth = [(THINGS[int(rng.integers(3))], int(starts[j]), int(starts[j]) + len(words[j])) for j in chosen]
        answers = []
        for k in range(workers):
            spans = [{"label": lab, "startOffset": s, "endOffset": e} for lab, s, e in truth if rng.random() > miss[k]]
            answers.append(json.dumps({"crowd-entity-annotation": {"entities": spans}}))
        payload.append(_entry(i, answers, {"content": " ".join(words)}))
    return payload, THINGS


def _scene(rng: np.random.Generator) -> list[tuple[str, float, float, float, float]]:
    m = int(rng.integers(1, 5))
    return [
        (
            THINGS[int(rng.integers(3))],
            rng.uniform(0, 500),
            rng.uniform(0, 380),
            rng.uniform(30, 130),
            rng.uniform(30, 90),
        )
        for _ in range(m)
    ]


def _boxes(rng: np.random.Generator, n: int, workers: int) -> Payload:
    jitter, miss = rng.uniform(1, 8, size=workers), rng.uniform(0, 0.2, size=workers)
    payload = []
    for i in range(n):
        scene = _scene(rng)
        answers = []
        for k in range(workers):
            boxes = [
                {
                    "label": lab,
                    "left": round(float(x + rng.normal(0, jitter[k])), 1),
                    "top": round(float(y + rng.normal(0, jitter[k])), 1),
                    "width": round(w, 1),
                    "height": round(h, 1),
                }
                for lab, x, y, w, h in scene
                if rng.random() > miss[k]
            ]
            size = {"width": 640, "height": 480}
            answers.append(json.dumps({"boundingBox": {"boundingBoxes": boxes, "inputImageProperties": size}}))
        payload.append(_entry(i, answers))
    return payload, THINGS


def _keypoints(rng: np.random.Generator, n: int, workers: int) -> Payload:
    jitter = rng.uniform(1, 8, size=workers)
    payload = []
    for i in range(n):
        scene = _scene(rng)
        answers = []
        for k in range(workers):
            points = [
                {
                    "label": lab,
                    "x": round(float(x + rng.normal(0, jitter[k])), 1),
                    "y": round(float(y + rng.normal(0, jitter[k])), 1),
                }
                for lab, x, y, _, _ in scene
            ]
            size = {"width": 640, "height": 480}
            answers.append(json.dumps({"crowd-keypoint": {"keypoints": points, "inputImageProperties": size}}))
        payload.append(_entry(i, answers))
    return payload, THINGS


def _polygons(rng: np.random.Generator, n: int, workers: int) -> Payload:
    jitter = rng.uniform(0.1, 1.0, size=workers)
    payload = []
    for i in range(n):
        shapes = [
            (THINGS[int(rng.integers(3))], rng.uniform(0, 3), rng.uniform(0, 2)) for _ in range(int(rng.integers(1, 3)))
        ]
        answers = []
        for k in range(workers):
            polygons = [
                {
                    "label": lab,
                    "vertices": [
                        {
                            "x": round(float(x + dx + rng.normal(0, jitter[k])), 1),
                            "y": round(float(y + dy + rng.normal(0, jitter[k])), 1),
                        }
                        for dx, dy in ((0, 0), (4, 0), (4, 3), (0, 3))
                    ],
                }
                for lab, x, y in shapes
            ]
            answers.append(json.dumps({"annotatedResult": {"polygons": polygons, "inputImageProperties": SIZE}}))
        payload.append(_entry(i, answers))
    return payload, THINGS


def _png(indices: npt.NDArray[np.uint8], colours: list[str]) -> str:
    image = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
    image.putpalette(bytes([0, 0, 0] + [int(c[j : j + 2], 16) for c in colours for j in (1, 3, 5)]))
    buf = io.BytesIO()
    image.save(buf, format="PNG", transparency=0)
    return base64.b64encode(buf.getvalue()).decode()


def _drawings(rng: np.random.Generator, pool: int = 24) -> list[npt.NDArray[np.uint8]]:
    """Tiny 6x8 drawings of two things (1 and 2; 0 nothing)."""
    out = []
    for _ in range(pool):
        grid = np.zeros((SIZE["height"], SIZE["width"]), dtype=np.uint8)
        for thing in (1, 2):
            y, x = int(rng.integers(0, 4)), int(rng.integers(0, 5))
            grid[y : y + 2 + int(rng.integers(2)), x : x + 3] = thing
        out.append(grid)
    return out


def _masks(
    rng: np.random.Generator, n: int, workers: int, element: Callable[[str], dict[str, Any]]
) -> list[dict[str, Any]]:
    pngs = [_png(grid, COLOURS[:2]) for grid in _drawings(rng)]
    care = rng.uniform(0.5, 0.95, size=workers)  # how often a worker draws the object's own scene
    payload = []
    for i in range(n):
        scene = int(rng.integers(len(pngs)))
        picks = np.where(rng.random(workers) < care, scene, rng.integers(len(pngs), size=workers))
        payload.append(_entry(i, [json.dumps(element(pngs[int(p)])) for p in picks]))
    return payload


def _semantic(rng: np.random.Generator, n: int, workers: int) -> Payload:
    mappings = {lab: {"color": c} for lab, c in zip(THINGS[:2], COLOURS, strict=False)}

    def element(png: str) -> dict[str, Any]:
        value = {"labelMappings": mappings, "labeledImage": {"pngImageData": png}, "inputImageProperties": SIZE}
        return {"crowd-semantic-segmentation": value}

    return _masks(rng, n, workers, element), THINGS


def _instances(rng: np.random.Generator, n: int, workers: int) -> Payload:
    instances = [{"color": COLOURS[0], "label": "car"}, {"color": COLOURS[1], "label": "person"}]

    def element(png: str) -> dict[str, Any]:
        value = {"instances": instances, "labeledImage": {"pngImageData": png}, "inputImageProperties": SIZE}
        return {"annotatedResult": value}

    return _masks(rng, n, workers, element), THINGS


def _passthrough(rng: np.random.Generator, n: int, workers: int) -> Payload:
    stars = rng.integers(1, 6, size=(n, workers))
    payload = []
    for i in range(n):
        answers = [
            json.dumps({"review": {"comment": f"looks fine to me ({k})", "stars": int(s)}})
            for k, s in enumerate(stars[i].tolist())
        ]
        payload.append(_entry(i, answers))
    return payload, None


def _numbers(rng: np.random.Generator, n: int, workers: int) -> Payload:
    """A 0-100 slider: each rater has an offset and a noise of their own; the last answers at random."""
    offset, noise = rng.normal(0, 6, size=workers), rng.uniform(2, 12, size=workers)
    payload = []
    for i in range(n):
        truth = rng.uniform(0, 100)
        given = np.clip(np.round(truth + offset + rng.normal(0, noise)), 0, 100).astype(int)
        given[-1] = int(rng.integers(0, 101))
        payload.append(_entry(i, [json.dumps({"quality": int(v)}) for v in given]))
    return payload, None


def _typed(rng: np.random.Generator, words: list[str], typo: float, skip: float) -> str:
    out = []
    for word in words:
        if rng.random() < skip:
            continue
        if rng.random() < typo and len(word) > 2:
            k = int(rng.integers(len(word) - 1))
            word = word[:k] + word[k + 1] + word[k] + word[k + 2 :]
        out.append(word)
    return " ".join(out)


def _free_text(rng: np.random.Generator, n: int, workers: int) -> Payload:
    """Transcriptions of 12-24 words: each worker has their own typo and skip rates."""
    typo, skip = rng.uniform(0.01, 0.15, size=workers), rng.uniform(0.0, 0.08, size=workers)
    payload = []
    for i in range(n):
        truth = [WORDS[int(j)] for j in rng.integers(len(WORDS), size=int(rng.integers(12, 25)))]
        answers = [json.dumps({"transcription": _typed(rng, truth, typo[k], skip[k])}) for k in range(workers)]
        payload.append(_entry(i, answers))
    return payload, None


def _rankings(rng: np.random.Generator, n: int, workers: int) -> Payload:
    """``crowd-text-ranking`` of 4 responses in two dimensions (one allowing ties): Thurstone workers
    with their own noise; the last reverses the scale."""
    noise = rng.uniform(0.2, 1.5, size=workers)
    payload = []
    for i in range(n):
        answers = []
        truth = rng.normal(0, 1, size=(2, 4))
        for k in range(workers):
            dimensions = []
            for d, name in enumerate(("Clarity", "Inclusivity")):
                seen = truth[d] + rng.normal(0, noise[k], size=4)
                order = np.argsort(seen if k == workers - 1 else -seen)
                ranks = np.empty(4, dtype=int)
                ranks[order] = np.arange(1, 5)
                if d == 1:
                    ranks = np.minimum(ranks, 3)  # ties: the two last share a rank
                dimensions.append({"name": name, "responseRankings": ranks.tolist()})
            answers.append(json.dumps({"ordinalRankingDimensions": dimensions}))
        payload.append(_entry(i, answers))
    return payload, None


def _line_answers(rng: np.random.Generator, n: int, workers: int, *, key: str, vertices: int) -> Payload:
    jitter, miss = rng.uniform(1, 6, size=workers), rng.uniform(0, 0.2, size=workers)
    payload = []
    for i in range(n):
        scene = [
            (THINGS[int(rng.integers(3))], rng.uniform(0, 640, size=2), rng.uniform(0, 480, size=2))
            for _ in range(int(rng.integers(1, 5)))
        ]
        answers = []
        for k in range(workers):
            drawn = []
            for label, xs, ys in scene:
                if rng.random() < miss[k]:
                    continue
                t = np.linspace(0, 1, vertices)
                x = xs[0] + t * (xs[1] - xs[0]) + rng.normal(0, jitter[k], size=vertices)
                y = ys[0] + t * (ys[1] - ys[0]) + rng.normal(0, jitter[k], size=vertices)
                points = [{"x": round(float(a), 1), "y": round(float(b), 1)} for a, b in zip(x, y, strict=True)]
                drawn.append({"label": label, "vertices": points})
            answers.append(json.dumps({key: {key: drawn, "inputImageProperties": {"width": 640, "height": 480}}}))
        payload.append(_entry(i, answers))
    return payload, THINGS


BUILDERS: dict[str, Builder] = {
    "classification": lambda rng, n, w: _classification(rng, n, w),
    "text classification": lambda rng, n, w: _classification(rng, n, w, text=True),
    "multi-label": _multilabel,
    "named entities": _entities,
    "boxes": _boxes,
    "keypoints": _keypoints,
    "instances": _instances,
    "polygons": _polygons,
    "semantic segmentation": _semantic,
    "numbers": _numbers,
    "free text": _free_text,
    "rankings": _rankings,
    "polylines": lambda rng, n, w: _line_answers(rng, n, w, key="polylines", vertices=5),
    "lines": lambda rng, n, w: _line_answers(rng, n, w, key="lines", vertices=2),
    "pass-through": _passthrough,
}
"""Every task type tally consolidates, and pass-through."""
