"""Speed benchmark: `make bench`. Prints Markdown tables for the README.

1. Per object, in process, one thread: consolidating 1280x960 masks from 3 and 5 workers of the
   quality benchmark's kind (4 labels, each worker with their own colours and outline habits), for
   every combination of

   * the answers' encoding: ``palette`` PNGs as Ground Truth's tool writes them, ``RGB`` and ``RGBA``
     PNGs (custom canvases, other tools' exports), the same masks encoded three ways;
   * the crowd: all ``careful``, or ``spammer`` (one of the workers paints random shapes);

   with the plain vote (``majority``) and with the default ``reliability`` vote (both of its phases),
   without its per-pixel confidence map PNG (the default) and with it (``ConfidenceMaps=true``), next
   to the codec floor measured in the same run: base64-decode and PNG-decode the K worker masks as
   they came (palette, RGB or RGBA), then encode one output mask with the same settings. Each object
   is observed afresh and consolidated with the summary the model was fitted on, as in a batch
   (where the model reuses its per-object work). Each object is timed three times, interleaved with
   its floor, and the best run of each counts; a run's ratio is the median over the objects of each
   vote over the median of its floor. ``--runs N`` repeats the whole measurement N times, the
   configurations interleaved object by object, and prints the median ratio over the runs with its
   range.
2. The batch model's work per object (``--model``, palette answers): fitting ``LeaveOneOutWeights``
   on the configuration's objects, then its ``predict`` on each object as the batch driver calls it
   (on the object it was fitted on: the object's own accuracy, computed by the fit, is reused) and on
   an equal copy (the leave-one-out pass run again, as before issue 19); best of three, interleaved.
3. A 200-object batch (3 workers, 1280x960) through the Lambda handler under moto: wall time and the
   process's peak RSS (measured in a child process so nothing else counts).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image

from tally.aggregation.weighted_pixel_vote import LeaveOneOutWeights, ObjectVotes
from tally.codecs import encode_palette_png
from tally.gt.answers import Answer
from tally.gt.events import DatasetObject
from tally.labels import ClassTable, LabelSet
from tally.settings import Settings
from tally.storage import MemoryStorage
from tally.tasks import JobContext, SemanticSegmentation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.segmentation import answer_content, crowd_scene, draw_habits, payload_entry, worker_colours, worker_view  # noqa: E402

LABELS = ["road", "car", "person", "sign"]
HEIGHT, WIDTH = 960, 1280
REPEATS = 3
ENCODINGS: dict[str, Literal["P", "RGB", "RGBA"]] = {"palette": "P", "RGB": "RGB", "RGBA": "RGBA"}
CROWDS = ("careful", "spammer")
VOTES = ("majority", "reliability", "regions", "with_map")
clock = time.perf_counter  # --clock cpu: time.process_time (this process's CPU time; steadier on a busy machine)


def make_masks(rng: np.random.Generator, workers: int, crowd: str) -> list[tuple[np.ndarray, dict[str, str]]]:
    """One object's worker masks and colours: ``workers`` careful workers of the quality benchmark's
    crowds (own outline bias, jitter, polygon vertex noise, skipped small objects;
    :func:`tests.sim.segmentation.draw_habits`), the last one a spammer in the ``spammer`` crowd."""
    scene = crowd_scene(rng, HEIGHT, WIDTH, len(LABELS))
    out = []
    for k in range(workers):
        spammer = crowd == "spammer" and k == workers - 1
        style = draw_habits("spammer" if spammer else "careful", rng).style(min(HEIGHT, WIDTH) / 600)
        out.append((worker_view(scene, style, rng, HEIGHT, WIDTH, len(LABELS)), worker_colours(LABELS, rng)))
    return out


def make_object(
    rng: np.random.Generator, workers: int, crowd: str = "careful", encoding: str = "palette"
) -> list[dict[str, Any]]:
    """One object's answers, as form outputs in ``encoding``."""
    return [answer_content(m, LABELS, c, mode=ENCODINGS[encoding]) for m, c in make_masks(rng, workers, crowd)]


