"""Quality benchmark: `make bench-quality`. Prints Markdown tables for the README.

Crowds are simulated from known ground-truth label maps (:mod:`tests.sim.segmentation`): one batch per
scenario, objects alternating between two image sizes, 3–6 labels, large and small shapes. Every
answer is encoded exactly as Ground Truth delivers it: a base64 PNG in a
``<crowd-semantic-segmentation>`` form output, each worker with their own label colours, some
workers sending palette PNGs and some RGBA, some listing only the labels they used. Worker IDs recur
across the objects of a batch, so methods that estimate reliability over the batch can.

Methods:

* **tally**: every algorithm in :data:`tally.settings.ALGORITHMS`, run through
  :func:`tally.consolidate_batch` on the whole batch (in-memory storage); each object's output mask
  PNG and its ``confidence`` are read back from the response. ``majority`` is the plain vote; the
  default (``Settings().algorithm``) is labelled as such. Time per object = the batch's wall time
  (best of ``--repeats`` runs) / objects, so it includes decoding the workers' PNGs and writing the
  output PNG, with the batch's thread pool (``Settings().threads``).
* **peers**: SimpleITK ``LabelVoting``, ``MultiLabelSTAPLE`` and one-vs-rest ``STAPLE``; crowd-kit
  ``SegmentationMajorityVote``, ``SegmentationEM`` and ``SegmentationRASA`` one-vs-rest. Their input is
  each worker's class map decoded from the very PNGs tally receives, with tally's own decoder
  (:func:`tally.codecs.decode_png` + :func:`tally.codecs.index_mask`); the run checks that these are
  identical to the simulated class maps. Peers are timed per object on their aggregation only (from
  the class maps to one label map, including their own input conversion), not on PNG decoding.
  Peers see one object at a time, as their APIs do.

One-vs-rest: each class present in some answer is a binary problem (worker painted it or not).
STAPLE combines by the argmax of the per-class probabilities, background where none is above 0.5.
crowd-kit's methods return binary masks only: a pixel set in exactly one class's mask gets that
class; set in several, the one of those with the most worker votes (a tie among those: background);
set in none, background. LabelVoting's and MultiLabelSTAPLE's undecided pixels are background.

Metrics: per object, IoU for every class present in the truth or the prediction (background
included), averaged (mIoU); then the mean over the scenario's objects, and over scenarios. The
Spearman rank correlation between tally's per-object ``confidence`` and its per-object mIoU is taken
over all objects of all scenarios (and once more without single-answer objects, whose confidence is
their worker's reliability record in the batch, or 0 without one).

Results are printed and written to ``bench/results/quality.md``. Seeds are fixed: the same arguments
give the same qualities (timings vary).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from io import BytesIO
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
import SimpleITK  # type: ignore[import-not-found,unused-ignore]  # (bench deps absent in `make typecheck`)
from crowdkit.aggregation import (  # type: ignore[import-not-found,unused-ignore]
    SegmentationEM,
    SegmentationMajorityVote,
    SegmentationRASA,
)
from PIL import Image
from scipy.stats import spearmanr  # type: ignore[import-untyped]

from tally import ConsolidationRequest, consolidate_batch
from tally.codecs import decode_png, hex_to_rgb, index_mask
from tally.settings import ALGORITHMS, Settings
from tally.storage import MemoryStorage
from tests.sim.segmentation import (
    WorkerStyle,
    answer_content,
    draw,
    payload_entry,
    random_scene,
    worker_colours,
    worker_view,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "quality.md"
ELEMENT = "crowd-semantic-segmentation"
ATTR = "bench"
PAYLOAD_URI = "s3://bench-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/batch.json"
LABEL_POOL = ("road", "car", "person", "sign", "tree", "building")
STAPLE_MAX_ITERATIONS = 200  # both STAPLE filters default to no limit; they converge far sooner here

sitk: Any = SimpleITK  # its SWIG wrappers are untyped; calls through Any keep mypy --strict quiet

LabelMap = npt.NDArray[np.uint8]
StyleOf = Callable[[float], WorkerStyle]  # image scale (shorter side / 240) → the worker's habits


# --------------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class Worker:
    """A simulated worker: habits (scaled to the image), PNG mode, and whether they copy someone."""

    role: str
    style: StyleOf
    mode: Literal["P", "RGBA"] = "P"
    list_all_labels: bool = True
    copies: int | None = None  # index of the worker whose class map this one submits unchanged


def honest(jitter: float = 1.5, grow: float = 0.0) -> StyleOf:
    return lambda s: WorkerStyle(jitter=jitter * s, grow=grow * s)


def sloppy() -> StyleOf:
    """Loose outlines, misses small shapes, sometimes picks another class."""
    return lambda s: WorkerStyle(jitter=4 * s, grow=4 * s, miss_below=600 * s * s, wrong_class=0.15)


def offset(dx: float, dy: float) -> StyleOf:
    return lambda s: WorkerStyle(jitter=1.5 * s, offset=(round(dx * s), round(dy * s)))


def swapper() -> StyleOf:
    return lambda s: WorkerStyle(jitter=1.5 * s, swap=(1, 2))


def spammer() -> StyleOf:
    return lambda s: WorkerStyle(spam=True)


def lazy() -> StyleOf:
    return lambda s: WorkerStyle(lazy=True)


def careless_classes(rate: float) -> StyleOf:
    return lambda s: WorkerStyle(jitter=2 * s, grow=1 * s, wrong_class=rate)


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    workers: tuple[Worker, ...]
    answers_per_object: tuple[int, int] | None = None  # (min, max) answers per object, else all workers


def _w(role: str, style: StyleOf, k: int, copies: int | None = None) -> Worker:
    """Worker number k: every second one sends RGBA, every third lists only the labels they used."""
    return Worker(role, style, "RGBA" if k % 2 else "P", k % 3 != 2, copies)


def _crowd(*members: tuple[str, StyleOf], copies: dict[int, int] | None = None) -> tuple[Worker, ...]:
    return tuple(_w(role, style, k, (copies or {}).get(k)) for k, (role, style) in enumerate(members))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("honest", "honest crowd, small boundary jitter",
             _crowd(("honest", honest(1.5, -1)), ("honest", honest(1.5)), ("honest", honest(1.5, 1)))),
    Scenario("sloppy", "one sloppy worker, 2 honest",
             _crowd(("honest", honest(1.5, -0.5)), ("sloppy", sloppy()), ("honest", honest(1.5, 0.5)))),
    Scenario("spammer", "a spammer, 3 honest",
             _crowd(("honest", honest(1.5, -1)), ("spammer", spammer()), ("honest", honest(1.5)),
                    ("honest", honest(1.5, 1)))),
    Scenario("lazy", "a lazy worker (one box), 2 honest",
             _crowd(("honest", honest(1.5, -0.5)), ("honest", honest(1.5, 0.5)), ("lazy", lazy()))),
    Scenario("swap", "a worker swapping 2 labels, 2 honest",
             _crowd(("swap", swapper()), ("honest", honest(1.5, -0.5)), ("honest", honest(1.5, 0.5)))),
    Scenario("offset", "a worker offset by (6, -4) px per 240 px, 2 honest",
             _crowd(("honest", honest(1.5, -0.5)), ("offset", offset(6, -4)), ("honest", honest(1.5, 0.5)))),
    Scenario("copying", "2 copies of one sloppy mask, 1 honest",
             _crowd(("sloppy", sloppy()), ("honest", honest(1.5)), ("copy", sloppy()), copies={2: 0})),
    Scenario("two", "only two workers: careful and loose",
             _crowd(("careful", honest(1.5, -1)), ("loose", careless_classes(0.1)))),
    Scenario("varying", "1–5 answers per object, pool of 5",
             _crowd(("honest", honest(1.5, -1)), ("honest", honest(2)), ("sloppy", sloppy()),
                    ("honest", honest(1.5, 1)), ("careless", careless_classes(0.25))),
             answers_per_object=(1, 5)),
    Scenario("mixed5", "mixed crowd",
             _crowd(("honest", honest(1.5, -1)), ("sloppy", sloppy()), ("honest", honest(2, 1)),
                    ("offset", offset(3, 2)), ("careless", careless_classes(0.3)))),
)  # fmt: skip


@dataclass
class SimObject:
    object_id: str
    truth: LabelMap
    worker_ids: list[str]
    maps: list[LabelMap]  # what each answering worker drew, in answer order
    contents: list[dict[str, Any]]  # each answer's form output, as Ground Truth delivers it


@dataclass
class Batch:
    scenario: Scenario
    labels: list[str]
    objects: list[SimObject]


def make_batch(scenario: Scenario, index: int, sizes: Sequence[tuple[int, int]], objects: int, seed: int) -> Batch:
    rng = np.random.default_rng([seed, index])
    n_labels = 3 + index % 4
    labels = list(LABEL_POOL[:n_labels])
    ids = [f"private.us-east-1.{int(rng.integers(1 << 62)):016x}" for _ in scenario.workers]
    colours = [worker_colours(labels, rng) for _ in scenario.workers]
    lo, hi = scenario.answers_per_object or (len(scenario.workers), len(scenario.workers))
    counts = [lo + i % (hi - lo + 1) for i in range(objects)]
    counts = [int(c) for c in rng.permutation(counts)]
    out = []
    for i in range(objects):
        height, width = sizes[i % len(sizes)]
        scale = min(height, width) / 240
        scene = random_scene(rng, height, width, n_labels, n_shapes=int(rng.integers(6, 11)))
        drawn: list[LabelMap] = []
        for worker in scenario.workers:
            if worker.copies is not None:
                drawn.append(drawn[worker.copies].copy())
            else:
                drawn.append(worker_view(scene, worker.style(scale), rng, height, width, n_labels))
        chosen = [int(k) for k in rng.permutation(len(scenario.workers))[: counts[i]]]
        out.append(
            SimObject(
                object_id=f"{scenario.key}-{i:02d}",
                truth=draw(scene, height, width),
                worker_ids=[ids[k] for k in chosen],
                maps=[drawn[k] for k in chosen],
                contents=[
                    answer_content(
                        drawn[k],
                        labels,
                        colours[k],
                        mode=scenario.workers[k].mode,
                        list_all_labels=scenario.workers[k].list_all_labels,
                    )
                    for k in chosen
                ],
            )
        )
    return Batch(scenario, labels, out)


def decoded_maps(obj: SimObject, labels: Sequence[str]) -> list[LabelMap]:
    """Each answer's class map as tally's decoder reads it from the PNG and the worker's colours."""
    maps = []
    for content in obj.contents:
        element = content[ELEMENT]
        size = element["inputImageProperties"]
        image = decode_png(element["labeledImage"]["pngImageData"], expected_size=(size["width"], size["height"]))
        table = {hex_to_rgb(m["color"]): labels.index(name) + 1 for name, m in element["labelMappings"].items()}
        maps.append(index_mask(image, table).classes())
    for got, drawn in zip(maps, obj.maps, strict=True):
        if not np.array_equal(got, drawn):
            raise AssertionError(f"{obj.object_id}: a decoded answer differs from the simulated class map")
    return maps


