"""Simulated crowds with known truth for classification, multi-label classification and named entities.

Test and benchmark helpers only (not shipped in the Lambda layer). Everything is in index form, as the
algorithms in :mod:`tally.aggregation` take it: objects, workers and labels are integers. Worker IDs
recur across the objects of a batch (each object draws its workers from a pool), so batch models can
learn them.

* Single label (:func:`classification_crowd`): careful workers of differing accuracy (a wrong answer is
  another class, uniformly), a swapper (exchanges two classes, otherwise careful), a spammer (uniform
  random), a worker biased to one class (answers it with some probability whatever the truth), class
  imbalance, 1–5 answers per object, workers of differing activity (how often each is drawn).
  :func:`matching_pool` and :func:`matching_crowd` draw a crowd shaped like a real product-matching
  job (8,315 pairs, 3 answers each, 176 workers, most of them seen on a few pairs).
* Multi-label (:func:`multilabel_crowd`): per label present/absent, workers with their own sensitivity
  and specificity, spammers ticking at random, a swapper of two labels, a lazy worker who ticks at most
  one label.
* Named entities (:func:`ner_crowd`): texts with non-overlapping entities; workers jitter boundaries,
  miss entities, add spurious spans, mislabel; spammers mark random spans. A worker's own spans never
  partly overlap (``<crowd-entity-annotation>`` forbids it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "ClassCrowd",
    "ClassWorker",
    "LabelWorker",
    "MultiLabelCrowd",
    "NerCrowd",
    "NerWorker",
    "classification_crowd",
    "matching_crowd",
    "matching_pool",
    "multilabel_crowd",
    "ner_crowd",
]

IntArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class ClassWorker:
    """How one simulated worker classifies."""

    accuracy: float = 0.8
    """Chance of the true class (careful part of every kind except spammers)."""
    kind: Literal["careful", "swapper", "spammer", "biased"] = "careful"
    swap: tuple[int, int] = (0, 1)
    """Swapper: these two classes are always exchanged."""
    bias_class: int = 0
    bias: float = 0.5
    """Biased: chance of answering ``bias_class`` whatever the truth."""

    def answer(self, rng: np.random.Generator, truth: int, n_classes: int) -> int:
        if self.kind == "spammer":
            return int(rng.integers(n_classes))
        if self.kind == "biased" and rng.random() < self.bias:
            return self.bias_class
        label = truth
        if rng.random() >= self.accuracy and n_classes > 1:
            label = int((truth + rng.integers(1, n_classes)) % n_classes)
        if self.kind == "swapper":
            a, b = self.swap
            label = b if label == a else a if label == b else label
        return label


@dataclass
class ClassCrowd:
    """A single-label batch: one row per answer, and the truth per object."""

    tasks: IntArray
    workers: IntArray
    labels: IntArray
    truth: IntArray
    n_classes: int
    n_workers: int

    @property
    def n_tasks(self) -> int:
        return int(self.truth.size)


def _answer_counts(rng: np.random.Generator, n: int, answers: tuple[int, int], pool: int) -> IntArray:
    lo, hi = answers
    return np.minimum(rng.integers(lo, hi + 1, size=n), pool).astype(np.intp)


def classification_crowd(
    rng: np.random.Generator,
    n_objects: int,
    pool: Sequence[ClassWorker],
    *,
    n_classes: int,
    answers: tuple[int, int] = (3, 3),
    class_probs: Sequence[float] | None = None,
    activity: Sequence[float] | None = None,
) -> ClassCrowd:
    """Draw a batch: each object's true class from ``class_probs``, then ``answers`` distinct workers,
    each drawn in proportion to its ``activity`` (default: all alike)."""
    probs = np.full(n_classes, 1.0 / n_classes) if class_probs is None else np.asarray(class_probs, dtype=float)
    truth = rng.choice(n_classes, size=n_objects, p=probs / probs.sum()).astype(np.intp)
    counts = _answer_counts(rng, n_objects, answers, len(pool))
    weights = None if activity is None else np.asarray(activity, dtype=float) / float(np.sum(activity))
    tasks, workers, labels = [], [], []
    for i in range(n_objects):
        for w in rng.choice(len(pool), size=int(counts[i]), replace=False, p=weights):
            tasks.append(i)
            workers.append(int(w))
            labels.append(pool[int(w)].answer(rng, int(truth[i]), n_classes))
    return ClassCrowd(
        np.asarray(tasks, dtype=np.intp),
        np.asarray(workers, dtype=np.intp),
        np.asarray(labels, dtype=np.intp),
        truth,
        n_classes,
        len(pool),
    )


def matching_pool(rng: np.random.Generator, n_workers: int = 176) -> tuple[list[ClassWorker], list[float]]:
    """Workers for a two-class matching job (0: no match, 1: match) and how active each is.

    Every worker is drawn with an accuracy of their own: about two thirds careful (0.75–0.97), a
    sixth who say "no match" by default some of the time (biased to class 0, 30–70 %), a tenth weak
    (0.55–0.72), the rest spammers. Activity is log-normal: a few workers answer hundreds of pairs,
    most answer a handful, as on real crowds.
    """
    pool: list[ClassWorker] = []
    for _ in range(n_workers):
        kind = rng.random()
        if kind < 0.66:
            pool.append(ClassWorker(float(rng.uniform(0.75, 0.97))))
        elif kind < 0.83:
            pool.append(
                ClassWorker(
                    float(rng.uniform(0.8, 0.95)), kind="biased", bias_class=0, bias=float(rng.uniform(0.3, 0.7))
                )
            )
        elif kind < 0.94:
            pool.append(ClassWorker(float(rng.uniform(0.55, 0.72))))
        else:
            pool.append(ClassWorker(kind="spammer"))
    activity = rng.lognormal(0.0, 1.3, size=n_workers)
    return pool, [float(a) for a in activity]


def matching_crowd(rng: np.random.Generator, n_objects: int = 8315, n_workers: int = 176) -> ClassCrowd:
    """A product-matching job shaped like a real one: ``n_objects`` pairs, 13 % of them matches, three
    answers each from :func:`matching_pool`'s workers."""
    pool, activity = matching_pool(rng, n_workers)
    return classification_crowd(
        rng, n_objects, pool, n_classes=2, answers=(3, 3), class_probs=(0.87, 0.13), activity=activity
    )