def codec_floor(contents: list[dict[str, Any]], output: np.ndarray, palette: list[tuple[int, int, int]]) -> float:
    start = clock()
    for content in contents:
        raw = base64.b64decode(content["crowd-semantic-segmentation"]["labeledImage"]["pngImageData"], validate=True)
        Image.open(io.BytesIO(raw)).load()
    encode_palette_png(output, palette)
    return clock() - start


@dataclass
class Config:
    """One row of the table: its objects, the votes prepared for them and the fitted model."""

    workers: int
    crowd: str
    encoding: str
    contents: list[list[dict[str, Any]]]
    answers: list[list[Answer]]
    objects: list[DatasetObject]
    votes: dict[str, SemanticSegmentation]
    job: JobContext
    storage: MemoryStorage
    model: Any
    palette: list[tuple[int, int, int]]
    summaries: list[ObjectVotes]  # what the model was fitted on (the objects' answers as phase 1 judges them)
    # the regions vote's own: its summaries carry the pixels away from outlines, its model the class confusion
    regions_model: Any = None
    regions_summaries: list[ObjectVotes] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)  # best of REPEATS per object, this run

    @property
    def key(self) -> tuple[int, str, str]:
        return self.workers, self.crowd, self.encoding

    def fitted_for(self, vote: str) -> tuple[list[ObjectVotes], Any]:
        """What ``vote``'s batch model was fitted on (per object) and the model: the regions vote's own
        (with the class confusion), or the default's."""
        return (self.regions_summaries, self.regions_model) if vote == "regions" else (self.summaries, self.model)


def build_configs(
    objects: int, workers_list: list[int], crowds: list[str], encodings: list[str], *, regions: bool = True
) -> list[Config]:
    """The same scenes for every encoding (seeded per worker count and crowd); ``regions``: also observe
    the objects and fit the batch model for the ``regions`` vote (its own, with the class confusion)."""
    labels = LabelSet(tuple(LABELS), "event")
    palette = ClassTable.build(labels).palette()
    configs = []
    for workers in workers_list:
        for crowd in crowds:
            rng = np.random.default_rng([workers, CROWDS.index(crowd)])
            masks = [make_masks(rng, workers, crowd) for _ in range(objects)]
            for encoding in encodings:
                storage = MemoryStorage()
                votes = {
                    "majority": SemanticSegmentation(Settings(algorithm="majority")),
                    "reliability": SemanticSegmentation(Settings(algorithm="reliability")),  # the mask only
                    "regions": SemanticSegmentation(Settings(algorithm="regions")),  # + disputed regions
                    "with_map": SemanticSegmentation(Settings(confidence_maps=True)),
                }
                job = JobContext(labels, {}, storage, "s3://bench/out", Settings())
                for task in votes.values():
                    task.prepare(job)
                contents = [[answer_content(m, LABELS, c, mode=ENCODINGS[encoding]) for m, c in obj] for obj in masks]
                answers = [
                    [Answer(f"w{k}", c["crowd-semantic-segmentation"], c, {}) for k, c in enumerate(s)]
                    for s in contents
                ]
                objs = [DatasetObject.model_validate({"datasetObjectId": str(i)}) for i in range(len(answers))]
                model, summaries = _fitted(votes["reliability"], objs, answers, job)
                regions_model, regions_summaries = (
                    _fitted(votes["regions"], objs, answers, job) if regions else (None, [])
                )
                configs.append(
                    Config(
                        workers,
                        crowd,
                        encoding,
                        contents,
                        answers,
                        objs,
                        votes,
                        job,
                        storage,
                        model,
                        palette,
                        summaries,
                        regions_model,
                        regions_summaries,
                    )
                )
    return configs


def _fitted(
    task: SemanticSegmentation, objs: list[DatasetObject], answers: list[list[Answer]], job: JobContext
) -> tuple[Any, list[ObjectVotes]]:
    """The batch model ``task`` fits on the objects, and what it was fitted on (each object observed)."""
    observed = [(o.dataset_object_id, task.observe(o, a, job).summary) for o, a in zip(objs, answers, strict=True)]
    summaries = [summary for _, summary in observed if summary is not None]
    return task.fit([(i, summary) for i, summary in observed if summary is not None], job), summaries


