"""Check the output of `sam build` before packaging or deploying it.

Checks, on `.aws-sam/build` by default:

* the whole build output stays under Lambda's 250 MB unzipped limit (code plus layers);
* every wheel installed in the build (`*.dist-info/WHEEL`, `Tag:` lines) is pure Python
  (`none-any`) or built for CPython 3.13 on aarch64, the template's runtime and
  architecture;
* the layer stays under its own budget (`--layer-budget-mib`, default 100 MiB unzipped);
* the layer holds exactly the distributions of `layers/tally/requirements-lock.txt`, at the
  locked versions, and none that the python3.13 runtime ships (boto3, botocore, s3transfer);
* no test suites of installed packages (`numpy/**/tests`);
* the layer ships every module of the `tally` package (`layers/tally/tally/**/*.py`), and
  nothing else under `python/tally` but their `.pyc` and `py.typed`;
* the layer's `.pyc` files were compiled by Python 3.13 (a warning when there are none,
  an error with `--require-pyc`; see layers/tally/Makefile).

Prints one summary line and exits 0, or prints each problem and exits 1. Standard
library only.

Usage:
    python scripts/check_build.py [--build-dir DIR] [--layer TallyLayer] [--require-pyc]
                                  [--lock FILE] [--source DIR] [--layer-budget-mib N]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

MIB = 1024 * 1024
# Lambda's unzipped limit (262,144,000 bytes) for function code plus its layers.
LIMIT_MIB = 250
TARGET_PYTHON = "cp313"
TARGET_MACHINE = "aarch64"
MAX_ABI3_MINOR = 13  # cp3X-abi3 wheels with X <= 13 run on 3.13
# importlib.util.MAGIC_NUMBER of CPython 3.13 (3571); this may run on another Python.
PY313_MAGIC = (3571).to_bytes(2, "little") + b"\r\n"
PYC_SUFFIX = ".cpython-313.pyc"
ROOT = Path(__file__).resolve().parents[1]
LAYER_BUDGET_MIB = 100
# Distributions the python3.13 Lambda runtime provides; a copy in the layer would shadow it.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
_LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def iter_files(root: Path) -> Iterator[Path]:
    """Yield every regular file under root, without following symbolic links."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            if not path.is_symlink() and path.is_file():
                yield path


def tag_is_allowed(tag: str) -> bool:
    """Return whether a wheel tag such as `py3-none-any` fits the target.

    Examples:
        >>> tag_is_allowed("py3-none-any")
        True
        >>> tag_is_allowed("cp313-cp313-manylinux_2_28_aarch64")
        True
        >>> tag_is_allowed("cp313-cp313-manylinux_2_28_x86_64")
        False
        >>> tag_is_allowed("cp311-cp311-manylinux2014_aarch64")
        False

    """
    try:
        python, abi, platform = tag.split("-")
    except ValueError:  # not python-abi-platform
        return False
    if abi == "none" and platform == "any":
        return True
    if TARGET_MACHINE not in platform:
        return False
    if python == TARGET_PYTHON and abi == TARGET_PYTHON:
        return True
    if abi == "abi3" and python.startswith("cp3") and python[3:].isdigit():
        return int(python[3:]) <= MAX_ABI3_MINOR
    return False


def wheel_tags(wheel_file: Path) -> list[str]:
    """Return the `Tag:` values of a `*.dist-info/WHEEL` file."""
    return [
        line.split(":", 1)[1].strip()
        for line in wheel_file.read_text(encoding="utf-8").splitlines()
        if line.startswith("Tag:")
    ]


