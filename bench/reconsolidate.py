"""`tally reconsolidate` benchmark: speed-up from processes on this machine, and memory as the manifest grows.

Simulated 3-worker semantic-segmentation jobs (tests/sim) written as the AWS recipe's output manifest;
each configuration runs the real command in a fresh child process (spawn start-up included), the
configurations interleaved round by round; the table shows the median wall time per configuration
the CPU time it used (all its processes), and the peak RSS of the command's process and of its largest
worker process.

Seeds: 1 was used while writing the command (tuning set; nothing was tuned on speed); the figures come
from the report seeds (default 101 and 102), which were not looked at before.

    PYTHONPATH=. .venv/bin/python bench/reconsolidate.py [--lines 160] [--size 360x480] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.sim.manifests import LABELS, segmentation_lines, write_manifest

ROOT = Path(__file__).resolve().parents[1]
_CHILD = """
import resource, sys
from tally.tools.cli import main
code = main(sys.argv[1:])
self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print("RSS", self_kb, children_kb, file=sys.stderr)
sys.exit(code)
"""


def run(source: Path, out: Path, jobs: int, threads: int, batch: int) -> tuple[float, float, int, int]:
    argv = [sys.executable, "-c", _CHILD, "reconsolidate", str(source), "--label-attribute", "street"]
    argv += ["--labels", ",".join(LABELS), "--out", str(out), "--restart", "--no-progress"]
    argv += ["--jobs", str(jobs), "--threads", str(threads), "--batch-size", str(batch)]
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'tally'}:{ROOT}"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"reconsolidate failed ({done.returncode}): {done.stderr[-2000:]}")
    rss_line = next(line for line in done.stderr.splitlines() if line.startswith("RSS "))
    _, self_kb, children_kb = rss_line.split()
    return wall, cpu, int(self_kb) // 1024, int(children_kb) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=160)
    parser.add_argument("--size", default="360x480", help="HEIGHTxWIDTH of the masks")
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seeds", default="101,102", help="report seeds (1 is the tuning seed)")
    args = parser.parse_args()
    height, width = (int(v) for v in args.size.split("x"))
    configs = [(1, 1), (2, 1), (1, 2), (2, 2)]
    print(f"machine: {os.cpu_count()} cores, shared with other jobs (load average {os.getloadavg()[0]:.1f} at start)")
    print(f"{args.lines} lines per manifest, {height}x{width} masks, 3 workers, batch size {args.batch_size}\n")
    print(
        "| seed | --jobs | --threads | median wall (s) | speed-up vs 1x1 | lines/s | CPU (s) |"
        " peak RSS main / worker (MB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="tally-bench-") as tmp:
        for seed in (int(s) for s in args.seeds.split(",")):
            source = write_manifest(
                Path(tmp) / f"{seed}.manifest", segmentation_lines(args.lines, seed, "street", height, width)
            )
            times: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
            cpus: dict[tuple[int, int], list[float]] = {c: [] for c in configs}
            rss: dict[tuple[int, int], tuple[int, int]] = {}
            for _ in range(args.rounds):
                for jobs, threads in configs:
                    wall, cpu, main_mb, worker_mb = run(source, Path(tmp) / "out", jobs, threads, args.batch_size)
                    times[(jobs, threads)].append(wall)
                    cpus[(jobs, threads)].append(cpu)
                    rss[(jobs, threads)] = (main_mb, worker_mb)
            base = statistics.median(times[(1, 1)])
            for config in configs:
                median = statistics.median(times[config])
                main_mb, worker_mb = rss[config]
                worker = f"{worker_mb}" if config[0] > 1 else "–"
                print(
                    f"| {seed} | {config[0]} | {config[1]} | {median:.2f} | {base / median:.2f}× | "
                    f"{args.lines / median:.1f} | {statistics.median(cpus[config]):.1f} | {main_mb} / {worker} |"
                )
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    print(json.dumps({"rounds": args.rounds, "configs": configs}))


if __name__ == "__main__":
    main()