def time_object(config: Config, i: int, votes: tuple[str, ...]) -> None:
    """Best of REPEATS, interleaved, for each vote and the floor on object ``i`` of ``config``."""
    obj, object_answers = config.objects[i], config.answers[i]
    runs: dict[str, list[float]] = {name: [] for name in ("floor", *votes)}
    for _ in range(REPEATS):  # interleaved, best of REPEATS: the least disturbed run of each
        for name in votes:
            task = config.votes[name]
            start = clock()
            observed = task.observe(obj, object_answers, config.job)
            summaries, model = config.fitted_for(name)
            if name != "majority":  # as in a batch: the object's summary is the one the model was fitted on
                observed.summary = summaries[i]
            result = task.consolidate(obj, observed, None if name == "majority" else model, config.job)
            runs[name].append(clock() - start)
        label = result.label
        assert label is not None
        output = np.asarray(Image.open(io.BytesIO(config.storage.read(label["mask-ref"]))))
        runs["floor"].append(codec_floor(config.contents[i], output, config.palette))
    for name, times in runs.items():
        config.times.setdefault(name, []).append(min(times))


def measure(configs: list[Config], votes: tuple[str, ...]) -> dict[tuple[int, str, str], dict[str, float]]:
    """One run: every configuration's objects, interleaved object by object. Returns, per
    configuration, the median floor (ms) and each vote's median over the median floor."""
    for config in configs:
        config.times = {}
    for i in range(len(configs[0].objects)):
        for config in configs:
            time_object(config, i, votes)
    out = {}
    for config in configs:
        floor = statistics.median(config.times["floor"])
        out[config.key] = {"floor_ms": floor * 1e3, **{v: statistics.median(config.times[v]) / floor for v in votes}}
    return out


def model_work(configs: list[Config]) -> None:
    """Print the batch model's work per object (module docstring, 2.): fit, and predict reusing the
    fit's per-object accuracy or recomputing it."""
    print("\nThe batch model per object (ms, best of 3): fit over the objects, then predict on each\n")
    print("| crowd | workers | objects | fit | predict (fit's work reused) | predict (recomputed) | saved |")
    print("|---|---|---|---|---|---|---|")
    n_classes = len(LABELS) + 1
    for config in configs:
        if config.encoding != "palette":
            continue
        fitted = config.summaries
        copies = [ObjectVotes(s.workers, s.votes.copy(), s.counts.copy(), s.group.copy()) for s in fitted]
        best = {"fit": float("inf"), "reused": float("inf"), "recomputed": float("inf")}
        for _ in range(REPEATS):
            start = clock()
            model = LeaveOneOutWeights().fit(fitted)
            best["fit"] = min(best["fit"], clock() - start)
            for name, objects in (("reused", fitted), ("recomputed", copies)):
                start = clock()
                for obj in objects:
                    model.predict(obj, n_classes, obj)
                best[name] = min(best[name], clock() - start)
        ms = {k: v / len(fitted) * 1e3 for k, v in best.items()}
        print(
            f"| {config.crowd} | {config.workers} | {len(fitted)} | {ms['fit']:.2f} | {ms['reused']:.2f} "
            f"| {ms['recomputed']:.2f} | {ms['recomputed'] - ms['reused']:.2f} |"
        )