# --------------------------------------------------------------------------------------------------
# tally


@dataclass
class TallyRun:
    masks: list[LabelMap]
    confidences: list[float]
    seconds: float  # batch wall time
    failed: int = 0

    def mious(self, batch: Batch) -> list[float]:
        """Each object's mIoU against the truth."""
        return [miou(o.truth, m) for o, m in zip(batch.objects, self.masks, strict=True)]


def run_tally(batch: Batch, algorithm: str, repeats: int) -> TallyRun:
    payload = [
        payload_entry(
            obj.object_id,
            f"s3://bench-bucket/images/{obj.object_id}.jpg",
            [(wid, json.dumps(content)) for wid, content in zip(obj.worker_ids, obj.contents, strict=True)],
        )
        for obj in batch.objects
    ]
    files = {PAYLOAD_URI: json.dumps(payload).encode()}
    request = ConsolidationRequest.parse(
        {
            "labelAttributeName": ATTR,
            "labelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/bench",
            "labelCategories": batch.labels,
            "payload": {"s3Uri": PAYLOAD_URI},
            "outputConfig": "s3://bench-bucket/job/annotations",
        }
    )
    settings = Settings(algorithm=cast(Any, algorithm))
    best = float("inf")
    for _ in range(repeats):
        storage = MemoryStorage(files)
        start = time.perf_counter()
        batch_report = consolidate_batch(request, storage, settings=settings)
        best = min(best, time.perf_counter() - start)
    run = TallyRun([], [], best)
    for obj, entry in zip(batch.objects, batch_report.response, strict=True):
        assert entry["datasetObjectId"] == obj.object_id
        label = entry["consolidatedAnnotation"]["content"][ATTR]
        if "mask-ref" not in label:
            print(f"  tally {algorithm}: {obj.object_id} failed: {label.get('failure-reason')}", file=sys.stderr)
            run.failed += 1
            run.masks.append(np.zeros_like(obj.truth))
            run.confidences.append(0.0)
            continue
        mask = np.asarray(Image.open(BytesIO(storage.read(label["mask-ref"]))), dtype=np.uint8)
        run.masks.append(mask)
        run.confidences.append(float(label["confidence"]))
    return run


