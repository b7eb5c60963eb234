"""Quality benchmark (issue 8): `make bench-quality`. Prints Markdown tables for docs/segmentation.md.

Crowds come from :data:`tests.sim.segmentation.CROWDS` (:func:`tests.sim.segmentation.crowd_batch`):
careful workers who differ from each other (each with their own outline bias, jitter, polygon vertex
noise, a chance of skipping objects 10–40 px across and of giving an object the wrong class), sloppy
workers, spammers, lazy workers, label swappers, copiers, a misregistered worker, 1–5 answers per
object; images of 533×800 up to 960×1280 (H×W), every worker with their own colours, a third of them
answering in RGBA, some listing only the labels they used. Each crowd is judged on the pooled objects
of several independent draws (one batch per draw and seed).

**Tuning and report seeds are kept apart.** The weights' parameters were chosen on the tuning seeds
(:data:`TUNING_SEEDS`); the figures reported come from :data:`REPORT_SEEDS`, never looked at while
tuning. ``--tuning`` runs the tuning seeds instead.

Methods:

* **tally**: the default (``reliability``) and ``majority`` (the plain vote; ties are background),
  run through :func:`tally.consolidate_batch` on each batch (in-memory storage); each object's output
  mask PNG and its ``confidence`` (the expected IoU tally reports) are read back from the response.
* **plain argmax vote** (numpy): per pixel the class most workers drew, ties to the lowest class key.
* **agreement-weighted vote** (numpy): per object, each worker's weight is their mean IoU with the
  other workers; per pixel the class with the largest weighted vote.
* **peers**: SimpleITK ``MultiLabelSTAPLE`` (the default, reduced set: the others take 3–20 s per
  object at these sizes on a shared core); ``--peers full`` adds SimpleITK one-vs-rest ``STAPLE`` and
  crowd-kit ``SegmentationEM`` one-vs-rest, ``--peers all`` also SimpleITK ``LabelVoting``, crowd-kit
  ``SegmentationMajorityVote`` and ``SegmentationRASA``. Their input is each worker's class map decoded
  from the very PNGs tally receives, with tally's own decoder; the run checks these are identical to
  the simulated maps.

One-vs-rest: each class present in some answer is a binary problem (worker painted it or not).
STAPLE combines by the argmax of the per-class probabilities, background where none is above 0.5.
crowd-kit's methods return binary masks only: a pixel set in exactly one class's mask gets that
class; set in several, the one of those with the most worker votes (a tie among those: background);
set in none, background. MultiLabelSTAPLE's undecided pixels are background.

Metrics: per object, IoU for every class present in the truth or the prediction (background
included), averaged (mIoU); per crowd the mean over its pooled objects; the margins of the default
over ``majority``, over the plain argmax vote and over the best other method on that crowd, the worst
crowd and the mean. Confidence: per object, tally's reported confidence (expected IoU) against the
measured IoU over the classes tally's confidence covers (the classes present in the answers or the
result, background left out; see :func:`measured_iou`): mean absolute error and Spearman rank
correlation, over objects with two answers or more.
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
from typing import Any, cast

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
from tally.settings import Settings
from tally.storage import MemoryStorage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.segmentation import CROWDS, Crowd, SimulatedBatch, SimulatedObject, crowd_batch, payload_entry  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "quality.md"
ELEMENT = "crowd-semantic-segmentation"
ATTR = "bench"
PAYLOAD_URI = "s3://bench-bucket/job/annotations/consolidated-annotation/consolidation-request/iteration-1/batch.json"
STAPLE_MAX_ITERATIONS = 200  # both STAPLE filters default to no limit; they converge far sooner here
TUNING_SEEDS = (101, 102, 103)
"""Seeds the default's parameters were tuned on."""
REPORT_SEEDS = (201, 202, 203)
"""Seeds the reported figures come from (never used while tuning)."""

sitk: Any = SimpleITK  # its SWIG wrappers are untyped; calls through Any keep mypy --strict quiet

LabelMap = npt.NDArray[np.uint8]
DEFAULT = "tally default (reliability)"
MAJORITY = "tally majority"
PLAIN = "plain argmax vote"
AGREEMENT = "agreement-weighted vote"
REGIONS = "tally regions (opt-in)"


def decoded_maps(obj: SimulatedObject, labels: Sequence[str]) -> list[LabelMap]:
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

    def mious(self, batch: SimulatedBatch) -> list[float]:
        """Each object's mIoU against the truth."""
        return [miou(o.truth, m) for o, m in zip(batch.objects, self.masks, strict=True)]


def run_tally(batch: SimulatedBatch, algorithm: str, repeats: int) -> TallyRun:
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


