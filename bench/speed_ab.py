"""Side by side in one process: this tree's default segmentation vote against another tree's (main's).

``--vote regions``: the opt-in ``regions`` vote instead (each side's), and beside them this tree's
default vote on the same objects, so each side's cost over the default is measured in the same run.

``bench/speed.py`` runs one tree at a time; on a shared machine two runs minutes apart differ by more
than a speed change saves. This script measures both in one process, object by object, beside the
codec floor: every top-level function and method of the vote's modules whose source differs between
the two trees (compared by syntax tree) is compiled from the other tree's source into a copy of this
tree's module names, with the other tree's module-level imports and constants run into it first (so
it reads its own constants, and a name it imports that this tree no longer imports), and swapped in
and out before each timed call (a function of this tree it calls is the other tree's version where
that one is swapped too). Classes and dataclass fields are not swapped: both trees must share them
(from 91199e2 on, ``SquareIndex.mixed_words`` is required, so trees before it cannot be compared this
way). Each object is timed best
of 3 for each side, the two sides alternating first, with its floor (``bench/speed.py``'s
``codec_floor``); a run's ratio is the median over the objects over the median floor, CPU clock
(this process's CPU time). Prints a Markdown table: per configuration, the median over the runs with
its range::

    git worktree add --detach /tmp/main-tree main
    .venv/bin/python bench/speed_ab.py /tmp/main-tree --objects 12 --runs 3 palette RGBA
    .venv/bin/python bench/speed_ab.py /tmp/main-tree --vote regions --objects 12 --runs 3 palette
"""

from __future__ import annotations
import __future__

import argparse
import ast
import contextlib
import importlib
import io
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests (and bench) import from the repo's root, without PYTHONPATH

from bench import speed  # noqa: E402

MODULES = (
    "aggregation.weighted_pixel_vote",
    "aggregation.pixel_vote",
    "aggregation._pixel_kernels",
    "aggregation.disputed_regions",
    "aggregation.vote_table",
    "codecs",
    "tasks.semantic_segmentation.adapter",
)
"""The vote's modules (under ``tally``) whose differing functions are swapped."""

Key = tuple[str | None, str]


def _definitions(tree: ast.Module) -> dict[Key, ast.FunctionDef]:
    """The module's top-level functions and its classes' methods, by (class or None, name)."""
    out: dict[Key, ast.FunctionDef] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[(None, node.name)] = node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef):
                    out[(node.name, sub.name)] = sub
    return out


def _other_module_names(tree: ast.Module, name: str, namespace: dict[str, Any]) -> None:
    """Run the other tree's module-level imports and constants into ``namespace`` (a copy of our module's
    names), so its functions read its own constants and the names it imports (one our tree no longer
    imports, say), not ours. An imported name our tree's modules no longer define is left out."""
    for node in tree.body:
        if not isinstance(node, ast.Import | ast.ImportFrom | ast.Assign | ast.AnnAssign):
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        statements: list[ast.stmt] = [node]
        if isinstance(node, ast.ImportFrom):  # one name at a time: a name gone from our tree is skipped
            statements = [ast.ImportFrom(node.module, [alias], node.level) for alias in node.names]
        for statement in statements:
            ast.fix_missing_locations(statement)
            code = compile(ast.Module([statement], []), f"other:{name}", "exec", dont_inherit=True)
            with contextlib.suppress(ImportError):
                exec(code, namespace)


