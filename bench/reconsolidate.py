"""`tally reconsolidate` benchmarks: worker models fitted on the whole job, speed against an older
tally, processes, and memory as the job grows.

Every run is the real command in a fresh child process (spawn start-up included), configurations
interleaved round by round; wall time is the median, CPU time covers all the command's processes,
peak RSS is the command's own process (exact) and its largest worker process (sampled every 50 ms).

``whole-job`` (issue 18.0): a simulated product-matching job shaped like a real one (tests/sim:
8,315 pairs, 3 answers each, 176 workers of differing accuracy, bias and activity) written as a
recipe job's output manifest. Accuracy of: the plain majority; the same objects consolidated in one
batch (:func:`tally.consolidate.run_batch` on every object, what the Lambda does with one payload);
``tally reconsolidate`` with default options; and the same command of an older tally (``--old REV``,
exported with ``git archive``), which fitted worker models per 100-line chunk. The two commands are
timed on the same manifest in one run, and also on a simulated segmentation job (``--seg-lines``).
Seeds 1–3 were used to shape the crowd (nothing else was tuned); the figures come from the report
seeds (default 11, 12, 13).

``processes``: 3-worker segmentation jobs, ``--jobs`` × ``--threads``.

``memory``: peak RSS of the command for a large job: 20,000 segmentation lines of 5 workers and
100,000 classification lines by default (the main process holds every object's summary while the
job's model is fitted).

    .venv/bin/python bench/reconsolidate.py whole-job [--old 96cb153] [--rounds 3]
    .venv/bin/python bench/reconsolidate.py processes [--lines 160] [--size 360x480]
    .venv/bin/python bench/reconsolidate.py memory [--seg-lines 20000] [--cls-lines 100000]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import resource
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tally.consolidate import BatchJob, run_batch
from tally.gt.events import DatasetObject
from tally.settings import Settings
from tally.storage import MemoryStorage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from tests.sim.classification import ClassCrowd, matching_crowd  # noqa: E402
from tests.sim.manifests import LABELS, MATCHING, classification_lines, segmentation_lines, write_manifest  # noqa: E402

_CHILD = """
import re, sys  # noqa: E402
from tally.tools.cli import main  # noqa: E402
code = main(sys.argv[1:])
with open("/proc/self/status") as fh:
    print("RSS", re.search(r"VmHWM:\\s+(\\d+)", fh.read()).group(1), file=sys.stderr)
sys.exit(code)
"""
_HWM = re.compile(r"VmHWM:\s+(\d+)")


def _sample(root: int, peaks: dict[int, int]) -> None:
    """Each process's peak RSS (VmHWM, kB) in the tree under ``root``, as it stands now."""
    pids = [root]
    while pids:
        pid = pids.pop()
        try:
            with open(f"/proc/{pid}/status") as fh:
                found = _HWM.search(fh.read())
            if found:
                peaks[pid] = max(peaks.get(pid, 0), int(found.group(1)))
            for thread in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{thread}/children") as fh:
                    pids += [int(child) for child in fh.read().split()]
        except OSError:
            continue


@dataclass
class Run:
    wall: float
    cpu: float
    main_mb: int
    worker_mb: int