def plain_argmax(maps: Sequence[LabelMap], n_labels: int) -> LabelMap:
    """Per pixel the class most workers drew; ties to the lowest class key (``np.argmax``)."""
    counts = np.zeros((n_labels + 1, *maps[0].shape), dtype=np.int16)
    for m in maps:
        for c in range(n_labels + 1):
            counts[c] += m == c
    return cast(LabelMap, np.argmax(counts, axis=0).astype(np.uint8))


def _pair_iou(a: LabelMap, b: LabelMap) -> float:
    classes = (set(np.unique(a).tolist()) | set(np.unique(b).tolist())) - {0}
    found = [float(((a == c) & (b == c)).sum()) / float(((a == c) | (b == c)).sum()) for c in classes]
    return float(np.mean(found)) if found else 1.0


def agreement_weighted(maps: Sequence[LabelMap], n_labels: int) -> LabelMap:
    """Per object, each worker weighs their mean IoU with the others; per pixel the weighted argmax."""
    n = len(maps)
    if n == 1:
        return maps[0].copy()
    weights = [float(np.mean([_pair_iou(maps[i], maps[j]) for j in range(n) if j != i])) for i in range(n)]
    scores = np.zeros((n_labels + 1, *maps[0].shape), dtype=np.float32)
    for w, m in zip(weights, maps, strict=True):
        for c in range(n_labels + 1):
            scores[c] += w * (m == c)
    return cast(LabelMap, np.argmax(scores, axis=0).astype(np.uint8))


Peer = Callable[[Sequence[LabelMap], int], LabelMap]
PEERS: dict[str, Peer] = {
    PLAIN: plain_argmax,
    AGREEMENT: agreement_weighted,
    "SimpleITK MultiLabelSTAPLE": sitk_multilabel_staple,
}
"""The reduced peer set (the default): 0.6–2 s per object at these sizes on a shared core."""
FULL_PEERS: dict[str, Peer] = {
    "SimpleITK STAPLE 1-vs-rest": sitk_staple_one_vs_rest,
    "crowd-kit EM 1-vs-rest": _crowdkit(SegmentationEM),
}
"""Added by ``--peers full``: 3–20 s per object each at these sizes."""
MORE_PEERS: dict[str, Peer] = {
    "SimpleITK LabelVoting": sitk_label_voting,
    "crowd-kit MV 1-vs-rest": _crowdkit(SegmentationMajorityVote),
    "crowd-kit RASA 1-vs-rest": _crowdkit(SegmentationRASA),
}
"""Added by ``--peers all``."""


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


def measured_iou(truth: LabelMap, pred: LabelMap, maps: Sequence[LabelMap]) -> float:
    """The IoU tally's confidence estimates: mean over the classes (background left out) that some
    answer painted or the result has, of the result's IoU with the truth for that class."""
    classes: set[int] = set(np.unique(pred).tolist())
    for m in maps:
        classes |= set(np.unique(m).tolist())
    found = []
    for c in sorted(classes - {0}):
        union = float(((truth == c) | (pred == c)).sum())
        found.append(float(((truth == c) & (pred == c)).sum()) / union if union else 1.0)
    return float(np.mean(found)) if found else 1.0


# --------------------------------------------------------------------------------------------------
# The run


@dataclass
class CrowdResult:
    crowd: Crowd
    labels: list[int] = field(default_factory=list)  # number of labels per draw
    miou: dict[str, list[float]] = field(default_factory=dict)  # method → per pooled object
    seconds: dict[str, float] = field(default_factory=dict)
    confidence: list[tuple[float, float, int]] = field(default_factory=list)  # (reported, measured, answers)


def run_crowd(crowd: Crowd, args: argparse.Namespace, peers: dict[str, Peer]) -> CrowdResult:
    result = CrowdResult(crowd)
    methods = [DEFAULT, MAJORITY, *([REGIONS] if args.regions else []), *peers]
    for m in methods:
        result.miou[m], result.seconds[m] = [], 0.0
    for seed in args.seeds:
        batch = crowd_batch(crowd, args.objects, seed, scale=args.scale)
        result.labels.append(len(batch.labels))
        n_labels = len(batch.labels)
        inputs = [decoded_maps(o, batch.labels) for o in batch.objects]
        tallies = [(DEFAULT, "reliability"), (MAJORITY, "majority"), *([(REGIONS, "regions")] if args.regions else [])]
        for name, algorithm in tallies:
            tr = run_tally(batch, algorithm, 1)
            result.miou[name] += tr.mious(batch)
            result.seconds[name] += tr.seconds
            if algorithm == "reliability":
                result.confidence += [
                    (c, measured_iou(o.truth, m, maps), len(maps))
                    for c, m, o, maps in zip(tr.confidences, tr.masks, batch.objects, inputs, strict=True)
                ]
        for name, peer in peers.items():
            for obj, maps in zip(batch.objects, inputs, strict=True):
                start = time.perf_counter()
                pred = peer(maps, n_labels)
                result.seconds[name] += time.perf_counter() - start
                result.miou[name].append(miou(obj.truth, pred))
    line = ", ".join(f"{m} {np.mean(result.miou[m]):.4f}" for m in methods)
    print(f"  {crowd.key}: {line}", file=sys.stderr)
    return result