# --------------------------------------------------------------------------------------------------
# Peers: (class maps of one object, number of labels) → label map


def _images(maps: Sequence[LabelMap]) -> list[Any]:
    return [sitk.GetImageFromArray(m) for m in maps]


def sitk_label_voting(maps: Sequence[LabelMap], n_labels: int) -> LabelMap:
    undecided = 255
    out = sitk.GetArrayFromImage(sitk.LabelVoting(_images(maps), undecided)).astype(np.uint8)
    out[out == undecided] = 0
    return cast(LabelMap, out)


def sitk_multilabel_staple(maps: Sequence[LabelMap], n_labels: int) -> LabelMap:
    f = sitk.MultiLabelSTAPLEImageFilter()
    f.SetLabelForUndecidedPixels(0)
    f.SetMaximumNumberOfIterations(STAPLE_MAX_ITERATIONS)
    return cast(LabelMap, sitk.GetArrayFromImage(f.Execute(_images(maps))).astype(np.uint8))


def _present(maps: Sequence[LabelMap], n_labels: int) -> list[int]:
    seen = np.zeros(256, dtype=bool)
    for m in maps:
        seen[np.unique(m)] = True
    return [c for c in range(1, n_labels + 1) if seen[c]]


def sitk_staple_one_vs_rest(maps: Sequence[LabelMap], n_labels: int) -> LabelMap:
    images = _images(maps)
    classes = _present(maps, n_labels)
    out = np.zeros(maps[0].shape, dtype=np.uint8)
    if not classes:
        return out
    probs = np.empty((len(classes), *maps[0].shape), dtype=np.float64)
    for i, c in enumerate(classes):
        f = sitk.STAPLEImageFilter()
        f.SetForegroundValue(float(c))
        f.SetMaximumIterations(STAPLE_MAX_ITERATIONS)
        probs[i] = np.nan_to_num(sitk.GetArrayFromImage(f.Execute(images)), nan=0.0)
    best = np.argmax(probs, axis=0)
    keys = np.asarray(classes, dtype=np.uint8)[best]
    return np.where(probs.max(axis=0) > 0.5, keys, 0).astype(np.uint8)