def normalise(name: str) -> str:
    """PEP 503 name: ``Typing_Extensions`` → ``typing-extensions``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(lock: Path) -> dict[str, str]:
    """``{normalised name: version}`` of every ``name==version`` line of a pip requirements lock."""
    pins = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _LOCK_LINE.match(line)
        if match:
            pins[normalise(match[1])] = match[2]
    return pins


def installed(site: Path) -> dict[str, str]:
    """``{normalised name: version}`` of the ``*.dist-info`` directories directly under ``site``."""
    found = {}
    for info in site.glob("*.dist-info"):
        name, _, version = info.name.removesuffix(".dist-info").partition("-")
        found[normalise(name)] = version
    return found


def contents_problems(layer_dir: Path, lock: Path, source: Path, package: str) -> list[str]:
    """Problems with what the layer holds: the lock's distributions, no tests, the whole package."""
    site = layer_dir / "python"
    problems = []
    have, want = installed(site), read_lock(lock)
    for name in sorted(set(want) | set(have)):
        if name not in have:
            problems.append(f"{name}=={want[name]} is locked but not in the layer")
        elif name not in want:
            problems.append(f"{name}=={have[name]} is in the layer but not in {lock.name}")
        elif have[name] != want[name]:
            problems.append(f"{name} is {have[name]} in the layer, {want[name]} in {lock.name}")
    problems += [f"{name} is in the layer (the runtime provides it)" for name in sorted(RUNTIME_PROVIDED & set(have))]
    tests = sorted(p.relative_to(site) for p in site.glob("numpy/**/tests") if p.is_dir())
    if tests:
        problems.append(f"{len(tests)} numpy test directories in the layer, e.g. {tests[0]}")
    shipped = site / package
    # every module of the package, less the command-line tools (tally.tools) and the importers they use,
    # which stay out of the layer
    expected = {
        p.relative_to(source)
        for p in source.rglob("*.py")
        if p.relative_to(source).parts[0] not in ("tools", "importers")
    }
    expected |= {Path("py.typed")}
    actual = {p.relative_to(shipped) for p in iter_files(shipped) if "__pycache__" not in p.relative_to(shipped).parts}
    problems += [f"{package}/{p} is missing from the layer" for p in sorted(expected - actual)]
    problems += [f"{package}/{p} is in the layer but not in {source}" for p in sorted(actual - expected)]
    return problems


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description="Check the output of `sam build`.")
    add = parser.add_argument
    add("--build-dir", type=Path, default=Path(".aws-sam/build"), help="%(default)s")
    add("--layer", default="TallyLayer", help="layer logical id (%(default)s)")
    add("--package", default="tally", help="package the layer ships (%(default)s)")
    add("--require-pyc", action="store_true", help="fail without Python 3.13 .pyc")
    add("--lock", type=Path, default=ROOT / "layers/tally/requirements-lock.txt", help="%(default)s")
    add("--source", type=Path, default=ROOT / "layers/tally/tally", help="the package's sources (%(default)s)")
    add("--layer-budget-mib", type=float, default=LAYER_BUDGET_MIB, help="%(default)s")
    return parser.parse_args(argv)


def foreign_wheels(build_dir: Path) -> tuple[int, list[str]]:
    """Return the number of installed wheels and a problem line per foreign one."""
    wheels = sorted(build_dir.glob("**/*.dist-info/WHEEL"))
    problems = []
    for wheel in wheels:
        tags = wheel_tags(wheel)
        foreign = [tag for tag in tags if not tag_is_allowed(tag)]
        if foreign or not tags:
            where = wheel.parent.relative_to(build_dir)
            problems.append(f"foreign wheel {where}: {', '.join(foreign) or 'no Tag'}")
    return len(wheels), problems


def count_pyc(layer_dir: Path) -> tuple[int, list[Path]]:
    """Return the number of Python 3.13 `.pyc` files and the other `.pyc` files."""
    good = 0
    bad: list[Path] = []
    for path in iter_files(layer_dir):
        if path.suffix != ".pyc":
            continue
        with path.open("rb") as handle:
            magic = handle.read(len(PY313_MAGIC))
        if magic == PY313_MAGIC and path.name.endswith(PYC_SUFFIX):
            good += 1
        else:
            bad.append(path)
    return good, bad


def main(argv: Sequence[str] | None = None) -> int:
    """Run every check, print the problems and a summary; return the exit code."""
    args = parse_args(argv)
    build_dir: Path = args.build_dir
    layer_dir: Path = build_dir / args.layer
    if not layer_dir.is_dir():
        print(f"FAIL: no {layer_dir}; run `sam build` first", file=sys.stderr)
        return 1
    problems: list[str] = []
    warnings: list[str] = []

    total = sum(path.stat().st_size for path in iter_files(build_dir))
    if total >= LIMIT_MIB * MIB:
        problems.append(f"{total / MIB:.1f} MiB unzipped (limit {LIMIT_MIB} MiB)")

    layer_total = sum(path.stat().st_size for path in iter_files(layer_dir))
    if layer_total > args.layer_budget_mib * MIB:
        problems.append(f"{args.layer} is {layer_total / MIB:.1f} MiB unzipped (budget {args.layer_budget_mib} MiB)")

    n_wheels, wheel_problems = foreign_wheels(build_dir)
    problems += wheel_problems
    problems += contents_problems(layer_dir, args.lock, args.source, args.package)

    good_pyc, bad_pyc = count_pyc(layer_dir)
    if bad_pyc:
        example = bad_pyc[0].relative_to(build_dir)
        problems.append(f"{len(bad_pyc)} .pyc not from Python 3.13, e.g. {example}")
    if not good_pyc:
        message = f"{args.layer} has no Python 3.13 .pyc (set PY313, rm -rf .aws-sam)"
        (problems if args.require_pyc else warnings).append(message)

    for warning in warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    for problem in problems:
        print(f"FAIL: {problem}", file=sys.stderr)
    status = "FAILED" if problems else "OK"
    print(
        f"check_build {status}: {total / MIB:.1f} MiB unzipped (max {LIMIT_MIB} MiB; "
        f"{args.layer} {layer_total / MIB:.1f} MiB, budget {args.layer_budget_mib:g} MiB), "
        f"{n_wheels} wheels, {good_pyc} cp313 .pyc in {args.layer}, "
        f"{len(problems)} problem(s)",
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