def command(layer: Path, argv: Sequence[str]) -> Run:
    """``tally ARGV`` in a child process with ``layer`` (a ``layers/tally`` directory) first on the path.

    Peak RSS: the command's own (VmHWM, read by itself at the end: ``ru_maxrss`` would count the bench's
    memory, copied at fork) and its largest worker's (VmHWM sampled every 50 ms while it runs)."""
    env = {**os.environ, "PYTHONPATH": f"{layer}:{ROOT}"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    peaks: dict[int, int] = {}
    with tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, *argv], stdout=subprocess.DEVNULL, stderr=err, env=env)
        while child.poll() is None:
            _sample(child.pid, peaks)
            time.sleep(0.05)
        wall = time.perf_counter() - start
        err.seek(0)
        stderr = err.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if child.returncode not in (0, 1):
        raise SystemExit(f"tally {' '.join(argv[:1])} failed ({child.returncode}): {stderr[-2000:]}")
    own = int(next(line for line in stderr.splitlines() if line.startswith("RSS ")).split()[1])
    workers = max((kb for pid, kb in peaks.items() if pid != child.pid), default=0)
    return Run(wall, cpu, own // 1024, workers // 1024)


def machine() -> str:
    return f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start"


# -- whole-job ------------------------------------------------------------------------------------------


def export_old(rev: str, into: Path) -> Path:
    """``layers/tally`` of commit ``rev`` (``git archive``), for the older command."""
    archive = into / "old.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(ROOT), "archive", rev, "layers/tally"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "old", filter="data")
    return into / "old" / "layers" / "tally"


def majority(crowd: ClassCrowd) -> float:
    """The plain majority's accuracy (ties: the lower class, as the first-listed label)."""
    votes = np.zeros((crowd.n_tasks, crowd.n_classes))
    np.add.at(votes, (crowd.tasks, crowd.labels), 1)
    return float(np.mean(votes.argmax(axis=1) == crowd.truth))


def one_batch(manifest: Path, truth: np.ndarray) -> float:
    """Accuracy of every line consolidated in one batch (run_batch, as the Lambda does one payload)."""
    objects = []
    for number, raw in enumerate(manifest.read_text().splitlines()):
        line = json.loads(raw)
        element = {"datasetObjectId": str(number), "dataObject": {"content": line["source"]}}
        answers = line["same"]["annotationsFromAllWorkers"]
        objects.append(DatasetObject.model_validate({**element, "annotations": answers}))
    results = run_batch(objects, BatchJob(settings=Settings(), artefact_prefix="memory://out"), MemoryStorage())
    decided = [MATCHING.index(r.label["class-name"]) if r.label is not None else -1 for r in results]
    return float(np.mean(np.asarray(decided) == truth))


def accuracy_of(manifest: Path, truth: np.ndarray) -> float:
    decided = [MATCHING.index(json.loads(raw)["same"]["class-name"]) for raw in manifest.read_text().splitlines()]
    return float(np.mean(np.asarray(decided) == truth))


def whole_job(args: argparse.Namespace) -> None:
    logging.getLogger("tally").setLevel(logging.ERROR)  # the one-batch run's warning about inferred labels
    print(machine())
    print(f"older command: tally at {args.old}; newer: this checkout\n")
    with tempfile.TemporaryDirectory(prefix="tally-bench-") as tmp_name:
        tmp = Path(tmp_name)
        old = export_old(args.old, tmp)
        new = ROOT / "layers" / "tally"
        print("| seed | majority | one batch | reconsolidate (whole job) | older reconsolidate (per chunk) |")
        print("|---|---|---|---|---|")
        timings: dict[str, list[Run]] = {}
        for seed in (int(s) for s in args.seeds.split(",")):
            crowd = matching_crowd(np.random.default_rng(seed), args.pairs, args.workers)
            manifest = write_manifest(tmp / f"matching-{seed}.manifest", classification_lines(crowd, "same"))
            figures = {}
            for round_ in range(args.rounds):
                for name, layer in (("old", old), ("new", new)):
                    out = tmp / f"out-{name}"
                    argv = ["reconsolidate", str(manifest), "--label-attribute", "same", "--out", str(out)]
                    run = command(layer, [*argv, "--restart", "--no-progress"])
                    timings.setdefault(f"matching {seed} {name}", []).append(run)
                    if round_ == 0:
                        figures[name] = accuracy_of(out / "output.manifest", crowd.truth)
            print(
                f"| {seed} | {majority(crowd):.4f} | {one_batch(manifest, crowd.truth):.4f} | "
                f"{figures['new']:.4f} | {figures['old']:.4f} |"
            )
        if args.seg_lines:
            height, width = (int(v) for v in args.seg_size.split("x"))
            manifest = write_manifest(
                tmp / "seg.manifest", segmentation_lines(args.seg_lines, 101, "street", height, width)
            )
            for _ in range(args.rounds):
                for name, layer in (("old", old), ("new", new)):
                    out = tmp / f"seg-{name}"
                    argv = ["reconsolidate", str(manifest), "--label-attribute", "street", "--out", str(out)]
                    timings.setdefault(f"segmentation {name}", []).append(
                        command(layer, [*argv, "--restart", "--no-progress", "--labels", ",".join(LABELS)])
                    )
        print("\n| manifest | command | median wall (s) | CPU (s) | new / old wall | peak RSS main / worker (MB) |")
        print("|---|---|---|---|---|---|")
        for key in sorted(timings):
            what, name = key.rsplit(" ", 1)
            runs = timings[key]
            wall = statistics.median(r.wall for r in runs)
            other = timings.get(f"{what} {'old' if name == 'new' else 'new'}", runs)
            ratio = wall / statistics.median(r.wall for r in other) if name == "new" else 1.0
            print(
                f"| {what} | {name} | {wall:.2f} | {statistics.median(r.cpu for r in runs):.1f} | "
                f"{ratio:.2f}× | {max(r.main_mb for r in runs)} / {max(r.worker_mb for r in runs)} |"
            )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


# -- processes ------------------------------------------------------------------------------------------


def processes(args: argparse.Namespace) -> None:
    height, width = (int(v) for v in args.size.split("x"))
    configs = [(1, 1), (2, 1), (1, 2), (2, 2)]
    print(machine())
    print(f"{args.lines} lines per manifest, {height}x{width} masks, 3 workers, batch size {args.batch_size}\n")
    print(
        "| seed | --jobs | --threads | median wall (s) | speed-up vs 1x1 | lines/s | CPU (s) |"
        " peak RSS main / worker (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    layer = ROOT / "layers" / "tally"
    with tempfile.TemporaryDirectory(prefix="tally-bench-") as tmp:
        for seed in (int(s) for s in args.seeds.split(",")):
            source = write_manifest(
                Path(tmp) / f"{seed}.manifest", segmentation_lines(args.lines, seed, "street", height, width)
            )
            runs: dict[tuple[int, int], list[Run]] = {c: [] for c in configs}
            for _ in range(args.rounds):
                for jobs, threads in configs:
                    argv = ["reconsolidate", str(source), "--label-attribute", "street", "--labels", ",".join(LABELS)]
                    argv += ["--out", str(Path(tmp) / "out"), "--restart", "--no-progress", "--jobs", str(jobs)]
                    argv += ["--threads", str(threads), "--batch-size", str(args.batch_size)]
                    runs[(jobs, threads)].append(command(layer, argv))
            base = statistics.median(r.wall for r in runs[(1, 1)])
            for config in configs:
                median = statistics.median(r.wall for r in runs[config])
                last = runs[config][-1]
                worker = f"{last.worker_mb}" if config[0] > 1 else "–"  # no pool with one process
                print(
                    f"| {seed} | {config[0]} | {config[1]} | {median:.2f} | {base / median:.2f}× | "
                    f"{args.lines / median:.1f} | {statistics.median(r.cpu for r in runs[config]):.1f} | "
                    f"{last.main_mb} / {worker} |"
                )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


# -- memory ---------------------------------------------------------------------------------------------


def memory(args: argparse.Namespace) -> None:
    print(machine())
    print("| job | lines | --jobs | wall (s) | CPU (s) | peak RSS main / worker (MB) |")
    print("|---|---|---|---|---|---|")
    layer = ROOT / "layers" / "tally"
    with tempfile.TemporaryDirectory(prefix="tally-bench-", dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        jobs: list[tuple[str, Path, str, int]] = []
        if args.seg_lines:
            height, width = (int(v) for v in args.seg_size.split("x"))
            seg = segmentation_lines(args.seg_lines, 201, "street", height, width, workers=5)
            path = write_manifest(tmp / "seg.manifest", seg)
            jobs.append((f"segmentation, 5 workers, {width}x{height}", path, "street", args.seg_lines))
        if args.cls_lines:
            crowd = matching_crowd(np.random.default_rng(202), args.cls_lines, args.workers)
            path = write_manifest(tmp / "cls.manifest", classification_lines(crowd, "same"))
            jobs.append((f"classification, 3 answers, {args.workers} workers", path, "same", args.cls_lines))
        for name, path, attr, count in jobs:
            argv = ["reconsolidate", str(path), "--label-attribute", attr, "--out", str(tmp / "out"), "--restart"]
            run = command(layer, [*argv, "--no-progress", "--jobs", str(args.jobs)])
            print(
                f"| {name} | {count} | {args.jobs} | {run.wall:.0f} | {run.cpu:.0f} | {run.main_mb} / {run.worker_mb} |"
            )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_subparsers(dest="mode", required=True)
    job = modes.add_parser("whole-job", help="accuracy of whole-job worker models; time against an older tally")
    job.add_argument("--old", default="96cb153", help="the older tally's commit (per-chunk worker models)")
    job.add_argument("--pairs", type=int, default=8315)
    job.add_argument("--workers", type=int, default=176)
    job.add_argument("--seeds", default="11,12,13", help="report seeds (1-3 shaped the crowd)")
    job.add_argument("--rounds", type=int, default=3)
    job.add_argument("--seg-lines", type=int, default=160, help="segmentation lines timed too (0: none)")
    job.add_argument("--seg-size", default="360x480", help="HEIGHTxWIDTH")
    job.set_defaults(run=whole_job)
    procs = modes.add_parser("processes", help="--jobs x --threads on segmentation jobs")
    procs.add_argument("--lines", type=int, default=160)
    procs.add_argument("--size", default="360x480", help="HEIGHTxWIDTH of the masks")
    procs.add_argument("--batch-size", type=int, default=20)
    procs.add_argument("--rounds", type=int, default=3)
    procs.add_argument("--seeds", default="101,102", help="report seeds (1 is the tuning seed)")
    procs.set_defaults(run=processes)
    mem = modes.add_parser("memory", help="peak RSS for large jobs")
    mem.add_argument("--seg-lines", type=int, default=20000)
    mem.add_argument("--seg-size", default="96x128", help="HEIGHTxWIDTH")
    mem.add_argument("--cls-lines", type=int, default=100000)
    mem.add_argument("--workers", type=int, default=176)
    mem.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    mem.add_argument("--tmp", default=None, help="where the manifests and outputs go (large)")
    mem.set_defaults(run=memory)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