def _crowdkit(aggregator: Callable[[], Any]) -> Callable[[Sequence[LabelMap], int], LabelMap]:
    def run(maps: Sequence[LabelMap], n_labels: int) -> LabelMap:
        classes = _present(maps, n_labels)
        out = np.zeros(maps[0].shape, dtype=np.uint8)
        if not classes:
            return out
        rows = [(str(c), f"w{k}", m == c) for c in classes for k, m in enumerate(maps)]
        data = pd.DataFrame(rows, columns=["task", "worker", "segmentation"])
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # RASA divides 0/0 for a worker who never painted the class
            result = aggregator().fit_predict(data)
        chosen = np.stack([np.asarray(result.loc[str(c)], dtype=bool) for c in classes])
        votes = np.stack([sum((m == c).astype(np.int32) for m in maps) for c in classes])
        score = np.where(chosen, votes, -1)  # only set classes compete, by their votes
        top = score.max(axis=0)
        winner = np.argmax(score, axis=0)
        unique_top = (score == top).sum(axis=0) == 1
        keys = np.asarray(classes, dtype=np.uint8)[winner]
        return np.where((top >= 0) & unique_top, keys, 0).astype(np.uint8)

    return run


PEERS: dict[str, Callable[[Sequence[LabelMap], int], LabelMap]] = {
    "SimpleITK LabelVoting": sitk_label_voting,
    "SimpleITK MultiLabelSTAPLE": sitk_multilabel_staple,
    "SimpleITK STAPLE 1-vs-rest": sitk_staple_one_vs_rest,
    "crowd-kit MV 1-vs-rest": _crowdkit(SegmentationMajorityVote),
    "crowd-kit EM 1-vs-rest": _crowdkit(SegmentationEM),
    "crowd-kit RASA 1-vs-rest": _crowdkit(SegmentationRASA),
}