class Swaps:
    """The other tree's versions of every differing function, and how to put either side in place."""

    def __init__(self, other: Path) -> None:
        modules: dict[str, ModuleType] = {n: importlib.import_module("tally." + n) for n in MODULES}
        self.swaps: list[tuple[list[tuple[Any, str]], Any, Any]] = []  # (where, other's, ours)
        self.names: list[str] = []
        namespaces: list[dict[str, Any]] = []
        for name, module in modules.items():
            path = Path(str(module.__file__))
            ours = _definitions(ast.parse(path.read_text()))
            other_tree = ast.parse((other / "layers/tally/tally" / (name.replace(".", "/") + ".py")).read_text())
            theirs = _definitions(other_tree)
            namespace = dict(vars(module))
            namespaces.append(namespace)
            _other_module_names(other_tree, name, namespace)
            changed = [k for k in theirs if k not in ours or ast.dump(theirs[k]) != ast.dump(ours[k])]
            for cls, fn in changed:
                code = compile(
                    ast.Module([theirs[(cls, fn)]], []),
                    f"other:{name}",
                    "exec",
                    flags=__future__.annotations.compiler_flag,
                    dont_inherit=True,
                )
                exec(code, namespace)  # (the other tree's own source, into our module's names)
                if cls is None:
                    current = getattr(module, fn, None)
                    where = [
                        (m, fn) for m in modules.values() if current is not None and getattr(m, fn, None) is current
                    ]
                    self.swaps.append((where or [(module, fn)], namespace[fn], current))
                else:
                    owner = getattr(module, cls)
                    self.swaps.append(([(owner, fn)], namespace[fn], owner.__dict__.get(fn)))
                self.names.append(f"{name}.{cls + '.' if cls else ''}{fn}")
        # the other tree's functions read their names from a copy of our module's: where one of those names
        # is a function of ours swapped in another module (``from ._pixel_kernels import settle_ties``),
        # point it to the other tree's version, so the other side runs the other tree's code alone
        theirs_for = {id(ours): theirs for _, theirs, ours in self.swaps if ours is not None}
        for namespace in namespaces:
            for key, value in list(namespace.items()):
                if id(value) in theirs_for:
                    namespace[key] = theirs_for[id(value)]

    def use(self, side: str) -> None:
        for where, theirs, ours in self.swaps:
            chosen = theirs if side == "other" else ours
            for target, fn in where:
                if chosen is None:
                    if fn in vars(target):
                        delattr(target, fn)
                else:
                    setattr(target, fn, chosen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other tree (a git worktree of main, say)")
    parser.add_argument("encodings", nargs="*", choices=list(speed.ENCODINGS), help="default: palette")
    parser.add_argument("--objects", type=int, default=12)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--vote",
        choices=["reliability", "regions"],
        default="reliability",
        help="the vote compared (default: the default)",
    )
    args = parser.parse_intermixed_args()
    regions = args.vote == "regions"
    sides = ("other", "this", "default") if regions else ("other", "this")
    swaps = Swaps(args.other)
    speed.clock = time.process_time  # the floor on the same clock
    print("swapped:", ", ".join(swaps.names) or "nothing", file=sys.stderr)
    configs = speed.build_configs(
        args.objects, [3, 5], list(speed.CROWDS), args.encodings or ["palette"], regions=regions
    )
    ratios: dict[tuple[int, str, str], dict[str, list[float]]] = {c.key: {s: [] for s in sides} for c in configs}
    floors: dict[tuple[int, str, str], list[float]] = {c.key: [] for c in configs}
    for run in range(args.runs):
        per: dict[tuple[int, str, str], dict[str, list[float]]] = {
            c.key: {s: [] for s in (*sides, "floor")} for c in configs
        }
        for i in range(args.objects):
            for c in configs:
                best = dict.fromkeys((*sides, "floor"), 1e9)
                result: Any = None
                for repeat in range(speed.REPEATS):
                    for side in sides if (i + repeat) % 2 == 0 else sides[::-1]:
                        swaps.use("other" if side == "other" else "this")
                        vote = args.vote if side != "default" else "reliability"
                        task = c.votes[vote]
                        start = time.process_time()
                        observed = task.observe(c.objects[i], c.answers[i], c.job)
                        summaries, model = c.fitted_for(vote)
                        observed.summary = summaries[i]
                        result = task.consolidate(c.objects[i], observed, model, c.job)
                        best[side] = min(best[side], time.process_time() - start)
                    output = np.asarray(Image.open(io.BytesIO(c.storage.read(result.label["mask-ref"]))))
                    best["floor"] = min(best["floor"], speed.codec_floor(c.contents[i], output, c.palette))
                for k, v in best.items():
                    per[c.key][k].append(v)
        for c in configs:
            floor = statistics.median(per[c.key]["floor"])
            floors[c.key].append(floor * 1e3)
            for side in sides:
                ratios[c.key][side].append(statistics.median(per[c.key][side]) / floor)
        print(f"run {run + 1} of {args.runs} done", file=sys.stderr, flush=True)
    swaps.use("this")

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.2f}x [{min(values):.2f}–{max(values):.2f}]"

    def over(side: str, key: tuple[int, str, str]) -> str:  # per run, the side's ratio minus the default's
        values = [a - b for a, b in zip(ratios[key][side], ratios[key]["default"], strict=True)]
        return f"{statistics.median(values):+.2f}x [{min(values):+.2f}–{max(values):+.2f}]"

    extra = " default (this tree) | other over default | this over default |" if regions else ""
    print(f"| answers | crowd | workers | floor (ms) | other tree | this tree |{extra}")
    print("|---|---|---|---|---|---|" + ("---|---|---|" if regions else ""))
    for c in sorted(configs, key=lambda c: (c.encoding, c.crowd, c.workers)):
        row = f"| {c.encoding} | {c.crowd} | {c.workers} | {statistics.median(floors[c.key]):.1f} |"
        row += f" {cell(ratios[c.key]['other'])} | {cell(ratios[c.key]['this'])} |"
        if regions:
            row += f" {cell(ratios[c.key]['default'])} | {over('other', c.key)} | {over('this', c.key)} |"
        print(row)


if __name__ == "__main__":
    main()
