"""Distributed re-consolidation (``--on aws``, issue 22): what one batch costs the reconsolidation function
per task type, the job-wide fit, and the accuracy on a simulated crowd shaped like the real one.

``batches``: per task type, one batch through the function's Map steps (``survey`` then ``consolidate``,
:func:`tally.distributed.batch_step`) on in-memory storage, in a fresh spawned process each (wall time
of each step; peak RSS of the process, VmHWM, after imports and the batch). Classification: 1,000 lines
× 3 workers (the batch size for large classification jobs); masks: 10 lines of 1280×960 × 5 workers;
the other task types: 100 lines × 5 workers of tests/sim/batches.py (small shapes).

``fit``: the job-wide fit (:func:`tally.distributed.fit`'s work: :func:`tally.consolidate.fit_job_model`)
on the summaries of N simulated matching-crowd lines, in a fresh process: time and peak RSS.

``accuracy``: the whole state machine on a simulated 8,315-pair matching job (176 workers, tests/sim),
through the tests' local runner of the ASL on S3 under moto, batches of 100 lines; accuracy against
the truth, with the one-batch accuracy and the per-batch (chunked) one beside it. Report seeds 11–13.

    .venv/bin/python bench/distributed.py batches
    .venv/bin/python bench/distributed.py fit [--lines 100000]
    .venv/bin/python bench/distributed.py accuracy [--seeds 11 12 13]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import multiprocessing
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

ROOT_URI = "s3://bench"


def _hwm_mb() -> float:
    with open("/proc/self/status") as fh:
        found = re.search(r"VmHWM:\s+(\d+)", fh.read())
    return int(found.group(1)) / 1024 if found else float("nan")


def _lines(kind: str) -> tuple[list[dict[str, Any]], list[str] | None]:
    from tests.sim.batches import BUILDERS
    from tests.sim.classification import matching_crowd
    from tests.sim.manifests import LABELS, MATCHING, classification_lines, recipe_line, segmentation_lines

    if kind == "classification 1000x3":
        crowd = matching_crowd(np.random.default_rng(1), n_objects=1000, n_workers=176)
        return list(classification_lines(crowd, "label")), MATCHING
    if kind == "masks 1280x960 10x5":
        return list(segmentation_lines(10, 1, "label", height=960, width=1280, workers=5)), LABELS
    payload, labels = BUILDERS[kind](np.random.default_rng(1), 100, 5)
    lines = []
    for element in payload:
        line = recipe_line(element["dataObject"].get("s3Uri", "s3://bench/x"), "label", [])
        line["label"]["annotationsFromAllWorkers"] = element["annotations"]
        lines.append(line)
    return lines, labels


def _one_batch(kind: str, queue: Any) -> None:
    from tally import distributed
    from tally.settings import Settings
    from tally.storage import MemoryStorage

    lines, labels = _lines(kind)
    storage = MemoryStorage()
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    storage.write(f"{ROOT_URI}/source.manifest", body, "application/x-ndjson")
    run = {
        "source": {"Bucket": "bench", "Key": "source.manifest"},
        "labelAttribute": "label",
        "output": {"Bucket": "bench", "Prefix": "run"},
        "options": {"labels": labels},
    }
    items = [{"index": i, "line": line} for i, line in enumerate(lines)]
    settings = Settings(threads=2)
    start = time.perf_counter()
    surveyed = distributed.batch_step({"Items": items, "BatchInput": {"step": "survey", "run": run}}, settings, storage)
    survey_s = time.perf_counter() - start
    # the plan and model as the plan and fit steps would write them (one batch: its own survey)
    from tally.consolidate import Survey, fit_job_model

    job = distributed.Run.parse(run).batch_job(settings)
    plan = Survey.from_json(surveyed["survey"]).plan(job)
    summaries = distributed.restricted_loads(storage.read(f"{ROOT_URI}/run/parts/survey/000000000000.pickle"))[1]
    start = time.perf_counter()
    fitted = fit_job_model(summaries, job, storage, plan)
    fit_s = time.perf_counter() - start
    part_kb = len(storage.read(f"{ROOT_URI}/run/parts/survey/000000000000.pickle")) / 1024
    storage.write(f"{ROOT_URI}/run/model.pickle", distributed._dumps(fitted), "application/octet-stream")
    start = time.perf_counter()
    batch = {"Items": items, "BatchInput": {"step": "consolidate", "run": {**run, "plan": {"key": "model.pickle"}}}}
    done = distributed.batch_step(batch, settings, storage)
    consolidate_s = time.perf_counter() - start
    event_kb = len(json.dumps(batch).encode()) / 1024
    queue.put((kind, len(lines), survey_s, consolidate_s, _hwm_mb(), event_kb, done["consolidated"], fit_s, part_kb))


def _fit(lines: int, queue: Any) -> None:
    from tally import distributed
    from tally.consolidate import Survey, fit_job_model, survey_and_gather
    from tally.distributed import Run
    from tally.settings import Settings
    from tally.storage import MemoryStorage
    from tests.sim.classification import matching_crowd
    from tests.sim.manifests import MATCHING, classification_lines

    crowd = matching_crowd(np.random.default_rng(1), n_objects=lines, n_workers=176)
    storage = MemoryStorage()
    run = Run.parse({"source": {"Bucket": "b", "Key": "k"}, "labelAttribute": "label", "output": {"Bucket": "b"},
                     "options": {"labels": MATCHING}})  # fmt: skip
    settings = Settings(threads=1)
    job = run.batch_job(settings)
    summaries: list[Any] = []
    survey = Survey()
    all_lines = list(classification_lines(crowd, "label"))
    for first in range(0, lines, 1000):
        items = [{"index": first + i, "line": line} for i, line in enumerate(all_lines[first : first + 1000])]
        batch = distributed._batch(items, run, storage)
        found = survey_and_gather(batch.objects, job, storage)
        survey.add(found.survey)
        summaries += found.summaries
    del all_lines
    before = _hwm_mb()
    plan = survey.plan(job)
    start = time.perf_counter()
    fitted = fit_job_model(summaries, job, storage, plan)
    fit_s = time.perf_counter() - start
    size_mb = len(distributed._dumps(summaries)) / 1e6
    queue.put((lines, fit_s, before, _hwm_mb(), size_mb, fitted.model is not None))


def _spawned(target: Any, *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def batches() -> None:
    from tests.sim.batches import BUILDERS

    kinds = ["classification 1000x3", "masks 1280x960 10x5", *sorted(BUILDERS)]
    print("| task | lines | survey (s) | consolidate (s) | per line (ms, both) | fit on the batch (s) "
          "| peak RSS (MB) | batch event (KiB) | summaries (KiB) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        name, n, survey_s, consolidate_s, rss, event_kb, ok, fit_s, part_kb = _spawned(_one_batch, kind)
        print(f"| {name} | {n} | {survey_s:.2f} | {consolidate_s:.2f} | {1000 * (survey_s + consolidate_s) / n:.1f} "
              f"| {fit_s:.3f} | {rss:.0f} | {event_kb:.0f} | {part_kb:.0f} |")  # fmt: skip
        assert ok == n, f"{kind}: {ok} of {n} consolidated"


def fit(lines: int) -> None:
    n, fit_s, before, after, size_mb, ok = _spawned(_fit, lines)
    print(f"fit on {n} lines: {fit_s:.2f} s; peak RSS {after:.0f} MB ({before:.0f} MB before the fit); "
          f"summaries pickled {size_mb:.1f} MB; model fitted: {ok}")  # fmt: skip


def accuracy(seeds: list[int]) -> None:
    import os
    import tempfile
    from pathlib import Path

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
                      AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_NAMESPACE="tally",
                      POWERTOOLS_SERVICE_NAME="tally")  # fmt: skip
    import logging

    import boto3
    from moto import mock_aws

    from tally.consolidate import BatchJob, run_batch
    from tally.distributed import _plans
    from tally.gt.events import DatasetObject
    from tally.settings import Settings
    from tally.storage import MemoryStorage
    from tally.tools import reconsolidate as local
    from tests.distributed.support import Job
    from tests.sim.classification import matching_crowd
    from tests.sim.manifests import MATCHING, classification_lines

    logging.disable(logging.WARNING)
    print("| seed | majority | one batch | per 100-line batch | distributed (batches of 100) |")
    print("|---|---|---|---|---|")
    for seed in seeds:
        crowd = matching_crowd(np.random.default_rng(seed))
        lines = list(classification_lines(crowd, "same"))

        def acc(decided: list[str], crowd: Any = crowd) -> float:
            return round(float(np.mean(np.array([MATCHING.index(d) for d in decided]) == crowd.truth)), 4)

        votes = np.zeros((crowd.n_tasks, 2))
        np.add.at(votes, (crowd.tasks, crowd.labels), 1)
        majority = round(float(np.mean(votes.argmax(1) == crowd.truth)), 4)
        objects = [
            DatasetObject.model_validate(
                {
                    "datasetObjectId": str(i),
                    "dataObject": {"content": line["source"]},
                    "annotations": line["same"]["annotationsFromAllWorkers"],
                }
            )
            for i, line in enumerate(lines)
        ]
        job = BatchJob(settings=Settings(labels=tuple(MATCHING)), artefact_prefix="s3://b/m")
        one = acc([r.label["class-name"] if r.label else "" for r in run_batch(objects, job, MemoryStorage())])
        with tempfile.TemporaryDirectory() as tmp:
            ljob = local.Job("m", "same", tuple(MATCHING), Settings(), None, f"{tmp}/m", datetime.datetime(2026, 1, 1))
            raw = [json.dumps(line) + "\n" for line in lines]
            chunked = "".join(local.reconsolidate_lines(ljob, i, raw[i : i + 100])[0] for i in range(0, len(raw), 100))
            per_batch = acc([json.loads(x)["same"]["class-name"] for x in chunked.splitlines()])
            _plans.clear()
            with mock_aws():
                s3 = boto3.client("s3", region_name="us-east-1")
                s3.create_bucket(Bucket="job-bucket")
                from tests.project import load_handler

                bench_job = Job(s3, load_handler("reconsolidation"), Path(tmp), [])
                bench_job.put_manifest(lines)
                start = time.perf_counter()
                with contextlib.redirect_stdout(io.StringIO()):  # the function's metrics (EMF lines)
                    bench_job.run(bench_job.execution_input("same", 100, labels=MATCHING))
                wall = time.perf_counter() - start
                text = bench_job.read("tally-reconsolidated/run-1/output.manifest").decode()
            distributed_acc = acc([json.loads(x)["same"]["class-name"] for x in text.splitlines()])
        print(f"| {seed} | {majority:.4f} | {one:.4f} | {per_batch:.4f} | {distributed_acc:.4f} ({wall:.0f} s here) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("batches")
    fit_parser = sub.add_parser("fit")
    fit_parser.add_argument("--lines", type=int, default=100_000)
    acc_parser = sub.add_parser("accuracy")
    acc_parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13])
    args = parser.parse_args()
    if args.mode == "batches":
        batches()
    elif args.mode == "fit":
        fit(args.lines)
    else:
        accuracy(args.seeds)


if __name__ == "__main__":
    main()