# --------------------------------------------------------------------------------------------------
# Metrics


def miou(truth: LabelMap, pred: LabelMap) -> float:
    """Mean IoU over the classes present in the truth or the prediction (background included)."""
    n = int(max(truth.max(), pred.max())) + 1
    joint = np.bincount(truth.ravel().astype(np.int64) * n + pred.ravel(), minlength=n * n).reshape(n, n)
    inter = np.diag(joint).astype(np.float64)
    union = joint.sum(axis=0) + joint.sum(axis=1) - inter
    present = union > 0
    return float((inter[present] / union[present]).mean())


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


# --------------------------------------------------------------------------------------------------
# The run


@dataclass
class Results:
    methods: list[str]
    scenarios: list[Scenario] = field(default_factory=list)
    miou: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # method → scenario → per object
    seconds: dict[str, float] = field(default_factory=dict)  # method → total aggregation time
    objects: int = 0
    # tally method → per object (confidence, mIoU, answers, scenario key)
    confidence: dict[str, list[tuple[float, float, int, str]]] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)  # scenario → number of labels


def tally_name(algorithm: str, default: str) -> str:
    if algorithm == default:
        return f"tally (default: {algorithm})" + (" = plain vote" if algorithm == "majority" else "")
    return "plain majority vote (tally: majority)" if algorithm == "majority" else f"tally: {algorithm}"