# --------------------------------------------------------------------------------------------------
# Report


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
        *["| " + " | ".join(r) + " |" for r in rows],
    ]


def _size(crowd: Crowd) -> str:
    return "{}–{}".format(*crowd.answers) if crowd.answers else str(len(crowd.roles))


def report(results: Sequence[CrowdResult], args: argparse.Namespace, wall: float) -> str:
    methods = list(results[0].miou)
    others = [m for m in methods if m not in (DEFAULT, REGIONS)]
    peer_methods = [m for m in methods if m not in (DEFAULT, MAJORITY, REGIONS)]
    mean = {m: [float(np.mean(r.miou[m])) for r in results] for m in methods}
    avg = {m: float(np.mean(mean[m])) for m in methods}
    kind = "tuning" if args.tuning else "report"
    pooled = args.objects * len(args.seeds)
    sizes = "533×800, 600×800, 768×1024, 960×1280 (H×W)"
    if args.scale != 1:
        sizes += f", each scaled by {args.scale}"
    out = [
        f"**{kind.capitalize()} seeds {', '.join(map(str, args.seeds))}** (tuning seeds: "
        f"{', '.join(map(str, TUNING_SEEDS))}; report seeds: {', '.join(map(str, REPORT_SEEDS))}). Each crowd: "
        f"{len(args.seeds)} independent draws of {args.objects} objects pooled ({pooled} objects), images {sizes}.",
        "",
        "mIoU per crowd (best in bold):",
        "",
    ]

    def cells(values: Sequence[float]) -> list[str]:
        top = round(max(values), 4)
        return [f"**{v:.4f}**" if round(v, 4) == top else f"{v:.4f}" for v in values]

    rows = []
    for i, r in enumerate(results):
        rows.append([f"{r.crowd.title} ({_size(r.crowd)} workers)", *cells([mean[m][i] for m in methods])])
    rows.append(["**mean**", *cells([avg[m] for m in methods])])
    out += _table(["crowd", *methods], rows)

    out += ["", "Margins of the default (paired per-object differences; s.e. in brackets) and its confidence "
            "(reported expected IoU against measured IoU, objects with ≥ 2 answers):", ""]  # fmt: skip
    rows = []
    worst: dict[str, float] = {"majority": 1.0, "plain": 1.0, "peer": 1.0}
    found: dict[str, list[float]] = {"majority": [], "plain": [], "peer": []}
    all_conf: list[tuple[float, float, int]] = []
    for i, r in enumerate(results):
        best = max(others, key=lambda m: mean[m][i])
        cols = []
        for key, against in (("majority", MAJORITY), ("plain", PLAIN), ("peer", best)):
            diff = np.asarray(r.miou[DEFAULT]) - np.asarray(r.miou[against])
            se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
            worst[key] = min(worst[key], float(diff.mean()))
            found[key].append(float(diff.mean()))
            cols.append(f"{diff.mean():+.4f} ({se:.4f})")
        conf = [c for c in r.confidence if c[2] > 1]
        all_conf += conf
        mae = float(np.mean([abs(a - b) for a, b, _ in conf])) if conf else float("nan")
        rho = spearman([a for a, _, _ in conf], [b for _, b, _ in conf])
        rows.append([r.crowd.key, f"{mean[DEFAULT][i]:.4f}", *cols[:2], best, cols[2], f"{mae:.3f}", f"{rho:.2f}"])
    mae = float(np.mean([abs(a - b) for a, b, _ in all_conf])) if all_conf else float("nan")
    rho = spearman([a for a, _, _ in all_conf], [b for _, b, _ in all_conf])
    rows.append(
        [
            "**mean**",
            f"{avg[DEFAULT]:.4f}",
            f"{np.mean(found['majority']):+.4f}",
            f"{np.mean(found['plain']):+.4f}",
            "",
            f"{np.mean(found['peer']):+.4f}",
            f"{mae:.3f}",
            f"{rho:.2f}",
        ]
    )
    out += _table(["crowd", "default", "vs majority", "vs plain argmax", "best other method", "vs best other",
                   "confidence MAE", "Spearman"], rows)  # fmt: skip
    if REGIONS in methods:
        out += ["", "The opt-in `regions` algorithm against the default, `majority` and the plain argmax vote "
                "(paired per-object differences; s.e. in brackets):", ""]  # fmt: skip
        rows = []
        for i, r in enumerate(results):
            cols = []
            for against in (DEFAULT, MAJORITY, PLAIN):
                diff = np.asarray(r.miou[REGIONS]) - np.asarray(r.miou[against])
                se = float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else float("nan")
                cols.append(f"{diff.mean():+.4f} ({se:.4f})")
            rows.append([r.crowd.key, f"{mean[REGIONS][i]:.4f}", *cols])
        rows.append(["**mean**", f"{avg[REGIONS]:.4f}",
                     *[f"{avg[REGIONS] - avg[m]:+.4f}" for m in (DEFAULT, MAJORITY, PLAIN)]])  # fmt: skip
        out += _table(["crowd", "regions", "vs default", "vs majority", "vs plain argmax"], rows)
    best_single = max(peer_methods, key=lambda m: avg[m])
    targets = [
        ("never below majority by > 0.002", worst["majority"], worst["majority"] >= -0.002),
        ("never below the plain argmax vote by > 0.002", worst["plain"], worst["plain"] >= -0.002),
        ("≥ best other method − 0.005 on every crowd", worst["peer"], worst["peer"] >= -0.005),
        (f"mean ≥ best single peer ({best_single}) + 0.01", avg[DEFAULT] - avg[best_single],
         avg[DEFAULT] - avg[best_single] >= 0.01),
    ]  # fmt: skip
    out += ["", "Targets (issue 8):", ""]
    out += _table(["target", "worst crowd / margin", "met"], [[t, f"{v:+.4f}", "yes" if ok else "**no**"]
                                                              for t, v, ok in targets])  # fmt: skip
    objects = sum(len(r.miou[DEFAULT]) for r in results)
    out += ["", "Time per object (tally: batch wall time / objects through `consolidate_batch` with its thread "
            "pool, PNG decoding and mask writing included; peers: their aggregation only, one object at a time):",
            ""]  # fmt: skip
    out += _table(["method", "ms per object"],
                  [[m, f"{sum(r.seconds[m] for r in results) / objects * 1e3:.0f}"] for m in methods])  # fmt: skip
    versions = ", ".join(f"{p} {version(p)}" for p in ("numpy", "SimpleITK", "crowd-kit"))
    out += ["", f"Run: {wall:.0f} s wall, {os.cpu_count()} cores (shared with other jobs), Python "
            f"{platform.python_version()}, {versions}."]  # fmt: skip
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=10, help="objects per draw (default 10)")
    parser.add_argument("--seeds", type=int, nargs="*", default=None, help="draws (default: the report seeds)")
    parser.add_argument("--tuning", action="store_true", help="run the tuning seeds instead of the report seeds")
    parser.add_argument("--scale", type=float, default=1.0, help="scale every image size (quick runs)")
    parser.add_argument(
        "--peers",
        choices=["none", "fast", "staple", "full", "all"],
        default="fast",
        help="none: the numpy votes only; fast (default): + MultiLabelSTAPLE; staple: + STAPLE 1-vs-rest; "
        "full: + STAPLE 1-vs-rest and crowd-kit EM; all: + LabelVoting, crowd-kit MV and RASA",
    )
    parser.add_argument("--only", nargs="*", default=None, choices=[c.key for c in CROWDS], help="crowds")
    parser.add_argument("--quick", action="store_true", help="a tiny run: 3 objects per draw, images scaled by 0.2")
    parser.add_argument("--out", type=Path, default=RESULTS, help="Markdown output file")
    parser.add_argument(
        "--regions", action="store_true", help="also run the opt-in regions algorithm (a column, not a peer)"
    )
    args = parser.parse_args()
    if args.quick:
        args.objects, args.scale = 3, 0.2
    if args.seeds is None:
        args.seeds = list(TUNING_SEEDS if args.tuning else REPORT_SEEDS)
    peers = dict(PEERS)
    if args.peers == "none":
        peers = {PLAIN: plain_argmax, AGREEMENT: agreement_weighted}
    if args.peers == "staple":
        peers["SimpleITK STAPLE 1-vs-rest"] = sitk_staple_one_vs_rest
    if args.peers in ("full", "all"):
        peers.update(FULL_PEERS)
    if args.peers == "all":
        peers.update(MORE_PEERS)
    start = time.perf_counter()
    warm = [np.zeros((8, 8), np.uint8), np.ones((8, 8), np.uint8)]
    for peer in peers.values():  # first-call costs (imports, thread pools) out of the timings
        peer(warm, 1)
    results = [run_crowd(c, args, peers) for c in CROWDS if not args.only or c.key in args.only]
    text = report(results, args, time.perf_counter() - start)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"(written to {args.out})", file=sys.stderr)


if __name__ == "__main__":
    main()