@dataclass(frozen=True)
class LabelWorker:
    """How one simulated worker ticks labels in a multi-select classifier."""

    sensitivity: float = 0.85
    """Chance of ticking a label that applies."""
    specificity: float = 0.95
    """Chance of leaving a label that does not apply unticked."""
    kind: Literal["careful", "spammer", "swapper", "lazy"] = "careful"
    swap: tuple[int, int] = (0, 1)
    spam_rate: float = 0.3
    """Spammer: chance of ticking each label whatever the truth."""

    def answer(self, rng: np.random.Generator, truth: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
        n = truth.size
        if self.kind == "spammer":
            return np.asarray(rng.random(n) < self.spam_rate)
        ticks = np.where(truth, rng.random(n) < self.sensitivity, rng.random(n) >= self.specificity)
        if self.kind == "swapper":
            a, b = self.swap
            ticks[[a, b]] = ticks[[b, a]]
        if self.kind == "lazy" and ticks.sum() > 1:
            keep = int(np.flatnonzero(ticks)[0])
            ticks[:] = False
            ticks[keep] = True
        return np.asarray(ticks, dtype=bool)


@dataclass
class MultiLabelCrowd:
    tasks: IntArray
    workers: IntArray
    label_sets: npt.NDArray[np.int_]
    truth: npt.NDArray[np.bool_]
    n_workers: int

    @property
    def n_tasks(self) -> int:
        return int(self.truth.shape[0])


def multilabel_crowd(
    rng: np.random.Generator,
    n_objects: int,
    pool: Sequence[LabelWorker],
    *,
    label_probs: Sequence[float],
    answers: tuple[int, int] = (3, 3),
) -> MultiLabelCrowd:
    """Draw a batch: each label present independently with its probability, then the workers' ticks."""
    p = np.asarray(label_probs, dtype=float)
    truth = rng.random((n_objects, p.size)) < p[None, :]
    counts = _answer_counts(rng, n_objects, answers, len(pool))
    tasks, workers, sets = [], [], []
    for i in range(n_objects):
        for w in rng.choice(len(pool), size=int(counts[i]), replace=False):
            tasks.append(i)
            workers.append(int(w))
            sets.append(pool[int(w)].answer(rng, truth[i]))
    return MultiLabelCrowd(
        np.asarray(tasks, dtype=np.intp),
        np.asarray(workers, dtype=np.intp),
        np.asarray(sets, dtype=np.int_).reshape(-1, p.size),
        truth,
        len(pool),
    )


Span = tuple[int, int, int]


@dataclass(frozen=True)
class NerWorker:
    """How one simulated worker highlights entities."""

    jitter: float = 0.2
    """Chance that each boundary moves by 1–2 characters."""
    miss: float = 0.1
    """Chance of leaving an entity out."""
    extra: float = 0.3
    """Expected number of spurious spans per text."""
    wrong_label: float = 0.05
    """Chance of giving an entity another label."""
    spam: bool = False
    """Random spans only (``extra`` + 2 of them per text)."""

    def answer(self, rng: np.random.Generator, truth: Sequence[Span], length: int, n_labels: int) -> list[Span]:
        spans: list[Span] = []
        if not self.spam:
            for label, start, end in truth:
                if rng.random() < self.miss:
                    continue
                if rng.random() < self.jitter:
                    start += int(rng.choice([-2, -1, 1, 2]))
                if rng.random() < self.jitter:
                    end += int(rng.choice([-2, -1, 1, 2]))
                if rng.random() < self.wrong_label and n_labels > 1:
                    label = int((label + rng.integers(1, n_labels)) % n_labels)
                spans.append((label, max(0, start), min(length, end)))
        n_extra = int(rng.poisson(self.extra + (2.0 if self.spam else 0.0)))
        for _ in range(n_extra):
            start = int(rng.integers(0, max(1, length - 3)))
            spans.append((int(rng.integers(n_labels)), start, min(length, start + int(rng.integers(2, 12)))))
        return _no_partial_overlap(spans)


def _no_partial_overlap(spans: list[Span]) -> list[Span]:
    """Keep spans in order of start; drop any that partly overlaps one kept (as the element enforces)."""
    kept: list[Span] = []
    for label, start, end in sorted(spans, key=lambda s: (s[1], s[2], s[0])):
        if end <= start:
            continue
        if any(start < e and s < end and (s, e) != (start, end) for _, s, e in kept):
            continue
        if (label, start, end) not in kept:
            kept.append((label, start, end))
    return kept


@dataclass
class NerCrowd:
    objects: list[list[tuple[int, list[Span]]]]
    """Per text, one ``(worker, spans)`` per answering worker."""
    truth: list[list[Span]]
    n_workers: int


def ner_crowd(
    rng: np.random.Generator,
    n_objects: int,
    pool: Sequence[NerWorker],
    *,
    n_labels: int = 4,
    length: int = 200,
    entities: tuple[int, int] = (2, 6),
    answers: tuple[int, int] = (3, 3),
) -> NerCrowd:
    """Texts of ``length`` characters with non-overlapping entities of 2–15 characters."""
    truth: list[list[Span]] = []
    objects: list[list[tuple[int, list[Span]]]] = []
    counts = _answer_counts(rng, n_objects, answers, len(pool))
    for i in range(n_objects):
        n_ent = int(rng.integers(entities[0], entities[1] + 1))
        cuts = np.sort(rng.choice(np.arange(1, length // 2), size=n_ent, replace=False)) * 2
        spans: list[Span] = []
        for c in cuts:
            end = min(int(c) + int(rng.integers(2, 16)), length)
            if spans and int(c) < spans[-1][2] + 1:
                continue  # keep at least one character between entities
            spans.append((int(rng.integers(n_labels)), int(c), end))
        truth.append(spans)
        objects.append(
            [
                (int(w), pool[int(w)].answer(rng, spans, length, n_labels))
                for w in rng.choice(len(pool), size=int(counts[i]), replace=False)
            ]
        )
    return NerCrowd(objects, truth, len(pool))