def run(args: argparse.Namespace) -> Results:
    default = Settings().algorithm
    algorithms = [default, *[a for a in ALGORITHMS if a != default]]
    names = {a: tally_name(a, default) for a in algorithms}
    results = Results(methods=[*names.values(), *PEERS])
    for m in results.methods:
        results.miou[m] = {}
        results.seconds[m] = 0.0
    for name in names.values():
        results.confidence[name] = []
        results.failed[name] = 0
    warm = [np.zeros((8, 8), np.uint8), np.ones((8, 8), np.uint8)]
    for peer in PEERS.values():  # first-call costs (imports, thread pools) out of the timings
        peer(warm, 1)
    chosen = [s for s in SCENARIOS if not args.only or s.key in args.only]
    for scenario in chosen:
        index = SCENARIOS.index(scenario)
        started = time.perf_counter()
        batch = make_batch(scenario, index, args.sizes, args.objects, args.seed)
        results.scenarios.append(scenario)
        results.objects += len(batch.objects)
        n_labels = len(batch.labels)
        results.labels[scenario.key] = n_labels
        for algorithm, name in names.items():
            tr = run_tally(batch, algorithm, args.repeats)
            scores = tr.mious(batch)
            results.miou[name][scenario.key] = scores
            results.seconds[name] += tr.seconds
            results.failed[name] += tr.failed
            results.confidence[name] += [
                (c, v, len(o.contents), scenario.key)
                for c, v, o in zip(tr.confidences, scores, batch.objects, strict=True)
            ]
        inputs = [decoded_maps(o, batch.labels) for o in batch.objects]
        for peer_name, peer in PEERS.items():
            scores = []
            for obj, maps in zip(batch.objects, inputs, strict=True):
                start = time.perf_counter()
                pred = peer(maps, n_labels)
                results.seconds[peer_name] += time.perf_counter() - start
                scores.append(miou(obj.truth, pred))
            results.miou[peer_name][scenario.key] = scores
        line = ", ".join(f"{m.split(' (')[0]} {np.mean(results.miou[m][scenario.key]):.4f}" for m in results.methods)
        print(f"  {scenario.key}: {n_labels} labels, {time.perf_counter() - started:.0f} s: {line}", file=sys.stderr)
    return results


# --------------------------------------------------------------------------------------------------
# Report


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
        *["| " + " | ".join(r) + " |" for r in rows],
    ]


def _crowd_size(scenario: Scenario) -> str:
    if scenario.answers_per_object:
        return "{}–{}".format(*scenario.answers_per_object)
    return str(len(scenario.workers))


def _peers(results: Results) -> tuple[str, str | None, list[str]]:
    """The default tally method, the plain vote's name, and the methods the default is compared with."""
    default = results.methods[0]
    tally_methods = list(results.confidence)
    plain = next((m for m in tally_methods if m.endswith("= plain vote") or m.startswith("plain majority")), None)
    return default, plain, [m for m in results.methods if (m not in tally_methods or m == plain) and m != default]


def margins(results: Results) -> list[tuple[str, str, float, float]]:
    """Per scenario: key, the best peer, the default's mean margin over it, its standard error."""
    default, _, peers = _peers(results)
    out = []
    for s in results.scenarios:
        best = max(peers, key=lambda m: float(np.mean(results.miou[m][s.key])))
        diff = np.asarray(results.miou[default][s.key]) - np.asarray(results.miou[best][s.key])
        se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
        out.append((s.key, best, float(diff.mean()), se))
    return out


