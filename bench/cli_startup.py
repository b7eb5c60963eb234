"""Start-up of the ``tally`` command line: ``python bench/cli_startup.py [--baseline REV]``. Prints a
Markdown table for docs/benchmarks.md.

Each run is a fresh interpreter (this .venv's) running ``tally ARGS`` from the working tree's package
and, with ``--baseline REV``, from REV's (``git archive`` of ``layers/tally``), interleaved so both see
the same load. The table gives the median wall and CPU time (the child's user + system) and the CPU
ratio of the two, which is the figure to trust on a shared machine.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (("--help",), ("--version",), ("export", "--help"), ("preview", "--help"))
_RUN = "import sys; from tally.tools.cli import main; sys.exit(main(sys.argv[1:]))"


def _baseline(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", rev, "layers/tally/tally"], cwd=ROOT, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    return into / "layers" / "tally"


def _once(path: Path, argv: tuple[str, ...]) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(path)}
    before, start = os.times(), time.perf_counter()
    subprocess.run([sys.executable, "-c", _RUN, *argv], env=env, stdout=subprocess.DEVNULL, check=True)
    wall, after = time.perf_counter() - start, os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="start-up time of the tally command line")
    parser.add_argument("--runs", type=int, default=20, help="runs per command and tree (%(default)s)")
    parser.add_argument("--baseline", metavar="REV", help="also measure this git revision's package")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tally-cli-") as tmp:
        trees = {"this tree": ROOT / "layers" / "tally"}
        if args.baseline:
            trees[args.baseline] = _baseline(args.baseline, Path(tmp))
        for path in trees.values():
            _once(path, ("--help",))  # byte-compile first
        header = "| command | " + " | ".join(f"{name} wall / CPU ms" for name in trees)
        print(header + (" | CPU ratio |" if args.baseline else " |"))
        print("|---" * (len(trees) + 1 + bool(args.baseline)) + "|")
        for command in COMMANDS:
            times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
            for _ in range(args.runs):
                for name, path in trees.items():
                    times[name].append(_once(path, command))
            cells, cpus = [], []
            for name in trees:
                wall = statistics.median(t[0] for t in times[name]) * 1000
                cpu = statistics.median(t[1] for t in times[name]) * 1000
                cells.append(f"{wall:.0f} / {cpu:.0f}")
                cpus.append(cpu)
            ratio = f" | {cpus[0] / cpus[1]:.2f}" if args.baseline else ""
            print(f"| `tally {' '.join(command)}` | " + " | ".join(cells) + ratio + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