def batch_child(objects: int, workers: int) -> None:
    """Runs in a child process: build the payload, run the handler under moto, print JSON."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        os.environ[name] = "testing"
    os.environ.update(AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_SERVICE_NAME="tally", POWERTOOLS_LOG_LEVEL="WARNING")
    os.environ.update(POWERTOOLS_METRICS_NAMESPACE="tally", POWERTOOLS_TRACE_DISABLED="true")
    import boto3
    from moto import mock_aws

    from tests.project import FakeContext, load_handler

    rng = np.random.default_rng(7)
    payload = [
        payload_entry(
            str(i),
            f"s3://bench-bucket/images/{i}.jpg",
            [(f"private.us-east-1.{k:016x}", json.dumps(c)) for k, c in enumerate(make_object(rng, workers))],
        )
        for i in range(objects)
    ]
    body = json.dumps(payload).encode()
    del payload
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bench-bucket")
        s3.put_object(Bucket="bench-bucket", Key="job/annotations/req.json", Body=body)
        size_mb = len(body) / 1e6
        del body
        handler = load_handler("consolidation")
        event = {
            "labelAttributeName": "bench",
            "labelCategories": LABELS,
            "payload": {"s3Uri": "s3://bench-bucket/job/annotations/req.json"},
            "outputConfig": "s3://bench-bucket/job/annotations",
        }
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        response = handler.lambda_handler(event, FakeContext())
        elapsed = time.perf_counter() - start
    assert len(response) == objects
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"objects": objects, "workers": workers, "seconds": elapsed, "payload_mb": size_mb,
                      "peak_rss_mb": peak, "rss_before_mb": rss_before, "response_kb": len(json.dumps(response)) / 1e3}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=15, help="objects per configuration")
    parser.add_argument(
        "--runs", type=int, default=1, help="whole measurements, each configuration's ratio the median over them"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--crowds", choices=CROWDS, nargs="+", default=list(CROWDS))
    parser.add_argument("--encodings", choices=list(ENCODINGS), nargs="+", default=list(ENCODINGS))
    parser.add_argument("--votes", choices=VOTES, nargs="+", default=list(VOTES))
    parser.add_argument("--batch", type=int, default=200, help="objects in the handler batch (0: none)")
    parser.add_argument("--model", action="store_true", help="also time the batch model's fit and predict")
    parser.add_argument("--json", help="also write every run's ratios to this JSON file")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="per-object timer: wall (perf_counter) or this process's CPU time (process_time), steadier when "
        "other jobs share the machine",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global clock
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.child:
        batch_child(args.batch, 3)
        return
    votes = tuple(v for v in VOTES if v in args.votes)
    configs = build_configs(args.objects, args.workers, args.crowds, args.encodings, regions="regions" in args.votes)
    runs = []
    for r in range(args.runs):
        runs.append(measure(configs, votes))
        print(f"run {r + 1}/{args.runs} done", file=sys.stderr, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"/".join(map(str, k)): v for k, v in run.items()} for run in runs], f, indent=1)
    print(
        f"Per object, {WIDTH}x{HEIGHT}, {len(LABELS)} labels, median of {args.objects} objects ({args.clock} clock), "
        f"{args.runs} run(s): the median ratio over the runs" + (", [lowest–highest]" if args.runs > 1 else "") + ":\n"
    )
    titles = {
        "majority": "majority",
        "reliability": "reliability",
        "regions": "regions",
        "with_map": "reliability + confidence map",
    }
    print(
        "| answers | crowd | workers | codec floor (ms) | " + " | ".join(f"{titles[v]} / floor" for v in votes) + " |"
    )
    print("|---|---|---|---|" + "---|" * len(votes))
    for config in sorted(configs, key=lambda c: (list(ENCODINGS).index(c.encoding), CROWDS.index(c.crowd), c.workers)):
        per_run = [run[config.key] for run in runs]
        cells = []
        for v in votes:
            ratios = sorted(p[v] for p in per_run)
            cell = f"{statistics.median(ratios):.2f}x"
            if len(ratios) > 1:
                cell += f" [{ratios[0]:.2f}–{ratios[-1]:.2f}]"
            cells.append(cell)
        floor = statistics.median(p["floor_ms"] for p in per_run)
        print(f"| {config.encoding} | {config.crowd} | {config.workers} | {floor:.1f} | " + " | ".join(cells) + " |")
    if args.model:
        model_work(configs)
    if not args.batch:
        return
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--batch", str(args.batch)], check=True, capture_output=True, text=True
    ).stdout
    b = json.loads(out.strip().splitlines()[-1])
    print(
        f"\nBatch through the handler under moto ({b['objects']} objects x {b['workers']} workers, {WIDTH}x{HEIGHT}):\n"
    )
    print("| objects | payload (MB) | wall time (s) | per object (ms) | peak RSS (MB) | response (kB) |")
    print("|---|---|---|---|---|---|")
    print(f"| {b['objects']} | {b['payload_mb']:.1f} | {b['seconds']:.1f} | {b['seconds'] / b['objects'] * 1e3:.0f} "
          f"| {b['peak_rss_mb']:.0f} | {b['response_kb']:.0f} |")  # fmt: skip
    print(f"\nMachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