def report(results: Results, args: argparse.Namespace, wall: float) -> str:
    methods = results.methods
    keys = [s.key for s in results.scenarios]
    mean = {m: {k: float(np.mean(results.miou[m][k])) for k in keys} for m in methods}
    avg = {m: float(np.mean([mean[m][k] for k in keys])) for m in methods}
    default, plain, peers = _peers(results)
    tally_methods = list(results.confidence)

    def cells(values: Sequence[float]) -> list[str]:
        top = round(max(values), 4)
        return [f"**{v:.4f}**" if round(v, 4) == top else f"{v:.4f}" for v in values]

    sizes = " and ".join(f"{w}×{h}" for h, w in args.sizes)
    out = [
        f"mIoU per scenario ({args.objects} objects per scenario, one batch each, images alternately {sizes} (W×H); "
        f"seed {args.seed}; best in bold):",
        "",
    ]
    rows = []
    for i, s in enumerate(results.scenarios, start=1):
        label = f"{i}. {s.title} ({_crowd_size(s)} workers, {results.labels[s.key]} labels)"
        rows.append([label, *cells([mean[m][s.key] for m in methods])])
    rows.append(["**average**", *cells([avg[m] for m in methods])])
    out += _table(["scenario", *methods], rows)

    out += ["", "Time per object (tally: batch wall time / objects through `consolidate_batch`, PNG decoding and "
            "mask writing included; peers: their aggregation only):", ""]  # fmt: skip
    plain_time = results.seconds[plain] / results.objects if plain else None
    rows = []
    for m in methods:
        per = results.seconds[m] / results.objects
        rows.append([m, f"{per * 1e3:.1f}", f"{per / plain_time:.2f}x" if plain_time else "n/a"])
    out += _table(["method", "ms per object", "vs plain vote"], rows)

    if peers:
        out += ["", f"Target check for {default} against the best peer per scenario (peers: the plain vote, "
                "SimpleITK, crowd-kit; s.e. = standard error of the paired per-object difference):", ""]  # fmt: skip
        rows = []
        per_scenario = margins(results)
        for key, best, margin, se in per_scenario:
            rows.append(
                [key, f"{mean[default][key]:.4f}", best, f"{mean[best][key]:.4f}", f"{margin:+.4f}", f"{se:.4f}"]
            )
        found = [margin for _, _, margin, _ in per_scenario]
        mean_margin = float(np.mean(found))
        rows.append(["**mean**", f"{avg[default]:.4f}", "", "", f"{mean_margin:+.4f}", ""])
        out += _table(["scenario", "tally (default)", "best peer", "its mIoU", "margin", "s.e."], rows)
        best_avg = max(peers, key=lambda m: avg[m])
        ratio = results.seconds[default] / results.seconds[plain] if plain else float("nan")
        ok = min(found) >= 0 and mean_margin >= 0.01 and ratio <= 2
        out += [
            "",
            f"Mean margin {mean_margin:+.4f} (target ≥ +0.01), worst scenario {min(found):+.4f} (target ≥ 0), "
            f"{avg[default] - avg[best_avg]:+.4f} over the best peer on average ({best_avg}); time {ratio:.2f}x "
            f"the plain vote's (target ≤ 2x): target **{'met' if ok else 'not met'}**.",
        ]

    out += ["", "Spearman rank correlation between tally's per-object confidence and its per-object mIoU "
            "(a single-answer object's confidence is its worker's reliability record in the batch, else 0):", ""]  # fmt: skip
    rows = []
    for m in tally_methods:
        pairs = results.confidence[m]
        multi = [p for p in pairs if p[2] > 1]
        within = [spearman([p[0] for p in multi if p[3] == k], [p[1] for p in multi if p[3] == k]) for k in keys]
        rows.append([
            m,
            f"{spearman([p[0] for p in pairs], [p[1] for p in pairs]):.3f} ({len(pairs)})",
            f"{spearman([p[0] for p in multi], [p[1] for p in multi]):.3f} ({len(multi)})",
            f"{np.nanmean(within):.3f}" if not np.all(np.isnan(within)) else "n/a",
        ])  # fmt: skip
    out += _table(["method", "all objects (n)", "≥ 2 answers (n)", "within a scenario, mean"], rows)
    failed = {m: n for m, n in results.failed.items() if n}
    if failed:
        out += ["", f"Objects tally failed (scored as all background): {failed}"]
    versions = ", ".join(f"{p} {version(p)}" for p in ("numpy", "SimpleITK", "crowd-kit", "pandas", "scipy"))
    out += [
        "",
        f"Run: {wall:.0f} s wall, {os.cpu_count()} cores, Python {platform.python_version()}, {versions}; "
        f"tally: best of {args.repeats} runs per batch, Settings().threads = {Settings().threads}.",
    ]
    return "\n".join(out) + "\n"


