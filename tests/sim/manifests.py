"""Output manifests of simulated jobs "consolidated" the AWS recipe's way (every answer stored under the
label attribute), for `tally reconsolidate`'s tests and benchmark: segmentation (:func:`segmentation_lines`)
and classification (:func:`classification_lines`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tests.sim.classification import ClassCrowd
from tests.sim.segmentation import WorkerStyle, answer_content, random_scene, worker_colours, worker_view

LABELS = ["road", "car", "person", "sign"]
WORKERS = {
    "private.us-east-1.sim0000000000000a": WorkerStyle(jitter=1.5),
    "private.us-east-1.sim0000000000000b": WorkerStyle(jitter=2.5, grow=2),
    "private.us-east-1.sim0000000000000c": WorkerStyle(jitter=4.0, grow=6, miss_below=900, wrong_class=0.15),
}


def recipe_line(source_ref: str, attr: str, answers: list[tuple[str, str]]) -> dict[str, Any]:
    """A line of the recipe's output manifest: every ``(workerId, content)`` answer, as stored."""
    return {
        "source-ref": source_ref,
        attr: {"annotationsFromAllWorkers": [{"workerId": w, "annotationData": {"content": c}} for w, c in answers]},
        f"{attr}-metadata": {
            "type": "groundtruth/custom",
            "job-name": f"labeling-job/{attr}",
            "human-annotated": "yes",
            "creation-date": "2026-11-01T12:00:00.000000",
        },
    }


MORE_WORKERS = {
    "private.us-east-1.sim0000000000000d": WorkerStyle(jitter=2.0, grow=1),
    "private.us-east-1.sim0000000000000e": WorkerStyle(jitter=3.0, miss_below=500, wrong_class=0.05),
}
"""Two more workers of their own habits, for 5-worker jobs."""


def segmentation_lines(
    n: int, seed: int, attr: str, height: int = 96, width: int = 128, workers: int = 3
) -> Iterator[dict[str, Any]]:
    """``n`` lines of a simulated semantic-segmentation job of 3 (or, with ``workers=5``, 5) workers
    (reproducible from ``seed``)."""
    rng = np.random.default_rng(seed)
    crowd = dict(list({**WORKERS, **MORE_WORKERS}.items())[:workers])
    colours = {w: worker_colours(LABELS, rng) for w in crowd}
    for i in range(n):
        scene = random_scene(rng, height, width, len(LABELS), n_shapes=6)
        answers = []
        for worker, style in crowd.items():
            mask = worker_view(scene, style, rng, height, width, len(LABELS))
            answers.append((worker, json.dumps(answer_content(mask, LABELS, colours[worker], list_all_labels=False))))
        yield recipe_line(f"s3://sim-bucket/images/{seed}-{i:05d}.jpg", attr, answers)


MATCHING = ["no match", "match"]


def classification_lines(crowd: ClassCrowd, attr: str, names: list[str] = MATCHING) -> Iterator[dict[str, Any]]:
    """One line per object of ``crowd``: the text pair as ``source``, every ``<crowd-classifier>``
    answer as the recipe stores it (workers ``w000``…, in the order they answered)."""
    answers: list[list[tuple[str, str]]] = [[] for _ in range(crowd.n_tasks)]
    for t, w, k in zip(crowd.tasks.tolist(), crowd.workers.tolist(), crowd.labels.tolist(), strict=True):
        answers[t].append((f"private.us-east-1.w{w:03d}", json.dumps({"category": {"label": names[k]}})))
    for i, given in enumerate(answers):
        line = recipe_line("", attr, given)
        del line["source-ref"]
        yield {"source": f"pair {i}", **line}


def write_manifest(path: Path, lines: Iterator[dict[str, Any]]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")
    return path


MATCHING_FORM = """<crowd-form>
  <p>Are these the same product?</p>
  <select name="match" required>
    <option value="no match">No</option>
    <option value="match">Yes</option>
  </select>
  <crowd-slider name="sure" min="1" max="5" step="1"></crowd-slider>
  <crowd-input name="note"></crowd-input>
</crowd-form>"""
"""The product-matching question asked in a form (:func:`form_lines`): a ``<select>``, a slider, a text box."""


def form_lines(crowd: ClassCrowd, attr: str, names: list[str] = MATCHING) -> Iterator[dict[str, Any]]:
    """:func:`classification_lines` as a form (:data:`MATCHING_FORM`): each answer's choice under
    ``match`` (a ``<select>`` submits its option), how sure the worker is (1–5, each worker their own
    habit) and, from some workers, a note (left empty: absent, as ``crowd-input`` submits it)."""
    answers: list[list[tuple[str, str]]] = [[] for _ in range(crowd.n_tasks)]
    for t, w, k in zip(crowd.tasks.tolist(), crowd.workers.tolist(), crowd.labels.tolist(), strict=True):
        content: dict[str, Any] = {"match": names[k], "sure": 1 + (w * 3 + t) % 5}
        if w % 4 == 0:
            content["note"] = f"looks like {names[k]}"
        answers[t].append((f"private.us-east-1.w{w:03d}", json.dumps(content)))
    for i, given in enumerate(answers):
        line = recipe_line("", attr, given)
        del line["source-ref"]
        yield {"source": f"pair {i}", **line}