def robustness(args: argparse.Namespace, first: Results) -> str:
    """The default's margin over the best peer per scenario, for the main seed and every extra one."""
    seeds = [args.seed, *args.also_seeds]
    found = {args.seed: margins(first)}
    for seed in args.also_seeds:
        print(f"seed {seed}:", file=sys.stderr)
        found[seed] = margins(run(argparse.Namespace(**{**vars(args), "seed": seed})))
    rows = []
    for i, s in enumerate(first.scenarios):
        rows.append([s.key, *[f"{found[seed][i][2]:+.4f}" for seed in seeds]])
    rows.append(["**mean**", *[f"{np.mean([m for _, _, m, _ in found[seed]]):+.4f}" for seed in seeds]])
    rows.append(["**worst**", *[f"{min(m for _, _, m, _ in found[seed]):+.4f}" for seed in seeds]])
    out = [
        "",
        f"The same comparison on other simulated batches (seeds {', '.join(map(str, args.also_seeds))}): the "
        f"default's mIoU margin over the best peer of each scenario and seed:",
        "",
        *_table(["scenario", *[f"seed {seed}" for seed in seeds]], rows),
    ]
    return "\n".join(out) + "\n"


def large(args: argparse.Namespace) -> str:
    """tally's default against the plain vote on 1280×960 images (the peers would take 4–6 s per
    object there), with the time per object of each."""
    default = Settings().algorithm
    rows = []
    seconds = {"default": 0.0, "majority": 0.0}
    averages: dict[str, list[float]] = {"default": [], "majority": []}
    for index, scenario in enumerate(SCENARIOS):
        if args.only and scenario.key not in args.only:
            continue
        batch = make_batch(scenario, index, [(960, 1280)], args.large_objects, args.seed)
        found = {}
        for key, algorithm in (("default", default), ("majority", "majority")):
            tr = run_tally(batch, algorithm, args.repeats)
            seconds[key] += tr.seconds
            found[key] = float(np.mean(tr.mious(batch)))
            averages[key].append(found[key])
        rows.append([scenario.key, f"{found['default']:.4f}", f"{found['majority']:.4f}",
                     f"{found['default'] - found['majority']:+.4f}"])  # fmt: skip
    mean = {k: float(np.mean(v)) for k, v in averages.items()}
    rows.append(["**average**", f"{mean['default']:.4f}", f"{mean['majority']:.4f}",
                 f"{mean['default'] - mean['majority']:+.4f}"])  # fmt: skip
    objects = args.large_objects * len(averages["default"])
    return "\n".join([
        "",
        f"At 1280×960 ({args.large_objects} objects per scenario, seed {args.seed}; tally only — the peers "
        f"take seconds per object there): mIoU of the default ({default}) and the plain vote, and the time per "
        f"object (best of {args.repeats} runs per batch): {seconds['default'] / objects * 1e3:.0f} ms against {seconds['majority'] / objects * 1e3:.0f} ms "
        f"({seconds['default'] / seconds['majority']:.2f}x).",
        "",
        *_table(["scenario", f"tally (default: {default})", "plain majority vote", "difference"], rows),
    ]) + "\n"  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a tiny run: 4 objects of 60x80 and 120x160")
    parser.add_argument("--objects", type=int, default=None, help="objects per scenario batch (default 12; quick 4)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--also-seeds", type=int, nargs="*", default=None, help="more batches for the margin table (default 7 8 9 10)"
    )
    parser.add_argument(
        "--large-objects", type=int, default=None, help="objects per scenario at 1280x960, tally only (default 6)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="tally batch runs, best counts (default 3; quick 1)")
    parser.add_argument("--only", nargs="*", default=None, choices=[s.key for s in SCENARIOS], help="scenarios")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Markdown output file")
    args = parser.parse_args()
    args.sizes = [(60, 80), (120, 160)] if args.quick else [(240, 320), (480, 640)]
    args.objects = args.objects or (4 if args.quick else 12)
    args.repeats = args.repeats or (1 if args.quick else 3)
    if args.also_seeds is None:
        args.also_seeds = [] if args.quick else [7, 8, 9, 10]
    start = time.perf_counter()
    results = run(args)
    text = report(results, args, time.perf_counter() - start)
    if args.also_seeds:
        text += robustness(args, results)
    if args.large_objects is None:
        args.large_objects = 0 if args.quick else 6
    if args.large_objects:
        text += large(args)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"(written to {args.out})", file=sys.stderr)


if __name__ == "__main__":
    main()
